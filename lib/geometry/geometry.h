/* Internal geometry kernels: the Poincaré ball of curvature -c and flat space
 * behind one switch.  Not part of the public API.
 *
 * Conventions kept by every function here:
 *  - vectors are float32 arrays of length n (n >= 1); outputs may not alias
 *    inputs unless a function says so;
 *  - every reduction and every transcendental is evaluated in double, so a
 *    float32 result is the correctly computed value rounded once, and the
 *    artanh / tanh guards below can be much tighter than float32 would allow;
 *  - hyperbolic outputs that are points are projected to radius
 *    (1 - GEO_BALL_EPS) / sqrt(c) (HNN, Ganea et al. 2018, use eps = 1e-5);
 *  - *_backward functions ADD the gradient into their gradient outputs
 *    (accumulate, as the autograd needs) and skip any gradient output that is
 *    NULL; the projection is treated as the identity there, as in HNN;
 *  - in flat space (GEO_EUCLIDEAN) x (+) y is x + y, exp0/log0 are identity,
 *    r (*) x is r x, the distance is |x - y| and the gyro mean is the weighted
 *    mean.  The same code path serves both, so that a comparison between the
 *    two measures the geometry and not the implementation. */
#ifndef ANTHEM_GEOMETRY_H
#define ANTHEM_GEOMETRY_H

#include <anthem/common.h>

#include <stddef.h>

#define GEO_BALL_EPS 1e-5   /* projection margin, HNN's value */
#define GEO_ATANH_MAX (1.0 - 1e-12) /* artanh argument clamp (double) */
#define GEO_TANH_MAX 15.0   /* tanh argument clamp: tanh(15) = 1 - 2e-13 */
#define GEO_MIN_NORM 1e-15  /* floor under norms that can be zero */

typedef enum geo_kind {
	GEO_HYPERBOLIC = 0,
	GEO_EUCLIDEAN = 1
} geo_kind;

typedef struct geo_space {
	geo_kind kind;
	double c; /* curvature magnitude, > 0; ignored in flat space */
} geo_space;

/* The space of a public geometry: the ball of curvature c for
 * ANTHEM_GEOMETRY_HYPERBOLIC, flat space (c = 0) for the others (E-ANTHEM
 * and the vector baseline differ in the network, not in the space).  The
 * one place the public enum becomes a geo_space: models, hyperboloid
 * handles and the stage-1 scan agree on it.  Does not validate. */
geo_space geo_space_of(anthem_geometry g, float curvature);

/* Largest admissible norm of a point: (1 - eps)/sqrt(c), or +inf if flat. */
double geo_max_norm(const geo_space *s);

/* Project x in place into the ball (no-op in flat space). */
void geo_project(const geo_space *s, size_t n, float *x);

/* out = x (+) y (Möbius addition):
 *   ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y)
 *   / (1 + 2c<x,y> + c^2|x|^2|y|^2),
 * and x (-) y = x (+) (-y).  Only the tests call it: it is their
 * window onto the addition that geo_expmap, geo_dist and geo_box_dist are
 * built on (test_geometry checks it against the float64 reference and its
 * identities; test_autograd finds geo_box_dist's switches with it). */
void geo_add(const geo_space *s, size_t n, const float *x, const float *y,
	     float *out);

/* out = exp0(v) = tanh(sqrt(c)|v|) v / (sqrt(c)|v|), the exponential map
 * at the origin. */
void geo_exp0(const geo_space *s, size_t n, const float *v, float *out);
void geo_exp0_backward(const geo_space *s, size_t n, const float *v,
		       const float *gout, float *gv);

/* out = log0(y) = artanh(sqrt(c)|y|) y / (sqrt(c)|y|), the logarithmic map
 * at the origin (its inverse). */
void geo_log0(const geo_space *s, size_t n, const float *y, float *out);
void geo_log0_backward(const geo_space *s, size_t n, const float *y,
		       const float *gout, float *gy);

/* The same two forwards, keeping the radial factors f(u) and h(u) of
 * their input (out = f v; gv += f g + c h <g, v> v) in fh, and the one
 * backward for both from them: no transcendental function is computed
 * again, and the results are those of geo_exp0_backward and
 * geo_log0_backward bit for bit. */
void geo_exp0_kept(const geo_space *s, size_t n, const float *v, float *out,
		   double fh[2]);
