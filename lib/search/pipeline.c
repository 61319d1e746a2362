/* The query pipeline (docs/architecture.md).  One query:
 *
 *   read     each text once: trigrams, the network's query graph (its
 *            stage-1 region and the inputs of stage 2), the lexical words
 *   stage 1  sources: the region scan over the index (the k1 nearest,
 *            scanned to depth max(k, k1)) and, with the lexical term, the
 *            k1 titles of highest BM25 from the index's word postings;
 *            candidates are their union.  A new source (an approximate
 *            index) adds its positions in stage1() like the lexical one.
 *   stage 2  each candidate's title read once, its distance to every text
 *            by the full model (ath_net_stage2), combined over AND / OR
 *   order    the candidates by stage-2 distance, then the rest of the
 *            scan by stage-1 distance; cut to k
 *
 * The public calls below, anthem_evaluate and the trainer's choice of the
 * lexical weight all rank through ath_pipe_run and ath_pipe_order. */
#include "search/pipeline.h"
#include "search/rank.h"
#include "search/scan.h"

#include "common/internal.h"
#include "common/parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- options ------------------------------------------------------------------ */

int anthem_search_options_init_size(anthem_search_options *dst, size_t size)
{
	anthem_search_options o;
	memset(&o, 0, sizeof o);
	o.k = 10;
	o.k1 = 200;
	o.threads = 1;
	return ath_init_struct(dst, size, &o, sizeof o,
			       "anthem_search_options_init");
}

static int check_texts(const char *const *texts, size_t n, const char *what,
		       const char *fn)
{
	if (n > ATH_MAX_COMPOSE)
		return ath_error(ANTHEM_ERANGE, "%s: %zu %s, at most %d", fn, n,
				 what, ATH_MAX_COMPOSE);
	if (n && !texts)
		return ath_error(ANTHEM_EINVAL, "%s: %s must not be NULL", fn,
				 what);
	for (size_t i = 0; i < n; i++)
		if (!texts[i])
			return ath_error(ANTHEM_EINVAL, "%s: %s[%zu] is NULL", fn,
					 what, i);
	return ANTHEM_OK;
}

/* The filter as one bitset over the index's positions. */
static int make_filter(ath_pipe *p, const anthem_search_options *o,
		       const char *fn)
{
	if (!o->allow && !o->allow_bits)
		return ANTHEM_OK;
	size_t n = p->ix->n, words = (n + 63) / 64;
	p->allow = calloc(words ? words : 1, sizeof *p->allow);
	if (!p->allow)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!o->allow) {
		memcpy(p->allow, o->allow_bits, words * sizeof *p->allow);
	} else {
		if (o->n_allow && !o->allow)
			return ath_error(ANTHEM_EINVAL, "%s: allow must not be "
					 "NULL", fn);
		for (size_t i = 0; i < o->n_allow; i++) {
			if (o->allow[i] >= n)
				return ath_error(ANTHEM_ERANGE, "%s: allow[%zu] is "
						 "%zu, the index holds %zu products",
						 fn, i, o->allow[i], n);
			p->allow[o->allow[i] / 64] |= (uint64_t)1 << (o->allow[i] % 64);
		}
		for (size_t i = 0; o->allow_bits && i < words; i++)
			p->allow[i] &= o->allow_bits[i];
	}
	if (n % 64) /* bits past the last product: never a hit */
		p->allow[words - 1] &= ((uint64_t)1 << (n % 64)) - 1;
	return ANTHEM_OK;
}

