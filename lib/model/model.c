/* anthem_model: configuration, weights, and the read-only entry points
 * (score, embed, explain).  Every call builds its graph on a tape of its
 * own, so concurrent calls on one model share nothing but the weights. */
#include "model/model_internal.h"

#include "common/hash.h"
#include "common/internal.h"
#include "io/container.h"
#include "layers/lexical.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERY_TRIGRAMS 64
#define MAX_TITLE_TRIGRAMS 1024
#define MAX_BUCKETS ((size_t)1 << 31)

int anthem_model_config_init_size(anthem_model_config *dst, size_t size)
{
	anthem_model_config full, *cfg = &full;
	memset(cfg, 0, sizeof *cfg);
	cfg->geometry = ANTHEM_GEOMETRY_HYPERBOLIC;
	cfg->dim = 32;
	cfg->curvature = 1.0f;
	cfg->buckets = (size_t)1 << 18;
	cfg->gamma = 0.5f;
	cfg->seed = 1;
	cfg->hash_seed = 0x616e7468656d3031ULL; /* "anthem01" */
	cfg->max_query_trigrams = 28;
	cfg->max_title_trigrams = 100;
	cfg->tie_embeddings = 1;
	cfg->tokenizer = ANTHEM_TOKENIZER_UNICODE_V1;
	return ath_init_struct(dst, size, cfg, sizeof *cfg,
			       "anthem_model_config_init");
}

int ath_config_check(const anthem_model_config *in, anthem_model_config *out,
		     const char *fn)
{
	ATH_CHECK_ARG(in, fn, "cfg");
	/* fields the caller's (older) struct lacks keep their defaults */
	anthem_model_config_init(out);
	int rc = ath_read_options(out, sizeof *out, in, "anthem_model_config",
				  fn);
	if (rc)
		return rc;
	const anthem_model_config *c = out;
	if (c->geometry != ANTHEM_GEOMETRY_HYPERBOLIC &&
	    c->geometry != ANTHEM_GEOMETRY_EUCLIDEAN &&
	    c->geometry != ANTHEM_GEOMETRY_VECTOR)
		return ath_error(ANTHEM_EINVAL, "%s: geometry %d is unknown", fn,
				 (int)c->geometry);
	if (c->dim < 1 || c->dim > ANTHEM_MAX_DIM)
		return ath_error(ANTHEM_ERANGE, "%s: dim is %zu, must be 1 to %d",
				 fn, c->dim, ANTHEM_MAX_DIM);
	if (c->geometry == ANTHEM_GEOMETRY_HYPERBOLIC &&
	    !(isfinite(c->curvature) && c->curvature > 0.0f))
		return ath_error(ANTHEM_EINVAL,
				 "%s: curvature is %g, must be finite and > 0",
				 fn, c->curvature);
	/* flat space ignores it, but it is saved and fingerprinted */
	if (!isfinite(c->curvature))
		return ath_error(ANTHEM_EINVAL, "%s: curvature is %g, must be "
				 "finite", fn, c->curvature);
	if (c->buckets < 1 || c->buckets > MAX_BUCKETS)
		return ath_error(ANTHEM_ERANGE,
				 "%s: buckets is %zu, must be 1 to %zu", fn,
				 c->buckets, MAX_BUCKETS);
	if (!(isfinite(c->gamma) && c->gamma >= 0.0f))
		return ath_error(ANTHEM_EINVAL,
				 "%s: gamma is %g, must be finite and >= 0", fn,
				 c->gamma);
	if (c->max_query_trigrams < 1 ||
	    c->max_query_trigrams > MAX_QUERY_TRIGRAMS)
		return ath_error(ANTHEM_ERANGE,
				 "%s: max_query_trigrams is %zu, must be 1 to %d",
				 fn, c->max_query_trigrams, MAX_QUERY_TRIGRAMS);
	if (c->max_title_trigrams < 1 ||
	    c->max_title_trigrams > MAX_TITLE_TRIGRAMS)
		return ath_error(ANTHEM_ERANGE,
				 "%s: max_title_trigrams is %zu, must be 1 to %d",
				 fn, c->max_title_trigrams, MAX_TITLE_TRIGRAMS);
	if (c->tie_embeddings != 0 && c->tie_embeddings != 1)
		return ath_error(ANTHEM_EINVAL, "%s: tie_embeddings is %d, must "
				 "be 0 or 1", fn, c->tie_embeddings);
	if (c->lexical_buckets > MAX_BUCKETS)
		return ath_error(ANTHEM_ERANGE, "%s: lexical_buckets is %zu, "
				 "must be 0 to %zu", fn, c->lexical_buckets,
				 MAX_BUCKETS);
	if (c->tokenizer != ANTHEM_TOKENIZER_BYTES_V1 &&
	    c->tokenizer != ANTHEM_TOKENIZER_UNICODE_V1)
		return ath_error(ANTHEM_EINVAL, "%s: tokenizer is %d, must be "
				 "%d (bytes-v1) or %d (unicode-v1)", fn,
				 (int)c->tokenizer, ANTHEM_TOKENIZER_BYTES_V1,
				 ANTHEM_TOKENIZER_UNICODE_V1);
	if (c->title_buckets > MAX_BUCKETS ||
	    (c->title_buckets && c->tie_embeddings))
		return ath_error(ANTHEM_ERANGE, "%s: title_buckets is %zu, must "
				 "be 0, or 1 to %zu with tie_embeddings 0", fn,
				 c->title_buckets, MAX_BUCKETS);
	if (c->product_token != 0 && c->product_token != 1)
		return ath_error(ANTHEM_EINVAL, "%s: product_token is %d, must "
				 "be 0 or 1", fn, c->product_token);
	size_t tcells;
	if (ath_mul_overflow(ath_title_buckets(c), c->dim, &tcells) ||
	    tcells > ((size_t)-1) / (4 * sizeof(float)))
		return ath_error(ANTHEM_ERANGE, "%s: title_buckets x dim = %zu x "
				 "%zu is too large", fn, c->title_buckets,
				 c->dim);
	/* 3 tables of buckets x dim floats must be addressable */
	size_t cells;
	if (ath_mul_overflow(c->buckets, c->dim, &cells) ||
	    cells > ((size_t)-1) / (4 * sizeof(float)))
		return ath_error(ANTHEM_ERANGE,
				 "%s: buckets x dim = %zu x %zu is too large",
				 fn, c->buckets, c->dim);
	return ANTHEM_OK;
}