void geo_log0_kept(const geo_space *s, size_t n, const float *y, float *out,
		   double fh[2]);
void geo_radial_backward_kept(const geo_space *s, size_t n, const float *v,
			      const double fh[2], const float *gout, float *gv);

/* out = log0(exp0(v)) with exp0's projection: v itself while
 * sqrt(c)|v| <= artanh(1 - GEO_BALL_EPS), else v shortened to that length
 * (exp0 sends v to radius tanh(sqrt(c)|v|)/sqrt(c), the projection caps
 * it at (1 - eps)/sqrt(c), log0 brings it back).  The network needs both a
 * trigram's point and its tangent vector: this is the tangent vector in
 * one norm, without a tanh, an artanh and a float rounding in between. */
void geo_clip0(const geo_space *s, size_t n, const float *v, float *out);
void geo_clip0_backward(const geo_space *s, size_t n, const float *v,
			const float *gout, float *gv);

/* out = exp_x(u) = x (+) exp0(lambda_x u / 2), lambda_x = 2 / (1 - c|x|^2)
 * (RSGD's step). */
void geo_expmap(const geo_space *s, size_t n, const float *x, const float *u,
		float *out);

/* out = log_x(y) = (2 / lambda_x) log0((-x) (+) y).  Only the tests call
 * it: the reference that checks geo_expmap (exp_x(log_x(y)) = y) and
 * geo_dist (d(x, y) = lambda_x |log_x(y)|) in test_geometry. */
void geo_logmap(const geo_space *s, size_t n, const float *x, const float *y,
		float *out);

/* d(x, y) = (2/sqrt c) artanh(sqrt c |(-x) (+) y|); |x - y| in flat space. */
float geo_dist(const geo_space *s, size_t n, const float *x, const float *y);
void geo_dist_backward(const geo_space *s, size_t n, const float *x,
		       const float *y, float gout, float *gx, float *gy);

/* Weighted gyro midpoint of k points X (k x n row-major) with weights
 * w >= 0, not all zero (Ungar; Bachmann et al., ICML 2020, eq. for the
 * kappa-midpoint):  m = 1/2 (*) ( sum w_i L_i x_i / sum w_i (L_i - 1) ),
 * L_i = 2 / (1 - c|x_i|^2), r (*) x = exp0(r log0(x)) (Möbius scalar
 * multiplication).  Flat: sum w_i x_i / sum w_i. */
void geo_mean(const geo_space *s, size_t k, size_t n, const float *w,
	      const float *X, float *out);
void geo_mean_backward(const geo_space *s, size_t k, size_t n, const float *w,
		       const float *X, const float *gout, float *gw,
		       float *gX);

/* g means of the same k points, weights W [g x k], out [g x n], with the
 * forward's intermediate values (every point's lambda, once, and per row
 * the Klein sum and its denominator) kept in `keep`, of
 * geo_means_keep_size(g, k, n) doubles, so that backward does not compute
 * them again.  Each row's forward is geo_mean's bit for bit; backward sums
 * a point's gradient over the rows before it adds it to gX (gW, gX may be
 * NULL). */
size_t geo_means_keep_size(size_t g, size_t k, size_t n);
void geo_means_kept(const geo_space *s, size_t g, size_t k, size_t n,
		    const float *W, const float *X, float *out, double *keep);
void geo_means_backward_kept(const geo_space *s, size_t g, size_t k,
			     size_t n, const float *W, const float *X,
			     const double *keep, const float *gout, float *gW,
			     float *gX);

/* Point-to-hyperboloid distance (HypE / Query2Box with Möbius operations):
 *   qmin = c (-) l, qmax = c (+) l,
 *   d_out = | max(v (-) qmax, 0) + max(qmin (-) v, 0) |_1,
 *   d_in  = | c (-) min(qmax, max(qmin, v)) |_1,
 *   return d_out + gamma d_in.
 * dout / din receive the two parts when not NULL. */
float geo_box_dist(const geo_space *s, size_t n, const float *c,
		   const float *l, const float *v, float gamma, float *dout,
		   float *din);
/* g is the gradient of the loss with respect to the returned distance. */
void geo_box_dist_backward(const geo_space *s, size_t n, const float *c,
			   const float *l, const float *v, float gamma,
			   float g, float *gc, float *gl, float *gv);

#endif
