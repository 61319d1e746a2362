/* Hostile input through the public API (docs/reliability.md, "Input
 * validation"): text that is empty, huge or not UTF-8; NaN and infinities
 * in the caller's numbers; zero and huge sizes; data files with NUL bytes,
 * BOMs, CRLF, no final newline, duplicates and unknown ids.  Each case is
 * either served sensibly or refused with a status and a message naming the
 * place.  (The cases already covered by test_api.c, test_train.c and
 * test_search.c are not repeated.) */
#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point at tests/data/wordnet-fixture"
#endif
#define FIXTURE(f) FIXTURE_DIR "/" f

/* The call failed with `status`, left a message containing `where`. */
#define expect_error(call, status, where)                                      \
	do {                                                                   \
		anthem_clear_error();                                          \
		ck_assert_int_eq((call), (status));                            \
		ck_assert_msg(strstr(anthem_last_error(), (where)) != NULL,    \
			      "message '%s' lacks '%s'", anthem_last_error(),  \
			      (where));                                        \
	} while (0)

static anthem_model *small_model(anthem_geometry g)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.geometry = g;
	cfg.dim = 8;
	cfg.buckets = 1024;
	anthem_model *m;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), 0);
	return m;
}

/* ---- query and title text ------------------------------------------------------- */

#define BIG (100 * 1024)

/* Empty, blank, invalid UTF-8, NUL-free control bytes, and 100 kB: every
 * text is served (bytes are bytes to the trigrams), and the distance is a
 * number >= 0. */
START_TEST(any_text_is_served)
{
	char *big = malloc(BIG + 1), *blank = malloc(BIG + 1);
	rng r = {7};
	for (size_t i = 0; i < BIG; i++) {
		big[i] = (char)('a' + next_u64(&r) % 26);
		blank[i] = i % 3 ? ' ' : '\t';
	}
	big[BIG] = blank[BIG] = '\0';
	const char *texts[] = {"", " ", " \t\r\n ", "\xff\xfe\xfd",
			       "caf\xc3", "\xc0\xaf overlong", "\xed\xa0\x80",
			       "\x01\x02\x1b[31m", big, blank};
	const size_t nt = sizeof texts / sizeof texts[0];
	for (int g = 0; g < 3; g++) {
		anthem_model *m = small_model((anthem_geometry)g);
		for (size_t a = 0; a < nt; a++) {
			float d;
			ck_assert_int_eq(anthem_model_score(m, texts[a], "felt hat", &d), 0);
			ck_assert_msg(isfinite(d) && d >= 0, "query %zu: %g", a, d);
			ck_assert_int_eq(anthem_model_score(m, "hat", texts[a], &d), 0);
			ck_assert_msg(isfinite(d) && d >= 0, "title %zu: %g", a, d);
			anthem_hyperboloid *h;
			ck_assert_int_eq(anthem_model_embed_query(m, texts[a], &h), 0);
			anthem_hyperboloid_free(h);
			anthem_explanation *e;
			ck_assert_int_eq(anthem_model_explain(m, texts[a], texts[a], &e), 0);
			ck_assert_uint_ge(anthem_explanation_rows(e), 1);
			anthem_explanation_free(e);
			float pt[8];
			ck_assert_int_eq(anthem_model_embed_products(m, &texts[a], 1, pt), 0);
			for (int k = 0; k < 8; k++)
				ck_assert(isfinite(pt[k]));
		}
		anthem_model_free(m);
	}
	free(big);
	free(blank);
}
END_TEST

/* Only the first max_query_trigrams distinct trigrams of a query count
 * (max_title_trigrams of a title): the rest of a 100 kB text is not read,
 * so it scores exactly like a prefix that already holds them. */
START_TEST(long_text_is_cut_at_the_trigram_limit)
{
	char *big = malloc(BIG + 1);
	rng r = {11};
	for (size_t i = 0; i < BIG; i++)
		big[i] = (char)('a' + next_u64(&r) % 26);
	big[BIG] = '\0';
	anthem_model *m = small_model(ANTHEM_GEOMETRY_HYPERBOLIC);
	float whole, prefix;
	ck_assert_int_eq(anthem_model_score(m, big, "felt hat", &whole), 0);
	big[2000] = '\0'; /* 2000 random letters hold > 100 distinct trigrams */
	ck_assert_int_eq(anthem_model_score(m, big, "felt hat", &prefix), 0);
	ck_assert_float_eq(whole, prefix);
	big[2000] = 'x';
	ck_assert_int_eq(anthem_model_score(m, "hat", big, &whole), 0);
	big[2000] = '\0';
	ck_assert_int_eq(anthem_model_score(m, "hat", big, &prefix), 0);
	ck_assert_float_eq(whole, prefix);
	big[2000] = 'x';
	anthem_explanation *e;
	ck_assert_int_eq(anthem_model_explain(m, big, big, &e), 0);
	ck_assert_uint_eq(anthem_explanation_rows(e) >= 28, 1); /* 28 + pairs */
	ck_assert_uint_eq(anthem_explanation_cols(e), 100);
	anthem_explanation_free(e);
	anthem_model_free(m);
	free(big);
}
END_TEST

