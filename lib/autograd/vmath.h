/* expf and tanhf over arrays, four lanes at a time (internal).
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
typedef float vm_f4 __attribute__((vector_size(16)));
typedef int32_t vm_i4 __attribute__((vector_size(16)));

static inline vm_f4 vm_splat(float x) { return (vm_f4){x, x, x, x}; }

/* m ? a : b, lane by lane (m all ones or all zeros per lane) */
static inline vm_f4 vm_select(vm_i4 m, vm_f4 a, vm_f4 b)
{
	return (vm_f4)(((vm_i4)a & m) | ((vm_i4)b & ~m));
}

static inline vm_f4 vm_exp4(vm_f4 x)
{
	const vm_f4 lo = vm_splat(-87.3365448f), hi = vm_splat(88.3762626f);
	x = vm_select(x < lo, lo, x);
	x = vm_select(x > hi, hi, x);
	/* x = n ln2 + r, |r| <= ln2 / 2; n rounded to nearest by adding and
	 * subtracting 1.5 * 2^23 (exact for |n| < 2^22) */
	const vm_f4 magic = vm_splat(12582912.0f);
	vm_f4 n = (x * vm_splat(1.44269504088896341f) + magic) - magic;
	vm_f4 r = x - n * vm_splat(0.693359375f);
	r = r - n * vm_splat(-2.12194440e-4f);
	vm_f4 p = vm_splat(1.9875691500E-4f);
	p = p * r + vm_splat(1.3981999507E-3f);
	p = p * r + vm_splat(8.3334519073E-3f);
	p = p * r + vm_splat(4.1665795894E-2f);
	p = p * r + vm_splat(1.6666665459E-1f);
	p = p * r + vm_splat(5.0000001201E-1f);
	p = p * (r * r) + r + vm_splat(1.0f);
	/* 2^n: n in [-126, 127] after the clamps, a normal float */
	vm_i4 e = (__builtin_convertvector(n, vm_i4) + 127) << 23;
	return p * (vm_f4)e;
}

static inline vm_f4 vm_tanh4(vm_f4 x)
{
	vm_i4 sign = (vm_i4)x & (vm_i4){INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
	vm_f4 a = (vm_f4)((vm_i4)x ^ sign);
	/* |x| >= 0.625: 1 - 2 / (e^2|x| + 1); 2|x| capped where that is 1 in
	 * float already, below exp's own clamp */
	vm_f4 a2 = vm_select(a > vm_splat(40.0f), vm_splat(80.0f), a + a);
	vm_f4 big = vm_splat(1.0f) - vm_splat(2.0f) / (vm_exp4(a2) + vm_splat(1.0f));
	/* |x| < 0.625: odd polynomial */
	vm_f4 z = a * a;
	vm_f4 p = vm_splat(-5.70498872745E-3f);
	p = p * z + vm_splat(2.06390887954E-2f);
	p = p * z + vm_splat(-5.37397155531E-2f);
	p = p * z + vm_splat(1.33314422036E-1f);
	p = p * z + vm_splat(-3.33332819422E-1f);
	vm_f4 small = a + a * z * p;
	vm_f4 t = vm_select(a < vm_splat(0.625f), small, big);
	return (vm_f4)((vm_i4)t | sign);
}

/* y[i] = f(x[i]); y may be x */
#define VM_ARRAY(name, f4)                                                     \
	static inline void name(size_t n, const float *x, float *y)            \
	{                                                                      \
		size_t i = 0;                                                  \
		for (; i + 4 <= n; i += 4) {                                   \
			vm_f4 v;                                               \
			memcpy(&v, x + i, sizeof v);                           \
			v = f4(v);                                             \
			memcpy(y + i, &v, sizeof v);                           \
		}                                                              \
		if (i < n) {                                                   \
			vm_f4 v = vm_splat(0.0f);                              \
			memcpy(&v, x + i, (n - i) * sizeof *x);                \
			v = f4(v);                                             \
			memcpy(y + i, &v, (n - i) * sizeof *y);                \
		}                                                              \
	}
VM_ARRAY(vm_exp, vm_exp4)
VM_ARRAY(vm_tanh, vm_tanh4)
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
