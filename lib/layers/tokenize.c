/* Character trigrams hashed into buckets (docs/network.md, step 1). */
#include "layers/layers.h"

#include "common/hash.h"

#include <string.h>

/* FNV-1a over the trigram's bytes, seeded through the offset basis, then
 * the splitmix64 finaliser so that the low bits used by `mod buckets`
 * depend on every input bit.  The lexical term hashes its words the same
 * way (lexical.c). */
static uint64_t hash_bytes(const unsigned char *b, size_t n, uint64_t seed)
{
	uint64_t h = ATH_FNV_BASIS ^ seed;
	for (size_t i = 0; i < n; i++)
		h = ath_fnv_step(h, b[i]);
	return ath_hash_finish(h);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

typedef struct tok {
	uint64_t seed, buckets;
	size_t max, n;
	uint32_t *ids;
	char (*labels)[4];
	unsigned char win[3];
	size_t have;
} tok;

/* Record a token unless its bucket is already there. */
static void emit(tok *k, const unsigned char *b, size_t len)
{
	uint32_t id = (uint32_t)(hash_bytes(b, len, k->seed) % k->buckets);
	for (size_t i = 0; i < k->n; i++)
		if (k->ids[i] == id)
			return;
	k->ids[k->n] = id;
	if (k->labels) {
		memset(k->labels[k->n], 0, 4);
		memcpy(k->labels[k->n], b, len);
	}
	k->n++;
}

/* Append a byte of the wrapped, normalised text to the sliding window. */
static void push(tok *k, unsigned char c)
{
	if (k->have == 3) {
		k->win[0] = k->win[1];
		k->win[1] = k->win[2];
		k->have = 2;
	}
	k->win[k->have++] = c;
	if (k->have == 3 && k->n < k->max)
		emit(k, k->win, 3);
}

size_t ath_trigrams(const char *text, size_t len, uint64_t seed,
		    uint64_t buckets, size_t max, uint32_t *ids,
		    char (*labels)[4])
{
	tok k = {.seed = seed, .buckets = buckets, .max = max, .ids = ids,
		 .labels = labels};
	int started = 0, pending_space = 0;
	push(&k, '#');
	for (size_t i = 0; i < len && k.n < max; i++) {
		unsigned char c = (unsigned char)text[i];
		if (is_space(c)) {
			/* leading spaces dropped, runs folded into one */
			pending_space = started;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (pending_space)
			push(&k, ' ');
		pending_space = 0;
		push(&k, c);
		started = 1;
	}
	push(&k, '#'); /* a trailing space is dropped */
	if (k.n == 0) { /* empty text: the one token "##" */
		const unsigned char hh[2] = {'#', '#'};
		emit(&k, hh, 2);
	}
	return k.n;
}
