/* The stage-1 scan: the distance of every product point to one simple
 * hyperboloid, as a tight loop (docs/architecture.md, the region scan).
 *
 * Every Möbius sum in the distance has a per-query operand (the corners
 * qmin, qmax, the centre c) and a per-product one (v, or its clamp t), and
 * x (+) y needs only <x,y>, |x|^2 and |y|^2 besides the vectors.  So per
 * product: |v|^2 (precomputed with the index), <v,qmax>, <v,qmin>, and for
 * the inside part <c,t>, |t|^2 -- a handful of dot products and clamps,
 * then the per-dimension sums.
 *
 * ath_scan_one does this in double for one product: the reference.  The
 * scan proper (ath_scan_blocks) does it in float on blocks of 16 products
 * whose dimensions are interleaved (scan.h), so every per-product scalar is
 * a lane of one 16-float vector: three passes over a block that sits in L1,
 * no horizontal sums, and memory is streamed once.  Float is enough for
 * stage 1: it only has to rank, and stage 2 recomputes the distances of
 * what it keeps with the full model. */
#include "search/scan.h"

#include "common/isa.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

void ath_scan_prepare(const geo_space *s, size_t d, const float *c,
		      const float *l, float gamma, ath_scan_query *q)
{
	q->s = *s;
	q->d = d;
	q->gamma = gamma;
	double cc = s->kind == GEO_HYPERBOLIC ? s->c : 0.0;
	/* qmax = c (+) l, qmin = c (+) (-l), both in double */
	double c2 = 0.0, l2 = 0.0, cl = 0.0;
	for (size_t i = 0; i < d; i++) {
		c2 += (double)c[i] * c[i];
		l2 += (double)l[i] * l[i];
		cl += (double)c[i] * l[i];
	}
	for (int sign = 1; sign >= -1; sign -= 2) {
		double xy = sign * cl;
		double A = 1.0 + 2.0 * cc * xy + cc * l2, B = 1.0 - cc * c2;
		double D = fmax(1.0 + 2.0 * cc * xy + cc * cc * c2 * l2, GEO_MIN_NORM);
		double *dst = sign > 0 ? q->qmax : q->qmin;
		for (size_t i = 0; i < d; i++)
			dst[i] = (A * c[i] + B * sign * l[i]) / D;
	}
	q->c2 = c2;
	q->qmax2 = q->qmin2 = 0.0;
	for (size_t i = 0; i < d; i++) {
		q->c[i] = c[i];
		q->qmax2 += q->qmax[i] * q->qmax[i];
		q->qmin2 += q->qmin[i] * q->qmin[i];
	}
	q->cc = cc;
}

