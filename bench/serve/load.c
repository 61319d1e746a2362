/* A bounded load client for `anthem serve` (bench/serve/run), and the same
 * queries answered in-process, so that the HTTP overhead is a measured
 * ratio.
 *
 *   serve-load --port P --queries FILE [--requests N] [--concurrency C]
 *              [--k 10] [--k1 200]
 *   serve-load --model M --index I --queries FILE [--requests N]
 *              [--k 10] [--k1 200] [--port P]
 *
 * HTTP: C threads, each with one keep-alive HTTP/1.1 connection to
 * 127.0.0.1:P (loopback only), send GET /search?q=...&k=..&k1=.. one after
 * another until N requests are answered in all; query i is line
 * i % lines of FILE.  In-process: one thread calls anthem_search_ex with
 * the same k, k1 (one thread a query, as the server does) on the same
 * queries.  With --port too, each query is answered in-process and then
 * over HTTP (one connection, one request at a time), so that both see
 * the same load at the same moment: on a shared machine whose load moves
 * by 2x within minutes, only such pairs give a ratio worth printing.
 * Prints one line a mode: requests, seconds, requests/s, p50 and p99
 * latency in microseconds, failures (a status other than 200 or a broken
 * connection: the run fails if any); paired, also the median of the
 * per-query differences (HTTP - in-process) and the latency of a GET
 * /healthz sent after each pair (the bare HTTP round trip). */
#include <anthem/anthem.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char **queries;   /* as read */
static char **requests;  /* the HTTP request of each query */
static size_t nqueries, nrequests, k = 10, k1 = 200;
static int port;
static double *lat;      /* seconds, one a request */
static atomic_size_t next_req, failures;

static int read_queries(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, qcap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		if (nqueries == qcap) {
			qcap = qcap ? 2 * qcap : 256;
			char **grown = realloc(queries, qcap * sizeof *grown);
			if (!grown)
				return -1;
			queries = grown;
		}
		if (!(queries[nqueries++] = strdup(line)))
			return -1;
	}
	free(line);
	fclose(f);
	if (!nqueries) {
		fprintf(stderr, "serve-load: %s holds no query\n", path);
		return -1;
	}
	return 0;
}

/* GET /search?q=<percent-encoded>&k=..&k1=.. */
static char *http_request(const char *q)
{
	size_t n = strlen(q);
	char *r = malloc(3 * n + 160), *w = r;
	if (!r)
		return NULL;
	w += sprintf(w, "GET /search?q=");
	for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~')
			*w++ = (char)*p;
		else
			w += sprintf(w, "%%%02X", *p);
	}
	sprintf(w, "&k=%zu&k1=%zu HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", k, k1);
	return r;
}

