/*
 * core/store.c - a replica as a whole: opening and closing it, its tables,
 * giving it its identity, and its settings.  Everything else in core/ works
 * on a store this file has opened; nothing here is called from below.
 *
 * The tables (docs/STORE.md has the full story):
 *
 *   meta      key/value: site, cadre, clock and its offset, format version,
 *             settings
 *   record    the current state of every record: one row per id
 *   change    every change ever made or received, in arrival order (seq);
 *             the unique version is what makes delivery idempotent
 *   conflict  (record, field) pairs whose concurrent values differ
 *   rejected  changes this replica could not apply, kept with the reason
 *   need_state  the state of every need now, folded from its actions
 *             (need_state.c)
 *   record_search  the searchable values of every live record (search.c)
 *
 * The change log is the truth; record, conflict, need_state and
 * record_search are derived from it and mq_store_check() proves that they
 * agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_dirty.h"
#include "need_state.h"
#include "search.h"

/*
 * 3: change_rid indexes only the changes with a body of their own.  A
 * creation stored once (M7) is its record's only change and is found through
 * record.cv and change(v), so an import or an initial push writes no entry
 * in it (format 2 indexed every change; opening one migrates it).
 */
#define FORMAT_VERSION 3

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS record("
    "  id TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL,"
    "  parent TEXT,"
    "  area TEXT,"
    "  deleted INTEGER NOT NULL DEFAULT 0,"
    "  cv TEXT NOT NULL,"
    "  vers TEXT,"
    "  fields TEXT NOT NULL"
    ");"
    "CREATE INDEX IF NOT EXISTS record_parent ON record(parent) WHERE parent IS NOT NULL;"
    /* The records waiting for their parent: a new record looks here for the
     * records below it (area.c); in a store whose records arrived parents
     * first it is empty. */
    "CREATE INDEX IF NOT EXISTS record_orphan ON record(parent)"
    " WHERE area IS NULL AND parent IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS change("
    "  seq INTEGER PRIMARY KEY,"
    "  v TEXT NOT NULL UNIQUE,"
    "  rid TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  by TEXT,"
    "  src TEXT,"
    "  body TEXT,"
    "  base TEXT"
    ");"
    "CREATE INDEX IF NOT EXISTS change_rid ON change(rid) WHERE body IS NOT NULL;"
    "CREATE TABLE IF NOT EXISTS conflict("
    "  rid TEXT NOT NULL, field TEXT NOT NULL, PRIMARY KEY(rid, field)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS rejected("
    "  seq INTEGER PRIMARY KEY, change TEXT NOT NULL, source TEXT, reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL);";

int mq_store_setting_get(mq_store *s, const char *key, char **out, mq_error *err)
{
    char full[128];

    snprintf(full, sizeof(full), "setting.%s", key);
    return mq__meta_get(s, full, out, err);
}

int mq_store_setting_set(mq_store *s, const char *key, const char *value, mq_error *err)
{
    char full[128];

    snprintf(full, sizeof(full), "setting.%s", key);
    return mq__meta_set(s, full, value, err);
}

/* Reads identity, clock offset and the greatest version ever seen. */
static int load_state(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = mq__meta_get(s, "site", &v, err);

    if (rc != 0)
        return rc;
    if (v != NULL)
        snprintf(s->site, sizeof(s->site), "%s", v);
    free(v);
    free(s->cadre);
    s->cadre = NULL;
    if ((rc = mq__meta_get(s, "cadre", &s->cadre, err)) != 0)
        return rc;
    if ((rc = mq__clock_offset_load(s, err)) != 0)
        return rc;

    /*
     * The clock resumes from meta; a store that has none yet (it never
     * wrote) resumes above every version it stamped and, within
     * MQ_HLC_MAX_AHEAD_MS, above the newest one it received.
     */
    if ((rc = mq__clock_load(s, err)) != 0 || s->hlc.last != 0)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT (SELECT max(v) FROM change WHERE src IS NULL),"
                           " (SELECT max(v) FROM change WHERE src IS NOT NULL)",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    if (sqlite3_step(st) == SQLITE_ROW) {
        uint64_t clock;
        if (sqlite3_column_type(st, 0) != SQLITE_NULL &&
            mq__version_parse(mq__col_text(st, 0), &clock, NULL) == 0 &&
            clock > s->hlc.last)
            s->hlc.last = clock;
        if (sqlite3_column_type(st, 1) != SQLITE_NULL &&
            mq__version_parse(mq__col_text(st, 1), &clock, NULL) == 0)
            mq__hlc_observe(&s->hlc, clock, mq_store_now_ms(s));
    }
    sqlite3_finalize(st);
    return 0;
}

/*
 * The area tree as a partial index: the parent of every area, and nothing
 * else.  A device's scope is the closure of its areas under this tree
 * (mq__scope_fill); through record_parent that walk would read every
 * household and member below each area only to find they are not areas.
 * The type name is the schema's, so the index is made here, not in
 * schema_sql.
 */
static int area_index(mq_store *s, mq_error *err)
{
    const char *area = mq__area_type_name(s);
    char sql[160];

    if (area[0] == '\0')
        return 0;
    snprintf(sql, sizeof(sql),
             "CREATE INDEX IF NOT EXISTS record_area_tree ON record(parent)"
             " WHERE type = '%s'",
             area);
    return mq__exec(s, sql, err);
}

/*
 * One partial index per field the schema asks not to repeat
 * (warn_duplicate): a put or import looks up the value among the live
 * records of the type (write.c), and `check` groups them (check.c); without
 * it each lookup would read every household.  Names are the schema's,
 * checked to be [a-z0-9_] (schema.c).
 */
static int duplicate_indexes(mq_store *s, mq_error *err)
{
    for (size_t i = 0; i < s->schema->ntypes; i++) {
        const mq_type *t = &s->schema->types[i];
        for (size_t k = 0; k < t->ndups; k++) {
            char sql[320];
            snprintf(sql, sizeof(sql),
                     "CREATE INDEX IF NOT EXISTS record_dup_%s_%s ON"
                     " record(json_extract(fields, '$.%s')) WHERE type = '%s'",
                     t->name, t->dups[k]->name, t->dups[k]->name, t->name);
            int rc = mq__exec(s, sql, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/*
 * Format 2 differs from 3 only in change_rid, which indexed every change:
 * the index is made again, partial, in one transaction.  Another process may
 * be migrating the same file: the format is read again under the write lock.
 */
static int migrate_from_2(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = mq__exec(s, "BEGIN IMMEDIATE", err);

    if (rc != 0)
        return rc;
    if ((rc = mq__meta_get(s, "format", &v, err)) == 0 && v != NULL && atoi(v) == 2) {
        rc = mq__exec(s,
                      "DROP INDEX IF EXISTS change_rid;"
                      "CREATE INDEX change_rid ON change(rid) WHERE body IS NOT NULL;",
                      err);
        if (rc == 0)
            rc = mq__meta_set(s, "format", "3", err);
    }
    free(v);
    if (rc == 0)
        rc = mq__exec(s, "COMMIT", err);
    if (rc != 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int check_format(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = mq__meta_get(s, "format", &v, err);

    if (rc != 0)
        return rc;
    if (v == NULL) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", FORMAT_VERSION);
        return mq__meta_set(s, "format", buf, err);
    }
    int format = atoi(v);
    free(v);
    if (format == 2)
        return migrate_from_2(s, err);
    if (format != FORMAT_VERSION)
        return mq__fail(err, MQ_ESTATE,
                        "%s: store format %d, this minqing reads format %d", s->path,
                        format, FORMAT_VERSION);
    return 0;
}

/*
 * Whether the file is a minqing store, or new: an SQLite file with no table
 * at all (empty, or just created) becomes one; any other (another
 * program's database) is refused before anything is written into it, not
 * even the journal mode.  *fresh says whether the tables are to be made.
 */
static int ours(mq_store *s, int *fresh, mq_error *err)
{
    sqlite3_stmt *st;
    int tables = -1, meta = 0;

    if (sqlite3_prepare_v2(
            s->db,
            "SELECT count(*), coalesce(sum(type = 'table' AND name = 'meta'), 0)"
            " FROM sqlite_master",
            -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        tables = sqlite3_column_int(st, 0);
        meta = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (tables < 0)
        return mq__fail(err, MQ_EIO, "%s: cannot read: %s", s->path,
                        sqlite3_errmsg(s->db));
    *fresh = tables == 0;
    if (tables == 0)
        return 0;
    if (meta == 1 && sqlite3_prepare_v2(s->db, "SELECT 1 FROM meta WHERE key = 'format'",
                                        -1, &st, NULL) == SQLITE_OK) {
        meta = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    } else {
        meta = 0;
    }
    if (!meta)
        return mq__fail(err, MQ_EREFUSED,
                        "%s: an SQLite database of another program (it has tables but "
                        "no minqing meta): not a minqing store; nothing was written",
                        s->path);
    return 0;
}

int mq_store_open(mq_store **out, const char *path, mq_error *err)
{
    mq_store *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    s->orphans = -1;
    if ((s->path = mq__strdup(path)) == NULL) {
        free(s);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    rc = mq__schema_default(&s->schema, err);
    if (rc != 0)
        goto fail;
    /* NOMUTEX: a store is used by one thread at a time (store.h), so the
     * connection's own mutex would only be taken and released on every
     * call; several stores may still share the file from several threads. */
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = mq__fail(err, MQ_EIO, "%s: cannot open: %s", path,
                      s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    int fresh = 0;
    if ((rc = ours(s, &fresh, err)) != 0)
        goto fail;
    /*
     * WAL: readers never block the writer and a commit is one append.
     * synchronous=FULL: the WAL is synced at every commit, so a record the
     * cadre saw saved survives a battery pulled a second later, not only a
     * killed process.  One fsync per commit is the price; bulk paths
     * (import, apply) commit once.  cache_size: 16 MiB holds the randomly
     * written parts of the indexes of a county-sized import (at 8 MiB a
     * third of its time went to spilling and re-reading pages) and keeps
     * the process near 30 MiB.  wal_autocheckpoint: 8000 pages (32 MiB of
     * WAL), not SQLite's 1000: a server merging a township's push in
     * batches of 5,000 changes checkpointed after every other batch,
     * copying the same index pages into the file again each time (5% of
     * the push's server CPU); a tablet's edits reach it rarely.
     */
    rc = mq__exec(s,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                  " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;"
                  " PRAGMA temp_store=FILE; PRAGMA wal_autocheckpoint=8000;",
                  err);
    if (rc != 0)
        goto fail;
    /* A new store is made in one transaction: a file with minqing's tables
     * and no format is then never ours, only another program's. */
    rc = fresh ? mq__exec(s, "BEGIN IMMEDIATE", err) : 0;
    if (rc == 0)
        rc = mq__exec(s, schema_sql, err);
    if (rc == 0)
        rc = area_index(s, err);
    if (rc == 0)
        rc = duplicate_indexes(s, err);
    if (rc == 0)
        rc = mq__search_open(s, err);
    if (rc == 0)
        rc = mq__need_state_open(s, err);
    if (rc == 0)
        rc = check_format(s, err);
    if (fresh && rc == 0)
        rc = mq__exec(s, "COMMIT", err);
    else if (fresh)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == 0)
        rc = load_state(s, err);
    if (rc != 0) {
        mq_error_prefix(err, "opening the store: ");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    mq_store_close(s);
    return rc;
}

void mq_store_close(mq_store *s)
{
    if (s == NULL)
        return;
    mq__stmt_free_all(s);
    mq__ext_free(s);
    if (s->out != NULL) {
        mq__json_free(s->out);
        free(s->out);
    }
    if (s->db != NULL) {
        while (s->tx_depth > 0)
            mq__tx_rollback(s);
        sqlite3_close_v2(s->db);
    }
    mq__schema_free(s->schema);
    mq__kind_free(s);
    mq__need_dirty_free(s);
    mq__scope_memo_free(s);
    free(s->cadre);
    free(s->path);
    free(s);
}

int mq_store_init(mq_store *s, const char *site, const char *cadre, mq_error *err)
{
    int rc;

    if (site == NULL || !mq_valid_name(site, MQ_SITE_MAX))
        return mq__fail(err, MQ_EINVAL,
                        "site \"%s\": must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                        site ? site : "", MQ_SITE_MAX);
    if (cadre != NULL && !mq_valid_uuid(cadre))
        return mq__fail(err, MQ_EINVAL, "cadre \"%s\": must be a cadre record id (UUID)",
                        cadre);
    if (s->site[0] != '\0' && strcmp(s->site, site) != 0) {
        /* Versions carry the site: renaming it would let two sites share
         * clocks, so only a replica that has written nothing may rename. */
        sqlite3_stmt *st;
        int any = 0;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM change WHERE src IS NULL LIMIT 1",
                               -1, &st, NULL) != SQLITE_OK)
            return mq__fail_sqlite(err, s->db, "reading the change log");
        any = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        if (any)
            return mq__fail(err, MQ_EREFUSED,
                            "this store already wrote changes as site \"%s\"; it cannot "
                            "become \"%s\"",
                            s->site, site);
    }
    if ((rc = mq__tx_begin(s, err)) != 0)
        return rc;
    rc = mq__meta_set(s, "site", site, err);
    if (rc == 0)
        rc = mq__meta_set(s, "cadre", cadre, err);
    if (rc == 0)
        rc = mq__tx_commit(s, err);
    else
        mq__tx_rollback(s);
    if (rc == 0)
        rc = load_state(s, err);
    return rc;
}
