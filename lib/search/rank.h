/* The k smallest of an array, shared by the pipeline and the trainer
 * (internal). */
#ifndef ANTHEM_RANK_H
#define ANTHEM_RANK_H

#include <stddef.h>

/* The k smallest of d[0..n) as indexes, ascending by (d, index); returns
 * min(n, k).  NaN distances rank last. */
size_t ath_topk(const float *d, size_t n, size_t k, size_t *idx);

#endif
