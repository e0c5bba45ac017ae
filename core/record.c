/*
 * core/record.c - a record's stored state: load, save, the heads of a field
 * and setting a field from a fold.
 *
 * A row keeps the current value of every field in `fields`, and the versions
 * behind them compactly: `cv` is the version of every field that has no entry
 * in `vers`; `vers` maps the others to one version, or to the sorted array of
 * concurrent versions (the heads) when several survive.  A freshly created
 * record therefore stores no per-field versions at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_dirty.h"
#include "search.h"

void mq__rec_clear(mq__rec *rec)
{
    cJSON_Delete(rec->fields);
    cJSON_Delete(rec->vers);
    free(rec->parent);
    free(rec->area);
    memset(rec, 0, sizeof(*rec));
}

int mq__rec_load(mq_store *s, const char *id, mq__rec *rec, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_REC_LOAD, err);
    int rc;

    memset(rec, 0, sizeof(*rec));
    mq__copy(rec->id, sizeof(rec->id), id);
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return mq__fail_sqlite(err, s->db, "loading a record");
    rec->type = mq__schema_type(s->schema, mq__col_text(st, 0));
    if (rec->type == NULL) {
        rc =
            mq__fail(err, MQ_ECORRUPT, "record %s has type \"%s\", unknown to the schema",
                     id, mq__col_text(st, 0));
        sqlite3_reset(st);
        return rc;
    }
    rec->exists = 1;
    int oom = (rec->parent = mq__strdup(mq__col_text(st, 1))) == NULL &&
              sqlite3_column_type(st, 1) != SQLITE_NULL;
    oom |= (rec->area = mq__strdup(mq__col_text(st, 2))) == NULL &&
           sqlite3_column_type(st, 2) != SQLITE_NULL;
    rec->deleted = sqlite3_column_int(st, 3);
    mq__copy(rec->cv, sizeof(rec->cv), mq__col_text(st, 4));
    rec->vers = sqlite3_column_type(st, 5) == SQLITE_NULL
                    ? cJSON_CreateObject()
                    : cJSON_Parse(mq__col_text(st, 5));
    rec->fields = cJSON_Parse(mq__col_text(st, 6));
    sqlite3_reset(st);
    if (oom) {
        mq__rec_clear(rec);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    if (rec->vers == NULL || rec->fields == NULL) {
        mq__rec_clear(rec);
        return mq__fail(err, MQ_ECORRUPT, "record %s: stored state is not valid JSON",
                        id);
    }
    return 0;
}

/*
 * Puts the fields in schema order, so that replicas that merged the same
 * changes in different orders store (and export) the same bytes.
 */
static int canonical_order(mq__rec *rec)
{
    const mq_type *t = rec->type;
    cJSON *it = rec->fields->child;

    /* Already ordered is the common case: check before moving anything. */
    for (size_t i = 0; i < t->nfields && it != NULL; i++)
        if (strcmp(it->string, t->fields[i].name) == 0)
            it = it->next;
    if (it == NULL)
        return 0;
    /* Saved out of order, the row would differ from other replicas' */
    cJSON *ordered = cJSON_CreateArray();
    if (ordered == NULL)
        return MQ_ENOMEM;
    for (size_t i = 0; i < t->nfields; i++) {
        cJSON *f =
            cJSON_DetachItemFromObjectCaseSensitive(rec->fields, t->fields[i].name);
        if (f != NULL)
            cJSON_AddItemToArray(ordered, f); /* keeps f->string */
    }
    while (rec->fields->child != NULL)
        cJSON_AddItemToArray(ordered,
                             cJSON_DetachItemViaPointer(rec->fields, rec->fields->child));
    rec->fields->child = ordered->child;
    ordered->child = NULL;
    cJSON_Delete(ordered);
    return 0;
}

