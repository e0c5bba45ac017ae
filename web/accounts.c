/*
 * web/accounts.c - the office's accounts, their sessions and the slowing of
 * failed sign-ins, in the server's file beside the sync_ tables, kept
 * through the core's seam for parts (minqing/ext.h):
 *
 *   office_users(name, salt, iterations, hash, created_ms)
 *                                  a password is kept as PBKDF2-HMAC-SHA256
 *                                  (libcrypto) of a random 16-byte salt, with
 *                                  the count it was made with, so the count
 *                                  can grow without breaking old accounts;
 *   office_user_areas(user, area)  the areas an account reads and writes;
 *   office_sessions(token_hash, user, csrf, created_ms, last_ms)
 *                                  SHA-256 of the session's token (never the
 *                                  token), its CSRF token and its times;
 *   office_throttle(key, failures, last_ms, until_ms)
 *                                  failed sign-ins per "name:N" and per
 *                                  "peer:ADDR", and until when they are
 *                                  refused.
 *
 * Invariants:
 *   1. A session is live only while its account exists, it was used within
 *      MQ_OFFICE_IDLE_S and made within MQ_OFFICE_ABSOLUTE_S: the lookup
 *      joins the account, so removing one ends its sessions even in a worker
 *      that holds none of its rows.
 *   2. Every comparison of a secret (hash, token) is constant-time; an
 *      unknown name costs a derivation as a known one does, so the time of
 *      an answer does not tell which names exist.
 *   3. A sign-in refused while slowed checks no password and counts no
 *      failure: the refusal costs nothing and cannot grow the wait.  The
 *      counts are read before and again after the password's check, which
 *      runs without holding the server's writes back (several at once): an
 *      attempt that other failures slowed meanwhile is refused, its
 *      verdict untold and uncounted.
 */
#include "office.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "minqing/ext.h"
#include "minqing/valid.h"
#include "platform.h"

/*
 * PBKDF2's count: about 50 to 100 ms of one core of a county's server, which
 * a sign-in affords and a guesser with a stolen file pays per guess.
 */
#define PBKDF2_ITERATIONS 200000
#define SALT_BYTES        16
#define HASH_BYTES        32

/* Failures before sign-ins are slowed: per name, and per address (where a
 * township's PCs sit behind one NAT, so more); the first wait, doubled with
 * each further failure, and its cap.  A count is forgotten after an hour
 * without failures. */
#define NAME_FAILURES 5
#define PEER_FAILURES 20
#define FIRST_WAIT_S  5
#define MAX_WAIT_S    900
#define FORGET_MS     ((int64_t)3600 * 1000)

/* Don't touch a session's last use more often than this (a write per GET). */
#define TOUCH_MS ((int64_t)60 * 1000)

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS office_users("
    " name TEXT PRIMARY KEY,"
    " salt TEXT NOT NULL,"
    " iterations INTEGER NOT NULL,"
    " hash TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS office_user_areas("
    " user TEXT NOT NULL REFERENCES office_users(name),"
    " area TEXT NOT NULL,"
    " PRIMARY KEY(user, area));"
    "CREATE TABLE IF NOT EXISTS office_sessions("
    " token_hash TEXT PRIMARY KEY,"
    " user TEXT NOT NULL,"
    " csrf TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS office_sessions_user ON office_sessions(user);"
    "CREATE TABLE IF NOT EXISTS office_throttle("
    " key TEXT PRIMARY KEY,"
    " failures INTEGER NOT NULL,"
    " last_ms INTEGER NOT NULL,"
    " until_ms INTEGER NOT NULL);";

/* The office_ part of `store`, declared on first use (outside a transaction). */
static int part(mq_store *store, mq_ext **out, mq_error *err)
{
    return mq_ext_open(out, store, "office_", SCHEMA_SQL, err);
}

static int fail(mq_error *err, int rc, const char *msg)
{
    return mq_error_set(err, rc, MQ_DOMAIN_MINQING, rc, "%s", msg);
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Reads 2n hex digits into n bytes; 0, or -1 when `hex` is not that. */
static int from_hex(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (unsigned char)(v << 4);
        else
            out[i / 2] |= (unsigned char)v;
    }
    return 0;
}

/* `n` random bytes as 2n hex digits. */
static int random_hex(char *out, size_t n, mq_error *err)
{
    unsigned char b[64];
    if (n > sizeof b || mq_platform_random(b, n) != 0)
        return fail(err, MQ_EIO, "cannot read random bytes from the system");
    to_hex(b, n, out);
    OPENSSL_cleanse(b, sizeof b);
    return 0;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), d);
    to_hex(d, sizeof d, out);
}

