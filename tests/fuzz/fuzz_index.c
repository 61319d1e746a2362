/* Fuzz target "index": anthem_index_load (docs/format.md, "Index metadata").
 *
 * The input is written to a file and loaded without a model (no
 * fingerprint check), then once more with its header size and checksum
 * repaired so that mutations of the metadata and the points tensor get past
 * the checksum.  A loaded index is read back (ids, titles, points) and
 * scanned with a small hyperboloid of its dimension, in the ball and in
 * flat space; then a small model (created once, dim 4 like the seed
 * indexes) reranks two of its products (anthem_score: the index's titles
 * go through the tokenizer) and, when the dimensions agree, runs the
 * two-stage anthem_search over it, once more with stage 1 forced onto the
 * approximate index (its graph, when the file holds one: a graph that
 * loaded must be searchable, every hit a product of the index).  The index records the fingerprint of
 * the model that built it and the search calls refuse another model
 * (ANTHEM_EMISMATCH, issue 13): so the repaired input is loaded a third
 * time with its "index.model_fingerprint" set to this model's, which keeps
 * the searches reachable.  Mutations are structure-aware (mutator.h). */
#include "fuzz.h"
#include "mutator.h"

#include <math.h>

#define MODEL_DIM 4

static anthem_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	anthem_model_config c;
	anthem_model_config_init(&c);
	c.dim = MODEL_DIM;
	c.buckets = 256;
	if (anthem_model_create(&model, &c) != ANTHEM_OK) {
		fprintf(stderr, "fuzz_index: anthem_model_create: %s\n",
			anthem_last_error());
		abort();
	}
	return 0;
}

/* stage 2 on index products, and both stages when the model fits */
static void search(const anthem_index *ix)
{
	size_t n = anthem_index_count(ix);
	uint64_t fp = anthem_index_model_fingerprint(ix);
	/* an index of raw points records no model (0) */
	int ours = fp == 0 || fp == anthem_model_fingerprint(model);
	float d[2] = {-1.0f, -1.0f};
	if (n > 0) {
		size_t cand[2] = {0, n - 1};
		fz_begin();
		int rc = fz_status(anthem_score(model, ix, "headgear", cand, 2, d),
				   "anthem_score");
		if (!ours && rc != ANTHEM_EMISMATCH)
			fz_fail("anthem_score with another model's index gave %d",
				rc);
		/* ours: refused only for a point outside the ball */
		if (ours && rc != ANTHEM_OK && rc != ANTHEM_ERANGE)
			fz_fail("anthem_score of products 0 and %zu of %zu fails",
				n - 1, n);
		if (ours && rc == ANTHEM_OK && (!(d[0] >= 0.0f) || !(d[1] >= 0.0f)))
			fz_fail("anthem_score gives %g, %g", d[0], d[1]);
	}
	size_t bad = n;
	fz_begin();
	if (fz_status(anthem_score(model, ix, "headgear", &bad, 1, d),
		      "anthem_score") != ANTHEM_ERANGE)
		fz_fail("anthem_score of product %zu of %zu is not ERANGE", n, n);
	anthem_hit hits[3];
	size_t k = 99;
	fz_begin();
	int rc = fz_status(anthem_search(model, ix, "headgear", 3, 0, hits, &k),
			   "anthem_search");
	if (anthem_index_dim(ix) != MODEL_DIM || !ours) {
		if (n > 0 && rc != ANTHEM_EMISMATCH)
			fz_fail("anthem_search with dims %d and %zu, fingerprints "
				"%016llx and %016llx gave %d", MODEL_DIM,
				anthem_index_dim(ix), (unsigned long long)fp,
				(unsigned long long)anthem_model_fingerprint(model),
				rc);
		return;
	}
	if (rc == ANTHEM_ERANGE) /* a point outside the ball */
		return;
	if (rc != ANTHEM_OK)
		fz_fail("anthem_search failed with %d", rc);
	if (k != (n < 3 ? n : 3))
		fz_fail("anthem_search over %zu products returned %zu", n, k);
	for (size_t i = 0; i < k; i++)
		if (hits[i].index >= n || !(hits[i].distance >= 0.0f))
			fz_fail("search hit %zu: product %zu of %zu, distance %g",
				i, hits[i].index, n, hits[i].distance);
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = 3;
	o.stage1 = ANTHEM_STAGE1_GRAPH;
	o.ef = 4;
	o.stage1_only = 1;
	fz_begin();
	rc = fz_status(anthem_search_ex(model, ix, "headgear", &o, hits, &k),
		       "anthem_search_ex (graph)");
	if (rc != ANTHEM_OK)
		fz_fail("the graph search failed with %d", rc);
	if (k > (n < 3 ? n : 3))
		fz_fail("the graph search over %zu products returned %zu", n, k);
	for (size_t i = 0; i < k; i++)
		if (hits[i].index >= n)
			fz_fail("graph hit %zu: product %zu of %zu", i,
				hits[i].index, n);
}

