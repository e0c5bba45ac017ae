/*
 * sync/client/client.c - the sync client: one mq_sync_run() asks the server
 * for the device's session and the time, pushes the unsent local changes in
 * bounded batches, then pulls the new changes of the device's areas in
 * bounded pages, all over one libcurl handle so that the connection (and its
 * TLS session) is reused across requests.
 *
 * Invariants that make an interrupted sync safe to rerun:
 *   1. sync.push.cursor moves past a batch only in the transaction that also
 *      keeps that batch's refused changes (mq_store_reject), after the server
 *      has answered for the whole batch.
 *   2. A batch id is written (sync.push.batch) before the batch is first
 *      sent, and reused for the same cursor range until the batch is
 *      answered, so the server recognises a resent batch.  The next batch
 *      is made while the current one is on the wire (it only reads the
 *      store) and becomes the pending one in the commit of invariant 1.
 *   3. sync.pull.cursor moves in the transaction that applies the page it
 *      ends, so a page is applied entirely or not at all.
 *   4. Pulled changes are applied with source "server", and the push leaves
 *      out that source: nothing pulled is sent back.
 *   5. A change is parsed once on its way in (with its page, then handed to
 *      mq_store_apply_json()) and never on its way out (the store's text is
 *      spliced into the batch as raw JSON).
 *
 * Retries: a request that fails transiently (connection refused or reset, a
 * time-out, HTTP 408/429/5xx, a body truncated or not parseable) is sent
 * again after backoff_ms * 2^n, with "equal jitter" (half fixed, half
 * random), capped at 10 s a wait and at retry_budget_ms in total (10 s by
 * default, so that a server that is down is said to be so within seconds;
 * the user may wait longer).  The first failure says so at once, and each
 * retry says how long is left.
 *
 * A batch is resent as the same bytes under the same id: the server knows a
 * batch by its id and the SHA-256 of its body (docs/PROTOCOL.md 3.3), so the
 * hash is kept with the pending id, and a body that would print otherwise
 * (the store's text of a change changed between two syncs) gets a new id.
 */
#include "minqing/sync.h"
#include "minqing/version.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "platform.h"
#include "proto.h"

#define SOURCE_SERVER     "server"
#define MAX_WAIT_MS       10000u
#define DEFAULT_BUDGET_MS 10000u
/* The shortest wait worth a last attempt at the end of the budget. */
#define MIN_LAST_WAIT_MS 250u

typedef struct client {
    mq_store *store;
    CURL *curl;
    struct curl_slist *headers;
    char *base; /* URL without trailing '/' */
    const char *token;
    const char *cacert;
    size_t batch;
    unsigned budget_ms, backoff_ms, timeout_ms;
    void (*notify)(void *ctx, const char *line);
    void *ctx;
    mq_sync_report *rep;
    size_t max_batch; /* the server's limit, from the session */
    char cadre[65];   /* the cadre the device is enrolled for, "" if none */
    char code[32];    /* the error code of the last refused request, or "" */
} client;

/* One HTTP exchange's raw outcome. */
typedef struct exchange {
    long status;
    mq__buf raw;
    int gzipped;
    int too_large;
} exchange;

static void say(client *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void say(client *c, const char *fmt, ...)
{
    char line[600];
    va_list ap;
    if (c->notify == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->notify(c->ctx, line);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    exchange *x = ctx;
    size_t len = size * n;
    if (x->raw.len + len > MQ_PROTO_MAX_BODY) {
        x->too_large = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    if (mq__buf_add(&x->raw, p, len) != 0)
        return 0; /* x->raw.failed: request() reports it */
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    exchange *x = ctx;
    size_t len = size * n;
    static const char name[] = "content-encoding:";
    if (len > sizeof name - 1) {
        int match = 1;
        for (size_t i = 0; i < sizeof name - 1; i++) {
            char ch = p[i];
            if (ch >= 'A' && ch <= 'Z')
                ch = (char)(ch - 'A' + 'a');
            if (ch != name[i]) {
                match = 0;
                break;
            }
        }
        if (match) {
            for (size_t i = sizeof name - 1; i + 4 <= len; i++)
                if (memcmp(p + i, "gzip", 4) == 0)
                    x->gzipped = 1;
        }
    }
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) /* a new response (after a 100) */
        x->gzipped = 0;
    return len;
}

static int transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
#if LIBCURL_VERSION_NUM >= 0x074400
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
#endif
        return 1;
    default:
        return 0;
    }
}

/* The "error" object of an error body as "code: message", or the status;
 * the code alone in `code` ("" when there is none). */
static void error_text(const exchange *x, const char *body, char *out, size_t n,
                       char code_out[32])
{
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    code_out[0] = '\0';
    if (cJSON_IsString(code) && cJSON_IsString(msg)) {
        snprintf(out, n, "%s: %s", code->valuestring, msg->valuestring);
        if (strlen(code->valuestring) < 32)
            memcpy(code_out, code->valuestring, strlen(code->valuestring) + 1);
    } else {
        snprintf(out, n, "HTTP status %ld", x->status);
    }
    cJSON_Delete(j);
}

