#!/bin/sh
# bench/serve/ring.sh [COIL_SERVE [SECS [ROUNDS [RINGS]]]]
#
# coil-serve's provided buffer ring by size (--recv-bufs COUNT
# --recv-buf-size SIZE): how often it runs dry, what it costs in memory
# and whether it changes the speed. RINGS: COUNTxSIZE words (default
# "64x16k 32x16k 16x16k 32x4k"), measured in turn for ROUNDS rounds
# (default 2), each case by a fresh process pinned to CPU 0 with the load
# on CPU 1:
#   busy   wrk -t1 -c5000 -d8s GET /: RSS over the one at rest, per
#          connection (sampled 1 s after 98% of the connections are
#          open, as bench/serve's mem case)
#   hello  wrk -t1 -c50 -dSECS GET /  (default 5)
#   file   wrk -t1 -c50 -dSECS GET /f64k.bin
# Per run: requests, CPU microseconds per request (user and system), and
# the re-arms of multishot recvs parked on a dry ring per 1,000 requests
# (--stats at the process's exit: coil_loop_stats.nobufs).
# Needs an open-file limit above 6,000 (the busy case). See
# docs/BENCHMARKS.md, "Memory per connection (issue 12)".
set -eu

serve=${1:-build/tools/coil-serve/coil-serve}
secs=${2:-5}
rounds=${3:-2}
rings=${4:-64x16k 32x16k 16x16k 32x4k}
busy=${MEM_BUSY:-5000}

. "$(dirname "$0")/../common/bench.sh"
. "$(dirname "$0")/../common/serve.sh"
bench_need bench/serve/ring wrk taskset curl
[ -x "$serve" ] || {
	echo "bench/serve/ring: no coil-serve at $serve" >&2
	exit 1
}
ulimit -n $((busy + 1024)) 2>/dev/null || {
	echo "bench/serve/ring: the open-file limit cannot reach $((busy + 1024))" >&2
	exit 1
}
bench_tmpdir serve-ring
have_perf=0 # CPU ticks only: the re-arm count is the point here
mkdir -p "$dir/root"
head -c 65536 /dev/urandom >"$dir/root/f64k.bin"

bench_header
echo "rings: $rings; $rounds rounds; hello and file wrk -t1 -c50" \
	"-d${secs}s, busy wrk -t1 -c$busy -d8s; server CPU 0, wrk CPU 1"
echo


# one RING CASE: a fresh coil-serve, the load, its --stats at exit
one() {
	ring=$1 case=$2
	count=${ring%x*} size=${ring#*x}
	if ! serve_start "$dir/serve.out" "$serve" --stats \
		--recv-bufs "$count" --recv-buf-size "$size"; then
		echo "bench/serve/ring: coil-serve did not start: $start_err" >&2
		exit 1
	fi
	pid=$last_pid
	url=$serve_url
	curl -s -o /dev/null "$url/" ||
		echo "bench/serve/ring: coil-serve ($ring) did not answer" >&2
	sleep 0.5
	r0=$(serve_rss_kb "$pid")
	f0=$(serve_nfds "$pid")
	rss=""
	case $case in
	busy)
		taskset -c 1 wrk -t1 -c"$busy" -d8s "$url/" >"$dir/wrk.out" 2>&1 &
		wrk_pid=$!
		serve_measure_start "$pid"
		serve_wait_fds "$pid" $((f0 + busy * 98 / 100))
		rss=$(awk -v a="$r0" -v b="$(serve_rss_kb "$pid")" -v n="$busy" \
			'BEGIN { printf "%5.0f B/conn", (b - a) * 1024 / n }')
		wait $wrk_pid || true
		;;
	hello | file)
		path=/
		[ "$case" = file ] && path=/f64k.bin
		serve_measure_start "$pid"
		taskset -c 1 wrk -t1 -c50 -d"${secs}s" "$url$path" \
			>"$dir/wrk.out" 2>&1
		;;
	esac
	serve_measure_stop "$pid"
	if ! kill -TERM "$pid" 2>/dev/null; then
		echo "bench/serve/ring: coil-serve ($ring, $case) died:" \
			"$(cat "$dir/serve.out.err")" >&2
		exit 1
	fi
	wait "$pid" || true
	bench_pids=${bench_pids% "$pid"}
	req=$(awk '/ requests in /{print $1}' "$dir/wrk.out")
	nob=$(sed -n 's/.* \([0-9]*\) re-arms after a dry buffer ring.*/\1/p' \
		"$dir/serve.out.err")
	awk -v ring="$ring" -v c="$case" -v r="${req:-0}" -v nob="${nob:-0}" \
		-v u="$du" -v s="$ds" -v hz="$(getconf CLK_TCK)" -v rss="$rss" 'BEGIN {
		if (r == 0) r = 1
		printf "%-7s %-6s %9d requests  user %5.2f sys %6.2f us/req  %8.2f re-arms per 1000 requests (%d)  %s\n",
			ring, c, r, u * 1e6 / hz / r, s * 1e6 / hz / r,
			nob * 1000 / r, nob, rss
	}' | tee -a "$dir/results"
}

for r in $(seq 1 "$rounds"); do
	for c in ${RING_CASES:-busy hello file}; do
		for ring in $rings; do
			one "$ring" "$c"
		done
	done
done
echo "load after: $(cat /proc/loadavg)"
