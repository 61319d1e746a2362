/* Shared by the Check suites: a seedable generator and the runner. */
#ifndef ANTHEM_TESTUTIL_H
#define ANTHEM_TESTUTIL_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* splitmix64 (Steele, Lea, Flood 2014): fixed seeds make failures
 * reproducible */
typedef struct rng {
	uint64_t s;
} rng;

static inline uint64_t next_u64(rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline double unif(rng *r)
{
	return (double)(next_u64(r) >> 11) * 0x1.0p-53;
}

static inline double unif_ab(rng *r, double a, double b)
{
	return a + (b - a) * unif(r);
}

static inline double gauss(rng *r) /* Box-Muller */
{
	double u = unif(r);
	return sqrt(-2.0 * log(u > 0 ? u : 1e-300)) *
	       cos(6.283185307179586 * unif(r));
}

/* A scratch directory per test: tmp_setup / tmp_teardown as a checked
 * fixture, tmp_path(name) a path in it (four kept at once). */
static char tmpdir[256];

static inline void tmp_setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/anthem-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void tmp_teardown(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static inline const char *tmp_path(const char *name)
{
	static char buf[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

static inline void write_bytes(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

static inline void write_file(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

/* Run a suite; the process exit status says whether it passed. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
