/*
 * core/bundle.c - exchanging changes with other replicas: reading the log
 * after a cursor, writing and applying bundles, scope checks and the list of
 * rejected changes.
 *
 * A bundle is JSON Lines: a header {"minqing":"bundle","format":1,...},
 * one change per line, and a trailer {"end":true,"changes":N,"next":CURSOR}.
 * The trailer is how a bundle cut short on a USB stick is told from a whole
 * one: apply refuses a bundle without it and writes nothing.
 *
 * Format 2 adds a check against damage (a flipped bit on a stick): the
 * header says {"check":"crc32"} and it and every change line carry "crc", the
 * CRC-32 of the change printed canonically (cJSON's compact print of the
 * line parsed, without "crc"), so that a bundle re-serialised by another
 * tool still checks.  A change that is valid but does not match its check,
 * or has none, is damage, and the whole bundle is refused, even with
 * --skip-invalid; an invalid change is refused for what is wrong with it.
 * Format 1 (no check) is still read.  The check is no seal: whoever can
 * write a bundle can write its CRCs; sealing with keys is the sync
 * library's (libcrypto), which core does not depend on.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BUNDLE_LINE_MAX ((size_t)4 * 1024 * 1024)
#define BUNDLE_FORMAT   2

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's. */
static uint32_t crc32_of(const char *text, size_t n)
{
    static uint32_t table[256];
    static int made;
    uint32_t c = 0xFFFFFFFFu;

    if (!made) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t r = i;
            for (int k = 0; k < 8; k++)
                r = (r & 1u) ? (r >> 1) ^ 0xEDB88320u : r >> 1;
            table[i] = r;
        }
        made = 1; /* the same values whoever makes them first */
    }
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ (unsigned char)text[i]) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* The check of change `obj` (its "crc" member aside): 0 or MQ_ENOMEM. */
static int change_crc(const cJSON *obj, uint32_t *out)
{
    cJSON *copy = cJSON_Duplicate(obj, 1);
    char *text;

    if (copy == NULL)
        return MQ_ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "crc");
    text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (text == NULL)
        return MQ_ENOMEM;
    *out = crc32_of(text, strlen(text));
    cJSON_free(text);
    return 0;
}

/*
 * Records that move.  A scoped reader (a device's pull, a bundle for some
 * areas) gets the changes of the records that are in its areas *now*.  A
 * record that moves in (a household's area changed to one of them, a
 * member put under a household of them, a group put under a village of
 * them) brings only its moving change past the reader's cursor: its earlier
 * history, and that of every record below it, went by while it was out.  So
 * a change that moves a record, in the reader's areas now, comes after the
 * history the reader is owed: every change at or before the cursor of the
 * record and of the records below it (their scope path leads to it).  And a
 * record that moves out is told: the moving change goes to the readers of
 * the area it left, when the value it replaced was set at or before their
 * cursor (so they held the record there); nothing else of it follows.
 *
 * A move is a change whose base names its record's scope field (the field
 * of the scope path; "parent" for an area): it replaces a value.  A
 * creation is none: a record reaches a replica after the record it belongs
 * to, since every log holds a record before what was written under it.
 */

/* Appends `text` to `buf` (of `n`, `*used` filled), as an SQL string literal. */
static int sql_quote(char *buf, size_t n, size_t *used, const char *text)
{
    if (*used + 1 >= n)
        return -1;
    buf[(*used)++] = '\'';
    for (const char *p = text; *p; p++) {
        if (*used + 3 >= n)
            return -1;
        if (*p == '\'')
            buf[(*used)++] = '\'';
        buf[(*used)++] = *p;
    }
    buf[(*used)++] = '\'';
    buf[*used] = '\0';
    return 0;
}

/*
 * Writes into `buf` the SQL expression, over change row `c`, of its type's
 * scope field as a key of the base ('"area":' for a household), NULL for a
 * type of no area.  The base is JSON this store printed compactly (json.c)
 * whose members are field names holding arrays of versions, so the key
 * text appears in it exactly when the base names the field: a test that
 * costs no parse on every change a reader walks past.
 */
static int scope_key_expr(const mq_store *s, char *buf, size_t n, mq_error *err)
{
    size_t used = (size_t)snprintf(buf, n, "CASE c.type");
    char key[160];

    for (size_t i = 0; i < s->schema->ntypes; i++) {
        const mq_type *t = &s->schema->types[i];
        if (t->scope == NULL)
            continue;
        if (snprintf(key, sizeof(key), "\"%s\":", t->scope->name) >= (int)sizeof(key))
            return mq__fail(err, MQ_EINVAL, "schema: scope field of %s too long",
                            t->name);
        used += (size_t)snprintf(buf + used, n - used, " WHEN '%s' THEN ", t->name);
        if (used >= n || sql_quote(buf, n, &used, key) != 0)
            return mq__fail(err, MQ_EINVAL, "schema: too many scoped types");
    }
    used += (size_t)snprintf(buf + used, n - used, " ELSE NULL END");
    if (used >= n)
        return mq__fail(err, MQ_EINVAL, "schema: too many scoped types");
    return 0;
}

/* The statements that follow moved records, for one walk of the log. */
typedef struct follow_moves {
    sqlite3_stmt *left;   /* did a move take its record out of the scope? */
    sqlite3_stmt *replay; /* the history owed before a move into it */
} follow_moves;