float ath_scan_one(const ath_scan_query *q, const float *v, double v2)
{
	size_t d = q->d;
	double cc = q->cc, vmax = 0.0, vmin = 0.0;
	/* pass 1: the two products with the corners */
	for (size_t i = 0; i < d; i++) {
		vmax += v[i] * q->qmax[i];
		vmin += v[i] * q->qmin[i];
	}
	/* a = v (+) (-qmax) and b = qmin (+) (-v) need only these scalars
	 * (x (+) y = (A x + B y) / D, geometry.h), so pass 2 forms both outside
	 * parts, and the clamp t = min(qmax, max(qmin, v)) with <c,t>, |t|^2.
	 * Ternaries, not fmin/fmax: the points are finite (checked when the
	 * index is built or loaded) and the loop then vectorises. */
	double Aa = 1.0 - 2.0 * cc * vmax + cc * q->qmax2, Ba = 1.0 - cc * v2;
	double Da = 1.0 - 2.0 * cc * vmax + cc * cc * v2 * q->qmax2;
	double Ab = 1.0 - 2.0 * cc * vmin + cc * v2, Bb = 1.0 - cc * q->qmin2;
	double Db = 1.0 - 2.0 * cc * vmin + cc * cc * q->qmin2 * v2;
	double pa = 0.0, pb = 0.0, ct = 0.0, t2 = 0.0;
	double t[ATH_SCAN_MAX_DIM];
	for (size_t i = 0; i < d; i++) {
		double x = v[i];
		double a = Aa * x - Ba * q->qmax[i];
		double b = Ab * q->qmin[i] - Bb * x;
		pa += a > 0.0 ? a : 0.0;
		pb += b > 0.0 ? b : 0.0;
		double lo = q->qmin[i] > x ? q->qmin[i] : x;
		double ti = q->qmax[i] < lo ? q->qmax[i] : lo;
		t[i] = ti;
		ct += q->c[i] * ti;
		t2 += ti * ti;
	}
	/* pass 3: e = c (+) (-t) */
	double Ae = 1.0 - 2.0 * cc * ct + cc * t2, Be = 1.0 - cc * q->c2;
	double De = 1.0 - 2.0 * cc * ct + cc * cc * q->c2 * t2;
	double in = 0.0;
	for (size_t i = 0; i < d; i++) {
		double e = Ae * q->c[i] - Be * t[i];
		in += e < 0.0 ? -e : e;
	}
	/* the same floor under the denominators as geo_box_dist */
	Da = Da > GEO_MIN_NORM ? Da : GEO_MIN_NORM;
	Db = Db > GEO_MIN_NORM ? Db : GEO_MIN_NORM;
	De = De > GEO_MIN_NORM ? De : GEO_MIN_NORM;
	return (float)(pa / Da + pb / Db + q->gamma * in / De);
}

/* ---- the blocked layout --------------------------------------------------- */

#define W ATH_SCAN_BLOCK

size_t ath_scan_block_floats(size_t n, size_t d)
{
	return (n + W - 1) / W * W * d;
}

void ath_scan_to_blocks(const float *points, size_t n, size_t d, float *blocks)
{
	size_t nb = (n + W - 1) / W;
	memset(blocks, 0, nb * W * d * sizeof *blocks);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < d; k++)
			blocks[(i / W * d + k) * W + i % W] = points[i * d + k];
}

void ath_scan_from_blocks(const float *blocks, size_t lo, size_t hi, size_t d,
			  float *points)
{
	for (size_t i = lo; i < hi; i++)
		for (size_t k = 0; k < d; k++)
			points[(i - lo) * d + k] = blocks[(i / W * d + k) * W + i % W];
}

size_t ath_scan_norms(const float *blocks, size_t n, size_t d, float *n2)
{
	size_t nb = (n + W - 1) / W;
	for (size_t b = 0; b < nb; b++) {
		/* in double, like the reference, then rounded once */
		double s[W] = {0};
		const float *blk = blocks + b * d * W;
		for (size_t k = 0; k < d; k++)
			for (size_t j = 0; j < W; j++)
				s[j] += (double)blk[k * W + j] * blk[k * W + j];
		for (size_t j = 0; j < W; j++) {
			size_t i = b * W + j;
			if (i < n && !isfinite(s[j]))
				return i;
			n2[i] = i < n ? (float)s[j] : 0.0f;
		}
	}
	return n;
}

/* ---- the bounded heap ----------------------------------------------------- */

/* a before b? (smaller distance, then smaller index; NaN last), the order
 * of ath_topk */
static int before(const anthem_hit *a, const anthem_hit *b)
{
	float x = a->distance, y = b->distance;
	if (isnan(x) || isnan(y))
		return isnan(y) && !isnan(x) ? 1
					     : (isnan(x) && isnan(y) && a->index < b->index);
	return x < y || (x == y && a->index < b->index);
}

static void sift_down(anthem_hit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && before(&h[w], &h[l]))
			w = l;
		if (r < n && before(&h[w], &h[r]))
			w = r;
		if (w == i)
			return;
		anthem_hit t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

