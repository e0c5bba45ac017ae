/*
 * tests/core/test_hostile.c - what another replica, a forged bundle or a
 * careless caller may hand the store, and what the store must refuse:
 * edits of log records over the wire, forged authors and versions, values
 * cut by \u0000 or out of range, broken bundles, files that are not ours,
 * and clocks that run ahead.  Each case names the rule in the error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "harness.h"
#include "internal.h"
#include "minqing/minqing.h"

#define COUNTY  "00000000-0000-4000-8000-000000000001"
#define VILLAGE "00000000-0000-4000-8000-000000000002"
#define GROUP   "00000000-0000-4000-8000-000000000003"
#define CADRE   "00000000-0000-4000-8000-0000000000c1"
#define HH      "00000000-0000-4000-8000-0000000000a1"
#define NEED    "00000000-0000-4000-8000-0000000000d1"
#define ACT     "00000000-0000-4000-8000-0000000000d2"
#define VISIT   "00000000-0000-4000-8000-0000000000e1"

static char dir[] = "/tmp/mq-test-hostile-XXXXXX";
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

static int put(mq_store *s, const char *type, const char *id, const char *json)
{
    mq_error err;
    int rc = mq_store_put(s, type, id, json, NULL, NULL, &err);

    if (rc != 0)
        fprintf(stderr, "  put %s %s: %s\n", type, id, err.message);
    return rc;
}

static void seed(mq_store *s)
{
    put(s, "area", COUNTY, "{\"name\":\"永仁县\",\"level\":\"county\"}");
    put(s, "area", VILLAGE,
        "{\"name\":\"中和村委会\",\"level\":\"village\",\"parent\":\"" COUNTY "\"}");
    put(s, "area", GROUP,
        "{\"name\":\"立戈村民小组\",\"level\":\"group\",\"parent\":\"" VILLAGE "\"}");
    put(s, "cadre", CADRE, "{\"name\":\"杨再春\"}");
    put(s, "household", HH,
        "{\"area\":\"" GROUP "\",\"head_name\":\"李明\",\"head_id_number\":"
        "\"532327198001010015\",\"phone\":\"13800000000\",\"size\":3}");
}

static int collect(void *ctx, const char *json)
{
    cJSON_AddItemToArray(ctx, cJSON_Parse(json));
    return 0;
}

/* Applies every change of `from` to `to`; returns how many were refused. */
static int exchange(mq_store *from, mq_store *to)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *arr = cJSON_CreateArray();
    const cJSON *c;
    int refused = 0;
    mq_error err;

    CHECK(mq_store_changes(from, &q, collect, arr, NULL, &err) == 0);
    cJSON_ArrayForEach(c, arr)
    {
        char *txt = cJSON_PrintUnformatted(c);
        mq_apply_result res;
        CHECK(mq_store_apply_change(to, txt, "peer", &res, &err) == 0);
        if (res == MQ_REJECTED) {
            fprintf(stderr, "  rejected: %s\n", err.message);
            refused++;
        }
        free(txt);
    }
    cJSON_Delete(arr);
    return refused;
}

