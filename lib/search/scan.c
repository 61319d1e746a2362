/* The stage-1 scan: the distance of every product point to one simple
 * hyperboloid, as a tight loop (DESIGN.md, "Retrieval at scale").
 *
 * Every Möbius sum in the distance has a per-query operand (the corners
 * qmin, qmax, the centre c) and a per-product one (v, or its clamp t), and
 * x (+) y needs only <x,y>, |x|^2 and |y|^2 besides the vectors.  So per
 * product: |v|^2 (precomputed with the index), <v,qmax>, <v,qmin>, and for
 * the inside part <c,t>, |t|^2 -- a handful of dot products and clamps,
 * then the per-dimension sums.  The result equals geo_box_dist (same
 * formulas, in double) up to rounding. */
#include "search/scan.h"

#include <math.h>

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
	double cc = q->cc, vmax = 0.0, vmin = 0.0, vd[ATH_SCAN_MAX_DIM];
	for (size_t i = 0; i < d; i++) {
		vd[i] = v[i];
		vmax += vd[i] * q->qmax[i];
		vmin += vd[i] * q->qmin[i];
	}
	/* a = v (+) (-qmax): x = v, y = -qmax, <x,y> = -vmax */
	double A = 1.0 - 2.0 * cc * vmax + cc * q->qmax2, B = 1.0 - cc * v2;
	double D = fmax(1.0 - 2.0 * cc * vmax + cc * cc * v2 * q->qmax2,
			GEO_MIN_NORM);
	double out = 0.0;
	for (size_t i = 0; i < d; i++) {
		double a = A * vd[i] - B * q->qmax[i];
		out += a > 0.0 ? a : 0.0;
	}
	out /= D;
	/* b = qmin (+) (-v): x = qmin, y = -v, <x,y> = -vmin */
	A = 1.0 - 2.0 * cc * vmin + cc * v2;
	B = 1.0 - cc * q->qmin2;
	D = fmax(1.0 - 2.0 * cc * vmin + cc * cc * q->qmin2 * v2, GEO_MIN_NORM);
	double b = 0.0;
	for (size_t i = 0; i < d; i++) {
		double x = A * q->qmin[i] - B * vd[i];
		b += x > 0.0 ? x : 0.0;
	}
	out += b / D;
	/* e = c (+) (-t), t = min(qmax, max(qmin, v)) */
	double ct = 0.0, t2 = 0.0, t[ATH_SCAN_MAX_DIM];
	for (size_t i = 0; i < d; i++) {
		double x = fmin(q->qmax[i], fmax(q->qmin[i], vd[i]));
		t[i] = x;
		ct += q->c[i] * x;
		t2 += x * x;
	}
	A = 1.0 - 2.0 * cc * ct + cc * t2;
	B = 1.0 - cc * q->c2;
	D = fmax(1.0 - 2.0 * cc * ct + cc * cc * q->c2 * t2, GEO_MIN_NORM);
	double in = 0.0;
	for (size_t i = 0; i < d; i++)
		in += fabs(A * q->c[i] - B * t[i]);
	return (float)(out + q->gamma * in / D);
}
