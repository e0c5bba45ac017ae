/*
 * core/report.c - the report: every figure of docs/REPORTS.md per area at
 * every level, per cadre and for the whole scope, and the five-level
 * warning of village collective income, as one JSON document.
 *
 * SQL does the counting: over the fold (report_fold.c, temp.mq_fold), each
 * need is keyed three ways, into one "key set" each,
 *
 *     kset 0  ''                 the whole scope
 *     kset 1  every area above   through temp.mq_anc, the scope path
 *     kset 2  recorded_by        the cadre who took it first (首问责任)
 *
 * and one GROUP BY per kind of figure fills a temporary table keyed by
 * (kset, key): needs, the median days to resolve, satisfaction, visits (by
 * the visit's area and its cadre) and households (by area and paired_cadre).
 * C then walks the areas in tree order and the cadres by name, joins those
 * tables and writes the JSON, filling the zeros and the rates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/report.h"
#include "report_fold.h"

/*
 * Counting goes in two steps.  First the leaves: each row of `src` is
 * grouped by its own area (kset 1), by its cadre column `cadre` (kset 2)
 * and as a whole (kset 0), with `dim` as a further column to group by when
 * there is one (a satisfaction value, a visit kind, a number of days).
 * Then the area partials are summed into every area above through
 * temp.mq_anc (ROLLUP).  Counts and sums add up, so the second step reads a
 * thousand partials instead of every need once per level.
 */
#define LEAVES(src, cadre, where, dim, measures)                                         \
    "SELECT 0 AS kset, '' AS key" dim ", " measures " FROM " src " WHERE " where         \
    " GROUP BY kset, key" dim " UNION ALL SELECT 1, area" dim ", " measures " FROM " src \
    " WHERE area IS NOT NULL AND " where " GROUP BY area" dim                            \
    " UNION ALL SELECT 2, " cadre dim ", " measures " FROM " src " WHERE " cadre         \
    " IS NOT NULL AND " where " GROUP BY " cadre dim
/* The leaves of kset 0 and 2 as they are, and kset 1 summed up the areas. */
#define ROLLUP(leaf, dim, sums)                                                          \
    "SELECT * FROM " leaf " WHERE kset != 1 UNION ALL SELECT 1, a.anc" dim ", " sums     \
    " FROM " leaf " l JOIN temp.mq_anc a ON a.area = l.key WHERE l.kset = 1"             \
    " GROUP BY a.anc" dim

/* Needs: the counts; the median days to resolve from a histogram of days
 * (the middle value, or the mean of the middle two); the satisfaction of
 * resolved needs. */
// clang-format off
#define NEED_MEASURES                                                                \
    "count(*) AS registered, sum(accepted) AS accepted,"                             \
    " sum(status = 'resolved') AS resolved,"                                         \
    " sum(accepted AND status != 'resolved') AS open, sum(overdue) AS overdue,"      \
    " sum(late) AS late, total(yuan) AS yuan, sum(petition) AS p_received,"          \
    " sum(petition AND accepted) AS p_accepted,"                                     \
    " sum(petition AND status = 'resolved') AS p_closed"
#define NEED_SUMS                                                                    \
    "sum(registered), sum(accepted), sum(resolved), sum(open), sum(overdue),"        \
    " sum(late), total(yuan), sum(p_received), sum(p_accepted), sum(p_closed)"

