#!/usr/bin/python3
"""Train the PyTorch twin on the example stream of a bench/train plan.

    train_twin.py PLAN_DIR OUT_DIR [--threads T] [--dtype float32|float64]
    train_twin.py PLAN_DIR --check

PLAN_DIR is written by `build/bench/train plan` (bench/train/run does all
of this): config.txt (the weight dump's keys plus the optimiser's), the
initial weights NAME.f32 and plan.tsv, one example a line in the order the
C trainer runs them (query bucket ids, then the positive's and each
negative's, comma-separated, TAB between).  The twin runs the same steps:
batches of `batch` consecutive examples, the summed loss, one backward,
then Adam as lib/train/optim.c does it (Kingma and Ba, Algorithm 1 with the
eps of the efficient form; "lazy" on the two trigram tables: only rows used
in the step move, their moments alone are updated), with the library's
learning rate and linear warm-up over `warmup` steps.  It writes the
trained weights as OUT_DIR/NAME.f32 (`build/bench/train import` makes a
model file of them) and prints torch_examples_per_s: the training loop
alone, not the loading, is timed, as on the C side.

--check recomputes the summed loss and gradients of the first two batches
with the batched speed path (loss_batch) and with the per-example reference
path (loss_from_scores over score_ids) in float64, and fails if they differ.

Exit status 0, 1 on failure, 77 if torch or numpy cannot be imported.
"""

import argparse
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
except Exception as e:  # ImportError, or a broken install
    print("SKIP: cannot import torch/numpy under %s (%s)" % (sys.executable, e))
    sys.exit(77)

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anthem_twin as tw  # noqa: E402

TABLES = ("query_centre", "query_limit", "title_point")


def read_plan(path):
    out = []
    with open(path, "r", encoding="ascii") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            ids = [[int(x) for x in p.split(",")] for p in parts]
            out.append((ids[0], ids[1:]))
    return out


def opt_settings(plan_dir):
    raw = {}
    with open(os.path.join(plan_dir, "config.txt")) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            raw[k] = v
    return {"batch": int(raw["batch"]), "steps": int(raw["steps"]),
            "lr": float(raw["lr"]), "warmup": int(raw["warmup"]),
            "beta1": float(raw["adam_beta1"]), "beta2": float(raw["adam_beta2"]),
            "eps": float(raw["adam_eps"])}


class Adam:
    """lib/train/optim.c's Adam: m, v per value; bias corrections folded
    into the step, eps scaled by sqrt(1 - beta2^t); tables lazily."""

    def __init__(self, params, o):
        self.params = params
        self.o = o
        self.m = {k: torch.zeros_like(p) for k, p in params.items()}
        self.v = {k: torch.zeros_like(p) for k, p in params.items()}
        self.t = 0

    @torch.no_grad()
    def step(self):
        o = self.o
        self.t += 1
        warm = min(1.0, self.t / o["warmup"]) if o["warmup"] else 1.0
        b1, b2 = o["beta1"], o["beta2"]
        c1, c2 = 1.0 - b1 ** self.t, 1.0 - b2 ** self.t
        step = o["lr"] * warm * math.sqrt(c2) / c1
        eps = o["eps"] * math.sqrt(c2)
        for k, p in self.params.items():
            g = p.grad
            if g is None:
                continue
            m, v = self.m[k], self.v[k]
            if g.is_sparse:
                g = g.coalesce()
                r = g.indices()[0]
                gv = g.values()
                mr = m[r].mul_(b1).add_(gv, alpha=1.0 - b1)
                vr = v[r].mul_(b2).addcmul_(gv, gv, value=1.0 - b2)
                m[r] = mr
                v[r] = vr
                p[r] -= step * mr / (vr.sqrt() + eps)
            else:
                m.mul_(b1).add_(g, alpha=1.0 - b1)
                v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                p.sub_(step * m / (v.sqrt() + eps))
            p.grad = None


def check(plan_dir):
    """The batched path against the per-example reference path, float64."""
    model = tw.load(plan_dir)
    o = opt_settings(plan_dir)
    plan = read_plan(os.path.join(plan_dir, "plan.tsv"))
    worst = 0.0
    for b in range(2):
        batch = plan[b * o["batch"]:(b + 1) * o["batch"]]
        ref = 0
        for q, ts in batch:
            enc = tw.encode_query(model, q)
            ref = ref + tw.loss_from_scores(
                [tw.score_ids(model, q, t, enc) for t in ts],
                model.config["logit_scale"])
        gref = torch.autograd.grad(ref, list(model.params.values()),
                                   allow_unused=True)
        fast = tw.loss_batch(model, batch)
        gfast = torch.autograd.grad(fast, list(model.params.values()),
                                    allow_unused=True)
        rl = abs(fast.item() - ref.item()) / abs(ref.item())
        worst = max(worst, rl)
        print("batch %d: loss reference %.12g batched %.12g (rel %.2g)"
              % (b, ref.item(), fast.item(), rl))
        for name, a, f in zip(model.params, gref, gfast):
            if a is None and f is None:
                continue
            a = torch.zeros_like(model.params[name]) if a is None else a
            f = torch.zeros_like(model.params[name]) if f is None else f
            scale = max(a.abs().max().item(), 1e-12)
            e = (a - f).abs().max().item() / scale
            worst = max(worst, e)
            if e > 1e-9:
                print("  %s: gradient differs by %.2g (relative)" % (name, e))
    ok = worst < 1e-9
    print("check: %s (worst relative difference %.2g)"
          % ("pass" if ok else "FAIL", worst))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("plan_dir")
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.check:
        return check(a.plan_dir)
    if not a.out_dir:
        ap.error("OUT_DIR is required")
    tw.use_speed_mode(torch.float32 if a.dtype == "float32" else torch.float64)
    model = tw.load(a.plan_dir)
    o = opt_settings(a.plan_dir)
    plan = read_plan(os.path.join(a.plan_dir, "plan.tsv"))
    B, steps = o["batch"], o["steps"]
    if len(plan) < B * steps:
        print("plan.tsv has %d examples, %d steps of %d need %d"
              % (len(plan), steps, B, B * steps), file=sys.stderr)
        return 1
    opt = Adam({k: p for k, p in model.params.items() if p.numel()}, o)
    t0, c0 = time.perf_counter(), time.process_time()
    total = 0.0
    for s in range(steps):
        loss = tw.loss_batch(model, plan[s * B:(s + 1) * B])
        loss.backward()
        opt.step()
        total += loss.item()
    sec, csec = time.perf_counter() - t0, time.process_time() - c0
    os.makedirs(a.out_dir, exist_ok=True)
    for name, p in model.params.items():
        p.detach().to(torch.float32).numpy().astype("<f4").tofile(
            os.path.join(a.out_dir, name + ".f32"))
    n = B * steps
    print("torch_examples=%d torch_seconds=%.3f torch_examples_per_s=%.1f "
          "torch_threads=%d torch_mean_loss=%.6f torch_dtype=%s "
          "torch_cpu_seconds=%.3f torch_examples_per_cpu_s=%.1f"
          % (n, sec, n / sec, torch.get_num_threads(), total / n, a.dtype,
             csec, n / csec))
    return 0


if __name__ == "__main__":
    sys.exit(main())
