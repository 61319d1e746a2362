/* A growing text buffer, always NUL-terminated; after a failed allocation
 * it keeps what it had, sets failed and ignores further puts, so a writer
 * checks once at the end. */
#ifndef ANTHEM_TEXT_H
#define ANTHEM_TEXT_H

#include <stdlib.h>
#include <string.h>

typedef struct ath_text {
	char *b;
	size_t n, cap;
	int failed;
} ath_text;

static inline void ath_text_put(ath_text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (t->n + n + 1 > t->cap) {
		size_t cap = 2 * t->cap + n + 4096;
		char *nb = realloc(t->b, cap);
		if (!nb) {
			t->failed = 1;
			return;
		}
		t->b = nb;
		t->cap = cap;
	}
	memcpy(t->b + t->n, s, n);
	t->n += n;
	t->b[t->n] = '\0';
}

static inline void ath_text_puts(ath_text *t, const char *s)
{
	ath_text_put(t, s, strlen(s));
}

#endif
