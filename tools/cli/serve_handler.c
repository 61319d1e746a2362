/* `anthem serve`: requests to responses, without sockets (docs/serve.md).
 *
 * Every request takes a reference on the current model + index pair and
 * drops it when answered, so a reload never frees a pair in use.  Bodies
 * are parsed and written with jansson: a request is checked field by field
 * (unknown fields, wrong types and values out of the limits are a 400
 * naming the field), and every string written is valid UTF-8. */
#include "serve.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- pairs and reload ------------------------------------------------------ */

void serve_limits_default(serve_limits *l)
{
	l->max_body = (size_t)1 << 20;
	l->max_query = 1024;
	l->max_k = 1000;
	l->max_k1 = 10000;
	l->max_batch = 64;
	l->max_ids = 10000;
	l->search_timeout_ms = 10000;
}

static serve_gen *gen_new(anthem_model *m, anthem_index *ix, int owned,
			  uint64_t number)
{
	serve_gen *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->model = m;
	g->index = ix;
	g->fingerprint = anthem_model_fingerprint(m);
	g->number = number;
	g->owned = owned;
	atomic_init(&g->refs, 1);
	return g;
}

serve_gen *serve_gen_acquire(serve_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	serve_gen *g = ctx->cur;
	atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&ctx->lock);
	return g;
}

void serve_gen_release(serve_gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	if (g->owned) {
		anthem_index_free(g->index);
		anthem_model_free(g->model);
	}
	free(g);
}

/* Model, then the index checked against it (a mismatch is
 * ANTHEM_EMISMATCH: the index was built with another model). */
static int load_pair(const char *model_path, const char *index_path,
		     anthem_model **m, anthem_index **ix)
{
	*m = NULL;
	*ix = NULL;
	int rc = anthem_model_load(m, model_path);
	if (!rc)
		rc = anthem_index_load(ix, index_path, *m);
	if (rc) {
		anthem_model_free(*m);
		*m = NULL;
	}
	return rc;
}

static void ctx_common(serve_ctx *ctx, const serve_limits *limits)
{
	memset(ctx, 0, sizeof *ctx);
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->reload_lock, NULL);
	if (limits)
		ctx->limits = *limits;
	else
		serve_limits_default(&ctx->limits);
}

int serve_init(serve_ctx *ctx, const char *model_path, const char *index_path,
	       const serve_limits *limits)
{
	ctx_common(ctx, limits);
	ctx->model_path = model_path;
	ctx->index_path = index_path;
	anthem_model *m;
	anthem_index *ix;
	int rc = load_pair(model_path, index_path, &m, &ix);
	if (rc)
		return rc;
	if (!(ctx->cur = gen_new(m, ix, 1, 1))) {
		anthem_index_free(ix);
		anthem_model_free(m);
		return ANTHEM_ENOMEM;
	}
	return 0;
}

int serve_init_with(serve_ctx *ctx, anthem_model *m, anthem_index *ix,
		    const serve_limits *limits)
{
	ctx_common(ctx, limits);
	return (ctx->cur = gen_new(m, ix, 0, 1)) ? 0 : ANTHEM_ENOMEM;
}

void serve_free(serve_ctx *ctx)
{
	serve_gen_release(ctx->cur);
	ctx->cur = NULL;
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->reload_lock);
}

int serve_reload(serve_ctx *ctx, char *msg, size_t len)
{
	int rc;
	pthread_mutex_lock(&ctx->reload_lock);
	if (!ctx->model_path || !ctx->index_path) {
		snprintf(msg, len, "no model and index paths to reload from");
		rc = ANTHEM_EINVAL;
	} else {
		anthem_model *m;
		anthem_index *ix;
		rc = load_pair(ctx->model_path, ctx->index_path, &m, &ix);
		serve_gen *g = NULL;
		if (rc) {
			const char *e = anthem_last_error();
			snprintf(msg, len, "%s", e[0] ? e : anthem_strerror(rc));
		} else if (!(g = gen_new(m, ix, 1, 0))) {
			anthem_index_free(ix);
			anthem_model_free(m);
			snprintf(msg, len, "out of memory");
			rc = ANTHEM_ENOMEM;
		} else {
			pthread_mutex_lock(&ctx->lock);
			serve_gen *old = ctx->cur;
			g->number = old->number + 1;
			ctx->cur = g;
			atomic_store(&ctx->has_reload_error, 0);
			pthread_mutex_unlock(&ctx->lock);
			/* requests still holding it finish on it */
			serve_gen_release(old);
			snprintf(msg, len, "generation %" PRIu64 ": %zu products, "
				 "model fingerprint %016" PRIx64, g->number,
				 anthem_index_count(ix), g->fingerprint);
		}
	}
	if (rc) {
		atomic_fetch_add(&ctx->reload_failures, 1);
		pthread_mutex_lock(&ctx->lock);
		snprintf(ctx->last_reload_error, sizeof ctx->last_reload_error,
			 "%s", msg);
		atomic_store(&ctx->has_reload_error, 1);
		pthread_mutex_unlock(&ctx->lock);
	} else {
		atomic_fetch_add(&ctx->reloads, 1);
	}
	pthread_mutex_unlock(&ctx->reload_lock);
	return rc;
}

