/*
 * core/need_dirty.h - the needs whose state a transaction's writes may have
 * changed, named by the code that writes record rows and refolded by
 * need_state.c at the outermost commit (its invariant N2).
 *
 * Its own file so that the writers (merge.c, record.c, area.c, import.c)
 * name needs without calling need_state.c, which calls the report fold,
 * which stands on them.
 */
#ifndef MQ_NEED_DIRTY_H
#define MQ_NEED_DIRTY_H

#include "internal.h"

/* Past this many names only `all` is kept: one scan of the record table
 * then refolds every need, cheaper than finding each by index (an import). */
#define MQ__NEED_DIRTY_MAX 2000

/*
 * The names, in memory: a plain list (a name may come twice; the flush
 * puts them in a table keyed by id), or `all`.
 */
struct mq__need_dirty {
    char **ids; /* owned, each owned; MQ__NEED_DIRTY_MAX slots */
    size_t n;
    int all;
};

/*
 * Names the need that a row of record `id` of type `type` below `parent`
 * belongs to, if it is a need (its id) or an action (its parent): called
 * for every record row written.  The need a row belongs to never changes
 * (an action is a log record, written once: M6), so the row as written
 * names it.  MQ_ENOMEM fails the write.
 */
int mq__need_dirty_touch(mq_store *s, const char *type, const char *id,
                         const char *parent, mq_error *err);

/* Whether any need is named. */
int mq__need_dirty_any(const mq_store *s);

/* Forgets the names (once folded, and at the outermost rollback); frees
 * what keeps them (close). */
void mq__need_dirty_forget(mq_store *s);
void mq__need_dirty_free(mq_store *s);

#endif
