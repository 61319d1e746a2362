/* anthem index / search / explain */
#include "cli.h"
#include "cli_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- index ---------------------------------------------------------------------- */

/* The graph's progress on stderr: a line every 10 s or so, and the last;
 * the clock starts at the first round's report (the graph's start: the
 * embedding is done by then) */
typedef struct graph_report {
	double start, last;
} graph_report;

static void graph_progress(size_t done, size_t total, void *user)
{
	graph_report *r = user;
	double t = cli_now();
	if (r->start == 0.0)
		r->start = r->last = t;
	if (done < total && t - r->last < 10.0)
		return;
	r->last = t;
	fprintf(stderr, "anthem index: graph: %zu of %zu products (%.1f%%), "
		"%.0f s\n", done, total, total ? 100.0 * (double)done /
		(double)total : 100.0, t - r->start);
}

int cmd_index(int argc, char **argv)
{
	const command *cmd = &cli_commands[3];
	const char *model = NULL, *catalog = NULL, *out = NULL, *threads = NULL;
	const char *ann = NULL, *degree = NULL, *ef = NULL, *seed = NULL,
		   *points = NULL;
	const opt opts[] = {
		{"model", "MODEL", "the model that embeds the products", &model},
		{"catalog", "FILE", "products: product_id<TAB>title", &catalog},
		{"out", "INDEX", "where to write the index (atomically)", &out},
		{"threads", "T", "threads (all cores)", &threads},
		{"ann", NULL, "also build the approximate index (a graph; "
		 "docs/architecture.md)", &ann},
		{"ann-degree", "N", "the graph's neighbours per product (32)", &degree},
		{"ann-ef", "N", "the graph build's beam width (128)", &ef},
		{"ann-seed", "S", "the graph's insertion order (1)", &seed},
		{"points", "FORMAT", "stage 1's points: float32, or int8 (the "
		 "scan and the graph read int8 codes and re-score the best "
		 "2 x K1 in float32) (float32)", &points},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos, nthreads = 0;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 0, &npos, &code))
		return code;
	if (!model || !catalog || !out) {
		fprintf(stderr, "anthem index: --model, --catalog and --out are "
			"required\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (threads && cli_size(cmd, "threads", threads, &nthreads))
		return EXIT_USAGE;
	anthem_index_options io;
	anthem_index_options_init(&io);
	io.threads = nthreads;
	io.ann = ann != NULL;
	size_t seed_v = 1;
	if ((degree && cli_size(cmd, "ann-degree", degree, &io.ann_degree)) ||
	    (ef && cli_size(cmd, "ann-ef", ef, &io.ann_ef)) ||
	    (seed && cli_size(cmd, "ann-seed", seed, &seed_v)))
		return EXIT_USAGE;
	io.ann_seed = seed_v;
	if ((degree || ef || seed) && !ann) {
		fprintf(stderr, "anthem index: --ann-degree, --ann-ef and "
			"--ann-seed need --ann\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (points && !strcmp(points, "int8")) {
		io.points = ANTHEM_POINTS_INT8;
	} else if (points && strcmp(points, "float32")) {
		fprintf(stderr, "anthem index: --points is '%s', must be float32 "
			"or int8\n", points);
		return EXIT_USAGE;
	}
	const cli_file in[] = {{"model", model}, {"catalog", catalog}};
	if ((code = cli_inputs("index", in, 2)) ||
	    (code = cli_output("index", "out", out, in, 2)))
		return code;
	anthem_model *m = NULL;
	anthem_catalog *c = NULL;
	anthem_index *ix = NULL;
	int rc = anthem_model_load(&m, model);
	if (!rc)
		rc = anthem_catalog_load(&c, catalog, 0);
	graph_report report = {0, 0};
	if (!rc) {
		fprintf(stderr, "anthem index: embedding %zu products...\n",
			anthem_catalog_count(c));
		if (io.ann) {
			io.ann_progress = graph_progress;
			io.ann_progress_user = &report;
		}
		rc = anthem_index_build_ex(&ix, m, c, &io);
	}
	if (!rc)
		rc = anthem_index_save(ix, out);
	if (!rc)
		fprintf(stderr, "anthem index: wrote %s (%zu products, dim %zu%s%s)\n",
			out, anthem_index_count(ix), anthem_index_dim(ix),
			anthem_index_has_ann(ix) ? ", with the approximate index" : "",
			io.points == ANTHEM_POINTS_INT8 ? ", int8 points" : "");
	else
		cli_fail("index", rc);
	anthem_index_free(ix);
	anthem_catalog_free(c);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}

/* ---- search --------------------------------------------------------------------- */

static int out_of_memory(void)
{
	fprintf(stderr, "anthem search: out of memory\n");
	return ANTHEM_ENOMEM;
}

/* --filter FILE: one product id a line, read like every data file
 * (docs/data.md: "# " lines before the first id are comments, empty lines
 * are skipped, CRLF and a byte order mark are fine).  Each id becomes its index position in
 * *allow.  An id the index does not hold, a NUL byte, an unreadable file
 * or one without any id is refused, naming FILE:LINE (or FILE): a filter
 * that silently dropped a product would return products the caller meant
 * to exclude, or none of those it meant to keep. */
static int read_filter(const char *path, const anthem_index *ix,
		       size_t **allow, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "anthem search: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, ncap = 0, lineno = 0;
	ssize_t len;
	int rc = 0, header = 1;
	*allow = NULL;
	*n = 0;
	while (!rc && (len = getline(&line, &cap, f)) >= 0) {
		char *s = line;
		lineno++;
		if (len > 0 && s[len - 1] == '\n')
			s[--len] = '\0';
		if (len > 0 && s[len - 1] == '\r')
			s[--len] = '\0';
		if (lineno == 1 && len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
			s += 3;
			len -= 3;
		}
		if (strlen(s) != (size_t)len) {
			fprintf(stderr, "anthem search: %s:%zu: NUL byte in the "
				"line\n", path, lineno);
			rc = -1;
			break;
		}
		if (s[0] == '\0' || (header && s[0] == '#' &&
				      (s[1] == ' ' || s[1] == '\0')))
			continue;
		header = 0; /* after it, '#' is data: a product id "#1" */
		size_t pos;
		if (anthem_index_find(ix, s, &pos) != ANTHEM_OK) {
			fprintf(stderr, "anthem search: %s:%zu: product id '%s' "
				"is not in the index\n", path, lineno, s);
			rc = -1;
		} else if (*n == ncap) {
			size_t *grown = realloc(*allow, (ncap ? 2 * ncap : 64) *
							       sizeof *grown);
			if (!grown) {
				rc = out_of_memory();
			} else {
				*allow = grown;
				ncap = ncap ? 2 * ncap : 64;
			}
		}
		if (!rc)
			(*allow)[(*n)++] = pos;
	}
	if (!rc && ferror(f)) {
		fprintf(stderr, "anthem search: %s: read error\n", path);
		rc = -1;
	}
	if (!rc && *n == 0) {
		fprintf(stderr, "anthem search: %s: no product id (an empty "
			"filter would allow nothing)\n", path);
		rc = -1;
	}
	free(line);
	fclose(f);
	if (rc) {
		free(*allow);
		*allow = NULL;
	}
	return rc;
}

/* One query's hits.  JSON: one object a line, {"query", "results": [{rank,
 * product_id, title, score, distance}]}, score = -distance so that higher
 * is better as in other search engines; 9 significant digits print a float
 * exactly. */
static void print_hits(const anthem_index *ix, const char *query,
		       const anthem_hit *hits, size_t n, int json)
{
	if (json) {
		json_t *o = json_object(), *res = json_array();
		json_object_set_new(o, "query", cli_json_text(query));
		for (size_t i = 0; i < n; i++) {
			json_t *h = json_object();
			json_object_set_new(h, "rank", json_integer((json_int_t)i + 1));
			json_object_set_new(h, "product_id",
					    cli_json_text(anthem_index_id(ix, hits[i].index)));
			json_object_set_new(h, "title",
					    cli_json_text(anthem_index_title(ix, hits[i].index)));
			json_object_set_new(h, "score", json_real(-hits[i].distance));
			json_object_set_new(h, "distance", json_real(hits[i].distance));
			json_array_append_new(res, h);
		}
		json_object_set_new(o, "results", res);
		if (cli_json_print(o))
			fprintf(stderr, "anthem search: out of memory for JSON\n");
		return;
	}
	/* query, ids and titles may hold any bytes (an ESC would reach the
	 * terminal): printed through cli_text */
	printf("query: ");
	cli_text(query, SIZE_MAX);
	printf("\n%4s %9s %9s  %-10s %s\n", "#", "score", "distance",
	       "product_id", "title");
	for (size_t i = 0; i < n; i++) {
		const char *title = anthem_index_title(ix, hits[i].index);
		const char *id = anthem_index_id(ix, hits[i].index);
		printf("%3zu. %9.4f %9.4f  ", i + 1, -hits[i].distance,
		       hits[i].distance);
		size_t idlen = cli_text(id, SIZE_MAX); /* padded as %-10s was */
		printf("%*s ", idlen < 10 ? (int)(10 - idlen) : 0, "");
		size_t cut = cli_text(title, 80);
		printf("%s\n", title[cut] ? "..." : "");
	}
}

/* A line of stdin without its line end; 0 at the end of the input. */
static int read_query(char **line, size_t *cap, FILE *f)
{
	ssize_t len = getline(line, cap, f);
	if (len < 0)
		return 0;
	if (len > 0 && (*line)[len - 1] == '\n')
		(*line)[--len] = '\0';
	if (len > 0 && (*line)[len - 1] == '\r')
		(*line)[--len] = '\0';
	return 1;
}

/* Queries piped in, one a line: answered in batches through
 * anthem_search_batch (its threads spread a batch's queries), printed in
 * input order.  A batch holds at most 256 lines and about 2^20 hits, so
 * that --k 100000 does not ask for 400 MB of hits. */
static int search_lines(const anthem_model *m, const anthem_index *ix,
			const anthem_search_options *so, int json)
{
	size_t batch = ((size_t)1 << 20) / so->k;
	batch = batch < 1 ? 1 : batch > 256 ? 256 : batch;
	char **queries = calloc(batch, sizeof *queries);
	anthem_hit *hits = malloc(batch * so->k * sizeof *hits);
	size_t *counts = malloc(batch * sizeof *counts);
	char *line = NULL;
	size_t cap = 0, nq = 0;
	int rc = queries && hits && counts ? ANTHEM_OK : out_of_memory();
	for (int more = 1; !rc && more;) {
		more = read_query(&line, &cap, stdin);
		if (more && line[0] && !(queries[nq++] = strdup(line)))
			rc = out_of_memory();
		if (rc || nq == 0 || (more && nq < batch))
			continue;
		rc = anthem_search_batch(m, ix, (const char *const *)queries,
					 nq, so, hits, counts);
		if (rc) {
			cli_fail("search", rc);
			break;
		}
		for (size_t q = 0; q < nq; q++) {
			print_hits(ix, queries[q], hits + q * so->k, counts[q],
				   json);
			free(queries[q]);
		}
		fflush(stdout);
		nq = 0;
	}
	for (size_t q = 0; queries && q < nq; q++)
		free(queries[q]);
	free(line);
	free(queries);
	free(hits);
	free(counts);
	return rc;
}

int cmd_search(int argc, char **argv)
{
	const command *cmd = &cli_commands[4];
	const char *model = NULL, *index = NULL, *k = NULL, *k1 = NULL,
		   *threads = NULL, *filter = NULL, *json = NULL, *ands[16],
		   *ors[16], *stage1 = NULL, *ef = NULL, *elements = NULL,
		   *prefilter = NULL;
	size_t nand = 0, nor = 0;
	const opt opts[] = {
		{"model", "MODEL", "the model", &model},
		{"index", "INDEX", "the index built with it (anthem index)", &index},
		{"k", "N", "results a query (10; at most 100000)", &k},
		{"k1", "N", "stage-1 candidates a source keeps, reranked by the full model (200; 0: stage 1 only)", &k1},
		{"threads", "T", "threads: one query's stages, or piped queries side by side (1; 0: all cores)", &threads},
		{"and", "QUERY", "intersect with another query (repeatable, up to 16)", NULL, 1, ands, &nand},
		{"or", "QUERY", "unite with another query (repeatable, up to 16)", NULL, 1, ors, &nor},
		{"filter", "FILE", "return only these products (one product id a line)", &filter},
		{"json", NULL, "one JSON object a query: {query, results: [{rank, product_id, title, score, distance}]}", &json},
		{"stage1", "SOURCE", "stage 1: auto (the scan; of the int8 points when the index has them), exact (the scan of the float points) or graph (the index's approximate index; docs/architecture.md)", &stage1},
		{"ef", "N", "the graph search's beam width (0: 2 x k1, at least 64)", &ef},
		{"stage2-elements", "N", "stage 2 attends from at most N query elements a text, those of highest score (0: all; docs/performance.md)", &elements},
		{"prefilter", "N|off", "the int8 scan's box prefilter: re-score only the N best by a cheap flat box distance (0: 2 x max(k, k1) when the index holds 16 times that; off: every product's int8 distance; docs/architecture.md)", &prefilter},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos, nk = 10, nk1 = 200, nthreads = 1, nef = 0, nel = 0, npre = 0;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 1, &npos, &code))
		return code;
	if (!model || !index) {
		fprintf(stderr, "anthem search: --model and --index are required\n"
			"usage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if ((k && cli_size(cmd, "k", k, &nk)) ||
	    (k1 && cli_size(cmd, "k1", k1, &nk1)) ||
	    (threads && cli_size(cmd, "threads", threads, &nthreads)) ||
	    (ef && cli_size(cmd, "ef", ef, &nef)) ||
	    (elements && cli_size(cmd, "stage2-elements", elements, &nel)) ||
	    (prefilter && cli_prefilter(cmd, prefilter, &npre)))
		return EXIT_USAGE;
	int source = ANTHEM_STAGE1_AUTO;
	if (stage1 && !strcmp(stage1, "exact")) {
		source = ANTHEM_STAGE1_EXACT;
	} else if (stage1 && !strcmp(stage1, "graph")) {
		source = ANTHEM_STAGE1_GRAPH;
	} else if (stage1 && strcmp(stage1, "auto")) {
		fprintf(stderr, "anthem search: --stage1 is '%s', must be auto, "
			"exact or graph\nusage: %s\n", stage1, cmd->usage);
		return EXIT_USAGE;
	}
	if (nk == 0 || nk > 100000) {
		fprintf(stderr, "anthem search: --k must be 1 to 100000\n");
		return EXIT_USAGE;
	}
	const cli_file in[] = {{"model", model}, {"index", index},
			       {"filter", filter}};
	if ((code = cli_inputs("search", in, 3)))
		return code;
	anthem_model *m = NULL;
	anthem_index *ix = NULL;
	int rc = anthem_model_load(&m, model);
	if (!rc)
		rc = anthem_index_load(&ix, index, m);
	if (rc) {
		anthem_model_free(m);
		return cli_fail("search", rc);
	}
	anthem_search_options so;
	anthem_search_options_init(&so);
	so.k = nk;
	/* --k1 0 ranks by stage 1 alone, as `anthem eval --k1 0` does */
	so.k1 = nk1;
	so.stage1_only = nk1 == 0;
	so.stage1 = source;
	so.ef = nef;
	so.stage2_elements = nel;
	so.prefilter = npre;
	so.threads = nthreads;
	so.and_queries = ands;
	so.n_and = nand;
	so.or_queries = ors;
	so.n_or = nor;
	size_t *allow = NULL;
	if (filter && read_filter(filter, ix, &allow, &so.n_allow)) {
		anthem_index_free(ix);
		anthem_model_free(m);
		return EXIT_DATA;
	}
	so.allow = allow;
	anthem_hit *hits = malloc(nk * sizeof *hits);
	size_t n;
	if (!hits) {
		rc = out_of_memory();
	} else if (npos == 1) {
		rc = anthem_search_ex(m, ix, pos[0], &so, hits, &n);
		if (!rc)
			print_hits(ix, pos[0], hits, n, json != NULL);
		else
			cli_fail("search", rc);
	} else if (!isatty(0)) {
		rc = search_lines(m, ix, &so, json != NULL);
	} else { /* a terminal: a prompt, and each query answered at once */
		char *line = NULL;
		size_t cap = 0;
		fprintf(stderr, "anthem search: %zu products; type a query, "
			"end with Ctrl-D\n> ", anthem_index_count(ix));
		/* a whole line is one query, however long (only its first
		 * trigrams count) */
		while (!rc && read_query(&line, &cap, stdin)) {
			if (line[0]) {
				rc = anthem_search_ex(m, ix, line, &so, hits, &n);
				if (!rc)
					print_hits(ix, line, hits, n, json != NULL);
				else
					cli_fail("search", rc);
			}
			fflush(stdout);
			fprintf(stderr, "> ");
		}
		free(line);
		fprintf(stderr, "\n");
	}
	/* a full disk or a closed pipe must not pass for a complete answer */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "anthem search: writing the results: %s\n",
			strerror(errno));
		rc = rc ? rc : ANTHEM_EIO;
	}
	free(hits);
	free(allow);
	anthem_index_free(ix);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}

