/* Ranking metrics (include/anthem/eval.h defines them), over the rankings
 * of the query pipeline or of a file. */
#include "eval/eval_internal.h"

#include "common/internal.h"
#include "common/parallel.h"
#include "io/tsv.h"
#include "search/pipeline.h"

#include <anthem/search.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int anthem_metrics_init_size(anthem_metrics *dst, size_t size)
{
	anthem_metrics m;
	memset(&m, 0, sizeof m);
	return ath_init_struct(dst, size, &m, sizeof m, "anthem_metrics_init");
}

int anthem_eval_options_init_size(anthem_eval_options *dst, size_t size)
{
	anthem_eval_options o;
	memset(&o, 0, sizeof o);
	o.k1 = 200;
	return ath_init_struct(dst, size, &o, sizeof o,
			       "anthem_eval_options_init");
}

/* grade of product p in the query's judged list (sorted by product), or 0 */
static int grade_of(const size_t *prod, const int *grade, size_t n, size_t p)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (prod[mid] < p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && prod[lo] == p ? grade[lo] : 0;
}

int ath_query_metrics(const size_t *ranked, size_t nranked,
		      const size_t *prod, const int *grade, size_t nj,
		      double out[ATH_NMETRICS])
{
	static const size_t cut[3] = {3, 5, 10};
	/* the ideal ranking puts grade 3 first, then 2, then 1 */
	size_t count[4] = {0, 0, 0, 0}, relevant = 0;
	for (size_t i = 0; i < nj; i++)
		if (grade[i] >= 1 && grade[i] <= 3) {
			count[grade[i]]++;
			relevant++;
		}
	if (relevant == 0)
		return 0;
	int ideal[10];
	size_t ni = 0;
	for (int g = 3; g >= 1; g--)
		for (size_t k = 0; k < count[g] && ni < 10; k++)
			ideal[ni++] = g;
	if (nranked > ATH_RANK_CUT)
		nranked = ATH_RANK_CUT;
	for (int c = 0; c < 3; c++) {
		double dcg = 0.0, idcg = 0.0;
		for (size_t r = 0; r < cut[c]; r++) {
			double disc = log2((double)r + 2.0);
			if (r < nranked)
				dcg += (pow(2.0, grade_of(prod, grade, nj,
							  ranked[r])) - 1.0) / disc;
			if (r < ni)
				idcg += (pow(2.0, ideal[r]) - 1.0) / disc;
		}
		out[c] = dcg / idcg;
	}
	double ap = 0.0, rr = 0.0;
	size_t hits = 0;
	for (size_t r = 0; r < nranked; r++)
		if (grade_of(prod, grade, nj, ranked[r]) >= 1) {
			hits++;
			ap += (double)hits / (double)(r + 1);
			if (rr == 0.0)
				rr = 1.0 / (double)(r + 1);
		}
	out[3] = ap / (double)relevant;
	out[4] = rr;
	return 1;
}

/* Mean of the per-query results, in query order (so the sum does not
 * depend on which thread finished first). */
static void summarise(const double *per, const int *counted,
		      const double *recall, size_t nq, size_t k1,
		      anthem_metrics *out)
{
	anthem_metrics m;
	anthem_metrics_init(&m);
	double sum[ATH_NMETRICS] = {0}, rsum = 0.0;
	for (size_t q = 0; q < nq; q++) {
		if (!counted[q]) {
			m.skipped++;
			continue;
		}
		m.queries++;
		for (int k = 0; k < ATH_NMETRICS; k++)
			sum[k] += per[q * ATH_NMETRICS + k];
		rsum += recall ? recall[q] : 0.0;
	}
	double n = m.queries ? (double)m.queries : 1.0;
	m.ndcg3 = sum[0] / n;
	m.ndcg5 = sum[1] / n;
	m.ndcg10 = sum[2] / n;
	m.map = sum[3] / n;
	m.mrr = sum[4] / n;
	m.recall_k1 = recall ? rsum / n : 0.0;
	m.k1 = recall ? k1 : 0;
	/* copy what the caller's (possibly older, smaller) struct holds */
	size_t size = out->struct_size;
	memcpy(out, &m, size < sizeof m ? size : sizeof m);
	out->struct_size = size;
}

