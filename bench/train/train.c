/* bench/train: the C half of the training benchmark (bench/train/run).
 *
 *   train run    SETTINGS --out MODEL   train, print examples/s and peak RSS
 *   train plan   SETTINGS --dir DIR     initial weights and the exact example
 *                                       stream, for the PyTorch twin
 *   train import SETTINGS --dir DIR --out MODEL
 *                                       a model file from the twin's weights
 *
 * All three take the same settings, so that both sides train the same
 * network on the same examples: one epoch of --steps Adam steps of --batch
 * examples, uniform negatives only (mined ones would need the twin to
 * replay the mining pass), nothing held out. */
#include "common/parallel.h"
#include "model/model_internal.h"
#include "train/trainer.h"

#include <anthem/anthem.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct settings {
	const char *catalog, *judgments, *out, *dir;
	anthem_model_config cfg;
	anthem_train_options opt;
	size_t steps;
} settings;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: train run|plan|import --catalog FILE --judgments FILE\n"
		"             [--out MODEL] [--dir DIR] [--steps N (200)] [--batch N (32)]\n"
		"             [--negatives N (4)] [--dim D (16)] [--curvature C (0.1)]\n"
		"             [--gamma G (0.2)] [--buckets B] [--title-trigrams N (32)]\n"
		"             [--lr X] [--logit-scale X] [--warmup N] [--seed S]\n"
		"             [--threads T (1)]\n"
		"run: train, print examples/s and peak RSS; plan: write the initial\n"
		"weights (docs/network.md dump format) and the example stream to DIR;\n"
		"import: write DIR's NAME.f32 weights as a model file.\n");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "train: %s: %s\n", what, anthem_last_error());
	return 1;
}

static int load_data(const settings *s, anthem_catalog **c,
		     anthem_judgments **j)
{
	if (anthem_catalog_load(c, s->catalog, 0))
		return fail(s->catalog);
	if (anthem_judgments_load(j, s->judgments, *c, 0))
		return fail(s->judgments);
	return 0;
}

static int count_one(const ath_planned *e, void *user)
{
	(void)e;
	++*(size_t *)user;
	return 0;
}

/* Steps of more examples than the training set would wrap into a second
 * epoch (another order, a lower learning rate): refuse them. */
static int check_steps(const settings *s, const anthem_trainer *t)
{
	size_t n = 0;
	if (ath_trainer_plan(t, 1, count_one, &n))
		return fail("ath_trainer_plan");
	if (n != s->steps * s->opt.batch) {
		fprintf(stderr, "train: %zu steps of %zu examples need %zu "
			"training examples, the judgements have %zu\n", s->steps,
			s->opt.batch, s->steps * s->opt.batch, n);
		return 1;
	}
	return 0;
}

/* The trainer's mean loss over the epoch, reported at its end. */
/* The data, and a trainer on it that runs exactly the planned steps. */
static int open_trainer(settings *s, anthem_catalog **c, anthem_judgments **j,
			anthem_trainer **t)
{
	int rc = load_data(s, c, j);
	if (!rc && anthem_trainer_create(t, &s->cfg, *c, *j, &s->opt))
		rc = fail("anthem_trainer_create");
	if (!rc)
		rc = check_steps(s, *t);
	return rc;
}

static int on_progress(const anthem_train_progress *p, void *user)
{
	if (p->epoch_done)
		*(double *)user = p->loss;
	return 0;
}

static int cmd_run(settings *s)
{
	double mean_loss = 0.0;
	s->opt.progress = on_progress;
	s->opt.progress_user = &mean_loss;
	anthem_catalog *c = NULL;
	anthem_judgments *j = NULL;
	anthem_trainer *t = NULL;
	int rc = open_trainer(s, &c, &j, &t);
	/* only the training loop is timed: data loading and tokenising are
	 * outside it on both sides */
	double t0 = now(), c0 = cpu();
	if (!rc && anthem_trainer_run(t))
		rc = fail("anthem_trainer_run");
	double sec = now() - t0, csec = cpu() - c0;
	if (!rc && anthem_model_save(anthem_trainer_model(t), s->out))
		rc = fail(s->out);
	if (!rc) {
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		size_t n = s->steps * s->opt.batch;
		printf("anthem_examples=%zu anthem_seconds=%.3f "
		       "anthem_examples_per_s=%.1f anthem_threads=%zu "
		       "anthem_self_maxrss_kib=%ld anthem_mean_loss=%.6f "
		       "anthem_cpu_seconds=%.3f anthem_examples_per_cpu_s=%.1f\n",
		       n, sec, (double)n / sec, ath_threads(s->opt.threads),
		       ru.ru_maxrss, mean_loss, csec, (double)n / csec);
	}
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	return rc;
}