/* ---- explain ---------------------------------------------------------------------- */

/* Text as it should read on an axis or in a caption: spaces made visible
 * (labels), ill-formed UTF-8 as U+FFFD, control characters as '?' and, for
 * XML, the five special characters escaped (XML 1.0, section 2.4). */
static void put_text(FILE *f, const char *text, int xml, int dots)
{
	char *clean = cli_utf8_clean(text);
	for (const char *s = clean ? clean : "?"; *s; s++) {
		if (dots && *s == ' ')
			fputs("\xc2\xb7", f); /* middle dot */
		else if (xml && *s == '<')
			fputs("&lt;", f);
		else if (xml && *s == '>')
			fputs("&gt;", f);
		else if (xml && *s == '&')
			fputs("&amp;", f);
		else if (xml && *s == '"')
			fputs("&quot;", f);
		else if (xml && *s == '\'')
			fputs("&apos;", f);
		else if ((unsigned char)*s < 0x20)
			fputc('?', f);
		else if (xml && (unsigned char)s[0] == 0xef &&
			 (unsigned char)s[1] == 0xbf &&
			 ((unsigned char)s[2] == 0xbe || (unsigned char)s[2] == 0xbf)) {
			fputs("\xef\xbf\xbd", f); /* U+FFFE, U+FFFF: not XML */
			s += 2;
		} else
			fputc(*s, f);
	}
	free(clean);
}