static int check_out(anthem_metrics *out, const char *fn)
{
	ATH_CHECK_ARG(out, fn, "out");
	if (out->struct_size < offsetof(anthem_metrics, queries) ||
	    out->struct_size > sizeof *out)
		return ath_error(ANTHEM_EINVAL, "%s: out->struct_size is %zu "
				 "(call anthem_metrics_init first)", fn,
				 out->struct_size);
	return ANTHEM_OK;
}

/* The catalogue, its judgements and the caller's metrics struct. */
static int check_data(const anthem_catalog *c, const anthem_judgments *j,
		      anthem_metrics *out, const char *fn)
{
	ATH_CHECK_ARG(c, fn, "catalog");
	ATH_CHECK_ARG(j, fn, "judgments");
	if (j->catalog != c)
		return ath_error(ANTHEM_EMISMATCH, "%s: the judgements were read "
				 "against another catalogue", fn);
	return check_out(out, fn);
}

/* ---- a model's rankings ----------------------------------------------------- */

/* Judged queries through the query pipeline, as anthem_search_batch ranks
 * them with the same k1 (k: the metrics' cut), once per lexical weight. */
typedef struct eval_ctx {
	const ath_pipe *p;
	const anthem_judgments *j;
	const size_t *qids;
	const float *lws;
	size_t nw;
	ath_pwork *work;     /* per thread */
	anthem_hit **hits;   /* per thread: ATH_RANK_CUT */
	size_t **ranked;     /* per thread: ATH_RANK_CUT */
	double *per, *recall;
	int *counted;
	int failed;
	char error[512];
	int code;
} eval_ctx;

static void rank_one(size_t k, size_t tid, void *ctx)
{
	eval_ctx *x = ctx;
	if (x->failed)
		return;
	size_t q = x->qids ? x->qids[k] : k;
	const size_t *prod;
	const int *grade;
	size_t nj;
	anthem_judgments_get(x->j, q, &prod, &grade, &nj);
	ath_pwork *w = &x->work[tid];
	int rc = ath_pipe_run(x->p, anthem_judgments_query(x->j, q), w,
			      "anthem_evaluate");
	if (rc) {
		if (!x->failed) { /* first failure wins; the race is benign:
				   * one thread's message is as good as
				   * another's */
			x->code = rc;
			snprintf(x->error, sizeof x->error, "%s", anthem_last_error());
			x->failed = 1;
		}
		return;
	}
	/* the share of the relevant products among the candidates that
	 * stage 2 reranks */
	size_t relevant = 0, kept = 0;
	for (size_t i = 0; i < nj; i++)
		relevant += grade[i] >= 1;
	for (size_t i = 0; i < w->nc; i++)
		kept += grade_of(prod, grade, nj, w->cand[i]) >= 1;
	x->recall[k] = relevant ? (double)kept / (double)relevant : 0.0;
	for (size_t v = 0; v < x->nw; v++) {
		size_t n = ath_pipe_order(x->p, w, x->lws[v], x->hits[tid],
					  x->p->k);
		for (size_t r = 0; r < n; r++)
			x->ranked[tid][r] = x->hits[tid][r].index;
		x->counted[k] = ath_query_metrics(x->ranked[tid], n, prod, grade,
						  nj, x->per + (k * x->nw + v) *
								   ATH_NMETRICS);
	}
}

static int rank_queries(const anthem_model *m, const anthem_index *ix,
			const anthem_judgments *j, const size_t *qids, size_t nq,
			size_t k1, size_t threads, int stage1, size_t ef,
			size_t elements, size_t prefilter, const float *lws,
			size_t nw, double *per, int *counted, double *recall)
{
	static const char fn[] = "anthem_evaluate";
	anthem_search_options so;
	anthem_search_options_init(&so);
	so.k = ATH_RANK_CUT;
	so.k1 = k1 ? k1 : 200;
	so.stage1_only = k1 == 0;
	so.stage1 = stage1;
	so.ef = ef;
	so.stage2_elements = elements;
	so.prefilter = prefilter;
	ath_pipe p;
	int rc = ath_pipe_init(&p, m, ix, &so, fn);
	if (rc)
		return rc;
	eval_ctx x = {.p = &p, .j = j, .qids = qids, .lws = lws, .nw = nw,
		      .per = per, .counted = counted, .recall = recall};
	/* each worker has buffers of the catalogue's size (lexical models):
	 * never more workers than queries */
	threads = ath_threads(threads);
	if (threads > nq)
		threads = nq ? nq : 1;
	x.work = calloc(threads, sizeof *x.work);
	x.hits = calloc(threads, sizeof *x.hits);
	x.ranked = calloc(threads, sizeof *x.ranked);
	rc = x.work && x.hits && x.ranked
		     ? ANTHEM_OK
		     : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t t = 0; !rc && t < threads; t++) {
		x.hits[t] = malloc(ATH_RANK_CUT * sizeof **x.hits);
		x.ranked[t] = malloc(ATH_RANK_CUT * sizeof **x.ranked);
		if (!x.hits[t] || !x.ranked[t])
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	if (!rc)
		ath_parallel_for(nq, threads, rank_one, &x);
	if (!rc && x.failed)
		rc = ath_error(x.code, "%s", x.error);
	for (size_t t = 0; t < threads; t++) {
		if (x.work)
			ath_pwork_free(&x.work[t]);
		free(x.hits ? x.hits[t] : NULL);
		free(x.ranked ? x.ranked[t] : NULL);
	}
	free(x.work);
	free(x.hits);
	free(x.ranked);
	ath_pipe_done(&p);
	return rc;
}

