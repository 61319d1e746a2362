/* The approximate stage-1 index (docs/architecture.md, "The approximate
 * index"): one layer of a proximity graph in the style of HNSW's bottom
 * layer (Malkov and Yashunin, TPAMI 2020) over the product points, built
 * with the Poincaré distance between points and searched with the scan's
 * point-to-region distance.
 *
 * Build: points are inserted in a seeded random order.  Each new point
 * finds its ef_construction nearest among those already inserted by a beam
 * search, keeps at most R of them with HNSW's neighbour heuristic (a
 * candidate is kept when it is nearer to the new point than to every
 * neighbour kept so far, so the edges point in different directions; the
 * slots left are filled with the nearest of the rest), and is added to
 * their lists (a full list drops its farthest entry when the new point is
 * nearer).  Insertions run in rounds: the searches of a round run in
 * parallel against the graph as the previous rounds left it, then the
 * round's links are made in insertion order, so the graph depends on the
 * seed only, never on the number of threads.
 *
 * Between points the graph needs only the order of the Poincaré distance
 * d(x, y) = arcosh(1 + 2c|x - y|^2 / ((1 - c|x|^2)(1 - c|y|^2))) / sqrt(c),
 * so it ranks by |x - y|^2 a_x a_y with a_x = 1 / (1 - c|x|^2), which is
 * increasing in d (|x - y|^2 in flat space).
 *
 * Search: a query's region (c, l) has no point to start a greedy descent
 * from, so the beam starts from all the entry points (the first nodes
 * inserted, a uniform sample of about sqrt(n), at most 1024) and keeps the
 * ef nearest to the region by the scan's distance (ath_scan_one); its ef
 * results are re-scored by the scan's float loop (ath_scan_at) and the
 * best k returned. */
#include "search/ann.h"

#include "common/internal.h"
#include "common/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ath_ann_free(ath_ann *a)
{
	free(a->owned_adj);
	free(a->owned_entry);
	free(a->owned_rows);
	free(a->owned_codes);
	free(a->owned_scale);
	memset(a, 0, sizeof *a);
}

/* ---- the beam ---------------------------------------------------------------- */

/* The beam's frontier: a min-heap of (distance, node), growable. */
typedef struct frontier {
	anthem_hit *h;
	size_t n, cap;
} frontier;

static int front_push(frontier *f, size_t id, float d)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 256;
		anthem_hit *h = realloc(f->h, cap * sizeof *h);
		if (!h)
			return -1;
		f->h = h;
		f->cap = cap;
	}
	size_t i = f->n++;
	while (i > 0 && f->h[(i - 1) / 2].distance > d) {
		f->h[i] = f->h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	f->h[i] = (anthem_hit){id, d};
	return 0;
}

static anthem_hit front_pop(frontier *f)
{
	anthem_hit top = f->h[0], x = f->h[--f->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		float dw = x.distance;
		if (l < f->n && f->h[l].distance < dw) {
			w = l;
			dw = f->h[l].distance;
		}
		if (r < f->n && f->h[r].distance < dw)
			w = r;
		if (w == i)
			break;
		f->h[i] = f->h[w];
		i = w;
	}
	if (f->n)
		f->h[i] = x;
	return top;
}

/* What a beam needs besides the graph: the visited bits (cleared after
 * each search through the list of what was set) and the frontier. */
typedef struct beam_scratch {
	uint64_t *seen;
	uint32_t *touched;
	size_t ntouched, cap_touched;
	frontier f;
} beam_scratch;

static void scratch_free(beam_scratch *s)
{
	free(s->seen);
	free(s->touched);
	free(s->f.h);
	memset(s, 0, sizeof *s);
}

static int scratch_init(beam_scratch *s, size_t n)
{
	memset(s, 0, sizeof *s);
	s->seen = calloc((n + 63) / 64 + 1, sizeof *s->seen);
	return s->seen ? 0 : -1;
}

