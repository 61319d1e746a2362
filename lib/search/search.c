/* Indexes (product points + ids + titles, in a container file) and the
 * two-stage search of DESIGN.md. */
#include "search/rank.h"
#include "search/scan.h"

#include "common/internal.h"
#include "common/parallel.h"
#include "io/container.h"
#include "io/tsv.h"
#include "layers/lexical.h"
#include "model/model.h"

#include <anthem/search.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdatomic.h>

static const char index_magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'I', 'X'};

struct anthem_index {
	size_t n, dim;
	/* the points in the scan's layout (scan.h): mapped from a file, or
	 * owned (built, or converted from a version-1 file) */
	const float *blocks;
	float *owned_blocks;
	float *norm2;         /* squared norms, one per block lane */
	/* the row-major set, made on the first anthem_index_vectors */
	_Atomic(anthem_vectors *) vec;
	/* ids and titles: "id\0title\0" per product, found through one
	 * offset per product (4 bytes while the strings fit in 4 GiB, not two
	 * pointers: at d = 16 those would be a quarter of the index) */
	char *strings;
	uint32_t *off32;
	uint64_t *off64;
	uint64_t model_fp;
	ath_container *file;  /* when loaded */
	/* the titles' word postings, for the lexical term of the model the
	 * index was built or loaded with (step 8; empty otherwise) */
	ath_postings post;
	uint64_t post_seed;
};

/* The index layout version (the "index.version" key; files without it are
 * version 1: row-major "points").  Version 2 stores the blocked "blocks". */
#define INDEX_VERSION 2

/* Threads one scan or rerank starts at most, whatever is asked: each
 * costs a heap of k hits, and a huge request must not become a huge
 * allocation or thousands of threads. */
#define MAX_THREADS 256

void anthem_index_free(anthem_index *ix)
{
	if (!ix)
		return;
	anthem_vectors_free(atomic_load(&ix->vec));
	free(ix->norm2);
	free(ix->owned_blocks);
	free(ix->strings);
	free(ix->off32);
	free(ix->off64);
	ath_postings_free(&ix->post);
	if (ix->file) {
		ath_container_close(ix->file);
		free(ix->file);
	}
	free(ix);
}

static const char *id_of(const anthem_index *ix, size_t i)
{
	return ix->strings + (ix->off32 ? ix->off32[i] : ix->off64[i]);
}

static const char *title_of(const anthem_index *ix, size_t i)
{
	const char *id = id_of(ix, i);
	return id + strlen(id) + 1;
}

/* Room for the strings (total bytes, NULs included) and the offsets. */
/* The postings of the titles, for a model with the lexical term. */
static int set_postings(anthem_index *ix, const anthem_model *m,
			const char *fn)
{
	if (!m || !ath_lex_on(&m->cfg))
		return ANTHEM_OK;
	const char **titles = malloc((ix->n ? ix->n : 1) * sizeof *titles);
	if (!titles)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t i = 0; i < ix->n; i++)
		titles[i] = title_of(ix, i);
	int rc = ath_postings_build(&ix->post, &m->cfg, titles, ix->n, fn);
	free(titles);
	ix->post_seed = ath_lex_seed(&m->cfg);
	return rc;
}

static int alloc_strings(anthem_index *ix, size_t total, const char *fn)
{
	ix->strings = malloc(total ? total : 1);
	if (total <= UINT32_MAX)
		ix->off32 = malloc((ix->n ? ix->n : 1) * sizeof *ix->off32);
	else
		ix->off64 = malloc((ix->n ? ix->n : 1) * sizeof *ix->off64);
	if (!ix->strings || (!ix->off32 && !ix->off64))
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	return ANTHEM_OK;
}

static void set_offset(anthem_index *ix, size_t i, size_t off)
{
	if (ix->off32)
		ix->off32[i] = (uint32_t)off;
	else
		ix->off64[i] = off;
}

size_t anthem_index_count(const anthem_index *ix) { return ix ? ix->n : 0; }
size_t anthem_index_dim(const anthem_index *ix) { return ix ? ix->dim : 0; }

