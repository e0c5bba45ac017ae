/*
 * tests/fuzz/fuzz_proto.c - the decoders of text from the wire that both
 * ends of sync share (sync/proto): the input is taken as a gzip body, as
 * text to be made valid UTF-8 for an answer, and as a JSON body to be
 * walked for what cJSON would not hold as sent.
 *
 * What must hold, whatever the input:
 *   1. mq__gunzip() gives a body within its bound, NUL-terminated, that
 *      compresses and inflates back to itself; or MQ_EINVAL (not gzip, cut,
 *      trailing bytes) or MQ_EREFUSED (past the bound), with nothing out.
 *   2. mq__utf8_clean() gives well-formed UTF-8 (by a checker of its own
 *      here), the input itself when it was well-formed, and itself again
 *      when cleaned twice.
 *   3. mq__json_flaws() on a body that cJSON parses whole: as many flaws as it calls
 *      back for, each inside the text; each flaw inside "changes" names an
 *      element of that array; and a number cJSON holds as infinite is
 *      always reported.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "proto.h"

/* Small, so that a bomb is found quickly. */
#define INFLATE_MAX ((size_t)1 << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void gunzip(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t n = 0;
    mq_error e;
    int rc = mq__gunzip(data, size, INFLATE_MAX, &out, &n, &e);
    if (rc != 0) {
        if ((rc != MQ_EINVAL && rc != MQ_EREFUSED) || out != NULL)
            fuzz_fail("mq__gunzip: %d, out %p", rc, (void *)out);
        return;
    }
    if (out == NULL || n > INFLATE_MAX || out[n] != '\0')
        fuzz_fail("mq__gunzip: a body of %zu bytes, not NUL-terminated or past the bound",
                  n);
    unsigned char *z = NULL;
    size_t zn = 0;
    char *back = NULL;
    size_t bn = 0;
    if (mq__gzip(out, n, &z, &zn, &e) != 0 ||
        mq__gunzip(z, zn, INFLATE_MAX, &back, &bn, &e) != 0)
        fuzz_fail("an inflated body does not round trip: %s", e.message);
    if (bn != n || memcmp(back, out, n) != 0)
        fuzz_fail("an inflated body round trips to other bytes");
    free(back);
    free(z);
    free(out);
}

static void utf8(const char *text)
{
    char *clean = mq__utf8_clean(text);
    if (clean == NULL)
        fuzz_fail("mq__utf8_clean: out of memory");
    size_t n = strlen(clean);
    if (!fuzz_utf8_ok(clean, n))
        fuzz_fail("mq__utf8_clean gave ill-formed UTF-8");
    if (fuzz_utf8_ok(text, strlen(text)) && strcmp(clean, text) != 0)
        fuzz_fail("mq__utf8_clean changed well-formed UTF-8");
    char *twice = mq__utf8_clean(clean);
    if (twice == NULL || strcmp(twice, clean) != 0)
        fuzz_fail("mq__utf8_clean is not the same when cleaned twice");
    free(twice);
    free(clean);
}

typedef struct flaw_ctx {
    size_t calls, len;
    long elements; /* of "changes", or -1 when it is not an array */
} flaw_ctx;

static int on_flaw(void *ctx, long element, size_t at, const char *what)
{
    flaw_ctx *f = ctx;
    f->calls++;
    if (at >= f->len)
        fuzz_fail("a flaw at byte %zu of %zu: %s", at, f->len, what);
    if (element >= 0 && (f->elements < 0 || element >= f->elements))
        fuzz_fail("a flaw in element %ld of \"changes\", which has %ld: %s", element,
                  f->elements, what);
    return 0;
}

/* Whether a number of `j` is held as infinite (1e400). */
static int has_infinite(const cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
            return 1;
        if (has_infinite(j->child))
            return 1;
    }
    return 0;
}

static void flaws(const char *text)
{
    /* The whole text, as the server takes a body (nothing after it). */
    cJSON *j = cJSON_ParseWithOpts(text, NULL, 1);
    if (j == NULL)
        return;
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(j, "changes");
    flaw_ctx f = {0, strlen(text),
                  cJSON_IsArray(changes) ? cJSON_GetArraySize(changes) : -1};
    /* Element indexes are checked only where the array is the only member
     * of that name (a duplicate key is the first's to cJSON). */
    int dup = 0;
    if (cJSON_IsObject(j)) {
        int named = 0;
        for (const cJSON *m = j->child; m != NULL; m = m->next)
            named += m->string != NULL && strcmp(m->string, "changes") == 0;
        dup = named > 1;
    }
    if (dup)
        f.elements = 1L << 30;
    size_t n = mq__json_flaws(text, "changes", on_flaw, &f);
    if (n != f.calls)
        fuzz_fail("mq__json_flaws: %zu flaws for %zu calls", n, f.calls);
    if (n == 0 && has_infinite(j))
        fuzz_fail("mq__json_flaws missed a number cJSON holds as infinite");
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gunzip(data, size);
    char *text = fuzz_text(data, size);
    utf8(text);
    flaws(text);
    free(text);
    return 0;
}
