/* The lexical term (docs/network.md, step 8): word tokens, BM25 against a
 * hand-computed case, postings against the per-title score, the learned
 * weight's gradient against central differences, the term in every
 * scoring path, file round trip, and stage 1 finding a title by its
 * words alone. */
#include "layers/lexical.h"
#include "model/model_internal.h"
#include "model/modelfile.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"

static anthem_model *lex_model(anthem_geometry g, size_t dim)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.geometry = g;
	cfg.dim = dim;
	cfg.buckets = 4096;
	cfg.lexical_buckets = 1u << 16;
	anthem_model *m = NULL;
	ck_assert_msg(anthem_model_create(&m, &cfg) == ANTHEM_OK, "%s",
		      anthem_last_error());
	return m;
}

static uint32_t word_id(const anthem_model *m, const char *w)
{
	size_t pos = 0;
	uint32_t id = 0;
	ck_assert(ath_word_next(w, &pos, ath_lex_seed(&m->cfg),
				m->cfg.lexical_buckets, &id));
	return id;
}

START_TEST(words_are_split_lowercased_and_hashed)
{
	anthem_model *m = lex_model(ANTHEM_GEOMETRY_HYPERBOLIC, 4);
	const char *text = "  Hat, chapeau: a HAT's brim_2 caf\xc3\xa9";
	const char *want[] = {"hat", "chapeau", "a", "hat", "s", "brim", "2",
			      "caf\xc3\xa9"};
	size_t pos = 0, n = 0;
	uint32_t id;
	uint64_t seed = ath_lex_seed(&m->cfg);
	while (ath_word_next(text, &pos, seed, m->cfg.lexical_buckets, &id)) {
		ck_assert_uint_lt(n, 8);
		ck_assert_uint_eq(id, word_id(m, want[n]));
		ck_assert_uint_lt(id, m->cfg.lexical_buckets);
		n++;
	}
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(word_id(m, "HAT"), word_id(m, "hat"));
	ck_assert_uint_ne(word_id(m, "hat"), word_id(m, "chapeau"));
	/* the trigram hash seed and the words' differ */
	ck_assert(ath_lex_seed(&m->cfg) != m->cfg.hash_seed);
	/* a long word: hashed whole, case-folded */
	char a[80], b[80];
	memset(a, 'a', 70);
	a[70] = 0;
	memset(b, 'A', 70);
	b[70] = 0;
	ck_assert_uint_eq(word_id(m, a), word_id(m, b));
	a[69] = 0;
	ck_assert_uint_ne(word_id(m, a), word_id(m, b));
	/* no word at all */
	pos = 0;
	ck_assert(!ath_word_next(" ,;: ", &pos, seed, 1024, &id));
	anthem_model_free(m);
}
END_TEST

/* Three titles, fitted: N = 3, lengths 2, 5, 2 (mean 3), df(red) =
 * df(hat) = 2, so idf = log(1 + (3 - 2 + 0.5) / (2 + 0.5)) = log 1.6 for
 * both words.  For "red hat", title 0 (dl 2): each word tf 1, term =
 * idf * 2.2 / (1 + 1.2 (0.25 + 0.75 * 2/3)) = idf * 2.2 / 1.9; title 1
 * (dl 5): idf * 2.2 / (1 + 1.2 (0.25 + 0.75 * 5/3)) = idf * 2.2 / 2.8;
 * title 2 shares no word. */