/* Mark node u seen; 1 if it was not. */
static int visit(beam_scratch *s, size_t u)
{
	uint64_t bit = (uint64_t)1 << (u % 64);
	if (s->seen[u / 64] & bit)
		return 0;
	if (s->ntouched == s->cap_touched) {
		size_t cap = s->cap_touched ? 2 * s->cap_touched : 1024;
		uint32_t *t = realloc(s->touched, cap * sizeof *t);
		if (!t)
			return -1;
		s->touched = t;
		s->cap_touched = cap;
	}
	s->touched[s->ntouched++] = (uint32_t)(u / 64);
	s->seen[u / 64] |= bit;
	return 1;
}

static void unvisit_all(beam_scratch *s)
{
	for (size_t i = 0; i < s->ntouched; i++)
		s->seen[s->touched[i]] = 0;
	s->ntouched = 0;
}

typedef float (*dist_fn)(const void *ctx, size_t node);

/* The beam search: res (an ath_heap of capacity ef, emptied first) gets
 * the ef nodes nearest by dist among those reached from the entries.
 * Returns the distances computed, or (size_t)-1 when out of memory. */
static size_t beam(const uint32_t *adj, size_t R, const uint32_t *entry,
		   size_t nentry, dist_fn dist, const void *ctx,
		   beam_scratch *s, ath_heap *res)
{
	size_t nd = 0;
	int oom = 0;
	res->n = 0;
	s->f.n = 0;
	for (size_t e = 0; e < nentry && !oom; e++) {
		int v = visit(s, entry[e]);
		if (v <= 0) {
			oom = v < 0;
			continue;
		}
		float d = dist(ctx, entry[e]);
		nd++;
		oom = front_push(&s->f, entry[e], d) != 0;
		ath_heap_push(res, entry[e], d);
	}
	while (s->f.n && !oom) {
		anthem_hit c = front_pop(&s->f);
		if (res->n == res->k && c.distance > res->h[0].distance)
			break;
		const uint32_t *nb = adj + c.index * R;
		for (size_t j = 0; j < R && !oom; j++) {
			uint32_t u = nb[j];
			if (u == ATH_ANN_NONE)
				continue;
			int v = visit(s, u);
			if (v <= 0) {
				oom = v < 0;
				continue;
			}
			float d = dist(ctx, u);
			nd++;
			if (res->n < res->k || d < res->h[0].distance) {
				oom = front_push(&s->f, u, d) != 0;
				ath_heap_push(res, u, d);
			}
		}
	}
	unvisit_all(s);
	return oom ? (size_t)-1 : nd;
}

/* ---- build ------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

typedef struct build {
	const float *p; /* n x d */
	float *a;       /* 1 / (1 - c|x|^2), or 1 in flat space */
	size_t n, d, R, ef;
	uint32_t *adj;  /* n x R */
	float *bd;      /* n x R: each edge's pair distance */
	uint32_t *deg;
	uint32_t *order;
	size_t t0;      /* nodes order[0 .. t0) are in the graph */
	/* the round's results: R neighbours and their distances per node */
	uint32_t *sel;
	float *seld;
	uint32_t *nsel;
	beam_scratch *scr; /* per thread */
	ath_heap *heaps;   /* per thread, capacity ef */
	anthem_hit *hbuf;
	size_t *pruned;    /* per thread, ef */
	int oom;
} build;

static float pair(const build *b, size_t i, size_t j)
{
	const float *x = b->p + i * b->d, *y = b->p + j * b->d;
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t k = 0;
	for (; k + 3 < b->d; k += 4) {
		float e0 = x[k] - y[k], e1 = x[k + 1] - y[k + 1];
		float e2 = x[k + 2] - y[k + 2], e3 = x[k + 3] - y[k + 3];
		s0 += e0 * e0;
		s1 += e1 * e1;
		s2 += e2 * e2;
		s3 += e3 * e3;
	}
	for (; k < b->d; k++)
		s0 += (x[k] - y[k]) * (x[k] - y[k]);
	return (s0 + s1 + s2 + s3) * b->a[i] * b->a[j];
}

typedef struct pair_ctx {
	const build *b;
	size_t v;
} pair_ctx;

static float pair_dist(const void *ctx, size_t node)
{
	const pair_ctx *c = ctx;
	return pair(c->b, c->v, node);
}

