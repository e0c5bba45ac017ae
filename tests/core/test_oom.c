/*
 * tests/core/test_oom.c - allocations that fail, in the JSON trees the core
 * builds and prints.
 *
 * cJSON's allocator is replaced by one that fails from the k-th allocation
 * on, for k = 0, 1, 2, ... until the operation no longer meets a failure.
 * At every k the operation must either do its whole job or fail with an
 * error and leave the store as it was: never print a text without a member,
 * never write a change without a field, never crash.
 */
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "minqing/minqing.h"

#define AREA    "00000000-0000-4000-8000-000000000001"
#define VILLAGE "00000000-0000-4000-8000-000000000002"
#define HH      "00000000-0000-4000-8000-0000000000a1"
#define HH2     "00000000-0000-4000-8000-0000000000a2"
#define MEMBER  "00000000-0000-4000-8000-0000000000b1"

static long budget = -1; /* allocations left before they fail; -1: no limit */
static long failed;      /* allocations refused so far */

static void *limited_malloc(size_t n)
{
    if (budget == 0) {
        failed++;
        return NULL;
    }
    if (budget > 0)
        budget--;
    return malloc(n);
}

static void limit(long k)
{
    cJSON_Hooks hooks = {limited_malloc, free};

    budget = k;
    failed = 0;
    cJSON_InitHooks(&hooks);
}

static void unlimit(void)
{
    budget = -1;
    cJSON_InitHooks(NULL);
}

static char dir[] = "/tmp/mq-test-oom-XXXXXX";
static int serial;

static mq_store *fresh(void)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/s%d.db", dir, serial++);
    if (mq_store_open(&s, path, &err) != 0 || mq_store_init(s, "tabA", NULL, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    CHECK(mq_store_put(s, "area", AREA, "{\"name\":\"县\",\"level\":\"county\"}", NULL,
                       NULL, &err) == 0);
    CHECK(mq_store_put(s, "area", VILLAGE,
                       "{\"name\":\"村\",\"level\":\"village\",\"parent\":\"" AREA "\"}",
                       NULL, NULL, &err) == 0);
    CHECK(mq_store_put(s, "household", HH,
                       "{\"area\":\"" VILLAGE
                       "\",\"head_name\":\"李明\",\"head_id_number\":"
                       "\"532327198001010015\",\"phone\":\"13800000000\",\"size\":3}",
                       NULL, NULL, &err) == 0);
    return s;
}

/* Everything a store shows, as one text: records, changes, history. */
static int append(void *ctx, const char *json)
{
    char **buf = ctx;
    size_t old = *buf ? strlen(*buf) : 0, n = strlen(json);
    char *grown = realloc(*buf, old + n + 2);

    if (grown == NULL)
        return MQ_ENOMEM;
    memcpy(grown + old, json, n);
    memcpy(grown + old + n, "\n", 2);
    *buf = grown;
    return 0;
}

static char *state(mq_store *s)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    char *buf = NULL;
    mq_error err;

    CHECK(mq_store_list(s, "household", NULL, 0, append, &buf, &err) == 0);
    CHECK(mq_store_list(s, "member", NULL, 0, append, &buf, &err) == 0);
    CHECK(mq_store_changes(s, &q, append, &buf, NULL, &err) == 0);
    CHECK(mq_store_conflicts(s, append, &buf, &err) == 0);
    CHECK(mq_store_history(s, HH, append, &buf, &err) == 0);
    return buf;
}

static size_t problems(mq_store *s)
{
    size_t n = 99;
    mq_error err;

    CHECK(mq_store_check(s, NULL, NULL, &n, &err) == 0);
    return n;
}

