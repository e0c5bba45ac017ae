/*
 * web/office.c - the office's requests, as the server's hook hands them
 * over (mq_server_opts.web): the app's assets at "/", and the API under
 * "/api/" for a signed-in office account (docs/UI.md).
 *
 * Who is asking is settled here, before anything is read or written:
 *   1. Every /api/ request but POST /api/session needs a live session, by
 *      the cookie mq_session (HttpOnly, SameSite=Strict, Secure over TLS):
 *      401 without one.
 *   2. A request that changes state (any method but GET and HEAD) whose
 *      Origin header is present and is not this server's own (the scheme it
 *      serves and the Host asked) is refused (403), the sign-in included;
 *      and but for the sign-in it must carry X-CSRF-Token equal to its
 *      session's (compared in constant time): 403 otherwise.  A refused
 *      request writes nothing.
 *   3. An account reaches only its areas: devices outside them are neither
 *      listed nor revoked (404, as if they did not exist), a device is
 *      enrolled only for them, and every other path goes to mq_web_api()
 *      with the account's areas as its who, which checks each record.
 *   4. Every answer carries the security headers (CSP default-src 'self',
 *      nosniff, X-Frame-Options DENY, no referrer); the API's answers are
 *      never cached (no-store).
 */
#include "office.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "minqing/minqing.h"
#include "web.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define COOKIE    "mq_session"

/* How deep an area tree may go (county, township, village, group, with room). */
#define MAX_AREA_DEPTH 16

/* ---- answers ------------------------------------------------------------ */

static void add_header(mq_server_answer *a, const char *name, const char *value)
{
    if (a->nheaders >= MQ_SERVER_MAX_HEADERS)
        return;
    mq_server_header *h = &a->headers[a->nheaders++];
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->value, sizeof h->value, "%s", value);
}

/* Invariant 4. */
static void security_headers(mq_server_answer *a, int api)
{
    add_header(a, "Content-Security-Policy",
               "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
               "form-action 'self'");
    add_header(a, "X-Content-Type-Options", "nosniff");
    add_header(a, "X-Frame-Options", "DENY");
    add_header(a, "Referrer-Policy", "no-referrer");
    add_header(a, "Cache-Control", api ? "no-store" : "no-cache");
}

/* Sets the answer to JSON `j` (taken over) with `status`; -1 when out of memory. */
static int answer_json(mq_server_answer *a, unsigned status, cJSON *j)
{
    char *text = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (text == NULL)
        return -1;
    size_t n = strlen(text);
    /* The server frees the body with free(): copy out of cJSON's allocator. */
    a->body = malloc(n + 1);
    if (a->body == NULL) {
        cJSON_free(text);
        return -1;
    }
    memcpy(a->body, text, n + 1);
    cJSON_free(text);
    a->len = n;
    a->status = status;
    a->content_type = JSON_TYPE;
    return 0;
}

static const char *code_of(unsigned status)
{
    switch (status) {
    case 400:
        return "invalid";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "bad_method";
    case 409:
        return "conflict";
    case 413:
        return "too_large";
    case 429:
        return "too_many";
    default:
        return "internal";
    }
}

/* {"error":{"code","message"[,"fields":{field:rule}]}} */
static int answer_error(mq_server_answer *a, unsigned status, const char *message,
                        const char *field)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(e, "code", code_of(status));
    cJSON_AddStringToObject(e, "message", message);
    if (field != NULL)
        cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "fields"), field, message);
    return answer_json(a, status, j);
}

/* An error of the store: refusals are the caller's fault (400 or 404). */
static int answer_store_error(mq_server_answer *a, const mq_error *e, const char *field)
{
    unsigned status = e->rc == MQ_EINVAL      ? 400
                      : e->rc == MQ_ENOTFOUND ? (field != NULL ? 400 : 404)
                      : e->rc == MQ_EREFUSED  ? 403
                                              : 500;
    return answer_error(a, status, e->message, field);
}

/* ---- the request -------------------------------------------------------- */

/* The value of cookie `name` in the Cookie header, copied to `out`; "" when
 * absent or longer than the buffer. */
