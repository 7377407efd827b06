#!/bin/bash
# bench/tls/handshakes.sh [TLS_BENCH [TLS_BENCH_228 [COIL_SERVE [SECS]]]]
#
# Full TLS handshakes per CPU-second, the client's and the server's
# separately, coil beside OpenSSL, for TLS 1.2 and 1.3, each server
# certificate kind (ec: ECDSA P-256 leaf and CA; rsa: RSA-2048 leaf, P-256
# CA; rsa-rsa: RSA-2048 leaf and CA) and each mbedTLS coil was built with
# (TLS_BENCH against 3.6, TLS_BENCH_228 against Debian's 2.28: build it
# with -DCOIL_MBEDTLS_PREFIX= into build-228; "-" leaves it out).
#
#   client side: openssl s_time -new (OpenSSL's client) and tls_bench
#     client --full 1 (coil's), each against openssl s_server: the
#     client's CPU over its handshakes
#   server side: openssl s_time -new against openssl s_server and against
#     tls_bench serve (coil's server); then wrk -H 'Connection: close'
#     (a full handshake per request: wrk keeps no sessions) against nginx
#     (OpenSSL) and coil-serve: the server's CPU over the handshakes
#
# Servers on CPU 0, clients on CPU 1 (taskset), one process or worker
# each, SECS (default 3) seconds per run, the two stacks alternating.
# CPU time from /proc/PID/stat (servers) and the shell's `times` (s_time),
# or the thread's own clock (tls_bench). Needs openssl, taskset; wrk and
# nginx for the wrk rows. HS_KINDS and HS_VERSIONS narrow the runs
# (HS_KINDS=ec HS_VERSIONS=1.3). Every server started here is stopped at
# the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tb36=${1:-build/bench/tls/tls_bench}
tb228=${2:--}
serve=${3:-build/tools/coil-serve/coil-serve}
secs=${4:-3}
. "$here/../common/bench.sh"
bench_tmpdir hs
hz=$(getconf CLK_TCK)

sh "$here/../../tests/tls/mkcerts.sh" "$dir"
# the all-RSA chain
(cd "$dir" &&
	openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa-ca.key \
		-out rsa-ca.crt -days 2 -subj "/CN=coil rsa CA" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 &&
	openssl req -new -key server.key -subj /CN=localhost \
		-out rsa.csr >/dev/null 2>&1 &&
	printf '%s\n' "subjectAltName = DNS:localhost, IP:127.0.0.1" \
		"extendedKeyUsage = serverAuth" >rsa-ext.cnf &&
	openssl x509 -req -in rsa.csr -CA rsa-ca.crt -CAkey rsa-ca.key \
		-CAcreateserial -sha256 -days 2 -extfile rsa-ext.cnf \
		-out server-rsa.crt >/dev/null 2>&1)

crt_of() { case $1 in ec) echo server-ec.crt ;; rsa) echo server.crt ;; *) echo server-rsa.crt ;; esac; }
key_of() { case $1 in ec) echo server-ec.key ;; *) echo server.key ;; esac; }
ca_of() { case $1 in rsa-rsa) echo rsa-ca.crt ;; *) echo ca.crt ;; esac; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# handshakes per CPU-second from a count and CPU ticks
rate() { awk -v n="$1" -v t="$2" -v hz="$hz" 'BEGIN { if (t > 0) printf "%.0f", n / (t / hz); else print "-" }'; }

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPU(s), kernel $(uname -r)"
echo "load: $(cat /proc/loadavg)"
echo "openssl: $(openssl version)"
printf '%-8s %-4s %-30s %-9s %8s  %s\n' cert tls "who" side "hs/cpu-s" detail

# openssl s_server on CPU 0; sets ss_pid, ss_port
ss_start() { # kind version
	local out=$dir/ss.out
	rm -f "$out" # no port of the last run read back
	taskset -c 0 openssl s_server -accept 127.0.0.1:0 -cert "$dir/$(crt_of "$1")" \
		-key "$dir/$(key_of "$1")" "-tls${2/./_}" -www \
		>"$out" 2>&1 </dev/null &
	ss_pid=$!
	bench_pids="$bench_pids $ss_pid"
	ss_port=""
	for _ in $(seq 200); do
		ss_port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" 2>/dev/null || true)
		[ -n "$ss_port" ] && return 0
		sleep 0.05
	done
	echo "s_server did not start"; cat "$out"; exit 1
}

