/*
 * web/host.c - the tablet's host (web/host.h): libmicrohttpd bound to
 * 127.0.0.1, the assets, the API of web/web.h for the replica's own cadre,
 * and the sync in the background.
 *
 * What every request meets, in this order:
 *   1. its Host header must be the address the host listens on
 *      (127.0.0.1:PORT or localhost:PORT), so that a page of another
 *      origin that rebinds its name to 127.0.0.1 is refused (403);
 *   2. a path under /api/ must carry the start's secret as
 *      X-Minqing-Secret, compared in constant time (401); assets need
 *      none: they hold no data;
 *   3. a body is read up to MQ_WEB_MAX_BODY (413 past it, unread).
 * Every answer carries the security headers of docs/UI.md.
 *
 * The sync thread never touches the host's store: it opens its own on the
 * same file (SQLite serialises the writers), so pages stay usable while
 * it runs; its progress and result are shared under `lock`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "api.h"
#include "host.h"
#include "platform.h"

#ifdef MQ_WEB_WITH_SYNC
#include "minqing/sync.h"
#endif

#define SECRET_BYTES 24
/* The most of a too-large body that is read (and dropped) before the 413. */
#define DRAIN_MAX ((uint64_t)8 << 20)

struct mq_web_host {
    struct MHD_Daemon *daemon;
    mq_store *store;
    char *db_path;
    unsigned port;
    char secret[2 * SECRET_BYTES + 1];
    char url[128];
    char host_ip[32], host_name[32]; /* the Host headers accepted */
    char site[40];
    /* the sync, shared with its thread under `lock` */
    mtx_t lock;
    thrd_t thread;
    int running, joinable;
    char step[160];
    int have_last, last_ok;
    size_t last_sent, last_received, last_conflicts, last_rejected;
    char last_message[MQ_ERROR_MESSAGE_MAX + 64];
};

/* One request's state across libmicrohttpd's calls. */
typedef struct request {
    int started;
    int too_large;
    uint64_t dropped; /* bytes of a too-large body read and dropped */
    char *body;
    size_t len;
} request;

/* ---- answers ------------------------------------------------------------ */

