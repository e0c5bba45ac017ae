/*
 * sync/server/http.c - the server's HTTP front on libmicrohttpd: routing of
 * the /v1 endpoints of docs/PROTOCOL.md, token checks, body limits, gzip both
 * ways, and the push and pull handlers over a pool of mq_store handles (one
 * per worker thread, all over the same WAL-mode SQLite file).
 *
 * Invariants:
 *   1. Every endpoint but /v1/health authenticates the token against the file
 *      on every request: a revoked token is refused at once.
 *   2. A pushed batch is applied, and its answer recorded in sync_batches, in
 *      one transaction; a batch id seen before gets the recorded answer and
 *      changes nothing.  Pushes run one at a time (write_lock) so SQLite never
 *      has to refuse a writer.
 *   3. A device reads (pull) and writes (push) only changes in its areas:
 *      pulls pass the areas to mq_store_changes(), pushes check each change
 *      with mq_store_change_in_scope() before merging it.
 *   4. Every answer, errors included, carries "server_time" in ms.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "minqing/minqing.h"
#include "platform.h"
#include "proto.h"

typedef struct server {
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    mq_store **stores;
    int *busy;
    size_t nstores;
    pthread_mutex_t write_lock;
    char epoch[17];
    unsigned delay_ms;
} server;

typedef struct request {
    mq__buf body;
    int too_large;
} request;

/* ---- the store pool ---------------------------------------------------- */

static mq_store *acquire(server *sv, size_t *slot)
{
    pthread_mutex_lock(&sv->pool_lock);
    for (;;) {
        for (size_t i = 0; i < sv->nstores; i++) {
            if (!sv->busy[i]) {
                sv->busy[i] = 1;
                pthread_mutex_unlock(&sv->pool_lock);
                *slot = i;
                return sv->stores[i];
            }
        }
        pthread_cond_wait(&sv->pool_cond, &sv->pool_lock);
    }
}

static void release(server *sv, size_t slot)
{
    pthread_mutex_lock(&sv->pool_lock);
    sv->busy[slot] = 0;
    pthread_cond_signal(&sv->pool_cond);
    pthread_mutex_unlock(&sv->pool_lock);
}

/* ---- answers ----------------------------------------------------------- */

static int accepts_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae != NULL && strstr(ae, "gzip") != NULL;
}

