/* Fuzz target "model": the model loaders (docs/format.md).
 *
 * The input is a candidate .anthem model file.  It is loaded from memory
 * (anthem_model_load_buffer) and from a file (anthem_model_load, mmap), and
 * its configuration read alone (anthem_model_read_config).  The two loaders
 * run the same checks, so they must agree on the status.  Then the input is
 * loaded once more with its header size and checksum repaired, so that
 * mutations behind the checksum (metadata, tensor table, configuration,
 * weights) are reached too.  A model that loads is used once (score, embed)
 * and freed: both must succeed, the distance a number (>= 0 for a model
 * without the lexical term).  Mutations are structure-aware
 * (mutator.h). */
#include "fuzz.h"
#include "mutator.h"

#include <math.h>

static void use_model(const anthem_model *m, float *score, int *score_rc)
{
	/* A model that loads serves any query: its weights are finite and
	 * bounded (|w| <= 1e4 since commit 096277e, after this target's
	 * first findings), so a score is a number and a query embeds. */
	fz_begin();
	*score_rc = fz_status(anthem_model_score(m, "musical instrument",
						 "guitar: a stringed instrument "
						 "with six strings", score),
			      "anthem_model_score");
	if (*score_rc != ANTHEM_OK)
		fz_fail("a loaded model cannot score (%d)", *score_rc);
	/* +inf is possible: gamma may be huge; the lexical term (step 8)
	 * subtracts w * BM25, so only a model without it is >= 0 */
	anthem_model_config c;
	anthem_model_config_init(&c);
	anthem_model_get_config(m, &c);
	if (isnan(*score) || (c.lexical_buckets == 0 && !(*score >= 0.0f)))
		fz_fail("a loaded model scores %g", *score);
	anthem_hyperboloid *h = NULL;
	fz_begin();
	int rc = fz_status(anthem_model_embed_query(m, "headgear", &h),
			   "anthem_model_embed_query");
	if (rc != ANTHEM_OK || !h)
		fz_fail("a loaded model cannot embed a query (%d)", rc);
	if (anthem_hyperboloid_dim(h) != anthem_model_dim(m))
		fz_fail("embedded query has dim %zu, model %zu",
			anthem_hyperboloid_dim(h), anthem_model_dim(m));
	anthem_hyperboloid_free(h);

	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	fz_begin();
	if (fz_status(anthem_model_get_config(m, &cfg),
		      "anthem_model_get_config"))
		fz_fail("anthem_model_get_config failed on a loaded model");
	if (cfg.dim != anthem_model_dim(m) || cfg.dim < 1 ||
	    cfg.dim > anthem_max_dim())
		fz_fail("loaded model has dim %zu (getter %zu)", cfg.dim,
			anthem_model_dim(m));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	fz_path("model.anthem", path, sizeof path);
	fz_write(path, data, size);

	anthem_model *mb = NULL, *mf = NULL;
	fz_begin();
	int rb = fz_status(anthem_model_load_buffer(&mb, data, size),
			   "anthem_model_load_buffer");
	fz_begin();
	int rf = fz_status(anthem_model_load(&mf, path), "anthem_model_load");
	if ((rb != ANTHEM_OK) != !mb || (rf != ANTHEM_OK) != !mf)
		fz_fail("a loader's *out does not match its status (%d, %d)",
			rb, rf);
	if (rb != rf)
		fz_fail("the same bytes load with status %d from a buffer and "
			"%d from a file", rb, rf);

	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	fz_begin();
	int rc = fz_status(anthem_model_read_config(path, &cfg),
			   "anthem_model_read_config");
	if (rf == ANTHEM_OK && rc != ANTHEM_OK)
		fz_fail("the model loads but anthem_model_read_config fails "
			"with %d", rc);

	if (mb && mf) {
		float sb = 0, sf = 0;
		int rsb, rsf;
		use_model(mb, &sb, &rsb);
		use_model(mf, &sf, &rsf);
		if (rsb != rsf || (rsb == ANTHEM_OK && !fz_same_float(sb, sf)))
			fz_fail("one model, two loaders, two scores: %d %g, %d %g",
				rsb, sb, rsf, sf);
		if (anthem_model_fingerprint(mb) != anthem_model_fingerprint(mf))
			fz_fail("fingerprints differ between the loaders");
		if (!anthem_model_is_mapped(mf))
			fz_fail("a model loaded from a file is not mapped");
		if (cfg.dim != anthem_model_dim(mf))
			fz_fail("anthem_model_read_config says dim %zu, the "
				"loaded model %zu", cfg.dim, anthem_model_dim(mf));
	}
	anthem_model_free(mb);
	anthem_model_free(mf);

	/* the same bytes with a consistent size field and checksum */
	unsigned char *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (fz_repair(fixed, size)) {
		anthem_model *m = NULL;
		fz_begin();
		rc = fz_status(anthem_model_load_buffer(&m, fixed, size),
			       "anthem_model_load_buffer");
		if ((rc != ANTHEM_OK) != !m)
			fz_fail("load_buffer's *out does not match status %d", rc);
		if (rc == ANTHEM_ECHECKSUM)
			fz_fail("a repaired buffer fails its checksum: "
				"docs/format.md and the reader disagree");
		if (m) {
			float s;
			int rs;
			use_model(m, &s, &rs);
			anthem_model_free(m);
		}
	}
	free(fixed);
	return 0;
}
