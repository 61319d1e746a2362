/* The trainer: synchronous data-parallel Adam over query-product examples
 * with uniform and mined hard negatives, held-out early stopping, and
 * checkpoints that make a resumed run end exactly where an uninterrupted
 * one would.
 *
 * Determinism: every random draw is a function of (seed, epoch, example),
 * never of which thread runs it; each worker owns a fixed slice of every
 * batch and its own gradient buffer, and the buffers are summed in worker
 * order.  So a seed, the options, the data and the thread count fix the
 * model.
 *
 * Over several processes (anthem_trainer_set_comm, docs/distributed.md)
 * rank r of R runs the examples r, r + R, ... of each global batch (split
 * over its own workers as above), every rank sums the gradients of all
 * ranks in rank order and takes the same Adam step: the same model as one
 * process, up to the order of the float sums. */
#include "train/optim.h"
#include "train/selfsup.h"
#include "train/trainer.h"

#include "common/internal.h"
#include "common/parallel.h"
#include "model/modelfile.h"
#include "io/tsv.h"
#include "layers/lexical.h"
#include "search/rank.h"
#include "search/scan.h"
#include "eval/eval_internal.h"

#include <anthem/train.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char ckpt_magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'C', 'K'};

#define MAX_NEG 64
#define MAX_THREADS 64

int anthem_train_options_init_size(anthem_train_options *dst, size_t size)
{
	anthem_train_options full, *o = &full;
	memset(o, 0, sizeof *o);
	o->epochs = 10;
	o->batch = 32;
	o->negatives = 4;
	o->hard_negatives = 4;
	o->hard_pool = 64;
	o->lr = 0.01f;
	o->lr_decay = 0.85f;
	o->warmup = 100;
	o->seed = 1;
	o->valid_frac = 0.1f;
	o->patience = 2;
	o->logit_scale = 10.0f;
	return ath_init_struct(dst, size, o, sizeof *o,
			       "anthem_train_options_init");
}

typedef struct example {
	uint32_t query, product;
} example;

/* the tables whose touched rows travel between ranks */
#define X_TABLES 3 /* P_QUERY_CENTRE, P_QUERY_LIMIT, P_TITLE_POINT */

typedef struct worker {
	ag_tape tape;
	ag_param params[P_COUNT]; /* the model's values, own gradients */
	float *grad;
	double loss;
	size_t count;
} worker;

struct anthem_trainer {
	anthem_train_options opt;
	const anthem_catalog *cat;
	const anthem_judgments *jud;
	ath_selfsup ss;      /* pseudo-queries (and the judgements) when on */
	anthem_model *model; /* the weights being trained */
	anthem_model *best;  /* a copy of the best so far */
	float *adam_m, *adam_v;
	double *master;      /* float64_tables: the weights in float64 */
	uint64_t step;       /* Adam steps taken */
	size_t epoch;        /* epochs completed */
	double best_valid;
	size_t bad_epochs;
	int stopped;
	uint64_t data_fp;
	char *checkpoint;    /* our copy of opt.checkpoint */
	/* examples, by query split */
	example *train, *valid;
	size_t ntrain, nvalid;
	/* token caches */
	uint32_t *qtok, *ttok;
	size_t *qoff, *toff;
	/* the lexical term (step 8): the catalogue's postings and each
	 * query's words */
	ath_postings post;
	ath_lexq *lexq;
	/* product points of the current weights, for mining hard negatives */
	float *points;
	int have_points;      /* points are of the current weights */
	size_t nthreads;
	worker w[MAX_THREADS];
	size_t touched_cap;
	/* data parallelism over ranks (anthem_trainer_set_comm) */
	anthem_train_comm comm;
	int have_comm;
	int cancel_pending;   /* a progress callback asked to stop */
	unsigned char *xsend, *xrecv, *xown;
	size_t xsend_cap, xrecv_cap, xown_cap;
	size_t *xlens;
	/* over more than one rank, rank r runs Adam on the table rows
	 * r = id mod ranks (docs/distributed.md): its rows whose moments
	 * moved since they were last sent to every rank, and whether any
	 * did (then only the owners' moments are current) */
	uint8_t *dirty[X_TABLES];
	int spread;
};

/* ---- randomness: a pure function of (seed, epoch, item, draw) ----------- */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t draw(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	return mix(seed ^ mix(a + 0x9e3779b97f4a7c15ULL * (b + 1) +
			      0xd1b54a32d192ed03ULL * (c + 1)));
}

/* ---- data preparation --------------------------------------------------- */

static int is_positive(const anthem_judgments *j, size_t q, size_t p)
{
	const size_t *prod;
	const int *grade;
	size_t n;
	anthem_judgments_get(j, q, &prod, &grade, &n);
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prod[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && prod[lo] == p && grade[lo] >= 1;
}

/* The lexical term's statistics are the catalogue's: fitted into the
 * model here (the same values on a resumed run), before any step. */
static int prepare_lexical(anthem_trainer *t, const char *fn)
{
	const anthem_model_config *cfg = &t->model->cfg;
	if (!ath_lex_on(cfg))
		return ANTHEM_OK;
	int rc = ath_postings_build(&t->post, cfg,
				    (const char *const *)t->cat->titles,
				    t->cat->n, fn);
	if (rc)
		return rc;
	ath_lex_fit(&t->post, t->model->params);
	t->lexq = malloc((t->jud->nq + 1) * sizeof *t->lexq);
	if (!t->lexq)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t q = 0; q < t->jud->nq; q++)
		ath_lex_query(cfg, t->model->params, t->jud->queries[q],
			      &t->lexq[q]);
	return ANTHEM_OK;
}

static int prepare(anthem_trainer *t, const char *fn)
{
	const anthem_judgments *j = t->jud;
	const anthem_catalog *c = t->cat;
	const anthem_model_config *cfg = &t->model->cfg;
	size_t npos = 0;
	for (size_t i = 0; i < j->n; i++)
		npos += j->grades[i] >= 1;
	t->train = malloc((npos + 1) * sizeof *t->train);
	t->valid = malloc((npos + 1) * sizeof *t->valid);
	t->qoff = malloc((j->nq + 1) * sizeof *t->qoff);
	t->qtok = malloc((j->nq * cfg->max_query_trigrams + 1) * sizeof *t->qtok);
	t->toff = malloc((c->n + 1) * sizeof *t->toff);
	t->points = malloc((c->n + 1) * cfg->dim * sizeof *t->points);
	if (!t->train || !t->valid || !t->qoff || !t->qtok || !t->toff ||
	    !t->points)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	/* held-out queries: a hash of the query text, so the split does not
	 * depend on file order */
	for (size_t q = 0; q < j->nq; q++) {
		const char *s = j->queries[q];
		uint64_t h = ath_checksum((const unsigned char *)s, strlen(s));
		int held = (double)(draw(t->opt.seed, h, 0, 0) >> 11) * 0x1p-53 <
			   t->opt.valid_frac;
		for (size_t i = j->start[q]; i < j->start[q + 1]; i++) {
			if (j->grades[i] < 1)
				continue;
			example e = {(uint32_t)q, (uint32_t)j->products[i]};
			if (held)
				t->valid[t->nvalid++] = e;
			else
				t->train[t->ntrain++] = e;
		}
	}
	if (t->ntrain == 0)
		return ath_error(ANTHEM_EINVAL, "%s: no training example (no "
				 "judgement of grade >= 1 outside the held-out "
				 "queries)", fn);
	t->qoff[0] = 0;
	for (size_t q = 0; q < j->nq; q++)
		t->qoff[q + 1] = t->qoff[q] +
				 ath_model_tokens(t->model, j->queries[q], 0,
						  t->qtok + t->qoff[q], NULL);
	/* titles: tokenised once, in one array */
	size_t cap = c->n * 16 + 1024, used = 0;
	t->ttok = malloc(cap * sizeof *t->ttok);
	uint32_t *tmp = malloc(cfg->max_title_trigrams * sizeof *tmp);
	for (size_t i = 0; t->ttok && tmp && i < c->n; i++) {
		size_t n = ath_model_tokens(t->model, c->titles[i], 1, tmp, NULL);
		if (used + n > cap) {
			cap = 2 * cap + n;
			uint32_t *b = realloc(t->ttok, cap * sizeof *b);
			if (!b) {
				free(t->ttok);
				t->ttok = NULL;
				break;
			}
			t->ttok = b;
		}
		t->toff[i] = used;
		memcpy(t->ttok + used, tmp, n * sizeof *tmp);
		used += n;
	}
	free(tmp);
	if (!t->ttok)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	t->toff[c->n] = used;
	return prepare_lexical(t, fn);
}

static int setup_workers(anthem_trainer *t, const char *fn)
{
	size_t n = t->model->nweights;
	t->nthreads = ath_threads(t->opt.threads);
	if (t->nthreads > MAX_THREADS)
		t->nthreads = MAX_THREADS;
	t->touched_cap = t->model->cfg.buckets;
	for (size_t k = 0; k < t->nthreads; k++) {
		worker *w = &t->w[k];
		w->grad = ath_calloc_large(n, sizeof(float));
		if (!w->grad)
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory for "
					 "gradients", fn);
		ath_params_bind(&t->model->cfg, t->model->owned, w->grad,
				w->params);
		for (int i = P_QUERY_CENTRE; i <= P_TITLE_POINT; i++) {
			ag_param *p = &w->params[i];
			p->touched = malloc(p->rows * sizeof *p->touched);
			p->mark = calloc(p->rows, 1);
			if (!p->touched || !p->mark)
				return ath_error(ANTHEM_ENOMEM, "%s: out of memory",
						 fn);
		}
		ag_tape_init(&w->tape, &t->model->space, 1);
	}
	t->adam_m = ath_calloc_large(n, sizeof(float));
	t->adam_v = ath_calloc_large(n, sizeof(float));
	if (!t->adam_m || !t->adam_v)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (t->opt.riemannian_adam &&
	    t->model->cfg.geometry != ANTHEM_GEOMETRY_HYPERBOLIC)
		return ath_error(ANTHEM_EINVAL, "%s: riemannian_adam needs the "
				 "hyperbolic geometry (the flat ones' points "
				 "are their parameters: plain Adam)", fn);
	if (t->opt.float64_tables) {
		t->master = ath_calloc_large(n, sizeof(double));
		if (!t->master)
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		for (size_t k = 0; k < n; k++)
			t->master[k] = t->model->owned[k];
	}
	return ANTHEM_OK;
}

