/*
 * core/search.c - the search text: one row of record_search per live
 * record of a type with searchable fields, its rowid the record's, holding
 * those fields' string values joined by U+001F (which no text value holds:
 * validate.c refuses control characters; a value that is not a string
 * counts as empty).  mq_store_search() scans this short text (about 4 MB
 * for a county of 30,000 households) instead of every record's JSON
 * (80 MB).
 *
 * Invariants:
 *   S1  record_search is a function of the record table: each live record
 *       of a searchable type has the row its fields give, and there is no
 *       other row.  `minqing check` derives every row again by SQL and
 *       compares (mq__search_check()).
 *   S2  It is kept in the same transaction as the writes, by the code that
 *       writes a record row, which is four statements (MQ_ST_REC_INSERT,
 *       MQ_ST_REC_UPSERT, MQ_ST_SET_AREA, the import's undo): each is
 *       followed by mq__search_put() or mq__search_drop() (SET_AREA by
 *       neither: the text holds no area).  The text is made in C from the
 *       fields the writer holds parsed.  A trigger would find the rows
 *       without the writers knowing, but it parses the record's JSON again
 *       for each field, and any trigger on a table makes SQLite keep a
 *       statement journal for each insert into it: a township import spent
 *       a tenth of its time in this table's and need_state's triggers.  As
 *       for need_state, a program that writes the record table by another
 *       connection (no minqing program does) leaves record_search behind,
 *       and check says so.
 *   S3  The table's SQL is the schema's: when it changes (a field becomes
 *       searchable, or the store still has the triggers that kept it
 *       before S2) the table is made anew and filled again by SQL, once,
 *       at open, with the expression S1 compares against.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* A growing text for SQL made from the schema; `oom` sticky. */
typedef struct sqltext {
    char *p;
    size_t len, cap;
    int oom;
} sqltext;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sql_add(sqltext *t, const char *fmt, ...)
{
    va_list ap;

    for (int tries = 0; tries < 2 && !t->oom; tries++) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p != NULL ? t->p + t->len : NULL,
                          t->p != NULL ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->p != NULL && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = (t->cap + (size_t)n + 1) * 2;
        char *grown = realloc(t->p, ncap);
        if (grown == NULL) {
            t->oom = 1;
            return;
        }
        if (t->p == NULL)
            grown[0] = '\0';
        t->p = grown;
        t->cap = ncap;
    }
}

/* Whether type `t` has a searchable field. */
static int searchable(const mq_type *t)
{
    for (size_t k = 0; k < t->nfields; k++)
        if (t->fields[k].search)
            return 1;
    return 0;
}

/*
 * The text of a row "NEW" of the record table as SQL (`expr`), and which
 * rows have one (`types`): the same text mq__search_put() makes in C, so
 * that the fill and check agree with it (S1).
 */
static void derivation(const mq_schema *schema, sqltext *expr, sqltext *types)
{
    sql_add(expr, "CASE NEW.type");
    for (size_t i = 0; i < schema->ntypes; i++) {
        const mq_type *t = &schema->types[i];
        int any = 0;
        for (size_t k = 0; k < t->nfields; k++) {
            if (!t->fields[k].search)
                continue;
            if (!any) {
                sql_add(expr, " WHEN '%s' THEN", t->name);
                sql_add(types, "%sNEW.type = '%s'", types->len > 0 ? " OR " : "",
                        t->name);
            }
            /* names are [a-z0-9_] (schema.c), safe to spell in SQL */
            sql_add(expr,
                    "%s CASE json_type(NEW.fields, '$.%s') WHEN 'text'"
                    " THEN json_extract(NEW.fields, '$.%s') ELSE '' END",
                    any ? " || char(31) ||" : "", t->fields[k].name, t->fields[k].name);
            any = 1;
        }
    }
    sql_add(expr, " END");
}

int mq__search_open(mq_store *s, mq_error *err)
{
    sqltext expr = {0}, types = {0}, sql = {0};
    char *have = NULL;
    int rc = 0;

    derivation(s->schema, &expr, &types);
    /* the triggers that kept the table before S2 went, if there */
    sql_add(&sql, "DROP TRIGGER IF EXISTS record_search_ins;"
                  "DROP TRIGGER IF EXISTS record_search_upd;"
                  "DROP TRIGGER IF EXISTS record_search_del;"
                  "DROP TABLE IF EXISTS record_search;");
    if (types.len > 0)
        sql_add(&sql,
                "CREATE TABLE record_search(rid INTEGER PRIMARY KEY, text TEXT NOT NULL);"
                /* "NEW" is each row, as mq__search_check() reads it */
                "INSERT INTO record_search(rid, text) SELECT NEW.rowid, %s"
                " FROM record AS NEW WHERE NEW.deleted = 0 AND (%s);",
                expr.p, types.p);
    if (expr.oom || types.oom || sql.oom)
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mq__meta_get(s, "search_sql", &have, err);
    if (rc == 0 && (have == NULL || strcmp(have, sql.p) != 0)) {
        /* Once per schema, atomically (a savepoint opens a transaction when
         * none is open, and nests in the one of a new store). */
        rc = mq__exec(s, "SAVEPOINT mq_search", err);
        if (rc == 0)
            rc = mq__exec(s, sql.p, err);
        if (rc == 0)
            rc = mq__meta_set(s, "search_sql", sql.p, err);
        if (rc == 0)
            rc = mq__exec(s, "RELEASE mq_search", err);
        else
            sqlite3_exec(s->db, "ROLLBACK TO mq_search; RELEASE mq_search", NULL, NULL,
                         NULL);
    }
    free(have);
    free(expr.p);
    free(types.p);
    free(sql.p);
    return rc;
}

