/* libanthem: catalogues and relevance judgements (UTF-8 TSV, docs/data.md). */
#ifndef ANTHEM_DATA_H
#define ANTHEM_DATA_H

#include <anthem/common.h>

#include <stdint.h>

ANTHEM_BEGIN_DECLS

/* Reading flags. */
#define ANTHEM_READ_STRICT 0u
/* Skip malformed lines (counted, see *_skipped) instead of failing. */
#define ANTHEM_READ_LENIENT 1u

/* A catalogue: `product_id<TAB>title[<TAB>categories]` lines; `#` comment lines and blank
 * lines are ignored, CRLF line ends accepted, a UTF-8 byte order mark at
 * the start of the file skipped.  Strictly read, a line with a missing
 * field, an empty id, a duplicate id, invalid UTF-8 or a NUL byte fails
 * with ANTHEM_EFORMAT and the message "FILE:LINE: reason".  Immutable once
 * loaded. */
typedef struct anthem_catalog anthem_catalog;

/* Read a catalogue file (flags: ANTHEM_READ_STRICT or _LENIENT), free it
 * (NULL is fine), count its products. */
ANTHEM_API int anthem_catalog_load(anthem_catalog **out, const char *path,
				   unsigned flags);
ANTHEM_API void anthem_catalog_free(anthem_catalog *c);
ANTHEM_API size_t anthem_catalog_count(const anthem_catalog *c);
/* The id and title of product i (0-based, file order); NULL out of range. */
ANTHEM_API const char *anthem_catalog_id(const anthem_catalog *c, size_t i);
ANTHEM_API const char *anthem_catalog_title(const anthem_catalog *c,
					    size_t i);
/* Index of a product id, or ANTHEM_ENOTFOUND. */
ANTHEM_API int anthem_catalog_find(const anthem_catalog *c, const char *id,
				   size_t *index);
/* Lines skipped by a lenient read. */
ANTHEM_API size_t anthem_catalog_skipped(const anthem_catalog *c);
/* The optional third field of product i: category paths such as
 * `Clothing > Hats > Fedoras`, several joined by ` | ` (docs/data.md);
 * NULL when the product has none or i is out of range. */
ANTHEM_API const char *anthem_catalog_categories(const anthem_catalog *c,
						 size_t i);
/* Products that have a categories field. */
ANTHEM_API size_t anthem_catalog_categorised(const anthem_catalog *c);

/* Judgements: `query<TAB>product_id<TAB>grade` lines, grade 0 to 3 (0 =
 * judged irrelevant).  Product ids must be in the catalogue.  Strictly
 * read, a malformed line fails with "FILE:LINE: reason"; a repeated
 * (query, product) pair keeps the last grade. */
typedef struct anthem_judgments anthem_judgments;

/* Read a judgement file against catalogue c (which must outlive it; flags
 * as for anthem_catalog_load), and free it (NULL is fine). */
ANTHEM_API int anthem_judgments_load(anthem_judgments **out, const char *path,
				     const anthem_catalog *c, unsigned flags);
ANTHEM_API void anthem_judgments_free(anthem_judgments *j);
/* Distinct queries, in order of first appearance. */
ANTHEM_API size_t anthem_judgments_query_count(const anthem_judgments *j);
ANTHEM_API const char *anthem_judgments_query(const anthem_judgments *j,
					      size_t q);
/* Judged products of query q: *n entries of catalogue index and grade,
 * valid while j lives. */
ANTHEM_API int anthem_judgments_get(const anthem_judgments *j, size_t q,
				    const size_t **products,
				    const int **grades, size_t *n);
ANTHEM_API size_t anthem_judgments_skipped(const anthem_judgments *j);
/* (query, product) pairs held, over all queries. */
ANTHEM_API size_t anthem_judgments_count(const anthem_judgments *j);
/* Write the judgements as a judgement file (query<TAB>product_id<TAB>grade,
 * queries in their order, products in catalogue order), atomically like
 * anthem_model_save. */
ANTHEM_API int anthem_judgments_save(const anthem_judgments *j,
				     const char *path);

/* Judgements derived from a category tree, the way the bundled WordNet
 * set derives them from hypernyms (docs/data.md): each category name,
 * case-folded, is a query; a product is relevant to every category on its
 * paths, grade 3 when it sits directly in the category, 2 one level below,
 * 1 further down (a name met on several paths keeps its best grade);
 * categories relevant to more than max_frac of the products are dropped;
 * and the queries are split into a training and a test side by a hash of
 * the name and the seed, queries with the same judgements on one side. */
typedef struct anthem_category_options {
	size_t struct_size; /* set by anthem_category_options_init */
	float max_frac;     /* drop broader categories; default 0.1 */
	float test_frac;    /* share of queries on the test side; 0.2 */
	uint64_t seed;      /* of the split; default 1 */
} anthem_category_options;

/* Defaults into *o, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_category_options_init_size(anthem_category_options *o,
						 size_t size);
#define anthem_category_options_init(o) \
	anthem_category_options_init_size((o), sizeof *(o))

/* The training side into *train and the test side into *test (test may be
 * NULL: that side is then dropped), both against c, which must outlive
 * them.  ANTHEM_EINVAL when no product has categories; with no query
 * left a side is empty (no queries), not an error.  o may be NULL (the
 * defaults). */
ANTHEM_API int anthem_judgments_from_categories(
	anthem_judgments **train, anthem_judgments **test,
	const anthem_catalog *c, const anthem_category_options *o);

ANTHEM_END_DECLS

#endif
