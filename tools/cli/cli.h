/* The `anthem` command: shared helpers of the subcommands. */
#ifndef ANTHEM_CLI_H
#define ANTHEM_CLI_H

#include <anthem/anthem.h>

#include <stddef.h>

/* Exit codes: 0 ok, 1 a file or the library refused, 2 bad arguments. */
#define EXIT_DATA 1
#define EXIT_USAGE 2

/* One option of a subcommand: --name VALUE, or a flag when value is NULL. */
typedef struct opt {
	const char *name;  /* without the leading "--" */
	const char *arg;   /* "N", "FILE", ... or NULL for a flag */
	const char *help;
	const char **value; /* receives the argument (or "1" for a flag) */
	int repeat;         /* may be given several times (values collected) */
	const char **list;  /* for repeat: up to 16 values */
	size_t *count;
} opt;

typedef struct command {
	const char *name, *summary, *usage;
	int (*run)(int argc, char **argv);
} command;

/* Parse argv[1..] against opts; positional arguments land in pos (up to
 * maxpos).  On --help prints help and returns 1 with *exit_code = 0; on
 * an error prints a usage line and returns 1 with *exit_code = 2. */
int cli_parse(const command *cmd, const opt *opts, int argc, char **argv,
	      const char **pos, size_t maxpos, size_t *npos, int *exit_code);

/* Report a library failure: "anthem CMD: message" on stderr; returns 1. */
int cli_fail(const char *cmd, int rc);

/* A file argument: the option that names it (without "--") and its path
 * (NULL: not given). */
typedef struct cli_file {
	const char *option, *path;
} cli_file;

/* Before any work: every given input must be a regular file (or a link to
 * one); a FIFO, a directory or a device is refused naming the option and
 * the path, without waiting on the FIFO.  Returns 0 or EXIT_DATA. */
int cli_inputs(const char *cmd, const cli_file *in, size_t n);

/* Before any work: an output must not exist as anything but a regular file
 * (a link to one is written through), must not be the same file as an
 * input (device and inode), and a file must be creatable beside it.
 * Returns 0 or EXIT_DATA with a message naming --option and the path. */
int cli_output(const char *cmd, const char *option, const char *path,
	       const cli_file *in, size_t n);

/* Parse a number option; on error prints usage and returns -1. */
int cli_size(const command *cmd, const char *name, const char *s,
	     size_t *out);
/* --prefilter: "off" (ANTHEM_PREFILTER_OFF) or a whole number (0: the
 * default depth) */
int cli_prefilter(const command *cmd, const char *s, size_t *out);
int cli_float(const command *cmd, const char *name, const char *s,
	      float *out);
int cli_geometry(const command *cmd, const char *s, anthem_geometry *out);
/* --tokenizer: unicode-v1 or bytes-v1 (anthem.tokenizer of docs/format.md) */
int cli_tokenizer(const command *cmd, const char *s, anthem_tokenizer *out);
const char *cli_tokenizer_name(anthem_tokenizer t);
const char *cli_geometry_name(anthem_geometry g);

/* Print at most max bytes of s (whole characters) for a terminal: control
 * characters (C0, DEL, C1: ESC starts a terminal's escape sequences) and
 * bytes that are not UTF-8 as \xNN or \uNNNN, a backslash as \\; returns
 * the bytes of s used. */
size_t cli_text(const char *s, size_t max);

/* Print a JSON string literal. */
void cli_json_string(const char *s);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_judgments(int argc, char **argv);

/* anthem train without --judgments: the catalogue's category tree's
 * training side (anthem_judgments_from_categories with the defaults and
 * this seed), with a line on stderr saying how many.  0, or an exit code
 * after a message. */
int cli_category_judgments(const char *cmd, const anthem_catalog *c,
			   uint64_t seed, anthem_judgments **train);

/* Seconds on the monotonic clock (durations, deadlines, progress). */
double cli_now(void);

extern const command cli_commands[];
extern const size_t cli_ncommands;

#endif
