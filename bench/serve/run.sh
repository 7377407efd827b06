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
#   mem    memory per connection (not in the default list), of ROUNDS
#          fresh processes of each server (a coil-serve started for the
#          round, nginx restarted; alternating): RSS of the
#          server process (nginx: its worker) at rest, with MEM_IDLE
#          (default 10000) idle
#          keep-alive connections (each answered one GET / first; held by
#          a Python client on CPU 1), once they closed, under
#          `wrk -c MEM_BUSY` (default 5000) GET / (sampled 1 s after 98%
#          of the connections are open, at most 6 s into an 8 s run) and
#          once that ended; bytes per idle and per busy
#          connection over the RSS at rest, and the RSS after each (once
#          the server closed the connections) as a share of the one at
#          rest (goal: within 120%), and the process's whole RSS under
#          the busy load (nginx allocates its connection structures for
#          every worker_connections slot at start: they are in its RSS at
#          rest, not in its bytes per connection); then the medians.
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

. "$(dirname "$0")/../common/bench.sh"
. "$(dirname "$0")/../common/serve.sh"
bench_skip=77 # ctest's skip (tests/server/bench_serve_smoke.sh)
bench_need bench/serve wrk nginx taskset curl
[ -x "$serve" ] || {
	echo "bench/serve: no coil-serve at $serve" >&2
	exit 1
}
bench_tmpdir serve
drop_pid=""

bench_header
echo "$(nginx -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "load: wrk -t1 -c$conns -d${secs}s on CPU 1; servers on CPU 0;" \
	"$rounds rounds, alternating"
serve_perf_probe

mkdir -p "$dir/root"
head -c 4096 /dev/urandom >"$dir/root/f4k.bin"
head -c 65536 /dev/urandom >"$dir/root/f64k.bin"
head -c 1048576 /dev/urandom >"$dir/root/f1m.bin"
ncold=256
case " $cases " in *" cold "*)
	mkdir -p "$dir/root/cold"
	for i in $(seq 1 $ncold); do
		head -c 65536 /dev/urandom >"$dir/root/cold/$i.bin"
	done
	sync # clean pages: DONTNEED drops only those
	chmod 755 "$dir/root/cold"
	chmod 644 "$dir/root/cold/"*.bin
	;;
esac
cat >"$dir/cold.lua" <<EOF
local i = 0
request = function()
  i = i % $ncold + 1
  return wrk.format("GET", "/cold/" .. i .. ".bin")
end
EOF
# drops the cold files from the page cache: once (with an argument), or
# every 20 ms until killed
cat >"$dir/drop.py" <<EOF
import glob, os, sys, time
fds = [os.open(p, os.O_RDONLY) for p in glob.glob("$dir/root/cold/*.bin")]
while True:
    for fd in fds:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    if len(sys.argv) > 1:
        break
    time.sleep(0.02)
EOF
# nginx's worker runs as an unprivileged user: let it read the root
chmod 755 "$dir" "$dir/root"
chmod 644 "$dir/root/f4k.bin" "$dir/root/f64k.bin" "$dir/root/f1m.bin"

# TLS material for the https case (a self-signed P-256 certificate)
tls=0
! bench_cert || tls=1

# the mem case: room for MEM_IDLE connections in each process
mem_idle=${MEM_IDLE:-10000}
mem_busy=${MEM_BUSY:-5000}
nginx_nofile=""
case " $cases " in *" mem "*)
	if ulimit -n $((mem_idle + 1024)) 2>/dev/null; then
		nginx_nofile=$((mem_idle + 1024))
	else
		echo "mem    skipped: the open-file limit cannot reach $((mem_idle + 1024))"
	fi
	;;
esac

nport=$(free_port)
nsport=$(free_port)
nginx_lines="keepalive_timeout 65;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$nport;
    $([ $tls = 1 ] && echo "listen 127.0.0.1:$nsport ssl;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;")
    root $dir/root;
    location = / { default_type text/plain; return 200 \"Hello, World!\"; }
  }"
