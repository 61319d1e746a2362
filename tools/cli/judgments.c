/* anthem judgments: judgement files from what a search team has, a
 * click log or a catalogue's category tree (docs/guide.md, docs/data.md);
 * and the tree's judgements for anthem train without --judgments. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the category tree ---------------------------------------------------- */

int cli_category_judgments(const char *cmd, const anthem_catalog *c,
			   uint64_t seed, anthem_judgments **train)
{
	anthem_category_options o;
	anthem_category_options_init(&o);
	o.seed = seed;
	anthem_judgments *test = NULL;
	int rc = anthem_judgments_from_categories(train, &test, c, &o);
	if (rc)
		return cli_fail(cmd, rc);
	fprintf(stderr, "anthem %s: derived %zu judgements of %zu category "
		"queries from the catalogue's categories (%zu more queries "
		"held out for testing: anthem judgments --catalog ... "
		"--seed %llu --test-out FILE writes them)\n", cmd,
		anthem_judgments_count(*train),
		anthem_judgments_query_count(*train),
		anthem_judgments_query_count(test), (unsigned long long)seed);
	anthem_judgments_free(test);
	if (anthem_judgments_query_count(*train) == 0) {
		fprintf(stderr, "anthem %s: no category query is left for "
			"training (all too broad or held out)\n", cmd);
		anthem_judgments_free(*train);
		*train = NULL;
		return EXIT_DATA;
	}
	return 0;
}

/* ---- click logs ----------------------------------------------------------- */

typedef struct click {
	const char *query, *product;
	uint64_t shown, clicks, bought;
} click;

static int by_query_product(const void *a, const void *b)
{
	const click *x = a, *y = b;
	int d = strcmp(x->query, y->query);
	return d ? d : strcmp(x->product, y->product);
}

/* A count field: decimal digits, no sign, space or leading zero, at most
 * 10^12; 0 and *v, or -1. */
static int count(const char *s, uint64_t *v)
{
	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 13)
		return -1;
	uint64_t x = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		x = 10 * x + (uint64_t)(*s - '0');
	}
	if (x > 1000000000000ULL)
		return -1;
	*v = x;
	return 0;
}

/* 1 if s[0..n) is well-formed UTF-8 (the library's readers' rule). */
static int utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
					 : (c & 0xf0) == 0xe0 ? 3
					 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!len || n - i < len)
			return 0;
		uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
		for (unsigned k = 1; k < len; k++) {
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

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	size_t got;
	while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			char *nb = realloc(b, 2 * cap + 1);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	if (b && ferror(f)) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b)
		b[n] = '\0';
	*len = n;
	return b;
}

/* The log's lines, summed per (query, product), sorted.  Returns the
 * count, or -1 after printing FILE:LINE: reason. */
static long read_log(const char *path, char *buf, size_t len, click **out)
{
	size_t cap = 1;
	for (size_t i = 0; i < len; i++)
		cap += buf[i] == '\n';
	click *r = malloc(cap * sizeof *r);
	if (!r) {
		fprintf(stderr, "anthem judgments: %s: out of memory\n", path);
		return -1;
	}
	size_t n = 0, line = 0;
	int header = 1;
	char *p = buf, *end = buf + len;
	if (len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	while (p < end) {
		char *s = p, *nl = memchr(s, '\n', (size_t)(end - s));
		char *e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		line++;
		if (e > s && e[-1] == '\r')
			e--;
		*e = '\0';
		size_t l = (size_t)(e - s);
		if (l == 0)
			continue;
		if (header && s[0] == '#' && (l == 1 || s[1] == ' '))
			continue;
		header = 0;
		static const char *const names[] = {"query", "product_id",
						    "impressions", "clicks",
						    "purchases"};
		char why[200] = "";
		char *f[6];
		size_t nf = 0;
		if (strlen(s) != l)
			snprintf(why, sizeof why, "NUL byte in the line");
		else if (!utf8_ok((unsigned char *)s, l))
			snprintf(why, sizeof why, "invalid UTF-8");
		if (!why[0]) {
			f[nf++] = s;
			for (char *x = s; *x && nf < 6; x++)
				if (*x == '\t') {
					*x = '\0';
					f[nf++] = x + 1;
				}
			if (nf < 4 || nf > 5)
				snprintf(why, sizeof why, "expected 4 or 5 fields: "
					 "query<TAB>product_id<TAB>impressions"
					 "<TAB>clicks[<TAB>purchases]");
		}
		click c = {0};
		for (size_t k = 0; !why[0] && k < nf; k++) {
			if (!f[k][0])
				snprintf(why, sizeof why, "field %zu (%s) is empty",
					 k + 1, names[k]);
			else if (k >= 2 && count(f[k], k == 2 ? &c.shown
						      : k == 3 ? &c.clicks
							       : &c.bought))
				snprintf(why, sizeof why, "field %zu (%s) must be "
					 "a whole number from 0 to 10^12 (digits, "
					 "no sign or leading zero)", k + 1,
					 names[k]);
		}
		if (!why[0] && c.clicks > c.shown)
			snprintf(why, sizeof why, "field 4 (clicks) is more than "
				 "field 3 (impressions)");
		if (why[0]) {
			fprintf(stderr, "anthem judgments: %s:%zu: %s\n", path,
				line, why);
			free(r);
			return -1;
		}
		c.query = f[0];
		c.product = f[1];
		r[n++] = c;
	}
	qsort(r, n, sizeof *r, by_query_product);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !by_query_product(&r[m - 1], &r[i])) {
			r[m - 1].shown += r[i].shown;
			r[m - 1].clicks += r[i].clicks;
			r[m - 1].bought += r[i].bought;
			continue;
		}
		r[m++] = r[i];
	}
	*out = r;
	return (long)m;
}

