/*
 * core/report_fold.c - the one fold of a need's actions, as of a day D, that
 * the report and the needs list both read; and what they share around it
 * (the schema's report settings, the day, the scope, the read snapshot).
 *
 * The rule (docs/REPORTS.md):
 *
 *   - a need exists from its recorded_at (a need without one always
 *     exists, except in a report that starts --from a day);
 *   - an action counts only if its `at` is on or before D;
 *   - the status is the fold of the counted actions in order of `at`, ties
 *     broken by version (the same order on every replica):
 *         accept -> open, resolve -> resolved, reopen -> reopened,
 *         progress and transfer leave the status;
 *     so the status is set by the last counted accept, resolve or reopen,
 *     and is "registered" while there is none;
 *   - overdue: not resolved and the deadline before D (the deadline day
 *     itself is in time; no deadline, never overdue);
 *   - resolved late: resolved, and the last resolve after the deadline.
 *
 * The fold is one SQL statement over the stored JSON, written once into
 * temp.mq_fold; every figure is an aggregate over that table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_fold.h"

void mq__report_bind(mq_store *s, sqlite3_stmt *st, const char *as_of, const char *from)
{
    int i;

    if ((i = sqlite3_bind_parameter_index(st, "?1")) > 0)
        mq__bind_text(st, i, as_of);
    if ((i = sqlite3_bind_parameter_index(st, "?2")) > 0)
        mq__bind_text(st, i, from);
    if ((i = sqlite3_bind_parameter_index(st, "?3")) > 0)
        sqlite3_bind_text(st, i, mq__area_type_name(s), -1, SQLITE_STATIC);
}

int mq__report_exec(mq_store *s, const char *sql, const char *as_of, const char *from,
                    mq_error *err)
{
    const char *tail = sql;
    int rc = 0;

    /* Several statements may follow one another; each binds what it uses. */
    while (rc == 0 && *tail != '\0') {
        sqlite3_stmt *st = NULL;
        const char *next = NULL;
        if (sqlite3_prepare_v2(s->db, tail, -1, &st, &next) != SQLITE_OK)
            return mq__fail_sqlite(err, s->db, "preparing a report query");
        if (st == NULL)
            break; /* only white space left */
        mq__report_bind(s, st, as_of, from);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (step != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "computing a report");
        sqlite3_finalize(st);
        tail = next;
    }
    return rc;
}

/* ---- settings ------------------------------------------------------------ */

static int cfg_fail(mq__report_cfg *cfg, mq_error *err, const char *what)
{
    mq__report_cfg_free(cfg);
    return mq__fail(err, MQ_ECORRUPT, "schema: reports: %s", what);
}

/* 1 if `value` is a choice of field `field` of type `type` in the schema. */
static int is_choice(const mq_schema *schema, const char *type, const char *field,
                     const char *value)
{
    const mq_type *t = mq__schema_type(schema, type);
    const mq_field *f = t != NULL ? mq__type_field(t, field) : NULL;

    for (size_t i = 0; f != NULL && i < f->nvalues; i++)
        if (strcmp(f->values[i], value) == 0)
            return 1;
    return 0;
}

