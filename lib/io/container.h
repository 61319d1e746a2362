/* The on-disk container shared by model, checkpoint and index files
 * (docs/format.md): a GGUF-like layout of typed key/value metadata and a
 * table of 64-byte-aligned float32 tensors, little-endian, with a 64-bit
 * checksum trailer; written atomically, read through mmap.  Internal. */
#ifndef ANTHEM_CONTAINER_H
#define ANTHEM_CONTAINER_H

#include "common/hash.h" /* the checksum, which every file ends with */

#include <stddef.h>
#include <stdint.h>

/* The newest format version read.  Version 2 is version 1's layout for a
 * model that a reader must not score without knowing a later key
 * (anthem.product_token): readers before it refuse the file instead of
 * reading its titles otherwise; everything else is still written as 1. */
#define ATH_FORMAT_VERSION 2
#define ATH_ALIGN 64
#define ATH_MAX_KEY 128

typedef enum ath_kv_type {
	ATH_KV_U64 = 1,
	ATH_KV_F64 = 2,
	ATH_KV_STR = 3
} ath_kv_type;

typedef struct ath_kv {
	const char *key;
	ath_kv_type type;
	uint64_t u;
	double f;
	const char *s; /* NUL-terminated in a writer; in a reader it points
			* into the file and has length slen */
	size_t slen;
} ath_kv;

typedef struct ath_tensor {
	const char *name;
	size_t name_len;
	uint64_t rows, cols;
	const float *data; /* reader: into the file (aligned) */
} ath_tensor;

/* ---- writing -------------------------------------------------------------- */

/* Write a container atomically: a temporary file beside `path`, fsync,
 * rename over `path`, fsync of the directory.  On any failure the temporary
 * is removed and `path` is untouched.  magic is 8 bytes.  An existing path
 * must be a regular file, or a symbolic link to one, whose target is then
 * replaced (the link stays). */
int ath_container_write(const char *path, const char magic[8],
			const ath_kv *kv, size_t nkv, const ath_tensor *t,
			size_t nt, const char *fn);
/* The same with the header's format version (1 or 2) given. */
int ath_container_write_version(const char *path, const char magic[8],
				uint32_t version, const ath_kv *kv, size_t nkv,
				const ath_tensor *t, size_t nt, const char *fn);

/* The same for plain bytes (a text file): temporary, fsync, rename. */
int ath_write_atomic(const char *path, const void *bytes, size_t len,
		     const char *fn);

/* Check before long work that `path` can be written: what
 * ath_container_write refuses (an existing non-regular file, a link that
 * leads nowhere) is refused, and a temporary file is created beside the
 * target and removed. */
int ath_container_probe(const char *path, const char *fn);

/* ---- reading -------------------------------------------------------------- */

/* "a directory", "a FIFO (named pipe)", ... for a st_mode. */
const char *ath_file_kind(unsigned mode);

/* Open path read-only, refusing anything but a regular file (a FIFO is
 * refused without waiting for a writer); *size from fstat. */
int ath_open_regular(const char *path, int *fd, size_t *size, const char *fn);

typedef struct ath_container {
	const unsigned char *base; /* the whole file */
	size_t size;
	void *map;   /* mmap'ed region to unmap, or NULL */
	void *owned; /* malloc'ed copy to free, or NULL */
	uint64_t checksum;
	size_t nkv, ntensors;
	ath_kv *kv;
	ath_tensor *tensors;
} ath_container;

/* Open and fully validate (bounds, alignment, checksum) a file through
 * mmap, or a caller's buffer (copied).  `what` names the source in errors
 * (the path).  With header_only, only the header and metadata are read and
 * checked (no checksum, no tensors). */
int ath_container_open(ath_container *c, const char *path,
		       const char magic[8], int header_only, const char *fn);
int ath_container_open_buffer(ath_container *c, const void *buf, size_t len,
			      const char magic[8], const char *fn);
void ath_container_close(ath_container *c);

const ath_kv *ath_container_kv(const ath_container *c, const char *key);
const ath_tensor *ath_container_tensor(const ath_container *c,
				       const char *name);

#endif
