/* The network and the model handle: tokenizer, configuration, the
 * geometry switch, a hand-computed E-ANTHEM score, stage-1 consistency,
 * explanations and concurrent scoring. */
#include "layers/lexical.h"
#include "model/model_internal.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static anthem_model *new_model(anthem_geometry g, size_t dim, size_t buckets)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.geometry = g;
	cfg.dim = dim;
	cfg.buckets = buckets;
	anthem_model *m = NULL;
	ck_assert_msg(anthem_model_create(&m, &cfg) == ANTHEM_OK, "%s",
		      anthem_last_error());
	return m;
}

/* ---- trigrams ------------------------------------------------------------------ */

static size_t labels_of(const char *text, size_t max, char (*lab)[4])
{
	uint32_t ids[128];
	return ath_trigrams(text, strlen(text), 1, 1u << 30, max, ids, lab);
}

START_TEST(trigrams_follow_the_spec)
{
	char lab[128][4];
	const char *want[] = {"#fi", "fir", "ire", "re ", "e t", " tv", "tv#"};
	/* case folded, runs of white space folded, ends trimmed */
	ck_assert_uint_eq(labels_of("  Fire \t\n TV  ", 100, lab), 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_str_eq(lab[i], want[i]);
	/* cut at max */
	ck_assert_uint_eq(labels_of("fire tv", 3, lab), 3);
	/* repeats are kept once, in first-occurrence order: #aa aaa aa# */
	ck_assert_uint_eq(labels_of("aaaa", 100, lab), 3);
	ck_assert_str_eq(lab[1], "aaa");
	/* empty and all-space text: the one token "##" */
	ck_assert_uint_eq(labels_of("", 100, lab), 1);
	ck_assert_str_eq(lab[0], "##");
	ck_assert_uint_eq(labels_of(" \t ", 100, lab), 1);
	/* a single character: #x# */
	ck_assert_uint_eq(labels_of("x", 100, lab), 1);
	ck_assert_str_eq(lab[0], "#x#");
	/* non-ASCII bytes pass through unchanged (UTF-8 é = c3 a9) */
	ck_assert_uint_eq(labels_of("\xc3\xa9", 100, lab), 2);
	ck_assert_str_eq(lab[0], "#\xc3\xa9");
}
END_TEST

START_TEST(trigram_hash_is_seeded_and_bounded)
{
	uint32_t a[8], b[8];
	size_t n = ath_trigrams("fire tv", 7, 1, 1000, 8, a, NULL);
	ath_trigrams("fire tv", 7, 2, 1000, 8, b, NULL);
	ck_assert_uint_eq(n, 7);
	int differ = 0;
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(a[i], 1000);
		differ |= a[i] != b[i];
	}
	ck_assert(differ);
}
END_TEST

/* Bucket ids are part of every model file: a model trained with one hash
 * is read wrongly by another.  These values are bucket_ids and
 * hash_trigram of bench/reference/anthem_twin.py (docs/network.md, step
 * 1: FNV-1a from hash_seed XOR the offset basis, the splitmix64
 * finaliser), seed 1, 2^30 buckets; a lexical word is hashed the same way
 * (step 8). */
