/*
 * core/ext.c - the seam for parts built on the store (minqing/ext.h): a part
 * keeps tables of its own, named with its prefix, in the replica's file and
 * runs SQL on them through the store's connection, in the store's
 * transaction, without ever holding the connection.
 *
 * Invariants:
 *   E1. Every statement of a part is prepared with authorize() installed as
 *       the connection's authorizer, and nowhere else: so it names only
 *       tables and indexes of the main database that begin with the part's
 *       prefix (and the schema table, which SQLite guards itself), and opens
 *       no transaction, attaches nothing and sets no pragma; VACUUM, which
 *       the authorizer never sees, is refused by its keyword.  The authorizer
 *       is removed before the statement runs, so a row callback can call the
 *       core, whose statements are never checked.
 *   E2. No core table begins with a part's prefix, nor one part's prefix
 *       with another's (prefix_free()), so E1 keeps every part inside its own
 *       tables.  core_tables[] must list every table that store.c creates.
 *   E3. A cached statement is reset, with its bindings cleared, whenever no
 *       run is stepping it; a run that finds its statement busy (a row
 *       callback running the same SQL) prepares a fresh one for itself.
 *   E4. A part's schema ran to its end before its handle was first
 *       returned; handles live in the store's list until mq_store_close().
 *
 * SQLite re-prepares a cached statement by itself after a schema change,
 * without the authorizer; that re-prepare compiles the same, already
 * checked, text against the same main database (parts cannot create
 * temporary tables that would shadow their names), so E1 still holds.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "minqing/ext.h"

/* Statements kept per part; a part that runs more distinct texts than this
 * gets the rest prepared and finalized on every run. */
#define CACHE_MAX 32
/* Columns a row carries on the stack; wider rows allocate. */
#define ROW_STACK  16
#define PREFIX_MAX 32

/* The core's tables (store.c); its indexes begin with their table's name. */
static const char *const core_tables[] = {"meta", "record", "change", "conflict",
                                          "rejected"};

typedef struct cached {
    char *sql;
    sqlite3_stmt *st;
    int busy; /* E3: 1 while a run is stepping st */
} cached;

struct mq_ext {
    mq_ext *next;
    mq_store *store;
    char prefix[PREFIX_MAX + 1];
    char *schema;
    cached cache[CACHE_MAX];
    size_t ncached;
    int64_t changes;
    char refused[200]; /* what authorize() refused first, for the error */
};

static int starts_with(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return sqlite3_strnicmp(s, prefix, (int)n) == 0;
}

static int valid_prefix(const char *p)
{
    size_t n = p != NULL ? strlen(p) : 0;

    if (n < 2 || n > PREFIX_MAX || p[0] < 'a' || p[0] > 'z' || p[n - 1] != '_')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
              p[i] == '_'))
            return 0;
    return 1;
}

/* E2: why `prefix` would reach tables that are not the part's, or NULL. */
static const char *prefix_clash(const mq_store *s, const char *prefix, const char **with)
{
    for (size_t i = 0; i < sizeof(core_tables) / sizeof(core_tables[0]); i++)
        if (starts_with(prefix, core_tables[i]) || starts_with(core_tables[i], prefix)) {
            *with = core_tables[i];
            return "the core's table";
        }
    if (starts_with(prefix, "sqlite_") || starts_with(prefix, "mq_")) {
        *with = starts_with(prefix, "mq_") ? "mq_" : "sqlite_";
        return "the names reserved by";
    }
    for (const mq_ext *x = s->exts; x != NULL; x = x->next)
        if (starts_with(prefix, x->prefix) || starts_with(x->prefix, prefix)) {
            *with = x->prefix;
            return "the tables of part";
        }
    return NULL;
}

static int ours(const mq_ext *x, const char *name)
{
    return name != NULL && starts_with(name, x->prefix);
}

static int schema_table(const char *name)
{
    return name != NULL &&
           (sqlite3_stricmp(name, "sqlite_master") == 0 ||
            sqlite3_stricmp(name, "sqlite_schema") == 0 ||
            /* AUTOINCREMENT keeps its counters here; no core table uses it */
            sqlite3_stricmp(name, "sqlite_sequence") == 0);
}

/* Table-valued functions that only compute: json_each('[1,2]'). */
static int pure_table(const char *name)
{
    return name != NULL && (sqlite3_stricmp(name, "json_each") == 0 ||
                            sqlite3_stricmp(name, "json_tree") == 0);
}