static FILE *open_in(const char *dir, const char *name, const char *mode)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, mode);
	if (!f)
		fprintf(stderr, "train: %s: %s\n", path, strerror(errno));
	return f;
}

static void put_ids(FILE *f, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, i ? ",%u" : "%u", ids[i]);
}

/* plan.tsv: one example a line, the query's bucket ids then each product's
 * (positive first), comma-separated within, TAB between. */
static int plan_line(const ath_planned *e, void *user)
{
	FILE *f = user;
	put_ids(f, e->qids, e->L);
	for (size_t k = 0; k < e->n; k++) {
		fputc('\t', f);
		put_ids(f, e->tids[k], e->T[k]);
	}
	fputc('\n', f);
	return ferror(f) != 0;
}

static int cmd_plan(settings *s)
{
	anthem_catalog *c = NULL;
	anthem_judgments *j = NULL;
	anthem_trainer *t = NULL;
	int rc = open_trainer(s, &c, &j, &t);
	FILE *cf = rc ? NULL : open_in(s->dir, "config.txt", "w");
	FILE *pf = rc ? NULL : open_in(s->dir, "plan.tsv", "w");
	if (!rc && (!cf || !pf))
		rc = 1;
	if (!rc) {
		/* the dump format's config.txt, plus the optimiser's settings */
		const anthem_model_config *g = &s->cfg;
		const anthem_train_options *o = &s->opt;
		const char *gname[] = {"hyperbolic", "euclidean", "vector"};
		fprintf(cf, "geometry %s\ndim %zu\ncurvature %.9g\nbuckets %zu\n"
			"gamma %.9g\nhash_seed %llu\nmax_query_trigrams %zu\n"
			"max_title_trigrams %zu\nnegatives %zu\ntie_embeddings %d\n"
			"logit_scale %.9g\nbatch %zu\nsteps %zu\nlr %.9g\n"
			"warmup %zu\nadam_beta1 0.9\nadam_beta2 0.999\n"
			"adam_eps 1e-8\n", gname[g->geometry], g->dim,
			g->curvature, g->buckets, g->gamma,
			(unsigned long long)g->hash_seed, g->max_query_trigrams,
			g->max_title_trigrams, o->negatives, g->tie_embeddings,
			o->logit_scale, o->batch, s->steps, o->lr, o->warmup);
		if (ath_trainer_plan(t, 1, plan_line, pf))
			rc = fail("ath_trainer_plan");
		const anthem_model *m = anthem_trainer_model(t); /* initial */
		for (int i = 0; !rc && i < P_COUNT; i++) {
			char name[256];
			snprintf(name, sizeof name, "%s.f32", m->params[i].name);
			FILE *f = open_in(s->dir, name, "wb");
			size_t n = m->params[i].rows * m->params[i].cols;
			if (!f || fwrite(m->params[i].val, sizeof(float), n, f) != n)
				rc = 1;
			if (f && fclose(f))
				rc = 1;
		}
	}
	if (cf && fclose(cf))
		rc = 1;
	if (pf && fclose(pf))
		rc = 1;
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	return rc;
}

