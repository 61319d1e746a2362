/* The model handle's insides, shared by model.c, modelfile.c (its files) and
 * the trainer. */
#ifndef ANTHEM_MODEL_INTERNAL_H
#define ANTHEM_MODEL_INTERNAL_H

#include "layers/layers.h"

#include <anthem/model.h>

struct anthem_model {
	anthem_model_config cfg;
	geo_space space;
	size_t nweights;
	float *weights;        /* all parameters, in ath_param order */
	float *owned;          /* what free releases (NULL if mapped) */
	ag_param params[P_COUNT]; /* views into weights, no gradients */
	void *file;            /* ath_container the weights live in, or NULL */
	uint64_t fingerprint;  /* checksum of that file, 0 if none */
	uint64_t data_fingerprint; /* of the training data, 0 if unknown */
};

/* Validate a caller's configuration into a complete one (defaults for the
 * fields an older caller's struct lacks). */
int ath_config_check(const anthem_model_config *in, anthem_model_config *out,
		     const char *fn);

/* A model with allocated, uninitialised weights. */
int ath_model_new(anthem_model **out, const anthem_model_config *cfg,
		  const char *fn);

/* A model with no weight storage: the caller points params[i].val at
 * weights that outlive it (a mapped file). */
int ath_model_wrap(anthem_model **out, const anthem_model_config *cfg,
		   const char *fn);

/* Hash of the configuration and the weights (anthem_model_fingerprint). */
uint64_t ath_model_fingerprint_compute(const anthem_model *m);

/* Trigram bucket ids of a query (title = 0) or title (title = 1), read
 * with the model's tokenizer. */
size_t ath_model_tokens(const anthem_model *m, const char *text, int title,
			uint32_t *ids, ath_label *labels);

/* w * BM25 of title for query: what step 8 subtracts from the distance
 * (0 for a model without the lexical term). */
float ath_model_lexical(const anthem_model *m, const char *query,
			const char *title);

#endif
