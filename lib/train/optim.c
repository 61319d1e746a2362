#include "optim.h"

#include <anthem/common.h>

#include <math.h>

void ath_adam_update(const ath_adam *a, size_t n, float *x, const float *g,
		     float *m, float *v)
{
	double b1 = a->beta1, b2 = a->beta2;
	double c1 = 1.0 - pow(b1, (double)a->t), c2 = 1.0 - pow(b2, (double)a->t);
	double step = a->lr * sqrt(c2) / c1;
	for (size_t i = 0; i < n; i++) {
		m[i] = (float)(b1 * m[i] + (1.0 - b1) * g[i]);
		v[i] = (float)(b2 * v[i] + (1.0 - b2) * g[i] * g[i]);
		/* eps scaled as in the paper's efficient form */
		x[i] -= (float)(step * m[i] / (sqrt(v[i]) + a->eps * sqrt(c2)));
	}
}

void ath_adam_param(const ath_adam *a, ag_param *p, float *m, float *v)
{
	if (!p->touched) {
		ath_adam_update(a, p->rows * p->cols, p->val, p->grad, m, v);
		return;
	}
	for (size_t i = 0; i < p->ntouched; i++) {
		size_t off = (size_t)p->touched[i] * p->cols;
		ath_adam_update(a, p->cols, p->val + off, p->grad + off, m + off,
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
