/* anthem: train, evaluate and inspect libanthem models from the shell. */
#include "cli.h"
#include "cli_json.h"
#include "serve.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const command cli_commands[] = {
	{"train", "learn a model from a catalogue and judgements (under "
	 "mpirun -np N: N processes share each batch, docs/distributed.md)",
	 "anthem train --catalog FILE --judgments FILE --out MODEL [options]",
	 cmd_train},
	{"eval", "measure NDCG@3/5/10, MAP and MRR on judgements",
	 "anthem eval (--model MODEL | --ranking FILE) --catalog FILE "
	 "--judgments FILE [--json]",
	 cmd_eval},
	{"info", "show a model's or an index's configuration",
	 "anthem info (--model MODEL | --index INDEX | FILE) [--json]", cmd_info},
	{"index", "embed a catalogue's products into an index file",
	 "anthem index --model MODEL --catalog FILE --out INDEX", cmd_index},
	{"search", "answer queries through the query pipeline (one, or one a line from stdin)",
	 "anthem search --model MODEL --index INDEX [--k 10] [--k1 200] "
	 "[--threads T] [--and Q]... [--or Q]... [--filter FILE] [--json] "
	 "[QUERY | < QUERIES]",
	 cmd_search},
	{"explain", "show which title trigrams each query trigram attends to",
	 "anthem explain --model MODEL --query Q --title T [--svg FILE] [--json]",
	 cmd_explain},
	{"serve", "answer searches over HTTP/JSON (docs/serve.md)",
	 "anthem serve --model MODEL --index INDEX [--listen 127.0.0.1:8080] "
	 "[--threads T] [options]",
	 cmd_serve},
	{"judgments", "write judgements from a click log or a category tree",
	 "anthem judgments (--clicks LOG | --catalog FILE) --out FILE [options]",
	 cmd_judgments},
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

static void usage_all(FILE *f)
{
	fprintf(f, "usage: anthem COMMAND [options]   (anthem COMMAND --help)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(f, "  %-9s %s\n", cli_commands[i].name,
			cli_commands[i].summary);
	fprintf(f, "\nlibanthem %s\n", anthem_version_string());
}

/* Short forms of the options that take them, in every command that has
 * the long one: -k 3 as --k 3. */
static const struct {
	const char *name;
	char letter;
} shorts[] = {
	{"model", 'm'}, {"index", 'i'}, {"catalog", 'c'}, {"judgments", 'j'},
	{"out", 'o'},   {"k", 'k'},     {"threads", 't'},
};

static char short_of(const char *name)
{
	for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
		if (!strcmp(shorts[i].name, name))
			return shorts[i].letter;
	return 0;
}

