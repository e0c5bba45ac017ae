/*
 * sync/server/sealed.c - the office's side of sealed bundles
 * (docs/BUNDLES.md): the bundle key of each device, kept in
 * sync_bundle_keys beside its token's hash, and the opening of a sealed
 * bundle carried from a tablet on a USB stick, whose changes then apply
 * within the device's areas as a push of that device would.
 *
 * Invariants:
 *   1. Nothing is written before the whole file has authenticated
 *      (mq_seal_open() checks the tag first), and what is written then
 *      (the changes, the device's site, its counters, the sequence opened)
 *      commits in one transaction or not at all.
 *   2. A bundle is opened once: its sequence must be above the highest one
 *      opened with the device's current key, and is recorded in the
 *      transaction that applies it (a bundle refused for its changes may be
 *      opened again once they are fixed; one applied may not).
 *   3. The office is checked before the key is used, the sequence after
 *      the tag: a message about a replay is about an authentic header.
 */
#include "server.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "minqing/ext.h"
#include "minqing/valid.h"
#include "part.h"
#include "platform.h"

/* The first line of a plain bundle is its header; longer is no header. */
#define HEADER_LINE_MAX 4096

static int refuse(mq_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int refuse(mq_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = mq_error_setv(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL, fmt, ap);
    va_end(ap);
    return rc;
}

int mq_device_bundle_key(mq_store *store, const char *name, char *text, size_t size,
                         mq_error *err)
{
    mq_device d;
    mq_seal_key k;
    mq_ext *x;
    char epoch[17];
    int rc;

    if (size < MQ_SEAL_KEY_TEXT_MAX)
        return refuse(err, "device %s: the key buffer holds %zu bytes, %d needed",
                      name ? name : "", size, MQ_SEAL_KEY_TEXT_MAX);
    text[0] = '\0';
    if ((rc = mq__server_part(store, &x, err)) != 0 ||
        (rc = mq_device_find(store, name, &d, err)) != 0)
        return rc;
    mq_device_clear(&d);
    if ((rc = mq_server_epoch(store, epoch, err)) != 0 ||
        (rc = mq_seal_key_new(&k, epoch, name, err)) != 0)
        return rc;
    mq_ext_value v[] = {mq_ext_text(name), mq_ext_blob(k.key, sizeof k.key),
                        mq_ext_int(mq_platform_time_ms())};
    rc = mq_ext_run(
        x,
        "INSERT INTO sync_bundle_keys(device, bundle_key, created_ms)"
        " VALUES(?1, ?2, ?3) ON CONFLICT(device) DO UPDATE SET"
        " bundle_key = ?2, created_ms = ?3, last_seq = 0, last_opened_ms = NULL",
        v, 3, NULL, NULL, err);
    if (rc == 0)
        mq_seal_key_format(&k, text);
    mq_seal_wipe(&k, sizeof k);
    return rc;
}

/* The device's key and the highest sequence opened with it. */
typedef struct key_row {
    int found;
    unsigned char key[MQ_SEAL_KEY_BYTES];
    int64_t last_seq;
} key_row;

static int take_key(void *ctx, const mq_ext_value *c, size_t n)
{
    key_row *k = ctx;
    if (n == 2 && c[0].type == MQ_EXT_BLOB && c[0].len == sizeof k->key &&
        c[1].type == MQ_EXT_INT) {
        memcpy(k->key, c[0].blob, sizeof k->key);
        k->last_seq = c[1].i;
        k->found = 1;
    }
    return 0;
}

/*
 * The site of the plain bundle `plain` (its header line's "site"), which
 * is then rewound.  Only the site is read here: the core reads and checks
 * the whole bundle again when it applies it.
 */
static int bundle_site(FILE *plain, const char *source, char site[MQ_ERROR_MESSAGE_MAX],
                       mq_error *err)
{
    char line[HEADER_LINE_MAX + 1];
    size_t n = 0;
    int ch;

    while (n < HEADER_LINE_MAX && (ch = getc(plain)) != EOF && ch != '\n')
        line[n++] = (char)ch;
    line[n] = '\0';
    rewind(plain);
    cJSON *h = memchr(line, '\0', n) == NULL ? cJSON_Parse(line) : NULL;
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "site"));
    int ok = s != NULL && mq_valid_name(s, 32);
    if (ok)
        snprintf(site, MQ_ERROR_MESSAGE_MAX, "%s", s);
    cJSON_Delete(h);
    if (!ok)
        return refuse(err,
                      "%s: the sealed bundle authenticates but holds no bundle header "
                      "with a valid site; nothing applied",
                      source);
    return 0;
}

static int replayed(mq_error *err, const char *source, const mq_seal_header *h,
                    int64_t last)
{
    return refuse(err,
                  "%s: bundle %" PRId64 " of device %s was opened here before (the "
                  "highest opened is %" PRId64
                  "): a replay, or an old copy; nothing applied.  What it held is "
                  "here already; a new bundle sealed on the tablet carries what is new",
                  source, h->seq, h->device, last);
}

