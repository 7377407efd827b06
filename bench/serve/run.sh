#!/bin/sh
# bench/serve/run.sh [COIL_SERVE [SECS [ROUNDS [CASES]]]]
#
# coil-serve against nginx under the same load: `wrk -t1 -c50` for SECS
# seconds (default 5), each server pinned to CPU 0 and wrk to CPU 1, the
# two servers alternating for ROUNDS rounds (default 3) per case:
#   hello  GET /           the same 13-byte body from both
#   small  GET /f4k.bin    a 4 KiB file from a root directory
#   file   GET /f64k.bin   a 64 KiB file
#   https  GET / over TLS  (when coil-serve was built with TLS)
#   large  GET /f1m.bin    a 1 MiB file
#   cold   GET /cold/N.bin 256 files of 64 KiB in turn (a wrk script),
#                          none in the page cache: dropped with
#                          posix_fadvise(DONTNEED) before each run and,
#                          by a helper on wrk's CPU, every 20 ms during it
#   lone   GET /           with one connection (wrk -c1): a lone client's
#                          latency, which batched waiting must not raise
#   mem    memory per connection (not in the default list): RSS of the
#          server process at rest, with MEM_IDLE (default 10000) idle
#          keep-alive connections (each answered one GET / first; held by
#          a Python client on CPU 1), once they closed, under
#          `wrk -c MEM_BUSY` (default 5000) GET / (sampled 2 s into a
#          4 s run) and once that ended; bytes per idle and per busy
#          connection over the RSS at rest, and the RSS after each (once
#          the server closed the connections) as a share of the one at
#          rest (goal: within 120%). Later rounds reuse what the first
#          left: the first round's figures are those of a fresh process.
#          Needs an open-file limit above MEM_IDLE + 1024.
# CASES: a space-separated subset (default "hello small file https large
# cold lone").
# COIL_SERVE_ARGS: more arguments for coil-serve (e.g. --batch-wait 20).
# COIL_SERVE_B_ARGS: if set, a second coil-serve with these arguments
# added ("coil-serve-b", e.g. --sendfile-min off) is measured in the same
# rounds on the plain-HTTP cases, the three in rotating order;
# COIL_SERVE_B_BIN: its binary, if another (e.g. an older build).
# nginx: 1 worker, access_log off, `return 200 "Hello, World!"`,
# keepalive_requests without a practical limit, sendfile on for the file;
# started with its own temp config, prefix, pid and error log.
#
# Per run, of the server process only: requests per second, wrk's p50
# and p99 latency (microseconds, not corrected for coordinated omission:
# wrk -t1 is a closed loop), CPU
# microseconds per request (user and system separately, from
# /proc/PID/stat), requests per CPU-second, and system calls per request
# (perf stat -e raw_syscalls:sys_enter -p PID). The summary gives medians
# and coil-serve's requests per CPU-second over nginx's. See
# docs/BENCHMARKS.md, section "serve".
set -eu

serve=${1:-build/tools/coil-serve/coil-serve}
secs=${2:-5}
rounds=${3:-3}
cases=${4:-hello small file https large cold lone}
conns=50

for p in wrk nginx taskset; do
	if ! command -v $p >/dev/null 2>&1; then
		echo "bench/serve: $p is not installed" >&2
		exit 77
	fi
done
[ -x "$serve" ] || {
	echo "bench/serve: no coil-serve at $serve" >&2
	exit 1
}
have_perf=0
if command -v perf >/dev/null 2>&1 &&
	perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
	have_perf=1
fi