/*
 * Queues an answer whose JSON body is "{"server_time":T," followed by `rest`
 * (the other members and the closing brace).
 */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *rest)
{
    mq__buf b = {0};
    mq__buf_printf(&b, "{\"server_time\":%" PRId64 ",", mq_platform_time_ms());
    if (mq__buf_puts(&b, rest) != 0) {
        mq__buf_free(&b);
        return MHD_NO;
    }
    struct MHD_Response *resp;
    int gz = 0;
    if (accepts_gzip(conn) && b.len > 0) {
        unsigned char *z = NULL;
        size_t zlen = 0;
        if (mq__gzip(b.data, b.len, &z, &zlen, NULL) == 0) {
            mq__buf_free(&b);
            resp = MHD_create_response_from_buffer(zlen, z, MHD_RESPMEM_MUST_FREE);
            gz = 1;
        } else {
            resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
        }
    } else {
        resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"minqing\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                                   const char *code, const char *message)
{
    mq__buf b = {0};
    mq__buf_puts(&b, "\"error\":{\"code\":");
    mq__buf_json_string(&b, code);
    mq__buf_puts(&b, ",\"message\":");
    mq__buf_json_string(&b, message);
    mq__buf_puts(&b, "}}");
    enum MHD_Result r = reply(conn, status, b.data ? b.data : "}");
    mq__buf_free(&b);
    return r;
}

/* ---- /v1/session ------------------------------------------------------- */

static enum MHD_Result do_session(struct MHD_Connection *conn, const mq_device *dev)
{
    mq__buf b = {0};
    mq__buf_puts(&b, "\"device\":");
    mq__buf_json_string(&b, dev->name);
    mq__buf_puts(&b, ",\"areas\":[");
    for (size_t i = 0; i < dev->nareas; i++) {
        if (i)
            mq__buf_puts(&b, ",");
        mq__buf_json_string(&b, dev->areas[i]);
    }
    mq__buf_puts(&b, "]");
    if (dev->cadre[0]) {
        mq__buf_puts(&b, ",\"cadre\":");
        mq__buf_json_string(&b, dev->cadre);
    }
    if (dev->site[0]) {
        mq__buf_puts(&b, ",\"site\":");
        mq__buf_json_string(&b, dev->site);
    }
    mq__buf_printf(&b,
                   ",\"protocol\":%d,\"max_batch\":%d,\"max_body\":%zu,"
                   "\"max_inflated\":%zu}",
                   MQ_PROTO_VERSION, MQ_PROTO_MAX_BATCH, MQ_PROTO_MAX_BODY,
                   MQ_PROTO_MAX_INFLATED);
    enum MHD_Result r = b.data ? reply(conn, MHD_HTTP_OK, b.data) : MHD_NO;
    mq__buf_free(&b);
    return r;
}

/* ---- /v1/push ---------------------------------------------------------- */

/* Inflates the request body per its Content-Encoding; answers and returns
 * NULL on failure. */
static char *request_body(struct MHD_Connection *conn, request *rq, enum MHD_Result *r)
{
    const char *ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_ENCODING);
    char msg[MQ_ERROR_MESSAGE_MAX + 64];
    if (rq->too_large) {
        snprintf(msg, sizeof msg, "request body exceeds %zu bytes", MQ_PROTO_MAX_BODY);
        *r = reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
        return NULL;
    }
    if (ce != NULL && strcmp(ce, "gzip") == 0) {
        char *plain = NULL;
        size_t n = 0;
        mq_error e;
        int rc = mq__gunzip(rq->body.data, rq->body.len, MQ_PROTO_MAX_INFLATED, &plain,
                            &n, &e);
        if (rc == MQ_EREFUSED) {
            *r = reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", e.message);
            return NULL;
        }
        if (rc != 0) {
            *r = reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_body", e.message);
            return NULL;
        }
        return plain;
    }
    if (ce != NULL && strcmp(ce, "identity") != 0) {
        snprintf(msg, sizeof msg,
                 "Content-Encoding \"%.100s\" is not supported; use gzip", ce);
        *r = reply_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "bad_encoding", msg);
        return NULL;
    }
    char *plain = malloc(rq->body.len + 1);
    if (plain == NULL) {
        *r = MHD_NO;
        return NULL;
    }
    if (rq->body.len)
        memcpy(plain, rq->body.data, rq->body.len);
    plain[rq->body.len] = '\0';
    return plain;
}

static int is_refusal(int rc)
{
    return rc == MQ_EINVAL || rc == MQ_EREFUSED || rc == MQ_ENOTFOUND;
}