static void moved_close(follow_moves *m)
{
    sqlite3_finalize(m->left);
    sqlite3_finalize(m->replay);
    memset(m, 0, sizeof(*m));
}

/* Prepares the statements; temp.mq_scope holds the reader's areas. */
static int moved_open(mq_store *s, follow_moves *m, mq_error *err)
{
    char sql[1024];

    memset(m, 0, sizeof(*m));
    /*
     * ?1 base of the move, ?2 the path of the scope field, ?3 the cursor.
     * The value a move replaced is in the changes its base names (their
     * bodies are written out: the record has two changes, M7).  It was
     * inside the scope when it is an area of the scope, or a record whose
     * area is one.
     */
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM json_each(?1, ?2) b JOIN change p ON p.v = b.value"
             " WHERE p.seq <= ?3 AND p.body IS NOT NULL"
             " AND (json_extract(p.body, ?2) IN (SELECT id FROM temp.mq_scope)"
             " OR (SELECT area FROM record WHERE id = json_extract(p.body, ?2)) IN"
             " (SELECT id FROM temp.mq_scope)) LIMIT 1");
    if (sqlite3_prepare_v2(s->db, sql, -1, &m->left, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    /*
     * ?1 the moved record, ?2 ?3 the range owed, ?4 the source left out.
     * The walk down follows record.parent (the scope path), through every
     * level: a group's households, their members and needs, the needs'
     * actions.
     */
    /* A record's log is its changes with a body (change_rid) and its
     * creation stored once, found through record.cv (store.c, format 3). */
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE sub(id) AS (SELECT ?1"
             " UNION SELECT r.id FROM record r JOIN sub ON r.parent = sub.id)"
             " SELECT c.seq, c.v, c.type, c.rid, c.by, c.body, c.base"
             " FROM sub JOIN change c ON c.rid = sub.id AND c.body IS NOT NULL"
             " WHERE c.seq > ?2 AND c.seq <= ?3 AND (?4 IS NULL OR c.src IS NOT ?4)"
             " UNION ALL SELECT c.seq, c.v, c.type, c.rid, c.by, r.fields, c.base"
             " FROM sub JOIN record r ON r.id = sub.id JOIN change c ON c.v = r.cv"
             " WHERE c.rid = sub.id AND c.body IS NULL"
             " AND c.seq > ?2 AND c.seq <= ?3 AND (?4 IS NULL OR c.src IS NOT ?4)"
             " ORDER BY 1");
    if (sqlite3_prepare_v2(s->db, sql, -1, &m->replay, NULL) != SQLITE_OK) {
        moved_close(m);
        return mq__fail_sqlite(err, s->db, "reading the change log");
    }
    return 0;
}

/*
 * Whether move `base` (the base of a change of type `t`) took its record out
 * of the scope in temp.mq_scope from a value set at or before `since`.
 */
static int moved_left(mq_store *s, follow_moves *m, const mq_type *t, const char *base,
                      int64_t since, int *left, mq_error *err)
{
    char path[160];

    *left = 0;
    snprintf(path, sizeof(path), "$.\"%s\"", t->scope->name);
    sqlite3_reset(m->left);
    sqlite3_bind_text(m->left, 1, base, -1, SQLITE_STATIC);
    sqlite3_bind_text(m->left, 2, path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(m->left, 3, since);
    int rc = sqlite3_step(m->left);
    sqlite3_reset(m->left);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    *left = rc == SQLITE_ROW;
    return 0;
}

static int emit_change(sqlite3_stmt *st, mq__json *j, mq_json_cb cb, void *ctx,
                       mq_error *err);

/*
 * Hands over the history owed before the move at `seq` of record `rid`: the
 * changes of it and of every record below it after `after` and up to
 * q->since.  Each counts in `*count`; when the count reaches `cut_at` (0:
 * never) the walk stops with *cut set.  `*at` follows what was handed over.
 */
static int moved_replay(mq_store *s, follow_moves *m, const char *rid, int64_t after,
                        const mq_changes_query *q, mq__json *j, mq_json_cb cb, void *ctx,
                        size_t *count, size_t cut_at, int *cut, mq_changes_pos *at,
                        int64_t seq, mq_error *err)
{
    int rc = SQLITE_DONE, stop = 0;

    *cut = 0;
    sqlite3_reset(m->replay);
    sqlite3_bind_text(m->replay, 1, rid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(m->replay, 2, after);
    sqlite3_bind_int64(m->replay, 3, q->since);
    mq__bind_text(m->replay, 4, q->skip_source);
    while (!stop && !*cut && (rc = sqlite3_step(m->replay)) == SQLITE_ROW) {
        stop = emit_change(m->replay, j, cb, ctx, err);
        at->seq = seq - 1;
        at->replay = sqlite3_column_int64(m->replay, 0);
        ++*count;
        *cut = cut_at > 0 && *count >= cut_at;
    }
    if (!stop && !*cut && rc != SQLITE_DONE)
        stop = mq__fail_sqlite(err, s->db, "reading the change log");
    sqlite3_reset(m->replay);
    return stop;
}

/* Prints change row `st` (seq, v, type, rid, by, body, base) and hands it to `cb`. */
static int emit_change(sqlite3_stmt *st, mq__json *j, mq_json_cb cb, void *ctx,
                       mq_error *err)
{
    const char *json;

    if (sqlite3_column_type(st, 5) == SQLITE_NULL)
        return mq__fail(err, MQ_ECORRUPT,
                        "change %s: no body, and no record %s to take it from (M7); "
                        "run minqing check",
                        mq__col_text(st, 1), mq__col_text(st, 3));
    /* The body and base columns are JSON this store printed (json.c), so
     * the change is spliced together around them rather than parsed and
     * printed again: on a township's first push that was most of the
     * sender's work. */
    if (mq__json_change(j, mq__col_text(st, 1), mq__col_text(st, 2), mq__col_text(st, 3),
                        mq__col_text(st, 4), mq__col_text(st, 5), mq__col_text(st, 6),
                        &json) != 0)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return cb(ctx, json);
}

/*
 * The walk of the log behind mq_store_changes() and mq_store_changes_page().
 * `replay` is the position within the history owed before the change at
 * q->since + 1; `cut` lets the limit cut a history owed (the position then
 * says how far it went), else a history is handed whole.  A callback's
 * non-zero return stops the walk and is returned, with *next at the last
 * change handed over.
 */
static int walk_log(mq_store *s, const mq_changes_query *q, int64_t replay, int cut,
                    mq_json_cb cb, void *ctx, mq_changes_pos *next, mq_error *err)
{
    char sql[4096];
    char unscoped[256] = "";
    char path[1024] = "NULL";
    sqlite3_stmt *st;
    follow_moves mv = {NULL, NULL};
    mq_changes_pos at = {q->since, 0};
    int64_t top = 0;
    size_t count = 0;
    int rc, full = 0;
    /* Moves matter only to a scoped reader that has been here before. */
    int follow = q->nareas > 0 && q->since > 0;

    /* The cursor stops at the log's end as it is now, so rows skipped by the
     * scope filter are not scanned again next time. */
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) FROM change", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return mq__fail_sqlite(err, s->db, "reading the change log");
    }
    top = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (q->nareas > 0) {
        if ((rc = mq__scope_fill(s, q->areas, q->nareas, err)) != 0)
            return rc;
        /* Types with no scope (cadres) belong to every area. */
        size_t used = 0;
        for (size_t i = 0; i < s->schema->ntypes; i++) {
            if (s->schema->types[i].scope != NULL)
                continue;
            used += (size_t)snprintf(unscoped + used, sizeof(unscoped) - used, "%s'%s'",
                                     used ? "," : "", s->schema->types[i].name);
            if (used >= sizeof(unscoped))
                return mq__fail(err, MQ_EINVAL, "schema: too many unscoped types");
        }
        if (unscoped[0] == '\0')
            snprintf(unscoped, sizeof(unscoped), "NULL");
    }
    if (follow && (rc = scope_key_expr(s, path, sizeof(path), err)) != 0)
        return rc;
    /* Whether the change is of a record in the areas now; whether it moves
     * one.  Only a move asks the first in the select: any other change the
     * filter lets through is in the areas. */
    char here_sql[400], moves_sql[1200];
    snprintf(here_sql, sizeof(here_sql),
             "(c.type IN (%s) OR r.area IN (SELECT id FROM temp.mq_scope))", unscoped);
    if (snprintf(moves_sql, sizeof(moves_sql),
                 "(c.base IS NOT NULL AND instr(c.base, %s) > 0)",
                 path) >= (int)sizeof(moves_sql))
        return mq__fail(err, MQ_EINVAL, "schema: too many types to walk the log");
    /*
     * Columns: seq, v, type, rid, by, body, base, in the scope now, a move.
     * A reader that follows moves also walks the moves of records outside
     * its areas, to be told of those that left them.
     */
    if (!follow)
        snprintf(
            sql, sizeof(sql),
            "SELECT c.seq, c.v, c.type, c.rid, c.by, coalesce(c.body, %s), c.base,"
            " 1, 0 FROM change c%s"
            " WHERE c.seq > ?1 AND c.seq <= ?2 AND (?3 IS NULL OR c.src IS NOT ?3)%s%s%s"
            " ORDER BY c.seq LIMIT ?4",
            /* M7: a creation stored once is its record's fields */
            q->nareas ? "r.fields" : "(SELECT fields FROM record WHERE id = c.rid)",
            q->nareas ? " LEFT JOIN record r ON r.id = c.rid" : "",
            q->nareas ? " AND (c.type IN (" : "", q->nareas ? unscoped : "",
            q->nareas ? ") OR r.area IN (SELECT id FROM temp.mq_scope))" : "");
    else if (snprintf(
                 sql, sizeof(sql),
                 "SELECT c.seq, c.v, c.type, c.rid, c.by, coalesce(c.body, r.fields),"
                 " c.base,"
                 " CASE WHEN %s THEN %s ELSE 1 END, %s"
                 " FROM change c LEFT JOIN record r ON r.id = c.rid"
                 " WHERE c.seq > ?1 AND c.seq <= ?2 AND (?3 IS NULL OR c.src IS NOT ?3)"
                 " AND (%s OR %s) ORDER BY c.seq",
                 moves_sql, here_sql, moves_sql, here_sql, moves_sql) >= (int)sizeof(sql))
        return mq__fail(err, MQ_EINVAL, "schema: too many types to walk the log");
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading the change log");
    if (follow && (rc = moved_open(s, &mv, err)) != 0) {
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_bind_int64(st, 1, q->since);
    sqlite3_bind_int64(st, 2, top);
    mq__bind_text(st, 3, q->skip_source);
    if (!follow)
        sqlite3_bind_int64(st, 4, q->limit > 0 ? (sqlite3_int64)q->limit : -1);
    mq__json j;
    mq__json_init(&j);
    int step = SQLITE_DONE, stop = 0;
    while (!stop && !full && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        int here = sqlite3_column_int(st, 7), moves = sqlite3_column_int(st, 8);
        if (follow && moves) {
            const mq_type *t = mq__schema_type(s->schema, mq__col_text(st, 2));
            if (t == NULL || t->scope == NULL)
                continue; /* not a type of this schema: it never applied here */
            if (!here) {
                /* Out of the areas now: told only when it left them. */
                int left = 0;
                stop = moved_left(s, &mv, t, mq__col_text(st, 6), q->since, &left, err);
                if (stop != 0 || !left)
                    continue;
            } else {
                /* Into the areas (or within them): the history owed first. */
                stop = moved_replay(s, &mv, mq__col_text(st, 3),
                                    seq == q->since + 1 ? replay : 0, q, &j, cb, ctx,
                                    &count, cut ? q->limit : 0, &full, &at, seq, err);
                if (stop != 0 || full)
                    break;
            }
        }
        stop = emit_change(st, &j, cb, ctx, err);
        at.seq = seq;
        at.replay = 0;
        count++;
        if (q->limit > 0 && count >= q->limit)
            full = 1;
    }
    if (stop == 0 && !full && step != SQLITE_DONE)
        stop = mq__fail_sqlite(err, s->db, "reading the change log");
    sqlite3_finalize(st);
    moved_close(&mv);
    mq__json_free(&j);
    if (stop == 0 && !full) {
        at.seq = top > q->since ? top : q->since;
        at.replay = 0;
    }
    if (next != NULL)
        *next = at;
    return stop;
}

int mq_store_changes(mq_store *s, const mq_changes_query *q, mq_json_cb cb, void *ctx,
                     int64_t *next, mq_error *err)
{
    mq_changes_pos at = {q->since, 0};
    int rc = walk_log(s, q, 0, 0, cb, ctx, &at, err);

    if (next != NULL)
        *next = at.seq;
    return rc;
}

int mq_store_changes_page(mq_store *s, const mq_changes_query *q, int64_t replay,
                          mq_json_cb cb, void *ctx, mq_changes_pos *next, mq_error *err)
{
    mq_changes_pos at = {q->since, replay};
    int rc = walk_log(s, q, replay < 0 ? 0 : replay, 1, cb, ctx, &at, err);

    if (next != NULL)
        *next = at;
    return rc;
}

struct bundle_out {
    FILE *out;
    size_t n;
};

static int bundle_line(void *ctx, const char *json)
{
    struct bundle_out *b = ctx;
    size_t len = strlen(json);
    cJSON *obj = cJSON_Parse(json);
    uint32_t crc;
    int rc = obj != NULL && len > 1 && json[len - 1] == '}' ? change_crc(obj, &crc)
                                                            : MQ_ENOMEM;

    cJSON_Delete(obj);
    if (rc != 0)
        return rc;
    b->n++;
    /* The change as printed, with its check as the last member. */
    if (fwrite(json, 1, len - 1, b->out) != len - 1 ||
        fprintf(b->out, ",\"crc\":\"%08lx\"}\n", (unsigned long)crc) < 0)
        return MQ_EIO;
    return 0;
}

/* Writes the header or end line `o` (taken), with its check if `check`, and
 * a line end. */
static int bundle_frame(FILE *out, mq__json *j, cJSON *o, int check)
{
    const char *json;
    uint32_t crc;
    char hex[16];
    int rc = o == NULL ? MQ_ENOMEM : check ? change_crc(o, &crc) : 0;

    if (rc == 0 && !check) {
        rc = mq__json_print(j, o, &json);
    } else if (rc == 0) {
        snprintf(hex, sizeof(hex), "%08lx", (unsigned long)crc);
        mq__json_add_str(j, o, "crc", hex);
        rc = mq__json_print(j, o, &json);
    }

    cJSON_Delete(o);
    if (rc != 0)
        return rc;
    return fputs(json, out) == EOF || fputc('\n', out) == EOF ? MQ_EIO : 0;
}

int mq_store_write_bundle(mq_store *s, const mq_changes_query *q, FILE *out,
                          int64_t *next, mq_error *err)
{
    struct bundle_out b = {out, 0};
    int64_t nx = q->since;
    mq__json j;
    cJSON *o;
    int rc;

    mq__json_init(&j);
    o = mq__json_object(&j);
    mq__json_add_str(&j, o, "minqing", "bundle");
    mq__json_add(&j, o, "format", cJSON_CreateNumber(BUNDLE_FORMAT));
    mq__json_add_str(&j, o, "check", "crc32");
    mq__json_add_str(&j, o, "site", s->site);
    mq__json_add(&j, o, "since", cJSON_CreateNumber((double)q->since));
    rc = bundle_frame(out, &j, o, 1);
    if (rc == 0)
        rc = mq_store_changes(s, q, bundle_line, &b, &nx, err);
    if (rc == MQ_ENOMEM)
        mq__fail(err, rc, "out of memory");
    if (rc == 0) {
        o = mq__json_object(&j);
        mq__json_add(&j, o, "end", cJSON_CreateTrue());
        mq__json_add(&j, o, "changes", cJSON_CreateNumber((double)b.n));
        mq__json_add(&j, o, "next", cJSON_CreateNumber((double)nx));
        /* No check: the count is checked against the lines; next is the
         * writer's cursor, which apply does not use. */
        if ((rc = bundle_frame(out, &j, o, 0)) == MQ_ENOMEM)
            mq__fail(err, rc, "out of memory");
    }
    mq__json_free(&j);
    if (rc == MQ_EIO || (rc == 0 && (fflush(out) != 0 || ferror(out))))
        return mq__fail(err, MQ_EIO, "bundle: cannot write the output");
    if (rc != 0)
        return rc;
    if (next != NULL)
        *next = nx;
    return 0;
}

static int change_within(mq_store *s, const mq__change *c, const char *const *areas,
                         size_t nareas, int *yes, int *absent, mq_error *err);

/*
 * Scope-checks (when `areas` is not NULL) and merges one parsed change.
 * Returns MQ_EINVAL for a change refused as invalid, having written nothing.
 */
static int apply_parsed(mq_store *s, const cJSON *obj, int plain, const char *source,
                        const char *const *areas, size_t nareas, mq_apply_result *result,
                        mq_error *err)
{
    mq__change c;
    int rc, in = 1;

    int absent = 0;
    if ((rc = mq__change_parse(s, obj, &c, err)) != 0)
        return rc;
    if (plain) /* the arena's node: its text may be the set as printed */
        c.set_text = mq__jdoc_plain(c.set, &c.set_len);
    if (areas != NULL)
        rc = change_within(s, &c, areas, nareas, &in, &absent, err);
    if (rc == 0 && in)
        rc = mq__change_check_log(s, &c, err); /* M6 */
    if (rc == 0 && !in) {
        *result = MQ_OUT_OF_SCOPE;
    } else if (rc == 0 && absent) {
        /* the scope check just found no record of this id, and nothing
         * has been written since: no need to ask again */
        mq__rec none;
        memset(&none, 0, sizeof(none));
        mq__copy(none.id, sizeof(none.id), c.id);
        rc = mq__merge_loaded(s, &c, source != NULL ? source : "bundle", &none, result,
                              err);
    } else if (rc == 0) {
        rc = mq__merge(s, &c, source != NULL ? source : "bundle", result, err);
    }
    mq__change_clear(&c);
    return rc;
}

/* apply_parsed() in its own transaction unless the caller has one open. */
static int apply_one(mq_store *s, const cJSON *obj, int plain, const char *source,
                     const char *const *areas, size_t nareas, mq_apply_result *result,
                     mq_error *err)
{
    int rc;

    *result = MQ_REJECTED;
    /*
     * Inside the caller's transaction no savepoint is needed: a change that
     * is refused is refused before mq__merge writes anything, and any other
     * failure is the caller's to roll back.  (A savepoint per change made
     * SQLite keep a statement journal for every change of a pushed batch.)
     */
    if (s->tx_depth > 0) {
        rc = apply_parsed(s, obj, plain, source, areas, nareas, result, err);
        if (rc == MQ_EINVAL) {
            *result = MQ_REJECTED;
            return 0;
        }
        return rc;
    }
    if ((rc = mq__tx_begin(s, err)) != 0)
        return rc;
    rc = apply_parsed(s, obj, plain, source, areas, nareas, result, err);
    if (rc == MQ_EINVAL) {
        /* Refused, not failed: the caller decides what to do with it. */
        mq__tx_rollback(s);
        *result = MQ_REJECTED;
        return 0;
    }
    if (rc != 0) {
        mq__tx_rollback(s);
        return rc;
    }
    return mq__tx_commit(s, err);
}

/* The text forms parse and hand over: a change that is not JSON is refused
 * like any other invalid change. */
static int apply_text(mq_store *s, const char *change_json, const char *source,
                      const char *const *areas, size_t nareas, mq_apply_result *result,
                      mq_error *err)
{
    const char *end = NULL;
    if (change_json == NULL)
        change_json = "";
    cJSON *obj = cJSON_ParseWithOpts(change_json, &end, 1);
    char why[320];
    int rc;

    if (obj == NULL) {
        *result = MQ_REJECTED;
        mq__fail(err, MQ_EINVAL, "change: not valid JSON near \"%.20s\"",
                 end != NULL ? end : "");
        return 0;
    }
    if (mq__json_nul_escape(change_json, strlen(change_json), why, sizeof(why))) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "v"));
        *result = MQ_REJECTED;
        mq__fail(err, MQ_EINVAL, "change %s: %s",
                 v != NULL && mq__version_parse(v, NULL, NULL) == 0 ? v : "(no version)",
                 why);
        cJSON_Delete(obj);
        return 0;
    }
    rc = apply_one(s, obj, 0, source, areas, nareas, result, err);
    cJSON_Delete(obj);
    return rc;
}

