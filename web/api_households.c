/*
 * web/api_households.c - finding a household (GET /api/households?q=),
 * its file, 一户一档 (GET /api/households/ID), and one record
 * (GET /api/records/ID).
 *
 * The search stands on mq_store_search_walk(), which finds a text inside
 * the searchable fields of any record (names, identity numbers, phones,
 * the address) and stops when the answer is full; here a name must start
 * with the text (a cadre types the first characters of a name), and a
 * member's hit stands for its household.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

typedef struct search {
    mq__web *w;
    const char *q;
    size_t limit;
    cJSON *out;   /* the answer's array */
    cJSON *seen;  /* household id -> true */
    cJSON *names; /* area id -> name, or null */
    int failed;   /* MQ_E* of a failure inside the walk */
    mq_error err;
} search;

static int starts(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int holds(const char *s, const char *text)
{
    return s != NULL && strstr(s, text) != NULL;
}

/* Adds household `h` (a parsed record) to the answer once, if the who may
 * read it; 1 when the answer is full. */
static int add_household(search *s, const cJSON *h, const char *matched)
{
    const char *id = mq__web_str(h, "id");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(h, "fields");
    int yes = 0;
    if (id == NULL || cJSON_GetObjectItemCaseSensitive(s->seen, id) != NULL)
        return 0;
    int rc = mq__web_readable(s->w, "household", id, f, &yes, &s->err);
    if (rc != 0) {
        s->failed = rc;
        return 1;
    }
    cJSON_AddTrueToObject(s->seen, id);
    if (!yes)
        return 0;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        s->failed = MQ_ENOMEM;
        return 1;
    }
    static const char *const keys[] = {"head_name", "head_id_number", "phone", "address",
                                       "area"};
    mq__web_add_str(o, "id", id);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        mq__web_add_str(o, keys[i], mq__web_str(f, keys[i]));
    mq__web_add_str(o, "area_name",
                    mq__web_name_of(s->w, s->names, mq__web_str(f, "area"), NULL));
    mq__web_add_str(o, "matched", matched);
    cJSON_AddItemToArray(s->out, o);
    return (size_t)cJSON_GetArraySize(s->out) >= s->limit;
}

/* What of household fields `f` the text hits, or NULL. */
static const char *household_hit(const cJSON *f, const char *q)
{
    if (starts(mq__web_str(f, "head_name"), q))
        return "head_name";
    if (holds(mq__web_str(f, "head_id_number"), q))
        return "head_id_number";
    if (holds(mq__web_str(f, "phone"), q))
        return "phone";
    if (holds(mq__web_str(f, "address"), q))
        return "address";
    return NULL;
}

static int on_hit(void *ctx, const char *json)
{
    search *s = ctx;
    cJSON *r = cJSON_Parse(json);
    int stop = 0;
    if (r == NULL) {
        s->failed = MQ_ENOMEM;
        return 1;
    }
    const char *type = mq__web_str(r, "type");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "fields");
    const char *matched = NULL;
    if (type != NULL && strcmp(type, "household") == 0) {
        if ((matched = household_hit(f, s->q)) != NULL)
            stop = add_household(s, r, matched);
    } else if (type != NULL && strcmp(type, "member") == 0) {
        if (starts(mq__web_str(f, "name"), s->q))
            matched = "member.name";
        else if (holds(mq__web_str(f, "id_number"), s->q))
            matched = "member.id_number";
        else if (holds(mq__web_str(f, "phone"), s->q))
            matched = "member.phone";
        const char *hid = mq__web_str(f, "household");
        char *hj = NULL;
        cJSON *h = NULL;
        if (matched != NULL && hid != NULL &&
            cJSON_GetObjectItemCaseSensitive(s->seen, hid) == NULL &&
            mq_store_get(s->w->store, hid, &hj, &s->err) == 0 &&
            (h = cJSON_Parse(hj)) != NULL)
            stop = add_household(s, h, matched);
        mq_free(hj);
        cJSON_Delete(h);
    }
    cJSON_Delete(r);
    return stop;
}

int mq__web_households(mq__web *w)
{
    search s;
    memset(&s, 0, sizeof s);
    s.w = w;
    s.q = mq__web_arg(w, "q");
    if (s.q == NULL || strlen(s.q) > 64) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "q",
                                "give 1 to 64 bytes of a name, identity number, "
                                "phone or address");
        return mq__web_error(w, 400, "invalid", f,
                             "q: give a name, identity number, phone "
                             "or address (1 to 64 bytes)");
    }
    int rc = mq__web_limit(w, 50, 200, &s.limit);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    s.out = cJSON_CreateArray();
    s.seen = cJSON_CreateObject();
    s.names = cJSON_CreateObject();
    if (s.out == NULL || s.seen == NULL || s.names == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    mq_error_clear(&s.err);
    /* Unsorted: the walk stops as soon as the answer is full. */
    rc = mq_store_search_walk(w->store, s.q, on_hit, &s, &s.err);
    if (s.failed != 0)
        rc = s.failed;
    if (rc < 0) {
        rc = mq__web_fail(w, rc, &s.err);
        goto out;
    }
    rc = mq__web_json(w, 200, s.out);
    s.out = NULL;
out:
    cJSON_Delete(s.out);
    cJSON_Delete(s.seen);
    cJSON_Delete(s.names);
    return rc;
}

