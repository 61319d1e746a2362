/* Fuzz target "index": anthem_index_load (docs/format.md, "Index metadata").
 *
 * The input is written to a file and loaded without a model (no
 * fingerprint check), then once more with its header size and checksum
 * repaired so that mutations of the metadata and the points tensor get past
 * the checksum.  A loaded index is read back (ids, titles, points) and
 * scanned with a small hyperboloid of its dimension, in the ball and in
 * flat space. */
#include "fuzz.h"

#include <math.h>

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
	(void)anthem_index_model_fingerprint(ix);
	scan(ix, ANTHEM_GEOMETRY_HYPERBOLIC);
	scan(ix, ANTHEM_GEOMETRY_EUCLIDEAN);
}

static void load(const char *path, int repaired)
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
	if (ix)
		use_index(ix);
	anthem_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	fz_path("index.anthem", path, sizeof path);
	fz_write(path, data, size);
	load(path, 0);

	unsigned char *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (fz_repair(fixed, size)) {
		fz_write(path, fixed, size);
		load(path, 1);
	}
	free(fixed);
	return 0;
}
