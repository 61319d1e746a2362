/* The checksum of docs/format.md, streamed. */
#include "common/hash.h"

#include "common/endian.h"

#include <string.h>

#define CK_PRIME 0x100000001b3ULL
#define CK_BASIS 0xcbf29ce484222325ULL

void ath_hash_init(ath_hasher *s)
{
	s->h = CK_BASIS;
	s->total = 0;
	s->n = 0;
}

void ath_hash_feed(ath_hasher *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	s->total += len;
	while (len > 0 && s->n > 0 && s->n < 8) { /* finish a partial word */
		s->buf[s->n++] = *p++;
		len--;
		if (s->n == 8) {
			s->h = (s->h ^ ath_rd64(s->buf)) * CK_PRIME;
			s->n = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8)
		s->h = (s->h ^ ath_rd64(p)) * CK_PRIME;
	for (; len > 0 && s->n < 8; len--)
		s->buf[s->n++] = *p++;
}

uint64_t ath_hash_done(ath_hasher *s)
{
	uint64_t h = s->h;
	if (s->n > 0) { /* the tail, zero-padded to a word */
		memset(s->buf + s->n, 0, 8 - s->n);
		h = (h ^ ath_rd64(s->buf)) * CK_PRIME;
	}
	return (h ^ s->total) * CK_PRIME;
}

uint64_t ath_checksum(const unsigned char *p, size_t n)
{
	ath_hasher s;
	ath_hash_init(&s);
	ath_hash_feed(&s, p, n);
	return ath_hash_done(&s);
}
