/*
 * core/hlc.h - the hybrid logical clock and the versions it stamps.
 *
 * A clock value packs 48 bits of milliseconds since the Unix epoch and a
 * 16-bit counter.  Between corrections it never goes backwards: a reading
 * is the greater of the physical time and the last value seen (our own or
 * another replica's), plus one tick when they tie.  When sync corrects a
 * clock that ran ahead, it steps back to the corrected time
 * (mq__hlc_correct) and a value is never issued twice: those at or below
 * the old high mark are checked against the log.
 *
 * A version names one change: "HHHHHHHHHHHHHHHH-SITE", the clock in 16
 * lower-case hex digits, a dash, the site.  Because the hex is fixed-width,
 * comparing two versions as byte strings orders them by clock, then by site:
 * the total order that last-writer-wins needs.
 */
#ifndef MQ_HLC_H
#define MQ_HLC_H

#include <stddef.h>
#include <stdint.h>

#define MQ_SITE_MAX    32
#define MQ_VERSION_MAX (16 + 1 + MQ_SITE_MAX + 1)

typedef struct mq_hlc {
    uint64_t last; /* greatest clock value issued or seen since the last
                    * correction (mq__hlc_correct) */
    uint64_t high; /* greatest value issued before the last correction: a
                    * value at or below it may have been issued already */
} mq_hlc;

/* A new clock value for a local event at physical time `now_ms`. */
uint64_t mq__hlc_tick(mq_hlc *h, int64_t now_ms);
/*
 * How far ahead of our own (corrected) time another replica's clock may pull
 * ours.  A tablet whose clock runs days ahead would otherwise drag every
 * replica that hears from it into its future, and their later edits would all
 * carry its wrong time.  Causality does not need the clock: a change names
 * the versions it replaces in its base, so a change made after seeing a
 * future-stamped one still supersedes it.
 */
#define MQ_HLC_MAX_AHEAD_MS ((int64_t)60 * 1000)

/*
 * Takes note of a clock value seen on another replica, at local physical
 * time `now_ms`; a value more than MQ_HLC_MAX_AHEAD_MS ahead is taken as
 * that far ahead only.
 */
void mq__hlc_observe(mq_hlc *h, uint64_t remote, int64_t now_ms);

/*
 * How far past the receiver's own (corrected) time a change's stamp may be:
 * a stamp further ahead is refused, as the work of a wrong clock or a
 * forger (the year 10889 would win every concurrent edit for good).  Days,
 * not less: the design promises that a tablet whose clock is off by days
 * loses none of its edits, and those made before sync corrected its clock
 * carry its wrong time.
 */
#define MQ_HLC_MAX_FUTURE_MS ((int64_t)7 * 24 * 3600 * 1000)

/*
 * Takes a correction of the wall clock (sync measured it against the
 * server's) into account: if the clock has run more than
 * MQ_HLC_MAX_AHEAD_MS ahead of the corrected time `now_ms`, it steps back
 * to it, so that the next stamps follow the corrected time instead of
 * counting on from a future the tablet never reached.  Values issued
 * before are remembered in h->high: a tick at or below it may repeat one,
 * and the caller must check (mq__hlc_may_repeat()).  Returns 1 if it
 * stepped back.
 */
int mq__hlc_correct(mq_hlc *h, int64_t now_ms);

/* Whether `clock`, just ticked, may equal a value issued before the last
 * correction. */
int mq__hlc_may_repeat(const mq_hlc *h, uint64_t clock);

/* The physical milliseconds a clock value carries. */
int64_t mq__hlc_ms(uint64_t clock);

/* Writes "HHHHHHHHHHHHHHHH-SITE" into out (MQ_VERSION_MAX bytes). */
void mq__version_format(char *out, uint64_t clock, const char *site);
/*
 * Parses a version.  Returns 0 and sets *clock (and *site_at, the offset of
 * the site within `v`), or -1 if `v` is not a well-formed version.
 */
int mq__version_parse(const char *v, uint64_t *clock, size_t *site_at);

#define MQ_ISO_MAX 64

/* Formats milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void mq__iso_time(char out[MQ_ISO_MAX], int64_t ms);

#endif /* MQ_HLC_H */