static int allowed(const ath_pipe *p, size_t i)
{
	return !p->allow || (p->allow[i / 64] >> (i % 64) & 1u);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int ath_pipe_stopped(const ath_pipe *p, const char *fn)
{
	if (!p)
		return ANTHEM_OK;
	if (p->cancel && *p->cancel)
		return ath_error(ANTHEM_ECANCELED, "%s: canceled", fn);
	if (p->deadline > 0.0 && now() >= p->deadline)
		return ath_error(ANTHEM_ECANCELED, "%s: timed out", fn);
	return ANTHEM_OK;
}

void ath_pipe_done(ath_pipe *p)
{
	free(p->allow);
	p->allow = NULL;
}

/* need_points: stage 1 will read the index's points (they must be of the
 * model's dimension); stage 2 alone reads only the titles. */
static int pipe_init(ath_pipe *p, const anthem_model *m, const anthem_index *ix,
		     const anthem_search_options *opts, int need_points,
		     const char *fn)
{
	memset(p, 0, sizeof *p);
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(ix, fn, "ix");
	anthem_search_options o;
	anthem_search_options_init(&o);
	int rc = ath_read_options(&o, sizeof o, opts, "anthem_search_options", fn);
	if (rc)
		return rc;
	if ((rc = check_texts(o.and_queries, o.n_and, "and_queries", fn)) ||
	    (rc = check_texts(o.or_queries, o.n_or, "or_queries", fn)))
		return rc;
	if (need_points && anthem_model_dim(m) != ix->dim)
		return ath_error(ANTHEM_EMISMATCH, "%s: model dimension %zu, "
				 "index %zu", fn, anthem_model_dim(m), ix->dim);
	p->m = m;
	p->ix = ix;
	/* nothing beyond the index size is needed (and a huge k must not
	 * size an allocation) */
	p->k = o.k < ix->n ? o.k : ix->n;
	p->k1 = o.k1 ? o.k1 : 200;
	if (p->k1 > ix->n)
		p->k1 = ix->n;
	p->depth = p->k > p->k1 ? p->k : p->k1;
	p->threads = ath_threads(o.threads);
	p->nand = o.n_and;
	p->nor = o.n_or;
	for (size_t i = 0; i < o.n_and; i++)
		p->and_[i] = o.and_queries[i];
	for (size_t i = 0; i < o.n_or; i++)
		p->or_[i] = o.or_queries[i];
	p->stage1_only = o.stage1_only != 0;
	p->cancel = o.cancel;
	if (o.timeout_ms)
		p->deadline = now() + (double)o.timeout_ms / 1e3;
	if (o.stage1 < ANTHEM_STAGE1_AUTO || o.stage1 > ANTHEM_STAGE1_GRAPH) {
		return ath_error(ANTHEM_EINVAL, "%s: stage1 is %d, must be "
				 "ANTHEM_STAGE1_AUTO, _EXACT or _GRAPH", fn,
				 o.stage1);
	}
	/* the graph only when asked for (auto scans until the graph's
	 * recall reaches its target, docs/architecture.md); a filter
	 * scans (a beam through a sparse allow-list finds few) */
	p->graph = ix->ann.on && !o.allow && !o.allow_bits &&
		   o.stage1 == ANTHEM_STAGE1_GRAPH;
	/* the int8 points when the index has them, unless the exact scan is
	 * asked for (docs/architecture.md, "Compact points") */
	p->compact = !p->graph && ix->scan8.on && o.stage1 != ANTHEM_STAGE1_EXACT;
	/* the box prefilter (docs/architecture.md): below 16 times its
	 * depth, it would pass a large share of the catalogue for little
	 * gain */
	size_t least = 2 * p->depth;
	p->pre = !p->compact || o.prefilter == ANTHEM_PREFILTER_OFF ? 0
		 : o.prefilter == 0 ? (ix->n / 16 >= least ? least : 0)
		 : o.prefilter > least ? o.prefilter : least;
	if (p->pre > ix->n)
		p->pre = ix->n;
	p->ef = o.ef ? o.ef : 2 * p->depth;
	if (p->ef < 64)
		p->ef = 64;
	p->elements = o.stage2_elements;
	p->lexical = ath_lex_on(&m->cfg);
	p->postings = p->lexical && ath_index_has_postings(ix, &m->cfg);
	rc = make_filter(p, &o, fn);
	if (rc)
		ath_pipe_done(p);
	return rc;
}

int ath_pipe_init(ath_pipe *p, const anthem_model *m, const anthem_index *ix,
		  const anthem_search_options *opts, const char *fn)
{
	return pipe_init(p, m, ix, opts, 1, fn);
}

/* ---- reading a query ----------------------------------------------------------- */

typedef struct text_state {
	ag_tape tape; /* holds the query graph */
	ath_query q;
	ath_lexq lq;
	anthem_hyperboloid *h;
} text_state;

typedef struct qstate {
	size_t n, nand; /* texts; 1..nand are the ANDs, the rest ORs */
	text_state t[ATH_MAX_TEXTS];
	anthem_hyperboloid *region; /* composed (NULL: t[0].h) */
	int simple;                 /* the blocked scan applies */
	ath_scan_query sq;
} qstate;

static void qstate_free(qstate *s)
{
	for (size_t i = 0; i < s->n; i++) {
		ag_tape_free(&s->t[i].tape);
		anthem_hyperboloid_free(s->t[i].h);
	}
	anthem_hyperboloid_free(s->region);
	s->n = 0;
}

/* The tape's parameters are the model's, read-only (no gradients). */
static ag_param *ro_params(const anthem_model *m)
{
	return (ag_param *)m->params;
}

static int read_text(const ath_pipe *p, const char *text, text_state *ts,
		     const char *fn)
{
	const anthem_model *m = p->m;
	uint32_t ids[64];
	size_t L = ath_model_tokens(m, text, 0, ids, NULL);
	ag_tape_init(&ts->tape, &m->space, 0);
	ath_net_query(&ts->tape, &m->cfg, ro_params(m), ids, L, &ts->q);
	ath_net_query_prune(&ts->tape, &ts->q, p->elements);
	if (ts->tape.failed)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ts->lq.n = 0;
	if (p->lexical)
		ath_lex_query(&m->cfg, m->params, text, &ts->lq);
	return anthem_hyperboloid_create(&ts->h, m->cfg.geometry,
					 m->cfg.curvature, m->cfg.dim,
					 ts->q.c1->val, ts->q.l1->val);
}

/* Every text of the query once; the composed region:
 * (query AND and...) OR or... */
static int read_query(const ath_pipe *p, const char *query, qstate *s,
		      const char *fn)
{
	memset(s, 0, offsetof(qstate, sq));
	if (!query)
		return ath_error(ANTHEM_EINVAL, "%s: query must not be NULL", fn);
	s->nand = p->nand;
	int rc = ANTHEM_OK;
	for (size_t i = 0; !rc && i < 1 + p->nand + p->nor; i++) {
		const char *text = i == 0 ? query : i <= p->nand
				   ? p->and_[i - 1] : p->or_[i - 1 - p->nand];
		s->n = i + 1;
		rc = read_text(p, text, &s->t[i], fn);
	}
	for (size_t i = 1; !rc && i < s->n; i++) {
		anthem_hyperboloid *next = NULL;
		const anthem_hyperboloid *a = s->region ? s->region : s->t[0].h;
		rc = i <= s->nand ? anthem_hyperboloid_intersect(&next, a, s->t[i].h)
				  : anthem_hyperboloid_union(&next, a, s->t[i].h);
		if (!rc) {
			anthem_hyperboloid_free(s->region);
			s->region = next;
		}
	}
	/* (the model's dimension: anthem_score reads an index of another) */
	if (!rc && s->n == 1 && p->m->cfg.dim <= ATH_SCAN_MAX_DIM) {
		float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
		anthem_hyperboloid_get(s->t[0].h, 0, 0, c, l);
		ath_scan_prepare(&p->m->space, p->m->cfg.dim, c, l, p->m->cfg.gamma,
				 &s->sq);
		s->simple = 1;
	}
	return rc;
}

/* ---- buffers -------------------------------------------------------------------- */

void ath_pwork_free(ath_pwork *w)
{
	free(w->cand);
	free(w->d1);
	free(w->bm);
	free(w->g);
	free(w->tail);
	free(w->tail_d1);
	free(w->tail_bm);
	free(w->scan);
	free(w->sdoc);
	free(w->sdoc2);
	free(w->sval);
	free(w->sval2);
	free(w->sscore);
	free(w->score);
	free(w->acc);
	free(w->key);
	free(w->order);
	free(w->scan_work);
	memset(w, 0, sizeof *w);
}

/* A buffer of n items of size bytes in place of old (whose contents go). */
static void *fresh(void *old, size_t n, size_t size)
{
	free(old);
	return malloc(n * size);
}

#define FRESH(ptr, n) ((ptr) = fresh((ptr), (n), sizeof *(ptr)))

/* Room for this pipe's queries (kept when large enough). */
static int pwork_fit(const ath_pipe *p, ath_pwork *w, size_t ntext,
		     const char *fn)
{
	/* per candidate (up to k1 from each source), and per text */
	size_t cap_cand = (p->lexical ? 2 : 1) * p->k1 * ntext + 1;
	/* the scan's hits and the tail, and the keys and orders of either
	 * list (the same length: the larger) */
	size_t cap_key = p->depth + 1 > cap_cand ? p->depth + 1 : cap_cand;
	/* the int8 scan's 2 depth hits beside the depth re-scored ones */
	size_t kk = p->pre > 2 * p->depth ? p->pre : 2 * p->depth;
	if (p->compact && p->depth + kk + 1 > cap_key)
		cap_key = p->depth + kk + 1;
	/* catalogue-sized: the BM25 of every title, unless the postings
	 * give one text's sparsely (sparse_bm25) */
	size_t cap_n = p->lexical && (!p->postings || ntext > 1) ? p->ix->n + 1 : 1;
	if (cap_cand > w->cap_cand) {
		FRESH(w->cand, cap_cand);
		FRESH(w->d1, cap_cand);
		FRESH(w->bm, cap_cand);
		FRESH(w->g, cap_cand);
		w->cap_cand = cap_cand;
	}
	if (cap_key > w->cap_scan) {
		FRESH(w->scan, cap_key);
		FRESH(w->tail, cap_key);
		FRESH(w->tail_d1, cap_key);
		FRESH(w->tail_bm, cap_key);
		FRESH(w->key, cap_key);
		FRESH(w->order, cap_key);
		w->cap_scan = cap_key;
	}
	if (cap_n > w->cap_n) {
		FRESH(w->score, cap_n);
		FRESH(w->acc, cap_n);
		w->cap_n = cap_n;
	}
	if (!w->scan_work)
		w->scan_work = aligned_alloc(64, ath_scan_work_floats(ATH_SCAN_MAX_DIM) *
						 sizeof(float));
	if (!w->cand || !w->d1 || !w->bm || !w->g || !w->scan || !w->tail ||
	    !w->tail_d1 || !w->tail_bm || !w->key || !w->order || !w->score ||
	    !w->acc || !w->scan_work) {
		ath_pwork_free(w);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	return ANTHEM_OK;
}

/* ---- stage 1: the region scan ----------------------------------------------------- */

typedef struct scan_job {
	const ath_scan_query *q;
	const anthem_index *ix;
	const uint64_t *allow;
	int compact;     /* the int8 points */
	int pre;         /* ...through the box prefilter */
	const float *n2; /* the float points' norms (not compact) */
	ath_heap *heaps; /* one per thread */
	float *work;     /* ath_scan_work_floats per thread */
	size_t chunks, nblocks, work_floats;
} scan_job;

static void scan_chunk(size_t c, size_t tid, void *arg)
{
	scan_job *j = arg;
	size_t lo = j->nblocks * c / j->chunks, hi = j->nblocks * (c + 1) / j->chunks;
	float *work = j->work + tid * j->work_floats;
	if (j->pre)
		ath_scan8_prefilter(j->q, &j->ix->scan8, j->ix->n, lo, hi,
				    j->allow, &j->heaps[tid]);
	else if (j->compact)
		ath_scan8_blocks(j->q, &j->ix->scan8, j->ix->n, lo, hi, j->allow,
				 work, &j->heaps[tid]);
	else
		ath_scan_blocks(j->q, j->ix->blocks, j->n2, j->ix->n, lo, hi,
				j->allow, work, &j->heaps[tid]);
}

/* One simple region: each thread keeps its own bounded heap over the
 * chunks it takes; the union of the heaps holds the k best under the
 * total order (distance, index), so the result does not depend on the
 * number of threads or on who took which chunk.  compact: the scan of the
 * int8 points keeps the 2k best by their decoded distance, which the
 * float points then re-score (ath_scan_rescore): out has room for 3k
 * hits then.  pre (compact only, 0 for none): the box prefilter keeps the
 * pre best by its cheap value instead, and they are re-scored in float;
 * out has room for k + max(pre, 2k) hits then. */
static int scan_simple(const anthem_index *ix, const ath_scan_query *q,
		       size_t k, size_t threads, const uint64_t *allow,
		       int compact, size_t pre, float *work1, anthem_hit *out,
		       size_t *n, const char *fn)
{
	size_t nblocks = (ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK;
	if (!compact || !ath_scan8_prefilter_ok(q))
		pre = 0;
	size_t kk = pre ? pre : compact ? 2 * k : k;
	/* a thread per 256 blocks at least: below that, starting one costs
	 * more than it saves */
	if (threads > nblocks / 256)
		threads = nblocks / 256 ? nblocks / 256 : 1;
	/* the float scan reads every norm; the int8 scan's re-scoring
	 * computes its candidates' blocks' when the index keeps none */
	const float *n2 = compact ? ix->norm2 : ath_index_norms(ix, fn);
	if (!n2 && !compact)
		return ANTHEM_ENOMEM;
	if (threads == 1 && work1) {
		/* one heap, in the caller's buffers (work1: the query's scan
		 * work space): what a batch's queries do, with no allocation */
		ath_heap hp = {compact ? out + k : out, 0, kk};
		if (compact) {
			if (pre) {
				ath_scan8_prefilter(q, &ix->scan8, ix->n, 0,
						    nblocks, allow, &hp);
			} else {
				ath_scan8_blocks(q, &ix->scan8, ix->n, 0,
						 nblocks, allow, work1, &hp);
			}
			ath_scan_rescore(q, ix->blocks, n2, hp.h, hp.n, k,
					 work1, out, n);
		} else {
			ath_scan_blocks(q, ix->blocks, n2, ix->n, 0, nblocks,
					allow, work1, &hp);
			ath_heap_sort(&hp);
			*n = hp.n;
		}
		return ANTHEM_OK;
	}
	ath_heap *heaps = calloc(threads, sizeof *heaps);
	anthem_hit *hits = malloc(threads * kk * sizeof *hits);
	size_t wf = ath_scan_work_floats(ix->dim);
	float *work = aligned_alloc(64, threads * wf * sizeof *work);
	int rc = heaps && hits && work
			 ? ANTHEM_OK
			 : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc) {
		for (size_t t = 0; t < threads; t++)
			heaps[t] = (ath_heap){hits + t * kk, 0, kk};
		/* several chunks per thread, so that a thread slowed by other
		 * work on the machine does not hold the others up */
		scan_job j = {q, ix, allow, compact, pre != 0, n2, heaps, work,
			      threads == 1 ? 1 : threads * 8, nblocks, wf};
		if (j.chunks > nblocks)
			j.chunks = nblocks ? nblocks : 1;
		if (threads == 1)
			scan_chunk(0, 0, &j);
		else
			ath_parallel_for(j.chunks, threads, scan_chunk, &j);
		/* merge: all the threads' hits through one heap */
		ath_heap all = heaps[0];
		for (size_t t = 1; t < threads; t++)
			for (size_t i = 0; i < heaps[t].n; i++)
				ath_heap_push(&all, heaps[t].h[i].index,
					      heaps[t].h[i].distance);
		if (compact) {
			ath_scan_rescore(q, ix->blocks, n2, all.h, all.n, k,
					 work, out, n);
		} else {
			ath_heap_sort(&all);
			memcpy(out, all.h, all.n * sizeof *out);
			*n = all.n;
		}
	}
	free(heaps);
	free(hits);
	free(work);
	return rc;
}

/* Unions and intersections (and dimensions past the blocked loop): the
 * general distance, over chunks of points copied out of the blocks (so
 * the scan never needs a row-major copy of the whole index). */
static int scan_general(const anthem_index *ix, const anthem_hyperboloid *h,
			float gamma, size_t k, const uint64_t *allow,
			const ath_pipe *stop, anthem_hit *out, size_t *n,
			const char *fn)
{
	enum { CHUNK = 4096 };
	/* every product costs a box distance per term of every branch, in
	 * time proportional to the dimension: a region composed with itself
	 * a few times holds thousands of terms */
	uint64_t terms = 0;
	for (size_t b = 0; b < anthem_hyperboloid_branch_count(h); b++)
		terms += anthem_hyperboloid_term_count(h, b);
	uint64_t work = terms * ix->n * ix->dim; /* < 2^16 x 2^32 x 2^12 */
	/* one term (a simple region of a dimension past the blocked loop's)
	 * is what any query costs: never refused */
	if (terms > 1 && work > ANTHEM_MAX_SCAN_WORK)
		return ath_error(ANTHEM_ERANGE, "%s: the region has %llu terms "
				 "(%zu branches): scanning %zu products of "
				 "dimension %zu is %llu term x product x "
				 "dimension, at most %llu (ANTHEM_MAX_SCAN_WORK)",
				 fn, (unsigned long long)terms,
				 anthem_hyperboloid_branch_count(h), ix->n,
				 ix->dim, (unsigned long long)work,
				 (unsigned long long)ANTHEM_MAX_SCAN_WORK);
	float *pts = malloc(CHUNK * ix->dim * sizeof *pts);
	float *d = malloc(CHUNK * sizeof *d);
	anthem_hit *hits = malloc(k * sizeof *hits);
	int rc = pts && d && hits ? ANTHEM_OK
				  : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_heap hp = {hits, 0, k};
	for (size_t lo = 0; !rc && lo < ix->n; lo += CHUNK) {
		size_t hi = ix->n - lo < CHUNK ? ix->n : lo + CHUNK;
		anthem_vectors *v = NULL;
		if ((rc = ath_pipe_stopped(stop, fn)))
			break;
		ath_scan_from_blocks(ix->blocks, lo, hi, ix->dim, pts);
		rc = anthem_vectors_wrap(&v, hi - lo, ix->dim, pts);
		if (!rc)
			rc = anthem_hyperboloid_distances(h, v, gamma, d);
		anthem_vectors_free(v);
		for (size_t i = 0; !rc && i < hi - lo; i++)
			if (!allow || (allow[(lo + i) / 64] >> ((lo + i) % 64) & 1u))
				ath_heap_push(&hp, lo + i, d[i]);
	}
	if (!rc) {
		ath_heap_sort(&hp);
		memcpy(out, hp.h, hp.n * sizeof *out);
		*n = hp.n;
	}
	free(pts);
	free(d);
	free(hits);
	return rc;
}

/* The stage-1 distance of product i, as the scan computes it. */
static int region_at(const ath_pipe *p, const qstate *s, ath_pwork *w,
		     size_t i, float *d1)
{
	const anthem_index *ix = p->ix;
	if (s->simple) {
		*d1 = ath_scan_at(&s->sq, ix->blocks, ix->norm2, i, w->scan_work);
		return ANTHEM_OK;
	}
	float pt[ANTHEM_MAX_DIM];
	anthem_vectors *v = NULL;
	ath_scan_from_blocks(ix->blocks, i, i + 1, ix->dim, pt);
	int rc = anthem_vectors_wrap(&v, 1, ix->dim, pt);
	if (!rc)
		rc = anthem_hyperboloid_distances(s->region ? s->region : s->t[0].h,
						  v, p->m->cfg.gamma, d1);
	anthem_vectors_free(v);
	return rc;
}

/* Stage 1 alone on a caller's region (a model's embedded query, or an
 * AND / OR of them). */
int anthem_index_scan_threads(const anthem_index *ix,
			      const anthem_hyperboloid *h, float gamma,
			      size_t k, size_t threads, anthem_hit *out,
			      size_t *n)
{
	static const char fn[] = "anthem_index_scan";
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(h, fn, "h");
	ATH_CHECK_ARG(n, fn, "n");
	*n = 0;
	if (k == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(out, fn, "out");
	if (anthem_hyperboloid_dim(h) != ix->dim)
		return ath_error(ANTHEM_EMISMATCH, "%s: hyperboloid dim %zu, index "
				 "%zu", fn, anthem_hyperboloid_dim(h), ix->dim);
	if (!(isfinite(gamma) && gamma >= 0.0f))
		return ath_error(ANTHEM_EINVAL, "%s: gamma is %g, must be finite "
				 "and >= 0", fn, gamma);
	/* the blocked loop does not look at the ball (a general region's
	 * distances do): a crafted index's far point is refused here */
	geo_space hs = geo_space_of(anthem_hyperboloid_geometry(h),
				    anthem_hyperboloid_curvature(h));
	int rc = ath_index_check_space(ix, &hs, fn);
	if (rc)
		return rc;
	if (k > ix->n)
		k = ix->n;
	if (k == 0)
		return ANTHEM_OK;
	if (anthem_hyperboloid_branch_count(h) != 1 ||
	    anthem_hyperboloid_term_count(h, 0) != 1 ||
	    ix->dim > ATH_SCAN_MAX_DIM)
		return scan_general(ix, h, gamma, k, NULL, NULL, out, n, fn);
	float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
	anthem_hyperboloid_get(h, 0, 0, c, l);
	geo_space s = geo_space_of(anthem_hyperboloid_geometry(h),
				   anthem_hyperboloid_curvature(h));
	ath_scan_query *q = malloc(sizeof *q);
	if (!q)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_scan_prepare(&s, ix->dim, c, l, gamma, q);
	rc = scan_simple(ix, q, k, ath_threads(threads), NULL, 0, 0, NULL, out, n,
			     fn);
	free(q);
	return rc;
}

int anthem_index_scan(const anthem_index *ix, const anthem_hyperboloid *h,
		      float gamma, size_t k, anthem_hit *out, size_t *n)
{
	return anthem_index_scan_threads(ix, h, gamma, k, 1, out, n);
}

/* ---- stage 1: the lexical source (step 8) ------------------------------------------- */

/* BM25 of every title for one text into out (n floats). */
static void text_bm25(const ath_pipe *p, const text_state *ts, float *out)
{
	const anthem_index *ix = p->ix;
	const anthem_model *m = p->m;
	if (p->postings) {
		memset(out, 0, ix->n * sizeof *out);
		ath_postings_scores(&ix->post, m->params, &ts->lq, out);
	} else { /* loaded without this model: read every title */
		for (size_t i = 0; i < ix->n; i++)
			out[i] = ath_lex_title(&m->cfg, m->params, &ts->lq,
					       ath_index_title(ix, i));
	}
}

/* The query's BM25 of every title into w->acc: a text's, or combined like
 * the distance (the smallest over an intersection, the largest over a
 * union). */
static void query_bm25(const ath_pipe *p, const qstate *s, ath_pwork *w)
{
	size_t n = p->ix->n;
	text_bm25(p, &s->t[0], w->acc);
	for (size_t t = 1; t < s->n; t++) {
		text_bm25(p, &s->t[t], w->score);
		for (size_t i = 0; i < n; i++)
			w->acc[i] = t <= s->nand ? fminf(w->acc[i], w->score[i])
						 : fmaxf(w->acc[i], w->score[i]);
	}
}

static int by_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

static int holds(const size_t *sorted, size_t n, size_t v)
{
	return bsearch(&v, sorted, n, sizeof v, by_size) != NULL;
}

/* The BM25 of one text's titles from the postings, sparse: only the
 * titles sharing a word with it, the same floats as query_bm25's dense
 * array holds for them (ath_postings_sparse), for a fraction of its
 * catalogue-sized work (at 10M products, 40 MB written and read twice a
 * query). */
static int sparse_bm25(const ath_pipe *p, const text_state *ts, ath_pwork *w,
		       const char *fn)
{
	size_t cap = ath_postings_count(&p->ix->post, &ts->lq) + 1;
	if (cap > w->cap_s) {
		FRESH(w->sdoc, cap);
		FRESH(w->sdoc2, cap);
		FRESH(w->sval, cap);
		FRESH(w->sval2, cap);
		FRESH(w->sscore, cap);
		w->cap_s = cap;
		if (!w->sdoc || !w->sdoc2 || !w->sval || !w->sval2 ||
		    !w->sscore) {
			w->cap_s = 0;
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		}
	}
	w->ns = ath_postings_sparse(&p->ix->post, p->m->params, &ts->lq,
				    w->sdoc, w->sval, w->sdoc2, w->sval2);
	w->sparse = 1;
	return ANTHEM_OK;
}

static int by_doc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The query's BM25 of title pos (0 when it shares no word). */
static float bm_at(const ath_pwork *w, size_t pos)
{
	if (!w->sparse)
		return w->acc[pos];
	uint32_t key = (uint32_t)pos;
	const uint32_t *at = bsearch(&key, w->sdoc, w->ns, sizeof key, by_doc);
	return at ? w->sval[at - w->sdoc] : 0.0f;
}

/* Append to the candidates the k1 allowed titles of highest BM25 (> 0)
 * that the scan did not bring: over the catalogue's BM25 (acc), or over
 * the sparse titles, which ascend as positions do, so that ties go the
 * same way (ath_topk: the smaller index first). */
static void lexical_source(const ath_pipe *p, ath_pwork *w, size_t nscan)
{
	size_t n = w->sparse ? w->ns : p->ix->n;
	float *score = w->sparse ? w->sscore : w->score;
	for (size_t i = 0; i < n; i++) { /* ath_topk keeps the smallest */
		size_t pos = w->sparse ? w->sdoc[i] : i;
		float v = w->sparse ? w->sval[i] : w->acc[i];
		score[i] = v > 0.0f && allowed(p, pos) ? -v : INFINITY;
	}
	size_t *top = w->tail; /* free until the tail is made */
	size_t nt = ath_topk(score, n, p->k1, top);
	/* the scan's candidates, sorted, to look the new ones up in */
	size_t *seen = w->order;
	memcpy(seen, w->cand, nscan * sizeof *seen);
	qsort(seen, nscan, sizeof *seen, by_size);
	for (size_t r = 0; r < nt && isfinite(score[top[r]]); r++) {
		size_t pos = w->sparse ? w->sdoc[top[r]] : top[r];
		if (!holds(seen, nscan, pos))
			w->cand[w->nc++] = pos;
	}
}

/* ---- stage 2 ---------------------------------------------------------------------- */

typedef struct stage2_job {
	const ath_pipe *p;
	const qstate *s;
	ath_pwork *w;
	size_t parts;
	int *rc;             /* per part */
	char (*error)[256];  /* per part: a thread's message is its own */
} stage2_job;

/* Candidates [lo, hi) on tape t, STAGE2_CHUNK titles at a time: each
 * title read once, the chunk's titles one node per layer and one
 * [E x sum T] attention grid per text (one gemm, not one per title), each
 * title's distance to every text by the full model.  A title's row of
 * every product is the same whatever titles share its chunk (each is its
 * own dot products and its own segment), so the same bits whichever
 * chunks, tape or thread.  4 titles: the grid of a long query (406
 * elements x 4 titles x 100 trigrams, 650 KB) still about fits in L2; 8
 * and 16, and chunks sized to a grid budget, were slower at the p99
 * (docs/performance.md, "Stage 2's elements"). */
#define STAGE2_CHUNK 4
static int stage2_range(const ath_pipe *p, const qstate *s, ath_pwork *w,
			size_t lo, size_t hi, ag_tape *t, const char *fn)
{
	const anthem_model *m = p->m;
	size_t cap = m->cfg.max_title_trigrams; /* a title's most */
	uint32_t *tids = ag_alloc(t, STAGE2_CHUNK * cap * sizeof *tids);
	const uint32_t *ids[STAGE2_CHUNK];
	size_t T[STAGE2_CHUNK];
	if (!tids)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ag_mark mark = ag_tape_mark(t);
	for (size_t i = lo, n; i < hi; i += n) {
		n = hi - i < STAGE2_CHUNK ? hi - i : STAGE2_CHUNK;
		for (size_t k = 0; k < n; k++) {
			const char *title = ath_index_title(p->ix, w->cand[i + k]);
			ids[k] = tids + k * cap;
			T[k] = ath_model_tokens(m, title, 1, tids + k * cap, NULL);
		}
		ath_title ti;
		ath_net_titles(t, &m->cfg, ro_params(m), ids, T, n, &ti);
		/* each text's grid goes once its distances are read */
		ag_mark titles = ag_tape_mark(t);
		for (size_t x = 0; x < s->n; x++) {
			ath_stage2 s2;
			ag_node *d = ath_net_stage2(t, &m->cfg, ro_params(m),
						    &s->t[x].q, &ti, &s2);
			/* (a rewind forgets a failure: looked at first) */
			if (t->failed)
				return ath_error(ANTHEM_ENOMEM, "%s: out of "
						 "memory", fn);
			for (size_t k = 0; k < n; k++)
				w->g[x * w->nc + i + k] = d->val[k];
			ag_tape_rewind(t, titles);
		}
		ag_tape_rewind(t, mark);
	}
	return ANTHEM_OK;
}

static void stage2_part(size_t part, size_t tid, void *arg)
{
	stage2_job *j = arg;
	(void)tid;
	size_t nc = j->w->nc;
	ag_tape t;
	ag_tape_init(&t, &j->p->m->space, 0);
	j->rc[part] = stage2_range(j->p, j->s, j->w, nc * part / j->parts,
				   nc * (part + 1) / j->parts, &t, "stage 2");
	if (j->rc[part])
		snprintf(j->error[part], sizeof j->error[part], "%s",
			 anthem_last_error());
	ag_tape_free(&t);
}

static int stage2(const ath_pipe *p, const qstate *s, ath_pwork *w,
		  const char *fn)
{
	/* a part per 16 candidates at least */
	size_t parts = p->threads < w->nc / 16 ? p->threads : w->nc / 16;
	if (parts <= 1) { /* on the first text's tape, after its query */
		ag_tape *t = (ag_tape *)&s->t[0].tape;
		return stage2_range(p, s, w, 0, w->nc, t, fn);
	}
	stage2_job j = {.p = p, .s = s, .w = w, .parts = parts,
			.rc = calloc(parts, sizeof *j.rc),
			.error = calloc(parts, sizeof *j.error)};
	int rc = j.rc && j.error ? ANTHEM_OK
				 : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc)
		ath_parallel_for(parts, parts, stage2_part, &j);
	for (size_t i = 0; !rc && i < parts; i++)
		if (j.rc[i])
			rc = ath_error(j.rc[i], "%s: %s", fn, j.error[i]);
	free(j.rc);
	free(j.error);
	return rc;
}

/* ---- one query -------------------------------------------------------------------- */

static int run(const ath_pipe *p, const char *query, ath_pwork *w,
	       qstate *s, const char *fn)
{
	int rc = read_query(p, query, s, fn);
	if (!rc)
		rc = pwork_fit(p, w, s->n, fn);
	if (rc)
		return rc;
	w->ntext = s->n;
	w->nc = w->nt = 0;
	/* stage 1: the region source, the graph (one region, no filter) or
	 * the scan */
	size_t nscan = 0;
	rc = s->simple && p->graph
		     ? ath_ann_search(&p->ix->ann, &s->sq, p->ix->n, p->ix->blocks,
				      p->ix->norm2, p->depth, p->ef, w->scan_work,
				      w->scan, &nscan, NULL, fn)
	     : s->simple ? scan_simple(p->ix, &s->sq, p->depth, p->threads,
				     p->allow, p->compact, p->pre, w->scan_work, w->scan,
				     &nscan, fn)
		       : scan_general(p->ix, s->region ? s->region : s->t[0].h,
				      p->m->cfg.gamma, p->depth, p->allow, p,
				      w->scan, &nscan, fn);
	if (rc)
		return rc;
	size_t from_scan = nscan < p->k1 ? nscan : p->k1;
	for (size_t i = 0; i < from_scan; i++) {
		w->cand[i] = w->scan[i].index;
		w->d1[i] = w->scan[i].distance;
	}
	w->nc = from_scan;
	/* stage 1: the lexical source */
	w->sparse = 0;
	if (p->lexical) {
		if (p->postings && s->n == 1)
			rc = sparse_bm25(p, &s->t[0], w, fn);
		else
			query_bm25(p, s, w);
		if (rc)
			return rc;
		lexical_source(p, w, from_scan);
	}
	for (size_t i = from_scan; !rc && i < w->nc; i++)
		rc = region_at(p, s, w, w->cand[i], &w->d1[i]);
	/* each text's BM25 of each candidate (0 without the term) */
	for (size_t x = 0; x < s->n; x++)
		for (size_t i = 0; i < w->nc; i++)
			w->bm[x * w->nc + i] =
				!p->lexical ? 0.0f
				: s->n == 1 ? bm_at(w, w->cand[i])
				: ath_lex_title(&p->m->cfg, p->m->params, &s->t[x].lq,
						ath_index_title(p->ix, w->cand[i]));
	/* the tail: the rest of the scan, less what the lexical source
	 * brought */
	size_t nlex = w->nc - from_scan;
	size_t *lex = w->order;
	memcpy(lex, w->cand + from_scan, nlex * sizeof *lex);
	qsort(lex, nlex, sizeof *lex, by_size);
	for (size_t i = from_scan; i < nscan; i++) {
		size_t pos = w->scan[i].index;
		if (holds(lex, nlex, pos))
			continue;
		w->tail[w->nt] = pos;
		w->tail_d1[w->nt] = w->scan[i].distance;
		w->tail_bm[w->nt] = p->lexical ? bm_at(w, pos) : 0.0f;
		w->nt++;
	}
	if (!rc && !p->stage1_only && !(rc = ath_pipe_stopped(p, fn)))
		rc = stage2(p, s, w, fn);
	return rc;
}

int ath_pipe_run(const ath_pipe *p, const char *query, ath_pwork *w,
		 const char *fn)
{
	qstate *s = malloc(sizeof *s);
	if (!s)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = run(p, query, w, s, fn);
	qstate_free(s);
	free(s);
	return rc;
}

/* ---- the final order ------------------------------------------------------------------ */

/* The combined BM25 of candidate i (as query_bm25 combines). */
static float cand_bm(const ath_pwork *w, size_t nand, size_t i)
{
	float b = w->bm[i];
	for (size_t x = 1; x < w->ntext; x++) {
		float v = w->bm[x * w->nc + i];
		b = x <= nand ? fminf(b, v) : fmaxf(b, v);
	}
	return b;
}

/* The stage-2 distance of candidate i: each text's d - lw * BM25, the
 * largest over the intersection (the query and its ANDs), then the
 * smallest with each OR. */
static float cand_d2(const ath_pwork *w, size_t nand, size_t i, float lw)
{
	float d = w->g[i] - lw * w->bm[i];
	for (size_t x = 1; x < w->ntext; x++) {
		float v = w->g[x * w->nc + i] - lw * w->bm[x * w->nc + i];
		d = x <= nand ? fmaxf(d, v) : fminf(d, v);
	}
	return d;
}

size_t ath_pipe_order(const ath_pipe *p, ath_pwork *w, float lw,
		      anthem_hit *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < w->nc; i++)
		w->key[i] = p->stage1_only
				    ? w->d1[i] - lw * cand_bm(w, p->nand, i)
				    : cand_d2(w, p->nand, i, lw);
	size_t nk = ath_topk(w->key, w->nc, max, w->order);
	for (; n < nk; n++)
		out[n] = (anthem_hit){w->cand[w->order[n]], w->key[w->order[n]]};
	if (n == max || w->nt == 0)
		return n;
	for (size_t i = 0; i < w->nt; i++)
		w->key[i] = w->tail_d1[i] - lw * w->tail_bm[i];
	nk = ath_topk(w->key, w->nt, max - n, w->order);
	for (size_t r = 0; r < nk; r++)
		out[n++] = (anthem_hit){w->tail[w->order[r]], w->key[w->order[r]]};
	return n;
}

/* ---- the public calls ------------------------------------------------------------------- */

static float model_lw(const anthem_model *m)
{
	return ath_lex_weight(&m->cfg, m->params);
}

int anthem_search_ex(const anthem_model *m, const anthem_index *ix,
		     const char *query, const anthem_search_options *opts,
		     anthem_hit *out, size_t *n)
{
	static const char fn[] = "anthem_search_ex";
	ATH_CHECK_ARG(n, fn, "n");
	*n = 0;
	ATH_CHECK_ARG(query, fn, "query");
	ath_pipe p;
	int rc = ath_pipe_init(&p, m, ix, opts, fn);
	if (rc)
		return rc;
	rc = ath_index_check_model(ix, m, fn);
	if (!rc && p.k > 0 && !out)
		rc = ath_error(ANTHEM_EINVAL, "%s: out must not be NULL", fn);
	ath_pwork w;
	memset(&w, 0, sizeof w);
	if (!rc && p.k > 0)
		rc = ath_pipe_run(&p, query, &w, fn);
	if (!rc && p.k > 0)
		*n = ath_pipe_order(&p, &w, model_lw(m), out, p.k);
	ath_pwork_free(&w);
	ath_pipe_done(&p);
	return rc;
}

int anthem_search(const anthem_model *m, const anthem_index *ix,
		  const char *query, size_t k, size_t k1, anthem_hit *out,
		  size_t *n)
{
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = k;
	o.k1 = k1;
	return anthem_search_ex(m, ix, query, &o, out, n);
}

typedef struct batch_job {
	const ath_pipe *p;
	const char *const *queries;
	anthem_hit *out;
	size_t *counts, stride;
	ath_pwork *work; /* one per thread */
	int rc;
	char error[512];
} batch_job;

static void batch_one(size_t q, size_t tid, void *arg)
{
	batch_job *j = arg;
	if (j->rc)
		return;
	ath_pwork *w = &j->work[tid];
	int rc = ath_pipe_stopped(j->p, "anthem_search_batch");
	if (!rc)
		rc = ath_pipe_run(j->p, j->queries[q], w, "anthem_search_batch");
	if (rc) {
		if (!j->rc) { /* the first failure's message; the race is
			       * benign: any failing query's will do */
			snprintf(j->error, sizeof j->error, "%s (query %zu)",
				 anthem_last_error(), q);
			j->rc = rc;
		}
		return;
	}
	j->counts[q] = ath_pipe_order(j->p, w, model_lw(j->p->m),
				      j->out + q * j->stride, j->p->k);
}

int anthem_search_batch(const anthem_model *m, const anthem_index *ix,
			const char *const *queries, size_t nq,
			const anthem_search_options *opts, anthem_hit *out,
			size_t *counts)
{
	static const char fn[] = "anthem_search_batch";
	if (nq == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(queries, fn, "queries");
	ATH_CHECK_ARG(counts, fn, "counts");
	ath_pipe p;
	int rc = ath_pipe_init(&p, m, ix, opts, fn);
	if (rc)
		return rc;
	/* the caller's k is the stride of out, even where the index holds
	 * fewer products */
	size_t stride = opts && opts->struct_size >= offsetof(anthem_search_options, k1)
				? opts->k : 10;
	size_t threads = p.threads < nq ? p.threads : nq;
	p.threads = 1; /* a thread per query */
	for (size_t q = 0; q < nq; q++)
		counts[q] = 0;
	rc = ath_index_check_model(ix, m, fn);
	if (!rc && p.k > 0 && !out)
		rc = ath_error(ANTHEM_EINVAL, "%s: out must not be NULL", fn);
	batch_job j = {.p = &p, .queries = queries, .out = out,
		       .counts = counts, .stride = stride};
	j.work = rc || p.k == 0 ? NULL : calloc(threads, sizeof *j.work);
	if (!rc && p.k > 0 && !j.work)
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc && p.k > 0) {
		ath_parallel_for(nq, threads, batch_one, &j);
		if (j.rc)
			rc = ath_error(j.rc, "%s", j.error);
	}
	for (size_t t = 0; j.work && t < threads; t++)
		ath_pwork_free(&j.work[t]);
	free(j.work);
	ath_pipe_done(&p);
	return rc;
}

/* Stage 2 alone for one text on given positions: distances in their
 * order (anthem_score) */
static int score_positions(const anthem_model *m, const anthem_index *ix,
			   const char *query, const size_t *pos, size_t n,
			   float *dist, const char *fn)
{
	ATH_CHECK_ARG(query, fn, "query");
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(pos, fn, "candidates");
	ATH_CHECK_ARG(dist, fn, "distances");
	ATH_CHECK_ARG(ix, fn, "ix");
	for (size_t i = 0; i < n; i++)
		if (pos[i] >= ix->n)
			return ath_error(ANTHEM_ERANGE, "%s: candidates[%zu] is "
					 "%zu, the index holds %zu products", fn,
					 i, pos[i], ix->n);
	/* titles only: the index may hold points of another model */
	ath_pipe p;
	int rc = pipe_init(&p, m, ix, NULL, 0, fn);
	if (!rc && (rc = ath_index_check_model(ix, m, fn)))
		ath_pipe_done(&p);
	if (rc)
		return rc;
	qstate *s = malloc(sizeof *s);
	ath_pwork w;
	memset(&w, 0, sizeof w);
	w.cand = (size_t *)pos; /* read only */
	w.nc = n;
	w.ntext = 1;
	w.g = malloc(n * sizeof *w.g);
	rc = s && w.g ? read_query(&p, query, s, fn)
		      : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc)
		rc = stage2_range(&p, s, &w, 0, n, &s->t[0].tape, fn);
	for (size_t i = 0; !rc && i < n; i++) {
		float bm = p.lexical ? ath_lex_title(&m->cfg, m->params, &s->t[0].lq,
						     ath_index_title(ix, pos[i]))
				     : 0.0f;
		dist[i] = w.g[i] - model_lw(m) * bm;
	}
	if (s)
		qstate_free(s);
	free(s);
	free(w.g);
	ath_pipe_done(&p);
	return rc;
}

