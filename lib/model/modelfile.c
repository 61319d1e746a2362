/* .anthem model files: the model's configuration as metadata, its
 * parameters as tensors (docs/format.md). */
#include "model/modelfile.h"

#include "common/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char ath_model_magic[8] = {'A', 'N', 'T', 'H', 'E', 'M', 'M', 'D'};

static const char *const geometry_names[] = {"hyperbolic", "euclidean",
					     "vector"};

/* anthem.tokenizer, by anthem_tokenizer value */
static const char *const tokenizer_names[] = {"bytes-v1", "unicode-v1"};

size_t ath_model_kvs(const anthem_model *m, ath_kv *kv)
{
	const anthem_model_config *c = &m->cfg;
	size_t n = 0;
#define U64(k, v) kv[n++] = (ath_kv){.key = (k), .type = ATH_KV_U64, .u = (v)}
#define F64(k, v) kv[n++] = (ath_kv){.key = (k), .type = ATH_KV_F64, .f = (v)}
#define STR(k, v) kv[n++] = (ath_kv){.key = (k), .type = ATH_KV_STR, .s = (v)}
	STR("anthem.geometry", geometry_names[c->geometry]);
	U64("anthem.dim", c->dim);
	F64("anthem.curvature", c->curvature);
	U64("anthem.buckets", c->buckets);
	F64("anthem.gamma", c->gamma);
	U64("anthem.seed", c->seed);
	U64("anthem.hash_seed", c->hash_seed);
	U64("anthem.max_query_trigrams", c->max_query_trigrams);
	U64("anthem.max_title_trigrams", c->max_title_trigrams);
	U64("anthem.tie_embeddings", (uint64_t)c->tie_embeddings);
	U64("anthem.lexical_buckets", c->lexical_buckets);
	STR("anthem.tokenizer", tokenizer_names[c->tokenizer]);
	/* written only when set: other files stay byte for byte as before */
	if (c->title_buckets)
		U64("anthem.title_buckets", c->title_buckets);
	if (c->product_token)
		U64("anthem.product_token", (uint64_t)c->product_token);
	U64("anthem.data_fingerprint", m->data_fingerprint);
	STR("anthem.library_version", ANTHEM_VERSION_STRING);
#undef U64
#undef F64
#undef STR
	return n;
}

size_t ath_model_tensors(const anthem_model *m, ath_tensor *t)
{
	for (int i = 0; i < P_COUNT; i++)
		t[i] = (ath_tensor){.name = m->params[i].name,
				    .rows = m->params[i].rows,
				    .cols = m->params[i].cols,
				    .data = m->params[i].val};
	return P_COUNT;
}

static int need_kv(const ath_container *f, const char *key, ath_kv_type type,
		   const ath_kv **out, const char *what, const char *fn)
{
	*out = ath_container_kv(f, key);
	if (!*out || (*out)->type != type)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata '%s' is %s",
				 fn, what, key, *out ? "of the wrong type"
						     : "missing");
	return ANTHEM_OK;
}