/* ---- metrics --------------------------------------------------------------- */

static const char *const metric_paths[SERVE_NPATHS] = {
	"/search", "/rerank", "/explain", "/healthz", "/metrics",
	"/admin/reload", "other"};
static const int metric_status[SERVE_NSTATUS] = {
	200, 400, 403, 404, 405, 413, 500, 503, 0}; /* 0: any other */
static const double bucket_le[SERVE_NBUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5};

static size_t path_slot(const char *path)
{
	for (size_t i = 0; i + 1 < SERVE_NPATHS; i++)
		if (!strcmp(path, metric_paths[i]))
			return i;
	return SERVE_NPATHS - 1;
}

void serve_record(serve_ctx *ctx, const char *path, int status, double seconds)
{
	size_t s = SERVE_NSTATUS - 1;
	for (size_t i = 0; i + 1 < SERVE_NSTATUS; i++)
		if (metric_status[i] == status)
			s = i;
	atomic_fetch_add(&ctx->requests[path_slot(path)][s], 1);
	if (status >= 400)
		atomic_fetch_add(&ctx->errors, 1);
	size_t b = 0;
	while (b < SERVE_NBUCKETS && seconds > bucket_le[b])
		b++;
	atomic_fetch_add(&ctx->buckets[b], 1);
	atomic_fetch_add(&ctx->duration_us,
			 (unsigned long)(seconds > 0 ? seconds * 1e6 + 0.5 : 0));
}

/* A Prometheus label value: backslash, quote and line feed escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void metrics_text(serve_ctx *ctx, const serve_gen *g, FILE *f)
{
	fprintf(f, "# HELP anthem_requests_total Requests answered, by path "
		   "and status.\n# TYPE anthem_requests_total counter\n");
	for (size_t p = 0; p < SERVE_NPATHS; p++)
		for (size_t s = 0; s < SERVE_NSTATUS; s++) {
			unsigned long v = atomic_load(&ctx->requests[p][s]);
			if (!v)
				continue;
			fprintf(f, "anthem_requests_total{path=\"%s\",status=\"",
				metric_paths[p]);
			if (metric_status[s])
				fprintf(f, "%d", metric_status[s]);
			else
				fputs("other", f);
			fprintf(f, "\"} %lu\n", v);
		}
	fprintf(f, "# HELP anthem_request_errors_total Requests answered with "
		   "a status of 400 or more.\n"
		   "# TYPE anthem_request_errors_total counter\n"
		   "anthem_request_errors_total %lu\n",
		atomic_load(&ctx->errors));
	fprintf(f, "# HELP anthem_request_duration_seconds Time from a "
		   "request's headers to its response.\n"
		   "# TYPE anthem_request_duration_seconds histogram\n");
	unsigned long cum = 0;
	for (size_t b = 0; b <= SERVE_NBUCKETS; b++) {
		cum += atomic_load(&ctx->buckets[b]);
		if (b < SERVE_NBUCKETS)
			fprintf(f, "anthem_request_duration_seconds_bucket"
				   "{le=\"%g\"} %lu\n", bucket_le[b], cum);
		else
			fprintf(f, "anthem_request_duration_seconds_bucket"
				   "{le=\"+Inf\"} %lu\n", cum);
	}
	fprintf(f, "anthem_request_duration_seconds_sum %.6f\n"
		   "anthem_request_duration_seconds_count %lu\n",
		(double)atomic_load(&ctx->duration_us) / 1e6, cum);
	fprintf(f, "# HELP anthem_requests_in_flight Requests being "
		   "answered.\n# TYPE anthem_requests_in_flight gauge\n"
		   "anthem_requests_in_flight %ld\n",
		atomic_load(&ctx->in_flight));
	fprintf(f, "# HELP anthem_model_info The model and index served "
		   "(fingerprint: anthem_model_fingerprint in hex).\n"
		   "# TYPE anthem_model_info gauge\n"
		   "anthem_model_info{fingerprint=\"%016" PRIx64 "\",dim=\"%zu\"",
		g->fingerprint, anthem_index_dim(g->index));
	if (ctx->model_path) {
		fputs(",model=\"", f);
		label_value(f, ctx->model_path);
		fputs("\",index=\"", f);
		label_value(f, ctx->index_path);
		fputs("\"", f);
	}
	fprintf(f, "} 1\n");
	fprintf(f, "# HELP anthem_index_products Products in the index "
		   "served.\n# TYPE anthem_index_products gauge\n"
		   "anthem_index_products %zu\n", anthem_index_count(g->index));
	fprintf(f, "# HELP anthem_generation Model and index pairs loaded "
		   "(1 at start, +1 a successful reload).\n"
		   "# TYPE anthem_generation gauge\nanthem_generation %" PRIu64
		   "\n", g->number);
	fprintf(f, "# HELP anthem_reloads_total Successful reloads.\n"
		   "# TYPE anthem_reloads_total counter\n"
		   "anthem_reloads_total %lu\n"
		   "# HELP anthem_reload_failures_total Reloads that failed "
		   "(the previous pair kept serving).\n"
		   "# TYPE anthem_reload_failures_total counter\n"
		   "anthem_reload_failures_total %lu\n",
		atomic_load(&ctx->reloads), atomic_load(&ctx->reload_failures));
	fprintf(f, "# HELP anthem_reload_last_failed 1 when the last reload "
		   "failed; its message is the label.\n"
		   "# TYPE anthem_reload_last_failed gauge\n");
	pthread_mutex_lock(&ctx->lock);
	if (atomic_load(&ctx->has_reload_error)) {
		fputs("anthem_reload_last_failed{error=\"", f);
		label_value(f, ctx->last_reload_error);
		fputs("\"} 1\n", f);
	} else {
		fputs("anthem_reload_last_failed 0\n", f);
	}
	pthread_mutex_unlock(&ctx->lock);
}

/* ---- responses ------------------------------------------------------------- */

