/*
 * tests/reports/test_report.c - the report's public calls on their own:
 * the day rule, an empty replica (zeros and null rates), the errors and
 * their codes, a report inside a caller's transaction, a report that
 * writes nothing, the labels, and the needs list's filters.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "minqing/minqing.h"
#include "minqing/report.h"

#define COUNTY "00000000-0000-4000-8000-000000000001"
#define GROUP  "00000000-0000-4000-8000-000000000003"
#define CADRE  "00000000-0000-4000-8000-0000000000c1"
#define HH     "00000000-0000-4000-8000-0000000000a1"
#define NEED   "00000000-0000-4000-8000-0000000000d1"

static char dir[] = "/tmp/mq-test-report-XXXXXX";

static mq_store *open_store(const char *name)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    if (mq_store_open(&s, path, &err) != 0 || mq_store_init(s, "rep", NULL, &err) != 0) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    return s;
}

static void put(mq_store *s, const char *type, const char *id, const char *fields)
{
    mq_error err;

    if (mq_store_put(s, type, id, fields, NULL, NULL, &err) != 0) {
        fprintf(stderr, "put %s: %s\n", type, err.message);
        exit(2);
    }
}

static cJSON *report(mq_store *s, const char *area, const char *as_of, const char *from)
{
    mq_report_query q = {area, as_of, from};
    char *out = NULL;
    mq_error err;

    if (mq_report_json(s, &q, &out, &err) != 0) {
        fprintf(stderr, "report: %s\n", err.message);
        return NULL;
    }
    cJSON *doc = cJSON_Parse(out);
    mq_free(out);
    return doc;
}

static const cJSON *at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

    return b != NULL ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

static void test_day_rule(void)
{
    mq_error err;

    CHECK(mq_report_check_day("2012-02-29", &err) == 0);
    CHECK(mq_report_check_day("2000-02-29", &err) == 0);
    CHECK(mq_report_check_day("1900-02-29", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "\"1900-02-29\" is not a real calendar date");
    CHECK(mq_report_check_day("2011-02-29", &err) == MQ_EINVAL);
    CHECK(mq_report_check_day("2012-04-31", &err) == MQ_EINVAL);
    CHECK(mq_report_check_day("2012-6-30", &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "YYYY-MM-DD");
    CHECK(mq_report_check_day(NULL, &err) == MQ_EINVAL);
}

static void test_empty_replica(void)
{
    mq_store *s = open_store("empty");
    cJSON *doc = report(s, NULL, "2012-06-30", NULL);

    CHECK(doc != NULL);
    CHECK_STR(cJSON_GetStringValue(at(doc, "as_of", NULL)), "2012-06-30");
    CHECK(cJSON_IsNull(at(doc, "from", NULL)));
    CHECK(cJSON_GetArraySize(at(doc, "areas", NULL)) == 0);
    CHECK(cJSON_GetArraySize(at(doc, "cadres", NULL)) == 0);
    CHECK(cJSON_GetArraySize(at(doc, "income", NULL)) == 0);
    const cJSON *needs = at(at(doc, "total", NULL), "needs", NULL);
    CHECK(at(needs, "registered", NULL)->valuedouble == 0);
    CHECK(cJSON_IsNull(at(needs, "completion_rate", NULL)));
    CHECK(cJSON_IsNull(at(needs, "median_days_to_resolve", NULL)));
    CHECK(at(at(needs, "satisfaction", NULL), "satisfied", NULL)->valuedouble == 0);
    CHECK(cJSON_IsNull(at(at(at(doc, "total", NULL), "petitions", NULL), "rate", NULL)));
    CHECK(at(at(at(doc, "total", NULL), "visits", NULL), "talk", NULL)->valuedouble == 0);
    cJSON_Delete(doc);
    /* no day given: today on the replica's clock */
    doc = report(s, NULL, NULL, NULL);
    CHECK(doc != NULL && strlen(cJSON_GetStringValue(at(doc, "as_of", NULL))) == 10);
    cJSON_Delete(doc);
    mq_store_close(s);
}

static void seed(mq_store *s)
{
    put(s, "area", COUNTY, "{\"name\":\"永仁县\",\"level\":\"county\"}");
    put(s, "area", GROUP,
        "{\"name\":\"立戈村民小组\",\"level\":\"group\",\"parent\":\"" COUNTY "\"}");
    put(s, "cadre", CADRE, "{\"name\":\"李春全\"}");
    put(s, "household", HH,
        "{\"area\":\"" GROUP "\",\"head_name\":\"王国兴\","
        "\"head_id_number\":\"532327198001010015\",\"paired_cadre\":\"" CADRE "\"}");
    put(s, "need", NEED,
        "{\"household\":\"" HH "\",\"category\":\"housing\",\"description\":\"房屋漏雨\","
        "\"recorded_by\":\"" CADRE "\",\"recorded_at\":\"2012-05-01\","
        "\"deadline\":\"2012-05-16\"}");
    put(s, "need_action", NULL,
        "{\"need\":\"" NEED "\",\"action\":\"accept\",\"by\":\"" CADRE
        "\",\"at\":\"2012-05-01\"}");
}