int ath_model_config_from(const ath_container *f, anthem_model_config *cfg,
			  uint64_t *data_fingerprint, const char *what,
			  const char *fn)
{
	anthem_model_config c;
	anthem_model_config_init(&c);
	const ath_kv *kv;
	int rc;
	if ((rc = need_kv(f, "anthem.geometry", ATH_KV_STR, &kv, what, fn)))
		return rc;
	int g = -1;
	for (int i = 0; i < 3; i++)
		if (kv->slen == strlen(geometry_names[i]) &&
		    memcmp(kv->s, geometry_names[i], kv->slen) == 0)
			g = i;
	if (g < 0)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata "
				 "'anthem.geometry' is '%.*s', not hyperbolic, "
				 "euclidean or vector", fn, what,
				 (int)(kv->slen > 32 ? 32 : kv->slen), kv->s);
	c.geometry = (anthem_geometry)g;
	struct {
		const char *key;
		size_t *dst;
	} sizes[] = {{"anthem.dim", &c.dim},
		     {"anthem.buckets", &c.buckets},
		     {"anthem.max_query_trigrams", &c.max_query_trigrams},
		     {"anthem.max_title_trigrams", &c.max_title_trigrams}};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if ((rc = need_kv(f, sizes[i].key, ATH_KV_U64, &kv, what, fn)))
			return rc;
		if (kv->u > SIZE_MAX)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata '%s' "
					 "is too large", fn, what, sizes[i].key);
		*sizes[i].dst = (size_t)kv->u;
	}
	if ((rc = need_kv(f, "anthem.curvature", ATH_KV_F64, &kv, what, fn)))
		return rc;
	c.curvature = (float)kv->f;
	if ((rc = need_kv(f, "anthem.gamma", ATH_KV_F64, &kv, what, fn)))
		return rc;
	c.gamma = (float)kv->f;
	if ((rc = need_kv(f, "anthem.seed", ATH_KV_U64, &kv, what, fn)))
		return rc;
	c.seed = kv->u;
	if ((rc = need_kv(f, "anthem.hash_seed", ATH_KV_U64, &kv, what, fn)))
		return rc;
	c.hash_seed = kv->u;
	if ((rc = need_kv(f, "anthem.tie_embeddings", ATH_KV_U64, &kv, what, fn)))
		return rc;
	c.tie_embeddings = kv->u > 1 ? 2 : (int)kv->u; /* 2: refused below */
	/* optional: files written before the lexical term have none */
	kv = ath_container_kv(f, "anthem.lexical_buckets");
	if (kv && (kv->type != ATH_KV_U64 || kv->u > SIZE_MAX))
		return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata "
				 "'anthem.lexical_buckets' is %s", fn, what,
				 kv->type != ATH_KV_U64 ? "of the wrong type"
							: "too large");
	c.lexical_buckets = kv ? (size_t)kv->u : 0;
	/* optional: files written before it read bytes-v1 */
	kv = ath_container_kv(f, "anthem.tokenizer");
	c.tokenizer = ANTHEM_TOKENIZER_BYTES_V1;
	if (kv) {
		int t = -1;
		for (int i = 0; kv->type == ATH_KV_STR && i < 2; i++)
			if (kv->slen == strlen(tokenizer_names[i]) &&
			    memcmp(kv->s, tokenizer_names[i], kv->slen) == 0)
				t = i;
		if (t < 0 && kv->type != ATH_KV_STR)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata "
					 "'anthem.tokenizer' is of the wrong "
					 "type", fn, what);
		if (t < 0)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata "
					 "'anthem.tokenizer' is '%.*s', not "
					 "bytes-v1 or unicode-v1 (a newer "
					 "libanthem's?)", fn, what,
					 (int)(kv->slen > 32 ? 32 : kv->slen),
					 kv->s);
		c.tokenizer = (anthem_tokenizer)t;
	}
	/* optional, the experiments of issue 17: absent is 0 */
	const char *opt_keys[2] = {"anthem.title_buckets", "anthem.product_token"};
	uint64_t opt_vals[2] = {0, 0};
	for (int i = 0; i < 2; i++) {
		kv = ath_container_kv(f, opt_keys[i]);
		if (kv && (kv->type != ATH_KV_U64 || kv->u > SIZE_MAX))
			return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata '%s' "
					 "is %s", fn, what, opt_keys[i],
					 kv->type != ATH_KV_U64 ? "of the wrong type"
								: "too large");
		opt_vals[i] = kv ? kv->u : 0;
	}
	c.title_buckets = (size_t)opt_vals[0];
	c.product_token = opt_vals[1] > 1 ? 2 : (int)opt_vals[1]; /* 2: refused */
	kv = ath_container_kv(f, "anthem.data_fingerprint");
	*data_fingerprint = kv && kv->type == ATH_KV_U64 ? kv->u : 0;
	/* the same checks as for a caller's configuration */
	char msg[400];
	if ((rc = ath_config_check(&c, cfg, fn))) {
		snprintf(msg, sizeof msg, "%s", anthem_last_error());
		return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata: %s", fn,
				 what, msg);
	}
	return ANTHEM_OK;
}

/* Point (or copy, when copy is set) the parameters at the file's tensors,
 * checking that each is there with its expected shape. */
int ath_model_bind_tensors(anthem_model *m, const ath_container *f,
			   const char *prefix, int copy, const char *what,
			   const char *fn)
{
	for (int i = 0; i < P_COUNT; i++) {
		ag_param *p = &m->params[i];
		char name[ATH_MAX_KEY + 1];
		snprintf(name, sizeof name, "%s%s", prefix, p->name);
		const ath_tensor *t = ath_container_tensor(f, name);
		if (!t && p->rows * p->cols == 0)
			continue; /* an empty parameter a file may predate */
		if (!t)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: tensor '%s' is "
					 "missing", fn, what, name);
		if (t->rows != p->rows || t->cols != p->cols)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: tensor '%s' is "
					 "%llu x %llu, the metadata asks for "
					 "%zu x %zu", fn, what, name,
					 (unsigned long long)t->rows,
					 (unsigned long long)t->cols, p->rows,
					 p->cols);
		if (copy)
			memcpy(p->val, t->data, p->rows * p->cols * sizeof(float));
		else
			p->val = (float *)t->data; /* read-only mapping */
	}
	return ANTHEM_OK;
}

