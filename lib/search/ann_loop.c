/* The approximate index's distance loops: 16 points at a time, each a lane
 * (ann.c gathers them).  Compiled once per x86-64 level with its -march and
 * vector width L (16, 8, 4 lanes), as scan_loop.c and for its reason: GCC
 * keeps vectors wider than the target's registers in memory. */
#include "search/ann_loop.h"

#include "geometry/geometry.h"

#include <stdint.h>

#ifndef ANN_LANES /* the baseline copy */
#define ANN_LANES 4
#define ANN_LEVEL base
#endif
#define L ANN_LANES
#define W 16
#define PASTE(a, b) a##b
#define PASTE2(a, b) PASTE(a, b)
#define NAME(prefix) PASTE2(prefix, ANN_LEVEL)

#include "search/lanes.h"

/* L of the 16 points (blk and out at the first of them) */
INLINE void region_part(const ann_fq *q, float *blk, float *out)
{
	size_t d = q->d;
	float cc = q->cc;
	const vf zero = {0};
	vf v2 = zero, vmx = zero, vmn = zero;
	for (size_t k = 0; k < d; k++) {
		vf x = *(const vf *)(blk + k * W);
		v2 += x * x;
		vmx += x * q->qmax[k];
		vmn += x * q->qmin[k];
	}
	/* a = v (+) (-qmax), b = qmin (+) (-v): x (+) y = (A x + B y) / D */
	vf Aa = 1.0f - 2.0f * cc * vmx + cc * q->qmax2;
	vf Ba = 1.0f - cc * v2;
	vf Da = 1.0f - 2.0f * cc * vmx + cc * cc * q->qmax2 * v2;
	vf Ab = 1.0f - 2.0f * cc * vmn + cc * v2;
	float Bb = 1.0f - cc * q->qmin2;
	vf Db = 1.0f - 2.0f * cc * vmn + cc * cc * q->qmin2 * v2;
	/* the outside parts, and <c,t>, |t|^2 of t = min(qmax, max(qmin, v)) */
	vf pa = zero, pb = zero, ct = zero, t2 = zero;
	for (size_t k = 0; k < d; k++) {
		vf x = *(const vf *)(blk + k * W);
		pa += vmax(Aa * x - Ba * q->qmax[k], zero);
		pb += vmax(Ab * q->qmin[k] - Bb * x, zero);
		vf t = vmin(zero + q->qmax[k], vmax(zero + q->qmin[k], x));
		*(vf *)(blk + k * W) = t;
		ct += t * q->c[k];
		t2 += t * t;
	}
	/* e = c (+) (-t) */
	vf Ae = 1.0f - 2.0f * cc * ct + cc * t2;
	float Be = 1.0f - cc * q->c2;
	vf De = 1.0f - 2.0f * cc * ct + cc * cc * q->c2 * t2;
	vf in = zero;
	for (size_t k = 0; k < d; k++)
		in += vabs(Ae * q->c[k] - Be * *(const vf *)(blk + k * W));
	const vf fl = zero + (float)GEO_MIN_NORM;
	*(vf *)out = pa / vmax(Da, fl) + pb / vmax(Db, fl) +
		     q->gamma * in / vmax(De, fl);
}

void NAME(ath_ann_region_)(const ann_fq *q, float *blk, float *out)
{
	for (size_t o = 0; o < W; o += L)
		region_part(q, blk + o, out + o);
}

void NAME(ath_ann_pair_)(const float *blk, size_t d, const float *y,
			 const float *a, float ay, float *out)
{
	for (size_t o = 0; o < W; o += L) {
		vf s0 = {0}, s1 = {0};
		size_t k = 0;
		for (; k + 1 < d; k += 2) {
			vf e0 = *(const vf *)(blk + k * W + o) - y[k];
			vf e1 = *(const vf *)(blk + (k + 1) * W + o) - y[k + 1];
			s0 += e0 * e0;
			s1 += e1 * e1;
		}
		if (k < d) {
			vf e = *(const vf *)(blk + k * W + o) - y[k];
			s0 += e * e;
		}
		*(vf *)(out + o) = (s0 + s1) * *(const vf *)(a + o) * ay;
	}
}
