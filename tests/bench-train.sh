#!/bin/sh
# bench/train/run end to end on the fixture, a few steps: the C trainer, the
# PyTorch twin on the same plan, the twin's weights imported as a model
# file (the path that broke when the lexical term was added: the twin
# writes no lexical tensors) and both models evaluated.  Checks that the
# bench runs to the end and reports the quality of both models, not its
# speed (bench/train/run's full run does that).
# usage: bench-train.sh SOURCE_ROOT BUILD_DIR FIXTURE_DIR WORK_DIR
set -eu
src=$1 build=$2 data=$3 work=$4
if ! /usr/bin/python3 -c 'import numpy, torch' 2>/dev/null; then
	echo "SKIP: no torch/numpy under /usr/bin/python3"
	exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$src/bench/train/run" --build "$build" --no-build --data "$data" \
	--steps 4 --batch 8 --dim 4 --threads 1 --eval-queries 20 \
	--out "$work" >"$work/out.txt" 2>"$work/err.txt" || {
	cat "$work/out.txt" "$work/err.txt"
	exit 1
}
cat "$work/out.txt"
/usr/bin/python3 - "$work/result.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
models = r["quality"]["models"]
assert set(models) == {"torch, 1 thread", "anthem, 1 thread"}, models
for name, q in models.items():
    for key in ("ndcg@10", "map", "mrr"):
        assert math.isfinite(q[key]) and 0 <= q[key] <= 1, (name, key, q[key])
row = r["rows"][0]
assert row["anthem"] > 0 and row["torch"] > 0, row
# the same plan on both sides: the mean losses agree closely after 4 steps
assert abs(row["anthem_loss"] - row["torch_loss"]) <= 1e-3 * abs(row["torch_loss"]), row
print("bench-train: both models evaluated, losses %.6f and %.6f"
      % (row["anthem_loss"], row["torch_loss"]))
PY
