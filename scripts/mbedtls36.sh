#!/usr/bin/env bash
# scripts/mbedtls36.sh - mbedTLS 3.6 LTS into .deps/mbedtls-3.6 on Debian 12.
#
# Debian 12 ships mbedTLS 2.28 only (no TLS 1.3, support ended December
# 2024); Debian 13 ships 3.6. On a system that has 3.6 already this does
# nothing and CMake uses the system's. Otherwise it fetches Debian 13's
# mbedtls *source* package with `apt-get source`, from the mirror the
# machine's own apt sources name (deb822 .sources files or one-line
# sources.list), through a private apt state under .deps/apt: the system's
# sources and package lists stay as they are, and no binary package of the
# newer suite is installed. Then it builds the library with its own CMake
# (static, -fPIC, no tests, no programs) into .deps/mbedtls-3.6, where
# CMake looks first (CMakeLists.txt, "mbedTLS").
#
# Idempotent: a second run finds the prefix and does nothing.
# Needs: apt-get, dpkg-dev (dpkg-source), cmake, a C compiler (.ci/packages).
# Usage: scripts/mbedtls36.sh [--force]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
etc=${COIL_APT_ETC:-/etc/apt} # the machine's apt configuration
deps=$root/.deps
prefix=$deps/mbedtls-3.6
suite=${COIL_MBEDTLS_SUITE:-trixie}
stamp=$prefix/.coil-built

say() { echo "mbedtls36: $*" >&2; }

if [ "${1:-}" = --force ]; then
	rm -rf "$prefix"
fi
if [ -f "$stamp" ]; then
	say "$(cat "$stamp") in $prefix (nothing to do)"
	exit 0
fi

# The system's own mbedTLS, if it is 3.6 or newer: nothing to build.
sysver=/usr/include/mbedtls/build_info.h
if [ -f "$sysver" ] &&
	grep -Eq '#define MBEDTLS_VERSION_NUMBER +0x03(0[6-9]|[1-9])' "$sysver"; then
	say "the system's mbedTLS is 3.6 or newer: using it"
	exit 0
fi

# The machine's Debian mirror: the first http(s) URI of a deb line for
# the main archive (not -security), in either sources format.
mirror() {
	local f uri
	for f in "$etc"/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		# deb822: "URIs: http://..." (several stanzas per file)
		uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f" |
			grep -v -- '-security' | grep -E '^https?://' | head -n1 || true)
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in "$etc"/sources.list "$etc"/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# one-line: deb [opts] http://... suite components
		uri=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk '$1 == "deb" { print $2 }' | grep -v -- '-security' |
			grep -E '^https?://' | head -n1 || true)
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
}

uri=$(mirror)
if [ -z "$uri" ]; then
	say "no http(s) Debian mirror in $etc/sources.list{,.d/}"
	exit 1
fi
say "mirror $uri, suite $suite (deb-src only, private apt state)"

# A private apt configuration: one deb-src entry, its own lists and cache.
apt=$deps/apt
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/etc"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb-src [signed-by=$keyring] $uri $suite main" >"$apt/etc/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$apt/etc/sources.list"
	-o "Dir::Etc::SourceParts=/nonexistent"
	-o "Dir::State::Lists=$apt/lists"
	-o "Dir::Cache::Archives=$apt/archives"
	-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
	-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
apt-get "${aptopts[@]}" -qq update
src=$deps/src
rm -rf "$src"
mkdir -p "$src"
(cd "$src" && apt-get "${aptopts[@]}" -qq source mbedtls >/dev/null)
dir=$(find "$src" -maxdepth 1 -type d -name 'mbedtls-*' | head -n1)
if [ -z "$dir" ]; then
	say "apt-get source mbedtls unpacked nothing in $src"
	exit 1
fi
say "building $(basename "$dir")"

# Debian's patches are applied by dpkg-source; its debian/rules then turns
# on threading (a coil_tls_config is shared by several loops' threads: the
# random generator and the ticket key take mbedTLS's mutexes). Do the same,
# without Python: uncomment the two options in the config header.
sed -i -e 's|^//\(#define MBEDTLS_THREADING_C\)$|\1|' \
	-e 's|^//\(#define MBEDTLS_THREADING_PTHREAD\)$|\1|' \
	"$dir/include/mbedtls/mbedtls_config.h"
for opt in MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD; do
	grep -q "^#define $opt\$" "$dir/include/mbedtls/mbedtls_config.h" || {
		say "cannot turn on $opt in mbedtls_config.h"
		exit 1
	}
done
build=$src/build
cmake -S "$dir" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
	-DCMAKE_POSITION_INDEPENDENT_CODE=ON \
	-DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
	-DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
	-DMBEDTLS_FATAL_WARNINGS=OFF -DGEN_FILES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --install "$build" >/dev/null
ver=$(sed -n 's/.*#define MBEDTLS_VERSION_STRING_FULL *"\(.*\)"/\1/p' \
	"$prefix/include/mbedtls/build_info.h")
echo "$ver" >"$stamp"
rm -rf "$src"
say "$ver installed in $prefix"
