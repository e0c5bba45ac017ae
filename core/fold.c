/*
 * core/fold.c - a record's change log and its fold (docs/STORE.md, M2, M3).
 *
 * The heads of a field are the changes of that field that no other change
 * of the field names in its base; the value is the greatest head's, and the
 * field is in conflict when the heads carry different values.  The fold
 * depends only on the set of changes, never on their order.  merge.c folds
 * the fields a change touches when its fast path does not apply; check.c
 * and the import's undo fold whole records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mq__log_free(mq__logrow *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON_Delete(rows[i].set);
        cJSON_Delete(rows[i].base);
    }
    free(rows);
}

int mq__log_load(mq_store *s, const char *rid, mq__logrow **out, size_t *nout,
                 mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_CHANGES_OF, err);
    mq__logrow *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;

    *out = NULL;
    *nout = 0;
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            mq__logrow *grown = realloc(rows, cap * sizeof(*rows));
            if (grown == NULL) {
                sqlite3_reset(st);
                mq__log_free(rows, n);
                return mq__fail(err, MQ_ENOMEM, "out of memory");
            }
            rows = grown;
        }
        mq__logrow *r = &rows[n++];
        memset(r, 0, sizeof(*r));
        snprintf(r->v, sizeof(r->v), "%s", mq__col_text(st, 0));
        r->set = cJSON_Parse(mq__col_text(st, 1));
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            r->base = cJSON_Parse(mq__col_text(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            snprintf(r->by, sizeof(r->by), "%s", mq__col_text(st, 3));
        if (r->set == NULL ||
            (r->base == NULL && sqlite3_column_type(st, 2) != SQLITE_NULL)) {
            /* the message first: r is freed with the rows */
            rc = mq__fail(err, MQ_ECORRUPT, "record %s: change %s is not valid JSON", rid,
                          r->v);
            sqlite3_reset(st);
            mq__log_free(rows, n);
            return rc;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        mq__log_free(rows, n);
        return mq__fail_sqlite(err, s->db, "reading a record's changes");
    }
    *out = rows;
    *nout = n;
    return 0;
}

static int names_in_base(const mq__logrow *r, const char *field, const char *v)
{
    const cJSON *list = r->base ? cJSON_GetObjectItemCaseSensitive(r->base, field) : NULL;
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, v) == 0)
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t mq__fold_field(const mq__logrow *rows, size_t n, const char *field,
                      const char **heads, const cJSON **value, int *conflict)
{
    size_t nh = 0;

    *value = NULL;
    *conflict = 0;
    for (size_t i = 0; i < n; i++) {
        if (cJSON_GetObjectItemCaseSensitive(rows[i].set, field) == NULL)
            continue;
        int replaced = 0;
        for (size_t k = 0; k < n && !replaced; k++)
            replaced = k != i && cJSON_GetObjectItemCaseSensitive(rows[k].set, field) &&
                       names_in_base(&rows[k], field, rows[i].v);
        if (!replaced)
            heads[nh++] = rows[i].v;
    }
    if (nh == 0)
        return 0;
    qsort(heads, nh, sizeof(heads[0]), cmp_str);
    /* The winner is the greatest head; find its row for the value. */
    const cJSON *values[MQ_BASE_MAX];
    size_t nv = 0;
    for (size_t h = 0; h < nh; h++) {
        for (size_t i = 0; i < n; i++) {
            if (rows[i].v == heads[h]) {
                const cJSON *val = cJSON_GetObjectItemCaseSensitive(rows[i].set, field);
                if (nv < MQ_BASE_MAX)
                    values[nv++] = val;
                *value = val;
            }
        }
    }
    for (size_t h = 0; h < nv; h++)
        if (!cJSON_Compare(values[h], *value, 1))
            *conflict = 1;
    return nh;
}

int mq__rec_fold(mq_store *s, const char *rid, mq__rec *out, mq_error *err)
{
    mq__logrow *rows;
    size_t n;
    int rc;
    sqlite3_stmt *st;

    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", rid);
    if ((rc = mq__log_load(s, rid, &rows, &n, err)) != 0)
        return rc;
    if (n == 0) {
        mq__log_free(rows, n);
        return 0;
    }
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT type, min(v) FROM (SELECT type, v FROM change"
            " WHERE rid = ?1 AND body IS NOT NULL UNION ALL " MQ__CREATION_ONCE(
                "c.type, c.v", "?1") ")",
            -1, &st, NULL) != SQLITE_OK) {
        mq__log_free(rows, n);
        return mq__fail_sqlite(err, s->db, "reading the change log");
    }
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->type = mq__schema_type(s->schema, mq__col_text(st, 0));
        snprintf(out->cv, sizeof(out->cv), "%s", mq__col_text(st, 1));
    }
    sqlite3_finalize(st);
    if (out->type == NULL) {
        mq__log_free(rows, n);
        return mq__fail(err, MQ_ECORRUPT, "record %s: its changes have an unknown type",
                        rid);
    }
    out->exists = 1;
    out->fields = cJSON_CreateObject();
    out->vers = cJSON_CreateObject();
    const char **heads = malloc((n + 1) * sizeof(char *));
    if (heads == NULL || out->fields == NULL || out->vers == NULL) {
        free(heads);
        mq__log_free(rows, n);
        mq__rec_clear(out);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    /* Every field any change sets, each folded on its own. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const cJSON *f;
        cJSON_ArrayForEach(f, rows[i].set)
        {
            int done =
                strcmp(f->string, "_deleted") == 0
                    ? cJSON_GetObjectItemCaseSensitive(out->vers, "_deleted") != NULL
                    : cJSON_GetObjectItemCaseSensitive(out->fields, f->string) != NULL;
            if (done)
                continue;
            const cJSON *value;
            int conflict;
            size_t nh = mq__fold_field(rows, n, f->string, heads, &value, &conflict);
            if (mq__rec_set_field(out, f->string, value, heads, nh) != 0)
                rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        }
    }
    free(heads);
    mq__log_free(rows, n);
    if (rc == 0)
        rc = mq__rec_scope(s, out, err);
    if (rc != 0)
        mq__rec_clear(out);
    return rc;
}
