/* The query pipeline (docs/architecture.md): every entry point ranks the
 * same way.  For every geometry, with and without the lexical term, on
 * small trained models of the fixture: the batch equals one call per
 * query to the bit, evaluation equals the metrics of the batch's
 * rankings, AND / OR combine the per-text stage-2 distances, filters,
 * reranking by position and by id, the stage-1 tail, and the refusals. */
#include <anthem/anthem.h>

#include "eval/eval_internal.h"

#include <check.h>

#include "testutil.h"

#define FIXTURE(f) FIXTURE_DIR "/" f
#define NMODELS 6

/* Under valgrind and TSan (ANTHEM_TEST_QUICK): fewer steps and queries
 * (the point there is memory and races, not coverage of the rankings). */
static int quick(void)
{
	return getenv("ANTHEM_TEST_QUICK") != NULL;
}

static anthem_catalog *catalog;
static anthem_judgments *train_j, *test_j;
static anthem_model *models[NMODELS];
static anthem_index *indexes[NMODELS];
static const char *names[NMODELS] = {
	"hyperbolic", "euclidean", "vector",
	"hyperbolic+lexical", "euclidean+lexical", "vector+lexical",
};

/* Trained for a few steps (the rankings need not be good, only the
 * models' parts non-trivial: fitted idf, a chosen w), saved and loaded so
 * that the index records a file's fingerprint. */
static void setup(void)
{
	tmp_setup();
	ck_assert_int_eq(anthem_catalog_load(&catalog, FIXTURE("catalog.tsv"), 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&train_j, FIXTURE("train.tsv"),
					       catalog, 0), 0);
	ck_assert_int_eq(anthem_judgments_load(&test_j, FIXTURE("test.tsv"),
					       catalog, 0), 0);
	for (int i = 0; i < NMODELS; i++) {
		anthem_model_config cfg;
		anthem_model_config_init(&cfg);
		cfg.geometry = (anthem_geometry)(i % 3);
		cfg.dim = 8;
		cfg.buckets = 4096;
		cfg.lexical_buckets = i >= 3 ? 4096 : 0;
		anthem_train_options o;
		anthem_train_options_init(&o);
		o.epochs = 1;
		o.epoch_examples = quick() ? 16 : 64;
		/* no held-out queries, so no choice of w, when quick (the
		 * lexical and train suites check that choice) */
		if (quick())
			o.valid_frac = 0.0f;
		o.threads = 1;
		anthem_trainer *t;
		ck_assert_int_eq(anthem_trainer_create(&t, &cfg, catalog, train_j, &o), 0);
		ck_assert_int_eq(anthem_trainer_run(t), 0);
		ck_assert_int_eq(anthem_model_save(anthem_trainer_model(t),
						   tmp_path("m.anthem")), 0);
		anthem_trainer_free(t);
		ck_assert_int_eq(anthem_model_load(&models[i], tmp_path("m.anthem")), 0);
		ck_assert_int_eq(anthem_index_build(&indexes[i], models[i], catalog, 2), 0);
	}
}

static void teardown(void)
{
	for (int i = 0; i < NMODELS; i++) {
		anthem_index_free(indexes[i]);
		anthem_model_free(models[i]);
	}
	anthem_judgments_free(train_j);
	anthem_judgments_free(test_j);
	anthem_catalog_free(catalog);
	tmp_teardown();
}

static void same_hits(const anthem_hit *a, size_t na, const anthem_hit *b,
		      size_t nb, const char *what, int model)
{
	ck_assert_msg(na == nb, "%s, %s: %zu hits against %zu", names[model],
		      what, na, nb);
	for (size_t i = 0; i < na; i++) {
		ck_assert_msg(a[i].index == b[i].index, "%s, %s: hit %zu is "
			      "product %zu against %zu", names[model], what, i,
			      a[i].index, b[i].index);
		ck_assert_msg(memcmp(&a[i].distance, &b[i].distance,
				     sizeof(float)) == 0,
			      "%s, %s: hit %zu at %.9g against %.9g",
			      names[model], what, i, a[i].distance, b[i].distance);
	}
}