int mq_store_apply_change(mq_store *s, const char *change_json, const char *source,
                          mq_apply_result *result, mq_error *err)
{
    return apply_text(s, change_json, source, NULL, 0, result, err);
}

/* An empty scope that is not "no scope": apply_parsed() tells them apart by
 * areas being NULL. */
static const char *const no_areas[1] = {NULL};

int mq_store_apply_scoped(mq_store *s, const char *change_json, const char *source,
                          const char *const *areas, size_t nareas,
                          mq_apply_result *result, mq_error *err)
{
    return apply_text(s, change_json, source, areas != NULL ? areas : no_areas,
                      areas != NULL ? nareas : 0, result, err);
}

static int apply_node(mq_store *s, const cJSON *change, int plain, const char *source,
                      const mq_scope *scope, mq_apply_result *result, mq_error *err)
{
    if (scope == NULL)
        return apply_one(s, change, plain, source, NULL, 0, result, err);
    return apply_one(s, change, plain, source,
                     scope->areas != NULL ? scope->areas : no_areas,
                     scope->areas != NULL ? scope->nareas : 0, result, err);
}

int mq_store_apply_json(mq_store *s, const cJSON *change, const char *source,
                        const mq_scope *scope, mq_apply_result *result, mq_error *err)
{
    return apply_node(s, change, 0, source, scope, result, err);
}

