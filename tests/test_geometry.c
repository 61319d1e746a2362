/* Unit tests for lib/geometry (Check framework).
 *
 *  - every float32 forward op against an independent float64 reference,
 *    written below from the formulas of geometry.h;
 *  - every *_backward against central finite differences of that float64
 *    reference (without the output projection, which the header says the
 *    backward treats as the identity);
 *  - finiteness of every op and every backward at the ball boundary and at 0;
 *  - identities, the hyperboloid region, geo_project.
 * GEO_TEST_VERBOSE=1 prints the largest errors observed. */
#include <check.h>

#include "testutil.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geometry/geometry.h"

/* ---- tolerances ------------------------------------------------------ */
/* Forward: |lib - ref| / max(1, |ref|) per output component.  The library
 * computes every op in double and rounds once, so a result is within 6e-8
 * of the exact value (observed max 5.9e-8); 1e-6 (~17 float ulps) keeps
 * headroom for libm differences while a float32 intermediate near the
 * boundary (inputs here are at least MARGIN * R inside the ball,
 * R = 1/sqrt c), a wrong formula, clamp or projection shows up at 1e-4 or
 * worse. */
#define FWD_TOL 1e-6
#define MARGIN 1e-3
/* Backward: per component |lib - fd| <= FD_REL * (|fd| + FD_FLOOR *
 * max(1, max_j |fd_j|)): 1e-3 relative, plus 1e-5 of the gradient's scale
 * for float32 rounding of large terms cancelling in a small component.
 * Central differences in double with step 1e-6 are good to ~1e-8 relative
 * at the conditioning used (inputs at most 0.9 R in norm). */
#define FD_STEP 1e-6
#define FD_REL 1e-3
#define FD_FLOOR 1e-2
#define FD_GAP 0.1
#define KINK_GAP 1e-4 /* geo_box_dist: resample inputs this close to a kink */
/* Identities that compose two float32 ops, relative to max(1, |expected|). */
#define IDENT_TOL 1e-5
/* Results that are one float32 rounding away from exact: a few ulps. */
#define ULP_TOL 1e-6
#define BND_FRAC (1.0 - 1e-6) /* boundary points: norm BND_FRAC * R */

#define MAXN 64
#define MAXK 8
#define MAXLEN (MAXN * MAXN)
#define NCURV 4
#define PI 3.14159265358979323846

static const double CURVS[NCURV] = {0.1, 0.5, 1.0, 2.0};
static const geo_kind KINDS[2] = {GEO_HYPERBOLIC, GEO_EUCLIDEAN};
static const char *const KIND_NAME[2] = {"hyperbolic", "euclidean"};
static int verbose;

/* PRNG and runner: tests/testutil.h */

/* ---- float64 reference ----------------------------------------------- */
static int flat(const geo_space *s) { return s->kind == GEO_EUCLIDEAN; }
static double ddot(size_t n, const double *a, const double *b)
{
	double t = 0;
	for (size_t i = 0; i < n; i++)
		t += a[i] * b[i];
	return t;
}
static double dnorm(size_t n, const double *a) { return sqrt(ddot(n, a, a)); }
static void dscale(size_t n, double f, const double *a, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = f * a[i];
}

/* x (+) y; out may alias x or y. */
static void r_add(const geo_space *s, size_t n, const double *x,
		  const double *y, double *out)
{
	double c = s->c, xy = ddot(n, x, y), x2 = ddot(n, x, x), y2 = ddot(n, y, y);
	double a = 1 + 2 * c * xy + c * y2, b = 1 - c * x2;
	double den = 1 + 2 * c * xy + c * c * x2 * y2;
	for (size_t i = 0; i < n; i++)
		out[i] = flat(s) ? x[i] + y[i] : (a * x[i] + b * y[i]) / den;
}
/* x (-) y = x (+) (-y) */
static void r_sub(const geo_space *s, size_t n, const double *x,
		  const double *y, double *out)
{
	double ny[MAXN] = {0};
	dscale(n, -1.0, y, ny);
	r_add(s, n, x, ny, out);
}
static void r_exp0(const geo_space *s, size_t n, const double *v, double *out)
{
	double z = sqrt(s->c) * dnorm(n, v);
	dscale(n, flat(s) || z == 0 ? 1.0 : tanh(z) / z, v, out);
}
static void r_log0(const geo_space *s, size_t n, const double *y, double *out)
{
	double z = sqrt(s->c) * dnorm(n, y);
	dscale(n, flat(s) || z == 0 ? 1.0 : atanh(fmin(z, GEO_ATANH_MAX)) / z, y, out);
}
static double r_lambda(const geo_space *s, size_t n, const double *x)
{
	return flat(s) ? 2.0 : 2.0 / (1.0 - s->c * ddot(n, x, x));
}
static void r_project(const geo_space *s, size_t n, double *x)
{
	double mx = (1.0 - GEO_BALL_EPS) / sqrt(s->c), nx = dnorm(n, x);
	if (!flat(s) && nx > mx)
		dscale(n, mx / nx, x, x);
}
static void r_scal(const geo_space *s, size_t n, double r, const double *x,
		   double *out)
{
	r_log0(s, n, x, out);
	dscale(n, r, out, out);
	r_exp0(s, n, out, out);
}
static void r_expmap(const geo_space *s, size_t n, const double *x,
		     const double *u, double *out)
{
	double t[MAXN] = {0};
	dscale(n, r_lambda(s, n, x) / 2, u, t);
	r_exp0(s, n, t, t);
	r_add(s, n, x, t, out);
}
static void r_logmap(const geo_space *s, size_t n, const double *x,
		     const double *y, double *out)
{
	double w[MAXN] = {0};
	dscale(n, -1.0, x, w);
	r_add(s, n, w, y, w);
	r_log0(s, n, w, w);
	dscale(n, 2.0 / r_lambda(s, n, x), w, out);
}
static double r_dist(const geo_space *s, size_t n, const double *x,
		     const double *y)
{
	double w[MAXN] = {0};
	if (flat(s)) {
		for (size_t i = 0; i < n; i++)
			w[i] = x[i] - y[i];
		return dnorm(n, w);
	}
	dscale(n, -1.0, x, w);
	r_add(s, n, w, y, w);
	return 2.0 / sqrt(s->c) * atanh(fmin(sqrt(s->c) * dnorm(n, w), GEO_ATANH_MAX));
}
/* m = 1/2 (*) (sum w_i L_i x_i / sum w_i (L_i - 1)); flat L = 2 gives the
 * weighted mean, as the header requires. */