static void label(FILE *f, const char *s, int xml)
{
	put_text(f, s, xml, 1);
}

/* How much of text the model reads when it reads `max` trigrams of it:
 * the shortest prefix (whole characters) with as many trigrams as the
 * whole text, found by bisection through anthem_model_explain; strlen
 * when the text is read whole (fewer trigrams than max). */
static size_t read_prefix(const anthem_model *m, const char *text,
			  size_t have, size_t max, int title)
{
	size_t len = strlen(text);
	if (have < max)
		return len;
	size_t lo = 0, hi = len; /* hi reads max trigrams */
	char *buf = malloc(len + 1);
	if (!buf)
		return len;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		while (mid > lo && ((unsigned char)text[mid] & 0xc0) == 0x80)
			mid--; /* a character boundary */
		if (mid == lo) {
			mid = lo + (hi - lo) / 2;
			while (mid < hi && ((unsigned char)text[mid] & 0xc0) == 0x80)
				mid++;
			if (mid == hi)
				break;
		}
		memcpy(buf, text, mid);
		buf[mid] = '\0';
		anthem_explanation *e = NULL;
		size_t n = 0;
		if (anthem_model_explain(m, title ? "a" : buf, title ? buf : "a",
					 &e) == ANTHEM_OK)
			n = title ? anthem_explanation_cols(e)
				  : anthem_explanation_rows(e);
		anthem_explanation_free(e);
		if (n >= max)
			hi = mid;
		else
			lo = mid;
	}
	free(buf);
	return hi;
}

