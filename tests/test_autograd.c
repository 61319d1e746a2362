/* Unit tests for lib/autograd (Check framework).
 *
 *  - every op's backward rule against central finite differences of its own
 *    float32 forward, in three hyperbolic curvatures and in flat space.  The
 *    loss is L = sum_i r_i out_i with fixed random r; on the tape it is
 *    built as ones^T (r * out) ones (MUL, MATMUL_NN, MATMUL_NT), so the
 *    op's output gradient arrives through interior nodes as in training;
 *    for the differences it is summed in double from the float outputs.
 *    Parameter gradients start non-zero, so every rule must add, not set;
 *  - gradients stay finite for points at the ball boundary;
 *  - accumulation (a parameter used twice), GATHER's scatter-add and
 *    touched-row list, the arena's steady state, hand-computed forwards.
 * AG_TEST_VERBOSE=1 prints the largest error per op. */
#include <check.h>

#include "testutil.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/vmath.h"

/* ---- tolerances ------------------------------------------------------ */
/* Gradient check, per checked coordinate:
 *     |grad - fd| <= FD_REL * (|fd| + FD_FLOOR * max(1, max_j |fd_j|)).
 * fd = (L(x+h) - L(x-h)) / (x+h - x-h), L summed in double from the float
 * outputs, steps taken as the float values actually stored.
 *  - FD_STEP_LIN: for ops linear in every single input coordinate
 *    (GATHER, MATMUL, ADD, ADD_ROW, MUL, SCALE, PAIRAVG, CONCAT) the
 *    difference has no truncation error, so a large step makes the float32
 *    rounding of the outputs (~1e-7 relative, ~1e-6 for k = 24 float dot
 *    products) nearly vanish: observed errors <= 1e-4, mostly ~1e-6.
 *  - FD_STEP: everything else.  Truncation h^2/6 |L'''| ~ 1.5e-6 |L'''|
 *    and output rounding ~1e-7 |L| / h ~ 3e-5 |L| pull in opposite
 *    directions; 3e-3 balances them for O(1) inputs at most 0.7 R into the
 *    ball (1e-3 and 1e-2 both gave up to 3x larger errors).
 *  - FD_STEP_CHAIN: the eight-op chain rounds a dozen float intermediates,
 *    ~1e-6 |L| of noise; its functions are O(1)-smooth, so a larger step.
 * Over ten seeds the worst single-op error was 1.0e-3 (BOXDIST), the chain
 * 1.7e-3: FD_REL = 1e-2 with FD_FLOOR = 1e-2 leaves 6-10x headroom, while a
 * wrong factor, sign, index, transposition, set-instead-of-add or missed
 * term shows up as O(1) (checked by mutating autograd.c). */
#define FD_STEP 3e-3f
#define FD_STEP_LIN 0.25f
#define FD_STEP_CHAIN 1e-2f
#define FD_REL 1e-2
#define FD_FLOOR 1e-2
#define MAXCHK 40     /* coordinates checked per input (evenly spread) */
#define KINK_EPS 1e-5 /* piecewise ops: a switch this close counts as crossed */
#define MAX_TRIES 50  /* resamples when a difference stencil crosses a kink */
#define BALL_IN 0.7   /* interior points: norm in [0.1, BALL_IN] R */
#define BALL_EDGE (1.0 - 1e-4) /* boundary points: norm BALL_EDGE R */
#define TAN_EDGE 30.0 /* boundary tangents: norm 30 R (past the tanh clamp) */
#define FWD_TOL 1e-6  /* hand-computed forwards, relative */

#define MAXE 2048 /* elements of any input or output */
#define MAXD 8

static const geo_space SPACES[] = {
	{GEO_HYPERBOLIC, 0.5}, {GEO_HYPERBOLIC, 1.0}, {GEO_HYPERBOLIC, 2.0},
	{GEO_EUCLIDEAN, 0.0}};
#define NSPACES ((int)(sizeof SPACES / sizeof SPACES[0]))
static int verbose;

/* PRNG and runner: tests/testutil.h */

/* ---- the ops under test ---------------------------------------------- */
enum init { GAUSS, POS, BALL, HALF, TAN };
typedef struct shape {
	size_t r, c;
	int init; /* POS: U(0.2, 1.5); BALL: rows are points; HALF: |BALL|;
		     TAN: tangent vectors; GAUSS: N(0, 1) */
} shape;
typedef ag_node *build_fn(ag_tape *t, ag_node **in);
typedef uint64_t sig_fn(const geo_space *s, const ag_param *p);
typedef struct opcase {
	const char *name;
	build_fn *build;
	sig_fn *sig; /* branch pattern of a piecewise op (0: at a kink); NULL if smooth */
	float step;
	int np, konst; /* inputs; bit k of konst: input k is an ag_const */
	int geo;       /* takes points: also run at the ball boundary */
	shape in[3];
} opcase;

static const uint32_t GATHER_IDS[] = {4, 1, 4, 4, 0}; /* repeats; 2, 3, 5 unused */
static const float PAIR_SCORES[] = {0.3f, -1.1f, 0.7f, 0.2f, -0.4f};

#define BUILD(fn, expr)                                                        \
	static ag_node *fn(ag_tape *t, ag_node **in) { return expr; }
