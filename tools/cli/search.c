/* anthem index / search / explain */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- index ---------------------------------------------------------------------- */

int cmd_index(int argc, char **argv)
{
	const command *cmd = &cli_commands[3];
	const char *model = NULL, *catalog = NULL, *out = NULL, *threads = NULL;
	const opt opts[] = {
		{"model", "MODEL", "the model that embeds the products", &model},
		{"catalog", "FILE", "products: product_id<TAB>title", &catalog},
		{"out", "INDEX", "where to write the index (atomically)", &out},
		{"threads", "T", "threads (all cores)", &threads},
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
	anthem_model *m = NULL;
	anthem_catalog *c = NULL;
	anthem_index *ix = NULL;
	int rc = anthem_model_load(&m, model);
	if (!rc)
		rc = anthem_catalog_load(&c, catalog, 0);
	if (!rc) {
		fprintf(stderr, "anthem index: embedding %zu products...\n",
			anthem_catalog_count(c));
		rc = anthem_index_build(&ix, m, c, nthreads);
	}
	if (!rc)
		rc = anthem_index_save(ix, out);
	if (!rc)
		fprintf(stderr, "anthem index: wrote %s (%zu products, dim %zu)\n",
			out, anthem_index_count(ix), anthem_index_dim(ix));
	else
		cli_fail("index", rc);
	anthem_index_free(ix);
	anthem_catalog_free(c);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}

/* ---- search --------------------------------------------------------------------- */

typedef struct query_set {
	const char *main;
	const char *and_[16], *or_[16];
	size_t nand, nor;
} query_set;

/* One query: anthem_search (with a lexical model, its stage 1 also takes
 * the titles of highest BM25).  A composition: stage 1 with (main AND
 * and...) OR or... (the regions alone), stage 2 with the same rule on the
 * full model's distances: max over an AND, min over an OR. */
static int run_query(const anthem_model *m, const anthem_index *ix,
		     const query_set *q, size_t k, size_t k1, anthem_hit *hits,
		     size_t *nhits)
{
	if (q->nand + q->nor == 0)
		return anthem_search(m, ix, q->main, k, k1, hits, nhits);
	anthem_hyperboloid *h = NULL, *t = NULL, *next = NULL;
	int rc = anthem_model_embed_query(m, q->main, &h);
	for (size_t i = 0; !rc && i < q->nand + q->nor; i++) {
		int is_and = i < q->nand;
		const char *text = is_and ? q->and_[i] : q->or_[i - q->nand];
		rc = anthem_model_embed_query(m, text, &t);
		if (!rc)
			rc = is_and ? anthem_hyperboloid_intersect(&next, h, t)
				    : anthem_hyperboloid_union(&next, h, t);
		anthem_hyperboloid_free(t);
		t = NULL;
		if (!rc) {
			anthem_hyperboloid_free(h);
			h = next;
		}
	}
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	anthem_model_get_config(m, &cfg);
	if (k1 < k)
		k1 = k;
	anthem_hit *cand = malloc(k1 * sizeof *cand);
	size_t *idx = malloc(k1 * sizeof *idx), nc = 0;
	float *best = malloc(k1 * sizeof *best);
	if (!rc && (!cand || !idx || !best)) {
		fprintf(stderr, "anthem search: out of memory\n");
		rc = ANTHEM_ENOMEM;
	}
	if (!rc)
		rc = anthem_index_scan(ix, h, cfg.gamma, k1, cand, &nc);
	for (size_t i = 0; i < nc; i++)
		idx[i] = cand[i].index;
	/* branch 0: main and the ANDs; then one branch per OR */
	for (size_t b = 0; !rc && b <= q->nor; b++) {
		size_t terms = b == 0 ? 1 + q->nand : 1;
		for (size_t tm = 0; !rc && tm < terms; tm++) {
			const char *text = b > 0 ? q->or_[b - 1]
				       : tm == 0 ? q->main : q->and_[tm - 1];
			float *s = malloc(nc * sizeof *s + 1);
			rc = s ? anthem_score(m, ix, text, idx, nc, s) : ANTHEM_ENOMEM;
			for (size_t i = 0; !rc && i < nc; i++) {
				if (b == 0) /* AND: the largest distance */
					best[i] = tm == 0 || s[i] > best[i] ? s[i] : best[i];
				else if (s[i] < best[i])
					best[i] = s[i];
			}
			free(s);
		}
	}
	if (!rc) {
		/* order the candidates by their combined distance */
		for (size_t i = 0; i < nc; i++)
			cand[i].distance = best[i];
		for (size_t i = 1; i < nc; i++) /* insertion sort: k1 is small */
			for (size_t j = i; j > 0 &&
			     (cand[j].distance < cand[j - 1].distance); j--) {
				anthem_hit tmp = cand[j];
				cand[j] = cand[j - 1];
				cand[j - 1] = tmp;
			}
		*nhits = nc < k ? nc : k;
		memcpy(hits, cand, *nhits * sizeof *hits);
	}
	free(cand);
	free(idx);
	free(best);
	anthem_hyperboloid_free(h);
	return rc;
}

static void print_hits(const anthem_index *ix, const char *query,
		       const anthem_hit *hits, size_t n, int json)
{
	if (json) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			printf(i ? ", {\"product_id\": " : "{\"product_id\": ");
			cli_json_string(anthem_index_id(ix, hits[i].index));
			printf(", \"title\": ");
			cli_json_string(anthem_index_title(ix, hits[i].index));
			printf(", \"score\": %.9g}", hits[i].distance);
		}
		printf("]\n");
		return;
	}
	printf("query: %s\n", query);
	for (size_t i = 0; i < n; i++) {
		const char *title = anthem_index_title(ix, hits[i].index);
		printf("%3zu. %8.4f  %-10s %.90s%s\n", i + 1, hits[i].distance,
		       anthem_index_id(ix, hits[i].index), title,
		       strlen(title) > 90 ? "..." : "");
	}
}

