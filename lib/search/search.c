/* Indexes (product points + ids + titles, in a container file) and the
 * two-stage search of DESIGN.md. */
#include "search/rank.h"
#include "search/scan.h"

#include "common/internal.h"
#include "common/parallel.h"
#include "io/container.h"
#include "io/tsv.h"

#include <anthem/search.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char index_magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'I', 'X'};

struct anthem_index {
	size_t n, dim;
	const float *points;  /* n x dim: owned or mapped */
	float *owned_points;
	anthem_vectors *vec;  /* wraps points */
	double *norm2;        /* squared norm of every point, for the scan */
	char *strings;        /* ids and titles, NUL-separated */
	const char **ids, **titles;
	uint64_t model_fp;
	ath_container *file;  /* when loaded */
};

void anthem_index_free(anthem_index *ix)
{
	if (!ix)
		return;
	anthem_vectors_free(ix->vec);
	free(ix->norm2);
	free(ix->owned_points);
	free(ix->strings);
	free(ix->ids);
	free(ix->titles);
	if (ix->file) {
		ath_container_close(ix->file);
		free(ix->file);
	}
	free(ix);
}

size_t anthem_index_count(const anthem_index *ix) { return ix ? ix->n : 0; }
size_t anthem_index_dim(const anthem_index *ix) { return ix ? ix->dim : 0; }

const char *anthem_index_id(const anthem_index *ix, size_t i)
{
	return ix && i < ix->n ? ix->ids[i] : NULL;
}

const char *anthem_index_title(const anthem_index *ix, size_t i)
{
	return ix && i < ix->n ? ix->titles[i] : NULL;
}

const anthem_vectors *anthem_index_vectors(const anthem_index *ix)
{
	return ix ? ix->vec : NULL;
}

uint64_t anthem_index_model_fingerprint(const anthem_index *ix)
{
	return ix ? ix->model_fp : 0;
}

/* ids and titles: copies of n + n strings into one buffer */
/* Squared norms for the scan; also where a loaded file's points are checked
 * (finite, so that no NaN reaches a ranking). */
static int set_norms(anthem_index *ix, const char *what, const char *fn)
{
	ix->norm2 = malloc((ix->n ? ix->n : 1) * sizeof *ix->norm2);
	if (!ix->norm2)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t i = 0; i < ix->n; i++) {
		const float *v = ix->points + i * ix->dim;
		double s = 0.0;
		for (size_t k = 0; k < ix->dim; k++)
			s += (double)v[k] * v[k];
		if (!isfinite(s))
			return ath_error(ANTHEM_EFORMAT, "%s: %s: point %zu is not "
					 "finite", fn, what, i);
		ix->norm2[i] = s;
	}
	return ANTHEM_OK;
}

static int set_strings(anthem_index *ix, const char *const *ids,
		       const char *const *titles, const char *fn)
{
	size_t total = 0;
	for (size_t i = 0; i < ix->n; i++)
		total += strlen(ids[i]) + strlen(titles[i]) + 2;
	ix->strings = malloc(total + 1);
	ix->ids = malloc((ix->n + 1) * sizeof *ix->ids);
	ix->titles = malloc((ix->n + 1) * sizeof *ix->titles);
	if (!ix->strings || !ix->ids || !ix->titles)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	char *p = ix->strings;
	for (size_t i = 0; i < ix->n; i++) {
		size_t a = strlen(ids[i]) + 1, b = strlen(titles[i]) + 1;
		ix->ids[i] = memcpy(p, ids[i], a);
		ix->titles[i] = memcpy(p + a, titles[i], b);
		p += a + b;
	}
	return ANTHEM_OK;
}

typedef struct build_ctx {
	const anthem_model *m;
	const anthem_catalog *c;
	float *points;
	int rc;
	char error[512];
} build_ctx;

static void embed(size_t i, size_t tid, void *arg)
{
	build_ctx *b = arg;
	(void)tid;
	if (b->rc)
		return;
	const char *title = b->c->titles[i];
	int rc = anthem_model_embed_products(b->m, &title, 1,
					     b->points + i * anthem_model_dim(b->m));
	if (rc && !b->rc) {
		snprintf(b->error, sizeof b->error, "%s", anthem_last_error());
		b->rc = rc;
	}
}

int anthem_index_build(anthem_index **out, const anthem_model *m,
		       const anthem_catalog *c, size_t threads)
{
	static const char fn[] = "anthem_index_build";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(c, fn, "catalog");
	anthem_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ix->n = c->n;
	ix->dim = anthem_model_dim(m);
	ix->model_fp = anthem_model_fingerprint(m);
	ix->owned_points = malloc((ix->n ? ix->n : 1) * ix->dim * sizeof(float));
	int rc = ix->owned_points ? ANTHEM_OK
				  : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc) {
		build_ctx b = {m, c, ix->owned_points, 0, ""};
		ath_parallel_for(ix->n, threads, embed, &b);
		if (b.rc)
			rc = ath_error(b.rc, "%s", b.error);
	}
	ix->points = ix->owned_points;
	if (!rc)
		rc = set_strings(ix, c->ids, c->titles, fn);
	if (!rc)
		rc = set_norms(ix, "index", fn);
	if (!rc)
		rc = anthem_vectors_wrap(&ix->vec, ix->n, ix->dim, ix->points);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
	return ANTHEM_OK;
}

