#!/bin/bash
# bench/vs-wrk2/run.sh WRK2 [COIL_BENCH [ROUNDS [SECS]]]
#
# coil-bench beside wrk2 (giltene/wrk2, the open model's reference; not a
# Debian package: build it from its public source and pass its binary as
# WRK2) in the open model against the same nginx: one worker pinned to
# CPU 0, both generators pinned to CPU 1, -t1 -c100, at -R 5000, 20000 and
# 40000, SECS (default 10) seconds each, ROUNDS (default 2) rounds with the
# tools alternating (the order flips every round). Per run: the achieved
# rate (requests / SECS), coil-bench's late (over 1 ms) and unsent counts
# (wrk2 reports neither), the generator's user and system CPU per request
# and its system calls per request (perf stat over the whole process:
# set-up and connects included, both tools alike), and the corrected
# p50/p99/p99.9 as each tool reports them. The table shows medians over
# the rounds and coil-bench's CPU per request as a fraction of wrk2's.
# coil-bench's late requests are split by cause (its "Late by cause"
# line): held (due while every connection had its answer outstanding or
# was reconnecting: the server's pace), busy (the loop's previous wake ran past the next: the
# generator's) and timer (the host woke the loop late: the platform's,
# beside the idle timer's share of wakes over 1 ms late).
# Goals (issue #12): at most 0.7x wrk2's CPU per request at 20k and 40k,
# at most 1% late at 40k, a corrected p50 under 1 ms.
# Needs nginx, perf, taskset.
set -euo pipefail
wrk2=${1:?usage: run.sh WRK2 [COIL_BENCH [ROUNDS [SECS]]]}
cb=${2:-build/tools/coil-bench/coil-bench}
rounds=${3:-2}
secs=${4:-10}
conns=100
rates="5000 20000 40000"

. "$(dirname "$0")/../common/bench.sh"
bench_need vs-wrk2 nginx perf taskset
[ -x "$wrk2" ] || { echo "vs-wrk2: $wrk2 is not an executable wrk2"; exit 1; }
cb=$(bench_cb vs-wrk2 "$cb")
wrk2=$(readlink -f "$wrk2")

bench_tmpdir vs-wrk2
port=$(free_port)
bench_page
bench_nginx "$port" "server { listen 127.0.0.1:$port; root $dir; }"
url="http://127.0.0.1:$port/"

bench_header
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), 1 worker on CPU 0, access log off;" \
	"generators on CPU 1, -t1 -c$conns, ${secs}s each, $rounds rounds, alternating"

# run NAME RATE CMD...: one measured run; appends a line to $dir/results
run() {
	local name=$1 rate=$2
	shift 2
	local out="$dir/out" perf="$dir/perf"
	bench_perf "$out" "$perf" "$@" || return 0
	local reqs sc usr sys p50 p99 p999 late unsent held busy timer twl tw
	reqs=$(awk '/requests in/ { print $1; exit }' "$out")
	p50=$(awk '$1 == "50%" || $1 == "50.000%" { print $2; exit }' "$out")
	p99=$(awk '$1 == "99%" || $1 == "99.000%" { print $2; exit }' "$out")
	p999=$(awk '$1 == "99.9%" || $1 == "99.900%" { print $2; exit }' "$out")
	late=$(sed -n 's/.*scheduled; \([0-9]*\) sent late.*/\1/p' "$out")
	unsent=$(sed -n 's/.*, \([0-9]*\) never sent.*/\1/p' "$out")
	# coil-bench's late requests by cause, and the idle timer's late
	# wakes (wrk2 reports neither)
	held=$(sed -n 's/.*Late by cause: \([0-9]*\) waited.*/\1/p' "$out")
	busy=$(sed -n 's/.*reconnecting), \([0-9]*\) behind a busy.*/\1/p' "$out")
	timer=$(sed -n 's/.*busy loop, \([0-9]*\) woken late.*/\1/p' "$out")
	read -r twl tw < <(sed -n 's/.*lateness): \([0-9]*\) of \([0-9]*\) wakes.*/\1 \2/p' "$out") || true
	[ -n "$late" ] && [ -z "$held" ] && held=0 busy=0 timer=0 # none late
	perf_read "$perf"
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "$name: no requests"; cat "$out"; return 0; }
	echo "$name $rate $(awk -v r="$reqs" -v s="$secs" -v sc="$sc" -v u="$usr" \
		-v y="$sys" -v l="${late:--1}" -v un="${unsent:--1}" \
		'BEGIN { printf "%.0f %.3f %.3f %.2f %.3f %.3f", r / s,
			l < 0 ? -1 : 100 * l / r, un < 0 ? -1 : 100 * un / (r + un),
			u * 1e6 / r, y * 1e6 / r, sc / r }') $(to_us "$p50") $(to_us "$p99") $(to_us "$p999")" \
		>>"$dir/results"
	[ -n "$held" ] && echo "$name $rate $(awk -v r="$reqs" -v h="$held" \
		-v b="$busy" -v t="$timer" -v twl="${twl:-0}" -v tw="${tw:-0}" \
		'BEGIN { printf "%.3f %.3f %.3f %.2f", 100 * h / r, 100 * b / r,
			100 * t / r, (tw > 0 ? 100 * twl / tw : -1) }')" >>"$dir/causes"
	tail -1 "$dir/results" | awk '{ printf "  %-10s -R%-6s %6s req/s  late %6s%%  unsent %6s%%  user %6s us  sys %6s us  %6s syscalls  p50 %s us  p99 %s us  p99.9 %s us\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
	[ -n "$held" ] && tail -1 "$dir/causes" | awk '{ printf "  %-10s -R%-6s late by cause: held %s%%  busy loop %s%%  host timer %s%%; idle timer %s%% of wakes late\n", $1, $2, $3, $4, $5, $6 }'
	return 0
}

