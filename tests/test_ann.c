/* The approximate stage-1 index (docs/architecture.md, "The approximate
 * index"): the graph finds the exact top k at a beam as wide as the
 * catalogue, through ath_ann_search and through the pipeline; the build is
 * deterministic for a seed whatever the thread count; a corrupted or
 * misshapen graph section is refused at load; searches of one index on
 * several threads agree with one thread's (the TSan run checks the
 * sharing); int8 points find what float points find, in the graph and
 * in the scan, and a corrupted int8 section is refused too. */
#include "io/container.h"
#include "search/index_internal.h"
#include "search/scan.h"
#include "search/scan_loop.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const geo_space ball = {GEO_HYPERBOLIC, 1.0};

/* n points of dimension d in the unit ball, radii spread to 0.95 */
static float *random_points(rng *r, size_t n, size_t d)
{
	float *p = malloc(n * d * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++) {
		double s = 0.0;
		for (size_t k = 0; k < d; k++) {
			p[i * d + k] = (float)gauss(r);
			s += (double)p[i * d + k] * p[i * d + k];
		}
		double radius = unif_ab(r, 0.0, 0.95);
		for (size_t k = 0; k < d; k++)
			p[i * d + k] = (float)(p[i * d + k] * radius / sqrt(s));
	}
	return p;
}

static void random_query(rng *r, size_t d, ath_scan_query *q)
{
	float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
	for (size_t k = 0; k < d; k++) {
		c[k] = (float)unif_ab(r, -0.6, 0.6) / (float)sqrt((double)d);
		l[k] = (float)unif_ab(r, 0.0, 0.3) / (float)sqrt((double)d);
	}
	ath_scan_prepare(&ball, d, c, l, 0.5f, q);
}

static anthem_index *graph_index(const float *p, size_t n, size_t d,
				 size_t degree, uint64_t seed, int int8,
				 size_t threads)
{
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	anthem_index_options o;
	anthem_index_options_init(&o);
	o.ann_degree = degree;
	o.ann_ef = 64;
	o.ann_seed = seed;
	o.threads = threads;
	o.points = int8 ? ANTHEM_POINTS_INT8 : ANTHEM_POINTS_FLOAT32;
	ck_assert_int_eq(ath_index_add_ann(ix, &ball, &o, "test"), 0);
	ck_assert(ix->ann.on);
	return ix;
}

/* the exact scan's top k of one simple region */
static size_t exact(const anthem_index *ix, const ath_scan_query *q, size_t k,
		    anthem_hit *out)
{
	float *work = aligned_alloc(64, ath_scan_work_floats(ix->dim) * sizeof(float));
	ath_heap hp = {out, 0, k};
	ath_scan_blocks(q, ix->blocks, ath_index_norms(ix, "test"), ix->n, 0,
			(ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK, NULL, work, &hp);
	ath_heap_sort(&hp);
	free(work);
	return hp.n;
}

static size_t graph(const anthem_index *ix, const ath_scan_query *q, size_t k,
		    size_t ef, anthem_hit *out)
{
	float *work = aligned_alloc(64, ath_scan_work_floats(ix->dim) * sizeof(float));
	size_t n;
	ath_ann_stats st;
	ck_assert_int_eq(ath_ann_search(&ix->ann, q, ix->n, ix->blocks, ix->norm2,
					k, ef, work, out, &n, &st, "test"), 0);
	/* one beam (the region's) and the re-scoring */
	ck_assert_uint_le(st.distances, ix->n + ef);
	free(work);
	return n;
}

static void same_hits(const anthem_hit *a, const anthem_hit *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(a[i].index, b[i].index);
		ck_assert(memcmp(&a[i].distance, &b[i].distance, sizeof(float)) == 0);
	}
}

static double overlap(const anthem_hit *a, const anthem_hit *b, size_t n)
{
	size_t hit = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (a[i].index == b[j].index) {
				hit++;
				break;
			}
	return n ? (double)hit / (double)n : 1.0;
}

/* The share of the exact top k (a, na of them) that b (nb) keeps; a
 * product in both must have the same float distance in both. */
static double kept_exactly(const anthem_hit *a, size_t na, const anthem_hit *b,
			   size_t nb, size_t k)
{
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++)
			if (a[i].index == b[j].index)
				ck_assert(memcmp(&a[i].distance, &b[j].distance,
						 sizeof(float)) == 0);
	return overlap(a, b, k);
}

START_TEST(exact_top_k_at_full_beam)
{
	rng r = {7};
	size_t n = 3000, d = 8, k = 100;
	float *p = random_points(&r, n, d);
	anthem_index *ix = graph_index(p, n, d, 16, 1, 0, 2);
	anthem_hit *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
	double rec = 0;
	for (int t = 0; t < 20; t++) {
		ath_scan_query q;
		random_query(&r, d, &q);
		size_t ne = exact(ix, &q, k, a);
		/* a beam as wide as the catalogue reaches every node: the
		 * graph is connected, and the re-scored distances are the
		 * scan's to the bit */
		ck_assert_uint_eq(graph(ix, &q, k, n, b), ne);
		same_hits(a, b, ne);
		/* and a beam of 4 k already finds nearly all of them */
		graph(ix, &q, k, 4 * k, b);
		rec += overlap(a, b, k);
	}
	ck_assert_msg(rec / 20 >= 0.95, "recall at ef = 4k: %g", rec / 20);
	free(a);
	free(b);
	anthem_index_free(ix);
	free(p);
}
END_TEST

