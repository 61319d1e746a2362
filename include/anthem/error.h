/* libanthem: status codes and the per-thread error message. */
#ifndef ANTHEM_ERROR_H
#define ANTHEM_ERROR_H

#include <anthem/common.h>

ANTHEM_BEGIN_DECLS

/* Every function that can fail returns one of these.  The numbers are part
 * of the ABI: a code is never renumbered and never reused for another
 * meaning; new codes get new numbers. */
typedef enum anthem_status {
	ANTHEM_OK = 0,
	ANTHEM_EINVAL = -1,     /* an argument is invalid (NULL, NaN, ...) */
	ANTHEM_ENOMEM = -2,     /* out of memory */
	ANTHEM_EIO = -3,        /* reading or writing a file failed */
	ANTHEM_EFORMAT = -4,    /* a file or buffer is malformed */
	ANTHEM_EVERSION = -5,   /* a file is of a newer format version */
	ANTHEM_ECHECKSUM = -6,  /* a file's checksum does not match */
	ANTHEM_ETRUNCATED = -7, /* a file or buffer ends too early */
	ANTHEM_EMISMATCH = -8,  /* operands do not fit together */
	ANTHEM_ERANGE = -9,     /* a value or index is out of range */
	ANTHEM_ENOTFOUND = -10, /* a named thing does not exist */
	ANTHEM_ECANCELED = -11  /* a callback asked to stop */
} anthem_status;

/* A static, human-readable description of a status code (never NULL). */
ANTHEM_API const char *anthem_strerror(int status);

/* The message of the last failure on the calling thread: what failed and
 * where (file, line, field, index).  Never NULL; "" when this thread has seen
 * no failure.  Successful calls leave it as it was.  The string belongs to
 * the library and stays valid until the thread's next failing call. */
ANTHEM_API const char *anthem_last_error(void);

/* Forget the calling thread's last error message. */
ANTHEM_API void anthem_clear_error(void);

ANTHEM_END_DECLS

#endif
