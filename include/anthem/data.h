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

/* A catalogue: `product_id<TAB>title` lines; `#` comment lines and blank
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

ANTHEM_END_DECLS

#endif
