/* `anthem serve`: the HTTP/JSON service (docs/serve.md).
 *
 * The request handler (serve_handler.c) knows nothing of sockets: it takes
 * a method, a path, the decoded query arguments and the body and gives a
 * status and a body, so that the fuzz target (tests/fuzz/fuzz_serve.c)
 * drives it directly.  serve.c puts it behind libmicrohttpd and handles
 * signals. */
#ifndef ANTHEM_SERVE_H
#define ANTHEM_SERVE_H

#include <anthem/anthem.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A model and the index built with it, shared by the requests that use
 * them: a reload installs a new pair and the old one is freed when the
 * last request holding it lets go. */
typedef struct serve_gen {
	anthem_model *model;
	anthem_index *index;
	uint64_t fingerprint; /* anthem_model_fingerprint */
	uint64_t number;      /* 1 for the first pair, +1 a reload */
	atomic_size_t refs;   /* the server's own plus one a request */
	int owned;            /* 1: free model and index with the pair */
} serve_gen;

/* Limits of one request (docs/serve.md lists their flags). */
typedef struct serve_limits {
	size_t max_body;   /* bytes of a request body (1 MiB) */
	size_t max_query;  /* bytes of a query or title text (1024) */
	size_t max_k;      /* k (1000) */
	size_t max_k1;     /* k1 (10000) */
	size_t max_batch;  /* queries of a POST /search (64) */
	size_t max_ids;    /* product ids of a rerank or filter (10000) */
	size_t search_timeout_ms; /* a search's budget, 0: none (10000) */
} serve_limits;

/* Latency buckets of /metrics, in seconds. */
#define SERVE_NBUCKETS 12
/* The paths and statuses /metrics counts (anything else is "other"). */
#define SERVE_NPATHS 7
#define SERVE_NSTATUS 9

typedef struct serve_ctx {
	const char *model_path, *index_path; /* NULL: no reload possible */
	serve_limits limits;
	pthread_mutex_t lock;        /* guards cur */
	pthread_mutex_t reload_lock; /* one reload at a time */
	serve_gen *cur;
	/* metrics, updated from every request thread */
	atomic_ulong requests[SERVE_NPATHS][SERVE_NSTATUS];
	atomic_ulong errors;
	atomic_ulong buckets[SERVE_NBUCKETS + 1]; /* the last is +Inf */
	atomic_ulong duration_us;
	atomic_ulong reloads, reload_failures;
	atomic_long in_flight;
	char last_reload_error[512]; /* under reload_lock */
	atomic_int has_reload_error;
} serve_ctx;

/* One decoded query argument (?key=value). */
typedef struct serve_arg {
	const char *key, *value;
} serve_arg;

typedef struct serve_response {
	int status;
	char *body;              /* malloc'd, NUL-terminated */
	size_t len;
	const char *content_type;
	const char *allow;       /* the Allow header of a 405, else NULL */
} serve_response;

void serve_limits_default(serve_limits *l);

/* Load model and index from their paths (ctx->model_path, index_path)
 * into the first pair.  0 or an anthem_status, with the message in
 * anthem_last_error(). */
int serve_init(serve_ctx *ctx, const char *model_path, const char *index_path,
	       const serve_limits *limits);
/* The same with a model and index already loaded (the fuzz target);
 * they stay the caller's. */
int serve_init_with(serve_ctx *ctx, anthem_model *m, anthem_index *ix,
		    const serve_limits *limits);
void serve_free(serve_ctx *ctx);

/* Re-open model and index from their paths; on success the new pair
 * serves every later request, on failure the old one stays and the
 * error is kept for /metrics.  0 or an anthem_status; msg receives the
 * message either way. */
int serve_reload(serve_ctx *ctx, char *msg, size_t len);

/* The current pair, held until serve_gen_release. */
serve_gen *serve_gen_acquire(serve_ctx *ctx);
void serve_gen_release(serve_gen *g);

/* Answer one request.  query: the decoded ?arguments (nargs of them);
 * body: the request body (len bytes, not NUL-terminated); loopback: the
 * peer is on this machine (POST /admin/reload answers only then).  Fills
 * *out (free out->body with free()).  Never fails: out of memory is a
 * 500 with a static body. */
void serve_handle(serve_ctx *ctx, const char *method, const char *path,
		  const serve_arg *query, size_t nargs, const char *body,
		  size_t len, int loopback, serve_response *out);

/* Count a finished request in the metrics (status, seconds taken). */
void serve_record(serve_ctx *ctx, const char *path, int status, double seconds);

int cmd_serve(int argc, char **argv);

#endif
