/*
 * tests/core/test_lines.c - the one line reader of import and apply:
 * line ends, the bound on a line's length, numbering, and what import and
 * apply say about a line that is too long.
 */
#include <unistd.h>

#include "harness.h"
#include "internal.h"

/* A stream holding `text` (n bytes), read from the start. */
static FILE *stream(const char *text, size_t n)
{
    FILE *f = tmpfile();

    if (f == NULL || fwrite(text, 1, n, f) != n) {
        fprintf(stderr, "tmpfile failed\n");
        exit(2);
    }
    rewind(f);
    return f;
}

/* Reads the next line and checks result, text and number. */
static void expect_line(mq__lines *r, int want_rc, const char *want, long number, int at)
{
    char *line;
    size_t n;
    int before = mq_test_failures;
    int rc = mq__lines_next(r, &line, &n);

    CHECK(rc == want_rc);
    if (rc == 0 && want != NULL) {
        CHECK_STR(line, want);
        CHECK(n == strlen(want));
    }
    CHECK(r->number == number);
    if (mq_test_failures != before)
        fprintf(stderr, "  (the line read at line %d)\n", at);
}
#define EXPECT_LINE(r, rc, want, number)                                                 \
    expect_line((r), (rc), (want), (number), __LINE__)

static void test_line_ends(void)
{
    static const char text[] = "a\nb\r\n\n  \nc\r\r\nlast";
    FILE *f = stream(text, sizeof(text) - 1);
    mq__lines r;

    mq__lines_init(&r, f, 100);
    EXPECT_LINE(&r, 0, "a", 1);
    EXPECT_LINE(&r, 0, "b", 2);  /* CRLF is one line end */
    EXPECT_LINE(&r, 0, "", 3);   /* an empty line is a line */
    EXPECT_LINE(&r, 0, "  ", 4); /* blank lines are the caller's to skip */
    EXPECT_LINE(&r, 0, "c\r", 5);
    EXPECT_LINE(&r, 0, "last", 6); /* no line end at the end of the input */
    EXPECT_LINE(&r, MQ_ENOTFOUND, NULL, 6);
    EXPECT_LINE(&r, MQ_ENOTFOUND, NULL, 6);
    mq__lines_free(&r);
    fclose(f);
}

/* A line of `n` copies of `c`, caller frees. */
static char *run(char c, size_t n)
{
    char *s = malloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_bound(void)
{
    /* Around the bound, below and above the reader's first buffer. */
    const size_t bounds[] = {8, 4094, 4095, 4096, 5000, 70000};

    for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++) {
        size_t max = bounds[b];
        char *at = run('x', max), *over = run('y', max + 1), *far = run('z', 3 * max);
        size_t cap = 8 * max + 64, used = 0;
        char *text = malloc(cap);
        used += (size_t)snprintf(text + used, cap - used, "%s\n", at);
        used += (size_t)snprintf(text + used, cap - used, "%s\r\n", at);
        used += (size_t)snprintf(text + used, cap - used, "%s\n", over);
        used += (size_t)snprintf(text + used, cap - used, "%s\n", far);
        used += (size_t)snprintf(text + used, cap - used, "next\n");
        used += (size_t)snprintf(text + used, cap - used, "%s", over);
        FILE *f = stream(text, used);
        mq__lines r;

        mq__lines_init(&r, f, max);
        EXPECT_LINE(&r, 0, at, 1); /* exactly the bound */
        EXPECT_LINE(&r, 0, at, 2); /* the bound, then CRLF */
        EXPECT_LINE(&r, MQ_EINVAL, NULL, 3);
        EXPECT_LINE(&r, MQ_EINVAL, NULL, 4); /* its rest is skipped... */
        EXPECT_LINE(&r, 0, "next", 5);       /* ...so the next is read whole */
        EXPECT_LINE(&r, MQ_EINVAL, NULL, 6); /* too long without a line end */
        EXPECT_LINE(&r, MQ_ENOTFOUND, NULL, 6);
        CHECK(r.cap <= max + 3); /* the buffer never grows past the bound */
        mq__lines_free(&r);
        fclose(f);
        free(at);
        free(over);
        free(far);
        free(text);
    }
}

