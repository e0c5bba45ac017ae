/*
 * core/check.c - proving that the stored state is the fold of the log.
 *
 * mq_store_check() runs SQLite's integrity check, checks that creations
 * stored once are still whole (M7), then re-derives every record from its
 * changes (fold.c, M2 and M3) and compares: fields, heads,
 * tombstone, conflict rows and the area the scope path gives; and then
 * folds every need again and compares with need_state (N1), and derives
 * every search text again and compares with record_search (S1).  It is the
 * debug checker of the merge invariants made available to users, and what a
 * test runs after killing a process mid-write.
 *
 * Also mq_store_duplicates(): the values a schema asks not to repeat
 * (warn_duplicate) that live records repeat, for `check` to list.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_state.h"
#include "search.h"

struct checker {
    void (*cb)(void *ctx, const char *problem);
    void *ctx;
    size_t problems;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
problem(struct checker *c, const char *fmt, ...)
{
    char msg[MQ_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->problems++;
    if (c->cb != NULL && c->problems <= 1000)
        c->cb(c->ctx, msg);
}

static int same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Compares the heads and the conflict row of one field with its fold. */
static int check_field(mq_store *s, struct checker *c, const mq__rec *got,
                       const mq__logrow *rows, size_t n, const char **heads,
                       const char *field, mq_error *err)
{
    const char *stored[MQ_BASE_MAX];
    const cJSON *value;
    int conflict, row, rc;
    size_t nh = mq__fold_field(rows, n, field, heads, &value, &conflict);
    size_t ns = mq__rec_heads(got, field, stored, MQ_BASE_MAX);
    int same = nh == ns;

    for (size_t i = 0; same && i < nh && i < MQ_BASE_MAX; i++)
        same = strcmp(heads[i], stored[i]) == 0;
    if (!same)
        problem(c, "record %s: field %s: stored versions differ from the log", got->id,
                field);
    if ((rc = mq__conflict_has(s, got->id, field, &row, err)) != 0)
        return rc;
    if (conflict != row)
        problem(c, "record %s: field %s: conflict %s in the log but %s in the table",
                got->id, field, conflict ? "open" : "closed",
                conflict ? "absent" : "present");
    return 0;
}

