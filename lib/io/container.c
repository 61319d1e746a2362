/* Container files: atomic writer, validating mmap reader (docs/format.md). */
#include "io/container.h"

#include "common/endian.h"
#include "common/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADER_SIZE 64
#define TRAILER_SIZE 8

/* ---- writing ------------------------------------------------------------------ */

static size_t align_up(size_t x) { return (x + ATH_ALIGN - 1) & ~(size_t)(ATH_ALIGN - 1); }

static size_t kv_size(const ath_kv *kv)
{
	size_t n = 4 + strlen(kv->key) + 4;
	return n + (kv->type == ATH_KV_STR ? 8 + strlen(kv->s) : 8);
}

typedef struct out {
	int fd;
	ath_hasher h;
	const char *path;
	int err; /* errno of the first failure */
} out;

static void put(out *o, const void *p, size_t n)
{
	const unsigned char *b = p;
	ath_hash_feed(&o->h, b, n);
	while (n > 0 && !o->err) {
		ssize_t w = write(o->fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->err = w < 0 ? errno : EIO;
			break;
		}
		b += w;
		n -= (size_t)w;
	}
}

static void put_zeros(out *o, size_t n)
{
	static const unsigned char z[ATH_ALIGN];
	while (n > 0) {
		size_t k = n < sizeof z ? n : sizeof z;
		put(o, z, k);
		n -= k;
	}
}

/* Create PATH.tmp.XXXXXX (6 random characters) exclusively, for writing,
 * and return its descriptor, or -1 with errno set.  Not mkstemp(): that
 * makes the file 0600 whatever the umask, and rename() would hand that
 * mode to the model; a file the user saves should get the permissions any
 * new file of theirs gets (0666 less the umask). */
static int create_temporary(char *tmp, size_t size, const char *path)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static _Atomic uint64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
		     (uint64_t)getpid() << 16;
	for (int attempt = 0; attempt < 100; attempt++) {
		/* splitmix64 of the time, the process and a counter */
		uint64_t z = ath_hash_finish(x + ++counter *
						       ATH_SPLITMIX_GAMMA);
		char name[7];
		for (int i = 0; i < 6; i++, z /= 62)
			name[i] = abc[z % 62];
		name[6] = '\0';
		snprintf(tmp, size, "%s.tmp.%s", path, name);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

const char *ath_file_kind(unsigned mode)
{
	mode_t m = (mode_t)mode;
	return S_ISREG(m) ? "a regular file" : S_ISDIR(m) ? "a directory"
	       : S_ISFIFO(m) ? "a FIFO (named pipe)"
	       : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket"
	       : S_ISLNK(m) ? "a symbolic link" : "not a regular file";
}

int ath_open_regular(const char *path, int *fd, size_t *size, const char *fn)
{
	/* O_NONBLOCK: opening a FIFO that no one writes to would wait for a
	 * writer forever; the type is checked before anything is read */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0)
		return ath_error(errno == ENOENT ? ANTHEM_ENOTFOUND : ANTHEM_EIO,
				 "%s: %s: %s", fn, path, strerror(errno));
	struct stat st;
	int rc = ANTHEM_OK;
	if (fstat(*fd, &st) != 0)
		rc = ath_error(ANTHEM_EIO, "%s: %s: fstat: %s", fn, path,
			       strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = ath_error(ANTHEM_EIO, "%s: %s: is %s, not a regular file",
			       fn, path, ath_file_kind(st.st_mode));
	if (rc) {
		close(*fd);
		*fd = -1;
		return rc;
	}
	int fl = fcntl(*fd, F_GETFL);
	if (fl != -1)
		fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
	*size = (size_t)st.st_size;
	return ANTHEM_OK;
}

/* The file that writing `path` replaces, in *target (malloc'ed): path
 * itself, or for a symbolic link the file it points to, so that the link
 * survives and its target is replaced atomically in the target's own
 * directory.  Refused: an existing target that is not a regular file (a
 * device, a FIFO, a directory: as root, rename() would turn /dev/null
 * into a model file) and a link that leads nowhere (docs/format.md). */
static int write_target(const char *path, char **target, const char *fn)
{
	struct stat st;
	*target = NULL;
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			return ath_error(ANTHEM_EIO, "%s: %s: %s", fn, path,
					 strerror(errno));
		*target = strdup(path); /* a new file */
	} else if (S_ISLNK(st.st_mode)) {
		*target = realpath(path, NULL);
		if (!*target)
			return ath_error(ANTHEM_EIO, "%s: %s: a symbolic link "
					 "that leads nowhere (%s): refused", fn,
					 path, strerror(errno));
		if (stat(*target, &st) != 0 || !S_ISREG(st.st_mode)) {
			int e = errno;
			ath_error(ANTHEM_EIO, "%s: %s: a symbolic link to %s, "
				  "which is %s: refused", fn, path, *target,
				  e ? strerror(e) : ath_file_kind(st.st_mode));
			free(*target);
			*target = NULL;
			return ANTHEM_EIO;
		}
	} else if (!S_ISREG(st.st_mode)) {
		return ath_error(ANTHEM_EIO, "%s: %s: is %s, not a regular file: "
				 "refused (writing would replace it)", fn, path,
				 ath_file_kind(st.st_mode));
	} else {
		*target = strdup(path);
	}
	if (!*target)
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	return ANTHEM_OK;
}

