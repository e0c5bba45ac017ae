/*
 * core/tx.c - transactions.
 *
 * Transactions nest: the outermost is BEGIN IMMEDIATE, so the write lock is
 * taken up front (no deadlock between two writers that both started with a
 * read), and inner levels are savepoints that roll back on their own.  The
 * outermost begin re-reads the clock from meta and the outermost commit
 * writes it back (clock.c); the outermost begin and every rollback clear
 * the lookup cache (kind.c, K2).  The outermost commit first refolds the
 * needs the transaction wrote (need_state.c, N2).
 */
#include <stddef.h>

#include "internal.h"
#include "need_dirty.h"
#include "need_state.h"

int mq__tx_begin(mq_store *s, mq_error *err)
{
    int outer = s->tx_depth == 0;
    int rc = mq__exec(s, outer ? "BEGIN IMMEDIATE" : "SAVEPOINT mq", err);

    if (rc != 0)
        return rc;
    if (outer) {
        mq__kind_reset(s); /* K2: another connection may have written since */
        mq__scope_memo_reset(s);
        s->orphans = -1;
    }
    s->tx_depth++;
    if (outer && (rc = mq__clock_load(s, err)) != 0)
        mq__tx_rollback(s);
    return rc;
}

int mq__tx_commit(mq_store *s, mq_error *err)
{
    /* N2: the needs the transaction touched are refolded in it. */
    int rc = s->tx_depth == 1 ? mq__need_state_flush(s, err) : 0;

    if (rc == 0 && s->tx_depth == 1)
        rc = mq__clock_save(s, err);

    if (rc == 0)
        rc = mq__exec(s, s->tx_depth == 1 ? "COMMIT" : "RELEASE mq", err);
    if (rc != 0) {
        mq__tx_rollback(s);
        return rc;
    }
    s->tx_depth--;
    return 0;
}

void mq__tx_rollback(mq_store *s)
{
    if (s->tx_depth == 0)
        return;
    mq__kind_reset(s);
    mq__scope_memo_reset(s);
    s->orphans = -1;
    if (s->tx_depth == 1) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        mq__need_dirty_forget(s); /* N2: the names go with the writes */
    } else {
        sqlite3_exec(s->db, "ROLLBACK TO mq; RELEASE mq", NULL, NULL, NULL);
    }
    s->tx_depth--;
}

int mq_store_begin(mq_store *s, mq_error *err)
{
    if (s->user_tx)
        return mq__fail(err, MQ_ESTATE, "a transaction is already open");
    int rc = mq__tx_begin(s, err);
    if (rc == 0)
        s->user_tx = 1;
    return rc;
}

int mq_store_commit(mq_store *s, mq_error *err)
{
    if (!s->user_tx)
        return mq__fail(err, MQ_ESTATE, "no transaction is open");
    s->user_tx = 0;
    return mq__tx_commit(s, err);
}

void mq_store_rollback(mq_store *s)
{
    if (!s->user_tx)
        return;
    s->user_tx = 0;
    mq__tx_rollback(s);
}
