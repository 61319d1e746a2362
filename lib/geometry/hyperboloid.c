/* anthem_hyperboloid: query regions in disjunctive normal form over simple
 * hyperboloids (Query2Box and HypE keep unions the same way). */
#include "common/internal.h"
#include "geometry/geometry.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A chain of ANDs over ORs multiplies branches; past this many simple terms
 * in one handle the operation is refused rather than eating the memory. */
#define MAX_TERMS 65536

struct anthem_hyperboloid {
	geo_space space;
	anthem_geometry geometry;
	size_t dim;
	size_t nbranches, nterms;
	size_t *branch_off; /* nbranches + 1 offsets into terms */
	float *terms;       /* nterms x (centre[dim], limit[dim]) */
};

static const float *term_at(const anthem_hyperboloid *h, size_t t)
{
	return h->terms + t * 2 * h->dim;
}

static int alloc_h(anthem_hyperboloid **out, const geo_space *space,
		   anthem_geometry geometry, size_t dim, size_t nbranches,
		   size_t nterms, const char *fn)
{
	if (nterms > MAX_TERMS || nbranches > MAX_TERMS)
		return ath_error(ANTHEM_ERANGE,
				 "%s: the result would have %zu simple terms, "
				 "more than the limit of %d",
				 fn, nterms, MAX_TERMS);
	/* sizes are bounded by MAX_TERMS * 2 * ANTHEM_MAX_DIM: no overflow */
	size_t head = sizeof(anthem_hyperboloid);
	size_t offs = (nbranches + 1) * sizeof(size_t);
	size_t floats = nterms * 2 * dim * sizeof(float);
	anthem_hyperboloid *h = calloc(1, head + offs + floats);
	if (!h)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	h->space = *space;
	h->geometry = geometry;
	h->dim = dim;
	h->nbranches = nbranches;
	h->nterms = nterms;
	h->branch_off = (size_t *)((char *)h + head);
	h->terms = (float *)((char *)h->branch_off + offs);
	*out = h;
	return ANTHEM_OK;
}

geo_space geo_space_of(anthem_geometry g, float curvature)
{
	if (g == ANTHEM_GEOMETRY_HYPERBOLIC)
		return (geo_space){GEO_HYPERBOLIC, curvature};
	return (geo_space){GEO_EUCLIDEAN, 0.0};
}

/* Norm check for points that must lie strictly inside the ball. */
static int check_in_ball(const geo_space *s, const char *fn, const char *what,
			 const float *x, size_t n)
{
	if (s->kind != GEO_HYPERBOLIC)
		return ANTHEM_OK;
	double acc = 0.0;
	for (size_t i = 0; i < n; i++)
		acc += (double)x[i] * x[i];
	if (sqrt(s->c * acc) >= 1.0)
		return ath_error(ANTHEM_ERANGE,
				 "%s: %s has norm %g, not inside the ball of "
				 "radius 1/sqrt(c) = %g",
				 fn, what, sqrt(acc), 1.0 / sqrt(s->c));
	return ANTHEM_OK;
}