static void reply(serve_response *out, int status, char *body,
		  const char *type)
{
	out->status = status;
	out->body = body;
	out->len = body ? strlen(body) : 0;
	out->content_type = type;
	if (!body) { /* out of memory: serve.c sends a fixed body */
		out->status = 500;
		out->content_type = "application/json";
	}
}

/* Take j (may be NULL: out of memory) and write it compactly; a float as
 * %.9g prints exactly. */
static void reply_json(serve_response *out, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9))
		    : NULL;
	json_decref(j);
	reply(out, status, s, "application/json");
}

static __attribute__((format(printf, 3, 4))) void
reply_error(serve_response *out, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* msg may quote a client's bytes: json_string refuses bad UTF-8 */
	json_t *s = json_string(msg);
	if (!s)
		s = json_string("(the message is not valid UTF-8)");
	json_t *j = json_object();
	if (j && s)
		json_object_set_new(j, "error", s);
	else
		json_decref(s);
	reply_json(out, status, j);
}

/* A JSON string of s: valid UTF-8 as it is, else each byte that starts
 * no well-formed character replaced by U+FFFD (a query may be any bytes,
 * and an explained trigram can cut a character). */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t n = strlen(s);
	char *t = malloc(3 * n + 1), *w = t;
	if (!t)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2
			   : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
		int ok = len > 0;
		for (size_t i = 1; ok && i < len; i++)
			ok = (p[i] & 0xc0) == 0x80;
		/* jansson decides what is well formed (overlong forms,
		 * surrogates): try the character on its own */
		if (ok) {
			char one[5] = {0};
			memcpy(one, p, len);
			json_t *c = json_string(one);
			ok = c != NULL;
			json_decref(c);
		}
		if (ok) {
			memcpy(w, p, len);
			w += len;
			p += len;
		} else {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			p++;
		}
	}
	*w = '\0';
	j = json_string(t);
	free(t);
	return j;
}

/* A finite float as a number, anything else as null (JSON has no NaN). */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static int add(json_t *obj, const char *key, json_t *v)
{
	return v && obj ? json_object_set_new(obj, key, v) : (json_decref(v), -1);
}

static int push(json_t *arr, json_t *v)
{
	return v && arr ? json_array_append_new(arr, v) : (json_decref(v), -1);
}

/* The results of one query: [{rank, product_id, title, score, distance}],
 * score = -distance so that higher is better, as the CLI prints. */
