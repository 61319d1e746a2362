/* The checksum of the file formats (docs/format.md) and the model's
 * fingerprint, streamed.  Internal. */
#ifndef ANTHEM_HASH_H
#define ANTHEM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Feed any byte ranges, then done: the same value as one ath_checksum of
 * their concatenation. */
typedef struct ath_hasher {
	uint64_t h, total;
	unsigned char buf[8];
	size_t n;
} ath_hasher;

void ath_hash_init(ath_hasher *s);
void ath_hash_feed(ath_hasher *s, const void *data, size_t len);
uint64_t ath_hash_done(ath_hasher *s);

/* 64-bit checksum of docs/format.md over a byte range (FNV-1a over
 * little-endian 64-bit words: every step is a bijection of the state, so
 * any single changed word always changes the result). */
uint64_t ath_checksum(const unsigned char *p, size_t n);

#endif