START_TEST(build_is_deterministic)
{
	rng r = {11};
	size_t n = 4000, d = 6;
	float *p = random_points(&r, n, d);
	/* R 12: the heuristic's kept points fit one block of 16; R 40: three
	 * (the link step's lists are updated per target on the pool) */
	size_t degrees[2] = {12, 40};
	for (size_t i = 0; i < 2; i++) {
		size_t R = degrees[i];
		anthem_index *a = graph_index(p, n, d, R, 42, 0, 1);
		anthem_index *b = graph_index(p, n, d, R, 42, 0, 2);
		anthem_index *c = graph_index(p, n, d, R, 43, 0, 2);
		ck_assert_uint_eq(a->ann.nentry, b->ann.nentry);
		ck_assert(memcmp(a->ann.adj, b->ann.adj,
				 n * R * sizeof(uint32_t)) == 0);
		ck_assert(memcmp(a->ann.entry, b->ann.entry,
				 a->ann.nentry * sizeof(uint32_t)) == 0);
		/* the seed is what decides: another seed, another graph */
		ck_assert(memcmp(a->ann.adj, c->ann.adj,
				 n * R * sizeof(uint32_t)) != 0);
		anthem_index_free(a);
		anthem_index_free(b);
		anthem_index_free(c);
	}
	free(p);
}
END_TEST

/* anthem_index_options.ann_progress: called after the rounds with done
 * rising to total, last with done == total, and no change to the graph */
typedef struct progress_log {
	size_t calls, last, total, backwards;
} progress_log;

static void log_progress(size_t done, size_t total, void *user)
{
	progress_log *l = user;
	if (done < l->last)
		l->backwards++;
	l->calls++;
	l->last = done;
	l->total = total;
}

START_TEST(build_reports_progress)
{
	rng r = {5};
	size_t n = 3000, d = 6, R = 12;
	float *p = random_points(&r, n, d);
	anthem_index *a = graph_index(p, n, d, R, 42, 0, 2);
	anthem_index *b;
	ck_assert_int_eq(ath_index_from_points(&b, p, n, d), 0);
	anthem_index_options o;
	anthem_index_options_init(&o);
	ck_assert_ptr_null(o.ann_progress); /* the default: no calls */
	o.ann_degree = R;
	o.ann_ef = 64;
	o.ann_seed = 42;
	o.threads = 2;
	progress_log l = {0, 0, 0, 0};
	o.ann_progress = log_progress;
	o.ann_progress_user = &l;
	ck_assert_int_eq(ath_index_add_ann(b, &ball, &o, "test"), 0);
	/* rounds of at most n/16 + 1 products: more than a handful */
	ck_assert_uint_gt(l.calls, 16);
	ck_assert_uint_eq(l.backwards, 0);
	ck_assert_uint_eq(l.last, n);
	ck_assert_uint_eq(l.total, n);
	ck_assert(memcmp(a->ann.adj, b->ann.adj, n * R * sizeof(uint32_t)) == 0);
	anthem_index_free(a);
	anthem_index_free(b);
	free(p);
}
END_TEST

/* The file at path written again with tensor `name`'s data replaced by
 * data (rows x cols words; NULL: the tensor left out), everything else as
 * it was. */
static void rewrite_file(const char *src, const char *dst, const char *name,
			 const void *data, uint64_t rows, uint64_t cols,
			 const char *drop_key)
{
	static const char magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'I', 'X'};
	ath_container f;
	ck_assert_int_eq(ath_container_open(&f, src, magic, 0, "test"), 0);
	ath_kv *kv = malloc(f.nkv * sizeof *kv);
	ath_tensor *t = malloc(f.ntensors * sizeof *t);
	char (*names)[ATH_MAX_KEY + 1] = malloc((f.nkv + f.ntensors) * sizeof *names);
	char **strs = calloc(f.nkv, sizeof *strs);
	size_t nkv = 0;
	for (size_t i = 0; i < f.nkv; i++) {
		if (drop_key && !strcmp(f.kv[i].key, drop_key))
			continue;
		kv[nkv] = f.kv[i];
		size_t len = strlen(f.kv[i].key) < ATH_MAX_KEY ? strlen(f.kv[i].key)
							       : ATH_MAX_KEY;
		memcpy(names[i], f.kv[i].key, len);
		names[i][len] = '\0';
		kv[nkv].key = names[i];
		if (kv[nkv].type == ATH_KV_STR) {
			strs[i] = malloc(kv[nkv].slen + 1);
			memcpy(strs[i], kv[nkv].s, kv[nkv].slen);
			strs[i][kv[nkv].slen] = '\0';
			kv[nkv].s = strs[i];
		}
		nkv++;
	}
	size_t nt = 0;
	for (size_t i = 0; i < f.ntensors; i++) {
		t[nt] = f.tensors[i];
		char *nm = names[f.nkv + i];
		memcpy(nm, t[nt].name, t[nt].name_len);
		nm[t[nt].name_len] = '\0';
		t[nt].name = nm;
		if (!strcmp(nm, name)) {
			if (!data)
				continue;
			t[nt].data = data;
			t[nt].rows = rows;
			t[nt].cols = cols;
		}
		nt++;
	}
	ck_assert_int_eq(ath_container_write(dst, magic, kv, nkv, t, nt,
					     "test"), 0);
	for (size_t i = 0; i < f.nkv; i++)
		free(strs[i]);
	free(strs);
	free(names);
	free(kv);
	free(t);
	ath_container_close(&f);
}

