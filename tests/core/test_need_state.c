/*
 * tests/core/test_need_state.c - the state of each need kept beside the
 * records (core/need_state.c): after random writes, merges in any order,
 * deletes and moves on two replicas, need_state equals a fold of the log
 * (mq_store_check() finds nothing), the two replicas hold the same table,
 * and every needs list read from it equals the list the fold of its day
 * gives; `check` finds a row that was tampered with; a store without the
 * table gets it filled when it opens.
 */
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "harness.h"
#include "internal.h"
#include "minqing/minqing.h"
#include "minqing/report.h"
#include "need_state.h"

#define COUNTY   "00000000-0000-4000-8000-000000000001"
#define VILLAGE  "00000000-0000-4000-8000-000000000002"
#define NCADRES  3
#define NHOUSES  6
#define NGROUPS  2
#define MAXNEEDS 200

static char dir[] = "/tmp/mq-test-need-state-XXXXXX";

static const char *const groups[NGROUPS] = {"00000000-0000-4000-8000-000000000003",
                                            "00000000-0000-4000-8000-000000000004"};
static const char *const cadres[NCADRES] = {"00000000-0000-4000-8000-0000000000c1",
                                            "00000000-0000-4000-8000-0000000000c2",
                                            "00000000-0000-4000-8000-0000000000c3"};
static char houses[NHOUSES][40];
static char needs[MAXNEEDS][40];
static int nneeds;

/* xorshift64*: the same sequence on every run */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned pick(unsigned n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (unsigned)((rng * 2685821657736338717ull) >> 33) % n;
}

static mq_store *open_store(const char *name, const char *site)
{
    char path[256];
    mq_store *s = NULL;
    mq_error err;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    if (mq_store_open(&s, path, &err) != 0 ||
        (site != NULL && mq_store_init(s, site, cadres[0], &err) != 0)) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    return s;
}

static int put(mq_store *s, const char *type, const char *id, const char *json)
{
    mq_error err;
    return mq_store_put(s, type, id, json, NULL, NULL, &err);
}

/* A resident identity number with its GB 11643 check digit. */
static void id_number(char out[19], unsigned serial)
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[] = "10X98765432";
    int sum = 0;

    snprintf(out, 19, "53232719800101%03u", serial % 1000);
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = check[sum % 11];
    out[18] = '\0';
}

static int collect(void *ctx, const char *json)
{
    cJSON_AddItemToArray(ctx, cJSON_Parse(json));
    return 0;
}

/* Hands every change of `from` to `to`, in an order shuffled by the seed
 * (duplicates and any order: M1, M2). */
static void deliver(mq_store *from, mq_store *to)
{
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    cJSON *arr = cJSON_CreateArray();
    mq_error err;
    int n;

    CHECK(mq_store_changes(from, &q, collect, arr, NULL, &err) == 0);
    n = cJSON_GetArraySize(arr);
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)pick((unsigned)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    /* One transaction for the lot, as a pushed batch: the commit refolds. */
    CHECK(mq_store_begin(to, &err) == 0);
    for (int i = 0; i < n; i++) {
        char *txt = cJSON_PrintUnformatted(cJSON_GetArrayItem(arr, order[i]));
        mq_apply_result res;
        CHECK(mq_store_apply_change(to, txt, "peer", &res, &err) == 0);
        free(txt);
    }
    CHECK(mq_store_commit(to, &err) == 0);
    free(order);
    cJSON_Delete(arr);
}

/* The first problem `check` finds goes to `first`. */
typedef struct first_problem {
    char *first;
    size_t n;
} first_problem;

static void on_problem(void *ctx, const char *msg)
{
    first_problem *c = ctx;
    if (c->first[0] == '\0')
        snprintf(c->first, c->n, "%s", msg);
}

static size_t problems(mq_store *s, char *first, size_t n)
{
    size_t k = 99;
    mq_error err;
    first_problem c = {first, n};

    first[0] = '\0';
    CHECK(mq_store_check(s, on_problem, &c, &k, &err) == 0);
    return k;
}

