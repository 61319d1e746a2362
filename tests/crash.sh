#!/bin/sh
# Crash safety of saving (docs/reliability.md, "Crash safety"):
#  1. `anthem train` killed with SIGKILL in the middle of writing its
#     second checkpoint: the first checkpoint is still there, byte for byte,
#     and a run resumed from it ends with the model of an uninterrupted run;
#  2. killed in the middle of the --out save: the model that was there
#     before is unchanged and loads; resuming from the last checkpoint
#     writes the uninterrupted run's model;
#  3. a full disk (RLIMIT_FSIZE with SIGXFSZ ignored, so write() fails with
#     EFBIG) during the --out save and during a checkpoint: exit status 1,
#     a message naming the file and the cause, the old file unchanged and
#     no temporary file left beside it.
# usage: crash.sh ANTHEM KILLWRITE_SO FIXTURE_DIR WORK_DIR
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") shim=$(abs "$2") fixture=$(abs "$3") work=$(abs "$4")
rm -rf "$work"
mkdir -p "$work"
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

# small and fast (about a second), one thread so that runs are reproducible
train() {
	"$anthem" train --catalog "$fixture/catalog.tsv" \
		--judgments "$fixture/train.tsv" --dim 4 --buckets 1024 \
		--epoch-examples 200 --threads 1 --seed 3 "$@"
}
no_temporaries() { # dir
	left=$(find "$1" -name '*.tmp.*' | head -n 5)
	[ -z "$left" ] || fail "temporary files left behind: $left"
}

# the uninterrupted runs: 1 epoch and 3 epochs, with their checkpoints
mkdir ref
train --epochs 1 --checkpoint ref/ck1 --out ref/m1.anthem 2>ref/log1 ||
	fail "reference run (1 epoch): $(cat ref/log1)"
train --epochs 3 --checkpoint ref/ck3 --out ref/m3.anthem 2>ref/log3 ||
	fail "reference run (3 epochs): $(cat ref/log3)"
train --epochs 3 --out ref/again.anthem 2>/dev/null
cmp -s ref/m3.anthem ref/again.anthem || fail "two runs with one seed differ"
ok "reference runs"

# run_killed NTH BYTES ARGS...: train with the shim, which kills the
# process once BYTES bytes have gone into the NTH temporary file
run_killed() {
	nth=$1 bytes=$2
	shift 2
	status=0
	KILLWRITE_NTH=$nth KILLWRITE_BYTES=$bytes LD_PRELOAD=$shim \
		train "$@" 2>killed.log || status=$?
	# SIGKILL: the shell reports 128 + 9
	[ "$status" = 137 ] || fail "expected death by SIGKILL (137), got $status: $(cat killed.log)"
	grep -q 'killwrite: SIGKILL' killed.log || fail "the shim did not fire: $(cat killed.log)"
}

# ---- 1. killed while writing the epoch-2 checkpoint ------------------------------
mkdir one
# temporaries in order: ck (epoch 1), ck (epoch 2), ck (epoch 3), the model
run_killed 2 5000 --epochs 3 --checkpoint one/ck --out one/m.anthem
cmp -s one/ck ref/ck1 || fail "the epoch-1 checkpoint was damaged by the kill"
[ ! -e one/m.anthem ] || fail "a model was written by the killed run"
partial=$(find one -name 'ck.tmp.*')
[ -n "$partial" ] || fail "the shim killed outside the checkpoint's temporary file"
[ "$(wc -c <"$partial")" -eq 5000 ] || fail "the partial temporary has $(wc -c <"$partial") bytes, not 5000"
rm -f "$partial" # what a SIGKILL leaves: the unfinished temporary, never read
train --epochs 3 --resume one/ck --checkpoint one/ck --out one/m.anthem 2>one/log ||
	fail "resuming after the kill: $(cat one/log)"
cmp -s one/m.anthem ref/m3.anthem || fail "the resumed run differs from the uninterrupted one"
cmp -s one/ck ref/ck3 || fail "the resumed run's last checkpoint differs"
"$anthem" info one/m.anthem >/dev/null || fail "anthem info on the resumed model"
no_temporaries one
ok "SIGKILL during a checkpoint write: previous checkpoint intact, resumed run equals the uninterrupted one"

# ---- 2. killed while writing the --out model --------------------------------------
mkdir two
cp ref/m1.anthem two/m.anthem # the model from an earlier run
run_killed 4 20000 --epochs 3 --checkpoint two/ck --out two/m.anthem
cmp -s two/m.anthem ref/m1.anthem || fail "the previous model was damaged by the kill"
"$anthem" info two/m.anthem >/dev/null 2>two/info.log || fail "the previous model does not load: $(cat two/info.log)"
cmp -s two/ck ref/ck3 || fail "the epoch-3 checkpoint is not the uninterrupted run's"
find two -name 'm.anthem.tmp.*' -exec rm -f {} +
train --epochs 3 --resume two/ck --out two/m.anthem 2>two/log ||
	fail "resuming after the kill: $(cat two/log)"
cmp -s two/m.anthem ref/m3.anthem || fail "the model saved after resuming differs from the uninterrupted run's"
no_temporaries two
ok "SIGKILL during the model save: previous model intact and loads, resumed run equals the uninterrupted one"

# ---- 3. a full disk ------------------------------------------------------------------
command -v prlimit >/dev/null 2>&1 || fail "prlimit (util-linux) is needed"
mkdir three
cp ref/m1.anthem three/m.anthem
cp ref/ck1 three/ck
# with SIGXFSZ ignored (inherited through exec), a write beyond the limit
# fails with EFBIG instead of killing the process
full() { # bytes, train args...
	limit=$1
	shift
	status=0
	(trap '' XFSZ; exec prlimit --fsize="$limit" "$anthem" train \
		--catalog "$fixture/catalog.tsv" --judgments "$fixture/train.tsv" \
		--dim 4 --buckets 1024 --epoch-examples 200 --threads 1 --seed 3 \
		"$@") 2>full.log || status=$?
	[ "$status" = 1 ] || fail "full disk: expected exit status 1, got $status: $(cat full.log)"
}
# the model (35 KB) does not fit in 16 KB
full 16384 --epochs 1 --out three/m.anthem
grep -q 'three/m.anthem: File too large (the previous file, if any, is unchanged)' full.log ||
	fail "full disk, model: unclear message: $(cat full.log)"
cmp -s three/m.anthem ref/m1.anthem || fail "full disk: the previous model changed"
no_temporaries three
# a checkpoint (138 KB) does not fit in 64 KB, though the model would
full 65536 --epochs 3 --resume three/ck --checkpoint three/ck --out three/m2.anthem
grep -q 'three/ck: File too large' full.log || fail "full disk, checkpoint: unclear message: $(cat full.log)"
cmp -s three/ck ref/ck1 || fail "full disk: the previous checkpoint changed"
[ ! -e three/m2.anthem ] || fail "full disk: a model was written after a failed checkpoint"
no_temporaries three
"$anthem" info three/m.anthem >/dev/null || fail "full disk: the previous model does not load"
ok "full disk: exit 1, message names the file and the cause, old files byte-identical, no temporary left"
cd /
rm -rf "$work"
