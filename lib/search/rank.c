#include "search/rank.h"

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
