/* The ANTHEM network, steps 2 to 7 of docs/network.md, on the tape. */
#include "layers/layers.h"

#include "common/hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ------------------------------------------------------------ */

static const char *const names[P_COUNT] = {
	"query_centre", "query_limit", "title_point",
	"inter_att_W", "inter_att_b", "inter_att_u",
	"inter_pre_W", "inter_pre_b", "inter_post_W", "inter_post_b",
	"query_att_W", "query_att_b", "query_att_u",
	"title_att_W", "title_att_b", "title_att_u",
	"cross_W",
	"lexical_weight", "lexical_idf", "lexical_avgdl",
};

int ath_param_learned(int i)
{
	return i != P_LEX_IDF && i != P_LEX_AVGDL;
}

void ath_param_shape(const anthem_model_config *cfg, int i, size_t *rows,
		     size_t *cols)
{
	size_t d = cfg->dim;
	*cols = d; /* every parameter is d wide (h = d) */
	switch (i) {
	case P_QUERY_CENTRE:
	case P_QUERY_LIMIT:
		*rows = cfg->buckets;
		break;
	case P_TITLE_POINT: /* empty when titles share the query table */
		*rows = cfg->tie_embeddings ? 0 : ath_title_buckets(cfg);
		break;
	case P_INTER_ATT_W: case P_QUERY_ATT_W: case P_TITLE_ATT_W:
	case P_CROSS_W: case P_INTER_PRE_W: case P_INTER_POST_W:
		*rows = d;
		break;
	case P_LEX_W: case P_LEX_AVGDL: /* scalars */
		*cols = 1;
		*rows = cfg->lexical_buckets ? 1 : 0;
		break;
	case P_LEX_IDF: /* one idf per word bucket */
		*cols = 1;
		*rows = cfg->lexical_buckets;
		break;
	default: /* biases and attention vectors */
		*rows = 1;
	}
}

size_t ath_param_floats(const anthem_model_config *cfg)
{
	size_t total = 0;
	for (int i = 0; i < P_COUNT; i++) {
		size_t r, c;
		ath_param_shape(cfg, i, &r, &c);
		total += r * c;
	}
	return total;
}

void ath_params_bind(const anthem_model_config *cfg, float *block,
		     float *grad, ag_param params[P_COUNT])
{
	size_t off = 0;
	for (int i = 0; i < P_COUNT; i++) {
		ag_param *p = &params[i];
		memset(p, 0, sizeof *p);
		p->name = names[i];
		ath_param_shape(cfg, i, &p->rows, &p->cols);
		p->val = block ? block + off : NULL;
		p->grad = grad ? grad + off : NULL;
		off += p->rows * p->cols;
	}
}

/* splitmix64 (Steele, Lea, Flood 2014): a small, seedable, well-mixed
 * stream, enough for initial weights. */
static uint64_t splitmix(uint64_t *s)
{
	return ath_hash_finish(*s += ATH_SPLITMIX_GAMMA);
}

static float uniform(uint64_t *s, double lo, double hi)
{
	return (float)(lo + (hi - lo) * (double)(splitmix(s) >> 11) * 0x1p-53);
}

void ath_params_init(const anthem_model_config *cfg, float *block)
{
	ag_param p[P_COUNT];
	ath_params_bind(cfg, block, NULL, p);
	uint64_t s = cfg->seed;
	double d = (double)cfg->dim;
	for (int i = 0; i < P_COUNT; i++) {
		size_t n = p[i].rows * p[i].cols;
		double lo, hi;
		switch (i) {
		case P_QUERY_CENTRE: case P_TITLE_POINT:
			lo = -0.1, hi = 0.1;
			break;
		case P_QUERY_LIMIT:
			lo = -3.5, hi = -2.5;
			break;
		case P_LEX_W: /* a small start: the geometry learns first what
				 the words alone do not say */
			lo = hi = 0.1;
			break;
		case P_LEX_AVGDL: /* until the trainer fits it */
			lo = hi = 1.0;
			break;
		case P_INTER_ATT_B: case P_QUERY_ATT_B: case P_TITLE_ATT_B:
		case P_INTER_PRE_B: case P_INTER_POST_B: case P_LEX_IDF:
			lo = hi = 0.0;
			break;
		case P_INTER_ATT_U: case P_QUERY_ATT_U: case P_TITLE_ATT_U:
			hi = sqrt(6.0 / (d + 1.0)), lo = -hi;
			break;
		default: /* d x d matrices: Glorot uniform */
			hi = sqrt(6.0 / (2.0 * d)), lo = -hi;
		}
		for (size_t k = 0; k < n; k++)
			p[i].val[k] = lo == hi ? (float)lo : uniform(&s, lo, hi);
	}
}

/* ---- layers ------------------------------------------------------------------ */

#define LEAF(i) ag_param_leaf(t, &params[(i)])

