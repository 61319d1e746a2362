/* bench/query/lexical_scale: whole queries of a model with the lexical
 * term (docs/network.md step 8) on a large catalogue, through the public
 * API only, so that bench/query/lexical-ab can time them under two builds
 * of the library (the lexical source's cost grows with the catalogue; the
 * WordNet one of bench/query/lexical has 82k titles).
 *
 * usage: lexical-scale --catalog FILE [--queries Q]
 *
 * An untrained model (seed 1, d = 32, 2^21 lexical buckets: the weights
 * do not change the lexical source's work, which is the titles sharing a
 * query word), an int8 index of the catalogue built in process (2
 * threads), then Q queries (default 400) of 1 to 3 leading words of
 * titles drawn with a fixed seed, one at a time on 2 threads, stage 2 from
 * 64 elements.  Prints key=value lines: the build's time, p50 / p99 ms. */
#include <anthem/anthem.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void die(const char *what)
{
	fprintf(stderr, "lexical-scale: %s: %s\n", what, anthem_last_error());
	exit(1);
}

int main(int argc, char **argv)
{
	const char *catalog = NULL;
	size_t nq = 400;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--catalog") && i + 1 < argc)
			catalog = argv[++i];
		else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
			nq = strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: lexical-scale --catalog FILE "
				"[--queries Q]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (!catalog || nq == 0) {
		fprintf(stderr, "lexical-scale: --catalog is needed, and "
			"--queries at least 1\n");
		return 2;
	}
	anthem_model_config c;
	anthem_model_config_init(&c);
	c.dim = 32;
	c.lexical_buckets = (size_t)1 << 21;
	anthem_model *m;
	anthem_catalog *cat;
	anthem_index *ix;
	if (anthem_model_create(&m, &c))
		die("model");
	if (anthem_catalog_load(&cat, catalog, 0))
		die(catalog);
	anthem_index_options io;
	anthem_index_options_init(&io);
	io.threads = 2;
	io.points = ANTHEM_POINTS_INT8;
	double t0 = now();
	if (anthem_index_build_ex(&ix, m, cat, &io))
		die("index");
	size_t n = anthem_index_count(ix);
	printf("build n=%zu s=%.1f\n", n, now() - t0);
	double *lat = malloc(nq * sizeof *lat);
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < nq; i++) {
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		const char *t = anthem_index_title(ix, r % n);
		char q[128];
		size_t words = 1 + r % 3, len = 0, w = 0;
		for (const char *p = t; *p && len + 1 < sizeof q; p++) {
			if (*p == ' ' && ++w == words)
				break;
			q[len++] = *p;
		}
		q[len] = '\0';
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.threads = 2;
		o.stage2_elements = 64;
		anthem_hit h[10];
		size_t nh;
		double s = now();
		if (anthem_search_ex(m, ix, q, &o, h, &nh))
			die("search");
		lat[i] = 1e3 * (now() - s);
	}
	qsort(lat, nq, sizeof *lat, cmp);
	printf("queries=%zu p50_ms=%.3f p99_ms=%.3f\n", nq, lat[nq / 2],
	       lat[(size_t)((double)nq * 0.99)]);
	free(lat);
	anthem_index_free(ix);
	anthem_catalog_free(cat);
	anthem_model_free(m);
	return 0;
}