static json_t *hits_json(const anthem_index *ix, const anthem_hit *hits,
			 size_t n)
{
	json_t *arr = json_array();
	int bad = !arr;
	for (size_t i = 0; !bad && i < n; i++) {
		json_t *h = json_object();
		bad |= add(h, "rank", json_integer((json_int_t)i + 1));
		bad |= add(h, "product_id", jstr(anthem_index_id(ix, hits[i].index)));
		bad |= add(h, "title", jstr(anthem_index_title(ix, hits[i].index)));
		bad |= add(h, "score", jnum(-(double)hits[i].distance));
		bad |= add(h, "distance", jnum(hits[i].distance));
		bad |= push(arr, h);
	}
	if (bad) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* A library failure: a bad argument the checks here let through is the
 * client's (400), anything else the server's (500). */
static void reply_library(serve_response *out, int rc)
{
	const char *e = anthem_last_error();
	reply_error(out, rc == ANTHEM_EINVAL || rc == ANTHEM_ERANGE ? 400
			 : rc == ANTHEM_ECANCELED ? 503 : 500,
		    "%s", e[0] ? e : anthem_strerror(rc));
}

/* ---- request fields -------------------------------------------------------- */

/* The fields a body may hold; anything else is refused, so that a
 * misspelt option ("top_k") is not silently ignored. */
static int check_fields(json_t *root, const char *const *allowed,
			serve_response *out)
{
	if (!json_is_object(root)) {
		reply_error(out, 400, "the body must be a JSON object");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], key))
			i++;
		if (!allowed[i]) {
			reply_error(out, 400, "unknown field \"%.100s\"", key);
			return -1;
		}
	}
	return 0;
}

static json_t *parse_body(const char *body, size_t len, serve_response *out)
{
	json_error_t err;
	/* \u0000 is refused (no JSON_ALLOW_NUL): texts are C strings */
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if (!root)
		reply_error(out, 400, "malformed JSON at line %d column %d: %s",
			    err.line, err.column, err.text);
	return root;
}

/* A text: a non-empty string of at most max bytes. */
static int text_ok(const char *name, const char *s, size_t max,
		   serve_response *out)
{
	size_t n = strlen(s);
	if (n == 0) {
		reply_error(out, 400, "\"%s\" must not be empty", name);
		return -1;
	}
	if (n > max) {
		reply_error(out, 400, "\"%s\" is %zu bytes, more than the "
			    "limit of %zu (--max-query)", name, n, max);
		return -1;
	}
	return 0;
}

static int get_text(json_t *root, const char *name, int required, size_t max,
		    const char **s, serve_response *out)
{
	json_t *v = json_object_get(root, name);
	*s = NULL;
	if (!v) {
		if (required)
			reply_error(out, 400, "\"%s\" is required", name);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		reply_error(out, 400, "\"%s\" must be a string", name);
		return -1;
	}
	*s = json_string_value(v);
	return text_ok(name, *s, max, out);
}

/* A whole number from lo to hi (flag names the limit's option). */
static int get_size(json_t *root, const char *name, size_t lo, size_t hi,
		    const char *flag, size_t *v, serve_response *out)
{
	json_t *j = json_object_get(root, name);
	if (!j)
		return 0;
	if (!json_is_integer(j) || json_integer_value(j) < (json_int_t)lo ||
	    (uint64_t)json_integer_value(j) > hi) {
		reply_error(out, 400, "\"%s\" must be a whole number from %zu "
			    "to %zu (%s)", name, lo, hi, flag);
		return -1;
	}
	*v = (size_t)json_integer_value(j);
	return 0;
}

/* An array of at most max strings (texts when maxlen > 0, ids when 0),
 * collected into *list (malloc'd, pointing into root). */
static int get_strings(json_t *root, const char *name, size_t max,
		       const char *flag, size_t maxlen, const char ***list,
		       size_t *n, serve_response *out)
{
	json_t *a = json_object_get(root, name);
	*list = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a)) {
		reply_error(out, 400, "\"%s\" must be an array of strings", name);
		return -1;
	}
	if (json_array_size(a) > max) {
		reply_error(out, 400, "\"%s\" holds %zu items, more than the "
			    "limit of %zu (%s)", name, json_array_size(a), max,
			    flag);
		return -1;
	}
	*list = malloc((json_array_size(a) + 1) * sizeof **list);
	if (!*list) {
		reply_error(out, 500, "out of memory");
		return -1;
	}
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v)) {
			reply_error(out, 400, "\"%s\"[%zu] must be a string",
				    name, i);
			goto bad;
		}
		const char *s = json_string_value(v);
		if (maxlen) {
			char what[64];
			snprintf(what, sizeof what, "%s[%zu]", name, i);
			if (text_ok(what, s, maxlen, out))
				goto bad;
		}
		(*list)[i] = s;
	}
	*n = json_array_size(a);
	return 0;
bad:
	free(*list);
	*list = NULL;
	return -1;
}