int mq__rec_save(mq_store *s, mq__rec *rec, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_REC_UPSERT, err);
    char *fields, *vers = NULL;
    int rc;

    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    mq__kind_forget(s, rec->id);
    if (rec->type->scope_self)
        mq__scope_memo_reset(s); /* an area may move */
    if (rec->fields == NULL || canonical_order(rec) != 0)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    fields = cJSON_PrintUnformatted(rec->fields);
    if (cJSON_GetArraySize(rec->vers) > 0)
        vers = cJSON_PrintUnformatted(rec->vers);
    if (fields == NULL || (vers == NULL && cJSON_GetArraySize(rec->vers) > 0)) {
        cJSON_free(fields);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rec->type->name, -1, SQLITE_STATIC);
    mq__bind_text(st, 3, rec->parent);
    mq__bind_text(st, 4, rec->area);
    sqlite3_bind_int(st, 5, rec->deleted);
    sqlite3_bind_text(st, 6, rec->cv, -1, SQLITE_STATIC);
    if (vers != NULL)
        sqlite3_bind_text(st, 7, vers, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, fields, -1, SQLITE_STATIC);
    sqlite3_int64 rowid = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rowid = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    sqlite3_reset(st);
    cJSON_free(fields);
    cJSON_free(vers);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "saving a record");
    /* S2, N2: the row's text and its need.  The need a row belongs to never
     * changes (a need's is its id, an action's its parent, which M6 keeps:
     * a log record is written once), so the row as written names it. */
    if ((rc = mq__search_put(s, rec->type, rowid, rec->fields, rec->deleted, err)) != 0 ||
        (rc = mq__need_dirty_touch(s, rec->type->name, rec->id, rec->parent, err)) != 0)
        return rc;
    mq__kind k;
    memset(&k, 0, sizeof(k));
    k.exists = 1;
    k.type = rec->type;
    mq__copy(k.type_name, sizeof(k.type_name), rec->type->name);
    k.deleted = rec->deleted != 0;
    if (rec->area != NULL)
        mq__copy(k.area, sizeof(k.area), rec->area);
    mq__kind_put(s, rec->id, &k);
    mq__orphan_note(s, rec->parent, rec->area);
    return 0;
}

size_t mq__rec_heads(const mq__rec *rec, const char *field, const char **out, size_t max)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec->vers, field);

    if (cJSON_IsString(v)) {
        if (max > 0)
            out[0] = v->valuestring;
        return 1;
    }
    if (cJSON_IsArray(v)) {
        const cJSON *it;
        size_t n = 0;
        cJSON_ArrayForEach(it, v)
        {
            if (n < max)
                out[n] = it->valuestring;
            n++;
        }
        return n;
    }
    if (strcmp(field, "_deleted") == 0 ||
        cJSON_GetObjectItemCaseSensitive(rec->fields, field) == NULL)
        return 0;
    if (max > 0)
        out[0] = rec->cv;
    return 1;
}

/* Puts `item` (taken) as member `field` of object `o`, replacing any. */
static int put_member(cJSON *o, const char *field, cJSON *item)
{
    int ok = o != NULL && item != NULL &&
             (cJSON_GetObjectItemCaseSensitive(o, field) != NULL
                  ? cJSON_ReplaceItemInObjectCaseSensitive(o, field, item)
                  : cJSON_AddItemToObject(o, field, item));

    if (!ok) {
        cJSON_Delete(item);
        return MQ_ENOMEM;
    }
    return 0;
}

int mq__rec_set_field(mq__rec *rec, const char *field, const cJSON *value,
                      const char *const *heads, size_t nheads)
{
    cJSON *ver;

    if (rec->fields == NULL || rec->vers == NULL)
        return MQ_ENOMEM;
    if (nheads == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(rec->vers, field);
        if (strcmp(field, "_deleted") == 0)
            rec->deleted = 0;
        else
            cJSON_DeleteItemFromObjectCaseSensitive(rec->fields, field);
        return 0;
    }
    if (strcmp(field, "_deleted") == 0)
        rec->deleted = cJSON_IsTrue(value);
    else if (put_member(rec->fields, field, cJSON_Duplicate(value, 1)) != 0)
        return MQ_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(rec->vers, field);
    if (nheads == 1) {
        /* The common case costs nothing: cv already covers the field. */
        if (strcmp(heads[0], rec->cv) == 0 && strcmp(field, "_deleted") != 0)
            return 0;
        ver = cJSON_CreateString(heads[0]);
    } else {
        ver = cJSON_CreateStringArray(heads, (int)nheads);
    }
    return put_member(rec->vers, field, ver);
}