/* The version of the last change of record `id` on `s`. */
static void last_version(mq_store *s, const char *id, char out[MQ_VERSION_MAX])
{
    sqlite3_stmt *st;

    out[0] = '\0';
    if (sqlite3_prepare_v2(s->db, "SELECT v FROM change WHERE rid = ?1 ORDER BY seq DESC",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(out, MQ_VERSION_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
}

/* A version of site `site` stamped `ahead_ms` after `s`'s clock. */
static void stamp(mq_store *s, int64_t ahead_ms, const char *site, char out[64])
{
    snprintf(out, 64, "%012llx0000-%s",
             (unsigned long long)(mq_store_now_ms(s) + ahead_ms), site);
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

static size_t problems(mq_store *s)
{
    size_t n = 99;
    mq_error err;

    CHECK(mq_store_check(s, NULL, NULL, &n, &err) == 0);
    return n;
}

/* Applies `json`; returns the result and leaves the reason in `err`. */
static mq_apply_result apply(mq_store *s, const char *json, mq_error *err)
{
    mq_apply_result res = MQ_APPLIED;

    mq_error_clear(err);
    CHECK(mq_store_apply_change(s, json, "peer", &res, err) == 0);
    return res;
}

struct need_ctx {
    char status[32];
};

static int need_cb(void *ctx, const char *json)
{
    struct need_ctx *n = ctx;
    cJSON *o = cJSON_Parse(json);

    snprintf(n->status, sizeof(n->status), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(o, "status")));
    cJSON_Delete(o);
    return 0;
}

static const char *need_status(mq_store *s, struct need_ctx *n)
{
    mq_needs_query q = {0, NULL, "2012-05-20"};
    mq_error err;

    n->status[0] = '\0';
    CHECK(mq_store_needs(s, &q, need_cb, n, &err) == 0);
    return n->status;
}

/* ---- 1. log records are written once, over the wire too (M6) ------------ */

static void test_log_records_over_the_wire(void)
{
    mq_store *a = open_replica("tabA"), *b = open_replica("tabB");
    char v[64], made[MQ_VERSION_MAX], json[1024];
    struct need_ctx n;
    mq_error err;

    seed(a);
    put(a, "need", NEED,
        "{\"household\":\"" HH "\",\"category\":\"drinking_water\",\"description\":"
        "\"人畜饮水困难\",\"recorded_at\":\"2012-05-01\",\"deadline\":\"2012-05-16\"}");
    put(a, "need_action", ACT,
        "{\"need\":\"" NEED "\",\"action\":\"resolve\",\"by\":\"" CADRE
        "\",\"at\":\"2012-05-12\"}");
    put(a, "visit", VISIT,
        "{\"household\":\"" HH "\",\"cadre\":\"" CADRE "\",\"at\":\"2012-05-01\","
        "\"kind\":\"talk\",\"notes\":\"饮水\"}");
    CHECK(exchange(a, b) == 0);
    CHECK_STR(need_status(b, &n), "resolved");
    last_version(a, ACT, made);
    long long before = sql_int(b, "SELECT count(*) FROM change");

    /* An edit with a base: the closure card turned into a reopening. */
    stamp(b, 0, "evil", v);
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"need_action\",\"id\":\"" ACT "\","
             "\"set\":{\"action\":\"reopen\"},\"base\":{\"action\":[\"%s\"]}}",
             v, made);
    CHECK(apply(b, json, &err) == MQ_REJECTED);
    CHECK_HAS(err.message, "need_action " ACT " is a log record");
    CHECK_HAS(err.message, "written once and never edited (M6)");
    /* The same edit, arriving before the record: refused all the same. */
    mq_store *c = open_replica("tabC");
    CHECK(apply(c, json, &err) == MQ_REJECTED);
    CHECK_HAS(err.message, "(M6)");
    mq_store_close(c);

    /* A visit's notes rewritten without a base: a second creation that
     * differs from the one held here. */
    stamp(b, 1, "evil", v);
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"visit\",\"id\":\"" VISIT "\","
             "\"set\":{\"household\":\"" HH "\",\"cadre\":\"" CADRE "\","
             "\"at\":\"2012-05-01\",\"kind\":\"talk\",\"notes\":\"改了\"}}",
             v);
    CHECK(apply(b, json, &err) == MQ_REJECTED);
    CHECK_HAS(err.message, "visit " VISIT " is a log record");
    CHECK_HAS(err.message, "differs from the one held here in field notes");
    /* A part of it only: the missing fields differ too. */
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"need_action\",\"id\":\"" ACT "\","
             "\"set\":{\"action\":\"resolve\"}}",
             v);
    CHECK(apply(b, json, &err) == MQ_REJECTED);
    CHECK_HAS(err.message, "in field need");
    CHECK(sql_int(b, "SELECT count(*) FROM change") == before);
    CHECK_STR(need_status(b, &n), "resolved");

    /* A second creation with the same fields (the same file imported on two
     * replicas) is the same record: it is taken and changes nothing. */
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"need_action\",\"id\":\"" ACT "\","
             "\"set\":{\"need\":\"" NEED "\",\"action\":\"resolve\",\"by\":\"" CADRE
             "\",\"at\":\"2012-05-12\",\"note\":null}}",
             v);
    CHECK(apply(b, json, &err) == MQ_APPLIED);
    CHECK(apply(b, json, &err) == MQ_DUPLICATE);
    CHECK_STR(need_status(b, &n), "resolved");
    CHECK(sql_int(b, "SELECT count(*) FROM conflict") == 0);
    CHECK(problems(b) == 0);
    mq_store_close(a);
    mq_store_close(b);
}

