/* twin-dump: write a model's weights, random training examples, and the C
 * network's scores, loss and gradients in the dump format of
 * docs/network.md, for the PyTorch twin (bench/reference/compare.py) to
 * recompute independently. */
#include "model/model_internal.h"

#include <anthem/anthem.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const words[] = {
	"fire", "tv", "stick", "kindle", "paperwhite", "lotion", "moisturizer",
	"face", "cream", "laptop", "tablet", "phone", "case", "charger",
	"usb", "cable", "wireless", "mouse", "keyboard", "gaming", "red",
	"blue", "Organic", "GREEN", "tea", "coffee", "mug", "ceramic",
	"stainless", "steel", "water", "bottle", "kids", "toy", "car",
	"remote", "control", "4k", "hdr", "alexa", "x", "",
	/* read by unicode-v1 as NFKC, case-folded code points */
	"Müller", "MU\xcc\x88LLER", "Café", "cafe\xcc\x81", "ＵＳＢ", "Straße",
	"ΟΔΟΣ", "кофе", "日本語", "☕", "ﬁre", "a\xc2\xa0" "b",
};
#define NWORDS (sizeof words / sizeof words[0])

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}
static double unif(double lo, double hi)
{
	return lo + (hi - lo) * (double)(next() >> 11) * 0x1p-53;
}

/* A random phrase of lo..hi words, with odd spacing now and then. */
static void phrase(char *buf, size_t cap, int lo, int hi)
{
	int n = lo + (int)(next() % (uint64_t)(hi - lo + 1));
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : next() % 7 == 0 ? "   " : " ";
		strncat(buf, sep, cap - strlen(buf) - 1);
		strncat(buf, words[next() % NWORDS], cap - strlen(buf) - 1);
	}
}

