/* The approximate index's distance loops (ann.c), one copy per x86-64
 * level at its own vector width (ann_loop.c; chosen with ath_isa_level()). */
#ifndef ANTHEM_SEARCH_ANN_LOOP_H
#define ANTHEM_SEARCH_ANN_LOOP_H

#include "search/scan.h"

#include <stddef.h>

/* blk: d rows of 16 floats, row k = dimension k of 16 points (64-byte
 * aligned): sum_k (blk[k][j] - y[k])^2 a[j] ay into out[16].  (The beam's
 * region distances are the scan's block loop, scan_loop.h.) */
#define ANN_LOOP_DECLS(level)                                                 \
	void ath_ann_pair_##level(const float *blk, size_t d, const float *y, \
				  const float *a, float ay, float *out);

ANN_LOOP_DECLS(base)
ANN_LOOP_DECLS(v3)
ANN_LOOP_DECLS(v4)

#endif
