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
	double cc = q->cc, vmax = 0.0, vmin = 0.0;
	/* pass 1: the two products with the corners */
	for (size_t i = 0; i < d; i++) {
		vmax += v[i] * q->qmax[i];
		vmin += v[i] * q->qmin[i];
	}
	/* a = v (+) (-qmax) and b = qmin (+) (-v) need only these scalars
	 * (x (+) y = (A x + B y) / D, DESIGN.md), so pass 2 forms both outside
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