tmp=$(mktemp -d)
nginx_pid="" serve_pid="" serve_tls_pid="" drop_pid="" serve_b_pid=""
cleanup() {
	for p in $serve_pid $serve_tls_pid $nginx_pid $drop_pid $serve_b_pid; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $serve_pid $serve_tls_pid $nginx_pid $drop_pid $serve_b_pid; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/../common/bench.sh"
bench_header
echo "$(nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "load: wrk -t1 -c$conns -d${secs}s on CPU 1; servers on CPU 0;" \
	"$rounds rounds, alternating"
[ $have_perf = 1 ] || echo "perf not usable: system calls not counted"

mkdir -p "$tmp/root" "$tmp/logs"
head -c 4096 /dev/urandom >"$tmp/root/f4k.bin"
head -c 65536 /dev/urandom >"$tmp/root/f64k.bin"
head -c 1048576 /dev/urandom >"$tmp/root/f1m.bin"
ncold=256
case " $cases " in *" cold "*)
	mkdir -p "$tmp/root/cold"
	for i in $(seq 1 $ncold); do
		head -c 65536 /dev/urandom >"$tmp/root/cold/$i.bin"
	done
	sync # clean pages: DONTNEED drops only those
	chmod 755 "$tmp/root/cold"
	chmod 644 "$tmp/root/cold/"*.bin
	;;
esac
cat >"$tmp/cold.lua" <<EOF
local i = 0
request = function()
  i = i % $ncold + 1
  return wrk.format("GET", "/cold/" .. i .. ".bin")
end
EOF
# drops the cold files from the page cache: once (with an argument), or
# every 20 ms until killed
cat >"$tmp/drop.py" <<EOF
import glob, os, sys, time
fds = [os.open(p, os.O_RDONLY) for p in glob.glob("$tmp/root/cold/*.bin")]
while True:
    for fd in fds:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    if len(sys.argv) > 1:
        break
    time.sleep(0.02)
EOF
# nginx's worker runs as an unprivileged user: let it read the root
chmod 755 "$tmp" "$tmp/root"
chmod 644 "$tmp/root/f4k.bin" "$tmp/root/f64k.bin" "$tmp/root/f1m.bin"

# TLS material for the https case (a self-signed P-256 certificate)
tls=0
if command -v openssl >/dev/null 2>&1 &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 \
		-subj /CN=localhost >/dev/null 2>&1; then
	tls=1
fi

# the mem case: room for MEM_IDLE connections in each process
mem_idle=${MEM_IDLE:-10000}
mem_busy=${MEM_BUSY:-5000}
mem_nofile=""
case " $cases " in *" mem "*)
	if ulimit -n $((mem_idle + 1024)) 2>/dev/null; then
		mem_nofile=$((mem_idle + 1024))
	else
		echo "mem    skipped: the open-file limit cannot reach $((mem_idle + 1024))"
	fi
	;;