static void help(const command *cmd, const opt *opts)
{
	printf("usage: %s\n\n%s.\n\noptions:\n", cmd->usage, cmd->summary);
	for (const opt *o = opts; o->name; o++) {
		char left[64], letter = short_of(o->name);
		snprintf(left, sizeof left, "%c%c%s--%s%s%s", letter ? '-' : ' ',
			 letter ? letter : ' ', letter ? ", " : "  ", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-28s %s\n", left, o->help);
	}
	printf("  %-28s %s\n", "-h, --help", "show this help");
	printf("\n`--` ends the options: what follows is an argument even if it "
	       "starts with '-'.\n");
}

#define MAX_OPTS 48
#define HELP_VAL 1000

static int usage_error(const command *cmd, int *exit_code)
{
	fprintf(stderr, "usage: %s\n(anthem %s --help lists the options)\n",
		cmd->usage, cmd->name);
	*exit_code = EXIT_USAGE;
	return 1;
}

/* getopt_long (glibc): --name VALUE, --name=VALUE, -x VALUE for the
 * letters above, arguments anywhere among the options, `--` ends them.
 * An option that takes a value takes the next word whatever it is, so
 * `--k -1` reaches cli_size, which refuses it by name. */
int cli_parse(const command *cmd, const opt *opts, int argc, char **argv,
	      const char **pos, size_t maxpos, size_t *npos, int *exit_code)
{
	struct option lo[MAX_OPTS + 2];
	char optstring[2 * MAX_OPTS + 4] = ":h";
	size_t n = 0, ns = strlen(optstring);
	for (const opt *o = opts; o->name && n < MAX_OPTS; o++, n++) {
		lo[n] = (struct option){o->name, o->arg ? required_argument
						      : no_argument, NULL,
					256 + (int)n};
		char letter = short_of(o->name);
		if (letter) {
			optstring[ns++] = letter;
			if (o->arg)
				optstring[ns++] = ':';
		}
	}
	optstring[ns] = '\0';
	lo[n++] = (struct option){"help", no_argument, NULL, HELP_VAL};
	lo[n] = (struct option){NULL, 0, NULL, 0};
	*npos = 0;
	opterr = 0; /* the messages below name the command */
	optind = 0; /* 0: glibc re-initialises its state */
	int c, idx;
	while ((c = getopt_long(argc, argv, optstring, lo, &idx)) != -1) {
		const opt *o = NULL;
		if (c == 'h' || c == HELP_VAL) {
			help(cmd, opts);
			*exit_code = 0;
			return 1;
		}
		if (c == '?' || c == ':') {
			const opt *bad = optopt >= 256 && optopt < 256 + MAX_OPTS
						 ? &opts[optopt - 256] : NULL;
			for (size_t i = 0; !bad && optopt > 0 && opts[i].name; i++)
				if (short_of(opts[i].name) == optopt)
					bad = &opts[i];
			const char *word = argv[optind - 1];
			if (c == ':' && bad)
				fprintf(stderr, "anthem %s: --%s needs a value (%s)\n",
					cmd->name, bad->name, bad->arg);
			else if (bad && !bad->arg)
				fprintf(stderr, "anthem %s: --%s takes no value\n",
					cmd->name, bad->name);
			else if (optopt && !bad)
				fprintf(stderr, "anthem %s: unknown option '-%c'\n",
					cmd->name, optopt);
			else
				fprintf(stderr, "anthem %s: unknown or ambiguous "
					"option '%s'\n", cmd->name, word);
			return usage_error(cmd, exit_code);
		}
		if (c >= 256)
			o = &opts[c - 256];
		for (size_t i = 0; !o && opts[i].name; i++)
			if (short_of(opts[i].name) == c)
				o = &opts[i];
		if (!o) /* cannot happen: getopt returns what it was given */
			return usage_error(cmd, exit_code);
		const char *val = o->arg ? optarg : "1";
		if (o->repeat) {
			if (*o->count >= 16) {
				fprintf(stderr, "anthem %s: --%s given more than 16 "
					"times\n", cmd->name, o->name);
				*exit_code = EXIT_USAGE;
				return 1;
			}
			o->list[(*o->count)++] = val;
		} else {
			*o->value = val;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (*npos >= maxpos) {
			fprintf(stderr, "anthem %s: unexpected argument '%s'\n",
				cmd->name, argv[i]);
			return usage_error(cmd, exit_code);
		}
		pos[(*npos)++] = argv[i];
	}
	return 0;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_fail(const char *cmd, int rc)
{
	const char *msg = anthem_last_error();
	fprintf(stderr, "anthem %s: %s\n", cmd, msg[0] ? msg : anthem_strerror(rc));
	return EXIT_DATA;
}

static const char *kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO (named pipe)"
	       : S_ISCHR(m) ? "a character device"
	       : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket"
				     : "not a regular file";
}

int cli_inputs(const char *cmd, const cli_file *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!in[i].path)
			continue;
		/* O_NONBLOCK: a FIFO nobody writes to must not hang the open */
		int fd = open(in[i].path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
						  O_CLOEXEC);
		struct stat st;
		if (fd < 0) {
			fprintf(stderr, "anthem %s: %s: %s (--%s)\n", cmd,
				in[i].path, strerror(errno), in[i].option);
			return EXIT_DATA;
		}
		int bad = fstat(fd, &st) != 0 || !S_ISREG(st.st_mode);
		close(fd);
		if (bad) {
			fprintf(stderr, "anthem %s: --%s %s: is %s, not a regular "
				"file\n", cmd, in[i].option, in[i].path,
				kind(st.st_mode));
			return EXIT_DATA;
		}
	}
	return 0;
}