BUILD(b_gather, ag_gather(t, in[0]->param, GATHER_IDS, 5))
BUILD(b_mm_nt, ag_matmul_nt(t, in[0], in[1]))
BUILD(b_mm_nn, ag_matmul_nn(t, in[0], in[1]))
BUILD(b_add, ag_add(t, in[0], in[1]))
BUILD(b_add_self, ag_add(t, in[0], in[0]))
BUILD(b_add_row, ag_add_row(t, in[0], in[1]))
BUILD(b_mul, ag_mul(t, in[0], in[1]))
BUILD(b_mul_self, ag_mul(t, in[0], in[0]))
BUILD(b_scale, ag_scale(t, in[0], -1.7f))
BUILD(b_tanh, ag_unary(t, AG_TANH, in[0]))
BUILD(b_sigmoid, ag_unary(t, AG_SIGMOID, in[0]))
BUILD(b_relu, ag_unary(t, AG_RELU, in[0]))
BUILD(b_softplus, ag_unary(t, AG_SOFTPLUS, in[0]))
BUILD(b_exp0, ag_unary(t, AG_EXP0, in[0]))
BUILD(b_log0, ag_unary(t, AG_LOG0, in[0]))
BUILD(b_clip0, ag_unary(t, AG_CLIP0, in[0]))
BUILD(b_softmax, ag_softmax(t, in[0]))
BUILD(b_lse, ag_logsumexp(t, in[0]))
static const uint32_t SEG_OFF[] = {0, 2, 3, 7}; /* segments of 2, 1, 4 */
BUILD(b_seglse, ag_seglse(t, in[0], SEG_OFF, 3))
BUILD(b_segsoftmax, ag_segsoftmax(t, in[0], SEG_OFF, 3))
BUILD(b_segmean, ag_segmean(t, in[0], in[1], SEG_OFF, 3))
BUILD(b_gyromean, ag_gyromean(t, in[0], in[1]))
BUILD(b_pairmean, ag_pairmean(t, in[0], in[1]))
BUILD(b_pairmin, ag_pairmin(t, in[0]))
BUILD(b_pairavg, ag_pairavg(t, in[0]))
BUILD(b_concat, ag_concat(t, in[0], in[1]))
BUILD(b_boxdist, ag_boxdist(t, in[0], in[1], in[2], 0.3f))
BUILD(b_xent, ag_xent(t, in[0]))
/* A smooth chain of the kind the network builds: table rows, a dense
 * layer, tanh, into the ball, pair means, back out, a cross-entropy. */
BUILD(b_chain,
      ag_xent(t, ag_logsumexp(t, ag_unary(t, AG_LOG0, ag_pairmean(t,
	      ag_const(t, 1, 5, PAIR_SCORES), ag_unary(t, AG_EXP0,
	      ag_scale(t, ag_unary(t, AG_TANH, ag_add_row(t,
	      ag_matmul_nt(t, ag_gather(t, in[0]->param, GATHER_IDS, 5),
			   in[1]), in[2])), 0.4f)))))))

/* Hash of which side of each switch the inputs are on; 0 when one is
 * closer than KINK_EPS. */
static uint64_t side(uint64_t h, double a, double b)
{
	if (!h || fabs(a - b) < KINK_EPS)
		return 0;
	return ((h ^ (uint64_t)(a > b)) * 0x100000001b3ULL) | 1;
}
static uint64_t relu_sig(const geo_space *s, const ag_param *p)
{
	uint64_t h = 1;
	for (size_t i = 0; i < p[0].rows * p[0].cols; i++)
		h = side(h, p[0].val[i], 0);
	return h;
}
static uint64_t pairmin_sig(const geo_space *s, const ag_param *p)
{
	uint64_t h = 1;
	size_t d = p[0].cols;
	for (size_t i = 0; i < p[0].rows; i++)
		for (size_t j = i + 1; j < p[0].rows; j++)
			for (size_t q = 0; q < d; q++)
				h = side(h, p[0].val[i * d + q], p[0].val[j * d + q]);
	return h;
}
/* The switches of geo_box_dist (geometry.h): signs of a = v (-) qmax,
 * b = qmin (-) v, e = c (-) t and the two branches of the clamp t. */
static uint64_t box_sig(const geo_space *s, const ag_param *p)
{
	size_t d = p[2].cols;
	uint64_t h = 1;
	float ml[MAXD], mv[MAXD], qmax[MAXD], qmin[MAXD], mq[MAXD], a[MAXD],
		b[MAXD], mt[MAXD], e[MAXD];
	for (size_t r = 0; r < p[2].rows; r++) {
		size_t cr = p[0].rows == 1 ? 0 : r;
		const float *c = p[0].val + cr * d, *l = p[1].val + cr * d,
			    *v = p[2].val + r * d;
		for (size_t q = 0; q < d; q++)
			ml[q] = -l[q], mv[q] = -v[q];
		geo_add(s, d, c, l, qmax);
		geo_add(s, d, c, ml, qmin);
		for (size_t q = 0; q < d; q++)
			mq[q] = -qmax[q], mt[q] = -fminf(qmax[q], fmaxf(qmin[q], v[q]));
		geo_add(s, d, v, mq, a);
		geo_add(s, d, qmin, mv, b);
		geo_add(s, d, c, mt, e);
		for (size_t q = 0; q < d; q++) {
			h = side(side(side(h, a[q], 0), b[q], 0), e[q], 0);
			h = side(side(h, qmax[q], fmaxf(qmin[q], v[q])), qmin[q], v[q]);
		}
	}
	return h;
}

