/*
 * apps/cli/conflicts.c - concurrent edits a person reviews: `conflicts`
 * lists the fields that two replicas changed without knowing of each other,
 * and `resolve` settles one with a value, written as a new change that
 * closes the conflict on every replica it reaches.
 *
 * The value to keep is JSON, so text needs quotes (--keep '"13912345678"');
 * a bare word is refused here with that hint rather than by the library
 * with a bare "not JSON".
 */
#include "cli.h"

#include <cjson/cJSON.h>

int mq_cli_conflicts(const mq_cli *cli, int argc, char **argv)
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
    rc = mq_store_conflicts(store, mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}

int mq_cli_resolve(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--keep", NULL, MQ_CLI_VALUE},
                                      {"--as", NULL, MQ_CLI_VALUE}};
    static const char *const names[] = {"CONFLICT_ID"};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 2, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    const char *keep = a.value[0], *author = a.value[1];
    if (keep == NULL)
        return mq_cli_usage_error(cli, "missing --keep VALUE_JSON");
    cJSON *value = cJSON_ParseWithOpts(keep, NULL, 1);
    if (value == NULL)
        return mq_cli_usage_error(
            cli, "--keep needs a JSON value, not '%s' (text is quoted: '\"%s\"')", keep,
            keep);
    cJSON_Delete(value);
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    int mrc = mq_store_resolve(store, a.pos[0], keep, author, &err);
    mq_store_close(store);
    return mrc != 0 ? mq_cli_fail(mrc, &err) : MQ_CLI_OK;
}
