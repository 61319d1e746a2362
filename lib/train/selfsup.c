/* Pseudo-queries from the catalogue's own titles (anthem_train_options
 * pseudo_queries): spans of one to three words, each a query whose
 * relevant product is the title it came from, in the spirit of the
 * inverse cloze task (Lee, Chang and Toutanova, "Latent Retrieval for
 * Weakly Supervised Open Domain Question Answering", ACL 2019: a sentence
 * is a pseudo-query for the passage around it).  The span stays in the
 * title the network reads but is cut from the title the lexical term
 * scores for that pair, or the term would find the answer by copying. */
#include "train/selfsup.h"

#include "common/hash.h"
#include "common/text.h"
#include "common/internal.h"
#include "io/tsv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 256 /* words of a title looked at */

/* A pure function of (seed, product, draw, what): the same spans on any
 * thread count and in any order. */
static uint64_t draw(uint64_t seed, uint64_t p, uint64_t k, uint64_t what)
{
	return ath_hash_finish(seed ^ ath_hash_finish(
		p * ATH_SPLITMIX_GAMMA + (k + 1) * 0xd1b54a32d192ed03ULL +
		(what + 1) * 0x8cb92ba72f3d8dd7ULL));
}

/* The words of a title: runs between ASCII spaces, ASCII punctuation
 * trimmed from both ends ("hat," "lid:" "(especially" are hat, lid,
 * especially); empty ones dropped.  [begin, end) byte ranges. */
static size_t words_of(const char *s, size_t *begin, size_t *end)
{
	size_t n = 0, i = 0;
	while (s[i] && n < MAX_WORDS) {
		while (s[i] && isspace((unsigned char)s[i]))
			i++;
		size_t b = i;
		while (s[i] && !isspace((unsigned char)s[i]))
			i++;
		size_t e = i;
		while (b < e && ispunct((unsigned char)s[b]))
			b++;
		while (e > b && ispunct((unsigned char)s[e - 1]))
			e--;
		if (e > b) {
			begin[n] = b;
			end[n] = e;
			n++;
		}
	}
	return n;
}

/* A sampled span: product p, the query's bytes in the text buffer and
 * the cut title's bytes in the cut buffer (offsets: the buffers move). */
typedef struct sampled {
	size_t product, qoff, toff;
} sampled;

static int judged(const anthem_judgments *j, const char *q, size_t p)
{
	size_t qi;
	if (!j || !ath_strmap_get(&j->map, q, &qi))
		return 0;
	for (size_t i = j->start[qi]; i < j->start[qi + 1]; i++)
		if (j->products[i] == p)
			return 1;
	return 0;
}

static int by_query_product(const void *a, const void *b)
{
	const ath_lexcut *x = a, *y = b;
	if (x->query != y->query)
		return x->query < y->query ? -1 : 1;
	return x->product < y->product ? -1 : x->product > y->product;
}

/* ... then by the first drawn (the cuts lie in one buffer in draw order),
 * so the entry kept for a pair is not up to qsort */
static int by_query_product_draw(const void *a, const void *b)
{
	const ath_lexcut *x = a, *y = b;
	int d = by_query_product(a, b);
	return d ? d : x->title < y->title ? -1 : x->title > y->title;
}

