/*
 * core/report_fold.c - the one fold of a need's actions, as of a day D, that
 * the report and the needs list both read; and what they share around it
 * (the schema's report settings, the day, the scope, the read snapshot).
 *
 * The rule (docs/REPORTS.md):
 *
 *   - a need exists from its recorded_at (a need without one always
 *     exists, except in a report that starts --from a day);
 *   - an action counts only if its `at` is on or before D;
 *   - the status is the fold of the counted actions in order of `at`, ties
 *     broken by version (the same order on every replica):
 *         accept -> open, resolve -> resolved, reopen -> reopened,
 *         progress and transfer leave the status;
 *     so the status is set by the last counted accept, resolve or reopen,
 *     and is "registered" while there is none;
 *   - overdue: not resolved and the deadline before D (the deadline day
 *     itself is in time; no deadline, never overdue);
 *   - resolved late: resolved, and the last resolve after the deadline.
 *
 * The records are read in one pass over the record table (each row's
 * fields taken out of its JSON by SQL) into plain arrays, and the fold is
 * one walk in C over the actions sorted by need, `at` and version.  The
 * report counts from those arrays (report.c); the needs list joins the
 * fold written out as temp.mq_fold (needs.c).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_fold.h"

void mq__report_bind(mq_store *s, sqlite3_stmt *st, const char *as_of, const char *from)
{
    int i;

    if ((i = sqlite3_bind_parameter_index(st, "?1")) > 0)
        mq__bind_text(st, i, as_of);
    if ((i = sqlite3_bind_parameter_index(st, "?2")) > 0)
        mq__bind_text(st, i, from);
    if ((i = sqlite3_bind_parameter_index(st, "?3")) > 0)
        sqlite3_bind_text(st, i, mq__area_type_name(s), -1, SQLITE_STATIC);
}

int mq__report_exec(mq_store *s, const char *sql, const char *as_of, const char *from,
                    mq_error *err)
{
    const char *tail = sql;
    int rc = 0;

    /* Several statements may follow one another; each binds what it uses. */
    while (rc == 0 && *tail != '\0') {
        sqlite3_stmt *st = NULL;
        const char *next = NULL;
        if (sqlite3_prepare_v2(s->db, tail, -1, &st, &next) != SQLITE_OK)
            return mq__fail_sqlite(err, s->db, "preparing a report query");
        if (st == NULL)
            break; /* only white space left */
        mq__report_bind(s, st, as_of, from);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (step != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "computing a report");
        sqlite3_finalize(st);
        tail = next;
    }
    return rc;
}

/* ---- settings ------------------------------------------------------------ */

static int cfg_fail(mq__report_cfg *cfg, mq_error *err, const char *what)
{
    mq__report_cfg_free(cfg);
    return mq__fail(err, MQ_ECORRUPT, "schema: reports: %s", what);
}

/* 1 if `value` is a choice of field `field` of type `type` in the schema. */
static int is_choice(const mq_schema *schema, const char *type, const char *field,
                     const char *value)
{
    const mq_type *t = mq__schema_type(schema, type);
    const mq_field *f = t != NULL ? mq__type_field(t, field) : NULL;

    for (size_t i = 0; f != NULL && i < f->nvalues; i++)
        if (strcmp(f->values[i], value) == 0)
            return 1;
    return 0;
}

/* The labels of the choices of field "TYPE.FIELD" as {VALUE: LABEL}, the
 * caller's; NULL when there is no such field or it labels no choice. */
static cJSON *field_labels(const mq_schema *schema, const char *path)
{
    const char *dot = strchr(path, '.');
    char tname[64];

    if (dot == NULL || (size_t)(dot - path) >= sizeof(tname))
        return NULL;
    snprintf(tname, sizeof(tname), "%.*s", (int)(dot - path), path);
    const mq_type *t = mq__schema_type(schema, tname);
    const mq_field *f = t != NULL ? mq__type_field(t, dot + 1) : NULL;
    if (f == NULL || f->labels == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o != NULL && i < f->nvalues; i++) {
        if (f->labels[i] != NULL &&
            cJSON_AddStringToObject(o, f->values[i], f->labels[i]) == NULL) {
            cJSON_Delete(o);
            o = NULL;
        }
    }
    return o;
}

