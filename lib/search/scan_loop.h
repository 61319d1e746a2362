/* The stage-1 scan's blocked float loop, one copy per x86-64 level
 * (scan_loop.c; scan.c picks one with ath_isa_level()). */
#ifndef ANTHEM_SEARCH_SCAN_LOOP_H
#define ANTHEM_SEARCH_SCAN_LOOP_H

#include "search/scan.h"

#include <stddef.h>
#include <stdint.h>

/* A query as the loop reads it, in float. */
typedef struct fquery {
	size_t d;
	float cc, gamma, qmax2, qmin2, c2;
	float qmax[ATH_SCAN_MAX_DIM], qmin[ATH_SCAN_MAX_DIM], c[ATH_SCAN_MAX_DIM];
	/* the corners again, each value repeated in 16 lanes: the compares of
	 * the clamp then load a vector instead of broadcasting a scalar (a
	 * shuffle, on the port the compares need too) */
	const float *qmaxv, *qminv;
	float *tbuf; /* the clamped block, d x 16 */
	/* int8 points (scan.h, ath_scan8): the per-dimension steps, and the
	 * block decoded, d x 16 */
	const float *dscale;
	float *dbuf;
} fquery;

/* A query as the box prefilter reads it (scan.h, ath_scan8_prefilter), in
 * the codes' integer units: per dimension the box's middle and (1 - gamma)
 * times its half width, and the dimension's weight (its step, Q15); gamma
 * (Q15) and the left shift that keeps the sum of d terms in 16 bits. */
typedef struct bquery {
	size_t d;
	int16_t mid[ATH_SCAN_MAX_DIM], out[ATH_SCAN_MAX_DIM],
		weight[ATH_SCAN_MAX_DIM];
	int16_t gamma;
	int shift;
} bquery;

/* Each copy of scan_loop.c defines its two functions with its level's
 * suffix: SCAN_LEVEL is base, v3 or v4. */
#define SCAN_PASTE(a, b) a##b
#define SCAN_PASTE2(a, b) SCAN_PASTE(a, b)
#define SCAN_NAME(prefix) SCAN_PASTE2(prefix, SCAN_LEVEL)

#define SCAN_LOOP_DECLS(level)                                                \
	/* the distances of block b's 16 products into dist[16] */          \
	void ath_scan_block_##level(const fquery *q, const float *blk,      \
				    const float *n2, float *dist);          \
	/* blocks [b_lo, b_hi) offered to the heap (allow: scan.h) */       \
	void ath_scan_range_##level(const fquery *q, const float *blocks,   \
				    const float *n2, size_t n, size_t b_lo, \
				    size_t b_hi, const uint64_t *allow,     \
				    ath_heap *hp);                          \
	/* the same over int8 blocks (scan.h, ath_scan8), each row decoded \
	 * into q->dbuf where the first pass reads it */                   \
	void ath_scan_range8_##level(const fquery *q, const int8_t *codes,  \
				     const float *lanes, size_t n,          \
				     size_t b_lo, size_t b_hi,              \
				     const uint64_t *allow, ath_heap *hp);     \
	/* 16 int8 points gathered into one block cb, four codes to a word \
	 * (word g of lane j: dimensions 4g..4g+3 of point j), each decoded \
	 * through the exponential map (quant.c; sc = sqrt(c)), q->dscale  \
	 * the steps: their distances into dist[16] */                       \
	void ath_scan_gathered8_##level(const fquery *q, const int32_t *cb, \
					float sc, float *dist);             \
	/* blocks [b_lo, b_hi) of int8 points offered to the heap by the   \
	 * box prefilter's value of their codes (scan.h,                  \
	 * ath_scan8_prefilter) */                                          \
	void ath_scan_box8_##level(const bquery *q, const int8_t *codes,    \
				   size_t n, size_t b_lo, size_t b_hi,      \
				   const uint64_t *allow, ath_heap *hp);

SCAN_LOOP_DECLS(base)
SCAN_LOOP_DECLS(v3)
SCAN_LOOP_DECLS(v4)

/* A query in the loop's form; work as for ath_scan_blocks (scan.h). */
void ath_scan_fquery(const ath_scan_query *q, float *work, fquery *out);

/* The box prefilter's query for int8 points c (scan.h,
 * ath_scan8_prefilter; a test checks the kernels against it). */
void ath_scan8_box_query(const ath_scan_query *q, const ath_scan8 *c,
			 bquery *out);

/* The block loop of the x86-64 level in use (the approximate index computes
 * its beam's distances with it, on the points it gathers into a block). */
typedef void (*ath_scan_block_fn)(const fquery *q, const float *blk,
				  const float *n2, float *dist);
ath_scan_block_fn ath_scan_block_kernel(void);
typedef void (*ath_scan_gathered8_fn)(const fquery *q, const int32_t *cb,
				      float sc, float *dist);
ath_scan_gathered8_fn ath_scan_gathered8_kernel(void);

#endif
