#!/bin/sh
# bench/engine-file/run.sh [ENGINE_FILE_BINARY [ARGS...]]
# The engine-file benchmark in one command: the machine, then alternating
# coil / fio / fio-b / pread rounds with medians (ARGS go to engine_file,
# e.g. --size-mb 256). Needs fio (and perf for fio's system call count).
# See docs/BENCHMARKS.md.
set -eu
bin=${1:-build/bench/engine-file/engine_file}
[ $# -gt 0 ] && shift
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')," \
	"$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
echo "fio: $(fio --version 2>/dev/null || echo 'not installed')"
echo "load: $(cat /proc/loadavg)"
echo "command: $bin $*"
if ! command -v fio >/dev/null 2>&1; then
	exec "$bin" --no-fio "$@"
fi
exec "$bin" "$@"
