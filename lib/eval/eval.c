/* Metrics exactly as DESIGN.md defines them, over whole-catalogue
 * rankings. */
#include "eval/eval.h"

#include "common/internal.h"
#include "common/parallel.h"
#include "io/tsv.h"
#include "layers/lexical.h"
#include "search/rank.h"
#include "search/scan.h"

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

typedef struct eval_ctx {
	const anthem_model *m;
	const anthem_catalog *c;
	const anthem_judgments *j;
	size_t k1, nq, threads;
	float *points; /* catalogue x dim */
	anthem_vectors *vec;
	double *per, *recall;
	int *counted;
	float **dist;  /* per thread: catalogue */
	float **lexs;  /* per thread: catalogue (lexical models) */
	ath_postings post; /* of the catalogue's titles (lexical models) */
	size_t **idx;  /* per thread: depth entries */
	size_t depth;  /* stage-1 list kept: max(ATH_RANK_CUT, k1), <= n */
	int failed;
	char error[512];
	int code;
} eval_ctx;

static void fail(eval_ctx *x, int rc)
{
	if (!x->failed) { /* first failure wins; the race is benign: one
			   * thread's message is as good as another's */
		x->code = rc;
		snprintf(x->error, sizeof x->error, "%s", anthem_last_error());
		x->failed = 1;
	}
}

static void embed_one(size_t i, size_t tid, void *ctx)
{
	eval_ctx *x = ctx;
	(void)tid;
	const char *title = anthem_catalog_title(x->c, i);
	int rc = anthem_model_embed_products(x->m, &title, 1,
					     x->points + i * x->m->cfg.dim);
	if (rc)
		fail(x, rc);
}

