/* libanthem: hyperboloids, the regions that stand for queries. */
#ifndef ANTHEM_HYPERBOLOID_H
#define ANTHEM_HYPERBOLOID_H

#include <anthem/common.h>
#include <anthem/vectors.h>

ANTHEM_BEGIN_DECLS

/* A query region.  A simple hyperboloid is a centre c and a limit l >= 0 (per
 * dimension extent), both points of the space; its corners are
 * qmin = c (-) l and qmax = c (+) l.  A point v is inside it when
 * v (-) qmax <= 0 and qmin (-) v <= 0 in every dimension; in flat space that
 * is exactly the box [c - l, c + l].
 *
 * In general a handle holds a union (list of branches) of intersections
 * (list of terms) of simple hyperboloids, in disjunctive normal form.  In flat
 * space the intersection of boxes is a box, so each branch has one term and
 * empty branches are dropped.  In the Poincaré ball the faces of a
 * hyperboloid are geodesic hyperplanes through its two corners, and the
 * intersection of two hyperboloids is in general not one hyperboloid, so the
 * terms are kept: that keeps "inside both" exact.  (A trained model's own
 * intersection layer, which does produce one hyperboloid, is a different,
 * learned operation.)
 *
 * Immutable after creation: safe to read from many threads at once. */
typedef struct anthem_hyperboloid anthem_hyperboloid;

/* A simple hyperboloid.  geometry is ANTHEM_GEOMETRY_HYPERBOLIC (curvature
 * must be finite and > 0, centre and limit strictly inside the ball of radius
 * 1/sqrt(curvature)), ANTHEM_GEOMETRY_EUCLIDEAN (curvature ignored) or
 * ANTHEM_GEOMETRY_VECTOR (flat, and the limit must be 0: a point, whose
 * distance to v is |v - centre|_1).  The limit must be >= 0 in every
 * dimension.  Arrays are copied. */
ANTHEM_API int anthem_hyperboloid_create(anthem_hyperboloid **out,
					 anthem_geometry geometry,
					 float curvature, size_t dim,
					 const float *centre,
					 const float *limit);

/* NULL is fine. */
ANTHEM_API void anthem_hyperboloid_free(anthem_hyperboloid *h);

/* The region's dimension, geometry and curvature, as created. */
ANTHEM_API size_t anthem_hyperboloid_dim(const anthem_hyperboloid *h);
ANTHEM_API anthem_geometry
anthem_hyperboloid_geometry(const anthem_hyperboloid *h);
ANTHEM_API float anthem_hyperboloid_curvature(const anthem_hyperboloid *h);

/* Number of union branches (0 for the empty region). */
ANTHEM_API size_t anthem_hyperboloid_branch_count(const anthem_hyperboloid *h);
/* Number of intersected terms in a branch (0 if branch is out of range). */
ANTHEM_API size_t anthem_hyperboloid_term_count(const anthem_hyperboloid *h,
						size_t branch);
/* Copy the centre and limit (dim floats each; either may be NULL) of one
 * term of one branch.  ANTHEM_ERANGE if branch or term is out of range. */
ANTHEM_API int anthem_hyperboloid_get(const anthem_hyperboloid *h,
				      size_t branch, size_t term,
				      float *centre, float *limit);

/* "a AND b" and "a OR b" as new handles.  ANTHEM_EMISMATCH if the operands
 * differ in geometry, curvature or dimension.  The intersection of unions
 * distributes over their branches. */
ANTHEM_API int anthem_hyperboloid_intersect(anthem_hyperboloid **out,
					    const anthem_hyperboloid *a,
					    const anthem_hyperboloid *b);
ANTHEM_API int anthem_hyperboloid_union(anthem_hyperboloid **out,
					const anthem_hyperboloid *a,
					const anthem_hyperboloid *b);

/* Distance of a point to the region: for a simple hyperboloid
 * d = d_out + gamma d_in (docs/network.md, step 6), d_out = 0 exactly
 * inside; for an intersection the largest distance to its terms, for a
 * union the smallest over its branches, +inf for the empty region.  gamma
 * must be finite and >= 0 (0.5 in ANTHEM's code, 0.2 in Query2Box).  In
 * the ball, the point must lie strictly inside it (ANTHEM_ERANGE
 * otherwise). */
ANTHEM_API int anthem_hyperboloid_distance(const anthem_hyperboloid *h,
					   const float *point, size_t dim,
					   float gamma, float *out);

/* The same for every point of a set; out has anthem_vectors_count(points)
 * floats. */
ANTHEM_API int anthem_hyperboloid_distances(const anthem_hyperboloid *h,
					    const anthem_vectors *points,
					    float gamma, float *out);

/* *inside = 1 if the point lies in the region (d_out = 0 for every term of
 * some branch), else 0. */
ANTHEM_API int anthem_hyperboloid_contains(const anthem_hyperboloid *h,
					   const float *point, size_t dim,
					   int *inside);

ANTHEM_END_DECLS

#endif