static char dir[] = "/tmp/mq-test-lines-XXXXXX";

static void collect(void *ctx, const char *message)
{
    char *buf = ctx;
    size_t used = strlen(buf);

    snprintf(buf + used, 1024 - used, "%s\n", message);
}

/* Import reports a line over 1 MiB and goes on; apply refuses a bundle
 * with a line over 4 MiB. */
static void test_import_and_apply_bound(void)
{
    char path[256], msgs[1024] = "";
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/lines.db", dir);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK(mq_store_init(s, "tabA", NULL, &err) == 0);

    /* A string field's worth of JSON just over the bound: the old reader
     * took lines up to twice its bound. */
    size_t big = (size_t)1024 * 1024 + 10;
    char *pad = run('a', big);
    size_t cap = big + 256;
    char *text = malloc(cap);
    int used =
        snprintf(text, cap,
                 "{\"type\":\"cadre\",\"id\":\"00000000-0000-4000-8000-0000000000c1\","
                 "\"fields\":{\"name\":\"%s\"}}\n",
                 pad);
    FILE *f = stream(text, (size_t)used);
    mq_import_opts io = {1, NULL, "big.jsonl", collect, msgs};
    mq_import_stats st;
    CHECK(mq_store_import(s, f, &io, &st, &err) == 0);
    CHECK(st.invalid == 1 && st.created == 0);
    CHECK_HAS(msgs, "line 1: longer than 1048576 bytes");
    fclose(f);
    free(text);
    free(pad);

    big = (size_t)4 * 1024 * 1024 + 1;
    pad = run('b', big);
    cap = big + 256;
    text = malloc(cap);
    used = snprintf(text, cap, "{\"minqing\":\"bundle\",\"format\":1}\n{\"v\":\"%s\"}\n",
                    pad);
    f = stream(text, (size_t)used);
    mq_apply_opts ao = {0, "big.bundle", NULL, NULL};
    CHECK(mq_store_apply_bundle(s, f, &ao, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "big.bundle line 2: longer than 4 MiB");
    fclose(f);
    free(text);
    free(pad);
    mq_store_close(s);
}

/* A NUL byte is no JSON Lines text: reading stops there, whether the input
 * is a file of NULs or a line with one inside, ended or not. */
static void test_nul_bytes(void)
{
    static const char texts[][12] = {"a\nb\0c\nd\n", "a\nb\0c", "a\n\0\0\0\0\0\0\0\0"};
    static const size_t lens[] = {8, 5, 10};

    for (int i = 0; i < 3; i++) {
        FILE *f = stream(texts[i], lens[i]);
        mq__lines r;
        mq__lines_init(&r, f, 100);
        EXPECT_LINE(&r, 0, "a", 1);
        EXPECT_LINE(&r, MQ_EINVAL, NULL, 2);
        CHECK(r.fatal);
        CHECK_HAS(r.why, "holds a NUL byte");
        EXPECT_LINE(&r, MQ_ENOTFOUND, NULL, 2);
        mq__lines_free(&r);
        fclose(f);
    }
    /* Import and apply end with the message, not a loop. */
    char path[256], msgs[1024] = "";
    mq_store *s = NULL;
    mq_error err;
    snprintf(path, sizeof(path), "%s/nul.db", dir);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK(mq_store_init(s, "tabA", NULL, &err) == 0);
    static const char zeros[4096];
    FILE *f = stream(zeros, sizeof(zeros));
    mq_import_opts io = {1, NULL, "zeros", collect, msgs};
    mq_import_stats st;
    CHECK(mq_store_import(s, f, &io, &st, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "zeros line 1: holds a NUL byte");
    CHECK_HAS(msgs, "line 1: holds a NUL byte");
    rewind(f);
    mq_apply_opts ao = {1, "zeros", NULL, NULL};
    CHECK(mq_store_apply_bundle(s, f, &ao, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "zeros line 1: holds a NUL byte");
    fclose(f);
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 2;
    RUN(test_line_ends);
    RUN(test_bound);
    RUN(test_import_and_apply_bound);
    RUN(test_nul_bytes);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 2;
    return mq_test_done();
}
