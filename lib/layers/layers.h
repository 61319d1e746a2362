/* The ANTHEM network (docs/network.md) built on the autograd tape.
 * Internal. */
#ifndef ANTHEM_LAYERS_H
#define ANTHEM_LAYERS_H

#include "autograd/autograd.h"

#include <anthem/model.h>

#include <stdint.h>

/* ---- step 1: text --------------------------------------------------------- */

/* The tokenizers of docs/network.md step 1: bytes-v1 (ASCII lower-casing,
 * byte trigrams) and unicode-v1 (NFKC, case folding, default-ignorables
 * dropped, Unicode whitespace folded to a space, code-point trigrams).
 * ATH_TOK_UNICODE_SLOW is unicode-v1 with the ASCII fast path off, every
 * character through utf8proc: what the tests and the fuzzer compare the
 * fast path with. */
enum { ATH_TOK_BYTES = ANTHEM_TOKENIZER_BYTES_V1,
       ATH_TOK_UNICODE = ANTHEM_TOKENIZER_UNICODE_V1,
       ATH_TOK_UNICODE_SLOW = 99 };

/* The normalised code points of a text, a chunk at a time, so that neither
 * a long text nor the hot path needs the heap.  A chunk ends before an
 * ASCII character (nothing composes with one or reorders across it); a run
 * of more than ATH_NORM_CAP code points (decomposed) without one is cut
 * before its last starter. */
#define ATH_NORM_CAP 512
typedef struct ath_norm {
	const unsigned char *s;
	size_t len, pos;
	int slow;        /* ATH_TOK_UNICODE_SLOW */
	size_t at, n;    /* buf[at..n): normalised, not yet read */
	size_t carry;    /* code points kept for the next chunk, at buf[n] */
	int32_t buf[ATH_NORM_CAP + 64];
} ath_norm;

void ath_norm_init(ath_norm *z, int tokenizer, const char *text, size_t len);
/* Refill buf; returns 0 at the end of the text. */
int ath_norm_fill(ath_norm *z);

/* The next normalised code point, any Unicode whitespace as ' ', or -1 at
 * the end of the text.  ASCII not followed by a non-ASCII byte is mapped
 * here (lower-cased, whitespace to ' '): exactly what utf8proc makes of it,
 * which the tests check. */
static inline int32_t ath_norm_next(ath_norm *z)
{
	if (z->at < z->n)
		return z->buf[z->at++];
	if (!z->slow && !z->carry && z->pos < z->len) {
		unsigned char c = z->s[z->pos];
		if (c < 0x80 && (z->pos + 1 == z->len || z->s[z->pos + 1] < 0x80)) {
			z->pos++;
			if (c >= 'A' && c <= 'Z')
				return c - 'A' + 'a';
			if (c == ' ' || (c >= '\t' && c <= '\r'))
				return ' ';
			return c;
		}
	}
	return ath_norm_fill(z) ? z->buf[z->at++] : -1;
}

/* Is code point cp a word character of unicode-v1 (general category L, M
 * or N)? */
int ath_is_word_cp(int32_t cp);

/* Bucket ids of the trigrams of text[0..len) (docs/network.md, step 1):
 * normalised, wrapped in '#', hashed with seed into `buckets`, deduplicated
 * in order of first occurrence and cut to `max`.  Returns how many were
 * written to ids (at least 1).  labels, when not NULL, receives each kept
 * trigram, NUL-terminated: three code points of at most 4 bytes each,
 * always whole (bytes-v1 writes 3 bytes, which may split a character). */
#define ATH_LABEL 13
typedef char ath_label[ATH_LABEL];
size_t ath_text_trigrams(int tokenizer, const char *text, size_t len,
			 uint64_t seed, uint64_t buckets, size_t max,
			 uint32_t *ids, ath_label *labels);

/* bytes-v1 alone, with 4-byte labels (what models without the
 * anthem.tokenizer key read). */
size_t ath_trigrams(const char *text, size_t len, uint64_t seed,
		    uint64_t buckets, size_t max, uint32_t *ids,
		    char (*labels)[4]);

/* ---- parameters ---------------------------------------------------------------- */

enum {
	P_QUERY_CENTRE, P_QUERY_LIMIT, P_TITLE_POINT,
	P_INTER_ATT_W, P_INTER_ATT_B, P_INTER_ATT_U,
	P_INTER_PRE_W, P_INTER_PRE_B, P_INTER_POST_W, P_INTER_POST_B,
	P_QUERY_ATT_W, P_QUERY_ATT_B, P_QUERY_ATT_U,
	P_TITLE_ATT_W, P_TITLE_ATT_B, P_TITLE_ATT_U,
	P_CROSS_W,
	/* the lexical term (step 8): empty unless lexical_buckets > 0 */
	P_LEX_W, P_LEX_IDF, P_LEX_AVGDL,
	P_COUNT
};

