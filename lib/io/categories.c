/* Judgements derived from a catalogue's category paths, by the rules of
 * tools/wordnet_data.py (docs/data.md): the tree plays the part of the
 * hypernym graph, a category name the part of an ancestor's lemma. */
#include "io/container.h"
#include "io/tsv.h"

#include "common/hash.h"
#include "common/text.h"
#include "common/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int anthem_category_options_init_size(anthem_category_options *dst,
				      size_t size)
{
	anthem_category_options full;
	memset(&full, 0, sizeof full);
	full.max_frac = 0.1f;
	full.test_frac = 0.2f;
	full.seed = 1;
	return ath_init_struct(dst, size, &full, sizeof full,
			       "anthem_category_options_init");
}

/* One (query, product, grade) found on a path. */
typedef struct pair {
	const char *query; /* case-folded name, owned by the names list */
	size_t product;
	int grade;
} pair;

typedef struct derive {
	const anthem_catalog *c;
	pair *pairs;
	size_t n, cap;
	char **names; /* every case-folded name made, to free */
	size_t nnames, names_cap;
	ath_strmap seen; /* name -> index in names, so each is made once */
} derive;

static int by_query_product(const void *a, const void *b, void *cat)
{
	const pair *x = a, *y = b;
	int d = strcmp(x->query, y->query);
	if (d)
		return d;
	const anthem_catalog *c = cat;
	return strcmp(c->ids[x->product], c->ids[y->product]);
}

/* A name as a query: case-folded and composed (NFC) with utf8proc, as the
 * WordNet builder lower-cases its lemmas; one copy per distinct name. */
static const char *query_of(derive *d, const char *name, size_t len,
			    const char *fn, int *rc)
{
	utf8proc_uint8_t *q = NULL;
	utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)name,
					  (utf8proc_ssize_t)len, &q,
					  UTF8PROC_STABLE | UTF8PROC_COMPOSE |
						  UTF8PROC_CASEFOLD);
	if (n < 0) {
		/* the reader let only valid UTF-8 through: memory */
		*rc = ath_error(ANTHEM_ENOMEM, "%s: case-folding '%.*s': %s", fn,
				(int)len, name, utf8proc_errmsg(n));
		return NULL;
	}
	size_t at;
	int present;
	if (d->nnames == d->names_cap) {
		size_t cap = 2 * d->names_cap + 64;
		char **nn = realloc(d->names, cap * sizeof *nn);
		if (!nn) {
			free(q);
			*rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
			return NULL;
		}
		d->names = nn;
		d->names_cap = cap;
	}
	if (ath_strmap_put(&d->seen, (const char *)q, d->nnames, &at,
			   &present)) {
		free(q);
		*rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		return NULL;
	}
	if (present) {
		free(q);
		return d->names[at];
	}
	d->names[d->nnames++] = (char *)q;
	return (const char *)q;
}

static int add_pair(derive *d, const char *q, size_t p, int grade,
		    const char *fn)
{
	if (d->n == d->cap) {
		size_t cap = 2 * d->cap + 256;
		pair *np = realloc(d->pairs, cap * sizeof *np);
		if (!np)
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		d->pairs = np;
		d->cap = cap;
	}
	d->pairs[d->n++] = (pair){q, p, grade};
	return ANTHEM_OK;
}

/* The grade of a category `dist` levels above the product (1: the
 * product sits in it), as grade_of() in tools/wordnet_data.py. */
static int grade_of(size_t dist)
{
	return dist == 1 ? 3 : dist == 2 ? 2 : 1;
}

/* Every (name, product, grade) of product p's paths.  The reader has
 * checked the field's form: names separated by exactly " > " and " | ". */
