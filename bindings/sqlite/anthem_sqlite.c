/* anthem_sqlite: a SQLite loadable extension over libanthem (docs/sqlite.md).
 *
 *   anthem_open(model_path, index_path)   -> handle (INTEGER > 0)
 *   anthem_close(handle)                  -> 1
 *   anthem_score(handle, query, product_id) -> distance (REAL) or NULL
 *   anthem_search(handle, query [, k])    table: product_id, title,
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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#define ATHSQL_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define ATHSQL_EXPORT __attribute__((visibility("default")))
#else
#define ATHSQL_EXPORT
#endif

/* stage-1 candidates reranked by the full model */
#define ATHSQL_K1 200
/* k of anthem_search when the third argument is left out */
#define ATHSQL_DEFAULT_K 10

/* ---- one open model + index ------------------------------------------------ */

typedef struct athsql_entry {
	sqlite3_int64 id;
	long refs; /* the registry's, plus one per cursor using it */
	anthem_model *m;
	anthem_index *ix;
	size_t count;
	/* product id -> index position: open addressing, power-of-two
	 * capacity, slots hold position + 1 (0 = empty) */
	size_t *slots;
	size_t mask;
} athsql_entry;

static uint64_t athsql_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

static void athsql_entry_release(athsql_entry *e)
{
	if (!e || --e->refs > 0)
		return;
	anthem_index_free(e->ix);
	anthem_model_free(e->m);
	sqlite3_free(e->slots);
	sqlite3_free(e);
}

/* The first product of the index with that id wins (a catalogue has no
 * duplicate ids, but an index file is not ours to trust). */
static int athsql_entry_build_map(athsql_entry *e)
{
	size_t cap = 16;
	while (cap < 2 * e->count + 1) {
		if (cap > SIZE_MAX / 4 / sizeof *e->slots)
			return SQLITE_NOMEM;
		cap *= 2;
	}
	e->slots = sqlite3_malloc64((sqlite3_uint64)cap * sizeof *e->slots);
	if (!e->slots)
		return SQLITE_NOMEM;
	memset(e->slots, 0, cap * sizeof *e->slots);
	e->mask = cap - 1;
	for (size_t i = 0; i < e->count; i++) {
		const char *id = anthem_index_id(e->ix, i);
		if (!id)
			continue;
		size_t len = strlen(id);
		for (size_t s = athsql_hash(id, len) & e->mask;; s = (s + 1) & e->mask) {
			if (!e->slots[s]) {
				e->slots[s] = i + 1;
				break;
			}
			if (!strcmp(anthem_index_id(e->ix, e->slots[s] - 1), id))
				break;
		}
	}
	return SQLITE_OK;
}

/* Index position of a product id, or SIZE_MAX. */
static size_t athsql_entry_find(const athsql_entry *e, const char *id, size_t len)
{
	for (size_t s = athsql_hash(id, len) & e->mask; e->slots[s];
	     s = (s + 1) & e->mask) {
		size_t pos = e->slots[s] - 1;
		const char *other = anthem_index_id(e->ix, pos);
		if (strlen(other) == len && !memcmp(other, id, len))
			return pos;
	}
	return SIZE_MAX;
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
	if (athsql_entry_build_map(e)) {
		sqlite3_result_error_nomem(ctx);
		athsql_entry_release(e);
		return;
	}
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
	size_t pos = athsql_entry_find(e, id, (size_t)sqlite3_value_bytes(argv[2]));
	if (pos == SIZE_MAX)
		return; /* unknown product: NULL */
	float d;
	int rc = anthem_score(e->m, e->ix, query, &pos, 1, &d);
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
	ATHSQL_COL_HANDLE, /* hidden: the arguments */
	ATHSQL_COL_QUERY,
	ATHSQL_COL_K,
};
#define ATHSQL_NARGS 3

typedef struct athsql_vtab {
	sqlite3_vtab base;
	athsql_registry *r;
} athsql_vtab;

typedef struct athsql_cursor {
	sqlite3_vtab_cursor base;
	athsql_entry *e; /* referenced while the cursor holds results */
	anthem_hit *hits;
	size_t n, pos;
	sqlite3_int64 handle, k;
	char *query;
} athsql_cursor;

