/* A string -> index map (open addressing, FNV-1a), internal. */
#ifndef ANTHEM_STRMAP_H
#define ANTHEM_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ath_strmap {
	size_t cap, n;       /* cap is a power of two */
	const char **keys;   /* borrowed: the owner keeps the strings */
	size_t *vals;
} ath_strmap;

int ath_strmap_init(ath_strmap *m, size_t expected);
void ath_strmap_free(ath_strmap *m);
/* Insert key -> val unless present; *found receives the existing value
 * when it was.  Returns 0, or -1 when out of memory. */
int ath_strmap_put(ath_strmap *m, const char *key, size_t val, size_t *found,
		   int *was_present);
/* 1 and *val if present, else 0. */
int ath_strmap_get(const ath_strmap *m, const char *key, size_t *val);

#endif