static void r_mean(const geo_space *s, size_t k, size_t n, const double *w,
		   const double *X, double *out)
{
	double num[MAXN] = {0}, den = 0;
	for (size_t i = 0; i < k; i++) {
		double L = r_lambda(s, n, X + i * n);
		for (size_t j = 0; j < n; j++)
			num[j] += w[i] * L * X[i * n + j];
		den += w[i] * (L - 1);
	}
	dscale(n, 1.0 / den, num, num);
	r_scal(s, n, 0.5, num, out);
}
/* The pieces of the hyperboloid distance; a = v (-) qmax, b = qmin (-) v,
 * e = c (-) clamp(v). */
typedef struct box_parts {
	double qmin[MAXN], qmax[MAXN], a[MAXN], b[MAXN], cl[MAXN], e[MAXN];
} box_parts;
static void r_box_parts(const geo_space *s, size_t n, const double *c,
			const double *l, const double *v, box_parts *p)
{
	r_sub(s, n, c, l, p->qmin);
	r_add(s, n, c, l, p->qmax);
	r_sub(s, n, v, p->qmax, p->a);
	r_sub(s, n, p->qmin, v, p->b);
	for (size_t i = 0; i < n; i++)
		p->cl[i] = fmin(p->qmax[i], fmax(p->qmin[i], v[i]));
	r_sub(s, n, c, p->cl, p->e);
}
/* res = {d_out + gamma d_in, d_out, d_in} */
static void r_box(const geo_space *s, size_t n, const double *c,
		  const double *l, const double *v, double gamma, double *res)
{
	box_parts p;
	double dout = 0, din = 0;
	r_box_parts(s, n, c, l, v, &p);
	for (size_t i = 0; i < n; i++) {
		dout += fabs(fmax(p.a[i], 0) + fmax(p.b[i], 0));
		din += fabs(p.e[i]);
	}
	res[0] = dout + gamma * din;
	res[1] = dout;
	res[2] = din;
}

/* ---- the ops under test, behind one interface ------------------------ */
typedef struct dims {
	size_t n, k;
	float gamma;
} dims;
enum in_kind { IN_POINT, IN_TANGENT, IN_LOGU, IN_WEIGHTS, IN_POINTS };
enum out_kind { OUT_N, OUT_SCALAR, OUT_BOX };
struct sample;
typedef void (*lib_fwd)(const geo_space *, const dims *, float *const *, float *);
typedef void (*ref_fwd)(const geo_space *, const dims *, double *const *, double *);
typedef void (*lib_bwd)(const geo_space *, const dims *, float *const *,
			const float *, float **);
typedef struct op {
	const char *name;
	int nin;
	enum in_kind in[3];
	const char *in_name[3];
	enum out_kind out;
	int point_out; /* output is a point: projected by the library */
	lib_fwd lf;
	ref_fwd rf;
	lib_bwd lb; /* NULL: the library has no backward of its own (geometry.h) */
	double (*kink_gap)(const struct sample *); /* NULL if smooth */
} op;

#define S const geo_space *s, const dims *d
static void L_add(S, float *const *in, float *o) { geo_add(s, d->n, in[0], in[1], o); }
static void L_exp0(S, float *const *in, float *o) { geo_exp0(s, d->n, in[0], o); }
static void L_log0(S, float *const *in, float *o) { geo_log0(s, d->n, in[0], o); }
static void L_expmap(S, float *const *in, float *o) { geo_expmap(s, d->n, in[0], in[1], o); }
static void L_logmap(S, float *const *in, float *o) { geo_logmap(s, d->n, in[0], in[1], o); }
static void L_dist(S, float *const *in, float *o) { o[0] = geo_dist(s, d->n, in[0], in[1]); }
static void L_mean(S, float *const *in, float *o) { geo_mean(s, d->k, d->n, in[0], in[1], o); }
static void L_box(S, float *const *in, float *o)
{
	o[0] = geo_box_dist(s, d->n, in[0], in[1], in[2], d->gamma, &o[1], &o[2]);
}

static void R_add(S, double *const *in, double *o) { r_add(s, d->n, in[0], in[1], o); }
static void R_exp0(S, double *const *in, double *o) { r_exp0(s, d->n, in[0], o); }
static void R_log0(S, double *const *in, double *o) { r_log0(s, d->n, in[0], o); }
static void R_expmap(S, double *const *in, double *o) { r_expmap(s, d->n, in[0], in[1], o); }
static void R_logmap(S, double *const *in, double *o) { r_logmap(s, d->n, in[0], in[1], o); }
static void R_dist(S, double *const *in, double *o) { o[0] = r_dist(s, d->n, in[0], in[1]); }
static void R_mean(S, double *const *in, double *o) { r_mean(s, d->k, d->n, in[0], in[1], o); }
static void R_box(S, double *const *in, double *o) { r_box(s, d->n, in[0], in[1], in[2], d->gamma, o); }

#define B(name) static void name(S, float *const *in, const float *go, float **g)
B(B_exp0) { geo_exp0_backward(s, d->n, in[0], go, g[0]); }
B(B_log0) { geo_log0_backward(s, d->n, in[0], go, g[0]); }
B(B_dist) { geo_dist_backward(s, d->n, in[0], in[1], go[0], g[0], g[1]); }
B(B_mean) { geo_mean_backward(s, d->k, d->n, in[0], in[1], go, g[0], g[1]); }
B(B_box) { geo_box_dist_backward(s, d->n, in[0], in[1], in[2], d->gamma, go[0], g[0], g[1], g[2]); }
#undef B
#undef S

static double box_kink_gap(const struct sample *sm);

static const op OPS[] = {
	{"add", 2, {IN_POINT, IN_POINT}, {"x", "y"}, OUT_N, 1, L_add, R_add, NULL, NULL},
	{"exp0", 1, {IN_TANGENT}, {"v"}, OUT_N, 1, L_exp0, R_exp0, B_exp0, NULL},
	{"log0", 1, {IN_POINT}, {"y"}, OUT_N, 0, L_log0, R_log0, B_log0, NULL},
	{"expmap", 2, {IN_POINT, IN_LOGU}, {"x", "u"}, OUT_N, 1, L_expmap, R_expmap, NULL, NULL},
	{"logmap", 2, {IN_POINT, IN_POINT}, {"x", "y"}, OUT_N, 0, L_logmap, R_logmap, NULL, NULL},
	{"dist", 2, {IN_POINT, IN_POINT}, {"x", "y"}, OUT_SCALAR, 0, L_dist, R_dist, B_dist, NULL},
	{"mean", 2, {IN_WEIGHTS, IN_POINTS}, {"w", "X"}, OUT_N, 1, L_mean, R_mean, B_mean, NULL},
	{"box_dist", 3, {IN_POINT, IN_POINT, IN_POINT}, {"c", "l", "v"}, OUT_BOX, 0, L_box, R_box, B_box,
	 box_kink_gap},
};
#define NOPS ((int)(sizeof OPS / sizeof OPS[0]))