int ath_container_probe(const char *path, const char *fn)
{
	char *target;
	int rc = write_target(path, &target, fn);
	if (rc)
		return rc;
	size_t size = strlen(target) + 16;
	char *tmp = malloc(size);
	int fd = tmp ? create_temporary(tmp, size, target) : -1;
	int e = errno;
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	} else if (tmp) {
		rc = ath_error(ANTHEM_EIO, "%s: %s: cannot create a file beside "
			       "it: %s", fn, path, strerror(e));
	} else {
		rc = ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	}
	free(tmp);
	free(target);
	return rc;
}

/* Flush, close and rename the temporary tmp over target, then make the
 * rename durable; on any failure the temporary is removed and the old
 * file stays.  Frees tmp and target. */
static int commit(out *o, char *tmp, char *target, const char *path,
		  const char *fn)
{
	if (!o->err && fsync(o->fd) != 0)
		o->err = errno;
	if (close(o->fd) != 0 && !o->err)
		o->err = errno;
	if (!o->err && rename(tmp, target) != 0)
		o->err = errno;
	if (o->err) {
		unlink(tmp);
		free(tmp);
		free(target);
		return ath_error(ANTHEM_EIO, "%s: %s: %s (the previous file, if "
				 "any, is unchanged)", fn, path, strerror(o->err));
	}
	/* make the rename itself durable */
	int dfd = open(dirname(target), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	free(target);
	free(tmp);
	return ANTHEM_OK;
}

int ath_container_write(const char *path, const char magic[8],
			const ath_kv *kv, size_t nkv, const ath_tensor *t,
			size_t nt, const char *fn)
{
	return ath_container_write_version(path, magic, 1, kv, nkv, t, nt, fn);
}

int ath_container_write_version(const char *path, const char magic[8],
				uint32_t version, const ath_kv *kv, size_t nkv,
				const ath_tensor *t, size_t nt, const char *fn)
{
	if (!ath_host_is_little_endian())
		return ath_error(ANTHEM_EINVAL,
				 "%s: %s: big-endian hosts are not supported",
				 fn, path);
	size_t meta = 0, table = 0, data = 0;
	for (size_t i = 0; i < nkv; i++)
		meta += kv_size(&kv[i]);
	for (size_t i = 0; i < nt; i++) {
		table += 4 + strlen(t[i].name) + 4 + 24;
		data += align_up(t[i].rows * t[i].cols * sizeof(float));
	}
	size_t kv_off = HEADER_SIZE, table_off = kv_off + meta;
	size_t data_off = align_up(table_off + table);
	size_t file_size = data_off + data + TRAILER_SIZE;

	unsigned char *head = calloc(1, data_off);
	if (!head)
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	memcpy(head, magic, 8);
	ath_wr32(head + 8, version);
	ath_wr32(head + 12, HEADER_SIZE);
	ath_wr64(head + 16, file_size);
	ath_wr64(head + 24, nkv);
	ath_wr64(head + 32, nt);
	ath_wr64(head + 40, kv_off);
	ath_wr64(head + 48, table_off);
	ath_wr64(head + 56, data_off);
	unsigned char *p = head + kv_off;
	for (size_t i = 0; i < nkv; i++) {
		size_t kl = strlen(kv[i].key);
		ath_wr32(p, (uint32_t)kl);
		memcpy(p + 4, kv[i].key, kl);
		p += 4 + kl;
		ath_wr32(p, kv[i].type);
		p += 4;
		if (kv[i].type == ATH_KV_STR) {
			size_t sl = strlen(kv[i].s);
			ath_wr64(p, sl);
			memcpy(p + 8, kv[i].s, sl);
			p += 8 + sl;
		} else {
			uint64_t bits = kv[i].u;
			if (kv[i].type == ATH_KV_F64)
				memcpy(&bits, &kv[i].f, 8);
			ath_wr64(p, bits);
			p += 8;
		}
	}
	size_t rel = 0;
	for (size_t i = 0; i < nt; i++) {
		size_t nl = strlen(t[i].name);
		ath_wr32(p, (uint32_t)nl);
		memcpy(p + 4, t[i].name, nl);
		p += 4 + nl;
		ath_wr32(p, 0); /* dtype 0: float32 */
		ath_wr64(p + 4, t[i].rows);
		ath_wr64(p + 12, t[i].cols);
		ath_wr64(p + 20, rel);
		p += 28;
		rel += align_up(t[i].rows * t[i].cols * sizeof(float));
	}

	/* the temporary lives beside the target so that rename is atomic */
	char *target;
	int rc = write_target(path, &target, fn);
	if (rc) {
		free(head);
		return rc;
	}
	size_t plen = strlen(target);
	char *tmp = malloc(plen + 16);
	if (!tmp) {
		free(head);
		free(target);
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	}
	out o = {.fd = create_temporary(tmp, plen + 16, target), .path = path};
	if (o.fd < 0) {
		int e = errno;
		free(head);
		free(tmp);
		free(target);
		return ath_error(ANTHEM_EIO, "%s: %s: cannot create a temporary "
				 "file beside it: %s", fn, path, strerror(e));
	}
	ath_hash_init(&o.h);
	put(&o, head, data_off);
	for (size_t i = 0; i < nt && !o.err; i++) {
		size_t bytes = t[i].rows * t[i].cols * sizeof(float);
		put(&o, t[i].data, bytes);
		put_zeros(&o, align_up(bytes) - bytes);
	}
	unsigned char trailer[8];
	ath_wr64(trailer, ath_hash_done(&o.h));
	put(&o, trailer, 8);
	free(head);
	return commit(&o, tmp, target, path, fn);
}

int ath_write_atomic(const char *path, const void *bytes, size_t len,
		     const char *fn)
{
	char *target;
	int rc = write_target(path, &target, fn);
	if (rc)
		return rc;
	size_t plen = strlen(target);
	char *tmp = malloc(plen + 16);
	if (!tmp) {
		free(target);
		return ath_error(ANTHEM_ENOMEM, "%s: %s: out of memory", fn, path);
	}
	out o = {.fd = create_temporary(tmp, plen + 16, target), .path = path};
	if (o.fd < 0) {
		int e = errno;
		free(tmp);
		free(target);
		return ath_error(ANTHEM_EIO, "%s: %s: cannot create a temporary "
				 "file beside it: %s", fn, path, strerror(e));
	}
	ath_hash_init(&o.h); /* put() feeds it; unused here */
	put(&o, bytes, len);
	return commit(&o, tmp, target, path, fn);
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct cursor {
	const unsigned char *p, *end;
	const char *what; /* path, for messages */
	const char *fn;
} cursor;

static int need(cursor *c, size_t n, const char *field)
{
	if ((size_t)(c->end - c->p) < n)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: %s runs past its "
				 "section", c->fn, c->what, field);
	return ANTHEM_OK;
}

static int parse_name(cursor *c, const char **name, size_t *len,
		      const char *field)
{
	int rc = need(c, 4, field);
	if (rc)
		return rc;
	uint32_t n = ath_rd32(c->p);
	c->p += 4;
	if (n == 0 || n > ATH_MAX_KEY)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: %s has length %u "
				 "(1 to %d)", c->fn, c->what, field, n,
				 ATH_MAX_KEY);
	if ((rc = need(c, n, field)))
		return rc;
	*name = (const char *)c->p;
	*len = n;
	c->p += n;
	return ANTHEM_OK;
}