static int write_f32(const char *dir, const char *name, const float *x,
		     size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.f32", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(x, sizeof(float), n, f) != n || fclose(f)) {
		fprintf(stderr, "twin-dump: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "twin-dump: %s: %s\n", path, strerror(errno));
	return f;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: twin-dump OUT_DIR [--geometry hyperbolic|euclidean|vector]\n"
		   "                 [--cases N] [--negatives K] [--dim D] [--buckets B]\n"
		   "                 [--curvature C] [--tie 0|1]\n"
		   "                 [--tokenizer bytes-v1|unicode-v1] [--texts FILE]\n");
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 16;
	cfg.buckets = 4096;
	cfg.seed = 7;
	size_t ncases = 200, nneg = 4;
	const char *texts = NULL;
	float logit_scale = 2.0f; /* not 1, so that the scale is checked too */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (a[0] != '-' && !dir) {
			dir = a;
			continue;
		} else if (!v) {
			usage(stderr);
			return 2;
		} else if (!strcmp(a, "--geometry")) {
			cfg.geometry = !strcmp(v, "euclidean") ? ANTHEM_GEOMETRY_EUCLIDEAN
				     : !strcmp(v, "vector")    ? ANTHEM_GEOMETRY_VECTOR
							       : ANTHEM_GEOMETRY_HYPERBOLIC;
		} else if (!strcmp(a, "--cases")) {
			ncases = strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--negatives")) {
			nneg = strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--dim")) {
			cfg.dim = strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--buckets")) {
			cfg.buckets = strtoul(v, NULL, 10);
		} else if (!strcmp(a, "--tie")) {
			cfg.tie_embeddings = atoi(v);
		} else if (!strcmp(a, "--tokenizer")) {
			cfg.tokenizer = !strcmp(v, "bytes-v1")
						? ANTHEM_TOKENIZER_BYTES_V1
						: ANTHEM_TOKENIZER_UNICODE_V1;
		} else if (!strcmp(a, "--texts")) {
			texts = v;
		} else if (!strcmp(a, "--curvature")) {
			cfg.curvature = strtof(v, NULL);
		} else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (!dir || nneg > 16) {
		usage(stderr);
		return 2;
	}
	anthem_model *m;
	if (anthem_model_create(&m, &cfg) != ANTHEM_OK) {
		fprintf(stderr, "twin-dump: %s\n", anthem_last_error());
		return 1;
	}
	/* random, not initial, weights: biases start at 0 */
	for (size_t i = 0; i < m->nweights; i++)
		m->weights[i] += (float)unif(-0.05, 0.05);

	char gdir[4096];
	snprintf(gdir, sizeof gdir, "%s/grad", dir);
	mkdir(dir, 0777);
	mkdir(gdir, 0777);
	const char *gname[] = {"hyperbolic", "euclidean", "vector"};
	FILE *f = open_out(dir, "config.txt");
	if (!f)
		return 1;
	fprintf(f, "geometry %s\ndim %zu\ncurvature %.9g\nbuckets %zu\n"
		   "gamma %.9g\nhash_seed %llu\nmax_query_trigrams %zu\n"
		   "max_title_trigrams %zu\nnegatives %zu\ntie_embeddings %d\n"
		   "logit_scale %.9g\ntokenizer %s\n",
		gname[cfg.geometry], cfg.dim, cfg.curvature, cfg.buckets,
		cfg.gamma, (unsigned long long)cfg.hash_seed,
		cfg.max_query_trigrams, cfg.max_title_trigrams, nneg,
		cfg.tie_embeddings, logit_scale,
		cfg.tokenizer == ANTHEM_TOKENIZER_BYTES_V1 ? "bytes-v1"
							   : "unicode-v1");
	fclose(f);
	for (int i = 0; i < P_COUNT; i++)
		if (write_f32(dir, m->params[i].name, m->params[i].val,
			      m->params[i].rows * m->params[i].cols))
			return 1;

	float *grad = calloc(m->nweights, sizeof(float));
	ag_param params[P_COUNT];
	ath_params_bind(&m->cfg, m->weights, grad, params);
	ag_tape t;
	ag_tape_init(&t, &m->space, 1);
	FILE *cases = open_out(dir, "cases.tsv"), *tri = open_out(dir, "trigrams.tsv"),
	     *scores = open_out(dir, "scores.tsv");
	if (!grad || !cases || !tri || !scores)
		return 1;
	double total = 0.0;
	int status = 0;
	for (size_t c = 0; c < ncases; c++) {
		char q[256], titles[17][512];
		uint32_t qids[64], tid[17][1024];
		const uint32_t *tp[17];
		size_t T[17], n = nneg + 1;
		phrase(q, sizeof q, 1, c % 10 == 0 ? 1 : 4);
		size_t L = ath_model_tokens(m, q, 0, qids, NULL);
		fprintf(cases, "%s", q);
		fprintf(tri, "q\t%s\t", q);
		for (size_t i = 0; i < L; i++)
			fprintf(tri, i ? ",%u" : "%u", qids[i]);
		fputc('\n', tri);
		for (size_t k = 0; k < n; k++) {
			phrase(titles[k], sizeof titles[k], 2, 14);
			T[k] = ath_model_tokens(m, titles[k], 1, tid[k], NULL);
			tp[k] = tid[k];
			fprintf(cases, "\t%s", titles[k]);
			fprintf(tri, "t\t%s\t", titles[k]);
			for (size_t i = 0; i < T[k]; i++)
				fprintf(tri, i ? ",%u" : "%u", tid[k][i]);
			fputc('\n', tri);
		}
		fputc('\n', cases);
		ag_node *d1, *d2;
		ag_node *loss = ath_net_loss(&t, &m->cfg, params, qids, L, tp,
					     T, n, logit_scale, &d1, &d2);
		if (t.failed) {
			fprintf(stderr, "twin-dump: out of memory\n");
			return 1;
		}
		ag_backward(&t, loss);
		total += loss->val[0];
		for (size_t k = 0; k < n; k++) {
			float s;
			fprintf(scores, "%zu\t%zu\t%.9g\t%.9g\n", c, k,
				d1->val[k], d2->val[k]);
			/* the public entry point computes the very same number */
			if (anthem_model_score(m, q, titles[k], &s) || s != d2->val[k]) {
				fprintf(stderr, "twin-dump: anthem_model_score %.9g "
					"!= loss graph %.9g (case %zu)\n",
					s, d2->val[k], c);
				status = 1;
			}
		}
		ag_tape_reset(&t);
	}
	/* the trigrams of every tab-separated field of a text file (the
	 * multilingual strings of tests/data), as query and as title: what
	 * the twin's unicodedata must agree with utf8proc on */
	FILE *tf = texts ? fopen(texts, "r") : NULL;
	if (texts && !tf) {
		fprintf(stderr, "twin-dump: %s: %s\n", texts, strerror(errno));
		return 1;
	}
	char line[8192];
	while (tf && fgets(line, sizeof line, tf)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#')
			continue;
		for (char *fld = strtok(line, "\t"); fld; fld = strtok(NULL, "\t")) {
			uint32_t ids[1024];
			for (int title = 0; title < 2; title++) {
				size_t n = ath_model_tokens(m, fld, title, ids, NULL);
				fprintf(tri, "%c\t%s\t", title ? 't' : 'q', fld);
				for (size_t i = 0; i < n; i++)
					fprintf(tri, i ? ",%u" : "%u", ids[i]);
				fputc('\n', tri);
			}
		}
	}
	if (tf)
		fclose(tf);
	fclose(cases);
	fclose(tri);
	fclose(scores);
	f = open_out(dir, "loss.txt");
	if (!f)
		return 1;
	fprintf(f, "%.9g\n", total);
	fclose(f);
	for (int i = 0; i < P_COUNT; i++)
		if (write_f32(gdir, params[i].name, params[i].grad,
			      params[i].rows * params[i].cols))
			return 1;
	printf("twin-dump: %zu cases of 1 + %zu products, %s, dim %zu, loss %.6g\n",
	       ncases, nneg, gname[cfg.geometry], cfg.dim, total);
	ag_tape_free(&t);
	free(grad);
	anthem_model_free(m);
	return status;
}
