#include "common/isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"default", "x86-64-v3", "x86-64-v4"};

static ath_isa level;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int runs(ath_isa l)
{
#if defined(ATH_HAVE_TARGET_LEVELS)
	__builtin_cpu_init();
	if (l == ATH_ISA_V4)
		return __builtin_cpu_supports("x86-64-v4");
	if (l == ATH_ISA_V3)
		return __builtin_cpu_supports("x86-64-v3");
	return 1;
#else
	/* without the copies only the baseline is built */
	return l == ATH_ISA_DEFAULT;
#endif
}

static void pick(void)
{
	const char *want = getenv("ANTHEM_ISA");
	level = ATH_ISA_DEFAULT;
	for (int l = ATH_ISA_V4; l >= ATH_ISA_DEFAULT; l--)
		if (runs((ath_isa)l)) {
			level = (ath_isa)l;
			break;
		}
	/* a name not known, or a level this CPU does not run: the best */
	for (int l = ATH_ISA_DEFAULT; want && l <= ATH_ISA_V4; l++)
		if (!strcmp(want, names[l]) && runs((ath_isa)l))
			level = (ath_isa)l;
}

ath_isa ath_isa_level(void)
{
	pthread_once(&once, pick);
	return level;
}

const char *ath_isa_name(ath_isa l)
{
	return names[l];
}
