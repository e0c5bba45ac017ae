/*
 * sync/server/server.h - the minqing server's library, for its front ends
 * (apps/server/main.c, a web host): the server's replica and its sync_*
 * tables (devices.c), the sealed bundles a device carries to the office
 * (sealed.c), and the HTTP front of the sync protocol (http.c).
 *
 * The server is a replica like any tablet: one SQLite file in WAL mode, one
 * mq_store per worker thread over it, the core's merge for every change.
 * Its own tables (prefix sync_: devices, their areas, token hashes, answered
 * batches, the file's epoch) sit beside the core's in that file and are
 * written through the core's seam for parts (minqing/ext.h), in the same
 * transaction as the changes they account for.
 *
 * Errors and ownership, for every function here: a call that can fail
 * returns 0 or a negative MQ_E* code and fills the caller's `err` (may be
 * NULL); strings handed in are borrowed for the duration of the call; what a
 * call hands back through a `char **` is the caller's, freed with free();
 * strings passed to a callback are borrowed until it returns.  A store is
 * used by one thread at a time.  The mq_device_* and mq_batch_* calls take a
 * store opened with mq_server_open(), or any store of a server's file
 * outside a transaction for the first call (that call declares the sync_
 * tables on it).
 */
#ifndef MQ_SYNC_SERVER_H
#define MQ_SYNC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "minqing/store.h"
#include "minqing/seal.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The site name of the server's own replica. */
#define MQ_SERVER_SITE "server"

/** A device, as mq_device_auth() finds it; released with mq_device_clear(). */
typedef struct mq_device {
    char name[65];
    char cadre[65];    /**< the cadre's record id; "" when none */
    char site[40];     /**< the replica's site; "" until the device has synced */
    char **areas;      /**< the device's area ids, sorted; owned by the struct */
    size_t nareas;     /**< entries in `areas` */
    char scope_tag[9]; /**< 8 hex digits naming the set of areas (cursors) */
} mq_device;

/** Frees what mq_device_auth() put in `d` and empties it.  NULL-safe. */
void mq_device_clear(mq_device *d);

/**
 * Opens the server's replica at `path`, creating the file if needed: the
 * core's tables, the site MQ_SERVER_SITE, the sync_* tables and the epoch.
 * @param[out] out  the store, the caller's (mq_store_close())
 * @return 0; MQ_ESTATE when the file is the replica of another site; or an
 *         error of the store
 */
int mq_server_open(mq_store **out, const char *path, mq_error *err);

/**
 * The random id of this server's file (made on first use, then kept), which
 * every pull cursor carries: a cursor from another file is recognised.
 * @param[out] out  16 hex digits and a NUL, in the caller's buffer
 */
int mq_server_epoch(mq_store *store, char out[17], mq_error *err);

/**
 * Enrolls device `name` for `areas` (each must be a live area record) and,
 * when `cadre` is not NULL, for that cadre record; in one transaction.
 * @param[out] token  the device's new token, NUL-terminated, in the caller's
 *                    buffer of `token_size` bytes (at least
 *                    MQ_PROTO_TOKEN_LEN + 1); it is shown once: only its
 *                    SHA-256 is stored
 * @return 0; MQ_EINVAL for a bad name, no areas, a small buffer or a name
 *         already enrolled; MQ_ENOTFOUND for an area or cadre that does not
 *         exist; or a store error
 */
int mq_device_add(mq_store *store, const char *name, const char *const *areas,
                  size_t nareas, const char *cadre, char *token, size_t token_size,
                  mq_error *err);

/**
 * Finds the live device named `name`, as mq_device_auth() finds one by its
 * token (the office opening a device's sealed bundle).
 * @param[out] out  the device, the caller's: mq_device_clear() it after a
 *                  success; left empty on failure
 * @return 0; MQ_ENOTFOUND when no device has that name; MQ_EAUTH when it
 *         has been revoked
 */
int mq_device_find(mq_store *store, const char *name, mq_device *out, mq_error *err);

/**
 * Makes a new bundle key for live device `name` (docs/BUNDLES.md) and keeps
 * it in sync_bundle_keys, replacing the device's old key if it had one: a
 * replaced key opens no bundle any more, and the count of bundles opened
 * (replays) starts again with the new key.
 * @param[out] text  the key as the tablet takes it ("mqk1:OFFICE:DEVICE:KEY"),
 *                   NUL-terminated, in the caller's buffer of `size` bytes
 *                   (at least MQ_SEAL_KEY_TEXT_MAX); shown once
 * @return 0; MQ_ENOTFOUND or MQ_EAUTH as mq_device_find(); MQ_EINVAL for a
 *         small buffer; or a store error
 */
