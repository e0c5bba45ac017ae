/*
 * web/web.h - the web app's JSON API over one store (docs/UI.md), and the
 * app's assets compiled in, for the app's two hosts: the tablet's
 * (web/host.c, `minqing ui`) and the office's (web/office.c, mounted on
 * `minqing-server serve`).
 *
 * The API knows no HTTP library: a host hands it a request already read
 * (method, path, query, body) and the *who* that asks, and sends back the
 * answer it fills.  Scope is checked here, for every read and write, from
 * the who's areas; the hosts check only who is asking (the tablet's secret,
 * the office's session and CSRF token).
 *
 * Ownership: everything a request or who points to is borrowed for the
 * call; what an answer holds is the answer's, freed by mq_web_answer_free().
 */
#ifndef MQ_WEB_H
#define MQ_WEB_H

#include <stddef.h>

#include "minqing/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Who asks: the tablet's cadre, or an office account. */
typedef struct mq_web_who {
    int office;               /**< 0: the tablet's host; 1: the office's */
    const char *name;         /**< the account's name, or the cadre's */
    const char *cadre;        /**< the cadre's record id; NULL at the office */
    const char *const *areas; /**< the areas the who may read and write */
    size_t nareas;            /**< 0 with `all` set: the whole store (tablet) */
    int all;                  /**< 1: no area limit (the tablet's own store) */
    const char *csrf;         /**< the session's CSRF token, echoed by /api/me */
} mq_web_who;

/** One API request, read by a host. */
typedef struct mq_web_request {
    const char *method; /**< "GET", "POST", "PUT", "DELETE" */
    const char *path;   /**< "/api/...", e.g. "/api/households/ID", no query */
    /** the value of query argument `name`, or NULL; `ctx` is arg_ctx */
    const char *(*arg)(void *ctx, const char *name);
    void *arg_ctx;
    const char *body; /**< may be NULL when body_len is 0; not NUL-terminated */
    size_t body_len;
} mq_web_request;

/** An answer, filled by the API; the host sends it and frees it. */
typedef struct mq_web_answer {
    unsigned status;          /**< HTTP status */
    const char *content_type; /**< static string */
    char *body;               /**< the answer's, malloc'ed */
    size_t len;
    char *filename; /**< set for a download (Content-Disposition); malloc'ed */
} mq_web_answer;

/** Frees what an answer holds and empties it.  NULL-safe. */
void mq_web_answer_free(mq_web_answer *a);

/**
 * Answers one API request of `who` over `store` (docs/UI.md): routes it,
 * checks its input and its scope, reads or writes the store, and fills
 * `ans`, also for a refusal (a 4xx with a JSON error).  A refused request
 * writes nothing.
 * @return 0 when `ans` is filled (whatever its status); MQ_ENOMEM when not
 */
int mq_web_api(mq_store *store, const mq_web_who *who, const mq_web_request *rq,
               mq_web_answer *ans);

/** One asset of the app, compiled in. */
typedef struct mq_web_asset {
    const char *path;         /**< e.g. "/app.js"; "/" is index.html */
    const char *content_type; /**< e.g. "text/javascript; charset=utf-8" */
    const char *etag;         /**< a quoted strong ETag, from the file's SHA-256 */
    const unsigned char *data;
    size_t len;
} mq_web_asset;

/**
 * The asset served at `path` (the path of the request, without its query),
 * or NULL: "/" is "/index.html".  Borrowed, static.
 */
const mq_web_asset *mq_web_asset_find(const char *path);

#ifdef __cplusplus
}
#endif

#endif /* MQ_WEB_H */
