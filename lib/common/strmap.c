#include "common/strmap.h"

#include "common/hash.h"

#include <stdlib.h>
#include <string.h>

int ath_strmap_init(ath_strmap *m, size_t expected)
{
	size_t cap = 16;
	while (cap < 2 * expected + 1)
		cap *= 2;
	m->cap = cap;
	m->n = 0;
	m->keys = calloc(cap, sizeof *m->keys);
	m->vals = calloc(cap, sizeof *m->vals);
	if (!m->keys || !m->vals) {
		ath_strmap_free(m);
		return -1;
	}
	return 0;
}

void ath_strmap_free(ath_strmap *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = NULL;
	m->vals = NULL;
	m->cap = m->n = 0;
}

static size_t slot(const ath_strmap *m, const char *key)
{
	size_t i = (size_t)ath_str_hash(key) & (m->cap - 1);
	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(ath_strmap *m)
{
	ath_strmap bigger;
	if (ath_strmap_init(&bigger, m->cap))
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i]) {
			size_t j = slot(&bigger, m->keys[i]);
			bigger.keys[j] = m->keys[i];
			bigger.vals[j] = m->vals[i];
			bigger.n++;
		}
	ath_strmap_free(m);
	*m = bigger;
	return 0;
}

int ath_strmap_put(ath_strmap *m, const char *key, size_t val, size_t *found,
		   int *was_present)
{
	if (2 * (m->n + 1) > m->cap && grow(m))
		return -1;
	size_t i = slot(m, key);
	*was_present = m->keys[i] != NULL;
	if (*was_present) {
		if (found)
			*found = m->vals[i];
		return 0;
	}
	m->keys[i] = key;
	m->vals[i] = val;
	m->n++;
	return 0;
}

int ath_strmap_get(const ath_strmap *m, const char *key, size_t *val)
{
	if (!m->cap)
		return 0;
	size_t i = slot(m, key);
	if (!m->keys[i])
		return 0;
	*val = m->vals[i];
	return 1;
}
