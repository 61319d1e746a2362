/* Poincaré-ball and flat-space kernels with hand-written backward rules.
 * Formulas: Ganea, Bécigneul, Hofmann, "Hyperbolic Neural Networks", NeurIPS
 * 2018 (Möbius addition eq. 4, exp/log maps eq. 9-10, Möbius matvec eq. 18);
 * gyro midpoint after Ungar as used by Bachmann et al., ICML 2020;
 * box distance after Query2Box (Ren et al., ICLR 2020) and HypE (Choudhary
 * et al., WWW 2021).  See geometry.h for the conventions.
 *
 * Every op is computed on double vectors (the d_* core below) from its
 * float inputs to its float outputs: intermediate points are neither
 * rounded to float nor projected, because near the boundary artanh
 * amplifies both by up to 1/(1 - c|z|^2).  Only final points are projected
 * and rounded, once. */
#include "geometry/geometry.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch vectors live on the stack up to this dimension (so that a training
 * step does no heap allocation) and on the heap above it. */
#define GEO_STACK_DIM 128
#define GEO_SCRATCH_VECS 24

static int flat(const geo_space *s) { return s->kind == GEO_EUCLIDEAN; }

/* ---- scratch ------------------------------------------------------------- */

typedef struct scratch {
	double stack[GEO_SCRATCH_VECS * GEO_STACK_DIM];
	double *heap, *base;
	size_t used, cap;
} scratch;

static void scratch_init(scratch *sc, size_t doubles)
{
	sc->heap = NULL;
	sc->used = 0;
	sc->base = sc->stack;
	sc->cap = sizeof sc->stack / sizeof sc->stack[0];
	if (doubles > sc->cap) {
		sc->heap = malloc(doubles * sizeof(double));
		sc->base = sc->heap;
		sc->cap = sc->heap ? doubles : 0;
	}
}

/* n zeroed doubles, or NULL when out of memory (callers then give up and
 * leave their outputs as they are). */
static double *vec(scratch *sc, size_t n)
{
	if (sc->cap - sc->used < n)
		return NULL;
	double *p = sc->base + sc->used;
	sc->used += n;
	memset(p, 0, n * sizeof *p);
	return p;
}

static double *load(scratch *sc, size_t n, const float *x)
{
	double *p = vec(sc, n);
	for (size_t i = 0; p && i < n; i++)
		p[i] = x[i];
	return p;
}

static void done(scratch *sc) { free(sc->heap); }

static void store(size_t n, const double *x, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float)x[i];
}

/* out += x, NULL out skipped */
static void accum(size_t n, const double *x, float *out)
{
	for (size_t i = 0; out && i < n; i++)
		out[i] += (float)x[i];
}

/* ---- the double core ------------------------------------------------------- */

/* Four running sums: one chain of dependent adds was most of exp0 /
 * log0's time at d = 32.  A fixed order, the same on every machine. */
static double ddot(size_t n, const double *x, const double *y)
{
	double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		a0 += x[i] * y[i];
		a1 += x[i + 1] * y[i + 1];
		a2 += x[i + 2] * y[i + 2];
		a3 += x[i + 3] * y[i + 3];
	}
	for (; i < n; i++)
		a0 += x[i] * y[i];
	return (a0 + a1) + (a2 + a3);
}

/* the same over floats, in double */
static double fdot(size_t n, const float *x, const float *y)
{
	double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		a0 += (double)x[i] * y[i];
		a1 += (double)x[i + 1] * y[i + 1];
		a2 += (double)x[i + 2] * y[i + 2];
		a3 += (double)x[i + 3] * y[i + 3];
	}
	for (; i < n; i++)
		a0 += (double)x[i] * y[i];
	return (a0 + a1) + (a2 + a3);
}

static void dneg(size_t n, const double *x, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = -x[i];
}

double geo_max_norm(const geo_space *s)
{
	return flat(s) ? INFINITY : (1.0 - GEO_BALL_EPS) / sqrt(s->c);
}

static void dproject(const geo_space *s, size_t n, double *x)
{
	if (flat(s))
		return;
	double maxn = geo_max_norm(s), nrm = sqrt(ddot(n, x, x));
	if (nrm > maxn)
		for (size_t i = 0; i < n; i++)
			x[i] *= maxn / nrm;
}

