/* anthem train / eval / info */
#include "cli.h"
#include "comm_mpi.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- progress on stderr -------------------------------------------------- */

typedef struct progress {
	int tty;
	double last_rate;
	int quiet; /* ranks other than 0 of an MPI run */
} progress;

/* Under mpirun (docs/distributed.md): this rank, and the name its
 * messages carry ("train: rank 1"); one process: size 1, "train". */
static anthem_train_comm world;
static int world_size = 1;
static const char *me = "train";
/* every rank stopped training at the same step (a signal): rank 0 keeps
 * the best model as one process does, nobody ends the job */
static int stopped_together;

/* SIGINT or SIGTERM during training: the first asks the trainer to stop
 * after its current step (the progress callback returns non-zero, and
 * anthem_trainer_run keeps the best model so far), the second is left to
 * the default action, which ends the process at once: the writers' files
 * appear whole by rename or not at all (docs/format.md). */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(SIGINT, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
}

static void catch_stop_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int on_progress(const anthem_train_progress *p, void *user)
{
	progress *pr = user;
	if (stop_signal)
		return 1;
	if (pr->quiet)
		return 0;
	if (p->epoch_done) {
		pr->last_rate = p->examples_per_sec;
		char lex[48] = "";
		if (!isnan(p->lexical_weight))
			snprintf(lex, sizeof lex, ", lexical weight %g",
				 p->lexical_weight);
		fprintf(stderr, "%sepoch %zu/%zu: loss %.6f, held-out loss %.4f, "
			"%.0f examples/s%s%s\n", pr->tty ? "\r\033[K" : "",
			p->epoch, p->epochs, p->loss, p->valid_loss,
			p->examples_per_sec, lex,
			p->stopped_early ? " (no gain: stopping early)" : "");
	} else if (pr->tty) {
		int width = 30, done = (int)(width * p->step / (p->steps ? p->steps : 1));
		fprintf(stderr, "\r\033[Kepoch %zu/%zu [%.*s%*s] %zu/%zu loss %.4f "
			"%.0f ex/s", p->epoch, p->epochs, done,
			"##############################", width - done, "",
			p->step, p->steps, p->loss, p->examples_per_sec);
	}
	return 0;
}

/* ---- train -------------------------------------------------------------------- */

