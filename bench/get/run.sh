#!/bin/bash
# bench/get/run.sh [COIL_GET [ROUNDS [FILES]]]
#
# The "get" benchmark: FILES (default 10000) small files (1 KiB each) from
# a local nginx, fetched with
#   coil-get --parallel 100 -o DIR -i urls
#   curl --parallel --parallel-max 100 -K cfg      (url/output pairs)
#   xargs -P 100 -n 100 curl --remote-name-all    (100 curls, 100 URLs each)
# the same URL list each time, ROUNDS (default 3) rounds alternating the
# three, each into a fresh output directory (on /dev/shm when it is a
# tmpfs, so that the file system's cost of creating 10,000 files stays
# small and steady). Prints fetches per second (wall clock) and CPU per
# fetch: the task-clock of the whole process tree, io_uring's io-wq
# worker threads and xargs' curl children included (perf stat); without
# perf, bash's `time` user+sys. nginx runs alone on one worker; its CPU is
# not counted; user and system CPU and system calls per fetch (perf stat's
# user/sys times and raw_syscalls:sys_enter, the whole tree) beside it.
# Medians of the rounds. Results: docs/BENCHMARKS.md, "get".
#
# BASE=path/to/other/coil-get adds a row "coil-base" measured in the same
# rounds (before/after a change); PEERS=0 leaves curl and xargs out.
# H2=1: nginx listens with http2 and every tool speaks h2c by prior
# knowledge (--http2-prior-knowledge, coil-get's and curl's), so coil-get
# and curl --parallel each fetch over one connection of up to 100 streams
# (coil-get: --per-host 100), beside a row "coil-h1": the same coil-get
# over HTTP/1.1 from a second listener of the same nginx. BASE and the
# curl rows are left out (curl 7.88 over h2c prior knowledge fails the
# second URL of a process, "Error in the HTTP2 framing layer", with
# --parallel and without: one URL per curl works).
set -eu
bin=$(readlink -f "${1:-build/tools/coil-get/coil-get}")
rounds=${2:-3}
files=${3:-10000}

for p in curl xargs; do
	command -v "$p" >/dev/null || { echo "skip: $p is not installed"; exit 0; }
done
nginx=$(command -v nginx || true)
[ -z "$nginx" ] && [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx
[ -n "$nginx" ] || { echo "skip: nginx is not installed"; exit 0; }
[ -x "$bin" ] || { echo "no coil-get at $bin"; exit 1; }
use_perf=0
if command -v perf >/dev/null &&
	perf stat -x, -e task-clock -o /dev/null true 2>/dev/null; then
	use_perf=1
fi
# system calls of the whole tree too, where the tracepoint is readable
sc_event=
[ $use_perf = 1 ] && perf stat -e raw_syscalls:sys_enter -o /dev/null true 2>/dev/null &&
	sc_event=,raw_syscalls:sys_enter

h2=${H2:-0}
listen_opt= proto=
if [ "$h2" = 1 ]; then
	listen_opt=" http2"
	proto=--http2-prior-knowledge
fi

work=$(mktemp -d)
out=$work
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
	out=$(mktemp -d /dev/shm/coil-get-bench.XXXXXX)
fi
ngx_pid=
cleanup() {
	[ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null && wait "$ngx_pid" 2>/dev/null
	rm -rf "$work"
	[ "$out" != "$work" ] && rm -rf "$out"
	return 0
}
trap cleanup EXIT

. "$(dirname "$0")/../common/bench.sh"
bench_header
echo "coil-get: $bin; $(curl --version | head -1 | cut -d' ' -f1-2)," \
	"$("$nginx" -v 2>&1 | cut -d' ' -f3)"
echo "files: $files x 1 KiB; protocol: $([ "$h2" = 1 ] && echo 'HTTP/2 (h2c, prior knowledge)' || echo HTTP/1.1); output on $(stat -f -c %T "$out");" \
	"CPU by $([ $use_perf = 1 ] && echo 'perf stat task-clock' || echo 'bash time')"

mkdir -p "$work/html" "$work/logs"
head -c $((files * 1024)) /dev/urandom | (cd "$work/html" && split -b 1024 -a 6 -d - f)

# a port: try random ones until nginx starts
for try in $(seq 1 20); do
	port=$((20000 + RANDOM % 30000))
	# taken already: someone answers there
	if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then continue; fi
	: >"$work/logs/error.log"
	cat >"$work/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy;
  fastcgi_temp_path $work/fcgi; uwsgi_temp_path $work/uwsgi;
  scgi_temp_path $work/scgi;
  keepalive_requests 1000000;
  http2_max_requests 1000000;
  http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:$port$listen_opt; root $work/html; }
  server { listen 127.0.0.1:$((port + 1)); root $work/html; }
}
CONF
	"$nginx" -p "$work" -c "$work/nginx.conf" -e "$work/logs/error.log" \
		2>/dev/null &
	ngx_pid=$!
	up=0
	for i in $(seq 1 100); do
		# nginx retries a busy port for 2 s: its log says so at once
		grep -q 'bind()' "$work/logs/error.log" && break
		if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
			up=1
			break
		fi
		kill -0 "$ngx_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ $up = 1 ] && break
	kill "$ngx_pid" 2>/dev/null
	wait "$ngx_pid" 2>/dev/null || true
	ngx_pid=