/* out = x (+) y: (A x + B y) / D with A = 1 + 2c<x,y> + c|y|^2,
 * B = 1 - c|x|^2, D = 1 + 2c<x,y> + c^2|x|^2|y|^2.  out may alias x or y. */
static void dadd(const geo_space *s, size_t n, const double *x,
		 const double *y, double *out)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			out[i] = x[i] + y[i];
		return;
	}
	double c = s->c, xy = ddot(n, x, y), x2 = ddot(n, x, x),
	       y2 = ddot(n, y, y);
	double a = 1.0 + 2.0 * c * xy + c * y2, b = 1.0 - c * x2;
	double d = fmax(1.0 + 2.0 * c * xy + c * c * x2 * y2, GEO_MIN_NORM);
	for (size_t i = 0; i < n; i++)
		out[i] = (a * x[i] + b * y[i]) / d;
}

/* With gN = g/D and gD = -<g,out>/D:
 *   gx += A gN + <gN,x> 2c y - <gN,y> 2c x + gD (2c y + 2c^2|y|^2 x)
 *   gy += B gN + <gN,x> (2c x + 2c y) + gD (2c x + 2c^2|x|^2 y) */
static void dadd_bwd(const geo_space *s, size_t n, const double *x,
		     const double *y, const double *g, double *gx, double *gy)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++) {
			if (gx)
				gx[i] += g[i];
			if (gy)
				gy[i] += g[i];
		}
		return;
	}
	double c = s->c, xy = ddot(n, x, y), x2 = ddot(n, x, x),
	       y2 = ddot(n, y, y);
	double a = 1.0 + 2.0 * c * xy + c * y2, b = 1.0 - c * x2;
	double d = fmax(1.0 + 2.0 * c * xy + c * c * x2 * y2, GEO_MIN_NORM);
	double gdx = 0.0, gdy = 0.0, gdo = 0.0;
	for (size_t i = 0; i < n; i++) {
		gdx += g[i] * x[i];
		gdy += g[i] * y[i];
		gdo += g[i] * (a * x[i] + b * y[i]) / d;
	}
	double sx = gdx / d, sy = gdy / d, gd = -gdo / d;
	for (size_t i = 0; i < n; i++) {
		double gn = g[i] / d;
		if (gx)
			gx[i] += a * gn + sx * 2.0 * c * y[i] -
				 sy * 2.0 * c * x[i] +
				 gd * (2.0 * c * y[i] + 2.0 * c * c * y2 * x[i]);
		if (gy)
			gy[i] += b * gn + sx * 2.0 * c * (x[i] + y[i]) +
				 gd * (2.0 * c * x[i] + 2.0 * c * c * x2 * y[i]);
	}
}

/* exp0 and log0 are out = f(u) v with u = sqrt(c)|v|: f = tanh(u)/u and
 * f = artanh(u)/u.  The backward needs h(u) = f'(u)/u:
 *   gv += f g + c h(u) <g,v> v.
 * Near u = 0 both use Taylor series, where the closed forms cancel. */
static void radial_exp(double u, double *f, double *h)
{
	if (u < 1e-4) {
		*f = 1.0 - u * u / 3.0;
		*h = -2.0 / 3.0 + 8.0 * u * u / 15.0;
		return;
	}
	double t = tanh(fmin(u, GEO_TANH_MAX));
	*f = t / u;
	/* beyond the clamp tanh is flat */
	double sech2 = u > GEO_TANH_MAX ? 0.0 : 1.0 - t * t;
	*h = (u * sech2 - t) / (u * u * u);
}

static void radial_log(double u, double *f, double *h)
{
	if (u < 1e-4) {
		*f = 1.0 + u * u / 3.0;
		*h = 2.0 / 3.0 + 4.0 * u * u / 5.0;
		return;
	}
	/* a point on or past the boundary is read as one just inside it, so
	 * that artanh stays finite (docs/network.md, "Numerical guards") */
	double uc = fmin(u, GEO_ATANH_MAX), at = atanh(uc);
	*f = at / u;
	double dat = u > GEO_ATANH_MAX ? 0.0 : 1.0 / (1.0 - uc * uc);
	*h = (u * dat - at) / (u * u * u);
}