static const char agg_sql[] =
    "DROP TABLE IF EXISTS temp.mq_nleaf;"
    "CREATE TEMP TABLE mq_nleaf AS "
    LEAVES("temp.mq_fold", "recorded_by", "1", "", NEED_MEASURES) ";"
    "DROP TABLE IF EXISTS temp.mq_nagg;"
    "CREATE TEMP TABLE mq_nagg AS " ROLLUP("temp.mq_nleaf", "", NEED_SUMS) ";"
    "CREATE INDEX temp.mq_nagg_key ON mq_nagg(kset, key);"

    "DROP TABLE IF EXISTS temp.mq_dleaf;"
    "CREATE TEMP TABLE mq_dleaf AS "
    LEAVES("temp.mq_fold", "recorded_by", "days IS NOT NULL", ", days", "count(*) AS n") ";"
    "DROP TABLE IF EXISTS temp.mq_days;"
    "CREATE TEMP TABLE mq_days AS " ROLLUP("temp.mq_dleaf", ", days", "sum(n)") ";"
    "DROP TABLE IF EXISTS temp.mq_nmed;"
    "CREATE TEMP TABLE mq_nmed AS WITH c AS (SELECT kset, key, days,"
    " sum(n) OVER w - n AS before, sum(n) OVER w AS upto,"
    " sum(n) OVER (PARTITION BY kset, key) AS total FROM temp.mq_days"
    " WINDOW w AS (PARTITION BY kset, key ORDER BY days ROWS UNBOUNDED PRECEDING))"
    " SELECT kset, key, avg(days) AS median FROM c"
    " WHERE ((total + 1) / 2 > before AND (total + 1) / 2 <= upto)"
    " OR ((total + 2) / 2 > before AND (total + 2) / 2 <= upto)"
    " GROUP BY kset, key;"
    "CREATE INDEX temp.mq_nmed_key ON mq_nmed(kset, key);"

    "DROP TABLE IF EXISTS temp.mq_sleaf;"
    "CREATE TEMP TABLE mq_sleaf AS "
    LEAVES("temp.mq_fold", "recorded_by",
           "status = 'resolved' AND satisfaction IS NOT NULL", ", satisfaction",
           "count(*) AS n") ";"
    "DROP TABLE IF EXISTS temp.mq_nsat;"
    "CREATE TEMP TABLE mq_nsat AS SELECT kset, key,"
    " json_group_object(satisfaction, n) AS counts FROM ("
    ROLLUP("temp.mq_sleaf", ", satisfaction", "sum(n)") ") GROUP BY kset, key;"
    "CREATE INDEX temp.mq_nsat_key ON mq_nsat(kset, key);";

/* Visits that count (at on or before D, and on or after F when given) by
 * kind, and households, each counted like the needs.  %s: the scope
 * filter, twice. */
static const char visit_sql[] =
    "DROP TABLE IF EXISTS temp.mq_v;"
    "CREATE TEMP TABLE mq_v AS SELECT area, json_extract(fields, '$.cadre') AS cadre,"
    " json_extract(fields, '$.kind') AS kind FROM record"
    " WHERE type = 'visit' AND deleted = 0 AND json_extract(fields, '$.at') <= ?1"
    " AND (?2 IS NULL OR json_extract(fields, '$.at') >= ?2) %s;"
    "DROP TABLE IF EXISTS temp.mq_vleaf;"
    "CREATE TEMP TABLE mq_vleaf AS "
    LEAVES("temp.mq_v", "cadre", "1", ", kind", "count(*) AS n") ";"
    "DROP TABLE IF EXISTS temp.mq_vagg;"
    "CREATE TEMP TABLE mq_vagg AS SELECT kset, key, json_group_object(kind, n) AS counts"
    " FROM (" ROLLUP("temp.mq_vleaf", ", kind", "sum(n)") ") GROUP BY kset, key;"
    "CREATE INDEX temp.mq_vagg_key ON mq_vagg(kset, key);"

    "DROP TABLE IF EXISTS temp.mq_h;"
    "CREATE TEMP TABLE mq_h AS SELECT area,"
    " json_extract(fields, '$.paired_cadre') AS cadre FROM record"
    " WHERE type = 'household' AND deleted = 0 %s;"
    "DROP TABLE IF EXISTS temp.mq_hleaf;"
    "CREATE TEMP TABLE mq_hleaf AS "
    LEAVES("temp.mq_h", "cadre", "1", "", "count(*) AS n") ";"
    "DROP TABLE IF EXISTS temp.mq_hagg;"
    "CREATE TEMP TABLE mq_hagg AS " ROLLUP("temp.mq_hleaf", "", "sum(n)") ";"
    "CREATE INDEX temp.mq_hagg_key ON mq_hagg(kset, key);";
// clang-format on

/* The figures of one key: the columns F_* below, from where a query puts them. */
#define FIGS                                                                             \
    " h.n, g.registered, g.accepted, g.resolved, g.open, g.overdue, g.late,"             \
    " round(g.yuan, 2),"                                                                 \
    " g.p_received, g.p_accepted, g.p_closed, m.median, s.counts, v.counts"
