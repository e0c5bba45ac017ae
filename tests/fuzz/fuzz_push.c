/*
 * tests/fuzz/fuzz_push.c - the push body decoder: the input is the body of
 * POST /v1/push, decoded as the server does (sync/server/http.c, do_push():
 * no NUL byte, one JSON object and nothing after it, the flaws cJSON would
 * not hold refused per change) and merged change by change with
 * mq_store_apply_json() in a device's scope (the base's village), on a
 * replica that holds the base areas and cadres.  The server itself, over
 * HTTP, is fuzz_server.c's.
 *
 * What must hold for each change, whatever the input:
 *   1. It is applied, a duplicate, rejected or out of scope, or refused by
 *      a refusal code (MQ_EINVAL, MQ_EREFUSED, MQ_ENOTFOUND); never another
 *      failure.
 *   2. Only an applied change writes, and it writes one change to the log.
 *   3. The scope is judged alike by mq_store_change_in_scope() on the
 *      change's text and by mq_store_apply_json() on the parsed change.
 *   4. Nothing is applied twice: an applied change sent again is a
 *      duplicate, and writes nothing.
 * And after the batch, the store passes mq_store_check().
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "proto.h"

static mq_store *store; /* the input's */
static const char *areas[1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    areas[0] = fuzz_village;
    return 0;
}

typedef struct flawed {
    char *bad; /* per change: 1 when a flaw lies in it */
    size_t n;
    int body;
} flawed;

static int note_flaw(void *ctx, long element, size_t at, const char *what)
{
    flawed *f = ctx;
    (void)at;
    (void)what;
    if (element < 0 || (size_t)element >= f->n)
        f->body = 1;
    else
        f->bad[element] = 1;
    return 0;
}

static void apply_one(const cJSON *ch)
{
    const mq_scope scope = {areas, 1};
    mq_apply_result res = MQ_REJECTED;
    mq_error e, se;
    int in_scope = -1;
    char *text = cJSON_PrintUnformatted(ch);
    if (text == NULL)
        fuzz_fail("out of memory");
    if (mq_store_change_in_scope(store, text, areas, 1, &in_scope, &se) != 0)
        in_scope = -1; /* a change that does not parse has no scope */
    size_t before = fuzz_log_size(store);
    mq_error_clear(&e);
    int rc = mq_store_apply_json(store, ch, "device:fuzz", &scope, &res, &e);
    size_t after = fuzz_log_size(store);
    if (rc != 0 && rc != MQ_EINVAL && rc != MQ_EREFUSED && rc != MQ_ENOTFOUND)
        fuzz_fail("a pushed change failed with %d: %s", rc, e.message);
    if (rc == 0 && res != MQ_APPLIED && res != MQ_DUPLICATE && res != MQ_REJECTED &&
        res != MQ_OUT_OF_SCOPE)
        fuzz_fail("a pushed change has result %d", (int)res);
    int applied = rc == 0 && res == MQ_APPLIED;
    if (applied ? after != before + 1 : after != before)
        fuzz_fail("a change with result %d (rc %d) wrote %zu changes: %s", (int)res, rc,
                  after - before, text);
    if (rc == 0 && res == MQ_OUT_OF_SCOPE && in_scope != 0)
        fuzz_fail("out of scope when applied, in scope (%d) when asked: %s", in_scope,
                  text);
    if (applied && in_scope != 1)
        fuzz_fail("applied in scope, but out of scope (%d) when asked: %s", in_scope,
                  text);
    if (applied) {
        rc = mq_store_apply_json(store, ch, "device:fuzz", &scope, &res, &e);
        if (rc != 0 || res != MQ_DUPLICATE || fuzz_log_size(store) != after)
            fuzz_fail("an applied change sent again: rc %d, result %d: %s", rc, (int)res,
                      text);
    }
    cJSON_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || memchr(data, '\0', size) != NULL)
        return 0; /* the server refuses a NUL byte before parsing */
    char *plain = fuzz_text(data, size);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(plain, &end, 0);
    if (j == NULL || end[strspn(end, " \t\r\n")] != '\0') {
        cJSON_Delete(j);
        free(plain);
        return 0; /* not JSON, or data after it: refused whole */
    }
    const cJSON *batch = cJSON_GetObjectItemCaseSensitive(j, "batch");
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(j, "site");
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(j, "changes");
    if (!cJSON_IsObject(j) || !cJSON_IsString(batch) || !cJSON_IsString(site) ||
        !cJSON_IsArray(changes)) {
        cJSON_Delete(j);
        free(plain);
        return 0;
    }
    flawed f = {NULL, (size_t)cJSON_GetArraySize(changes), 0};
    if ((f.bad = calloc(f.n + 1, 1)) == NULL)
        fuzz_fail("out of memory");
    mq__json_flaws(plain, "changes", note_flaw, &f);
    if (!f.body) {
        store = fuzz_base_store("server");
        size_t i = 0;
        const cJSON *ch;
        cJSON_ArrayForEach(ch, changes)
        {
            if (cJSON_IsObject(ch) && !f.bad[i])
                apply_one(ch);
            i++;
        }
        fuzz_check(store, "push");
        mq_store_close(store);
        store = NULL;
    }
    free(f.bad);
    cJSON_Delete(j);
    free(plain);
    return 0;
}
