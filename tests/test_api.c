/* Public API: error model, version, vectors and hyperboloids, through the
 * shared library exactly as a user links it. */
#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: a fixed-seed generator so failures reproduce */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static double uniform(double lo, double hi)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	uint64_t r = rng_state * 0x2545f4914f6cdd1dULL;
	return lo + (hi - lo) * (double)(r >> 11) / 9007199254740992.0;
}

/* ---- errors and version ------------------------------------------------ */

/* The *_init_size functions write no byte past the size they are given
 * (a program built against older, smaller structs), say in struct_size how
 * much they wrote, and the defaults land in what they wrote. */
#define CHECK_INIT_SIZE(type, fn, field)                                       \
	do {                                                                   \
		unsigned char buf[sizeof(type) + 64];                          \
		size_t cut = offsetof(type, field);                            \
		memset(buf, 0xA5, sizeof buf);                                 \
		ck_assert_int_eq(fn((type *)(void *)buf, cut), ANTHEM_OK);     \
		size_t got;                                                    \
		memcpy(&got, buf, sizeof got);                                 \
		ck_assert_uint_eq(got, cut);                                   \
		for (size_t i = cut; i < sizeof buf; i++)                      \
			ck_assert_uint_eq(buf[i], 0xA5);                       \
		ck_assert_int_eq(fn((type *)(void *)buf, sizeof buf), ANTHEM_OK); \
		memcpy(&got, buf, sizeof got);                                 \
		ck_assert_uint_eq(got, sizeof(type));                          \
		for (size_t i = sizeof(type); i < sizeof buf; i++)             \
			ck_assert_uint_eq(buf[i], 0xA5);                       \
		ck_assert_int_eq(fn((type *)(void *)buf, sizeof(size_t) - 1),  \
				 ANTHEM_EINVAL);                               \
		ck_assert_int_eq(fn(NULL, sizeof(type)), ANTHEM_EINVAL);       \
	} while (0)

START_TEST(init_size_stays_inside)
{
	CHECK_INIT_SIZE(anthem_model_config, anthem_model_config_init_size,
			tie_embeddings);
	CHECK_INIT_SIZE(anthem_model_config, anthem_model_config_init_size,
			lexical_buckets);
	CHECK_INIT_SIZE(anthem_train_options, anthem_train_options_init_size,
			logit_scale);
	CHECK_INIT_SIZE(anthem_eval_options, anthem_eval_options_init_size,
			index);
	CHECK_INIT_SIZE(anthem_metrics, anthem_metrics_init_size, k1);

	/* the macro passes the caller's size and the defaults are there */
	anthem_model_config cfg;
	memset(&cfg, 0, sizeof cfg);
	ck_assert_int_eq(anthem_model_config_init(&cfg), ANTHEM_OK);
	ck_assert_uint_eq(cfg.struct_size, sizeof cfg);
	ck_assert_uint_eq(cfg.dim, 32);
	ck_assert_int_eq(cfg.tie_embeddings, 1);
	ck_assert_uint_eq(cfg.lexical_buckets, 0);
	anthem_train_options o;
	ck_assert_int_eq(anthem_train_options_init(&o), ANTHEM_OK);
	ck_assert_uint_eq(o.epochs, 10);
	ck_assert(o.logit_scale == 10.0f);
	/* a struct cut before a field: the library reads the default for it */
	anthem_model_config older;
	anthem_model_config_init(&older);
	older.struct_size = offsetof(anthem_model_config, tie_embeddings);
	older.dim = 4;
	anthem_model *m = NULL;
	ck_assert_int_eq(anthem_model_create(&m, &older), ANTHEM_OK);
	anthem_model_config back;
	anthem_model_config_init(&back);
	ck_assert_int_eq(anthem_model_get_config(m, &back), ANTHEM_OK);
	ck_assert_uint_eq(back.dim, 4);
	ck_assert_int_eq(back.tie_embeddings, 1);
	anthem_model_free(m);
}
END_TEST

