/*
 * core/area.c - which area a record belongs to.
 *
 * The schema gives each type a scope path: a member belongs to its household,
 * a household to its group, a group to its village, and so on up to the
 * county.  Each record row keeps `parent` (the record its scope field points
 * at) and `area` (the area it finally belongs to), so that access control
 * and partial sync can filter with an index instead of walking the path.
 *
 * The parent is what the type's scope field names, or, when that field holds
 * no value, what its second scope field names (a need of a village has no
 * household, only an area).
 *
 * Invariant: for a record whose type has a scope, `area` is the parent's id
 * when the parent is an area, else the parent's own `area`; an area record's
 * `area` is its own id.  When a record's area changes, the records below it
 * follow (mq__area_cascade).  A parent that has not arrived yet (delivery
 * order is free) leaves `area` NULL until it does.
 *
 * It also says whether an area lies within a device's scope
 * (mq__area_within: a walk up the area tree), and remembers the answers for
 * the transaction, since a pushed batch asks about the same few areas for
 * each of its thousands of changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "need_dirty.h"

int mq__scope_of(mq_store *s, const mq_type *t, const char *id, const cJSON *fields,
                 char parent[64], char area[64], mq_error *err)
{
    const cJSON *p;

    parent[0] = area[0] = '\0';
    if (t->scope == NULL)
        return 0;
    const mq_field *via = t->scope;
    p = cJSON_GetObjectItemCaseSensitive(fields, via->name);
    if (!cJSON_IsString(p) && t->scope_alt != NULL) {
        via = t->scope_alt;
        p = cJSON_GetObjectItemCaseSensitive(fields, via->name);
    }
    /* a scope field is a reference, checked to be a UUID: it fits */
    if (cJSON_IsString(p))
        mq__copy(parent, 64, p->valuestring);
    if (t->scope_self) {
        mq__copy(area, 64, id);
        return 0;
    }
    if (parent[0] == '\0')
        return 0;
    if (via->to_type->scope_self) {
        memcpy(area, parent, 64);
        return 0;
    }
    mq__kind k;
    int rc = mq__kind_get(s, parent, &k, err);
    if (rc == 0 && k.exists)
        memcpy(area, k.area, 64);
    return rc;
}

int mq__rec_scope(mq_store *s, mq__rec *rec, mq_error *err)
{
    char parent[64], area[64];
    int rc;

    free(rec->parent);
    free(rec->area);
    rec->parent = rec->area = NULL;
    if ((rc = mq__scope_of(s, rec->type, rec->id, rec->fields, parent, area, err)) != 0)
        return rc;
    if ((parent[0] != '\0' && (rec->parent = mq__strdup(parent)) == NULL) ||
        (area[0] != '\0' && (rec->area = mq__strdup(area)) == NULL))
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return 0;
}

void mq__orphan_note(mq_store *s, const char *parent, const char *area)
{
    if (parent != NULL && parent[0] != '\0' && (area == NULL || area[0] == '\0'))
        s->orphans = 1;
}

const char *mq__area_type_name(const mq_store *s)
{
    for (size_t i = 0; i < s->schema->ntypes; i++)
        if (s->schema->types[i].scope_self)
            return s->schema->types[i].name;
    return "";
}

/*
 * Moves the records `st` lists (bound by the caller, their ids in column 0)
 * into `area`, each with the records below it by `next` (the caller
 * itself).  The ids are collected first: the statements are shared and the
 * recursion reuses them.  Scope paths are a few levels deep (need_action ->
 * need -> household), so the recursion is shallow.
 */
