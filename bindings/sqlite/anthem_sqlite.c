/* anthem_sqlite: a SQLite loadable extension over libanthem (docs/sqlite.md).
 *
 *   anthem_open(model_path, index_path)   -> handle (INTEGER > 0)
 *   anthem_close(handle)                  -> 1
 *   anthem_score(handle, query, product_id) -> distance (REAL) or NULL
 *   anthem_search(handle, query [, k [, k1 [, and_queries [, or_queries]]]])
 *                                         table: product_id, title,
 *                                          distance, rank
 *
 * Handles live in a registry owned by the connection: every function and
 * the module hold a reference to it, and SQLite drops those references
 * (the destroy callbacks of sqlite3_create_function_v2 and
 * sqlite3_create_module_v2) when the connection closes, which frees every
 * model and index still open.  A cursor of anthem_search holds a
 * reference to its handle's entry, so anthem_close in the middle of a
 * scan does not pull the index from under it.
 *
 * Calls on one connection are serialised by SQLite (or by the application
 * in multi-thread mode), so the registry needs no lock of its own. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <anthem/anthem.h>

#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define ATHSQL_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define ATHSQL_EXPORT __attribute__((visibility("default")))
#else
#define ATHSQL_EXPORT
#endif

/* anthem_search's k and k1 when they are left out (anthem_search_options'
 * defaults, said again here because the hidden columns echo them) */
#define ATHSQL_DEFAULT_K 10
#define ATHSQL_DEFAULT_K1 200
/* texts an and_queries or or_queries argument may hold (search.h) */
#define ATHSQL_MAX_COMPOSE 16

/* ---- one open model + index ------------------------------------------------ */

typedef struct athsql_entry {
	sqlite3_int64 id;
	long refs; /* the registry's, plus one per cursor using it */
	anthem_model *m;
	anthem_index *ix;
	size_t count;
} athsql_entry;

static void athsql_entry_release(athsql_entry *e)
{
	if (!e || --e->refs > 0)
		return;
	anthem_index_free(e->ix);
	anthem_model_free(e->m);
	sqlite3_free(e);
}

/* ---- the per-connection registry -------------------------------------------- */

typedef struct athsql_registry {
	long refs; /* one per registered function or module */
	sqlite3_int64 next_id;
	athsql_entry **v;
	size_t n, cap;
} athsql_registry;

static void athsql_registry_release(void *p)
{
	athsql_registry *r = p;
	if (!r || --r->refs > 0)
		return;
	for (size_t i = 0; i < r->n; i++)
		athsql_entry_release(r->v[i]);
	sqlite3_free(r->v);
	sqlite3_free(r);
}

static athsql_entry *athsql_registry_find(const athsql_registry *r,
					  sqlite3_int64 id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i]->id == id)
			return r->v[i];
	return NULL;
}

/* ---- argument checks -------------------------------------------------------- */

/* The message of a failed libanthem call. */
static const char *athsql_anthem_message(int rc)
{
	const char *msg = anthem_last_error();
	return msg && *msg ? msg : anthem_strerror(rc);
}

static void athsql_result_anthem_error(sqlite3_context *ctx, int rc)
{
	if (rc == ANTHEM_ENOMEM)
		sqlite3_result_error_nomem(ctx);
	else
		sqlite3_result_error(ctx, athsql_anthem_message(rc), -1);
}

/* Resolve a handle argument; NULL with *err set (sqlite3_malloc'ed) if it
 * is not an integer naming an open handle. */
static athsql_entry *athsql_handle(const athsql_registry *r, sqlite3_value *v,
				   const char *fn, char **err)
{
	if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER) {
		*err = sqlite3_mprintf("%s: the handle must be an integer "
				       "returned by anthem_open", fn);
		return NULL;
	}
	sqlite3_int64 id = sqlite3_value_int64(v);
	athsql_entry *e = athsql_registry_find(r, id);
	if (!e)
		*err = sqlite3_mprintf("%s: no open handle %lld (anthem_open "
				       "returns one; anthem_close ends it)",
				       fn, (long long)id);
	return e;
}

