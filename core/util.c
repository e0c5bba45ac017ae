/*
 * core/util.c - the small general helpers of core/: memory handed to the
 * caller, string copies, UTF-8 lengths and fresh record ids.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform.h"

void mq_free(void *p)
{
    free(p);
}

char *mq__strdup(const char *s)
{
    size_t n;
    char *d;

    if (s == NULL)
        return NULL;
    n = strlen(s) + 1;
    d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

long mq__utf8_length(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;

    while (*p != 0) {
        int extra;
        unsigned cp;
        if (*p < 0x80) {
            extra = 0;
            cp = *p;
        } else if ((*p & 0xE0) == 0xC0) {
            extra = 1;
            cp = *p & 0x1Fu;
        } else if ((*p & 0xF0) == 0xE0) {
            extra = 2;
            cp = *p & 0x0Fu;
        } else if ((*p & 0xF8) == 0xF0) {
            extra = 3;
            cp = *p & 0x07u;
        } else
            return -1;
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (*p & 0x3Fu);
        }
        /* Reject overlong forms, surrogates and values past U+10FFFF. */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        n++;
    }
    return n;
}

void mq__copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int mq__new_id(char out[37], mq_error *err)
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";

    if (mq_platform_random(b, sizeof(b)) != 0)
        return mq__fail(err, MQ_EIO, "cannot read the system's random generator");
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    for (int i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[36] = '\0';
    return 0;
}
