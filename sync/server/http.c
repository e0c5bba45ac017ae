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
 *      pulls pass the areas to mq_store_changes(), pushes hand each change
 *      to mq_store_apply_json() with the device's scope, which merges only
 *      what is inside it.
 *   4. Every answer, errors included, carries "server_time" in ms.
 *   5. A change is parsed once on its way from the wire to the store (the
 *      push body, parsed whole) and never parsed on its way out (the pull
 *      page splices the store's text in as raw JSON).
 *   6. A request outside /v1/ goes to the host's hook (mq_server_opts.web)
 *      when one is set, after the same checks of its head and body size,
 *      on a store of the pool; without a hook it is a 404, as any unknown
 *      path.  The hook's writes take write_lock, as a push does; a slow
 *      step of it that writes nothing may give the lock up for its time
 *      (mq_server_request.unlocked: a sign-in's password derivation).
 *   7. A client owes the server its head, then its body, at a pace (the
 *      slow-client rule of docs/PROTOCOL.md): a connection whose head is not
 *      in whole within the head deadline, or whose body brings less than
 *      the minimum rate over a window or is not done by its bound, is shut
 *      down by the watchdog.  Time the server spends on a request (its
 *      answer, a wait for the write lock) is never counted against it.
 */
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "minqing/minqing.h"
#include "platform.h"
#include "proto.h"
#include "reports.h"

/*
 * What connections may hold.  Idle connections are what a flood holds, so
 * one is closed after IDLE_TIMEOUT_S seconds without a byte either way (a
 * 2G transfer moves bytes every second); one address holds at most
 * MAX_CONNECTIONS_PER_IP, and all together at most MAX_CONNECTIONS.  The
 * per-address bound is above the tablets of a township (a hundred or so):
 * behind one NAT (the office's Wi-Fi, a carrier's NAT) they share an
 * address, and when they sync at once each holds a connection for as long
 * as its sync takes, which under load is seconds; at 64, a hundred devices
 * of one address were refused and ran out of retries (bench case 9).  An
 * idle flood then needs MAX_CONNECTIONS / MAX_CONNECTIONS_PER_IP addresses
 * to fill the server, which bench case 9 and tests/sync/test_flood.py keep
 * well below.  Each
 * connection's memory, CONNECTION_MEMORY, holds a request head up to the
 * limits of docs/PROTOCOL.md (MQ_PROTO_MAX_URI, MQ_PROTO_MAX_HEAD) with
 * room to spare, so that this server, not libmicrohttpd, answers a head
 * over them, in JSON.
 */
#define MAX_CONNECTIONS        4000u
#define MAX_CONNECTIONS_PER_IP 256
#define IDLE_TIMEOUT_S         30
#define CONNECTION_MEMORY      ((size_t)64 * 1024)

/*
 * The slow-client rule's defaults (mq_server_opts): a head in whole within
 * 30 s, and a body at 50 bytes/s over every 30 s, the client's own rule for
 * a stalled link (sync/client), so that a tablet the client would not give
 * up on is never cut by the server.  The idle timeout alone is not enough:
 * libmicrohttpd 0.9.75 restarts it on every byte, so a byte every 29 s held
 * a head or a body open for ever.
 */
#define HEAD_TIMEOUT_S 30
#define MIN_RATE       50
#define RATE_WINDOW_S  30
/* How often, at most, the watchdog says what it closed. */
#define WATCH_LOG_MS 10000

/* Where a connection is in its request, for the watchdog (invariant 7). */
enum phase {
    PH_HEAD,  /* waiting for a head: the head deadline runs */
    PH_BODY,  /* reading a body: the minimum rate holds */
    PH_ANSWER /* the server's turn: nothing is owed by the client */
};

/*
 * The watchdog's view of every open connection, and its counts.  All of it
 * is under `lock`, which the worker threads take to move a connection from
 * phase to phase and to count its body.  A connection leaves `first`
 * (on_connection(), CLOSED) before libmicrohttpd closes its socket, and the
 * watchdog shuts sockets down only under the lock, so it never touches a
 * descriptor that has been closed and reused.
 */
typedef struct watch {
    mtx_t lock;
    struct conn_ctx *first;
    int64_t head_ms, window_ms; /* the rule, in ms */
    uint64_t min_rate;          /* bytes/s */
    unsigned tick_ms;           /* how often the watchdog looks */
    int stop;
    unsigned long heads, bodies;          /* cut since the last log line */
    unsigned long heads_all, bodies_all;  /* cut since the start */
    int64_t logged_at;                    /* uptime of the last log line */
    char last_peer[MQ_PLATFORM_ADDR_MAX]; /* the address of the last cut */
} watch;

typedef struct server {
    mtx_t pool_lock;
    cnd_t pool_cond;
    mq_store **stores;
    int *busy;
    size_t nstores;
    mtx_t write_lock;
    char epoch[17];
    unsigned delay_ms;
    mq_server_web_fn web; /* the hook for requests outside /v1/, or NULL */
    void *web_ctx;
    int tls;
    watch watch;
    /* mq_server_opts.trusted_proxies, each as mq_platform_addr_canon()
     * writes it */
    char proxies[MQ_SERVER_MAX_PROXIES][MQ_PLATFORM_ADDR_MAX];
    size_t nproxies;
} server;

/* The endpoints, as routed. */
enum endpoint { EP_HEALTH, EP_SESSION, EP_PUSH, EP_PULL, EP_SCHEMA, EP_REPORTS };

/*
 * One request, from its request line (on_uri()) to its end (on_completed()).
 * The raw target is kept because libmicrohttpd hands the handler the path
 * unescaped, where "%00" has cut it: routing and the query check use the
 * bytes as sent.
 */
typedef struct request {
    struct conn_ctx *owner; /* the connection that holds this request */
    char *raw_uri;          /* the request target as sent, NUL-terminated */
    int checked;            /* the head has been checked (check_head()) */
    int web;                /* for the hook: a path outside /v1/ (invariant 6) */
    enum endpoint ep;
    mq__buf body;
    int too_large;    /* the body went past its limit: drop it, answer 413 */
    uint64_t dropped; /* bytes of body dropped */
    mq__flaws *flaws; /* of the pushed body, once read (do_push()) */
} request;

/*
 * One connection.  It holds the request whose request line has been read
 * until libmicrohttpd presents it to the handler or gives up on it (a head
 * it refuses itself is never presented, and so never completed): whatever
 * is left is freed when the connection closes.  The fields after `pending`
 * are the watchdog's, under watch.lock.
 */
typedef struct conn_ctx {
    request *pending;
    struct conn_ctx *prev, *next; /* in watch.first */
    int fd;                       /* the socket, to shut down */
    int cut;                      /* shut down already */
    enum phase phase;
    int64_t since;     /* uptime when the head became due, or the body began */
    uint64_t got;      /* body bytes read so far */
    uint64_t length;   /* the body's declared length, or the most it may be */
    int64_t mark_at;   /* the current rate window began then ... */
    uint64_t mark_got; /* ... with this much of the body read */
    char peer[MQ_PLATFORM_ADDR_MAX];
} conn_ctx;

/* ---- the store pool ---------------------------------------------------- */

static mq_store *acquire(server *sv, size_t *slot)
{
    mtx_lock(&sv->pool_lock);
    for (;;) {
        for (size_t i = 0; i < sv->nstores; i++) {
            if (!sv->busy[i]) {
                sv->busy[i] = 1;
                mtx_unlock(&sv->pool_lock);
                *slot = i;
                return sv->stores[i];
            }
        }
        cnd_wait(&sv->pool_cond, &sv->pool_lock);
    }
}

static void release(server *sv, size_t slot)
{
    mtx_lock(&sv->pool_lock);
    sv->busy[slot] = 0;
    cnd_signal(&sv->pool_cond);
    mtx_unlock(&sv->pool_lock);
}

/* ---- slow clients: the watchdog (invariant 7) --------------------------- */

/* Takes a new connection in, its first head due from now. */
static void watch_add(watch *w, conn_ctx *cc, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    cc->fd = fi != NULL ? fi->connect_fd : -1;
    if (ai == NULL || mq_platform_addr_text(ai->client_addr, cc->peer, sizeof cc->peer))
        snprintf(cc->peer, sizeof cc->peer, "an unknown address");
    mtx_lock(&w->lock);
    cc->phase = PH_HEAD;
    cc->since = mq_platform_uptime_ms();
    cc->next = w->first;
    if (w->first != NULL)
        w->first->prev = cc;
    w->first = cc;
    mtx_unlock(&w->lock);
}

/* Lets a closing connection go, before its socket is closed. */
static void watch_remove(watch *w, conn_ctx *cc)
{
    mtx_lock(&w->lock);
    if (cc->prev != NULL)
        cc->prev->next = cc->next;
    else if (w->first == cc)
        w->first = cc->next;
    if (cc->next != NULL)
        cc->next->prev = cc->prev;
    cc->prev = cc->next = NULL;
    mtx_unlock(&w->lock);
}

/*
 * Moves a connection to `phase` from now.  For PH_BODY, `length` is what the
 * body may take at most (its declared length), which bounds how long it may
 * last; capped at what the server reads of any body.
 */
static void watch_phase(watch *w, conn_ctx *cc, enum phase phase, uint64_t length)
{
    if (cc == NULL)
        return;
    mtx_lock(&w->lock);
    cc->phase = phase;
    cc->since = cc->mark_at = mq_platform_uptime_ms();
    cc->got = cc->mark_got = 0;
    cc->length = length < MQ_PROTO_MAX_DRAIN ? length : MQ_PROTO_MAX_DRAIN;
    mtx_unlock(&w->lock);
}

/* Counts `n` more bytes of a connection's body. */
static void watch_body(watch *w, conn_ctx *cc, size_t n)
{
    if (cc == NULL)
        return;
    mtx_lock(&w->lock);
    cc->got += n;
    mtx_unlock(&w->lock);
}

/*
 * Whether connection `cc` breaks the rule at `now`: 1 for its head, 2 for
 * its body, 0 when it keeps it.  Rate windows follow one another from the
 * body's start; each must bring min_rate bytes/s.  A window runs to the
 * first look at or after its end, so it is never shorter than the rule's.
 */
static int watch_breaks(watch *w, conn_ctx *cc, int64_t now)
{
    if (cc->cut)
        return 0;
    if (cc->phase == PH_HEAD)
        return now - cc->since > w->head_ms;
    if (cc->phase != PH_BODY)
        return 0;
    if (now - cc->since > w->window_ms + (int64_t)(cc->length * 1000 / w->min_rate))
        return 2; /* not done by its bound */
    if (now - cc->mark_at >= w->window_ms) {
        uint64_t owed = w->min_rate * (uint64_t)(now - cc->mark_at) / 1000;
        if (cc->got - cc->mark_got < owed)
            return 2;
        cc->mark_at = now;
        cc->mark_got = cc->got;
    }
    return 0;
}

/*
 * The watchdog thread: every tick, shuts down each connection that breaks
 * the rule (libmicrohttpd then reads end-of-file and closes it), and at
 * most every WATCH_LOG_MS says on stderr how many it closed and from where
 * the last came, for whoever has to block an attacker.
 */
static int watch_run(void *arg)
{
    watch *w = arg;
    for (;;) {
        mq_platform_sleep_ms(w->tick_ms);
        unsigned long heads = 0, bodies = 0, all = 0;
        char peer[MQ_PLATFORM_ADDR_MAX] = "";
        mtx_lock(&w->lock);
        if (w->stop) {
            mtx_unlock(&w->lock);
            return 0;
        }
        int64_t now = mq_platform_uptime_ms();
        for (conn_ctx *cc = w->first; cc != NULL; cc = cc->next) {
            int why = watch_breaks(w, cc, now);
            if (why == 0)
                continue;
            cc->cut = 1;
            mq_platform_shutdown_socket(cc->fd);
            if (why == 1)
                w->heads++, w->heads_all++;
            else
                w->bodies++, w->bodies_all++;
            memcpy(w->last_peer, cc->peer, sizeof w->last_peer);
        }
        if (w->heads + w->bodies > 0 && now - w->logged_at >= WATCH_LOG_MS) {
            heads = w->heads;
            bodies = w->bodies;
            all = w->heads_all + w->bodies_all;
            memcpy(peer, w->last_peer, sizeof peer);
            w->heads = w->bodies = 0;
            w->logged_at = now;
        }
        mtx_unlock(&w->lock);
        if (heads + bodies > 0)
            fprintf(
                stderr,
                "minqing-server: closed %lu slow connections (%lu heads not in within "
                "%lld s, %lu bodies under %llu bytes/s over %lld s; the last from "
                "%s; %lu since the start)\n",
                heads + bodies, heads, (long long)(w->head_ms / 1000), bodies,
                (unsigned long long)w->min_rate, (long long)(w->window_ms / 1000), peer,
                all);
    }
}

/* ---- answers ----------------------------------------------------------- */

static int accepts_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae != NULL && strstr(ae, "gzip") != NULL;
}

/*
 * A new answer, {"server_time":0}: every answer starts with the server's
 * time (invariant 4), which reply() sets as the answer leaves.  NULL when out
 * of memory.
 */
static cJSON *answer_new(void)
{
    cJSON *a = cJSON_CreateObject();
    if (cJSON_AddNumberToObject(a, "server_time", 0) == NULL) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

/* `a` when `ok`; otherwise frees it and gives NULL (reply() then fails). */
static cJSON *whole(cJSON *a, int ok)
{
    if (ok)
        return a;
    cJSON_Delete(a);
    return NULL;
}

/*
 * Moves the members of `from` to the end of `to`, in order, and deletes
 * `from`.  Returns 0 when out of memory (`to` then lacks some of them).
 */
static int move_members(cJSON *to, cJSON *from)
{
    int ok = to != NULL && from != NULL;
    while (ok && from->child != NULL) {
        cJSON *m = cJSON_DetachItemViaPointer(from, from->child);
        ok = cJSON_AddItemToObject(to, m->string, m);
        if (!ok)
            cJSON_Delete(m);
    }
    cJSON_Delete(from);
    return ok;
}

/*
 * Prints and queues answer `a` (from answer_new(); taken over), gzipped when
 * the client accepts it.  `a` NULL, an answer that could not be built for
 * want of memory, drops the connection: the client retries.  `size` is
 * about how long the printed answer will be, 0 when it is small.
 */
/* How an answer leaves, besides its status and body. */
typedef struct answer_how {
    const char *allow; /* the Allow header of a 405, else NULL */
    int close;         /* 1: Connection: close, the connection ends after it */
} answer_how;

static enum MHD_Result reply_how(struct MHD_Connection *conn, unsigned status, cJSON *a,
                                 size_t size, const answer_how *how)
{
    char *text = NULL;
    if (a != NULL) {
        cJSON_SetNumberHelper(a->child, (double)mq_platform_time_ms());
        text =
            size > 0 ? cJSON_PrintBuffered(a, (int)size, 0) : cJSON_PrintUnformatted(a);
        cJSON_Delete(a);
    }
    if (text == NULL)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *resp = NULL;
    unsigned char *z = NULL;
    size_t zlen = 0;
    if (accepts_gzip(conn) && mq__gzip(text, len, &z, &zlen, NULL) == 0) {
        cJSON_free(text);
        resp = MHD_create_response_from_buffer(zlen, z, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(z);
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(len, text, cJSON_free);
        if (resp == NULL)
            cJSON_free(text);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (z != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"minqing\"");
    if (how != NULL && how->allow != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, how->allow);
    if (how != NULL && how->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result reply_sized(struct MHD_Connection *conn, unsigned status, cJSON *a,
                                   size_t size)
{
    return reply_how(conn, status, a, size, NULL);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, cJSON *a)
{
    return reply_sized(conn, status, a, 0);
}

/*
 * {"server_time":T,"error":{"code":CODE,"message":MESSAGE}}.  The message
 * may quote the request, so it is made valid UTF-8 first.
 */
static enum MHD_Result reply_error_how(struct MHD_Connection *conn, unsigned status,
                                       const char *code, const char *message,
                                       const answer_how *how)
{
    char *clean = mq__utf8_clean(message);
    cJSON *a = answer_new();
    cJSON *e = cJSON_AddObjectToObject(a, "error");
    int ok = clean != NULL && cJSON_AddStringToObject(e, "code", code) != NULL &&
             cJSON_AddStringToObject(e, "message", clean) != NULL;
    free(clean);
    return reply_how(conn, status, whole(a, ok), 0, how);
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status,
                                   const char *code, const char *message)
{
    return reply_error_how(conn, status, code, message, NULL);
}

/* An error after which the connection is closed: what follows on it cannot
 * be trusted to be a request (a smuggling attempt), or a body is left unread. */
static enum MHD_Result reply_error_close(struct MHD_Connection *conn, unsigned status,
                                         const char *code, const char *message)
{
    static const answer_how closing = {NULL, 1};
    return reply_error_how(conn, status, code, message, &closing);
}

/* ---- /v1/session ------------------------------------------------------- */

static enum MHD_Result do_session(struct MHD_Connection *conn, const mq_device *dev)
{
    cJSON *a = answer_new();
    cJSON *areas = NULL;
    int ok = cJSON_AddStringToObject(a, "device", dev->name) != NULL &&
             (areas = cJSON_AddArrayToObject(a, "areas")) != NULL;
    for (size_t i = 0; ok && i < dev->nareas; i++)
        ok = cJSON_AddItemToArray(areas, cJSON_CreateString(dev->areas[i]));
    if (ok && dev->cadre[0])
        ok = cJSON_AddStringToObject(a, "cadre", dev->cadre) != NULL;
    if (ok && dev->site[0])
        ok = cJSON_AddStringToObject(a, "site", dev->site) != NULL;
    ok =
        ok && cJSON_AddNumberToObject(a, "protocol", MQ_PROTO_VERSION) != NULL &&
        cJSON_AddNumberToObject(a, "max_batch", MQ_PROTO_MAX_BATCH) != NULL &&
        cJSON_AddNumberToObject(a, "max_body", (double)MQ_PROTO_MAX_BODY) != NULL &&
        cJSON_AddNumberToObject(a, "max_inflated", (double)MQ_PROTO_MAX_INFLATED) != NULL;
    return reply(conn, MHD_HTTP_OK, whole(a, ok));
}

/* ---- /v1/push ---------------------------------------------------------- */

/* Inflates the request body per its Content-Encoding into `*len` bytes and
 * a NUL; answers and returns NULL on failure. */
static char *request_body(struct MHD_Connection *conn, request *rq, size_t *len,
                          enum MHD_Result *r)
{
    const char *ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_ENCODING);
    char msg[MQ_ERROR_MESSAGE_MAX + 64];
    if (rq->too_large) {
        /* Answered once the body has been read and dropped, so that a client
         * that sends its whole body before it reads reads this; then closed. */
        snprintf(msg, sizeof msg, "request body exceeds %zu bytes", MQ_PROTO_MAX_BODY);
        *r = reply_error_close(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
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
        *len = n;
        return plain;
    }
    if (ce != NULL && strcmp(ce, "identity") != 0) {
        snprintf(msg, sizeof msg,
                 "Content-Encoding \"%.100s\" is not supported; use gzip", ce);
        *r = reply_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "bad_encoding", msg);
        return NULL;
    }
    /* Not compressed: the body as received (NUL-terminated), handed over. */
    char *plain = rq->body.data != NULL ? rq->body.data : calloc(1, 1);
    *len = rq->body.len;
    memset(&rq->body, 0, sizeof rq->body);
    if (plain == NULL)
        *r = MHD_NO;
    return plain;
}

static int is_refusal(int rc)
{
    return rc == MQ_EINVAL || rc == MQ_EREFUSED || rc == MQ_ENOTFOUND;
}

/*
 * Appends {"i":I,"v":V,"reason":R} to `refused`; 0 when out of memory.  V
 * and R quote what the device sent, so both are made valid UTF-8.
 */
static int refusal_add(cJSON *refused, int i, const cJSON *v, const char *reason)
{
    cJSON *r = cJSON_CreateObject();
    if (!cJSON_AddItemToArray(refused, r)) {
        cJSON_Delete(r);
        return 0;
    }
    char *cv = mq__utf8_clean(cJSON_IsString(v) ? v->valuestring : "");
    char *cr = mq__utf8_clean(reason);
    int ok = cv != NULL && cr != NULL && cJSON_AddNumberToObject(r, "i", i) != NULL &&
             cJSON_AddStringToObject(r, "v", cv) != NULL &&
             cJSON_AddStringToObject(r, "reason", cr) != NULL;
    free(cv);
    free(cr);
    return ok;
}

/* Offset of the first byte after the JSON value that ends at `end` that is
 * not white space, or `len` when there is none. */
static size_t after_json(const char *text, const char *end, size_t len)
{
    if (end == NULL)
        return len;
    size_t i = (size_t)(end - text);
    while (i < len &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    return i;
}

/*
 * Parses a batch's recorded answer (sync_batches.response), a JSON object.
 * Files written by earlier versions hold the object without its opening
 * brace.  NULL when it does not parse or memory runs out.
 */
static cJSON *recorded_answer(const char *known)
{
    if (known[0] == '{')
        return cJSON_Parse(known);
    size_t n = strlen(known);
    char *object = malloc(n + 2);
    if (object == NULL)
        return NULL;
    object[0] = '{';
    memcpy(object + 1, known, n + 1);
    cJSON *a = cJSON_Parse(object);
    free(object);
    return a;
}

/*
 * A change refused as out of scope may in truth name the id of a record of
 * another type: that is invalid whatever the device's areas, and is said so
 * (docs/PROTOCOL.md 3.3).  Fills `reason` in that case, else leaves it "".
 */
static void other_type(mq_store *st, const cJSON *ch, char *reason, size_t size)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ch, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ch, "id");
    char *have = NULL;
    mq_error e;
    if (!cJSON_IsString(type) || !cJSON_IsString(id) || !mq_valid_uuid(id->valuestring) ||
        mq_store_get(st, id->valuestring, &have, &e) != 0 || have == NULL)
        return;
    cJSON *rec = cJSON_Parse(have);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "type");
    if (cJSON_IsString(t) && strcmp(t->valuestring, type->valuestring) != 0)
        snprintf(reason, size, "invalid: id %s holds a %s record, not a %.40s",
                 id->valuestring, t->valuestring, type->valuestring);
    cJSON_Delete(rec);
    mq_free(have);
}

static enum MHD_Result do_push(server *sv, struct MHD_Connection *conn, mq_store *st,
                               const mq_device *dev, request *rq)
{
    enum MHD_Result r = MHD_NO;
    size_t len = 0;
    char *plain = request_body(conn, rq, &len, &r);
    if (plain == NULL)
        return r;
    char sha[65], msg[MQ_ERROR_MESSAGE_MAX];
    mq_error e;
    mq_error_clear(&e);
    /* The body is exactly one JSON object: no NUL byte (where cJSON would
     * stop reading) and nothing after it but white space. */
    const char *nul = memchr(plain, '\0', len);
    if (nul != NULL) {
        snprintf(msg, sizeof msg, "the body holds a NUL byte at byte %zu",
                 (size_t)(nul - plain));
        free(plain);
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_body", msg);
    }
    mq__sha256_hex(plain, len, sha, NULL);
    /* One arena for the whole batch (minqing/store.h): no malloc and free
     * per node of its thousands of changes. */
    mq_json_doc *doc = NULL;
    if (mq_json_doc_parse(&doc, plain, len, &e) != 0) {
        if (e.code == MQ_ENOMEM) {
            free(plain);
            return MHD_NO;
        }
        /* Refused: cJSON says where, for the message only. */
        const char *end = NULL;
        cJSON *bad = cJSON_ParseWithOpts(plain, &end, 0);
        snprintf(msg, sizeof msg,
                 bad == NULL ? "the body is not JSON (at byte %zu)"
                             : "the body has data after its JSON object, at byte %zu",
                 bad == NULL ? (size_t)(end != NULL ? end - plain : 0)
                             : after_json(plain, end, len));
        cJSON_Delete(bad);
        free(plain);
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_body", msg);
    }
    cJSON *j = (cJSON *)mq_json_doc_root(doc);
    cJSON *batch = cJSON_GetObjectItemCaseSensitive(j, "batch");
    cJSON *site = cJSON_GetObjectItemCaseSensitive(j, "site");
    cJSON *changes = cJSON_GetObjectItemCaseSensitive(j, "changes");
    if (!cJSON_IsObject(j) || !cJSON_IsString(batch) || !cJSON_IsArray(changes) ||
        !cJSON_IsString(site)) {
        mq_json_doc_free(doc);
        free(plain);
        return reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_body",
            "a push body is {\"batch\":ID,\"site\":SITE,\"changes\":[...]}");
    }
    int n = cJSON_GetArraySize(changes);
    /* The changes cJSON would not hold as sent (a NUL escape, a number out
     * of range): each is refused by its index with the first flaw's
     * sentence and never reaches the store; a flaw outside the changes
     * refuses the body.  Freed with the request (on_completed()). */
    mq__flaws *fl = rq->flaws = calloc(1, sizeof *fl);
    int oom = fl == NULL || mq__flaws_find(fl, plain, "changes", (size_t)n) != 0;
    free(plain);
    if (oom || fl->outside[0]) {
        mq_json_doc_free(doc);
        return oom ? MHD_NO
                   : reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_body", fl->outside);
    }
    if (!mq_valid_name(batch->valuestring, MQ_PROTO_BATCH_ID_MAX)) {
        mq_json_doc_free(doc);
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_batch",
                           "batch id: 1 to 64 characters of [A-Za-z0-9_.-]");
    }
    if (!mq_valid_name(site->valuestring, MQ_PROTO_SITE_MAX)) {
        mq_json_doc_free(doc);
        return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_site",
                           "site: 1 to 32 characters of [A-Za-z0-9_.-], the site "
                           "the replica was initialised with");
    }
    if (n > MQ_PROTO_MAX_BATCH) {
        snprintf(msg, sizeof msg, "%d changes in one batch; at most %d", n,
                 MQ_PROTO_MAX_BATCH);
        mq_json_doc_free(doc);
        return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_many", msg);
    }
    if (sv->delay_ms)
        mq_platform_sleep_ms(sv->delay_ms);

    mtx_lock(&sv->write_lock);
    char *known = NULL, known_sha[65] = "";
    int rc = mq_device_claim_site(st, dev, site->valuestring, &e);
    if (rc == MQ_EREFUSED) {
        mtx_unlock(&sv->write_lock);
        mq_json_doc_free(doc);
        return reply_error(conn, MHD_HTTP_CONFLICT, "site_taken", e.message);
    }
    if (rc == 0)
        rc = mq_batch_find(st, dev->name, batch->valuestring, &known, known_sha, &e);
    if (rc == 0 && known != NULL) {
        mtx_unlock(&sv->write_lock);
        mq_json_doc_free(doc);
        if (strcmp(known_sha, sha) != 0) {
            free(known);
            return reply_error(conn, MHD_HTTP_CONFLICT, "batch_reused",
                               "this batch id was used before for other changes");
        }
        cJSON *was = recorded_answer(known);
        free(known);
        if (was == NULL)
            return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                               "the recorded answer of this batch cannot be read");
        cJSON *a = answer_new();
        int ok = cJSON_AddTrueToObject(a, "replayed") != NULL;
        ok = move_members(a, was) && ok;
        return reply(conn, MHD_HTTP_OK, whole(a, ok));
    }

    char source[80];
    snprintf(source, sizeof source, "device:%s", dev->name);
    const mq_scope scope = {(const char *const *)dev->areas, dev->nareas};
    size_t applied = 0, dup = 0, rej = 0;
    /* The answer as recorded, {"batch":ID,"refused":[...],"applied":N,
     * "duplicate":N,"rejected":N}: answered by exception, counts and only the
     * refused changes by their index, since a township push is 47,000
     * changes that all apply. */
    cJSON *ans = cJSON_CreateObject();
    cJSON *refused = NULL;
    if (rc == 0 && (cJSON_AddStringToObject(ans, "batch", batch->valuestring) == NULL ||
                    (refused = cJSON_AddArrayToObject(ans, "refused")) == NULL))
        rc = mq_error_set(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
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
        if (!cJSON_IsObject(ch)) {
            snprintf(reason, sizeof reason, "invalid: a change is a JSON object");
        } else if (fl->why[i] != NULL) {
            snprintf(reason, sizeof reason, "%s", fl->why[i]);
        } else {
            /* Parsed once, with the body: the change goes to the store as is. */
            int arc = mq_store_apply_doc(st, doc, ch, source, &scope, &res, &ce);
            if (arc != 0 && !is_refusal(arc)) {
                rc = arc;
                e = ce;
            } else if (arc != 0 || res == MQ_REJECTED) {
                snprintf(reason, sizeof reason, "invalid: %s", ce.message);
            } else if (res == MQ_OUT_OF_SCOPE) {
                other_type(st, ch, reason, sizeof reason);
                if (reason[0] == '\0')
                    snprintf(reason, sizeof reason,
                             "out of scope: the record is outside the areas of device %s",
                             dev->name);
            }
        }
        if (rc == 0 && reason[0] && cJSON_IsObject(ch)) {
            /* Kept on the server too, for the county to review, and printed
             * only for that; a change that is not even an object cannot be
             * kept and is only answered.  Keeping it is best effort: the
             * device keeps it with the reason in any case. */
            char *text = cJSON_PrintUnformatted(ch);
            mq_error re;
            if (text == NULL)
                rc = mq_error_set(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                  "out of memory");
            else if (mq_store_reject(st, text, source, reason, &re) != 0)
                fprintf(stderr,
                        "minqing-server: cannot keep a change refused from %s: %s\n",
                        dev->name, re.message);
            cJSON_free(text);
        }
        if (rc != 0)
            break;
        if (reason[0]) {
            rej++;
            if (!refusal_add(refused, i, v, reason)) {
                rc = mq_error_set(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                  "out of memory");
                break;
            }
        } else if (res == MQ_APPLIED) {
            applied++;
        } else {
            dup++;
        }
    }
    char *recorded = NULL;
    if (rc == 0 && (cJSON_AddNumberToObject(ans, "applied", (double)applied) == NULL ||
                    cJSON_AddNumberToObject(ans, "duplicate", (double)dup) == NULL ||
                    cJSON_AddNumberToObject(ans, "rejected", (double)rej) == NULL ||
                    (recorded = cJSON_PrintUnformatted(ans)) == NULL))
        rc = mq_error_set(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
    if (rc == 0)
        rc = mq_batch_save(st, dev->name, batch->valuestring, sha, recorded, &e);
    if (rc == 0)
        rc = mq_device_touch(st, dev->name, (size_t)n, 0, NULL, &e);
    if (rc == 0)
        rc = mq_store_commit(st, &e);
    if (rc != 0)
        mq_store_rollback(st);
    mtx_unlock(&sv->write_lock);
    if (rc == 0)
        fprintf(stderr,
                "minqing-server: %s pushed batch %s: %zu applied, %zu duplicate, "
                "%zu refused\n",
                dev->name, batch->valuestring, applied, dup, rej);
    mq_json_doc_free(doc);
    cJSON_free(recorded);
    if (rc != 0) {
        fprintf(stderr, "minqing-server: push from %s failed: %s\n", dev->name,
                e.message);
        cJSON_Delete(ans);
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           e.message);
    }
    /* What was recorded, after "replayed":false. */
    cJSON *a = answer_new();
    int ok = cJSON_AddFalseToObject(a, "replayed") != NULL;
    ok = move_members(a, ans) && ok;
    return reply(conn, MHD_HTTP_OK, whole(a, ok));
}

