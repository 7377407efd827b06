#!/bin/sh
# bench/pool/run.sh [POOL_BENCH_BINARY [ARGS...]]
# The pool benchmark in one command: the machine, then alternating
# MSG_RING / eventfd rounds with medians (ARGS go to pool_bench).
# See docs/BENCHMARKS.md, section "pool".
set -eu
bin=${1:-build/bench/pool/pool_bench}
[ $# -gt 0 ] && shift
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(cat /proc/loadavg)"
echo "command: $bin $*"
exec "$bin" "$@"
