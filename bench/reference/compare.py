#!/usr/bin/python3
"""Compare a libanthem weight dump (tests/twin-dump) with the PyTorch twin.

    compare.py DUMP_DIR [--score-tol 1e-4] [--loss-tol 1e-6] [--grad-tol 1e-3]

Checks, in order (docs/network.md, appendix):
  (a) trigrams.tsv: the twin's bucket ids equal the dump's exactly;
  (b) scores.tsv:   d1 and d2 of every product of every case, relative
                    difference |c - t| / max(|t|, 1e-3) <= score tol;
  (c) loss.txt:     the summed loss of all cases, same relative measure;
  (d) grad/*.f32:   gradient of the summed loss for every parameter,
                    max |g_c - g_t| <= grad_tol * max(max |g_t|, 1e-6).

c is the C library's value (the dump), t the twin's (float64).

Exit status: 0 pass, 1 mismatch, 77 (Meson's skip code) if torch or numpy
cannot be imported.  Needs Debian's /usr/bin/python3 with python3-torch.

Default tolerances.  The C side stores parameters and intermediate vectors
in float32 (relative rounding 6e-8) and computes reductions and
transcendentals in double; the twin reads the very same float32 parameters
and does everything in float64.  A score passes through a few dozen float32
roundings, so its error is ~1e-7..1e-6 relative; --score-tol 1e-4 leaves a
wide margin while any formula error shows as 1e-3 or worse (reversing the
operands of one Moebius subtraction in d_in gives 2.5e-3).  The summed loss
is a sum of many scores whose errors partly cancel, and at initialisation it
is insensitive to small formula errors (the reversed subtraction moves it by
only 4e-6), so it gets its own, tighter --loss-tol 1e-6.  Gradients
accumulate more roundings (backward through softmaxes, Moebius ops, the
gathers into the tables), and the bias gradients are sums of many cancelling
terms, hence the measure relative to the tensor's largest gradient and the
default --grad-tol 1e-3.

Observed against tests/twin-dump (all three geometries; dims 4 to 32;
curvature 0.1 to 4; 200 to 300 cases; 4 or 9 negatives): scores at most
5.4e-7 relative, loss at most 6.3e-9, gradients at most 4.4e-5 (a bias,
query_att_b) and at most 1e-6 for every weight matrix and table.  The
defaults therefore leave a margin of at least about 20x, and formula
errors are caught by a factor of 100 or more.
"""

import argparse
import os
import sys


def fail_import(e):
    print("SKIP: cannot import torch/numpy under %s (%s); install python3-torch "
          "and python3-numpy (Debian) and run with /usr/bin/python3"
          % (sys.executable, e))
    sys.exit(77)


try:
    import numpy as np
    import torch
except Exception as e:  # ImportError, or a broken install
    fail_import(e)

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anthem_twin as tw  # noqa: E402