static int append_line(void *ctx, const char *json)
{
    char **acc = ctx;
    size_t have = *acc ? strlen(*acc) : 0, add = strlen(json);
    *acc = realloc(*acc, have + add + 2);
    memcpy(*acc + have, json, add);
    (*acc)[have + add] = '\n';
    (*acc)[have + add + 1] = '\0';
    return 0;
}

/* The lines of one list, through need_state (fold 0) or the day's fold. */
static char *lines(mq_store *s, const mq_report_needs_query *q,
                   const mq_report_needs_filter *f, int fold)
{
    char *acc = NULL;
    mq_error err;

    mq__need_state_lists_fold(s, fold);
    int rc = mq_report_needs_filtered(s, q, f, append_line, &acc, &err);
    mq__need_state_lists_fold(s, 0);
    if (rc != 0) {
        fprintf(stderr, "  list: %s\n", err.message);
        CHECK(rc == 0);
    }
    return acc != NULL ? acc : calloc(1, 1);
}

/* Every list of a handful of days and filters is the same both ways. */
static void same_lists(mq_store *s)
{
    static const char *const days[] = {NULL, "2024-01-20", "2024-02-15", "2999-12-31"};
    static const char *const statuses[] = {NULL,       "overdue",    "open",
                                           "resolved", "registered", "reopened"};
    for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
        for (int k = 0; k < 9; k++) {
            mq_report_needs_query q;
            mq_report_needs_filter f;
            memset(&q, 0, sizeof q);
            memset(&f, 0, sizeof f);
            q.as_of = days[d];
            switch (k) {
            case 1:
                f.handler = cadres[pick(NCADRES)], f.open_only = 1;
                break;
            case 2:
                f.household = houses[pick(NHOUSES)];
                break;
            case 3:
                f.need = nneeds > 0 ? needs[pick((unsigned)nneeds)] : NULL;
                break;
            case 4:
                q.area = groups[pick(NGROUPS)];
                break;
            case 5:
                q.status = statuses[pick(6)], f.limit = 1 + pick(4);
                break;
            case 6:
                f.source = "petition_visit", q.category = "housing";
                break;
            case 7:
                q.cadre = cadres[pick(NCADRES)];
                break;
            case 8:
                q.area = VILLAGE, q.overdue_only = 1;
                break;
            default:
                break;
            }
            char *fast = lines(s, &q, &f, 0), *slow = lines(s, &q, &f, 1);
            if (strcmp(fast, slow) != 0)
                fprintf(stderr, "  day %s, filter %d: the lists differ\n",
                        days[d] ? days[d] : "today", k);
            CHECK_STR(fast, slow);
            free(fast);
            free(slow);
        }
    }
}