/* A whole number of a ?argument. */
static int arg_size(const char *name, const char *s, size_t lo, size_t hi,
		    const char *flag, size_t *v, serve_response *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || x < lo ||
	    x > hi) {
		reply_error(out, 400, "\"%s\" must be a whole number from %zu "
			    "to %zu (%s)", name, lo, hi, flag);
		return -1;
	}
	*v = (size_t)x;
	return 0;
}

/* ---- endpoints ------------------------------------------------------------- */

/* The library refuses more than 16 AND or OR texts (search.h). */
#define MAX_AND_OR 16
/* stage2_elements: a query has at most 64 + 64 * 63 / 2 elements, so
 * anything above keeps them all */
#define MAX_ELEMENTS 100000

typedef struct search_req {
	const char **queries;
	size_t nq;
	size_t k, k1;
	size_t elements; /* anthem_search_options.stage2_elements */
	const char **ands, **ors, **filter;
	size_t nand, nor, nfilter;
	int single; /* GET: one query, answered as one object */
} search_req;

static void run_search(serve_ctx *ctx, const search_req *r,
		       serve_response *out)
{
	serve_gen *g = serve_gen_acquire(ctx);
	anthem_search_options so;
	anthem_search_options_init(&so);
	so.k = r->k;
	so.k1 = r->k1;
	/* k1 0 ranks by stage 1 alone, as `anthem search --k1 0` does */
	so.stage1_only = r->k1 == 0;
	so.stage2_elements = r->elements;
	/* the server runs requests side by side: one thread a request */
	so.threads = 1;
	/* a composed region can take seconds: the library stops it at the
	 * budget (ANTHEM_ECANCELED, answered 503) instead of holding a
	 * thread of the pool */
	so.timeout_ms = ctx->limits.search_timeout_ms;
	so.and_queries = r->ands;
	so.n_and = r->nand;
	so.or_queries = r->ors;
	so.n_or = r->nor;
	size_t *allow = NULL, nallow = 0;
	json_t *unknown = r->filter ? json_array() : NULL;
	anthem_hit *hits = malloc(r->nq * r->k * sizeof *hits);
	size_t *counts = malloc(r->nq * sizeof *counts);
	if (r->filter)
		allow = malloc((r->nfilter + 1) * sizeof *allow);
	int bad = !hits || !counts || (r->filter && (!allow || !unknown));
	/* an id the index does not hold is reported, not fatal: the
	 * engine's filter may know products this index has not seen yet */
	for (size_t i = 0; !bad && i < r->nfilter; i++) {
		size_t pos;
		if (anthem_index_find(g->index, r->filter[i], &pos) == ANTHEM_OK)
			allow[nallow++] = pos;
		else
			bad |= push(unknown, jstr(r->filter[i]));
	}
	if (r->filter) {
		so.allow = allow;
		so.n_allow = nallow;
	}
	int rc = bad ? ANTHEM_ENOMEM
		     : anthem_search_batch(g->model, g->index,
					   (const char *const *)r->queries,
					   r->nq, &so, hits, counts);
	json_t *results = NULL;
	if (!rc) {
		results = json_array();
		bad = !results;
		for (size_t q = 0; !bad && q < r->nq; q++) {
			json_t *o = json_object();
			bad |= add(o, "query", jstr(r->queries[q]));
			bad |= add(o, "results", hits_json(g->index,
							   hits + q * r->k,
							   counts[q]));
			bad |= push(results, o);
		}
	}
	if (rc == ANTHEM_ENOMEM || bad) {
		json_decref(results);
		reply_error(out, 500, "out of memory");
	} else if (rc) {
		reply_library(out, rc);
	} else if (r->single) {
		json_t *o = json_incref(json_array_get(results, 0));
		json_decref(results);
		reply_json(out, 200, o);
	} else {
		json_t *o = json_object();
		int fail = add(o, "results", results);
		if (unknown)
			fail |= add(o, "unknown_ids", json_incref(unknown));
		if (fail) {
			json_decref(o);
			o = NULL;
		}
		reply_json(out, 200, o);
	}
	json_decref(unknown);
	free(allow);
	free(hits);
	free(counts);
	serve_gen_release(g);
}

