/*
 * core/needs.c - the needs list: each need that exists on a day D with the
 * status the report folds (report_fold.c), and what a person following it
 * up needs beside it: the household head, the group and village, the cadre
 * who took it (首问责任) by name, the deadline and the days overdue
 * (限时办结).
 *
 * A need is never "closed" by editing it: its status is the fold of its
 * need_action records, so two tablets acting on one need never overwrite
 * each other and a stale edit cannot reopen a closed need.  The list and the
 * report read the same fold, so a need the report counts as overdue is the
 * one the overdue list shows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/report.h"
#include "need_state.h"
#include "report_fold.h"

/* The statuses the list shows: the fold's, with overdue in place of the
 * first three when the need is overdue. */
static const char *const statuses[] = {"registered", "open", "reopened", "overdue",
                                       "resolved"};

/*
 * The list's statement: `shown` (the needs with their state as of D, and
 * the status shown) comes either from the fold of the day (temp.mq_fold)
 * or from need_state (the fast path below).  ?1 D; the filters are bound
 * as ?5 cadre, ?6 category, ?7 status, ?8 handler, ?9 source, ?10
 * household, ?11 need, ?12 limit, each term written only when its filter
 * is given, so that an index serves it.  The village is the area of level
 * "village" on the need's scope path.
 */
static const char list_head[] =
    "WITH RECURSIVE shown AS (SELECT * FROM (SELECT *,"
    "  CASE WHEN overdue THEN 'overdue' ELSE status END AS shown FROM ";
/* Then the filters, the order and the limit, inside `shown`: the records
 * are joined to the needs listed only, and the scope path is walked up
 * from their areas only (UNION ends a walk that meets a cycle of parents;
 * ?3 is the area type). */
static const char list_order[] = " ORDER BY deadline IS NULL, deadline, id";
static const char list_body[] =
    "), up(area, anc) AS (SELECT DISTINCT s.area, s.area FROM shown s"
    "  JOIN record a ON a.id = s.area WHERE a.type = ?3"
    "  UNION SELECT up.area, r.parent FROM up JOIN record r ON r.id = up.anc"
    "  WHERE r.type = ?3 AND r.parent IS NOT NULL),"
    " village AS (SELECT up.area, v.id AS id, json_extract(v.fields, '$.name') AS name"
    "  FROM up JOIN record v ON v.id = up.anc"
    "  WHERE json_extract(v.fields, '$.level') = 'village')"
    " SELECT f.id, f.household, json_extract(h.fields, '$.head_name'), f.area,"
    " json_extract(g.fields, '$.name'), village.id, village.name, f.category, f.source,"
    " f.recorded_by, json_extract(c.fields, '$.name'), f.recorded_at, f.deadline,"
    " f.shown, f.handler, json_extract(hc.fields, '$.name'), f.overdue, f.days_overdue, "
    "f.accepted, f.accepted_by, f.resolved_at,"
    " f.satisfaction, f.actions, n.fields"
    " FROM shown f JOIN record n ON n.id = f.id"
    " LEFT JOIN record h ON h.id = f.household"
    " LEFT JOIN record g ON g.id = f.area"
    " LEFT JOIN village ON village.area = f.area"
    " LEFT JOIN record c ON c.id = f.recorded_by"
    " LEFT JOIN record hc ON hc.id = f.handler"
    " ORDER BY f.deadline IS NULL, f.deadline, f.id";

/*
 * need_state as of D, in mq_fold's columns (and rarea): a row is the
 * need's state on every day from its horizon on (need_state.c); the day's
 * part, overdue and the days overdue, is the fold's rule (report_fold.c)
 * written in SQL.
 */
#define STATE_AS_OF(from)                                                                \
    "(SELECT id, rarea, area, household, category, source, recorded_by, recorded_at,"    \
    " deadline, status, handler, accepted, accepted_by, resolved_at, satisfaction,"      \
    " actions, (status <> 'resolved' AND deadline IS NOT NULL AND deadline < ?1)"        \
    " AS overdue, CASE WHEN status <> 'resolved' AND deadline < ?1 THEN"                 \
    " CAST(julianday(?1) - julianday(deadline) AS INTEGER) END AS days_overdue"          \
    " FROM " from ")"

static const char state_now[] = STATE_AS_OF("main.need_state");
/* With the needs whose horizon is after D folded again as of D. */
static const char state_mixed[] =
    STATE_AS_OF("(SELECT * FROM main.need_state WHERE horizon IS NULL OR horizon <= ?1"
                " UNION ALL SELECT * FROM temp.mq_need_asof)");

