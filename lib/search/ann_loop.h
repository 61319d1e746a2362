/* The approximate index's distance loops (ann.c), one copy per x86-64
 * level at its own vector width (ann_loop.c; chosen with ath_isa_level()). */
#ifndef ANTHEM_SEARCH_ANN_LOOP_H
#define ANTHEM_SEARCH_ANN_LOOP_H

#include "search/scan.h"

#include <stddef.h>

/* A query region in float: the scan's distance (ath_scan_one, scan.c). */
typedef struct ann_fq {
	size_t d;
	float cc, gamma, c2, qmax2, qmin2;
	float c[ATH_SCAN_MAX_DIM], qmax[ATH_SCAN_MAX_DIM], qmin[ATH_SCAN_MAX_DIM];
} ann_fq;

/* blk: d rows of 16 floats, row k = dimension k of 16 points (64-byte
 * aligned).  region: the 16 points' distances to q into out[16] (blk is
 * overwritten).  pair: sum_k (blk[k][j] - y[k])^2 a[j] ay into out[16]. */
#define ANN_LOOP_DECLS(level)                                                 \
	void ath_ann_region_##level(const ann_fq *q, float *blk, float *out); \
	void ath_ann_pair_##level(const float *blk, size_t d, const float *y, \
				  const float *a, float ay, float *out);

ANN_LOOP_DECLS(base)
ANN_LOOP_DECLS(v3)
ANN_LOOP_DECLS(v4)

#endif