static enum MHD_Result do_push(server *sv, struct MHD_Connection *conn, mq_store *st,
                               const mq_device *dev, request *rq)
{
    enum MHD_Result r = MHD_NO;
    char *plain = request_body(conn, rq, &r);
    if (plain == NULL)
        return r;
    char sha[65];
    mq_error e;
    mq_error_clear(&e);
    mq__sha256_hex(plain, strlen(plain), sha, NULL);
    cJSON *j = cJSON_Parse(plain);
    free(plain);
    cJSON *batch = cJSON_GetObjectItemCaseSensitive(j, "batch");
    cJSON *site = cJSON_GetObjectItemCaseSensitive(j, "site");
    cJSON *changes = cJSON_GetObjectItemCaseSensitive(j, "changes");
    if (!cJSON_IsObject(j) || !cJSON_IsString(batch) || !cJSON_IsArray(changes) ||
        !cJSON_IsString(site)) {
        cJSON_Delete(j);
        return reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_body",
            "a push body is {\"batch\":ID,\"site\":SITE,\"changes\":[...]}");
    }
    if (!mq_valid_name(batch->valuestring, MQ_PROTO_BATCH_ID_MAX)) {
        cJSON_Delete(j);
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_batch",
                           "batch id: 1 to 64 characters of [A-Za-z0-9_.-]");
    }
    int n = cJSON_GetArraySize(changes);
    if (n > MQ_PROTO_MAX_BATCH) {
        char msg[128];
        snprintf(msg, sizeof msg, "%d changes in one batch; at most %d", n,
                 MQ_PROTO_MAX_BATCH);
        cJSON_Delete(j);
        return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_many", msg);
    }
    if (sv->delay_ms)
        mq_platform_sleep_ms(sv->delay_ms);

    pthread_mutex_lock(&sv->write_lock);
    char *known = NULL, known_sha[65] = "";
    int rc = mq_device_claim_site(st, dev, site->valuestring, &e);
    if (rc == MQ_EREFUSED) {
        pthread_mutex_unlock(&sv->write_lock);
        cJSON_Delete(j);
        return reply_error(conn, MHD_HTTP_CONFLICT, "site_taken", e.message);
    }
    if (rc == 0)
        rc = mq_batch_find(st, dev->name, batch->valuestring, &known, known_sha, &e);
    if (rc == 0 && known != NULL) {
        pthread_mutex_unlock(&sv->write_lock);
        cJSON_Delete(j);
        if (strcmp(known_sha, sha) != 0) {
            free(known);
            return reply_error(conn, MHD_HTTP_CONFLICT, "batch_reused",
                               "this batch id was used before for other changes");
        }
        mq__buf b = {0};
        mq__buf_puts(&b, "\"replayed\":true,");
        mq__buf_puts(&b, known);
        free(known);
        r = reply(conn, MHD_HTTP_OK, b.data);
        mq__buf_free(&b);
        return r;
    }

    char source[80];
    snprintf(source, sizeof source, "device:%s", dev->name);
    mq__buf out = {0};
    size_t applied = 0, dup = 0, rej = 0;
    mq__buf_puts(&out, "\"batch\":");
    mq__buf_json_string(&out, batch->valuestring);
    /* Answered by exception: counts, and only the refused changes by their
     * index, since a township push is 47,000 changes that all apply. */
    mq__buf_puts(&out, ",\"refused\":[");
    if (rc == 0)
        rc = mq_store_begin(st, &e);
    cJSON *ch;
    int i = -1;
    cJSON_ArrayForEach(ch, changes)
    {
        i++;
        if (rc != 0)
            break;
        char reason[MQ_ERROR_MESSAGE_MAX + 80] = "";
        cJSON *v = cJSON_GetObjectItemCaseSensitive(ch, "v");
        mq_apply_result res = MQ_REJECTED;
        mq_error ce;
        mq_error_clear(&ce);
        char *text = NULL;
        if (!cJSON_IsObject(ch)) {
            snprintf(reason, sizeof reason, "invalid: a change is a JSON object");
        } else if ((text = cJSON_PrintUnformatted(ch)) == NULL) {
            rc = mq__sync_fail(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                               "out of memory");
            break;
        } else {
            int arc =
                mq_store_apply_scoped(st, text, source, (const char *const *)dev->areas,
                                      dev->nareas, &res, &ce);
            if (arc != 0 && !is_refusal(arc)) {
                rc = arc;
                e = ce;
            } else if (arc != 0 || res == MQ_REJECTED) {
                snprintf(reason, sizeof reason, "invalid: %s", ce.message);
            } else if (res == MQ_OUT_OF_SCOPE) {
                snprintf(reason, sizeof reason,
                         "out of scope: the record is outside the areas of device %s",
                         dev->name);
            }
        }
        if (rc == 0 && reason[0]) {
            mq_error re;
            /* Kept on the server too, for the county to review; a change that
             * is not even an object cannot be kept and is only answered. */
            if (text != NULL)
                mq_store_reject(st, text, source, reason, &re);
        }
        free(text);
        if (rc != 0)
            break;
        if (reason[0]) {
            if (rej++)
                mq__buf_puts(&out, ",");
            mq__buf_printf(&out, "{\"i\":%d,\"v\":", i);
            mq__buf_json_string(&out, cJSON_IsString(v) ? v->valuestring : "");
            mq__buf_puts(&out, ",\"reason\":");
            mq__buf_json_string(&out, reason);
            mq__buf_puts(&out, "}");
        } else if (res == MQ_APPLIED) {
            applied++;
        } else {
            dup++;
        }
    }
    if (mq__buf_printf(&out, "],\"applied\":%zu,\"duplicate\":%zu,\"rejected\":%zu}",
                       applied, dup, rej) != 0 &&
        rc == 0)
        rc = mq__sync_fail(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mq_batch_save(st, dev->name, batch->valuestring, sha, out.data, &e);
    if (rc == 0)
        rc = mq_device_touch(st, dev->name, (size_t)n, 0, NULL, &e);
    if (rc == 0)
        rc = mq_store_commit(st, &e);
    if (rc != 0)
        mq_store_rollback(st);
    pthread_mutex_unlock(&sv->write_lock);
    if (rc == 0)
        fprintf(stderr,
                "minqing-server: %s pushed batch %s: %zu applied, %zu duplicate, "
                "%zu refused\n",
                dev->name, batch->valuestring, applied, dup, rej);
    cJSON_Delete(j);
    if (rc != 0) {
        fprintf(stderr, "minqing-server: push from %s failed: %s\n", dev->name,
                e.message);
        mq__buf_free(&out);
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           e.message);
    }
    mq__buf b = {0};
    mq__buf_puts(&b, "\"replayed\":false,");
    mq__buf_add(&b, out.data, out.len);
    mq__buf_free(&out);
    r = reply(conn, MHD_HTTP_OK, b.data);
    mq__buf_free(&b);
    return r;
}

