/* Which title trigrams each query trigram attends to.
 * usage: explain MODEL QUERY TITLE */
#include <anthem/anthem.h>

#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: explain MODEL QUERY TITLE\n");
		return 2;
	}
	anthem_model *m = NULL;
	anthem_explanation *e = NULL;
	int rc = anthem_model_load(&m, argv[1]);
	if (!rc)
		rc = anthem_model_explain(m, argv[2], argv[3], &e);
	if (rc) {
		fprintf(stderr, "explain: %s\n", anthem_last_error());
		anthem_model_free(m);
		return 1;
	}
	size_t rows = anthem_explanation_rows(e), cols = anthem_explanation_cols(e);
	const float *w = anthem_explanation_weights(e);
	printf("distance %.4f\n", anthem_explanation_distance(e));
	for (size_t r = 0; r < rows; r++) {
		size_t best = 0; /* the title trigram this row attends to most */
		for (size_t c = 1; c < cols; c++)
			if (w[r * cols + c] > w[r * cols + best])
				best = c;
		printf("'%s' -> '%s' (%.3f)\n", anthem_explanation_row_label(e, r),
		       anthem_explanation_col_label(e, best), w[r * cols + best]);
	}
	anthem_explanation_free(e);
	anthem_model_free(m);
	return 0;
}