const char *anthem_index_id(const anthem_index *ix, size_t i)
{
	return ix && i < ix->n ? id_of(ix, i) : NULL;
}

const char *anthem_index_title(const anthem_index *ix, size_t i)
{
	return ix && i < ix->n ? title_of(ix, i) : NULL;
}

/* Made once, on demand: the scan does not need it, and an index that is
 * only searched keeps one copy of its points.  Threads racing here both
 * build it; one wins, the other frees its copy. */
const anthem_vectors *anthem_index_vectors(const anthem_index *ix)
{
	static const char fn[] = "anthem_index_vectors";
	if (!ix)
		return NULL;
	anthem_vectors *v = atomic_load(&((anthem_index *)ix)->vec);
	if (v)
		return v;
	float *pts = malloc((ix->n ? ix->n : 1) * ix->dim * sizeof *pts);
	if (!pts) {
		ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		return NULL;
	}
	ath_scan_from_blocks(ix->blocks, 0, ix->n, ix->dim, pts);
	int rc = anthem_vectors_copy(&v, ix->n, ix->dim, pts);
	free(pts);
	if (rc)
		return NULL;
	anthem_vectors *expected = NULL;
	if (!atomic_compare_exchange_strong(&((anthem_index *)ix)->vec,
					    &expected, v)) {
		anthem_vectors_free(v);
		v = expected;
	}
	return v;
}

void ath_index_points(const anthem_index *ix, float *out)
{
	ath_scan_from_blocks(ix->blocks, 0, ix->n, ix->dim, out);
}

uint64_t anthem_index_model_fingerprint(const anthem_index *ix)
{
	return ix ? ix->model_fp : 0;
}

/* Memory that the scan streams (size: a multiple of 64 bytes).  Large
 * arrays are aligned to 2 MiB and offered to transparent huge pages: with
 * 4 KiB pages a 1M x 32 scan took 21 ms of CPU, with huge pages 15 ms (TLB
 * misses and prefetches stopped at every page boundary). */
static void *scan_alloc(size_t size)
{
	const size_t huge = (size_t)2 << 20;
	if (size < 2 * huge)
		return aligned_alloc(64, size);
	void *p = aligned_alloc(huge, (size + huge - 1) / huge * huge);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, (size + huge - 1) / huge * huge, MADV_HUGEPAGE);
#endif
	return p;
}

/* Squared norms for the scan; also where a loaded file's points are checked
 * (finite, so that no NaN reaches a ranking). */
static int set_norms(anthem_index *ix, const char *what, const char *fn)
{
	size_t lanes = ath_scan_block_floats(ix->n, 1);
	ix->norm2 = scan_alloc((lanes ? lanes : ATH_SCAN_BLOCK) * sizeof *ix->norm2);
	if (!ix->norm2)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	size_t bad = ath_scan_norms(ix->blocks, ix->n, ix->dim, ix->norm2);
	if (bad < ix->n)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: point %zu is not "
				 "finite", fn, what, bad);
	return ANTHEM_OK;
}

/* Owned blocks for n products of ix->dim, from row-major points. */
static int set_blocks(anthem_index *ix, const float *points, const char *fn)
{
	size_t floats = ath_scan_block_floats(ix->n, ix->dim);
	ix->owned_blocks = scan_alloc((floats ? floats : ATH_SCAN_BLOCK) *
				      sizeof(float));
	if (!ix->owned_blocks)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_scan_to_blocks(points, ix->n, ix->dim, ix->owned_blocks);
	ix->blocks = ix->owned_blocks;
	return ANTHEM_OK;
}