/*
 * 1 when the statement in `sql` begins with the keyword `word`.  VACUUM,
 * which rewrites the whole file (VACUUM INTO copies it elsewhere), never
 * reaches the authorizer, so prepare() looks for it here.
 */
static int begins_with_word(const char *sql, const char *word)
{
    size_t n = strlen(word);

    for (;;) {
        while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r' ||
               *sql == '\f' || *sql == '\v')
            sql++;
        if (sql[0] == '-' && sql[1] == '-') {
            while (*sql != '\0' && *sql != '\n')
                sql++;
        } else if (sql[0] == '/' && sql[1] == '*') {
            const char *end = strstr(sql + 2, "*/");
            if (end == NULL)
                return 0;
            sql = end + 2;
        } else {
            break;
        }
    }
    if (sqlite3_strnicmp(sql, word, (int)n) != 0)
        return 0;
    char c = sql[n];
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_');
}

/* Notes the first refusal of a statement, for prepare()'s message. */
static int deny(mq_ext *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int deny(mq_ext *x, const char *fmt, ...)
{
    if (x->refused[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->refused, sizeof(x->refused), fmt, ap);
        va_end(ap);
    }
    return SQLITE_DENY;
}

static const char *verb_of(int action)
{
    switch (action) {
    case SQLITE_READ:
        return "reads";
    case SQLITE_INSERT:
        return "inserts into";
    case SQLITE_UPDATE:
        return "updates";
    case SQLITE_DELETE:
        return "deletes from";
    case SQLITE_CREATE_TABLE:
        return "creates";
    case SQLITE_DROP_TABLE:
        return "drops";
    case SQLITE_CREATE_INDEX:
        return "creates an index on";
    case SQLITE_DROP_INDEX:
        return "drops an index of";
    default:
        return NULL;
    }
}

/* E1: the connection's authorizer while a part's statement is prepared. */
static int authorize(void *ctx, int action, const char *a1, const char *a2,
                     const char *db, const char *via)
{
    mq_ext *x = ctx;
    const char *verb = verb_of(action);

    (void)via;
    if (action == SQLITE_SELECT || action == SQLITE_FUNCTION ||
        action == SQLITE_RECURSIVE)
        return SQLITE_OK;
    if (verb != NULL) {
        /* a1 is the table, or for indexes the index and a2 its table */
        int index = action == SQLITE_CREATE_INDEX || action == SQLITE_DROP_INDEX;
        const char *table = index ? a2 : a1;
        if (db != NULL && sqlite3_stricmp(db, "main") != 0)
            return deny(x, "a statement that %s table \"%s\" of database \"%s\"", verb,
                        table ? table : "", db);
        if (!ours(x, table) && !(!index && schema_table(table)) &&
            !(action == SQLITE_READ && pure_table(table)))
            return deny(x, "a statement that %s table \"%s\"", verb, table ? table : "");
        /* UNIQUE and PRIMARY KEY constraints make sqlite_autoindex_TABLE_N */
        if (index && !ours(x, a1) && !starts_with(a1 ? a1 : "", "sqlite_autoindex_"))
            return deny(x, "index \"%s\"", a1 ? a1 : "");
        return SQLITE_OK;
    }
    switch (action) {
    case SQLITE_REINDEX:
        if (ours(x, a1))
            return SQLITE_OK;
        return deny(x, "REINDEX of \"%s\"", a1 ? a1 : "");
    case SQLITE_PRAGMA:
        return deny(x, "PRAGMA %s", a1 ? a1 : "");
    case SQLITE_ATTACH:
        return deny(x, "ATTACH");
    case SQLITE_DETACH:
        return deny(x, "DETACH");
    case SQLITE_TRANSACTION:
        return deny(x,
                    "%s (a part's statements run in the transaction of "
                    "mq_store_begin())",
                    a1 ? a1 : "");
    case SQLITE_SAVEPOINT:
        return deny(x,
                    "SAVEPOINT %s (a part's statements run in the transaction of "
                    "mq_store_begin())",
                    a2 ? a2 : "");
    case SQLITE_ALTER_TABLE:
        return deny(x, "ALTER TABLE \"%s\" (a part's schema grows by new tables)",
                    a2 ? a2 : "");
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_TEMP_TRIGGER:
        return deny(x, "CREATE TRIGGER \"%s\"", a1 ? a1 : "");
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_TEMP_VIEW:
        return deny(x, "CREATE VIEW \"%s\"", a1 ? a1 : "");
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
        return deny(x, "temporary table or index \"%s\"", a1 ? a1 : "");
    default:
        /* drops of triggers, views and temporary objects, virtual tables,
         * ANALYZE: none is needed, and each could reach past the prefix */
        return deny(x, "this kind of statement (SQLite authorizer action %d)", action);
    }
}

/* `sql`, shortened, for messages. */
static void quote_sql(char *out, size_t n, const char *sql)
{
    size_t len = strlen(sql);
    if (len <= 60)
        snprintf(out, n, "\"%s\"", sql);
    else
        snprintf(out, n, "\"%.56s...\"", sql);
}

/*
 * Prepares one statement of `x` under its authorizer (E1).  On success *st
 * is the statement, or NULL when `sql` holds only comments; *tail points
 * past it.
 */
static int prepare(mq_ext *x, const char *sql, unsigned flags, sqlite3_stmt **st,
                   const char **tail, mq_error *err)
{
    sqlite3 *db = x->store->db;
    char q[80];
    int rc = SQLITE_AUTH;

    x->refused[0] = '\0';
    *st = NULL;
    if (begins_with_word(sql, "VACUUM")) {
        snprintf(x->refused, sizeof(x->refused), "VACUUM, which rewrites the whole file");
    } else {
        sqlite3_set_authorizer(db, authorize, x);
        rc = sqlite3_prepare_v3(db, sql, -1, flags, st, tail);
        sqlite3_set_authorizer(db, NULL, NULL);
        if (rc == SQLITE_OK)
            return 0;
    }
    quote_sql(q, sizeof(q), sql);
    if (rc == SQLITE_AUTH || x->refused[0] != '\0')
        return mq__fail(err, MQ_EREFUSED,
                        "part %s: %s refuses %s: a part reads and writes only its own "
                        "tables, named %s*",
                        x->prefix, q, x->refused[0] ? x->refused : "the statement",
                        x->prefix);
    if ((rc & 0xff) == SQLITE_ERROR)
        return mq_error_set(
            err, MQ_EINVAL, MQ_DOMAIN_SQLITE, sqlite3_extended_errcode(db),
            "part %s: cannot compile %s: %s", x->prefix, q, sqlite3_errmsg(db));
    char what[160];
    snprintf(what, sizeof(what), "part %s: preparing %s", x->prefix, q);
    return mq__fail_sqlite(err, db, what);
}

/*
 * Runs the part's schema (E4), each statement a transaction of its own:
 * over tables that exist, CREATE ... IF NOT EXISTS only reads, so a store
 * opened while another connection writes does not wait for the write lock;
 * after a failure half way, the next declaration finishes the job.
 */
static int run_schema(mq_ext *x, mq_error *err)
{
    const char *sql = x->schema;
    int rc = 0;

    while (rc == 0 && sql != NULL && *sql != '\0') {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        if ((rc = prepare(x, sql, 0, &st, &tail, err)) != 0 || st == NULL)
            break;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (step != SQLITE_DONE) {
            char q[80], what[160];
            quote_sql(q, sizeof(q), sql);
            snprintf(what, sizeof(what), "part %s: schema %s", x->prefix, q);
            rc = mq__fail_sqlite(err, x->store->db, what);
        }
        sqlite3_finalize(st);
        sql = tail;
    }
    return rc;
}

static void ext_free(mq_ext *x)
{
    for (size_t i = 0; i < x->ncached; i++) {
        sqlite3_finalize(x->cache[i].st);
        free(x->cache[i].sql);
    }
    free(x->schema);
    free(x);
}

void mq__ext_free(mq_store *s)
{
    while (s->exts != NULL) {
        mq_ext *x = s->exts;
        s->exts = x->next;
        ext_free(x);
    }
}

int mq_ext_open(mq_ext **out, mq_store *s, const char *prefix, const char *schema,
                mq_error *err)
{
    const char *why, *with = NULL;

    *out = NULL;
    if (schema == NULL)
        schema = "";
    for (mq_ext *x = s->exts; x != NULL; x = x->next) {
        if (prefix == NULL || strcmp(x->prefix, prefix) != 0)
            continue;
        if (strcmp(x->schema, schema) != 0)
            return mq__fail(
                err, MQ_ESTATE,
                "part %s is already declared on this store with another schema", prefix);
        *out = x;
        return 0;
    }
    if (!valid_prefix(prefix))
        return mq__fail(err, MQ_EINVAL,
                        "part prefix \"%s\": 2 to %d characters of a-z 0-9 _, beginning "
                        "with a letter and ending with _",
                        prefix ? prefix : "", PREFIX_MAX);
    if ((why = prefix_clash(s, prefix, &with)) != NULL)
        return mq__fail(err, MQ_EREFUSED,
                        "part prefix \"%s\" would reach %s \"%s\"; choose another",
                        prefix, why, with);
    if (s->tx_depth > 0)
        return mq__fail(err, MQ_ESTATE,
                        "part %s: declare it (mq_ext_open) before mq_store_begin(), so "
                        "that a rollback cannot take its tables away",
                        prefix);

    mq_ext *x = calloc(1, sizeof(*x));
    if (x == NULL || (x->schema = mq__strdup(schema)) == NULL) {
        free(x);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    x->store = s;
    memcpy(x->prefix, prefix, strlen(prefix) + 1);
    int rc = run_schema(x, err);
    if (rc != 0) {
        ext_free(x);
        return rc;
    }
    x->next = s->exts;
    s->exts = x;
    *out = x;
    return 0;
}

/*
 * Finds or prepares the statement for `sql` (E3).  *slot is its cache entry,
 * or NULL for a statement the caller finalizes after the run.
 */
static int statement(mq_ext *x, const char *sql, cached **slot, sqlite3_stmt **out,
                     mq_error *err)
{
    *slot = NULL;
    *out = NULL;
    for (size_t i = 0; i < x->ncached; i++) {
        cached *c = &x->cache[i];
        if (strcmp(c->sql, sql) != 0)
            continue;
        if (c->busy)
            break; /* run again from its own row callback: a fresh one */
        *slot = c;
        *out = c->st;
        return 0;
    }

    sqlite3_stmt *st = NULL, *extra = NULL;
    const char *tail = NULL;
    int keep = x->ncached < CACHE_MAX;
    int rc = prepare(x, sql, keep ? SQLITE_PREPARE_PERSISTENT : 0, &st, &tail, err);
    if (rc != 0)
        return rc;
    /* One statement per text: what follows may only be comments. */
    if (st != NULL && tail != NULL && *tail != '\0' &&
        (prepare(x, tail, 0, &extra, NULL, NULL) != 0 || extra != NULL)) {
        char q[80];
        sqlite3_finalize(extra);
        sqlite3_finalize(st);
        quote_sql(q, sizeof(q), sql);
        return mq__fail(err, MQ_EINVAL, "part %s: %s holds more than one statement",
                        x->prefix, q);
    }
    if (st == NULL) {
        char q[80];
        quote_sql(q, sizeof(q), sql);
        return mq__fail(err, MQ_EINVAL, "part %s: %s holds no statement", x->prefix, q);
    }
    if (keep) {
        char *copy = mq__strdup(sql);
        if (copy == NULL) {
            sqlite3_finalize(st);
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        }
        cached *c = &x->cache[x->ncached++];
        c->sql = copy;
        c->st = st;
        c->busy = 0;
        *slot = c;
    }
    *out = st;
    return 0;
}

static int bind_params(mq_ext *x, sqlite3_stmt *st, const char *sql,
                       const mq_ext_value *params, size_t n, mq_error *err)
{
    int want = sqlite3_bind_parameter_count(st);
    char q[80];

    if ((size_t)want != n || (n > 0 && params == NULL)) {
        quote_sql(q, sizeof(q), sql);
        return mq__fail(err, MQ_EINVAL, "part %s: %s takes %d parameters, %zu given",
                        x->prefix, q, want, n);
    }
    for (size_t i = 0; i < n; i++) {
        const mq_ext_value *v = &params[i];
        int col = (int)i + 1, rc;
        /* SQLITE_STATIC: the values are the caller's for the whole call, and
         * the bindings are cleared before mq_ext_run() returns. */
        switch (v->type) {
        case MQ_EXT_NULL:
            rc = sqlite3_bind_null(st, col);
            break;
        case MQ_EXT_INT:
            rc = sqlite3_bind_int64(st, col, v->i);
            break;
        case MQ_EXT_REAL:
            rc = sqlite3_bind_double(st, col, v->d);
            break;
        case MQ_EXT_TEXT:
            rc = v->text != NULL ? sqlite3_bind_text(st, col, v->text, -1, SQLITE_STATIC)
                                 : sqlite3_bind_null(st, col);
            break;
        case MQ_EXT_BLOB:
            rc = v->blob != NULL
                     ? sqlite3_bind_blob64(st, col, v->blob, (sqlite3_uint64)v->len,
                                           SQLITE_STATIC)
                     : sqlite3_bind_zeroblob(st, col, 0);
            break;
        default:
            quote_sql(q, sizeof(q), sql);
            return mq__fail(err, MQ_EINVAL, "part %s: %s: parameter %d has no type %d",
                            x->prefix, q, col, (int)v->type);
        }
        if (rc != SQLITE_OK) {
            char what[160];
            quote_sql(q, sizeof(q), sql);
            snprintf(what, sizeof(what), "part %s: binding parameter %d of %s", x->prefix,
                     col, q);
            return mq__fail_sqlite(err, x->store->db, what);
        }
    }
    return 0;
}

static void column(sqlite3_stmt *st, int i, mq_ext_value *v)
{
    memset(v, 0, sizeof(*v));
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        v->type = MQ_EXT_INT;
        v->i = sqlite3_column_int64(st, i);
        break;
    case SQLITE_FLOAT:
        v->type = MQ_EXT_REAL;
        v->d = sqlite3_column_double(st, i);
        break;
    case SQLITE_TEXT:
        v->type = MQ_EXT_TEXT;
        v->text = (const char *)sqlite3_column_text(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        break;
    case SQLITE_BLOB:
        v->type = MQ_EXT_BLOB;
        v->blob = sqlite3_column_blob(st, i);
        v->len = (size_t)sqlite3_column_bytes(st, i);
        break;
    default:
        v->type = MQ_EXT_NULL;
        break;
    }
}

/* Steps `st` to its end, handing rows to on_row; 0, on_row's value or an error. */
static int step_all(mq_ext *x, sqlite3_stmt *st, const char *sql, mq_ext_row_cb on_row,
                    void *ctx, mq_error *err)
{
    mq_ext_value stack[ROW_STACK], *row = stack;
    int ncols = sqlite3_column_count(st), rc = 0, s;

    if (ncols > ROW_STACK && (row = malloc((size_t)ncols * sizeof(*row))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (on_row == NULL)
            continue;
        for (int i = 0; i < ncols; i++)
            column(st, i, &row[i]);
        if ((rc = on_row(ctx, row, (size_t)ncols)) != 0)
            break;
    }
    if (rc == 0 && s == SQLITE_DONE && !sqlite3_stmt_readonly(st))
        x->changes = sqlite3_changes64(x->store->db);
    else if (rc == 0 && s != SQLITE_DONE) {
        char q[80], what[160];
        quote_sql(q, sizeof(q), sql);
        snprintf(what, sizeof(what), "part %s: %s", x->prefix, q);
        rc = mq__fail_sqlite(err, x->store->db, what);
    }
    if (row != stack)
        free(row);
    return rc;
}

int mq_ext_run(mq_ext *x, const char *sql, const mq_ext_value *params, size_t nparams,
               mq_ext_row_cb on_row, void *ctx, mq_error *err)
{
    cached *slot;
    sqlite3_stmt *st;

    x->changes = 0;
    if (sql == NULL)
        return mq__fail(err, MQ_EINVAL, "part %s: no SQL given", x->prefix);
    int rc = statement(x, sql, &slot, &st, err);
    if (rc != 0)
        return rc;
    rc = bind_params(x, st, sql, params, nparams, err);
    if (rc == 0) {
        if (slot != NULL)
            slot->busy = 1;
        rc = step_all(x, st, sql, on_row, ctx, err);
    }
    if (slot != NULL) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        slot->busy = 0;
    } else {
        sqlite3_finalize(st);
    }
    return rc;
}

int64_t mq_ext_changes(const mq_ext *x)
{
    return x->changes;
}

int mq_ext_is_constraint(const mq_error *err)
{
    return err != NULL && err->domain == MQ_DOMAIN_SQLITE &&
           (err->code & 0xff) == SQLITE_CONSTRAINT;
}
