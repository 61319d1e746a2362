/* Indexes and the two-stage search: files, refusals, agreement between the
 * stages and the public entry points, and 8 threads on one model. */
#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE(f) FIXTURE_DIR "/" f

static anthem_model *model;
static anthem_catalog *catalog;


static void setup(void)
{
	tmp_setup();
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 4096;
	anthem_model *m;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), 0);
	/* an index records the fingerprint of a model file: use a loaded one */
	ck_assert_int_eq(anthem_model_save(m, tmp_path("m.anthem")), 0);
	anthem_model_free(m);
	ck_assert_int_eq(anthem_model_load(&model, tmp_path("m.anthem")), 0);
	ck_assert_int_eq(anthem_catalog_load(&catalog, FIXTURE("catalog.tsv"), 0), 0);
}

static void teardown(void)
{
	anthem_model_free(model);
	anthem_catalog_free(catalog);
	tmp_teardown();
}

START_TEST(index_round_trip)
{
	anthem_index *ix, *ld;
	ck_assert_int_eq(anthem_index_build(&ix, model, catalog, 2), 0);
	ck_assert_uint_eq(anthem_index_count(ix), anthem_catalog_count(catalog));
	ck_assert_uint_eq(anthem_index_model_fingerprint(ix),
			  anthem_model_fingerprint(model));
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("i.idx")), 0);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("i.idx"), model), 0);
	size_t n = anthem_index_count(ix), d = anthem_index_dim(ix);
	ck_assert_uint_eq(anthem_index_count(ld), n);
	ck_assert_mem_eq(anthem_vectors_data(anthem_index_vectors(ix)),
			 anthem_vectors_data(anthem_index_vectors(ld)),
			 n * d * sizeof(float));
	for (size_t i = 0; i < n; i += 37) {
		ck_assert_str_eq(anthem_index_id(ld, i), anthem_catalog_id(catalog, i));
		ck_assert_str_eq(anthem_index_title(ld, i),
				 anthem_catalog_title(catalog, i));
	}
	/* the points are the model's product points */
	float v[8];
	const char *t = anthem_catalog_title(catalog, 5);
	ck_assert_int_eq(anthem_model_embed_products(model, &t, 1, v), 0);
	ck_assert_mem_eq(v, anthem_vectors_data(anthem_index_vectors(ld)) + 5 * d,
			 sizeof v);
	anthem_index_free(ix);
	anthem_index_free(ld);
}
END_TEST

