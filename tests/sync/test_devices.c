/*
 * tests/sync/test_devices.c - the server's own tables through its library
 * (server.h) on a real replica file: enrolment, tokens, sites, revocation,
 * and answered batches and device counters that commit or roll back with
 * the changes of their transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/minqing.h"
#include "platform.h"
#include "proto.h"
#include "server.h"

#define AREA_B "00000000-0000-4000-8000-00000000000b"
#define AREA_A "00000000-0000-4000-8000-00000000000a"
#define HH     "00000000-0000-4000-8000-0000000000a1"

static int failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

#define CHECK_HAS(text, part)                                                            \
    do {                                                                                 \
        if (strstr((text), (part)) == NULL) {                                            \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,         \
                    __LINE__, (text), (part));                                           \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static char path[128], tablet[160];

static mq_store *open_server(void)
{
    mq_store *s = NULL;
    mq_error e;

    if (mq_server_open(&s, path, &e) != 0) {
        fprintf(stderr, "mq_server_open: %s\n", e.message);
        exit(2);
    }
    return s;
}

static int put_area(mq_store *s, const char *id, const char *name)
{
    char json[160];
    mq_error e;

    snprintf(json, sizeof json, "{\"name\":\"%s\",\"level\":\"county\"}", name);
    int rc = mq_store_put(s, "area", id, json, NULL, NULL, &e);
    if (rc != 0)
        fprintf(stderr, "  put: %s\n", e.message);
    return rc;
}

/* Collects mq_device_list() lines into a buffer of 4096 bytes. */
static int collect(void *ctx, const char *json)
{
    char *buf = ctx;
    size_t used = strlen(buf);

    snprintf(buf + used, 4096 - used, "%s\n", json);
    return 0;
}

static void test_open_and_epoch(void)
{
    mq_store *s = open_server();
    char a[17], b[17];
    mq_error e;

    CHECK(strcmp(mq_store_site(s), MQ_SERVER_SITE) == 0);
    CHECK(mq_server_epoch(s, a, &e) == 0 && strlen(a) == 16);
    mq_store_close(s);
    s = open_server();
    CHECK(mq_server_epoch(s, b, &e) == 0 && strcmp(a, b) == 0); /* kept */
    mq_store_close(s);

    /* a tablet's replica is not a server's file */
    mq_store *t = NULL;
    CHECK(mq_store_open(&t, tablet, &e) == 0 && mq_store_init(t, "tab1", NULL, &e) == 0);
    mq_store_close(t);
    CHECK(mq_server_open(&t, tablet, &e) == MQ_ESTATE && t == NULL);
    CHECK_HAS(e.message, "\"tab1\"");
}

static void test_enrol_and_auth(void)
{
    mq_store *s = open_server();
    char token[MQ_PROTO_TOKEN_LEN + 1], token2[MQ_PROTO_TOKEN_LEN + 1];
    const char *areas[] = {AREA_B, AREA_A};
    mq_device d;
    mq_error e;

    CHECK(put_area(s, AREA_A, "A") == 0 && put_area(s, AREA_B, "B") == 0);
    CHECK(mq_device_add(s, "bad name", areas, 2, NULL, token, sizeof token, &e) ==
          MQ_EINVAL);
    CHECK(mq_device_add(s, "tab1", areas, 0, NULL, token, sizeof token, &e) == MQ_EINVAL);
    CHECK(mq_device_add(s, "tab1", areas, 2, NULL, token, 10, &e) == MQ_EINVAL);
    const char *missing[] = {"00000000-0000-4000-8000-0000000000ff"};
    CHECK(mq_device_add(s, "tab1", missing, 1, NULL, token, sizeof token, &e) ==
          MQ_ENOTFOUND);
    CHECK(mq_device_add(s, "tab1", areas, 2, AREA_A, token, sizeof token, &e) ==
          MQ_EINVAL);
    CHECK_HAS(e.message, "not a live cadre");

    CHECK(mq_device_add(s, "tab1", areas, 2, NULL, token, sizeof token, &e) == 0);
    CHECK(strlen(token) == MQ_PROTO_TOKEN_LEN && strncmp(token, "mqt_", 4) == 0);
    /* the name is taken: an explained refusal, not an SQLite error */
    CHECK(mq_device_add(s, "tab1", areas, 1, NULL, token2, sizeof token2, &e) ==
          MQ_EINVAL);
    CHECK(e.domain == MQ_DOMAIN_MINQING);
    CHECK_HAS(e.message, "device tab1 already exists");
    CHECK(mq_device_add(s, "tab2", areas + 1, 1, NULL, token2, sizeof token2, &e) == 0);

    CHECK(mq_device_auth(s, token, &d, &e) == 0);
    CHECK(strcmp(d.name, "tab1") == 0 && d.cadre[0] == '\0' && d.site[0] == '\0');
    CHECK(d.nareas == 2 && strcmp(d.areas[0], AREA_A) == 0 &&
          strcmp(d.areas[1], AREA_B) == 0);
    CHECK(strlen(d.scope_tag) == 8);
    char tag[9];
    memcpy(tag, d.scope_tag, sizeof tag);
    mq_device_clear(&d);
    CHECK(d.areas == NULL && d.nareas == 0);
    CHECK(mq_device_auth(s, token2, &d, &e) == 0 && d.nareas == 1);
    CHECK(strcmp(d.scope_tag, tag) != 0); /* other areas, other tag */
    mq_device_clear(&d);

    char wrong[MQ_PROTO_TOKEN_LEN + 1];
    memcpy(wrong, token, sizeof wrong);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    CHECK(mq_device_auth(s, wrong, &d, &e) == MQ_EAUTH && d.areas == NULL);
    CHECK_HAS(e.message, "unknown device token");
    CHECK(mq_device_auth(s, "mqt_short", &d, &e) == MQ_EAUTH);
    CHECK(mq_device_auth(s, NULL, &d, &e) == MQ_EAUTH);

    /* the list shows devices, never a token or its hash */
    char list[4096] = "";
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK_HAS(list, "\"name\":\"tab1\"");
    CHECK_HAS(list, "\"name\":\"tab2\"");
    CHECK_HAS(list, AREA_A);
    CHECK(strstr(list, "mqt_") == NULL && strstr(list, "token") == NULL);
    mq_store_close(s);
}