typedef void (*radial_fn)(double u, double *f, double *h);

static void dradial(const geo_space *s, size_t n, const double *v,
		    double *out, radial_fn fn)
{
	if (flat(s)) {
		memmove(out, v, n * sizeof *out);
		return;
	}
	double f, h;
	fn(sqrt(s->c * ddot(n, v, v)), &f, &h);
	for (size_t i = 0; i < n; i++)
		out[i] = f * v[i];
}

static void dradial_bwd(const geo_space *s, size_t n, const double *v,
			const double *g, double *gv, radial_fn fn)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			gv[i] += g[i];
		return;
	}
	double f, h;
	fn(sqrt(s->c * ddot(n, v, v)), &f, &h);
	double k = s->c * h * ddot(n, g, v);
	for (size_t i = 0; i < n; i++)
		gv[i] += f * g[i] + k * v[i];
}

static double dlambda(const geo_space *s, size_t n, const double *x)
{
	return 2.0 / fmax(1.0 - s->c * ddot(n, x, x), GEO_MIN_NORM);
}

/* r (*) x = tanh(r artanh(sqrt c |x|)) x / (sqrt c |x|) */
static void dscal(const geo_space *s, size_t n, double r, const double *x,
		  double *out)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			out[i] = r * x[i];
		return;
	}
	double u = sqrt(s->c * ddot(n, x, x)), f;
	if (u < 1e-12) {
		f = r;
	} else {
		double t = r * atanh(fmin(u, GEO_ATANH_MAX));
		f = tanh(fmax(fmin(t, GEO_TANH_MAX), -GEO_TANH_MAX)) / u;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = f * x[i];
}

/* backward of exp0(r log0(x)) by the chain rule; needs 3n scratch */
static void dscal_bwd(const geo_space *s, size_t n, double r, const double *x,
		      const double *g, double *gr, double *gx, scratch *sc)
{
	if (flat(s)) {
		if (gr)
			*gr += ddot(n, g, x);
		for (size_t i = 0; gx && i < n; i++)
			gx[i] += r * g[i];
		return;
	}
	double *lg = vec(sc, n), *rl = vec(sc, n), *grl = vec(sc, n);
	if (!lg || !rl || !grl)
		return;
	dradial(s, n, x, lg, radial_log);
	for (size_t i = 0; i < n; i++)
		rl[i] = r * lg[i];
	dradial_bwd(s, n, rl, g, grl, radial_exp);
	if (gr)
		*gr += ddot(n, grl, lg);
	if (gx) {
		for (size_t i = 0; i < n; i++)
			grl[i] *= r;
		dradial_bwd(s, n, x, grl, gx, radial_log);
	}
}

/* ---- public float ops ----------------------------------------------------- */

void geo_project(const geo_space *s, size_t n, float *x)
{
	if (flat(s))
		return;
	double acc = fdot(n, x, x);
	double maxn = geo_max_norm(s), nrm = sqrt(acc);
	if (nrm > maxn)
		for (size_t i = 0; i < n; i++)
			x[i] = (float)(x[i] * (maxn / nrm));
}

void geo_add(const geo_space *s, size_t n, const float *x, const float *y,
	     float *out)
{
	scratch sc;
	scratch_init(&sc, 2 * n);
	double *dx = load(&sc, n, x), *dy = load(&sc, n, y);
	if (dx && dy) {
		dadd(s, n, dx, dy, dx);
		dproject(s, n, dx);
		store(n, dx, out);
	}
	done(&sc);
}

/* fh, when not NULL, receives the radial factors f and h of v (backward's
 * transcendental functions, computed once) */
static void radial_op(const geo_space *s, size_t n, const float *v,
		      float *out, radial_fn fn, int project, double *fh)
{
	scratch sc;
	scratch_init(&sc, n);
	double *dv = load(&sc, n, v);
	if (dv) {
		double f = 1.0, h = 0.0; /* dradial's, once for both */
		if (!flat(s)) {
			fn(sqrt(s->c * ddot(n, dv, dv)), &f, &h);
			for (size_t i = 0; i < n; i++)
				dv[i] *= f;
		}
		if (fh)
			fh[0] = f, fh[1] = h;
		if (project)
			dproject(s, n, dv);
		store(n, dv, out);
	}
	done(&sc);
}