/* The changes of an authentic bundle, in one transaction (invariant 1). */
static int apply_plain(mq_store *store, mq_ext *x, FILE *plain, const mq_seal_header *h,
                       const mq_device *d, const unsigned char key[MQ_SEAL_KEY_BYTES],
                       const mq_apply_opts *opts, const char *source, mq_apply_stats *st,
                       mq_error *err)
{
    char site[MQ_ERROR_MESSAGE_MAX], sender[96];
    const mq_scope scope = {(const char *const *)d->areas, d->nareas};
    int rc = bundle_site(plain, source, site, err);

    if (rc != 0 || (rc = mq_store_begin(store, err)) != 0)
        return rc;
    rc = mq_device_claim_site(store, d, site, err);
    if (rc == 0) {
        /* The key is matched too: a key replaced meanwhile opens nothing. */
        mq_ext_value v[] = {mq_ext_int(h->seq), mq_ext_int(mq_platform_time_ms()),
                            mq_ext_text(d->name), mq_ext_blob(key, MQ_SEAL_KEY_BYTES)};
        rc = mq_ext_run(x,
                        "UPDATE sync_bundle_keys SET last_seq = ?1, last_opened_ms = ?2"
                        " WHERE device = ?3 AND bundle_key = ?4 AND last_seq < ?1",
                        v, 4, NULL, NULL, err);
        if (rc == 0 && mq_ext_changes(x) != 1)
            rc = refuse(err,
                        "%s: bundle %" PRId64 " of device %s was opened meanwhile, or "
                        "its key replaced; nothing applied",
                        source, h->seq, h->device);
    }
    snprintf(sender, sizeof sender, "device %s", d->name);
    if (rc == 0)
        rc = mq_store_apply_bundle_scoped(store, plain, opts, &scope, sender, st, err);
    if (rc == 0)
        rc = mq_device_touch(store, d->name, st->applied + st->duplicate + st->rejected,
                             0, NULL, err);
    if (rc == 0)
        rc = mq_store_commit(store, err);
    if (rc != 0)
        mq_store_rollback(store);
    return rc;
}

int mq_server_apply_sealed(mq_store *store, FILE *in, const mq_apply_opts *opts,
                           mq_sealed_result *out, mq_error *err)
{
    const char *source = opts != NULL && opts->source != NULL ? opts->source : "bundle";
    mq_seal_header h;
    mq_device d;
    mq_ext *x;
    key_row k;
    mq_error e;
    char epoch[17];
    FILE *plain = NULL;
    mq_apply_stats st = {0, 0, 0};
    int rc;

    memset(&k, 0, sizeof k);
    if (out != NULL)
        memset(out, 0, sizeof *out);
    if ((rc = mq__server_part(store, &x, err)) != 0 ||
        (rc = mq_server_epoch(store, epoch, err)) != 0 ||
        (rc = mq_seal_read_header(in, source, &h, err)) != 0)
        return rc;
    if (strcmp(h.office, epoch) != 0)
        return refuse(err,
                      "%s: sealed for office %s, and this office is %s: a bundle sealed "
                      "for another office is not opened here (or its header is "
                      "damaged); nothing applied",
                      source, h.office, epoch);
    mq_error_clear(&e);
    rc = mq_device_find(store, h.device, &d, &e);
    if (rc == MQ_ENOTFOUND)
        return refuse(err,
                      "%s: sealed by device %s, which is not enrolled on this server (or "
                      "its header is damaged); nothing applied",
                      source, h.device);
    if (rc == MQ_EAUTH)
        return refuse(err,
                      "%s: sealed by device %s, which has been revoked: its bundles are "
                      "refused; nothing applied",
                      source, h.device);
    if (rc != 0) {
        if (err != NULL)
            *err = e;
        return rc;
    }
    mq_ext_value name = mq_ext_text(d.name);
    rc = mq_ext_run(x,
                    "SELECT bundle_key, last_seq FROM sync_bundle_keys WHERE device = ?",
                    &name, 1, take_key, &k, err);
    if (rc == 0 && !k.found)
        rc = refuse(err,
                    "%s: device %s has no bundle key on this server, so nothing it "
                    "sealed can be opened (make one with `minqing-server device key "
                    "%s`); nothing applied",
                    source, d.name, d.name);
    if (rc == 0)
        rc = mq_seal_open(&plain, in, source, &h, k.key, err);
    /* Invariant 3: the header is authentic from here on. */
    if (rc == 0 && h.seq <= k.last_seq)
        rc = replayed(err, source, &h, k.last_seq);
    if (rc == 0)
        rc = apply_plain(store, x, plain, &h, &d, k.key, opts, source, &st, err);
    if (plain != NULL)
        fclose(plain);
    mq_seal_wipe(&k, sizeof k);
    if (rc == 0 && out != NULL) {
        snprintf(out->device, sizeof out->device, "%s", d.name);
        out->seq = h.seq;
        out->stats = st;
    }
    mq_device_clear(&d);
    return rc;
}
