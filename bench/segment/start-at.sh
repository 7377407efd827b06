#!/bin/bash
# bench/segment/start-at.sh [COIL_BENCH [ROUNDS]]
#
# How late coil-bench --start-at starts (docs/BENCHMARKS.md, "--start-at"):
# ROUNDS (default 20) runs of
#   coil-bench -t1 -c1 -n5 --start-at NOW+0.5s --json URL
# against a one-connection HTTP/1.1 server of this script's (python3) that
# takes the kernel's receive timestamp of the first request's bytes
# (SO_TIMESTAMPING, CLOCK_REALTIME: no thread of the server's needs to be
# on time). Per round: the first request's arrival after the moment, and
# coil-bench's own start.late_ns (when its wait ended); their medians and
# maxima over the rounds, with `uptime`'s load. The server on CPU 0, the
# generator on CPU 1, as the other benchmarks pin them. On a quiet host
# both stay within 10 ms (the bound tests/bench/test_segment_serve.c held
# before it took only the order of the moments: no sooner than the moment,
# nor than coil-bench says it woke).
set -eu
bin=$(readlink -f "${1:-build/tools/coil-bench/coil-bench}")
rounds=${2:-20}
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 0; }
pin() { if command -v taskset >/dev/null; then taskset -c "$@"; else shift; "$@"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/server.py" <<'PY'
import socket, struct, sys
SO_TIMESTAMPING = 37
FLAGS = (1 << 3) | (1 << 4)  # RX_SOFTWARE | SOFTWARE
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, FLAGS)
ls.bind(("127.0.0.1", 0))
ls.listen(8)
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
c.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, FLAGS)
first, buf = 0, b""
while True:
    data, anc, _, _ = c.recvmsg(8192, 256)
    if not data:
        break
    for lvl, typ, d in anc:
        if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPING and not first:
            s, ns = struct.unpack("qq", d[:16])
            first = s * 1000000000 + ns
    buf += data
    while b"\r\n\r\n" in buf:
        buf = buf.split(b"\r\n\r\n", 1)[1]
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
print(first, flush=True)
PY

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs; load:$(uptime | sed 's/.*load average://')"
echo "# round  arrival_ms  coil_bench_late_ms"
for r in $(seq "$rounds"); do
	coproc SRV { pin 0 python3 "$tmp/server.py"; }
	read -r port <&"${SRV[0]}"
	at=$(python3 -c 'import time; print("%.9f" % (time.time() + 0.5))')
	pin 1 "$bin" -t1 -c1 -n5 --start-at "$at" --json \
		"http://127.0.0.1:$port/" >"$tmp/out.json"
	read -r first <&"${SRV[0]}"
	wait "$SRV_PID" 2>/dev/null || true
	python3 - "$at" "$first" "$tmp/out.json" "$r" <<'PY'
import json, sys
at = round(float(sys.argv[1]) * 1e9)
first = int(sys.argv[2])
late = json.load(open(sys.argv[3]))["start"]["late_ns"]
print("%7s %11.3f %19.3f" % (sys.argv[4], (first - at) / 1e6, late / 1e6))
PY
done | tee "$tmp/rounds"
python3 - "$tmp/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if not l.startswith("#")]
a = [float(r[1]) for r in rows]
b = [float(r[2]) for r in rows]
print("median arrival %.3f ms (max %.3f), coil-bench late %.3f ms (max %.3f)"
      % (statistics.median(a), max(a), statistics.median(b), max(b)))
PY
echo "# load after:$(uptime | sed 's/.*load average://')"