static void radial_op_bwd(const geo_space *s, size_t n, const float *v,
			  const float *gout, float *gv, radial_fn fn)
{
	if (!gv)
		return;
	scratch sc;
	scratch_init(&sc, 3 * n);
	double *dv = load(&sc, n, v), *g = load(&sc, n, gout),
	       *gd = vec(&sc, n);
	if (gd) {
		dradial_bwd(s, n, dv, g, gd, fn);
		accum(n, gd, gv);
	}
	done(&sc);
}

void geo_exp0(const geo_space *s, size_t n, const float *v, float *out)
{
	radial_op(s, n, v, out, radial_exp, 1, NULL);
}

void geo_exp0_backward(const geo_space *s, size_t n, const float *v,
		       const float *gout, float *gv)
{
	radial_op_bwd(s, n, v, gout, gv, radial_exp);
}

void geo_log0(const geo_space *s, size_t n, const float *y, float *out)
{
	radial_op(s, n, y, out, radial_log, 0, NULL);
}

void geo_log0_backward(const geo_space *s, size_t n, const float *y,
		       const float *gout, float *gy)
{
	radial_op_bwd(s, n, y, gout, gy, radial_log);
}

void geo_exp0_kept(const geo_space *s, size_t n, const float *v, float *out,
		   double fh[2])
{
	radial_op(s, n, v, out, radial_exp, 1, fh);
}

void geo_log0_kept(const geo_space *s, size_t n, const float *y, float *out,
		   double fh[2])
{
	radial_op(s, n, y, out, radial_log, 0, fh);
}

/* dradial_bwd with the factors kept: the same operations in the same
 * order, so the same bits as geo_exp0_backward / geo_log0_backward */
void geo_radial_backward_kept(const geo_space *s, size_t n, const float *v,
			      const double fh[2], const float *gout, float *gv)
{
	if (!gv)
		return;
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			gv[i] += gout[i];
		return;
	}
	double gvd = fdot(n, gout, v);
	double f = fh[0], k = s->c * fh[1] * gvd;
	for (size_t i = 0; i < n; i++)
		gv[i] += (float)(f * gout[i] + k * v[i]);
}

/* the largest sqrt(c)|v| that exp0 does not project */
static double clip_u(void)
{
	return atanh(1.0 - GEO_BALL_EPS);
}

static double tangent_u(const geo_space *s, size_t n, const float *v)
{
	double v2 = fdot(n, v, v);
	return sqrt(s->c * v2);
}

void geo_clip0(const geo_space *s, size_t n, const float *v, float *out)
{
	double u = flat(s) ? 0.0 : tangent_u(s, n, v), R = clip_u();
	if (u <= R) {
		memmove(out, v, n * sizeof *out);
		return;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(R / u * v[i]);
}

void geo_clip0_backward(const geo_space *s, size_t n, const float *v,
			const float *gout, float *gv)
{
	if (!gv)
		return;
	double u = flat(s) ? 0.0 : tangent_u(s, n, v), R = clip_u();
	if (u <= R) {
		for (size_t i = 0; i < n; i++)
			gv[i] += gout[i];
		return;
	}
	/* out = R v / (sqrt(c)|v|): gv = (R/u) (g - v <v,g> / |v|^2) */
	double vg = fdot(n, v, gout), v2 = u * u / s->c;
	for (size_t i = 0; i < n; i++)
		gv[i] += (float)(R / u * (gout[i] - v[i] * vg / v2));
}

/* exp_x(u) = x (+) exp0(lambda_x u / 2) */
void geo_expmap(const geo_space *s, size_t n, const float *x, const float *u,
		float *out)
{
	scratch sc;
	scratch_init(&sc, 2 * n);
	double *dx = load(&sc, n, x), *w = load(&sc, n, u);
	if (w) {
		double half = flat(s) ? 1.0 : dlambda(s, n, dx) / 2.0;
		for (size_t i = 0; i < n; i++)
			w[i] *= half;
		dradial(s, n, w, w, radial_exp);
		dadd(s, n, dx, w, w);
		dproject(s, n, w);
		store(n, w, out);
	}
	done(&sc);
}

/* log_x(y) = (2 / lambda_x) log0((-x) (+) y); 2 / lambda_x = 1 - c|x|^2 */
void geo_logmap(const geo_space *s, size_t n, const float *x, const float *y,
		float *out)
{
	scratch sc;
	scratch_init(&sc, 2 * n);
	double *mx = load(&sc, n, x), *z = load(&sc, n, y);
	if (z) {
		double k = flat(s) ? 1.0 : 2.0 / dlambda(s, n, mx);
		dneg(n, mx, mx);
		dadd(s, n, mx, z, z);
		dradial(s, n, z, z, radial_log);
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(k * z[i]);
	}
	done(&sc);
}

/* d(x, y) = (2/sqrt c) artanh(sqrt c |(-x) (+) y|); flat: |x - y| */
static double ddist(const geo_space *s, size_t n, const double *x,
		    const double *y, double *z)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			z[i] = y[i] - x[i];
		return sqrt(ddot(n, z, z));
	}
	dneg(n, x, z);
	dadd(s, n, z, y, z);
	double sq = sqrt(s->c);
	return 2.0 / sq * atanh(fmin(sq * sqrt(ddot(n, z, z)), GEO_ATANH_MAX));
}