static void rewrite_tensor(const char *src, const char *dst, const char *name,
			   const void *data, uint64_t rows, uint64_t cols)
{
	rewrite_file(src, dst, name, data, rows, cols, NULL);
}

static void rewrite(const char *src, const char *dst, const uint32_t *adj,
		    uint64_t rows, uint64_t cols)
{
	rewrite_tensor(src, dst, "ann.graph", adj, rows, cols);
}

START_TEST(corrupted_graph_refused)
{
	tmp_setup();
	rng r = {3};
	size_t n = 500, d = 4, R = 8;
	float *p = random_points(&r, n, d);
	anthem_index *ix = graph_index(p, n, d, R, 1, 1, 1);
	const char *path = tmp_path("ann.anthem");
	ck_assert_int_eq(anthem_index_save(ix, path), 0);
	/* it loads, with its graph, and searches as before */
	anthem_index *back;
	ck_assert_int_eq(anthem_index_load(&back, path, NULL), 0);
	ck_assert(anthem_index_has_ann(back));
	ck_assert(back->ann.int8);
	/* its build parameters and layout version, as built and as loaded */
	for (int k = 0; k < 2; k++) {
		const anthem_index *x = k ? back : ix;
		size_t deg = 0, ef = 0;
		uint64_t seed = 0;
		ck_assert_int_eq(anthem_index_ann_params(x, &deg, &ef, &seed), 0);
		ck_assert_uint_eq(deg, R);
		ck_assert_uint_eq(ef, 64);
		ck_assert_uint_eq(seed, 1);
		ck_assert_uint_eq(anthem_index_format_version(x), 3);
	}
	ck_assert_int_eq(anthem_index_ann_params(back, NULL, NULL, NULL), 0);
	ath_scan_query q;
	random_query(&r, d, &q);
	anthem_hit a[20], b[20];
	size_t na = graph(ix, &q, 20, 64, a);
	ck_assert_uint_eq(graph(back, &q, 20, 64, b), na);
	same_hits(a, b, na);
	anthem_index_free(back);

	uint32_t *adj = malloc(n * R * sizeof *adj);
	memcpy(adj, ix->ann.adj, n * R * sizeof *adj);
	const char *bad = tmp_path("bad.anthem");
	/* a neighbour past the last product (the checksum is right: the
	 * graph itself must be checked) */
	adj[17 * R + 2] = (uint32_t)n + 5;
	rewrite(path, bad, adj, n, R);
	anthem_index *x = (anthem_index *)1;
	ck_assert_int_eq(anthem_index_load(&x, bad, NULL), ANTHEM_EFORMAT);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "ann.graph"));
	/* a node its own neighbour */
	adj[17 * R + 2] = 17;
	rewrite(path, bad, adj, n, R);
	ck_assert_int_eq(anthem_index_load(&x, bad, NULL), ANTHEM_EFORMAT);
	/* a graph of the wrong shape (fewer rows than products) */
	memcpy(adj, ix->ann.adj, n * R * sizeof *adj);
	rewrite(path, bad, adj, n - 1, R);
	ck_assert_int_eq(anthem_index_load(&x, bad, NULL), ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "approximate index"));
	/* intact again: loads */
	rewrite(path, bad, adj, n, R);
	ck_assert_int_eq(anthem_index_load(&x, bad, NULL), 0);
	anthem_index_free(x);
	free(adj);
	anthem_index_free(ix);
	free(p);
	tmp_teardown();
}
END_TEST

/* ---- through the pipeline, on several threads ------------------------------ */

static anthem_model *model;
static anthem_index *shared;
static const char *queries[] = {"hat", "wooden chair", "red dog", "a small boat",
				"musical instrument", "tree", "cup", "knife"};
enum { NQ = 8, K = 10 };
static anthem_hit want[NQ][K];

static void *searcher(void *arg)
{
	int *fail = arg;
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = K;
	o.stage1 = ANTHEM_STAGE1_GRAPH;
	for (int rep = 0; rep < 3; rep++)
		for (int q = 0; q < NQ; q++) {
			anthem_hit h[K];
			size_t n;
			if (anthem_search_ex(model, shared, queries[q], &o, h, &n) ||
			    n != K)
				*fail = 1;
			for (size_t i = 0; i < n; i++)
				if (h[i].index != want[q][i].index ||
				    memcmp(&h[i].distance, &want[q][i].distance,
					   sizeof(float)))
					*fail = 1;
		}
	return NULL;
}

/* An untrained model of dim 8 and the fixture's catalogue, which the
 * tests below index. */
static void small_model(anthem_model **m, anthem_catalog **cat)
{
	anthem_model_config c;
	anthem_model_config_init(&c);
	c.dim = 8;
	c.buckets = 4096;
	ck_assert_int_eq(anthem_model_create(m, &c), 0);
	ck_assert_int_eq(anthem_catalog_load(cat, FIXTURE_DIR "/catalog.tsv", 0), 0);
}

