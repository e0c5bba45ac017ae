/*
 * core/read.c - reading records: get, list, search, history and export.
 *
 * Records are read from the `record` table, whose `fields` column already
 * holds the interchange form of the fields, so most reads splice stored JSON
 * into the {"type","id","fields"} envelope without parsing it.  Cleared
 * fields are kept as nulls in storage (they carry versions) and left out of
 * what is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Emits one record row (type, id, deleted, fields) through `cb`, printed by
 * `j`.  Stored fields keep cleared fields as nulls; those are left out, at
 * the price of a parse, only when the text holds a null at all.
 */
static int emit(mq__json *j, const char *type, const char *id, int deleted,
                const char *fields, mq_json_cb cb, void *ctx, mq_error *err)
{
    const char *json;
    int rc;

    if (strstr(fields, "null") == NULL) {
        rc = mq__json_record(j, type, id, fields, deleted, &json);
    } else {
        cJSON *f = cJSON_Parse(fields);
        if (f == NULL)
            return mq__fail(err, MQ_ECORRUPT,
                            "record %s: stored fields are not valid JSON", id);
        cJSON *o = mq__json_object(j);
        mq__json_add_str(j, o, "type", type);
        mq__json_add_str(j, o, "id", id);
        mq__json_add(j, o, "fields", mq__json_strip_nulls(f));
        if (deleted)
            mq__json_add(j, o, "deleted", cJSON_CreateTrue());
        rc = mq__json_print(j, o, &json);
        cJSON_Delete(o);
        cJSON_Delete(f);
    }
    if (rc != 0)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return cb(ctx, json);
}

static int copy_cb(void *ctx, const char *json)
{
    *(char **)ctx = mq__strdup(json);
    return 0;
}

int mq_store_get(mq_store *s, const char *id, char **out, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    *out = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT type, deleted, fields FROM record WHERE id = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading a record");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    mq__json j;
    mq__json_init(&j);
    if (rc == SQLITE_ROW)
        rc = emit(&j, mq__col_text(st, 0), id, sqlite3_column_int(st, 1),
                  mq__col_text(st, 2), copy_cb, out, err);
    else if (rc == SQLITE_DONE)
        rc = mq__fail(err, MQ_ENOTFOUND, "no record with id %s", id);
    else
        rc = mq__fail_sqlite(err, s->db, "reading a record");
    sqlite3_finalize(st);
    mq__json_free(&j);
    if (rc == 0 && *out == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return rc;
}

/* Steps `st` (type, id, deleted, fields) and emits each row. */
static int walk(mq_store *s, sqlite3_stmt *st, mq_json_cb cb, void *ctx, mq_error *err)
{
    mq__json j;
    int rc;

    mq__json_init(&j);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop = emit(&j, mq__col_text(st, 0), mq__col_text(st, 1),
                        sqlite3_column_int(st, 2), mq__col_text(st, 3), cb, ctx, err);
        if (stop != 0) {
            sqlite3_finalize(st);
            mq__json_free(&j);
            return stop;
        }
    }
    sqlite3_finalize(st);
    mq__json_free(&j);
    return rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "reading records");
}

