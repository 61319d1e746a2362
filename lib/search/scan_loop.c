/* The stage-1 scan's blocked float loop (scan.c says what it computes).
 *
 * lib/meson.build compiles this file once per x86-64 level, each with its
 * own -march and its own vector width L: 16 lanes (one AVX-512 register)
 * for x86-64-v4, 8 (one AVX2 register) for v3, 4 (one SSE register) for
 * the baseline, which also serves CPUs that are not x86-64.  A vector wider
 * than the target's registers is not split well by GCC: it kept the 16-lane
 * sums of an AVX2 build in memory and ran ten times slower than the
 * AVX-512 copy.  The index's blocks stay 16 products; a narrower copy does
 * a block in 16 / L parts.  Lanes are products, so every product's sums
 * run in the same order at every width; the copies with fused
 * multiply-adds (v3, v4) round differently from the one without. */
#include "search/scan_loop.h"

#include <math.h>
#include <stdint.h>

#ifndef SCAN_LANES /* the baseline copy */
#define SCAN_LANES 4
#define SCAN_LEVEL base
#endif
#define L SCAN_LANES
#define W ATH_SCAN_BLOCK

#include "search/lanes.h"

#include "autograd/vmath.h"

/* L int8 codes of one row of a block as floats.  GCC 12 turns
 * __builtin_convertvector of int8 lanes into one scalar conversion a lane,
 * so the levels with a sign-extending load use it. */