static void athsql_result_msg(sqlite3_context *ctx, char *msg)
{
	if (msg)
		sqlite3_result_error(ctx, msg, -1);
	else
		sqlite3_result_error_nomem(ctx);
	sqlite3_free(msg);
}

/* ---- anthem_open, anthem_close, anthem_score --------------------------------- */

/* Does text value v (whose text is s) hold a NUL?  The library takes C
 * strings and would read only what comes before it: a query cut there is
 * another query, a path another file.  Refused, as the Python binding
 * refuses it (issue 13, defect 17). */
static int athsql_has_nul(sqlite3_value *v, const char *s)
{
	return strlen(s) != (size_t)sqlite3_value_bytes(v);
}

static void athsql_open(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	athsql_registry *r = sqlite3_user_data(ctx);
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT ||
	    sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
		sqlite3_result_error(ctx, "anthem_open: model_path and index_path "
				     "must be text (file names)", -1);
		return;
	}
	const char *model_path = (const char *)sqlite3_value_text(argv[0]);
	const char *index_path = (const char *)sqlite3_value_text(argv[1]);
	if (!model_path || !index_path) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (athsql_has_nul(argv[0], model_path) ||
	    athsql_has_nul(argv[1], index_path)) {
		sqlite3_result_error(ctx, "anthem_open: a file name contains a "
				     "NUL character", -1);
		return;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4;
		athsql_entry **v = sqlite3_realloc64(r->v, cap * sizeof *v);
		if (!v) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		r->v = v;
		r->cap = cap;
	}
	athsql_entry *e = sqlite3_malloc64(sizeof *e);
	if (!e) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	memset(e, 0, sizeof *e);
	e->refs = 1;
	int rc = anthem_model_load(&e->m, model_path);
	if (!rc)
		rc = anthem_index_load(&e->ix, index_path, e->m);
	if (rc) {
		athsql_result_anthem_error(ctx, rc);
		athsql_entry_release(e);
		return;
	}
	e->count = anthem_index_count(e->ix);
	e->id = ++r->next_id;
	r->v[r->n++] = e;
	sqlite3_result_int64(ctx, e->id);
}

static void athsql_close(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	athsql_registry *r = sqlite3_user_data(ctx);
	char *err = NULL;
	athsql_entry *e = athsql_handle(r, argv[0], "anthem_close", &err);
	if (!e) {
		athsql_result_msg(ctx, err);
		return;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i] == e) {
			r->v[i] = r->v[--r->n];
			break;
		}
	athsql_entry_release(e);
	sqlite3_result_int(ctx, 1);
}

static void athsql_score(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	athsql_registry *r = sqlite3_user_data(ctx);
	char *err = NULL;
	athsql_entry *e = athsql_handle(r, argv[0], "anthem_score", &err);
	if (!e) {
		athsql_result_msg(ctx, err);
		return;
	}
	int tq = sqlite3_value_type(argv[1]), tp = sqlite3_value_type(argv[2]);
	if (tq == SQLITE_NULL || tp == SQLITE_NULL)
		return; /* NULL in, NULL out */
	if (tq == SQLITE_BLOB || tp == SQLITE_BLOB) {
		sqlite3_result_error(ctx, "anthem_score: query and product_id "
				     "must be text", -1);
		return;
	}
	const char *query = (const char *)sqlite3_value_text(argv[1]);
	const char *id = (const char *)sqlite3_value_text(argv[2]);
	if (!query || !id) {
		sqlite3_result_error_nomem(ctx);
		return;
	}
	if (athsql_has_nul(argv[1], query)) {
		sqlite3_result_error(ctx, "anthem_score: the query contains a NUL "
				     "character", -1);
		return;
	}
	/* the index's ids are C strings: one with a NUL inside is none of
	 * them (the library would read only its part before the NUL) */
	if (strlen(id) != (size_t)sqlite3_value_bytes(argv[2]))
		return; /* unknown product: NULL */
	size_t pos;
	int rc = anthem_index_find(e->ix, id, &pos);
	if (rc == ANTHEM_ENOTFOUND)
		return; /* unknown product: NULL */
	float d;
	if (!rc)
		rc = anthem_score(e->m, e->ix, query, &pos, 1, &d);
	if (rc)
		athsql_result_anthem_error(ctx, rc);
	else
		sqlite3_result_double(ctx, d);
}

