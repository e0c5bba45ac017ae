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
 *
 * meta "hlc" is "LAST" or, after a correction stepped the clock back,
 * "LAST/HIGH" (hlc.h): a handle that reads a greater HIGH than its own
 * takes LAST as it is, since another handle corrected the clock; otherwise
 * it takes the greater LAST.  A version at or below HIGH is used only if
 * the log does not hold it: a site's versions are unique (M1 would take a
 * repeated one for a duplicate and drop the change).
 *
 * The corrected wall time is the system's plus the offset the last sync
 * measured (meta "clock_offset_ms").  The offset holds only while nobody
 * sets the device's clock: a cadre who corrects the date by hand after a
 * sync would otherwise stamp by the old error twice.  So the sync's moment
 * is kept too (meta "clock_anchor": the wall and uptime clocks then, and
 * the boot's id), and within the same boot a wall clock that has moved
 * more than MQ_CLOCK_SET_MS apart from the uptime clock since then was
 * set: the time is then the corrected time of the sync plus the uptime
 * since.  After a reboot the uptime clock starts again and the offset is
 * all there is, until the next sync.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "platform.h"

int mq__clock_load(mq_store *s, mq_error *err)
{
    char *v = NULL;
    int rc = mq__meta_get(s, "hlc", &v, err);

    if (rc == 0 && v != NULL) {
        char *slash = NULL;
        uint64_t clock = strtoull(v, &slash, 16);
        uint64_t high =
            slash != NULL && *slash == '/' ? strtoull(slash + 1, NULL, 16) : 0;
        if (high > s->hlc.high) {
            s->hlc.high = high; /* corrected by another handle */
            s->hlc.last = clock;
        } else if (clock > s->hlc.last) {
            s->hlc.last = clock;
        }
    }
    free(v);
    s->hlc_saved = s->hlc.last;
    s->hlc_high_saved = s->hlc.high;
    return rc;
}

int mq__clock_save(mq_store *s, mq_error *err)
{
    char buf[40];

    if (s->hlc.last == s->hlc_saved && s->hlc.high == s->hlc_high_saved)
        return 0;
    if (s->hlc.high != 0)
        snprintf(buf, sizeof(buf), "%016llx/%016llx", (unsigned long long)s->hlc.last,
                 (unsigned long long)s->hlc.high);
    else
        snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->hlc.last);
    int rc = mq__meta_set(s, "hlc", buf, err);
    if (rc == 0) {
        s->hlc_saved = s->hlc.last;
        s->hlc_high_saved = s->hlc.high;
    }
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

/* How far the wall clock may drift from the uptime clock (NTP slewing, a
 * slow crystal) before it is taken as set by hand. */
#define MQ_CLOCK_SET_MS 120000

int mq__clock_offset_load(mq_store *s, mq_error *err)
{
    char *v = NULL, boot[64], was_boot[64];
    long long wall = 0, up = 0;

    int rc = mq__meta_get(s, "clock_offset_ms", &v, err);
    if (rc != 0)
        return rc;
    s->clock_offset_ms = v != NULL ? strtoll(v, NULL, 10) : 0;
    free(v);
    v = NULL;
    s->anchored = 0;
    if ((rc = mq__meta_get(s, "clock_anchor", &v, err)) != 0)
        return rc;
    if (v != NULL && sscanf(v, "%lld %lld %63s", &wall, &up, was_boot) == 3 &&
        mq_platform_boot_id(boot, sizeof boot) == 0 && strcmp(boot, was_boot) == 0) {
        s->anchor_wall_ms = wall;
        s->anchor_uptime_ms = up;
        s->anchored = 1;
    }
    free(v);
    return 0;
}

int mq_store_set_clock_offset(mq_store *s, int64_t offset_ms, mq_error *err)
{
    char buf[32], anchor[128], boot[64];
    int64_t wall = mq_platform_time_ms(), up = mq_platform_uptime_ms();
    int booted = mq_platform_boot_id(boot, sizeof boot) == 0;
    int64_t was = s->clock_offset_ms, was_wall = s->anchor_wall_ms,
            was_up = s->anchor_uptime_ms;
    int was_anchored = s->anchored;
    /* Its own write transaction unless one is open (tx.c is above this
     * file: the clock is read and saved here as tx.c would). */
    int own = s->tx_depth == 0;
    int rc = own ? mq__exec(s, "BEGIN IMMEDIATE", err) : 0;

    if (rc == 0 && own)
        rc = mq__clock_load(s, err);
    snprintf(buf, sizeof(buf), "%lld", (long long)offset_ms);
    if (rc == 0)
        rc = mq__meta_set(s, "clock_offset_ms", buf, err);
    snprintf(anchor, sizeof anchor, "%lld %lld %s", (long long)wall, (long long)up,
             booted ? boot : "-");
    if (rc == 0)
        rc = mq__meta_set(s, "clock_anchor", anchor, err);
    if (rc == 0) {
        /* The corrected time is the one to stamp by from now on. */
        s->clock_offset_ms = offset_ms;
        s->anchor_wall_ms = wall;
        s->anchor_uptime_ms = up;
        s->anchored = booted;
        mq__hlc_correct(&s->hlc, mq_store_now_ms(s));
    }
    if (rc == 0 && own)
        rc = mq__clock_save(s, err);
    if (rc == 0 && own)
        rc = mq__exec(s, "COMMIT", err);
    if (rc != 0) {
        if (own)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->clock_offset_ms = was;
        s->anchored = was_anchored;
        s->anchor_wall_ms = was_wall;
        s->anchor_uptime_ms = was_up;
    }
    return rc;
}

int64_t mq_store_clock_offset(const mq_store *s)
{
    return s->clock_offset_ms;
}

int64_t mq_store_now_ms(const mq_store *s)
{
    int64_t wall = mq_platform_time_ms();

    if (s->anchored) {
        int64_t up = mq_platform_uptime_ms() - s->anchor_uptime_ms;
        int64_t set = (wall - s->anchor_wall_ms) - up;
        if (up >= 0 && (set > MQ_CLOCK_SET_MS || set < -MQ_CLOCK_SET_MS))
            return s->anchor_wall_ms + s->clock_offset_ms + up;
    }
    return wall + s->clock_offset_ms;
}

int mq__version_logged(mq_store *s, const char *v, int *yes, mq_error *err)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM change WHERE v = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    *yes = rc == SQLITE_ROW;
    return 0;
}

int mq__next_version(mq_store *s, char out[MQ_VERSION_MAX], mq_error *err)
{
    for (;;) {
        uint64_t clock = mq__hlc_tick(&s->hlc, mq_store_now_ms(s));
        int taken = 0, rc;

        mq__version_format(out, clock, s->site);
        /* Above the high mark no value was issued (H2): no lookup. */
        if (!mq__hlc_may_repeat(&s->hlc, clock))
            return 0;
        if ((rc = mq__version_logged(s, out, &taken, err)) != 0 || !taken)
            return rc;
    }
}
