/* Fuzz target "checkpoint": anthem_trainer_resume on a checkpoint file
 * (docs/format.md), the path of `anthem train --resume`.
 *
 * A tiny catalogue and judgements are written once (the seeds of
 * corpus/checkpoint were made from the same lines by make_seeds.py, so
 * that their data fingerprint matches and resume gets past it).  Each
 * input is resumed as it is and once more with its size and checksum
 * repaired; a trainer that resumes must be consistent: its model is of a
 * dimension the library allows and scores a pair with a number, it runs
 * its remaining steps (at most 2 epochs of 8 examples) without a crash
 * and returns a status code with a message on failure, and its best
 * model, saved, loads back.  Mutations are structure-aware (mutator.h). */
#include "fuzz.h"
#include "mutator.h"

#include <math.h>

/* make_seeds.py writes the same bytes (CHECKPOINT_CATALOG, _JUDGMENTS) */
static const char catalog_tsv[] =
	"p1\tred wool hat\n"
	"p2\tblue cotton scarf\n"
	"p3\tgreen silk tie\n"
	"p4\tblack leather belt\n"
	"p5\twhite linen shirt\n"
	"p6\tgrey wool coat\n"
	"p7\tbrown felt hat\n"
	"p8\tyellow rain coat\n";
static const char judgments_tsv[] =
	"hat\tp1\t3\n"
	"hat\tp7\t2\n"
	"scarf\tp2\t3\n"
	"coat\tp6\t3\n"
	"coat\tp8\t2\n"
	"tie\tp3\t3\n"
	"belt\tp4\t3\n"
	"shirt\tp5\t3\n";

static anthem_catalog *cat;
static anthem_judgments *jud;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char path[4200];
	fz_path("catalog.tsv", path, sizeof path);
	fz_write(path, catalog_tsv, sizeof catalog_tsv - 1);
	if (anthem_catalog_load(&cat, path, ANTHEM_READ_STRICT) != ANTHEM_OK) {
		fprintf(stderr, "fuzz_checkpoint: catalogue: %s\n",
			anthem_last_error());
		abort();
	}
	fz_path("judgments.tsv", path, sizeof path);
	fz_write(path, judgments_tsv, sizeof judgments_tsv - 1);
	if (anthem_judgments_load(&jud, path, cat, ANTHEM_READ_STRICT) !=
	    ANTHEM_OK) {
		fprintf(stderr, "fuzz_checkpoint: judgements: %s\n",
			anthem_last_error());
		abort();
	}
	return 0;
}

/* The options make_seeds.py trains the seeds with (--epochs 2
 * --epoch-examples 8 --batch 4 --threads 1 --seed 1). */
static void options(anthem_train_options *o)
{
	anthem_train_options_init(o);
	o->epochs = 2;
	o->epoch_examples = 8;
	o->batch = 4;
	o->threads = 1;
	o->seed = 1;
}

static void resume(const char *path, int repaired)
{
	anthem_train_options o;
	options(&o);
	anthem_trainer *t = NULL;
	fz_begin();
	int rc = fz_status(anthem_trainer_resume(&t, path, cat, jud, &o),
			   "anthem_trainer_resume");
	if ((rc != ANTHEM_OK) != !t)
		fz_fail("anthem_trainer_resume's *out does not match status %d",
			rc);
	if (repaired && rc == ANTHEM_ECHECKSUM)
		fz_fail("a repaired checkpoint fails its checksum: "
			"docs/format.md and the reader disagree");
	if (!t)
		return;
	const anthem_model *m = anthem_trainer_model(t);
	if (!m)
		fz_fail("a resumed trainer has no model");
	size_t d = anthem_model_dim(m);
	if (d < 1 || d > anthem_max_dim())
		fz_fail("a resumed trainer's model has dim %zu", d);
	float s = 0.0f;
	fz_begin();
	/* weights are checked as for a model file (|w| <= 1e4, finite): the
	 * best model scores */
	if (fz_status(anthem_model_score(m, "hat", "red wool hat", &s),
		      "anthem_model_score") != ANTHEM_OK || isnan(s))
		fz_fail("a resumed trainer's model scores %g", s);
	fz_begin();
	rc = fz_status(anthem_trainer_run(t), "anthem_trainer_run");
	(void)rc; /* a diverging run may fail, with a message */
	m = anthem_trainer_model(t);
	char out[4200];
	fz_path("model.anthem", out, sizeof out);
	fz_begin();
	if (m && fz_status(anthem_model_save(m, out), "anthem_model_save") ==
		     ANTHEM_OK) {
		anthem_model *back = NULL;
		fz_begin();
		rc = fz_status(anthem_model_load(&back, out), "anthem_model_load");
		/* a trainer never hands out a model no reader accepts (issue
		 * 13, defect 5) */
		if (rc != ANTHEM_OK)
			fz_fail("the best model of a resumed trainer does not "
				"load back (%d)", rc);
		anthem_model_free(back);
	}
	anthem_trainer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	fz_path("checkpoint.anthem", path, sizeof path);
	fz_write(path, data, size);
	resume(path, 0);
	unsigned char *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (fz_repair(fixed, size)) {
		fz_write(path, fixed, size);
		resume(path, 1);
	}
	free(fixed);
	return 0;
}
