/*
 * core/store.c - opening a replica: the SQLite file, its tables, the
 * replica's identity and clock, transactions and settings.
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
 *
 * The change log is the truth; record and conflict are derived from it and
 * mq_store_check() proves that they agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform.h"

#define FORMAT_VERSION 2

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
    "CREATE INDEX IF NOT EXISTS change_rid ON change(rid);"
    "CREATE TABLE IF NOT EXISTS conflict("
    "  rid TEXT NOT NULL, field TEXT NOT NULL, PRIMARY KEY(rid, field)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS rejected("
    "  seq INTEGER PRIMARY KEY, change TEXT NOT NULL, source TEXT, reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL);";

static const char *const stmt_sql[MQ_ST_COUNT] = {
    [MQ_ST_REC_LOAD] =
        "SELECT type, parent, area, deleted, cv, vers, fields FROM record WHERE id = ?1",
    [MQ_ST_REC_UPSERT] =
        ("INSERT INTO record(id, type, parent, area, deleted, cv, vers, fields)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE"
         " SET parent = ?3, area = ?4, deleted = ?5, cv = ?6, vers = ?7, fields = ?8"),
    [MQ_ST_REC_KIND] = "SELECT type, deleted, area FROM record WHERE id = ?1",
    [MQ_ST_CHANGE_INSERT] =
        ("INSERT OR IGNORE INTO change(v, rid, type, by, src, body, base)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
    [MQ_ST_CHANGES_OF] =
        ("SELECT v, coalesce(body, (SELECT fields FROM record WHERE id = ?1)), base, by"
         " FROM change WHERE rid = ?1"),
    [MQ_ST_CHILDREN] = "SELECT id FROM record WHERE parent = ?1 AND type <> ?2",
    [MQ_ST_SET_AREA] = "UPDATE record SET area = ?2 WHERE id = ?1",
    [MQ_ST_CONFLICT_ADD] = "INSERT OR IGNORE INTO conflict(rid, field) VALUES(?1, ?2)",
    [MQ_ST_CONFLICT_DEL] = "DELETE FROM conflict WHERE rid = ?1 AND field = ?2",
    [MQ_ST_PARENT] = "SELECT parent FROM record WHERE id = ?1",
    [MQ_ST_KEEP_CREATION] =
        ("UPDATE change SET body = (SELECT fields FROM record WHERE id = ?1)"
         " WHERE rid = ?1 AND body IS NULL"),
};

void mq_free(void *p)
{
    free(p);
}

char *mq__strdup(const char *s)
{
    size_t n;
    char *d;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

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

int mq__exec(mq_store *s, const char *sql, mq_error *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "SQL");
    return 0;
}

static int meta_get(mq_store *s, const char *key, char **out, mq_error *err);
static int meta_set(mq_store *s, const char *key, const char *value, mq_error *err);

/*
 * The clock is kept in meta ("hlc") and read again at the start of every
 * write transaction, under the write lock: two processes writing to one
 * store (a CLI put while a sync runs) then never stamp the same version, so
 * neither change is taken for a duplicate of the other.  It is written back
 * just before the commit that used it.
 */
static int clock_load(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = meta_get(s, "hlc", &v, err);

    if (rc == 0 && v != NULL) {
        uint64_t clock = strtoull(v, NULL, 16);
        if (clock > s->hlc.last)
            s->hlc.last = clock;
    }
    free(v);
    s->hlc_saved = s->hlc.last;
    return rc;
}

static int clock_save(mq_store *s, mq_error *err)
{
    char buf[24];

    if (s->hlc.last == s->hlc_saved)
        return 0;
    snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->hlc.last);
    int rc = meta_set(s, "hlc", buf, err);
    if (rc == 0)
        s->hlc_saved = s->hlc.last;
    return rc;
}

/*
 * Transactions nest: the outermost is BEGIN IMMEDIATE, so the write lock is
 * taken up front (no deadlock between two writers that both started with a
 * read), and inner levels are savepoints that roll back on their own.
 */
int mq__tx_begin(mq_store *s, mq_error *err)
{
    int outer = s->tx_depth == 0;
    int rc = mq__exec(s, outer ? "BEGIN IMMEDIATE" : "SAVEPOINT mq", err);

    if (rc != 0)
        return rc;
    if (outer)
        mq__kind_reset(s); /* K2: another connection may have written since */
    s->tx_depth++;
    if (outer && (rc = clock_load(s, err)) != 0)
        mq__tx_rollback(s);
    return rc;
}

int mq__tx_commit(mq_store *s, mq_error *err)
{
    int rc = s->tx_depth == 1 ? clock_save(s, err) : 0;

    if (rc == 0)
        rc = mq__exec(s, s->tx_depth == 1 ? "COMMIT" : "RELEASE mq", err);
    if (rc != 0) {
        mq__tx_rollback(s);
        return rc;
    }
    s->tx_depth--;
    return 0;
}

void mq__tx_rollback(mq_store *s)
{
    if (s->tx_depth == 0)
        return;
    mq__kind_reset(s);
    if (s->tx_depth == 1)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else
        sqlite3_exec(s->db, "ROLLBACK TO mq; RELEASE mq", NULL, NULL, NULL);
    s->tx_depth--;
}

int mq_store_begin(mq_store *s, mq_error *err)
{
    if (s->user_tx)
        return mq__fail(err, MQ_ESTATE, "a transaction is already open");
    int rc = mq__tx_begin(s, err);
    if (rc == 0)
        s->user_tx = 1;
    return rc;
}