static int copy_model(anthem_model **out, const anthem_model *m,
		      const char *fn)
{
	int rc = ath_model_new(out, &m->cfg, fn);
	if (rc)
		return rc;
	memcpy((*out)->owned, m->owned, m->nweights * sizeof(float));
	(*out)->data_fingerprint = m->data_fingerprint;
	(*out)->fingerprint = ath_model_fingerprint_compute(*out);
	return ANTHEM_OK;
}

static int check_options(anthem_train_options *dst,
			 const anthem_train_options *o, const char *fn)
{
	anthem_train_options_init(dst);
	int rc = ath_read_options(dst, sizeof *dst, o, "anthem_train_options",
				  fn);
	if (rc)
		return rc;
	if (dst->batch < 1 || dst->batch > 65536)
		return ath_error(ANTHEM_ERANGE, "%s: batch is %zu, must be 1 to "
				 "65536", fn, dst->batch);
	if (dst->negatives + dst->hard_negatives < 1 ||
	    dst->negatives + dst->hard_negatives > MAX_NEG)
		return ath_error(ANTHEM_ERANGE, "%s: negatives + hard_negatives "
				 "is %zu, must be 1 to %d", fn,
				 dst->negatives + dst->hard_negatives, MAX_NEG);
	if (dst->hard_negatives > dst->hard_pool)
		return ath_error(ANTHEM_ERANGE, "%s: hard_negatives (%zu) exceeds "
				 "hard_pool (%zu)", fn, dst->hard_negatives,
				 dst->hard_pool);
	if (!(isfinite(dst->lr) && dst->lr > 0.0f) ||
	    !(isfinite(dst->lr_decay) && dst->lr_decay > 0.0f))
		return ath_error(ANTHEM_EINVAL, "%s: lr and lr_decay must be "
				 "finite and > 0", fn);
	if (!(isfinite(dst->logit_scale) && dst->logit_scale > 0.0f))
		return ath_error(ANTHEM_EINVAL, "%s: logit_scale is %g, must be "
				 "finite and > 0", fn, dst->logit_scale);
	if (!(dst->valid_frac >= 0.0f && dst->valid_frac < 1.0f))
		return ath_error(ANTHEM_EINVAL, "%s: valid_frac is %g, must be in "
				 "[0, 1)", fn, dst->valid_frac);
	if ((dst->float64_tables | dst->riemannian_adam) & ~1)
		return ath_error(ANTHEM_EINVAL, "%s: float64_tables and "
				 "riemannian_adam must be 0 or 1 (are %d, %d)",
				 fn, dst->float64_tables, dst->riemannian_adam);
	/* the master copy is not in a checkpoint's tensors (float32) */
	if (dst->float64_tables && dst->riemannian_adam)
		return ath_error(ANTHEM_EINVAL, "%s: float64_tables and "
				 "riemannian_adam are experiments to measure "
				 "one at a time: not both", fn);
	if (dst->float64_tables && dst->checkpoint)
		return ath_error(ANTHEM_EINVAL, "%s: float64_tables cannot be "
				 "checkpointed (its float64 weights would be "
				 "lost): no checkpoint with it", fn);
	return ANTHEM_OK;
}

static int trainer_new(anthem_trainer **out, const anthem_catalog *c,
		       const anthem_judgments *j, const anthem_train_options *o,
		       const char *fn)
{
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(c, fn, "catalog");
	if (!j && !(o && o->struct_size > offsetof(anthem_train_options,
						    pseudo_queries) &&
		    o->pseudo_queries))
		return ath_error(ANTHEM_EINVAL, "%s: judgments must not be NULL "
				 "(unless pseudo_queries > 0)", fn);
	if (j && j->catalog != c)
		return ath_error(ANTHEM_EMISMATCH, "%s: the judgements were read "
				 "against another catalogue", fn);
	anthem_trainer *t = calloc(1, sizeof *t);
	if (!t)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = check_options(&t->opt, o, fn);
	if (rc) {
		free(t);
		return rc;
	}
	if (c->n < 2) {
		free(t);
		return ath_error(ANTHEM_EINVAL, "%s: the catalogue has %zu "
				 "products, training needs at least 2", fn, c->n);
	}
	if (t->opt.checkpoint) {
		/* the caller's string need not outlive this call */
		t->checkpoint = strdup(t->opt.checkpoint);
		if (!t->checkpoint) {
			free(t);
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		}
		t->opt.checkpoint = t->checkpoint;
		/* a checkpoint that cannot be written must be found now, not
		 * after the first epoch (which may take hours) */
		if ((rc = ath_container_probe(t->checkpoint, fn))) {
			free(t->checkpoint);
			free(t);
			return rc;
		}
	}
	t->cat = c;
	t->jud = j;
	if (t->opt.pseudo_queries) {
		/* the trainer's own judgements: the spans, then j */
		if ((rc = ath_selfsup_build(c, j, t->opt.pseudo_queries,
					    t->opt.seed, &t->ss, fn))) {
			free(t->checkpoint);
			free(t);
			return rc;
		}
		t->jud = t->ss.jud;
	}
	t->data_fp = mix(c->fingerprint ^ mix(t->jud->fingerprint));
	t->best_valid = INFINITY;
	*out = t;
	return ANTHEM_OK;
}

static int finish_setup(anthem_trainer *t, const char *fn)
{
	int rc = prepare(t, fn);
	if (!rc)
		rc = setup_workers(t, fn);
	if (!rc && !t->best)
		rc = copy_model(&t->best, t->model, fn);
	return rc;
}

int anthem_trainer_create(anthem_trainer **out, const anthem_model_config *cfg,
			  const anthem_catalog *c, const anthem_judgments *j,
			  const anthem_train_options *o)
{
	static const char fn[] = "anthem_trainer_create";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	anthem_trainer *t;
	int rc = trainer_new(&t, c, j, o, fn);
	if (rc)
		return rc;
	rc = anthem_model_create(&t->model, cfg);
	if (!rc) {
		t->model->data_fingerprint = t->data_fp;
		rc = finish_setup(t, fn);
	}
	if (rc) {
		anthem_trainer_free(t);
		return rc;
	}
	*out = t;
	return ANTHEM_OK;
}

void anthem_trainer_free(anthem_trainer *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->nthreads; k++) {
		worker *w = &t->w[k];
		ag_tape_free(&w->tape);
		for (int i = 0; i < P_COUNT; i++) {
			free(w->params[i].touched);
			free(w->params[i].mark);
		}
		free(w->grad);
	}
	anthem_model_free(t->model);
	anthem_model_free(t->best);
	free(t->adam_m);
	free(t->adam_v);
	free(t->master);
	free(t->train);
	free(t->valid);
	free(t->qtok);
	free(t->qoff);
	free(t->ttok);
	free(t->toff);
	free(t->points);
	free(t->lexq);
	ath_postings_free(&t->post);
	ath_selfsup_free(&t->ss);
	free(t->checkpoint);
	free(t->xsend);
	free(t->xrecv);
	free(t->xown);
	for (int i = 0; i < X_TABLES; i++)
		free(t->dirty[i]);
	free(t->xlens);
	free(t);
}

const anthem_model *anthem_trainer_model(const anthem_trainer *t)
{
	return t ? t->best : NULL;
}

size_t anthem_trainer_epoch(const anthem_trainer *t)
{
	return t ? t->epoch : 0;
}

/* ---- one example ---------------------------------------------------------- */

/* Negatives for example e: uniform non-positives, then (when product points
 * are cached) the non-positives of a uniform pool nearest to the query's
 * stage-1 hyperboloid.  Fills neg[], returns how many. */
static size_t negatives(const anthem_trainer *t, uint64_t epoch, size_t idx,
			const example *e, const ath_query *q, size_t *neg,
			int mine)
{
	const anthem_train_options *o = &t->opt;
	size_t n = t->cat->n, k = 0;
	const ath_lexq *lq = t->lexq ? &t->lexq[e->query] : NULL;
	for (uint64_t d = 0; k < o->negatives && d < 64 * o->negatives + 64; d++) {
		size_t p = draw(o->seed, epoch, idx, d) % n;
		if (p != e->product && !is_positive(t->jud, e->query, p))
			neg[k++] = p;
	}
	if (!mine || o->hard_negatives == 0)
		return k;
	size_t pool = o->hard_pool, dim = t->model->cfg.dim;
	float lex_w = ath_lex_weight(&t->model->cfg, t->model->params);
	float dist[256];
	size_t cand[256], order[256];
	if (pool > 256)
		pool = 256;
	for (size_t i = 0; i < pool; i++) {
		size_t p = draw(o->seed ^ 0x68617264ULL, epoch, idx, i) % n;
		cand[i] = p;
		dist[i] = p == e->product || is_positive(t->jud, e->query, p)
				  ? INFINITY
				  : geo_box_dist(&t->model->space, dim, q->c1->val,
						 q->l1->val, t->points + p * dim,
						 t->model->cfg.gamma, NULL, NULL);
		if (lq && lq->n && isfinite(dist[i]))
			dist[i] -= lex_w * ath_lex_title(&t->model->cfg,
							 t->model->params, lq,
							 t->cat->titles[p]);
	}
	size_t m = ath_topk(dist, pool, o->hard_negatives, order);
	for (size_t i = 0; i < m && isfinite(dist[order[i]]); i++)
		neg[k++] = cand[order[i]];
	return k;
}

