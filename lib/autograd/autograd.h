/* Reverse-mode automatic differentiation for one training step (internal).
 *
 * A tape records nodes as they are computed (define-by-run, forward runs at
 * once): each node has an op, up to three inputs, an output matrix and,
 * beside it, its gradient.  ag_backward walks the nodes in reverse and calls
 * each op's backward rule, which ADDS into its inputs' gradients (ggml's
 * add-or-set, always add here).  All per-step memory comes from an arena
 * that ag_tape_reset rewinds without freeing, so after the first steps a
 * training step allocates nothing.  Parameters live outside the tape
 * (ag_param) with their own gradient buffers; Riemannian rescaling belongs
 * to the optimiser, not here.
 *
 * Every matrix is row-major float32 [rows x cols]; a vector is 1 x n. */
#ifndef ANTHEM_AUTOGRAD_H
#define ANTHEM_AUTOGRAD_H

#include "geometry/geometry.h"

#include <stddef.h>
#include <stdint.h>

/* A trainable tensor.  `grad` may be NULL (inference: nothing records
 * gradients).  For embedding tables, `touched` lists the rows whose
 * gradient is non-zero since the last ag_param_zero_grad, so that neither
 * the zeroing nor a sparse optimiser has to visit the whole table. */
typedef struct ag_param {
	const char *name;
	size_t rows, cols;
	float *val;
	float *grad;
	uint32_t *touched; /* rows, for tables (NULL for dense params) */
	uint8_t *mark;     /* one byte per row: in touched? */
	size_t ntouched;
} ag_param;

/* Zero the gradient (only the touched rows, for a table). */
void ag_param_zero_grad(ag_param *p);

typedef enum ag_op {
	AG_LEAF,      /* a parameter or a constant */
	AG_GATHER,    /* rows of a table parameter */
	AG_MATMUL_NT, /* A [m x k] * B[n x k]^T */
	AG_MATMUL_NN, /* A [m x k] * B[k x n] */
	AG_ADD,       /* X + Y, same number of elements, shape of X */
	AG_ADD_ROW,   /* X [m x n] + b [1 x n] on every row */
	AG_MUL,       /* X * Y element-wise, same shape */
	AG_SCALE,     /* f X */
	AG_TANH,
	AG_SIGMOID,
	AG_RELU,
	AG_SOFTPLUS,
	AG_EXP0,      /* exp0 of every row */
	AG_LOG0,      /* log0 of every row */
	AG_CLIP0,     /* log0(exp0(row)) of every row (geo_clip0) */
	AG_SOFTMAX,   /* softmax within every row */
	AG_LOGSUMEXP, /* [m x n] -> [m x 1] */
	AG_SEGLSE,    /* [m x n], k column segments -> [k x m], transposed */
	AG_SEGSOFTMAX, /* [1 x n]: softmax within each of k segments */
	AG_SEGMEAN,   /* weights [1 x n], points [n x d], k segments -> [k x d] */
	AG_GYROMEAN,  /* weights W [g x k], points X [k x d] -> [g x d] */
	AG_PAIRMEAN,  /* scores S [1 x L], X [L x d] -> [P x d], P = L(L-1)/2 */
	AG_PAIRMIN,   /* X [L x d] -> [P x d], element-wise min of each pair */
	AG_PAIRAVG,   /* X [L x d] -> [P x d], (x_i + x_j) / 2 */
	AG_CONCAT,    /* rows of X then rows of Y */
	AG_BOXDIST,   /* C, Lm [g or 1 x d], V [g x d] -> [g x 1] */
	AG_XENT,      /* D [n x 1] -> [1 x 1]: -log softmax(-D)[0] */
	AG_OP_COUNT
} ag_op;

typedef struct ag_node ag_node;
struct ag_node {
	ag_op op;
	ag_node *in[3];
	size_t rows, cols;
	float *val;
	float *grad; /* NULL when nothing upstream needs a gradient */
	float f;     /* scalar argument: SCALE factor, BOXDIST gamma */
	ag_param *param;     /* LEAF of a parameter, GATHER */
	const uint32_t *ids; /* GATHER rows, SEG* segment bounds (copied
				into the arena) */
	float *aux;  /* LOGSUMEXP, SEGLSE: softmax of each row (segment),
			kept for backward */
	double *kept; /* GYROMEAN, SEGMEAN: geo_means_kept's forward values; EXP0,
			 LOG0: each row's radial factors, for backward */
};

typedef struct ag_chunk ag_chunk;