static int move_below(mq_store *s, sqlite3_stmt *st, const char *area,
                      int (*next)(mq_store *, const char *, const char *, mq_error *),
                      mq_error *err)
{
    char **kids = NULL;
    size_t n = 0, cap = 0;
    int rc, oom = 0;

    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            char **grown = realloc(kids, ncap * sizeof(char *));
            if (grown == NULL) {
                oom = 1;
                break;
            }
            kids = grown;
            cap = ncap;
        }
        if ((kids[n] = mq__strdup(mq__col_text(st, 0))) == NULL)
            oom = 1;
        else
            n++;
    }
    sqlite3_reset(st);
    if (oom)
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
    else
        rc = rc == SQLITE_DONE ? 0
                               : mq__fail_sqlite(err, s->db, "listing records below one");
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *up = mq__stmt(s, MQ_ST_SET_AREA, err);
        if (up == NULL) {
            rc = err != NULL ? err->rc : MQ_EIO;
            break;
        }
        mq__kind_forget(s, kids[i]);
        if (area == NULL)
            s->orphans = 1; /* the kid keeps its parent */
        sqlite3_bind_text(up, 1, kids[i], -1, SQLITE_STATIC);
        mq__bind_text(up, 2, area);
        int step = sqlite3_step(up);
        /* N2: a need's area is in its state; the search text has none */
        while (step == SQLITE_ROW && rc == 0) {
            rc = mq__need_dirty_touch(s, mq__col_text(up, 0), kids[i],
                                      mq__col_text(up, 1), err);
            step = sqlite3_step(up);
        }
        if (rc == 0 && step != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "moving a record to its area");
        sqlite3_reset(up);
        if (rc == 0)
            rc = next(s, kids[i], area, err);
    }
    for (size_t i = 0; i < n; i++)
        free(kids[i]);
    free(kids);
    return rc;
}

int mq__area_cascade(mq_store *s, const char *id, const char *area, mq_error *err)
{
    sqlite3_stmt *st = mq__stmt(s, MQ_ST_CHILDREN, err);

    if (st == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mq__area_type_name(s), -1, SQLITE_STATIC);
    return move_below(s, st, area, mq__area_cascade, err);
}

/*
 * A record that did not exist has below it only records that were written
 * while it was missing, and those got no area (a record below an area takes
 * the area's id whether or not the area exists, and an area's area is
 * itself, so records below areas never wait).  Only the records waiting for
 * a parent (area NULL, in the small index record_orphan) can need its area,
 * and their own waiting records in turn.  While the store is known to hold
 * no waiting record, which is the case through an import or a push whose
 * parents come first, this asks SQLite nothing at all.
 */
int mq__area_adopt(mq_store *s, const char *id, const char *area, mq_error *err)
{
    sqlite3_stmt *st;

    if (s->orphans < 0) {
        if ((st = mq__stmt(s, MQ_ST_ANY_ORPHAN, err)) == NULL)
            return err != NULL ? err->rc : MQ_EIO;
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return mq__fail_sqlite(err, s->db,
                                   "looking for records without their parent");
        s->orphans = rc == SQLITE_ROW;
    }
    if (s->orphans == 0)
        return 0;
    if ((st = mq__stmt(s, MQ_ST_ORPHANS_OF, err)) == NULL)
        return err != NULL ? err->rc : MQ_EIO;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return move_below(s, st, area, mq__area_adopt, err);
}

int mq__scope_fill(mq_store *s, const char *const *areas, size_t n, mq_error *err)
{
    mq__json j;
    const char *json;
    sqlite3_stmt *st;
    int rc;

    /* The areas go to SQLite as one JSON array, printed by the writer. */
    mq__json_init(&j);
    cJSON *arr = mq__json_array(&j);
    for (size_t i = 0; i < n; i++)
        mq__json_add_str(&j, arr, NULL, areas[i]);
    rc = mq__json_print(&j, arr, &json);
    cJSON_Delete(arr);
    if (rc != 0) {
        mq__json_free(&j);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    rc = mq__exec(s,
                  "CREATE TEMP TABLE IF NOT EXISTS mq_scope(id TEXT PRIMARY KEY);"
                  "DELETE FROM mq_scope;",
                  err);
    if (rc != 0) {
        mq__json_free(&j);
        return rc;
    }
    /* The type is spelt out, not bound, so that the walk can use the
     * partial index record_area_tree (store.c). */
    char sql[400];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE sub(id) AS (SELECT value FROM json_each(?1)"
             " UNION SELECT r.id FROM record r JOIN sub ON r.parent = sub.id"
             " WHERE r.type = '%s')"
             " INSERT OR IGNORE INTO mq_scope(id) SELECT id FROM sub",
             mq__area_type_name(s));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        mq__json_free(&j);
        return mq__fail_sqlite(err, s->db, "listing areas");
    }
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0
                                         : mq__fail_sqlite(err, s->db, "listing areas");
    sqlite3_finalize(st);
    mq__json_free(&j);
    return rc;
}