/* Forward (and backward when the tape wants gradients) of one example;
 * returns its loss. */
static double run_example(anthem_trainer *t, worker *w, ag_param *params,
			  uint64_t epoch, size_t idx, const example *e,
			  int mine)
{
	ag_tape *tape = &w->tape;
	const anthem_model_config *cfg = &t->model->cfg;
	ath_query q;
	ath_net_query(tape, cfg, params, t->qtok + t->qoff[e->query],
		      t->qoff[e->query + 1] - t->qoff[e->query], &q);
	size_t neg[MAX_NEG];
	size_t nn = tape->failed ? 0 : negatives(t, epoch, idx, e, &q, neg, mine);
	const uint32_t *tids[MAX_NEG + 1];
	size_t T[MAX_NEG + 1];
	float lex[MAX_NEG + 1];
	for (size_t k = 0; k <= nn; k++) {
		size_t p = k == 0 ? e->product : neg[k - 1];
		tids[k] = t->ttok + t->toff[p];
		T[k] = t->toff[p + 1] - t->toff[p];
		/* a pseudo-query's own title without its span (selfsup.c) */
		const char *cut = k == 0 && t->ss.ncuts
					  ? ath_selfsup_cut(&t->ss, e->query, p)
					  : NULL;
		lex[k] = t->lexq ? ath_lex_title(cfg, params, &t->lexq[e->query],
						 cut ? cut : t->cat->titles[p])
				 : 0.0f;
	}
	ag_node *loss = ath_net_loss_query(tape, cfg, params, &q, tids, T,
					   t->lexq ? lex : NULL, nn + 1,
					   t->opt.logit_scale, NULL, NULL);
	double l = tape->failed ? NAN : loss->val[0];
	if (tape->want_grad)
		ag_backward(tape, loss);
	ag_tape_reset(tape);
	return l;
}

/* ---- one epoch ------------------------------------------------------------ */

typedef struct batch_ctx {
	anthem_trainer *t;
	const size_t *order;
	size_t begin, end;
	uint64_t epoch;
	int mine;
	const size_t *share; /* over ranks: this rank's places in the batch */
	size_t nshare;
} batch_ctx;

/* One process: worker k of T runs the examples begin + k, begin + k + T,
 * ...  Over ranks, rank r runs the places balance() gave it, and its
 * worker k every T-th of them from the k-th.  Which rank runs an example
 * does not depend on the thread counts. */
static void batch_slice(size_t k, size_t tid, void *arg)
{
	batch_ctx *b = arg;
	anthem_trainer *t = b->t;
	worker *w = &t->w[k];
	size_t T = t->nthreads;
	(void)tid;
	for (size_t j = k;; j += T) {
		size_t i = b->share ? (j < b->nshare ? b->share[j] : b->end)
				    : b->begin + j;
		if (i >= b->end)
			break;
		size_t idx = b->order[i];
		double l = run_example(t, w, w->params, b->epoch, idx,
				       &t->train[idx], b->mine);
		w->loss += l;
		w->count++;
	}
}

/* ---- sharing a batch among ranks (docs/distributed.md) -------------------- */

typedef struct bal_item {
	uint64_t cost;
	size_t place;
} bal_item;

/* dearest first, then by place: a total order, so every rank sorts alike */
static int bal_cmp(const void *pa, const void *pb)
{
	const bal_item *a = pa, *b = pb;
	if (a->cost != b->cost)
		return a->cost < b->cost ? 1 : -1;
	return (a->place > b->place) - (a->place < b->place);
}

static int place_cmp(const void *pa, const void *pb)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	return (a > b) - (a < b);
}

/* a min-heap of ranks by (load, rank) */
typedef struct bal_rank {
	uint64_t load;
	size_t rank;
} bal_rank;

static int bal_less(const bal_rank *a, const bal_rank *b)
{
	return a->load < b->load || (a->load == b->load && a->rank < b->rank);
}

static void bal_sift(bal_rank *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && bal_less(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && bal_less(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		bal_rank x = h[i];
		h[i] = h[m];
		h[m] = x;
		i = m;
	}
}

/* This rank's places of the batch [begin, end) in share (ascending), and
 * their count.  An example's time grows with the square of its query's
 * length (the query elements' pairwise terms): measured on the bundled
 * WordNet set at dim 32, about 2.2 q^2 - 12 q + 261 us for q query
 * tokens, so q^2 - 5 q + 120 is its cost here.  Handing the dearest
 * example to the least loaded rank first (longest processing time first,
 * Graham 1969) cut the rank that finishes last's excess over the mean
 * from 0.46 ms to 0.15 ms per step against taking every R-th example; a
 * step waits for its slowest rank.  A pure function of the batch, the
 * same on every rank, whatever the thread counts. */
static size_t balance(const anthem_trainer *t, const size_t *order,
		      size_t begin, size_t end, bal_item *items, bal_rank *heap,
		      size_t *share)
{
	size_t n = end - begin, R = (size_t)t->comm.size;
	for (size_t i = 0; i < n; i++) {
		const example *e = &t->train[order[begin + i]];
		uint64_t q = t->qoff[e->query + 1] - t->qoff[e->query];
		items[i] = (bal_item){q * q + 120 - 5 * q, begin + i};
	}
	qsort(items, n, sizeof *items, bal_cmp);
	for (size_t r = 0; r < R; r++)
		heap[r] = (bal_rank){0, r};
	size_t mine = 0;
	for (size_t i = 0; i < n; i++) {
		if (heap[0].rank == (size_t)t->comm.rank)
			share[mine++] = items[i].place;
		heap[0].load += items[i].cost;
		bal_sift(heap, R, 0);
	}
	/* in batch order, as one process would run them */
	qsort(share, mine, sizeof *share, place_cmp);
	return mine;
}

/* Sum the workers' gradients into worker 0's, in worker order. */
static void reduce(anthem_trainer *t)
{
	ag_param *dst = t->w[0].params;
	for (size_t k = 1; k < t->nthreads; k++) {
		ag_param *src = t->w[k].params;
		for (int i = 0; i < P_COUNT; i++) {
			if (!ath_param_learned(i))
				continue;
			size_t cols = src[i].cols;
			if (!src[i].touched) {
				for (size_t x = 0; x < src[i].rows * cols; x++)
					dst[i].grad[x] += src[i].grad[x];
				continue;
			}
			for (size_t r = 0; r < src[i].ntouched; r++) {
				uint32_t row = src[i].touched[r];
				float *g = dst[i].grad + (size_t)row * cols;
				const float *s = src[i].grad + (size_t)row * cols;
				for (size_t x = 0; x < cols; x++)
					g[x] += s[x];
				if (!dst[i].mark[row]) {
					dst[i].mark[row] = 1;
					dst[i].touched[dst[i].ntouched++] = row;
				}
			}
		}
	}
}

/* ---- combining the ranks' gradients (docs/distributed.md) ----------------- */

/* What each rank sends every step: this header, then per trigram table
 * the ids (uint32) of its touched rows that other ranks own and those
 * rows' gradients. */
enum { X_OK = 0, X_NOMEM = 1, X_CANCEL = 2 };
typedef struct xheader {
	uint32_t status;   /* X_* */
	uint32_t pad;
	uint64_t count;    /* examples run */
	double loss;       /* their summed loss */
	uint64_t rows[X_TABLES];
} xheader;

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	unsigned char *b = realloc(*buf, n);
	if (!b)
		return -1;
	*buf = b;
	*cap = n;
	return 0;
}

/* Every rank's len bytes of send, gathered into t->xrecv in rank order
 * (the lengths first, then the bytes); *total is the bytes received. */
static int gather(anthem_trainer *t, const void *send, size_t len,
		  size_t *total, const char *fn)
{
	size_t n = (size_t)t->comm.size;
	uint64_t mine = len;
	if (grow(&t->xrecv, &t->xrecv_cap, n * sizeof mine))
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t r = 0; r < n; r++)
		t->xlens[r] = sizeof mine;
	int e = t->comm.allgather(&mine, sizeof mine, t->xrecv, t->xlens,
				  t->comm.user);
	if (e)
		return ath_error(ANTHEM_EIO, "%s: rank %d: the communicator's "
				 "allgather failed (%d)", fn, t->comm.rank, e);
	size_t sum = 0;
	for (size_t r = 0; r < n; r++) {
		uint64_t l;
		memcpy(&l, t->xrecv + r * sizeof l, sizeof l);
		if (l > SIZE_MAX / 2 || sum + l < sum)
			return ath_error(ANTHEM_ERANGE, "%s: rank %zu sends %llu "
					 "bytes", fn, r, (unsigned long long)l);
		t->xlens[r] = (size_t)l;
		sum += (size_t)l;
	}
	if (t->xlens[t->comm.rank] != len)
		return ath_error(ANTHEM_EIO, "%s: rank %d: the communicator's "
				 "allgather returned another length than sent",
				 fn, t->comm.rank);
	if (grow(&t->xrecv, &t->xrecv_cap, sum + 1))
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory for %zu "
				 "bytes of gradients", fn, sum);
	e = t->comm.allgather(send, len, t->xrecv, t->xlens, t->comm.user);
	if (e)
		return ath_error(ANTHEM_EIO, "%s: rank %d: the communicator's "
				 "allgather failed (%d)", fn, t->comm.rank, e);
	*total = sum;
	return ANTHEM_OK;
}

