/* Character trigrams hashed into buckets (docs/network.md, step 1), and
 * the text normalisation of the unicode-v1 tokenizer that the lexical
 * words share (lexical.c). */
#include "layers/layers.h"

#include "common/hash.h"

#include <string.h>
#include <utf8proc.h>

/* FNV-1a over the trigram's bytes, seeded through the offset basis, then
 * the splitmix64 finaliser so that the low bits used by `mod buckets`
 * depend on every input bit.  The lexical term hashes its words the same
 * way (lexical.c). */
static uint64_t hash_bytes(const unsigned char *b, size_t n, uint64_t seed)
{
	uint64_t h = ATH_FNV_BASIS ^ seed;
	for (size_t i = 0; i < n; i++)
		h = ath_fnv_step(h, b[i]);
	return ath_hash_finish(h);
}

/* ---- unicode-v1 normalisation ---------------------------------------------- */

/* NFKC with case folding, default-ignorables dropped (docs/network.md,
 * step 1): the decomposition options; composition is a second pass. */
#define NORM_OPTS (UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | \
		   UTF8PROC_IGNORE)

/* The next code point of s[0..len) (len >= 1), U+FFFD for an ill-formed
 * sequence; returns the bytes read.  An ill-formed sequence is replaced by
 * its maximal subpart (Unicode 15, section 3.9, table 3-7), one U+FFFD
 * each, as Python's and most decoders' 'replace' do, so that the twin of
 * docs/network.md reads the same code points. */
static size_t utf8_next(const unsigned char *s, size_t len, int32_t *cp)
{
	unsigned char c = s[0];
	size_t need;
	int32_t v;
	unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	size_t i = 1;
	for (; i <= need; i++) {
		unsigned char b = i < len ? s[i] : 0;
		unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
		if (i >= len || b < l || b > h) {
			*cp = 0xFFFD;
			return i;
		}
		v = (v << 6) | (b & 0x3F);
	}
	*cp = v;
	return i;
}

/* Unicode's White_Space property: Zs, Zl, Zp and the controls U+0009 to
 * U+000D and U+0085. */
static int is_white(int32_t cp)
{
	if (cp < 0x80)
		return cp == ' ' || (cp >= '\t' && cp <= '\r');
	if (cp == 0x85)
		return 1;
	utf8proc_category_t k = utf8proc_category(cp);
	return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL ||
	       k == UTF8PROC_CATEGORY_ZP;
}

int ath_is_word_cp(int32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		       (cp >= '0' && cp <= '9');
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

void ath_norm_init(ath_norm *z, int tokenizer, const char *text, size_t len)
{
	z->s = (const unsigned char *)text;
	z->len = len;
	z->pos = 0;
	z->slow = tokenizer == ATH_TOK_UNICODE_SLOW;
	z->at = z->n = z->carry = 0;
}

static int ccc(int32_t cp)
{
	return utf8proc_get_property(cp)->combining_class;
}

/* Canonical ordering (Unicode section 3.11): a stable sort of each run of
 * non-starters by combining class; runs are short, so insertion sort. */
static void canonical_order(int32_t *b, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int32_t x = b[i];
		int cx = ccc(x);
		if (cx == 0)
			continue;
		size_t j = i;
		while (j > 0) {
			int cy = ccc(b[j - 1]);
			if (cy <= cx) /* includes a starter: cy == 0 */
				break;
			b[j] = b[j - 1];
			j--;
		}
		b[j] = x;
	}
}

/* One chunk; 0 when it was all ignorable (or the text is at its end). */
static int fill_once(ath_norm *z)
{
	/* what the last chunk kept (a starter and its marks, cut off when
	 * the buffer filled) starts this one */
	size_t nd = z->carry;
	if (nd)
		memmove(z->buf, z->buf + z->n, nd * sizeof z->buf[0]);
	z->carry = 0;
	z->at = z->n = 0;
	int full = 0;
	while (z->pos < z->len) {
		const unsigned char *p = z->s + z->pos;
		if (*p < 0x80 && nd > 0 && (!z->slow || nd >= ATH_NORM_CAP / 2))
			break; /* a safe place to cut: before ASCII */
		if (nd >= ATH_NORM_CAP) {
			full = 1;
			break;
		}
		int32_t cp;
		size_t used = utf8_next(p, z->len - z->pos, &cp);
		int boundclass = 0;
		/* at most 18 code points per character (U+FDFA); the
		 * buffer keeps 64 spare */
		utf8proc_ssize_t k = utf8proc_decompose_char(
			cp, z->buf + nd, (utf8proc_ssize_t)(ATH_NORM_CAP + 64 - nd),
			(utf8proc_option_t)NORM_OPTS, &boundclass);
		if (k < 0 || (size_t)k > ATH_NORM_CAP + 64 - nd)
			k = 0; /* cannot happen for a valid code point */
		nd += (size_t)k;
		z->pos += used;
	}
	if (nd == 0)
		return 0;
	/* a full buffer is cut before its last starter, which may still
	 * take marks that follow */
	size_t cut = nd;
	if (full) {
		size_t j = nd;
		while (j > 1 && ccc(z->buf[j - 1]) != 0)
			j--;
		if (j > 1)
			cut = j - 1;
	}
	canonical_order(z->buf, cut);
	utf8proc_ssize_t m = utf8proc_normalize_utf32(
		z->buf, (utf8proc_ssize_t)cut, (utf8proc_option_t)NORM_OPTS);
	if (m < 0)
		m = (utf8proc_ssize_t)cut;
	for (utf8proc_ssize_t i = 0; i < m; i++)
		if (is_white(z->buf[i]))
			z->buf[i] = ' ';
	if (cut < nd) {
		/* keep the tail right after the composed part */
		memmove(z->buf + m, z->buf + cut, (nd - cut) * sizeof z->buf[0]);
		z->carry = nd - cut;
	}
	z->n = (size_t)m;
	return z->n > 0;
}

