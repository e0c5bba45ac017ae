/*
 * tests/core/test_format.c - the store's file format: what a fresh file
 * holds, how a file of the previous format is migrated on open, and the
 * refusal of a format this minqing does not know.  The log of a record must
 * read whole whatever index finds its rows (docs/STORE.md, M7 and format 3).
 */
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "internal.h"
#include "minqing/minqing.h"

#define COUNTY "00000000-0000-4000-8000-000000000001"
#define GROUP  "00000000-0000-4000-8000-000000000003"
#define HH     "00000000-0000-4000-8000-0000000000a1"

static char dir[] = "/tmp/mq-test-format-XXXXXX";

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s.db", dir, name);
}

static mq_store *open_at(const char *path, mq_error *err)
{
    mq_store *s = NULL;

    if (mq_store_open(&s, path, err) != 0)
        return NULL;
    return s;
}

static long long sql_int(mq_store *s, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int count_cb(void *ctx, const char *json)
{
    (void)json;
    (*(int *)ctx)++;
    return 0;
}

static int problems(mq_store *s)
{
    size_t n = 99;
    mq_error err;

    CHECK(mq_store_check(s, NULL, NULL, &n, &err) == 0);
    return (int)n;
}

/* A store with a creation stored once (the group) and a household with a
 * creation and an edit. */
static mq_store *seeded(const char *path)
{
    mq_error err;
    mq_store *s = open_at(path, &err);

    CHECK(s != NULL);
    CHECK(mq_store_init(s, "tabA", NULL, &err) == 0);
    CHECK(mq_store_put(s, "area", COUNTY, "{\"name\":\"永仁县\",\"level\":\"county\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "area", GROUP,
                       "{\"name\":\"立戈\",\"level\":\"group\",\"parent\":\"" COUNTY
                       "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" GROUP
                       "\",\"head_name\":\"李明\",\"head_id_number\":"
                       "\"532327198001010015\",\"phone\":"
                       "\"13800000000\",\"size\":3}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "household", HH, "{\"phone\":\"13900000009\"}", NULL, NULL,
                       &err) == 0);
    return s;
}

/* Format 3: the record index of the log holds only changes with a body. */
static void test_fresh_file(void)
{
    char path[256];
    path_of(path, sizeof(path), "fresh");
    mq_store *s = seeded(path);
    int n = 0;
    mq_error err;

    CHECK(sql_int(s, "SELECT value FROM meta WHERE key = 'format'") == 3);
    CHECK(sql_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'change_rid'"
                     " AND sql LIKE '%WHERE body IS NOT NULL%'") == 1);
    /* the county and the group are creations stored once: no body */
    CHECK(sql_int(s, "SELECT count(*) FROM change WHERE body IS NULL") == 2);
    CHECK(mq_store_history(s, HH, count_cb, &n, &err) == 0);
    CHECK(n == 2);
    n = 0;
    CHECK(mq_store_history(s, GROUP, count_cb, &n, &err) == 0);
    CHECK(n == 1);
    CHECK(problems(s) == 0);
    mq_store_close(s);
}

/* A file of format 2 (change_rid over every change) opens as format 3. */
static void test_format_2_is_migrated(void)
{
    char path[256];
    path_of(path, sizeof(path), "old");
    mq_store *s = seeded(path);
    mq_error err;
    int n = 0;

    CHECK(sqlite3_exec(s->db,
                       "DROP INDEX change_rid; CREATE INDEX change_rid ON change(rid);"
                       "UPDATE meta SET value = '2' WHERE key = 'format';",
                       NULL, NULL, NULL) == SQLITE_OK);
    mq_store_close(s);
    s = open_at(path, &err);
    CHECK(s != NULL);
    if (s == NULL)
        return;
    CHECK(sql_int(s, "SELECT value FROM meta WHERE key = 'format'") == 3);
    CHECK(sql_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'change_rid'"
                     " AND sql LIKE '%WHERE body IS NOT NULL%'") == 1);
    CHECK(problems(s) == 0);
    CHECK(mq_store_history(s, HH, count_cb, &n, &err) == 0);
    CHECK(n == 2);
    /* the migrated file keeps working: a second change of a creation stored
     * once writes its body out, and the log reads whole */
    CHECK(mq_store_put(s, "area", GROUP, "{\"name\":\"立戈村民小组\"}", NULL, NULL,
                       &err) == 0);
    n = 0;
    CHECK(mq_store_history(s, GROUP, count_cb, &n, &err) == 0);
    CHECK(n == 2);
    CHECK(sql_int(s, "SELECT count(*) FROM change WHERE body IS NULL") == 1);
    CHECK(problems(s) == 0);
    mq_store_close(s);
}

static void test_unknown_format_is_refused(void)
{
    char path[256];
    path_of(path, sizeof(path), "future");
    mq_store *s = seeded(path);
    mq_error err;

    CHECK(sqlite3_exec(s->db, "UPDATE meta SET value = '9' WHERE key = 'format'", NULL,
                       NULL, NULL) == SQLITE_OK);
    mq_store_close(s);
    s = open_at(path, &err);
    CHECK(s == NULL);
    CHECK_HAS(err.message, "store format 9, this minqing reads format 3");
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 2;
    RUN(test_fresh_file);
    RUN(test_format_2_is_migrated);
    RUN(test_unknown_format_is_refused);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return mq_test_done();
}
