#!/bin/sh
# tests/tools/package.sh BUILD_DIR CC [FLAGS] - coil as its users get it:
# `cmake --install` into a temporary prefix, the prefix moved elsewhere
# (both coil.pc and the CMake package must find themselves), then
#  - a tiny CMake project (find_package(coil)) configured, built and run
#    against coil::coil and coil::coil_static;
#  - the same program built with `pkg-config --cflags --libs coil`
#    (PKG_CONFIG_LIBDIR: only the prefix's .pc files, no liburing.pc) and
#    with `--static`, and run;
#  - the programs' man pages installed (help2man).
# FLAGS: extra compiler and linker flags (the sanitizers of the build).
# Exit 0 when all of it worked, 77 without pkg-config, 1 otherwise.
set -eu
build=$1
cc=$2
flags=${3:-}
command -v pkg-config >/dev/null 2>&1 || { echo "skip: no pkg-config"; exit 77; }
tmp=$(mktemp -d /tmp/coil-package-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/first" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "cmake --install"; }
mv "$tmp/first" "$tmp/moved"
prefix=$tmp/moved
grep -rq "$tmp/first" "$prefix/lib"*/ 2>/dev/null &&
	fail "the installed package names the prefix it was installed to"
if grep -rqE '/usr/lib[^ ]*/lib(mbed|uring)' "$prefix"/lib*/cmake/coil/; then
	fail "the CMake package names a library path of this machine"
fi

# man pages: made at build time when help2man is there (.ci/packages)
for p in coil-bench coil-get coil-serve; do
	command -v help2man >/dev/null 2>&1 || { echo "no help2man: no man pages"; break; }
	man=$prefix/share/man/man1/$p.1
	[ -s "$man" ] || fail "no man page $man"
	grep -q '^\.SH NAME' "$man" || fail "$man has no NAME section"
	grep -q 'print the version' "$man" || fail "$man lacks -V"
done

mkdir "$tmp/app"
cat >"$tmp/app/app.c" <<'C'
/* a timer on a coil loop, and the version the headers say */
#include <stdio.h>
#include <string.h>
#include <coil/coil.h>

static int fired;

static void on_timer(struct coil_op *op, int res, unsigned flags)
{
	fired = res == 0;
}

int main(void)
{
	struct coil_loop *loop;
	struct coil_op t;
	int ret = coil_loop_new(&loop, NULL);

	if (ret < 0) {
		printf("no loop: %s\n", coil_loop_strerror(ret));
		return 77;
	}
	coil_op_init(&t, on_timer);
	coil_timeout(loop, &t, 1000000, 0);
	coil_loop_run(loop, COIL_RUN_DEFAULT);
	coil_loop_free(loop);
	printf("coil %s timer %s\n", COIL_VERSION_STRING,
	       fired ? "fired" : "did not fire");
	return fired && strlen(COIL_VERSION_STRING) >= 5 ? 0 : 1;
}
C
cat >"$tmp/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(coil_user C)
find_package(coil REQUIRED)
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE coil::coil)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE coil::coil_static)
CM
# PKG_CONFIG_LIBDIR empty: the package must not need liburing.pc
PKG_CONFIG_LIBDIR=/nonexistent cmake -S "$tmp/app" -B "$tmp/app/build" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
	>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "configure"; }
cmake --build "$tmp/app/build" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log"; fail "build"; }

run() { # name, binary: run it, 77 passes through
	out=$("$2") || { st=$?; [ $st -eq 77 ] && { echo "skip: $out"; exit 77; }
		fail "$1 exited $st: $out"; }
	echo "$1: $out"
	case $out in *"timer fired"*) ;; *) fail "$1 said '$out'" ;; esac
}
run "cmake coil::coil" "$tmp/app/build/app_shared"
run "cmake coil::coil_static" "$tmp/app/build/app_static"
readelf -d "$tmp/app/build/app_static" | grep -q 'NEEDED.*libcoil' &&
	fail "coil::coil_static links libcoil.so"
for lib in uring mbedtls mbedx509 mbedcrypto; do
	if [ -n "$("$cc" -print-file-name="lib$lib.a" | grep /)" ] &&
		[ -e "$("$cc" -print-file-name="lib$lib.a")" ] &&
		readelf -d "$tmp/app/build/app_static" | grep -q "NEEDED.*lib$lib\."; then
		fail "coil::coil_static links lib$lib shared though lib$lib.a exists"
	fi
done

export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig:$(dirname "$(find "$prefix" -name coil.pc | head -1)")"
# shellcheck disable=SC2046
"$cc" $flags "$tmp/app/app.c" -o "$tmp/app/pc_shared" $(pkg-config --cflags --libs coil) ||
	fail "cc with pkg-config --libs coil"
libdir=$(pkg-config --variable=libdir coil)
LD_LIBRARY_PATH=$libdir run "pkg-config" "$tmp/app/pc_shared"
# libcoil.a and what it needs (Libs.private), the -lcoil of Libs left out
static_libs=$(pkg-config --static --libs coil | sed 's/-lcoil\( \|$\)/ /')
# shellcheck disable=SC2046,SC2086
"$cc" $flags "$tmp/app/app.c" -o "$tmp/app/pc_static" \
	$(pkg-config --cflags coil) "$libdir/libcoil.a" $static_libs ||
	fail "cc with pkg-config --static"
run "pkg-config --static" "$tmp/app/pc_static"
echo "package: ok"