/* The sources of `shown`. */
enum { SRC_FOLD, SRC_STATE, SRC_MIXED };

/* The list's statement for `src` and the filters given; 0 or MQ_ENOMEM. */
static int list_sql(char *sql, size_t n, int src, int scoped,
                    const mq_report_needs_query *q, const mq_report_needs_filter *f,
                    const char *status, mq_error *err)
{
    const char *from = src == SRC_FOLD    ? "temp.mq_fold"
                       : src == SRC_STATE ? state_now
                                          : state_mixed;
    const struct {
        int on;
        const char *term;
    } terms[] = {
        {src != SRC_FOLD && scoped, " AND rarea IN (SELECT id FROM temp.mq_scope)"},
        {q->cadre != NULL, " AND recorded_by = ?5"},
        {q->category != NULL, " AND category = ?6"},
        {status != NULL, " AND shown = ?7"},
        {f->handler != NULL, " AND handler = ?8"},
        {f->source != NULL, " AND source = ?9"},
        {f->household != NULL, " AND household = ?10"},
        {f->need != NULL, " AND id = ?11"},
        {f->open_only, " AND status <> 'resolved'"},
    };
    int used = snprintf(sql, n, "%s%s) WHERE 1", list_head, from);

    for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++)
        if (terms[i].on && used >= 0 && (size_t)used < n)
            used += snprintf(sql + used, n - (size_t)used, "%s", terms[i].term);
    if (used >= 0 && (size_t)used < n)
        used += snprintf(sql + used, n - (size_t)used, "%s%s%s", list_order,
                         f->limit > 0 ? " LIMIT ?12" : "", list_body);
    if (used < 0 || (size_t)used >= n)
        return mq__fail(err, MQ_ENOMEM, "the needs list's statement does not fit");
    return 0;
}

/* The members of one line, in the columns of list_sql. */
static const char *const text_cols[] = {
    "id",           "household", "head_name", "area",        "area_name",  "village",
    "village_name", "category",  "source",    "recorded_by", "cadre_name", "recorded_at",
    "deadline",     "status",    "handler",   "handler_name"};
enum {
    C_OVERDUE = 16,
    C_DAYS,
    C_ACCEPTED,
    C_ACCEPTED_BY,
    C_RESOLVED_AT,
    C_SATISFACTION,
    C_ACTIONS,
    C_FIELDS
};

static char *line_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    char *json;

    if (o == NULL)
        return NULL;
    for (int i = 0; i < (int)(sizeof(text_cols) / sizeof(text_cols[0])); i++) {
        const char *v = mq__col_text(st, i);
        if (v != NULL)
            cJSON_AddStringToObject(o, text_cols[i], v);
    }
    cJSON_AddBoolToObject(o, "overdue", sqlite3_column_int(st, C_OVERDUE));
    if (sqlite3_column_type(st, C_DAYS) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, "days_overdue", sqlite3_column_int(st, C_DAYS));
    cJSON_AddBoolToObject(o, "accepted", sqlite3_column_int(st, C_ACCEPTED));
    const char *const more[][2] = {{"accepted_by", mq__col_text(st, C_ACCEPTED_BY)},
                                   {"resolved_at", mq__col_text(st, C_RESOLVED_AT)},
                                   {"satisfaction", mq__col_text(st, C_SATISFACTION)}};
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
        if (more[i][1] != NULL)
            cJSON_AddStringToObject(o, more[i][0], more[i][1]);
    cJSON_AddNumberToObject(o, "actions", sqlite3_column_int(st, C_ACTIONS));
    cJSON *fields = cJSON_Parse(mq__col_text(st, C_FIELDS));
    if (fields != NULL)
        cJSON_AddItemToObject(o, "fields", fields);
    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

/* Checks the filters that name something: MQ_ENOTFOUND for a cadre that is
 * not here, MQ_EINVAL for a category or status that cannot be. */
