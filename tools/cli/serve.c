/* anthem serve: the request handler (serve_handler.c) behind GNU
 * libmicrohttpd, with reload on SIGHUP and a drain on SIGTERM
 * (docs/serve.md).
 *
 * Signals are blocked in every thread and taken by the main thread with
 * sigwait, so a reload runs as ordinary code, never inside a handler. */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct server {
	serve_ctx ctx;
	int quiet;
} server;

/* One request while its body arrives. */
typedef struct request {
	double start;
	char *body;
	size_t len, cap;
	int too_big;
	serve_arg *args;
	size_t nargs, argcap;
	int args_failed;
} request;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	(void)kind;
	request *r = cls;
	if (r->nargs == r->argcap) {
		size_t cap = r->argcap ? 2 * r->argcap : 8;
		serve_arg *grown = realloc(r->args, cap * sizeof *grown);
		if (!grown) {
			r->args_failed = 1;
			return MHD_NO;
		}
		r->args = grown;
		r->argcap = cap;
	}
	r->args[r->nargs].key = key;
	r->args[r->nargs].value = value;
	r->nargs++;
	return MHD_YES;
}

static int peer_is_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return 0;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0,
							   0, 0, 0, 0xff, 0xff};
		const unsigned char *a = in6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (!memcmp(a, v4mapped, 12) && a[12] == 127);
	}
	return 0;
}

/* Queue the response, count it and log it.  body is malloc'd (NULL: out
 * of memory) and passes to libmicrohttpd. */
static enum MHD_Result respond(server *s, struct MHD_Connection *c,
			       const char *method, const char *url,
			       request *r, serve_response *out)
{
	static const char oom[] = "{\"error\":\"out of memory\"}";
	struct MHD_Response *resp =
		out->body ? MHD_create_response_from_buffer(out->len, out->body,
							    MHD_RESPMEM_MUST_FREE)
			  : MHD_create_response_from_buffer(sizeof oom - 1,
							    (void *)oom,
							    MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(out->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				out->content_type ? out->content_type
						  : "application/json");
	if (out->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, out->allow);
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)out->status, resp);
	MHD_destroy_response(resp);
	double t = cli_now() - r->start;
	serve_record(&s->ctx, url, out->status, t);
	if (!s->quiet)
		fprintf(stderr, "%s %s %d %.0f us\n", method, url, out->status,
			t * 1e6);
	return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)version;
	server *s = cls;
	const serve_limits *L = &s->ctx.limits;
	request *r = *con_cls;
	serve_response out;
	if (!r) { /* the headers are in */
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		r->start = cli_now();
		*con_cls = r;
		atomic_fetch_add(&s->ctx.in_flight, 1);
		/* a declared body over the cap is refused before it is read
		 * (libmicrohttpd then closes the connection) */
		const char *cl = MHD_lookup_connection_value(
			c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > L->max_body) {
			r->too_big = 1;
			memset(&out, 0, sizeof out);
			out.status = 413;
			char msg[96];
			snprintf(msg, sizeof msg, "{\"error\":\"the body is larger "
				 "than %zu bytes (--max-body)\"}", L->max_body);
			out.body = strdup(msg);
			out.len = out.body ? strlen(out.body) : 0;
			return respond(s, c, method, url, r, &out);
		}
		return MHD_YES;
	}
	if (*upload_size) { /* a piece of the body */
		size_t n = *upload_size;
		*upload_size = 0;
		if (r->too_big)
			return MHD_YES;
		if (n > L->max_body - r->len) { /* chunked, no length */
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			return MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap : 4096;
			while (cap < r->len + n)
				cap *= 2;
			char *grown = realloc(r->body, cap);
			if (!grown)
				return MHD_NO;
			r->body = grown;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->too_big) {
		memset(&out, 0, sizeof out);
		out.status = 413;
		char msg[96];
		snprintf(msg, sizeof msg, "{\"error\":\"the body is larger than "
			 "%zu bytes (--max-body)\"}", L->max_body);
		out.body = strdup(msg);
		out.len = out.body ? strlen(out.body) : 0;
		return respond(s, c, method, url, r, &out);
	}
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, r);
	if (r->args_failed) {
		memset(&out, 0, sizeof out);
		out.status = 500;
		return respond(s, c, method, url, r, &out);
	}
	serve_handle(&s->ctx, method, url, r->args, r->nargs,
		     r->body ? r->body : "", r->len, peer_is_loopback(c), &out);
	return respond(s, c, method, url, r, &out);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	(void)c;
	(void)why;
	server *s = cls;
	request *r = *con_cls;
	if (!r)
		return;
	free(r->body);
	free(r->args);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&s->ctx.in_flight, 1);
}