int anthem_score(const anthem_model *m, const anthem_index *ix,
		 const char *query, const size_t *cand, size_t n, float *dist)
{
	return score_positions(m, ix, query, cand, n, dist, "anthem_score");
}

static int rerank(const anthem_model *m, const anthem_index *ix,
		  const char *query, const size_t *pos, size_t n,
		  anthem_hit *out, const char *fn)
{
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(out, fn, "out");
	float *d = calloc(n, sizeof *d);
	size_t *order = malloc(n * sizeof *order);
	int rc = d && order ? score_positions(m, ix, query, pos, n, d, fn)
			    : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc) {
		ath_topk(d, n, n, order);
		for (size_t i = 0; i < n; i++)
			out[i] = (anthem_hit){pos[order[i]], d[order[i]]};
	}
	free(d);
	free(order);
	return rc;
}

int anthem_rerank(const anthem_model *m, const anthem_index *ix,
		  const char *query, const size_t *positions, size_t n,
		  anthem_hit *out)
{
	return rerank(m, ix, query, positions, n, out, "anthem_rerank");
}

int anthem_rerank_ids(const anthem_model *m, const anthem_index *ix,
		      const char *query, const char *const *ids, size_t n,
		      anthem_hit *out, size_t *n_out)
{
	static const char fn[] = "anthem_rerank_ids";
	ATH_CHECK_ARG(n_out, fn, "n_out");
	*n_out = 0;
	ATH_CHECK_ARG(ix, fn, "ix");
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(ids, fn, "ids");
	size_t *pos = malloc(n * sizeof *pos), np = 0;
	if (!pos)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = ANTHEM_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!ids[i])
			rc = ath_error(ANTHEM_EINVAL, "%s: ids[%zu] is NULL", fn, i);
		else if (anthem_index_find(ix, ids[i], &pos[np]) == ANTHEM_OK)
			np++;
	}
	if (!rc)
		rc = rerank(m, ix, query, pos, np, out, fn);
	if (!rc)
		*n_out = np;
	free(pos);
	return rc;
}
