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
#include "search/scan.h"

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

void ath_scan8_free(ath_scan8 *c)
{
	free(c->owned_codes);
	free(c->owned_lanes);
	free(c->owned_scale);
	memset(c, 0, sizeof *c);
}

/* The codes of ath_quant_build, moved into blocks, with each product's
 * radial factor and the squared norm of the point it decodes to (scan.h). */
int ath_scan8_build(ath_scan8 *c, const geo_space *s, const float *blocks,
		    size_t n, size_t d, const char *fn)
{
	enum { W = ATH_SCAN_BLOCK };
	size_t nb = (n + W - 1) / W;
	ath_scan8_free(c);
	float *pts = malloc((n ? n : 1) * d * sizeof *pts);
	int8_t *rows = malloc((n ? n : 1) * d);
	c->owned_codes = calloc(nb ? nb : 1, d * W);
	c->owned_lanes = calloc(nb ? nb : 1, 2 * W * sizeof(float));
	c->owned_scale = malloc(d * sizeof(float));
	if (!pts || !rows || !c->owned_codes || !c->owned_lanes ||
	    !c->owned_scale) {
		free(pts);
		free(rows);
		ath_scan8_free(c);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	ath_scan_from_blocks(blocks, 0, n, d, pts);
	ath_quant_build(s, pts, n, d, d, c->owned_scale, rows);
	for (size_t i = 0; i < n; i++) {
		const int8_t *code = rows + i * d;
		int8_t *cb = c->owned_codes + i / W * d * W + i % W;
		float *lane = c->owned_lanes + i / W * 2 * W + i % W;
		float u[ANTHEM_MAX_DIM], x[ANTHEM_MAX_DIM];
		double u2 = 0.0, x2 = 0.0;
		for (size_t k = 0; k < d; k++) {
			cb[k * W] = code[k];
			u[k] = (float)code[k] * c->owned_scale[k];
			u2 += (double)u[k] * u[k];
		}
		geo_exp0(s, d, u, x);
		for (size_t k = 0; k < d; k++)
			x2 += (double)x[k] * x[k];
		/* exp0 keeps the direction: x = f u */
		float f = u2 > 0.0 ? (float)sqrt(x2 / u2) : 1.0f;
		/* the norm of what the scan decodes, in its order (scan_loop.c) */
		double n2 = 0.0;
		for (size_t k = 0; k < d; k++) {
			float xk = u[k] * f;
			n2 += (double)xk * xk;
		}
		lane[0] = f;
		lane[W] = (float)n2;
	}
	free(pts);
	free(rows);
	c->codes = c->owned_codes;
	c->lanes = c->owned_lanes;
	c->scale = c->owned_scale;
	c->on = 1;
	return ANTHEM_OK;
}
