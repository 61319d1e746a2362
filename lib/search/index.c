/* Indexes: product points in the scan's layout, ids and titles, the
 * id -> position table and the titles' word postings; built from a
 * catalogue or saved to and mapped from a container file (docs/format.md).
 * The query pipeline (pipeline.c) reads them. */
#include "search/index_internal.h"
#include "search/scan.h"

#include "common/hash.h"
#include "common/internal.h"
#include "common/parallel.h"
#include "io/container.h"
#include "io/tsv.h"
#include "model/model_internal.h"

#include <anthem/search.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdatomic.h>

static const char index_magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'I', 'X'};


/* The index layout version (the "index.version" key; files without it are
 * version 1: row-major "points").  Version 2 stores the blocked "blocks";
 * version 3 adds the approximate index ("index.ann.*" keys, "ann.*"
 * tensors) and is written only for an index that has one; version 4 adds
 * the scan's int8 points ("scan.*" tensors), written only for an index that
 * has them. */
#define INDEX_VERSION 4

/* The hash of the id table a file stores ("index.find.hash"): a load
 * uses the table in place only when it names this one. */
#define FIND_HASH "fnv1a64-fold29"

/* The version anthem_index_save writes: 2 without a graph or int8
 * points (readers from before version 3 still load such a file), 3 with
 * a graph, 4 with the scan's int8 points. */
static unsigned save_version(const anthem_index *ix)
{
	return ix->scan8.on ? INDEX_VERSION : ix->ann.on ? 3 : 2;
}

void anthem_index_free(anthem_index *ix)
{
	if (!ix)
		return;
	anthem_vectors_free(atomic_load(&ix->vec));
	free(atomic_load(&ix->norm2));
	free(ix->owned_blocks);
	free(ix->strings);
	free(ix->off32);
	free(ix->off64);
	ath_postings_free(&ix->post);
	free(ix->owned_find);
	ath_ann_free(&ix->ann);
	ath_scan8_free(&ix->scan8);
	free(ix->path);
	if (ix->file) {
		ath_container_close(ix->file);
		free(ix->file);
	}
	free(ix);
}

static const char *id_of(const anthem_index *ix, size_t i)
{
	return ath_index_id(ix, i);
}

static const char *title_of(const anthem_index *ix, size_t i)
{
	return ath_index_title(ix, i);
}

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

/* The slots of the id -> position table for n products: the smallest
 * power of two of at least 16 that is at least 2n. */