START_TEST(strerror_names_every_code)
{
	const int codes[] = {ANTHEM_OK, ANTHEM_EINVAL, ANTHEM_ENOMEM,
			     ANTHEM_EIO, ANTHEM_EFORMAT, ANTHEM_EVERSION,
			     ANTHEM_ECHECKSUM, ANTHEM_ETRUNCATED,
			     ANTHEM_EMISMATCH, ANTHEM_ERANGE, ANTHEM_ENOTFOUND,
			     ANTHEM_ECANCELED};
	size_t n = sizeof codes / sizeof codes[0];
	const char *unknown = anthem_strerror(12345);
	for (size_t i = 0; i < n; i++) {
		const char *s = anthem_strerror(codes[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_ne(s, unknown);
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(s, anthem_strerror(codes[j]));
	}
	/* the numbers are ABI: pin a few */
	ck_assert_int_eq(ANTHEM_EINVAL, -1);
	ck_assert_int_eq(ANTHEM_EMISMATCH, -8);
	ck_assert_int_eq(ANTHEM_ECANCELED, -11);
}
END_TEST

static void *fail_in_thread(void *arg)
{
	anthem_vectors *v;
	int rc = anthem_vectors_copy(&v, 1, 0, NULL);
	*(int *)arg = rc;
	/* this thread sees its own message */
	return strstr(anthem_last_error(), "dim is 0") ? arg : NULL;
}

START_TEST(last_error_is_per_thread)
{
	anthem_clear_error();
	ck_assert_str_eq(anthem_last_error(), "");
	pthread_t t;
	int rc = 0;
	void *seen;
	ck_assert_int_eq(pthread_create(&t, NULL, fail_in_thread, &rc), 0);
	ck_assert_int_eq(pthread_join(t, &seen), 0);
	ck_assert_int_eq(rc, ANTHEM_ERANGE);
	ck_assert_ptr_nonnull(seen);
	/* ... and this one does not */
	ck_assert_str_eq(anthem_last_error(), "");
}
END_TEST

START_TEST(version_agrees)
{
	ck_assert_uint_eq(anthem_version_number(), ANTHEM_VERSION_NUMBER);
	ck_assert_str_eq(anthem_version_string(), ANTHEM_VERSION_STRING);
	ck_assert_uint_eq(anthem_max_dim(), ANTHEM_MAX_DIM);
}
END_TEST

/* ---- vectors ------------------------------------------------------------ */

START_TEST(vectors_copy_and_wrap)
{
	float pts[6] = {0.1f, 0.2f, 0.3f, -0.1f, -0.2f, -0.3f};
	anthem_vectors *c, *w;
	ck_assert_int_eq(anthem_vectors_copy(&c, 2, 3, pts), ANTHEM_OK);
	ck_assert_int_eq(anthem_vectors_wrap(&w, 2, 3, pts), ANTHEM_OK);
	ck_assert_uint_eq(anthem_vectors_count(c), 2);
	ck_assert_uint_eq(anthem_vectors_dim(c), 3);
	ck_assert_ptr_ne(anthem_vectors_data(c), pts);
	ck_assert_ptr_eq(anthem_vectors_data(w), pts); /* borrowed */
	pts[0] = 0.5f;
	ck_assert_float_eq(anthem_vectors_data(c)[0], 0.1f);
	ck_assert_float_eq(anthem_vectors_data(w)[0], 0.5f);
	anthem_vectors_free(c);
	anthem_vectors_free(w);
	anthem_vectors_free(NULL);
}
END_TEST

START_TEST(vectors_refuse_bad_input)
{
	float pts[4] = {0.1f, NAN, 0.3f, 0.4f};
	anthem_vectors *v = (anthem_vectors *)&v;
	ck_assert_int_eq(anthem_vectors_copy(&v, 2, 2, pts), ANTHEM_EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(),
				     "point 0, dimension 1"));
	pts[1] = INFINITY;
	ck_assert_int_eq(anthem_vectors_wrap(&v, 2, 2, pts), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_vectors_copy(&v, 1, 0, pts), ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_vectors_copy(&v, 1, ANTHEM_MAX_DIM + 1, pts),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_vectors_copy(&v, SIZE_MAX / 2, 4, pts),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_vectors_copy(&v, 3, 2, NULL), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_vectors_copy(NULL, 1, 2, pts), ANTHEM_EINVAL);
	/* an empty set is fine */
	ck_assert_int_eq(anthem_vectors_copy(&v, 0, 2, NULL), ANTHEM_OK);
	ck_assert_uint_eq(anthem_vectors_count(v), 0);
	anthem_vectors_free(v);
}
END_TEST

/* ---- hyperboloids --------------------------------------------------------- */

static anthem_hyperboloid *make(anthem_geometry g, float curv, size_t dim,
				const float *c, const float *l)
{
	anthem_hyperboloid *h = NULL;
	int rc = anthem_hyperboloid_create(&h, g, curv, dim, c, l);
	ck_assert_msg(rc == ANTHEM_OK, "create: %s", anthem_last_error());
	return h;
}

START_TEST(create_validates)
{
	const float c[2] = {0.1f, 0.2f}, l[2] = {0.1f, 0.1f};
	const float neg[2] = {0.1f, -0.1f}, nan2[2] = {NAN, 0.0f};
	const float far[2] = {0.8f, 0.8f};
	anthem_hyperboloid *h = NULL;
	const anthem_geometry H = ANTHEM_GEOMETRY_HYPERBOLIC;
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 1, 2, c, neg),
			 ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "limit[1]"));
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 1, 2, nan2, l),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 1, 2, far, l),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 0, 2, c, l),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, NAN, 2, c, l),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 1, 0, c, l),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_VECTOR,
						   1, 2, c, l),
			 ANTHEM_EINVAL); /* a vector query has no extent */
	ck_assert_int_eq(anthem_hyperboloid_create(&h, (anthem_geometry)7, 1,
						   2, c, l),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_create(&h, H, 1, 2, NULL, l),
			 ANTHEM_EINVAL);
	ck_assert_ptr_null(h);
	/* far is fine in flat space */
	h = make(ANTHEM_GEOMETRY_EUCLIDEAN, 0, 2, far, l);
	anthem_hyperboloid_free(h);
	anthem_hyperboloid_free(NULL);
}
END_TEST

