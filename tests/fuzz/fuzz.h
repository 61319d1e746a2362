/* Helpers shared by the libFuzzer targets of libanthem (docs/reliability.md).
 *
 * A target reports a finding by crashing: the sanitizers do it for memory
 * errors, leaks and undefined behaviour, and fz_fail() does it (abort) when
 * the library breaks a documented promise: a status code outside
 * anthem_status, a failure without a message, an output that contradicts
 * the headers.  Only the public API is used (<anthem/anthem.h>). */
#ifndef ANTHEM_FUZZ_H
#define ANTHEM_FUZZ_H

#include <anthem/anthem.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FZ_UNUSED __attribute__((unused))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken promise: say which, then abort so that libFuzzer saves the
 * input as a crash. */
static FZ_UNUSED __attribute__((noreturn, format(printf, 1, 2))) void
fz_fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "\n==FUZZ== invariant violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n==FUZZ== last error: \"%s\"\n", anthem_last_error());
	abort();
}

/* Call before a library call whose status fz_status() checks. */
static FZ_UNUSED void fz_begin(void) { anthem_clear_error(); }

/* Every failure is one of the anthem_status codes, with a message. */
static FZ_UNUSED int fz_status(int rc, const char *fn)
{
	if (rc > 0 || rc < ANTHEM_ECANCELED)
		fz_fail("%s returned %d, not an anthem_status code", fn, rc);
	if (rc != ANTHEM_OK && anthem_last_error()[0] == '\0')
		fz_fail("%s failed with %d (%s) but left no message", fn, rc,
			anthem_strerror(rc));
	return rc;
}

/* ---- temporary files ------------------------------------------------------ */

static char fz_dir[4096];

static void fz_cleanup(void)
{
	static const char *const names[] = {"model.anthem", "index.anthem",
					    "catalog.tsv", "judgments.tsv",
					    "checkpoint.anthem", "ranking.tsv"};
	char p[4200];
	if (!fz_dir[0])
		return;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", fz_dir, names[i]);
		unlink(p);
	}
	rmdir(fz_dir);
}

/* A path in a directory of this process's own, removed at exit.  The
 * library's loaders take paths, so the targets write their bytes there. */
static FZ_UNUSED const char *fz_path(const char *name, char *buf, size_t len)
{
	if (!fz_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fz_dir, sizeof fz_dir, "%s/anthem-fuzz.XXXXXX",
			 tmp && tmp[0] ? tmp : "/tmp");
		if (!mkdtemp(fz_dir)) {
			perror("fuzz harness: mkdtemp");
			exit(2); /* the environment, not a finding */
		}
		atexit(fz_cleanup);
	}
	snprintf(buf, len, "%s/%s", fz_dir, name);
	return buf;
}

static FZ_UNUSED void fz_write(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror("fuzz harness: cannot write a temporary file");
		exit(2);
	}
}

/* ---- container files (docs/format.md) ------------------------------------ */

static uint64_t fz_rd64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void fz_wr64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The checksum as docs/format.md defines it (written from the document, not
 * from lib/io/container.c, so that the two are checked against each other:
 * a real file repaired with it must still load). */
static uint64_t fz_checksum(const unsigned char *p, size_t n)
{
	const uint64_t prime = 0x100000001b3ULL;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8)
		h = (h ^ fz_rd64(p + i)) * prime;
	if (i < n) {
		unsigned char w[8] = {0};
		memcpy(w, p + i, n - i);
		h = (h ^ fz_rd64(w)) * prime;
	}
	return (h ^ (uint64_t)n) * prime;
}

/* Make the header's file size and the trailing checksum agree with the
 * bytes, so that mutations reach the checks behind the checksum (entries,
 * tensors, configuration).  Returns 0 if nothing changed. */
static FZ_UNUSED int fz_repair(unsigned char *p, size_t n)
{
	if (n < 72)
		return 0;
	unsigned char old[16];
	memcpy(old, p + 16, 8);
	memcpy(old + 8, p + n - 8, 8);
	fz_wr64(p + 16, (uint64_t)n);
	fz_wr64(p + n - 8, fz_checksum(p, n - 8));
	return memcmp(old, p + 16, 8) != 0 || memcmp(old + 8, p + n - 8, 8) != 0;
}

static FZ_UNUSED int fz_same_float(float a, float b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

#endif
