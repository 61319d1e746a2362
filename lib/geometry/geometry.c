/* Poincaré-ball and flat-space kernels with hand-written backward rules.
 * Formulas: Ganea, Bécigneul, Hofmann, "Hyperbolic Neural Networks", NeurIPS
 * 2018 (Möbius addition eq. 4, exp/log maps eq. 9-10, Möbius matvec eq. 18);
 * gyro midpoint after Ungar as used by Bachmann et al., ICML 2020;
 * box distance after Query2Box (Ren et al., ICLR 2020) and HypE (Choudhary
 * et al., WWW 2021).  See geometry.h for the conventions. */
#include "geometry.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scratch vectors for the chained backward rules live on the stack up to this
 * dimension and on the heap above it; the library refuses dimensions larger
 * than ANTHEM_MAX_DIM, so the heap path is a fallback, not the common case. */
#define GEO_STACK_DIM 256

static int flat(const geo_space *s) { return s->kind == GEO_EUCLIDEAN; }

static double dot(size_t n, const float *x, const float *y)
{
	double acc = 0.0;
	for (size_t i = 0; i < n; i++)
		acc += (double)x[i] * y[i];
	return acc;
}

static double sqnorm(size_t n, const float *x) { return dot(n, x, x); }

double geo_max_norm(const geo_space *s)
{
	return flat(s) ? INFINITY : (1.0 - GEO_BALL_EPS) / sqrt(s->c);
}

void geo_project(const geo_space *s, size_t n, float *x)
{
	if (flat(s))
		return;
	double maxn = geo_max_norm(s);
	double nrm = sqrt(sqnorm(n, x));
	if (nrm > maxn) {
		double f = maxn / nrm;
		for (size_t i = 0; i < n; i++)
			x[i] = (float)(x[i] * f);
	}
}

/* ---- Möbius addition --------------------------------------------------- */

void geo_add(const geo_space *s, size_t n, const float *x, const float *y,
	     float *out)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			out[i] = x[i] + y[i];
		return;
	}
	double c = s->c, xy = dot(n, x, y), x2 = sqnorm(n, x),
	       y2 = sqnorm(n, y);
	double a = 1.0 + 2.0 * c * xy + c * y2;
	double b = 1.0 - c * x2;
	double d = fmax(1.0 + 2.0 * c * xy + c * c * x2 * y2, GEO_MIN_NORM);
	for (size_t i = 0; i < n; i++)
		out[i] = (float)((a * x[i] + b * y[i]) / d);
	geo_project(s, n, out);
}

/* out = (A x + B y) / D with A = 1 + 2c<x,y> + c|y|^2, B = 1 - c|x|^2,
 * D = 1 + 2c<x,y> + c^2|x|^2|y|^2.  With gN = g/D and gD = -<g,out>/D:
 *   gx = A gN + <gN,x> 2c y - <gN,y> 2c x + gD (2c y + 2c^2|y|^2 x)
 *   gy = B gN + <gN,x> (2c x + 2c y) + gD (2c x + 2c^2|x|^2 y) */
void geo_add_backward(const geo_space *s, size_t n, const float *x,
		      const float *y, const float *gout, float *gx, float *gy)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++) {
			if (gx)
				gx[i] += gout[i];
			if (gy)
				gy[i] += gout[i];
		}
		return;
	}
	double c = s->c, xy = dot(n, x, y), x2 = sqnorm(n, x),
	       y2 = sqnorm(n, y);
	double a = 1.0 + 2.0 * c * xy + c * y2;
	double b = 1.0 - c * x2;
	double d = fmax(1.0 + 2.0 * c * xy + c * c * x2 * y2, GEO_MIN_NORM);
	double gx_dot = 0.0, gy_dot = 0.0, g_out = 0.0;
	for (size_t i = 0; i < n; i++) {
		double o = (a * x[i] + b * y[i]) / d;
		gx_dot += (double)gout[i] * x[i];
		gy_dot += (double)gout[i] * y[i];
		g_out += gout[i] * o;
	}
	double sx = gx_dot / d, sy = gy_dot / d, gd = -g_out / d;
	for (size_t i = 0; i < n; i++) {
		double gn = gout[i] / d;
		if (gx)
			gx[i] += (float)(a * gn + sx * 2.0 * c * y[i] -
					 sy * 2.0 * c * x[i] +
					 gd * (2.0 * c * y[i] +
					       2.0 * c * c * y2 * x[i]));
		if (gy)
			gy[i] += (float)(b * gn +
					 sx * 2.0 * c * (x[i] + y[i]) +
					 gd * (2.0 * c * x[i] +
					       2.0 * c * c * x2 * y[i]));
	}
}

