/*
 * tests/platform/test_platform.c - unit tests of the OS layer: the durable
 * replace of a file (the old file whole until the rename, no PATH.part
 * left by an abort or a failed write), fsync, the strict parse of
 * "ADDR:PORT" and the listening socket, sleep, randomness, and the stop
 * signals.
 *
 * Run from its build folder; its files live in ./platform_tmp.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "platform.h"

#define DIR "platform_tmp"

/* The whole content of `path` (the caller's), or NULL if it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;

    if (f == NULL)
        return NULL;
    buf = malloc(4096);
    if (buf != NULL) {
        len = fread(buf, 1, 4095, f);
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

static int exists(const char *path)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* 1 if `path` holds exactly `text`. */
static int holds(const char *path, const char *text)
{
    char *s = slurp(path);
    int same = s != NULL && strcmp(s, text) == 0;

    free(s);
    return same;
}

static void test_replace_commit(void)
{
    const char *path = DIR "/bundle.jsonl";
    mq_platform_replace r;

    put(path, "old whole file\n");
    CHECK(mq_platform_replace_open(&r, path) == 0);
    CHECK(r.temp != NULL && strcmp(r.temp, DIR "/bundle.jsonl.part") == 0);
    CHECK(fputs("new line 1\n", r.fp) >= 0);
    CHECK(fflush(r.fp) == 0);
    /* Written and flushed, not committed: the old file is whole, the new
     * bytes are only under the temporary name. */
    CHECK(holds(path, "old whole file\n"));
    CHECK(holds(DIR "/bundle.jsonl.part", "new line 1\n"));
    CHECK(fputs("new line 2\n", r.fp) >= 0);
    CHECK(mq_platform_replace_commit(&r) == 0);
    CHECK(holds(path, "new line 1\nnew line 2\n"));
    CHECK(!exists(DIR "/bundle.jsonl.part"));
    CHECK(r.fp == NULL && r.path == NULL && r.temp == NULL);
    /* A second commit of a released struct is refused, not a crash. */
    CHECK(mq_platform_replace_commit(&r) == -1 && errno == EINVAL);
    remove(path);
}

static void test_replace_new_file(void)
{
    const char *path = DIR "/fresh.jsonl";
    mq_platform_replace r;

    remove(path);
    CHECK(mq_platform_replace_open(&r, path) == 0);
    CHECK(!exists(path));
    fputs("{}\n", r.fp);
    CHECK(mq_platform_replace_commit(&r) == 0);
    CHECK(holds(path, "{}\n"));
    remove(path);
}

static void test_replace_abort(void)
{
    const char *path = DIR "/kept.jsonl";
    mq_platform_replace r;

    put(path, "kept\n");
    CHECK(mq_platform_replace_open(&r, path) == 0);
    fputs("half of a bund", r.fp);
    fflush(r.fp);
    CHECK(exists(DIR "/kept.jsonl.part"));
    mq_platform_replace_abort(&r);
    CHECK(!exists(DIR "/kept.jsonl.part"));
    CHECK(holds(path, "kept\n"));
    /* Abort is safe twice, and after a commit. */
    mq_platform_replace_abort(&r);
    remove(path);
}

static void test_replace_failures(void)
{
    mq_platform_replace r;

    /* A folder that does not exist: nothing is created, errno says why. */
    errno = 0;
    CHECK(mq_platform_replace_open(&r, DIR "/no/such/folder/x.jsonl") == -1);
    CHECK(errno == ENOENT);
    CHECK(r.fp == NULL && r.path == NULL && r.temp == NULL);
    mq_platform_replace_abort(&r);

    /* A write that fails at the flush (a full device) is reported. */
    if (exists("/dev/full")) {
        CHECK(mq_platform_replace_open(&r, "/dev/full") == 0);
        CHECK(r.temp == NULL); /* a device is written in place */
        fputs("does not fit", r.fp);
        errno = 0;
        CHECK(mq_platform_replace_commit(&r) == -1);
        CHECK(errno == ENOSPC);
    }
}

static void test_fsync(void)
{
    const char *path = DIR "/synced";
    FILE *f = fopen(path, "wb");

    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("x", f);
    CHECK(mq_platform_fsync(f) == 0);
    fclose(f);
    CHECK(mq_platform_sync_folder_of(path) == 0);
    CHECK(mq_platform_sync_folder_of("in-the-working-folder") == 0);
    errno = 0;
    CHECK(mq_platform_sync_folder_of(DIR "/no/such/folder/x") == -1 && errno == ENOENT);
    remove(path);
}