/* Weights that are NaN, infinite or absurdly large would poison every
 * score (a finite 1e38 overflows in the first product: found by fuzzing);
 * refuse them at load rather than at query time.  Training keeps weights
 * many orders of magnitude below the bound. */
#define MAX_WEIGHT 1e4f

int ath_model_check_weights(const anthem_model *m, const char *what,
			    const char *fn)
{
	for (int i = 0; i < P_COUNT; i++) {
		const ag_param *p = &m->params[i];
		for (size_t k = 0; k < p->rows * p->cols; k++)
			if (!(fabsf(p->val[k]) <= MAX_WEIGHT) ||
			    (i == P_LEX_AVGDL && !(p->val[k] > 0.0f)))
				return ath_error(ANTHEM_EFORMAT, "%s: %s: tensor "
						 "'%s' holds %g at %zu (weights "
						 "must be finite, |w| <= %g, "
						 "lexical_avgdl > 0)", fn,
						 what, p->name, p->val[k], k,
						 (double)MAX_WEIGHT);
	}
	return ANTHEM_OK;
}

static int load(anthem_model **out, ath_container *f, const char *what,
		const char *fn)
{
	anthem_model_config cfg;
	uint64_t data_fp;
	int rc = ath_model_config_from(f, &cfg, &data_fp, what, fn);
	anthem_model *m = NULL;
	if (!rc)
		rc = ath_model_wrap(&m, &cfg, fn);
	if (!rc)
		rc = ath_model_bind_tensors(m, f, "", 0, what, fn);
	if (!rc)
		rc = ath_model_check_weights(m, what, fn);
	if (rc) {
		anthem_model_free(m);
		ath_container_close(f);
		free(f);
		return rc;
	}
	m->file = f;
	m->fingerprint = ath_model_fingerprint_compute(m);
	m->data_fingerprint = data_fp;
	*out = m;
	return ANTHEM_OK;
}

int anthem_model_load(anthem_model **out, const char *path)
{
	static const char fn[] = "anthem_model_load";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(path, fn, "path");
	ath_container *f = malloc(sizeof *f);
	if (!f)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = ath_container_open(f, path, ath_model_magic, 0, fn);
	if (rc) {
		free(f);
		return rc;
	}
	return load(out, f, path, fn);
}

int anthem_model_load_buffer(anthem_model **out, const void *buf, size_t len)
{
	static const char fn[] = "anthem_model_load_buffer";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ath_container *f = malloc(sizeof *f);
	if (!f)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = ath_container_open_buffer(f, buf, len, ath_model_magic, fn);
	if (rc) {
		free(f);
		return rc;
	}
	return load(out, f, "buffer", fn);
}

int anthem_model_save(const anthem_model *m, const char *path)
{
	static const char fn[] = "anthem_model_save";
	ATH_CHECK_ARG(m, fn, "m");
	ATH_CHECK_ARG(path, fn, "path");
	/* a file that every reader would refuse is not written: it would
	 * replace a good model with nothing usable (the loader's bounds) */
	int rc = ath_model_check_weights(m, path, fn);
	if (rc) {
		char msg[400];
		snprintf(msg, sizeof msg, "%s", anthem_last_error());
		return ath_error(rc, "%s; not written, the file is unchanged", msg);
	}
	ath_kv kv[20];
	ath_tensor t[P_COUNT];
	size_t nkv = ath_model_kvs(m, kv), nt = ath_model_tensors(m, t);
	return ath_container_write_version(path, ath_model_magic,
					   ath_model_format_version(m), kv,
					   nkv, t, nt, fn);
}

int anthem_model_read_config(const char *path, anthem_model_config *cfg)
{
	static const char fn[] = "anthem_model_read_config";
	ATH_CHECK_ARG(path, fn, "path");
	ATH_CHECK_ARG(cfg, fn, "cfg");
	ath_container f;
	int rc = ath_container_open(&f, path, ath_model_magic, 1, fn);
	if (rc)
		return rc;
	anthem_model_config c;
	uint64_t fp;
	rc = ath_model_config_from(&f, &c, &fp, path, fn);
	ath_container_close(&f);
	if (rc)
		return rc;
	return ath_write_options(cfg, sizeof c, &c, "anthem_model_config", fn);
}

uint64_t anthem_model_fingerprint(const anthem_model *m)
{
	return m ? m->fingerprint : 0;
}

int anthem_model_is_mapped(const anthem_model *m)
{
	return m && m->file && ((const ath_container *)m->file)->map ? 1 : 0;
}