#define NQ 40
#define K 10

/* A batch on 1 and 2 threads == anthem_search_ex on 1 and 3 threads, one
 * query at a time; plain and composed. */
START_TEST(batch_equals_one_by_one)
{
	const char *queries[NQ];
	size_t nq = quick() ? 4 : NQ;
	for (size_t q = 0; q < NQ; q++)
		queries[q] = anthem_judgments_query(test_j, q);
	const char *ands[] = {"winter"}, *ors[] = {"cap", "helmet"};
	for (int mi = 0; mi < NMODELS; mi++)
		for (int composed = 0; composed <= 1; composed++) {
			anthem_search_options o;
			anthem_search_options_init(&o);
			o.k = K;
			o.k1 = quick() ? 20 : 50;
			if (composed) {
				o.and_queries = ands;
				o.n_and = 1;
				o.or_queries = ors;
				o.n_or = 2;
			}
			static anthem_hit batch[NQ * K];
			size_t counts[NQ];
			for (size_t th = quick() ? 2 : 1; th <= 2; th++) {
				o.threads = th;
				ck_assert_int_eq(anthem_search_batch(models[mi], indexes[mi],
								     queries, nq, &o,
								     batch, counts), 0);
				for (size_t q = 0; q < nq; q++) {
					anthem_hit one[K];
					size_t n;
					o.threads = q % 2 ? 3 : 1;
					ck_assert_int_eq(anthem_search_ex(models[mi], indexes[mi],
									  queries[q], &o,
									  one, &n), 0);
					o.threads = th;
					ck_assert_uint_eq(n, K);
					same_hits(batch + q * K, counts[q], one, n,
						  composed ? "composed batch" : "batch",
						  mi);
				}
			}
		}
}
END_TEST

/* anthem_evaluate with the index, and without it, gives exactly the
 * metrics of the rankings anthem_search_batch returns for the judged
 * queries with k = the metrics' cut (1000) and the same k1; with k1 = 0,
 * those of stage 1 alone. */
START_TEST(evaluate_equals_batch)
{
	size_t nq = quick() ? 5 : anthem_judgments_query_count(test_j);
	const char **queries = malloc(nq * sizeof *queries);
	anthem_hit *hits = malloc(nq * ATH_RANK_CUT * sizeof *hits);
	size_t *counts = malloc(nq * sizeof *counts), ranked[ATH_RANK_CUT];
	ck_assert(queries && hits && counts);
	for (size_t q = 0; q < nq; q++)
		queries[q] = anthem_judgments_query(test_j, q);
	const size_t k1s[] = {50, 0};
	for (int mi = 0; mi < NMODELS; mi++)
		for (int ki = 0; ki < 2; ki++) {
			anthem_search_options so;
			anthem_search_options_init(&so);
			so.k = ATH_RANK_CUT;
			so.k1 = k1s[ki] ? k1s[ki] : 200;
			so.stage1_only = k1s[ki] == 0;
			so.threads = 2;
			ck_assert_int_eq(anthem_search_batch(models[mi], indexes[mi],
							     queries, nq, &so, hits,
							     counts), 0);
			double sum[ATH_NMETRICS] = {0};
			size_t counted = 0;
			for (size_t q = 0; q < nq; q++) {
				const size_t *prod;
				const int *grade;
				size_t nj;
				double per[ATH_NMETRICS];
				anthem_judgments_get(test_j, q, &prod, &grade, &nj);
				ck_assert_uint_eq(counts[q], anthem_catalog_count(catalog));
				for (size_t r = 0; r < counts[q] && r < ATH_RANK_CUT; r++)
					ranked[r] = hits[q * ATH_RANK_CUT + r].index;
				if (!ath_query_metrics(ranked, counts[q], prod, grade, nj, per))
					continue;
				counted++;
				for (int k = 0; k < ATH_NMETRICS; k++)
					sum[k] += per[k];
			}
			ck_assert_uint_ge(counted, quick() ? 2 : 10);
			for (int with_index = 0; with_index <= 1; with_index++) {
				anthem_eval_options eo;
				anthem_eval_options_init(&eo);
				eo.k1 = k1s[ki];
				eo.threads = with_index ? 2 : 1;
				eo.index = with_index ? indexes[mi] : NULL;
				eo.max_queries = nq;
				anthem_metrics m;
				anthem_metrics_init(&m);
				ck_assert_int_eq(anthem_evaluate(models[mi], catalog, test_j,
								 &eo, &m), 0);
				ck_assert_uint_eq(m.queries, counted);
				double n = (double)counted;
				ck_assert_msg(m.ndcg3 == sum[0] / n && m.ndcg5 == sum[1] / n &&
					      m.ndcg10 == sum[2] / n && m.map == sum[3] / n &&
					      m.mrr == sum[4] / n,
					      "%s, k1 %zu, %s index: evaluate NDCG@10 %.9f MAP "
					      "%.9f, the batch's %.9f %.9f", names[mi],
					      k1s[ki], with_index ? "with" : "without",
					      m.ndcg10, m.map, sum[2] / n, sum[3] / n);
			}
		}
	free(queries);
	free(hits);
	free(counts);
}
END_TEST

