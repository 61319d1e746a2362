/* Poincaré embeddings of a transitive closure (Nickel and Kiela, NeurIPS
 * 2017), trained and evaluated with libanthem's own geometry kernels
 * (geo_dist, geo_dist_backward, geo_project) and optimiser
 * (ath_rsgd_update), in the Poincaré ball or in flat space.
 *
 * Training:
 *   - the training set is every closure pair, taken in both orientations
 *     (u, v) and (v, u): the graph is treated as symmetric (`--directed`
 *     switches to the reference code's protocol, see below);
 *   - loss of a positive pair (u, v), as in the paper:
 *       -log( e^{-d(u,v)} / sum_{v' in N(u) + {v}} e^{-d(u,v')} )
 *     with N(u) = `--negatives` distinct nodes drawn uniformly among the nodes
 *     that are neither u nor connected to u (ancestor or descendant);
 *   - the gradient reaches u, v and every negative; each row takes one RSGD
 *     step per mini-batch (batch mean of the loss, as the reference code's
 *     CrossEntropyLoss(size_average=True)); `--batch 1` is plain per-pair SGD;
 *   - init U(-1e-4, 1e-4), a burn-in of `--burnin` epochs at lr * 0.1;
 *   - `--threads N` runs Hogwild (lock-free asynchronous updates on shared
 *     rows, as the reference code); with one thread a run is deterministic.
 *
 * Evaluation (reconstruction): for every node u with at least one
 * neighbour (closure pair in either direction), all other nodes are ranked by
 * distance to u.  For each neighbour v, rank(u, v) = 1 + the number of
 * non-neighbours w (w != u) with d(u, w) <= d(u, v): v's rank among the
 * non-neighbours plus v itself; ties count against the model.  The mean rank
 * is the mean over all (u, v).  AP(u) is the mean over u's neighbours v of
 * precision at v = #{neighbours with d <= d(u, v)} / #{w != u with d <=
 * d(u, v)} (scikit-learn's average_precision_score with -d as score, ties
 * grouped); MAP is the mean of AP over u.  `--self-test` checks this on
 * hand-computed cases and against a brute-force evaluator.
 *
 * `--directed` (the reference code, facebookresearch/poincare-embeddings):
 * the neighbours of u are its ancestors only, in training (pairs (child,
 * ancestor); negatives are the non-ancestors, so descendants can be
 * negatives) and in the evaluation (u's ancestors ranked among its
 * non-ancestors).
 *
 * Diagnostic: the fraction of row updates whose step was rounded away
 * entirely by the float32 storage of the points ("lost").
 *
 * Output: progress on stderr, one `RESULT key=value ...` line on stdout. */
#include <anthem/common.h>

#include "geometry/geometry.h"
#include "train/optim.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small utilities ------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "poincare: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory%s", "");
	return p;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		die("out of memory%s", "");
	return p;
}

/* xoshiro256** seeded by splitmix64 */
typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* uniform in [0, n) (Lemire's multiply-shift; bias < n / 2^64) */
static uint32_t rng_below(rng *r, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* uniform in [0, 1) */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1p-53; }

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ---- graph ---------------------------------------------------------------- */

/* Symmetric adjacency (closure pairs in either direction), CSR with sorted,
 * unique rows and no self loops. */
typedef struct graph {
	uint32_t n;       /* nodes */
	size_t nedges;    /* closure pairs (each counted once) */
	size_t *off;      /* n + 1 */
	uint32_t *adj;    /* off[n] = 2 * nedges */
	char **names;     /* node ids as read, NULL for synthetic graphs */
	int directed;     /* rows hold ancestors only (--directed) */
} graph;

static int graph_has(const graph *g, uint32_t u, uint32_t w)
{
	size_t lo = g->off[u], hi = g->off[u + 1];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->adj[mid] < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->off[u + 1] && g->adj[lo] == w;
}

static uint32_t graph_deg(const graph *g, uint32_t u)
{
	return (uint32_t)(g->off[u + 1] - g->off[u]);
}

/* Build from m pairs (a[i], b[i]) = (child, ancestor); duplicates and self
 * pairs are dropped.  Symmetric: each pair in both rows.  Directed: only
 * a -> b (a node's row is its ancestors). */
static void graph_build_dir(graph *g, uint32_t n, size_t m, const uint32_t *a,
			    const uint32_t *b, int directed)
{
	g->n = n;
	size_t *cnt = xcalloc((size_t)n + 1, sizeof *cnt);
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i]) {
			cnt[a[i]]++;
			if (!directed)
				cnt[b[i]]++;
		}
	size_t *off = xmalloc(((size_t)n + 1) * sizeof *off);
	off[0] = 0;
	for (uint32_t u = 0; u < n; u++)
		off[u + 1] = off[u] + cnt[u];
	uint32_t *adj = xmalloc(off[n] * sizeof *adj);
	for (uint32_t u = 0; u < n; u++)
		cnt[u] = off[u];
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i]) {
			adj[cnt[a[i]]++] = b[i];
			if (!directed)
				adj[cnt[b[i]]++] = a[i];
		}
	/* sort and deduplicate each row, compacting in place */
	size_t w = 0;
	size_t start = 0;
	for (uint32_t u = 0; u < n; u++) {
		size_t end = off[u + 1];
		qsort(adj + start, end - start, sizeof *adj, cmp_u32);
		size_t row = w;
		for (size_t i = start; i < end; i++)
			if (i == start || adj[i] != adj[i - 1])
				adj[w++] = adj[i];
		off[u] = row;
		start = end;
	}
	off[n] = w;
	g->off = off;
	g->adj = adj;
	g->nedges = directed ? w : w / 2;
	g->directed = directed;
	g->names = NULL;
	free(cnt);
}

static void graph_build(graph *g, uint32_t n, size_t m, const uint32_t *a,
			const uint32_t *b)
{
	graph_build_dir(g, n, m, a, b, 0);
}

static void graph_free(graph *g)
{
	if (g->names)
		for (uint32_t i = 0; i < g->n; i++)
			free(g->names[i]);
	free(g->names);
	free(g->off);
	free(g->adj);
	memset(g, 0, sizeof *g);
}

/* string -> id hash table (open addressing, FNV-1a) */
typedef struct strmap {
	size_t cap, n;
	char **keys;
	uint32_t *vals;
} strmap;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint32_t strmap_get(strmap *m, const char *key, char ***names,
			   size_t *names_cap)
{
	if (2 * (m->n + 1) > m->cap) {
		size_t ncap = m->cap ? 2 * m->cap : 1024;
		char **nk = xcalloc(ncap, sizeof *nk);
		uint32_t *nv = xmalloc(ncap * sizeof *nv);
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = fnv1a(m->keys[i]) & (ncap - 1);
				while (nk[j])
					j = (j + 1) & (ncap - 1);
				nk[j] = m->keys[i];
				nv[j] = m->vals[i];
			}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = ncap;
	}
	size_t j = fnv1a(key) & (m->cap - 1);
	while (m->keys[j]) {
		if (!strcmp(m->keys[j], key))
			return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	char *k = strdup(key);
	if (!k)
		die("out of memory%s", "");
	m->keys[j] = k;
	m->vals[j] = (uint32_t)m->n;
	if (m->n == *names_cap) {
		*names_cap = *names_cap ? 2 * *names_cap : 1024;
		*names = realloc(*names, *names_cap * sizeof **names);
		if (!*names)
			die("out of memory%s", "");
	}
	(*names)[m->n] = strdup(key);
	return (uint32_t)m->n++;
}

/* Read `child<TAB>ancestor` lines ('#' comments and blank lines skipped;
 * further columns ignored). */
static void graph_read(graph *g, const char *path, int directed)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "poincare: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	strmap m = {0};
	char **names = NULL;
	size_t names_cap = 0, m_cap = 0, npairs = 0;
	uint32_t *a = NULL, *b = NULL;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	size_t lineno = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		char *tab = strchr(line, '\t');
		if (!tab) {
			fprintf(stderr, "poincare: %s:%zu: expected child<TAB>ancestor\n",
				path, lineno);
			exit(2);
		}
		*tab = 0;
		char *anc = tab + 1, *tab2 = strchr(anc, '\t');
		if (tab2)
			*tab2 = 0;
		if (npairs == m_cap) {
			m_cap = m_cap ? 2 * m_cap : 4096;
			a = realloc(a, m_cap * sizeof *a);
			b = realloc(b, m_cap * sizeof *b);
			if (!a || !b)
				die("out of memory%s", "");
		}
		a[npairs] = strmap_get(&m, line, &names, &names_cap);
		b[npairs] = strmap_get(&m, anc, &names, &names_cap);
		npairs++;
	}
	free(line);
	fclose(f);
	if (m.n < 2)
		die("%s: fewer than two nodes", path);
	graph_build_dir(g, (uint32_t)m.n, npairs, a, b, directed);
	g->names = names;
	for (size_t i = 0; i < m.cap; i++)
		free(m.keys[i]);
	free(m.keys);
	free(m.vals);
	free(a);
	free(b);
}