float geo_dist(const geo_space *s, size_t n, const float *x, const float *y)
{
	scratch sc;
	scratch_init(&sc, 3 * n);
	double *dx = load(&sc, n, x), *dy = load(&sc, n, y), *z = vec(&sc, n);
	float d = z ? (float)ddist(s, n, dx, dy, z) : NAN;
	done(&sc);
	return d;
}

void geo_dist_backward(const geo_space *s, size_t n, const float *x,
		       const float *y, float gout, float *gx, float *gy)
{
	scratch sc;
	scratch_init(&sc, 7 * n);
	double *dx = load(&sc, n, x), *dy = load(&sc, n, y), *z = vec(&sc, n),
	       *mx = vec(&sc, n), *gz = vec(&sc, n), *gmx = vec(&sc, n),
	       *gdy = vec(&sc, n);
	if (!gdy) {
		done(&sc);
		return;
	}
	ddist(s, n, dx, dy, z);
	double z2 = ddot(n, z, z), zn = sqrt(z2);
	double u = flat(s) ? 0.0 : sqrt(s->c) * zn;
	/* subgradient 0 at x = y and past the artanh clamp */
	if (zn >= GEO_MIN_NORM && u < GEO_ATANH_MAX) {
		/* d/dz: flat z/|z|; ball 2/(1 - c|z|^2) z/|z| */
		double k = gout / zn * (flat(s) ? 1.0 : 2.0 / (1.0 - s->c * z2));
		for (size_t i = 0; i < n; i++)
			gz[i] = k * z[i];
		dneg(n, dx, mx);
		dadd_bwd(s, n, mx, dy, gz, gmx, gdy);
		accum(n, gdy, gy);
		for (size_t i = 0; gx && i < n; i++)
			gx[i] -= (float)gmx[i];
	}
	done(&sc);
}

/* ---- weighted gyro midpoint ------------------------------------------------ */

/* In the Klein model the midpoint is a plain weighted mean: the Poincaré
 * point x_i has Klein coordinate L_i x_i / (L_i - 1), the mean gets weights
 * w_i (L_i - 1), and 1/2 (*) maps it back to the ball.  y receives
 * sum w_i L_i x_i / sum w_i (L_i - 1); returns 1 if that denominator had to
 * be floored (all weights zero). */
/* lams, when not NULL, receives each point's lambda (the same bits as
 * dlambda: backward needs them again). */
static int mean_klein(const geo_space *s, size_t k, size_t n, const float *w,
		      const float *X, double *y, double *den_out, double *lams)
{
	double den = 0.0;
	for (size_t j = 0; j < k; j++) {
		const float *xj = X + j * n;
		double x2 = fdot(n, xj, xj);
		double L = flat(s) ? 2.0 : 2.0 / fmax(1.0 - s->c * x2, GEO_MIN_NORM);
		if (lams)
			lams[j] = L;
		den += w[j] * (L - 1.0);
		for (size_t i = 0; i < n; i++)
			y[i] += w[j] * L * xj[i];
	}
	int clamped = den < GEO_MIN_NORM;
	den = fmax(den, GEO_MIN_NORM);
	for (size_t i = 0; i < n; i++)
		y[i] /= den;
	*den_out = den;
	return clamped;
}