int mq__report_cfg_load(mq_store *s, mq__report_cfg *cfg, mq_error *err)
{
    const mq_schema *schema = s->schema;
    const cJSON *rep, *it;

    memset(cfg, 0, sizeof(*cfg));
    /*
     * The store runs on the default schema (store.c), so its settings are
     * read from the same text; the compiled types check the choices named.
     */
    cfg->root = cJSON_Parse(mq__default_schema_json);
    if (cfg->root == NULL)
        return cfg_fail(cfg, err, "the schema is not valid JSON");
    rep = cJSON_GetObjectItemCaseSensitive(cfg->root, "reports");
    if (!cJSON_IsObject(rep))
        return cfg_fail(cfg, err, "no \"reports\" object");
    cfg->petition_sources = cJSON_GetObjectItemCaseSensitive(rep, "petition_sources");
    if (!cJSON_IsArray(cfg->petition_sources))
        return cfg_fail(cfg, err, "\"petition_sources\" must list need sources");
    cJSON_ArrayForEach(it, cfg->petition_sources)
    {
        if (!cJSON_IsString(it) || !is_choice(schema, "need", "source", it->valuestring))
            return cfg_fail(cfg, err,
                            "\"petition_sources\": each must be a choice of need.source");
    }
    it = cJSON_GetObjectItemCaseSensitive(rep, "reception_kind");
    if (!cJSON_IsString(it) || !is_choice(schema, "visit", "kind", it->valuestring))
        return cfg_fail(cfg, err, "\"reception_kind\" must be a choice of visit.kind");
    cfg->reception_kind = it->valuestring;

    cfg->levels = cJSON_GetObjectItemCaseSensitive(rep, "income_levels");
    int n = cJSON_GetArraySize(cfg->levels), i = 0;
    double prev = 0;
    if (!cJSON_IsArray(cfg->levels) || n == 0)
        return cfg_fail(cfg, err, "\"income_levels\" must list the warning levels");
    cJSON_ArrayForEach(it, cfg->levels)
    {
        const cJSON *level = cJSON_GetObjectItemCaseSensitive(it, "level");
        const cJSON *below = cJSON_GetObjectItemCaseSensitive(it, "below");
        if (!cJSON_IsString(level) || level->valuestring[0] == '\0')
            return cfg_fail(cfg, err, "\"income_levels\": each needs a \"level\" name");
        if (++i == n) {
            if (below != NULL)
                return cfg_fail(cfg, err,
                                "\"income_levels\": the last level takes every ratio "
                                "left and has no \"below\"");
        } else if (!cJSON_IsNumber(below) || (i > 1 && below->valuedouble <= prev)) {
            return cfg_fail(cfg, err,
                            "\"income_levels\": \"below\" must be a number, rising from "
                            "one level to the next");
        } else {
            prev = below->valuedouble;
        }
    }
    cJSON *labels = cJSON_GetObjectItemCaseSensitive(rep, "labels");
    if (labels != NULL && !cJSON_IsObject(labels))
        return cfg_fail(cfg, err, "\"labels\" must be an object");
    cJSON *g;
    cJSON_ArrayForEach(g, labels)
    {
        if (!cJSON_IsString(g))
            continue;
        /* A group given as "TYPE.FIELD" takes the labels of that field's
         * choices: the schema says each label once (docs/SCHEMA.md). */
        cJSON *group = field_labels(schema, g->valuestring);
        if (group == NULL ||
            !cJSON_ReplaceItemInObjectCaseSensitive(labels, g->string, group)) {
            cJSON_Delete(group);
            return cfg_fail(cfg, err,
                            "\"labels\": a group given as text names an enum or tags "
                            "field with labels, TYPE.FIELD");
        }
        g = group;
    }
    cfg->labels = labels;
    return 0;
}

void mq__report_cfg_free(mq__report_cfg *cfg)
{
    cJSON_Delete(cfg->root);
    memset(cfg, 0, sizeof(*cfg));
}

const char *mq__report_income_level(const mq__report_cfg *cfg, double ratio)
{
    const cJSON *it, *last = NULL;

    cJSON_ArrayForEach(it, cfg->levels)
    {
        const cJSON *below = cJSON_GetObjectItemCaseSensitive(it, "below");
        last = it;
        if (cJSON_IsNumber(below) && ratio < below->valuedouble)
            break;
    }
    return cJSON_GetObjectItemCaseSensitive(last, "level")->valuestring;
}

/* ---- the read, the day, the scope ---------------------------------------- */

int mq__report_read_begin(mq_store *s, int *began, mq_error *err)
{
    *began = 0;
    if (s->tx_depth > 0)
        return 0;
    /* Deferred: a report takes no write lock on the store, only a snapshot;
     * what it writes is temporary and rolled back at the end. */
    int rc = mq__exec(s, "BEGIN", err);
    if (rc == 0)
        *began = 1;
    return rc;
}

void mq__report_read_end(mq_store *s, int began)
{
    if (began)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    else
        sqlite3_exec(
            s->db,
            "DROP TABLE IF EXISTS temp.mq_fold; DROP TABLE IF EXISTS temp.mq_anc;"
            " DROP TABLE IF EXISTS temp.mq_need_asof;",
            NULL, NULL, NULL);
}