/* ---- float64 Poincaré ball (--f64) ------------------------------------------ */

/* The bench's own float64 kernels for the unit ball (c = 1), used by
 * `--f64`: points are stored in double, so that RSGD steps near the boundary
 * are not rounded away (see RESULTS.md).  The self-test checks each one
 * against libanthem's float kernels (geo_dist, geo_dist_backward,
 * ath_rsgd_update) and the gradient against central differences.
 *
 * Closed form (Nickel and Kiela 2017, eq. 1): with a = 1 - |x|^2,
 * b = 1 - |y|^2 and t = 2 |x - y|^2 / (a b),
 *   d(x, y) = arcosh(1 + t) = log1p(t + sqrt(t (t + 2))),
 * written with t rather than 1 + t so that nearby points keep their
 * precision (at init |x - y| ~ 1e-4). */

#define P64_MAXN (1.0 - GEO_BALL_EPS) /* projection radius, as geo_project */

static double dot64(size_t n, const double *x, const double *y)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += x[i] * y[i];
	return s;
}

/* t = cosh d(x, y) - 1, given x2 = |x|^2 and y2 = |y|^2 */
static double p64_arg(size_t dim, const double *x, double x2, const double *y,
		      double y2)
{
	double q = 0.0;
	for (size_t i = 0; i < dim; i++) {
		double e = x[i] - y[i];
		q += e * e;
	}
	return 2.0 * q / ((1.0 - x2) * (1.0 - y2));
}

static double p64_dist_of_arg(double t) { return log1p(t + sqrt(t * (t + 2.0))); }

/* Gradients of d(x, y), scaled by g, added to gx and gy.  From
 * t = 2|x - y|^2 / (a b):  dt/dx = 4/(a b) ((x - y) + (|x - y|^2 / a) x),
 * and dd/dt = 1 / sqrt(t (t + 2)); dt/dy likewise with x, a and y, b
 * swapped.  Zero (a subgradient) at x = y. */
static void p64_grad2(size_t dim, const double *x, double x2, const double *y,
		      double y2, double g, double *gx, double *gy)
{
	double q = 0.0;
	for (size_t i = 0; i < dim; i++) {
		double e = x[i] - y[i];
		q += e * e;
	}
	double a = 1.0 - x2, b = 1.0 - y2, t = 2.0 * q / (a * b);
	if (!(t > 0.0))
		return;
	double k = g * 4.0 / (a * b * sqrt(t * (t + 2.0))), ra = q / a, rb = q / b;
	for (size_t i = 0; i < dim; i++) {
		double e = x[i] - y[i];
		gx[i] += k * (e + ra * x[i]);
		gy[i] += k * (rb * y[i] - e);
	}
}

/* One RSGD step in place: x <- exp_x(-lr grad_R), grad_R = ((1 - |x|^2)^2 / 4) g
 * (the same step as ath_rsgd_update), with exp_x(v) = x (+) tanh(|v| / (1 -
 * |x|^2)) v / |v| and the Möbius addition
 *   x (+) y = ((1 + 2<x,y> + |y|^2) x + (1 - |x|^2) y) / (1 + 2<x,y> + |x|^2 |y|^2),
 * then projected to radius 1 - GEO_BALL_EPS. */
static int p64_rsgd(size_t dim, double *x, const double *g, double lr)
{
	double x2 = dot64(dim, x, x), a = 1.0 - x2;
	double v[ANTHEM_MAX_DIM];
	double s = -lr * a * a / 4.0;
	for (size_t i = 0; i < dim; i++)
		v[i] = s * g[i];
	double vn = sqrt(dot64(dim, v, v));
	if (!(vn > 0.0))
		return 0;
	double f = tanh(vn / a) / vn; /* lambda_x |v| / 2 = |v| / a */
	for (size_t i = 0; i < dim; i++)
		v[i] *= f;
	double xy = dot64(dim, x, v), y2 = dot64(dim, v, v);
	double num_x = 1.0 + 2.0 * xy + y2, den = 1.0 + 2.0 * xy + x2 * y2;
	double y[ANTHEM_MAX_DIM];
	for (size_t i = 0; i < dim; i++)
		y[i] = (num_x * x[i] + a * v[i]) / den;
	double nrm = sqrt(dot64(dim, y, y));
	if (nrm > P64_MAXN)
		for (size_t i = 0; i < dim; i++)
			y[i] *= P64_MAXN / nrm;
	int moved = 0; /* 0: the step was rounded away entirely */
	for (size_t i = 0; i < dim; i++) {
		moved |= y[i] != x[i];
		x[i] = y[i];
	}
	return moved;
}

/* ---- reconstruction evaluation -------------------------------------------- */

typedef struct eval_result {
	double mean_rank, map;
	size_t npairs, nnodes; /* (u, v) pairs ranked, nodes u with AP */
	size_t ties;           /* non-neighbour at exactly a neighbour's distance */
	int bad;               /* non-finite distances met */
} eval_result;

/* distance source: embeddings through geo_dist, float64 points (--f64), or
 * an explicit matrix */
typedef struct dist_src {
	const geo_space *space;
	size_t dim;
	const float *emb;   /* n x dim */
	const float *mat;   /* n x n, overrides emb when set */
	uint32_t n;
	const double *emb64; /* n x dim, overrides emb when set (ball, c = 1) */
	const double *sq64;  /* |x|^2 of each emb64 row */
} dist_src;

static void dist_row(const dist_src *s, uint32_t u, double *d)
{
	if (s->mat) {
		for (uint32_t w = 0; w < s->n; w++)
			d[w] = s->mat[(size_t)u * s->n + w];
		return;
	}
	if (s->emb64) {
		/* rank by t = cosh d - 1: strictly increasing in d, so the same
		 * ranking without an arcosh per pair */
		const double *x = s->emb64 + (size_t)u * s->dim;
		for (uint32_t w = 0; w < s->n; w++)
			d[w] = w == u ? 0.0
				      : p64_arg(s->dim, x, s->sq64[u],
						s->emb64 + (size_t)w * s->dim,
						s->sq64[w]);
		return;
	}
	const float *x = s->emb + (size_t)u * s->dim;
	for (uint32_t w = 0; w < s->n; w++)
		d[w] = w == u ? 0.0f
			      : geo_dist(s->space, s->dim, x,
					 s->emb + (size_t)w * s->dim);
}

typedef struct eval_job {
	const graph *g;
	const dist_src *src;
	const uint32_t *nodes; /* evaluate nodes[i0..i1), or u in [i0, i1) if NULL */
	size_t i0, i1;
	double sum_rank, sum_ap;
	size_t npairs, nnodes, ties;
	int bad;
} eval_job;

/* Per u: sort the k neighbour distances; each non-neighbour w adds one to
 * every neighbour j with dn[j] >= d(u, w) (a histogram at the lower bound,
 * then a prefix sum).  O(n log k) per u. */
static void *eval_worker(void *arg)
{
	eval_job *J = arg;
	const graph *g = J->g;
	uint32_t n = g->n;
	double *d = xmalloc(n * sizeof *d);
	uint32_t maxdeg = 0;
	for (uint32_t u = 0; u < n; u++)
		if (graph_deg(g, u) > maxdeg)
			maxdeg = graph_deg(g, u);
	double *dn = xmalloc(((size_t)maxdeg + 1) * sizeof *dn);
	size_t *hist = xmalloc(((size_t)maxdeg + 1) * sizeof *hist);
	for (size_t i = J->i0; i < J->i1; i++) {
		uint32_t u = J->nodes ? J->nodes[i] : (uint32_t)i;
		uint32_t k = graph_deg(g, u);
		if (k == 0)
			continue;
		const uint32_t *nb = g->adj + g->off[u];
		dist_row(J->src, u, d);
		for (uint32_t j = 0; j < k; j++)
			dn[j] = d[nb[j]];
		for (uint32_t w = 0; w < n; w++)
			if (!isfinite(d[w]))
				J->bad = 1;
		qsort(dn, k, sizeof *dn, cmp_double);
		memset(hist, 0, ((size_t)k + 1) * sizeof *hist);
		uint32_t p = 0; /* merge pointer into the sorted neighbour list */
		for (uint32_t w = 0; w < n; w++) {
			if (p < k && nb[p] == w) {
				p++;
				continue;
			}
			if (w == u)
				continue;
			double x = d[w];
			uint32_t lo = 0, hi = k; /* first j with dn[j] >= x */
			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;
				if (dn[mid] < x)
					lo = mid + 1;
				else
					hi = mid;
			}
			hist[lo]++;
			if (lo < k && dn[lo] == x)
				J->ties++;
		}
		size_t ahead = 0; /* non-neighbours with d <= dn[j] */
		double ap = 0.0;
		for (uint32_t j = 0; j < k; j++) {
			ahead += hist[j];
			uint32_t last = j; /* neighbours tied with j count as before */
			while (last + 1 < k && dn[last + 1] == dn[j])
				last++;
			double m = (double)(last + 1);
			J->sum_rank += 1.0 + (double)ahead;
			ap += m / (m + (double)ahead);
		}
		J->sum_ap += ap / k;
		J->npairs += k;
		J->nnodes++;
	}
	free(d);
	free(dn);
	free(hist);
	return NULL;
}