static int set_strings(anthem_index *ix, const char *const *ids,
		       const char *const *titles, const char *fn)
{
	size_t total = 0;
	for (size_t i = 0; i < ix->n; i++)
		total += strlen(ids[i]) + strlen(titles[i]) + 2;
	int rc = alloc_strings(ix, total, fn);
	for (size_t i = 0, at = 0; !rc && i < ix->n; i++) {
		size_t a = strlen(ids[i]) + 1, b = strlen(titles[i]) + 1;
		set_offset(ix, i, at);
		memcpy(ix->strings + at, ids[i], a);
		memcpy(ix->strings + at + a, titles[i], b);
		at += a + b;
	}
	return rc;
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
	/* embedded row-major, kept in blocks only (the row-major set is made
	 * again if anyone asks for it) */
	float *points = malloc((ix->n ? ix->n : 1) * ix->dim * sizeof(float));
	int rc = points ? ANTHEM_OK
			: ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc) {
		build_ctx b = {m, c, points, 0, ""};
		ath_parallel_for(ix->n, threads, embed, &b);
		if (b.rc)
			rc = ath_error(b.rc, "%s", b.error);
	}
	if (!rc)
		rc = set_blocks(ix, points, fn);
	free(points);
	if (!rc)
		rc = set_strings(ix, c->ids, c->titles, fn);
	if (!rc)
		rc = set_norms(ix, "index", fn);
	if (!rc)
		rc = set_postings(ix, m, fn);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
	return ANTHEM_OK;
}

int ath_index_from_points(anthem_index **out, const float *points, size_t n,
			  size_t d)
{
	static const char fn[] = "ath_index_from_points";
	*out = NULL;
	anthem_index *ix = calloc(1, sizeof *ix);
	const char **empty = calloc(n ? n : 1, sizeof *empty);
	int rc = ix && empty ? ANTHEM_OK
			     : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t i = 0; !rc && i < n; i++)
		empty[i] = "";
	if (ix) {
		ix->n = n;
		ix->dim = d;
	}
	if (!rc)
		rc = set_blocks(ix, points, fn);
	if (!rc)
		rc = set_strings(ix, empty, empty, fn);
	if (!rc)
		rc = set_norms(ix, "points", fn);
	free(empty);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
	return ANTHEM_OK;
}

/* "a\nb\nc\n" of the ids (title = 0) or the titles (title = 1); none
 * contains a newline */
static char *join(const anthem_index *ix, int title)
{
	size_t total = 1;
	for (size_t i = 0; i < ix->n; i++)
		total += strlen(title ? title_of(ix, i) : id_of(ix, i)) + 1;
	char *buf = malloc(total), *p = buf;
	for (size_t i = 0; buf && i < ix->n; i++) {
		const char *s = title ? title_of(ix, i) : id_of(ix, i);
		size_t k = strlen(s);
		memcpy(p, s, k);
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
	char *ids = join(ix, 0), *titles = join(ix, 1);
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
			{.key = "index.version", .type = ATH_KV_U64,
			 .u = INDEX_VERSION},
			{.key = "index.block", .type = ATH_KV_U64,
			 .u = ATH_SCAN_BLOCK},
		};
		/* one row per block: its dim x 16 floats, used in place by a
		 * load */
		size_t nb = (ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK;
		ath_tensor t = {.name = "blocks", .rows = nb,
				.cols = ix->dim * ATH_SCAN_BLOCK,
				.data = ix->blocks};
		rc = ath_container_write(path, index_magic, kv, 7, &t, 1, fn);
	}
	free(ids);
	free(titles);
	return rc;
}

/* Let the kernel drop the pages wholly inside [p, p + len) of a mapped
 * file from this process (they are read again from the file if touched):
 * what was copied out of the file need not be resident twice. */
static void unmap_pages(const ath_container *f, const void *p, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	if (!f->map || page <= 0 || len == 0)
		return;
	uintptr_t a = (uintptr_t)p, pg = (uintptr_t)page;
	uintptr_t lo = (a + pg - 1) / pg * pg, hi = (a + len) / pg * pg;
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* The next entry of a newline-joined string kv at *at: copied to dst with
 * a NUL; returns the bytes written, or 0 if there is no entry or it holds a
 * NUL (a hostile file). */
static size_t next_line(const ath_kv *kv, size_t *at, char *dst)
{
	const char *p = kv->s + *at, *end = kv->s + kv->slen;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl || memchr(p, '\0', (size_t)(nl - p)))
		return 0;
	size_t len = (size_t)(nl - p);
	memcpy(dst, p, len);
	dst[len] = '\0';
	*at += len + 1;
	return len + 1;
}