/* GET /search?q=...&k=10&k1=200&stage2_elements=0&and=...&or=... */
static void get_search(serve_ctx *ctx, const serve_arg *args, size_t nargs,
		       serve_response *out)
{
	const serve_limits *L = &ctx->limits;
	const char *q = NULL, *ands[MAX_AND_OR], *ors[MAX_AND_OR];
	search_req r = {.nq = 1, .k = 10, .k1 = 200, .single = 1,
			.ands = ands, .ors = ors};
	for (size_t i = 0; i < nargs; i++) {
		const char *key = args[i].key, *v = args[i].value ? args[i].value : "";
		if (!strcmp(key, "q")) {
			if (q) {
				reply_error(out, 400, "\"q\" given twice (POST "
					    "/search answers several queries)");
				return;
			}
			if (text_ok("q", v, L->max_query, out))
				return;
			q = v;
		} else if (!strcmp(key, "k")) {
			if (arg_size("k", v, 1, L->max_k, "--max-k", &r.k, out))
				return;
		} else if (!strcmp(key, "k1")) {
			if (arg_size("k1", v, 0, L->max_k1, "--max-k1", &r.k1, out))
				return;
		} else if (!strcmp(key, "stage2_elements")) {
			if (arg_size(key, v, 0, MAX_ELEMENTS, "0: all", &r.elements,
				     out))
				return;
		} else if (!strcmp(key, "and") || !strcmp(key, "or")) {
			size_t *n = key[0] == 'a' ? &r.nand : &r.nor;
			const char **list = key[0] == 'a' ? ands : ors;
			if (*n == MAX_AND_OR) {
				reply_error(out, 400, "more than %d \"%s\" texts",
					    MAX_AND_OR, key);
				return;
			}
			if (text_ok(key, v, L->max_query, out))
				return;
			list[(*n)++] = v;
		} else {
			reply_error(out, 400, "unknown argument \"%.100s\" (q, k, "
				    "k1, stage2_elements, and, or)", key);
			return;
		}
	}
	if (!q) {
		reply_error(out, 400, "\"q\" is required");
		return;
	}
	r.queries = &q;
	run_search(ctx, &r, out);
}

/* POST /search {"queries": [...], "k", "k1", "stage2_elements", "and",
 * "or", "filter"} */
static void post_search(serve_ctx *ctx, json_t *root, serve_response *out)
{
	static const char *const fields[] = {"queries", "k", "k1",
					     "stage2_elements", "and", "or",
					     "filter", NULL};
	const serve_limits *L = &ctx->limits;
	search_req r = {.k = 10, .k1 = 200};
	if (check_fields(root, fields, out) ||
	    get_size(root, "k", 1, L->max_k, "--max-k", &r.k, out) ||
	    get_size(root, "k1", 0, L->max_k1, "--max-k1", &r.k1, out) ||
	    get_size(root, "stage2_elements", 0, MAX_ELEMENTS, "0: all",
		     &r.elements, out) ||
	    get_strings(root, "queries", L->max_batch, "--max-batch",
			L->max_query, &r.queries, &r.nq, out))
		return;
	if (!r.queries || r.nq == 0) {
		reply_error(out, 400, "\"queries\" must be a non-empty array "
			    "of strings");
		free(r.queries);
		return;
	}
	if (!get_strings(root, "and", MAX_AND_OR, "the library's limit",
			 L->max_query, &r.ands, &r.nand, out) &&
	    !get_strings(root, "or", MAX_AND_OR, "the library's limit",
			 L->max_query, &r.ors, &r.nor, out) &&
	    !get_strings(root, "filter", L->max_ids, "--max-ids", 0,
			 &r.filter, &r.nfilter, out))
		run_search(ctx, &r, out);
	free(r.queries);
	free(r.ands);
	free(r.ors);
	free(r.filter);
}

