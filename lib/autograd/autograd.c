/* The tape, its arena and one forward and one backward rule per op. */
#include "autograd/autograd.h"
#include "autograd/vmath.h"
#include "common/isa.h"

#include <blis.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64
#define ARENA_MIN_CHUNK ((size_t)1 << 16)
/* Below this many multiply-adds the column kernel beats BLIS's packing:
 * every product of a training step at d = 16 and 32 (the largest, the
 * query-title grid of five titles, is about 60 x 160 x 32) */
#define GEMM_BLIS_MIN ((size_t)1 << 22)

/* Rows of a trigram table are scattered over megabytes: ask for a row a
 * few iterations before it is used, so that gathers and gradient
 * scatters overlap their cache misses. */
#define PREFETCH_AHEAD 4
#if defined(__GNUC__)
#define prefetch(p) __builtin_prefetch(p)
#else
#define prefetch(p) ((void)(p))
#endif

struct ag_chunk {
	ag_chunk *next;
	size_t size;
	size_t step_used; /* bytes used by the current step in older chunks */
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

/* ---- arena ---------------------------------------------------------------- */

static int push_chunk(ag_tape *t, size_t size)
{
	ag_chunk *c = malloc(sizeof *c + size);
	if (!c) {
		t->failed = 1;
		return -1;
	}
	t->allocations++;
	c->size = size;
	c->step_used = t->chunks ? t->chunks->step_used + t->used : 0;
	c->next = t->chunks;
	t->chunks = c;
	t->used = 0;
	return 0;
}

/* ag_alloc without the zeroing, for storage its user writes whole */
static void *alloc_raw(ag_tape *t, size_t bytes)
{
	bytes = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (!t->chunks || t->chunks->size - t->used < bytes) {
		size_t want = t->chunks ? 2 * t->chunks->size : ARENA_MIN_CHUNK;
		if (want < bytes)
			want = bytes;
		if (push_chunk(t, want))
			return NULL;
	}
	void *p = t->chunks->data + t->used;
	t->used += bytes;
	return p;
}

void *ag_alloc(ag_tape *t, size_t bytes)
{
	void *p = alloc_raw(t, bytes);
	if (p)
		memset(p, 0, bytes);
	return p;
}

void ag_tape_init(ag_tape *t, const geo_space *space, int want_grad)
{
	memset(t, 0, sizeof *t);
	t->space = *space;
	t->want_grad = want_grad;
}

static void free_chunks(ag_tape *t)
{
	while (t->chunks) {
		ag_chunk *n = t->chunks->next;
		free(t->chunks);
		t->chunks = n;
	}
	t->used = 0;
}

void ag_tape_reset(ag_tape *t)
{
	size_t total = t->chunks ? t->chunks->step_used + t->used : 0;
	if (total > t->high)
		t->high = total;
	/* after a step that needed several chunks, replace them by one that
	 * holds the largest step: the next steps then allocate nothing */
	if (t->chunks && (t->chunks->next || t->chunks->size < t->high)) {
		free_chunks(t);
		push_chunk(t, t->high + t->high / 4);
	}
	if (t->chunks)
		t->chunks->step_used = 0;
	t->used = 0;
	t->nnodes = 0;
	t->failed = 0;
}

ag_mark ag_tape_mark(const ag_tape *t)
{
	return (ag_mark){t->chunks, t->used, t->nnodes};
}

void ag_tape_rewind(ag_tape *t, ag_mark m)
{
	/* chunks pushed since the mark go (the step's size stays recorded
	 * in their step_used for ag_tape_reset's sizing) */
	while (t->chunks && t->chunks != m.chunk) {
		ag_chunk *n = t->chunks->next;
		size_t total = t->chunks->step_used + t->used;
		if (total > t->high)
			t->high = total;
		free(t->chunks);
		t->chunks = n;
		t->used = n ? n->size : 0;
	}
	t->used = m.used;
	t->nnodes = m.nnodes;
	t->failed = 0;
}

void ag_tape_free(ag_tape *t)
{
	free_chunks(t);
	free(t->nodes);
	memset(t, 0, sizeof *t);
}

void ag_param_zero_grad(ag_param *p)
{
	if (!p->grad)
		return;
	if (!p->touched) {
		memset(p->grad, 0, p->rows * p->cols * sizeof(float));
		return;
	}
	for (size_t i = 0; i < p->ntouched; i++) {
		uint32_t r = p->touched[i];
		memset(p->grad + (size_t)r * p->cols, 0, p->cols * sizeof(float));
		p->mark[r] = 0;
	}
	p->ntouched = 0;
}

/* ---- nodes ------------------------------------------------------------------ */

/* On allocation failure a constructor returns the tape's fail node (no
 * storage, val NULL) and sets t->failed; every constructor checks failed
 * before it reads its inputs, so a failed step runs to its end cheaply and
 * is discarded once. */
static ag_node *fail(ag_tape *t, size_t rows, size_t cols)
{
	t->failed = 1;
	t->fail_node = (ag_node){.op = AG_LEAF, .rows = rows, .cols = cols};
	return &t->fail_node;
}

static ag_node *new_node_g(ag_tape *t, ag_op op, size_t rows, size_t cols,
			   ag_node *a, ag_node *b, ag_node *c, int grad)
{
	if (t->failed)
		return fail(t, rows, cols);
	if (t->nnodes == t->cap_nodes) {
		size_t cap = t->cap_nodes ? 2 * t->cap_nodes : 256;
		ag_node **n = realloc(t->nodes, cap * sizeof *n);
		if (!n)
			return fail(t, rows, cols);
		t->allocations++;
		t->nodes = n;
		t->cap_nodes = cap;
	}
	ag_node *n = ag_alloc(t, sizeof *n);
	size_t count = rows * cols;
	/* every op but a constant writes its whole value (a zeroing per
	 * node was a measurable share of a step) */
	float *val = !n ? NULL
		     : op == AG_LEAF ? ag_alloc(t, count * sizeof(float))
				     : alloc_raw(t, count * sizeof(float));
	float *g = grad && val ? ag_alloc(t, count * sizeof(float)) : NULL;
	if (!n || !val || (grad && !g))
		return fail(t, rows, cols);
	n->op = op;
	n->in[0] = a;
	n->in[1] = b;
	n->in[2] = c;
	n->rows = rows;
	n->cols = cols;
	n->val = val;
	n->grad = g;
	t->nodes[t->nnodes++] = n;
	return n;
}

static ag_node *new_node(ag_tape *t, ag_op op, size_t rows, size_t cols,
			 ag_node *a, ag_node *b, ag_node *c)
{
	int grad = t->want_grad && ((a && a->grad) || (b && b->grad) ||
				    (c && c->grad));
	return new_node_g(t, op, rows, cols, a, b, c, grad);
}

static size_t numel(const ag_node *n) { return n->rows * n->cols; }

ag_node *ag_param_leaf(ag_tape *t, ag_param *p)
{
	ag_node *n = ag_alloc(t, sizeof *n);
	if (!n)
		return fail(t, p->rows, p->cols);
	n->op = AG_LEAF;
	n->rows = p->rows;
	n->cols = p->cols;
	n->val = p->val;
	n->grad = t->want_grad ? p->grad : NULL;
	n->param = p;
	return n; /* leaves need no backward: not on the node list */
}

ag_node *ag_const(ag_tape *t, size_t rows, size_t cols, const float *val)
{
	ag_node *n = new_node(t, AG_LEAF, rows, cols, NULL, NULL, NULL);
	if (val && !t->failed)
		memcpy(n->val, val, rows * cols * sizeof(float));
	return n;
}

ag_node *ag_gather(ag_tape *t, ag_param *table, const uint32_t *ids,
		   size_t n)
{
	ag_node *o = new_node_g(t, AG_GATHER, n, table->cols, NULL, NULL, NULL,
				t->want_grad && table->grad);
	uint32_t *copy = t->failed ? NULL : ag_alloc(t, n * sizeof *copy);
	if (!copy)
		return fail(t, n, table->cols);
	memcpy(copy, ids, n * sizeof *copy);
	o->param = table;
	o->ids = copy;
	for (size_t r = 0; r < n; r++) {
		if (r + PREFETCH_AHEAD < n)
			prefetch(table->val + (size_t)ids[r + PREFETCH_AHEAD] *
						      table->cols);
		memcpy(o->val + r * table->cols,
		       table->val + (size_t)ids[r] * table->cols,
		       table->cols * sizeof(float));
	}
	return o;
}

/* y += a x over n floats.  Blocks of eight with a fixed inner loop: at -O2
 * GCC's cheap vectoriser leaves a loop of unknown length scalar, but turns
 * the unrolled block into vector code (restrict: the rows never overlap). */
static inline void axpy(size_t n, float a, const float *restrict x,
			float *restrict y)
{
	size_t j = 0;
	for (; j + 8 <= n; j += 8)
		for (size_t q = 0; q < 8; q++)
			y[j + q] += a * x[j + q];
	for (; j < n; j++)
		y[j] += a * x[j];
}


/* C[i][j] += sum_p A(i, p) B[p][j] for i < m, j < n, p < k, where
 * A(i, p) = A[i * ai + p * ap] (a row-major A or a transposed one) and the
 * rows of B and C are ldb and ldc apart.  Sixteen columns of two rows of C
 * stay in named vector sums across the whole p loop (GCC -O2 keeps an
 * array of sums in memory), so that each row of B is loaded once for four
 * rows of C: the network's products are d = 16 or 32 wide, where BLIS's
 * packing and its OpenMP entry cost more than the multiply-adds (a quarter
 * of a training step went through bli_sgemm).  Each element of C is the
 * same sum in the same order in every per-level copy below and in every
 * branch, so the result does not depend on the machine, ANTHEM_ISA or on
 * where j falls. */
#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

INLINE void kernel_body(size_t m, size_t n, size_t k, const float *A,
			size_t ai, size_t ap, const float *restrict B,
			size_t ldb, float *restrict C, size_t ldc)
{
	size_t i = 0;
#if VM_VECTOR
	typedef float f8 __attribute__((vector_size(32)));
	/* four rows: eight independent sums, enough to hide the adds'
	 * latency when n is 16 */
	for (; i + 4 <= m; i += 4) {
		const float *a0 = A + i * ai, *a1 = a0 + ai, *a2 = a1 + ai,
			    *a3 = a2 + ai;
		float *c0 = C + i * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc,
		      *c3 = c2 + ldc;
		size_t j = 0;
		for (; j + 16 <= n; j += 16) {
			f8 s00, s01, s10, s11, s20, s21, s30, s31, b0, b1;
			memcpy(&s00, c0 + j, 32);
			memcpy(&s01, c0 + j + 8, 32);
			memcpy(&s10, c1 + j, 32);
			memcpy(&s11, c1 + j + 8, 32);
			memcpy(&s20, c2 + j, 32);
			memcpy(&s21, c2 + j + 8, 32);
			memcpy(&s30, c3 + j, 32);
			memcpy(&s31, c3 + j + 8, 32);
			for (size_t p = 0; p < k; p++) {
				const float *b = B + p * ldb + j;
				float x0 = a0[p * ap], x1 = a1[p * ap],
				      x2 = a2[p * ap], x3 = a3[p * ap];
				memcpy(&b0, b, 32);
				memcpy(&b1, b + 8, 32);
				s00 += x0 * b0;
				s01 += x0 * b1;
				s10 += x1 * b0;
				s11 += x1 * b1;
				s20 += x2 * b0;
				s21 += x2 * b1;
				s30 += x3 * b0;
				s31 += x3 * b1;
			}
			memcpy(c0 + j, &s00, 32);
			memcpy(c0 + j + 8, &s01, 32);
			memcpy(c1 + j, &s10, 32);
			memcpy(c1 + j + 8, &s11, 32);
			memcpy(c2 + j, &s20, 32);
			memcpy(c2 + j + 8, &s21, 32);
			memcpy(c3 + j, &s30, 32);
			memcpy(c3 + j + 8, &s31, 32);
		}
		for (; j + 8 <= n; j += 8) {
			f8 s0, s1, s2, s3, b0;
			memcpy(&s0, c0 + j, 32);
			memcpy(&s1, c1 + j, 32);
			memcpy(&s2, c2 + j, 32);
			memcpy(&s3, c3 + j, 32);
			for (size_t p = 0; p < k; p++) {
				memcpy(&b0, B + p * ldb + j, 32);
				s0 += a0[p * ap] * b0;
				s1 += a1[p * ap] * b0;
				s2 += a2[p * ap] * b0;
				s3 += a3[p * ap] * b0;
			}
			memcpy(c0 + j, &s0, 32);
			memcpy(c1 + j, &s1, 32);
			memcpy(c2 + j, &s2, 32);
			memcpy(c3 + j, &s3, 32);
		}
		for (; j < n; j++) {
			float s0 = c0[j], s1 = c1[j], s2 = c2[j], s3 = c3[j];
			for (size_t p = 0; p < k; p++) {
				float b = B[p * ldb + j];
				s0 += a0[p * ap] * b;
				s1 += a1[p * ap] * b;
				s2 += a2[p * ap] * b;
				s3 += a3[p * ap] * b;
			}
			c0[j] = s0;
			c1[j] = s1;
			c2[j] = s2;
			c3[j] = s3;
		}
	}
	for (; i + 2 <= m; i += 2) {
		const float *a0 = A + i * ai, *a1 = a0 + ai;
		float *c0 = C + i * ldc, *c1 = c0 + ldc;
		size_t j = 0;
		for (; j + 16 <= n; j += 16) {
			f8 s00, s01, s10, s11, b0, b1;
			memcpy(&s00, c0 + j, 32);
			memcpy(&s01, c0 + j + 8, 32);
			memcpy(&s10, c1 + j, 32);
			memcpy(&s11, c1 + j + 8, 32);
			for (size_t p = 0; p < k; p++) {
				const float *b = B + p * ldb + j;
				float x0 = a0[p * ap], x1 = a1[p * ap];
				memcpy(&b0, b, 32);
				memcpy(&b1, b + 8, 32);
				s00 += x0 * b0;
				s01 += x0 * b1;
				s10 += x1 * b0;
				s11 += x1 * b1;
			}
			memcpy(c0 + j, &s00, 32);
			memcpy(c0 + j + 8, &s01, 32);
			memcpy(c1 + j, &s10, 32);
			memcpy(c1 + j + 8, &s11, 32);
		}
		for (; j < n; j++) {
			float s0 = c0[j], s1 = c1[j];
			for (size_t p = 0; p < k; p++) {
				s0 += a0[p * ap] * B[p * ldb + j];
				s1 += a1[p * ap] * B[p * ldb + j];
			}
			c0[j] = s0;
			c1[j] = s1;
		}
	}
	for (; i < m; i++) {
		const float *a = A + i * ai;
		float *c = C + i * ldc;
		size_t j = 0;
		for (; j + 8 <= n; j += 8) {
			f8 s0, b0;
			memcpy(&s0, c + j, 32);
			for (size_t p = 0; p < k; p++) {
				memcpy(&b0, B + p * ldb + j, 32);
				s0 += a[p * ap] * b0;
			}
			memcpy(c + j, &s0, 32);
		}
		for (; j < n; j++) {
			float s0 = c[j];
			for (size_t p = 0; p < k; p++)
				s0 += a[p * ap] * B[p * ldb + j];
			c[j] = s0;
		}
	}
#else
	for (; i < m; i++) {
		const float *a = A + i * ai;
		float *c = C + i * ldc;
		for (size_t j = 0; j < n; j++) {
			float acc = c[j];
			for (size_t p = 0; p < k; p++)
				acc += a[p * ap] * B[p * ldb + j];
			c[j] = acc;
		}
	}
#endif
}

/* One copy of the kernel per x86-64 level (lib/common/isa.h), all
 * rounding alike: this file is built without contraction. */
typedef void kernel_fn(size_t, size_t, size_t, const float *, size_t,
		       size_t, const float *restrict, size_t, float *restrict,
		       size_t);
#define KERNEL(sfx, attr)                                                    \
	attr static void kernel_##sfx(size_t m, size_t n, size_t k,          \
				      const float *A, size_t ai, size_t ap,  \
				      const float *restrict B, size_t ldb,   \
				      float *restrict C, size_t ldc)         \
	{                                                                    \
		kernel_body(m, n, k, A, ai, ap, B, ldb, C, ldc);             \
	}
