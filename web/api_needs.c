/*
 * web/api_needs.c - the needs: the work list of a cadre (GET
 * /api/worklist), the needs list with its filters (GET /api/needs), and
 * what is done to a need (POST /api/needs/ID/close|transfer|reopen).
 *
 * A need is never closed by editing it: each act is a need_action record,
 * and the status is the core's fold of them (mq_report_needs()), so two
 * tablets acting on one need never overwrite each other.  Every list is
 * filtered and cut in the core (mq_report_needs_filtered()), which reads
 * today's state of each need through its indexes.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

typedef struct walk {
    mq__web *w;
    int (*keep)(void *ctx, cJSON *line);
    void *ctx;
    cJSON *seen; /* need id -> true, when several areas are walked */
    int failed;
} walk;

static int on_need(void *ctx, const char *json)
{
    walk *k = ctx;
    cJSON *line = cJSON_Parse(json);
    if (line == NULL) {
        k->failed = MQ_ENOMEM;
        return 1;
    }
    const char *id = mq__web_str(line, "id");
    if (k->seen != NULL && id != NULL) {
        if (cJSON_GetObjectItemCaseSensitive(k->seen, id) != NULL) {
            cJSON_Delete(line);
            return 0;
        }
        cJSON_AddTrueToObject(k->seen, id);
    }
    /* Days left to the deadline (negative: days late), for a need still
     * to be done. */
    long d;
    const char *status = mq__web_str(line, "status");
    if ((status == NULL || strcmp(status, "resolved") != 0) &&
        mq__web_day_number(mq__web_str(line, "deadline"), &d) == 0)
        cJSON_AddNumberToObject(line, "days_left", (double)(d - k->w->today_n));
    int rc = k->keep(k->ctx, line);
    if (rc < 0) {
        k->failed = rc;
        return 1;
    }
    return rc;
}

int mq__web_walk_needs(mq__web *w, const char *area, const mq_report_needs_query *q,
                       const mq_report_needs_filter *f,
                       int (*keep)(void *ctx, cJSON *line), void *ctx)
{
    walk k = {w, keep, ctx, NULL, 0};
    mq_report_needs_query qq = *q;
    mq_error err;
    int rc = 0;
    mq_error_clear(&err);
    if (area != NULL || w->who->all) {
        qq.area = area;
        rc = mq_report_needs_filtered(w->store, &qq, f, on_need, &k, &err);
    } else {
        /* Areas may nest: each need is kept once. */
        k.seen = cJSON_CreateObject();
        if (k.seen == NULL)
            return MQ_ENOMEM;
        for (size_t i = 0; i < w->who->nareas && rc == 0 && k.failed == 0; i++) {
            qq.area = w->who->areas[i];
            rc = mq_report_needs_filtered(w->store, &qq, f, on_need, &k, &err);
            if (rc == MQ_ENOTFOUND) /* an area not (yet) on this replica */
                rc = 0;
        }
        cJSON_Delete(k.seen);
    }
    if (k.failed == MQ_ENOMEM)
        return MQ_ENOMEM;
    if (k.failed < 0)
        return mq__web_error(w, 500, "internal", NULL, "needs: %s",
                             mq_strerror(k.failed)) == 0
                   ? 1
                   : MQ_ENOMEM;
    if (rc < 0)
        return mq__web_fail(w, rc, &err) == 0 ? 1 : MQ_ENOMEM;
    return 0;
}

/* ---- lists ------------------------------------------------------------------ */

typedef struct list {
    mq__web *w;
    cJSON *out;
    size_t limit;
    const char *cadre;  /* the handler to keep, or NULL */
    const char *source; /* the source to keep, or NULL */
    int open_only;
    cJSON *names;
    int full; /* the limit cut the list */
    size_t n; /* lines in `out` */
} list;

static int keep_line(void *ctx, cJSON *line)
{
    list *l = ctx;
    const char *status = mq__web_str(line, "status");
    const char *handler = mq__web_str(line, "handler");
    const char *source = mq__web_str(line, "source");
    if ((l->open_only && status != NULL && strcmp(status, "resolved") == 0) ||
        (l->cadre != NULL && (handler == NULL || strcmp(handler, l->cadre) != 0)) ||
        (l->source != NULL && (source == NULL || strcmp(source, l->source) != 0))) {
        cJSON_Delete(line);
        return 0;
    }
    if (l->n >= l->limit) {
        cJSON_Delete(line);
        l->full = 1;
        return 1;
    }
    /* The core's line names the handler already, unless the cadre record
     * is missing here. */
    if (handler != NULL && cJSON_GetObjectItemCaseSensitive(line, "handler_name") == NULL)
        mq__web_add_str(line, "handler_name",
                        mq__web_cadre_name(l->w, l->names, handler));
    cJSON_AddItemToArray(l->out, line);
    l->n++;
    return 0;
}

