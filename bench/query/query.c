/* bench/query: end-to-end query latency of anthem_search_ex (embed the
 * query, stage 1 over the whole index keeping K1 = 200, stage 2 reranks
 * them with the full model, top 10) on an index of N synthetic products;
 * the resident memory of the loaded index; a model shared by two query
 * threads; and the throughput of anthem_search_batch on 2 threads against
 * one anthem_search call after another, with the same hits to the bit;
 * then the same products indexed with int8 points (ANTHEM_POINTS_INT8):
 * the loaded index's memory, the share of the float scan's top K1 that
 * its stage 1 keeps, and the latency runs again.
 *
 * usage: query [--n N] [--queries Q] [--dir DIR] [--model FILE] [--prepare]
 * (--prepare: only make the cached model, catalogue and index, so that the
 * measuring run starts from a fresh process whose RSS holds no freed
 * memory of the build)
 *
 * The catalogue is synthetic: titles of 5 to 12 words drawn (Zipf-like)
 * from the vocabulary of the WordNet fixture's titles, queries of 1 to 4
 * such words; both are generated from fixed seeds.  Latency depends on the
 * shapes (dimension, buckets, trigram cuts, K1), not on what the weights
 * learnt, so without --model the model is libanthem's default
 * configuration (dim 32, 2^18 buckets, hyperbolic) at its seeded
 * initialisation, saved and loaded like a trained one.  Model, catalogue
 * and index are cached in DIR (default build/bench-query) and reused when
 * present: building the 1M index embeds 1M titles. */
#include <anthem/anthem.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* a field of /proc/self/status in bytes: VmRSS, RssAnon (malloc'ed),
 * RssFile (mapped files) */
static double status(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	double kb = -1;
	size_t len = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, len) && line[len] == ':')
			kb = strtod(line + len + 1, NULL);
	if (f)
		fclose(f);
	return kb * 1024.0;
}

static double rss(void) { return status("VmRSS"); }

/* CPU time of the calling thread: what the query would take on a core of
 * its own, when other jobs share the machine (1 thread per query only) */
