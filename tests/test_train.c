/* Metrics against hand-computed cases, the data readers' refusals, model
 * files, and the trainer (learning, determinism, resume). */
#include "eval/eval_internal.h"
#include "io/tsv.h"
#include "geometry/geometry.h"
#include "model/model_internal.h"
#include "train/optim.h"
#include "train/selfsup.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point at tests/data/wordnet-fixture"
#endif
#define FIXTURE(f) FIXTURE_DIR "/" f

/* ---- metrics by hand ------------------------------------------------------------
 * Judged: product 1 grade 3, 2 grade 2, 5 grade 1, 7 grade 0; ranking
 * 2, 7, 1, 9, 5.  Gains 2^g - 1: 3, 0, 7, 0, 1 at ranks 1..5.
 *   DCG@3 = 3/1 + 0/log2 3 + 7/2 = 6.5;  IDCG@3 = 7 + 3/log2 3 + 1/2
 *   DCG@5 = 6.5 + 1/log2 6;  IDCG@5 = IDCG@10 = IDCG@3 (3 relevant)
 *   AP = (1/1 + 2/3 + 3/5) / 3;  RR = 1 */
#define IDCG3 (7.0 + 3.0 / log2(3.0) + 0.5)
#define Q1_NDCG3 (6.5 / IDCG3)
#define Q1_NDCG5 ((6.5 + 1.0 / log2(6.0)) / IDCG3)
#define Q1_AP ((1.0 + 2.0 / 3.0 + 3.0 / 5.0) / 3.0)

START_TEST(metrics_by_hand)
{
	const size_t prod[4] = {1, 2, 5, 7};
	const int grade[4] = {3, 2, 1, 0};
	const size_t ranked[5] = {2, 7, 1, 9, 5};
	double m[ATH_NMETRICS];
	ck_assert_int_eq(ath_query_metrics(ranked, 5, prod, grade, 4, m), 1);
	ck_assert_double_eq_tol(m[0], Q1_NDCG3, 1e-12);
	ck_assert_double_eq_tol(m[1], Q1_NDCG5, 1e-12);
	ck_assert_double_eq_tol(m[2], Q1_NDCG5, 1e-12);
	ck_assert_double_eq_tol(m[3], Q1_AP, 1e-12);
	ck_assert_double_eq_tol(m[4], 1.0, 1e-12);
	/* first relevant at rank 2: RR 1/2 */
	const size_t ranked2[2] = {7, 5};
	ck_assert_int_eq(ath_query_metrics(ranked2, 2, prod, grade, 4, m), 1);
	ck_assert_double_eq_tol(m[4], 0.5, 1e-12);
	ck_assert_double_eq_tol(m[3], (1.0 / 2.0) / 3.0, 1e-12);
	/* only irrelevant judgements: skipped */
	const int zero[1] = {0};
	ck_assert_int_eq(ath_query_metrics(ranked, 5, prod, zero, 1, m), 0);
}
END_TEST

/* AP and RR look at the list cut at 1000: a relevant product at rank 1001
 * counts for nothing. */
START_TEST(metrics_cut_at_1000)
{
	size_t *ranked = malloc(1001 * sizeof *ranked);
	for (size_t i = 0; i < 1001; i++)
		ranked[i] = i + 10;
	const size_t prod[1] = {1010}; /* at rank 1001 */
	const int grade[1] = {1};
	double m[ATH_NMETRICS];
	ck_assert_int_eq(ath_query_metrics(ranked, 1001, prod, grade, 1, m), 1);
	ck_assert_double_eq(m[3], 0.0);
	ck_assert_double_eq(m[4], 0.0);
	const size_t prod2[1] = {1009}; /* rank 1000 */
	ck_assert_int_eq(ath_query_metrics(ranked, 1001, prod2, grade, 1, m), 1);
	ck_assert_double_eq_tol(m[4], 1.0 / 1000.0, 1e-15);
	free(ranked);
}
END_TEST