/* The search and the neighbour choice of the t-th node inserted. */
static void insert_search(size_t slot, size_t tid, void *arg)
{
	build *b = arg;
	size_t v = b->order[b->t0 + slot], R = b->R;
	ath_heap *res = &b->heaps[tid];
	pair_ctx ctx = {b, v};
	/* entries: the first nodes inserted, at most 32 while building */
	size_t ne = b->t0 < 32 ? b->t0 : 32;
	if (beam(b->adj, R, b->order, ne, pair_dist, &ctx, &b->scr[tid], res) ==
	    (size_t)-1) {
		b->oom = 1; /* read after the round */
		return;
	}
	ath_heap_sort(res);
	uint32_t *sel = b->sel + slot * R;
	float *seld = b->seld + slot * R;
	size_t ns = 0, np = 0;
	size_t *pruned = b->pruned + tid * b->ef;
	for (size_t i = 0; i < res->n && ns < R; i++) {
		size_t w = res->h[i].index;
		float dw = res->h[i].distance;
		int keep = 1;
		for (size_t r = 0; r < ns && keep; r++)
			keep = pair(b, w, sel[r]) >= dw;
		if (keep) {
			sel[ns] = (uint32_t)w;
			seld[ns++] = dw;
		} else {
			pruned[np++] = i;
		}
	}
	for (size_t i = 0; i < np && ns < R; i++) {
		sel[ns] = (uint32_t)res->h[pruned[i]].index;
		seld[ns++] = res->h[pruned[i]].distance;
	}
	b->nsel[slot] = (uint32_t)ns;
}

/* Node v's edges (the round's choice), and v in each neighbour's list. */
static void link(build *b, size_t slot, size_t v)
{
	size_t R = b->R;
	const uint32_t *sel = b->sel + slot * R;
	const float *seld = b->seld + slot * R;
	for (size_t j = 0; j < b->nsel[slot]; j++) {
		b->adj[v * R + j] = sel[j];
		b->bd[v * R + j] = seld[j];
	}
	b->deg[v] = b->nsel[slot];
	for (size_t j = 0; j < b->nsel[slot]; j++) {
		size_t u = sel[j];
		uint32_t *au = b->adj + u * R;
		float *du = b->bd + u * R;
		if (b->deg[u] < R) {
			au[b->deg[u]] = (uint32_t)v;
			du[b->deg[u]++] = seld[j];
			continue;
		}
		size_t far = 0;
		for (size_t r = 1; r < R; r++)
			if (du[r] > du[far])
				far = r;
		if (seld[j] < du[far]) {
			au[far] = (uint32_t)v;
			du[far] = seld[j];
		}
	}
}

/* Every node reachable from the entries.  A full list that did not take a
 * new node, or dropped it later for a nearer one, can leave a node with no
 * edge into it: such a node is found by a walk from the entries and given
 * an edge from its nearest neighbour that is reached (a free slot, else the
 * slot of a node that has another edge into it), then the walk goes on
 * from it.  In node order, single-threaded: deterministic.  Returns the
 * nodes that needed an edge, or (size_t)-1 when out of memory. */