START_TEST(read_back)
{
	const float c[3] = {0.1f, -0.2f, 0.05f}, l[3] = {0.1f, 0.0f, 0.3f};
	anthem_hyperboloid *h = make(ANTHEM_GEOMETRY_HYPERBOLIC, 0.5f, 3, c, l);
	float rc[3], rl[3];
	ck_assert_uint_eq(anthem_hyperboloid_dim(h), 3);
	ck_assert_int_eq(anthem_hyperboloid_geometry(h),
			 ANTHEM_GEOMETRY_HYPERBOLIC);
	ck_assert_float_eq(anthem_hyperboloid_curvature(h), 0.5f);
	ck_assert_uint_eq(anthem_hyperboloid_branch_count(h), 1);
	ck_assert_uint_eq(anthem_hyperboloid_term_count(h, 0), 1);
	ck_assert_uint_eq(anthem_hyperboloid_term_count(h, 1), 0);
	ck_assert_int_eq(anthem_hyperboloid_get(h, 0, 0, rc, rl), ANTHEM_OK);
	ck_assert_mem_eq(rc, c, sizeof c);
	ck_assert_mem_eq(rl, l, sizeof l);
	ck_assert_int_eq(anthem_hyperboloid_get(h, 0, 1, rc, rl),
			 ANTHEM_ERANGE);
	anthem_hyperboloid_free(h);
}
END_TEST