int mq__report_day(mq_store *s, const char *day, const char *what, char out[11],
                   mq_error *err)
{
    if (day != NULL) {
        char why[64];
        if (mq__check_date(day, why, sizeof(why)) != 0)
            return mq__fail(err, MQ_EINVAL, "%s \"%s\": %s", what, day, why);
        snprintf(out, 11, "%s", day);
        return 0;
    }
    char iso[MQ_ISO_MAX];
    mq__iso_time(iso, mq_store_now_ms(s));
    snprintf(out, 11, "%.10s", iso);
    return 0;
}

int mq__report_scope(mq_store *s, const char *area, mq_error *err)
{
    mq__kind k;
    int rc;

    if (!mq_valid_uuid(area))
        return mq__fail(err, MQ_ENOTFOUND,
                        "area \"%.80s\": not an area id (a lower-case UUID)", area);
    if ((rc = mq__kind_get(s, area, &k, err)) != 0)
        return rc;
    if (!k.exists || k.deleted || k.type == NULL || !k.type->scope_self)
        return mq__fail(err, MQ_ENOTFOUND, "area \"%s\": %s", area,
                        !k.exists   ? "no record of this id on this replica"
                        : k.deleted ? "the area is deleted"
                                    : "the record is not an area");
    return mq__scope_fill(s, &area, 1, err);
}

/* ---- the scope path -------------------------------------------------------- */

/* Each area with itself and every area above it.  UNION ends a walk that
 * meets a cycle of parents (bad data must not hang).  %s is the area type's
 * name, spelt out so that the partial index of the area tree (store.c)
 * serves the walk. */
static const char anc_sql[] =
    "DROP TABLE IF EXISTS temp.mq_anc;"
    "CREATE TEMP TABLE mq_anc(area TEXT NOT NULL, anc TEXT NOT NULL,"
    " PRIMARY KEY(area, anc)) WITHOUT ROWID;"
    "WITH RECURSIVE up(area, anc) AS ("
    "  SELECT id, id FROM record WHERE type = '%s'"
    "  UNION SELECT up.area, r.parent FROM up JOIN record r ON r.id = up.anc"
    "  WHERE r.type = '%s' AND r.parent IS NOT NULL)"
    " INSERT OR IGNORE INTO mq_anc(area, anc) SELECT area, anc FROM up;";

int mq__report_anc(mq_store *s, mq_error *err)
{
    const char *type = mq__area_type_name(s);
    char sql[sizeof(anc_sql) + 128];

    snprintf(sql, sizeof(sql), anc_sql, type, type);
    return mq__report_exec(s, sql, NULL, NULL, err);
}

/* ---- one pass over the record table ----------------------------------------- */

/*
 * The record table has no index by type, and a report reads five types of
 * it, spread over every page: one scan reads them all, each row's fields
 * taken out of its JSON once (SQLite keeps the parse for the row).  Column
 * P_COL + i of a row is field i of its type below.
 */
enum { T_NEED, T_ACTION, T_VISIT, T_HOUSEHOLD, T_INCOME, T_TALK, T_CADRE, T_COUNT };
#define P_COLS 10
#define P_COL  4 /* after the type's number, id, version, area; parent last */
static const struct {
    const char *type;
    const char *fields[P_COLS];
    unsigned list_only; /* bit i: field i only the needs list shows */
} pass_types[T_COUNT] = {
    [T_NEED] = {"need",
                {"household", "category", "source", "recorded_by", "recorded_at",
                 "deadline", "area", "served_households", "served_people",
                 "served_livestock"},
                0x3},
    [T_ACTION] = {"need_action",
                  {"action", "at", "by", "amount_yuan", "satisfaction", "to"},
                  0x4},
    [T_VISIT] = {"visit", {"cadre", "kind", "at", "people"}, 0},
    [T_HOUSEHOLD] = {"household", {"paired_cadre"}, 0},
    [T_INCOME] = {"village_income",
                  {"period", "income_yuan", "target_yuan", "channels", "measures"},
                  0},
    [T_TALK] = {"talk", {"cadre", "occasion", "at"}, 0},
    [T_CADRE] = {"cadre", {"name"}, 0},
};