/*
 * Sends one request and returns its parsed JSON body (the caller's) on a 2xx
 * answer.  `body` (may be NULL for GET) is the inflated JSON to send, `len`
 * bytes of it.  `flaws` (may be NULL) receives, from the answer's text, what
 * cJSON would not hold as sent in its "changes" array (mq__flaws_find();
 * the caller frees it when the call returns 0).
 */
static int request_gz(client *c, const char *method, const char *path, unsigned char *gz,
                      size_t gzlen, cJSON **out, mq__flaws *flaws, int64_t *t0_out,
                      int64_t *t1_out, mq_error *err);

static int request(client *c, const char *method, const char *path, const char *body,
                   size_t len, cJSON **out, mq__flaws *flaws, int64_t *t0_out,
                   int64_t *t1_out, mq_error *err)
{
    unsigned char *gz = NULL;
    size_t gzlen = 0;

    *out = NULL;
    if (body != NULL) {
        int rc = mq__gzip(body, len, &gz, &gzlen, err);
        if (rc != 0)
            return rc;
    }
    return request_gz(c, method, path, gz, gzlen, out, flaws, t0_out, t1_out, err);
}

/* request() for a body gzipped already: `gz` (NULL for none) is taken and
 * freed. */
static int request_gz(client *c, const char *method, const char *path, unsigned char *gz,
                      size_t gzlen, cJSON **out, mq__flaws *flaws, int64_t *t0_out,
                      int64_t *t1_out, mq_error *err)
{
    const char *body = (const char *)gz; /* whether there is one */
    char url[2048];

    *out = NULL;
    c->code[0] = '\0';
    if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url) {
        free(gz);
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "server URL is too long");
    }
    if (body != NULL && gzlen > MQ_PROTO_MAX_BODY) {
        free(gz);
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "request body of %zu bytes exceeds the limit", gzlen);
    }

    int64_t start = mq_platform_time_ms();
    unsigned delay = c->backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        exchange x;
        memset(&x, 0, sizeof x);
        char why[MQ_ERROR_MESSAGE_MAX];
        int transient = 0;

        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
        if (body != NULL) {
            curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)gz);
            curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)gzlen);
        } else {
            curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        }
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &x);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &x);

        int64_t t0 = mq_platform_time_ms();
        CURLcode cc = curl_easy_perform(c->curl);
        int64_t t1 = mq_platform_time_ms();
        if (body != NULL)
            c->rep->bytes_sent += gzlen;
        c->rep->bytes_received += x.raw.len;

        char *plain = NULL;
        size_t plain_len = 0;
        int rc = 0;
        if (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR) {
            /* A server may answer before it has read the whole body (a 413,
             * a 401) and close: the answer, when it came, is what counts. */
            long status = 0;
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
            if (status >= 400 && status < 500 && status != 408 && status != 429)
                cc = CURLE_OK;
        }
        if (cc != CURLE_OK) {
            if (x.too_large) {
                rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                  "%s %s: response exceeds %zu bytes", method, path,
                                  MQ_PROTO_MAX_BODY);
            } else if (x.raw.failed) {
                char what[600];
                snprintf(what, sizeof what, "the answer of %s %s", method, path);
                rc = mq__buf_check(&x.raw, what, err);
            } else if (transient_curl(cc)) {
                transient = 1;
                snprintf(why, sizeof why, "%s", curl_easy_strerror(cc));
                mq_error_set(err, MQ_ENET, MQ_DOMAIN_CURL, (int)cc, "%s %s: %s", method,
                             path, curl_easy_strerror(cc));
            } else {
                /* TLS verification and the like: retrying cannot help. */
                rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_CURL, (int)cc, "%s%s: %s",
                                  c->base, path, curl_easy_strerror(cc));
            }
        } else {
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &x.status);
            if (x.gzipped && x.raw.len > 0) {
                mq_error zerr;
                int zrc = mq__gunzip(x.raw.data, x.raw.len, MQ_PROTO_MAX_INFLATED, &plain,
                                     &plain_len, &zerr);
                int refusal = x.status >= 400 && x.status < 500 && x.status != 408 &&
                              x.status != 429;
                if (zrc == MQ_EINVAL && refusal) {
                    plain = NULL; /* a refusal cut short: its status says enough */
                } else if (zrc == MQ_EINVAL) {
                    transient = 1;
                    snprintf(why, sizeof why, "%s", zerr.message);
                    mq_error_set(err, MQ_ENET, MQ_DOMAIN_MINQING, MQ_ENET, "%s %s: %s",
                                 method, path, zerr.message);
                } else if (zrc != 0) {
                    /* A body that inflates past the bound (a gzip bomb) is a
                     * failure of the server, not a refusal of our changes. */
                    rc = mq_error_set(err, zrc == MQ_EREFUSED ? MQ_EINVAL : zrc,
                                      MQ_DOMAIN_MINQING, zrc, "%s %s: %s", method, path,
                                      zerr.message);
                }
            } else if (x.raw.data != NULL) {
                plain = x.raw.data;
                plain_len = x.raw.len;
                x.raw.data = NULL;
            }
            (void)plain_len;
            if (rc == 0 && !transient) {
                if (x.status >= 200 && x.status < 300) {
                    cJSON *j = plain ? cJSON_Parse(plain) : NULL;
                    if (j == NULL || !cJSON_IsObject(j)) {
                        cJSON_Delete(j);
                        transient = 1;
                        snprintf(why, sizeof why, "response body is not complete JSON");
                        mq_error_set(err, MQ_ENET, MQ_DOMAIN_MINQING, MQ_ENET,
                                     "%s %s: %s", method, path, why);
                    } else if (flaws != NULL &&
                               mq__flaws_find(flaws, plain, "changes",
                                              (size_t)cJSON_GetArraySize(
                                                  cJSON_GetObjectItemCaseSensitive(
                                                      j, "changes"))) != 0) {
                        cJSON_Delete(j);
                        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                          "out of memory");
                    } else {
                        *out = j;
                    }
                } else {
                    char text[400];
                    error_text(&x, plain, text, sizeof text, c->code);
                    if (x.status >= 500 || x.status == 408 || x.status == 429) {
                        transient = 1;
                        snprintf(why, sizeof why, "HTTP %ld (%s)", x.status, text);
                        mq_error_set(err, MQ_ENET, MQ_DOMAIN_HTTP, (int)x.status,
                                     "%s %s: HTTP %ld: %s", method, path, x.status, text);
                    } else {
                        int code = (x.status == 401 || x.status == 403) ? MQ_EAUTH
                                   : x.status == 404                    ? MQ_ENOTFOUND
                                                                        : MQ_EINVAL;
                        rc = mq_error_set(err, code, MQ_DOMAIN_HTTP, (int)x.status,
                                          "server refused %s %s: HTTP %ld: %s", method,
                                          path, x.status, text);
                    }
                }
            }
        }
        free(plain);
        mq__buf_free(&x.raw);
        if (*out != NULL) {
            if (t0_out)
                *t0_out = t0;
            if (t1_out)
                *t1_out = t1;
            free(gz);
            return 0;
        }
        if (!transient) {
            free(gz);
            return rc != 0 ? rc : MQ_EIO;
        }
        /* Transient: wait and try again while the budget lasts. */
        unsigned capped = delay > MAX_WAIT_MS ? MAX_WAIT_MS : delay;
        unsigned r = 0;
        mq_platform_random(&r, sizeof r);
        unsigned wait = capped / 2 + r % (capped / 2 + 1); /* in [capped/2, capped] */
        int64_t spent = mq_platform_time_ms() - start;
        /* A wait that would overrun the budget is cut to its end, for one
         * last attempt there: --wait N tries for about N seconds, not for
         * whatever the random backoff happens to leave of them. */
        if (spent >= 0 && (uint64_t)spent + wait > c->budget_ms &&
            (uint64_t)spent + MIN_LAST_WAIT_MS <= c->budget_ms)
            wait = (unsigned)(c->budget_ms - (uint64_t)spent);
        if (spent < 0 || (uint64_t)spent + wait > c->budget_ms) {
            free(gz);
            /* The last attempt's error, with how long we tried. */
            mq_error last = *err;
            return mq_error_set(err, MQ_ENET, last.domain, last.code,
                                "%s (gave up after %u attempts in %.1f s)", last.message,
                                attempt + 1, (double)spent / 1000.0);
        }
        if (attempt == 0)
            say(c,
                "cannot reach the server (%s %s: %s); trying again for up to %.0f s "
                "(--wait SECONDS to wait longer)",
                method, path, why, c->budget_ms / 1000.0);
        else
            say(c, "still trying %s %s (attempt %u, %.0f s left): %s", method, path,
                attempt + 2, (c->budget_ms - (double)spent) / 1000.0, why);
        c->rep->retries++;
        mq_platform_sleep_ms(wait);
        delay = delay > MAX_WAIT_MS ? delay : delay * 2;
    }
}

