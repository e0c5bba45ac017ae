/*
 * core/clock.c - what a replica stamps its changes with: its site, its
 * default author, and its hybrid logical clock (hlc.c) read against the
 * corrected wall time.
 *
 * The clock is kept in meta ("hlc") and read again at the start of every
 * write transaction, under the write lock (tx.c): two processes writing to
 * one store (a CLI put while a sync runs) then never stamp the same
 * version, so neither change is taken for a duplicate of the other.  It is
 * written back just before the commit that used it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "platform.h"

int mq__clock_load(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = mq__meta_get(s, "hlc", &v, err);

    if (rc == 0 && v != NULL) {
        uint64_t clock = strtoull(v, NULL, 16);
        if (clock > s->hlc.last)
            s->hlc.last = clock;
    }
    free(v);
    s->hlc_saved = s->hlc.last;
    return rc;
}

int mq__clock_save(mq_store *s, mq_error *err)
{
    char buf[24];

    if (s->hlc.last == s->hlc_saved)
        return 0;
    snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->hlc.last);
    int rc = mq__meta_set(s, "hlc", buf, err);
    if (rc == 0)
        s->hlc_saved = s->hlc.last;
    return rc;
}

const char *mq_store_site(const mq_store *s)
{
    return s->site[0] != '\0' ? s->site : NULL;
}

const char *mq_store_cadre(const mq_store *s)
{
    return s->cadre;
}

int mq__require_site(mq_store *s, mq_error *err)
{
    if (s->site[0] == '\0')
        return mq__fail(
            err, MQ_ESTATE,
            "%s: the store has no site yet; run `minqing init --site NAME` first",
            s->path);
    return 0;
}

int mq_store_set_clock_offset(mq_store *s, int64_t offset_ms, mq_error *err)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%lld", (long long)offset_ms);
    int rc = mq__meta_set(s, "clock_offset_ms", buf, err);
    if (rc == 0)
        s->clock_offset_ms = offset_ms;
    return rc;
}

int64_t mq_store_clock_offset(const mq_store *s)
{
    return s->clock_offset_ms;
}

int64_t mq_store_now_ms(const mq_store *s)
{
    return mq_platform_time_ms() + s->clock_offset_ms;
}

void mq__next_version(mq_store *s, char out[MQ_VERSION_MAX])
{
    uint64_t clock = mq__hlc_tick(&s->hlc, mq_store_now_ms(s));

    mq__version_format(out, clock, s->site);
}
