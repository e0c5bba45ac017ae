/*
 * tests/web/test_scope.c - the API's scope, through mq_web_api() with a
 * who limited to one village of a store that holds two: a record of the
 * other village is not found on read (404) and refused on write (403), and
 * lists, searches and reports show only the who's village.  The same
 * requests with a who of every area see both, so the refusals are the
 * scope's and not the data's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/harness.h"
#include "minqing/minqing.h"
#include "web.h"

#define COUNTY "00000000-0000-4000-8000-000000000001"
#define VA     "00000000-0000-4000-8000-00000000000a"
#define VB     "00000000-0000-4000-8000-00000000000b"
#define CADRE  "00000000-0000-4000-8000-0000000000c1"
#define HA     "00000000-0000-4000-8000-0000000000a1"
#define HB     "00000000-0000-4000-8000-0000000000b1"
#define NB     "00000000-0000-4000-8000-0000000000b2"

static const char records[] =
    "{\"type\":\"area\",\"id\":\"" COUNTY
    "\",\"fields\":{\"name\":\"县\",\"level\":\"county\"}}\n"
    "{\"type\":\"area\",\"id\":\"" VA
    "\",\"fields\":{\"name\":\"甲村\",\"level\":\"village\","
    "\"parent\":\"" COUNTY "\"}}\n"
    "{\"type\":\"area\",\"id\":\"" VB
    "\",\"fields\":{\"name\":\"乙村\",\"level\":\"village\","
    "\"parent\":\"" COUNTY "\"}}\n"
    "{\"type\":\"cadre\",\"id\":\"" CADRE "\",\"fields\":{\"name\":\"王干部\"}}\n"
    "{\"type\":\"household\",\"id\":\"" HA "\",\"fields\":{\"area\":\"" VA "\","
    "\"head_name\":\"张甲\",\"head_id_number\":\"53232719520908604X\"}}\n"
    "{\"type\":\"household\",\"id\":\"" HB "\",\"fields\":{\"area\":\"" VB "\","
    "\"head_name\":\"张乙\",\"head_id_number\":\"532327196412077223\"}}\n"
    "{\"type\":\"need\",\"id\":\"" NB "\",\"fields\":{\"household\":\"" HB "\","
    "\"category\":\"medical\",\"description\":\"看病\",\"recorded_by\":\"" CADRE "\","
    "\"recorded_at\":\"2024-01-02\",\"deadline\":\"2024-01-17\"}}\n";

static mq_store *store;

static const char *no_args(void *ctx, const char *name)
{
    (void)ctx;
    (void)name;
    return NULL;
}

/* A query of one argument "NAME=VALUE", given as ctx. */
static const char *one_arg(void *ctx, const char *name)
{
    const char *kv = ctx;
    size_t n = strlen(name);
    return strncmp(kv, name, n) == 0 && kv[n] == '=' ? kv + n + 1 : NULL;
}

static unsigned ask(const mq_web_who *who, const char *method, const char *path,
                    const char *query, const char *body, char **out)
{
    mq_web_request rq = {method,        path, query ? one_arg : no_args,
                         (void *)query, body, body ? strlen(body) : 0};
    mq_web_answer a;
    CHECK(mq_web_api(store, who, &rq, &a) == 0);
    unsigned status = a.status;
    if (out != NULL) {
        *out = a.body;
        a.body = NULL;
    }
    mq_web_answer_free(&a);
    return status;
}

static const char *const village_a[] = {VA};
static const mq_web_who limited = {1, "甲村办", NULL, village_a, 1, 0, "t"};
static const mq_web_who everyone = {0, "tablet", CADRE, NULL, 0, 1, NULL};

