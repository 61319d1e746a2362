/* bench/tokenize: throughput of step 1 of docs/network.md, bytes-v1 against
 * unicode-v1, in the same process: MB/s of title bytes turned into trigram
 * ids (all of a title's trigrams, up to 1024) and into word ids, for each
 * titles file given; then indexing N synthetic titles end to end
 * (anthem_index_build: tokenizer and the network's title side) with two
 * models that differ only in their tokenizer.
 *
 * usage: tokenize [--titles FILE]... [--n N] [--threads T] [--rounds R]
 *                 [--dir DIR]
 *
 * A titles file is a catalogue (product_id<TAB>title, '#' comments).  The
 * synthetic titles are made as bench/query makes them: 5 to 12 words drawn
 * Zipf-like from the vocabulary of the WordNet fixture's titles. */
#include "layers/lexical.h"

#include <anthem/anthem.h>

#include <math.h>
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

typedef struct titles {
	char **t;
	size_t n, bytes;
} titles;

static void add(titles *s, const char *t)
{
	if ((s->n & (s->n - 1)) == 0 || s->n == 0)
		s->t = realloc(s->t, (s->n ? 2 * s->n : 1) * sizeof *s->t);
	s->t[s->n++] = strdup(t);
	s->bytes += strlen(t);
}

static int load_titles(const char *path, titles *s)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (tab)
			add(s, tab + 1);
	}
	free(line);
	fclose(f);
	return 0;
}

/* Seconds per pass over the titles (best of passes filling ~0.6 s), and a
 * checksum of the ids so that no work is optimised away. */
static volatile uint64_t sink;

static double pass_trigrams(const titles *s, int tok)
{
	static uint32_t ids[1024];
	double best = INFINITY, start = now();
	do {
		double t0 = now();
		uint64_t sum = 0;
		for (size_t i = 0; i < s->n; i++) {
			size_t n = ath_text_trigrams(tok, s->t[i], strlen(s->t[i]),
						     1, 1u << 18, 1024, ids, NULL);
			sum += n + ids[0];
		}
		sink += sum;
		double dt = now() - t0;
		best = dt < best ? dt : best;
	} while (now() - start < 0.6);
	return best;
}

static double pass_words(const titles *s, int tok)
{
	double best = INFINITY, start = now();
	do {
		double t0 = now();
		uint64_t sum = 0;
		for (size_t i = 0; i < s->n; i++) {
			ath_words w;
			uint32_t id;
			ath_words_init(&w, tok, s->t[i], 1, 1u << 21);
			while (ath_words_next(&w, &id))
				sum += id;
		}
		sink += sum;
		double dt = now() - t0;
		best = dt < best ? dt : best;
	} while (now() - start < 0.6);
	return best;
}

/* ---- synthetic titles, as bench/query makes them ------------------------------ */

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static titles vocab;

static void load_vocab(const char *fixture)
{
	titles all = {0};
	if (load_titles(fixture, &all))
		exit(1);
	for (size_t i = 0; i < all.n; i++) {
		for (char *w = strtok(all.t[i], " \t\r\n;:,.()'\""); w;
		     w = strtok(NULL, " \t\r\n;:,.()'\"")) {
			if (strlen(w) < 2)
				continue;
			for (char *c = w; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			int dup = 0;
			for (size_t k = 0; k < vocab.n && !dup; k++)
				dup = !strcmp(vocab.t[k], w);
			if (!dup)
				add(&vocab, w);
		}
		free(all.t[i]);
	}
	free(all.t);
}

static const char *word(void)
{
	double u = (double)(rnd() >> 11) * 0x1.0p-53;
	double lo = 10.0, hi = (double)vocab.n + 10.0;
	size_t i = (size_t)(lo * exp(u * log(hi / lo)) - lo);
	return vocab.t[i < vocab.n ? i : vocab.n - 1];
}

static double index_seconds(const anthem_catalog *c, anthem_tokenizer tok,
			    size_t threads)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.tokenizer = tok;
	anthem_model *m;
	anthem_index *ix;
	if (anthem_model_create(&m, &cfg)) {
		fprintf(stderr, "tokenize: %s\n", anthem_last_error());
		exit(1);
	}
	double t0 = now();
	if (anthem_index_build(&ix, m, c, threads)) {
		fprintf(stderr, "tokenize: %s\n", anthem_last_error());
		exit(1);
	}
	double dt = now() - t0;
	anthem_index_free(ix);
	anthem_model_free(m);
	return dt;
}

