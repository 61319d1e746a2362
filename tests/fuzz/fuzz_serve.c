/* Fuzz target "serve": the request handler of `anthem serve`
 * (tools/cli/serve_handler.c, docs/serve.md) on raw requests, without
 * sockets.
 *
 * Input: byte 0 picks the method (its low two bits: GET, POST, PUT,
 * DELETE) and whether the peer is on loopback (bit 2); then the path with
 * an optional ?query up to the first '\n' (split on '&' and '=', not
 * percent-decoded: the bytes reach the handler as they are); the rest is
 * the body.  A small model (dim 8, with the lexical term) and an index of
 * 24 products are made once; the limits are small so that searches stay
 * fast.
 *
 * Checks, beside the sanitizers: the status is one the page documents;
 * every body is there, as long as said; a JSON body parses to an object,
 * with a non-empty "error" string exactly when the status is 400 or more;
 * a 405 names what the path allows; a 500 comes only from a reload (this
 * context has no files to reload from); /metrics stays parseable text. */
#include "fuzz.h"

#include "../../tools/cli/serve_handler.c"

static anthem_model *model;
static anthem_index *index_;
static serve_ctx ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	anthem_model_config c;
	anthem_model_config_init(&c);
	c.dim = 8;
	c.buckets = 1024;
	c.lexical_buckets = 1024;
	char path[4300];
	fz_path("catalog.tsv", path, sizeof path);
	static const char *const words[] = {"robe", "hat", "wool coat", "cap",
					    "boot", "scarf", "glove", "cloak"};
	char cat[4096];
	size_t n = 0;
	for (int i = 0; i < 24; i++)
		n += (size_t)snprintf(cat + n, sizeof cat - n, "p%d\t%s %s %d\n", i,
				      words[i % 8], words[(i * 3 + 1) % 8], i);
	fz_write(path, cat, n);
	anthem_catalog *cg = NULL;
	if (anthem_model_create(&model, &c) ||
	    anthem_catalog_load(&cg, path, 0) ||
	    anthem_index_build(&index_, model, cg, 1)) {
		fprintf(stderr, "fuzz_serve: setup: %s\n", anthem_last_error());
		abort();
	}
	anthem_catalog_free(cg);
	serve_limits L;
	serve_limits_default(&L);
	L.max_body = 1 << 16;
	L.max_query = 256;
	L.max_k = 50;
	L.max_k1 = 100;
	L.max_batch = 4;
	L.max_ids = 64;
	if (serve_init_with(&ctx, model, index_, &L))
		abort();
	return 0;
}

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
	if (size < 1)
		return 0;
	const char *method = methods[data[0] & 3];
	int loopback = (data[0] >> 2) & 1;
	const uint8_t *p = data + 1, *end = data + size;
	const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
	size_t plen = nl ? (size_t)(nl - p) : (size_t)(end - p);
	char *line = malloc(plen + 1);
	if (!line)
		return 0;
	memcpy(line, p, plen);
	line[plen] = '\0';
	const char *body = nl ? (const char *)nl + 1 : "";
	size_t blen = nl ? (size_t)(end - nl - 1) : 0;
	/* ?k=v&k2=v2, as libmicrohttpd hands them over (a key without '='
	 * has a NULL value) */
	serve_arg args[MAX_ARGS];
	size_t nargs = 0;
	char *q = strchr(line, '?');
	if (q) {
		*q++ = '\0';
		for (char *save = NULL, *kv = strtok_r(q, "&", &save);
		     kv && nargs < MAX_ARGS; kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (eq)
				*eq++ = '\0';
			args[nargs].key = kv;
			args[nargs].value = eq;
			nargs++;
		}
	}
	serve_response out;
	serve_handle(&ctx, method, line, args, nargs, body, blen, loopback, &out);

	static const int known[] = {200, 400, 403, 404, 405, 413, 500, 503};
	int ok = 0;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		ok |= out.status == known[i];
	if (!ok)
		fz_fail("status %d is not one docs/serve.md lists", out.status);
	if (!out.body)
		fz_fail("no body (status %d)", out.status);
	if (strlen(out.body) != out.len)
		fz_fail("body of %zu bytes said to be %zu", strlen(out.body), out.len);
	if (out.status == 405 && (!out.allow || !out.allow[0]))
		fz_fail("405 without Allow");
	if (out.status == 500 && strcmp(line, "/admin/reload"))
		fz_fail("500 from %s: %s", line, out.body);
	if (!strcmp(out.content_type, "application/json")) {
		json_error_t err;
		json_t *j = json_loads(out.body, 0, &err);
		if (!j || !json_is_object(j))
			fz_fail("not a JSON object (%s): %.200s", err.text, out.body);
		json_t *e = json_object_get(j, "error");
		int is_err = json_is_string(e) && json_string_length(e) > 0;
		if (is_err != (out.status >= 400))
			fz_fail("status %d with body %.200s", out.status, out.body);
		json_decref(j);
	} else if (strcmp(line, "/metrics") || out.status != 200 ||
		   !strstr(out.body, "anthem_request_duration_seconds_count")) {
		fz_fail("a %s body from %s", out.content_type, line);
	}
	serve_record(&ctx, line, out.status, 1e-4 * (double)(size % 50000));
	free(out.body);
	free(line);
	return 0;
}