/* ---- radial maps exp0 / log0 -------------------------------------------
 * Both are out = f(u) v with u = sqrt(c)|v|:  exp0 has f = tanh(u)/u,
 * log0 has f = artanh(u)/u.  The backward needs h(u) = f'(u)/u:
 *   gv = f g + c h(u) <g,v> v.
 * Near u = 0 both use their Taylor series, where the closed forms cancel
 * catastrophically. */

static void radial_exp(double u, double *f, double *h)
{
	if (u < 1e-4) {
		*f = 1.0 - u * u / 3.0;
		*h = -2.0 / 3.0 + 8.0 * u * u / 15.0;
		return;
	}
	double uc = fmin(u, GEO_TANH_MAX), t = tanh(uc);
	*f = t / u;
	/* beyond the clamp tanh is flat: d/du tanh = 0 */
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
	 * that artanh stays finite (see DESIGN.md, "Numerics") */
	double uc = fmin(u, GEO_ATANH_MAX), at = atanh(uc);
	*f = at / u;
	double dat = u > GEO_ATANH_MAX ? 0.0 : 1.0 / (1.0 - uc * uc);
	*h = (u * dat - at) / (u * u * u);
}

typedef void (*radial_fn)(double u, double *f, double *h);

static void radial(const geo_space *s, size_t n, const float *v, float *out,
		   radial_fn fn)
{
	if (flat(s)) {
		if (out != v)
			memcpy(out, v, n * sizeof *out);
		return;
	}
	double f, h, u = sqrt(s->c * sqnorm(n, v));
	fn(u, &f, &h);
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(f * v[i]);
}

static void radial_backward(const geo_space *s, size_t n, const float *v,
			    const float *gout, float *gv, radial_fn fn)
{
	if (!gv)
		return;
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			gv[i] += gout[i];
		return;
	}
	double f, h, u = sqrt(s->c * sqnorm(n, v));
	fn(u, &f, &h);
	double k = s->c * h * dot(n, gout, v);
	for (size_t i = 0; i < n; i++)
		gv[i] += (float)(f * gout[i] + k * v[i]);
}

void geo_exp0(const geo_space *s, size_t n, const float *v, float *out)
{
	radial(s, n, v, out, radial_exp);
	geo_project(s, n, out);
}

void geo_exp0_backward(const geo_space *s, size_t n, const float *v,
		       const float *gout, float *gv)
{
	radial_backward(s, n, v, gout, gv, radial_exp);
}

void geo_log0(const geo_space *s, size_t n, const float *y, float *out)
{
	radial(s, n, y, out, radial_log);
}

void geo_log0_backward(const geo_space *s, size_t n, const float *y,
		       const float *gout, float *gy)
{
	radial_backward(s, n, y, gout, gy, radial_log);
}

/* ---- scratch for chained rules ---------------------------------------- */

typedef struct scratch {
	float stack[20 * GEO_STACK_DIM];
	float *heap;
	float *base;
	size_t used, cap;
} scratch;