/* Hand-computed cases.  Flat: c = (0,0), l = (1,1), v = (3, 0.5):
 * d_out = (3 - 1) + 0 = 2; t = (1, 0.5); d_in = |0-1| + |0-0.5| = 1.5;
 * d = 2 + 0.5 * 1.5 = 2.75.
 * Ball, 1-D, c = 1: x (+) y = (x + y) / (1 + xy).  Centre 0, limit 0.5,
 * v = 0.8: qmax = 0.5, qmin = -0.5; v (-) qmax = 0.3 / 0.6 = 0.5;
 * qmin (-) v = -1.3 / 1.4 < 0; t = 0.5, 0 (-) 0.5 = -0.5;
 * d = 0.5 + 0.5 * 0.5 = 0.75. */
START_TEST(distance_hand_cases)
{
	const float c[2] = {0, 0}, l[2] = {1, 1}, v[2] = {3, 0.5f};
	anthem_hyperboloid *h = make(ANTHEM_GEOMETRY_EUCLIDEAN, 0, 2, c, l);
	float d;
	ck_assert_int_eq(anthem_hyperboloid_distance(h, v, 2, 0.5f, &d),
			 ANTHEM_OK);
	ck_assert_float_eq_tol(d, 2.75f, 1e-6f);
	anthem_hyperboloid_free(h);

	const float c1 = 0.0f, l1 = 0.5f, v1 = 0.8f;
	h = make(ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f, 1, &c1, &l1);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, &v1, 1, 0.5f, &d),
			 ANTHEM_OK);
	ck_assert_float_eq_tol(d, 0.75f, 1e-6f);
	anthem_hyperboloid_free(h);
}
END_TEST

START_TEST(distance_refuses_bad_points)
{
	const float c[2] = {0, 0}, l[2] = {0.2f, 0.2f};
	const float out[2] = {1.0f, 0.1f}, nan2[2] = {NAN, 0};
	anthem_hyperboloid *h = make(ANTHEM_GEOMETRY_HYPERBOLIC, 1, 2, c, l);
	float d;
	int in;
	ck_assert_int_eq(anthem_hyperboloid_distance(h, out, 2, 0.5f, &d),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, nan2, 2, 0.5f, &d),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, c, 3, 0.5f, &d),
			 ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, c, 2, -1.0f, &d),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, c, 2, NAN, &d),
			 ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_hyperboloid_contains(h, out, 2, &in),
			 ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_hyperboloid_contains(NULL, c, 2, &in),
			 ANTHEM_EINVAL);
	anthem_vectors *v;
	ck_assert_int_eq(anthem_vectors_copy(&v, 1, 2, out), ANTHEM_OK);
	ck_assert_int_eq(anthem_hyperboloid_distances(h, v, 0.5f, &d),
			 ANTHEM_ERANGE);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "(point 0)"));
	anthem_vectors_free(v);
	anthem_hyperboloid_free(h);
}
END_TEST

START_TEST(flat_region_is_the_box)
{
	const float c[2] = {0.5f, -1.0f}, l[2] = {1.0f, 0.25f};
	anthem_hyperboloid *h = make(ANTHEM_GEOMETRY_EUCLIDEAN, 0, 2, c, l);
	for (int i = 0; i < 2000; i++) {
		float v[2] = {(float)uniform(-1.5, 2.5),
			      (float)uniform(-2.0, 0.0)};
		int in, box = fabsf(v[0] - c[0]) <= l[0] &&
			      fabsf(v[1] - c[1]) <= l[1];
		ck_assert_int_eq(anthem_hyperboloid_contains(h, v, 2, &in),
				 ANTHEM_OK);
		ck_assert_int_eq(in, box);
	}
	anthem_hyperboloid_free(h);
}
END_TEST

/* Random points of the ball of radius r (uniform direction, radius spread). */
static void sample(size_t dim, double r, float *v)
{
	double n2 = 0;
	for (size_t i = 0; i < dim; i++) {
		v[i] = (float)uniform(-1, 1);
		n2 += (double)v[i] * v[i];
	}
	double scale = uniform(0, r) / sqrt(n2 + 1e-30);
	for (size_t i = 0; i < dim; i++)
		v[i] = (float)(v[i] * scale);
}

