/* libanthem: model files (docs/format.md). */
#ifndef ANTHEM_IO_H
#define ANTHEM_IO_H

#include <anthem/common.h>
#include <anthem/model.h>

#include <stdint.h>

ANTHEM_BEGIN_DECLS

/* Load a .anthem model file.  The file is mapped read-only and the weights
 * are used in place (nothing is copied; processes loading the same file
 * share its pages).  Every byte is checked first: ANTHEM_ENOTFOUND,
 * ANTHEM_EIO, ANTHEM_EFORMAT (wrong magic, bad offsets or metadata),
 * ANTHEM_EVERSION (a newer format), ANTHEM_ETRUNCATED, ANTHEM_ECHECKSUM,
 * each with a message naming the file and what is wrong. */
ANTHEM_API int anthem_model_load(anthem_model **out, const char *path);

/* The same from a buffer in memory (copied: the buffer may be freed after
 * the call). */
ANTHEM_API int anthem_model_load_buffer(anthem_model **out, const void *buf,
					size_t len);

/* Write the model to `path` atomically: a temporary file beside it is
 * written, flushed to disk and renamed over `path`, so a crash or a full
 * disk leaves either the old file or the new one, never a broken one. */
ANTHEM_API int anthem_model_save(const anthem_model *m, const char *path);

/* Read only the configuration of a model file (header and metadata; the
 * weights are not read, so the checksum is not verified). */
ANTHEM_API int anthem_model_read_config(const char *path,
					anthem_model_config *cfg);

/* A hash of the configuration and every weight, which identifies the model
 * (an index records the fingerprint of the model that built it): the same
 * for a model, its saved file and every load of it. */
ANTHEM_API uint64_t anthem_model_fingerprint(const anthem_model *m);

/* 1 if the weights are used in place from a mapped file, else 0. */
ANTHEM_API int anthem_model_is_mapped(const anthem_model *m);

ANTHEM_END_DECLS

#endif
