/*
 * sync/proto/proto.c - the pieces of the sync protocol that the client and
 * the server share: gzip bodies with a hard bound on what they inflate to,
 * byte buffers for bodies as they arrive, random device tokens and batch
 * ids, and SHA-256 so that the server keeps only the hash of a token.  JSON
 * bodies are built and printed with cJSON, by the client and the server.
 *
 * A gzip body that ends before its trailer is reported as MQ_EINVAL so that
 * the client can treat a truncated response as a transient failure and
 * retry; one that inflates past its bound is MQ_EREFUSED, never retried.
 *
 * Text from the wire is checked here too, the same way at both ends: what
 * cJSON would store other than as sent (a NUL escape, a number out of range)
 * is found before a change goes to the store, and text echoed back in an
 * answer is made valid UTF-8.
 */
#include "proto.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "platform.h"

/* ---- buffers ----------------------------------------------------------- */

/* Makes room for `extra` more bytes and the terminator, or marks `b` failed. */
static int buf_reserve(mq__buf *b, size_t extra)
{
    if (b->failed)
        return MQ_ENOMEM;
    if (extra < b->cap - b->len) /* cap > len always holds once data is set */
        return 0;
    char *p = NULL;
    if (extra < SIZE_MAX / 2 - b->len) {
        size_t need = b->len + extra + 1;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p != NULL) {
            b->data = p;
            b->cap = cap;
            return 0;
        }
    }
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 1;
    return MQ_ENOMEM;
}

int mq__buf_add(mq__buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return MQ_ENOMEM;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mq__buf_puts(mq__buf *b, const char *s)
{
    return mq__buf_add(b, s, strlen(s));
}

int mq__buf_check(const mq__buf *b, const char *what, mq_error *err)
{
    if (!b->failed)
        return 0;
    return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                        "out of memory for %s", what);
}

void mq__buf_free(mq__buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- gzip -------------------------------------------------------------- */

int mq__gzip(const void *in, size_t n, unsigned char **out, size_t *out_len,
             mq_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    *out = NULL;
    *out_len = 0;
    /* windowBits 15 + 16 selects the gzip wrapper; level 6 is zlib's default
     * balance, and JSON of records compresses about 5:1 at it. */
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "gzip: cannot initialise zlib");
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "gzip: out of memory for %zu bytes", cap);
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int zrc = deflate(&zs, Z_FINISH);
    size_t got = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) {
        free(buf);
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "gzip: deflate failed (%d)", zrc);
    }
    *out = buf;
    *out_len = got;
    return 0;
}

int mq__gunzip(const void *in, size_t n, size_t max, char **out, size_t *out_len,
               mq_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    *out = NULL;
    *out_len = 0;
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "gunzip: cannot initialise zlib");
    size_t cap = n * 4 + 1024;
    if (cap > max + 1)
        cap = max + 1;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        inflateEnd(&zs);
        return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                            "gunzip: out of memory");
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    size_t len = 0;
    int zrc = Z_OK;
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                free(buf);
                inflateEnd(&zs);
                return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                                    "body inflates past the limit of %zu bytes", max);
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *p = realloc(buf, ncap + 1);
            if (p == NULL) {
                free(buf);
                inflateEnd(&zs);
                return mq_error_set(err, MQ_ENOMEM, MQ_DOMAIN_MINQING, MQ_ENOMEM,
                                    "gunzip: out of memory");
            }
            buf = p;
            cap = ncap;
        }
        zs.next_out = (Bytef *)buf + len;
        zs.avail_out = (uInt)(cap - len);
        zrc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0)
            break; /* input exhausted before the trailer */
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            break;
    }
    int trailing = zs.avail_in != 0;
    inflateEnd(&zs);
    if (zrc != Z_STREAM_END || trailing) {
        free(buf);
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "gzip body is %s (zlib %d after %zu of %zu bytes)",
                            zrc == Z_STREAM_END  ? "followed by extra bytes"
                            : zrc == Z_BUF_ERROR ? "truncated"
                                                 : "corrupt",
                            zrc, n - zs.avail_in, n);
    }
    if (len > max) {
        free(buf);
        return mq_error_set(err, MQ_EREFUSED, MQ_DOMAIN_MINQING, MQ_EREFUSED,
                            "body inflates past the limit of %zu bytes", max);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

/* ---- text from the wire ------------------------------------------------ */

/* The length of the well-formed UTF-8 character at `p`, or 0 (RFC 3629). */
static size_t utf8_char(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (n == 0)
        return 0;
    /* The second byte's range rules out overlong forms, surrogates and
     * code points past U+10FFFF. */
    unsigned lo = 0x80, hi = 0xbf;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

char *mq__utf8_clean(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1); /* each byte at worst becomes U+FFFD */
    if (out == NULL)
        return NULL;
    size_t o = 0;
    while (*p) {
        size_t k = utf8_char(p);
        if (k == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        } else {
            memcpy(out + o, p, k);
            o += k;
            p += k;
        }
    }
    out[o] = '\0';
    return out;
}

/* Reports a number token of `len` bytes at `t` if strtod() cannot hold it. */
static int number_flaw(const char *t, size_t len, char *what, size_t what_size)
{
    char small[64];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, t, len);
    copy[len] = '\0';
    errno = 0;
    double d = strtod(copy, NULL);
    int bad = errno == ERANGE || !isfinite(d);
    if (bad)
        snprintf(what, what_size,
                 "the number %.40s%s is out of the range of a double: it would be "
                 "stored as %s",
                 copy, len > 40 ? "..." : "", isfinite(d) ? "another number" : "null");
    if (copy != small)
        free(copy);
    return bad;
}

