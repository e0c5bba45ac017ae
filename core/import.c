/*
 * core/import.c - importing interchange JSON Lines.
 *
 * The input is streamed one line at a time (a county file is ~80 MB; a
 * tablet has little memory) and written in one transaction, so an import is
 * all or nothing and costs one commit.  References may point forward in the
 * file: a reference to a record not yet stored is parked in a temporary
 * table and checked once the whole file is in.
 *
 * All-or-nothing mode keeps validating after the first bad record so that
 * the clerk sees every problem at once, then rolls back.  Skip mode keeps the
 * good records; a record whose forward reference never resolved is taken out
 * again at the end by deleting its change and re-folding the record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_dirty.h"
#include "search.h"

#define LINE_MAX_BYTES ((size_t)1024 * 1024)
#define REPORT_MAX     1000 /* messages passed to on_invalid before summarising */

struct importer {
    mq_store *s;
    const mq_import_opts *opts;
    mq_import_stats *stats;
    long line;
    const char *rid;
    const char *type;
    sqlite3_stmt *park;
    mq__jdoc *doc; /* lines are parsed here; NULL when out of memory */
    size_t reported;
    /* References of the record being written that point ahead; parked only
     * once the record is written, so a refused record leaves none behind. */
    struct {
        const mq_field *f;
        char target[64];
    } ahead[32];
    size_t nahead;
    size_t taken_back; /* records taken back after the input was read */
};

static void report(struct importer *im, const char *msg)
{
    im->stats->invalid++;
    if (im->opts->on_invalid == NULL)
        return;
    if (im->reported < REPORT_MAX)
        im->opts->on_invalid(im->opts->ctx, msg);
    else if (im->reported == REPORT_MAX)
        im->opts->on_invalid(im->opts->ctx, "... (further invalid records not listed)");
    im->reported++;
}

static int defer_ref(void *ctx, const mq_field *f, const char *target)
{
    struct importer *im = ctx;

    if (im->nahead == sizeof(im->ahead) / sizeof(im->ahead[0]))
        return MQ_ENOMEM;
    im->ahead[im->nahead].f = f;
    snprintf(im->ahead[im->nahead].target, sizeof(im->ahead[0].target), "%s", target);
    im->nahead++;
    return 0;
}

static int park_refs(struct importer *im, mq_error *err)
{
    sqlite3_stmt *st = im->park;

    for (size_t i = 0; i < im->nahead; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, im->line);
        sqlite3_bind_text(st, 2, im->rid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, im->type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, im->ahead[i].f->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, im->ahead[i].target, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, im->ahead[i].f->to, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            return mq__fail_sqlite(err, im->s->db, "parking a forward reference");
    }
    sqlite3_reset(st);
    return 0;
}

static int import_record(struct importer *im, const char *text, mq_error *err)
{
    const char *end = NULL;
    /* The arena's tree is cJSON's for the same line; a line it does not
     * take goes to cJSON itself (jdoc.c). */
    const cJSON *parsed = im->doc != NULL ? mq__jdoc_parse(im->doc, text) : NULL;
    cJSON *own = parsed == NULL ? cJSON_ParseWithOpts(text, &end, 1) : NULL;
    const cJSON *rec = parsed != NULL ? parsed : own;
    const cJSON *type, *id, *fields;
    const char *fields_text = NULL;
    size_t fields_len = 0;
    const mq_type *t;
    mq__wrote wrote;
    int rc;

    if (rec == NULL) {
        rc = mq__fail(err, MQ_EINVAL, "not valid JSON near \"%.20s\"", end ? end : "");
        goto done;
    }
    type = cJSON_GetObjectItemCaseSensitive(rec, "type");
    id = cJSON_GetObjectItemCaseSensitive(rec, "id");
    fields = cJSON_GetObjectItemCaseSensitive(rec, "fields");
    if (!cJSON_IsString(type) ||
        (t = mq__schema_type(im->s->schema, type->valuestring)) == NULL) {
        rc = mq__fail(err, MQ_EINVAL, "field type: unknown record type %s",
                      cJSON_IsString(type) ? type->valuestring : "(missing)");
        goto done;
    }
    if (!cJSON_IsString(id) || !mq_valid_uuid(id->valuestring)) {
        rc = mq__fail(err, MQ_EINVAL, "%s: field id: must be a lower-case UUID", t->name);
        goto done;
    }
    if (!cJSON_IsObject(fields)) {
        rc = mq__fail(err, MQ_EINVAL, "%s %s: field fields: must be an object", t->name,
                      id->valuestring);
        goto done;
    }
    im->rid = id->valuestring;
    im->type = t->name;
    if (parsed != NULL)
        fields_text = mq__jdoc_plain(fields, &fields_len);
    /*
     * mq__write checks everything before it writes, so a refused record has
     * written nothing and needs no savepoint of its own.
     */
    im->nahead = 0;
    rc = mq__write(im->s, t, id->valuestring, fields, fields_text, fields_len,
                   im->opts->author, defer_ref, im, &wrote, err);
    if (rc == 0)
        rc = park_refs(im, err);
    if (rc == 0) {
        if (wrote == MQ_WROTE_CREATED)
            im->stats->created++;
        else if (wrote == MQ_WROTE_UPDATED)
            im->stats->updated++;
        else
            im->stats->unchanged++;
    }
done:
    cJSON_Delete(own);
    return rc;
}

