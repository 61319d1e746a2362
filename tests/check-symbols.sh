#!/bin/sh
# Fails when the symbols libanthem exports, the names in the linker version
# script and the ANTHEM_API declarations in the public headers are not the
# same set, or when anything not prefixed anthem_ leaks out.
# usage: check-symbols.sh LIBRARY VERSION_SCRIPT HEADER_DIR...
set -eu
lib=$1 script=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# defined dynamic symbols, minus the version node itself (type A)
nm -D --defined-only "$lib" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' |
	sort -u > "$tmp/exported"
# names between global: and local: in the version script
sed -e 's,/\*.*\*/,,' -e '/^\s*\*/d' -e '/^\/\*/d' "$script" |
	awk '/global:/ { on = 1; next } /local:/ { on = 0 } on' |
	tr -d ' \t;' | grep -v '^$' | sort -u > "$tmp/script"
# every `ANTHEM_API <type> name(` in the headers, declarations may wrap
for dir in "$@"; do
	cat "$dir"/*.h 2>/dev/null || true
done | tr '\n' ' ' | grep -o 'ANTHEM_API[^;(#]*(' |
	sed 's/[ (]*$//; s/.*[ *]//' | grep '^anthem_' | sort -u > "$tmp/headers"

status=0
if grep -v '^anthem_' "$tmp/exported"; then
	echo "check-symbols: symbols above leak out without the anthem_ prefix" >&2
	status=1
fi
compare() {
	if ! diff -u "$tmp/$1" "$tmp/$2" > "$tmp/diff"; then
		echo "check-symbols: $1 and $2 differ:" >&2
		cat "$tmp/diff" >&2
		status=1
	fi
}
compare exported script
compare headers script
echo "check-symbols: $(wc -l < "$tmp/exported") exported, $(wc -l < "$tmp/script") in the script, $(wc -l < "$tmp/headers") declared"
exit $status