/* ---- /v1/pull ---------------------------------------------------------- */

/*
 * A page of changes as the store hands them over: each is spliced into the
 * answer as raw JSON, never parsed here.  `bytes` is about what they take in
 * the body.
 */
typedef struct page {
    cJSON *changes; /* array of raw items */
    size_t n, bytes;
    int oom;
} page;

static int page_add(void *ctx, const char *json)
{
    page *p = ctx;
    cJSON *raw = cJSON_CreateRaw(json);
    if (raw == NULL || !cJSON_AddItemToArray(p->changes, raw)) {
        cJSON_Delete(raw);
        p->oom = 1;
        return 1;
    }
    p->n++;
    p->bytes += strlen(json) + 1;
    return 0;
}

/*
 * Reads "EPOCH.TAG.SEQ", or "EPOCH.TAG.SEQ.REPLAY" while a page has stopped
 * inside the history owed to a record that moved into the device's areas
 * (mq_store_changes_page()); a cursor of another file or scope restarts at 0.
 */
static int parse_cursor(const server *sv, const mq_device *dev, const char *c,
                        int64_t *since, int64_t *replay)
{
    *since = *replay = 0;
    if (c == NULL || *c == '\0')
        return 0;
    const char *d1 = strchr(c, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || d2[1] == '\0')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(d2 + 1, &end, 10);
    long long r = 0;
    if (errno == 0 && *end == '.') {
        const char *rs = end + 1;
        size_t digits = strspn(rs, "0123456789");
        r = digits > 0 && digits < 19 && rs[digits] == '\0' ? strtoll(rs, &end, 10) : -1;
        /* A history owed before the change at SEQ + 1 lies at or before SEQ. */
        if (r < 1 || r > v)
            return -1;
    }
    if (errno != 0 || *end != '\0' || v < 0)
        return -1;
    if ((size_t)(d1 - c) != strlen(sv->epoch) ||
        strncmp(c, sv->epoch, (size_t)(d1 - c)) != 0)
        return 0;
    if ((size_t)(d2 - d1 - 1) != strlen(dev->scope_tag) ||
        strncmp(d1 + 1, dev->scope_tag, (size_t)(d2 - d1 - 1)) != 0)
        return 0;
    *since = v;
    *replay = r;
    return 0;
}