void ath_heap_push(ath_heap *hp, size_t index, float distance)
{
	anthem_hit x = {index, distance};
	if (hp->n < hp->k) {
		/* sift up: the worst stays at the root */
		size_t i = hp->n++;
		while (i > 0 && before(&hp->h[(i - 1) / 2], &x)) {
			hp->h[i] = hp->h[(i - 1) / 2];
			i = (i - 1) / 2;
		}
		hp->h[i] = x;
	} else if (hp->k > 0 && before(&x, &hp->h[0])) {
		hp->h[0] = x;
		sift_down(hp->h, hp->n, 0);
	}
}

void ath_heap_sort(ath_heap *hp)
{
	for (size_t m = hp->n; m > 1; m--) {
		anthem_hit t = hp->h[0];
		hp->h[0] = hp->h[m - 1];
		hp->h[m - 1] = t;
		sift_down(hp->h, m - 1, 0);
	}
}

/* ---- the blocked float loop ----------------------------------------------- */

/* GCC's vector extension: one 16-float vector per block row.  The compiler
 * lowers it to one AVX-512 register, two AVX2 ones or four SSE ones,
 * whatever the target has; aligned(4) allows any float-aligned address. */
typedef float vf __attribute__((vector_size(4 * W), aligned(4)));
typedef int32_t vi __attribute__((vector_size(4 * W), aligned(4)));

typedef struct fquery {
	size_t d;
	float cc, gamma, qmax2, qmin2, c2;
	float qmax[ATH_SCAN_MAX_DIM], qmin[ATH_SCAN_MAX_DIM], c[ATH_SCAN_MAX_DIM];
	/* the corners again, each value repeated in 16 lanes: the compares of
	 * the clamp then load a vector instead of broadcasting a scalar (a
	 * shuffle, on the port the compares need too) */
	const float *qmaxv, *qminv;
	float *tbuf; /* the clamped block, d x 16 */
} fquery;

#define INLINE static inline __attribute__((always_inline))

/* GCC and Clang warn that passing 64-byte vectors by value has another
 * ABI with and without AVX-512; these helpers are always inlined, never
 * called. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* (a > b ? a : b) and the like, lane by lane; compilers turn these into
 * max/min/blend instructions */
INLINE vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
INLINE vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
INLINE vf vmin(vf a, vf b) { return vsel(a < b, a, b); }
INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }

/* The distances of the 16 products of one block: the algebra of
 * ath_scan_one with each product in a lane. */
INLINE void block_dist(const fquery *q, const float *blk, const float *n2,
		       float *out)
{
	float *tbuf = q->tbuf;
	vf v2 = *(const vf *)n2;
	size_t d = q->d;
	float cc = q->cc;
	const vf zero = {0};
	/* pass 1: <v,qmax>, <v,qmin>; two accumulators each, so that the adds
	 * of consecutive dimensions do not wait for each other */
	vf vmax0 = zero, vmax1 = zero, vmin0 = zero, vmin1 = zero;
	size_t k = 0;
	for (; k + 1 < d; k += 2) {
		vf x0 = *(const vf *)(blk + k * W), x1 = *(const vf *)(blk + (k + 1) * W);
		vmax0 += x0 * q->qmax[k];
		vmin0 += x0 * q->qmin[k];
		vmax1 += x1 * q->qmax[k + 1];
		vmin1 += x1 * q->qmin[k + 1];
	}
	if (k < d) {
		vf x = *(const vf *)(blk + k * W);
		vmax0 += x * q->qmax[k];
		vmin0 += x * q->qmin[k];
	}
	vf vmx = vmax0 + vmax1, vmn = vmin0 + vmin1;
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
		vf qx = *(const vf *)(q->qmaxv + k * W), qn = *(const vf *)(q->qminv + k * W);
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

/* The loop over a range of blocks; each kernel below is this body
 * compiled for one instruction set. */
INLINE void range_body(const fquery *q, const float *blocks, const float *n2,
		       size_t n, size_t b_lo, size_t b_hi,
		       const uint64_t *allow, ath_heap *hp)
{
	size_t d = q->d;
	for (size_t b = b_lo; b < b_hi; b++) {
		float dist[W];
		/* a block's 16 products are 16 bits of one word of the filter */
		unsigned bits = allow ? (unsigned)(allow[b / 4] >> (b % 4 * W)) & 0xffffu
				      : 0xffffu;
		if (!bits)
			continue;
		block_dist(q, blocks + b * d * W, n2 + b * W, dist);
		/* the worst kept so far; a lane is offered only if it might beat
		 * it (NaN passes: the heap decides) */
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
}

/* One copy of the loop per x86-64 level (lib/common/isa.h).  Lanes are
 * products, so every product's sums run in the same order whatever the
 * vector width; the copies with fused multiply-adds (x86-64-v3, v4) round
 * differently from the one without (default). */
typedef struct scan_kernel {
	void (*range)(const fquery *, const float *, const float *, size_t,
		      size_t, size_t, const uint64_t *, ath_heap *);
	void (*block)(const fquery *, const float *, const float *, float *);
} scan_kernel;

#define SCAN_KERNEL(sfx, attr)                                               \
	attr static void range_##sfx(const fquery *q, const float *blocks,   \
				     const float *n2, size_t n, size_t b_lo, \
				     size_t b_hi, const uint64_t *allow,     \
				     ath_heap *hp)                           \
	{                                                                    \
		range_body(q, blocks, n2, n, b_lo, b_hi, allow, hp);         \
	}                                                                    \
	attr static void block_##sfx(const fquery *q, const float *blk,      \
				     const float *n2, float *dist)           \
	{                                                                    \
		block_dist(q, blk, n2, dist);                                \
	}