int cli_output(const char *cmd, const char *option, const char *path,
	       const cli_file *in, size_t n)
{
	struct stat st, ist;
	char *target = NULL;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			/* the library writes through a link to its target
			 * (docs/format.md); one that leads nowhere is refused */
			target = realpath(path, NULL);
			if (!target || stat(target, &st) != 0) {
				fprintf(stderr, "anthem %s: --%s %s: a symbolic "
					"link that leads nowhere: refused\n", cmd,
					option, path);
				free(target);
				return EXIT_DATA;
			}
		}
		if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "anthem %s: --%s %s: is %s, not a regular "
				"file: refused (writing would replace it)\n", cmd,
				option, path, kind(st.st_mode));
			free(target);
			return EXIT_DATA;
		}
		for (size_t i = 0; i < n; i++)
			if (in[i].path && stat(in[i].path, &ist) == 0 &&
			    ist.st_dev == st.st_dev && ist.st_ino == st.st_ino) {
				fprintf(stderr, "anthem %s: --%s %s is the same file "
					"as --%s %s: refused (writing would "
					"destroy the input)\n", cmd, option, path,
					in[i].option, in[i].path);
				free(target);
				return EXIT_DATA;
			}
	} else if (errno != ENOENT) {
		fprintf(stderr, "anthem %s: --%s %s: cannot create a file there: "
			"%s\n", cmd, option, path, strerror(errno));
		return EXIT_DATA;
	}
	/* can a file be made beside it?  Found now, not after hours of work:
	 * a temporary, as the writer makes, created and removed */
	const char *t = target ? target : path;
	size_t len = strlen(t) + 32;
	char *tmp = malloc(len);
	int fd = -1, e = ENOMEM;
	if (tmp) {
		snprintf(tmp, len, "%s.probe.%ld", t, (long)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		e = errno;
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	} else {
		fprintf(stderr, "anthem %s: --%s %s: cannot create a file there: "
			"%s\n", cmd, option, path, strerror(e));
	}
	free(tmp);
	free(target);
	return fd >= 0 ? 0 : EXIT_DATA;
}

int cli_size(const command *cmd, const char *name, const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	/* digits first: strtoull would skip spaces and take a sign, and
	 * ' -1' would become 2^64 - 1 */
	if (*s < '0' || *s > '9' || *end || errno) {
		fprintf(stderr, "anthem %s: --%s wants a whole number, not '%s'\n"
			"usage: %s\n", cmd->name, name, s, cmd->usage);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

int cli_prefilter(const command *cmd, const char *s, size_t *out)
{
	if (!strcmp(s, "off")) {
		*out = ANTHEM_PREFILTER_OFF;
		return 0;
	}
	return cli_size(cmd, "prefilter", s, out);
}

int cli_float(const command *cmd, const char *name, const char *s, float *out)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (!*s || isspace((unsigned char)*s) || *end || errno || !isfinite(v)) {
		fprintf(stderr, "anthem %s: --%s wants a number, not '%s'\n"
			"usage: %s\n", cmd->name, name, s, cmd->usage);
		return -1;
	}
	*out = v;
	return 0;
}

static const char *const geometry_names[] = {"hyperbolic", "euclidean",
					     "vector"};

int cli_geometry(const command *cmd, const char *s, anthem_geometry *out)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, geometry_names[i])) {
			*out = (anthem_geometry)i;
			return 0;
		}
	fprintf(stderr, "anthem %s: --geometry is hyperbolic, euclidean or "
		"vector, not '%s'\nusage: %s\n", cmd->name, s, cmd->usage);
	return -1;
}