/*
 * Which areas were found within a scope, and which not, during this
 * transaction: a pushed batch asks about the same few areas for each of its
 * thousands of changes, and each answer is a walk up the area tree.  The
 * memo belongs to one list of areas (a device's scope); another list starts
 * it afresh.  It is forgotten when a transaction begins or rolls back and
 * whenever an area's row is written (mq__scope_memo_reset()), so an answer
 * is what the walk would give now.
 */
#define MEMO_SLOTS 256 /* direct-mapped; a power of two */

struct mq__scope_memo {
    uint64_t gen; /* a slot is live when its gen is this; never 0 */
    char *areas;  /* the list the answers are for, joined by '\n' */
    struct {
        uint64_t gen;
        char id[64];
        int in;
    } slot[MEMO_SLOTS];
};

void mq__scope_memo_reset(mq_store *s)
{
    if (s->scope_memo != NULL)
        s->scope_memo->gen++;
}

void mq__scope_memo_free(mq_store *s)
{
    if (s->scope_memo != NULL)
        free(s->scope_memo->areas);
    free(s->scope_memo);
    s->scope_memo = NULL;
}

/* Whether `areas` is the memo's list. */
static int same_list(const char *joined, const char *const *areas, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(areas[i]);
        if (strncmp(joined, areas[i], len) != 0 ||
            joined[len] != (i + 1 < n ? '\n' : '\0'))
            return 0;
        joined += len + 1;
    }
    return n > 0 || joined[0] == '\0';
}

/* The memo for `areas`, made or started afresh; NULL (no memo) when out of
 * memory or outside a transaction. */
static struct mq__scope_memo *memo_for(mq_store *s, const char *const *areas, size_t n)
{
    struct mq__scope_memo *m = s->scope_memo;

    if (s->tx_depth == 0)
        return NULL;
    if (m == NULL) {
        if ((m = calloc(1, sizeof(*m))) == NULL)
            return NULL;
        m->gen = 1;
        s->scope_memo = m;
    }
    if (m->areas != NULL && same_list(m->areas, areas, n))
        return m;
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(areas[i]) + 1;
    char *joined = malloc(len), *p = joined;
    if (joined == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(areas[i]);
        memcpy(p, areas[i], l);
        p += l;
        *p++ = i + 1 < n ? '\n' : '\0';
    }
    if (n == 0)
        *p = '\0';
    free(m->areas);
    m->areas = joined;
    m->gen++;
    return m;
}

static size_t memo_slot(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a, as kind.c */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (MEMO_SLOTS - 1);
}

int mq__area_within(mq_store *s, const char *area, const char *const *areas, size_t n,
                    int *yes, mq_error *err)
{
    char cur[sizeof(((mq__rec *)0)->id)];
    struct mq__scope_memo *m = strlen(area) < sizeof(cur) ? memo_for(s, areas, n) : NULL;
    size_t slot = m != NULL ? memo_slot(area) : 0;

    *yes = 0;
    if (m != NULL && m->slot[slot].gen == m->gen && strcmp(m->slot[slot].id, area) == 0) {
        *yes = m->slot[slot].in;
        return 0;
    }
    mq__copy(cur, sizeof(cur), area);
    /* Areas nest a few levels deep; the bound guards against a cycle. */
    for (int depth = 0; depth < 32 && cur[0] != '\0' && !*yes; depth++) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(cur, areas[i]) == 0) {
                *yes = 1;
                break;
            }
        if (*yes)
            break;
        sqlite3_stmt *st = mq__stmt(s, MQ_ST_PARENT, err);
        if (st == NULL)
            return err != NULL ? err->rc : MQ_EIO;
        sqlite3_bind_text(st, 1, cur, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            mq__copy(cur, sizeof(cur), mq__col_text(st, 0));
        else
            cur[0] = '\0';
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return mq__fail_sqlite(err, s->db, "walking areas");
    }
    if (m != NULL) {
        m->slot[slot].gen = m->gen;
        mq__copy(m->slot[slot].id, sizeof(m->slot[slot].id), area);
        m->slot[slot].in = *yes;
    }
    return 0;
}
