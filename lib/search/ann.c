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
 * their lists (a full list of R + 1 drops the one the same heuristic
 * would fill in last: the farthest it prunes, else the farthest).
 * Insertions run in rounds: the searches of a round run in parallel
 * against the graph as the previous rounds left it, then the round's
 * reverse edges, sorted by target and insertion order, update each
 * target's list in parallel (link_target), which makes the graph linking
 * in insertion order would: it depends on the seed only, never on the
 * number of threads.
 *
 * Between points the graph needs only the order of the Poincaré distance
 * d(x, y) = arcosh(1 + 2c|x - y|^2 / ((1 - c|x|^2)(1 - c|y|^2))) / sqrt(c),
 * so it ranks by |x - y|^2 a_x a_y with a_x = 1 / (1 - c|x|^2), which is
 * increasing in d (|x - y|^2 in flat space).
 *
 * Search: a query's region (c, l) has no point to start a greedy descent
 * from, so the beam starts from all the entry points (the first nodes
 * inserted, a uniform sample of about sqrt(n), at most 1024) and keeps the
 * ef nearest to the region by the scan's distance (in float, 16 nodes per
 * call through the scan's own block loop, scan_loop.c); the best 2k of them
 * are re-scored by the scan's float loop (ath_scan_at) and the best k
 * returned. */
#include "search/ann_loop.h"
#include "search/scan_loop.h"
#include "search/ann.h"

#include "common/internal.h"
#include "common/isa.h"
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

/* ---- the beam's frontier and visited set --------------------------------------- */

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
static inline int visit(beam_scratch *s, size_t u)
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

/* ---- distances, 16 nodes at a time -------------------------------------------- */

/* A beam computes the distances of the unvisited neighbours of the node it
 * expands all at once, in one call through a function pointer (none per
 * distance): their points are first all asked for (in a large catalogue
 * each is a cache miss, and the misses then overlap), then gathered 16 at
 * a time into a block of d rows of 16 (row k = dimension k of the 16
 * nodes, as the scan's layout, scan.h), so that each node's scalars are
 * the lanes of one vector and no loop needs a horizontal sum. */
#define W 16
#define INLINE static inline __attribute__((always_inline))

/* m <= ATH_ANN_MAX_DEGREE distances of nodes ids into out. */
typedef void (*dist_fn)(const void *ctx, const uint32_t *ids, size_t m,
			float *out);

/* Ask for the m nodes' stage-1 points before any is read. */
INLINE void prefetch(const ath_ann *a, size_t d, const uint32_t *ids, size_t m)
{
	for (size_t j = 0; j < m; j++) {
		const char *p = a->int8 ? (const char *)(a->codes + (size_t)ids[j] * a->cstride)
				       : (const char *)(a->rows + (size_t)ids[j] * d);
		size_t len = a->int8 ? a->cstride : d * sizeof(float);
		for (size_t o = 0; o < len; o += 64)
			__builtin_prefetch(p + o);
	}
}

/* The query region in float: the scan's distance (ath_scan_one, scan.c)
 * with each node in a lane. */
typedef struct fregion {
	const ath_ann *a;
	float sc;
	fquery fq;
	ath_scan_block_fn block;
	ath_scan_gathered8_fn block8;
} fregion;

static void fregion_init(fregion *f, const ath_ann *a, const ath_scan_query *q,
			 float *work)
{
	f->a = a;
	f->sc = (float)sqrt(q->cc);
	ath_scan_fquery(q, work, &f->fq);
	f->fq.dscale = a->scale;
	f->block = ath_scan_block_kernel();
	f->block8 = ath_scan_gathered8_kernel();
}

/* 16 of the nodes (m <= 16; the rest of the block repeats the first)
 * through the scan's own loops (the level's copy, scan_loop.c): float
 * rows copied into a block, int8 codes moved into one as words and
 * decoded by the loop (ath_scan_gathered8).  A NaN (a point the region
 * cannot place) ranks last. */
