/* Test shim (LD_PRELOAD, never installed): a real SIGKILL in the middle of
 * an atomic save.  It wraps write() and pwrite(); when the calling process
 * writes to a file whose path contains KILLWRITE_MATCH (".tmp." by
 * default: the temporary beside the target that lib/io/container.c
 * writes), it counts the distinct such files.  In the KILLWRITE_NTH-th one
 * (1 by default), once KILLWRITE_BYTES bytes (0 by default) have reached
 * it, it writes at most the bytes still allowed and sends itself SIGKILL:
 * no handler, no atexit, no flush runs, as when the kernel's OOM killer or
 * a power cut stops a save.  Without KILLWRITE_BYTES set it does nothing. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);

static char current[4096]; /* the matching file being written, if any */
static unsigned long files; /* matching files seen so far */
static unsigned long long written; /* bytes into the current one */

static unsigned long long env_num(const char *name, unsigned long long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 10) : dflt;
}

/* How many of n bytes may go to fd before the kill; n when fd is not the
 * file to kill in. */
static size_t allowed(int fd, size_t n, int *kill_after)
{
	*kill_after = 0;
	if (!getenv("KILLWRITE_BYTES"))
		return n;
	const char *match = getenv("KILLWRITE_MATCH");
	if (!match || !*match)
		match = ".tmp.";
	char link[64], path[sizeof current];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, path, sizeof path - 1);
	if (len < 0)
		return n;
	path[len] = '\0';
	if (!strstr(path, match))
		return n;
	if (strcmp(path, current) != 0) { /* a new temporary file */
		memcpy(current, path, (size_t)len + 1);
		files++;
		written = 0;
	}
	if (files != env_num("KILLWRITE_NTH", 1))
		return n;
	unsigned long long limit = env_num("KILLWRITE_BYTES", 0);
	if (written + n < limit) {
		written += n;
		return n;
	}
	*kill_after = 1;
	return (size_t)(limit - written);
}

static void die(void)
{
	static const char msg[] = "killwrite: SIGKILL in the middle of a write\n";
	real_write(2, msg, sizeof msg - 1);
	kill(getpid(), SIGKILL);
	_exit(137); /* not reached */
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (!real_write)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	int kill_after;
	size_t k = allowed(fd, n, &kill_after);
	if (!kill_after)
		return real_write(fd, buf, n);
	if (k > 0)
		real_write(fd, buf, k);
	die();
	return -1;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (!real_pwrite)
		real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	if (!real_write)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	int kill_after;
	size_t k = allowed(fd, n, &kill_after);
	if (!kill_after)
		return real_pwrite(fd, buf, n, off);
	if (k > 0)
		real_pwrite(fd, buf, k, off);
	die();
	return -1;
}
