/*
 * core/needs.c - needs with their status folded from their actions.
 *
 * A need (民情登记卡) is never "closed" by editing it: its status is the fold
 * of its need_action log records, ordered by the day they happened and then
 * by version, so two tablets acting on one need never overwrite each other
 * and a stale edit cannot reopen a closed need.
 *
 *     accept   -> open      (the first accept names who took it: 首问责任)
 *     resolve  -> resolved  (民情办结卡)
 *     reopen   -> reopened
 *     progress, transfer: recorded, status unchanged
 *
 * A need that is not resolved and whose deadline is before today is overdue
 * (限时办结).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct action {
    char at[16];
    char v[MQ_VERSION_MAX];
    char kind[16];
    char by[64];
};

static int cmp_action(const void *a, const void *b)
{
    const struct action *x = a, *y = b;
    int c = strcmp(x->at, y->at);

    return c != 0 ? c : strcmp(x->v, y->v);
}

static const char *str_field(const cJSON *fields, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int load_actions(mq_store *s, sqlite3_stmt *st, const char *need,
                        struct action **out, size_t *nout, mq_error *err)
{
    struct action *a = NULL;
    size_t n = 0, cap = 0;
    int rc;

    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, need, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *f = cJSON_Parse(mq__col_text(st, 0));
        if (f == NULL)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            struct action *grown = realloc(a, cap * sizeof(*a));
            if (grown == NULL) {
                cJSON_Delete(f);
                free(a);
                return mq__fail(err, MQ_ENOMEM, "out of memory");
            }
            a = grown;
        }
        struct action *x = &a[n++];
        const char *at = str_field(f, "at"), *kind = str_field(f, "action"),
                   *by = str_field(f, "by");
        snprintf(x->at, sizeof(x->at), "%s", at ? at : "");
        snprintf(x->v, sizeof(x->v), "%s", mq__col_text(st, 1));
        snprintf(x->kind, sizeof(x->kind), "%s", kind ? kind : "");
        snprintf(x->by, sizeof(x->by), "%s", by ? by : "");
        cJSON_Delete(f);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(a);
        return mq__fail_sqlite(err, s->db, "reading need actions");
    }
    if (n > 1)
        qsort(a, n, sizeof(*a), cmp_action);
    *out = a;
    *nout = n;
    return 0;
}

int mq_store_needs(mq_store *s, const mq_needs_query *q, mq_json_cb cb, void *ctx,
                   mq_error *err)
{
    char today[16];
    sqlite3_stmt *needs = NULL, *acts = NULL;
    int rc;

    if (q->today != NULL) {
        char why[64];
        if (mq__check_date(q->today, why, sizeof(why)) != 0)
            return mq__fail(err, MQ_EINVAL, "today \"%s\": %s", q->today, why);
        snprintf(today, sizeof(today), "%s", q->today);
    } else {
        char iso[MQ_ISO_MAX];
        mq__iso_time(iso, mq_store_now_ms(s));
        snprintf(today, sizeof(today), "%.10s", iso);
    }
    if (q->area != NULL) {
        if ((rc = mq__scope_fill(s, &q->area, 1, err)) != 0)
            return rc;
    }
    if (sqlite3_prepare_v2(
            s->db,
            q->area != NULL
                ? "SELECT id, area, fields FROM record WHERE type = 'need'"
                  " AND deleted = 0 AND area IN (SELECT id FROM temp.mq_scope)"
                  " ORDER BY json_extract(fields, '$.deadline'), id"
                : "SELECT id, area, fields FROM record WHERE type = 'need'"
                  " AND deleted = 0"
                  " ORDER BY json_extract(fields, '$.deadline'), id",
            -1, &needs, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT fields, cv FROM record WHERE parent = ?1"
                           " AND type = 'need_action' AND deleted = 0",
                           -1, &acts, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "reading needs");
        goto out;
    }
    while ((rc = sqlite3_step(needs)) == SQLITE_ROW) {
        char id[64];
        struct action *a = NULL;
        size_t n = 0;
        snprintf(id, sizeof(id), "%s", mq__col_text(needs, 0));
        cJSON *fields = cJSON_Parse(mq__col_text(needs, 2));
        if (fields == NULL)
            continue;
        if ((rc = load_actions(s, acts, id, &a, &n, err)) != 0) {
            cJSON_Delete(fields);
            goto out;
        }
        const char *status = "open", *accepted_by = NULL, *resolved_at = NULL;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(a[i].kind, "accept") == 0 && accepted_by == NULL)
                accepted_by = a[i].by;
            else if (strcmp(a[i].kind, "resolve") == 0) {
                status = "resolved";
                resolved_at = a[i].at;
            } else if (strcmp(a[i].kind, "reopen") == 0) {
                status = "reopened";
                resolved_at = NULL;
            }
        }
        const char *deadline = str_field(fields, "deadline");
        int overdue = strcmp(status, "resolved") != 0 && deadline != NULL &&
                      strcmp(deadline, today) < 0;
        if (overdue)
            status = "overdue";
        if (q->overdue_only && !overdue) {
            free(a);
            cJSON_Delete(fields);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        const char *hh = str_field(fields, "household");
        if (hh != NULL)
            cJSON_AddStringToObject(o, "household", hh);
        if (sqlite3_column_type(needs, 1) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "area", mq__col_text(needs, 1));
        const char *cat = str_field(fields, "category");
        if (cat != NULL)
            cJSON_AddStringToObject(o, "category", cat);
        if (deadline != NULL)
            cJSON_AddStringToObject(o, "deadline", deadline);
        cJSON_AddStringToObject(o, "status", status);
        if (accepted_by != NULL)
            cJSON_AddStringToObject(o, "accepted_by", accepted_by);
        if (resolved_at != NULL)
            cJSON_AddStringToObject(o, "resolved_at", resolved_at);
        cJSON_AddNumberToObject(o, "actions", (double)n);
        cJSON_AddItemToObject(o, "fields", fields);
        char *json = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        free(a);
        int stop = json ? cb(ctx, json) : mq__fail(err, MQ_ENOMEM, "out of memory");
        cJSON_free(json);
        if (stop != 0) {
            rc = stop;
            goto out;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "reading needs");
out:
    sqlite3_finalize(needs);
    sqlite3_finalize(acts);
    return rc;
}
