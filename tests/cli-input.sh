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

# --tokenizer: recorded in the model (anthem info shows it), bytes-v1 on
# request, unicode-v1 by default, anything else refused
"$anthem" info --model old.anthem | grep -q "^tokenizer    unicode-v1$" ||
	fail "a new model does not read unicode-v1"
train "$cat" good.tsv bytes.anthem --tokenizer bytes-v1 2>/dev/null ||
	fail "training with --tokenizer bytes-v1"
"$anthem" info --model bytes.anthem --json | grep -q '"tokenizer": "bytes-v1"' ||
	fail "--tokenizer bytes-v1 is not in the model"
expect 2 "--tokenizer is unicode-v1 or bytes-v1, not 'utf8'" \
	train "$cat" good.tsv new.anthem --tokenizer utf8

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
expect 1 "badcat.tsv:563: expected 2 or 3 fields" train badcat.tsv good.tsv new.anthem
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
# ---- issue #13: odd options, unusable models, output checks, Ctrl-C, terminals -------
# getopt_long: short options, `--` ends options, signs and spaces refused
"$anthem" search -m old.anthem -i lf.idx -k 2 hat >short.log 2>err.log || fail "short options: $(cat err.log)"
"$anthem" search --model old.anthem --index lf.idx --k 2 hat >long.log 2>err.log
cmp -s short.log long.log || fail "-m/-i/-k differ from --model/--index/--k"
"$anthem" search --model old.anthem --index lf.idx --k 2 -- --k >out.log 2>err.log ||
	fail "-- then a query that looks like an option: $(cat err.log)"
grep -q '^query: --k$' out.log || fail "after --, '--k' is the query: $(cat out.log)"
expect 2 "--batch wants a whole number, not ' -1'" train "$cat" good.tsv x.anthem --batch ' -1'
expect 2 "--k wants a whole number, not '+3'" "$anthem" search -m old.anthem -i lf.idx -k +3 hat
expect 2 "--lr wants a number, not ' 0.1'" train "$cat" good.tsv x.anthem --lr ' 0.1'
expect 2 "cannot combine --ranking with --index" "$anthem" eval --ranking \
	"$fixture/bm25-test.tsv" --catalog "$cat" --judgments "$fixture/test.tsv" --index lf.idx
expect 2 "--json takes no value" "$anthem" info --model old.anthem --json=yes
expect 2 "unknown or ambiguous option '--nope'" "$anthem" info --model old.anthem --nope
"$anthem" info --help | grep -q -- "-m, --model MODEL" || fail "info --help lacks -m"
ok "getopt_long: -m/-i/-k, --, ' -1' and '+3' refused, --ranking with --index refused by name"

# --resume keeps the checkpoint's model settings: another value is an error
train "$cat" good.tsv ck-model.anthem --checkpoint ck1.anthem 2>/dev/null || fail "training with a checkpoint"
expect 2 "--dim 64 differs from the checkpoint ck1.anthem" \
	train "$cat" good.tsv x.anthem --resume ck1.anthem --dim 64
expect 2 "--geometry euclidean differs from the checkpoint" \
	train "$cat" good.tsv x.anthem --resume ck1.anthem --geometry euclidean
train "$cat" good.tsv x.anthem --resume ck1.anthem --epochs 2 2>err.log ||
	fail "resuming with the same settings: $(cat err.log)"
grep -q "hyperbolic geometry, dim 4 (from ck1.anthem, 1 epochs done)" err.log ||
	fail "resume does not print the checkpoint's settings: $(cat err.log)"
ok "--resume with other model settings refused by name; the same ones accepted"

# a learning rate that blows the weights up: no unloadable model, the old one kept
cp keep.anthem lr.anthem
expect 1 "weights became" train "$cat" "$fixture/train.tsv" lr.anthem --lr 100000 --epoch-examples 512
cmp -s lr.anthem keep.anthem || fail "--lr 100000 replaced the model"
ok "--lr 100000: 'weights became ...', exit 1, the previous model unchanged"