#define FIGS_JOIN(kset, key)                                                             \
    " LEFT JOIN temp.mq_hagg h ON h.kset = " kset " AND h.key = " key                    \
    " LEFT JOIN temp.mq_nagg g ON g.kset = " kset " AND g.key = " key                    \
    " LEFT JOIN temp.mq_nmed m ON m.kset = " kset " AND m.key = " key                    \
    " LEFT JOIN temp.mq_nsat s ON s.kset = " kset " AND s.key = " key                    \
    " LEFT JOIN temp.mq_vagg v ON v.kset = " kset " AND v.key = " key

enum {
    F_HOUSEHOLDS,
    F_REGISTERED,
    F_ACCEPTED,
    F_RESOLVED,
    F_OPEN,
    F_OVERDUE,
    F_LATE,
    F_YUAN,
    F_P_RECEIVED,
    F_P_ACCEPTED,
    F_P_CLOSED,
    F_MEDIAN,
    F_SATISFACTION,
    F_VISITS
};

static const char total_sql[] =
    "SELECT" FIGS " FROM (SELECT 0 AS kset, '' AS key) k" FIGS_JOIN("0", "''");

/* The areas in tree order: each before the areas below it, siblings by code
 * and name.  %s: the area type (spelt out for the partial index of the area
 * tree), the roots (the scope's area, or the areas under no live area), the
 * area type again. */
static const char areas_sql[] =
    "WITH RECURSIVE tree(id, depth, path) AS ("
    "  SELECT id, 0, coalesce(json_extract(fields, '$.code'), '') || char(2)"
    "  || coalesce(json_extract(fields, '$.name'), '') || char(2) || id"
    "  FROM record r WHERE type = '%s' AND deleted = 0 AND %s"
    "  UNION ALL SELECT r.id, tree.depth + 1, tree.path || char(1)"
    "  || coalesce(json_extract(r.fields, '$.code'), '') || char(2)"
    "  || coalesce(json_extract(r.fields, '$.name'), '') || char(2) || r.id"
    "  FROM tree JOIN record r ON r.parent = tree.id"
    "  WHERE r.type = '%s' AND r.deleted = 0 AND tree.depth < 64)"
    " SELECT t.id, json_extract(r.fields, '$.name'), json_extract(r.fields, '$.level'),"
    " r.parent, t.depth," FIGS
    " FROM tree t JOIN record r ON r.id = t.id" FIGS_JOIN("1", "t.id") " ORDER BY t.path";

static const char roots_all[] =
    "(parent IS NULL OR NOT EXISTS (SELECT 1 FROM record p WHERE p.id = r.parent"
    " AND p.type = ?3 AND p.deleted = 0))";
static const char roots_scoped[] = "id = ?6";

/* Every cadre with a household, a need or a visit in the scope. */
static const char cadres_sql[] =
    "WITH k(key) AS (SELECT key FROM temp.mq_hagg WHERE kset = 2"
    " UNION SELECT key FROM temp.mq_nagg WHERE kset = 2"
    " UNION SELECT key FROM temp.mq_vagg WHERE kset = 2)"
    " SELECT k.key, json_extract(c.fields, '$.name') AS name," FIGS
    " FROM k LEFT JOIN record c ON c.id = k.key" FIGS_JOIN(
        "2", "k.key") " ORDER BY name IS NULL, name, k.key";

static const char income_sql[] =
    "SELECT i.id, i.area, json_extract(a.fields, '$.name'),"
    " json_extract(i.fields, '$.period'), json_extract(i.fields, '$.income_yuan'),"
    " json_extract(i.fields, '$.target_yuan')"
    " FROM record i LEFT JOIN record a ON a.id = i.area"
    " WHERE i.type = 'village_income' AND i.deleted = 0 %s"
    " ORDER BY coalesce(json_extract(a.fields, '$.code'), ''),"
    " json_extract(a.fields, '$.name'), i.area, json_extract(i.fields, '$.period'), i.id";

static const char scope_filter[] = "AND area IN (SELECT id FROM temp.mq_scope)";
static const char scope_filter_i[] = "AND i.area IN (SELECT id FROM temp.mq_scope)";

/* What one report call carries around. */
typedef struct report {
    mq_store *s;
    const mq__report_cfg *cfg;
    const mq_field *satisfaction; /* need_action.satisfaction: its choices */
    const mq_field *visit_kind;   /* visit.kind: its choices */
    const char *as_of, *from, *area;
} report;

