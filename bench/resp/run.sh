#!/bin/sh
# bench/resp/run.sh [RESP_BENCH_BINARY [ARGS...]]
# redis-server on a free port pinned to CPU 0, then resp_bench (coil and
# redis-benchmark alternating) pinned to CPU 1, with pipelining 1 and 16,
# 50 connections. See docs/BENCHMARKS.md, section "resp".
set -eu
bin=${1:-build/bench/resp/resp_bench}
[ $# -gt 0 ] && shift
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pin0="" pin1=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	pin0="taskset -c 0" pin1="taskset -c 1"
fi
dir=$(mktemp -d)
$pin0 redis-server --port "$port" --bind 127.0.0.1 --save '' \
	--appendonly no --dir "$dir" --loglevel warning >/dev/null 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$dir"' EXIT
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 200 ] && { echo "redis-server did not start"; exit 1; }
	sleep 0.05
done
echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r)," \
	"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "redis: $(redis-server --version | cut -d' ' -f3)"
for p in 1 16; do
	echo "load: $(cat /proc/loadavg)"
	echo "command: $pin1 $bin -p $port -c 50 -P $p $*"
	$pin1 "$bin" -p "$port" -c 50 -P "$p" "$@"
done
