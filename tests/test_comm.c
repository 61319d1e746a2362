/* The trainer's communicator seam (anthem_trainer_set_comm) with a fake
 * in-process communicator: two threads are two ranks, a barrier makes
 * each callback collective.  Two ranks must train the model one process
 * trains (docs/distributed.md): the same losses up to float sums, the
 * same weights on both ranks, resume included. */
#include <anthem/anthem.h>

#include <check.h>

#include "testutil.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must point at tests/data/wordnet-fixture"
#endif
#define FIXTURE(f) FIXTURE_DIR "/" f

#define RANKS 2     /* the ranks of most tests */
#define MAX_RANKS 4
#define MAX_EPOCHS 8

/* ---- the fake communicator ----------------------------------------------- */

typedef struct world {
	pthread_barrier_t bar;
	int n; /* ranks */
	const void *send[MAX_RANKS];
	size_t len[MAX_RANKS];
	float *buf[MAX_RANKS];
} world;

typedef struct rank_ctx {
	world *w;
	int rank;
	size_t calls;
	int fail_at; /* this call returns an error (0: never) */
} rank_ctx;

static int fake_allgather(const void *send, size_t len, void *recv,
			  const size_t *lens, void *user)
{
	rank_ctx *c = user;
	if (c->fail_at && ++c->calls == (size_t)c->fail_at)
		return 7;
	world *w = c->w;
	w->send[c->rank] = send;
	w->len[c->rank] = len;
	pthread_barrier_wait(&w->bar);
	size_t off = 0;
	for (int r = 0; r < w->n; r++) {
		ck_assert_uint_eq(lens[r], w->len[r]);
		memcpy((char *)recv + off, w->send[r], w->len[r]);
		off += w->len[r];
	}
	pthread_barrier_wait(&w->bar);
	return 0;
}

static int fake_allreduce(float *buf, size_t n, void *user)
{
	rank_ctx *c = user;
	world *w = c->w;
	w->buf[c->rank] = buf;
	pthread_barrier_wait(&w->bar);
	float *sum = calloc(n + 1, sizeof *sum);
	for (size_t i = 0; i < n; i++)
		for (int r = 0; r < w->n; r++)
			sum[i] += w->buf[r][i];
	pthread_barrier_wait(&w->bar); /* everyone has read every buffer */
	memcpy(buf, sum, n * sizeof *sum);
	free(sum);
	pthread_barrier_wait(&w->bar);
	return 0;
}

/* ---- a run ----------------------------------------------------------------- */

typedef struct fixture {
	anthem_catalog *c;
	anthem_judgments *train, *test;
} fixture;

typedef struct run {
	const fixture *f;
	anthem_model_config cfg;
	anthem_train_options o;
	const char *resume, *out; /* out: where the model goes, or NULL */
	rank_ctx comm;            /* comm.w NULL: one process */
	int rank, nranks;
	double loss[MAX_EPOCHS];  /* each epoch's mean training loss */
	size_t stop_after;        /* the callback stops after this epoch */
	int alone_after;          /* then go on alone (set_comm(NULL)) */
	size_t epochs_seen;       /* epoch-done reports */
	int set_rc, run_rc;
	char err[512];
} run;

static int record(const anthem_train_progress *p, void *user)
{
	run *r = user;
	if (p->epoch_done && p->epoch <= MAX_EPOCHS)
		r->loss[p->epoch - 1] = p->loss;
	r->epochs_seen += p->epoch_done;
	return r->stop_after && p->epoch_done && p->epoch == r->stop_after;
}

