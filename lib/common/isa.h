/* The x86-64 level the library's hot loops run at.
 *
 * The stage-1 scan (lib/search/scan.c) is compiled once per level with
 * target attributes, where the compiler supports them
 * (ATH_HAVE_TARGET_LEVELS, lib/meson.build), and calls the copy this
 * returns: the highest level the CPU runs, or the one the environment
 * variable ANTHEM_ISA names (default, x86-64-v3 or x86-64-v4) when the CPU
 * runs it, so that tests can run every copy on one machine. */
#ifndef ANTHEM_COMMON_ISA_H
#define ANTHEM_COMMON_ISA_H

typedef enum ath_isa {
	ATH_ISA_DEFAULT, /* the baseline x86-64 (SSE2), or not x86-64 */
	ATH_ISA_V3,      /* x86-64-v3: AVX2, FMA */
	ATH_ISA_V4       /* x86-64-v4: AVX-512 */
} ath_isa;

/* Chosen once, thread-safe. */
ath_isa ath_isa_level(void);

/* "default", "x86-64-v3" or "x86-64-v4". */
const char *ath_isa_name(ath_isa level);

#endif