static int count_one(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

/*
 * Whether the change log ends before position `seq` of a cursor this file
 * handed out: cursors only ever stop at the log's end (mq_store_changes()),
 * so a later one means the file is older than the cursor, e.g. restored
 * from a backup, and the device holds changes this file has lost.
 */
static int log_ends_before(mq_store *st, int64_t seq, int *ahead, mq_error *err)
{
    size_t n = 0;
    mq_changes_query q = {seq - 1, 1, NULL, 0, NULL};
    int rc = mq_store_changes(st, &q, count_one, &n, NULL, err);
    *ahead = rc == 0 && n == 0;
    return rc;
}

static enum MHD_Result do_pull(server *sv, struct MHD_Connection *conn, mq_store *st,
                               const mq_device *dev)
{
    const char *cur = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
    const char *lim = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    size_t limit = MQ_PROTO_DEFAULT_BATCH;
    int64_t since = 0, replay = 0;
    if (lim != NULL) {
        char *end = NULL;
        long v = strtol(lim, &end, 10);
        if (strspn(lim, "0123456789") != strlen(lim) || *lim == '\0' || *end != '\0' ||
            v < 1 || v > MQ_PROTO_MAX_BATCH)
            return reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_limit",
                               "limit is a whole number from 1 to 5000");
        limit = (size_t)v;
    }
    if (parse_cursor(sv, dev, cur, &since, &replay) != 0)
        return reply_error(
            conn, MHD_HTTP_BAD_REQUEST, "bad_cursor",
            "cursor is the opaque string a previous pull returned, or empty");
    mq_error e;
    int ahead = 0;
    if (since > 0 && log_ends_before(st, since, &ahead, &e) != 0)
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           e.message);
    if (ahead)
        return reply_error(conn, MHD_HTTP_CONFLICT, "cursor_ahead",
                           "the cursor is past the end of this server's change log (the "
                           "server's file was restored from an older copy): pull again "
                           "from the empty cursor and push every local change again");
    if (sv->delay_ms)
        mq_platform_sleep_ms(sv->delay_ms);

    char source[80];
    snprintf(source, sizeof source, "device:%s", dev->name);
    page p;
    mq_changes_pos next = {since, replay};
    int rc;
    /* A record that moved into the device's areas comes with its history,
     * which a page may cut: the cursor then holds how far it went. */
    for (;;) {
        memset(&p, 0, sizeof p);
        p.changes = cJSON_CreateArray();
        p.oom = p.changes == NULL;
        mq_changes_query q = {since, limit, (const char *const *)dev->areas, dev->nareas,
                              source};
        next.seq = since;
        next.replay = replay;
        rc = p.oom ? 0 : mq_store_changes_page(st, &q, replay, page_add, &p, &next, &e);
        if (rc == 0 && p.oom)
            rc = mq_error_set(&e, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                              "out of memory");
        /* Keep the page's body under the soft bound, whatever the changes hold. */
        if (rc == 0 && p.bytes > MQ_PROTO_SOFT_INFLATED && limit > 1) {
            cJSON_Delete(p.changes);
            limit /= 2;
            continue;
        }
        break;
    }
    if (rc != 0) {
        cJSON_Delete(p.changes);
        fprintf(stderr, "minqing-server: pull for %s failed: %s\n", dev->name, e.message);
        return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                           e.message);
    }
    char cursor[112];
    if (next.replay > 0)
        snprintf(cursor, sizeof cursor, "%s.%s.%" PRId64 ".%" PRId64, sv->epoch,
                 dev->scope_tag, next.seq, next.replay);
    else
        snprintf(cursor, sizeof cursor, "%s.%s.%" PRId64, sv->epoch, dev->scope_tag,
                 next.seq);
    cJSON *a = answer_new();
    int ok = cJSON_AddItemToObject(a, "changes", p.changes);
    if (!ok)
        cJSON_Delete(p.changes);
    ok = ok && cJSON_AddStringToObject(a, "cursor", cursor) != NULL &&
         cJSON_AddNumberToObject(a, "count", (double)p.n) != NULL &&
         cJSON_AddBoolToObject(a, "more", p.n == limit) != NULL;
    a = whole(a, ok);
    mtx_lock(&sv->write_lock);
    if (mq_device_touch(st, dev->name, 0, p.n, cursor, &e) != 0)
        fprintf(stderr, "minqing-server: %s\n", e.message);
    mtx_unlock(&sv->write_lock);
    return reply_sized(conn, MHD_HTTP_OK, a, p.bytes + 256);
}