/* ---- samples: one op, one space, float inputs ------------------------ */
typedef struct sample {
	const op *o;
	geo_space s;
	dims d;
	size_t len[3], nout, nout_bwd;
	float in[3][MAXLEN];
	float *p[3]; /* = in, in the form the wrappers take */
} sample;

/* How inputs are drawn: points at radius (1 - gap) R with the gap
 * log-uniform in [min_gap, 1] half of the time, uniform otherwise. */
typedef struct gen_opts {
	size_t nmax;
	double min_gap, tmax;
} gen_opts;
static const gen_opts FWD_GEN = {MAXN, MARGIN, 6.0};
static const gen_opts FD_GEN = {32, FD_GAP, 3.0};

static size_t in_len(enum in_kind k, const dims *d)
{
	switch (k) {
	case IN_WEIGHTS: return d->k;
	case IN_POINTS: return d->k * d->n;
	default: return d->n;
	}
}
static size_t out_len(enum out_kind k, const dims *d)
{
	return k == OUT_N ? d->n : k == OUT_SCALAR ? 1 : 3;
}
static void to_double(size_t n, const float *a, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i];
}
static void unit_dir(rng *r, size_t n, double *dir)
{
	double t;
	do {
		for (size_t i = 0; i < n; i++)
			dir[i] = gauss(r);
	} while ((t = dnorm(n, dir)) == 0);
	dscale(n, 1.0 / t, dir, dir);
}
static void vec_of_norm(rng *r, size_t n, double norm, float *out)
{
	double dir[MAXN] = {0};
	unit_dir(r, n, dir);
	for (size_t i = 0; i < n; i++)
		out[i] = (float)(norm * dir[i]);
}
static void rand_point(rng *r, const geo_space *s, size_t n, double min_gap, float *out)
{
	double gap = unif(r) < 0.5 ? min_gap * pow(1.0 / min_gap, unif(r)) : unif_ab(r, min_gap, 1);
	vec_of_norm(r, n, (1.0 - gap) / sqrt(s->c), out);
}

static void sample_init(sample *sm, const op *o, geo_kind kind, double c, dims d)
{
	sm->o = o;
	sm->s.kind = kind;
	sm->s.c = c;
	sm->d = d;
	for (int i = 0; i < o->nin; i++)
		sm->len[i] = in_len(o->in[i], &d);
	sm->nout = out_len(o->out, &d);
	sm->nout_bwd = o->out == OUT_BOX ? 1 : sm->nout;
	for (int i = 0; i < 3; i++)
		sm->p[i] = sm->in[i];
}
static void inputs_to_double(const sample *sm, double (*x)[MAXLEN])
{
	for (int i = 0; i < sm->o->nin; i++)
		to_double(sm->len[i], sm->in[i], x[i]);
}

static void gen_sample(rng *r, const op *o, geo_kind kind, double c,
		       const gen_opts *g, sample *sm)
{
	dims d = {1 + next_u64(r) % g->nmax, 1 + next_u64(r) % MAXK,
		  (float)unif_ab(r, 0.1, 1.0)};
	double R = 1.0 / sqrt(c);
	sample_init(sm, o, kind, c, d);
	for (int i = 0; i < o->nin; i++) {
		float *x = sm->in[i];
		switch (o->in[i]) {
		case IN_POINT: rand_point(r, &sm->s, d.n, g->min_gap, x); break;
		case IN_TANGENT: vec_of_norm(r, d.n, unif(r) * g->tmax * R, x); break;
		case IN_WEIGHTS:
			for (size_t j = 0; j < d.k; j++)
				x[j] = (float)unif_ab(r, 0.1, 1.0);
			break;
		case IN_POINTS:
			for (size_t j = 0; j < d.k; j++)
				rand_point(r, &sm->s, d.n, g->min_gap, x + j * d.n);
			break;
		case IN_LOGU: { /* u = log_x(y), so that exp_x(u) is a fair point */
			float y[MAXN];
			double xd[MAXN], yd[MAXN], ud[MAXN];
			rand_point(r, &sm->s, d.n, g->min_gap, y);
			to_double(d.n, sm->in[0], xd);
			to_double(d.n, y, yd);
			r_logmap(&sm->s, d.n, xd, yd, ud);
			for (size_t j = 0; j < d.n; j++)
				x[j] = (float)ud[j];
			break;
		}
		}
	}
}

static void ref_eval(const sample *sm, double *const *in, double *out, int proj)
{
	sm->o->rf(&sm->s, &sm->d, in, out);
	if (proj && sm->o->point_out)
		r_project(&sm->s, sm->nout, out);
}

static double box_kink_gap(const sample *sm)
{
	static double x[3][MAXLEN];
	double *v = x[2], gap = INFINITY;
	box_parts p;
	inputs_to_double(sm, x);
	r_box_parts(&sm->s, sm->d.n, x[0], x[1], v, &p);
	for (size_t i = 0; i < sm->d.n; i++) {
		double q[6] = {p.a[i], p.b[i], p.e[i], v[i] - p.qmin[i],
			       v[i] - p.qmax[i], p.qmax[i] - p.qmin[i]};
		for (int j = 0; j < 6; j++)
			gap = fmin(gap, fabs(q[j]));
	}
	return gap;
}

static int all_finite(size_t n, const float *x)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}
static double rel_err(double got, double want) { return fabs(got - want) / fmax(1.0, fabs(want)); }
static void report(const char *what, const char *name, int kind, double err, double tol)
{
	if (verbose)
		printf("  %-22s %-9s %-10s max err %.3g (tol %.3g)\n", what, name, KIND_NAME[kind], err, tol);
}