/* Shape of parameter i for a configuration. */
/* The title table's buckets: title_buckets when set (untied), else the
 * trigram buckets. */
static inline size_t ath_title_buckets(const anthem_model_config *cfg)
{
	return cfg->title_buckets ? cfg->title_buckets : cfg->buckets;
}

void ath_param_shape(const anthem_model_config *cfg, int i, size_t *rows,
		     size_t *cols);
/* Is parameter i learned (0: statistics of the training catalogue that
 * the trainer sets once and the optimiser leaves alone)? */
int ath_param_learned(int i);
/* Total floats of all parameters, in table order. */
size_t ath_param_floats(const anthem_model_config *cfg);

/* Point params[i].val into one block of ath_param_floats floats (and
 * .grad into `grad`, when not NULL, the same layout).  No touched lists:
 * a trainer that wants sparse zeroing of the tables adds them. */
void ath_params_bind(const anthem_model_config *cfg, float *block,
		     float *grad, ag_param params[P_COUNT]);

/* Fill a weight block with the initial values of docs/network.md. */
void ath_params_init(const anthem_model_config *cfg, float *block);

/* ---- the network --------------------------------------------------------------- */

typedef struct ath_query {
	size_t L, E;   /* trigrams, elements (L + L(L-1)/2) */
	ag_node *C;    /* [E x d] element centres */
	ag_node *Lm;   /* [E x d] element limits */
	ag_node *logC; /* [E x d] */
	ag_node *s;    /* [1 x E] element self-attention scores */
	ag_node *X;    /* [E x d] log0(C) cross_W^T / sqrt(d): the query side
			  of step 4, shared by every title scored */
	ag_node *c1, *l1; /* stage-1 hyperboloid, [1 x d] each */
} ath_query;

/* One title or several side by side (their trigrams one after the
 * other, title k's rows [off[k], off[k + 1])). */
typedef struct ath_title {
	size_t n;          /* titles */
	size_t T;          /* trigrams of all of them */
	const uint32_t *off; /* n + 1 bounds, in the tape's arena */
	ag_node *P, *logP; /* [T x d] */
	ag_node *v;        /* [n x d] product points */
} ath_title;

typedef struct ath_stage2 {
	ag_node *A;       /* [E x T] query-title attention logits */
	ag_node *c2, *l2; /* [n x d] each */
} ath_stage2;

void ath_net_query(ag_tape *t, const anthem_model_config *cfg,
		   ag_param *params, const uint32_t *ids, size_t L,
		   ath_query *q);
/* Stage 2 from at most keep of q's elements (0: all): those of highest
 * self-attention score s (ties: the earlier), in their order.  q's X, s,
 * C, logC, Lm and E are replaced by those rows for ath_net_stage2 (L
 * stays the query's trigram count: the kept rows need not begin with
 * them); stage 1's c1 and l1 stay the whole query's.  Forward only (the
 * pipeline). */
void ath_net_query_prune(ag_tape *t, ath_query *q, size_t keep);
void ath_net_title(ag_tape *t, const anthem_model_config *cfg,
		   ag_param *params, const uint32_t *ids, size_t T,
		   ath_title *ti);
/* n titles at once (the positive and negatives of an example) */
void ath_net_titles(ag_tape *t, const anthem_model_config *cfg,
		    ag_param *params, const uint32_t *const *ids,
		    const size_t *T, size_t n, ath_title *ti);
/* Stage 2 of the titles of ti (steps 4 to 6): fills out and returns the
 * [n x 1] distances of each title's point to its title-conditioned
 * hyperboloid, geometric only (step 8's lexical term is the caller's). */
ag_node *ath_net_stage2(ag_tape *t, const anthem_model_config *cfg,
			ag_param *params, const ath_query *q,
			const ath_title *ti, ath_stage2 *out);

/* Loss of one example (docs/network.md, step 7): titles[0] is the positive,
 * logits are -scale * distance (geometric only: no lexical term).  d1, d2 (when not NULL) receive the
 * [n x 1] distance nodes (unscaled). */
ag_node *ath_net_loss(ag_tape *t, const anthem_model_config *cfg,
		      ag_param *params, const uint32_t *qids, size_t L,
		      const uint32_t *const *tids, const size_t *T, size_t n,
		      float scale, ag_node **d1, ag_node **d2);

/* The same, for a query built already (the trainer mines hard negatives
 * with its stage-1 hyperboloid first).  lex, when not NULL and the model
 * has the lexical term, holds the n titles' BM25 scores (step 8): both
 * stages' distances become d - w * lex. */
ag_node *ath_net_loss_query(ag_tape *t, const anthem_model_config *cfg,
			    ag_param *params, const ath_query *q,
			    const uint32_t *const *tids, const size_t *T,
			    const float *lex, size_t n, float scale,
			    ag_node **d1, ag_node **d2);

#endif