START_TEST(pipeline_graph_and_threads)
{
	anthem_catalog *cat;
	small_model(&model, &cat);
	anthem_index_options io;
	anthem_index_options_init(&io);
	io.ann = 1;
	io.threads = 2;
	ck_assert_int_eq(anthem_index_build_ex(&shared, model, cat, &io), 0);
	ck_assert(anthem_index_has_ann(shared));
	size_t n = anthem_index_count(shared);
	/* the graph at a beam of the whole catalogue: the exact scan's
	 * hits, to the bit */
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = K;
	for (int q = 0; q < NQ; q++) {
		anthem_hit h[K];
		size_t nh, nw;
		o.stage1 = ANTHEM_STAGE1_EXACT;
		o.ef = 0;
		ck_assert_int_eq(anthem_search_ex(model, shared, queries[q], &o,
						  want[q], &nw), 0);
		o.stage1 = ANTHEM_STAGE1_GRAPH;
		o.ef = n;
		ck_assert_int_eq(anthem_search_ex(model, shared, queries[q], &o, h,
						  &nh), 0);
		ck_assert_uint_eq(nh, nw);
		same_hits(h, want[q], nh);
		/* the default beam: what the threads below must find too */
		o.ef = 0;
		ck_assert_int_eq(anthem_search_ex(model, shared, queries[q], &o,
						  want[q], &nw), 0);
	}
	/* a bad stage1 is refused */
	o.stage1 = 7;
	anthem_hit h[K];
	size_t nh;
	ck_assert_int_eq(anthem_search_ex(model, shared, "hat", &o, h, &nh),
			 ANTHEM_EINVAL);
	/* four threads on one index, each as one thread alone */
	pthread_t th[4];
	int fail[4] = {0};
	for (int t = 0; t < 4; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, searcher, &fail[t]), 0);
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(fail[t], 0);
	}
	anthem_index_free(shared);
	anthem_catalog_free(cat);
	anthem_model_free(model);
}
END_TEST

START_TEST(int8_finds_what_float_finds)
{
	rng r = {5};
	size_t n = 6000, d = 16, k = 100;
	float *p = random_points(&r, n, d);
	anthem_index *f = graph_index(p, n, d, 16, 9, 0, 2);
	anthem_index *q8 = graph_index(p, n, d, 16, 9, 1, 2);
	/* a quarter of the float points' memory, plus the steps */
	ck_assert_uint_eq(q8->ann.cstride, 16);
	anthem_hit *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b),
		   *e = malloc(k * sizeof *e);
	double rf = 0, r8 = 0;
	for (int t = 0; t < 30; t++) {
		ath_scan_query q;
		random_query(&r, d, &q);
		exact(f, &q, k, e);
		graph(f, &q, k, 400, a);
		graph(q8, &q, k, 400, b);
		rf += overlap(a, e, k);
		r8 += overlap(b, e, k);
	}
	/* the same graph: what int8 points lose is their ranking in the
	 * beam (the hits are re-scored in float either way) */
	ck_assert_msg(r8 >= 0.99 * rf, "recall of the exact top k: int8 %g, "
		      "float %g", r8 / 30, rf / 30);
	free(a);
	free(b);
	free(e);
	anthem_index_free(f);
	anthem_index_free(q8);
	free(p);
}
END_TEST

/* The beam's int8 distances (ath_scan_gathered8: 16 nodes' codes moved
 * four to a word, decoded in the loop) are the distances of the points
 * the codes decode to, for dimensions that are and are not a multiple of
 * 4, in the ball and in flat space. */
START_TEST(gathered_int8_distances_are_the_decoded_points)
{
	static const size_t dims[] = {5, 16, 32};
	const geo_space flat = {GEO_EUCLIDEAN, 1.0};
	rng r = {11};
	for (size_t t = 0; t < 6; t++) {
		const geo_space *s = t % 2 ? &flat : &ball;
		size_t d = dims[t / 2], cs = (d + 3) / 4 * 4, n = 40;
		float *p = random_points(&r, n, d);
		float scale[ATH_SCAN_MAX_DIM];
		int8_t *codes = calloc(n, cs);
		ck_assert_int_eq(ath_quant_build(s, p, n, d, cs, scale, codes), 0);
		float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
		for (size_t k = 0; k < d; k++) {
			c[k] = (float)unif_ab(&r, -0.5, 0.5) / (float)sqrt((double)d);
			l[k] = (float)unif_ab(&r, 0.0, 0.3) / (float)sqrt((double)d);
		}
		ath_scan_query q;
		ath_scan_prepare(s, d, c, l, 0.5f, &q);
		float *work = aligned_alloc(64, ath_scan_work_floats(d) * sizeof(float));
		fquery fq;
		ath_scan_fquery(&q, work, &fq);
		fq.dscale = scale;
		int32_t cb[ATH_SCAN_MAX_DIM / 4 * 16];
		float blk[ATH_SCAN_MAX_DIM * 16], n2[16], ref[16], got[16];
		for (size_t j = 0; j < 16; j++) {
			const int8_t *code = codes + (7 * j + 3) % n * cs;
			for (size_t g = 0; g < cs / 4; g++)
				memcpy(&cb[g * 16 + j], code + 4 * g, 4);
			float x[ATH_SCAN_MAX_DIM];
			ath_quant_decode(s, code, scale, d, x);
			for (size_t k = 0; k < d; k++)
				blk[k * 16 + j] = x[k];
		}
		ath_scan_norms(blk, 16, d, n2);
		ath_scan_block_kernel()(&fq, blk, n2, ref);
		ath_scan_gathered8_kernel()(&fq, cb, (float)sqrt(q.cc), got);
		for (size_t j = 0; j < 16; j++)
			ck_assert_msg(fabsf(got[j] - ref[j]) <=
					      1e-4f * (1.0f + fabsf(ref[j])),
				      "d %zu, %s, lane %zu: %g, decoded %g", d,
				      t % 2 ? "flat" : "ball", j, got[j], ref[j]);
		free(work);
		free(codes);
		free(p);
	}
}
END_TEST

