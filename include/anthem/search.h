/* libanthem: product indexes and the query pipeline (docs/architecture.md). */
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

/* The format of stage 1's points.  With int8, the scan and the graph read
 * tangent-space codes (docs/architecture.md, "Compact points") and
 * re-score their best 2 k1 with the float points, which the index keeps;
 * needs dim <= 256. */
typedef enum anthem_point_format {
	ANTHEM_POINTS_FLOAT32 = 0, /* the points as they are (4d bytes each) */
	ANTHEM_POINTS_INT8 = 1     /* tangent-space int8 codes (d bytes each) */
} anthem_point_format;

/* How an index is built (anthem_index_build_ex). */
typedef struct anthem_index_options {
	size_t struct_size; /* set by anthem_index_options_init */
	size_t threads;     /* embedding and graph threads (0: all cores) */
	/* 1: also build the approximate index, a proximity graph over the
	 * points (docs/architecture.md, "The approximate index"); 0
	 * (default): the exact scan only */
	int ann;
	size_t ann_degree;   /* neighbours per product (32; 2 to 256) */
	size_t ann_ef;       /* the build's beam width (128; up to 4096) */
	uint64_t ann_seed;   /* the insertion order (1): same seed, same graph,
				whatever the thread count */
	anthem_point_format points; /* stage 1's points (float32) */
	/* Called on the calling thread while the graph is built (NULL, the
	 * default: never): done of total products are in the graph, after
	 * each round of insertions (up to 1024 products) and once with done
	 * == total at the end.  For progress reports: a 10M-product graph
	 * takes hours.  It must not use the index being built. */
	void (*ann_progress)(size_t done, size_t total, void *user);
	void *ann_progress_user; /* passed to ann_progress */
} anthem_index_options;

/* Defaults into *o, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_index_options_init_size(anthem_index_options *o,
					      size_t size);
#define anthem_index_options_init(o) \
	anthem_index_options_init_size((o), sizeof *(o))

/* anthem_index_build with options (NULL: the defaults). */
ANTHEM_API int anthem_index_build_ex(anthem_index **out, const anthem_model *m,
				     const anthem_catalog *c,
				     const anthem_index_options *o);

/* 1 when the index holds an approximate index (a graph), else 0. */
ANTHEM_API int anthem_index_has_ann(const anthem_index *ix);

/* The points stage 1's scan reads: ANTHEM_POINTS_INT8 when the index
 * holds int8 codes for it (built with them, or loaded from a file that has
 * them: index version 4), else ANTHEM_POINTS_FLOAT32 (also for NULL). */
ANTHEM_API int anthem_index_points(const anthem_index *ix);

/* The approximate index's build parameters: R, the neighbours per node
 * (anthem_index_options.ann_degree), the construction beam (ann_ef, raised
 * to R when smaller) and the seed; any pointer may be NULL.  ANTHEM_EINVAL when the index has no
 * graph. */
ANTHEM_API int anthem_index_ann_params(const anthem_index *ix, size_t *degree,
				       size_t *ef_construction, uint64_t *seed);

/* The index file's layout version (docs/format.md): the file's it was
 * loaded from (1 to 4), or for a built index the one anthem_index_save
 * writes (2; 3 with a graph; 4 with int8 points).  0 for NULL. */
ANTHEM_API unsigned anthem_index_format_version(const anthem_index *ix);

/* Save atomically; load through mmap (points used in place).  A load with
 * a model checks that the index was built with that model's file
 * (ANTHEM_EMISMATCH otherwise); pass NULL to skip the check. */
ANTHEM_API int anthem_index_save(const anthem_index *ix, const char *path);
ANTHEM_API int anthem_index_load(anthem_index **out, const char *path,
				 const anthem_model *m);
ANTHEM_API void anthem_index_free(anthem_index *ix);

/* The number of products and the dimension of their points; the id and
 * title of the product at position i (NULL out of range), owned by the
 * index. */
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