static void scan(const anthem_index *ix, anthem_geometry g)
{
	size_t n = anthem_index_count(ix), d = anthem_index_dim(ix);
	float *c = calloc(d, sizeof *c), *l = malloc(d * sizeof *l);
	if (!c || !l) {
		free(c);
		free(l);
		return;
	}
	for (size_t i = 0; i < d; i++)
		l[i] = 0.1f / (float)d;
	anthem_hyperboloid *h = NULL;
	fz_begin();
	if (fz_status(anthem_hyperboloid_create(&h, g, 1.0f, d, c, l),
		      "anthem_hyperboloid_create"))
		fz_fail("cannot create a small hyperboloid of dim %zu", d);
	anthem_hit hits[5];
	size_t k = 99;
	fz_begin();
	int rc = fz_status(anthem_index_scan(ix, h, 0.5f, 5, hits, &k),
			   "anthem_index_scan");
	if (rc == ANTHEM_OK) {
		if (k != (n < 5 ? n : 5))
			fz_fail("scan of %zu products returned %zu hits", n, k);
		for (size_t i = 0; i < k; i++) {
			if (hits[i].index >= n)
				fz_fail("hit %zu is product %zu of %zu", i,
					hits[i].index, n);
			if (i + 1 < k) {
				float a = hits[i].distance, b = hits[i + 1].distance;
				if ((isnan(a) && !isnan(b)) ||
				    (!isnan(a) && !isnan(b) && a > b))
					fz_fail("hits not best first: %g then %g",
						a, b);
			}
		}
	} else if (g != ANTHEM_GEOMETRY_HYPERBOLIC || rc != ANTHEM_ERANGE) {
		/* only a point outside the ball may be refused */
		fz_fail("anthem_index_scan failed with %d", rc);
	} else if (k != 0) {
		fz_fail("a failed scan reports %zu hits", k);
	}
	anthem_hyperboloid_free(h);
	free(c);
	free(l);
}

static void use_index(const anthem_index *ix)
{
	size_t n = anthem_index_count(ix), d = anthem_index_dim(ix);
	if (d < 1 || d > anthem_max_dim())
		fz_fail("a loaded index has dim %zu", d);
	const anthem_vectors *v = anthem_index_vectors(ix);
	if (!v || anthem_vectors_count(v) != n || anthem_vectors_dim(v) != d)
		fz_fail("the index's points are not %zu x %zu", n, d);
	const float *p = anthem_vectors_data(v);
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(p[i]))
			fz_fail("a loaded index holds a non-finite point value");
	for (size_t i = 0; i < n; i++) {
		const char *id = anthem_index_id(ix, i),
			   *t = anthem_index_title(ix, i);
		if (!id || !t)
			fz_fail("product %zu of %zu has no id or title", i, n);
		if (strchr(id, '\n') || strchr(t, '\n'))
			fz_fail("product %zu's id or title holds a newline", i);
	}
	if (anthem_index_id(ix, n) || anthem_index_title(ix, n))
		fz_fail("anthem_index_id/title past the end is not NULL");
	/* the id table (mapped from the file, and not checked slot by slot
	 * at load): a lookup ends, and a hit names a product with that id */
	for (size_t i = 0; i < n; i++) {
		const char *id = anthem_index_id(ix, i);
		size_t pos = n;
		fz_begin();
		int rc = fz_status(anthem_index_find(ix, id, &pos),
				   "anthem_index_find");
		if (rc == ANTHEM_OK ? pos >= n || strcmp(anthem_index_id(ix, pos), id)
				    : rc != ANTHEM_ENOTFOUND)
			fz_fail("anthem_index_find of product %zu's id gave %d, "
				"position %zu of %zu", i, rc, pos, n);
	}
	(void)anthem_index_model_fingerprint(ix);
	scan(ix, ANTHEM_GEOMETRY_HYPERBOLIC);
	scan(ix, ANTHEM_GEOMETRY_EUCLIDEAN);
	search(ix);
}