bench_nginx "$nport" "$nginx_lines"

if ! serve_start "$dir/serve.out" "$serve"; then
	echo "bench/serve: coil-serve did not start: $start_err" >&2
	exit 1
fi
serve_pid=$last_pid
cport=${serve_url##*:}
bport=""
if [ -n "${COIL_SERVE_B_ARGS:-}${COIL_SERVE_B_BIN:-}" ]; then
	# shellcheck disable=SC2086
	if ! serve_start "$dir/serve-b.out" "${COIL_SERVE_B_BIN:-$serve}" \
		${COIL_SERVE_B_ARGS:-}; then
		echo "bench/serve: coil-serve-b did not start: $start_err" >&2
		exit 1
	fi
	serve_b_pid=$last_pid
	bport=${serve_url##*:}
fi
cs_url=""
start_err=""
if [ $tls = 1 ] && serve_start "$dir/serve-tls.out" "$serve" \
	--cert "$dir/cert.pem" --key "$dir/key.pem"; then
	serve_tls_pid=$last_pid
	cs_url=$serve_url
fi

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
	[ "$case" = cold ] && script="-s $dir/cold.lua"
	# shellcheck disable=SC2086
	taskset -c 1 wrk -t1 -c$c -d1s $script "$url" >/dev/null 2>&1 # warm-up
	drop_pid=""
	if [ "$case" = cold ]; then
		python3 "$dir/drop.py" once
		taskset -c 1 python3 "$dir/drop.py" &
		drop_pid=$!
		bench_pids="$bench_pids $drop_pid"
	fi
	serve_measure_start "$pid"
	# shellcheck disable=SC2086
	taskset -c 1 wrk -t1 -c$c -d"${secs}s" --latency $script "$url" \
		>"$dir/wrk.out" 2>&1
	serve_measure_stop "$pid"
	if [ -n "$drop_pid" ]; then
		kill "$drop_pid" 2>/dev/null || true
		wait "$drop_pid" 2>/dev/null || true
		bench_pids=${bench_pids% "$drop_pid"}
	fi
	req=$(awk '/ requests in /{print $1}' "$dir/wrk.out")
	rps=$(awk '/^Requests\/sec/{print $2}' "$dir/wrk.out")
	err=$(grep -E 'Socket errors|Non-2xx' "$dir/wrk.out" | tr -s ' ' | tr '\n' ' ' || true)
	p50=$(awk '$1 == "50%" { print $2 }' "$dir/wrk.out")
	p99=$(awk '$1 == "99%" { print $2 }' "$dir/wrk.out")
	serve_result "$case" "$name" "$req" "$rps" \
		"$(printf 'p50 %7s p99 %7s us' "$(to_us "${p50:--1us}")" "$(to_us "${p99:--1us}")")" "$err"
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
cat >"$dir/idle.py" <<'EOF'
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
# settle PID FDS: wait (up to 20 s) until the server holds no more than
# FDS + 2 descriptors, i.e. it has closed the connections, then 1 s more
settle() {
	i=0
	while [ "$(serve_nfds "$1")" -gt $(($2 + 2)) ] && [ $i -lt 200 ]; do
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
	r0=$(serve_rss_kb "$pid")
	f0=$(serve_nfds "$pid")
	rm -f "$dir/idle.in"
	mkfifo "$dir/idle.in"
	taskset -c 1 python3 "$dir/idle.py" "$port" "$mem_idle" \
		<"$dir/idle.in" >"$dir/idle.out" 2>&1 &
	idle_pid=$!
	exec 9>"$dir/idle.in"
	i=0
	until grep -q '^ready' "$dir/idle.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 1200 ] || ! kill -0 $idle_pid 2>/dev/null; then
			echo "mem    $name: idle client failed: $(cat "$dir/idle.out")"
			exec 9>&-
			wait $idle_pid 2>/dev/null || true
			return 0
		fi
		sleep 0.1
	done
	sleep 1
	r1=$(serve_rss_kb "$pid")
	echo >&9
	exec 9>&-
	wait $idle_pid || true
	settle "$pid" "$f0"
	r2=$(serve_rss_kb "$pid")
	taskset -c 1 wrk -t1 -c"$mem_busy" -d8s "http://127.0.0.1:$port/" \
		>"$dir/wrk-mem.out" 2>&1 &
	wrk_pid=$!
	# sampled once the connections are open, 1 s into the load on all
	serve_wait_fds "$pid" $((f0 + mem_busy * 98 / 100))
	r3=$(serve_rss_kb "$pid")
	wait $wrk_pid || true
	settle "$pid" "$f0"
	r4=$(serve_rss_kb "$pid")
	awk -v n="$name" -v r0="$r0" -v r1="$r1" -v r2="$r2" -v r3="$r3" \
		-v r4="$r4" -v ni="$mem_idle" -v nb="$mem_busy" 'BEGIN {
		printf "mem    %-11s rest %6d KB  idle %5.0f B/conn (%d)  after %3.0f%%  busy %6.0f B/conn (%d)  busy RSS %6d KB  after %3.0f%%\n",
			n, r0, (r1 - r0) * 1024 / ni, ni, r2 * 100 / r0,
			(r3 - r0) * 1024 / nb, nb, r3, r4 * 100 / r0
	}' | tee -a "$dir/mem"
}
# mem_fresh NAME: one mem_measure of a process started for it (the first
# round of a process is the fair one: later ones reuse what it kept),
# then stopped; nginx is restarted, its worker the process measured
mem_fresh() {
	case $1 in
	coil-serve)
		if ! serve_start "$dir/mem-serve.out" "$serve"; then
			echo "mem    coil-serve did not start: $start_err"
			return 0
		fi
		mem_measure coil-serve "$last_pid" "${serve_url##*:}"
		kill -TERM "$last_pid"
		wait "$last_pid" || true
		bench_pids=${bench_pids% "$last_pid"}
		;;
	nginx)
		kill "$(cat "$dir/nginx.pid")"
		while [ -f "$dir/nginx.pid" ]; do sleep 0.1; done
		bench_nginx "$nport" "$nginx_lines"
		mem_measure nginx "$nginx_w" "$nport"
		;;
	esac
}

