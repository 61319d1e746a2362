/* Internal helpers shared by every part of libanthem. */
#ifndef ANTHEM_INTERNAL_H
#define ANTHEM_INTERNAL_H

#include <anthem/anthem.h>

#include <stddef.h>

#if defined(__GNUC__)
#define ATH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ATH_PRINTF(f, a)
#endif

/* Record a message for anthem_last_error() on this thread and return code,
 * so that a failure reads `return ath_error(ANTHEM_EINVAL, "...", ...);`. */
int ath_error(int code, const char *fmt, ...) ATH_PRINTF(2, 3);

/* Check that a caller's argument is not NULL; `what` names it. */
#define ATH_CHECK_ARG(ptr, fn, what)                                           \
	do {                                                                   \
		if (!(ptr))                                                    \
			return ath_error(ANTHEM_EINVAL,                        \
					 "%s: %s must not be NULL", fn, what); \
	} while (0)

/* calloc for the trigram tables and the arrays beside them (the trainer's
 * gradients and Adam moments): from 2 MiB on, a block of whole 2 MiB pages
 * with madvise(MADV_HUGEPAGE), since a training step reads and writes
 * scattered rows of them and spent much of its time in TLB misses; free()
 * releases it.  NULL on overflow or when out of memory. */
void *ath_calloc_large(size_t n, size_t size);

/* a * b into *out; 0 on success, -1 on overflow. */
static inline int ath_mul_overflow(size_t a, size_t b, size_t *out)
{
	if (b != 0 && a > (size_t)-1 / b)
		return -1;
	*out = a * b;
	return 0;
}

/* The body of every anthem_*_init_size: `full` holds the library's defaults
 * (full_size bytes, struct_size first); copy as much of it as both structs
 * hold into the caller's `dst` of `size` bytes, with struct_size saying how
 * much that was.  Never writes past dst + size. */
int ath_init_struct(void *dst, size_t size, void *full, size_t full_size,
		    const char *fn);

/* Read a caller's versioned options struct: *dst (full_size bytes, the
 * defaults already in it) gets as much of src as src->struct_size says
 * the caller's struct holds (NULL src: the defaults stay), and
 * struct_size = full_size.  A struct_size smaller than a size_t or larger
 * than full_size is refused (ANTHEM_EINVAL naming fn and the type). */
int ath_read_options(void *dst, size_t full_size, const void *src,
		     const char *type, const char *fn);

/* The other way: copy the library's struct src (full_size bytes) into a
 * caller's dst as far as dst->struct_size says dst holds (an older,
 * smaller struct gets the fields it knows), struct_size unchanged.  The
 * same sizes as ath_read_options are refused, with the same message. */
int ath_write_options(void *dst, size_t full_size, const void *src,
		      const char *type, const char *fn);

/* Validate a float array from a caller: every value finite.  Returns
 * ANTHEM_OK or an ANTHEM_EINVAL naming fn, what and the index. */
int ath_check_finite(const char *fn, const char *what, const float *x,
		     size_t n);

#endif