/* Frees a request and what it holds; NULL-safe. */
static void request_free(request *rq)
{
    if (rq == NULL)
        return;
    mq__buf_free(&rq->body);
    mq__flaws_free(rq->flaws);
    free(rq->flaws);
    free(rq->raw_uri);
    free(rq);
}

/*
 * The head of an authenticated push: a body declared over the limit is
 * refused now if it is past what is worth reading, else read, dropped and
 * answered 413 when it is in (request_body()), so that a client that sends
 * its whole body before it reads still reads why.
 */
static enum MHD_Result push_head(struct MHD_Connection *conn, request *rq,
                                 uint64_t length)
{
    if (length > MQ_PROTO_MAX_DRAIN) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds %zu bytes", MQ_PROTO_MAX_BODY);
        return reply_error_close(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
    }
    if (length > MQ_PROTO_MAX_BODY)
        rq->too_large = 1;
    return MHD_YES;
}

/* ---- the request head -------------------------------------------------- */

/* ASCII case-insensitive equality, for header names and tokens. */
static int same_token(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* What the header lines of a request say about its framing. */
typedef struct head {
    int hosts, lengths, codings;
    const char *length, *coding; /* the first Content-Length, Transfer-Encoding */
    size_t bytes;                /* names and values, as "NAME: VALUE\r\n" */
} head;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    head *h = cls;
    (void)kind;
    h->bytes += strlen(key) + strlen(value) + 4;
    if (same_token(key, MHD_HTTP_HEADER_HOST))
        h->hosts++;
    if (same_token(key, MHD_HTTP_HEADER_CONTENT_LENGTH) && h->lengths++ == 0)
        h->length = value;
    if (same_token(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) && h->codings++ == 0)
        h->coding = value;
    return MHD_YES;
}