static void scratch_init(scratch *sc, size_t floats)
{
	sc->heap = NULL;
	sc->used = 0;
	if (floats <= sizeof sc->stack / sizeof sc->stack[0]) {
		sc->base = sc->stack;
		sc->cap = sizeof sc->stack / sizeof sc->stack[0];
	} else {
		sc->heap = calloc(floats, sizeof(float));
		sc->base = sc->heap;
		sc->cap = sc->heap ? floats : 0;
	}
}

/* Zeroed vector of n floats from the scratch, or NULL if out of memory. */
static float *scratch_get(scratch *sc, size_t n)
{
	if (sc->cap - sc->used < n)
		return NULL;
	float *p = sc->base + sc->used;
	sc->used += n;
	memset(p, 0, n * sizeof *p);
	return p;
}

static void scratch_done(scratch *sc) { free(sc->heap); }

static void negate(size_t n, const float *x, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = -x[i];
}

/* ---- Möbius scalar multiplication: exp0(r log0(x)) ---------------------- */

void geo_scal(const geo_space *s, size_t n, float r, const float *x,
	      float *out)
{
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			out[i] = r * x[i];
		return;
	}
	/* in double: tanh(r artanh(sqrt c |x|)) x / (sqrt c |x|) */
	double xn = sqrt(sqnorm(n, x)), u = sqrt(s->c) * xn;
	double f;
	if (u < 1e-12) {
		f = r;
	} else {
		double t = fmax(fmin(r * atanh(fmin(u, GEO_ATANH_MAX)),
				     GEO_TANH_MAX), -GEO_TANH_MAX);
		f = tanh(t) / u;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(f * x[i]);
	geo_project(s, n, out);
}

void geo_scal_backward(const geo_space *s, size_t n, float r, const float *x,
		       const float *gout, float *gr, float *gx)
{
	if (flat(s)) {
		if (gr)
			*gr += (float)dot(n, gout, x);
		if (gx)
			for (size_t i = 0; i < n; i++)
				gx[i] += r * gout[i];
		return;
	}
	scratch sc;
	scratch_init(&sc, 3 * n);
	float *lg = scratch_get(&sc, n), *rl = scratch_get(&sc, n),
	      *grl = scratch_get(&sc, n);
	if (!lg || !rl || !grl) {
		scratch_done(&sc);
		return;
	}
	geo_log0(s, n, x, lg);
	for (size_t i = 0; i < n; i++)
		rl[i] = r * lg[i];
	geo_exp0_backward(s, n, rl, gout, grl);
	if (gr)
		*gr += (float)dot(n, grl, lg);
	if (gx) {
		for (size_t i = 0; i < n; i++)
			grl[i] *= r;
		geo_log0_backward(s, n, x, grl, gx);
	}
	scratch_done(&sc);
}

/* ---- exp / log at a point ----------------------------------------------- */

static double lambda(const geo_space *s, size_t n, const float *x)
{
	return 2.0 / fmax(1.0 - s->c * sqnorm(n, x), GEO_MIN_NORM);
}

void geo_expmap(const geo_space *s, size_t n, const float *x, const float *u,
		float *out)
{
	if (flat(s)) {
		geo_add(s, n, x, u, out);
		return;
	}
	scratch sc;
	scratch_init(&sc, 2 * n);
	float *w = scratch_get(&sc, n), *e = scratch_get(&sc, n);
	if (!w || !e) {
		memcpy(out, x, n * sizeof *out);
		scratch_done(&sc);
		return;
	}
	double half = lambda(s, n, x) / 2.0;
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(half * u[i]);
	geo_exp0(s, n, w, e);
	geo_add(s, n, x, e, out);
	scratch_done(&sc);
}

/* d lambda / dx = c lambda^2 x */
static void lambda_backward(const geo_space *s, size_t n, const float *x,
			    double glambda, float *gx)
{
	if (!gx)
		return;
	double l = lambda(s, n, x), k = glambda * s->c * l * l;
	for (size_t i = 0; i < n; i++)
		gx[i] += (float)(k * x[i]);
}

