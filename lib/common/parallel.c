#include "common/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

size_t ath_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

typedef struct pool {
	atomic_size_t next;
	size_t n;
	void (*fn)(size_t, size_t, void *);
	void *ctx;
} pool;

typedef struct worker {
	pool *p;
	size_t tid;
} worker;

static void *run(void *arg)
{
	worker *w = arg;
	pool *p = w->p;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		p->fn(i, w->tid, p->ctx);
	}
	return NULL;
}

size_t ath_threads(size_t requested)
{
	size_t t = requested ? requested : ath_cores();
	return t < ATH_MAX_THREADS ? t : ATH_MAX_THREADS;
}

size_t ath_parallel_for(size_t n, size_t threads,
			void (*fn)(size_t i, size_t tid, void *ctx), void *ctx)
{
	threads = ath_threads(threads);
	if (threads > n)
		threads = n ? n : 1;
	pool p = {.n = n, .fn = fn, .ctx = ctx};
	atomic_init(&p.next, 0);
	worker *w = calloc(threads, sizeof *w);
	pthread_t *th = calloc(threads, sizeof *th);
	size_t started = 0;
	if (w && th)
		for (size_t t = 1; t < threads; t++) {
			w[t] = (worker){&p, t};
			if (pthread_create(&th[t], NULL, run, &w[t]) != 0)
				break;
			started = t;
		}
	worker self = {&p, 0};
	run(&self);
	for (size_t t = 1; t <= started; t++)
		pthread_join(th[t], NULL);
	free(w);
	free(th);
	return w && th ? started + 1 : 0;
}