static int parse_meta(ath_container *k, const char *what, const char *fn,
		      const unsigned char *kv, const unsigned char *kv_end)
{
	cursor c = {kv, kv_end, what, fn};
	for (size_t i = 0; i < k->nkv; i++) {
		ath_kv *e = &k->kv[i];
		const char *raw;
		size_t kl;
		int rc = parse_name(&c, &raw, &kl, "metadata key");
		if (rc || (rc = need(&c, 12, "metadata value")))
			return rc;
		/* keys are stored without NUL: keep a copy that has one */
		char *key = malloc(kl + 1);
		if (!key)
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		memcpy(key, raw, kl);
		key[kl] = '\0';
		e->key = key;
		e->type = (ath_kv_type)ath_rd32(c.p);
		uint64_t v = ath_rd64(c.p + 4);
		c.p += 12;
		switch (e->type) {
		case ATH_KV_U64: e->u = v; break;
		case ATH_KV_F64: memcpy(&e->f, &v, 8); break;
		case ATH_KV_STR:
			if (v > (uint64_t)(c.end - c.p))
				return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata "
						 "'%s' string runs past its "
						 "section", fn, what, key);
			e->s = (const char *)c.p;
			e->slen = (size_t)v;
			c.p += v;
			break;
		default:
			return ath_error(ANTHEM_EFORMAT, "%s: %s: metadata '%s' "
					 "has unknown type %u", fn, what, key,
					 (unsigned)e->type);
		}
	}
	return ANTHEM_OK;
}