KERNEL(base, )
#if defined(ATH_HAVE_TARGET_LEVELS)
KERNEL(v3, __attribute__((target("arch=x86-64-v3"))))
KERNEL(v4, __attribute__((target("arch=x86-64-v4"))))
static kernel_fn *const kernels[] = {
	[ATH_ISA_DEFAULT] = kernel_base,
	[ATH_ISA_V3] = kernel_v3,
	[ATH_ISA_V4] = kernel_v4,
};
#else
static kernel_fn *const kernels[] = {[ATH_ISA_DEFAULT] = kernel_base};
#endif

/* vmath.h's exp and tanh once per level as well: their eight-lane vectors
 * are one AVX register at v3 / v4, two SSE ones in the baseline copy; the
 * same operations on every lane, so the same bits. */
typedef void vmath_fn(size_t, const float *, float *);
#define VMATH(sfx, attr)                                                     \
	attr static void exp_##sfx(size_t n, const float *x, float *y)       \
	{                                                                    \
		vm_exp(n, x, y);                                             \
	}                                                                    \
	attr static void tanh_##sfx(size_t n, const float *x, float *y)      \
	{                                                                    \
		vm_tanh(n, x, y);                                            \
	}
VMATH(base, )
#if defined(ATH_HAVE_TARGET_LEVELS) && VM_VECTOR
VMATH(v3, __attribute__((target("arch=x86-64-v3"))))
VMATH(v4, __attribute__((target("arch=x86-64-v4"))))
static vmath_fn *const exps[] = {
	[ATH_ISA_DEFAULT] = exp_base, [ATH_ISA_V3] = exp_v3,
	[ATH_ISA_V4] = exp_v4};
