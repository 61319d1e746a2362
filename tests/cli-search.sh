#!/bin/sh
# `anthem search` through the query pipeline (docs/architecture.md): piped
# queries (one a line, answered in batches) give what one QUERY at a time
# gives, with and without --and/--or; --json prints one object a query with
# score = -distance and ranks 1..n; --filter returns only the listed
# products and refuses an unknown id with FILE:LINE; and for every geometry,
# with and without the lexical term, `anthem eval --model` measures exactly
# the ranking that `anthem search` serves (same k1, k = 1000 as the metrics'
# cut), so that a reported number is the one a user of the index gets.
# usage: cli-search.sh ANTHEM FIXTURE_DIR
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") fx=$(abs "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

model() { # geometry out [args...]
	g=$1 o=$2
	shift 2
	"$anthem" train --catalog "$fx/catalog.tsv" --judgments "$fx/train.tsv" \
		--out "$o.anthem" --geometry "$g" --dim 8 --buckets 4096 --epochs 1 \
		--epoch-examples 64 --threads 1 "$@" 2>/dev/null || fail "training $o"
	"$anthem" index --model "$o.anthem" --catalog "$fx/catalog.tsv" \
		--out "$o.index" 2>/dev/null || fail "indexing $o"
}
search() { # name [args...]: search with model and index "name"
	s=$1
	shift
	"$anthem" search --model "$s.anthem" --index "$s.index" "$@"
}

# the distinct judged queries of the test split, in file order
python3 - "$fx/test.tsv" >queries.txt <<'PY'
import sys
seen = []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        q = line.rstrip("\n").split("\t")[0]
        if not line.startswith("#") and q not in seen:
            seen.append(q)
print("\n".join(seen))
PY
[ "$(wc -l <queries.txt)" -ge 10 ] || fail "too few queries in test.tsv"

# ---- the key test: eval measures what search serves ---------------------------
# metrics.py EVAL.json RANKED.json: the five metrics and the counts, equal
metrics() {
	python3 - "$@" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr", "queries", "skipped"]
diff = [k for k in keys if a[k] != b[k]]
if diff:
    sys.exit("eval --model %s\nsearch ranking %s" %
             ({k: a[k] for k in keys}, {k: b[k] for k in keys}))
print("  %s" % ", ".join("%s %s" % (k, a[k]) for k in keys[:5]))
PY
}
# ranking.py: search --json lines on stdin -> query<TAB>product_id<TAB>rank
cat >ranking.py <<'PY'
import json, sys
n = 0
for line in sys.stdin:
    r = json.loads(line)
    n += 1
    for h in r["results"]:
        print("%s\t%s\t%d" % (r["query"], h["product_id"], h["rank"]))
sys.stderr.write("%d queries ranked\n" % n)
PY
for g in hyperbolic euclidean vector; do
	for lex in "" lexical; do
		name=$g${lex:+-$lex}
		if [ -n "$lex" ]; then
			model "$g" "$name" --lexical --lexical-buckets 4096
		else
			model "$g" "$name"
		fi
		for k1 in "" 7; do # the default 200, and fewer than the tail
			"$anthem" eval --model "$name.anthem" --index "$name.index" \
				--catalog "$fx/catalog.tsv" --judgments "$fx/test.tsv" \
				${k1:+--k1 $k1} --json >eval.json || fail "eval $name"
			search "$name" --json --k 1000 --threads 2 ${k1:+--k1 $k1} \
				<queries.txt | python3 ranking.py >ranking.tsv 2>ranked.log ||
				fail "search $name"
			[ "$(cat ranked.log)" = "$(wc -l <queries.txt) queries ranked" ] ||
				fail "search $name: $(cat ranked.log)"
			"$anthem" eval --ranking ranking.tsv --catalog "$fx/catalog.tsv" \
				--judgments "$fx/test.tsv" --json >ranked.json ||
				fail "eval --ranking $name"
			echo "$name k1 ${k1:-200}:"
			metrics eval.json ranked.json ||
				fail "$name, k1 ${k1:-200}: eval and search rank differently"
		done
	done
done
# --k1 0 is stage 1 alone in both
"$anthem" eval --model hyperbolic-lexical.anthem --catalog "$fx/catalog.tsv" \
	--judgments "$fx/test.tsv" --k1 0 --json >eval.json
