/*
 * tests/sync/test_proto.c - unit tests of the protocol pieces both ends
 * share: gzip bodies (round trip, truncation, bombs), sticky byte buffers,
 * tokens, SHA-256 and batch ids, and the checks of text from the wire
 * (UTF-8 made valid for answers, values cJSON would not hold as sent).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int failures;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

static void test_gzip_round_trip(void)
{
    const char *text = "{\"v\":\"0000018c2f3a4b5c0001-t1\",\"type\":\"household\","
                       "\"set\":{\"head_name\":\"李春明\"}}";
    unsigned char *z = NULL;
    size_t zn = 0;
    char *back = NULL;
    size_t bn = 0;
    mq_error e;
    CHECK(mq__gzip(text, strlen(text), &z, &zn, &e) == 0);
    CHECK(zn > 10 && z[0] == 0x1f && z[1] == 0x8b);
    CHECK(mq__gunzip(z, zn, 1024, &back, &bn, &e) == 0);
    CHECK(bn == strlen(text) && strcmp(back, text) == 0);
    free(back);

    /* Every proper prefix is a truncated body, never a shorter success. */
    for (size_t cut = 0; cut < zn; cut++) {
        back = NULL;
        CHECK(mq__gunzip(z, cut, 1024, &back, &bn, &e) == MQ_EINVAL);
        CHECK(back == NULL);
    }
    /* A body that inflates past the bound is refused. */
    CHECK(mq__gunzip(z, zn, 10, &back, &bn, &e) == MQ_EREFUSED);
    free(z);

    /* Empty body round trip. */
    CHECK(mq__gzip("", 0, &z, &zn, &e) == 0);
    CHECK(mq__gunzip(z, zn, 16, &back, &bn, &e) == 0 && bn == 0 && back[0] == '\0');
    free(back);
    free(z);

    /* Not gzip at all. */
    CHECK(mq__gunzip("{\"a\":1}", 7, 1024, &back, &bn, &e) == MQ_EINVAL);
}

static void test_bomb(void)
{
    size_t n = 64u * 1024u * 1024u;
    char *zeros = calloc(1, n);
    unsigned char *z = NULL;
    size_t zn = 0;
    char *back = NULL;
    size_t bn = 0;
    mq_error e;
    CHECK(zeros != NULL);
    CHECK(mq__gzip(zeros, n, &z, &zn, &e) == 0);
    CHECK(zn < MQ_PROTO_MAX_BODY); /* small on the wire ... */
    CHECK(mq__gunzip(z, zn, MQ_PROTO_MAX_INFLATED, &back, &bn, &e) == MQ_EREFUSED);
    CHECK(back == NULL);
    free(z);
    free(zeros);
}

static void test_buf_sticky(void)
{
    mq__buf b = {0};
    mq_error e;
    CHECK(mq__buf_puts(&b, "ab") == 0 && mq__buf_add(&b, "cd", 2) == 0);
    CHECK(b.len == 4 && strcmp(b.data, "abcd") == 0 && mq__buf_check(&b, "x", &e) == 0);
    for (int i = 0; i < 1000; i++) /* growth keeps the bytes and the terminator */
        CHECK(mq__buf_add(&b, "0123456789", 10) == 0);
    CHECK(b.len == 10004 && b.data[b.len] == '\0' &&
          memcmp(b.data + 9994, "0123456789", 10) == 0);

    /* An append that cannot be met marks the buffer: its data is gone, later
     * appends do nothing, and one check reports it. */
    CHECK(mq__buf_add(&b, "x", SIZE_MAX - 8) == MQ_ENOMEM);
    CHECK(b.failed && b.data == NULL && b.len == 0);
    CHECK(mq__buf_puts(&b, "more") == MQ_ENOMEM && b.data == NULL && b.len == 0);
    mq_error_clear(&e);
    CHECK(mq__buf_check(&b, "the answer of GET /v1/pull", &e) == MQ_ENOMEM);
    CHECK(e.rc == MQ_ENOMEM && strstr(e.message, "the answer of GET /v1/pull") != NULL);
    CHECK(mq__buf_check(&b, "x", NULL) == MQ_ENOMEM);

    /* Freed, the buffer is empty and usable again. */
    mq__buf_free(&b);
    CHECK(!b.failed && mq__buf_puts(&b, "ok") == 0 && strcmp(b.data, "ok") == 0);
    mq__buf_free(&b);

    /* Appending nothing to a new buffer still gives an empty string. */
    CHECK(mq__buf_add(&b, "", 0) == 0 && b.data != NULL && b.data[0] == '\0');
    mq__buf_free(&b);
}

