/*
 * core/merge.c - merging one change into a replica.
 *
 * This is where the design's merge invariants are kept (docs/STORE.md
 * numbers them; the numbers below match):
 *
 *  M1  The change log holds each version at most once.  A change whose
 *      version is already there is a duplicate and changes nothing, so any
 *      delivery may be repeated.
 *  M2  For every (record, field), the stored state equals the fold of the
 *      changes of that field in the log: the heads are the versions that no
 *      other change of the field names in its base; the value is the value
 *      of the greatest head.  The fold depends only on the set of changes,
 *      never on their order, so replicas that saw the same set agree.
 *  M3  A (record, field) is in the conflict table exactly when its heads
 *      carry two or more different values.
 *  M4  Causality is carried by bases, not by clocks: a change supersedes the
 *      versions its base names whatever their stamps, so last-writer-wins
 *      never lets a value replace one its writer had seen.  Clocks only
 *      order concurrent heads; a writer's clock passes the versions it has
 *      seen unless they were stamped far in its future (hlc.h), so a clock
 *      that runs ahead cannot drag every replica's stamps along.
 *  M5  A tombstone is the field "_deleted" and merges like any other field.
 *  M6  Log records (type kind "log") are never edited locally; replicas may
 *      still hold two writes of one log record (the same import on two
 *      replicas), which merge by M2 and agree when their values agree.
 *  M7  A record's creation is stored once.  A change that creates its
 *      record from nothing (no base, no "_deleted") is logged with a NULL
 *      body: its set is exactly the record's fields, as long as it stays the
 *      record's only change.  Before any other change of the record is
 *      merged, the body is written out (keep_creation()).  Readers of the log
 *      take coalesce(body, the record's fields).
 *
 * The change arrives parsed (change.c); the fold of the log is fold.c's and
 * the record row record.c's.  The fast path handles the common case without
 * reading the log: the field has one head and the change is based on
 * exactly that head (or the field has none and the change has no base).
 * Then M2 gives the change as the only new head.  Every other case folds the
 * record's log (the slow path).  In debug builds mq__merge() re-folds the
 * record after every change and asserts M2 and M3.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_dirty.h"
#include "search.h"

/* The slow path: folds the record's whole log for the listed fields. */
static int refold(mq_store *s, mq__rec *rec, const char *const *fields, size_t nf,
                  mq_error *err)
{
    mq__logrow *rows;
    size_t n;
    int rc = mq__log_load(s, rec->id, &rows, &n, err);

    if (rc != 0)
        return rc;
    const char **heads = malloc((n + 1) * sizeof(char *));
    if (heads == NULL) {
        mq__log_free(rows, n);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nf && rc == 0; i++) {
        const cJSON *value;
        int conflict;
        size_t nh = mq__fold_field(rows, n, fields[i], heads, &value, &conflict);
        if (mq__rec_set_field(rec, fields[i], value, heads, nh) != 0)
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        else
            rc = mq__conflict_mark(s, rec->id, fields[i], conflict, err);
    }
    free(heads);
    mq__log_free(rows, n);
    return rc;
}

/* Logs change `c`; `once` (M7) leaves its body to the record's fields. */
static int insert_change(mq_store *s, const mq__change *c, const char *src, int once,
                         int *dup, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_CHANGE_INSERT, err);
    char *body = NULL, *base = NULL;
    int rc;

    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    if (!once)
        body = cJSON_PrintUnformatted(c->set);
    if (c->base != NULL)
        base = cJSON_PrintUnformatted(c->base);
    if ((body == NULL && !once) || (c->base != NULL && base == NULL)) {
        cJSON_free(body);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    sqlite3_bind_text(st, 1, c->v, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->type->name, -1, SQLITE_STATIC);
    mq__bind_text(st, 4, c->by[0] ? c->by : NULL);
    mq__bind_text(st, 5, src);
    if (body != NULL)
        sqlite3_bind_text(st, 6, body, -1, SQLITE_STATIC);
    if (base != NULL)
        sqlite3_bind_text(st, 7, base, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    cJSON_free(body);
    cJSON_free(base);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "logging a change");
    *dup = sqlite3_changes(s->db) == 0;
    return 0;
}