/* Write text to path atomically: a temporary beside the file (or beside
 * the target of a link to it), fsync, rename. */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char *target = realpath(path, NULL);
	const char *t = target ? target : path;
	size_t tl = strlen(t) + 32;
	char *tmp = malloc(tl);
	int fd = -1, err = 0;
	if (tmp) {
		snprintf(tmp, tl, "%s.tmp.%ld", t, (long)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	}
	if (fd < 0)
		err = tmp ? errno : ENOMEM;
	for (size_t off = 0; fd >= 0 && !err && off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			err = w < 0 ? errno : EIO;
		else
			off += (size_t)w;
	}
	if (fd >= 0 && !err && fsync(fd) != 0)
		err = errno;
	if (fd >= 0 && close(fd) != 0 && !err)
		err = errno;
	if (fd >= 0 && !err && rename(tmp, t) != 0)
		err = errno;
	if (fd >= 0 && err)
		unlink(tmp);
	if (err)
		fprintf(stderr, "anthem judgments: --out %s: %s (the previous "
			"file, if any, is unchanged)\n", path, strerror(err));
	free(tmp);
	free(target);
	return err ? EXIT_DATA : 0;
}

typedef struct grading {
	float prior_ctr, prior_weight, ctr[4];
	size_t min_impressions, purchases;
} grading;

/* The grade of a (query, product) pair, or -1: not written.  The
 * click-through rate is smoothed by a Beta(a, b) prior with a = m w and
 * b = (1 - m) w (mean m, the weight of w impressions): the posterior mean
 * (clicks + a) / (impressions + w) of the Beta-binomial model (Gelman
 * et al., Bayesian Data Analysis, 3rd ed., section 2.4), so 1 click of 1
 * impression is m + (1 - m) / (1 + w), near m, not a rate of 1. */
static int grade(const grading *g, const click *c, double *ctr)
{
	*ctr = 0.0;
	if (g->purchases && c->bought >= g->purchases)
		return 3;
	if (c->clicks == 0)
		return c->shown >= g->min_impressions ? 0 : -1;
	/* clicks <= impressions, so the denominator is >= 1 */
	double a = (double)g->prior_ctr * g->prior_weight;
	*ctr = ((double)c->clicks + a) / ((double)c->shown + g->prior_weight);
	for (int k = 3; k >= 1; k--)
		if (*ctr >= g->ctr[k])
			return k;
	return -1;
}

