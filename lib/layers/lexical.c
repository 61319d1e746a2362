/* The lexical term (docs/network.md, step 8): BM25 over hashed words. */
#include "layers/lexical.h"

#include "common/hash.h"
#include "common/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

uint64_t ath_lex_seed(const anthem_model_config *cfg)
{
	return cfg->hash_seed ^ 0x776f726473ULL; /* "words" */
}

int ath_lex_on(const anthem_model_config *cfg)
{
	return cfg->lexical_buckets > 0;
}

float ath_lex_weight(const anthem_model_config *cfg, const ag_param *params)
{
	return ath_lex_on(cfg) ? params[P_LEX_W].val[0] : 0.0f;
}

static int is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80;
}

int ath_word_next(const char *text, size_t *pos, uint64_t seed,
		  uint64_t buckets, uint32_t *id)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = *pos;
	while (s[i] && !is_word(s[i]))
		i++;
	if (!s[i]) {
		*pos = i;
		return 0;
	}
	/* the hash of step 1 over the lower-cased word, as it is read */
	uint64_t h = ATH_FNV_BASIS ^ seed;
	for (; s[i] && is_word(s[i]); i++) {
		unsigned char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h = ath_fnv_step(h, c);
	}
	*pos = i;
	*id = (uint32_t)(ath_hash_finish(h) % buckets);
	return 1;
}

void ath_words_init(ath_words *w, int tokenizer, const char *text,
		    uint64_t seed, uint64_t buckets)
{
	w->tokenizer = tokenizer;
	w->text = text;
	w->pos = 0;
	w->seed = seed;
	w->buckets = buckets;
	if (tokenizer != ATH_TOK_BYTES)
		ath_norm_init(&w->z, tokenizer, text, strlen(text));
}

int ath_words_next(ath_words *w, uint32_t *id)
{
	if (w->tokenizer == ATH_TOK_BYTES)
		return ath_word_next(w->text, &w->pos, w->seed, w->buckets, id);
	int32_t cp;
	while ((cp = ath_norm_next(&w->z)) >= 0 && !ath_is_word_cp(cp))
		;
	if (cp < 0)
		return 0;
	uint64_t h = ATH_FNV_BASIS ^ w->seed;
	do {
		unsigned char b[4];
		utf8proc_ssize_t n = 1;
		if (cp < 0x80)
			b[0] = (unsigned char)cp;
		else
			n = utf8proc_encode_char(cp, b);
		for (utf8proc_ssize_t i = 0; i < n; i++)
			h = ath_fnv_step(h, b[i]);
	} while ((cp = ath_norm_next(&w->z)) >= 0 && ath_is_word_cp(cp));
	*id = (uint32_t)(ath_hash_finish(h) % w->buckets);
	return 1;
}

void ath_lex_query(const anthem_model_config *cfg, const ag_param *params,
		   const char *query, ath_lexq *q)
{
	q->n = 0;
	if (!ath_lex_on(cfg))
		return;
	ath_words w;
	ath_words_init(&w, (int)cfg->tokenizer, query, ath_lex_seed(cfg),
		       cfg->lexical_buckets);
	uint32_t id;
	while (q->n < ATH_LEX_QWORDS && ath_words_next(&w, &id)) {
		size_t k = 0;
		while (k < q->n && q->word[k] != id)
			k++;
		if (k < q->n)
			continue;
		q->word[q->n] = id;
		q->idf[q->n] = params[P_LEX_IDF].val[id];
		q->n++;
	}
}

float ath_lex_term(float idf, uint32_t tf, uint32_t dl, float avgdl)
{
	/* avgdl > 0: 1 until fitted, and a file holding less is refused */
	double k1 = ATH_LEX_K1, b = ATH_LEX_B;
	double norm = k1 * (1.0 - b + b * (double)dl / (double)avgdl);
	return (float)((double)idf * (double)tf * (k1 + 1.0) / ((double)tf + norm));
}

float ath_lex_title(const anthem_model_config *cfg, const ag_param *params,
		    const ath_lexq *q, const char *title)
{
	if (q->n == 0)
		return 0.0f;
	uint32_t tf[ATH_LEX_QWORDS] = {0}, dl = 0, id;
	ath_words w;
	ath_words_init(&w, (int)cfg->tokenizer, title, ath_lex_seed(cfg),
		       cfg->lexical_buckets);
	while (ath_words_next(&w, &id)) {
		dl++;
		for (size_t k = 0; k < q->n; k++)
			tf[k] += q->word[k] == id;
	}
	float avgdl = params[P_LEX_AVGDL].val[0], s = 0.0f;
	for (size_t k = 0; k < q->n; k++)
		if (tf[k])
			s += ath_lex_term(q->idf[k], tf[k], dl, avgdl);
	return s;
}

/* ---- postings ------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The sorted words of a title in buf (grown as needed); returns the
 * count, or (size_t)-1 when out of memory. */
static size_t title_words(const char *title, int tokenizer, uint64_t seed,
			  uint64_t buckets, uint32_t **buf, size_t *cap)
{
	size_t n = 0;
	uint32_t id;
	ath_words w;
	ath_words_init(&w, tokenizer, title ? title : "", seed, buckets);
	while (ath_words_next(&w, &id)) {
		if (n == *cap) {
			size_t c = *cap ? 2 * *cap : 64;
			uint32_t *b = realloc(*buf, c * sizeof *b);
			if (!b)
				return (size_t)-1;
			*buf = b;
			*cap = c;
		}
		(*buf)[n++] = id;
	}
	qsort(*buf, n, sizeof **buf, cmp_u32);
	return n;
}

void ath_postings_free(ath_postings *p)
{
	if (!p)
		return;
	free(p->dl);
	free(p->off);
	free(p->doc);
	free(p->tf);
	memset(p, 0, sizeof *p);
}

