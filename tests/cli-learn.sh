#!/bin/sh
# Learning without hand-made judgements (issue 17, docs/guide.md): click
# logs graded by hand-computed rules, the category column and the click
# log read strictly (FILE:LINE: field, exit 1, nothing written), the
# category tree's judgements for anthem train, and self-supervised
# training that gives the same bytes for a seed.
# usage: cli-learn.sh ANTHEM FIXTURE_DIR WORK_DIR
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") fixture=$(abs "$2") work=$(abs "$3")
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# expect STATUS TEXT CMD...: CMD exits with STATUS and TEXT is on stderr
expect() {
	want=$1 text=$2
	shift 2
	status=0
	"$@" >out.log 2>err.log || status=$?
	[ "$status" = "$want" ] || fail "$*: exit status $status, expected $want: $(cat err.log)"
	grep -qF -- "$text" err.log || fail "$*: stderr lacks '$text': $(cat err.log)"
}
data() { grep -v '^#' "$1"; } # the data lines of a file

# ---- click logs, graded by hand ----------------------------------------------------
# --prior-ctr 0.1, --prior-weight 20: a = 2, smoothed ctr = (clicks + 2) / (impressions + 20)
#   q1 A  10/5      7/30  = 0.233 -> 2        q1 B  100/0  never clicked, >= 20 -> 0
#   q1 C  5/0       too few impressions: out  q2 A  1/1    3/21 = 0.143 -> 1
#   q2 B  40/4/1    a purchase -> 3           q2 C  10/1 + 10/1 (summed): 4/40 = 0.1 -> 1
#   q3 D  50/30     32/70 = 0.457 -> 3        q3 E  100/1  3/120 = 0.025: out
printf '# a click log\nq1\tA\t10\t5\nq1\tB\t100\t0\nq1\tC\t5\t0\nq2\tA\t1\t1\nq2\tB\t40\t4\t1\nq2\tC\t10\t1\nq2\tC\t10\t1\r\nq3\tD\t50\t30\nq3\tE\t100\t1\n' >log.tsv
"$anthem" judgments --clicks log.tsv --out clicks.tsv --prior-ctr 0.1 2>err.log ||
	fail "judgments --clicks: $(cat err.log)"
printf 'q1\tA\t2\nq1\tB\t0\nq2\tA\t1\nq2\tB\t3\nq2\tC\t1\nq3\tD\t3\n' >want.tsv
data clicks.tsv | cmp -s - want.tsv || fail "click grades: $(cat clicks.tsv)"
grep -qF "grade 3: 2, 2: 1, 1: 2, 0: 1; 2 pairs with too little evidence" err.log ||
	fail "the summary line: $(cat err.log)"
# the prior's mean by default is the log's: 43 clicks / 326 impressions =
# 0.1319, a = 2.638: q2 A becomes 3.638 / 21 = 0.173 -> 2
"$anthem" judgments --clicks log.tsv --out clicks.tsv 2>/dev/null
grep -q "^q2	A	2$" clicks.tsv || fail "the log's own prior: $(cat clicks.tsv)"
# thresholds as flags: no purchase rule, grade 3 only from ctr 0.5
"$anthem" judgments --clicks log.tsv --out clicks.tsv --prior-ctr 0.1 \
	--purchases 0 --grade3-ctr 0.5 --min-impressions 200 2>/dev/null
printf 'q1\tA\t2\nq2\tA\t1\nq2\tB\t1\nq2\tC\t1\nq3\tD\t2\n' >want.tsv
data clicks.tsv | cmp -s - want.tsv || fail "click flags: $(cat clicks.tsv)"
ok "click logs graded as computed by hand"

# ---- click logs read strictly ------------------------------------------------------
cp clicks.tsv keep.tsv
tab=$(printf '\t')
bad_log() { # line reason
	{ printf 'q\tA\t5\t1\n'; printf '%s\n' "$1"; } >bad.tsv
	expect 1 "bad.tsv:2: $2" "$anthem" judgments --clicks bad.tsv --out clicks.tsv
	cmp -s clicks.tsv keep.tsv || fail "a failed run changed the output"
	expect 1 "bad.tsv:2: $2" "$anthem" judgments --clicks bad.tsv --out new.tsv
	[ ! -e new.tsv ] || fail "judgements written from a malformed log"
}
bad_log "q${tab}A${tab}5" "expected 4 or 5 fields"
bad_log "q${tab}A${tab}5${tab}1${tab}0${tab}9" "expected 4 or 5 fields"
bad_log "${tab}A${tab}5${tab}1" "field 1 (query) is empty"
bad_log "q${tab}${tab}5${tab}1" "field 2 (product_id) is empty"
bad_log "q${tab}A${tab}-5${tab}1" "field 3 (impressions) must be a whole number"
bad_log "q${tab}A${tab}05${tab}1" "field 3 (impressions) must be a whole number"
bad_log "q${tab}A${tab}5${tab}1.5" "field 4 (clicks) must be a whole number"
bad_log "q${tab}A${tab}5${tab}1${tab}x" "field 5 (purchases) must be a whole number"
bad_log "q${tab}A${tab}5${tab}6" "field 4 (clicks) is more than field 3 (impressions)"
bad_log "q${tab}A${tab}99999999999999${tab}1" "field 3 (impressions) must be a whole number"
bad_log "$(printf 'q\377')${tab}A${tab}5${tab}1" "invalid UTF-8"
# a catalogue checks the ids
printf 'A\tan a\nB\ta b\n' >ab.tsv
expect 1 "product 'C' (query 'q2') is not in the catalogue" \
	"$anthem" judgments --clicks log.tsv --catalog ab.tsv --out new.tsv