/* A device as mq_device_claim_site() reads it: its name and its site so far. */
static mq_device named(const char *name)
{
    mq_device d;

    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", name);
    return d;
}

static void test_sites(void)
{
    mq_store *s = open_server();
    mq_device a = named("tab1"), b = named("tab2");
    mq_error e;

    CHECK(mq_device_claim_site(s, &a, MQ_SERVER_SITE, &e) == MQ_EREFUSED);
    CHECK(mq_device_claim_site(s, &a, "site-a", &e) == 0);
    CHECK(mq_device_claim_site(s, &b, "site-a", &e) == MQ_EREFUSED);
    CHECK(e.domain == MQ_DOMAIN_MINQING);
    CHECK_HAS(e.message, "already belongs to another device");
    CHECK(mq_device_claim_site(s, &b, "site-b", &e) == 0);
    char list[4096] = "";
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK_HAS(list, "\"site\":\"site-a\"");
    CHECK_HAS(list, "\"site\":\"site-b\"");
    mq_store_close(s);
}

static void test_batches_share_the_transaction(void)
{
    mq_store *s = open_server();
    char *resp = NULL, sha[65] = "";
    mq_error e;

    /* rolled back: the change, the answer and the counters together */
    CHECK(mq_store_begin(s, &e) == 0);
    CHECK(mq_store_put(s, "area", HH, "{\"name\":\"C\",\"level\":\"county\"}", NULL, NULL,
                       &e) == 0);
    CHECK(mq_batch_save(s, "tab1", "b1", "ab12", "{\"applied\":1}", &e) == 0);
    CHECK(mq_device_touch(s, "tab1", 7, 0, NULL, &e) == 0);
    CHECK(mq_batch_find(s, "tab1", "b1", &resp, sha, &e) == 0 && resp != NULL);
    free(resp);
    mq_store_rollback(s);
    char *json = NULL;
    CHECK(mq_store_get(s, HH, &json, &e) == MQ_ENOTFOUND);
    CHECK(mq_batch_find(s, "tab1", "b1", &resp, sha, &e) == 0 && resp == NULL);
    char list[4096] = "";
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK(strstr(list, "\"pushed\":7") == NULL);

    /* committed: all three */
    CHECK(mq_store_begin(s, &e) == 0);
    CHECK(mq_store_put(s, "area", HH, "{\"name\":\"C\",\"level\":\"county\"}", NULL, NULL,
                       &e) == 0);
    CHECK(mq_batch_save(s, "tab1", "b1", "ab12", "{\"applied\":1}", &e) == 0);
    CHECK(mq_device_touch(s, "tab1", 7, 0, "cursor-1", &e) == 0);
    CHECK(mq_store_commit(s, &e) == 0);
    CHECK(mq_store_get(s, HH, &json, &e) == 0);
    mq_free(json);
    CHECK(mq_batch_find(s, "tab1", "b1", &resp, sha, &e) == 0 && resp != NULL);
    CHECK(resp != NULL && strcmp(resp, "{\"applied\":1}") == 0 &&
          strcmp(sha, "ab12") == 0);
    free(resp);
    list[0] = '\0';
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK_HAS(list, "\"pushed\":7");
    CHECK_HAS(list, "\"last_seen_ms\":");

    /* an answer is recorded once; the failure is SQLite's constraint */
    CHECK(mq_batch_save(s, "tab1", "b1", "ab12", "{}", &e) == MQ_EIO);
    CHECK(e.domain == MQ_DOMAIN_SQLITE && (e.code & 0xff) == 19);
    CHECK_HAS(e.message, "sync_batches");
    mq_store_close(s);
}