START_TEST(bm25_by_hand)
{
	anthem_model *m = lex_model(ANTHEM_GEOMETRY_EUCLIDEAN, 4);
	const char *titles[3] = {"red hat", "blue hat with red band",
				 "green shoe"};
	const char *words[] = {"red", "hat", "blue", "with", "band", "green",
			       "shoe"};
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < i; k++)
			ck_assert_uint_ne(word_id(m, words[i]), word_id(m, words[k]));
	ath_postings p;
	ck_assert_int_eq(ath_postings_build(&p, &m->cfg, titles, 3, "test"), 0);
	ath_lex_fit(&p, m->params);
	ck_assert_float_eq_tol(m->params[P_LEX_AVGDL].val[0], 3.0f, 1e-6f);
	double idf = log(1.6);
	ck_assert_float_eq_tol(m->params[P_LEX_IDF].val[word_id(m, "red")],
			       idf, 1e-6);
	ck_assert_float_eq_tol(m->params[P_LEX_IDF].val[word_id(m, "blue")],
			       log(1.0 + 2.5 / 1.5), 1e-6);
	ath_lexq q;
	ath_lex_query(&m->cfg, m->params, "Red hat red", &q);
	ck_assert_uint_eq(q.n, 2); /* distinct words */
	double want[3] = {2 * idf * 2.2 / 1.9, 2 * idf * 2.2 / 2.8, 0.0};
	float acc[3] = {0, 0, 0};
	ath_postings_scores(&p, m->params, &q, acc);
	for (int i = 0; i < 3; i++) {
		float s = ath_lex_title(&m->cfg, m->params, &q, titles[i]);
		ck_assert_float_eq_tol(s, want[i], 1e-6);
		ck_assert_float_eq(acc[i], s); /* the same sums, to the bit */
	}
	/* repeated words count: "hat hat" in a title of 2 words */
	ath_lexq h;
	ath_lex_query(&m->cfg, m->params, "hat", &h);
	ck_assert_float_eq_tol(ath_lex_title(&m->cfg, m->params, &h, "hat hat"),
			       idf * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 2.0 / 3.0)),
			       1e-6);
	ath_postings_free(&p);
	anthem_model_free(m);
}
END_TEST

/* The fixture's catalogue, its titles, and m's lexical statistics fitted
 * on them (p keeps the postings). */
static const char **fixture_titles(anthem_model *m, anthem_catalog **c,
				   size_t *n, ath_postings *p)
{
	ck_assert_int_eq(anthem_catalog_load(c, FIXTURE_DIR "/catalog.tsv", 0), 0);
	*n = anthem_catalog_count(*c);
	const char **titles = malloc(*n * sizeof *titles);
	for (size_t i = 0; i < *n; i++)
		titles[i] = anthem_catalog_title(*c, i);
	ck_assert_int_eq(ath_postings_build(p, &m->cfg, titles, *n, "test"), 0);
	ath_lex_fit(p, m->params);
	return titles;
}

/* The postings of the fixture's catalogue give every title the score
 * ath_lex_title gives it, for a few queries; the sparse postings (the
 * pipeline's lexical source for one text) hold exactly the titles of
 * positive score, ascending, each with the float the dense sum gives it,
 * repeated query words counted again, as there. */
START_TEST(postings_match_titles)
{
	anthem_model *m = lex_model(ANTHEM_GEOMETRY_HYPERBOLIC, 4);
	anthem_catalog *c;
	size_t n;
	ath_postings p;
	const char **titles = fixture_titles(m, &c, &n, &p);
	float *acc = malloc(n * sizeof *acc);
	const char *queries[] = {"hat", "garment worn", "blue jean",
				 "blue jean jean", "worn garment hat of", "zzz", ""};
	for (int k = 0; k < 7; k++) {
		ath_lexq q;
		ath_lex_query(&m->cfg, m->params, queries[k], &q);
		memset(acc, 0, n * sizeof *acc);
		ath_postings_scores(&p, m->params, &q, acc);
		size_t cap = ath_postings_count(&p, &q) + 1;
		uint32_t *doc = malloc(cap * sizeof *doc), *tdoc = malloc(cap * sizeof *tdoc);
		float *val = malloc(cap * sizeof *val), *tval = malloc(cap * sizeof *tval);
		size_t ns = ath_postings_sparse(&p, m->params, &q, doc, val, tdoc, tval);
		size_t hits = 0;
		for (size_t i = 0; i < n; i++) {
			ck_assert_float_eq(acc[i], ath_lex_title(&m->cfg, m->params,
								 &q, titles[i]));
			if (acc[i] == 0.0f)
				continue;
			ck_assert_uint_lt(hits, ns);
			ck_assert_uint_eq(doc[hits], i);
			ck_assert(memcmp(&val[hits], &acc[i], sizeof(float)) == 0);
			hits++;
		}
		ck_assert_uint_eq(ns, hits);
		ck_assert_uint_le(ns, cap - 1);
		if (k < 5)
			ck_assert_uint_gt(hits, 0);
		else
			ck_assert_uint_eq(hits, 0);
		free(doc);
		free(tdoc);
		free(val);
		free(tval);
	}
	free(acc);
	free(titles);
	ath_postings_free(&p);
	anthem_catalog_free(c);
	anthem_model_free(m);
}
END_TEST

