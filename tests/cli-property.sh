#!/bin/sh
# The CLI property test (docs/reliability.md, issue #13): every command x
# every file argument given an odd path must end within 5 s with exit status
# 1 or 2 and a message naming the path, and change no input file (hashes
# compared after every case).  The odd paths, all made inside the scratch
# directory: a FIFO nobody writes to, a directory, character devices made
# with mknod (1,5 reads like /dev/zero, 1,3 writes like /dev/null), a
# symbolic link that leads nowhere, a path under a regular file (it cannot
# be created even by root), and for outputs the path of an input.  A link
# to a good file works: read through for inputs, written through to its
# target for outputs (docs/format.md), the link staying a link.
# usage: cli-property.sh ANTHEM FIXTURE_DIR
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") fixture=$(abs "$2")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"

fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- good inputs -------------------------------------------------------------------
cp "$fixture/catalog.tsv" cat.tsv
head -n 81 "$fixture/train.tsv" >jud.tsv
cp "$fixture/bm25-test.tsv" rank.tsv
small="--dim 4 --buckets 1024 --epochs 1 --epoch-examples 50 --threads 1"
# shellcheck disable=SC2086
"$anthem" train --catalog cat.tsv --judgments jud.tsv --out model.anthem \
	--checkpoint ck.anthem $small 2>/dev/null || fail "training the base model"
"$anthem" index --model model.anthem --catalog cat.tsv --out model.index 2>/dev/null ||
	fail "indexing"
sed -n 2,4p cat.tsv | cut -f1 >filter.txt
# anthem judgments: a click log and a catalogue with category paths
sed -n 2,4p cat.tsv | awk -F '\t' '{ printf "hat\t%s\t30\t%d\n", $1, NR }' >clicks.log
sed -n 2,31p cat.tsv | awk -F '\t' '{ printf "%s\t%s\tClothing > Kind %d\n", $1, $2, NR % 5 }' >tree.tsv
inputs="cat.tsv jud.tsv rank.tsv model.anthem ck.anthem model.index filter.txt clicks.log tree.tsv"
sha256sum $inputs >hashes

# ---- odd paths -----------------------------------------------------------------------
mkfifo fifo
mkdir dir
echo x >file
ln -s model.anthem link-model # replaced per argument below
ln -s no-such-file dangling
devices=1
mknod zero c 1 5 2>/dev/null && mknod null c 1 3 2>/dev/null || devices=0
[ "$devices" = 1 ] || echo "note: mknod refused here; device cases skipped"

# ---- the commands, each file argument a variable with a good default ---------------
c_train() {
	# shellcheck disable=SC2086
	$run train --catalog "${catalog-cat.tsv}" --judgments "${judgments-jud.tsv}" \
		--out "${out-new.anthem}" $small
}
c_train_ck() {
	# shellcheck disable=SC2086
	$run train --catalog "${catalog-cat.tsv}" --judgments "${judgments-jud.tsv}" \
		--out "${out-new.anthem}" --checkpoint "${checkpoint-new.ck}" $small
}
c_resume() {
	# shellcheck disable=SC2086
	$run train --catalog cat.tsv --judgments jud.tsv --out new.anthem \
		--resume "${resume-ck.anthem}" --epochs 1 --threads 1
}
c_eval() {
	$run eval --model "${model-model.anthem}" --catalog "${catalog-cat.tsv}" \
		--judgments "${judgments-jud.tsv}" --index "${index-model.index}" --k1 20 \
		--max-queries 5
}
c_eval_ranking() {
	$run eval --ranking "${ranking-rank.tsv}" --catalog cat.tsv --judgments jud.tsv
}
c_info() { $run info --model "${model-model.anthem}"; }
c_index() {
	$run index --model "${model-model.anthem}" --catalog "${catalog-cat.tsv}" \
		--out "${out-new.index}"
}
c_search() {
	$run search --model "${model-model.anthem}" --index "${index-model.index}" \
		--filter "${filter-filter.txt}" --k 2 hat
}
c_explain() {
	$run explain --model "${model-model.anthem}" --query hat --title "bowler hat"
}
c_judgments_clicks() {
	$run judgments --clicks "${clicks-clicks.log}" --catalog "${catalog-cat.tsv}" \
		--out "${out-new.tsv}"
}
c_judgments_tree() {
	$run judgments --catalog "${catalog-tree.tsv}" --max-frac 1 \
		--out "${out-new.tsv}" --test-out "${test_out-new2.tsv}"
}
c_explain_svg() {
	$run explain --model model.anthem --query hat --title "bowler hat" \
		--svg "${svg-new.svg}"
}

