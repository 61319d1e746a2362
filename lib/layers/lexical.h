/* The lexical term of the distance (docs/network.md, step 8): a BM25 score
 * of the title's words for the query's words, with document frequencies
 * and the mean title length of the training catalogue kept in the model,
 * weighted by a learned scalar and subtracted from the geometric distance.
 * Internal. */
#ifndef ANTHEM_LEXICAL_H
#define ANTHEM_LEXICAL_H

#include "layers/layers.h"

#include <stddef.h>
#include <stdint.h>

/* BM25's saturation and length normalisation (Robertson and Zaragoza,
 * "The Probabilistic Relevance Framework: BM25 and Beyond", 2009; the
 * values SQLite FTS5 and Lucene use). */
#define ATH_LEX_K1 1.2
#define ATH_LEX_B 0.75
/* distinct words of a query that count (a query is cut to 64 trigrams, so
 * it has fewer words than that) */
#define ATH_LEX_QWORDS 64

/* Word ids are this hash seed's buckets: another stream than the
 * trigrams' (the salt is "words"). */
uint64_t ath_lex_seed(const anthem_model_config *cfg);

/* bytes-v1: the next word of text at or after *pos (a word: a maximal run
 * of ASCII letters and digits and bytes >= 0x80, A-Z lower-cased), hashed
 * into `buckets`; returns 0 at the end of text. */
int ath_word_next(const char *text, size_t *pos, uint64_t seed,
		  uint64_t buckets, uint32_t *id);

/* The words of a text under a model's tokenizer: bytes-v1 as
 * ath_word_next, unicode-v1 maximal runs of letters, marks and digits
 * (general categories L, M, N) of the text normalised as for the
 * trigrams, each hashed over its UTF-8 bytes (so an ASCII word has the
 * same id under both). */
typedef struct ath_words {
	int tokenizer;
	const char *text;
	size_t pos;          /* bytes-v1 */
	uint64_t seed, buckets;
	ath_norm z;          /* unicode-v1 */
} ath_words;

void ath_words_init(ath_words *w, int tokenizer, const char *text,
		    uint64_t seed, uint64_t buckets);
int ath_words_next(ath_words *w, uint32_t *id);

/* A query's distinct words with their idf (from the model), in order of
 * first occurrence. */
typedef struct ath_lexq {
	size_t n;
	uint32_t word[ATH_LEX_QWORDS];
	float idf[ATH_LEX_QWORDS];
} ath_lexq;

/* Is the lexical term on (lexical_buckets > 0)? */
int ath_lex_on(const anthem_model_config *cfg);
/* The learned weight w of the term (0 when off). */
float ath_lex_weight(const anthem_model_config *cfg, const ag_param *params);

void ath_lex_query(const anthem_model_config *cfg, const ag_param *params,
		   const char *query, ath_lexq *q);

/* One query word's BM25 term: idf * tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl)) */
float ath_lex_term(float idf, uint32_t tf, uint32_t dl, float avgdl);

/* BM25 of a title's text for the query (0 when no word is shared). */
float ath_lex_title(const anthem_model_config *cfg, const ag_param *params,
		    const ath_lexq *q, const char *title);

/* Postings of a list of titles: for each word bucket, the titles holding
 * it and how often; what stage 1 and the trainer use to find the titles
 * that share a query's words without reading every title. */
typedef struct ath_postings {
	size_t n;        /* titles */
	uint64_t buckets;
	uint32_t *dl;    /* words per title */
	size_t *off;     /* buckets + 1: the postings of bucket w are
			    [off[w], off[w + 1]) */
	uint32_t *doc, *tf;
} ath_postings;

/* Build from n titles (NULL titles count as empty).  Returns ANTHEM_OK or
 * ANTHEM_ENOMEM with the message set for fn. */
int ath_postings_build(ath_postings *p, const anthem_model_config *cfg,
		       const char *const *titles, size_t n, const char *fn);
void ath_postings_free(ath_postings *p);

/* out[i] += BM25 of title i for q, for every title sharing a word with q
 * (the same value as ath_lex_title on that title, to the bit). */
void ath_postings_scores(const ath_postings *p, const ag_param *params,
			 const ath_lexq *q, float *out);

/* The postings q's words hold (an upper bound on the titles sharing a word
 * with q, repeated words counted again). */
size_t ath_postings_count(const ath_postings *p, const ath_lexq *q);

/* The titles sharing a word with q, ascending, into doc and their BM25
 * into val (the floats ath_postings_scores adds up for them: the same
 * terms in the same order); returns how many.  doc, val and the scratch
 * tdoc, tval hold ath_postings_count(p, q) entries each. */
size_t ath_postings_sparse(const ath_postings *p, const ag_param *params,
			   const ath_lexq *q, uint32_t *doc, float *val,
			   uint32_t *tdoc, float *tval);

/* Set the model's document frequencies (as idf) and mean title length
 * from the postings of its training catalogue. */
void ath_lex_fit(const ath_postings *p, ag_param *params);

#endif