/* Search and score take the same texts; NULL is an error, not a crash. */
START_TEST(search_takes_any_text)
{
	anthem_model *m = small_model(ANTHEM_GEOMETRY_HYPERBOLIC);
	anthem_catalog *c;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, m, c, 1), 0);
	char *big = malloc(BIG + 1);
	memset(big, 'q', BIG);
	big[BIG] = '\0';
	const char *texts[] = {"", "\xff\xfe", big};
	anthem_hit hits[5];
	size_t n, cand[2] = {0, 0};
	float d[2];
	for (size_t a = 0; a < 3; a++) {
		ck_assert_int_eq(anthem_search(m, ix, texts[a], 5, 0, hits, &n), 0);
		ck_assert_uint_eq(n, 5);
		/* a candidate given twice is scored twice, alike */
		ck_assert_int_eq(anthem_score(m, ix, texts[a], cand, 2, d), 0);
		ck_assert_float_eq(d[0], d[1]);
	}
	expect_error(anthem_search(m, ix, NULL, 5, 0, hits, &n), ANTHEM_EINVAL, "query");
	expect_error(anthem_model_score(m, NULL, "x", d), ANTHEM_EINVAL, "query");
	const char *titles[2] = {"hat", NULL};
	float pts[16];
	expect_error(anthem_model_embed_products(m, titles, 2, pts), ANTHEM_EINVAL, "1");
	/* k = 0 asks for nothing and gets nothing */
	ck_assert_int_eq(anthem_search(m, ix, "hat", 0, 0, hits, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* gamma must be a number >= 0 */
	anthem_hyperboloid *h;
	ck_assert_int_eq(anthem_model_embed_query(m, "hat", &h), 0);
	expect_error(anthem_index_scan(ix, h, NAN, 5, hits, &n), ANTHEM_EINVAL, "gamma");
	expect_error(anthem_index_scan(ix, h, INFINITY, 5, hits, &n), ANTHEM_EINVAL, "gamma");
	expect_error(anthem_index_scan(ix, h, -1.0f, 5, hits, &n), ANTHEM_EINVAL, "gamma");
	anthem_hyperboloid_free(h);
	free(big);
	anthem_index_free(ix);
	anthem_catalog_free(c);
	anthem_model_free(m);
}
END_TEST

/* ---- the caller's numbers and sizes ---------------------------------------------- */

START_TEST(model_config_refuses_bad_numbers)
{
	anthem_model_config cfg;
	anthem_model *m = (anthem_model *)&cfg;
	const size_t dims[] = {0, anthem_max_dim() + 1, SIZE_MAX};
	for (size_t i = 0; i < 3; i++) {
		anthem_model_config_init(&cfg);
		cfg.dim = dims[i];
		expect_error(anthem_model_create(&m, &cfg), ANTHEM_ERANGE, "dim");
		ck_assert_ptr_null(m);
	}
	const size_t buckets[] = {0, ((size_t)1 << 31) + 1, SIZE_MAX};
	for (size_t i = 0; i < 3; i++) {
		anthem_model_config_init(&cfg);
		cfg.buckets = buckets[i];
		expect_error(anthem_model_create(&m, &cfg), ANTHEM_ERANGE, "buckets");
	}
	const float bad[] = {NAN, INFINITY, -INFINITY, 0.0f, -1.0f};
	for (size_t i = 0; i < 5; i++) {
		anthem_model_config_init(&cfg);
		cfg.curvature = bad[i];
		expect_error(anthem_model_create(&m, &cfg), ANTHEM_EINVAL, "curvature");
		anthem_model_config_init(&cfg);
		cfg.gamma = bad[i];
		if (bad[i] == 0.0f) /* gamma 0: the outside distance alone */
			continue;
		expect_error(anthem_model_create(&m, &cfg), ANTHEM_EINVAL, "gamma");
	}
	/* flat geometries ignore the curvature, but a NaN there would be
	 * saved into the file: refused too */
	anthem_model_config_init(&cfg);
	cfg.geometry = ANTHEM_GEOMETRY_EUCLIDEAN;
	cfg.curvature = NAN;
	expect_error(anthem_model_create(&m, &cfg), ANTHEM_EINVAL, "curvature");
	anthem_model_config_init(&cfg);
	cfg.geometry = (anthem_geometry)7;
	expect_error(anthem_model_create(&m, &cfg), ANTHEM_EINVAL, "geometry");
	anthem_model_config_init(&cfg);
	cfg.max_query_trigrams = 0;
	expect_error(anthem_model_create(&m, &cfg), ANTHEM_ERANGE, "max_query_trigrams");
	anthem_model_config_init(&cfg);
	cfg.max_title_trigrams = 100000;
	expect_error(anthem_model_create(&m, &cfg), ANTHEM_ERANGE, "max_title_trigrams");
}
END_TEST

/* Sizes whose product overflows are refused before anything is read or
 * allocated. */
START_TEST(huge_sizes_are_refused_before_use)
{
	float pts[4] = {0.1f, 0.2f, 0.3f, 0.4f};
	anthem_vectors *v = (anthem_vectors *)pts;
	expect_error(anthem_vectors_copy(&v, SIZE_MAX / 2, 4, pts), ANTHEM_ERANGE, "");
	ck_assert_ptr_null(v);
	expect_error(anthem_vectors_wrap(&v, 4, SIZE_MAX, pts), ANTHEM_ERANGE, "");
	expect_error(anthem_vectors_copy(&v, 1, 0, pts), ANTHEM_ERANGE, "");
	/* count 0 is an empty set, not an error */
	ck_assert_int_eq(anthem_vectors_copy(&v, 0, 2, pts), 0);
	ck_assert_uint_eq(anthem_vectors_count(v), 0);
	anthem_vectors_free(v);
	anthem_hyperboloid *h = (anthem_hyperboloid *)pts;
	const float l[2] = {0.1f, 0.1f};
	expect_error(anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f,
					       SIZE_MAX, pts, l), ANTHEM_ERANGE, "dim");
	ck_assert_ptr_null(h);
	expect_error(anthem_hyperboloid_create(&h, ANTHEM_GEOMETRY_HYPERBOLIC, 1.0f,
					       0, pts, l), ANTHEM_ERANGE, "dim");
	/* a model buffer shorter than a header, or absent */
	anthem_model *m = (anthem_model *)pts;
	expect_error(anthem_model_load_buffer(&m, pts, 0), ANTHEM_ETRUNCATED, "");
	ck_assert_ptr_null(m);
	expect_error(anthem_model_load_buffer(&m, pts, sizeof pts), ANTHEM_ETRUNCATED, "");
	expect_error(anthem_model_load_buffer(&m, NULL, 64), ANTHEM_EINVAL, "buf");
}
END_TEST