SCAN_KERNEL(base, )
#if defined(ATH_HAVE_TARGET_LEVELS)
SCAN_KERNEL(v3, __attribute__((target("arch=x86-64-v3"))))
SCAN_KERNEL(v4, __attribute__((target("arch=x86-64-v4"))))
static const scan_kernel kernels[] = {
	[ATH_ISA_DEFAULT] = {range_base, block_base},
	[ATH_ISA_V3] = {range_v3, block_v3},
	[ATH_ISA_V4] = {range_v4, block_v4},
};
#else
static const scan_kernel kernels[] = {[ATH_ISA_DEFAULT] = {range_base, block_base}};
#endif

static const scan_kernel *get_kernel(void)
{
	return &kernels[ath_isa_level()];
}

size_t ath_scan_work_floats(size_t d)
{
	return 3 * W * d;
}

static void set_fquery(const ath_scan_query *q, float *work, fquery *out)
{
	fquery f;
	f.d = q->d;
	f.cc = (float)q->cc;
	f.gamma = q->gamma;
	f.qmax2 = (float)q->qmax2;
	f.qmin2 = (float)q->qmin2;
	f.c2 = (float)q->c2;
	for (size_t k = 0; k < q->d; k++) {
		f.qmax[k] = (float)q->qmax[k];
		f.qmin[k] = (float)q->qmin[k];
		f.c[k] = (float)q->c[k];
		for (size_t j = 0; j < W; j++) {
			work[k * W + j] = f.qmax[k];
			work[(q->d + k) * W + j] = f.qmin[k];
		}
	}
	f.qmaxv = work;
	f.qminv = work + q->d * W;
	f.tbuf = work + 2 * q->d * W;
	*out = f;
}

void ath_scan_blocks(const ath_scan_query *q, const float *blocks,
		     const float *n2, size_t n, size_t b_lo, size_t b_hi,
		     const uint64_t *allow, float *work, ath_heap *hp)
{
	fquery f;
	set_fquery(q, work, &f);
	get_kernel()->range(&f, blocks, n2, n, b_lo, b_hi, allow, hp);
}

float ath_scan_at(const ath_scan_query *q, const float *blocks,
		  const float *n2, size_t i, float *work)
{
	fquery f;
	float dist[W];
	set_fquery(q, work, &f);
	/* through the same kernel as the scan (they agree, but a caller
	 * comparing the two should not depend on it) */
	get_kernel()->block(&f, blocks + i / W * q->d * W, n2 + i / W * W, dist);
	return dist[i % W];
}
