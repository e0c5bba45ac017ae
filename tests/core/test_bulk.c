/*
 * tests/core/test_bulk.c - the bulk paths' short cuts store what the general
 * paths store.  An import takes a line through the arena parser and writes
 * a creation as one insert of its text (jdoc.c, merge.c create_once()); a
 * record that arrives before its parent waits without an area and is found
 * by the new parent through record_orphan (area.c).  The same records
 * imported compact, with whitespace (printed again), fields out of order
 * (the general merge), children first (forward references, waiting
 * records) and applied as changes in reverse order must give the same rows,
 * and every store must pass the check.
 *
 * Usage: test_bulk FIXTURE.jsonl
 */
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "harness.h"
#include "internal.h"
#include "minqing/minqing.h"

static char dir[] = "/tmp/mq-test-bulk-XXXXXX";
static int serial;
static char *lines[256];
static size_t nlines;

static mq_store *fresh(const char *site)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/s%d.db", dir, serial++);
    if (mq_store_open(&s, path, &err) != 0 || mq_store_init(s, site, NULL, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    return s;
}

/* Imports `text`; returns the stats' created count, -1 on failure. */
static long import_text(mq_store *s, const char *text, int skip)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    mq_import_opts o = {skip, NULL, "test", NULL, NULL};
    mq_import_stats st;
    mq_error err;
    int rc = mq_store_import(s, f, &o, &st, &err);

    fclose(f);
    if (rc != 0)
        fprintf(stderr, "  import: %s\n", err.message);
    return rc == 0 ? (long)st.created : -1;
}

/* The lines, transformed by `fn` (NULL: as they are), in order or reversed. */
static char *joined(char *(*fn)(const char *), int reverse)
{
    size_t cap = 1 << 16, used = 0;
    char *out = malloc(cap);

    for (size_t k = 0; k < nlines; k++) {
        const char *l = lines[reverse ? nlines - 1 - k : k];
        char *t = fn != NULL ? fn(l) : NULL;
        const char *use = t != NULL ? t : l;
        size_t n = strlen(use);
        if (used + n + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + used, use, n);
        used += n;
        out[used++] = '\n';
        free(t);
    }
    out[used] = '\0';
    return out;
}

/* A line with blanks around its members: valid, not printed as stored. */
static char *spaced(const char *l)
{
    size_t n = strlen(l);
    char *t = malloc(2 * n + 8);
    size_t o = 0;
    int in_string = 0;

    for (size_t i = 0; i < n; i++) {
        char c = l[i];
        t[o++] = c;
        if (c == '"' && (i == 0 || l[i - 1] != '\\'))
            in_string = !in_string;
        if (!in_string && (c == ':' || c == ','))
            t[o++] = ' ';
    }
    t[o] = '\0';
    return t;
}

/* A line whose fields come in reverse order. */
static char *reversed_fields(const char *l)
{
    cJSON *r = cJSON_Parse(l), *f = cJSON_GetObjectItemCaseSensitive(r, "fields");
    cJSON *copy = cJSON_CreateObject();

    while (f->child != NULL) {
        cJSON *last = f->child->prev;
        cJSON_AddItemToObject(copy, last->string, cJSON_DetachItemViaPointer(f, last));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(r, "fields", copy);
    char *t = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return t;
}

/* Every row of `sql`, one text. */
static char *rows(mq_store *s, const char *sql)
{
    sqlite3_stmt *st;
    size_t cap = 1 << 16, used = 0;
    char *out = malloc(cap);

    out[0] = '\0';
    CHECK(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            size_t n = v ? strlen(v) : 4;
            if (used + n + 4 > cap)
                out = realloc(out, cap *= 2);
            used += (size_t)snprintf(out + used, cap - used, "%s|", v ? v : "NULL");
        }
        out[used++] = '\n';
        out[used] = '\0';
    }
    sqlite3_finalize(st);
    return out;
}

static const char records_sql[] =
    "SELECT id, type, parent, area, deleted, vers, fields FROM record ORDER BY id";

static int problems(mq_store *s)
{
    size_t n = 99;
    mq_error err;

    CHECK(mq_store_check(s, NULL, NULL, &n, &err) == 0);
    return (int)n;
}

static void keep_message(void *ctx, const char *message)
{
    snprintf(ctx, 512, "%s", message);
}