START_TEST(ranking_file_means)
{
	write_file(tmp_path("c.tsv"), "# products\np1\tone\np2\ttwo\np5\tfive\n"
				      "p7\tseven\np9\tnine\np4\tfour\n");
	write_file(tmp_path("j.tsv"), "q1\tp1\t3\nq1\tp2\t2\nq1\tp5\t1\n"
				      "q1\tp7\t0\nq2\tp1\t0\nq3\tp4\t2\n");
	/* q1 ranked as above; q3's only relevant product is not ranked;
	 * q2 has no relevant product: skipped */
	write_file(tmp_path("r.tsv"), "# query\tproduct\trank\tscore\n"
				      "q1\tp5\t5\t0.1\nq1\tp2\t1\t0.9\nq1\tp7\t2\t0.8\n"
				      "q1\tp1\t3\t0.7\nq1\tp9\t4\t0.2\n"
				      "q3\tp1\t1\t1\nunjudged\tp1\t1\t1\n");
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("c.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	anthem_metrics m;
	anthem_metrics_init(&m);
	ck_assert_int_eq(anthem_evaluate_ranking(tmp_path("r.tsv"), c, j, &m), 0);
	ck_assert_uint_eq(m.queries, 2);
	ck_assert_uint_eq(m.skipped, 1);
	ck_assert_double_eq_tol(m.ndcg3, Q1_NDCG3 / 2, 1e-12);
	ck_assert_double_eq_tol(m.ndcg10, Q1_NDCG5 / 2, 1e-12);
	ck_assert_double_eq_tol(m.map, Q1_AP / 2, 1e-12);
	ck_assert_double_eq_tol(m.mrr, 0.5, 1e-12);
	/* a ranking naming an unknown product is refused with its line */
	write_file(tmp_path("bad.tsv"), "q1\tp1\t1\nq1\tnope\t2\n");
	ck_assert_int_eq(anthem_evaluate_ranking(tmp_path("bad.tsv"), c, j, &m),
			 ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "bad.tsv:2:"));
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* ---- data files ----------------------------------------------------------------- */

static void expect_catalog_error(const char *text, const char *where)
{
	anthem_catalog *c = (anthem_catalog *)&c;
	write_file(tmp_path("bad.tsv"), text);
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("bad.tsv"), 0),
			 ANTHEM_EFORMAT);
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(anthem_last_error(), where), "'%s' lacks '%s'",
		      anthem_last_error(), where);
}

START_TEST(catalog_refusals)
{
	expect_catalog_error("a\tA\nb B\n", "bad.tsv:2: expected 2 or 3 fields");
	expect_catalog_error("a\tA\n\tB\n", "bad.tsv:2: empty product_id");
	expect_catalog_error("a\tA\nb\tB\na\tC\n", "bad.tsv:3: duplicate product_id a");
	/* '#' after the header is data (docs/data.md) */
	expect_catalog_error("a\tA\n# c\n", "bad.tsv:2: expected 2 or 3 fields");
	expect_catalog_error("a\tA\nb\tB\xff\n", "bad.tsv:2: invalid UTF-8");
	expect_catalog_error("a\tA\tx\ty\n", "bad.tsv:1: expected 2 or 3 fields");
	anthem_catalog *c;
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("none.tsv"), 0),
			 ANTHEM_ENOTFOUND);
	/* CRLF, a blank line, comments and no final newline are fine */
	write_file(tmp_path("ok.tsv"), "# x\r\na\tA A\r\n\r\nb\tB\xc3\xa9");
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("ok.tsv"), 0), 0);
	ck_assert_uint_eq(anthem_catalog_count(c), 2);
	ck_assert_str_eq(anthem_catalog_title(c, 0), "A A");
	ck_assert_str_eq(anthem_catalog_id(c, 1), "b");
	size_t i;
	ck_assert_int_eq(anthem_catalog_find(c, "b", &i), 0);
	ck_assert_uint_eq(i, 1);
	ck_assert_int_eq(anthem_catalog_find(c, "zz", &i), ANTHEM_ENOTFOUND);
	anthem_catalog_free(c);
	/* lenient: bad lines skipped and counted */
	write_file(tmp_path("mixed.tsv"), "a\tA\nbroken\nb\tB\na\tdup\n");
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("mixed.tsv"),
					     ANTHEM_READ_LENIENT), 0);
	ck_assert_uint_eq(anthem_catalog_count(c), 2);
	ck_assert_uint_eq(anthem_catalog_skipped(c), 2);
	anthem_catalog_free(c);
}
END_TEST