static const char *const tokenizer_names[] = {"bytes-v1", "unicode-v1"};

int cli_tokenizer(const command *cmd, const char *s, anthem_tokenizer *out)
{
	for (int i = 0; i < 2; i++)
		if (!strcmp(s, tokenizer_names[i])) {
			*out = (anthem_tokenizer)i;
			return 0;
		}
	fprintf(stderr, "anthem %s: --tokenizer is unicode-v1 or bytes-v1, not "
		"'%s'\nusage: %s\n", cmd->name, s, cmd->usage);
	return -1;
}

const char *cli_tokenizer_name(anthem_tokenizer t)
{
	return (unsigned)t < 2 ? tokenizer_names[t] : "unknown";
}

const char *cli_geometry_name(anthem_geometry g)
{
	return (unsigned)g < 3 ? geometry_names[g] : "unknown";
}

/* The length of the well-formed UTF-8 character at s (no overlong form,
 * no surrogate, at most U+10FFFF), 0 if there is none. */
static size_t utf8_char(const unsigned char *s)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2
				 : (s[0] & 0xf0) == 0xe0 ? 3
				 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	unsigned long cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* s with every byte that starts no well-formed character replaced by
 * U+FFFD (malloc'd; NULL when out of memory).  JSON text must be UTF-8
 * (RFC 8259) and so must XML, but a query or a title may be any bytes, and
 * a bytes-v1 model's trigram labels can cut a character (docs/network.md,
 * step 1). */
char *cli_utf8_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *o = out; /* 1 byte -> 3 at worst */
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t len = utf8_char(p);
		if (len == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
			continue;
		}
		memcpy(o, p, len);
		o += len;
		p += len;
	}
	*o = '\0';
	return out;
}

json_t *cli_json_text(const char *s)
{
	char *clean = cli_utf8_clean(s ? s : "");
	json_t *j = clean ? json_string(clean) : NULL;
	free(clean);
	return j;
}

/* Print a JSON value as one line (jansson escapes what JSON must). */
int cli_json_print(json_t *j)
{
	int rc = j ? json_dumpf(j, stdout, JSON_ENCODE_ANY |
				 JSON_REAL_PRECISION(9)) : -1;
	if (rc == 0)
		putchar('\n');
	json_decref(j);
	return rc;
}

void cli_json_string(const char *s)
{
	json_t *j = cli_json_text(s);
	if (j)
		json_dumpf(j, stdout, JSON_ENCODE_ANY);
	json_decref(j);
}

size_t cli_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;
	while (p[used] && used < max) {
		const unsigned char *c = p + used;
		size_t len = utf8_char(c);
		if (len == 0 || used + len > max) {
			if (len && used + len > max)
				break; /* the cut falls inside a character */
			printf("\\x%02x", *c); /* not UTF-8 */
			used++;
			continue;
		}
		unsigned long cp = len == 2 ? (unsigned long)(c[0] & 0x1f) << 6 |
						      (c[1] & 0x3f)
					    : *c;
		if (*c == '\\')
			printf("\\\\");
		else if (len == 1 && (*c < 0x20 || *c == 0x7f))
			printf("\\x%02x", *c);
		else if (len == 2 && cp >= 0x80 && cp <= 0x9f)
			printf("\\u%04lx", cp); /* a C1 control (CSI is 0x9b) */
		else
			fwrite(c, 1, len, stdout);
		used += len;
	}
	return used;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage_all(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("anthem %s\n", anthem_version_string());
		return 0;
	}
	for (size_t i = 0; i < cli_ncommands; i++)
		if (!strcmp(argv[1], cli_commands[i].name))
			return cli_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "anthem: unknown command '%s'\n", argv[1]);
	usage_all(stderr);
	return EXIT_USAGE;
}