int cmd_search(int argc, char **argv)
{
	const command *cmd = &cli_commands[4];
	const char *model = NULL, *index = NULL, *k = NULL, *k1 = NULL,
		   *json = NULL, *ands[16], *ors[16];
	size_t nand = 0, nor = 0;
	const opt opts[] = {
		{"model", "MODEL", "the model", &model},
		{"index", "INDEX", "the index built with it (anthem index)", &index},
		{"k", "N", "results (10)", &k},
		{"k1", "N", "stage-1 candidates reranked by the full model (200)", &k1},
		{"and", "QUERY", "intersect with another query (repeatable; stage 1 is then the regions alone, no lexical candidates)", NULL, 1, ands, &nand},
		{"or", "QUERY", "unite with another query (repeatable)", NULL, 1, ors, &nor},
		{"json", NULL, "print a JSON array of {product_id, title, score}", &json},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos, nk = 10, nk1 = 200;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 1, &npos, &code))
		return code;
	if (!model || !index) {
		fprintf(stderr, "anthem search: --model and --index are required\n"
			"usage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if ((k && cli_size(cmd, "k", k, &nk)) ||
	    (k1 && cli_size(cmd, "k1", k1, &nk1)))
		return EXIT_USAGE;
	if (npos == 0 && !isatty(0)) {
		fprintf(stderr, "anthem search: no QUERY (and stdin is not a "
			"terminal)\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (nk == 0 || nk > 100000) {
		fprintf(stderr, "anthem search: --k must be 1 to 100000\n");
		return EXIT_USAGE;
	}
	anthem_model *m = NULL;
	anthem_index *ix = NULL;
	int rc = anthem_model_load(&m, model);
	if (!rc)
		rc = anthem_index_load(&ix, index, m);
	if (rc) {
		anthem_model_free(m);
		return cli_fail("search", rc);
	}
	/* stage 1 never keeps more than the index holds: a huge --k1 must
	 * not size the buffers (2^62 x 16 bytes wrapped around to 0) */
	if (nk1 > anthem_index_count(ix))
		nk1 = anthem_index_count(ix);
	anthem_hit *hits = malloc((nk1 > nk ? nk1 : nk) * sizeof *hits);
	if (!hits) {
		fprintf(stderr, "anthem search: out of memory\n");
		anthem_index_free(ix);
		anthem_model_free(m);
		return EXIT_DATA;
	}
	query_set q = {.nand = nand, .nor = nor};
	memcpy(q.and_, ands, nand * sizeof *ands);
	memcpy(q.or_, ors, nor * sizeof *ors);
	size_t n;
	if (npos == 1) {
		q.main = pos[0];
		rc = run_query(m, ix, &q, nk, nk1, hits, &n);
		if (!rc)
			print_hits(ix, q.main, hits, n, json != NULL);
	} else { /* interactive: one query a line */
		char *line = NULL;
		size_t cap = 0;
		fprintf(stderr, "anthem search: %zu products; type a query, "
			"end with Ctrl-D\n> ", anthem_index_count(ix));
		/* a whole line is one query, however long (only its first
		 * trigrams count) */
		while (!rc && getline(&line, &cap, stdin) >= 0) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0]) {
				q.main = line;
				rc = run_query(m, ix, &q, nk, nk1, hits, &n);
				if (!rc)
					print_hits(ix, q.main, hits, n, json != NULL);
			}
			fprintf(stderr, "> ");
		}
		free(line);
		fprintf(stderr, "\n");
	}
	if (rc)
		cli_fail("search", rc);
	free(hits);
	anthem_index_free(ix);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}

