/* Train a small model on a catalogue and judgements, with progress, and
 * save it.  usage: train CATALOG JUDGMENTS OUT_MODEL */
#include <anthem/anthem.h>

#include <stdio.h>

static int progress(const anthem_train_progress *p, void *user)
{
	(void)user;
	if (p->epoch_done)
		printf("epoch %zu/%zu: loss %.4f, held-out %.4f, %.0f examples/s\n",
		       p->epoch, p->epochs, p->loss, p->valid_loss,
		       p->examples_per_sec);
	return 0; /* non-zero would stop training */
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: train CATALOG JUDGMENTS OUT_MODEL\n");
		return 2;
	}
	anthem_catalog *c = NULL;
	anthem_judgments *j = NULL;
	anthem_trainer *t = NULL;
	anthem_model_config cfg;
	anthem_train_options o;
	anthem_model_config_init(&cfg);
	anthem_train_options_init(&o);
	cfg.dim = 8;
	cfg.buckets = 4096;
	o.epochs = 2;
	o.epoch_examples = 256;
	o.progress = progress;
	int rc = anthem_catalog_load(&c, argv[1], ANTHEM_READ_STRICT);
	if (!rc)
		rc = anthem_judgments_load(&j, argv[2], c, ANTHEM_READ_STRICT);
	if (!rc)
		rc = anthem_trainer_create(&t, &cfg, c, j, &o);
	if (!rc)
		rc = anthem_trainer_run(t);
	if (!rc)
		rc = anthem_model_save(anthem_trainer_model(t), argv[3]);
	if (rc)
		fprintf(stderr, "train: %s\n", anthem_last_error());
	else
		printf("wrote %s\n", argv[3]);
	anthem_trainer_free(t);
	anthem_judgments_free(j);
	anthem_catalog_free(c);
	return rc ? 1 : 0;
}
