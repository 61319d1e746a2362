/* A structure-aware libFuzzer mutator for the container files of
 * docs/format.md, shared by the model, index and checkpoint targets
 * (docs/reliability.md, "Fuzzing").
 *
 * Byte mutations of a container mostly break its framing (offsets, counts,
 * the checksum), so the loaders' checks behind the framing (which keys,
 * which types, which tensor shapes a version allows) meet few inputs.  This
 * mutator parses the input as docs/format.md lays it out, changes it at the
 * level of entries (drops, duplicates, adds, renames and retypes metadata
 * keys and tensors, changes values to edge cases, reshapes tensors, pokes
 * non-finite or out-of-ball floats into them, rewrites an index in the
 * version-1 layout), writes a well-formed file
 * (offsets, alignment, size and checksum repaired) and so hands the loaders
 * files that are well formed but wrong.  An input that does not parse, one
 * step in four, and any result that would exceed max_size go through
 * libFuzzer's own byte mutations (LLVMFuzzerMutate).
 *
 * Written from docs/format.md, not from lib/io/container.c, so that a
 * disagreement between the two shows up as a finding ("a repaired file
 * fails its checksum").  Include after fuzz.h, in one target only. */
#ifndef ANTHEM_FUZZ_MUTATOR_H
#define ANTHEM_FUZZ_MUTATOR_H

#include "fuzz.h"

#include <math.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed);

#define MU_MAX_ENTRIES 512
#define MU_MAX_NAME 128

typedef struct mu_kv {
	char key[MU_MAX_NAME + 1];
	uint32_t klen, type;
	uint64_t u;      /* u64 value, or f64 bits */
	unsigned char *s; /* string bytes (owned) */
	uint64_t slen;
} mu_kv;

typedef struct mu_tensor {
	char name[MU_MAX_NAME + 1];
	uint32_t nlen, etype;
	uint64_t rows, cols;
	unsigned char *data; /* rows * cols * 4 bytes (owned) */
} mu_tensor;

typedef struct mu_file {
	unsigned char magic[8];
	uint32_t version;
	size_t nkv, nt;
	mu_kv kv[MU_MAX_ENTRIES];
	mu_tensor t[MU_MAX_ENTRIES];
} mu_file;

