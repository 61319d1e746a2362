/* The unicode-v1 tokenizer (docs/network.md, step 1): the ASCII fast path
 * agrees with utf8proc, canonically equivalent, case-variant and
 * compatibility spellings read the same, labels and words never split a
 * character, a model says which tokenizer it reads with, and the old
 * bytes-v1 models score as before. */
#include "layers/lexical.h"
#include "model/modelfile.h"

#include <anthem/anthem.h>

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#define DATA FIXTURE_DIR "/../multilingual"
#define MODELS FIXTURE_DIR "/../../fuzz/corpus/model"

/* ---- helpers ------------------------------------------------------------- */

typedef struct toks {
	size_t n;
	uint32_t ids[1024];
	ath_label lab[1024];
} toks;

static void tri(int tokenizer, const char *s, toks *t)
{
	t->n = ath_text_trigrams(tokenizer, s, strlen(s), 7, 1u << 30, 1024,
				 t->ids, t->lab);
}

static size_t words(int tokenizer, const char *s, uint32_t *ids, size_t cap)
{
	ath_words w;
	ath_words_init(&w, tokenizer, s, 7, 1u << 30);
	size_t n = 0;
	uint32_t id;
	while (n < cap && ath_words_next(&w, &id))
		ids[n++] = id;
	return n;
}

static int valid_utf8(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	utf8proc_ssize_t len = (utf8proc_ssize_t)strlen(s);
	while (len > 0) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p, len, &cp);
		if (k <= 0)
			return 0;
		p += k;
		len -= k;
	}
	return 1;
}

static void same_toks(const toks *a, const toks *b, const char *what,
		      const char *s)
{
	ck_assert_msg(a->n == b->n, "%s: '%s': %zu vs %zu trigrams", what, s,
		      a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		ck_assert_msg(a->ids[i] == b->ids[i], "%s: '%s': trigram %zu",
			      what, s, i);
		ck_assert_msg(strcmp(a->lab[i], b->lab[i]) == 0,
			      "%s: '%s': label %zu '%s' vs '%s'", what, s, i,
			      a->lab[i], b->lab[i]);
	}
}

/* Lines of a data file (without '#' comments); the caller frees. */
static char **lines_of(const char *path, size_t *n)
{
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s", path);
	char **v = NULL, buf[4096];
	*n = 0;
	while (fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (buf[0] == '#' || buf[0] == '\0')
			continue;
		v = realloc(v, (*n + 1) * sizeof *v);
		v[(*n)++] = strdup(buf);
	}
	fclose(f);
	return v;
}

static void free_lines(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Strings that exercise the fast path's edges: ASCII with controls and
 * DEL, an ASCII letter before a combining mark, ill-formed UTF-8, and
 * runs longer than the normaliser's chunk. */
static const char *const edge[] = {
	"", " ", "  Fire \t\n TV  ", "A\x01" "b\x1f" "c\x7f" "d\x1c" "E",
	"e\xcc\x81", "E\xcc\x81" "A\xcc\x8a", "caf\xc3", "caf\xc3(x",
	"\xff\xfe", "\xe2\x82", "\xe2\x82" "A", "\xf4\x90\x80\x80",
	"\xed\xa0\x80", "\xc0\x80", "\xf0\x9f\x98", "ab\xe0\x80\xaf",
	"x\xef\xbb\xbfy", "Ｆｉｒｅ　ＴＶ", "\xe2\x80\x8b\xe2\x80\x8b",
	"\xc2\xad", "a\xc2\x85" "b", "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
};

/* ---- the tests -------------------------------------------------------------- */

/* Every string, fast path and utf8proc for every character: the same
 * trigrams and words. */
START_TEST(fast_path_is_utf8proc)
{
	size_t nq, nc;
	char **q = lines_of(DATA "/queries.txt", &nq);
	char **c = lines_of(DATA "/catalog.tsv", &nc);
	static toks a, b;
	uint32_t wa[256], wb[256];
	for (size_t k = 0; k < nq + nc + sizeof edge / sizeof edge[0]; k++) {
		const char *s = k < nq ? q[k] : k < nq + nc ? c[k - nq]
							    : edge[k - nq - nc];
		tri(ATH_TOK_UNICODE, s, &a);
		tri(ATH_TOK_UNICODE_SLOW, s, &b);
		same_toks(&a, &b, "fast vs slow", s);
		size_t na = words(ATH_TOK_UNICODE, s, wa, 256);
		size_t nb = words(ATH_TOK_UNICODE_SLOW, s, wb, 256);
		ck_assert_uint_eq(na, nb);
		ck_assert_msg(memcmp(wa, wb, na * sizeof wa[0]) == 0, "%s", s);
	}
	free_lines(q, nq);
	free_lines(c, nc);
}
END_TEST

/* Long texts cross the normaliser's chunks: with ASCII (cut before it) and
 * without (cut before a starter). */
START_TEST(long_texts_fast_is_slow)
{
	static char s[40000];
	static toks a, b;
	const char *pieces[] = {"Cafe\xcc\x81 ", "日本語", "e\xcc\x81\xcc\xa3",
				"\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
				"ｶﾞ", "A"};
	for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
		s[0] = '\0';
		while (strlen(s) + strlen(pieces[p]) < sizeof s - 1)
			strcat(s, pieces[p]);
		tri(ATH_TOK_UNICODE, s, &a);
		tri(ATH_TOK_UNICODE_SLOW, s, &b);
		same_toks(&a, &b, "long", pieces[p]);
		ck_assert(a.n >= 1);
	}
}
END_TEST