static int inside(const anthem_hyperboloid *h, const float *v, size_t dim)
{
	int in = -1;
	ck_assert_int_eq(anthem_hyperboloid_contains(h, v, dim, &in),
			 ANTHEM_OK);
	return in;
}

/* Intersection and union against their operands on sampled points:
 * x in (a AND b) <=> x in a and x in b; x in (a OR b) <=> a or b. */
static void check_set_ops(anthem_geometry g, float curv, double radius)
{
	enum { DIM = 3, SAMPLES = 20000 };
	const float ca[DIM] = {0.10f, 0.05f, -0.05f}, la[DIM] = {0.3f, 0.25f, 0.3f};
	const float cb[DIM] = {-0.05f, 0.15f, 0.0f}, lb[DIM] = {0.25f, 0.3f, 0.2f};
	anthem_hyperboloid *a = make(g, curv, DIM, ca, la);
	anthem_hyperboloid *b = make(g, curv, DIM, cb, lb);
	anthem_hyperboloid *and, *or;
	ck_assert_int_eq(anthem_hyperboloid_intersect(&and, a, b), ANTHEM_OK);
	ck_assert_int_eq(anthem_hyperboloid_union(&or, a, b), ANTHEM_OK);
	ck_assert_uint_eq(anthem_hyperboloid_branch_count(or), 2);
	size_t n_and = 0, n_a = 0;
	for (int i = 0; i < SAMPLES; i++) {
		float v[DIM];
		sample(DIM, radius, v);
		int ia = inside(a, v, DIM), ib = inside(b, v, DIM);
		ck_assert_int_eq(inside(and, v, DIM), ia && ib);
		ck_assert_int_eq(inside(or, v, DIM), ia || ib);
		n_and += ia && ib;
		n_a += ia;
	}
	/* the sample really probes the regions (not a vacuous pass) */
	ck_assert_uint_gt(n_and, SAMPLES / 100);
	ck_assert_uint_gt(n_a - n_and, SAMPLES / 100);
	/* outside distances (gamma = 0): AND is at least the larger, OR is
	 * the smaller; in the ball the AND keeps its terms, so it is exactly
	 * the larger (in flat space the merged box has its own centre, so
	 * only the outside part compares) */
	float v[DIM] = {0.4f, -0.3f, 0.2f}, da, db, dand, dor;
	ck_assert_int_eq(anthem_hyperboloid_distance(a, v, DIM, 0.0f, &da), 0);
	ck_assert_int_eq(anthem_hyperboloid_distance(b, v, DIM, 0.0f, &db), 0);
	ck_assert_int_eq(anthem_hyperboloid_distance(and, v, DIM, 0.0f, &dand), 0);
	ck_assert_int_eq(anthem_hyperboloid_distance(or, v, DIM, 0.0f, &dor), 0);
	ck_assert_float_gt(da, 0.0f);
	if (g == ANTHEM_GEOMETRY_HYPERBOLIC)
		ck_assert_float_eq(dand, fmaxf(da, db));
	else
		ck_assert_float_ge(dand, fmaxf(da, db) - 1e-6f);
	ck_assert_float_eq(dor, fminf(da, db));
	anthem_hyperboloid_free(a);
	anthem_hyperboloid_free(b);
	anthem_hyperboloid_free(and);
	anthem_hyperboloid_free(or);
}

START_TEST(set_ops_hyperbolic) { check_set_ops(ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f, 0.7); }
END_TEST
START_TEST(set_ops_flat) { check_set_ops(ANTHEM_GEOMETRY_EUCLIDEAN, 0.0f, 0.7); }
END_TEST