void geo_mean(const geo_space *s, size_t k, size_t n, const float *w,
	      const float *X, float *out)
{
	scratch sc;
	scratch_init(&sc, n);
	double *y = vec(&sc, n), den;
	if (y) {
		mean_klein(s, k, n, w, X, y, &den, NULL);
		dscal(s, n, 0.5, y, y);
		dproject(s, n, y);
		store(n, y, out);
	}
	done(&sc);
}

static void mean_backward(const geo_space *s, size_t k, size_t n,
			  const float *w, const float *X, const double *y,
			  double den, int den_clamped, const double *lams,
			  const float *gout, float *gw, float *gX)
{
	scratch sc;
	scratch_init(&sc, 7 * n);
	double *g = load(&sc, n, gout), *gy = vec(&sc, n), *xj = vec(&sc, n);
	if (!xj) {
		done(&sc);
		return;
	}
	dscal_bwd(s, n, 0.5, y, g, NULL, gy, &sc);
	/* y = num / den: gnum = gy / den, gden = -<gy, y> / den */
	double gden = den_clamped ? 0.0 : -ddot(n, gy, y) / den;
	for (size_t j = 0; j < k; j++) {
		for (size_t i = 0; i < n; i++)
			xj[i] = X[j * n + i];
		double L = lams[j];
		double gyx = ddot(n, gy, xj) / den;
		/* num += w L x, den += w (L - 1) */
		if (gw)
			gw[j] += (float)(L * gyx + gden * (L - 1.0));
		if (!gX)
			continue;
		double wl = w[j] * L / den;
		float *gxj = gX + j * n;
		for (size_t i = 0; i < n; i++)
			gxj[i] += (float)(wl * gy[i]);
		if (!flat(s)) {
			double l = L, kk = w[j] * (gyx + gden) * s->c * l * l;
			for (size_t i = 0; i < n; i++)
				gxj[i] += (float)(kk * xj[i]);
		}
	}
	done(&sc);
}

void geo_mean_backward(const geo_space *s, size_t k, size_t n, const float *w,
		       const float *X, const float *gout, float *gw, float *gX)
{
	scratch sc;
	scratch_init(&sc, n + k);
	double *y = vec(&sc, n), *lams = vec(&sc, k), den;
	if (lams) {
		int clamped = mean_klein(s, k, n, w, X, y, &den, lams);
		mean_backward(s, k, n, w, X, y, den, clamped, lams, gout, gw,
			      gX);
	}
	done(&sc);
}

/* ---- many means of the same points --------------------------------------- */

/* The rows of gy that geo_means_backward_kept holds at once: its scratch
 * stays on the stack up to GEO_STACK_DIM */
#define MEANS_CHUNK 8

size_t geo_means_keep_size(size_t g, size_t k, size_t n)
{
	return k + g * (n + 2);
}

/* keep: the k lambdas, then per row: y (n), den, clamped */
void geo_means_kept(const geo_space *s, size_t g, size_t k, size_t n,
		    const float *W, const float *X, float *out, double *keep)
{
	double *lams = keep;
	for (size_t j = 0; j < k; j++) { /* as mean_klein, once per point */
		const float *xj = X + j * n;
		double x2 = fdot(n, xj, xj);
		lams[j] = flat(s) ? 2.0 : 2.0 / fmax(1.0 - s->c * x2, GEO_MIN_NORM);
	}
	scratch sc;
	scratch_init(&sc, n);
	double *z = vec(&sc, n);
	for (size_t r = 0; z && r < g; r++) {
		const float *w = W + r * k;
		double *y = keep + k + r * (n + 2), den = 0.0;
		memset(y, 0, n * sizeof *y);
		for (size_t j = 0; j < k; j++) {
			const float *xj = X + j * n;
			double L = lams[j];
			den += w[j] * (L - 1.0);
			for (size_t i = 0; i < n; i++)
				y[i] += w[j] * L * xj[i];
		}
		int clamped = den < GEO_MIN_NORM;
		den = fmax(den, GEO_MIN_NORM);
		for (size_t i = 0; i < n; i++)
			y[i] /= den;
		y[n] = den;
		y[n + 1] = clamped;
		dscal(s, n, 0.5, y, z);
		dproject(s, n, z);
		store(n, z, out + r * n);
	}
	done(&sc);
}