/* ---- 1. forward ops against the float64 reference -------------------- */
START_TEST(test_forward_matches_reference)
{
	const op *o = &OPS[_i];
	rng r = {1000 + (uint64_t)_i};
	static sample sm;
	for (int kind = 0; kind < 2; kind++) {
		double worst = 0;
		for (int ci = 0; ci < NCURV; ci++) {
			for (int t = 0; t < 100; t++) {
				float got[MAXN];
				double xd[3][MAXLEN], want[MAXN], *pd[3] = {xd[0], xd[1], xd[2]};
				gen_sample(&r, o, KINDS[kind], CURVS[ci], &FWD_GEN, &sm);
				inputs_to_double(&sm, xd);
				o->lf(&sm.s, &sm.d, sm.p, got);
				ref_eval(&sm, pd, want, 1);
				for (size_t j = 0; j < sm.nout; j++) {
					double e = rel_err(got[j], want[j]);
					worst = fmax(worst, e);
					ck_assert_msg(isfinite(got[j]) && e <= FWD_TOL,
						      "%s %s c=%g n=%zu k=%zu out[%zu]: lib %.9g ref %.9g (rel err %.3g)",
						      o->name, KIND_NAME[kind], CURVS[ci], sm.d.n, sm.d.k,
						      j, got[j], want[j], e);
				}
			}
		}
		report("forward vs float64", o->name, kind, worst, FWD_TOL);
	}
}
END_TEST

/* ---- 2. backward against finite differences -------------------------- */
static void rand_gout(rng *r, const sample *sm, float *gout)
{
	for (size_t j = 0; j < sm->nout; j++)
		gout[j] = j < sm->nout_bwd ? (float)unif_ab(r, -1, 1) : 0.0f;
}
/* d/d in[i][j] of sum_o gout[o] f_o, central differences of the reference. */
static double fd_component(const sample *sm, double (*x)[MAXLEN], size_t i,
			   size_t j, const float *gout)
{
	double *p[3] = {x[0], x[1], x[2]}, fp[MAXN], fm[MAXN], save = x[i][j], t = 0;
	x[i][j] = save + FD_STEP;
	ref_eval(sm, p, fp, 0);
	x[i][j] = save - FD_STEP;
	ref_eval(sm, p, fm, 0);
	x[i][j] = save;
	for (size_t o = 0; o < sm->nout_bwd; o++)
		t += gout[o] * (fp[o] - fm[o]);
	return t / (2 * FD_STEP);
}
static void lib_backward(sample *sm, const float *gout, float (*g)[MAXLEN])
{
	float *gp[3] = {g[0], g[1], g[2]};
	sm->o->lb(&sm->s, &sm->d, sm->p, gout, gp);
}

START_TEST(test_backward_matches_fd)
{
	const op *o = &OPS[_i];
	if (!o->lb)
		return; /* forward only */
	rng r = {2000 + (uint64_t)_i};
	static sample sm;
	static float g[3][MAXLEN];
	static double x[3][MAXLEN], fd[MAXLEN];
	for (int kind = 0; kind < 2; kind++) {
		double worst = 0;
		int skipped = 0;
		for (int ci = 0; ci < NCURV; ci++) {
			for (int t = 0; t < 6; t++) {
				float gout[MAXN];
				do
					gen_sample(&r, o, KINDS[kind], CURVS[ci], &FD_GEN, &sm);
				while (o->kink_gap && o->kink_gap(&sm) < KINK_GAP && ++skipped);
				rand_gout(&r, &sm, gout);
				memset(g, 0, sizeof g);
				lib_backward(&sm, gout, g);
				inputs_to_double(&sm, x);
				for (int i = 0; i < o->nin; i++) {
					double scale = 1;
					for (size_t j = 0; j < sm.len[i]; j++) {
						fd[j] = fd_component(&sm, x, (size_t)i, j, gout);
						scale = fmax(scale, fabs(fd[j]));
					}
					for (size_t j = 0; j < sm.len[i]; j++) {
						double e = fabs(g[i][j] - fd[j]) / (fabs(fd[j]) + FD_FLOOR * scale);
						worst = fmax(worst, e);
						ck_assert_msg(isfinite(g[i][j]) && e <= FD_REL,
							      "%s_backward %s c=%g n=%zu k=%zu d/d%s[%zu]: lib %.9g fd %.9g (err %.3g)",
							      o->name, KIND_NAME[kind], CURVS[ci], sm.d.n, sm.d.k,
							      o->in_name[i], j, g[i][j], fd[j], e);
					}
				}
			}
		}
		report("backward vs FD", o->name, kind, worst, FD_REL);
		if (verbose && skipped)
			printf("  (%d samples within %.0e of a kink redrawn)\n", skipped, KINK_GAP);
	}
}
END_TEST

static int nonzero(size_t n, const float *x)
{
	for (size_t i = 0; i < n; i++)
		if (x[i] != 0)
			return 1;
	return 0;
}
static void expect_close(const sample *sm, int i, const float *got, const float *want,
			 const char *what)
{
	for (size_t j = 0; j < sm->len[i]; j++)
		ck_assert_msg(fabs(got[j] - want[j]) <= ULP_TOL * fmax(1.0, fabs(want[j])),
			      "%s_backward %s d/d%s[%zu]: %s: got %.9g want %.9g", sm->o->name,
			      KIND_NAME[sm->s.kind], sm->o->in_name[i], j, what, got[j], want[j]);
}

/* Backward ADDS: twice into zeros gives 2 g; once into ones gives 1 + g. */
START_TEST(test_backward_accumulates)
{
	const op *o = &OPS[_i];
	if (!o->lb)
		return; /* forward only */
	rng r = {3000 + (uint64_t)_i};
	static sample sm;
	static float g1[3][MAXLEN], g2[3][MAXLEN], want[3][MAXLEN];
	for (int kind = 0; kind < 2; kind++) {
		float gout[MAXN];
		gen_sample(&r, o, KINDS[kind], 1.0, &FD_GEN, &sm);
		rand_gout(&r, &sm, gout);
		memset(g1, 0, sizeof g1);
		lib_backward(&sm, gout, g1);
		memset(g2, 0, sizeof g2);
		lib_backward(&sm, gout, g2);
		lib_backward(&sm, gout, g2);
		for (int i = 0; i < o->nin; i++) {
			ck_assert_msg(nonzero(sm.len[i], g1[i]), "%s_backward %s: d/d%s is all zero",
				      o->name, KIND_NAME[kind], o->in_name[i]);
			for (size_t j = 0; j < sm.len[i]; j++)
				want[i][j] = 2 * g1[i][j];
			expect_close(&sm, i, g2[i], want[i], "two calls into zeros");
		}
		for (int i = 0; i < 3; i++)
			for (size_t j = 0; j < MAXLEN; j++)
				g2[i][j] = 1.0f;
		lib_backward(&sm, gout, g2);
		for (int i = 0; i < o->nin; i++) {
			for (size_t j = 0; j < sm.len[i]; j++)
				want[i][j] = 1 + g1[i][j];
			expect_close(&sm, i, g2[i], want[i], "one call into ones");
		}
	}
}
END_TEST

