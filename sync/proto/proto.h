/*
 * sync/proto/proto.h - what both ends of the sync protocol share: the limits
 * of docs/PROTOCOL.md, gzip bodies, growable byte buffers, device tokens and
 * their hashes.  Errors are filled with mq_error_set() (minqing/error.h).
 *
 * Internal to sync/: the client (sync/client) and the server (sync/server)
 * include it; front ends use minqing/sync.h.
 */
#ifndef MQ_SYNC_PROTO_H
#define MQ_SYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "minqing/error.h"
#include "minqing/valid.h"

/* ---- limits (docs/PROTOCOL.md, "Limits") ------------------------------- */

/** Protocol version; the path prefix is "/v1". */
#define MQ_PROTO_VERSION 1
/** Largest request or response body on the wire (gzip-compressed). */
#define MQ_PROTO_MAX_BODY ((size_t)4 * 1024 * 1024)
/** Largest body once inflated: guards against compression bombs. */
#define MQ_PROTO_MAX_INFLATED ((size_t)16 * 1024 * 1024)
/**
 * The server reads and drops a request body over MQ_PROTO_MAX_BODY up to
 * this many bytes before it answers 413, so that a client that sends before
 * it reads gets the answer; a body declared longer is refused on its head.
 */
#define MQ_PROTO_MAX_DRAIN ((size_t)16 * 1024 * 1024)
/** Most changes in one pushed batch or one pulled page. */
#define MQ_PROTO_MAX_BATCH 5000
/** Changes per pull page when a client does not say (the server's default). */
#define MQ_PROTO_DEFAULT_BATCH 1000
/**
 * Changes per batch and page the reference client asks for: the most the
 * protocol allows.  Every batch costs a round trip and a synced commit on
 * both sides (about 15 ms on loopback, a 300 ms round trip on 2G), while a
 * 5000-change batch of household records is about 300 KB on the wire: 25 s
 * at 100 kbit/s, the most a dropped connection can waste.
 */
#define MQ_PROTO_CLIENT_BATCH MQ_PROTO_MAX_BATCH
/** A client keeps each inflated push body under this many bytes. */
#define MQ_PROTO_SOFT_INFLATED ((size_t)3 * 1024 * 1024)
/** A batch id: 1 to 64 characters of [A-Za-z0-9_.-]. */
#define MQ_PROTO_BATCH_ID_MAX 64
/** A site: 1 to 32 characters of [A-Za-z0-9_.-], the rule of mq_store_init(). */
#define MQ_PROTO_SITE_MAX 32
/** Longest request target (path and query) the server reads, in bytes. */
#define MQ_PROTO_MAX_URI 4096
/** Longest request head (all header lines, names and values), in bytes. */
#define MQ_PROTO_MAX_HEAD ((size_t)16 * 1024)
/** A device token: "mqt_" then 64 hex digits (32 random bytes). */
#define MQ_PROTO_TOKEN_LEN 68
/** Clock difference above which the user is told that the clock is wrong. */
#define MQ_PROTO_CLOCK_WARN_MS ((int64_t)5 * 60 * 1000)

/* ---- buffers ----------------------------------------------------------- */

/**
 * A growable byte buffer, for bodies as they arrive.  `data` is
 * NUL-terminated when non-NULL.  Sticky: an append that runs out of memory
 * frees the data and sets `failed`, and every later append does nothing, so
 * that a caller appends freely and checks once, with mq__buf_check(),
 * before it uses the data.  Zero-initialised ({0}) is an empty buffer.
 */
typedef struct mq__buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} mq__buf;

/** Appends `n` bytes.  Returns 0, or MQ_ENOMEM when this or an earlier append failed. */
int mq__buf_add(mq__buf *b, const void *p, size_t n);
/** Appends a NUL-terminated string, as mq__buf_add(). */
int mq__buf_puts(mq__buf *b, const char *s);
/**
 * 0 when every append so far succeeded; otherwise fills `err` with an
 * out-of-memory error naming `what` (e.g. "the answer of GET /v1/pull") and
 * returns MQ_ENOMEM.
 */