/* Appends to buf[*used] as snprintf does, never past n. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
append(char *buf, size_t n, size_t *used, const char *fmt, ...)
{
    if (*used < n) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(buf + *used, n - *used, fmt, ap);
        va_end(ap);
        *used += k > 0 ? (size_t)k : 0;
    }
}

/* The scan's statement for the types of `what`; 0 or MQ_ENOMEM. */
static int pass_sql(int what, int scoped, char *sql, size_t n, mq_error *err)
{
    int last = what == MQ__ROWS_ALL ? T_COUNT : T_ACTION + 1;
    size_t used = 0;

    append(sql, n, &used, "SELECT CASE type");
    for (int t = 0; t < last; t++)
        append(sql, n, &used, " WHEN '%s' THEN %d", pass_types[t].type, t);
    append(sql, n, &used, " END, id, cv, area"); /* cv: the version */
    for (int c = 0; c < P_COLS; c++) {
        int whens = 0;
        for (int t = 0; t < last; t++) {
            if (pass_types[t].fields[c] == NULL ||
                (what == MQ__ROWS_ALL && (pass_types[t].list_only >> c & 1)))
                continue;
            append(sql, n, &used, "%s WHEN '%s' THEN json_extract(fields, '$.%s')",
                   whens++ ? "" : ", CASE type", pass_types[t].type,
                   pass_types[t].fields[c]);
        }
        append(sql, n, &used, whens ? " END" : ", NULL");
    }
    append(sql, n, &used, ", parent FROM record WHERE (type IN (");
    /* Cadres are read whatever their state, and have no area: the scope
     * does not filter them. */
    for (int t = 0; t < last && t != T_CADRE; t++)
        append(sql, n, &used, "%s'%s'", t > 0 ? ", " : "", pass_types[t].type);
    append(sql, n, &used, ") AND deleted = 0");
    if (scoped == MQ__SCAN_SCOPE)
        append(sql, n, &used, " AND area IN (SELECT id FROM temp.mq_scope)");
    /* A set of needs: each need by its id and its actions by their parent
     * (the need), so that a handful of needs costs a handful of rows. */
    if (scoped == MQ__SCAN_DIRTY || scoped == MQ__SCAN_IDS) {
        const char *set =
            scoped == MQ__SCAN_DIRTY ? "temp.mq_need_dirty" : "temp.mq_need_ids";
        append(
            sql, n, &used,
            " AND rowid IN (SELECT r.rowid FROM %s d CROSS JOIN record r ON r.id = d.id"
            " WHERE r.type = '%s' UNION ALL SELECT r.rowid FROM %s d CROSS"
            " JOIN record r ON r.parent = d.id WHERE r.type = '%s')",
            set, pass_types[T_NEED].type, set, pass_types[T_ACTION].type);
    }
    append(sql, n, &used, ")");
    if (last > T_CADRE)
        append(sql, n, &used, " OR type = '%s'", pass_types[T_CADRE].type);
    if (used >= n)
        return mq__fail(err, MQ_ENOMEM, "the report's scan does not fit its buffer");
    return 0;
}

/*
 * The rows' strings are copied into chunks of text, many rows to a chunk:
 * a county's report holds some 150,000 rows, and one allocation each would
 * cost more than reading them.
 */
#define TEXT_CHUNK 65536
struct mq__rtext {
    struct mq__rtext *next;
    size_t used, size;
    char data[];
};

/* Room for n bytes in the chunks of `list`; NULL when out of memory. */
static char *text_alloc(struct mq__rtext **list, size_t n)
{
    struct mq__rtext *t = *list;

    if (t == NULL || t->size - t->used < n) {
        size_t size = n > TEXT_CHUNK ? n : TEXT_CHUNK;
        t = malloc(sizeof(*t) + size);
        if (t == NULL)
            return NULL;
        t->next = *list;
        t->used = 0;
        t->size = size;
        *list = t;
    }
    t->used += n;
    return t->data + t->used - n;
}

/*
 * Copies the text of columns `cols` (n of them) of the current row into the
 * chunks of `list`, pointed to by out[i] (NULL for a NULL column).  Returns
 * -1 when out of memory.
 */
static int pack(struct mq__rtext **list, sqlite3_stmt *st, const int *cols, int n,
                const char **out)
{
    size_t len[P_COLS + 4], total = 0;
    const char *text[P_COLS + 4];

    for (int i = 0; i < n; i++) {
        text[i] = mq__col_text(st, cols[i]);
        len[i] = text[i] != NULL ? (size_t)sqlite3_column_bytes(st, cols[i]) + 1 : 0;
        total += len[i];
    }
    char *p = text_alloc(list, total + 1);
    if (p == NULL)
        return -1;
    for (int i = 0; i < n; i++) {
        if (text[i] == NULL) {
            out[i] = NULL;
            continue;
        }
        memcpy(p, text[i], len[i]);
        out[i] = p;
        p += len[i];
    }
    return 0;
}