static void region16(const fregion *f, const uint32_t *ids, size_t m,
		     float *out)
{
	const ath_ann *a = f->a;
	size_t d = f->fq.d;
	float r[W];
	if (a->int8) {
		/* four codes to a word (a row is cstride bytes, d rounded up
		 * to 4, zero-padded): 8 stores a node at d = 32, not 32 */
		int32_t cb[ATH_SCAN_MAX_DIM / 4 * W + W] __attribute__((aligned(64)));
		size_t nw = (d + 3) / 4;
		for (size_t j = 0; j < W; j++) {
			const int8_t *code = a->codes +
					     (size_t)ids[j < m ? j : 0] * a->cstride;
			for (size_t g = 0; g < nw; g++)
				memcpy(&cb[g * W + j], code + 4 * g, 4);
		}
		f->block8(&f->fq, cb, f->sc, r);
	} else {
		float blk[ATH_SCAN_MAX_DIM * W] __attribute__((aligned(64)));
		float n2[W];
		for (size_t j = 0; j < W; j++) {
			const float *x = a->rows + (size_t)ids[j < m ? j : 0] * d;
			for (size_t k = 0; k < d; k++)
				blk[k * W + j] = x[k];
		}
		ath_scan_norms(blk, W, d, n2);
		f->block(&f->fq, blk, n2, r);
	}
	for (size_t j = 0; j < m; j++)
		out[j] = r[j] == r[j] ? r[j] : INFINITY;
}

static void region(const void *ctx, const uint32_t *ids, size_t m, float *out)
{
	const fregion *f = ctx;
	prefetch(f->a, f->fq.d, ids, m);
	for (size_t j = 0; j < m; j += W)
		region16(f, ids + j, m - j < W ? m - j : W, out + j);
}

/* ---- the beam ---------------------------------------------------------------- */

/* Offer the m nodes of ids (m <= ATH_ANN_MAX_DEGREE), all unvisited until
 * now, to the frontier and the result. */
static int offer(const uint32_t *ids, size_t m, dist_fn dist, const void *ctx,
		 beam_scratch *s, ath_heap *res)
{
	float dd[ATH_ANN_MAX_DEGREE];
	dist(ctx, ids, m, dd);
	for (size_t j = 0; j < m; j++)
		if (res->n < res->k || dd[j] < res->h[0].distance) {
			if (front_push(&s->f, ids[j], dd[j]))
				return -1;
			ath_heap_push(res, ids[j], dd[j]);
		}
	return 0;
}

/* The beam search: res (an ath_heap of capacity ef, emptied first) gets
 * the ef nodes nearest by dist among those reached from the entries.
 * Returns the distances computed, or (size_t)-1 when out of memory. */