START_TEST(trigram_and_word_ids_are_the_spec)
{
	static const uint32_t want[] = {908544740, 1002676078, 181478410,
					876140531, 206324932, 886103,
					264211625};
	uint32_t ids[8];
	ck_assert_uint_eq(ath_trigrams("  Fire \t\n TV  ", 14, 1, 1u << 30, 8,
				       ids, NULL), 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_uint_eq(ids[i], want[i]);
	ck_assert_uint_eq(ath_trigrams("", 0, 1, 1u << 30, 8, ids, NULL), 1);
	ck_assert_uint_eq(ids[0], 351611721); /* "##" */
	const char *words = "HAT caf\xc3\xa9";
	size_t pos = 0;
	uint32_t id;
	ck_assert(ath_word_next(words, &pos, 1, 1u << 30, &id));
	ck_assert_uint_eq(id, 888124939); /* "hat" */
	ck_assert(ath_word_next(words, &pos, 1, 1u << 30, &id));
	ck_assert_uint_eq(id, 32341404); /* "caf\xc3\xa9" */
}
END_TEST

/* ---- configuration ----------------------------------------------------------- */

START_TEST(config_is_validated)
{
	anthem_model_config cfg;
	anthem_model *m = (anthem_model *)&m;
	anthem_model_config_init(&cfg);
	cfg.dim = 0;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_ERANGE);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "dim"));
	anthem_model_config_init(&cfg);
	cfg.curvature = -1;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "curvature"));
	anthem_model_config_init(&cfg);
	cfg.gamma = NAN;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_EINVAL);
	anthem_model_config_init(&cfg);
	cfg.geometry = (anthem_geometry)9;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_EINVAL);
	anthem_model_config_init(&cfg);
	cfg.buckets = 0;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_ERANGE);
	anthem_model_config_init(&cfg);
	cfg.max_query_trigrams = 65;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_ERANGE);
	anthem_model_config_init(&cfg);
	cfg.buckets = ((size_t)1 << 31) + 1; /* ids are 32-bit */
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_ERANGE);
	/* a struct from a newer library (bigger) is refused... */
	anthem_model_config_init(&cfg);
	cfg.struct_size = sizeof cfg + 8;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "struct_size"));
	/* ...an older (smaller) one gets defaults for what it lacks */
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 512;
	cfg.max_title_trigrams = 3; /* beyond the old struct: ignored */
	cfg.struct_size = offsetof(anthem_model_config, max_title_trigrams);
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_OK);
	anthem_model_config got;
	anthem_model_config_init(&got);
	ck_assert_int_eq(anthem_model_get_config(m, &got), ANTHEM_OK);
	ck_assert_uint_eq(got.dim, 8);
	ck_assert_uint_eq(got.max_title_trigrams, 100);
	ck_assert_uint_eq(anthem_model_dim(m), 8);
	/* get_config writes no byte past an older caller's struct... */
	size_t old_size = offsetof(anthem_model_config, max_title_trigrams);
	memset(&got, 0xab, sizeof got);
	got.struct_size = old_size;
	ck_assert_int_eq(anthem_model_get_config(m, &got), ANTHEM_OK);
	ck_assert_uint_eq(got.struct_size, old_size);
	ck_assert_uint_eq(got.dim, 8);
	for (size_t i = old_size; i < sizeof got; i++)
		ck_assert_uint_eq(((unsigned char *)&got)[i], 0xab);
	/* ...and refuses a struct_size it cannot trust */
	got.struct_size = sizeof got + 8;
	ck_assert_int_eq(anthem_model_get_config(m, &got), ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "struct_size"));
	got.struct_size = 0;
	ck_assert_int_eq(anthem_model_get_config(m, &got), ANTHEM_EINVAL);
	anthem_model_free(m);
	anthem_model_free(NULL);
}
END_TEST

/* ---- the geometry switch ------------------------------------------------------- */

START_TEST(geometries_give_different_scores)
{
	const anthem_geometry g[3] = {ANTHEM_GEOMETRY_HYPERBOLIC,
				      ANTHEM_GEOMETRY_EUCLIDEAN,
				      ANTHEM_GEOMETRY_VECTOR};
	float s[3];
	for (int i = 0; i < 3; i++) {
		anthem_model *m = new_model(g[i], 16, 4096);
		ck_assert_int_eq(anthem_model_geometry(m), g[i]);
		ck_assert_int_eq(anthem_model_score(m, "fire tv stick",
						    "amazon fire tv 4k", &s[i]),
				 ANTHEM_OK);
		ck_assert(isfinite(s[i]) && s[i] >= 0.0f);
		/* no lexical term: no weight */
		ck_assert(isnan(anthem_model_lexical_weight(m)));
		anthem_model_free(m);
	}
	ck_assert_float_ne(s[0], s[1]);
	ck_assert_float_ne(s[1], s[2]);
	ck_assert_float_ne(s[0], s[2]);
}
END_TEST

/* E-ANTHEM by hand.  Query "a" has one trigram (#a#), so there is one
 * element and every attention weight over elements is 1: the query box is
 * (query_centre[q], softplus(query_limit[q])).  Title "ab" has trigrams
 * #ab, ab#; with title_att_u = 0 both get weight 1/2, so the product point
 * is their mean.  Centre (0,0), limit softplus(log(e-1)) = 1, title points
 * (2,0) and (4,1) give v = (3, 0.5): d_out = 2, d_in = 1 + 0.5, and
 * d = 2 + 0.5 * 1.5 = 2.75 (gamma 0.5). */
