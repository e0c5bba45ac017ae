/*
 * core/conflicts.c - the conflict table, and the list of the concurrent
 * edits that wait for review.
 *
 * The conflict table names (record, field) pairs whose heads disagree
 * (M3): merge.c marks and clears them, write.c asks which fields are in
 * conflict, check.c and merge.c's debug checker compare them with the fold.
 * For review, the candidates are read back from the change log so that a
 * reviewer sees each value with who wrote it, where and when.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int mq__conflict_mark(mq_store *s, const char *rid, const char *field, int on,
                      mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, on ? MQ_ST_CONFLICT_ADD : MQ_ST_CONFLICT_DEL, err);

    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "recording a conflict");
}

int mq__conflict_has(mq_store *s, const char *rid, const char *field, int *yes,
                     mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_CONFLICT_HAS, err);

    *yes = 0;
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading conflicts");
    *yes = rc == SQLITE_ROW;
    return 0;
}

int mq__conflict_fields(mq_store *s, const char *rid, cJSON **out, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_CONFLICTS_OF, err);
    mq__json j;
    cJSON *names;
    int rc;

    *out = NULL;
    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    mq__json_init(&j);
    names = mq__json_array(&j);
    sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        mq__json_add_str(&j, names, NULL, mq__col_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(names);
        return mq__fail_sqlite(err, s->db, "reading conflicts");
    }
    if (j.oom) {
        cJSON_Delete(names);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    *out = names;
    return 0;
}

static int one_conflict(mq_store *s, const char *rid, const char *field, mq_json_cb cb,
                        void *ctx, mq_error *err)
{
    mq__rec rec;
    mq__logrow *rows = NULL;
    size_t n = 0;
    int rc;

    if ((rc = mq__rec_load(s, rid, &rec, err)) != 0)
        return rc;
    if (!rec.exists) {
        mq__rec_clear(&rec);
        return mq__fail(err, MQ_ECORRUPT, "conflict on %s, which has no record", rid);
    }
    if ((rc = mq__log_load(s, rid, &rows, &n, err)) != 0) {
        mq__rec_clear(&rec);
        return rc;
    }
    mq__json j;
    const char *json;
    char cid[256];
    mq__json_init(&j);
    cJSON *o = mq__json_object(&j);
    snprintf(cid, sizeof(cid), "%s/%s", rid, field);
    mq__json_add_str(&j, o, "conflict", cid);
    mq__json_add_str(&j, o, "type", rec.type->name);
    mq__json_add_str(&j, o, "id", rid);
    mq__json_add_str(&j, o, "field", field);
    if (strcmp(field, "_deleted") == 0) {
        mq__json_add(&j, o, "value", cJSON_CreateBool(rec.deleted));
    } else {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec.fields, field);
        mq__json_add(&j, o, "value", v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
    cJSON *cands = mq__json_add(&j, o, "candidates", mq__json_array(&j));
    const char *heads[64];
    size_t nh = mq__rec_heads(&rec, field, heads, 64);
    for (size_t h = 0; h < nh && h < 64; h++) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(rows[i].v, heads[h]) != 0)
                continue;
            uint64_t clock = 0;
            char at[MQ_ISO_MAX];
            mq__version_parse(rows[i].v, &clock, NULL);
            mq__iso_time(at, mq__hlc_ms(clock));
            cJSON *c = mq__json_add(&j, cands, NULL, mq__json_object(&j));
            mq__json_add_str(&j, c, "v", rows[i].v);
            mq__json_add(
                &j, c, "value",
                cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rows[i].set, field), 1));
            mq__json_add_str(&j, c, "by", rows[i].by[0] != '\0' ? rows[i].by : NULL);
            mq__json_add_str(&j, c, "site", rows[i].v + 17);
            mq__json_add_str(&j, c, "at", at);
        }
    }
    rc = mq__json_print(&j, o, &json);
    cJSON_Delete(o);
    mq__log_free(rows, n);
    mq__rec_clear(&rec);
    if (rc == 0)
        rc = cb(ctx, json);
    else
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
    mq__json_free(&j);
    return rc;
}

int mq_store_conflicts(mq_store *s, mq_json_cb cb, void *ctx, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT rid, field FROM conflict ORDER BY rid, field",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading conflicts");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char rid[64], field[128];
        snprintf(rid, sizeof(rid), "%s", mq__col_text(st, 0));
        snprintf(field, sizeof(field), "%s", mq__col_text(st, 1));
        int stop = one_conflict(s, rid, field, cb, ctx, err);
        if (stop != 0) {
            sqlite3_finalize(st);
            return stop;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "reading conflicts");
}
