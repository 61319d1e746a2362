#!/bin/sh
# Run the Python binding's tests with Debian's python3 (numpy present) and,
# when it is another interpreter, with the python3 on PATH (lists, no
# numpy).  ANTHEM_LIBRARY may name the library to test.
set -eu
cd "$(dirname "$0")"
status=0
for py in /usr/bin/python3 python3; do
	command -v "$py" >/dev/null 2>&1 || continue
	real=$(command -v "$py")
	[ "$py" = python3 ] && [ "$("$real" -c 'import sys; print(sys.executable)')" = \
		"$(/usr/bin/python3 -c 'import sys; print(sys.executable)')" ] && continue
	echo "== $("$real" --version 2>&1) ($real)"
	"$real" -m unittest discover -s tests 2>&1 || status=1
done
exit $status
