/* Fuzz target "hyperboloid": the query-composition API
 * (include/anthem/hyperboloid.h) driven by a small program.
 *
 * The input is a sequence of operations on 8 handle slots; each operation
 * is an opcode byte and its operands, and a program that runs out of bytes
 * reads zeros.  Floats come either as raw IEEE bits (NaN, infinities,
 * denormals, huge values, negative limits) or as one byte scaled into
 * [-1, 1), chosen by a mode byte, so that both refusals and valid regions
 * are common.  Dimensions are 0 to 16, geometries 0 to 3 (3 is invalid),
 * curvatures any float.  Every error must be a status code with a message;
 * results are checked against the header's promises.
 *
 *   op % 8  operands (one byte each unless said)
 *   0 create    slot, geometry % 4, dim % 17, curvature (scalar), mode,
 *               centre[dim], limit[dim]
 *   1 intersect dst, a, b        (an empty slot is passed as NULL)
 *   2 union     dst, a, b
 *   3 distance  slot, dim selector, mode, point[dim], gamma (scalar)
 *   4 contains  slot, dim selector, mode, point[dim]
 *   5 read back slot: every branch, term, centre and limit
 *   6 distances slot, count % 5, dim selector, mode, points[count][dim],
 *               gamma (scalar), wrap (odd) or copy (even)
 *   7 free      slot
 *
 * A float is 4 raw little-endian bytes when its mode says raw, else one
 * byte b read as (int8_t)b / 128.  Create's mode: bit 0 raw centre, bit 1
 * raw limit, bit 2 keep the sign of small limits (else their absolute
 * value), bit 3 pass centre as NULL, bit 4 pass limit as NULL; the other
 * modes: bit 0 raw.  A scalar is a byte m, then 4 raw bytes if m is odd,
 * else the value (m >> 1) / 32.  A dim selector with its high bit set
 * means the handle's dim, else dim % 17. */
#include "fuzz.h"

#include <math.h>

#define SLOTS 8
#define MAXD 16
#define MAX_OPS 64
/* Simple terms produced or evaluated per input: an operation that would
 * exceed what is left is skipped, so that an input stays fast (a chain of
 * unions doubles the terms at each step).  Operations the library must
 * refuse for size (more than its 65536 terms) are not charged, so that the
 * refusal itself is still exercised. */
#define BUDGET ((size_t)1 << 16)
#define MAX_TERMS ((size_t)1 << 16)

static size_t budget;

static int charge(size_t cost)
{
	if (cost > budget)
		return 0;
	budget -= cost;
	return 1;
}

typedef struct rd {
	const uint8_t *p;
	size_t n;
} rd;