uint64_t ath_model_fingerprint_compute(const anthem_model *m)
{
	/* the configuration field by field (no padding bytes), then every
	 * parameter: equal models, created, trained, saved or loaded, have
	 * equal fingerprints */
	const anthem_model_config *c = &m->cfg;
	uint64_t fields[] = {(uint64_t)c->geometry, c->dim, c->buckets,
			     c->seed, c->hash_seed, c->max_query_trigrams,
			     c->max_title_trigrams, (uint64_t)c->tie_embeddings};
	float reals[] = {c->curvature, c->gamma};
	ath_hasher h;
	ath_hash_init(&h);
	ath_hash_feed(&h, fields, sizeof fields);
	ath_hash_feed(&h, reals, sizeof reals);
	if (c->lexical_buckets) { /* models without it keep their old value */
		uint64_t lb = c->lexical_buckets;
		ath_hash_feed(&h, &lb, sizeof lb);
	}
	if (c->tokenizer != ANTHEM_TOKENIZER_BYTES_V1) { /* likewise */
		uint64_t tk = 0x746f6b0000000000ULL | (uint64_t)c->tokenizer;
		ath_hash_feed(&h, &tk, sizeof tk);
	}
	if (c->title_buckets || c->product_token) { /* likewise */
		uint64_t ex[2] = {c->title_buckets, (uint64_t)c->product_token};
		ath_hash_feed(&h, ex, sizeof ex);
	}
	for (int i = 0; i < P_COUNT; i++)
		ath_hash_feed(&h, m->params[i].val,
			      m->params[i].rows * m->params[i].cols * sizeof(float));
	return ath_hash_done(&h);
}

int ath_model_wrap(anthem_model **out, const anthem_model_config *cfg,
		   const char *fn)
{
	anthem_model *m = calloc(1, sizeof *m);
	if (!m)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	m->cfg = *cfg;
	m->space = geo_space_of(cfg->geometry, cfg->curvature);
	m->nweights = ath_param_floats(cfg);
	ath_params_bind(cfg, NULL, NULL, m->params);
	*out = m;
	return ANTHEM_OK;
}

int ath_model_new(anthem_model **out, const anthem_model_config *cfg,
		  const char *fn)
{
	anthem_model *m;
	int rc = ath_model_wrap(&m, cfg, fn);
	if (rc)
		return rc;
	m->owned = ath_calloc_large(m->nweights, sizeof(float));
	if (!m->owned) {
		size_t n = m->nweights;
		free(m);
		return ath_error(ANTHEM_ENOMEM,
				 "%s: out of memory for %zu weights", fn, n);
	}
	m->weights = m->owned;
	ath_params_bind(cfg, m->owned, NULL, m->params);
	*out = m;
	return ANTHEM_OK;
}

