/*
 * web/api_common.c - what every handler of the JSON API shares: the one
 * writer of answers and the one filler of errors, the request's arguments
 * and body, the scope checks every read and write goes through, and small
 * helpers.
 *
 * Scope is the core's: a record is inside the who's areas when
 * mq_store_change_in_scope() says a change to it would be, so the API and
 * the sync server draw the same line.  A who with `all` (the tablet's own
 * store) skips the check.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "minqing/report.h"
#include "platform.h"

/* ---- answers ------------------------------------------------------------ */

static const char json_type[] = "application/json; charset=utf-8";

int mq__web_json(mq__web *w, unsigned status, cJSON *body)
{
    char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    free(w->ans->body);
    w->ans->body = NULL;
    w->ans->len = 0;
    if (text == NULL)
        return MQ_ENOMEM;
    /* cJSON's allocator is malloc (the default hooks): free() frees it. */
    w->ans->body = text;
    w->ans->len = strlen(text);
    w->ans->status = status;
    w->ans->content_type = json_type;
    return 0;
}

int mq__web_error(mq__web *w, unsigned status, const char *code, cJSON *fields,
                  const char *fmt, ...)
{
    char msg[MQ_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message cut to its buffer, or a value cut by a precision, may end
     * inside a UTF-8 sequence: the sequence goes, so the JSON stays text. */
    size_t n = strlen(msg), i = n;
    while (i > 0 && ((unsigned char)msg[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0 && (unsigned char)msg[i - 1] >= 0xC0) {
        unsigned char lead = (unsigned char)msg[i - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (n - (i - 1) < want)
            msg[i - 1] = '\0';
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    if (e == NULL || cJSON_AddStringToObject(e, "code", code) == NULL ||
        cJSON_AddStringToObject(e, "message", msg) == NULL) {
        cJSON_Delete(fields);
        cJSON_Delete(root);
        return MQ_ENOMEM;
    }
    if (fields != NULL)
        cJSON_AddItemToObject(e, "fields", fields);
    /* The answer may replace a download that failed half way. */
    free(w->ans->filename);
    w->ans->filename = NULL;
    return mq__web_json(w, status, root);
}

/*
 * The field a store message names, "... field NAME: RULE (value ...)",
 * as {"NAME": "RULE"}; NULL when it names none.  The core writes every
 * refusal of a value this way (docs/STORE.md), so a form can show the rule
 * beside its field.
 */
static cJSON *fields_of(const char *message)
{
    const char *at = strstr(message, "field ");
    if (at == NULL)
        return NULL;
    at += 6;
    size_t n = strcspn(at, ": ");
    if (n == 0 || n > 64 || at[n] != ':')
        return NULL;
    char name[65];
    memcpy(name, at, n);
    name[n] = '\0';
    const char *rule = at + n + 1;
    while (*rule == ' ')
        rule++;
    const char *end = strstr(rule, " (value");
    size_t rn = end != NULL ? (size_t)(end - rule) : strlen(rule);
    char *r = malloc(rn + 1);
    cJSON *o = cJSON_CreateObject();
    if (r == NULL || o == NULL) {
        free(r);
        cJSON_Delete(o);
        return NULL;
    }
    memcpy(r, rule, rn);
    r[rn] = '\0';
    cJSON_AddStringToObject(o, name, r);
    free(r);
    return o;
}

int mq__web_fail(mq__web *w, int rc, const mq_error *err)
{
    const char *msg = err != NULL && err->message[0] ? err->message : mq_strerror(rc);
    switch (rc) {
    case MQ_EINVAL:
        return mq__web_error(w, 400, "invalid", fields_of(msg), "%s", msg);
    case MQ_ENOTFOUND:
        return mq__web_error(w, 404, "not_found", NULL, "%s", msg);
    case MQ_EREFUSED:
        return mq__web_error(w, 403, "forbidden", NULL, "%s", msg);
    case MQ_ENOMEM:
        return MQ_ENOMEM;
    default:
        return mq__web_error(w, 500, "internal", NULL, "%s", msg);
    }
}

const char *mq__web_arg(const mq__web *w, const char *name)
{
    const char *v = w->rq->arg != NULL ? w->rq->arg(w->rq->arg_ctx, name) : NULL;
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int mq__web_body(mq__web *w, cJSON **out)
{
    mq_error err;
    *out = NULL;
    if (w->rq->body_len > MQ_WEB_MAX_BODY)
        return mq__web_error(w, 413, "too_large", NULL, "body: more than %zu bytes",
                             MQ_WEB_MAX_BODY) == 0
                   ? 1
                   : MQ_ENOMEM;
    if (w->rq->body == NULL || w->rq->body_len == 0)
        return mq__web_error(w, 400, "invalid", NULL,
                             "body: a JSON object is expected") == 0
                   ? 1
                   : MQ_ENOMEM;
    /* A NUL, or "\u0000" that cJSON would decode into one, cuts a string
     * for every reader after the check: refused before parsing. */
    mq_error_clear(&err);
    if (mq_json_check_text(w->rq->body, w->rq->body_len, &err) != 0)
        return mq__web_error(w, 400, "invalid", NULL, "body: %s", err.message) == 0
                   ? 1
                   : MQ_ENOMEM;
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(w->rq->body, w->rq->body_len, &end, 0);
    if (o != NULL && end != NULL) {
        while (end < w->rq->body + w->rq->body_len &&
               (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
            end++;
        if (end != w->rq->body + w->rq->body_len) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return mq__web_error(w, 400, "invalid", NULL,
                             "body: not one JSON object (JSON text, UTF-8)") == 0
                   ? 1
                   : MQ_ENOMEM;
    }
    *out = o;
    return 0;
}

int mq__web_limit(mq__web *w, size_t def, size_t most, size_t *out)
{
    const char *v = mq__web_arg(w, "limit");
    *out = def;
    if (v == NULL)
        return 0;
    size_t n = 0, i = 0;
    for (; v[i] >= '0' && v[i] <= '9' && i < 7; i++)
        n = n * 10 + (size_t)(v[i] - '0');
    if (v[i] != '\0' || n < 1 || n > most) {
        cJSON *f = cJSON_CreateObject();
        char rule[64];
        snprintf(rule, sizeof rule, "a whole number from 1 to %zu", most);
        cJSON_AddStringToObject(f, "limit", rule);
        return mq__web_error(w, 400, "invalid", f, "limit: %s, not \"%.40s\"", rule, v) ==
                       0
                   ? 1
                   : MQ_ENOMEM;
    }
    *out = n;
    return 0;
}

/* ---- scope --------------------------------------------------------------- */

/* A change of `set` to `id` of `type`, stamped in the past so that no clock
 * check refuses it: only ever asked about, never applied. */
static char *probe_change(const char *type, const char *id, const cJSON *set)
{
    cJSON *c = cJSON_CreateObject();
    cJSON *s = cJSON_Duplicate(set, 1);
    char *text = NULL;
    if (c != NULL && s != NULL &&
        cJSON_AddStringToObject(c, "v", "0000000000000001-web") &&
        cJSON_AddStringToObject(c, "type", type) &&
        cJSON_AddStringToObject(c, "id", id)) {
        cJSON_AddItemToObject(c, "set", s);
        s = NULL;
        text = cJSON_PrintUnformatted(c);
    }
    cJSON_Delete(s);
    cJSON_Delete(c);
    return text;
}

int mq__web_writable(mq__web *w, const char *type, const char *id, const cJSON *set,
                     int *yes, mq_error *err)
{
    *yes = 1;
    if (w->who->all)
        return 0;
    *yes = 0;
    if (w->who->nareas == 0)
        return 0;
    char *change = probe_change(type, id, set);
    if (change == NULL)
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    int rc = mq_store_change_in_scope(w->store, change, w->who->areas, w->who->nareas,
                                      yes, err);
    free(change);
    return rc;
}

int mq__web_readable(mq__web *w, const char *type, const char *id, const cJSON *fields,
                     int *yes, mq_error *err)
{
    *yes = 1;
    if (w->who->all)
        return 0;
    /* One field set to the value it has moves the record nowhere: the
     * answer is where the record is now. */
    const cJSON *f = fields != NULL ? fields->child : NULL;
    while (f != NULL && cJSON_IsNull(f))
        f = f->next;
    *yes = 0;
    if (f == NULL || f->string == NULL)
        return 0;
    cJSON *set = cJSON_CreateObject();
    cJSON *v = cJSON_Duplicate(f, 1);
    if (set == NULL || v == NULL) {
        cJSON_Delete(set);
        cJSON_Delete(v);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    }
    cJSON_AddItemToObject(set, f->string, v);
    int rc = mq__web_writable(w, type, id, set, yes, err);
    cJSON_Delete(set);
    return rc;
}

static int get_for(mq__web *w, const char *id, const char *type, int write, cJSON **out)
{
    char *json = NULL;
    mq_error err;
    *out = NULL;
    if (!mq_valid_uuid(id))
        return mq__web_error(w, 404, "not_found", NULL,
                             "record \"%.40s\": not a record id (a lower-case UUID)",
                             id) == 0
                   ? 1
                   : MQ_ENOMEM;
    mq_error_clear(&err);
    int rc = mq_store_get(w->store, id, &json, &err);
    if (rc != 0)
        return mq__web_fail(w, rc, &err) == 0 ? 1 : MQ_ENOMEM;
    cJSON *r = cJSON_Parse(json);
    mq_free(json);
    if (r == NULL)
        return MQ_ENOMEM;
    const char *t = mq__web_str(r, "type");
    int yes = 0;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "deleted")) || t == NULL ||
        (type != NULL && strcmp(t, type) != 0)) {
        cJSON_Delete(r);
        return mq__web_error(w, 404, "not_found", NULL, "%s %s: no such record here",
                             type != NULL ? type : "record", id) == 0
                   ? 1
                   : MQ_ENOMEM;
    }
    rc = mq__web_readable(w, t, id, cJSON_GetObjectItemCaseSensitive(r, "fields"), &yes,
                          &err);
    if (rc != 0 || !yes) {
        cJSON_Delete(r);
        if (rc != 0)
            return mq__web_fail(w, rc, &err) == 0 ? 1 : MQ_ENOMEM;
        /* Outside the who's areas is not found on read: a record's
         * existence is itself data of another area; a write is refused. */
        if (write)
            return mq__web_error(w, 403, "forbidden", NULL, "%s %s: outside your areas",
                                 type != NULL ? type : "record", id) == 0
                       ? 1
                       : MQ_ENOMEM;
        return mq__web_error(w, 404, "not_found", NULL, "%s %s: no such record here",
                             type != NULL ? type : "record", id) == 0
                   ? 1
                   : MQ_ENOMEM;
    }
    *out = r;
    return 0;
}

int mq__web_get(mq__web *w, const char *id, const char *type, cJSON **out)
{
    return get_for(w, id, type, 0, out);
}

int mq__web_get_to_write(mq__web *w, const char *id, const char *type, cJSON **out)
{
    return get_for(w, id, type, 1, out);
}

int mq__web_area_arg(mq__web *w, const char *area)
{
    cJSON *rec = NULL;
    if (area == NULL)
        return 0;
    int rc = mq__web_get(w, area, "area", &rec);
    cJSON_Delete(rec);
    return rc;
}

/* ---- helpers ------------------------------------------------------------- */

int mq__web_day_number(const char *day, long *n)
{
    int y, m, d;
    char tail;
    if (day == NULL || sscanf(day, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 ||
        m > 12 || d < 1 || d > 31)
        return -1;
    /* Days from civil (proleptic Gregorian), with March as the first month. */
    long yy = m <= 2 ? y - 1 : y;
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long mp = (m + 9) % 12;
    long doy = (153 * mp + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *n = era * 146097 + doe - 719468;
    return 0;
}

int mq__web_new_id(char out[MQ_WEB_ID_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16];
    if (mq_platform_random(r, sizeof r) != 0)
        return -1;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    size_t k = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[r[i] >> 4];
        out[k++] = hex[r[i] & 15];
    }
    out[k] = '\0';
    return 0;
}

const char *mq__web_str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int mq__web_add_str(cJSON *o, const char *name, const char *s)
{
    cJSON *v = s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
    if (v == NULL)
        return -1;
    cJSON_AddItemToObject(o, name, v);
    return 0;
}

const char *mq__web_name_of(mq__web *w, cJSON *cache, const char *id, const char *type)
{
    if (id == NULL || cache == NULL)
        return NULL;
    const cJSON *hit = cJSON_GetObjectItemCaseSensitive(cache, id);
    if (hit != NULL)
        return cJSON_IsString(hit) ? hit->valuestring : NULL;
    char *json = NULL;
    mq_error err;
    const char *name = NULL;
    cJSON *r = NULL;
    if (mq_valid_uuid(id) && mq_store_get(w->store, id, &json, &err) == 0 &&
        (r = cJSON_Parse(json)) != NULL) {
        const char *t = mq__web_str(r, "type");
        if (type == NULL || (t != NULL && strcmp(t, type) == 0))
            name = mq__web_str(cJSON_GetObjectItemCaseSensitive(r, "fields"), "name");
    }
    mq_free(json);
    cJSON *v = name != NULL ? cJSON_CreateString(name) : cJSON_CreateNull();
    cJSON_Delete(r);
    if (v == NULL)
        return NULL;
    cJSON_AddItemToObject(cache, id, v);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *mq__web_cadre_name(mq__web *w, cJSON *cache, const char *id)
{
    return mq__web_name_of(w, cache, id, "cadre");
}

int mq__web_collect(void *ctx, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    if (o == NULL)
        return MQ_ENOMEM;
    cJSON_AddItemToArray(ctx, o);
    return 0;
}