int mq__report_cfg_load(mq_store *s, mq__report_cfg *cfg, mq_error *err)
{
    const mq_schema *schema = s->schema;
    const cJSON *rep, *it;

    memset(cfg, 0, sizeof(*cfg));
    /*
     * The store runs on the default schema (store.c), so its settings are
     * read from the same text; the compiled types check the choices named.
     */
    cfg->root = cJSON_Parse(mq__default_schema_json);
    if (cfg->root == NULL)
        return cfg_fail(cfg, err, "the schema is not valid JSON");
    rep = cJSON_GetObjectItemCaseSensitive(cfg->root, "reports");
    if (!cJSON_IsObject(rep))
        return cfg_fail(cfg, err, "no \"reports\" object");
    cfg->petition_sources = cJSON_GetObjectItemCaseSensitive(rep, "petition_sources");
    if (!cJSON_IsArray(cfg->petition_sources))
        return cfg_fail(cfg, err, "\"petition_sources\" must list need sources");
    cJSON_ArrayForEach(it, cfg->petition_sources)
    {
        if (!cJSON_IsString(it) || !is_choice(schema, "need", "source", it->valuestring))
            return cfg_fail(cfg, err,
                            "\"petition_sources\": each must be a choice of need.source");
    }
    it = cJSON_GetObjectItemCaseSensitive(rep, "reception_kind");
    if (!cJSON_IsString(it) || !is_choice(schema, "visit", "kind", it->valuestring))
        return cfg_fail(cfg, err, "\"reception_kind\" must be a choice of visit.kind");
    cfg->reception_kind = it->valuestring;

    cfg->levels = cJSON_GetObjectItemCaseSensitive(rep, "income_levels");
    int n = cJSON_GetArraySize(cfg->levels), i = 0;
    double prev = 0;
    if (!cJSON_IsArray(cfg->levels) || n == 0)
        return cfg_fail(cfg, err, "\"income_levels\" must list the warning levels");
    cJSON_ArrayForEach(it, cfg->levels)
    {
        const cJSON *level = cJSON_GetObjectItemCaseSensitive(it, "level");
        const cJSON *below = cJSON_GetObjectItemCaseSensitive(it, "below");
        if (!cJSON_IsString(level) || level->valuestring[0] == '\0')
            return cfg_fail(cfg, err, "\"income_levels\": each needs a \"level\" name");
        if (++i == n) {
            if (below != NULL)
                return cfg_fail(cfg, err,
                                "\"income_levels\": the last level takes every ratio "
                                "left and has no \"below\"");
        } else if (!cJSON_IsNumber(below) || (i > 1 && below->valuedouble <= prev)) {
            return cfg_fail(cfg, err,
                            "\"income_levels\": \"below\" must be a number, rising from "
                            "one level to the next");
        } else {
            prev = below->valuedouble;
        }
    }
    cfg->labels = cJSON_GetObjectItemCaseSensitive(rep, "labels");
    if (cfg->labels != NULL && !cJSON_IsObject(cfg->labels))
        return cfg_fail(cfg, err, "\"labels\" must be an object");
    return 0;
}

void mq__report_cfg_free(mq__report_cfg *cfg)
{
    cJSON_Delete(cfg->root);
    memset(cfg, 0, sizeof(*cfg));
}

const char *mq__report_income_level(const mq__report_cfg *cfg, double ratio)
{
    const cJSON *it, *last = NULL;

    cJSON_ArrayForEach(it, cfg->levels)
    {
        const cJSON *below = cJSON_GetObjectItemCaseSensitive(it, "below");
        last = it;
        if (cJSON_IsNumber(below) && ratio < below->valuedouble)
            break;
    }
    return cJSON_GetObjectItemCaseSensitive(last, "level")->valuestring;
}

/* ---- the read, the day, the scope ---------------------------------------- */

int mq__report_read_begin(mq_store *s, int *began, mq_error *err)
{
    *began = 0;
    if (s->tx_depth > 0)
        return 0;
    /* Deferred: a report takes no write lock on the store, only a snapshot;
     * what it writes is temporary and rolled back at the end. */
    int rc = mq__exec(s, "BEGIN", err);
    if (rc == 0)
        *began = 1;
    return rc;
}

void mq__report_read_end(mq_store *s, int began)
{
    if (began)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else
        sqlite3_exec(
            s->db,
            "DROP TABLE IF EXISTS temp.mq_fold; DROP TABLE IF EXISTS temp.mq_anc;"
            "DROP TABLE IF EXISTS temp.mq_nagg; DROP TABLE IF EXISTS temp.mq_nmed;"
            "DROP TABLE IF EXISTS temp.mq_nsat; DROP TABLE IF EXISTS temp.mq_v;"
            "DROP TABLE IF EXISTS temp.mq_vagg; DROP TABLE IF EXISTS temp.mq_h;"
            "DROP TABLE IF EXISTS temp.mq_hagg; DROP TABLE IF EXISTS temp.mq_need;"
            "DROP TABLE IF EXISTS temp.mq_act; DROP TABLE IF EXISTS temp.mq_nleaf;"
            "DROP TABLE IF EXISTS temp.mq_dleaf; DROP TABLE IF EXISTS temp.mq_days;"
            "DROP TABLE IF EXISTS temp.mq_sleaf; DROP TABLE IF EXISTS temp.mq_vleaf;"
            "DROP TABLE IF EXISTS temp.mq_hleaf;",
            NULL, NULL, NULL);
}

