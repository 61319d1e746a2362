/* anthem_vectors: a read-only set of points, owned or borrowed. */
#include "common/internal.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

struct anthem_vectors {
	size_t count, dim;
	const float *data; /* what readers use */
	float *owned;      /* what free releases: data for a copy, else NULL */
};

static int check_shape(const char *fn, size_t count, size_t dim,
		       const float *data, size_t *total)
{
	if (dim == 0 || dim > ANTHEM_MAX_DIM)
		return ath_error(ANTHEM_ERANGE,
				 "%s: dim is %zu, must be 1 to %d", fn, dim,
				 ANTHEM_MAX_DIM);
	if (ath_mul_overflow(count, dim, total) ||
	    *total > ((size_t)-1) / sizeof(float))
		return ath_error(ANTHEM_ERANGE,
				 "%s: %zu x %zu floats overflow size_t", fn,
				 count, dim);
	if (count > 0 && !data)
		return ath_error(ANTHEM_EINVAL,
				 "%s: data is NULL for %zu points", fn, count);
	for (size_t i = 0; i < *total; i++)
		if (!isfinite(data[i]))
			return ath_error(ANTHEM_EINVAL,
					 "%s: point %zu, dimension %zu is not "
					 "a finite number",
					 fn, i / dim, i % dim);
	return ANTHEM_OK;
}

static int make(anthem_vectors **out, size_t count, size_t dim,
		const float *data, int copy, const char *fn)
{
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	size_t total = 0;
	int rc = check_shape(fn, count, dim, data, &total);
	if (rc)
		return rc;
	anthem_vectors *v = calloc(1, sizeof *v);
	if (!v)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	v->count = count;
	v->dim = dim;
	if (copy && total > 0) {
		v->owned = malloc(total * sizeof(float));
		if (!v->owned) {
			free(v);
			return ath_error(ANTHEM_ENOMEM,
					 "%s: out of memory for %zu floats",
					 fn, total);
		}
		memcpy(v->owned, data, total * sizeof(float));
		v->data = v->owned;
	} else {
		v->data = total > 0 ? data : NULL;
	}
	*out = v;
	return ANTHEM_OK;
}

int anthem_vectors_copy(anthem_vectors **out, size_t count, size_t dim,
			const float *data)
{
	return make(out, count, dim, data, 1, "anthem_vectors_copy");
}

int anthem_vectors_wrap(anthem_vectors **out, size_t count, size_t dim,
			const float *data)
{
	return make(out, count, dim, data, 0, "anthem_vectors_wrap");
}

void anthem_vectors_free(anthem_vectors *v)
{
	if (!v)
		return;
	free(v->owned);
	free(v);
}

size_t anthem_vectors_count(const anthem_vectors *v)
{
	return v ? v->count : 0;
}

size_t anthem_vectors_dim(const anthem_vectors *v) { return v ? v->dim : 0; }

const float *anthem_vectors_data(const anthem_vectors *v)
{
	return v ? v->data : NULL;
}