#define LIN FD_STEP_LIN
#define NL FD_STEP
static const opcase CASES[] = {
	{"GATHER", b_gather, NULL, LIN, 1, 0, 0, {{6, 3, GAUSS}}},
	{"MATMUL_NT", b_mm_nt, NULL, LIN, 2, 0, 0, {{3, 4, GAUSS}, {5, 4, GAUSS}}},
	{"MATMUL_NT/A const", b_mm_nt, NULL, LIN, 2, 1, 0, {{3, 4, GAUSS}, {5, 4, GAUSS}}},
	{"MATMUL_NT/blis", b_mm_nt, NULL, LIN, 2, 0, 0, {{40, 24, GAUSS}, {36, 24, GAUSS}}},
	{"MATMUL_NN", b_mm_nn, NULL, LIN, 2, 0, 0, {{3, 4, GAUSS}, {4, 5, GAUSS}}},
	{"MATMUL_NN/B const", b_mm_nn, NULL, LIN, 2, 2, 0, {{3, 4, GAUSS}, {4, 5, GAUSS}}},
	{"MATMUL_NN/blis", b_mm_nn, NULL, LIN, 2, 0, 0, {{40, 24, GAUSS}, {24, 36, GAUSS}}},
	{"ADD", b_add, NULL, LIN, 2, 0, 0, {{2, 6, GAUSS}, {3, 4, GAUSS}}},
	{"ADD/x+x", b_add_self, NULL, LIN, 1, 0, 0, {{3, 4, GAUSS}}},
	{"ADD_ROW", b_add_row, NULL, LIN, 2, 0, 0, {{3, 4, GAUSS}, {1, 4, GAUSS}}},
	{"ADD_ROW/b const", b_add_row, NULL, LIN, 2, 2, 0, {{3, 4, GAUSS}, {1, 4, GAUSS}}},
	{"MUL", b_mul, NULL, LIN, 2, 0, 0, {{3, 4, GAUSS}, {3, 4, GAUSS}}},
	{"MUL/x*x", b_mul_self, NULL, NL, 1, 0, 0, {{3, 4, GAUSS}}},
	{"SCALE", b_scale, NULL, LIN, 1, 0, 0, {{3, 4, GAUSS}}},
	{"TANH", b_tanh, NULL, NL, 1, 0, 0, {{3, 4, GAUSS}}},
	{"SIGMOID", b_sigmoid, NULL, NL, 1, 0, 0, {{3, 4, GAUSS}}},
	{"RELU", b_relu, relu_sig, NL, 1, 0, 0, {{3, 4, GAUSS}}},
	{"SOFTPLUS", b_softplus, NULL, NL, 1, 0, 0, {{3, 4, GAUSS}}},
	{"EXP0", b_exp0, NULL, NL, 1, 0, 1, {{3, 4, TAN}}},
	{"LOG0", b_log0, NULL, NL, 1, 0, 1, {{3, 4, BALL}}},
	{"CLIP0", b_clip0, NULL, NL, 1, 0, 1, {{3, 4, TAN}}},
	{"SOFTMAX", b_softmax, NULL, NL, 1, 0, 0, {{3, 5, GAUSS}}},
	{"LOGSUMEXP", b_lse, NULL, NL, 1, 0, 0, {{3, 5, GAUSS}}},
	{"SEGLSE", b_seglse, NULL, NL, 1, 0, 0, {{3, 7, GAUSS}}},
	{"SEGSOFTMAX", b_segsoftmax, NULL, NL, 1, 0, 0, {{1, 7, GAUSS}}},
	{"SEGMEAN", b_segmean, NULL, NL, 2, 0, 1, {{1, 7, POS}, {7, 3, BALL}}},
	{"SEGMEAN/W const", b_segmean, NULL, NL, 2, 1, 1, {{1, 7, POS}, {7, 3, BALL}}},
	{"GYROMEAN", b_gyromean, NULL, NL, 2, 0, 1, {{2, 4, POS}, {4, 3, BALL}}},
	{"GYROMEAN/W const", b_gyromean, NULL, NL, 2, 1, 1, {{2, 4, POS}, {4, 3, BALL}}},
	/* more rows than geo_means_backward_kept holds at once */
	{"GYROMEAN/11 rows", b_gyromean, NULL, NL, 2, 0, 1, {{11, 4, POS}, {4, 3, BALL}}},
	{"PAIRMEAN", b_pairmean, NULL, NL, 2, 0, 1, {{1, 4, GAUSS}, {4, 3, BALL}}},
	{"PAIRMEAN/S const", b_pairmean, NULL, NL, 2, 1, 1, {{1, 4, GAUSS}, {4, 3, BALL}}},
	{"PAIRMIN", b_pairmin, pairmin_sig, NL, 1, 0, 0, {{4, 3, GAUSS}}},
	{"PAIRAVG", b_pairavg, NULL, LIN, 1, 0, 0, {{4, 3, GAUSS}}},
	{"CONCAT", b_concat, NULL, LIN, 2, 0, 0, {{2, 3, GAUSS}, {3, 3, GAUSS}}},
	{"CONCAT/x const", b_concat, NULL, LIN, 2, 1, 0, {{2, 3, GAUSS}, {3, 3, GAUSS}}},
	{"BOXDIST/bcast", b_boxdist, box_sig, NL, 3, 0, 1,
	 {{1, 3, BALL}, {1, 3, HALF}, {4, 3, BALL}}},
	{"BOXDIST/rows", b_boxdist, box_sig, NL, 3, 0, 1,
	 {{3, 3, BALL}, {3, 3, HALF}, {3, 3, BALL}}},
	{"BOXDIST/C,V const", b_boxdist, box_sig, NL, 3, 5, 1,
	 {{3, 3, BALL}, {3, 3, HALF}, {3, 3, BALL}}},
	{"XENT", b_xent, NULL, NL, 1, 0, 0, {{5, 1, GAUSS}}},
	{"chain", b_chain, NULL, FD_STEP_CHAIN, 3, 0, 0, {{6, 3, GAUSS}, {4, 3, GAUSS}, {1, 4, GAUSS}}},
};
#undef LIN
#undef NL
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ---- harness ----------------------------------------------------------- */
/* G0: what the gradients hold before backward (rules must add to it) */
static float VAL[3][MAXE], GRAD[3][MAXE], G0[3][MAXE], R[MAXE], ONES[MAXE];
static ag_param P[3];
static double MAG; /* sum |r_i out_i| of the last forward */