/* ---- 2. identity and attribution ---------------------------------------- */

static void test_forged_authors(void)
{
    mq_store *a = open_replica("tabA");
    char v[64], json[1024];
    mq_error err;

    seed(a);
    long long before = sql_int(a, "SELECT count(*) FROM change");
    /* `by` names a cadre: not SQL text, control characters, a household or
     * anything that is not a record id. */
    const char *bad_by[] = {"\"x'); DROP TABLE change; --\"",
                            "\"00000000-0000-4000-8000-0000000000c1\\n\"",
                            "\"\\u0001\"",
                            "\"00000000-0000-4000-8000-0000000000C1\"",
                            "\"\"",
                            "17",
                            "[\"" CADRE "\"]",
                            "\"" HH "\""};
    for (size_t i = 0; i < sizeof(bad_by) / sizeof(bad_by[0]); i++) {
        stamp(a, (int64_t)i, "tabB", v);
        snprintf(json, sizeof(json),
                 "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\",\"by\":%s,"
                 "\"set\":{\"size\":4}}",
                 v, bad_by[i]);
        CHECK(apply(a, json, &err) == MQ_REJECTED);
        CHECK_HAS(err.message, "field by:");
        if (i + 1 == sizeof(bad_by) / sizeof(bad_by[0]))
            CHECK_HAS(err.message, "is a household record, not a cadre");
    }
    CHECK(sql_int(a, "SELECT count(*) FROM change") == before);
    /* A cadre this replica has not received yet may arrive later. */
    stamp(a, 100, "tabB", v);
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\","
             "\"by\":\"00000000-0000-4000-8000-0000000000c9\",\"set\":{\"size\":4}}",
             v);
    CHECK(apply(a, json, &err) == MQ_APPLIED);
    stamp(a, 101, "tabB", v);
    snprintf(json, sizeof(json),
             "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\","
             "\"by\":\"" CADRE "\",\"set\":{\"size\":5}}",
             v);
    CHECK(apply(a, json, &err) == MQ_APPLIED);

    /* --as names a live cadre of this store. */
    CHECK(mq_store_put(a, "household", HH, "{\"size\":6}", HH, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "is a household record, not a cadre");
    CHECK(mq_store_put(a, "household", HH, "{\"size\":6}",
                       "00000000-0000-4000-8000-0000000000c9", NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "no cadre record has this id");
    CHECK(mq_store_put(a, "household", HH, "{\"size\":6}", "robert'); --", NULL, &err) ==
          MQ_EINVAL);
    CHECK_HAS(err.message, "must be the id of a cadre record");
    CHECK(mq_store_delete(a, HH, GROUP, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "is a area record, not a cadre");
    CHECK(mq_store_put(a, "household", HH, "{\"size\":6}", CADRE, NULL, &err) == 0);
    put(a, "cadre", "00000000-0000-4000-8000-0000000000c2", "{\"name\":\"张三\"}");
    CHECK(mq_store_delete(a, "00000000-0000-4000-8000-0000000000c2", NULL, &err) == 0);
    CHECK(mq_store_put(a, "household", HH, "{\"size\":7}",
                       "00000000-0000-4000-8000-0000000000c2", NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "is deleted");
    CHECK(problems(a) == 0);
    mq_store_close(a);
}

static void test_forged_versions(void)
{
    mq_store *a = open_replica("tabA");
    char json[2048], site[64];
    mq_error err;
    int64_t now = mq_store_now_ms(a);

    seed(a);
    long long before = sql_int(a, "SELECT count(*) FROM change");
    memset(site, 'x', 33);
    site[33] = '\0';
    char v[12][128];
    snprintf(v[0], 128, "%011llx0000-tabB", (unsigned long long)now); /* 15 digits */
    snprintf(v[1], 128, "%013llx0000-tabB", (unsigned long long)now); /* 17 */
    snprintf(v[2], 128, "%016llx0000-tabB", (unsigned long long)now); /* 20 */
    snprintf(v[3], 128, "%012llX0000-tabB", (unsigned long long)now | 0xa0); /* upper */
    snprintf(v[4], 128, "%012llx0000-", (unsigned long long)now);
    snprintf(v[5], 128, "%012llx0000-tab B", (unsigned long long)now);
    snprintf(v[6], 128, "%012llx0000-%s", (unsigned long long)now, site);
    snprintf(v[7], 128, "%012llx0000-tab\\u00e9", (unsigned long long)now);
    snprintf(v[8], 128, "%012llx0000-tab\\\\x", (unsigned long long)now);
    snprintf(v[9], 128, "%012llx0000tabB", (unsigned long long)now);
    snprintf(v[10], 128, "+%011llx0000-tabB", (unsigned long long)now);
    snprintf(v[11], 128, "%012llx0000-tabB\\n", (unsigned long long)now);
    for (int i = 0; i < 12; i++) {
        snprintf(json, sizeof(json),
                 "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\","
                 "\"set\":{\"size\":4}}",
                 v[i]);
        CHECK(apply(a, json, &err) == MQ_REJECTED);
        CHECK_HAS(err.message, "field v: must be a version HHHHHHHHHHHHHHHH-SITE");
    }
    CHECK(sql_int(a, "SELECT count(*) FROM change") == before);
    mq_store_close(a);
}

/* ---- 3. values are never cut or changed --------------------------------- */

static FILE *stream(const char *text)
{
    FILE *f = tmpfile();

    if (f == NULL || fputs(text, f) == EOF)
        exit(2);
    rewind(f);
    return f;
}

static void collect_msg(void *ctx, const char *message)
{
    size_t used = strlen(ctx);
    snprintf((char *)ctx + used, 2048 - used, "%s\n", message);
}

static void test_nul_escapes_and_odd_numbers(void)
{
    mq_store *a = open_replica("tabA");
    char v[64], json[1024], msgs[2048];
    mq_error err;

    seed(a);
    long long before = sql_int(a, "SELECT count(*) FROM change");
    /* put: in every position of a string, in a reference, a tag, a name */
    const char *puts_[] = {
        "{\"head_name\":\"\\u0000李明\"}", "{\"head_name\":\"李\\u0000明\"}",
        "{\"head_name\":\"李明\\u0000\"}", "{\"area\":\"" GROUP "\\u0000x\"}",
        "{\"tags\":[\"低保户\\u0000\"]}",  "{\"size\":4,\"x\\u0000\":1}"};
    for (size_t i = 0; i < sizeof(puts_) / sizeof(puts_[0]); i++) {
        CHECK(mq_store_put(a, "household", HH, puts_[i], NULL, NULL, &err) == MQ_EINVAL);
        CHECK_HAS(err.message, "household " HH ": ");
        CHECK_HAS(err.message, "\\u0000 (a NUL character)");
    }
    CHECK_HAS(err.message, "a member name holds");
    CHECK(mq_store_put(a, "household", HH, puts_[1], NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "field head_name: a string holds \\u0000");
    /* An escaped backslash before "u0000" is text, not a NUL. */
    CHECK(put(a, "household", HH, "{\"address\":\"C:\\\\u0000\"}") == 0);
    /* 1e400 reads as infinity: refused, never stored as null. */
    CHECK(mq_store_put(a, "household", HH, "{\"size\":1e400}", NULL, NULL, &err) ==
          MQ_EINVAL);
    CHECK_HAS(err.message, "field size: must be a finite number (value a number beyond");
    CHECK(mq_store_put(a, "household", HH, "{\"income_per_capita_yuan\":-1e400}", NULL,
                       NULL, &err) == MQ_EINVAL);
    CHECK(mq_store_put(a, "household", HH, "{\"size\":NaN}", NULL, NULL, &err) ==
          MQ_EINVAL);
    CHECK(mq_store_put(a, "household", HH, "{\"size\":4} trailing", NULL, NULL, &err) ==
          MQ_EINVAL);
    CHECK(sql_int(a, "SELECT count(*) FROM change") == before + 1);
    before++;

    /* apply: the value, the id and the author */
    stamp(a, 0, "tabB", v);
    const char *sets[] = {"\"id\":\"" HH "\",\"set\":{\"head_name\":\"李\\u0000明\"}",
                          "\"id\":\"" HH "\\u0000\",\"set\":{\"size\":4}",
                          "\"id\":\"" HH "\",\"by\":\"" CADRE
                          "\\u0000\",\"set\":{\"size\":4}",
                          "\"id\":\"" HH "\",\"set\":{\"size\":1e400}",
                          "\"id\":\"" HH "\",\"set\":{\"size\":4}} {\"x\":1"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        snprintf(json, sizeof(json), "{\"v\":\"%s\",\"type\":\"household\",%s}", v,
                 sets[i]);
        CHECK(apply(a, json, &err) == MQ_REJECTED);
        if (i < 3)
            CHECK_HAS(err.message, "holds \\u0000 (a NUL character)");
        if (i == 0)
            CHECK_HAS(err.message, "field head_name");
        if (i == 3)
            CHECK_HAS(err.message, "must be a finite number");
    }

    /* import: reported with the line, the record and the field */
    msgs[0] = '\0';
    FILE *f =
        stream("{\"type\":\"household\",\"id\":\"" HH "\",\"fields\":{\"area\":\"" GROUP
               "\",\"head_name\":\"李\\u0000明\",\"head_id_number\":"
               "\"532327198001010015\"}}\n"
               "{\"type\":\"cadre\",\"id\":\"" CADRE "\",\"fields\":{\"name\":\"x\","
               "\"phone\":1e400}}\n");
    mq_import_opts io = {0, NULL, "in.jsonl", collect_msg, msgs};
    mq_import_stats st;
    CHECK(mq_store_import(a, f, &io, &st, &err) == MQ_EINVAL);
    fclose(f);
    CHECK_HAS(msgs, "line 1: household " HH ": field head_name: a string holds \\u0000");
    CHECK_HAS(msgs, "line 2: cadre " CADRE ": field phone:");
    CHECK(st.invalid == 2);

    /* a bundle holding it is refused whole */
    snprintf(json, sizeof(json),
             "{\"minqing\":\"bundle\",\"format\":1,\"site\":\"tabB\",\"since\":0}\n"
             "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\","
             "\"set\":{\"head_name\":\"\\u0000\"}}\n"
             "{\"end\":true,\"changes\":1,\"next\":1}\n",
             v);
    f = stream(json);
    mq_apply_opts ao = {1, "usb.bundle", NULL, NULL};
    CHECK(mq_store_apply_bundle(a, f, &ao, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "usb.bundle line 2: change ");
    CHECK_HAS(err.message, "field head_name: a string holds \\u0000");
    fclose(f);
    CHECK(sql_int(a, "SELECT count(*) FROM change") == before);
    CHECK(sql_int(a, "SELECT count(*) FROM rejected") == 0);
    mq_store_close(a);

    /* What a server scans a pushed body with before it parses it. */
    static const char body[] = "{\"changes\":[{\"set\":{\"notes\":\"x\\u0000\"}}]}";
    CHECK(mq_json_check_text(body, sizeof(body) - 1, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "field notes: a string holds \\u0000");
    CHECK(mq_json_check_text("{\"a\":1}\0", 8, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "NUL byte");
    CHECK(mq_json_check_text("{\"a\":\"\\\\u0000\"}", 14, &err) == 0);
}

/* ---- 4. bundles --------------------------------------------------------- */

/* The bundle of every change of `s`, as text (the caller frees). */
static char *bundle_of(mq_store *s, size_t *len)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    char *text = NULL;
    mq_error err;
    FILE *f = open_memstream(&text, len);

    CHECK(f != NULL && mq_store_write_bundle(s, &q, f, NULL, &err) == 0);
    fclose(f);
    return text;
}

static int apply_text(mq_store *s, const char *text, size_t len, int skip, mq_error *err)
{
    FILE *f = fmemopen((void *)text, len, "r");
    mq_apply_opts o = {skip, "usb.bundle", NULL, NULL};
    mq_apply_stats st;

    mq_error_clear(err);
    int rc = mq_store_apply_bundle(s, f, &o, &st, err);
    fclose(f);
    return rc;
}

static void test_end_line_counts(void)
{
    mq_store *a = open_replica("tabA"), *b = open_replica("tabB");
    size_t len;
    mq_error err;

    seed(a);
    char *text = bundle_of(a, &len);
    char *end = strstr(text, "{\"end\"");
    const char *counts[] = {
        "-1",   "-9223372036854775808", "1e300", "-1e400", "1e400", "4.5", "\"5\"",
        "null", "18446744073709551621"};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        char buf[4096];
        snprintf(buf, sizeof(buf), "%.*s{\"end\":true,\"changes\":%s,\"next\":5}\n",
                 (int)(end - text), text, counts[i]);
        CHECK(apply_text(b, buf, strlen(buf), 1, &err) == MQ_EINVAL);
        CHECK_HAS(err.message, "the end line must count the changes of the bundle, 5");
    }
    CHECK(sql_int(b, "SELECT count(*) FROM change") == 0);
    free(text);
    mq_store_close(a);
    mq_store_close(b);
}

static void test_bit_flips(void)
{
    mq_store *a = open_replica("tabA"), *b = open_replica("tabB");
    size_t len, refused = 0, same = 0;
    mq_error err;

    seed(a);
    char *text = bundle_of(a, &len);
    CHECK_HAS(text, "\"format\":2,\"check\":\"crc32\"");
    CHECK(apply_text(b, text, len, 0, &err) == 0);
    long long total = sql_int(b, "SELECT count(*) FROM change");
    CHECK(total == 5);
    mq_store_close(b);
    /* Every byte of the bundle, one bit each: refused whole, writing
     * nothing; or taken with no value changed: a frame line that lost its
     * check's name, or, with --skip-invalid, a change the flip made invalid,
     * kept as rejected while the intact ones apply. */
    for (size_t i = 0; i + 1 < len; i++) {
        for (int skip = (int)(i % 2); skip == (int)(i % 2); skip++) {
            b = open_replica("tabB");
            text[i] ^= (char)(1 << ((i + (size_t)skip * 3) % 8));
            int rc = apply_text(b, text, len, skip, &err);
            text[i] ^= (char)(1 << ((i + (size_t)skip * 3) % 8));
            long long n = sql_int(b, "SELECT count(*) FROM change");
            long long r = sql_int(b, "SELECT count(*) FROM rejected");
            if (rc != 0) {
                refused++;
                CHECK(n == 0 && r == 0);
            } else {
                same++;
                CHECK(n + r == total && (skip || r == 0));
                sqlite3_stmt *st;
                CHECK(sqlite3_prepare_v2(b->db, "SELECT v, rid FROM change", -1, &st,
                                         NULL) == SQLITE_OK);
                while (sqlite3_step(st) == SQLITE_ROW) {
                    const char *rid = (const char *)sqlite3_column_text(st, 1);
                    char *got = NULL, *want = NULL;
                    CHECK(strstr(text, (const char *)sqlite3_column_text(st, 0)) != NULL);
                    CHECK(mq_store_get(b, rid, &got, &err) == 0);
                    CHECK(mq_store_get(a, rid, &want, &err) == 0);
                    CHECK_STR(got, want);
                    free(got);
                    free(want);
                }
                sqlite3_finalize(st);
            }
            mq_store_close(b);
        }
    }
    CHECK(refused > 2 * same);
    /* A change slipped in with no check, valid or not. */
    char v[64], buf[8192];
    char *end = strstr(text, "{\"end\"");
    stamp(a, 0, "tabC", v);
    snprintf(buf, sizeof(buf),
             "%.*s{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\","
             "\"set\":{\"size\":9}}\n{\"end\":true,\"changes\":6,\"next\":6}\n",
             (int)(end - text), text, v);
    b = open_replica("tabB");
    CHECK(apply_text(b, buf, strlen(buf), 1, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "has lost its check (crc32");
    CHECK_HAS(err.message, "damaged or altered; nothing applied");
    CHECK(sql_int(b, "SELECT count(*) FROM change") == 0);
    /* A bundle of format 1 has no check, and applies as it did. */
    snprintf(buf, sizeof(buf),
             "{\"minqing\":\"bundle\",\"format\":1}\n"
             "{\"v\":\"%s\",\"type\":\"cadre\",\"id\":\"" CADRE "\","
             "\"set\":{\"name\":\"杨再春\"}}\n{\"end\":true,\"changes\":1,\"next\":1}\n",
             v);
    CHECK(apply_text(b, buf, strlen(buf), 0, &err) == 0);
    CHECK(sql_int(b, "SELECT count(*) FROM change") == 1);
    mq_store_close(b);
    b = open_replica("tabB");
    mq_store_close(b);
    free(text);
    mq_store_close(a);
}

/* ---- 7. clocks ---------------------------------------------------------- */

static int64_t stamped_ms(mq_store *s, const char *id)
{
    char v[MQ_VERSION_MAX];
    uint64_t clock = 0;

    last_version(s, id, v);
    mq__version_parse(v, &clock, NULL);
    return mq__hlc_ms(clock);
}

static void test_far_future_stamps(void)
{
    mq_store *a = open_replica("tabA");
    char v[64], json[512];
    const int64_t day = 86400000;
    mq_error err;

    seed(a);
#define BODY                                                                             \
    "{\"v\":\"%s\",\"type\":\"household\",\"id\":\"" HH "\",\"set\":{\"size\":%d}}"
    /* The year 10889: the greatest stamp 48 bits hold. */
    snprintf(json, sizeof(json), BODY, "ffffffffffff0000-evil", 9);
    CHECK(apply(a, json, &err) == MQ_REJECTED);
    CHECK_HAS(err.message, "field v: stamped 10889-");
    CHECK_HAS(err.message, "more than 7 days after this replica's clock");
    stamp(a, 8 * day, "evil", v);
    snprintf(json, sizeof(json), BODY, v, 8);
    CHECK(apply(a, json, &err) == MQ_REJECTED);
    /* Days ahead (a tablet not yet corrected) are taken, and lose to an edit
     * made after seeing them. */
    stamp(a, 3 * day, "fast", v);
    snprintf(json, sizeof(json), BODY, v, 5);
    CHECK(apply(a, json, &err) == MQ_APPLIED);
    CHECK(put(a, "household", HH, "{\"size\":6}") == 0);
    char *got = NULL;
    CHECK(mq_store_get(a, HH, &got, &err) == 0);
    CHECK_HAS(got, "\"size\":6");
    free(got);
    /* A receiver whose clock is corrected judges by the corrected time. */
    CHECK(mq_store_set_clock_offset(a, 20 * day, &err) == 0);
    stamp(a, 0, "evil", v);
    CHECK(mq_store_set_clock_offset(a, 0, &err) == 0);
    snprintf(json, sizeof(json), BODY, v, 7);
    CHECK(apply(a, json, &err) == MQ_REJECTED);
    CHECK(problems(a) == 0);
    mq_store_close(a);
#undef BODY
}

static void test_clock_recovers_after_correction(void)
{
    mq_store *t = open_replica("tab");
    const int64_t day = 86400000;
    mq_error err;

    seed(t);
    /* The tablet's clock runs three days ahead, and it writes so. */
    CHECK(mq_store_set_clock_offset(t, 3 * day, &err) == 0);
    CHECK(put(t, "household", HH, "{\"size\":4}") == 0);
    int64_t real = mq_store_now_ms(t) - 3 * day;
    CHECK(stamped_ms(t, HH) > real + 2 * day);
    /* Sync corrects it: the next stamps follow the corrected clock. */
    CHECK(mq_store_set_clock_offset(t, 0, &err) == 0);
    CHECK(put(t, "household", HH, "{\"size\":5}") == 0);
    CHECK(stamped_ms(t, HH) < mq_store_now_ms(t) + 2 * 60 * 1000);
    /* ...in another handle on the file too, and after reopening it. */
    char path[256];
    mq_store *u = NULL;
    snprintf(path, sizeof(path), "%s", t->path);
    CHECK(mq_store_open(&u, path, &err) == 0);
    CHECK(mq_store_put(u, "household", HH, "{\"size\":6}", NULL, NULL, &err) == 0);
    CHECK(stamped_ms(u, HH) < mq_store_now_ms(u) + 2 * 60 * 1000);
    mq_store_close(u);

    /* Never a version issued before: stamps at the next two seconds, as a
     * tablet ahead would have issued them, are in the log already (one may
     * be there already: the put above may have stamped within them). */
    int64_t now = mq_store_now_ms(t);
    CHECK(sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
    for (int64_t ms = now; ms < now + 2000; ms++) {
        char sql[256];
        snprintf(
            sql, sizeof(sql),
            "INSERT OR IGNORE INTO change(v, rid, type, body) VALUES('%012llx%04x-tab',"
            " '00000000-0000-4000-8000-00000000beef', 'cadre', '{}')",
            (unsigned long long)ms, 0);
        CHECK(sqlite3_exec(t->db, sql, NULL, NULL, NULL) == SQLITE_OK);
    }
    CHECK(sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    long long before = sql_int(t, "SELECT count(*) FROM change");
    for (int i = 0; i < 30; i++) {
        char json[64];
        snprintf(json, sizeof(json), "{\"size\":%d}", 10 + i);
        CHECK(put(t, "household", HH, json) == 0);
    }
    CHECK(sql_int(t, "SELECT count(*) FROM change") == before + 30);
    char *got = NULL;
    CHECK(mq_store_get(t, HH, &got, &err) == 0);
    CHECK_HAS(got, "\"size\":39");
    free(got);
    mq_store_close(t);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 2;
    RUN(test_log_records_over_the_wire);
    RUN(test_forged_authors);
    RUN(test_forged_versions);
    RUN(test_nul_escapes_and_odd_numbers);
    RUN(test_end_line_counts);
    RUN(test_bit_flips);
    RUN(test_far_future_stamps);
    RUN(test_clock_recovers_after_correction);
    return mq_test_done();
}