static void cookie_value(const char *header, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *p = header; p != NULL && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t v = len - n - 1;
            while (v > 0 && p[n + v] == ' ')
                v--;
            if (v < size) {
                memcpy(out, p + n + 1, v);
                out[v] = '\0';
            }
            return;
        }
        p = end;
    }
}

static int same_secret(const char *a, const char *b)
{
    size_t n = strlen(a);
    return a[0] != '\0' && n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

/* Invariant 2: the Origin, when sent, is this server's own. */
static int origin_ok(const mq_server_request *rq)
{
    const char *origin = rq->header(rq->ctx, "Origin");
    const char *host = rq->header(rq->ctx, "Host");
    if (origin == NULL)
        return 1;
    if (host == NULL)
        return 0;
    char own[300];
    snprintf(own, sizeof own, "%s://%s", rq->tls ? "https" : "http", host);
    return strcmp(origin, own) == 0;
}

/* The body as a JSON object, or NULL (answered 400). */
static cJSON *body_object(const mq_server_request *rq, mq_server_answer *a, int *rc)
{
    cJSON *j = NULL;
    if (memchr(rq->body, '\0', rq->body_len) == NULL)
        j = cJSON_ParseWithLength(rq->body, rq->body_len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *rc = answer_error(a, 400, "the body is not a JSON object", NULL);
        return NULL;
    }
    return j;
}

static const char *string_member(const cJSON *j, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *areas_array(const mq_office_account *acc)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < acc->nareas; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(acc->areas[i]));
    return arr;
}

/* ---- sessions ----------------------------------------------------------- */

static void session_cookie(mq_server_answer *a, const mq_server_request *rq,
                           const char *token)
{
    char v[300];
    snprintf(v, sizeof v, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
             COOKIE, token, token[0] ? MQ_OFFICE_ABSOLUTE_S : 0,
             rq->tls ? "; Secure" : "");
    add_header(a, "Set-Cookie", v);
}

/* mq_office_unlocked_fn over the server's: the password is derived while
 * pushes go on. */
static int unlocked(void *runner, int (*fn)(void *fctx), void *fctx)
{
    const mq_server_request *rq = runner;
    return rq->unlocked != NULL ? rq->unlocked(rq, fn, fctx) : fn(fctx);
}

static int do_sign_in(const mq_server_request *rq, mq_server_answer *a)
{
    int rc = 0;
    cJSON *j = body_object(rq, a, &rc);
    if (j == NULL)
        return rc;
    const char *name = string_member(j, "name");
    const char *password = string_member(j, "password");
    if (name == NULL || password == NULL) {
        cJSON_Delete(j);
        return answer_error(a, 400, "give {\"name\":..,\"password\":..}",
                            name == NULL ? "name" : "password");
    }
    char token[MQ_OFFICE_TOKEN_HEX + 1];
    mq_office_account acc;
    int64_t wait = 0;
    mq_error e;
    mq_error_clear(&e);
    int src = mq_office_sign_in(rq->store, name, password, rq->peer, unlocked, (void *)rq,
                                token, &acc, &wait, &e);
    cJSON_Delete(j);
    if (src == MQ_EREFUSED) {
        char s[24];
        snprintf(s, sizeof s, "%lld", (long long)wait);
        add_header(a, "Retry-After", s);
        return answer_error(a, 429, e.message, NULL);
    }
    if (src == MQ_EAUTH)
        return answer_error(a, 401, e.message, NULL);
    if (src != 0) {
        fprintf(stderr, "minqing-server: sign-in: %s\n", e.message);
        return answer_error(a, 500, e.message, NULL);
    }
    fprintf(stderr, "minqing-server: office account %s signed in from %s\n", acc.name,
            rq->peer);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", acc.name);
    cJSON_AddItemToObject(o, "areas", areas_array(&acc));
    cJSON_AddStringToObject(o, "csrf", acc.csrf);
    session_cookie(a, rq, token);
    mq_office_account_clear(&acc);
    return answer_json(a, 200, o);
}

/* ---- devices ------------------------------------------------------------ */

/*
 * 1 when area `id` is one of the account's areas or lies below one, by the
 * areas' parent fields; 0 when not (or when it cannot be read).
 */
