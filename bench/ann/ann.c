/* bench/ann: the approximate stage-1 index against the exact scan, on the
 * synthetic catalogue and default model of bench/query (d = 32, K1 = 200).
 *
 * usage: ann --dir DIR --n N [--queries Q] [--degree R] [--ef-construction E]
 *            [--ef E1,E2,...] [--threads T] [--tangent FILE] [--no-e2e]
 *
 * DIR holds what `bench/query --prepare` made (default-model.anthem,
 * catalog-N.tsv, index-N-<fingerprint>.anthem).  In one run: the exact
 * scan's top K1 of Q queries (the reference) and its time; the graph built
 * over the index's points (time, peak RSS); for each ef the graph's stage-1
 * recall of the exact top K1, the distances it computed against the
 * scan's N, its stage-1 p50 / p99; the same graph with int8 points; the
 * index saved with the graph (size on disk) and loaded back, the pages of
 * each part that stage 1 made resident (mincore); end to end, anthem_search_ex
 * one query at a time on 2 threads and anthem_search_batch of the Q
 * queries, graph against scan.  --tangent FILE writes the points' and the
 * queries' tangent vectors at the origin (log map; the query's centre) and
 * the graph's recall, for bench/ann/hnsw.py.  Prints key=value lines. */
#include "search/index_internal.h"
#include "search/scan.h"

#include "common/parallel.h"
#include "model/model_internal.h"

#include <anthem/anthem.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { K1 = 200 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_maxrss * 1024.0;
}

static void die(const char *what)
{
	fprintf(stderr, "ann: %s: %s\n", what, anthem_last_error());
	exit(1);
}

static uint64_t rng_state = 0x5eed5eed12345ULL;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* queries as bench/query makes them: 1 to 4 Zipf-like words of the
 * fixture's titles (its vocabulary, read from the catalogue's titles) */
static char **vocab;
static size_t nvocab;

static void load_vocab(const anthem_index *ix)
{
	size_t cap = 0;
	for (size_t i = 0; i < anthem_index_count(ix) && nvocab < 20000; i += 97) {
		char buf[1024];
		snprintf(buf, sizeof buf, "%s", anthem_index_title(ix, i));
		for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
			int dup = 0;
			for (size_t j = 0; j < nvocab && !dup; j++)
				dup = !strcmp(vocab[j], w);
			if (dup)
				continue;
			if (nvocab == cap) {
				cap = cap ? 2 * cap : 1024;
				vocab = realloc(vocab, cap * sizeof *vocab);
			}
			vocab[nvocab++] = strdup(w);
		}
	}
}

static const char *word(void)
{
	double u = (double)(rnd() >> 11) * 0x1.0p-53;
	double lo = 10.0, hi = (double)nvocab + 10.0;
	size_t i = (size_t)(lo * exp(u * log(hi / lo)) - lo);
	return vocab[i < nvocab ? i : nvocab - 1];
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmpd);
	size_t i = (size_t)ceil(p * (double)n) - 1;
	return v[i < n ? i : n - 1];
}

static int cmpz(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* |a ∩ b| / |b| over positions */
static double recall(const anthem_hit *a, size_t na, const anthem_hit *b,
		     size_t nb)
{
	size_t *s = malloc((nb ? nb : 1) * sizeof *s), hit = 0;
	for (size_t i = 0; i < nb; i++)
		s[i] = b[i].index;
	qsort(s, nb, sizeof *s, cmpz);
	for (size_t i = 0; i < na; i++)
		hit += bsearch(&a[i].index, s, nb, sizeof *s, cmpz) != NULL;
	free(s);
	return nb ? (double)hit / (double)nb : 1.0;
}

/* resident bytes of [p, p + len) (pages wholly or partly inside) */
static double resident(const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)p / (uintptr_t)page * (uintptr_t)page;
	uintptr_t hi = ((uintptr_t)p + len + (uintptr_t)page - 1) /
		       (uintptr_t)page * (uintptr_t)page;
	size_t np = (hi - lo) / (size_t)page;
	unsigned char *v = malloc(np ? np : 1);
	if (!v || mincore((void *)lo, hi - lo, v)) {
		free(v);
		return -1;
	}
	double r = 0;
	for (size_t i = 0; i < np; i++)
		r += v[i] & 1;
	free(v);
	return r * (double)page;
}

