/* anthem: train, evaluate and inspect libanthem models from the shell. */
#include "cli.h"
#include "cli_json.h"
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const command cli_commands[] = {
	{"train", "learn a model from a catalogue and judgements",
	 "anthem train --catalog FILE --judgments FILE --out MODEL [options]",
	 cmd_train},
	{"eval", "measure NDCG@3/5/10, MAP and MRR on judgements",
	 "anthem eval (--model MODEL | --ranking FILE) --catalog FILE "
	 "--judgments FILE [--json]",
	 cmd_eval},
	{"info", "show a model file's configuration",
	 "anthem info --model MODEL [--json]", cmd_info},
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
};
const size_t cli_ncommands = sizeof cli_commands / sizeof cli_commands[0];

static void usage_all(FILE *f)
{
	fprintf(f, "usage: anthem COMMAND [options]   (anthem COMMAND --help)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < cli_ncommands; i++)
		fprintf(f, "  %-8s %s\n", cli_commands[i].name,
			cli_commands[i].summary);
	fprintf(f, "\nlibanthem %s\n", anthem_version_string());
}

static void help(const command *cmd, const opt *opts)
{
	printf("usage: %s\n\n%s.\n\noptions:\n", cmd->usage, cmd->summary);
	for (const opt *o = opts; o->name; o++) {
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		printf("  %-24s %s\n", left, o->help);
	}
	printf("  %-24s %s\n", "--help", "show this help");
}

int cli_parse(const command *cmd, const opt *opts, int argc, char **argv,
	      const char **pos, size_t maxpos, size_t *npos, int *exit_code)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			help(cmd, opts);
			*exit_code = 0;
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2]) {
			if (*npos >= maxpos) {
				fprintf(stderr, "anthem %s: unexpected argument "
					"'%s'\nusage: %s\n", cmd->name, a, cmd->usage);
				*exit_code = EXIT_USAGE;
				return 1;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const opt *o = opts;
		for (; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, name, len))
				break;
		if (!o->name) {
			fprintf(stderr, "anthem %s: unknown option '--%.*s'\n"
				"usage: %s\n", cmd->name, (int)len, name, cmd->usage);
			*exit_code = EXIT_USAGE;
			return 1;
		}
		const char *val = "1";
		if (o->arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "anthem %s: --%s needs a value "
					"(%s)\nusage: %s\n", cmd->name, o->name,
					o->arg, cmd->usage);
				*exit_code = EXIT_USAGE;
				return 1;
			}
		} else if (eq) {
			fprintf(stderr, "anthem %s: --%s takes no value\n",
				cmd->name, o->name);
			*exit_code = EXIT_USAGE;
			return 1;
		}
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
	return 0;
}

int cli_fail(const char *cmd, int rc)
{
	const char *msg = anthem_last_error();
	fprintf(stderr, "anthem %s: %s\n", cmd, msg[0] ? msg : anthem_strerror(rc));
	return EXIT_DATA;
}

int cli_size(const command *cmd, const char *name, const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-') {
		fprintf(stderr, "anthem %s: --%s wants a whole number, not '%s'\n"
			"usage: %s\n", cmd->name, name, s, cmd->usage);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

int cli_float(const command *cmd, const char *name, const char *s, float *out)
{
	char *end;
	errno = 0;
	float v = strtof(s, &end);
	if (!*s || *end || errno || !isfinite(v)) {
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
