/* Fuzz target "ranking": anthem_evaluate_ranking, the reader of a ranking
 * made elsewhere (`query<TAB>product_id<TAB>rank[<TAB>score]` lines;
 * `anthem eval --ranking`).
 *
 * The input is the ranking file, evaluated against a tiny catalogue and
 * judgements written once.  A ranking that is read must give metrics in
 * [0, 1] and counts no larger than the judgements hold; a refusal is a
 * status code with a message. */
#include "fuzz.h"

#include <math.h>

static const char catalog_tsv[] =
	"p1\tred wool hat\n"
	"p2\tblue cotton scarf\n"
	"p3\tgreen silk tie\n"
	"p4\tblack leather belt\n"
	"p5\tgrey wool coat\n";
static const char judgments_tsv[] =
	"hat\tp1\t3\n"
	"hat\tp5\t1\n"
	"scarf\tp2\t3\n"
	"coat\tp5\t3\n"
	"tie\tp3\t2\n";

static anthem_catalog *cat;
static anthem_judgments *jud;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char path[4200];
	fz_path("catalog.tsv", path, sizeof path);
	fz_write(path, catalog_tsv, sizeof catalog_tsv - 1);
	if (anthem_catalog_load(&cat, path, ANTHEM_READ_STRICT) != ANTHEM_OK)
		abort();
	fz_path("judgments.tsv", path, sizeof path);
	fz_write(path, judgments_tsv, sizeof judgments_tsv - 1);
	if (anthem_judgments_load(&jud, path, cat, ANTHEM_READ_STRICT) !=
	    ANTHEM_OK)
		abort();
	return 0;
}

static void in_unit(const char *what, double x)
{
	if (!(x >= 0.0 && x <= 1.0))
		fz_fail("anthem_evaluate_ranking: %s is %g, not in [0, 1]", what, x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[4200];
	fz_path("ranking.tsv", path, sizeof path);
	fz_write(path, data, size);
	anthem_metrics m;
	anthem_metrics_init(&m);
	fz_begin();
	int rc = fz_status(anthem_evaluate_ranking(path, cat, jud, &m),
			   "anthem_evaluate_ranking");
	if (rc != ANTHEM_OK)
		return 0;
	in_unit("ndcg@3", m.ndcg3);
	in_unit("ndcg@5", m.ndcg5);
	in_unit("ndcg@10", m.ndcg10);
	in_unit("map", m.map);
	in_unit("mrr", m.mrr);
	if (m.queries > anthem_judgments_query_count(jud))
		fz_fail("anthem_evaluate_ranking counts %zu queries of %zu",
			(size_t)m.queries, anthem_judgments_query_count(jud));
	return 0;
}
