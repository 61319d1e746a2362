/* libanthem: ranking metrics (NDCG@k, MAP, MRR; defined below). */
#ifndef ANTHEM_EVAL_H
#define ANTHEM_EVAL_H

#include <anthem/common.h>
#include <anthem/data.h>
#include <anthem/model.h>

ANTHEM_BEGIN_DECLS

/* Metrics over the queries of a judgement set.  NDCG@k: gain 2^grade - 1,
 * discount log2(rank + 1), ideal DCG from all the query's judged products.
 * AP: mean over the query's relevant (grade >= 1) products of the
 * precision at each one's rank in the list cut at 1000 (0 for one not in
 * it); RR: 1 / rank of the first relevant product in the list cut at 1000,
 * else 0.  A query with no relevant product is skipped and counted. */
typedef struct anthem_metrics {
	size_t struct_size; /* set by anthem_metrics_init */
	double ndcg3, ndcg5, ndcg10, map, mrr;
	size_t queries;     /* queries that count */
	size_t skipped;     /* queries with no relevant product */
	/* two-stage search: mean over queries of the share of relevant
	 * products among stage 1's candidates, which stage 2 reranks (the
	 * k1 nearest, and with the lexical term the k1 of highest BM25; 0
	 * when not measured) */
	double recall_k1;
	size_t k1;
} anthem_metrics;

/* Defaults into *m, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_metrics_init_size(anthem_metrics *m, size_t size);
#define anthem_metrics_init(m) anthem_metrics_init_size((m), sizeof *(m))

/* How anthem_evaluate ranks: initialise with anthem_eval_options_init,
 * then set the fields wanted (defaults in parentheses). */
typedef struct anthem_eval_options {
	size_t struct_size;  /* set by anthem_eval_options_init */
	size_t k1;           /* stage-1 candidates reranked by stage 2 (200);
				0 ranks by stage 1 alone */
	size_t threads;      /* 0: all cores; at most 256 (and the queries) */
	size_t max_queries;  /* 0: all; else the first max_queries */
	/* when not NULL, stage 1 scans this index (built by the model from
	 * the same catalogue: ANTHEM_EMISMATCH otherwise) instead of
	 * embedding the catalogue first: the search path a server runs */
	const struct anthem_index *index;
	/* stage 1's region source and beam width, as in anthem_search_options
	 * (appended: ANTHEM_STAGE1_AUTO and 0 by default); ANTHEM_STAGE1_GRAPH
	 * measures an index's approximate stage 1 (docs/architecture.md) */
	int stage1;
	size_t ef;
	/* stage 2's query elements per text, as in anthem_search_options
	 * (appended: 0, all, by default) */
	size_t stage2_elements;
	/* the int8 scan's box prefilter, as in anthem_search_options
	 * (appended: 0, the default depth, by default) */
	size_t prefilter;
} anthem_eval_options;

/* Defaults into *o, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_eval_options_init_size(anthem_eval_options *o, size_t size);
#define anthem_eval_options_init(o) anthem_eval_options_init_size((o), sizeof *(o))

/* Rank the whole catalogue for every query of j with the model (stage 1
 * over every product, the top k1 reranked by the full model) and measure. */
ANTHEM_API int anthem_evaluate(const anthem_model *m, const anthem_catalog *c,
			       const anthem_judgments *j,
			       const anthem_eval_options *o,
			       anthem_metrics *out);

/* Measure a ranking made elsewhere (BM25, another system): a file of
 * `query<TAB>product_id<TAB>rank[<TAB>score]` lines, rank 1 = best.
 * Queries of j missing from the file rank nothing (they count, at 0). */
ANTHEM_API int anthem_evaluate_ranking(const char *path,
				       const anthem_catalog *c,
				       const anthem_judgments *j,
				       anthem_metrics *out);

ANTHEM_END_DECLS

#endif
