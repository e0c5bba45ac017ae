/*
 * bench/util.c - the helpers every benchmark program shares (see util.h).
 */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *program = "mqb";

void mqb_set_program(const char *name)
{
    const char *slash = strrchr(name, '/');
    program = slash != NULL ? slash + 1 : name;
}

double mqb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mqb_sleep(double seconds)
{
    struct timespec ts, rest;
    if (seconds <= 0)
        return;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rest) != 0 && errno == EINTR)
        ts = rest;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double mqb_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    /* nearest rank: the smallest value with at least p% of the sample at or
     * below it */
    double rank = p / 100.0 * (double)n;
    size_t k = (size_t)rank;
    if ((double)k < rank)
        k++;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

double mqb_mean(const double *v, size_t n)
{
    double sum = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

void mqb_die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", program);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

long mqb_take_cache_kib(int *argc, char ***argv)
{
    if (*argc < 3 || strcmp((*argv)[1], "--cache-kib") != 0)
        return MQB_CACHE_KIB_DEFAULT;
    long kib = atol((*argv)[2]);
    (*argv)[2] = (*argv)[0];
    *argv += 2;
    *argc -= 2;
    return kib >= 1 ? kib : 0;
}

void mqb_store_pragmas(char *buf, size_t n, long cache_kib)
{
    snprintf(buf, n,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-%ld;",
             cache_kib);
}

void *mqb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        mqb_die("out of memory (%zu bytes)", n);
    return p;
}

void *mqb_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        mqb_die("out of memory (%zu bytes)", n);
    return q;
}

char *mqb_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mqb_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
