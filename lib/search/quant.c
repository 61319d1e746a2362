/* Compact stage-1 points: int8 codes of the tangent vectors at the origin
 * (docs/architecture.md, "Compact points").  Uniform steps in ball
 * coordinates would spend their resolution near the origin, where
 * hyperbolic embeddings put few points, and lose it near the boundary,
 * where a step of 1/127 of the radius is a long hyperbolic distance; the
 * log map at the origin stretches the boundary out (a radius r becomes
 * artanh(sqrt(c) r) / sqrt(c)), so that uniform steps there are steps of
 * about equal hyperbolic length.  One step per dimension (the largest
 * |coordinate| over 127); a code decodes through the exponential map. */
#include "search/ann.h"

#include "common/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ath_quant_build(const geo_space *s, const float *points, size_t n,
		    size_t d, size_t cstride, float *scale, int8_t *codes)
{
	float u[ANTHEM_MAX_DIM];
	for (size_t k = 0; k < d; k++)
		scale[k] = 0.0f;
	for (size_t i = 0; i < n; i++) {
		geo_log0(s, d, points + i * d, u);
		for (size_t k = 0; k < d; k++)
			if (fabsf(u[k]) > scale[k])
				scale[k] = fabsf(u[k]);
	}
	for (size_t k = 0; k < d; k++)
		scale[k] = scale[k] > 0.0f ? scale[k] / 127.0f : 1.0f;
	for (size_t i = 0; i < n; i++) {
		int8_t *c = codes + i * cstride;
		geo_log0(s, d, points + i * d, u);
		for (size_t k = 0; k < d; k++) {
			float x = nearbyintf(u[k] / scale[k]);
			c[k] = (int8_t)(x > 127.0f ? 127 : x < -127.0f ? -127 : x);
		}
		for (size_t k = d; k < cstride; k++)
			c[k] = 0;
	}
	return ANTHEM_OK;
}

void ath_quant_decode(const geo_space *s, const int8_t *code,
		      const float *scale, size_t d, float *out)
{
	float u[ANTHEM_MAX_DIM];
	for (size_t k = 0; k < d; k++)
		u[k] = (float)code[k] * scale[k];
	geo_exp0(s, d, u, out);
}