static uint8_t u8(rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static float fval(rd *r, int raw)
{
	if (!raw)
		return (float)(int8_t)u8(r) / 128.0f;
	uint32_t b = 0;
	for (int i = 0; i < 4; i++)
		b |= (uint32_t)u8(r) << (8 * i);
	float f;
	memcpy(&f, &b, sizeof f);
	return f;
}

/* a float that is raw bits or a small positive value, after a mode byte */
static float scalar(rd *r)
{
	uint8_t m = u8(r);
	return m & 1 ? fval(r, 1) : (float)(m >> 1) / 32.0f;
}

static size_t terms(const anthem_hyperboloid *h)
{
	size_t n = 0, b = anthem_hyperboloid_branch_count(h);
	for (size_t i = 0; i < b; i++)
		n += anthem_hyperboloid_term_count(h, i);
	return n;
}

static void op_create(rd *r, anthem_hyperboloid **slot)
{
	anthem_geometry g = (anthem_geometry)(u8(r) % 4);
	size_t dim = u8(r) % (MAXD + 1);
	float curv = scalar(r);
	uint8_t mode = u8(r);
	float c[MAXD], l[MAXD];
	for (size_t i = 0; i < dim; i++)
		c[i] = fval(r, mode & 1);
	for (size_t i = 0; i < dim; i++) {
		l[i] = fval(r, mode & 2);
		if (!(mode & 2) && !(mode & 4))
			l[i] = fabsf(l[i]);
	}
	anthem_hyperboloid *h = (anthem_hyperboloid *)1;
	fz_begin();
	int rc = fz_status(anthem_hyperboloid_create(&h, g, curv, dim,
						     mode & 8 ? NULL : c,
						     mode & 16 ? NULL : l),
			   "anthem_hyperboloid_create");
	if (rc != ANTHEM_OK) {
		if (h)
			fz_fail("anthem_hyperboloid_create failed (%d) but left "
				"*out set", rc);
		if (g == 3 && rc != ANTHEM_EINVAL)
			fz_fail("geometry 3 refused with %d, not EINVAL", rc);
		return;
	}
	/* what was accepted must be what the header allows */
	if (g == 3 || dim == 0 || (mode & 24))
		fz_fail("create accepted geometry %d, dim %zu, NULL arrays %d",
			(int)g, dim, mode & 24);
	if (g == ANTHEM_GEOMETRY_HYPERBOLIC && !(isfinite(curv) && curv > 0))
		fz_fail("create accepted curvature %g", curv);
	for (size_t i = 0; i < dim; i++)
		if (!isfinite(c[i]) || !isfinite(l[i]) || !(l[i] >= 0.0f) ||
		    (g == ANTHEM_GEOMETRY_VECTOR && l[i] != 0.0f))
			fz_fail("create accepted centre[%zu] %g, limit[%zu] %g",
				i, c[i], i, l[i]);
	if (anthem_hyperboloid_dim(h) != dim ||
	    anthem_hyperboloid_geometry(h) != g ||
	    anthem_hyperboloid_branch_count(h) != 1 ||
	    anthem_hyperboloid_term_count(h, 0) != 1)
		fz_fail("a new hyperboloid does not describe itself");
	float c2[MAXD], l2[MAXD];
	fz_begin();
	if (fz_status(anthem_hyperboloid_get(h, 0, 0, c2, l2),
		      "anthem_hyperboloid_get") ||
	    memcmp(c, c2, dim * sizeof *c) || memcmp(l, l2, dim * sizeof *l))
		fz_fail("a new hyperboloid does not give back its arrays");
	anthem_hyperboloid_free(*slot);
	*slot = h;
}

static void op_combine(rd *r, anthem_hyperboloid **s, int is_union)
{
	int dst = u8(r) % SLOTS;
	const anthem_hyperboloid *a = s[u8(r) % SLOTS], *b = s[u8(r) % SLOTS];
	if (a && b) {
		size_t ta = terms(a), tb = terms(b),
		       ba = anthem_hyperboloid_branch_count(a),
		       bb = anthem_hyperboloid_branch_count(b);
		int flat = anthem_hyperboloid_geometry(a) !=
			   ANTHEM_GEOMETRY_HYPERBOLIC;
		/* the library's own count: in flat space one term a pair */
		size_t bound = is_union ? ta + tb
				 : flat	 ? ba * bb
					 : bb * ta + ba * tb;
		if (bound <= MAX_TERMS && !charge(bound))
			return;
	}
	anthem_hyperboloid *h = (anthem_hyperboloid *)1;
	const char *fn = is_union ? "anthem_hyperboloid_union"
				  : "anthem_hyperboloid_intersect";
	fz_begin();
	int rc = fz_status(is_union ? anthem_hyperboloid_union(&h, a, b)
				    : anthem_hyperboloid_intersect(&h, a, b),
			   fn);
	if (rc != ANTHEM_OK) {
		if (h)
			fz_fail("%s failed (%d) but left *out set", fn, rc);
		if (!a || !b) {
			if (rc != ANTHEM_EINVAL)
				fz_fail("%s with NULL gave %d", fn, rc);
		} else if (anthem_hyperboloid_dim(a) != anthem_hyperboloid_dim(b) ||
			   anthem_hyperboloid_geometry(a) !=
				   anthem_hyperboloid_geometry(b)) {
			if (rc != ANTHEM_EMISMATCH)
				fz_fail("%s of different spaces gave %d", fn, rc);
		} else if (rc != ANTHEM_ERANGE && rc != ANTHEM_EMISMATCH &&
			   rc != ANTHEM_ENOMEM) {
			fz_fail("%s of compatible operands gave %d", fn, rc);
		}
		return;
	}
	if (!a || !b)
		fz_fail("%s accepted a NULL operand", fn);
	size_t ba = anthem_hyperboloid_branch_count(a),
	       bb = anthem_hyperboloid_branch_count(b),
	       bh = anthem_hyperboloid_branch_count(h);
	if (anthem_hyperboloid_dim(h) != anthem_hyperboloid_dim(a) ||
	    anthem_hyperboloid_geometry(h) != anthem_hyperboloid_geometry(a))
		fz_fail("%s changed the space", fn);
	if (is_union ? bh != ba + bb : bh > ba * bb)
		fz_fail("%s of %zu and %zu branches has %zu", fn, ba, bb, bh);
	if (is_union && terms(h) != terms(a) + terms(b))
		fz_fail("union of %zu and %zu terms has %zu", terms(a),
			terms(b), terms(h));
	if (!is_union &&
	    anthem_hyperboloid_geometry(a) == ANTHEM_GEOMETRY_HYPERBOLIC) {
		/* the terms are kept: every pair of branches, both lists */
		if (bh != ba * bb ||
		    terms(h) != bb * terms(a) + ba * terms(b))
			fz_fail("intersection in the ball of %zu x %zu branches "
				"has %zu branches, %zu terms", ba, bb, bh,
				terms(h));
	}
	anthem_hyperboloid_free(s[dst]);
	s[dst] = h;
}

static size_t point_dim(rd *r, const anthem_hyperboloid *h)
{
	uint8_t sel = u8(r);
	return sel & 0x80 && h ? anthem_hyperboloid_dim(h) : sel % (MAXD + 1);
}

static int point_ok(const anthem_hyperboloid *h, const float *p, size_t dim)
{
	if (!h || dim != anthem_hyperboloid_dim(h))
		return 0;
	for (size_t i = 0; i < dim; i++)
		if (!isfinite(p[i]))
			return 0;
	return 1;
}

static void op_distance(rd *r, anthem_hyperboloid **s)
{
	const anthem_hyperboloid *h = s[u8(r) % SLOTS];
	size_t dim = point_dim(r, h);
	int raw = u8(r) & 1;
	float p[MAXD];
	for (size_t i = 0; i < dim; i++)
		p[i] = fval(r, raw);
	float gamma = scalar(r);
	if (!charge(h ? 3 * terms(h) : 0))
		return;
	float d = -1.0f;
	fz_begin();
	int rc = fz_status(anthem_hyperboloid_distance(h, p, dim, gamma, &d),
			   "anthem_hyperboloid_distance");
	if (rc != ANTHEM_OK) {
		if (point_ok(h, p, dim) && isfinite(gamma) && gamma >= 0.0f &&
		    !(rc == ANTHEM_ERANGE &&
		      anthem_hyperboloid_geometry(h) == ANTHEM_GEOMETRY_HYPERBOLIC))
			fz_fail("distance of a valid point failed with %d", rc);
		return;
	}
	if (!point_ok(h, p, dim) || !(isfinite(gamma) && gamma >= 0.0f))
		fz_fail("distance accepted dim %zu, gamma %g", dim, gamma);
	if (d < 0.0f)
		fz_fail("distance %g < 0", d);
	if (anthem_hyperboloid_branch_count(h) == 0 && d != INFINITY)
		fz_fail("distance to the empty region is %g, not +inf", d);
	/* inside (d_out = 0 in every term of a branch) means distance 0 at
	 * gamma 0 */
	int in = -1;
	fz_begin();
	if (fz_status(anthem_hyperboloid_contains(h, p, dim, &in),
		      "anthem_hyperboloid_contains") || (in != 0 && in != 1))
		fz_fail("contains fails (or says %d) where distance works", in);
	float d0 = -1.0f;
	fz_begin();
	if (fz_status(anthem_hyperboloid_distance(h, p, dim, 0.0f, &d0),
		      "anthem_hyperboloid_distance"))
		fz_fail("distance at gamma 0 fails where gamma %g works", gamma);
	if (in && d0 != 0.0f)
		fz_fail("the point is inside but its distance at gamma 0 is %g",
			d0);
}

static void op_contains(rd *r, anthem_hyperboloid **s)
{
	const anthem_hyperboloid *h = s[u8(r) % SLOTS];
	size_t dim = point_dim(r, h);
	int raw = u8(r) & 1;
	float p[MAXD];
	for (size_t i = 0; i < dim; i++)
		p[i] = fval(r, raw);
	if (!charge(h ? terms(h) : 0))
		return;
	int in = -1;
	fz_begin();
	int rc = fz_status(anthem_hyperboloid_contains(h, p, dim, &in),
			   "anthem_hyperboloid_contains");
	if (rc == ANTHEM_OK) {
		if (!point_ok(h, p, dim))
			fz_fail("contains accepted a bad point (dim %zu)", dim);
		if (in != 0 && in != 1)
			fz_fail("contains says %d", in);
		if (anthem_hyperboloid_branch_count(h) == 0 && in)
			fz_fail("the empty region contains a point");
	}
}

static void op_readback(rd *r, anthem_hyperboloid **s)
{
	const anthem_hyperboloid *h = s[u8(r) % SLOTS];
	if (!h) {
		fz_begin();
		if (fz_status(anthem_hyperboloid_get(NULL, 0, 0, NULL, NULL),
			      "anthem_hyperboloid_get") != ANTHEM_EINVAL)
			fz_fail("anthem_hyperboloid_get(NULL) is not EINVAL");
		if (anthem_hyperboloid_branch_count(NULL) ||
		    anthem_hyperboloid_term_count(NULL, 0) ||
		    anthem_hyperboloid_dim(NULL))
			fz_fail("NULL handle getters are not 0");
		return;
	}
	if (!charge(terms(h)))
		return;
	size_t dim = anthem_hyperboloid_dim(h),
	       nb = anthem_hyperboloid_branch_count(h);
	float c[MAXD], l[MAXD];
	for (size_t b = 0; b < nb; b++) {
		size_t nt = anthem_hyperboloid_term_count(h, b);
		if (nt == 0)
			fz_fail("branch %zu of %zu has no term", b, nb);
		for (size_t t = 0; t <= nt; t++) {
			fz_begin();
			int rc = fz_status(anthem_hyperboloid_get(h, b, t, c, l),
					   "anthem_hyperboloid_get");
			if (t == nt) {
				if (rc != ANTHEM_ERANGE)
					fz_fail("term past the end gave %d", rc);
				break;
			}
			if (rc)
				fz_fail("term %zu of branch %zu: %d", t, b, rc);
			for (size_t i = 0; i < dim; i++)
				if (!isfinite(c[i]) || !(l[i] >= 0.0f) ||
				    !isfinite(l[i]))
					fz_fail("branch %zu term %zu: centre "
						"%g, limit %g", b, t, c[i], l[i]);
		}
	}
	fz_begin();
	if (fz_status(anthem_hyperboloid_get(h, nb, 0, c, l),
		      "anthem_hyperboloid_get") != ANTHEM_ERANGE ||
	    anthem_hyperboloid_term_count(h, nb) != 0)
		fz_fail("branch past the end is not refused");
	(void)anthem_hyperboloid_curvature(h);
}

static void op_distances(rd *r, anthem_hyperboloid **s)
{
	const anthem_hyperboloid *h = s[u8(r) % SLOTS];
	size_t n = u8(r) % 5;
	size_t dim = point_dim(r, h);
	int raw = u8(r) & 1;
	float p[4 * MAXD], out[4], one;
	for (size_t i = 0; i < n * dim; i++)
		p[i] = fval(r, raw);
	float gamma = scalar(r);
	int wrap = u8(r) & 1;
	if (!charge(h ? terms(h) * 2 * n : 0))
		return;
	anthem_vectors *v = NULL;
	fz_begin();
	int rc = fz_status(wrap ? anthem_vectors_wrap(&v, n, dim, p)
				: anthem_vectors_copy(&v, n, dim, p),
			   wrap ? "anthem_vectors_wrap" : "anthem_vectors_copy");
	if (rc != ANTHEM_OK) {
		if (dim != 0) /* dim 0 must fail; else a non-finite value */
			for (size_t i = 0; i < n * dim; i++)
				if (!isfinite(p[i]))
					return;
		if (dim != 0)
			fz_fail("vectors of finite values refused (%d)", rc);
		return;
	}
	if (anthem_vectors_count(v) != n || anthem_vectors_dim(v) != dim)
		fz_fail("vectors describe themselves wrongly");
	fz_begin();
	rc = fz_status(anthem_hyperboloid_distances(h, v, gamma, out),
		       "anthem_hyperboloid_distances");
	if (rc == ANTHEM_OK && h) {
		/* one by one, the same numbers to the bit */
		for (size_t i = 0; i < n; i++) {
			fz_begin();
			if (fz_status(anthem_hyperboloid_distance(h, p + i * dim,
								  dim, gamma,
								  &one),
				      "anthem_hyperboloid_distance"))
				fz_fail("point %zu: distances works, distance "
					"does not", i);
			if (!fz_same_float(one, out[i]) &&
			    !(isnan(one) && isnan(out[i])))
				fz_fail("point %zu: distances %g, distance %g",
					i, out[i], one);
		}
	}
	anthem_vectors_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rd r = {data, size};
	anthem_hyperboloid *s[SLOTS] = {0};
	budget = BUDGET;
	for (int ops = 0; ops < MAX_OPS && r.n > 0; ops++) {
		switch (u8(&r) % 8) {
		case 0: op_create(&r, &s[u8(&r) % SLOTS]); break;
		case 1: op_combine(&r, s, 0); break;
		case 2: op_combine(&r, s, 1); break;
		case 3: op_distance(&r, s); break;
		case 4: op_contains(&r, s); break;
		case 5: op_readback(&r, s); break;
		case 6: op_distances(&r, s); break;
		case 7: {
			int k = u8(&r) % SLOTS;
			anthem_hyperboloid_free(s[k]);
			s[k] = NULL;
			break;
		}
		}
	}
	for (int i = 0; i < SLOTS; i++)
		anthem_hyperboloid_free(s[i]);
	return 0;
}