/* ASCII reads the same under both tokenizers: same ids, same words (what
 * keeps the WordNet quality of docs/performance.md). */
START_TEST(ascii_is_bytes_v1)
{
	size_t n;
	char **c = lines_of(FIXTURE_DIR "/catalog.tsv", &n);
	static toks a, b;
	uint32_t wa[512], wb[512];
	size_t ascii = 0;
	for (size_t i = 0; i < n; i++) {
		int is_ascii = 1;
		for (const char *p = c[i]; *p; p++)
			is_ascii &= (unsigned char)*p < 0x80;
		if (!is_ascii)
			continue;
		ascii++;
		tri(ATH_TOK_UNICODE, c[i], &a);
		tri(ATH_TOK_BYTES, c[i], &b);
		same_toks(&a, &b, "unicode vs bytes", c[i]);
		size_t na = words(ATH_TOK_UNICODE, c[i], wa, 512);
		size_t nb = words(ATH_TOK_BYTES, c[i], wb, 512);
		ck_assert_uint_eq(na, nb);
		ck_assert(memcmp(wa, wb, na * sizeof wa[0]) == 0);
	}
	ck_assert_uint_gt(ascii, n / 2);
	free_lines(c, n);
	for (size_t i = 0; i < 4; i++) { /* the ASCII edge strings */
		tri(ATH_TOK_UNICODE, edge[i], &a);
		tri(ATH_TOK_BYTES, edge[i], &b);
		same_toks(&a, &b, "unicode vs bytes", edge[i]);
	}
}
END_TEST

/* NFC and NFD of every string, and the pairs of case-pairs.tsv (case,
 * fullwidth, ligatures, ignorables, spaces, Hangul jamo): the same
 * trigrams and the same words. */
START_TEST(equivalent_spellings_read_the_same)
{
	size_t n;
	char **q = lines_of(DATA "/queries.txt", &n);
	static toks a, b;
	uint32_t wa[64], wb[64];
	for (size_t i = 0; i < n; i++) {
		char *nfd = (char *)utf8proc_NFD((const utf8proc_uint8_t *)q[i]);
		char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)nfd);
		tri(ATH_TOK_UNICODE, nfc, &a);
		tri(ATH_TOK_UNICODE, nfd, &b);
		same_toks(&a, &b, "NFC vs NFD", q[i]);
		size_t na = words(ATH_TOK_UNICODE, nfc, wa, 64);
		ck_assert_uint_eq(na, words(ATH_TOK_UNICODE, nfd, wb, 64));
		ck_assert(memcmp(wa, wb, na * sizeof wa[0]) == 0);
		free(nfd);
		free(nfc);
	}
	free_lines(q, n);
	char **p = lines_of(DATA "/case-pairs.tsv", &n);
	ck_assert_uint_ge(n, 20);
	for (size_t i = 0; i < n; i++) {
		char *tab = strchr(p[i], '\t');
		ck_assert(tab);
		*tab = '\0';
		tri(ATH_TOK_UNICODE, p[i], &a);
		tri(ATH_TOK_UNICODE, tab + 1, &b);
		same_toks(&a, &b, "pair", p[i]);
		size_t na = words(ATH_TOK_UNICODE, p[i], wa, 64);
		ck_assert_uint_eq(na, words(ATH_TOK_UNICODE, tab + 1, wb, 64));
		ck_assert_msg(memcmp(wa, wb, na * sizeof wa[0]) == 0, "%s",
			      p[i]);
		/* and bytes-v1 did not, for most: the test can fail */
	}
	free_lines(p, n);
	/* bytes-v1 tells them apart (the defect of issue 14) */
	tri(ATH_TOK_BYTES, "MÜLLER", &a);
	tri(ATH_TOK_BYTES, "müller", &b);
	ck_assert(a.ids[1] != b.ids[1]);
}
END_TEST

