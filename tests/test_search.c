/* Indexes and the two-stage search: files, refusals, agreement between the
 * stages and the public entry points, and 8 threads on one model. */
#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	/* without a model nothing is checked */
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("i.idx"), NULL), 0);
	anthem_index_free(ld);
	anthem_model_free(other);
	anthem_model_free(other_loaded);
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
	tcase_add_test(t, two_stages_agree_with_the_parts);
	tcase_add_test(t, scan_equals_general_distance);
	tcase_add_test(t, unsaved_models_and_limits);
	tcase_add_test(t, eight_threads_one_model);
	tcase_set_timeout(t, 300);
	suite_add_tcase(s, t);
	return run_suite(s);
}