/* Writes under a failing allocator: all or nothing, at every k. */
static void test_writes(void)
{
    int done = 0;

    for (long k = 0; !done && k < 2000; k++) {
        mq_store *s = fresh();
        mq_error err;
        char *before = state(s);
        limit(k);
        int rc =
            mq_store_put(s, "household", HH,
                         "{\"phone\":\"13900000001\",\"size\":4,\"address\":\"中和\","
                         "\"tags\":[\"低保户\"]}",
                         NULL, NULL, &err);
        if (rc == 0)
            rc =
                mq_store_put(s, "member", MEMBER,
                             "{\"household\":\"" HH "\",\"name\":\"李华\",\"sex\":\"F\"}",
                             NULL, NULL, &err);
        if (rc == 0)
            rc = mq_store_delete(s, MEMBER, NULL, &err);
        long refused = failed;
        unlimit();
        char *after = state(s);
        if (rc == 0) {
            /* a write that succeeded wrote all of it */
            CHECK_HAS(after, "\"phone\":\"13900000001\",\"address\":\"中和\",\"size\":4");
            CHECK_HAS(after, "\"tags\":[\"低保户\"]");
            CHECK_HAS(after, "\"set\":{\"_deleted\":true}");
            done = refused == 0;
        } else {
            /* cJSON cannot tell a parse that ran out of memory from bad
             * text: parsing the input may fail as "not valid JSON" */
            int known = strstr(err.message, "out of memory") != NULL ||
                        strstr(err.message, "not valid JSON") != NULL;
            CHECK(known);
            if (!known)
                fprintf(stderr, "  k=%ld rc=%d: %s\n", k, rc, err.message);
            CHECK(refused > 0);
        }
        CHECK(problems(s) == 0);
        if (rc != 0 && strstr(after, "13900000001") == NULL)
            CHECK_STR(after, before); /* the first put wrote nothing */
        free(before);
        free(after);
        mq_store_close(s);
    }
    CHECK(done);
}

/* Reads under a failing allocator: the whole text or an error. */
static void test_reads(void)
{
    mq_store *s = fresh();
    mq_error err;
    int done = 0;

    CHECK(mq_store_put(s, "household", HH2,
                       "{\"area\":\"" VILLAGE
                       "\",\"head_name\":\"王\\\"五\",\"head_id_number\":"
                       "\"11010519491231002X\",\"size\":null}",
                       NULL, NULL, &err) == 0);
    /* a concurrent edit from another replica: a conflict to list */
    mq_apply_result res;
    CHECK(mq_store_apply_change(s,
                                "{\"v\":\"0000000000000001-tabB\",\"type\":\"household\","
                                "\"id\":\"" HH "\",\"set\":{\"phone\":\"13700000000\"}}",
                                "peer", &res, &err) == 0);
    CHECK(res == MQ_APPLIED);
    char *want = state(s);
    CHECK_HAS(want, "\"conflict\":\"" HH "/phone\"");
    for (long k = 0; !done && k < 2000; k++) {
        char *got = NULL;
        mq_changes_query q = {0, 0, NULL, 0, NULL};
        limit(k);
        int rc = mq_store_list(s, "household", NULL, 0, append, &got, &err);
        if (rc == 0)
            rc = mq_store_list(s, "member", NULL, 0, append, &got, &err);
        if (rc == 0)
            rc = mq_store_changes(s, &q, append, &got, NULL, &err);
        if (rc == 0)
            rc = mq_store_conflicts(s, append, &got, &err);
        if (rc == 0)
            rc = mq_store_history(s, HH, append, &got, &err);
        long refused = failed;
        unlimit();
        if (rc == 0) {
            CHECK_STR(got, want);
            done = refused == 0;
        } else {
            int known = strstr(err.message, "out of memory") != NULL ||
                        strstr(err.message, "not valid JSON") != NULL;
            CHECK(known);
            if (!known)
                fprintf(stderr, "  k=%ld rc=%d: %s\n", k, rc, err.message);
        }
        free(got);
    }
    CHECK(done);
    free(want);
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 2;
    RUN(test_writes);
    RUN(test_reads);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 2;
    return mq_test_done();
}
