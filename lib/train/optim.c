#include "train/optim.h"

#include <anthem/common.h>
#include "common/isa.h"

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
 * (Adam over the union of touched rows is the part of a step every MPI
 * rank does whole). */
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
