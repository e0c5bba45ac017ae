/*
 * core/search.h - the search text of every live record of a searchable
 * type, kept in its own table (record_search) in the transaction of each
 * write of its record row (search.c states the invariants S1-S3).
 */
#ifndef MQ_SEARCH_H
#define MQ_SEARCH_H

#include "internal.h"

/* Makes record_search for the schema's searchable fields, and fills it
 * when the store had it for other fields or not at all.  At open. */
int mq__search_open(mq_store *s, mq_error *err);

/*
 * Gives record row `rowid`, of type `t`, the search text of `fields`
 * (borrowed) when it is live and takes any text away when it is deleted
 * (S2).  Nothing for a type with no searchable field.  Called after the
 * row is written.
 */
int mq__search_put(mq_store *s, const mq_type *t, sqlite3_int64 rowid,
                   const cJSON *fields, int deleted, mq_error *err);

/* Takes away record row `rowid`'s text: the row, or its record, is
 * deleted (S2).  Nothing for a type with no searchable field, or none
 * (NULL: a stored type the schema does not know). */
int mq__search_drop(mq_store *s, const mq_type *t, sqlite3_int64 rowid, mq_error *err);

/* Compares record_search with the text of every live record (S1); each
 * difference goes to `cb` in words (check.c). */
int mq__search_check(mq_store *s, void (*cb)(void *ctx, const char *problem), void *ctx,
                     mq_error *err);

#endif
