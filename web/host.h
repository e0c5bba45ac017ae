/*
 * web/host.h - the tablet's host of the web app (`minqing ui`, and the
 * Android app's WebView): libmicrohttpd on 127.0.0.1 only, serving the
 * assets compiled in and the JSON API over one store, with a secret made
 * at every start that each API request must carry (X-Minqing-Secret), so
 * that another app of the device, or a web page the tablet visits, cannot
 * drive it (docs/UI.md).
 *
 * Threads: the host answers on one thread of its own, so the store it is
 * given is used by one thread at a time; a sync (POST /api/sync) runs on
 * another thread with a store handle of its own on the same file.
 *
 * Ownership: the store and the strings of the options are borrowed until
 * mq_web_host_stop(); the host is the caller's, freed by that call.
 */
#ifndef MQ_WEB_HOST_H
#define MQ_WEB_HOST_H

#include "minqing/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_web_host mq_web_host;

/** How to start the host. */
typedef struct mq_web_host_opts {
    mq_store *store;     /**< the store the API answers from; initialised */
    const char *db_path; /**< its file, which a sync opens on its own */
    /** "127.0.0.1:PORT" (PORT 0: the system picks one); NULL for
     *  "127.0.0.1:0".  Any other address is refused. */
    const char *listen;
} mq_web_host_opts;

/**
 * Binds, makes the secret and starts answering.  Call
 * mq_platform_block_stop_signals() first when the caller waits for a
 * signal: the host's threads inherit the mask.
 *
 * @param[out] out  the running host, the caller's (mq_web_host_stop())
 * @return 0; MQ_EINVAL for a bad or non-loopback `listen` (the message
 *         says which); MQ_EIO when the port cannot be bound or the
 *         platform gives no randomness
 */
int mq_web_host_start(mq_web_host **out, const mq_web_host_opts *o, mq_error *err);

/** The address to open, "http://127.0.0.1:PORT/#k=SECRET".  Borrowed. */
const char *mq_web_host_url(const mq_web_host *h);

/** The port bound. */
unsigned mq_web_host_port(const mq_web_host *h);

/** Stops answering, waits for a sync that runs, and frees the host.
 *  NULL-safe. */
void mq_web_host_stop(mq_web_host *h);

#ifdef __cplusplus
}
#endif

#endif /* MQ_WEB_HOST_H */