/* A composed query's stage-2 distances are each text's full-model
 * distance, the largest over the intersection (the query and its ANDs),
 * the smallest with the ORs; its hits come from the composed region's
 * scan (or, with the lexical term, the titles of highest BM25). */
START_TEST(and_or_combine_the_texts)
{
	const char *q = "hat", *ands[] = {"winter", "wool"}, *ors[] = {"cap"};
	for (int mi = 0; mi < NMODELS; mi++) {
		anthem_model *m = models[mi];
		anthem_index *ix = indexes[mi];
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 20;
		o.k1 = 40;
		o.and_queries = ands;
		o.n_and = 2;
		o.or_queries = ors;
		o.n_or = 1;
		anthem_hit hits[20];
		size_t n;
		ck_assert_int_eq(anthem_search_ex(m, ix, q, &o, hits, &n), 0);
		ck_assert_uint_eq(n, 20);
		/* the region: (hat AND winter AND wool) OR cap */
		anthem_hyperboloid *h[4], *r1, *r2, *region;
		const char *texts[4] = {q, ands[0], ands[1], ors[0]};
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(anthem_model_embed_query(m, texts[i], &h[i]), 0);
		ck_assert_int_eq(anthem_hyperboloid_intersect(&r1, h[0], h[1]), 0);
		ck_assert_int_eq(anthem_hyperboloid_intersect(&r2, r1, h[2]), 0);
		ck_assert_int_eq(anthem_hyperboloid_union(&region, r2, h[3]), 0);
		anthem_hit scan[40];
		size_t ns;
		ck_assert_int_eq(anthem_index_scan(ix, region, anthem_model_gamma(m),
						   40, scan, &ns), 0);
		for (size_t i = 0; i < n; i++) {
			float d[4];
			for (int t = 0; t < 4; t++)
				ck_assert_int_eq(anthem_score(m, ix, texts[t],
							      &hits[i].index, 1, &d[t]), 0);
			float want = fminf(fmaxf(fmaxf(d[0], d[1]), d[2]), d[3]);
			ck_assert_msg(memcmp(&want, &hits[i].distance, sizeof want) == 0,
				      "%s: hit %zu at %.9g, the texts combine to %.9g",
				      names[mi], i, hits[i].distance, want);
			if (i > 0)
				ck_assert(hits[i].distance >= hits[i - 1].distance);
			int in_scan = 0;
			for (size_t j = 0; j < ns; j++)
				in_scan |= scan[j].index == hits[i].index;
			ck_assert_msg(in_scan || mi >= 3, "%s: hit %zu is not in the "
				      "composed region's top 40", names[mi], i);
		}
		for (int i = 0; i < 4; i++)
			anthem_hyperboloid_free(h[i]);
		anthem_hyperboloid_free(r1);
		anthem_hyperboloid_free(r2);
		anthem_hyperboloid_free(region);
	}
}
END_TEST