START_TEST(judgment_refusals)
{
	anthem_catalog *c;
	anthem_judgments *j;
	write_file(tmp_path("c.tsv"), "a\tA\nb\tB\n");
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("c.tsv"), 0), 0);
	const char *bad[][2] = {
		{"q\ta\t1\nq\tzz\t1\n", "j.tsv:2: product_id is not in the catalogue"},
		{"q\ta\t4\n", "j.tsv:1: grade must be an integer from 0 to 3"},
		{"q\ta\tx\n", "j.tsv:1: grade must"},
		{"q\ta\t1.5\n", "j.tsv:1: grade must"},
		{"q\ta\n", "j.tsv:1: expected 3 fields"},
		{"\ta\t1\n", "j.tsv:1: empty query"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		write_file(tmp_path("j.tsv"), bad[k][0]);
		ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0),
				 ANTHEM_EFORMAT);
		ck_assert_msg(strstr(anthem_last_error(), bad[k][1]), "'%s'",
			      anthem_last_error());
	}
	/* repeated pairs keep the last grade; queries in first-seen order */
	write_file(tmp_path("j.tsv"), "q2\tb\t1\nq1\ta\t3\nq2\tb\t2\nq2\ta\t0\n");
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ck_assert_uint_eq(anthem_judgments_query_count(j), 2);
	ck_assert_str_eq(anthem_judgments_query(j, 0), "q2");
	const size_t *p;
	const int *g;
	size_t n;
	ck_assert_int_eq(anthem_judgments_get(j, 0, &p, &g, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(p[0], 0); /* a */
	ck_assert_int_eq(g[0], 0);
	ck_assert_uint_eq(p[1], 1); /* b, last grade 2 */
	ck_assert_int_eq(g[1], 2);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

/* ---- model files ---------------------------------------------------------------- */

static anthem_model *small_model(void)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 1024;
	anthem_model *m;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), 0);
	return m;
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fclose(f);
	return n;
}

static void patch_byte(const char *path, long at, unsigned char xor_mask)
{
	FILE *f = fopen(path, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, at, SEEK_SET);
	int c = fgetc(f);
	fseek(f, at, SEEK_SET);
	fputc(c ^ xor_mask, f);
	fclose(f);
}

