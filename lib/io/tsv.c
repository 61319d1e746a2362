/* Catalogue and judgement files (UTF-8 TSV).  A file is read whole, split
 * in place into lines and fields; every refusal names FILE:LINE. */
#include "io/tsv.h"

#include "common/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- lines ------------------------------------------------------------------- */

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int ath_utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

int ath_read_file(const char *path, char **buf, size_t *len, const char *fn)
{
	int fd;
	size_t size;
	int rc = ath_open_regular(path, &fd, &size, fn);
	if (rc)
		return rc;
	/* the size fstat gives, and one byte more to see the end at once; a
	 * file that grows meanwhile (or a /proc file, which says 0) is read
	 * on, doubling the buffer */
	size_t cap = size < SIZE_MAX / 2 ? size + 1 : size, n = 0;
	if (cap < 4096)
		cap = 4096;
	char *b = malloc(cap + 1);
	int err = 0;
	while (b) {
		ssize_t got = read(fd, b + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n < cap)
			continue;
		char *nb = cap < SIZE_MAX / 4 ? realloc(b, 2 * cap + 1) : NULL;
		if (!nb) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
		cap *= 2;
	}
	close(fd);
	if (!b)
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	if (err) {
		free(b);
		return ath_error(ANTHEM_EIO, "%s: %s: read error: %s", fn, path,
				 strerror(err));
	}
	if (cap - n > 4096 && cap - n > n / 8) {
		/* the buffer outlives the load: give back what is not used */
		char *nb = realloc(b, n + 1);
		b = nb ? nb : b;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return ANTHEM_OK;
}

/* Iterate the lines of buf: each call NUL-terminates the next line (a
 * trailing CR dropped) and returns it, or NULL at the end; *len is its
 * length, which strlen() undercuts if the line holds a NUL byte. */
ath_lines ath_lines_of(char *buf, size_t len)
{
	ath_lines L = {buf, buf + len, 0, 1};
	/* a UTF-8 byte order mark, as some spreadsheets write, is not part
	 * of the first field */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		L.p += 3;
	return L;
}

static char *next_line(ath_lines *L, size_t *len)
{
	if (L->p >= L->end)
		return NULL;
	char *s = L->p, *nl = memchr(s, '\n', (size_t)(L->end - s));
	char *e = nl ? nl : L->end;
	L->p = nl ? nl + 1 : L->end;
	if (e > s && e[-1] == '\r')
		e--;
	*e = '\0';
	L->lineno++;
	*len = (size_t)(e - s);
	return s;
}

/* The header comments are the lines before the first line of data that
 * start with "# " (or are "#" alone); empty lines are skipped anywhere.
 * Elsewhere '#' is data: a product id "#1", a query "#2 pencil"
 * (docs/data.md). */
char *ath_next_data_line(ath_lines *L, size_t *len)
{
	char *s;
	while ((s = next_line(L, len))) {
		if (*len == 0)
			continue;
		if (L->header && s[0] == '#' && (s[1] == ' ' || *len == 1))
			continue;
		L->header = 0;
		return s;
	}
	return NULL;
}

/* Why a line is not text, or NULL. */
const char *ath_not_text(const char *s, size_t len)
{
	if (strlen(s) != len)
		return "NUL byte in the line";
	if (!ath_utf8_valid((const unsigned char *)s, len))
		return "invalid UTF-8";
	return NULL;
}

/* Split a line at TABs into at most max fields; returns the count. */
static size_t split(char *s, char **field, size_t max)
{
	size_t n = 0;
	field[n++] = s;
	for (char *p = s; *p; p++)
		if (*p == '\t') {
			if (n == max)
				return max + 1; /* too many */
			*p = '\0';
			field[n++] = p + 1;
		}
	return n;
}

/* A malformed line: an error when strict, counted when lenient. */
static int bad_line(const char *path, size_t line, unsigned flags,
		    size_t *skipped, const char *fn, const char *why)
{
	if (flags & ANTHEM_READ_LENIENT) {
		(*skipped)++;
		return ANTHEM_OK;
	}
	return ath_error(ANTHEM_EFORMAT, "%s: %s:%zu: %s", fn, path, line, why);
}

/* ---- catalogue ---------------------------------------------------------------- */

/* Why a categories field (the third: "A > B > C", several paths joined by
 * " | ") is malformed, or NULL.  Separators are exactly " > " and " | ";
 * a name is never empty, never starts or ends with a space and holds no
 * '>' or '|' of its own, so "A>B" or "A >B" is refused rather than read
 * as one odd name (docs/data.md). */
static const char *bad_categories(const char *s, char *why, size_t size)
{
	size_t path = 1, depth = 1;
	const char *name = s;
	for (const char *p = s;; p++) {
		int sep = 0;
		if (*p == ' ' && (p[1] == '>' || p[1] == '|') && p[2] == ' ')
			sep = p[1];
		if (!sep && *p && *p != '>' && *p != '|')
			continue;
		const char *what = NULL;
		if (*p == '>' || *p == '|')
			what = *p == '>' ? "a '>' not written as ' > '"
					 : "a '|' not written as ' | '";
		else if (p == name)
			what = "an empty category name";
		else if (name[0] == ' ' || p[-1] == ' ')
			what = "a category name that starts or ends with a space";
		if (what) {
			snprintf(why, size, "field 3 (categories): %s in path "
				 "%zu, level %zu (paths are 'A > B > C', "
				 "several joined by ' | ')", what, path, depth);
			return why;
		}
		if (!*p)
			return NULL;
		if (sep == '|')
			path++, depth = 1;
		else
			depth++;
		p += 2;
		name = p + 1;
	}
}

int anthem_catalog_load(anthem_catalog **out, const char *path,
			unsigned flags)
{
	static const char fn[] = "anthem_catalog_load";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(path, fn, "path");
	anthem_catalog *c = calloc(1, sizeof *c);
	if (!c)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = ath_read_file(path, &c->buf, &c->len, fn);
	size_t cap = 0;
	if (!rc) {
		c->fingerprint = ath_checksum((unsigned char *)c->buf, c->len);
		for (size_t i = 0; i < c->len; i++)
			cap += c->buf[i] == '\n';
		cap++;
		c->ids = malloc(cap * sizeof *c->ids);
		c->titles = malloc(cap * sizeof *c->titles);
		c->cats = malloc(cap * sizeof *c->cats);
		if (!c->ids || !c->titles || !c->cats ||
		    ath_strmap_init(&c->map, cap))
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	ath_lines L = ath_lines_of(c->buf, c->len);
	char *s;
	size_t len;
	while (!rc && (s = ath_next_data_line(&L, &len))) {
		char *f[3], cwhy[160];
		size_t nf = 0;
		const char *why = ath_not_text(s, len);
		if (why) {
			/* not text: no field is looked at */
		} else if ((nf = split(s, f, 3)) < 2 || nf > 3)
			why = "expected 2 or 3 fields: "
			      "product_id<TAB>title[<TAB>categories]";
		else if (!f[0][0])
			why = "empty product_id";
		else if (nf == 3)
			why = bad_categories(f[2], cwhy, sizeof cwhy);
		int dup = 0;
		if (!why) {
			size_t prev;
			if (ath_strmap_put(&c->map, f[0], c->n, &prev, &dup)) {
				rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
				break;
			}
			if (dup)
				why = "duplicate product_id";
		}
		if (why) {
			char msg[256];
			snprintf(msg, sizeof msg, "%s%s%s", why,
				 dup ? " " : "", dup ? f[0] : "");
			rc = bad_line(path, L.lineno, flags, &c->skipped, fn, msg);
			continue;
		}
		c->ids[c->n] = f[0];
		c->titles[c->n] = f[1];
		c->cats[c->n] = nf == 3 ? f[2] : NULL;
		c->ncat += nf == 3;
		c->n++;
	}
	if (rc) {
		anthem_catalog_free(c);
		return rc;
	}
	*out = c;
	return ANTHEM_OK;
}

void anthem_catalog_free(anthem_catalog *c)
{
	if (!c)
		return;
	ath_strmap_free(&c->map);
	free(c->ids);
	free(c->titles);
	free(c->cats);
	free(c->buf);
	free(c);
}

size_t anthem_catalog_count(const anthem_catalog *c) { return c ? c->n : 0; }

const char *anthem_catalog_id(const anthem_catalog *c, size_t i)
{
	return c && i < c->n ? c->ids[i] : NULL;
}

const char *anthem_catalog_title(const anthem_catalog *c, size_t i)
{
	return c && i < c->n ? c->titles[i] : NULL;
}

int anthem_catalog_find(const anthem_catalog *c, const char *id, size_t *index)
{
	static const char fn[] = "anthem_catalog_find";
	ATH_CHECK_ARG(c, fn, "c");
	ATH_CHECK_ARG(id, fn, "id");
	ATH_CHECK_ARG(index, fn, "index");
	if (!ath_strmap_get(&c->map, id, index))
		return ath_error(ANTHEM_ENOTFOUND, "%s: no product '%s'", fn, id);
	return ANTHEM_OK;
}

const char *anthem_catalog_categories(const anthem_catalog *c, size_t i)
{
	return c && i < c->n ? c->cats[i] : NULL;
}

size_t anthem_catalog_categorised(const anthem_catalog *c)
{
	return c ? c->ncat : 0;
}

size_t anthem_catalog_skipped(const anthem_catalog *c)
{
	return c ? c->skipped : 0;
}

/* ---- judgements --------------------------------------------------------------- */

typedef struct raw {
	size_t query, product, line;
	int grade;
} raw;

static int by_query_product_line(const void *a, const void *b)
{
	const raw *x = a, *y = b;
	if (x->query != y->query)
		return x->query < y->query ? -1 : 1;
	if (x->product != y->product)
		return x->product < y->product ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Parse j->buf (j->len bytes, NUL-terminated) as judgement lines; path
 * names the text in messages.  On failure j is left for the caller to
 * free. */
static int parse_judgments(anthem_judgments *j, const char *path,
			   const anthem_catalog *cat, unsigned flags,
			   const char *fn)
{
	raw *r = NULL;
	size_t nr = 0, cap = 0;
	int rc = ANTHEM_OK;
	j->fingerprint = ath_checksum((unsigned char *)j->buf, j->len);
	for (size_t i = 0; i < j->len; i++)
		cap += j->buf[i] == '\n';
	cap++;
	r = malloc(cap * sizeof *r);
	j->queries = malloc(cap * sizeof *j->queries);
	if (!r || !j->queries || ath_strmap_init(&j->map, 1024))
		rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	ath_lines L = ath_lines_of(j->buf, j->len);
	char *s;
	size_t len;
	while (!rc && (s = ath_next_data_line(&L, &len))) {
		char *f[3];
		const char *why = ath_not_text(s, len);
		size_t prod = 0;
		long grade = -1;
		if (why) {
			/* not text: no field is looked at */
		} else if (split(s, f, 3) != 3)
			why = "expected 3 fields: query<TAB>product_id<TAB>grade";
		else if (!f[0][0])
			why = "empty query";
		else if (!ath_strmap_get(&cat->map, f[1], &prod))
			why = "product_id is not in the catalogue";
		else if (f[2][0] < '0' || f[2][0] > '3' || f[2][1])
			/* one digit: no sign, space or leading zero slips by */
			why = "grade must be an integer from 0 to 3";
		else
			grade = f[2][0] - '0';
		if (why) {
			rc = bad_line(path, L.lineno, flags, &j->skipped, fn, why);
			continue;
		}
		size_t q;
		int seen;
		if (ath_strmap_put(&j->map, f[0], j->nq, &q, &seen)) {
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
			break;
		}
		if (!seen)
			j->queries[q = j->nq++] = f[0];
		r[nr++] = (raw){q, prod, L.lineno, (int)grade};
	}
	if (!rc) {
		/* group by query; of a repeated pair keep the last line */
		qsort(r, nr, sizeof *r, by_query_product_line);
		j->start = calloc(j->nq + 1, sizeof *j->start);
		j->products = malloc((nr ? nr : 1) * sizeof *j->products);
		j->grades = malloc((nr ? nr : 1) * sizeof *j->grades);
		if (!j->start || !j->products || !j->grades)
			rc = ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		for (size_t i = 0; !rc && i < nr; i++) {
			if (i + 1 < nr && r[i + 1].query == r[i].query &&
			    r[i + 1].product == r[i].product)
				continue;
			j->products[j->n] = r[i].product;
			j->grades[j->n] = r[i].grade;
			j->n++;
			j->start[r[i].query + 1] = j->n;
		}
		/* queries are numbered in order of first appearance and sorted
		 * ascending above, so start[] is monotone once filled forward */
		for (size_t q = 1; !rc && q <= j->nq; q++)
			if (j->start[q] < j->start[q - 1])
				j->start[q] = j->start[q - 1];
	}
	free(r);
	return rc;
}

int anthem_judgments_load(anthem_judgments **out, const char *path,
			  const anthem_catalog *cat, unsigned flags)
{
	static const char fn[] = "anthem_judgments_load";
	ATH_CHECK_ARG(out, fn, "out");
	*out = NULL;
	ATH_CHECK_ARG(path, fn, "path");
	ATH_CHECK_ARG(cat, fn, "catalog");
	anthem_judgments *j = calloc(1, sizeof *j);
	if (!j)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	j->catalog = cat;
	int rc = ath_read_file(path, &j->buf, &j->len, fn);
	if (!rc)
		rc = parse_judgments(j, path, cat, flags, fn);
	if (rc) {
		anthem_judgments_free(j);
		return rc;
	}
	*out = j;
	return ANTHEM_OK;
}

int ath_judgments_from_text(anthem_judgments **out, char *buf, size_t len,
			    const anthem_catalog *cat, const char *name,
			    const char *fn)
{
	*out = NULL;
	anthem_judgments *j = calloc(1, sizeof *j);
	if (!j) {
		free(buf);
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	}
	j->catalog = cat;
	j->buf = buf;
	j->len = len;
	int rc = parse_judgments(j, name, cat, ANTHEM_READ_STRICT, fn);
	if (rc) {
		anthem_judgments_free(j);
		return rc;
	}
	*out = j;
	return ANTHEM_OK;
}

void anthem_judgments_free(anthem_judgments *j)
{
	if (!j)
		return;
	ath_strmap_free(&j->map);
	free(j->queries);
	free(j->start);
	free(j->products);
	free(j->grades);
	free(j->buf);
	free(j);
}

size_t anthem_judgments_query_count(const anthem_judgments *j)
{
	return j ? j->nq : 0;
}

const char *anthem_judgments_query(const anthem_judgments *j, size_t q)
{
	return j && q < j->nq ? j->queries[q] : NULL;
}

int anthem_judgments_get(const anthem_judgments *j, size_t q,
			 const size_t **products, const int **grades, size_t *n)
{
	static const char fn[] = "anthem_judgments_get";
	ATH_CHECK_ARG(j, fn, "j");
	if (q >= j->nq)
		return ath_error(ANTHEM_ERANGE, "%s: query %zu of %zu", fn, q,
				 j->nq);
	if (products)
		*products = j->products + j->start[q];
	if (grades)
		*grades = j->grades + j->start[q];
	if (n)
		*n = j->start[q + 1] - j->start[q];
	return ANTHEM_OK;
}

size_t anthem_judgments_skipped(const anthem_judgments *j)
{
	return j ? j->skipped : 0;
}