/* The ids and titles of a file, interleaved into ix->strings; -1 unless
 * each holds exactly n entries. */
static int read_strings(anthem_index *ix, const ath_kv *ids,
			const ath_kv *titles)
{
	size_t ai = 0, at = 0, w = 0;
	for (size_t i = 0; i < ix->n; i++) {
		set_offset(ix, i, w);
		size_t a = next_line(ids, &ai, ix->strings + w);
		if (!a)
			return -1;
		size_t b = next_line(titles, &at, ix->strings + w + a);
		if (!b)
			return -1;
		w += a + b;
	}
	return ai == ids->slen && at == titles->slen ? 0 : -1;
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
	const ath_kv *ver = NULL, *blk = NULL;
	const ath_tensor *pts = NULL, *blocks = NULL;
	if (!rc) {
		cnt = ath_container_kv(f, "index.count");
		dim = ath_container_kv(f, "index.dim");
		fp = ath_container_kv(f, "index.model_fingerprint");
		ids = ath_container_kv(f, "index.ids");
		titles = ath_container_kv(f, "index.titles");
		ver = ath_container_kv(f, "index.version");
		blk = ath_container_kv(f, "index.block");
		pts = ath_container_tensor(f, "points");
		blocks = ath_container_tensor(f, "blocks");
		if (ver && ver->type == ATH_KV_U64 && ver->u > INDEX_VERSION)
			rc = ath_error(ANTHEM_EVERSION, "%s: %s: index version "
				       "%llu is newer than this libanthem's (%d)",
				       fn, path, (unsigned long long)ver->u,
				       INDEX_VERSION);
	}
	if (!rc) {
		int ok = cnt && dim && fp && ids && titles &&
			 cnt->type == ATH_KV_U64 && dim->type == ATH_KV_U64 &&
			 fp->type == ATH_KV_U64 && ids->type == ATH_KV_STR &&
			 titles->type == ATH_KV_STR && dim->u >= 1 &&
			 dim->u <= ANTHEM_MAX_DIM;
		uint64_t v = ver ? (ver->type == ATH_KV_U64 ? ver->u : 0) : 1;
		if (ok && v == 1)
			/* row-major points, converted below */
			ok = pts && pts->rows == cnt->u && pts->cols == dim->u;
		else if (ok && v == 2)
			ok = blk && blk->type == ATH_KV_U64 &&
			     blk->u == ATH_SCAN_BLOCK && blocks &&
			     blocks->rows == cnt->u / ATH_SCAN_BLOCK +
						     (cnt->u % ATH_SCAN_BLOCK != 0) &&
			     blocks->cols == dim->u * ATH_SCAN_BLOCK;
		else
			ok = 0;
		if (!ok)
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: index metadata is "
				       "missing or inconsistent", fn, path);
	}
	if (!rc) {
		ix->n = (size_t)cnt->u;
		ix->dim = (size_t)dim->u;
		ix->model_fp = fp->u;
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
	if (!rc && blocks) {
		ix->blocks = blocks->data; /* in place */
	} else if (!rc) {
		rc = set_blocks(ix, pts->data, fn);
		if (!rc)
			unmap_pages(f, pts->data, ix->n * ix->dim * sizeof(float));
	}
	if (!rc) {
		/* each entry loses its newline and gains a NUL */
		rc = alloc_strings(ix, ids->slen + titles->slen, fn);
		if (!rc && read_strings(ix, ids, titles))
			rc = ath_error(ANTHEM_EFORMAT, "%s: %s: the ids or titles "
				       "do not hold %zu entries", fn, path, ix->n);
	}
	if (!rc) {
		/* copied: the mapped bytes need not stay in memory */
		unmap_pages(f, ids->s, ids->slen);
		unmap_pages(f, titles->s, titles->slen);
		rc = set_norms(ix, path, fn);
	}
	if (!rc)
		rc = set_postings(ix, m, fn);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
	return ANTHEM_OK;
}

