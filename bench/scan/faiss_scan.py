"""faiss's flat inner-product scan on N random d-dim vectors, top 200:
products per second (the baseline of bench/scan/run).  With THREADS = 1 one
query per search; with more, THREADS queries per search, because faiss
spreads a search over its queries, not over the products of one query
(products/s then counts every query's N).
usage: /usr/bin/python3 faiss_scan.py N DIM THREADS"""
import os
import sys
import time

# Threads that wait for work sleep rather than spin: on a machine shared
# with other jobs, spinning OpenMP threads took faiss from 49 M to 13 M
# products/s at 2 threads (N = 100k, d = 32).  Set before faiss loads
# libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import faiss
    import numpy as np
except ImportError as e:
    print("SKIP: faiss or numpy not importable (%s)" % e)
    sys.exit(77)

n, d, threads = (int(x) for x in sys.argv[1:4])
faiss.omp_set_num_threads(threads)
rng = np.random.default_rng(1)
xb = rng.standard_normal((n, d), dtype=np.float32)
xq = rng.standard_normal((threads, d), dtype=np.float32)
index = faiss.IndexFlatIP(d)
index.add(xb)
best = 1e30
for _ in range(5):
    iters, t0 = 0, time.perf_counter()
    while True:
        index.search(xq, 200)
        iters += 1
        t = time.perf_counter() - t0
        if t >= 0.3:
            break
    best = min(best, t / iters)
print("n=%d dim=%d threads=%d faiss_products_per_s=%.4g" % (n, d, threads, threads * n / best))