int mq__report_day(mq_store *s, const char *day, const char *what, char out[11],
                   mq_error *err)
{
    if (day != NULL) {
        char why[64];
        if (mq__check_date(day, why, sizeof(why)) != 0)
            return mq__fail(err, MQ_EINVAL, "%s \"%s\": %s", what, day, why);
        snprintf(out, 11, "%s", day);
        return 0;
    }
    char iso[MQ_ISO_MAX];
    mq__iso_time(iso, mq_store_now_ms(s));
    snprintf(out, 11, "%.10s", iso);
    return 0;
}

int mq__report_scope(mq_store *s, const char *area, mq_error *err)
{
    mq__kind k;
    int rc;

    if (!mq_valid_uuid(area))
        return mq__fail(err, MQ_ENOTFOUND,
                        "area \"%.80s\": not an area id (a lower-case UUID)", area);
    if ((rc = mq__kind_get(s, area, &k, err)) != 0)
        return rc;
    if (!k.exists || k.deleted || k.type == NULL || !k.type->scope_self)
        return mq__fail(err, MQ_ENOTFOUND, "area \"%s\": %s", area,
                        !k.exists   ? "no record of this id on this replica"
                        : k.deleted ? "the area is deleted"
                                    : "the record is not an area");
    return mq__scope_fill(s, &area, 1, err);
}

/* ---- the fold ------------------------------------------------------------ */

/* The scope path: each area with itself and every area above it.  UNION
 * ends a walk that meets a cycle of parents (bad data must not hang).  %s is
 * the area type's name, spelt out so that the partial index of the area
 * tree (store.c) serves the walk. */
static const char anc_sql[] =
    "DROP TABLE IF EXISTS temp.mq_anc;"
    "CREATE TEMP TABLE mq_anc(area TEXT NOT NULL, anc TEXT NOT NULL,"
    " PRIMARY KEY(area, anc)) WITHOUT ROWID;"
    "WITH RECURSIVE up(area, anc) AS ("
    "  SELECT id, id FROM record WHERE type = '%s'"
    "  UNION SELECT up.area, r.parent FROM up JOIN record r ON r.id = up.anc"
    "  WHERE r.type = '%s' AND r.parent IS NOT NULL)"
    " INSERT OR IGNORE INTO mq_anc(area, anc) SELECT area, anc FROM up;";

/*
 * The needs that exist as of D (?1; and from ?2), and their actions that
 * count, each with the fields the fold reads taken out of the JSON once.
 * %s: the scope filter, twice.
 */
static const char rows_sql[] =
    "DROP TABLE IF EXISTS temp.mq_need;"
    "CREATE TEMP TABLE mq_need AS SELECT id, area,"
    " json_extract(fields, '$.household') AS household,"
    " json_extract(fields, '$.category') AS category,"
    " json_extract(fields, '$.source') AS source,"
    " json_extract(fields, '$.recorded_by') AS recorded_by,"
    " json_extract(fields, '$.recorded_at') AS recorded_at,"
    " json_extract(fields, '$.deadline') AS deadline"
    " FROM record WHERE type = 'need' AND deleted = 0 %s"
    " AND ((?2 IS NULL AND json_extract(fields, '$.recorded_at') IS NULL)"
    " OR (json_extract(fields, '$.recorded_at') <= ?1"
    " AND (?2 IS NULL OR json_extract(fields, '$.recorded_at') >= ?2)));"
    "DROP TABLE IF EXISTS temp.mq_act;"
    "CREATE TEMP TABLE mq_act AS SELECT parent AS need,"
    " json_extract(fields, '$.action') AS kind, json_extract(fields, '$.at') AS at,"
    " cv AS v, json_extract(fields, '$.by') AS by,"
    " json_extract(fields, '$.amount_yuan') AS yuan,"
    " json_extract(fields, '$.satisfaction') AS satisfaction"
    " FROM record WHERE type = 'need_action' AND deleted = 0 %s"
    " AND json_extract(fields, '$.at') <= ?1;"
    "CREATE INDEX temp.mq_act_order ON mq_act(need, at, v);";

/*
 * The fold, as the header of this file states it: per need, the last
 * counted accept, resolve or reopen (ties by version) sets the status; the
 * first counted accept names who took it.  ?1 is D, ?4 the petition
 * sources.
 */