/* ---- settings ---------------------------------------------------------- */

static int setting_i64(mq_store *s, const char *key, int64_t *out, mq_error *err)
{
    char *v = NULL;
    int rc = mq_store_setting_get(s, key, &v, err);
    *out = 0;
    if (rc == 0 && v != NULL)
        *out = strtoll(v, NULL, 10);
    mq_free(v);
    return rc;
}

static int setting_set_i64(mq_store *s, const char *key, int64_t v, mq_error *err)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRId64, v);
    return mq_store_setting_set(s, key, text, err);
}

/* ---- session and clock ------------------------------------------------- */

static int session(client *c, mq_error *err)
{
    cJSON *j = NULL;
    int64_t t0 = 0, t1 = 0;
    int rc = request(c, "GET", "/v1/session", NULL, 0, &j, NULL, &t0, &t1, err);
    if (rc != 0)
        return rc;
    cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "server_time");
    cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device");
    cJSON *lim = cJSON_GetObjectItemCaseSensitive(j, "max_batch");
    if (!cJSON_IsNumber(st)) {
        cJSON_Delete(j);
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "GET /v1/session: no server_time in the answer");
    }
    if (cJSON_IsNumber(lim) && lim->valuedouble >= 1)
        c->max_batch = (size_t)lim->valuedouble;
    cJSON *cadre = cJSON_GetObjectItemCaseSensitive(j, "cadre");
    if (cJSON_IsString(cadre) && strlen(cadre->valuestring) < sizeof c->cadre)
        snprintf(c->cadre, sizeof c->cadre, "%s", cadre->valuestring);
    int64_t server = (int64_t)st->valuedouble;
    /* The server read its clock somewhere between t0 and t1. */
    int64_t skew = server - (t0 + (t1 - t0) / 2);
    c->rep->clock_skew_ms = skew;
    int64_t want = (skew > 2000 || skew < -2000) ? skew : 0;
    int64_t have = mq_store_clock_offset(c->store);
    if (want - have > 1000 || have - want > 1000) {
        rc = mq_store_set_clock_offset(c->store, want, err);
        if (rc != 0) {
            cJSON_Delete(j);
            return rc;
        }
    }
    if (skew > MQ_PROTO_CLOCK_WARN_MS || skew < -MQ_PROTO_CLOCK_WARN_MS) {
        int64_t a =
            ((skew < 0 ? -skew : skew) + 30000) / 60000 * 60000; /* whole minutes */
        c->rep->clock_warning = 1;
        say(c,
            "warning: this device's clock is %" PRId64 " d %" PRId64 " h %" PRId64
            " min %s the server's; minqing now stamps its changes with the server's "
            "time, but please set the device's date and time right",
            a / 86400000, a / 3600000 % 24, a / 60000 % 60,
            skew < 0 ? "ahead of" : "behind");
    }
    say(c, "connected to %s as device %s", c->base,
        cJSON_IsString(dev) ? dev->valuestring : "?");
    cJSON_Delete(j);
    return 0;
}