/* Labels: whole code points, valid UTF-8, at most 12 bytes; what the
 * normalisation makes of a few characters. */
START_TEST(labels_are_code_points)
{
	static toks a;
	tri(ATH_TOK_UNICODE, "Müller CAFÉ", &a);
	const char *want[] = {"#mü", "mül", "üll", "lle", "ler", "er ", "r c",
			      " ca", "caf", "afé", "fé#"};
	ck_assert_uint_eq(a.n, 11);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_str_eq(a.lab[i], want[i]);
	tri(ATH_TOK_UNICODE, "caf\xc3", &a); /* cut-off é: U+FFFD */
	ck_assert_str_eq(a.lab[a.n - 1], "f\xef\xbf\xbd#");
	tri(ATH_TOK_UNICODE, "😀😀😀😀", &a);
	ck_assert_str_eq(a.lab[1], "😀😀😀");
	ck_assert_uint_eq(strlen(a.lab[1]), 12);
	tri(ATH_TOK_UNICODE, "Straße", &a); /* full case folding */
	ck_assert_str_eq(a.lab[a.n - 1], "se#");
	size_t n;
	char **c = lines_of(DATA "/catalog.tsv", &n);
	for (size_t i = 0; i < n; i++) {
		tri(ATH_TOK_UNICODE, c[i], &a);
		for (size_t k = 0; k < a.n; k++)
			ck_assert_msg(valid_utf8(a.lab[k]), "%s: %zu", c[i], k);
	}
	free_lines(c, n);
}
END_TEST

/* Words: letters, marks and digits of any script. */
START_TEST(words_by_category)
{
	uint32_t a[16], b[16];
	ck_assert_uint_eq(words(ATH_TOK_UNICODE, "MÜLLER, café-crème 4K!", a,
				16), 4);
	ck_assert_uint_eq(words(ATH_TOK_UNICODE, "müller cafe\xcc\x81 CRÈME 4k",
				b, 16), 4);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(a[i], b[i]);
	ck_assert_uint_ne(a[1], a[2]);
	/* a script without spaces is one word per run; punctuation cuts */
	ck_assert_uint_eq(words(ATH_TOK_UNICODE, "電気ケトル、一リットル", a,
				16), 2);
	ck_assert_uint_eq(words(ATH_TOK_UNICODE, "مطحنة قهوة", a, 16), 2);
	/* bytes-v1 counted the bytes of '、' as word bytes */
	ck_assert_uint_eq(words(ATH_TOK_BYTES, "電気ケトル、一リットル", a, 16),
			  1);
	ck_assert_uint_eq(words(ATH_TOK_UNICODE, " ,;: \xe2\x80\x94 ", a, 16),
			  0);
}
END_TEST

/* A model records its tokenizer; old files without the key read bytes-v1;
 * an unknown name is refused naming the key. */