int ath_rank_queries(const anthem_model *m, const anthem_index *ix,
		     const anthem_judgments *j, const size_t *qids, size_t nq,
		     size_t k1, size_t threads, const float *lws, size_t nw,
		     double *per, int *counted, double *recall)
{
	return rank_queries(m, ix, j, qids, nq, k1, threads,
			    ANTHEM_STAGE1_AUTO, 0, 0, 0, lws, nw, per,
			    counted, recall);
}

/* The index is this catalogue's under this model: the same products in
 * the same order. */
static int check_index(const anthem_model *m, const anthem_catalog *c,
		       const anthem_index *ix, const char *fn)
{
	if (anthem_index_count(ix) != c->n ||
	    anthem_index_dim(ix) != anthem_model_dim(m) ||
	    anthem_index_model_fingerprint(ix) != anthem_model_fingerprint(m))
		return ath_error(ANTHEM_EMISMATCH, "%s: the index was not built "
				 "by this model from this catalogue", fn);
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(anthem_index_id(ix, i), c->ids[i]) != 0)
			return ath_error(ANTHEM_EMISMATCH, "%s: product %zu is '%s' "
					 "in the index, '%s' in the catalogue",
					 fn, i, anthem_index_id(ix, i), c->ids[i]);
	return ANTHEM_OK;
}

int anthem_evaluate(const anthem_model *m, const anthem_catalog *c,
		    const anthem_judgments *j, const anthem_eval_options *o,
		    anthem_metrics *out)
{
	static const char fn[] = "anthem_evaluate";
	ATH_CHECK_ARG(m, fn, "m");
	int rc = check_data(c, j, out, fn);
	if (rc)
		return rc;
	anthem_eval_options opt;
	anthem_eval_options_init(&opt);
	if ((rc = ath_read_options(&opt, sizeof opt, o, "anthem_eval_options",
				   fn)))
		return rc;
	size_t nq = j->nq;
	if (opt.max_queries && opt.max_queries < nq)
		nq = opt.max_queries;
	/* without an index, the catalogue's: what a server would build */
	anthem_index *own = NULL;
	const anthem_index *ix = opt.index;
	if (ix)
		rc = check_index(m, c, ix, fn);
	else if (!(rc = anthem_index_build(&own, m, c, opt.threads)))
		ix = own;
	double *per = calloc(nq + 1, ATH_NMETRICS * sizeof(double));
	double *recall = calloc(nq + 1, sizeof(double));
	int *counted = calloc(nq + 1, sizeof(int));
	float lw = ath_lex_weight(&m->cfg, m->params);
	if (!rc && (!per || !recall || !counted))
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc)
		rc = rank_queries(m, ix, j, NULL, nq, opt.k1, opt.threads,
				  opt.stage1, opt.ef, opt.stage2_elements,
				  opt.prefilter, &lw, 1,
				  per, counted, recall);
	if (!rc)
		summarise(per, counted, opt.k1 ? recall : NULL, nq, opt.k1, out);
	free(per);
	free(recall);
	free(counted);
	anthem_index_free(own);
	return rc;
}

/* ---- a ranking file ----------------------------------------------------------- */

typedef struct ranked_line {
	size_t query, product, line;
	long rank;
} ranked_line;

