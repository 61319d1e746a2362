/* expf and tanhf over arrays, eight lanes at a time (internal).
 *
 * The attention scores (tanh of every hidden unit of every trigram) and the
 * query-title grid's softmaxes (an exp per cell) were a quarter of a
 * training step in libm's scalar calls.  These are Cephes' single-precision
 * polynomials (S. L. Moshier, Cephes Math Library, expf.c and tanhf.c)
 * written with GCC/Clang vector extensions, so that SSE2 (or any target's
 * vectors) runs them without intrinsics; other compilers get libm.
 * Accuracy: within 3 ulp of the correctly rounded result over the whole
 * float range (tests/test_autograd.c sweeps it).  Every element goes
 * through the same lanes code, a tail through a zero-padded vector, so a
 * value's result does not depend on its position or the array's length.
 * expf saturates: below -87.3 it returns e^-87.3 (1.2e-38) rather than a
 * subnormal, above 88.4 e^88.4; NaN is not expected here (the tape's
 * inputs are finite). */
#ifndef ANTHEM_VMATH_H
#define ANTHEM_VMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__clang__) || __GNUC__ >= 9)
#define VM_VECTOR 1
/* eight lanes: one AVX register where the caller is compiled for
 * x86-64-v3 or v4 (lib/autograd/autograd.c calls these from one copy per
 * level), two SSE registers in baseline code; the same operations on
 * every lane either way, so the same bits */
typedef float vm_fv __attribute__((vector_size(32)));
typedef int32_t vm_iv __attribute__((vector_size(32)));
#define VM_INLINE static inline __attribute__((always_inline))
/* always inlined: no call passes a 32-byte vector, whatever GCC says of
 * the ABI of one in baseline code (GCC reports it at the end of the
 * file, so the note stays off for the includer: autograd.c and its test) */
#pragma GCC diagnostic ignored "-Wpsabi"

VM_INLINE vm_fv vm_splat(float x)
{
	return (vm_fv){x, x, x, x, x, x, x, x};
}

/* m ? a : b, lane by lane (m all ones or all zeros per lane) */
VM_INLINE vm_iv vm_isplat(int32_t x)
{
	return (vm_iv){x, x, x, x, x, x, x, x};
}

VM_INLINE vm_fv vm_select(vm_iv m, vm_fv a, vm_fv b)
{
	return (vm_fv)(((vm_iv)a & m) | ((vm_iv)b & ~m));
}

VM_INLINE vm_fv vm_expv(vm_fv x)
{
	const vm_fv lo = vm_splat(-87.3365448f), hi = vm_splat(88.3762626f);
	x = vm_select(x < lo, lo, x);
	x = vm_select(x > hi, hi, x);
	/* x = n ln2 + r, |r| <= ln2 / 2; n rounded to nearest by adding and
	 * subtracting 1.5 * 2^23 (exact for |n| < 2^22) */
	const vm_fv magic = vm_splat(12582912.0f);
	vm_fv n = (x * vm_splat(1.44269504088896341f) + magic) - magic;
	vm_fv r = x - n * vm_splat(0.693359375f);
	r = r - n * vm_splat(-2.12194440e-4f);
	vm_fv p = vm_splat(1.9875691500E-4f);
	p = p * r + vm_splat(1.3981999507E-3f);
	p = p * r + vm_splat(8.3334519073E-3f);
	p = p * r + vm_splat(4.1665795894E-2f);
	p = p * r + vm_splat(1.6666665459E-1f);
	p = p * r + vm_splat(5.0000001201E-1f);
	p = p * (r * r) + r + vm_splat(1.0f);
	/* 2^n: n in [-126, 127] after the clamps, a normal float */
	vm_iv e = (__builtin_convertvector(n, vm_iv) + 127) << 23;
	return p * (vm_fv)e;
}

VM_INLINE vm_fv vm_tanhv(vm_fv x)
{
	vm_iv sign = (vm_iv)x & vm_isplat(INT32_MIN);
	vm_fv a = (vm_fv)((vm_iv)x ^ sign);
	/* |x| >= 0.625: 1 - 2 / (e^2|x| + 1); 2|x| capped where that is 1 in
	 * float already, below exp's own clamp */
	vm_fv a2 = vm_select(a > vm_splat(40.0f), vm_splat(80.0f), a + a);
	vm_fv big = vm_splat(1.0f) - vm_splat(2.0f) / (vm_expv(a2) + vm_splat(1.0f));
	/* |x| < 0.625: odd polynomial */
	vm_fv z = a * a;
	vm_fv p = vm_splat(-5.70498872745E-3f);
	p = p * z + vm_splat(2.06390887954E-2f);
	p = p * z + vm_splat(-5.37397155531E-2f);
	p = p * z + vm_splat(1.33314422036E-1f);
	p = p * z + vm_splat(-3.33332819422E-1f);
	vm_fv small = a + a * z * p;
	vm_fv t = vm_select(a < vm_splat(0.625f), small, big);
	return (vm_fv)((vm_iv)t | sign);
}

/* y[i] = f(x[i]); y may be x */
#define VM_ARRAY(name, f4)                                                     \
	VM_INLINE void name(size_t n, const float *x, float *y)                \
	{                                                                      \
		size_t i = 0;                                                  \
		for (; i + 8 <= n; i += 8) {                                   \
			vm_fv v;                                               \
			memcpy(&v, x + i, sizeof v);                           \
			v = f4(v);                                             \
			memcpy(y + i, &v, sizeof v);                           \
		}                                                              \
		if (i < n) {                                                   \
			vm_fv v = vm_splat(0.0f);                              \
			memcpy(&v, x + i, (n - i) * sizeof *x);                \
			v = f4(v);                                             \
			memcpy(y + i, &v, (n - i) * sizeof *y);                \
		}                                                              \
	}
VM_ARRAY(vm_exp, vm_expv)
VM_ARRAY(vm_tanh, vm_tanhv)
#undef VM_ARRAY

#else /* no vector extensions: libm */
#define VM_VECTOR 0
static inline void vm_exp(size_t n, const float *x, float *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = expf(x[i]);
}
static inline void vm_tanh(size_t n, const float *x, float *y)
{
	for (size_t i = 0; i < n; i++)
		y[i] = tanhf(x[i]);
}
#endif

#endif
