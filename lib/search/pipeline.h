/* The query pipeline (docs/architecture.md): every ranking of libanthem,
 * the public search calls, evaluation and the trainer's choice of the
 * lexical weight, goes through these functions.  Internal. */
#ifndef ANTHEM_PIPELINE_H
#define ANTHEM_PIPELINE_H

#include "model/model_internal.h"
#include "search/index_internal.h"

#include <anthem/search.h>

#include <stddef.h>
#include <stdint.h>

/* Texts one query may compose: itself, and up to 16 ANDs and 16 ORs. */
#define ATH_MAX_COMPOSE 16
#define ATH_MAX_TEXTS (1 + 2 * ATH_MAX_COMPOSE)

/* What every query of one call shares: the model, the index, the options
 * resolved (defaults filled, sizes clamped to the index), the filter as a
 * bitset over the index's positions. */
typedef struct ath_pipe {
	const anthem_model *m;
	const anthem_index *ix;
	size_t k, k1;     /* hits, candidates a source keeps */
	size_t depth;     /* region scan depth: max(k, k1), <= count */
	size_t threads;   /* for one query's scan and stage 2 */
	size_t nand, nor;
	const char *and_[ATH_MAX_COMPOSE], *or_[ATH_MAX_COMPOSE];
	int stage1_only;
	int graph;       /* stage 1's region source is the index's graph */
	int compact;     /* ...or the scan of its int8 points, re-scored */
	size_t pre;      /* ...through the box prefilter, to this depth (0: none) */
	size_t ef;       /* its beam width */
	size_t elements; /* stage 2's query elements per text (0: all) */
	uint64_t *allow;  /* NULL: every product */
	const volatile int *cancel; /* anthem_search_options' */
	double deadline;  /* ath_now() seconds, 0: none */
	int lexical;      /* the model has the term (step 8) */
	int postings;     /* ...and the index has the postings for it */
} ath_pipe;

/* Resolve caller options (NULL: defaults) for model m and index ix;
 * fn names the caller in errors.  ath_pipe_done releases it. */
int ath_pipe_init(ath_pipe *p, const anthem_model *m, const anthem_index *ix,
		  const anthem_search_options *opts, const char *fn);
void ath_pipe_done(ath_pipe *p);

/* ANTHEM_ECANCELED (with a message) when p's cancel flag is set or its
 * deadline has passed; p may be NULL (never stopped). */
int ath_pipe_stopped(const ath_pipe *p, const char *fn);

/* One query's state after stages 1 and 2, before the final order:
 * the candidates (the sources' union) with their stage-1 distance d1,
 * each text's BM25 and stage-2 geometric distance; then the tail, the
 * next products of the region scan with d1 and the combined BM25.
 * Buffers are reused from query to query (one per thread). */
typedef struct ath_pwork {
	size_t ntext, nc, nt;
	size_t *cand;     /* nc positions */
	float *d1;        /* nc */
	float *bm;        /* ntext x nc, text-major */
	float *g;         /* ntext x nc */
	size_t *tail;     /* nt positions */
	float *tail_d1, *tail_bm;
	/* scratch */
	anthem_hit *scan;
	float *score, *acc; /* catalogue-sized, lexical models */
	float *key;
	size_t *order;
	float *scan_work;
	/* the BM25 of one text's titles, sparse (sparse set: the titles
	 * sharing a word with it, ascending, ns of them) or in acc */
	int sparse;
	uint32_t *sdoc, *sdoc2;
	float *sval, *sval2, *sscore;
	size_t ns;
	size_t cap_cand, cap_scan, cap_n, cap_s;
} ath_pwork;

void ath_pwork_free(ath_pwork *w);

/* Stages 1 and 2 of one query into w (w zeroed before its first use). */
int ath_pipe_run(const ath_pipe *p, const char *query, ath_pwork *w,
		 const char *fn);

/* The final order of w's products with lexical weight lw (the model's,
 * or a value being tried): the candidates by their stage-2 distance (or
 * stage-1 with stage1_only), then the tail by stage-1 distance; at most
 * max hits into out, returns how many. */
size_t ath_pipe_order(const ath_pipe *p, ath_pwork *w, float lw,
		      anthem_hit *out, size_t max);

#endif
