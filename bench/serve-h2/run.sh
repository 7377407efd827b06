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

for p in h2load nginx taskset openssl curl; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "bench/serve-h2: $p is not installed" >&2
		exit 77
	fi
done
[ -x "$serve" ] || {
	echo "bench/serve-h2: no coil-serve at $serve" >&2
	exit 1
}
have_perf=0
if command -v perf >/dev/null 2>&1 &&
	perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
	have_perf=1
fi

tmp=$(mktemp -d)
nginx_pid="" serve_pid="" serve_tls_pid=""
cleanup() {
	for p in $serve_pid $serve_tls_pid $nginx_pid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $serve_pid $serve_tls_pid $nginx_pid; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(cat /proc/loadavg)"
echo "$(nginx -v 2>&1), $(h2load --version 2>&1 | head -1)"
echo "load: h2load -t1 -c$conns -m$streams -n$nreq on CPU 1; servers on" \
	"CPU 0; $rounds rounds, alternating"
[ $have_perf = 1 ] || echo "perf not usable: system calls not counted"

mkdir -p "$tmp/root" "$tmp/logs"
head -c 4096 /dev/urandom >"$tmp/root/f4k.bin"
chmod 755 "$tmp" "$tmp/root"
chmod 644 "$tmp/root/f4k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
	-subj /CN=localhost >/dev/null 2>&1

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + $$ % 20000))
}
nport=$(free_port)
nsport=$(free_port)

cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
error_log $tmp/logs/error.log;
pid $tmp/logs/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 65;
  http2_max_requests 1000000000;
  http2_max_concurrent_streams 128;
  sendfile on;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  server {
    listen 127.0.0.1:$nport http2;
    listen 127.0.0.1:$nsport ssl http2;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;
    root $tmp/root;
    location = / { default_type text/plain; return 200 "Hello, World!"; }
  }
}
EOF
taskset -c 0 nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' \
	2>"$tmp/logs/nginx.stderr" &
nginx_pid=$!

# coil-serve on port 0; the port comes from its "listening" line
start_serve() { # $1: output file, rest: extra arguments
	out=$1
	shift
	# shellcheck disable=SC2086
	taskset -c 0 "$serve" -p 0 -b 127.0.0.1 -t 1 --root "$tmp/root" \
		--http2 ${COIL_SERVE_ARGS:-} "$@" >"$out" 2>"$out.err" &
	last_pid=$!
	i=0
	until grep -q '^listening ' "$out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $last_pid 2>/dev/null; then
			echo "bench/serve-h2: coil-serve did not start:" \
				"$(cat "$out.err")" >&2
			exit 1
		fi
		sleep 0.05
	done
}
start_serve "$tmp/serve.out"
serve_pid=$last_pid
curl_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/serve.out")
cport=${curl_url##*:}
start_serve "$tmp/serve-tls.out" --cert "$tmp/cert.pem" --key "$tmp/key.pem"
serve_tls_pid=$last_pid
cs_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/serve-tls.out")

# nginx's worker: the child of the master
i=0
until nginx_w=$(pgrep -P "$nginx_pid" 2>/dev/null) && [ -n "$nginx_w" ] &&
	curl -s --http2-prior-knowledge -o /dev/null \
		"http://127.0.0.1:$nport/" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "bench/serve-h2: nginx did not start:" \
			"$(cat "$tmp/logs/nginx.stderr" "$tmp/logs/error.log" 2>/dev/null)" >&2
		exit 1
	fi
	sleep 0.05
done

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
	if [ $have_perf = 1 ]; then
		perf stat -x, -e raw_syscalls:sys_enter -p "$pid" \
			-o "$tmp/perf.out" &
		perf_pid=$!
		sleep 0.3
	fi
	set -- $(cut -d' ' -f14,15 "/proc/$pid/stat")
	u0=$1 s0=$2
	timeout 300 taskset -c 1 h2load -t1 -c$conns -m$streams -n"$nreq" \
		"$url" >"$tmp/h2load.out" 2>&1 || true
	set -- $(cut -d' ' -f14,15 "/proc/$pid/stat")
	u1=$1 s1=$2
	sc=0
	if [ $have_perf = 1 ]; then
		kill -INT $perf_pid 2>/dev/null || true
		wait $perf_pid || true
		sc=$(grep raw_syscalls "$tmp/perf.out" | cut -d, -f1)
	fi
	# "requests: N total, N started, N done, N succeeded, N failed, ..."
	req=$(awk '/^requests:/ { print $8 }' "$tmp/h2load.out")
	bad=$(awk '/^requests:/ { print $10 + $12 }' "$tmp/h2load.out")
	rps=$(awk '/^finished in/ { print $4 }' "$tmp/h2load.out")
	mean=$(awk '/^time for request:/ { print $6 }' "$tmp/h2load.out")
	proto=$(awk '/^Application protocol:/ { print $3 }' "$tmp/h2load.out")
	awk -v n="$name" -v c="$case" -v r="${req:-0}" -v rps="${rps:-0}" \
		-v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
		-v sc="$sc" -v bad="${bad:-0}" -v perf=$have_perf \
		-v mean="${mean:-0}" -v proto="${proto:-?}" '
	function us(t) { # h2load times: 123us, 1.23ms, 1.2s
		if (t ~ /us$/) return t + 0
		if (t ~ /ms$/) return t * 1000
		if (t ~ /s$/) return t * 1000000
		return -1
	}
	BEGIN {
		cpu = (u + s) / hz
		if (r == 0) r = 1
		printf "%-5s %-10s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  mean %7.0f us  %s%s\n",
			c, n, rps, u * 1e6 / hz / r, s * 1e6 / hz / r,
			(cpu > 0 ? r / cpu : 0),
			(perf ? sprintf("%.3f", sc / r) : "-"), us(mean), proto,
			(bad > 0 ? "  ERRORS: " bad " failed/errored" : "")
	}' | tee -a "$tmp/results"
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

echo "coil-serve: $(cat "$tmp/serve.out") --http2 ${COIL_SERVE_ARGS:-}"
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

# medians: field 3 is req/s, 6 user, 9 sys, 11 req/cpu-s, 13 syscalls,
# 16 mean
echo
echo "medians of $rounds runs (server process only):"
for c in $cases; do
	grep -q "^$c " "$tmp/results" || continue
	for n in coil-serve nginx; do
		grep "^$c *$n " "$tmp/results" | awk -v c="$c" -v n="$n" '
		function med(a, k,   i, j, t) {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		{ k++; rps[k] = $3; u[k] = $6; s[k] = $9; rc[k] = $11; sc[k] = $13
		  m[k] = $16 }
		END {
			printf "%-5s %-10s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  mean %7.0f us\n",
				c, n, med(rps, k), med(u, k), med(s, k), med(rc, k),
				(sc[1] == "-" ? "-" : sprintf("%.3f", med(sc, k))),
				med(m, k)
		}'
	done | tee -a "$tmp/medians"
	awk -v c="$c" '$1 == c && $2 == "coil-serve" { a = $11 }
		$1 == c && $2 == "nginx" { b = $11 }
		END { if (b > 0) printf "%-5s coil-serve / nginx, requests per CPU-second: %.2fx\n", c, a / b }' "$tmp/medians"
done
echo "load after: $(cat /proc/loadavg)"
