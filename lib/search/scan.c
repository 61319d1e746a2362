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
#include "search/scan_loop.h"

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

/* ---- the blocked float loop (scan_loop.c) --------------------------------- */

typedef struct scan_kernel {
	void (*range)(const fquery *, const float *, const float *, size_t,
		      size_t, size_t, const uint64_t *, ath_heap *);
	void (*block)(const fquery *, const float *, const float *, float *);
	void (*range8)(const fquery *, const int8_t *, const float *, size_t,
		       size_t, size_t, const uint64_t *, ath_heap *);
	ath_scan_gathered8_fn gathered8;
	void (*box8)(const bquery *, const int8_t *, size_t, size_t, size_t,
		     const uint64_t *, ath_heap *);
} scan_kernel;

/* One copy of the loop per x86-64 level (lib/common/isa.h). */
#if defined(ATH_HAVE_TARGET_LEVELS)
static const scan_kernel kernels[] = {
	[ATH_ISA_DEFAULT] = {ath_scan_range_base, ath_scan_block_base,
			     ath_scan_range8_base, ath_scan_gathered8_base,
			     ath_scan_box8_base},
	[ATH_ISA_V3] = {ath_scan_range_v3, ath_scan_block_v3, ath_scan_range8_v3,
			ath_scan_gathered8_v3, ath_scan_box8_v3},
	[ATH_ISA_V4] = {ath_scan_range_v4, ath_scan_block_v4, ath_scan_range8_v4,
			ath_scan_gathered8_v4, ath_scan_box8_v4},
};
#else
static const scan_kernel kernels[] = {
	[ATH_ISA_DEFAULT] = {ath_scan_range_base, ath_scan_block_base,
			     ath_scan_range8_base, ath_scan_gathered8_base,
			     ath_scan_box8_base}};
#endif

static const scan_kernel *get_kernel(void)
{
	return &kernels[ath_isa_level()];
}

ath_scan_block_fn ath_scan_block_kernel(void)
{
	return get_kernel()->block;
}

ath_scan_gathered8_fn ath_scan_gathered8_kernel(void)
{
	return get_kernel()->gathered8;
}

size_t ath_scan_work_floats(size_t d)
{
	return 4 * W * d;
}

void ath_scan_fquery(const ath_scan_query *q, float *work, fquery *out)
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
	f.dscale = NULL;
	f.dbuf = work + 3 * q->d * W;
	*out = f;
}

void ath_scan_blocks(const ath_scan_query *q, const float *blocks,
		     const float *n2, size_t n, size_t b_lo, size_t b_hi,
		     const uint64_t *allow, float *work, ath_heap *hp)
{
	fquery f;
	ath_scan_fquery(q, work, &f);
	get_kernel()->range(&f, blocks, n2, n, b_lo, b_hi, allow, hp);
}

/* The squared norms of block b: n2's, or (n2 NULL) computed into tmp as
 * ath_scan_norms computes them for the whole index. */
static const float *block_norms(const float *blocks, const float *n2,
				size_t b, size_t d, float *tmp)
{
	if (n2)
		return n2 + b * W;
	ath_scan_norms(blocks + b * d * W, W, d, tmp);
	return tmp;
}

float ath_scan_at(const ath_scan_query *q, const float *blocks,
		  const float *n2, size_t i, float *work)
{
	fquery f;
	float dist[W], tmp[W];
	ath_scan_fquery(q, work, &f);
	/* through the same kernel as the scan (they agree, but a caller
	 * comparing the two should not depend on it) */
	get_kernel()->block(&f, blocks + i / W * q->d * W,
			    block_norms(blocks, n2, i / W, q->d, tmp), dist);
	return dist[i % W];
}

void ath_scan8_blocks(const ath_scan_query *q, const ath_scan8 *c, size_t n,
		      size_t b_lo, size_t b_hi, const uint64_t *allow,
		      float *work, ath_heap *hp)
{
	fquery f;
	ath_scan_fquery(q, work, &f);
	f.dscale = c->scale;
	get_kernel()->range8(&f, c->codes, c->lanes, n, b_lo, b_hi, allow, hp);
}