/* Makes room for one more element of `size` bytes in *arr (holding *n). */
static int grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 256;
    void *p = realloc(*arr, c * size);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static int cmp_text(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

/* On or before `day`; a missing value never is. */
static int on_or_before(const char *v, const char *day)
{
    return v != NULL && strcmp(v, day) <= 0;
}

/* One row of the scan into `rows`, unless it does not count as of D. */
static int take_row(sqlite3_stmt *st, const char *as_of, const char *from,
                    mq__report_rows *rows, size_t cap[T_COUNT])
{
    const int c = P_COL;
    int t = sqlite3_column_int(st, 0);
    switch (t) {
    case T_NEED: {
        const char *at = mq__col_text(st, c + 4);
        int exists = at == NULL ? from == NULL
                                : on_or_before(at, as_of) &&
                                      (from == NULL || strcmp(at, from) >= 0);
        if (!exists)
            return 0;
        if (grow((void **)&rows->needs, rows->nneeds, &cap[t], sizeof(mq__rneed)) != 0)
            return -1;
        mq__rneed *n = &rows->needs[rows->nneeds];
        /* A need of a group or a village names its area itself; the
         * record's area (its household's) comes first. */
        const int cols[] = {1,     sqlite3_column_type(st, 3) != SQLITE_NULL ? 3 : c + 6,
                            c,     c + 1,
                            c + 2, c + 3,
                            c + 4, c + 5};
        const int rcols[] = {3};
        const char *v[8], *ra[1];
        memset(n, 0, sizeof(*n));
        if (pack(&rows->text, st, cols, 8, v) != 0 ||
            pack(&rows->text, st, rcols, 1, ra) != 0)
            return -1;
        n->rarea = ra[0];
        n->id = v[0], n->area = v[1], n->household = v[2], n->category = v[3];
        n->source = v[4], n->recorded_by = v[5], n->recorded_at = v[6],
        n->deadline = v[7];
        n->served[0] = sqlite3_column_double(st, c + 7);
        n->served[1] = sqlite3_column_double(st, c + 8);
        n->served[2] = sqlite3_column_double(st, c + 9);
        rows->nneeds++;
        break;
    }
    case T_ACTION: {
        if (!on_or_before(mq__col_text(st, c + 1), as_of))
            return 0;
        if (grow((void **)&rows->acts, rows->nacts, &cap[t], sizeof(mq__ract)) != 0)
            return -1;
        mq__ract *a = &rows->acts[rows->nacts];
        const int cols[] = {P_COL + P_COLS, c + 1, 2, c + 2, c + 4, c + 5};
        const char *v[6];
        const char *kind = mq__col_text(st, c);
        memset(a, 0, sizeof(*a));
        if (pack(&rows->text, st, cols, 6, v) != 0)
            return -1;
        a->need = v[0], a->at = v[1], a->v = v[2], a->by = v[3], a->satisfaction = v[4];
        a->to = kind != NULL && strcmp(kind, "transfer") == 0 ? v[5] : NULL;
        a->kind = kind == NULL                   ? MQ__ACT_OTHER
                  : strcmp(kind, "accept") == 0  ? MQ__ACT_ACCEPT
                  : strcmp(kind, "resolve") == 0 ? MQ__ACT_RESOLVE
                  : strcmp(kind, "reopen") == 0  ? MQ__ACT_REOPEN
                                                 : MQ__ACT_OTHER;
        a->yuan = sqlite3_column_double(st, c + 3); /* NULL reads as 0 */
        rows->nacts++;
        break;
    }
    case T_VISIT: {
        const char *at = mq__col_text(st, c + 2);
        if (!on_or_before(at, as_of) || (from != NULL && strcmp(at, from) < 0))
            return 0;
        if (grow((void **)&rows->visits, rows->nvisits, &cap[t], sizeof(mq__rvisit)) != 0)
            return -1;
        mq__rvisit *vi = &rows->visits[rows->nvisits];
        const int cols[] = {3, c, c + 1};
        const char *v[3];
        if (pack(&rows->text, st, cols, 3, v) != 0)
            return -1;
        vi->area = v[0], vi->cadre = v[1], vi->kind = v[2];
        /* A reception counts the people who came; one when not recorded. */
        vi->people = sqlite3_column_type(st, c + 3) != SQLITE_NULL
                         ? sqlite3_column_double(st, c + 3)
                         : 1;
        rows->nvisits++;
        break;
    }
    case T_HOUSEHOLD: {
        if (grow((void **)&rows->houses, rows->nhouses, &cap[t], sizeof(mq__rhouse)) != 0)
            return -1;
        mq__rhouse *h = &rows->houses[rows->nhouses];
        const int cols[] = {3, c};
        const char *v[2];
        if (pack(&rows->text, st, cols, 2, v) != 0)
            return -1;
        h->area = v[0], h->cadre = v[1];
        rows->nhouses++;
        break;
    }
    case T_INCOME: {
        if (grow((void **)&rows->income, rows->nincome, &cap[t], sizeof(mq__rincome)) !=
            0)
            return -1;
        mq__rincome *i = &rows->income[rows->nincome];
        const int cols[] = {1, 3, c, c + 3, c + 4};
        const char *v[5];
        if (pack(&rows->keep, st, cols, 5, v) != 0)
            return -1;
        i->id = v[0], i->area = v[1], i->period = v[2], i->channels = v[3];
        i->measures = v[4];
        i->has_income = sqlite3_column_type(st, c + 1) != SQLITE_NULL;
        i->has_target = sqlite3_column_type(st, c + 2) != SQLITE_NULL;
        i->income = sqlite3_column_double(st, c + 1);
        i->target = sqlite3_column_double(st, c + 2);
        rows->nincome++;
        break;
    }
    case T_TALK: {
        const char *at = mq__col_text(st, c + 2);
        if (!on_or_before(at, as_of) || (from != NULL && strcmp(at, from) < 0))
            return 0;
        if (grow((void **)&rows->talks, rows->ntalks, &cap[t], sizeof(mq__rtalk)) != 0)
            return -1;
        mq__rtalk *k = &rows->talks[rows->ntalks];
        const int cols[] = {3, c, c + 1};
        const char *v[3];
        if (pack(&rows->text, st, cols, 3, v) != 0)
            return -1;
        k->area = v[0], k->cadre = v[1], k->occasion = v[2];
        rows->ntalks++;
        break;
    }
    case T_CADRE: {
        if (grow((void **)&rows->cadres, rows->ncadres, &cap[t], sizeof(mq__rcadre)) != 0)
            return -1;
        mq__rcadre *k = &rows->cadres[rows->ncadres];
        const int cols[] = {1, c};
        const char *v[2];
        if (pack(&rows->keep, st, cols, 2, v) != 0)
            return -1;
        k->id = v[0], k->name = v[1];
        rows->ncadres++;
        break;
    }
    default:
        return 0;
    }
    return 0;
}

/* ---- ids to indices ---------------------------------------------------------- */

/* FNV-1a: ids are random UUIDs, any fair hash spreads them. */
static size_t hash_text(const char *s)
{
    uint64_t h = 14695981039346656037u;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)(h ^ (h >> 32));
}