/* NaN and infinities in training options: refused, naming the field. */
START_TEST(train_options_refuse_bad_numbers)
{
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("train.tsv"), c, 0), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 4;
	cfg.buckets = 256;
	anthem_train_options o;
	anthem_trainer *t = (anthem_trainer *)&o;
	struct {
		size_t off;
		float v;
		const char *name;
	} cases[] = {
		{offsetof(anthem_train_options, lr), NAN, "lr"},
		{offsetof(anthem_train_options, lr), INFINITY, "lr"},
		{offsetof(anthem_train_options, lr), -0.1f, "lr"},
		{offsetof(anthem_train_options, logit_scale), NAN, "logit_scale"},
		{offsetof(anthem_train_options, valid_frac), NAN, "valid_frac"},
		{offsetof(anthem_train_options, valid_frac), 1.0f, "valid_frac"},
		{offsetof(anthem_train_options, valid_frac), -INFINITY, "valid_frac"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		anthem_train_options_init(&o);
		memcpy((char *)&o + cases[k].off, &cases[k].v, sizeof(float));
		expect_error(anthem_trainer_create(&t, &cfg, c, j, &o), ANTHEM_EINVAL,
			     cases[k].name);
		ck_assert_ptr_null(t);
	}
	anthem_train_options_init(&o);
	o.batch = 0;
	expect_error(anthem_trainer_create(&t, &cfg, c, j, &o), ANTHEM_ERANGE, "batch");
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* Evaluation with absurd thread counts: workers are never more than the
 * queries, and no per-thread buffer is allocated for threads that will
 * not run. */
START_TEST(huge_thread_counts_are_bounded)
{
	anthem_model *m = small_model(ANTHEM_GEOMETRY_HYPERBOLIC);
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("test.tsv"), c, 0), 0);
	anthem_eval_options o;
	anthem_eval_options_init(&o);
	o.max_queries = 3;
	o.k1 = 0;
	anthem_metrics a, b;
	anthem_metrics_init(&a);
	anthem_metrics_init(&b);
	o.threads = 1;
	ck_assert_int_eq(anthem_evaluate(m, c, j, &o, &a), 0);
	o.threads = SIZE_MAX / 2;
	ck_assert_int_eq(anthem_evaluate(m, c, j, &o, &b), 0);
	ck_assert_double_eq(a.ndcg10, b.ndcg10);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, m, c, SIZE_MAX), 0);
	ck_assert_uint_eq(anthem_index_count(ix), anthem_catalog_count(c));
	anthem_index_free(ix);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	anthem_model_free(m);
}
END_TEST

/* ---- data files ------------------------------------------------------------------- */

static void load_catalog(anthem_catalog **c, const char *text)
{
	write_file(tmp_path("c.tsv"), text);
	ck_assert_int_eq(anthem_catalog_load(c, tmp_path("c.tsv"), 0), 0);
}

/* A NUL byte is not text: refused at its line, not silently cut. */
START_TEST(nul_bytes_are_refused)
{
	anthem_catalog *c;
	write_bytes(tmp_path("c.tsv"), "a\tA\nb\tti\0tle\n", 13);
	expect_error(anthem_catalog_load(&c, tmp_path("c.tsv"), 0), ANTHEM_EFORMAT,
		     "c.tsv:2: NUL byte");
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("c.tsv"), ANTHEM_READ_LENIENT), 0);
	ck_assert_uint_eq(anthem_catalog_count(c), 1);
	ck_assert_uint_eq(anthem_catalog_skipped(c), 1);
	anthem_judgments *j;
	write_bytes(tmp_path("j.tsv"), "q\ta\t1\0junk\n", 11);
	expect_error(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), ANTHEM_EFORMAT,
		     "j.tsv:1: NUL byte");
	anthem_catalog_free(c);
}
END_TEST

/* A UTF-8 byte order mark (as some spreadsheets write) is not part of the
 * first product id or query. */