/* The rank of n that owns a table row: id mod n.  Several per touched row
 * and step: a mask for a power of two, else a 32-bit division (a 64-bit
 * one cost a measurable share of the exchange). */
static inline uint32_t owner(uint32_t row, uint32_t n)
{
	return (n & (n - 1)) == 0 ? row & (n - 1) : row % n;
}

/* One row's gradient added to a table's, which then lists it as touched. */
static void add_row(ag_param *p, uint32_t row, const unsigned char *src)
{
	float *dst = p->grad + (size_t)row * p->cols;
	float v[ANTHEM_MAX_DIM];
	memcpy(v, src, p->cols * sizeof(float));
	for (size_t x = 0; x < p->cols; x++)
		dst[x] += v[x];
	if (!p->mark[row]) {
		p->mark[row] = 1;
		p->touched[p->ntouched++] = row;
	}
}

/* Turn worker 0's gradient (this rank's share of the batch) into the sum
 * over all ranks of the table rows this rank owns, and of the dense
 * matrices.  Rank `me` of n owns the rows id mod n = me: it alone sums
 * them and runs their Adam step (share_rows then sends the new weights;
 * sharding the optimiser's step and state is ZeRO's stage 1, Rajbhandari
 * et al., SC 2020).  So each rank sends the touched rows others own, as
 * ids + rows, and the owner adds them in rank order, so that each row's
 * sum has the same bits as when every rank summed every row; the dense
 * matrices go through allreduce_sum.  status, loss and count are this
 * rank's; on return *loss and *count are the sums over ranks, and an
 * error names the rank that failed. */
static int exchange(anthem_trainer *t, uint32_t status, double *loss,
		    size_t *count, const char *fn)
{
	ag_param *g = t->w[0].params;
	size_t n = (size_t)t->comm.size, me = (size_t)t->comm.rank;
	uint32_t n32 = (uint32_t)n, me32 = (uint32_t)me;
	/* The sum over ranks is ((0 + g0) + g1) + g2 ... on every rank.
	 * Ranks 0 and 1 keep their own rows in place instead of zeroing them
	 * and adding them back: g + 0 is 0 + g, and (g1 + 0) + g0 equals
	 * (0 + g0) + g1 bit for bit (float addition commutes; the + 0 turns
	 * a -0 into +0 as the zeroed start did, and (+0) + (-0) is +0 either
	 * way).  Rank 2 and later have a place in the middle of the sum: they
	 * put their own rows aside (t->xown) and add them back in turn. */
	int keep = me <= 1;
	xheader h = {.status = status, .count = *count, .loss = *loss};
	size_t len = sizeof h, aside = 0, own[X_TABLES] = {0};
	for (int i = 0; i < X_TABLES; i++) {
		size_t m = 0;
		for (size_t k = 0; !status && k < g[i].ntouched; k++)
			m += owner(g[i].touched[k], n32) != me32;
		size_t each = sizeof(uint32_t) + g[i].cols * sizeof(float);
		h.rows[i] = m;
		own[i] = status ? 0 : g[i].ntouched - m;
		len += m * each;
		aside += keep ? 0 : own[i] * each;
	}
	/* out of memory: the others still gather, so tell them there */
	if (!status && (grow(&t->xsend, &t->xsend_cap, len) ||
			grow(&t->xown, &t->xown_cap, aside)))
		status = h.status = X_NOMEM;
	if (status) { /* the header alone */
		memset(h.rows, 0, sizeof h.rows);
		memset(own, 0, sizeof own);
		len = sizeof h;
	}
	unsigned char *o = t->xsend, *put = t->xown;
	if (!status) {
		memcpy(o, &h, sizeof h);
		o += sizeof h;
	}
	for (int i = 0; !status && i < X_TABLES; i++) {
		size_t bytes = g[i].cols * sizeof(float), kept = 0;
		unsigned char *ids = o, *rows = o + h.rows[i] * sizeof(uint32_t);
		for (size_t k = 0; k < g[i].ntouched; k++) {
			uint32_t row = g[i].touched[k];
			float *src = g[i].grad + (size_t)row * g[i].cols;
			int ours = owner(row, n32) == me32;
			if (ours && keep) {
				for (size_t x = 0; x < g[i].cols; x++)
					src[x] += 0.0f;
				g[i].touched[kept++] = row;
				continue;
			}
			if (ours) {
				memcpy(put, &row, sizeof row);
				memcpy(put + sizeof row, src, bytes);
				put += sizeof row + bytes;
			} else {
				memcpy(ids, &row, sizeof row);
				memcpy(rows, src, bytes);
				ids += sizeof row;
				rows += bytes;
			}
			memset(src, 0, bytes);
			g[i].mark[row] = 0;
		}
		g[i].ntouched = kept;
		o = rows;
	}
	size_t total;
	int rc = gather(t, status ? (const void *)&h : t->xsend, len, &total,
			fn);
	if (rc)
		return rc;
	/* any rank's failure fails every rank, first the lowest rank's */
	size_t off = 0;
	xheader hr;
	for (size_t r = 0; r < n; off += t->xlens[r], r++) {
		if (t->xlens[r] < sizeof hr)
			return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent %zu "
					 "bytes, less than a header", fn, r,
					 t->xlens[r]);
		memcpy(&hr, t->xrecv + off, sizeof hr);
		if (hr.status == X_NOMEM)
			return ath_error(ANTHEM_ENOMEM, "%s: rank %zu ran out of "
					 "memory in a training step", fn, r);
		if (hr.status == X_CANCEL)
			return ath_error(ANTHEM_ECANCELED, "%s: canceled by the "
					 "progress callback of rank %zu", fn, r);
		if (hr.status != X_OK)
			return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent "
					 "status %u", fn, r, hr.status);
	}
	double lsum = 0.0;
	size_t csum = 0;
	const unsigned char *mine = t->xown;
	off = 0;
	for (size_t r = 0; r < n; off += t->xlens[r], r++) {
		memcpy(&hr, t->xrecv + off, sizeof hr);
		lsum += hr.loss;
		csum += (size_t)hr.count;
		const unsigned char *in = t->xrecv + off + sizeof(xheader);
		size_t need = sizeof(xheader);
		for (int i = 0; i < X_TABLES; i++) {
			/* bounded first: a count near 2^64 would wrap the sum */
			if (hr.rows[i] > g[i].rows)
				return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent "
						 "%llu rows of %s, which has %zu",
						 fn, r,
						 (unsigned long long)hr.rows[i],
						 g[i].name, g[i].rows);
			need += (size_t)hr.rows[i] *
				(sizeof(uint32_t) + g[i].cols * sizeof(float));
		}
		if (need != t->xlens[r])
			return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent %zu "
					 "bytes of gradients, its header says "
					 "%zu", fn, r, t->xlens[r], need);
		if (r == me) { /* this rank's own rows, in their turn */
			for (int i = 0; !keep && i < X_TABLES; i++)
				for (size_t k = 0; k < own[i]; k++) {
					uint32_t row;
					memcpy(&row, mine, sizeof row);
					add_row(&g[i], row, mine + sizeof row);
					mine += sizeof row +
						g[i].cols * sizeof(float);
				}
			continue;
		}
		for (int i = 0; i < X_TABLES; i++) {
			size_t cols = g[i].cols, m = (size_t)hr.rows[i];
			const unsigned char *ids = in;
			const unsigned char *rows = in + m * sizeof(uint32_t);
			for (size_t k = 0; k < m; k++) {
				uint32_t row;
				memcpy(&row, ids + k * sizeof row, sizeof row);
				if (row >= g[i].rows || owner(row, n32) == r)
					return ath_error(ANTHEM_EFORMAT, "%s: rank "
							 "%zu sent row %u of %s "
							 "(%zu rows), %s", fn, r,
							 row, g[i].name,
							 g[i].rows,
							 row >= g[i].rows
								 ? "past its end"
								 : "which it owns");
				/* the rows are scattered over a table of
				 * megabytes: ask for one a few ahead */
				if (k + 4 < m) {
					uint32_t ahead;
					memcpy(&ahead, ids + (k + 4) * sizeof ahead,
					       sizeof ahead);
					if (ahead < g[i].rows &&
					    owner(ahead, n32) == me32)
						__builtin_prefetch(
							g[i].grad +
							(size_t)ahead * cols);
				}
				if (owner(row, n32) == me32)
					add_row(&g[i], row,
						rows + k * cols * sizeof(float));
			}
			in = rows + m * cols * sizeof(float);
		}
	}
	for (int i = 0; n > 1 && i < X_TABLES; i++)
		for (size_t k = 0; k < g[i].ntouched; k++)
			t->dirty[i][g[i].touched[k]] = 1;
	/* the small matrices: one contiguous run of the gradient block, from
	 * the first dense parameter to the last learned one */
	float *lo = g[X_TABLES].grad;
	float *hi = g[P_LEX_W].grad + g[P_LEX_W].rows * g[P_LEX_W].cols;
	if (hi > lo) {
		int e = t->comm.allreduce_sum(lo, (size_t)(hi - lo),
					      t->comm.user);
		if (e)
			return ath_error(ANTHEM_EIO, "%s: rank %d: the "
					 "communicator's allreduce_sum failed "
					 "(%d)", fn, t->comm.rank, e);
	}
	*loss = lsum;
	*count = csum;
	return ANTHEM_OK;
}

#define X_PART_NOMEM UINT64_MAX /* a part's first count: its rank ran out
				   of memory (the others still gathered) */

/* A rank that cannot build its part still takes part in the gather, so
 * that no rank waits for it: it sends X_PART_NOMEM, and every rank fails
 * at the same call. */
static int part_nomem(anthem_trainer *t, const char *fn)
{
	uint64_t fail = X_PART_NOMEM;
	size_t total;
	int rc = gather(t, &fail, sizeof fail, &total, fn);
	return rc ? rc : ath_error(ANTHEM_ENOMEM, "%s: rank %d: out of memory",
				   fn, t->comm.rank);
}