/*
 * M7: writes out the body of record `rid`'s creation if it was stored once,
 * while the record's fields are still exactly its set.  Called before a
 * second change of the record is merged.
 */
static int keep_creation(mq_store *s, const char *rid, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_KEEP_CREATION, err);

    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "keeping a creation");
}

#ifndef NDEBUG
/*
 * Debug builds: the stored state of every field the change touched must be
 * the fold of the log (M2), and the conflict table must agree with the fold
 * (M3): a touched field has a conflict row exactly when its heads disagree,
 * and every conflict row of the record names a field whose heads disagree.
 * Fields the change did not touch keep their heads, so no other row of the
 * table can have gone wrong here.  A corrupted table trips this too;
 * mq_store_check() is what reports one without stopping.
 */
static void assert_folded(mq_store *s, const mq__change *c)
{
    mq__rec rec;
    mq__logrow *rows;
    size_t n;
    const cJSON *it;
    cJSON *marked = NULL;

    if (mq__rec_load(s, c->id, &rec, NULL) != 0)
        return;
    if (mq__log_load(s, c->id, &rows, &n, NULL) != 0) {
        mq__rec_clear(&rec);
        return;
    }
    const char **heads = malloc((n + 1) * sizeof(char *));
    const char *stored[MQ_BASE_MAX];
    const cJSON *value;
    int conflict, row;
    if (heads == NULL)
        goto out;
    cJSON_ArrayForEach(it, c->set)
    {
        size_t nh = mq__fold_field(rows, n, it->string, heads, &value, &conflict);
        size_t ns = mq__rec_heads(&rec, it->string, stored, MQ_BASE_MAX);
        assert(nh == ns);
        for (size_t i = 0; i < nh && i < ns; i++)
            assert(strcmp(heads[i], stored[i]) == 0);
        if (strcmp(it->string, "_deleted") == 0)
            assert(rec.deleted == cJSON_IsTrue(value));
        else
            assert(cJSON_Compare(
                value, cJSON_GetObjectItemCaseSensitive(rec.fields, it->string), 1));
        if (mq__conflict_has(s, c->id, it->string, &row, NULL) == 0)
            assert(row == conflict); /* M3, the fields touched */
    }
    if (mq__conflict_fields(s, c->id, &marked, NULL) == 0) {
        cJSON_ArrayForEach(it, marked)
        {
            mq__fold_field(rows, n, it->valuestring, heads, &value, &conflict);
            assert(conflict); /* M3, every row of the record */
        }
    }
out:
    cJSON_Delete(marked);
    free(heads);
    mq__log_free(rows, n);
    mq__rec_clear(&rec);
}
#endif

/* Whether `set` names fields of `t` in schema order, each once. */
static int in_schema_order(const mq_type *t, const cJSON *set)
{
    size_t k = 0;
    const cJSON *it;

    cJSON_ArrayForEach(it, set)
    {
        while (k < t->nfields && strcmp(t->fields[k].name, it->string) != 0)
            k++;
        if (k == t->nfields)
            return 0;
        k++;
    }
    return 1;
}

/*
 * M7 for a record that does not exist, from a change with no base and no
 * tombstone whose set is in schema order: the record's row is the set as it
 * is (its fields in canonical order, every version the change's, no `vers`),
 * so it is written as one insert of the set's text, never built field by
 * field and printed.  What the general path below would store, byte for
 * byte; *done is 0 when the set is not in schema order (that path then
 * orders it).
 *
 * `speculative`: the record was not looked up.  The record row goes first
 * and *taken says the id was taken, in which case nothing was written.
 * Only for a local change: its version is new, so its log row cannot be a
 * duplicate.  Otherwise the change goes first, so that a duplicate (M1)
 * writes nothing.
 */
