/*
 * core/db.c - the SQLite plumbing every other file of core/ stands on: the
 * prepared statements kept for the life of the store, running SQL that has
 * no result rows, binding and reading text, and the meta key/value table.
 *
 * Nothing here knows what a record or a change is; the statements' SQL is
 * listed here only so that they are prepared once, in one place, and
 * finalised when the store closes.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const stmt_sql[MQ_ST_COUNT] = {
    [MQ_ST_REC_LOAD] =
        "SELECT type, parent, area, deleted, cv, vers, fields FROM record WHERE id = ?1",
    [MQ_ST_REC_UPSERT] =
        ("INSERT INTO record(id, type, parent, area, deleted, cv, vers, fields)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE"
         " SET parent = ?3, area = ?4, deleted = ?5, cv = ?6, vers = ?7, fields = ?8"
         " RETURNING rowid"),
    [MQ_ST_REC_KIND] = "SELECT type, deleted, area FROM record WHERE id = ?1",
    [MQ_ST_CHANGE_INSERT] =
        ("INSERT OR IGNORE INTO change(v, rid, type, by, src, body, base)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
    [MQ_ST_CHANGES_OF] =
        ("SELECT v, body, base, by FROM change"
         " WHERE rid = ?1 AND body IS NOT NULL UNION ALL " MQ__CREATION_ONCE(
             "c.v, r.fields, c.base, c.by", "?1")),
    [MQ_ST_CHILDREN] = "SELECT id FROM record WHERE parent = ?1 AND type <> ?2",
    [MQ_ST_SET_AREA] = "UPDATE record SET area = ?2 WHERE id = ?1 RETURNING type, parent",
    [MQ_ST_CONFLICT_ADD] = "INSERT OR IGNORE INTO conflict(rid, field) VALUES(?1, ?2)",
    [MQ_ST_CONFLICT_DEL] = "DELETE FROM conflict WHERE rid = ?1 AND field = ?2",
    [MQ_ST_CONFLICT_HAS] = "SELECT 1 FROM conflict WHERE rid = ?1 AND field = ?2",
    [MQ_ST_CONFLICTS_OF] = "SELECT field FROM conflict WHERE rid = ?1 ORDER BY field",
    [MQ_ST_PARENT] = "SELECT parent FROM record WHERE id = ?1",
    [MQ_ST_KEEP_CREATION] =
        ("UPDATE change SET body = (SELECT fields FROM record WHERE id = ?1)"
         " WHERE v = (SELECT cv FROM record WHERE id = ?1) AND rid = ?1 AND body IS "
         "NULL"),
    /* OR IGNORE: a taken id is told by sqlite3_changes() (merge.c) */
    [MQ_ST_REC_INSERT] =
        ("INSERT OR IGNORE INTO record(id, type, parent, area, deleted, cv, vers, fields)"
         " VALUES(?1, ?2, ?3, ?4, 0, ?5, NULL, ?6)"),
    /* both terms of record_orphan's WHERE spelt out, so that it is used */
    [MQ_ST_ORPHANS_OF] = ("SELECT id FROM record WHERE parent = ?1 AND area IS NULL"
                          " AND parent IS NOT NULL"),
    [MQ_ST_ANY_ORPHAN] =
        "SELECT 1 FROM record WHERE area IS NULL AND parent IS NOT NULL LIMIT 1",
    /* record_search (search.c): prepared on first use, so only in a store
     * whose schema has it */
    [MQ_ST_SEARCH_PUT] = "INSERT OR REPLACE INTO record_search(rid, text) VALUES(?1, ?2)",
    [MQ_ST_SEARCH_DROP] = "DELETE FROM record_search WHERE rid = ?1",
};

int mq__bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

const char *mq__col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

sqlite3_stmt *mq__stmt(mq_store *s, enum mq__stmt_id id, mq_error *err)
{
    sqlite3_stmt *st = s->stmt[id];

    if (st == NULL) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK) {
            mq__fail_sqlite(err, s->db, "preparing a statement");
            return NULL;
        }
        s->stmt[id] = st;
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    return st;
}

void mq__stmt_free_all(mq_store *s)
{
    for (int i = 0; i < MQ_ST_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
    }
    for (size_t i = 0; i < sizeof(s->dupq) / sizeof(s->dupq[0]); i++) {
        sqlite3_finalize(s->dupq[i].st);
        s->dupq[i].st = NULL;
        s->dupq[i].field = NULL;
    }
}

int mq__exec(mq_store *s, const char *sql, mq_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "SQL");
    return 0;
}

int mq__meta_get(mq_store *s, const char *key, char **out, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    int oom = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
              (*out = mq__strdup(mq__col_text(st, 0))) == NULL;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading settings");
    if (oom)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return 0;
}

int mq__meta_set(mq_store *s, const char *key, const char *value, mq_error *err)
{
    sqlite3_stmt *st;
    const char *sql = value != NULL
                          ? "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)"
                          : "DELETE FROM meta WHERE key = ?1";

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "writing settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (value != NULL)
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "writing settings");
    return 0;
}