static int by_query_product_line(const void *a, const void *b)
{
	const ranked_line *x = a, *y = b;
	if (x->query != y->query)
		return x->query < y->query ? -1 : 1;
	if (x->product != y->product)
		return x->product < y->product ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

static int by_query_rank(const void *a, const void *b)
{
	const ranked_line *x = a, *y = b;
	if (x->query != y->query)
		return x->query < y->query ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return (x->product > y->product) - (x->product < y->product);
}

/* A rank: decimal digits only (no sign, space or leading zero, as the
 * judgement reader takes grades), 1 to ATH_MAX_RANK; why not, or NULL. */
#define ATH_MAX_RANK 1000000000L

static const char *rank_of(const char *s, long *rank)
{
	if (s[0] < '1' || s[0] > '9')
		return "must be a whole number from 1, digits only";
	long v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return "must be a whole number from 1, digits only";
		v = v * 10 + (*s - '0');
		if (v > ATH_MAX_RANK)
			return "is larger than 1000000000";
	}
	*rank = v;
	return NULL;
}

int anthem_evaluate_ranking(const char *path, const anthem_catalog *c,
			    const anthem_judgments *j, anthem_metrics *out)
{
	static const char fn[] = "anthem_evaluate_ranking";
	ATH_CHECK_ARG(path, fn, "path");
	int rc = check_data(c, j, out, fn);
	if (rc)
		return rc;
	char *buf;
	size_t len;
	if ((rc = ath_read_file(path, &buf, &len, fn)))
		return rc;
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += buf[i] == '\n';
	ranked_line *r = malloc(cap * sizeof *r);
	size_t nr = 0, lineno = 0;
	double *per = calloc(j->nq + 1, ATH_NMETRICS * sizeof(double));
	int *counted = calloc(j->nq + 1, sizeof(int));
	size_t *list = malloc((ATH_RANK_CUT + 1) * sizeof *list);
	if (!r || !per || !counted || !list)
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_lines L = ath_lines_of(buf, len);
	char *line;
	size_t ll;
	while (!rc && (line = ath_next_data_line(&L, &ll))) {
		lineno = L.lineno;
		const char *why = ath_not_text(line, ll);
		if (why) {
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: %s", fn, path,
				       lineno, why);
			break;
		}
		char *f[4] = {line, NULL, NULL, NULL};
		size_t nf = 1;
		for (char *p = line; *p && nf < 4; p++)
			if (*p == '\t') {
				*p = '\0';
				f[nf++] = p + 1;
			}
		size_t q, p;
		long rank = 0;
		if (nf < 3) {
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: expected "
				       "query<TAB>product_id<TAB>rank[<TAB>score]",
				       fn, path, lineno);
		} else if ((why = rank_of(f[2], &rank))) {
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: expected a "
				       "rank in field 3: '%.32s' %s", fn, path,
				       lineno, f[2], why);
		} else if (!f[0][0]) {
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: the query "
				       "(field 1) is empty", fn, path, lineno);
		} else if (!ath_strmap_get(&c->map, f[1], &p)) {
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: product_id "
				       "'%s' (field 2) is not in the catalogue",
				       fn, path, lineno, f[1]);
		} else if (ath_strmap_get(&j->map, f[0], &q)) {
			r[nr++] = (ranked_line){q, p, lineno, rank};
		}
		/* queries without judgements are not measured */
	}
	if (!rc) {
		/* a product twice in one query's list would count its gain
		 * twice (NDCG above 1): refused at its second line */
		qsort(r, nr, sizeof *r, by_query_product_line);
		for (size_t i = 1; !rc && i < nr; i++)
			if (r[i].query == r[i - 1].query &&
			    r[i].product == r[i - 1].product)
				rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: product "
					       "%s is ranked twice for query %s "
					       "(first at line %zu)", fn, path,
					       r[i].line, c->ids[r[i].product],
					       j->queries[r[i].query],
					       r[i - 1].line);
	}
	if (!rc) {
		qsort(r, nr, sizeof *r, by_query_rank);
		size_t i = 0;
		for (size_t q = 0; q < j->nq; q++) {
			size_t n = 0;
			for (; i < nr && r[i].query == q; i++)
				if (n < ATH_RANK_CUT)
					list[n++] = r[i].product;
			const size_t *prod;
			const int *grade;
			size_t nj;
			anthem_judgments_get(j, q, &prod, &grade, &nj);
			counted[q] = ath_query_metrics(list, n, prod, grade, nj,
						       per + q * ATH_NMETRICS);
		}
		summarise(per, counted, NULL, j->nq, 0, out);
	}
	free(list);
	free(per);
	free(counted);
	free(r);
	free(buf);
	return rc;
}