/* Evaluate every node, or only the nn nodes listed in `nodes` (a sample). */
static eval_result evaluate_nodes(const graph *g, const dist_src *src,
				  int threads, const uint32_t *nodes, size_t nn)
{
	if (threads < 1)
		threads = 1;
	eval_job *jobs = xcalloc((size_t)threads, sizeof *jobs);
	pthread_t *tid = xcalloc((size_t)threads, sizeof *tid);
	size_t total = nodes ? nn : g->n;
	for (int t = 0; t < threads; t++) {
		jobs[t].g = g;
		jobs[t].src = src;
		jobs[t].nodes = nodes;
		jobs[t].i0 = total * (size_t)t / (size_t)threads;
		jobs[t].i1 = total * (size_t)(t + 1) / (size_t)threads;
	}
	for (int t = 1; t < threads; t++)
		if (pthread_create(&tid[t], NULL, eval_worker, &jobs[t]))
			die("pthread_create failed%s", "");
	eval_worker(&jobs[0]);
	for (int t = 1; t < threads; t++)
		pthread_join(tid[t], NULL);
	eval_result r = {0};
	double sr = 0, sap = 0;
	for (int t = 0; t < threads; t++) {
		sr += jobs[t].sum_rank;
		sap += jobs[t].sum_ap;
		r.npairs += jobs[t].npairs;
		r.nnodes += jobs[t].nnodes;
		r.ties += jobs[t].ties;
		r.bad |= jobs[t].bad;
	}
	r.mean_rank = r.npairs ? sr / (double)r.npairs : NAN;
	r.map = r.nnodes ? sap / (double)r.nnodes : NAN;
	free(jobs);
	free(tid);
	return r;
}

static eval_result evaluate(const graph *g, const dist_src *src, int threads)
{
	return evaluate_nodes(g, src, threads, NULL, 0);
}

/* Straight from the definitions, O(n^2 k): the self-test's reference. */
static eval_result evaluate_brute(const graph *g, const dist_src *src)
{
	uint32_t n = g->n;
	double *d = xmalloc(n * sizeof *d);
	eval_result r = {0};
	double sr = 0, sap = 0;
	for (uint32_t u = 0; u < n; u++) {
		uint32_t k = graph_deg(g, u);
		if (!k)
			continue;
		dist_row(src, u, d);
		double ap = 0;
		for (uint32_t v = 0; v < n; v++) {
			if (v == u || !graph_has(g, u, v))
				continue;
			size_t non_le = 0, nb_le = 0;
			for (uint32_t w = 0; w < n; w++) {
				if (w == u || d[w] > d[v])
					continue;
				if (graph_has(g, u, w))
					nb_le++;
				else
					non_le++;
			}
			sr += 1.0 + (double)non_le;
			ap += (double)nb_le / (double)(nb_le + non_le);
			r.npairs++;
		}
		sap += ap / k;
		r.nnodes++;
	}
	r.mean_rank = sr / (double)r.npairs;
	r.map = sap / (double)r.nnodes;
	free(d);
	return r;
}

/* ---- training ------------------------------------------------------------- */

typedef struct config {
	const char *closure, *save;
	geo_kind kind;
	double c;
	size_t dim;
	int epochs, burnin, negs, batch, threads, eval_every, retraction,
	    directed, eval_sample, progress, f64;
	double lr, burnin_factor, init, time_limit;
	uint64_t seed;
} config;

typedef struct trainer {
	const config *cfg;
	const graph *g;
	geo_space space;
	float *emb; /* n x dim, shared (Hogwild) */
	double *emb64, *sq64; /* --f64: the points instead of emb, and |x|^2 */
	/* oriented pairs (u, v), shuffled each epoch */
	uint32_t *pu, *pv;
	size_t np;
	/* explicit non-neighbour lists for nodes with few non-neighbours */
	uint32_t **nonnb;
	uint32_t *nnon;
	uint32_t dense_limit;
} trainer;

typedef struct worker {
	trainer *T;
	size_t p0, p1;
	float lr;
	rng r;
	/* per-thread mini-batch gradient table and its touched rows */
	float *grad;
	double *grad64; /* --f64 */
	uint8_t *mark;
	uint32_t *touched;
	size_t ntouched;
	uint32_t *negbuf, *scratch;
	uint32_t *stamp, stampv; /* stamp[w] == stampv: w already drawn */
	double *dists;
	double *gd;
	double loss;
	size_t done, skipped;
	size_t updates, lost; /* row updates, and those rounded away entirely */
	size_t ep_updates, ep_lost; /* the counters at the start of the epoch */
} worker;

/* Distinct negatives for u (neither u nor a neighbour), at most cfg->negs. */
static uint32_t sample_negatives(worker *W, uint32_t u, uint32_t *out)
{
	trainer *T = W->T;
	const graph *g = T->g;
	uint32_t want = (uint32_t)T->cfg->negs;
	if (T->nonnb[u]) { /* few candidates: partial Fisher-Yates on a copy */
		uint32_t m = T->nnon[u];
		memcpy(W->scratch, T->nonnb[u], m * sizeof *W->scratch);
		uint32_t k = want < m ? want : m;
		for (uint32_t i = 0; i < k; i++) {
			uint32_t j = i + rng_below(&W->r, m - i);
			uint32_t t = W->scratch[i];
			W->scratch[i] = W->scratch[j];
			W->scratch[j] = t;
			out[i] = W->scratch[i];
		}
		return k;
	}
	uint32_t k = 0;
	if (++W->stampv == 0) { /* wrapped: clear the stamps */
		memset(W->stamp, 0, g->n * sizeof *W->stamp);
		W->stampv = 1;
	}
	while (k < want) {
		uint32_t w = rng_below(&W->r, g->n);
		/* the graph is symmetric: search the shorter of the two rows
		 * (a random w is usually a leaf, u often a hub) */
		if (w == u || W->stamp[w] == W->stampv ||
		    (g->directed || graph_deg(g, w) > graph_deg(g, u)
			     ? graph_has(g, u, w)
			     : graph_has(g, w, u)))
			continue;
		W->stamp[w] = W->stampv;
		out[k++] = w;
	}
	return k;
}

static float *grad_row(worker *W, uint32_t row)
{
	size_t dim = W->T->cfg->dim;
	if (!W->mark[row]) {
		W->mark[row] = 1;
		W->touched[W->ntouched++] = row;
	}
	return W->grad + (size_t)row * dim;
}

static void apply_batch(worker *W, size_t bsize)
{
	trainer *T = W->T;
	size_t dim = T->cfg->dim;
	float scale = 1.0f / (float)bsize;
	for (size_t i = 0; i < W->ntouched; i++) {
		uint32_t row = W->touched[i];
		float *gr = W->grad + (size_t)row * dim;
		for (size_t j = 0; j < dim; j++)
			gr[j] *= scale;
		float *x = T->emb + (size_t)row * dim;
		float before[ANTHEM_MAX_DIM];
		memcpy(before, x, dim * sizeof *x);
		double g2 = 0;
		for (size_t j = 0; j < dim; j++)
			g2 += (double)gr[j] * gr[j];
		if (T->cfg->retraction && T->space.kind == GEO_HYPERBOLIC) {
			/* Nickel and Kiela's first-order retraction, for comparison */
			double x2 = 0;
			for (size_t j = 0; j < dim; j++)
				x2 += (double)x[j] * x[j];
			double k = (1.0 - T->space.c * x2) * (1.0 - T->space.c * x2) / 4.0;
			for (size_t j = 0; j < dim; j++)
				x[j] = (float)(x[j] - W->lr * k * gr[j]);
			geo_project(&T->space, dim, x);
		} else {
			ath_rsgd_update(&T->space, dim, x, gr, W->lr);
		}
		/* a non-zero step that left every float32 coordinate unchanged */
		if (g2 > 0) {
			W->updates++;
			if (!memcmp(before, x, dim * sizeof *x))
				W->lost++;
		}
		memset(gr, 0, dim * sizeof *gr);
		W->mark[row] = 0;
	}
	W->ntouched = 0;
}

/* Loss of one positive pair and its gradient with respect to the distances
 * (d[0] positive, d[1..k] negatives): returns the loss, fills gd. */
static double softmax_loss(size_t k, const double *d, double *gd)
{
	double m = d[0];
	for (size_t j = 1; j <= k; j++)
		if (d[j] < m)
			m = d[j];
	double z = 0;
	for (size_t j = 0; j <= k; j++) {
		gd[j] = exp(-((double)d[j] - m));
		z += gd[j];
	}
	for (size_t j = 0; j <= k; j++)
		gd[j] = -gd[j] / z;
	gd[0] += 1.0;
	return (double)d[0] - m + log(z);
}