typedef struct xpart {
	const unsigned char *p, *end;
} xpart;

/* The owner's rows, read from one rank's part of a gather: per table a
 * count, the ids, then `per` floats of each row (the caller's layout).
 * Checks the part's length and that rank r owns every id it sent, within
 * rows [lo, hi); 0 or an error. */
static int part_rows(xpart *x, size_t r, size_t n, const ag_param *prm,
		     size_t lo, size_t hi, size_t per, uint64_t *count,
		     const unsigned char **ids, const unsigned char **rows,
		     const char *fn)
{
	uint64_t m;
	if ((size_t)(x->end - x->p) < sizeof m)
		return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent a short "
				 "part of %s", fn, r, prm->name);
	memcpy(&m, x->p, sizeof m);
	if (m == X_PART_NOMEM)
		return ath_error(ANTHEM_ENOMEM, "%s: rank %zu ran out of memory",
				 fn, r);
	size_t left = (size_t)(x->end - x->p) - sizeof m;
	size_t each = sizeof(uint32_t) + per * sizeof(float);
	if (m > hi - lo || m * each > left)
		return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent %llu rows "
				 "of %s in %zu bytes", fn, r,
				 (unsigned long long)m, prm->name, left);
	*ids = x->p + sizeof m;
	*rows = *ids + m * sizeof(uint32_t);
	for (size_t k = 0; k < m; k++) {
		uint32_t row;
		memcpy(&row, *ids + k * sizeof row, sizeof row);
		if (row < lo || row >= hi || owner(row, (uint32_t)n) != r)
			return ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent row "
					 "%u of %s, which it does not own", fn,
					 r, row, prm->name);
	}
	x->p = *rows + m * per * sizeof(float);
	*count = m;
	return ANTHEM_OK;
}

/* After Adam over several ranks: each rank's rows' new weights to every
 * other rank (per table the count, the ids, the rows), so that every rank
 * holds the same model again. */
static int share_rows(anthem_trainer *t, const char *fn)
{
	ag_param *g = t->w[0].params;
	size_t n = (size_t)t->comm.size, me = (size_t)t->comm.rank;
	size_t len = 0;
	for (int i = 0; i < X_TABLES; i++)
		len += sizeof(uint64_t) + g[i].ntouched *
		       (sizeof(uint32_t) + g[i].cols * sizeof(float));
	if (grow(&t->xsend, &t->xsend_cap, len))
		return part_nomem(t, fn);
	unsigned char *o = t->xsend;
	for (int i = 0; i < X_TABLES; i++) {
		uint64_t m = g[i].ntouched;
		size_t bytes = g[i].cols * sizeof(float);
		memcpy(o, &m, sizeof m);
		o += sizeof m;
		memcpy(o, g[i].touched, m * sizeof(uint32_t));
		o += m * sizeof(uint32_t);
		for (size_t k = 0; k < m; k++, o += bytes)
			memcpy(o, g[i].val + (size_t)g[i].touched[k] * g[i].cols,
			       bytes);
	}
	size_t total, off = 0;
	int rc = gather(t, t->xsend, len, &total, fn);
	for (size_t r = 0; !rc && r < n; off += t->xlens[r], r++) {
		if (r == me)
			continue;
		xpart x = {t->xrecv + off, t->xrecv + off + t->xlens[r]};
		for (int i = 0; !rc && i < X_TABLES; i++) {
			size_t cols = g[i].cols;
			uint64_t m;
			const unsigned char *ids, *rows;
			rc = part_rows(&x, r, n, &g[i], 0, g[i].rows, cols, &m,
				       &ids, &rows, fn);
			for (size_t k = 0; !rc && k < m; k++) {
				uint32_t row, ahead;
				memcpy(&row, ids + k * sizeof row, sizeof row);
				/* scattered rows: ask for one a few ahead
				 * (part_rows checked every id) */
				if (k + 4 < m) {
					memcpy(&ahead, ids + (k + 4) * sizeof ahead,
					       sizeof ahead);
					__builtin_prefetch(g[i].val +
							   (size_t)ahead * cols, 1);
				}
				memcpy(g[i].val + (size_t)row * cols,
				       rows + k * cols * sizeof(float),
				       cols * sizeof(float));
			}
		}
		if (!rc && x.p != x.end)
			rc = ath_error(ANTHEM_EFORMAT, "%s: rank %zu sent %zu "
				       "bytes of weights more than its rows", fn,
				       r, (size_t)(x.end - x.p));
	}
	return rc;
}

/* Rows per slice of sync_moments: its buffers stay a few megabytes. */
#define SYNC_ROWS 32768

/* Every rank's moved moments (Adam's m and v of the rows it owns, moved
 * since the last call, and with float64_tables their float64 weights) to
 * every other rank, so that all hold the whole optimiser state again: at
 * each epoch's end, before rank 0 writes a checkpoint, and before a rank
 * may continue alone or with other owners (set_comm).  Per table, in
 * slices of SYNC_ROWS rows. */
static int sync_moments(anthem_trainer *t, const char *fn)
{
	ag_param *g = t->w[0].params;
	size_t n = (size_t)t->comm.size, me = (size_t)t->comm.rank;
	size_t base = 0; /* the table's offset in the moments */
	for (int i = 0; i < X_TABLES; i++) {
		size_t cols = g[i].cols, bytes = cols * sizeof(float);
		/* a row's floats: m, v, then the master's doubles */
		size_t per = 2 * cols + (t->master ? 2 * cols : 0);
		for (size_t lo = 0; lo < g[i].rows; lo += SYNC_ROWS) {
			size_t hi = lo + SYNC_ROWS < g[i].rows ? lo + SYNC_ROWS
							       : g[i].rows;
			uint64_t m = 0;
			for (size_t row = lo; row < hi; row++)
				m += t->dirty[i][row];
			size_t len = sizeof m +
				     m * (sizeof(uint32_t) + per * sizeof(float));
			if (grow(&t->xsend, &t->xsend_cap, len))
				return part_nomem(t, fn);
			unsigned char *o = t->xsend;
			memcpy(o, &m, sizeof m);
			unsigned char *ids = o + sizeof m;
			o = ids + m * sizeof(uint32_t);
			for (size_t row = lo; row < hi; row++) {
				if (!t->dirty[i][row])
					continue;
				t->dirty[i][row] = 0;
				uint32_t id = (uint32_t)row;
				size_t at = base + row * cols;
				memcpy(ids, &id, sizeof id);
				ids += sizeof id;
				memcpy(o, t->adam_m + at, bytes);
				memcpy(o + bytes, t->adam_v + at, bytes);
				if (t->master)
					memcpy(o + 2 * bytes, t->master + at,
					       cols * sizeof(double));
				o += per * sizeof(float);
			}
			size_t total, off = 0;
			int rc = gather(t, t->xsend, len, &total, fn);
			for (size_t r = 0; !rc && r < n;
			     off += t->xlens[r], r++) {
				if (r == me)
					continue;
				xpart x = {t->xrecv + off,
					   t->xrecv + off + t->xlens[r]};
				const unsigned char *rid, *rows;
				rc = part_rows(&x, r, n, &g[i], lo, hi, per, &m,
					       &rid, &rows, fn);
				for (size_t k = 0; !rc && k < m; k++) {
					uint32_t row;
					memcpy(&row, rid + k * sizeof row,
					       sizeof row);
					size_t at = base + row * cols;
					const unsigned char *src =
						rows + k * per * sizeof(float);
					memcpy(t->adam_m + at, src, bytes);
					memcpy(t->adam_v + at, src + bytes, bytes);
					if (t->master)
						memcpy(t->master + at,
						       src + 2 * bytes,
						       cols * sizeof(double));
				}
				if (!rc && x.p != x.end)
					rc = ath_error(ANTHEM_EFORMAT, "%s: rank "
						       "%zu sent %zu bytes of "
						       "moments more than its "
						       "rows", fn, r,
						       (size_t)(x.end - x.p));
			}
			if (rc)
				return rc;
		}
		base += g[i].rows * cols;
	}
	t->spread = 0;
	return ANTHEM_OK;
}

/* A hash of what must be equal on every rank for the ranks to train one
 * model: the options that shape the run (not threads, checkpoint or the
 * callback). */
static uint64_t options_hash(const anthem_train_options *o)
{
	double v[] = {(double)o->epochs, (double)o->epoch_examples,
		      (double)o->batch, (double)o->negatives,
		      (double)o->hard_negatives, (double)o->hard_pool,
		      o->lr, o->lr_decay, (double)o->warmup, (double)o->seed,
		      o->valid_frac, (double)o->patience, o->logit_scale,
		      (double)o->float64_tables, (double)o->riemannian_adam};
	return ath_checksum((const unsigned char *)v, sizeof v) ^ mix(o->seed);
}

/* Every rank's five words, checked against rank 0's: the same data, the
 * same options, the same state (epoch, step, weights) and whether it
 * failed or, at the end of an epoch, its callback asked to stop. */
