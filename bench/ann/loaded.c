/* bench/ann/loaded: stage 1 and whole queries on an index file that
 * `anthem index --ann` made (bench/ann/ann.c builds its graph in process;
 * this one measures a graph too large to build twice, such as 10M
 * products), through the public API only.
 *
 * usage: ann-loaded --model M --index I [--queries Q] [--ef E1,E2,...]
 *                   [--stage1-only | --e2e-only R]
 *
 * In one process: the index's load (time, resident growth); Q queries of
 * 1 to 4 words, each word taken from the title of a product drawn from the
 * index (fixed seed); the exact scan's top K1 = 200 of every query
 * (`stage1 = ANTHEM_STAGE1_EXACT`, `stage1_only`, 2 threads: the
 * reference, and its p50 / p99); with int8 points, the int8 scan
 * (`auto`, 2 threads) without and with the box prefilter, two rounds in
 * turns: recall of the exact top K1, p50 / p99; for each ef of the list the graph's
 * stage 1 (`ANTHEM_STAGE1_GRAPH`, 1 thread): recall of the exact top K1,
 * p50 / p99; then, at the first ef whose recall reaches 0.95 (else the
 * largest), whole queries (top 10) one at a time on 2 threads, stage 1 by
 * the graph, by the exact scan and by `auto` without and with the
 * prefilter, with every query element
 * and with stage 2 from 64 (not with --stage1-only: bench/ann/ab times
 * stage 1 under two builds of the library).  --e2e-only R: only R rounds
 * of whole queries from 64 elements, through the exact scan and the int8
 * scan without and with the prefilter in turns (a tail measured again
 * without the rest).  Prints key=value lines. */
#include <anthem/anthem.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { K1 = 200 };

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtod(line + 6, NULL);
	if (f)
		fclose(f);
	return kb * 1024.0;
}

static void die(const char *what)
{
	fprintf(stderr, "ann-loaded: %s: %s\n", what, anthem_last_error());
	exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp);
	return v[(size_t)((double)n * p)];
}

/* a word of product i's title (the title's words split at spaces) */
static void title_word(const anthem_index *ix, size_t i, char *out, size_t size)
{
	const char *t = anthem_index_title(ix, i);
	size_t words = 1;
	for (const char *p = t; *p; p++)
		words += *p == ' ';
	size_t want = rnd() % words, w = 0;
	const char *p = t;
	while (w < want && *p)
		w += *p++ == ' ';
	size_t len = strcspn(p, " ");
	if (len >= size)
		len = size - 1;
	memcpy(out, p, len);
	out[len] = '\0';
}

/* Q queries one at a time: latencies into lat (ms), the hits of each into
 * keep (K1 a query) when given */
static void run(const anthem_model *m, const anthem_index *ix, char **q,
		size_t nq, const anthem_search_options *o, double *lat,
		anthem_hit *keep, size_t *nkeep, const char *what)
{
	anthem_hit h[K1];
	for (size_t i = 0; i < nq; i++) {
		size_t n;
		double t0 = now();
		if (anthem_search_ex(m, ix, q[i], o, h, &n))
			die(what);
		lat[i] = 1e3 * (now() - t0);
		if (keep) {
			memcpy(keep + i * K1, h, n * sizeof *h);
			nkeep[i] = n;
		}
	}
}