static int parse_tensors(ath_container *k, const char *what, const char *fn,
			 const unsigned char *tab, const unsigned char *tab_end,
			 size_t data_off, size_t data_end)
{
	cursor c = {tab, tab_end, what, fn};
	for (size_t i = 0; i < k->ntensors; i++) {
		ath_tensor *t = &k->tensors[i];
		int rc = parse_name(&c, &t->name, &t->name_len, "tensor name");
		if (rc || (rc = need(&c, 28, "tensor entry")))
			return rc;
		uint32_t dtype = ath_rd32(c.p);
		t->rows = ath_rd64(c.p + 4);
		t->cols = ath_rd64(c.p + 12);
		uint64_t off = ath_rd64(c.p + 20);
		c.p += 28;
		size_t cells, bytes;
		if (dtype != 0)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: tensor %zu has "
					 "unknown type %u", fn, what, i, dtype);
		if (t->rows > SIZE_MAX || t->cols > SIZE_MAX ||
		    ath_mul_overflow((size_t)t->rows, (size_t)t->cols, &cells) ||
		    ath_mul_overflow(cells, sizeof(float), &bytes) ||
		    off % ATH_ALIGN != 0 || off > data_end - data_off ||
		    bytes > data_end - data_off - off)
			return ath_error(ANTHEM_EFORMAT, "%s: %s: tensor %zu "
					 "(%.*s, %llu x %llu at %llu) does not "
					 "fit the data section", fn, what, i,
					 (int)t->name_len, t->name,
					 (unsigned long long)t->rows,
					 (unsigned long long)t->cols,
					 (unsigned long long)off);
		t->data = (const float *)(k->base + data_off + off);
	}
	return ANTHEM_OK;
}