/* The string value of field `name` of `fields`, or "" (S1). */
static const char *value_of(const cJSON *fields, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int mq__search_put(mq_store *s, const mq_type *t, sqlite3_int64 rowid,
                   const cJSON *fields, int deleted, mq_error *err)
{
    if (!searchable(t))
        return 0;
    if (deleted)
        return mq__search_drop(s, t, rowid, err);
    size_t len = 0;
    int n = 0;
    for (size_t k = 0; k < t->nfields; k++)
        if (t->fields[k].search)
            len += strlen(value_of(fields, t->fields[k].name)) + (n++ > 0);
    char *text = malloc(len + 1);
    if (text == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    size_t at = 0;
    n = 0;
    for (size_t k = 0; k < t->nfields; k++) {
        if (!t->fields[k].search)
            continue;
        const char *v = value_of(fields, t->fields[k].name);
        size_t vlen = strlen(v);
        if (n++ > 0)
            text[at++] = '\x1f';
        memcpy(text + at, v, vlen);
        at += vlen;
    }
    text[at] = '\0';
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_SEARCH_PUT, err);
    int rc = 0;
    if (st == NULL) {
        rc = err != NULL ? err->rc : MQ_EIO;
    } else {
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_text(st, 2, text, (int)at, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "keeping the search text");
        sqlite3_reset(st);
    }
    free(text);
    return rc;
}

int mq__search_drop(mq_store *s, const mq_type *t, sqlite3_int64 rowid, mq_error *err)
{
    if (t == NULL || !searchable(t))
        return 0;
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_SEARCH_DROP, err);
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_int64(st, 1, rowid);
    int rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : mq__fail_sqlite(err, s->db, "keeping the search text");
    sqlite3_reset(st);
    return rc;
}

/* `text` for a message: its first 80 bytes and the rest of the character
 * they end in, U+001F shown as " | " (at most 3 x 80 + 3 bytes). */
static void shown(char out[256], const char *text)
{
    size_t o = 0;

    for (size_t i = 0; o + 4 < 256; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\0' || (i >= 80 && (c & 0xC0) != 0x80))
            break;
        if (c == 0x1f) {
            memcpy(out + o, " | ", 3);
            o += 3;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
}

int mq__search_check(mq_store *s, void (*cb)(void *ctx, const char *problem), void *ctx,
                     mq_error *err)
{
    sqltext expr = {0}, types = {0}, want = {0}, stray = {0};
    sqlite3_stmt *st = NULL;
    char msg[768], have[256], give[256];
    int rc = 0, step = SQLITE_DONE;

    derivation(s->schema, &expr, &types);
    if (types.len == 0)
        goto out; /* no table */
    /* each live record whose row is missing or differs... */
    sql_add(&want,
            "SELECT w.type, w.id, x.text, w.text FROM (SELECT NEW.rowid AS rid,"
            " NEW.type AS type, NEW.id AS id, %s AS text FROM record AS NEW"
            " WHERE NEW.deleted = 0 AND (%s)) AS w"
            " LEFT JOIN record_search x ON x.rid = w.rid"
            " WHERE x.text IS NOT w.text ORDER BY w.type, w.id",
            expr.p, types.p);
    /* ...and each row that is no live record's */
    sql_add(&stray,
            "SELECT x.rid, NEW.type, NEW.id FROM record_search x"
            " LEFT JOIN record AS NEW ON NEW.rowid = x.rid"
            " WHERE NEW.rowid IS NULL OR NEW.deleted <> 0 OR NOT (%s) ORDER BY x.rid",
            types.p);
    if (expr.oom || types.oom || want.oom || stray.oom) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(s->db, want.p, -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "checking the search text");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *now = mq__col_text(st, 2);
        shown(give, mq__col_text(st, 3));
        if (now == NULL) {
            snprintf(
                msg, sizeof(msg),
                "record_search: %s %s has no search text; its fields give \"%s\" (S1)",
                mq__col_text(st, 0), mq__col_text(st, 1), give);
        } else {
            shown(have, now);
            snprintf(msg, sizeof(msg),
                     "record_search: %s %s: search text is \"%s\", its fields give \"%s\""
                     " (S1)",
                     mq__col_text(st, 0), mq__col_text(st, 1), have, give);
        }
        cb(ctx, msg);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (step != SQLITE_DONE ||
        sqlite3_prepare_v2(s->db, stray.p, -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "checking the search text");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = mq__col_text(st, 2);
        if (id == NULL)
            snprintf(msg, sizeof(msg), "record_search: row %lld names no record (S1)",
                     (long long)sqlite3_column_int64(st, 0));
        else
            snprintf(msg, sizeof(msg),
                     "record_search: row %lld is %s %s's, which is deleted or not"
                     " searchable (S1)",
                     (long long)sqlite3_column_int64(st, 0), mq__col_text(st, 1), id);
        cb(ctx, msg);
    }
    if (step != SQLITE_DONE)
        rc = mq__fail_sqlite(err, s->db, "checking the search text");
out:
    sqlite3_finalize(st);
    free(expr.p);
    free(types.p);
    free(want.p);
    free(stray.p);
    return rc;
}