START_TEST(intersection_distributes_and_empties)
{
	const float c1[1] = {0.0f}, c2[1] = {0.5f}, c3[1] = {-0.5f};
	const float l[1] = {0.1f};
	const anthem_geometry E = ANTHEM_GEOMETRY_EUCLIDEAN;
	anthem_hyperboloid *a = make(E, 0, 1, c1, l), *b = make(E, 0, 1, c2, l),
			   *c = make(E, 0, 1, c3, l), *ab, *abc, *none;
	ck_assert_int_eq(anthem_hyperboloid_union(&ab, a, b), ANTHEM_OK);
	/* (a OR b) AND (a OR b): 4 branches, two of them empty */
	ck_assert_int_eq(anthem_hyperboloid_intersect(&abc, ab, ab), ANTHEM_OK);
	ck_assert_uint_eq(anthem_hyperboloid_branch_count(abc), 2);
	/* disjoint boxes: the empty region, infinitely far */
	ck_assert_int_eq(anthem_hyperboloid_intersect(&none, b, c), ANTHEM_OK);
	ck_assert_uint_eq(anthem_hyperboloid_branch_count(none), 0);
	float d, p = 0.5f;
	int in;
	ck_assert_int_eq(anthem_hyperboloid_distance(none, &p, 1, 0.5f, &d), 0);
	ck_assert(isinf(d));
	ck_assert_int_eq(anthem_hyperboloid_contains(none, &p, 1, &in), 0);
	ck_assert_int_eq(in, 0);
	/* operands from different spaces are refused */
	anthem_hyperboloid *hyp = make(ANTHEM_GEOMETRY_HYPERBOLIC, 1, 1, c1, l);
	anthem_hyperboloid *bad = (anthem_hyperboloid *)&bad;
	ck_assert_int_eq(anthem_hyperboloid_intersect(&bad, a, hyp),
			 ANTHEM_EMISMATCH);
	ck_assert_ptr_null(bad);
	ck_assert_int_eq(anthem_hyperboloid_union(&bad, a, hyp),
			 ANTHEM_EMISMATCH);
	anthem_hyperboloid *list[] = {a, b, c, ab, abc, none, hyp};
	for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
		anthem_hyperboloid_free(list[i]);
}
END_TEST

START_TEST(batch_equals_single)
{
	enum { N = 64, DIM = 8 };
	float c[DIM], l[DIM], pts[N * DIM], out[N];
	for (size_t i = 0; i < DIM; i++) {
		c[i] = (float)uniform(-0.1, 0.1);
		l[i] = (float)uniform(0.0, 0.1);
	}
	for (size_t i = 0; i < N; i++)
		sample(DIM, 0.95, pts + i * DIM);
	anthem_hyperboloid *h = make(ANTHEM_GEOMETRY_HYPERBOLIC, 1, DIM, c, l);
	anthem_vectors *v;
	ck_assert_int_eq(anthem_vectors_wrap(&v, N, DIM, pts), ANTHEM_OK);
	ck_assert_int_eq(anthem_hyperboloid_distances(h, v, 0.2f, out), 0);
	for (size_t i = 0; i < N; i++) {
		float d;
		ck_assert_int_eq(anthem_hyperboloid_distance(h, pts + i * DIM,
							     DIM, 0.2f, &d), 0);
		ck_assert_float_eq(out[i], d);
		ck_assert(isfinite(d) && d >= 0.0f);
	}
	anthem_vectors_free(v);
	anthem_hyperboloid_free(h);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *t = tcase_create("errors");
	tcase_add_test(t, strerror_names_every_code);
	tcase_add_test(t, last_error_is_per_thread);
	tcase_add_test(t, version_agrees);
	tcase_add_test(t, init_size_stays_inside);
	suite_add_tcase(s, t);
	t = tcase_create("vectors");
	tcase_add_test(t, vectors_copy_and_wrap);
	tcase_add_test(t, vectors_refuse_bad_input);
	suite_add_tcase(s, t);
	t = tcase_create("hyperboloid");
	tcase_add_test(t, create_validates);
	tcase_add_test(t, read_back);
	tcase_add_test(t, distance_hand_cases);
	tcase_add_test(t, distance_refuses_bad_points);
	tcase_add_test(t, flat_region_is_the_box);
	tcase_add_test(t, set_ops_hyperbolic);
	tcase_add_test(t, set_ops_flat);
	tcase_add_test(t, intersection_distributes_and_empties);
	tcase_add_test(t, batch_equals_single);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return run_suite(api_suite());
}
