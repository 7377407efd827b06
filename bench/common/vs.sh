# bench/common/vs.sh - one generator beside another, the measuring part of
# bench/vs-wrk and bench/vs-h2load (run, table). Source it after
# bench/common/bench.sh (its to_us, perf_read and bench_perf); the sourcing
# script sets $dir (bench_tmpdir), $secs and $rounds.
#
# run NAME URL CMD...: one measured run of CMD URL pinned to CPU 1 under
#   perf stat (raw_syscalls:sys_enter, user and system time of the whole
#   process); appends "NAME req/s user-us sys-us syscalls p50 p99 own..."
#   per request to $dir/results and prints it. A figure a tool does not
#   report is "-": h2load prints min, max, mean and sd of the time per
#   request and no percentiles, so its p50 and p99 are "-".
# table TITLE: the medians over the rounds of what run() recorded, as a
#   markdown table; also "NAME cpu syscalls p50 p99" lines in
#   $dir/medians for the script's goals (p50, p99: -1 where "-"); then
#   clears the results.

# run NAME URL CMD...: one measured run; appends a line to $dir/results
run() {
	local name=$1 url=$2
	shift 2
	local out="$dir/out" perf="$dir/perf"
	bench_perf "$out" "$perf" "$@" "$url" || return 0
	local reqs p50=- p99=- own_u own_s own_c
	case $name in
	h2load*)
		reqs=$(awk '/^requests:/ { print $8 }' "$out")
		;;
	*)
		reqs=$(awk '/requests in/ { print $1; exit }' "$out")
		# the last distribution: with -U coil-bench prints the
		# uncorrected one first, the corrected one last (as wrk2)
		p50=$(awk '$1 == "50%" || $1 == "50.000%" { v = $2 } END { print v }' "$out")
		p99=$(awk '$1 == "99%" || $1 == "99.000%" { v = $2 } END { print v }' "$out")
		if [ -n "$p50" ]; then p50=$(to_us "$p50" 1); else p50=-; fi
		if [ -n "$p99" ]; then p99=$(to_us "$p99" 1); else p99=-; fi
		;;
	esac
	# coil-bench's own figures: its run window only (no set-up, no
	# pre-connect handshakes)
	own_u=$(sed -n 's/.*Per request: .* system calls, \([0-9.]*\)us user CPU.*/\1/p' "$out")
	own_s=$(sed -n 's/.*us user CPU, \([0-9.]*\)us system CPU.*/\1/p' "$out")
	own_c=$(sed -n 's/.*Per request: \([0-9.]*\) system calls.*/\1/p' "$out")
	perf_read "$perf"
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "$name: no requests"; cat "$out"; return 0; }
	awk -v n="$name" -v r="$reqs" -v s="$secs" -v sc="$sc" -v u="$usr" \
		-v y="$sys" -v p50="$p50" -v p99="$p99" \
		-v ou="${own_u:--1}" -v os="${own_s:--1}" -v oc="${own_c:--1}" \
		'BEGIN { printf "%s %.0f %.2f %.2f %.3f %s %s %s %s %s\n", n, r / s,
			u * 1e6 / r, y * 1e6 / r, sc / r, p50, p99, ou, os, oc }' >>"$dir/results"
	tail -1 "$dir/results" | awk '{ gsub("_", " ", $1); printf "  %-42s %6s req/s  user %5s us  sys %5s us  %6s syscalls  p50 %s us  p99 %s us  own user/sys %s/%s us, %s syscalls\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
}

# table TITLE: medians per tool of what run() recorded, then clear
table() {
	echo
	echo "$1 (medians of $rounds rounds)"
	printf '| %-42s | %6s | %11s | %10s | %10s | %12s | %7s | %7s | %15s | %12s |\n' \
		generator "req/s" "user us/req" "sys us/req" "CPU us/req" \
		"syscalls/req" "p50 us" "p99 us" "own user/sys us" "own syscalls"
	rm -f "$dir/medians"
	echo "|--------------------------------------------|-------:|------------:|-----------:|-----------:|-------------:|--------:|--------:|----------------:|-------------:|"
	awk "$bench_awk_med"'
	# a latency column: "-" when a run had no such figure (h2load)
	function lat(x) { return x < 0 ? sprintf("%7s", "-") : sprintf("%7.0f", x) }
	{ k = $1; n[k]++; order[k] = order[k] ? order[k] : ++no; names[no] = k
	  for (f = 2; f <= 10; f++) v[k, f, n[k]] = $f == "-" ? -1 : $f }
	END {
		for (o = 1; o <= no; o++) {
			k = names[o]
			for (f = 2; f <= 10; f++) {
				delete a
				for (i = 1; i <= n[k]; i++) a[i] = v[k, f, i]
				m[f] = med(a, n[k])
				if (f == 3) { delete a
					for (i = 1; i <= n[k]; i++) a[i] = v[k, 3, i] + v[k, 4, i]
					tot = med(a, n[k]) }
			}
			gsub("_", " ", k)
			own = m[8] < 0 ? "-" : sprintf("%.2f / %.2f", m[8], m[9])
			owc = m[10] < 0 ? "-" : sprintf("%.2f", m[10])
			printf "| %-42s | %6.0f | %11.2f | %10.2f | %10.2f | %12.3f | %s | %s | %15s | %12s |\n",
				k, m[2], m[3], m[4], tot, m[5], lat(m[6]), lat(m[7]), own, owc
			gsub(" ", "_", k)
			printf "%s %f %f %f %f\n", k, tot, m[5], m[6], m[7] >> medians
		}
	}' medians="$dir/medians" "$dir/results"
	rm -f "$dir/results"
}