int mq_device_bundle_key(mq_store *store, const char *name, char *text, size_t size,
                         mq_error *err);

/** What mq_server_apply_sealed() opened and applied. */
typedef struct mq_sealed_result {
    char device[65];      /**< the device that sealed it */
    int64_t seq;          /**< its sequence number */
    mq_apply_stats stats; /**< what the bundle's changes did */
} mq_sealed_result;

/**
 * Opens a sealed bundle from `in` with the key of the device it names and
 * applies its changes within that device's areas, as a push from it would
 * be: the bundle's site is claimed for the device, a change outside its
 * areas is an invalid change, and `opts` says what an invalid change does
 * (all or nothing, or kept in the rejected list).  The bundle's sequence is
 * recorded in the same transaction, so a sealed bundle applies once.
 *
 * Refused whole, with nothing written: a file that is not a sealed bundle
 * or is cut short; one sealed for another office (another epoch) or for a
 * device unknown here, revoked or without a bundle key; one that does not
 * authenticate (a changed byte anywhere, another key); one whose sequence
 * is not above the highest opened with this key (a replay); then whatever
 * mq_store_apply_bundle_scoped() refuses.
 * @param[out] out  filled on success (may be NULL)
 * @return 0; MQ_EINVAL with a message naming what is wrong; MQ_EREFUSED
 *         when the bundle's site belongs to another device; or an error of
 *         the store or the input
 */
int mq_server_apply_sealed(mq_store *store, FILE *in, const mq_apply_opts *opts,
                           mq_sealed_result *out, mq_error *err);

/**
 * Revokes device `name`: its token is refused from the next request on,
 * whichever process serves it.  The name stays taken.
 * @return 0; MQ_ENOTFOUND when no live device has that name
 */
int mq_device_revoke(mq_store *store, const char *name, mq_error *err);

/**
 * Walks the devices, by name, as JSON objects {"name", "areas", "cadre",
 * "site", "created_ms", "revoked", "last_seen_ms", "pushed", "pulled",
 * "bundle_key" (a boolean), "bundles_opened" (the highest sequence opened
 * with its key, when it has one)} (never a token, a key or a hash).  `cb` returns 0 to go
 * on, non-zero to stop; the walk then returns that value.
 */
int mq_device_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/**
 * Finds the live device whose token is `token`.
 * @param[out] out  the device, the caller's: mq_device_clear() it after a
 *                  success; left empty on failure
 * @return 0; MQ_EAUTH for a malformed, unknown or revoked token
 */
int mq_device_auth(mq_store *store, const char *token, mq_device *out, mq_error *err);

/**
 * Binds replica `site` to `device` the first time the device syncs from it
 * (a site belongs to one device, and never to the server's own replica).
 * @return 0; MQ_EREFUSED when another device or the server holds the site
 */
int mq_device_claim_site(mq_store *store, const mq_device *device, const char *site,
                         mq_error *err);

/**
 * Notes a device's activity: seen now, `pushed` and `pulled` changes more,
 * and its last pull cursor when `cursor` is not NULL.  Inside the caller's
 * transaction when one is open (mq_store_begin()).
 */
int mq_device_touch(mq_store *store, const char *name, size_t pushed, size_t pulled,
                    const char *cursor, mq_error *err);

/**
 * Looks up batch `batch` of device `device`, answered before.
 * @param[out] response  the stored answer, the caller's (free()); NULL when
 *                       the batch is new
 * @param[out] sha       the SHA-256 (hex) of the batch's body as first
 *                       received, when found
 */
int mq_batch_find(mq_store *store, const char *device, const char *batch, char **response,
                  char sha[65], mq_error *err);

/**
 * Records the answer to a batch, inside the transaction that applied it, so
 * that a batch sent again gets the same answer and changes nothing.
 * @return 0; MQ_EIO (domain SQLite, a constraint) when it was recorded before
 */
int mq_batch_save(mq_store *store, const char *device, const char *batch, const char *sha,
                  const char *response, mq_error *err);

/* ---- requests outside /v1/: the hook of a web host ---------------------- */

/**
 * A request outside /v1/, as the server hands it to mq_server_opts.web once
 * it is whole and its head has passed the server's checks (framing, Host,
 * sizes of head and target).  Everything is borrowed for the call.
 */
