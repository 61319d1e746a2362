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

int ath_utf8_valid(const unsigned char *s, size_t n);

/* The whole file, NUL-terminated (buf[len] = 0). */
int ath_read_file(const char *path, char **buf, size_t *len, const char *fn);

#endif
