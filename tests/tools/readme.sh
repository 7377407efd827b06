#!/bin/sh
# tests/tools/readme.sh SOURCE_DIR BUILD_DIR CC COIL_SERVE [FLAGS] - the
# README's C programs as a reader would use them: every block the README
# marks "tests/tools/readme.sh compiles and runs this block: NAME" is cut
# out to NAME, compiled with `cc NAME $(pkg-config --cflags --libs coil)`
# against `cmake --install` output in a temporary prefix, and run:
#   fetch.c  against coil-serve's /bytes/100: "200, 100 bytes", and it
#            returns well before the client's 30 s idle timeout;
#   recv.c   "recv: hello".
# A marked block this script does not know fails the test, as does a
# README without the marked blocks. FLAGS: the build's sanitizer flags.
set -eu
src=$1
build=$2
cc=$3
serve=$4
flags=${5:-}
command -v pkg-config >/dev/null 2>&1 || { echo "skip: no pkg-config"; exit 77; }
tmp=$(mktemp -d /tmp/coil-readme-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

# cut the marked blocks out
awk -v dir="$tmp" '
	/<!-- tests\/tools\/readme.sh compiles and runs this block: / {
		name = $0
		sub(/.*this block: /, "", name); sub(/ -->.*/, "", name)
		want = 1; next
	}
	want && /^```c$/ { out = dir "/" name; inblock = 1; want = 0; next }
	inblock && /^```$/ { inblock = 0; close(out); print name; next }
	inblock { print > out }
' "$src/README.md" >"$tmp/names"
[ "$(wc -l <"$tmp/names")" -ge 2 ] || fail "README.md has no marked C blocks"

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }
export PKG_CONFIG_PATH="$(dirname "$(find "$tmp/prefix" -name coil.pc | head -1)")"
export LD_LIBRARY_PATH="$(pkg-config --variable=libdir coil)"

mkfifo "$tmp/serve.out"
"$serve" -p 0 -t 1 >"$tmp/serve.out" &
pid=$!
exec 3<"$tmp/serve.out" # its first line says where it listens
read -r line <&3 || fail "coil-serve did not start"
port=$(echo "$line" | sed -n 's/^listening http:\/\/127.0.0.1:\([0-9]*\) .*/\1/p')
[ -n "$port" ] || fail "coil-serve said '$line'"

while read -r name; do
	# shellcheck disable=SC2046,SC2086
	"$cc" -Wall -Werror $flags "$tmp/$name" -o "$tmp/${name%.c}" \
		$(pkg-config --cflags --libs coil) ||
		fail "README's $name does not compile"
	case $name in
	fetch.c)
		t0=$(date +%s)
		out=$("$tmp/fetch" "http://127.0.0.1:$port/bytes/100") ||
			fail "fetch.c exited $?: $out"
		t1=$(date +%s)
		[ "$out" = "200, 100 bytes" ] || fail "fetch.c said '$out'"
		[ $((t1 - t0)) -lt 15 ] ||
			fail "fetch.c took $((t1 - t0)) s: the idle connection held the loop"
		"$tmp/fetch" "127.0.0.1:$port/" 2>/dev/null &&
			fail "fetch.c took a URL without a scheme"
		;;
	recv.c)
		out=$("$tmp/recv") || fail "recv.c exited $?: $out"
		[ "$out" = "recv: hello" ] || fail "recv.c said '$out'"
		;;
	*) fail "README block $name: this script does not know how to run it" ;;
	esac
	echo "$name: $out"
done <"$tmp/names"
echo "readme: ok"
