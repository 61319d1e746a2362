/* A parallel for over [0, n) on plain pthreads (internal). */
#ifndef ANTHEM_PARALLEL_H
#define ANTHEM_PARALLEL_H

#include <stddef.h>

/* More threads than this are never started, whatever the caller asks:
 * a thread count is a caller's number, not a promise to start that many. */
#define ATH_MAX_THREADS 256

/* Online cores, at least 1. */
size_t ath_cores(void);

/* A caller's thread count made real: 0 means all cores, and never more
 * than ATH_MAX_THREADS. */
size_t ath_threads(size_t requested);

/* Call fn(i, tid, ctx) for every i in [0, n) on `threads` threads (0: all
 * cores; at most n and ATH_MAX_THREADS), items handed out one at a time;
 * tid is in [0, threads).  Returns
 * the number of threads used, or 0 if threads could not be started (then
 * everything ran on the caller's thread). */
size_t ath_parallel_for(size_t n, size_t threads,
			void (*fn)(size_t i, size_t tid, void *ctx), void *ctx);

#endif