/* Filters: an allow-list smaller than k1 makes every allowed product a
 * candidate, so the hits are anthem_rerank's of the list; the same set as
 * a bitset gives the same; allowing everything changes nothing. */
START_TEST(filters)
{
	size_t n = anthem_catalog_count(catalog), allow[30], words = (n + 63) / 64;
	uint64_t *bits = calloc(words, sizeof *bits), *all = malloc(words * 8);
	ck_assert(bits && all);
	memset(all, 0xff, words * 8);
	for (size_t i = 0; i < 30; i++) {
		allow[i] = (i * 37 + 11) % n;
		bits[allow[i] / 64] |= (uint64_t)1 << (allow[i] % 64);
	}
	for (int mi = 0; mi < NMODELS; mi++) {
		anthem_model *m = models[mi];
		anthem_index *ix = indexes[mi];
		anthem_hit want[30], got[10], plain[10];
		size_t ng, np;
		ck_assert_int_eq(anthem_rerank(m, ix, "hat", allow, 30, want), 0);
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 10;
		o.k1 = 40; /* > the 30 allowed */
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, plain, &np), 0);
		o.allow = allow;
		o.n_allow = 30;
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, got, &ng), 0);
		same_hits(got, ng, want, 10, "allow-list", mi);
		o.allow = NULL;
		o.n_allow = 0;
		o.allow_bits = bits;
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, got, &ng), 0);
		same_hits(got, ng, want, 10, "bitset", mi);
		o.allow_bits = all;
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, got, &ng), 0);
		same_hits(got, ng, plain, np, "everything allowed", mi);
		/* both: the intersection (one product) */
		o.allow = &allow[3];
		o.n_allow = 1;
		o.allow_bits = bits;
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, got, &ng), 0);
		ck_assert_uint_eq(ng, 1);
		ck_assert_uint_eq(got[0].index, allow[3]);
		o.allow_bits = all;
		bits[allow[3] / 64] &= ~((uint64_t)1 << (allow[3] % 64));
		o.allow_bits = bits;
		ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, got, &ng), 0);
		ck_assert_uint_eq(ng, 0);
		bits[allow[3] / 64] |= (uint64_t)1 << (allow[3] % 64);
	}
	free(bits);
	free(all);
}
END_TEST

/* Hits past the candidates are the next products of the region scan by
 * their stage-1 distance; stage1_only ranks the scan alone (models
 * without the lexical term, where stage 1 is the region alone). */
START_TEST(tail_and_stage1_only)
{
	for (int mi = 0; mi < 3; mi++) {
		anthem_model *m = models[mi];
		anthem_index *ix = indexes[mi];
		anthem_hyperboloid *h;
		ck_assert_int_eq(anthem_model_embed_query(m, "winter hat", &h), 0);
		anthem_hit scan[30], hits[30], head[10];
		size_t ns, n;
		ck_assert_int_eq(anthem_index_scan(ix, h, anthem_model_gamma(m), 30,
						   scan, &ns), 0);
		anthem_search_options o;
		anthem_search_options_init(&o);
		o.k = 30;
		o.k1 = 10;
		ck_assert_int_eq(anthem_search_ex(m, ix, "winter hat", &o, hits, &n), 0);
		ck_assert_uint_eq(n, 30);
		size_t first[10];
		for (int i = 0; i < 10; i++)
			first[i] = scan[i].index;
		ck_assert_int_eq(anthem_rerank(m, ix, "winter hat", first, 10, head), 0);
		same_hits(hits, 10, head, 10, "reranked head", mi);
		same_hits(hits + 10, 20, scan + 10, 20, "stage-1 tail", mi);
		o.stage1_only = 1;
		o.k = 30;
		o.k1 = 200;
		ck_assert_int_eq(anthem_search_ex(m, ix, "winter hat", &o, hits, &n), 0);
		same_hits(hits, n, scan, ns, "stage1_only", mi);
		anthem_hyperboloid_free(h);
	}
}
END_TEST

/* stage2_elements: at or above a query's element count, the hits of the
 * whole model bit for bit; below it, other stage-2 distances (the same
 * stage 1: the tail beyond the k1 region candidates is unchanged). */
