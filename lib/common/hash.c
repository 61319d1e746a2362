/* The checksum of docs/format.md, streamed. */
#include "common/hash.h"

#include "common/endian.h"

#include <string.h>

void ath_hash_init(ath_hasher *s)
{
	s->h = ATH_FNV_BASIS;
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
			s->h = ath_fnv_step(s->h, ath_rd64(s->buf));
			s->n = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8)
		s->h = ath_fnv_step(s->h, ath_rd64(p));
	for (; len > 0 && s->n < 8; len--)
		s->buf[s->n++] = *p++;
}

uint64_t ath_hash_done(ath_hasher *s)
{
	uint64_t h = s->h;
	if (s->n > 0) { /* the tail, zero-padded to a word */
		memset(s->buf + s->n, 0, 8 - s->n);
		h = ath_fnv_step(h, ath_rd64(s->buf));
	}
	return ath_fnv_step(h, s->total);
}

uint64_t ath_checksum(const unsigned char *p, size_t n)
{
	ath_hasher s;
	ath_hash_init(&s);
	ath_hash_feed(&s, p, n);
	return ath_hash_done(&s);
}