search hyperbolic-lexical --json --k 1000 --k1 0 <queries.txt |
	python3 ranking.py 2>/dev/null >ranking.tsv
"$anthem" eval --ranking ranking.tsv --catalog "$fx/catalog.tsv" \
	--judgments "$fx/test.tsv" --json >ranked.json
metrics eval.json ranked.json || fail "--k1 0: eval and search rank differently"
ok "eval --model == search's rankings measured by eval --ranking (3 geometries x lexical, k1 200 and 7, and --k1 0)"

# ---- piped queries == one QUERY at a time -----------------------------------------------
m=hyperbolic-lexical
# 300 lines: two batches of 256; with empty lines, a CRLF line and bytes
# that are not UTF-8, all answered in input order
python3 - queries.txt >piped.txt <<'PY'
import sys
qs = open(sys.argv[1], encoding="utf-8").read().split("\n")
qs = [q for q in qs if q] + ["winter hat", "fur", "\udcff\udcfe hat"]
out, i = [], 0
while len(out) < 300:
    out.append(qs[i % len(qs)])
    i += 1
sys.stdout.buffer.write(b"\n".join(q.encode("utf-8", "surrogateescape")
                                   for q in out[:150]) + b"\n\n\r\n")
sys.stdout.buffer.write(b"\n".join(q.encode("utf-8", "surrogateescape")
                                   for q in out[150:]).replace(b"\n", b"\r\n", 1))
PY
[ "$(grep -c . piped.txt)" -ge 300 ] || fail "piped.txt has too few lines"
one_by_one() { # args...: each non-empty line of piped.txt as QUERY
	tr -d '\r' <piped.txt | while IFS= read -r q || [ -n "$q" ]; do
		[ -z "$q" ] || search $m "$@" "$q" || exit 1
	done
}
for args in "--json --k 5" "--k 20 --k1 30" "--json --k 7 --and hat --or fur --or coat" \
	"--json --k 1000 --and cap"; do
	# shellcheck disable=SC2086 # the arguments are words
	one_by_one $args >single.out || fail "single queries ($args)"
	# shellcheck disable=SC2086
	search $m $args --threads 2 <piped.txt >piped.out || fail "piped ($args)"
	[ "$(grep -c '^query: \|^{"query"' piped.out)" = 300 ] ||
		fail "piped ($args): not 300 answers"
	cmp -s single.out piped.out || fail "piped queries ($args) differ from single ones"
done
search $m --json --k 7 <piped.txt >plain.out
search $m --json --k 7 --and hat --or fur --or coat <piped.txt >composed.out
cmp -s plain.out composed.out && fail "--and/--or change nothing in piped mode"
ok "300 piped lines (2 batches, 2 threads) == one QUERY at a time, text and JSON, with --and/--or"

# ---- the JSON schema -----------------------------------------------------------------------
search $m --json --k 5 <piped.txt >k5.json
printf '03404360\n03456665\n' >two.txt
search $m --json --k 1000 --filter two.txt hat >two.json
python3 - "$fx/catalog.tsv" k5.json two.json <<'PY' || fail "JSON lines"
import json, sys
titles = {}
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.startswith("#"):
        i, t = line.rstrip("\n").split("\t")
        titles[i] = t
def check(path, n_want):
    lines = open(path, encoding="utf-8").read().splitlines()
    assert lines, path
    for line in lines:
        r = json.loads(line)
        assert sorted(r) == ["query", "results"], r.keys()
        assert isinstance(r["query"], str)
        res = r["results"]
        assert len(res) == n_want, (path, len(res))
        for i, h in enumerate(res):
            assert sorted(h) == ["distance", "product_id", "rank", "score",
                                 "title"], h.keys()
            assert h["rank"] == i + 1, h
            assert h["score"] == -h["distance"], h
            assert titles[h["product_id"]] == h["title"], h
        d = [h["distance"] for h in res]
        assert d == sorted(d), (path, "not best first", d)
    return len(lines)
n = check(sys.argv[2], 5)
assert n == 300, n
check(sys.argv[3], 2)
PY
# not UTF-8 in, still JSON out
printf '\377\376 hat\n' | search $m --json | python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
assert r["query"] == "\ufffd\ufffd hat", r["query"]' || fail "a query that is not UTF-8 gives no JSON"
ok "JSON lines: {query, results: [{rank, product_id, title, score, distance}]}, score == -distance"

