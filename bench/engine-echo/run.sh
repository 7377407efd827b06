#!/bin/sh
# bench/engine-echo/run.sh [ENGINE_ECHO_BINARY [ARGS...]]
# The engine-echo benchmark in one command: the machine, the alternating
# coil/epoll rounds with medians (ARGS go to engine_echo), then an external
# cross-check of coil's system call count with perf stat over a short
# coil-only run. See docs/BENCHMARKS.md.
set -eu
bin=${1:-build/bench/engine-echo/engine_echo}
[ $# -gt 0 ] && shift
. "$(dirname "$0")/../common/bench.sh"
bench_header
echo "command: $bin $*"
"$bin" "$@"

if ! command -v perf >/dev/null 2>&1; then
	echo "perf not installed: external cross-check skipped"
	exit 0
fi
echo
echo "== external cross-check: perf stat -e raw_syscalls:sys_enter over" \
	"'$bin --only coil --secs 2 --rounds 1 --no-counted'"
out=$(mktemp)
trap 'rm -f "$out" "$out.perf"' EXIT
if ! perf stat -x, -e raw_syscalls:sys_enter -o "$out.perf" -- \
	"$bin" --only coil --secs 2 --rounds 1 --no-counted >"$out" 2>&1; then
	cat "$out" "$out.perf"
	echo "perf stat failed: cross-check skipped"
	exit 0
fi
grep '^round' "$out"
ext=$(grep 'raw_syscalls:sys_enter' "$out.perf" | cut -d, -f1)
self=$(sed -n 's/.*(srv \([0-9]*\) cli \([0-9]*\)).*/\1 \2/p' "$out" |
	awk '{ print $1 + $2 }')
rts=$(sed -n 's/.*\[\([0-9]*\) rt\].*/\1/p' "$out")
echo "kernel count, whole process (set-up, threads, sockets included): $ext"
echo "coil loops' own enters, server + client windows:                 $self"
echo "difference (everything outside the loops' windows):             $((ext - self))"
awk -v e="$ext" -v r="$rts" 'BEGIN { printf "whole-process syscalls per round trip: %.4f (%d round trips)\n", e / r, r }'