/* gy = d(out)/dy of one row, out = 1/2 (*) y */
static void means_gy(const geo_space *s, size_t n, const double *y,
		     const float *gout, double *gy)
{
	scratch sc;
	scratch_init(&sc, 4 * n);
	double *g = load(&sc, n, gout);
	if (g)
		dscal_bwd(s, n, 0.5, y, g, NULL, gy, &sc);
	done(&sc);
}

/* mean_backward for every row, a point's gradient summed over the rows in
 * double before it is added to gX (MEANS_CHUNK rows at a time) */
void geo_means_backward_kept(const geo_space *s, size_t g, size_t k,
			     size_t n, const float *W, const float *X,
			     const double *keep, const float *gout, float *gW,
			     float *gX)
{
	const double *lams = keep;
	scratch sc;
	scratch_init(&sc, (MEANS_CHUNK + 2) * n + 2 * MEANS_CHUNK);
	double *gy = vec(&sc, MEANS_CHUNK * n), *xj = vec(&sc, n),
	       *acc = vec(&sc, n), *gden = vec(&sc, MEANS_CHUNK),
	       *inv = vec(&sc, MEANS_CHUNK);
	for (size_t r0 = 0; inv && r0 < g; r0 += MEANS_CHUNK) {
		size_t rows = g - r0 < MEANS_CHUNK ? g - r0 : MEANS_CHUNK;
		for (size_t r = 0; r < rows; r++) {
			const double *y = keep + k + (r0 + r) * (n + 2);
			memset(gy + r * n, 0, n * sizeof *gy);
			means_gy(s, n, y, gout + (r0 + r) * n, gy + r * n);
			/* y = num / den: gnum = gy / den, gden = -<gy, y> / den */
			inv[r] = 1.0 / y[n];
			gden[r] = y[n + 1] != 0.0 ? 0.0
						  : -ddot(n, gy + r * n, y) / y[n];
		}
		for (size_t j = 0; j < k; j++) {
			for (size_t i = 0; i < n; i++)
				xj[i] = X[j * n + i];
			double L = lams[j], kx = 0.0;
			memset(acc, 0, n * sizeof *acc);
			for (size_t r = 0; r < rows; r++) {
				const double *gyr = gy + r * n;
				double w = W[(r0 + r) * k + j];
				double gyx = ddot(n, gyr, xj) * inv[r];
				/* num += w L x, den += w (L - 1) */
				if (gW)
					gW[(r0 + r) * k + j] += (float)(
						L * gyx + gden[r] * (L - 1.0));
				double wl = w * L * inv[r];
				for (size_t i = 0; i < n; i++)
					acc[i] += wl * gyr[i];
				kx += w * (gyx + gden[r]) * s->c * L * L;
			}
			if (!gX)
				continue;
			if (flat(s))
				kx = 0.0;
			float *gxj = gX + j * n;
			for (size_t i = 0; i < n; i++)
				gxj[i] += (float)(acc[i] + kx * xj[i]);
		}
	}
	done(&sc);
}

/* ---- point-to-hyperboloid distance ----------------------------------------- */

typedef struct box {
	double *c, *l, *v, *ml, *qmax, *qmin, *mqmax, *mv, *a, *b, *t, *mt, *e;
} box;

/* qmin = c (-) l, qmax = c (+) l, a = v (-) qmax, b = qmin (-) v,
 * t = min(qmax, max(qmin, v)), e = c (-) t */
