/* libanthem: the ANTHEM network (docs/network.md). */
#ifndef ANTHEM_MODEL_H
#define ANTHEM_MODEL_H

#include <anthem/common.h>
#include <anthem/hyperboloid.h>

#include <stdint.h>

ANTHEM_BEGIN_DECLS

/* A model: configuration and weights.  Scoring, embedding and explaining
 * only read it, so one model may serve many threads at once. */
typedef struct anthem_model anthem_model;

/* How a model reads text (docs/network.md, step 1), recorded in its file
 * as anthem.tokenizer.  BYTES_V1: A-Z lower-cased, trigrams of bytes (every
 * model written before the key existed).  UNICODE_V1: NFKC with case
 * folding, default-ignorable characters dropped, every Unicode space a
 * space, invalid UTF-8 read as U+FFFD, trigrams of code points. */
typedef enum anthem_tokenizer {
	ANTHEM_TOKENIZER_BYTES_V1 = 0,
	ANTHEM_TOKENIZER_UNICODE_V1 = 1
} anthem_tokenizer;

/* How to build a model.  Call anthem_model_config_init first: it sets
 * struct_size and every default, so that a program compiled against these
 * headers keeps working when later versions append fields. */
typedef struct anthem_model_config {
	size_t struct_size;        /* sizeof(anthem_model_config) */
	anthem_geometry geometry;  /* default ANTHEM_GEOMETRY_HYPERBOLIC */
	size_t dim;                /* default 32, 1 to anthem_max_dim() */
	float curvature;           /* c > 0 of the ball, default 1 */
	size_t buckets;            /* trigram hash buckets, default 2^18 */
	float gamma;               /* inside weight of the distance, 0.5 */
	uint64_t seed;             /* initial weights, default 1 */
	uint64_t hash_seed;        /* trigram hash seed */
	size_t max_query_trigrams; /* default 28, 1 to 64 */
	size_t max_title_trigrams; /* default 100, 1 to 1024 */
	/* 1 (default): title trigrams are points of the same table as the
	 * query trigrams' centres, so a query and a title that share
	 * trigrams start out close and a query never seen in training still
	 * lands near the titles that spell it; 0: a table of their own. */
	int tie_embeddings;
	/* 0 (default): the distance is geometric only.  > 0: the model also
	 * has the lexical term of docs/network.md (step 8), a BM25 score of
	 * the title's words for the query's words, hashed into this many
	 * word buckets (the command line's --lexical uses 2^21), weighted
	 * by a learned w and subtracted from the distance. */
	size_t lexical_buckets;
	/* default ANTHEM_TOKENIZER_UNICODE_V1 (also for a caller whose older
	 * struct ends before this field) */
	anthem_tokenizer tokenizer;
	/* Experiments of issue 17 (docs/results.md, "What was tried for the
	 * margins"), off (0) by default.  title_buckets: with
	 * tie_embeddings 0, the title table's rows (title trigrams hashed
	 * into this many buckets); 0: buckets, as before. */
	size_t title_buckets;
	/* product_token 1: a title's tokens end with one more, hashed from
	 * the whole title (docs/network.md step 1), so each product has a
	 * learned point of its own in its title's pool; 0: none. */
	int product_token;
} anthem_model_config;

/* Set every field of *cfg to its default and struct_size to what was set.
 * Call it through the macro, which passes the size of the caller's struct:
 * a library newer than the headers a program was built with then writes
 * no byte past that program's (smaller) struct, and one older writes only
 * the fields it knows.  ANTHEM_EINVAL when cfg is NULL or size cannot hold
 * struct_size. */
ANTHEM_API int anthem_model_config_init_size(anthem_model_config *cfg, size_t size);
#define anthem_model_config_init(cfg) anthem_model_config_init_size((cfg), sizeof *(cfg))

/* A new model with freshly initialised weights.  ANTHEM_EINVAL or
 * ANTHEM_ERANGE name the offending field. */
ANTHEM_API int anthem_model_create(anthem_model **out,
				   const anthem_model_config *cfg);

/* NULL is fine. */
ANTHEM_API void anthem_model_free(anthem_model *m);

/* Copy the model's configuration into cfg (whose struct_size says how much
 * the caller's struct holds; call anthem_model_config_init on it first). */
ANTHEM_API int anthem_model_get_config(const anthem_model *m,
				       anthem_model_config *cfg);

/* The embedding dimension (the config's dim). */
ANTHEM_API size_t anthem_model_dim(const anthem_model *m);
/* The inside weight of the distance (what anthem_index_scan wants). */
ANTHEM_API float anthem_model_gamma(const anthem_model *m);
/* The weight w of the lexical term (docs/network.md step 8): what the
 * distance subtracts per unit of BM25.  NaN for a model without the term
 * (or NULL). */
ANTHEM_API float anthem_model_lexical_weight(const anthem_model *m);
ANTHEM_API anthem_geometry anthem_model_geometry(const anthem_model *m);

/* Distance of a product to a query with the full attentive model (stage 2
 * of the search); smaller is better.  Texts are UTF-8, NUL-terminated.
 * With the lexical term (lexical_buckets > 0) it is the geometric
 * distance less w * BM25, and may be negative. */
ANTHEM_API int anthem_model_score(const anthem_model *m, const char *query,
				  const char *title, float *distance);

/* The product-independent (stage 1) hyperboloid of a query, for scanning
 * an index, composing with AND / OR, or anthem_hyperboloid_distances.  It
 * is the geometry alone: a region holds no lexical term (anthem_search
 * adds it). */
ANTHEM_API int anthem_model_embed_query(const anthem_model *m,
					const char *query,
					anthem_hyperboloid **out);

/* Product points of n titles: out receives n x anthem_model_dim(m) floats,
 * row-major. */
ANTHEM_API int anthem_model_embed_products(const anthem_model *m,
					   const char *const *titles,
					   size_t n, float *out);

/* The attention grid of a (query, title) pair: which title trigrams each
 * query trigram attends to (docs/network.md, step 4). */
typedef struct anthem_explanation anthem_explanation;

/* Compute the grid of (query, title) into *out; free it with
 * anthem_explanation_free (NULL is fine). */
ANTHEM_API int anthem_model_explain(const anthem_model *m, const char *query,
				    const char *title,
				    anthem_explanation **out);
ANTHEM_API void anthem_explanation_free(anthem_explanation *e);
/* Rows are query trigrams, columns title trigrams. */
ANTHEM_API size_t anthem_explanation_rows(const anthem_explanation *e);
ANTHEM_API size_t anthem_explanation_cols(const anthem_explanation *e);
/* The trigram of a row or column ("#fi", "re ", "ül "), NULL if out of
 * range: three code points, valid UTF-8, for a unicode-v1 model (a
 * bytes-v1 model's labels are three bytes, which may split a character). */
ANTHEM_API const char *anthem_explanation_row_label(
	const anthem_explanation *e, size_t row);
ANTHEM_API const char *anthem_explanation_col_label(
	const anthem_explanation *e, size_t col);
/* rows x cols weights, row-major; each row sums to 1. */
ANTHEM_API const float *anthem_explanation_weights(
	const anthem_explanation *e);
/* The pair's distance (what anthem_model_score returns). */
ANTHEM_API float anthem_explanation_distance(const anthem_explanation *e);

ANTHEM_END_DECLS

#endif
