/* The stage-1 scan: the blocked float loop against the double reference,
 * results independent of the number of threads, ties in index order, the
 * index file's blocked layout and the older row-major one. */
#include "common/isa.h"
#include "io/container.h"
#include "search/rank.h"
#include "search/scan.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the same hits to the bit (not memcmp: anthem_hit has padding) */
static void same_hits(const anthem_hit *a, const anthem_hit *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(a[i].index, b[i].index);
		ck_assert(memcmp(&a[i].distance, &b[i].distance, sizeof(float)) == 0);
	}
}

/* n random points of dimension d inside the ball of curvature c, some of
 * them close to its boundary (|v| up to 0.995 / sqrt(c)) */
static float *random_points(rng *r, size_t n, size_t d, double c)
{
	float *p = malloc(n * d * sizeof *p);
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++) {
		double s = 0.0;
		for (size_t k = 0; k < d; k++) {
			p[i * d + k] = (float)gauss(r);
			s += (double)p[i * d + k] * p[i * d + k];
		}
		double radius = (i % 7 == 0 ? unif_ab(r, 0.9, 0.995) : unif_ab(r, 0.0, 0.9)) /
				sqrt(c > 0 ? c : 1.0);
		for (size_t k = 0; k < d; k++)
			p[i * d + k] = (float)(p[i * d + k] * radius / sqrt(s));
	}
	return p;
}

static anthem_hyperboloid *random_region(rng *r, size_t d, anthem_geometry g,
					 float c)
{
	float *ce = malloc(d * sizeof *ce), *l = malloc(d * sizeof *l);
	for (size_t k = 0; k < d; k++) {
		ce[k] = (float)unif_ab(r, -0.5, 0.5) / (float)sqrt((double)d);
		l[k] = (float)unif_ab(r, 0.0, 0.3) / (float)sqrt((double)d);
	}
	anthem_hyperboloid *h;
	ck_assert_int_eq(anthem_hyperboloid_create(&h, g, c, d, ce, l), 0);
	free(ce);
	free(l);
	return h;
}

/* Every product's float distance is the double one to a float-sized
 * tolerance, in every geometry, at dimensions that fill blocks and that do
 * not, for counts that are not a multiple of the block. */
START_TEST(float_scan_matches_the_general_distance)
{
	static const size_t dims[] = {1, 3, 8, 16, 31, 32, 64, 100, 256};
	static const struct {
		anthem_geometry g;
		float c;
	} spaces[] = {{ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f},
		      {ANTHEM_GEOMETRY_HYPERBOLIC, 0.3f},
		      {ANTHEM_GEOMETRY_EUCLIDEAN, 1.0f}};
	rng r = {42};
	for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
		for (size_t si = 0; si < 3; si++) {
			size_t d = dims[di], n = 16 * 20 + 5;
			float *p = random_points(&r, n, d, spaces[si].c);
			anthem_index *ix;
			ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
			anthem_hyperboloid *h = random_region(&r, d, spaces[si].g,
							      spaces[si].c);
			anthem_hit *hits = malloc(n * sizeof *hits);
			size_t nh;
			ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, n, hits, &nh), 0);
			ck_assert_uint_eq(nh, n);
			double worst = 0.0;
			for (size_t i = 0; i < n; i++) {
				float ref;
				ck_assert_int_eq(anthem_hyperboloid_distance(
							 h, p + hits[i].index * d, d,
							 0.5f, &ref), 0);
				/* measured: <= 4e-7 relative, except 1.6e-5 at
				 * d = 1 near the boundary, where 1 - c|v|^2
				 * loses bits in float */
				double err = fabs(ref - hits[i].distance) /
					     fmax(fabs(ref), 1e-3);
				worst = fmax(worst, err);
				if (i)
					ck_assert(hits[i - 1].distance < hits[i].distance ||
						  (hits[i - 1].distance == hits[i].distance &&
						   hits[i - 1].index < hits[i].index));
			}
			ck_assert_msg(worst < 5e-5, "d=%zu space %zu: worst rel err %g",
				      d, si, worst);
			free(hits);
			free(p);
			anthem_hyperboloid_free(h);
			anthem_index_free(ix);
		}
}
END_TEST