/* ---- anthem_search: an eponymous table-valued function ----------------------- */

enum {
	ATHSQL_COL_PRODUCT_ID,
	ATHSQL_COL_TITLE,
	ATHSQL_COL_DISTANCE,
	ATHSQL_COL_RANK,
	ATHSQL_COL_HANDLE, /* hidden: the arguments, in their order */
	ATHSQL_COL_QUERY,
	ATHSQL_COL_K,
	ATHSQL_COL_K1,
	ATHSQL_COL_AND,
	ATHSQL_COL_OR,
};
/* the arguments, numbered from the first hidden column */
enum {
	ATHSQL_ARG_HANDLE,
	ATHSQL_ARG_QUERY,
	ATHSQL_ARG_K,
	ATHSQL_ARG_K1,
	ATHSQL_ARG_AND,
	ATHSQL_ARG_OR,
	ATHSQL_NARGS
};

typedef struct athsql_vtab {
	sqlite3_vtab base;
	athsql_registry *r;
} athsql_vtab;

typedef struct athsql_cursor {
	sqlite3_vtab_cursor base;
	athsql_entry *e; /* referenced while the cursor holds results */
	anthem_hit *hits;
	size_t n, pos;
	/* the arguments, echoed by the hidden columns (and_text and
	 * or_text as given, NULL when left out) */
	sqlite3_int64 handle, k, k1;
	char *query, *and_text, *or_text;
	/* and_text and or_text with NULs for newlines: the texts passed to
	 * the library point into them */
	char *and_split, *or_split;
} athsql_cursor;

static int athsql_vt_connect(sqlite3 *db, void *aux, int argc,
			     const char *const *argv, sqlite3_vtab **out,
			     char **err)
{
	int rc = sqlite3_declare_vtab(db,
		"CREATE TABLE x(product_id TEXT, title TEXT, distance REAL, "
		"rank INTEGER, handle HIDDEN, query HIDDEN, k HIDDEN, "
		"k1 HIDDEN, and_queries HIDDEN, or_queries HIDDEN)");
	if (rc)
		return rc;
	athsql_vtab *vt = sqlite3_malloc(sizeof *vt);
	if (!vt)
		return SQLITE_NOMEM;
	memset(vt, 0, sizeof *vt);
	vt->r = aux;
	*out = &vt->base;
	return SQLITE_OK;
}

static int athsql_vt_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

static void athsql_vt_error(sqlite3_vtab *vt, char *msg)
{
	sqlite3_free(vt->zErrMsg);
	vt->zErrMsg = msg;
}

/* idxNum: bit i set if argument i (handle, query, k, k1, and_queries,
 * or_queries) is passed; they come in that order in xFilter's argv. */
