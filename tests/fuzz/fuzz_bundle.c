/*
 * tests/fuzz/fuzz_bundle.c - the bundle reader: the input is a bundle file
 * handed to mq_store_apply_bundle(), on a replica that holds the base areas
 * and cadres.
 *
 * What must hold, whatever the input:
 *   1. All or nothing: a bundle refused whole is refused as invalid
 *      (MQ_EINVAL), and has written nothing, not even to the rejected list.
 *   2. With skip_invalid, each applied change is one more change in the
 *      log and each rejected one one more entry of the rejected list, and
 *      the store passes mq_store_check().
 *   3. Nothing is applied twice: the same bundle again applies only changes
 *      that were rejected the first time (one may need a record that came
 *      later in the bundle), and passes the check.
 */
#include "fuzz.h"

static mq_store *store; /* the input's */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static int count_one(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

static size_t rejected_size(void)
{
    size_t n = 0;
    mq_error e;
    if (mq_store_rejected(store, count_one, &n, &e) != 0)
        fuzz_fail("cannot walk the rejected list: %s", e.message);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *in = fuzz_stream(data, size);
    if (in == NULL)
        return 0;
    mq_apply_stats st, again;
    mq_error e;
    store = fuzz_base_store("fuzz-bundle");
    size_t log0 = fuzz_log_size(store), rej0 = rejected_size();

    /* 1. All or nothing. */
    mq_apply_opts all = {0, "fuzz", NULL, NULL};
    int rc = mq_store_apply_bundle(store, in, &all, &st, &e);
    if (rc != 0 && rc != MQ_EINVAL && rc != MQ_ENOMEM)
        fuzz_fail("a bundle is refused with %d, not as invalid: %s", rc, e.message);
    if (rc != 0 && (fuzz_log_size(store) != log0 || rejected_size() != rej0))
        fuzz_fail("a refused bundle wrote: %s", e.message);
    if (rc == 0 && (st.rejected != 0 || fuzz_log_size(store) != log0 + st.applied))
        fuzz_fail("%zu changes applied and %zu rejected, the log grew by %zu", st.applied,
                  st.rejected, fuzz_log_size(store) - log0);

    /* 2. Skip the invalid changes (on the store that a refusal left as it
     * was). */
    mq_apply_opts skip = {1, "fuzz", NULL, NULL};
    if (rc != 0) {
        rewind(in);
        rc = mq_store_apply_bundle(store, in, &skip, &st, &e);
    }
    if (rc == 0) {
        size_t log1 = fuzz_log_size(store), rej1 = rejected_size();
        if (log1 != log0 + st.applied || rej1 != rej0 + st.rejected)
            fuzz_fail("%zu applied and %zu rejected, but the log grew by %zu and the "
                      "rejected list by %zu",
                      st.applied, st.rejected, log1 - log0, rej1 - rej0);
        fuzz_check(store, "apply");

        /* 3. Once more. */
        rewind(in);
        if (mq_store_apply_bundle(store, in, &skip, &again, &e) != 0)
            fuzz_fail("a bundle applied once is refused the second time: %s", e.message);
        if (again.applied > st.rejected)
            fuzz_fail("the same bundle applied %zu changes again (%zu were rejected "
                      "the first time)",
                      again.applied, st.rejected);
        if (fuzz_log_size(store) != log1 + again.applied)
            fuzz_fail("applied again: the log grew by %zu for %zu changes applied",
                      fuzz_log_size(store) - log1, again.applied);
        fuzz_check(store, "apply again");
    } else if (fuzz_log_size(store) != log0 || rejected_size() != rej0) {
        fuzz_fail("a refused bundle wrote (skip_invalid): %s", e.message);
    }
    fclose(in);
    mq_store_close(store);
    store = NULL;
    return 0;
}