/* Validate the header and parse what follows.  `size` is the size of the
 * bytes at base, which is less than the file for a header-only read. */
static int parse(ath_container *k, const char magic[8], size_t file_size,
		 int header_only, const char *what, const char *fn)
{
	const unsigned char *b = k->base;
	if (file_size < HEADER_SIZE + TRAILER_SIZE)
		return ath_error(ANTHEM_ETRUNCATED, "%s: %s: %zu bytes, too short "
				 "for a header", fn, what, file_size);
	if (memcmp(b, magic, 8) != 0)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: wrong magic (not a "
				 "%.8s file)", fn, what, magic);
	uint32_t version = ath_rd32(b + 8);
	if (version > ATH_FORMAT_VERSION)
		return ath_error(ANTHEM_EVERSION, "%s: %s: format version %u is "
				 "newer than this library's %d; upgrade "
				 "libanthem", fn, what, version,
				 ATH_FORMAT_VERSION);
	if (version == 0 || ath_rd32(b + 12) != HEADER_SIZE)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: header: bad version %u "
				 "or header size %u", fn, what, version,
				 ath_rd32(b + 12));
	uint64_t fsz = ath_rd64(b + 16);
	if (fsz > file_size)
		return ath_error(ANTHEM_ETRUNCATED, "%s: %s: truncated: %zu "
				 "bytes of %llu", fn, what, file_size,
				 (unsigned long long)fsz);
	if (fsz < file_size)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: %zu bytes, but the "
				 "header says %llu", fn, what, file_size,
				 (unsigned long long)fsz);
	uint64_t nkv = ath_rd64(b + 24), nt = ath_rd64(b + 32),
		 kv_off = ath_rd64(b + 40), tab_off = ath_rd64(b + 48),
		 data_off = ath_rd64(b + 56);
	size_t data_end = file_size - TRAILER_SIZE;
	/* sections in order, inside the file, and counts bounded by the bytes
	 * that could hold them, before anything is allocated for them */
	if (kv_off != HEADER_SIZE || tab_off < kv_off || data_off < tab_off ||
	    data_off > data_end || data_off % ATH_ALIGN != 0 ||
	    nkv > (tab_off - kv_off) / 17 || nt > (data_off - tab_off) / 33)
		return ath_error(ANTHEM_EFORMAT, "%s: %s: header: inconsistent "
				 "section offsets or counts", fn, what);
	if (!header_only) {
		uint64_t want = ath_rd64(b + data_end);
		k->checksum = ath_checksum(b, data_end);
		if (want != k->checksum)
			return ath_error(ANTHEM_ECHECKSUM, "%s: %s: checksum "
					 "mismatch (stored %016llx, computed "
					 "%016llx): the file is corrupt", fn,
					 what, (unsigned long long)want,
					 (unsigned long long)k->checksum);
	}
	k->nkv = (size_t)nkv;
	k->ntensors = header_only ? 0 : (size_t)nt;
	k->kv = calloc(k->nkv + 1, sizeof *k->kv);
	k->tensors = calloc(k->ntensors + 1, sizeof *k->tensors);
	if (!k->kv || !k->tensors)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	int rc = parse_meta(k, what, fn, b + kv_off, b + tab_off);
	if (rc || header_only)
		return rc;
	return parse_tensors(k, what, fn, b + tab_off, b + data_off,
			     (size_t)data_off, data_end);
}