void geo_expmap_backward(const geo_space *s, size_t n, const float *x,
			 const float *u, const float *gout, float *gx,
			 float *gu)
{
	if (flat(s)) {
		geo_add_backward(s, n, x, u, gout, gx, gu);
		return;
	}
	scratch sc;
	scratch_init(&sc, 4 * n);
	float *w = scratch_get(&sc, n), *e = scratch_get(&sc, n),
	      *ge = scratch_get(&sc, n), *gw = scratch_get(&sc, n);
	if (!w || !e || !ge || !gw) {
		scratch_done(&sc);
		return;
	}
	double half = lambda(s, n, x) / 2.0;
	for (size_t i = 0; i < n; i++)
		w[i] = (float)(half * u[i]);
	geo_exp0(s, n, w, e);
	geo_add_backward(s, n, x, e, gout, gx, ge);
	geo_exp0_backward(s, n, w, ge, gw);
	if (gu)
		for (size_t i = 0; i < n; i++)
			gu[i] += (float)(half * gw[i]);
	lambda_backward(s, n, x, dot(n, gw, u) / 2.0, gx);
	scratch_done(&sc);
}

void geo_logmap(const geo_space *s, size_t n, const float *x, const float *y,
		float *out)
{
	scratch sc;
	scratch_init(&sc, 2 * n);
	float *mx = scratch_get(&sc, n), *z = scratch_get(&sc, n);
	if (!mx || !z) {
		memset(out, 0, n * sizeof *out);
		scratch_done(&sc);
		return;
	}
	negate(n, x, mx);
	geo_add(s, n, mx, y, z);
	if (flat(s)) {
		memcpy(out, z, n * sizeof *out);
	} else {
		geo_log0(s, n, z, out);
		double k = 2.0 / lambda(s, n, x);
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(k * out[i]);
	}
	scratch_done(&sc);
}

void geo_logmap_backward(const geo_space *s, size_t n, const float *x,
			 const float *y, const float *gout, float *gx,
			 float *gy)
{
	scratch sc;
	scratch_init(&sc, 5 * n);
	float *mx = scratch_get(&sc, n), *z = scratch_get(&sc, n),
	      *gz = scratch_get(&sc, n), *gmx = scratch_get(&sc, n),
	      *lz = scratch_get(&sc, n);
	if (!mx || !z || !gz || !gmx || !lz) {
		scratch_done(&sc);
		return;
	}
	negate(n, x, mx);
	geo_add(s, n, mx, y, z);
	if (flat(s)) {
		memcpy(gz, gout, n * sizeof *gz);
	} else {
		/* out = k log0(z), k = 2 / lambda_x = 1 - c|x|^2 */
		double k = 2.0 / lambda(s, n, x);
		float *gl = gmx; /* borrowed, cleared below */
		for (size_t i = 0; i < n; i++)
			gl[i] = (float)(k * gout[i]);
		geo_log0_backward(s, n, z, gl, gz);
		memset(gmx, 0, n * sizeof *gmx);
		geo_log0(s, n, z, lz);
		/* dk/dx = -2c x */
		if (gx) {
			double gk = dot(n, gout, lz);
			for (size_t i = 0; i < n; i++)
				gx[i] += (float)(-2.0 * s->c * gk * x[i]);
		}
	}
	geo_add_backward(s, n, mx, y, gz, gmx, gy);
	if (gx)
		for (size_t i = 0; i < n; i++)
			gx[i] -= gmx[i];
	scratch_done(&sc);
}

/* ---- distance ------------------------------------------------------------ */