esac

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
events { worker_connections ${mem_nofile:-4096}; }
${mem_nofile:+worker_rlimit_nofile $mem_nofile;}
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 65;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $tmp/body;
  proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi;
  uwsgi_temp_path $tmp/uwsgi;
  scgi_temp_path $tmp/scgi;
  server {
    listen 127.0.0.1:$nport;
    $([ $tls = 1 ] && echo "listen 127.0.0.1:$nsport ssl;
    ssl_certificate $tmp/cert.pem;
    ssl_certificate_key $tmp/key.pem;")
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
	bin=$serve
	[ "$out" != "$tmp/serve-b.out" ] || bin=${COIL_SERVE_B_BIN:-$serve}
	# shellcheck disable=SC2086
	taskset -c 0 "$bin" -p 0 -b 127.0.0.1 -t 1 --root "$tmp/root" \
		${COIL_SERVE_ARGS:-} "$@" \
		>"$out" 2>"$out.err" &
	last_pid=$!
	i=0
	until grep -q '^listening ' "$out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $last_pid 2>/dev/null; then
			start_err=$(cat "$out.err")
			return 1
		fi
		sleep 0.05
	done
}
if ! start_serve "$tmp/serve.out"; then
	echo "bench/serve: coil-serve did not start: $start_err" >&2
	exit 1
fi
serve_pid=$last_pid
curl_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/serve.out")
cport=${curl_url##*:}
bport=""
if [ -n "${COIL_SERVE_B_ARGS:-}${COIL_SERVE_B_BIN:-}" ]; then
	# shellcheck disable=SC2086
	if ! start_serve "$tmp/serve-b.out" ${COIL_SERVE_B_ARGS:-}; then
		echo "bench/serve: coil-serve-b did not start: $start_err" >&2
		exit 1
	fi
	serve_b_pid=$last_pid
	b_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/serve-b.out")
	bport=${b_url##*:}
fi
cs_url=""
start_err=""
if [ $tls = 1 ] && start_serve "$tmp/serve-tls.out" --cert "$tmp/cert.pem" \
	--key "$tmp/key.pem"; then
	serve_tls_pid=$last_pid
	cs_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$tmp/serve-tls.out")
fi

# nginx's worker: the child of the master
i=0
until nginx_w=$(pgrep -P "$nginx_pid" 2>/dev/null) && [ -n "$nginx_w" ] &&
	curl -s -o /dev/null "http://127.0.0.1:$nport/" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "bench/serve: nginx did not start:" \
			"$(cat "$tmp/logs/nginx.stderr" "$tmp/logs/error.log" 2>/dev/null)" >&2
		exit 1
	fi
	sleep 0.05
done

# check the bodies are the same 13 bytes
b1=$(curl -s "http://127.0.0.1:$cport/")
b2=$(curl -s "http://127.0.0.1:$nport/")
if [ "$b1" != "Hello, World!" ] || [ "$b2" != "Hello, World!" ]; then
	echo "bench/serve: bodies differ: '$b1' '$b2'" >&2
	exit 1
fi

# measure NAME CASE PID URL: one run, one result line
measure() {
	name=$1 case=$2 pid=$3 url=$4
	c=$conns
	[ "$case" = lone ] && c=1
	script=""
	[ "$case" = cold ] && script="-s $tmp/cold.lua"
	# shellcheck disable=SC2086
	taskset -c 1 wrk -t1 -c$c -d1s $script "$url" >/dev/null 2>&1 # warm-up
	drop_pid=""
	if [ "$case" = cold ]; then
		python3 "$tmp/drop.py" once
		taskset -c 1 python3 "$tmp/drop.py" &
		drop_pid=$!
	fi
	set -- $(cut -d' ' -f14,15 "/proc/$pid/stat")
	u0=$1 s0=$2
	if [ $have_perf = 1 ]; then
		perf stat -x, -e raw_syscalls:sys_enter -p "$pid" \
			-o "$tmp/perf.out" -- sleep $((secs + 1)) &
		perf_pid=$!
		sleep 0.3
	fi
	# shellcheck disable=SC2086
	taskset -c 1 wrk -t1 -c$c -d"${secs}s" --latency $script "$url" \
		>"$tmp/wrk.out" 2>&1
	set -- $(cut -d' ' -f14,15 "/proc/$pid/stat")
	u1=$1 s1=$2
	if [ -n "$drop_pid" ]; then
		kill "$drop_pid" 2>/dev/null || true
		wait "$drop_pid" 2>/dev/null || true
	fi
	sc=0
	if [ $have_perf = 1 ]; then
		wait $perf_pid || true
		sc=$(grep raw_syscalls "$tmp/perf.out" | cut -d, -f1)
	fi
	req=$(awk '/ requests in /{print $1}' "$tmp/wrk.out")
	rps=$(awk '/^Requests\/sec/{print $2}' "$tmp/wrk.out")
	err=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.out" | tr -s ' ' | tr '\n' ' ' || true)
	p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk.out")
	p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk.out")
	awk -v n="$name" -v c="$case" -v r="$req" -v rps="$rps" \
		-v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
		-v sc="$sc" -v e="$err" -v perf=$have_perf \
		-v p50="$p50" -v p99="$p99" '
	function us(t) { # wrk latency: 12.3us, 1.2ms, 3.4s
		if (t ~ /us$/) return t + 0
		if (t ~ /ms$/) return t * 1000
		if (t ~ /s$/) return t * 1000000
		return -1
	}
	BEGIN {
		cpu = (u + s) / hz
		printf "%-6s %-11s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  p50 %7.0f p99 %7.0f us%s\n",
			c, n, rps, u * 1e6 / hz / r, s * 1e6 / hz / r,
			(cpu > 0 ? r / cpu : 0),
			(perf ? sprintf("%.3f", sc / r) : "-"), us(p50), us(p99),
			(e != "" ? "  ERRORS: " e : "")
	}' | tee -a "$tmp/results"
}

run_case() { # CASE COIL_PID COIL_URL NGINX_URL [COIL_B_URL]
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) = 1 ]; then
			measure coil-serve "$1" "$2" "$3"
			[ -z "${5:-}" ] || measure coil-serve-b "$1" "$serve_b_pid" "$5"
			measure nginx "$1" "$nginx_w" "$4"
		else
			measure nginx "$1" "$nginx_w" "$4"
			[ -z "${5:-}" ] || measure coil-serve-b "$1" "$serve_b_pid" "$5"
			measure coil-serve "$1" "$2" "$3"
		fi
	done
}
b_url() { # PATH: coil-serve-b's URL, or nothing
	[ -n "$bport" ] && echo "http://127.0.0.1:$bport$1"
}

# the mem case's idle client: N connections, one GET / answered on each,
# then held until a line arrives on stdin; then closed
cat >"$tmp/idle.py" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    got = b""
    while not got.endswith(b"Hello, World!"):
        k = s.recv(4096)
        if not k:
            sys.exit("closed after %d connections" % i)
        got += k
    socks.append(s)
print("ready", flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
EOF
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
nfds() { ls "/proc/$1/fd" | wc -l; }
# settle PID FDS: wait (up to 20 s) until the server holds no more than
# FDS + 2 descriptors, i.e. it has closed the connections, then 1 s more
settle() {
	i=0
	while [ "$(nfds "$1")" -gt $(($2 + 2)) ] && [ $i -lt 200 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	sleep 1
}
# mem_measure NAME PID PORT: one line per server
mem_measure() {
	name=$1 pid=$2 port=$3
	curl -s -o /dev/null "http://127.0.0.1:$port/"
	sleep 1
	r0=$(rss_kb "$pid")
	f0=$(nfds "$pid")
	rm -f "$tmp/idle.in"
	mkfifo "$tmp/idle.in"
	taskset -c 1 python3 "$tmp/idle.py" "$port" "$mem_idle" \
		<"$tmp/idle.in" >"$tmp/idle.out" 2>&1 &
	idle_pid=$!
	exec 9>"$tmp/idle.in"
	i=0
	until grep -q '^ready' "$tmp/idle.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 $idle_pid 2>/dev/null; then
			echo "mem    $name: idle client failed: $(cat "$tmp/idle.out")"
			exec 9>&-
			wait $idle_pid 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	sleep 1
	r1=$(rss_kb "$pid")
	echo >&9
	exec 9>&-
	wait $idle_pid || true
	settle "$pid" "$f0"
	r2=$(rss_kb "$pid")
	taskset -c 1 wrk -t1 -c"$mem_busy" -d4s "http://127.0.0.1:$port/" \
		>"$tmp/wrk-mem.out" 2>&1 &
	wrk_pid=$!
	sleep 2
	r3=$(rss_kb "$pid")
	wait $wrk_pid || true
	settle "$pid" "$f0"
	r4=$(rss_kb "$pid")
	awk -v n="$name" -v r0="$r0" -v r1="$r1" -v r2="$r2" -v r3="$r3" \
		-v r4="$r4" -v ni="$mem_idle" -v nb="$mem_busy" 'BEGIN {
		printf "mem    %-11s rest %6d KB  idle %5.0f B/conn (%d)  after %3.0f%%  busy %6.0f B/conn (%d)  after %3.0f%%\n",
			n, r0, (r1 - r0) * 1024 / ni, ni, r2 * 100 / r0,
			(r3 - r0) * 1024 / nb, nb, r4 * 100 / r0
	}' | tee -a "$tmp/mem"
}

echo "coil-serve: $(cat "$tmp/serve.out") ${COIL_SERVE_ARGS:-}"
[ -z "$bport" ] ||
	echo "coil-serve-b: $(cat "$tmp/serve-b.out") ${COIL_SERVE_ARGS:-}" \
		"${COIL_SERVE_B_ARGS:-} ${COIL_SERVE_B_BIN:-}"
echo
for c in $cases; do
	case $c in
	hello)
		run_case hello "$serve_pid" "http://127.0.0.1:$cport/" \
			"http://127.0.0.1:$nport/" "$(b_url /)"
		;;
	small)
		run_case small "$serve_pid" "http://127.0.0.1:$cport/f4k.bin" \
			"http://127.0.0.1:$nport/f4k.bin" "$(b_url /f4k.bin)"
		;;
	file)
		run_case file "$serve_pid" "http://127.0.0.1:$cport/f64k.bin" \
			"http://127.0.0.1:$nport/f64k.bin" "$(b_url /f64k.bin)"
		;;
	cold)
		run_case cold "$serve_pid" "http://127.0.0.1:$cport/" \
			"http://127.0.0.1:$nport/" "$(b_url /)"
		;;
	mem)
		[ -n "$mem_nofile" ] || continue
		for r in $(seq 1 "$rounds"); do
			if [ $((r % 2)) = 1 ]; then
				mem_measure coil-serve "$serve_pid" "$cport"
				mem_measure nginx "$nginx_w" "$nport"
			else
				mem_measure nginx "$nginx_w" "$nport"
				mem_measure coil-serve "$serve_pid" "$cport"
			fi
		done
		;;
	lone)
		run_case lone "$serve_pid" "http://127.0.0.1:$cport/" \
			"http://127.0.0.1:$nport/" "$(b_url /)"
		;;
	large)
		run_case large "$serve_pid" "http://127.0.0.1:$cport/f1m.bin" \
			"http://127.0.0.1:$nport/f1m.bin" "$(b_url /f1m.bin)"
		;;
	https)
		if [ -n "$cs_url" ]; then
			run_case https "$serve_tls_pid" "$cs_url/" \
				"https://127.0.0.1:$nsport/"
		else
			echo "https  skipped: ${start_err:-no openssl to make a certificate}"
		fi
		;;
	esac