static void *run_one(void *arg)
{
	run *r = arg;
	anthem_trainer *t = NULL;
	r->o.progress = record;
	r->o.progress_user = r;
	int rc = r->resume ? anthem_trainer_resume(&t, r->resume, r->f->c,
						   r->f->train, &r->o)
			   : anthem_trainer_create(&t, &r->cfg, r->f->c,
						   r->f->train, &r->o);
	if (rc) {
		r->set_rc = rc;
		snprintf(r->err, sizeof r->err, "%s", anthem_last_error());
		return NULL;
	}
	if (r->comm.w) {
		anthem_train_comm c = {sizeof c, &r->comm, r->rank, r->nranks,
				       fake_allreduce, fake_allgather};
		r->comm.rank = r->rank;
		r->set_rc = anthem_trainer_set_comm(t, &c);
	}
	if (!r->set_rc) {
		r->run_rc = anthem_trainer_run(t);
		if (r->run_rc == ANTHEM_ECANCELED && r->alone_after) {
			r->stop_after = 0;
			r->run_rc = anthem_trainer_set_comm(t, NULL);
			if (!r->run_rc)
				r->run_rc = anthem_trainer_run(t);
		}
		if (r->run_rc)
			snprintf(r->err, sizeof r->err, "%s", anthem_last_error());
		else if (r->out)
			ck_assert_int_eq(anthem_model_save(anthem_trainer_model(t),
							   r->out), 0);
	} else {
		snprintf(r->err, sizeof r->err, "%s", anthem_last_error());
	}
	anthem_trainer_free(t);
	return NULL;
}

/* Every rank of an n-rank run, each in its thread. */
static void run_ranks_n(run *rs, int n)
{
	world w = {.n = n};
	pthread_barrier_init(&w.bar, NULL, (unsigned)n);
	pthread_t th[MAX_RANKS];
	for (int r = 0; r < n; r++) {
		rs[r].comm.w = &w;
		rs[r].rank = r;
		rs[r].nranks = n;
		ck_assert_int_eq(pthread_create(&th[r], NULL, run_one, &rs[r]), 0);
	}
	for (int r = 0; r < n; r++)
		pthread_join(th[r], NULL);
	pthread_barrier_destroy(&w.bar);
}

static void run_ranks(run rs[RANKS])
{
	run_ranks_n(rs, RANKS);
}

static void load_fixture(fixture *f)
{
	ck_assert_int_eq(anthem_catalog_load(&f->c, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&f->train, FIXTURE("train.tsv"), f->c, 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&f->test, FIXTURE("test.tsv"), f->c, 0), 0);
}

static void free_fixture(fixture *f)
{
	anthem_judgments_free(f->train);
	anthem_judgments_free(f->test);
	anthem_catalog_free(f->c);
}

static void setup(run *r, const fixture *f)
{
	memset(r, 0, sizeof *r);
	r->f = f;
	anthem_model_config_init(&r->cfg);
	r->cfg.dim = 8;
	r->cfg.buckets = 4096;
	r->cfg.lexical_buckets = 1u << 12;
	anthem_train_options_init(&r->o);
	/* two epochs of 256 examples, batch 32: 16 steps, the second epoch
	 * with mined negatives and a lexical weight chosen after the first */
	r->o.epochs = 2;
	/* valgrind's pass (ANTHEM_TEST_QUICK): a few steps */
	r->o.epoch_examples = getenv("ANTHEM_TEST_QUICK") ? 64 : 256;
	r->o.threads = 1;
	r->o.patience = 0;
}

/* Every rank set up and ran without an error. */
static void all_ran(const run *rs, int n)
{
	for (int r = 0; r < n; r++)
		ck_assert_msg(rs[r].set_rc == 0 && rs[r].run_rc == 0,
			      "rank %d: %s", r, rs[r].err);
}

/* Each epoch's loss of a run over ranks (how) is one process's to 1e-4
 * (the sums' order differs). */
static void same_losses(const run *one, const run *r, const char *how)
{
	for (size_t e = 0; e < one->o.epochs; e++)
		ck_assert_msg(fabs(one->loss[e] - r->loss[e]) <=
				      1e-4 * one->loss[e],
			      "epoch %zu: loss %.9g in one process, %.9g %s",
			      e + 1, one->loss[e], r->loss[e], how);
}

static int same_file(const char *a, const char *b)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