int mq_store_apply_doc(mq_store *s, const mq_json_doc *doc, const cJSON *change,
                       const char *source, const mq_scope *scope, mq_apply_result *result,
                       mq_error *err)
{
    return apply_node(s, change, mq__json_doc_arena(doc), source, scope, result, err);
}

/* Whether the header matches its check, when it has one (a flip of its key
 * leaves the values whole). */
static int frame_ok(const cJSON *obj)
{
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(obj, "crc");
    char want[16];
    uint32_t crc;

    if (given == NULL)
        return 1;
    if (change_crc(obj, &crc) != 0)
        return 0;
    snprintf(want, sizeof(want), "%08lx", (unsigned long)crc);
    return cJSON_IsString(given) && strcmp(given->valuestring, want) == 0;
}

/*
 * The check of one change line of a format 2 bundle.  A line that matches
 * its CRC is left to apply (*res MQ_APPLIED, untouched).  One that does not,
 * or has none, is an invalid change if it does not parse as a change here
 * (*res MQ_REJECTED, the reason in err), else damage: MQ_ECORRUPT.
 */
static int check_line(mq_store *s, const cJSON *obj, mq_apply_result *res, mq_error *err)
{
    const cJSON *given = cJSON_GetObjectItemCaseSensitive(obj, "crc");
    char want[16];
    uint32_t crc;
    mq__change c;

    *res = MQ_APPLIED;
    if (change_crc(obj, &crc) != 0)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    snprintf(want, sizeof(want), "%08lx", (unsigned long)crc);
    if (cJSON_IsString(given) && strcmp(given->valuestring, want) == 0)
        return 0;
    int rc = mq__change_parse(s, obj, &c, err);
    mq__change_clear(&c);
    if (rc == MQ_EINVAL) {
        *res = MQ_REJECTED;
        return 0;
    }
    if (rc != 0)
        return rc;
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "v"));
    return mq__fail(err, MQ_ECORRUPT,
                    "change %s %s its check (crc32 %s): the bundle is damaged or "
                    "altered",
                    v, cJSON_IsString(given) ? "does not match" : "has lost", want);
}