static int create_once(mq_store *s, const mq__change *c, const char *src, int speculative,
                       int *done, int *taken, mq_apply_result *result, mq_error *err)
{
    char parent[64], area[64];
    const char *text = c->set_text;
    size_t len = c->set_len;
    int rc, dup = 0;

    *done = *taken = 0;
    if (!in_schema_order(c->type, c->set))
        return 0;
    *done = 1;
    if ((rc = mq__scope_of(s, c->type, c->id, c->set, parent, area, err)) != 0)
        return rc;
    if (text == NULL) {
        if (s->out == NULL) {
            if ((s->out = malloc(sizeof(*s->out))) == NULL)
                return mq__fail(err, MQ_ENOMEM, "out of memory");
            mq__json_init(s->out);
        }
        /* the writer prints a const tree and never changes it */
        if (mq__json_print(s->out, (cJSON *)c->set, &text) != 0)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        len = strlen(text);
    }
    if (!speculative && ((rc = insert_change(s, c, src, 1, &dup, err)) != 0 || dup))
        return rc; /* M1 */
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_REC_INSERT, err);
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    mq__kind_forget(s, c->id);
    if (c->type->scope_self)
        mq__scope_memo_reset(s); /* a new area: the memo's "no" may be wrong */
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->type->name, -1, SQLITE_STATIC);
    mq__bind_text(st, 3, parent[0] ? parent : NULL);
    mq__bind_text(st, 4, area[0] ? area : NULL);
    sqlite3_bind_text(st, 5, c->v, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, text, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "saving a record");
    if (sqlite3_changes(s->db) == 0) {
        if (speculative) {
            *taken = 1;
            return 0;
        }
        /* looked up in this transaction and not found */
        return mq__fail(err, MQ_ECORRUPT, "record %s: stored while it was being created",
                        c->id);
    }
    /* S2, N2 */
    if ((rc = mq__search_put(s, c->type, sqlite3_last_insert_rowid(s->db), c->set, 0,
                             err)) != 0 ||
        (rc = mq__need_dirty_touch(s, c->type->name, c->id, parent[0] ? parent : NULL,
                                   err)) != 0)
        return rc;
    if (speculative) {
        if ((rc = insert_change(s, c, src, 1, &dup, err)) != 0)
            return rc;
        if (dup)
            return mq__fail(err, MQ_ECORRUPT,
                            "version %s, just stamped, is already in the log", c->v);
    }
    rc = 0;
    mq__hlc_observe(&s->hlc, c->hlc, mq_store_now_ms(s));
    *result = MQ_APPLIED;
    mq__kind k;
    memset(&k, 0, sizeof(k));
    k.exists = 1;
    k.type = c->type;
    mq__copy(k.type_name, sizeof(k.type_name), c->type->name);
    memcpy(k.area, area, sizeof(k.area));
    mq__kind_put(s, c->id, &k);
    mq__orphan_note(s, parent, area);
    if (!c->type->log && area[0] != '\0')
        rc = mq__area_adopt(s, c->id, area, err);
    return rc;
}

int mq__merge_new(mq_store *s, const mq__change *c, int *taken, mq_apply_result *result,
                  mq_error *err)
{
    int done;
    int rc;

    *result = MQ_DUPLICATE;
    *taken = 1; /* the general path refuses a set of more than 64 fields */
    if (cJSON_GetArraySize(c->set) > 64)
        return 0;
    rc = create_once(s, c, NULL, 1, &done, taken, result, err);
    if (rc == 0 && !done)
        *taken = 1;
    return rc;
}

int mq__merge(mq_store *s, const mq__change *c, const char *src, mq_apply_result *result,
              mq_error *err)
{
    mq__rec rec;
    int rc = mq__rec_load(s, c->id, &rec, err);

    *result = MQ_DUPLICATE;
    return rc != 0 ? rc : mq__merge_loaded(s, c, src, &rec, result, err);
}

