/*
 * apps/cli/replica.c - commands about the replica itself rather than
 * its records: `init` gives a new store the site name every change it
 * writes will carry, and `check` verifies the file and its change log.
 */
#include "cli.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

int mq_cli_init(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--site", NULL, MQ_CLI_VALUE},
                                      {"--cadre", NULL, MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    char *path;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 2, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *site = a.value[0], *cadre = a.value[1];
    if (site == NULL)
        return mq_cli_usage_error(cli, "missing --site NAME");
    /* Checked before the file is made, so a refused init leaves none. */
    if (!mq_valid_name(site, MQ_CLI_SITE_MAX))
        return mq_cli_usage_error(
            cli, "--site: must be 1 to %d characters of A-Z a-z 0-9 _ . -",
            MQ_CLI_SITE_MAX);
    if (cadre != NULL && !mq_valid_uuid(cadre))
        return mq_cli_usage_error(cli, "--cadre: must be a cadre record id (a lower-case "
                                       "UUID)");
    int existed = 0;
    rc = mq_cli_open_new(cli, &store, &path, &existed);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    int mrc = mq_store_init(store, site, cadre, &err);
    if (mrc != 0) {
        rc = mq_cli_fail(mrc, &err);
        mq_store_close(store);
        store = NULL;
        if (!existed)
            mq_cli_remove_store(path);
    } else {
        fprintf(stderr, "initialised %s as site %s\n", path, site);
        rc = MQ_CLI_OK;
    }
    mq_store_close(store);
    free(path);
    return rc;
}

static void print_problem(void *ctx, const char *problem)
{
    (void)ctx;
    fprintf(stderr, "minqing: %s\n", problem);
}

/* A value the schema asks not to repeat (warn_duplicate), repeated: a
 * warning, not a problem of the store, so check still says ok. */
static int print_duplicate(void *ctx, const char *json)
{
    cJSON *o = cJSON_Parse(json);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(o, "ids"), *id;
    size_t *n = ctx;

    if (o == NULL)
        return MQ_ENOMEM;
    (*n)++;
    fprintf(stderr, "minqing: warning: %zu %s records share %s \"%s\":",
            (size_t)cJSON_GetArraySize(ids),
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type")),
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "field")),
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "value")));
    cJSON_ArrayForEach(id, ids)
    {
        fprintf(stderr, " %s", cJSON_GetStringValue(id));
    }
    fputc('\n', stderr);
    cJSON_Delete(o);
    return 0;
}

int mq_cli_check(const mq_cli *cli, int argc, char **argv)
{
    mq_store *store;
    mq_error err;
    size_t problems = 0;
    mq_cli_args a;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_EXISTING, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    size_t warnings = 0;
    int mrc = mq_store_check(store, print_problem, NULL, &problems, &err);
    if (mrc == 0)
        mrc = mq_store_duplicates(store, print_duplicate, &warnings, &err);
    mq_store_close(store);
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    if (warnings > 0)
        fprintf(stderr, "minqing: check found %zu value%s repeated that should not be\n",
                warnings, warnings == 1 ? "" : "s");
    if (problems > 0) {
        fprintf(stderr, "minqing: check found %zu problem%s\n", problems,
                problems == 1 ? "" : "s");
        return MQ_CLI_FAIL;
    }
    puts("ok");
    return MQ_CLI_OK;
}
