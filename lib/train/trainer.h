/* Trainer internals that a benchmark needs (not part of the API). */
#ifndef ANTHEM_TRAINER_INTERNAL_H
#define ANTHEM_TRAINER_INTERNAL_H

#include <anthem/train.h>

#include <stddef.h>
#include <stdint.h>

/* One training example as the trainer runs it: the query's and each
 * product's trigram bucket ids (products[0] the positive, then the uniform
 * negatives). */
typedef struct ath_planned {
	size_t index;                 /* position in the epoch, from 0 */
	size_t query, product;        /* judgement query, catalogue product */
	const uint32_t *qids;
	size_t L;
	size_t n;                     /* products: 1 + negatives */
	const size_t *products;
	const uint32_t *const *tids;
	const size_t *T;
} ath_planned;

/* Call fn on every example of epoch `epoch` (1-based) in the order the
 * trainer runs them, with the negatives it draws, as long as the trainer
 * mines none in that epoch (no mining in epoch 1, or hard_negatives 0).
 * bench/train has the PyTorch twin replay exactly this.  fn returns
 * non-zero to stop.  ANTHEM_EINVAL if the epoch would mine. */
int ath_trainer_plan(const anthem_trainer *t, uint64_t epoch,
		     int (*fn)(const ath_planned *e, void *user), void *user);

#endif