static int athsql_vt_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
	int seen = 0, unusable = 0, which[ATHSQL_NARGS];
	for (int i = 0; i < info->nConstraint; i++) {
		const struct sqlite3_index_constraint *c = &info->aConstraint[i];
		int arg = c->iColumn - ATHSQL_COL_HANDLE;
		if (arg < 0 || arg >= ATHSQL_NARGS ||
		    c->op != SQLITE_INDEX_CONSTRAINT_EQ)
			continue;
		if (!c->usable) {
			unusable |= 1 << arg;
			continue;
		}
		if (!(seen & (1 << arg))) {
			seen |= 1 << arg;
			which[arg] = i;
		}
	}
	/* an argument bound to a table not yet scanned: not this plan */
	if (unusable & ~seen)
		return SQLITE_CONSTRAINT;
	int need = 1 << ATHSQL_ARG_HANDLE | 1 << ATHSQL_ARG_QUERY;
	if ((seen & need) != need) {
		athsql_vt_error(vt, sqlite3_mprintf(
			"anthem_search: pass a handle and a query, as in "
			"anthem_search(handle, query [, k [, k1 [, and_queries "
			"[, or_queries]]]])"));
		return SQLITE_ERROR;
	}
	int argv_index = 0;
	for (int arg = 0; arg < ATHSQL_NARGS; arg++)
		if (seen & (1 << arg)) {
			info->aConstraintUsage[which[arg]].argvIndex = ++argv_index;
			info->aConstraintUsage[which[arg]].omit = 1;
		}
	info->idxNum = seen;
	info->estimatedCost = 10;
	info->estimatedRows = ATHSQL_DEFAULT_K;
	/* rows come by rank.  Not necessarily by distance: when k is larger
	 * than the candidates, the rows after them carry stage-1 distances,
	 * ascending among themselves only (search.h), so SQLite sorts an
	 * ORDER BY distance itself */
	if (info->nOrderBy == 1 && !info->aOrderBy[0].desc &&
	    info->aOrderBy[0].iColumn == ATHSQL_COL_RANK)
		info->orderByConsumed = 1;
	return SQLITE_OK;
}

static int athsql_vt_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
	athsql_cursor *cur = sqlite3_malloc(sizeof *cur);
	if (!cur)
		return SQLITE_NOMEM;
	memset(cur, 0, sizeof *cur);
	*out = &cur->base;
	return SQLITE_OK;
}

static void athsql_cursor_reset(athsql_cursor *cur)
{
	athsql_entry_release(cur->e);
	cur->e = NULL;
	sqlite3_free(cur->hits);
	cur->hits = NULL;
	sqlite3_free(cur->query);
	sqlite3_free(cur->and_text);
	sqlite3_free(cur->or_text);
	sqlite3_free(cur->and_split);
	sqlite3_free(cur->or_split);
	cur->query = cur->and_text = cur->or_text = NULL;
	cur->and_split = cur->or_split = NULL;
	cur->n = cur->pos = 0;
	cur->handle = cur->k = cur->k1 = 0;
}

static int athsql_vt_close(sqlite3_vtab_cursor *base)
{
	athsql_cursor *cur = (athsql_cursor *)base;
	athsql_cursor_reset(cur);
	sqlite3_free(cur);
	return SQLITE_OK;
}

/* An and_queries / or_queries argument: one or more query texts, one a
 * line ('\n' between them; empty lines are skipped, so a trailing newline
 * adds nothing).  NULL or left out holds none.  *text receives a copy of
 * the argument as given (NULL for none), for the hidden column; *split a
 * copy with its newlines made NULs, into which texts[0 .. *n) point.  Both
 * are sqlite3_malloc'ed; on SQLITE_ERROR *err says why. */
static int athsql_texts(sqlite3_value *v, const char *what, char **text,
			char **split, const char **texts, size_t *n, char **err)
{
	*n = 0;
	int type = v ? sqlite3_value_type(v) : SQLITE_NULL;
	if (type == SQLITE_NULL)
		return SQLITE_OK;
	if (type == SQLITE_BLOB) {
		*err = sqlite3_mprintf("anthem_search: %s must be text (query "
				       "texts, one a line)", what);
		return SQLITE_ERROR;
	}
	const char *s = (const char *)sqlite3_value_text(v);
	if (!s)
		return SQLITE_NOMEM;
	if (athsql_has_nul(v, s)) {
		*err = sqlite3_mprintf("anthem_search: %s contains a NUL "
				       "character", what);
		return *err ? SQLITE_ERROR : SQLITE_NOMEM;
	}
	if (!(*text = sqlite3_mprintf("%s", s)) ||
	    !(*split = sqlite3_mprintf("%s", s)))
		return SQLITE_NOMEM;
	size_t lines = 0;
	for (char *line = *split, *end; line; line = end) {
		end = strchr(line, '\n');
		if (end)
			*end++ = '\0';
		if (!*line)
			continue;
		if (lines < ATHSQL_MAX_COMPOSE)
			texts[lines] = line;
		lines++;
	}
	if (lines > ATHSQL_MAX_COMPOSE) {
		/* (sqlite3_mprintf has no %zu: its %z frees a string) */
		*err = sqlite3_mprintf("anthem_search: %s holds %llu query "
				       "texts (one a line), at most %d", what,
				       (unsigned long long)lines,
				       ATHSQL_MAX_COMPOSE);
		return SQLITE_ERROR;
	}
	*n = lines;
	return SQLITE_OK;
}