int mq__buf_check(const mq__buf *b, const char *what, mq_error *err);
/** Frees the data and empties the buffer, which may then be used again. */
void mq__buf_free(mq__buf *b);

/* ---- gzip -------------------------------------------------------------- */

/**
 * Compresses `n` bytes into a gzip member.
 * @param[out] out  the compressed bytes, the caller's (free())
 */
int mq__gzip(const void *in, size_t n, unsigned char **out, size_t *out_len,
             mq_error *err);

/**
 * Inflates a gzip body into a NUL-terminated buffer of at most `max` bytes.
 * @param[out] out  the inflated bytes, the caller's (free())
 * @return 0; MQ_EINVAL when the body is not gzip or is truncated (the stream
 *         ends before its trailer); MQ_EREFUSED when it inflates past `max`
 */
int mq__gunzip(const void *in, size_t n, size_t max, char **out, size_t *out_len,
               mq_error *err);

/* ---- text from the wire ------------------------------------------------ */

/**
 * A copy of `s` in which each byte that does not begin a well-formed UTF-8
 * character (an overlong form, a surrogate, past U+10FFFF, a cut sequence)
 * is replaced by U+FFFD.  For text that came in a request and goes back out
 * in an answer: an answer is always valid UTF-8, whatever was sent.
 * @return the copy, the caller's (free()); NULL when out of memory
 */
char *mq__utf8_clean(const char *s);

/**
 * Called by mq__json_flaws() for each value that cJSON would store other than
 * as sent.  `element` is the index of the element of the keyed array the flaw
 * lies in, or -1 outside it; `at` is the flaw's byte offset in the text;
 * `what` says what is wrong, in a sentence.  Returns 0 to go on.
 */
typedef int (*mq__json_flaw_cb)(void *ctx, long element, size_t at, const char *what);

/**
 * Walks a JSON text that cJSON has parsed (so well-formed) for what cJSON
 * would silently change: a "\u0000" escape in a string or a key (cJSON's
 * strings end at a NUL, so the value would be cut), and a number outside
 * the range of a double (1e400 would become null, 1e-400 zero).  Flaws are
 * attributed to the elements of the array that is the value of the
 * top-level member `key` (e.g. "changes"), so that a push can refuse one
 * change rather than the batch.
 * @return the number of flaws reported
 */
size_t mq__json_flaws(const char *text, const char *key, mq__json_flaw_cb cb, void *ctx);

/** What mq__flaws_find() found in a body: the first flaw of each element of
 *  its keyed array, and the first one outside it. */
typedef struct mq__flaws {
    char **why; /* n of them: "invalid: at byte B of the body: ...", or NULL */
    size_t n;
    char outside[MQ_ERROR_MESSAGE_MAX]; /* "at byte B: ...", or "" */
} mq__flaws;

/**
 * mq__json_flaws() over `text`, whose array under `key` has `n` elements,
 * collected into `out` (cleared first; free it with mq__flaws_free()).  The
 * one check both ends make on a body of changes before its changes reach a
 * store: a pushed batch on the server, a pulled page on the client.
 * @return 0, or MQ_ENOMEM (out is then freed)
 */
int mq__flaws_find(mq__flaws *out, const char *text, const char *key, size_t n);

/** Frees what mq__flaws_find() put in `f`; NULL-safe. */
void mq__flaws_free(mq__flaws *f);

/* ---- tokens and ids ---------------------------------------------------- */

/** Writes `nbytes` random bytes as 2*nbytes hex digits and a NUL into `out`. */
int mq__random_hex(char *out, size_t nbytes, mq_error *err);

/** A new device token: "mqt_" + 64 hex digits, NUL-terminated. */
int mq__token_new(char out[MQ_PROTO_TOKEN_LEN + 1], mq_error *err);

/** SHA-256 of `s` (its bytes, no terminator) as 64 lowercase hex digits. */
int mq__sha256_hex(const void *data, size_t n, char out[65], mq_error *err);

#endif /* MQ_SYNC_PROTO_H */