static int athsql_vt_connect(sqlite3 *db, void *aux, int argc,
			     const char *const *argv, sqlite3_vtab **out,
			     char **err)
{
	int rc = sqlite3_declare_vtab(db,
		"CREATE TABLE x(product_id TEXT, title TEXT, distance REAL, "
		"rank INTEGER, handle HIDDEN, query HIDDEN, k HIDDEN)");
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

/* idxNum: bit i set if argument i (handle, query, k) is passed; they come
 * in that order in xFilter's argv. */
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
	if ((seen & 3) != 3) {
		athsql_vt_error(vt, sqlite3_mprintf(
			"anthem_search: pass a handle and a query, as in "
			"anthem_search(handle, query [, k])"));
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
	/* rows come best first: by distance and by rank */
	if (info->nOrderBy == 1 && !info->aOrderBy[0].desc &&
	    (info->aOrderBy[0].iColumn == ATHSQL_COL_DISTANCE ||
	     info->aOrderBy[0].iColumn == ATHSQL_COL_RANK))
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
	cur->query = NULL;
	cur->n = cur->pos = 0;
	cur->handle = cur->k = 0;
}

static int athsql_vt_close(sqlite3_vtab_cursor *base)
{
	athsql_cursor *cur = (athsql_cursor *)base;
	athsql_cursor_reset(cur);
	sqlite3_free(cur);
	return SQLITE_OK;
}

static int athsql_vt_filter(sqlite3_vtab_cursor *base, int idx_num,
			    const char *idx_str, int argc, sqlite3_value **argv)
{
	athsql_cursor *cur = (athsql_cursor *)base;
	sqlite3_vtab *vt = base->pVtab;
	athsql_registry *r = ((athsql_vtab *)vt)->r;
	athsql_cursor_reset(cur);
	sqlite3_value *args[ATHSQL_NARGS] = {NULL, NULL, NULL};
	for (int arg = 0, j = 0; arg < ATHSQL_NARGS; arg++)
		if ((idx_num & (1 << arg)) && j < argc)
			args[arg] = argv[j++];
	if (!args[0] || !args[1]) /* xBestIndex never lets that through */
		return SQLITE_ERROR;

	char *err = NULL;
	athsql_entry *e = athsql_handle(r, args[0], "anthem_search", &err);
	if (!e) {
		athsql_vt_error(vt, err);
		return err ? SQLITE_ERROR : SQLITE_NOMEM;
	}
	sqlite3_int64 k = ATHSQL_DEFAULT_K;
	if (args[2]) {
		if (sqlite3_value_numeric_type(args[2]) != SQLITE_INTEGER ||
		    (k = sqlite3_value_int64(args[2])) < 0) {
			athsql_vt_error(vt, sqlite3_mprintf(
				"anthem_search: k must be an integer >= 0"));
			return SQLITE_ERROR;
		}
	}
	int tq = sqlite3_value_type(args[1]);
	if (tq == SQLITE_BLOB) {
		athsql_vt_error(vt, sqlite3_mprintf(
			"anthem_search: the query must be text"));
		return SQLITE_ERROR;
	}
	cur->handle = e->id;
	cur->k = k;
	if (tq == SQLITE_NULL || k == 0)
		return SQLITE_OK; /* no rows */
	const char *query = (const char *)sqlite3_value_text(args[1]);
	if (!query)
		return SQLITE_NOMEM;
	cur->query = sqlite3_mprintf("%s", query);
	size_t want = (sqlite3_uint64)k < e->count ? (size_t)k : e->count;
	if (!cur->query || (want && !(cur->hits = sqlite3_malloc64(
			(sqlite3_uint64)want * sizeof *cur->hits))))
		return SQLITE_NOMEM;
	if (!want)
		return SQLITE_OK;
	size_t n = 0;
	int rc = anthem_search(e->m, e->ix, cur->query, want, ATHSQL_K1,
			       cur->hits, &n);
	if (rc) {
		if (rc == ANTHEM_ENOMEM)
			return SQLITE_NOMEM;
		athsql_vt_error(vt, sqlite3_mprintf("%s", athsql_anthem_message(rc)));
		return SQLITE_ERROR;
	}
	cur->n = n;
	cur->e = e;
	e->refs++;
	return SQLITE_OK;
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

static int athsql_vt_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx,
			    int col)
{
	const athsql_cursor *cur = (const athsql_cursor *)base;
	if (col == ATHSQL_COL_HANDLE) {
		sqlite3_result_int64(ctx, cur->handle);
		return SQLITE_OK;
	}
	if (col == ATHSQL_COL_QUERY) {
		if (cur->query)
			sqlite3_result_text(ctx, cur->query, -1, SQLITE_TRANSIENT);
		return SQLITE_OK;
	}
	if (col == ATHSQL_COL_K) {
		sqlite3_result_int64(ctx, cur->k);
		return SQLITE_OK;
	}
	if (cur->pos >= cur->n)
		return SQLITE_OK;
	const anthem_hit *h = &cur->hits[cur->pos];
	switch (col) {
	case ATHSQL_COL_PRODUCT_ID:
		sqlite3_result_text(ctx, anthem_index_id(cur->e->ix, h->index), -1,
				    SQLITE_TRANSIENT);
		break;
	case ATHSQL_COL_TITLE:
		sqlite3_result_text(ctx, anthem_index_title(cur->e->ix, h->index),
				    -1, SQLITE_TRANSIENT);
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