/* ---- push -------------------------------------------------------------- */

/*
 * The changes of one batch, as the store hands them over: each is spliced
 * into the request as raw JSON, never parsed on this side.  `bytes` is about
 * what they take in the body.
 */
typedef struct collect {
    cJSON *changes; /* array of raw items */
    size_t n, bytes;
    int oom;
} collect;

static int collect_change(void *ctx, const char *json)
{
    collect *k = ctx;
    cJSON *raw = cJSON_CreateRaw(json);
    if (raw == NULL || !cJSON_AddItemToArray(k->changes, raw)) {
        cJSON_Delete(raw);
        k->oom = 1;
        return 1;
    }
    k->n++;
    k->bytes += strlen(json) + 1;
    return 0;
}

/*
 * The push request {"batch":ID,"site":SITE,"changes":[...]}, printed without
 * whitespace; NULL when out of memory.  `changes` is borrowed and left as it
 * was.  The same batch prints to the same bytes every time: the server knows
 * a resent batch by its id and the SHA-256 of its body.
 */
static char *push_body(const char *id, const char *site, cJSON *changes, size_t bytes)
{
    cJSON *req = cJSON_CreateObject();
    if (cJSON_AddStringToObject(req, "batch", id) == NULL ||
        cJSON_AddStringToObject(req, "site", site) == NULL ||
        !cJSON_AddItemReferenceToObject(req, "changes", changes)) {
        cJSON_Delete(req);
        return NULL;
    }
    char *text = cJSON_PrintBuffered(req, (int)(bytes + 256), 0);
    cJSON_Delete(req); /* a reference: `changes` stays whole */
    return text;
}

#ifndef NDEBUG
/*
 * Debug builds check invariants 1 and 2 after every answered batch: the
 * stored push cursor is the end of that batch, and the batch pending, if
 * any, is the next one, starting there.
 */
static void assert_push_state(client *c, int64_t next)
{
    int64_t stored = -1;
    char *pending = NULL;
    long long ps = -1, pn = -1;
    mq_error e;
    int rc = setting_i64(c->store, "sync.push.cursor", &stored, &e);
    assert(rc == 0 && stored == next);
    rc = mq_store_setting_get(c->store, "sync.push.batch", &pending, &e);
    assert(rc == 0 && (pending == NULL ||
                       (sscanf(pending, "%lld %lld", &ps, &pn) == 2 && ps == next)));
    (void)rc;
    (void)stored;
    (void)next;
    (void)ps;
    (void)pn;
    mq_free(pending);
}
#else
#define assert_push_state(c, next) ((void)0)
#endif

/*
 * A batch made ready to send: the changes after `since` (at most `limit`,
 * halved while their text is over the soft limit), where they end, and the
 * request body gzipped.  Making one reads the store but never writes it, so
 * the next batch is made on a thread of its own while the current one is
 * on the wire and the server merges it (the store is not used meanwhile):
 * the client's reading and gzip, a third of a push, leave the critical path.
 */
typedef struct batch {
    client *c;
    int64_t since, next;
    size_t limit;
    char id[80];       /* given, or "" for a new one */
    char sha[65];      /* of the body as printed (batch_body()) */
    char sent_sha[65]; /* of the body sent before under b->id; "" unknown */
    collect k;
    unsigned char *gz;
    size_t gzlen;
    int rc;
    mq_error err;
} batch;

static void batch_free(batch *b)
{
    cJSON_Delete(b->k.changes);
    free(b->gz);
    b->k.changes = NULL;
    b->gz = NULL;
}