static int add_product(derive *d, size_t p, const char *fn)
{
	const char *s = d->c->cats[p];
	while (*s) {
		const char *end = strstr(s, " | ");
		if (!end)
			end = s + strlen(s);
		size_t levels = 1;
		for (const char *x = s; (x = strstr(x, " > ")) && x < end; x += 3)
			levels++;
		const char *name = s;
		for (size_t k = 0; k < levels; k++) {
			const char *e = strstr(name, " > ");
			if (!e || e > end)
				e = end;
			int rc = ANTHEM_OK;
			const char *q = query_of(d, name, (size_t)(e - name), fn,
						 &rc);
			if (!q || (rc = add_pair(d, q, p, grade_of(levels - k), fn)))
				return rc ? rc : ANTHEM_ENOMEM;
			name = e + 3;
		}
		s = *end ? end + 3 : end;
	}
	return ANTHEM_OK;
}

/* A query's judgements, as a range of the sorted, deduplicated pairs. */
typedef struct span {
	size_t start, end;
	uint64_t hash; /* of the (product, grade) list */
	size_t order;  /* position in name order */
	size_t key;    /* the span whose name decides the side */
} span;

static int by_hash_order(const void *a, const void *b)
{
	const span *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_order(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int same_list(const pair *p, const span *x, const span *y)
{
	if (x->end - x->start != y->end - y->start)
		return 0;
	for (size_t i = 0; i < x->end - x->start; i++)
		if (p[x->start + i].product != p[y->start + i].product ||
		    p[x->start + i].grade != p[y->start + i].grade)
			return 0;
	return 1;
}

/* The side of a query named q: test when a hash of the seed and the name,
 * read as a fraction of 2^64, falls below test_frac.  (Not the Python
 * tool's sha256: a C library has no business carrying one for this.) */
static int is_test(const char *q, uint64_t seed, float test_frac)
{
	uint64_t h = ath_hash_finish(ath_checksum((const unsigned char *)q,
						  strlen(q)) ^
				     ath_hash_finish(seed + ATH_SPLITMIX_GAMMA));
	return (double)(h >> 11) * 0x1p-53 < (double)test_frac;
}

int anthem_judgments_from_categories(anthem_judgments **train,
				     anthem_judgments **test,
				     const anthem_catalog *c,
				     const anthem_category_options *o)
{
	static const char fn[] = "anthem_judgments_from_categories";
	ATH_CHECK_ARG(train, fn, "train");
	*train = NULL;
	if (test)
		*test = NULL;
	ATH_CHECK_ARG(c, fn, "catalog");
	anthem_category_options opt;
	anthem_category_options_init(&opt);
	int rc = ath_read_options(&opt, sizeof opt, o,
				  "anthem_category_options", fn);
	if (rc)
		return rc;
	if (!(opt.max_frac > 0.0f && opt.max_frac <= 1.0f))
		return ath_error(ANTHEM_EINVAL, "%s: max_frac is %g, must be in "
				 "(0, 1]", fn, (double)opt.max_frac);
	if (!(opt.test_frac >= 0.0f && opt.test_frac <= 1.0f))
		return ath_error(ANTHEM_EINVAL, "%s: test_frac is %g, must be in "
				 "[0, 1]", fn, (double)opt.test_frac);
	if (c->ncat == 0)
		return ath_error(ANTHEM_EINVAL, "%s: no product of the catalogue "
				 "has categories (a third field: `A > B > C`)",
				 fn);
	derive d = {.c = c};
	span *sp = NULL;
	ath_text out[2] = {{0}, {0}};
	if (ath_strmap_init(&d.seen, 1024))
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	for (size_t p = 0; !rc && p < c->n; p++)
		if (c->cats[p])
			rc = add_product(&d, p, fn);
	if (rc)
		goto done;
	/* by query, then product id; of a repeated pair the best grade */
	qsort_r(d.pairs, d.n, sizeof *d.pairs, by_query_product, (void *)c);
	size_t m = 0;
	for (size_t i = 0; i < d.n; i++) {
		if (m && d.pairs[m - 1].query == d.pairs[i].query &&
		    d.pairs[m - 1].product == d.pairs[i].product) {
			if (d.pairs[i].grade > d.pairs[m - 1].grade)
				d.pairs[m - 1].grade = d.pairs[i].grade;
			continue;
		}
		d.pairs[m++] = d.pairs[i];
	}
	d.n = m;
	/* the queries, in name order, without the too broad ones */
	size_t nq = 0;
	sp = malloc((d.n + 1) * sizeof *sp);
	if (!sp) {
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		goto done;
	}
	double limit = (double)opt.max_frac * (double)c->n;
	for (size_t i = 0; i < d.n;) {
		size_t e = i + 1;
		while (e < d.n && d.pairs[e].query == d.pairs[i].query)
			e++;
		if ((double)(e - i) <= limit) {
			uint64_t h = ATH_SPLITMIX_GAMMA;
			for (size_t k = i; k < e; k++)
				h = ath_hash_finish(h ^ (d.pairs[k].product * 4 +
							 (uint64_t)d.pairs[k].grade));
			sp[nq] = (span){i, e, h, nq, nq};
			nq++;
		}
		i = e;
	}
	/* queries with the same judgements take the side of the first of
	 * them in name order (byte order of UTF-8 is code-point order) */
	qsort(sp, nq, sizeof *sp, by_hash_order);
	for (size_t i = 0; i < nq; i++)
		for (size_t k = i; k-- > 0 && sp[k].hash == sp[i].hash;)
			if (same_list(d.pairs, &sp[k], &sp[i]))
				sp[i].key = sp[k].key;
	/* key was an order; make it the key span's name */
	qsort(sp, nq, sizeof *sp, by_order);
	char head[200];
	snprintf(head, sizeof head, "# derived from catalogue categories "
		 "(max_frac %g, test_frac %g, seed %llu)\n",
		 (double)opt.max_frac, (double)opt.test_frac,
		 (unsigned long long)opt.seed);
	ath_text_puts(&out[0], head);
	ath_text_puts(&out[1], head);
	for (size_t i = 0; i < nq; i++) {
		const char *key = d.pairs[sp[sp[i].key].start].query;
		ath_text *t = &out[is_test(key, opt.seed, opt.test_frac)];
		for (size_t k = sp[i].start; k < sp[i].end; k++) {
			char g[4] = {'\t', (char)('0' + d.pairs[k].grade), '\n', 0};
			ath_text_puts(t, d.pairs[k].query);
			ath_text_put(t, "\t", 1);
			ath_text_puts(t, c->ids[d.pairs[k].product]);
			ath_text_puts(t, g);
		}
	}
	if (out[0].failed || out[1].failed) {
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		goto done;
	}
	rc = ath_judgments_from_text(train, out[0].b, out[0].n, c,
				     "(derived training judgements)", fn);
	out[0].b = NULL;
	if (!rc && test) {
		rc = ath_judgments_from_text(test, out[1].b, out[1].n, c,
					     "(derived test judgements)", fn);
		out[1].b = NULL;
		if (rc) {
			anthem_judgments_free(*train);
			*train = NULL;
		}
	}
done:
	free(out[0].b);
	free(out[1].b);
	free(sp);
	free(d.pairs);
	for (size_t i = 0; i < d.nnames; i++)
		free(d.names[i]);
	free(d.names);
	ath_strmap_free(&d.seen);
	return rc;
}

/* ---- saving --------------------------------------------------------------- */

size_t anthem_judgments_count(const anthem_judgments *j)
{
	return j ? j->n : 0;
}

int anthem_judgments_save(const anthem_judgments *j, const char *path)
{
	static const char fn[] = "anthem_judgments_save";
	ATH_CHECK_ARG(j, fn, "j");
	ATH_CHECK_ARG(path, fn, "path");
	ath_text t = {0};
	ath_text_puts(&t, "# written by anthem_judgments_save\n");
	for (size_t q = 0; q < j->nq; q++)
		for (size_t i = j->start[q]; i < j->start[q + 1]; i++) {
			char g[4] = {'\t', (char)('0' + j->grades[i]), '\n', 0};
			ath_text_puts(&t, j->queries[q]);
			ath_text_put(&t, "\t", 1);
			ath_text_puts(&t, j->catalog->ids[j->products[i]]);
			ath_text_puts(&t, g);
		}
	if (t.failed) {
		free(t.b);
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	}
	int rc = ath_write_atomic(path, t.b, t.n, fn);
	free(t.b);
	return rc;
}