static int derive(const char *password, const unsigned char *salt, int64_t iterations,
                  unsigned char out[HASH_BYTES], mq_error *err)
{
    if (iterations < 1 || iterations > 100000000 ||
        PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, SALT_BYTES,
                          (int)iterations, EVP_sha256(), HASH_BYTES, out) != 1)
        return fail(err, MQ_EIO, "the password's hash cannot be computed (libcrypto)");
    return 0;
}

/* 0 when `id` is a live area record; else an explained error. */
static int check_area(mq_store *store, const char *id, mq_error *err)
{
    char *json = NULL;
    mq_error e;
    int rc = mq_store_get(store, id, &json, &e);
    if (rc == MQ_ENOTFOUND)
        return mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                            "no area with id \"%s\" on this server", id);
    if (rc != 0) {
        if (err != NULL)
            *err = e;
        return rc;
    }
    cJSON *j = cJSON_Parse(json);
    mq_free(json);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    int ok = cJSON_IsString(t) && strcmp(t->valuestring, "area") == 0 &&
             !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "deleted"));
    cJSON_Delete(j);
    if (!ok)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "record \"%s\" is not a live area", id);
    return 0;
}

static int check_name(const char *name, mq_error *err)
{
    if (name == NULL || !mq_valid_name(name, MQ_OFFICE_NAME_MAX))
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "account name \"%s\": 1 to %d characters of [A-Za-z0-9_.-]",
                            name ? name : "", MQ_OFFICE_NAME_MAX);
    return 0;
}

int mq_office_user_add(mq_store *store, const char *name, const char *password,
                       const char *const *areas, size_t nareas, mq_error *err)
{
    mq_ext *x;
    int rc;
    if ((rc = check_name(name, err)) != 0)
        return rc;
    size_t plen = password != NULL ? strlen(password) : 0;
    if (plen < MQ_OFFICE_PASSWORD_MIN || plen > MQ_OFFICE_PASSWORD_MAX)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "account %s: the password has %zu bytes; give %d to %d", name,
                            plen, MQ_OFFICE_PASSWORD_MIN, MQ_OFFICE_PASSWORD_MAX);
    if (nareas == 0)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "account %s: give at least one --area AREA_ID", name);
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    for (size_t i = 0; i < nareas; i++)
        if ((rc = check_area(store, areas[i], err)) != 0)
            return rc;

    unsigned char salt[SALT_BYTES], hash[HASH_BYTES];
    char salt_hex[2 * SALT_BYTES + 1], hash_hex[2 * HASH_BYTES + 1];
    if (mq_platform_random(salt, sizeof salt) != 0)
        return fail(err, MQ_EIO, "cannot read random bytes from the system");
    if ((rc = derive(password, salt, PBKDF2_ITERATIONS, hash, err)) != 0)
        return rc;
    to_hex(salt, sizeof salt, salt_hex);
    to_hex(hash, sizeof hash, hash_hex);
    OPENSSL_cleanse(hash, sizeof hash);

    if ((rc = mq_store_begin(store, err)) != 0)
        return rc;
    mq_error e;
    mq_ext_value u[] = {mq_ext_text(name), mq_ext_text(salt_hex),
                        mq_ext_int(PBKDF2_ITERATIONS), mq_ext_text(hash_hex),
                        mq_ext_int(mq_platform_time_ms())};
    rc = mq_ext_run(x,
                    "INSERT INTO office_users(name, salt, iterations, hash, created_ms)"
                    " VALUES(?, ?, ?, ?, ?)",
                    u, 5, NULL, NULL, &e);
    if (rc != 0 && mq_ext_is_constraint(&e))
        rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                          "account %s already exists (remove it first to change it)",
                          name);
    else if (rc != 0 && err != NULL)
        *err = e;
    for (size_t i = 0; rc == 0 && i < nareas; i++) {
        mq_ext_value a[] = {mq_ext_text(name), mq_ext_text(areas[i])};
        rc = mq_ext_run(x, "INSERT OR IGNORE INTO office_user_areas VALUES(?, ?)", a, 2,
                        NULL, NULL, err);
    }
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0)
        mq_store_rollback(store);
    return rc;
}

