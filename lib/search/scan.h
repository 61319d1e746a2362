/* The stage-1 scan loop (internal). */
#ifndef ANTHEM_SCAN_H
#define ANTHEM_SCAN_H

#include "geometry/geometry.h"

#include <stddef.h>

/* Larger dimensions take the general path (anthem_hyperboloid_distances). */
#define ATH_SCAN_MAX_DIM 256

/* What one query contributes to every product's distance, computed once. */
typedef struct ath_scan_query {
	geo_space s;
	size_t d;
	float gamma;
	double cc; /* curvature, 0 in flat space */
	double c[ATH_SCAN_MAX_DIM], qmax[ATH_SCAN_MAX_DIM], qmin[ATH_SCAN_MAX_DIM];
	double c2, qmax2, qmin2;
} ath_scan_query;

/* For a simple hyperboloid (c, l) of dimension d <= ATH_SCAN_MAX_DIM. */
void ath_scan_prepare(const geo_space *s, size_t d, const float *c,
		      const float *l, float gamma, ath_scan_query *q);

/* The distance of point v, whose squared norm is v2 (geo_box_dist's value
 * up to rounding). */
float ath_scan_one(const ath_scan_query *q, const float *v, double v2);

#endif