int mq_store_list(mq_store *s, const char *type_name, const mq_where *where,
                  size_t nwhere, mq_json_cb cb, void *ctx, mq_error *err)
{
    const mq_type *type = type_name ? mq__schema_type(s->schema, type_name) : NULL;
    char sql[2048];
    size_t used;
    sqlite3_stmt *st;

    if (type == NULL)
        return mq__fail(err, MQ_EINVAL, "unknown record type \"%s\"",
                        type_name ? type_name : "");
    if (nwhere > 16)
        return mq__fail(err, MQ_EINVAL, "at most 16 conditions");
    /*
     * The record table has no index by type: a list of all the records of a
     * type reads every row, except the areas, which the partial index of
     * the area tree holds (store.c).  That index serves only a query that
     * names the type literally (a bound parameter does not imply its
     * WHERE), so the areas are listed by it by name: a county's thousand
     * areas, not its 280,000 records.
     */
    const char *area = mq__area_type_name(s);
    if (area[0] != '\0' && strcmp(type->name, area) == 0)
        used = (size_t)snprintf(sql, sizeof(sql),
                                "SELECT type, id, deleted, fields FROM record"
                                " INDEXED BY record_area_tree"
                                " WHERE type = '%s' AND ?1 = type AND deleted = 0",
                                type->name);
    else
        used = (size_t)snprintf(sql, sizeof(sql),
                                "SELECT type, id, deleted, fields FROM record"
                                " WHERE type = ?1 AND deleted = 0");
    for (size_t i = 0; i < nwhere; i++) {
        const mq_field *f = mq__type_field(type, where[i].field);
        if (f == NULL)
            return mq__fail(err, MQ_EINVAL, "--where %s: not a field of %s",
                            where[i].field, type->name);
        /* The scope field is kept in the indexed column `parent` too: a
         * household's members are found without reading every member. */
        if (f == type->scope && !type->scope_self)
            used += (size_t)snprintf(sql + used, sizeof(sql) - used, " AND parent = ?%zu",
                                     i + 2);
        /* Field names come from the schema, so they are safe in a path. */
        used += (size_t)snprintf(
            sql + used, sizeof(sql) - used,
            " AND CAST(json_extract(fields, '$.\"%s\"') AS TEXT) = ?%zu", f->name, i + 2);
    }
    snprintf(sql + used, sizeof(sql) - used, " ORDER BY id");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "listing records");
    sqlite3_bind_text(st, 1, type->name, -1, SQLITE_STATIC);
    for (size_t i = 0; i < nwhere; i++)
        sqlite3_bind_text(st, (int)i + 2, where[i].value, -1, SQLITE_STATIC);
    return walk(s, st, cb, ctx, err);
}

/* Does a searchable field of the record contain `text`?  -1 if the stored
 * fields do not parse (corrupt, or no memory to parse them). */
static int search_hit(const mq_type *t, const char *fields_json, const char *text)
{
    cJSON *f = cJSON_Parse(fields_json);
    int hit = 0;

    if (f == NULL)
        return -1;
    for (size_t i = 0; i < t->nfields && !hit; i++) {
        const cJSON *v;
        if (!t->fields[i].search)
            continue;
        v = cJSON_GetObjectItemCaseSensitive(f, t->fields[i].name);
        hit = cJSON_IsString(v) && strstr(v->valuestring, text) != NULL;
    }
    cJSON_Delete(f);
    return hit;
}

/* The search, sorted by type and id or (`sorted` 0) not at all. */
static int search(mq_store *s, const char *text, int sorted, mq_json_cb cb, void *ctx,
                  mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (text == NULL || text[0] == '\0')
        return mq__fail(err, MQ_EINVAL, "search: give a name, identity number or phone");
    /*
     * A substring scan: instr() finds two-character Chinese names that a
     * tokenising index (FTS5's trigrams need three) would miss.  It scans
     * record_search, the searchable values alone (store.c keeps it), and
     * the fields of each candidate are then checked one by one, so that a
     * match across two values joined there is not taken.  CROSS JOIN keeps
     * the scan on the short text (the planner would scan record).  Unsorted,
     * the walk reads only as far as the caller goes.
     */
    if (sqlite3_prepare_v2(s->db,
                           sorted ? "SELECT r.type, r.id, r.deleted, r.fields"
                                    " FROM record_search x"
                                    " CROSS JOIN record r ON r.rowid = x.rid"
                                    " WHERE instr(x.text, ?1) > 0 AND r.deleted = 0"
                                    " ORDER BY r.type, r.id"
                                  : "SELECT r.type, r.id, r.deleted, r.fields"
                                    " FROM record_search x"
                                    " CROSS JOIN record r ON r.rowid = x.rid"
                                    " WHERE instr(x.text, ?1) > 0 AND r.deleted = 0",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "searching");
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    mq__json j;
    mq__json_init(&j);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const mq_type *t = mq__schema_type(s->schema, mq__col_text(st, 0));
        int hit = t != NULL ? search_hit(t, mq__col_text(st, 3), text) : 0;
        if (hit < 0) {
            rc = mq__fail(err, MQ_ECORRUPT, "record %s: stored fields are not valid JSON",
                          mq__col_text(st, 1));
            sqlite3_finalize(st);
            mq__json_free(&j);
            return rc;
        }
        if (!hit)
            continue;
        int stop =
            emit(&j, t->name, mq__col_text(st, 1), 0, mq__col_text(st, 3), cb, ctx, err);
        if (stop != 0) {
            sqlite3_finalize(st);
            mq__json_free(&j);
            return stop;
        }
    }
    sqlite3_finalize(st);
    mq__json_free(&j);
    return rc == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "searching");
}