int mq_office_user_remove(mq_store *store, const char *name, mq_error *err)
{
    mq_ext *x;
    int rc;
    if ((rc = check_name(name, err)) != 0 || (rc = part(store, &x, err)) != 0)
        return rc;
    if ((rc = mq_store_begin(store, err)) != 0)
        return rc;
    mq_ext_value v = mq_ext_text(name);
    rc = mq_ext_run(x, "DELETE FROM office_users WHERE name = ?", &v, 1, NULL, NULL, err);
    int64_t gone = rc == 0 ? mq_ext_changes(x) : 0;
    if (rc == 0)
        rc = mq_ext_run(x, "DELETE FROM office_user_areas WHERE user = ?", &v, 1, NULL,
                        NULL, err);
    if (rc == 0)
        rc = mq_ext_run(x, "DELETE FROM office_sessions WHERE user = ?", &v, 1, NULL,
                        NULL, err);
    if (rc == 0 && gone == 0)
        rc = mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                          "no office account named \"%s\"", name);
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0)
        mq_store_rollback(store);
    return rc;
}

typedef struct list_walk {
    mq_json_cb cb;
    void *ctx;
    mq_error *err;
} list_walk;

static int list_row(void *ctx, const mq_ext_value *c, size_t n)
{
    list_walk *w = ctx;
    if (n != 4)
        return mq_error_set(w->err, MQ_ECORRUPT, MQ_DOMAIN_MINQING, MQ_ECORRUPT,
                            "listing the office accounts: a row of %zu columns", n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c[0].type == MQ_EXT_TEXT ? c[0].text : "");
    cJSON *areas = c[1].type == MQ_EXT_TEXT ? cJSON_Parse(c[1].text) : NULL;
    cJSON_AddItemToObject(o, "areas", areas ? areas : cJSON_CreateArray());
    cJSON_AddNumberToObject(o, "created_ms", (double)c[2].i);
    cJSON_AddNumberToObject(o, "sessions", (double)c[3].i);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return fail(w->err, MQ_ENOMEM, "out of memory");
    int rc = w->cb(w->ctx, text);
    cJSON_free(text);
    return rc;
}

int mq_office_user_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err)
{
    mq_ext *x;
    list_walk w = {cb, ctx, err};
    int rc = part(store, &x, err);
    if (rc != 0)
        return rc;
    return mq_ext_run(x,
                      "SELECT u.name,"
                      " (SELECT json_group_array(area) FROM"
                      "   (SELECT area FROM office_user_areas WHERE user = u.name"
                      "    ORDER BY area)),"
                      " u.created_ms,"
                      " (SELECT count(*) FROM office_sessions WHERE user = u.name)"
                      " FROM office_users u ORDER BY u.name",
                      NULL, 0, list_row, &w, err);
}

void mq_office_account_clear(mq_office_account *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nareas; i++)
        free(a->areas[i]);
    free(a->areas);
    memset(a, 0, sizeof *a);
}

/* Row callback: appends the first column to the account's areas. */
static int take_area(void *ctx, const mq_ext_value *c, size_t n)
{
    mq_office_account *a = ctx;
    if (n < 1 || c[0].type != MQ_EXT_TEXT)
        return 0;
    char **more = realloc(a->areas, (a->nareas + 1) * sizeof *more);
    if (more == NULL)
        return MQ_ENOMEM;
    a->areas = more;
    size_t len = strlen(c[0].text) + 1;
    if ((a->areas[a->nareas] = malloc(len)) == NULL)
        return MQ_ENOMEM;
    memcpy(a->areas[a->nareas++], c[0].text, len);
    return 0;
}

static int load_areas(mq_ext *x, mq_office_account *a, mq_error *err)
{
    mq_ext_value v = mq_ext_text(a->name);
    int rc =
        mq_ext_run(x, "SELECT area FROM office_user_areas WHERE user = ? ORDER BY area",
                   &v, 1, take_area, a, err);
    if (rc == MQ_ENOMEM)
        return fail(err, MQ_ENOMEM, "out of memory");
    return rc;
}

