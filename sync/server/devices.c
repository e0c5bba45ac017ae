/*
 * sync/server/devices.c - the server's own tables, beside the core's in the
 * same SQLite file, kept through the core's seam for parts (minqing/ext.h):
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
 *   sync_bundle_keys(device, ...)     a device's key for sealed bundles and
 *                                     the highest sequence opened with it
 *                                     (sealed.c: docs/BUNDLES.md).
 *
 * Every lookup goes to the file: a revoked token is refused from the next
 * request on, whichever process revoked it.  The seam maps SQLite's errors
 * as the core does; this file adds its own words only where a broken
 * constraint means something to the user (a name or a site already taken).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "minqing/ext.h"
#include "minqing/valid.h"
#include "part.h"
#include "platform.h"
#include "proto.h"

static const char SCHEMA_SQL[] =
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
    " PRIMARY KEY(device, batch));"
    "CREATE TABLE IF NOT EXISTS sync_bundle_keys("
    " device TEXT PRIMARY KEY REFERENCES sync_devices(name),"
    " bundle_key BLOB NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL DEFAULT 0,"
    " last_opened_ms INTEGER);";

/* The sync_ part of `store`, declared on first use (outside a transaction). */
static int part(mq_store *store, mq_ext **out, mq_error *err)
{
    return mq_ext_open(out, store, "sync_", SCHEMA_SQL, err);
}

int mq__server_part(mq_store *store, mq_ext **out, mq_error *err)
{
    return part(store, out, err);
}

/* Hands the failure held in `e` on to the caller's `err`. */
static int pass(mq_error *err, const mq_error *e)
{
    if (err != NULL)
        *err = *e;
    return e->rc;
}

static int out_of_memory(mq_error *err)
{
    return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM, "out of memory");
}

/* A row that does not have the columns its query selects. */
static int bad_row(mq_error *err, const char *what, size_t n)
{
    return mq_error_set(err, MQ_ECORRUPT, MQ_DOMAIN_MINQING, MQ_ECORRUPT,
                        "%s: a row of %zu columns", what, n);
}

/* Copies a text column into a fixed buffer; "" for NULL. */
static void copy_text(char *dst, size_t n, const mq_ext_value *v)
{
    snprintf(dst, n, "%s", v->type == MQ_EXT_TEXT ? v->text : "");
}

static char *dup_text(const mq_ext_value *v)
{
    const char *s = v->type == MQ_EXT_TEXT ? v->text : "";
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void mq_device_clear(mq_device *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nareas; i++)
        free(d->areas[i]);
    free(d->areas);
    memset(d, 0, sizeof *d);
}