/* Takes back a record whose forward reference did not resolve. */
static int unimport(mq_store *s, const char *rid, int64_t first_seq, int *kept,
                    mq_error *err)
{
    /* The record's changes since the import began: those with a body, and
     * a creation stored once (store.c, change_rid).  The creation first,
     * while the record's cv still names it. */
    static const char *const undo[] = {
        "DELETE FROM change WHERE seq >= ?2 AND v = (SELECT cv FROM record WHERE id = ?1)"
        " AND rid = ?1 AND body IS NULL",
        "DELETE FROM change WHERE rid = ?1 AND body IS NOT NULL AND seq >= ?2"};
    sqlite3_stmt *st;
    mq__rec rec;
    int rc = 0;

    mq__kind_forget(s, rid);
    mq__scope_memo_reset(s);
    for (size_t i = 0; i < sizeof(undo) / sizeof(undo[0]) && rc == 0; i++) {
        if (sqlite3_prepare_v2(s->db, undo[i], -1, &st, NULL) != SQLITE_OK)
            return mq__fail_sqlite(err, s->db, "undoing a record");
        sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, first_seq);
        rc = sqlite3_step(st) == SQLITE_DONE
                 ? 0
                 : mq__fail_sqlite(err, s->db, "undoing a record");
        sqlite3_finalize(st);
    }
    if (rc != 0 || (rc = mq__rec_fold(s, rid, &rec, err)) != 0)
        return rc;
    *kept = rec.exists;
    if (rec.exists) {
        rc = mq__rec_save(s, &rec, err);
    } else if ((rc = mq__area_cascade(s, rid, NULL, err)) != 0) {
        /* the records below it wait for it again, without an area */
    } else if (sqlite3_prepare_v2(s->db,
                                  "DELETE FROM record WHERE id = ?1"
                                  " RETURNING rowid, type, parent",
                                  -1, &st, NULL) == SQLITE_OK) {
        mq__kind_forget(s, rid);
        sqlite3_bind_text(st, 1, rid, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        /* S2, N2: the row's text and its need go with it */
        while (step == SQLITE_ROW && rc == 0) {
            const char *type = mq__col_text(st, 1);
            rc = mq__search_drop(s, mq__schema_type(s->schema, type),
                                 sqlite3_column_int64(st, 0), err);
            if (rc == 0)
                rc = mq__need_dirty_touch(s, type, rid, mq__col_text(st, 2), err);
            step = sqlite3_step(st);
        }
        if (rc == 0 && step != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "undoing");
        sqlite3_finalize(st);
    } else {
        rc = mq__fail_sqlite(err, s->db, "undoing a record");
    }
    mq__rec_clear(&rec);
    return rc;
}

/* Takes back a refused record of this import and corrects the counts. */
static int take_back(struct importer *im, const char *rid, int64_t first_seq,
                     mq_error *err)
{
    int kept = 0;
    int rc = unimport(im->s, rid, first_seq, &kept, err);
    /* It was counted when it was written. */
    if (kept && im->stats->updated > 0)
        im->stats->updated--;
    else if (!kept && im->stats->created > 0)
        im->stats->created--;
    im->taken_back++;
    return rc;
}