/* Collects the changes of `b` (b->since, b->limit); b->k.n 0 when none. */
static int batch_collect(batch *b)
{
    for (;;) {
        collect k = {cJSON_CreateArray(), 0, 0, 0};
        mq_changes_query q = {b->since, b->limit, NULL, 0, SOURCE_SERVER};
        int rc;
        b->next = b->since;
        k.oom = k.changes == NULL;
        rc = k.oom ? 0
                   : mq_store_changes(b->c->store, &q, collect_change, &k, &b->next,
                                      &b->err);
        if (rc == 0 && k.oom)
            rc = mq_error_set(&b->err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                              "out of memory collecting changes to push");
        if (rc == 0 && k.n > 0 && k.bytes > MQ_PROTO_SOFT_INFLATED && b->limit > 1) {
            cJSON_Delete(k.changes);
            b->limit /= 2;
            continue;
        }
        b->k = k;
        return rc;
    }
}

/* Prints and gzips the body of collected batch `b`, under b->id or a new
 * id (then written into b->id). */
static int batch_body(batch *b)
{
    int rc = 0;
    if (b->id[0] == '\0') {
        char hex[33];
        if ((rc = mq__random_hex(hex, 16, &b->err)) != 0)
            return rc;
        snprintf(b->id, sizeof b->id, "%s", hex);
    }
    char *req = push_body(b->id, mq_store_site(b->c->store), b->k.changes, b->k.bytes);
    if (req == NULL)
        return mq_error_set(&b->err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "out of memory building a batch of %zu changes", b->k.n);
    rc = mq__sha256_hex(req, strlen(req), b->sha, &b->err);
    if (rc == 0)
        rc = mq__gzip(req, strlen(req), &b->gz, &b->gzlen, &b->err);
    cJSON_free(req);
    return rc;
}

/*
 * The batch pending for the range (b->since, b->next], if a sync cut short
 * left one: its id into b->id and the SHA-256 of its body, when kept, into
 * b->sent_sha.  b->id stays "" otherwise.
 */
static int batch_id(client *c, batch *b)
{
    char *pending = NULL;
    int rc = mq_store_setting_get(c->store, "sync.push.batch", &pending, &b->err);
    if (rc != 0 || pending == NULL)
        return rc;
    long long ps = -1, pn = -1;
    char pid[80] = "", psha[65] = "";
    int fields = sscanf(pending, "%lld %lld %64s %64s", &ps, &pn, pid, psha);
    mq_free(pending);
    if (fields >= 3 && ps == b->since && pn == b->next &&
        mq_valid_name(pid, MQ_PROTO_BATCH_ID_MAX)) {
        snprintf(b->id, sizeof b->id, "%s", pid);
        snprintf(b->sent_sha, sizeof b->sent_sha, "%s", fields == 4 ? psha : "");
    }
    return 0;
}

/* The next batch, made on its own thread. */
static int batch_make(void *arg)
{
    batch *b = arg;
    b->rc = batch_collect(b);
    if (b->rc == 0 && b->k.n > 0)
        b->rc = batch_body(b);
    return 0;
}

/* Records batch `b` as the one pending (invariant 2), with the SHA-256 of
 * its body, in the caller's transaction if one is open. */
static int batch_pending(client *c, const batch *b, mq_error *err)
{
    char text[200];
    snprintf(text, sizeof text, "%" PRId64 " %" PRId64 " %s %s", b->since, b->next, b->id,
             b->sha);
    return mq_store_setting_set(c->store, "sync.push.batch", text, err);
}