START_TEST(model_tokenizer_key)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	ck_assert_int_eq(cfg.tokenizer, ANTHEM_TOKENIZER_UNICODE_V1);
	cfg.dim = 4;
	cfg.buckets = 64;
	anthem_model *m, *back;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_OK);
	char dir[] = "/tmp/anthem-unicode-XXXXXX", path[256];
	ck_assert(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/m.anthem", dir);
	ck_assert_int_eq(anthem_model_save(m, path), ANTHEM_OK);
	ck_assert_int_eq(anthem_model_load(&back, path), ANTHEM_OK);
	anthem_model_config got;
	anthem_model_config_init(&got);
	anthem_model_get_config(back, &got);
	ck_assert_int_eq(got.tokenizer, ANTHEM_TOKENIZER_UNICODE_V1);
	float d1, d2;
	ck_assert_int_eq(anthem_model_score(m, "MÜLLER", "mu\xcc\x88ller", &d1), 0);
	ck_assert_int_eq(anthem_model_score(back, "müller", "Müller", &d2), 0);
	ck_assert_float_eq(d1, d2);
	ck_assert(anthem_model_fingerprint(m) == anthem_model_fingerprint(back));
	anthem_model_free(back);

	/* the same model written with another tokenizer name */
	ath_kv kv[16];
	ath_tensor tt[P_COUNT];
	size_t nkv = ath_model_kvs(m, kv), nt = ath_model_tensors(m, tt);
	int found = 0;
	for (size_t i = 0; i < nkv; i++)
		if (strcmp(kv[i].key, "anthem.tokenizer") == 0) {
			kv[i].s = "unicode-v9";
			found = 1;
		}
	ck_assert(found);
	ck_assert_int_eq(ath_container_write(path, ath_model_magic, kv, nkv,
					     tt, nt, "test"), ANTHEM_OK);
	ck_assert_int_ne(anthem_model_load(&back, path), ANTHEM_OK);
	ck_assert_msg(strstr(anthem_last_error(), "anthem.tokenizer") &&
		      strstr(anthem_last_error(), "unicode-v9"), "%s",
		      anthem_last_error());
	remove(path);
	rmdir(dir);

	/* bytes-v1 on request; an unknown value refused */
	cfg.tokenizer = ANTHEM_TOKENIZER_BYTES_V1;
	anthem_model *b;
	ck_assert_int_eq(anthem_model_create(&b, &cfg), ANTHEM_OK);
	ck_assert_int_eq(anthem_model_score(b, "MÜLLER", "müller", &d1), 0);
	ck_assert_int_eq(anthem_model_score(b, "müller", "müller", &d2), 0);
	ck_assert(d1 != d2);
	anthem_model_free(b);
	cfg.tokenizer = (anthem_tokenizer)7;
	ck_assert_int_eq(anthem_model_create(&b, &cfg), ANTHEM_EINVAL);
	ck_assert(strstr(anthem_last_error(), "tokenizer"));
	anthem_model_free(m);
}
END_TEST

/* The models of the fuzz corpus, written before anthem.tokenizer: their
 * scores, computed by the main branch before this change (%a), to the bit. */
START_TEST(old_models_score_as_before)
{
	static const char *const q[] = {
		"Müller café Hat", "red hat", "ＵＳＢ cable\t\xc3(x",
		"Cafe\xcc\x81 ΟΔΟΣ"};
	static const char *const t[] = {
		"MÜLLER Café red hat ＵＳＢ", "Red hat with a feather",
		"usb CABLE \xff\xfe", "café οδος 日本語"};
	static const struct {
		const char *file;
		float d[4];
	} want[] = {
		{"euclidean-d2-b32", {0x1.244cdep-7f, 0x1.248bd8p-7f,
				      0x1.93af12p-7f, 0x1.b0182ep-7f}},
		{"euclidean-d4-b256", {0x1.0654a4p-5f, 0x1.b511c8p-7f,
				       0x1.82a1f8p-5f, 0x1.45602p-6f}},
		{"hyperbolic-d1-b16-cuts", {0x1.208ae8p-8f, 0x1.4e7da2p-9f,
					    0x1.97d8e4p-7f, 0x1.aed6bep-14f}},
		{"hyperbolic-d2-b32-lexical", {-0x1.a8c12ap-4f, -0x1.3d29dp-4f,
					       -0x1.1ccf94p-4f, 0x1.afd654p-7f}},
		{"hyperbolic-d4-b256", {0x1.031a4p-5f, 0x1.b1cdbp-7f,
					0x1.7b4c3ap-5f, 0x1.41a31ap-6f}},
		{"vector-d4-b256", {0x1.065be6p-4f, 0x1.b49c3ap-6f,
				    0x1.47388p-4f, 0x1.45263cp-5f}},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char path[4096];
		snprintf(path, sizeof path, MODELS "/%s.anthem", want[i].file);
		anthem_model *m;
		ck_assert_msg(anthem_model_load(&m, path) == ANTHEM_OK, "%s",
			      anthem_last_error());
		anthem_model_config c;
		anthem_model_config_init(&c);
		anthem_model_get_config(m, &c);
		ck_assert_int_eq(c.tokenizer, ANTHEM_TOKENIZER_BYTES_V1);
		for (int k = 0; k < 4; k++) {
			float d;
			ck_assert_int_eq(anthem_model_score(m, q[k], t[k], &d), 0);
			ck_assert_msg(d == want[i].d[k], "%s: pair %d: %a, was %a",
				      want[i].file, k, (double)d,
				      (double)want[i].d[k]);
		}
		anthem_model_free(m);
	}
}
END_TEST