static void rank_one(size_t q, size_t tid, void *ctx)
{
	eval_ctx *x = ctx;
	if (x->failed)
		return;
	const char *query = anthem_judgments_query(x->j, q);
	const size_t *prod;
	const int *grade;
	size_t nj, n = x->c->n;
	anthem_judgments_get(x->j, q, &prod, &grade, &nj);
	anthem_hyperboloid *h;
	int rc = anthem_model_embed_query(x->m, query, &h);
	if (!rc)
		rc = anthem_hyperboloid_distances(h, x->vec, x->m->cfg.gamma,
						  x->dist[tid]);
	anthem_hyperboloid_free(h);
	if (rc) {
		fail(x, rc);
		return;
	}
	if (x->lexs) { /* step 8 on the whole catalogue, through postings */
		ath_lexq lq;
		ath_lex_query(&x->m->cfg, x->m->params, query, &lq);
		float *lx = x->lexs[tid], w = ath_lex_weight(&x->m->cfg,
							     x->m->params);
		memset(lx, 0, n * sizeof *lx);
		ath_postings_scores(&x->post, x->m->params, &lq, lx);
		for (size_t i = 0; i < n; i++)
			x->dist[tid][i] -= w * lx[i];
	}
	size_t *idx = x->idx[tid];
	/* deep enough for the metrics' cut and for the reranked candidates
	 * (k1 may be the whole catalogue: the full model ranks everything) */
	size_t nr = ath_topk(x->dist[tid], n, x->depth, idx);
	if (x->k1 > 0) {
		size_t k1 = x->k1 < nr ? x->k1 : nr, relevant = 0, kept = 0;
		for (size_t i = 0; i < nj; i++)
			relevant += grade[i] >= 1;
		for (size_t r = 0; r < k1; r++)
			kept += grade_of(prod, grade, nj, idx[r]) >= 1;
		x->recall[q] = relevant ? (double)kept / (double)relevant : 0.0;
		/* stage 2 reorders the first k1; the rest keep stage-1 order */
		const char **titles = malloc(k1 * sizeof *titles);
		float *d2 = malloc(k1 * sizeof *d2);
		size_t *order = malloc(k1 * sizeof *order);
		if (!titles || !d2 || !order) {
			fail(x, ath_error(ANTHEM_ENOMEM, "anthem_evaluate: out of "
					  "memory"));
		} else {
			for (size_t r = 0; r < k1; r++)
				titles[r] = x->c->titles[idx[r]];
			rc = ath_rerank(x->m, query, titles, k1, d2);
			if (rc)
				fail(x, rc);
			ath_topk(d2, k1, k1, order);
			for (size_t r = 0; r < k1; r++)
				order[r] = idx[order[r]];
			memcpy(idx, order, k1 * sizeof *idx);
		}
		free(titles);
		free(d2);
		free(order);
	}
	x->counted[q] = ath_query_metrics(idx, nr, prod, grade, nj,
					  x->per + q * ATH_NMETRICS);
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
	if (o) {
		if (o->struct_size < sizeof(size_t) || o->struct_size > sizeof opt)
			return ath_error(ANTHEM_EINVAL, "%s: options struct_size "
					 "is %zu (call anthem_eval_options_init)",
					 fn, o->struct_size);
		memcpy(&opt, o, o->struct_size);
	}
	eval_ctx x = {.m = m, .c = c, .j = j, .k1 = opt.k1};
	x.nq = j->nq;
	if (opt.max_queries && opt.max_queries < x.nq)
		x.nq = opt.max_queries;
	x.threads = opt.threads ? opt.threads : ath_cores();
	/* each worker gets buffers of the catalogue's size: never more
	 * workers than queries (the caller's count is not trusted) */
	if (x.threads > ATH_MAX_THREADS)
		x.threads = ATH_MAX_THREADS;
	if (x.threads > x.nq)
		x.threads = x.nq ? x.nq : 1;
	x.depth = opt.k1 > ATH_RANK_CUT ? opt.k1 : ATH_RANK_CUT;
	if (x.depth > c->n)
		x.depth = c->n;
	size_t d = m->cfg.dim, n = c->n;
	x.points = malloc((n ? n : 1) * d * sizeof(float));
	x.per = calloc(x.nq + 1, ATH_NMETRICS * sizeof(double));
	x.recall = calloc(x.nq + 1, sizeof(double));
	x.counted = calloc(x.nq + 1, sizeof(int));
	x.dist = calloc(x.threads, sizeof *x.dist);
	x.idx = calloc(x.threads, sizeof *x.idx);
	rc = x.points && x.per && x.recall && x.counted && x.dist && x.idx
		     ? ANTHEM_OK
		     : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc && ath_lex_on(&m->cfg)) {
		x.lexs = calloc(x.threads, sizeof *x.lexs);
		rc = x.lexs ? ath_postings_build(&x.post, &m->cfg,
						 (const char *const *)c->titles,
						 n, fn)
			    : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		for (size_t t = 0; !rc && t < x.threads; t++)
			if (!(x.lexs[t] = malloc((n ? n : 1) * sizeof(float))))
				rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory",
					       fn);
	}
	for (size_t t = 0; !rc && t < x.threads; t++) {
		x.dist[t] = malloc((n ? n : 1) * sizeof(float));
		x.idx[t] = malloc((x.depth ? x.depth : 1) * sizeof(size_t));
		if (!x.dist[t] || !x.idx[t])
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	if (!rc && opt.index) {
		/* the index's points, if it is this catalogue under this model */
		const anthem_index *ix = opt.index;
		if (anthem_index_count(ix) != n || anthem_index_dim(ix) != d ||
		    anthem_index_model_fingerprint(ix) != anthem_model_fingerprint(m))
			rc = ath_error(ANTHEM_EMISMATCH, "%s: the index was not "
				       "built by this model from this catalogue",
				       fn);
		for (size_t i = 0; !rc && i < n; i++)
			if (strcmp(anthem_index_id(ix, i), c->ids[i]) != 0)
				rc = ath_error(ANTHEM_EMISMATCH, "%s: product %zu is "
					       "'%s' in the index, '%s' in the "
					       "catalogue", fn, i,
					       anthem_index_id(ix, i), c->ids[i]);
		if (!rc)
			ath_index_points(ix, x.points);
	} else if (!rc) {
		ath_parallel_for(n, x.threads, embed_one, &x);
	}
	if (!rc && !x.failed &&
	    (rc = anthem_vectors_wrap(&x.vec, n, d, x.points)) != 0)
		fail(&x, rc);
	if (!rc && !x.failed)
		ath_parallel_for(x.nq, x.threads, rank_one, &x);
	if (!rc && x.failed)
		rc = ath_error(x.code, "%s", x.error);
	if (!rc)
		summarise(x.per, x.counted, opt.k1 ? x.recall : NULL, x.nq,
			  opt.k1, out);
	for (size_t t = 0; x.dist && t < x.threads; t++)
		free(x.dist[t]);
	for (size_t t = 0; x.idx && t < x.threads; t++)
		free(x.idx[t]);
	for (size_t t = 0; x.lexs && t < x.threads; t++)
		free(x.lexs[t]);
	free(x.lexs);
	ath_postings_free(&x.post);
	anthem_vectors_free(x.vec);
	free(x.dist);
	free(x.idx);
	free(x.points);
	free(x.per);
	free(x.recall);
	free(x.counted);
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
	for (char *s = buf, *end = buf + len; !rc && s < end;) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		char *e = nl ? nl : end;
		lineno++;
		if (e > s && e[-1] == '\r')
			e[-1] = '\0';
		*e = '\0';
		char *line = s;
		s = nl ? nl + 1 : end;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *f[4] = {line, NULL, NULL, NULL};
		size_t nf = 1;
		for (char *p = line; *p && nf < 4; p++)
			if (*p == '\t') {
				*p = '\0';
				f[nf++] = p + 1;
			}
		size_t q, p;
		char *endp = line;
		long rank = nf >= 3 ? strtol(f[2], &endp, 10) : 0;
		if (nf < 3 || *endp || rank < 1)
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: expected "
				       "query<TAB>product_id<TAB>rank (rank >= 1)",
				       fn, path, lineno);
		else if (!ath_strmap_get(&c->map, f[1], &p))
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: product_id "
				       "'%s' is not in the catalogue", fn, path,
				       lineno, f[1]);
		else if (ath_strmap_get(&j->map, f[0], &q))
			r[nr++] = (ranked_line){q, p, lineno, rank};
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