# --out and --checkpoint are checked before any work: an input, a path
# that cannot be created (under a regular file: fails even for root)
cp good.tsv same.tsv
expect 1 "--out same.tsv is the same file as --judgments same.tsv" train "$cat" same.tsv same.tsv
cmp -s same.tsv good.tsv || fail "--out naming an input changed it"
expect 1 "--out old.anthem is the same file as --model old.anthem" \
	"$anthem" index --model old.anthem --catalog "$cat" --out old.anthem
cmp -s old.anthem keep.anthem || fail "index --out MODEL changed the model"
echo x >afile
expect 1 "--out afile/m.anthem: cannot create a file there" train "$cat" good.tsv afile/m.anthem --epochs 50
grep -q "epoch 1/" err.log && fail "an unwritable --out was found after training"
expect 1 "--checkpoint afile/ck: cannot create a file there" \
	train "$cat" good.tsv x.anthem --checkpoint afile/ck --epochs 50
grep -q "epoch 1/" err.log && fail "an unwritable --checkpoint was found after training"
ok "--out naming an input refused (device+inode), an unwritable --out/--checkpoint found before the first step"

# Ctrl-C: the first SIGINT finishes the step, writes the best model so far and
# exits 130; a second one ends the process at once, leaving no partial file
long_train() { # out
	"$anthem" train --catalog "$cat" --judgments "$fixture/train.tsv" --out "$1" \
		--dim 8 --buckets 4096 --epochs 200 --patience 0 --threads 1 \
		--checkpoint "$1.ck" 2>"$1.log" &
	pid=$!
	i=0
	until grep -q "epoch 1/200" "$1.log"; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "no epoch line after 60 s: $(cat "$1.log")"
		sleep 0.1
	done
}
long_train int.anthem
kill -INT $pid
status=0
wait $pid || status=$?
[ "$status" = 130 ] || fail "SIGINT: exit status $status, expected 130: $(cat int.anthem.log)"
grep -q "interrupted (signal 2) in epoch .*wrote the best model of epochs 1-" int.anthem.log ||
	fail "SIGINT: no word of what was written: $(cat int.anthem.log)"
"$anthem" info --model int.anthem >/dev/null || fail "the model written after SIGINT does not load"
grep -q "epoch 200/200" int.anthem.log && fail "SIGINT did not stop training"
long_train twice.anthem
kill -INT $pid
sleep 0.05
kill -INT $pid 2>/dev/null || true
status=0
wait $pid || status=$?
[ "$status" = 130 ] || fail "two SIGINTs: exit status $status, expected 130"
[ ! -e twice.anthem ] || "$anthem" info --model twice.anthem >/dev/null ||
	fail "two SIGINTs left a partial model"
ok "SIGINT: exit 130 with a loadable model of the finished epochs; a second SIGINT exits at once, no partial file"

# titles with control characters reach a terminal escaped
printf '1\tred \033[31mhat\033]0;owned\007 \302\233x\\y\n2\tblue coat\n' >ctl.tsv
"$anthem" index --model old.anthem --catalog ctl.tsv --out ctl.idx 2>/dev/null
"$anthem" search --model old.anthem --index ctl.idx --k 2 "$(printf 'hat\033[2J')" >out.log 2>err.log ||
	fail "search over control characters: $(cat err.log)"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" out.log; then
	fail "control characters reached the output: $(od -c out.log | head)"
fi
grep -qF 'red \x1b[31mhat\x1b]0;owned\x07 \u009bx\\y' out.log || fail "title not escaped as expected: $(cat out.log)"
grep -qF 'query: hat\x1b[2J' out.log || fail "query not escaped: $(cat out.log)"
ok "plain-text search output escapes control characters (C0, DEL, C1) and backslashes"
cd /
rm -rf "$work"