/* Parses `spec`, expecting `host` and `port`. */
static void accepts(const char *spec, const char *host, unsigned port)
{
    char h[MQ_PLATFORM_HOST_MAX] = "unset";
    char why[MQ_PLATFORM_WHY_MAX] = "";
    unsigned p = 12345;

    int rc = mq_platform_parse_listen(spec, h, &p, why, sizeof why);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  refused \"%s\": %s\n", spec, why);
    CHECK_STR(h, host);
    CHECK(p == port);
}

/* Parses `spec`, expecting a refusal whose sentence contains `part`. */
static void refuses(const char *spec, const char *part)
{
    char h[MQ_PLATFORM_HOST_MAX];
    char why[MQ_PLATFORM_WHY_MAX] = "";
    unsigned p;

    errno = 0;
    int rc = mq_platform_parse_listen(spec, h, &p, why, sizeof why);
    CHECK(rc == -1);
    if (rc == 0)
        fprintf(stderr, "  accepted \"%s\" as %s port %u\n", spec, h, p);
    CHECK(errno == EINVAL);
    CHECK_HAS(why, part);
}

static void test_parse_listen(void)
{
    accepts("127.0.0.1:8080", "127.0.0.1", 8080);
    accepts("0.0.0.0:0", "0.0.0.0", 0);
    accepts("[::1]:0", "::1", 0);
    accepts("[::]:65535", "::", 65535);
    accepts("localhost:443", "localhost", 443);
    accepts("township-server.example:8080", "township-server.example", 8080);

    refuses("127.0.0.1:99999", "not '99999'");
    refuses("127.0.0.1:65536", "0 to 65535");
    refuses("127.0.0.1:99999999999999999999999", "0 to 65535");
    refuses("127.0.0.1:+80", "not '+80'");
    refuses("127.0.0.1:-1", "0 to 65535");
    refuses("127.0.0.1: 80", "0 to 65535");
    refuses("127.0.0.1:80 ", "0 to 65535");
    refuses("127.0.0.1:0x50", "0 to 65535");
    refuses("127.0.0.1:80x", "not '80x'");
    refuses("127.0.0.1:", "ADDR:PORT");
    refuses("127.0.0.1", "ADDR:PORT");
    refuses(":8080", "ADDR:PORT");
    refuses("", "ADDR:PORT");
    refuses("::1:8080", "brackets");
    refuses("[::1]", "ADDR:PORT");
    refuses("[]:8080", "ADDR:PORT");
    refuses("[::1]x:8080", "ADDR:PORT");
    refuses("[[::1]]:8080", "ADDR:PORT");
    refuses("::1]:8080", "brackets");

    char longhost[400];
    memset(longhost, 'a', 300);
    memcpy(longhost + 300, ":80", 4);
    refuses(longhost, "too long");

    /* `why` may be NULL. */
    char h[MQ_PLATFORM_HOST_MAX];
    unsigned p;
    CHECK(mq_platform_parse_listen("x:99999", h, &p, NULL, 0) == -1);
}

static void test_listen(void)
{
    mq_platform_listener a, b;
    char why[MQ_PLATFORM_WHY_MAX] = "";

    CHECK(mq_platform_listen(&a, "127.0.0.1:0", why, sizeof why) == 0);
    CHECK(a.fd >= 0);
    CHECK(a.port > 0 && a.port <= 65535);
    CHECK(a.ipv6 == 0);
    CHECK_STR(a.host, "127.0.0.1");

    /* The port it got is taken: a second listener on it is refused. */
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", a.port);
    why[0] = '\0';
    errno = 0;
    CHECK(mq_platform_listen(&b, spec, why, sizeof why) == -1);
    CHECK(errno == EADDRINUSE);
    CHECK(b.fd == -1);
    CHECK_HAS(why, "cannot listen");
    mq_platform_close_socket(a.fd);

    /* Closed, the port is free again at once (SO_REUSEADDR). */
    CHECK(mq_platform_listen(&b, spec, why, sizeof why) == 0);
    CHECK(b.port == a.port);
    mq_platform_close_socket(b.fd);

    /* A malformed spec is refused before any socket is made. */
    errno = 0;
    CHECK(mq_platform_listen(&b, "127.0.0.1:99999", why, sizeof why) == -1);
    CHECK(errno == EINVAL && b.fd == -1);
    CHECK_HAS(why, "99999");

    /* IPv6 loopback, where the system has it. */
    if (mq_platform_listen(&b, "[::1]:0", why, sizeof why) == 0) {
        CHECK(b.ipv6 == 1 && b.port > 0);
        CHECK_STR(b.host, "::1");
        mq_platform_close_socket(b.fd);
    } else {
        printf("  (no IPv6 loopback here: %s)\n", why);
    }
    mq_platform_close_socket(-1);
}

