/* Answer one query from a model and its index: both stages.
 * usage: search MODEL INDEX QUERY [K]
 * prints product_id<TAB>distance<TAB>title, best first */
#include <anthem/anthem.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: search MODEL INDEX QUERY [K]\n");
		return 2;
	}
	size_t k = argc == 5 ? strtoul(argv[4], NULL, 10) : 10, n = 0;
	anthem_model *m = NULL;
	anthem_index *ix = NULL;
	anthem_hit *hits = calloc(k ? k : 1, sizeof *hits);
	int rc = hits ? anthem_model_load(&m, argv[1]) : ANTHEM_ENOMEM;
	if (!rc) /* the index must have been built by this model */
		rc = anthem_index_load(&ix, argv[2], m);
	if (!rc) /* k1 = 200 stage-1 candidates reranked by the full model */
		rc = anthem_search(m, ix, argv[3], k, 200, hits, &n);
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