int mq_store_apply_bundle(mq_store *s, FILE *in, const mq_apply_opts *opts,
                          mq_apply_stats *stats, mq_error *err)
{
    return mq_store_apply_bundle_scoped(s, in, opts, NULL, NULL, stats, err);
}

int mq_store_apply_bundle_scoped(mq_store *s, FILE *in, const mq_apply_opts *opts,
                                 const mq_scope *scope, const char *sender,
                                 mq_apply_stats *stats, mq_error *err)
{
    static const mq_apply_opts defaults = {0, NULL, NULL, NULL};
    const mq_apply_opts *o = opts != NULL ? opts : &defaults;
    const char *source = o->source != NULL ? o->source : "bundle";
    int skip_invalid = o->skip_invalid;
    mq_apply_stats st = {0, 0, 0};
    mq__lines lines;
    char *buf;
    size_t len, invalid = 0;
    long line = 0;
    int rc, ended = 0, checked = 0;
    mq_error first;

    mq_error_clear(&first);
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));
    if ((rc = mq__require_site(s, err)) != 0)
        return rc;
    if ((rc = mq__tx_begin(s, err)) != 0)
        return rc;
    mq__lines_init(&lines, in, BUNDLE_LINE_MAX);
    while (rc == 0) {
        int r = mq__lines_next(&lines, &buf, &len);
        if (r == MQ_ENOTFOUND)
            break;
        line = lines.number;
        if (r != 0) {
            rc = mq__fail(err, r, "%s line %ld: %s; nothing applied", source, line,
                          r == MQ_ENOMEM      ? "out of memory"
                          : lines.why[0] != 0 ? lines.why
                                              : "longer than 4 MiB");
            break;
        }
        /* A bundle line may end in any run of "\r" (copied through tools
         * that add their own). */
        while (len > 0 && buf[len - 1] == '\r')
            buf[--len] = '\0';
        if (len == 0)
            continue;
        cJSON *obj = cJSON_ParseWithOpts(buf, NULL, 1); /* nothing after the JSON */
        if (obj == NULL) {
            rc = mq__fail(err, MQ_EINVAL, "%s line %ld: not valid JSON", source, line);
            break;
        }
        if (line == 1) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "minqing");
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "format");
            const cJSON *chk = cJSON_GetObjectItemCaseSensitive(obj, "check");
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "bundle") != 0 ||
                !cJSON_IsNumber(f) || (f->valuedouble != 1 && f->valuedouble != 2))
                rc = mq__fail(err, MQ_EINVAL,
                              "%s line 1: not a minqing bundle of format 1 or 2 (no "
                              "header)",
                              source);
            else if (f->valuedouble == 2 &&
                     (!cJSON_IsString(chk) || strcmp(chk->valuestring, "crc32") != 0))
                rc = mq__fail(err, MQ_EINVAL,
                              "%s line 1: a bundle of format 2 says its check, "
                              "\"check\":\"crc32\"; this one does not: it is damaged; "
                              "nothing applied",
                              source);
            checked = rc == 0 && f->valuedouble == 2;
            if (rc == 0 && !frame_ok(obj))
                rc = mq__fail(err, MQ_EINVAL,
                              "%s line 1: the header does not match its check (crc32): "
                              "the bundle is damaged or altered; nothing applied",
                              source);
            cJSON_Delete(obj);
            continue;
        }
        if (ended) {
            rc = mq__fail(err, MQ_EINVAL, "%s line %ld: data after the end line", source,
                          line);
            cJSON_Delete(obj);
            break;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "end"))) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "changes");
            size_t seen = st.applied + st.duplicate + st.rejected + invalid;
            /* Compared as numbers: a negative, huge or fractional count
             * (damage, or forgery) has no size_t to be converted to. */
            if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) ||
                n->valuedouble != (double)seen)
                rc = mq__fail(err, MQ_EINVAL,
                              "%s line %ld: the end line must count the changes of the "
                              "bundle, %zu; it says %.20s",
                              source, line, seen,
                              !cJSON_IsNumber(n) ? "no number"
                              : isfinite(n->valuedouble) && fabs(n->valuedouble) < 1e15
                                  ? "another"
                                  : "a number out of range");
            ended = 1;
            cJSON_Delete(obj);
            continue;
        }
        /* The line, parsed once, takes the path of any change handed over
         * parsed (mq_store_apply_json()); inside this transaction a refused
         * change has written nothing and comes back as MQ_REJECTED. */
        mq_apply_result res = MQ_REJECTED;
        mq_error cerr;
        mq_error_clear(&cerr);
        int r2 = 0;
        if (checked)
            r2 = check_line(s, obj, &res, &cerr);
        else
            res = MQ_APPLIED; /* format 1: no check to pass */
        if (r2 == MQ_ECORRUPT) {
            rc = mq__fail(err, MQ_EINVAL, "%s line %ld: %s; nothing applied", source,
                          line, cerr.message);
            cJSON_Delete(obj);
            break;
        }
        if (r2 == 0 && res != MQ_REJECTED)
            r2 = mq_store_apply_json(s, obj, source, scope, &res, &cerr);
        if (r2 == 0 && res == MQ_OUT_OF_SCOPE) {
            const char *v =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "v"));
            mq__fail(
                &cerr, MQ_EINVAL,
                "change %.40s: out of scope: the record is outside the areas of %.80s",
                v != NULL ? v : "(no version)", sender != NULL ? sender : "the sender");
            res = MQ_REJECTED;
        }
        cJSON_Delete(obj);
        if (r2 != 0) {
            *err = cerr;
            rc = r2;
        } else if (res == MQ_APPLIED) {
            st.applied++;
        } else if (res == MQ_DUPLICATE) {
            st.duplicate++;
        } else {
            char prefix[160];
            snprintf(prefix, sizeof(prefix), "%.120s line %ld: ", source, line);
            mq_error_prefix(&cerr, prefix);
            if (o->on_invalid != NULL)
                o->on_invalid(o->ctx, cerr.message);
            if (skip_invalid) {
                /* Kept as it was received: the line itself, not a print. */
                r2 = mq_store_reject(s, buf, source, cerr.message, err);
                st.rejected++;
                if (r2 != 0)
                    rc = r2;
            } else {
                if (invalid++ == 0)
                    first = cerr;
            }
        }
    }
    if (rc == 0 && ferror(in))
        rc = mq__fail(err, MQ_EIO, "%s: cannot read the input", source);
    mq__lines_free(&lines);
    if (rc == 0 && line == 0)
        rc = mq__fail(err, MQ_EINVAL, "%s: empty input", source);
    if (rc == 0 && !ended)
        rc = mq__fail(err, MQ_EINVAL,
                      "%s: no end line after line %ld: the bundle is cut short; nothing "
                      "applied",
                      source, line);
    if (rc == 0 && invalid > 0) {
        *err = first;
        char tail[96];
        snprintf(tail, sizeof(tail), " (%zu invalid change%s; nothing applied)", invalid,
                 invalid == 1 ? "" : "s");
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof(err->message) - used, "%s", tail);
        rc = MQ_EINVAL;
    }
    if (rc == 0)
        rc = mq__tx_commit(s, err);
    else
        mq__tx_rollback(s);
    if (stats != NULL && rc == 0)
        *stats = st;
    return rc;
}