/* POST /rerank {"query", "product_ids": [...], "k"} */
static void post_rerank(serve_ctx *ctx, json_t *root, serve_response *out)
{
	static const char *const fields[] = {"query", "product_ids", "k", NULL};
	const serve_limits *L = &ctx->limits;
	const char *query, **ids;
	size_t n, k = SIZE_MAX;
	if (check_fields(root, fields, out) ||
	    get_text(root, "query", 1, L->max_query, &query, out) ||
	    get_size(root, "k", 1, L->max_ids, "--max-ids", &k, out) ||
	    get_strings(root, "product_ids", L->max_ids, "--max-ids", 0, &ids,
			&n, out))
		return;
	if (!ids) {
		reply_error(out, 400, "\"product_ids\" is required");
		return;
	}
	serve_gen *g = serve_gen_acquire(ctx);
	anthem_hit *hits = malloc((n + 1) * sizeof *hits);
	json_t *unknown = json_array();
	/* a repeated id is ranked once (an engine merging candidate lists
	 * may repeat one; two equal hits would only push another out) */
	unsigned char *seen = calloc(anthem_index_count(g->index) / 8 + 1, 1);
	const char **uniq = malloc((n + 1) * sizeof *uniq);
	size_t nu = 0;
	int bad = !hits || !unknown || !seen || !uniq;
	for (size_t i = 0; !bad && i < n; i++) {
		size_t pos;
		if (anthem_index_find(g->index, ids[i], &pos) != ANTHEM_OK) {
			bad |= push(unknown, jstr(ids[i]));
		} else if (!(seen[pos / 8] >> (pos % 8) & 1)) {
			seen[pos / 8] |= (unsigned char)(1u << (pos % 8));
			uniq[nu++] = ids[i];
		}
	}
	size_t nh = 0;
	int rc = bad ? ANTHEM_ENOMEM
		     : anthem_rerank_ids(g->model, g->index, query, uniq, nu,
					 hits, &nh);
	free(seen);
	free(uniq);
	if (!rc) {
		json_t *o = json_object();
		bad |= add(o, "query", jstr(query));
		bad |= add(o, "results", hits_json(g->index, hits,
						   nh < k ? nh : k));
		bad |= add(o, "unknown_ids", json_incref(unknown));
		if (bad) {
			json_decref(o);
			reply_error(out, 500, "out of memory");
		} else {
			reply_json(out, 200, o);
		}
	} else if (rc == ANTHEM_ENOMEM) {
		reply_error(out, 500, "out of memory");
	} else {
		reply_library(out, rc);
	}
	json_decref(unknown);
	free(hits);
	free(ids);
	serve_gen_release(g);
}

/* POST /explain {"query", "product_id"} or {"query", "title"} */
static void post_explain(serve_ctx *ctx, json_t *root, serve_response *out)
{
	static const char *const fields[] = {"query", "product_id", "title",
					     NULL};
	const serve_limits *L = &ctx->limits;
	const char *query, *id, *title;
	if (check_fields(root, fields, out) ||
	    get_text(root, "query", 1, L->max_query, &query, out) ||
	    get_text(root, "product_id", 0, SIZE_MAX, &id, out) ||
	    get_text(root, "title", 0, L->max_query, &title, out))
		return;
	if (!id == !title) {
		reply_error(out, 400, "give \"product_id\" or \"title\" (one "
			    "of them)");
		return;
	}
	serve_gen *g = serve_gen_acquire(ctx);
	if (id) {
		size_t pos;
		if (anthem_index_find(g->index, id, &pos) != ANTHEM_OK) {
			reply_error(out, 404, "product_id \"%.200s\" is not in "
				    "the index", id);
			serve_gen_release(g);
			return;
		}
		title = anthem_index_title(g->index, pos);
	}
	anthem_explanation *e = NULL;
	int rc = anthem_model_explain(g->model, query, title, &e);
	if (rc) {
		reply_library(out, rc);
		serve_gen_release(g);
		return;
	}
	size_t R = anthem_explanation_rows(e), C = anthem_explanation_cols(e);
	const float *w = anthem_explanation_weights(e);
	json_t *o = json_object(), *rows = json_array(), *cols = json_array(),
	       *grid = json_array();
	int bad = add(o, "query", jstr(query));
	if (id)
		bad |= add(o, "product_id", jstr(id));
	bad |= add(o, "title", jstr(title));
	bad |= add(o, "distance", jnum(anthem_explanation_distance(e)));
	bad |= add(o, "score", jnum(-(double)anthem_explanation_distance(e)));
	for (size_t r = 0; !bad && r < R; r++)
		bad |= push(rows, jstr(anthem_explanation_row_label(e, r)));
	for (size_t c = 0; !bad && c < C; c++)
		bad |= push(cols, jstr(anthem_explanation_col_label(e, c)));
	for (size_t r = 0; !bad && r < R; r++) {
		json_t *row = json_array();
		for (size_t c = 0; !bad && c < C; c++)
			bad |= push(row, jnum(w[r * C + c]));
		bad |= push(grid, row);
	}
	bad |= add(o, "rows", rows);
	bad |= add(o, "cols", cols);
	bad |= add(o, "weights", grid);
	anthem_explanation_free(e);
	serve_gen_release(g);
	if (bad) {
		json_decref(o);
		reply_error(out, 500, "out of memory");
		return;
	}
	reply_json(out, 200, o);
}

static void get_healthz(serve_ctx *ctx, serve_response *out)
{
	serve_gen *g = serve_gen_acquire(ctx);
	char fp[17];
	snprintf(fp, sizeof fp, "%016" PRIx64, g->fingerprint);
	json_t *o = json_object();
	int bad = add(o, "status", json_string("ok"));
	bad |= add(o, "generation", json_integer((json_int_t)g->number));
	bad |= add(o, "products", json_integer((json_int_t)anthem_index_count(g->index)));
	bad |= add(o, "model_fingerprint", json_string(fp));
	serve_gen_release(g);
	if (bad) {
		json_decref(o);
		o = NULL;
	}
	reply_json(out, 200, o);
}

