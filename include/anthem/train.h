/* libanthem: learning a model from judgements. */
#ifndef ANTHEM_TRAIN_H
#define ANTHEM_TRAIN_H

#include <anthem/common.h>
#include <anthem/data.h>
#include <anthem/model.h>

#include <stdint.h>

ANTHEM_BEGIN_DECLS

/* What a progress callback is told. */
typedef struct anthem_train_progress {
	size_t epoch, epochs;    /* current epoch (1-based), planned epochs */
	size_t step, steps;      /* batches done in this epoch, of steps */
	double loss;             /* mean training loss in this epoch so far */
	double valid_loss;       /* last held-out loss; NaN before the first */
	double examples_per_sec; /* training examples per second, this epoch */
	int epoch_done;          /* 1 on the call that ends an epoch */
	int stopped_early;       /* 1 when the held-out loss stopped improving */
	/* w of the lexical term (docs/network.md step 8) as the last epoch
	 * chose it on held-out queries; NaN for a model without the term */
	double lexical_weight;
} anthem_train_progress;

/* Called from the training thread a few times a second and at the end of
 * each epoch; return non-zero to stop (anthem_trainer_run then returns
 * ANTHEM_ECANCELED and the trainer keeps its best model so far). */
typedef int (*anthem_progress_fn)(const anthem_train_progress *p, void *user);

/* The options of a training run: initialise with
 * anthem_train_options_init, then set the fields wanted. */
typedef struct anthem_train_options {
	size_t struct_size;     /* set by anthem_train_options_init */
	size_t epochs;          /* default 10 */
	size_t epoch_examples;  /* examples per epoch, a fresh sample each
				   epoch; 0 (default): all of them */
	size_t batch;           /* examples per Adam step, default 32 */
	size_t negatives;       /* uniform negatives per example, default 4 */
	size_t hard_negatives;  /* negatives mined with the current model,
				   from epoch 2 on, default 4 */
	size_t hard_pool;       /* candidates scored to mine them, 64 */
	float lr;               /* Adam learning rate, default 0.01 */
	float lr_decay;         /* multiplier per epoch, default 0.85 */
	size_t warmup;          /* steps of linear warm-up, default 100 */
	size_t threads;         /* 0: all cores; at most 64 */
	uint64_t seed;          /* sampling seed, default 1 */
	float valid_frac;       /* share of queries held out, default 0.1 */
	size_t patience;        /* epochs without held-out gain, default 2 */
	const char *checkpoint; /* written after every epoch, or NULL */
	anthem_progress_fn progress;
	void *progress_user;
	/* the loss's logits are -logit_scale x distance (default 10: on the
	 * WordNet fixture test NDCG@10 0.35 at 1, 0.39 at 3, 0.41 at 10) */
	float logit_scale;
	/* self-supervised examples: this many pseudo-queries a product
	 * (0, the default: none; at most 64), spans of one to three words
	 * of its title with the title's product as the positive; the
	 * judgements may then be NULL, or are trained on beside them
	 * (docs/guide.md) */
	size_t pseudo_queries;
	/* Experiments of issue 17 (docs/results.md, "What was tried for the
	 * margins"), each off (0) by default; 1 turns it on.
	 * float64_tables: Adam updates a float64 master copy of every learned
	 * parameter and the model keeps its float32 rounding (the float32
	 * steps are not lost to rounding); no checkpoint can be written with
	 * it (ANTHEM_EINVAL). */
	int float64_tables;
	/* riemannian_adam: the trigram points (query_centre, and title_point
	 * when untied) step with Riemannian Adam on the ball (Becigneul and
	 * Ganea 2019) instead of Euclidean Adam on their tangent vectors;
	 * hyperbolic geometry only (ANTHEM_EINVAL otherwise). */
	int riemannian_adam;
} anthem_train_options;

/* Defaults into *o, through the macro (the caller's size: see
 * anthem_model_config_init_size in model.h). */
ANTHEM_API int anthem_train_options_init_size(anthem_train_options *o, size_t size);
#define anthem_train_options_init(o) anthem_train_options_init_size((o), sizeof *(o))

/* A training run in progress: the data, the model being trained, the
 * optimiser's state and the best model so far. */
typedef struct anthem_trainer anthem_trainer;

