# bench/common/serve.sh - what the server benchmarks share (bench/serve,
# bench/serve-h2): coil-serve beside nginx on CPU 0 under a load on CPU 1,
# CPU and system calls taken of the server process only. POSIX sh; source
# it after bench/common/bench.sh (to_us) and bench_tmpdir ($dir):
#   . "$(dirname "$0")/../common/serve.sh"
# It defines:
#   serve_perf_probe          have_perf: 1 when perf stat can count
#                             raw_syscalls:sys_enter here, else 0 (says so)
#   serve_start OUT BIN ARG...  BIN (a coil-serve) on CPU 0 on port 0 of
#                             127.0.0.1, one thread, --root $dir/root,
#                             $COIL_SERVE_ARGS then the ARGs, its output
#                             into OUT; returns once it prints its
#                             "listening URL" line, with last_pid and
#                             serve_url (http[s]://127.0.0.1:PORT) set and
#                             the PID added to $bench_pids (stopped on
#                             exit); returns 1 with start_err (its stderr)
#                             if it exits first or 5 s pass
#   serve_measure_start PID   a measurement of PID begins: perf stat counts
#                             its system calls (with perf), and its user
#                             and system CPU ticks are read
#   serve_measure_stop PID    it ends: du, ds (user and system ticks since
#                             serve_measure_start), sc (system calls; 0
#                             without perf)
#   serve_result CASE NAME REQUESTS RPS LATENCY [ERRORS]
#                             one result line from du, ds and sc: requests
#                             per second, user and system us per request,
#                             requests per CPU-second, system calls per
#                             request, then LATENCY as given ("LABEL N
#                             [LABEL N] us ...": the medians take each
#                             LABEL N pair) and "ERRORS: ..." if any;
#                             appended to $dir/results and printed
#   serve_medians CASES       per case and server, the medians of the
#                             result lines (and of each LATENCY pair), then
#                             each coil-serve's requests per CPU-second over
#                             nginx's

serve_perf_probe() {
	have_perf=0
	if command -v perf >/dev/null 2>&1 &&
		perf stat -e raw_syscalls:sys_enter -x, -o /dev/null -- true 2>/dev/null; then
		have_perf=1
	fi
	[ $have_perf = 1 ] || echo "perf not usable: system calls not counted"
}

serve_start() {
	local out=$1 bin=$2 i=0
	shift 2
	# a listening line left by an earlier process in OUT must not pass
	# for this one's (the shell truncates OUT only once it forks)
	rm -f "$out"
	# shellcheck disable=SC2086
	taskset -c 0 "$bin" -p 0 -b 127.0.0.1 -t 1 --root "$dir/root" \
		${COIL_SERVE_ARGS:-} "$@" >"$out" 2>"$out.err" &
	last_pid=$!
	bench_pids="$bench_pids $last_pid"
	until grep -q '^listening ' "$out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $last_pid 2>/dev/null; then
			start_err=$(cat "$out.err")
			return 1
		fi
		sleep 0.05
	done
	serve_url=$(sed -n 's/^listening \([^ ]*\) .*/\1/p' "$out")
}

# PID's resident set in KB (proc(5), VmRSS) and its open descriptors
serve_rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
serve_nfds() { ls "/proc/$1/fd" | wc -l; }

# serve_wait_fds PID N: wait (up to 5 s) until PID holds N descriptors
# (a load's connections opened: on a loaded host wrk's connects take
# seconds), then 1 s into the load on all of them
serve_wait_fds() {
	local i=0
	while [ "$(serve_nfds "$1")" -lt "$2" ] && [ $i -lt 50 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	sleep 1
}

# utime and stime of PID in clock ticks (proc(5), fields 14 and 15)
serve_ticks() {
	cut -d' ' -f14,15 "/proc/$1/stat"
}

serve_measure_start() {
	if [ $have_perf = 1 ]; then
		perf stat -x, -e raw_syscalls:sys_enter -p "$1" \
			-o "$dir/perf.out" &
		perf_pid=$!
		sleep 0.3 # perf attached
	fi
	ticks0=$(serve_ticks "$1")
}

serve_measure_stop() {
	local t1
	t1=$(serve_ticks "$1")
	du=$((${t1% *} - ${ticks0% *}))
	ds=$((${t1#* } - ${ticks0#* }))
	sc=0
	if [ $have_perf = 1 ]; then
		kill -INT $perf_pid 2>/dev/null || true
		wait $perf_pid || true
		sc=$(grep raw_syscalls "$dir/perf.out" | cut -d, -f1)
	fi
}

serve_result() {
	awk -v c="$1" -v n="$2" -v r="${3:-0}" -v rps="${4:-0}" -v lat="$5" \
		-v e="${6:-}" -v u="$du" -v s="$ds" -v hz="$(getconf CLK_TCK)" \
		-v sc="$sc" -v perf="$have_perf" 'BEGIN {
		cpu = (u + s) / hz
		if (r == 0) r = 1
		printf "%-6s %-11s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  %s%s\n",
			c, n, rps, u * 1e6 / hz / r, s * 1e6 / hz / r,
			(cpu > 0 ? r / cpu : 0),
			(perf ? sprintf("%.3f", sc / r) : "-"), lat,
			(e != "" ? "  ERRORS: " e : "")
	}' | tee -a "$dir/results"
}

# medians: field 3 is req/s, 6 user, 9 sys, 11 req/cpu-s, 13 syscalls,
# then LATENCY's "LABEL N" pairs from field 15 on
serve_medians() {
	local c
	echo
	echo "medians of $rounds runs (server process only):"
	for c in $1; do
		grep -qs "^$c " "$dir/results" || continue
		awk -v c="$c" "$bench_awk_med"'
		function col(n, f,   i, a) {
			for (i = 1; i <= k[n]; i++) a[i] = v[n, i, f]
			return med(a, k[n])
		}
		$1 == c {
			n = $2
			if (!(n in k)) names[++nn] = n
			i = ++k[n]
			for (f = 3; f <= NF; f++) v[n, i, f] = $f
			nf[n] = 13
			for (f = 15; f < NF && $(f + 1) ~ /^-?[0-9.]+$/; f += 2) {
				label[n, f] = $f
				nf[n] = f + 1
			}
		}
		END {
			for (j = 1; j <= nn; j++) {
				n = names[j]
				lat = ""
				for (f = 15; f < nf[n]; f += 2)
					lat = lat sprintf("%s %7.0f ", label[n, f], col(n, f + 1))
				printf "%-6s %-11s %9.0f req/s  user %6.2f us/req  sys %6.2f us/req  %8.0f req/cpu-s  %s syscalls/req  %sus\n",
					c, n, col(n, 3), col(n, 6), col(n, 9), col(n, 11),
					(v[n, 1, 13] == "-" ? "-" : sprintf("%.3f", col(n, 13))), lat
			}
		}' "$dir/results" | tee -a "$dir/medians"
		awk -v c="$c" '$1 == c && $2 == "nginx" { b = $11 }
			$1 == c && $2 != "nginx" { a[$2] = $11; o[++no] = $2 }
			END { for (i = 1; i <= no; i++) if (b > 0)
				printf "%-6s %s / nginx, requests per CPU-second: %.2fx\n", c, o[i], a[o[i]] / b }' "$dir/medians"
	done
}