static int agree(anthem_trainer *t, int cancel, const uint64_t *model_fp,
		 const char *when, const char *fn)
{
	/* model_fp: the live model's fingerprint when the caller has it (a
	 * pass over every weight, tens of milliseconds at 2^18 buckets) */
	uint64_t mine[5] = {t->data_fp, options_hash(&t->opt),
			    ((uint64_t)t->epoch << 40) ^ t->step,
			    model_fp ? *model_fp
				     : ath_model_fingerprint_compute(t->model),
			    (uint64_t)cancel};
	size_t total;
	int rc = gather(t, mine, sizeof mine, &total, fn);
	if (rc)
		return rc;
	static const char *what[4] = {
		"trains other data (catalogue or judgements)",
		"has other training options",
		"is at another epoch or step",
		"has other weights"};
	uint64_t r0[5];
	memcpy(r0, t->xrecv, sizeof r0);
	for (int r = 1; r < t->comm.size; r++) {
		uint64_t w[5];
		if (t->xlens[r] != sizeof w)
			return ath_error(ANTHEM_EFORMAT, "%s: rank %d sent %zu "
					 "bytes, expected %zu", fn, r,
					 t->xlens[r], sizeof w);
		memcpy(w, t->xrecv + (size_t)r * sizeof w, sizeof w);
		for (int k = 0; k < 4; k++)
			if (w[k] != r0[k])
				return ath_error(ANTHEM_EMISMATCH, "%s: rank %d "
						 "%s than rank 0 %s", fn, r,
						 what[k], when);
	}
	for (int r = 0; r < t->comm.size; r++) {
		uint64_t c;
		memcpy(&c, t->xrecv + (size_t)r * sizeof r0 + 4 * sizeof c,
		       sizeof c);
		if (c == 2)
			return ath_error(ANTHEM_EIO, "%s: rank %d failed %s (its "
					 "own message says why)", fn, r, when);
		if (c)
			return ath_error(ANTHEM_ECANCELED, "%s: canceled by the "
					 "progress callback of rank %d", fn, r);
	}
	return ANTHEM_OK;
}

int anthem_trainer_set_comm(anthem_trainer *t, const anthem_train_comm *comm)
{
	static const char fn[] = "anthem_trainer_set_comm";
	ATH_CHECK_ARG(t, fn, "t");
	if (t->spread)
		return ath_error(ANTHEM_EINVAL, "%s: the Adam moments are still "
				 "spread over the ranks of an epoch that did "
				 "not finish: the trainer cannot change its "
				 "communicator", fn);
	t->have_comm = 0;
	if (!comm)
		return ANTHEM_OK;
	anthem_train_comm c;
	memset(&c, 0, sizeof c);
	size_t size;
	memcpy(&size, comm, sizeof size);
	if (size != sizeof c)
		return ath_error(ANTHEM_EINVAL, "%s: anthem_train_comm "
				 "struct_size is %zu, expected %zu", fn, size,
				 sizeof c);
	memcpy(&c, comm, size);
	if (c.size < 1 || c.rank < 0 || c.rank >= c.size)
		return ath_error(ANTHEM_ERANGE, "%s: rank %d of size %d: need "
				 "size >= 1 and 0 <= rank < size", fn, c.rank,
				 c.size);
	if (!c.allreduce_sum || !c.allgather)
		return ath_error(ANTHEM_EINVAL, "%s: allreduce_sum and allgather "
				 "must both be set", fn);
	size_t *lens = realloc(t->xlens, (size_t)c.size * sizeof *lens);
	if (!lens)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	t->xlens = lens;
	/* out of memory here still takes part in the agreement, as a failed
	 * rank, so that no rank waits for this one */
	int nomem = 0;
	for (int i = 0; i < X_TABLES && c.size > 1; i++) {
		size_t rows = t->w[0].params[i].rows;
		if (!t->dirty[i] && !(t->dirty[i] = calloc(rows ? rows : 1, 1)))
			nomem = 1;
	}
	t->comm = c;
	t->have_comm = 1;
	t->cancel_pending = 0;
	int rc = agree(t, nomem ? 2 : 0, NULL, "when training starts", fn);
	if (nomem)
		rc = ath_error(ANTHEM_ENOMEM, "%s: rank %d: out of memory", fn,
			       c.rank);
	if (rc)
		t->have_comm = 0;
	return rc;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void embed_point(size_t i, size_t tid, void *arg)
{
	anthem_trainer *t = arg;
	(void)tid;
	anthem_model_embed_products(t->model, &t->cat->titles[i], 1,
				    t->points + i * t->model->cfg.dim);
}

/* The held-out loss over at most MAX_VALID examples (spread evenly over
 * the held-out ones), the same every epoch so that epochs compare. */
#define MAX_VALID 2000

typedef struct valid_ctx {
	anthem_trainer *t;
	double *loss;
} valid_ctx;

static void valid_one(size_t i, size_t tid, void *arg)
{
	valid_ctx *v = arg;
	anthem_trainer *t = v->t;
	worker *w = &t->w[tid];
	/* fixed negatives (epoch 0, uniform only) so that epochs compare */
	int want = w->tape.want_grad;
	w->tape.want_grad = 0;
	size_t n = t->nvalid < MAX_VALID ? t->nvalid : MAX_VALID;
	size_t e = i * (t->nvalid / n); /* evenly spread */
	v->loss[i] = run_example(t, w, w->params, 0, e, &t->valid[e], 0);
	w->tape.want_grad = want;
}

static double validate(anthem_trainer *t)
{
	size_t n = t->nvalid < MAX_VALID ? t->nvalid : MAX_VALID;
	if (n == 0)
		return NAN;
	valid_ctx v = {t, malloc(n * sizeof(double))};
	if (!v.loss)
		return NAN;
	ath_parallel_for(n, t->nthreads, valid_one, &v);
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += v.loss[i];
	free(v.loss);
	return s / (double)n;
}

static int report(anthem_trainer *t, anthem_train_progress *p)
{
	return t->opt.progress && t->opt.progress(p, t->opt.progress_user);
}

/* The order of the training examples in an epoch: Fisher-Yates with the
 * epoch's draws. */
static void shuffle(const anthem_trainer *t, uint64_t epoch, size_t *order)
{
	size_t n = t->ntrain;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t k = draw(t->opt.seed, epoch, i, 0xffff) % i;
		size_t tmp = order[i - 1];
		order[i - 1] = order[k];
		order[k] = tmp;
	}
}

static size_t epoch_take(const anthem_trainer *t)
{
	size_t n = t->ntrain;
	return t->opt.epoch_examples && t->opt.epoch_examples < n
		       ? t->opt.epoch_examples : n;
}

int ath_trainer_plan(const anthem_trainer *t, uint64_t epoch,
		     int (*fn)(const ath_planned *e, void *user), void *user)
{
	static const char fn_name[] = "ath_trainer_plan";
	if (t->opt.hard_negatives > 0 && epoch > 1)
		return ath_error(ANTHEM_EINVAL, "%s: epoch %llu mines hard "
				 "negatives, which a plan cannot replay",
				 fn_name, (unsigned long long)epoch);
	size_t *order = malloc((t->ntrain + 1) * sizeof *order);
	if (!order)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn_name);
	shuffle(t, epoch, order);
	size_t take = epoch_take(t);
	for (size_t i = 0; i < take; i++) {
		size_t idx = order[i];
		const example *e = &t->train[idx];
		size_t prod[MAX_NEG + 1];
		const uint32_t *tids[MAX_NEG + 1];
		size_t T[MAX_NEG + 1];
		/* as run_example draws them (q is read only when mining) */
		size_t nn = negatives(t, epoch, idx, e, NULL, prod + 1, 0);
		prod[0] = e->product;
		for (size_t k = 0; k <= nn; k++) {
			tids[k] = t->ttok + t->toff[prod[k]];
			T[k] = t->toff[prod[k] + 1] - t->toff[prod[k]];
		}
		ath_planned p = {i, e->query, e->product,
				 t->qtok + t->qoff[e->query],
				 t->qoff[e->query + 1] - t->qoff[e->query],
				 nn + 1, prod, tids, T};
		if (fn(&p, user))
			break;
	}
	free(order);
	return ANTHEM_OK;
}

/* ---- the lexical weight, chosen on held-out queries ----------------------- */

/* The softmax over one positive and a few sampled negatives does not set
 * w for ranking a whole catalogue (on WordNet it settles near 0.08, where
 * the geometry of a young model outweighs the word matches; 0.2 ranks
 * better).  So after each epoch w is chosen from this grid by the mean of
 * NDCG@10 and AP over held-out queries, each ranked over the whole
 * catalogue with both stages as anthem_evaluate ranks it. */
static const float lex_grid[] = {0.02f, 0.05f, 0.1f, 0.15f, 0.2f, 0.3f,
				 0.5f, 1.0f, 2.0f};
#define NGRID (sizeof lex_grid / sizeof lex_grid[0])
#define CAL_QUERIES 200
#define CAL_K1 200

/* Set the model's w to the grid value that ranks the held-out queries
 * best (unchanged when nothing is held out): each query goes through the
 * query pipeline once (stage 1 and stage 2 do not depend on w), then is
 * ordered with every w of the grid. */
