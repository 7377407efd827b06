#!/bin/sh
# bench/tls/run.sh [TLS_BENCH [SECS]]
# The tls benchmark in one command (docs/BENCHMARKS.md, section tls):
#  1. the ciphers alone: openssl speed (AES-128-GCM, ChaCha20-Poly1305)
#  2. coil client -> coil server in one process: handshakes/s full and
#     resumed, 1 and 8 at a time, CPU per handshake on each side; bulk
#     MB/s through one TLS connection beside plain TCP
#  3. against openssl s_server (TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256,
#     RSA-2048): openssl s_time (-new, -reuse), then coil's client
#  4. coil's server under openssl s_time (-new, -reuse)
#  5. what full handshakes cost the other connections of their loop: echo
#     round trips during s_time -new, handshakes inline, then on the pool
# Certificates are made in a temp dir with tests/tls/mkcerts.sh; every
# server started here is stopped at the end.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/bench/tls/tls_bench}
secs=${2:-3}
. "$here/../common/bench.sh"
bench_tmpdir tls
sh "$here/../../tests/tls/mkcerts.sh" "$dir"
suite=ECDHE-RSA-AES128-GCM-SHA256

bench_header
echo "openssl: $(openssl version)"

echo
echo "== 1. ciphers alone, 16 KiB blocks (openssl speed, one thread)"
openssl speed -seconds "$secs" -bytes 16384 -evp aes-128-gcm 2>/dev/null |
	tail -1
openssl speed -seconds "$secs" -bytes 16384 -evp chacha20-poly1305 \
	2>/dev/null | tail -1

echo
echo "== 2. coil client -> coil server (tls_bench self)"
"$bin" self --certs "$dir" --secs "$secs" --conc 8 --mib 256

echo
echo "== 3. openssl s_server -tls1_2 -cipher $suite"
ssout="$dir/ss.out"
openssl s_server -accept 127.0.0.1:0 -cert "$dir/server.crt" \
	-key "$dir/server.key" -tls1_2 -cipher "$suite" -www \
	>"$ssout" 2>&1 </dev/null &
sspid=$!
bench_pids="$bench_pids $sspid"
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$ssout")
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "s_server did not start"; cat "$ssout"; exit 1; }
for mode in new reuse; do
	echo "s_time -> s_server -$mode:"
	openssl s_time -connect "127.0.0.1:$port" -"$mode" -tls1_2 \
		-cipher "$suite" -time "$secs" 2>&1 |
		grep 'connections' | sed 's/^/    /' || echo "failed"
done
"$bin" client --certs "$dir" --port "$port" --secs "$secs" --conc 1
kill "$sspid"

echo
echo "== 4. coil server under openssl s_time"
for mode in new reuse; do
	out="$dir/serve.out"
	rm -f "$dir/serve.in"
	mkfifo "$dir/serve.in"
	"$bin" serve --certs "$dir" <"$dir/serve.in" >"$out" 2>&1 &
	srvpid=$!
	bench_pids="$bench_pids $srvpid"
	exec 3>"$dir/serve.in"
	port=""
	for _ in $(seq 100); do
		port=$(sed -n 's/^READY //p' "$out")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { echo "tls_bench serve did not start"; cat "$out"; exit 1; }
	echo "s_time -> coil -$mode:"
	openssl s_time -connect "127.0.0.1:$port" -"$mode" -tls1_2 \
		-cipher "$suite" -time "$secs" 2>&1 |
		grep 'connections' | sed 's/^/    /' || echo "failed"
	exec 3>&-
	wait "$srvpid" || true
	grep -v READY "$out" | sed 's/^/    /'
done

echo
echo "== 5. echo round trips on a loop that makes full handshakes"
"$bin" stall --certs "$dir" --secs "$secs"
"$bin" stall --certs "$dir" --secs "$secs" --pool 1