/* ---- the query pipeline (docs/architecture.md) ---------------------------
 *
 * Every ranking in libanthem goes through one pipeline: the query's texts
 * are read once (trigrams, words, the stage-1 region), stage 1 gathers
 * candidates from its sources (the region scan over the index: the k1
 * products nearest to the query's region; with a model that has the
 * lexical term, also the k1 titles of highest BM25 from the index's word
 * postings), stage 2 reranks the union with the full model, and the best
 * k are returned.  When k is larger than the number of candidates, the
 * hits after them are the next products of the region scan, ordered by
 * their stage-1 distance (d1, less w * BM25 with the lexical term), which
 * they carry: the distances are ascending within the candidates and
 * within that tail, not across the two.
 *
 * AND / OR: the query text and the and_queries form one branch (an
 * intersection), each of or_queries another (a union).  Stage 1 scans the
 * composed region and, with the lexical term, takes the titles of highest
 * combined BM25 (the smallest over an intersection, the largest over a
 * union); stage 2's distance of a product is the largest over an
 * intersection of each text's full-model distance, the smallest over a
 * union, as anthem_hyperboloid_distances composes stage 1. */

/* The options of anthem_search_ex and anthem_search_batch: initialise
 * with anthem_search_options_init, then set the fields wanted (defaults
 * in parentheses). */
typedef struct anthem_search_options {
	size_t struct_size;  /* set by anthem_search_options_init */
	size_t k;            /* hits wanted (10) */
	size_t k1;           /* stage-1 candidates a source keeps, which
				stage 2 reranks (200; 0 means 200) */
	/* 1 (default): one thread.  anthem_search_ex splits one query's scan
	 * and rerank over this many; anthem_search_batch spreads its queries
	 * over them.  0: all cores; at most 256.  The hits never depend on
	 * it. */
	size_t threads;
	/* further texts intersected with the query (n_and of them) and
	 * united with it (n_or); at most 16 each */
	const char *const *and_queries;
	size_t n_and;
	const char *const *or_queries;
	size_t n_or;
	/* a filter: when allow is not NULL, only these index positions
	 * (n_allow of them, any order, repeats ignored; none when n_allow is
	 * 0, so nothing is returned) may be returned;
	 * when allow_bits is not NULL, only positions i whose bit
	 * (allow_bits[i / 64] >> (i % 64)) & 1 is set, the array holding
	 * (anthem_index_count + 63) / 64 words.  Both: a product must pass
	 * both.  Applied in stage 1, so k1 counts allowed products only. */
	const size_t *allow;
	size_t n_allow;
	const uint64_t *allow_bits;
	/* 1: stop after stage 1; the candidates are ranked by their
	 * stage-1 distance */
	int stage1_only;
	/* Stopping a long call (appended: struct_size tells the library
	 * whether a caller has these).  cancel: when not NULL, a flag
	 * that another thread or a signal handler sets to non-zero; timeout_ms:
	 * when > 0, the call's budget in milliseconds from its start.  Both are
	 * looked at between chunks of 4096 products of a composed region's
	 * scan, before stage 2 and between the queries of a batch; the call
	 * then returns ANTHEM_ECANCELED and no hits. */
	const volatile int *cancel;
	uint64_t timeout_ms;
	/* the region source of stage 1 (appended in 0.x; older callers'
	 * smaller struct gets the defaults): ANTHEM_STAGE1_AUTO (0, default)
	 * scans, the int8 points when the index has them (through the box
	 * prefilter below, re-scored in float); ANTHEM_STAGE1_EXACT scans the
	 * float points.  Up to 1M
	 * products the graph was not measured faster than the scan at its
	 * target recall (docs/performance.md), so it is never chosen for the
	 * caller;
	 * ANTHEM_STAGE1_GRAPH searches the graph when the index has one
	 * (still the scan for AND / OR and filters, and without a graph) */
	int stage1;
	/* the graph search's beam width (0: 2 max(k, k1), at least 64);
	 * larger finds more of the exact top k1 for more work */
	size_t ef;
	/* stage 2 attends from at most this many elements of each text (0,
	 * default: all).  A text of L trigrams has L + L(L - 1) / 2 elements
	 * (its trigrams and their pairwise intersections: up to 406 with the
	 * default cut of 28), and stage 2's work per candidate grows with
	 * their count; those of highest self-attention score are kept.  An
	 * approximation of the model's stage 2: its cost in quality and its
	 * gain in time are in docs/performance.md ("Stage 2's elements").
	 * (Appended: older callers' smaller struct gets 0.) */
	size_t stage2_elements;
	/* The box prefilter of the int8 scan (ANTHEM_STAGE1_AUTO on an index
	 * with int8 points; appended: older callers' smaller struct gets 0):
	 * the scan ranks every product by a cheap flat distance to the
	 * query's box and re-scores only the best prefilter of them in float
	 * (docs/architecture.md, "The box prefilter").  0 (default): on, to
	 * 2 max(k, k1), when the index holds at least 16 times that many
	 * products; ANTHEM_PREFILTER_OFF: off (the int8 distance of every
	 * product, then its 2 max(k, k1) best re-scored); any other value:
	 * that depth, at least 2 max(k, k1) (smaller values are raised).
	 * Approximate: docs/performance.md has its recall of the exact scan's
	 * top k1 and its time. */
	size_t prefilter;
} anthem_search_options;

