/*
 * bench/util.h - what the benchmark programs share: a monotonic clock,
 * percentiles of a sample, reading a whole file, and failing loudly.
 *
 * The benchmark programs are small tools that the harness (bench/run)
 * drives; each prints its measurements as one JSON object on stdout so the
 * harness never parses free text.  Nothing here is part of minqing itself.
 */
#ifndef MQB_UTIL_H
#define MQB_UTIL_H

#include <stddef.h>

/** Seconds on the monotonic clock. */
double mqb_now(void);

/** Sleeps for `seconds` (fractions allowed), restarting after signals. */
void mqb_sleep(double seconds);

/**
 * The p-th percentile (0 <= p <= 100) of `v`, by the nearest-rank method.
 * Sorts `v` in place; returns 0 for an empty sample.
 */
double mqb_percentile(double *v, size_t n, double p);

/** The arithmetic mean of `v`; 0 for an empty sample. */
double mqb_mean(const double *v, size_t n);

#if defined(__GNUC__)
#define MQB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MQB_PRINTF(a, b)
#endif

/** Prints "PROGRAM: message" and exits with status 1. */
void mqb_die(const char *fmt, ...) MQB_PRINTF(1, 2);

/** malloc() that dies instead of returning NULL. */
void *mqb_xmalloc(size_t n);

/** realloc() that dies instead of returning NULL. */
void *mqb_xrealloc(void *p, size_t n);

/** strdup() in C11, dying instead of returning NULL. */
char *mqb_xstrdup(const char *s);

/** Sets the program name used by mqb_die(). */
void mqb_set_program(const char *name);

/** A minqing store's page cache when a floor program is not told otherwise. */
#define MQB_CACHE_KIB_DEFAULT 8192

/**
 * Takes a leading "--cache-kib N" off the arguments (argv[0] stays) and
 * returns N, or MQB_CACHE_KIB_DEFAULT when there is none; N below 1 returns 0,
 * which the caller reports with its usage line.
 */
long mqb_take_cache_kib(int *argc, char ***argv);

/**
 * Writes into `buf` the pragmas a minqing store runs at open (WAL,
 * synchronous=FULL, a page cache of `cache_kib`), so that a floor pays the
 * same durability and caching as the store it is compared with.
 */
void mqb_store_pragmas(char *buf, size_t n, long cache_kib);

#endif /* MQB_UTIL_H */
