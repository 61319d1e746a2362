/* Fuzz target "text": the tokenizer and the network on arbitrary bytes.
 *
 * Four small models are created once (dim 8, 1024 buckets): hyperbolic,
 * euclidean, vector, and hyperbolic with its own title table and the
 * largest trigram cuts.  The first byte picks one.  The input, as a
 * NUL-terminated string, is the query; the bytes after its first 0x00 (or
 * the input again) are the title.  Explain, score (both ways round), embed
 * the query and the title: each must succeed on any text, and the outputs
 * must agree with include/anthem/model.h (an explanation's distance is the
 * score, to the bit; its rows sum to 1; a distance is >= 0).  The vector
 * model reads bytes-v1, the others unicode-v1, whose labels must be whole
 * code points (valid UTF-8, at most 12 bytes).
 *
 * Unlike the other targets it also calls the tokenizer inside the library
 * (lib/layers): the ASCII fast path of unicode-v1 must give exactly what
 * utf8proc gives for every character, trigrams and words alike. */
#include "fuzz.h"

#include "layers/lexical.h"

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
		if (geo[i] == ANTHEM_GEOMETRY_VECTOR)
			c->tokenizer = ANTHEM_TOKENIZER_BYTES_V1;
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

/* Is s well-formed UTF-8 (no overlong form, surrogate or code point past
 * U+10FFFF)? */
static int utf8_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : *p >= 0xc2 && *p <= 0xdf ? 2
			 : *p >= 0xe0 && *p <= 0xef ? 3
			 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
		if (!n)
			return 0;
		unsigned long cp = n == 1 ? *p : *p & (0x7f >> n);
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n;
	}
	return 1;
}

static void check_label(const anthem_model_config *c, const char *lab,
			const char *what, size_t i)
{
	if (!lab)
		fz_fail("%s label %zu is NULL", what, i);
	size_t n = strlen(lab);
	if (c->tokenizer == ANTHEM_TOKENIZER_BYTES_V1 ? n > 3
						       : n > 12 || !utf8_ok(lab))
		fz_fail("%s label %zu ('%s') is not a trigram of whole "
			"characters", what, i, lab);
}

/* unicode-v1's fast path against utf8proc for every character. */
static void fast_is_slow(const char *text, size_t len)
{
	static uint32_t a[1024], b[1024];
	static ath_label la[1024], lb[1024];
	size_t na = ath_text_trigrams(ATH_TOK_UNICODE, text, len, 3, 1u << 30,
				      1024, a, la);
	size_t nb = ath_text_trigrams(ATH_TOK_UNICODE_SLOW, text, len, 3,
				      1u << 30, 1024, b, lb);
	if (na != nb)
		fz_fail("unicode-v1: %zu trigrams, %zu through utf8proc", na, nb);
	for (size_t i = 0; i < na; i++) {
		if (a[i] != b[i] || strcmp(la[i], lb[i]) != 0)
			fz_fail("unicode-v1: trigram %zu '%s', through utf8proc "
				"'%s'", i, la[i], lb[i]);
		if (!utf8_ok(la[i]) || strlen(la[i]) > 12)
			fz_fail("unicode-v1: trigram %zu splits a character", i);
	}
	static ath_words wa, wb;
	ath_words_init(&wa, ATH_TOK_UNICODE, text, 5, 1u << 30);
	ath_words_init(&wb, ATH_TOK_UNICODE_SLOW, text, 5, 1u << 30);
	uint32_t ia, ib;
	for (size_t k = 0;; k++) {
		int ha = ath_words_next(&wa, &ia), hb = ath_words_next(&wb, &ib);
		if (ha != hb || (ha && ia != ib))
			fz_fail("unicode-v1: word %zu differs from utf8proc's", k);
		if (!ha)
			break;
	}
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
	for (size_t r = 0; r < rows; r++)
		check_label(c, anthem_explanation_row_label(e, r), "row", r);
	for (size_t k = 0; k < cols; k++)
		check_label(c, anthem_explanation_col_label(e, k), "column", k);
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

	fast_is_slow(q, strlen(q));
	if (t != q)
		fast_is_slow(t, strlen(t));
	explain(m, c, q, t); /* and score(q, t), which it must equal */
	if (t != q)
		score(m, t, q);
	embed(m, c, q, t);
	free(text);
	return 0;
}