long mq__idmap_get(const mq__idmap *m, const char *key)
{
    if (m->key == NULL || key == NULL)
        return -1;
    for (size_t i = hash_text(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->key[i] == NULL)
            return -1;
        if (strcmp(m->key[i], key) == 0)
            return (long)m->val[i];
    }
}

/* Doubles the table (at least 1024 slots), keeping every key. */
static int idmap_grow(mq__idmap *m)
{
    size_t slots = m->key != NULL ? 2 * (m->mask + 1) : 1024;
    const char **key = calloc(slots, sizeof(*key));
    size_t *val = malloc(slots * sizeof(*val));

    if (key == NULL || val == NULL) {
        free(key);
        free(val);
        return -1;
    }
    for (size_t i = 0; m->key != NULL && i <= m->mask; i++) {
        if (m->key[i] == NULL)
            continue;
        size_t j = hash_text(m->key[i]) & (slots - 1);
        while (key[j] != NULL)
            j = (j + 1) & (slots - 1);
        key[j] = m->key[i];
        val[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    m->key = key;
    m->val = val;
    m->mask = slots - 1;
    return 0;
}

long mq__idmap_put(mq__idmap *m, const char *key, size_t val)
{
    /* At most half full: probes stay short. */
    if ((m->key == NULL || 2 * (m->n + 1) > m->mask + 1) && idmap_grow(m) != 0)
        return -1;
    size_t i = hash_text(key) & m->mask;
    for (; m->key[i] != NULL; i = (i + 1) & m->mask)
        if (strcmp(m->key[i], key) == 0)
            return (long)m->val[i];
    m->key[i] = key;
    m->val[i] = val;
    m->n++;
    return (long)val;
}

void mq__idmap_free(mq__idmap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

/* ---- the fold ------------------------------------------------------------- */

/* The day number of "YYYY-MM-DD" (days from 1970-01-01, proleptic Gregorian
 * calendar), as julianday() counts them; 0 if `d` is not such a day. */
static int day_number(const char *d, long *out)
{
    if (d == NULL || strlen(d) < 10 || d[4] != '-' || d[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
            return 0;
    long y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    long m = (d[5] - '0') * 10 + (d[6] - '0'), day = (d[8] - '0') * 10 + (d[9] - '0');
    /* Days from civil (H. Hinnant's algorithm): March-based years. */
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + doe - 719468;
    return 1;
}

/* The fold's order: by need, then `at`, then version, as every replica. */
static int cmp_act(const void *pa, const void *pb)
{
    const mq__ract *a = pa, *b = pb;
    int c;

    if (a->ni != b->ni)
        return a->ni < b->ni ? -1 : 1;
    if ((c = cmp_text(a->at, b->at)) != 0)
        return c;
    return cmp_text(a->v, b->v);
}

static int is_petition(const mq__report_cfg *cfg, const char *source)
{
    const cJSON *it;

    if (source == NULL)
        return 0;
    cJSON_ArrayForEach(it, cfg->petition_sources)
    {
        if (strcmp(it->valuestring, source) == 0)
            return 1;
    }
    return 0;
}

/*
 * The fold itself, as this file's header states it.  Actions whose need does
 * not exist on D (or is not in the scope) are dropped; the rest are sorted
 * and walked once, need by need.
 */
static int fold(mq__report_rows *rows, const char *as_of, const mq__report_cfg *cfg)
{
    mq__idmap ids = {0};
    size_t kept = 0;
    long today = 0;
    int has_today = day_number(as_of, &today);

    for (size_t i = 0; i < rows->nneeds; i++)
        if (mq__idmap_put(&ids, rows->needs[i].id, i) < 0) {
            mq__idmap_free(&ids);
            return -1;
        }
    for (size_t i = 0; i < rows->nacts; i++) {
        mq__ract *a = &rows->acts[i];
        long ni = mq__idmap_get(&ids, a->need);
        if (ni < 0)
            continue;
        a->ni = (size_t)ni;
        rows->acts[kept++] = *a;
    }
    mq__idmap_free(&ids);
    rows->nacts = kept;
    if (kept > 0)
        qsort(rows->acts, rows->nacts, sizeof(mq__ract), cmp_act);

    const mq__ract *a = rows->acts, *end = rows->nacts > 0 ? rows->acts + rows->nacts : a;
    for (size_t i = 0; i < rows->nneeds; i++) {
        mq__rneed *n = &rows->needs[i];
        const mq__ract *last = NULL, *first_accept = NULL;
        const char *to = NULL;
        for (; a < end && a->ni == i; a++) {
            n->actions++;
            if (a->to != NULL)
                to = a->to; /* the last counted transfer names the handler */
            if (a->kind == MQ__ACT_RESOLVE)
                n->yuan += a->yuan;
            if (a->kind == MQ__ACT_ACCEPT && first_accept == NULL)
                first_accept = a;
            if (a->kind != MQ__ACT_OTHER)
                last = a;
        }
        n->accepted = first_accept != NULL;
        n->accepted_by = first_accept != NULL ? first_accept->by : NULL;
        n->handler = to != NULL               ? to
                     : n->accepted_by != NULL ? n->accepted_by
                                              : n->recorded_by;
        n->status = last == NULL                    ? MQ__ST_REGISTERED
                    : last->kind == MQ__ACT_ACCEPT  ? MQ__ST_OPEN
                    : last->kind == MQ__ACT_RESOLVE ? MQ__ST_RESOLVED
                                                    : MQ__ST_REOPENED;
        int resolved = n->status == MQ__ST_RESOLVED;
        if (resolved) {
            n->resolved_at = last->at;
            n->satisfaction = last->satisfaction;
        }
        n->petition = is_petition(cfg, n->source);
        n->overdue = !resolved && n->deadline != NULL && strcmp(n->deadline, as_of) < 0;
        n->late =
            resolved && n->deadline != NULL && cmp_text(n->resolved_at, n->deadline) > 0;
        long d0, d1;
        if (n->overdue && has_today && day_number(n->deadline, &d0))
            n->days_overdue = today - d0;
        if (resolved && day_number(n->recorded_at, &d0) &&
            day_number(n->resolved_at, &d1)) {
            n->has_days = 1;
            n->days = d1 - d0;
        }
    }
    return 0;
}

const char *mq__report_status_name(int status)
{
    static const char *const names[] = {"registered", "open", "reopened", "resolved"};

    return status >= 0 && status <= MQ__ST_RESOLVED ? names[status] : "registered";
}

int mq__report_cmp_cadre(const void *a, const void *b)
{
    return strcmp(((const mq__rcadre *)a)->id, ((const mq__rcadre *)b)->id);
}

int mq__report_rows_load(mq_store *s, const char *as_of, const char *from, int scoped,
                         int what, const mq__report_cfg *cfg, mq__report_rows *rows,
                         mq_error *err)
{
    char sql[4096];
    size_t cap[T_COUNT] = {0};
    sqlite3_stmt *st;
    int rc, step;

    memset(rows, 0, sizeof(*rows));
    if ((rc = pass_sql(what, scoped, sql, sizeof(sql), err)) != 0)
        return rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "preparing the report's scan");
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (take_row(st, as_of, from, rows, cap) != 0) {
            sqlite3_finalize(st);
            return mq__fail(err, MQ_ENOMEM, "out of memory reading the report's records");
        }
    rc = step == SQLITE_DONE ? 0 : mq__fail_sqlite(err, s->db, "reading the records");
    sqlite3_finalize(st);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < rows->ncadres; i++)
        if (rows->cadres[i].id == NULL) /* cannot be: id is NOT NULL */
            rows->cadres[i].id = "";
    if (rows->ncadres > 0)
        qsort(rows->cadres, rows->ncadres, sizeof(mq__rcadre), mq__report_cmp_cadre);
    if (fold(rows, as_of, cfg) != 0)
        return mq__fail(err, MQ_ENOMEM, "out of memory folding needs");
    return 0;
}

static void text_free(struct mq__rtext **list)
{
    while (*list != NULL) {
        struct mq__rtext *next = (*list)->next;
        free(*list);
        *list = next;
    }
}

void mq__report_rows_drop(mq__report_rows *rows)
{
    text_free(&rows->text);
    free(rows->needs);
    free(rows->acts);
    free(rows->visits);
    free(rows->houses);
    free(rows->talks);
    rows->needs = NULL, rows->acts = NULL, rows->visits = NULL, rows->houses = NULL;
    rows->talks = NULL;
    rows->nneeds = rows->nacts = rows->nvisits = rows->nhouses = rows->ntalks = 0;
}

void mq__report_rows_free(mq__report_rows *rows)
{
    mq__report_rows_drop(rows);
    text_free(&rows->keep);
    free(rows->income);
    free(rows->cadres);
    memset(rows, 0, sizeof(*rows));
}

/* ---- the fold as a table, for the needs list --------------------------------- */

static const char fold_table_sql[] =
    "DROP TABLE IF EXISTS temp.mq_fold;"
    "CREATE TEMP TABLE mq_fold(id, area, household, category, source,"
    " recorded_by, recorded_at, deadline, petition, actions, accepted, accepted_by,"
    " status, resolved_at, satisfaction, yuan, overdue, days_overdue, late, days,"
    " handler);";
static const char fold_insert_sql[] =
    "INSERT INTO temp.mq_fold VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)";

static int write_fold(mq_store *s, const mq__report_rows *rows, mq_error *err)
{
    sqlite3_stmt *st;
    int rc = mq__report_exec(s, fold_table_sql, NULL, NULL, err);

    if (rc != 0)
        return rc;
    if (sqlite3_prepare_v2(s->db, fold_insert_sql, -1, &st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, s->db, "preparing the fold's table");
    for (size_t i = 0; rc == 0 && i < rows->nneeds; i++) {
        const mq__rneed *n = &rows->needs[i];
        const char *text[] = {n->id,     n->area,        n->household,   n->category,
                              n->source, n->recorded_by, n->recorded_at, n->deadline};
        for (int c = 0; c < 8; c++)
            sqlite3_bind_text(st, c + 1, text[c], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 9, n->petition);
        sqlite3_bind_int(st, 10, n->actions);
        sqlite3_bind_int(st, 11, n->accepted);
        sqlite3_bind_text(st, 12, n->accepted_by, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, mq__report_status_name(n->status), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 14, n->resolved_at, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 15, n->satisfaction, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 16, n->yuan);
        sqlite3_bind_int(st, 17, n->overdue);
        if (n->overdue)
            sqlite3_bind_int64(st, 18, n->days_overdue);
        else
            sqlite3_bind_null(st, 18);
        sqlite3_bind_int(st, 19, n->late);
        if (n->has_days)
            sqlite3_bind_int64(st, 20, n->days);
        else
            sqlite3_bind_null(st, 20);
        sqlite3_bind_text(st, 21, n->handler, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "writing the fold of needs");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = mq__report_exec(s, "CREATE INDEX temp.mq_fold_area ON mq_fold(area);", NULL,
                             NULL, err);
    return rc;
}

int mq__report_fold(mq_store *s, const char *as_of, const char *from, int scoped,
                    const mq__report_cfg *cfg, mq_error *err)
{
    mq__report_rows rows;
    int rc;

    if ((rc = mq__report_anc(s, err)) != 0)
        return rc;
    rc = mq__report_rows_load(s, as_of, from, scoped, MQ__ROWS_NEEDS, cfg, &rows, err);
    if (rc == 0)
        rc = write_fold(s, &rows, err);
    mq__report_rows_free(&rows);
    return rc;
}