/* A NULL gradient output is skipped; the others are unchanged by it. */
START_TEST(test_backward_null_outputs)
{
	const op *o = &OPS[_i];
	if (!o->lb)
		return; /* forward only */
	rng r = {4000 + (uint64_t)_i};
	static sample sm;
	static float g1[3][MAXLEN], g2[3][MAXLEN];
	for (int kind = 0; kind < 2; kind++) {
		float gout[MAXN], *none[3] = {NULL, NULL, NULL};
		gen_sample(&r, o, KINDS[kind], 0.5, &FD_GEN, &sm);
		rand_gout(&r, &sm, gout);
		memset(g1, 0, sizeof g1);
		lib_backward(&sm, gout, g1);
		o->lb(&sm.s, &sm.d, sm.p, gout, none);
		for (int i = 0; i < o->nin; i++) {
			float *one[3] = {NULL, NULL, NULL};
			memset(g2, 0, sizeof g2);
			one[i] = g2[i];
			o->lb(&sm.s, &sm.d, sm.p, gout, one);
			expect_close(&sm, i, g2[i], g1[i], "only this output non-NULL");
		}
	}
}
END_TEST

/* ---- 3. boundary: norm (1 - 1e-6) R and exactly 0 -------------------- */
/* Choice 0..3 of an input: for points 0, +R d1, -R d1, R d2 (antipodal
 * pairs are the worst case for Möbius sums); tangents 0, huge (beyond the
 * tanh clamp), tiny, moderate; weights equal, one-hot, random, tiny. */
static void special_input(rng *r, enum in_kind kind, int choice, const sample *sm,
			  const double *d1, const double *d2, float *x)
{
	size_t n = sm->d.n, len = in_len(kind, &sm->d);
	double R = BND_FRAC / sqrt(sm->s.c);
	const double tang[4] = {0.0, 50.0 / sqrt(sm->s.c), 1e-20, 0.7 / sqrt(sm->s.c)};
	const double wts[4] = {1.0, 0.0, 0.5, 1e-30};
	for (size_t j = 0; j < len; j++) {
		size_t row = j / n, col = j % n;
		switch (kind) {
		case IN_POINT:
			x[j] = (float)(choice == 0 ? 0 : choice == 1 ? R * d1[j] : choice == 2 ? -R * d1[j] : R * d2[j]);
			break;
		case IN_TANGENT:
		case IN_LOGU: x[j] = (float)(tang[choice] * (choice == 3 ? d2[j] : d1[j])); break;
		case IN_WEIGHTS:
			x[j] = (float)(choice == 1 ? (j == 0) : choice == 2 ? unif_ab(r, 0.01, 1) : wts[choice]);
			break;
		case IN_POINTS: {
			double sign = (choice == 2 && row % 2) ? -1.0 : 1.0;
			double dir = choice == 3 ? (row % 2 ? d2[col] : -d2[(col + 1) % n]) : d1[col];
			x[j] = (float)(choice == 0 ? 0 : sign * R * dir);
			break;
		}
		}
	}
}

START_TEST(test_boundary_and_zero_are_finite)
{
	const op *o = &OPS[_i];
	rng r = {5000 + (uint64_t)_i};
	static const size_t NS[4] = {1, 2, 7, 64};
	static sample sm;
	static float g[3][MAXLEN];
	for (int kind = 0; kind < 2; kind++)
		for (int ci = 0; ci < NCURV; ci++)
			for (int ni = 0; ni < 4; ni++) {
				dims d = {NS[ni], 1 + NS[ni] % 4, 0.5f};
				double d1[MAXN], d2[MAXN];
				int ncombo = 1 << (2 * o->nin);
				sample_init(&sm, o, KINDS[kind], CURVS[ci], d);
				unit_dir(&r, d.n, d1);
				unit_dir(&r, d.n, d2);
				for (int cmb = 0; cmb < ncombo; cmb++) {
					float out[MAXN], gout[MAXN];
					for (int i = 0; i < o->nin; i++)
						special_input(&r, o->in[i], (cmb >> (2 * i)) & 3, &sm, d1, d2, sm.in[i]);
					o->lf(&sm.s, &sm.d, sm.p, out);
					ck_assert_msg(all_finite(sm.nout, out), "%s %s c=%g n=%zu inputs #%d: non-finite output",
						      o->name, KIND_NAME[kind], CURVS[ci], d.n, cmb);
					if (!o->lb)
						continue;
					rand_gout(&r, &sm, gout);
					memset(g, 0, sizeof g);
					lib_backward(&sm, gout, g);
					for (int i = 0; i < o->nin; i++)
						ck_assert_msg(all_finite(sm.len[i], g[i]),
							      "%s_backward %s c=%g n=%zu inputs #%d: non-finite d/d%s",
							      o->name, KIND_NAME[kind], CURVS[ci], d.n, cmb, o->in_name[i]);
				}
			}
}
END_TEST

/* ---- 4. identities --------------------------------------------------- */
/* Loops over both geometries, all curvatures and `trials` random dims. */
#define FOR_SPACES(s, n, r, trials, nkinds)                                           \
	for (int kind_ = 0; kind_ < (nkinds); kind_++)                                \
		for (int ci_ = 0; ci_ < NCURV; ci_++)                                 \
			for (int t_ = 0; t_ < (trials); t_++)                         \
				for (geo_space s = {KINDS[kind_], CURVS[ci_]}; s.c > 0; s.c = 0) \
					for (size_t n = 1 + next_u64(r) % MAXN; n; n = 0)

static void expect_vec(const geo_space *s, size_t n, const float *got, const float *want,
		       double tol, const char *what)
{
	for (size_t j = 0; j < n; j++)
		ck_assert_msg(fabs(got[j] - want[j]) <= tol * fmax(1.0, fabs(want[j])),
			      "%s (%s c=%g n=%zu) [%zu]: got %.9g want %.9g", what,
			      KIND_NAME[s->kind], s->c, n, j, got[j], want[j]);
}
static void negate(size_t n, const float *x, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = -x[i];
}

START_TEST(test_add_zero_is_identity)
{
	rng r = {11};
	float x[MAXN], zero[MAXN] = {0}, out[MAXN];
	FOR_SPACES(s, n, &r, 50, 2) {
		rand_point(&r, &s, n, MARGIN, x);
		geo_add(&s, n, x, zero, out);
		expect_vec(&s, n, out, x, ULP_TOL, "x (+) 0 = x");
		geo_add(&s, n, zero, x, out);
		expect_vec(&s, n, out, x, ULP_TOL, "0 (+) x = x");
	}
}
END_TEST