static double thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void die(const char *what)
{
	fprintf(stderr, "query: %s: %s\n", what, anthem_last_error());
	exit(1);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- the vocabulary: lower-case words of the fixture's titles ---------- */

static char **vocab;
static size_t nvocab;

static void load_vocab(const char *fixture)
{
	FILE *f = fopen(fixture, "r");
	if (!f) {
		perror(fixture);
		exit(1);
	}
	char line[4096];
	size_t cap = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
		char *t = strchr(line, '\t');
		if (!t)
			continue;
		for (char *w = strtok(t + 1, " \t\r\n;:,.()'\""); w;
		     w = strtok(NULL, " \t\r\n;:,.()'\"")) {
			if (strlen(w) < 2)
				continue;
			for (char *c = w; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			int dup = 0;
			for (size_t i = 0; i < nvocab && !dup; i++)
				dup = !strcmp(vocab[i], w);
			if (dup)
				continue;
			if (nvocab == cap) {
				cap = cap ? 2 * cap : 1024;
				vocab = realloc(vocab, cap * sizeof *vocab);
			}
			vocab[nvocab++] = strdup(w);
		}
	}
	fclose(f);
}

/* Zipf-like: word i with probability ~ 1 / (i + 10) */
static const char *word(void)
{
	double u = (double)(rnd() >> 11) * 0x1.0p-53;
	double lo = 10.0, hi = (double)nvocab + 10.0;
	size_t i = (size_t)(lo * exp(u * log(hi / lo)) - lo);
	return vocab[i < nvocab ? i : nvocab - 1];
}

static void phrase(char *buf, size_t size, size_t words)
{
	buf[0] = '\0';
	for (size_t w = 0; w < words; w++) {
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s", w ? " " : "", word());
	}
}

/* ---- the runs -------------------------------------------------------------- */

typedef struct run {
	const anthem_model *m;
	const anthem_index *ix;
	char **queries;
	size_t nq, scan_threads;
	double *lat, *cpu;
	atomic_size_t next;
	double rss_during;
	int failed;
	size_t elements; /* anthem_search_options.stage2_elements */
} run;

static void *worker(void *arg)
{
	run *r = arg;
	anthem_hit hits[10];
	for (;;) {
		size_t q = atomic_fetch_add(&r->next, 1);
		if (q >= r->nq)
			break;
		size_t n;
		double t0 = now(), c0 = thread_cpu();
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.threads = r->scan_threads;
		o.stage2_elements = r->elements;
		if (anthem_search_ex(r->m, r->ix, r->queries[q], &o, hits, &n)) {
			r->failed = 1;
			break;
		}
		r->lat[q] = now() - t0;
		r->cpu[q] = thread_cpu() - c0;
		if (q == r->nq / 2)
			r->rss_during = rss();
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Q queries on `workers` threads side by side, each query's stages on
 * scan_threads threads (opts.threads); prints p50, p99, queries/s. */
static void measure(const char *label, run *r, size_t workers,
		    size_t scan_threads, double rss_before)
{
	atomic_store(&r->next, 0);
	r->scan_threads = scan_threads;
	r->rss_during = 0;
	pthread_t th[8];
	double t0 = now();
	for (size_t i = 0; i < workers; i++)
		pthread_create(&th[i], NULL, worker, r);
	for (size_t i = 0; i < workers; i++)
		pthread_join(th[i], NULL);
	double wall = now() - t0;
	if (r->failed)
		die(label);
	double *s = malloc(r->nq * sizeof *s), *c = malloc(r->nq * sizeof *c);
	memcpy(s, r->lat, r->nq * sizeof *s);
	qsort(s, r->nq, sizeof *s, cmp);
	memcpy(c, r->cpu, r->nq * sizeof *c);
	qsort(c, r->nq, sizeof *c, cmp);
	printf("run=%s workers=%zu scan_threads=%zu queries=%zu p50_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f qps=%.1f cpu_p50_ms=%.3f cpu_p99_ms=%.3f "
	       "rss_growth_during_bytes=%.0f\n",
	       label, workers, scan_threads, r->nq, 1e3 * s[r->nq / 2],
	       1e3 * s[(r->nq * 99) / 100], 1e3 * s[r->nq - 1],
	       (double)r->nq / wall, 1e3 * c[r->nq / 2],
	       1e3 * c[(r->nq * 99) / 100], r->rss_during - rss_before);
	fflush(stdout);
	free(s);
	free(c);
}

static double process_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The batch row: the Q queries through one anthem_search_batch on 2
 * threads against Q calls of anthem_search, one after another on this
 * thread, same options (k 10, K1 200).  The batch promises each query the
 * hits anthem_search_ex gives it, to the bit, so any difference in an id
 * or a distance's bits is a failure (exit 1), not a number.  The process's
 * CPU time beside the wall time tells a batch slowed by other jobs on the
 * machine from one that does not scale. */
static void measure_batch(const anthem_model *m, const anthem_index *ix,
			  char **queries, size_t nq)
{
	enum { K = 10, K1 = 200 };
	anthem_hit *one = malloc(nq * K * sizeof *one);
	anthem_hit *all = malloc(nq * K * sizeof *all);
	size_t *n_one = malloc(nq * sizeof *n_one);
	size_t *n_all = malloc(nq * sizeof *n_all);
	if (!one || !all || !n_one || !n_all) {
		fprintf(stderr, "query: out of memory\n");
		exit(1);
	}
	double t0 = now(), c0 = process_cpu();
	for (size_t q = 0; q < nq; q++)
		if (anthem_search(m, ix, queries[q], K, K1, one + q * K, &n_one[q]))
			die("anthem_search");
	double seq_s = now() - t0, seq_cpu = process_cpu() - c0;

	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = K;
	o.k1 = K1;
	o.threads = 2;
	t0 = now();
	c0 = process_cpu();
	if (anthem_search_batch(m, ix, (const char *const *)queries, nq, &o, all,
				n_all))
		die("anthem_search_batch");
	double batch_s = now() - t0, batch_cpu = process_cpu() - c0;

	size_t differ = 0, hits = 0;
	for (size_t q = 0; q < nq; q++) {
		int same = n_one[q] == n_all[q];
		for (size_t i = 0; same && i < n_one[q]; i++) {
			const anthem_hit *a = &one[q * K + i], *b = &all[q * K + i];
			same = a->index == b->index &&
			       !memcmp(&a->distance, &b->distance, sizeof a->distance);
		}
		if (!same && differ++ == 0)
			fprintf(stderr, "query: batch and anthem_search differ on "
				"query %zu '%s'\n", q, queries[q]);
		hits += n_one[q];
	}
	printf("batch: queries=%zu k=%d k1=%d hits=%zu seq_threads=1 seq_s=%.3f "
	       "seq_cpu_s=%.3f seq_qps=%.1f batch_threads=2 batch_s=%.3f "
	       "batch_cpu_s=%.3f batch_qps=%.1f ratio=%.3f differing_queries=%zu\n",
	       nq, K, K1, hits, seq_s, seq_cpu, (double)nq / seq_s, batch_s,
	       batch_cpu, (double)nq / batch_s, seq_s / batch_s, differ);
	fflush(stdout);
	free(one);
	free(all);
	free(n_one);
	free(n_all);
	if (differ) {
		fprintf(stderr, "query: %zu of %zu queries got other hits from "
			"anthem_search_batch\n", differ, nq);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	size_t n = 1000000, nq = 1000;
	const char *dir = "build/bench-query", *model_path = NULL;
	int prepare = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--n") && i + 1 < argc)
			n = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
			nq = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--model") && i + 1 < argc)
			model_path = argv[++i];
		else if (!strcmp(argv[i], "--prepare"))
			prepare = 1;
		else {
			printf("usage: query [--n N] [--queries Q] [--dir DIR] "
			       "[--model FILE] [--prepare]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (!n || !nq) {
		fprintf(stderr, "query: N and Q must be > 0\n");
		return 2;
	}
	mkdir(dir, 0755);
	char path[4096], cat_path[4096], idx_path[4096], idx8_path[4200];
	load_vocab(FIXTURE_DIR "/catalog.tsv");

	/* the model: a file, loaded (shared by every thread below) */
	if (!model_path) {
		snprintf(path, sizeof path, "%s/default-model.anthem", dir);
		model_path = path;
		if (!exists(path)) {
			anthem_model_config cfg;
			anthem_model_config_init(&cfg);
			anthem_model *m0;
			if (anthem_model_create(&m0, &cfg) || anthem_model_save(m0, path))
				die("model");
			anthem_model_free(m0);
		}
	}
	double r0 = rss(), a0 = status("RssAnon");
	anthem_model *m;
	if (anthem_model_load(&m, model_path))
		die(model_path);
	double model_rss = rss() - r0, model_anon = status("RssAnon") - a0;
	size_t d = anthem_model_dim(m);

	/* the catalogue and its index, cached */
	snprintf(cat_path, sizeof cat_path, "%s/catalog-%zu.tsv", dir, n);
	snprintf(idx_path, sizeof idx_path, "%s/index-%zu-%016llx.anthem", dir, n,
		 (unsigned long long)anthem_model_fingerprint(m));
	if (!exists(cat_path)) {
		char tmp[4200], title[1024];
		snprintf(tmp, sizeof tmp, "%s.tmp", cat_path);
		FILE *f = fopen(tmp, "w");
		if (!f) {
			perror(tmp);
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			phrase(title, sizeof title, 5 + rnd() % 8);
			fprintf(f, "P%07zu\t%s\n", i, title);
		}
		if (fclose(f) || rename(tmp, cat_path)) {
			perror(cat_path);
			return 1;
		}
	}
	double build_s = 0;
	if (!exists(idx_path)) {
		anthem_catalog *c;
		anthem_index *b;
		if (anthem_catalog_load(&c, cat_path, 0))
			die(cat_path);
		double t0 = now();
		if (anthem_index_build(&b, m, c, 0))
			die("index build");
		build_s = now() - t0;
		if (anthem_index_save(b, idx_path))
			die("index save");
		anthem_index_free(b);
		anthem_catalog_free(c);
		printf("index_build_s=%.1f n=%zu dim=%zu threads=all "
		       "peak_rss_bytes=%.0f\n", build_s, n, d, status("VmHWM"));
	}
	/* the same products with int8 points (ANTHEM_POINTS_INT8: the scan
	 * reads codes, re-scores the best 2 K1 in float32), cached beside */
	snprintf(idx8_path, sizeof idx8_path, "%.4090s.int8", idx_path);
	if (!exists(idx8_path)) {
		anthem_catalog *c;
		anthem_index *b;
		anthem_index_options io;
		anthem_index_options_init(&io);
		io.points = ANTHEM_POINTS_INT8;
		if (anthem_catalog_load(&c, cat_path, 0))
			die(cat_path);
		double t0 = now();
		if (anthem_index_build_ex(&b, m, c, &io))
			die("int8 index build");
		/* the process's peak so far: this build's, when above the
		 * float build's line */
		printf("index8_build_s=%.1f n=%zu dim=%zu threads=all "
		       "peak_rss_bytes=%.0f\n", now() - t0, n, d, status("VmHWM"));
		if (anthem_index_save(b, idx8_path))
			die("int8 index save");
		anthem_index_free(b);
		anthem_catalog_free(c);
	}
	if (prepare) {
		anthem_model_free(m);
		return 0;
	}

	/* the index as a server holds it: loaded (blocks used in place) */
	double r1 = rss(), a1 = status("RssAnon");
	anthem_index *ix;
	double t0 = now();
	if (anthem_index_load(&ix, idx_path, m))
		die(idx_path);
	double load_s = now() - t0;
	double index_rss = rss() - r1, index_anon = status("RssAnon") - a1;
	double strings = 0;
	for (size_t i = 0; i < n; i++)
		strings += (double)strlen(anthem_index_id(ix, i)) +
			   (double)strlen(anthem_index_title(ix, i)) + 2;
	double nblk = (double)((n + 15) / 16 * 16);
	double scan_bytes = nblk * 4.0 * (double)d + nblk * 4.0; /* points, norms */
	double bound = 1.1 * (double)n * (4.0 * (double)d + 8.0);
	printf("model=%s dim=%zu model_rss_bytes=%.0f model_anon_bytes=%.0f "
	       "index_anon_bytes=%.0f n=%zu "
	       "index_load_s=%.2f index_rss_bytes=%.0f scan_data_bytes=%.0f "
	       "offsets_bytes=%.0f strings_bytes=%.0f bound_bytes=%.0f "
	       "index_rss_minus_strings_over_bound=%.3f index_rss_over_bound=%.3f\n",
	       model_path, d, model_rss, model_anon, index_anon, n, load_s, index_rss, scan_bytes,
	       4.0 * (double)n, strings, bound, (index_rss - strings) / bound,
	       index_rss / bound);
	fflush(stdout);

	/* queries */
	char **queries = malloc(nq * sizeof *queries);
	double *lat = malloc(nq * sizeof *lat), *cpu = malloc(nq * sizeof *cpu);
	for (size_t i = 0; i < nq; i++) {
		char q[256];
		phrase(q, sizeof q, 1 + rnd() % 4);
		queries[i] = strdup(q);
	}
	run r = {.m = m, .ix = ix, .queries = queries, .nq = nq, .lat = lat,
		 .cpu = cpu};
	/* warm up: page in what the first queries would */
	r.nq = nq < 20 ? nq : 20;
	measure("warmup", &r, 1, 1, rss());
	r.nq = nq;

	/* where the time of one query goes (1 thread, median over the set) */
	double *te = malloc(nq * sizeof *te), *ts = malloc(nq * sizeof *ts),
	       *tr = malloc(nq * sizeof *tr);
	anthem_hit *c1 = malloc(200 * sizeof *c1);
	size_t *cand = malloc(200 * sizeof *cand);
	float *d2 = malloc(200 * sizeof *d2);
	for (size_t i = 0; i < nq; i++) {
		anthem_hyperboloid *h;
		size_t nc;
		double a = now();
		if (anthem_model_embed_query(m, queries[i], &h))
			die("embed");
		double b = now();
		if (anthem_index_scan(ix, h, anthem_model_gamma(m), 200, c1, &nc))
			die("scan");
		double c = now();
		for (size_t j = 0; j < nc; j++)
			cand[j] = c1[j].index;
		if (anthem_score(m, ix, queries[i], cand, nc, d2))
			die("score");
		te[i] = b - a;
		ts[i] = c - b;
		tr[i] = now() - c;
		anthem_hyperboloid_free(h);
	}
	qsort(te, nq, sizeof *te, cmp);
	qsort(ts, nq, sizeof *ts, cmp);
	qsort(tr, nq, sizeof *tr, cmp);
	printf("stages: embed_p50_ms=%.3f scan_p50_ms=%.3f rerank200_p50_ms=%.3f "
	       "embed_p99_ms=%.3f scan_p99_ms=%.3f rerank200_p99_ms=%.3f\n",
	       1e3 * te[nq / 2], 1e3 * ts[nq / 2], 1e3 * tr[nq / 2],
	       1e3 * te[nq * 99 / 100], 1e3 * ts[nq * 99 / 100],
	       1e3 * tr[nq * 99 / 100]);
	fflush(stdout);

	/* 1 thread; one query's stage 1 on 2 threads; 2 queries side by side
	 * on one shared model and index (the RSS growth while they run is what
	 * two threads cost beyond one: no copy of the model) */
	double before = rss();
	measure("1-thread", &r, 1, 1, before);
	measure("scan-on-2-threads", &r, 1, 2, before);
	measure("2-threads-side-by-side", &r, 2, 1, before);
	/* stage 2 from fewer query elements (docs/performance.md, "Stage 2's
	 * elements"): the same queries, against the runs above */
	for (size_t e = 64; e >= 32; e /= 2) {
		char label[64];
		r.elements = e;
		snprintf(label, sizeof label, "1-thread,%zu-elements", e);
		measure(label, &r, 1, 1, before);
		snprintf(label, sizeof label, "2-threads-a-query,%zu-elements", e);
		measure(label, &r, 1, 2, before);
	}
	r.elements = 0;
	printf("shared: model_rss_bytes=%.0f (one copy, loaded once; both threads "
	       "use the same anthem_model %p)\n", model_rss, (void *)m);
	fflush(stdout);
	measure_batch(m, ix, queries, nq);

	/* int8 points: the loaded index's memory, how much of the float
	 * scan's top K1 stage 1 keeps (the default model has no lexical
	 * term: stage 1 is the region scan alone), and the same runs */
	double r8 = rss(), a8 = status("RssAnon");
	anthem_index *ix8;
	if (anthem_index_load(&ix8, idx8_path, m))
		die(idx8_path);
	double index8_rss = rss() - r8, index8_anon = status("RssAnon") - a8;
	double found = 0, wanted = 0;
	anthem_hit *h32 = malloc(200 * sizeof *h32), *h8 = malloc(200 * sizeof *h8);
	/* stage 1 alone (embedding included), 1 thread and 2, float and
	 * int8 one after the other on each query */
	double *t1[2][2];
	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++)
			t1[a][b] = malloc(nq * sizeof(double));
	for (size_t i = 0; i < nq; i++) {
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 200;
		o.stage1_only = 1;
		size_t n32, n8;
		for (int th = 0; th < 2; th++) {
			o.threads = (size_t)th + 1;
			double a = now();
			if (anthem_search_ex(m, ix, queries[i], &o, h32, &n32))
				die("stage 1");
			double b = now();
			if (anthem_search_ex(m, ix8, queries[i], &o, h8, &n8))
				die("stage 1");
			t1[0][th][i] = b - a;
			t1[1][th][i] = now() - b;
		}
		for (size_t a = 0; a < n32; a++)
			for (size_t b = 0; b < n8; b++)
				if (h8[b].index == h32[a].index) {
					found++;
					break;
				}
		wanted += (double)n32;
	}
	free(h32);
	free(h8);
	printf("int8: index_rss_bytes=%.0f index_anon_bytes=%.0f "
	       "float_index_rss_bytes=%.0f strings_bytes=%.0f "
	       "stage1_recall_of_float=%.4f queries=%zu",
	       index8_rss, index8_anon, index_rss, strings, found / wanted, nq);
	for (int a = 0; a < 2; a++)
		for (int th = 0; th < 2; th++) {
			qsort(t1[a][th], nq, sizeof(double), cmp);
			printf(" stage1_%s_t%d_p50_ms=%.3f stage1_%s_t%d_p99_ms=%.3f",
			       a ? "int8" : "float", th + 1, 1e3 * t1[a][th][nq / 2],
			       a ? "int8" : "float", th + 1,
			       1e3 * t1[a][th][nq * 99 / 100]);
			free(t1[a][th]);
		}
	printf("\n");
	fflush(stdout);
	r.ix = ix8;
	measure("int8,1-thread", &r, 1, 1, before);
	measure("int8,2-threads-a-query", &r, 1, 2, before);
	r.elements = 64;
	measure("int8,1-thread,64-elements", &r, 1, 1, before);
	measure("int8,2-threads-a-query,64-elements", &r, 1, 2, before);
	r.elements = 0;
	r.ix = ix;
	/* the re-scoring reads float points from all over the file: the
	 * mapped pages it touched count in RSS again (clean file pages,
	 * which the kernel may drop; RssAnon is what it cannot) */
	printf("int8_after_runs: index_rss_bytes=%.0f index_anon_bytes=%.0f\n",
	       rss() - r8, status("RssAnon") - a8);
	anthem_index_free(ix8);

	for (size_t i = 0; i < nq; i++)
		free(queries[i]);
	free(queries);
	free(lat);
	free(cpu);
	free(te);
	free(ts);
	free(tr);
	free(c1);
	free(cand);
	free(d2);
	for (size_t i = 0; i < nvocab; i++)
		free(vocab[i]);
	free(vocab);
	anthem_index_free(ix);
	anthem_model_free(m);
	return 0;
}
