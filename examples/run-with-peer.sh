#!/bin/sh
# examples/run-with-peer.sh PEER EXAMPLE [ARGS...]
# Run an example against a real peer started here on a free port of
# 127.0.0.1 and stopped afterwards: PEER is nginx (a small site: /ok,
# /slow (rate-limited body), /busy (503 with Retry-After: 1), /json),
# redis (redis-server, no persistence) or none. The example gets the
# peer's address as its first argument (host:port). Exit 77 (skip) when
# the peer is not installed.
set -eu
peer=$1 ex=$2
shift 2
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
dir=$(mktemp -d)
chmod 755 "$dir" # (nginx's workers run as nobody)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
wait_port() { # wait for a TCP listener, bounded (5 s)
	i=0
	until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "peer did not start" >&2; exit 1; }
		sleep 0.05
	done
}
case $peer in
nginx)
	bin=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$bin" ] || { echo "skip: nginx not installed"; exit 77; }
	port=$(free_port)
	head -c 65536 /dev/zero > "$dir/slow"
	chmod 644 "$dir/slow"
	mkdir -p "$dir/logs"
	cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $dir/error.log;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	server {
		listen 127.0.0.1:$port;
		location = /ok { return 200 "ok\n"; }
		location = /json { default_type application/json; return 200 '{"ok":true}'; }
		location = /busy { add_header Retry-After 1 always; return 503 "busy\n"; }
		location = /slow { root $dir; limit_rate 8k; }
	}
}
CONF
	"$bin" -p "$dir" -c "$dir/nginx.conf" &
	pid=$!
	wait_port "$port"
	;;
redis)
	command -v redis-server >/dev/null || { echo "skip: redis-server not installed"; exit 77; }
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$dir" --loglevel warning >/dev/null 2>&1 &
	pid=$!
	wait_port "$port"
	;;
none)
	port=0
	;;
*)
	echo "unknown peer $peer" >&2; exit 2 ;;
esac
"$ex" "127.0.0.1:$port" "$@"
