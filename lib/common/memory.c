/* Large zeroed blocks on transparent huge pages. */
#include "common/internal.h"

#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((size_t)2 << 20)

void *ath_calloc_large(size_t n, size_t size)
{
	size_t bytes;
	if (ath_mul_overflow(n, size, &bytes))
		return NULL;
	if (bytes < HUGE_PAGE)
		return calloc(n ? n : 1, size ? size : 1);
	/* whole 2 MiB pages, so that the kernel can back every one of them
	 * with a huge page when asked (THP "madvise" mode, Debian's default) */
	size_t round = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, round))
		return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	madvise(p, round, MADV_HUGEPAGE); /* a hint: its failure is harmless */
#endif
	memset(p, 0, bytes);
	return p;
}