/* ---- slowing failed sign-ins ------------------------------------------- */

typedef struct throttle_row {
    int found;
    int64_t failures, last_ms, until_ms;
} throttle_row;

static int take_throttle(void *ctx, const mq_ext_value *c, size_t n)
{
    throttle_row *t = ctx;
    if (n == 3) {
        t->found = 1;
        t->failures = c[0].i;
        t->last_ms = c[1].i;
        t->until_ms = c[2].i;
    }
    return 0;
}

static int throttle_get(mq_ext *x, const char *key, throttle_row *t, mq_error *err)
{
    memset(t, 0, sizeof *t);
    mq_ext_value v = mq_ext_text(key);
    return mq_ext_run(x,
                      "SELECT failures, last_ms, until_ms FROM office_throttle"
                      " WHERE key = ?",
                      &v, 1, take_throttle, t, err);
}

/* Counts one failure of `key`, and slows it past `limit` failures. */
static int throttle_fail(mq_ext *x, const char *key, int64_t limit, int64_t now,
                         mq_error *err)
{
    throttle_row t;
    int rc = throttle_get(x, key, &t, err);
    if (rc != 0)
        return rc;
    if (!t.found || now - t.last_ms > FORGET_MS)
        t.failures = 0;
    t.failures++;
    int64_t until = 0;
    if (t.failures >= limit) {
        int64_t wait = FIRST_WAIT_S;
        for (int64_t i = limit; i < t.failures && wait < MAX_WAIT_S; i++)
            wait *= 2;
        until = now + (wait < MAX_WAIT_S ? wait : MAX_WAIT_S) * 1000;
    }
    mq_ext_value v[] = {mq_ext_text(key), mq_ext_int(t.failures), mq_ext_int(now),
                        mq_ext_int(until)};
    return mq_ext_run(x, "INSERT OR REPLACE INTO office_throttle VALUES(?, ?, ?, ?)", v,
                      4, NULL, NULL, err);
}

static int throttle_clear(mq_ext *x, const char *key, mq_error *err)
{
    mq_ext_value v = mq_ext_text(key);
    return mq_ext_run(x, "DELETE FROM office_throttle WHERE key = ?", &v, 1, NULL, NULL,
                      err);
}

/* ---- sign-in and sessions ---------------------------------------------- */

typedef struct user_row {
    int found;
    char salt[2 * SALT_BYTES + 1];
    char hash[2 * HASH_BYTES + 1];
    int64_t iterations;
} user_row;

static int take_user(void *ctx, const mq_ext_value *c, size_t n)
{
    user_row *u = ctx;
    if (n == 3 && c[0].type == MQ_EXT_TEXT && c[2].type == MQ_EXT_TEXT) {
        u->found = 1;
        snprintf(u->salt, sizeof u->salt, "%s", c[0].text);
        u->iterations = c[1].type == MQ_EXT_INT ? c[1].i : 0;
        snprintf(u->hash, sizeof u->hash, "%s", c[2].text);
    }
    return 0;
}

/* 1 when `password` is the account's (invariant 2: unknown names too cost a
 * derivation); 0 when not; negative on failure. */
