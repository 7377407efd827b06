# bench/common/bench.sh - what the benchmark scripts share: nginx as the
# server (bench/vs-wrk, bench/vs-wrk2, bench/vs-h2load) or as the peer of
# coil-serve (bench/serve, bench/serve-h2, with bench/common/serve.sh),
# the machine's header, perf's figures. POSIX sh; source it after
# `set -eu`:
#   . "$(dirname "$0")/../common/bench.sh"
# It defines:
#   bench_need NAME TOOL...   unless every TOOL is on PATH, exit with
#                             "NAME: TOOL not installed: skipped" and
#                             status $bench_skip (default 0; the scripts a
#                             test runs set 77, ctest's skip)
#   bench_tmpdir NAME         $dir: a fresh folder nginx can read; on exit
#                             nginx and the processes listed in $bench_pids
#                             are stopped and $dir removed
#   bench_cb NAME PATH        PATH made absolute, once it is an
#                             executable (a coil-bench); else exit 1
#                             saying to build it first
#   bench_page                $dir/index.html: the small static page the
#                             generator scripts ask nginx for
#   free_port                 a TCP port free on 127.0.0.1 now
#   bench_cert                $dir/cert.pem and $dir/key.pem: a throwaway
#                             self-signed P-256 certificate for localhost;
#                             returns 1 without openssl or when it fails
#   bench_nginx PORT LINES [CURL-OPTION...]
#                             nginx from $dir on CPU 0: one worker, access
#                             log off, keep-alive unlimited, the http{}
#                             lines LINES (server blocks, settings);
#                             $nginx_nofile, if set, raises its open-file
#                             and connection limits (default 4096
#                             connections). Returns once
#                             http://127.0.0.1:PORT/ answers curl with the
#                             CURL-OPTIONs, with $nginx_w the worker's PID;
#                             exits 1 with nginx's errors after 5 s
#   bench_header              the date, machine and load lines
#   $bench_awk_med            an awk function for the scripts' programs
#                             (awk "$bench_awk_med"'...'): med(a, n), the
#                             median of a[1..n] (it sorts a)
#   to_us VALUE [DECIMALS]    "1.23ms" -> microseconds (default 0 decimals)
#   perf_read FILE            sc, usr, sys from perf stat's output (system
#                             calls, user and system seconds)
#   bench_perf OUT PERF CMD...  CMD on CPU 1 under perf stat (system calls
#                             counted): its output into OUT, perf's into
#                             PERF; on failure shows OUT and returns 1
# The scripts that only print the machine source it for bench_header.

bench_need() {
	local name=$1 t
	shift
	for t in "$@"; do
		command -v "$t" >/dev/null ||
			{ echo "$name: $t not installed: skipped"; exit "${bench_skip:-0}"; }
	done
}

bench_cleanup() {
	local p
	[ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
	for p in $bench_pids; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $bench_pids; do
		wait "$p" 2>/dev/null || true
	done
	sleep 0.2
	rm -rf "$dir"
}

bench_tmpdir() {
	dir=$(mktemp -d "/tmp/coil-$1-XXXXXX")
	chmod 755 "$dir"
	bench_pids=""
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cb() {
	[ -x "$2" ] || { echo "$1: $2 not found (build coil-bench first)" >&2; exit 1; }
	readlink -f "$2"
}

bench_page() {
	printf 'hello from nginx, a small static page for the load test\n' > "$dir/index.html"
	chmod 644 "$dir/index.html"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_cert() {
	command -v openssl >/dev/null &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 \
			-subj /CN=localhost -addext subjectAltName=DNS:localhost \
			>/dev/null 2>&1
}

bench_nginx() {
	local port=$1 lines=$2 i=0
	shift 2
	cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
${nginx_nofile:+worker_rlimit_nofile $nginx_nofile;}
events { worker_connections ${nginx_nofile:-4096}; }
http {
  access_log off;
  keepalive_requests 1000000000;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  $lines
}
CONF
	taskset -c 0 nginx -p "$dir" -c "$dir/nginx.conf" 2>"$dir/nginx.stderr" || true
	until [ -f "$dir/nginx.pid" ] &&
		nginx_w=$(pgrep -P "$(cat "$dir/nginx.pid")") && [ -n "$nginx_w" ] &&
		curl -s "$@" -o /dev/null "http://127.0.0.1:$port/"; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			echo "nginx did not start: $(cat "$dir/nginx.stderr" "$dir/error.log" 2>/dev/null)" >&2
			exit 1
		fi
		sleep 0.1
	done
}

bench_awk_med='function med(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'

bench_header() {
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine: $(nproc) CPU(s), kernel $(uname -r)," \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "load: $(cat /proc/loadavg)"
}

to_us() {
	awk -v v="$1" -v d="${2:-0}" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") m = 1; else if (u == "ms") m = 1000;
		else if (u == "s") m = 1000000; else if (u == "m") m = 60000000;
		else m = 1
		printf "%." d "f", n * m }'
}

perf_read() {
	sc=$(awk '/raw_syscalls:sys_enter/ { gsub(",", "", $1); print $1 }' "$1")
	usr=$(awk '/seconds user/ { print $1 }' "$1")
	sys=$(awk '/seconds sys/ { print $1 }' "$1")
}

bench_perf() {
	local out=$1 perf=$2
	shift 2
	perf stat -e raw_syscalls:sys_enter -o "$perf" -- \
		taskset -c 1 "$@" >"$out" 2>&1 || { cat "$out"; return 1; }
}