static uint32_t mu_rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void mu_wr32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t mu_rng(uint64_t *s)
{
	/* xorshift64*: the mutation is a function of libFuzzer's seed */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static size_t mu_pick(uint64_t *s, size_t n)
{
	return n ? (size_t)(mu_rng(s) % n) : 0;
}

static void mu_free(mu_file *f)
{
	for (size_t i = 0; i < f->nkv; i++)
		free(f->kv[i].s);
	for (size_t i = 0; i < f->nt; i++)
		free(f->t[i].data);
	f->nkv = f->nt = 0;
}

/* Parse a whole container (checksum not checked: the targets repair it
 * anyway); 0 on success. */
static int mu_parse(mu_file *f, const unsigned char *p, size_t n)
{
	f->nkv = f->nt = 0;
	if (n < 72)
		return -1;
	memcpy(f->magic, p, 8);
	f->version = mu_rd32(p + 8);
	uint64_t nkv = fz_rd64(p + 24), nt = fz_rd64(p + 32);
	uint64_t kvoff = fz_rd64(p + 40), toff = fz_rd64(p + 48),
		 doff = fz_rd64(p + 56);
	if (nkv > MU_MAX_ENTRIES || nt > MU_MAX_ENTRIES || kvoff > n ||
	    toff > n || doff > n - 8)
		return -1;
	size_t at = (size_t)kvoff;
	for (uint64_t i = 0; i < nkv; i++) {
		mu_kv *kv = &f->kv[f->nkv];
		if (at + 4 > n)
			return -1;
		kv->klen = mu_rd32(p + at);
		if (kv->klen < 1 || kv->klen > MU_MAX_NAME || at + 8 + kv->klen > n)
			return -1;
		memcpy(kv->key, p + at + 4, kv->klen);
		kv->key[kv->klen] = '\0';
		at += 4 + kv->klen;
		kv->type = mu_rd32(p + at);
		at += 4;
		kv->s = NULL;
		kv->slen = 0;
		if (at + 8 > n)
			return -1;
		kv->u = fz_rd64(p + at);
		at += 8;
		if (kv->type == 3) {
			kv->slen = kv->u;
			if (kv->slen > n - at)
				return -1;
			kv->s = malloc(kv->slen ? kv->slen : 1);
			if (!kv->s)
				return -1;
			memcpy(kv->s, p + at, kv->slen);
			at += kv->slen;
		}
		f->nkv++;
	}
	at = (size_t)toff;
	for (uint64_t i = 0; i < nt; i++) {
		mu_tensor *t = &f->t[f->nt];
		if (at + 4 > n)
			return -1;
		t->nlen = mu_rd32(p + at);
		if (t->nlen < 1 || t->nlen > MU_MAX_NAME || at + 32 + t->nlen > n)
			return -1;
		memcpy(t->name, p + at + 4, t->nlen);
		t->name[t->nlen] = '\0';
		at += 4 + t->nlen;
		t->etype = mu_rd32(p + at);
		t->rows = fz_rd64(p + at + 4);
		t->cols = fz_rd64(p + at + 12);
		uint64_t off = fz_rd64(p + at + 20);
		at += 28;
		if (t->cols && t->rows > (n / 4) / t->cols)
			return -1;
		uint64_t bytes = t->rows * t->cols * 4;
		if (off > n || bytes > n - 8 - doff || doff + off > n - 8 - bytes)
			return -1;
		t->data = malloc(bytes ? bytes : 1);
		if (!t->data)
			return -1;
		memcpy(t->data, p + doff + off, bytes);
		f->nt++;
	}
	return 0;
}

/* Write f as docs/format.md lays it out, size and checksum included;
 * returns the size, or 0 if it would not fit in max. */
static size_t mu_write(const mu_file *f, unsigned char *out, size_t max)
{
	size_t meta = 64;
	for (size_t i = 0; i < f->nkv; i++)
		meta += 4 + f->kv[i].klen + 4 + 8 +
			(f->kv[i].type == 3 ? f->kv[i].slen : 0);
	size_t tab = meta;
	for (size_t i = 0; i < f->nt; i++)
		meta += 4 + f->t[i].nlen + 4 + 8 + 8 + 8;
	size_t data = (meta + 63) / 64 * 64, size = data;
	for (size_t i = 0; i < f->nt; i++) {
		size_t bytes = (size_t)(f->t[i].rows * f->t[i].cols * 4);
		size += (bytes + 63) / 64 * 64;
	}
	size += 8;
	if (size > max)
		return 0;
	memset(out, 0, size);
	memcpy(out, f->magic, 8);
	mu_wr32(out + 8, f->version);
	mu_wr32(out + 12, 64);
	fz_wr64(out + 16, size);
	fz_wr64(out + 24, f->nkv);
	fz_wr64(out + 32, f->nt);
	fz_wr64(out + 40, 64);
	fz_wr64(out + 48, tab);
	fz_wr64(out + 56, data);
	size_t at = 64;
	for (size_t i = 0; i < f->nkv; i++) {
		const mu_kv *kv = &f->kv[i];
		mu_wr32(out + at, kv->klen);
		memcpy(out + at + 4, kv->key, kv->klen);
		at += 4 + kv->klen;
		mu_wr32(out + at, kv->type);
		fz_wr64(out + at + 4, kv->type == 3 ? kv->slen : kv->u);
		at += 12;
		if (kv->type == 3) {
			memcpy(out + at, kv->s, kv->slen);
			at += kv->slen;
		}
	}
	size_t off = 0;
	for (size_t i = 0; i < f->nt; i++) {
		const mu_tensor *t = &f->t[i];
		size_t bytes = (size_t)(t->rows * t->cols * 4);
		mu_wr32(out + at, t->nlen);
		memcpy(out + at + 4, t->name, t->nlen);
		at += 4 + t->nlen;
		mu_wr32(out + at, t->etype);
		fz_wr64(out + at + 4, t->rows);
		fz_wr64(out + at + 12, t->cols);
		fz_wr64(out + at + 20, off);
		at += 28;
		memcpy(out + data + off, t->data, bytes);
		off += (bytes + 63) / 64 * 64;
	}
	fz_wr64(out + size - 8, fz_checksum(out, size - 8));
	return size;
}

/* Keys and tensor names the loaders look for (docs/format.md). */
static const char *const mu_keys[] = {
	"index.count", "index.dim", "index.model_fingerprint", "index.ids",
	"index.titles", "index.version", "index.block", "index.curvature",
	"anthem.geometry", "anthem.dim", "anthem.curvature", "anthem.buckets",
	"anthem.gamma", "anthem.seed", "anthem.hash_seed",
	"anthem.max_query_trigrams", "anthem.max_title_trigrams",
	"anthem.tie_embeddings", "anthem.lexical_buckets",
	"anthem.data_fingerprint", "anthem.library_version", "train.epoch",
	"train.step", "train.bad_epochs", "train.stopped", "train.best_valid",
	"train.seed", "train.data_fingerprint",
};
static const char *const mu_prefixes[] = {"", "best.", "adam.m.", "adam.v."};

static uint64_t mu_edge_u64(uint64_t *s, uint64_t old)
{
	static const uint64_t v[] = {0, 1, 2, 3, 4, 15, 16, 17, 255, 256,
				     4096, 4097, 65536, (uint64_t)1 << 31,
				     (uint64_t)1 << 32, ((uint64_t)1 << 32) - 1,
				     (uint64_t)1 << 62, UINT64_MAX,
				     UINT64_MAX - 1};
	switch (mu_pick(s, 4)) {
	case 0: return old + 1;
	case 1: return old - 1;
	case 2: return old * 2;
	default: return v[mu_pick(s, sizeof v / sizeof v[0])];
	}
}

static uint64_t mu_edge_f64(uint64_t *s)
{
	static const double v[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e300,
				   1e30, 4294967296.0, 1e-45};
	double d;
	switch (mu_pick(s, 4)) {
	case 0: d = NAN; break;
	case 1: d = INFINITY; break;
	case 2: d = -INFINITY; break;
	default: d = v[mu_pick(s, sizeof v / sizeof v[0])];
	}
	uint64_t u;
	memcpy(&u, &d, sizeof u);
	return u;
}

static void mu_set_name(char *dst, uint32_t *len, const char *a, const char *b)
{
	int n = snprintf(dst, MU_MAX_NAME + 1, "%s%s", a, b);
	*len = (uint32_t)(n < 1 ? 1 : n > MU_MAX_NAME ? MU_MAX_NAME : n);
	if (n < 1)
		dst[0] = 'x';
}

/* Resize a tensor's data to rows x cols, keeping what fits. */
static int mu_reshape(mu_tensor *t, uint64_t rows, uint64_t cols)
{
	if (cols && rows > ((uint64_t)1 << 22) / cols)
		return -1; /* keep files small */
	size_t bytes = (size_t)(rows * cols * 4),
	       old = (size_t)(t->rows * t->cols * 4);
	unsigned char *d = calloc(bytes ? bytes : 1, 1);
	if (!d)
		return -1;
	memcpy(d, t->data, bytes < old ? bytes : old);
	free(t->data);
	t->data = d;
	t->rows = rows;
	t->cols = cols;
	return 0;
}

static mu_kv *mu_find_kv(mu_file *f, const char *key)
{
	for (size_t i = 0; i < f->nkv; i++)
		if (strcmp(f->kv[i].key, key) == 0)
			return &f->kv[i];
	return NULL;
}

static mu_tensor *mu_find_tensor(mu_file *f, const char *name)
{
	for (size_t i = 0; i < f->nt; i++)
		if (strcmp(f->t[i].name, name) == 0)
			return &f->t[i];
	return NULL;
}

static void mu_drop_kv(mu_file *f, const char *key)
{
	mu_kv *kv = mu_find_kv(f, key);
	if (kv) {
		free(kv->s);
		*kv = f->kv[--f->nkv];
	}
}

/* The points of an index (version 2: "blocks" of 16 products, dimension
 * by dimension; docs/format.md) as row-major count x dim floats, or NULL
 * (malloc'ed). */
static float *mu_index_points(mu_file *f, uint64_t *count, uint64_t *dim)
{
	mu_kv *n = mu_find_kv(f, "index.count"), *d = mu_find_kv(f, "index.dim");
	mu_tensor *b = mu_find_tensor(f, "blocks");
	if (!n || !d || !b || n->type != 1 || d->type != 1 || d->u == 0 ||
	    d->u > 4096 || n->u > ((uint64_t)1 << 20) / d->u ||
	    b->rows != (n->u + 15) / 16 || b->cols != d->u * 16)
		return NULL;
	float *p = malloc(n->u * d->u * sizeof *p + 1);
	if (!p)
		return NULL;
	for (uint64_t i = 0; i < n->u; i++)
		for (uint64_t k = 0; k < d->u; k++)
			memcpy(&p[i * d->u + k],
			       b->data + ((i / 16) * d->u * 16 + k * 16 + i % 16) * 4, 4);
	*count = n->u;
	*dim = d->u;
	return p;
}

/* An index file rewritten in the version-1 layout (docs/format.md): a
 * row-major "points" tensor, no "index.version" nor "index.block"; the
 * "blocks" tensor kept as a stray one half the time (issue 13, defect 1:
 * a version-1 reader must not use it). */
static void mu_index_v1(mu_file *f, uint64_t *s)
{
	uint64_t n, d;
	float *p = mu_index_points(f, &n, &d);
	if (!p || mu_find_tensor(f, "points") || f->nt >= MU_MAX_ENTRIES) {
		free(p);
		return;
	}
	mu_tensor *t = &f->t[f->nt++];
	memset(t, 0, sizeof *t);
	mu_set_name(t->name, &t->nlen, "points", "");
	t->rows = n;
	t->cols = d;
	t->data = (unsigned char *)p;
	mu_drop_kv(f, "index.version");
	if (mu_pick(s, 2))
		mu_drop_kv(f, "index.block");
	mu_tensor *b = mu_find_tensor(f, "blocks");
	if (b && mu_pick(s, 2)) {
		free(b->data);
		*b = f->t[--f->nt];
	} else if (b && mu_pick(s, 2)) {
		mu_reshape(b, 1, 16); /* the review's stray tensor */
	}
}

static void mu_one(mu_file *f, uint64_t *s)
{
	mu_kv *kv = f->nkv ? &f->kv[mu_pick(s, f->nkv)] : NULL;
	mu_tensor *t = f->nt ? &f->t[mu_pick(s, f->nt)] : NULL;
	switch (mu_pick(s, 14)) {
	case 0: /* drop a key */
		if (kv) {
			free(kv->s);
			*kv = f->kv[--f->nkv];
		}
		break;
	case 1: /* the same key twice */
		if (kv && f->nkv < MU_MAX_ENTRIES) {
			mu_kv *d = &f->kv[f->nkv++];
			*d = *kv;
			d->s = NULL;
			if (kv->type == 3 && (d->s = malloc(kv->slen ? kv->slen : 1)))
				memcpy(d->s, kv->s, kv->slen);
			else if (kv->type == 3)
				f->nkv--;
		}
		break;
	case 2: /* retype a key (unknown types too) */
		if (kv) {
			static const uint32_t types[] = {1, 2, 3, 0, 4};
			uint32_t ty = types[mu_pick(s, 5)];
			if (ty == 3 && kv->type != 3) {
				char buf[32];
				int n = snprintf(buf, sizeof buf, "%llu",
						 (unsigned long long)kv->u);
				kv->s = malloc((size_t)n);
				if (!kv->s)
					break;
				memcpy(kv->s, buf, (size_t)n);
				kv->slen = (uint64_t)n;
			} else if (ty != 3 && kv->type == 3) {
				free(kv->s);
				kv->s = NULL;
				kv->slen = 0;
				kv->u = mu_edge_u64(s, 1);
			}
			kv->type = ty;
		}
		break;
	case 3: /* an edge value */
		if (kv && kv->type == 1)
			kv->u = mu_edge_u64(s, kv->u);
		else if (kv && kv->type == 2)
			kv->u = mu_edge_f64(s);
		else if (kv && kv->type == 3 && kv->slen) {
			/* cut a string, or put a NUL or a newline in it */
			size_t at = mu_pick(s, kv->slen);
			switch (mu_pick(s, 3)) {
			case 0: kv->slen = at; break;
			case 1: kv->s[at] = '\0'; break;
			default: kv->s[at] = '\n'; break;
			}
		}
		break;
	case 4: /* a key a loader knows, of any type */
		if (f->nkv < MU_MAX_ENTRIES) {
			mu_kv *d = &f->kv[f->nkv++];
			memset(d, 0, sizeof *d);
			mu_set_name(d->key, &d->klen,
				    mu_keys[mu_pick(s, sizeof mu_keys / sizeof mu_keys[0])],
				    "");
			d->type = 1 + (uint32_t)mu_pick(s, 2);
			d->u = d->type == 1 ? mu_edge_u64(s, 0) : mu_edge_f64(s);
		}
		break;
	case 5: /* rename a key: one byte changed */
		if (kv)
			kv->key[mu_pick(s, kv->klen)] ^= (char)(1 + mu_pick(s, 127));
		break;
	case 6: /* drop a tensor */
		if (t) {
			free(t->data);
			*t = f->t[--f->nt];
		}
		break;
	case 7: /* a copy of a tensor, under its name or a related one */
		if (t && f->nt < MU_MAX_ENTRIES) {
			mu_tensor *d = &f->t[f->nt];
			size_t bytes = (size_t)(t->rows * t->cols * 4);
			*d = *t;
			if (!(d->data = malloc(bytes ? bytes : 1)))
				break;
			memcpy(d->data, t->data, bytes);
			f->nt++;
			static const char *const names[] = {"points", "blocks"};
			switch (mu_pick(s, 3)) {
			case 0: break; /* the same name twice */
			case 1:
				mu_set_name(d->name, &d->nlen,
					    mu_prefixes[mu_pick(s, 4)], t->name);
				break;
			default:
				mu_set_name(d->name, &d->nlen, names[mu_pick(s, 2)], "");
			}
		}
		break;
	case 8: /* reshape: transpose, one row or column more or less, none */
		if (t) {
			uint64_t r = t->rows, c = t->cols;
			switch (mu_pick(s, 6)) {
			case 0: r = t->cols; c = t->rows; break;
			case 1: r++; break;
			case 2: r = r ? r - 1 : 0; break;
			case 3: c++; break;
			case 4: c = c ? c - 1 : 0; break;
			default: r = 0; break;
			}
			mu_reshape(t, r, c);
		}
		break;
	case 9: /* another element type */
		if (t)
			t->etype = (uint32_t)mu_pick(s, 3);
		break;
	case 10: /* rename a tensor */
		if (t) {
			static const char *const names[] = {"points", "blocks"};
			if (mu_pick(s, 2))
				t->name[mu_pick(s, t->nlen)] ^= (char)(1 + mu_pick(s, 127));
			else
				mu_set_name(t->name, &t->nlen, names[mu_pick(s, 2)], "");
		}
		break;
	case 11: /* a non-finite, huge or out-of-ball float */
	case 12:
		if (t && t->rows * t->cols) {
			static const float v[] = {1.5f, -1.0f, 0.99999f, 1e30f,
						  1e4f, 10001.0f, -0.0f, 1e-45f};
			float x = mu_pick(s, 4) == 0 ? NAN
				: mu_pick(s, 3) == 0 ? INFINITY
				: v[mu_pick(s, sizeof v / sizeof v[0])];
			size_t at = mu_pick(s, (size_t)(t->rows * t->cols));
			memcpy(t->data + at * 4, &x, 4);
		}
		break;
	case 13: /* another layout of the same data */
		if (memcmp(f->magic, "ANTHEMIX", 8) == 0)
			mu_index_v1(f, s);
		break;
	}
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed)
{
	uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1;
	static mu_file f; /* large: not on the stack */
	if (mu_pick(&s, 4) == 0 || mu_parse(&f, data, size) != 0) {
		mu_free(&f);
		return LLVMFuzzerMutate(data, size, max_size);
	}
	size_t steps = 1 + mu_pick(&s, 3);
	for (size_t i = 0; i < steps; i++)
		mu_one(&f, &s);
	size_t n = mu_write(&f, data, max_size);
	mu_free(&f);
	return n ? n : LLVMFuzzerMutate(data, size, max_size);
}

#endif