static void *train_worker(void *arg)
{
	worker *W = arg;
	trainer *T = W->T;
	const config *cfg = T->cfg;
	size_t dim = cfg->dim;
	size_t inbatch = 0;
	for (size_t p = W->p0; p < W->p1; p++) {
		uint32_t u = T->pu[p], v = T->pv[p];
		uint32_t k = sample_negatives(W, u, W->negbuf);
		if (k == 0) { /* u is connected to every node: nothing to contrast */
			W->skipped++;
			continue;
		}
		const float *xu = T->emb + (size_t)u * dim;
		W->dists[0] = geo_dist(&T->space, dim, xu,
				       T->emb + (size_t)v * dim);
		for (uint32_t j = 0; j < k; j++)
			W->dists[j + 1] = geo_dist(&T->space, dim, xu,
						   T->emb + (size_t)W->negbuf[j] * dim);
		W->loss += softmax_loss(k, W->dists, W->gd);
		float *gu = grad_row(W, u);
		geo_dist_backward(&T->space, dim, xu, T->emb + (size_t)v * dim,
				  (float)W->gd[0], gu, grad_row(W, v));
		for (uint32_t j = 0; j < k; j++) {
			uint32_t w = W->negbuf[j];
			geo_dist_backward(&T->space, dim, xu,
					  T->emb + (size_t)w * dim,
					  (float)W->gd[j + 1], gu, grad_row(W, w));
		}
		W->done++;
		if (++inbatch == (size_t)cfg->batch) {
			apply_batch(W, inbatch);
			inbatch = 0;
		}
	}
	if (inbatch)
		apply_batch(W, inbatch);
	return NULL;
}

static double *grad64_row(worker *W, uint32_t row)
{
	size_t dim = W->T->cfg->dim;
	if (!W->mark[row]) {
		W->mark[row] = 1;
		W->touched[W->ntouched++] = row;
	}
	return W->grad64 + (size_t)row * dim;
}

static void apply_batch64(worker *W, size_t bsize)
{
	trainer *T = W->T;
	size_t dim = T->cfg->dim;
	double scale = 1.0 / (double)bsize;
	for (size_t i = 0; i < W->ntouched; i++) {
		uint32_t row = W->touched[i];
		double *gr = W->grad64 + (size_t)row * dim;
		double *x = T->emb64 + (size_t)row * dim;
		for (size_t j = 0; j < dim; j++)
			gr[j] *= scale;
		double g2 = dot64(dim, gr, gr);
		int moved = p64_rsgd(dim, x, gr, W->lr);
		T->sq64[row] = dot64(dim, x, x);
		if (g2 > 0) {
			W->updates++;
			W->lost += !moved;
		}
		memset(gr, 0, dim * sizeof *gr);
		W->mark[row] = 0;
	}
	W->ntouched = 0;
}

/* The --f64 loop: the 51 distances of a pair share u (its row and |u|^2
 * are read once), then the gradients of both ends of each distance. */
static void *train_worker64(void *arg)
{
	worker *W = arg;
	trainer *T = W->T;
	const config *cfg = T->cfg;
	size_t dim = cfg->dim, inbatch = 0;
	const double *E = T->emb64, *S = T->sq64;
	uint32_t *tgt = W->negbuf; /* tgt[0] = v, tgt[1..k] = negatives */
	for (size_t p = W->p0; p < W->p1; p++) {
		uint32_t u = T->pu[p];
		uint32_t k = sample_negatives(W, u, tgt + 1);
		if (k == 0) {
			W->skipped++;
			continue;
		}
		tgt[0] = T->pv[p];
		/* the rows are scattered over the table: start every load now */
		for (uint32_t j = 0; j <= k; j++) {
			const double *xw = E + (size_t)tgt[j] * dim;
			__builtin_prefetch(xw);
			__builtin_prefetch(xw + dim - 1);
			__builtin_prefetch(S + tgt[j]);
			__builtin_prefetch(W->mark + tgt[j], 1);
			__builtin_prefetch(W->grad64 + (size_t)tgt[j] * dim, 1);
		}
		const double *xu = E + (size_t)u * dim;
		double u2 = S[u];
		for (uint32_t j = 0; j <= k; j++)
			W->dists[j] = p64_dist_of_arg(
				p64_arg(dim, xu, u2, E + (size_t)tgt[j] * dim, S[tgt[j]]));
		W->loss += softmax_loss(k, W->dists, W->gd);
		double *gu = grad64_row(W, u);
		for (uint32_t j = 0; j <= k; j++) {
			uint32_t w = tgt[j];
			const double *xw = E + (size_t)w * dim;
			p64_grad2(dim, xu, u2, xw, S[w], W->gd[j], gu,
				  grad64_row(W, w));
		}
		W->done++;
		if (++inbatch == (size_t)cfg->batch) {
			apply_batch64(W, inbatch);
			inbatch = 0;
		}
	}
	if (inbatch)
		apply_batch64(W, inbatch);
	return NULL;
}

static void shuffle_pairs(trainer *T, rng *r)
{
	for (size_t i = T->np; i > 1; i--) {
		size_t j = (size_t)(((unsigned __int128)rng_next(r) * i) >> 64);
		uint32_t t = T->pu[i - 1];
		T->pu[i - 1] = T->pu[j];
		T->pu[j] = t;
		t = T->pv[i - 1];
		T->pv[i - 1] = T->pv[j];
		T->pv[j] = t;
	}
}

static void norm_stats(const trainer *T, double *mean, double *max,
		       double *frac_edge)
{
	size_t n = T->g->n, dim = T->cfg->dim, edge = 0;
	double s = 0, mx = 0,
	       lim = T->space.kind == GEO_HYPERBOLIC
			     ? (1.0 - 2.0 * GEO_BALL_EPS) / sqrt(T->space.c)
			     : INFINITY;
	for (size_t i = 0; i < n; i++) {
		double a = 0;
		if (T->emb64)
			a = T->sq64[i];
		else
			for (size_t j = 0; j < dim; j++)
				a += (double)T->emb[i * dim + j] * T->emb[i * dim + j];
		a = sqrt(a);
		s += a;
		if (a > mx)
			mx = a;
		if (a >= lim)
			edge++;
	}
	*mean = s / (double)n;
	*max = mx;
	*frac_edge = (double)edge / (double)n;
}

static const char *kind_name(geo_kind k)
{
	return k == GEO_HYPERBOLIC ? "hyperbolic" : "euclidean";
}

typedef struct run_result {
	eval_result ev;
	int epochs;
	double train_s, eval_s, final_loss;
	double lost_frac; /* over the whole run; see worker.lost */
} run_result;