static size_t numel(const ag_node *n) { return n->rows * n->cols; }

static double radius(const geo_space *s)
{
	return s->kind == GEO_EUCLIDEAN ? 1.0 : 1.0 / sqrt(s->c);
}

static void sample(const geo_space *s, rng *g, const shape *sh, float *v,
		   int edge)
{
	for (size_t i = 0; i < sh->r; i++) {
		float *row = v + i * sh->c;
		double nrm = 0, want;
		for (size_t q = 0; q < sh->c; q++) {
			double x = sh->init == POS ? unif_ab(g, 0.2, 1.5) : gauss(g);
			row[q] = (float)x;
			nrm += x * x;
		}
		if (sh->init == GAUSS || sh->init == POS)
			continue;
		want = !edge ? unif_ab(g, 0.1, BALL_IN)
		       : sh->init == TAN ? TAN_EDGE : BALL_EDGE;
		for (size_t q = 0; q < sh->c; q++) {
			row[q] = (float)(row[q] * want * radius(s) / sqrt(nrm));
			if (sh->init == HALF)
				row[q] = fabsf(row[q]);
		}
	}
}

/* sum_i r_i out_i on the tape: ones^T (r * out) ones. */
static ag_node *weighted_sum(ag_tape *t, ag_node *out, const float *r)
{
	ag_node *p = ag_mul(t, out, ag_const(t, out->rows, out->cols, r));
	ag_node *colsum = ag_matmul_nn(t, ag_const(t, 1, out->rows, ONES), p);
	return ag_matmul_nt(t, colsum, ag_const(t, 1, out->cols, ONES));
}

/* Rewind t, run the case's forward on P; *L = sum r_i out_i in double. */
static ag_node *forward(ag_tape *t, const opcase *oc, double *L)
{
	ag_node *in[3];
	ag_tape_reset(t);
	for (int k = 0; k < oc->np; k++)
		in[k] = oc->konst >> k & 1
				? ag_const(t, P[k].rows, P[k].cols, P[k].val)
				: ag_param_leaf(t, &P[k]);
	ag_node *out = oc->build(t, in);
	ck_assert_msg(!t->failed && numel(out) <= MAXE, "%s: forward failed", oc->name);
	*L = MAG = 0;
	for (size_t i = 0; i < numel(out); i++) {
		*L += (double)R[i] * out->val[i];
		MAG += fabs((double)R[i] * out->val[i]);
	}
	return out;
}

static int all_finite(size_t n, const float *v)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* One sample of one case in one space: draw the inputs and random initial
 * gradients G0, run forward and backward, compare grad - G0 with central
 * differences (or, at the boundary, only check finiteness).  Returns the largest scaled error |grad - fd| /
 * (|fd| + FD_FLOOR scale), or -1 if a stencil crossed a kink. */