/* 1, 2, 3 and 8 threads, any k: the same hits to the bit. */
START_TEST(threads_do_not_change_the_hits)
{
	rng r = {7};
	size_t n = 16 * 700 + 9, d = 24;
	float *p = random_points(&r, n, d, 1.0);
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	anthem_hyperboloid *h = random_region(&r, d, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f);
	static const size_t ks[] = {1, 17, 200, 16 * 700 + 9};
	anthem_hit *one = malloc(n * sizeof *one), *many = malloc(n * sizeof *many);
	for (size_t ki = 0; ki < 4; ki++) {
		size_t k = ks[ki], n1, nm;
		ck_assert_int_eq(anthem_index_scan_threads(ix, h, 0.5f, k, 1, one, &n1), 0);
		ck_assert_uint_eq(n1, k);
		static const size_t th[] = {2, 3, 8, 0, SIZE_MAX};
		for (size_t ti = 0; ti < 5; ti++) {
			ck_assert_int_eq(anthem_index_scan_threads(ix, h, 0.5f, k, th[ti],
								   many, &nm), 0);
			ck_assert_uint_eq(nm, n1);
			same_hits(one, many, n1);
		}
	}
	/* the heap keeps what a full sort of the same distances keeps */
	size_t nall, n1;
	ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, n, many, &nall), 0);
	float *d_all = malloc(n * sizeof *d_all);
	size_t *idx = malloc(200 * sizeof *idx);
	for (size_t i = 0; i < n; i++)
		d_all[many[i].index] = many[i].distance;
	ck_assert_uint_eq(ath_topk(d_all, n, 200, idx), 200);
	ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, 200, one, &n1), 0);
	for (size_t i = 0; i < 200; i++)
		ck_assert_uint_eq(one[i].index, idx[i]);
	free(d_all);
	free(idx);
	free(one);
	free(many);
	free(p);
	anthem_hyperboloid_free(h);
	anthem_index_free(ix);
}
END_TEST

/* Equal points have equal distances; they come in index order, whichever
 * thread found them. */
START_TEST(ties_in_index_order)
{
	rng r = {3};
	size_t n = 16 * 300, d = 8;
	float *p = random_points(&r, n, d, 1.0);
	for (size_t i = 0; i < n; i++)
		memcpy(p + i * d, p + (i % 5) * d, d * sizeof *p); /* 5 distinct */
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	anthem_hyperboloid *h = random_region(&r, d, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f);
	anthem_hit hits[100];
	for (size_t t = 1; t <= 3; t++) {
		size_t nh;
		ck_assert_int_eq(anthem_index_scan_threads(ix, h, 0.5f, 100, t, hits, &nh), 0);
		ck_assert_uint_eq(nh, 100);
		/* the best of the 5 points, all its copies: i, i+5, i+10, ... */
		for (size_t i = 1; i < nh; i++) {
			ck_assert_float_eq(hits[i].distance, hits[0].distance);
			ck_assert_uint_eq(hits[i].index, hits[i - 1].index + 5);
		}
		ck_assert_uint_lt(hits[0].index, 5);
	}
	free(p);
	anthem_hyperboloid_free(h);
	anthem_index_free(ix);
}
END_TEST

/* Save writes blocks that a load uses in place; an index of the older
 * row-major layout (version 1) still loads and scans the same; a newer
 * version or a wrong block count is refused. */