static size_t connect_all(uint32_t *adj, size_t n, size_t R,
			  const uint32_t *entry, size_t nentry)
{
	uint8_t *reached = calloc(n, 1);
	uint32_t *indeg = calloc(n, sizeof *indeg), *stack = malloc(n * sizeof *stack);
	size_t fixed = 0;
	if (!reached || !indeg || !stack) {
		free(reached);
		free(indeg);
		free(stack);
		return (size_t)-1;
	}
	for (size_t i = 0; i < n * R; i++)
		if (adj[i] != ATH_ANN_NONE)
			indeg[adj[i]]++;
	size_t top = 0;
	for (size_t e = 0; e < nentry; e++)
		if (!reached[entry[e]]) {
			reached[entry[e]] = 1;
			stack[top++] = entry[e];
		}
	for (size_t v = 0;; v++) {
		while (top) {
			size_t x = stack[--top];
			for (size_t j = 0; j < R; j++) {
				uint32_t u = adj[x * R + j];
				if (u != ATH_ANN_NONE && !reached[u]) {
					reached[u] = 1;
					stack[top++] = u;
				}
			}
		}
		while (v < n && reached[v])
			v++;
		if (v == n)
			break;
		/* v's nearest reached neighbour (its list is nearest first),
		 * else the first entry */
		size_t from = entry[0];
		for (size_t j = 0; j < R; j++) {
			uint32_t u = adj[v * R + j];
			if (u != ATH_ANN_NONE && reached[u]) {
				from = u;
				break;
			}
		}
		uint32_t *l = adj + from * R;
		size_t slot = R;
		for (size_t j = 0; j < R && slot == R; j++)
			if (l[j] == ATH_ANN_NONE)
				slot = j;
		for (size_t j = R; j-- > 0 && slot == R;)
			if (indeg[l[j]] > 1)
				slot = j;
		if (slot == R)
			slot = R - 1;
		if (l[slot] != ATH_ANN_NONE)
			indeg[l[slot]]--;
		l[slot] = (uint32_t)v;
		indeg[v]++;
		reached[v] = 1;
		stack[top++] = (uint32_t)v;
		fixed++;
	}
	free(reached);
	free(indeg);
	free(stack);
	return fixed;
}

/* Nodes per round after t are in the graph: small while the graph is
 * small (a round's nodes do not see each other), then up to 1024. */
static size_t round_size(size_t t)
{
	size_t r = t / 16;
	return r < 1 ? 1 : r > 1024 ? 1024 : r;
}

/* Entry points for searches: about sqrt(n), 16 to 1024. */
static size_t entry_count(size_t n)
{
	size_t e = (size_t)sqrt((double)n);
	e = e < 16 ? 16 : e > 1024 ? 1024 : e;
	return e < n ? e : n;
}

static void build_free(build *b, size_t threads)
{
	for (size_t t = 0; b->scr && t < threads; t++)
		scratch_free(&b->scr[t]);
	free(b->scr);
	free(b->heaps);
	free(b->hbuf);
	free(b->pruned);
	free(b->a);
	free(b->bd);
	free(b->deg);
	free(b->sel);
	free(b->seld);
	free(b->nsel);
}

