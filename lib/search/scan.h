/* The stage-1 scan loop (internal). */
#ifndef ANTHEM_SCAN_H
#define ANTHEM_SCAN_H

#include "geometry/geometry.h"

#include <anthem/search.h>

#include <stddef.h>
#include <stdint.h>

/* Larger dimensions take the general path (anthem_hyperboloid_distances). */
#define ATH_SCAN_MAX_DIM 256

/* Products per block of the index layout: block b holds products
 * 16b .. 16b+15 as d rows of 16 floats (row k = dimension k of the 16
 * products), so that the per-product scalars of the distance are the lanes
 * of one vector and no loop needs a horizontal sum.  16 floats are one
 * AVX-512 register, two AVX2 ones, one cache line. */
#define ATH_SCAN_BLOCK 16

/* What one query contributes to every product's distance, computed once. */
typedef struct ath_scan_query {
	geo_space s;
	size_t d;
	float gamma;
	double cc; /* curvature, 0 in flat space */
	double c[ATH_SCAN_MAX_DIM], qmax[ATH_SCAN_MAX_DIM], qmin[ATH_SCAN_MAX_DIM];
	double c2, qmax2, qmin2;
} ath_scan_query;

/* For a simple hyperboloid (c, l) of dimension d <= ATH_SCAN_MAX_DIM. */
void ath_scan_prepare(const geo_space *s, size_t d, const float *c,
		      const float *l, float gamma, ath_scan_query *q);

/* The distance of point v, whose squared norm is v2, in double (the
 * reference for the blocked float loop; geo_box_dist's value up to
 * rounding). */
float ath_scan_one(const ath_scan_query *q, const float *v, double v2);

/* Blocks for n products of dimension d: floats needed, and the copy of
 * row-major points into blocks (padding lanes zero) and back. */
size_t ath_scan_block_floats(size_t n, size_t d);
void ath_scan_to_blocks(const float *points, size_t n, size_t d, float *blocks);
void ath_scan_from_blocks(const float *blocks, size_t lo, size_t hi, size_t d,
			  float *points);

/* Squared norms of the products of the blocks (n2 holds a multiple of
 * ATH_SCAN_BLOCK, padding lanes 0); returns the first product whose point
 * is not finite, or n when all are. */
size_t ath_scan_norms(const float *blocks, size_t n, size_t d, float *n2);

/* A bounded max-heap of the k best hits so far (root: the worst kept),
 * ordered by (distance, index), NaN last. */
typedef struct ath_heap {
	anthem_hit *h;
	size_t n, k;
} ath_heap;

/* Offer one hit. */
void ath_heap_push(ath_heap *hp, size_t index, float distance);

/* Sort the kept hits best first (the heap is consumed). */
void ath_heap_sort(ath_heap *hp);

/* Floats of work space that ath_scan_blocks needs for dimension d (one
 * buffer per thread, 64-byte aligned). */
size_t ath_scan_work_floats(size_t d);

/* Scan blocks [b_lo, b_hi) of an index of n products against the query,
 * offering every product to the heap (with allow, a bitset over the
 * products, only those whose bit is set).  The same product always gets
 * the same float distance, whatever the split into ranges. */
void ath_scan_blocks(const ath_scan_query *q, const float *blocks,
		     const float *n2, size_t n, size_t b_lo, size_t b_hi,
		     const uint64_t *allow, float *work, ath_heap *hp);

/* The distance of product i, the same float as ath_scan_blocks gives it
 * (its block is computed; work as for ath_scan_blocks).  n2 may be NULL
 * (an index with int8 points keeps no norms): the block's are computed
 * then, by ath_scan_norms, to the same bits. */
float ath_scan_at(const ath_scan_query *q, const float *blocks,
		  const float *n2, size_t i, float *work);

/* Compact stage-1 points (docs/architecture.md, "Compact points"): the
 * points' tangent-space int8 codes (quant.c) in the blocked layout, block b
 * holding d rows of 16 codes, and per block 32 floats: the 16 products'
 * radial factors f, then the squared norms of their decoded points.  A
 * product decodes to x_k = (code_k * scale_k) * f in float: the exponential
 * map at the origin of the tangent vector (code_k * scale_k)_k, whose
 * direction it keeps, so that f = |exp0(u)| / |u|.  40 bytes a product at
 * d = 32 against the float blocks' 132. */
typedef struct ath_scan8 {
	int on;
	const int8_t *codes; /* nblocks x d x 16 */
	const float *lanes;  /* nblocks x 32: f[16], n2[16] */
	const float *scale;  /* d steps of the tangent coordinates */
	int8_t *owned_codes;
	float *owned_lanes, *owned_scale;
} ath_scan8;

/* Codes of n points in blocks (d <= ATH_SCAN_MAX_DIM) in space s:
 * ANTHEM_OK or ANTHEM_ENOMEM (fn names the caller). */
int ath_scan8_build(ath_scan8 *c, const geo_space *s, const float *blocks,
		    size_t n, size_t d, const char *fn);
void ath_scan8_free(ath_scan8 *c);

/* ath_scan_blocks over the int8 points: the distance of each product's
 * decoded point (an approximation of its float distance, to be re-scored:
 * ath_scan_rescore). */
void ath_scan8_blocks(const ath_scan_query *q, const ath_scan8 *c, size_t n,
		      size_t b_lo, size_t b_hi, const uint64_t *allow,
		      float *work, ath_heap *hp);

/* The box prefilter of the int8 scan (docs/architecture.md, "The box
 * prefilter"): blocks [b_lo, b_hi) offered to the heap by a flat
 * distance of each product's code to the query's box, made symmetric
 * about the middle of its corners and taken to the codes' tangent space by
 * the centre's factor, in 16-bit integers (scan_loop.c, box_block): a
 * fraction of the arithmetic of ath_scan8_blocks, so that only the best
 * of them get their distance re-scored.  The values are integers as
 * floats, the same at every x86-64 level.  Only for 0 <= gamma <= 1
 * (where the inside part weighs no more than the outside one) and up to
 * 128 dimensions: ath_scan8_prefilter_ok. */
int ath_scan8_prefilter_ok(const ath_scan_query *q);
void ath_scan8_prefilter(const ath_scan_query *q, const ath_scan8 *c,
			 size_t n, size_t b_lo, size_t b_hi,
			 const uint64_t *allow, ath_heap *hp);

/* The k best of nc candidates (any order) by the float distance of the
 * blocks (what ath_scan_at gives each, n2 NULL as there), best first under
 * (distance, index), into out; *nout = min(k, nc). */
void ath_scan_rescore(const ath_scan_query *q, const float *blocks,
		      const float *n2, const anthem_hit *cand, size_t nc,
		      size_t k, float *work, anthem_hit *out, size_t *nout);

/* Copy an index's points out, row-major (n x dim floats). */
void ath_index_points(const anthem_index *ix, float *out);

/* An index of raw points with empty ids and titles (benchmarks, tests). */
int ath_index_from_points(anthem_index **out, const float *points, size_t n,
			  size_t d);

#endif
