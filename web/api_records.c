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
#include <stdio.h>
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
    cJSON_ArrayForEach(it, *body)
    {
        if (strcmp(it->string, "fields") == 0)
            continue;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, it->string,
                                "not a member of the body: give {\"fields\":{...}}");
        /* The answer is made before the body, which holds the name, goes. */
        rc = mq__web_error(w, 400, "invalid", f,
                           "body: member %.64s: the body is {\"fields\":{...}}",
                           it->string);
        cJSON_Delete(*body);
        *body = NULL;
        return rc == 0 ? 1 : MQ_ENOMEM;
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

/* "YYYY-MM-DD" `days` after `day`, into out; 0 or -1. */
static int add_days(const char *day, long days, char out[16])
{
    long n;
    if (mq__web_day_number(day, &n) != 0)
        return -1;
    n += days;
    long z = n + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
    snprintf(out, 16, "%04u-%02u-%02u", (unsigned)(y % 10000), (unsigned)m % 100u,
             (unsigned)d % 100u);
    return 0;
}

/*
 * Fills what the schema's "defaults" of `type` give and `fields` lacks
 * (docs/SCHEMA.md): "cadre" is the who's cadre; {"after": F, "by": G,
 * "days": {VALUE: N}} is N days after field F (F itself today when it
 * is missing), N chosen by the value of field G.  A value given is never
 * replaced; a default the core fills itself is then already there.
 */
static void fill_defaults(mq__web *w, const char *type, cJSON *fields)
{
    cJSON *schema = cJSON_Parse(mq_store_schema(w->store));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(schema, "types"), type);
    const cJSON *defs = cJSON_GetObjectItemCaseSensitive(t, "defaults");
    const cJSON *d;
    cJSON_ArrayForEach(d, defs)
    {
        if (cJSON_GetObjectItemCaseSensitive(fields, d->string) != NULL)
            continue;
        if (cJSON_IsString(d) && strcmp(d->valuestring, "cadre") == 0) {
            if (w->who->cadre != NULL)
                cJSON_AddStringToObject(fields, d->string, w->who->cadre);
            continue;
        }
        const char *after = mq__web_str(d, "after"), *by = mq__web_str(d, "by");
        if (after == NULL || by == NULL)
            continue;
        if (cJSON_GetObjectItemCaseSensitive(fields, after) == NULL)
            cJSON_AddStringToObject(fields, after, w->today);
        const char *from = mq__web_str(fields, after), *choice = mq__web_str(fields, by);
        const cJSON *n = choice != NULL
                             ? cJSON_GetObjectItemCaseSensitive(
                                   cJSON_GetObjectItemCaseSensitive(d, "days"), choice)
                             : NULL;
        char day[16];
        if (n != NULL && cJSON_IsNumber(n) && from != NULL &&
            add_days(from, (long)n->valuedouble, day) == 0)
            cJSON_AddStringToObject(fields, d->string, day);
    }
    cJSON_Delete(schema);
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
    else {
        fill_defaults(w, type, (cJSON *)fields);
        rc = write(w, type, id, fields, 201);
    }
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
