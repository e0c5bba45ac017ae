/*
 * sync/server/devices.c - the server's own tables, beside the core's in the
 * same SQLite file:
 *
 *   sync_meta(key, value)             the file's epoch: a random id that
 *                                     every pull cursor carries, so a cursor
 *                                     from another (or a restored) server file
 *                                     is recognised and the pull restarts;
 *   sync_devices(name, token_hash...) enrolled tablets: SHA-256 of the token
 *                                     (never the token), cadre, the replica
 *                                     site the device syncs as, revocation
 *                                     and activity bookkeeping;
 *   sync_device_areas(device, area)   the areas a device reads and writes;
 *   sync_batches(device, batch, ...)  the answer to every applied push batch,
 *                                     written in the batch's transaction, so
 *                                     a batch sent again gets the same answer
 *                                     and changes nothing.
 *
 * Every lookup goes to the file: a revoked token is refused from the next
 * request on, whichever process revoked it.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "platform.h"
#include "proto.h"
#include "store_db.h"

static const char *const SCHEMA_SQL =
    "CREATE TABLE IF NOT EXISTS sync_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sync_devices("
    " name TEXT PRIMARY KEY,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " cadre TEXT,"
    " site TEXT UNIQUE,"
    " created_ms INTEGER NOT NULL,"
    " revoked_ms INTEGER,"
    " last_seen_ms INTEGER,"
    " pushed INTEGER NOT NULL DEFAULT 0,"
    " pulled INTEGER NOT NULL DEFAULT 0,"
    " pull_cursor TEXT);"
    "CREATE TABLE IF NOT EXISTS sync_device_areas("
    " device TEXT NOT NULL REFERENCES sync_devices(name),"
    " area TEXT NOT NULL,"
    " PRIMARY KEY(device, area));"
    "CREATE TABLE IF NOT EXISTS sync_batches("
    " device TEXT NOT NULL,"
    " batch TEXT NOT NULL,"
    " body_sha256 TEXT NOT NULL,"
    " response TEXT NOT NULL,"
    " applied_ms INTEGER NOT NULL,"
    " PRIMARY KEY(device, batch));";

static int db_fail(mq_error *err, sqlite3 *db, const char *what)
{
    return mq_error_set(err, MQ_EIO, MQ_DOMAIN_SQLITE, sqlite3_extended_errcode(db),
                        "%s: %s", what, sqlite3_errmsg(db));
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, mq_error *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(err, db, "preparing a sync_* statement");
    return 0;
}

void mq__device_clear(mq__device *d)
{
    for (size_t i = 0; i < d->nareas; i++)
        free(d->areas[i]);
    free(d->areas);
    memset(d, 0, sizeof *d);
}

int mq__server_open(mq_store **out, const char *path, mq_error *err)
{
    mq_store *s = NULL;
    int rc = mq_store_open(&s, path, err);
    if (rc != 0)
        return rc;
    sqlite3 *db = mq__store_db(s);
    sqlite3_busy_timeout(db, 10000);
    if (mq_store_site(s) == NULL) {
        rc = mq_store_init(s, MQ_SERVER_SITE, NULL, err);
    } else if (strcmp(mq_store_site(s), MQ_SERVER_SITE) != 0) {
        rc = mq_error_set(err, MQ_ESTATE, MQ_DOMAIN_MINQING, MQ_ESTATE,
                          "%s is the replica of site \"%s\", not a server's file", path,
                          mq_store_site(s));
    }
    if (rc == 0 && sqlite3_exec(db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(err, db, "creating the sync_* tables");
    if (rc == 0) {
        char epoch[17];
        rc = mq__server_epoch(s, epoch, err);
    }
    if (rc != 0) {
        mq_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int mq__server_epoch(mq_store *store, char out[17], mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    char fresh[17];
    int rc = mq__random_hex(fresh, 8, err);
    if (rc != 0)
        return rc;
    /* INSERT OR IGNORE keeps the first epoch when several processes race. */
    if ((rc =
             prepare(db, "INSERT OR IGNORE INTO sync_meta VALUES('epoch', ?)", &st, err)))
        return rc;
    sqlite3_bind_text(st, 1, fresh, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return db_fail(err, db, "writing the server's epoch");
    if ((rc = prepare(db, "SELECT value FROM sync_meta WHERE key='epoch'", &st, err)))
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, 17, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    } else {
        rc = db_fail(err, db, "reading the server's epoch");
    }
    sqlite3_finalize(st);
    return rc;
}

/* 0 when record `id` exists, is live and is of `type`; else an explained error. */
static int check_record(mq_store *store, const char *id, const char *type, mq_error *err)
{
    char *json = NULL;
    mq_error e;
    int rc = mq_store_get(store, id, &json, &e);
    if (rc == MQ_ENOTFOUND)
        return mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                            "no %s with id \"%s\" on this server", type, id);
    if (rc != 0) {
        if (err)
            *err = e;
        return rc;
    }
    cJSON *j = cJSON_Parse(json);
    mq_free(json);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    int ok = cJSON_IsString(t) && strcmp(t->valuestring, type) == 0 &&
             !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "deleted"));
    cJSON_Delete(j);
    if (!ok)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "record \"%s\" is not a live %s", id, type);
    return 0;
}

