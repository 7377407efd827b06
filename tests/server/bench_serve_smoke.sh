#!/bin/sh
# tests/server/bench_serve_smoke.sh COIL_SERVE BENCH_DIR - bench/serve/run.sh
# for one short round of two cases, so the benchmark keeps working: every
# case prints its result lines and ratio, with no wrk errors. Exits 77
# when a peer (wrk, nginx) is missing, as run.sh does.
serve=$1
out=$("$2/serve/run.sh" "$serve" 1 1 "hello lone" 2>&1)
rc=$?
[ $rc = 77 ] && exit 77
printf '%s\n' "$out"
if [ $rc != 0 ]; then
	echo "FAIL: run.sh exited $rc"
	exit 1
fi
if printf '%s\n' "$out" | grep -q ERRORS; then
	echo "FAIL: wrk reported errors"
	exit 1
fi
for c in hello lone; do
	for n in coil-serve nginx; do
		# a medians line with a rate above zero and a p99 figure
		if ! printf '%s\n' "$out" | awk -v c=$c -v n=$n '
			$1 == c && $2 == n && $3 > 0 && $17 == "p99" { ok = 1 }
			END { exit !ok }'; then
			echo "FAIL: no $c result for $n"
			exit 1
		fi
	done
	if ! printf '%s\n' "$out" | grep -q "^$c  *coil-serve / nginx"; then
		echo "FAIL: no ratio for $c"
		exit 1
	fi
done