/* An integer argument >= min; NULL or left out gives def when null_ok.
 * SQLITE_ERROR with *err otherwise. */
static int athsql_int_arg(sqlite3_value *v, const char *what,
			  sqlite3_int64 min, sqlite3_int64 def, int null_ok,
			  sqlite3_int64 *out, char **err)
{
	*out = def;
	if (!v || (null_ok && sqlite3_value_type(v) == SQLITE_NULL))
		return SQLITE_OK;
	if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER ||
	    (*out = sqlite3_value_int64(v)) < min) {
		*err = sqlite3_mprintf("anthem_search: %s must be an integer "
				       ">= %lld%s", what, (long long)min,
				       null_ok ? " (NULL: the default)" : "");
		return SQLITE_ERROR;
	}
	return SQLITE_OK;
}

/* xFilter's work: the arguments checked, the search run into cur.  On
 * SQLITE_ERROR, *err (sqlite3_malloc'ed) says why. */
static int athsql_search(athsql_cursor *cur, const athsql_registry *r,
			 sqlite3_value *const *args, char **err)
{
	athsql_entry *e = athsql_handle(r, args[ATHSQL_ARG_HANDLE],
					"anthem_search", err);
	if (!e)
		return *err ? SQLITE_ERROR : SQLITE_NOMEM;
	sqlite3_int64 k, k1;
	const char *and_q[ATHSQL_MAX_COMPOSE], *or_q[ATHSQL_MAX_COMPOSE];
	size_t n_and, n_or;
	int rc = athsql_int_arg(args[ATHSQL_ARG_K], "k", 0, ATHSQL_DEFAULT_K,
				0, &k, err);
	/* k1 0 would be the library's default, but the CLI's --k1 0 means
	 * stage 1 alone: refused rather than read either way */
	if (!rc)
		rc = athsql_int_arg(args[ATHSQL_ARG_K1], "k1", 1,
				    ATHSQL_DEFAULT_K1, 1, &k1, err);
	if (!rc)
		rc = athsql_texts(args[ATHSQL_ARG_AND], "and_queries",
				  &cur->and_text, &cur->and_split, and_q,
				  &n_and, err);
	if (!rc)
		rc = athsql_texts(args[ATHSQL_ARG_OR], "or_queries",
				  &cur->or_text, &cur->or_split, or_q, &n_or,
				  err);
	if (rc)
		return rc;
	int tq = sqlite3_value_type(args[ATHSQL_ARG_QUERY]);
	if (tq == SQLITE_BLOB) {
		*err = sqlite3_mprintf("anthem_search: the query must be text");
		return *err ? SQLITE_ERROR : SQLITE_NOMEM;
	}
	cur->handle = e->id;
	cur->k = k;
	cur->k1 = k1;
	if (tq == SQLITE_NULL || k == 0)
		return SQLITE_OK; /* no rows */
	const char *query = (const char *)sqlite3_value_text(args[ATHSQL_ARG_QUERY]);
	if (!query)
		return SQLITE_NOMEM;
	if (athsql_has_nul(args[ATHSQL_ARG_QUERY], query)) {
		*err = sqlite3_mprintf("anthem_search: the query contains a NUL "
				       "character");
		return *err ? SQLITE_ERROR : SQLITE_NOMEM;
	}
	if (!(cur->query = sqlite3_mprintf("%s", query)))
		return SQLITE_NOMEM;
	/* nothing beyond the index is returned: a huge k must not size the
	 * buffer */
	size_t want = (sqlite3_uint64)k < e->count ? (size_t)k : e->count;
	if (!want)
		return SQLITE_OK;
	cur->hits = sqlite3_malloc64((sqlite3_uint64)want * sizeof *cur->hits);
	if (!cur->hits)
		return SQLITE_NOMEM;
	anthem_search_options o;
	anthem_search_options_init(&o);
	o.k = want;
	o.k1 = (sqlite3_uint64)k1 < e->count ? (size_t)k1 : e->count;
	o.and_queries = and_q;
	o.n_and = n_and;
	o.or_queries = or_q;
	o.n_or = n_or;
	size_t n = 0;
	int arc = anthem_search_ex(e->m, e->ix, cur->query, &o, cur->hits, &n);
	if (arc == ANTHEM_ENOMEM)
		return SQLITE_NOMEM;
	if (arc) {
		*err = sqlite3_mprintf("%s", athsql_anthem_message(arc));
		return *err ? SQLITE_ERROR : SQLITE_NOMEM;
	}
	cur->n = n;
	cur->e = e;
	e->refs++;
	return SQLITE_OK;
}