/* Overdue first (most days late first), then by deadline; no deadline last. */
static int work_order(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const cJSON *dx = cJSON_GetObjectItemCaseSensitive(x, "days_left");
    const cJSON *dy = cJSON_GetObjectItemCaseSensitive(y, "days_left");
    if (!cJSON_IsNumber(dx) || !cJSON_IsNumber(dy))
        return cJSON_IsNumber(dx) ? -1 : cJSON_IsNumber(dy) ? 1 : 0;
    if (dx->valuedouble != dy->valuedouble)
        return dx->valuedouble < dy->valuedouble ? -1 : 1;
    const char *ix = mq__web_str(x, "id"), *iy = mq__web_str(y, "id");
    return strcmp(ix != NULL ? ix : "", iy != NULL ? iy : "");
}

int mq__web_worklist(mq__web *w)
{
    list l;
    memset(&l, 0, sizeof l);
    l.w = w;
    l.open_only = 1;
    /* The cadre's own needs; an office account, which is no cadre, sees
     * the open needs of its areas. */
    l.cadre = w->who->cadre;
    int rc = mq__web_limit(w, 500, 5000, &l.limit);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    l.out = cJSON_CreateArray();
    l.names = cJSON_CreateObject();
    if (l.out == NULL || l.names == NULL) {
        cJSON_Delete(l.out);
        cJSON_Delete(l.names);
        return MQ_ENOMEM;
    }
    mq_report_needs_query q;
    memset(&q, 0, sizeof q);
    q.as_of = w->today;
    /* Filtered and cut in the core, through the index of handlers. */
    mq_report_needs_filter f;
    memset(&f, 0, sizeof f);
    f.handler = l.cadre;
    f.open_only = 1;
    f.limit = l.limit;
    rc = mq__web_walk_needs(w, NULL, &q, &f, keep_line, &l);
    cJSON_Delete(l.names);
    if (rc != 0) {
        cJSON_Delete(l.out);
        return rc == 1 ? 0 : rc;
    }
    /* The walk gives them by deadline already; overdue ones have the
     * earliest deadlines, so a stable order by days left is enough. */
    size_t n = (size_t)cJSON_GetArraySize(l.out);
    cJSON **v = n > 0 ? malloc(n * sizeof(cJSON *)) : NULL;
    if (n > 0 && v == NULL) {
        cJSON_Delete(l.out);
        return MQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(l.out, 0);
    if (n > 0)
        qsort(v, n, sizeof(cJSON *), work_order);
    for (size_t i = 0; i < n; i++) {
        cJSON *line = v[i];
        /* The work list's line is short: what a cadre acts on. */
        static const char *const drop[] = {"fields", "village", "area", "accepted"};
        for (size_t j = 0; j < sizeof drop / sizeof drop[0]; j++)
            cJSON_DeleteItemFromObjectCaseSensitive(line, drop[j]);
        cJSON_AddItemToArray(l.out, line);
    }
    free(v);
    return mq__web_json(w, 200, l.out);
}

int mq__web_needs(mq__web *w)
{
    list l;
    memset(&l, 0, sizeof l);
    l.w = w;
    l.source = mq__web_arg(w, "source");
    mq_report_needs_query q;
    memset(&q, 0, sizeof q);
    q.as_of = mq__web_arg(w, "as_of");
    if (q.as_of == NULL)
        q.as_of = w->today;
    q.cadre = mq__web_arg(w, "cadre");
    q.category = mq__web_arg(w, "category");
    q.status = mq__web_arg(w, "status");
    const char *area = mq__web_arg(w, "area");
    int rc = mq__web_limit(w, 1000, 100000, &l.limit);
    if (rc == 0)
        rc = mq__web_area_arg(w, area);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    l.out = cJSON_CreateArray();
    l.names = cJSON_CreateObject();
    if (l.out == NULL || l.names == NULL) {
        cJSON_Delete(l.out);
        cJSON_Delete(l.names);
        return MQ_ENOMEM;
    }
    mq_report_needs_filter f;
    memset(&f, 0, sizeof f);
    f.source = l.source;
    f.limit = l.limit;
    rc = mq__web_walk_needs(w, area, &q, &f, keep_line, &l);
    cJSON_Delete(l.names);
    if (rc != 0) {
        cJSON_Delete(l.out);
        return rc == 1 ? 0 : rc;
    }
    return mq__web_json(w, 200, l.out);
}

/* ---- acts on a need ------------------------------------------------------------ */

typedef struct one {
    const char *id;
    cJSON *line;
} one;

static int keep_one(void *ctx, cJSON *line)
{
    one *o = ctx;
    const char *id = mq__web_str(line, "id");
    if (o->line == NULL && id != NULL && strcmp(id, o->id) == 0) {
        o->line = line;
        return 1;
    }
    cJSON_Delete(line);
    return 0;
}

/* Copies member `name` of the body into `set` when present and not null. */
static void take(cJSON *set, const cJSON *body, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
    if (v != NULL && !cJSON_IsNull(v))
        cJSON_AddItemToObject(set, name, cJSON_Duplicate(v, 1));
}

int mq__web_need_action(mq__web *w, const char *id, const char *verb)
{
    cJSON *need = NULL, *body = NULL, *set = NULL;
    mq_error err;
    int rc = mq__web_get_to_write(w, id, "need", &need);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    if ((rc = mq__web_body(w, &body)) != 0) {
        cJSON_Delete(need);
        return rc == 1 ? 0 : rc;
    }
    mq_error_clear(&err);
    /* Its status now, as the report folds it, in the need's own area. */
    one o = {id, NULL};
    mq_report_needs_query q;
    memset(&q, 0, sizeof q);
    q.as_of = w->today;
    const char *area = NULL;
    char area_buf[64];
    {
        cJSON *h = NULL;
        char *hj = NULL;
        const char *hid =
            mq__web_str(cJSON_GetObjectItemCaseSensitive(need, "fields"), "household");
        if (hid != NULL && mq_store_get(w->store, hid, &hj, &err) == 0)
            h = cJSON_Parse(hj);
        mq_free(hj);
        const char *a =
            mq__web_str(cJSON_GetObjectItemCaseSensitive(h, "fields"), "area");
        area_buf[0] = '\0';
        if (a != NULL && strlen(a) < sizeof area_buf)
            memcpy(area_buf, a, strlen(a) + 1);
        area = area_buf[0] ? area_buf : NULL;
        cJSON_Delete(h);
    }
    mq_report_needs_filter only;
    memset(&only, 0, sizeof only);
    only.need = id;
    rc = mq__web_walk_needs(w, area, &q, &only, keep_one, &o);
    if (rc != 0)
        goto out;
    const char *status = o.line != NULL ? mq__web_str(o.line, "status") : NULL;
    int resolved = status != NULL && strcmp(status, "resolved") == 0;
    const char *action = strcmp(verb, "close") == 0      ? "resolve"
                         : strcmp(verb, "transfer") == 0 ? "transfer"
                                                         : "reopen";
    if (strcmp(action, "reopen") == 0 ? !resolved : resolved) {
        rc = mq__web_error(w, 409, "conflict", NULL, "need %s is %s: it cannot be %s", id,
                           status != NULL ? status : "unknown",
                           strcmp(verb, "close") == 0 ? "closed again"
                           : strcmp(verb, "transfer") == 0
                               ? "transferred once resolved"
                               : "reopened before it is resolved");
        goto out;
    }
    set = cJSON_CreateObject();
    if (set == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    /* Who acts: the tablet's cadre, or at the office the cadre the body
     * names (an office account is no cadre). */
    const char *by = w->who->cadre;
    if (by == NULL)
        by = mq__web_str(body, "by");
    if (by == NULL) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "by", "required: the cadre who acts");
        rc = mq__web_error(w, 400, "invalid", f,
                           "need_action: field by: required: the cadre "
                           "who acts");
        goto out;
    }
    cJSON_AddStringToObject(set, "need", id);
    cJSON_AddStringToObject(set, "action", action);
    cJSON_AddStringToObject(set, "by", by);
    cJSON_AddStringToObject(set, "at", w->today);
    take(set, body, "note");
    if (strcmp(action, "resolve") == 0) {
        take(set, body, "amount_yuan");
        take(set, body, "satisfaction");
    }
    if (strcmp(action, "transfer") == 0) {
        if (mq__web_str(body, "to") == NULL) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "to", "required: the cadre who takes the need");
            rc = mq__web_error(w, 400, "invalid", f,
                               "need_action: field to: required: the cadre who takes the "
                               "need");
            goto out;
        }
        take(set, body, "to");
    }
    /* Fields of the body that an act does not take are refused, not lost. */
    const cJSON *it;
    cJSON_ArrayForEach(it, body)
    {
        if (cJSON_GetObjectItemCaseSensitive(set, it->string) == NULL &&
            strcmp(it->string, "by") != 0 && !cJSON_IsNull(it)) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, it->string, "not a field of this act");
            rc = mq__web_error(w, 400, "invalid", f,
                               "%s: field %s: not a field of this act", verb, it->string);
            goto out;
        }
    }
    int yes = 0;
    char idbuf[MQ_WEB_ID_SIZE];
    if (mq__web_new_id(idbuf) != 0) {
        rc = mq__web_error(w, 500, "internal", NULL, "no randomness for a record id");
        goto out;
    }
    rc = mq__web_writable(w, "need_action", idbuf, set, &yes, &err);
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    if (!yes) {
        rc = mq__web_error(w, 403, "forbidden", NULL, "need %s: outside your areas", id);
        goto out;
    }
    char *fields = cJSON_PrintUnformatted(set);
    char *made = NULL;
    if (fields == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    rc = mq_store_put(w->store, "need_action", idbuf, fields, by, &made, &err);
    free(fields);
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    cJSON *a = cJSON_CreateObject();
    mq__web_add_str(a, "id", made);
    mq__web_add_str(a, "need", id);
    mq__web_add_str(a, "action", action);
    mq_free(made);
    rc = mq__web_json(w, 201, a);
out:
    cJSON_Delete(o.line);
    cJSON_Delete(set);
    cJSON_Delete(body);
    cJSON_Delete(need);
    return rc == 1 ? 0 : rc;
}
