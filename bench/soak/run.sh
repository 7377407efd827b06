#!/bin/bash
# bench/soak/run.sh [COIL_BENCH [COIL_SERVE [SECS [CONNS [RATE]]]]]
#
# A soak: coil-bench holds CONNS (default 5000) keep-alive connections for
# SECS (default 60) seconds at RATE requests/s (default 10000, open model)
# against coil-serve and then against nginx (1 worker, access log on), each
# server pinned to CPU 0, coil-bench to CPU 1. For every process (the
# server's, nginx's master and worker, coil-bench) its RSS and open file
# descriptors at the start (connections up), at the end of the load, and
# for the servers once the connections are closed; coil-bench's errors;
# its request count (in the window and before it: one per connection
# confirms it was accepted) against the lines of the server's access log.
# Needs
# nginx, taskset; raises the open-file limit to what 2 x CONNS needs.
set -euo pipefail
cb=${1:-build/tools/coil-bench/coil-bench}
serve=${2:-build/tools/coil-serve/coil-serve}
secs=${3:-60}
conns=${4:-5000}
rate=${5:-10000}

for t in nginx taskset python3; do
	command -v $t >/dev/null || { echo "soak: $t not installed: skipped"; exit 0; }
done
for b in "$cb" "$serve"; do
	[ -x "$b" ] || { echo "soak: $b not found (build it first)"; exit 1; }
done
cb=$(readlink -f "$cb")
serve=$(readlink -f "$serve")
ulimit -n $((2 * conns + 2048)) 2>/dev/null || {
	echo "soak: cannot raise the open-file limit to $((2 * conns + 2048))"; exit 1; }

dir=$(mktemp -d /tmp/coil-soak-XXXXXX)
chmod 755 "$dir"
spid=""
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || true
	[ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$dir"
}
trap cleanup EXIT
# ready PORT: wait (up to 5 s) until something accepts on it (a bare
# connect: no request, so nothing in the access log)
ready() {
	python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(50):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        break
    except OSError:
        time.sleep(0.1)
PY
}
. "$(dirname "$0")/../common/bench.sh" # free_port

# mem PID: "RSS_KB FDS" of a process
mem() {
	local rss fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
	fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
	echo "${rss:-0} $fds"
}
# show WHEN NAME PID
show() {
	local m
	m=$(mem "$3")
	printf '  %-22s %-16s RSS %8s KB  fds %6s\n' "$1" "$2" "${m% *}" "${m#* }"
}

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r); load: $(cat /proc/loadavg)"
echo "coil-bench -t1 -c$conns -d${secs}s -R$rate on CPU 1; servers on CPU 0, 1 thread/worker"

# soak NAME LOG PIDS...: the load against the server at $url
soak() {
	local name=$1 log=$2
	shift 2
	local pids=("$@") out="$dir/cb.json" cbpid p lines
	echo
	echo "== $name ($url)"
	for p in "${pids[@]}"; do show "before" "$name:$p" "$p"; done
	taskset -c 1 "$cb" -t1 -c"$conns" -d"${secs}s" -R"$rate" --timeout 5s \
		--json "$url" >"$out" 2>"$dir/cb.err" &
	cbpid=$!
	# connections up: the server holds them all (or 30 s passed)
	for i in $(seq 300); do
		[ "$(ls /proc/${pids[-1]}/fd 2>/dev/null | wc -l)" -ge "$conns" ] && break
		sleep 0.1
	done
	sleep 1
	show "start (connected)" "coil-bench" "$cbpid"
	for p in "${pids[@]}"; do show "start (connected)" "$name:$p" "$p"; done
	sleep $((secs - 3))
	show "end of load" "coil-bench" "$cbpid"
	for p in "${pids[@]}"; do show "end of load" "$name:$p" "$p"; done
	wait "$cbpid" || true
	sleep 1
	for p in "${pids[@]}"; do show "closed" "$name:$p" "$p"; done
	sleep 1
	lines=$(wc -l <"$log")
	python3 - "$out" "$lines" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
lines = int(sys.argv[2])
e = d["socket_errors"]
print("  coil-bench: %d requests in %.1f s (%.0f/s), connect %.0f ms, drain %.0f ms;"
      " errors connect %d read %d write %d timeout %d; unsent %d, late %d"
      % (d["requests"], d["runtime_ns"] / 1e9, d["requests_per_sec"],
         d["connect_ns"] / 1e6, d["drain_ns"] / 1e6, e["connect"], e["read"],
         e["write"], e["timeout"], d["open_model"]["unsent"],
         d["open_model"]["late"]))
# the log also has the one request per connection that confirmed it
# before the window (coil-bench's connect_requests)
n = d["requests"] + d.get("connect_requests", 0)
print("  access log: %d lines; coil-bench counted %d (%d in the window, %d"
      " confirming connections): %s"
      % (lines, n, d["requests"], d.get("connect_requests", 0),
         "equal" if lines == n else "DIFFERENT by %d" % (lines - n)))
PY
	[ -s "$dir/cb.err" ] && sed 's/^/  stderr: /' "$dir/cb.err" | head -5 || true
}

# coil-serve
port=$(free_port)
url="http://127.0.0.1:$port/"
taskset -c 0 "$serve" -p "$port" -t 1 --access-log "$dir/serve.log" \
	>"$dir/serve.out" 2>&1 &
spid=$!
ready "$port"
soak coil-serve "$dir/serve.log" "$spid"
kill "$spid"
wait "$spid" 2>/dev/null || true
spid=""

# nginx
port=$(free_port)
url="http://127.0.0.1:$port/"
printf 'Hello, World!' >"$dir/index.html"
chmod 644 "$dir/index.html"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $((2 * conns + 1024));
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections $((conns + 1024)); }
http {
  access_log $dir/access.log;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  server { listen 127.0.0.1:$port; root $dir; }
}
CONF
taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf"
ready "$port"
master=$(cat "$dir/nginx.pid")
worker=$(pgrep -P "$master" | head -1)
soak nginx "$dir/access.log" "$master" "$worker"
