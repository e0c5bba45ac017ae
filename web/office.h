/*
 * web/office.h - the office's host of the web app, mounted on
 * `minqing-server serve` through the server's hook (mq_server_opts.web):
 * office accounts with their areas (accounts.c), their sessions and the
 * slowing of failed sign-ins (accounts.c), and the requests of the office's
 * pages (office.c): the app's assets, /api/session, /api/devices, and every
 * other /api/ path handed to mq_web_api() for the signed-in account.
 *
 * Accounts, sessions and failure counts live in the server's file, in
 * tables of their own (prefix office_) kept through minqing/ext.h, so that
 * a removed account or a signed-out session ends at once in every worker
 * and every process of the server.
 *
 * Errors and ownership as in sync/server/server.h: 0 or a negative MQ_E*
 * with the caller's `err` (may be NULL) filled; strings handed in are
 * borrowed for the call; what a call fills in a struct is the struct's,
 * released with its *_clear().
 */
#ifndef MQ_WEB_OFFICE_H
#define MQ_WEB_OFFICE_H

#include <stddef.h>
#include <stdint.h>

#include "minqing/store.h"
#include "server.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A password's least and most bytes. */
#define MQ_OFFICE_PASSWORD_MIN 8
#define MQ_OFFICE_PASSWORD_MAX 256

/** An account name's most characters (the rule of mq_valid_name()). */
#define MQ_OFFICE_NAME_MAX 64

/** How long a session lives without a request, and at most in all. */
#define MQ_OFFICE_IDLE_S     (8 * 3600)
#define MQ_OFFICE_ABSOLUTE_S (24 * 3600)

/** A session token and a CSRF token: 32 random bytes as 64 hex digits. */
#define MQ_OFFICE_TOKEN_HEX 64

/**
 * Makes office account `name` for `areas` (each a live area record) with
 * `password`, stored as PBKDF2-HMAC-SHA256 with a random 16-byte salt and
 * its iteration count; in one transaction.
 * @return 0; MQ_EINVAL for a bad name, a password shorter than
 *         MQ_OFFICE_PASSWORD_MIN or longer than MQ_OFFICE_PASSWORD_MAX, no
 *         areas, or a name already taken; MQ_ENOTFOUND for an area that
 *         does not exist
 */
int mq_office_user_add(mq_store *store, const char *name, const char *password,
                       const char *const *areas, size_t nareas, mq_error *err);

/**
 * Removes account `name` and ends its sessions, in one transaction.
 * @return 0; MQ_ENOTFOUND when there is no such account
 */
int mq_office_user_remove(mq_store *store, const char *name, mq_error *err);

/**
 * Walks the accounts, by name, as JSON objects {"name","areas":[..],
 * "created_ms","sessions"} (never a hash or a salt).  `cb` returns 0 to go
 * on, non-zero to stop; the walk then returns that value.
 */
int mq_office_user_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/** A signed-in account, as a session finds it; mq_office_account_clear(). */
typedef struct mq_office_account {
    char name[MQ_OFFICE_NAME_MAX + 1];
    char csrf[MQ_OFFICE_TOKEN_HEX + 1]; /**< the session's CSRF token */
    char **areas;                       /**< the account's area ids, sorted */
    size_t nareas;
} mq_office_account;

/** Frees what `a` holds and empties it.  NULL-safe. */
void mq_office_account_clear(mq_office_account *a);

/**
 * Runs `fn(fctx)` and returns what it returns, letting the server's other
 * writes go on meanwhile (mq_server_request.unlocked); `runner` is the
 * caller's.  A sign-in derives its password's hash so: some 70 ms of
 * PBKDF2 that writes nothing, and that would otherwise hold every push of
 * the county back while it runs.
 */
typedef int (*mq_office_unlocked_fn)(void *runner, int (*fn)(void *fctx), void *fctx);

/**
 * Signs `name` in with `password` from address `peer`: on success a new
 * session, whose token is written to `token` (shown once: only its SHA-256
 * is kept), and the account in `out`.  Failures are counted per name and
 * per address; past a few of them, sign-ins of that name or from that
 * address are refused for a time that doubles with every further failure,
 * and a success clears both counts.  The password is checked through
 * `unlocked` (NULL: in place); the counts are read again after it, so that
 * attempts checked side by side reveal no more verdicts than the counts
 * allow.
 * @param[out] retry_after_s  when refused for failures: the seconds to wait
 * @return 0; MQ_EAUTH for a wrong name or password; MQ_EREFUSED while
 *         sign-ins are slowed (`*retry_after_s` set)
 */
int mq_office_sign_in(mq_store *store, const char *name, const char *password,
                      const char *peer, mq_office_unlocked_fn unlocked, void *runner,
                      char token[MQ_OFFICE_TOKEN_HEX + 1], mq_office_account *out,
                      int64_t *retry_after_s, mq_error *err);

/**
 * Finds the live session whose token is `token` and its account, and notes
 * its use (idle expiry).
 * @return 0; MQ_EAUTH for a malformed, unknown, expired or signed-out token,
 *         or one whose account was removed
 */
int mq_office_session(mq_store *store, const char *token, mq_office_account *out,
                      mq_error *err);

/** Ends the session of `token`; 0 also when there was none. */
int mq_office_sign_out(mq_store *store, const char *token, mq_error *err);

/**
 * The office's hook, an mq_server_web_fn (`ctx` is unused, NULL): the
 * app's assets at "/", the office's API under "/api/" (docs/UI.md), with
 * the session, CSRF and Origin checks, and security headers on every
 * answer.
 */
int mq_office_handle(void *ctx, const mq_server_request *rq, mq_server_answer *ans);

#ifdef __cplusplus
}
#endif

#endif /* MQ_WEB_OFFICE_H */