START_TEST(stage2_elements)
{
	const char *query = "warm winter wool hat"; /* > 100 elements */
	for (int mi = 0; mi < NMODELS; mi++) {
		anthem_model *m = models[mi];
		anthem_index *ix = indexes[mi];
		anthem_hit all[30], many[30], few[30];
		size_t na, nm, nf;
		anthem_search_options o;
		anthem_search_options_init(&o);
		ck_assert_uint_eq(o.stage2_elements, 0);
		o.k = 30;
		o.k1 = 10;
		ck_assert_int_eq(anthem_search_ex(m, ix, query, &o, all, &na), 0);
		o.stage2_elements = 100000;
		ck_assert_int_eq(anthem_search_ex(m, ix, query, &o, many, &nm), 0);
		same_hits(all, na, many, nm, "stage2_elements above the count", mi);
		o.stage2_elements = 3;
		ck_assert_int_eq(anthem_search_ex(m, ix, query, &o, few, &nf), 0);
		ck_assert_uint_eq(nf, na);
		int differ = 0;
		for (size_t i = 0; i < 10; i++)
			differ |= memcmp(&all[i].distance, &few[i].distance,
					 sizeof(float)) != 0;
		ck_assert_msg(differ, "%s: 3 elements give the whole model's "
			      "distances", names[mi]);
		/* without the lexical term, one source of k1 candidates */
		if (mi < 3)
			same_hits(all + 10, 20, few + 10, 20, "stage-1 tail", mi);
	}
}
END_TEST

/* Product ids: every id found at its position, before and after a
 * save and load; reranking by id skips the unknown ones and equals
 * reranking by position, which is anthem_score sorted. */
START_TEST(find_and_rerank)
{
	anthem_model *m = models[3];
	anthem_index *ix = indexes[3], *ld;
	ck_assert_int_eq(anthem_index_save(ix, tmp_path("i.idx")), 0);
	ck_assert_int_eq(anthem_index_load(&ld, tmp_path("i.idx"), m), 0);
	size_t n = anthem_catalog_count(catalog), pos = 12345;
	for (size_t i = 0; i < n; i++) {
		size_t a = n, b = n;
		ck_assert_int_eq(anthem_index_find(ix, anthem_catalog_id(catalog, i), &a), 0);
		ck_assert_int_eq(anthem_index_find(ld, anthem_catalog_id(catalog, i), &b), 0);
		ck_assert_uint_eq(a, i);
		ck_assert_uint_eq(b, i);
	}
	ck_assert_int_eq(anthem_index_find(ix, "no such id", &pos), ANTHEM_ENOTFOUND);
	ck_assert_uint_eq(pos, 12345);
	ck_assert_int_eq(anthem_index_find(ix, "", &pos), ANTHEM_ENOTFOUND);
	ck_assert_int_eq(anthem_index_find(NULL, "x", &pos), ANTHEM_EINVAL);
	size_t cand[5] = {7, 3, 200, 41, 5};
	const char *ids[7] = {anthem_catalog_id(catalog, 7), "unknown",
			      anthem_catalog_id(catalog, 3),
			      anthem_catalog_id(catalog, 200),
			      anthem_catalog_id(catalog, 41), "",
			      anthem_catalog_id(catalog, 5)};
	float d[5];
	anthem_hit a[5], b[7];
	size_t nb;
	ck_assert_int_eq(anthem_score(m, ix, "rain coat", cand, 5, d), 0);
	ck_assert_int_eq(anthem_rerank(m, ix, "rain coat", cand, 5, a), 0);
	ck_assert_int_eq(anthem_rerank_ids(m, ld, "rain coat", ids, 7, b, &nb), 0);
	same_hits(a, 5, b, nb, "rerank by id", 3);
	for (int i = 0; i < 5; i++) {
		int k = 0;
		while (cand[k] != a[i].index)
			k++;
		ck_assert(memcmp(&d[k], &a[i].distance, sizeof(float)) == 0);
		if (i)
			ck_assert(a[i].distance >= a[i - 1].distance);
	}
	anthem_index_free(ld);
}
END_TEST