float geo_dist(const geo_space *s, size_t n, const float *x, const float *y)
{
	if (flat(s)) {
		double acc = 0.0;
		for (size_t i = 0; i < n; i++) {
			double d = (double)x[i] - y[i];
			acc += d * d;
		}
		return (float)sqrt(acc);
	}
	scratch sc;
	scratch_init(&sc, 2 * n);
	float *mx = scratch_get(&sc, n), *z = scratch_get(&sc, n);
	if (!mx || !z) {
		scratch_done(&sc);
		return NAN;
	}
	negate(n, x, mx);
	geo_add(s, n, mx, y, z);
	double sc_ = sqrt(s->c);
	double u = fmin(sc_ * sqrt(sqnorm(n, z)), GEO_ATANH_MAX);
	scratch_done(&sc);
	return (float)(2.0 / sc_ * atanh(u));
}

void geo_dist_backward(const geo_space *s, size_t n, const float *x,
		       const float *y, float gout, float *gx, float *gy)
{
	if (flat(s)) {
		double acc = 0.0;
		for (size_t i = 0; i < n; i++) {
			double d = (double)x[i] - y[i];
			acc += d * d;
		}
		double nrm = sqrt(acc);
		if (nrm < GEO_MIN_NORM)
			return; /* subgradient 0 at x = y */
		for (size_t i = 0; i < n; i++) {
			double g = gout * ((double)x[i] - y[i]) / nrm;
			if (gx)
				gx[i] += (float)g;
			if (gy)
				gy[i] -= (float)g;
		}
		return;
	}
	scratch sc;
	scratch_init(&sc, 4 * n);
	float *mx = scratch_get(&sc, n), *z = scratch_get(&sc, n),
	      *gz = scratch_get(&sc, n), *gmx = scratch_get(&sc, n);
	if (!mx || !z || !gz || !gmx) {
		scratch_done(&sc);
		return;
	}
	negate(n, x, mx);
	geo_add(s, n, mx, y, z);
	double z2 = sqnorm(n, z), zn = sqrt(z2);
	double u = sqrt(s->c) * zn;
	if (zn >= GEO_MIN_NORM && u < GEO_ATANH_MAX) {
		/* d/dz (2/sqrt c) artanh(sqrt c |z|) = 2/(1 - c|z|^2) z/|z| */
		double k = gout * 2.0 / (1.0 - s->c * z2) / zn;
		for (size_t i = 0; i < n; i++)
			gz[i] = (float)(k * z[i]);
		geo_add_backward(s, n, mx, y, gz, gmx, gy);
		if (gx)
			for (size_t i = 0; i < n; i++)
				gx[i] -= gmx[i];
	}
	scratch_done(&sc);
}

/* ---- Möbius matrix-vector product ---------------------------------------- */

static void gemv(size_t m, size_t n, const float *M, const float *x,
		 float *out)
{
	for (size_t r = 0; r < m; r++)
		out[r] = (float)dot(n, M + r * n, x);
}

void geo_matvec(const geo_space *s, size_t m, size_t n, const float *M,
		const float *x, float *out)
{
	if (flat(s)) {
		gemv(m, n, M, x, out);
		return;
	}
	scratch sc;
	scratch_init(&sc, n + m);
	float *lx = scratch_get(&sc, n), *mv = scratch_get(&sc, m);
	if (!lx || !mv) {
		memset(out, 0, m * sizeof *out);
		scratch_done(&sc);
		return;
	}
	geo_log0(s, n, x, lx);
	gemv(m, n, M, lx, mv);
	geo_exp0(s, m, mv, out);
	scratch_done(&sc);
}

void geo_matvec_backward(const geo_space *s, size_t m, size_t n,
			 const float *M, const float *x, const float *gout,
			 float *gM, float *gx)
{
	scratch sc;
	scratch_init(&sc, 2 * n + 2 * m);
	float *lx = scratch_get(&sc, n), *mv = scratch_get(&sc, m),
	      *gmv = scratch_get(&sc, m), *glx = scratch_get(&sc, n);
	if (!lx || !mv || !gmv || !glx) {
		scratch_done(&sc);
		return;
	}
	geo_log0(s, n, x, lx);
	gemv(m, n, M, lx, mv);
	geo_exp0_backward(s, m, mv, gout, gmv);
	for (size_t r = 0; r < m; r++)
		for (size_t j = 0; j < n; j++) {
			if (gM)
				gM[r * n + j] += gmv[r] * lx[j];
			glx[j] += gmv[r] * M[r * n + j];
		}
	geo_log0_backward(s, n, x, glx, gx);
	scratch_done(&sc);
}

