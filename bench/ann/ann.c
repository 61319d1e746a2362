/* bench/ann: the approximate stage-1 index against the exact scan, on the
 * synthetic catalogue and default model of bench/query (d = 32, K1 = 200).
 *
 * usage: ann --dir DIR --n N [--queries Q] [--degree R] [--ef-construction E]
 *            [--ef E1,E2,...] [--threads T] [--tangent FILE] [--no-e2e]
 *            [--model M --index I] [--diag E1,E2,...]
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
 * queries, graph against the exact scan and the int8 scan without and
 * with its box prefilter.  --tangent FILE writes the points' and the
 * queries' tangent vectors at the origin (log map; the query's centre) and
 * the graph's recall, for bench/ann/hnsw.py.  --model and --index take
 * another model and an index it made (a trained model's catalogue; N is
 * then the index's), in place of DIR's.  --diag E1,... prints, instead of
 * the rest, why the beam misses (see diag()).  Prints key=value lines. */
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
		int stage1, size_t ef, size_t prefilter, const char *label)
{
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.threads = 2;
	o.stage1 = stage1;
	o.ef = ef;
	o.prefilter = prefilter;
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

/* ---- --diag: why the beam misses part of the exact top K1 ------------------- */

/* A plain beam over the graph (the library's, restated so that the start
 * and the distance can be varied): seeds, then the best-first walk that
 * stops when the nearest unexpanded node is farther than the ef-th kept.
 * Returns the distances computed; res gets the ef best. */
typedef float (*diag_fn)(const void *ctx, size_t i);
static size_t diag_beam(const ath_ann *a, size_t n, const uint32_t *seeds,
			size_t ns, diag_fn f, const void *ctx, size_t ef,
			ath_heap *res, uint32_t *stamp, uint32_t mark)
{
	anthem_hit *fr = malloc((n + 1) * sizeof *fr);
	size_t nf = 0, nd = 0;
	res->n = 0;
	res->k = ef;
	for (size_t e = 0; e < ns; e++) {
		if (stamp[seeds[e]] == mark)
			continue;
		stamp[seeds[e]] = mark;
		float d = f(ctx, seeds[e]);
		nd++;
		fr[nf++] = (anthem_hit){seeds[e], d};
		ath_heap_push(res, seeds[e], d);
	}
	while (nf) {
		size_t b = 0; /* linear pop: a diagnostic, not a hot path */
		for (size_t i = 1; i < nf; i++)
			if (fr[i].distance < fr[b].distance)
				b = i;
		anthem_hit c = fr[b];
		fr[b] = fr[--nf];
		if (res->n == res->k && c.distance > res->h[0].distance)
			break;
		for (size_t j = 0; j < a->degree; j++) {
			uint32_t u = a->adj[c.index * a->degree + j];
			if (u == ATH_ANN_NONE || stamp[u] == mark)
				continue;
			stamp[u] = mark;
			float d = f(ctx, u);
			nd++;
			if (res->n < res->k || d < res->h[0].distance) {
				fr[nf++] = (anthem_hit){u, d};
				ath_heap_push(res, u, d);
			}
		}
	}
	free(fr);
	return nd;
}

typedef struct dctx {
	const float *p; /* n x d row-major */
	size_t d;
	const ath_scan_query *q;
	double cc;
} dctx;

static float d_region(const void *c, size_t i)
{
	const dctx *x = c;
	const float *v = x->p + i * x->d;
	double v2 = 0;
	for (size_t k = 0; k < x->d; k++)
		v2 += (double)v[k] * v[k];
	return ath_scan_one(x->q, v, v2);
}

/* the order of the Poincaré distance to the region's centre */
static float d_centre(const void *c, size_t i)
{
	const dctx *x = c;
	const float *v = x->p + i * x->d;
	double e2 = 0, v2 = 0;
	for (size_t k = 0; k < x->d; k++) {
		double e = (double)v[k] - x->q->c[k];
		e2 += e * e;
		v2 += (double)v[k] * v[k];
	}
	return (float)(e2 / ((1 - x->cc * v2) * (1 - x->cc * x->q->c2)));
}

static int cmphit(const void *a, const void *b)
{
	const anthem_hit *x = a, *y = b;
	return (x->distance > y->distance) - (x->distance < y->distance);
}

static void diag(const anthem_index *ix, const qset *qs, double cc,
		 const char *efs)
{
	size_t n = ix->n, d = ix->dim, nq = qs->nq;
	const ath_ann *a = &ix->ann;
	float *p = malloc(n * d * sizeof *p);
	ath_scan_from_blocks(ix->blocks, 0, n, d, p);
	uint32_t *stamp = calloc(n, sizeof *stamp), mark = 0;
	anthem_hit *all = malloc(n * sizeof *all);
	anthem_hit *buf = malloc(8192 * sizeof *buf);
	double inside = 0, inside_top = 0, ties = 0, gap = 0;
	double in_c200 = 0, in_c1000 = 0, in_c5000 = 0, rank_p50 = 0;
	double cen_rec = 0, cen_nd = 0;
	size_t nefv = 0, efv[8];
	for (const char *s = efs; *s && nefv < 8;) {
		efv[nefv++] = strtoul(s, (char **)&s, 10);
		if (*s == ',')
			s++;
		else
			break;
	}
	double rec[4][8] = {{0}}, nd[4][8] = {{0}};
	for (size_t q = 0; q < nq; q++) {
		dctx x = {p, d, &qs->sq[q], cc};
		/* the outside part alone: the region's distance with gamma 0 */
		ath_scan_query q0 = qs->sq[q];
		q0.gamma = 0;
		dctx x0 = {p, d, &q0, cc};
		size_t nin = 0;
		for (size_t i = 0; i < n; i++)
			nin += d_region(&x0, i) == 0.0f;
		inside += (double)nin / (double)n;
		const anthem_hit *ex = qs->exact + q * K1;
		size_t k = qs->nexact[q], tin = 0;
		for (size_t i = 0; i < k; i++)
			tin += d_region(&x0, ex[i].index) == 0.0f;
		inside_top += (double)tin / (double)k;
		/* ties at the K1-th distance; the relative gap from the 1st */
		float dk = ex[k - 1].distance;
		size_t nt = 0;
		for (size_t i = 0; i < n; i++)
			nt += d_region(&x, i) == dk;
		ties += (double)nt;
		gap += (double)(dk - ex[0].distance) / (double)(dk > 0 ? dk : 1);
		/* where the exact top K1 ranks by the centre's point distance */
		for (size_t i = 0; i < n; i++)
			all[i] = (anthem_hit){i, d_centre(&x, i)};
		qsort(all, n, sizeof *all, cmphit);
		uint32_t *rank = (uint32_t *)malloc(n * sizeof *rank);
		for (size_t i = 0; i < n; i++)
			rank[all[i].index] = (uint32_t)i;
		size_t c2 = 0, c10 = 0, c50 = 0;
		double *rk = malloc(k * sizeof *rk);
		for (size_t i = 0; i < k; i++) {
			size_t r = rank[ex[i].index];
			c2 += r < 200;
			c10 += r < 1000;
			c50 += r < 5000;
			rk[i] = (double)r;
		}
		rank_p50 += pct(rk, k, 0.5) / (double)n;
		free(rk);
		in_c200 += (double)c2 / (double)k;
		in_c1000 += (double)c10 / (double)k;
		in_c5000 += (double)c50 / (double)k;
		/* the graph on its own metric: the centre's exact top 200 */
		ath_heap res = {buf, 0, 200};
		cen_nd += (double)diag_beam(a, n, a->entry, a->nentry, d_centre,
					    &x, 200, &res, stamp, ++mark);
		size_t hit = 0;
		for (size_t i = 0; i < res.n; i++)
			hit += rank[res.h[i].index] < 200;
		cen_rec += (double)hit / 200.0;
		/* the region's beam: 0 from the entries; 1 from the centre's
		 * beam (today's two phases); 2 from the exact top 1 (an
		 * oracle start); 3 from the exact top K1 (oracle: does the
		 * beam keep what it is given?) */
		for (size_t e = 0; e < nefv; e++) {
			size_t ef = efv[e];
			for (int mode = 0; mode < 4; mode++) {
				uint32_t seeds[8192];
				size_t ns = 0;
				if (mode == 0) {
					ns = a->nentry;
					memcpy(seeds, a->entry, ns * 4);
				} else if (mode == 1) {
					ath_heap r1 = {buf, 0, ef};
					nd[mode][e] += (double)diag_beam(
						a, n, a->entry, a->nentry, d_centre,
						&x, ef, &r1, stamp, ++mark);
					for (size_t i = 0; i < r1.n; i++)
						seeds[ns++] = (uint32_t)r1.h[i].index;
				} else if (mode == 2) {
					seeds[ns++] = (uint32_t)ex[0].index;
				} else {
					for (size_t i = 0; i < k; i++)
						seeds[ns++] = (uint32_t)ex[i].index;
				}
				ath_heap r = {buf, 0, ef};
				nd[mode][e] += (double)diag_beam(a, n, seeds, ns, d_region,
								 &x, ef, &r, stamp, ++mark);
				ath_heap_sort(&r);
				rec[mode][e] += recall(r.h, r.n < K1 ? r.n : K1, ex, k);
			}
		}
		free(rank);
	}
	double Q = (double)nq;
	printf("diag n=%zu queries=%zu inside_frac=%.5f top_k1_inside=%.4f "
	       "ties_at_k1=%.2f rel_gap_1_to_k1=%.4f top_k1_in_centre_top200=%.4f "
	       "in_top1000=%.4f in_top5000=%.4f centre_rank_p50_frac=%.4f\n",
	       n, nq, inside / Q, inside_top / Q, ties / Q, gap / Q, in_c200 / Q,
	       in_c1000 / Q, in_c5000 / Q, rank_p50 / Q);
	printf("diag graph_on_own_metric centre_top200_recall=%.4f distances=%.0f\n",
	       cen_rec / Q, cen_nd / Q);
	const char *names[4] = {"entries", "centre_beam", "oracle_top1",
				"oracle_topk1"};
	for (size_t e = 0; e < nefv; e++)
		for (int mode = 0; mode < 4; mode++)
			printf("diag region_beam start=%s ef=%zu recall_at_k1=%.4f "
			       "distances=%.0f\n", names[mode], efv[e],
			       rec[mode][e] / Q, nd[mode][e] / Q);
	fflush(stdout);
	free(p);
	free(stamp);
	free(all);
	free(buf);
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
	const char *diag_efs = NULL, *model_path = NULL, *index_path = NULL;
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
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--index") && i + 1 < argc)
			index_path = argv[++i];
		else if (!strcmp(argv[i], "--diag") && i + 1 < argc)
			diag_efs = argv[++i];
		else if (!strcmp(argv[i], "--no-e2e"))
			do_e2e = 0;
		else {
			printf("usage: ann --dir DIR --n N [--queries Q] [--degree R] "
			       "[--ef-construction E] [--ef E1,E2,...] [--threads T] "
			       "[--tangent FILE] [--no-e2e] [--model M --index I] "
			       "[--diag E1,E2,...]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	char path[4096], idx_path[4096], ann_path[4200];
	snprintf(path, sizeof path, "%s", model_path ? model_path : "");
	if (!model_path)
		snprintf(path, sizeof path, "%s/default-model.anthem", dir);
	anthem_model *m;
	if (anthem_model_load(&m, path))
		die(path);
	snprintf(idx_path, sizeof idx_path, "%s/index-%zu-%016llx.anthem", dir, n,
		 (unsigned long long)anthem_model_fingerprint(m));
	if (index_path)
		snprintf(idx_path, sizeof idx_path, "%s", index_path);
	anthem_index *ix;
	if (anthem_index_load(&ix, idx_path, m))
		die(idx_path);
	n = ix->n;
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
	/* the graph's FNV-1a hash: equal builds, equal graphs */
	uint64_t gh = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n * ix->ann.degree; i++)
		gh = (gh ^ ix->ann.adj[i]) * 0x100000001b3ULL;
	printf("build n=%zu degree=%zu ef_construction=%zu threads=%zu "
	       "build_s=%.1f peak_rss_bytes=%.0f peak_rss_growth_bytes=%.0f "
	       "graph_hash=%016llx\n",
	       n, degree, efc, ath_threads(threads), build_s, peak_rss(),
	       peak_rss() - rss0, (unsigned long long)gh);
	fflush(stdout);
	if (diag_efs) {
		diag(ix, &qs, m->space.kind == GEO_HYPERBOLIC ? m->space.c : 0.0,
		     diag_efs);
		return 0;
	}
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
		/* the scan's int8 points for the `auto` rows (`anthem index
		 * --points int8` stores them; made in memory here, after the
		 * sizes above, which are the graph's) */
		if (ath_scan8_build(&ix->scan8, &m->space, ix->blocks, n, d,
				    "ann"))
			die("int8 points");
		e2e(m, ix, &qs, ANTHEM_STAGE1_EXACT, 0, 0, "exact");
		e2e(m, ix, &qs, ANTHEM_STAGE1_GRAPH, ef, 0, "graph-int8");
		/* auto: the int8 scan, without and with its box prefilter */
		e2e(m, ix, &qs, ANTHEM_STAGE1_AUTO, 0, ANTHEM_PREFILTER_OFF,
		    "scan-int8");
		e2e(m, ix, &qs, ANTHEM_STAGE1_AUTO, 0, 0, "scan-int8-prefilter");
	}
	unlink(ann_path);
	anthem_index_free(ix);
	anthem_model_free(m);
	return 0;
}