int mq__device_add(mq_store *store, const char *name, const char *const *areas,
                   size_t nareas, const char *cadre, char *token, size_t token_size,
                   mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    char tok[MQ_PROTO_TOKEN_LEN + 1], hash[65];
    int rc;

    if (!mq_valid_name(name, 64))
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device name \"%s\": 1 to 64 characters of [A-Za-z0-9_.-]",
                            name);
    if (nareas == 0)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device %s: give at least one --area AREA_ID", name);
    if (token_size < sizeof tok)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "token buffer too small");
    for (size_t i = 0; i < nareas; i++)
        if ((rc = check_record(store, areas[i], "area", err)) != 0)
            return rc;
    if (cadre != NULL && (rc = check_record(store, cadre, "cadre", err)) != 0)
        return rc;
    if ((rc = mq__token_new(tok, err)) != 0 ||
        (rc = mq__sha256_hex(tok, strlen(tok), hash, err)) != 0)
        return rc;

    if ((rc = mq_store_begin(store, err)) != 0)
        return rc;
    rc = prepare(db,
                 "INSERT INTO sync_devices(name, token_hash, cadre, created_ms)"
                 " VALUES(?, ?, ?, ?)",
                 &st, err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
        if (cadre)
            sqlite3_bind_text(st, 3, cadre, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, mq_platform_time_ms());
        int s = sqlite3_step(st);
        if ((s & 0xff) == SQLITE_CONSTRAINT)
            rc = mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                              "device %s already exists (revoked devices keep their "
                              "name; choose another)",
                              name);
        else if (s != SQLITE_DONE)
            rc = db_fail(err, db, "adding the device");
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0)
        rc =
            prepare(db, "INSERT OR IGNORE INTO sync_device_areas VALUES(?, ?)", &st, err);
    for (size_t i = 0; rc == 0 && i < nareas; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, areas[i], -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(err, db, "adding the device's areas");
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0) {
        mq_store_rollback(store);
        return rc;
    }
    memcpy(token, tok, sizeof tok);
    return 0;
}

int mq__device_revoke(mq_store *store, const char *name, mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    int rc =
        prepare(db,
                "UPDATE sync_devices SET revoked_ms = ? WHERE name = ? AND revoked_ms"
                " IS NULL",
                &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, mq_platform_time_ms());
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(err, db, "revoking the device");
    else if (sqlite3_changes(db) == 0)
        rc = mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                          "no live device named \"%s\"", name);
    sqlite3_finalize(st);
    return rc;
}

int mq__device_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "SELECT d.name, d.cadre, d.site, d.created_ms, d.revoked_ms,"
                     " d.last_seen_ms, d.pushed, d.pulled,"
                     " (SELECT json_group_array(area) FROM sync_device_areas a"
                     "  WHERE a.device = d.name)"
                     " FROM sync_devices d ORDER BY d.name",
                     &st, err);
    if (rc != 0)
        return rc;
    int s = SQLITE_DONE;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddItemToObject(o, "areas",
                              cJSON_Parse((const char *)sqlite3_column_text(st, 8)));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "cadre", (const char *)sqlite3_column_text(st, 1));
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "site", (const char *)sqlite3_column_text(st, 2));
        cJSON_AddNumberToObject(o, "created_ms", (double)sqlite3_column_int64(st, 3));
        cJSON_AddBoolToObject(o, "revoked", sqlite3_column_type(st, 4) != SQLITE_NULL);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            cJSON_AddNumberToObject(o, "last_seen_ms",
                                    (double)sqlite3_column_int64(st, 5));
        cJSON_AddNumberToObject(o, "pushed", (double)sqlite3_column_int64(st, 6));
        cJSON_AddNumberToObject(o, "pulled", (double)sqlite3_column_int64(st, 7));
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (text == NULL) {
            rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                              "out of memory");
            break;
        }
        rc = cb(ctx, text);
        free(text);
    }
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_fail(err, db, "listing the devices");
    sqlite3_finalize(st);
    return rc;
}