/* ---- search ------------------------------------------------------------- */

typedef struct scan_job {
	const ath_scan_query *q;
	const anthem_index *ix;
	ath_heap *heaps; /* one per thread */
	float *work;     /* ath_scan_work_floats per thread */
	size_t chunks, nblocks, work_floats;
} scan_job;

static void scan_chunk(size_t c, size_t tid, void *arg)
{
	scan_job *j = arg;
	size_t lo = j->nblocks * c / j->chunks, hi = j->nblocks * (c + 1) / j->chunks;
	ath_scan_blocks(j->q, j->ix->blocks, j->ix->norm2, j->ix->n, lo, hi,
			j->work + tid * j->work_floats, &j->heaps[tid]);
}

/* Stage 1 of one simple region: each thread keeps its own bounded heap
 * over the chunks it takes; the union of the heaps holds the k best under
 * the total order (distance, index), so the result does not depend on the
 * number of threads or on who took which chunk. */
static int scan_simple(const anthem_index *ix, const anthem_hyperboloid *h,
		       float gamma, size_t k, size_t threads, anthem_hit *out,
		       size_t *n, const char *fn)
{
	float c[ATH_SCAN_MAX_DIM], l[ATH_SCAN_MAX_DIM];
	anthem_hyperboloid_get(h, 0, 0, c, l);
	geo_space s = {anthem_hyperboloid_geometry(h) == ANTHEM_GEOMETRY_HYPERBOLIC
			       ? GEO_HYPERBOLIC : GEO_EUCLIDEAN,
		       anthem_hyperboloid_curvature(h)};
	size_t nblocks = (ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK;
	if (threads == 0)
		threads = ath_cores();
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	/* a thread per 256 blocks at least: below that, starting one costs
	 * more than it saves */
	if (threads > nblocks / 256)
		threads = nblocks / 256 ? nblocks / 256 : 1;
	ath_scan_query *q = malloc(sizeof *q);
	ath_heap *heaps = calloc(threads, sizeof *heaps);
	anthem_hit *hits = malloc(threads * k * sizeof *hits);
	size_t wf = ath_scan_work_floats(ix->dim);
	float *work = aligned_alloc(64, threads * wf * sizeof *work);
	int rc = q && heaps && hits && work
			 ? ANTHEM_OK
			 : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc) {
		ath_scan_prepare(&s, ix->dim, c, l, gamma, q);
		for (size_t t = 0; t < threads; t++)
			heaps[t] = (ath_heap){hits + t * k, 0, k};
		/* several chunks per thread, so that a thread slowed by other
		 * work on the machine does not hold the others up */
		scan_job j = {q, ix, heaps, work, threads == 1 ? 1 : threads * 8,
			      nblocks, wf};
		if (j.chunks > nblocks)
			j.chunks = nblocks ? nblocks : 1;
		if (threads == 1)
			scan_chunk(0, 0, &j);
		else
			ath_parallel_for(j.chunks, threads, scan_chunk, &j);
		/* merge: all the threads' hits through one heap */
		ath_heap all = heaps[0];
		for (size_t t = 1; t < threads; t++)
			for (size_t i = 0; i < heaps[t].n; i++)
				ath_heap_push(&all, heaps[t].h[i].index,
					      heaps[t].h[i].distance);
		ath_heap_sort(&all);
		memcpy(out, all.h, all.n * sizeof *out);
		*n = all.n;
	}
	free(q);
	free(heaps);
	free(hits);
	free(work);
	return rc;
}

/* Unions and intersections: the general distance, over chunks of points
 * copied out of the blocks (so the scan never needs a row-major copy of the
 * whole index). */
