#!/bin/sh
# bench/serve-h2/run.sh [COIL_SERVE [REQUESTS [ROUNDS [CASES]]]]
#
# coil-serve --http2 against nginx's http2 under the same HTTP/2 load:
# `h2load -t1 -c50 -m10 -n REQUESTS` (50 connections, 10 streams in flight
# on each; default 200000 requests; a count, not h2load's -D, whose timer
# waits for every connection to be up), each server pinned to CPU 0 and
# h2load to CPU 1, the two servers alternating for ROUNDS rounds (default
# 3) per case:
#   h2c    GET /  over plain TCP, HTTP/2 with prior knowledge
#   h2     GET /  over TLS, ALPN h2
#   file   GET /f4k.bin over h2c: a 4 KiB file from a root directory
# CASES: a space-separated subset (default "h2c h2 file").
# Both servers answer "/" with the same 13 bytes. nginx: 1 worker,
# access_log off, http2 on both listeners (nginx 1.22: `listen ...
# http2`), http2_max_concurrent_streams 128 as coil-serve's default.
#
# Per run, of the server process only: requests per second, h2load's
# mean request time, CPU microseconds per request (user and system, from
# /proc/PID/stat), requests per CPU-second, and system calls per request
# (perf stat -e raw_syscalls:sys_enter -p PID). The summary gives medians
# and coil-serve's requests per CPU-second over nginx's. See
# docs/BENCHMARKS.md, section "serve-h2".
set -eu

serve=${1:-build/tools/coil-serve/coil-serve}
nreq=${2:-200000}
rounds=${3:-3}
cases=${4:-h2c h2 file}
conns=50
streams=10

. "$(dirname "$0")/../common/bench.sh"
. "$(dirname "$0")/../common/serve.sh"
bench_skip=77
bench_need bench/serve-h2 h2load nginx taskset openssl curl
[ -x "$serve" ] || {
	echo "bench/serve-h2: no coil-serve at $serve" >&2
	exit 1
}
bench_tmpdir serve-h2

bench_header
echo "$(nginx -v 2>&1), $(h2load --version 2>&1 | head -1)"
echo "load: h2load -t1 -c$conns -m$streams -n$nreq on CPU 1; servers on" \
	"CPU 0; $rounds rounds, alternating"
serve_perf_probe

mkdir -p "$dir/root"
head -c 4096 /dev/urandom >"$dir/root/f4k.bin"
chmod 755 "$dir/root"
chmod 644 "$dir/root/f4k.bin"
bench_cert

nport=$(free_port)
nsport=$(free_port)
bench_nginx "$nport" "keepalive_timeout 65;
  http2_max_requests 1000000000;
  http2_max_concurrent_streams 128;
  sendfile on;
  server {
    listen 127.0.0.1:$nport http2;
    listen 127.0.0.1:$nsport ssl http2;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    root $dir/root;
    location = / { default_type text/plain; return 200 \"Hello, World!\"; }
  }" --http2-prior-knowledge

serve_start "$dir/serve.out" "$serve" --http2 || {
	echo "bench/serve-h2: coil-serve did not start: $start_err" >&2
	exit 1
}
serve_pid=$last_pid
cport=${serve_url##*:}
serve_start "$dir/serve-tls.out" "$serve" --http2 --cert "$dir/cert.pem" \
	--key "$dir/key.pem" || {
	echo "bench/serve-h2: coil-serve (TLS) did not start: $start_err" >&2
	exit 1
}
serve_tls_pid=$last_pid
cs_url=$serve_url

# the same 13 bytes over HTTP/2 from both
b1=$(curl -s --http2-prior-knowledge "http://127.0.0.1:$cport/")
b2=$(curl -s --http2-prior-knowledge "http://127.0.0.1:$nport/")
if [ "$b1" != "Hello, World!" ] || [ "$b2" != "Hello, World!" ]; then
	echo "bench/serve-h2: bodies differ: '$b1' '$b2'" >&2
	exit 1
fi

# measure NAME CASE PID URL: one run, one result line
measure() {
	name=$1 case=$2 pid=$3 url=$4
	timeout 60 taskset -c 1 h2load -t1 -c$conns -m$streams \
		-n$((nreq / 10)) "$url" >/dev/null 2>&1 || true # warm-up
	serve_measure_start "$pid"
	timeout 300 taskset -c 1 h2load -t1 -c$conns -m$streams -n"$nreq" \
		"$url" >"$dir/h2load.out" 2>&1 || true
	serve_measure_stop "$pid"
	# "requests: N total, N started, N done, N succeeded, N failed, ..."
	req=$(awk '/^requests:/ { print $8 }' "$dir/h2load.out")
	bad=$(awk '/^requests:/ { print $10 + $12 }' "$dir/h2load.out")
	rps=$(awk '/^finished in/ { print $4 }' "$dir/h2load.out")
	mean=$(awk '/^time for request:/ { print $6 }' "$dir/h2load.out")
	proto=$(awk '/^Application protocol:/ { print $3 }' "$dir/h2load.out")
	serve_result "$case" "$name" "$req" "$rps" \
		"$(printf 'mean %7s us  %s' "$(to_us "${mean:--1us}")" "${proto:-?}")" \
		"$([ "${bad:-0}" -gt 0 ] && echo "$bad failed/errored")"
}

run_case() { # CASE COIL_PID COIL_URL NGINX_URL
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) = 1 ]; then
			measure coil-serve "$1" "$2" "$3"
			measure nginx "$1" "$nginx_w" "$4"
		else
			measure nginx "$1" "$nginx_w" "$4"
			measure coil-serve "$1" "$2" "$3"
		fi
	done
}

echo "coil-serve: $(cat "$dir/serve.out") --http2 ${COIL_SERVE_ARGS:-}"
echo
for c in $cases; do
	case $c in
	h2c)
		run_case h2c "$serve_pid" "http://127.0.0.1:$cport/" \
			"http://127.0.0.1:$nport/"
		;;
	h2)
		run_case h2 "$serve_tls_pid" "$cs_url/" \
			"https://127.0.0.1:$nsport/"
		;;
	file)
		run_case file "$serve_pid" "http://127.0.0.1:$cport/f4k.bin" \
			"http://127.0.0.1:$nport/f4k.bin"
		;;
	esac
done

serve_medians "$cases"
echo "load after: $(cat /proc/loadavg)"
