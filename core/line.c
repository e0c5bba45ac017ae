/*
 * core/line.c - reading JSON Lines input one bounded line at a time, and
 * the checks that text from outside needs before cJSON parses it.
 *
 * Import and apply stream their input: a county file is ~80 MB and a tablet
 * has little memory, so one line is held at a time, in a buffer that grows
 * to the longest line read and never past the bound.  A line is its bytes
 * without the "\n" or "\r\n" that ends it; the last line may lack one.  The
 * input is read in blocks, so every byte of a line is seen: a NUL byte
 * (which fgets() would hide) makes the input something other than JSON
 * Lines, and reading stops there instead of looping over binary data.
 *
 * cJSON decodes "\u0000" into a NUL inside the string it returns, and every
 * reader of the string then sees it cut there ("ab\u0000cd" reads "ab", and
 * an id with "\u0000" and anything after it reads as the id).  No field may
 * hold a NUL, so text holding that escape is refused before it is parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BLOCK    ((size_t)64 * 1024)
#define SKIP_MAX ((size_t)64 * 1024 * 1024) /* of an overlong line, skipped */

void mq__lines_init(mq__lines *r, FILE *in, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->max = max;
}

void mq__lines_free(mq__lines *r)
{
    free(r->buf);
    free(r->blk);
    r->buf = r->blk = NULL;
    r->cap = 0;
}

/* Makes bytes of the input available at blk + bpos: 1, 0 at the end (or on
 * a read error: see ferror()), -1 out of memory. */
static int fill(mq__lines *r)
{
    if (r->bpos < r->blen)
        return 1;
    if (r->eof)
        return 0;
    if (r->blk == NULL && (r->blk = malloc(BLOCK)) == NULL)
        return -1;
    r->bpos = 0;
    r->blen = fread(r->blk, 1, BLOCK, r->in);
    if (r->blen < BLOCK)
        r->eof = 1; /* fread() is short only at the end or on an error */
    return r->blen > 0;
}

/* Skips the rest of an overlong line; MQ_EINVAL (fatal) if it never ends. */
static int skip_rest(mq__lines *r)
{
    while (r->skipping) {
        int f = fill(r);
        if (f < 0)
            return MQ_ENOMEM;
        if (f == 0)
            break;
        const char *p = r->blk + r->bpos;
        const char *nl = memchr(p, '\n', r->blen - r->bpos);
        size_t take = nl != NULL ? (size_t)(nl - p) + 1 : r->blen - r->bpos;
        r->bpos += take;
        r->skipped += take;
        if (nl != NULL)
            break;
        if (r->skipped > SKIP_MAX) {
            r->fatal = 1;
            snprintf(r->why, sizeof(r->why),
                     "no line end within %zu MiB: the input is not JSON Lines",
                     SKIP_MAX >> 20);
            return MQ_EINVAL;
        }
    }
    r->skipping = 0;
    return 0;
}

/* Grows the line buffer to hold `need` bytes (need <= max + 2). */
static int grow(mq__lines *r, size_t need)
{
    if (need <= r->cap)
        return 0;
    size_t ncap = r->cap ? r->cap : 4096;
    while (ncap < need)
        ncap *= 2;
    if (ncap > r->max + 3)
        ncap = r->max + 3;
    char *grown = realloc(r->buf, ncap);
    if (grown == NULL)
        return MQ_ENOMEM;
    r->buf = grown;
    r->cap = ncap;
    return 0;
}

/* Names what a line holding `\u0000` is, for the message: a change by its
 * version, a record by its type and id (as cJSON reads them: cut). */
static void name_line(mq__lines *r, const char *text, const char *key)
{
    cJSON *o = cJSON_Parse(text);
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "v"));
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id"));
    char who[160] = "";

    if (v != NULL && mq__version_parse(v, NULL, NULL) == 0)
        snprintf(who, sizeof(who), "change %s: ", v);
    else if (type != NULL && id != NULL && mq_valid_name(type, 64) && mq_valid_uuid(id))
        snprintf(who, sizeof(who), "%s %s: ", type, id);
    snprintf(r->why, sizeof(r->why), "%s%s", who, key);
    cJSON_Delete(o);
}