static int collect(void *ctx, const char *json)
{
    cJSON_AddItemToArray(ctx, cJSON_Parse(json));
    return 0;
}

static void test_same_rows_every_way(void)
{
    mq_store *a = fresh("tabA");
    char *text = joined(NULL, 0);
    CHECK(import_text(a, text, 0) == (long)nlines);
    free(text);
    char *want = rows(a, records_sql);
    CHECK(problems(a) == 0);
    mq_error err;
    /* a creation is stored once and its record holds no per-field versions */
    char *bodies = rows(a, "SELECT count(*) FROM change WHERE body IS NOT NULL");
    CHECK_STR(bodies, "0|\n");
    free(bodies);

    struct {
        const char *name;
        char *(*fn)(const char *);
        int reverse;
    } ways[] = {{"spaced", spaced, 0},
                {"fields reversed", reversed_fields, 0},
                {"children first", NULL, 1},
                {"children first, spaced", spaced, 1}};
    for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
        mq_store *b = fresh("tabA");
        text = joined(ways[w].fn, ways[w].reverse);
        CHECK(import_text(b, text, 0) == (long)nlines);
        free(text);
        char *got = rows(b, records_sql);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "  %s: rows differ\n", ways[w].name);
            CHECK(0);
        }
        CHECK(problems(b) == 0);
        free(got);
        mq_store_close(b);
    }

    /* again into the same store: every id is taken, nothing changes */
    text = joined(NULL, 0);
    CHECK(import_text(a, text, 0) == 0);
    free(text);
    char *again = rows(a, records_sql);
    CHECK_STR(again, want);
    free(again);
    /* a creation whose id a record of another type holds is refused as
     * before: by the record, not by its fields */
    {
        char line[512];
        const char *id = lines[0] + strlen("{\"type\":\"area\",\"id\":\"");
        snprintf(line, sizeof(line),
                 "{\"type\":\"cadre\",\"id\":\"%.36s\",\"fields\":{\"name\":\"x\"}}\n",
                 id);
        FILE *f = fmemopen(line, strlen(line), "r");
        char said[512] = "";
        mq_import_opts o = {0, NULL, "test", keep_message, said};
        mq_import_stats st;
        CHECK(mq_store_import(a, f, &o, &st, &err) == MQ_EINVAL);
        fclose(f);
        CHECK_HAS(said, "is of type area, not cadre");
    }
    /* the same records as changes, applied children first */
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *all = cJSON_CreateArray();
    CHECK(mq_store_changes(a, &q, collect, all, NULL, &err) == 0);
    mq_store *c = fresh("tabC");
    for (int i = cJSON_GetArraySize(all) - 1; i >= 0; i--) {
        char *t = cJSON_PrintUnformatted(cJSON_GetArrayItem(all, i));
        mq_apply_result res;
        CHECK(mq_store_apply_change(c, t, "tabA", &res, &err) == 0 && res == MQ_APPLIED);
        free(t);
    }
    char *got = rows(c, records_sql);
    CHECK_STR(got, want);
    CHECK(problems(c) == 0);
    free(got);
    cJSON_Delete(all);
    mq_store_close(c);
    free(want);
    mq_store_close(a);
}

/*
 * A household taken back at the end of a skip-invalid import (its forward
 * reference never resolved) takes back the records written after it that
 * refer to it (import.c): no record is left below it, waiting or not, and
 * the store passes the check.
 */
static void test_taken_back_parent(void)
{
    mq_store *s = fresh("tabA");
    size_t cap = 1 << 16, used = 0;
    char *text = malloc(cap);
    const char *hh = NULL;

    for (size_t k = 0; k < nlines; k++) {
        const char *l = lines[k];
        if (hh == NULL && strstr(l, "{\"type\":\"household\"") == l) {
            /* its cadre is one that never comes */
            const char *pc = strstr(l, "\"paired_cadre\":\"");
            CHECK(pc != NULL);
            used += (size_t)snprintf(text + used, cap - used,
                                     "%.*s\"paired_cadre\":\"00000000-0000-4000-8000-"
                                     "00000000ffff\"}}\n",
                                     (int)(pc - l), l);
            hh = l + strlen("{\"type\":\"household\",\"id\":\"");
            continue;
        }
        used += (size_t)snprintf(text + used, cap - used, "%s\n", l);
    }
    long kept = import_text(s, text, 1);
    CHECK(kept > 0 && kept < (long)nlines - 1); /* it and what refers to it */
    char sql[320];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM record WHERE id = '%.36s' OR parent = '%.36s'"
             " OR json_extract(fields, '$.household') = '%.36s'",
             hh, hh, hh);
    char *below = rows(s, sql);
    CHECK_STR(below, "0|\n");
    free(below);
    CHECK(problems(s) == 0);
    free(text);
    mq_store_close(s);
}

