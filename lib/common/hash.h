/* The hashes of libanthem, each defined once: FNV-1a and what is built on
 * it (the checksum of docs/format.md, the model's fingerprint, string
 * tables; step 1's trigrams and the lexical term's words of
 * docs/network.md), and the splitmix64 finaliser.  Internal. */
#ifndef ANTHEM_HASH_H
#define ANTHEM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a (Fowler, Noll, Vo): the 64-bit offset basis and prime, and one
 * step, which takes a byte (trigrams, words, strings) or a whole 64-bit
 * word (the checksum).  A seeded hash starts from ATH_FNV_BASIS ^ seed. */
#define ATH_FNV_BASIS 0xcbf29ce484222325ULL
#define ATH_FNV_PRIME 0x100000001b3ULL

static inline uint64_t ath_fnv_step(uint64_t h, uint64_t x)
{
	return (h ^ x) * ATH_FNV_PRIME;
}

/* FNV-1a of a NUL-terminated string, its high bits folded into the low
 * ones that an open-addressing table's mask keeps: the hash of the string
 * map and of an index's id table. */
static inline uint64_t ath_str_hash(const char *s)
{
	uint64_t h = ATH_FNV_BASIS;
	for (; *s; s++)
		h = ath_fnv_step(h, (unsigned char)*s);
	return h ^ (h >> 29);
}

/* splitmix64 (Steele, Lea, Flood 2014): its state advances by
 * ATH_SPLITMIX_GAMMA and each output is the finaliser of the state.  The
 * finaliser alone ends the trigram and word hashes: every output bit
 * depends on every input bit, so the low bits that `mod buckets` keeps
 * are well mixed. */
#define ATH_SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL

static inline uint64_t ath_hash_finish(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

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