/* "a\nb\nc" of n strings (none may contain a newline) */
static char *join(const char *const *s, size_t n)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(s[i]) + 1;
	char *buf = malloc(total), *p = buf;
	for (size_t i = 0; buf && i < n; i++) {
		size_t k = strlen(s[i]);
		memcpy(p, s[i], k);
		p += k;
		*p++ = '\n';
	}
	if (buf)
		*p = '\0';
	return buf;
}

int anthem_index_save(const anthem_index *ix, const char *path)
{
	static const char fn[] = "anthem_index_save";
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(path, fn, "path");
	char *ids = join(ix->ids, ix->n), *titles = join(ix->titles, ix->n);
	int rc;
	if (!ids || !titles) {
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	} else {
		ath_kv kv[] = {
			{.key = "index.count", .type = ATH_KV_U64, .u = ix->n},
			{.key = "index.dim", .type = ATH_KV_U64, .u = ix->dim},
			{.key = "index.model_fingerprint", .type = ATH_KV_U64,
			 .u = ix->model_fp},
			{.key = "index.ids", .type = ATH_KV_STR, .s = ids},
			{.key = "index.titles", .type = ATH_KV_STR, .s = titles},
		};
		ath_tensor t = {.name = "points", .rows = ix->n, .cols = ix->dim,
				.data = ix->points};
		rc = ath_container_write(path, index_magic, kv, 5, &t, 1, fn);
	}
	free(ids);
	free(titles);
	return rc;
}

/* Split a newline-joined string of exactly n entries into ptrs (copies
 * into buf, NUL-terminated). */
static int split_lines(const ath_kv *kv, size_t n, char *buf,
		       const char **ptrs)
{
	size_t k = 0;
	char *start = buf;
	for (size_t i = 0; i < kv->slen; i++) {
		char ch = kv->s[i];
		if (ch == '\n') {
			if (k == n)
				return -1;
			*buf++ = '\0';
			ptrs[k++] = start;
			start = buf;
		} else if (ch == '\0') {
			return -1;
		} else {
			*buf++ = ch;
		}
	}
	return k == n && start == buf ? 0 : -1;
}

int anthem_index_load(anthem_index **out, const char *path,
		      const anthem_model *m)
{
	static const char fn[] = "anthem_index_load";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(path, fn, "path");
	anthem_index *ix = calloc(1, sizeof *ix);
	ath_container *f = calloc(1, sizeof *f);
	if (!ix || !f) {
		free(ix);
		free(f);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	ix->file = f;
	int rc = ath_container_open(f, path, index_magic, 0, fn);
	const ath_kv *cnt = NULL, *dim = NULL, *fp = NULL, *ids = NULL,
		     *titles = NULL;
	const ath_tensor *pts = NULL;
	if (!rc) {
		cnt = ath_container_kv(f, "index.count");
		dim = ath_container_kv(f, "index.dim");
		fp = ath_container_kv(f, "index.model_fingerprint");
		ids = ath_container_kv(f, "index.ids");
		titles = ath_container_kv(f, "index.titles");
		pts = ath_container_tensor(f, "points");
		if (!cnt || !dim || !fp || !ids || !titles || !pts ||
		    cnt->type != ATH_KV_U64 || dim->type != ATH_KV_U64 ||
		    fp->type != ATH_KV_U64 || ids->type != ATH_KV_STR ||
		    titles->type != ATH_KV_STR || pts->rows != cnt->u ||
		    pts->cols != dim->u || dim->u < 1 || dim->u > ANTHEM_MAX_DIM)
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: index metadata is "
				       "missing or inconsistent", fn, path);
	}
	if (!rc) {
		ix->n = (size_t)cnt->u;
		ix->dim = (size_t)dim->u;
		ix->model_fp = fp->u;
		ix->points = pts->data;
		if (m && anthem_model_fingerprint(m) != ix->model_fp)
			rc = ath_error(ANTHEM_EMISMATCH, "%s: %s was built with "
				       "another model (fingerprint %016llx, this "
				       "model %016llx)", fn, path,
				       (unsigned long long)ix->model_fp,
				       (unsigned long long)anthem_model_fingerprint(m));
		else if (m && anthem_model_dim(m) != ix->dim)
			rc = ath_error(ANTHEM_EMISMATCH, "%s: %s has dimension %zu, "
				       "the model %zu", fn, path, ix->dim,
				       anthem_model_dim(m));
	}
	if (!rc) {
		ix->strings = malloc(ids->slen + titles->slen + 2);
		ix->ids = malloc((ix->n + 1) * sizeof *ix->ids);
		ix->titles = malloc((ix->n + 1) * sizeof *ix->titles);
		if (!ix->strings || !ix->ids || !ix->titles)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		else if (split_lines(ids, ix->n, ix->strings, ix->ids) ||
			 split_lines(titles, ix->n, ix->strings + ids->slen + 1,
				     ix->titles))
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: the ids or titles "
				       "do not hold %zu entries", fn, path, ix->n);
	}
	if (!rc)
		rc = set_norms(ix, path, fn);
	if (!rc)
		rc = anthem_vectors_wrap(&ix->vec, ix->n, ix->dim, ix->points);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
	return ANTHEM_OK;
}

