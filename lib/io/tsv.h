/* Catalogue and judgement files (internal view). */
#ifndef ANTHEM_TSV_H
#define ANTHEM_TSV_H

#include "common/strmap.h"
#include "io/container.h"

#include <anthem/data.h>

struct anthem_catalog {
	char *buf; /* the file, split in place */
	size_t len, n, skipped;
	const char **ids, **titles;
	const char **cats;    /* the categories field, or NULL (docs/data.md) */
	size_t ncat;          /* products that have one */
	ath_strmap map;       /* id -> index */
	uint64_t fingerprint; /* checksum of the file's bytes */
};

struct anthem_judgments {
	char *buf;
	size_t len, nq, n, skipped;
	const char **queries;
	size_t *start;    /* nq + 1 offsets into products / grades */
	size_t *products; /* catalogue indexes, ascending within a query */
	int *grades;
	ath_strmap map;   /* query -> index */
	uint64_t fingerprint;
	const anthem_catalog *catalog; /* the one the product ids refer to */
};

/* Judgements parsed (strictly) from buf[0..len), which must be
 * NUL-terminated at buf[len] and is owned by the result (freed on
 * failure too); name stands for a file name in messages.  The
 * fingerprint is the text's checksum, as a file's would be. */
int ath_judgments_from_text(anthem_judgments **out, char *buf, size_t len,
			    const anthem_catalog *cat, const char *name,
			    const char *fn);

int ath_utf8_valid(const unsigned char *s, size_t n);

/* The whole file, NUL-terminated (buf[len] = 0); only a regular file
 * (or a link to one) is read: a directory, a FIFO or a device is refused
 * naming what it is. */
int ath_read_file(const char *path, char **buf, size_t *len, const char *fn);

/* The lines of a file read whole, split in place: a byte order mark
 * skipped, CRLF read as LF. */
typedef struct ath_lines {
	char *p, *end;
	size_t lineno; /* of the line last returned, 1-based */
	int header;    /* still before the first line of data */
} ath_lines;

ath_lines ath_lines_of(char *buf, size_t len);

/* The next line of data, NUL-terminated, or NULL at the end: empty lines
 * and the header comments ("# " lines before the first data line) are
 * skipped.  *len is its length, which strlen() undercuts when it holds a
 * NUL byte. */
char *ath_next_data_line(ath_lines *L, size_t *len);

/* Why a line is not text (a NUL byte, invalid UTF-8), or NULL. */
const char *ath_not_text(const char *s, size_t len);

#endif