static int clicks_to_judgments(const command *cmd, const char *log,
			       const char *out, const grading *g0,
			       int prior_given, const anthem_catalog *cat)
{
	size_t len;
	char *buf = read_all(log, &len);
	if (!buf) {
		fprintf(stderr, "anthem %s: %s: %s\n", cmd->name, log,
			strerror(errno ? errno : ENOMEM));
		return EXIT_DATA;
	}
	click *r = NULL;
	long n = read_log(log, buf, len, &r);
	if (n < 0) {
		free(buf);
		return EXIT_DATA;
	}
	grading g = *g0;
	uint64_t shown = 0, clicks = 0;
	for (long i = 0; i < n; i++)
		shown += r[i].shown, clicks += r[i].clicks;
	if (!prior_given)
		g.prior_ctr = shown ? (float)((double)clicks / (double)shown) : 0.0f;
	int code = 0;
	size_t counts[4] = {0}, cap = 256, used = 0;
	char *text = malloc(cap);
	char line[320];
	snprintf(line, sizeof line, "# anthem judgments --clicks: "
			 "prior ctr %.6g (weight %g impressions), grade 3 at "
			 "%zu purchases or ctr %g, 2 at %g, 1 at %g, 0 unclicked "
			 "at %zu impressions\n", (double)g.prior_ctr,
			 (double)g.prior_weight, g.purchases, (double)g.ctr[3],
			 (double)g.ctr[2], (double)g.ctr[1], g.min_impressions);
	for (long i = -1; text && i < n; i++) {
		const char *parts[5] = {line, "", "", "", ""};
		char gs[4] = "\t0\n";
		if (i >= 0) {
			double ctr;
			int k = grade(&g, &r[i], &ctr);
			if (k < 0)
				continue;
			size_t idx;
			if (cat && anthem_catalog_find(cat, r[i].product, &idx)) {
				fprintf(stderr, "anthem %s: %s: product '%s' (query "
					"'%s') is not in the catalogue\n",
					cmd->name, log, r[i].product, r[i].query);
				code = EXIT_DATA;
				break;
			}
			counts[k]++;
			gs[1] = (char)('0' + k);
			parts[0] = r[i].query;
			parts[1] = "\t";
			parts[2] = r[i].product;
			parts[3] = gs;
		}
		for (int k = 0; k < 5; k++) {
			size_t pl = strlen(parts[k]);
			if (used + pl + 1 > cap) {
				cap = 2 * cap + pl;
				char *nt = realloc(text, cap);
				if (!nt) {
					free(text);
					text = NULL;
					break;
				}
				text = nt;
			}
			memcpy(text + used, parts[k], pl);
			used += pl;
		}
	}
	if (!text) {
		fprintf(stderr, "anthem %s: out of memory\n", cmd->name);
		code = EXIT_DATA;
	}
	if (!code)
		code = write_atomic(out, text, used);
	if (!code)
		fprintf(stderr, "anthem %s: %ld (query, product) pairs in %s, "
			"prior ctr %.4g: wrote %zu judgements to %s (grade 3: "
			"%zu, 2: %zu, 1: %zu, 0: %zu; %zu pairs with too little "
			"evidence left out)\n", cmd->name, n, log,
			(double)g.prior_ctr, counts[0] + counts[1] + counts[2] +
			counts[3], out, counts[3], counts[2], counts[1],
			counts[0], (size_t)n - counts[0] - counts[1] -
			counts[2] - counts[3]);
	free(text);
	free(r);
	free(buf);
	return code;
}

/* ---- the command ---------------------------------------------------------- */