/* ---- search ------------------------------------------------------------- */

int anthem_index_scan(const anthem_index *ix, const anthem_hyperboloid *h,
		      float gamma, size_t k, anthem_hit *out, size_t *n)
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
	if (k > ix->n)
		k = ix->n;
	float *d = malloc((ix->n ? ix->n : 1) * sizeof *d);
	size_t *idx = malloc(k * sizeof *idx + 1);
	int rc = d && idx ? ANTHEM_OK
			  : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int simple = anthem_hyperboloid_branch_count(h) == 1 &&
		     anthem_hyperboloid_term_count(h, 0) == 1 &&
		     ix->dim <= ATH_SCAN_MAX_DIM;
	if (!rc && simple) {
		/* the common case: one query region, the tight loop */
		float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
		anthem_hyperboloid_get(h, 0, 0, c, l);
		geo_space s = {anthem_hyperboloid_geometry(h) == ANTHEM_GEOMETRY_HYPERBOLIC
				       ? GEO_HYPERBOLIC : GEO_EUCLIDEAN,
			       anthem_hyperboloid_curvature(h)};
		ath_scan_query *q = malloc(sizeof *q);
		if (!q) {
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		} else {
			ath_scan_prepare(&s, ix->dim, c, l, gamma, q);
			for (size_t i = 0; i < ix->n; i++)
				d[i] = ath_scan_one(q, ix->points + i * ix->dim,
						    ix->norm2[i]);
			free(q);
		}
	} else if (!rc) {
		rc = anthem_hyperboloid_distances(h, ix->vec, gamma, d);
	}
	if (!rc) {
		size_t m = ath_topk(d, ix->n, k, idx);
		for (size_t i = 0; i < m; i++)
			out[i] = (anthem_hit){idx[i], d[idx[i]]};
		*n = m;
	}
	free(d);
	free(idx);
	return rc;
}

int anthem_score(const anthem_model *m, const anthem_index *ix,
		 const char *query, const size_t *cand, size_t n, float *dist)
{
	static const char fn[] = "anthem_score";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(query, fn, "query");
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(cand, fn, "candidates");
	ATH_CHECK_ARG(dist, fn, "distances");
	const char **titles = malloc(n * sizeof *titles);
	if (!titles)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = ANTHEM_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		if (cand[i] >= ix->n)
			rc = ath_error(ANTHEM_ERANGE, "%s: candidates[%zu] is %zu, "
				       "the index holds %zu products", fn, i,
				       cand[i], ix->n);
		else
			titles[i] = ix->titles[cand[i]];
	}
	if (!rc)
		rc = ath_rerank(m, query, titles, n, dist);
	free(titles);
	return rc;
}

int anthem_search(const anthem_model *m, const anthem_index *ix,
		  const char *query, size_t k, size_t k1, anthem_hit *out,
		  size_t *n)
{
	static const char fn[] = "anthem_search";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(query, fn, "query");
	ATH_CHECK_ARG(n, fn, "n");
	*n = 0;
	if (k == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(out, fn, "out");
	/* nothing beyond the index size is needed (and huge values must not
	 * reach the allocations below) */
	if (k > ix->n)
		k = ix->n;
	if (k1 == 0)
		k1 = 200;
	if (k1 > ix->n)
		k1 = ix->n;
	if (k1 < k)
		k1 = k;
	if (k == 0)
		return ANTHEM_OK;
	if (anthem_model_dim(m) != ix->dim)
		return ath_error(ANTHEM_EMISMATCH, "%s: model dimension %zu, "
				 "index %zu", fn, anthem_model_dim(m), ix->dim);
	anthem_hyperboloid *h;
	int rc = anthem_model_embed_query(m, query, &h);
	if (rc)
		return rc;
	anthem_hit *c = malloc(k1 * sizeof *c);
	size_t *cand = malloc(k1 * sizeof *cand), *order = malloc(k1 * sizeof *order);
	float *d2 = malloc(k1 * sizeof *d2);
	size_t nc = 0;
	if (!c || !cand || !order || !d2)
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc)
		rc = anthem_index_scan(ix, h, m->cfg.gamma, k1, c, &nc);
	for (size_t i = 0; !rc && i < nc; i++)
		cand[i] = c[i].index;
	if (!rc)
		rc = anthem_score(m, ix, query, cand, nc, d2);
	if (!rc) {
		size_t kk = ath_topk(d2, nc, k, order);
		for (size_t i = 0; i < kk; i++)
			out[i] = (anthem_hit){cand[order[i]], d2[order[i]]};
		*n = kk;
	}
	anthem_hyperboloid_free(h);
	free(c);
	free(cand);
	free(order);
	free(d2);
	return rc;
}