static size_t beam(const uint32_t *adj, size_t R, const uint32_t *entry,
		   size_t nentry, dist_fn dist, const void *ctx,
		   beam_scratch *s, ath_heap *res)
{
	size_t nd = 0, m;
	uint32_t ids[ATH_ANN_MAX_DEGREE];
	int oom = 0;
	res->n = 0;
	s->f.n = 0;
	for (size_t e = 0; e < nentry && !oom;) {
		for (m = 0; e < nentry && m < ATH_ANN_MAX_DEGREE && !oom; e++) {
			int v = visit(s, entry[e]);
			oom = v < 0;
			if (v > 0)
				ids[m++] = entry[e];
		}
		if (m && !oom) {
			oom = offer(ids, m, dist, ctx, s, res);
			nd += m;
		}
	}
	while (s->f.n && !oom) {
		anthem_hit c = front_pop(&s->f);
		if (res->n == res->k && c.distance > res->h[0].distance)
			break;
		/* the node expanded next is most often the frontier's best
		 * now: its list (a cache miss in a large graph) is asked for
		 * while this one's neighbours are measured */
		if (s->f.n) {
			const uint32_t *nx = adj + s->f.h[0].index * R;
			for (size_t o = 0; o < R * sizeof *nx; o += 64)
				__builtin_prefetch((const char *)nx + o);
		}
		const uint32_t *nb = adj + c.index * R;
		m = 0;
		for (size_t j = 0; j < R && !oom; j++) {
			uint32_t u = nb[j];
			if (u == ATH_ANN_NONE)
				continue;
			int v = visit(s, u);
			oom = v < 0;
			if (v > 0)
				ids[m++] = u;
		}
		if (m && !oom) {
			oom = offer(ids, m, dist, ctx, s, res);
			nd += m;
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
	float *kblk;       /* per thread: kept points, kstride floats each */
	size_t kstride;    /* (R + 1 rounded up to W) x d, then as many a's */
	struct redge *re;  /* the round's reverse edges */
	size_t nre;
	size_t *grp;       /* where each target's run of re starts, and nre */
	size_t ngrp;
	int oom;
} build;

/* A reverse edge of a round: new node v (the round's slot-th) into u's
 * list, at the pair distance dv. */
typedef struct redge {
	uint32_t u, slot, v;
	float dv;
} redge;

typedef struct pair_ctx {
	const build *b;
	size_t v;
} pair_ctx;

/* The graph's distance from node v to each of ids (m <= the degree), all
 * prefetched first, then 16 at a time. */
#define PAIR(level)                                                          \
	static void pair_##level(const void *ctx, const uint32_t *ids,       \
				 size_t m, float *out)                       \
	{                                                                    \
		const pair_ctx *c = ctx;                                     \
		const build *b = c->b;                                       \
		size_t d = b->d;                                             \
		float blk[ATH_SCAN_MAX_DIM * W] __attribute__((aligned(64))); \
		float a[W], r[W];                                            \
		for (size_t j = 0; j < m; j++)                               \
			for (size_t o = 0; o < d * sizeof(float); o += 64)   \
				__builtin_prefetch(                          \
					(const char *)(b->p + (size_t)ids[j] * d) + o); \
		for (size_t j0 = 0; j0 < m; j0 += W) {                       \
			size_t mm = m - j0 < W ? m - j0 : W;                 \
			for (size_t j = 0; j < W; j++) {                     \
				uint32_t i = ids[j0 + (j < mm ? j : 0)];     \
				const float *x = b->p + (size_t)i * d;       \
				for (size_t k = 0; k < d; k++)               \
					blk[k * W + j] = x[k];               \
				a[j] = b->a[i];                              \
			}                                                    \
			ath_ann_pair_##level(blk, d, b->p + c->v * d, a,     \
					     b->a[c->v], r);                 \
			for (size_t j = 0; j < mm; j++)                      \
				out[j0 + j] = r[j];                          \
		}                                                            \
	}

/* One copy of the graph's pair distance per x86-64 level (ann_loop.c), as
 * the scan's (lib/common/isa.h, lib/search/scan_loop.c). */
typedef void (*pair_fn)(const float *blk, size_t d, const float *y,
			const float *a, float ay, float *out);
typedef struct ann_kernel {
	dist_fn pair;
	pair_fn loop;
} ann_kernel;

PAIR(base)
#if defined(ATH_HAVE_TARGET_LEVELS)
PAIR(v3)
PAIR(v4)
static const ann_kernel kernels[] = {
	[ATH_ISA_DEFAULT] = {pair_base, ath_ann_pair_base},
	[ATH_ISA_V3] = {pair_v3, ath_ann_pair_v3},
	[ATH_ISA_V4] = {pair_v4, ath_ann_pair_v4},
};
#else
static const ann_kernel kernels[] = {
	[ATH_ISA_DEFAULT] = {pair_base, ath_ann_pair_base}};
#endif

static const ann_kernel *kernel(void)
{
	return &kernels[ath_isa_level()];
}

/* The neighbour heuristic's kept list: the points of the nodes kept so far
 * gathered once, column by column as each is kept, into blocks of d rows
 * of W (ann_loop.h's layout), and their a's; each test against it is then
 * one loop call per W kept nodes, with no gather. */
typedef struct kept_set {
	const build *b;
	float *blk; /* ceil((R + 1) / W) blocks of d x W */
	float *a;   /* R + 1 rounded up to W */
	size_t nk;
} kept_set;

static kept_set kept_init(const build *b, size_t tid)
{
	float *k = b->kblk + tid * b->kstride;
	return (kept_set){b, k, k + b->kstride - (b->R + W) / W * W, 0};
}

/* Keep node w.  A block's first column is copied into all W so that no
 * lane is ever read uninitialised. */