cases=0
run=$anthem
# refused FUNC VAR VALUE: odd VALUE for VAR makes FUNC exit 1 or 2 within 5 s,
# naming VALUE on stderr, and leaves the inputs (and VALUE's kind) unchanged
refused() {
	f=$1 var=$2 value=$3
	kind_before=$(stat -c %F "$value" 2>/dev/null || echo none)
	status=0
	eval "$var=\$value"
	run="timeout 5 $anthem"
	"$f" >out.log 2>err.log || status=$?
	run=$anthem
	unset "$var"
	case "$status" in
	1 | 2) ;;
	124) fail "$f --$var $value: still running after 5 s" ;;
	*) fail "$f --$var $value: exit status $status, expected 1 or 2: $(cat err.log)" ;;
	esac
	grep -qF -- "$value" err.log || fail "$f --$var $value: stderr does not name it: $(cat err.log)"
	sha256sum -c --quiet hashes || fail "$f --$var $value: an input file changed"
	kind_after=$(stat -c %F "$value" 2>/dev/null || echo none)
	[ "$kind_before" = "$kind_after" ] || fail "$f --$var $value: it was $kind_before, now $kind_after"
	rm -f new.anthem new.ck new.index new.svg new.tsv new2.tsv
	cases=$((cases + 1))
}
# works FUNC VAR VALUE: a link to a good file is read or written through
works() {
	f=$1 var=$2 value=$3
	status=0
	eval "$var=\$value"
	"$f" >out.log 2>err.log || status=$?
	unset "$var"
	[ "$status" = 0 ] || fail "$f --$var $value (a link to a good file): exit $status: $(cat err.log)"
	sha256sum -c --quiet hashes || fail "$f --$var $value: an input file changed"
	[ -L "$value" ] || fail "$f --$var $value: the link was replaced"
	rm -f new.anthem new.ck new.index new.svg new.tsv new2.tsv
	cases=$((cases + 1))
}

# INPUT ARGUMENTS: FUNC VAR GOOD_FILE OTHER_INPUT (another argument's file,
# of another format)
while read -r f var good other; do
	for v in fifo dir dangling file/in "$other"; do
		refused "$f" "$var" "$v"
	done
	[ "$devices" = 0 ] || refused "$f" "$var" zero
	ln -sf "$good" link
	works "$f" "$var" link
done <<EOF
c_train catalog cat.tsv jud.tsv
c_train judgments jud.tsv cat.tsv
c_resume resume ck.anthem cat.tsv
c_eval model model.anthem cat.tsv
c_eval catalog cat.tsv model.anthem
c_eval judgments jud.tsv model.anthem
c_eval index model.index model.anthem
c_eval_ranking ranking rank.tsv model.anthem
c_info model model.anthem cat.tsv
c_index model model.anthem cat.tsv
c_index catalog cat.tsv model.anthem
c_search model model.anthem cat.tsv
c_search index model.index model.anthem
c_search filter filter.txt model.anthem
c_explain model model.anthem cat.tsv
c_judgments_clicks clicks clicks.log cat.tsv
c_judgments_clicks catalog cat.tsv clicks.log
c_judgments_tree catalog tree.tsv clicks.log
EOF
echo "ok: every input argument: FIFO, directory, device, dangling link, path under a file, another argument's file"

# OUTPUT ARGUMENTS: FUNC VAR INPUTS_OF_THE_COMMAND (each given as the output)
while read -r f var ins; do
	for v in fifo dir dangling file/out $ins; do
		refused "$f" "$var" "$v"
	done
	[ "$devices" = 0 ] || refused "$f" "$var" null
	echo old >target
	ln -sf target link
	works "$f" "$var" link
	[ "$(cat target)" != old ] || fail "$f --$var link: the target was not written"
done <<EOF
c_train out cat.tsv jud.tsv
c_train_ck out cat.tsv jud.tsv
c_train_ck checkpoint cat.tsv jud.tsv
c_index out model.anthem cat.tsv
c_explain_svg svg model.anthem
c_judgments_clicks out clicks.log cat.tsv
c_judgments_tree out tree.tsv
c_judgments_tree test_out tree.tsv
EOF
echo "ok: every output argument: FIFO, directory, device, dangling link, path under a file, an input: refused before any work; a link written through"
echo "ok: $cases cases"
