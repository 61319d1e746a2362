#!/bin/sh
# bench/quality's argument handling on the fixture, a few hundred examples a
# model: --seeds gives each trained row as mean +- sd with its per-seed
# values and the issue-17 targets judged on the means; --sources adds the
# rows trained without judgements; the derived category judgements keep no
# test query's name; a single --seed keeps the one-run table; bad lists are
# refused.  It checks the bench's plumbing, not the quality it measures.
# usage: bench-quality.sh SOURCE_ROOT BUILD_DIR FIXTURE_DIR WORK_DIR
set -eu
src=$1 build=$2 data=$3 work=$4
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*"; cat "$work/err.txt" 2>/dev/null | tail -20; exit 1; }
q() { # args...: bench/quality on the fixture, tiny budget
	/usr/bin/python3 "$src/bench/quality" --data "$data" --build "$build" \
		--work "$work/w" --out "$work/results.md" --epoch-examples 200 \
		--dim 4 --threads 1 --max-queries 8 --variants lexical \
		--category-max-frac 0.2 "$@"
}
q --seeds 1,2 --geometries hyperbolic,vector \
	--sources judgements,self-supervised,categories,clicks \
	>"$work/multi.txt" 2>"$work/err.txt" || fail "--seeds 1,2 run"
cat "$work/multi.txt"
for row in "ANTHEM (hyperbolic) + lexical term" "vector baseline + lexical term" \
	"self-supervised, no judgements" "categories (paths from the hypernyms)" \
	"simulated clicks"; do
	line=$(grep -F "$row |" "$work/multi.txt") || fail "no row $row"
	echo "$line" | grep -q ' ± ' || fail "row $row has no mean ± sd"
	# the last cell: the two seeds' NDCG@10
	echo "$line" | grep -Eq '\| [0-9.]+, [0-9.]+ \|$' || fail "row $row: no per-seed values"
done
grep -q '^| BM25 (SQLite FTS5) | [0-9.]* |' "$work/multi.txt" || fail "BM25 row"
for t in "ANTHEM + lexical term / BM25, NDCG@10" \
	"ANTHEM + lexical term / vector + lexical term, MAP" \
	"self-supervised / BM25, NDCG@10" \
	"categories / judgement-trained ANTHEM + lexical term, NDCG@10"; do
	grep -F -- "- $t: " "$work/multi.txt" |
		grep -Eq ': [0-9.]+ x \(target >= [0-9.]+ x\): (met|NOT met)$' ||
		fail "no verdict: $t"
done
grep -q '<!-- quality:begin -->' "$work/results.md" || fail "no block written"
# the derived category judgements name no test query
grep -v '^#' "$data/test.tsv" | cut -f1 | sort -u >"$work/test-queries"
for s in 1 2; do
	f=$work/w/derived-s$s.tsv
	[ "$(grep -vc '^#' "$f")" -gt 0 ] || fail "$f is empty"
	if grep -v '^#' "$f" | cut -f1 | sort -u | comm -12 - "$work/test-queries" | grep -q .; then
		fail "$f trains on a test query"
	fi
done
# one seed: the one-run table, written into its own block; --train-args
# reaches every anthem train and is named in the header
q --seed 3 --geometries hyperbolic --marker other \
	--train-args="--riemannian-adam" >"$work/single.txt" \
	2>"$work/err.txt" || fail "--seed 3 run"
grep -q 'Every model trained with `--riemannian-adam`' "$work/results.md" ||
	fail "--train-args not in the header"
grep -q 'anthem train .* --riemannian-adam' "$work/results.md" ||
	fail "--train-args not in the commands"
grep -q '^| system | NDCG@3 | NDCG@5 | NDCG@10 | MAP | MRR | recall@200 (stage 1) | training |$' \
	"$work/single.txt" || fail "single-seed table header"
grep -q ' ± ' "$work/single.txt" && fail "single-seed table has a spread"
grep -q '<!-- other:begin -->' "$work/results.md" || fail "no block 'other'"
grep -q '<!-- quality:begin -->' "$work/results.md" || fail "block 'quality' lost"
for bad in "--seeds 1,1" "--seeds x" "--sources judgements,bogus" "--geometries flat"; do
	# shellcheck disable=SC2086
	if q $bad >/dev/null 2>"$work/err.txt"; then fail "accepted $bad"; fi
done
echo "bench-quality: ok"