static int push(client *c, int *refused, mq_error *err)
{
    int64_t cursor = 0;
    int rc = setting_i64(c->store, "sync.push.cursor", &cursor, err);
    if (rc != 0)
        return rc;
    /* The first batch is made here: its id may be the one a sync cut short
     * left pending (invariant 2). */
    batch cur;
    memset(&cur, 0, sizeof cur);
    cur.c = c;
    cur.since = cursor;
    cur.limit = c->batch;
    rc = batch_collect(&cur);
    if (rc == 0 && cur.k.n > 0)
        rc = batch_id(c, &cur);
    if (rc == 0 && cur.k.n > 0)
        rc = batch_body(&cur);
    if (rc == 0 && cur.k.n > 0 && cur.sent_sha[0] != '\0' &&
        strcmp(cur.sha, cur.sent_sha) != 0) {
        /* A pending id from before hashes were kept is taken on trust. */
        say(c,
            "batch %s would not be resent as the same bytes: sending it as a new "
            "batch",
            cur.id);
        free(cur.gz);
        cur.gz = NULL;
        cur.id[0] = '\0';
        rc = batch_body(&cur);
    }
    if (rc == 0 && cur.k.n > 0)
        rc = batch_pending(c, &cur, &cur.err); /* before it is first sent */
    if (rc != 0) {
        *err = cur.err;
        batch_free(&cur);
        return rc;
    }
    for (;;) {
        if (cur.k.n == 0) {
            int64_t next = cur.next;
            batch_free(&cur);
            if (next > cursor)
                rc = setting_set_i64(c->store, "sync.push.cursor", next, err);
            return rc;
        }
        /* The next batch is made while this one is sent and merged. */
        batch nb;
        memset(&nb, 0, sizeof nb);
        nb.c = c;
        nb.since = cur.next;
        nb.limit = cur.limit;
        thrd_t maker;
        int threaded = thrd_create(&maker, batch_make, &nb) == thrd_success;
        cJSON *ans = NULL;
        unsigned char *gz = cur.gz;
        cur.gz = NULL; /* request_gz() takes it */
        rc =
            request_gz(c, "POST", "/v1/push", gz, cur.gzlen, &ans, NULL, NULL, NULL, err);
        if (threaded)
            thrd_join(maker, NULL);
        else
            batch_make(&nb); /* no thread: made after the answer, as before */
        collect k = cur.k;
        int64_t next = cur.next;
        if (rc != 0) {
            batch_free(&cur);
            batch_free(&nb);
            return rc;
        }
        if (nb.rc != 0) {
            cJSON_Delete(ans);
            batch_free(&cur);
            *err = nb.err;
            rc = nb.rc;
            batch_free(&nb);
            return rc;
        }
        /* The answer counts the results and lists only the refused changes,
         * by their index in the batch. */
        cJSON *refused_list = cJSON_GetObjectItemCaseSensitive(ans, "refused");
        double counts[3];
        const char *const count_names[3] = {"applied", "duplicate", "rejected"};
        int well_formed = cJSON_IsArray(refused_list);
        for (int ci = 0; ci < 3; ci++) {
            cJSON *n = cJSON_GetObjectItemCaseSensitive(ans, count_names[ci]);
            counts[ci] = cJSON_IsNumber(n) ? n->valuedouble : -1.0;
            well_formed = well_formed && counts[ci] >= 0.0;
        }
        if (!well_formed || counts[0] + counts[1] + counts[2] != (double)k.n ||
            counts[2] != (double)cJSON_GetArraySize(refused_list)) {
            rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                              "POST /v1/push: %zu changes sent but the answer counts "
                              "%.0f applied, %.0f duplicate and %.0f refused",
                              k.n, counts[0], counts[1], counts[2]);
            cJSON_Delete(ans);
            batch_free(&cur);
            batch_free(&nb);
            return rc;
        }
        /* Invariant 1: the refused changes and the cursor in one transaction. */
        size_t sent = k.n, applied = (size_t)counts[0], dup = (size_t)counts[1], rej = 0;
        rc = mq_store_begin(c->store, err);
        size_t lowest = 0;                 /* indexes come in order, each once */
        cJSON *sent_at = k.changes->child; /* change number `lowest` */
        cJSON *r;
        cJSON_ArrayForEach(r, refused_list)
        {
            if (rc != 0)
                break;
            cJSON *at = cJSON_GetObjectItemCaseSensitive(r, "i");
            cJSON *reason = cJSON_GetObjectItemCaseSensitive(r, "reason");
            if (!cJSON_IsNumber(at) || at->valuedouble < (double)lowest ||
                at->valuedouble >= (double)k.n) {
                rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                  "POST /v1/push: refused change index %.0f: not one of "
                                  "the %zu sent, in order",
                                  cJSON_IsNumber(at) ? at->valuedouble : -1.0, k.n);
                break;
            }
            for (size_t i = (size_t)at->valuedouble; lowest < i; lowest++)
                sent_at = sent_at->next;
            rc = mq_store_reject(c->store, sent_at->valuestring, SOURCE_SERVER,
                                 cJSON_IsString(reason) ? reason->valuestring
                                                        : "refused by the server",
                                 err);
            sent_at = sent_at->next;
            lowest++;
            rej++;
        }
        if (rc == 0)
            rc = setting_set_i64(c->store, "sync.push.cursor", next, err);
        /* The next batch is pending from this commit on: its id is written
         * before it is first sent (invariant 2), in the same commit. */
        if (rc == 0)
            rc = nb.k.n > 0
                     ? batch_pending(c, &nb, err)
                     : mq_store_setting_set(c->store, "sync.push.batch", NULL, err);
        if (rc == 0)
            rc = mq_store_commit(c->store, err);
        if (rc != 0)
            mq_store_rollback(c->store);
        cJSON_Delete(ans);
        batch_free(&cur);
        if (rc != 0) {
            batch_free(&nb);
            return rc;
        }
        c->rep->pushed += sent;
        c->rep->push_applied += applied;
        c->rep->push_duplicate += dup;
        c->rep->push_rejected += rej;
        c->rep->batches++;
        if (rej > 0)
            *refused = 1;
        say(c, "pushed %zu changes: %zu new, %zu already there, %zu refused", sent,
            applied, dup, rej);
        assert_push_state(c, next);
        cursor = next;
        cur = nb;
    }
}

/* ---- pull -------------------------------------------------------------- */

