/* Optimisers (internal).  The network keeps its parameters in the tangent
 * space at the origin (docs/network.md: every point is exp0 of a
 * parameter), so plain Adam is the Riemannian-correct update there; RSGD
 * is for parameters that are points of the ball themselves (the Poincaré
 * embedding of a hierarchy, Nickel and Kiela 2017). */
#ifndef ANTHEM_OPTIM_H
#define ANTHEM_OPTIM_H

#include "autograd/autograd.h"

#include <stdint.h>

typedef struct ath_adam {
	double lr, beta1, beta2, eps;
	uint64_t t; /* steps taken, for the bias correction; >= 1 */
} ath_adam;

/* One Adam step (Kingma and Ba 2015, Algorithm 1) on a parameter: for a
 * table with a touched list, only the touched rows ("lazy" Adam: rows
 * without gradient keep their moments, the usual treatment of sparse
 * embedding gradients); otherwise every value.  m and v have the
 * parameter's layout. */
void ath_adam_param(const ath_adam *a, ag_param *p, float *m, float *v);

/* Riemannian SGD on the ball: x <- proj(exp_x(-lr g / lambda_x^2)), the
 * Riemannian gradient being the Euclidean one rescaled by
 * 1 / lambda_x^2 (Nickel and Kiela 2017 use the retraction
 * x - lr (1 - c|x|^2)^2 / 4 g; the exponential map is exact).  In flat
 * space it is x <- x - lr g. */
void ath_rsgd_update(const geo_space *s, size_t n, float *x, const float *g,
		     float lr);

#endif