typedef struct ag_tape {
	geo_space space;
	int want_grad;    /* record gradients? */
	ag_chunk *chunks; /* arena: newest first */
	size_t used;      /* bytes used in the newest chunk */
	size_t high;      /* bytes used by the largest step so far */
	ag_node **nodes;
	size_t nnodes, cap_nodes;
	int failed;       /* an allocation failed: results are garbage */
	ag_node fail_node; /* what constructors return after a failure */
	size_t allocations; /* heap allocations made, for the tests */
} ag_tape;

void ag_tape_init(ag_tape *t, const geo_space *space, int want_grad);
/* Forget the nodes, keep the memory (one chunk as large as the largest
 * step so far). */
void ag_tape_reset(ag_tape *t);
void ag_tape_free(ag_tape *t);

/* Constructors run the forward computation immediately.  On allocation
 * failure they set t->failed and return a node with zeroed storage so that
 * callers can finish the step and check failed once. */
ag_node *ag_param_leaf(ag_tape *t, ag_param *p);
ag_node *ag_const(ag_tape *t, size_t rows, size_t cols, const float *val);
ag_node *ag_gather(ag_tape *t, ag_param *table, const uint32_t *ids,
		   size_t n);
ag_node *ag_matmul_nt(ag_tape *t, ag_node *a, ag_node *b);
ag_node *ag_matmul_nn(ag_tape *t, ag_node *a, ag_node *b);
ag_node *ag_add(ag_tape *t, ag_node *x, ag_node *y);
ag_node *ag_add_row(ag_tape *t, ag_node *x, ag_node *b);
ag_node *ag_mul(ag_tape *t, ag_node *x, ag_node *y);
ag_node *ag_scale(ag_tape *t, ag_node *x, float f);
ag_node *ag_unary(ag_tape *t, ag_op op, ag_node *x); /* TANH..CLIP0 */
ag_node *ag_softmax(ag_tape *t, ag_node *x);
ag_node *ag_logsumexp(ag_tape *t, ag_node *x);
/* The log-sum-exp of every row of x within each of k column segments
 * [off[s], off[s + 1]) (off[0] = 0, off[k] = x->cols), transposed:
 * out[s][r] = log sum_{j in segment s} exp x[r][j], as [k x rows].  The
 * query-title grids of k titles side by side in one x (one gemm), each
 * title's logsumexp over its own trigrams. */
ag_node *ag_seglse(ag_tape *t, ag_node *x, const uint32_t *off, size_t k);
/* Segments of a row, [off[s], off[s + 1]) as for ag_seglse: the softmax
 * within each segment of the [1 x n] x, and the gyro mean of each
 * segment's points of x [n x d] with that segment's weights of w [1 x n],
 * as [k x d].  The titles of an example side by side: each title's
 * attention and point in one node for all of them. */
ag_node *ag_segsoftmax(ag_tape *t, ag_node *x, const uint32_t *off, size_t k);
ag_node *ag_segmean(ag_tape *t, ag_node *w, ag_node *x, const uint32_t *off,
		    size_t k);
ag_node *ag_gyromean(ag_tape *t, ag_node *w, ag_node *x);
ag_node *ag_pairmean(ag_tape *t, ag_node *s, ag_node *x);
ag_node *ag_pairmin(ag_tape *t, ag_node *x);
ag_node *ag_pairavg(ag_tape *t, ag_node *x);
ag_node *ag_concat(ag_tape *t, ag_node *x, ag_node *y);
ag_node *ag_boxdist(ag_tape *t, ag_node *c, ag_node *l, ag_node *v,
		    float gamma);
ag_node *ag_xent(ag_tape *t, ag_node *d);

/* A point of the tape to come back to: everything recorded after it is
 * forgotten by ag_tape_rewind (the reranker builds a query once and many
 * titles against it). */
typedef struct ag_mark {
	ag_chunk *chunk;
	size_t used, nnodes;
} ag_mark;

ag_mark ag_tape_mark(const ag_tape *t);
void ag_tape_rewind(ag_tape *t, ag_mark m);

/* Seed d(out)/d(out) = 1 for the scalar `out` and run every backward rule
 * in reverse order, accumulating into the parameters' gradients. */
void ag_backward(ag_tape *t, ag_node *out);

/* Raw arena memory for callers' per-step scratch (zeroed, 64-aligned). */
void *ag_alloc(ag_tape *t, size_t bytes);

/* Number of pairs i < j among n. */
static inline size_t ag_pairs(size_t n) { return n * (n - 1) / 2; }

#endif