static double ndcg10(const fixture *f, const char *path)
{
	anthem_model *m;
	ck_assert_int_eq(anthem_model_load(&m, path), 0);
	anthem_metrics x;
	anthem_metrics_init(&x);
	ck_assert_int_eq(anthem_evaluate(m, f->c, f->test, NULL, &x), 0);
	anthem_model_free(m);
	return x.ndcg10;
}

START_TEST(two_ranks_train_what_one_process_trains)
{
	fixture f;
	load_fixture(&f);
	run one;
	setup(&one, &f);
	one.out = tmp_path("one.anthem");
	run_one(&one);
	ck_assert_msg(one.run_rc == 0, "%s", one.err);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++)
		setup(&rs[r], &f);
	rs[0].out = tmp_path("r0.anthem");
	rs[1].out = tmp_path("r1.anthem");
	run_ranks(rs);
	for (int r = 0; r < RANKS; r++)
		ck_assert_msg(rs[r].set_rc == 0 && rs[r].run_rc == 0,
			      "rank %d: %s", r, rs[r].err);
	/* every rank holds the same model, bit for bit */
	ck_assert(same_file(tmp_path("r0.anthem"), tmp_path("r1.anthem")));
	for (size_t e = 0; e < one.o.epochs; e++) {
		double a = one.loss[e], b = rs[0].loss[e];
		ck_assert_msg(a > 0 && fabs(a - b) <= 1e-4 * a,
			      "epoch %zu: loss %.9g in one process, %.9g over "
			      "two ranks", e + 1, a, b);
		ck_assert_double_eq(rs[0].loss[e], rs[1].loss[e]);
	}
	double n1 = ndcg10(&f, tmp_path("one.anthem"));
	double n2 = ndcg10(&f, tmp_path("r0.anthem"));
	ck_assert_msg(fabs(n1 - n2) <= 0.005 * n1, "NDCG@10 %.6f vs %.6f", n1,
		      n2);
	free_fixture(&f);
}
END_TEST

START_TEST(two_ranks_resume_where_they_stopped)
{
	fixture f;
	load_fixture(&f);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++)
		setup(&rs[r], &f);
	/* nothing held out: the model written is the last epoch's, not a
	 * best one that could be epoch 1's and hide epoch 2 */
	for (int r = 0; r < RANKS; r++)
		rs[r].o.valid_frac = 0.0;
	rs[0].out = tmp_path("full.anthem");
	run_ranks(rs);
	ck_assert_msg(rs[0].run_rc == 0, "%s", rs[0].err);
	/* epoch 1 with a checkpoint (rank 0 writes it), then resumed */
	for (int r = 0; r < RANKS; r++) {
		setup(&rs[r], &f);
		rs[r].o.epochs = 1;
		rs[r].o.valid_frac = 0.0;
		rs[r].o.checkpoint = tmp_path("ck");
	}
	run_ranks(rs);
	ck_assert_msg(rs[1].run_rc == 0, "%s", rs[1].err);
	for (int r = 0; r < RANKS; r++) {
		setup(&rs[r], &f);
		rs[r].o.valid_frac = 0.0;
		rs[r].resume = tmp_path("ck");
	}
	rs[0].out = tmp_path("resumed.anthem");
	run_ranks(rs);
	ck_assert_msg(rs[0].run_rc == 0 && rs[1].run_rc == 0, "%s / %s",
		      rs[0].err, rs[1].err);
	ck_assert(same_file(tmp_path("full.anthem"), tmp_path("resumed.anthem")));
	free_fixture(&f);
}
END_TEST

/* N ranks: each runs Adam on the rows id mod N it owns and sends the
 * new weights; ranks 2 and later add their own rows in the middle of the
 * sum.  Every rank ends with the same model, the one process's losses,
 * and a checkpoint taken after epoch 1 (moments gathered from every
 * owner) resumes to the same bytes as the run without a stop. */
