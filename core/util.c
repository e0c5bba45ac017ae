/*
 * core/util.c - the small general helpers of core/: memory handed to the
 * caller, string copies and fresh record ids.
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