#define ANTHEM_PREFILTER_OFF ((size_t)-1)

#define ANTHEM_STAGE1_AUTO 0
#define ANTHEM_STAGE1_EXACT 1
#define ANTHEM_STAGE1_GRAPH 2

/* The most work one query's region scan may take: terms x products x
 * dimension, a term being one box of one branch of the region (a simple
 * query: 1; the pipeline's query with 16 ANDs and 16 ORs: 33; a region a
 * caller composes with anthem_hyperboloid_intersect / _union may hold
 * thousands), each costing a box distance per product, in time
 * proportional to the dimension.  Beyond it anthem_index_scan and the
 * search calls return ANTHEM_ERANGE rather than keep a thread busy for
 * minutes: the limit is about 10 s of one core (2^26 term distances took
 * 77 s at dimension 32 and 21 s at dimension 8 on a busy 2-core machine).
 * 1M products at dimension 32 allow a query with up to 8 terms.  A simple
 * region (one term) is never limited, whichever loop scans it. */
#define ANTHEM_MAX_SCAN_WORK ((uint64_t)1 << 28)

/* Defaults into *o, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_search_options_init_size(anthem_search_options *o,
					       size_t size);
#define anthem_search_options_init(o) \
	anthem_search_options_init_size((o), sizeof *(o))

/* One query through the pipeline.  out holds opts->k hits (NULL opts: the
 * defaults); *n receives how many were found (fewer than k only when the
 * index, or the filter, holds fewer products), best first.  A distance is
 * the model's: smaller is better, and with the lexical term it may be
 * negative. */
ANTHEM_API int anthem_search_ex(const anthem_model *m, const anthem_index *ix,
				const char *query,
				const anthem_search_options *opts,
				anthem_hit *out, size_t *n);

/* nq queries, the same options for each (threads spread the queries; each
 * query runs on one thread): query q's hits are out[q * k ...], counts[q]
 * of them, k being opts->k as given (also when the index holds fewer
 * products: out holds nq * k hits).  The hits of a query are what anthem_search_ex gives it, to the
 * bit.  On an error no count is meaningful. */
ANTHEM_API int anthem_search_batch(const anthem_model *m,
				   const anthem_index *ix,
				   const char *const *queries, size_t nq,
				   const anthem_search_options *opts,
				   anthem_hit *out, size_t *counts);

/* The simple call: anthem_search_ex with k, k1 and every other option at
 * its default. */
ANTHEM_API int anthem_search(const anthem_model *m, const anthem_index *ix,
			     const char *query, size_t k, size_t k1,
			     anthem_hit *out, size_t *n);

/* The position of the product with this id (ANTHEM_ENOTFOUND when the
 * index has none; *pos is then left alone).  A hash table built when the
 * index is built or loaded (docs/format.md gives its size). */
ANTHEM_API int anthem_index_find(const anthem_index *ix, const char *product_id,
				 size_t *pos);

/* Stage 2 on candidates an engine brings (its BM25 top N, filtered
 * upstream): the full model ranks the n products at these index
 * positions; out receives n hits, best first. */
ANTHEM_API int anthem_rerank(const anthem_model *m, const anthem_index *ix,
			     const char *query, const size_t *positions,
			     size_t n, anthem_hit *out);

/* The same by product id: ids the index does not hold are skipped (find
 * them with anthem_index_find); *n_out receives the hits written, best
 * first. */
ANTHEM_API int anthem_rerank_ids(const anthem_model *m, const anthem_index *ix,
				 const char *query, const char *const *ids,
				 size_t n, anthem_hit *out, size_t *n_out);

/* Stage 2's distance of each candidate (index positions), in the
 * candidates' order (what anthem_rerank sorts). */
ANTHEM_API int anthem_score(const anthem_model *m, const anthem_index *ix,
			    const char *query, const size_t *candidates,
			    size_t n, float *distances);

ANTHEM_END_DECLS

#endif
