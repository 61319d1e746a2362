#!/bin/sh
# Hostile input through the command line (docs/reliability.md): training
# data is strict by default (a malformed line stops `anthem train` with
# FILE:LINE: reason, exit status 1, no model written, an existing model
# untouched); --lenient skips such lines and says how many; CRLF and a
# missing final newline are fine; queries may be empty, not UTF-8 or 100 kB
# long; absurd numbers on the command line are refused or bounded.
# usage: cli-input.sh ANTHEM FIXTURE_DIR WORK_DIR
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") fixture=$(abs "$2") work=$(abs "$3")
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

train() { # catalogue judgements out [args...]
	c=$1 j=$2 o=$3
	shift 3
	"$anthem" train --catalog "$c" --judgments "$j" --out "$o" --dim 4 \
		--buckets 1024 --epochs 1 --epoch-examples 50 --threads 1 "$@"
}
# expect STATUS TEXT CMD...: CMD exits with STATUS and TEXT is on stderr
expect() {
	want=$1 text=$2
	shift 2
	status=0
	"$@" >out.log 2>err.log || status=$?
	[ "$status" = "$want" ] || fail "$*: exit status $status, expected $want: $(cat err.log)"
	grep -qF -- "$text" err.log || fail "$*: stderr lacks '$text': $(cat err.log)"
}

cat="$fixture/catalog.tsv"
head -n 41 "$fixture/train.tsv" >good.tsv # a comment and 40 judgements
train "$cat" good.tsv old.anthem 2>/dev/null || fail "training on good data"
cp old.anthem keep.anthem

# ---- strict: every kind of malformed line stops training at its line -----------------
# each case: the line appended as line 42 of the judgements, the reason
bad_line() { # line reason
	{ cat good.tsv; printf '%s\n' "$1"; } >bad.tsv
	expect 1 "bad.tsv:42: $2" train "$cat" bad.tsv old.anthem
	cmp -s old.anthem keep.anthem || fail "a failed run changed the model"
	expect 1 "bad.tsv:42: $2" train "$cat" bad.tsv new.anthem
	[ ! -e new.anthem ] || fail "a model was written from malformed data"
}
tab=$(printf '\t')
bad_line "hat${tab}02666079" "expected 3 fields"
bad_line "hat${tab}02666079${tab}5" "grade must be an integer from 0 to 3"
bad_line "hat${tab}02666079${tab}high" "grade must be an integer from 0 to 3"
bad_line "hat${tab}no-such-product${tab}1" "product_id is not in the catalogue"
bad_line "$(printf 'h\377t')${tab}02666079${tab}1" "invalid UTF-8"
bad_line "${tab}02666079${tab}1" "empty query"
# a bad catalogue line stops it too, naming the catalogue
{ cat "$cat"; printf 'broken line without a tab\n'; } >badcat.tsv
expect 1 "badcat.tsv:563: expected 2 fields" train badcat.tsv good.tsv new.anthem
[ ! -e new.anthem ] || fail "a model was written from a malformed catalogue"
{ cat "$cat"; sed -n 2p "$cat"; } >dupcat.tsv
expect 1 "dupcat.tsv:563: duplicate product_id 02666079" train dupcat.tsv good.tsv new.anthem
ok "strict: FILE:LINE: reason, exit 1, no model written, the old one unchanged"

# ---- lenient: skipped and counted ------------------------------------------------------
{
	cat good.tsv
	printf 'hat\t02666079\n'
	printf 'hat\t02666079\t7\n'
	printf 'hat\tno-such-product\t1\n'
	printf 'h\377t\t02666079\t1\n'
} >mixed.tsv
{ cat "$cat"; printf 'broken\n'; } >mixedcat.tsv
expect 0 "skipped 1 malformed catalogue lines and 4 malformed judgement lines" \
	train mixedcat.tsv mixed.tsv lenient.anthem --lenient
"$anthem" info lenient.anthem >/dev/null || fail "the lenient model does not load"
ok "--lenient: malformed lines skipped and counted"

# ---- CRLF and no final newline ---------------------------------------------------------
sed 's/$/\r/' "$cat" >crlf-cat.tsv
sed 's/$/\r/' "$fixture/test.tsv" | head -c -2 >crlf-test.tsv # drop the last CRLF
"$anthem" index --model old.anthem --catalog "$cat" --out lf.idx 2>/dev/null
"$anthem" eval --model old.anthem --catalog "$cat" --judgments "$fixture/test.tsv" \
	--k1 0 --json | sed 's/, "seconds".*//' >lf.json
"$anthem" eval --model old.anthem --catalog crlf-cat.tsv --judgments crlf-test.tsv \
	--k1 0 --json | sed 's/, "seconds".*//' >crlf.json || fail "eval on CRLF files"
cmp -s lf.json crlf.json || fail "CRLF files give other metrics: $(cat lf.json crlf.json)"
train crlf-cat.tsv crlf-test.tsv crlf.anthem 2>/dev/null || fail "training on CRLF files"
ok "CRLF line endings and a missing final newline read like LF files"

# ---- queries ------------------------------------------------------------------------------
big=$(head -c 102400 /dev/zero | tr '\0' 'x')
for q in "" "   " "$(printf '\377\376 hat')" "$big"; do
	"$anthem" search --model old.anthem --index lf.idx --k 3 "$q" >out.log 2>err.log ||
		fail "search for a ${#q}-byte query: $(cat err.log)"
	[ "$(grep -c '^ *[0-9]*\. ' out.log)" = 3 ] || fail "search for a ${#q}-byte query: not 3 hits"
done
# a huge --k1 is bounded by the index (its buffer size used to wrap around)
"$anthem" search --model old.anthem --index lf.idx --k 3 --k1 4611686018427387904 hat \
	>out.log 2>err.log || fail "--k1 2^62: $(cat err.log)"
expect 2 "--k must be 1 to 100000" "$anthem" search --model old.anthem --index lf.idx --k 0 hat
expect 2 "" "$anthem" search --model old.anthem --index lf.idx --k -1 hat
expect 1 "no-such.idx" "$anthem" search --model old.anthem --index no-such.idx hat
ok "empty, blank, non-UTF-8 and 100 kB queries answered; huge --k1 bounded"

# ---- rankings made elsewhere ----------------------------------------------------------
printf 'q\t02666079\t1\nq\t02666079\t2\n' >dup-rank.tsv
printf 'q\t02666079\t3\n' >q.tsv
expect 1 "dup-rank.tsv:2: product 02666079 is ranked twice for query q" \
	"$anthem" eval --ranking dup-rank.tsv --catalog "$cat" --judgments q.tsv
ok "a ranking with a product twice is refused"
cd /
rm -rf "$work"