static int athsql_vt_filter(sqlite3_vtab_cursor *base, int idx_num,
			    const char *idx_str, int argc, sqlite3_value **argv)
{
	athsql_cursor *cur = (athsql_cursor *)base;
	sqlite3_vtab *vt = base->pVtab;
	athsql_cursor_reset(cur);
	sqlite3_value *args[ATHSQL_NARGS] = {NULL};
	for (int arg = 0, j = 0; arg < ATHSQL_NARGS; arg++)
		if ((idx_num & (1 << arg)) && j < argc)
			args[arg] = argv[j++];
	if (!args[ATHSQL_ARG_HANDLE] || !args[ATHSQL_ARG_QUERY])
		return SQLITE_ERROR; /* xBestIndex never lets that through */
	char *err = NULL;
	int rc = athsql_search(cur, ((athsql_vtab *)vt)->r, args, &err);
	if (err)
		athsql_vt_error(vt, err);
	return rc;
}

static int athsql_vt_next(sqlite3_vtab_cursor *base)
{
	((athsql_cursor *)base)->pos++;
	return SQLITE_OK;
}

static int athsql_vt_eof(sqlite3_vtab_cursor *base)
{
	const athsql_cursor *cur = (const athsql_cursor *)base;
	return cur->pos >= cur->n;
}

static void athsql_result_text(sqlite3_context *ctx, const char *s)
{
	if (s)
		sqlite3_result_text(ctx, s, -1, SQLITE_TRANSIENT);
}

static int athsql_vt_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx,
			    int col)
{
	const athsql_cursor *cur = (const athsql_cursor *)base;
	switch (col) {
	case ATHSQL_COL_HANDLE:
		sqlite3_result_int64(ctx, cur->handle);
		return SQLITE_OK;
	case ATHSQL_COL_QUERY:
		athsql_result_text(ctx, cur->query);
		return SQLITE_OK;
	case ATHSQL_COL_K:
		sqlite3_result_int64(ctx, cur->k);
		return SQLITE_OK;
	case ATHSQL_COL_K1:
		sqlite3_result_int64(ctx, cur->k1);
		return SQLITE_OK;
	case ATHSQL_COL_AND:
		athsql_result_text(ctx, cur->and_text);
		return SQLITE_OK;
	case ATHSQL_COL_OR:
		athsql_result_text(ctx, cur->or_text);
		return SQLITE_OK;
	}
	if (cur->pos >= cur->n)
		return SQLITE_OK;
	const anthem_hit *h = &cur->hits[cur->pos];
	switch (col) {
	case ATHSQL_COL_PRODUCT_ID:
		athsql_result_text(ctx, anthem_index_id(cur->e->ix, h->index));
		break;
	case ATHSQL_COL_TITLE:
		athsql_result_text(ctx, anthem_index_title(cur->e->ix, h->index));
		break;
	case ATHSQL_COL_DISTANCE:
		sqlite3_result_double(ctx, h->distance);
		break;
	case ATHSQL_COL_RANK:
		sqlite3_result_int64(ctx, (sqlite3_int64)cur->pos + 1);
		break;
	}
	return SQLITE_OK;
}

