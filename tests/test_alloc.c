/* A training step (forward + backward of the loss) does no heap allocation
 * once the tape's arena has grown to the largest step.  Measured by
 * counting every malloc, calloc, realloc and aligned allocation the process
 * makes, BLIS's included: this executable interposes them.  (Not run under
 * valgrind or ASan, which interpose them too.) */
#include "model/model_internal.h"

#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting;
static atomic_long allocations;

static void count(void)
{
	if (atomic_load(&counting))
		atomic_fetch_add(&allocations, 1);
}

void *malloc(size_t n)
{
	count();
	return __libc_malloc(n);
}
void *calloc(size_t n, size_t s)
{
	count();
	return __libc_calloc(n, s);
}
void *realloc(void *p, size_t n)
{
	count();
	return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n)
{
	count();
	return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n)
{
	count();
	*p = __libc_memalign(a, n);
	return *p ? 0 : 12; /* ENOMEM */
}

/* Check's own assertions allocate, so steps only record failure. */
static int step_failed;

static void step(ag_tape *t, anthem_model *m, ag_param *params,
		 const char *q, const char *const *titles, size_t n)
{
	uint32_t qids[64], tid[8][1024];
	const uint32_t *tp[8];
	size_t T[8];
	size_t L = ath_model_tokens(m, q, 0, qids, NULL);
	for (size_t k = 0; k < n; k++) {
		T[k] = ath_model_tokens(m, titles[k], 1, tid[k], NULL);
		tp[k] = tid[k];
	}
	for (int i = 0; i < P_COUNT; i++)
		ag_param_zero_grad(&params[i]);
	ag_node *loss = ath_net_loss(t, &m->cfg, params, qids, L, tp, T, n,
				     10.0f, NULL, NULL);
	ag_backward(t, loss);
	step_failed |= t->failed;
	ag_tape_reset(t);
}

static void check_geometry(anthem_geometry g)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.geometry = g;
	cfg.dim = 32;
	cfg.buckets = 1 << 14;
	anthem_model *m;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_OK);
	float *grad = calloc(m->nweights, sizeof(float));
	ag_param params[P_COUNT];
	ath_params_bind(&m->cfg, m->weights, grad, params);
	ag_tape t;
	ag_tape_init(&t, &m->space, 1);
	const char *titles[5] = {
		"amazon fire tv stick 4k with alexa voice remote",
		"kindle paperwhite waterproof 8 gb",
		"logitech wireless mouse m185 grey",
		"organic green tea 100 bags",
		"stainless steel water bottle 1 litre kids"};
	/* warm-up: the arena grows to the largest step */
	for (int i = 0; i < 3; i++)
		step(&t, m, params, "fire tv stick remote", titles, 5);
	atomic_store(&allocations, 0);
	atomic_store(&counting, 1);
	for (int i = 0; i < 10; i++)
		step(&t, m, params, "fire tv stick remote", titles, 5);
	atomic_store(&counting, 0);
	long seen = atomic_load(&allocations);
	/* the counter itself works: an allocation outside the steps counts */
	atomic_store(&counting, 1);
	free(malloc(16));
	atomic_store(&counting, 0);
	ck_assert_int_eq(atomic_load(&allocations), seen + 1);
	ck_assert(!step_failed);
	ck_assert_msg(seen == 0, "%ld heap allocations in 10 warm steps", seen);
	ag_tape_free(&t);
	free(grad);
	anthem_model_free(m);
}

START_TEST(warm_step_allocates_nothing_hyperbolic)
{
	check_geometry(ANTHEM_GEOMETRY_HYPERBOLIC);
}
END_TEST

START_TEST(warm_step_allocates_nothing_euclidean)
{
	check_geometry(ANTHEM_GEOMETRY_EUCLIDEAN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alloc");
	TCase *t = tcase_create("training-step");
	tcase_add_test(t, warm_step_allocates_nothing_hyperbolic);
	tcase_add_test(t, warm_step_allocates_nothing_euclidean);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);
	return run_suite(s);
}