static void kept_add(kept_set *ks, uint32_t w)
{
	const build *b = ks->b;
	size_t d = b->d, j = ks->nk % W;
	float *blk = ks->blk + ks->nk / W * d * W;
	const float *x = b->p + (size_t)w * d;
	for (size_t c = j; c < (j ? j + 1 : W); c++) {
		for (size_t k = 0; k < d; k++)
			blk[k * W + c] = x[k];
		ks->a[ks->nk - j + c] = b->a[w];
	}
	ks->nk++;
}

/* Whether one of the kept nodes is nearer to w than dw (the neighbour
 * heuristic's test), W distances at a time: the same arithmetic, lane for
 * lane, as pair_##level with w as the query. */
static int nearer_than(const kept_set *ks, uint32_t w, float dw)
{
	const build *b = ks->b;
	size_t d = b->d;
	const float *y = b->p + (size_t)w * d;
	float dd[W];
	for (size_t r = 0; r < ks->nk; r += W) {
		size_t m = ks->nk - r < W ? ks->nk - r : W;
		kernel()->loop(ks->blk + r / W * d * W, d, y, ks->a + r,
			       b->a[w], dd);
		for (size_t j = 0; j < m; j++)
			if (dd[j] < dw)
				return 1;
	}
	return 0;
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
	if (beam(b->adj, R, b->order, ne, kernel()->pair, &ctx, &b->scr[tid], res) ==
	    (size_t)-1) {
		b->oom = 1; /* read after the round */
		return;
	}
	ath_heap_sort(res);
	uint32_t *sel = b->sel + slot * R;
	float *seld = b->seld + slot * R;
	size_t ns = 0, np = 0;
	size_t *pruned = b->pruned + tid * b->ef;
	kept_set ks = kept_init(b, tid);
	for (size_t i = 0; i < res->n && ns < R; i++) {
		size_t w = res->h[i].index;
		float dw = res->h[i].distance;
		if (!nearer_than(&ks, (uint32_t)w, dw)) {
			kept_add(&ks, (uint32_t)w);
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

/* Node u's full list offered node v at distance dv: of the R + 1, the one
 * dropped is the one the neighbour heuristic would fill in last (the
 * farthest it prunes, else the farthest), so that the list keeps its
 * edges in different directions (HNSW shrinks a full list so). */
static void overflow(build *b, size_t tid, size_t u, uint32_t v, float dv)
{
	size_t R = b->R, ord[ATH_ANN_MAX_DEGREE + 1];
	uint32_t *au = b->adj + u * R;
	kept_set ks = kept_init(b, tid);
	float *du = b->bd + u * R;
	/* candidates 0 .. R-1 the list, R the new node; by distance */
	for (size_t i = 0; i <= R; i++) {
		float di = i < R ? du[i] : dv;
		size_t j = i;
		for (; j > 0 && (ord[j - 1] < R ? du[ord[j - 1]] : dv) > di; j--)
			ord[j] = ord[j - 1];
		ord[j] = i;
	}
	size_t drop = ord[R];
	for (size_t i = 0; i <= R; i++) {
		size_t c = ord[i];
		uint32_t w = c < R ? au[c] : v;
		float dw = c < R ? du[c] : dv;
		if (nearer_than(&ks, w, dw))
			drop = c;
		else
			kept_add(&ks, w);
	}
	if (drop < R) {
		au[drop] = v;
		du[drop] = dv;
	}
}

/* The round's new nodes' own lists (their searches' choice), and their
 * reverse edges sorted by target, then by insertion order. */
static int redge_cmp(const void *x, const void *y)
{
	const redge *p = x, *q = y;
	if (p->u != q->u)
		return p->u < q->u ? -1 : 1;
	return (p->slot > q->slot) - (p->slot < q->slot);
}

static void link_own(build *b, size_t nslots)
{
	size_t R = b->R;
	b->nre = 0;
	for (size_t slot = 0; slot < nslots; slot++) {
		size_t v = b->order[b->t0 + slot];
		const uint32_t *sel = b->sel + slot * R;
		const float *seld = b->seld + slot * R;
		for (size_t j = 0; j < b->nsel[slot]; j++) {
			b->adj[v * R + j] = sel[j];
			b->bd[v * R + j] = seld[j];
			b->re[b->nre++] = (redge){sel[j], (uint32_t)slot,
						  (uint32_t)v, seld[j]};
		}
		b->deg[v] = b->nsel[slot];
	}
	qsort(b->re, b->nre, sizeof *b->re, redge_cmp);
	b->ngrp = 0;
	for (size_t i = 0; i < b->nre; i++)
		if (i == 0 || b->re[i].u != b->re[i - 1].u)
			b->grp[b->ngrp++] = i;
	b->grp[b->ngrp] = b->nre;
}

/* Target g's reverse edges in insertion order: a free slot takes the new
 * node, a full list runs overflow().  A round's new nodes are never targets
 * (no search of the round reached them), each target's list is its own and
 * overflow() reads only points: the targets are independent, and the graph
 * is the one linking node by node in insertion order would make, whatever
 * the thread count. */
static void link_target(size_t g, size_t tid, void *arg)
{
	build *b = arg;
	size_t R = b->R;
	for (size_t i = b->grp[g]; i < b->grp[g + 1]; i++) {
		const redge *e = &b->re[i];
		size_t u = e->u;
		if (b->deg[u] < R) {
			b->adj[u * R + b->deg[u]] = e->v;
			b->bd[u * R + b->deg[u]++] = e->dv;
		} else {
			overflow(b, tid, u, e->v, e->dv);
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
	free(b->kblk);
	free(b->re);
	free(b->grp);
}

int ath_ann_build(ath_ann *a, const geo_space *s, const float *points,
		  size_t n, size_t d, size_t degree, size_t ef, uint64_t seed,
		  int int8, size_t threads,
		  void (*progress)(size_t, size_t, void *), void *user,
		  const char *fn)
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
	b.kstride = (R + W) / W * W * (d + 1);
	b.kblk = aligned_alloc(64, (threads * b.kstride * sizeof(float) + 63) /
					   64 * 64);
	b.re = malloc(RMAX * R * sizeof *b.re);
	b.grp = malloc((RMAX * R + 1) * sizeof *b.grp);
	int ok = a->owned_adj && a->owned_entry && b.order && b.a && b.bd &&
		 b.deg && b.sel && b.seld && b.nsel && b.scr && b.heaps &&
		 b.hbuf && b.pruned && b.kblk && b.re && b.grp;
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
		size_t nt = t1 - t0 >= 64 ? threads : 1;
		ath_parallel_for(t1 - t0, nt, insert_search, &b);
		if (!b.oom) {
			link_own(&b, t1 - t0);
			ath_parallel_for(b.ngrp, nt, link_target, &b);
		}
		t0 = t1;
		if (progress && !b.oom && t1 < n)
			progress(t1, n, user);
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
	int rc = ANTHEM_OK;
	if (a->int8)
		rc = ath_quant_build(s, points, n, d, a->cstride,
				     a->owned_scale, a->owned_codes);
	else
		memcpy(a->owned_rows, points, n * d * sizeof(float));
	if (!rc && progress)
		progress(n, n, user);
	return rc;
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
	fregion *fq = malloc(sizeof *fq);
	if (scratch_init(&s, n) || !buf || !fq) {
		scratch_free(&s);
		free(buf);
		free(fq);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	fregion_init(fq, a, q, work);
	ath_heap res = {buf, 0, ef};
	/* the beam by the region's distance from the entries (a first beam
	 * to the region's centre by the graph's own point distance found no
	 * better start: bench/ann/ann --diag, docs/performance.md) */
	size_t nd = beam(a->adj, a->degree, a->entry, a->nentry,
			 region, fq, &s, &res);
	scratch_free(&s);
	free(fq);
	if (nd == (size_t)-1) {
		free(buf);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	/* the best 2k by the beam's float distance re-scored by the scan's
	 * loop (the same float as the exact scan): the two differ by
	 * rounding only, far less than the gap from the k-th to the 2k-th,
	 * and a wide beam (ef >> k) then costs no more re-scoring */
	ath_heap_sort(&res);
	size_t nr = res.n < 2 * k ? res.n : 2 * k;
	ath_scan_rescore(q, blocks, n2, res.h, nr, k, work, out, nout);
	if (st) {
		st->distances = nd + nr;
		st->rescored = nr;
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
