/*
 * core/kind.c - what a record id is: its type, whether it is a tombstone,
 * and its area; looked up in SQLite and remembered for the transaction.
 *
 * Writes ask this again and again about the same few records: every
 * household of a village refers to the same group and cadre, every member to
 * its household, and the merge asks for the area of the record a new one is
 * put under right after validation asked whether it exists.  An import of a
 * township makes 15,000 such lookups per 9,000 records, each a B-tree probe.
 *
 * Invariants:
 *   K1  An entry is what SQLite says for its id, as seen by this
 *       connection: every write of a record row (mq__rec_save, a creation,
 *       the area cascade, the import's undo) forgets the entry of that id
 *       first, or replaces it with what it wrote (mq__kind_put()): a
 *       member is checked against the household written just before it.
 *   K2  Entries live for one transaction: the outermost mq__tx_begin() and
 *       every rollback clear them, since another connection may write
 *       between transactions and a rollback undoes writes the cache saw.
 *       Outside a transaction nothing is remembered.
 *   K3  Only records that exist are remembered.
 * Debug builds check K1 on every hit.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define KIND_SLOTS 512 /* direct-mapped; a power of two */

struct mq__kinds {
    /* A slot is live when its gen is the table's: clearing the table is one
     * increment, not a walk over 72 KB at every transaction. */
    uint64_t gen;
    struct {
        uint64_t gen;
        char id[64];
        mq__kind kind;
    } slot[KIND_SLOTS];
};

static size_t slot_of(const char *id)
{
    /* FNV-1a: ids are random UUIDs, so any mixing spreads them. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (KIND_SLOTS - 1);
}

static int kind_query(mq_store *s, const char *id, mq__kind *out, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_REC_KIND, err);

    memset(out, 0, sizeof(*out));
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->exists = 1;
        out->type = mq__schema_type(s->schema, mq__col_text(st, 0));
        mq__copy(out->type_name, sizeof(out->type_name), mq__col_text(st, 0));
        out->deleted = sqlite3_column_int(st, 1) != 0;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            mq__copy(out->area, sizeof(out->area), mq__col_text(st, 2));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "looking up a record");
    return 0;
}

int mq__kind_get(mq_store *s, const char *id, mq__kind *out, mq_error *err)
{
    size_t len = strlen(id);

    if (s->tx_depth == 0 || len >= sizeof(s->kinds->slot[0].id))
        return kind_query(s, id, out, err);
    if (s->kinds == NULL) {
        if ((s->kinds = calloc(1, sizeof(*s->kinds))) == NULL)
            return kind_query(s, id, out, err);
        s->kinds->gen = 1;
    }
    size_t i = slot_of(id);
    if (s->kinds->slot[i].gen == s->kinds->gen && strcmp(s->kinds->slot[i].id, id) == 0) {
        *out = s->kinds->slot[i].kind;
#ifndef NDEBUG
        mq__kind fresh;
        if (kind_query(s, id, &fresh, NULL) == 0)
            assert(fresh.exists && fresh.type == out->type &&
                   fresh.deleted == out->deleted && strcmp(fresh.area, out->area) == 0);
#endif
        return 0;
    }
    int rc = kind_query(s, id, out, err);
    if (rc == 0 && out->exists) {
        s->kinds->slot[i].gen = s->kinds->gen;
        memcpy(s->kinds->slot[i].id, id, len + 1);
        s->kinds->slot[i].kind = *out;
    }
    return rc;
}

void mq__kind_forget(mq_store *s, const char *id)
{
    if (s->kinds == NULL)
        return;
    size_t i = slot_of(id);
    if (strcmp(s->kinds->slot[i].id, id) == 0)
        s->kinds->slot[i].gen = 0; /* the table's gen is never 0 */
}

void mq__kind_put(mq_store *s, const char *id, const mq__kind *k)
{
    size_t len = strlen(id);

    if (s->tx_depth == 0 || len >= sizeof(s->kinds->slot[0].id) || !k->exists)
        return;
    if (s->kinds == NULL) {
        if ((s->kinds = calloc(1, sizeof(*s->kinds))) == NULL)
            return; /* remembering is an optimisation; forgetting is enough */
        s->kinds->gen = 1;
    }
    size_t i = slot_of(id);
    s->kinds->slot[i].gen = s->kinds->gen;
    memcpy(s->kinds->slot[i].id, id, len + 1);
    s->kinds->slot[i].kind = *k;
}

void mq__kind_reset(mq_store *s)
{
    if (s->kinds != NULL)
        s->kinds->gen++;
}

void mq__kind_free(mq_store *s)
{
    free(s->kinds);
    s->kinds = NULL;
}