#define C_  "00000000-0000-4000-8000-000000000001"
#define V1_ "00000000-0000-4000-8000-000000000002"
#define V2_ "00000000-0000-4000-8000-000000000003"
#define G_  "00000000-0000-4000-8000-000000000004"
#define H1_ "00000000-0000-4000-8000-0000000000a1"
#define H2_ "00000000-0000-4000-8000-0000000000a2"

static void put(mq_store *s, const char *type, const char *id, const char *json)
{
    mq_error err;
    if (mq_store_put(s, type, id, json, NULL, NULL, &err) != 0) {
        fprintf(stderr, "  put %s: %s\n", id, err.message);
        CHECK(0);
    }
}

/*
 * A batch's scope answers are remembered (bundle.c), but not past a change
 * that moves an area: a household put under a group that has just left the
 * device's village is out of its scope.
 */
static void test_scope_follows_a_moved_area(void)
{
    mq_store *a = fresh("tabA"), *b = fresh("tabB");
    mq_error err;

    put(a, "area", C_, "{\"name\":\"县\",\"level\":\"county\"}");
    put(a, "area", V1_,
        "{\"name\":\"村一\",\"level\":\"village\",\"parent\":\"" C_ "\"}");
    put(a, "area", V2_,
        "{\"name\":\"村二\",\"level\":\"village\",\"parent\":\"" C_ "\"}");
    put(a, "area", G_, "{\"name\":\"组\",\"level\":\"group\",\"parent\":\"" V1_ "\"}");
    put(a, "household", H1_,
        "{\"area\":\"" G_
        "\",\"head_name\":\"甲\",\"head_id_number\":\"532327198001010015\"}");
    put(a, "area", G_, "{\"parent\":\"" V2_ "\"}");
    put(a, "household", H2_,
        "{\"area\":\"" G_
        "\",\"head_name\":\"乙\",\"head_id_number\":\"532327198001010015\"}");
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *all = cJSON_CreateArray();
    CHECK(mq_store_changes(a, &q, collect, all, NULL, &err) == 0);
    CHECK(cJSON_GetArraySize(all) == 7);
    const char *const village[] = {V1_};
    const mq_scope scope = {village, 1};
    mq_apply_result res;
    for (int i = 0; i < 4; i++) /* the areas, as the county sends them */
        CHECK(mq_store_apply_json(b, cJSON_GetArrayItem(all, i), "county", NULL, &res,
                                  &err) == 0 &&
              res == MQ_APPLIED);
    CHECK(mq_store_begin(b, &err) == 0);
    CHECK(mq_store_apply_json(b, cJSON_GetArrayItem(all, 4), "device:x", &scope, &res,
                              &err) == 0 &&
          res == MQ_APPLIED);
    CHECK(mq_store_apply_json(b, cJSON_GetArrayItem(all, 5), "county", NULL, &res,
                              &err) == 0 &&
          res == MQ_APPLIED);
    CHECK(mq_store_apply_json(b, cJSON_GetArrayItem(all, 6), "device:x", &scope, &res,
                              &err) == 0);
    CHECK(res == MQ_OUT_OF_SCOPE);
    CHECK(mq_store_commit(b, &err) == 0);
    CHECK(problems(b) == 0);
    cJSON_Delete(all);
    mq_store_close(a);
    mq_store_close(b);
}

int main(int argc, char **argv)
{
    if (argc != 2 || mkdtemp(dir) == NULL)
        return 2;
    FILE *f = fopen(argv[1], "r");
    char buf[4096];
    if (f == NULL)
        return 2;
    while (nlines < 256 && fgets(buf, sizeof(buf), f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        if (buf[0] != '\0')
            lines[nlines++] = strdup(buf);
    }
    fclose(f);
    RUN(test_same_rows_every_way);
    RUN(test_taken_back_parent);
    RUN(test_scope_follows_a_moved_area);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    return mq_test_done();
}