START_TEST(euclidean_score_by_hand)
{
	anthem_model *m = new_model(ANTHEM_GEOMETRY_EUCLIDEAN, 2, 1024);
	uint32_t q[4], t[4];
	ck_assert_uint_eq(ath_model_tokens(m, "a", 0, q, NULL), 1);
	ck_assert_uint_eq(ath_model_tokens(m, "ab", 1, t, NULL), 2);
	ck_assert_uint_ne(t[0], t[1]);
	ag_param *p = m->params;
	float *qc = p[P_QUERY_CENTRE].val + q[0] * 2;
	float *ql = p[P_QUERY_LIMIT].val + q[0] * 2;
	qc[0] = qc[1] = 0.0f;
	ql[0] = ql[1] = (float)log(M_E - 1.0);
	memset(p[P_TITLE_ATT_U].val, 0, 2 * sizeof(float));
	/* title trigram points live in the query table when tied */
	int table = m->cfg.tie_embeddings ? P_QUERY_CENTRE : P_TITLE_POINT;
	ck_assert(t[0] != q[0] && t[1] != q[0]);
	float *t0 = p[table].val + t[0] * 2;
	float *t1 = p[table].val + t[1] * 2;
	t0[0] = 2, t0[1] = 0, t1[0] = 4, t1[1] = 1;
	float d;
	ck_assert_int_eq(anthem_model_score(m, "a", "ab", &d), ANTHEM_OK);
	ck_assert_float_eq_tol(d, 2.75f, 1e-5f);
	/* stage 1 is the same box here */
	anthem_hyperboloid *h;
	float v[2];
	const char *titles[1] = {"ab"};
	ck_assert_int_eq(anthem_model_embed_query(m, "a", &h), ANTHEM_OK);
	ck_assert_int_eq(anthem_model_embed_products(m, titles, 1, v), ANTHEM_OK);
	ck_assert_float_eq_tol(v[0], 3.0f, 1e-6f);
	ck_assert_float_eq_tol(v[1], 0.5f, 1e-6f);
	ck_assert_int_eq(anthem_hyperboloid_distance(h, v, 2, 0.5f, &d), 0);
	ck_assert_float_eq_tol(d, 2.75f, 1e-5f);
	anthem_hyperboloid_free(h);
	anthem_model_free(m);
}
END_TEST

/* ---- stage 1 through the public API equals the training graph ------------------ */

START_TEST(stage1_matches_training_graph)
{
	const anthem_geometry g[3] = {ANTHEM_GEOMETRY_HYPERBOLIC,
				      ANTHEM_GEOMETRY_EUCLIDEAN,
				      ANTHEM_GEOMETRY_VECTOR};
	const char *query = "wireless mouse";
	const char *titles[3] = {"logitech wireless mouse m185",
				 "usb keyboard", "ceramic coffee mug"};
	for (int gi = 0; gi < 3; gi++) {
		anthem_model *m = new_model(g[gi], 16, 4096);
		uint32_t q[64], tid[3][1024];
		const uint32_t *tp[3] = {tid[0], tid[1], tid[2]};
		size_t L = ath_model_tokens(m, query, 0, q, NULL), T[3];
		for (int k = 0; k < 3; k++)
			T[k] = ath_model_tokens(m, titles[k], 1, tid[k], NULL);
		ag_tape t;
		ag_tape_init(&t, &m->space, 0);
		ag_node *d1, *d2;
		ath_net_loss(&t, &m->cfg, m->params, q, L, tp, T, 3, 1.0f, &d1, &d2);
		ck_assert(!t.failed);
		anthem_hyperboloid *h;
		float v[3 * 16], d;
		ck_assert_int_eq(anthem_model_embed_query(m, query, &h), 0);
		ck_assert_int_eq(anthem_model_embed_products(m, titles, 3, v), 0);
		for (int k = 0; k < 3; k++) {
			ck_assert_int_eq(anthem_hyperboloid_distance(
						 h, v + 16 * k, 16, 0.5f, &d), 0);
			ck_assert_float_eq(d, d1->val[k]);
			ck_assert_int_eq(anthem_model_score(m, query, titles[k], &d), 0);
			ck_assert_float_eq(d, d2->val[k]);
		}
		anthem_hyperboloid_free(h);
		ag_tape_free(&t);
		anthem_model_free(m);
	}
}
END_TEST