static void test_tokens(void)
{
    char t1[MQ_PROTO_TOKEN_LEN + 1], t2[MQ_PROTO_TOKEN_LEN + 1], h[65];
    mq_error e;
    CHECK(mq__token_new(t1, &e) == 0 && mq__token_new(t2, &e) == 0);
    CHECK(strlen(t1) == MQ_PROTO_TOKEN_LEN && strncmp(t1, "mqt_", 4) == 0);
    CHECK(strcmp(t1, t2) != 0);
    CHECK(mq__sha256_hex("abc", 3, h, &e) == 0);
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ==
          0);
}

static void test_batch_ids(void)
{
    CHECK(mq_valid_name("0123abcdef", MQ_PROTO_BATCH_ID_MAX));
    CHECK(mq_valid_name("tablet-1.batch_7", MQ_PROTO_BATCH_ID_MAX));
    CHECK(!mq_valid_name("", MQ_PROTO_BATCH_ID_MAX));
    CHECK(!mq_valid_name(NULL, MQ_PROTO_BATCH_ID_MAX));
    CHECK(!mq_valid_name("a b", MQ_PROTO_BATCH_ID_MAX));
    CHECK(!mq_valid_name("../x/y", MQ_PROTO_BATCH_ID_MAX));
    char longid[80];
    memset(longid, 'a', 65);
    longid[65] = '\0';
    CHECK(!mq_valid_name(longid, MQ_PROTO_BATCH_ID_MAX));
    longid[64] = '\0';
    CHECK(mq_valid_name(longid, MQ_PROTO_BATCH_ID_MAX));
}

static void test_utf8_clean(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"李春明", "李春明"},
        {"\xff", "\xef\xbf\xbd"},
        {"a\xc0\xaf"
         "b",
         "a\xef\xbf\xbd\xef\xbf\xbd"
         "b"},                                                    /* overlong "/" */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"cut\xe6\x9d", "cut\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = mq__utf8_clean(cases[i].in);
        CHECK(c != NULL && strcmp(c, cases[i].out) == 0);
        free(c);
    }
}

typedef struct seen {
    long element[8];
    size_t n;
} seen;

static int note(void *ctx, long element, size_t at, const char *what)
{
    seen *s = ctx;
    (void)at;
    CHECK(what != NULL && what[0] != '\0');
    if (s->n < 8)
        s->element[s->n++] = element;
    return 0;
}

static void test_json_flaws(void)
{
    seen s = {{0}, 0};
    const char *sound =
        "{\"batch\":\"b\",\"changes\":[{\"set\":{\"a\":\"\\\\u0000\","
        "\"n\":1e300,\"m\":-0.5e-300}},{\"x\":[1,2,{\"y\":\"\\u0001\"}]}]}";
    CHECK(mq__json_flaws(sound, "changes", note, &s) == 0);

    const char *bad = "{\"batch\":\"b\\u0000\",\"changes\":[{\"set\":{\"a\":1}},"
                      "{\"set\":{\"a\":\"x\\u0000\"}},[1e400],{\"k\\u0000\":1},"
                      "{\"n\":-1e-400}],\"more\":[1e999]}";
    CHECK(mq__json_flaws(bad, "changes", note, &s) == 6);
    long want[] = {-1, 1, 2, 3, 4, -1};
    CHECK(s.n == 6);
    for (size_t i = 0; i < 6 && i < s.n; i++)
        CHECK(s.element[i] == want[i]);
}

int main(void)
{
    test_gzip_round_trip();
    test_bomb();
    test_buf_sticky();
    test_tokens();
    test_batch_ids();
    test_utf8_clean();
    test_json_flaws();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    puts("test_proto: ok");
    return 0;
}