static int area_within(mq_store *st, const char *id, const mq_office_account *acc)
{
    char cur[128];
    snprintf(cur, sizeof cur, "%s", id);
    for (int depth = 0; depth < MAX_AREA_DEPTH && cur[0]; depth++) {
        for (size_t i = 0; i < acc->nareas; i++)
            if (strcmp(acc->areas[i], cur) == 0)
                return 1;
        char *json = NULL;
        if (mq_store_get(st, cur, &json, NULL) != 0)
            return 0;
        cJSON *r = cJSON_Parse(json);
        mq_free(json);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "fields");
        const char *type = string_member(r, "type");
        const char *parent = string_member(f, "parent");
        if (type == NULL || strcmp(type, "area") != 0 || parent == NULL)
            cur[0] = '\0';
        else
            snprintf(cur, sizeof cur, "%s", parent);
        cJSON_Delete(r);
    }
    return 0;
}

/* 1 when every area of device `d` (a mq_device_list() object) is the account's. */
static int device_within(mq_store *st, const cJSON *d, const mq_office_account *acc)
{
    const cJSON *areas = cJSON_GetObjectItemCaseSensitive(d, "areas");
    const cJSON *ar;
    if (cJSON_GetArraySize(areas) == 0)
        return 0;
    cJSON_ArrayForEach(ar, areas)
    {
        if (!cJSON_IsString(ar) || !area_within(st, ar->valuestring, acc))
            return 0;
    }
    return 1;
}

typedef struct device_walk {
    mq_store *store;
    const mq_office_account *acc;
    cJSON *list;     /* the devices within the account's areas */
    const char *one; /* only this name, when set */
    int oom;
} device_walk;

static int take_device(void *ctx, const char *json)
{
    device_walk *w = ctx;
    cJSON *d = cJSON_Parse(json);
    if (d == NULL) {
        w->oom = 1;
        return 1;
    }
    const char *name = string_member(d, "name");
    if ((w->one != NULL && (name == NULL || strcmp(name, w->one) != 0)) ||
        !device_within(w->store, d, w->acc)) {
        cJSON_Delete(d);
        return 0;
    }
    cJSON_AddItemToArray(w->list, d);
    return w->one != NULL; /* found: stop */
}

/* The devices within the account's areas (only `one` when not NULL). */
static int devices_within(mq_store *st, const mq_office_account *acc, const char *one,
                          cJSON **out, mq_error *err)
{
    device_walk w = {st, acc, cJSON_CreateArray(), one, 0};
    int rc = w.list == NULL ? mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                           "out of memory")
                            : mq_device_list(st, take_device, &w, err);
    if (rc > 0)
        rc = 0; /* stopped at `one` */
    if (rc == 0 && w.oom)
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
    if (rc != 0) {
        cJSON_Delete(w.list);
        return rc;
    }
    *out = w.list;
    return 0;
}

static int do_devices_list(const mq_server_request *rq, const mq_office_account *acc,
                           mq_server_answer *a)
{
    cJSON *list = NULL;
    mq_error e;
    mq_error_clear(&e);
    if (devices_within(rq->store, acc, NULL, &list, &e) != 0)
        return answer_store_error(a, &e, NULL);
    return answer_json(a, 200, list);
}

