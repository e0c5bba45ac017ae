/*
 * tests/core/test_moved.c - records that move between areas, as a scoped
 * reader of the change log sees them (mq_store_changes(),
 * mq_store_changes_page(), mq_store_write_bundle()): a household moved into
 * the reader's areas comes with its whole history and that of every record
 * below it, in pages that resume; one moved out is told to the readers of
 * the area it left, and only to those that held it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "minqing/minqing.h"

#define COUNTY   "00000000-0000-4000-8000-000000000001"
#define VILLAGE1 "00000000-0000-4000-8000-000000000002"
#define GROUP1   "00000000-0000-4000-8000-000000000003"
#define VILLAGE2 "00000000-0000-4000-8000-000000000004"
#define GROUP2   "00000000-0000-4000-8000-000000000005"
#define CADRE    "00000000-0000-4000-8000-0000000000c1"
#define HH       "00000000-0000-4000-8000-0000000000a1"
#define HH_LATE  "00000000-0000-4000-8000-0000000000a2"
#define MEMBER1  "00000000-0000-4000-8000-0000000000b1"
#define MEMBER2  "00000000-0000-4000-8000-0000000000b2"
#define NEED     "00000000-0000-4000-8000-0000000000d1"
#define ACTION   "00000000-0000-4000-8000-0000000000e1"

static char dir[] = "/tmp/mq-test-moved-XXXXXX";
static int serial;

static mq_store *open_replica(const char *site)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/r%d.db", dir, serial++);
    if (mq_store_open(&s, path, &err) != 0 || mq_store_init(s, site, NULL, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    return s;
}

static void put(mq_store *s, const char *type, const char *id, const char *json)
{
    mq_error err;
    int rc = mq_store_put(s, type, id, json, NULL, NULL, &err);

    if (rc != 0)
        fprintf(stderr, "  put %s %s: %s\n", type, id, err.message);
    CHECK(rc == 0);
}

/* The changes a walk hands over, as a cJSON array. */
static int collect(void *ctx, const char *json)
{
    cJSON_AddItemToArray(ctx, cJSON_Parse(json));
    return 0;
}

static int count_of(const cJSON *changes, const char *id)
{
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, changes)
    {
        n += strcmp(cJSON_GetObjectItem(c, "id")->valuestring, id) == 0;
    }
    return n;
}

static int64_t log_end(mq_store *s)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *all = cJSON_CreateArray();
    int64_t next = 0;
    mq_error err;

    CHECK(mq_store_changes(s, &q, collect, all, &next, &err) == 0);
    cJSON_Delete(all);
    return next;
}

/* A county with two villages and a household of village 1 with its
 * members, a need and the need's action, edited once. */
static void seed(mq_store *s)
{
    put(s, "area", COUNTY, "{\"name\":\"县\",\"level\":\"county\"}");
    put(s, "area", VILLAGE1,
        "{\"name\":\"一村\",\"level\":\"village\",\"parent\":\"" COUNTY "\"}");
    put(s, "area", GROUP1,
        "{\"name\":\"一组\",\"level\":\"group\",\"parent\":\"" VILLAGE1 "\"}");
    put(s, "area", VILLAGE2,
        "{\"name\":\"二村\",\"level\":\"village\",\"parent\":\"" COUNTY "\"}");
    put(s, "area", GROUP2,
        "{\"name\":\"二组\",\"level\":\"group\",\"parent\":\"" VILLAGE2 "\"}");
    put(s, "cadre", CADRE, "{\"name\":\"王干部\"}");
    put(s, "household", HH,
        "{\"area\":\"" GROUP1 "\",\"head_name\":\"张三\","
        "\"head_id_number\":\"532327198001010015\"}");
    put(s, "member", MEMBER1, "{\"household\":\"" HH "\",\"name\":\"张一\"}");
    put(s, "member", MEMBER2, "{\"household\":\"" HH "\",\"name\":\"张二\"}");
    put(s, "need", NEED,
        "{\"household\":\"" HH "\",\"category\":\"housing\",\"description\":\"危房\"}");
    put(s, "need_action", ACTION,
        "{\"need\":\"" NEED "\",\"action\":\"accept\",\"by\":\"" CADRE
        "\",\"at\":\"2012-03-01\"}");
    put(s, "household", HH, "{\"phone\":\"13900000001\"}");
}