static int athsql_vt_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((const athsql_cursor *)base)->pos + 1;
	return SQLITE_OK;
}

static sqlite3_module athsql_module = {
	.iVersion = 0,
	.xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
	.xConnect = athsql_vt_connect,
	.xBestIndex = athsql_vt_best_index,
	.xDisconnect = athsql_vt_disconnect,
	.xDestroy = NULL,
	.xOpen = athsql_vt_open,
	.xClose = athsql_vt_close,
	.xFilter = athsql_vt_filter,
	.xNext = athsql_vt_next,
	.xEof = athsql_vt_eof,
	.xColumn = athsql_vt_column,
	.xRowid = athsql_vt_rowid,
};

/* ---- entry points ----------------------------------------------------------- */

ATHSQL_EXPORT int sqlite3_anthem_sqlite_init(sqlite3 *db, char **err,
					     const sqlite3_api_routines *api);
ATHSQL_EXPORT int sqlite3_anthemsqlite_init(sqlite3 *db, char **err,
					    const sqlite3_api_routines *api);
ATHSQL_EXPORT int sqlite3_extension_init(sqlite3 *db, char **err,
					 const sqlite3_api_routines *api);

int sqlite3_anthem_sqlite_init(sqlite3 *db, char **err,
			       const sqlite3_api_routines *api)
{
	SQLITE_EXTENSION_INIT2(api);
	athsql_registry *r = sqlite3_malloc(sizeof *r);
	if (!r)
		return SQLITE_NOMEM;
	memset(r, 0, sizeof *r);
	/* held for the duration of this function, so that a registration
	 * that fails (and calls the destructor) cannot free it early */
	r->refs = 1;

	int direct = 0;
#ifdef SQLITE_DIRECTONLY
	/* opening files: not from triggers, views or schema */
	if (sqlite3_libversion_number() >= 3031000)
		direct = SQLITE_DIRECTONLY;
#endif
	static const struct {
		const char *name;
		int nargs, flags;
		void (*fn)(sqlite3_context *, int, sqlite3_value **);
	} fns[] = {
		{"anthem_open", 2, 1, athsql_open},
		{"anthem_close", 1, 1, athsql_close},
		{"anthem_score", 3, 0, athsql_score},
	};
	int rc = SQLITE_OK;
	for (size_t i = 0; !rc && i < sizeof fns / sizeof fns[0]; i++) {
		r->refs++; /* dropped by the destructor, also on failure */
		rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].nargs,
			SQLITE_UTF8 | (fns[i].flags ? direct : 0), r, fns[i].fn,
			NULL, NULL, athsql_registry_release);
	}
	if (!rc) {
		r->refs++;
		rc = sqlite3_create_module_v2(db, "anthem_search", &athsql_module,
					      r, athsql_registry_release);
	}
	if (rc && err)
		*err = sqlite3_mprintf("anthem_sqlite: registering the functions "
				       "failed: %s", sqlite3_errstr(rc));
	athsql_registry_release(r);
	return rc;
}

/* The name SQLite derives from the file name anthem_sqlite.so. */
int sqlite3_anthemsqlite_init(sqlite3 *db, char **err,
			      const sqlite3_api_routines *api)
{
	return sqlite3_anthem_sqlite_init(db, err, api);
}

/* The name SQLite tries first. */
int sqlite3_extension_init(sqlite3 *db, char **err,
			   const sqlite3_api_routines *api)
{
	return sqlite3_anthem_sqlite_init(db, err, api);
}