/*
 * Checks the head of a request before anything else is done with it, as
 * RFC 9112 asks of a server that must not be fooled about where a request
 * ends: one framing only (a Content-Length, or chunked, never both, never
 * two lengths), exactly one Host in HTTP/1.1, no body on GET, a target and a
 * head within bounds.  A refusal closes the connection, since what follows
 * on it cannot be told apart from a smuggled request.  Returns 0 when the
 * request may go on (`*body` says whether a body follows), else 1 with the
 * answer queued in `*r`.
 */
static int check_head(struct MHD_Connection *conn, const request *rq, const char *method,
                      const char *version, int *body, uint64_t *length,
                      enum MHD_Result *r)
{
    head h;
    char msg[200];
    memset(&h, 0, sizeof h);
    *body = 0;
    *length = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &h);
    int v11 = strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
    if (!v11 && strcmp(version, MHD_HTTP_VERSION_1_0) != 0) {
        *r = reply_error_close(conn, MHD_HTTP_HTTP_VERSION_NOT_SUPPORTED, "bad_version",
                               "this server speaks HTTP/1.1 (and HTTP/1.0)");
        return 1;
    }
    if (rq->raw_uri == NULL || strlen(rq->raw_uri) > MQ_PROTO_MAX_URI) {
        snprintf(msg, sizeof msg, "the request target is longer than %d bytes",
                 MQ_PROTO_MAX_URI);
        *r = reply_error_close(conn, MHD_HTTP_URI_TOO_LONG, "uri_too_long", msg);
        return 1;
    }
    if (h.bytes > MQ_PROTO_MAX_HEAD) {
        snprintf(msg, sizeof msg, "the request's header lines take more than %zu bytes",
                 MQ_PROTO_MAX_HEAD);
        *r = reply_error_close(conn, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                               "head_too_large", msg);
        return 1;
    }
    const char *why = NULL;
    if (v11 && h.hosts != 1)
        why =
            h.hosts ? "several Host headers" : "an HTTP/1.1 request needs a Host header";
    else if (h.hosts > 1)
        why = "several Host headers";
    else if (h.lengths > 1)
        why = "several Content-Length headers: the body's length is ambiguous";
    else if (h.lengths && h.codings)
        why = "both Content-Length and Transfer-Encoding: the body's length is ambiguous";
    else if (h.codings && !v11)
        why = "Transfer-Encoding in an HTTP/1.0 request";
    if (why == NULL && h.length != NULL) {
        size_t n = strlen(h.length);
        if (n == 0 || n > 19 || strspn(h.length, "0123456789") != n)
            why = "Content-Length is not a decimal number";
        else
            *length = strtoull(h.length, NULL, 10);
    }
    if (why != NULL) {
        *r = reply_error_close(conn, MHD_HTTP_BAD_REQUEST, "bad_request", why);
        return 1;
    }
    if (h.codings && (h.codings > 1 || !same_token(h.coding, "chunked"))) {
        *r = reply_error_close(conn, MHD_HTTP_NOT_IMPLEMENTED, "bad_transfer",
                               "the only Transfer-Encoding taken is chunked; better, "
                               "send a Content-Length");
        return 1;
    }
    *body = h.codings || *length > 0;
    int takes_body =
        strcmp(method, "POST") == 0 ||
        (rq->web && (strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0));
    if (*body && !takes_body) {
        *r = reply_error_close(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
                               "only POST takes a body");
        return 1;
    }
    /* "%00" would cut a query value where libmicrohttpd unescapes it. */
    const char *q = strchr(rq->raw_uri, '?');
    if (q != NULL && (strstr(q, "%00") != NULL)) {
        *r = reply_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "the query holds %00, a NUL character");
        return 1;
    }
    return 0;
}