static double check_case(const opcase *oc, const geo_space *sp, rng *g, int edge)
{
	ag_tape tg, tf;
	double L, L0, Lp, Lm, worst = 0;
	ag_tape_init(&tg, sp, 1);
	ag_tape_init(&tf, sp, 0);
	for (int k = 0; k < oc->np; k++) {
		P[k] = (ag_param){.name = "in", .rows = oc->in[k].r,
				  .cols = oc->in[k].c, .val = VAL[k], .grad = GRAD[k]};
		sample(sp, g, &oc->in[k], VAL[k], edge);
		for (size_t i = 0; i < MAXE; i++)
			GRAD[k][i] = G0[k][i] = (float)unif_ab(g, -1, 1);
	}
	for (size_t i = 0; i < MAXE; i++)
		R[i] = (float)gauss(g), ONES[i] = 1.0f;
	ag_node *out = forward(&tg, oc, &L);
	ag_node *loss = weighted_sum(&tg, out, R);
	ck_assert_msg(fabs(loss->val[0] - L) <= 1e-5 * MAG + 1e-6,
		      "%s: tape loss %.9g vs %.9g", oc->name, loss->val[0], L);
	ag_backward(&tg, loss);
	ck_assert(!tg.failed);
	if (edge) {
		ck_assert_msg(all_finite(numel(out), out->val), "%s c=%g: output not finite",
			      oc->name, sp->c);
		for (int k = 0; k < oc->np; k++)
			ck_assert_msg(all_finite(P[k].rows * P[k].cols, P[k].grad),
				      "%s c=%g: gradient of input %d not finite",
				      oc->name, sp->c, k);
		goto done;
	}
	forward(&tf, oc, &L0);
	ck_assert_msg(L0 == L, "%s: inference forward differs", oc->name);
	uint64_t s0 = oc->sig ? oc->sig(sp, P) : 1;
	for (int k = 0; k < oc->np && s0; k++) {
		size_t n = P[k].rows * P[k].cols, nchk = n < MAXCHK ? n : MAXCHK;
		double fd[MAXCHK], scale = 1.0;
		if (oc->konst >> k & 1) {
			for (size_t i = 0; i < n; i++) /* no gradient was written */
				ck_assert(P[k].grad[i] == G0[k][i]);
			continue;
		}
		for (size_t j = 0; j < nchk; j++) {
			float *x = P[k].val + j * n / nchk, x0 = *x;
			float xp = x0 + oc->step, xm = x0 - oc->step;
			*x = xp;
			forward(&tf, oc, &Lp);
			int kink = oc->sig && oc->sig(sp, P) != s0;
			*x = xm;
			forward(&tf, oc, &Lm);
			kink |= oc->sig && oc->sig(sp, P) != s0;
			*x = x0;
			if (kink) {
				s0 = 0;
				break;
			}
			fd[j] = (Lp - Lm) / ((double)xp - xm);
			scale = fmax(scale, fabs(fd[j]));
		}
		for (size_t j = 0; j < nchk && s0; j++) {
			size_t i = j * n / nchk;
			double gr = (double)P[k].grad[i] - G0[k][i];
			double err = fabs(gr - fd[j]) / (fabs(fd[j]) + FD_FLOOR * scale);
			ck_assert_msg(err <= FD_REL,
				      "%s, %s c=%g: input %d [%zu x %zu] element %zu: "
				      "grad %.7g, finite difference %.7g",
				      oc->name, sp->kind ? "flat" : "hyperbolic", sp->c,
				      k, P[k].rows, P[k].cols, i, gr, fd[j]);
			worst = fmax(worst, err);
		}
	}
	if (!s0)
		worst = -1;
done:
	ag_tape_free(&tg);
	ag_tape_free(&tf);
	return worst;
}

START_TEST(test_gradients_match_fd)
{
	const opcase *oc = &CASES[_i];
	double worst = 0;
	int total = 0;
	for (int s = 0; s < NSPACES; s++) {
		rng g = {0x5eed0000u + 64u * (uint64_t)_i + (uint64_t)s};
		double e = -1;
		int tries = 0;
		while (e < 0 && tries++ < MAX_TRIES)
			e = check_case(oc, &SPACES[s], &g, 0);
		ck_assert_msg(e >= 0, "%s: %d samples all crossed a kink", oc->name, tries);
		worst = fmax(worst, e);
		total += tries;
	}
	if (verbose)
		printf("%-18s max |grad - fd| / (|fd| + %g scale) = %.2e  (%d samples)\n",
		       oc->name, FD_FLOOR, worst, total);
}
END_TEST

START_TEST(test_boundary_gradients_finite)
{
	const opcase *oc = &CASES[_i];
	if (!oc->geo)
		return;
	for (int s = 0; s < NSPACES; s++) {
		rng g = {0xed9e0000u + (uint64_t)_i};
		if (SPACES[s].kind == GEO_HYPERBOLIC)
			check_case(oc, &SPACES[s], &g, 1);
	}
}
END_TEST

/* ---- accumulation ------------------------------------------------------ */
START_TEST(test_parameter_used_twice_accumulates)
{
	geo_space sp = {GEO_HYPERBOLIC, 1.0};
	float val[6] = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f, 1.5f}, grad[6];
	float r[6] = {1.0f, -2.0f, 0.5f, 3.0f, -1.5f, 0.25f};
	ag_param x = {.name = "x", .rows = 2, .cols = 3, .val = val, .grad = grad};
	ag_tape t;
	ag_tape_init(&t, &sp, 1);
	for (size_t i = 0; i < MAXE; i++)
		ONES[i] = 1.0f;
	ag_param_zero_grad(&x);
	/* ADD(x, x), twice without zeroing: 2 r, then 4 r (exact in float) */
	for (int rep = 1; rep <= 2; rep++) {
		ag_tape_reset(&t);
		ag_node *a = ag_param_leaf(&t, &x);
		ag_backward(&t, weighted_sum(&t, ag_add(&t, a, a), r));
		for (int i = 0; i < 6; i++)
			ck_assert_float_eq(grad[i], 2.0f * (float)rep * r[i]);
	}
	/* two leaves of one parameter */
	ag_param_zero_grad(&x);
	ag_tape_reset(&t);
	ag_backward(&t, weighted_sum(&t, ag_add(&t, ag_param_leaf(&t, &x),
						ag_param_leaf(&t, &x)), r));
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq(grad[i], 2.0f * r[i]);
	/* one parameter into two different ops: d/dx (3x + x^2) = 3 + 2x */
	ag_param_zero_grad(&x);
	ag_tape_reset(&t);
	ag_node *a = ag_param_leaf(&t, &x);
	ag_backward(&t, weighted_sum(&t, ag_add(&t, ag_scale(&t, a, 3.0f),
						ag_mul(&t, a, a)), r));
	for (int i = 0; i < 6; i++)
		ck_assert_float_eq_tol(grad[i], r[i] * (3.0f + 2.0f * val[i]), 1e-6f);
	ag_tape_free(&t);
}
END_TEST

