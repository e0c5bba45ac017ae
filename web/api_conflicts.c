/*
 * web/api_conflicts.c - the conflicts a person settles: GET
 * /api/conflicts lists the open ones in the who's areas, each candidate
 * with its author's name and the record with a label a person knows it
 * by; POST /api/conflicts/resolve writes the chosen value as a change
 * based on every candidate (mq_store_resolve()), which closes the conflict
 * on every replica it reaches.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

typedef struct listing {
    mq__web *w;
    cJSON *out, *names;
    int failed;
    mq_error err;
} listing;

/* What a person calls the record: its name, else its description. */
static const char *label_of(const cJSON *fields)
{
    static const char *const keys[] = {"head_name", "name", "description", "period"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = mq__web_str(fields, keys[i]);
        if (v != NULL)
            return v;
    }
    return NULL;
}

static int on_conflict(void *ctx, const char *json)
{
    listing *l = ctx;
    cJSON *c = cJSON_Parse(json);
    char *rj = NULL;
    cJSON *rec = NULL;
    int yes = 0;
    if (c == NULL) {
        l->failed = MQ_ENOMEM;
        return 1;
    }
    const char *id = mq__web_str(c, "id");
    const char *type = mq__web_str(c, "type");
    if (id != NULL && type != NULL && mq_store_get(l->w->store, id, &rj, &l->err) == 0)
        rec = cJSON_Parse(rj);
    mq_free(rj);
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(rec, "fields");
    int rc = rec != NULL ? mq__web_readable(l->w, type, id, fields, &yes, &l->err) : 0;
    if (rc != 0) {
        l->failed = rc;
        cJSON_Delete(rec);
        cJSON_Delete(c);
        return 1;
    }
    if (!yes) {
        cJSON_Delete(rec);
        cJSON_Delete(c);
        return 0;
    }
    mq__web_add_str(c, "label", label_of(fields));
    cJSON *cand;
    cJSON_ArrayForEach(cand, cJSON_GetObjectItemCaseSensitive(c, "candidates"))
    {
        mq__web_add_str(cand, "by_name",
                        mq__web_cadre_name(l->w, l->names, mq__web_str(cand, "by")));
    }
    cJSON_Delete(rec);
    cJSON_AddItemToArray(l->out, c);
    return 0;
}

int mq__web_conflicts(mq__web *w)
{
    listing l;
    memset(&l, 0, sizeof l);
    l.w = w;
    l.out = cJSON_CreateArray();
    l.names = cJSON_CreateObject();
    if (l.out == NULL || l.names == NULL) {
        cJSON_Delete(l.out);
        cJSON_Delete(l.names);
        return MQ_ENOMEM;
    }
    mq_error_clear(&l.err);
    int rc = mq_store_conflicts(w->store, on_conflict, &l, &l.err);
    cJSON_Delete(l.names);
    if (l.failed != 0)
        rc = l.failed;
    if (rc < 0) {
        cJSON_Delete(l.out);
        return mq__web_fail(w, rc, &l.err);
    }
    return mq__web_json(w, 200, l.out);
}

int mq__web_resolve(mq__web *w)
{
    cJSON *body = NULL, *rec = NULL;
    mq_error err;
    int rc = mq__web_body(w, &body);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    const char *conflict = mq__web_str(body, "conflict");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(body, "value");
    char id[MQ_WEB_ID_SIZE] = "";
    const char *slash = conflict != NULL ? strchr(conflict, '/') : NULL;
    if (slash != NULL && (size_t)(slash - conflict) == sizeof id - 1) {
        memcpy(id, conflict, sizeof id - 1);
        id[sizeof id - 1] = '\0';
    }
    if (slash == NULL || !mq_valid_uuid(id) || slash[1] == '\0') {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "conflict", "required: a conflict id RECORD_ID/FIELD");
        rc = mq__web_error(w, 400, "invalid", f,
                           "conflict: required: a conflict id RECORD_ID/FIELD");
        goto out;
    }
    if (value == NULL) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "value", "required: the value to keep");
        rc = mq__web_error(w, 400, "invalid", f, "value: required: the value to keep");
        goto out;
    }
    /* The record must be one the who may write, where it is and where
     * the chosen value would put it. */
    char *rj = NULL;
    mq_error_clear(&err);
    rc = mq_store_get(w->store, id, &rj, &err);
    if (rc == 0)
        rec = cJSON_Parse(rj);
    mq_free(rj);
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    const char *type = mq__web_str(rec, "type");
    int yes = 0;
    rc = type != NULL ? mq__web_readable(w, type, id,
                                         cJSON_GetObjectItemCaseSensitive(rec, "fields"),
                                         &yes, &err)
                      : MQ_ENOMEM;
    if (rc == 0 && yes) {
        cJSON *set = cJSON_CreateObject();
        cJSON_AddItemToObject(set, slash + 1, cJSON_Duplicate(value, 1));
        rc = mq__web_writable(w, type, id, set, &yes, &err);
        cJSON_Delete(set);
    }
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    if (!yes) {
        rc = mq__web_error(w, 403, "forbidden", NULL, "conflict %s: outside your areas",
                           conflict);
        goto out;
    }
    char *vj = cJSON_PrintUnformatted(value);
    if (vj == NULL) {
        rc = MQ_ENOMEM;
        goto out;
    }
    rc = mq_store_resolve(w->store, conflict, vj, w->who->cadre, &err);
    free(vj);
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    cJSON *o = cJSON_CreateObject();
    mq__web_add_str(o, "conflict", conflict);
    cJSON_AddTrueToObject(o, "resolved");
    rc = mq__web_json(w, 200, o);
out:
    cJSON_Delete(rec);
    cJSON_Delete(body);
    return rc;
}
