/*
 * tests/fuzz/fuzz_pull.c - the pull page decoder: the input is the body of
 * a GET /v1/pull answer (gzip when it starts with gzip's magic bytes, as a
 * server sends it to a client that accepts gzip), decoded as the reference
 * client does (sync/client/client.c, pull()): inflated within the
 * protocol's bound, parsed, and, when it has its changes and cursor, each
 * change merged with mq_store_apply_json() and kept with
 * mq_store_reject() when it cannot apply, and the cursor stored, in one
 * transaction, on a tablet that holds the base areas and cadres.
 *
 * What must hold, whatever the input:
 *   1. Each change is applied, a duplicate or rejected (kept on the
 *      rejected list); the call fails only for want of memory.
 *   2. Only an applied change writes, one change to the log each.
 *   3. Nothing is applied twice: the same page again gives a duplicate for
 *      each change that applied the first time.
 *   4. The cursor is stored as given, and the store passes mq_store_check().
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "proto.h"

static mq_store *store; /* the input's */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/*
 * Applies the page's changes, noting in `was` (one per change) which
 * applied; with `again`, checks that none of those applies a second time.
 */
static void apply_page(const cJSON *changes, char *was, int again)
{
    size_t i = 0;
    const cJSON *ch;
    cJSON_ArrayForEach(ch, changes)
    {
        mq_apply_result res = MQ_APPLIED;
        mq_error e;
        mq_error_clear(&e);
        size_t before = fuzz_log_size(store);
        int rc = mq_store_apply_json(store, ch, "server", NULL, &res, &e);
        size_t after = fuzz_log_size(store);
        if (rc != 0)
            fuzz_fail("a pulled change failed with %d: %s", rc, e.message);
        if (res == MQ_APPLIED ? after != before + 1 : after != before)
            fuzz_fail("a pulled change with result %d wrote %zu changes", (int)res,
                      after - before);
        if (again && was[i] && res != MQ_DUPLICATE)
            fuzz_fail("a pulled change that applied has result %d the second time",
                      (int)res);
        if (res == MQ_APPLIED) {
            was[i] = 1;
        } else if (res == MQ_REJECTED) {
            char *text = cJSON_PrintUnformatted(ch);
            mq_error re;
            if (text == NULL ||
                mq_store_reject(store, text, "server", e.message, &re) != 0)
                fuzz_fail("a pulled change cannot be kept as rejected");
            cJSON_free(text);
        } else if (res != MQ_DUPLICATE) {
            fuzz_fail("a pulled change has result %d", (int)res);
        }
        i++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *plain = NULL;
    size_t len = 0;
    mq_error e;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        if (mq__gunzip(data, size, MQ_PROTO_MAX_INFLATED, &plain, &len, &e) != 0)
            return 0; /* a cut or corrupt body is retried; a bomb is refused */
    } else {
        plain = fuzz_text(data, size);
    }
    cJSON *ans = cJSON_Parse(plain);
    const cJSON *changes = cJSON_GetObjectItemCaseSensitive(ans, "changes");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(ans, "cursor");
    if (cJSON_IsObject(ans) && cJSON_IsArray(changes) && cJSON_IsString(next)) {
        char *was = calloc((size_t)cJSON_GetArraySize(changes) + 1, 1);
        if (was == NULL)
            fuzz_fail("out of memory");
        store = fuzz_base_store("tab-9");
        /* The page and its cursor in one transaction, as the client. */
        if (mq_store_begin(store, &e) != 0)
            fuzz_fail("cannot begin: %s", e.message);
        apply_page(changes, was, 0);
        if (mq_store_setting_set(store, "sync.pull.cursor", next->valuestring, &e) != 0 ||
            mq_store_commit(store, &e) != 0)
            fuzz_fail("cannot keep the page and its cursor: %s", e.message);
        char *kept = NULL;
        if (mq_store_setting_get(store, "sync.pull.cursor", &kept, &e) != 0 ||
            kept == NULL || strcmp(kept, next->valuestring) != 0)
            fuzz_fail("the cursor is not kept as given");
        mq_free(kept);
        fuzz_check(store, "pull");
        if (mq_store_begin(store, &e) != 0)
            fuzz_fail("cannot begin: %s", e.message);
        apply_page(changes, was, 1);
        if (mq_store_commit(store, &e) != 0)
            fuzz_fail("cannot commit the page pulled again: %s", e.message);
        fuzz_check(store, "pull again");
        mq_store_close(store);
        store = NULL;
        free(was);
    }
    cJSON_Delete(ans);
    free(plain);
    return 0;
}