int anthem_hyperboloid_create(anthem_hyperboloid **out,
			      anthem_geometry geometry, float curvature,
			      size_t dim, const float *centre,
			      const float *limit)
{
	static const char fn[] = "anthem_hyperboloid_create";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(centre, fn, "centre");
	ATH_CHECK_ARG(limit, fn, "limit");
	if (geometry != ANTHEM_GEOMETRY_HYPERBOLIC &&
	    geometry != ANTHEM_GEOMETRY_EUCLIDEAN &&
	    geometry != ANTHEM_GEOMETRY_VECTOR)
		return ath_error(ANTHEM_EINVAL, "%s: unknown geometry %d", fn,
				 (int)geometry);
	if (geometry == ANTHEM_GEOMETRY_HYPERBOLIC &&
	    !(isfinite(curvature) && curvature > 0.0f))
		return ath_error(ANTHEM_EINVAL,
				 "%s: curvature is %g, must be finite and > 0",
				 fn, curvature);
	geo_space s = geo_space_of(geometry, curvature);
	if (dim == 0 || dim > ANTHEM_MAX_DIM)
		return ath_error(ANTHEM_ERANGE, "%s: dim is %zu, must be 1 to %d",
				 fn, dim, ANTHEM_MAX_DIM);
	int rc;
	if ((rc = ath_check_finite(fn, "centre", centre, dim)) ||
	    (rc = ath_check_finite(fn, "limit", limit, dim)))
		return rc;
	for (size_t i = 0; i < dim; i++) {
		if (limit[i] < 0.0f)
			return ath_error(ANTHEM_EINVAL,
					 "%s: limit[%zu] is %g, must be >= 0",
					 fn, i, limit[i]);
		if (geometry == ANTHEM_GEOMETRY_VECTOR && limit[i] != 0.0f)
			return ath_error(ANTHEM_EINVAL,
					 "%s: limit[%zu] is %g, a vector query "
					 "is a point (limit 0)",
					 fn, i, limit[i]);
	}
	if ((rc = check_in_ball(&s, fn, "centre", centre, dim)) ||
	    (rc = check_in_ball(&s, fn, "limit", limit, dim)))
		return rc;
	anthem_hyperboloid *h = NULL;
	if ((rc = alloc_h(&h, &s, geometry, dim, 1, 1, fn)))
		return rc;
	h->branch_off[0] = 0;
	h->branch_off[1] = 1;
	memcpy(h->terms, centre, dim * sizeof(float));
	memcpy(h->terms + dim, limit, dim * sizeof(float));
	*out = h;
	return ANTHEM_OK;
}

void anthem_hyperboloid_free(anthem_hyperboloid *h) { free(h); }

size_t anthem_hyperboloid_dim(const anthem_hyperboloid *h)
{
	return h ? h->dim : 0;
}

anthem_geometry anthem_hyperboloid_geometry(const anthem_hyperboloid *h)
{
	return h ? h->geometry : ANTHEM_GEOMETRY_HYPERBOLIC;
}

float anthem_hyperboloid_curvature(const anthem_hyperboloid *h)
{
	return h ? (float)h->space.c : 0.0f;
}

size_t anthem_hyperboloid_branch_count(const anthem_hyperboloid *h)
{
	return h ? h->nbranches : 0;
}

size_t anthem_hyperboloid_term_count(const anthem_hyperboloid *h,
				     size_t branch)
{
	if (!h || branch >= h->nbranches)
		return 0;
	return h->branch_off[branch + 1] - h->branch_off[branch];
}

int anthem_hyperboloid_get(const anthem_hyperboloid *h, size_t branch,
			   size_t term, float *centre, float *limit)
{
	static const char fn[] = "anthem_hyperboloid_get";
	ATH_CHECK_ARG(h, fn, "h");
	if (branch >= h->nbranches ||
	    term >= anthem_hyperboloid_term_count(h, branch))
		return ath_error(ANTHEM_ERANGE,
				 "%s: no term %zu in branch %zu (%zu branches)",
				 fn, term, branch, h->nbranches);
	const float *t = term_at(h, h->branch_off[branch] + term);
	if (centre)
		memcpy(centre, t, h->dim * sizeof(float));
	if (limit)
		memcpy(limit, t + h->dim, h->dim * sizeof(float));
	return ANTHEM_OK;
}

static int check_pair(const anthem_hyperboloid *a,
		      const anthem_hyperboloid *b, const char *fn)
{
	ATH_CHECK_ARG(a, fn, "a");
	ATH_CHECK_ARG(b, fn, "b");
	if (a->geometry != b->geometry || a->space.c != b->space.c ||
	    a->dim != b->dim)
		return ath_error(ANTHEM_EMISMATCH,
				 "%s: operands differ (geometry %d/%d, "
				 "curvature %g/%g, dim %zu/%zu)",
				 fn, (int)a->geometry, (int)b->geometry,
				 a->space.c, b->space.c, a->dim, b->dim);
	return ANTHEM_OK;
}