START_TEST(file_layouts)
{
	tmp_setup();
	const char *path;
	rng r = {11};
	size_t n = 37, d = 5;
	float *p = random_points(&r, n, d, 1.0);
	anthem_index *ix, *ld;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	path = tmp_path("v2.idx");
	ck_assert_int_eq(anthem_index_save(ix, path), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), 0);
	anthem_hyperboloid *h = random_region(&r, d, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f);
	anthem_hit a[37], b[37];
	size_t na, nb;
	ck_assert_int_eq(anthem_index_scan(ix, h, 0.5f, n, a, &na), 0);
	ck_assert_int_eq(anthem_index_scan(ld, h, 0.5f, n, b, &nb), 0);
	same_hits(a, b, n);
	/* the row-major set, made on demand */
	ck_assert_mem_eq(anthem_vectors_data(anthem_index_vectors(ld)), p,
			 n * d * sizeof *p);
	anthem_index_free(ld);

	/* version 1: row-major "points", no index.version */
	char ids[37 * 4 + 1] = "", titles[37 * 4 + 1] = "";
	for (size_t i = 0; i < n; i++) {
		snprintf(ids + strlen(ids), 5, "p%02zu\n", i);
		snprintf(titles + strlen(titles), 5, "t%02zu\n", i);
	}
	ath_kv kv[] = {
		{.key = "index.count", .type = ATH_KV_U64, .u = n},
		{.key = "index.dim", .type = ATH_KV_U64, .u = d},
		{.key = "index.model_fingerprint", .type = ATH_KV_U64, .u = 1},
		{.key = "index.ids", .type = ATH_KV_STR, .s = ids},
		{.key = "index.titles", .type = ATH_KV_STR, .s = titles},
		{.key = "index.version", .type = ATH_KV_U64, .u = 1},
	};
	ath_tensor t = {.name = "points", .rows = n, .cols = d, .data = p};
	path = tmp_path("v1.idx");
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv, 5, &t, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), 0);
	ck_assert_int_eq(anthem_index_scan(ld, h, 0.5f, n, b, &nb), 0);
	same_hits(a, b, n);
	ck_assert_str_eq(anthem_index_id(ld, 36), "p36");
	ck_assert_str_eq(anthem_index_title(ld, 36), "t36");
	anthem_index_free(ld);
	/* the same with the version said */
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv, 6, &t, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), 0);
	anthem_index_free(ld);
	/* version 1 with a stray 1 x 16 "blocks" tensor (a crafted file; it
	 * was used unchecked, and read past the file): not read */
	float stray[16] = {0};
	ath_tensor both[2] = {t, {.name = "blocks", .rows = 1, .cols = 16,
				  .data = stray}};
	for (size_t nkv = 5; nkv <= 6; nkv++) {
		ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv, nkv, both,
						     2, "t"), 0);
		ck_assert_int_eq(anthem_index_load(&ld, path, NULL), 0);
		ck_assert_int_eq(anthem_index_scan(ld, h, 0.5f, n, b, &nb), 0);
		same_hits(a, b, n);
		anthem_index_free(ld);
	}
	/* a newer version */
	kv[5].u = 5; /* 3 adds the approximate index, 4 the int8 points */
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv, 6, &t, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), ANTHEM_EVERSION);
	ck_assert_ptr_null(ld);
	/* version 2 with row-major points, and with too few blocks */
	kv[5].u = 2;
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv, 6, &t, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), ANTHEM_EFORMAT);
	ath_kv kv2[7];
	memcpy(kv2, kv, sizeof kv);
	kv2[6] = (ath_kv){.key = "index.block", .type = ATH_KV_U64, .u = 16};
	float *zeros = calloc(3 * 16 * d, sizeof *zeros);
	ath_tensor tb = {.name = "blocks", .rows = 2, .cols = 16 * d, .data = zeros};
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv2, 7, &tb, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), ANTHEM_EFORMAT);
	/* ids that run out */
	tb.rows = 3;
	ids[strlen(ids) - 5] = '\0';
	ck_assert_int_eq(ath_container_write(path, "ANTHEMIX", kv2, 7, &tb, 1, "t"), 0);
	ck_assert_int_eq(anthem_index_load(&ld, path, NULL), ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "do not hold"));
	free(zeros);

	anthem_hyperboloid_free(h);
	anthem_index_free(ix);
	free(p);
	tmp_teardown();
}
END_TEST

