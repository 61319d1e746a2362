/* Metrics (internal). */
#ifndef ANTHEM_EVAL_INTERNAL_H
#define ANTHEM_EVAL_INTERNAL_H

#include <anthem/eval.h>

#include <stddef.h>

#define ATH_NMETRICS 5    /* ndcg@3, ndcg@5, ndcg@10, AP, RR */
#define ATH_RANK_CUT 1000 /* AP and RR look at the list cut here */

/* Metrics of one query: `ranked` catalogue indexes best first; the judged
 * products (sorted ascending) and their grades.  Returns 0 and leaves out
 * alone when the query has no relevant product (it is skipped). */
int ath_query_metrics(const size_t *ranked, size_t nranked,
		      const size_t *prod, const int *grade, size_t nj,
		      double out[ATH_NMETRICS]);

/* Rank judged queries through the query pipeline (qids[0..nq), or the
 * first nq when qids is NULL), as anthem_search_batch ranks them with this
 * k1 (0: stage 1 alone) and k = ATH_RANK_CUT, once for each lexical
 * weight lws[0..nw); query k's metrics with weight v go to
 * per[(k * nw + v) * ATH_NMETRICS ...], counted[k] says whether it counts
 * (it has a relevant product), recall[k] is the share of its relevant
 * products among the candidates. */
struct anthem_index;
int ath_rank_queries(const anthem_model *m, const struct anthem_index *ix,
		     const anthem_judgments *j, const size_t *qids, size_t nq,
		     size_t k1, size_t threads, const float *lws, size_t nw,
		     double *per, int *counted, double *recall);

#endif