/* The share of the exact top K1 (exact, nexact a query) that got holds */
static double recall_of(const anthem_hit *exact, const size_t *nexact,
			const anthem_hit *got, const size_t *ngot, size_t nq)
{
	double found = 0, wanted = 0;
	for (size_t i = 0; i < nq; i++) {
		for (size_t a = 0; a < nexact[i]; a++)
			for (size_t b = 0; b < ngot[i]; b++)
				if (got[i * K1 + b].index == exact[i * K1 + a].index) {
					found++;
					break;
				}
		wanted += (double)nexact[i];
	}
	return wanted > 0 ? found / wanted : 1.0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *index = NULL, *efs = "1600,3200,6400";
	size_t nq = 200, e2e_only = 0;
	int stage1_only = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model = argv[++i];
		else if (!strcmp(argv[i], "--index") && i + 1 < argc)
			index = argv[++i];
		else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
			nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--ef") && i + 1 < argc)
			efs = argv[++i];
		else if (!strcmp(argv[i], "--stage1-only"))
			stage1_only = 1;
		else if (!strcmp(argv[i], "--e2e-only") && i + 1 < argc)
			e2e_only = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: ann-loaded --model M --index I "
				"[--queries Q] [--ef E1,E2,...] "
				"[--stage1-only | --e2e-only R]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (!model || !index) {
		fprintf(stderr, "ann-loaded: --model and --index are needed\n");
		return 2;
	}
	if (nq == 0) {
		fprintf(stderr, "ann-loaded: --queries must be at least 1\n");
		return 2;
	}
	anthem_model *m;
	anthem_index *ix;
	if (anthem_model_load(&m, model))
		die(model);
	double r0 = rss(), t0 = now();
	if (anthem_index_load(&ix, index, m))
		die(index);
	size_t n = anthem_index_count(ix);
	printf("load n=%zu load_s=%.2f rss_growth_bytes=%.0f has_ann=%d "
	       "points=%s\n", n, now() - t0, rss() - r0,
	       anthem_index_has_ann(ix),
	       anthem_index_points(ix) == ANTHEM_POINTS_INT8 ? "int8"
							    : "float32");
	fflush(stdout);
	if (!anthem_index_has_ann(ix) || n == 0) {
		fprintf(stderr, "ann-loaded: %s has no graph (anthem index "
			"--ann)\n", index);
		return 1;
	}

	char **q = malloc(nq * sizeof *q);
	for (size_t i = 0; i < nq; i++) {
		char buf[256] = "", w[64];
		size_t words = 1 + rnd() % 4;
		for (size_t k = 0; k < words; k++) {
			title_word(ix, rnd() % n, w, sizeof w);
			size_t len = strlen(buf);
			snprintf(buf + len, sizeof buf - len, "%s%s",
				 k ? " " : "", w);
		}
		q[i] = strdup(buf);
	}
	double *lat = malloc(nq * sizeof *lat);
	anthem_hit *exact = malloc(nq * K1 * sizeof *exact);
	anthem_hit *got = malloc(nq * K1 * sizeof *got);
	size_t *nexact = malloc(nq * sizeof *nexact);
	size_t *ngot = malloc(nq * sizeof *ngot);

	anthem_search_options o;
	/* --e2e-only R: R rounds of whole queries from 64 elements through
	 * the exact scan and the int8 scan without and with the prefilter,
	 * in turns, and nothing else */
	for (size_t r = 0; r < e2e_only; r++) {
		static const size_t pre[] = {0, ANTHEM_PREFILTER_OFF, 0};
		static const char *const name[] = {"exact", "auto-prefilter-off",
						   "auto"};
		for (size_t s = 0; s < 3; s++) {
			anthem_search_options_init(&o);
			o.threads = 2;
			o.stage1 = s ? ANTHEM_STAGE1_AUTO : ANTHEM_STAGE1_EXACT;
			o.stage2_elements = 64;
			o.prefilter = pre[s];
			run(m, ix, q, nq, &o, lat, NULL, NULL, "query");
			printf("e2e round=%zu stage1=%s elements=64 threads=2 "
			       "p50_ms=%.3f p99_ms=%.3f\n", r, name[s],
			       pct(lat, nq, 0.5), pct(lat, nq, 0.99));
			fflush(stdout);
		}
	}
	if (e2e_only)
		return 0;
	anthem_search_options_init(&o);
	o.k = K1;
	o.stage1_only = 1;
	o.stage1 = ANTHEM_STAGE1_EXACT;
	o.threads = 2;
	run(m, ix, q, nq, &o, lat, exact, nexact, "exact stage 1");
	printf("scan queries=%zu threads=2 stage1_p50_ms=%.3f "
	       "stage1_p99_ms=%.3f\n", nq, pct(lat, nq, 0.5),
	       pct(lat, nq, 0.99));
	fflush(stdout);

	/* the int8 scan on 2 threads (`auto` on an int8 index), through the
	 * box prefilter (its default depth, 2 K1) and without it: recall of
	 * the exact top K1 and time, in turns on the same queries */
	if (anthem_index_points(ix) == ANTHEM_POINTS_INT8) {
		static const struct {
			size_t prefilter;
			const char *name;
		} pre[] = {{ANTHEM_PREFILTER_OFF, "off"}, {0, "default"}};
		for (size_t r = 0; r < 2 * 2; r++) {
			o.stage1 = ANTHEM_STAGE1_AUTO;
			o.prefilter = pre[r % 2].prefilter;
			run(m, ix, q, nq, &o, lat, got, ngot, "int8 stage 1");
			printf("int8 prefilter=%s round=%zu threads=2 "
			       "recall_at_k1=%.4f stage1_p50_ms=%.3f "
			       "stage1_p99_ms=%.3f\n", pre[r % 2].name, r / 2,
			       recall_of(exact, nexact, got, ngot, nq),
			       pct(lat, nq, 0.5), pct(lat, nq, 0.99));
			fflush(stdout);
		}
		o.prefilter = 0;
	}

	size_t chosen = 0;
	double chosen_recall = 0;
	o.stage1 = ANTHEM_STAGE1_GRAPH;
	o.threads = 1;
	for (const char *p = efs; *p;) {
		char *end;
		size_t ef = strtoul(p, &end, 10);
		if (end == p || ef == 0)
			break;
		o.ef = ef;
		run(m, ix, q, nq, &o, lat, got, ngot, "graph stage 1");
		double recall = recall_of(exact, nexact, got, ngot, nq);
		printf("graph ef=%zu threads=1 recall_at_k1=%.4f "
		       "stage1_p50_ms=%.3f stage1_p99_ms=%.3f\n", ef, recall,
		       pct(lat, nq, 0.5), pct(lat, nq, 0.99));
		fflush(stdout);
		chosen = ef;
		chosen_recall = recall;
		if (recall >= 0.95)
			break;
		p = *end == ',' ? end + 1 : end;
	}
	printf("chosen ef=%zu recall_at_k1=%.4f\n", chosen, chosen_recall);

	/* whole queries, top 10, one at a time on 2 threads */
	static const struct {
		int stage1;
		size_t prefilter;
		const char *name;
	} s1[] = {{ANTHEM_STAGE1_GRAPH, 0, "graph"},
		  {ANTHEM_STAGE1_EXACT, 0, "exact"},
		  {ANTHEM_STAGE1_AUTO, ANTHEM_PREFILTER_OFF, "auto-prefilter-off"},
		  {ANTHEM_STAGE1_AUTO, 0, "auto"}};
	for (size_t e = 0; e < (stage1_only ? 0 : 2); e++)
		for (size_t s = 0; s < sizeof s1 / sizeof *s1; s++) {
			anthem_search_options_init(&o);
			o.threads = 2;
			o.stage1 = s1[s].stage1;
			o.ef = chosen;
			o.stage2_elements = e ? 64 : 0;
			o.prefilter = s1[s].prefilter;
			run(m, ix, q, nq, &o, lat, NULL, NULL, "query");
			printf("e2e stage1=%s ef=%zu elements=%s threads=2 "
			       "p50_ms=%.3f p99_ms=%.3f\n", s1[s].name,
			       s1[s].stage1 == ANTHEM_STAGE1_GRAPH ? chosen : 0,
			       e ? "64" : "all", pct(lat, nq, 0.5),
			       pct(lat, nq, 0.99));
			fflush(stdout);
		}
	for (size_t i = 0; i < nq; i++)
		free(q[i]);
	free(q);
	free(lat);
	free(exact);
	free(got);
	free(nexact);
	free(ngot);
	anthem_index_free(ix);
	anthem_model_free(m);
	return 0;
}