/* Unions go through the general distance, chunk by chunk: the same as the
 * distances of the whole set at once. */
START_TEST(union_scan_in_chunks)
{
	rng r = {5};
	size_t n = 4096 * 2 + 100, d = 6;
	float *p = random_points(&r, n, d, 1.0);
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	anthem_hyperboloid *a = random_region(&r, d, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f),
			   *b = random_region(&r, d, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f), *u;
	ck_assert_int_eq(anthem_hyperboloid_union(&u, a, b), 0);
	anthem_vectors *v;
	ck_assert_int_eq(anthem_vectors_wrap(&v, n, d, p), 0);
	float *all = malloc(n * sizeof *all);
	ck_assert_int_eq(anthem_hyperboloid_distances(u, v, 0.5f, all), 0);
	size_t *idx = malloc(50 * sizeof *idx), nh;
	ath_topk(all, n, 50, idx);
	anthem_hit hits[50];
	ck_assert_int_eq(anthem_index_scan(ix, u, 0.5f, 50, hits, &nh), 0);
	ck_assert_uint_eq(nh, 50);
	for (size_t i = 0; i < 50; i++) {
		ck_assert_uint_eq(hits[i].index, idx[i]);
		ck_assert_float_eq(hits[i].distance, all[idx[i]]);
	}
	free(all);
	free(idx);
	anthem_vectors_free(v);
	anthem_hyperboloid_free(a);
	anthem_hyperboloid_free(b);
	anthem_hyperboloid_free(u);
	anthem_index_free(ix);
	free(p);
}
END_TEST

/* Threads asking for the row-major set at once all get the same one. */
static void *get_vectors(void *arg)
{
	return (void *)anthem_index_vectors(arg);
}

START_TEST(vectors_made_once)
{
	rng r = {9};
	size_t n = 1000, d = 12;
	float *p = random_points(&r, n, d, 1.0);
	anthem_index *ix;
	ck_assert_int_eq(ath_index_from_points(&ix, p, n, d), 0);
	pthread_t th[4];
	void *got[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, get_vectors, ix), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_join(th[i], &got[i]), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_eq(got[i], anthem_index_vectors(ix));
	ck_assert_mem_eq(anthem_vectors_data(got[0]), p, n * d * sizeof *p);
	anthem_index_free(ix);
	free(p);
}
END_TEST

/* The copy of the loop in use is the one ANTHEM_ISA names (tests/meson.build
 * runs this suite once per copy) when this CPU runs it, so those runs test
 * the copy they name. */
START_TEST(kernel_is_the_one_asked_for)
{
	const char *want = getenv("ANTHEM_ISA"), *got = ath_isa_name(ath_isa_level());
	ck_assert(!strcmp(got, "default") || !strcmp(got, "x86-64-v3") ||
		  !strcmp(got, "x86-64-v4"));
	if (!want || !*want)
		return;
	int runs = !strcmp(want, "default");
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	if (!strcmp(want, "x86-64-v3"))
		runs = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (!strcmp(want, "x86-64-v4"))
		runs = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
	if (runs)
		ck_assert_str_eq(got, want);
	else
		fprintf(stderr, "scan: this CPU does not run %s; %s tested instead\n",
			want, got);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scan");
	TCase *t = tcase_create("scan");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, float_scan_matches_the_general_distance);
	tcase_add_test(t, threads_do_not_change_the_hits);
	tcase_add_test(t, ties_in_index_order);
	tcase_add_test(t, file_layouts);
	tcase_add_test(t, union_scan_in_chunks);
	tcase_add_test(t, vectors_made_once);
	tcase_add_test(t, kernel_is_the_one_asked_for);
	suite_add_tcase(s, t);
	return run_suite(s);
}