static void security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(
        r, "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* Sends `body` (taken: malloc'ed, or NULL for an empty body). */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, char *body,
                                 size_t len, const char *ctype, const char *filename)
{
    struct MHD_Response *r =
        body != NULL
            ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
            : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    if (ctype != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (filename != NULL) {
        char disp[160];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    }
    security_headers(r);
    enum MHD_Result res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, cJSON *o)
{
    char *text = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (text == NULL)
        return MHD_NO;
    return send_body(c, status, text, strlen(text), "application/json; charset=utf-8",
                     NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return send_json(c, status, o);
}

/* ---- the checks ------------------------------------------------------------ */

/* Equal in time that does not depend on where they differ. */
static int same_secret(const char *given, const char *secret)
{
    size_t n = strlen(secret);
    if (given == NULL || strlen(given) != n)
        return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(given[i] ^ secret[i]);
    return d == 0;
}

static int good_host(const mq_web_host *h, struct MHD_Connection *c)
{
    const char *host =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    return host != NULL &&
           (strcmp(host, h->host_ip) == 0 || strcmp(host, h->host_name) == 0);
}

/* ---- the sync ---------------------------------------------------------------- */

#ifdef MQ_WEB_WITH_SYNC
static void on_progress(void *ctx, const char *line)
{
    mq_web_host *h = ctx;
    mtx_lock(&h->lock);
    snprintf(h->step, sizeof h->step, "%s", line);
    mtx_unlock(&h->lock);
}

static int count_one(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

static int sync_main(void *arg)
{
    mq_web_host *h = arg;
    mq_store *st = NULL;
    mq_sync_report rep;
    mq_sync_opts o;
    mq_error err;
    size_t conflicts = 0;
    memset(&rep, 0, sizeof rep);
    memset(&o, 0, sizeof o);
    o.notify = on_progress;
    o.ctx = h;
    mq_error_clear(&err);
    int rc = mq_store_open(&st, h->db_path, &err);
    if (rc == 0)
        rc = mq_sync_run(st, &o, &rep, &err);
    if (st != NULL) {
        mq_error e2;
        mq_store_conflicts(st, count_one, &conflicts, &e2);
    }
    mq_store_close(st);

    mtx_lock(&h->lock);
    h->have_last = 1;
    h->last_ok = rc == 0;
    h->last_sent = rep.pushed;
    h->last_received = rep.pulled;
    h->last_rejected = rep.push_rejected + rep.pull_rejected;
    h->last_conflicts = conflicts;
    char tail[64] = "";
    if (conflicts > 0)
        snprintf(tail, sizeof tail, "; %zu conflict%s", conflicts,
                 conflicts == 1 ? "" : "s");
    if (rc == 0 || rc == MQ_EREFUSED) {
        char refused[80] = "";
        if (h->last_rejected > 0)
            snprintf(refused, sizeof refused,
                     "; %zu refused (kept, see the rejected list)", h->last_rejected);
        snprintf(h->last_message, sizeof h->last_message,
                 "sent %zu change%s, received %zu%s%s", rep.pushed,
                 rep.pushed == 1 ? "" : "s", rep.pulled, refused, tail);
    } else if (rc == MQ_ENET) {
        snprintf(h->last_message, sizeof h->last_message,
                 "server unreachable, nothing lost, try again at the office%s", tail);
    } else if (rc == MQ_EAUTH) {
        snprintf(
            h->last_message, sizeof h->last_message,
            "the server refused this tablet's token: ask the office to enrol it again");
    } else {
        snprintf(h->last_message, sizeof h->last_message, "sync failed: %s", err.message);
    }
    h->running = 0;
    h->step[0] = '\0';
    mtx_unlock(&h->lock);
    return 0;
}
#endif

static cJSON *sync_state(mq_web_host *h)
{
    cJSON *o = cJSON_CreateObject();
    mtx_lock(&h->lock);
    cJSON_AddBoolToObject(o, "running", h->running);
    if (h->running && h->step[0] != '\0')
        cJSON_AddStringToObject(o, "step", h->step);
    if (h->have_last) {
        cJSON *l = cJSON_AddObjectToObject(o, "last");
        cJSON_AddBoolToObject(l, "ok", h->last_ok);
        cJSON_AddNumberToObject(l, "sent", (double)h->last_sent);
        cJSON_AddNumberToObject(l, "received", (double)h->last_received);
        cJSON_AddNumberToObject(l, "conflicts", (double)h->last_conflicts);
        cJSON_AddNumberToObject(l, "rejected", (double)h->last_rejected);
        cJSON_AddStringToObject(l, "message", h->last_message);
    } else {
        cJSON_AddNullToObject(o, "last");
    }
    mtx_unlock(&h->lock);
    return o;
}

static enum MHD_Result do_sync(mq_web_host *h, struct MHD_Connection *c, int post)
{
    if (!post)
        return send_json(c, 200, sync_state(h));
#ifndef MQ_WEB_WITH_SYNC
    return send_error(c, 501, "unsupported",
                      "this tablet was built without the network client: it syncs by "
                      "bundles (minqing changes / minqing apply)");
#else
    char *url = NULL, *token = NULL;
    mq_error err;
    mq_store_setting_get(h->store, "sync.url", &url, &err);
    mq_store_setting_get(h->store, "sync.token", &token, &err);
    int known = url != NULL && url[0] != '\0' && token != NULL && token[0] != '\0';
    mq_free(url);
    mq_free(token);
    if (!known)
        return send_error(
            c, 409, "conflict",
            "no server yet: run `minqing sync --server URL --token TOKEN` once "
            "(both are remembered)");
    mtx_lock(&h->lock);
    if (h->running) {
        mtx_unlock(&h->lock);
        return send_error(c, 409, "conflict", "a sync is running already");
    }
    if (h->joinable) {
        /* The last sync's thread has ended (running is 0): reaped here. */
        thrd_join(h->thread, NULL);
        h->joinable = 0;
    }
    h->running = 1;
    snprintf(h->step, sizeof h->step, "starting");
    if (thrd_create(&h->thread, sync_main, h) != thrd_success) {
        h->running = 0;
        mtx_unlock(&h->lock);
        return send_error(c, 500, "internal", "cannot start the sync");
    }
    h->joinable = 1;
    mtx_unlock(&h->lock);
    return send_json(c, 202, sync_state(h));
#endif
}

/* ---- requests ----------------------------------------------------------------- */

static const char *arg_of(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result do_api(mq_web_host *h, struct MHD_Connection *c, const char *url,
                              const char *method, request *rq)
{
    if (strcmp(url, "/api/sync") == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
            return send_error(c, 405, "invalid", "/api/sync: use GET or POST");
        return do_sync(h, c, strcmp(method, "POST") == 0);
    }
    mq_web_who who;
    memset(&who, 0, sizeof who);
    who.office = 0;
    who.name = h->site;
    who.cadre = mq_store_cadre(h->store);
    who.all = 1;
    mq_web_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.path = url;
    r.arg = arg_of;
    r.arg_ctx = c;
    r.body = rq->body;
    r.body_len = rq->len;
    mq_web_answer a;
    if (mq_web_api(h->store, &who, &r, &a) != 0)
        return send_error(c, 500, "internal", "out of memory");
    enum MHD_Result res =
        send_body(c, a.status, a.body, a.len, a.content_type, a.filename);
    a.body = NULL; /* sent, and freed by libmicrohttpd */
    mq_web_answer_free(&a);
    return res;
}

static enum MHD_Result do_asset(struct MHD_Connection *c, const char *url,
                                const char *method)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(c, 405, "invalid", "assets: use GET");
    const mq_web_asset *as = mq_web_asset_find(url);
    if (as == NULL)
        return send_error(c, 404, "not_found", "no such page");
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    unsigned status = inm != NULL && strcmp(inm, as->etag) == 0 ? 304 : 200;
    struct MHD_Response *r = MHD_create_response_from_buffer(
        status == 304 ? 0 : as->len, (void *)as->data, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, as->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, as->etag);
    security_headers(r);
    enum MHD_Result res = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    mq_web_host *h = cls;
    request *rq = *con_cls;
    (void)version;
    if (rq == NULL) {
        rq = calloc(1, sizeof *rq);
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        /* Refused on the head, before any body is read. */
        if (!good_host(h, c))
            return send_error(c, 403, "forbidden",
                              "Host: this host answers only as 127.0.0.1 on its port");
        int api = strncmp(url, "/api/", 5) == 0;
        if (api && !same_secret(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                            "X-Minqing-Secret"),
                                h->secret))
            return send_error(c, 401, "unauthorized",
                              "X-Minqing-Secret: missing or wrong; open the address "
                              "`minqing ui` printed");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* A body a little over the bound is read and dropped, so that a
         * client that sends before it reads gets its 413; a far larger
         * one is refused on its head and the connection closed. */
        if (cl != NULL && strtoull(cl, NULL, 10) > DRAIN_MAX)
            return send_error(c, 413, "too_large", "body: more than 1 MiB");
        rq->started = 1;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!rq->too_large && rq->len + *upload_size > MQ_WEB_MAX_BODY) {
            rq->too_large = 1;
            free(rq->body);
            rq->body = NULL;
            rq->len = 0;
        }
        if (rq->too_large) {
            rq->dropped += *upload_size;
            if (rq->dropped > DRAIN_MAX)
                return MHD_NO;
        } else {
            char *b = realloc(rq->body, rq->len + *upload_size + 1);
            if (b == NULL)
                return MHD_NO;
            memcpy(b + rq->len, upload, *upload_size);
            rq->body = b;
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->too_large)
        return send_error(c, 413, "too_large", "body: more than 1 MiB");
    if (strncmp(url, "/api/", 5) == 0)
        return do_api(h, c, url, method, rq);
    return do_asset(c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- start and stop ------------------------------------------------------------ */

int mq_web_host_start(mq_web_host **out, const mq_web_host_opts *o, mq_error *err)
{
    char host[MQ_PLATFORM_HOST_MAX], why[MQ_PLATFORM_WHY_MAX] = "";
    unsigned port = 0;
    const char *listen = o->listen != NULL ? o->listen : "127.0.0.1:0";
    *out = NULL;
    if (mq_platform_parse_listen(listen, host, &port, why, sizeof why) != 0)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "--listen \"%s\": %s", listen, why);
    /* Loopback only: the API holds the households' data and trusts the
     * secret, which a network would carry in the clear. */
    if (strcmp(host, "127.0.0.1") != 0)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "--listen \"%s\": the tablet's app listens on 127.0.0.1 only "
                            "(give 127.0.0.1:PORT)",
                            listen);
    mq_web_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    unsigned char r[SECRET_BYTES];
    if (mq_platform_random(r, sizeof r) != 0) {
        free(h);
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "no randomness for the secret");
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        h->secret[2 * i] = hex[r[i] >> 4];
        h->secret[2 * i + 1] = hex[r[i] & 15];
    }
    h->store = o->store;
    h->db_path = malloc(strlen(o->db_path) + 1);
    if (h->db_path == NULL || mtx_init(&h->lock, mtx_plain) != thrd_success) {
        free(h->db_path);
        free(h);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory");
    }
    memcpy(h->db_path, o->db_path, strlen(o->db_path) + 1);
    snprintf(h->site, sizeof h->site, "%s",
             mq_store_site(o->store) != NULL ? mq_store_site(o->store) : "");

    mq_platform_listener ln;
    if (mq_platform_listen(&ln, listen, why, sizeof why) != 0) {
        mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO, "--listen \"%s\": %s",
                     listen, why);
        mtx_destroy(&h->lock);
        free(h->db_path);
        free(h);
        return MQ_EIO;
    }
    h->port = ln.port;
    snprintf(h->host_ip, sizeof h->host_ip, "127.0.0.1:%u", h->port);
    snprintf(h->host_name, sizeof h->host_name, "localhost:%u", h->port);
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%u/#k=%s", h->port, h->secret);
    /* One thread answers every request: the store is that thread's. */
    h->daemon = MHD_start_daemon(
        MHD_USE_ERROR_LOG | MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, on_request, h,
        MHD_OPTION_LISTEN_SOCKET, ln.fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_END);
    if (h->daemon == NULL) {
        mq_platform_close_socket(ln.fd);
        mtx_destroy(&h->lock);
        free(h->db_path);
        free(h);
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "cannot serve on %s: libmicrohttpd refused to start", listen);
    }
    *out = h;
    return 0;
}

const char *mq_web_host_url(const mq_web_host *h)
{
    return h->url;
}

unsigned mq_web_host_port(const mq_web_host *h)
{
    return h->port;
}

void mq_web_host_stop(mq_web_host *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    /* A sync that runs is let finish: its changes are written in
     * transactions, but its thread uses `h`. */
    if (h->joinable)
        thrd_join(h->thread, NULL);
    mtx_destroy(&h->lock);
    free(h->db_path);
    free(h);
}
