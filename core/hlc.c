/*
 * core/hlc.c - hybrid logical clock readings and version strings.
 *
 * Invariants:
 *   H1  Between two corrections, h->last only grows: mq__hlc_tick() returns
 *       a value greater than every value returned or observed since the
 *       last correction (observed values capped at MQ_HLC_MAX_AHEAD_MS in
 *       our future).
 *   H2  h->high is at least every value returned before the last
 *       correction, and never shrinks; so a tick above h->high is new, and
 *       one at or below it is new unless the log holds it (clock.c checks).
 */
#include "hlc.h"
#include "minqing/valid.h"

#include <stdio.h>
#include <string.h>

#define COUNTER_BITS 16
#define COUNTER_MASK ((UINT64_C(1) << COUNTER_BITS) - 1)

uint64_t mq__hlc_tick(mq_hlc *h, int64_t now_ms)
{
    uint64_t phys = now_ms > 0 ? (uint64_t)now_ms << COUNTER_BITS : 0;

    /*
     * When the physical time is ahead, restart the counter there; otherwise
     * count on from the last value.  A counter that overflows carries into
     * the millisecond field, which is harmless: it only reads as a clock a
     * millisecond fast.
     */
    h->last = phys > h->last ? phys : h->last + 1;
    return h->last;
}

void mq__hlc_observe(mq_hlc *h, uint64_t remote, int64_t now_ms)
{
    int64_t limit_ms = now_ms + MQ_HLC_MAX_AHEAD_MS;
    uint64_t limit =
        limit_ms > 0 ? ((uint64_t)limit_ms << COUNTER_BITS) | COUNTER_MASK : 0;

    if (remote > limit)
        remote = limit;
    if (remote > h->last)
        h->last = remote;
}

int mq__hlc_correct(mq_hlc *h, int64_t now_ms)
{
    uint64_t phys = now_ms > 0 ? (uint64_t)now_ms << COUNTER_BITS : 0;
    uint64_t slack = (uint64_t)MQ_HLC_MAX_AHEAD_MS << COUNTER_BITS;

    /* A clock a little ahead (another replica's minute, a small skew)
     * counts on: only a clock that ran far ahead steps back. */
    if (h->last <= phys + slack)
        return 0;
    if (h->last > h->high)
        h->high = h->last;
    h->last = phys;
    return 1;
}

int mq__hlc_may_repeat(const mq_hlc *h, uint64_t clock)
{
    return clock <= h->high;
}

int64_t mq__hlc_ms(uint64_t clock)
{
    return (int64_t)(clock >> COUNTER_BITS);
}

void mq__version_format(char *out, uint64_t clock, const char *site)
{
    snprintf(out, MQ_VERSION_MAX, "%016llx-%s", (unsigned long long)clock, site);
}

int mq__version_parse(const char *v, uint64_t *clock, size_t *site_at)
{
    uint64_t c = 0;

    for (int i = 0; i < 16; i++) {
        char ch = v[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (unsigned)(ch - 'a' + 10);
        else
            return -1;
        c = (c << 4) | d;
    }
    if (v[16] != '-' || !mq_valid_name(v + 17, MQ_SITE_MAX))
        return -1;
    if (clock != NULL)
        *clock = c;
    if (site_at != NULL)
        *site_at = 17;
    return 0;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void mq__iso_time(char out[MQ_ISO_MAX], int64_t ms)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;

    civil_from_days(days, &y, &m, &d);
    snprintf(out, MQ_ISO_MAX, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
             (int)(ms - secs * 1000));
}