[ ! -e new.tsv ] || fail "judgements written with unknown products"
# --out as the other commands: not an input, not a directory
expect 1 "is the same file as --clicks" "$anthem" judgments --clicks log.tsv --out log.tsv
mkdir adir
expect 1 "is a directory" "$anthem" judgments --clicks log.tsv --out adir
expect 2 "--test-out applies only to categories" \
	"$anthem" judgments --clicks log.tsv --out x.tsv --test-out y.tsv
expect 2 "--prior-ctr applies only with --clicks" \
	"$anthem" judgments --catalog ab.tsv --out x.tsv --prior-ctr 0.1
expect 2 "--out and --clicks or --catalog are required" "$anthem" judgments --clicks log.tsv
"$anthem" judgments --help | grep -q -- "--min-impressions N" || fail "--help"
ok "click logs are read strictly"

# ---- category trees --------------------------------------------------------------
# the fixture's catalogue with paths: each product under its fixture
# "category" of the first three title words would be artificial; a small
# hand-made tree instead, and the fixture for training
cat >tree.tsv <<'TREE'
p1	grey fedora hat	Clothing > Hats > Fedoras
p2	straw boater hat	Clothing > Hats
p3	leather boots	Clothing > Shoes > Boots | Sale
p4	running shoes	Clothing > Shoes
p5	red scarf
TREE
"$anthem" judgments --catalog tree.tsv --out tj.tsv --test-out tt.tsv \
	--max-frac 1 --test-frac 0 2>/dev/null
printf 'boots\tp3\t3\nclothing\tp1\t1\nclothing\tp2\t2\nclothing\tp3\t1\nclothing\tp4\t2\nfedoras\tp1\t3\nhats\tp1\t2\nhats\tp2\t3\nsale\tp3\t3\nshoes\tp3\t2\nshoes\tp4\t3\n' >want.tsv
data tj.tsv | cmp -s - want.tsv || fail "tree judgements: $(cat tj.tsv)"
[ -z "$(data tt.tsv)" ] || fail "--test-frac 0 held something out"
# the default split holds some queries out, and the sides add up
"$anthem" judgments --catalog tree.tsv --out tj.tsv --test-out tt.tsv \
	--max-frac 1 --test-frac 0.5 --seed 3 2>/dev/null
[ "$(cat tj.tsv tt.tsv | data /dev/stdin | sort | wc -l)" = 11 ] || fail "the sides"
# malformed categories, through train and judgments
printf 'p1\tx\tA >B\n' >badtree.tsv
expect 1 "badtree.tsv:1: field 3 (categories): a '>' not written as ' > '" \
	"$anthem" judgments --catalog badtree.tsv --out new.tsv
printf 'p1\tx\tA > B | \n' >badtree.tsv
expect 1 "badtree.tsv:1: field 3 (categories): an empty category name in path 2" \
	"$anthem" train --catalog badtree.tsv --out new.anthem
[ ! -e new.tsv ] && [ ! -e new.anthem ] || fail "output from a malformed tree"
expect 1 "no product of the catalogue has categories" \
	"$anthem" train --catalog ab.tsv --out new.anthem
# anthem train without --judgments: the tree's training side, counted.
# 40 products, departments of 10 (dropped: more than max_frac 0.1 of the
# products), categories of 4 (kept): 10 queries of 4 judgements, split
for i in $(seq 1 40); do
	printf 'x%d	item %d of kind %d	Dept %d > Kind %d
' $i $i $((i % 10)) $((i % 4)) $((i % 10))
done >kinds.tsv
"$anthem" judgments --catalog kinds.tsv --out kj.tsv --test-out kt.tsv \
	--seed 9 2>/dev/null
nq=$(data kj.tsv | cut -f1 | sort -u | wc -l)
[ "$(cat kj.tsv kt.tsv | grep -c '^kind')" = 40 ] || fail "kinds: $(cat kj.tsv)"
expect 0 "derived $((4 * nq)) judgements of $nq category queries from the catalogue's categories ($((10 - nq)) more queries held out" \
	"$anthem" train --catalog kinds.tsv --out tree.anthem --dim 2 --buckets 256 \
	--epochs 1 --threads 1 --valid-frac 0 --hard-negatives 0 --seed 9
[ -s tree.anthem ] || fail "no model from the tree"
ok "category trees: hand-computed grades, strict paths, anthem train uses them"

# ---- self-supervised: the same bytes for a seed ----------------------------------
ss() { # out seed [args]
	o=$1 s=$2
	shift 2
	"$anthem" train --catalog "$fixture/catalog.tsv" --self-supervised \
		--out "$o" --dim 4 --buckets 1024 --epochs 2 --epoch-examples 60 \
		--threads 2 --lexical --valid-frac 0 --hard-negatives 2 \
		--seed "$s" "$@" 2>err.log ||
		fail "self-supervised training: $(cat err.log)"
}
ss a.anthem 3
grep -qF "561 products, 0 judged queries, 3 pseudo-queries a product" err.log ||
	fail "no word of the pseudo-queries: $(cat err.log)"
ss b.anthem 3
cmp -s a.anthem b.anthem || fail "self-supervised training differs for one seed"
ss c.anthem 4
! cmp -s a.anthem c.anthem || fail "the seed does not move self-supervised training"
# mixed with judgements
head -n 41 "$fixture/train.tsv" >j.tsv
ss m.anthem 3 --judgments j.tsv
grep -qF "561 products, 6 judged queries, 3 pseudo-queries a product" err.log || fail "mixed: $(cat err.log)"
! cmp -s a.anthem m.anthem || fail "the judgements changed nothing"
ok "self-supervised training: same bytes for a seed, alone and with judgements"