/* ---- requests outside /v1/: the hook (invariant 6) ---------------------- */

/*
 * 1 when the raw target's path is outside the protocol's: not "/v1" nor
 * under "/v1/", in any case ("/V1/session" is the protocol's 404, in its
 * JSON, not the hook's).
 */
static int is_web_path(const char *raw_uri)
{
    size_t n = strcspn(raw_uri, "?");
    int v1 = n >= 3 && raw_uri[0] == '/' && (raw_uri[1] == 'v' || raw_uri[1] == 'V') &&
             raw_uri[2] == '1' && (n == 3 || raw_uri[3] == '/');
    return !v1;
}

static const char *web_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static const char *web_header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static void web_answer_free(mq_server_answer *a)
{
    free(a->body);
    free(a->filename);
    a->body = a->filename = NULL;
}

/*
 * The answer the hook filled, on its way out.  The download's name is
 * reduced to [A-Za-z0-9._-] so that nothing the hook was handed can reach
 * the head; a header the library refuses (a CR or LF in it) is left out.
 */
static enum MHD_Result web_reply(struct MHD_Connection *conn, mq_server_answer *a)
{
    struct MHD_Response *resp =
        a->body != NULL
            ? MHD_create_response_from_buffer_with_free_callback(a->len, a->body, free)
            : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        web_answer_free(a);
        return MHD_NO;
    }
    a->body = NULL; /* the response's now */
    if (a->content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    if (a->filename != NULL) {
        char v[160];
        size_t n = 0;
        for (const char *c = a->filename; *c && n < 100; c++, n++)
            v[n] = (char)((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
                                  *c == '_'
                              ? *c
                              : '_');
        v[n] = '\0';
        char disp[200];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", v);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
    }
    for (size_t i = 0; i < a->nheaders && i < MQ_SERVER_MAX_HEADERS; i++) {
        a->headers[i].name[sizeof a->headers[i].name - 1] = '\0';
        a->headers[i].value[sizeof a->headers[i].value - 1] = '\0';
        MHD_add_response_header(resp, a->headers[i].name, a->headers[i].value);
    }
    unsigned status = a->status >= 100 && a->status <= 599 ? a->status : 500;
    web_answer_free(a);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/*
 * The client behind a trusted proxy: when `peer` is one of
 * mq_server_opts.trusted_proxies, the last address of X-Forwarded-For (the
 * one that proxy added; those before it are the client's word), if it is a
 * numeric address.  `peer` is left as it is otherwise.
 */
static void forwarded_peer(const server *sv, struct MHD_Connection *conn,
                           char peer[MQ_PLATFORM_ADDR_MAX])
{
    size_t i = 0;
    while (i < sv->nproxies && strcmp(sv->proxies[i], peer) != 0)
        i++;
    if (i == sv->nproxies)
        return;
    const char *xff =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For");
    if (xff == NULL)
        return;
    const char *last = strrchr(xff, ',');
    last = last != NULL ? last + 1 : xff;
    last += strspn(last, " \t");
    char text[MQ_PLATFORM_ADDR_MAX], canon[MQ_PLATFORM_ADDR_MAX];
    size_t n = strcspn(last, " \t");
    if (n == 0 || n >= sizeof text || last[n + strspn(last + n, " \t")] != '\0')
        return;
    memcpy(text, last, n);
    text[n] = '\0';
    if (mq_platform_addr_canon(text, canon, sizeof canon) == 0)
        memcpy(peer, canon, sizeof canon);
}

/* Fills sv->proxies from `list` (mq_server_opts.trusted_proxies). */
static int parse_proxies(server *sv, const char *list, mq_error *err)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ",");
        char text[MQ_PLATFORM_ADDR_MAX];
        if (n == 0 || n >= sizeof text)
            return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                "--trusted-proxy: an empty or overlong address in \"%s\"",
                                list);
        memcpy(text, p, n);
        text[n] = '\0';
        if (sv->nproxies == MQ_SERVER_MAX_PROXIES)
            return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                "--trusted-proxy: at most %d addresses",
                                MQ_SERVER_MAX_PROXIES);
        if (mq_platform_addr_canon(text, sv->proxies[sv->nproxies],
                                   sizeof sv->proxies[0]) != 0)
            return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                "--trusted-proxy: \"%s\" is not a numeric address", text);
        sv->nproxies++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* mq_server_request.unlocked: `fn` runs with write_lock, which the hook's
 * call holds, given up meanwhile. */
static int web_unlocked(const mq_server_request *rq, int (*fn)(void *fctx), void *fctx)
{
    mtx_t *lock = rq->lock;
    mtx_unlock(lock);
    int rc = fn(fctx);
    mtx_lock(lock);
    return rc;
}