static int train_main(int argc, char **argv)
{
	const command *cmd = &cli_commands[0];
	const char *catalog = NULL, *judgments = NULL, *out = NULL,
		   *geometry = NULL, *dim = NULL, *epochs = NULL, *seed = NULL,
		   *threads = NULL, *lr = NULL, *batch = NULL, *negatives = NULL,
		   *hard = NULL, *curvature = NULL, *buckets = NULL,
		   *checkpoint = NULL, *resume = NULL, *lenient = NULL,
		   *valid = NULL, *patience = NULL, *gamma = NULL,
		   *per_epoch = NULL, *maxq = NULL, *maxt = NULL, *scale = NULL,
		   *lexical = NULL, *lex_buckets = NULL, *tokenizer = NULL,
		   *selfsup = NULL, *untied = NULL, *f64 = NULL, *radam = NULL,
		   *title_buckets = NULL, *product = NULL;
	const opt opts[] = {
		{"catalog", "FILE", "products: product_id<TAB>title", &catalog},
		{"judgments", "FILE", "query<TAB>product_id<TAB>grade (0-3); without it: the catalogue's categories", &judgments},
		{"self-supervised", NULL, "also learn from 3 pseudo-queries a product, spans of its title", &selfsup},
		{"out", "MODEL", "where to write the model (atomically)", &out},
		{"geometry", "G", "hyperbolic (default), euclidean or vector", &geometry},
		{"dim", "D", "dimension (32)", &dim},
		{"curvature", "C", "curvature of the ball (1)", &curvature},
		{"buckets", "B", "trigram hash buckets (262144)", &buckets},
		{"gamma", "G", "inside weight of the distance (0.5)", &gamma},
		{"query-trigrams", "N", "trigrams kept of a query (28)", &maxq},
		{"title-trigrams", "N", "trigrams kept of a title (100)", &maxt},
		{"untied", NULL, "title trigrams get a table of their own instead of sharing the query table (experiment, docs/results.md)", &untied},
		{"title-buckets", "N", "buckets of the untied title table (experiment; implies --untied)", &title_buckets},
		{"product-token", NULL, "each title also gets a token hashed from the whole title: a learned point a product (experiment)", &product},
		{"lexical", NULL, "add the learned lexical term (BM25 of the title's words, docs/network.md step 8)", &lexical},
		{"lexical-buckets", "N", "word hash buckets of the lexical term (2097152; implies --lexical)", &lex_buckets},
		{"tokenizer", "T", "unicode-v1 (default) or bytes-v1, how text is read (docs/network.md step 1)", &tokenizer},
		{"epochs", "N", "epochs at most (10)", &epochs},
		{"epoch-examples", "N", "examples per epoch, sampled afresh (all)", &per_epoch},
		{"batch", "N", "examples per step (32)", &batch},
		{"lr", "X", "Adam learning rate (0.01)", &lr},
		{"float64-tables", NULL, "Adam updates float64 copies of the weights (experiment; no --checkpoint)", &f64},
		{"riemannian-adam", NULL, "Riemannian Adam on the ball for the trigram points (experiment; hyperbolic only)", &radam},
		{"logit-scale", "X", "the loss's logits are -X x distance (10)", &scale},
		{"negatives", "N", "uniform negatives per example (4)", &negatives},
		{"hard-negatives", "N", "mined negatives per example (4)", &hard},
		{"valid-frac", "X", "share of queries held out for early stopping (0.1)", &valid},
		{"patience", "N", "epochs without held-out gain before stopping (2)", &patience},
		{"seed", "S", "seed of initialisation and sampling (1)", &seed},
		{"threads", "T", "threads (all cores)", &threads},
		{"checkpoint", "FILE", "write the training state here after every epoch", &checkpoint},
		{"resume", "FILE", "continue from a checkpoint", &resume},
		{"lenient", NULL, "skip malformed input lines (counted) instead of failing", &lenient},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 0, &npos, &code))
		return code;
	if (!catalog || !out) {
		fprintf(stderr, "anthem train: --catalog and --out are "
			"required\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	anthem_model_config cfg;
	anthem_train_options o;
	anthem_model_config_init(&cfg);
	anthem_train_options_init(&o);
	size_t s;
	if ((geometry && cli_geometry(cmd, geometry, &cfg.geometry)) ||
	    (dim && cli_size(cmd, "dim", dim, &cfg.dim)) ||
	    (buckets && cli_size(cmd, "buckets", buckets, &cfg.buckets)) ||
	    (curvature && cli_float(cmd, "curvature", curvature, &cfg.curvature)) ||
	    (gamma && cli_float(cmd, "gamma", gamma, &cfg.gamma)) ||
	    (maxq && cli_size(cmd, "query-trigrams", maxq, &cfg.max_query_trigrams)) ||
	    (maxt && cli_size(cmd, "title-trigrams", maxt, &cfg.max_title_trigrams)) ||
	    (epochs && cli_size(cmd, "epochs", epochs, &o.epochs)) ||
	    (per_epoch && cli_size(cmd, "epoch-examples", per_epoch, &o.epoch_examples)) ||
	    (batch && cli_size(cmd, "batch", batch, &o.batch)) ||
	    (lr && cli_float(cmd, "lr", lr, &o.lr)) ||
	    (scale && cli_float(cmd, "logit-scale", scale, &o.logit_scale)) ||
	    (negatives && cli_size(cmd, "negatives", negatives, &o.negatives)) ||
	    (hard && cli_size(cmd, "hard-negatives", hard, &o.hard_negatives)) ||
	    (valid && cli_float(cmd, "valid-frac", valid, &o.valid_frac)) ||
	    (patience && cli_size(cmd, "patience", patience, &o.patience)) ||
	    (threads && cli_size(cmd, "threads", threads, &o.threads)) ||
	    (lex_buckets && cli_size(cmd, "lexical-buckets", lex_buckets,
				     &cfg.lexical_buckets)) ||
	    (title_buckets && cli_size(cmd, "title-buckets", title_buckets,
				       &cfg.title_buckets)))
		return EXIT_USAGE;
	if (lexical && !lex_buckets)
		cfg.lexical_buckets = (size_t)1 << 21;
	if (tokenizer && cli_tokenizer(cmd, tokenizer, &cfg.tokenizer))
		return EXIT_USAGE;
	if (seed) {
		if (cli_size(cmd, "seed", seed, &s))
			return EXIT_USAGE;
		cfg.seed = o.seed = s;
	}
	const cli_file in[] = {{"catalog", catalog}, {"judgments", judgments},
			       {"resume", resume}};
	/* --checkpoint may be --resume: the checkpoint is read whole before
	 * the first is written */
	/* under MPI only rank 0 writes, so only it checks where (the other
	 * ranks' machines need not have its directories) */
	int lead = world_size == 1 || world.rank == 0;
	if ((code = cli_inputs(me, in, 3)) ||
	    (lead && (code = cli_output(me, "out", out, in, 3))) ||
	    (lead && checkpoint &&
	     (code = cli_output(me, "checkpoint", checkpoint, in, 2))))
		return code;
	if (lead && checkpoint) {
		struct stat a, b;
		if (stat(out, &a) == 0 && stat(checkpoint, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			fprintf(stderr, "anthem train: --out %s and --checkpoint "
				"%s are the same file\n", out, checkpoint);
			return EXIT_USAGE;
		}
	}
	unsigned flags = lenient ? ANTHEM_READ_LENIENT : ANTHEM_READ_STRICT;
	progress pr = {isatty(2), 0.0, !lead};
	o.progress = on_progress;
	o.progress_user = &pr;
	o.checkpoint = checkpoint;
	o.float64_tables = f64 != NULL;
	o.riemannian_adam = radam != NULL;
	if (untied || title_buckets)
		cfg.tie_embeddings = 0;
	cfg.product_token = product != NULL;
	anthem_catalog *c = NULL;
	anthem_judgments *j = NULL;
	anthem_trainer *t = NULL;
	int sig = 0;
	int rc = anthem_catalog_load(&c, catalog, flags);
	if (!rc && judgments)
		rc = anthem_judgments_load(&j, judgments, c, flags);
	if (rc) {
		cli_fail(me, rc);
		goto out;
	}
	if (selfsup)
		o.pseudo_queries = 3;
	/* no judgements: the category tree's, and/or the titles' spans */
	if (!judgments && (anthem_catalog_categorised(c) || !selfsup) &&
	    (code = cli_category_judgments(me, c, o.seed, &j))) {
		rc = ANTHEM_EINVAL;
		goto out;
	}
	if (lenient && (anthem_catalog_skipped(c) || anthem_judgments_skipped(j)))
		fprintf(stderr, "anthem train: skipped %zu malformed catalogue "
			"lines and %zu malformed judgement lines\n",
			anthem_catalog_skipped(c), anthem_judgments_skipped(j));
	if (lead)
		fprintf(stderr, "anthem train: %zu products, %zu %squeries%s\n",
			anthem_catalog_count(c),
			anthem_judgments_query_count(j),
			selfsup ? "judged " : "",
			selfsup ? ", 3 pseudo-queries a product" : "");
	rc = resume ? anthem_trainer_resume(&t, resume, c, j, &o)
		    : anthem_trainer_create(&t, &cfg, c, j, &o);
	/* every rank checks with the others that they train the same data
	 * with the same options from the same state */
	if (!rc && world_size > 1)
		rc = anthem_trainer_set_comm(t, &world);
	cli_mpi_count_from_here();
	if (rc) {
		cli_fail(me, rc);
		goto out;
	}
	if (resume) {
		/* the model's settings are the checkpoint's: one given anew
		 * with another value would be printed and silently ignored */
		anthem_model_config ck;
		anthem_model_config_init(&ck);
		anthem_model_get_config(anthem_trainer_model(t), &ck);
		const struct {
			const char *name, *value;
			int differs;
		} fixed[] = {
			{"geometry", geometry, ck.geometry != cfg.geometry},
			{"dim", dim, ck.dim != cfg.dim},
			{"curvature", curvature, ck.curvature != cfg.curvature},
			{"buckets", buckets, ck.buckets != cfg.buckets},
			{"gamma", gamma, ck.gamma != cfg.gamma},
			{"query-trigrams", maxq,
			 ck.max_query_trigrams != cfg.max_query_trigrams},
			{"title-trigrams", maxt,
			 ck.max_title_trigrams != cfg.max_title_trigrams},
			{"lexical", lexical, !ck.lexical_buckets},
			{"lexical-buckets", lex_buckets,
			 ck.lexical_buckets != cfg.lexical_buckets},
			{"tokenizer", tokenizer, ck.tokenizer != cfg.tokenizer},
			{"untied", untied, ck.tie_embeddings != cfg.tie_embeddings},
			{"title-buckets", title_buckets,
			 ck.title_buckets != cfg.title_buckets},
			{"product-token", product,
			 ck.product_token != cfg.product_token},
		};
		for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
			if (fixed[i].value && fixed[i].differs) {
				fprintf(stderr, "anthem train: --%s %s differs from "
					"the checkpoint %s, whose model settings "
					"a resumed run keeps: drop --%s (or train "
					"afresh without --resume)\n",
					fixed[i].name, fixed[i].value, resume,
					fixed[i].name);
				rc = ANTHEM_EINVAL;
				code = EXIT_USAGE;
				goto out;
			}
	}
	/* the settings the trainer has: a checkpoint's when resuming */
	anthem_model_get_config(anthem_trainer_model(t), &cfg);
	size_t epochs0 = anthem_trainer_epoch(t);
	if (lead) {
		fprintf(stderr, "anthem train: %s geometry, dim %zu",
			cli_geometry_name(cfg.geometry), cfg.dim);
		if (resume)
			fprintf(stderr, " (from %s, %zu epochs done)", resume,
				epochs0);
		if (world_size > 1)
			fprintf(stderr, "; %d ranks (MPI) share each batch of "
				"%zu", world_size, o.batch);
		fprintf(stderr, "\n");
	}
	catch_stop_signals();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = anthem_trainer_run(t);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sig = stop_signal;
	/* under MPI a canceled run is a stop every rank took at the same
	 * step (the exchange told them; only a signal cancels): the signal
	 * may have reached another rank only, this one ends as if it had
	 * had it too */
	if (rc == ANTHEM_ECANCELED && world_size > 1) {
		stopped_together = 1;
		if (!sig)
			sig = SIGTERM;
	}
	if (rc == ANTHEM_ECANCELED && sig) {
		/* stopped by a signal: keep the epochs that finished */
		size_t done = anthem_trainer_epoch(t);
		if (!lead)
			goto out;
		if (done == 0) {
			fprintf(stderr, "anthem train: interrupted (signal %d) in "
				"the first epoch: nothing to keep, %s not "
				"written\n", sig, out);
			rc = 0;
			goto out;
		}
		rc = anthem_model_save(anthem_trainer_model(t), out);
		if (rc) {
			cli_fail(me, rc);
		} else {
			fprintf(stderr, "anthem train: interrupted (signal %d) in "
				"epoch %zu: wrote the best model of epochs 1-%zu "
				"to %s%s%s\n", sig, done + 1, done, out,
				checkpoint && done > epochs0 ? "; the checkpoint "
							       "holds them: "
				: "", checkpoint && done > epochs0 ? checkpoint
								   : "");
		}
		goto out;
	}
	/* rank 0 alone writes the model: every rank holds the same one */
	if (!rc && lead)
		rc = anthem_model_save(anthem_trainer_model(t), out);
	if (rc) {
		cli_fail(me, rc);
		goto out;
	}
	if (lead && world_size > 1)
		cli_mpi_report((double)(t1.tv_sec - t0.tv_sec) +
			       1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
	if (lead)
		fprintf(stderr, "anthem train: %zu epochs, %.0f examples/s; wrote %s\n",
		anthem_trainer_epoch(t), pr.last_rate, out);
out:
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	if (sig)
		return 128 + sig;
	return code == EXIT_USAGE ? code : rc ? EXIT_DATA : 0;
}

int cmd_train(int argc, char **argv)
{
	char name[48];
	world_size = cli_mpi_start(&world);
	if (world_size < 0) {
		cli_mpi_abort(EXIT_DATA);
		return EXIT_DATA;
	}
	if (world_size > 1) {
		snprintf(name, sizeof name, "train: rank %d", world.rank);
		me = name;
	}
	int code = train_main(argc, argv);
	/* a rank that fails ends them all (the others would wait for it in
	 * the next exchange), before anyone writes a model */
	if (code && world_size > 1 && !stopped_together) {
		fprintf(stderr, "anthem train: rank %d of %d failed (exit %d): "
			"ending every rank, no model written\n", world.rank,
			world_size, code);
		cli_mpi_abort(code);
	}
	cli_mpi_end();
	return code;
}

/* ---- eval ---------------------------------------------------------------------- */

static void print_metrics(const anthem_metrics *m, int json, double seconds)
{
	if (json) {
		printf("{\"ndcg@3\": %.6f, \"ndcg@5\": %.6f, \"ndcg@10\": %.6f, "
		       "\"map\": %.6f, \"mrr\": %.6f, \"queries\": %zu, "
		       "\"skipped\": %zu", m->ndcg3, m->ndcg5, m->ndcg10, m->map,
		       m->mrr, m->queries, m->skipped);
		if (m->k1)
			printf(", \"k1\": %zu, \"recall@k1\": %.6f", m->k1,
			       m->recall_k1);
		printf(", \"seconds\": %.3f}\n", seconds);
		return;
	}
	printf("%-10s %8s\n", "metric", "value");
	printf("%-10s %8.4f\n%-10s %8.4f\n%-10s %8.4f\n%-10s %8.4f\n%-10s %8.4f\n",
	       "NDCG@3", m->ndcg3, "NDCG@5", m->ndcg5, "NDCG@10", m->ndcg10,
	       "MAP", m->map, "MRR", m->mrr);
	if (m->k1)
		printf("%-10s %8.4f  (the share of the relevant products among "
		       "stage 1's candidates, K1 = %zu)\n", "recall@K1",
		       m->recall_k1, m->k1);
	printf("%zu queries (%zu without a relevant product skipped), %.1f s\n",
	       m->queries, m->skipped, seconds);
}

int cmd_eval(int argc, char **argv)
{
	const command *cmd = &cli_commands[1];
	const char *model = NULL, *ranking = NULL, *catalog = NULL,
		   *judgments = NULL, *json = NULL, *k1 = NULL, *maxq = NULL,
		   *threads = NULL, *index = NULL, *stage1 = NULL, *ef = NULL,
		   *elements = NULL, *prefilter = NULL;
	const opt opts[] = {
		{"model", "MODEL", "the model to evaluate", &model},
		{"ranking", "FILE", "or: a ranking made elsewhere (query<TAB>product_id<TAB>rank)", &ranking},
		{"catalog", "FILE", "the products ranked", &catalog},
		{"judgments", "FILE", "the relevance judgements", &judgments},
		{"index", "INDEX", "scan this index (anthem index) as a search server would", &index},
		{"k1", "N", "stage-1 candidates reranked by the full model (200; 0: stage 1 only)", &k1},
		{"stage1", "SOURCE", "stage 1 of --index: auto (the scan; of the int8 points when the index has them), exact (the scan of the float points) or graph (its approximate index; docs/architecture.md)", &stage1},
		{"ef", "N", "the graph search's beam width (0: 2 x k1, at least 64)", &ef},
		{"prefilter", "N|off", "the int8 scan's box prefilter of --index: re-score only the N best by a cheap flat box distance (0: twice max(1000, k1), the depth eval ranks to, when the index holds 16 times that; off: every product's int8 distance; docs/architecture.md)", &prefilter},
		{"stage2-elements", "N", "stage 2 attends from at most N query elements a text, those of highest score (0: all; docs/performance.md)", &elements},
		{"max-queries", "N", "evaluate only the first N queries", &maxq},
		{"threads", "T", "threads (all cores)", &threads},
		{"json", NULL, "print one JSON object", &json},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 0, &npos, &code))
		return code;
	if (!catalog || !judgments || (!model == !ranking)) {
		fprintf(stderr, "anthem eval: --catalog, --judgments and one of "
			"--model or --ranking are required\nusage: %s\n",
			cmd->usage);
		return EXIT_USAGE;
	}
	if (ranking) {
		/* these steer the model's search, which a ranking file skips */
		const struct {
			const char *name, *value;
		} model_only[] = {{"index", index}, {"k1", k1},
				  {"threads", threads}, {"max-queries", maxq},
				  {"stage1", stage1}, {"ef", ef},
				  {"stage2-elements", elements},
				  {"prefilter", prefilter}};
		for (size_t i = 0; i < 8; i++)
			if (model_only[i].value) {
				fprintf(stderr, "anthem eval: cannot combine "
					"--ranking with --%s: --%s steers the "
					"search of a --model, a ranking file "
					"is measured as it is\nusage: %s\n",
					model_only[i].name, model_only[i].name,
					cmd->usage);
				return EXIT_USAGE;
			}
	}
	const cli_file in[] = {{"model", model}, {"ranking", ranking},
			       {"catalog", catalog}, {"judgments", judgments},
			       {"index", index}};
	if ((code = cli_inputs("eval", in, 5)))
		return code;
	anthem_eval_options o;
	anthem_eval_options_init(&o);
	if ((k1 && cli_size(cmd, "k1", k1, &o.k1)) ||
	    (maxq && cli_size(cmd, "max-queries", maxq, &o.max_queries)) ||
	    (threads && cli_size(cmd, "threads", threads, &o.threads)) ||
	    (ef && cli_size(cmd, "ef", ef, &o.ef)) ||
	    (elements && cli_size(cmd, "stage2-elements", elements,
				  &o.stage2_elements)) ||
	    (prefilter && cli_prefilter(cmd, prefilter, &o.prefilter)))
		return EXIT_USAGE;
	if (stage1 && !strcmp(stage1, "exact")) {
		o.stage1 = ANTHEM_STAGE1_EXACT;
	} else if (stage1 && !strcmp(stage1, "graph")) {
		o.stage1 = ANTHEM_STAGE1_GRAPH;
	} else if (stage1 && strcmp(stage1, "auto")) {
		fprintf(stderr, "anthem eval: --stage1 is '%s', must be auto, "
			"exact or graph\nusage: %s\n", stage1, cmd->usage);
		return EXIT_USAGE;
	}
	if ((stage1 || ef || prefilter) && !index) {
		fprintf(stderr, "anthem eval: --stage1, --ef and --prefilter choose how "
			"--index is searched: give --index\nusage: %s\n",
			cmd->usage);
		return EXIT_USAGE;
	}
	anthem_catalog *c = NULL;
	anthem_judgments *j = NULL;
	anthem_model *m = NULL;
	anthem_metrics met;
	anthem_metrics_init(&met);
	double t0 = cli_now();
	int rc = anthem_catalog_load(&c, catalog, 0);
	if (!rc)
		rc = anthem_judgments_load(&j, judgments, c, 0);
	anthem_index *ix = NULL;
	if (!rc && model)
		rc = anthem_model_load(&m, model);
	if (!rc && index) {
		rc = model ? anthem_index_load(&ix, index, m) : ANTHEM_EINVAL;
		o.index = ix;
	}
	if (!rc)
		rc = model ? anthem_evaluate(m, c, j, &o, &met)
			   : anthem_evaluate_ranking(ranking, c, j, &met);
	if (!rc)
		print_metrics(&met, json != NULL, cli_now() - t0);
	else
		cli_fail("eval", rc);
	anthem_index_free(ix);
	anthem_model_free(m);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	return rc ? EXIT_DATA : 0;
}

/* ---- info ------------------------------------------------------------------------ */

/* Is the file at path an index (its magic, docs/format.md)?  A file that
 * cannot be read is left to the model's load to report. */
static int is_index_file(const char *path)
{
	char magic[8] = {0};
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t got = fread(magic, 1, sizeof magic, f);
	fclose(f);
	return got == sizeof magic && !memcmp(magic, "ANTHEMIX", 8);
}

static int info_index(const char *path, int json)
{
	const cli_file in[] = {{"index", path}};
	int code = cli_inputs("info", in, 1);
	if (code)
		return code;
	anthem_index *ix;
	int rc = anthem_index_load(&ix, path, NULL);
	if (rc)
		return cli_fail("info", rc);
	int int8 = anthem_index_points(ix) == ANTHEM_POINTS_INT8;
	size_t degree = 0, ef = 0;
	uint64_t seed = 0;
	int ann = anthem_index_has_ann(ix) &&
		  anthem_index_ann_params(ix, &degree, &ef, &seed) == ANTHEM_OK;
	/* the graph's build parameters, or null / "no" */
	char jgraph[160] = "\"ann_degree\": null, \"ann_ef\": null, "
			   "\"ann_seed\": null";
	char tgraph[160] = "no";
	if (ann) {
		snprintf(jgraph, sizeof jgraph, "\"ann_degree\": %zu, \"ann_ef\": "
			 "%zu, \"ann_seed\": %llu", degree, ef,
			 (unsigned long long)seed);
		snprintf(tgraph, sizeof tgraph, "yes (--stage1 graph): %zu "
			 "neighbours a product, build beam %zu, seed %llu",
			 degree, ef, (unsigned long long)seed);
	}
	if (json)
		printf("{\"products\": %zu, \"dim\": %zu, \"model_fingerprint\": "
		       "\"%016llx\", \"points\": \"%s\", \"ann\": %s, %s, "
		       "\"format_version\": %u}\n",
		       anthem_index_count(ix), anthem_index_dim(ix),
		       (unsigned long long)anthem_index_model_fingerprint(ix),
		       int8 ? "int8" : "float32", ann ? "true" : "false", jgraph,
		       anthem_index_format_version(ix));
	else
		printf("index        %s\nproducts     %zu\ndimension    %zu\n"
		       "model        %016llx (the fingerprint of the model that "
		       "built it)\nstage 1      %s\ngraph        %s\n"
		       "format       index version %u (docs/format.md)\n",
		       path, anthem_index_count(ix), anthem_index_dim(ix),
		       (unsigned long long)anthem_index_model_fingerprint(ix),
		       int8 ? "int8 points (re-scored in float32)"
			    : "float32 points",
		       tgraph, anthem_index_format_version(ix));
	anthem_index_free(ix);
	return 0;
}

int cmd_info(int argc, char **argv)
{
	const command *cmd = &cli_commands[2];
	const char *model = NULL, *index = NULL, *json = NULL;
	const opt opts[] = {
		{"model", "MODEL", "the model file", &model},
		{"index", "INDEX", "an index file instead", &index},
		{"json", NULL, "print one JSON object", &json},
		{NULL, NULL, NULL, NULL},
	};
	const char *pos[1];
	size_t npos;
	int code;
	if (cli_parse(cmd, opts, argc, argv, pos, 1, &npos, &code))
		return code;
	if (!model && !index && npos == 1) {
		if (is_index_file(pos[0]))
			index = pos[0];
		else
			model = pos[0];
	}
	if ((!model && !index) || (model && index) ||
	    (npos == 1 && (model ? pos[0] != model : pos[0] != index))) {
		fprintf(stderr, "anthem info: one of --model, --index or a FILE is "
			"required\nusage: %s\n", cmd->usage);
		return EXIT_USAGE;
	}
	if (index)
		return info_index(index, json != NULL);
	const cli_file in[] = {{"model", model}};
	if ((code = cli_inputs("info", in, 1)))
		return code;
	anthem_model *m;
	int rc = anthem_model_load(&m, model);
	if (rc)
		return cli_fail("info", rc);
	anthem_model_config c;
	anthem_model_config_init(&c);
	anthem_model_get_config(m, &c);
	char lexw[32] = "null", lexline[96] = "off"; /* JSON has no NaN */
	if (c.lexical_buckets) {
		snprintf(lexw, sizeof lexw, "%g", anthem_model_lexical_weight(m));
		snprintf(lexline, sizeof lexline, "%zu word buckets, weight %s",
			 c.lexical_buckets, lexw);
	}
	/* docs/network.md's table: two tables (three untied), six d x d
	 * matrices, eight d-vectors, and the lexical term's W + 2 */
	size_t weights = 2 * c.buckets * c.dim +
			 (c.tie_embeddings ? 0 : (c.title_buckets ? c.title_buckets
								  : c.buckets) * c.dim) +
			 6 * c.dim * c.dim + 8 * c.dim +
			 (c.lexical_buckets ? c.lexical_buckets + 2 : 0);
	if (json) {
		printf("{\"geometry\": \"%s\", \"dim\": %zu, \"curvature\": %g, "
		       "\"buckets\": %zu, \"gamma\": %g, \"max_query_trigrams\": %zu, "
		       "\"max_title_trigrams\": %zu, \"lexical_buckets\": %zu, "
		       "\"lexical_weight\": %s, \"tokenizer\": \"%s\", "
		       "\"weights\": %zu, "
		       "\"fingerprint\": \"%016llx\", \"mapped\": %s}\n",
		       cli_geometry_name(c.geometry), c.dim, c.curvature, c.buckets,
		       c.gamma, c.max_query_trigrams, c.max_title_trigrams,
		       c.lexical_buckets, lexw, cli_tokenizer_name(c.tokenizer),
		       weights,
		       (unsigned long long)anthem_model_fingerprint(m),
		       anthem_model_is_mapped(m) ? "true" : "false");
	} else {
		printf("model        %s\ngeometry     %s\ndimension    %zu\n"
		       "curvature    %g\nbuckets      %zu\ngamma        %g\n"
		       "trigrams     query <= %zu, title <= %zu\n"
		       "lexical      %s\ntokenizer    %s\n"
		       "weights      %zu floats (%.1f MiB)\nfingerprint  %016llx\n",
		       model, cli_geometry_name(c.geometry), c.dim, c.curvature,
		       c.buckets, c.gamma, c.max_query_trigrams,
		       c.max_title_trigrams, lexline,
		       cli_tokenizer_name(c.tokenizer), weights,
		       (double)weights * 4.0 / 1048576.0,
		       (unsigned long long)anthem_model_fingerprint(m));
		/* issue 17's experiments, said only when a model has one */
		if (!c.tie_embeddings)
			printf("title table  untied, %zu buckets\n",
			       c.title_buckets ? c.title_buckets : c.buckets);
		if (c.product_token)
			printf("product      a token a product (experiment)\n");
	}
	anthem_model_free(m);
	return 0;
}
