/*
 * minqing/ext.h - tables of a part built on the store, kept in the replica's
 * own file and written in the same transaction as the changes they account
 * for.
 *
 * The sync server is such a part: its enrolled devices, their areas, the
 * hashes of their tokens and the answer to every pushed batch live beside the
 * core's tables, and a pushed batch, its answer and the device's counters
 * commit or roll back together.  A part never sees the SQLite connection: it
 * declares a table prefix and a schema once per store, then runs SQL
 * statements with typed parameters and reads typed rows.
 *
 * What a part may touch.  While a part's statement is prepared, the core
 * checks every table and index it names: each must begin with the part's
 * prefix and live in the main database (the schema table, and the
 * table-valued functions json_each and json_tree, may be read too).  The
 * core's tables (record, change, conflict, meta, rejected), other parts'
 * tables, PRAGMA, ATTACH, DETACH, BEGIN, COMMIT, SAVEPOINT, VACUUM, ANALYZE,
 * triggers, views, temporary and virtual tables and ALTER TABLE are refused
 * with MQ_EREFUSED and a message that names the table or the statement.  A
 * part's schema grows by new tables and indexes.
 *
 * Transactions.  A statement runs inside the transaction the caller opened
 * with mq_store_begin() when one is open, and commits or rolls back with it;
 * otherwise it is a transaction of its own.  A statement that breaks a
 * constraint undoes only itself; after any failure inside a transaction the
 * caller decides, and usually calls mq_store_rollback().  A statement that
 * finds the file locked by another writer waits for it, as long as the
 * core's own statements do.
 *
 * Errors come back as everywhere in minqing (minqing/error.h): an SQLite
 * failure is MQ_ENOMEM, MQ_ECORRUPT or MQ_EIO with domain MQ_DOMAIN_SQLITE,
 * the SQLite extended result code and SQLite's message; an SQL text that
 * SQLite cannot compile is MQ_EINVAL in that same domain; a refused table or
 * statement is MQ_EREFUSED in the minqing domain.
 *
 * Ownership, for every function here: the mq_ext handle belongs to its
 * store and is freed by mq_store_close(); strings handed in are borrowed for
 * the duration of the call (the prefix and schema are copied); values handed
 * to a row callback are borrowed until the callback returns.  Like its
 * store, an mq_ext is used by one thread at a time.
 */
#ifndef MINQING_EXT_H
#define MINQING_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One part's tables on one store: prefix, schema and prepared statements. */
typedef struct mq_ext mq_ext;

/** The type of a parameter or a column value. */
typedef enum mq_ext_type {
    MQ_EXT_NULL = 0, /**< SQL NULL */
    MQ_EXT_INT = 1,  /**< a 64-bit integer, in `i` */
    MQ_EXT_REAL = 2, /**< a floating-point number, in `d` */
    MQ_EXT_TEXT = 3, /**< UTF-8 text, in `text` */
    MQ_EXT_BLOB = 4  /**< bytes, in `blob` and `len` */
} mq_ext_type;

/**
 * A typed value: a parameter bound to a statement, or a column of a result
 * row.  Only the member that `type` names is meaningful.
 *
 * As a parameter, `text` is NUL-terminated (`len` is not read) and `blob`
 * holds `len` bytes; both are borrowed for the call.  In a result row, `text`
 * is NUL-terminated and `len` is its length in bytes without the terminator;
 * `text` and `blob` are borrowed until the row callback returns.
 */
typedef struct mq_ext_value {
    mq_ext_type type;
    int64_t i;
    double d;
    const char *text;
    const void *blob;
    size_t len;
} mq_ext_value;

/** A NULL parameter. */
static inline mq_ext_value mq_ext_null(void)
{
    mq_ext_value v = {MQ_EXT_NULL, 0, 0.0, NULL, NULL, 0};
    return v;
}

/** An integer parameter. */
static inline mq_ext_value mq_ext_int(int64_t i)
{
    mq_ext_value v = {MQ_EXT_INT, i, 0.0, NULL, NULL, 0};
    return v;
}

/** A text parameter; a NULL `text` gives a NULL parameter. */
static inline mq_ext_value mq_ext_text(const char *text)
{
    mq_ext_value v = {text != NULL ? MQ_EXT_TEXT : MQ_EXT_NULL, 0, 0.0, text, NULL, 0};
    return v;
}