/* ---- the household's file ------------------------------------------------- */

/* The live records of `type` whose `field` is `id`, as an array. */
static cJSON *children(mq__web *w, const char *type, const char *field, const char *id,
                       int *rc, mq_error *err)
{
    mq_where where = {field, id};
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        *rc = MQ_ENOMEM;
        return NULL;
    }
    *rc = mq_store_list(w->store, type, &where, 1, mq__web_collect, arr, err);
    if (*rc != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

typedef struct history {
    mq__web *w;
    const char *record, *type;
    cJSON *out, *names;
} history;

static int on_change(void *ctx, const char *json)
{
    history *h = ctx;
    cJSON *c = cJSON_Parse(json);
    cJSON *o = cJSON_CreateObject();
    if (c == NULL || o == NULL) {
        cJSON_Delete(c);
        cJSON_Delete(o);
        return MQ_ENOMEM;
    }
    const char *by = mq__web_str(c, "by");
    const char *at = mq__web_str(c, "at");
    char day[11] = "";
    if (at != NULL && strlen(at) >= 10) {
        memcpy(day, at, 10);
        day[10] = '\0';
    }
    mq__web_add_str(o, "record", h->record);
    mq__web_add_str(o, "type", h->type);
    mq__web_add_str(o, "v", mq__web_str(c, "v"));
    mq__web_add_str(o, "at", at);
    mq__web_add_str(o, "day", day[0] ? day : NULL);
    mq__web_add_str(o, "by", by);
    mq__web_add_str(o, "by_name", mq__web_cadre_name(h->w, h->names, by));
    mq__web_add_str(o, "site", mq__web_str(c, "site"));
    cJSON *set = cJSON_DetachItemFromObjectCaseSensitive(c, "set");
    cJSON_AddItemToObject(o, "set", set != NULL ? set : cJSON_CreateObject());
    cJSON_Delete(c);
    cJSON_AddItemToArray(h->out, o);
    return 0;
}

/* Adds every change of each record of `arr` to the history. */
static int histories(history *h, const cJSON *arr, mq_error *err)
{
    const cJSON *r;
    cJSON_ArrayForEach(r, arr)
    {
        h->record = mq__web_str(r, "id");
        h->type = mq__web_str(r, "type");
        if (h->record == NULL)
            continue;
        int rc = mq_store_history(h->w->store, h->record, on_change, h, err);
        if (rc != 0 && rc != MQ_ENOTFOUND)
            return rc;
    }
    return 0;
}

/* Oldest first, by the change's time, then its version. */
static int by_time(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const char *ax = mq__web_str(x, "at"), *ay = mq__web_str(y, "at");
    int c = strcmp(ax != NULL ? ax : "", ay != NULL ? ay : "");
    if (c != 0)
        return c;
    ax = mq__web_str(x, "v");
    ay = mq__web_str(y, "v");
    return strcmp(ax != NULL ? ax : "", ay != NULL ? ay : "");
}

static cJSON *sorted(cJSON *arr)
{
    size_t n = (size_t)cJSON_GetArraySize(arr);
    cJSON **v = n > 0 ? malloc(n * sizeof(cJSON *)) : NULL;
    cJSON *out = cJSON_CreateArray();
    if ((n > 0 && v == NULL) || out == NULL) {
        free(v);
        cJSON_Delete(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(arr, 0);
    if (n > 0)
        qsort(v, n, sizeof(cJSON *), by_time);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(out, v[i]);
    free(v);
    return out;
}

typedef struct file_needs {
    const char *household;
    cJSON *out;
} file_needs;

static int keep_need(void *ctx, cJSON *line)
{
    file_needs *fn = ctx;
    const char *h = mq__web_str(line, "household");
    if (h == NULL || strcmp(h, fn->household) != 0) {
        cJSON_Delete(line);
        return 0;
    }
    cJSON_AddItemToArray(fn->out, line);
    return 0;
}

int mq__web_household(mq__web *w, const char *id)
{
    cJSON *h = NULL, *o = NULL, *all = NULL, *names = NULL;
    mq_error err;
    int rc = mq__web_get(w, id, "household", &h);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    mq_error_clear(&err);
    o = cJSON_CreateObject();
    all = cJSON_CreateArray();
    names = cJSON_CreateObject();
    if (o == NULL || all == NULL || names == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    cJSON *members = children(w, "member", "household", id, &rc, &err);
    if (members == NULL)
        goto fail;
    cJSON *visits = children(w, "visit", "household", id, &rc, &err);
    if (visits == NULL) {
        cJSON_Delete(members);
        goto fail;
    }
    cJSON *cards = children(w, "contact_card", "household", id, &rc, &err);
    if (cards == NULL) {
        cJSON_Delete(members);
        cJSON_Delete(visits);
        goto fail;
    }
    /* A talk (谈心谈话) at a household is a visit of kind "talk". */
    cJSON *talks = cJSON_CreateArray();
    for (cJSON *v = visits->child, *next; v != NULL; v = next) {
        next = v->next;
        const char *k =
            mq__web_str(cJSON_GetObjectItemCaseSensitive(v, "fields"), "kind");
        if (k != NULL && strcmp(k, "talk") == 0)
            cJSON_AddItemToArray(talks, cJSON_DetachItemViaPointer(visits, v));
    }
    cJSON_AddItemReferenceToArray(all, h);
    cJSON_AddItemToObject(o, "household", h);
    h = NULL;
    cJSON_AddItemToObject(o, "members", members);
    cJSON_AddItemToObject(o, "visits", visits);
    cJSON_AddItemToObject(o, "talks", talks);
    cJSON_AddItemToObject(o, "contact_cards", cards);

    /* The needs with the status the report folds: walked in the
     * household's own area, which is small. */
    file_needs fn = {id, cJSON_AddArrayToObject(o, "needs")};
    const cJSON *hf = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "household"), "fields");
    mq_report_needs_query q;
    memset(&q, 0, sizeof q);
    q.as_of = w->today;
    mq_report_needs_filter nf;
    memset(&nf, 0, sizeof nf);
    nf.household = id;
    rc = mq__web_walk_needs(w, mq__web_str(hf, "area"), &q, &nf, keep_need, &fn);
    if (rc != 0) {
        cJSON_Delete(o);
        o = NULL;
        rc = rc == 1 ? 0 : rc;
        goto out;
    }
    cJSON *n;
    cJSON_ArrayForEach(n, fn.out)
    {
        const char *nid = mq__web_str(n, "id");
        cJSON *acts =
            nid != NULL ? children(w, "need_action", "need", nid, &rc, &err) : NULL;
        if (acts == NULL)
            goto fail;
        const cJSON *a;
        cJSON_ArrayForEach(a, acts)
        {
            cJSON *af = cJSON_GetObjectItemCaseSensitive(a, "fields");
            const char *by = mq__web_str(af, "by");
            const char *to = mq__web_str(af, "to");
            mq__web_add_str(af, "by_name", mq__web_cadre_name(w, names, by));
            if (to != NULL)
                mq__web_add_str(af, "to_name", mq__web_cadre_name(w, names, to));
            cJSON_AddItemReferenceToArray(all, (cJSON *)a);
        }
        cJSON_AddItemToObject(n, "actions_list", acts);
        cJSON_AddItemReferenceToArray(all, n);
    }
    const char *lists[] = {"members", "visits", "talks", "contact_cards"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, lists[i]))
        {
            cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "fields");
            const char *c = mq__web_str(f, "cadre");
            if (c != NULL)
                mq__web_add_str(f, "cadre_name", mq__web_cadre_name(w, names, c));
            cJSON_AddItemReferenceToArray(all, (cJSON *)r);
        }
    }
    history hist = {w, NULL, NULL, cJSON_CreateArray(), names};
    if (hist.out == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    /* A need line of the walk has no "type": the history names it. */
    cJSON_ArrayForEach(n, fn.out)
    {
        if (cJSON_GetObjectItemCaseSensitive(n, "type") == NULL)
            cJSON_AddStringToObject(n, "type", "need");
    }
    rc = histories(&hist, all, &err);
    cJSON_ArrayForEach(n, fn.out)
    {
        cJSON_DeleteItemFromObjectCaseSensitive(n, "type");
    }
    if (rc != 0) {
        cJSON_Delete(hist.out);
        goto fail;
    }
    cJSON *hs = sorted(hist.out);
    cJSON_Delete(hist.out);
    if (hs == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    cJSON_AddItemToObject(o, "history", hs);
    cJSON_Delete(all);
    all = NULL;
    rc = mq__web_json(w, 200, o);
    o = NULL;
    goto out;
fail:
    rc = rc == MQ_ENOMEM ? rc : mq__web_fail(w, rc, &err);
out:
    cJSON_Delete(all);
    cJSON_Delete(o);
    cJSON_Delete(h);
    cJSON_Delete(names);
    return rc;
}

int mq__web_record(mq__web *w, const char *id)
{
    cJSON *r = NULL;
    int rc = mq__web_get(w, id, NULL, &r);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return mq__web_json(w, 200, r);
}
