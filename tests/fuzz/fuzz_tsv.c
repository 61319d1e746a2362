/* Fuzz target "tsv": the catalogue and judgement readers (docs/data.md).
 *
 * The input is split at its first 0x00 byte: what comes before is a
 * catalogue, what follows (NUL bytes and all) a judgement file; with no
 * 0x00 the judgements are empty.  The catalogue is read strictly and
 * leniently, the judgements strictly and leniently against each catalogue
 * that loaded, and everything loaded is walked and checked against
 * include/anthem/data.h. */
#include "fuzz.h"

static void check_catalog(const anthem_catalog *c, size_t lines)
{
	size_t n = anthem_catalog_count(c);
	if (n + anthem_catalog_skipped(c) > lines)
		fz_fail("%zu products and %zu skipped lines out of %zu lines", n,
			anthem_catalog_skipped(c), lines);
	for (size_t i = 0; i < n; i++) {
		const char *id = anthem_catalog_id(c, i),
			   *t = anthem_catalog_title(c, i);
		if (!id || !t || !id[0])
			fz_fail("product %zu has no id or title", i);
		if (strchr(id, '\t') || strchr(t, '\t'))
			fz_fail("product %zu's id or title holds a TAB", i);
		size_t at = (size_t)-1;
		fz_begin();
		if (fz_status(anthem_catalog_find(c, id, &at),
			      "anthem_catalog_find") || at != i)
			fz_fail("product %zu ('%s') is found at %zu", i, id, at);
	}
	if (anthem_catalog_id(c, n) || anthem_catalog_title(c, n))
		fz_fail("anthem_catalog_id/title past the end is not NULL");
	size_t at;
	fz_begin();
	int rc = fz_status(anthem_catalog_find(c, "\x01no such id\x02", &at),
			   "anthem_catalog_find");
	if (rc != ANTHEM_OK && rc != ANTHEM_ENOTFOUND)
		fz_fail("anthem_catalog_find failed with %d", rc);
}

static void check_judgments(const anthem_judgments *j,
			    const anthem_catalog *c, size_t lines)
{
	size_t nq = anthem_judgments_query_count(j), total = 0;
	size_t nc = anthem_catalog_count(c);
	for (size_t q = 0; q < nq; q++) {
		const char *s = anthem_judgments_query(j, q);
		if (!s || !s[0])
			fz_fail("query %zu is NULL or empty", q);
		const size_t *prod = NULL;
		const int *grade = NULL;
		size_t n = 0;
		fz_begin();
		if (fz_status(anthem_judgments_get(j, q, &prod, &grade, &n),
			      "anthem_judgments_get"))
			fz_fail("anthem_judgments_get fails for query %zu of %zu",
				q, nq);
		if (n == 0 || !prod || !grade)
			fz_fail("query %zu ('%s') has no judged product", q, s);
		for (size_t i = 0; i < n; i++) {
			if (prod[i] >= nc)
				fz_fail("query %zu judges product %zu of %zu", q,
					prod[i], nc);
			if (grade[i] < 0 || grade[i] > 3)
				fz_fail("query %zu has grade %d", q, grade[i]);
			for (size_t k = 0; k < i; k++)
				if (prod[k] == prod[i])
					fz_fail("query %zu judges product %zu "
						"twice", q, prod[i]);
		}
		total += n;
	}
	if (total + anthem_judgments_skipped(j) > lines)
		fz_fail("%zu judgements and %zu skipped lines out of %zu lines",
			total, anthem_judgments_skipped(j), lines);
	if (anthem_judgments_query(j, nq))
		fz_fail("anthem_judgments_query past the end is not NULL");
	fz_begin();
	if (fz_status(anthem_judgments_get(j, nq, NULL, NULL, NULL),
		      "anthem_judgments_get") != ANTHEM_ERANGE)
		fz_fail("anthem_judgments_get past the end is not ERANGE");
}

static size_t count_lines(const uint8_t *p, size_t n)
{
	size_t k = 1;
	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

static void judge(const char *path, const anthem_catalog *c, size_t lines)
{
	anthem_judgments *js = NULL, *jl = NULL;
	fz_begin();
	int rs = fz_status(anthem_judgments_load(&js, path, c, ANTHEM_READ_STRICT),
			   "anthem_judgments_load");
	fz_begin();
	int rl = fz_status(anthem_judgments_load(&jl, path, c, ANTHEM_READ_LENIENT),
			   "anthem_judgments_load");
	if ((rs != ANTHEM_OK) != !js || (rl != ANTHEM_OK) != !jl)
		fz_fail("anthem_judgments_load's *out does not match its status");
	if (rs == ANTHEM_OK && rl != ANTHEM_OK)
		fz_fail("judgements load strictly but not leniently (%d)", rl);
	if (rs == ANTHEM_OK && rl == ANTHEM_OK) {
		if (anthem_judgments_skipped(js) != 0)
			fz_fail("a strict read skipped lines");
		if (anthem_judgments_query_count(js) !=
			    anthem_judgments_query_count(jl) ||
		    anthem_judgments_skipped(jl) != 0)
			fz_fail("strict and lenient reads of good judgements "
				"differ");
	}
	if (js)
		check_judgments(js, c, lines);
	if (jl)
		check_judgments(jl, c, lines);
	anthem_judgments_free(js);
	anthem_judgments_free(jl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *zero = memchr(data, 0, size);
	size_t ncat = zero ? (size_t)(zero - data) : size;
	const uint8_t *jud = zero ? zero + 1 : data + size;
	size_t njud = zero ? size - ncat - 1 : 0;
	char cpath[4200], jpath[4200];
	fz_path("catalog.tsv", cpath, sizeof cpath);
	fz_path("judgments.tsv", jpath, sizeof jpath);
	fz_write(cpath, data, ncat);
	fz_write(jpath, jud, njud);
	size_t clines = count_lines(data, ncat), jlines = count_lines(jud, njud);

	anthem_catalog *cs = NULL, *cl = NULL;
	fz_begin();
	int rs = fz_status(anthem_catalog_load(&cs, cpath, ANTHEM_READ_STRICT),
			   "anthem_catalog_load");
	fz_begin();
	int rl = fz_status(anthem_catalog_load(&cl, cpath, ANTHEM_READ_LENIENT),
			   "anthem_catalog_load");
	if ((rs != ANTHEM_OK) != !cs || (rl != ANTHEM_OK) != !cl)
		fz_fail("anthem_catalog_load's *out does not match its status");
	if (rs == ANTHEM_OK) {
		if (rl != ANTHEM_OK)
			fz_fail("a catalogue loads strictly but not leniently");
		if (anthem_catalog_skipped(cs) != 0 ||
		    anthem_catalog_skipped(cl) != 0 ||
		    anthem_catalog_count(cs) != anthem_catalog_count(cl))
			fz_fail("strict and lenient reads of a good catalogue "
				"differ");
	}
	if (cs) {
		check_catalog(cs, clines);
		judge(jpath, cs, jlines);
	}
	if (cl) {
		check_catalog(cl, clines);
		judge(jpath, cl, jlines);
	}
	anthem_catalog_free(cs);
	anthem_catalog_free(cl);
	return 0;
}