int mq__merge_loaded(mq_store *s, const mq__change *c, const char *src, mq__rec *loaded,
                     mq_apply_result *result, mq_error *err)
{
    mq__rec rec = *loaded; /* taken: cleared below, whatever happens */
    int rc = 0, dup = 0;
    const char *slow[64];
    size_t nslow = 0;
    const cJSON *it;

    memset(loaded, 0, sizeof(*loaded));
    *result = MQ_DUPLICATE;
    if (cJSON_GetArraySize(c->set) > (int)(sizeof(slow) / sizeof(slow[0]))) {
        rc = mq__fail(err, MQ_EINVAL, "change %s: sets more than %zu fields", c->v,
                      sizeof(slow) / sizeof(slow[0]));
        goto done;
    }
    if (rec.exists && rec.type != c->type) {
        rc = mq__fail(err, MQ_EINVAL, "change %s: record %s is of type %s here, not %s",
                      c->v, c->id, rec.type->name, c->type->name);
        goto done;
    }
    /* M7: a creation from nothing is the record's fields; stored once. */
    int once = !rec.exists && c->base == NULL &&
               cJSON_GetObjectItemCaseSensitive(c->set, "_deleted") == NULL;
    if (once) {
        int done, taken;
        rc = create_once(s, c, src, 0, &done, &taken, result, err);
        if (done)
            goto done;
    }
    if ((rc = insert_change(s, c, src, once, &dup, err)) != 0 || dup)
        goto done; /* M1 */
    /* Only a record whose fields all stand at cv can hold a creation stored
     * once (M7); any other has had a second change already. */
    if (rec.exists && !rec.deleted && cJSON_GetArraySize(rec.vers) == 0 &&
        (rc = keep_creation(s, c->id, err)) != 0)
        goto done;
    mq__hlc_observe(&s->hlc, c->hlc, mq_store_now_ms(s));
    *result = MQ_APPLIED;

    int existed = rec.exists;
    /* Ids are shorter than an id buffer, so the copy is whole. */
    char old_area[sizeof(rec.id)] = "";
    int had_area = rec.area != NULL;
    if (had_area)
        snprintf(old_area, sizeof(old_area), "%s", rec.area);
    if (!rec.exists) {
        /* First change seen of this record: it is the only head of each of
         * its fields, whatever its base says (M2 with one change). */
        rec.exists = 1;
        rec.type = c->type;
        snprintf(rec.cv, sizeof(rec.cv), "%s", c->v);
        rec.fields = cJSON_CreateObject();
        rec.vers = cJSON_CreateObject();
    }
    cJSON_ArrayForEach(it, c->set)
    {
        const char *h[2];
        size_t nh = mq__rec_heads(&rec, it->string, h, 2);
        const cJSON *b =
            c->base ? cJSON_GetObjectItemCaseSensitive(c->base, it->string) : NULL;
        int nb = b != NULL ? cJSON_GetArraySize(b) : 0;
        const char *v1 = c->v;

        if ((nh == 0 && nb == 0) ||
            (nh == 1 && nb == 1 &&
             strcmp(cJSON_GetArrayItem(b, 0)->valuestring, h[0]) == 0)) {
            if (mq__rec_set_field(&rec, it->string, it, &v1, 1) != 0) {
                rc = mq__fail(err, MQ_ENOMEM, "out of memory");
                break;
            }
        } else {
            slow[nslow++] = it->string; /* bounded: checked before writing */
        }
    }
    if (rc == 0 && nslow > 0)
        rc = refold(s, &rec, slow, nslow, err);
    if (rc == 0 &&
        (!existed ||
         (c->type->scope != NULL &&
          (cJSON_GetObjectItemCaseSensitive(c->set, c->type->scope->name) != NULL ||
           (c->type->scope_alt != NULL &&
            cJSON_GetObjectItemCaseSensitive(c->set, c->type->scope_alt->name) !=
                NULL)))))
        rc = mq__rec_scope(s, &rec, err);
    if (rc == 0)
        rc = mq__rec_save(s, &rec, err);
    /* Records below this one follow its area (they may have arrived first). */
    if (rc == 0 && !c->type->log && rec.area != NULL &&
        (!had_area || strcmp(old_area, rec.area) != 0))
        rc = existed ? mq__area_cascade(s, rec.id, rec.area, err)
                     : mq__area_adopt(s, rec.id, rec.area, err);
#ifndef NDEBUG
    if (rc == 0 && existed)
        assert_folded(s, c);
#endif
done:
    mq__rec_clear(&rec);
    return rc;
}
