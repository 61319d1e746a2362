/* The index handle's insides, shared by index.c and the query pipeline.
 * Internal. */
#ifndef ANTHEM_INDEX_INTERNAL_H
#define ANTHEM_INDEX_INTERNAL_H

#include "geometry/geometry.h"
#include "layers/lexical.h"
#include "search/ann.h"

#include <anthem/search.h>

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

struct ath_container;

struct anthem_index {
	size_t n, dim;
	/* the points in the scan's layout (scan.h): mapped from a file, or
	 * owned (built, or converted from a version-1 file) */
	const float *blocks;
	float *owned_blocks;
	/* squared norms, one per block lane; an index with int8 points
	 * keeps none after its load or build (its stage 1 reads the codes,
	 * and the re-scoring computes the few blocks it needs) until a scan
	 * of the float points asks for them: ath_index_norms */
	_Atomic(float *) norm2;
	/* the row-major set, made on the first anthem_index_vectors */
	_Atomic(anthem_vectors *) vec;
	/* ids and titles: "id\0title\0" per product, found through one
	 * offset per product (4 bytes while the strings fit in 4 GiB, not two
	 * pointers: at d = 16 those would be a quarter of the index) */
	char *strings;
	uint32_t *off32;
	uint64_t *off64;
	uint64_t model_fp;    /* 0: no model recorded (ath_index_from_points) */
	/* the model's space, when known (built, loaded with a model, or
	 * recorded in the file): the points must lie in its ball */
	int has_space;
	geo_space space;
	size_t far;           /* the product of largest norm (checked) */
	char *path;           /* when loaded: names the file in errors */
	struct ath_container *file;  /* when loaded */
	/* the titles' word postings, for the lexical term of the model the
	 * index was built or loaded with (step 8; empty otherwise) */
	ath_postings post;
	uint64_t post_seed;
	/* product id -> position: open addressing over a power-of-two
	 * number of slots, each position + 1 (0: empty), at least twice as
	 * many slots as products (docs/format.md gives the memory); mapped
	 * from a file that has the table ("find.slots"), else built and
	 * owned */
	const uint32_t *find_slots;
	uint32_t *owned_find;
	size_t find_mask;
	/* the approximate index (ann.on: built or loaded with one) */
	ath_ann ann;
	/* the points' int8 codes for the scan (scan8.on: built with
	 * ANTHEM_POINTS_INT8, or loaded from a file that has them) */
	ath_scan8 scan8;
	/* the layout version of the file it was loaded from (0: built) */
	unsigned file_version;
};

static inline const char *ath_index_id(const anthem_index *ix, size_t i)
{
	return ix->strings + (ix->off32 ? ix->off32[i] : ix->off64[i]);
}

static inline const char *ath_index_title(const anthem_index *ix, size_t i)
{
	const char *id = ath_index_id(ix, i);
	return id + strlen(id) + 1;
}

/* The squared norms of all the points, for a scan of the float points:
 * kept, or made now and kept (an index with int8 points); NULL when out of
 * memory (the error set, fn naming the caller).  Safe from several
 * threads, as a loaded index must be. */
const float *ath_index_norms(const anthem_index *ix, const char *fn);

/* Build the approximate index over ix's points in space s (o->ann is not
 * read: the caller decided). */
int ath_index_add_ann(anthem_index *ix, const geo_space *s,
		      const anthem_index_options *o, const char *fn);

/* May model m search this index?  ANTHEM_EMISMATCH unless the index was
 * built by m (its recorded fingerprint; an index of raw points records
 * none), ANTHEM_ERANGE if a point lies outside m's ball (a crafted file
 * loaded without a model).  O(1): the point of largest norm was found at
 * load. */
int ath_index_check_model(const anthem_index *ix, const anthem_model *m,
			  const char *fn);

/* ANTHEM_ERANGE if some point of ix lies outside the ball of space s (the
 * check anthem_hyperboloid_distances makes, on the point of largest
 * norm). */
int ath_index_check_space(const anthem_index *ix, const geo_space *s,
			  const char *fn);

/* Do the index's postings belong to this model's lexical term? */
int ath_index_has_postings(const anthem_index *ix,
			   const anthem_model_config *cfg);

#endif