static int box_forward(const geo_space *s, size_t n, const float *c,
		       const float *l, const float *v, scratch *sc, box *w)
{
	w->c = load(sc, n, c);
	w->l = load(sc, n, l);
	w->v = load(sc, n, v);
	double **slots[] = {&w->ml, &w->qmax, &w->qmin, &w->mqmax, &w->mv,
			    &w->a, &w->b, &w->t, &w->mt, &w->e};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (!(*slots[i] = vec(sc, n)))
			return -1;
	dneg(n, w->l, w->ml);
	dadd(s, n, w->c, w->l, w->qmax);
	dadd(s, n, w->c, w->ml, w->qmin);
	dneg(n, w->qmax, w->mqmax);
	dneg(n, w->v, w->mv);
	dadd(s, n, w->v, w->mqmax, w->a);
	dadd(s, n, w->qmin, w->mv, w->b);
	for (size_t i = 0; i < n; i++)
		w->t[i] = fmin(w->qmax[i], fmax(w->qmin[i], w->v[i]));
	dneg(n, w->t, w->mt);
	dadd(s, n, w->c, w->mt, w->e);
	return 0;
}

float geo_box_dist(const geo_space *s, size_t n, const float *c,
		   const float *l, const float *v, float gamma, float *dout,
		   float *din)
{
	scratch sc;
	box w;
	scratch_init(&sc, 13 * n);
	if (box_forward(s, n, c, l, v, &sc, &w) != 0) {
		done(&sc);
		return NAN;
	}
	double o = 0.0, in = 0.0;
	for (size_t i = 0; i < n; i++) {
		o += fmax(w.a[i], 0.0) + fmax(w.b[i], 0.0);
		in += fabs(w.e[i]);
	}
	done(&sc);
	if (dout)
		*dout = (float)o;
	if (din)
		*din = (float)in;
	return (float)(o + gamma * in);
}

void geo_box_dist_backward(const geo_space *s, size_t n, const float *c,
			   const float *l, const float *v, float gamma,
			   float g, float *gc, float *gl, float *gv)
{
	scratch sc;
	box w;
	scratch_init(&sc, 22 * n);
	if (box_forward(s, n, c, l, v, &sc, &w) != 0) {
		done(&sc);
		return;
	}
	double *ga = vec(&sc, n), *gb = vec(&sc, n), *ge = vec(&sc, n),
	       *gqmax = vec(&sc, n), *gqmin = vec(&sc, n), *gneg = vec(&sc, n),
	       *gdc = vec(&sc, n), *gdl = vec(&sc, n), *gdv = vec(&sc, n);
	if (!gdv) {
		done(&sc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ga[i] = w.a[i] > 0.0 ? g : 0.0;
		gb[i] = w.b[i] > 0.0 ? g : 0.0;
		ge[i] = (double)g * gamma * ((w.e[i] > 0.0) - (w.e[i] < 0.0));
	}
	/* a = v (+) (-qmax) */
	dadd_bwd(s, n, w.v, w.mqmax, ga, gdv, gneg);
	for (size_t i = 0; i < n; i++)
		gqmax[i] -= gneg[i];
	/* b = qmin (+) (-v) */
	memset(gneg, 0, n * sizeof *gneg);
	dadd_bwd(s, n, w.qmin, w.mv, gb, gqmin, gneg);
	for (size_t i = 0; i < n; i++)
		gdv[i] -= gneg[i];
	/* e = c (+) (-t), t = min(qmax, max(qmin, v)) */
	memset(gneg, 0, n * sizeof *gneg);
	dadd_bwd(s, n, w.c, w.mt, ge, gdc, gneg);
	for (size_t i = 0; i < n; i++) {
		double gt = -gneg[i];
		if (w.qmax[i] < fmax(w.qmin[i], w.v[i]))
			gqmax[i] += gt;
		else if (w.qmin[i] > w.v[i])
			gqmin[i] += gt;
		else
			gdv[i] += gt;
	}
	/* qmax = c (+) l, qmin = c (+) (-l) */
	memset(gneg, 0, n * sizeof *gneg);
	dadd_bwd(s, n, w.c, w.l, gqmax, gdc, gdl);
	dadd_bwd(s, n, w.c, w.ml, gqmin, gdc, gneg);
	for (size_t i = 0; i < n; i++)
		gdl[i] -= gneg[i];
	accum(n, gdc, gc);
	accum(n, gdl, gl);
	accum(n, gdv, gv);
	done(&sc);
}
