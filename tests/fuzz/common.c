/*
 * tests/fuzz/common.c - the helpers every fuzz target uses: failing loudly,
 * turning the input into a string or a stream, and stores in memory with
 * the base bundle applied.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef FUZZ_SOURCE_DIR
#error "FUZZ_SOURCE_DIR names tests/fuzz, where base.bundle is"
#endif

/* The areas of base.bundle (made from gen_cards.py's data set). */
const char *const fuzz_county = "31ff3fb4-5d65-40cc-b922-067918ae0fe0";
const char *const fuzz_township = "838fe57b-0283-43c8-9587-e47a5413f4d7";
const char *const fuzz_village = "f7bfc8b9-9fc0-4013-a29a-97d3d62ca70e";
const char *const fuzz_group = "791d01a7-53af-4729-8f6a-39a3e70f4c59";

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (t == NULL)
        fuzz_fail("out of memory");
    if (size > 0)
        memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

FILE *fuzz_stream(const uint8_t *data, size_t size)
{
    if (size == 0)
        return NULL;
    /* fmemopen() reads a buffer in "r" mode as bytes, NULs included. */
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        fuzz_fail("fmemopen failed");
    return f;
}

mq_store *fuzz_store(const char *site)
{
    mq_store *s = NULL;
    mq_error e;
    if (mq_store_open(&s, ":memory:", &e) != 0)
        fuzz_fail("cannot open a store in memory: %s", e.message);
    if (mq_store_init(s, site, NULL, &e) != 0)
        fuzz_fail("cannot initialise the store: %s", e.message);
    return s;
}

/* base.bundle, read once. */
static char base[16384];
static size_t base_len;

const char *fuzz_base_bundle(size_t *len)
{
    const char *path = FUZZ_SOURCE_DIR "/base.bundle";
    if (base_len == 0) {
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            fuzz_fail("cannot read %s", path);
        base_len = fread(base, 1, sizeof base, f);
        if (ferror(f) || base_len == 0 || base_len == sizeof base)
            fuzz_fail("cannot read %s whole", path);
        fclose(f);
    }
    *len = base_len;
    return base;
}

mq_store *fuzz_base_store(const char *site)
{
    mq_store *s = fuzz_store(site);
    size_t len;
    const char *text = fuzz_base_bundle(&len);
    FILE *f = fuzz_stream((const uint8_t *)text, len);
    mq_apply_stats st;
    mq_error e;
    if (mq_store_apply_bundle(s, f, NULL, &st, &e) != 0)
        fuzz_fail("base.bundle: %s", e.message);
    fclose(f);
    if (st.applied == 0 || st.rejected != 0)
        fuzz_fail("base.bundle: %zu applied, %zu rejected", st.applied, st.rejected);
    return s;
}

static int count_one(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

size_t fuzz_log_size(mq_store *s)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    size_t n = 0;
    mq_error e;
    if (mq_store_changes(s, &q, count_one, &n, NULL, &e) != 0)
        fuzz_fail("cannot walk the change log: %s", e.message);
    return n;
}

static void print_problem(void *ctx, const char *problem)
{
    fprintf(stderr, "fuzz: %s: %s\n", (const char *)ctx, problem);
}

void fuzz_check(mq_store *s, const char *after)
{
    size_t problems = 0;
    mq_error e;
    if (mq_store_check(s, print_problem, (void *)after, &problems, &e) != 0)
        fuzz_fail("%s: mq_store_check failed: %s", after, e.message);
    if (problems != 0)
        fuzz_fail("%s: the store fails its check (%zu problems)", after, problems);
}

int fuzz_utf8_ok(const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc0 && c < 0xe0) {
            k = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c < 0xf0) {
            k = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c < 0xf8) {
            k = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        /* Overlong forms, surrogates, past U+10FFFF. */
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        i += k;
    }
    return 1;
}