int cmd_judgments(int argc, char **argv)
{
	const command *cmd = &cli_commands[7] /* main.c */;
	const char *clicks = NULL, *catalog = NULL, *out = NULL, *test_out = NULL,
		   *seed = NULL, *max_frac = NULL, *test_frac = NULL,
		   *prior_ctr = NULL, *prior_weight = NULL, *min_imp = NULL,
		   *purchases = NULL, *c1 = NULL, *c2 = NULL, *c3 = NULL;
	const opt opts[] = {
		{"clicks", "LOG", "query<TAB>product_id<TAB>impressions<TAB>clicks[<TAB>purchases]", &clicks},
		{"catalog", "FILE", "with --clicks: check the product ids; alone: derive from its categories", &catalog},
		{"out", "FILE", "the judgement file to write", &out},
		{"prior-ctr", "X", "--clicks: the prior's mean click-through rate (the log's own)", &prior_ctr},
		{"prior-weight", "N", "--clicks: the prior's weight in impressions (20)", &prior_weight},
		{"purchases", "N", "--clicks: grade 3 from this many purchases (1; 0: never)", &purchases},
		{"grade3-ctr", "X", "--clicks: grade 3 from this smoothed click-through rate (0.3)", &c3},
		{"grade2-ctr", "X", "--clicks: grade 2 from this rate (0.15)", &c2},
		{"grade1-ctr", "X", "--clicks: grade 1 from this rate (0.05)", &c1},
		{"min-impressions", "N", "--clicks: grade 0 for a pair never clicked in this many impressions (20)", &min_imp},
		{"test-out", "FILE", "categories: write the held-out test side here", &test_out},
		{"test-frac", "X", "categories: share of queries held out (0.2)", &test_frac},
		{"max-frac", "X", "categories: drop a category holding more of the products (0.1)", &max_frac},
		{"seed", "S", "categories: seed of the split (1, as anthem train's)", &seed},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 0, &npos, &code))
		return code;
	if (!out || (!clicks && !catalog)) {
		fprintf(stderr, "anthem judgments: --out and --clicks or "
			"--catalog are required\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	const struct {
		const char *name, *value;
		int clicks_only;
	} scoped[] = {
		{"prior-ctr", prior_ctr, 1}, {"prior-weight", prior_weight, 1},
		{"purchases", purchases, 1}, {"grade3-ctr", c3, 1},
		{"grade2-ctr", c2, 1},       {"grade1-ctr", c1, 1},
		{"min-impressions", min_imp, 1}, {"test-out", test_out, 0},
		{"test-frac", test_frac, 0}, {"max-frac", max_frac, 0},
		{"seed", seed, 0},
	};
	for (size_t i = 0; i < sizeof scoped / sizeof scoped[0]; i++)
		if (scoped[i].value && scoped[i].clicks_only != !!clicks) {
			fprintf(stderr, "anthem judgments: --%s applies only %s\n"
				"usage: %s\n", scoped[i].name, scoped[i].clicks_only
				? "with --clicks" : "to categories (without "
						    "--clicks)", cmd->usage);
			return EXIT_USAGE;
		}
	grading g = {0.0f, 20.0f, {0.0f, 0.05f, 0.15f, 0.3f}, 20, 1};
	anthem_category_options co;
	anthem_category_options_init(&co);
	size_t s;
	if ((prior_ctr && cli_float(cmd, "prior-ctr", prior_ctr, &g.prior_ctr)) ||
	    (prior_weight && cli_float(cmd, "prior-weight", prior_weight,
				       &g.prior_weight)) ||
	    (purchases && cli_size(cmd, "purchases", purchases, &g.purchases)) ||
	    (c3 && cli_float(cmd, "grade3-ctr", c3, &g.ctr[3])) ||
	    (c2 && cli_float(cmd, "grade2-ctr", c2, &g.ctr[2])) ||
	    (c1 && cli_float(cmd, "grade1-ctr", c1, &g.ctr[1])) ||
	    (min_imp && cli_size(cmd, "min-impressions", min_imp,
				 &g.min_impressions)) ||
	    (test_frac && cli_float(cmd, "test-frac", test_frac, &co.test_frac)) ||
	    (max_frac && cli_float(cmd, "max-frac", max_frac, &co.max_frac)))
		return EXIT_USAGE;
	if (seed) {
		if (cli_size(cmd, "seed", seed, &s))
			return EXIT_USAGE;
		co.seed = s;
	}
	if (!(g.prior_ctr >= 0.0f && g.prior_ctr <= 1.0f) ||
	    !(g.prior_weight >= 0.0f) ||
	    !(g.ctr[1] <= g.ctr[2] && g.ctr[2] <= g.ctr[3])) {
		fprintf(stderr, "anthem judgments: --prior-ctr must be in [0, 1], "
			"--prior-weight >= 0, and --grade1-ctr <= --grade2-ctr "
			"<= --grade3-ctr\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	const cli_file in[] = {{"clicks", clicks}, {"catalog", catalog}};
	if ((code = cli_inputs("judgments", in, 2)) ||
	    (code = cli_output("judgments", "out", out, in, 2)) ||
	    (test_out && (code = cli_output("judgments", "test-out", test_out,
					    in, 2))))
		return code;
	if (test_out && !strcmp(test_out, out)) {
		fprintf(stderr, "anthem judgments: --out and --test-out are the "
			"same file\n");
		return EXIT_USAGE;
	}
	anthem_catalog *c = NULL;
	int rc = catalog ? anthem_catalog_load(&c, catalog, 0) : 0;
	if (rc)
		return cli_fail("judgments", rc);
	if (clicks) {
		code = clicks_to_judgments(cmd, clicks, out, &g, prior_ctr != NULL,
					   c);
		anthem_catalog_free(c);
		return code;
	}
	anthem_judgments *tr = NULL, *te = NULL;
	rc = anthem_judgments_from_categories(&tr, test_out ? &te : NULL, c, &co);
	if (!rc)
		rc = anthem_judgments_save(tr, out);
	if (!rc && te)
		rc = anthem_judgments_save(te, test_out);
	if (rc) {
		code = cli_fail("judgments", rc);
	} else {
		fprintf(stderr, "anthem judgments: %zu judgements of %zu category "
			"queries to %s", anthem_judgments_count(tr),
			anthem_judgments_query_count(tr), out);
		if (te)
			fprintf(stderr, ", %zu of %zu test queries to %s",
				anthem_judgments_count(te),
				anthem_judgments_query_count(te), test_out);
		fprintf(stderr, "\n");
	}
	anthem_judgments_free(tr);
	anthem_judgments_free(te);
	anthem_catalog_free(c);
	return code;
}