/* Flat space: the intersection of the boxes of terms ta (na of them) and tb
 * (nb) is one box, written to out; returns 0 if it is empty. */
static int flat_meet(size_t dim, const float *ta, size_t na, const float *tb,
		     size_t nb, float *out)
{
	for (size_t i = 0; i < dim; i++) {
		double lo = -INFINITY, hi = INFINITY;
		for (size_t t = 0; t < na + nb; t++) {
			const float *x = t < na ? ta + t * 2 * dim
						: tb + (t - na) * 2 * dim;
			lo = fmax(lo, (double)x[i] - x[dim + i]);
			hi = fmin(hi, (double)x[i] + x[dim + i]);
		}
		if (lo > hi)
			return 0;
		out[i] = (float)((lo + hi) / 2.0);
		out[dim + i] = (float)((hi - lo) / 2.0);
	}
	return 1;
}

int anthem_hyperboloid_intersect(anthem_hyperboloid **out,
				 const anthem_hyperboloid *a,
				 const anthem_hyperboloid *b)
{
	static const char fn[] = "anthem_hyperboloid_intersect";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	int rc = check_pair(a, b, fn);
	if (rc)
		return rc;
	int flat = a->space.kind == GEO_EUCLIDEAN;
	size_t nb = 0, nt = 0;
	for (size_t i = 0; i < a->nbranches; i++)
		for (size_t j = 0; j < b->nbranches; j++) {
			nb++;
			nt += flat ? 1
				   : anthem_hyperboloid_term_count(a, i) +
					     anthem_hyperboloid_term_count(b, j);
			if (nt > MAX_TERMS)
				break;
		}
	anthem_hyperboloid *h = NULL;
	if ((rc = alloc_h(&h, &a->space, a->geometry, a->dim, nb, nt, fn)))
		return rc;
	size_t dim = a->dim, br = 0, t = 0;
	h->branch_off[0] = 0;
	for (size_t i = 0; i < a->nbranches; i++) {
		const float *ta = term_at(a, a->branch_off[i]);
		size_t na = anthem_hyperboloid_term_count(a, i);
		for (size_t j = 0; j < b->nbranches; j++) {
			const float *tb = term_at(b, b->branch_off[j]);
			size_t nbj = anthem_hyperboloid_term_count(b, j);
			float *dst = h->terms + t * 2 * dim;
			if (flat) {
				if (!flat_meet(dim, ta, na, tb, nbj, dst))
					continue; /* empty: drop the branch */
				t += 1;
			} else {
				memcpy(dst, ta, na * 2 * dim * sizeof(float));
				memcpy(dst + na * 2 * dim, tb,
				       nbj * 2 * dim * sizeof(float));
				t += na + nbj;
			}
			h->branch_off[++br] = t;
		}
	}
	h->nbranches = br;
	h->nterms = t;
	*out = h;
	return ANTHEM_OK;
}

int anthem_hyperboloid_union(anthem_hyperboloid **out,
			     const anthem_hyperboloid *a,
			     const anthem_hyperboloid *b)
{
	static const char fn[] = "anthem_hyperboloid_union";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	int rc = check_pair(a, b, fn);
	if (rc)
		return rc;
	anthem_hyperboloid *h = NULL;
	if ((rc = alloc_h(&h, &a->space, a->geometry, a->dim,
			  a->nbranches + b->nbranches, a->nterms + b->nterms,
			  fn)))
		return rc;
	size_t width = 2 * a->dim;
	memcpy(h->terms, a->terms, a->nterms * width * sizeof(float));
	memcpy(h->terms + a->nterms * width, b->terms,
	       b->nterms * width * sizeof(float));
	for (size_t i = 0; i <= a->nbranches; i++)
		h->branch_off[i] = a->branch_off[i];
	for (size_t j = 1; j <= b->nbranches; j++)
		h->branch_off[a->nbranches + j] = a->nterms + b->branch_off[j];
	*out = h;
	return ANTHEM_OK;
}