static int cmd_import(settings *s)
{
	anthem_model *m;
	if (anthem_model_create(&m, &s->cfg))
		return fail("anthem_model_create");
	int rc = 0;
	for (int i = 0; !rc && i < P_COUNT; i++) {
		char name[256];
		snprintf(name, sizeof name, "%s.f32", m->params[i].name);
		size_t n = m->params[i].rows * m->params[i].cols;
		/* an empty parameter (the lexical term's, in a model without
		 * it) has no file: the twin writes none, as a model file
		 * written before the term has no tensor for it */
		if (n == 0)
			continue;
		FILE *f = open_in(s->dir, name, "rb");
		if (!f || fread(m->params[i].val, sizeof(float), n, f) != n ||
		    fgetc(f) != EOF) {
			fprintf(stderr, "train: %s/%s: not %zu floats\n", s->dir,
				name, n);
			rc = 1;
		}
		if (f)
			fclose(f);
	}
	if (!rc && anthem_model_save(m, s->out))
		rc = fail(s->out);
	anthem_model_free(m);
	return rc;
}

static int parse_size(const char *v, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-')
		return -1;
	*out = (size_t)x;
	return 0;
}

static int parse_float(const char *v, float *out)
{
	char *end;
	*out = strtof(v, &end);
	return end == v || *end ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *mode = argv[1];
	settings s = {0};
	anthem_model_config_init(&s.cfg);
	anthem_train_options_init(&s.opt);
	/* the demo's settings (scripts/demo, docs/results.md) */
	s.cfg.dim = 16;
	s.cfg.curvature = 0.1f;
	s.cfg.gamma = 0.2f;
	s.cfg.max_title_trigrams = 32;
	s.opt.hard_negatives = 0;
	s.opt.valid_frac = 0.0f;
	s.opt.patience = 0;
	s.opt.threads = 1;
	s.opt.epochs = 1;
	s.steps = 200;
	size_t seed = 1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = !v;
		if (bad)
			;
		else if (!strcmp(a, "--catalog")) s.catalog = v;
		else if (!strcmp(a, "--judgments")) s.judgments = v;
		else if (!strcmp(a, "--out")) s.out = v;
		else if (!strcmp(a, "--dir")) s.dir = v;
		else if (!strcmp(a, "--steps")) bad = parse_size(v, &s.steps);
		else if (!strcmp(a, "--batch")) bad = parse_size(v, &s.opt.batch);
		else if (!strcmp(a, "--negatives")) bad = parse_size(v, &s.opt.negatives);
		else if (!strcmp(a, "--dim")) bad = parse_size(v, &s.cfg.dim);
		else if (!strcmp(a, "--buckets")) bad = parse_size(v, &s.cfg.buckets);
		else if (!strcmp(a, "--title-trigrams")) bad = parse_size(v, &s.cfg.max_title_trigrams);
		else if (!strcmp(a, "--warmup")) bad = parse_size(v, &s.opt.warmup);
		else if (!strcmp(a, "--threads")) bad = parse_size(v, &s.opt.threads);
		else if (!strcmp(a, "--seed")) bad = parse_size(v, &seed);
		else if (!strcmp(a, "--curvature")) bad = parse_float(v, &s.cfg.curvature);
		else if (!strcmp(a, "--gamma")) bad = parse_float(v, &s.cfg.gamma);
		else if (!strcmp(a, "--lr")) bad = parse_float(v, &s.opt.lr);
		else if (!strcmp(a, "--logit-scale")) bad = parse_float(v, &s.opt.logit_scale);
		else bad = 1;
		if (bad) {
			fprintf(stderr, "train: bad option %s\n", a);
			usage(stderr);
			return 2;
		}
		i++;
	}
	s.cfg.seed = s.opt.seed = seed;
	s.opt.epoch_examples = s.steps * s.opt.batch;
	int need_data = strcmp(mode, "import") != 0;
	if ((need_data && (!s.catalog || !s.judgments)) ||
	    (!strcmp(mode, "run") && !s.out) ||
	    (!strcmp(mode, "plan") && !s.dir) ||
	    (!strcmp(mode, "import") && (!s.dir || !s.out)) || s.steps == 0) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(mode, "run"))
		return cmd_run(&s);
	if (!strcmp(mode, "plan"))
		return cmd_plan(&s);
	if (!strcmp(mode, "import"))
		return cmd_import(&s);
	usage(stderr);
	return 2;
}
