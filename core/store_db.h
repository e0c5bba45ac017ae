/*
 * core/store_db.h - the SQLite connection under an mq_store, for the parts
 * of minqing that keep tables of their own in the same file (the sync
 * server's devices and batches) and must write them in the same transaction
 * as the changes they describe.
 *
 * Not a public header: front ends use minqing/store.h.  Tables of other
 * parts are named with their part's prefix (sync_*); the core never reads
 * them.
 */
#ifndef MQ_STORE_DB_H
#define MQ_STORE_DB_H

#include <sqlite3.h>

#include "minqing/store.h"

/** The connection of `store`; borrowed, valid until mq_store_close(). */
sqlite3 *mq__store_db(mq_store *store);

/** 1 while a transaction opened by mq_store_begin() is open, else 0. */
int mq__store_in_transaction(const mq_store *store);

#endif /* MQ_STORE_DB_H */
