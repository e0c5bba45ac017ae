/*
 * core/line.c - reading JSON Lines input one bounded line at a time.
 *
 * Import and apply stream their input: a county file is ~80 MB and a tablet
 * has little memory, so one line is held at a time, in a buffer that grows
 * to the longest line read and never past the bound.  A line is its bytes
 * without the "\n" or "\r\n" that ends it; the last line may lack one.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mq__lines_init(mq__lines *r, FILE *in, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->in = in;
    r->max = max;
}

void mq__lines_free(mq__lines *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* Skips the rest of an overlong line so that the next one is read whole. */
static void skip_line(FILE *in)
{
    int c;

    while ((c = fgetc(in)) != EOF && c != '\n')
        ;
}

int mq__lines_next(mq__lines *r, char **line, size_t *len)
{
    /* Room for the bound, "\r\n" and the terminating NUL. */
    size_t most = r->max + 3, n = 0;
    int ended = 0;

    *line = NULL;
    *len = 0;
    for (;;) {
        if (r->cap - n < 2) {
            if (r->cap >= most) {
                skip_line(r->in);
                r->number++;
                return MQ_EINVAL;
            }
            size_t ncap = r->cap ? r->cap * 2 : 4096;
            if (ncap > most)
                ncap = most;
            char *grown = realloc(r->buf, ncap);
            if (grown == NULL) {
                r->number++;
                return MQ_ENOMEM;
            }
            r->buf = grown;
            r->cap = ncap;
        }
        if (fgets(r->buf + n, (int)(r->cap - n), r->in) == NULL)
            break;
        n += strlen(r->buf + n);
        if (n > 0 && r->buf[n - 1] == '\n') {
            ended = 1;
            break;
        }
    }
    if (n == 0 && !ended)
        return MQ_ENOTFOUND; /* the end of the input, or a read error: see ferror() */
    r->number++;
    if (ended) {
        r->buf[--n] = '\0';
        if (n > 0 && r->buf[n - 1] == '\r')
            r->buf[--n] = '\0';
    }
    if (n > r->max)
        return MQ_EINVAL;
    *line = r->buf;
    *len = n;
    return 0;
}