static size_t count_changes(void)
{
    size_t n = 0;
    mq_error err;
    FILE *f = tmpfile();
    mq_changes_query q = {0, 0, NULL, 0, NULL};
    CHECK(f != NULL);
    if (f == NULL)
        return 0;
    CHECK(mq_store_write_bundle(store, &q, f, NULL, &err) == 0);
    rewind(f);
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void test_reads(void)
{
    char *b = NULL;
    CHECK(ask(&limited, "GET", "/api/households/" HA, NULL, NULL, &b) == 200);
    free(b);
    CHECK(ask(&limited, "GET", "/api/households/" HB, NULL, NULL, &b) == 404);
    CHECK_HAS(b, "not_found");
    free(b);
    CHECK(ask(&limited, "GET", "/api/records/" NB, NULL, NULL, NULL) == 404);
    CHECK(ask(&everyone, "GET", "/api/records/" NB, NULL, NULL, NULL) == 200);
    CHECK(ask(&everyone, "GET", "/api/households/" HB, NULL, NULL, NULL) == 200);

    CHECK(ask(&limited, "GET", "/api/households", "q=张", NULL, &b) == 200);
    CHECK_HAS(b, HA);
    CHECK(b != NULL && strstr(b, HB) == NULL);
    free(b);
    CHECK(ask(&everyone, "GET", "/api/households", "q=张", NULL, &b) == 200);
    CHECK_HAS(b, HB);
    free(b);

    CHECK(ask(&limited, "GET", "/api/needs", NULL, NULL, &b) == 200);
    CHECK(b != NULL && strstr(b, NB) == NULL);
    free(b);
    CHECK(ask(&everyone, "GET", "/api/needs", NULL, NULL, &b) == 200);
    CHECK_HAS(b, NB);
    free(b);

    CHECK(ask(&limited, "GET", "/api/reports", NULL, NULL, &b) == 200);
    CHECK_HAS(b, "\"area\":\"" VA "\"");
    CHECK(b != NULL && strstr(b, VB) == NULL);
    free(b);
    CHECK(ask(&limited, "GET", "/api/reports", "area=" VB, NULL, &b) == 403);
    CHECK_HAS(b, "\"area\"");
    free(b);
    CHECK(ask(&limited, "GET", "/api/needs/export", "area=" VB, NULL, NULL) == 403);
    CHECK(ask(&limited, "GET", "/api/me", NULL, NULL, &b) == 200);
    CHECK_HAS(b, "\"csrf\":\"t\"");
    CHECK_HAS(b, "甲村");
    free(b);
}

static void test_writes(void)
{
    char *b = NULL;
    size_t before = count_changes();
    CHECK(ask(&limited, "PUT", "/api/records/" HB, NULL,
              "{\"fields\":{\"head_name\":\"李\"}}", &b) == 403);
    CHECK_HAS(b, "forbidden");
    free(b);
    /* A new household in the other village, and moving one there. */
    CHECK(ask(&limited, "POST", "/api/records/household", NULL,
              "{\"fields\":{\"area\":\"" VB "\",\"head_name\":\"赵\","
              "\"head_id_number\":\"532327194407126140\"}}",
              NULL) == 403);
    CHECK(ask(&limited, "PUT", "/api/records/" HA, NULL,
              "{\"fields\":{\"area\":\"" VB "\"}}", NULL) == 403);
    CHECK(ask(&limited, "POST", "/api/records/need", NULL,
              "{\"fields\":{\"household\":\"" HB "\",\"category\":\"medical\","
              "\"description\":\"x\",\"recorded_by\":\"" CADRE "\"}}",
              NULL) == 403);
    CHECK(ask(&limited, "POST", "/api/needs/" NB "/close", NULL,
              "{\"note\":\"done\",\"by\":\"" CADRE "\"}", NULL) == 403);
    CHECK(count_changes() == before);

    /* Inside its village the same who writes. */
    CHECK(ask(&limited, "PUT", "/api/records/" HA, NULL,
              "{\"fields\":{\"phone\":\"13689262535\"}}", &b) == 200);
    CHECK_HAS(b, HA);
    free(b);
    CHECK(count_changes() == before + 1);
    /* And the tablet's own cadre closes the other village's need. */
    CHECK(ask(&everyone, "POST", "/api/needs/" NB "/close", NULL,
              "{\"note\":\"done\",\"satisfaction\":\"satisfied\"}", &b) == 201);
    free(b);
    CHECK(ask(&everyone, "POST", "/api/needs/" NB "/close", NULL, "{}", &b) == 409);
    free(b);
}

int main(void)
{
    mq_error err;
    char path[] = "test_web_scope.db";
    remove(path);
    CHECK(mq_store_open(&store, path, &err) == 0);
    CHECK(mq_store_init(store, "scope", CADRE, &err) == 0);
    FILE *in = tmpfile();
    if (in == NULL)
        return 1;
    fputs(records, in);
    rewind(in);
    CHECK(mq_store_import(store, in, NULL, NULL, &err) == 0);
    fclose(in);
    RUN(test_reads);
    RUN(test_writes);
    mq_store_close(store);
    remove(path);
    return mq_test_done();
}
