/*
 * tests/core/test_json.c - the core's one JSON writer: the record and
 * change forms spliced around stored text, escaping left to cJSON, the
 * reused buffer, and a failed allocation that stops the text.
 */
#include <unistd.h>

#include "harness.h"
#include "internal.h"

static void test_forms(void)
{
    mq__json j;
    const char *out;

    mq__json_init(&j);
    CHECK(mq__json_record(&j, "cadre", "00000000-0000-4000-8000-0000000000c1",
                          "{\"name\":\"杨再春\"}", 0, &out) == 0);
    CHECK_STR(out, "{\"type\":\"cadre\",\"id\":\"00000000-0000-4000-8000-0000000000c1\","
                   "\"fields\":{\"name\":\"杨再春\"}}");
    CHECK(mq__json_record(&j, "cadre", "x", "{}", 1, &out) == 0);
    CHECK_STR(out, "{\"type\":\"cadre\",\"id\":\"x\",\"fields\":{},\"deleted\":true}");
    CHECK(mq__json_record(&j, "cadre", "y", "{\"a\":1}", 0, &out) == 0);
    CHECK_STR(out, "{\"type\":\"cadre\",\"id\":\"y\",\"fields\":{\"a\":1}}");

    /* strings are escaped by cJSON; stored text is spliced as it is */
    CHECK(mq__json_change(&j, "0000000000000001-a", "household", "id1", "q\"b\\\n\x01",
                          "{\"phone\":\"139\"}", "{\"phone\":[\"0000000000000000-b\"]}",
                          &out) == 0);
    CHECK_STR(out, "{\"v\":\"0000000000000001-a\",\"type\":\"household\",\"id\":\"id1\","
                   "\"by\":\"q\\\"b\\\\\\n\\u0001\",\"set\":{\"phone\":\"139\"},"
                   "\"base\":{\"phone\":[\"0000000000000000-b\"]}}");
    CHECK(mq__json_change(&j, "v2", "area", "id2", NULL, "{}", NULL, &out) == 0);
    CHECK_STR(out, "{\"v\":\"v2\",\"type\":\"area\",\"id\":\"id2\",\"set\":{}}");
    cJSON *back = NULL;
    CHECK(mq__json_change(&j, "v3", "area", "id3", "c", "{}", NULL, &out) == 0);
    CHECK((back = cJSON_Parse(out)) != NULL);
    CHECK_STR(cJSON_GetObjectItem(back, "by")->valuestring, "c");
    cJSON_Delete(back);
    mq__json_free(&j);
}

/* Texts of growing and shrinking size print whole into the reused buffer. */
static void test_buffer(void)
{
    mq__json j;
    const char *out;
    size_t sizes[] = {10, 3000, 5, 100000, 70, 250000, 1};

    mq__json_init(&j);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        char *fields = malloc(n + 16);
        memcpy(fields, "{\"a\":\"", 6);
        memset(fields + 6, 'x', n);
        memcpy(fields + 6 + n, "\"}", 3);
        CHECK(mq__json_record(&j, "t", "i", fields, 0, &out) == 0);
        CHECK(out != NULL && strlen(out) == n + 39);
        CHECK(out != NULL && strstr(out, fields) != NULL);
        free(fields);
    }
    mq__json_free(&j);
}

/* A writer that lost a member prints nothing from then on. */
static void test_oom_is_remembered(void)
{
    mq__json j;
    const char *out = "unset";

    mq__json_init(&j);
    cJSON *o = mq__json_object(&j);
    CHECK(mq__json_add_str(&j, o, "a", "b") != NULL);
    CHECK(mq__json_add(&j, o, "lost", NULL) == NULL); /* as a failed create */
    CHECK(j.oom == 1);
    CHECK(mq__json_print(&j, o, &out) == MQ_ENOMEM);
    CHECK(out == NULL);
    CHECK(mq__json_record(&j, "t", "i", "{}", 0, &out) == MQ_ENOMEM);
    CHECK(mq__json_add(&j, NULL, "x", cJSON_CreateTrue()) == NULL); /* no parent */
    cJSON_Delete(o);
    mq__json_free(&j);

    mq__json_init(&j);
    o = mq__json_object(&j);
    mq__json_add_str(&j, o, "a", NULL);
    mq__json_add_raw(&j, o, "b", "[1,2]");
    cJSON *arr = mq__json_add(&j, o, "c", mq__json_array(&j));
    mq__json_add_str(&j, arr, NULL, "x");
    CHECK(j.oom == 0);
    CHECK(mq__json_print(&j, o, &out) == 0);
    CHECK_STR(out, "{\"a\":null,\"b\":[1,2],\"c\":[\"x\"]}");
    cJSON_Delete(o);
    mq__json_free(&j);
}

static int first_change(void *ctx, const char *json)
{
    cJSON **out = ctx;

    if (*out == NULL)
        *out = cJSON_Parse(json);
    return 0;
}

/* A change whose author needs escaping goes out whole and comes back the
 * same through changes and history.  Such an author is refused on arrival
 * now (a `by` is a cadre id), but a store written before may hold one. */
static void test_odd_author_round_trips(void)
{
    static char dir[] = "/tmp/mq-test-json-XXXXXX";
    char path[256];
    mq_store *s = NULL;
    mq_error err;
    mq_apply_result res;
    static const char change[] =
        "{\"v\":\"0000000000000005-tabB\",\"type\":\"cadre\","
        "\"id\":\"00000000-0000-4000-8000-0000000000c1\",\"by\":\"a\\\"b\\u0001中\","
        "\"set\":{\"name\":\"杨\\\"再春\"}}";

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/j.db", dir);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK(mq_store_init(s, "tabA", NULL, &err) == 0);
    CHECK(mq_store_apply_change(s, change, "peer", &res, &err) == 0 &&
          res == MQ_REJECTED);
    CHECK_HAS(err.message, "field by: must be the id of a cadre record");
    /* The same change without its author, given the odd one in the log. */
    static const char fair[] = "{\"v\":\"0000000000000005-tabB\",\"type\":\"cadre\","
                               "\"id\":\"00000000-0000-4000-8000-0000000000c1\","
                               "\"set\":{\"name\":\"杨\\\"再春\"}}";
    CHECK(mq_store_apply_change(s, fair, "peer", &res, &err) == 0 && res == MQ_APPLIED);
    CHECK(sqlite3_exec(s->db, "UPDATE change SET by = 'a\"b' || char(1) || '中'", NULL,
                       NULL, NULL) == SQLITE_OK);
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *got = NULL, *want = cJSON_Parse(change);
    CHECK(mq_store_changes(s, &q, first_change, &got, NULL, &err) == 0);
    CHECK(got != NULL && cJSON_Compare(got, want, 1));
    cJSON_Delete(got);
    got = NULL;
    CHECK(mq_store_history(s, "00000000-0000-4000-8000-0000000000c1", first_change, &got,
                           &err) == 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(got, "by")), "a\"b\x01中");
    CHECK(cJSON_Compare(cJSON_GetObjectItem(got, "set"), cJSON_GetObjectItem(want, "set"),
                        1));
    cJSON_Delete(got);
    cJSON_Delete(want);
    mq_store_close(s);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    CHECK(system(path) == 0);
}

int main(void)
{
    RUN(test_forms);
    RUN(test_buffer);
    RUN(test_oom_is_remembered);
    RUN(test_odd_author_round_trips);
    return mq_test_done();
}