int ath_container_open(ath_container *c, const char *path,
		       const char magic[8], int header_only, const char *fn)
{
	memset(c, 0, sizeof *c);
	if (!ath_host_is_little_endian())
		return ath_error(ANTHEM_EINVAL, "%s: %s: big-endian hosts are "
				 "not supported", fn, path);
	int fd;
	size_t size;
	int rc = ath_open_regular(path, &fd, &size, fn);
	if (rc)
		return rc;
	if (size == 0) {
		/* /proc and /sys files say 0 bytes and still hold some: they are
		 * not containers, but "empty" would be a false reason */
		char byte;
		ssize_t got = read(fd, &byte, 1);
		close(fd);
		return got > 0 ? ath_error(ANTHEM_EFORMAT, "%s: %s: its size "
					   "reads 0 but it holds bytes (a "
					   "special file, such as /proc's): not "
					   "a model, index or checkpoint", fn,
					   path)
			       : ath_error(ANTHEM_ETRUNCATED, "%s: %s: empty "
					   "file", fn, path);
	}
	if (header_only) {
		/* read the header, then as far as the tensor table */
		unsigned char head[HEADER_SIZE];
		ssize_t got = pread(fd, head, sizeof head, 0);
		size_t want = HEADER_SIZE;
		if (got == HEADER_SIZE) {
			uint64_t tab = ath_rd64(head + 48);
			want = tab > HEADER_SIZE && tab <= size ? (size_t)tab : HEADER_SIZE;
		}
		c->owned = malloc(want + TRAILER_SIZE);
		if (!c->owned) {
			close(fd);
			return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
		}
		got = got == HEADER_SIZE ? pread(fd, c->owned, want, 0) : got;
		close(fd);
		c->base = c->owned;
		c->size = got > 0 ? (size_t)got : 0;
		if (c->size < want && size >= want) {
			ath_container_close(c);
			return ath_error(ANTHEM_EIO, "%s: %s: read failed", fn, path);
		}
		rc = c->size >= HEADER_SIZE ? parse(c, magic, size, 1, path, fn)
			: ath_error(ANTHEM_ETRUNCATED, "%s: %s: %zu bytes, too "
				    "short for a header", fn, path, size);
	} else {
		void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		int e = errno;
		close(fd);
		if (map == MAP_FAILED)
			return ath_error(ANTHEM_EIO, "%s: %s: mmap: %s", fn, path,
					 strerror(e));
		c->map = map;
		c->base = map;
		c->size = size;
		rc = parse(c, magic, size, 0, path, fn);
	}
	if (rc)
		ath_container_close(c);
	return rc;
}

int ath_container_open_buffer(ath_container *c, const void *buf, size_t len,
			      const char magic[8], const char *fn)
{
	memset(c, 0, sizeof *c);
	if (!buf && len > 0)
		return ath_error(ANTHEM_EINVAL, "%s: buffer is NULL", fn);
	/* a private, aligned copy: the caller's buffer may be unaligned or
	 * freed after the call */
	c->owned = aligned_alloc(ATH_ALIGN, align_up(len ? len : 1));
	if (!c->owned)
		return ath_error(ANTHEM_ENOMEM, "%s: out of memory", fn);
	if (len)
		memcpy(c->owned, buf, len);
	c->base = c->owned;
	c->size = len;
	int rc = parse(c, magic, len, 0, "buffer", fn);
	if (rc)
		ath_container_close(c);
	return rc;
}

void ath_container_close(ath_container *c)
{
	if (c->kv)
		for (size_t i = 0; i < c->nkv; i++)
			free((char *)c->kv[i].key);
	free(c->kv);
	free(c->tensors);
	if (c->map)
		munmap(c->map, c->size);
	free(c->owned);
	memset(c, 0, sizeof *c);
}

const ath_kv *ath_container_kv(const ath_container *c, const char *key)
{
	for (size_t i = 0; i < c->nkv; i++)
		if (c->kv[i].key && strcmp(c->kv[i].key, key) == 0)
			return &c->kv[i];
	return NULL;
}

const ath_tensor *ath_container_tensor(const ath_container *c,
				       const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < c->ntensors; i++)
		if (c->tensors[i].name_len == n &&
		    memcmp(c->tensors[i].name, name, n) == 0)
			return &c->tensors[i];
	return NULL;
}