static void test_errors(void)
{
    mq_store *s = open_store("errors");
    mq_report_query q = {NULL, "2012-02-30", NULL};
    char *out = (char *)"untouched";
    mq_error err;

    seed(s);
    CHECK(mq_report_json(s, &q, &out, &err) == MQ_EINVAL);
    CHECK(out == NULL);
    CHECK_HAS(err.message, "as_of \"2012-02-30\"");
    q.as_of = "2012-06-30";
    q.from = "2012-07-01";
    CHECK(mq_report_json(s, &q, &out, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "from \"2012-07-01\"");
    q.from = NULL;
    q.area = "00000000-0000-4000-8000-00000000ffff";
    CHECK(mq_report_json(s, &q, &out, &err) == MQ_ENOTFOUND);
    CHECK_HAS(err.message, "no record of this id");
    q.area = HH;
    CHECK(mq_report_json(s, &q, &out, &err) == MQ_ENOTFOUND);
    CHECK_HAS(err.message, "not an area");
    q.area = "Not-A-UUID";
    CHECK(mq_report_json(s, &q, &out, &err) == MQ_ENOTFOUND);
    mq_store_close(s);
}

/* Counts the changes in the log: a report must add none. */
static int count_cb(void *ctx, const char *json)
{
    (void)json;
    (*(int *)ctx)++;
    return 0;
}

static int nchanges(mq_store *s)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    mq_error err;
    int n = 0;

    mq_store_changes(s, &q, count_cb, &n, NULL, &err);
    return n;
}

static void test_read_only_and_in_transaction(void)
{
    mq_store *s = open_store("tx");
    mq_error err;

    seed(s);
    int before = nchanges(s);
    cJSON *doc = report(s, GROUP, "2012-05-20", NULL);
    CHECK(doc != NULL);
    CHECK(at(at(at(doc, "total", NULL), "needs", NULL), "overdue", NULL)->valuedouble ==
          1);
    cJSON_Delete(doc);
    CHECK(nchanges(s) == before);
    /* inside the caller's transaction, twice, then a write still works */
    CHECK(mq_store_begin(s, &err) == 0);
    doc = report(s, NULL, "2012-05-20", NULL);
    CHECK(doc != NULL);
    cJSON_Delete(doc);
    doc = report(s, NULL, "2012-05-10", NULL);
    CHECK(doc != NULL &&
          at(at(at(doc, "total", NULL), "needs", NULL), "overdue", NULL)->valuedouble ==
              0);
    cJSON_Delete(doc);
    put(s, "need_action", NULL,
        "{\"need\":\"" NEED "\",\"action\":\"resolve\",\"by\":\"" CADRE
        "\",\"at\":\"2012-05-12\"}");
    CHECK(mq_store_commit(s, &err) == 0);
    doc = report(s, NULL, "2012-05-20", NULL);
    CHECK(doc != NULL &&
          at(at(at(doc, "total", NULL), "needs", NULL), "resolved", NULL)->valuedouble ==
              1);
    cJSON_Delete(doc);
    mq_store_close(s);
}

static void test_labels(void)
{
    mq_store *s = open_store("labels");
    char *out = NULL;
    mq_error err;

    CHECK(mq_report_labels(s, &out, &err) == 0);
    CHECK_HAS(out, "\"drinking_water\":\"饮水\"");
    CHECK_HAS(out, "\"blue\":\"蓝\"");
    mq_free(out);
    mq_store_close(s);
}

static int first_status(void *ctx, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    snprintf(ctx, 32, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")));
    cJSON_Delete(o);
    return 0;
}

static void test_needs_filters(void)
{
    mq_store *s = open_store("needs");
    mq_report_needs_query q = {NULL, "2012-05-20", CADRE, "housing", NULL, 0};
    char status[32] = "";
    mq_error err;

    seed(s);
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == 0);
    CHECK_STR(status, "overdue");
    status[0] = '\0';
    q.category = "medical";
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == 0);
    CHECK_STR(status, "");
    q.category = "no_such";
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "category \"no_such\"");
    q.category = NULL;
    q.cadre = HH;
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == MQ_ENOTFOUND);
    CHECK_HAS(err.message, "not a cadre");
    q.cadre = NULL;
    q.status = "late";
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == MQ_EINVAL);
    q.status = "open";
    q.overdue_only = 1;
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == MQ_EINVAL);
    q.status = NULL;
    q.as_of = "2012-04-30"; /* before the need was recorded */
    status[0] = '\0';
    q.overdue_only = 0;
    CHECK(mq_report_needs(s, &q, first_status, status, &err) == 0);
    CHECK_STR(status, "");
    mq_store_close(s);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_day_rule);
    RUN(test_empty_replica);
    RUN(test_errors);
    RUN(test_read_only_and_in_transaction);
    RUN(test_labels);
    RUN(test_needs_filters);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return mq_test_done();
}
