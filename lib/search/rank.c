#include "rank.h"

#include "common/internal.h"
#include "layers/lexical.h"

#include <math.h>
#include <stdlib.h>

/* a before b? (smaller distance, then smaller index; NaN last) */
static int before(const float *d, size_t a, size_t b)
{
	float x = d[a], y = d[b];
	if (isnan(x) || isnan(y))
		return isnan(y) && !isnan(x) ? 1 : (isnan(x) && isnan(y) && a < b);
	return x < y || (x == y && a < b);
}

/* a bounded max-heap of the k best so far: its root is the worst kept */
static void sift_down(const float *d, size_t *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		if (l < n && before(d, h[w], h[l]))
			w = l;
		if (r < n && before(d, h[w], h[r]))
			w = r;
		if (w == i)
			return;
		size_t t = h[i];
		h[i] = h[w];
		h[w] = t;
		i = w;
	}
}

size_t ath_topk(const float *d, size_t n, size_t k, size_t *idx)
{
	if (k > n)
		k = n;
	if (k == 0)
		return 0;
	for (size_t i = 0; i < k; i++)
		idx[i] = i;
	for (size_t i = k / 2; i-- > 0;)
		sift_down(d, idx, k, i);
	for (size_t i = k; i < n; i++)
		if (before(d, i, idx[0])) {
			idx[0] = i;
			sift_down(d, idx, k, 0);
		}
	/* heap sort: repeatedly move the worst to the end */
	for (size_t m = k; m > 1; m--) {
		size_t t = idx[0];
		idx[0] = idx[m - 1];
		idx[m - 1] = t;
		sift_down(d, idx, m - 1, 0);
	}
	return k;
}

/* The query's graph is built once; each title is built against it and
 * then forgotten (the same operations as anthem_model_score, so the same
 * distances to the bit). */
int ath_rerank(const anthem_model *m, const char *query,
	       const char *const *titles, size_t n, float *d2)
{
	static const char fn[] = "anthem_score";
	if (!query)
		return ath_error(ANTHEM_EINVAL, "%s: query must not be NULL", fn);
	uint32_t qids[64], *tids = malloc(m->cfg.max_title_trigrams * sizeof *tids);
	if (!tids)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ag_param *params = (ag_param *)m->params; /* read-only: no gradients */
	ag_tape t;
	ag_tape_init(&t, &m->space, 0);
	ath_query q;
	ath_net_query(&t, &m->cfg, params, qids,
		      ath_model_tokens(m, query, 0, qids, NULL), &q);
	int rc = t.failed ? ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn)
			  : ANTHEM_OK;
	ath_lexq lq; /* step 8, when the model has it */
	ath_lex_query(&m->cfg, m->params, query, &lq);
	float w = ath_lex_weight(&m->cfg, m->params);
	ag_mark mark = ag_tape_mark(&t);
	for (size_t i = 0; i < n && !rc; i++) {
		if (!titles[i]) {
			rc = ath_error(ANTHEM_EINVAL, "%s: title %zu is NULL", fn, i);
			break;
		}
		ath_title ti;
		ath_stage2 s2;
		size_t T = ath_model_tokens(m, titles[i], 1, tids, NULL);
		ath_net_title(&t, &m->cfg, params, tids, T, &ti);
		ath_net_stage2(&t, &m->cfg, params, &q, &ti, &s2);
		ag_node *d = ag_boxdist(&t, s2.c2, s2.l2, ti.v, m->cfg.gamma);
		if (t.failed)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		else
			d2[i] = d->val[0] - w * ath_lex_title(&m->cfg, m->params,
							      &lq, titles[i]);
		ag_tape_rewind(&t, mark);
	}
	ag_tape_free(&t);
	free(tids);
	return rc;
}