#if L == 16 && defined(__AVX512F__)
#include <immintrin.h>
INLINE vf load_codes(const int8_t *p)
{
	return (vf)_mm512_cvtepi32_ps(
		_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
#elif L == 8 && defined(__AVX2__)
#include <immintrin.h>
INLINE vf load_codes(const int8_t *p)
{
	return (vf)_mm256_cvtepi32_ps(
		_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
#elif L == 4 && defined(__SSE2__)
#include <emmintrin.h>
#include <string.h>
INLINE vf load_codes(const int8_t *p)
{
	/* SSE2 has no sign-extending load: each byte doubled into a 16-bit
	 * lane and shifted back down keeps its sign, likewise to 32 bits */
	int32_t four;
	memcpy(&four, p, sizeof four);
	__m128i b = _mm_cvtsi32_si128(four);
	__m128i w = _mm_srai_epi16(_mm_unpacklo_epi8(b, b), 8);
	__m128i d = _mm_srai_epi32(_mm_unpacklo_epi16(w, w), 16);
	return (vf)_mm_cvtepi32_ps(d);
}
#else
INLINE vf load_codes(const int8_t *p)
{
	vf x;
	for (int j = 0; j < L; j++)
		x[j] = (float)p[j];
	return x;
}
#endif

/* Row k of L lanes of a block, for pass 1: the float block's own, or
 * (code * step) * f of an int8 block, then kept in dbuf for passes 2 and
 * 3 (decoded where pass 1 reads it, not in a loop of its own before: one
 * store a row instead of a store and a load). */
typedef struct rows {
	const float *blk;                   /* float rows, or NULL */
	const int8_t *codes;                /* int8 rows, or NULL */
	const int32_t *packed;              /* int8 rows four to a word */
	const float *f;                     /* the radial factors */
	const float *step;                  /* per dimension */
	float *dbuf;                        /* the decoded rows */
} rows;

/* Row k of a block whose rows are packed four to a 32-bit word (word g of
 * lane j holds dimensions 4g to 4g + 3 of product j, in memory order):
 * the byte shifted to the top, then arithmetically back down. */
INLINE vf load_packed(const int32_t *p, size_t k)
{
	vi w = *(const vi *)(p + k / 4 * W);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	int up = (int)(k % 4) * 8;
#else
	int up = 24 - (int)(k % 4) * 8;
#endif
	w = (vi)((vu)w << up);
	return __builtin_convertvector(w >> 24, vf);
}

INLINE vf row_at(const rows *r, size_t k)
{
	if (r->blk)
		return *(const vf *)(r->blk + k * W);
	vf c = r->packed ? load_packed(r->packed, k) : load_codes(r->codes + k * W);
	vf x = c * r->step[k] * *(const vf *)r->f;
	*(vf *)(r->dbuf + k * W) = x;
	return x;
}

/* The distances of L of the 16 products of one block (the rows, n2,
 * qmaxv, qminv, tbuf and out point at the first of them; rows stay W = 16
 * floats apart): the algebra of ath_scan_one with each product in a lane. */
INLINE void block_part(const fquery *q, const rows *r, const float *n2,
		       const float *qmaxv, const float *qminv, float *tbuf,
		       float *out)
{
	vf v2 = *(const vf *)n2;
	size_t d = q->d;
	float cc = q->cc;
	const vf zero = {0};
	/* pass 1: <v,qmax>, <v,qmin>; two accumulators each, so that the adds
	 * of consecutive dimensions do not wait for each other */
	vf vmax0 = zero, vmax1 = zero, vmin0 = zero, vmin1 = zero;
	size_t k = 0;
	for (; k + 1 < d; k += 2) {
		vf x0 = row_at(r, k), x1 = row_at(r, k + 1);
		vmax0 += x0 * q->qmax[k];
		vmin0 += x0 * q->qmin[k];
		vmax1 += x1 * q->qmax[k + 1];
		vmin1 += x1 * q->qmin[k + 1];
	}
	if (k < d) {
		vf x = row_at(r, k);
		vmax0 += x * q->qmax[k];
		vmin0 += x * q->qmin[k];
	}
	vf vmx = vmax0 + vmax1, vmn = vmin0 + vmin1;
	const float *blk = r->blk ? r->blk : r->dbuf;
	/* a = v (+) (-qmax), b = qmin (+) (-v): x (+) y = (A x + B y) / D */
	vf Aa = 1.0f - 2.0f * cc * vmx + cc * q->qmax2;
	vf Ba = 1.0f - cc * v2;
	vf Da = 1.0f - 2.0f * cc * vmx + cc * cc * q->qmax2 * v2;
	vf Ab = 1.0f - 2.0f * cc * vmn + cc * v2;
	float Bb = 1.0f - cc * q->qmin2;
	vf Db = 1.0f - 2.0f * cc * vmn + cc * cc * q->qmin2 * v2;
	/* pass 2: the outside parts, and <c,t>, |t|^2 of the clamp
	 * t = min(qmax, max(qmin, v)) */
	vf pa = zero, pb = zero, ct = zero, t2 = zero;
	for (k = 0; k < d; k++) {
		vf x = *(const vf *)(blk + k * W);
		vf qx = *(const vf *)(qmaxv + k * W), qn = *(const vf *)(qminv + k * W);
		pa += vmax(Aa * x - Ba * qx, zero);
		pb += vmax(Ab * qn - Bb * x, zero);
		vf t = vmin(qx, vmax(qn, x));
		/* kept for pass 3: a store and a load cost less than the two
		 * compares and blends of the clamp again */
		*(vf *)(tbuf + k * W) = t;
		ct += t * q->c[k];
		t2 += t * t;
	}
	/* pass 3: e = c (+) (-t) */
	vf Ae = 1.0f - 2.0f * cc * ct + cc * t2;
	float Be = 1.0f - cc * q->c2;
	vf De = 1.0f - 2.0f * cc * ct + cc * cc * q->c2 * t2;
	vf in0 = zero, in1 = zero;
	for (k = 0; k + 1 < d; k += 2) {
		in0 += vabs(Ae * q->c[k] - Be * *(const vf *)(tbuf + k * W));
		in1 += vabs(Ae * q->c[k + 1] - Be * *(const vf *)(tbuf + (k + 1) * W));
	}
	if (k < d)
		in0 += vabs(Ae * q->c[k] - Be * *(const vf *)(tbuf + k * W));
	/* the floor under the denominators of geo_box_dist */
	const vf floor_ = zero + (float)GEO_MIN_NORM;
	Da = vmax(Da, floor_);
	Db = vmax(Db, floor_);
	De = vmax(De, floor_);
	*(vf *)out = pa / Da + pb / Db + q->gamma * (in0 + in1) / De;
}

/* The 16 products of one block, L at a time. */
INLINE void block_dist(const fquery *q, const float *blk, const float *n2,
		       float *out)
{
	for (size_t o = 0; o < W; o += L) {
		rows r = {.blk = blk + o};
		block_part(q, &r, n2 + o, q->qmaxv + o, q->qminv + o,
			   q->tbuf + o, out + o);
	}
}

void SCAN_NAME(ath_scan_block_)(const fquery *q, const float *blk,
				const float *n2, float *dist)
{
	block_dist(q, blk, n2, dist);
}

/* Offer the lanes of block b that the filter allows and that might beat
 * the heap's worst (NaN passes: the heap decides). */
INLINE void offer(ath_heap *hp, size_t n, size_t b, unsigned bits,
		  const float *dist)
{
	float worst = hp->n < hp->k || isnan(hp->h[0].distance)
			      ? INFINITY : hp->h[0].distance;
	size_t lanes = n - b * W < W ? n - b * W : W;
	for (size_t j = 0; j < lanes; j++)
		if (bits >> j & 1u && !(dist[j] > worst)) {
			ath_heap_push(hp, b * W + j, dist[j]);
			worst = hp->n < hp->k || isnan(hp->h[0].distance)
					? INFINITY : hp->h[0].distance;
		}
}

/* a block's 16 products are 16 bits of one word of the filter */
INLINE unsigned block_bits(const uint64_t *allow, size_t b)
{
	return allow ? (unsigned)(allow[b / 4] >> (b % 4 * W)) & 0xffffu : 0xffffu;
}

void SCAN_NAME(ath_scan_range_)(const fquery *q, const float *blocks,
				const float *n2, size_t n, size_t b_lo,
				size_t b_hi, const uint64_t *allow,
				ath_heap *hp)
{
	size_t d = q->d;
	for (size_t b = b_lo; b < b_hi; b++) {
		float dist[W];
		unsigned bits = block_bits(allow, b);
		if (!bits)
			continue;
		block_dist(q, blocks + b * d * W, n2 + b * W, dist);
		offer(hp, n, b, bits, dist);
	}
}

void SCAN_NAME(ath_scan_range8_)(const fquery *q, const int8_t *codes,
				 const float *lanes, size_t n, size_t b_lo,
				 size_t b_hi, const uint64_t *allow,
				 ath_heap *hp)
{
	size_t d = q->d;
	for (size_t b = b_lo; b < b_hi; b++) {
		float dist[W];
		unsigned bits = block_bits(allow, b);
		if (!bits)
			continue;
		/* x = (code * step) * f, in this order in every copy and in
		 * ath_scan8_build (which stores the squared norms of exactly
		 * these floats); the 2 KiB decoded block stays in L1 */
		const int8_t *cb = codes + b * d * W;
		const float *f = lanes + b * 2 * W;
		for (size_t o = 0; o < W; o += L) {
			rows r = {.codes = cb + o, .f = f + o,
				  .step = q->dscale, .dbuf = q->dbuf + o};
			block_part(q, &r, f + W + o, q->qmaxv + o,
				   q->qminv + o, q->tbuf + o, dist + o);
		}
		offer(hp, n, b, bits, dist);
	}
}

/* The distances of 16 int8 points gathered from anywhere (the approximate
 * index's beam, ann.c): cb holds their codes as one block packed four to
 * a word (load_packed), q->dscale the steps.  Each decodes as quant.c
 * does, through the exponential map at the origin: x = u tanh(s) / s for
 * u = code * step and s = sqrt(c)|u|, s clipped where geo_exp0 projects;
 * sc is sqrt(c), 0 in flat space (x = u).  The factors tanh(s) / s of the
 * 16 are made here, Cephes' tanh (autograd/vmath.h), so that the gather
 * moves words only; then the int8 scan's own part (row_at decodes
 * (code * step) * f), with |x|^2 as f^2 |u|^2. */
void SCAN_NAME(ath_scan_gathered8_)(const fquery *q, const int32_t *cb,
				    float sc, float *dist)
{
	size_t d = q->d;
	float u2[W] __attribute__((aligned(64)));
	float lanes[2 * W] __attribute__((aligned(64))); /* f, then |x|^2 */
	for (size_t o = 0; o < W; o += L) {
		vf s0 = {0}, s1 = {0};
		size_t k = 0;
		for (; k + 1 < d; k += 2) {
			vf u0 = load_packed(cb + o, k) * q->dscale[k];
			vf u1 = load_packed(cb + o, k + 1) * q->dscale[k + 1];
			s0 += u0 * u0;
			s1 += u1 * u1;
		}
		if (k < d) {
			vf u = load_packed(cb + o, k) * q->dscale[k];
			s0 += u * u;
		}
		*(vf *)(u2 + o) = s0 + s1;
	}
	float rad[W], t[W] __attribute__((aligned(64)));
	for (size_t j = 0; j < W; j++) {
		rad[j] = sc * sqrtf(u2[j]);
		t[j] = rad[j] < 6.1030338f ? rad[j] : 6.1030338f;
	}
	vm_tanh(W, t, t);
	for (size_t j = 0; j < W; j++) {
		float f = rad[j] == 0.0f ? 1.0f : t[j] / rad[j]; /* flat: sc = 0 */
		lanes[j] = f;
		lanes[W + j] = f * f * u2[j];
	}
	for (size_t o = 0; o < W; o += L) {
		rows r = {.packed = cb + o, .f = lanes + o, .step = q->dscale,
			  .dbuf = q->dbuf + o};
		block_part(q, &r, lanes + W + o, q->qmaxv + o, q->qminv + o,
			   q->tbuf + o, dist + o);
	}
}

/* The box prefilter's value of the 16 products of one int8 block (scan.h,
 * ath_scan8_prefilter): in the codes' own units, per dimension
 * a = |code_k - m_k|, t = max(gamma a, a - o_k) (gamma a inside the box,
 * gamma r_k + (a - r_k) outside: the distance's shape with neither its
 * Möbius factors nor each point's radial factor), then t << shift weighed
 * by the dimension's step, all in 16-bit integers: the products of 16-bit
 * lanes round as _mm_mulhrs_epi16 does, (x y + 2^14) >> 15, and the sum
 * of the d terms stays below 2^16 (ath_scan8_prefilter bounds m_k, o_k
 * and the shift), so every level gives the same integers.  Levels with
 * AVX-512 take two rows (32 codes) to one register, AVX2 one row. */
#if defined(__AVX512BW__)
#include <immintrin.h>
INLINE __m512i box_rows2(const bquery *q, const int8_t *c, size_t k,
			 __m512i acc)
{
	__m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)c));
	/* lanes 0-15 dimension k, 16-31 dimension k + 1 */
	__m512i m = _mm512_inserti64x4(_mm512_set1_epi16(q->mid[k]),
				       _mm256_set1_epi16(q->mid[k + 1]), 1);
	__m512i o = _mm512_inserti64x4(_mm512_set1_epi16(q->out[k]),
				       _mm256_set1_epi16(q->out[k + 1]), 1);
	__m512i w = _mm512_inserti64x4(_mm512_set1_epi16(q->weight[k]),
				       _mm256_set1_epi16(q->weight[k + 1]), 1);
	__m512i a = _mm512_abs_epi16(_mm512_sub_epi16(x, m));
	__m512i t = _mm512_max_epi16(
		_mm512_mulhrs_epi16(a, _mm512_set1_epi16(q->gamma)),
		_mm512_sub_epi16(a, o));
	t = _mm512_sll_epi16(t, _mm_cvtsi32_si128(q->shift));
	return _mm512_add_epi16(acc, _mm512_mulhrs_epi16(t, w));
}
#endif
#if defined(__AVX2__)
#include <immintrin.h>
INLINE __m256i box_row(const bquery *q, const int8_t *c, size_t k,
		       __m256i acc)
{
	__m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)c));
	__m256i a = _mm256_abs_epi16(_mm256_sub_epi16(x, _mm256_set1_epi16(q->mid[k])));
	__m256i t = _mm256_max_epi16(
		_mm256_mulhrs_epi16(a, _mm256_set1_epi16(q->gamma)),
		_mm256_sub_epi16(a, _mm256_set1_epi16(q->out[k])));
	t = _mm256_sll_epi16(t, _mm_cvtsi32_si128(q->shift));
	return _mm256_add_epi16(acc, _mm256_mulhrs_epi16(
					     t, _mm256_set1_epi16(q->weight[k])));
}
#endif

