#include "train/optim.h"

#include <anthem/common.h>
#include "common/isa.h"

#include "geometry/geometry.h"

#include <math.h>

#define ADAM_AHEAD 4
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)(p))
#endif

/* The step's constants, computed once per step rather than once per row
 * (pow and sqrt per touched row were a measurable share of a step). */
typedef struct adam_k {
	double b1, b2, step, eps;
} adam_k;

static adam_k adam_constants(const ath_adam *a)
{
	double c1 = 1.0 - pow(a->beta1, (double)a->t);
	double c2 = 1.0 - pow(a->beta2, (double)a->t);
	/* eps scaled as in the paper's efficient form */
	return (adam_k){a->beta1, a->beta2, a->lr * sqrt(c2) / c1,
			a->eps * sqrt(c2)};
}

/* One Adam step over n elements.  Each element is its own sums in double
 * (no reduction, nothing a vectoriser could reorder, no contraction in
 * C11 mode), so the copies below round alike at every x86-64 level. */
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

INLINE void adam_body(const adam_k *k, size_t n, float *restrict x,
		      const float *restrict g, float *restrict m,
		      float *restrict v)
{
	double b1 = k->b1, b2 = k->b2, step = k->step, eps = k->eps;
	for (size_t i = 0; i < n; i++) {
		float mi = (float)(b1 * m[i] + (1.0 - b1) * g[i]);
		float vi = (float)(b2 * v[i] + (1.0 - b2) * g[i] * g[i]);
		m[i] = mi;
		v[i] = vi;
		x[i] -= (float)(step * mi / (sqrt(vi) + eps));
	}
}

/* The touched rows of a table (all rows when touched is NULL), one copy
 * per x86-64 level (lib/common/isa.h): at -O3 with the level's vectors
 * the double divisions and square roots run four or eight at a time
 * (over MPI each rank runs it on the touched rows it owns). */
typedef void adam_fn(const adam_k *, ag_param *, float *, float *);
#define ADAM(sfx, attr)                                                      \
	attr static void adam_##sfx(const adam_k *k, ag_param *p, float *m,  \
				    float *v)                                \
	{                                                                    \
		if (!p->touched) {                                           \
			adam_body(k, p->rows * p->cols, p->val, p->grad, m, \
				  v);                                        \
			return;                                              \
		}                                                            \
		for (size_t i = 0; i < p->ntouched; i++) {                   \
			size_t off = (size_t)p->touched[i] * p->cols;        \
			/* the rows are scattered over four tables of        \
			 * megabytes (weights, gradient, both moments), and  \
			 * each row's first load was most of Adam's time:    \
			 * ask for the rows a few iterations ahead */        \
			if (i + ADAM_AHEAD < p->ntouched) {                  \
				size_t o = (size_t)p->touched[i + ADAM_AHEAD] * \
					   p->cols;                          \
				prefetch(p->val + o);                        \
				prefetch(p->grad + o);                       \
				prefetch(m + o);                             \
				prefetch(v + o);                             \
			}                                                    \
			adam_body(k, p->cols, p->val + off, p->grad + off,   \
				  m + off, v + off);                         \
		}                                                            \
	}
ADAM(base, )
#if defined(ATH_HAVE_TARGET_LEVELS)
ADAM(v3, __attribute__((target("arch=x86-64-v3"))))
ADAM(v4, __attribute__((target("arch=x86-64-v4"))))
static adam_fn *const adams[] = {
	[ATH_ISA_DEFAULT] = adam_base,
	[ATH_ISA_V3] = adam_v3,
	[ATH_ISA_V4] = adam_v4,
};
#else
static adam_fn *const adams[] = {[ATH_ISA_DEFAULT] = adam_base};
#endif

void ath_adam_param(const ath_adam *a, ag_param *p, float *m, float *v)
{
	adam_k k = adam_constants(a);
	adams[ath_isa_level()](&k, p, m, v);
}

static void adam_run64(const adam_k *k, size_t n, double *x, float *val,
		       const float *g, float *m, float *v)
{
	double b1 = k->b1, b2 = k->b2;
	for (size_t i = 0; i < n; i++) {
		m[i] = (float)(b1 * m[i] + (1.0 - b1) * g[i]);
		v[i] = (float)(b2 * v[i] + (1.0 - b2) * g[i] * g[i]);
		x[i] -= k->step * m[i] / (sqrt(v[i]) + k->eps);
		val[i] = (float)x[i];
	}
}

void ath_adam_param64(const ath_adam *a, ag_param *p, double *master,
		      float *m, float *v)
{
	adam_k k = adam_constants(a);
	if (!p->touched) {
		adam_run64(&k, p->rows * p->cols, master, p->val, p->grad, m, v);
		return;
	}
	for (size_t i = 0; i < p->ntouched; i++) {
		size_t off = (size_t)p->touched[i] * p->cols;
		adam_run64(&k, p->cols, master + off, p->val + off,
			   p->grad + off, m + off, v + off);
	}
}