/* Milliseconds between two C11 timestamps. */
static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1000.0 +
           (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* One spelling per address; names and malformed text refused. */
static void test_addr_canon(void)
{
    static const char *const same[][2] = {
        {"192.0.2.7", "192.0.2.7"},
        {"2001:DB8:0::1", "2001:db8::1"},
        {"::1", "::1"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"::ffff:10.1.2.3", "::ffff:10.1.2.3"},
    };
    static const char *const refused[] = {"",           "localhost", "192.0.2.256",
                                          "192.0.2.7 ", "[::1]",     "10.0.0.1,10.0.0.2",
                                          "1.2.3"};
    char out[MQ_PLATFORM_ADDR_MAX];

    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        CHECK(mq_platform_addr_canon(same[i][0], out, sizeof out) == 0);
        CHECK(strcmp(out, same[i][1]) == 0);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CHECK(mq_platform_addr_canon(refused[i], out, sizeof out) == -1);
        CHECK(out[0] == '\0');
    }
    CHECK(mq_platform_addr_canon("2001:db8::1", out, 4) == -1); /* too small */
    CHECK(mq_platform_addr_canon(NULL, out, sizeof out) == -1);
}

static void test_sleep_and_clock(void)
{
    struct timespec t0, t1;

    for (unsigned ms = 0; ms <= 120; ms += 40) {
        CHECK(timespec_get(&t0, TIME_UTC) == TIME_UTC);
        mq_platform_sleep_ms(ms);
        CHECK(timespec_get(&t1, TIME_UTC) == TIME_UTC);
        double took = ms_between(&t0, &t1);
        CHECK(took >= (double)ms);
        if (took < (double)ms)
            fprintf(stderr, "  sleep of %u ms took %.3f ms\n", ms, took);
    }
    int64_t now = mq_platform_time_ms();
    CHECK(now > (int64_t)1600000000 * 1000); /* after September 2020 */

    /* The uptime clock runs with the sleeps, and the boot's id stays. */
    char id1[64], id2[64];
    int64_t up0 = mq_platform_uptime_ms();
    mq_platform_sleep_ms(20);
    int64_t up1 = mq_platform_uptime_ms();
    CHECK(up0 > 0 && up1 - up0 >= 20 && up1 - up0 < 10000);
    CHECK(mq_platform_boot_id(id1, sizeof id1) == 0 && strlen(id1) >= 16);
    CHECK(mq_platform_boot_id(id2, sizeof id2) == 0 && strcmp(id1, id2) == 0);
    CHECK(mq_platform_boot_id(id1, 0) == -1);
}

static void test_random(void)
{
    unsigned char a[32], b[32], zero[32] = {0};

    CHECK(mq_platform_random(a, sizeof a) == 0);
    CHECK(mq_platform_random(b, sizeof b) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, zero, sizeof a) != 0);
    CHECK(mq_platform_random(a, 0) == 0);
}

static void test_stop_signals(void)
{
    CHECK(mq_platform_block_stop_signals() == 0);
    /* Ignored: a hung-up client must not kill the server. */
    CHECK(raise(SIGPIPE) == 0);
    /* Blocked: the signal waits for the main thread instead of killing it. */
    CHECK(raise(SIGTERM) == 0);
    CHECK(mq_platform_wait_stop_signal() == SIGTERM);
    CHECK(raise(SIGINT) == 0);
    CHECK(mq_platform_wait_stop_signal() == SIGINT);
}

int main(void)
{
    if (mq_platform_mkdirs(DIR) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", DIR, strerror(errno));
        return 1;
    }
    RUN(test_replace_commit);
    RUN(test_replace_new_file);
    RUN(test_replace_abort);
    RUN(test_replace_failures);
    RUN(test_fsync);
    RUN(test_parse_listen);
    RUN(test_listen);
    RUN(test_addr_canon);
    RUN(test_sleep_and_clock);
    RUN(test_random);
    RUN(test_stop_signals);
    remove(DIR);
    return mq_test_done();
}