int mq_server_open(mq_store **out, const char *path, mq_error *err)
{
    mq_store *s = NULL;
    mq_ext *x;
    int rc = mq_store_open(&s, path, err);

    *out = NULL;
    if (rc != 0)
        return rc;
    if (mq_store_site(s) == NULL) {
        rc = mq_store_init(s, MQ_SERVER_SITE, NULL, err);
    } else if (strcmp(mq_store_site(s), MQ_SERVER_SITE) != 0) {
        rc = mq_error_set(err, MQ_ESTATE, MQ_DOMAIN_MINQING, MQ_ESTATE,
                          "%s is the replica of site \"%s\", not a server's file", path,
                          mq_store_site(s));
    }
    if (rc == 0)
        rc = part(s, &x, err);
    if (rc == 0) {
        char epoch[17];
        rc = mq_server_epoch(s, epoch, err);
    }
    if (rc != 0) {
        mq_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Row callback: the first column into a char[17]. */
static int take_epoch(void *ctx, const mq_ext_value *cols, size_t n)
{
    if (n > 0)
        copy_text(ctx, 17, &cols[0]);
    return 0;
}

int mq_server_epoch(mq_store *store, char out[17], mq_error *err)
{
    mq_ext *x;
    char fresh[17];
    int rc;

    out[0] = '\0';
    if ((rc = part(store, &x, err)) != 0 || (rc = mq__random_hex(fresh, 8, err)) != 0)
        return rc;
    /* INSERT OR IGNORE keeps the first epoch when several processes race. */
    mq_ext_value v = mq_ext_text(fresh);
    if ((rc = mq_ext_run(x, "INSERT OR IGNORE INTO sync_meta VALUES('epoch', ?)", &v, 1,
                         NULL, NULL, err)) != 0 ||
        (rc = mq_ext_run(x, "SELECT value FROM sync_meta WHERE key = 'epoch'", NULL, 0,
                         take_epoch, out, err)) != 0)
        return rc;
    if (strlen(out) != 16)
        return mq_error_set(err, MQ_ECORRUPT, MQ_DOMAIN_MINQING, MQ_ECORRUPT,
                            "sync_meta: the server's epoch is \"%s\", not 16 hex digits",
                            out);
    return 0;
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
    if (rc != 0)
        return pass(err, &e);
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

/* The device's rows, in the transaction mq_device_add() opened. */
static int insert_device(mq_ext *x, const char *name, const char *const *areas,
                         size_t nareas, const char *cadre, const char *hash,
                         mq_error *err)
{
    mq_error e;
    mq_ext_value dev[] = {mq_ext_text(name), mq_ext_text(hash), mq_ext_text(cadre),
                          mq_ext_int(mq_platform_time_ms())};
    int rc = mq_ext_run(x,
                        "INSERT INTO sync_devices(name, token_hash, cadre, created_ms)"
                        " VALUES(?, ?, ?, ?)",
                        dev, 4, NULL, NULL, &e);

    if (rc != 0 && mq_ext_is_constraint(&e))
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device %s already exists (revoked devices keep their name; "
                            "choose another)",
                            name);
    if (rc != 0)
        return pass(err, &e);
    for (size_t i = 0; i < nareas; i++) {
        mq_ext_value a[] = {mq_ext_text(name), mq_ext_text(areas[i])};
        if ((rc = mq_ext_run(x, "INSERT OR IGNORE INTO sync_device_areas VALUES(?, ?)", a,
                             2, NULL, NULL, err)) != 0)
            return rc;
    }
    return 0;
}

int mq_device_add(mq_store *store, const char *name, const char *const *areas,
                  size_t nareas, const char *cadre, char *token, size_t token_size,
                  mq_error *err)
{
    mq_ext *x;
    char tok[MQ_PROTO_TOKEN_LEN + 1], hash[65];
    int rc;

    if (name == NULL || !mq_valid_name(name, 64))
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device name \"%s\": 1 to 64 characters of [A-Za-z0-9_.-]",
                            name ? name : "");
    if (nareas == 0)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device %s: give at least one --area AREA_ID", name);
    if (token_size < sizeof tok)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "device %s: the token buffer holds %zu bytes, %zu needed",
                            name, token_size, sizeof tok);
    if ((rc = part(store, &x, err)) != 0)
        return rc;
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
    rc = insert_device(x, name, areas, nareas, cadre, hash, err);
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0) {
        mq_store_rollback(store);
        return rc;
    }
    memcpy(token, tok, sizeof tok);
    return 0;
}

int mq_device_revoke(mq_store *store, const char *name, mq_error *err)
{
    mq_ext *x;
    int rc = part(store, &x, err);

    if (rc != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_int(mq_platform_time_ms()), mq_ext_text(name)};
    rc = mq_ext_run(x,
                    "UPDATE sync_devices SET revoked_ms = ? WHERE name = ?"
                    " AND revoked_ms IS NULL",
                    v, 2, NULL, NULL, err);
    if (rc == 0 && mq_ext_changes(x) == 0)
        rc = mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                          "no live device named \"%s\"", name ? name : "");
    return rc;
}

typedef struct list_walk {
    mq_json_cb cb;
    void *ctx;
    mq_error *err;
} list_walk;

/* Row callback of mq_device_list(): one device as a JSON object. */
static int list_row(void *ctx, const mq_ext_value *c, size_t n)
{
    list_walk *w = ctx;

    if (n != 10)
        return bad_row(w->err, "listing the devices", n);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", c[0].type == MQ_EXT_TEXT ? c[0].text : "");
    cJSON *areas = c[8].type == MQ_EXT_TEXT ? cJSON_Parse(c[8].text) : NULL;
    cJSON_AddItemToObject(o, "areas", areas ? areas : cJSON_CreateArray());
    if (c[1].type == MQ_EXT_TEXT)
        cJSON_AddStringToObject(o, "cadre", c[1].text);
    if (c[2].type == MQ_EXT_TEXT)
        cJSON_AddStringToObject(o, "site", c[2].text);
    cJSON_AddNumberToObject(o, "created_ms", (double)c[3].i);
    cJSON_AddBoolToObject(o, "revoked", c[4].type != MQ_EXT_NULL);
    if (c[5].type != MQ_EXT_NULL)
        cJSON_AddNumberToObject(o, "last_seen_ms", (double)c[5].i);
    cJSON_AddNumberToObject(o, "pushed", (double)c[6].i);
    cJSON_AddNumberToObject(o, "pulled", (double)c[7].i);
    /* Whether it has a bundle key, and the last sealed bundle opened. */
    cJSON_AddBoolToObject(o, "bundle_key", c[9].type != MQ_EXT_NULL);
    if (c[9].type != MQ_EXT_NULL)
        cJSON_AddNumberToObject(o, "bundles_opened", (double)c[9].i);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text == NULL)
        return out_of_memory(w->err);
    int rc = w->cb(w->ctx, text);
    free(text);
    return rc;
}