/* (x y + 2^14) >> 15 of two 16-bit integers, as _mm_mulhrs_epi16 */
INLINE int16_t mulhrs(int32_t x, int32_t y)
{
	return (int16_t)((x * y + 0x4000) >> 15);
}

INLINE void box_block(const bquery *q, const int8_t *cb, float *out)
{
	size_t d = q->d, k = 0;
#if defined(__AVX2__)
	__m256i acc = _mm256_setzero_si256();
#if defined(__AVX512BW__)
	__m512i acc2 = _mm512_setzero_si512();
	for (; k + 1 < d; k += 2)
		acc2 = box_rows2(q, cb + k * W, k, acc2);
	acc = _mm256_add_epi16(_mm512_castsi512_si256(acc2),
			       _mm512_extracti64x4_epi64(acc2, 1));
#endif
	for (; k < d; k++)
		acc = box_row(q, cb + k * W, k, acc);
	uint16_t sum[W];
	_mm256_storeu_si256((__m256i *)sum, acc);
	for (size_t j = 0; j < W; j++)
		out[j] = (float)sum[j];
#else
	uint16_t sum[W] = {0};
	for (; k < d; k++)
		for (size_t j = 0; j < W; j++) {
			int32_t a = cb[k * W + j] - q->mid[k];
			a = a < 0 ? -a : a;
			int32_t in = mulhrs(a, q->gamma), out_ = a - q->out[k];
			int32_t t = (in > out_ ? in : out_) << q->shift;
			sum[j] = (uint16_t)(sum[j] + (uint16_t)mulhrs(t, q->weight[k]));
		}
	for (size_t j = 0; j < W; j++)
		out[j] = (float)sum[j];
#endif
}

void SCAN_NAME(ath_scan_box8_)(const bquery *q, const int8_t *codes, size_t n,
			       size_t b_lo, size_t b_hi, const uint64_t *allow,
			       ath_heap *hp)
{
	size_t d = q->d;
	for (size_t b = b_lo; b < b_hi; b++) {
		float dist[W];
		unsigned bits = block_bits(allow, b);
		if (!bits)
			continue;
		box_block(q, codes + b * d * W, dist);
		offer(hp, n, b, bits, dist);
	}
}