# s_time -new on CPU 1 against PORT: prints "handshakes client_ticks"
s_time_new() { # port version
	local out=$dir/st.out
	taskset -c 1 sh -c "openssl s_time -connect 127.0.0.1:$1 -new \
		-tls${2/./_} -time $secs >'$out' 2>&1; times" >"$dir/times" 2>&1
	local n
	n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]*s;.*/\1/p' "$out" | head -n1)
	# times: line 2 is the children's user and system time
	local t
	t=$(sed -n 2p "$dir/times" | awk -v hz="$hz" '{
		split($1, u, "m"); split($2, s, "m");
		printf "%.0f", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz }')
	echo "${n:-0} ${t:-0}"
}

run_kind() { # kind version
	local kind=$1 v=$2 t0 t1 r n ct
	# --- OpenSSL client and server: s_time -> s_server
	ss_start "$kind" "$v"
	t0=$(ticks "$ss_pid")
	read -r n ct < <(s_time_new "$ss_port" "$v")
	t1=$(ticks "$ss_pid")
	printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" "openssl s_time" client \
		"$(rate "$n" "$ct")" "$n handshakes"
	printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" "openssl s_server (s_time)" server \
		"$(rate "$n" $((t1 - t0)))" ""
	# --- coil's client -> s_server
	for tb in "$tb36" "$tb228"; do
		[ "$tb" = - ] && continue
		r=$(taskset -c 1 "$tb" client --certs "$dir" --port "$ss_port" \
			--secs "$secs" --tls "$v" --cert "$kind" --full 1 2>&1 |
			grep 'coil->ext full' || true)
		local ms lib
		ms=$(echo "$r" | sed -n 's/.*client cpu *\([0-9.]*\) ms\/hs.*/\1/p')
		[ "$ms" = 0.000 ] && ms=""
		lib=$("$tb" version 2>/dev/null || echo "")
		if [ -z "$ms" ]; then
			printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" \
				"coil client ${lib}" client - "none: ${r:-TLS 1.2 only?}"
			continue
		fi
		printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" \
			"coil client ${lib}" client \
			"$(awk -v m="$ms" 'BEGIN { printf "%.0f", 1000 / m }')" \
			"$ms ms/hs; $(echo "$r" | awk '{print $5, $6}')"
	done
	kill "$ss_pid"
	wait "$ss_pid" 2>/dev/null || true
	# --- s_time -> coil's server
	for tb in "$tb36" "$tb228"; do
		[ "$tb" = - ] && continue
		local out=$dir/serve.out lib
		lib=$("$tb" version 2>/dev/null || echo "")
		rm -f "$dir/serve.in" "$out"
		mkfifo "$dir/serve.in"
		taskset -c 0 "$tb" serve --certs "$dir" --tls "$v" --cert "$kind" \
			<"$dir/serve.in" >"$out" 2>&1 &
		local sp=$!
		bench_pids="$bench_pids $sp"
		exec 3>"$dir/serve.in"
		local port=""
		for _ in $(seq 200); do
			port=$(sed -n 's/^READY //p' "$out" 2>/dev/null || true)
			[ -n "$port" ] && break
			sleep 0.05
		done
		if [ -z "$port" ]; then
			exec 3>&-
			printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" \
				"coil server ${lib}" server - "$(head -c 200 "$out")"
			continue
		fi
		read -r n ct < <(s_time_new "$port" "$v")
		exec 3>&-
		wait "$sp" || true
		# "server: N handshakes (...), X ms/hs in mbedTLS, thread cpu Y ms"
		local hs cpu
		hs=$(sed -n 's/^server: \([0-9]*\) handshakes.*/\1/p' "$out")
		cpu=$(sed -n 's/.*thread cpu \([0-9.]*\) ms.*/\1/p' "$out")
		printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$kind" "$v" \
			"coil server ${lib} (s_time)" server \
			"$(awk -v n="${hs:-0}" -v c="${cpu:-0}" 'BEGIN { if (c > 0) printf "%.0f", n / (c / 1000); else print "-" }')" \
			"${hs:-0} handshakes, $(sed -n 's/.*, \([0-9.]* ms\/hs in mbedTLS\).*/\1/p' "$out")"
	done
}

