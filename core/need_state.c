/*
 * core/need_state.c - the state of every need now, kept in a table of its
 * own (need_state) so that a work list or a needs list of today is an
 * indexed query, not a fold of the county's actions on every call.
 *
 * need_state holds, for each live need, the fold of ALL its actions
 * (report_fold.c's rule, taken "as of the end of time", 9999-12-31): its
 * status, handler, who accepted it, when it was resolved, how many actions
 * it has; beside its own fields (household, area, category, source,
 * deadline, ...), and its horizon: the latest of its recorded_at and the
 * `at` of its actions.  For a day D at or after the horizon the fold as of
 * D is exactly this row (nothing of the need lies after D); the day's part
 * (overdue, days overdue) is computed by the reader.  A need whose horizon
 * is after D (an action dated ahead) is folded again as of D by the reader
 * (needs.c).
 *
 * Invariants:
 *   N1  need_state is a function of the record table: each live need's row
 *       equals the fold of its record and its live actions, and there is
 *       no other row.  The record table is the fold of the change log (M2),
 *       so replicas that saw the same changes hold the same need_state.
 *   N2  It is kept in the same transaction as the writes: the code that
 *       writes a record row (the four statements of search.c's S2) names
 *       to mq__need_dirty_touch() the need of every need or action row it
 *       inserts, updates or deletes (the need a row belongs to never
 *       changes: M6); the names are kept in memory (s->need_dirty).  The
 *       outermost commit (tx.c) refolds those needs before it commits,
 *       and the outermost rollback forgets the names with the writes.  A
 *       savepoint rolled back leaves its names: a need refolded that did
 *       not change gets its row again.  Outside a transaction there are no
 *       names.
 *   N3  `minqing check` folds every need again and compares (check.c).
 *
 * A program that writes the record table by another connection (no
 * minqing program does) leaves need_state behind, and check says so;
 * opening a store whose need_state was never filled, or was filled by
 * another version of this file, fills it anew (meta need_state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "need_dirty.h"
#include "need_state.h"
#include "report_fold.h"

/* Bumped whenever the table or the rule changes: a store made by another
 * version refills the table at open. */
#define NEED_STATE_VERSION "1"

/* The day after every day: the fold of every action. */
static const char end_of_time[] = "9999-12-31";

static const char table_sql[] =
    "CREATE TABLE IF NOT EXISTS need_state("
    "  id TEXT PRIMARY KEY,"
    "  rarea TEXT," /* the record row's area: what a scope tests */
    "  area TEXT,"  /* the need's area as the report shows it */
    "  household TEXT, category TEXT, source TEXT, recorded_by TEXT,"
    "  recorded_at TEXT, deadline TEXT,"
    "  status TEXT NOT NULL," /* registered | open | reopened | resolved */
    "  handler TEXT,"
    "  accepted INTEGER NOT NULL, accepted_by TEXT,"
    "  resolved_at TEXT, satisfaction TEXT,"
    "  actions INTEGER NOT NULL,"
    "  horizon TEXT" /* max(recorded_at, the actions' at); NULL: none */
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS need_state_handler ON need_state(handler);"
    "CREATE INDEX IF NOT EXISTS need_state_household ON need_state(household);"
    "CREATE INDEX IF NOT EXISTS need_state_rarea ON need_state(rarea);"
    "CREATE INDEX IF NOT EXISTS need_state_horizon ON need_state(horizon);";

/* The connection's own: the set of needs to refold, as a table for the
 * flush, and the ids a flush folds. */
static const char temp_sql[] =
    "CREATE TEMP TABLE IF NOT EXISTS mq_need_dirty(id TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TEMP TABLE IF NOT EXISTS mq_need_ids(id TEXT PRIMARY KEY) WITHOUT ROWID;";

/* %s: need_state, or temp.mq_need_asof (same columns). */
static const char insert_sql[] =
    "INSERT OR REPLACE INTO %s(id, rarea, area, household, category, source,"
    " recorded_by, recorded_at, deadline, status, handler, accepted, accepted_by,"
    " resolved_at, satisfaction, actions, horizon)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