int mq_store_reject(mq_store *s, const char *change_json, const char *source,
                    const char *reason, mq_error *err)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO rejected(change, source, reason, at)"
                           " VALUES(?1, ?2, ?3, ?4)",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "keeping a rejected change");
    sqlite3_bind_text(st, 1, change_json, -1, SQLITE_STATIC);
    mq__bind_text(st, 2, source);
    sqlite3_bind_text(st, 3, reason != NULL ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, mq_store_now_ms(s));
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0
                             : mq__fail_sqlite(err, s->db, "keeping a rejected change");
}

int mq_store_rejected(mq_store *s, mq_json_cb cb, void *ctx, mq_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT change, source, reason, at FROM rejected ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "reading rejected changes");
    mq__json j;
    mq__json_init(&j);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char at[MQ_ISO_MAX];
        const char *json;
        cJSON *o = mq__json_object(&j);
        /* Kept as it was received (mq_store_reject() takes any text), so
         * parsed before it is written; text that is not JSON goes as a
         * string. */
        cJSON *ch = cJSON_Parse(mq__col_text(st, 0));
        mq__json_add(&j, o, "change", ch ? ch : cJSON_CreateString(mq__col_text(st, 0)));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL)
            mq__json_add_str(&j, o, "source", mq__col_text(st, 1));
        mq__json_add_str(&j, o, "reason", mq__col_text(st, 2));
        mq__iso_time(at, sqlite3_column_int64(st, 3));
        mq__json_add_str(&j, o, "at", at);
        int stop = mq__json_print(&j, o, &json) == 0
                       ? cb(ctx, json)
                       : mq__fail(err, MQ_ENOMEM, "out of memory");
        cJSON_Delete(o);
        if (stop != 0) {
            sqlite3_finalize(st);
            mq__json_free(&j);
            return stop;
        }
    }
    mq__json_free(&j);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0
                             : mq__fail_sqlite(err, s->db, "reading rejected changes");
}