static void test_moved_in_comes_whole(void)
{
    mq_store *s = open_replica("srv");
    const char *v1[] = {VILLAGE1}, *v2[] = {VILLAGE2};
    mq_error err;

    seed(s);
    int64_t cursor = log_end(s); /* both villages' readers are here */
    put(s, "household", HH, "{\"area\":\"" GROUP2 "\"}");

    /* Village 2: the household's 3 changes, 2 members, the need and its
     * action, the move last. */
    mq_changes_query q = {cursor, 0, v2, 1, NULL};
    cJSON *got = cJSON_CreateArray();
    int64_t next = 0;
    CHECK(mq_store_changes(s, &q, collect, got, &next, &err) == 0);
    CHECK(cJSON_GetArraySize(got) == 7);
    CHECK(count_of(got, HH) == 3 && count_of(got, MEMBER1) == 1 &&
          count_of(got, MEMBER2) == 1 && count_of(got, NEED) == 1 &&
          count_of(got, ACTION) == 1);
    const cJSON *last = cJSON_GetArrayItem(got, cJSON_GetArraySize(got) - 1);
    CHECK_STR(cJSON_GetObjectItem(last, "id")->valuestring, HH);
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(last, "set"), "area") != NULL);
    CHECK(next == log_end(s));
    cJSON_Delete(got);

    /* Village 1 is told of the move, and of nothing else. */
    q.areas = v1;
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(cJSON_GetArraySize(got) == 1 && count_of(got, HH) == 1);
    cJSON_Delete(got);

    /* A reader of village 1 that never held the household (its cursor
     * before the household's creation: it was elsewhere then) is not told. */
    q.since = 6; /* past the areas and the cadre only */
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(count_of(got, HH) == 0);
    cJSON_Delete(got);

    /* A reader from the start gets the household once, where it is now. */
    q.since = 0;
    q.areas = v2;
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(count_of(got, HH) == 3 && count_of(got, ACTION) == 1);
    cJSON_Delete(got);

    /* A household created in village 2 brings no history (it had none). */
    put(s, "household", HH_LATE,
        "{\"area\":\"" GROUP2 "\",\"head_name\":\"李四\","
        "\"head_id_number\":\"532327198001010015\"}");
    q.since = next;
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(cJSON_GetArraySize(got) == 1);
    cJSON_Delete(got);
    mq_store_close(s);
}

static void test_pages_resume_inside_a_history(void)
{
    mq_store *s = open_replica("srv");
    const char *v2[] = {VILLAGE2};
    mq_error err;

    seed(s);
    int64_t cursor = log_end(s);
    put(s, "household", HH, "{\"area\":\"" GROUP2 "\"}");

    mq_changes_query q = {cursor, 2, v2, 1, NULL};
    mq_changes_pos at = {cursor, 0};
    cJSON *got = cJSON_CreateArray();
    int pages = 0, cut = 0;
    for (;;) {
        cJSON *page = cJSON_CreateArray();
        mq_changes_pos next;
        q.since = at.seq;
        CHECK(mq_store_changes_page(s, &q, at.replay, collect, page, &next, &err) == 0);
        int n = cJSON_GetArraySize(page);
        CHECK(n <= 2);
        /* The same position hands over the same page. */
        cJSON *again = cJSON_CreateArray();
        mq_changes_pos next2;
        CHECK(mq_store_changes_page(s, &q, at.replay, collect, again, &next2, &err) == 0);
        CHECK(cJSON_Compare(page, again, 1));
        CHECK(next2.seq == next.seq && next2.replay == next.replay);
        cJSON_Delete(again);
        cut += next.replay > 0;
        while (cJSON_GetArraySize(page) > 0)
            cJSON_AddItemToArray(got, cJSON_DetachItemFromArray(page, 0));
        cJSON_Delete(page);
        at = next;
        if (++pages > 20 || n < 2)
            break;
    }
    CHECK(cut > 0);
    CHECK(pages == 4); /* 7 changes by 2 */
    CHECK(cJSON_GetArraySize(got) == 7 && count_of(got, HH) == 3 &&
          count_of(got, ACTION) == 1);
    CHECK(at.seq == log_end(s) && at.replay == 0);
    cJSON_Delete(got);
    mq_store_close(s);
}

