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

/* ath_adam_param with a float64 master copy of the parameter (its
 * layout): Adam updates the master, the parameter receives its float32
 * rounding, so steps smaller than a float32 ulp of the value add up
 * instead of being lost (issue 17's float64 tables). */
void ath_adam_param64(const ath_adam *a, ag_param *p, double *master,
		      float *m, float *v);

/* Riemannian Adam (Becigneul and Ganea 2019, "Riemannian adaptive
 * optimization methods", Algorithm 1 on the product of balls, one ball a
 * row) on a table whose rows x are tangent vectors at the origin of the
 * points p = exp0(x): the row's Euclidean gradient g (of x) becomes the
 * Riemannian gradient of p, rgrad = J^-T g / lambda_p^2 (J = d exp0 / dx);
 * m (the row's layout) is the first moment as a tangent vector at p, v[0]
 * the second moment, a scalar: the Riemannian squared norm
 * lambda_p^2 |rgrad|^2 (the rest of v's row is unused); p moves to
 * p' = exp_p(-step m / (sqrt v + eps)), m is carried there by parallel
 * transport, and the row becomes log0(p').  Only the touched rows of a
 * table with a touched list.  Hyperbolic space only. */
void ath_radam_param(const ath_adam *a, const geo_space *s, ag_param *p,
		     float *m, float *v);

/* The pieces of ath_radam_param, for the tests: rgrad of a row (what
 * the finite differences of exp0 check), and the parallel transport of w
 * from p to q, (lambda_p / lambda_q) gyr[q, -p] w (Ungar 2008, the
 * gyration in closed form; Ganea et al. 2018, eq. 22 for the factor). */
void ath_radam_rgrad(const geo_space *s, size_t n, const float *x,
		     const float *g, double *rgrad, double *lambda);
void ath_radam_transport(const geo_space *s, size_t n, const float *p,
			 const float *q, const double *w, double *out);

/* Riemannian SGD on the ball: x <- proj(exp_x(-lr g / lambda_x^2)), the
 * Riemannian gradient being the Euclidean one rescaled by
 * 1 / lambda_x^2 (Nickel and Kiela 2017 use the retraction
 * x - lr (1 - c|x|^2)^2 / 4 g; the exponential map is exact).  In flat
 * space it is x <- x - lr g. */
void ath_rsgd_update(const geo_space *s, size_t n, float *x, const float *g,
		     float lr);

#endif