/* Compares one stored record with the fold of its log. */
static int check_record(mq_store *s, struct checker *c, const char *rid, mq_error *err)
{
    mq__rec got, want;
    mq__logrow *rows = NULL;
    size_t n = 0;
    int rc;

    if ((rc = mq__rec_load(s, rid, &got, err)) != 0)
        return rc;
    if ((rc = mq__rec_fold(s, rid, &want, err)) != 0) {
        mq__rec_clear(&got);
        return rc;
    }
    if (!want.exists) {
        problem(c, "record %s has no change in the log", rid);
        goto done;
    }
    if (got.type != want.type)
        problem(c, "record %s: type %s, its changes say %s", rid, got.type->name,
                want.type->name);
    if (got.deleted != want.deleted)
        problem(c, "record %s: deleted is %d, the log says %d", rid, got.deleted,
                want.deleted);
    if (!cJSON_Compare(got.fields, want.fields, 1))
        problem(c, "record %s: stored fields differ from the fold of its changes", rid);
    if (!same_text(got.parent, want.parent) || !same_text(got.area, want.area))
        problem(c, "record %s: area %s, its scope path gives %s", rid,
                got.area ? got.area : "none", want.area ? want.area : "none");
    if ((rc = mq__log_load(s, rid, &rows, &n, err)) != 0)
        goto done;
    /* M2 and M3, field by field: every field a change sets, and the
     * tombstone; then no conflict row may name any other field. */
    const char **heads = malloc((n + 1) * sizeof(char *));
    cJSON *marked = NULL;
    const cJSON *f;
    if (heads == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(f, want.fields)
    {
        if ((rc = check_field(s, c, &got, rows, n, heads, f->string, err)) != 0)
            break;
    }
    if (rc == 0)
        rc = check_field(s, c, &got, rows, n, heads, "_deleted", err);
    if (rc == 0)
        rc = mq__conflict_fields(s, rid, &marked, err);
    cJSON_ArrayForEach(f, marked)
    {
        if (strcmp(f->valuestring, "_deleted") != 0 &&
            cJSON_GetObjectItemCaseSensitive(want.fields, f->valuestring) == NULL)
            problem(c,
                    "record %s: field %s: in the conflict table, but no change sets it",
                    rid, f->valuestring);
    }
    cJSON_Delete(marked);
    free(heads);
done:
    mq__log_free(rows, n);
    mq__rec_clear(&got);
    mq__rec_clear(&want);
    return rc;
}

/* A problem found by need_state.c or search.c, in their words. */
static void derived_problem(void *ctx, const char *msg)
{
    problem(ctx, "%s", msg);
}

int mq_store_check(mq_store *s, void (*cb)(void *ctx, const char *problem), void *ctx,
                   size_t *problems, mq_error *err)
{
    struct checker c = {cb, ctx, 0};
    sqlite3_stmt *st;
    int rc;

    if (problems != NULL)
        *problems = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "checking the file");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = mq__col_text(st, 0);
        if (strcmp(msg, "ok") != 0)
            problem(&c, "file: %s", msg);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "checking the file");
    /* Read everything in one snapshot so a concurrent writer cannot make a
     * consistent store look inconsistent. */
    if ((rc = mq__exec(s, "BEGIN", err)) != 0)
        return rc;
    /* M7: a creation stored once is its record's only change, and the
     * record is still exactly what it made. */
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT c.rid, c.v FROM change c WHERE c.body IS NULL AND (c.base IS NOT NULL"
            " OR EXISTS (SELECT 1 FROM change o WHERE o.rid = c.rid AND o.body IS NOT "
            "NULL)"
            " OR c.rid IN (SELECT rid FROM change WHERE body IS NULL GROUP BY rid"
            " HAVING count(*) > 1)"
            " OR NOT EXISTS (SELECT 1 FROM record r WHERE r.id = c.rid AND r.cv = c.v"
            " AND r.vers IS NULL AND r.deleted = 0))",
            -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "checking creations");
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        problem(&c,
                "record %s: change %s has no body of its own, but is not the record's "
                "only change and creation (M7)",
                mq__col_text(st, 0), mq__col_text(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        rc = mq__fail_sqlite(err, s->db, "checking creations");
        goto out;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id FROM record UNION SELECT rid FROM change"
                           " UNION SELECT rid FROM conflict",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = mq__fail_sqlite(err, s->db, "checking records");
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char rid[64];
        mq__rec probe;
        snprintf(rid, sizeof(rid), "%s", mq__col_text(st, 0));
        if ((rc = mq__rec_load(s, rid, &probe, err)) != 0)
            break;
        int exists = probe.exists;
        mq__rec_clear(&probe);
        if (!exists) {
            problem(&c, "record %s: changes or conflicts in the log but no record", rid);
            continue;
        }
        if ((rc = check_record(s, &c, rid, err)) != 0)
            break;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = mq__fail_sqlite(err, s->db, "checking records");
    /* N1: the state of each need is the fold of the records just checked. */
    if (rc == 0)
        rc = mq__need_state_check(s, derived_problem, &c, err);
    /* S1: the search text is the records' */
    if (rc == 0)
        rc = mq__search_check(s, derived_problem, &c, err);
out:
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (problems != NULL)
        *problems = c.problems;
    return rc;
}

int mq_store_duplicates(mq_store *s, mq_json_cb cb, void *ctx, mq_error *err)
{
    mq__json j;
    int rc = 0;

    mq__json_init(&j);
    for (size_t i = 0; rc == 0 && i < s->schema->ntypes; i++) {
        const mq_type *t = &s->schema->types[i];
        for (size_t k = 0; rc == 0 && k < t->ndups; k++) {
            const mq_field *f = t->dups[k];
            char sql[400];
            sqlite3_stmt *st;
            /* The expression of the partial index (store.c), so that the
             * grouping reads the index in order. */
            snprintf(sql, sizeof(sql),
                     "SELECT json_extract(fields, '$.%s') AS v, json_group_array(id)"
                     " FROM record WHERE type = '%s' AND deleted = 0 AND v IS NOT NULL"
                     " GROUP BY v HAVING count(*) > 1 ORDER BY v",
                     f->name, t->name);
            if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return mq__fail_sqlite(err, s->db, "looking for duplicates");
            int step;
            while ((step = sqlite3_step(st)) == SQLITE_ROW) {
                const char *json;
                cJSON *o = mq__json_object(&j);
                mq__json_add_str(&j, o, "type", t->name);
                mq__json_add_str(&j, o, "field", f->name);
                mq__json_add_str(&j, o, "value", mq__col_text(st, 0));
                mq__json_add_raw(&j, o, "ids", mq__col_text(st, 1));
                rc = mq__json_print(&j, o, &json) == 0
                         ? cb(ctx, json)
                         : mq__fail(err, MQ_ENOMEM, "out of memory");
                cJSON_Delete(o);
                if (rc != 0)
                    break;
            }
            if (rc == 0 && step != SQLITE_DONE)
                rc = mq__fail_sqlite(err, s->db, "looking for duplicates");
            sqlite3_finalize(st);
        }
    }
    mq__json_free(&j);
    return rc;
}