static run_result train_and_eval(const config *cfg, const graph *g, int quiet)
{
	trainer T = {0};
	T.cfg = cfg;
	T.g = g;
	T.space.kind = cfg->kind;
	T.space.c = cfg->c;
	size_t n = g->n, dim = cfg->dim;
	rng master;
	rng_seed(&master, cfg->seed);

	if (cfg->f64) {
		T.emb64 = xmalloc(n * dim * sizeof *T.emb64);
		T.sq64 = xmalloc(n * sizeof *T.sq64);
		for (size_t i = 0; i < n * dim; i++)
			T.emb64[i] = (2.0 * rng_unit(&master) - 1.0) * cfg->init;
		for (size_t i = 0; i < n; i++)
			T.sq64[i] = dot64(dim, T.emb64 + i * dim, T.emb64 + i * dim);
	} else {
		T.emb = xmalloc(n * dim * sizeof *T.emb);
		for (size_t i = 0; i < n * dim; i++)
			T.emb[i] = (float)((2.0 * rng_unit(&master) - 1.0) * cfg->init);
	}

	T.np = g->off[n]; /* every row entry is an oriented training pair */
	T.pu = xmalloc(T.np * sizeof *T.pu);
	T.pv = xmalloc(T.np * sizeof *T.pv);
	size_t q = 0;
	for (uint32_t u = 0; u < n; u++)
		for (size_t i = g->off[u]; i < g->off[u + 1]; i++) {
			T.pu[q] = u;
			T.pv[q] = g->adj[i];
			q++;
		}

	T.dense_limit = 4u * (uint32_t)cfg->negs;
	T.nonnb = xcalloc(n, sizeof *T.nonnb);
	T.nnon = xcalloc(n, sizeof *T.nnon);
	for (uint32_t u = 0; u < n; u++) {
		uint32_t nn = (uint32_t)(n - 1 - graph_deg(g, u));
		if (nn > T.dense_limit)
			continue;
		T.nnon[u] = nn;
		T.nonnb[u] = xmalloc(((size_t)nn + 1) * sizeof **T.nonnb);
		uint32_t m = 0;
		for (uint32_t w = 0; w < n; w++)
			if (w != u && !graph_has(g, u, w))
				T.nonnb[u][m++] = w;
	}

	int nt = cfg->threads;
	worker *W = xcalloc((size_t)nt, sizeof *W);
	pthread_t *tid = xcalloc((size_t)nt, sizeof *tid);
	for (int t = 0; t < nt; t++) {
		W[t].T = &T;
		rng_seed(&W[t].r, cfg->seed * 1000003ULL + 17 + (uint64_t)t);
		if (cfg->f64)
			W[t].grad64 = xcalloc(n * dim, sizeof *W[t].grad64);
		else
			W[t].grad = xcalloc(n * dim, sizeof *W[t].grad);
		W[t].stamp = xcalloc(n, sizeof *W[t].stamp);
		W[t].mark = xcalloc(n, 1);
		W[t].touched = xmalloc(n * sizeof *W[t].touched);
		W[t].negbuf = xmalloc(((size_t)cfg->negs + 2) * sizeof *W[t].negbuf);
		W[t].scratch = xmalloc(((size_t)T.dense_limit + 1) * sizeof *W[t].scratch);
		W[t].dists = xmalloc(((size_t)cfg->negs + 2) * sizeof *W[t].dists);
		W[t].gd = xmalloc(((size_t)cfg->negs + 2) * sizeof *W[t].gd);
	}

	dist_src src = {&T.space, dim, T.emb, NULL, (uint32_t)n, T.emb64, T.sq64};
	/* --eval-sample: a fixed uniform sample of the nodes that have
	 * neighbours (partial Fisher-Yates with its own seed) */
	uint32_t *sample = NULL;
	size_t nsample = 0;
	if (cfg->eval_sample > 0) {
		rng sr;
		rng_seed(&sr, cfg->seed ^ 0x5eedULL);
		sample = xmalloc(n * sizeof *sample);
		for (uint32_t u = 0; u < n; u++)
			if (graph_deg(g, u) > 0)
				sample[nsample++] = u;
		size_t want = (size_t)cfg->eval_sample < nsample
				      ? (size_t)cfg->eval_sample
				      : nsample;
		for (size_t i = 0; i < want; i++) {
			size_t j = i + (size_t)(((unsigned __int128)rng_next(&sr) *
						 (nsample - i)) >> 64);
			uint32_t t = sample[i];
			sample[i] = sample[j];
			sample[j] = t;
		}
		nsample = want;
	}
	run_result R = {0};
	double t_train = 0, t_eval = 0, t_start = now_s();
	for (int ep = 0; ep < cfg->epochs; ep++) {
		double t0 = now_s();
		float lr = (float)(ep < cfg->burnin ? cfg->lr * cfg->burnin_factor
						    : cfg->lr);
		shuffle_pairs(&T, &master);
		for (int t = 0; t < nt; t++) {
			W[t].p0 = T.np * (size_t)t / (size_t)nt;
			W[t].p1 = T.np * (size_t)(t + 1) / (size_t)nt;
			W[t].lr = lr;
			W[t].loss = 0;
			W[t].done = 0;
			W[t].ep_updates = W[t].updates;
			W[t].ep_lost = W[t].lost;
		}
		void *(*fn)(void *) = cfg->f64 ? train_worker64 : train_worker;
		for (int t = 1; t < nt; t++)
			if (pthread_create(&tid[t], NULL, fn, &W[t]))
				die("pthread_create failed%s", "");
		fn(&W[0]);
		for (int t = 1; t < nt; t++)
			pthread_join(tid[t], NULL);
		double dt = now_s() - t0;
		t_train += dt;
		double loss = 0;
		size_t done = 0, ep_up = 0, ep_lost = 0;
		for (int t = 0; t < nt; t++) {
			loss += W[t].loss;
			done += W[t].done;
			ep_up += W[t].updates - W[t].ep_updates;
			ep_lost += W[t].lost - W[t].ep_lost;
		}
		R.final_loss = done ? loss / (double)done : NAN;
		R.epochs = ep + 1;
		int last = ep + 1 == cfg->epochs ||
			   (cfg->time_limit > 0 && now_s() - t_start >= cfg->time_limit);
		int show = last || ep < cfg->burnin ||
			   (cfg->progress > 0 && (ep + 1) % cfg->progress == 0) ||
			   (cfg->eval_every > 0 && (ep + 1) % cfg->eval_every == 0);
		if (!quiet && show) {
			fprintf(stderr,
				"[%s %zud] epoch %4d/%d lr %.3g loss %.5f  %.0f pairs/s  %.1fs  lost %.1f%%",
				kind_name(cfg->kind), dim, ep + 1, cfg->epochs, lr,
				R.final_loss, (double)done / dt, now_s() - t_start,
				ep_up ? 100.0 * (double)ep_lost / (double)ep_up : 0.0);
			if (cfg->eval_every > 0 && !last &&
			    (ep + 1) % cfg->eval_every == 0) {
				double te = now_s();
				eval_result ev = evaluate_nodes(g, &src, nt, sample,
								nsample);
				t_eval += now_s() - te;
				fprintf(stderr, "  mean rank %.3f MAP %.4f", ev.mean_rank,
					ev.map);
			}
			fputc('\n', stderr);
		}
		if (!isfinite(R.final_loss)) {
			fprintf(stderr, "poincare: loss is not finite at epoch %d\n",
				ep + 1);
			break;
		}
		if (last)
			break;
	}
	R.train_s = t_train;
	double te = now_s();
	R.ev = evaluate_nodes(g, &src, nt, sample, nsample);
	free(sample);
	R.eval_s = now_s() - te;
	(void)t_eval;

	size_t skipped = 0, updates = 0, lost = 0;
	for (int t = 0; t < nt; t++) {
		skipped += W[t].skipped;
		updates += W[t].updates;
		lost += W[t].lost;
	}
	R.lost_frac = updates ? (double)lost / (double)updates : 0;
	skipped /= (size_t)(R.epochs ? R.epochs : 1);
	if (!quiet) {
		double mn, mx, fe;
		norm_stats(&T, &mn, &mx, &fe);
		fprintf(stderr,
			"[%s %zud] norms: mean %.4f max %.6f, %.1f%% of points at the projection radius (|x| >= 1 - 2 eps)%s; skipped pairs per epoch %zu\n",
			kind_name(cfg->kind), dim, mn, mx, 100.0 * fe,
			cfg->kind == GEO_HYPERBOLIC ? "" : " (none: flat)",
			skipped);
	}
	if (cfg->save) {
		FILE *f = fopen(cfg->save, "w");
		if (!f) {
			fprintf(stderr, "poincare: %s: %s\n", cfg->save,
				strerror(errno));
		} else {
			for (size_t i = 0; i < n; i++) {
				fprintf(f, "%s", g->names ? g->names[i] : "?");
				for (size_t j = 0; j < dim; j++)
					if (T.emb64)
						fprintf(f, "\t%.17g", T.emb64[i * dim + j]);
					else
						fprintf(f, "\t%.9g", T.emb[i * dim + j]);
				fputc('\n', f);
			}
			fclose(f);
		}
	}

	for (int t = 0; t < nt; t++) {
		free(W[t].grad);
		free(W[t].grad64);
		free(W[t].stamp);
		free(W[t].mark);
		free(W[t].touched);
		free(W[t].negbuf);
		free(W[t].scratch);
		free(W[t].dists);
		free(W[t].gd);
	}
	free(W);
	free(tid);
	for (size_t u = 0; u < n; u++)
		free(T.nonnb[u]);
	free(T.nonnb);
	free(T.nnon);
	free(T.pu);
	free(T.pv);
	free(T.emb);
	free(T.emb64);
	free(T.sq64);
	return R;
}

/* ---- self-test ------------------------------------------------------------ */

static int failures;

static void check(int ok, const char *what)
{
	fprintf(stderr, "  %s  %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		failures++;
}

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol * (1.0 + fabs(b));
}

/* Closure of a random forest-shaped hierarchy: parent[i] < i. */
static void random_closure(graph *g, uint32_t n, rng *r)
{
	uint32_t *parent = xmalloc(n * sizeof *parent);
	size_t cap = (size_t)n * n, m = 0;
	uint32_t *a = xmalloc(cap * sizeof *a), *b = xmalloc(cap * sizeof *b);
	for (uint32_t i = 0; i < n; i++) {
		parent[i] = i == 0 ? UINT32_MAX
				   : (rng_below(r, 5) == 0 ? UINT32_MAX
							    : rng_below(r, i));
		for (uint32_t p = parent[i]; p != UINT32_MAX; p = parent[p]) {
			a[m] = i;
			b[m] = p;
			m++;
		}
	}
	graph_build(g, n, m, a, b);
	free(parent);
	free(a);
	free(b);
}

