#!/bin/sh
# Install libanthem into a scratch root, then build and run a program outside
# the tree with nothing but `cc prog.c $(pkg-config --cflags --libs anthem)`.
# usage: tests/install-test.sh BUILD_DIR
set -eu
build=$1
src=$(cd "$(dirname "$0")/.." && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

meson install -C "$build" --destdir "$root" --no-rebuild --quiet
pc=$(find "$root" -name anthem.pc | head -n 1)
[ -n "$pc" ] || { echo "install-test: no anthem.pc installed" >&2; exit 1; }
libdir=$(dirname "$(dirname "$pc")")

export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs anthem)
echo "install-test: pkg-config --cflags --libs anthem: $flags"
pkg-config --static --libs anthem | grep -q -- '-lblis' ||
	{ echo "install-test: Libs.private lacks BLIS" >&2; exit 1; }

soname=$(readelf -d "$libdir/libanthem.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libanthem.so.0" ] ||
	{ echo "install-test: SONAME is '$soname', expected libanthem.so.0" >&2; exit 1; }

cp "$src/examples/distances.c" "$root/prog.c"
# shellcheck disable=SC2086
cc -std=c99 -Wall -Werror "$root/prog.c" $flags -o "$root/prog"
LD_LIBRARY_PATH="$libdir" "$root/prog" > "$root/out"
grep -q "^libanthem " "$root/out" ||
	{ echo "install-test: the installed program printed nothing useful" >&2; exit 1; }
echo "install-test: built and ran a program against the installed library (SONAME $soname)"