START_TEST(test_add_left_inverse)
{
	rng r = {12};
	float x[MAXN], nx[MAXN], out[MAXN], zero[MAXN] = {0};
	FOR_SPACES(s, n, &r, 50, 2) {
		rand_point(&r, &s, n, MARGIN, x);
		negate(n, x, nx);
		geo_add(&s, n, nx, x, out);
		expect_vec(&s, n, out, zero, IDENT_TOL, "(-x) (+) x = 0");
	}
}
END_TEST

START_TEST(test_log0_exp0_roundtrip)
{
	rng r = {13};
	float v[MAXN], y[MAXN], out[MAXN];
	FOR_SPACES(s, n, &r, 50, 2) {
		/* sqrt(c)|v| <= 2 keeps tanh' >= 0.07, so the float32 rounding of
		 * exp0(v) is amplified by at most ~14 on the way back. */
		vec_of_norm(&r, n, unif(&r) * 2.0 / sqrt(s.c), v);
		geo_exp0(&s, n, v, y);
		geo_log0(&s, n, y, out);
		expect_vec(&s, n, out, v, IDENT_TOL, "log0(exp0(v)) = v");
	}
}
END_TEST

/* geo_clip0 is log0(exp0(v)) with exp0's projection, in one step: the
 * same values as the composition (inside, where it is the identity, and
 * far out, where the projection caps the radius), and a backward that
 * matches central differences of the float64 composition on both sides
 * of the cap. */
static void r_clip0(const geo_space *s, size_t n, const double *v, double *out)
{
	double y[MAXN];
	r_exp0(s, n, v, y);
	r_project(s, n, y);
	r_log0(s, n, y, out);
}

START_TEST(test_clip0_is_log0_of_exp0)
{
	rng r = {29};
	float v[MAXN], y[MAXN], out[MAXN], want[MAXN], g[MAXN], gv[MAXN];
	FOR_SPACES(s, n, &r, 50, 2) {
		/* sqrt(c)|v| up to 12, past the cap at artanh(1 - 1e-5) = 6.1 */
		double u = unif(&r) * 12.0;
		vec_of_norm(&r, n, u / sqrt(s.c), v);
		geo_clip0(&s, n, v, out);
		if (u < 2.0) { /* the float composition is accurate there */
			geo_exp0(&s, n, v, y);
			geo_log0(&s, n, y, want);
			expect_vec(&s, n, out, want, IDENT_TOL, "clip0 = log0(exp0)");
		}
		double vd[MAXN], od[MAXN];
		for (size_t j = 0; j < n; j++)
			vd[j] = v[j];
		r_clip0(&s, n, vd, od);
		for (size_t j = 0; j < n; j++)
			want[j] = (float)od[j];
		expect_vec(&s, n, out, want, IDENT_TOL, "clip0 = float64 reference");
		/* backward: <g, d clip0> against central differences */
		if (fabs(u - atanh(1.0 - GEO_BALL_EPS)) < 0.05)
			continue; /* too near the kink for differences */
		for (size_t j = 0; j < n; j++)
			g[j] = (float)unif_ab(&r, -1, 1), gv[j] = 0.0f;
		geo_clip0_backward(&s, n, v, g, gv);
		for (size_t j = 0; j < n; j++) {
			double h = 1e-6 * fmax(1.0, fabs(vd[j])), p[MAXN], m[MAXN];
			double save = vd[j], fp = 0.0, fm = 0.0;
			vd[j] = save + h;
			r_clip0(&s, n, vd, p);
			vd[j] = save - h;
			r_clip0(&s, n, vd, m);
			vd[j] = save;
			for (size_t i = 0; i < n; i++)
				fp += g[i] * p[i], fm += g[i] * m[i];
			double fd = (fp - fm) / (2 * h);
			ck_assert_msg(fabs(gv[j] - fd) <= 1e-4 * fmax(1.0, fabs(fd)),
				      "clip0 backward: %g, differences %g (u %g, c %g)",
				      gv[j], fd, u, s.c);
		}
	}
}
END_TEST

START_TEST(test_dist_symmetric)
{
	rng r = {14};
	float x[MAXN], y[MAXN];
	FOR_SPACES(s, n, &r, 100, 2) {
		rand_point(&r, &s, n, MARGIN, x);
		rand_point(&r, &s, n, MARGIN, y);
		double dxy = geo_dist(&s, n, x, y), dyx = geo_dist(&s, n, y, x);
		ck_assert_msg(fabs(dxy - dyx) <= ULP_TOL * fmax(1.0, dxy),
			      "d(x,y)=%.9g != d(y,x)=%.9g (%s c=%g n=%zu)", dxy, dyx,
			      KIND_NAME[s.kind], s.c, n);
	}
}
END_TEST

START_TEST(test_triangle_inequality)
{
	rng r = {15};
	float x[MAXN], y[MAXN], z[MAXN];
	FOR_SPACES(s, n, &r, 500, 2) {
		rand_point(&r, &s, n, MARGIN, x);
		rand_point(&r, &s, n, MARGIN, y);
		rand_point(&r, &s, n, MARGIN, z);
		if (t_ % 4 == 0) /* y close to the segment makes the inequality tight */
			for (size_t i = 0; i < n; i++)
				y[i] = 0.5f * (x[i] + z[i]);
		double dxz = geo_dist(&s, n, x, z), dxy = geo_dist(&s, n, x, y), dyz = geo_dist(&s, n, y, z);
		ck_assert_msg(dxz <= (dxy + dyz) * (1 + IDENT_TOL) + 1e-6,
			      "d(x,z)=%.9g > d(x,y)+d(y,z)=%.9g (%s c=%g n=%zu)", dxz, dxy + dyz,
			      KIND_NAME[s.kind], s.c, n);
	}
}
END_TEST

START_TEST(test_expmap_logmap_roundtrip)
{
	rng r = {16};
	float x[MAXN], y[MAXN], u[MAXN], out[MAXN];
	FOR_SPACES(s, n, &r, 50, 2) {
		/* The float32 rounding of u = log_x(y) is amplified by ~1/(1 - sqrt c
		 * |x|) on the way back (directions from a point near the boundary
		 * all look alike); with |x| <= 0.9 R a correctly rounded
		 * implementation stays within 1e-6 (measured on the reference). */
		rand_point(&r, &s, n, FD_GAP, x);
		rand_point(&r, &s, n, MARGIN, y);
		geo_logmap(&s, n, x, y, u);
		geo_expmap(&s, n, x, u, out);
		expect_vec(&s, n, out, y, IDENT_TOL, "exp_x(log_x(y)) = y");
	}
}
END_TEST