START_TEST(index_refusals)
{
	anthem_index *ix, *ld = (anthem_index *)&ld;
	ck_assert_int_eq(anthem_index_build(&ix, model, catalog, 1), 0);
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("i.idx")), 0);
	anthem_index_free(ix);
	/* another model: refused */
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 4096;
	cfg.seed = 99;
	anthem_model *other, *other_loaded;
	ck_assert_int_eq(anthem_model_create(&other, &cfg), 0);
	ck_assert_int_eq(anthem_model_save(other, tmp_path("o.anthem")), 0);
	ck_assert_int_eq(anthem_model_load(&other_loaded, tmp_path("o.anthem")), 0);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("i.idx"), other_loaded),
			 ANTHEM_EMISMATCH);
	ck_assert_ptr_null(ld);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "another model"));
	/* a model file is not an index */
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("m.anthem"), NULL),
			 ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "wrong magic"));
	/* without a model the load is not checked, but a search is (issue
	 * 13, defect 8): the index records its model's fingerprint */
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("i.idx"), NULL), 0);
	anthem_hit hits[5];
	size_t n = 99, pos = 0;
	float d;
	char want[128];
	snprintf(want, sizeof want, "index was built by model %016llx, not %016llx",
		 (unsigned long long)anthem_model_fingerprint(model),
		 (unsigned long long)anthem_model_fingerprint(other_loaded));
	ck_assert_int_eq(anthem_search(other_loaded, ld, "hat", 5, 0, hits, &n),
			 ANTHEM_EMISMATCH);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), want));
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "i.idx"));
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(anthem_score(other_loaded, ld, "hat", &pos, 1, &d),
			 ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_rerank(other_loaded, ld, "hat", &pos, 1, hits),
			 ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_search(model, ld, "hat", 5, 0, hits, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(anthem_score(model, ld, "hat", &pos, 1, &d), 0);
	anthem_index_free(ld);
	anthem_model_free(other);
	anthem_model_free(other_loaded);
}
END_TEST


/* The checksum of docs/format.md, to repair a file patched in place. */
static uint64_t format_checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i = 0;
	for (; i < n; i += 8) {
		uint64_t w = 0;
		for (size_t j = 0; j < 8 && i + j < n; j++)
			w |= (uint64_t)p[i + j] << (8 * j);
		h = (h ^ w) * 0x100000001b3ULL;
	}
	return (h ^ (uint64_t)n) * 0x100000001b3ULL;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	unsigned char *p = malloc(*n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* Product 0's first coordinate (the first float of the data section: the
 * blocks tensor is an index's only one) set to x, and with rename_curv the
 * "index.curvature" key renamed (a file of a writer that did not record
 * it); checksum repaired. */
static void patch_index(const char *from, const char *to, float x,
			int rename_curv)
{
	size_t n;
	unsigned char *p = slurp(from, &n);
	uint64_t data = 0;
	for (int j = 7; j >= 0; j--)
		data = data << 8 | p[56 + j];
	ck_assert_uint_lt(data + 4, n);
	memcpy(p + data, &x, sizeof x);
	if (rename_curv) {
		unsigned char *k = memmem(p, n, "index.curvature", 15);
		ck_assert_ptr_nonnull(k);
		k[14] = 'X';
	}
	uint64_t sum = format_checksum(p, n - 8);
	for (int j = 0; j < 8; j++)
		p[n - 8 + j] = (unsigned char)(sum >> (8 * j));
	write_bytes(to, (const char *)p, n);
	free(p);
}

/* Issue 13, defect 9: points outside the ball are refused at load (the
 * file records the model's curvature) and, for a file that does not, by
 * every search and scan in the ball. */
START_TEST(points_outside_the_ball)
{
	anthem_index *ix, *ld = NULL;
	ck_assert_int_eq(anthem_index_build(&ix, model, catalog, 1), 0);
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("i.idx")), 0);
	anthem_index_free(ix);
	/* the patching itself is sound: the same value loads */
	patch_index(tmp_path("i.idx"), tmp_path("same.idx"), 0.0f, 0);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("same.idx"), NULL), 0);
	anthem_index_free(ld);
	const float bad[] = {1.5f, 1e30f, -1.0f};
	for (size_t b = 0; b < 3; b++) {
		patch_index(tmp_path("i.idx"), tmp_path("far.idx"), bad[b], 0);
		ld = (anthem_index *)&ld;
		ck_assert_int_eq(anthem_index_load(&ld, tmp_path("far.idx"), NULL),
				 ANTHEM_ERANGE);
		ck_assert_ptr_null(ld);
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "far.idx"));
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "product 0 "));
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "not inside the ball"));
		ck_assert_int_eq(anthem_index_load(&ld, tmp_path("far.idx"), model),
				 ANTHEM_ERANGE);
		/* no curvature recorded: loads, but no search in the ball */
		patch_index(tmp_path("i.idx"), tmp_path("old.idx"), bad[b], 1);
		ck_assert_int_eq(anthem_index_load(&ld, tmp_path("old.idx"), NULL), 0);
		anthem_hit hits[5];
		size_t n = 99, pos = 1;
		float d;
		ck_assert_int_eq(anthem_search(model, ld, "hat", 5, 0, hits, &n),
				 ANTHEM_ERANGE);
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "old.idx"));
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "product 0 "));
		ck_assert_int_eq(anthem_score(model, ld, "hat", &pos, 1, &d),
				 ANTHEM_ERANGE);
		float c[8] = {0}, l[8] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
		anthem_hyperboloid *h;
		ck_assert_int_eq(anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_HYPERBOLIC,
							   1.0f, 8, c, l), 0);
		ck_assert_int_eq(anthem_index_scan(ld, h, 0.5f, 5, hits, &n),
				 ANTHEM_ERANGE);
		anthem_hyperboloid_free(h);
		/* flat space has no ball */
		ck_assert_int_eq(anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_EUCLIDEAN,
							   1.0f, 8, c, l), 0);
		ck_assert_int_eq(anthem_index_scan(ld, h, 0.5f, 5, hits, &n), 0);
		ck_assert_uint_eq(n, 5);
		anthem_hyperboloid_free(h);
		anthem_index_free(ld);
	}
}
END_TEST