int ath_norm_fill(ath_norm *z)
{
	while (!fill_once(z))
		if (z->pos >= z->len && !z->carry)
			return 0; /* an all-ignorable chunk reads on */
	return 1;
}

/* ---- trigrams -------------------------------------------------------------- */

typedef struct tok {
	uint64_t seed, buckets;
	size_t max, n;
	uint32_t *ids;
	char *labels;  /* n x lw bytes */
	size_t lw;
	unsigned char win[3][4]; /* the last three characters' bytes */
	unsigned char wl[3];
	size_t have;
} tok;

/* Record a token unless its bucket is already there. */
static void emit(tok *k, const unsigned char *b, size_t len)
{
	uint32_t id = (uint32_t)(hash_bytes(b, len, k->seed) % k->buckets);
	for (size_t i = 0; i < k->n; i++)
		if (k->ids[i] == id)
			return;
	k->ids[k->n] = id;
	if (k->labels) {
		char *l = k->labels + k->n * k->lw;
		memset(l, 0, k->lw);
		memcpy(l, b, len);
	}
	k->n++;
}

/* Append a character (a byte for bytes-v1, a code point's UTF-8 for
 * unicode-v1) of the wrapped, normalised text to the sliding window. */
static void push(tok *k, const unsigned char *c, size_t len)
{
	if (k->have == 3) {
		memcpy(k->win[0], k->win[1], 4);
		memcpy(k->win[1], k->win[2], 4);
		k->wl[0] = k->wl[1];
		k->wl[1] = k->wl[2];
		k->have = 2;
	}
	memcpy(k->win[k->have], c, len);
	k->wl[k->have++] = (unsigned char)len;
	if (k->have == 3 && k->n < k->max) {
		unsigned char b[12];
		size_t n = 0;
		for (int i = 0; i < 3; i++) {
			memcpy(b + n, k->win[i], k->wl[i]);
			n += k->wl[i];
		}
		emit(k, b, n);
	}
}

static void push_byte(tok *k, unsigned char c)
{
	push(k, &c, 1);
}

static void push_cp(tok *k, int32_t cp)
{
	unsigned char b[4];
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		push(k, b, 1);
		return;
	}
	utf8proc_ssize_t n = utf8proc_encode_char(cp, b);
	push(k, b, n > 0 ? (size_t)n : 0);
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* bytes-v1: ASCII lower-casing, any other byte as it is */
static void bytes_v1(tok *k, const char *text, size_t len)
{
	int started = 0, pending_space = 0;
	push_byte(k, '#');
	for (size_t i = 0; i < len && k->n < k->max; i++) {
		unsigned char c = (unsigned char)text[i];
		if (is_space(c)) {
			/* leading spaces dropped, runs folded into one */
			pending_space = started;
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (pending_space)
			push_byte(k, ' ');
		pending_space = 0;
		push_byte(k, c);
		started = 1;
	}
	push_byte(k, '#'); /* a trailing space is dropped */
}

/* unicode-v1: the same over normalised code points */
static void unicode_v1(tok *k, int tokenizer, const char *text, size_t len)
{
	ath_norm z;
	ath_norm_init(&z, tokenizer, text, len);
	int started = 0, pending_space = 0;
	int32_t cp;
	push_byte(k, '#');
	while (k->n < k->max && (cp = ath_norm_next(&z)) >= 0) {
		if (cp == ' ') {
			pending_space = started;
			continue;
		}
		if (pending_space)
			push_byte(k, ' ');
		pending_space = 0;
		push_cp(k, cp);
		started = 1;
	}
	push_byte(k, '#');
}

static size_t trigrams(int tokenizer, const char *text, size_t len,
		       uint64_t seed, uint64_t buckets, size_t max,
		       uint32_t *ids, char *labels, size_t lw)
{
	tok k = {.seed = seed, .buckets = buckets, .max = max, .ids = ids,
		 .labels = labels, .lw = lw};
	if (tokenizer == ATH_TOK_BYTES)
		bytes_v1(&k, text, len);
	else
		unicode_v1(&k, tokenizer, text, len);
	if (k.n == 0) { /* empty text: the one token "##" */
		const unsigned char hh[2] = {'#', '#'};
		emit(&k, hh, 2);
	}
	return k.n;
}

size_t ath_text_trigrams(int tokenizer, const char *text, size_t len,
			 uint64_t seed, uint64_t buckets, size_t max,
			 uint32_t *ids, ath_label *labels)
{
	return trigrams(tokenizer, text, len, seed, buckets, max, ids,
			(char *)labels, ATH_LABEL);
}

size_t ath_trigrams(const char *text, size_t len, uint64_t seed,
		    uint64_t buckets, size_t max, uint32_t *ids,
		    char (*labels)[4])
{
	return trigrams(ATH_TOK_BYTES, text, len, seed, buckets, max, ids,
			(char *)labels, 4);
}
