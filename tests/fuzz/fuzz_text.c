/* Fuzz target "text": the tokenizer and the network on arbitrary bytes.
 *
 * Four small models are created once (dim 8, 1024 buckets): hyperbolic,
 * euclidean, vector, and hyperbolic with its own title table and the
 * largest trigram cuts.  The first byte picks one.  The input, as a
 * NUL-terminated string, is the query; the bytes after its first 0x00 (or
 * the input again) are the title.  Explain, score (both ways round), embed
 * the query and the title: each must succeed on any text, and the outputs
 * must agree with include/anthem/model.h (an explanation's distance is the
 * score, to the bit; its rows sum to 1; a distance is >= 0). */
#include "fuzz.h"

#include <math.h>

#define NMODELS 4
#define DIM 8

static anthem_model *models[NMODELS];
static anthem_model_config configs[NMODELS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static const anthem_geometry geo[NMODELS] = {
		ANTHEM_GEOMETRY_HYPERBOLIC, ANTHEM_GEOMETRY_EUCLIDEAN,
		ANTHEM_GEOMETRY_VECTOR, ANTHEM_GEOMETRY_HYPERBOLIC};
	for (int i = 0; i < NMODELS; i++) {
		anthem_model_config *c = &configs[i];
		anthem_model_config_init(c);
		c->geometry = geo[i];
		c->dim = DIM;
		c->buckets = 1024;
		c->seed = 7 + (uint64_t)i;
		if (i == 3) {
			c->tie_embeddings = 0;
			c->curvature = 0.5f;
			c->max_query_trigrams = 64;
			c->max_title_trigrams = 1024;
		}
		if (anthem_model_create(&models[i], c) != ANTHEM_OK) {
			fprintf(stderr, "fuzz_text: anthem_model_create: %s\n",
				anthem_last_error());
			abort();
		}
	}
	return 0;
}

static float score(const anthem_model *m, const char *q, const char *t)
{
	float d = NAN;
	fz_begin();
	if (fz_status(anthem_model_score(m, q, t, &d), "anthem_model_score"))
		fz_fail("anthem_model_score fails on valid arguments");
	if (!(d >= 0.0f))
		fz_fail("anthem_model_score gives %g (a distance is >= 0)", d);
	return d;
}

static void explain(const anthem_model *m, const anthem_model_config *c,
		    const char *q, const char *t)
{
	anthem_explanation *e = NULL;
	fz_begin();
	if (fz_status(anthem_model_explain(m, q, t, &e),
		      "anthem_model_explain") || !e)
		fz_fail("anthem_model_explain fails on valid arguments");
	size_t rows = anthem_explanation_rows(e), cols = anthem_explanation_cols(e);
	if (rows < 1 || rows > c->max_query_trigrams || cols < 1 ||
	    cols > c->max_title_trigrams)
		fz_fail("explanation is %zu x %zu (cuts %zu, %zu)", rows, cols,
			c->max_query_trigrams, c->max_title_trigrams);
	for (size_t r = 0; r < rows; r++) {
		const char *lab = anthem_explanation_row_label(e, r);
		if (!lab || strlen(lab) > 3)
			fz_fail("row label %zu is not a trigram", r);
	}
	for (size_t k = 0; k < cols; k++) {
		const char *lab = anthem_explanation_col_label(e, k);
		if (!lab || strlen(lab) > 3)
			fz_fail("column label %zu is not a trigram", k);
	}
	if (anthem_explanation_row_label(e, rows) ||
	    anthem_explanation_col_label(e, cols))
		fz_fail("explanation label past the end is not NULL");
	const float *w = anthem_explanation_weights(e);
	for (size_t r = 0; r < rows; r++) {
		double sum = 0.0;
		for (size_t k = 0; k < cols; k++) {
			float x = w[r * cols + k];
			if (!(x >= 0.0f && x <= 1.0f))
				fz_fail("weight (%zu, %zu) is %g", r, k, x);
			sum += x;
		}
		if (fabs(sum - 1.0) > 1e-3)
			fz_fail("explanation row %zu sums to %g, not 1", r, sum);
	}
	float d = anthem_explanation_distance(e);
	float s = score(m, q, t);
	if (!fz_same_float(d, s))
		fz_fail("explanation distance %.9g differs from the score %.9g",
			d, s);
	anthem_explanation_free(e);
}

static void embed(const anthem_model *m, const anthem_model_config *c,
		  const char *q, const char *t)
{
	anthem_hyperboloid *h = NULL;
	fz_begin();
	if (fz_status(anthem_model_embed_query(m, q, &h),
		      "anthem_model_embed_query") || !h)
		fz_fail("anthem_model_embed_query fails on valid arguments");
	if (anthem_hyperboloid_dim(h) != DIM ||
	    anthem_hyperboloid_geometry(h) != c->geometry ||
	    anthem_hyperboloid_branch_count(h) != 1 ||
	    anthem_hyperboloid_term_count(h, 0) != 1)
		fz_fail("the embedded query is not one simple hyperboloid of "
			"the model's space");
	float v[DIM];
	fz_begin();
	if (fz_status(anthem_model_embed_products(m, &t, 1, v),
		      "anthem_model_embed_products"))
		fz_fail("anthem_model_embed_products fails on valid arguments");
	for (int i = 0; i < DIM; i++)
		if (!isfinite(v[i]))
			fz_fail("product point[%d] is %g", i, v[i]);
	float d = NAN;
	fz_begin();
	if (fz_status(anthem_hyperboloid_distance(h, v, DIM, c->gamma, &d),
		      "anthem_hyperboloid_distance"))
		fz_fail("stage-1 distance of a product point fails");
	if (!(d >= 0.0f))
		fz_fail("stage-1 distance is %g", d);
	anthem_hyperboloid_free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int which = size ? data[0] % NMODELS : 0;
	const anthem_model *m = models[which];
	const anthem_model_config *c = &configs[which];
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	const char *q = text, *t = text;
	const uint8_t *zero = memchr(data, 0, size);
	if (zero)
		t = text + (zero - data) + 1;

	explain(m, c, q, t); /* and score(q, t), which it must equal */
	if (t != q)
		score(m, t, q);
	embed(m, c, q, t);
	free(text);
	return 0;
}
