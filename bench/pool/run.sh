#!/bin/sh
# bench/pool/run.sh [POOL_BENCH_BINARY [ARGS...]]
# The pool benchmark in one command: the machine, then alternating
# MSG_RING / eventfd rounds with medians (ARGS go to pool_bench).
# See docs/BENCHMARKS.md, section "pool".
set -eu
bin=${1:-build/bench/pool/pool_bench}
[ $# -gt 0 ] && shift
. "$(dirname "$0")/../common/bench.sh"
bench_header
echo "command: $bin $*"
exec "$bin" "$@"