/* A trainer for a new model of configuration cfg on the judgements j of
 * catalogue c (both must outlive the trainer; j may be NULL when
 * o->pseudo_queries > 0).  The same seed, options,
 * data and thread count give the same model. */
ANTHEM_API int anthem_trainer_create(anthem_trainer **out,
				     const anthem_model_config *cfg,
				     const anthem_catalog *c,
				     const anthem_judgments *j,
				     const anthem_train_options *o);

/* A trainer that continues from a checkpoint written by one with the same
 * data and options: it ends with the same model as the uninterrupted run.
 * ANTHEM_EMISMATCH if the data differ from the checkpoint's. */
ANTHEM_API int anthem_trainer_resume(anthem_trainer **out,
				     const char *checkpoint,
				     const anthem_catalog *c,
				     const anthem_judgments *j,
				     const anthem_train_options *o);

/* Train until the planned epochs are done or the held-out loss stops
 * improving.  Returns ANTHEM_OK, ANTHEM_ECANCELED (callback) or an error. */
ANTHEM_API int anthem_trainer_run(anthem_trainer *t);

/* The best model so far (lowest held-out loss; the last one when nothing
 * is held out).  Owned by the trainer, valid until it is freed or run. */
ANTHEM_API const anthem_model *anthem_trainer_model(const anthem_trainer *t);

/* Epochs completed. */
ANTHEM_API size_t anthem_trainer_epoch(const anthem_trainer *t);

/* Write the full training state (atomically, like anthem_model_save).
 * Over several ranks (anthem_trainer_set_comm) call it between epochs:
 * inside an epoch each rank holds the Adam moments of its own rows alone
 * (ANTHEM_EINVAL, nothing written). */
ANTHEM_API int anthem_trainer_checkpoint(const anthem_trainer *t,
					 const char *path);

/* Data-parallel training over several processes (docs/distributed.md):
 * the trainer reaches the other ranks only through these callbacks, so
 * libanthem links no MPI; the CLI wires them to MPI, Python to mpi4py or
 * torch.distributed.  Every rank runs the same trainer (same data,
 * options, seed) and calls the same functions in the same order; each
 * callback is collective (every rank calls it, in step) and returns 0,
 * or non-zero to fail the run on this rank. */
typedef struct anthem_train_comm {
	size_t struct_size; /* sizeof(anthem_train_comm) */
	void *user;         /* passed to both callbacks */
	int rank, size;     /* this process's rank in 0..size-1; size >= 1 */
	/* buf[0..n) <- the element-wise sum of every rank's buf[0..n),
	 * the same on every rank */
	int (*allreduce_sum)(float *buf, size_t n, void *user);
	/* recv <- every rank's send buffer, rank 0's first: rank r's lens[r]
	 * bytes start at byte lens[0] + ... + lens[r-1]; lens[rank] == len,
	 * and every rank is told all the lengths */
	int (*allgather)(const void *send, size_t len, void *recv,
			 const size_t *lens, void *user);
} anthem_train_comm;

/* Make t one rank of a data-parallel run (before anthem_trainer_run;
 * NULL: back to one process).  The comm is copied.  Collective: checks
 * with the other ranks that they train the same data with the same
 * options from the same state (ANTHEM_EMISMATCH naming the rank that
 * differs).  Each global batch is then split over the ranks, gradients
 * are summed over them (the touched rows of the trigram tables, the
 * whole of the small matrices); each rank takes the Adam step of the
 * table rows it owns (id mod size) and sends their new weights, so every
 * rank holds the same model, equal to one process's up to the order of
 * float sums; the moments reach every rank at each epoch's end.  Ranks
 * may run different thread counts.  Only rank 0 writes the options'
 * checkpoint; anthem_trainer_checkpoint writes wherever it is called.
 * A failing callback, a rank's out-of-memory step or a progress callback
 * asking to stop ends anthem_trainer_run on every rank, the message
 * naming the rank; a rank that dies, or fails outside a collective
 * (e.g. out of memory between epochs), leaves the others waiting in the
 * next callback: the caller ends the job (the CLI: MPI_Abort).  Python
 * binds it at its ctypes level only, Go not yet. */
ANTHEM_API int anthem_trainer_set_comm(anthem_trainer *t,
				       const anthem_train_comm *comm);

/* Free the trainer, its models included (NULL is fine). */
ANTHEM_API void anthem_trainer_free(anthem_trainer *t);

ANTHEM_END_DECLS

#endif