static int calibrate_lexical(anthem_trainer *t, const char *fn)
{
	if (!t->lexq || t->nvalid == 0)
		return ANTHEM_OK;
	size_t nq = 0;
	size_t queries[CAL_QUERIES];
	/* distinct held-out queries, spread over them (t->valid is in query
	 * order) */
	size_t distinct = 0;
	for (size_t i = 0; i < t->nvalid; i++)
		distinct += i == 0 || t->valid[i].query != t->valid[i - 1].query;
	size_t every = distinct / CAL_QUERIES + 1, seen = 0;
	for (size_t i = 0; i < t->nvalid && nq < CAL_QUERIES; i++) {
		if (i && t->valid[i].query == t->valid[i - 1].query)
			continue;
		if (seen++ % every == 0)
			queries[nq++] = t->valid[i].query;
	}
	anthem_index *ix = NULL;
	double *per = calloc(nq * NGRID, ATH_NMETRICS * sizeof *per);
	double *recall = calloc(nq, sizeof *recall);
	int *counted = calloc(nq, sizeof *counted);
	int rc = per && recall && counted
			 ? anthem_index_build(&ix, t->model, t->cat, t->nthreads)
			 : ath_error(ANTHEM_ENOMEM, "%s: out of memory choosing "
				     "the lexical weight", fn);
	if (!rc) {
		/* of these weights: the next epoch mines with them */
		ath_index_points(ix, t->points);
		t->have_points = 1;
		rc = ath_rank_queries(t->model, ix, t->jud, queries, nq, CAL_K1,
				      t->nthreads, lex_grid, NGRID, per, counted,
				      recall);
	}
	if (!rc) { /* summed in query order: the same choice on any threads */
		double best = -1.0;
		size_t pick = 0;
		for (size_t g = 0; g < NGRID; g++) {
			double sum = 0.0;
			for (size_t k = 0; k < nq; k++) {
				const double *m = per + (k * NGRID + g) * ATH_NMETRICS;
				/* the mean of NDCG@10 and AP */
				sum += counted[k] ? (m[2] + m[3]) / 2.0 : 0.0;
			}
			if (sum > best + 1e-12) {
				best = sum;
				pick = g;
			}
		}
		t->model->params[P_LEX_W].val[0] = lex_grid[pick];
		if (t->master) /* the next step starts from the choice */
			t->master[t->model->params[P_LEX_W].val -
				  t->model->owned] = lex_grid[pick];
	}
	anthem_index_free(ix);
	free(per);
	free(recall);
	free(counted);
	return rc;
}

/* The live weights against the bounds every reader applies
 * (ath_model_check_weights): what went wrong, and from which step on the
 * loss said so (bad_step; 0: it never did, so the last step). */
static int live_weights(const anthem_trainer *t, uint64_t epoch,
			uint64_t bad_step, const char *fn)
{
	if (!ath_model_check_weights(t->model, "live weights", fn))
		return ANTHEM_OK;
	const char *what = "larger than a model file allows (|w| <= 1e4)";
	const char *name = "";
	for (int i = 0; i < P_COUNT && !name[0]; i++) {
		const ag_param *p = &t->model->params[i];
		for (size_t k = 0; k < p->rows * p->cols; k++)
			if (!isfinite(p->val[k])) {
				what = isnan(p->val[k]) ? "NaN" : "infinite";
				name = p->name;
				break;
			}
	}
	char detail[400];
	snprintf(detail, sizeof detail, "%s", anthem_last_error());
	return ath_error(ANTHEM_ERANGE, "%s: weights became %s %s step %llu "
			 "(epoch %llu%s%s); the best model so far is unchanged "
			 "(%s)", fn, what, bad_step ? "at" : "by",
			 (unsigned long long)(bad_step ? bad_step : t->step),
			 (unsigned long long)epoch, name[0] ? ", tensor " : "",
			 name, detail);
}

static int run_epoch(anthem_trainer *t, const char *fn)
{
	uint64_t epoch = t->epoch + 1;
	size_t n = t->ntrain, B = t->opt.batch;
	size_t take = epoch_take(t);
	size_t *order = malloc(n * sizeof *order);
	/* over ranks, balance()'s room: B items, R heap entries, B places */
	size_t R = t->have_comm ? (size_t)t->comm.size : 1;
	bal_item *items = R > 1 ? malloc(B * sizeof *items) : NULL;
	bal_rank *heap = R > 1 ? malloc(R * sizeof *heap) : NULL;
	size_t *share = R > 1 ? malloc(B * sizeof *share) : NULL;
	if (!order || (R > 1 && (!items || !heap || !share))) {
		free(order);
		free(items);
		free(heap);
		free(share);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	shuffle(t, epoch, order);
	int mine = t->opt.hard_negatives > 0 && epoch > 1;
	if (mine && !t->have_points) {
		ath_parallel_for(t->cat->n, t->nthreads, embed_point, t);
		t->have_points = 1;
	}
	double lr_epoch = t->opt.lr * pow(t->opt.lr_decay, (double)t->epoch);
	anthem_train_progress p = {.epoch = epoch, .epochs = t->opt.epochs,
				   .steps = (take + B - 1) / B, .valid_loss = NAN,
				   .lexical_weight = NAN};
	if (ath_lex_on(&t->model->cfg))
		p.lexical_weight = ath_lex_weight(&t->model->cfg,
						  t->model->params);
	double loss = 0.0, t0 = now(), last = t0;
	size_t seen = 0;
	uint64_t bad_step = 0; /* the first step whose loss was not finite */
	int rc = ANTHEM_OK;
	for (size_t begin = 0; begin < take && !rc; begin += B) {
		batch_ctx b = {t, order, begin, begin + B < take ? begin + B : take,
			       epoch, mine, share, 0};
		if (share)
			b.nshare = balance(t, order, b.begin, b.end, items, heap,
					   share);
		for (size_t k = 0; k < t->nthreads; k++)
			t->w[k].loss = 0.0, t->w[k].count = 0;
		ath_parallel_for(t->nthreads, t->nthreads, batch_slice, &b);
		double step_loss = 0.0;
		size_t step_seen = 0;
		int failed = 0;
		for (size_t k = 0; k < t->nthreads; k++) {
			step_loss += t->w[k].loss;
			step_seen += t->w[k].count;
			failed |= t->w[k].tape.failed;
		}
		if (failed && !t->have_comm) {
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory in a "
				       "training step", fn);
			break;
		}
		reduce(t);
		if (t->have_comm &&
		    (rc = exchange(t, failed ? X_NOMEM
					     : t->cancel_pending ? X_CANCEL
								 : X_OK,
				   &step_loss, &step_seen, fn)))
			break;
		/* every example of the batch ran once: ranks that split it
		 * otherwise (another library version) would train another
		 * model */
		if (t->have_comm && step_seen != b.end - b.begin) {
			rc = ath_error(ANTHEM_EMISMATCH, "%s: the ranks ran %zu "
				       "examples of a batch of %zu: do they run "
				       "the same libanthem?", fn, step_seen,
				       b.end - b.begin);
			break;
		}
		loss += step_loss;
		seen += step_seen;
		t->step++;
		if (!bad_step && !isfinite(step_loss))
			bad_step = t->step;
		t->have_points = 0; /* the weights move: the points are old */
		double warm = t->opt.warmup ? fmin(1.0, (double)t->step /
						   (double)t->opt.warmup) : 1.0;
		ath_adam a = {lr_epoch * warm, 0.9, 0.999, 1e-8, t->step};
		size_t off = 0;
		for (int i = 0; i < P_COUNT; i++) {
			ag_param *prm = &t->w[0].params[i];
			int ball = t->opt.riemannian_adam &&
				   (i == P_QUERY_CENTRE || i == P_TITLE_POINT);
			if (!ath_param_learned(i))
				;
			else if (ball)
				ath_radam_param(&a, &t->model->space, prm,
						t->adam_m + off, t->adam_v + off);
			else if (t->master)
				ath_adam_param64(&a, prm, t->master + off,
						 t->adam_m + off, t->adam_v + off);
			else
				ath_adam_param(&a, prm, t->adam_m + off,
					       t->adam_v + off);
			off += prm->rows * prm->cols;
		}
		if (t->have_comm && t->comm.size > 1) {
			t->spread = 1;
			if ((rc = share_rows(t, fn)))
				break;
		}
		for (size_t k = 0; k < t->nthreads; k++)
			for (int i = 0; i < P_COUNT; i++)
				if (ath_param_learned(i))
					ag_param_zero_grad(&t->w[k].params[i]);
		p.step++;
		double tn = now();
		if (tn - last > 0.5 || p.step == p.steps) {
			last = tn;
			p.loss = loss / (double)seen;
			p.examples_per_sec = (double)seen / (tn - t0);
			/* over ranks the stop waits for the next exchange,
			 * which tells every rank (an epoch's last step
			 * reports below) */
			if (p.step < p.steps && report(t, &p)) {
				if (t->have_comm)
					t->cancel_pending = 1;
				else
					rc = ath_error(ANTHEM_ECANCELED, "%s: "
						       "canceled by the progress "
						       "callback", fn);
			}
		}
	}
	free(order);
	free(items);
	free(heap);
	free(share);
	if (rc) {
		/* a step that stopped half way leaves gradients behind (other
		 * workers', rows not yet sent); a later run must not add them */
		for (size_t k = 0; k < t->nthreads; k++)
			for (int i = 0; i < P_COUNT; i++)
				if (ath_param_learned(i))
					ag_param_zero_grad(&t->w[k].params[i]);
		return rc;
	}
	if (t->have_comm && t->comm.size > 1 && (rc = sync_moments(t, fn)))
		return rc;
	/* weights no reader would accept end the run here: they would become
	 * the best model or a checkpoint that cannot be loaded */
	if ((rc = live_weights(t, epoch, bad_step, fn)))
		return rc;
	if (!isfinite(loss))
		return ath_error(ANTHEM_ERANGE, "%s: epoch %llu: the loss became "
				 "%s at step %llu though the weights are finite",
				 fn, (unsigned long long)epoch,
				 isnan(loss) ? "NaN" : "infinite",
				 (unsigned long long)bad_step);
	t->epoch = (size_t)epoch;
	if ((rc = calibrate_lexical(t, fn)))
		return rc;
	if (ath_lex_on(&t->model->cfg))
		p.lexical_weight = ath_lex_weight(&t->model->cfg,
						  t->model->params);
	double vl = validate(t);
	p.valid_loss = vl;
	/* keep the best; with nothing held out, the last is the best */
	int kept = isnan(vl) || vl < t->best_valid - 1e-6;
	if (kept) { /* the best is now the live model, fingerprint too */
		t->best_valid = isnan(vl) ? t->best_valid : vl;
		t->bad_epochs = 0;
		memcpy(t->best->owned, t->model->owned,
		       t->model->nweights * sizeof(float));
		t->best->fingerprint = ath_model_fingerprint_compute(t->best);
	} else if (++t->bad_epochs >= t->opt.patience && t->opt.patience) {
		t->stopped = 1;
	}
	p.epoch_done = 1;
	p.stopped_early = t->stopped;
	p.loss = loss / (double)(seen ? seen : 1);
	p.examples_per_sec = (double)seen / (now() - t0);
	/* rank 0 alone writes (every rank holds the same state); one that
	 * could not write keeps its own message */
	if (t->opt.checkpoint && (!t->have_comm || t->comm.rank == 0) &&
	    (rc = anthem_trainer_checkpoint(t, t->opt.checkpoint)) &&
	    !t->have_comm)
		return rc;
	int cancel = !rc && report(t, &p) != 0;
	/* the ranks stop together, and only while they agree */
	if (t->have_comm) {
		char when[64], msg[512];
		snprintf(when, sizeof when, "after epoch %llu",
			 (unsigned long long)epoch);
		snprintf(msg, sizeof msg, "%s", rc ? anthem_last_error() : "");
		int a = agree(t, rc ? 2 : cancel || t->cancel_pending,
			      kept ? &t->best->fingerprint : NULL, when, fn);
		return rc ? ath_error(rc, "%s", msg) : a;
	}
	if (cancel)
		return ath_error(ANTHEM_ECANCELED, "%s: canceled by the progress "
				 "callback", fn);
	return ANTHEM_OK;
}