START_TEST(test_inference_tape_records_nothing)
{
	geo_space sp = {GEO_EUCLIDEAN, 0.0};
	float val[4] = {1, 2, 3, 4}, grad[4] = {0};
	ag_param x = {.name = "x", .rows = 1, .cols = 4, .val = val, .grad = grad};
	ag_tape t;
	ag_tape_init(&t, &sp, 0);
	ag_node *l = ag_logsumexp(&t, ag_unary(&t, AG_TANH, ag_param_leaf(&t, &x)));
	ck_assert_ptr_null(l->grad);
	ag_backward(&t, l);
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(grad[i], 0.0f);
	ag_tape_free(&t);
}
END_TEST

/* ---- GATHER: scatter-add and the touched rows -------------------------- */
START_TEST(test_gather_touched_rows)
{
	enum { ROWS = 6, D = 3 };
	static const uint32_t ids1[] = {4, 1, 4, 4, 0}, ids2[] = {1, 5};
	geo_space sp = {GEO_HYPERBOLIC, 1.0};
	float val[ROWS * D], grad[ROWS * D], r[7 * D];
	uint32_t touched[ROWS];
	uint8_t mark[ROWS] = {0};
	ag_param e = {.name = "E", .rows = ROWS, .cols = D, .val = val,
		      .grad = grad, .touched = touched, .mark = mark};
	rng g = {42};
	for (int i = 0; i < ROWS * D; i++)
		val[i] = (float)gauss(&g), grad[i] = 0.0f;
	for (int i = 0; i < 7 * D; i++)
		r[i] = (float)gauss(&g);
	for (size_t i = 0; i < MAXE; i++)
		ONES[i] = 1.0f;
	ag_tape t;
	ag_tape_init(&t, &sp, 1);
	/* two gathers of the same table, then a weighted sum of all 7 rows */
	ag_node *cat = ag_concat(&t, ag_gather(&t, &e, ids1, 5), ag_gather(&t, &e, ids2, 2));
	ag_backward(&t, weighted_sum(&t, cat, r));
	for (int row = 0; row < ROWS; row++)
		for (int q = 0; q < D; q++) {
			double want = 0; /* scatter-add of every position with this id */
			for (int p = 0; p < 7; p++)
				if ((p < 5 ? ids1[p] : ids2[p - 5]) == (uint32_t)row)
					want += r[p * D + q];
			ck_assert_double_eq_tol(grad[row * D + q], want, 1e-6);
		}
	ck_assert_uint_eq(e.ntouched, 4); /* {4, 1, 0, 5}, each once */
	for (int row = 0; row < ROWS; row++) {
		int n = 0;
		for (size_t i = 0; i < e.ntouched; i++)
			n += touched[i] == (uint32_t)row;
		int used = row == 0 || row == 1 || row == 4 || row == 5;
		ck_assert_int_eq(n, used);
		ck_assert_int_eq(mark[row], used);
	}
	/* zero_grad visits exactly the touched rows: a sentinel in an untouched
	 * row survives, the list and the marks are emptied */
	grad[2 * D + 1] = 42.0f;
	ag_param_zero_grad(&e);
	ck_assert_uint_eq(e.ntouched, 0);
	for (int i = 0; i < ROWS * D; i++)
		ck_assert_float_eq(grad[i], i == 2 * D + 1 ? 42.0f : 0.0f);
	for (int row = 0; row < ROWS; row++)
		ck_assert_int_eq(mark[row], 0);
	/* the next step starts a fresh list */
	grad[2 * D + 1] = 0.0f;
	ag_tape_reset(&t);
	ag_backward(&t, weighted_sum(&t, ag_gather(&t, &e, ids1 + 2, 1), r));
	ck_assert_uint_eq(e.ntouched, 1);
	ck_assert_uint_eq(touched[0], 4);
	ag_tape_free(&t);
}
END_TEST

/* ---- arena --------------------------------------------------------------- */
enum { AD = 4, AROWS = 12 };
/* One training-like step: rows of E, `layers` dense tanh layers, into the
 * ball, pair means (whose backward allocates from the arena), box
 * distances, cross-entropy.  Returns the loss. */
static float arena_step(ag_tape *t, ag_param *E, ag_param *W, size_t n,
			size_t layers)
{
	static const float c[AD] = {0.1f, -0.2f, 0.05f, 0.3f},
			   l[AD] = {0.2f, 0.3f, 0.1f, 0.25f};
	uint32_t ids[32];
	float sc[32];
	for (size_t i = 0; i < n; i++)
		ids[i] = (uint32_t)(7 * i % AROWS), sc[i] = 0.1f * (float)(i % 5);
	ag_param_zero_grad(E);
	ag_param_zero_grad(W);
	ag_node *x = ag_gather(t, E, ids, n), *w = ag_param_leaf(t, W);
	for (size_t i = 0; i < layers; i++)
		x = ag_unary(t, AG_TANH, ag_matmul_nt(t, x, w));
	x = ag_unary(t, AG_EXP0, ag_scale(t, x, 0.3f));
	x = ag_pairmean(t, ag_const(t, 1, n, sc), x);
	ck_assert_ptr_nonnull(ag_alloc(t, 1000)); /* caller scratch */
	ag_node *loss = ag_xent(t, ag_boxdist(t, ag_const(t, 1, AD, c),
					      ag_const(t, 1, AD, l), x, 0.5f));
	ag_backward(t, loss);
	ck_assert(!t->failed);
	return loss->val[0];
}

