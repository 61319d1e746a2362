/* Ranking helpers shared by search and evaluation (internal). */
#ifndef ANTHEM_RANK_H
#define ANTHEM_RANK_H

#include "model/model.h"

/* The k smallest of d[0..n) as indexes, ascending by (d, index); returns
 * min(n, k).  NaN distances rank last. */
size_t ath_topk(const float *d, size_t n, size_t k, size_t *idx);

/* Stage-2 distances of `n` titles to a query with the full model. */
int ath_rerank(const anthem_model *m, const char *query,
	       const char *const *titles, size_t n, float *d2);

#endif