static void test_revoke(void)
{
    mq_store *s = open_server();
    char token[MQ_PROTO_TOKEN_LEN + 1];
    const char *areas[] = {AREA_A};
    mq_device d;
    mq_error e;

    CHECK(mq_device_add(s, "tab3", areas, 1, NULL, token, sizeof token, &e) == 0);
    /* another handle on the file, opened as a plain store: sees it at once */
    mq_store *other = NULL;
    CHECK(mq_store_open(&other, path, &e) == 0);
    CHECK(mq_device_auth(other, token, &d, &e) == 0);
    mq_device_clear(&d);
    CHECK(mq_device_revoke(s, "tab3", &e) == 0);
    CHECK(mq_device_auth(other, token, &d, &e) == MQ_EAUTH);
    CHECK_HAS(e.message, "device tab3 has been revoked");
    CHECK(mq_device_revoke(s, "tab3", &e) == MQ_ENOTFOUND);
    CHECK(mq_device_revoke(s, "nobody", &e) == MQ_ENOTFOUND);
    /* the name stays taken */
    CHECK(mq_device_add(s, "tab3", areas, 1, NULL, token, sizeof token, &e) == MQ_EINVAL);
    mq_store_close(other);
    mq_store_close(s);
}

/* Bundle keys (docs/BUNDLES.md): made for a live device, for this office,
 * replaced on demand, listed by whether there is one, never shown. */
static void test_bundle_keys(void)
{
    mq_store *s = open_server();
    char key[MQ_SEAL_KEY_TEXT_MAX], key2[MQ_SEAL_KEY_TEXT_MAX], epoch[17], want[40];
    mq_seal_key k;
    mq_device d;
    mq_error e;

    CHECK(mq_device_find(s, "tab1", &d, &e) == 0 && d.nareas == 2);
    CHECK(strcmp(d.areas[0], AREA_A) == 0 && d.scope_tag[0] != '\0');
    mq_device_clear(&d);
    CHECK(mq_device_find(s, "nobody", &d, &e) == MQ_ENOTFOUND && d.areas == NULL);
    CHECK(mq_device_find(s, "tab3", &d, &e) == MQ_EAUTH && d.name[0] == '\0');
    CHECK_HAS(e.message, "device tab3 has been revoked");

    char list[4096] = "";
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK(strstr(list, "\"bundle_key\":true") == NULL);
    CHECK(mq_device_bundle_key(s, "tab1", key, 10, &e) == MQ_EINVAL);
    CHECK(mq_device_bundle_key(s, "tab3", key, sizeof key, &e) == MQ_EAUTH);
    CHECK(mq_device_bundle_key(s, "nobody", key, sizeof key, &e) == MQ_ENOTFOUND);
    CHECK(mq_device_bundle_key(s, "tab1", key, sizeof key, &e) == 0);
    CHECK(mq_server_epoch(s, epoch, &e) == 0);
    snprintf(want, sizeof want, "mqk1:%s:tab1:", epoch);
    CHECK(strncmp(key, want, strlen(want)) == 0 && strlen(key) == strlen(want) + 64);
    CHECK(mq_seal_key_parse(&k, key, &e) == 0 && strcmp(k.device, "tab1") == 0);
    CHECK(mq_device_bundle_key(s, "tab1", key2, sizeof key2, &e) == 0);
    CHECK(strcmp(key, key2) != 0);
    list[0] = '\0';
    CHECK(mq_device_list(s, collect, list, &e) == 0);
    CHECK_HAS(list, "\"bundle_key\":true,\"bundles_opened\":0");
    CHECK(strstr(list, key2 + strlen(want)) == NULL &&
          strstr(list, key + strlen(want)) == NULL);
    mq_store_close(s);
}

int main(void)
{
    unsigned char r[6];
    const char *suffix[] = {"", "-wal", "-shm"};

    if (mq_platform_random(r, sizeof r) != 0)
        return 2;
    snprintf(path, sizeof path, "/tmp/mq-test-devices-%02x%02x%02x%02x%02x%02x.db", r[0],
             r[1], r[2], r[3], r[4], r[5]);
    snprintf(tablet, sizeof tablet, "%s.tablet", path);
    test_open_and_epoch();
    test_enrol_and_auth();
    test_sites();
    test_batches_share_the_transaction();
    test_revoke();
    test_bundle_keys();
    for (size_t i = 0; i < 3; i++) {
        char p[200];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        remove(p);
        snprintf(p, sizeof p, "%s%s", tablet, suffix[i]);
        remove(p);
    }
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("test_devices: ok");
    return 0;
}