int anthem_trainer_run(anthem_trainer *t)
{
	static const char fn[] = "anthem_trainer_run";
	ATH_CHECK_ARG(t, fn, "t");
	while (t->epoch < t->opt.epochs && !t->stopped) {
		int rc = run_epoch(t, fn);
		if (rc)
			return rc;
	}
	return ANTHEM_OK;
}

/* ---- checkpoints ---------------------------------------------------------- */

#define CK_PREFIX_M "adam.m."
#define CK_PREFIX_V "adam.v."
#define CK_PREFIX_B "best."

int anthem_trainer_checkpoint(const anthem_trainer *t, const char *path)
{
	static const char fn[] = "anthem_trainer_checkpoint";
	ATH_CHECK_ARG(t, fn, "t");
	ATH_CHECK_ARG(path, fn, "path");
	if (t->master)
		return ath_error(ANTHEM_EINVAL, "%s: float64_tables cannot be "
				 "checkpointed (its float64 weights would be "
				 "lost); not written", fn);
	if (t->spread)
		return ath_error(ANTHEM_EINVAL, "%s: inside an epoch over several "
				 "ranks each rank holds the Adam moments of its "
				 "own rows alone: checkpoint at an epoch's end; "
				 "not written", fn);
	/* like anthem_model_save: no file that resuming would refuse */
	int rc = ath_model_check_weights(t->model, path, fn);
	if (!rc)
		rc = ath_model_check_weights(t->best, path, fn);
	if (rc) {
		char msg[400];
		snprintf(msg, sizeof msg, "%s", anthem_last_error());
		return ath_error(rc, "%s; not written, the file is unchanged", msg);
	}
	ath_kv kv[32];
	size_t nkv = ath_model_kvs(t->model, kv);
	kv[nkv++] = (ath_kv){.key = "train.epoch", .type = ATH_KV_U64, .u = t->epoch};
	kv[nkv++] = (ath_kv){.key = "train.step", .type = ATH_KV_U64, .u = t->step};
	kv[nkv++] = (ath_kv){.key = "train.bad_epochs", .type = ATH_KV_U64, .u = t->bad_epochs};
	kv[nkv++] = (ath_kv){.key = "train.stopped", .type = ATH_KV_U64, .u = (uint64_t)t->stopped};
	kv[nkv++] = (ath_kv){.key = "train.best_valid", .type = ATH_KV_F64, .f = t->best_valid};
	kv[nkv++] = (ath_kv){.key = "train.seed", .type = ATH_KV_U64, .u = t->opt.seed};
	kv[nkv++] = (ath_kv){.key = "train.data_fingerprint", .type = ATH_KV_U64, .u = t->data_fp};
	ath_tensor ten[4 * P_COUNT];
	char names[3 * P_COUNT][ATH_MAX_KEY];
	size_t nt = ath_model_tensors(t->model, ten);
	const char *prefix[3] = {CK_PREFIX_M, CK_PREFIX_V, CK_PREFIX_B};
	const float *base[3] = {t->adam_m, t->adam_v, t->best->owned};
	for (int s = 0; s < 3; s++) {
		size_t off = 0;
		for (int i = 0; i < P_COUNT; i++) {
			const ag_param *p = &t->model->params[i];
			char *nm = names[s * P_COUNT + i];
			snprintf(nm, ATH_MAX_KEY, "%s%s", prefix[s], p->name);
			ten[nt++] = (ath_tensor){.name = nm, .rows = p->rows,
						 .cols = p->cols,
						 .data = base[s] + off};
			off += p->rows * p->cols;
		}
	}
	return ath_container_write_version(path, ckpt_magic,
					   ath_model_format_version(t->model),
					   kv, nkv, ten, nt, fn);
}

static uint64_t kv_u64(const ath_container *f, const char *key, int *ok)
{
	const ath_kv *kv = ath_container_kv(f, key);
	if (!kv || kv->type != ATH_KV_U64) {
		*ok = 0;
		return 0;
	}
	return kv->u;
}

int anthem_trainer_resume(anthem_trainer **out, const char *path,
			  const anthem_catalog *c, const anthem_judgments *j,
			  const anthem_train_options *o)
{
	static const char fn[] = "anthem_trainer_resume";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(path, fn, "checkpoint");
	anthem_trainer *t;
	int rc = trainer_new(&t, c, j, o, fn);
	if (rc)
		return rc;
	if (t->opt.float64_tables) {
		anthem_trainer_free(t);
		return ath_error(ANTHEM_EINVAL, "%s: float64_tables cannot "
				 "resume: a checkpoint has no float64 weights",
				 fn);
	}
	ath_container f;
	if ((rc = ath_container_open(&f, path, ckpt_magic, 0, fn))) {
		anthem_trainer_free(t);
		return rc;
	}
	anthem_model_config cfg;
	uint64_t data_fp;
	int ok = 1;
	rc = ath_model_config_from(&f, &cfg, &data_fp, path, fn);
	/* the metadata's sizes are untrusted until the file holds tensors of
	 * those shapes (the container reader has checked those against the
	 * file's size): check before allocating in proportion to them */
	const char *sets[4] = {"", CK_PREFIX_B, CK_PREFIX_M, CK_PREFIX_V};
	for (int s = 0; !rc && s < 4; s++) {
		anthem_model *view = NULL;
		rc = ath_model_wrap(&view, &cfg, fn);
		if (!rc)
			rc = ath_model_bind_tensors(view, &f, sets[s], 0, path, fn);
		anthem_model_free(view);
	}
	if (!rc)
		rc = ath_model_new(&t->model, &cfg, fn);
	if (!rc)
		rc = ath_model_new(&t->best, &cfg, fn);
	if (!rc && kv_u64(&f, "train.data_fingerprint", &ok) != t->data_fp)
		rc = ath_error(ANTHEM_EMISMATCH, "%s: %s: the checkpoint was made "
			       "with other training data", fn, path);
	if (!rc) {
		t->model->data_fingerprint = t->best->data_fingerprint = t->data_fp;
		t->epoch = (size_t)kv_u64(&f, "train.epoch", &ok);
		t->step = kv_u64(&f, "train.step", &ok);
		t->bad_epochs = (size_t)kv_u64(&f, "train.bad_epochs", &ok);
		t->stopped = (int)kv_u64(&f, "train.stopped", &ok);
		const ath_kv *bv = ath_container_kv(&f, "train.best_valid");
		if (!ok || !bv || bv->type != ATH_KV_F64)
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: training state "
				       "metadata is missing", fn, path);
		else
			t->best_valid = bv->f;
	}
	if (!rc)
		rc = ath_model_bind_tensors(t->model, &f, "", 1, path, fn);
	if (!rc)
		rc = ath_model_bind_tensors(t->best, &f, CK_PREFIX_B, 1, path, fn);
	/* the loader's bounds (docs/format.md): a checkpoint whose weights
	 * no reader accepts would train on, or end in, a model nobody loads */
	if (!rc)
		rc = ath_model_check_weights(t->model, path, fn);
	if (!rc) {
		char name[512];
		snprintf(name, sizeof name, "%.400s (best.*)", path);
		rc = ath_model_check_weights(t->best, name, fn);
	}
	if (!rc)
		t->best->fingerprint = ath_model_fingerprint_compute(t->best);
	if (!rc)
		rc = finish_setup(t, fn);
	/* the optimiser's moments, laid out like the weights */
	const char *prefix[2] = {CK_PREFIX_M, CK_PREFIX_V};
	float *dst[2] = {t->adam_m, t->adam_v};
	for (int s = 0; !rc && s < 2; s++) {
		anthem_model view = *t->model;
		ath_params_bind(&cfg, dst[s], NULL, view.params);
		rc = ath_model_bind_tensors(&view, &f, prefix[s], 1, path, fn);
	}
	/* Adam's moments: finite, the second one not negative (its square
	 * root divides the step) */
	for (size_t k = 0; !rc && k < t->model->nweights; k++)
		if (!isfinite(t->adam_m[k]) || !(t->adam_v[k] >= 0.0f) ||
		    !isfinite(t->adam_v[k]))
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: optimiser state "
				       "(adam.m/adam.v) holds %g / %g at %zu: "
				       "must be finite, adam.v >= 0", fn, path,
				       t->adam_m[k], t->adam_v[k], k);
	ath_container_close(&f);
	if (rc) {
		anthem_trainer_free(t);
		return rc;
	}
	*out = t;
	return ANTHEM_OK;
}