static int scan_general(const anthem_index *ix, const anthem_hyperboloid *h,
			float gamma, size_t k, anthem_hit *out, size_t *n,
			const char *fn)
{
	enum { CHUNK = 4096 };
	float *pts = malloc(CHUNK * ix->dim * sizeof *pts);
	float *d = malloc(CHUNK * sizeof *d);
	anthem_hit *hits = malloc(k * sizeof *hits);
	int rc = pts && d && hits ? ANTHEM_OK
				  : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_heap hp = {hits, 0, k};
	for (size_t lo = 0; !rc && lo < ix->n; lo += CHUNK) {
		size_t hi = ix->n - lo < CHUNK ? ix->n : lo + CHUNK;
		anthem_vectors *v = NULL;
		ath_scan_from_blocks(ix->blocks, lo, hi, ix->dim, pts);
		rc = anthem_vectors_wrap(&v, hi - lo, ix->dim, pts);
		if (!rc)
			rc = anthem_hyperboloid_distances(h, v, gamma, d);
		anthem_vectors_free(v);
		for (size_t i = 0; !rc && i < hi - lo; i++)
			ath_heap_push(&hp, lo + i, d[i]);
	}
	if (!rc) {
		ath_heap_sort(&hp);
		memcpy(out, hp.h, hp.n * sizeof *out);
		*n = hp.n;
	}
	free(pts);
	free(d);
	free(hits);
	return rc;
}

int anthem_index_scan_threads(const anthem_index *ix,
			      const anthem_hyperboloid *h, float gamma,
			      size_t k, size_t threads, anthem_hit *out,
			      size_t *n)
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
	if (k == 0)
		return ANTHEM_OK;
	int simple = anthem_hyperboloid_branch_count(h) == 1 &&
		     anthem_hyperboloid_term_count(h, 0) == 1 &&
		     ix->dim <= ATH_SCAN_MAX_DIM;
	return simple ? scan_simple(ix, h, gamma, k, threads, out, n, fn)
		      : scan_general(ix, h, gamma, k, out, n, fn);
}

int anthem_index_scan(const anthem_index *ix, const anthem_hyperboloid *h,
		      float gamma, size_t k, anthem_hit *out, size_t *n)
{
	return anthem_index_scan_threads(ix, h, gamma, k, 1, out, n);
}

typedef struct rerank_job {
	const anthem_model *m;
	const char *query;
	const char **titles;
	float *dist;
	size_t n, parts;
	int *rc;
	char (*error)[256];
} rerank_job;

static void rerank_part(size_t p, size_t tid, void *arg)
{
	rerank_job *j = arg;
	(void)tid;
	size_t lo = j->n * p / j->parts, hi = j->n * (p + 1) / j->parts;
	j->rc[p] = ath_rerank(j->m, j->query, j->titles + lo, hi - lo, j->dist + lo);
	if (j->rc[p])
		snprintf(j->error[p], sizeof j->error[p], "%s", anthem_last_error());
}

/* Stage 2 with the candidates split into `threads` contiguous parts, each
 * on its own tape (the query's graph is built once per part: a fraction of
 * a millisecond against ~0.1 ms per title).  Every title's distance is
 * computed by the same operations whatever the split, so the result is the
 * same to the bit. */
static int score_threads(const anthem_model *m, const anthem_index *ix,
			 const char *query, const size_t *cand, size_t n,
			 float *dist, size_t threads)
{
	static const char fn[] = "anthem_score";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(query, fn, "query");
	if (n == 0)
		return ANTHEM_OK;
	ATH_CHECK_ARG(cand, fn, "candidates");
	ATH_CHECK_ARG(dist, fn, "distances");
	if (threads == 0)
		threads = ath_cores();
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	/* a part per 16 candidates at least */
	if (threads > n / 16)
		threads = n / 16 ? n / 16 : 1;
	const char **titles = malloc(n * sizeof *titles);
	int *rcs = calloc(threads, sizeof *rcs);
	char (*errors)[256] = calloc(threads, sizeof *errors);
	int rc = titles && rcs && errors
			 ? ANTHEM_OK
			 : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t i = 0; i < n && !rc; i++) {
		if (cand[i] >= ix->n)
			rc = ath_error(ANTHEM_ERANGE, "%s: candidates[%zu] is %zu, "
				       "the index holds %zu products", fn, i,
				       cand[i], ix->n);
		else
			titles[i] = title_of(ix, cand[i]);
	}
	if (!rc && threads == 1) {
		rc = ath_rerank(m, query, titles, n, dist);
	} else if (!rc) {
		rerank_job j = {m, query, titles, dist, n, threads, rcs, errors};
		ath_parallel_for(threads, threads, rerank_part, &j);
		for (size_t p = 0; p < threads && !rc; p++)
			if (rcs[p])
				rc = ath_error(rcs[p], "%s", errors[p]);
	}
	free(titles);
	free(rcs);
	free(errors);
	return rc;
}