/* A catalogue of n products with varied titles, and its index. */
static anthem_index *big_index(size_t n)
{
	FILE *f = fopen(tmp_path("big.tsv"), "w");
	ck_assert_ptr_nonnull(f);
	static const char *const w[] = {"red", "wool", "hat", "blue", "cotton",
					"scarf", "green", "silk", "tie", "black"};
	for (size_t i = 0; i < n; i++)
		fprintf(f, "p%zu\t%s %s %s %zu\n", i, w[i % 10], w[(i / 10) % 10],
			w[(i / 100) % 10], i);
	fclose(f);
	anthem_catalog *c;
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("big.tsv"), 0), 0);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, model, c, 0), 0);
	anthem_catalog_free(c);
	return ix;
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Issue 13, defect 16: a region composed with itself is refused before
 * it keeps a thread busy (ANTHEM_MAX_SCAN_WORK), and a long search stops
 * when asked. */
START_TEST(composed_regions_are_bounded)
{
	anthem_index *ix = big_index(2048);
	anthem_hyperboloid *h;
	ck_assert_int_eq(anthem_model_embed_query(model, "red hat", &h), 0);
	/* 2^16 terms (the most a region holds) x 2048 products x dimension 8
	 * = 2^30 */
	for (int i = 0; i < 16; i++) {
		anthem_hyperboloid *u;
		ck_assert_int_eq(anthem_hyperboloid_union(&u, h, h), 0);
		anthem_hyperboloid_free(h);
		h = u;
	}
	ck_assert_uint_eq(anthem_hyperboloid_branch_count(h), 65536);
	anthem_hit hits[5];
	size_t n = 99;
	double t0 = seconds();
	ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, 5, hits, &n), ANTHEM_ERANGE);
	ck_assert_double_lt(seconds() - t0, 1.0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "ANTHEM_MAX_SCAN_WORK"));
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "65536 terms"));
	anthem_hyperboloid_free(h);

	/* cancel: a flag set before (or during) the call */
	anthem_search_options o;
	anthem_search_options_init(&o);
	ck_assert(o.cancel == NULL);
	ck_assert_uint_eq(o.timeout_ms, 0);
	const char *ors[16];
	for (int i = 0; i < 16; i++)
		ors[i] = i % 2 ? "blue scarf" : "silk tie";
	o.or_queries = ors;
	o.n_or = 16;
	o.k = 5;
	volatile int stop = 1;
	o.cancel = &stop;
	ck_assert_int_eq(anthem_search_ex(model, ix, "hat", &o, hits, &n),
			 ANTHEM_ECANCELED);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "canceled"));
	o.n_or = 0; /* a simple region: stopped before stage 2 */
	ck_assert_int_eq(anthem_search_ex(model, ix, "hat", &o, hits, &n),
			 ANTHEM_ECANCELED);
	stop = 0;
	o.n_or = 16;
	ck_assert_int_eq(anthem_search_ex(model, ix, "hat", &o, hits, &n), 0);
	ck_assert_uint_eq(n, 5);
	/* a deadline: 200 composed queries take far longer than 1 ms */
	enum { NQ = 200 };
	const char *qs[NQ];
	for (int i = 0; i < NQ; i++)
		qs[i] = "wool hat";
	anthem_hit *out = malloc(NQ * 5 * sizeof *out);
	size_t counts[NQ];
	o.timeout_ms = 1;
	t0 = seconds();
	ck_assert_int_eq(anthem_search_batch(model, ix, qs, NQ, &o, out, counts),
			 ANTHEM_ECANCELED);
	ck_assert_double_lt(seconds() - t0, 0.5);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "timed out"));
	/* an old caller's struct (without the fields) is not stopped */
	o.struct_size = offsetof(anthem_search_options, cancel);
	o.cancel = &stop;
	stop = 1;
	ck_assert_int_eq(anthem_search_batch(model, ix, qs, 2, &o, out, counts), 0);
	free(out);
	anthem_index_free(ix);
}
END_TEST