START_TEST(model_file_round_trip)
{
	anthem_model *m = small_model(), *l;
	const char *path = tmp_path("m.anthem");
	ck_assert_int_eq(anthem_model_save(m, path), 0);
	ck_assert_int_eq(anthem_model_load(&l, path), 0);
	ck_assert_int_eq(anthem_model_is_mapped(l), 1);
	ck_assert_uint_ne(anthem_model_fingerprint(l), 0);
	float a, b;
	ck_assert_int_eq(anthem_model_score(m, "wool hat", "bowler hat", &a), 0);
	ck_assert_int_eq(anthem_model_score(l, "wool hat", "bowler hat", &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof a); /* bit-identical */
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	ck_assert_int_eq(anthem_model_read_config(path, &cfg), 0);
	ck_assert_uint_eq(cfg.dim, 8);
	anthem_model_free(l);
	/* from a buffer */
	FILE *f = fopen(path, "rb");
	long n = file_size(path);
	char *buf = malloc((size_t)n);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	ck_assert_int_eq(anthem_model_load_buffer(&l, buf, (size_t)n), 0);
	free(buf);
	ck_assert_int_eq(anthem_model_score(l, "wool hat", "bowler hat", &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof a);
	anthem_model_free(l);
	anthem_model_free(m);
}
END_TEST

START_TEST(model_file_refusals)
{
	anthem_model *m = small_model(), *l = (anthem_model *)&l;
	const char *good = tmp_path("good.anthem"), *bad = tmp_path("bad.anthem");
	ck_assert_int_eq(anthem_model_save(m, good), 0);
	long n = file_size(good);
	char cmd[1200];
	struct {
		long at;
		unsigned char mask;
		int code;
		const char *msg;
	} cases[] = {
		{0, 0x20, ANTHEM_EFORMAT, "wrong magic"},
		{8, 0x02, ANTHEM_EVERSION, "newer than this library"},
		{n / 2, 0x01, ANTHEM_ECHECKSUM, "checksum mismatch"},
		{n - 1, 0x80, ANTHEM_ECHECKSUM, "checksum mismatch"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, bad);
		ck_assert_int_eq(system(cmd), 0);
		patch_byte(bad, cases[k].at, cases[k].mask);
		ck_assert_int_eq(anthem_model_load(&l, bad), cases[k].code);
		ck_assert_ptr_null(l);
		ck_assert_msg(strstr(anthem_last_error(), cases[k].msg) &&
				      strstr(anthem_last_error(), "bad.anthem"),
			      "%s", anthem_last_error());
	}
	/* truncated */
	snprintf(cmd, sizeof cmd, "head -c %ld '%s' > '%s'", n - 100, good, bad);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(anthem_model_load(&l, bad), ANTHEM_ETRUNCATED);
	write_file(bad, "");
	ck_assert_int_eq(anthem_model_load(&l, bad), ANTHEM_ETRUNCATED);
	ck_assert_int_eq(anthem_model_load(&l, tmp_path("missing")), ANTHEM_ENOTFOUND);
	/* valid files whose weights would overflow (found by fuzzing) */
	const char *huge[] = {FIXTURE_DIR "/../../fuzz/findings/model/euclidean-nan-score.anthem",
			      FIXTURE_DIR "/../../fuzz/findings/model/hyperbolic-embed-einval.anthem"};
	for (int k = 0; k < 2; k++) {
		ck_assert_int_eq(anthem_model_load(&l, huge[k]), ANTHEM_EFORMAT);
		ck_assert_ptr_nonnull(strstr(anthem_last_error(), "weights must be finite"));
	}
	/* a save into a directory that does not exist fails cleanly */
	ck_assert_int_eq(anthem_model_save(m, tmp_path("no/such/dir/m.anthem")),
			 ANTHEM_EIO);
	anthem_model_free(m);
}
END_TEST

/* ---- the trainer --------------------------------------------------------------- */

typedef struct fixture {
	anthem_catalog *c;
	anthem_judgments *train, *test;
} fixture;

static void load_fixture(fixture *f)
{
	ck_assert_int_eq(anthem_catalog_load(&f->c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&f->train, FIXTURE("train.tsv"), f->c, 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&f->test, FIXTURE("test.tsv"), f->c, 0), 0);
}

static void free_fixture(fixture *f)
{
	anthem_judgments_free(f->train);
	anthem_judgments_free(f->test);
	anthem_catalog_free(f->c);
}

static void small_options(anthem_model_config *cfg, anthem_train_options *o)
{
	anthem_model_config_init(cfg);
	cfg->dim = 8;
	cfg->buckets = 4096;
	anthem_train_options_init(o);
	o->epochs = 3;
	o->epoch_examples = 256;
	o->threads = 2;
	o->patience = 0;
}

static void train(fixture *f, const anthem_model_config *cfg,
		  const anthem_train_options *o, const char *resume,
		  const char *out)
{
	anthem_trainer *t;
	int rc = resume ? anthem_trainer_resume(&t, resume, f->c, f->train, o)
			: anthem_trainer_create(&t, cfg, f->c, f->train, o);
	ck_assert_msg(rc == 0, "%s", anthem_last_error());
	rc = anthem_trainer_run(t);
	ck_assert_msg(rc == 0, "%s", anthem_last_error());
	ck_assert_int_eq(anthem_model_save(anthem_trainer_model(t), out), 0);
	anthem_trainer_free(t);
}

/* the weights of two model files are the same bytes (the files differ in
 * nothing else either: same metadata) */
static int same_file(const char *a, const char *b)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

START_TEST(training_learns)
{
	fixture f;
	load_fixture(&f);
	anthem_model_config cfg;
	anthem_train_options o;
	small_options(&cfg, &o);
	int quick = getenv("ANTHEM_TEST_QUICK") != NULL;
	o.epochs = quick ? 1 : 6;
	o.epoch_examples = quick ? 64 : 0;
	anthem_model *untrained;
	ck_assert_int_eq(anthem_model_create(&untrained, &cfg), 0);
	train(&f, &cfg, &o, NULL, tmp_path("t.anthem"));
	anthem_model *trained;
	ck_assert_int_eq(anthem_model_load(&trained, tmp_path("t.anthem")), 0);
	anthem_metrics before, after;
	anthem_metrics_init(&before);
	anthem_metrics_init(&after);
	ck_assert_int_eq(anthem_evaluate(untrained, f.c, f.test, NULL, &before), 0);
	ck_assert_int_eq(anthem_evaluate(trained, f.c, f.test, NULL, &after), 0);
	/* unseen test queries rank clearly better after training (not
	 * asserted after the few steps of a quick run) */
	ck_assert_msg(quick || (after.ndcg10 > before.ndcg10 + 0.05 &&
				after.map > before.map),
		      "NDCG@10 %.3f -> %.3f, MAP %.3f -> %.3f", before.ndcg10,
		      after.ndcg10, before.map, after.map);
	ck_assert_uint_eq(after.queries, anthem_judgments_query_count(f.test));
	anthem_model_free(untrained);
	anthem_model_free(trained);
	free_fixture(&f);
}
END_TEST

START_TEST(training_is_reproducible_and_resumable)
{
	fixture f;
	load_fixture(&f);
	anthem_model_config cfg;
	anthem_train_options o;
	small_options(&cfg, &o);
	if (getenv("ANTHEM_TEST_QUICK")) {
		o.epochs = 2;
		o.epoch_examples = 32;
	}
	/* with the lexical term too: the w chosen after each epoch must not
	 * depend on timing or on where a run was resumed */
	for (int lex = 1; lex >= 0; lex--) {
		cfg.lexical_buckets = lex ? 1u << 14 : 0;
		train(&f, &cfg, &o, NULL, tmp_path("a.anthem"));
		train(&f, &cfg, &o, NULL, tmp_path("b.anthem"));
		ck_assert_msg(same_file(tmp_path("a.anthem"), tmp_path("b.anthem")),
			      "two runs with one seed differ (lexical %d)", lex);
		/* interrupted after epoch 1 (its checkpoint), then resumed */
		anthem_train_options one = o;
		one.epochs = 1;
		one.checkpoint = tmp_path("ck");
		train(&f, &cfg, &one, NULL, tmp_path("partial.anthem"));
		train(&f, &cfg, &o, tmp_path("ck"), tmp_path("resumed.anthem"));
		ck_assert_msg(same_file(tmp_path("a.anthem"),
					tmp_path("resumed.anthem")),
			      "the resumed run differs from the uninterrupted "
			      "one (lexical %d)", lex);
	}
	/* another seed, another model */
	o.seed = 2;
	cfg.seed = 2;
	train(&f, &cfg, &o, NULL, tmp_path("c.anthem"));
	ck_assert(!same_file(tmp_path("a.anthem"), tmp_path("c.anthem")));
	/* a checkpoint does not resume on other data */
	anthem_trainer *t = (anthem_trainer *)&t;
	ck_assert_int_eq(anthem_trainer_resume(&t, tmp_path("ck"), f.c, f.test, &o),
			 ANTHEM_EMISMATCH);
	ck_assert_ptr_null(t);
	free_fixture(&f);
}
END_TEST

/* ---- issue 17's experiments ------------------------------------------------
 * Riemannian Adam's gradient: rgrad = J^-T g / lambda^2 (J = d exp0/dx),
 * so lambda^2 <rgrad, J e> = <g, e> for every direction e, J e by central
 * finite differences of geo_exp0 (in double through float: h = 1e-3, the
 * tolerance a few float ulps over h); and its transport keeps the
 * Riemannian norm, lambda_q |PT w| = lambda_p |w|, and is the identity
 * from a point to itself. */
START_TEST(riemannian_adam_gradient_by_finite_differences)
{
	geo_space s = geo_space_of(ANTHEM_GEOMETRY_HYPERBOLIC, 0.7f);
	enum { N = 6 };
	rng r = {17};
	for (int trial = 0; trial < 20; trial++) {
		float x[N], g[N], e[N], xp[N], xm[N], pp[N], pm[N];
		double rg[N], lambda;
		/* radii up to sqrt(c)|x| ~ 2.4, where 1 - c|p|^2 is ~0.03 */
		double scale = 0.1 + 0.4 * (trial % 7);
		for (int i = 0; i < N; i++) {
			x[i] = (float)(scale * (unif(&r) - 0.5));
			g[i] = (float)(unif(&r) - 0.5);
			e[i] = (float)(unif(&r) - 0.5);
		}
		ath_radam_rgrad(&s, N, x, g, rg, &lambda);
		const double h = 1e-3;
		for (int i = 0; i < N; i++) {
			xp[i] = (float)(x[i] + h * e[i]);
			xm[i] = (float)(x[i] - h * e[i]);
		}
		geo_exp0(&s, N, xp, pp);
		geo_exp0(&s, N, xm, pm);
		double lhs = 0.0, rhs = 0.0;
		for (int i = 0; i < N; i++) {
			/* the step actually taken (xp - xm, rounded) */
			double dx = (double)xp[i] - xm[i];
			rhs += (double)g[i] * dx;
			lhs += lambda * lambda * rg[i] * ((double)pp[i] - pm[i]);
		}
		ck_assert_msg(fabs(lhs - rhs) < 2e-3 * (fabs(rhs) + 1e-3),
			      "trial %d: lambda^2 <rgrad, J e> = %g, <g, e> = %g",
			      trial, lhs / (2 * h), rhs / (2 * h));
		/* transport: norm kept, identity at the same point */
		float p[N], q[N], u[N];
		double w[N], out[N];
		geo_exp0(&s, N, x, p);
		for (int i = 0; i < N; i++) {
			u[i] = (float)(0.3 * (unif(&r) - 0.5));
			w[i] = unif(&r) - 0.5;
		}
		geo_expmap(&s, N, p, u, q);
		double p2 = 0, q2 = 0, w2 = 0, o2 = 0;
		ath_radam_transport(&s, N, p, q, w, out);
		for (int i = 0; i < N; i++) {
			p2 += (double)p[i] * p[i];
			q2 += (double)q[i] * q[i];
			w2 += w[i] * w[i];
			o2 += out[i] * out[i];
		}
		double lp = 2.0 / (1.0 - s.c * p2), lq = 2.0 / (1.0 - s.c * q2);
		ck_assert_msg(fabs(lq * sqrt(o2) - lp * sqrt(w2)) <
				      1e-9 * lp * sqrt(w2),
			      "trial %d: |PT w|_q = %g, |w|_p = %g", trial,
			      lq * sqrt(o2), lp * sqrt(w2));
		ath_radam_transport(&s, N, p, p, w, out);
		for (int i = 0; i < N; i++)
			ck_assert(fabs(out[i] - w[i]) < 1e-12);
	}
}
END_TEST

/* Each experiment trains, is the same for a seed, moves the model (it is
 * not the default's), and refuses what it cannot do. */
START_TEST(training_experiments)
{
	fixture f;
	load_fixture(&f);
	anthem_model_config cfg;
	anthem_train_options o;
	small_options(&cfg, &o);
	o.epochs = 1;
	train(&f, &cfg, &o, NULL, tmp_path("base.anthem"));
	for (int x = 0; x < 4; x++) {
		anthem_model_config c = cfg;
		anthem_train_options e = o;
		if (x == 0)
			e.float64_tables = 1;
		else if (x == 1)
			e.riemannian_adam = 1;
		else if (x == 2)
			c.tie_embeddings = 0, c.title_buckets = 1024;
		else
			c.product_token = 1;
		train(&f, &c, &e, NULL, tmp_path("x1.anthem"));
		train(&f, &c, &e, NULL, tmp_path("x2.anthem"));
		ck_assert_msg(same_file(tmp_path("x1.anthem"), tmp_path("x2.anthem")),
			      "experiment %d: two runs with one seed differ", x);
		ck_assert_msg(!same_file(tmp_path("x1.anthem"),
					 tmp_path("base.anthem")),
			      "experiment %d: the same model as without it", x);
		/* the file keeps the configuration */
		anthem_model *m;
		anthem_model_config back;
		ck_assert_int_eq(anthem_model_load(&m, tmp_path("x1.anthem")), 0);
		anthem_model_config_init(&back);
		ck_assert_int_eq(anthem_model_get_config(m, &back), 0);
		ck_assert_uint_eq(back.title_buckets, c.title_buckets);
		ck_assert_int_eq(back.product_token, c.product_token);
		ck_assert_int_eq(back.tie_embeddings, c.tie_embeddings);
		anthem_model_free(m);
		/* format version 2 (older readers refuse it) only with the
		 * product token */
		FILE *fp = fopen(tmp_path("x1.anthem"), "rb");
		unsigned char head[12];
		ck_assert(fp && fread(head, 1, 12, fp) == 12);
		fclose(fp);
		ck_assert_uint_eq(head[8], c.product_token ? 2 : 1);
	}
	/* Riemannian Adam's state (its one second moment a row in adam.v)
	 * resumes from a checkpoint to the uninterrupted run's model */
	anthem_train_options r = o;
	r.riemannian_adam = 1;
	r.epochs = 2;
	train(&f, &cfg, &r, NULL, tmp_path("r2.anthem"));
	anthem_train_options r1 = r;
	r1.epochs = 1;
	r1.checkpoint = tmp_path("rck");
	train(&f, &cfg, &r1, NULL, tmp_path("r1.anthem"));
	train(&f, &cfg, &r, tmp_path("rck"), tmp_path("rr.anthem"));
	ck_assert_msg(same_file(tmp_path("r2.anthem"), tmp_path("rr.anthem")),
		      "Riemannian Adam: the resumed run differs");
	/* the product token: the last token, the same for the same title,
	 * another for another title; not there for a query */
	anthem_model_config c = cfg;
	c.product_token = 1;
	anthem_model *m, *plain;
	ck_assert_int_eq(anthem_model_create(&m, &c), 0);
	ck_assert_int_eq(anthem_model_create(&plain, &cfg), 0);
	uint32_t a[100], b[100], d[100];
	size_t na = ath_model_tokens(m, "felt hat", 1, a, NULL);
	size_t nb = ath_model_tokens(plain, "felt hat", 1, b, NULL);
	size_t nd = ath_model_tokens(m, "felt cap", 1, d, NULL);
	ck_assert_uint_eq(na, nb + 1);
	ck_assert_mem_eq(a, b, nb * sizeof *a);
	ck_assert_uint_ne(a[na - 1], d[nd - 1]);
	ck_assert_uint_eq(ath_model_tokens(m, "felt hat", 0, d, NULL),
			  ath_model_tokens(plain, "felt hat", 0, b, NULL));
	anthem_model_free(m);
	anthem_model_free(plain);
	/* refusals */
	anthem_trainer *t = (anthem_trainer *)&t;
	anthem_train_options e = o;
	e.float64_tables = 1;
	e.riemannian_adam = 1;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, f.c, f.train, &e),
			 ANTHEM_EINVAL);
	e.riemannian_adam = 0;
	e.checkpoint = tmp_path("ck");
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, f.c, f.train, &e),
			 ANTHEM_EINVAL);
	e = o;
	e.riemannian_adam = 1;
	c = cfg;
	c.geometry = ANTHEM_GEOMETRY_EUCLIDEAN;
	ck_assert_int_eq(anthem_trainer_create(&t, &c, f.c, f.train, &e),
			 ANTHEM_EINVAL);
	ck_assert_ptr_null(t);
	c = cfg;
	c.title_buckets = 1024; /* tied: no title table to size */
	ck_assert_int_eq(anthem_model_create(&m, &c), ANTHEM_ERANGE);
	free_fixture(&f);
}
END_TEST