def read_lines(path):
    """Lines of a file as bytes (texts are compared byte for byte); only
    '\\n' ends a line so that '\\r', '\\v', '\\f' inside texts survive."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def rel(c, t):
    return abs(c - t) / max(abs(t), 1e-3)


def check_trigrams(model, dump):
    path = os.path.join(dump, "trigrams.tsv")
    n = bad = 0
    for lineno, line in enumerate(read_lines(path), 1):
        if not line:
            continue
        fields = line.split(b"\t")
        if len(fields) != 3 or fields[0] not in (b"q", b"t"):
            print("  trigrams.tsv:%d: malformed line %r" % (lineno, line[:80]))
            bad += 1
            continue
        kind, text, ids = fields
        want = [int(x) for x in ids.split(b",") if x.strip()]
        got = tw.trigrams(model, text, kind.decode())
        n += 1
        if got != want:
            bad += 1
            if bad <= 5:
                print("  trigrams.tsv:%d: %s %r\n    C:    %s\n    twin: %s"
                      % (lineno, kind.decode(), text, want, got))
    return n, bad


def read_cases(dump):
    cases = []
    for line in read_lines(os.path.join(dump, "cases.tsv")):
        if line:
            fields = line.split(b"\t")
            cases.append((fields[0], fields[1:]))
    return cases


def read_scores(dump):
    scores = {}
    for line in read_lines(os.path.join(dump, "scores.tsv")):
        fields = line.split(b"\t")
        try:
            ci, pi = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            continue  # header or blank line
        scores[(ci, pi)] = (float(fields[2]), float(fields[3]))
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump_dir")
    ap.add_argument("--score-tol", type=float, default=1e-4)
    ap.add_argument("--loss-tol", type=float, default=1e-6,
                    help="relative tolerance of the summed loss")
    ap.add_argument("--grad-tol", type=float, default=1e-3)
    args = ap.parse_args()
    dump = args.dump_dir
    torch.set_default_dtype(torch.float64)

    model = tw.load(dump)
    cfg = model.config
    print("dump %s: geometry %s, dim %d, curvature %g, buckets %d, gamma %g"
          % (dump, cfg["geometry"], cfg["dim"], cfg["curvature"],
             cfg["buckets"], cfg["gamma"]))
    rows = []          # (check, measure, value, limit, ok)

    # (a) trigrams
    n, bad = check_trigrams(model, dump)
    rows.append(("trigrams", "%d texts, mismatches" % n, bad, 0, bad == 0 and n > 0))

    # (b) scores and (c) loss
    cases = read_cases(dump)
    cscores = read_scores(dump)
    worst = {"d1": (0.0, None), "d2": (0.0, None)}
    missing = 0
    total = torch.zeros((), dtype=torch.float64)
    for ci, (query, titles) in enumerate(cases):
        ds = tw.scores_all(model, query, titles)
        for pi, (d1, d2) in enumerate(ds):
            if (ci, pi) not in cscores:
                missing += 1
                continue
            c1, c2 = cscores[(ci, pi)]
            for key, cv, tv in (("d1", c1, d1.item()), ("d2", c2, d2.item())):
                r = rel(cv, tv)
                if r != r:   # NaN on either side
                    r = float("inf")
                if worst[key][1] is None or r > worst[key][0]:
                    worst[key] = (r, (ci, pi, cv, tv))
        total = total + tw.loss_from_scores(ds, cfg["logit_scale"])
    for key in ("d1", "d2"):
        r, where = worst[key]
        rows.append(("scores %s" % key, "max rel diff", r, args.score_tol,
                     r <= args.score_tol and missing == 0 and len(cscores) > 0))
        if where:
            print("  worst %s: case %d product %d: C %.9g twin %.9g"
                  % ((key,) + where))
    if missing:
        print("  scores.tsv lacks %d (case, product) pairs" % missing)

    with open(os.path.join(dump, "loss.txt")) as f:
        closs = float(f.read().split()[0])
    tloss = total.item()
    rl = rel(closs, tloss)
    print("  loss: C %.12g twin %.12g" % (closs, tloss))
    rows.append(("loss", "rel diff", rl, args.loss_tol, rl <= args.loss_tol))

    # (d) gradients
    model.zero_grad()
    total.backward()
    shapes = tw.param_shapes(cfg["buckets"], cfg["dim"], cfg["tie_embeddings"])
    grad_rows = []
    for name in tw.PARAM_NAMES:
        path = os.path.join(dump, "grad", name + ".f32")
        if not os.path.exists(path):
            rows.append(("grad " + name, "file missing", float("nan"), 0, False))
            continue
        gc = torch.from_numpy(tw.read_f32(path, shapes[name]).astype(np.float64))
        p = model.params[name]
        if p.numel() == 0:  # title_point when the tables are tied
            continue
        gt = p.grad if p.grad is not None else torch.zeros_like(p)
        diff = (gc - gt).abs()
        maxdiff = diff.max().item()
        scale = max(gt.abs().max().item(), 1e-6)
        ok = bool(torch.isfinite(gc).all()) and maxdiff <= args.grad_tol * scale
        grad_rows.append((name, maxdiff, gt.abs().max().item(),
                          gc.abs().max().item(), maxdiff / scale, ok))

    # summary
    print()
    print("%-22s %-26s %12s %12s  %s" % ("check", "measure", "value", "limit", "result"))
    for check, measure, value, limit, ok in rows:
        print("%-22s %-26s %12.4g %12.4g  %s"
              % (check, measure, value, limit, "ok" if ok else "MISMATCH"))
    print()
    print("%-22s %12s %12s %12s %12s %12s  %s"
          % ("gradient", "max|gc-gt|", "max|gt|", "max|gc|", "rel", "limit", "result"))
    for name, md, mt, mc, r, ok in grad_rows:
        print("%-22s %12.4g %12.4g %12.4g %12.4g %12.4g  %s"
              % (name, md, mt, mc, r, args.grad_tol, "ok" if ok else "MISMATCH"))
    all_ok = all(r[4] for r in rows) and all(r[5] for r in grad_rows)
    print()
    print("PASS" if all_ok else "FAIL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