static void ranks_own_their_rows(int N)
{
	fixture f;
	load_fixture(&f);
	/* nothing held out (valid_frac 0), here and below: the model
	 * written is the last epoch's, not a best one that could be epoch
	 * 1's and hide what epoch 2 did */
	run one;
	setup(&one, &f);
	one.o.valid_frac = 0.0;
	run_one(&one);
	ck_assert_msg(one.run_rc == 0, "%s", one.err);
	run rs[MAX_RANKS];
	/* own copies: tmp_path keeps four paths at once */
	char out[MAX_RANKS][512], ck[512], resumed[512];
	snprintf(ck, sizeof ck, "%s", tmp_path("four.ck"));
	snprintf(resumed, sizeof resumed, "%s", tmp_path("resumed.anthem"));
	for (int r = 0; r < N; r++) {
		setup(&rs[r], &f);
		rs[r].o.valid_frac = 0.0;
		char name[32];
		snprintf(name, sizeof name, "four-%d.anthem", r);
		snprintf(out[r], sizeof out[r], "%s", tmp_path(name));
		rs[r].out = out[r];
	}
	run_ranks_n(rs, N);
	for (int r = 0; r < N; r++) {
		ck_assert_msg(rs[r].set_rc == 0 && rs[r].run_rc == 0,
			      "rank %d: %s", r, rs[r].err);
		ck_assert_msg(same_file(out[0], out[r]),
			      "rank %d holds another model than rank 0", r);
	}
	char how[32];
	snprintf(how, sizeof how, "over %d ranks", N);
	same_losses(&one, &rs[0], how);
	/* epoch 1 with a checkpoint (rank 0 writes it), then resumed */
	for (int r = 0; r < N; r++) {
		setup(&rs[r], &f);
		rs[r].o.valid_frac = 0.0;
		rs[r].o.epochs = 1;
		rs[r].o.checkpoint = ck;
	}
	run_ranks_n(rs, N);
	ck_assert_msg(rs[0].run_rc == 0, "%s", rs[0].err);
	for (int r = 0; r < N; r++) {
		setup(&rs[r], &f);
		rs[r].o.valid_frac = 0.0;
		rs[r].resume = ck;
	}
	rs[0].out = resumed;
	run_ranks_n(rs, N);
	ck_assert_msg(rs[0].run_rc == 0, "%s", rs[0].err);
	ck_assert_msg(same_file(out[0], resumed), "the resumed run differs "
		      "from the one without a stop");
	free_fixture(&f);
}

START_TEST(three_ranks_own_a_third_of_the_rows_each)
{
	ranks_own_their_rows(3); /* ownership by division */
}
END_TEST

START_TEST(four_ranks_own_a_quarter_of_the_rows_each)
{
	ranks_own_their_rows(4); /* by mask */
}
END_TEST

/* float64_tables keeps its float64 weights on each row's owner; a rank
 * that goes on alone after an epoch over two ranks (set_comm(NULL))
 * needs the other's too, or its next step would start those rows from
 * stale weights.  Epoch 2 alone must train what one process trains. */
START_TEST(a_rank_goes_on_alone_with_float64_tables)
{
	fixture f;
	load_fixture(&f);
	run one;
	setup(&one, &f);
	one.o.float64_tables = 1;
	run_one(&one);
	ck_assert_msg(one.run_rc == 0, "%s", one.err);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++) {
		setup(&rs[r], &f);
		rs[r].o.float64_tables = 1;
		rs[r].stop_after = 1;
		rs[r].alone_after = 1;
	}
	run_ranks(rs);
	all_ran(rs, RANKS);
	same_losses(&one, &rs[0], "over two ranks, then alone");
	free_fixture(&f);
}
END_TEST

