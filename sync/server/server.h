/*
 * sync/server/server.h - what the files of the minqing server share: the
 * sync_* tables that sit beside the core's tables in the server's replica
 * (devices.c), and the HTTP front (http.c) that main.c starts.
 *
 * The server is a replica like any tablet: one SQLite file in WAL mode, one
 * mq_store per worker thread over it, the core's merge for every change.
 * Its own tables (prefix sync_) are written through mq__store_db() in the
 * same transaction as the changes they account for.
 */
#ifndef MQ_SYNC_SERVER_H
#define MQ_SYNC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "minqing/store.h"

/** The site name of the server's own replica. */
#define MQ_SERVER_SITE "server"

/** A device, as authentication finds it. */
typedef struct mq__device {
    char name[65];
    char cadre[65]; /* "" when none */
    char site[40];  /* "" until the device has synced */
    char **areas;   /* owned */
    size_t nareas;
    char scope_tag[9]; /* 8 hex digits naming the set of areas (cursors) */
} mq__device;

/** Frees what mq__device_auth() put in `d`. */
void mq__device_clear(mq__device *d);

/** Opens the server's replica at `path`: core tables, site, sync_* tables. */
int mq__server_open(mq_store **out, const char *path, mq_error *err);

/** The random id of this server's file, 16 hex digits (cursors carry it). */
int mq__server_epoch(mq_store *store, char out[17], mq_error *err);

/**
 * Enrolls a device for `areas` (each must be an area record) and returns its
 * token in `token` (shown once; only its hash is stored).
 */
int mq__device_add(mq_store *store, const char *name, const char *const *areas,
                   size_t nareas, const char *cadre, char *token, size_t token_size,
                   mq_error *err);

/** Revokes device `name`: its token is refused from the next request on. */
int mq__device_revoke(mq_store *store, const char *name, mq_error *err);

/** Walks the devices as JSON objects (no token hashes). */
int mq__device_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/**
 * Finds the live device whose token is `token`.
 * @return 0; MQ_EAUTH for an unknown or revoked token
 */
int mq__device_auth(mq_store *store, const char *token, mq__device *out, mq_error *err);

/**
 * Binds replica `site` to `device` (a site belongs to one device, and never
 * to the server's own replica).
 * @return 0; MQ_EREFUSED when another device or the server holds the site
 */
int mq__device_claim_site(mq_store *store, const mq__device *device, const char *site,
                          mq_error *err);

/** Notes a device's activity: last seen, changes pushed and pulled, cursor. */
int mq__device_touch(mq_store *store, const char *name, size_t pushed, size_t pulled,
                     const char *cursor, mq_error *err);

/**
 * Looks up an answered batch.
 * @param[out] response  the stored answer, the caller's (free()); NULL if new
 * @param[out] sha       the SHA-256 of the batch's body as first received
 */
int mq__batch_find(mq_store *store, const char *device, const char *batch,
                   char **response, char sha[65], mq_error *err);

/** Records an answered batch; in the transaction that applied it. */
int mq__batch_save(mq_store *store, const char *device, const char *batch,
                   const char *sha, const char *response, mq_error *err);

/** How the HTTP front runs. */
typedef struct mq__serve_opts {
    const char *db_path;
    const char *listen; /* "ADDR:PORT", port 0 picks a free one */
    const char *tls_cert, *tls_key;
    unsigned threads;
    unsigned delay_ms; /* test knob: wait before answering push and pull */
} mq__serve_opts;

/** Serves until SIGINT or SIGTERM.  Prints "listening on URL" once ready. */
int mq__serve(const mq__serve_opts *opts, mq_error *err);

#endif /* MQ_SYNC_SERVER_H */
