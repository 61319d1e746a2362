/* "A AND B" and "A OR B" over embedded queries, scanned over an index
 * (stage 1).  usage: compose MODEL INDEX A B */
#include <anthem/anthem.h>

#include <stdio.h>

static int show(const char *what, const anthem_index *ix,
		const anthem_hyperboloid *h, float gamma)
{
	anthem_hit hits[5];
	size_t n;
	int rc = anthem_index_scan(ix, h, gamma, 5, hits, &n);
	printf("%s (%zu branch%s):\n", what, anthem_hyperboloid_branch_count(h),
	       anthem_hyperboloid_branch_count(h) == 1 ? "" : "es");
	for (size_t i = 0; !rc && i < n; i++)
		printf("  %.4f  %s\n", hits[i].distance,
		       anthem_index_title(ix, hits[i].index));
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: compose MODEL INDEX A B\n");
		return 2;
	}
	anthem_model *m = NULL;
	anthem_index *ix = NULL;
	anthem_hyperboloid *a = NULL, *b = NULL, *both = NULL, *either = NULL;
	int rc = anthem_model_load(&m, argv[1]);
	if (!rc)
		rc = anthem_index_load(&ix, argv[2], m);
	if (!rc)
		rc = anthem_model_embed_query(m, argv[3], &a);
	if (!rc)
		rc = anthem_model_embed_query(m, argv[4], &b);
	if (!rc)
		rc = anthem_hyperboloid_intersect(&both, a, b);
	if (!rc)
		rc = anthem_hyperboloid_union(&either, a, b);
	float gamma = anthem_model_gamma(m);
	if (!rc)
		rc = show(argv[3], ix, a, gamma);
	if (!rc)
		rc = show("AND", ix, both, gamma);
	if (!rc)
		rc = show("OR", ix, either, gamma);
	if (rc)
		fprintf(stderr, "compose: %s\n", anthem_last_error());
	anthem_hyperboloid_free(either);
	anthem_hyperboloid_free(both);
	anthem_hyperboloid_free(b);
	anthem_hyperboloid_free(a);
	anthem_index_free(ix);
	anthem_model_free(m);
	return rc ? 1 : 0;
}