done

# medians: field 3 is req/s, 6 user, 9 sys, 11 req/cpu-s, 13 syscalls,
# 16 p50, 18 p99
echo
echo "medians of $rounds runs (server process only):"
for c in $cases; do
	grep -q "^$c " "$tmp/results" || continue
	for n in coil-serve coil-serve-b nginx; do
		grep -q "^$c *$n " "$tmp/results" || continue
		grep "^$c *$n " "$tmp/results" | awk -v c="$c" -v n="$n" '
		function med(a, k,   i, j, t) {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
				if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
		}
		{ k++; rps[k] = $3; u[k] = $6; s[k] = $9; rc[k] = $11; sc[k] = $13
		  p5[k] = $16; p9[k] = $18 }
		END {
			printf "%-6s %-11s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  p50 %7.0f p99 %7.0f us\n",
				c, n, med(rps, k), med(u, k), med(s, k), med(rc, k),
				(sc[1] == "-" ? "-" : sprintf("%.3f", med(sc, k))),
				med(p5, k), med(p9, k)
		}'
	done | tee -a "$tmp/medians"
	awk -v c="$c" '$1 == c && $2 == "coil-serve" { a = $11 }
		$1 == c && $2 == "coil-serve-b" { x = $11 }
		$1 == c && $2 == "nginx" { b = $11 }
		END { if (b > 0) printf "%-6s coil-serve / nginx, requests per CPU-second: %.2fx\n", c, a / b
		      if (b > 0 && x > 0) printf "%-6s coil-serve-b / nginx, requests per CPU-second: %.2fx\n", c, x / b }' "$tmp/medians"
done
echo "load after: $(cat /proc/loadavg)"
