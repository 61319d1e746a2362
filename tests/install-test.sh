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

# The man pages (built by scdoc): installed, one a page of docs/man, and
# man -l renders each without a warning.
if [ -f "$build/docs/man/anthem.1" ]; then
	pages=$(find "$root" -path '*/man/man1/anthem*.1' | sort)
	n=$(echo "$pages" | grep -c . || true)
	set -- "$src"/docs/man/*.1.scd
	[ "$n" -eq $# ] ||
		{ echo "install-test: $n man pages installed, expected one a docs/man/*.scd" >&2; exit 1; }
	for p in $pages; do
		if ! MANWIDTH=80 man --warnings -l "$p" >"$root/man.out" 2>"$root/man.err" ||
			[ -s "$root/man.err" ] || ! grep -q '^NAME' "$root/man.out"; then
			echo "install-test: man -l $p:" >&2
			cat "$root/man.err" >&2
			exit 1
		fi
	done
	echo "install-test: $n man pages installed, each renders with man -l"
else
	echo "install-test: $build/docs/man has no pages: scdoc was not found when" >&2
	echo "install-test: meson configured $build (scripts/setup installs scdoc)" >&2
	exit 1
fi

# The Python package: pip-installed into a venv from a copy of
# bindings/python (pip builds in place: the source tree stays untouched),
# offline (--no-index; Debian's setuptools and wheel through
# --system-site-packages, docs/python.md), against the scratch install
# found through pkg-config alone; its tests run from outside the tree.
py=/usr/bin/python3
if "$py" -c 'import venv, setuptools, wheel' 2>/dev/null; then
	cp -r "$src/bindings/python" "$root/pysrc"
	rm -rf "$root/pysrc/build" "$root/pysrc"/*.egg-info
	"$py" -m venv --system-site-packages "$root/venv"
	"$root/venv/bin/pip" install --quiet --no-index --no-build-isolation "$root/pysrc" >"$root/pip.log" 2>&1 ||
		{ cat "$root/pip.log" >&2; echo "install-test: pip install failed" >&2; exit 1; }
	mv "$root/pysrc/tests" "$root/pytests"
	rm -rf "$root/pysrc"
	(
		cd "$root/pytests"
		unset ANTHEM_LIBRARY
		"$root/venv/bin/python" - "$libdir" "$(pkg-config --modversion anthem)" <<'PY'
import os, sys
import anthem
libdir, version = sys.argv[1], sys.argv[2]
assert "site-packages" in anthem.__file__, anthem.__file__
assert os.path.realpath(anthem.library_path).startswith(os.path.realpath(libdir)), \
    "%s is not the installed library (pkg-config's libdir %s)" % (anthem.library_path, libdir)
assert anthem.__version__ == version == anthem.version(), (anthem.__version__, version, anthem.version())
print("install-test: import anthem %s from %s, library %s" % (
    anthem.__version__, os.path.dirname(anthem.__file__), anthem.library_path))
PY
		ANTHEM_FIXTURE_DIR="$src/tests/data/wordnet-fixture" \
			"$root/venv/bin/python" -m unittest discover -v -s . >"$root/pytest.log" 2>&1 ||
			{ cat "$root/pytest.log" >&2; echo "install-test: the Python tests failed against the installed package" >&2; exit 1; }
		tail -n 1 "$root/pytest.log" | sed 's/^/install-test: python tests outside the tree: /'
		# what needs a checkout (the headers, lib/anthem.sym, docs/) says so
		sed -n "s/^\(test_[a-z0-9_]*\) (\([a-z_.A-Z]*\)).* skipped \(.*\)/install-test:   skipped \2: \3/p" "$root/pytest.log"
	)
else
	echo "install-test: no venv/setuptools/wheel for $py: the pip install is not tested" >&2
	exit 1
fi

# Go: a module outside the tree with the one replace line of docs/go.md,
# built offline against the installed anthem.pc.
if command -v go >/dev/null 2>&1; then
	mkdir "$root/goapp"
	cat >"$root/goapp/main.go" <<'GO'
package main

import (
	"fmt"

	"libanthem.example/anthem"
)

func main() { fmt.Println("libanthem", anthem.Version()) }
GO
	(
		cd "$root/goapp"
		export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOSUMDB=off GOWORK=off
		export GOPATH="$root/gopath" GOCACHE="${ANTHEM_GO_CACHE:-$root/gocache}"
		go mod init example.invalid/app >/dev/null 2>&1
		echo "replace libanthem.example/anthem => $src/bindings/go" >>go.mod
		if ! { go mod tidy && go build -o app .; } >"$root/go.log" 2>&1; then
			cat "$root/go.log" >&2
			echo "install-test: the Go program did not build" >&2
			exit 1
		fi
		out=$(LD_LIBRARY_PATH="$libdir" ./app)
		[ "$out" = "libanthem $(pkg-config --modversion anthem)" ] ||
			{ echo "install-test: the Go program printed '$out'" >&2; exit 1; }
		echo "install-test: a Go module with one replace line built and ran: $out"
	)
	chmod -R u+w "$root/gopath" 2>/dev/null || true
else
	echo "install-test: no go: the Go module is not tested (scripts/setup installs golang-go)" >&2
	exit 1
fi