int mq_report_check_day(const char *day, mq_error *err)
{
    char why[64];

    if (day == NULL)
        return mq__fail(err, MQ_EINVAL, "no day given: a day is written YYYY-MM-DD");
    if (mq__check_date(day, why, sizeof(why)) != 0)
        return mq__fail(err, MQ_EINVAL, "\"%.40s\" %s", day, why);
    return 0;
}

/* A rate: num / den, or null when den is 0. */
static cJSON *rate(double num, double den)
{
    return den > 0 ? cJSON_CreateNumber(num / den) : cJSON_CreateNull();
}

/* {VALUE: COUNT} over every choice of `f`, 0 where `counts_json` has none. */
static cJSON *choice_counts(const mq_field *f, const char *counts_json)
{
    cJSON *counts = counts_json != NULL ? cJSON_Parse(counts_json) : NULL;
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; f != NULL && i < f->nvalues; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, f->values[i]);
        cJSON_AddNumberToObject(o, f->values[i], cJSON_IsNumber(n) ? n->valuedouble : 0);
    }
    cJSON_Delete(counts);
    return o;
}

static double col_num(sqlite3_stmt *st, int col)
{
    return sqlite3_column_double(st, col); /* NULL reads as 0 */
}

/* Adds households, needs, petitions and visits from the FIGS columns of `st`
 * starting at `c`. */
static void add_figures(const report *r, cJSON *o, sqlite3_stmt *st, int c)
{
    cJSON *needs = cJSON_CreateObject(), *pet = cJSON_CreateObject();
    double accepted = col_num(st, c + F_ACCEPTED), resolved = col_num(st, c + F_RESOLVED);
    double p_accepted = col_num(st, c + F_P_ACCEPTED);

    cJSON_AddNumberToObject(o, "households", col_num(st, c + F_HOUSEHOLDS));
    cJSON_AddNumberToObject(needs, "registered", col_num(st, c + F_REGISTERED));
    cJSON_AddNumberToObject(needs, "accepted", accepted);
    cJSON_AddNumberToObject(needs, "resolved", resolved);
    cJSON_AddNumberToObject(needs, "open", col_num(st, c + F_OPEN));
    cJSON_AddNumberToObject(needs, "overdue", col_num(st, c + F_OVERDUE));
    cJSON_AddNumberToObject(needs, "resolved_late", col_num(st, c + F_LATE));
    cJSON_AddItemToObject(needs, "completion_rate", rate(resolved, accepted));
    if (sqlite3_column_type(st, c + F_MEDIAN) == SQLITE_NULL)
        cJSON_AddNullToObject(needs, "median_days_to_resolve");
    else
        cJSON_AddNumberToObject(needs, "median_days_to_resolve",
                                col_num(st, c + F_MEDIAN));
    cJSON_AddItemToObject(
        needs, "satisfaction",
        choice_counts(r->satisfaction, mq__col_text(st, c + F_SATISFACTION)));
    cJSON_AddNumberToObject(needs, "yuan", col_num(st, c + F_YUAN));
    cJSON_AddItemToObject(o, "needs", needs);

    cJSON *visits = choice_counts(r->visit_kind, mq__col_text(st, c + F_VISITS));
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(visits, r->cfg->reception_kind);
    cJSON_AddNumberToObject(pet, "received", col_num(st, c + F_P_RECEIVED));
    cJSON_AddNumberToObject(pet, "accepted", p_accepted);
    cJSON_AddNumberToObject(pet, "closed", col_num(st, c + F_P_CLOSED));
    cJSON_AddItemToObject(pet, "rate", rate(col_num(st, c + F_P_CLOSED), p_accepted));
    cJSON_AddNumberToObject(pet, "receptions",
                            cJSON_IsNumber(rec) ? rec->valuedouble : 0);
    cJSON_AddItemToObject(o, "petitions", pet);
    cJSON_AddItemToObject(o, "visits", visits);
}