/* A caption: the text, or as much of it as the model read and a mark
 * that it was cut. */
static void caption(FILE *f, const char *what, const char *text, size_t read,
		    size_t max)
{
	fprintf(f, "%s: ", what);
	if (read >= strlen(text)) {
		put_text(f, text, 1, 0);
		return;
	}
	char *head = strndup(text, read);
	put_text(f, head ? head : "", 1, 0);
	free(head);
	fprintf(f, "\xe2\x80\xa6 [cut: the model reads the first %zu "
		   "trigrams]", max);
}

static int write_svg(const char *path, const anthem_model *m,
		     const anthem_explanation *e, const char *query,
		     const char *title)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	anthem_model_get_config(m, &cfg);
	size_t R = anthem_explanation_rows(e), C = anthem_explanation_cols(e);
	const float *w = anthem_explanation_weights(e);
	const int cell = 18, left = 60, top = 70;
	/* written beside the target and renamed over it, as the library
	 * writes its files: never half an SVG, and a link stays a link
	 * (cli_output has refused anything but a regular file or a link
	 * to one) */
	char *target = realpath(path, NULL);
	const char *dst = target ? target : path;
	size_t tlen = strlen(dst) + 32;
	char *tmp = malloc(tlen);
	FILE *f = NULL;
	if (tmp) {
		snprintf(tmp, tlen, "%s.tmp.%ld", dst, (long)getpid());
		f = fopen(tmp, "wx");
	}
	if (!f) {
		fprintf(stderr, "anthem explain: --svg %s: %s\n", path,
			strerror(tmp ? errno : ENOMEM));
		free(tmp);
		free(target);
		return -1;
	}
	int W = left + (int)C * cell + 20, H = top + (int)R * cell + 64;
	if (W < 560)
		W = 560;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" font-family=\"monospace\" font-size=\"11\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		W, H);
	fprintf(f, "<text x=\"%d\" y=\"14\" font-size=\"12\">", left);
	caption(f, "query", query,
		read_prefix(m, query, R, cfg.max_query_trigrams, 0),
		cfg.max_query_trigrams);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"12\">",
		left, H - 42);
	caption(f, "title", title,
		read_prefix(m, title, C, cfg.max_title_trigrams, 1),
		cfg.max_title_trigrams);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"10\" "
		   "fill=\"#555\">attention of each query trigram (row) over the "
		   "title trigrams (columns; \xc2\xb7 is a space)</text>\n"
		   "<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#555\">each "
		   "row shaded from its smallest (white) to its largest weight "
		   "(blue); distance %.4f</text>\n",
		left, H - 24, left, H - 10, anthem_explanation_distance(e));
	for (size_t c = 0; c < C; c++) {
		int x = left + (int)c * cell + cell / 2 + 4, y = top - 6;
		fprintf(f, "<text transform=\"translate(%d,%d) rotate(-60)\">", x, y);
		label(f, anthem_explanation_col_label(e, c), 1);
		fprintf(f, "</text>\n");
	}
	for (size_t r = 0; r < R; r++) {
		int y = top + (int)r * cell;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 6,
			y + cell - 5);
		label(f, anthem_explanation_row_label(e, r), 1);
		fprintf(f, "</text>\n");
		/* a row is a distribution: shade it from its own min to max so
		 * that its preferences show even when they are mild */
		float lo = w[r * C], hi = w[r * C];
		for (size_t c = 1; c < C; c++) {
			lo = w[r * C + c] < lo ? w[r * C + c] : lo;
			hi = w[r * C + c] > hi ? w[r * C + c] : hi;
		}
		for (size_t c = 0; c < C; c++) {
			double v = hi > lo ? (w[r * C + c] - lo) / (hi - lo) : 0.0;
			int shade = (int)(255 - 215 * v);
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
				   "fill=\"rgb(%d,%d,255)\"><title>%.4f</title></rect>\n",
				left + (int)c * cell, y, cell - 1, cell - 1, shade,
				shade, w[r * C + c]);
		}
	}
	fprintf(f, "</svg>\n");
	int bad = ferror(f) | fflush(f) | fsync(fileno(f));
	bad |= fclose(f);
	if (bad || rename(tmp, dst) != 0) {
		fprintf(stderr, "anthem explain: --svg %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
		bad = 1;
	}
	free(tmp);
	free(target);
	return bad ? -1 : 0;
}