# ---- --filter ------------------------------------------------------------------------------------
# 30 products, read like every data file: a comment, an empty line, CRLF
awk -F '\t' '!/^#/ && NR % 17 == 0 { print $1 }' "$fx/catalog.tsv" | head -n 30 >ids.txt
[ "$(wc -l <ids.txt)" = 30 ] || fail "fewer than 30 ids"
{ printf '# thirty products\r\n\n'; sed 's/$/\r/' ids.txt; } >filter.txt
search $m --json --k 1000 --filter filter.txt <queries.txt >filtered.json ||
	fail "--filter"
# every product of the filter is a stage-2 candidate (k1 200 > 30): the
# ranking is the full model's over those 30, as with every product a
# candidate (k1 1000) and the others left out
search $m --json --k 1000 --k1 1000 <queries.txt >all.json
python3 - ids.txt filtered.json all.json <<'PY' || fail "--filter: other products or order"
import json, sys
ids = set(open(sys.argv[1]).read().split())
filtered = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
full = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
assert len(filtered) == len(full) > 0
for f, a in zip(filtered, full):
    got = [(h["product_id"], h["distance"]) for h in f["results"]]
    assert {i for i, _ in got} == ids, (f["query"], len(got))
    want = [(h["product_id"], h["distance"]) for h in a["results"]
            if h["product_id"] in ids]
    assert got == want, (f["query"], got[:3], want[:3])
PY
expect() { # status text args...: search exits with status, text on stderr
	want=$1 text=$2
	shift 2
	status=0
	search $m "$@" >out.log 2>err.log || status=$?
	[ "$status" = "$want" ] || fail "search $*: exit status $status, expected $want: $(cat err.log)"
	grep -qF -- "$text" err.log || fail "search $*: stderr lacks '$text': $(cat err.log)"
	[ ! -s out.log ] || fail "search $*: printed results"
}
{ head -n 2 ids.txt; printf 'no-such-product\r\n'; } >unknown.txt
expect 1 "anthem search: unknown.txt:3: product id 'no-such-product' is not in the index" \
	--filter unknown.txt hat
printf '# nothing\n\n' >empty.txt
expect 1 "anthem search: empty.txt: no product id" --filter empty.txt hat
expect 1 "anthem search: no-such-file.txt: No such file or directory" \
	--filter no-such-file.txt hat
expect 1 "unknown.txt:3:" --filter unknown.txt <queries.txt
ok "--filter: only the listed products, ranked as without it; unknown id, empty and missing files refused with FILE:LINE"

# ---- int8 points (docs/architecture.md, "Compact points") ----------------------
# `anthem index --points int8` without --ann: the scan reads int8 codes and
# re-scores the best 2 x k1 in float32; on the fixture that keeps the float
# scan's candidates, so every query's answer is the float index's, and
# --stage1 exact (the float points) is the float index's by construction
"$anthem" index --model "$m.anthem" --catalog "$fx/catalog.tsv" \
	--points int8 --out "$m-int8.index" 2>err.log || fail "int8 index: $(cat err.log)"
grep -q "int8 points" err.log || fail "int8 index: $(cat err.log)"
search $m --json <queries.txt >float.json
"$anthem" search --model "$m.anthem" --index "$m-int8.index" --json \
	<queries.txt >int8.json || fail "search the int8 index"
cmp -s float.json int8.json || fail "int8 index: answers differ from the float index's"
"$anthem" search --model "$m.anthem" --index "$m-int8.index" --json \
	--stage1 exact <queries.txt >exact.json || fail "search --stage1 exact"
cmp -s float.json exact.json || fail "int8 index, --stage1 exact: answers differ"
ok "--points int8: the scan of int8 points answers $(wc -l <queries.txt) queries as the float scan"
# the box prefilter (docs/architecture.md): off by default on the fixture
# (fewer than 16 x 2 x 200 products) and with off; at the whole catalogue's
# depth every product is re-scored in float32: the exact scan's answers
"$anthem" search --model "$m.anthem" --index "$m-int8.index" --json \
	--prefilter off <queries.txt >off.json || fail "search --prefilter off"