/* loss of (query, titles) with the term, on a tape without gradients */
static double loss_at(anthem_model *m, ag_param *params, const char *query,
		      const char *const *titles, const float *lex, size_t n)
{
	uint32_t q[64], tid[4][1024];
	const uint32_t *tp[4] = {tid[0], tid[1], tid[2], tid[3]};
	size_t T[4], L = ath_model_tokens(m, query, 0, q, NULL);
	for (size_t k = 0; k < n; k++)
		T[k] = ath_model_tokens(m, titles[k], 1, tid[k], NULL);
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	ath_query aq;
	ath_net_query(&t, &m->cfg, params, q, L, &aq);
	ag_node *l = ath_net_loss_query(&t, &m->cfg, params, &aq, tp, T, lex, n,
					3.0f, NULL, NULL);
	double v = l->val[0];
	ag_tape_free(&t);
	return v;
}

START_TEST(weight_gradient_matches_differences)
{
	const anthem_geometry g[2] = {ANTHEM_GEOMETRY_HYPERBOLIC,
				      ANTHEM_GEOMETRY_VECTOR};
	const char *titles[3] = {"red wool hat", "blue shoe", "green hat band"};
	const float lex[3] = {2.5f, 0.0f, 1.25f};
	for (int gi = 0; gi < 2; gi++) {
		anthem_model *m = lex_model(g[gi], 8);
		float *grad = calloc(m->nweights, sizeof(float));
		ag_param params[P_COUNT];
		ath_params_bind(&m->cfg, m->weights, grad, params);
		params[P_LEX_W].val[0] = 0.3f;
		uint32_t q[64], tid[3][1024];
		const uint32_t *tp[3] = {tid[0], tid[1], tid[2]};
		size_t T[3], L = ath_model_tokens(m, "red hat", 0, q, NULL);
		for (int k = 0; k < 3; k++)
			T[k] = ath_model_tokens(m, titles[k], 1, tid[k], NULL);
		ag_tape t;
		ag_tape_init(&t, &m->space, 1);
		ath_query aq;
		ath_net_query(&t, &m->cfg, params, q, L, &aq);
		ag_node *l = ath_net_loss_query(&t, &m->cfg, params, &aq, tp, T,
						lex, 3, 3.0f, NULL, NULL);
		ag_backward(&t, l);
		double an = params[P_LEX_W].grad[0];
		ag_tape_free(&t);
		double h = 1e-3, w = params[P_LEX_W].val[0];
		params[P_LEX_W].val[0] = (float)(w + h);
		double up = loss_at(m, params, "red hat", titles, lex, 3);
		params[P_LEX_W].val[0] = (float)(w - h);
		double dn = loss_at(m, params, "red hat", titles, lex, 3);
		params[P_LEX_W].val[0] = (float)w;
		double fd = (up - dn) / (2 * h);
		ck_assert_msg(fabs(an - fd) <= 2e-3 * fmax(1.0, fabs(fd)),
			      "geometry %d: analytic %g, differences %g", gi, an, fd);
		/* the positive has the most words in common: raising w lowers
		 * the loss */
		ck_assert(an < 0.0);
		/* without lex values the weight gets no gradient */
		memset(grad, 0, m->nweights * sizeof(float));
		ag_tape_init(&t, &m->space, 1);
		ath_net_query(&t, &m->cfg, params, q, L, &aq);
		l = ath_net_loss_query(&t, &m->cfg, params, &aq, tp, T, NULL, 3,
				       3.0f, NULL, NULL);
		ag_backward(&t, l);
		ck_assert_float_eq(params[P_LEX_W].grad[0], 0.0f);
		ag_tape_free(&t);
		free(grad);
		anthem_model_free(m);
	}
}
END_TEST

/* Every scoring path subtracts w * BM25: the model's score, anthem_score
 * over an index, the explanation's distance; a model saved and loaded
 * keeps the term; stage 1 finds a title by its words alone. */
