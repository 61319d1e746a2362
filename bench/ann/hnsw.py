#!/usr/bin/env python3
"""hnswlib on the same points as bench/ann (bench/ann/run calls this).

usage: bench/ann/hnsw.py TANGENT_FILE TARGET_RECALL [--m 32] [--ef-construction 128]

TANGENT_FILE (written by `build/bench/ann --tangent`): three little-endian
u64 (n, queries, d), the n product points' tangent vectors at the origin
(log map), then each query region's centre's.  hnswlib indexes the points
with its own L2 distance; the reference is the exact L2 top K1 = 200 of
each query centre (numpy); ef grows until hnswlib's recall of it reaches
TARGET_RECALL (libanthem's graph's recall of its own exact top K1).
Prints key=value lines: build time, resident memory the index added,
recall and queries/s (one query at a time, 1 thread; and a batch on 2).
"""
import argparse
import sys
import time

import hnswlib
import numpy as np

K1 = 200


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tangent")
    ap.add_argument("target", type=float)
    ap.add_argument("--m", type=int, default=24)
    ap.add_argument("--ef-construction", type=int, default=128)
    a = ap.parse_args()
    raw = np.fromfile(a.tangent, dtype=np.uint8)
    n, nq, d = np.frombuffer(raw[:24].tobytes(), dtype="<u8")
    n, nq, d = int(n), int(nq), int(d)
    f = np.frombuffer(raw[24:].tobytes(), dtype="<f4")
    pts = f[: n * d].reshape(n, d)
    qs = f[n * d: (n + nq) * d].reshape(nq, d)
    del raw, f
    # the exact L2 top K1, in chunks of queries
    truth = np.empty((nq, K1), dtype=np.int64)
    p2 = (pts.astype(np.float64) ** 2).sum(1)
    for lo in range(0, nq, 16):
        q = qs[lo: lo + 16].astype(np.float64)
        dist = p2[None, :] - 2.0 * q @ pts.T.astype(np.float64)
        truth[lo: lo + 16] = np.argpartition(dist, K1, axis=1)[:, :K1]
    r0 = rss()
    t0 = time.time()
    ix = hnswlib.Index(space="l2", dim=d)
    ix.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction,
                  random_seed=1)
    ix.set_num_threads(2)
    ix.add_items(pts, np.arange(n))
    build = time.time() - t0
    mem = rss() - r0
    print(f"hnswlib n={n} d={d} M={a.m} ef_construction={a.ef_construction} "
          f"threads=2 build_s={build:.1f} rss_growth_bytes={mem}")
    sys.stdout.flush()
    ix.set_num_threads(1)
    ef = K1
    while True:
        ix.set_ef(ef)
        t0 = time.time()
        lab = np.empty((nq, K1), dtype=np.int64)
        for i in range(nq):
            lab[i] = ix.knn_query(qs[i: i + 1], k=K1)[0][0]
        one = time.time() - t0
        rec = np.mean([len(np.intersect1d(lab[i], truth[i])) / K1
                       for i in range(nq)])
        ix.set_num_threads(2)
        t0 = time.time()
        ix.knn_query(qs, k=K1)
        batch = time.time() - t0
        ix.set_num_threads(1)
        print(f"hnswlib ef={ef} recall_at_k1={rec:.4f} "
              f"qps_one_at_a_time={nq / one:.1f} qps_batch_2threads="
              f"{nq / batch:.1f}")
        sys.stdout.flush()
        if rec >= a.target or ef >= 8192:
            break
        ef *= 2


if __name__ == "__main__":
    main()