/* ---- the scan's int8 points (docs/architecture.md, "Compact points") ------- */

/* ath_scan8_blocks' 2k best re-scored in float: the pipeline's int8 stage 1 */
static size_t scan8(const anthem_index *ix, const ath_scan_query *q, size_t k,
		    anthem_hit *out)
{
	float *work = aligned_alloc(64, ath_scan_work_floats(ix->dim) * sizeof(float));
	anthem_hit *cand = malloc(2 * k * sizeof *cand);
	ath_heap hp = {cand, 0, 2 * k};
	ath_scan8_blocks(q, &ix->scan8, ix->n, 0,
			 (ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK, NULL, work,
			 &hp);
	size_t n;
	ath_scan_rescore(q, ix->blocks, ix->norm2, hp.h, hp.n, k, work, out, &n);
	free(cand);
	free(work);
	return n;
}

START_TEST(int8_scan_keeps_the_float_top_k)
{
	rng r = {13};
	size_t n = 5000, d = 16, k = 100;
	float *p = random_points(&r, n, d);
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	ck_assert_int_eq(ath_scan8_build(&ix->scan8, &ball, ix->blocks, n, d,
					 "test"), 0);
	/* each product's int8 distance is the distance of the point its code
	 * decodes to (exp0 of code x step), which lies near the product */
	ath_scan_query q;
	random_query(&r, d, &q);
	float *work = aligned_alloc(64, ath_scan_work_floats(d) * sizeof(float));
	anthem_hit *all = malloc(n * sizeof *all);
	ath_heap hp = {all, 0, n};
	ath_scan8_blocks(&q, &ix->scan8, n, 0, (n + 15) / 16, NULL, work, &hp);
	ck_assert_uint_eq(hp.n, n);
	for (size_t j = 0; j < n; j += 97) {
		size_t i = all[j].index;
		float u[ATH_SCAN_MAX_DIM], x[ATH_SCAN_MAX_DIM];
		double x2 = 0.0, e2 = 0.0;
		for (size_t c = 0; c < d; c++) {
			int8_t code = ix->scan8.codes[i / 16 * d * 16 + c * 16 + i % 16];
			u[c] = (float)code * ix->scan8.scale[c];
		}
		geo_exp0(&ball, d, u, x);
		for (size_t c = 0; c < d; c++) {
			x2 += (double)x[c] * x[c];
			e2 += ((double)x[c] - p[i * d + c]) * ((double)x[c] - p[i * d + c]);
		}
		float ref = ath_scan_one(&q, x, x2);
		ck_assert_msg(fabsf(all[j].distance - ref) <= 1e-4f * (1.0f + fabsf(ref)),
			      "product %zu: int8 distance %g, its decoded point's %g",
			      i, all[j].distance, ref);
		ck_assert_msg(sqrt(e2) < 0.05, "product %zu decodes %g away", i,
			      sqrt(e2));
	}
	/* the 2k best re-scored keep the float scan's top k: the recall
	 * target of issue #15 is 0.99; the distances are the float scan's */
	anthem_hit *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
	double rec = 0;
	for (int t = 0; t < 30; t++) {
		random_query(&r, d, &q);
		size_t na = exact(ix, &q, k, a);
		ck_assert_uint_eq(scan8(ix, &q, k, b), na);
		rec += kept_exactly(a, na, b, na, k);
	}
	ck_assert_msg(rec / 30 >= 0.99, "int8 recall of the float top k: %g",
		      rec / 30);
	free(a);
	free(b);
	free(all);
	free(work);
	anthem_index_free(ix);
	free(p);
}
END_TEST

/* ---- the box prefilter (docs/architecture.md, "The box prefilter") -------- */

/* The prefilter's value of product i, restated in scalar integers from
 * the query's fields (scan_loop.c, box_block): every level's kernel must
 * give exactly this. */
static double box_ref(const bquery *f, const ath_scan8 *c, size_t i)
{
	uint32_t sum = 0;
	for (size_t k = 0; k < f->d; k++) {
		int32_t code = c->codes[i / 16 * f->d * 16 + k * 16 + i % 16];
		int32_t a = abs(code - f->mid[k]);
		int32_t in = (a * f->gamma + 0x4000) >> 15, out = a - f->out[k];
		int32_t t = (in > out ? in : out) << f->shift;
		sum += (uint32_t)((t * f->weight[k] + 0x4000) >> 15);
	}
	ck_assert_uint_lt(sum, 65536); /* no term wrapped the 16-bit sum */
	return (double)sum;
}

START_TEST(box_prefilter_keeps_the_float_top_k)
{
	const geo_space flat = {GEO_EUCLIDEAN, 1.0};
	rng r = {17};
	size_t k = 50;
	for (int t = 0; t < 4; t++) {
		const geo_space *sp = t % 2 ? &flat : &ball;
		size_t d = t < 2 ? 16 : 5, n = 6000;
		float *p = random_points(&r, n, d);
		anthem_index *ix;
		ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
		ck_assert_int_eq(ath_scan8_build(&ix->scan8, sp, ix->blocks, n, d,
						 "test"), 0);
		float *work = aligned_alloc(64, ath_scan_work_floats(d) * sizeof(float));
		anthem_hit *all = malloc(n * sizeof *all);
		anthem_hit *a = malloc(k * sizeof *a), *b = malloc(k * sizeof *b);
		anthem_hit *cand = malloc(2 * k * sizeof *cand);
		double rec = 0.0;
		for (int qi = 0; qi < 20; qi++) {
			float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
			for (size_t j = 0; j < d; j++) {
				c[j] = (float)unif_ab(&r, -0.6, 0.6) / (float)sqrt((double)d);
				l[j] = (float)unif_ab(&r, 0.0, 0.3) / (float)sqrt((double)d);
			}
			ath_scan_query q;
			ath_scan_prepare(sp, d, c, l, 0.5f, &q);
			ck_assert(ath_scan8_prefilter_ok(&q));
			/* every product's value is its decoded point's */
			ath_heap hp = {all, 0, n};
			ath_scan8_prefilter(&q, &ix->scan8, n, 0, (n + 15) / 16, NULL,
					    &hp);
			ck_assert_uint_eq(hp.n, n);
			bquery f;
			ath_scan8_box_query(&q, &ix->scan8, &f);
			ck_assert_int_eq(f.shift, d == 16 ? 3 : 4);
			for (size_t j = 0; j < n; j++) {
				size_t i = all[j].index;
				double ref = box_ref(&f, &ix->scan8, i);
				ck_assert_msg(all[j].distance == ref,
					      "t %d product %zu: prefilter %g, reference %g",
					      t, i, all[j].distance, ref);
			}
			/* its 2k best re-scored: the float scan's top k, with the
			 * float scan's distances */
			ath_heap top = {cand, 0, 2 * k};
			ath_scan8_prefilter(&q, &ix->scan8, n, 0, (n + 15) / 16, NULL,
					    &top);
			size_t nb, na = exact(ix, &q, k, a);
			ath_scan_rescore(&q, ix->blocks, ath_index_norms(ix, "test"),
					 top.h, top.n, k, work, b, &nb);
			ck_assert_uint_eq(nb, na);
			rec += kept_exactly(a, na, b, nb, k);
		}
		/* measured: 0.994 (d = 16) and 0.999 (d = 5) in the ball, 1
		 * in flat space (where the box is symmetric about its centre
		 * and the codes are the points) */
		ck_assert_msg(rec / 20 >= 0.98, "%s, d = %zu: recall %g",
			      t % 2 ? "flat" : "ball", d, rec / 20);
		/* gamma above 1 (the inside part weighing more than the
		 * outside one) is not for the prefilter */
		ath_scan_query q;
		float c[ATH_SCAN_MAX_DIM] = {0}, l[ATH_SCAN_MAX_DIM] = {0};
		ath_scan_prepare(sp, d, c, l, 1.5f, &q);
		ck_assert(!ath_scan8_prefilter_ok(&q));
		free(cand);
		free(a);
		free(b);
		free(all);
		free(work);
		anthem_index_free(ix);
		free(p);
	}
}
END_TEST

START_TEST(int8_index_through_the_pipeline)
{
	tmp_setup();
	anthem_model *m;
	anthem_catalog *cat;
	small_model(&m, &cat);
	anthem_index *f32, *built;
	anthem_index_options io;
	anthem_index_options_init(&io);
	ck_assert_int_eq(anthem_index_build_ex(&f32, m, cat, &io), 0);
	ck_assert(!f32->scan8.on);
	io.points = ANTHEM_POINTS_INT8;
	ck_assert_int_eq(anthem_index_build_ex(&built, m, cat, &io), 0);
	ck_assert(built->scan8.on);
	ck_assert(!anthem_index_has_ann(built));
	ck_assert_int_eq(anthem_index_ann_params(built, NULL, NULL, NULL),
			 ANTHEM_EINVAL);
	ck_assert_uint_eq(anthem_index_format_version(built), 4);
	ck_assert_uint_eq(anthem_index_format_version(f32), 2);
	ck_assert_uint_eq(anthem_index_format_version(NULL), 0);
	/* saved as version 4 and loaded back with its codes */
	const char *path = tmp_path("int8.anthem");
	ck_assert_int_eq(anthem_index_save(built, path), 0);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_load(&ix, path, m), 0);
	ck_assert(ix->scan8.on);
	size_t n = ix->n, nb = (n + 15) / 16;
	ck_assert(memcmp(ix->scan8.codes, built->scan8.codes, nb * 16 * anthem_model_dim(m)) == 0);
	/* no float norms kept: the re-scoring below computes its blocks' to
	 * the bits of the float index's, and ANTHEM_STAGE1_EXACT makes them */
	ck_assert_ptr_null(atomic_load(&ix->norm2));
	ck_assert_ptr_null(atomic_load(&built->norm2));
	ck_assert_ptr_nonnull(atomic_load(&f32->norm2));
	ath_container file;
	static const char magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'I', 'X'};
	ck_assert_int_eq(ath_container_open(&file, path, magic, 0, "test"), 0);
	ck_assert_uint_eq(ath_container_kv(&file, "index.version")->u, 4);
	ath_container_close(&file);
	/* stage 1 keeps the float scan's candidates, with their distances;
	 * ANTHEM_STAGE1_EXACT scans the float points: the float index's hits
	 * to the bit; threads change nothing */
	const char *qs[] = {"hat", "wooden chair", "red dog", "a small boat",
			    "musical instrument", "tree"};
	anthem_hit ref[200], got[200];
	size_t nw, ng, same = 0, total = 0;
	for (size_t q = 0; q < 6; q++) {
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 200;
		o.stage1_only = 1;
		ck_assert_int_eq(anthem_search_ex(m, f32, qs[q], &o, ref, &nw), 0);
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, nw);
		for (size_t i = 0; i < nw; i++)
			for (size_t j = 0; j < ng; j++)
				if (ref[i].index == got[j].index) {
					ck_assert(memcmp(&ref[i].distance,
							 &got[j].distance,
							 sizeof(float)) == 0);
					same++;
					break;
				}
		total += nw;
		o.threads = 2;
		anthem_hit two[200];
		size_t n2;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, two, &n2), 0);
		ck_assert_uint_eq(n2, ng);
		same_hits(two, got, ng);
		o.threads = 1;
		o.stage1 = ANTHEM_STAGE1_EXACT;
		o.k = 10;
		o.stage1_only = 0;
		ck_assert_int_eq(anthem_search_ex(m, f32, qs[q], &o, ref, &nw), 0);
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, nw);
		same_hits(got, ref, nw);
		ck_assert_ptr_nonnull(atomic_load(&ix->norm2));
	}
	ck_assert_msg((double)same >= 0.99 * (double)total,
		      "int8 stage 1 kept %zu of %zu", same, total);
	/* a filter: the int8 scan offers only allowed products (every third
	 * position), as the float scan does */
	size_t nallow = 0, *allow = malloc(n * sizeof *allow);
	for (size_t i = 0; i < n; i += 3)
		allow[nallow++] = i;
	for (size_t q = 0; q < 6; q++) {
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 20;
		o.allow = allow;
		o.n_allow = nallow;
		ck_assert_int_eq(anthem_search_ex(m, f32, qs[q], &o, ref, &nw), 0);
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, nw);
		same_hits(got, ref, nw);
		for (size_t i = 0; i < ng; i++)
			ck_assert_uint_eq(got[i].index % 3, 0);
	}

	/* the box prefilter: off by default below 16 times its depth (here
	 * 2 x 200 > 562 / 16); at the whole catalogue's depth, the float
	 * scan's hits to the bit; at a small depth, the same hits on 1 and 2
	 * threads, in a batch as alone, and only allowed ones */
	for (size_t q = 0; q < 6; q++) {
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 200;
		o.stage1_only = 1;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, ref, &nw), 0);
		o.prefilter = ANTHEM_PREFILTER_OFF;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, nw);
		same_hits(got, ref, nw);
		o.prefilter = n;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		o.stage1 = ANTHEM_STAGE1_EXACT;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, ref, &nw), 0);
		ck_assert_uint_eq(ng, nw);
		same_hits(got, ref, nw);
		o.stage1 = ANTHEM_STAGE1_AUTO;
		o.k = o.k1 = 10;
		o.prefilter = 1; /* raised to 2 x 10 */
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, ref, &nw), 0);
		ck_assert_uint_eq(nw, 10);
		for (size_t i = 0; i < nw; i++) {
			/* the float distance of each: the exact scan's */
			anthem_search_options e;
			anthem_search_options_init(&e);
			e.k = 1;
			e.stage1_only = 1;
			e.stage1 = ANTHEM_STAGE1_EXACT;
			e.allow = &ref[i].index;
			e.n_allow = 1;
			anthem_hit one;
			size_t none;
			ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &e, &one, &none), 0);
			ck_assert_uint_eq(none, 1);
			ck_assert(memcmp(&one.distance, &ref[i].distance, sizeof(float)) == 0);
		}
		o.threads = 2;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, nw);
		same_hits(got, ref, nw);
		anthem_hit batch[10];
		size_t nbatch;
		ck_assert_int_eq(anthem_search_batch(m, ix, &qs[q], 1, &o, batch, &nbatch), 0);
		ck_assert_uint_eq(nbatch, nw);
		same_hits(batch, ref, nw);
		o.allow = allow;
		o.n_allow = nallow;
		ck_assert_int_eq(anthem_search_ex(m, ix, qs[q], &o, got, &ng), 0);
		ck_assert_uint_eq(ng, 10);
		for (size_t i = 0; i < ng; i++)
			ck_assert_uint_eq(got[i].index % 3, 0);
	}
	free(allow);

	/* a corrupted or missing part of the codes is refused at load */
	const char *bad = tmp_path("bad.anthem");
	float *lanes = malloc(nb * 32 * sizeof *lanes);
	memcpy(lanes, ix->scan8.lanes, nb * 32 * sizeof *lanes);
	lanes[3 * 32 + 5] = NAN;
	anthem_index *x = (anthem_index *)1;
	rewrite_tensor(path, bad, "scan.lanes", lanes, nb, 32);
	ck_assert_int_eq(anthem_index_load(&x, bad, m), ANTHEM_EFORMAT);
	ck_assert_ptr_null(x);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "int8 points"));
	lanes[3 * 32 + 5] = 0.0f; /* a radial factor of 0 */
	rewrite_tensor(path, bad, "scan.lanes", lanes, nb, 32);
	ck_assert_int_eq(anthem_index_load(&x, bad, m), ANTHEM_EFORMAT);
	rewrite_tensor(path, bad, "scan.lanes", lanes, nb - 1, 32);
	ck_assert_int_eq(anthem_index_load(&x, bad, m), ANTHEM_EFORMAT);
	rewrite_tensor(path, bad, "scan.scale", NULL, 0, 0);
	ck_assert_int_eq(anthem_index_load(&x, bad, m), ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "int8 points"));
	/* intact again: loads */
	rewrite_tensor(path, bad, "scan.lanes", ix->scan8.lanes, nb, 32);
	ck_assert_int_eq(anthem_index_load(&x, bad, m), 0);
	anthem_index_free(x);
	free(lanes);
	anthem_index_free(ix);
	anthem_index_free(built);
	anthem_index_free(f32);
	anthem_catalog_free(cat);
	anthem_model_free(m);
	tmp_teardown();
}
END_TEST