int ath_selfsup_build(const anthem_catalog *c, const anthem_judgments *j,
		      size_t per_product, uint64_t seed, ath_selfsup *out,
		      const char *fn)
{
	memset(out, 0, sizeof *out);
	ath_text text = {0}, cut = {0};
	sampled *s = NULL;
	size_t ns = 0;
	if (per_product > 64)
		return ath_error(ANTHEM_ERANGE, "%s: pseudo_queries is %zu, at "
				 "most 64 a product", fn, per_product);
	if (c->n && per_product &&
	    c->n > ((size_t)-1 / sizeof *s) / per_product)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	size_t *wb = malloc(MAX_WORDS * sizeof *wb),
	       *we = malloc(MAX_WORDS * sizeof *we);
	s = malloc((c->n * per_product + 1) * sizeof *s);
	int rc = s && wb && we ? ANTHEM_OK
			       : ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	/* the pseudo-queries first: a span never starts with '#', so the
	 * header rule of docs/data.md cannot swallow one */
	ath_text_puts(&text, "# pseudo-queries and judgements (anthem trainer)\n");
	for (size_t p = 0; !rc && p < c->n; p++) {
		const char *title = c->titles[p];
		size_t nw = words_of(title, wb, we);
		if (nw == 0)
			continue;
		for (size_t k = 0; k < per_product; k++) {
			size_t maxlen = nw < 3 ? nw : 3;
			size_t len = 1 + draw(seed, p, k, 0) % maxlen;
			size_t first = draw(seed, p, k, 1) % (nw - len + 1);
			size_t last = first + len - 1;
			sampled x = {p, text.n, cut.n};
			/* the query: the span's words joined by one space */
			for (size_t w = first; w <= last; w++) {
				if (w > first)
					ath_text_put(&text, " ", 1);
				ath_text_put(&text, title + wb[w], we[w] - wb[w]);
			}
			ath_text_put(&text, "\t", 1);
			ath_text_puts(&text, c->ids[p]);
			ath_text_put(&text, "\t3\n", 3);
			/* the title without the span, for the lexical term */
			ath_text_put(&cut, title, wb[first]);
			ath_text_put(&cut, " ", 1);
			ath_text_puts(&cut, title + we[last]);
			ath_text_put(&cut, "", 1); /* keep the NUL: offsets into cut */
			s[ns++] = x;
		}
	}
	if (!rc && j) /* the judgements after, as they are */
		for (size_t q = 0; q < j->nq; q++)
			for (size_t i = j->start[q]; i < j->start[q + 1]; i++) {
				char g[4] = {'\t', (char)('0' + j->grades[i]),
					     '\n', 0};
				ath_text_puts(&text, j->queries[q]);
				ath_text_put(&text, "\t", 1);
				ath_text_puts(&text, c->ids[j->products[i]]);
				ath_text_puts(&text, g);
			}
	free(wb);
	free(we);
	if (!rc && (text.failed || cut.failed))
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (rc) {
		free(text.b);
		free(cut.b);
		free(s);
		return rc;
	}
	out->npseudo = ns;
	/* parsing keeps the last line of a repeated pair: a judged pair
	 * keeps its judged grade */
	rc = ath_judgments_from_text(&out->jud, text.b, text.n, c,
				     "(pseudo-queries)", fn);
	if (!rc) {
		out->cut_text = cut.b;
		cut.b = NULL;
		out->cuts = malloc((ns + 1) * sizeof *out->cuts);
		if (!out->cuts)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	/* the query texts are out->jud's now; find each span's query */
	for (size_t i = 0; !rc && i < ns; i++) {
		const anthem_judgments *pj = out->jud;
		size_t qi;
		/* the text is pj->buf now, split in place: the span starts
		 * at the same offset, NUL-terminated where its tab was */
		const char *key = pj->buf + s[i].qoff;
		if (!ath_strmap_get(&pj->map, key, &qi))
			continue; /* cannot happen: the line was parsed */
		if (judged(j, key, s[i].product))
			continue; /* a judged pair: the lexical term sees it all */
		out->cuts[out->ncuts++] = (ath_lexcut){
			(uint32_t)qi, (uint32_t)s[i].product,
			out->cut_text + s[i].toff};
	}
	free(s);
	if (rc) {
		ath_selfsup_free(out);
		return rc;
	}
	qsort(out->cuts, out->ncuts, sizeof *out->cuts, by_query_product_draw);
	/* a span drawn twice for a product: the first draw's entry */
	size_t m = 0;
	for (size_t i = 0; i < out->ncuts; i++)
		if (!m || by_query_product(&out->cuts[m - 1], &out->cuts[i]))
			out->cuts[m++] = out->cuts[i];
	out->ncuts = m;
	return ANTHEM_OK;
}

const char *ath_selfsup_cut(const ath_selfsup *s, size_t query,
			    size_t product)
{
	size_t lo = 0, hi = s->ncuts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const ath_lexcut *x = &s->cuts[mid];
		if (x->query < query || (x->query == query && x->product < product))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ncuts && s->cuts[lo].query == query &&
		       s->cuts[lo].product == product
		       ? s->cuts[lo].title : NULL;
}

void ath_selfsup_free(ath_selfsup *s)
{
	anthem_judgments_free(s->jud);
	free(s->cuts);
	free(s->cut_text);
	memset(s, 0, sizeof *s);
}