static size_t find_cap(size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

/* The id -> position table: 4 bytes a slot, 2 to 4 slots a product, unless
 * a load found it in the file.  An id held twice (a hostile file) is found
 * at its first position. */
static int set_find(anthem_index *ix, const char *fn)
{
	if (ix->n >= UINT32_MAX)
		return ath_error(ANTHEM_ERANGE, "%s: %zu products, at most %u",
				 fn, ix->n, UINT32_MAX - 1);
	if (ix->find_slots)
		return ANTHEM_OK;
	size_t cap = find_cap(ix->n);
	uint32_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ix->find_mask = cap - 1;
	for (size_t i = 0; i < ix->n; i++) {
		const char *id = id_of(ix, i);
		size_t at = (size_t)ath_str_hash(id) & ix->find_mask;
		while (slots[at] && strcmp(id_of(ix, slots[at] - 1), id) != 0)
			at = (at + 1) & ix->find_mask;
		if (!slots[at])
			slots[at] = (uint32_t)(i + 1);
	}
	ix->owned_find = slots;
	ix->find_slots = slots;
	return ANTHEM_OK;
}

int anthem_index_find(const anthem_index *ix, const char *product_id,
		      size_t *pos)
{
	static const char fn[] = "anthem_index_find";
	ATH_CHECK_ARG(ix, fn, "ix");
	ATH_CHECK_ARG(product_id, fn, "product_id");
	ATH_CHECK_ARG(pos, fn, "pos");
	size_t at = (size_t)ath_str_hash(product_id) & ix->find_mask;
	/* a table mapped from a file is not trusted: at most one probe per
	 * slot (a full table ends), and a position past the products ends
	 * the probe (a corrupted table misses ids, it reads nothing outside
	 * the index) */
	for (size_t probe = 0; probe <= ix->find_mask; probe++) {
		uint32_t s = ix->find_slots[at];
		if (s == 0 || s > ix->n)
			break;
		if (strcmp(id_of(ix, s - 1), product_id) == 0) {
			*pos = s - 1;
			return ANTHEM_OK;
		}
		at = (at + 1) & ix->find_mask;
	}
	return ath_error(ANTHEM_ENOTFOUND, "%s: no product '%.100s' in the "
			 "index", fn, product_id);
}

int ath_index_has_postings(const anthem_index *ix,
			   const anthem_model_config *cfg)
{
	return ix->post.buckets == cfg->lexical_buckets &&
	       ix->post_seed == ath_lex_seed(cfg) && ix->post.n == ix->n;
}

/* Room for the strings (total bytes, NULs included) and the offsets. */
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

/* The squared norms of ix's points, in scan_alloc'ed memory: NULL when
 * out of memory; *bad the first point that is not finite (n: none). */
static float *make_norms(const anthem_index *ix, size_t *bad)
{
	size_t lanes = ath_scan_block_floats(ix->n, 1);
	float *n2 = scan_alloc((lanes ? lanes : ATH_SCAN_BLOCK) * sizeof *n2);
	if (n2)
		*bad = ath_scan_norms(ix->blocks, ix->n, ix->dim, n2);
	return n2;
}

/* Squared norms for the scan; also where a loaded file's points are checked
 * (finite, so that no NaN reaches a ranking).  An index with int8 points
 * does not keep them (ath_index_norms makes them again if asked). */
static int set_norms(anthem_index *ix, const char *what, const char *fn)
{
	size_t bad = ix->n;
	float *n2 = make_norms(ix, &bad);
	if (!n2)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (bad < ix->n) {
		free(n2);
		return ath_error(ANTHEM_EFORMAT, "%s: %s: point %zu is not "
				 "finite", fn, what, bad);
	}
	/* the farthest point, so that a search checks the ball in O(1) (one
	 * more pass over n floats: 0.7 to 1.4 ms at 1M products, -O2, on the
	 * busy 2-vCPU development machine) */
	ix->far = 0;
	for (size_t i = 1; i < ix->n; i++)
		if (n2[i] > n2[ix->far])
			ix->far = i;
	if (ix->scan8.on) {
		free(n2);
		n2 = NULL;
	}
	atomic_store(&ix->norm2, n2);
	return ANTHEM_OK;
}

const float *ath_index_norms(const anthem_index *ix, const char *fn)
{
	anthem_index *w = (anthem_index *)ix; /* the atomic slot only */
	float *n2 = atomic_load(&w->norm2);
	if (n2)
		return n2;
	size_t bad;
	n2 = make_norms(ix, &bad); /* finite: checked by the load */
	if (!n2) {
		ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		return NULL;
	}
	float *expected = NULL;
	if (!atomic_compare_exchange_strong(&w->norm2, &expected, n2)) {
		free(n2);
		n2 = expected;
	}
	return n2;
}

int ath_index_check_space(const anthem_index *ix, const geo_space *s,
			  const char *fn)
{
	if (s->kind != GEO_HYPERBOLIC || ix->n == 0)
		return ANTHEM_OK;
	/* in double from the point itself, as check_in_ball in
	 * lib/geometry/hyperboloid.c (the float norm may round below) */
	float pt[ANTHEM_MAX_DIM];
	ath_scan_from_blocks(ix->blocks, ix->far, ix->far + 1, ix->dim, pt);
	double acc = 0.0;
	for (size_t i = 0; i < ix->dim; i++)
		acc += (double)pt[i] * pt[i];
	if (sqrt(s->c * acc) >= 1.0)
		return ath_error(ANTHEM_ERANGE, "%s: %s: product %zu ('%.100s') "
				 "has norm %g, not inside the ball of radius "
				 "1/sqrt(c) = %g", fn, ix->path ? ix->path : "index",
				 ix->far, ath_index_id(ix, ix->far), sqrt(acc),
				 1.0 / sqrt(s->c));
	return ANTHEM_OK;
}

int ath_index_check_model(const anthem_index *ix, const anthem_model *m,
			  const char *fn)
{
	uint64_t fp = anthem_model_fingerprint(m);
	if (ix->model_fp && ix->model_fp != fp)
		return ath_error(ANTHEM_EMISMATCH, "%s: %s: index was built by "
				 "model %016llx, not %016llx", fn,
				 ix->path ? ix->path : "index",
				 (unsigned long long)ix->model_fp,
				 (unsigned long long)fp);
	return ath_index_check_space(ix, &m->space, fn);
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

/* The rest of a build or load that got this far (rc): the id table, the
 * norms (which check the points), the postings; *out, or nothing. */
static int finish(anthem_index *ix, const anthem_model *m, const char *what,
		  int rc, anthem_index **out, const char *fn)
{
	if (!rc)
		rc = set_find(ix, fn);
	if (!rc)
		rc = set_norms(ix, what, fn);
	if (!rc && ix->has_space)
		rc = ath_index_check_space(ix, &ix->space, fn);
	if (!rc)
		rc = set_postings(ix, m, fn);
	if (rc) {
		anthem_index_free(ix);
		return rc;
	}
	*out = ix;
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

static int build_index(anthem_index **out, const anthem_model *m,
			   const anthem_catalog *c,
			   const anthem_index_options *o, const char *fn);

int anthem_index_options_init_size(anthem_index_options *dst, size_t size)
{
	anthem_index_options o;
	memset(&o, 0, sizeof o);
	o.ann_degree = 32;
	o.ann_ef = 128;
	o.ann_seed = 1;
	o.points = ANTHEM_POINTS_FLOAT32;
	return ath_init_struct(dst, size, &o, sizeof o,
			       "anthem_index_options_init");
}

int anthem_index_has_ann(const anthem_index *ix)
{
	return ix && ix->ann.on;
}

int anthem_index_points(const anthem_index *ix)
{
	return ix && ix->scan8.on ? ANTHEM_POINTS_INT8 : ANTHEM_POINTS_FLOAT32;
}

int anthem_index_ann_params(const anthem_index *ix, size_t *degree,
			    size_t *ef_construction, uint64_t *seed)
{
	static const char fn[] = "anthem_index_ann_params";
	ATH_CHECK_ARG(ix, fn, "ix");
	if (!ix->ann.on)
		return ath_error(ANTHEM_EINVAL, "%s: %s has no approximate index "
				 "(anthem index --ann)", fn,
				 ix->path ? ix->path : "the index");
	if (degree)
		*degree = ix->ann.degree;
	if (ef_construction)
		*ef_construction = ix->ann.ef_construction;
	if (seed)
		*seed = ix->ann.seed;
	return ANTHEM_OK;
}

unsigned anthem_index_format_version(const anthem_index *ix)
{
	if (!ix)
		return 0;
	return ix->file_version ? ix->file_version : save_version(ix);
}

/* The approximate index over ix's points, as o asks (o->ann set). */
int ath_index_add_ann(anthem_index *ix, const geo_space *s,
		      const anthem_index_options *o, const char *fn)
{
	if (o->points != ANTHEM_POINTS_FLOAT32 && o->points != ANTHEM_POINTS_INT8)
		return ath_error(ANTHEM_EINVAL, "%s: points is %d, must be "
				 "ANTHEM_POINTS_FLOAT32 or ANTHEM_POINTS_INT8", fn,
				 (int)o->points);
	if (ix->dim > ATH_SCAN_MAX_DIM)
		return ath_error(ANTHEM_ERANGE, "%s: the approximate index needs "
				 "dim <= %d, the index has %zu", fn,
				 ATH_SCAN_MAX_DIM, ix->dim);
	if (ix->n == 0)
		return ANTHEM_OK; /* nothing to search: no graph */
	float *pts = malloc(ix->n * ix->dim * sizeof *pts);
	if (!pts)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_scan_from_blocks(ix->blocks, 0, ix->n, ix->dim, pts);
	ath_ann_free(&ix->ann);
	int rc = ath_ann_build(&ix->ann, s, pts, ix->n, ix->dim, o->ann_degree,
			       o->ann_ef, o->ann_seed,
			       o->points == ANTHEM_POINTS_INT8, o->threads,
			       o->ann_progress, o->ann_progress_user, fn);
	free(pts);
	return rc;
}

int anthem_index_build(anthem_index **out, const anthem_model *m,
		       const anthem_catalog *c, size_t threads)
{
	anthem_index_options o;
	anthem_index_options_init(&o);
	o.threads = threads;
	return build_index(out, m, c, &o, "anthem_index_build");
}

int anthem_index_build_ex(anthem_index **out, const anthem_model *m,
			  const anthem_catalog *c,
			  const anthem_index_options *opts)
{
	static const char fn[] = "anthem_index_build_ex";
	anthem_index_options o;
	anthem_index_options_init(&o);
	int rc = ath_read_options(&o, sizeof o, opts, "anthem_index_options", fn);
	if (rc)
		return rc;
	return build_index(out, m, c, &o, fn);
}

static int build_index(anthem_index **out, const anthem_model *m,
			   const anthem_catalog *c,
			   const anthem_index_options *o, const char *fn)
{
	size_t threads = o->threads;
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(c, fn, "catalog");
	if (o->points != ANTHEM_POINTS_FLOAT32 && o->points != ANTHEM_POINTS_INT8)
		return ath_error(ANTHEM_EINVAL, "%s: points is %d, must be "
				 "ANTHEM_POINTS_FLOAT32 or ANTHEM_POINTS_INT8",
				 fn, (int)o->points);
	anthem_index *ix = calloc(1, sizeof *ix);
	if (!ix)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ix->n = c->n;
	ix->dim = anthem_model_dim(m);
	ix->model_fp = anthem_model_fingerprint(m);
	ix->has_space = 1;
	ix->space = m->space;
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
	if (!rc && o->ann)
		rc = ath_index_add_ann(ix, &m->space, o, fn);
	if (!rc && o->points == ANTHEM_POINTS_INT8 && ix->dim > ATH_SCAN_MAX_DIM)
		rc = ath_error(ANTHEM_ERANGE, "%s: int8 points need dim <= %d, "
			       "the model has %zu", fn, ATH_SCAN_MAX_DIM, ix->dim);
	else if (!rc && o->points == ANTHEM_POINTS_INT8)
		rc = ath_scan8_build(&ix->scan8, &m->space, ix->blocks, ix->n,
				     ix->dim, fn);
	return finish(ix, m, "index", rc, out, fn);
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
		rc = set_find(ix, fn);
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
			 .u = save_version(ix)},
			{.key = "index.block", .type = ATH_KV_U64,
			 .u = ATH_SCAN_BLOCK},
			/* the model's space, so that a load without the
			 * model still checks the points against its ball */
			{.key = "index.curvature", .type = ATH_KV_F64,
			 .f = ix->space.kind == GEO_HYPERBOLIC ? ix->space.c : 0.0},
		};
		/* one row per block: its dim x 16 floats, used in place by a
		 * load */
		size_t nb = (ix->n + ATH_SCAN_BLOCK - 1) / ATH_SCAN_BLOCK;
		ath_tensor t[9] = {{.name = "blocks", .rows = nb,
				    .cols = ix->dim * ATH_SCAN_BLOCK,
				    .data = ix->blocks}};
		size_t nkv = ix->has_space ? 8 : 7, nt = 1;
		/* the id table, used in place by a load (readers from before
		 * it build their own and ignore it) */
		t[nt++] = (ath_tensor){.name = "find.slots", .rows = 1,
				       .cols = ix->find_mask + 1,
				       .data = (const float *)ix->find_slots};
		const ath_ann *a = &ix->ann;
		ath_kv akv[7];
		if (a->on) {
			/* the graph and the int8 codes are 4-byte words in
			 * the float tensors (docs/format.md) */
			akv[0] = (ath_kv){.key = "index.ann.degree",
					  .type = ATH_KV_U64, .u = a->degree};
			akv[1] = (ath_kv){.key = "index.ann.ef_construction",
					  .type = ATH_KV_U64, .u = a->ef_construction};
			akv[2] = (ath_kv){.key = "index.ann.seed",
					  .type = ATH_KV_U64, .u = a->seed};
			akv[3] = (ath_kv){.key = "index.ann.points",
					  .type = ATH_KV_STR,
					  .s = a->int8 ? "int8" : "float32"};
			akv[4] = (ath_kv){.key = "index.ann.geometry",
					  .type = ATH_KV_U64,
					  .u = a->space.kind == GEO_HYPERBOLIC ? 0 : 1};
			akv[5] = (ath_kv){.key = "index.ann.curvature",
					  .type = ATH_KV_F64, .f = a->space.c};
			akv[6] = (ath_kv){.key = "index.ann.entries",
					  .type = ATH_KV_U64, .u = a->nentry};
			t[nt++] = (ath_tensor){.name = "ann.graph", .rows = ix->n,
					       .cols = a->degree,
					       .data = (const float *)a->adj};
			t[nt++] = (ath_tensor){.name = "ann.entry", .rows = 1,
					       .cols = a->nentry,
					       .data = (const float *)a->entry};
			if (a->int8) {
				t[nt++] = (ath_tensor){.name = "ann.codes",
						       .rows = ix->n,
						       .cols = a->cstride / 4,
						       .data = (const float *)a->codes};
				t[nt++] = (ath_tensor){.name = "ann.scale",
						       .rows = 1, .cols = ix->dim,
						       .data = a->scale};
			} else {
				t[nt++] = (ath_tensor){.name = "ann.rows",
						       .rows = ix->n,
						       .cols = ix->dim,
						       .data = a->rows};
			}
		}
		const ath_scan8 *c8 = &ix->scan8;
		if (c8->on) {
			/* int8 codes as 4-byte words, like ann.codes */
			t[nt++] = (ath_tensor){.name = "scan.codes", .rows = nb,
					       .cols = ix->dim * ATH_SCAN_BLOCK / 4,
					       .data = (const float *)c8->codes};
			t[nt++] = (ath_tensor){.name = "scan.lanes", .rows = nb,
					       .cols = 2 * ATH_SCAN_BLOCK,
					       .data = c8->lanes};
			t[nt++] = (ath_tensor){.name = "scan.scale", .rows = 1,
					       .cols = ix->dim, .data = c8->scale};
		}
		ath_kv all[8 + 1 + 7];
		memcpy(all, kv, sizeof kv);
		all[nkv++] = (ath_kv){.key = "index.find.hash", .type = ATH_KV_STR,
				      .s = FIND_HASH};
		if (a->on) {
			memcpy(all + nkv, akv, sizeof akv);
			nkv += sizeof akv / sizeof *akv;
		}
		rc = ath_container_write(path, index_magic, all, nkv, t, nt, fn);
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

/* The approximate index of a version-3 file, when it has one: every key
 * and tensor checked (shape, range) before use, the graph's neighbours
 * each < n, so that a corrupted graph is refused instead of searched. */
static int load_ann(anthem_index *ix, const ath_container *f, const char *path,
		    const char *fn)
{
	const ath_kv *deg = ath_container_kv(f, "index.ann.degree");
	const ath_tensor *g = ath_container_tensor(f, "ann.graph");
	if (!deg && !g)
		return ANTHEM_OK;
	const ath_kv *efc = ath_container_kv(f, "index.ann.ef_construction");
	const ath_kv *seed = ath_container_kv(f, "index.ann.seed");
	const ath_kv *pts = ath_container_kv(f, "index.ann.points");
	const ath_kv *geo = ath_container_kv(f, "index.ann.geometry");
	const ath_kv *cur = ath_container_kv(f, "index.ann.curvature");
	const ath_kv *ent = ath_container_kv(f, "index.ann.entries");
	const ath_tensor *et = ath_container_tensor(f, "ann.entry");
	const ath_tensor *rows = ath_container_tensor(f, "ann.rows");
	const ath_tensor *codes = ath_container_tensor(f, "ann.codes");
	const ath_tensor *scale = ath_container_tensor(f, "ann.scale");
	size_t n = ix->n, d = ix->dim, cstride = (d + 3) / 4 * 4;
	int ok = deg && g && efc && seed && pts && geo && cur && ent && et &&
		 deg->type == ATH_KV_U64 && efc->type == ATH_KV_U64 &&
		 seed->type == ATH_KV_U64 && pts->type == ATH_KV_STR &&
		 geo->type == ATH_KV_U64 && cur->type == ATH_KV_F64 &&
		 ent->type == ATH_KV_U64 && deg->u >= 2 &&
		 deg->u <= ATH_ANN_MAX_DEGREE && geo->u <= 1 &&
		 isfinite(cur->f) && cur->f > 0.0 && n >= 1 &&
		 n < ATH_ANN_NONE && d <= ATH_SCAN_MAX_DIM &&
		 ent->u >= 1 && ent->u <= n && ent->u <= 1024 &&
		 g->rows == n && g->cols == deg->u && et->rows == 1 &&
		 et->cols == ent->u;
	int int8 = 0;
	if (ok && pts->slen == 4 && !memcmp(pts->s, "int8", 4)) {
		int8 = 1;
		ok = codes && scale && codes->rows == n &&
		     codes->cols == cstride / 4 && scale->rows == 1 &&
		     scale->cols == d;
		for (size_t k = 0; ok && k < d; k++)
			ok = isfinite(scale->data[k]) && scale->data[k] > 0.0f;
	} else if (ok && pts->slen == 7 && !memcmp(pts->s, "float32", 7)) {
		ok = rows && rows->rows == n && rows->cols == d;
		for (size_t i = 0; ok && i < n * d; i++)
			ok = isfinite(rows->data[i]);
	} else {
		ok = 0;
	}
	if (!ok)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: the approximate index "
				 "(index.ann.*, ann.*) is missing a part or "
				 "inconsistent", fn, path);
	ath_ann *a = &ix->ann;
	a->on = 1;
	a->space = geo_space_of(geo->u ? ANTHEM_GEOMETRY_EUCLIDEAN
				       : ANTHEM_GEOMETRY_HYPERBOLIC,
				(float)cur->f);
	a->space.c = cur->f;
	a->degree = (size_t)deg->u;
	a->ef_construction = (size_t)efc->u;
	a->seed = seed->u;
	a->nentry = (size_t)ent->u;
	a->adj = (const uint32_t *)g->data;
	a->entry = (const uint32_t *)et->data;
	a->int8 = int8;
	a->cstride = cstride;
	a->rows = int8 ? NULL : rows->data;
	a->codes = int8 ? (const int8_t *)codes->data : NULL;
	a->scale = int8 ? scale->data : NULL;
	size_t bad = 0;
	if (ath_ann_check(a, n, &bad))
		return ath_error(ANTHEM_EFORMAT, "%s: %s: ann.graph: node %zu has a "
				 "neighbour or entry out of range (the graph is "
				 "corrupted)", fn, path, bad);
	return ANTHEM_OK;
}

/* The id table of a file that has one ("find.slots", written since the
 * version-4 layout, in any version), used in place: its shape checked
 * here, each slot as anthem_index_find reads it.  A table of another hash
 * is left for set_find to build again. */
static int load_find(anthem_index *ix, const ath_container *f,
		     const char *path, const char *fn)
{
	const ath_kv *hash = ath_container_kv(f, "index.find.hash");
	const ath_tensor *t = ath_container_tensor(f, "find.slots");
	if (!hash && !t)
		return ANTHEM_OK;
	if (hash && hash->type == ATH_KV_STR &&
	    (hash->slen != strlen(FIND_HASH) ||
	     memcmp(hash->s, FIND_HASH, hash->slen) != 0))
		return ANTHEM_OK;
	if (!hash || hash->type != ATH_KV_STR || !t || t->rows != 1 ||
	    t->cols != find_cap(ix->n))
		return ath_error(ANTHEM_EFORMAT, "%s: %s: the id table "
				 "(index.find.hash, find.slots) is missing a "
				 "part or has %llu slots, not %zu", fn, path,
				 t ? (unsigned long long)t->cols : 0ULL,
				 find_cap(ix->n));
	ix->find_slots = (const uint32_t *)t->data;
	ix->find_mask = (size_t)t->cols - 1;
	return ANTHEM_OK;
}

/* The scan's int8 points of a version-4 file, when it has them: shapes,
 * steps, factors and norms checked (finite; factors and steps positive),
 * so that a corrupted section is refused instead of scanned. */
static int load_scan8(anthem_index *ix, const ath_container *f,
		      const char *path, const char *fn)
{
	const ath_tensor *codes = ath_container_tensor(f, "scan.codes");
	const ath_tensor *lanes = ath_container_tensor(f, "scan.lanes");
	const ath_tensor *scale = ath_container_tensor(f, "scan.scale");
	if (!codes && !lanes && !scale)
		return ANTHEM_OK;
	size_t n = ix->n, d = ix->dim, W = ATH_SCAN_BLOCK;
	size_t nb = (n + W - 1) / W;
	int ok = codes && lanes && scale && d <= ATH_SCAN_MAX_DIM &&
		 codes->rows == nb && codes->cols == d * W / 4 &&
		 lanes->rows == nb && lanes->cols == 2 * W &&
		 scale->rows == 1 && scale->cols == d;
	for (size_t k = 0; ok && k < d; k++)
		ok = isfinite(scale->data[k]) && scale->data[k] > 0.0f;
	/* factors (lanes 0-15 of a row) positive, norms (16-31) >= 0; a
	 * last block's padding lanes hold zeros */
	for (size_t i = 0; ok && i < nb * 2 * W; i++) {
		float v = lanes->data[i];
		size_t product = i / (2 * W) * W + i % W;
		ok = isfinite(v) && v >= 0.0f &&
		     (i % (2 * W) >= W || product >= n || v > 0.0f);
	}
	if (!ok)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: the scan's int8 points "
				 "(scan.codes, scan.lanes, scan.scale) are missing "
				 "a part, inconsistent or not finite", fn, path);
	ix->scan8 = (ath_scan8){.on = 1,
				.codes = (const int8_t *)codes->data,
				.lanes = lanes->data,
				.scale = scale->data};
	return ANTHEM_OK;
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
	ix->path = strdup(path);
	int rc = ix->path ? ath_container_open(f, path, index_magic, 0, fn)
			  : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	const ath_kv *cnt = NULL, *dim = NULL, *fp = NULL, *ids = NULL,
		     *titles = NULL;
	const ath_kv *ver = NULL, *blk = NULL, *curv = NULL;
	const ath_tensor *pts = NULL, *blocks = NULL;
	if (!rc) {
		cnt = ath_container_kv(f, "index.count");
		dim = ath_container_kv(f, "index.dim");
		fp = ath_container_kv(f, "index.model_fingerprint");
		ids = ath_container_kv(f, "index.ids");
		titles = ath_container_kv(f, "index.titles");
		ver = ath_container_kv(f, "index.version");
		blk = ath_container_kv(f, "index.block");
		curv = ath_container_kv(f, "index.curvature");
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
			 dim->u <= ANTHEM_MAX_DIM &&
			 (!curv || (curv->type == ATH_KV_F64 &&
				    isfinite(curv->f) && curv->f >= 0.0));
		uint64_t v = ver ? (ver->type == ATH_KV_U64 ? ver->u : 0) : 1;
		ix->file_version = (unsigned)v;
		if (ok && v == 1) {
			/* row-major points, converted below; a "blocks"
			 * tensor is not version 1's and is not read */
			ok = pts && pts->rows == cnt->u && pts->cols == dim->u;
			blocks = NULL;
		}
		else if (ok && v >= 2 && v <= INDEX_VERSION)
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
		/* the ball the points must lie in (checked by finish): the
		 * model's, or the one the file records (0: flat space) */
		if (m) {
			ix->has_space = 1;
			ix->space = m->space;
		} else if (curv) {
			ix->has_space = 1;
			ix->space = curv->f > 0.0
				? geo_space_of(ANTHEM_GEOMETRY_HYPERBOLIC,
					       (float)curv->f)
				: geo_space_of(ANTHEM_GEOMETRY_EUCLIDEAN, 0.0f);
		}
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
	}
	if (!rc)
		rc = load_find(ix, f, path, fn);
	if (!rc && ver && ver->type == ATH_KV_U64 && ver->u >= 3)
		rc = load_ann(ix, f, path, fn);
	if (!rc && ver && ver->type == ATH_KV_U64 && ver->u >= 4)
		rc = load_scan8(ix, f, path, fn);
	rc = finish(ix, m, path, rc, out, fn);
	/* the id table is read where an id is looked up: its pages need not
	 * stay after the load's checksum read them */
	if (!rc && !(*out)->owned_find)
		unmap_pages(f, (*out)->find_slots,
			    ((*out)->find_mask + 1) * sizeof(uint32_t));
	/* with int8 points, stage 1 reads the codes and re-scores a few
	 * hundred products' float points: those need not stay resident after
	 * the load's checks read them (the kernel reads them again when
	 * touched) */
	if (!rc && (*out)->scan8.on)
		unmap_pages(f, (*out)->blocks,
			    ath_scan_block_floats((*out)->n, (*out)->dim) *
				    sizeof(float));
	return rc;
}

