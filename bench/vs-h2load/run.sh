#!/bin/bash
# bench/vs-h2load/run.sh [COIL_BENCH [ROUNDS [SECS]]]
#
# coil-bench --http2 beside h2load against the same nginx (HTTP/2): one
# worker pinned to CPU 0, every generator pinned to CPU 1, -t1 -c50 and
# 10 streams per connection (h2load -m10, coil-bench --max-streams 10),
# SECS (default 5) seconds each, ROUNDS (default 3) rounds with the tools
# alternating; over h2c (prior knowledge, nginx `listen ... http2`) and
# over TLS (ALPN h2, a throwaway self-signed certificate). For each run:
# requests/s, the generator's user and system CPU per request and its
# system calls per request (perf stat over the whole process), p50/p99
# as the tool reports them ("-" for h2load, which prints no percentiles).
# run() and table() are bench/common/vs.sh's, shared with bench/vs-wrk. Under
# each table, the goals: coil-bench at most 0.7x h2load's CPU per request
# and at most 0.1 system calls per request. VS_H2LOAD_ONLY=h2c or tls runs
# one section. Needs nginx, h2load, perf, openssl, taskset.
set -euo pipefail
cb=${1:-build/tools/coil-bench/coil-bench}
rounds=${2:-3}
secs=${3:-5}
conns=50
streams=10
only=${VS_H2LOAD_ONLY:-all}

. "$(dirname "$0")/../common/bench.sh"
. "$(dirname "$0")/../common/vs.sh"
bench_need vs-h2load nginx h2load perf taskset openssl
cb=$(bench_cb vs-h2load "$cb")

bench_tmpdir vs-h2load
port=$(free_port)
tport=$(free_port)
bench_page
bench_cert
bench_nginx "$port" "http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:$port http2; root $dir; }
  server { listen 127.0.0.1:$tport ssl http2; root $dir;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem; }" \
	--http2-prior-knowledge

bench_header
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), 1 worker on CPU 0, access log off;" \
	"generators on CPU 1, -t1 -c$conns, $streams streams each, ${secs}s each, $rounds rounds;" \
	"$(h2load --version 2>&1 | head -1)"

goals() {
	awk '{ cpu[$1] = $2; sc[$1] = $3 }
	END {
		d = "coil-bench_--http2"; h = "h2load"
		if (!(d in cpu) || !(h in cpu)) exit
		r = cpu[d] / cpu[h]
		printf "goal: CPU/request <= 0.7x h2load: %.2fx (%s)\n", r, r <= 0.7 ? "met" : "missed"
		printf "goal: syscalls/request <= 0.1: %.3f (%s)\n", sc[d], sc[d] <= 0.1 ? "met" : "missed"
	}' "$dir/medians"
	rm -f "$dir/medians"
}

round() {
	local url=$1
	run h2load "$url" h2load -t1 -c$conns -m$streams -D$secs
	run "coil-bench_--http2" "$url" "$cb" -t1 -c$conns -d${secs}s -L -k \
		--http2 --max-streams $streams
}

section() {
	local title=$1 url=$2
	echo
	echo "== $title: $url"
	for r in $(seq "$rounds"); do
		echo "round $r"
		round "$url"
	done
	table "$title, -t1 -c$conns -m$streams, ${secs}s"
	goals
}

if [ "$only" = all ] || [ "$only" = h2c ]; then
	section "h2c (prior knowledge)" "http://127.0.0.1:$port/"
fi
if [ "$only" = all ] || [ "$only" = tls ]; then
	section "h2 over TLS (ALPN)" "https://localhost:$tport/"
fi
