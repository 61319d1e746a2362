/* Model files (internal): shared with the trainer's checkpoints.  In
 * lib/model, not lib/io: they read and write the model's insides, and io
 * is the container format alone, below every model. */
#ifndef ANTHEM_MODELFILE_H
#define ANTHEM_MODELFILE_H

#include "io/container.h"
#include "model/model_internal.h"

#include <anthem/io.h>

extern const char ath_model_magic[8];

/* The model's metadata (at most 16 entries, the two of issue 17's
 * experiments included; callers hold 20) and tensors (P_COUNT). */
size_t ath_model_kvs(const anthem_model *m, ath_kv *kv);

/* The format version a model's file needs: 2 with the product token
 * (older readers must refuse it), else 1. */
static inline uint32_t ath_model_format_version(const anthem_model *m)
{
	return m->cfg.product_token ? 2 : 1;
}
size_t ath_model_tensors(const anthem_model *m, ath_tensor *t);

/* A configuration from a file's metadata, validated. */
int ath_model_config_from(const ath_container *f, anthem_model_config *cfg,
			  uint64_t *data_fingerprint, const char *what,
			  const char *fn);

/* Parameters from tensors named prefix + name: pointed at, or copied. */
int ath_model_bind_tensors(anthem_model *m, const ath_container *f,
			   const char *prefix, int copy, const char *what,
			   const char *fn);

/* The bounds every reader applies to weights (finite, |w| <= 1e4,
 * lexical_avgdl > 0): the loader, the writers and a resumed checkpoint. */
int ath_model_check_weights(const anthem_model *m, const char *what,
			    const char *fn);

#endif