/* score(X) = u . tanh(X W^T + b), one score per row of X, as [1 x rows] */
static ag_node *attention(ag_tape *t, ag_param *params, int W, ag_node *x)
{
	ag_node *h = ag_add_row(t, ag_matmul_nt(t, x, LEAF(W)), LEAF(W + 1));
	return ag_matmul_nt(t, LEAF(W + 2), ag_unary(t, AG_TANH, h));
}

void ath_net_query(ag_tape *t, const anthem_model_config *cfg,
		   ag_param *params, const uint32_t *ids, size_t L,
		   ath_query *q)
{
	size_t d = cfg->dim, P = ag_pairs(L);
	int vector = cfg->geometry == ANTHEM_GEOMETRY_VECTOR;
	q->L = L;
	q->E = L + P;
	/* log0 of a point that is exp0 of a parameter is that parameter
	 * (clipped where exp0 projects): AG_CLIP0, not a log0 after the
	 * exp0, wherever the network needs both */
	ag_node *G = ag_gather(t, &params[P_QUERY_CENTRE], ids, L);
	ag_node *C = ag_unary(t, AG_EXP0, G), *logC = ag_unary(t, AG_CLIP0, G);
	ag_node *Lm = NULL, *S = NULL;
	if (!vector) {
		S = ag_unary(t, AG_SOFTPLUS,
			     ag_gather(t, &params[P_QUERY_LIMIT], ids, L));
		Lm = ag_unary(t, AG_EXP0, S);
	}
	if (P > 0) {
		/* step 3: pairwise intersections with shared weights */
		ag_node *a = attention(t, params, P_INTER_ATT_W, logC);
		ag_node *Cp = ag_pairmean(t, a, C);
		C = ag_concat(t, C, Cp);
		logC = ag_concat(t, logC, ag_unary(t, AG_LOG0, Cp));
		if (!vector) {
			ag_node *H = ag_unary(t, AG_RELU,
				ag_add_row(t, ag_matmul_nt(t, ag_unary(t, AG_CLIP0, S),
							   LEAF(P_INTER_PRE_W)),
					   LEAF(P_INTER_PRE_B)));
			ag_node *shrink = ag_unary(t, AG_SIGMOID,
				ag_add_row(t, ag_matmul_nt(t, ag_pairavg(t, H),
							   LEAF(P_INTER_POST_W)),
					   LEAF(P_INTER_POST_B)));
			Lm = ag_concat(t, Lm, ag_mul(t, ag_pairmin(t, Lm), shrink));
		}
	}
	if (vector)
		Lm = ag_const(t, q->E, d, NULL);
	q->C = C;
	q->Lm = Lm;
	q->logC = logC;
	q->s = attention(t, params, P_QUERY_ATT_W, q->logC);
	/* step 4's query factor, once per query rather than once per title
	 * (and scaled here: E x d values, not E x T per title) */
	q->X = ag_scale(t, ag_matmul_nt(t, q->logC, LEAF(P_CROSS_W)),
			(float)(1.0 / sqrt((double)d)));
	/* step 6, stage 1 */
	ag_node *alpha = ag_softmax(t, q->s);
	q->c1 = ag_gyromean(t, alpha, C);
	q->l1 = ag_matmul_nn(t, alpha, Lm);
}

typedef struct scored {
	float s;
	uint32_t e;
} scored;

/* highest score first, then the earlier element: a total order */
static int by_score(const void *pa, const void *pb)
{
	const scored *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s < b->s ? 1 : -1;
	return (a->e > b->e) - (a->e < b->e);
}

static ag_node *rows_of(ag_tape *t, const ag_node *x, const uint32_t *keep,
			size_t n)
{
	ag_node *o = ag_const(t, n, x->cols, NULL);
	for (size_t k = 0; !t->failed && k < n; k++)
		memcpy(o->val + k * x->cols, x->val + keep[k] * x->cols,
		       x->cols * sizeof *o->val);
	return o;
}

void ath_net_query_prune(ag_tape *t, ath_query *q, size_t keep)
{
	size_t E = q->E;
	if (!keep || E <= keep || t->failed)
		return;
	scored *by = ag_alloc(t, E * sizeof *by);
	uint32_t *kept = ag_alloc(t, E * sizeof *kept);
	unsigned char *on = ag_alloc(t, E);
	if (!by || !kept || !on)
		return; /* the tape failed: the caller reports it */
	for (size_t e = 0; e < E; e++)
		by[e] = (scored){q->s->val[e], (uint32_t)e};
	qsort(by, E, sizeof *by, by_score);
	memset(on, 0, E);
	for (size_t k = 0; k < keep; k++)
		on[by[k].e] = 1;
	size_t n = 0;
	for (size_t e = 0; e < E; e++)
		if (on[e])
			kept[n++] = (uint32_t)e;
	ag_node *s = ag_const(t, 1, n, NULL);
	for (size_t k = 0; !t->failed && k < n; k++)
		s->val[k] = q->s->val[kept[k]];
	q->X = rows_of(t, q->X, kept, n);
	q->C = rows_of(t, q->C, kept, n);
	q->logC = rows_of(t, q->logC, kept, n);
	q->Lm = rows_of(t, q->Lm, kept, n);
	q->s = s;
	q->E = n;
}

