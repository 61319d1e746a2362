/* L floats in one vector register of the target, for the loops compiled
 * once per x86-64 level (scan_loop.c, ann_loop.c): the includer defines L
 * (16, 8 or 4 lanes) and includes this once. */
#ifndef ANTHEM_SEARCH_LANES_H
#define ANTHEM_SEARCH_LANES_H

#include <stdint.h>

/* GCC's vector extension; aligned(4) allows any float-aligned address. */
typedef float vf __attribute__((vector_size(4 * L), aligned(4)));
typedef int32_t vi __attribute__((vector_size(4 * L), aligned(4)));

#define INLINE static inline __attribute__((always_inline))

/* GCC and Clang warn that passing 32- and 64-byte vectors by value has
 * another ABI with and without AVX; these helpers are always inlined,
 * never called. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#endif
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* (a > b ? a : b) and the like, lane by lane; compilers turn these into
 * max/min/blend instructions */
INLINE vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
INLINE vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
INLINE vf vmin(vf a, vf b) { return vsel(a < b, a, b); }
INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }

#endif