/*
 * Whether parsed change `c` stays inside `areas`: the area its record is in
 * now, and the area the change would put it in.  Reads only the record's
 * area and the parents of areas, never a record's fields.
 */
static int change_within(mq_store *s, const mq__change *c, const char *const *areas,
                         size_t nareas, int *yes, int *absent, mq_error *err)
{
    char now[sizeof(((mq__rec *)0)->id)] = "";
    int exists = 0, rc = 0;

    *yes = 0;
    if (absent != NULL)
        *absent = 0;
    if (c->type->scope == NULL) {
        *yes = 1;
        return 0;
    }
    mq__kind k;
    if ((rc = mq__kind_get(s, c->id, &k, err)) != 0)
        return rc;
    exists = k.exists;
    if (absent != NULL)
        *absent = !exists;
    snprintf(now, sizeof(now), "%s", k.area);
    /* Where the record is now (a record of no area is in no device's)... */
    int in = 1;
    if (exists)
        in = now[0] != '\0';
    if (in && exists && (rc = mq__area_within(s, now, areas, nareas, &in, err)) != 0)
        return rc;
    if (!in)
        return 0;
    /* ...and where the change would put it. */
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(c->set, c->type->scope->name);
    const cJSON *alt =
        c->type->scope_alt != NULL
            ? cJSON_GetObjectItemCaseSensitive(c->set, c->type->scope_alt->name)
            : NULL;
    if (!cJSON_IsString(p) && !cJSON_IsString(alt)) {
        *yes = exists; /* a new record must say where it belongs */
        return 0;
    }
    /* Judged by what the change sets: a record that keeps a household and
     * is given an area is judged by that area too, which errs on the side
     * of refusing. */
    mq__rec moved;
    memset(&moved, 0, sizeof(moved));
    moved.exists = 1;
    moved.type = c->type;
    snprintf(moved.id, sizeof(moved.id), "%s", c->id);
    moved.fields = cJSON_CreateObject();
    const cJSON *via = cJSON_IsString(p) ? p : alt;
    const mq_field *vf = cJSON_IsString(p) ? c->type->scope : c->type->scope_alt;
    if (moved.fields == NULL || via == NULL || vf == NULL || !cJSON_IsString(via) ||
        cJSON_AddStringToObject(moved.fields, vf->name, via->valuestring) == NULL) {
        mq__rec_clear(&moved);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    rc = mq__rec_scope(s, &moved, err);
    if (rc == 0) {
        /* A new area is judged by the area it is put under. */
        const char *a = c->type->scope_self ? moved.parent : moved.area;
        if (a == NULL)
            in = 0;
        else if (!exists || strcmp(a, now) != 0)
            rc = mq__area_within(s, a, areas, nareas, &in, err);
    }
    mq__rec_clear(&moved);
    if (rc == 0)
        *yes = in;
    return rc;
}

int mq_store_change_in_scope(mq_store *s, const char *change_json,
                             const char *const *areas, size_t nareas, int *in_scope,
                             mq_error *err)
{
    cJSON *obj = cJSON_Parse(change_json != NULL ? change_json : "");
    mq__change c;
    int rc;

    *in_scope = 0;
    if (obj == NULL)
        return mq__fail(err, MQ_EINVAL, "change: not valid JSON");
    if ((rc = mq__change_parse(s, obj, &c, err)) == 0)
        rc = change_within(s, &c, areas, nareas, in_scope, NULL, err);
    mq__change_clear(&c);
    cJSON_Delete(obj);
    return rc;
}