/** A blob parameter of `len` bytes (a NULL `blob` with len 0 is an empty blob). */
static inline mq_ext_value mq_ext_blob(const void *blob, size_t len)
{
    mq_ext_value v = {MQ_EXT_BLOB, 0, 0.0, NULL, blob, len};
    return v;
}

/**
 * A row of a statement's result.  `cols` holds `ncols` values, borrowed
 * until the callback returns.  Return 0 to go on, non-zero to stop: the
 * statement is then reset and mq_ext_run() returns that value.  The callback
 * may call any function of the store, mq_ext_run() included.
 */
typedef int (*mq_ext_row_cb)(void *ctx, const mq_ext_value *cols, size_t ncols);

/**
 * Declares part `prefix` on `store` and returns its handle.
 *
 * The first call for a prefix on a store runs `schema` (one or more SQL
 * statements, typically CREATE TABLE IF NOT EXISTS and CREATE INDEX IF NOT
 * EXISTS, each checked as described at the top of this header) and must
 * come outside any transaction, so that the tables exist for good once it
 * returns.  Later calls with the same prefix and schema return the same
 * handle at the cost of a lookup, inside a transaction or not.
 *
 * A prefix is 2 to 32 characters of a-z, 0-9 and _, begins with a letter and
 * ends with "_"; it may not begin with the name of a core table, nor with
 * "sqlite_" or "mq_", nor overlap the prefix of another part of this store.
 *
 * @param[out] out  the part's handle, owned by `store`: valid until
 *                  mq_store_close(store), never freed by the caller
 * @param store     the store the part's tables live in
 * @param prefix    the part's table prefix, e.g. "sync_"
 * @param schema    the part's schema; the same text on every call
 * @param err       filled on failure (may be NULL)
 * @return 0; MQ_EINVAL for a malformed prefix or schema; MQ_EREFUSED for a
 *         prefix that collides or a schema statement that is not the part's
 *         own; MQ_ESTATE for a first declaration inside a transaction, or a
 *         prefix declared before with another schema; or an SQLite failure
 */
int mq_ext_open(mq_ext **out, mq_store *store, const char *prefix, const char *schema,
                mq_error *err);

/**
 * Runs one SQL statement of the part, with `nparams` parameters bound in
 * order to its ?, ?N or :name placeholders, and hands each result row to
 * `on_row`.
 *
 * The statement is prepared (and checked) the first time its text is run on
 * this handle and kept, reset between runs, until mq_store_close(): the SQL
 * text is the cache's key, so write it as a constant and bind what varies.
 *
 * @param ext      the part, from mq_ext_open()
 * @param sql      exactly one SQL statement
 * @param params   `nparams` values (may be NULL when nparams is 0); their
 *                 count must be the statement's parameter count
 * @param on_row   called for each result row; NULL to ignore rows
 * @param ctx      passed to on_row
 * @param err      filled on failure (may be NULL); not touched when on_row
 *                 stops the walk
 * @return 0; MQ_EINVAL for SQL that does not compile, holds more than one
 *         statement, or takes another number of parameters; MQ_EREFUSED for
 *         a statement that is not the part's own; MQ_EIO, MQ_ENOMEM or
 *         MQ_ECORRUPT (domain MQ_DOMAIN_SQLITE) when SQLite fails, a broken
 *         constraint included (see mq_ext_is_constraint()); or the non-zero
 *         value on_row returned
 */
int mq_ext_run(mq_ext *ext, const char *sql, const mq_ext_value *params, size_t nparams,
               mq_ext_row_cb on_row, void *ctx, mq_error *err);

/**
 * The number of rows that the last statement run through `ext` inserted,
 * updated or deleted (0 after a query, or after a statement that failed).
 */
int64_t mq_ext_changes(const mq_ext *ext);

/**
 * 1 when `err` holds an SQLite constraint failure (UNIQUE, PRIMARY KEY, NOT
 * NULL, CHECK, FOREIGN KEY), the failure a part turns into its own "already
 * exists" message; else 0.  NULL-safe.
 */
int mq_ext_is_constraint(const mq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_EXT_H */