START_TEST(test_arena_steady_state)
{
	static const size_t SIZES[2][2] = {{8, 3}, {32, 150}}; /* rows, layers */
	geo_space sp = {GEO_HYPERBOLIC, 1.0};
	float ev[AROWS * AD], eg[AROWS * AD], wv[AD * AD], wg[AD * AD];
	float ref_e[2][AROWS * AD], ref_w[2][AD * AD], ref_loss[2];
	ag_param E = {.name = "E", .rows = AROWS, .cols = AD, .val = ev, .grad = eg};
	ag_param W = {.name = "W", .rows = AD, .cols = AD, .val = wv, .grad = wg};
	rng g = {7};
	for (int i = 0; i < AROWS * AD; i++)
		ev[i] = (float)gauss(&g);
	for (int i = 0; i < AD * AD; i++)
		wv[i] = (float)(0.5 * gauss(&g));
	ag_tape t;
	ag_tape_init(&t, &sp, 1);
	size_t prev = 0;
	/* small steps, then big ones (> 256 nodes, > one chunk), then small */
	for (int phase = 0; phase < 3; phase++) {
		int big = phase == 1;
		for (int rep = 0; rep < 4; rep++) {
			float loss = arena_step(&t, &E, &W, SIZES[big][0], SIZES[big][1]);
			size_t during = t.allocations;
			ag_tape_reset(&t);
			if (rep == 0 && phase < 2) { /* warm-up: keep the values */
				if (big) /* the big step grows the arena */
					ck_assert_uint_gt(during, prev);
				ref_loss[big] = loss;
				memcpy(ref_e[big], eg, sizeof eg);
				memcpy(ref_w[big], wg, sizeof wg);
			} else { /* steady state: nothing allocated, same bits */
				ck_assert_msg(during == prev && t.allocations == prev,
					      "phase %d step %d: allocations %zu -> %zu -> %zu",
					      phase, rep, prev, during, t.allocations);
				ck_assert(memcmp(&loss, &ref_loss[big], sizeof loss) == 0);
				ck_assert(memcmp(eg, ref_e[big], sizeof eg) == 0);
				ck_assert(memcmp(wg, ref_w[big], sizeof wg) == 0);
			}
			prev = t.allocations;
		}
	}
	ag_tape_free(&t);
}
END_TEST

/* ---- hand-computed forwards ---------------------------------------------- */
static float run1(ag_op op, size_t rows, size_t cols, const float *x, size_t at)
{
	const geo_space sp = {GEO_EUCLIDEAN, 0.0};
	ag_tape t;
	ag_tape_init(&t, &sp, 0);
	ag_node *in = ag_const(&t, rows, cols, x);
	ag_node *o = op == AG_XENT ? ag_xent(&t, in)
		     : op == AG_LOGSUMEXP ? ag_logsumexp(&t, in) : ag_softmax(&t, in);
	float v = o->val[at];
	ag_tape_free(&t);
	return v;
}

/* vmath.h's exp and tanh against double libm, in ulps of the float
 * result, over the float range the tape meets, and their saturation. */
static double ulps(float got, double want)
{
	float w = (float)want;
	double u = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
	return fabs((double)got - want) / u;
}

START_TEST(test_vector_exp_tanh_accuracy)
{
	enum { N = 200001 };
	static float x[N], y[N];
	double worst = 0.0;
	for (size_t i = 0; i < N; i++)
		x[i] = -87.0f + 175.0f * (float)i / (float)(N - 1);
	vm_exp(N, x, y);
	for (size_t i = 0; i < N; i++)
		worst = fmax(worst, ulps(y[i], exp((double)x[i])));
	ck_assert_msg(worst <= 3.0, "exp: %g ulp", worst);
	worst = 0.0;
	for (size_t i = 0; i < N; i++)
		x[i] = -12.0f + 24.0f * (float)i / (float)(N - 1);
	vm_tanh(N, x, y);
	for (size_t i = 0; i < N; i++)
		worst = fmax(worst, ulps(y[i], tanh((double)x[i])));
	ck_assert_msg(worst <= 3.0, "tanh: %g ulp", worst);
	/* tails, signs, lengths that are not a multiple of the lanes */
	float e[5] = {-1000.0f, 0.0f, 1000.0f, -1e-30f, 1.0f};
	vm_exp(5, e, e);
	ck_assert(e[0] >= 0.0f && e[0] < 1e-37f && e[1] == 1.0f && isfinite(e[2]) &&
		  e[3] == 1.0f && fabs(e[4] - M_E) < 1e-6);
	float t[7] = {100.0f, -100.0f, 1e-30f, -1e-30f, 0.0f, 9.5f, -0.3f};
	vm_tanh(7, t, t);
	ck_assert(t[0] == 1.0f && t[1] == -1.0f && t[2] == 1e-30f &&
		  t[3] == -1e-30f && t[4] == 0.0f && t[5] == 1.0f &&
		  fabs(t[6] - tanh(-0.3)) < 1e-7);
}
END_TEST

