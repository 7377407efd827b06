# bench/common/vs.sh - the measuring part of bench/vs-wrk made sourceable
# (to_us, run, table), for bench/vs-h2load. The sourcing script sets $dir
# (a temp dir), $secs and $rounds. bench/vs-wrk still has its own run()
# and table() (bench/common/bench.sh, which landed beside this file, took
# the rest of what vs-wrk and vs-wrk2 share); one of the two should move
# onto the other.
#
# run NAME URL CMD...: one measured run of CMD URL pinned to CPU 1 under
#   perf stat (raw_syscalls:sys_enter, user and system time of the whole
#   process); appends "NAME req/s user-us sys-us syscalls p50 p99 own..."
#   per request to $dir/results and prints it. h2load prints no
#   percentiles: its p50 column holds its mean ("time for request").
# table TITLE: the medians over the rounds of what run() recorded, as a
#   markdown table; also "NAME cpu syscalls p50 p99" lines in
#   $dir/medians for the script's goals; then clears the results.
# to_us VALUE-WITH-UNIT: "1.23ms" -> microseconds
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") m = 1; else if (u == "ms") m = 1000;
		else if (u == "s") m = 1000000; else if (u == "m") m = 60000000;
		else m = 1
		printf "%.1f", n * m }'
}

# run NAME URL CMD...: one measured run; appends a line to $dir/results
run() {
	local name=$1 url=$2
	shift 2
	local out="$dir/out" perf="$dir/perf"
	perf stat -e raw_syscalls:sys_enter -o "$perf" -- \
		taskset -c 1 "$@" "$url" >"$out" 2>&1 || { cat "$out"; return 0; }
	local reqs sc usr sys p50 p99 own_u own_s own_c
	case $name in
	h2load*)
		reqs=$(awk '/^requests:/ { print $8 }' "$out")
		# "time for request: min max mean sd +/- sd": the mean
		# (vs-wrk took $5, the max, before this was shared)
		p50=$(awk '/^time for request:/ { print $6 }' "$out")
		p99="-"
		;;
	*)
		reqs=$(awk '/requests in/ { print $1; exit }' "$out")
		p50=$(awk '$1 == "50%" || $1 == "50.000%" { print $2; exit }' "$out")
		p99=$(awk '$1 == "99%" || $1 == "99.000%" { print $2; exit }' "$out")
		;;
	esac
	# coil-bench's own figures: its run window only (no set-up, no
	# pre-connect handshakes)
	own_u=$(sed -n 's/.*Per request: .* system calls, \([0-9.]*\)us user CPU.*/\1/p' "$out")
	own_s=$(sed -n 's/.*us user CPU, \([0-9.]*\)us system CPU.*/\1/p' "$out")
	own_c=$(sed -n 's/.*Per request: \([0-9.]*\) system calls.*/\1/p' "$out")
	sc=$(awk '/raw_syscalls:sys_enter/ { gsub(",", "", $1); print $1 }' "$perf")
	usr=$(awk '/seconds user/ { print $1 }' "$perf")
	sys=$(awk '/seconds sys/ { print $1 }' "$perf")
	[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || { echo "$name: no requests"; cat "$out"; return 0; }
	awk -v n="$name" -v r="$reqs" -v s="$secs" -v sc="$sc" -v u="$usr" \
		-v y="$sys" -v p50="$(to_us "$p50")" -v p99="$(to_us "${p99:-0}")" \
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
	awk '
	function med(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ k = $1; n[k]++; order[k] = order[k] ? order[k] : ++no; names[no] = k
	  for (f = 2; f <= 10; f++) v[k, f, n[k]] = $f }
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
			printf "| %-42s | %6.0f | %11.2f | %10.2f | %10.2f | %12.3f | %7.0f | %7.0f | %15s | %12s |\n",
				k, m[2], m[3], m[4], tot, m[5], m[6], m[7], own, owc
			gsub(" ", "_", k)
			printf "%s %f %f %f %f\n", k, tot, m[5], m[6], m[7] >> medians
		}
	}' medians="$dir/medians" "$dir/results"
	rm -f "$dir/results"
}