static int cancel_at_first(const anthem_train_progress *p, void *user)
{
	(*(int *)user)++;
	return p->epoch_done; /* stop at the end of epoch 1 */
}

START_TEST(training_can_be_canceled)
{
	fixture f;
	load_fixture(&f);
	anthem_model_config cfg;
	anthem_train_options o;
	small_options(&cfg, &o);
	int calls = 0;
	o.progress = cancel_at_first;
	o.progress_user = &calls;
	anthem_trainer *t;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, f.c, f.train, &o), 0);
	ck_assert_int_eq(anthem_trainer_run(t), ANTHEM_ECANCELED);
	ck_assert_uint_eq(anthem_trainer_epoch(t), 1);
	ck_assert_int_ge(calls, 1);
	ck_assert_ptr_nonnull(anthem_trainer_model(t));
	anthem_trainer_free(t);
	/* bad options are refused up front */
	o.batch = 0;
	ck_assert_int_eq(anthem_trainer_create(&t, &cfg, f.c, f.train, &o),
			 ANTHEM_ERANGE);
	free_fixture(&f);
}
END_TEST

/* Pseudo-queries: every one a span of 1-3 words of its own product's
 * title, that product judged 3, the span cut from the title the lexical
 * term scores; a judged pair keeps its grade and its whole title; the
 * same seed gives the same spans, another seed others. */
