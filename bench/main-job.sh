#!/bin/sh
# bench/main-job.sh [BUILD_DIR [DURATION]] - the README's main job:
# coil-serve on a free port of 127.0.0.1 (one loop), coil-bench against it
# (1 thread, 50 connections, a few seconds), the report, then a graceful
# stop of the server. Server and generator are pinned to different CPUs
# when there are two.
set -eu
build=${1:-build}
dur=${2:-3s}
serve=$build/tools/coil-serve/coil-serve
bench=$build/tools/coil-bench/coil-bench
pin0="" pin1=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	pin0="taskset -c 0" pin1="taskset -c 1"
fi
out=$(mktemp)
trap 'kill "$spid" 2>/dev/null || true; rm -f "$out"' EXIT
$pin0 "$serve" -p 0 -b 127.0.0.1 -t 1 >"$out" &
spid=$!
# "listening http://ADDR:PORT threads N pid P"
i=0
until url=$(sed -n 's/^listening \(http:[^ ]*\) .*/\1/p' "$out") && [ -n "$url" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$spid" 2>/dev/null; then
		echo "main-job: coil-serve did not start" >&2
		exit 1
	fi
	sleep 0.05
done
echo "coil-serve: $(cat "$out")"
$pin1 "$bench" -t1 -c50 -d"$dur" -L "$url/"
kill -TERM "$spid"
wait "$spid"
