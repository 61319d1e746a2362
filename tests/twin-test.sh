#!/bin/sh
# Dump random weights and examples from the C network for each geometry and
# have the PyTorch twin recompute scores, loss and gradients.
# Exit 77 (skip) only when Debian's python3-torch is not importable.
# The models read unicode-v1 (the default) but one, which reads bytes-v1;
# with DATA_DIR the trigrams of its multilingual strings are compared too
# (Python's unicodedata against utf8proc).
# usage: twin-test.sh TWIN_DUMP COMPARE_PY [DATA_DIR]
set -eu
dump=$1 compare=$2 data=${3:-}
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
echo "== hyperbolic, bytes-v1"
"$dump" "$tmp/bytes" --geometry hyperbolic --cases 50 --tokenizer bytes-v1
"$py" "$compare" "$tmp/bytes"
if [ -n "$data" ]; then
	for f in queries.txt catalog.tsv case-pairs.tsv; do
		echo "== unicode-v1 trigrams of $f"
		"$dump" "$tmp/text-$f" --cases 1 --texts "$data/$f"
		"$py" "$compare" "$tmp/text-$f"
	done
fi