START_TEST(term_in_every_path)
{
	anthem_model *m = lex_model(ANTHEM_GEOMETRY_HYPERBOLIC, 8);
	anthem_catalog *c;
	size_t n;
	ath_postings p;
	const char **titles = fixture_titles(m, &c, &n, &p);
	ath_postings_free(&p);
	/* a title whose words no other title has */
	size_t target = n;
	for (size_t i = 0; i < n && target == n; i++)
		if (strstr(titles[i], "academic gown"))
			target = i;
	ck_assert_uint_lt(target, n);
	const char *query = "academic gown";
	ath_lexq q;
	ath_lex_query(&m->cfg, m->params, query, &q);
	float bm = ath_lex_title(&m->cfg, m->params, &q, titles[target]);
	ck_assert(bm > 0.0f);

	float w0 = m->params[P_LEX_W].val[0], d_w, d_0;
	ck_assert_float_eq(anthem_model_lexical_weight(m), w0);
	ck_assert(isnan(anthem_model_lexical_weight(NULL)));
	ck_assert_int_eq(anthem_model_score(m, query, titles[target], &d_w), 0);
	m->params[P_LEX_W].val[0] = 0.0f;
	ck_assert_int_eq(anthem_model_score(m, query, titles[target], &d_0), 0);
	m->params[P_LEX_W].val[0] = w0;
	ck_assert_float_eq(d_w, d_0 - w0 * bm);

	/* a weight that makes the word match decide: stage 1 must bring
	 * the title in even with k1 = 3 and an untrained geometry */
	m->params[P_LEX_W].val[0] = 100.0f;
	m->fingerprint = ath_model_fingerprint_compute(m);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, m, c, 1), 0);
	anthem_hit hits[3];
	size_t nh;
	ck_assert_int_eq(anthem_search(m, ix, query, 3, 3, hits, &nh), 0);
	ck_assert_uint_eq(nh, 3);
	ck_assert_uint_eq(hits[0].index, target);
	float d2, ds;
	ck_assert_int_eq(anthem_model_score(m, query, titles[target], &d2), 0);
	ck_assert_int_eq(anthem_score(m, ix, query, &target, 1, &ds), 0);
	ck_assert_float_eq(ds, d2);
	ck_assert_float_eq(hits[0].distance, d2);
	anthem_explanation *e;
	ck_assert_int_eq(anthem_model_explain(m, query, titles[target], &e), 0);
	ck_assert_float_eq(anthem_explanation_distance(e), d2);
	anthem_explanation_free(e);

	/* saved and loaded: the same distance; the index loaded with the
	 * model builds its postings, without it the titles are read */
	tmp_setup();
	ck_assert_int_eq(anthem_model_save(m, tmp_path("lex.model")), 0);
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("lex.index")), 0);
	anthem_model *l;
	ck_assert_int_eq(anthem_model_load(&l, tmp_path("lex.model")), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	anthem_model_get_config(l, &cfg);
	ck_assert_uint_eq(cfg.lexical_buckets, 1u << 16);
	ck_assert_float_eq(anthem_model_lexical_weight(l), 100.0f);
	float dl;
	ck_assert_int_eq(anthem_model_score(l, query, titles[target], &dl), 0);
	ck_assert_float_eq(dl, d2);
	anthem_hit without[5][20];
	size_t nwithout[5];
	const char *more[] = {"hat", "garment worn", "blue jean jean", "zzz",
			      "a hat of wool"};
	for (int with = 0; with < 2; with++) {
		anthem_index *lx;
		ck_assert_int_eq(anthem_index_load(&lx, tmp_path("lex.index"),
						   with ? l : NULL), 0);
		anthem_hit h2[3];
		ck_assert_int_eq(anthem_search(l, lx, query, 3, 3, h2, &nh), 0);
		ck_assert_uint_eq(h2[0].index, target);
		ck_assert_float_eq(h2[0].distance, d2);
		/* the lexical source from the postings (sparse) and from
		 * every title (dense): the same candidates, ties and floats,
		 * stage 1 and whole */
		for (int qi = 0; qi < 5; qi++) {
			anthem_search_options o;
			anthem_search_options_init(&o);
			o.k = 20;
			o.k1 = 8;
			o.stage1_only = qi % 2;
			anthem_hit h[20];
			size_t nq;
			ck_assert_int_eq(anthem_search_ex(l, lx, more[qi], &o, h, &nq), 0);
			if (!with) {
				memcpy(without[qi], h, sizeof h);
				nwithout[qi] = nq;
				continue;
			}
			ck_assert_uint_eq(nq, nwithout[qi]);
			for (size_t i = 0; i < nq; i++) {
				ck_assert_uint_eq(h[i].index, without[qi][i].index);
				ck_assert(memcmp(&h[i].distance, &without[qi][i].distance,
						 sizeof(float)) == 0);
			}
		}
		anthem_index_free(lx);
	}
	/* a mean title length of 0 would divide by zero: refused at load */
	float avg = m->params[P_LEX_AVGDL].val[0];
	m->params[P_LEX_AVGDL].val[0] = 0.0f;
	/* the writer applies the loader's bounds: not written... */
	ck_assert_int_eq(anthem_model_save(m, tmp_path("bad.model")),
			 ANTHEM_EFORMAT);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "lexical_avgdl"));
	/* ...so the file is made by the container writer itself */
	ath_kv kv[16];
	ath_tensor tt[P_COUNT];
	size_t nkv = ath_model_kvs(m, kv), ntt = ath_model_tensors(m, tt);
	ck_assert_int_eq(ath_container_write(tmp_path("bad.model"),
					     ath_model_magic, kv, nkv, tt, ntt,
					     "test"), 0);
	m->params[P_LEX_AVGDL].val[0] = avg;
	anthem_model *bad = NULL;
	ck_assert_int_eq(anthem_model_load(&bad, tmp_path("bad.model")),
			 ANTHEM_EFORMAT);
	ck_assert_ptr_null(bad);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "lexical_avgdl"));
	tmp_teardown();

	anthem_model_free(l);
	anthem_index_free(ix);
	free(titles);
	anthem_catalog_free(c);
	anthem_model_free(m);
}
END_TEST

