/*
 * core/need_state.h - the state of every need now, kept in its own table
 * in the same transaction as every write (need_state.c states the
 * invariants N1-N3).
 */
#ifndef MQ_NEED_STATE_H
#define MQ_NEED_STATE_H

#include "internal.h"

struct mq__report_rows;

/* Makes the table and this connection's own tables; fills the table when the
 * store has never had it (or had another version of it).  At open. */
int mq__need_state_open(mq_store *s, mq_error *err);

/* Refolds the needs named since the last flush and forgets the names.
 * Inside the transaction that wrote them: the outermost commit calls it. */
int mq__need_state_flush(mq_store *s, mq_error *err);

/* Makes need_state current before a read: a flush inside the caller's
 * transaction, or in one of its own when names were left outside any. */
int mq__need_state_ready(mq_store *s, mq_error *err);

/*
 * Whether need_state serves a list as of day `as_of`: *usable 0 when too
 * many needs have a horizon after it (a past day: fold the day instead);
 * else *mixed 1 when some do, which are then folded as of the day into
 * temp.mq_need_asof (need_state's columns), to be read in their place.
 * Inside the list's read (mq__report_read_begin()), after
 * mq__need_state_ready() (which may have to write).
 */
struct mq__report_cfg;
int mq__need_state_as_of(mq_store *s, const char *as_of, const struct mq__report_cfg *cfg,
                         int *usable, int *mixed, mq_error *err);

/* Compares need_state with a fold of every need (N3); each difference
 * goes to `cb` as a sentence. */
int mq__need_state_check(mq_store *s, void (*cb)(void *ctx, const char *problem),
                         void *ctx, mq_error *err);

/* The horizon of each folded need of `rows` (its recorded_at or its latest
 * action's `at`, whichever is later; NULL when it has neither), in the
 * order of rows->needs; the array is the caller's (free()), its strings
 * the rows'.  NULL when out of memory. */
const char *const *mq__need_state_horizons(const struct mq__report_rows *rows);

/* Tests: makes every needs list of `s` fold its day (on 1), as a past
 * day's does, so that a test compares the two ways of one list. */
void mq__need_state_lists_fold(mq_store *s, int on);

#endif /* MQ_NEED_STATE_H */