void ath_radam_rgrad(const geo_space *s, size_t n, const float *x,
		     const float *g, double *rgrad, double *lambda)
{
	/* exp0(x) = (tanh(u) / u) x, u = sqrt(c)|x|: J = alpha I +
	 * (beta - alpha) xh xh^T with alpha = tanh(u) / u, beta = 1 -
	 * tanh(u)^2 (xh = x / |x|), symmetric, so J^-T g = g_t / alpha +
	 * g_r / beta (g_r the radial part of g, g_t the rest); and
	 * 1 - c|p|^2 = beta, lambda_p = 2 / beta: rgrad = beta^2 / 4 J^-1 g
	 * = beta^2 / (4 alpha) g_t + beta / 4 g_r, nothing divided by the
	 * beta that vanishes at the boundary */
	double x2 = 0.0, gx = 0.0;
	for (size_t i = 0; i < n; i++) {
		x2 += (double)x[i] * x[i];
		gx += (double)g[i] * x[i];
	}
	double u = sqrt(s->c * x2);
	double t = tanh(fmin(u, GEO_TANH_MAX));
	double alpha = u > 0.0 ? t / u : 1.0, beta = 1.0 - t * t;
	double r = x2 > 0.0 ? gx / x2 : 0.0; /* g_r = r x */
	for (size_t i = 0; i < n; i++) {
		double gr = r * x[i], gt = g[i] - gr;
		rgrad[i] = beta * beta / (4.0 * alpha) * gt + beta / 4.0 * gr;
	}
	*lambda = 2.0 / beta;
}

void ath_radam_transport(const geo_space *s, size_t n, const float *p,
			 const float *q, const double *w, double *out)
{
	/* gyr[a, b] w = w + 2 (A a + B b) / D, a = q, b = -p (Ungar,
	 * "Analytic hyperbolic geometry and Albert Einstein's special theory
	 * of relativity", 2008, the gyration of the Mobius gyrogroup of
	 * curvature -c expanded), then the conformal factor ratio */
	double c = s->c, a2 = 0, b2 = 0, ab = 0, aw = 0, bw = 0;
	for (size_t i = 0; i < n; i++) {
		double ai = q[i], bi = -(double)p[i];
		a2 += ai * ai;
		b2 += bi * bi;
		ab += ai * bi;
		aw += ai * w[i];
		bw += bi * w[i];
	}
	double A = -c * c * aw * b2 + c * bw + 2.0 * c * c * ab * bw;
	double B = -c * c * bw * a2 - c * aw;
	double D = 1.0 + 2.0 * c * ab + c * c * a2 * b2;
	/* lambda_p / lambda_q = (1 - c|q|^2) / (1 - c|p|^2) */
	double ratio = (1.0 - c * a2) / (1.0 - c * b2);
	for (size_t i = 0; i < n; i++)
		out[i] = ratio * (w[i] + 2.0 * (A * q[i] - B * p[i]) / D);
}

static void radam_row(const adam_k *k, const geo_space *s, size_t n,
		      float *x, const float *g, float *m, float *v)
{
	double rg[ANTHEM_MAX_DIM], mm[ANTHEM_MAX_DIM], lambda, r2 = 0.0;
	float p[ANTHEM_MAX_DIM], u[ANTHEM_MAX_DIM], q[ANTHEM_MAX_DIM];
	ath_radam_rgrad(s, n, x, g, rg, &lambda);
	for (size_t i = 0; i < n; i++) {
		mm[i] = k->b1 * m[i] + (1.0 - k->b1) * rg[i];
		r2 += rg[i] * rg[i];
	}
	v[0] = (float)(k->b2 * v[0] + (1.0 - k->b2) * lambda * lambda * r2);
	double den = sqrt(v[0]) + k->eps;
	for (size_t i = 0; i < n; i++)
		u[i] = (float)(-k->step * mm[i] / den);
	geo_exp0(s, n, x, p);
	geo_expmap(s, n, p, u, q);
	ath_radam_transport(s, n, p, q, mm, mm);
	for (size_t i = 0; i < n; i++)
		m[i] = (float)mm[i];
	geo_log0(s, n, q, x);
}

void ath_radam_param(const ath_adam *a, const geo_space *s, ag_param *p,
		     float *m, float *v)
{
	adam_k k = adam_constants(a);
	size_t rows = p->touched ? p->ntouched : p->rows;
	for (size_t i = 0; i < rows; i++) {
		size_t off = (size_t)(p->touched ? p->touched[i] : i) * p->cols;
		radam_row(&k, s, p->cols, p->val + off, p->grad + off, m + off,
			  v + off);
	}
}

void ath_rsgd_update(const geo_space *s, size_t n, float *x, const float *g,
		     float lr)
{
	if (s->kind == GEO_EUCLIDEAN) {
		for (size_t i = 0; i < n; i++)
			x[i] -= lr * g[i];
		return;
	}
	double x2 = 0.0;
	for (size_t i = 0; i < n; i++)
		x2 += (double)x[i] * x[i];
	double k = (1.0 - s->c * x2) / 2.0; /* 1 / lambda_x */
	float u[ANTHEM_MAX_DIM];
	for (size_t i = 0; i < n; i++)
		u[i] = (float)(-lr * k * k * g[i]);
	geo_expmap(s, n, x, u, x); /* out may alias: expmap reads x first */
}
