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

#endif