# wrk -H 'Connection: close' against one server PID on PORT: the server's
# handshakes per CPU-second (one per request) and wrk's
wrk_close() { # pid port label kind version
	local t0 t1 out n w
	t0=$(ticks "$1")
	out=$(taskset -c 1 sh -c "wrk -t1 -c8 -d${secs}s -H 'Connection: close' \
		https://127.0.0.1:$2/ 2>&1; times")
	t1=$(ticks "$1")
	n=$(echo "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
	w=$(echo "$out" | tail -n1 | awk -v hz="$hz" '{
		split($1, u, "m"); split($2, s, "m");
		printf "%.0f", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz }')
	printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$4" "$5" "$3" server \
		"$(rate "${n:-0}" $((t1 - t0)))" "${n:-0} requests"
	printf '%-8s %-4s %-30s %-9s %8s  %s\n' "$4" "$5" "wrk (vs $3)" client \
		"$(rate "${n:-0}" "${w:-0}")" ""
}

run_wrk() { # kind version
	local kind=$1 v=$2
	command -v wrk >/dev/null || return 0
	# nginx, one worker on CPU 0
	if command -v nginx >/dev/null; then
		local port
		port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
			echo $((20000 + RANDOM % 20000)))
		mkdir -p "$dir/ngx/html"
		echo hello >"$dir/ngx/html/index.html"
		chmod -R 755 "$dir/ngx"
		cat >"$dir/ngx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1;
pid $dir/ngx/nginx.pid; error_log $dir/ngx/error.log;
events { worker_connections 1024; }
http { access_log off;
  client_body_temp_path $dir/ngx; proxy_temp_path $dir/ngx;
  fastcgi_temp_path $dir/ngx; uwsgi_temp_path $dir/ngx; scgi_temp_path $dir/ngx;
  server { listen 127.0.0.1:$port ssl; root $dir/ngx/html;
    ssl_protocols TLSv$v; ssl_session_tickets off; ssl_session_cache off;
    ssl_certificate $dir/$(crt_of "$kind"); ssl_certificate_key $dir/$(key_of "$kind"); } }
EOF
		taskset -c 0 nginx -p "$dir/ngx" -c "$dir/ngx/nginx.conf" &
		local np=$!
		bench_pids="$bench_pids $np"
		for _ in $(seq 100); do
			(echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
			sleep 0.05
		done
		wrk_close "$np" "$port" "nginx (OpenSSL)" "$kind" "$v"
		kill "$np"
		wait "$np" 2>/dev/null || true
	fi
	# coil-serve, one thread on CPU 0
	if [ -x "$serve" ]; then
		local so=$dir/cs.out
		rm -f "$so" # no port of the last run read back
		taskset -c 0 "$serve" -p 0 -t 1 --cert "$dir/$(crt_of "$kind")" \
			--key "$dir/$(key_of "$kind")" --tls-version "$v" --tls-no-resume \
			>"$so" 2>&1 &
		local cp=$! cport=""
		bench_pids="$bench_pids $cp"
		for _ in $(seq 100); do
			cport=$(sed -n 's/^listening https:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$so" 2>/dev/null || true)
			[ -n "$cport" ] && break
			sleep 0.05
		done
		if [ -n "$cport" ]; then
			wrk_close "$cp" "$cport" "coil-serve" "$kind" "$v"
		else
			echo "coil-serve did not start: $(head -c 200 "$so")"
		fi
		kill "$cp"
		wait "$cp" 2>/dev/null || true
	fi
}

for kind in ${HS_KINDS:-ec rsa rsa-rsa}; do
	for v in ${HS_VERSIONS:-1.2 1.3}; do
		run_kind "$kind" "$v"
		run_wrk "$kind" "$v"
	done
done
echo "load after: $(cat /proc/loadavg)"
