/* bench/scan: stage-1 scan throughput (products per second) of libanthem's
 * scan (anthem_index_scan_threads, top 200, the library's own path: blocked
 * float loop, per-thread heaps, merge) on random points, against the
 * memory-copy bandwidth of this machine measured in the same process, and
 * the resident memory of the index loaded from a file.  bench/scan/run adds
 * faiss.
 * usage: scan N DIM [THREADS [DIR]]  -> one line of key=value results
 * (THREADS: 1 by default, 0 for all cores; DIR: where the index file for
 * the memory measurement goes, the current directory by default) */
#include "common/parallel.h"
#include "search/scan.h"

#include <anthem/anthem.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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

/* resident set size in bytes (VmRSS of /proc/self/status) */
static double rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kb * 1024.0;
}

/* the copy bandwidth with the same number of threads as the scan */
typedef struct copy_job {
	float *dst;
	const float *src;
	size_t floats, chunks;
} copy_job;

static void copy_chunk(size_t c, size_t tid, void *arg)
{
	copy_job *j = arg;
	(void)tid;
	size_t lo = j->floats * c / j->chunks, hi = j->floats * (c + 1) / j->chunks;
	memcpy(j->dst + lo, j->src + lo, (hi - lo) * sizeof(float));
}

/* and the read bandwidth: a copy moves every byte twice (read, write), a
 * scan only reads, so a scan can beat the copy bound; summing the array is
 * the tighter bound */
typedef struct read_job {
	const float *src;
	size_t floats, chunks;
	float sums[64];
} read_job;

static void read_chunk(size_t c, size_t tid, void *arg)
{
	read_job *j = arg;
	(void)tid;
	size_t lo = j->floats * c / j->chunks, hi = j->floats * (c + 1) / j->chunks;
	float acc[16] = {0};
	size_t i = lo;
	for (; i + 16 <= hi; i += 16)
		for (size_t k = 0; k < 16; k++)
			acc[k] += j->src[i + k];
	for (; i < hi; i++)
		acc[0] += j->src[i];
	float s = 0;
	for (size_t k = 0; k < 16; k++)
		s += acc[k];
	j->sums[c % 64] = s;
}

/* the arrays of the bounds in transparent huge pages, like the index
 * (lib/search/search.c), so that the bounds pay no more TLB misses than
 * the scan */
static float *huge_floats(size_t n)
{
	const size_t huge = (size_t)2 << 20;
	size_t bytes = (n * sizeof(float) + huge - 1) / huge * huge;
	float *p = aligned_alloc(huge, bytes);
	if (p)
		madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 3 || !strcmp(argv[1], "--help")) {
		printf("usage: scan N DIM [THREADS (1; 0: all cores) [DIR]]\n");
		return argc < 3 ? 2 : 0;
	}
	size_t n = strtoul(argv[1], NULL, 10), d = strtoul(argv[2], NULL, 10);
	/* the count the library's scan really uses (0: all cores, at most
	 * ATH_MAX_THREADS): the copy and read bounds and the printed line
	 * then speak of the same threads */
	size_t threads = ath_threads(argc > 3 ? strtoul(argv[3], NULL, 10) : 1);
	const char *dir = argc > 4 ? argv[4] : ".";
	if (!n || !d || d > ATH_SCAN_MAX_DIM) {
		fprintf(stderr, "scan: bad N, DIM or THREADS\n");
		return 2;
	}
	const size_t k = 200;
	double rss0 = rss();
	float *pts = huge_floats(n * d);
	anthem_hit *hits = malloc(k * sizeof *hits);
	if (!pts || !hits) {
		fprintf(stderr, "scan: out of memory\n");
		return 1;
	}
	/* points inside the unit ball, like a trained index */
	for (size_t i = 0; i < n * d; i++)
		pts[i] = unif() * 1.6f / (float)d;
	anthem_index *built, *ix;
	char path[4096];
	snprintf(path, sizeof path, "%s/anthem-bench-scan-%ld.idx", dir, (long)getpid());
	if (ath_index_from_points(&built, pts, n, d) ||
	    anthem_index_save(built, path)) {
		fprintf(stderr, "scan: %s\n", anthem_last_error());
		return 1;
	}
	anthem_index_free(built);
	/* the memory of an index as a search process holds it: loaded */
	double rss1 = rss();
	if (anthem_index_load(&ix, path, NULL)) {
		fprintf(stderr, "scan: %s\n", anthem_last_error());
		return 1;
	}
	double index_rss = rss() - rss1;
	unlink(path);
	(void)rss0;

	float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
	for (size_t i = 0; i < d; i++) {
		c[i] = unif() * 0.2f;
		l[i] = 0.05f + 0.05f * unif();
	}
	anthem_hyperboloid *h;
	if (anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f, d, c, l)) {
		fprintf(stderr, "scan: %s\n", anthem_last_error());
		return 1;
	}
	float *copy = huge_floats(n * d);
	if (!copy) {
		fprintf(stderr, "scan: out of memory\n");
		return 1;
	}
	copy_job cj = {copy, pts, n * d, threads};
	read_job rj = {pts, n * d, threads, {0}};
	/* best of several runs, each at least 0.3 s */
	double best_scan = 1e30, best_copy = 1e30, best_read = 1e30;
	size_t nh = 0;
	for (int rep = 0; rep < 5; rep++) {
		size_t iters = 0;
		double t0 = now(), t;
		do {
			if (anthem_index_scan_threads(ix, h, 0.5f, k, threads, hits, &nh)) {
				fprintf(stderr, "scan: %s\n", anthem_last_error());
				return 1;
			}
			iters++;
		} while ((t = now() - t0) < 0.3);
		if (t / (double)iters < best_scan)
			best_scan = t / (double)iters;
		iters = 0;
		t0 = now();
		do {
			ath_parallel_for(threads, threads, copy_chunk, &cj);
			iters++;
		} while ((t = now() - t0) < 0.3);
		if (t / (double)iters < best_copy)
			best_copy = t / (double)iters;
		iters = 0;
		t0 = now();
		do {
			ath_parallel_for(threads, threads, read_chunk, &rj);
			iters++;
		} while ((t = now() - t0) < 0.3);
		if (t / (double)iters < best_read)
			best_read = t / (double)iters;
	}
	/* what the scan streams per product: its floats and its float norm */
	double bytes = (double)(d * sizeof(float) + sizeof(float));
	double bw = (double)n * d * sizeof(float) / best_copy; /* bytes copied/s */
	double rbw = (double)n * d * sizeof(float) / best_read; /* bytes read/s */
	printf("n=%zu dim=%zu threads=%zu scan_products_per_s=%.4g "
	       "copy_bytes_per_s=%.4g bound_products_per_s=%.4g "
	       "read_bytes_per_s=%.4g read_bound_products_per_s=%.4g "
	       "bytes_per_product=%.0f index_rss_bytes=%.0f "
	       "rss_bound_bytes=%.0f first=%zu:%.6g\n",
	       n, d, threads, (double)n / best_scan, bw, bw / bytes, rbw,
	       rbw / bytes, bytes,
	       index_rss, 1.1 * (double)n * (double)(4 * d + 8),
	       nh ? hits[0].index : 0, nh ? hits[0].distance : 0.0);
	anthem_hyperboloid_free(h);
	anthem_index_free(ix);
	free(pts);
	free(copy);
	free(hits);
	return 0;
}
