/* libanthem: sets of product points (an index in memory). */
#ifndef ANTHEM_VECTORS_H
#define ANTHEM_VECTORS_H

#include <anthem/common.h>

ANTHEM_BEGIN_DECLS

/* A read-only set of `count` points of `dim` floats, row-major.  Immutable
 * after creation, so one set may be read from many threads at once. */
typedef struct anthem_vectors anthem_vectors;

/* Copy count x dim floats from `data` into a new set.  `data` may be NULL
 * only when count is 0.  Fails with ANTHEM_EINVAL if any value is NaN or
 * infinite (the message names the row and column), ANTHEM_ERANGE if dim is 0
 * or larger than anthem_max_dim(), ANTHEM_ENOMEM. */
ANTHEM_API int anthem_vectors_copy(anthem_vectors **out, size_t count,
				   size_t dim, const float *data);

/* Like anthem_vectors_copy but BORROWS `data`: nothing is copied, and the
 * caller keeps `data` alive and unchanged until anthem_vectors_free. */
ANTHEM_API int anthem_vectors_wrap(anthem_vectors **out, size_t count,
				   size_t dim, const float *data);

/* Release a set (and its copy of the data, if it owns one).  NULL is fine. */
ANTHEM_API void anthem_vectors_free(anthem_vectors *v);

/* The number of points and their dimension. */
ANTHEM_API size_t anthem_vectors_count(const anthem_vectors *v);
ANTHEM_API size_t anthem_vectors_dim(const anthem_vectors *v);

/* The points, count x dim row-major; owned by the set (or the caller, for a
 * wrapped set).  NULL for an empty set. */
ANTHEM_API const float *anthem_vectors_data(const anthem_vectors *v);

ANTHEM_END_DECLS

#endif