START_TEST(a_leading_bom_is_skipped)
{
	anthem_catalog *c;
	load_catalog(&c, "\xef\xbb\xbf" "a\tA\nb\tB\n");
	size_t i;
	ck_assert_int_eq(anthem_catalog_find(c, "a", &i), 0);
	ck_assert_uint_eq(i, 0);
	anthem_judgments *j;
	write_file(tmp_path("j.tsv"), "\xef\xbb\xbfq\ta\t1\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ck_assert_str_eq(anthem_judgments_query(j, 0), "q");
	anthem_judgments_free(j);
	/* only at the very start: elsewhere it is a character like any other */
	write_file(tmp_path("j.tsv"), "q\ta\t1\n\xef\xbb\xbfq\tb\t1\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(j), 2);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* Judgements: CRLF, comments, no final newline; every malformed line is
 * refused at its line when strict and counted when lenient. */
START_TEST(judgments_strict_and_lenient)
{
	anthem_catalog *c;
	load_catalog(&c, "a\tA\r\nb\tB\r\nc\tC");
	anthem_judgments *j;
	write_file(tmp_path("j.tsv"), "# q\tp\tg\r\nq1\ta\t3\r\n\r\nq1\tc\t0\r\nq2\tb\t2");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(j), 2);
	const size_t *p;
	const int *g;
	size_t n;
	ck_assert_int_eq(anthem_judgments_get(j, 1, &p, &g, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(p[0], 1);
	ck_assert_int_eq(g[0], 2); /* "2" at the end of the file, no newline */
	anthem_judgments_free(j);
	const char *mixed = "q1\ta\t3\n"
			    "q1\tzz\t1\n"        /* unknown id */
			    "q1\tb\n"            /* missing field */
			    "q1\tb\t9\n"         /* bad grade */
			    "q1\tb\t-1\n"        /* bad grade */
			    "q1\tb\t 2\n"        /* bad grade (space) */
			    "q\xff\tb\t1\n"      /* invalid UTF-8 */
			    "q2\tb\t1\t\n"       /* a fourth field */
			    "q2\tc\t2\n";
	write_file(tmp_path("j.tsv"), mixed);
	expect_error(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), ANTHEM_EFORMAT,
		     "j.tsv:2: product_id is not in the catalogue");
	ck_assert_ptr_null(j);
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c,
					       ANTHEM_READ_LENIENT), 0);
	ck_assert_uint_eq(anthem_judgments_skipped(j), 7);
	ck_assert_uint_eq(anthem_judgments_query_count(j), 2);
	anthem_judgments_free(j);
	/* an empty file is no judgement at all, and training refuses it */
	write_file(tmp_path("j.tsv"), "");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(j), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 2;
	cfg.buckets = 64;
	anthem_trainer *t;
	expect_error(anthem_trainer_create(&t, &cfg, c, j, NULL), ANTHEM_EINVAL,
		     "no training example");
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* A ranking made elsewhere: malformed lines and unknown ids are refused at
 * their line; a product listed twice for one query is refused (it would
 * count its gain twice and lift NDCG above 1). */
START_TEST(rankings_are_validated)
{
	anthem_catalog *c;
	load_catalog(&c, "a\tA\nb\tB\nc\tC\n");
	anthem_judgments *j;
	write_file(tmp_path("j.tsv"), "q\ta\t3\nq\tb\t1\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	anthem_metrics m;
	anthem_metrics_init(&m);
	write_file(tmp_path("r.tsv"), "q\ta\t1\r\nq\tb\t2\r\nother\tc\t1");
	ck_assert_int_eq(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m), 0);
	ck_assert_double_eq_tol(m.ndcg10, 1.0, 1e-12);
	const char *bad[][2] = {
		{"q\ta\t1\nq\tzz\t2\n", "r.tsv:2: product_id 'zz'"},
		{"q\ta\t0\n", "r.tsv:1: expected"},
		{"q\ta\tfirst\n", "r.tsv:1: expected"},
		{"q\ta\n", "r.tsv:1: expected"},
		{"q\ta\t1\nq\ta\t2\n", "r.tsv:2: product a is ranked twice for query q"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		write_file(tmp_path("r.tsv"), bad[k][0]);
		expect_error(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m),
			     ANTHEM_EFORMAT, bad[k][1]);
	}
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* Saving honours the umask like any other file the user creates (the
 * temporary file must not leave the model readable by its owner alone). */
START_TEST(saved_files_follow_the_umask)
{
	anthem_model *m = small_model(ANTHEM_GEOMETRY_EUCLIDEAN);
	mode_t old = umask(022);
	ck_assert_int_eq(anthem_model_save(m, tmp_path("m.anthem")), 0);
	struct stat st;
	ck_assert_int_eq(stat(tmp_path("m.anthem"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	umask(077);
	ck_assert_int_eq(anthem_model_save(m, tmp_path("m2.anthem")), 0);
	ck_assert_int_eq(stat(tmp_path("m2.anthem"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	umask(old);
	/* a directory that does not exist: the message names the path */
	expect_error(anthem_model_save(m, tmp_path("no/such/dir/m.anthem")), ANTHEM_EIO,
		     "no/such/dir/m.anthem");
	anthem_model_free(m);
}
END_TEST

/* ---- untrusted sizes in files ----------------------------------------------------- */

static void wr64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The trailing checksum and the header's file size made to agree with the
 * bytes again, as docs/format.md defines them (FNV-1a style over
 * little-endian 64-bit words, the tail zero-padded, then the length). */
static void repair(unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i = 0;
	for (; i + 8 <= n - 8; i += 8) {
		uint64_t w = 0;
		for (int k = 7; k >= 0; k--)
			w = w << 8 | p[i + k];
		h = (h ^ w) * 0x100000001b3ULL;
	}
	if (i < n - 8) {
		uint64_t w = 0;
		for (size_t k = n - 8; k-- > i;)
			w = w << 8 | p[k];
		h = (h ^ w) * 0x100000001b3ULL;
	}
	wr64(p + 16, n);
	wr64(p + n - 8, (h ^ (uint64_t)(n - 8)) * 0x100000001b3ULL);
}

static unsigned char *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc(*n);
	ck_assert_uint_eq(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* A checkpoint whose metadata claims 2^31 buckets (its tensors hold 256)
 * is refused as malformed, before the ~100 GB that the claim would need
 * are asked for (it used to fail with ANTHEM_ENOMEM, or abort under
 * AddressSanitizer, which refuses such a malloc). */
START_TEST(checkpoint_sizes_are_checked_before_allocating)
{
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("train.tsv"), c, 0), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 4;
	cfg.buckets = 256;
	anthem_train_options o;
	anthem_train_options_init(&o);
	o.epochs = 1;
	o.epoch_examples = 16;
	o.threads = 1;
	anthem_trainer *t;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, c, j, &o), 0);
	ck_assert_int_eq(anthem_trainer_run(t), 0);
	ck_assert_int_eq(anthem_trainer_checkpoint(t, tmp_path("ck")), 0);
	anthem_trainer_free(t);
	size_t n;
	unsigned char *p = read_all(tmp_path("ck"), &n);
	static const char key[] = "anthem.buckets";
	unsigned char *at = memmem(p, n, key, sizeof key - 1);
	ck_assert_ptr_nonnull(at);
	wr64(at + sizeof key - 1 + 4, (uint64_t)1 << 31); /* after the type */
	repair(p, n);
	write_bytes(tmp_path("forged"), (const char *)p, n);
	free(p);
	expect_error(anthem_trainer_resume(&t, tmp_path("forged"), c, j, &o),
		     ANTHEM_EFORMAT, "tensor");
	ck_assert_ptr_null(t);
	/* the unforged one resumes */
	ck_assert_int_eq(anthem_trainer_resume(&t, tmp_path("ck"), c, j, &o), 0);
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* ---- issue #13: special files, comments, weights, rankings ------------------------ */

/* A writer replaces only a regular file: a device node, a FIFO or a
 * directory in its place is refused and left as it was (as root, rename()
 * would have turned a device into a model file); a symbolic link is
 * written through, to its target, and stays a link; a link that leads
 * nowhere is refused. */
START_TEST(writers_replace_only_regular_files)
{
	anthem_model *m = small_model(ANTHEM_GEOMETRY_EUCLIDEAN);
	struct stat st;
	/* a char device like /dev/null (1, 3), made in the scratch directory */
	if (mknod(tmp_path("null"), S_IFCHR | 0600, makedev(1, 3)) == 0) {
		expect_error(anthem_model_save(m, tmp_path("null")), ANTHEM_EIO,
			     "is a character device, not a regular file");
		ck_assert_int_eq(lstat(tmp_path("null"), &st), 0);
		ck_assert(S_ISCHR(st.st_mode));
	}
	ck_assert_int_eq(mkfifo(tmp_path("fifo"), 0600), 0);
	expect_error(anthem_model_save(m, tmp_path("fifo")), ANTHEM_EIO,
		     "is a FIFO");
	ck_assert_int_eq(lstat(tmp_path("fifo"), &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(mkdir(tmp_path("dir"), 0700), 0);
	expect_error(anthem_model_save(m, tmp_path("dir")), ANTHEM_EIO,
		     "is a directory");
	/* through a link to a regular file: the target is replaced */
	write_file(tmp_path("target"), "old");
	ck_assert_int_eq(symlink(tmp_path("target"), tmp_path("link")), 0);
	ck_assert_int_eq(anthem_model_save(m, tmp_path("link")), 0);
	ck_assert_int_eq(lstat(tmp_path("link"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	anthem_model *back;
	ck_assert_int_eq(anthem_model_load(&back, tmp_path("target")), 0);
	anthem_model_free(back);
	ck_assert_int_eq(symlink("no-such-file", tmp_path("dangling")), 0);
	expect_error(anthem_model_save(m, tmp_path("dangling")), ANTHEM_EIO,
		     "leads nowhere");
	ck_assert_int_eq(lstat(tmp_path("dangling"), &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	anthem_model_free(m);
}
END_TEST

/* Readers refuse what is not a regular file by name, at once: a FIFO that
 * nobody writes to (opening it used to wait forever), a directory (it said
 * "read error"), a device such as /dev/zero (read until memory ran out);
 * a /proc file that reports 0 bytes is not called empty. */
START_TEST(readers_refuse_special_files)
{
	ck_assert_int_eq(mkfifo(tmp_path("fifo"), 0600), 0);
	ck_assert_int_eq(mkdir(tmp_path("dir"), 0700), 0);
	anthem_model *m;
	anthem_catalog *c;
	expect_error(anthem_model_load(&m, tmp_path("fifo")), ANTHEM_EIO,
		     "is a FIFO (named pipe), not a regular file");
	expect_error(anthem_catalog_load(&c, tmp_path("fifo"), 0), ANTHEM_EIO,
		     "is a FIFO");
	expect_error(anthem_catalog_load(&c, tmp_path("dir"), 0), ANTHEM_EIO,
		     "dir: is a directory");
	expect_error(anthem_model_load(&m, tmp_path("dir")), ANTHEM_EIO,
		     "is a directory");
	if (mknod(tmp_path("zero"), S_IFCHR | 0600, makedev(1, 5)) == 0)
		expect_error(anthem_catalog_load(&c, tmp_path("zero"), 0),
			     ANTHEM_EIO, "is a character device");
	anthem_clear_error();
	ck_assert_int_ne(anthem_model_load(&m, "/proc/self/status"), 0);
	ck_assert_ptr_null(strstr(anthem_last_error(), "empty file"));
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "/proc/self/status"));
}
END_TEST

/* '#' starts a comment only in the header (lines "# ..." before the first
 * line of data): a product id "#1" and a query "#2 pencil" are data, in
 * strict and lenient reading alike. */
START_TEST(hash_lines_are_data_after_the_header)
{
	anthem_catalog *c;
	load_catalog(&c, "# product_id\ttitle\n#\n#1\tpencil\n# 3\tpen\nb\tB\n");
	ck_assert_uint_eq(anthem_catalog_count(c), 3);
	ck_assert_str_eq(anthem_catalog_id(c, 0), "#1");
	ck_assert_str_eq(anthem_catalog_id(c, 1), "# 3");
	anthem_judgments *j;
	write_file(tmp_path("j.tsv"), "# query\tproduct_id\tgrade\n"
				      "#2 pencil\t#1\t3\n# pen\t# 3\t2\n");
	for (int lenient = 0; lenient < 2; lenient++) {
		ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c,
			lenient ? ANTHEM_READ_LENIENT : 0), 0);
		ck_assert_uint_eq(anthem_judgments_query_count(j), 2);
		ck_assert_str_eq(anthem_judgments_query(j, 0), "#2 pencil");
		ck_assert_uint_eq(anthem_judgments_skipped(j), 0);
		anthem_judgments_free(j);
	}
	/* a '#' line after the data is a malformed line, not a comment */
	write_file(tmp_path("j.tsv"), "q\tb\t1\n# not a comment\n");
	expect_error(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0),
		     ANTHEM_EFORMAT, "j.tsv:2: expected 3 fields");
	/* rankings follow the same rule */
	write_file(tmp_path("j.tsv"), "#2 pencil\t#1\t3\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	anthem_metrics mt;
	anthem_metrics_init(&mt);
	write_file(tmp_path("r.tsv"), "# header\n#2 pencil\t#1\t1\n");
	ck_assert_int_eq(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &mt), 0);
	ck_assert_uint_eq(mt.queries, 1);
	ck_assert_double_eq_tol(mt.ndcg10, 1.0, 1e-12);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* The ranking reader checks what the judgement reader checks: a NUL byte,
 * invalid UTF-8, a rank with a space, a sign, a leading zero or too many
 * digits (it used to wrap), each naming file:line and the field. */
START_TEST(rankings_get_the_judgement_checks)
{
	anthem_catalog *c;
	load_catalog(&c, "a\tA\nb\tB\n");
	anthem_judgments *j;
	write_file(tmp_path("j.tsv"), "q\ta\t3\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	anthem_metrics m;
	anthem_metrics_init(&m);
	write_bytes(tmp_path("r.tsv"), "q\ta\t1\nq\tb\t2\0junk\n", 18);
	expect_error(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m),
		     ANTHEM_EFORMAT, "r.tsv:2: NUL byte");
	const char *bad[][2] = {
		{"q\ta\t 1\n", "r.tsv:1: expected a rank in field 3: ' 1'"},
		{"q\ta\t+1\n", "r.tsv:1: expected a rank in field 3: '+1'"},
		{"q\ta\t01\n", "r.tsv:1: expected a rank in field 3: '01'"},
		{"q\ta\t1 \n", "r.tsv:1: expected a rank in field 3: '1 '"},
		{"q\ta\t99999999999999999999\n", "is larger than 1000000000"},
		{"q\ta\t1\nq\xff\tb\t2\n", "r.tsv:2: invalid UTF-8"},
		{"\ta\t1\n", "r.tsv:1: the query (field 1) is empty"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		write_file(tmp_path("r.tsv"), bad[k][0]);
		expect_error(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m),
			     ANTHEM_EFORMAT, bad[k][1]);
	}
	/* the score field stays free text */
	write_file(tmp_path("r.tsv"), "q\ta\t1\t-0.5\n");
	ck_assert_int_eq(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m), 0);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* Find the first float of the first non-empty tensor whose name starts
 * with prefix in a container file's bytes (docs/format.md's table). */
static float *tensor_in(unsigned char *p, const char *prefix)
{
	uint64_t nt = 0, tab = 0, data = 0;
	for (int i = 7; i >= 0; i--) {
		nt = nt << 8 | p[32 + i];
		tab = tab << 8 | p[48 + i];
		data = data << 8 | p[56 + i];
	}
	unsigned char *e = p + tab;
	for (uint64_t i = 0; i < nt; i++) {
		uint32_t nl = (uint32_t)e[0] | (uint32_t)e[1] << 8 |
			      (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
		const char *name = (const char *)e + 4;
		unsigned char *f = e + 4 + nl + 4;
		uint64_t rows = 0, cols = 0, off = 0;
		for (int k = 7; k >= 0; k--) {
			rows = rows << 8 | f[k];
			cols = cols << 8 | f[8 + k];
			off = off << 8 | f[16 + k];
		}
		if (rows && cols && !strncmp(name, prefix, strlen(prefix)))
			return (float *)(p + data + off);
		e = f + 24;
	}
	return NULL;
}

/* Weights no reader accepts are neither trained into a model nor resumed:
 * --lr 1e5 ends the run saying the weights left the bounds, and the
 * checkpoint is refused; a checkpoint whose best.* weights are NaN or
 * 1e30 (valid checksum) is refused at resume. */
START_TEST(weights_no_reader_accepts_are_refused)
{
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("train.tsv"), c, 0), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 4;
	cfg.buckets = 256;
	anthem_train_options o;
	anthem_train_options_init(&o);
	o.epochs = 1;
	o.epoch_examples = 512; /* 16 steps of warm-up to 1e5 x 16/100 */
	o.threads = 1;
	o.lr = 1e5f;
	anthem_trainer *t;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, c, j, &o), 0);
	expect_error(anthem_trainer_run(t), ANTHEM_ERANGE, "weights became");
	expect_error(anthem_trainer_checkpoint(t, tmp_path("bad-ck")),
		     ANTHEM_EFORMAT, "not written");
	ck_assert_int_eq(access(tmp_path("bad-ck"), F_OK), -1);
	anthem_trainer_free(t);
	/* a good checkpoint, then its best weights forged */
	o.lr = 0.01f;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, c, j, &o), 0);
	ck_assert_int_eq(anthem_trainer_run(t), 0);
	ck_assert_int_eq(anthem_trainer_checkpoint(t, tmp_path("ck")), 0);
	anthem_trainer_free(t);
	/* best.* NaN and 1e30, the live weights 1e30, Adam's moment NaN (a
	 * finite moment has no bound of its own) */
	const float forged[] = {NAN, 1e30f, 1e30f, NAN};
	const char *prefixes[] = {"best.", "best.", "query", "adam.m."};
	for (int k = 0; k < 4; k++) {
		int pi = k;
			size_t n;
			unsigned char *p = read_all(tmp_path("ck"), &n);
			float *w = tensor_in(p, prefixes[pi]);
			ck_assert_ptr_nonnull(w);
			*w = forged[k];
			repair(p, n);
			write_bytes(tmp_path("forged"), (const char *)p, n);
			free(p);
			expect_error(anthem_trainer_resume(&t, tmp_path("forged"),
							   c, j, &o),
				     ANTHEM_EFORMAT, "forged");
			ck_assert_ptr_null(t);
		}
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* A checkpoint that cannot be written is found when the trainer is made,
 * not after the first epoch: a path under a regular file fails even for
 * root. */
START_TEST(an_unwritable_checkpoint_is_found_first)
{
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE("train.tsv"), c, 0), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 4;
	cfg.buckets = 256;
	anthem_train_options o;
	anthem_train_options_init(&o);
	write_file(tmp_path("file"), "x");
	o.checkpoint = tmp_path("file/ck");
	anthem_trainer *t;
	expect_error(anthem_trainer_create(&t, &cfg, c, j, &o), ANTHEM_EIO,
		     "file/ck");
	ck_assert_ptr_null(t);
	ck_assert_int_eq(mkfifo(tmp_path("fifo"), 0600), 0);
	o.checkpoint = tmp_path("fifo");
	expect_error(anthem_trainer_create(&t, &cfg, c, j, &o), ANTHEM_EIO,
		     "is a FIFO");
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* ---- category trees ----------------------------------------------------------- */

/* The grade of (query, product id) in j, or -1 when not judged. */
static int grade_in(const anthem_judgments *j, const anthem_catalog *c,
		    const char *q, const char *id)
{
	for (size_t k = 0; k < anthem_judgments_query_count(j); k++) {
		if (strcmp(anthem_judgments_query(j, k), q))
			continue;
		const size_t *p;
		const int *g;
		size_t n;
		ck_assert_int_eq(anthem_judgments_get(j, k, &p, &g, &n), 0);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(anthem_catalog_id(c, p[i]), id))
				return g[i];
	}
	return -1;
}

/* A hand-made tree, the grades worked out by hand from the rules of
 * docs/data.md: 3 in the category itself, 2 one level below, 1 further;
 * a name on several paths keeps its best grade; names are case-folded. */
START_TEST(categories_give_graded_judgements)
{
	anthem_catalog *c;
	load_catalog(&c, "p1\tgrey fedora\tClothing > Hats > Fedoras\n"
			 "p2\tstraw boater\tClothing > Hats\n"
			 "p3\tleather boots\tClothing > Shoes > Boots | Sale\n"
			 "p4\trunning shoes\tClothing > Shoes\n"
			 "p5\tred scarf\n"
			 "p6\tfelt hat\tSale > Hats | Clothing > Hats\n");
	ck_assert_uint_eq(anthem_catalog_categorised(c), 5);
	ck_assert_str_eq(anthem_catalog_categories(c, 2),
			 "Clothing > Shoes > Boots | Sale");
	ck_assert_ptr_null(anthem_catalog_categories(c, 4));
	ck_assert_ptr_null(anthem_catalog_categories(c, 99));
	anthem_category_options o;
	anthem_category_options_init(&o);
	o.max_frac = 1.0f;
	o.test_frac = 0.0f;
	anthem_judgments *tr, *te;
	ck_assert_int_eq(anthem_judgments_from_categories(&tr, &te, c, &o), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(te), 0);
	static const struct {
		const char *q, *id;
		int grade;
	} want[] = {
		{"clothing", "p1", 1}, {"clothing", "p2", 2}, {"clothing", "p3", 1},
		{"clothing", "p4", 2}, {"clothing", "p6", 2}, {"hats", "p1", 2},
		{"hats", "p2", 3},     {"hats", "p6", 3},     {"fedoras", "p1", 3},
		{"shoes", "p3", 2},    {"shoes", "p4", 3},    {"boots", "p3", 3},
		{"sale", "p3", 3},     {"sale", "p6", 2},
	};
	size_t n = sizeof want / sizeof want[0];
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(grade_in(tr, c, want[i].q, want[i].id) == want[i].grade,
			      "%s %s: grade %d, expected %d", want[i].q, want[i].id,
			      grade_in(tr, c, want[i].q, want[i].id), want[i].grade);
	ck_assert_uint_eq(anthem_judgments_count(tr), n); /* nothing else */
	ck_assert_int_eq(grade_in(tr, c, "Clothing", "p1"), -1); /* folded */
	ck_assert_int_eq(grade_in(tr, c, "clothing", "p5"), -1);
	/* saved and read back: the same judgements */
	ck_assert_int_eq(anthem_judgments_save(tr, tmp_path("d.tsv")), 0);
	anthem_judgments *back;
	ck_assert_int_eq(anthem_judgments_load(&back, tmp_path("d.tsv"), c, 0), 0);
	ck_assert_uint_eq(anthem_judgments_count(back), n);
	ck_assert_int_eq(grade_in(back, c, "sale", "p6"), 2);
	anthem_judgments_free(back);
	anthem_judgments_free(tr);
	anthem_judgments_free(te);
	/* max_frac: "clothing" (5 of 6 products) and "hats" (3) go at 0.4 */
	o.max_frac = 0.4f;
	ck_assert_int_eq(anthem_judgments_from_categories(&tr, NULL, c, &o), 0);
	ck_assert_int_eq(grade_in(tr, c, "clothing", "p2"), -1);
	ck_assert_int_eq(grade_in(tr, c, "hats", "p2"), -1);
	ck_assert_int_eq(grade_in(tr, c, "shoes", "p4"), 3);
	ck_assert_uint_eq(anthem_judgments_query_count(tr), 4);
	anthem_judgments_free(tr);
	/* the split: every query on one side, the sides add up, "boots" and
	 * "fedoras"... each query's side is the same on every call */
	o.max_frac = 1.0f;
	o.test_frac = 0.5f;
	size_t total = 0;
	for (uint64_t seed = 1; seed <= 8; seed++) {
		o.seed = seed;
		ck_assert_int_eq(anthem_judgments_from_categories(&tr, &te, c, &o), 0);
		ck_assert_uint_eq(anthem_judgments_query_count(tr) +
				  anthem_judgments_query_count(te), 6);
		ck_assert_uint_eq(anthem_judgments_count(tr) +
				  anthem_judgments_count(te), n);
		total += anthem_judgments_query_count(te);
		anthem_judgments_free(tr);
		anthem_judgments_free(te);
	}
	ck_assert(total > 0 && total < 48); /* the seed moves the split */
	/* test_frac 1: everything on the test side */
	o.test_frac = 1.0f;
	ck_assert_int_eq(anthem_judgments_from_categories(&tr, &te, c, &o), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(tr), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(te), 6);
	anthem_judgments_free(tr);
	anthem_judgments_free(te);
	o.max_frac = 0.0f;
	expect_error(anthem_judgments_from_categories(&tr, NULL, c, &o),
		     ANTHEM_EINVAL, "max_frac");
	anthem_catalog_free(c);
	/* no categories at all */
	load_catalog(&c, "a\tA\nb\tB\n");
	expect_error(anthem_judgments_from_categories(&tr, NULL, c, NULL),
		     ANTHEM_EINVAL, "no product of the catalogue has categories");
	anthem_catalog_free(c);
}
END_TEST

/* Queries with the same judgements ("boots" and "sale" below, both
 * {p3: 3}) land on one side whatever the seed. */
START_TEST(identical_categories_share_a_side)
{
	anthem_catalog *c;
	load_catalog(&c, "p1\tx\tA > Boots | Sale\np2\ty\tA > Hats\n");
	anthem_category_options o;
	anthem_category_options_init(&o);
	o.max_frac = 1.0f;
	o.test_frac = 0.5f;
	for (uint64_t seed = 1; seed <= 16; seed++) {
		anthem_judgments *tr, *te;
		o.seed = seed;
		ck_assert_int_eq(anthem_judgments_from_categories(&tr, &te, c, &o), 0);
		ck_assert_int_eq(grade_in(tr, c, "boots", "p1") == 3,
				 grade_in(tr, c, "sale", "p1") == 3);
		ck_assert_int_eq(grade_in(te, c, "boots", "p1") == 3,
				 grade_in(te, c, "sale", "p1") == 3);
		anthem_judgments_free(tr);
		anthem_judgments_free(te);
	}
	anthem_catalog_free(c);
}
END_TEST

/* The categories field is read strictly: FILE:LINE: field 3 and why. */
START_TEST(malformed_categories_are_refused)
{
	static const struct {
		const char *field, *why;
	} bad[] = {
		{"", "an empty category name in path 1, level 1"},
		{"A > ", "an empty category name in path 1, level 2"},
		{"A | ", "an empty category name in path 2, level 1"},
		{"A>B", "a '>' not written as ' > '"},
		{"A > B|C", "a '|' not written as ' | '"},
		{"A >  B", "starts or ends with a space in path 1, level 2"},
		{" A", "starts or ends with a space in path 1, level 1"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "a\tA\tX > Y\nb\tB\t%s\n", bad[i].field);
		write_file(tmp_path("c.tsv"), text);
		anthem_catalog *c;
		expect_error(anthem_catalog_load(&c, tmp_path("c.tsv"), 0),
			     ANTHEM_EFORMAT, "c.tsv:2: field 3 (categories)");
		ck_assert_msg(strstr(anthem_last_error(), bad[i].why),
			      "'%s': %s", bad[i].field, anthem_last_error());
		ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("c.tsv"),
						     ANTHEM_READ_LENIENT), 0);
		ck_assert_uint_eq(anthem_catalog_skipped(c), 1);
		ck_assert_uint_eq(anthem_catalog_categorised(c), 1);
		anthem_catalog_free(c);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("input");
	TCase *t = tcase_create("text");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, any_text_is_served);
	tcase_add_test(t, long_text_is_cut_at_the_trigram_limit);
	tcase_add_test(t, search_takes_any_text);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	t = tcase_create("numbers");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, model_config_refuses_bad_numbers);
	tcase_add_test(t, huge_sizes_are_refused_before_use);
	tcase_add_test(t, train_options_refuse_bad_numbers);
	tcase_add_test(t, huge_thread_counts_are_bounded);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	t = tcase_create("files");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, nul_bytes_are_refused);
	tcase_add_test(t, a_leading_bom_is_skipped);
	tcase_add_test(t, judgments_strict_and_lenient);
	tcase_add_test(t, rankings_are_validated);
	tcase_add_test(t, saved_files_follow_the_umask);
	tcase_add_test(t, checkpoint_sizes_are_checked_before_allocating);
	tcase_add_test(t, writers_replace_only_regular_files);
	tcase_add_test(t, readers_refuse_special_files);
	tcase_add_test(t, hash_lines_are_data_after_the_header);
	tcase_add_test(t, rankings_get_the_judgement_checks);
	tcase_add_test(t, weights_no_reader_accepts_are_refused);
	tcase_add_test(t, an_unwritable_checkpoint_is_found_first);
	tcase_add_test(t, categories_give_graded_judgements);
	tcase_add_test(t, identical_categories_share_a_side);
	tcase_add_test(t, malformed_categories_are_refused);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	return run_suite(s);
}