int anthem_model_create(anthem_model **out, const anthem_model_config *cfg)
{
	static const char fn[] = "anthem_model_create";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	anthem_model_config c;
	int rc = ath_config_check(cfg, &c, fn);
	if (rc)
		return rc;
	anthem_model *m;
	if ((rc = ath_model_new(&m, &c, fn)))
		return rc;
	ath_params_init(&c, m->owned);
	m->fingerprint = ath_model_fingerprint_compute(m);
	*out = m;
	return ANTHEM_OK;
}

void anthem_model_free(anthem_model *m)
{
	if (!m)
		return;
	if (m->file) {
		ath_container_close(m->file);
		free(m->file);
	}
	free(m->owned);
	free(m);
}

int anthem_model_get_config(const anthem_model *m, anthem_model_config *cfg)
{
	static const char fn[] = "anthem_model_get_config";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(cfg, fn, "cfg");
	return ath_write_options(cfg, sizeof *cfg, &m->cfg,
				 "anthem_model_config", fn);
}

size_t anthem_model_dim(const anthem_model *m) { return m ? m->cfg.dim : 0; }

float anthem_model_gamma(const anthem_model *m)
{
	return m ? m->cfg.gamma : 0.0f;
}

float anthem_model_lexical_weight(const anthem_model *m)
{
	return m && ath_lex_on(&m->cfg) ? ath_lex_weight(&m->cfg, m->params)
					: NAN;
}

anthem_geometry anthem_model_geometry(const anthem_model *m)
{
	return m ? m->cfg.geometry : ANTHEM_GEOMETRY_HYPERBOLIC;
}

/* ---- read-only entry points -------------------------------------------------- */

size_t ath_model_tokens(const anthem_model *m, const char *text, int title,
			uint32_t *ids, ath_label *labels)
{
	const anthem_model_config *c = &m->cfg;
	size_t len = strlen(text);
	size_t nb = title ? ath_title_buckets(c) : c->buckets;
	size_t max = title ? c->max_title_trigrams : c->max_query_trigrams;
	size_t n = ath_text_trigrams((int)c->tokenizer, text, len, c->hash_seed,
				     nb, max, ids, labels);
	if (!title || !c->product_token)
		return n;
	/* the product token: the whole title's bytes, hashed as a trigram
	 * is (step 1) with its own seed ("prod"); it takes the last place
	 * when the title fills every one, and is not repeated */
	uint64_t h = ATH_FNV_BASIS ^ c->hash_seed ^ 0x70726f64ULL;
	for (size_t i = 0; i < len; i++)
		h = ath_fnv_step(h, (unsigned char)text[i]);
	uint32_t id = (uint32_t)(ath_hash_finish(h) % nb);
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return n;
	size_t at = n < max ? n : max - 1;
	ids[at] = id;
	if (labels)
		memcpy(labels[at], "[product]", sizeof "[product]");
	return at + 1;
}

float ath_model_lexical(const anthem_model *m, const char *query,
			const char *title)
{
	if (!ath_lex_on(&m->cfg))
		return 0.0f;
	ath_lexq q;
	ath_lex_query(&m->cfg, m->params, query, &q);
	return ath_lex_weight(&m->cfg, m->params) *
	       ath_lex_title(&m->cfg, m->params, &q, title);
}

/* The tape's parameters are the model's, read-only (no gradients). */
static ag_param *ro_params(const anthem_model *m)
{
	return (ag_param *)m->params;
}

typedef struct pair_graph {
	ath_query q;
	ath_title ti;
	ath_stage2 s2;
	ag_node *dist;
	float distance; /* dist less the lexical term (step 8) */
	size_t L, T;
	uint32_t qids[MAX_QUERY_TRIGRAMS], tids[MAX_TITLE_TRIGRAMS];
	ath_label qlab[MAX_QUERY_TRIGRAMS], tlab[MAX_TITLE_TRIGRAMS];
} pair_graph;

/* The full stage-2 graph of one (query, title) pair. */
static int pair_forward(const anthem_model *m, ag_tape *t, const char *query,
			const char *title, pair_graph *g, const char *fn)
{
	ATH_CHECK_ARG(query, fn, "query");
	ATH_CHECK_ARG(title, fn, "title");
	g->L = ath_model_tokens(m, query, 0, g->qids, g->qlab);
	g->T = ath_model_tokens(m, title, 1, g->tids, g->tlab);
	ath_net_query(t, &m->cfg, ro_params(m), g->qids, g->L, &g->q);
	ath_net_title(t, &m->cfg, ro_params(m), g->tids, g->T, &g->ti);
	g->dist = ath_net_stage2(t, &m->cfg, ro_params(m), &g->q, &g->ti, &g->s2);
	if (t->failed)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	g->distance = g->dist->val[0] - ath_model_lexical(m, query, title);
	return ANTHEM_OK;
}