/*
 * In skip mode, a record taken back may have been referred to by records of
 * this import written after it (a need's actions, when the need's household
 * was refused): those refer to nothing now and are taken back too, until no
 * record of the import refers to a record that is not there.  Each pass
 * reads, per reference field, the records of the import whose target is
 * missing; it runs only after something was taken back.
 */
static int take_back_dangling(struct importer *im, int64_t first_seq, mq_error *err)
{
    const mq_schema *schema = im->s->schema;
    char sql[512], msg[MQ_ERROR_MESSAGE_MAX];
    size_t before;

    do {
        before = im->taken_back;
        for (size_t i = 0; i < schema->ntypes; i++) {
            const mq_type *t = &schema->types[i];
            for (size_t k = 0; k < t->nfields; k++) {
                const mq_field *f = &t->fields[k];
                sqlite3_stmt *st;
                int rc;
                if (f->kind != MQ_KIND_REF)
                    continue;
                /* Field and type names hold no quote (schema.c). */
                snprintf(
                    sql, sizeof(sql),
                    "SELECT r.id, json_extract(r.fields, '$.\"%s\"') AS t FROM record r"
                    " WHERE r.type = ?1 AND t IS NOT NULL AND r.id IN"
                    " (SELECT rid FROM change WHERE seq >= ?2) AND NOT EXISTS"
                    " (SELECT 1 FROM record x WHERE x.id = t AND x.type = ?3"
                    " AND x.deleted = 0)",
                    f->name);
                if (sqlite3_prepare_v2(im->s->db, sql, -1, &st, NULL) != SQLITE_OK)
                    return mq__fail_sqlite(err, im->s->db, "checking references");
                sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, first_seq);
                sqlite3_bind_text(st, 3, f->to, -1, SQLITE_STATIC);
                /* One at a time: taking a record back changes the table. */
                rc = sqlite3_step(st);
                while (rc == SQLITE_ROW) {
                    char rid[64], target[64];
                    snprintf(rid, sizeof(rid), "%s", mq__col_text(st, 0));
                    snprintf(target, sizeof(target), "%s", mq__col_text(st, 1));
                    sqlite3_reset(st);
                    snprintf(msg, sizeof(msg),
                             "%s %s: field %s: refers to %s %s, which was not imported",
                             t->name, rid, f->name, f->to, target);
                    report(im, msg);
                    if ((rc = take_back(im, rid, first_seq, err)) != 0) {
                        sqlite3_finalize(st);
                        return rc;
                    }
                    rc = sqlite3_step(st);
                }
                sqlite3_finalize(st);
                if (rc != SQLITE_DONE)
                    return mq__fail_sqlite(err, im->s->db, "checking references");
            }
        }
    } while (im->taken_back != before);
    return 0;
}

