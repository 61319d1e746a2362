/* Answer one query from a model and its index through the query pipeline
 * (docs/architecture.md), optionally composed with AND / OR texts.
 * usage: search [--and TEXT]... [--or TEXT]... MODEL INDEX QUERY [K]
 * prints product_id<TAB>distance<TAB>title, best first */
#include <anthem/anthem.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXTS 16 /* the library's limit for each of AND and OR */

static int usage(void)
{
	fprintf(stderr, "usage: search [--and TEXT]... [--or TEXT]... "
			"MODEL INDEX QUERY [K]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *ands[MAX_TEXTS], *ors[MAX_TEXTS], *args[4];
	size_t n_and = 0, n_or = 0, n_args = 0;
	for (int i = 1; i < argc; i++) {
		int is_and = strcmp(argv[i], "--and") == 0;
		if (is_and || strcmp(argv[i], "--or") == 0) {
			size_t *n = is_and ? &n_and : &n_or;
			if (i + 1 == argc || *n == MAX_TEXTS)
				return usage();
			(is_and ? ands : ors)[(*n)++] = argv[++i];
		} else if (n_args < 4) {
			args[n_args++] = argv[i];
		} else {
			return usage();
		}
	}
	if (n_args < 3)
		return usage();

	anthem_search_options opts;
	anthem_search_options_init(&opts); /* k 10, k1 200, one thread */
	if (n_args == 4)
		opts.k = strtoul(args[3], NULL, 10);
	opts.and_queries = ands; /* intersected with the query */
	opts.n_and = n_and;
	opts.or_queries = ors; /* united with it */
	opts.n_or = n_or;

	size_t n = 0;
	anthem_model *m = NULL;
	anthem_index *ix = NULL;
	anthem_hit *hits = calloc(opts.k ? opts.k : 1, sizeof *hits);
	int rc = hits ? anthem_model_load(&m, args[0]) : ANTHEM_ENOMEM;
	if (!rc) /* the index must have been built by this model */
		rc = anthem_index_load(&ix, args[1], m);
	if (!rc) /* k1 stage-1 candidates reranked by the full model */
		rc = anthem_search_ex(m, ix, args[2], &opts, hits, &n);
	for (size_t i = 0; !rc && i < n; i++)
		printf("%s\t%.9g\t%s\n", anthem_index_id(ix, hits[i].index),
		       hits[i].distance, anthem_index_title(ix, hits[i].index));
	if (rc)
		fprintf(stderr, "search: %s\n", anthem_last_error());
	anthem_index_free(ix);
	anthem_model_free(m);
	free(hits);
	return rc ? 1 : 0;
}
