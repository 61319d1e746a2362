/* bench/scan: stage-1 scan throughput (products per second) of libanthem's
 * tight loop on random points, against the memory-copy bandwidth of this
 * machine measured in the same process.  bench/scan/run adds faiss.
 * usage: scan N DIM [THREADS]  -> one line of key=value results */
#include "common/parallel.h"
#include "search/scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static float unif(void)
{
	rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
	return (float)((rng * 0x2545f4914f6cdd1dULL) >> 40) / 16777216.0f - 0.5f;
}

typedef struct job {
	const ath_scan_query *q;
	const float *pts;
	const double *n2;
	float *out;
	size_t n, d, chunks;
} job;

static void chunk(size_t c, size_t tid, void *arg)
{
	job *j = arg;
	(void)tid;
	size_t lo = j->n * c / j->chunks, hi = j->n * (c + 1) / j->chunks;
	for (size_t i = lo; i < hi; i++)
		j->out[i] = ath_scan_one(j->q, j->pts + i * j->d, j->n2[i]);
}

int main(int argc, char **argv)
{
	if (argc < 3 || !strcmp(argv[1], "--help")) {
		printf("usage: scan N DIM [THREADS]\n");
		return argc < 3 ? 2 : 0;
	}
	size_t n = strtoul(argv[1], NULL, 10), d = strtoul(argv[2], NULL, 10);
	size_t threads = argc > 3 ? strtoul(argv[3], NULL, 10) : 1;
	if (!n || !d || d > ATH_SCAN_MAX_DIM || !threads) {
		fprintf(stderr, "scan: bad N, DIM or THREADS\n");
		return 2;
	}
	float *pts = malloc(n * d * sizeof *pts), *out = malloc(n * sizeof *out);
	float *copy = malloc(n * d * sizeof *copy);
	double *n2 = malloc(n * sizeof *n2);
	if (!pts || !out || !copy || !n2) {
		fprintf(stderr, "scan: out of memory\n");
		return 1;
	}
	/* points inside the unit ball, like a trained index */
	for (size_t i = 0; i < n; i++) {
		double s = 0.0;
		for (size_t k = 0; k < d; k++) {
			pts[i * d + k] = unif() * 1.6f / (float)d;
			s += (double)pts[i * d + k] * pts[i * d + k];
		}
		n2[i] = s;
	}
	float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
	for (size_t k = 0; k < d; k++) {
		c[k] = unif() * 0.2f;
		l[k] = 0.05f + 0.05f * unif();
	}
	geo_space s = {GEO_HYPERBOLIC, 1.0};
	ath_scan_query *q = malloc(sizeof *q);
	ath_scan_prepare(&s, d, c, l, 0.5f, q);
	job j = {q, pts, n2, out, n, d, threads * 8};
	/* best of several runs, each at least 0.3 s */
	double best_scan = 1e30, best_copy = 1e30;
	for (int rep = 0; rep < 5; rep++) {
		size_t iters = 0;
		double t0 = now(), t;
		do {
			ath_parallel_for(j.chunks, threads, chunk, &j);
			iters++;
		} while ((t = now() - t0) < 0.3);
		if (t / (double)iters < best_scan)
			best_scan = t / (double)iters;
		iters = 0;
		t0 = now();
		do {
			memcpy(copy, pts, n * d * sizeof *pts);
			iters++;
		} while ((t = now() - t0) < 0.3);
		if (t / (double)iters < best_copy)
			best_copy = t / (double)iters;
	}
	double checksum = 0.0;
	for (size_t i = 0; i < n; i++)
		checksum += out[i];
	double bytes = (double)n * (double)(d * sizeof(float) + sizeof(double));
	double bw = (double)n * d * sizeof(float) / best_copy; /* bytes copied/s */
	printf("n=%zu dim=%zu threads=%zu scan_products_per_s=%.4g "
	       "copy_bytes_per_s=%.4g bound_products_per_s=%.4g "
	       "bytes_per_product=%.0f checksum=%.6g\n",
	       n, d, threads, (double)n / best_scan, bw, bw / (bytes / n),
	       bytes / n, checksum);
	free(q);
	free(pts);
	free(out);
	free(copy);
	free(n2);
	return 0;
}