static int do_device_enrol(const mq_server_request *rq, const mq_office_account *acc,
                           mq_server_answer *a)
{
    int rc = 0;
    cJSON *j = body_object(rq, a, &rc);
    if (j == NULL)
        return rc;
    const char *name = string_member(j, "name");
    const cJSON *areas = cJSON_GetObjectItemCaseSensitive(j, "areas");
    const cJSON *cadre = cJSON_GetObjectItemCaseSensitive(j, "cadre");
    const char *why = NULL, *field = NULL;
    unsigned status = 400;
    char msg[300];
    int n = cJSON_GetArraySize(areas);
    if (name == NULL)
        why = "give the device's name", field = "name";
    else if (!cJSON_IsArray(areas) || n == 0 || n > 64)
        why = "give the device's areas, 1 to 64 area ids", field = "areas";
    else if (cadre != NULL && !cJSON_IsNull(cadre) && !cJSON_IsString(cadre))
        why = "the cadre is a cadre record's id", field = "cadre";
    const char *list[64];
    for (int i = 0; why == NULL && i < n; i++) {
        const cJSON *ar = cJSON_GetArrayItem(areas, i);
        if (!cJSON_IsString(ar)) {
            why = "each area is an area record's id", field = "areas";
        } else if (!area_within(rq->store, ar->valuestring, acc)) {
            snprintf(msg, sizeof msg, "area \"%.80s\" is outside the areas of account %s",
                     ar->valuestring, acc->name);
            why = msg, field = "areas", status = 403;
        } else {
            list[i] = ar->valuestring;
        }
    }
    if (why != NULL) {
        rc = answer_error(a, status, why, field);
        cJSON_Delete(j);
        return rc;
    }
    char token[128];
    mq_error e;
    mq_error_clear(&e);
    const char *cad = string_member(j, "cadre");
    if (cad != NULL && cad[0] == '\0')
        cad = NULL;
    if (mq_device_add(rq->store, name, list, (size_t)n, cad, token, sizeof token, &e) !=
        0) {
        field =
            e.rc == MQ_ENOTFOUND || strstr(e.message, "area") != NULL ? "areas" : "name";
        if (cad != NULL && strstr(e.message, "cadre") != NULL)
            field = "cadre";
        rc = answer_store_error(a, &e,
                                e.rc == MQ_EINVAL || e.rc == MQ_ENOTFOUND ? field : NULL);
        cJSON_Delete(j);
        return rc;
    }
    fprintf(stderr, "minqing-server: device %s enrolled by office account %s\n", name,
            acc->name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "token", token);
    OPENSSL_cleanse(token, sizeof token);
    cJSON_Delete(j);
    return answer_json(a, 201, o);
}

static int do_device_revoke(const mq_server_request *rq, const mq_office_account *acc,
                            const char *name, mq_server_answer *a)
{
    cJSON *list = NULL;
    mq_error e;
    mq_error_clear(&e);
    if (devices_within(rq->store, acc, name, &list, &e) != 0)
        return answer_store_error(a, &e, NULL);
    int found = cJSON_GetArraySize(list) > 0;
    cJSON_Delete(list);
    if (!found) { /* invariant 3: another area's device does not exist here */
        char msg[160];
        snprintf(msg, sizeof msg, "no device named \"%.64s\" in your areas", name);
        return answer_error(a, 404, msg, NULL);
    }
    if (mq_device_revoke(rq->store, name, &e) != 0)
        return answer_store_error(a, &e, NULL);
    fprintf(stderr, "minqing-server: device %s revoked by office account %s\n", name,
            acc->name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddTrueToObject(o, "revoked");
    return answer_json(a, 200, o);
}

/* ---- routing ------------------------------------------------------------ */

static int do_assets(const mq_server_request *rq, mq_server_answer *a)
{
    security_headers(a, 0);
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        add_header(a, "Allow", "GET, HEAD");
        return answer_error(a, 405, "use GET", NULL);
    }
    const mq_web_asset *as = mq_web_asset_find(rq->path);
    if (as == NULL)
        return answer_error(a, 404, "no such page", NULL);
    add_header(a, "ETag", as->etag);
    const char *inm = rq->header(rq->ctx, "If-None-Match");
    if (inm != NULL && strcmp(inm, as->etag) == 0) {
        a->status = 304;
        return 0;
    }
    a->body = malloc(as->len + 1);
    if (a->body == NULL)
        return -1;
    memcpy(a->body, as->data, as->len);
    a->len = as->len;
    a->status = 200;
    a->content_type = as->content_type;
    return 0;
}

