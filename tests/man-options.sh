#!/bin/sh
# The man pages (docs/man/*.scd) and `anthem CMD --help` list the same
# options: every option --help prints has an entry in the OPTIONS section
# of anthem-CMD.1.scd and every entry there is an option --help prints,
# short forms included; anthem.1.scd lists every command `anthem --help`
# lists, and each has its page.  Then every built page given renders with
# `man -l` without a warning.
# usage: tests/man-options.sh ANTHEM SCD_DIR [BUILT_PAGE.1 ...]
set -eu
anthem=$1 scd=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

# "-c" and "--catalog" a line, sorted, from --help's "  -c, --catalog FILE"
# or "      --dim D" lines (serve's help has no short forms: "  --model")
help_options() {
	"$anthem" "$1" --help |
		sed -n 's/^ \{2,\}\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z0-9-]*\).*/\1\2/p' |
		tr -d ',' | tr ' ' '\n' | sed '/^$/d' | sort
}
# the same from the page: "*-c*, *--catalog* _FILE_" lines of # OPTIONS
page_options() {
	sed -n '/^# OPTIONS/,/^# /p' "$1" | sed -n 's/^\*\(-[^_]*\).*/\1/p' |
		tr -d '*,' | tr ' ' '\n' | sed -n '/^-/p' | sort
}

commands=$("$anthem" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ -n "$commands" ] || { echo "man-options: '$anthem --help' lists no commands" >&2; exit 1; }
for c in $commands; do
	page=$scd/anthem-$c.1.scd
	if [ ! -f "$page" ]; then
		echo "man-options: 'anthem $c' has no man page: $page is missing" >&2
		fail=1
		continue
	fi
	grep -q "^\*$c\*\$" "$scd/anthem.1.scd" || {
		echo "man-options: command '$c' is not in the COMMANDS of $scd/anthem.1.scd" >&2
		fail=1
	}
	help_options "$c" > "$work/help"
	page_options "$page" > "$work/page"
	[ -s "$work/help" ] || { echo "man-options: 'anthem $c --help' lists no options" >&2; fail=1; }
	for o in $(comm -23 "$work/help" "$work/page"); do
		echo "man-options: option $o of 'anthem $c --help' is missing from the OPTIONS of $page" >&2
		fail=1
	done
	for o in $(comm -13 "$work/help" "$work/page"); do
		echo "man-options: option $o in the OPTIONS of $page is not in 'anthem $c --help'" >&2
		fail=1
	done
done
for page in "$scd"/anthem-*.1.scd; do
	c=${page##*/anthem-}
	c=${c%.1.scd}
	echo "$commands" | grep -qx "$c" || {
		echo "man-options: $page documents 'anthem $c', which 'anthem --help' does not list" >&2
		fail=1
	}
done

# Render every built page as man(1) would; a groff warning fails the test.
for p in "$@"; do
	if ! MANWIDTH=80 man --warnings -l "$p" > "$work/out" 2> "$work/err" || [ -s "$work/err" ]; then
		echo "man-options: man -l $p:" >&2
		cat "$work/err" >&2
		fail=1
	elif ! grep -q '^NAME' "$work/out"; then
		echo "man-options: man -l $p printed no NAME section" >&2
		fail=1
	fi
done
[ "$fail" = 0 ] || exit 1
echo "man-options: $(echo "$commands" | wc -l) commands, the options of each --help and its page agree; $# pages rendered by man -l"