START_TEST(two_stages_agree_with_the_parts)
{
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, model, catalog, 2), 0);
	anthem_hit hits[20], scan[561];
	size_t n, ns;
	ck_assert_int_eq(anthem_search(model, ix, "winter hat", 20, 100, hits, &n), 0);
	ck_assert_uint_eq(n, 20);
	/* distances are the full model's and ascending */
	for (size_t i = 0; i < n; i++) {
		float d;
		ck_assert_int_eq(anthem_model_score(model, "winter hat",
						    anthem_index_title(ix, hits[i].index),
						    &d), 0);
		ck_assert_float_eq(d, hits[i].distance);
		if (i)
			ck_assert_float_ge(hits[i].distance, hits[i - 1].distance);
	}
	/* stage 1 alone: ascending distances of the query hyperboloid */
	anthem_hyperboloid *h;
	ck_assert_int_eq(anthem_model_embed_query(model, "winter hat", &h), 0);
	ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, 561, scan, &ns), 0);
	ck_assert_uint_eq(ns, 561);
	for (size_t i = 1; i < ns; i++)
		ck_assert_float_ge(scan[i].distance, scan[i - 1].distance);
	/* every hit of the search came from stage 1's top 100 */
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (size_t j = 0; j < 100; j++)
			found |= scan[j].index == hits[i].index;
		ck_assert(found);
	}
	/* threads split both stages and change nothing */
	for (size_t t = 0; t <= 3; t++) {
		anthem_hit ht[20];
		size_t nt;
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 20;
		o.k1 = 100;
		o.threads = t;
		ck_assert_int_eq(anthem_search_ex(model, ix, "winter hat", &o, ht,
						  &nt), 0);
		ck_assert_uint_eq(nt, n);
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_eq(ht[i].index, hits[i].index);
			ck_assert(memcmp(&ht[i].distance, &hits[i].distance,
					 sizeof(float)) == 0);
		}
	}
	/* candidate scoring refuses an index position past the end */
	size_t bad = 561;
	float d;
	ck_assert_int_eq(anthem_score(model, ix, "hat", &bad, 1, &d), ANTHEM_ERANGE);
	anthem_hyperboloid_free(h);
	anthem_index_free(ix);
}
END_TEST

/* The scan's tight loop gives the general distance to float precision, in
 * every geometry. */
START_TEST(scan_equals_general_distance)
{
	const anthem_geometry g[3] = {ANTHEM_GEOMETRY_HYPERBOLIC,
				      ANTHEM_GEOMETRY_EUCLIDEAN,
				      ANTHEM_GEOMETRY_VECTOR};
	for (int k = 0; k < 3; k++) {
		anthem_model_config cfg;
		anthem_model_config_init(&cfg);
		cfg.dim = 8;
		cfg.buckets = 4096;
		cfg.geometry = g[k];
		anthem_model *m;
		anthem_index *ix;
		ck_assert_int_eq(anthem_model_create(&m, &cfg), 0);
		ck_assert_int_eq(anthem_index_build(&ix, m, catalog, 1), 0);
		anthem_hyperboloid *h;
		ck_assert_int_eq(anthem_model_embed_query(m, "wool winter hat", &h), 0);
		size_t n = anthem_index_count(ix), ns;
		anthem_hit *hits = malloc(n * sizeof *hits);
		ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, n, hits, &ns), 0);
		ck_assert_uint_eq(ns, n);
		const float *pts = anthem_vectors_data(anthem_index_vectors(ix));
		double worst = 0.0;
		for (size_t i = 0; i < n; i++) {
			float d;
			ck_assert_int_eq(anthem_hyperboloid_distance(
						 h, pts + hits[i].index * 8, 8, 0.5f, &d), 0);
			double rel = fabs(d - hits[i].distance) / fmax(1e-6, fabs(d));
			worst = fmax(worst, rel);
		}
		/* the scan computes in float (tests/test_scan.c has the
		 * details) */
		ck_assert_msg(worst < 1e-5, "geometry %d: max rel diff %g", k, worst);
		free(hits);
		anthem_hyperboloid_free(h);
		anthem_index_free(ix);
		anthem_model_free(m);
	}
}
END_TEST