static vmath_fn *const tanhs[] = {
	[ATH_ISA_DEFAULT] = tanh_base, [ATH_ISA_V3] = tanh_v3,
	[ATH_ISA_V4] = tanh_v4};
#define VEXP exps[ath_isa_level()]
#define VTANH tanhs[ath_isa_level()]
#else
#define VEXP exp_base
#define VTANH tanh_base
#endif

/* B^T tiles for the kernel, on the stack (16 KiB) */
#define GEMM_TILE 4096

/* sum of x[p] y[p], eight running sums that the compiler vectorises */
static float dot(size_t k, const float *x, const float *y)
{
	float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	size_t p = 0;
	for (; p + 8 <= k; p += 8)
		for (size_t q = 0; q < 8; q++)
			acc[q] += x[p + q] * y[p + q];
	float sum = 0.0f;
	for (; p < k; p++)
		sum += x[p] * y[p];
	return sum + (((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		      ((acc[2] + acc[6]) + (acc[3] + acc[7])));
}

/* C (m x n) = op(A) op(B) + beta C, row-major; op(A) is m x k: A is stored
 * k x m when ta.  BLIS only for products far larger than the network's
 * (and for both operands transposed, which the tape never asks for). */
static void gemm(int ta, int tb, size_t m, size_t n, size_t k,
		 const float *A, const float *B, float beta, float *C)
{
	if (m * n * k >= GEMM_BLIS_MIN || (tb && k > GEMM_TILE / 16) ||
	    (ta && tb)) {
		float one = 1.0f;
		bli_sgemm(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
			  tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, (dim_t)m,
			  (dim_t)n, (dim_t)k, &one, (float *)A,
			  ta ? (inc_t)m : (inc_t)k, 1, (float *)B,
			  tb ? (inc_t)k : (inc_t)n, 1, &beta, C, (inc_t)n, 1);
		return;
	}
	if (beta == 0.0f)
		memset(C, 0, m * n * sizeof *C); /* as BLIS: C is not read */
	else if (beta != 1.0f)
		for (size_t i = 0; i < m * n; i++)
			C[i] *= beta;
	size_t ai = ta ? 1 : k, ap = ta ? m : 1;
	kernel_fn *kernel = kernels[ath_isa_level()];
	if (!tb) {
		kernel(m, n, k, A, ai, ap, B, n, C, n);
		return;
	}
	if (m < 4 && !ta) { /* the attention vector against rows: dots */
		for (size_t i = 0; i < m; i++)
			for (size_t j = 0; j < n; j++)
				C[i * n + j] += dot(k, A + i * k, B + j * k);
		return;
	}
	/* B is n x k: transpose column tiles of op(B) = B^T into k x nb */
	float bt[GEMM_TILE];
	size_t nb = GEMM_TILE / k;
	for (size_t j0 = 0; j0 < n; j0 += nb) {
		size_t w = n - j0 < nb ? n - j0 : nb;
		for (size_t j = 0; j < w; j++)
			for (size_t p = 0; p < k; p++)
				bt[p * w + j] = B[(j0 + j) * k + p];
		kernel(m, w, k, A, ai, ap, bt, w, C + j0, n);
	}
}

ag_node *ag_matmul_nt(ag_tape *t, ag_node *a, ag_node *b)
{
	ag_node *o = new_node(t, AG_MATMUL_NT, a->rows, b->rows, a, b, NULL);
	if (!t->failed)
		gemm(0, 1, a->rows, b->rows, a->cols, a->val, b->val, 0.0f,
		     o->val);
	return o;
}

ag_node *ag_matmul_nn(ag_tape *t, ag_node *a, ag_node *b)
{
	ag_node *o = new_node(t, AG_MATMUL_NN, a->rows, b->cols, a, b, NULL);
	if (!t->failed)
		gemm(0, 0, a->rows, b->cols, a->cols, a->val, b->val, 0.0f,
		     o->val);
	return o;
}

ag_node *ag_add(ag_tape *t, ag_node *x, ag_node *y)
{
	ag_node *o = new_node(t, AG_ADD, x->rows, x->cols, x, y, NULL);
	for (size_t i = 0; !t->failed && i < numel(x); i++)
		o->val[i] = x->val[i] + y->val[i];
	return o;
}

ag_node *ag_add_row(ag_tape *t, ag_node *x, ag_node *b)
{
	ag_node *o = new_node(t, AG_ADD_ROW, x->rows, x->cols, x, b, NULL);
	for (size_t r = 0; !t->failed && r < x->rows; r++)
		for (size_t j = 0; j < x->cols; j++)
			o->val[r * x->cols + j] = x->val[r * x->cols + j] + b->val[j];
	return o;
}

ag_node *ag_mul(ag_tape *t, ag_node *x, ag_node *y)
{
	ag_node *o = new_node(t, AG_MUL, x->rows, x->cols, x, y, NULL);
	for (size_t i = 0; !t->failed && i < numel(x); i++)
		o->val[i] = x->val[i] * y->val[i];
	return o;
}

ag_node *ag_scale(ag_tape *t, ag_node *x, float f)
{
	ag_node *o = new_node(t, AG_SCALE, x->rows, x->cols, x, NULL, NULL);
	o->f = f;
	for (size_t i = 0; !t->failed && i < numel(x); i++)
		o->val[i] = f * x->val[i];
	return o;
}

static float softplus(float x)
{
	/* log(1 + e^x) without overflow: x + log1p(e^-x) for large x */
	return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

ag_node *ag_unary(ag_tape *t, ag_op op, ag_node *x)
{
	ag_node *o = new_node(t, op, x->rows, x->cols, x, NULL, NULL);
	if (t->failed)
		return o;
	size_t n = numel(x), d = x->cols;
	/* exp0 and log0 keep their radial factors for backward (a double
	 * tanh or artanh per row, again in backward, was a few per cent of a
	 * step) */
	if ((op == AG_EXP0 || op == AG_LOG0) && o->grad) {
		o->kept = ag_alloc(t, 2 * x->rows * sizeof(double));
		if (!o->kept)
			return fail(t, x->rows, x->cols);
	}
	for (size_t r = 0; (op == AG_EXP0 || op == AG_LOG0 || op == AG_CLIP0) &&
			   r < x->rows; r++) {
		if (op == AG_EXP0 && o->kept)
			geo_exp0_kept(&t->space, d, x->val + r * d,
				      o->val + r * d, o->kept + 2 * r);
		else if (op == AG_EXP0)
			geo_exp0(&t->space, d, x->val + r * d, o->val + r * d);
		else if (op == AG_LOG0 && o->kept)
			geo_log0_kept(&t->space, d, x->val + r * d,
				      o->val + r * d, o->kept + 2 * r);
		else if (op == AG_LOG0)
			geo_log0(&t->space, d, x->val + r * d, o->val + r * d);
		else
			geo_clip0(&t->space, d, x->val + r * d, o->val + r * d);
	}
	if (op == AG_TANH) /* the attention layers: many, vectorised */
		VTANH(n, x->val, o->val);
	for (size_t i = 0; op != AG_TANH && i < n; i++) {
		float v = x->val[i];
		switch (op) {
		case AG_SIGMOID: o->val[i] = sigmoid(v); break;
		case AG_RELU: o->val[i] = v > 0.0f ? v : 0.0f; break;
		case AG_SOFTPLUS: o->val[i] = softplus(v); break;
		default: break;
		}
	}
	return o;
}

/* max of x[0..n), eight running maxima so that the loop vectorises
 * (a single one is a chain of dependent compares) */
static float row_max(size_t n, const float *x)
{
	float m8[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
		       -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	size_t j = 0;
	for (; j + 8 <= n; j += 8)
		for (size_t q = 0; q < 8; q++)
			m8[q] = x[j + q] > m8[q] ? x[j + q] : m8[q];
	float m = -INFINITY;
	for (; j < n; j++)
		m = x[j] > m ? x[j] : m;
	for (size_t q = 0; q < 8; q++)
		m = m8[q] > m ? m8[q] : m;
	return m;
}

/* sum of x[0..n) in double, four running sums (one is a chain of
 * dependent additions) */
static double row_sum(size_t n, const float *x)
{
	double s4[4] = {0.0, 0.0, 0.0, 0.0};
	size_t j = 0;
	for (; j + 4 <= n; j += 4)
		for (size_t q = 0; q < 4; q++)
			s4[q] += x[j + q];
	double s = (s4[0] + s4[2]) + (s4[1] + s4[3]);
	for (; j < n; j++)
		s += x[j];
	return s;
}

/* e[j] = exp(x[j] - m), in place when e == x */
static void exp_shifted(size_t n, const float *x, float m, float *e)
{
	for (size_t j = 0; j < n; j++)
		e[j] = x[j] - m;
	VEXP(n, e, e);
}

static void softmax_row(size_t n, const float *x, float *y)
{
	exp_shifted(n, x, row_max(n, x), y);
	double s = row_sum(n, y);
	for (size_t j = 0; j < n; j++)
		y[j] = (float)(y[j] / s);
}

ag_node *ag_softmax(ag_tape *t, ag_node *x)
{
	ag_node *o = new_node(t, AG_SOFTMAX, x->rows, x->cols, x, NULL, NULL);
	for (size_t r = 0; !t->failed && r < x->rows; r++)
		softmax_row(x->cols, x->val + r * x->cols, o->val + r * x->cols);
	return o;
}

/* log sum exp x, summed in double; with p not NULL also the softmax of x
 * there (the exponentials are computed anyway).  The terms are float
 * exponentials (vmath.h, within an ulp) of float arguments <= 0: a double
 * exp per cell of the query-title grid was a fifth of a training step. */
static float logsumexp_row_p(size_t n, const float *x, float *p)
{
	float m = row_max(n, x);
	float buf[64];
	double s = 0.0;
	for (size_t j0 = 0; j0 < n; j0 += 64) {
		size_t len = n - j0 < 64 ? n - j0 : 64;
		float *e = p ? p + j0 : buf;
		exp_shifted(len, x + j0, m, e);
		s += row_sum(len, e);
	}
	float inv = (float)(1.0 / s); /* one division, not one per element */
	for (size_t j = 0; p && j < n; j++)
		p[j] *= inv;
	return (float)(m + log(s));
}

static float logsumexp_row(size_t n, const float *x)
{
	return logsumexp_row_p(n, x, NULL);
}

ag_node *ag_logsumexp(ag_tape *t, ag_node *x)
{
	ag_node *o = new_node(t, AG_LOGSUMEXP, x->rows, 1, x, NULL, NULL);
	/* keep the softmax for backward rather than recompute one expf per
	 * element there: the query-title grid is the largest softmax of a
	 * step */
	if (!t->failed && o->grad)
		o->aux = ag_alloc(t, x->rows * x->cols * sizeof(float));
	if (!t->failed && o->grad && !o->aux)
		return fail(t, x->rows, 1);
	for (size_t r = 0; !t->failed && r < x->rows; r++)
		o->val[r] = logsumexp_row_p(x->cols, x->val + r * x->cols,
					    o->aux ? o->aux + r * x->cols : NULL);
	return o;
}

/* the bounds of k segments, into the arena; NULL when the tape failed */
static const uint32_t *copy_bounds(ag_tape *t, const uint32_t *off, size_t k)
{
	uint32_t *copy = t->failed ? NULL : alloc_raw(t, (k + 1) * sizeof *copy);
	if (copy)
		memcpy(copy, off, (k + 1) * sizeof *copy);
	return copy;
}

ag_node *ag_seglse(ag_tape *t, ag_node *x, const uint32_t *off, size_t k)
{
	size_t m = x->rows, n = x->cols;
	ag_node *o = new_node(t, AG_SEGLSE, k, m, x, NULL, NULL);
	o->ids = copy_bounds(t, off, k);
	if (!o->ids)
		return fail(t, k, m);
	if (o->grad) /* written whole below */
		o->aux = alloc_raw(t, m * n * sizeof(float));
	if (t->failed || (o->grad && !o->aux))
		return fail(t, k, m);
	/* without gradients, one row's exponentials in the arena: the same
	 * operations either way, so inference gives training's values */
	float *row = o->aux ? NULL : alloc_raw(t, n * sizeof(float));
	if (!o->aux && !row)
		return fail(t, k, m);
	for (size_t r = 0; r < m; r++) {
		const float *xr = x->val + r * n;
		float *pr = o->aux ? o->aux + r * n : row;
		/* each segment shifted by its own maximum (so that a title's
		 * values do not depend on the others beside it), then one
		 * pass of vector exponentials over the whole row and each
		 * segment's sum: a call per segment of 20 to 32 cells was
		 * mostly loop ends */
		for (size_t s = 0; s < k; s++) {
			size_t j0 = off[s], len = off[s + 1] - j0;
			float mx = row_max(len, xr + j0);
			for (size_t j = j0; j < j0 + len; j++)
				pr[j] = xr[j] - mx;
			o->val[s * m + r] = mx;
		}
		VEXP(n, pr, pr);
		for (size_t s = 0; s < k; s++) {
			size_t j0 = off[s], len = off[s + 1] - j0;
			double sum = row_sum(len, pr + j0);
			float inv = (float)(1.0 / sum);
			for (size_t j = j0; j < j0 + len; j++)
				pr[j] *= inv;
			o->val[s * m + r] = (float)(o->val[s * m + r] + log(sum));
		}
	}
	return o;
}

ag_node *ag_gyromean(ag_tape *t, ag_node *w, ag_node *x)
{
	size_t d = x->cols, k = x->rows;
	ag_node *o = new_node(t, AG_GYROMEAN, w->rows, d, w, x, NULL);
	/* the forward's values that backward would compute again (the
	 * stage-2 means run over every query element, for every title),
	 * kept also without gradients: inference's means are few */
	if (!t->failed)
		o->kept = ag_alloc(t, geo_means_keep_size(w->rows, k, d) *
					      sizeof(double));
	if (!t->failed && !o->kept)
		return fail(t, w->rows, d);
	if (!t->failed)
		geo_means_kept(&t->space, w->rows, k, d, w->val, x->val,
			       o->val, o->kept);
	return o;
}

ag_node *ag_segsoftmax(ag_tape *t, ag_node *x, const uint32_t *off, size_t k)
{
	ag_node *o = new_node(t, AG_SEGSOFTMAX, 1, x->cols, x, NULL, NULL);
	o->ids = copy_bounds(t, off, k);
	if (!o->ids)
		return fail(t, 1, x->cols);
	o->f = (float)k;
	for (size_t s = 0; s < k; s++)
		softmax_row(off[s + 1] - off[s], x->val + off[s], o->val + off[s]);
	return o;
}

ag_node *ag_segmean(ag_tape *t, ag_node *w, ag_node *x, const uint32_t *off,
		    size_t k)
{
	size_t d = x->cols;
	ag_node *o = new_node(t, AG_SEGMEAN, k, d, w, x, NULL);
	o->ids = copy_bounds(t, off, k);
	/* segment s keeps its len lambdas and d + 2 values at
	 * off[s] + s (d + 2) */
	if (o->ids)
		o->kept = ag_alloc(t, (x->rows + k * (d + 2)) * sizeof(double));
	if (!o->ids || !o->kept)
		return fail(t, k, d);
	for (size_t s = 0; s < k; s++)
		geo_means_kept(&t->space, 1, off[s + 1] - off[s], d,
			       w->val + off[s], x->val + off[s] * d,
			       o->val + s * d, o->kept + off[s] + s * (d + 2));
	return o;
}

/* Pairs (i, j), i < j, in the order (0,1), (0,2), ..., (1,2), ... */
#define FOR_PAIRS(L, i, j, p)                                                  \
	for (size_t i = 0, p = 0; i < (L); i++)                                \
		for (size_t j = i + 1; j < (L); j++, p++)

ag_node *ag_pairmean(ag_tape *t, ag_node *s, ag_node *x)
{
	size_t L = x->rows, d = x->cols;
	ag_node *o = new_node(t, AG_PAIRMEAN, ag_pairs(L), d, s, x, NULL);
	float *two = ag_alloc(t, 2 * d * sizeof(float));
	if (t->failed || !two)
		return o;
	FOR_PAIRS(L, i, j, p) {
		float sc[2] = {s->val[i], s->val[j]}, w[2];
		softmax_row(2, sc, w);
		memcpy(two, x->val + i * d, d * sizeof(float));
		memcpy(two + d, x->val + j * d, d * sizeof(float));
		geo_mean(&t->space, 2, d, w, two, o->val + p * d);
	}
	return o;
}

ag_node *ag_pairmin(ag_tape *t, ag_node *x)
{
	size_t L = x->rows, d = x->cols;
	ag_node *o = new_node(t, AG_PAIRMIN, ag_pairs(L), d, x, NULL, NULL);
	if (t->failed)
		return o;
	FOR_PAIRS(L, i, j, p)
		for (size_t q = 0; q < d; q++)
			o->val[p * d + q] = fminf(x->val[i * d + q], x->val[j * d + q]);
	return o;
}

ag_node *ag_pairavg(ag_tape *t, ag_node *x)
{
	size_t L = x->rows, d = x->cols;
	ag_node *o = new_node(t, AG_PAIRAVG, ag_pairs(L), d, x, NULL, NULL);
	if (t->failed)
		return o;
	FOR_PAIRS(L, i, j, p)
		for (size_t q = 0; q < d; q++)
			o->val[p * d + q] =
				0.5f * (x->val[i * d + q] + x->val[j * d + q]);
	return o;
}

ag_node *ag_concat(ag_tape *t, ag_node *x, ag_node *y)
{
	ag_node *o = new_node(t, AG_CONCAT, x->rows + y->rows, x->cols, x, y,
			      NULL);
	if (t->failed)
		return o;
	memcpy(o->val, x->val, numel(x) * sizeof(float));
	memcpy(o->val + numel(x), y->val, numel(y) * sizeof(float));
	return o;
}

ag_node *ag_boxdist(ag_tape *t, ag_node *c, ag_node *l, ag_node *v,
		    float gamma)
{
	size_t d = v->cols;
	ag_node *o = new_node(t, AG_BOXDIST, v->rows, 1, c, l, v);
	o->f = gamma;
	for (size_t r = 0; !t->failed && r < v->rows; r++) {
		size_t cr = c->rows == 1 ? 0 : r;
		o->val[r] = geo_box_dist(&t->space, d, c->val + cr * d,
					 l->val + cr * d, v->val + r * d,
					 gamma, NULL, NULL);
	}
	return o;
}

ag_node *ag_xent(ag_tape *t, ag_node *dist)
{
	ag_node *o = new_node(t, AG_XENT, 1, 1, dist, NULL, NULL);
	float *neg = ag_alloc(t, numel(dist) * sizeof(float));
	if (t->failed || !neg)
		return o;
	for (size_t k = 0; k < numel(dist); k++)
		neg[k] = -dist->val[k];
	/* -log(exp(-d0) / sum exp(-dk)) = d0 + logsumexp(-d) */
	o->val[0] = dist->val[0] + logsumexp_row(numel(dist), neg);
	return o;
}

/* ---- backward rules ------------------------------------------------------ */

static void mark_row(ag_param *p, uint32_t r)
{
	if (p->mark && !p->mark[r]) {
		p->mark[r] = 1;
		p->touched[p->ntouched++] = r;
	}
}

static void backward_node(ag_tape *t, ag_node *n)
{
	ag_node *a = n->in[0], *b = n->in[1], *c = n->in[2];
	const float *g = n->grad;
	size_t cnt = numel(n), d = n->cols;
	const geo_space *sp = &t->space;
	switch (n->op) {
	case AG_LEAF:
		break;
	case AG_GATHER: {
		ag_param *p = n->param;
		for (size_t r = 0; r < n->rows; r++) {
			float *dst = p->grad + (size_t)n->ids[r] * p->cols;
			if (r + PREFETCH_AHEAD < n->rows)
				prefetch(p->grad + (size_t)n->ids[r + PREFETCH_AHEAD] *
						   p->cols);
			for (size_t q = 0; q < d; q++)
				dst[q] += g[r * d + q];
			mark_row(p, n->ids[r]);
		}
		break;
	}
	case AG_MATMUL_NT: /* C = A B^T: gA += gC B, gB += gC^T A */
		if (a->grad)
			gemm(0, 0, a->rows, a->cols, b->rows, g, b->val, 1.0f, a->grad);
		if (b->grad)
			gemm(1, 0, b->rows, b->cols, a->rows, g, a->val, 1.0f, b->grad);
		break;
	case AG_MATMUL_NN: /* C = A B: gA += gC B^T, gB += A^T gC */
		if (a->grad)
			gemm(0, 1, a->rows, a->cols, b->cols, g, b->val, 1.0f, a->grad);
		if (b->grad)
			gemm(1, 0, b->rows, b->cols, a->rows, a->val, g, 1.0f, b->grad);
		break;
	case AG_ADD:
		for (size_t i = 0; a->grad && i < cnt; i++)
			a->grad[i] += g[i];
		for (size_t i = 0; b->grad && i < cnt; i++)
			b->grad[i] += g[i];
		break;
	case AG_ADD_ROW: /* row by row: an i % d per element cost more than
			    the additions */
		for (size_t i = 0; a->grad && i < cnt; i++)
			a->grad[i] += g[i];
		for (size_t r = 0; b->grad && r < n->rows; r++)
			axpy(d, 1.0f, g + r * d, b->grad);
		break;
	case AG_MUL:
		for (size_t i = 0; a->grad && i < cnt; i++)
			a->grad[i] += g[i] * b->val[i];
		for (size_t i = 0; b->grad && i < cnt; i++)
			b->grad[i] += g[i] * a->val[i];
		break;
	case AG_SCALE:
		for (size_t i = 0; i < cnt; i++)
			a->grad[i] += n->f * g[i];
		break;
	case AG_TANH:
		for (size_t i = 0; i < cnt; i++)
			a->grad[i] += g[i] * (1.0f - n->val[i] * n->val[i]);
		break;
	case AG_SIGMOID:
		for (size_t i = 0; i < cnt; i++)
			a->grad[i] += g[i] * n->val[i] * (1.0f - n->val[i]);
		break;
	case AG_RELU:
		for (size_t i = 0; i < cnt; i++)
			a->grad[i] += a->val[i] > 0.0f ? g[i] : 0.0f;
		break;
	case AG_SOFTPLUS:
		for (size_t i = 0; i < cnt; i++)
			a->grad[i] += g[i] * sigmoid(a->val[i]);
		break;
	case AG_EXP0:
	case AG_LOG0:
		for (size_t r = 0; r < n->rows; r++)
			geo_radial_backward_kept(sp, d, a->val + r * d,
						 n->kept + 2 * r, g + r * d,
						 a->grad + r * d);
		break;
	case AG_CLIP0:
		for (size_t r = 0; r < n->rows; r++)
			geo_clip0_backward(sp, d, a->val + r * d, g + r * d,
					   a->grad + r * d);
		break;
	case AG_SOFTMAX: /* gx = y (g - <g, y>) per row */
		for (size_t r = 0; r < n->rows; r++) {
			const float *y = n->val + r * d, *gr = g + r * d;
			double dot = 0.0;
			for (size_t q = 0; q < d; q++)
				dot += (double)gr[q] * y[q];
			for (size_t q = 0; q < d; q++)
				a->grad[r * d + q] += (float)(y[q] * (gr[q] - dot));
		}
		break;
	case AG_LOGSUMEXP: /* gx = g softmax(x) per row */
		for (size_t r = 0; r < n->rows; r++)
			axpy(a->cols, g[r], n->aux + r * a->cols,
			     a->grad + r * a->cols);
		break;
	case AG_SEGLSE: /* gx[r][j] = g[s][r] softmax_s(x[r])[j] */
		for (size_t r = 0; r < a->rows; r++)
			for (size_t s = 0; s < n->rows; s++) {
				size_t j0 = n->ids[s], len = n->ids[s + 1] - j0;
				axpy(len, g[s * a->rows + r],
				     n->aux + r * a->cols + j0,
				     a->grad + r * a->cols + j0);
			}
		break;
	case AG_SEGSOFTMAX: /* gx = y (g - <g, y>) per segment */
		for (size_t s = 0; s < (size_t)n->f; s++) {
			size_t j0 = n->ids[s], len = n->ids[s + 1] - j0;
			const float *y = n->val + j0, *gr = g + j0;
			double dot = 0.0;
			for (size_t q = 0; q < len; q++)
				dot += (double)gr[q] * y[q];
			for (size_t q = 0; q < len; q++)
				a->grad[j0 + q] += (float)(y[q] * (gr[q] - dot));
		}
		break;
	case AG_SEGMEAN:
		for (size_t s = 0; s < n->rows; s++) {
			size_t j0 = n->ids[s], len = n->ids[s + 1] - j0;
			geo_means_backward_kept(
				sp, 1, len, d, a->val + j0, b->val + j0 * d,
				n->kept + j0 + s * (d + 2), g + s * d,
				a->grad ? a->grad + j0 : NULL,
				b->grad ? b->grad + j0 * d : NULL);
		}
		break;
	case AG_GYROMEAN:
		geo_means_backward_kept(sp, n->rows, b->rows, d, a->val, b->val,
					n->kept, g, a->grad, b->grad);
		break;
	case AG_PAIRMEAN: {
		float *two = ag_alloc(t, 4 * d * sizeof(float));
		if (!two)
			break;
		float *gtwo = two + 2 * d;
		FOR_PAIRS(b->rows, i, j, p) {
			float sc[2] = {a->val[i], a->val[j]}, w[2], gw[2] = {0, 0};
			softmax_row(2, sc, w);
			memcpy(two, b->val + i * d, d * sizeof(float));
			memcpy(two + d, b->val + j * d, d * sizeof(float));
			memset(gtwo, 0, 2 * d * sizeof(float));
			geo_mean_backward(sp, 2, d, w, two, g + p * d, gw,
					  b->grad ? gtwo : NULL);
			if (a->grad) {
				float dot = w[0] * gw[0] + w[1] * gw[1];
				a->grad[i] += w[0] * (gw[0] - dot);
				a->grad[j] += w[1] * (gw[1] - dot);
			}
			for (size_t q = 0; b->grad && q < d; q++) {
				b->grad[i * d + q] += gtwo[q];
				b->grad[j * d + q] += gtwo[d + q];
			}
		}
		break;
	}
	case AG_PAIRMIN:
		FOR_PAIRS(a->rows, i, j, p)
			for (size_t q = 0; q < d; q++) {
				size_t src = a->val[i * d + q] <= a->val[j * d + q] ? i : j;
				a->grad[src * d + q] += g[p * d + q];
			}
		break;
	case AG_PAIRAVG:
		FOR_PAIRS(a->rows, i, j, p)
			for (size_t q = 0; q < d; q++) {
				a->grad[i * d + q] += 0.5f * g[p * d + q];
				a->grad[j * d + q] += 0.5f * g[p * d + q];
			}
		break;
	case AG_CONCAT: /* two plain loops: a branch per element was most of
			   the op's time */
		for (size_t i = 0; a->grad && i < numel(a); i++)
			a->grad[i] += g[i];
		for (size_t i = 0; b->grad && i < numel(b); i++)
			b->grad[i] += g[numel(a) + i];
		break;
	case AG_BOXDIST:
		d = c->cols;
		for (size_t r = 0; r < n->rows; r++) {
			size_t cr = a->rows == 1 ? 0 : r;
			geo_box_dist_backward(
				sp, d, a->val + cr * d, b->val + cr * d,
				c->val + r * d, n->f, g[r],
				a->grad ? a->grad + cr * d : NULL,
				b->grad ? b->grad + cr * d : NULL,
				c->grad ? c->grad + r * d : NULL);
		}
		break;
	case AG_XENT: { /* gD_k = g (1[k = 0] - softmax(-D)_k) */
		size_t m = numel(a);
		float lse = n->val[0] - a->val[0];
		for (size_t k = 0; k < m; k++)
			a->grad[k] += g[0] * ((k == 0) - expf(-a->val[k] - lse));
		break;
	}
	case AG_OP_COUNT:
		break;
	}
}

void ag_backward(ag_tape *t, ag_node *out)
{
	if (t->failed || !out->grad)
		return;
	out->grad[0] = 1.0f;
	for (size_t i = t->nnodes; i-- > 0;)
		if (t->nodes[i]->grad)
			backward_node(t, t->nodes[i]);
}
