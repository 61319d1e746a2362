/* Pseudo-queries sampled from titles (the trainer's self-supervised
 * source, lib/train/selfsup.c).  Internal. */
#ifndef ANTHEM_SELFSUP_H
#define ANTHEM_SELFSUP_H

#include <anthem/data.h>

#include <stddef.h>
#include <stdint.h>

/* The title the lexical term scores for a pseudo pair: its span cut. */
typedef struct ath_lexcut {
	uint32_t query, product;
	const char *title;
} ath_lexcut;

typedef struct ath_selfsup {
	anthem_judgments *jud; /* the pseudo-queries, then the judgements */
	ath_lexcut *cuts;      /* by (query, product) */
	size_t ncuts, npseudo;
	char *cut_text;
} ath_selfsup;

/* per_product spans of each title (1-64), drawn from seed, as grade-3
 * judgements of the catalogue c, merged with the judgements j (NULL:
 * none; a pair in j keeps its grade and its whole title). */
int ath_selfsup_build(const anthem_catalog *c, const anthem_judgments *j,
		      size_t per_product, uint64_t seed, ath_selfsup *out,
		      const char *fn);

/* The cut title of (query, product) of s->jud, or NULL: score the title. */
const char *ath_selfsup_cut(const ath_selfsup *s, size_t query,
			    size_t product);

void ath_selfsup_free(ath_selfsup *s);

#endif