int mq__lines_next(mq__lines *r, char **line, size_t *len)
{
    size_t n = 0;
    int ended = 0, any = 0, rc;

    *line = NULL;
    *len = 0;
    r->why[0] = '\0';
    if (r->fatal)
        return MQ_ENOTFOUND; /* nothing is read past a fatal line */
    if ((rc = skip_rest(r)) != 0)
        return rc;
    for (;;) {
        int f = fill(r);
        if (f < 0) {
            r->number++;
            return MQ_ENOMEM;
        }
        if (f == 0)
            break;
        any = 1;
        const char *p = r->blk + r->bpos;
        const char *nl = memchr(p, '\n', r->blen - r->bpos);
        size_t seg = nl != NULL ? (size_t)(nl - p) : r->blen - r->bpos;
        if (memchr(p, '\0', seg) != NULL) {
            r->number++;
            r->fatal = 1;
            snprintf(r->why, sizeof(r->why),
                     "holds a NUL byte: the input is not JSON Lines text");
            return MQ_EINVAL;
        }
        /* Room for the bound and a "\r" before the line end. */
        if (n + seg > r->max + 1) {
            r->number++;
            r->bpos += seg + (nl != NULL);
            if (nl == NULL) {
                r->skipping = 1; /* the rest is skipped by the next call */
                r->skipped = 0;
            }
            return MQ_EINVAL;
        }
        if (grow(r, n + seg + 1) != 0) {
            r->number++;
            return MQ_ENOMEM;
        }
        memcpy(r->buf + n, p, seg);
        n += seg;
        r->bpos += seg + (nl != NULL);
        if (nl != NULL) {
            ended = 1;
            break;
        }
    }
    if (!any)
        return MQ_ENOTFOUND; /* the end of the input, or a read error: see ferror() */
    r->number++;
    if (grow(r, 1) != 0)
        return MQ_ENOMEM;
    if (ended && n > 0 && r->buf[n - 1] == '\r')
        n--;
    r->buf[n] = '\0';
    if (n > r->max)
        return MQ_EINVAL;
    char key[200];
    if (mq__json_nul_escape(r->buf, n, key, sizeof(key))) {
        name_line(r, r->buf, key);
        return MQ_EINVAL;
    }
    *line = r->buf;
    *len = n;
    return 0;
}

/* The first `\u0000` escape of `text` not inside another escape, or NULL. */
static const char *find_nul_escape(const char *text, size_t len)
{
    const char *end = text + len, *p = text;

    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return p;
        p += 2; /* a backslash escapes the next character, maybe a backslash */
    }
    return NULL;
}

int mq__json_nul_escape(const char *text, size_t len, char *why, size_t n)
{
    const char *first = find_nul_escape(text, len);

    if (first == NULL)
        return 0;
    /* Walk the strings up to it, remembering the last member name, so
     * that the message names the field: "head_name": "ab\u0000". */
    const char *p = text, *key = NULL, *open = NULL;
    size_t keylen = 0;
    int in = 0;
    for (; p < first; p++) {
        if (!in) {
            if (*p == '"') {
                in = 1;
                open = p + 1;
            }
            continue;
        }
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"') {
            in = 0;
            const char *q = p + 1;
            while (q < first && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
                q++;
            if (q < first && *q == ':') {
                key = open;
                keylen = (size_t)(p - open);
            }
        }
    }
    /* The string holding the escape is a member name when a colon
     * follows it. */
    const char *q = first, *end = text + len;
    while (q < end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    for (q++; q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'); q++)
        ;
    /* The name is quoted only when it is a plain one: it came from outside. */
    char name[64] = "";
    if (key != NULL && keylen < sizeof(name)) {
        memcpy(name, key, keylen);
        name[keylen] = '\0';
        if (!mq_valid_name(name, sizeof(name) - 1))
            name[0] = '\0';
    }
    if (q < end && *q == ':')
        snprintf(why, n,
                 "a member name holds \\u0000 (a NUL character), which no "
                 "name may hold");
    else if (name[0] != '\0')
        snprintf(why, n,
                 "field %s: a string holds \\u0000 (a NUL character), which no field "
                 "may hold",
                 name);
    else
        snprintf(why, n,
                 "a string holds \\u0000 (a NUL character), which no field may "
                 "hold");
    return 1;
}

int mq_json_check_text(const char *text, size_t len, mq_error *err)
{
    char why[320];

    if (memchr(text, '\0', len) != NULL)
        return mq__fail(err, MQ_EINVAL, "holds a NUL byte: it is not JSON text");
    if (mq__json_nul_escape(text, len, why, sizeof(why)))
        return mq__fail(err, MQ_EINVAL, "%s", why);
    return 0;
}