static int password_matches(mq_ext *x, const char *name, const char *password,
                            mq_error *err)
{
    user_row u;
    memset(&u, 0, sizeof u);
    mq_ext_value v = mq_ext_text(name);
    int rc =
        mq_ext_run(x, "SELECT salt, iterations, hash FROM office_users WHERE name = ?",
                   &v, 1, take_user, &u, err);
    if (rc != 0)
        return rc;
    unsigned char salt[SALT_BYTES] = {0}, want[HASH_BYTES] = {0}, got[HASH_BYTES];
    int usable = u.found && from_hex(u.salt, salt, sizeof salt) == 0 &&
                 from_hex(u.hash, want, sizeof want) == 0 && u.iterations > 0;
    if ((rc = derive(password, salt, usable ? u.iterations : PBKDF2_ITERATIONS, got,
                     err)) != 0)
        return rc;
    int same = CRYPTO_memcmp(got, want, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return usable && same;
}

/* The password's check, as mq_office_unlocked_fn's `fn`: reads and
 * derives, writes nothing. */
typedef struct password_check {
    mq_ext *x;
    const char *name, *password;
    int ok;
    mq_error *err;
} password_check;

static int check_password(void *ctx)
{
    password_check *pc = ctx;
    int rc = password_matches(pc->x, pc->name, pc->password, pc->err);
    if (rc < 0)
        return rc;
    pc->ok = rc;
    return 0;
}

/* Refused (invariant 3) while either count's wait runs; 0 otherwise. */
static int throttled(mq_ext *x, const char *kname, const char *kpeer,
                     int64_t *retry_after_s, mq_error *err)
{
    throttle_row tn, tp;
    int rc;
    if ((rc = throttle_get(x, kname, &tn, err)) != 0 ||
        (rc = throttle_get(x, kpeer, &tp, err)) != 0)
        return rc;
    int64_t now = mq_platform_time_ms();
    int64_t until = tn.until_ms > tp.until_ms ? tn.until_ms : tp.until_ms;
    if (until <= now)
        return 0;
    *retry_after_s = (until - now + 999) / 1000;
    return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                        "too many failed sign-ins; try again in %lld s",
                        (long long)*retry_after_s);
}

int mq_office_sign_in(mq_store *store, const char *name, const char *password,
                      const char *peer, mq_office_unlocked_fn unlocked, void *runner,
                      char token[MQ_OFFICE_TOKEN_HEX + 1], mq_office_account *out,
                      int64_t *retry_after_s, mq_error *err)
{
    mq_ext *x;
    int rc;
    memset(out, 0, sizeof *out);
    token[0] = '\0';
    *retry_after_s = 0;
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    /* A name outside the rule is still counted, by a key it cannot spoof. */
    int valid = name != NULL && mq_valid_name(name, MQ_OFFICE_NAME_MAX);
    char kname[MQ_OFFICE_NAME_MAX + 8], kpeer[96];
    snprintf(kname, sizeof kname, "name:%s", valid ? name : "?");
    snprintf(kpeer, sizeof kpeer, "peer:%s", peer != NULL ? peer : "");
    if ((rc = throttled(x, kname, kpeer, retry_after_s, err)) != 0)
        return rc;
    size_t plen = password != NULL ? strlen(password) : 0;
    int ok = 0;
    if (valid && plen > 0 && plen <= MQ_OFFICE_PASSWORD_MAX) {
        password_check pc = {x, name, password, 0, err};
        rc = unlocked != NULL ? unlocked(runner, check_password, &pc)
                              : check_password(&pc);
        if (rc != 0)
            return rc;
        ok = pc.ok;
        /* Other attempts may have failed while this one was checked: a
         * verdict past the counts is not given (invariant 3). */
        if ((rc = throttled(x, kname, kpeer, retry_after_s, err)) != 0)
            return rc;
    }
    int64_t now = mq_platform_time_ms();

    if ((rc = mq_store_begin(store, err)) != 0)
        return rc;
    if (!ok) {
        rc = throttle_fail(x, kname, NAME_FAILURES, now, err);
        if (rc == 0)
            rc = throttle_fail(x, kpeer, PEER_FAILURES, now, err);
        if (rc == 0)
            rc = mq_store_commit(store, err);
        if (rc != 0) {
            mq_store_rollback(store);
            return rc;
        }
        return fail(err, MQ_EAUTH, "wrong account name or password");
    }
    char tok[MQ_OFFICE_TOKEN_HEX + 1];
    snprintf(out->name, sizeof out->name, "%s", name);
    rc = throttle_clear(x, kname, err);
    if (rc == 0)
        rc = throttle_clear(x, kpeer, err);
    if (rc == 0) {
        /* Ended sessions of every account go as a new one begins. */
        mq_ext_value old[] = {mq_ext_int(now - (int64_t)MQ_OFFICE_IDLE_S * 1000),
                              mq_ext_int(now - (int64_t)MQ_OFFICE_ABSOLUTE_S * 1000)};
        rc = mq_ext_run(x,
                        "DELETE FROM office_sessions WHERE last_ms < ? OR created_ms < ?",
                        old, 2, NULL, NULL, err);
    }
    if (rc == 0 && (rc = random_hex(tok, MQ_OFFICE_TOKEN_HEX / 2, err)) == 0 &&
        (rc = random_hex(out->csrf, MQ_OFFICE_TOKEN_HEX / 2, err)) == 0) {
        char hash[65];
        sha256_hex(tok, hash);
        mq_ext_value s[] = {mq_ext_text(hash), mq_ext_text(name), mq_ext_text(out->csrf),
                            mq_ext_int(now), mq_ext_int(now)};
        rc = mq_ext_run(x, "INSERT INTO office_sessions VALUES(?, ?, ?, ?, ?)", s, 5,
                        NULL, NULL, err);
    }
    if (rc == 0)
        rc = load_areas(x, out, err);
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0) {
        mq_store_rollback(store);
        mq_office_account_clear(out);
        return rc;
    }
    memcpy(token, tok, sizeof tok);
    OPENSSL_cleanse(tok, sizeof tok);
    return 0;
}