/* Checks the parked references now that every record of the input is in. */
static int resolve_parked(struct importer *im, int64_t first_seq, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;
    char msg[MQ_ERROR_MESSAGE_MAX];

    if (sqlite3_prepare_v2(
            im->s->db,
            "SELECT p.line, p.rid, p.type, p.field, p.target, p.want, r.type,"
            " r.deleted FROM mq_parked p LEFT JOIN record r ON r.id = p.target"
            " WHERE r.id IS NULL OR r.type <> p.want OR r.deleted <> 0"
            " ORDER BY p.line",
            -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, im->s->db, "checking references");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *rid = mq__col_text(st, 1);
        const char *target = mq__col_text(st, 4);
        const char *want = mq__col_text(st, 5);
        if (sqlite3_column_type(st, 6) == SQLITE_NULL)
            snprintf(msg, sizeof(msg),
                     "line %lld: %s %s: field %s: refers to %s %s, which does not exist",
                     sqlite3_column_int64(st, 0), mq__col_text(st, 2), rid,
                     mq__col_text(st, 3), want, target);
        else
            snprintf(msg, sizeof(msg),
                     "line %lld: %s %s: field %s: must refer to a live %s record, but %s "
                     "is of "
                     "type %s%s",
                     sqlite3_column_int64(st, 0), mq__col_text(st, 2), rid,
                     mq__col_text(st, 3), want, target, mq__col_text(st, 6),
                     sqlite3_column_int(st, 7) ? " (deleted)" : "");
        report(im, msg);
        if (im->opts->skip_invalid) {
            int urc = take_back(im, rid, first_seq, err);
            if (urc != 0) {
                sqlite3_finalize(st);
                return urc;
            }
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return mq__fail_sqlite(err, im->s->db, "checking references");
    return im->taken_back > 0 ? take_back_dangling(im, first_seq, err) : 0;
}

int mq_store_import(mq_store *s, FILE *in, const mq_import_opts *opts_in,
                    mq_import_stats *stats_out, mq_error *err)
{
    mq_import_opts defaults;
    mq_import_stats stats;
    struct importer im;
    mq__lines in_lines;
    char *buf;
    size_t len;
    int rc;
    int64_t first_seq = 0;

    memset(&defaults, 0, sizeof(defaults));
    memset(&stats, 0, sizeof(stats));
    memset(&im, 0, sizeof(im));
    im.s = s;
    im.opts = opts_in != NULL ? opts_in : &defaults;
    im.stats = &stats;
    if (stats_out != NULL)
        memset(stats_out, 0, sizeof(*stats_out));
    if ((rc = mq__require_site(s, err)) != 0)
        return rc;
    if ((rc = mq__tx_begin(s, err)) != 0)
        return rc;
    rc = mq__exec(s,
                  "CREATE TEMP TABLE IF NOT EXISTS mq_parked(line INTEGER, rid TEXT,"
                  " type TEXT, field TEXT, target TEXT, want TEXT);"
                  "DELETE FROM mq_parked;",
                  err);
    if (rc == 0 &&
        sqlite3_prepare_v2(s->db, "INSERT INTO mq_parked VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &im.park, NULL) != SQLITE_OK)
        rc = mq__fail_sqlite(err, s->db, "preparing the import");
    if (rc == 0) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) + 1 FROM change", -1,
                               &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            first_seq = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    im.doc = mq__jdoc_new(); /* without it, every line goes to cJSON */
    mq__lines_init(&in_lines, in, LINE_MAX_BYTES);
    while (rc == 0) {
        mq_error rerr;
        char msg[MQ_ERROR_MESSAGE_MAX + 32];
        int r = mq__lines_next(&in_lines, &buf, &len);
        if (r == MQ_ENOTFOUND)
            break;
        im.line = in_lines.number;
        if (r == MQ_ENOMEM) {
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
            break;
        }
        if (r == MQ_EINVAL) {
            if (in_lines.why[0] != '\0')
                snprintf(msg, sizeof(msg), "line %ld: %s", im.line, in_lines.why);
            else
                snprintf(msg, sizeof(msg), "line %ld: longer than %zu bytes", im.line,
                         LINE_MAX_BYTES);
            report(&im, msg);
            /* A NUL byte or a line without end: the rest is not JSON Lines. */
            if (in_lines.fatal) {
                rc = mq__fail(err, MQ_EINVAL, "%s %s; nothing imported",
                              im.opts->source ? im.opts->source : "import", msg);
                break;
            }
            continue;
        }
        if (strspn(buf, " \t") == len)
            continue;
        stats.lines++;
        mq_error_clear(&rerr);
        r = import_record(&im, buf, &rerr);
        if (r == MQ_EINVAL || r == MQ_EREFUSED) {
            snprintf(msg, sizeof(msg), "line %ld: %s", im.line, rerr.message);
            report(&im, msg);
        } else if (r != 0) {
            *err = rerr;
            mq_error_prefix(err, "import: ");
            rc = r;
        }
    }
    if (rc == 0 && ferror(in))
        rc = mq__fail(err, MQ_EIO, "import: cannot read the input");
    if (rc == 0)
        rc = resolve_parked(&im, first_seq, err);
    sqlite3_finalize(im.park);
    mq__jdoc_free(im.doc);
    mq__lines_free(&in_lines);
    if (rc == 0 && stats.invalid > 0 && !im.opts->skip_invalid) {
        rc = mq__fail(err, MQ_EINVAL, "%s: %zu invalid record%s; nothing imported",
                      im.opts->source ? im.opts->source : "import", stats.invalid,
                      stats.invalid == 1 ? "" : "s");
        stats.created = stats.updated = stats.unchanged = 0;
    }
    mq__exec(s, "DROP TABLE IF EXISTS temp.mq_parked", NULL);
    if (rc == 0)
        rc = mq__tx_commit(s, err);
    else
        mq__tx_rollback(s);
    if (stats_out != NULL)
        *stats_out = stats;
    return rc;
}