int mq_store_search(mq_store *s, const char *text, mq_json_cb cb, void *ctx,
                    mq_error *err)
{
    return search(s, text, 1, cb, ctx, err);
}

int mq_store_search_walk(mq_store *s, const char *text, mq_json_cb cb, void *ctx,
                         mq_error *err)
{
    return search(s, text, 0, cb, ctx, err);
}

int mq_store_history(mq_store *s, const char *id, mq_json_cb cb, void *ctx, mq_error *err)
{
    sqlite3_stmt *st;
    int rc, any = 0;

    if (sqlite3_prepare_v2(
            s->db,
            "SELECT v, by, src, body, base FROM change"
            " WHERE rid = ?1 AND body IS NOT NULL UNION ALL " MQ__CREATION_ONCE(
                "c.v, c.by, c.src, r.fields, c.base", "?1") " ORDER BY 1",
            -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading history");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    mq__json j;
    int stop = 0;
    mq__json_init(&j);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = mq__col_text(st, 0);
        uint64_t clock = 0;
        char at[MQ_ISO_MAX];
        const char *json;

        any = 1;
        if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
            stop = mq__fail(err, MQ_ECORRUPT,
                            "change %s: no body, and no record %s to take it from (M7); "
                            "run minqing check",
                            v, id);
            break;
        }
        mq__version_parse(v, &clock, NULL);
        mq__iso_time(at, mq__hlc_ms(clock));
        cJSON *o = mq__json_object(&j);
        mq__json_add_str(&j, o, "v", v);
        mq__json_add_str(&j, o, "at", at);
        mq__json_add_str(&j, o, "site", v + 17);
        mq__json_add_str(&j, o, "by", mq__col_text(st, 1)); /* null when unknown */
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            mq__json_add_str(&j, o, "via", mq__col_text(st, 2));
        /* body and base are JSON the store printed (json.c): spliced */
        mq__json_add_raw(&j, o, "set", mq__col_text(st, 3));
        if (sqlite3_column_type(st, 4) != SQLITE_NULL)
            mq__json_add_raw(&j, o, "base", mq__col_text(st, 4));
        stop = mq__json_print(&j, o, &json) == 0
                   ? cb(ctx, json)
                   : mq__fail(err, MQ_ENOMEM, "out of memory");
        cJSON_Delete(o);
        if (stop != 0)
            break;
    }
    sqlite3_finalize(st);
    mq__json_free(&j);
    if (stop != 0)
        return stop;
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading history");
    if (!any)
        return mq__fail(err, MQ_ENOTFOUND, "no record with id %s", id);
    return 0;
}

struct export_ctx {
    FILE *out;
};

static int export_line(void *ctx, const char *json)
{
    struct export_ctx *e = ctx;

    if (fputs(json, e->out) == EOF || fputc('\n', e->out) == EOF)
        return MQ_EIO;
    return 0;
}

int mq_store_export(mq_store *s, const char *type_name, FILE *out, mq_error *err)
{
    struct export_ctx e = {out};
    sqlite3_stmt *st;
    int rc;

    if (type_name != NULL && mq__schema_type(s->schema, type_name) == NULL)
        return mq__fail(err, MQ_EINVAL, "unknown record type \"%s\"", type_name);
    /* One pass in key order: the interchange format allows references to
     * records later in the file, and one scan beats one per type. */
    if (sqlite3_prepare_v2(s->db,
                           "SELECT type, id, 0, fields FROM record"
                           " WHERE deleted = 0 AND (?1 IS NULL OR type = ?1)",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "exporting");
    mq__bind_text(st, 1, type_name);
    rc = walk(s, st, export_line, &e, err);
    if (rc == MQ_EIO || (rc == 0 && fflush(out) != 0))
        return mq__fail(err, MQ_EIO, "export: cannot write the output");
    return rc;
}