static int connect_server(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request and read its whole response; the status, or -1 when
 * the connection broke. */
static int exchange(int fd, const char *req, char **buf, size_t *cap)
{
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	size_t have = 0, head = 0, body = 0;
	for (;;) {
		if (have + 4096 > *cap) {
			size_t c = *cap ? 2 * *cap : 65536;
			char *g = realloc(*buf, c);
			if (!g)
				return -1;
			*buf = g;
			*cap = c;
		}
		ssize_t r = recv(fd, *buf + have, *cap - have - 1, 0);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		(*buf)[have] = '\0';
		if (!head) {
			char *e = strstr(*buf, "\r\n\r\n");
			if (!e)
				continue;
			head = (size_t)(e - *buf) + 4;
			char *cl = strcasestr(*buf, "\r\nContent-Length:");
			if (!cl || cl > e)
				return -1;
			body = strtoul(cl + 17, NULL, 10);
		}
		if (have >= head + body)
			break;
	}
	int status = 0;
	if (sscanf(*buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	return status;
}

static void *client(void *arg)
{
	(void)arg;
	char *buf = NULL;
	size_t cap = 0;
	int fd = connect_server();
	for (;;) {
		size_t i = atomic_fetch_add(&next_req, 1);
		if (i >= nrequests)
			break;
		double t0 = now();
		int st = fd < 0 ? -1 : exchange(fd, requests[i % nqueries], &buf,
						 &cap);
		lat[i] = now() - t0;
		if (st != 200) {
			atomic_fetch_add(&failures, 1);
			if (fd >= 0)
				close(fd);
			fd = connect_server();
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double sum(const double *v, size_t n)
{
	double t = 0;
	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

static double pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
	const char *qfile = NULL, *model = NULL, *index = NULL;
	size_t conc = 1;
	nrequests = 1000;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "--port"))
			port = atoi(v);
		else if (!strcmp(o, "--queries"))
			qfile = v;
		else if (!strcmp(o, "--requests"))
			nrequests = strtoul(v, NULL, 10);
		else if (!strcmp(o, "--concurrency"))
			conc = strtoul(v, NULL, 10);
		else if (!strcmp(o, "--k"))
			k = strtoul(v, NULL, 10);
		else if (!strcmp(o, "--k1"))
			k1 = strtoul(v, NULL, 10);
		else if (!strcmp(o, "--model"))
			model = v;
		else if (!strcmp(o, "--index"))
			index = v;
		else {
			fprintf(stderr, "serve-load: unknown option %s\n", o);
			return 2;
		}
	}
	if (!qfile || (!model && (port <= 0 || port > 65535)) || !nrequests ||
	    !conc || conc > 1024 || !k) {
		fprintf(stderr, "usage: serve-load (--port P | --model M --index I) "
			"--queries FILE [--requests N] [--concurrency C] [--k K] "
			"[--k1 K1]\n");
		return 2;
	}
	if (read_queries(qfile))
		return 1;
	lat = calloc(nrequests, sizeof *lat);
	if (!lat)
		return 1;
	double t0, secs, *hlat = NULL, *diff = NULL, *plat = NULL;
	int fd = -1;
	char *buf = NULL;
	size_t cap = 0;
	if (model && port) { /* paired: in-process, then HTTP */
		hlat = calloc(nrequests, sizeof *hlat);
		diff = calloc(nrequests, sizeof *diff);
		plat = calloc(nrequests, sizeof *plat);
		requests = malloc(nqueries * sizeof *requests);
		for (size_t i = 0; requests && i < nqueries; i++)
			if (!(requests[i] = http_request(queries[i])))
				return 1;
		if (!hlat || !diff || !plat || !requests || (fd = connect_server()) < 0) {
			fprintf(stderr, "serve-load: cannot connect to port %d\n",
				port);
			return 1;
		}
	}
	if (model) { /* in-process, one thread */
		anthem_model *m = NULL;
		anthem_index *ix = NULL;
		int rc = anthem_model_load(&m, model);
		if (!rc)
			rc = anthem_index_load(&ix, index, m);
		if (rc) {
			fprintf(stderr, "serve-load: %s\n", anthem_last_error());
			return 1;
		}
		anthem_search_options so;
		anthem_search_options_init(&so);
		so.k = k;
		so.k1 = k1;
		so.stage1_only = k1 == 0;
		so.threads = 1;
		anthem_hit *hits = malloc(k * sizeof *hits);
		size_t n;
		t0 = now();
		for (size_t i = 0; i < nrequests; i++) {
			double t = now();
			if (anthem_search_ex(m, ix, queries[i % nqueries], &so, hits,
					     &n))
				atomic_fetch_add(&failures, 1);
			lat[i] = now() - t;
			if (hlat) {
				t = now();
				if (exchange(fd, requests[i % nqueries], &buf,
					     &cap) != 200)
					atomic_fetch_add(&failures, 1);
				hlat[i] = now() - t;
				diff[i] = hlat[i] - lat[i];
				/* the bare round trip: a request that
				 * computes nothing */
				t = now();
				if (exchange(fd, "GET /healthz HTTP/1.1\r\nHost: "
					     "127.0.0.1\r\n\r\n", &buf, &cap) != 200)
					atomic_fetch_add(&failures, 1);
				plat[i] = now() - t;
			}
		}
		secs = now() - t0;
		free(hits);
		anthem_index_free(ix);
		anthem_model_free(m);
		conc = 1;
	} else {
		requests = malloc(nqueries * sizeof *requests);
		for (size_t i = 0; requests && i < nqueries; i++)
			if (!(requests[i] = http_request(queries[i])))
				return 1;
		pthread_t th[1024];
		t0 = now();
		for (size_t i = 0; i < conc; i++)
			if (pthread_create(&th[i], NULL, client, NULL)) {
				fprintf(stderr, "serve-load: pthread_create\n");
				return 1;
			}
		for (size_t i = 0; i < conc; i++)
			pthread_join(th[i], NULL);
		secs = now() - t0;
	}
	if (hlat) {
		close(fd);
		free(buf);
		qsort(hlat, nrequests, sizeof *hlat, cmp);
		qsort(diff, nrequests, sizeof *diff, cmp);
		qsort(plat, nrequests, sizeof *plat, cmp);
		/* requests/s of each side: over its own time alone */
		double hs = sum(hlat, nrequests);
		secs = sum(lat, nrequests);
		printf("http-paired concurrency 1 requests %zu seconds %.3f rps "
		       "%.1f p50_us %.0f p99_us %.0f failures %zu "
		       "overhead_p50_us %.0f healthz_p50_us %.0f healthz_p99_us "
		       "%.0f\n", nrequests, hs,
		       (double)nrequests / hs, 1e6 * pct(hlat, nrequests, 0.50),
		       1e6 * pct(hlat, nrequests, 0.99),
		       (size_t)atomic_load(&failures),
		       1e6 * pct(diff, nrequests, 0.50),
		       1e6 * pct(plat, nrequests, 0.50),
		       1e6 * pct(plat, nrequests, 0.99));
	}
	qsort(lat, nrequests, sizeof *lat, cmp);
	printf("%s concurrency %zu requests %zu seconds %.3f rps %.1f "
	       "p50_us %.0f p99_us %.0f failures %zu\n",
	       model ? "inprocess" : "http", conc, nrequests, secs,
	       (double)nrequests / secs, 1e6 * pct(lat, nrequests, 0.50),
	       1e6 * pct(lat, nrequests, 0.99), (size_t)atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