static int area_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mq__device_auth(mq_store *store, const char *token, mq__device *out, mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    char hash[65];
    int rc;

    memset(out, 0, sizeof *out);
    if (token == NULL || strlen(token) != MQ_PROTO_TOKEN_LEN)
        return mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                            "missing or malformed device token");
    if ((rc = mq__sha256_hex(token, strlen(token), hash, err)) != 0)
        return rc;
    if ((rc = prepare(db,
                      "SELECT name, cadre, site, revoked_ms FROM sync_devices"
                      " WHERE token_hash = ?",
                      &st, err)))
        return rc;
    sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        snprintf(out->name, sizeof out->name, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            snprintf(out->cadre, sizeof out->cadre, "%s",
                     (const char *)sqlite3_column_text(st, 1));
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            snprintf(out->site, sizeof out->site, "%s",
                     (const char *)sqlite3_column_text(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            rc = mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                              "the token of device %s has been revoked", out->name);
    } else if (s == SQLITE_DONE) {
        rc = mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                          "unknown device token");
    } else {
        rc = db_fail(err, db, "looking the token up");
    }
    sqlite3_finalize(st);
    if (rc != 0)
        return rc;

    if ((rc = prepare(db,
                      "SELECT area FROM sync_device_areas WHERE device = ? ORDER BY area",
                      &st, err)))
        return rc;
    sqlite3_bind_text(st, 1, out->name, -1, SQLITE_TRANSIENT);
    size_t cap = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->nareas == cap) {
            cap = cap ? cap * 2 : 4;
            char **p = realloc(out->areas, cap * sizeof *p);
            if (p == NULL) {
                rc = MQ_ENOMEM;
                break;
            }
            out->areas = p;
        }
        const char *a = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(a);
        out->areas[out->nareas] = malloc(n + 1);
        if (out->areas[out->nareas] == NULL) {
            rc = MQ_ENOMEM;
            break;
        }
        memcpy(out->areas[out->nareas++], a, n + 1);
    }
    sqlite3_finalize(st);
    if (rc == 0 && s != SQLITE_DONE)
        rc = db_fail(err, db, "reading the device's areas");
    if (rc == MQ_ENOMEM)
        mq_error_set(err, rc, MQ_DOMAIN_MINQING, rc, "out of memory");
    if (rc == 0) {
        /* The scope tag changes when the set of areas does, which restarts
         * the device's pulls from the beginning (cursors carry the tag). */
        mq__buf b = {0};
        qsort(out->areas, out->nareas, sizeof *out->areas, area_cmp);
        for (size_t i = 0; i < out->nareas; i++) {
            mq__buf_puts(&b, out->areas[i]);
            mq__buf_add(&b, "\n", 1);
        }
        char h[65];
        rc = mq__buf_check(&b, "the device's areas", err);
        if (rc == 0)
            rc = mq__sha256_hex(b.data ? b.data : "", b.len, h, err);
        mq__buf_free(&b);
        if (rc == 0)
            snprintf(out->scope_tag, sizeof out->scope_tag, "%.8s", h);
    }
    if (rc != 0)
        mq__device_clear(out);
    return rc;
}

int mq__device_claim_site(mq_store *store, const mq__device *device, const char *site,
                          mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    if (strcmp(device->site, site) == 0)
        return 0;
    if (strcmp(site, MQ_SERVER_SITE) == 0)
        return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                            "site name \"%s\" is the server's own; re-initialise this "
                            "replica with another site",
                            site);
    int rc = prepare(db, "UPDATE sync_devices SET site = ? WHERE name = ?", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, device->name, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if ((s & 0xff) == SQLITE_CONSTRAINT)
        rc = mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                          "site \"%s\" already belongs to another device; two replicas "
                          "must never share a site name",
                          site);
    else if (s != SQLITE_DONE)
        rc = db_fail(err, db, "binding the device to its site");
    sqlite3_finalize(st);
    return rc;
}

int mq__device_touch(mq_store *store, const char *name, size_t pushed, size_t pulled,
                     const char *cursor, mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    int rc = prepare(db,
                     "UPDATE sync_devices SET last_seen_ms = ?, pushed = pushed + ?,"
                     " pulled = pulled + ?, pull_cursor = coalesce(?, pull_cursor)"
                     " WHERE name = ?",
                     &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, mq_platform_time_ms());
    sqlite3_bind_int64(st, 2, (sqlite3_int64)pushed);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)pulled);
    if (cursor)
        sqlite3_bind_text(st, 4, cursor, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(err, db, "noting the device's activity");
    sqlite3_finalize(st);
    return rc;
}

int mq__batch_find(mq_store *store, const char *device, const char *batch,
                   char **response, char sha[65], mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    *response = NULL;
    int rc = prepare(db,
                     "SELECT body_sha256, response FROM sync_batches"
                     " WHERE device = ? AND batch = ?",
                     &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, batch, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 1);
        size_t n = strlen(r);
        snprintf(sha, 65, "%s", (const char *)sqlite3_column_text(st, 0));
        *response = malloc(n + 1);
        if (*response == NULL)
            rc = mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                              "out of memory");
        else
            memcpy(*response, r, n + 1);
    } else if (s != SQLITE_DONE) {
        rc = db_fail(err, db, "looking the batch up");
    }
    sqlite3_finalize(st);
    return rc;
}

int mq__batch_save(mq_store *store, const char *device, const char *batch,
                   const char *sha, const char *response, mq_error *err)
{
    sqlite3 *db = mq__store_db(store);
    sqlite3_stmt *st = NULL;
    int rc = prepare(db, "INSERT INTO sync_batches VALUES(?, ?, ?, ?, ?)", &st, err);
    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, batch, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, sha, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, response, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, mq_platform_time_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(err, db, "recording the batch");
    sqlite3_finalize(st);
    return rc;
}