/* A whole request for the hook: handed over with a store of the pool. */
static enum MHD_Result do_web(server *sv, struct MHD_Connection *conn, const char *method,
                              request *rq, int safe)
{
    if (rq->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds %zu bytes", MQ_PROTO_MAX_BODY);
        return reply_error_close(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg);
    }
    char path[MQ_PROTO_MAX_URI + 1];
    size_t n = strcspn(rq->raw_uri, "?");
    memcpy(path, rq->raw_uri, n);
    path[n] = '\0';
    char peer[MQ_PLATFORM_ADDR_MAX] = "";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL)
        mq_platform_addr_text(ci->client_addr, peer, sizeof peer);
    forwarded_peer(sv, conn, peer);
    mq_server_request wr = {.method = method,
                            .path = path,
                            .arg = web_arg,
                            .header = web_header,
                            .ctx = conn,
                            .body = rq->body.data != NULL ? rq->body.data : "",
                            .body_len = rq->body.len,
                            .peer = peer,
                            .tls = sv->tls,
                            .unlocked = safe ? NULL : web_unlocked,
                            .lock = &sv->write_lock};
    mq_server_answer a;
    memset(&a, 0, sizeof a);
    size_t slot;
    wr.store = acquire(sv, &slot);
    if (!safe)
        mtx_lock(&sv->write_lock);
    int rc = sv->web(sv->web_ctx, &wr, &a);
    if (!safe)
        mtx_unlock(&sv->write_lock);
    release(sv, slot);
    if (rc != 0) {
        web_answer_free(&a);
        return MHD_NO;
    }
    return web_reply(conn, &a);
}

/* ---- routing ----------------------------------------------------------- */

/* The endpoints, by the exact path they are served at (docs/PROTOCOL.md 3). */
static const struct {
    const char *path;
    enum endpoint ep;
    const char *allow;
} endpoints[] = {
    {"/v1/health", EP_HEALTH, "GET, HEAD"}, {"/v1/session", EP_SESSION, "GET, HEAD"},
    {"/v1/push", EP_PUSH, "POST"},          {"/v1/pull", EP_PULL, "GET, HEAD"},
    {"/v1/schema", EP_SCHEMA, "GET, HEAD"}, {"/v1/reports", EP_REPORTS, "GET, HEAD"}};

/* The endpoint whose path is the raw target's path exactly, or -1: no
 * escapes, no trailing slash, nothing after a NUL. */
static int find_endpoint(const char *raw_uri)
{
    size_t n = strcspn(raw_uri, "?");
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (strlen(endpoints[i].path) == n && memcmp(endpoints[i].path, raw_uri, n) == 0)
            return (int)i;
    return -1;
}

static enum MHD_Result do_health(struct MHD_Connection *conn)
{
    cJSON *a = answer_new();
    int ok = cJSON_AddStringToObject(a, "status", "ok") != NULL &&
             cJSON_AddNumberToObject(a, "protocol", MQ_PROTO_VERSION) != NULL;
    return reply(conn, MHD_HTTP_OK, whole(a, ok));
}

/* {"server_time":T,"schema":SCHEMA}: the schema every change is checked
 * against, as the store compiled it (docs/SCHEMA.md). */
static enum MHD_Result do_schema(struct MHD_Connection *conn, mq_store *st)
{
    cJSON *a = answer_new();
    const char *text = mq_store_schema(st);
    cJSON *raw = cJSON_CreateRaw(text);
    int ok = raw != NULL && cJSON_AddItemToObject(a, "schema", raw);
    if (!ok)
        cJSON_Delete(raw);
    return reply_sized(conn, MHD_HTTP_OK, whole(a, ok), strlen(text) + 64);
}

/*
 * Routes a request.  One with a body is routed twice: once on its head
 * (`final` 0), where everything that can be refused without the body is
 * (the path, the method, the token, a declared size), so that an upload
 * without a valid token is never read, and the connection is closed rather
 * than read on; and once the body is in (`final` 1).  A request without a
 * body is answered once it is complete, as libmicrohttpd keeps the
 * connection open only for an answer queued then.
 */
static enum MHD_Result route(server *sv, struct MHD_Connection *conn, const char *method,
                             request *rq, int final, int body, uint64_t length)
{
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int post = strcmp(method, "POST") == 0;
    const answer_how closing = {NULL, body};
    if (rq->web)
        return final ? do_web(sv, conn, method, rq, get) : push_head(conn, rq, length);
    int at = find_endpoint(rq->raw_uri);
    if (at < 0)
        return reply_error_how(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such endpoint",
                               &closing);
    enum endpoint ep = rq->ep = endpoints[at].ep;
    if ((ep == EP_PUSH && !post) || (ep != EP_PUSH && !get)) {
        const answer_how how = {endpoints[at].allow, body};
        return reply_error_how(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "bad_method",
                               ep == EP_PUSH ? "use POST" : "use GET", &how);
    }
    if (ep == EP_HEALTH)
        return do_health(conn);

    /* Invariant 1: the token, against the file, on every request; for a
     * push, on its head and again once its body is in. */
    const char *auth =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth == NULL || strncmp(auth, "Bearer ", 7) != 0)
        return reply_error_how(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                               "send the device token as Authorization: Bearer TOKEN",
                               &closing);
    size_t slot;
    mq_store *st = acquire(sv, &slot);
    mq_device dev;
    mq_error e;
    enum MHD_Result r;
    int rc = mq_device_auth(st, auth + 7, &dev, &e);
    if (rc == MQ_EAUTH) {
        r = reply_error_how(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized", e.message,
                            &closing);
    } else if (rc != 0) {
        r = reply_error_how(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                            e.message, &closing);
    } else {
        if (ep == EP_SESSION)
            r = do_session(conn, &dev);
        else if (ep == EP_SCHEMA)
            r = do_schema(conn, st);
        else if (ep == EP_PULL)
            r = do_pull(sv, conn, st, &dev);
        else if (ep == EP_REPORTS)
            r = mq_server_reports(conn, st, &dev);
        else if (final)
            r = do_push(sv, conn, st, &dev, rq);
        else
            r = push_head(conn, rq, length);
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
    (void)url; /* unescaped, so cut at a "%00": routing uses the raw target */

    if (rq == NULL)
        return MHD_NO; /* on_uri() could not allocate it */
    if (!rq->checked) {
        enum MHD_Result r;
        int body;
        uint64_t length;
        rq->checked = 1;
        rq->web = sv->web != NULL && is_web_path(rq->raw_uri);
        if (check_head(conn, rq, method, version, &body, &length, &r) != 0) {
            watch_phase(&sv->watch, rq->owner, PH_ANSWER, 0);
            return r;
        }
        /* The head is in: now the body is owed, or nothing. */
        watch_phase(&sv->watch, rq->owner, body ? PH_BODY : PH_ANSWER,
                    length > 0 ? length : MQ_PROTO_MAX_DRAIN);
        return body ? route(sv, conn, method, rq, 0, body, length) : MHD_YES;
    }
    if (*upload_size > 0) {
        watch_body(&sv->watch, rq->owner, *upload_size);
        if (!rq->too_large && rq->body.len + *upload_size > MQ_PROTO_MAX_BODY) {
            rq->too_large = 1;
            mq__buf_free(&rq->body);
        }
        if (rq->too_large) {
            /* Dropped, so that the 413 can be read by a client that sends
             * before it reads; a body past the bound ends the connection. */
            rq->dropped += *upload_size;
            if (rq->dropped > MQ_PROTO_MAX_DRAIN)
                return MHD_NO;
        } else if (mq__buf_add(&rq->body, upload_data, *upload_size) != 0) {
            return MHD_NO;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    watch_phase(&sv->watch, rq->owner, PH_ANSWER, 0);
    return route(sv, conn, method, rq, 1, 0, 0);
}

/* The request line is in: a new request on this connection. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_ctx *cc = ci != NULL ? ci->socket_context : NULL;
    request *rq = calloc(1, sizeof *rq);
    size_t n = strlen(uri);
    (void)cls;
    if (rq == NULL || cc == NULL || (rq->raw_uri = malloc(n + 1)) == NULL) {
        free(rq);
        return NULL;
    }
    memcpy(rq->raw_uri, uri, n + 1);
    request_free(cc->pending); /* one that libmicrohttpd never presented */
    cc->pending = rq;
    rq->owner = cc;
    return rq;
}

/* The answer is out (or the request was given up): the next head is due. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *sv = cls;
    request *rq = *con_cls;
    (void)conn;
    (void)toe;
    if (rq != NULL) {
        watch_phase(&sv->watch, rq->owner, PH_HEAD, 0);
        if (rq->owner != NULL && rq->owner->pending == rq)
            rq->owner->pending = NULL;
        request_free(rq);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    server *sv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_ctx *cc = calloc(1, sizeof(conn_ctx));
        *socket_context = cc;
        if (cc != NULL)
            watch_add(&sv->watch, cc, conn);
    } else if (*socket_context != NULL) {
        conn_ctx *cc = *socket_context;
        watch_remove(&sv->watch, cc);
        request_free(cc->pending);
        free(cc);
        *socket_context = NULL;
    }
}

/* ---- serving ----------------------------------------------------------- */

/* Reads a PEM file whole, NUL-terminated; NULL (err filled) when it cannot
 * be read or is empty. */
static char *read_file(const char *path, mq_error *err)
{
    FILE *f = fopen(path, "rb");
    mq__buf b = {0};
    char chunk[4096];
    size_t n;
    if (f == NULL) {
        mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mq__buf_add(&b, chunk, n);
    int rc = 0;
    if (ferror(f))
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, errno, "%s: %s", path,
                          strerror(errno));
    fclose(f);
    if (rc == 0)
        rc = mq__buf_check(&b, path, err);
    if (rc == 0 && b.len == 0)
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL, "%s is empty",
                          path);
    if (rc != 0) {
        mq__buf_free(&b);
        return NULL;
    }
    return b.data;
}