int mq_store_commit(mq_store *s, mq_error *err)
{
    if (!s->user_tx)
        return mq__fail(err, MQ_ESTATE, "no transaction is open");
    s->user_tx = 0;
    return mq__tx_commit(s, err);
}

void mq_store_rollback(mq_store *s)
{
    if (!s->user_tx)
        return;
    s->user_tx = 0;
    mq__tx_rollback(s);
}

static int meta_get(mq_store *s, const char *key, char **out, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = mq__strdup(mq__col_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading settings");
    return 0;
}

static int meta_set(mq_store *s, const char *key, const char *value, mq_error *err)
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

int mq_store_setting_get(mq_store *s, const char *key, char **out, mq_error *err)
{
    char full[128];

    snprintf(full, sizeof(full), "setting.%s", key);
    return meta_get(s, full, out, err);
}

int mq_store_setting_set(mq_store *s, const char *key, const char *value, mq_error *err)
{
    char full[128];

    snprintf(full, sizeof(full), "setting.%s", key);
    return meta_set(s, full, value, err);
}

/* Reads identity, clock offset and the greatest version ever seen. */
static int load_state(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = meta_get(s, "site", &v, err);

    if (rc != 0)
        return rc;
    if (v != NULL)
        snprintf(s->site, sizeof(s->site), "%s", v);
    free(v);
    free(s->cadre);
    s->cadre = NULL;
    if ((rc = meta_get(s, "cadre", &s->cadre, err)) != 0)
        return rc;
    if ((rc = meta_get(s, "clock_offset_ms", &v, err)) != 0)
        return rc;
    s->clock_offset_ms = v != NULL ? strtoll(v, NULL, 10) : 0;
    free(v);

    /*
     * The clock resumes from meta; a store that has none yet (it never
     * wrote) resumes above every version it stamped and, within
     * MQ_HLC_MAX_AHEAD_MS, above the newest one it received.
     */
    if ((rc = clock_load(s, err)) != 0 || s->hlc.last != 0)
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

static int check_format(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = meta_get(s, "format", &v, err);

    if (rc != 0)
        return rc;
    if (v == NULL) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", FORMAT_VERSION);
        return meta_set(s, "format", buf, err);
    }
    int format = atoi(v);
    free(v);
    if (format != FORMAT_VERSION)
        return mq__fail(err, MQ_ESTATE,
                        "%s: store format %d, this minqing reads format %d", s->path,
                        format, FORMAT_VERSION);
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
    s->path = mq__strdup(path);
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
    /*
     * WAL: readers never block the writer and a commit is one append.
     * synchronous=FULL: the WAL is synced at every commit, so a record the
     * cadre saw saved survives a battery pulled a second later, not only a
     * killed process.  One fsync per commit is the price; bulk paths
     * (import, apply) commit once.  cache_size: 16 MiB holds the randomly
     * written parts of the indexes of a county-sized import (at 8 MiB a
     * third of its time went to spilling and re-reading pages) and keeps
     * the process near 30 MiB.
     */
    rc = mq__exec(s,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                  " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;"
                  " PRAGMA temp_store=FILE;",
                  err);
    if (rc != 0)
        goto fail;
    rc = mq__exec(s, schema_sql, err);
    if (rc == 0)
        rc = area_index(s, err);
    if (rc == 0)
        rc = check_format(s, err);
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
    for (int i = 0; i < MQ_ST_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    mq__ext_free(s);
    if (s->db != NULL) {
        while (s->tx_depth > 0)
            mq__tx_rollback(s);
        sqlite3_close_v2(s->db);
    }
    mq__schema_free(s->schema);
    mq__kind_free(s);
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
    rc = meta_set(s, "site", site, err);
    if (rc == 0)
        rc = meta_set(s, "cadre", cadre, err);
    if (rc == 0)
        rc = mq__tx_commit(s, err);
    else
        mq__tx_rollback(s);
    if (rc == 0)
        rc = load_state(s, err);
    return rc;
}

const char *mq_store_site(const mq_store *s)
{
    return s->site[0] != '\0' ? s->site : NULL;
}

const char *mq_store_cadre(const mq_store *s)
{
    return s->cadre;
}

int mq__require_site(mq_store *s, mq_error *err)
{
    if (s->site[0] == '\0')
        return mq__fail(
            err, MQ_ESTATE,
            "%s: the store has no site yet; run `minqing init --site NAME` first",
            s->path);
    return 0;
}

int mq_store_set_clock_offset(mq_store *s, int64_t offset_ms, mq_error *err)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long)offset_ms);
    int rc = meta_set(s, "clock_offset_ms", buf, err);
    if (rc == 0)
        s->clock_offset_ms = offset_ms;
    return rc;
}

int64_t mq_store_clock_offset(const mq_store *s)
{
    return s->clock_offset_ms;
}

int64_t mq_store_now_ms(const mq_store *s)
{
    return mq_platform_time_ms() + s->clock_offset_ms;
}

void mq__next_version(mq_store *s, char out[MQ_VERSION_MAX])
{
    uint64_t clock = mq__hlc_tick(&s->hlc, mq_store_now_ms(s));

    mq__version_format(out, clock, s->site);
}

int mq__new_id(char out[37], mq_error *err)
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";

    if (mq_platform_random(b, sizeof(b)) != 0)
        return mq__fail(err, MQ_EIO, "cannot read the system's random generator");
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[36] = '\0';
    return 0;
}