static int pull(client *c, mq_error *err)
{
    for (;;) {
        char *cursor = NULL;
        int rc = mq_store_setting_get(c->store, "sync.pull.cursor", &cursor, err);
        if (rc != 0)
            return rc;
        char *esc = curl_easy_escape(c->curl, cursor ? cursor : "", 0);
        mq_free(cursor);
        if (esc == NULL)
            return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                "out of memory");
        char path[512];
        snprintf(path, sizeof path, "/v1/pull?cursor=%s&limit=%zu", esc, c->batch);
        curl_free(esc);

        /* A page is checked as the server checks a pushed batch: a change
         * that cJSON would not hold as sent (a NUL escape, a number out of
         * range) is kept as rejected, never applied cut; a flaw outside the
         * changes refuses the page. */
        cJSON *ans = NULL;
        mq__flaws fl;
        rc = request(c, "GET", path, NULL, 0, &ans, &fl, NULL, NULL, err);
        if (rc != 0)
            return rc;
        cJSON *changes = cJSON_GetObjectItemCaseSensitive(ans, "changes");
        cJSON *next = cJSON_GetObjectItemCaseSensitive(ans, "cursor");
        cJSON *more = cJSON_GetObjectItemCaseSensitive(ans, "more");
        if (!cJSON_IsArray(changes) || !cJSON_IsString(next) || fl.outside[0]) {
            cJSON_Delete(ans);
            rc = fl.outside[0]
                     ? mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                    "GET /v1/pull: bad page: %s", fl.outside)
                     : mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                    "GET /v1/pull: answer lacks changes or cursor");
            mq__flaws_free(&fl);
            return rc;
        }
        /* Invariant 3: the page and its cursor in one transaction. */
        size_t n = 0, applied = 0, dup = 0, rej = 0;
        rc = mq_store_begin(c->store, err);
        cJSON *ch;
        cJSON_ArrayForEach(ch, changes)
        {
            if (rc != 0)
                break;
            /* Parsed once, with the page: the change goes to the store as is,
             * and is printed only to be kept when it cannot apply here. */
            mq_apply_result res = MQ_APPLIED;
            mq_error aerr;
            mq_error_clear(&aerr);
            if (fl.why[n] != NULL) {
                res = MQ_REJECTED;
                snprintf(aerr.message, sizeof aerr.message, "%s", fl.why[n]);
            } else {
                rc = mq_store_apply_json(c->store, ch, SOURCE_SERVER, NULL, &res, &aerr);
            }
            if (rc != 0) {
                *err = aerr;
            } else if (res == MQ_APPLIED) {
                applied++;
            } else if (res == MQ_DUPLICATE) {
                dup++;
            } else {
                char reason[MQ_ERROR_MESSAGE_MAX + 40];
                snprintf(reason, sizeof reason, "pulled from the server: %s",
                         aerr.message);
                char *text = cJSON_PrintUnformatted(ch);
                rc = text != NULL
                         ? mq_store_reject(c->store, text, SOURCE_SERVER, reason, err)
                         : mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                        "out of memory");
                cJSON_free(text);
                rej++;
            }
            n++;
        }
        if (rc == 0)
            rc = mq_store_setting_set(c->store, "sync.pull.cursor", next->valuestring,
                                      err);
        if (rc == 0)
            rc = mq_store_commit(c->store, err);
        if (rc != 0)
            mq_store_rollback(c->store);
        int again = cJSON_IsTrue(more);
        cJSON_Delete(ans);
        mq__flaws_free(&fl);
        if (rc != 0)
            return rc;
        c->rep->pulled += n;
        c->rep->pull_applied += applied;
        c->rep->pull_duplicate += dup;
        c->rep->pull_rejected += rej;
        c->rep->pages++;
        if (n > 0)
            say(c, "pulled %zu changes: %zu new, %zu already here, %zu invalid here", n,
                applied, dup, rej);
        if (!again)
            return 0;
    }
}

/* ---- the whole sync ---------------------------------------------------- */

static int remember(mq_store *s, const char *key, const char *value, mq_error *err)
{
    char *old = NULL;
    int rc = mq_store_setting_get(s, key, &old, err);
    if (rc == 0 && (old == NULL || strcmp(old, value) != 0))
        rc = mq_store_setting_set(s, key, value, err);
    mq_free(old);
    return rc;
}