/* Through the pipeline: a model with the lexical term and an index of the
 * multilingual catalogue; the NFC, NFD, upper-case and fullwidth
 * spellings of a query rank the same products with the same distances. */
START_TEST(rankings_agree_through_the_pipeline)
{
	anthem_model_config cfg;
	anthem_model_config_init(&cfg);
	cfg.dim = 8;
	cfg.buckets = 4096;
	cfg.lexical_buckets = 1024;
	anthem_model *m;
	ck_assert_int_eq(anthem_model_create(&m, &cfg), ANTHEM_OK);
	anthem_catalog *c;
	ck_assert_msg(anthem_catalog_load(&c, DATA "/catalog.tsv", 0) == 0,
		      "%s", anthem_last_error());
	ck_assert_uint_ge(anthem_catalog_count(c), 40);
	anthem_index *ix;
	ck_assert_int_eq(anthem_index_build(&ix, m, c, 1), ANTHEM_OK);
	static const char *const groups[][4] = {
		{"Müller café", "mu\xcc\x88ller cafe\xcc\x81", "MÜLLER CAFÉ",
		 "Ｍüｌｌｅｒ　ｃａｆé"},
		{"Straßenschuhe", "STRASSENSCHUHE", "strassenschuhe",
		 "Ｓｔｒａßｅｎｓｃｈｕｈｅ"},
		{"ΟΔΟΣ καφές", "οδος καφε\xcc\x81\xcf\x82", "ΟΔΟΣ ΚΑΦΈΣ",
		 "οδοσ καφέσ"},
		{"USB Type-C", "ＵＳＢ　Ｔｙｐｅ－Ｃ", "usb type-c", "U\xc2\xadSB type-C"},
		{"Nguyễn Phở", "Nguye\xcc\x82\xcc\x83n Pho\xcc\x9b\xcc\x89",
		 "NGUYỄN PHỞ", "nguyễn phở"},
	};
	anthem_hit h0[10], h1[10];
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		size_t n0, n1;
		ck_assert_int_eq(anthem_search(m, ix, groups[g][0], 10, 40, h0,
					       &n0), ANTHEM_OK);
		ck_assert_uint_eq(n0, 10);
		for (int v = 1; v < 4; v++) {
			ck_assert_int_eq(anthem_search(m, ix, groups[g][v], 10,
						       40, h1, &n1), ANTHEM_OK);
			ck_assert_uint_eq(n0, n1);
			for (size_t i = 0; i < n0; i++) {
				ck_assert_msg(h0[i].index == h1[i].index &&
					      h0[i].distance == h1[i].distance,
					      "'%s' vs '%s': hit %zu",
					      groups[g][0], groups[g][v], i);
			}
		}
	}
	anthem_index_free(ix);
	anthem_catalog_free(c);
	anthem_model_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unicode");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fast_path_is_utf8proc);
	tcase_add_test(tc, long_texts_fast_is_slow);
	tcase_add_test(tc, ascii_is_bytes_v1);
	tcase_add_test(tc, equivalent_spellings_read_the_same);
	tcase_add_test(tc, labels_are_code_points);
	tcase_add_test(tc, words_by_category);
	tcase_add_test(tc, model_tokenizer_key);
	tcase_add_test(tc, old_models_score_as_before);
	tcase_add_test(tc, rankings_agree_through_the_pipeline);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