/* The API's rest, for the signed-in account: mq_web_api() decides. */
static int do_api(const mq_server_request *rq, const mq_office_account *acc,
                  mq_server_answer *a)
{
    mq_web_who who;
    memset(&who, 0, sizeof who);
    who.office = 1;
    who.name = acc->name;
    who.areas = (const char *const *)acc->areas;
    who.nareas = acc->nareas;
    who.csrf = acc->csrf;
    mq_web_request wr = {rq->method, rq->path, rq->arg, rq->ctx, rq->body, rq->body_len};
    mq_web_answer wa;
    memset(&wa, 0, sizeof wa);
    if (mq_web_api(rq->store, &who, &wr, &wa) != 0) {
        mq_web_answer_free(&wa);
        return -1;
    }
    /* The body and the name are malloc'ed (web/web.h): the server frees them. */
    a->status = wa.status;
    a->content_type = wa.content_type;
    a->body = wa.body;
    a->len = wa.len;
    a->filename = wa.filename;
    wa.body = wa.filename = NULL;
    mq_web_answer_free(&wa);
    return 0;
}

int mq_office_handle(void *ctx, const mq_server_request *rq, mq_server_answer *a)
{
    (void)ctx;
    const char *p = rq->path;
    if (strncmp(p, "/api/", 5) != 0 && strcmp(p, "/api") != 0)
        return do_assets(rq, a);
    security_headers(a, 1);
    int safe = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
    if (!safe && !origin_ok(rq))
        return answer_error(a, 403, "the request comes from another site (Origin)", NULL);
    if (strcmp(p, "/api/session") == 0 && strcmp(rq->method, "POST") == 0)
        return do_sign_in(rq, a);

    /* Invariant 1. */
    char token[MQ_OFFICE_TOKEN_HEX + 1];
    cookie_value(rq->header(rq->ctx, "Cookie"), COOKIE, token, sizeof token);
    mq_office_account acc;
    mq_error e;
    mq_error_clear(&e);
    int rc = mq_office_session(rq->store, token, &acc, &e);
    if (rc == MQ_EAUTH)
        return answer_error(a, 401, e.message, NULL);
    if (rc != 0)
        return answer_error(a, 500, e.message, NULL);
    if (!safe) { /* invariant 2 */
        const char *csrf = rq->header(rq->ctx, "X-CSRF-Token");
        if (csrf == NULL || !same_secret(acc.csrf, csrf)) {
            mq_office_account_clear(&acc);
            return answer_error(
                a, 403, "send the session's token as the header X-CSRF-Token", NULL);
        }
    }

    if (strcmp(p, "/api/session") == 0) {
        if (strcmp(rq->method, "DELETE") == 0) {
            rc = mq_office_sign_out(rq->store, token, &e);
            mq_office_account_clear(&acc);
            if (rc != 0)
                return answer_error(a, 500, e.message, NULL);
            session_cookie(a, rq, "");
            cJSON *o = cJSON_CreateObject();
            cJSON_AddTrueToObject(o, "signed_out");
            return answer_json(a, 200, o);
        }
        mq_office_account_clear(&acc);
        add_header(a, "Allow", "POST, DELETE");
        return answer_error(a, 405, "POST signs in, DELETE signs out", NULL);
    }
    if (strcmp(p, "/api/devices") == 0) {
        if (safe)
            rc = do_devices_list(rq, &acc, a);
        else if (strcmp(rq->method, "POST") == 0)
            rc = do_device_enrol(rq, &acc, a);
        else {
            add_header(a, "Allow", "GET, POST");
            rc = answer_error(a, 405, "GET lists, POST enrols", NULL);
        }
        mq_office_account_clear(&acc);
        return rc;
    }
    if (strncmp(p, "/api/devices/", 13) == 0) {
        const char *name = p + 13;
        const char *slash = strchr(name, '/');
        char dev[80];
        if (slash != NULL && strcmp(slash, "/revoke") == 0 &&
            (size_t)(slash - name) < sizeof dev && strcmp(rq->method, "POST") == 0) {
            memcpy(dev, name, (size_t)(slash - name));
            dev[slash - name] = '\0';
            rc = do_device_revoke(rq, &acc, dev, a);
        } else {
            rc = answer_error(a, 404, "POST /api/devices/NAME/revoke revokes a device",
                              NULL);
        }
        mq_office_account_clear(&acc);
        return rc;
    }
    rc = do_api(rq, &acc, a);
    mq_office_account_clear(&acc);
    return rc;
}
