/*
 * minqing/sync.h - synchronising a replica with a minqing server.
 *
 * One call, mq_sync_run(), does a whole sync: it asks the server who this
 * device is and what time it is, pushes this replica's unsent changes in
 * bounded batches, then pulls what is new in the device's areas in bounded
 * pages.  docs/PROTOCOL.md describes the wire; this header is what a front
 * end (the command line, the Android binding) calls.
 *
 * What a sync keeps in the store, as settings (mq_store_setting_get()):
 *   sync.url, sync.token, sync.cacert  remembered after the first sync that
 *                                      the server accepted;
 *   sync.push.cursor, sync.push.batch  how far the push has gone, and the id
 *                                      of a batch sent but not yet answered;
 *   sync.pull.cursor                   the server's cursor of the last page
 *                                      applied.
 * Each is written in the same transaction as the changes it accounts for, so
 * an interrupted sync resumes where it stopped and applies nothing twice.
 *
 * Ownership: strings in mq_sync_opts are borrowed for the duration of the
 * call; the report is the caller's and holds no pointers.  One mq_store is
 * used by one thread at a time, so one sync runs per store at a time.
 */
#ifndef MINQING_SYNC_H
#define MINQING_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How mq_sync_run() should run.  Zero means "the default" for every number. */
typedef struct mq_sync_opts {
    /** base URL, e.g. "https://10.0.0.2:8443"; NULL: the remembered one */
    const char *server_url;
    /** device token printed by `minqing-server device add`; NULL: remembered */
    const char *token;
    /** PEM file of the CA that signed the server's certificate; NULL: the
        remembered one, else the system's CAs */
    const char *cacert;
    /** changes per pushed batch and per pulled page; default and most 5000 */
    size_t batch;
    /** total time, in ms, that retries of one request may take; default 10000,
        so that a server that cannot be reached is reported within seconds */
    unsigned retry_budget_ms;
    /** first backoff delay in ms, doubled at each retry; default 250 */
    unsigned backoff_ms;
    /** time limit of one request in ms; default 600000 (a stalled transfer,
        under 50 bytes/s for 30 s, fails sooner) */
    unsigned timeout_ms;
    /** called with a line of progress or a warning for the user; may be NULL */
    void (*notify)(void *ctx, const char *line);
    void *ctx;
} mq_sync_opts;

/** What mq_sync_run() did.  Filled as far as the sync got, also on failure. */
typedef struct mq_sync_report {
    size_t pushed;           /**< changes sent (in batches the server answered) */
    size_t push_applied;     /**< of them, new to the server */
    size_t push_duplicate;   /**< of them, already on the server */
    size_t push_rejected;    /**< of them, refused: kept in mq_store_rejected() */
    size_t pulled;           /**< changes received */
    size_t pull_applied;     /**< of them, new here */
    size_t pull_duplicate;   /**< of them, already here */
    size_t pull_rejected;    /**< of them, invalid here: kept as rejected */
    size_t batches, pages;   /**< requests of each kind that succeeded */
    size_t retries;          /**< requests repeated after a transient failure */
    uint64_t bytes_sent;     /**< request bodies on the wire (compressed) */
    uint64_t bytes_received; /**< response bodies on the wire (compressed) */
    int64_t clock_skew_ms;   /**< server time minus this device's system time */
    int clock_warning;       /**< 1 when |clock_skew_ms| > 5 minutes */
    int64_t elapsed_ms;      /**< wall time of the whole sync */
} mq_sync_report;

/**
 * Synchronises `store` with its server: push, then pull.
 *
 * Changes that arrived from the server are never pushed back.  A change the
 * server refuses comes back with its reason and is kept with
 * mq_store_reject() (source "server"); the queue moves on past it.  A
 * pulled change that cannot apply here is kept the same way.  Transient
 * failures (connection refused, time-out, HTTP 5xx, a truncated body) are
 * retried with exponential backoff and jitter within opts->retry_budget_ms,
 * with a line through opts->notify at each.  A batch is resent as the same
 * bytes under the same id.  A server whose change log ends before this
 * replica's pull cursor (restored from a backup) is sent every local change
 * again and pulled from the start.
 * The server's time is compared with this device's: the difference becomes
 * the store's clock offset (mq_store_set_clock_offset()) and, above five
 * minutes, a warning through opts->notify.  A replica with no default
 * author (mq_store_cadre()) takes the cadre its device was enrolled for.
 *
 * @param opts    may be NULL when URL and token are remembered
 * @param report  may be NULL
 * @return 0; MQ_EINVAL for missing or bad options (no URL, no token);
 *         MQ_EAUTH when the server refused the token (unknown or revoked);
 *         MQ_EREFUSED when the sync completed but the server refused one or
 *         more changes (see report->push_rejected); MQ_ENET when the server
 *         stayed unreachable or the transfer kept failing past the retry
 *         budget (safe to run again); MQ_EINVAL when the server refused a
 *         request (a 4xx other than 401) or answered past the size bounds;
 *         another error code otherwise.
 */
int mq_sync_run(mq_store *store, const mq_sync_opts *opts, mq_sync_report *report,
                mq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_SYNC_H */