START_TEST(pseudo_queries_are_spans_of_their_titles)
{
	anthem_catalog *c;
	write_file(tmp_path("c.tsv"), "a\tgrey felt fedora, with a band\n"
				      "b\tstraw boater: a summer hat\n"
				      "c\that\n"
				      "d\t...\n");
	ck_assert_int_eq(anthem_catalog_load(&c, tmp_path("c.tsv"), 0), 0);
	write_file(tmp_path("j.tsv"), "hat\tc\t2\n");
	anthem_judgments *j;
	ck_assert_int_eq(anthem_judgments_load(&j, tmp_path("j.tsv"), c, 0), 0);
	ath_selfsup s1, s2, s3;
	ck_assert_int_eq(ath_selfsup_build(c, j, 8, 5, &s1, "test"), 0);
	ck_assert_uint_eq(s1.npseudo, 3 * 8); /* "..." has no word */
	const anthem_judgments *pj = s1.jud;
	size_t cuts = 0;
	for (size_t q = 0; q < pj->nq; q++) {
		const char *query = pj->queries[q];
		for (size_t i = pj->start[q]; i < pj->start[q + 1]; i++) {
			size_t p = pj->products[i];
			const char *title = c->titles[p];
			const char *cut = ath_selfsup_cut(&s1, q, p);
			if (!strcmp(query, "hat") && p == 2) {
				ck_assert_int_eq(pj->grades[i], 2); /* judged */
				ck_assert_ptr_null(cut);
				continue;
			}
			ck_assert_int_eq(pj->grades[i], 3);
			size_t words = 1;
			for (const char *x = query; *x; x++)
				words += *x == ' ';
			ck_assert(words >= 1 && words <= 3);
			ck_assert_msg(cut != NULL, "no cut for '%s'", query);
			/* the cut title is title[0, b) " " title[e, end) for a
			 * span [b, e) that holds the query's words, in order,
			 * with only spaces and punctuation between them */
			int found = 0;
			size_t tl = strlen(title);
			for (size_t b = 0; b <= tl && !found; b++)
				for (size_t e = b; e <= tl && !found; e++) {
					char span[128], back[256], w[128];
					snprintf(back, sizeof back, "%.*s %s", (int)b,
						 title, title + e);
					if (strcmp(back, cut))
						continue;
					/* the span less punctuation is the query */
					size_t n = 0;
					snprintf(span, sizeof span, "%.*s",
						 (int)(e - b), title + b);
					for (const char *x = span; *x; x++)
						if (*x != ',' && *x != ':')
							w[n++] = *x;
					w[n] = '\0';
					found = !strcmp(w, query);
				}
			ck_assert_msg(found, "'%s' is no span of '%s' cut to '%s'",
				      query, title, cut);
			cuts++;
		}
	}
	ck_assert_uint_eq(cuts, s1.ncuts);
	ck_assert_int_eq(ath_selfsup_build(c, j, 8, 5, &s2, "test"), 0);
	ck_assert(s1.jud->fingerprint == s2.jud->fingerprint);
	ck_assert_int_eq(ath_selfsup_build(c, NULL, 8, 6, &s3, "test"), 0);
	ck_assert(s1.jud->fingerprint != s3.jud->fingerprint);
	ath_selfsup_free(&s1);
	ath_selfsup_free(&s2);
	ath_selfsup_free(&s3);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("train");
	TCase *t = tcase_create("metrics");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, metrics_by_hand);
	tcase_add_test(t, metrics_cut_at_1000);
	tcase_add_test(t, ranking_file_means);
	suite_add_tcase(s, t);
	t = tcase_create("files");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, catalog_refusals);
	tcase_add_test(t, judgment_refusals);
	tcase_add_test(t, model_file_round_trip);
	tcase_add_test(t, model_file_refusals);
	tcase_add_test(t, pseudo_queries_are_spans_of_their_titles);
	suite_add_tcase(s, t);
	t = tcase_create("trainer");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, training_learns);
	tcase_add_test(t, training_is_reproducible_and_resumable);
	tcase_add_test(t, training_can_be_canceled);
	tcase_add_test(t, riemannian_adam_gradient_by_finite_differences);
	tcase_add_test(t, training_experiments);
	tcase_set_timeout(t, 600);
	suite_add_tcase(s, t);
	return run_suite(s);
}