int ath_ann_build(ath_ann *a, const geo_space *s, const float *points,
		  size_t n, size_t d, size_t degree, size_t ef, uint64_t seed,
		  int int8, size_t threads, const char *fn)
{
	memset(a, 0, sizeof *a);
	if (degree < 2 || degree > ATH_ANN_MAX_DEGREE)
		return ath_error(ANTHEM_EINVAL, "%s: graph degree %zu, must be 2 "
				 "to %d", fn, degree, ATH_ANN_MAX_DEGREE);
	if (ef < 1 || ef > ATH_ANN_MAX_EF)
		return ath_error(ANTHEM_EINVAL, "%s: ef_construction %zu, must be "
				 "1 to %d", fn, ef, ATH_ANN_MAX_EF);
	if (n >= ATH_ANN_NONE)
		return ath_error(ANTHEM_ERANGE, "%s: %zu products, a graph holds "
				 "at most %u", fn, n, ATH_ANN_NONE - 1);
	if (ef < degree)
		ef = degree;
	threads = ath_threads(threads);
	size_t R = degree, N = n ? n : 1, RMAX = 1024;
	build b = {.p = points, .n = n, .d = d, .R = R, .ef = ef};
	a->on = 1;
	a->space = *s;
	a->degree = R;
	a->ef_construction = ef;
	a->seed = seed;
	a->nentry = entry_count(n);
	a->int8 = int8 != 0;
	a->cstride = (d + 3) / 4 * 4;
	a->adj = a->owned_adj = malloc(N * R * sizeof *a->owned_adj);
	a->entry = a->owned_entry = malloc((a->nentry ? a->nentry : 1) *
					   sizeof *a->owned_entry);
	b.order = malloc(N * sizeof *b.order);
	b.a = malloc(N * sizeof *b.a);
	b.bd = malloc(N * R * sizeof *b.bd);
	b.deg = calloc(N, sizeof *b.deg);
	b.sel = malloc(RMAX * R * sizeof *b.sel);
	b.seld = malloc(RMAX * R * sizeof *b.seld);
	b.nsel = malloc(RMAX * sizeof *b.nsel);
	b.scr = calloc(threads, sizeof *b.scr);
	b.heaps = calloc(threads, sizeof *b.heaps);
	b.hbuf = malloc(threads * ef * sizeof *b.hbuf);
	b.pruned = malloc(threads * ef * sizeof *b.pruned);
	int ok = a->owned_adj && a->owned_entry && b.order && b.a && b.bd &&
		 b.deg && b.sel && b.seld && b.nsel && b.scr && b.heaps &&
		 b.hbuf && b.pruned;
	for (size_t t = 0; ok && t < threads; t++) {
		ok = scratch_init(&b.scr[t], n) == 0;
		b.heaps[t] = (ath_heap){b.hbuf + t * ef, 0, ef};
	}
	if (ok && a->int8) {
		a->scale = a->owned_scale = malloc((d ? d : 1) * sizeof(float));
		a->codes = a->owned_codes = malloc(N * a->cstride);
		ok = a->owned_scale && a->owned_codes;
	} else if (ok) {
		a->rows = a->owned_rows = malloc(N * d * sizeof(float));
		ok = a->owned_rows != NULL;
	}
	if (!ok) {
		build_free(&b, threads);
		ath_ann_free(a);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory for the graph "
				 "of %zu products", fn, n);
	}
	b.adj = a->owned_adj;
	for (size_t i = 0; i < n * R; i++)
		a->owned_adj[i] = ATH_ANN_NONE;
	double cc = s->kind == GEO_HYPERBOLIC ? s->c : 0.0;
	for (size_t i = 0; i < n; i++) {
		double x2 = 0.0;
		for (size_t k = 0; k < d; k++)
			x2 += (double)points[i * d + k] * points[i * d + k];
		double den = 1.0 - cc * x2;
		b.a[i] = (float)(1.0 / (den > GEO_MIN_NORM ? den : GEO_MIN_NORM));
	}
	/* the insertion order: a seeded Fisher-Yates shuffle */
	uint64_t st = seed;
	for (size_t i = 0; i < n; i++)
		b.order[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(splitmix(&st) % i);
		uint32_t x = b.order[i - 1];
		b.order[i - 1] = b.order[j];
		b.order[j] = x;
	}
	for (size_t t0 = 1; t0 < n && !b.oom;) {
		size_t t1 = t0 + round_size(t0);
		if (t1 > n)
			t1 = n;
		b.t0 = t0;
		/* a pool for a round of a few nodes costs more than it saves */
		ath_parallel_for(t1 - t0, t1 - t0 >= 64 ? threads : 1,
				 insert_search, &b);
		for (size_t t = t0; t < t1 && !b.oom; t++)
			link(&b, t - t0, b.order[t]);
		t0 = t1;
	}
	for (size_t e = 0; e < a->nentry; e++)
		a->owned_entry[e] = b.order[e];
	build_free(&b, threads);
	free(b.order);
	/* a node's list is nearest first from here on only where link() left
	 * it so; connect_all needs no more than a reached neighbour */
	for (int pass = 0; pass < 4 && !b.oom && n; pass++) {
		size_t fixed = connect_all(a->owned_adj, n, R, a->owned_entry,
					   a->nentry);
		b.oom = fixed == (size_t)-1;
		if (!fixed)
			break;
	}
	if (b.oom) {
		ath_ann_free(a);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory while building "
				 "the graph", fn);
	}
	if (a->int8)
		return ath_quant_build(s, points, n, d, a->cstride,
				       a->owned_scale, a->owned_codes);
	memcpy(a->owned_rows, points, n * d * sizeof(float));
	return ANTHEM_OK;
}

/* ---- the stage-1 points -------------------------------------------------------- */

void ath_ann_point(const ath_ann *a, size_t d, size_t i, float *out)
{
	if (a->int8)
		ath_quant_decode(&a->space, a->codes + i * a->cstride, a->scale,
				 d, out);
	else
		memcpy(out, a->rows + i * d, d * sizeof *out);
}

