/* L floats in one vector register of the target, for the loops compiled
 * once per x86-64 level (scan_loop.c, ann_loop.c): the includer defines L
 * (16, 8 or 4 lanes) and includes this once. */
#ifndef ANTHEM_SEARCH_LANES_H
#define ANTHEM_SEARCH_LANES_H

#include <stdint.h>

/* GCC's vector extension; aligned(4) allows any float-aligned address. */
typedef float vf __attribute__((vector_size(4 * L), aligned(4)));
typedef int32_t vi __attribute__((vector_size(4 * L), aligned(4)));
typedef uint32_t vu __attribute__((vector_size(4 * L), aligned(4)));

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

/* (a > b ? a : b) and (a < b ? a : b), lane by lane.  That is exactly
 * what x86's maxps / minps compute (the second operand when the lanes are
 * unordered or equal, NaN and signed zeros included), so the levels use
 * them: GCC 12 compiles the select below into a compare and two or three
 * masked moves, and the scan's clamps then cost a third of its loop.  The
 * select stays for other targets. */
INLINE vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
#if L == 16 && defined(__AVX512F__)
#include <immintrin.h>
INLINE vf vmax(vf a, vf b) { return (vf)_mm512_max_ps((__m512)a, (__m512)b); }
INLINE vf vmin(vf a, vf b) { return (vf)_mm512_min_ps((__m512)a, (__m512)b); }
#elif L == 8 && defined(__AVX__)
#include <immintrin.h>
INLINE vf vmax(vf a, vf b) { return (vf)_mm256_max_ps((__m256)a, (__m256)b); }
INLINE vf vmin(vf a, vf b) { return (vf)_mm256_min_ps((__m256)a, (__m256)b); }
#elif L == 4 && defined(__SSE__)
#include <xmmintrin.h>
INLINE vf vmax(vf a, vf b) { return (vf)_mm_max_ps((__m128)a, (__m128)b); }
INLINE vf vmin(vf a, vf b) { return (vf)_mm_min_ps((__m128)a, (__m128)b); }
#else
INLINE vf vmax(vf a, vf b) { return vsel(a > b, a, b); }
INLINE vf vmin(vf a, vf b) { return vsel(a < b, a, b); }
#endif
INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }

#endif
