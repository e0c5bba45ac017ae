/*
 * apps/cli/bundles.c - changes between replicas without a network:
 * `changes` writes a bundle (for a USB stick, or the payload sync carries),
 * `apply` merges one, and `rejected` shows the changes that could not be
 * applied here, kept with their reasons so that none is silently lost.
 *
 * `changes` prints the cursor to pass as --since next time on stderr, so
 * that stdout holds the bundle alone.
 */
#include "cli.h"

#include <inttypes.h>

int mq_cli_changes(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--since", NULL, MQ_CLI_VALUE},
                                      {"-o", "--output", MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_changes_query q = {0};
    int64_t next = 0;
    mq_store *store;
    mq_cli_output out;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 2, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *since_text = a.value[0], *file = a.value[1];
    if (since_text != NULL && mq_cli_parse_count(since_text, &q.since) != 0)
        return mq_cli_usage_error(
            cli, "--since needs a cursor (a whole number printed by changes), not '%s'",
            since_text);
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    rc = mq_cli_output_open(&out, file);
    if (rc != 0) {
        mq_store_close(store);
        return rc;
    }
    mq_error_clear(&err);
    int mrc = mq_store_write_bundle(store, &q, out.fp, &next, &err);
    mq_store_close(store);
    if (mrc != 0) {
        mq_cli_output_abort(&out);
        return mq_cli_fail(mrc, &err);
    }
    rc = mq_cli_output_commit(&out);
    if (rc == 0)
        fprintf(stderr, "next cursor: %" PRId64 "\n", next);
    return rc;
}

int mq_cli_apply(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--skip-invalid", NULL, MQ_CLI_FLAG}};
    static const char *const names[] = {"FILE (or - for stdin)"};
    mq_cli_args a;
    mq_apply_stats st = {0, 0, 0};
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    int skip_invalid = a.value[0] != NULL;
    FILE *in = mq_cli_open_input(a.pos[0]);
    if (in == NULL)
        return MQ_CLI_FAIL;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        mq_cli_close_input(in);
        return rc;
    }
    size_t invalid = 0;
    mq_apply_opts o = {0};
    o.skip_invalid = skip_invalid;
    o.source = in == stdin ? "stdin" : a.pos[0];
    o.on_invalid = mq_cli_print_invalid;
    o.ctx = &invalid;
    mq_error_clear(&err);
    int mrc = mq_store_apply_bundle(store, in, &o, &st, &err);
    mq_store_close(store);
    mq_cli_close_input(in);
    if (mrc == MQ_EINVAL && !skip_invalid && invalid > 0) {
        fprintf(stderr, "minqing: nothing applied: %zu invalid change%s\n", invalid,
                invalid == 1 ? "" : "s");
        return MQ_CLI_USAGE;
    }
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    fprintf(stderr, "applied %zu new change%s (%zu already here, %zu rejected)\n",
            st.applied, st.applied == 1 ? "" : "s", st.duplicate, st.rejected);
    if (st.rejected > 0)
        fprintf(stderr, "minqing: %zu change%s rejected; `minqing rejected` shows why\n",
                st.rejected, st.rejected == 1 ? " was" : "s were");
    return MQ_CLI_OK;
}

int mq_cli_rejected(const mq_cli *cli, int argc, char **argv)
{
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    rc = mq_store_rejected(store, mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}