/* ---- /v1/pull ---------------------------------------------------------- */

typedef struct page {
    mq__buf body;
    size_t n;
    int oom;
} page;

static int page_add(void *ctx, const char *json)
{
    page *p = ctx;
    if ((p->n > 0 && mq__buf_add(&p->body, ",", 1) != 0) ||
        mq__buf_puts(&p->body, json) != 0) {
        p->oom = 1;
        return 1;
    }
    p->n++;
    return 0;
}

/* Reads "EPOCH.TAG.SEQ"; a cursor of another file or scope restarts at 0. */
static int parse_cursor(const server *sv, const mq_device *dev, const char *c,
                        int64_t *since)
{
    *since = 0;
    if (c == NULL || *c == '\0')
        return 0;
    const char *d1 = strchr(c, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || d2[1] == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(d2 + 1, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    if ((size_t)(d1 - c) != strlen(sv->epoch) ||
        strncmp(c, sv->epoch, (size_t)(d1 - c)) != 0)
        return 0;
    if ((size_t)(d2 - d1 - 1) != strlen(dev->scope_tag) ||
        strncmp(d1 + 1, dev->scope_tag, (size_t)(d2 - d1 - 1)) != 0)
        return 0;
    *since = v;
    return 0;
}

static enum MHD_Result do_pull(server *sv, struct MHD_Connection *conn, mq_store *st,
                               const mq_device *dev)
{
    const char *cur = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
    const char *lim = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    size_t limit = MQ_PROTO_DEFAULT_BATCH;
    int64_t since = 0;
    if (lim != NULL) {
        char *end = NULL;
        long v = strtol(lim, &end, 10);
        if (*lim == '\0' || *end != '\0' || v < 1 || v > MQ_PROTO_MAX_BATCH)
            return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_limit",
                               "limit is a whole number from 1 to 5000");
        limit = (size_t)v;
    }
    if (parse_cursor(sv, dev, cur, &since) != 0)
        return reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_cursor",
            "cursor is the opaque string a previous pull returned, or empty");
    if (sv->delay_ms)
        mq_platform_sleep_ms(sv->delay_ms);

    char source[80];
    snprintf(source, sizeof source, "device:%s", dev->name);
    mq_error e;
    page p;
    int64_t next = since;
    int rc;
    for (;;) {
        memset(&p, 0, sizeof p);
        mq__buf_puts(&p.body, "");
        mq_changes_query q = {since, limit, (const char *const *)dev->areas, dev->nareas,
                              source};
        next = since;
        rc = mq_store_changes(st, &q, page_add, &p, &next, &e);
        if (rc == 0 && p.oom)
            rc = mq__sync_fail(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                               "out of memory");
        /* Keep the page's body under the soft bound, whatever the changes hold. */
        if (rc == 0 && p.body.len > MQ_PROTO_SOFT_INFLATED && limit > 1) {
            mq__buf_free(&p.body);
            limit /= 2;
            continue;
        }
        break;
    }
    if (rc != 0) {
        mq__buf_free(&p.body);
        fprintf(stderr, "minqing-server: pull for %s failed: %s\n", dev->name, e.message);
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           e.message);
    }
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s.%s.%" PRId64, sv->epoch, dev->scope_tag, next);
    mq__buf b = {0};
    mq__buf_puts(&b, "\"changes\":[");
    mq__buf_add(&b, p.body.data, p.body.len);
    mq__buf_free(&p.body);
    mq__buf_puts(&b, "],\"cursor\":");
    mq__buf_json_string(&b, cursor);
    if (mq__buf_printf(&b, ",\"count\":%zu,\"more\":%s}", p.n,
                       p.n == limit ? "true" : "false") != 0) {
        mq__buf_free(&b);
        return MHD_NO;
    }
    pthread_mutex_lock(&sv->write_lock);
    if (mq_device_touch(st, dev->name, 0, p.n, cursor, &e) != 0)
        fprintf(stderr, "minqing-server: %s\n", e.message);
    pthread_mutex_unlock(&sv->write_lock);
    enum MHD_Result r = reply(conn, MHD_HTTP_OK, b.data);
    mq__buf_free(&b);
    return r;
}