one() {
	local tool=$1 rate=$2
	case $tool in
	wrk2) run wrk2 "$rate" "$wrk2" -t1 -c$conns -d${secs}s -R"$rate" --latency "$url" ;;
	coil) run coil-bench "$rate" "$cb" -t1 -c$conns -d${secs}s -R"$rate" -L "$url" ;;
	esac
}

for r in $(seq "$rounds"); do
	echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
	for rate in $rates; do
		if [ $((r % 2)) -eq 1 ]; then
			one wrk2 "$rate"; one coil "$rate"
		else
			one coil "$rate"; one wrk2 "$rate"
		fi
	done
done

echo
echo "medians of $rounds rounds; late/unsent in % of requests (wrk2 reports neither);"
echo "CPU and system calls per request over the whole process (perf stat)"
printf '| %-10s | %6s | %7s | %7s | %8s | %11s | %10s | %10s | %12s | %7s | %7s | %8s |\n' \
	generator "-R" "req/s" "late %" "unsent %" "user us/req" "sys us/req" "CPU us/req" \
	"syscalls/req" "p50 us" "p99 us" "p99.9 us"
echo "|------------|-------:|--------:|--------:|---------:|------------:|-----------:|-----------:|-------------:|--------:|--------:|---------:|"
awk "$bench_awk_med"'
{ k = $1 " " $2; n[k]++; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
  for (f = 3; f <= 11; f++) v[k, f, n[k]] = $f
  v[k, 12, n[k]] = $6 + $7 }
END {
	for (o = 1; o <= nk; o++) {
		k = keys[o]
		for (f = 3; f <= 12; f++) {
			delete a
			for (i = 1; i <= n[k]; i++) a[i] = v[k, f, i]
			m[k, f] = med(a, n[k])
		}
	}
	for (o = 1; o <= nk; o++) {
		k = keys[o]; split(k, p, " ")
		late = m[k, 4] < 0 ? "-" : sprintf("%.2f", m[k, 4])
		uns = m[k, 5] < 0 ? "-" : sprintf("%.2f", m[k, 5])
		printf "| %-10s | %6s | %7.0f | %7s | %8s | %11.2f | %10.2f | %10.2f | %12.3f | %7.0f | %7.0f | %8.0f |\n",
			p[1], p[2], m[k, 3], late, uns, m[k, 6], m[k, 7], m[k, 12], m[k, 8], m[k, 9], m[k, 10], m[k, 11]
	}
	print ""
	for (o = 1; o <= nk; o++) {
		k = keys[o]; split(k, p, " ")
		if (p[1] != "coil-bench") continue
		w = "wrk2 " p[2]
		if (m[w, 12] > 0)
			printf "-R%s: coil-bench CPU per request %.2fx wrk2'"'"'s (user+sys), system calls %.2fx\n",
				p[2], m[k, 12] / m[w, 12], (m[w, 8] > 0 ? m[k, 8] / m[w, 8] : 0)
	}
}' "$dir/results"

[ -s "$dir/causes" ] || exit 0
echo
echo "coil-bench's late requests by cause, medians in % of requests; the idle"
echo "timer's wakes over 1 ms late in % of its wakes"
printf '| %6s | %7s | %7s | %8s | %12s |\n' "-R" "held %" "busy %" "timer %" "idle timer %"
echo "|-------:|--------:|--------:|---------:|-------------:|"
awk "$bench_awk_med"'
{ k = $2; n[k]++; if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
  for (f = 3; f <= 6; f++) v[k, f, n[k]] = $f }
END {
	for (o = 1; o <= nk; o++) {
		k = keys[o]
		for (f = 3; f <= 6; f++) {
			delete a
			for (i = 1; i <= n[k]; i++) a[i] = v[k, f, i]
			m[f] = med(a, n[k])
		}
		printf "| %6s | %7.2f | %7.2f | %8.2f | %12.2f |\n", k, m[3], m[4], m[5], m[6]
	}
}' "$dir/causes"