int anthem_model_score(const anthem_model *m, const char *query,
		       const char *title, float *distance)
{
	static const char fn[] = "anthem_model_score";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(distance, fn, "distance");
	pair_graph *g = malloc(sizeof *g);
	if (!g)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	int rc = pair_forward(m, &t, query, title, g, fn);
	if (!rc)
		*distance = g->distance;
	ag_tape_free(&t);
	free(g);
	return rc;
}

int anthem_model_embed_query(const anthem_model *m, const char *query,
			     anthem_hyperboloid **out)
{
	static const char fn[] = "anthem_model_embed_query";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(query, fn, "query");
	uint32_t ids[MAX_QUERY_TRIGRAMS];
	size_t L = ath_model_tokens(m, query, 0, ids, NULL);
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	ath_query q;
	ath_net_query(&t, &m->cfg, ro_params(m), ids, L, &q);
	int rc;
	if (t.failed)
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	else
		rc = anthem_hyperboloid_create(out, m->cfg.geometry,
					       m->cfg.curvature, m->cfg.dim,
					       q.c1->val, q.l1->val);
	ag_tape_free(&t);
	return rc;
}

int anthem_model_embed_products(const anthem_model *m,
				const char *const *titles, size_t n,
				float *out)
{
	static const char fn[] = "anthem_model_embed_products";
	ATH_CHECK_ARG(m, fn, "m");
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(titles, fn, "titles");
	ATH_CHECK_ARG(out, fn, "out");
	uint32_t ids[MAX_TITLE_TRIGRAMS];
	size_t d = m->cfg.dim;
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	int rc = ANTHEM_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!titles[i]) {
			rc = ath_error(ANTHEM_EINVAL, "%s: titles[%zu] is NULL",
				       fn, i);
			break;
		}
		size_t T = ath_model_tokens(m, titles[i], 1, ids, NULL);
		ath_title ti;
		ath_net_title(&t, &m->cfg, ro_params(m), ids, T, &ti);
		if (t.failed)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		else
			memcpy(out + i * d, ti.v->val, d * sizeof(float));
		ag_tape_reset(&t);
	}
	ag_tape_free(&t);
	return rc;
}

/* ---- explanations ---------------------------------------------------------------- */

struct anthem_explanation {
	size_t rows, cols;
	float distance;
	ath_label *row_labels, *col_labels;
	float *w;
};

int anthem_model_explain(const anthem_model *m, const char *query,
			 const char *title, anthem_explanation **out)
{
	static const char fn[] = "anthem_model_explain";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(m, fn, "m");
	pair_graph *g = malloc(sizeof *g);
	if (!g)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	int rc = pair_forward(m, &t, query, title, g, fn);
	anthem_explanation *e = NULL;
	if (!rc) {
		size_t L = g->L, T = g->T;
		e = calloc(1, sizeof *e + L * T * sizeof(float) +
			   (L + T) * sizeof(ath_label));
		if (!e)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	if (e) {
		size_t L = g->L, T = g->T;
		e->rows = L;
		e->cols = T;
		e->distance = g->distance;
		e->w = (float *)(e + 1);
		e->row_labels = (ath_label *)(e->w + L * T);
		e->col_labels = e->row_labels + L;
		memcpy(e->row_labels, g->qlab, L * sizeof(ath_label));
		memcpy(e->col_labels, g->tlab, T * sizeof(ath_label));
		/* rows of softmax(A) for the L trigram elements (step 4) */
		ag_node *grid = ag_softmax(&t, g->s2.A);
		if (t.failed) {
			free(e);
			e = NULL;
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		} else {
			memcpy(e->w, grid->val, L * T * sizeof(float));
		}
	}
	*out = e;
	ag_tape_free(&t);
	free(g);
	return rc;
}

void anthem_explanation_free(anthem_explanation *e) { free(e); }

size_t anthem_explanation_rows(const anthem_explanation *e)
{
	return e ? e->rows : 0;
}

size_t anthem_explanation_cols(const anthem_explanation *e)
{
	return e ? e->cols : 0;
}

const char *anthem_explanation_row_label(const anthem_explanation *e,
					 size_t row)
{
	return e && row < e->rows ? e->row_labels[row] : NULL;
}

const char *anthem_explanation_col_label(const anthem_explanation *e,
					 size_t col)
{
	return e && col < e->cols ? e->col_labels[col] : NULL;
}

const float *anthem_explanation_weights(const anthem_explanation *e)
{
	return e ? e->w : NULL;
}

float anthem_explanation_distance(const anthem_explanation *e)
{
	return e ? e->distance : NAN;
}