/* Distance of one point, already validated: min over branches of the max
 * over their terms.  *inside (if not NULL) says whether some branch has
 * d_out = 0 in every term. */
static float region_dist(const anthem_hyperboloid *h, const float *v,
			 float gamma, int *inside)
{
	float best = INFINITY;
	size_t dim = h->dim;
	if (inside)
		*inside = 0;
	for (size_t b = 0; b < h->nbranches; b++) {
		float worst = 0.0f;
		int in = 1;
		for (size_t t = h->branch_off[b]; t < h->branch_off[b + 1];
		     t++) {
			const float *c = term_at(h, t);
			float dout;
			float d = geo_box_dist(&h->space, dim, c, c + dim, v,
					       gamma, &dout, NULL);
			worst = fmaxf(worst, d);
			in = in && dout == 0.0f;
		}
		best = fminf(best, worst);
		if (inside && in)
			*inside = 1;
	}
	return best;
}

static int check_point(const anthem_hyperboloid *h, const char *fn,
		       const float *p, size_t dim)
{
	ATH_CHECK_ARG(h, fn, "h");
	ATH_CHECK_ARG(p, fn, "point");
	if (dim != h->dim)
		return ath_error(ANTHEM_EMISMATCH,
				 "%s: point has dim %zu, hyperboloid %zu", fn,
				 dim, h->dim);
	int rc = ath_check_finite(fn, "point", p, dim);
	return rc ? rc : check_in_ball(&h->space, fn, "point", p, dim);
}

static int check_gamma(const char *fn, float gamma)
{
	if (!(isfinite(gamma) && gamma >= 0.0f))
		return ath_error(ANTHEM_EINVAL,
				 "%s: gamma is %g, must be finite and >= 0", fn,
				 gamma);
	return ANTHEM_OK;
}

int anthem_hyperboloid_distance(const anthem_hyperboloid *h,
				const float *point, size_t dim, float gamma,
				float *out)
{
	static const char fn[] = "anthem_hyperboloid_distance";
	int rc;
	ATH_CHECK_ARG(out, fn, "out");
	if ((rc = check_point(h, fn, point, dim)) ||
	    (rc = check_gamma(fn, gamma)))
		return rc;
	*out = region_dist(h, point, gamma, NULL);
	return ANTHEM_OK;
}

int anthem_hyperboloid_distances(const anthem_hyperboloid *h,
				 const anthem_vectors *points, float gamma,
				 float *out)
{
	static const char fn[] = "anthem_hyperboloid_distances";
	ATH_CHECK_ARG(h, fn, "h");
	ATH_CHECK_ARG(points, fn, "points");
	int rc = check_gamma(fn, gamma);
	if (rc)
		return rc;
	size_t n = anthem_vectors_count(points), dim = h->dim;
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(out, fn, "out");
	if (anthem_vectors_dim(points) != dim)
		return ath_error(ANTHEM_EMISMATCH,
				 "%s: points have dim %zu, hyperboloid %zu", fn,
				 anthem_vectors_dim(points), dim);
	const float *data = anthem_vectors_data(points);
	for (size_t i = 0; i < n; i++) {
		const float *v = data + i * dim;
		/* a wrapped set may have changed since it was checked */
		if ((rc = ath_check_finite(fn, "point", v, dim)) ||
		    (rc = check_in_ball(&h->space, fn, "point", v, dim))) {
			char msg[400];
			snprintf(msg, sizeof msg, "%s", anthem_last_error());
			return ath_error(rc, "%s (point %zu)", msg, i);
		}
		out[i] = region_dist(h, v, gamma, NULL);
	}
	return ANTHEM_OK;
}

int anthem_hyperboloid_contains(const anthem_hyperboloid *h,
				const float *point, size_t dim, int *inside)
{
	static const char fn[] = "anthem_hyperboloid_contains";
	ATH_CHECK_ARG(inside, fn, "inside");
	int rc = check_point(h, fn, point, dim);
	if (rc)
		return rc;
	region_dist(h, point, 0.0f, inside);
	return ANTHEM_OK;
}
