/*
 * apps/cli/interchange.c - records in and out of the store in bulk, as
 * the interchange JSON Lines of gen_cards.py: `import` and `export`.
 *
 * Import is all or nothing unless --skip-invalid is given; either way every
 * invalid record is reported on stderr, with its line and field, before the
 * one-line summary, so that a person can fix the file in one pass.
 */
#include "cli.h"

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

int mq_cli_import(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--skip-invalid", NULL, MQ_CLI_FLAG}};
    static const char *const names[] = {"FILE (or - for stdin)"};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    int skip_invalid = a.value[0] != NULL;
    const char *file = a.pos[0];
    FILE *in = mq_cli_open_input(file);
    if (in == NULL)
        return MQ_CLI_FAIL;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        mq_cli_close_input(in);
        return rc;
    }
    mq_import_opts o = {0};
    o.skip_invalid = skip_invalid;
    o.source = in == stdin ? "stdin" : file;
    o.on_invalid = mq_cli_print_invalid;
    mq_import_stats st = {0};
    mq_error_clear(&err);
    int mrc = mq_store_import(store, in, &o, &st, &err);
    mq_store_close(store);
    mq_cli_close_input(in);
    if (mrc == MQ_EINVAL && !skip_invalid && st.invalid > 0) {
        fprintf(stderr, "minqing: nothing imported: %zu invalid record%s\n", st.invalid,
                plural(st.invalid));
        return MQ_CLI_USAGE;
    }
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    size_t total = st.created + st.updated + st.unchanged;
    fprintf(stderr, "imported %zu record%s (%zu created, %zu updated, %zu unchanged)\n",
            total, plural(total), st.created, st.updated, st.unchanged);
    if (st.invalid > 0)
        fprintf(stderr, "minqing: skipped %zu invalid record%s\n", st.invalid,
                plural(st.invalid));
    return MQ_CLI_OK;
}

int mq_cli_export(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--type", NULL, MQ_CLI_VALUE},
                                      {"-o", "--output", MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    mq_cli_output out;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 2, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *type = a.value[0], *file = a.value[1];
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    rc = mq_cli_output_open(&out, file);
    if (rc != 0) {
        mq_store_close(store);
        return rc;
    }
    mq_error_clear(&err);
    int mrc = mq_store_export(store, type, out.fp, &err);
    mq_store_close(store);
    if (mrc != 0) {
        mq_cli_output_abort(&out);
        return mq_cli_fail(mrc, &err);
    }
    return mq_cli_output_commit(&out);
}