done
[ -n "$ngx_pid" ] || { cat "$work/logs/error.log"; echo "nginx did not start"; exit 1; }

(cd "$work/html" && ls) | sed "s|^|http://127.0.0.1:$port/|" >"$work/urls"
(cd "$work/html" && ls) | sed "s|^|http://127.0.0.1:$((port + 1))/|" >"$work/urls1"
cfg() { # curl -K config writing into $1
	sed "s|^\(.*/\)\(f[0-9]*\)$|url = \"\1\2\"\noutput = \"$1/\2\"|" "$work/urls"
}

# measure NAME DIR CMD... : run CMD, check DIR holds every file, print
# "NAME wall_s cpu_s user_s sys_s syscalls" (-1 for what was not counted)
measure() {
	local name=$1 dir=$2 t0 t1 cpu n usr=-1 sys=-1 sc=-1
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	t0=$(date +%s%N)
	if [ $use_perf = 1 ]; then
		perf stat -e task-clock$sc_event -o "$work/perf" -- "$@" >/dev/null 2>"$work/err" ||
			{ cat "$work/err"; echo "$name failed"; exit 1; }
		t1=$(date +%s%N)
		cpu=$(awk '/task-clock/ { gsub(",", "", $1); printf "%.4f", $1 / 1000 }' "$work/perf")
		usr=$(awk '/seconds user/ { print $1 }' "$work/perf")
		sys=$(awk '/seconds sys/ { print $1 }' "$work/perf")
		[ -n "$sc_event" ] && sc=$(awk '/raw_syscalls:sys_enter/ { gsub(",", "", $1); print $1 }' "$work/perf")
	else
		local TIMEFORMAT='%U %S'
		{ time "$@" >/dev/null 2>"$work/err"; } 2>"$work/time" ||
			{ cat "$work/err"; echo "$name failed"; exit 1; }
		t1=$(date +%s%N)
		cpu=$(awk '{ printf "%.4f", $1 + $2 }' "$work/time")
		usr=$(awk '{ print $1 }' "$work/time")
		sys=$(awk '{ print $2 }' "$work/time")
	fi
	n=$(ls "$dir" | wc -l)
	[ "$n" = "$files" ] || { echo "$name wrote $n of $files files"; exit 1; }
	cmp -s "$dir/f000007" "$work/html/f000007" || { echo "$name: wrong content"; exit 1; }
	echo "$name $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }') $cpu $usr $sys $sc"
}

# (an unquoted empty $proto and $per_host add no argument)
per_host=
[ "$h2" = 1 ] && per_host="--per-host 100"
coil() { measure coil-get "$out/coil" "$bin" -q --parallel 100 $per_host $proto -o "$out/coil" -i "$work/urls"; }
h1() { measure coil-h1 "$out/h1" "$bin" -q --parallel 100 -o "$out/h1" -i "$work/urls1"; }
base() { measure coil-base "$out/base" "$BASE" -q --parallel 100 -o "$out/base" -i "$work/urls"; }
curlp() { cfg "$out/curl" >"$work/curl.cfg"
	measure curl "$out/curl" curl -s -S --no-progress-meter $proto --parallel --parallel-max 100 -K "$work/curl.cfg"; }
xcurl() { measure xargs+curl "$out/xargs" bash -c \
	"cd '$out/xargs' && xargs -P 100 -n 100 curl -s -S $proto --remote-name-all < '$work/urls'"; }

tools="coil"
[ -n "${BASE:-}" ] && [ "$h2" != 1 ] && tools="$tools base"
if [ "$h2" = 1 ]; then
	tools="$tools h1"
elif [ "${PEERS:-1}" != 0 ]; then
	tools="$tools curlp xcurl"
fi
echo "warm-up round (not counted)"
for f in $tools; do $f >/dev/null; done
: >"$work/results"
for r in $(seq 1 "$rounds"); do
	for f in $tools; do
		line=$($f)
		echo "round $r: $line"
		echo "$line" >>"$work/results"
	done
done

echo
awk -v files="$files" '
{ wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " $3
  usr[$1] = usr[$1] " " $4; sys[$1] = sys[$1] " " $5; sc[$1] = sc[$1] " " $6 }
function median(s,   a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	printf "%-12s %12s %14s %16s %12s %10s %10s %14s\n", "tool", "fetches/s", "CPU us/fetch", "fetches/CPU-s", "vs coil-get", "user us", "sys us", "syscalls/fetch"
	cf = files / median(cpu["coil-get"])
	n = split("coil-get coil-h1 coil-base curl xargs+curl", names, " ")
	for (i = 1; i <= n; i++) {
		k = names[i]
		if (!(k in cpu)) continue
		w = median(wall[k]); c = median(cpu[k])
		u = median(usr[k]); y = median(sys[k]); q = median(sc[k])
		printf "%-12s %12.0f %14.1f %16.0f %11.2fx %10s %10s %14s\n", k, files / w, c / files * 1e6, files / c, cf / (files / c),
			u < 0 ? "-" : sprintf("%.1f", u / files * 1e6), y < 0 ? "-" : sprintf("%.1f", y / files * 1e6),
			q < 0 ? "-" : sprintf("%.2f", q / files)
	}
}' "$work/results"