# the medians of the mem lines, per server
mem_medians() {
	awk "$bench_awk_med"'
	{ n = $2; if (!(n in k)) names[++nn] = n; i = ++k[n]
	  rest[n, i] = $4; idle[n, i] = $7; busy[n, i] = $13
	  rss[n, i] = $18 }
	function col(n, v,   i, a) {
		for (i = 1; i <= k[n]; i++) a[i] = v[n, i]
		return med(a, k[n])
	}
	END {
		print ""
		print "mem medians of " k[names[1]] " fresh processes each:"
		for (j = 1; j <= nn; j++) {
			n = names[j]
			printf "mem    %-11s rest %6d KB  idle %5.0f B/conn  busy %6.0f B/conn  busy RSS %6d KB\n",
				n, col(n, rest), col(n, idle), col(n, busy), col(n, rss)
		}
	}' "$dir/mem" | tee -a "$dir/medians"
}

echo "coil-serve: $(cat "$dir/serve.out") ${COIL_SERVE_ARGS:-}"
[ -z "$bport" ] ||
	echo "coil-serve-b: $(cat "$dir/serve-b.out") ${COIL_SERVE_ARGS:-}" \
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
		[ -n "$nginx_nofile" ] || continue
		for r in $(seq 1 "$rounds"); do
			if [ $((r % 2)) = 1 ]; then
				mem_fresh coil-serve
				mem_fresh nginx
			else
				mem_fresh nginx
				mem_fresh coil-serve
			fi
		done
		mem_medians
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

serve_medians "$cases"
echo "load after: $(cat /proc/loadavg)"