typedef struct qset {
	size_t nq, d;
	char **text;
	ath_scan_query *sq;
	anthem_hit *exact; /* nq x K1 */
	size_t *nexact;
} qset;

/* The graph over the queries at beam width ef: mean recall of the exact
 * top K1 (returned), mean distances, stage-1 p50 / p99 (ms); into keep the
 * hits. */
static double graph_run(const anthem_index *ix, const qset *qs, size_t ef,
		      const char *label, anthem_hit *keep)
{
	double *lat = malloc(qs->nq * sizeof *lat), rec = 0, dist = 0;
	anthem_hit *h = malloc(K1 * sizeof *h);
	float *work = aligned_alloc(64, ath_scan_work_floats(ATH_SCAN_MAX_DIM) *
					    sizeof(float));
	for (size_t q = 0; q < qs->nq; q++) {
		size_t n;
		ath_ann_stats st;
		double t0 = now();
		if (ath_ann_search(&ix->ann, &qs->sq[q], ix->n, ix->blocks,
				   ix->norm2, K1, ef, work, h, &n, &st, "ann"))
			die("graph search");
		lat[q] = now() - t0;
		rec += recall(h, n, qs->exact + q * K1, qs->nexact[q]);
		dist += (double)st.distances;
		if (keep)
			memcpy(keep + q * K1, h, n * sizeof *h);
	}
	double nq = (double)qs->nq;
	printf("graph points=%s ef=%zu recall_at_k1=%.4f distances=%.0f "
	       "scan_distances=%zu fewer=%.1f stage1_p50_ms=%.3f "
	       "stage1_p99_ms=%.3f\n", label, ef, rec / nq, dist / nq, ix->n,
	       (double)ix->n / (dist / nq), 1e3 * pct(lat, qs->nq, 0.5),
	       1e3 * pct(lat, qs->nq, 0.99));
	fflush(stdout);
	free(lat);
	free(h);
	free(work);
	return rec / nq;
}

/* End to end: one query at a time on 2 threads, then one batch. */
static void e2e(const anthem_model *m, const anthem_index *ix, const qset *qs,
		int stage1, size_t ef, const char *label)
{
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.threads = 2;
	o.stage1 = stage1;
	o.ef = ef;
	double *lat = malloc(qs->nq * sizeof *lat);
	anthem_hit hits[10];
	for (size_t q = 0; q < qs->nq; q++) {
		size_t n;
		double t0 = now();
		if (anthem_search_ex(m, ix, qs->text[q], &o, hits, &n))
			die("anthem_search_ex");
		lat[q] = now() - t0;
	}
	anthem_hit *all = malloc(qs->nq * 10 * sizeof *all);
	size_t *counts = malloc(qs->nq * sizeof *counts);
	double t0 = now();
	if (anthem_search_batch(m, ix, (const char *const *)qs->text, qs->nq, &o,
				all, counts))
		die("anthem_search_batch");
	double bs = now() - t0;
	printf("e2e stage1=%s ef=%zu threads=2 p50_ms=%.2f p99_ms=%.2f "
	       "batch_queries=%zu batch_s=%.2f batch_qps=%.1f\n", label, ef,
	       1e3 * pct(lat, qs->nq, 0.5), 1e3 * pct(lat, qs->nq, 0.99), qs->nq,
	       bs, (double)qs->nq / bs);
	fflush(stdout);
	free(lat);
	free(all);
	free(counts);
}

static size_t ann_bytes(const ath_ann *a, size_t n, size_t d)
{
	return n * a->degree * 4 + a->nentry * 4 +
	       (a->int8 ? n * a->cstride + d * 4 : n * d * 4);
}