/* The id table a file stores is used in place and not trusted: a load
 * maps it (or builds one for a file without it, as older writers wrote),
 * refuses one of the wrong shape, and a corrupted one can only miss ids:
 * every lookup ends and never names another product. */
START_TEST(id_table_in_the_file)
{
	tmp_setup();
	anthem_model *m;
	anthem_catalog *cat;
	small_model(&m, &cat);
	anthem_index *built;
	ck_assert_int_eq(anthem_index_build(&built, m, cat, 1), 0);
	const char *path = tmp_path("find.anthem"), *bad = tmp_path("bad.anthem");
	ck_assert_int_eq(anthem_index_save(built, path), 0);
	size_t n = anthem_index_count(built), cap = built->find_mask + 1, pos;
	ck_assert_uint_ge(cap, 2 * n);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_load(&ix, path, m), 0);
	ck_assert_ptr_null(ix->owned_find); /* mapped */
	ck_assert(memcmp(ix->find_slots, built->find_slots, cap * 4) == 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(anthem_index_find(ix, anthem_catalog_id(cat, i), &pos), 0);
		ck_assert_uint_eq(pos, i);
	}
	ck_assert_int_eq(anthem_index_find(ix, "no such id", &pos), ANTHEM_ENOTFOUND);
	anthem_index_free(ix);

	/* a file without the table (an older writer): built at load */
	rewrite_file(path, bad, "find.slots", NULL, 0, 0, "index.find.hash");
	ck_assert_int_eq(anthem_index_load(&ix, bad, m), 0);
	ck_assert_ptr_nonnull(ix->owned_find);
	ck_assert_int_eq(anthem_index_find(ix, anthem_catalog_id(cat, n - 1), &pos), 0);
	ck_assert_uint_eq(pos, n - 1);
	anthem_index_free(ix);

	/* the table without its hash, the hash without its table, a table
	 * of the wrong size: refused, naming the table */
	ix = (anthem_index *)1;
	rewrite_file(path, bad, "none", NULL, 0, 0, "index.find.hash");
	ck_assert_int_eq(anthem_index_load(&ix, bad, m), ANTHEM_EFORMAT);
	ck_assert_ptr_null(ix);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "id table"));
	rewrite_tensor(path, bad, "find.slots", NULL, 0, 0);
	ck_assert_int_eq(anthem_index_load(&ix, bad, m), ANTHEM_EFORMAT);
	rewrite_tensor(path, bad, "find.slots", built->find_slots, 1, cap / 2);
	ck_assert_int_eq(anthem_index_load(&ix, bad, m), ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "find.slots"));

	/* corrupted slots load (the checksum is right; checking each slot
	 * would read the whole table at every load): every slot past the
	 * products, every slot full of product 0, the table shifted by one
	 * slot.  Each lookup ends, and a hit is the product's own position */
	uint32_t *slots = malloc(cap * sizeof *slots);
	for (int kind = 0; kind < 3; kind++) {
		for (size_t s = 0; s < cap; s++)
			slots[s] = kind == 0 ? UINT32_MAX
				 : kind == 1 ? 1
					     : built->find_slots[(s + 1) % cap];
		rewrite_tensor(path, bad, "find.slots", slots, 1, cap);
		ck_assert_int_eq(anthem_index_load(&ix, bad, m), 0);
		size_t found = 0;
		for (size_t i = 0; i < n; i++) {
			pos = n;
			int rc = anthem_index_find(ix, anthem_catalog_id(cat, i), &pos);
			ck_assert(rc == 0 || rc == ANTHEM_ENOTFOUND);
			if (rc == 0) {
				ck_assert_uint_eq(pos, i);
				found++;
			}
		}
		ck_assert_uint_eq(found, kind == 0 ? 0 : kind == 1 ? 1 : found);
		ck_assert_int_eq(anthem_index_find(ix, "no such id", &pos),
				 ANTHEM_ENOTFOUND);
		anthem_index_free(ix);
	}
	free(slots);
	anthem_index_free(built);
	anthem_catalog_free(cat);
	anthem_model_free(m);
	tmp_teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ann");
	TCase *t = tcase_create("ann");
	tcase_set_timeout(t, 240);
	tcase_add_test(t, exact_top_k_at_full_beam);
	tcase_add_test(t, build_is_deterministic);
	tcase_add_test(t, build_reports_progress);
	tcase_add_test(t, corrupted_graph_refused);
	tcase_add_test(t, pipeline_graph_and_threads);
	tcase_add_test(t, int8_finds_what_float_finds);
	tcase_add_test(t, gathered_int8_distances_are_the_decoded_points);
	tcase_add_test(t, int8_scan_keeps_the_float_top_k);
	tcase_add_test(t, box_prefilter_keeps_the_float_top_k);
	tcase_add_test(t, int8_index_through_the_pipeline);
	tcase_add_test(t, id_table_in_the_file);
	suite_add_tcase(s, t);
	return run_suite(s);
}