int mq_device_list(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err)
{
    mq_ext *x;
    list_walk w = {cb, ctx, err};
    int rc = part(store, &x, err);

    if (rc != 0)
        return rc;
    return mq_ext_run(
        x,
        "SELECT d.name, d.cadre, d.site, d.created_ms, d.revoked_ms,"
        " d.last_seen_ms, d.pushed, d.pulled,"
        " (SELECT json_group_array(area) FROM sync_device_areas a"
        "  WHERE a.device = d.name),"
        " (SELECT k.last_seq FROM sync_bundle_keys k WHERE k.device = d.name)"
        " FROM sync_devices d ORDER BY d.name",
        NULL, 0, list_row, &w, err);
}

typedef struct auth_walk {
    mq_device *dev;
    int found;
    int revoked;
    size_t cap;
    mq_error *err;
} auth_walk;

/* Row callback: the device a token hash names. */
static int auth_row(void *ctx, const mq_ext_value *c, size_t n)
{
    auth_walk *w = ctx;

    if (n != 4)
        return bad_row(w->err, "looking the token up", n);
    w->found = 1;
    copy_text(w->dev->name, sizeof w->dev->name, &c[0]);
    copy_text(w->dev->cadre, sizeof w->dev->cadre, &c[1]);
    copy_text(w->dev->site, sizeof w->dev->site, &c[2]);
    w->revoked = c[3].type != MQ_EXT_NULL;
    return 0;
}

/* Row callback: one area of the device, appended (rows come sorted). */
static int area_row(void *ctx, const mq_ext_value *c, size_t n)
{
    auth_walk *w = ctx;
    mq_device *d = w->dev;

    if (n != 1)
        return bad_row(w->err, "reading the device's areas", n);
    if (d->nareas == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        char **p = realloc(d->areas, cap * sizeof *p);
        if (p == NULL)
            return out_of_memory(w->err);
        d->areas = p;
        w->cap = cap;
    }
    if ((d->areas[d->nareas] = dup_text(&c[0])) == NULL)
        return out_of_memory(w->err);
    d->nareas++;
    return 0;
}

/* The scope tag: changes when the set of areas does, which restarts the
 * device's pulls from the beginning (cursors carry the tag). */
static int scope_tag(mq_device *d, mq_error *err)
{
    mq__buf b = {0};
    char h[65];

    for (size_t i = 0; i < d->nareas; i++) {
        mq__buf_puts(&b, d->areas[i]);
        mq__buf_add(&b, "\n", 1);
    }
    int rc = mq__buf_check(&b, "the device's areas", err);
    if (rc == 0)
        rc = mq__sha256_hex(b.data ? b.data : "", b.len, h, err);
    mq__buf_free(&b);
    if (rc == 0)
        snprintf(d->scope_tag, sizeof d->scope_tag, "%.8s", h);
    return rc;
}

/* The areas and scope tag of the device auth_row() found into w->dev, after
 * a lookup that returned `rc`; empties the device on any failure. */
static int load_areas(mq_ext *x, auth_walk *w, int rc, mq_error *err)
{
    mq_device *out = w->dev;

    if (rc == 0) {
        mq_ext_value name = mq_ext_text(out->name);
        rc = mq_ext_run(x,
                        "SELECT area FROM sync_device_areas WHERE device = ?"
                        " ORDER BY area",
                        &name, 1, area_row, w, err);
    }
    if (rc == 0)
        rc = scope_tag(out, err);
    if (rc != 0)
        mq_device_clear(out);
    return rc;
}

int mq_device_auth(mq_store *store, const char *token, mq_device *out, mq_error *err)
{
    mq_ext *x;
    auth_walk w = {out, 0, 0, 0, err};
    char hash[65];
    int rc;

    memset(out, 0, sizeof *out);
    if (token == NULL || strlen(token) != MQ_PROTO_TOKEN_LEN)
        return mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                            "missing or malformed device token");
    if ((rc = part(store, &x, err)) != 0 ||
        (rc = mq__sha256_hex(token, strlen(token), hash, err)) != 0)
        return rc;
    mq_ext_value h = mq_ext_text(hash);
    rc = mq_ext_run(x,
                    "SELECT name, cadre, site, revoked_ms FROM sync_devices"
                    " WHERE token_hash = ?",
                    &h, 1, auth_row, &w, err);
    if (rc == 0 && !w.found)
        rc = mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                          "unknown device token");
    else if (rc == 0 && w.revoked)
        rc = mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                          "the token of device %s has been revoked", out->name);
    return load_areas(x, &w, rc, err);
}