/* ---- explain ---------------------------------------------------------------------- */

/* A trigram as it should read on an axis: spaces made visible. */
static void label(FILE *f, const char *s, int xml)
{
	for (; *s; s++) {
		if (*s == ' ')
			fputs("\xc2\xb7", f); /* middle dot */
		else if (xml && *s == '<')
			fputs("&lt;", f);
		else if (xml && *s == '>')
			fputs("&gt;", f);
		else if (xml && *s == '&')
			fputs("&amp;", f);
		else if (xml && *s == '"')
			fputs("&quot;", f);
		else if ((unsigned char)*s < 0x20)
			fputc('?', f);
		else
			fputc(*s, f);
	}
}

static int write_svg(const char *path, const anthem_explanation *e,
		     const char *query, const char *title)
{
	size_t R = anthem_explanation_rows(e), C = anthem_explanation_cols(e);
	const float *w = anthem_explanation_weights(e);
	const int cell = 18, left = 60, top = 70;
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	int W = left + (int)C * cell + 20, H = top + (int)R * cell + 64;
	if (W < 560)
		W = 560;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" font-family=\"monospace\" font-size=\"11\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		W, H);
	fprintf(f, "<text x=\"%d\" y=\"14\" font-size=\"12\">query: ", left);
	label(f, query, 1);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"12\">title: ",
		left, H - 42);
	label(f, title, 1);
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
	return fclose(f) == 0 ? 0 : -1;
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
		printf("{\"distance\": %.9g, \"rows\": [", anthem_explanation_distance(e));
		for (size_t r = 0; r < R; r++) {
			printf(r ? ", " : "");
			cli_json_string(anthem_explanation_row_label(e, r));
		}
		printf("], \"cols\": [");
		for (size_t c = 0; c < C; c++) {
			printf(c ? ", " : "");
			cli_json_string(anthem_explanation_col_label(e, c));
		}
		printf("], \"weights\": [");
		for (size_t r = 0; r < R; r++) {
			printf(r ? ", [" : "[");
			for (size_t c = 0; c < C; c++)
				printf(c ? ", %.6f" : "%.6f", w[r * C + c]);
			printf("]");
		}
		printf("]}\n");
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
	if (svg && write_svg(svg, e, query, title) != 0)
		rc = ANTHEM_EIO;
	else if (svg)
		fprintf(stderr, "anthem explain: wrote %s\n", svg);
	anthem_explanation_free(e);
	anthem_model_free(m);
	return rc ? EXIT_DATA : 0;
}