/* HOST:PORT ([::1]:PORT for IPv6) into an address. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss,
			socklen_t *sslen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1] ||
	    (size_t)(colon - spec) >= sizeof host)
		return -1;
	size_t hl = (size_t)(colon - spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || port > 65535)
		return -1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static const struct {
	const char *name, *arg, *help;
} serve_opts[] = {
	{"model", "MODEL", "the model"},
	{"index", "INDEX", "the index built with it (anthem index)"},
	{"listen", "HOST:PORT", "address to bind (127.0.0.1:8080; port 0: any free port)"},
	{"threads", "T", "threads answering requests (the number of cores)"},
	{"max-body", "BYTES", "largest request body (1048576)"},
	{"max-query", "BYTES", "longest query, and/or text or title (1024)"},
	{"max-k", "N", "largest k (1000)"},
	{"max-k1", "N", "largest k1 (10000)"},
	{"max-batch", "N", "most queries in one POST /search (64)"},
	{"max-ids", "N", "most product ids in a rerank or filter (10000)"},
	{"timeout", "SECONDS", "close a connection idle this long, and wait this long for requests at SIGTERM (30)"},
	{"search-timeout", "MS", "a search's budget; longer ones are answered 503 (10000; 0: none)"},
	{"quiet", NULL, "no line per request on stderr"},
};
#define NOPTS (sizeof serve_opts / sizeof serve_opts[0])

static void serve_help(const command *cmd)
{
	printf("usage: %s\n\n%s.\n\noptions:\n", cmd->usage, cmd->summary);
	for (size_t i = 0; i < NOPTS; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", serve_opts[i].name,
			 serve_opts[i].arg ? " " : "",
			 serve_opts[i].arg ? serve_opts[i].arg : "");
		printf("  %-24s %s\n", left, serve_opts[i].help);
	}
	printf("  %-24s %s\n", "--help", "show this help");
}

/* A whole number option from 1 (0 when zero_ok) up. */
static int size_opt(const command *cmd, const char *name, const char *s,
		    int zero_ok, size_t *out)
{
	if (cli_size(cmd, name, s, out))
		return -1;
	if (!zero_ok && *out == 0) {
		fprintf(stderr, "anthem serve: --%s must be at least 1\n", name);
		return -1;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	const command *cmd = NULL;
	for (size_t i = 0; i < cli_ncommands; i++)
		if (!strcmp(cli_commands[i].name, "serve"))
			cmd = &cli_commands[i];
	struct option longopts[NOPTS + 2];
	for (size_t i = 0; i < NOPTS; i++)
		longopts[i] = (struct option){serve_opts[i].name,
					      serve_opts[i].arg ? required_argument
								: no_argument,
					      NULL, (int)i};
	longopts[NOPTS] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[NOPTS + 1] = (struct option){NULL, 0, NULL, 0};

	const char *model = NULL, *index = NULL, *listen = "127.0.0.1:8080";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = ncpu > 0 ? (size_t)ncpu : 1, timeout = 30;
	serve_limits L;
	serve_limits_default(&L);
	int quiet = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'h':
			serve_help(cmd);
			return 0;
		case 0: model = optarg; break;
		case 1: index = optarg; break;
		case 2: listen = optarg; break;
		case 3: bad = size_opt(cmd, "threads", optarg, 0, &nthreads); break;
		case 4: bad = size_opt(cmd, "max-body", optarg, 0, &L.max_body); break;
		case 5: bad = size_opt(cmd, "max-query", optarg, 0, &L.max_query); break;
		case 6: bad = size_opt(cmd, "max-k", optarg, 0, &L.max_k); break;
		case 7: bad = size_opt(cmd, "max-k1", optarg, 1, &L.max_k1); break;
		case 8: bad = size_opt(cmd, "max-batch", optarg, 0, &L.max_batch); break;
		case 9: bad = size_opt(cmd, "max-ids", optarg, 0, &L.max_ids); break;
		case 10: bad = size_opt(cmd, "timeout", optarg, 0, &timeout); break;
		case 11: bad = size_opt(cmd, "search-timeout", optarg, 1, &L.search_timeout_ms); break;
		case 12: quiet = 1; break;
		case ':':
			fprintf(stderr, "anthem serve: %s needs a value\nusage: "
				"%s\n", argv[optind - 1], cmd->usage);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "anthem serve: unknown option '%s'\n"
				"usage: %s\n", argv[optind - 1], cmd->usage);
			return EXIT_USAGE;
		}
		if (bad)
			return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "anthem serve: unexpected argument '%s'\nusage: "
			"%s\n", argv[optind], cmd->usage);
		return EXIT_USAGE;
	}
	if (!model || !index) {
		fprintf(stderr, "anthem serve: --model and --index are required\n"
			"usage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (nthreads > 1024 || timeout > 86400 || L.max_k > 100000 ||
	    L.max_batch > 100000 || L.max_body > ((size_t)1 << 30)) {
		fprintf(stderr, "anthem serve: at most 1024 threads, a timeout "
			"of a day, --max-k and --max-batch 100000, --max-body "
			"1 GiB\n");
		return EXIT_USAGE;
	}
	struct sockaddr_storage addr;
	socklen_t addrlen;
	if (parse_listen(listen, &addr, &addrlen)) {
		fprintf(stderr, "anthem serve: --listen wants HOST:PORT (e.g. "
			"127.0.0.1:8080 or [::1]:0), not '%s'\n", listen);
		return EXIT_USAGE;
	}

	server s = {.quiet = quiet};
	int rc = serve_init(&s.ctx, model, index, &L);
	if (rc) {
		serve_free(&s.ctx);
		return cli_fail("serve", rc);
	}

	/* every thread libmicrohttpd starts inherits this mask, so the
	 * signals reach only the sigwait below */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_OptionItem pool[] = {
		{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)nthreads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, &s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)timeout,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
		/* a pool of one is the polling thread alone */
		MHD_OPTION_ARRAY, nthreads > 1 ? pool : pool + 1,
		MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "anthem serve: cannot listen on %s: %s\n", listen,
			strerror(errno));
		serve_free(&s.ctx);
		return EXIT_DATA;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[256];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen),
		 listen);
	serve_gen *g = serve_gen_acquire(&s.ctx);
	fprintf(stderr, "anthem serve: %zu products, model fingerprint %016llx, "
		"%zu threads\n", anthem_index_count(g->index),
		(unsigned long long)g->fingerprint, nthreads);
	serve_gen_release(g);
	fprintf(stderr, "anthem serve: listening on %s:%u\n", host,
		di ? (unsigned)di->port : 0u);

	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			char msg[512];
			int r = serve_reload(&s.ctx, msg, sizeof msg);
			fprintf(stderr, "anthem serve: reload (SIGHUP) %s: %s\n",
				r ? "FAILED, the previous model and index keep "
				    "serving" : "ok", msg);
			continue;
		}
		break;
	}
	/* SIGTERM or SIGINT: stop accepting, let the requests in flight
	 * finish (at most --timeout seconds), then close */
	fprintf(stderr, "anthem serve: stopping, %ld requests in flight\n",
		atomic_load(&s.ctx.in_flight));
	/* once quiesced the listening socket is ours: closed now, a new
	 * connection is refused at once instead of waiting in the backlog */
	MHD_socket ls = MHD_quiesce_daemon(d);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	double until = cli_now() + (double)timeout;
	while (atomic_load(&s.ctx.in_flight) > 0 && cli_now() < until) {
		struct timespec t = {0, 10 * 1000 * 1000};
		nanosleep(&t, NULL);
	}
	long left = atomic_load(&s.ctx.in_flight);
	MHD_stop_daemon(d);
	serve_free(&s.ctx);
	fprintf(stderr, "anthem serve: stopped%s\n",
		left > 0 ? " (requests still in flight were cut)" : "");
	return left > 0 ? EXIT_DATA : 0;
}