START_TEST(ranks_that_differ_are_refused)
{
	fixture f;
	load_fixture(&f);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++)
		setup(&rs[r], &f);
	rs[1].o.seed = 2;
	run_ranks(rs);
	for (int r = 0; r < RANKS; r++) {
		ck_assert_int_eq(rs[r].set_rc, ANTHEM_EMISMATCH);
		ck_assert_msg(strstr(rs[r].err, "rank 1 has other training "
					  "options"), "%s", rs[r].err);
	}
	/* a struct the library does not know, a rank out of range */
	anthem_trainer *t;
	ck_assert_int_eq(anthem_trainer_create(&t, &rs[0].cfg, f.c, f.train,
					       &rs[0].o), 0);
	anthem_train_comm c = {sizeof c - 1, NULL, 0, 1, fake_allreduce,
			       fake_allgather};
	ck_assert_int_eq(anthem_trainer_set_comm(t, &c), ANTHEM_EINVAL);
	c.struct_size = sizeof c;
	c.rank = 1;
	ck_assert_int_eq(anthem_trainer_set_comm(t, &c), ANTHEM_ERANGE);
	ck_assert_int_eq(anthem_trainer_set_comm(t, NULL), ANTHEM_OK);
	anthem_trainer_free(t);
	free_fixture(&f);
}
END_TEST

START_TEST(a_failing_rank_fails_the_run)
{
	fixture f;
	load_fixture(&f);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++)
		setup(&rs[r], &f);
	/* rank 1's communicator fails on its 5th allgather (set_comm has
	 * made 2): rank 1 returns the error; its partner would wait for it
	 * in the next collective, so the fake lets rank 0 fail the same
	 * call (an MPI job is ended by the CLI's MPI_Abort instead) */
	rs[0].comm.fail_at = 5;
	rs[1].comm.fail_at = 5;
	run_ranks(rs);
	for (int r = 0; r < RANKS; r++) {
		ck_assert_int_eq(rs[r].run_rc, ANTHEM_EIO);
		char want[64];
		snprintf(want, sizeof want, "rank %d: the communicator's "
			 "allgather failed (7)", r);
		ck_assert_msg(strstr(rs[r].err, want), "%s", rs[r].err);
	}
	free_fixture(&f);
}
END_TEST

START_TEST(one_ranks_callback_stops_every_rank)
{
	fixture f;
	load_fixture(&f);
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++) {
		setup(&rs[r], &f);
		rs[r].o.epochs = 3;
	}
	/* rank 1 alone asks to stop after epoch 1: both ranks stop there,
	 * told by the end-of-epoch agreement, and say whose callback it was */
	rs[1].stop_after = 1;
	run_ranks(rs);
	for (int r = 0; r < RANKS; r++) {
		ck_assert_int_eq(rs[r].run_rc, ANTHEM_ECANCELED);
		ck_assert_msg(strstr(rs[r].err, "progress callback of rank 1"),
			      "%s", rs[r].err);
		ck_assert_uint_eq(rs[r].epochs_seen, 1);
	}
	free_fixture(&f);
}
END_TEST

START_TEST(ranks_may_run_other_thread_counts)
{
	fixture f;
	load_fixture(&f);
	run one;
	setup(&one, &f);
	run_one(&one);
	ck_assert_msg(one.run_rc == 0, "%s", one.err);
	/* rank 0 with two workers, rank 1 with one: the same examples go to
	 * the same rank as with one worker each, the same model */
	run rs[RANKS];
	for (int r = 0; r < RANKS; r++)
		setup(&rs[r], &f);
	rs[0].o.threads = 2;
	run_ranks(rs);
	all_ran(rs, RANKS);
	same_losses(&one, &rs[0], "over ranks of 2 and 1 threads");
	free_fixture(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("comm");
	TCase *t = tcase_create("ranks");
	tcase_add_checked_fixture(t, tmp_setup, tmp_teardown);
	tcase_add_test(t, two_ranks_train_what_one_process_trains);
	tcase_add_test(t, two_ranks_resume_where_they_stopped);
	tcase_add_test(t, three_ranks_own_a_third_of_the_rows_each);
	tcase_add_test(t, four_ranks_own_a_quarter_of_the_rows_each);
	tcase_add_test(t, a_rank_goes_on_alone_with_float64_tables);
	tcase_add_test(t, ranks_that_differ_are_refused);
	tcase_add_test(t, a_failing_rank_fails_the_run);
	tcase_add_test(t, one_ranks_callback_stops_every_rank);
	tcase_add_test(t, ranks_may_run_other_thread_counts);
	tcase_set_timeout(t, 600);
	suite_add_tcase(s, t);
	return run_suite(s);
}