int ath_postings_build(ath_postings *p, const anthem_model_config *cfg,
		       const char *const *titles, size_t n, const char *fn)
{
	memset(p, 0, sizeof *p);
	uint64_t W = cfg->lexical_buckets, seed = ath_lex_seed(cfg);
	p->n = n;
	p->buckets = W;
	p->dl = calloc(n ? n : 1, sizeof *p->dl);
	p->off = calloc(W + 1, sizeof *p->off);
	uint32_t *buf = NULL;
	size_t cap = 0, total = 0;
	int ok = p->dl && p->off && n <= UINT32_MAX;
	/* pass 1: distinct words per title, counted per bucket */
	for (size_t i = 0; ok && i < n; i++) {
		size_t m = title_words(titles[i], (int)cfg->tokenizer, seed, W, &buf,
				       &cap);
		if (m == (size_t)-1 || m > UINT32_MAX) {
			ok = 0;
			break;
		}
		p->dl[i] = (uint32_t)m;
		for (size_t k = 0; k < m; k++)
			if (k == 0 || buf[k] != buf[k - 1]) {
				p->off[buf[k] + 1]++;
				total++;
			}
	}
	if (ok) {
		for (uint64_t w = 0; w < W; w++)
			p->off[w + 1] += p->off[w];
		p->doc = malloc((total ? total : 1) * sizeof *p->doc);
		p->tf = malloc((total ? total : 1) * sizeof *p->tf);
		ok = p->doc && p->tf;
	}
	/* pass 2: fill, titles in order, so each posting list is sorted */
	size_t *fill = ok ? malloc((W + 1) * sizeof *fill) : NULL;
	if (ok && !fill)
		ok = 0;
	if (ok)
		memcpy(fill, p->off, (W + 1) * sizeof *fill);
	for (size_t i = 0; ok && i < n; i++) {
		size_t m = title_words(titles[i], (int)cfg->tokenizer, seed, W, &buf,
				       &cap);
		if (m == (size_t)-1) {
			ok = 0;
			break;
		}
		for (size_t k = 0; k < m;) {
			size_t e = k;
			while (e < m && buf[e] == buf[k])
				e++;
			size_t at = fill[buf[k]]++;
			p->doc[at] = (uint32_t)i;
			p->tf[at] = (uint32_t)(e - k);
			k = e;
		}
	}
	free(fill);
	free(buf);
	if (!ok) {
		ath_postings_free(p);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory for the "
				 "lexical postings of %zu titles", fn, n);
	}
	return ANTHEM_OK;
}

void ath_postings_scores(const ath_postings *p, const ag_param *params,
			 const ath_lexq *q, float *out)
{
	float avgdl = params[P_LEX_AVGDL].val[0];
	for (size_t k = 0; k < q->n; k++) {
		uint32_t w = q->word[k];
		if (w >= p->buckets)
			continue;
		for (size_t i = p->off[w]; i < p->off[w + 1]; i++) {
			uint32_t d = p->doc[i];
			out[d] += ath_lex_term(q->idf[k], p->tf[i], p->dl[d], avgdl);
		}
	}
}

size_t ath_postings_count(const ath_postings *p, const ath_lexq *q)
{
	size_t total = 0;
	for (size_t k = 0; k < q->n; k++)
		if (q->word[k] < p->buckets)
			total += p->off[q->word[k] + 1] - p->off[q->word[k]];
	return total;
}

size_t ath_postings_sparse(const ath_postings *p, const ag_param *params,
			   const ath_lexq *q, uint32_t *doc, float *val,
			   uint32_t *tdoc, float *tval)
{
	float avgdl = params[P_LEX_AVGDL].val[0];
	/* the titles so far in (d, v); each word merges them into the other
	 * pair, which then holds them */
	uint32_t *d = doc, *nd = tdoc;
	float *v = val, *nv = tval;
	size_t n = 0;
	for (size_t k = 0; k < q->n; k++) {
		uint32_t w = q->word[k];
		if (w >= p->buckets)
			continue;
		/* this word's list is sorted (titles are posted in order);
		 * its term is added last, as ath_postings_scores adds it */
		size_t i = 0, j = p->off[w], e = p->off[w + 1], m = 0;
		while (i < n || j < e) {
			if (j == e || (i < n && d[i] < p->doc[j])) {
				nd[m] = d[i];
				nv[m++] = v[i++];
				continue;
			}
			uint32_t t = p->doc[j];
			float x = i < n && d[i] == t ? v[i++] : 0.0f;
			nd[m] = t;
			nv[m++] = x + ath_lex_term(q->idf[k], p->tf[j], p->dl[t], avgdl);
			j++;
		}
		uint32_t *sd = d;
		float *sv = v;
		d = nd, v = nv, nd = sd, nv = sv;
		n = m;
	}
	if (d != doc) {
		memcpy(doc, d, n * sizeof *doc);
		memcpy(val, v, n * sizeof *val);
	}
	return n;
}

void ath_lex_fit(const ath_postings *p, ag_param *params)
{
	/* Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)): positive
	 * for every df, unlike Robertson-Sparck Jones' for df > N / 2 */
	double N = (double)p->n, words = 0.0;
	for (uint64_t w = 0; w < p->buckets; w++) {
		double df = (double)(p->off[w + 1] - p->off[w]);
		params[P_LEX_IDF].val[w] =
			(float)log(1.0 + (N - df + 0.5) / (df + 0.5));
	}
	for (size_t i = 0; i < p->n; i++)
		words += p->dl[i];
	params[P_LEX_AVGDL].val[0] = p->n && words > 0.0
					     ? (float)(words / N) : 1.0f;
}
