/* Status strings and the per-thread error message. */
#include "common/internal.h"

#include <stdarg.h>
#include <stdio.h>

#include <math.h>
#include <string.h>

/* One buffer per thread: a message written by one thread is never seen, nor
 * overwritten, by another (the process-global buffer of some libraries is
 * exactly the race this avoids). */
static _Thread_local char last_error[512];

int ath_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	return code;
}

const char *anthem_last_error(void) { return last_error; }

void anthem_clear_error(void) { last_error[0] = '\0'; }

const char *anthem_strerror(int status)
{
	switch (status) {
	case ANTHEM_OK: return "success";
	case ANTHEM_EINVAL: return "invalid argument";
	case ANTHEM_ENOMEM: return "out of memory";
	case ANTHEM_EIO: return "input/output error";
	case ANTHEM_EFORMAT: return "malformed data";
	case ANTHEM_EVERSION: return "unsupported format version";
	case ANTHEM_ECHECKSUM: return "checksum mismatch";
	case ANTHEM_ETRUNCATED: return "data ends too early";
	case ANTHEM_EMISMATCH: return "operands do not match";
	case ANTHEM_ERANGE: return "value out of range";
	case ANTHEM_ENOTFOUND: return "not found";
	case ANTHEM_ECANCELED: return "canceled";
	default: return "unknown status code";
	}
}

int ath_check_finite(const char *fn, const char *what, const float *x,
		     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return ath_error(ANTHEM_EINVAL,
					 "%s: %s[%zu] is %s, not a finite number",
					 fn, what, i, isnan(x[i]) ? "NaN" : "infinite");
	return ANTHEM_OK;
}

int ath_init_struct(void *dst, size_t size, void *full, size_t full_size,
		    const char *fn)
{
	ATH_CHECK_ARG(dst, fn, "the struct");
	if (size < sizeof(size_t))
		return ath_error(ANTHEM_EINVAL,
				 "%s: size %zu cannot hold struct_size", fn,
				 size);
	size_t n = size < full_size ? size : full_size;
	memcpy(full, &n, sizeof n); /* struct_size is the first field */
	memcpy(dst, full, n);
	return ANTHEM_OK;
}

/* A caller's struct_size (its first field), refused unless it can hold
 * struct_size and is no larger than the library's struct. */
static int caller_size(const void *s, size_t full_size, const char *type,
		       const char *fn, size_t *size)
{
	memcpy(size, s, sizeof *size);
	if (*size < sizeof(size_t) || *size > full_size)
		return ath_error(ANTHEM_EINVAL, "%s: %s struct_size is %zu, "
				 "expected %zu (call %s_init first)", fn, type,
				 *size, full_size, type);
	return ANTHEM_OK;
}

int ath_read_options(void *dst, size_t full_size, const void *src,
		     const char *type, const char *fn)
{
	if (!src)
		return ANTHEM_OK;
	size_t size;
	int rc = caller_size(src, full_size, type, fn, &size);
	if (rc)
		return rc;
	memcpy(dst, src, size);
	memcpy(dst, &full_size, sizeof full_size);
	return ANTHEM_OK;
}

int ath_write_options(void *dst, size_t full_size, const void *src,
		      const char *type, const char *fn)
{
	size_t size;
	int rc = caller_size(dst, full_size, type, fn, &size);
	if (rc)
		return rc;
	memcpy(dst, src, size);
	memcpy(dst, &size, sizeof size);
	return ANTHEM_OK;
}

size_t anthem_max_dim(void) { return ANTHEM_MAX_DIM; }