START_TEST(refusals)
{
	anthem_model *m = models[0];
	anthem_index *ix = indexes[0];
	anthem_hit hits[10];
	size_t n = 99, counts[2];
	anthem_search_options o;
	anthem_search_options_init(&o);
	const char *many[17];
	for (int i = 0; i < 17; i++)
		many[i] = "hat";
	o.and_queries = many;
	o.n_and = 17;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_ERANGE);
	ck_assert_uint_eq(n, 0);
	o.n_and = 0;
	o.n_or = 1;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_EINVAL);
	many[0] = NULL;
	o.or_queries = many;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "or_queries[0]"));
	o.n_or = 0;
	size_t bad = anthem_index_count(ix);
	o.allow = &bad;
	o.n_allow = 1;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_ERANGE);
	o.allow = NULL;
	o.n_allow = 0;
	o.struct_size = 3;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_EINVAL);
	o.struct_size = sizeof o + 8;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), ANTHEM_EINVAL);
	anthem_search_options_init(&o);
	ck_assert_int_eq(anthem_search_ex(m, ix, NULL, &o, hits, &n), ANTHEM_EINVAL);
	const char *qs[2] = {"hat", NULL};
	ck_assert_int_eq(anthem_search_batch(m, ix, qs, 2, &o, hits, counts),
			 ANTHEM_EINVAL);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), "query 1"));
	/* k = 0: nothing, and no buffer needed */
	o.k = 0;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, NULL, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* an index of another dimension */
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 4;
	cfg.buckets = 64;
	anthem_model *small;
	ck_assert_int_eq(anthem_model_create(&small, &cfg), 0);
	ck_assert_int_eq(anthem_search(small, ix, "hat", 10, 0, hits, &n),
			 ANTHEM_EMISMATCH);
	/* stage 2 alone reads only titles, but another model's ranking of
	 * them is as wrong as its scan (issue 13, defect 8): refused, naming
	 * both fingerprints */
	size_t two[2] = {0, 5};
	float d[2];
	char want[128];
	snprintf(want, sizeof want, "index was built by model %016llx, not %016llx",
		 (unsigned long long)anthem_model_fingerprint(m),
		 (unsigned long long)anthem_model_fingerprint(small));
	ck_assert_int_eq(anthem_score(small, ix, "hat", two, 2, d), ANTHEM_EMISMATCH);
	ck_assert_ptr_nonnull(strstr(anthem_last_error(), want));
	ck_assert_int_eq(anthem_rerank(small, ix, "hat", two, 2, hits),
			 ANTHEM_EMISMATCH);
	const char *ids[1] = {anthem_index_id(ix, 0)};
	ck_assert_int_eq(anthem_rerank_ids(small, ix, "hat", ids, 1, hits, &n),
			 ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_search_batch(small, ix, qs, 1, &o, hits, counts),
			 ANTHEM_EMISMATCH);
	ck_assert_int_eq(anthem_score(small, ix, "hat", &bad, 1, d), ANTHEM_ERANGE);
	anthem_model_free(small);
	/* a huge k is the index's size, not an allocation */
	anthem_search_options_init(&o);
	o.k = (size_t)1 << 62;
	o.k1 = (size_t)1 << 62;
	o.allow = &bad;
	bad = 3;
	o.n_allow = 1;
	ck_assert_int_eq(anthem_search_ex(m, ix, "hat", &o, hits, &n), 0);
	ck_assert_uint_eq(n, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pipeline");
	TCase *t = tcase_create("pipeline");
	tcase_add_unchecked_fixture(t, setup, teardown);
	tcase_add_test(t, batch_equals_one_by_one);
	tcase_add_test(t, evaluate_equals_batch);
	tcase_add_test(t, and_or_combine_the_texts);
	tcase_add_test(t, filters);
	tcase_add_test(t, tail_and_stage1_only);
	tcase_add_test(t, stage2_elements);
	tcase_add_test(t, find_and_rerank);
	tcase_add_test(t, refusals);
	tcase_set_timeout(t, 600);
	suite_add_tcase(s, t);
	return run_suite(s);
}
