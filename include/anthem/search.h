/* libanthem: product indexes and the two-stage search (DESIGN.md). */
#ifndef ANTHEM_SEARCH_H
#define ANTHEM_SEARCH_H

#include <anthem/common.h>
#include <anthem/data.h>
#include <anthem/hyperboloid.h>
#include <anthem/model.h>
#include <anthem/vectors.h>

#include <stdint.h>

ANTHEM_BEGIN_DECLS

/* The product points of a catalogue under one model, with the products'
 * ids and titles.  Read-only once built or loaded: safe to share between
 * threads. */
typedef struct anthem_index anthem_index;

/* Embed every product of c with m (threads: 0 = all cores; at most 256). */
ANTHEM_API int anthem_index_build(anthem_index **out, const anthem_model *m,
				  const anthem_catalog *c, size_t threads);

/* Save atomically; load through mmap (points used in place).  A load with
 * a model checks that the index was built with that model's file
 * (ANTHEM_EMISMATCH otherwise); pass NULL to skip the check. */
ANTHEM_API int anthem_index_save(const anthem_index *ix, const char *path);
ANTHEM_API int anthem_index_load(anthem_index **out, const char *path,
				 const anthem_model *m);
ANTHEM_API void anthem_index_free(anthem_index *ix);

ANTHEM_API size_t anthem_index_count(const anthem_index *ix);
ANTHEM_API size_t anthem_index_dim(const anthem_index *ix);
ANTHEM_API const char *anthem_index_id(const anthem_index *ix, size_t i);
ANTHEM_API const char *anthem_index_title(const anthem_index *ix, size_t i);
/* The points as a row-major set (borrowed from the index).  The index
 * keeps its points in the scan's blocked layout; this set is made on the
 * first call (n x dim floats more), NULL if that fails. */
ANTHEM_API const anthem_vectors *anthem_index_vectors(const anthem_index *ix);
/* The model fingerprint recorded at build time. */
ANTHEM_API uint64_t anthem_index_model_fingerprint(const anthem_index *ix);

/* One result: a product (its position in the index) and its distance,
 * smaller is better. */
typedef struct anthem_hit {
	size_t index;
	float distance;
} anthem_hit;

/* Stage 1 alone: the k products nearest to a query region (a model's
 * embedded query, or an AND / OR of them), best first; *n receives
 * min(k, count). */
ANTHEM_API int anthem_index_scan(const anthem_index *ix,
				 const anthem_hyperboloid *h, float gamma,
				 size_t k, anthem_hit *out, size_t *n);

/* The same with the products split over `threads` threads (0: all
 * cores; at most 256, and small indexes use fewer).  The hits do not depend on the number
 * of threads.  anthem_index_scan is this with 1 thread: a server that runs
 * queries side by side usually wants that. */
ANTHEM_API int anthem_index_scan_threads(const anthem_index *ix,
					 const anthem_hyperboloid *h,
					 float gamma, size_t k, size_t threads,
					 anthem_hit *out, size_t *n);

/* Both stages: stage 1 keeps the k1 nearest (k1 >= k; 0 means 200), the
 * full model reranks them, the best k are returned.  With a model that has
 * the lexical term, stage 1 also keeps the k1 products of highest BM25
 * (the index's word postings, built when it is built or loaded with that
 * model; otherwise every title is read) and the distances are the
 * model's, less w * BM25. */
ANTHEM_API int anthem_search(const anthem_model *m, const anthem_index *ix,
			     const char *query, size_t k, size_t k1,
			     anthem_hit *out, size_t *n);

/* The same on `threads` threads (0: all cores): stage 1 splits the
 * products, as anthem_index_scan_threads, and stage 2 the candidates.  The
 * hits do not depend on the number of threads; anthem_search uses 1. */
ANTHEM_API int anthem_search_threads(const anthem_model *m,
				     const anthem_index *ix, const char *query,
				     size_t k, size_t k1, size_t threads,
				     anthem_hit *out, size_t *n);

/* Stage 2 on candidates an engine brings: the full model's distance of
 * each candidate (index positions) to the query. */
ANTHEM_API int anthem_score(const anthem_model *m, const anthem_index *ix,
			    const char *query, const size_t *candidates,
			    size_t n, float *distances);

ANTHEM_END_DECLS

#endif