/* Stage 2 from the kept elements: ath_net_query_prune keeps the M of
 * highest self-attention score in their order, and the distance is stage
 * 2 of a query of just those rows, chosen here by a plain selection. */
START_TEST(pruned_stage2_is_stage2_of_the_kept_elements)
{
	anthem_model *m = new_model(ANTHEM_GEOMETRY_HYPERBOLIC, 16, 4096);
	const char *query = "wireless optical mouse", *title = "logitech mouse";
	uint32_t q[64], tid[1024];
	size_t L = ath_model_tokens(m, query, 0, q, NULL);
	size_t T = ath_model_tokens(m, title, 1, tid, NULL);
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	ath_query full, pruned;
	ath_net_query(&t, &m->cfg, m->params, q, L, &full);
	ath_title ti;
	ath_net_title(&t, &m->cfg, m->params, tid, T, &ti);
	ath_stage2 s2;
	float d_full = ath_net_stage2(&t, &m->cfg, m->params, &full, &ti, &s2)->val[0];
	enum { M = 10 };
	size_t E = full.E, d = 16;
	ck_assert_uint_gt(E, 100);
	/* the reference: M times the best element not yet taken (the first
	 * of equals), then in element order */
	int taken[512] = {0};
	uint32_t keep[M];
	for (int k = 0; k < M; k++) {
		size_t best = E;
		for (size_t e = 0; e < E; e++)
			if (!taken[e] && (best == E ||
					  full.s->val[e] > full.s->val[best]))
				best = e;
		taken[best] = 1;
	}
	for (size_t e = 0, k = 0; e < E; e++)
		if (taken[e])
			keep[k++] = (uint32_t)e;
	ath_query ref = full;
	ref.E = M;
	ref.X = ag_const(&t, M, d, NULL);
	ref.C = ag_const(&t, M, d, NULL);
	ref.Lm = ag_const(&t, M, d, NULL);
	ref.s = ag_const(&t, 1, M, NULL);
	for (int k = 0; k < M; k++) {
		memcpy(ref.X->val + k * d, full.X->val + keep[k] * d, d * sizeof(float));
		memcpy(ref.C->val + k * d, full.C->val + keep[k] * d, d * sizeof(float));
		memcpy(ref.Lm->val + k * d, full.Lm->val + keep[k] * d, d * sizeof(float));
		ref.s->val[k] = full.s->val[keep[k]];
	}
	float d_ref = ath_net_stage2(&t, &m->cfg, m->params, &ref, &ti, &s2)->val[0];
	pruned = full;
	ath_net_query_prune(&t, &pruned, M);
	ck_assert(!t.failed);
	ck_assert_uint_eq(pruned.E, M);
	float d_pruned = ath_net_stage2(&t, &m->cfg, m->params, &pruned, &ti, &s2)->val[0];
	ck_assert_mem_eq(&d_pruned, &d_ref, sizeof d_ref);
	ck_assert_msg(d_pruned != d_full, "%g: pruning changed nothing", d_full);
	/* stage 1 stays the whole query's */
	ck_assert_ptr_eq(pruned.c1, full.c1);
	/* keeping as many as there are (or 0) keeps the query as it is */
	pruned = full;
	ath_net_query_prune(&t, &pruned, E);
	ck_assert(pruned.X == full.X && pruned.E == E);
	ath_net_query_prune(&t, &pruned, 0);
	ck_assert(pruned.X == full.X && pruned.E == E);
	ag_tape_free(&t);
	anthem_model_free(m);
}
END_TEST

/* ---- explanations ------------------------------------------------------------------ */