static void add_text(cJSON *o, const char *name, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static int prepare(const report *r, const char *sql, sqlite3_stmt **st, mq_error *err)
{
    if (sqlite3_prepare_v2(r->s->db, sql, -1, st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, r->s->db, "preparing a report query");
    mq__report_bind(r->s, *st, r->as_of, r->from);
    int i = sqlite3_bind_parameter_index(*st, "?6");
    if (i > 0)
        mq__bind_text(*st, i, r->area);
    return 0;
}

static int add_total(const report *r, cJSON *doc, mq_error *err)
{
    sqlite3_stmt *st;
    int rc = prepare(r, total_sql, &st, err);

    if (rc != 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        add_figures(r, o, st, 0);
        cJSON_AddItemToObject(doc, "total", o);
    } else {
        rc = mq__fail_sqlite(err, r->s->db, "reading the report's totals");
    }
    sqlite3_finalize(st);
    return rc;
}

static int add_areas(const report *r, cJSON *doc, mq_error *err)
{
    char sql[sizeof(areas_sql) + sizeof(roots_all) + 128];
    sqlite3_stmt *st;
    cJSON *list = cJSON_AddArrayToObject(doc, "areas");
    int rc, step;

    const char *type = mq__area_type_name(r->s);
    snprintf(sql, sizeof(sql), areas_sql, type,
             r->area != NULL ? roots_scoped : roots_all, type);
    if ((rc = prepare(r, sql, &st, err)) != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", mq__col_text(st, 0));
        add_text(o, "name", mq__col_text(st, 1));
        add_text(o, "level", mq__col_text(st, 2));
        add_text(o, "parent", mq__col_text(st, 3));
        cJSON_AddNumberToObject(o, "depth", sqlite3_column_int(st, 4));
        add_figures(r, o, st, 5);
        cJSON_AddItemToArray(list, o);
    }
    rc = step == SQLITE_DONE ? 0 : mq__fail_sqlite(err, r->s->db, "reading the areas");
    sqlite3_finalize(st);
    return rc;
}

static int add_cadres(const report *r, cJSON *doc, mq_error *err)
{
    sqlite3_stmt *st;
    cJSON *list = cJSON_AddArrayToObject(doc, "cadres");
    int rc, step;

    if ((rc = prepare(r, cadres_sql, &st, err)) != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", mq__col_text(st, 0));
        add_text(o, "name", mq__col_text(st, 1));
        add_figures(r, o, st, 2);
        cJSON_AddItemToArray(list, o);
    }
    rc = step == SQLITE_DONE ? 0 : mq__fail_sqlite(err, r->s->db, "reading the cadres");
    sqlite3_finalize(st);
    return rc;
}

/*
 * The days a period of village income covers: "YYYYQn" a quarter, "YYYY-MM"
 * a month, "YYYY" a year.  Returns 0 for a period written otherwise, which
 * the report always lists (it cannot place it in time).
 */
static int period_days(const char *p, char first[11], char last[11])
{
    static const char *const qfirst[4] = {"01-01", "04-01", "07-01", "10-01"};
    static const char *const qlast[4] = {"03-31", "06-30", "09-30", "12-31"};
    size_t n = strlen(p);

    if (n < 4 || strspn(p, "0123456789") < 4)
        return 0;
    if (n == 4) {
        snprintf(first, 11, "%.4s-01-01", p);
        snprintf(last, 11, "%.4s-12-31", p);
        return 1;
    }
    if (n == 6 && p[4] == 'Q' && p[5] >= '1' && p[5] <= '4') {
        snprintf(first, 11, "%.4s-%s", p, qfirst[p[5] - '1']);
        snprintf(last, 11, "%.4s-%s", p, qlast[p[5] - '1']);
        return 1;
    }
    if (n == 7 && p[4] == '-' && strspn(p + 5, "0123456789") == 2) {
        int m = (p[5] - '0') * 10 + (p[6] - '0');
        if (m < 1 || m > 12)
            return 0;
        snprintf(first, 11, "%.7s-01", p);
        snprintf(last, 11, "%.7s-31", p); /* compared as text: past any last day */
        return 1;
    }
    return 0;
}

static int add_income(const report *r, cJSON *doc, mq_error *err)
{
    char sql[sizeof(income_sql) + sizeof(scope_filter_i)];
    sqlite3_stmt *st;
    cJSON *list = cJSON_AddArrayToObject(doc, "income");
    int rc, step;

    snprintf(sql, sizeof(sql), income_sql, r->area != NULL ? scope_filter_i : "");
    if ((rc = prepare(r, sql, &st, err)) != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *period = mq__col_text(st, 3);
        char first[11], last[11];
        if (period != NULL && period_days(period, first, last) &&
            (strcmp(first, r->as_of) > 0 ||
             (r->from != NULL && strcmp(last, r->from) < 0)))
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", mq__col_text(st, 0));
        add_text(o, "area", mq__col_text(st, 1));
        add_text(o, "name", mq__col_text(st, 2));
        add_text(o, "period", period);
        int has_income = sqlite3_column_type(st, 4) != SQLITE_NULL;
        int has_target = sqlite3_column_type(st, 5) != SQLITE_NULL;
        double income = col_num(st, 4), target = col_num(st, 5);
        if (has_income)
            cJSON_AddNumberToObject(o, "income_yuan", income);
        else
            cJSON_AddNullToObject(o, "income_yuan");
        if (has_target)
            cJSON_AddNumberToObject(o, "target_yuan", target);
        else
            cJSON_AddNullToObject(o, "target_yuan");
        if (has_income && has_target && target > 0) {
            cJSON_AddNumberToObject(o, "ratio", income / target);
            cJSON_AddStringToObject(o, "level",
                                    mq__report_income_level(r->cfg, income / target));
        } else {
            cJSON_AddNullToObject(o, "ratio");
            cJSON_AddNullToObject(o, "level");
        }
        cJSON_AddItemToArray(list, o);
    }
    rc = step == SQLITE_DONE ? 0
                             : mq__fail_sqlite(err, r->s->db, "reading village income");
    sqlite3_finalize(st);
    return rc;
}

static const mq_field *schema_field(mq_store *s, const char *type, const char *field)
{
    const mq_type *t = mq__schema_type(s->schema, type);

    return t != NULL ? mq__type_field(t, field) : NULL;
}

int mq_report_json(mq_store *s, const mq_report_query *q, char **out, mq_error *err)
{
    mq__report_cfg cfg;
    char as_of[11], from[11];
    int rc, began = 0;
    cJSON *doc = NULL;

    *out = NULL;
    if ((rc = mq__report_day(s, q->as_of, "as_of", as_of, err)) != 0)
        return rc;
    if (q->from != NULL) {
        if ((rc = mq__report_day(s, q->from, "from", from, err)) != 0)
            return rc;
        if (strcmp(from, as_of) > 0)
            return mq__fail(err, MQ_EINVAL, "from \"%s\": must not be after as_of \"%s\"",
                            from, as_of);
    }
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    report r = {s,
                &cfg,
                schema_field(s, "need_action", "satisfaction"),
                schema_field(s, "visit", "kind"),
                as_of,
                q->from != NULL ? from : NULL,
                q->area};
    if ((rc = mq__report_read_begin(s, &began, err)) != 0)
        goto done;
    if (q->area != NULL && (rc = mq__report_scope(s, q->area, err)) != 0)
        goto done;
    if ((rc = mq__report_fold(s, r.as_of, r.from, q->area != NULL, &cfg, err)) != 0)
        goto done;
    if ((rc = mq__report_exec(s, agg_sql, r.as_of, r.from, err)) != 0)
        goto done;
    {
        char sql[sizeof(visit_sql) + 2 * sizeof(scope_filter)];
        const char *f = q->area != NULL ? scope_filter : "";
        snprintf(sql, sizeof(sql), visit_sql, f, f);
        if ((rc = mq__report_exec(s, sql, r.as_of, r.from, err)) != 0)
            goto done;
    }
    doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_AddStringToObject(doc, "as_of", as_of);
    add_text(doc, "from", r.from);
    add_text(doc, "area", q->area);
    if ((rc = add_total(&r, doc, err)) != 0 || (rc = add_areas(&r, doc, err)) != 0 ||
        (rc = add_cadres(&r, doc, err)) != 0 || (rc = add_income(&r, doc, err)) != 0)
        goto done;
    *out = cJSON_PrintUnformatted(doc);
    if (*out == NULL)
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
done:
    cJSON_Delete(doc);
    mq__report_read_end(s, began);
    mq__report_cfg_free(&cfg);
    return rc;
}

int mq_report_labels(mq_store *s, char **out, mq_error *err)
{
    mq__report_cfg cfg;
    int rc;

    *out = NULL;
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    *out = cfg.labels != NULL ? cJSON_PrintUnformatted(cfg.labels) : mq__strdup("{}");
    mq__report_cfg_free(&cfg);
    return *out != NULL ? 0 : mq__fail(err, MQ_ENOMEM, "out of memory");
}