/* ---- weighted gyro midpoint ---------------------------------------------- */

/* In the Klein model the midpoint is a plain weighted mean: the Poincaré
 * point x_i has Klein coordinate L_i x_i / (L_i - 1), the mean gets weights
 * w_i (L_i - 1), and 1/2 (*) maps it back to the ball. */
/* y = sum w_i L_i x_i / sum w_i (L_i - 1); returns 1 if the denominator
 * had to be floored (all weights zero), so the backward knows it is flat. */
static int mean_klein(const geo_space *s, size_t k, size_t n, const float *w,
		      const float *X, float *y, double *den_out)
{
	double den = 0.0;
	memset(y, 0, n * sizeof *y);
	for (size_t j = 0; j < k; j++) {
		double L = flat(s) ? 2.0 : lambda(s, n, X + j * n);
		double wl = w[j] * L;
		den += w[j] * (L - 1.0);
		for (size_t i = 0; i < n; i++)
			y[i] += (float)(wl * X[j * n + i]);
	}
	int clamped = den < GEO_MIN_NORM;
	den = fmax(den, GEO_MIN_NORM);
	for (size_t i = 0; i < n; i++)
		y[i] = (float)(y[i] / den);
	*den_out = den;
	return clamped;
}

void geo_mean(const geo_space *s, size_t k, size_t n, const float *w,
	      const float *X, float *out)
{
	scratch sc;
	scratch_init(&sc, n);
	float *y = scratch_get(&sc, n);
	if (!y) {
		memset(out, 0, n * sizeof *out);
		scratch_done(&sc);
		return;
	}
	double den;
	mean_klein(s, k, n, w, X, y, &den);
	geo_scal(s, n, 0.5f, y, out);
	scratch_done(&sc);
}

void geo_mean_backward(const geo_space *s, size_t k, size_t n, const float *w,
		       const float *X, const float *gout, float *gw, float *gX)
{
	scratch sc;
	scratch_init(&sc, 2 * n);
	float *y = scratch_get(&sc, n), *gy = scratch_get(&sc, n);
	if (!y || !gy) {
		scratch_done(&sc);
		return;
	}
	double den;
	int den_clamped = mean_klein(s, k, n, w, X, y, &den);
	geo_scal_backward(s, n, 0.5f, y, gout, NULL, gy);
	/* y = num/den: gnum = gy/den, gden = -<gy, y>/den */
	double gden = den_clamped ? 0.0 : -dot(n, gy, y) / den;
	for (size_t j = 0; j < k; j++) {
		const float *xj = X + j * n;
		double L = flat(s) ? 2.0 : lambda(s, n, xj);
		double gyx = dot(n, gy, xj) / den;
		/* num += w L x, den += w (L - 1) */
		if (gw)
			gw[j] += (float)(L * gyx + gden * (L - 1.0));
		if (gX) {
			double wl = w[j] * L / den;
			for (size_t i = 0; i < n; i++)
				gX[j * n + i] += (float)(wl * gy[i]);
			if (!flat(s))
				lambda_backward(s, n, xj,
						w[j] * (gyx + gden), gX + j * n);
		}
	}
	scratch_done(&sc);
}

/* ---- point-to-hyperboloid distance ---------------------------------------- */

typedef struct box_work {
	float *ml, *qmax, *qmin, *mqmax, *mv, *a, *b, *t, *mt, *e;
} box_work;