typedef struct mq_server_request {
    const char *method; /**< "GET", "HEAD", "POST", "PUT", "DELETE", ... */
    const char *path;   /**< the target as sent, up to its "?", escapes kept */
    /** the value of query argument `name`, unescaped, or NULL; ctx is `ctx` */
    const char *(*arg)(void *ctx, const char *name);
    /** the value of header `name` (any case), or NULL; ctx is `ctx` */
    const char *(*header)(void *ctx, const char *name);
    void *ctx;
    const char *body; /**< NUL-terminated after body_len bytes; "" when none */
    size_t body_len;  /**< at most MQ_PROTO_MAX_BODY (a larger one is a 413) */
    const char *peer; /**< the client's numeric address, "" when unknown
                           (behind a trusted proxy, the one it forwarded) */
    int tls;          /**< 1 when the server serves TLS */
    mq_store *store;  /**< the worker's store, for this call only */
    /**
     * For a request that changes state (the server's writes wait for it):
     * runs fn(fctx) with them free to go on meanwhile, waits for them
     * again, and returns what fn returned.  For a slow step that writes
     * nothing (a password's derivation), outside any transaction of
     * `store`.  NULL for GET and HEAD, which hold nothing back.
     */
    int (*unlocked)(const struct mq_server_request *rq, int (*fn)(void *fctx),
                    void *fctx);
    void *lock; /**< the server's, for `unlocked` only */
} mq_server_request;

/** How many extra headers an answer may carry. */
#define MQ_SERVER_MAX_HEADERS 8

/** One extra header of an answer, e.g. Set-Cookie or Retry-After. */
typedef struct mq_server_header {
    char name[32];
    char value[480];
} mq_server_header;

/**
 * The answer the hook fills (it starts zeroed).  `body` and `filename` are
 * malloc'ed by the hook and freed by the server with free().
 */
typedef struct mq_server_answer {
    unsigned status;          /**< HTTP status; 0 is taken as 500 */
    const char *content_type; /**< a static string; NULL: no Content-Type */
    char *body;               /**< may be NULL when len is 0 */
    size_t len;
    char *filename; /**< a download's name (Content-Disposition), or NULL */
    mq_server_header headers[MQ_SERVER_MAX_HEADERS];
    size_t nheaders;
} mq_server_answer;

/**
 * The hook: answers `rq` in `ans`.  It runs on a worker thread, several at
 * once, each with its own store; a request whose method changes state
 * (anything but GET and HEAD) runs while the server's writes wait, as a push
 * does, so the hook may write without meeting another writer of the server,
 * except inside rq->unlocked().
 * @return 0 when `ans` is filled; non-zero drops the connection (after
 *         freeing what `ans` holds)
 */
typedef int (*mq_server_web_fn)(void *ctx, const mq_server_request *rq,
                                mq_server_answer *ans);

/** How mq_server_serve() runs. */
typedef struct mq_server_opts {
    const char *db_path;            /**< the server's replica */
    const char *listen;             /**< "ADDR:PORT"; port 0 picks a free one */
    const char *tls_cert, *tls_key; /**< PEM files, both or neither */
    unsigned threads;               /**< worker threads (and stores); 0 means 4 */
    unsigned delay_ms;              /**< test knob: wait before answering push and pull */
    /** answers every request outside /v1/; NULL: those are 404 as before */
    mq_server_web_fn web;
    void *web_ctx; /**< handed to `web`; used from several threads at once */
    /**
     * The slow-client rule (docs/PROTOCOL.md, limits): a request head must be
     * in whole within `head_timeout_s` of the connection's opening or of the
     * previous answer's end (0 means 30); a body must bring at least
     * `min_rate` bytes/s (0 means 50) over every `rate_window_s` seconds
     * (0 means 30), and be done within one window plus its length at that
     * rate.  A connection that breaks it is closed.
     */
    unsigned head_timeout_s, min_rate, rate_window_s;
    /**
     * Comma-separated numeric addresses of the reverse proxies in front of
     * the server (at most MQ_SERVER_MAX_PROXIES), or NULL for none.  A
     * request outside /v1/ from one of them is taken as from the last
     * address of its X-Forwarded-For, the one that proxy added
     * (mq_server_request.peer: the office counts failed sign-ins by it).
     * Any other sender's X-Forwarded-For is ignored, since anyone can write
     * one.
     */
    const char *trusted_proxies;
} mq_server_opts;

/** How many addresses mq_server_opts.trusted_proxies may name. */
#define MQ_SERVER_MAX_PROXIES 8

/**
 * Serves the sync protocol until SIGINT or SIGTERM.  Prints "listening on
 * URL" on stdout once ready.
 * @return 0 after a signal; MQ_EINVAL for bad options; or the error that
 *         stopped it from starting
 */
int mq_server_serve(const mq_server_opts *opts, mq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MQ_SYNC_SERVER_H */
