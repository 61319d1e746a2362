#!/bin/sh
# Run the Go binding's tests against the build tree, without installing:
#   meson setup build && ninja -C build && bindings/go/test.sh [go test args]
# PKG_CONFIG_PATH -> BUILD/meson-uninstalled (anthem-uninstalled.pc),
# LD_LIBRARY_PATH -> BUILD/lib; no network, no module downloads.
# ANTHEM_BUILD_DIR: the build directory (default: build/ of this checkout).
# ANTHEM_GO_CACHE:  a GOCACHE to keep between runs (default: a temp dir).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${ANTHEM_BUILD_DIR:-$src/build}" && pwd)

command -v go >/dev/null 2>&1 ||
	{ echo "test.sh: no go (apt-get install -y golang-go)" >&2; exit 1; }
command -v pkg-config >/dev/null 2>&1 ||
	{ echo "test.sh: no pkg-config" >&2; exit 1; }
[ -e "$build/lib/libanthem.so" ] ||
	{ echo "test.sh: $build/lib/libanthem.so is missing (ninja -C $build)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/anthem-go.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

# Can a C file that includes <anthem/anthem.h> build and link with these
# pkg-config flags?  (cgo will do exactly that.)
usable() {
	printf '#include <anthem/anthem.h>\nint main(void) { return anthem_version_number() < 100; }\n' \
		>"$tmp/probe.c"
	# shellcheck disable=SC2046
	${CC:-cc} "$tmp/probe.c" -o "$tmp/probe" \
		$(PKG_CONFIG_PATH="$1" pkg-config --cflags --libs anthem) >"$tmp/probe.log" 2>&1
}

pcdir=$build/meson-uninstalled
if [ -f "$pcdir/anthem-uninstalled.pc" ] && usable "$pcdir"; then
	echo "test.sh: pkg-config: $pcdir/anthem-uninstalled.pc"
else
	if [ -f "$pcdir/anthem-uninstalled.pc" ]; then
		echo "test.sh: $pcdir/anthem-uninstalled.pc does not find <anthem/anthem.h>" \
			"(Cflags: $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags anthem));" \
			"using a generated anthem.pc" >&2
	else
		echo "test.sh: no $pcdir/anthem-uninstalled.pc; using a generated anthem.pc" >&2
	fi
	version=$(sed -n 's/^#define ANTHEM_VERSION_STRING "\(.*\)"/\1/p' \
		"$build/include/anthem/version.h")
	pcdir=$tmp/pkgconfig
	mkdir -p "$pcdir"
	cat >"$pcdir/anthem.pc" <<EOF
prefix=$build
Name: anthem
Description: libanthem in the build tree (written by bindings/go/test.sh)
Version: ${version:-0.0.0}
Libs: -L$build/lib -lanthem
Cflags: -I$src/include -I$build/include
EOF
	usable "$pcdir" || { cat "$tmp/probe.log" >&2; exit 1; }
fi

export PKG_CONFIG_PATH="$pcdir"
export LD_LIBRARY_PATH="$build/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CGO_ENABLED=1 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
export GOSUMDB=off GOWORK=off
export GOPATH="$tmp/gopath"
export GOCACHE="${ANTHEM_GO_CACHE:-$tmp/gocache}"

cd "$here"
echo "test.sh: $(go version), libanthem $(PKG_CONFIG_PATH=$pcdir pkg-config --modversion anthem) in $build/lib"
go test -count=1 "$@" ./...