/* |log_x(y)| lambda_x / 2 is HALF the distance: log_x(y) has Euclidean norm
 * (2/lambda_x) artanh(sqrt c |w|)/sqrt c, w = (-x) (+) y, while d(x, y) =
 * (2/sqrt c) artanh(sqrt c |w|).  The identity that holds is d = lambda_x
 * |log_x(y)| (the Riemannian norm of log_x(y)); checked first on the
 * reference, then on the library.  Flat space: d = |log_x(y)| = |y - x|. */
START_TEST(test_dist_is_riemannian_norm_of_logmap)
{
	rng r = {17};
	float x[MAXN], y[MAXN], u[MAXN];
	FOR_SPACES(s, n, &r, 50, 2) {
		double xd[MAXN], yd[MAXN], ud[MAXN], ulib[MAXN];
		rand_point(&r, &s, n, MARGIN, x);
		rand_point(&r, &s, n, MARGIN, y);
		to_double(n, x, xd);
		to_double(n, y, yd);
		double scale = flat(&s) ? 1.0 : r_lambda(&s, n, xd);
		r_logmap(&s, n, xd, yd, ud);
		double dref = r_dist(&s, n, xd, yd);
		ck_assert_msg(fabs(scale * dnorm(n, ud) - dref) <= 1e-9 * fmax(1.0, dref),
			      "reference: lambda |log_x y| = %.12g, d = %.12g", scale * dnorm(n, ud), dref);
		geo_logmap(&s, n, x, y, u);
		to_double(n, u, ulib);
		double d = geo_dist(&s, n, x, y), via = scale * dnorm(n, ulib);
		ck_assert_msg(fabs(d - via) <= IDENT_TOL * fmax(1.0, d),
			      "geo_dist %.9g != lambda_x |geo_logmap| %.9g (%s c=%g n=%zu)", d, via,
			      KIND_NAME[s.kind], s.c, n);
	}
}
END_TEST

/* In one dimension the distance has a closed form independent of Möbius
 * addition: d(x, y) = (2/sqrt c) |artanh(sqrt c x) - artanh(sqrt c y)|. */
START_TEST(test_dist_1d_closed_form)
{
	rng r = {20};
	for (int ci = 0; ci < NCURV; ci++) {
		geo_space s = {GEO_HYPERBOLIC, CURVS[ci]};
		double sc = sqrt(s.c);
		for (int t = 0; t < 200; t++) {
			float x, y;
			rand_point(&r, &s, 1, MARGIN, &x);
			rand_point(&r, &s, 1, MARGIN, &y);
			double want = 2 / sc * fabs(atanh(sc * x) - atanh(sc * y)), got = geo_dist(&s, 1, &x, &y);
			ck_assert_msg(rel_err(got, want) <= FWD_TOL, "1-d c=%g d(%.9g, %.9g): lib %.9g closed form %.9g",
				      s.c, x, y, got, want);
		}
	}
}
END_TEST

/* A query hyperboloid with positive limits and a point drawn around its
 * centre; kept only if the reference puts it inside (d_out = 0 exactly). */
static int box_inside_sample(rng *r, const geo_space *s, size_t n, float *c, float *l, float *v)
{
	double cd[MAXN], ld[MAXN], vd[MAXN];
	box_parts p;
	rand_point(r, s, n, 0.5, c);
	for (size_t i = 0; i < n; i++) {
		l[i] = (float)(unif_ab(r, 0.3, 1.0) * 0.6 / sqrt(s->c * (double)n));
		v[i] = c[i] + (float)(l[i] * unif_ab(r, -0.5, 0.5));
	}
	to_double(n, c, cd);
	to_double(n, l, ld);
	to_double(n, v, vd);
	r_box_parts(s, n, cd, ld, vd, &p);
	for (size_t i = 0; i < n; i++)
		if (p.a[i] > 0 || p.b[i] > 0)
			return 0;
	return 1;
}

START_TEST(test_box_inside_zero_outside_positive)
{
	rng r = {18};
	float c[MAXN], l[MAXN], v[MAXN];
	int kept = 0, outside = 0;
	FOR_SPACES(s, n, &r, 50, 2) {
		float dout, din, gamma = 0.5f;
		if (box_inside_sample(&r, &s, n, c, l, v)) {
			kept++;
			float d = geo_box_dist(&s, n, c, l, v, gamma, &dout, &din);
			ck_assert_msg(dout <= 1e-6f && fabs(d - gamma * din) <= ULP_TOL * fmax(1.0f, d),
				      "inside point: d_out=%.9g d=%.9g d_in=%.9g (%s c=%g n=%zu)", dout, d,
				      din, KIND_NAME[s.kind], s.c, n);
		}
		/* far outside: v = -c pushed toward the boundary */
		double cd[MAXN], ld[MAXN], vd[MAXN], want[3];
		for (size_t i = 0; i < n; i++)
			v[i] = -0.5f * c[i];
		v[0] = (float)((c[0] > 0 ? -0.8 : 0.8) / sqrt(s.c));
		to_double(n, c, cd);
		to_double(n, l, ld);
		to_double(n, v, vd);
		r_box(&s, n, cd, ld, vd, gamma, want);
		if (want[1] > 1e-2) {
			outside++;
			geo_box_dist(&s, n, c, l, v, gamma, &dout, &din);
			ck_assert_msg(dout > 0 && rel_err(dout, want[1]) <= FWD_TOL,
				      "outside point: d_out=%.9g, reference %.9g (%s c=%g n=%zu)", dout,
				      want[1], KIND_NAME[s.kind], s.c, n);
		}
	}
	ck_assert_msg(kept >= 100 && outside >= 100, "too few samples: %d inside, %d outside", kept, outside);
	if (verbose)
		printf("  box: %d inside samples, %d outside samples\n", kept, outside);
}
END_TEST

