/*
 * web/api_schema.c - who is asking (GET /api/me) and the schema the forms
 * are made from (GET /api/schema): the page knows no field list of its
 * own, so a county that adds a field sees it in the forms.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

/* {"id","name","level"} of an area record. */
static cJSON *area_item(const cJSON *rec)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(rec, "fields");
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || mq__web_add_str(o, "id", mq__web_str(rec, "id")) != 0 ||
        mq__web_add_str(o, "name", mq__web_str(f, "name")) != 0 ||
        mq__web_add_str(o, "level", mq__web_str(f, "level")) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The who's areas: those it names, or, for a who with every area, the
 * areas of the store that have no parent here (the tops of its tree). */
static int add_areas(mq__web *w, cJSON *out)
{
    mq_error err;
    cJSON *arr = cJSON_AddArrayToObject(out, "areas");
    if (arr == NULL)
        return MQ_ENOMEM;
    if (!w->who->all) {
        for (size_t i = 0; i < w->who->nareas; i++) {
            cJSON *rec = NULL;
            char *json = NULL;
            if (mq_store_get(w->store, w->who->areas[i], &json, &err) == 0)
                rec = cJSON_Parse(json);
            mq_free(json);
            cJSON *it = rec != NULL ? area_item(rec) : NULL;
            cJSON_Delete(rec);
            if (it != NULL)
                cJSON_AddItemToArray(arr, it);
        }
        return 0;
    }
    cJSON *all = cJSON_CreateArray();
    if (all == NULL)
        return MQ_ENOMEM;
    mq_error_clear(&err);
    int rc = mq_store_list(w->store, "area", NULL, 0, mq__web_collect, all, &err);
    if (rc != 0) {
        cJSON_Delete(all);
        return rc;
    }
    cJSON *ids = cJSON_CreateObject();
    const cJSON *a;
    cJSON_ArrayForEach(a, all)
    {
        cJSON_AddTrueToObject(ids, mq__web_str(a, "id"));
    }
    cJSON_ArrayForEach(a, all)
    {
        const char *parent =
            mq__web_str(cJSON_GetObjectItemCaseSensitive(a, "fields"), "parent");
        if (parent != NULL && cJSON_GetObjectItemCaseSensitive(ids, parent) != NULL)
            continue;
        cJSON *it = area_item(a);
        if (it != NULL)
            cJSON_AddItemToArray(arr, it);
    }
    cJSON_Delete(ids);
    cJSON_Delete(all);
    return 0;
}

int mq__web_me(mq__web *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cache = cJSON_CreateObject();
    if (o == NULL || cache == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(cache);
        return MQ_ENOMEM;
    }
    mq__web_add_str(o, "host", w->who->office ? "office" : "tablet");
    mq__web_add_str(o, "name", w->who->name);
    if (w->who->cadre != NULL) {
        cJSON *c = cJSON_AddObjectToObject(o, "cadre");
        mq__web_add_str(c, "id", w->who->cadre);
        mq__web_add_str(c, "name", mq__web_cadre_name(w, cache, w->who->cadre));
    } else {
        cJSON_AddNullToObject(o, "cadre");
    }
    cJSON_Delete(cache);
    int rc = add_areas(w, o);
    if (rc != 0) {
        cJSON_Delete(o);
        return rc == MQ_ENOMEM ? rc : mq__web_error(w, 500, "internal", NULL, "areas");
    }
    mq__web_add_str(o, "today", w->today);
    mq__web_add_str(o, "site", mq_store_site(w->store));
    if (w->who->office)
        mq__web_add_str(o, "csrf", w->who->csrf);
    return mq__web_json(w, 200, o);
}

int mq__web_schema(mq__web *w)
{
    char *labels = NULL;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_report_labels(w->store, &labels, &err);
    if (rc != 0)
        return mq__web_fail(w, rc, &err);
    cJSON *schema = cJSON_Parse(mq_store_schema(w->store));
    cJSON *o = cJSON_CreateObject();
    cJSON *l = cJSON_Parse(labels);
    mq_free(labels);
    if (schema == NULL || o == NULL || l == NULL) {
        cJSON_Delete(schema);
        cJSON_Delete(o);
        cJSON_Delete(l);
        return MQ_ENOMEM;
    }
    cJSON *types = cJSON_DetachItemFromObjectCaseSensitive(schema, "types");
    cJSON_Delete(schema);
    cJSON_AddItemToObject(o, "types", types != NULL ? types : cJSON_CreateObject());
    cJSON_AddItemToObject(o, "labels", l);
    return mq__web_json(w, 200, o);
}