/* ---- search --------------------------------------------------------------------- */

typedef struct region_ctx {
	const ath_ann *a;
	const ath_scan_query *q;
} region_ctx;

static float region_dist(const void *ctx, size_t node)
{
	const region_ctx *r = ctx;
	float v[ATH_SCAN_MAX_DIM];
	size_t d = r->q->d;
	ath_ann_point(r->a, d, node, v);
	double v2 = 0.0;
	for (size_t k = 0; k < d; k++)
		v2 += (double)v[k] * v[k];
	float x = ath_scan_one(r->q, v, v2);
	return isnan(x) ? INFINITY : x;
}

/* The graph's point distance to the region's centre (|c - x|^2 a_c a_x,
 * the order of the Poincaré distance: see the top of this file). */
static float centre_dist(const void *ctx, size_t node)
{
	const region_ctx *r = ctx;
	float v[ATH_SCAN_MAX_DIM];
	size_t d = r->q->d;
	ath_ann_point(r->a, d, node, v);
	double e2 = 0.0, v2 = 0.0;
	for (size_t k = 0; k < d; k++) {
		double e = (double)v[k] - r->q->c[k];
		e2 += e * e;
		v2 += (double)v[k] * v[k];
	}
	double cc = r->q->cc, dv = 1.0 - cc * v2, dc = 1.0 - cc * r->q->c2;
	dv = dv > GEO_MIN_NORM ? dv : GEO_MIN_NORM;
	dc = dc > GEO_MIN_NORM ? dc : GEO_MIN_NORM;
	return (float)(e2 / (dv * dc));
}

int ath_ann_search(const ath_ann *a, const ath_scan_query *q, size_t n,
		   const float *blocks, const float *n2, size_t k, size_t ef,
		   float *work, anthem_hit *out, size_t *nout,
		   ath_ann_stats *st, const char *fn)
{
	*nout = 0;
	if (ef < k)
		ef = k;
	if (ef > n)
		ef = n;
	beam_scratch s;
	anthem_hit *buf = malloc((ef ? ef : 1) * sizeof *buf);
	if (scratch_init(&s, n) || !buf) {
		scratch_free(&s);
		free(buf);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	ath_heap res = {buf, 0, ef};
	region_ctx ctx = {a, q};
	/* phase 1: the ef points nearest the region's centre by the graph's
	 * own (point) distance, which the graph was built to descend */
	size_t nd = beam(a->adj, a->degree, a->entry, a->nentry, centre_dist,
			 &ctx, &s, &res);
	/* phase 2: from those, the beam by the region's distance */
	uint32_t *seeds = malloc((res.n ? res.n : 1) * sizeof *seeds);
	size_t ns = res.n, nd2 = 0;
	for (size_t i = 0; seeds && i < ns; i++)
		seeds[i] = (uint32_t)res.h[i].index;
	if (nd != (size_t)-1 && seeds)
		nd2 = beam(a->adj, a->degree, seeds, ns, region_dist, &ctx, &s,
			   &res);
	free(seeds);
	scratch_free(&s);
	if (nd == (size_t)-1 || nd2 == (size_t)-1 || !seeds) {
		free(buf);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	nd += nd2;
	/* re-scored by the scan's loop: the same float as the exact scan */
	ath_heap top = {out, 0, k};
	for (size_t i = 0; i < res.n; i++)
		ath_heap_push(&top, res.h[i].index,
			      ath_scan_at(q, blocks, n2, res.h[i].index, work));
	ath_heap_sort(&top);
	*nout = top.n;
	if (st) {
		st->distances = nd + res.n;
		st->rescored = res.n;
	}
	free(buf);
	return ANTHEM_OK;
}

int ath_ann_check(const ath_ann *a, size_t n, size_t *bad)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < a->degree; j++) {
			uint32_t u = a->adj[i * a->degree + j];
			if (u != ATH_ANN_NONE && (u >= n || u == i)) {
				*bad = i;
				return -1;
			}
		}
	for (size_t e = 0; e < a->nentry; e++)
		if (a->entry[e] >= n) {
			*bad = a->entry[e];
			return -1;
		}
	return 0;
}