static void get_metrics(serve_ctx *ctx, serve_response *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		reply_error(out, 500, "out of memory");
		return;
	}
	serve_gen *g = serve_gen_acquire(ctx);
	metrics_text(ctx, g, f);
	serve_gen_release(g);
	if (fclose(f) != 0) {
		free(buf);
		buf = NULL;
	}
	reply(out, 200, buf, "text/plain; version=0.0.4; charset=utf-8");
}

static void post_reload(serve_ctx *ctx, int loopback, serve_response *out)
{
	if (!loopback) {
		reply_error(out, 403, "/admin/reload answers loopback peers only");
		return;
	}
	char msg[512];
	int rc = serve_reload(ctx, msg, sizeof msg);
	fprintf(stderr, "anthem serve: reload %s: %s\n", rc ? "FAILED" : "ok",
		msg);
	if (rc) {
		reply_error(out, 500, "reload failed, the previous model and "
			    "index keep serving: %s", msg);
		return;
	}
	serve_gen *g = serve_gen_acquire(ctx);
	json_t *o = json_object();
	int bad = add(o, "reloaded", json_true());
	bad |= add(o, "generation", json_integer((json_int_t)g->number));
	bad |= add(o, "products", json_integer((json_int_t)anthem_index_count(g->index)));
	serve_gen_release(g);
	if (bad) {
		json_decref(o);
		o = NULL;
	}
	reply_json(out, 200, o);
}

/* ---- routing --------------------------------------------------------------- */

typedef enum { R_SEARCH, R_RERANK, R_EXPLAIN, R_HEALTHZ, R_METRICS, R_RELOAD } route;

static const struct {
	const char *path, *allow;
	route r;
} routes[] = {
	{"/search", "GET, POST", R_SEARCH},
	{"/rerank", "POST", R_RERANK},
	{"/explain", "POST", R_EXPLAIN},
	{"/healthz", "GET", R_HEALTHZ},
	{"/metrics", "GET", R_METRICS},
	{"/admin/reload", "POST", R_RELOAD},
};

void serve_handle(serve_ctx *ctx, const char *method, const char *path,
		  const serve_arg *query, size_t nargs, const char *body,
		  size_t len, int loopback, serve_response *out)
{
	memset(out, 0, sizeof *out);
	size_t i = 0, nroutes = sizeof routes / sizeof routes[0];
	while (i < nroutes && strcmp(routes[i].path, path))
		i++;
	if (i == nroutes) {
		reply_error(out, 404, "no such path (see docs/serve.md: /search, "
			    "/rerank, /explain, /healthz, /metrics, /admin/reload)");
		return;
	}
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	/* the search form is the only one with both */
	if (!(post || (get && strstr(routes[i].allow, "GET")))) {
		reply_error(out, 405, "%s answers %s only", routes[i].path,
			    routes[i].allow);
		out->allow = routes[i].allow;
		return;
	}
	if (post && !strstr(routes[i].allow, "POST")) {
		reply_error(out, 405, "%s answers %s only", routes[i].path,
			    routes[i].allow);
		out->allow = routes[i].allow;
		return;
	}
	if (len > ctx->limits.max_body) { /* serve.c stops it sooner */
		reply_error(out, 413, "the body is larger than %zu bytes "
			    "(--max-body)", ctx->limits.max_body);
		return;
	}
	if (post && routes[i].r != R_RELOAD && nargs) {
		reply_error(out, 400, "POST %s takes its arguments in the JSON "
			    "body, not in ?%.100s", path, query[0].key);
		return;
	}
	if (get && (routes[i].r == R_HEALTHZ || routes[i].r == R_METRICS) &&
	    nargs) {
		reply_error(out, 400, "%s takes no arguments", path);
		return;
	}
	switch (routes[i].r) {
	case R_SEARCH:
		if (get) {
			get_search(ctx, query, nargs, out);
			return;
		}
		break;
	case R_HEALTHZ:
		get_healthz(ctx, out);
		return;
	case R_METRICS:
		get_metrics(ctx, out);
		return;
	case R_RELOAD:
		post_reload(ctx, loopback, out);
		return;
	default:
		break;
	}
	json_t *root = parse_body(body, len, out);
	if (!root)
		return;
	if (routes[i].r == R_SEARCH)
		post_search(ctx, root, out);
	else if (routes[i].r == R_RERANK)
		post_rerank(ctx, root, out);
	else
		post_explain(ctx, root, out);
	json_decref(root);
}