static int text_cmp(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

const char *const *mq__need_state_horizons(const struct mq__report_rows *rows)
{
    const char **h = calloc(rows->nneeds > 0 ? rows->nneeds : 1, sizeof(*h));

    if (h == NULL)
        return NULL;
    for (size_t i = 0; i < rows->nneeds; i++)
        h[i] = rows->needs[i].recorded_at;
    /* The counted actions are sorted by need then `at`: the last of each
     * need is its latest. */
    for (size_t i = 0; i < rows->nacts; i++) {
        const mq__ract *a = &rows->acts[i];
        if (a->at != NULL && text_cmp(a->at, h[a->ni]) > 0)
            h[a->ni] = a->at;
    }
    return h;
}

/* Writes the folded rows into `table` (replacing each need's row). */
static int write_rows(mq_store *s, const char *table, const mq__report_rows *rows,
                      mq_error *err)
{
    sqlite3_stmt *st;
    const char *const *horizon = mq__need_state_horizons(rows);
    char sql[sizeof(insert_sql) + 32];
    int rc = 0;

    if (horizon == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    snprintf(sql, sizeof(sql), insert_sql, table);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        free((void *)horizon);
        return mq__fail_sqlite(err, s->db, "preparing the state of needs");
    }
    for (size_t i = 0; rc == 0 && i < rows->nneeds; i++) {
        const mq__rneed *n = &rows->needs[i];
        const char *text[] = {n->id,          n->rarea,
                              n->area,        n->household,
                              n->category,    n->source,
                              n->recorded_by, n->recorded_at,
                              n->deadline,    mq__report_status_name(n->status),
                              n->handler};
        for (int c = 0; c < 11; c++)
            sqlite3_bind_text(st, c + 1, text[c], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 12, n->accepted);
        sqlite3_bind_text(st, 13, n->accepted_by, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 14, n->resolved_at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 15, n->satisfaction, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 16, n->actions);
        sqlite3_bind_text(st, 17, horizon[i], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "writing the state of needs");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    free((void *)horizon);
    return rc;
}

/* Folds the needs of `scan` (MQ__SCAN_ALL or _DIRTY) and writes them. */
static int refold(mq_store *s, int scan, mq_error *err)
{
    mq__report_cfg cfg;
    mq__report_rows rows;
    int rc = mq__report_cfg_load(s, &cfg, err);

    if (rc != 0)
        return rc;
    rc = mq__report_rows_load(s, end_of_time, NULL, scan, MQ__ROWS_NEEDS, &cfg, &rows,
                              err);
    if (rc == 0)
        rc = mq__exec(s,
                      scan == MQ__SCAN_ALL ? "DELETE FROM need_state"
                                           : "DELETE FROM need_state WHERE id IN"
                                             " (SELECT id FROM temp.mq_need_dirty)",
                      err);
    if (rc == 0)
        rc = write_rows(s, "need_state", &rows, err);
    mq__report_rows_free(&rows);
    mq__report_cfg_free(&cfg);
    return rc;
}

int mq__need_state_flush(mq_store *s, mq_error *err)
{
    struct mq__need_dirty *d = s->need_dirty;
    sqlite3_stmt *st;
    int rc = 0;

    if (!mq__need_dirty_any(s))
        return 0;
    if (d->all) {
        rc = refold(s, MQ__SCAN_ALL, err);
    } else {
        if (sqlite3_prepare_v2(s->db,
                               "INSERT OR IGNORE INTO temp.mq_need_dirty(id) VALUES(?1)",
                               -1, &st, NULL) != SQLITE_OK)
            return mq__fail_sqlite(err, s->db, "naming the needs to fold");
        for (size_t i = 0; rc == 0 && i < d->n; i++) {
            sqlite3_bind_text(st, 1, d->ids[i], -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = mq__fail_sqlite(err, s->db, "naming the needs to fold");
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        if (rc == 0)
            rc = refold(s, MQ__SCAN_DIRTY, err);
        if (rc == 0)
            rc = mq__exec(s, "DELETE FROM temp.mq_need_dirty", err);
    }
    /* Forgotten once folded (on failure the caller rolls back, which
     * forgets them too). */
    if (rc == 0)
        mq__need_dirty_forget(s);
    return rc;
}

int mq__need_state_ready(mq_store *s, mq_error *err)
{
    int rc;

    if (!mq__need_dirty_any(s))
        return 0;
    if (s->tx_depth > 0)
        return mq__need_state_flush(s, err);
    /* Names left by a write outside any transaction: folded in one now
     * (a plain one: it writes no change, so the clock has nothing to keep). */
    if ((rc = mq__exec(s, "BEGIN IMMEDIATE", err)) != 0)
        return rc;
    if ((rc = mq__need_state_flush(s, err)) == 0)
        rc = mq__exec(s, "COMMIT", err);
    if (rc != 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        mq__need_dirty_forget(s);
    }
    return rc;
}

int mq__need_state_open(mq_store *s, mq_error *err)
{
    char *have = NULL;
    int rc;

    rc = mq__exec(s, table_sql, err);
    if (rc == 0)
        rc = mq__exec(s, temp_sql, err);
    if (rc == 0)
        rc = mq__meta_get(s, "need_state", &have, err);
    if (rc == 0 && (have == NULL || strcmp(have, NEED_STATE_VERSION) != 0)) {
        /* Once per store (and per version of the rule), atomically. */
        rc = mq__exec(s, "SAVEPOINT mq_need_state", err);
        if (rc == 0)
            rc = refold(s, MQ__SCAN_ALL, err);
        if (rc == 0)
            rc = mq__meta_set(s, "need_state", NEED_STATE_VERSION, err);
        if (rc == 0)
            rc = mq__exec(s, "RELEASE mq_need_state", err);
        else
            sqlite3_exec(s->db, "ROLLBACK TO mq_need_state; RELEASE mq_need_state", NULL,
                         NULL, NULL);
    }
    free(have);
    return rc;
}

/* ---- a day before the horizon ----------------------------------------------- */

/* Above this many needs with a horizon after D, the fold of the day is
 * cheaper than folding each again (a report of a past day). */
#define ASOF_MOST 500

int mq__need_state_as_of(mq_store *s, const char *as_of, const mq__report_cfg *cfg,
                         int *usable, int *mixed, mq_error *err)
{
    sqlite3_stmt *st;
    mq__report_rows rows;
    int n = 0, rc;

    *usable = *mixed = 0;
    if (s->lists_fold)
        return 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM (SELECT 1 FROM need_state"
                           " WHERE horizon > ?1 LIMIT ?2)",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading the state of needs");
    sqlite3_bind_text(st, 1, as_of, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, ASOF_MOST + 1);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (n > ASOF_MOST)
        return 0;
    *usable = 1;
    if (n == 0)
        return 0;
    /* The few needs that D cuts: folded as of D into temp.mq_need_asof. */
    *mixed = 1;
    rc = mq__report_exec(s,
                         "DELETE FROM temp.mq_need_ids;"
                         "INSERT INTO temp.mq_need_ids(id) SELECT id FROM need_state"
                         " WHERE horizon > ?1;"
                         "DROP TABLE IF EXISTS temp.mq_need_asof;"
                         "CREATE TEMP TABLE mq_need_asof AS SELECT * FROM need_state"
                         " WHERE 0;",
                         as_of, NULL, err);
    if (rc != 0)
        return rc;
    rc = mq__report_rows_load(s, as_of, NULL, MQ__SCAN_IDS, MQ__ROWS_NEEDS, cfg, &rows,
                              err);
    if (rc == 0)
        rc = write_rows(s, "temp.mq_need_asof", &rows, err);
    mq__report_rows_free(&rows);
    if (rc == 0)
        rc = mq__exec(s, "DELETE FROM temp.mq_need_ids", err);
    return rc;
}

void mq__need_state_lists_fold(mq_store *s, int on)
{
    s->lists_fold = on;
}

/* ---- the check (N3) ---------------------------------------------------------- */

/* The columns compared, in need_state's order after id. */
static const char *const check_cols[] = {
    "rarea",       "area",         "household", "category", "source",   "recorded_by",
    "recorded_at", "deadline",     "status",    "handler",  "accepted", "accepted_by",
    "resolved_at", "satisfaction", "actions",   "horizon"};
#define NCHECK (sizeof(check_cols) / sizeof(check_cols[0]))

int mq__need_state_check(mq_store *s, void (*cb)(void *ctx, const char *problem),
                         void *ctx, mq_error *err)
{
    mq__report_cfg cfg;
    mq__report_rows rows;
    mq__idmap ids = {0};
    sqlite3_stmt *st = NULL;
    const char *const *horizon = NULL;
    unsigned char *seen = NULL;
    char msg[512];
    int rc = mq__report_cfg_load(s, &cfg, err);

    if (rc != 0)
        return rc;
    rc = mq__report_rows_load(s, end_of_time, NULL, MQ__SCAN_ALL, MQ__ROWS_NEEDS, &cfg,
                              &rows, err);
    if (rc != 0)
        goto done;
    horizon = mq__need_state_horizons(&rows);
    seen = calloc(rows.nneeds + 1, 1);
    if (horizon == NULL || seen == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < rows.nneeds; i++)
        if (mq__idmap_put(&ids, rows.needs[i].id, i) < 0) {
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
            goto done;
        }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, rarea, area, household, category, source,"
                           " recorded_by, recorded_at, deadline, status, handler,"
                           " accepted, accepted_by, resolved_at, satisfaction, actions,"
                           " horizon FROM need_state ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "reading the state of needs");
        goto done;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = mq__col_text(st, 0);
        long i = mq__idmap_get(&ids, id);
        if (i < 0) {
            snprintf(msg, sizeof(msg),
                     "need_state: need %s has a row, but is no live need of the record "
                     "table (N1)",
                     id);
            cb(ctx, msg);
            continue;
        }
        seen[i] = 1;
        const mq__rneed *n = &rows.needs[i];
        char accepted[4], actions[24];
        snprintf(accepted, sizeof(accepted), "%d", n->accepted);
        snprintf(actions, sizeof(actions), "%d", n->actions);
        const char *want[NCHECK] = {
            n->rarea,       n->area,         n->household,
            n->category,    n->source,       n->recorded_by,
            n->recorded_at, n->deadline,     mq__report_status_name(n->status),
            n->handler,     accepted,        n->accepted_by,
            n->resolved_at, n->satisfaction, actions,
            horizon[i]};
        for (size_t c = 0; c < NCHECK; c++) {
            const char *have = mq__col_text(st, (int)c + 1);
            if ((have == NULL) != (want[c] == NULL) ||
                (have != NULL && strcmp(have, want[c]) != 0)) {
                snprintf(msg, sizeof(msg),
                         "need_state: need %s: %s is %s%.80s%s, the fold of its record "
                         "and actions gives %s%.80s%s (N1)",
                         id, check_cols[c], have ? "\"" : "", have ? have : "null",
                         have ? "\"" : "", want[c] ? "\"" : "",
                         want[c] ? want[c] : "null", want[c] ? "\"" : "");
                cb(ctx, msg);
                break;
            }
        }
    }
    if (step != SQLITE_DONE) {
        rc = mq__fail_sqlite(err, s->db, "reading the state of needs");
        goto done;
    }
    for (size_t i = 0; i < rows.nneeds; i++)
        if (!seen[i]) {
            snprintf(msg, sizeof(msg), "need_state: need %s has no row (N1)",
                     rows.needs[i].id);
            cb(ctx, msg);
        }
done:
    sqlite3_finalize(st);
    free((void *)horizon);
    free(seen);
    mq__idmap_free(&ids);
    mq__report_rows_free(&rows);
    mq__report_cfg_free(&cfg);
    return rc;
}