int mq_server_serve(const mq_server_opts *o, mq_error *err)
{
    server sv;
    mq_platform_listener ln = {-1, 0, 0, ""};
    char why[MQ_PLATFORM_WHY_MAX] = "";
    char *cert = NULL, *key = NULL;
    struct MHD_Daemon *d = NULL;
    int locks = 0, rc = 0, watching = 0;
    thrd_t watcher;

    memset(&sv, 0, sizeof sv);
    const char *listen = o->listen ? o->listen : "127.0.0.1:8080";
    if ((o->tls_cert == NULL) != (o->tls_key == NULL))
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "give both --tls-cert and --tls-key, or neither");
    if ((rc = parse_proxies(&sv, o->trusted_proxies, err)) != 0)
        return rc;
    /* Before any thread starts, so that every worker inherits the mask and
     * only the wait below takes SIGINT and SIGTERM. */
    if (mq_platform_block_stop_signals() != 0)
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, errno,
                            "cannot block the stop signals: %s", strerror(errno));

    /* Bound before the file is opened: a typo in --listen is a usage error
     * that leaves no database behind. */
    if (mq_platform_listen(&ln, listen, why, sizeof why) != 0) {
        int e = errno;
        return e == EINVAL ? mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                                          "--listen \"%s\": %s", listen, why)
                           : mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, e,
                                          "--listen \"%s\": %s", listen, why);
    }
    if (o->tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            rc = mq_error_set(err, MQ_ESTATE, MQ_DOMAIN_MINQING, MQ_ESTATE,
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
    sv.web = o->web;
    sv.web_ctx = o->web_ctx;
    sv.watch.head_ms =
        1000 * (int64_t)(o->head_timeout_s ? o->head_timeout_s : HEAD_TIMEOUT_S);
    sv.watch.window_ms =
        1000 * (int64_t)(o->rate_window_s ? o->rate_window_s : RATE_WINDOW_S);
    sv.watch.min_rate = o->min_rate ? o->min_rate : MIN_RATE;
    /* Four looks in the shortest deadline (at most 500 ms apart): a cut comes
     * at most a quarter of it late. */
    int64_t shortest =
        sv.watch.head_ms < sv.watch.window_ms ? sv.watch.head_ms : sv.watch.window_ms;
    sv.watch.tick_ms = shortest / 4 > 500 ? 500u : (unsigned)(shortest / 4);
    sv.tls = cert != NULL;
    sv.stores = calloc(sv.nstores, sizeof(mq_store *));
    sv.busy = calloc(sv.nstores, sizeof *sv.busy);
    if (sv.stores == NULL || sv.busy == NULL) {
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
        goto out;
    }
    if (mtx_init(&sv.pool_lock, mtx_plain) != thrd_success ||
        cnd_init(&sv.pool_cond) != thrd_success ||
        mtx_init(&sv.write_lock, mtx_plain) != thrd_success ||
        mtx_init(&sv.watch.lock, mtx_plain) != thrd_success) {
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                          "cannot create the server's locks");
        goto out;
    }
    locks = 1;
    for (size_t i = 0; i < sv.nstores; i++)
        if ((rc = mq_server_open(&sv.stores[i], o->db_path, err)) != 0)
            goto out;
    if ((rc = mq_server_epoch(sv.stores[0], sv.epoch, err)) != 0)
        goto out;

    /* libmicrohttpd owns the socket from here on: it closes it when it stops,
     * and when it fails to start. */
    int fd = ln.fd;
    ln.fd = -1;
    /* Connections are watched with epoll (or poll), which have no
     * FD_SETSIZE: idle sockets cannot lock tablets out by filling a select()
     * set.  What an idle flood can hold is bounded per address and in all,
     * and an idle connection is closed after a short time.  The descriptor
     * limit is raised to cover the connections, with room for the stores. */
    unsigned files = mq_platform_raise_open_files(MAX_CONNECTIONS + 256);
    unsigned conns = files > 512 ? files - 256 : files / 2;
    if (conns > MAX_CONNECTIONS)
        conns = MAX_CONNECTIONS;
    unsigned flags =
        MHD_USE_ERROR_LOG | (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
                                 ? MHD_USE_EPOLL_INTERNAL_THREAD
                                 : MHD_USE_POLL_INTERNAL_THREAD);
    struct MHD_OptionItem common[] = {
        {MHD_OPTION_LISTEN_SOCKET, fd, NULL},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)sv.nstores, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)conns, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, MAX_CONNECTIONS_PER_IP, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, IDLE_TIMEOUT_S, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)CONNECTION_MEMORY, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, &sv},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, &sv},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, NULL},
        {MHD_OPTION_END, 0, NULL}};
    /* The watchdog before the first connection, and stopped after the last. */
    if (thrd_create(&watcher, watch_run, &sv.watch) != thrd_success) {
        mq_platform_close_socket(fd);
        rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                          "cannot start the server's watchdog");
        goto out;
    }
    watching = 1;
    if (cert != NULL)
        d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, &sv,
                             MHD_OPTION_ARRAY, common, MHD_OPTION_HTTPS_MEM_CERT, cert,
                             MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &sv, MHD_OPTION_ARRAY,
                             common, MHD_OPTION_END);
    if (d == NULL) {
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, errno, "cannot serve on %s: %s",
                          listen,
                          errno ? strerror(errno) : "libmicrohttpd refused to start");
        goto out;
    }
    printf("minqing-server: listening on %s://%s%s%s:%u (%zu threads, %s)\n",
           cert ? "https" : "http", ln.ipv6 ? "[" : "", ln.host, ln.ipv6 ? "]" : "",
           ln.port, sv.nstores, o->db_path);
    fflush(stdout);

    int sig = mq_platform_wait_stop_signal();
    fprintf(stderr, "minqing-server: stopping (signal %d)\n", sig);
    MHD_stop_daemon(d);

out:
    if (watching) {
        mtx_lock(&sv.watch.lock);
        sv.watch.stop = 1;
        mtx_unlock(&sv.watch.lock);
        thrd_join(watcher, NULL);
    }
    mq_platform_close_socket(ln.fd);
    for (size_t i = 0; sv.stores && i < sv.nstores; i++)
        mq_store_close(sv.stores[i]);
    if (locks) {
        mtx_destroy(&sv.pool_lock);
        cnd_destroy(&sv.pool_cond);
        mtx_destroy(&sv.write_lock);
        mtx_destroy(&sv.watch.lock);
    }
    free(sv.stores);
    free(sv.busy);
    free(cert);
    free(key);
    return rc;
}