int anthem_score(const anthem_model *m, const anthem_index *ix,
		 const char *query, const size_t *cand, size_t n, float *dist)
{
	return score_threads(m, ix, query, cand, n, dist, 1);
}

/* Append to cand (holding *nc) the k1 products of highest BM25 for the
 * query that are not there yet. */
static int lexical_candidates(const anthem_model *m, const anthem_index *ix,
			      const char *query, size_t k1, size_t *cand,
			      size_t *nc, const char *fn)
{
	ath_lexq lq;
	ath_lex_query(&m->cfg, m->params, query, &lq);
	if (lq.n == 0)
		return ANTHEM_OK;
	float *score = calloc(ix->n ? ix->n : 1, sizeof *score);
	size_t *top = malloc(k1 * sizeof *top);
	if (!score || !top) {
		free(score);
		free(top);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	if (ix->post.buckets == m->cfg.lexical_buckets &&
	    ix->post_seed == ath_lex_seed(&m->cfg) && ix->post.n == ix->n) {
		ath_postings_scores(&ix->post, m->params, &lq, score);
	} else { /* loaded without this model: read every title */
		for (size_t i = 0; i < ix->n; i++)
			score[i] = ath_lex_title(&m->cfg, m->params, &lq,
						 title_of(ix, i));
	}
	for (size_t i = 0; i < ix->n; i++)
		score[i] = -score[i]; /* ath_topk keeps the smallest */
	size_t nt = ath_topk(score, ix->n, k1, top), before = *nc;
	for (size_t r = 0; r < nt && score[top[r]] < 0.0f; r++) {
		size_t i = 0;
		while (i < before && cand[i] != top[r])
			i++;
		if (i == before)
			cand[(*nc)++] = top[r];
	}
	free(score);
	free(top);
	return ANTHEM_OK;
}

int anthem_search_threads(const anthem_model *m, const anthem_index *ix,
			  const char *query, size_t k, size_t k1,
			  size_t threads, anthem_hit *out, size_t *n)
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
	/* stage 1: the scan's k1 nearest, and with the lexical term the k1
	 * titles of highest BM25 too (step 8: a title that shares the
	 * query's words may be far from the query's hyperboloid) */
	anthem_hit *c = malloc(k1 * sizeof *c);
	size_t *cand = malloc(2 * k1 * sizeof *cand),
	       *order = malloc(2 * k1 * sizeof *order);
	float *d2 = malloc(2 * k1 * sizeof *d2);
	size_t nc = 0;
	if (!c || !cand || !order || !d2)
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (!rc)
		rc = anthem_index_scan_threads(ix, h, m->cfg.gamma, k1, threads,
					       c, &nc);
	for (size_t i = 0; !rc && i < nc; i++)
		cand[i] = c[i].index;
	if (!rc && ath_lex_on(&m->cfg))
		rc = lexical_candidates(m, ix, query, k1, cand, &nc, fn);
	if (!rc)
		rc = score_threads(m, ix, query, cand, nc, d2, threads);
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

int anthem_search(const anthem_model *m, const anthem_index *ix,
		  const char *query, size_t k, size_t k1, anthem_hit *out,
		  size_t *n)
{
	return anthem_search_threads(m, ix, query, k, k1, 1, out, n);
}