typedef struct session_row {
    int found;
    mq_office_account *a;
    int64_t created_ms, last_ms;
} session_row;

static int take_session(void *ctx, const mq_ext_value *c, size_t n)
{
    session_row *s = ctx;
    if (n == 4 && c[0].type == MQ_EXT_TEXT && c[1].type == MQ_EXT_TEXT) {
        s->found = 1;
        snprintf(s->a->name, sizeof s->a->name, "%s", c[0].text);
        snprintf(s->a->csrf, sizeof s->a->csrf, "%s", c[1].text);
        s->created_ms = c[2].i;
        s->last_ms = c[3].i;
    }
    return 0;
}

/* 1 when `token` has the form of a session token. */
static int token_form(const char *token)
{
    unsigned char b[MQ_OFFICE_TOKEN_HEX / 2];
    return token != NULL && from_hex(token, b, sizeof b) == 0;
}

int mq_office_session(mq_store *store, const char *token, mq_office_account *out,
                      mq_error *err)
{
    mq_ext *x;
    int rc;
    memset(out, 0, sizeof *out);
    if (!token_form(token))
        return fail(err, MQ_EAUTH, "sign in first");
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    char hash[65];
    sha256_hex(token, hash);
    session_row s = {0, out, 0, 0};
    mq_ext_value v = mq_ext_text(hash);
    /* Invariant 1: the join ends the sessions of a removed account. */
    rc =
        mq_ext_run(x,
                   "SELECT s.user, s.csrf, s.created_ms, s.last_ms FROM office_sessions s"
                   " JOIN office_users u ON u.name = s.user WHERE s.token_hash = ?",
                   &v, 1, take_session, &s, err);
    if (rc != 0)
        return rc;
    int64_t now = mq_platform_time_ms();
    if (!s.found || now - s.last_ms > (int64_t)MQ_OFFICE_IDLE_S * 1000 ||
        now - s.created_ms > (int64_t)MQ_OFFICE_ABSOLUTE_S * 1000) {
        if (s.found)
            mq_ext_run(x, "DELETE FROM office_sessions WHERE token_hash = ?", &v, 1, NULL,
                       NULL, NULL);
        memset(out, 0, sizeof *out);
        return fail(err, MQ_EAUTH,
                    s.found ? "the session has expired; sign in again" : "sign in first");
    }
    if (now - s.last_ms > TOUCH_MS) {
        mq_ext_value t[] = {mq_ext_int(now), mq_ext_text(hash)};
        if ((rc = mq_ext_run(
                 x, "UPDATE office_sessions SET last_ms = ? WHERE token_hash = ?", t, 2,
                 NULL, NULL, err)) != 0)
            return rc;
    }
    if ((rc = load_areas(x, out, err)) != 0)
        mq_office_account_clear(out);
    return rc;
}

int mq_office_sign_out(mq_store *store, const char *token, mq_error *err)
{
    mq_ext *x;
    int rc;
    if (!token_form(token))
        return 0;
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    char hash[65];
    sha256_hex(token, hash);
    mq_ext_value v = mq_ext_text(hash);
    return mq_ext_run(x, "DELETE FROM office_sessions WHERE token_hash = ?", &v, 1, NULL,
                      NULL, err);
}