static int record_weight(const anthem_train_progress *p, void *user)
{
	if (p->epoch_done)
		*(double *)user = p->lexical_weight;
	return 0;
}

/* Training fits the catalogue's statistics, and each epoch chooses w on
 * held-out queries from the grid of docs/network.md step 8 and reports
 * it. */
START_TEST(training_fits_and_chooses_the_weight)
{
	anthem_catalog *c;
	anthem_judgments *j;
	ck_assert_int_eq(anthem_catalog_load(&c, FIXTURE_DIR "/catalog.tsv", 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&j, FIXTURE_DIR "/train.tsv", c, 0), 0);
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 4096;
	cfg.lexical_buckets = 1u << 14;
	anthem_train_options o;
	anthem_train_options_init(&o);
	o.epochs = 1;
	o.epoch_examples = 2000;
	o.threads = 2;
	double reported = -1.0;
	o.progress = record_weight;
	o.progress_user = &reported;
	anthem_trainer *t;
	ck_assert_msg(anthem_trainer_create(&t, &cfg, c, j, &o) == 0, "%s",
		      anthem_last_error());
	ck_assert_int_eq(anthem_trainer_run(t), 0);
	const anthem_model *m = anthem_trainer_model(t);
	/* the mean title length of the catalogue, in words */
	double words = 0.0;
	size_t n = anthem_catalog_count(c);
	for (size_t i = 0; i < n; i++) {
		size_t pos = 0;
		uint32_t id;
		while (ath_word_next(anthem_catalog_title(c, i), &pos, 1, 7, &id))
			words++;
	}
	ck_assert_float_eq_tol(m->params[P_LEX_AVGDL].val[0], words / (double)n,
			       1e-4);
	float w = m->params[P_LEX_W].val[0];
	ck_assert_float_eq(reported, w);
	const float grid[] = {0.02f, 0.05f, 0.1f, 0.15f, 0.2f, 0.3f, 0.5f,
			      1.0f, 2.0f};
	int on_grid = 0;
	for (size_t g = 0; g < sizeof grid / sizeof grid[0]; g++)
		on_grid |= w == grid[g];
	ck_assert_msg(on_grid, "weight %g is not a grid value", w);
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lexical");
	TCase *t = tcase_create("lexical");
	tcase_set_timeout(t, 120);
	tcase_add_test(t, words_are_split_lowercased_and_hashed);
	tcase_add_test(t, bm25_by_hand);
	tcase_add_test(t, postings_match_titles);
	tcase_add_test(t, weight_gradient_matches_differences);
	tcase_add_test(t, term_in_every_path);
	tcase_add_test(t, training_fits_and_chooses_the_weight);
	suite_add_tcase(s, t);
	return run_suite(s);
}