/* Flat space: the region is exactly the coordinate box [c - l, c + l]. */
START_TEST(test_flat_box_is_coordinate_box)
{
	rng r = {19};
	geo_space s = {GEO_EUCLIDEAN, 1.0};
	for (int t = 0; t < 500; t++) {
		size_t n = 1 + next_u64(&r) % MAXN, j = next_u64(&r) % n;
		float c[MAXN], l[MAXN], v[MAXN], dout, din;
		double want_out = 0, want_in = 0;
		for (size_t i = 0; i < n; i++) {
			c[i] = (float)unif_ab(&r, -1, 1);
			l[i] = (float)unif_ab(&r, 0.01, 0.5);
			v[i] = c[i] + (float)(l[i] * unif_ab(&r, -0.99, 0.99));
		}
		geo_box_dist(&s, n, c, l, v, 0.5f, &dout, &din);
		ck_assert_msg(dout == 0, "flat: inside the box, d_out=%.9g", dout);
		if (t % 2) /* push coordinate j out, above or below */
			v[j] = (t % 4 == 1) ? c[j] + l[j] + (float)unif_ab(&r, 1e-3, 1)
					    : c[j] - l[j] - (float)unif_ab(&r, 1e-3, 1);
		for (size_t i = 0; i < n; i++) {
			double lo = (double)c[i] - l[i], hi = (double)c[i] + l[i];
			want_out += fmax(v[i] - hi, 0) + fmax(lo - v[i], 0);
			want_in += fabs(c[i] - fmin(hi, fmax(lo, (double)v[i])));
		}
		float d = geo_box_dist(&s, n, c, l, v, 0.5f, &dout, &din);
		ck_assert_msg((t % 2 == 0 || dout > 0) && rel_err(dout, want_out) <= ULP_TOL &&
				      rel_err(din, want_in) <= ULP_TOL &&
				      rel_err(d, want_out + 0.5 * want_in) <= ULP_TOL,
			      "flat box n=%zu: d_out %.9g (want %.9g) d_in %.9g (want %.9g) d %.9g", n, dout,
			      want_out, din, want_in, d);
	}
}
END_TEST

/* ---- 5. projection --------------------------------------------------- */
START_TEST(test_max_norm)
{
	for (int ci = 0; ci < NCURV; ci++) {
		geo_space h = {GEO_HYPERBOLIC, CURVS[ci]}, e = {GEO_EUCLIDEAN, CURVS[ci]};
		double want = (1 - GEO_BALL_EPS) / sqrt(CURVS[ci]);
		ck_assert_msg(fabs(geo_max_norm(&h) - want) <= 1e-15 * want, "max norm c=%g: %.17g", CURVS[ci],
			      geo_max_norm(&h));
		ck_assert(isinf(geo_max_norm(&e)) && geo_max_norm(&e) > 0);
	}
}
END_TEST

START_TEST(test_project_outside_lands_on_radius)
{
	rng r = {21};
	static const double FRAC[5] = {1.0, 1.0 + 1e-6, 1.5, 10.0, 1e6};
	float x[MAXN];
	FOR_SPACES(s, n, &r, 10, 1) {
		for (int f = 0; f < 5; f++) {
			double mx = (1 - GEO_BALL_EPS) / sqrt(s.c), xd[MAXN], pd[MAXN];
			vec_of_norm(&r, n, FRAC[f] / sqrt(s.c), x);
			to_double(n, x, xd);
			geo_project(&s, n, x);
			to_double(n, x, pd);
			double np = dnorm(n, pd);
			/* on the radius, up to float32 rounding of the components */
			ck_assert_msg(np <= mx * (1 + ULP_TOL) && np >= mx * (1 - ULP_TOL),
				      "projected norm %.9g, radius %.9g (c=%g n=%zu)", np, mx, s.c, n);
			for (size_t i = 0; i < n; i++) /* same direction */
				ck_assert_msg(fabs(pd[i] - xd[i] * mx / dnorm(n, xd)) <= ULP_TOL * mx,
					      "projection changed direction at [%zu]", i);
		}
	}
}
END_TEST

START_TEST(test_project_inside_untouched)
{
	rng r = {22};
	static const double FRAC[4] = {0.0, 0.5, 0.999, 1.0 - 2 * GEO_BALL_EPS};
	float x[MAXN], y[MAXN];
	FOR_SPACES(s, n, &r, 10, 2) {
		for (int f = 0; f < 5; f++) {
			/* flat space: nothing is ever moved, even far out */
			vec_of_norm(&r, n, (f < 4 ? FRAC[f] : 1e6) / sqrt(s.c), x);
			if (f == 4 && !flat(&s))
				continue;
			memcpy(y, x, n * sizeof *x);
			geo_project(&s, n, y);
			ck_assert_msg(memcmp(x, y, n * sizeof *x) == 0, "%s: point at %g R moved by projection",
				      KIND_NAME[s.kind], f < 4 ? FRAC[f] : 1e6);
		}
	}
}
END_TEST

static Suite *geometry_suite(void)
{
	Suite *s = suite_create("geometry");
	TCase *fwd = tcase_create("forward_vs_float64_reference");
	TCase *bwd = tcase_create("backward");
	TCase *bnd = tcase_create("boundary");
	TCase *idn = tcase_create("identities");
	TCase *prj = tcase_create("projection");
	TCase *all[5] = {fwd, bwd, bnd, idn, prj};
	tcase_add_loop_test(fwd, test_forward_matches_reference, 0, NOPS);
	tcase_add_loop_test(bwd, test_backward_matches_fd, 0, NOPS);
	tcase_add_loop_test(bwd, test_backward_accumulates, 0, NOPS);
	tcase_add_loop_test(bwd, test_backward_null_outputs, 0, NOPS);
	tcase_add_loop_test(bnd, test_boundary_and_zero_are_finite, 0, NOPS);
	tcase_add_test(idn, test_add_zero_is_identity);
	tcase_add_test(idn, test_add_left_inverse);
	tcase_add_test(idn, test_log0_exp0_roundtrip);
	tcase_add_test(idn, test_clip0_is_log0_of_exp0);
	tcase_add_test(idn, test_dist_symmetric);
	tcase_add_test(idn, test_triangle_inequality);
	tcase_add_test(idn, test_expmap_logmap_roundtrip);
	tcase_add_test(idn, test_dist_is_riemannian_norm_of_logmap);
	tcase_add_test(idn, test_dist_1d_closed_form);
	tcase_add_test(idn, test_box_inside_zero_outside_positive);
	tcase_add_test(idn, test_flat_box_is_coordinate_box);
	tcase_add_test(prj, test_max_norm);
	tcase_add_test(prj, test_project_outside_lands_on_radius);
	tcase_add_test(prj, test_project_inside_untouched);
	for (int i = 0; i < 5; i++) {
		tcase_set_timeout(all[i], 600); /* generous: valgrind, sanitizers */
		suite_add_tcase(s, all[i]);
	}
	return s;
}

int main(void)
{
	verbose = getenv("GEO_TEST_VERBOSE") != NULL;
	return run_suite(geometry_suite());
}