size_t mq__json_flaws(const char *t, const char *key, mq__json_flaw_cb cb, void *ctx)
{
    size_t depth = 0, flaws = 0, keylen = strlen(key);
    int key_matches = 0, indexing = 0, stop = 0;
    long element = -1;
    char what[200];
    for (size_t i = 0; t[i] != '\0' && !stop;) {
        char c = t[i];
        if (c == '{' || c == '[') {
            if (c == '[' && depth == 1 && key_matches) {
                indexing = 1;
                element = 0;
            }
            depth++;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 2 && indexing) {
                indexing = 0;
                element = -1;
            }
            depth--;
            i++;
        } else if (c == ',') {
            if (depth == 2 && indexing)
                element++;
            i++;
        } else if (c == '"') {
            size_t start = ++i;
            while (t[i] != '\0' && t[i] != '"') {
                if (t[i] == '\\' && t[i + 1] != '\0') {
                    if (t[i + 1] == 'u' && strncmp(t + i + 2, "0000", 4) == 0) {
                        flaws++;
                        snprintf(what, sizeof what,
                                 "a string holds \\u0000, a NUL character, which "
                                 "would cut it");
                        stop = cb(ctx, element, i, what) != 0;
                    }
                    i += 2;
                } else {
                    i++;
                }
            }
            size_t end = i;
            if (t[i] == '"')
                i++;
            size_t j = i;
            while (t[j] == ' ' || t[j] == '\t' || t[j] == '\n' || t[j] == '\r')
                j++;
            if (t[j] == ':' && depth == 1)
                key_matches =
                    end - start == keylen && memcmp(t + start, key, keylen) == 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (t[i] == '-' || t[i] == '+' || t[i] == '.' || t[i] == 'e' ||
                   t[i] == 'E' || (t[i] >= '0' && t[i] <= '9'))
                i++;
            if (number_flaw(t + start, i - start, what, sizeof what)) {
                flaws++;
                stop = cb(ctx, element, start, what) != 0;
            }
        } else {
            i++; /* white space, ':', and the letters of true, false, null */
        }
    }
    return flaws;
}

/* The state of mq__flaws_find(): the collector, and a failed allocation. */
typedef struct flaws_walk {
    mq__flaws *f;
    int oom;
} flaws_walk;

static int note_flaw(void *ctx, long element, size_t at, const char *what)
{
    flaws_walk *w = ctx;
    mq__flaws *f = w->f;

    if (element < 0 || (size_t)element >= f->n) {
        if (f->outside[0] == '\0')
            snprintf(f->outside, sizeof f->outside, "at byte %zu: %s", at, what);
        return 0;
    }
    if (f->why[element] == NULL) {
        char text[MQ_ERROR_MESSAGE_MAX];
        int len =
            snprintf(text, sizeof text, "invalid: at byte %zu of the body: %s", at, what);
        size_t size = len < 0                      ? 1
                      : (size_t)len >= sizeof text ? sizeof text
                                                   : (size_t)len + 1;
        f->why[element] = malloc(size);
        if (f->why[element] == NULL) {
            w->oom = 1;
            return 1;
        }
        memcpy(f->why[element], text, size - 1);
        f->why[element][size - 1] = '\0';
    }
    return 0;
}

int mq__flaws_find(mq__flaws *out, const char *text, const char *key, size_t n)
{
    flaws_walk w = {out, 0};

    memset(out, 0, sizeof *out);
    out->n = n;
    out->why = calloc(n + 1, sizeof *out->why);
    if (out->why == NULL)
        return MQ_ENOMEM;
    mq__json_flaws(text, key, note_flaw, &w);
    if (w.oom) {
        mq__flaws_free(out);
        return MQ_ENOMEM;
    }
    return 0;
}

void mq__flaws_free(mq__flaws *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; f->why != NULL && i < f->n; i++)
        free(f->why[i]);
    free(f->why);
    f->why = NULL;
    f->n = 0;
}

/* ---- tokens and ids ---------------------------------------------------- */

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int mq__random_hex(char *out, size_t nbytes, mq_error *err)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw)
        return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL,
                            "random id of %zu bytes is too long", nbytes);
    if (mq_platform_random(raw, nbytes) != 0)
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_OS, 0,
                            "cannot read the system's random generator");
    to_hex(raw, nbytes, out);
    return 0;
}

int mq__token_new(char out[MQ_PROTO_TOKEN_LEN + 1], mq_error *err)
{
    out[0] = 'm';
    out[1] = 'q';
    out[2] = 't';
    out[3] = '_';
    return mq__random_hex(out + 4, 32, err);
}

int mq__sha256_hex(const void *data, size_t n, char out[65], mq_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "SHA-256 failed in libcrypto");
    to_hex(md, 32, out);
    return 0;
}
