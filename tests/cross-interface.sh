#!/bin/sh
# One query, one model, one index: the same top 10 (ids, and distances to
# 1e-6) through C, the anthem CLI, Python, Go and SQLite.
# usage: cross-interface.sh BUILD_DIR SEARCH_EXAMPLE [SQLITE_MODULE]
set -eu
build=$(cd "$1" && pwd)
search=$2
sqlite_module=${3:-}
src=$(cd "$(dirname "$0")/.." && pwd)
fx=$src/tests/data/wordnet-fixture
anthem=$build/tools/anthem
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q="winter hat"

"$anthem" train --catalog "$fx/catalog.tsv" --judgments "$fx/train.tsv" \
	--out "$tmp/m.anthem" --dim 8 --buckets 4096 --epochs 1 \
	--epoch-examples 64 --threads 1 2>/dev/null
"$anthem" index --model "$tmp/m.anthem" --catalog "$fx/catalog.tsv" \
	--out "$tmp/i.index" 2>/dev/null

# C
"$search" "$tmp/m.anthem" "$tmp/i.index" "$q" 10 | cut -f1,2 > "$tmp/c.tsv"
# the CLI
"$anthem" search --model "$tmp/m.anthem" --index "$tmp/i.index" --k 10 --json "$q" |
	python3 -c 'import json, sys
for h in json.load(sys.stdin): print("%s\t%.9g" % (h["product_id"], h["score"]))' \
	> "$tmp/cli.tsv"
# Python
ANTHEM_LIBRARY=$build/lib/libanthem.so PYTHONPATH=$src/bindings/python python3 -c '
import sys, anthem
m = anthem.Model.load(sys.argv[1])
ix = anthem.Index.load(sys.argv[2], m)
for h in ix.search(m, sys.argv[3], k=10, k1=200):
    print("%s\t%.9g" % (h.product_id, h.distance))' \
	"$tmp/m.anthem" "$tmp/i.index" "$q" > "$tmp/python.tsv"
names="c cli python"
# Go
if command -v go >/dev/null 2>&1; then
	ANTHEM_BUILD_DIR=$build ANTHEM_CROSS_MODEL=$tmp/m.anthem \
	ANTHEM_CROSS_INDEX=$tmp/i.index ANTHEM_CROSS_QUERY=$q \
	ANTHEM_CROSS_OUT=$tmp/go.tsv \
		"$src/bindings/go/test.sh" -run TestCrossInterface >/dev/null
	names="$names go"
fi
# SQLite
if [ -n "$sqlite_module" ]; then
	# Debian's python3: its sqlite3 module can load extensions
	/usr/bin/python3 - "$sqlite_module" "$tmp/m.anthem" "$tmp/i.index" "$q" > "$tmp/sqlite.tsv" <<'PY'
import sqlite3, sys
mod, model, index, q = sys.argv[1:5]
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(mod)
h = db.execute("select anthem_open(?, ?)", (model, index)).fetchone()[0]
for pid, dist in db.execute(
        "select product_id, distance from anthem_search(?, ?, 10) order by rank",
        (h, q)):
    print("%s\t%.9g" % (pid, dist))
PY
	names="$names sqlite"
fi

python3 - "$tmp" $names <<'PY'
import sys
tmp, names = sys.argv[1], sys.argv[2:]
def read(n):
    with open("%s/%s.tsv" % (tmp, n)) as f:
        return [(l.split("\t")[0], float(l.split("\t")[1])) for l in f if l.strip()]
ref = read("c")
assert len(ref) == 10, "C gave %d hits" % len(ref)
worst = 0.0
for n in names[1:]:
    got = read(n)
    ids_ok = [i for i, _ in got] == [i for i, _ in ref]
    diff = max(abs(a - b) for (_, a), (_, b) in zip(got, ref)) if got else 1.0
    worst = max(worst, diff)
    print("%-7s %s top-10 ids, max |distance - C's| = %.2g" %
          (n, "same" if ids_ok else "DIFFERENT", diff))
    if not ids_ok or len(got) != 10 or diff > 1e-6:
        sys.exit("cross-interface: %s disagrees with C" % n)
print("cross-interface: %s agree on the top 10 (max distance difference %.2g)"
      % (", ".join(names), worst))
PY