/* Applies every line of bundle `f` (from the start) to `s`. */
static void apply_bundle(mq_store *s, FILE *f)
{
    mq_apply_opts opts;
    mq_apply_stats st;
    mq_error err;

    memset(&opts, 0, sizeof(opts));
    rewind(f);
    int rc = mq_store_apply_bundle(s, f, &opts, &st, &err);
    if (rc != 0)
        fprintf(stderr, "  apply: %s\n", err.message);
    CHECK(rc == 0);
}

static void test_bundle_for_a_scope(void)
{
    mq_store *s = open_replica("srv"), *t = open_replica("tab2");
    const char *v2[] = {VILLAGE2};
    mq_error err;

    seed(s);
    /* The tablet of village 2 takes a bundle of its village... */
    mq_changes_query q = {0, 0, v2, 1, NULL};
    int64_t next = 0;
    FILE *f = tmpfile();
    CHECK(mq_store_write_bundle(s, &q, f, &next, &err) == 0);
    apply_bundle(t, f);
    fclose(f);
    char *rec = NULL;
    CHECK(mq_store_get(t, HH, &rec, &err) == MQ_ENOTFOUND);

    /* ...the household moves in, and the next bundle brings it whole. */
    put(s, "household", HH, "{\"area\":\"" GROUP2 "\"}");
    q.since = next;
    f = tmpfile();
    CHECK(mq_store_write_bundle(s, &q, f, &next, &err) == 0);
    apply_bundle(t, f);
    fclose(f);
    const char *ids[] = {HH, MEMBER1, MEMBER2, NEED, ACTION};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char *mine = NULL, *theirs = NULL;
        CHECK(mq_store_get(t, ids[i], &mine, &err) == 0);
        CHECK(mq_store_get(s, ids[i], &theirs, &err) == 0);
        CHECK_STR(mine, theirs);
        mq_free(mine);
        mq_free(theirs);
    }
    size_t problems = 1;
    CHECK(mq_store_check(t, NULL, NULL, &problems, &err) == 0 && problems == 0);
    mq_store_close(s);
    mq_store_close(t);
}

static void test_group_and_member_moves(void)
{
    mq_store *s = open_replica("srv");
    const char *v1[] = {VILLAGE1}, *v2[] = {VILLAGE2};
    mq_error err;

    seed(s);
    put(s, "household", HH_LATE,
        "{\"area\":\"" GROUP2 "\",\"head_name\":\"李四\","
        "\"head_id_number\":\"532327198001010015\"}");
    int64_t cursor = log_end(s);

    /* A member put under a household of village 2: its history follows. */
    put(s, "member", MEMBER2, "{\"household\":\"" HH_LATE "\"}");
    mq_changes_query q = {cursor, 0, v2, 1, NULL};
    cJSON *got = cJSON_CreateArray();
    int64_t next = 0;
    CHECK(mq_store_changes(s, &q, collect, got, &next, &err) == 0);
    CHECK(cJSON_GetArraySize(got) == 2 && count_of(got, MEMBER2) == 2);
    cJSON_Delete(got);
    q.areas = v1; /* and village 1 is told it left */
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(cJSON_GetArraySize(got) == 1 && count_of(got, MEMBER2) == 1);
    cJSON_Delete(got);

    /* A group put under village 2: the group and all below it. */
    put(s, "area", GROUP1, "{\"parent\":\"" VILLAGE2 "\"}");
    q.since = next;
    q.areas = v2;
    got = cJSON_CreateArray();
    CHECK(mq_store_changes(s, &q, collect, got, NULL, &err) == 0);
    CHECK(count_of(got, GROUP1) == 2 && count_of(got, HH) == 2 &&
          count_of(got, MEMBER1) == 1 && count_of(got, NEED) == 1 &&
          count_of(got, ACTION) == 1 && count_of(got, MEMBER2) == 0);
    cJSON_Delete(got);
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 2;
    RUN(test_moved_in_comes_whole);
    RUN(test_pages_resume_inside_a_history);
    RUN(test_bundle_for_a_scope);
    RUN(test_group_and_member_moves);
    int rc = mq_test_done();
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