/* The points the file holds, row-major (version 1: "points"; versions 2, 3:
 * "blocks", whatever else the file holds), to compare with what the index
 * loaded; NULL when the file is not one of those layouts. */
static float *file_points(const unsigned char *data, size_t size,
			  uint64_t *n, uint64_t *d)
{
	static mu_file f;
	float *p = NULL;
	if (mu_parse(&f, data, size) == 0) {
		mu_kv *ver = mu_find_kv(&f, "index.version");
		mu_tensor *pts = mu_find_tensor(&f, "points");
		mu_kv *cnt = mu_find_kv(&f, "index.count"),
		      *dim = mu_find_kv(&f, "index.dim");
		/* as docs/format.md says: no key is version 1 */
		uint64_t v = !ver ? 1 : ver->type == 1 ? ver->u : 0;
		if (v == 1 && pts && cnt && dim && cnt->type == 1 &&
		    dim->type == 1 && pts->rows == cnt->u && pts->cols == dim->u &&
		    (p = malloc(pts->rows * pts->cols * 4 + 1))) {
			memcpy(p, pts->data, pts->rows * pts->cols * 4);
			*n = cnt->u;
			*d = dim->u;
		} else if (v == 2 || v == 3) {
			p = mu_index_points(&f, n, d);
		}
	}
	mu_free(&f);
	return p;
}

/* A loaded index holds the file's points, bit for bit: a loader that
 * reads a tensor its version does not have (issue 13, defect 1) or past
 * a tensor's end ranks other numbers. */
static void same_points(const anthem_index *ix, const unsigned char *data,
			size_t size)
{
	uint64_t n = 0, d = 0;
	float *want = file_points(data, size, &n, &d);
	const anthem_vectors *v = anthem_index_vectors(ix);
	if (want && v && n * d > 0 && n == anthem_vectors_count(v) &&
	    d == anthem_vectors_dim(v) &&
	    memcmp(want, anthem_vectors_data(v), n * d * sizeof(float)) != 0)
		fz_fail("the loaded index's points are not the file's "
			"(%llu x %llu)", (unsigned long long)n,
			(unsigned long long)d);
	free(want);
}

static void load(const char *path, int repaired, const unsigned char *data,
		 size_t size)
{
	anthem_index *ix = NULL;
	fz_begin();
	int rc = fz_status(anthem_index_load(&ix, path, NULL),
			   "anthem_index_load");
	if ((rc != ANTHEM_OK) != !ix)
		fz_fail("anthem_index_load's *out does not match status %d", rc);
	if (repaired && rc == ANTHEM_ECHECKSUM)
		fz_fail("a repaired file fails its checksum: docs/format.md "
			"and the reader disagree");
	if (ix) {
		use_index(ix);
		same_points(ix, data, size);
	}
	anthem_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	fz_path("index.anthem", path, sizeof path);
	fz_write(path, data, size);
	load(path, 0, data, size);

	unsigned char *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (fz_repair(fixed, size)) {
		fz_write(path, fixed, size);
		load(path, 1, fixed, size);
	}
	/* the same, built (as the file says) by this target's model */
	static mu_file f; /* (file_points uses its own) */
	if (mu_parse(&f, fixed, size) == 0) {
		for (size_t i = 0; i < f.nkv; i++)
			if (strcmp(f.kv[i].key, "index.model_fingerprint") == 0 &&
			    f.kv[i].type == 1)
				f.kv[i].u = anthem_model_fingerprint(model);
		size_t cap = size + 4096, n;
		unsigned char *ours = malloc(cap);
		if (ours && (n = mu_write(&f, ours, cap)) > 0) {
			fz_write(path, ours, n);
			load(path, 1, ours, n);
		}
		free(ours);
	}
	mu_free(&f);
	free(fixed);
	return 0;
}
