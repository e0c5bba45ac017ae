/*
 * web/api_records.c - writing records from the forms: POST
 * /api/records/TYPE creates one, PUT /api/records/ID changes the fields
 * given.  The body is {"fields":{...}}; every field is checked by the store
 * against the schema before anything is written, and a refusal names the
 * field and its rule ({"fields":{FIELD:RULE}}) so the form shows it.
 *
 * Order of the checks: the body, the type, the scope (a record the who
 * may not write, or one the change would move out of the who's areas, is
 * 403), then the store's write, which checks every value and writes
 * nothing when one is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

/* The body's "fields" object, or an answered 400 (returns 1). */
static int body_fields(mq__web *w, cJSON **body, const cJSON **fields)
{
    int rc = mq__web_body(w, body);
    if (rc != 0)
        return rc;
    *fields = cJSON_GetObjectItemCaseSensitive(*body, "fields");
    const cJSON *it;
    cJSON_ArrayForEach(it, *body) if (strcmp(it->string, "fields") != 0)
    {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, it->string,
                                "not a member of the body: give {\"fields\":{...}}");
        cJSON_Delete(*body);
        *body = NULL;
        return mq__web_error(w, 400, "invalid", f,
                             "body: member %.64s: the body is {\"fields\":{...}}",
                             it->string) == 0
                   ? 1
                   : MQ_ENOMEM;
    }
    if (!cJSON_IsObject(*fields)) {
        cJSON_Delete(*body);
        *body = NULL;
        return mq__web_error(w, 400, "invalid", NULL,
                             "body: give the record's fields as {\"fields\":{...}}") == 0
                   ? 1
                   : MQ_ENOMEM;
    }
    return 0;
}

/* 1 when the store's schema has a record type `type`. */
static int known_type(mq__web *w, const char *type)
{
    cJSON *s = cJSON_Parse(mq_store_schema(w->store));
    int yes = cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(s, "types"), type) != NULL;
    cJSON_Delete(s);
    return yes;
}

/* Scope, then the store's put; answers.  `status` is 201 or 200. */
static int write(mq__web *w, const char *type, const char *id, const cJSON *fields,
                 unsigned status)
{
    mq_error err;
    int yes = 0;
    mq_error_clear(&err);
    if (fields->child != NULL) {
        int rc = mq__web_writable(w, type, id, fields, &yes, &err);
        if (rc != 0)
            return mq__web_fail(w, rc, &err);
        if (!yes)
            return mq__web_error(w, 403, "forbidden", NULL,
                                 "%s %s: the change would put it outside your areas",
                                 type, id);
    }
    char *text = cJSON_PrintUnformatted(fields);
    char *made = NULL;
    if (text == NULL)
        return MQ_ENOMEM;
    int rc = mq_store_put(w->store, type, id, text, w->who->cadre, &made, &err);
    free(text);
    if (rc != 0)
        return mq__web_fail(w, rc, &err);
    cJSON *o = cJSON_CreateObject();
    mq__web_add_str(o, "id", made);
    mq_free(made);
    return mq__web_json(w, status, o);
}

int mq__web_create(mq__web *w, const char *type)
{
    cJSON *body = NULL;
    const cJSON *fields = NULL;
    if (!known_type(w, type)) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "type", "not a record type of the schema");
        return mq__web_error(w, 400, "invalid", f,
                             "type \"%.64s\": not a record type of the schema", type);
    }
    int rc = body_fields(w, &body, &fields);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    char id[MQ_WEB_ID_SIZE];
    if (mq__web_new_id(id) != 0)
        rc = mq__web_error(w, 500, "internal", NULL, "no randomness for a record id");
    else if (fields->child == NULL)
        rc = mq__web_error(w, 400, "invalid", NULL, "%s: no fields given", type);
    else
        rc = write(w, type, id, fields, 201);
    cJSON_Delete(body);
    return rc;
}

int mq__web_update(mq__web *w, const char *id)
{
    cJSON *body = NULL, *rec = NULL;
    const cJSON *fields = NULL;
    char *json = NULL;
    mq_error err;
    if (!mq_valid_uuid(id))
        return mq__web_error(w, 404, "not_found", NULL,
                             "record \"%.40s\": not a record id (a lower-case UUID)", id);
    mq_error_clear(&err);
    int rc = mq_store_get(w->store, id, &json, &err);
    if (rc != 0)
        return mq__web_fail(w, rc, &err);
    rec = cJSON_Parse(json);
    mq_free(json);
    if (rec == NULL)
        return MQ_ENOMEM;
    const char *type = mq__web_str(rec, "type");
    int yes = 0;
    if (type == NULL || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "deleted"))) {
        rc = mq__web_error(w, 404, "not_found", NULL, "record %s: no such record here",
                           id);
        goto out;
    }
    rc = mq__web_readable(w, type, id, cJSON_GetObjectItemCaseSensitive(rec, "fields"),
                          &yes, &err);
    if (rc != 0) {
        rc = mq__web_fail(w, rc, &err);
        goto out;
    }
    if (!yes) {
        rc = mq__web_error(w, 403, "forbidden", NULL, "%s %s: outside your areas", type,
                           id);
        goto out;
    }
    if ((rc = body_fields(w, &body, &fields)) != 0) {
        rc = rc == 1 ? 0 : rc;
        goto out;
    }
    rc = write(w, type, id, fields, 200);
out:
    cJSON_Delete(body);
    cJSON_Delete(rec);
    return rc;
}