START_TEST(test_forward_hand_values)
{
	static const float d123[] = {1, 2, 3}, dbig[] = {1000, 1001},
			   dneg[] = {-1000, -999}, l2[] = {1000, 1000},
			   lneg[] = {-1000, -1000}, lrows[] = {1, 2, 3, 0, 0, 0};
	static const float sm[3][4] = {{1000, 999, -1000, 0}, {1, 2, 3, 4}, {-5, -5, -5, -5}};
	/* -log softmax(-D)[0] = D0 + log sum exp(-D) */
	double want = 1.0 + log(exp(-1.0) + exp(-2.0) + exp(-3.0));
	ck_assert_double_eq_tol(run1(AG_XENT, 3, 1, d123, 0), want, FWD_TOL * want);
	/* large distances: log(1 + e^-1), up to the float spacing at 1000 (6e-5) */
	ck_assert_double_eq_tol(run1(AG_XENT, 2, 1, dbig, 0), log1p(exp(-1.0)), 2e-4);
	ck_assert_double_eq_tol(run1(AG_XENT, 2, 1, dneg, 0), log1p(exp(-1.0)), 2e-4);
	/* log sum exp without overflow: 1000 + log 2 is representable to 6e-5 */
	ck_assert_double_eq_tol(run1(AG_LOGSUMEXP, 1, 2, l2, 0), 1000 + log(2.0), 1e-4);
	ck_assert_double_eq_tol(run1(AG_LOGSUMEXP, 1, 2, lneg, 0), -1000 + log(2.0), 1e-4);
	ck_assert_double_eq_tol(run1(AG_LOGSUMEXP, 2, 3, lrows, 0),
				log(exp(1.0) + exp(2.0) + exp(3.0)), FWD_TOL * 3.5);
	ck_assert_double_eq_tol(run1(AG_LOGSUMEXP, 2, 3, lrows, 1), log(3.0), FWD_TOL);
	/* segments: the second far below the row's maximum (its own
	 * maximum then, not an underflow to -inf), with and without grads */
	static const float seg[] = {0, 1, -200, -201, -200, 3};
	static const uint32_t soff[] = {0, 2, 5, 6};
	for (int grad = 0; grad < 2; grad++) {
		const geo_space sp = {GEO_EUCLIDEAN, 0.0};
		ag_tape t;
		ag_tape_init(&t, &sp, grad);
		ag_param p = {.name = "x", .rows = 1, .cols = 6,
			      .val = (float *)seg, .grad = (float[6]){0}};
		ag_node *o = ag_seglse(&t, ag_param_leaf(&t, &p), soff, 3);
		ck_assert_double_eq_tol(o->val[0], log(1.0 + exp(1.0)), FWD_TOL * 2);
		ck_assert_double_eq_tol(o->val[1], -200 + log(2.0 + exp(-1.0)),
					FWD_TOL * 200);
		ck_assert_double_eq_tol(o->val[2], 3.0, FWD_TOL * 3);
		ag_tape_free(&t);
	}
	/* softmax: every row sums to 1 and matches exp(x - max) / sum */
	for (int r = 0; r < 3; r++) {
		double sum = 0, den = 0, mx = -INFINITY;
		for (int j = 0; j < 4; j++)
			mx = fmax(mx, sm[r][j]);
		for (int j = 0; j < 4; j++)
			den += exp(sm[r][j] - mx);
		for (int j = 0; j < 4; j++) {
			float y = run1(AG_SOFTMAX, 3, 4, sm[0], (size_t)(4 * r + j));
			double ref = exp(sm[r][j] - mx) / den;
			ck_assert(isfinite(y));
			ck_assert_double_eq_tol(y, ref, FWD_TOL);
			sum += y;
		}
		ck_assert_double_eq_tol(sum, 1.0, FWD_TOL);
	}
}
END_TEST

static Suite *autograd_suite(void)
{
	Suite *s = suite_create("autograd");
	TCase *grad = tcase_create("gradients_vs_finite_differences");
	TCase *bnd = tcase_create("boundary");
	TCase *mech = tcase_create("tape");
	TCase *fwd = tcase_create("forward");
	TCase *all[4] = {grad, bnd, mech, fwd};
	tcase_add_loop_test(grad, test_gradients_match_fd, 0, NCASES);
	tcase_add_loop_test(bnd, test_boundary_gradients_finite, 0, NCASES);
	tcase_add_test(mech, test_parameter_used_twice_accumulates);
	tcase_add_test(mech, test_inference_tape_records_nothing);
	tcase_add_test(mech, test_gather_touched_rows);
	tcase_add_test(mech, test_arena_steady_state);
	tcase_add_test(fwd, test_forward_hand_values);
	tcase_add_test(fwd, test_vector_exp_tanh_accuracy);
	for (int i = 0; i < 4; i++) {
		tcase_set_timeout(all[i], 600); /* generous: valgrind */
		suite_add_tcase(s, all[i]);
	}
	return s;
}

int main(void)
{
	verbose = getenv("AG_TEST_VERBOSE") != NULL;
	return run_suite(autograd_suite());
}