static int check_filters(mq_store *s, const mq_report_needs_query *q, mq_error *err)
{
    if (q->cadre != NULL) {
        mq__kind k;
        int rc;
        if (!mq_valid_uuid(q->cadre))
            return mq__fail(err, MQ_ENOTFOUND,
                            "cadre \"%.80s\": not a cadre id (a lower-case UUID)",
                            q->cadre);
        if ((rc = mq__kind_get(s, q->cadre, &k, err)) != 0)
            return rc;
        if (!k.exists || strcmp(k.type_name, "cadre") != 0)
            return mq__fail(err, MQ_ENOTFOUND, "cadre \"%s\": %s", q->cadre,
                            k.exists ? "the record is not a cadre"
                                     : "no record of this id on this replica");
    }
    if (q->category != NULL) {
        const mq_type *t = mq__schema_type(s->schema, "need");
        const mq_field *f = t != NULL ? mq__type_field(t, "category") : NULL;
        size_t i = 0;
        while (f != NULL && i < f->nvalues && strcmp(f->values[i], q->category) != 0)
            i++;
        if (f == NULL || i == f->nvalues)
            return mq__fail(err, MQ_EINVAL,
                            "category \"%.80s\": not a need category of the schema",
                            q->category);
    }
    if (q->status != NULL) {
        size_t i = 0, n = sizeof(statuses) / sizeof(statuses[0]);
        while (i < n && strcmp(statuses[i], q->status) != 0)
            i++;
        if (i == n)
            return mq__fail(err, MQ_EINVAL,
                            "status \"%.80s\": must be registered, open, reopened, "
                            "overdue or resolved",
                            q->status);
    }
    return 0;
}

int mq_report_needs(mq_store *s, const mq_report_needs_query *q, mq_json_cb cb, void *ctx,
                    mq_error *err)
{
    return mq_report_needs_filtered(s, q, NULL, cb, ctx, err);
}

int mq_report_needs_filtered(mq_store *s, const mq_report_needs_query *q,
                             const mq_report_needs_filter *more, mq_json_cb cb, void *ctx,
                             mq_error *err)
{
    static const mq_report_needs_filter none;
    const mq_report_needs_filter *f = more != NULL ? more : &none;
    mq__report_cfg cfg;
    sqlite3_stmt *st = NULL;
    char as_of[11], sql[4096];
    int rc, began = 0, step, usable = 0, mixed = 0;
    const char *status = q->overdue_only ? "overdue" : q->status;

    if ((rc = mq__report_day(s, q->as_of, "as_of", as_of, err)) != 0 ||
        (rc = check_filters(s, q, err)) != 0)
        return rc;
    if (q->overdue_only && q->status != NULL && strcmp(q->status, "overdue") != 0)
        return mq__fail(err, MQ_EINVAL,
                        "status \"%s\": only overdue needs were asked for", q->status);
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    if ((rc = mq__need_state_ready(s, err)) != 0)
        goto done;
    if ((rc = mq__report_read_begin(s, &began, err)) != 0)
        goto done;
    if (q->area != NULL && (rc = mq__report_scope(s, q->area, err)) != 0)
        goto done;
    /* Today (or any day no need's horizon passes, but a few): need_state,
     * indexed.  A past day: the fold of that day. */
    if ((rc = mq__need_state_as_of(s, as_of, &cfg, &usable, &mixed, err)) != 0)
        goto done;
    if (!usable &&
        (rc = mq__report_fold(s, as_of, NULL, q->area != NULL, &cfg, err)) != 0)
        goto done;
    if ((rc = list_sql(sql, sizeof(sql),
                       !usable ? SRC_FOLD
                       : mixed ? SRC_MIXED
                               : SRC_STATE,
                       q->area != NULL, q, f, status, err)) != 0)
        goto done;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "listing needs");
        goto done;
    }
    mq__report_bind(s, st, as_of, NULL);
    const char *const binds[][2] = {
        {"?5", q->cadre},  {"?6", q->category},   {"?7", status},  {"?8", f->handler},
        {"?9", f->source}, {"?10", f->household}, {"?11", f->need}};
    for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
        int at = sqlite3_bind_parameter_index(st, binds[i][0]);
        if (at > 0)
            mq__bind_text(st, at, binds[i][1]);
    }
    if (f->limit > 0) {
        /* A size_t of 64 bits may pass SQLite's range; one of 32 cannot. */
        uint64_t limit = f->limit;
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, "?12"),
                           limit > (uint64_t)INT64_MAX ? INT64_MAX
                                                       : (sqlite3_int64)limit);
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char *json = line_json(st);
        int stop =
            json != NULL ? cb(ctx, json) : mq__fail(err, MQ_ENOMEM, "out of memory");
        cJSON_free(json);
        if (stop != 0) {
            rc = stop;
            goto done;
        }
    }
    rc = step == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "listing needs");
done:
    sqlite3_finalize(st);
    mq__report_read_end(s, began);
    mq__report_cfg_free(&cfg);
    return rc;
}

int mq_store_needs(mq_store *s, const mq_needs_query *q, mq_json_cb cb, void *ctx,
                   mq_error *err)
{
    mq_report_needs_query rq = {q->area, q->today, NULL, NULL, NULL, q->overdue_only};

    return mq_report_needs(s, &rq, cb, ctx, err);
}