START_TEST(explanation_grid)
{
	anthem_model *m = new_model(ANTHEM_GEOMETRY_HYPERBOLIC, 16, 4096);
	anthem_explanation *e;
	ck_assert_int_eq(anthem_model_explain(m, "tv", "fire tv", &e), 0);
	ck_assert_uint_eq(anthem_explanation_rows(e), 2); /* #tv tv# */
	ck_assert_uint_eq(anthem_explanation_cols(e), 7);
	ck_assert_str_eq(anthem_explanation_row_label(e, 0), "#tv");
	ck_assert_str_eq(anthem_explanation_col_label(e, 6), "tv#");
	ck_assert_ptr_null(anthem_explanation_row_label(e, 2));
	const float *w = anthem_explanation_weights(e);
	for (size_t r = 0; r < 2; r++) {
		double sum = 0;
		for (size_t c = 0; c < 7; c++) {
			ck_assert(w[r * 7 + c] > 0.0f);
			sum += w[r * 7 + c];
		}
		ck_assert_double_eq_tol(sum, 1.0, 1e-5);
	}
	float d;
	ck_assert_int_eq(anthem_model_score(m, "tv", "fire tv", &d), 0);
	ck_assert_float_eq(anthem_explanation_distance(e), d);
	anthem_explanation_free(e);
	anthem_explanation_free(NULL);
	anthem_explanation *bad = (anthem_explanation *)&bad;
	ck_assert_int_eq(anthem_model_explain(m, NULL, "x", &bad), ANTHEM_EINVAL);
	ck_assert_ptr_null(bad);
	anthem_model_free(m);
}
END_TEST

START_TEST(bad_arguments_are_errors)
{
	anthem_model *m = new_model(ANTHEM_GEOMETRY_HYPERBOLIC, 8, 256);
	float d, v[8];
	const char *titles[2] = {"ok", NULL};
	anthem_hyperboloid *h;
	ck_assert_int_eq(anthem_model_score(m, NULL, "t", &d), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_model_score(m, "q", NULL, &d), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_model_score(NULL, "q", "t", &d), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_model_score(m, "q", "t", NULL), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_model_embed_query(m, NULL, &h), ANTHEM_EINVAL);
	ck_assert_int_eq(anthem_model_embed_products(m, titles, 2, v),
			 ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "titles[1]"));
	/* hostile text: long, binary, empty */
	size_t n = 100000;
	char *big = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(1 + i * 7919 % 255);
	big[n] = '\0';
	ck_assert_int_eq(anthem_model_score(m, big, big, &d), ANTHEM_OK);
	ck_assert(isfinite(d));
	ck_assert_int_eq(anthem_model_score(m, "", "", &d), ANTHEM_OK);
	ck_assert(isfinite(d));
	free(big);
	anthem_model_free(m);
}
END_TEST

/* ---- one model, many threads ---------------------------------------------------- */

typedef struct job {
	const anthem_model *m;
	float out[16];
} job;

static const char *const tq[4] = {"fire tv", "kindle", "mouse pad", "tea"};
static const char *const tt[4] = {"fire tv stick 4k", "kindle paperwhite",
				  "gaming mouse pad xl", "green tea 100 bags"};

static void *score_all(void *arg)
{
	job *j = arg;
	for (int rep = 0; rep < 5; rep++)
		for (int a = 0; a < 4; a++)
			for (int b = 0; b < 4; b++)
				if (anthem_model_score(j->m, tq[a], tt[b],
						       &j->out[a * 4 + b]))
					return NULL;
	return arg;
}

START_TEST(concurrent_scoring_is_consistent)
{
	anthem_model *m = new_model(ANTHEM_GEOMETRY_HYPERBOLIC, 16, 4096);
	job one = {m, {0}}, many[4];
	ck_assert_ptr_nonnull(score_all(&one));
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		many[i].m = m;
		ck_assert_int_eq(pthread_create(&th[i], NULL, score_all, &many[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *r;
		ck_assert_int_eq(pthread_join(th[i], &r), 0);
		ck_assert_ptr_nonnull(r);
		ck_assert_mem_eq(many[i].out, one.out, sizeof one.out);
	}
	anthem_model_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("network");
	TCase *t = tcase_create("trigrams");
	tcase_add_test(t, trigrams_follow_the_spec);
	tcase_add_test(t, trigram_hash_is_seeded_and_bounded);
	tcase_add_test(t, trigram_and_word_ids_are_the_spec);
	suite_add_tcase(s, t);
	t = tcase_create("model");
	tcase_add_test(t, config_is_validated);
	tcase_add_test(t, geometries_give_different_scores);
	tcase_add_test(t, euclidean_score_by_hand);
	tcase_add_test(t, stage1_matches_training_graph);
	tcase_add_test(t, pruned_stage2_is_stage2_of_the_kept_elements);
	tcase_add_test(t, explanation_grid);
	tcase_add_test(t, bad_arguments_are_errors);
	tcase_add_test(t, concurrent_scoring_is_consistent);
	tcase_set_timeout(t, 120);
	suite_add_tcase(s, t);
	return run_suite(s);
}
