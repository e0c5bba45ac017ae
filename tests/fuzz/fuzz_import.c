/*
 * tests/fuzz/fuzz_import.c - the interchange decoder and validator: the
 * input is a JSON Lines file handed to mq_store_import(), on a replica that
 * holds the base areas and cadres.
 *
 * What must hold, whatever the input:
 *   1. All or nothing: an import that fails is refused as invalid
 *      (MQ_EINVAL) and has written nothing.
 *   2. With skip_invalid, what was stored passes mq_store_check(), and no
 *      more records were written than the input has lines.
 *   3. What is stored is valid: the export of the store imports again, into
 *      the same store, as unchanged records only, none invalid.
 *   4. The report and the needs of the day are computed over it, as JSON
 *      (for one input in four).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "minqing/report.h"

static mq_store *store; /* the input's */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void count_invalid(void *ctx, const char *message)
{
    (void)message;
    ++*(size_t *)ctx;
}

static void print_invalid(void *ctx, const char *message)
{
    fprintf(stderr, "fuzz: %s: %s\n", (const char *)ctx, message);
}

static int is_json(void *ctx, const char *json)
{
    cJSON *j = cJSON_Parse(json);
    if (!cJSON_IsObject(j))
        fuzz_fail("%s: not a JSON object: %.200s", (const char *)ctx, json);
    cJSON_Delete(j);
    return 0;
}

/* Exports the store and imports the export again (invariant 3). */
static void reimport(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    mq_error e;
    if (out == NULL)
        fuzz_fail("open_memstream failed");
    if (mq_store_export(store, NULL, out, &e) != 0)
        fuzz_fail("export after import: %s", e.message);
    fclose(out);
    size_t before = fuzz_log_size(store);
    FILE *in = fuzz_stream((const uint8_t *)text, len);
    mq_import_opts o = {0, NULL, "export", print_invalid, "the export imported again"};
    mq_import_stats st;
    if (mq_store_import(store, in, &o, &st, &e) != 0)
        fuzz_fail("the export does not import again: %s", e.message);
    fclose(in);
    if (st.created != 0 || st.updated != 0 || st.invalid != 0 || st.unchanged != st.lines)
        fuzz_fail("the export imports again as %zu created, %zu updated, %zu invalid",
                  st.created, st.updated, st.invalid);
    if (fuzz_log_size(store) != before)
        fuzz_fail("importing the export again wrote changes");
    free(text);
}

static void reports(void)
{
    mq_report_query q = {NULL, "2013-01-01", NULL};
    char *json = NULL;
    mq_error e;
    if (mq_report_json(store, &q, &json, &e) != 0)
        fuzz_fail("mq_report_json after import: %s", e.message);
    is_json("report", json);
    mq_free(json);
    mq_report_needs_query nq = {NULL, "2013-01-01", NULL, NULL, NULL, 0};
    if (mq_report_needs(store, &nq, is_json, "needs", &e) != 0)
        fuzz_fail("mq_report_needs after import: %s", e.message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *in = fuzz_stream(data, size);
    if (in == NULL)
        return 0;
    mq_import_stats st;
    mq_error e;
    size_t invalid = 0;
    store = fuzz_base_store("fuzz-import");
    size_t before = fuzz_log_size(store);

    /* 1. All or nothing. */
    mq_import_opts all = {0, NULL, "fuzz", count_invalid, &invalid};
    int rc = mq_store_import(store, in, &all, &st, &e);
    if (rc != 0 && rc != MQ_EINVAL && rc != MQ_ENOMEM)
        fuzz_fail("an import is refused with %d, not as invalid: %s", rc, e.message);
    if (rc != 0 && fuzz_log_size(store) != before)
        fuzz_fail("a refused import wrote changes: %s", e.message);
    if (rc == 0 && invalid != 0)
        fuzz_fail("an import succeeded with %zu invalid records", invalid);

    /* 2. Skip the invalid records (on the store that the refusal left as
     * it was). */
    if (rc != 0) {
        rewind(in);
        mq_import_opts skip = {1, NULL, "fuzz", NULL, NULL};
        rc = mq_store_import(store, in, &skip, &st, &e);
    }
    fclose(in);
    if (rc == 0) {
        if (st.created + st.updated + st.unchanged > st.lines)
            fuzz_fail("%zu lines, but %zu created, %zu updated, %zu unchanged", st.lines,
                      st.created, st.updated, st.unchanged);
        fuzz_check(store, "import");
        reimport();
        /* The reports cost as much as the rest: one input in four, chosen
         * by its bytes so that a replay runs the same. */
        if (data[size / 2] % 4 == 0)
            reports();
    } else if (rc != MQ_EINVAL && rc != MQ_ENOMEM) {
        fuzz_fail("import failed with %d: %s", rc, e.message);
    }
    mq_store_close(store);
    store = NULL;
    return 0;
}