int main(int argc, char **argv)
{
	size_t n = 1000000, nq = 1000, degree = 32, efc = 128, threads = 0;
	const char *dir = "build/bench-query", *efs = "200,400,800",
		   *tangent = NULL;
	int do_e2e = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
			nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--degree") && i + 1 < argc)
			degree = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--ef-construction") && i + 1 < argc)
			efc = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--ef") && i + 1 < argc)
			efs = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--tangent") && i + 1 < argc)
			tangent = argv[++i];
		else if (!strcmp(argv[i], "--no-e2e"))
			do_e2e = 0;
		else {
			printf("usage: ann --dir DIR --n N [--queries Q] [--degree R] "
			       "[--ef-construction E] [--ef E1,E2,...] [--threads T] "
			       "[--tangent FILE] [--no-e2e]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	char path[4096], idx_path[4096], ann_path[4200];
	snprintf(path, sizeof path, "%s/default-model.anthem", dir);
	anthem_model *m;
	if (anthem_model_load(&m, path))
		die(path);
	snprintf(idx_path, sizeof idx_path, "%s/index-%zu-%016llx.anthem", dir, n,
		 (unsigned long long)anthem_model_fingerprint(m));
	anthem_index *ix;
	if (anthem_index_load(&ix, idx_path, m))
		die(idx_path);
	size_t d = ix->dim;
	load_vocab(ix);

	/* the queries, their regions, the exact top K1 */
	qset qs = {.nq = nq, .d = d};
	qs.text = malloc(nq * sizeof *qs.text);
	qs.sq = malloc(nq * sizeof *qs.sq);
	qs.exact = malloc(nq * K1 * sizeof *qs.exact);
	qs.nexact = malloc(nq * sizeof *qs.nexact);
	float *centres = malloc(nq * d * sizeof *centres);
	double *lat = malloc(nq * sizeof *lat);
	for (size_t q = 0; q < nq; q++) {
		char buf[256] = "";
		size_t words = 1 + rnd() % 4;
		for (size_t w = 0; w < words; w++) {
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof buf - len, "%s%s", w ? " " : "",
				 word());
		}
		qs.text[q] = strdup(buf);
		anthem_hyperboloid *h;
		if (anthem_model_embed_query(m, buf, &h))
			die("embed");
		float l[ATH_SCAN_MAX_DIM];
		anthem_hyperboloid_get(h, 0, 0, centres + q * d, l);
		ath_scan_prepare(&m->space, d, centres + q * d, l, m->cfg.gamma,
				 &qs.sq[q]);
		double t0 = now();
		if (anthem_index_scan(ix, h, m->cfg.gamma, K1, qs.exact + q * K1,
				      &qs.nexact[q]))
			die("scan");
		lat[q] = now() - t0;
		anthem_hyperboloid_free(h);
	}
	printf("scan n=%zu d=%zu queries=%zu k1=%d stage1_p50_ms=%.3f "
	       "stage1_p99_ms=%.3f\n", n, d, nq, K1, 1e3 * pct(lat, nq, 0.5),
	       1e3 * pct(lat, nq, 0.99));
	fflush(stdout);

	/* the graph, float points */
	anthem_index_options o;
	anthem_index_options_init(&o);
	o.ann_degree = degree;
	o.ann_ef = efc;
	o.threads = threads;
	double rss0 = peak_rss(), t0 = now();
	if (ath_index_add_ann(ix, &m->space, &o, "ann"))
		die("graph build");
	double build_s = now() - t0;
	printf("build n=%zu degree=%zu ef_construction=%zu threads=%zu "
	       "build_s=%.1f peak_rss_bytes=%.0f peak_rss_growth_bytes=%.0f\n",
	       n, degree, efc, ath_threads(threads), build_s, peak_rss(),
	       peak_rss() - rss0);
	fflush(stdout);
	size_t efv[16], nef = 0;
	for (const char *p = efs; *p && nef < 16;) {
		efv[nef++] = strtoul(p, (char **)&p, 10);
		if (*p == ',')
			p++;
		else
			break;
	}
	/* the smallest ef whose recall reaches the target 0.95 (else the
	 * largest) is the one the rest of the run uses */
	anthem_hit *fl = malloc(nq * K1 * sizeof *fl);
	size_t ef = efv[nef - 1];
	double ef_recall = 0;
	for (size_t e = 0; e < nef; e++) {
		double r = graph_run(ix, &qs, efv[e], "float32", fl);
		ef_recall = r;
		if (r >= 0.95) {
			ef = efv[e];
			break;
		}
	}
	printf("chosen ef=%zu recall_at_k1=%.4f\n", ef, ef_recall);
	fflush(stdout);

	/* the points and the queries' centres in the tangent space at the
	 * origin, for hnswlib */
	if (tangent) {
		FILE *f = fopen(tangent, "wb");
		if (!f)
			die(tangent);
		float *u = malloc(d * sizeof *u), *pt = malloc(d * sizeof *pt);
		uint64_t hdr[3] = {n, nq, d};
		fwrite(hdr, sizeof hdr, 1, f);
		for (size_t i = 0; i < n; i++) {
			ath_scan_from_blocks(ix->blocks, i, i + 1, d, pt);
			geo_log0(&m->space, d, pt, u);
			fwrite(u, sizeof *u, d, f);
		}
		for (size_t q = 0; q < nq; q++) {
			geo_log0(&m->space, d, centres + q * d, u);
			fwrite(u, sizeof *u, d, f);
		}
		free(u);
		free(pt);
		if (fclose(f))
			die(tangent);
	}

	/* the same graph with int8 points */
	ath_ann *a = &ix->ann;
	size_t float_bytes = ann_bytes(a, n, d);
	float *scale = malloc(d * sizeof *scale);
	int8_t *codes = malloc(n * a->cstride);
	ath_quant_build(&m->space, a->rows, n, d, a->cstride, scale, codes);
	float *rows = a->owned_rows;
	a->owned_rows = NULL;
	a->rows = NULL;
	a->int8 = 1;
	a->scale = a->owned_scale = scale;
	a->codes = a->owned_codes = codes;
	size_t int8_bytes = ann_bytes(a, n, d);
	anthem_hit *i8 = malloc(nq * K1 * sizeof *i8);
	graph_run(ix, &qs, ef, "int8", i8);
	double agree = 0;
	for (size_t q = 0; q < nq; q++)
		agree += recall(i8 + q * K1, K1, fl + q * K1, K1);
	size_t scan_bytes = ath_scan_block_floats(n, d) * 4 +
			    ath_scan_block_floats(n, 1) * 4;
	printf("memory scan_points_bytes=%zu graph_bytes=%zu "
	       "float_stage1_bytes=%zu int8_stage1_bytes=%zu "
	       "int8_over_float=%.3f int8_points_over_float_points=%.3f "
	       "int8_recall_of_float_topk1=%.4f\n", scan_bytes,
	       n * a->degree * 4 + a->nentry * 4, float_bytes, int8_bytes,
	       (double)int8_bytes / (double)float_bytes,
	       (double)(n * a->cstride + d * 4) / (double)(n * d * 4),
	       agree / (double)nq);
	fflush(stdout);
	free(rows);

	/* saved with the int8 graph, loaded, searched: size and residency */
	snprintf(ann_path, sizeof ann_path, "%s/ann-%zu.anthem", dir, n);
	if (anthem_index_save(ix, ann_path))
		die("save");
	struct stat sb, so;
	stat(ann_path, &sb);
	stat(idx_path, &so);
	anthem_index_free(ix);
	if (anthem_index_load(&ix, ann_path, m))
		die(ann_path);
	graph_run(ix, &qs, ef, "int8-loaded", NULL);
	a = &ix->ann;
	printf("disk index_bytes=%lld ann_index_bytes=%lld "
	       "resident_after_stage1 graph=%.0f codes=%.0f scan_blocks=%.0f "
	       "of graph=%zu codes=%zu scan_blocks=%zu\n",
	       (long long)so.st_size, (long long)sb.st_size,
	       resident(a->adj, n * a->degree * 4),
	       resident(a->codes, n * a->cstride),
	       resident(ix->blocks, ath_scan_block_floats(n, d) * 4),
	       n * a->degree * 4, n * a->cstride, ath_scan_block_floats(n, d) * 4);
	fflush(stdout);
	if (do_e2e) {
		e2e(m, ix, &qs, ANTHEM_STAGE1_EXACT, 0, "exact");
		e2e(m, ix, &qs, ANTHEM_STAGE1_GRAPH, ef, "graph-int8");
	}
	unlink(ann_path);
	anthem_index_free(ix);
	anthem_model_free(m);
	return 0;
}