static int self_test(void)
{
	fprintf(stderr, "poincare self-test\n");
	/* 1. The 4-node chain 0-1-2-3 (edges 0-1, 1-2, 2-3, not closed), placed
	 * on a line at x = 0, 3, 1, 2.  By hand (ties count against the model):
	 *   u=0: nbr 1 (d 3); non 2 (1), 3 (2)       ranks 3;     AP 1/3
	 *   u=1: nbr 0 (3), 2 (2); non 3 (1)          ranks 2, 2;  AP (1/2+2/3)/2
	 *   u=2: nbr 1 (2), 3 (1); non 0 (1) [tie]    ranks 2, 2;  AP (1/2+2/3)/2
	 *   u=3: nbr 2 (1); non 0 (2), 1 (1) [tie]    rank 2;      AP 1/2
	 * mean rank 13/6, MAP (1/3 + 7/12 + 7/12 + 1/2)/4 = 1/2, 2 ties. */
	uint32_t ca[] = {1, 2, 3}, cb[] = {0, 1, 2};
	graph chain;
	graph_build(&chain, 4, 3, ca, cb);
	float pos[] = {0, 3, 1, 2};
	float mat[16];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			mat[i * 4 + j] = fabsf(pos[i] - pos[j]);
	dist_src ms = {NULL, 0, NULL, mat, 4, NULL, NULL};
	eval_result e = evaluate(&chain, &ms, 1);
	check(near(e.mean_rank, 13.0 / 6.0, 1e-12) && near(e.map, 0.5, 1e-12) &&
		      e.npairs == 6 && e.nnodes == 4 && e.ties == 2,
	      "chain, explicit distances: mean rank 13/6, MAP 1/2, 2 ties");
	geo_space flat = {GEO_EUCLIDEAN, 1.0}, ball = {GEO_HYPERBOLIC, 1.0};
	dist_src es = {&flat, 1, pos, NULL, 4, NULL, NULL};
	e = evaluate(&chain, &es, 2);
	check(near(e.mean_rank, 13.0 / 6.0, 1e-12) && near(e.map, 0.5, 1e-12) &&
		      e.ties == 2,
	      "chain, geo_dist flat 1-d at x = 0,3,1,2 (2 threads): same");
	/* 2. Hyperbolic, the same chain at hyperbolic abscissae t = 0,3,1,2.5 on a
	 * diameter (x = tanh(t/2), so d = |t_i - t_j|), no ties:
	 *   u=0: nbr 1 (3); non 2 (1), 3 (2.5)        rank 3;      AP 1/3
	 *   u=1: nbr 0 (3), 2 (2); non 3 (0.5)        ranks 2, 2;  AP 7/12
	 *   u=2: nbr 1 (2), 3 (1.5); non 0 (1)        ranks 2, 2;  AP 7/12
	 *   u=3: nbr 2 (1.5); non 0 (2.5), 1 (0.5)    rank 2;      AP 1/2 */
	float tpos[] = {0, 3, 1, 2.5f}, hpos[4];
	for (int i = 0; i < 4; i++)
		hpos[i] = (float)tanh(tpos[i] / 2.0);
	check(near(geo_dist(&ball, 1, &hpos[1], &hpos[3]), 0.5, 1e-5),
	      "geo_dist on a diameter: d(tanh(3/2), tanh(5/4)) = 0.5");
	dist_src hs = {&ball, 1, hpos, NULL, 4, NULL, NULL};
	e = evaluate(&chain, &hs, 1);
	check(near(e.mean_rank, 13.0 / 6.0, 1e-12) && near(e.map, 0.5, 1e-12) &&
		      e.ties == 0,
	      "chain, geo_dist ball 1-d at t = 0,3,1,2.5: mean rank 13/6, MAP 1/2");
	/* 3. A perfect embedding scores mean rank 1, MAP 1. */
	float good[] = {0, 1, 2, 3};
	dist_src gs = {&flat, 1, good, NULL, 4, NULL, NULL};
	e = evaluate(&chain, &gs, 1);
	check(near(e.mean_rank, 1.0, 0) && near(e.map, 1.0, 0),
	      "chain in order: mean rank 1, MAP 1");
	graph_free(&chain);

	/* 3b. Directed protocol on the tree 1 -> 0, 2 -> 0, 3 -> 1 -> 0 (closure
	 * pairs (1,0) (2,0) (3,1) (3,0)) at x = 0, 2, -1, 2.5.  By hand:
	 *   u=1: anc 0 (2); non 2 (3), 3 (0.5)        rank 2;     AP 1/2
	 *   u=2: anc 0 (1); non 1 (3), 3 (3.5)        rank 1;     AP 1
	 *   u=3: anc 0 (2.5), 1 (0.5); non 2 (3.5)    ranks 1, 1; AP 1
	 * mean rank 5/4, MAP 5/6; symmetric, the same points rank perfectly
	 * (u=1's descendant 3 is then a neighbour). */
	{
		uint32_t ta[] = {1, 2, 3, 3}, tb[] = {0, 0, 1, 0};
		float tx[] = {0, 2, -1, 2.5f};
		graph tg;
		dist_src ts = {&flat, 1, tx, NULL, 4, NULL, NULL};
		graph_build_dir(&tg, 4, 4, ta, tb, 1);
		e = evaluate(&tg, &ts, 1);
		check(near(e.mean_rank, 1.25, 1e-12) &&
			      near(e.map, 5.0 / 6.0, 1e-12) && e.nnodes == 3,
		      "tree, directed: mean rank 5/4, MAP 5/6");
		graph_free(&tg);
		graph_build_dir(&tg, 4, 4, ta, tb, 0);
		e = evaluate(&tg, &ts, 1);
		check(near(e.mean_rank, 1.0, 0) && near(e.map, 1.0, 0) &&
			      e.nnodes == 4,
		      "tree, symmetric: mean rank 1, MAP 1");
		graph_free(&tg);
	}

	/* 4. Fast evaluator == brute force on random closures, with quantised
	 * coordinates so that ties (between neighbours and non-neighbours, and
	 * among neighbours) occur. */
	rng r;
	rng_seed(&r, 12345);
	int agree = 1;
	size_t ties_seen = 0;
	for (int trial = 0; trial < 20; trial++) {
		graph g;
		uint32_t n = 5 + rng_below(&r, 60);
		random_closure(&g, n, &r);
		size_t dim = 1 + rng_below(&r, 3);
		float *x = xmalloc(n * dim * sizeof *x);
		geo_space *sp = trial % 2 ? &ball : &flat;
		for (size_t i = 0; i < n * dim; i++)
			x[i] = (float)(rng_below(&r, 5) - 2.0) * (trial % 2 ? 0.2f : 1.0f);
		dist_src s = {sp, dim, x, NULL, n, NULL, NULL};
		eval_result a = evaluate(&g, &s, 1 + trial % 2);
		eval_result b = evaluate_brute(&g, &s);
		/* the node-list path, all nodes in reverse order, agrees too */
		uint32_t *all = xmalloc(n * sizeof *all);
		for (uint32_t i = 0; i < n; i++)
			all[i] = n - 1 - i;
		eval_result c = evaluate_nodes(&g, &s, 2, all, n);
		free(all);
		if (!(near(c.mean_rank, b.mean_rank, 1e-12) &&
		      near(c.map, b.map, 1e-12)))
			agree = 0;
		ties_seen += a.ties;
		if (!(near(a.mean_rank, b.mean_rank, 1e-12) &&
		      near(a.map, b.map, 1e-12) && a.npairs == b.npairs &&
		      a.nnodes == b.nnodes)) {
			agree = 0;
			fprintf(stderr, "    trial %d: n %u fast %.6f/%.6f brute %.6f/%.6f\n",
				trial, n, a.mean_rank, a.map, b.mean_rank, b.map);
		}
		free(x);
		graph_free(&g);
	}
	check(agree && ties_seen > 0,
	      "fast evaluator == brute force on 20 random closures (with ties)");

	/* 5. The loss gradient (softmax over distances, geo_dist_backward)
	 * against central differences of the loss, in both geometries. */
	for (int kk = 0; kk < 2; kk++) {
		geo_space *sp = kk ? &flat : &ball;
		enum { D = 5, K = 6 };
		float pts[(K + 2) * D];
		for (int i = 0; i < (K + 2) * D; i++)
			pts[i] = (float)(rng_unit(&r) - 0.5) * 0.6f;
		double d[K + 1];
		double gd[K + 1];
		float gu[D] = {0}, gx[(K + 1) * D];
		memset(gx, 0, sizeof gx);
		for (int j = 0; j <= K; j++)
			d[j] = geo_dist(sp, D, pts, pts + (j + 1) * D);
		softmax_loss(K, d, gd);
		for (int j = 0; j <= K; j++)
			geo_dist_backward(sp, D, pts, pts + (j + 1) * D,
					  (float)gd[j], gu, gx + j * D);
		double maxerr = 0;
		for (int i = 0; i < (K + 2) * D; i++) {
			double h = 1e-3, lp = 0, lm = 0;
			float save = pts[i];
			double gnum, gana = i < D ? gu[i] : gx[i - D];
			for (int sgn = 0; sgn < 2; sgn++) {
				pts[i] = (float)(save + (sgn ? -h : h));
				for (int j = 0; j <= K; j++)
					d[j] = geo_dist(sp, D, pts, pts + (j + 1) * D);
				double l = softmax_loss(K, d, gd);
				if (sgn)
					lm = l;
				else
					lp = l;
			}
			pts[i] = save;
			gnum = (lp - lm) / (2 * h);
			double err = fabs(gnum - gana) / (1e-2 + fabs(gnum));
			if (err > maxerr)
				maxerr = err;
		}
		char msg[128];
		snprintf(msg, sizeof msg,
			 "%s loss gradient vs central differences (max rel err %.1e)",
			 kind_name(sp->kind), maxerr);
		check(maxerr < 2e-2, msg);
	}

	/* 5b. The --f64 kernels against libanthem's float kernels, on points
	 * exactly representable in float (radii up to 1 - 1e-4), and the f64
	 * loss gradient against central differences in double. */
	{
		enum { D = 7, P = 200 };
		double maxd = 0, maxg = 0, maxs = 0;
		for (int trial = 0; trial < P; trial++) {
			float xf[D], yf[D], gf[D], gxf[D] = {0}, gyf[D] = {0};
			double x[D], y[D], g[D], gx[D] = {0}, gy[D] = {0};
			double rx = trial % 4 == 0 ? 1.0 - 1e-4 : 0.9 * rng_unit(&r);
			double ry = trial % 4 == 1 ? 1.0 - 1e-3 : 0.9 * rng_unit(&r);
			for (int i = 0; i < D; i++) {
				xf[i] = (float)(rng_unit(&r) - 0.5);
				yf[i] = (float)(rng_unit(&r) - 0.5);
				gf[i] = (float)(rng_unit(&r) - 0.5);
			}
			float nx = 0, ny = 0;
			for (int i = 0; i < D; i++) {
				nx += xf[i] * xf[i];
				ny += yf[i] * yf[i];
			}
			for (int i = 0; i < D; i++) {
				xf[i] = (float)(xf[i] * rx / sqrt(nx));
				yf[i] = (float)(yf[i] * ry / sqrt(ny));
				x[i] = xf[i];
				y[i] = yf[i];
				g[i] = gf[i];
			}
			double x2 = dot64(D, x, x), y2 = dot64(D, y, y);
			double dl = geo_dist(&ball, D, xf, yf);
			double dm = p64_dist_of_arg(p64_arg(D, x, x2, y, y2));
			maxd = fmax(maxd, fabs(dm - dl) / (1e-3 + dl));
			geo_dist_backward(&ball, D, xf, yf, 0.7f, gxf, gyf);
			p64_grad2(D, x, x2, y, y2, 0.7, gx, gy);
			double gn = sqrt(dot64(D, gx, gx) + dot64(D, gy, gy));
			for (int i = 0; i < D; i++)
				maxg = fmax(maxg, fmax(fabs(gx[i] - gxf[i]),
						       fabs(gy[i] - gyf[i])) / gn);
			float xs[D];
			memcpy(xs, xf, sizeof xs);
			ath_rsgd_update(&ball, D, xs, gf, 0.3f);
			p64_rsgd(D, x, g, 0.3);
			/* compare the steps, relative to the step's size */
			double sn = 0, se = 0;
			for (int i = 0; i < D; i++) {
				sn += (x[i] - xf[i]) * (x[i] - xf[i]);
				se = fmax(se, fabs(x[i] - xs[i]));
			}
			/* a float32 coordinate near |x| = 1 moves in steps of
			 * 6e-8: that much is the float point's rounding */
			maxs = fmax(maxs, fmax(se - 1.2e-7, 0.0) / sqrt(sn));
		}
		char msg[200];
		snprintf(msg, sizeof msg,
			 "f64 kernels vs geo_dist / geo_dist_backward / ath_rsgd_update on %d pairs (max rel err %.1e / %.1e / %.1e)",
			 P, maxd, maxg, maxs);
		check(maxd < 1e-5 && maxg < 1e-4 && maxs < 1e-4, msg);

		enum { K = 6 };
		double pts[(K + 2) * D], sq[K + 2], d[K + 1], gd[K + 1];
		double grad[(K + 2) * D];
		for (int i = 0; i < (K + 2) * D; i++)
			pts[i] = (rng_unit(&r) - 0.5) * 0.6;
		pts[D] = pts[0] + 1e-4; /* a positive close to u */
		for (int i = 1; i < D; i++)
			pts[D + i] = pts[i];
		double maxerr = 0;
		for (int i = -1; i < (K + 2) * D; i++) {
			double h = 1e-7, save = i >= 0 ? pts[i] : 0, l[2];
			for (int sgn = 0; sgn < (i >= 0 ? 2 : 1); sgn++) {
				if (i >= 0)
					pts[i] = save + (sgn ? -h : h);
				for (int j = 0; j < K + 2; j++)
					sq[j] = dot64(D, pts + j * D, pts + j * D);
				for (int j = 0; j <= K; j++)
					d[j] = p64_dist_of_arg(p64_arg(D, pts, sq[0],
								       pts + (j + 1) * D,
								       sq[j + 1]));
				l[sgn] = softmax_loss(K, d, gd);
			}
			if (i < 0) { /* analytic gradient at the unperturbed point */
				memset(grad, 0, sizeof grad);
				for (int j = 0; j <= K; j++) {
					p64_grad2(D, pts, sq[0], pts + (j + 1) * D,
						  sq[j + 1], gd[j], grad, grad + (j + 1) * D);
				}
				continue;
			}
			pts[i] = save;
			double gnum = (l[0] - l[1]) / (2 * h);
			maxerr = fmax(maxerr, fabs(gnum - grad[i]) / (1e-3 + fabs(gnum)));
		}
		snprintf(msg, sizeof msg,
			 "f64 loss gradient vs central differences (max rel err %.1e)",
			 maxerr);
		check(maxerr < 1e-5, msg);

		/* the f64 evaluation ranks as geo_dist does on the same points */
		graph g;
		rng_seed(&r, 99);
		random_closure(&g, 50, &r);
		size_t n = g.n;
		float *xf = xmalloc(n * D * sizeof *xf);
		double *x = xmalloc(n * D * sizeof *x), *s2 = xmalloc(n * sizeof *s2);
		for (size_t i = 0; i < n * D; i++)
			x[i] = xf[i] = (float)((rng_unit(&r) - 0.5) * 0.7);
		for (size_t i = 0; i < n; i++)
			s2[i] = dot64(D, x + i * D, x + i * D);
		dist_src a32 = {&ball, D, xf, NULL, (uint32_t)n, NULL, NULL};
		dist_src a64 = {&ball, D, NULL, NULL, (uint32_t)n, x, s2};
		eval_result e32 = evaluate(&g, &a32, 1), e64 = evaluate(&g, &a64, 2);
		snprintf(msg, sizeof msg,
			 "f64 evaluation == geo_dist evaluation on a 50-node closure in the 7-d ball (MAP %.4f / %.4f)",
			 e64.map, e32.map);
		check(near(e32.map, e64.map, 1e-12) &&
			      near(e32.mean_rank, e64.mean_rank, 1e-12) &&
			      e32.map < 1.0,
		      msg);
		free(xf);
		free(x);
		free(s2);
		graph_free(&g);
	}

	/* 6. End to end: a 40-node random hierarchy, trained briefly in the
	 * 2-d ball, reconstructs well (MAP > 0.9). */
	{
		graph g;
		rng_seed(&r, 7);
		random_closure(&g, 40, &r);
		config cfg = {0};
		cfg.kind = GEO_HYPERBOLIC;
		cfg.c = 1.0;
		cfg.dim = 2;
		cfg.epochs = 300;
		cfg.burnin = 10;
		cfg.burnin_factor = 0.1;
		cfg.negs = 10;
		cfg.batch = 1;
		cfg.threads = 1;
		cfg.lr = 0.3;
		cfg.init = 1e-4;
		cfg.seed = 1;
		run_result R = train_and_eval(&cfg, &g, 1);
		char msg[160];
		snprintf(msg, sizeof msg,
			 "train 40-node hierarchy in the 2-d ball: mean rank %.3f, MAP %.4f (want MAP > 0.9)",
			 R.ev.mean_rank, R.ev.map);
		check(R.ev.map > 0.9, msg);
		cfg.f64 = 1;
		R = train_and_eval(&cfg, &g, 1);
		snprintf(msg, sizeof msg,
			 "the same with --f64: mean rank %.3f, MAP %.4f (want MAP > 0.9)",
			 R.ev.mean_rank, R.ev.map);
		check(R.ev.map > 0.9, msg);
		graph_free(&g);
	}
	fprintf(stderr, "self-test: %s (%d failure%s)\n",
		failures ? "FAILED" : "passed", failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}

/* ---- command line ---------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
"usage: poincare --closure FILE [options]\n"
"       poincare --self-test\n"
"\n"
"Embed a transitive closure (child<TAB>ancestor per line) with libanthem's\n"
"geometry (geo_dist / geo_dist_backward) and optimiser (ath_rsgd_update), as\n"
"Nickel and Kiela (2017), and report reconstruction mean rank and MAP.\n"
"\n"
"  --closure FILE        closure pairs, TSV, '#' comments allowed\n"
"  --geometry G          hyperbolic (Poincare ball, RSGD) or euclidean (SGD)\n"
"                        [hyperbolic]\n"
"  --dim N               dimension [10]\n"
"  --curvature C         ball curvature -C [1]\n"
"  --epochs N            training epochs over all oriented pairs [300]\n"
"  --burnin N            first N epochs at lr * burnin-factor [10]\n"
"  --burnin-factor F     [0.1]\n"
"  --lr X                learning rate [1.0]\n"
"  --negatives N         negatives per positive pair [50]\n"
"  --batch N             pairs per update (loss averaged over the batch) [1]\n"
"  --init X              init U(-X, X) [1e-4]\n"
"  --threads N           Hogwild training threads, also used by the evaluation [1]\n"
"  --seed N              random seed [1]\n"
"  --time-limit S        stop training after the epoch that passes S seconds [0 = none]\n"
"  --progress N          progress line every N epochs (and during burn-in) [1]\n"
"  --eval-every N        also evaluate every N epochs (progress only) [0]\n"
"  --f64                 store the points in float64 and train and evaluate with\n"
"                        the program's own closed-form ball kernels (c = 1),\n"
"                        checked against geo_dist, geo_dist_backward and\n"
"                        ath_rsgd_update by --self-test; ranks by cosh d - 1\n"
"  --retraction          update with the first-order retraction\n"
"                        proj(x - lr (1 - c|x|^2)^2/4 g) of the reference code\n"
"                        instead of ath_rsgd_update (diagnosis only)\n"
"  --eval-sample N       evaluate a uniform sample of N nodes (with neighbours)\n"
"                        instead of all of them [0 = all]\n"
"  --save FILE           write the embedding (id<TAB>coordinates)\n"
"  --directed            the reference code's protocol instead of the symmetric\n"
"                        one: train on (child, ancestor) pairs only, negatives\n"
"                        are the nodes that are not ancestors of the child, and\n"
"                        the evaluation ranks each node's ancestors among its\n"
"                        non-ancestors (descendants included)\n"
"  --self-test           check the evaluation and the gradients, then exit\n"
"  -h, --help            this text\n"
"\n"
"stdout: one line 'RESULT geometry=... dim=... mean_rank=... map=... ...'.\n"
"'lost' (stderr) and lost_updates (stdout) are the fraction of row updates\n"
"with a non-zero gradient after which the float32 point was bit-for-bit\n"
"unchanged: the step was rounded away (last epoch / whole run).\n");
}

static const char *need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		die("%s needs a value", argv[*i]);
	return argv[++*i];
}

static long parse_long(const char *s, const char *opt, long lo)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo)
		die("bad value for %s", opt);
	return v;
}

static double parse_double(const char *s, const char *opt)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v))
		die("bad value for %s", opt);
	return v;
}

int main(int argc, char **argv)
{
	config cfg = {0};
	cfg.kind = GEO_HYPERBOLIC;
	cfg.c = 1.0;
	cfg.dim = 10;
	cfg.epochs = 300;
	cfg.burnin = 10;
	cfg.burnin_factor = 0.1;
	cfg.lr = 1.0;
	cfg.negs = 50;
	cfg.batch = 1;
	cfg.init = 1e-4;
	cfg.threads = 1;
	cfg.seed = 1;
	cfg.progress = 1;
	int selftest = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--progress")) {
			cfg.progress = (int)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--eval-sample")) {
			cfg.eval_sample = (int)parse_long(need(argc, argv, &i), a, 0);
		} else if (!strcmp(a, "--directed")) {
			cfg.directed = 1;
		} else if (!strcmp(a, "--f64")) {
			cfg.f64 = 1;
		} else if (!strcmp(a, "--retraction")) {
			cfg.retraction = 1;
		} else if (!strcmp(a, "--self-test")) {
			selftest = 1;
		} else if (!strcmp(a, "--closure")) {
			cfg.closure = need(argc, argv, &i);
		} else if (!strcmp(a, "--save")) {
			cfg.save = need(argc, argv, &i);
		} else if (!strcmp(a, "--geometry")) {
			const char *v = need(argc, argv, &i);
			if (!strcmp(v, "hyperbolic") || !strcmp(v, "poincare"))
				cfg.kind = GEO_HYPERBOLIC;
			else if (!strcmp(v, "euclidean"))
				cfg.kind = GEO_EUCLIDEAN;
			else
				die("unknown geometry %s", v);
		} else if (!strcmp(a, "--dim")) {
			cfg.dim = (size_t)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--curvature")) {
			cfg.c = parse_double(need(argc, argv, &i), a);
		} else if (!strcmp(a, "--epochs")) {
			cfg.epochs = (int)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--burnin")) {
			cfg.burnin = (int)parse_long(need(argc, argv, &i), a, 0);
		} else if (!strcmp(a, "--burnin-factor")) {
			cfg.burnin_factor = parse_double(need(argc, argv, &i), a);
		} else if (!strcmp(a, "--lr")) {
			cfg.lr = parse_double(need(argc, argv, &i), a);
		} else if (!strcmp(a, "--negatives")) {
			cfg.negs = (int)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--batch")) {
			cfg.batch = (int)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--init")) {
			cfg.init = parse_double(need(argc, argv, &i), a);
		} else if (!strcmp(a, "--threads")) {
			cfg.threads = (int)parse_long(need(argc, argv, &i), a, 1);
		} else if (!strcmp(a, "--seed")) {
			cfg.seed = (uint64_t)parse_long(need(argc, argv, &i), a, 0);
		} else if (!strcmp(a, "--time-limit")) {
			cfg.time_limit = parse_double(need(argc, argv, &i), a);
		} else if (!strcmp(a, "--eval-every")) {
			cfg.eval_every = (int)parse_long(need(argc, argv, &i), a, 0);
		} else {
			fprintf(stderr, "poincare: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (selftest)
		return self_test();
	if (!cfg.closure) {
		usage(stderr);
		return 2;
	}
	if (cfg.dim > ANTHEM_MAX_DIM)
		die("--dim too large%s", "");
	if (cfg.kind == GEO_HYPERBOLIC && !(cfg.c > 0))
		die("--curvature must be > 0%s", "");
	if (cfg.f64 && (cfg.kind != GEO_HYPERBOLIC || cfg.c != 1.0 || cfg.retraction))
		die("--f64 is the unit ball only (hyperbolic, curvature 1, no --retraction)%s", "");

	double t0 = now_s();
	graph g;
	graph_read(&g, cfg.closure, cfg.directed);
	fprintf(stderr,
		"closure %s: %u nodes, %zu pairs (%zu oriented training pairs, %s), read in %.2fs\n",
		cfg.closure, g.n, g.nedges, g.off[g.n],
		cfg.directed ? "directed" : "symmetric", now_s() - t0);

	run_result R = train_and_eval(&cfg, &g, 0);
	if (R.ev.bad)
		fprintf(stderr, "poincare: non-finite distances in the evaluation\n");
	fprintf(stderr,
		"[%s %zud] mean rank %.4f  MAP %.4f  (%zu pairs over %zu nodes, %zu ties) train %.1fs eval %.1fs\n",
		kind_name(cfg.kind), cfg.dim, R.ev.mean_rank, R.ev.map, R.ev.npairs,
		R.ev.nnodes, R.ev.ties, R.train_s, R.eval_s);
	printf("RESULT geometry=%s storage=%s protocol=%s dim=%zu nodes=%u pairs=%zu lr=%g batch=%d "
	       "negatives=%d epochs=%d burnin=%d threads=%d seed=%llu "
	       "mean_rank=%.4f map=%.4f eval_nodes=%zu ties=%zu loss=%.5f train_s=%.1f "
	       "eval_s=%.1f lost_updates=%.4f\n",
	       kind_name(cfg.kind), cfg.f64 ? "f64" : "f32",
	       cfg.directed ? "directed" : "symmetric",
	       cfg.dim, g.n, g.nedges, cfg.lr, cfg.batch,
	       cfg.negs, R.epochs, cfg.burnin, cfg.threads,
	       (unsigned long long)cfg.seed, R.ev.mean_rank, R.ev.map,
	       R.ev.nnodes, R.ev.ties,
	       R.final_loss, R.train_s, R.eval_s, R.lost_frac);
	graph_free(&g);
	return R.ev.bad ? 1 : 0;
}
