#!/bin/sh
# Dump random weights and examples from the C network for each geometry and
# have the PyTorch twin recompute scores, loss and gradients.
# Exit 77 (skip) only when Debian's python3-torch is not importable.
# usage: twin-test.sh TWIN_DUMP COMPARE_PY
set -eu
dump=$1 compare=$2
py=/usr/bin/python3
if ! "$py" -c 'import torch, numpy' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 cannot import torch and numpy (python3-torch, python3-numpy)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for g in hyperbolic euclidean vector; do
	echo "== $g (tied tables)"
	"$dump" "$tmp/$g" --geometry "$g" --cases 200
	"$py" "$compare" "$tmp/$g"
done
echo "== hyperbolic, separate title table"
"$dump" "$tmp/untied" --geometry hyperbolic --cases 100 --tie 0
"$py" "$compare" "$tmp/untied"
