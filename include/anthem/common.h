/* libanthem: shared definitions of the public headers. */
#ifndef ANTHEM_COMMON_H
#define ANTHEM_COMMON_H

#include <stddef.h>

/* Every public function is marked ANTHEM_API.  The library is built with
 * hidden visibility, so only what carries this mark is exported; a user who
 * links libanthem statically into a shared object of their own can define
 * ANTHEM_API before including these headers. */
#ifndef ANTHEM_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define ANTHEM_API __attribute__((visibility("default")))
#else
#define ANTHEM_API
#endif
#endif

#ifdef __cplusplus
#define ANTHEM_BEGIN_DECLS extern "C" {
#define ANTHEM_END_DECLS }
#else
#define ANTHEM_BEGIN_DECLS
#define ANTHEM_END_DECLS
#endif

ANTHEM_BEGIN_DECLS

/* The space a model, a hyperboloid or a set of points lives in. */
typedef enum anthem_geometry {
	/* Poincaré ball of curvature -c: ANTHEM. */
	ANTHEM_GEOMETRY_HYPERBOLIC = 0,
	/* Flat space, axis-aligned boxes: E-ANTHEM. */
	ANTHEM_GEOMETRY_EUCLIDEAN = 1,
	/* Flat space, one point per query: the vector baseline. */
	ANTHEM_GEOMETRY_VECTOR = 2
} anthem_geometry;

/* Largest dimension any handle accepts (also as a function, for bindings). */
#define ANTHEM_MAX_DIM 4096
ANTHEM_API size_t anthem_max_dim(void);

ANTHEM_END_DECLS

#endif