/* need_state as text, by SQL on a connection of its own. */
static char *table_text(const char *name)
{
    char path[256], *acc = NULL;
    sqlite3 *db;
    sqlite3_stmt *st;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(
        sqlite3_prepare_v2(db,
                           "SELECT json_array(id, rarea, area, household, category,"
                           " source, recorded_by, recorded_at, deadline, status, handler,"
                           " accepted, accepted_by, resolved_at, satisfaction, actions,"
                           " horizon) FROM need_state ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        append_line(&acc, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return acc != NULL ? acc : calloc(1, 1);
}

static void sql_on(const char *name, const char *sql)
{
    char path[256];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "  %s: %s\n", sql, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

static void random_day(char out[11], int ahead)
{
    if (ahead)
        snprintf(out, 11, "%04u-%02u-%02u", 2090 + pick(9), 1 + pick(12), 1 + pick(28));
    else
        snprintf(out, 11, "2024-%02u-%02u", 1 + pick(3), 1 + pick(28));
}

static int live(mq_store *s, const char *id)
{
    char *json = NULL;
    mq_error err;
    int ok = mq_store_get(s, id, &json, &err) == 0 && strstr(json, "\"deleted\"") == NULL;
    mq_free(json);
    return ok;
}

/* One random write on `s`. */
static void step(mq_store *s)
{
    char json[512], day[11], day2[11];
    static const char *const categories[] = {"housing", "medical", "education"};
    static const char *const sources[] = {"home_visit", "petition_visit", "phone"};
    static const char *const acts[] = {"accept", "progress", "transfer", "resolve",
                                       "reopen"};
    unsigned op = pick(10);

    if (op < 3 && nneeds < MAXNEEDS) {
        char id[40];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", 0x100000 + nneeds);
        random_day(day, 0);
        random_day(day2, pick(8) == 0);
        if (pick(5) == 0) /* a need of a group, with no household */
            snprintf(json, sizeof json,
                     "{\"area\":\"%s\",\"category\":\"%s\",\"description\":\"x\","
                     "\"source\":\"%s\",\"recorded_at\":\"%s\",\"deadline\":\"%s\","
                     "\"recorded_by\":\"%s\"}",
                     groups[pick(NGROUPS)], categories[pick(3)], sources[pick(3)], day,
                     day2, cadres[pick(NCADRES)]);
        else
            snprintf(json, sizeof json,
                     "{\"household\":\"%s\",\"category\":\"%s\",\"description\":\"x\","
                     "\"source\":\"%s\",\"recorded_at\":\"%s\",\"deadline\":\"%s\","
                     "\"recorded_by\":\"%s\"}",
                     houses[pick(NHOUSES)], categories[pick(3)], sources[pick(3)], day,
                     day2, cadres[pick(NCADRES)]);
        if (put(s, "need", id, json) == 0)
            snprintf(needs[nneeds++], sizeof needs[0], "%s", id);
        return;
    }
    if (nneeds == 0)
        return;
    const char *need = needs[pick((unsigned)nneeds)];
    if (!live(s, need))
        return;
    if (op < 7) {
        const char *act = acts[pick(5)];
        random_day(day, pick(10) == 0); /* now and then dated ahead */
        int n = snprintf(json, sizeof json,
                         "{\"need\":\"%s\",\"action\":\"%s\",\"by\":\"%s\",\"at\":\"%s\"",
                         need, act, cadres[pick(NCADRES)], day);
        if (strcmp(act, "transfer") == 0)
            n += snprintf(json + n, sizeof json - (size_t)n, ",\"to\":\"%s\"",
                          cadres[pick(NCADRES)]);
        if (strcmp(act, "resolve") == 0)
            n +=
                snprintf(json + n, sizeof json - (size_t)n,
                         ",\"satisfaction\":\"satisfied\",\"amount_yuan\":%u", pick(900));
        snprintf(json + n, sizeof json - (size_t)n, "}");
        put(s, "need_action", NULL, json);
    } else if (op == 7) {
        random_day(day, pick(6) == 0);
        snprintf(json, sizeof json, "{\"deadline\":\"%s\",\"category\":\"%s\"}", day,
                 categories[pick(3)]);
        put(s, "need", need, json);
    } else if (op == 8) {
        if (pick(3) == 0) {
            mq_error err;
            mq_store_delete(s, need, NULL, &err);
        } else { /* a household moves: its needs follow it */
            snprintf(json, sizeof json, "{\"area\":\"%s\"}", groups[pick(NGROUPS)]);
            put(s, "household", houses[pick(NHOUSES)], json);
        }
    } else {
        snprintf(json, sizeof json, "{\"household\":\"%s\"}", houses[pick(NHOUSES)]);
        put(s, "need", need, json);
    }
}

static void test_random_writes_and_merges(void)
{
    mq_store *a = open_store("a", "site-a"), *b = open_store("b", "site-b");
    char json[512], first[512];

    CHECK(put(a, "area", COUNTY, "{\"name\":\"县\",\"level\":\"county\"}") == 0);
    snprintf(json, sizeof json,
             "{\"name\":\"村\",\"level\":\"village\",\"parent\":\"%s\"}", COUNTY);
    CHECK(put(a, "area", VILLAGE, json) == 0);
    for (int g = 0; g < NGROUPS; g++) {
        snprintf(json, sizeof json,
                 "{\"name\":\"组%d\",\"level\":\"group\",\"parent\":\"%s\"}", g, VILLAGE);
        CHECK(put(a, "area", groups[g], json) == 0);
    }
    for (int c = 0; c < NCADRES; c++) {
        snprintf(json, sizeof json, "{\"name\":\"干部%d\"}", c);
        CHECK(put(a, "cadre", cadres[c], json) == 0);
    }
    for (int h = 0; h < NHOUSES; h++) {
        char idn[19];
        id_number(idn, (unsigned)h);
        snprintf(houses[h], sizeof houses[h], "00000000-0000-4000-8000-0000000a%04d", h);
        snprintf(json, sizeof json,
                 "{\"area\":\"%s\",\"head_name\":\"户%d\",\"head_id_number\":\"%s\"}",
                 groups[h % NGROUPS], h, idn);
        CHECK(put(a, "household", houses[h], json) == 0);
    }
    deliver(a, b);

    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 40; i++)
            step(pick(2) ? a : b);
        /* Half the time one way only: a replica that has not heard yet. */
        deliver(a, b);
        if (round % 2 == 0)
            deliver(b, a);
        CHECK(problems(a, first, sizeof first) == 0);
        if (first[0])
            fprintf(stderr, "  a: %s\n", first);
        CHECK(problems(b, first, sizeof first) == 0);
        if (first[0])
            fprintf(stderr, "  b: %s\n", first);
        same_lists(a);
        same_lists(b);
    }
    deliver(a, b);
    deliver(b, a);
    mq_store_close(a);
    mq_store_close(b);
    /* Convergence: the same changes, the same table (N1 with M2). */
    char *ta = table_text("a"), *tb = table_text("b");
    CHECK(strlen(ta) > 0);
    CHECK_STR(ta, tb);
    free(ta);
    free(tb);
}

static void test_check_finds_tampering(void)
{
    mq_store *s;
    char first[512];
    static const char *const tamper[] = {
        "UPDATE need_state SET status = CASE status WHEN 'resolved' THEN 'open'"
        " ELSE 'resolved' END WHERE id = (SELECT min(id) FROM need_state)",
        "UPDATE need_state SET handler = '" COUNTY "' WHERE id = (SELECT max(id) FROM"
        " need_state)",
        "DELETE FROM need_state WHERE id = (SELECT min(id) FROM need_state)",
        "INSERT INTO need_state(id, status, accepted, actions) VALUES('"
        "00000000-0000-4000-8000-0000000fffff', 'open', 0, 0)",
        "UPDATE need_state SET horizon = '1999-01-01' WHERE id = (SELECT max(id) FROM"
        " need_state)",
    };
    static const char *const says[] = {"status is", "handler is", "has no row",
                                       "no live need", "horizon is"};

    for (size_t i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
        s = open_store("a", NULL);
        CHECK(problems(s, first, sizeof first) == 0);
        mq_store_close(s);
        char *before = table_text("a");
        sql_on("a", tamper[i]);
        s = open_store("a", NULL);
        CHECK(problems(s, first, sizeof first) >= 1);
        CHECK_HAS(first, "need_state: need ");
        CHECK_HAS(first, says[i]);
        mq_store_close(s);
        /* Put back for the next case: a store whose table is of no known
         * version is filled anew when it opens. */
        sql_on("a", "DELETE FROM meta WHERE key = 'need_state'");
        s = open_store("a", NULL);
        mq_store_close(s);
        char *after = table_text("a");
        CHECK_STR(after, before);
        free(after);
        free(before);
    }
}

static void test_filled_at_open(void)
{
    char *before = table_text("b");
    /* A store made before the table: none, and no meta key. */
    sql_on("b", "DROP TABLE need_state; DELETE FROM meta WHERE key = 'need_state';");
    mq_store *s = open_store("b", NULL);
    char first[512];
    CHECK(problems(s, first, sizeof first) == 0);
    same_lists(s);
    mq_store_close(s);
    char *after = table_text("b");
    CHECK(strlen(after) > 0);
    CHECK_STR(after, before);
    free(before);
    free(after);
}

int main(void)
{
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_random_writes_and_merges);
    RUN(test_check_finds_tampering);
    RUN(test_filled_at_open);
    return mq_test_done();
}