int mq_sync_run(mq_store *store, const mq_sync_opts *opts, mq_sync_report *report,
                mq_error *err)
{
    static const mq_sync_opts none;
    mq_sync_report scratch;
    mq_error scratch_err;
    char *url = NULL, *token = NULL, *cacert = NULL;
    client c;
    int rc, refused = 0;

    if (opts == NULL)
        opts = &none;
    if (report == NULL)
        report = &scratch;
    if (err == NULL)
        err = &scratch_err;
    memset(report, 0, sizeof *report);
    memset(&c, 0, sizeof c);
    int64_t started = mq_platform_time_ms();

    if (mq_store_site(store) == NULL)
        return mq_error_set(err, MQ_ESTATE, MQ_DOMAIN_MINQING, MQ_ESTATE,
                            "this replica has no site yet: run init --site NAME first");
    if ((rc = mq_store_setting_get(store, "sync.url", &url, err)) != 0 ||
        (rc = mq_store_setting_get(store, "sync.token", &token, err)) != 0 ||
        (rc = mq_store_setting_get(store, "sync.cacert", &cacert, err)) != 0)
        goto out;
    const char *use_url = opts->server_url ? opts->server_url : url;
    const char *use_token = opts->token ? opts->token : token;
    const char *use_cacert = opts->cacert ? opts->cacert : cacert;
    if (use_url == NULL || *use_url == '\0') {
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "no server: give the server's URL (--server URL) once");
        goto out;
    }
    if (strncmp(use_url, "http://", 7) != 0 && strncmp(use_url, "https://", 8) != 0) {
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "server URL \"%s\" must start with http:// or https://",
                          use_url);
        goto out;
    }
    if (use_token == NULL || *use_token == '\0') {
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "no device token: give the token that `minqing-server device "
                          "add` printed (--token TOKEN) once");
        goto out;
    }
    c.store = store;
    c.rep = report;
    c.token = use_token;
    c.cacert = use_cacert;
    c.batch = opts->batch ? opts->batch : MQ_PROTO_CLIENT_BATCH;
    if (c.batch > MQ_PROTO_MAX_BATCH)
        c.batch = MQ_PROTO_MAX_BATCH;
    c.budget_ms = opts->retry_budget_ms ? opts->retry_budget_ms : DEFAULT_BUDGET_MS;
    c.backoff_ms = opts->backoff_ms ? opts->backoff_ms : 250;
    c.timeout_ms = opts->timeout_ms ? opts->timeout_ms : 600000;
    c.notify = opts->notify;
    c.ctx = opts->ctx;
    size_t ulen = strlen(use_url);
    while (ulen > 0 && use_url[ulen - 1] == '/')
        ulen--;
    c.base = malloc(ulen + 1);
    char auth[160];
    if (c.base == NULL) {
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(c.base, use_url, ulen);
    c.base[ulen] = '\0';
    if (snprintf(auth, sizeof auth, "Authorization: Bearer %s", use_token) >=
        (int)sizeof auth) {
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "device token is too long");
        goto out;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_CURL, 0, "cannot initialise libcurl");
        goto out;
    }
    c.curl = curl_easy_init();
    if (c.curl == NULL) {
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_CURL, 0,
                          "cannot create a curl handle");
        goto out;
    }
    c.headers = curl_slist_append(c.headers, auth);
    c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
    c.headers = curl_slist_append(c.headers, "Content-Encoding: gzip");
    c.headers = curl_slist_append(c.headers, "Accept-Encoding: gzip");
    c.headers = curl_slist_append(c.headers, "Accept: application/json");
    c.headers = curl_slist_append(c.headers, "Expect:");
    curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, c.headers);
    curl_easy_setopt(c.curl, CURLOPT_USERAGENT, "minqing/" MQ_VERSION_STRING);
    curl_easy_setopt(c.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c.curl, CURLOPT_TIMEOUT_MS, (long)c.timeout_ms);
    /* A 2G link moves a page in seconds to minutes; a link that has stalled
     * (under 50 bytes/s for 30 s) is a time-out to retry, not a wait. */
    curl_easy_setopt(c.curl, CURLOPT_LOW_SPEED_LIMIT, 50L);
    curl_easy_setopt(c.curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c.curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c.curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c.cacert != NULL && *c.cacert != '\0')
        curl_easy_setopt(c.curl, CURLOPT_CAINFO, c.cacert);

    rc = session(&c, err);
    if (rc != 0)
        goto out;
    /* The server accepted us: remember how to reach it next time. */
    if ((rc = remember(store, "sync.url", c.base, err)) != 0 ||
        (rc = remember(store, "sync.token", use_token, err)) != 0)
        goto out;
    if (use_cacert != NULL && (rc = remember(store, "sync.cacert", use_cacert, err)) != 0)
        goto out;
    if (c.max_batch > 0 && c.batch > c.max_batch)
        c.batch = c.max_batch;
    rc = push(&c, &refused, err);
    if (rc == 0)
        rc = pull(&c, err);
    if (rc != 0 && strcmp(c.code, "cursor_ahead") == 0) {
        /* The server's file is older than this replica's cursors (restored
         * from a backup): what it lost since is here, so push everything
         * again (what it has counts as duplicate) and pull from the start. */
        say(&c, "the server's change log ends before this device's cursor (the server "
                "was restored from an older copy?): sending every local change again "
                "and pulling from the beginning");
        rc = mq_store_begin(store, err);
        if (rc == 0)
            rc = mq_store_setting_set(store, "sync.push.cursor", NULL, err);
        if (rc == 0)
            rc = mq_store_setting_set(store, "sync.push.batch", NULL, err);
        if (rc == 0)
            rc = mq_store_setting_set(store, "sync.pull.cursor", NULL, err);
        if (rc == 0)
            rc = mq_store_commit(store, err);
        else
            mq_store_rollback(store);
        if (rc == 0)
            rc = push(&c, &refused, err);
        if (rc == 0)
            rc = pull(&c, err);
    }
    if (rc == 0 && c.cadre[0] != '\0' && mq_store_cadre(store) == NULL) {
        /* A replica with no default author takes the cadre its device is
         * enrolled for, now that the cadre's record has been pulled. */
        char site[64];
        mq_error e;
        snprintf(site, sizeof site, "%s", mq_store_site(store));
        if (mq_store_init(store, site, c.cadre, &e) == 0)
            say(&c, "local changes are now authored by cadre %s, as enrolled", c.cadre);
        else
            say(&c, "warning: cannot take the enrolled cadre %s: %s", c.cadre, e.message);
    }
    if (rc == 0 && refused)
        rc = mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                          "the server refused %zu change(s); they are kept with the "
                          "server's reasons (see `minqing rejected`)",
                          report->push_rejected);
out:
    report->elapsed_ms = mq_platform_time_ms() - started;
    if (c.curl != NULL)
        curl_easy_cleanup(c.curl);
    curl_slist_free_all(c.headers);
    free(c.base);
    mq_free(url);
    mq_free(token);
    mq_free(cacert);
    return rc;
}
