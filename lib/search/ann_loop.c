/* The approximate index's distance loops: 16 points at a time, each a lane
 * (ann.c gathers them).  Compiled once per x86-64 level with its -march and
 * vector width L (16, 8, 4 lanes), as scan_loop.c and for its reason: GCC
 * keeps vectors wider than the target's registers in memory. */
#include "search/ann_loop.h"

#include <stdint.h>

#ifndef ANN_LANES /* the baseline copy */
#define ANN_LANES 4
#define ANN_LEVEL base
#endif
#define L ANN_LANES
#define W 16
#define PASTE(a, b) a##b
#define PASTE2(a, b) PASTE(a, b)
#define NAME(prefix) PASTE2(prefix, ANN_LEVEL)

#include "search/lanes.h"

void NAME(ath_ann_pair_)(const float *blk, size_t d, const float *y,
			 const float *a, float ay, float *out)
{
	for (size_t o = 0; o < W; o += L) {
		vf s0 = {0}, s1 = {0};
		size_t k = 0;
		for (; k + 1 < d; k += 2) {
			vf e0 = *(const vf *)(blk + k * W + o) - y[k];
			vf e1 = *(const vf *)(blk + (k + 1) * W + o) - y[k + 1];
			s0 += e0 * e0;
			s1 += e1 * e1;
		}
		if (k < d) {
			vf e = *(const vf *)(blk + k * W + o) - y[k];
			s0 += e * e;
		}
		*(vf *)(out + o) = (s0 + s1) * *(const vf *)(a + o) * ay;
	}
}