/* The left shift of the prefilter's terms for dimension d: the largest
 * (up to 4) that keeps d terms of at most 511 << shift below 2^16, or -1
 * past 128 dimensions. */
static int box_shift(size_t d)
{
	if (d * 511 > 65535)
		return -1;
	int s = 0;
	while (s < 4 && d * ((size_t)511 << (s + 1)) <= 65535)
		s++;
	return s;
}

int ath_scan8_prefilter_ok(const ath_scan_query *q)
{
	return q->gamma >= 0.0f && q->gamma <= 1.0f && box_shift(q->d) >= 0;
}

static int16_t clamp16(double x, double lo, double hi)
{
	x = nearbyint(x);
	return (int16_t)(x < lo ? lo : x > hi ? hi : x);
}

void ath_scan8_box_query(const ath_scan_query *q, const ath_scan8 *c,
			 bquery *out)
{
	/* the codes are tangent coordinates at the origin (quant.c): the box
	 * goes there by the centre's factor |log0(c)| / |c| (so the points
	 * near the centre's radius, those that matter, see it unbent) */
	double g = 1.0, sc = sqrt(q->cc), z = sc * sqrt(q->c2);
	if (z > 0.0)
		g = atanh(fmin(z, 1.0 - 1e-7)) / z;
	double top = 0.0;
	for (size_t k = 0; k < q->d; k++)
		top = fmax(top, c->scale[k]);
	out->d = q->d;
	for (size_t k = 0; k < q->d; k++) {
		double lo = fmin(q->qmin[k], q->qmax[k]);
		double hi = fmax(q->qmin[k], q->qmax[k]);
		double step = c->scale[k];
		/* |code| <= 127 and |middle| <= 383 keep a below 512 */
		out->mid[k] = clamp16(0.5 * (lo + hi) * g / step, -383, 383);
		out->out[k] = clamp16((1.0 - q->gamma) * 0.5 * (hi - lo) * g / step,
				      0, 1024);
		out->weight[k] = clamp16(32767.0 * step / top, 0, 32767);
	}
	out->gamma = clamp16(32767.0 * q->gamma, 0, 32767);
	out->shift = box_shift(q->d);
}

void ath_scan8_prefilter(const ath_scan_query *q, const ath_scan8 *c,
			 size_t n, size_t b_lo, size_t b_hi,
			 const uint64_t *allow, ath_heap *hp)
{
	bquery b;
	ath_scan8_box_query(q, c, &b);
	get_kernel()->box8(&b, c->codes, n, b_lo, b_hi, allow, hp);
}

void ath_scan_rescore(const ath_scan_query *q, const float *blocks,
		      const float *n2, const anthem_hit *cand, size_t nc,
		      size_t k, float *work, anthem_hit *out, size_t *nout)
{
	fquery f;
	ath_scan_fquery(q, work, &f);
	const scan_kernel *kn = get_kernel();
	ath_heap top = {out, 0, k};
	size_t d = q->d;
	for (size_t i0 = 0; i0 < nc; i0 += W) {
		/* 16 candidates' columns gathered from their blocks into one
		 * block: the kernel's lanes are independent (scan_loop.c), so
		 * each gets the float the exact scan gives it, for a sixteenth
		 * of the arithmetic of running each candidate's own block */
		float blk[ATH_SCAN_MAX_DIM * W] __attribute__((aligned(64)));
		float g2[W], dist[W];
		size_t m = nc - i0 < W ? nc - i0 : W;
		for (size_t jj = 0; jj < W; jj++) {
			size_t j = cand[i0 + (jj < m ? jj : 0)].index;
			const float *src = blocks + j / W * d * W + j % W;
			for (size_t kk = 0; kk < d; kk++)
				blk[kk * W + jj] = src[kk * W];
			if (n2)
				g2[jj] = n2[j];
		}
		/* without n2, each lane's norm as ath_scan_norms makes it for
		 * the whole index (in double, per lane) */
		if (!n2)
			ath_scan_norms(blk, W, d, g2);
		kn->block(&f, blk, g2, dist);
		for (size_t jj = 0; jj < m; jj++)
			ath_heap_push(&top, cand[i0 + jj].index, dist[jj]);
	}
	ath_heap_sort(&top);
	*nout = top.n;
}
