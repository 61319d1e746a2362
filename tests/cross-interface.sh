#!/bin/sh
# One model, one index, two queries: the plain "winter hat" and the composed
# "hat" AND "winter" OR "cap".  The same top 10 (ids, and distances to 1e-6)
# through C (examples/search.c), the anthem CLI, Python, Go and SQLite, all
# through the library's query pipeline (docs/architecture.md).  The model
# has the lexical term, so stage 1 unites the region scan with the titles
# of highest BM25 in every interface.
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

# NAME<TAB>QUERY<TAB>AND<TAB>OR (AND, OR: one text or empty); every
# interface writes NAME's top 10 to $tmp/INTERFACE-NAME.tsv as
# product_id<TAB>distance lines
printf 'plain\twinter hat\t\t\ncomposed\that\twinter\tcap\n' > "$tmp/queries.tsv"

"$anthem" train --catalog "$fx/catalog.tsv" --judgments "$fx/train.tsv" \
	--out "$tmp/m.anthem" --dim 8 --buckets 4096 --lexical-buckets 16384 \
	--epochs 1 --epoch-examples 64 --threads 1 2>/dev/null
"$anthem" index --model "$tmp/m.anthem" --catalog "$fx/catalog.tsv" \
	--out "$tmp/i.index" 2>/dev/null

tab=$(printf '\t')
while IFS=$tab read -r name q and or; do
	set -- # the composition's options, for C and the CLI
	[ -z "$and" ] || set -- "$@" --and "$and"
	[ -z "$or" ] || set -- "$@" --or "$or"
	# C
	"$search" "$@" "$tmp/m.anthem" "$tmp/i.index" "$q" 10 </dev/null |
		cut -f1,2 > "$tmp/c-$name.tsv"
	# the CLI: one JSON object a query, score = -distance
	"$anthem" search --model "$tmp/m.anthem" --index "$tmp/i.index" \
		--k 10 --json "$@" "$q" </dev/null |
		python3 -c 'import json, sys
lines = [l for l in sys.stdin if l.strip()]
assert len(lines) == 1, "the CLI printed %d JSON lines for one query" % len(lines)
o = json.loads(lines[0])
assert o["query"] == sys.argv[1], o["query"]
for h in o["results"]:
    assert h["score"] == -h["distance"], h
    print("%s\t%.9g" % (h["product_id"], h["distance"]))' "$q" \
		> "$tmp/cli-$name.tsv"
done < "$tmp/queries.tsv"

# Python
ANTHEM_LIBRARY=$build/lib/libanthem.so PYTHONPATH=$src/bindings/python python3 -c '
import sys, anthem
model, index, queries, out = sys.argv[1:5]
m = anthem.Model.load(model)
ix = anthem.Index.load(index, m)
for line in open(queries):
    name, q, and_, or_ = line.rstrip("\n").split("\t")
    hits = ix.search(m, q, k=10, k1=200, and_=[and_] if and_ else [],
                     or_=[or_] if or_ else [])
    with open("%s/python-%s.tsv" % (out, name), "w") as f:
        for h in hits:
            f.write("%s\t%.9g\n" % (h.product_id, h.distance))' \
	"$tmp/m.anthem" "$tmp/i.index" "$tmp/queries.tsv" "$tmp"
names="c cli python"
# Go
if command -v go >/dev/null 2>&1; then
	ANTHEM_BUILD_DIR=$build ANTHEM_CROSS_MODEL=$tmp/m.anthem \
	ANTHEM_CROSS_INDEX=$tmp/i.index ANTHEM_CROSS_QUERIES=$tmp/queries.tsv \
	ANTHEM_CROSS_OUT=$tmp \
		"$src/bindings/go/test.sh" -run TestCrossInterface >/dev/null
	names="$names go"
fi
# SQLite: anthem_search(handle, query, k, k1, and_queries, or_queries),
# the compositions as TEXT of one or more queries separated by '\n'
if [ -n "$sqlite_module" ]; then
	# Debian's python3: its sqlite3 module can load extensions
	/usr/bin/python3 - "$sqlite_module" "$tmp/m.anthem" "$tmp/i.index" \
		"$tmp/queries.tsv" "$tmp" <<'PY'
import sqlite3, sys
mod, model, index, queries, out = sys.argv[1:6]
db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(mod)
h = db.execute("select anthem_open(?, ?)", (model, index)).fetchone()[0]
for line in open(queries):
    name, q, and_, or_ = line.rstrip("\n").split("\t")
    if and_ or or_:
        rows = db.execute(
            "select product_id, distance from anthem_search(?, ?, 10, 200, ?, ?)"
            " order by rank", (h, q, and_, or_))
    else:
        rows = db.execute(
            "select product_id, distance from anthem_search(?, ?, 10)"
            " order by rank", (h, q))
    with open("%s/sqlite-%s.tsv" % (out, name), "w") as f:
        for pid, dist in rows:
            f.write("%s\t%.9g\n" % (pid, dist))
PY
	names="$names sqlite"
fi

python3 - "$tmp" $names <<'PY'
import sys
tmp, names = sys.argv[1], sys.argv[2:]
queries = [l.split("\t")[0] for l in open("%s/queries.tsv" % tmp)]
def read(n, q):
    with open("%s/%s-%s.tsv" % (tmp, n, q)) as f:
        return [(l.split("\t")[0], float(l.split("\t")[1])) for l in f if l.strip()]
worst = 0.0
refs = {}
for q in queries:
    ref = refs[q] = read("c", q)
    assert len(ref) == 10, "C gave %d hits for %s" % (len(ref), q)
    for n in names[1:]:
        got = read(n, q)
        ids_ok = [i for i, _ in got] == [i for i, _ in ref]
        diff = max(abs(a - b) for (_, a), (_, b) in zip(got, ref)) if got else 1.0
        worst = max(worst, diff)
        print("%-8s %-7s %s top-10 ids, max |distance - C's| = %.2g" %
              (q, n, "same" if ids_ok else "DIFFERENT", diff))
        if not ids_ok or len(got) != 10 or diff > 1e-6:
            sys.exit("cross-interface: %s disagrees with C on %s" % (n, q))
# the composition must change the ranking, or the test proves nothing
if [i for i, _ in refs["composed"]] == [i for i, _ in refs["plain"]]:
    sys.exit("cross-interface: the composed query ranks as the plain one")
print("cross-interface: %s agree on the top 10 of %s (max distance "
      "difference %.2g)" % (", ".join(names), " and ".join(queries), worst))
PY