int main(int argc, char **argv)
{
	const char *files[8], *dir = "build/bench-tokenize";
	size_t nfiles = 0, n = 1000000, threads = 1, rounds = 2;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--titles") && v && nfiles < 8)
			files[nfiles++] = v;
		else if (!strcmp(argv[i], "--n") && v)
			n = strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--threads") && v)
			threads = strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--rounds") && v)
			rounds = strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--dir") && v)
			dir = v;
		else {
			fprintf(stderr, "usage: tokenize [--titles FILE]... [--n N] "
				"[--threads T] [--rounds R] [--dir DIR]\n");
			return 2;
		}
		i++;
	}
	printf("| titles | MB | bytes-v1 trigrams MB/s | unicode-v1 trigrams MB/s "
	       "| ratio | bytes-v1 words MB/s | unicode-v1 words MB/s | ratio |\n"
	       "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
	for (size_t f = 0; f < nfiles; f++) {
		titles s = {0};
		if (load_titles(files[f], &s))
			return 1;
		double mb = (double)s.bytes / 1e6;
		double tb = pass_trigrams(&s, ATH_TOK_BYTES);
		double tu = pass_trigrams(&s, ATH_TOK_UNICODE);
		double wb = pass_words(&s, ATH_TOK_BYTES);
		double wu = pass_words(&s, ATH_TOK_UNICODE);
		const char *name = strrchr(files[f], '/');
		printf("| %s (%zu) | %.2f | %.1f | %.1f | %.2fx | %.1f | %.1f | "
		       "%.2fx |\n", name ? name + 1 : files[f], s.n, mb, mb / tb,
		       mb / tu, tu / tb, mb / wb, mb / wu, wu / wb);
		for (size_t i = 0; i < s.n; i++)
			free(s.t[i]);
		free(s.t);
		fflush(stdout);
	}
	if (n == 0)
		return 0;

	/* the synthetic catalogue, written once to DIR */
	mkdir(dir, 0777);
	char path[4096];
	snprintf(path, sizeof path, "%s/catalog-%zu.tsv", dir, n);
	FILE *chk = fopen(path, "r");
	if (chk) {
		fclose(chk);
	} else {
		load_vocab(FIXTURE_DIR "/catalog.tsv");
		char tmp[4200];
		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		FILE *out = fopen(tmp, "w");
		if (!out) {
			perror(tmp);
			return 1;
		}
		for (size_t i = 0; i < n; i++) {
			fprintf(out, "p%zu\t", i);
			size_t words = 5 + (size_t)(rnd() % 8);
			for (size_t w = 0; w < words; w++)
				fprintf(out, "%s%s", w ? " " : "", word());
			fputc('\n', out);
		}
		if (fclose(out) || rename(tmp, path)) {
			perror(path);
			return 1;
		}
	}
	anthem_catalog *c;
	if (anthem_catalog_load(&c, path, 0)) {
		fprintf(stderr, "tokenize: %s\n", anthem_last_error());
		return 1;
	}
	/* alternate, best of `rounds` each, so that a busy neighbour hurts
	 * both */
	double ib = INFINITY, iu = INFINITY;
	for (size_t r = 0; r < rounds; r++) {
		double b = index_seconds(c, ANTHEM_TOKENIZER_BYTES_V1, threads);
		double u = index_seconds(c, ANTHEM_TOKENIZER_UNICODE_V1, threads);
		ib = b < ib ? b : ib;
		iu = u < iu ? u : iu;
	}
	printf("\nindexing %zu synthetic titles (anthem_index_build, default "
	       "model, %zu thread%s): bytes-v1 %.2f s, unicode-v1 %.2f s, "
	       "ratio %.3f\n", anthem_catalog_count(c), threads,
	       threads == 1 ? "" : "s", ib, iu, iu / ib);
	anthem_catalog_free(c);
	return 0;
}