static int box_forward(const geo_space *s, size_t n, const float *c,
		       const float *l, const float *v, scratch *sc,
		       box_work *w)
{
	float **slots[] = {&w->ml, &w->qmax, &w->qmin, &w->mqmax, &w->mv,
			   &w->a, &w->b, &w->t, &w->mt, &w->e};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		if (!(*slots[i] = scratch_get(sc, n)))
			return -1;
	negate(n, l, w->ml);
	geo_add(s, n, c, l, w->qmax);
	geo_add(s, n, c, w->ml, w->qmin);
	negate(n, w->qmax, w->mqmax);
	negate(n, v, w->mv);
	geo_add(s, n, v, w->mqmax, w->a);
	geo_add(s, n, w->qmin, w->mv, w->b);
	for (size_t i = 0; i < n; i++)
		w->t[i] = fminf(w->qmax[i], fmaxf(w->qmin[i], v[i]));
	negate(n, w->t, w->mt);
	geo_add(s, n, c, w->mt, w->e);
	return 0;
}

float geo_box_dist(const geo_space *s, size_t n, const float *c,
		   const float *l, const float *v, float gamma, float *dout,
		   float *din)
{
	scratch sc;
	box_work w;
	scratch_init(&sc, 10 * n);
	if (box_forward(s, n, c, l, v, &sc, &w) != 0) {
		scratch_done(&sc);
		return NAN;
	}
	double o = 0.0, in = 0.0;
	for (size_t i = 0; i < n; i++) {
		o += fmax(w.a[i], 0.0f) + fmax(w.b[i], 0.0f);
		in += fabs(w.e[i]);
	}
	scratch_done(&sc);
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
	box_work w;
	scratch_init(&sc, 18 * n);
	if (box_forward(s, n, c, l, v, &sc, &w) != 0) {
		scratch_done(&sc);
		return;
	}
	float *ga = scratch_get(&sc, n), *gb = scratch_get(&sc, n),
	      *ge = scratch_get(&sc, n), *gmt = scratch_get(&sc, n),
	      *gqmax = scratch_get(&sc, n), *gqmin = scratch_get(&sc, n),
	      *gneg = scratch_get(&sc, n), *gvv = scratch_get(&sc, n);
	if (!ga || !gb || !ge || !gmt || !gqmax || !gqmin || !gneg || !gvv) {
		scratch_done(&sc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ga[i] = w.a[i] > 0.0f ? g : 0.0f;
		gb[i] = w.b[i] > 0.0f ? g : 0.0f;
		float sign = (float)((w.e[i] > 0.0f) - (w.e[i] < 0.0f));
		ge[i] = sign * g * gamma;
	}
	/* a = v (+) (-qmax) */
	geo_add_backward(s, n, v, w.mqmax, ga, gvv, gneg);
	for (size_t i = 0; i < n; i++)
		gqmax[i] -= gneg[i];
	/* b = qmin (+) (-v) */
	memset(gneg, 0, n * sizeof *gneg);
	geo_add_backward(s, n, w.qmin, w.mv, gb, gqmin, gneg);
	for (size_t i = 0; i < n; i++)
		gvv[i] -= gneg[i];
	/* e = c (+) (-t), t = min(qmax, max(qmin, v)) */
	geo_add_backward(s, n, c, w.mt, ge, gc, gmt);
	for (size_t i = 0; i < n; i++) {
		float gt = -gmt[i];
		float lo = fmaxf(w.qmin[i], v[i]);
		if (w.qmax[i] < lo)
			gqmax[i] += gt;
		else if (w.qmin[i] > v[i])
			gqmin[i] += gt;
		else
			gvv[i] += gt;
	}
	if (gv)
		for (size_t i = 0; i < n; i++)
			gv[i] += gvv[i];
	/* qmax = c (+) l, qmin = c (+) (-l) */
	memset(gneg, 0, n * sizeof *gneg);
	geo_add_backward(s, n, c, l, gqmax, gc, gl);
	geo_add_backward(s, n, c, w.ml, gqmin, gc, gneg);
	if (gl)
		for (size_t i = 0; i < n; i++)
			gl[i] -= gneg[i];
	scratch_done(&sc);
}