/* ---- routing ----------------------------------------------------------- */

static enum MHD_Result route(server *sv, struct MHD_Connection *conn, const char *url,
                             const char *method, request *rq)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    enum { HEALTH, SESSION, PUSH, PULL } ep;

    if (strcmp(url, "/v1/health") == 0)
        ep = HEALTH;
    else if (strcmp(url, "/v1/session") == 0)
        ep = SESSION;
    else if (strcmp(url, "/v1/push") == 0)
        ep = PUSH;
    else if (strcmp(url, "/v1/pull") == 0)
        ep = PULL;
    else
        return reply_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint");
    if ((ep == PUSH && !post) || (ep != PUSH && !get))
        return reply_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "bad_method",
                           ep == PUSH ? "use POST" : "use GET");
    if (ep == HEALTH) {
        char rest[96];
        snprintf(rest, sizeof rest, "\"status\":\"ok\",\"protocol\":%d}",
                 MQ_PROTO_VERSION);
        return reply(conn, MHD_HTTP_OK, rest);
    }

    /* Invariant 1: the token, against the file, on every request. */
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return reply_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                           "send the device token as Authorization: Bearer TOKEN");
    size_t slot;
    mq_store *st = acquire(sv, &slot);
    mq_device dev;
    mq_error e;
    enum MHD_Result r;
    int rc = mq_device_auth(st, auth + 7, &dev, &e);
    if (rc == MQ_EAUTH) {
        r = reply_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized", e.message);
    } else if (rc != 0) {
        r = reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", e.message);
    } else {
        if (ep == SESSION)
            r = do_session(conn, &dev);
        else if (ep == PUSH)
            r = do_push(sv, conn, st, &dev, rq);
        else
            r = do_pull(sv, conn, st, &dev);
        mq_device_clear(&dev);
    }
    release(sv, slot);
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    server *sv = cls;
    request *rq = *con_cls;
    (void)version;

    if (rq == NULL) {
        rq = calloc(1, sizeof *rq);
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > MQ_PROTO_MAX_BODY) {
            char msg[96];
            snprintf(msg, sizeof msg, "request body exceeds %zu bytes",
                     MQ_PROTO_MAX_BODY);
            return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!rq->too_large && rq->body.len + *upload_size > MQ_PROTO_MAX_BODY) {
            rq->too_large = 1;
            mq__buf_free(&rq->body);
        }
        if (!rq->too_large && mq__buf_add(&rq->body, upload_data, *upload_size) != 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return route(sv, conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *rq = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (rq != NULL) {
        mq__buf_free(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- serving ----------------------------------------------------------- */

static char *read_file(const char *path, mq_error *err)
{
    FILE *f = fopen(path, "rb");
    mq__buf b = {0};
    char chunk[4096];
    size_t n;
    if (f == NULL) {
        mq__sync_fail(err, MQ_EIO, MQ_DOMAIN_OS, errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mq__buf_add(&b, chunk, n);
    fclose(f);
    if (b.data == NULL)
        mq__sync_fail(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL, "%s is empty", path);
    return b.data;
}

int mq_server_serve(const mq_server_opts *o, mq_error *err)
{
    server sv;
    struct addrinfo hints, *ai = NULL;
    char host[256], port[16];
    char *cert = NULL, *key = NULL;
    struct MHD_Daemon *d = NULL;
    int rc = 0;

    memset(&sv, 0, sizeof sv);
    const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0' ||
        (size_t)(colon - listen) >= sizeof host || strlen(colon + 1) >= sizeof port)
        return mq__sync_fail(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                             "--listen \"%s\": give ADDR:PORT, e.g. 0.0.0.0:8080",
                             listen);
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0)
        return mq__sync_fail(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                             "--listen \"%s\": %s", listen, gai_strerror(g));

    if ((o->tls_cert == NULL) != (o->tls_key == NULL)) {
        rc = mq__sync_fail(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                           "give both --tls-cert and --tls-key, or neither");
        goto out;
    }
    if (o->tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            rc = mq__sync_fail(err, MQ_ESTATE, MQ_DOMAIN_MINQING, MQ_ESTATE,
                               "this libmicrohttpd was built without TLS");
            goto out;
        }
        if ((cert = read_file(o->tls_cert, err)) == NULL ||
            (key = read_file(o->tls_key, err)) == NULL) {
            rc = err ? err->rc : MQ_EIO;
            goto out;
        }
    }

    sv.nstores = o->threads ? o->threads : 4;
    sv.delay_ms = o->delay_ms;
    sv.stores = calloc(sv.nstores, sizeof(mq_store *));
    sv.busy = calloc(sv.nstores, sizeof *sv.busy);
    if (sv.stores == NULL || sv.busy == NULL) {
        rc = mq__sync_fail(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_init(&sv.pool_lock, NULL);
    pthread_cond_init(&sv.pool_cond, NULL);
    pthread_mutex_init(&sv.write_lock, NULL);
    for (size_t i = 0; i < sv.nstores; i++)
        if ((rc = mq_server_open(&sv.stores[i], o->db_path, err)) != 0)
            goto out;
    if ((rc = mq_server_epoch(sv.stores[0], sv.epoch, err)) != 0)
        goto out;

    /* Worker threads inherit this mask: only the main thread takes signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cert != NULL)
        d = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, NULL, NULL, on_request, &sv, MHD_OPTION_SOCK_ADDR,
            ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)sv.nstores,
            MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, &sv, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY,
            key, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &sv, MHD_OPTION_SOCK_ADDR,
                             ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE,
                             (unsigned)sv.nstores, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, &sv,
                             MHD_OPTION_END);
    if (d == NULL) {
        rc = mq__sync_fail(err, MQ_EIO, MQ_DOMAIN_OS, errno, "cannot listen on %s: %s",
                           listen,
                           errno ? strerror(errno) : "libmicrohttpd refused to start");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : 0;
    int v6 = ai->ai_family == AF_INET6;
    printf("minqing-server: listening on %s://%s%s%s:%u (%zu threads, %s)\n",
           cert ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", bound, sv.nstores,
           o->db_path);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    while (sig == SIGPIPE)
        sigwait(&sigs, &sig);
    fprintf(stderr, "minqing-server: stopping (signal %d)\n", sig);
    MHD_stop_daemon(d);

out:
    for (size_t i = 0; sv.stores && i < sv.nstores; i++)
        mq_store_close(sv.stores[i]);
    free(sv.stores);
    free(sv.busy);
    free(cert);
    free(key);
    if (ai)
        freeaddrinfo(ai);
    return rc;
}