int cmd_explain(int argc, char **argv)
{
	const command *cmd = &cli_commands[5];
	const char *model = NULL, *query = NULL, *title = NULL, *svg = NULL,
		   *json = NULL;
	const opt opts[] = {
		{"model", "MODEL", "the model", &model},
		{"query", "TEXT", "the query", &query},
		{"title", "TEXT", "the product title", &title},
		{"svg", "FILE", "also write the grid as an SVG heat map", &svg},
		{"json", NULL, "print the grid as JSON", &json},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 0, &npos, &code))
		return code;
	if (!model || !query || !title) {
		fprintf(stderr, "anthem explain: --model, --query and --title are "
			"required\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	const cli_file in[] = {{"model", model}};
	if ((code = cli_inputs("explain", in, 1)) ||
	    (svg && (code = cli_output("explain", "svg", svg, in, 1))))
		return code;
	anthem_model *m;
	anthem_explanation *e = NULL;
	int rc = anthem_model_load(&m, model);
	if (!rc)
		rc = anthem_model_explain(m, query, title, &e);
	if (rc) {
		anthem_model_free(m);
		return cli_fail("explain", rc);
	}
	size_t R = anthem_explanation_rows(e), C = anthem_explanation_cols(e);
	const float *w = anthem_explanation_weights(e);
	if (json) {
		json_t *o = json_object(), *rows = json_array(),
		       *cols = json_array(), *grid = json_array();
		json_object_set_new(o, "distance",
				    json_real(anthem_explanation_distance(e)));
		for (size_t r = 0; r < R; r++)
			json_array_append_new(rows, cli_json_text(
				anthem_explanation_row_label(e, r)));
		for (size_t c = 0; c < C; c++)
			json_array_append_new(cols, cli_json_text(
				anthem_explanation_col_label(e, c)));
		for (size_t r = 0; r < R; r++) {
			json_t *row = json_array();
			for (size_t c = 0; c < C; c++)
				json_array_append_new(row, json_real(w[r * C + c]));
			json_array_append_new(grid, row);
		}
		json_object_set_new(o, "rows", rows);
		json_object_set_new(o, "cols", cols);
		json_object_set_new(o, "weights", grid);
		if (cli_json_print(o))
			rc = ANTHEM_ENOMEM;
	} else {
		printf("distance %.4f; each query trigram's strongest title "
		       "trigrams:\n", anthem_explanation_distance(e));
		for (size_t r = 0; r < R; r++) {
			printf("  ");
			label(stdout, anthem_explanation_row_label(e, r), 0);
			printf(" ->");
			/* the three largest weights of the row, largest first */
			float prev = 2.0f;
			for (int b = 0; b < 3 && b < (int)C; b++) {
				size_t arg = C;
				for (size_t c = 0; c < C; c++)
					if (w[r * C + c] < prev &&
					    (arg == C || w[r * C + c] > w[r * C + arg]))
						arg = c;
				if (arg == C)
					break;
				prev = w[r * C + arg];
				printf("  ");
				label(stdout, anthem_explanation_col_label(e, arg), 0);
				printf(" %.2f", prev);
			}
			printf("\n");
		}
	}
	if (!rc && svg && write_svg(svg, m, e, query, title) != 0)
		rc = ANTHEM_EIO;
	else if (!rc && svg)
		fprintf(stderr, "anthem explain: wrote %s\n", svg);
	anthem_explanation_free(e);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}