/* Models that were never saved are told apart too; huge k and k1 are
 * clamped, not allocated; judgements belong to their catalogue. */
START_TEST(unsaved_models_and_limits)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 4096;
	anthem_model *a, *b;
	ck_assert_int_eq(anthem_model_create(&a, &cfg), 0);
	cfg.seed = 7;
	ck_assert_int_eq(anthem_model_create(&b, &cfg), 0);
	ck_assert_uint_ne(anthem_model_fingerprint(a), anthem_model_fingerprint(b));
	anthem_index *ix, *ld;
	ck_assert_int_eq(anthem_index_build(&ix, a, catalog, 1), 0);
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("a.idx")), 0);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("a.idx"), b), ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("a.idx"), a), 0);
	anthem_index_free(ld);
	/* the same model saved and loaded keeps its fingerprint */
	anthem_model *l;
	ck_assert_int_eq(anthem_model_save(a, tmp_path("a.anthem")), 0);
	ck_assert_int_eq(anthem_model_load(&l, tmp_path("a.anthem")), 0);
	ck_assert_uint_eq(anthem_model_fingerprint(l), anthem_model_fingerprint(a));
	anthem_hit hits[4];
	size_t n;
	ck_assert_int_eq(anthem_search(a, ix, "hat", 3, (size_t)1 << 62, hits, &n), 0);
	ck_assert_uint_eq(n, 3);
	anthem_hit *all = malloc(561 * sizeof *all);
	ck_assert_int_eq(anthem_search(a, ix, "hat", (size_t)1 << 62, 0, all, &n), 0);
	ck_assert_uint_eq(n, 561);
	free(all);
	/* judgements read against another catalogue */
	anthem_catalog *other;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&other, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("test.tsv"), other, 0), 0);
	anthem_metrics m;
	anthem_metrics_init(&m);
	ck_assert_int_eq(anthem_evaluate(a, catalog, j, NULL, &m), ANTHEM_EMISMATCH);
	ck_assert_float_eq(anthem_model_gamma(a), 0.5f);
	anthem_judgments_free(j);
	anthem_catalog_free(other);
	anthem_model_free(l);
	anthem_index_free(ix);
	anthem_model_free(a);
	anthem_model_free(b);
}
END_TEST

typedef struct job {
	const anthem_model *m;
	const anthem_index *ix;
	anthem_hit hits[4][10];
	int rc;
} job;

static const char *const queries[4] = {"hat", "winter coat", "shoe", "silk tie"};

static void *search_all(void *arg)
{
	job *j = arg;
	for (int q = 0; q < 4 && !j->rc; q++) {
		size_t n;
		j->rc = anthem_search(j->m, j->ix, queries[q], 10, 50, j->hits[q], &n);
		if (!j->rc && n != 10)
			j->rc = -100;
	}
	return NULL;
}

START_TEST(eight_threads_one_model)
{
	anthem_index *built, *ix;
	ck_assert_int_eq(anthem_index_build(&built, model, catalog, 2), 0);
	ck_assert_int_eq(anthem_index_save(built, tmp_path("i.idx")), 0);
	anthem_index_free(built);
	ck_assert_int_eq(anthem_index_load(&ix, tmp_path("i.idx"), model), 0);
	job one = {model, ix, {{{0, 0}}}, 0}, many[8];
	search_all(&one);
	ck_assert_int_eq(one.rc, 0);
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		many[i] = (job){model, ix, {{{0, 0}}}, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, search_all, &many[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(many[i].rc, 0);
		ck_assert_mem_eq(many[i].hits, one.hits, sizeof one.hits);
	}
	anthem_index_free(ix);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("search");
	TCase *t = tcase_create("index");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, index_round_trip);
	tcase_add_test(t, index_refusals);
	tcase_add_test(t, points_outside_the_ball);
	tcase_add_test(t, composed_regions_are_bounded);
	tcase_add_test(t, two_stages_agree_with_the_parts);
	tcase_add_test(t, scan_equals_general_distance);
	tcase_add_test(t, unsaved_models_and_limits);
	tcase_add_test(t, eight_threads_one_model);
	tcase_set_timeout(t, 300);
	suite_add_tcase(s, t);
	return run_suite(s);
}
