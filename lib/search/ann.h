/* The approximate stage-1 index: a proximity graph over the product points
 * and their compact (int8) copies (docs/architecture.md, "The approximate
 * index"; docs/format.md, the "ann.*" sections).  Internal. */
#ifndef ANTHEM_ANN_H
#define ANTHEM_ANN_H

#include "geometry/geometry.h"
#include "search/scan.h"

#include <anthem/search.h>

#include <stddef.h>
#include <stdint.h>

/* An empty adjacency slot. */
#define ATH_ANN_NONE UINT32_MAX
/* Largest degree and construction beam accepted (a file asking for more
 * is refused). */
#define ATH_ANN_MAX_DEGREE 256
#define ATH_ANN_MAX_EF 4096

typedef struct ath_ann {
	int on;          /* the index has a graph */
	geo_space space; /* the geometry the graph and the codes were made in */
	size_t degree;   /* R: neighbours per node, ATH_ANN_NONE pads */
	size_t ef_construction;
	uint64_t seed;
	const uint32_t *adj; /* n x R */
	uint32_t *owned_adj;
	size_t nentry;       /* the first nodes inserted: every search starts */
	const uint32_t *entry; /* from all of them */
	uint32_t *owned_entry;
	int int8;            /* stage-1 points: 0 float32 rows, 1 int8 codes */
	const float *rows;   /* float32: n x d, row-major */
	float *owned_rows;
	const int8_t *codes; /* int8: n x cstride (d rounded up to 4) */
	int8_t *owned_codes;
	size_t cstride;
	const float *scale;  /* int8: d steps of the tangent coordinates */
	float *owned_scale;
} ath_ann;

void ath_ann_free(ath_ann *a);

/* Build the graph (and the stage-1 points) over n row-major points of
 * dimension d in space s.  Deterministic for a seed, whatever the number
 * of threads (insertions run in rounds: the searches of a round run in
 * parallel against the graph as it was before the round, then each target
 * takes the round's new nodes in insertion order, the targets in
 * parallel).  progress (may be NULL) is called after each round and at
 * the end, as anthem_index_options.ann_progress says. */
int ath_ann_build(ath_ann *a, const geo_space *s, const float *points,
		  size_t n, size_t d, size_t degree, size_t ef, uint64_t seed,
		  int int8, size_t threads,
		  void (*progress)(size_t, size_t, void *), void *user,
		  const char *fn);

/* The stage-1 point of node i as floats (decoded when int8). */
void ath_ann_point(const ath_ann *a, size_t d, size_t i, float *out);

/* Tangent-space int8 codes of n points (quant.c): per-dimension steps
 * scale[d] and codes n x cstride. */
int ath_quant_build(const geo_space *s, const float *points, size_t n,
		    size_t d, size_t cstride, float *scale, int8_t *codes);
void ath_quant_decode(const geo_space *s, const int8_t *code,
		      const float *scale, size_t d, float *out);

/* Counters of one graph search (the benchmark reads them). */
typedef struct ath_ann_stats {
	size_t distances; /* point-to-region distances computed */
	size_t rescored;  /* of which recomputed by the scan's float loop */
} ath_ann_stats;

/* The k products nearest to the simple region q by a beam search of width
 * ef (>= k), best first under (distance, index), each with the distance
 * the exact scan gives it (ath_scan_at over blocks / n2: the beam's
 * candidates are re-scored there, so a product has the same stage-1
 * distance whichever source found it).  work: ath_scan_work_floats(d). */
int ath_ann_search(const ath_ann *a, const ath_scan_query *q, size_t n,
		   const float *blocks, const float *n2, size_t k, size_t ef,
		   float *work, anthem_hit *out, size_t *nout,
		   ath_ann_stats *st, const char *fn);

/* Check a loaded graph: every neighbour and entry < n, no node its own
 * neighbour; -1 (with *bad the node) if not. */
int ath_ann_check(const ath_ann *a, size_t n, size_t *bad);

#endif