cmp -s int8.json off.json || fail "--prefilter off: answers differ from the default's"
"$anthem" search --model "$m.anthem" --index "$m-int8.index" --json \
	--prefilter 100000 <queries.txt >all.json || fail "search --prefilter 100000"
cmp -s exact.json all.json || fail "--prefilter 100000: answers differ from --stage1 exact's"
# a small one answers every query with k hits
"$anthem" search --model "$m.anthem" --index "$m-int8.index" --k 5 --k1 20 \
	--prefilter 1 --json hat >small.json || fail "search --prefilter 1"
[ "$(grep -o '"rank"' small.json | wc -l)" = 5 ] || fail "--prefilter 1: $(cat small.json)"
for bad in -1 ten ""; do
	status=0
	"$anthem" search --model "$m.anthem" --index "$m-int8.index" \
		--prefilter "$bad" hat >out.log 2>err.log || status=$?
	[ "$status" = 2 ] || fail "--prefilter '$bad': exit status $status"
	grep -q -- "--prefilter wants a whole number, not '$bad'" err.log ||
		fail "--prefilter '$bad': $(cat err.log)"
done
status=0
"$anthem" eval --model "$m.anthem" --catalog "$fx/catalog.tsv" \
	--judgments "$fx/test.tsv" --prefilter off >out.log 2>err.log || status=$?
[ "$status" = 2 ] && grep -q "give --index" err.log ||
	fail "eval --prefilter without --index: status $status: $(cat err.log)"
ok "--prefilter: off, the whole catalogue (the exact scan's answers), small; bad values refused"
# anthem info tells the two indexes apart (by the file's magic, or --index)
"$anthem" info "$m-int8.index" | grep -q "^stage 1      int8 points" ||
	fail "anthem info on the int8 index: $("$anthem" info "$m-int8.index" 2>&1)"
"$anthem" info --index "$m.index" --json | grep -q '"points": "float32", "ann": false' ||
	fail "anthem info --json on the float index"
"$anthem" info --index "$m.anthem" 2>err.log && fail "info --index took a model"
grep -q "wrong magic" err.log || fail "info --index on a model: $(cat err.log)"
# the layout version: 2 for float points and no graph, 4 with int8 points
"$anthem" info --index "$m.index" --json | grep -q '"ann_seed": null, "format_version": 2}' ||
	fail "anthem info --json: the float index's version: $("$anthem" info --index "$m.index" --json)"
"$anthem" info "$m-int8.index" | grep -q "^format       index version 4 " ||
	fail "anthem info: the int8 index's version: $("$anthem" info "$m-int8.index" 2>&1)"
ok "anthem info: an index's points, graph and layout version"
# --ann reports the graph's progress on stderr (a line every 10 s, and the
# last), and the file holds the graph
"$anthem" index --model "$m.anthem" --catalog "$fx/catalog.tsv" --ann \
	--ann-degree 12 --ann-ef 40 --ann-seed 7 \
	--out "$m-ann.index" 2>err.log || fail "index --ann: $(cat err.log)"
n=$("$anthem" info --index "$m-ann.index" --json | sed -n 's/.*"products": \([0-9]*\).*/\1/p')
grep -q "^anthem index: graph: $n of $n products (100.0%), [0-9]* s$" err.log ||
	fail "index --ann: no progress line for $n products: $(cat err.log)"
"$anthem" info --index "$m-ann.index" --json | grep -q '"ann": true' ||
	fail "index --ann: anthem info sees no graph"
# the graph's build parameters and layout version 3 (a graph, float points)
"$anthem" info --index "$m-ann.index" --json |
	grep -q '"ann": true, "ann_degree": 12, "ann_ef": 40, "ann_seed": 7, "format_version": 3}' ||
	fail "index --ann: anthem info's graph: $("$anthem" info --index "$m-ann.index" --json)"
"$anthem" info "$m-ann.index" | grep -q "^graph        yes (--stage1 graph): 12 neighbours a product, build beam 40, seed 7$" ||
	fail "index --ann: anthem info's graph line: $("$anthem" info "$m-ann.index")"
ok "index --ann: graph progress on stderr ($(grep -c graph: err.log) line)"
