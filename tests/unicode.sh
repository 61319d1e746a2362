#!/bin/sh
# The command line on the multilingual catalogue (tests/data/multilingual)
# with a unicode-v1 model: `anthem explain --json` parses as JSON and
# `--svg` as XML for every test string (Python's json and xml.etree, real
# parsers), `search --json` parses, and the NFC, NFD, upper-case and
# fullwidth spellings of a query get the same results.
# usage: unicode.sh ANTHEM DATA_DIR
set -eu
anthem=$1 data=$2
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# judgements: each title is a query for its own product
grep -v '^#' "$data/catalog.tsv" | awk -F '\t' '{print $2 "\t" $1 "\t3"}' \
	>"$tmp/judgments.tsv"
"$anthem" train --catalog "$data/catalog.tsv" --judgments "$tmp/judgments.tsv" \
	--out "$tmp/m.anthem" --dim 8 --buckets 4096 --lexical-buckets 4096 \
	--epochs 2 --valid-frac 0 --threads 1 >"$tmp/train.log" 2>&1 ||
	{ cat "$tmp/train.log"; exit 1; }
"$anthem" index --model "$tmp/m.anthem" --catalog "$data/catalog.tsv" \
	--out "$tmp/ix.anthem" >/dev/null

# every query against a title of each script, plus a long title that the
# model reads only in part; explain must give JSON and XML
long=$(grep -v '^#' "$data/catalog.tsv" | cut -f2 | tr '\n' ' ')
n=0
while IFS= read -r q; do
	for t in "$(sed -n "$((n % 40 + 2))p" "$data/catalog.tsv" | cut -f2)" \
		 "$long" "<b>&'\"ＵＳＢ\"'</b> e$(printf '\314\201')"; do
		"$anthem" explain --model "$tmp/m.anthem" --query "$q" --title "$t" \
			--json --svg "$tmp/x.svg" >"$tmp/x.json" 2>/dev/null
		"$py" - "$tmp/x.json" "$tmp/x.svg" "$q" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
with open(sys.argv[1], encoding="utf-8") as f:
    e = json.load(f)
assert len(e["rows"]) >= 1 and len(e["cols"]) >= 1, e
assert len(e["weights"]) == len(e["rows"])
for lab in e["rows"] + e["cols"]:
    assert "\ufffd" not in lab, (sys.argv[3], lab)   # no split character
    assert 1 <= len(lab) <= 3, lab                   # a trigram of code points
root = ET.parse(sys.argv[2]).getroot()
texts = "".join(root.itertext())
assert "query: " in texts and "title: " in texts
EOF
		n=$((n + 1))
	done
done <"$data/queries.txt"
echo "explain: $n JSON and SVG outputs parsed"

# the long title is marked as cut in the caption, not shown whole
"$anthem" explain --model "$tmp/m.anthem" --query "kaffee" --title "$long" \
	--svg "$tmp/long.svg" >/dev/null 2>&1
grep -q 'cut: the model reads the first 100 trigrams' "$tmp/long.svg" ||
	{ echo "FAIL: a title longer than the model reads is not marked"; exit 1; }
if grep -q 'Alexa voice remote' "$tmp/long.svg"; then
	echo "FAIL: the cut title is shown whole"; exit 1
fi
"$anthem" explain --model "$tmp/m.anthem" --query "kaffee" --title "Kaffee" \
	--svg "$tmp/short.svg" >/dev/null 2>&1
if grep -q 'cut:' "$tmp/short.svg"; then
	echo "FAIL: a short title is marked as cut"; exit 1
fi

# search --json parses; equivalent spellings give the same results
"$py" - "$data/queries.txt" >"$tmp/variants.txt" <<'EOF'
import sys, unicodedata
for q in open(sys.argv[1], encoding="utf-8").read().split("\n"):
    if not q:
        continue
    full = "".join(chr(ord(c) + 0xfee0) if "!" <= c <= "~" else c for c in q)
    for v in (unicodedata.normalize("NFC", q), unicodedata.normalize("NFD", q),
              q.upper(), q.lower(), full):
        print(v)
EOF
"$anthem" search --model "$tmp/m.anthem" --index "$tmp/ix.anthem" --json \
	--k 5 <"$tmp/variants.txt" >"$tmp/hits.json"
"$py" - "$tmp/hits.json" "$data/queries.txt" <<'EOF'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
queries = [q for q in open(sys.argv[2], encoding="utf-8").read().split("\n") if q]
assert len(lines) == 5 * len(queries), (len(lines), len(queries))
res = [json.loads(l) for l in lines]
differ = 0
for i, q in enumerate(queries):
    group = res[5 * i:5 * i + 5]
    ranks = [[(h["product_id"], h["distance"]) for h in g["results"]]
             for g in group]
    assert len(ranks[0]) == 5
    # NFC, NFD and fullwidth: the same hits and distances, always
    assert ranks[0] == ranks[1], (q, "NFD", ranks[0], ranks[1])
    assert ranks[0] == ranks[4], (q, "fullwidth", ranks[0], ranks[4])
    # upper and lower case: the same, but for the Turkish dotted/dotless i,
    # which full case folding keeps apart (docs/network.md, step 1)
    for v in (2, 3):
        if ranks[0] != ranks[v]:
            assert any(c in q for c in "İıI") or any(
                c in group[v]["query"] for c in "İı"), (q, v)
            differ += 1
print("search --json: %d queries x 5 spellings, %d Turkish case variants "
      "differ" % (len(queries), differ))
EOF