void ath_net_titles(ag_tape *t, const anthem_model_config *cfg,
		    ag_param *params, const uint32_t *const *ids,
		    const size_t *T, size_t n, ath_title *ti)
{
	int table = cfg->tie_embeddings ? P_QUERY_CENTRE : P_TITLE_POINT;
	size_t total = 0;
	for (size_t k = 0; k < n; k++)
		total += T[k];
	/* the n titles' trigrams one after the other: one node per layer
	 * for all of them, each title's attention and mean on its own rows */
	uint32_t *off = ag_alloc(t, (n + 1) * sizeof *off);
	uint32_t *all = ag_alloc(t, (total ? total : 1) * sizeof *all);
	ti->n = n;
	ti->T = total;
	ti->off = off;
	if (!off || !all) { /* the tape failed: its fail node everywhere */
		ti->P = ti->logP = ti->v = ag_const(t, total, cfg->dim, NULL);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		off[k + 1] = off[k] + (uint32_t)T[k];
		memcpy(all + off[k], ids[k], T[k] * sizeof *all);
	}
	ag_node *G = ag_gather(t, &params[table], all, total);
	ti->P = ag_unary(t, AG_EXP0, G);
	ti->logP = ag_unary(t, AG_CLIP0, G);
	ag_node *rho = ag_segsoftmax(t, attention(t, params, P_TITLE_ATT_W,
						   ti->logP), off, n);
	ti->v = ag_segmean(t, rho, ti->P, off, n);
}

void ath_net_title(ag_tape *t, const anthem_model_config *cfg,
		   ag_param *params, const uint32_t *ids, size_t T,
		   ath_title *ti)
{
	ath_net_titles(t, cfg, params, &ids, &T, 1, ti);
}

/* Steps 4 to 6 for the titles of ti: the query-title attention, each
 * title's title-conditioned query hyperboloid (c2, l2) and the distance
 * of its point to it.  The n titles' grids are one [E x sum T] product
 * (one gemm, not n small ones), each title's logsumexp over its own
 * columns.  The one stage-2 forward pass: training's loss (the positive
 * and the negatives of an example), the pipeline's rerank and the model's
 * score and explanation (one title) all call it. */
ag_node *ath_net_stage2(ag_tape *t, const anthem_model_config *cfg,
			ag_param *params, const ath_query *q,
			const ath_title *ti, ath_stage2 *out)
{
	(void)params;
	out->A = ag_matmul_nt(t, q->X, ti->logP);
	/* [n x E]: row k, title k's logsumexp for every query element */
	ag_node *beta = ag_softmax(t, ag_add_row(t, ag_seglse(t, out->A, ti->off,
							       ti->n),
						  q->s));
	out->c2 = ag_gyromean(t, beta, q->C);
	out->l2 = ag_matmul_nn(t, beta, q->Lm);
	return ag_boxdist(t, out->c2, out->l2, ti->v, cfg->gamma);
}

ag_node *ath_net_loss_query(ag_tape *t, const anthem_model_config *cfg,
			    ag_param *params, const ath_query *q,
			    const uint32_t *const *tids, const size_t *T,
			    const float *lex, size_t n, float scale,
			    ag_node **d1_out, ag_node **d2_out)
{
	ath_title ti;
	ath_stage2 s2;
	ath_net_titles(t, cfg, params, tids, T, n, &ti);
	ag_node *D2 = ath_net_stage2(t, cfg, params, q, &ti, &s2);
	ag_node *D1 = ag_boxdist(t, q->c1, q->l1, ti.v, cfg->gamma);
	if (lex && cfg->lexical_buckets) {
		/* step 8: d - w * bm25, for both stages */
		ag_node *wm = ag_scale(t, ag_matmul_nn(t, ag_const(t, n, 1, lex),
						       LEAF(P_LEX_W)), -1.0f);
		D1 = ag_add(t, D1, wm);
		D2 = ag_add(t, D2, wm);
	}
	if (d1_out)
		*d1_out = D1;
	if (d2_out)
		*d2_out = D2;
	if (scale != 1.0f) {
		D1 = ag_scale(t, D1, scale);
		D2 = ag_scale(t, D2, scale);
	}
	return ag_add(t, ag_xent(t, D1), ag_xent(t, D2));
}

ag_node *ath_net_loss(ag_tape *t, const anthem_model_config *cfg,
		      ag_param *params, const uint32_t *qids, size_t L,
		      const uint32_t *const *tids, const size_t *T, size_t n,
		      float scale, ag_node **d1_out, ag_node **d2_out)
{
	ath_query q;
	ath_net_query(t, cfg, params, qids, L, &q);
	return ath_net_loss_query(t, cfg, params, &q, tids, T, NULL, n, scale,
				  d1_out, d2_out);
}