static const char fold_sql[] =
    "DROP TABLE IF EXISTS temp.mq_fold;"
    "CREATE TEMP TABLE mq_fold AS"
    " WITH step AS (SELECT n.*,"
    "  (SELECT count(*) FROM mq_act a WHERE a.need = n.id) AS actions,"
    "  (SELECT total(yuan) FROM mq_act a WHERE a.need = n.id AND a.kind = 'resolve')"
    "  AS yuan,"
    "  (SELECT rowid FROM mq_act a WHERE a.need = n.id AND a.kind = 'accept'"
    "   ORDER BY a.at, a.v LIMIT 1) AS first_accept,"
    "  (SELECT rowid FROM mq_act a WHERE a.need = n.id"
    "   AND a.kind IN ('accept', 'resolve', 'reopen')"
    "   ORDER BY a.at DESC, a.v DESC LIMIT 1) AS last_step"
    "  FROM temp.mq_need n),"
    " folded AS (SELECT step.id, step.area, step.household, step.category, step.source,"
    "  step.recorded_by, step.recorded_at, step.deadline, step.actions, step.yuan,"
    "  step.first_accept IS NOT NULL AS accepted, fa.by AS accepted_by,"
    "  CASE l.kind WHEN 'accept' THEN 'open' WHEN 'resolve' THEN 'resolved'"
    "  WHEN 'reopen' THEN 'reopened' ELSE 'registered' END AS status,"
    "  CASE WHEN l.kind = 'resolve' THEN l.at END AS resolved_at,"
    "  CASE WHEN l.kind = 'resolve' THEN l.satisfaction END AS satisfaction"
    "  FROM step LEFT JOIN temp.mq_act fa ON fa.rowid = step.first_accept"
    "  LEFT JOIN temp.mq_act l ON l.rowid = step.last_step),"
    " marked AS (SELECT *,"
    "  coalesce(source IN (SELECT value FROM json_each(?4)), 0) AS petition,"
    "  coalesce(status != 'resolved' AND deadline < ?1, 0) AS overdue,"
    "  coalesce(status = 'resolved' AND resolved_at > deadline, 0) AS late"
    "  FROM folded)"
    " SELECT *,"
    " CASE WHEN overdue THEN CAST(julianday(?1) - julianday(deadline) AS INTEGER)"
    " END AS days_overdue,"
    " CASE WHEN status = 'resolved' AND recorded_at IS NOT NULL"
    " THEN CAST(julianday(resolved_at) - julianday(recorded_at) AS INTEGER) END AS days"
    " FROM marked;"
    "CREATE INDEX temp.mq_fold_area ON mq_fold(area);";

int mq__report_fold(mq_store *s, const char *as_of, const char *from, int scoped,
                    const mq__report_cfg *cfg, mq_error *err)
{
    static const char scope[] = "AND area IN (SELECT id FROM temp.mq_scope)";
    const char *type = mq__area_type_name(s), *f = scoped ? scope : "";
    char sql[sizeof(rows_sql) + 2 * sizeof(scope) + sizeof(anc_sql) + 128];
    sqlite3_stmt *st = NULL;
    const char *tail;
    int rc;

    snprintf(sql, sizeof(sql), anc_sql, type, type);
    if ((rc = mq__report_exec(s, sql, as_of, from, err)) != 0)
        return rc;
    snprintf(sql, sizeof(sql), rows_sql, f, f);
    if ((rc = mq__report_exec(s, sql, as_of, from, err)) != 0)
        return rc;
    /* The drop, then the fold, which binds the sources, then its index. */
    char *sources = cJSON_PrintUnformatted(cfg->petition_sources);
    if (sources == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    for (tail = fold_sql; rc == 0 && *tail != '\0';) {
        if (sqlite3_prepare_v2(s->db, tail, -1, &st, &tail) != SQLITE_OK) {
            rc = mq__fail_sqlite(err, s->db, "preparing the fold of needs");
            break;
        }
        if (st == NULL)
            break;
        mq__report_bind(s, st, as_of, from);
        int i = sqlite3_bind_parameter_index(st, "?4");
        if (i > 0)
            sqlite3_bind_text(st, i, sources, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "folding needs");
        sqlite3_finalize(st);
    }
    cJSON_free(sources);
    return rc;
}