int mq_device_find(mq_store *store, const char *name, mq_device *out, mq_error *err)
{
    mq_ext *x;
    auth_walk w = {out, 0, 0, 0, err};
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    mq_ext_value v = mq_ext_text(name);
    rc = mq_ext_run(x,
                    "SELECT name, cadre, site, revoked_ms FROM sync_devices"
                    " WHERE name = ?",
                    &v, 1, auth_row, &w, err);
    if (rc == 0 && !w.found)
        rc = mq_error_set(err, MQ_ENOTFOUND, MQ_DOMAIN_MINQING, MQ_ENOTFOUND,
                          "no device named \"%s\" is enrolled on this server",
                          name ? name : "");
    else if (rc == 0 && w.revoked)
        rc = mq_error_set(err, MQ_EAUTH, MQ_DOMAIN_MINQING, MQ_EAUTH,
                          "device %s has been revoked", out->name);
    return load_areas(x, &w, rc, err);
}

int mq_device_claim_site(mq_store *store, const mq_device *device, const char *site,
                         mq_error *err)
{
    mq_ext *x;
    mq_error e;
    int rc;

    if (strcmp(device->site, site) == 0)
        return 0;
    if (strcmp(site, MQ_SERVER_SITE) == 0)
        return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                            "site name \"%s\" is the server's own; re-initialise this "
                            "replica with another site",
                            site);
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_text(site), mq_ext_text(device->name)};
    rc = mq_ext_run(x, "UPDATE sync_devices SET site = ? WHERE name = ?", v, 2, NULL,
                    NULL, &e);
    if (rc != 0 && mq_ext_is_constraint(&e))
        return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                            "site \"%s\" already belongs to another device; two replicas "
                            "must never share a site name",
                            site);
    return rc != 0 ? pass(err, &e) : 0;
}

int mq_device_touch(mq_store *store, const char *name, size_t pushed, size_t pulled,
                    const char *cursor, mq_error *err)
{
    mq_ext *x;
    int rc = part(store, &x, err);

    if (rc != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_int(mq_platform_time_ms()), mq_ext_int((int64_t)pushed),
                        mq_ext_int((int64_t)pulled), mq_ext_text(cursor),
                        mq_ext_text(name)};
    return mq_ext_run(x,
                      "UPDATE sync_devices SET last_seen_ms = ?, pushed = pushed + ?,"
                      " pulled = pulled + ?, pull_cursor = coalesce(?, pull_cursor)"
                      " WHERE name = ?",
                      v, 5, NULL, NULL, err);
}

typedef struct batch_walk {
    char **response;
    char *sha;
    mq_error *err;
} batch_walk;

/* Row callback: an answered batch's body hash and answer. */
static int batch_row(void *ctx, const mq_ext_value *c, size_t n)
{
    batch_walk *w = ctx;

    if (n != 2)
        return bad_row(w->err, "looking the batch up", n);
    copy_text(w->sha, 65, &c[0]);
    if ((*w->response = dup_text(&c[1])) == NULL)
        return out_of_memory(w->err);
    return 0;
}

int mq_batch_find(mq_store *store, const char *device, const char *batch, char **response,
                  char sha[65], mq_error *err)
{
    mq_ext *x;
    batch_walk w = {response, sha, err};
    int rc;

    *response = NULL;
    if ((rc = part(store, &x, err)) != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_text(device), mq_ext_text(batch)};
    return mq_ext_run(x,
                      "SELECT body_sha256, response FROM sync_batches"
                      " WHERE device = ? AND batch = ?",
                      v, 2, batch_row, &w, err);
}

int mq_batch_save(mq_store *store, const char *device, const char *batch, const char *sha,
                  const char *response, mq_error *err)
{
    mq_ext *x;
    int rc = part(store, &x, err);

    if (rc != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_text(device), mq_ext_text(batch), mq_ext_text(sha),
                        mq_ext_text(response), mq_ext_int(mq_platform_time_ms())};
    return mq_ext_run(x, "INSERT INTO sync_batches VALUES(?, ?, ?, ?, ?)", v, 5, NULL,
                      NULL, err);
}
