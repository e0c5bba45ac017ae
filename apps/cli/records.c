/*
 * apps/cli/records.c - one record at a time, the way a cadre works in
 * a household's yard: `put` creates or patches a record from a JSON object
 * on stdin, `get` prints one, `list` and `search` find them, `delete`
 * writes a tombstone and `history` shows every change with who, where and
 * when.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int mq_cli_put(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--id", NULL, MQ_CLI_VALUE},
                                      {"--as", NULL, MQ_CLI_VALUE}};
    static const char *const names[] = {"TYPE"};
    mq_cli_args a;
    char *fields = NULL, *out_id = NULL;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 2, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_read_all(stdin, MQ_CLI_STDIN_MAX, &fields);
    if (rc != 0)
        return rc;
    if (fields[strspn(fields, " \t\r\n")] == '\0') {
        free(fields);
        return mq_cli_usage_error(cli, "stdin is empty: put reads the fields as one JSON "
                                       "object, e.g. '{\"phone\":\"13912345678\"}'");
    }
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        free(fields);
        return rc;
    }
    mq_error_clear(&err);
    int mrc =
        mq_store_put(store, a.pos[0], a.value[0], fields, a.value[1], &out_id, &err);
    mq_store_close(store);
    free(fields);
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    if (out_id != NULL)
        puts(out_id);
    mq_free(out_id);
    return MQ_CLI_OK;
}

int mq_cli_get(const mq_cli *cli, int argc, char **argv)
{
    static const char *const names[] = {"ID"};
    mq_cli_args a;
    char *json = NULL;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    int mrc = mq_store_get(store, a.pos[0], &json, &err);
    mq_store_close(store);
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    puts(json);
    mq_free(json);
    return MQ_CLI_OK;
}

/*
 * Splits each FIELD=VALUE of `raw` into `where`, the field names copied to
 * `names` (freed by the caller); 0 or an exit code.
 */
static int parse_where(const mq_cli *cli, const char *const *raw, size_t n,
                       mq_where *where, char **names)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(raw[i], '=');
        if (eq == NULL || eq == raw[i])
            return mq_cli_usage_error(cli, "--where needs FIELD=VALUE, not '%s'", raw[i]);
        size_t len = (size_t)(eq - raw[i]);
        names[i] = malloc(len + 1);
        if (names[i] == NULL) {
            fputs("minqing: out of memory\n", stderr);
            return MQ_CLI_FAIL;
        }
        memcpy(names[i], raw[i], len);
        names[i][len] = '\0';
        where[i].field = names[i];
        where[i].value = eq + 1;
    }
    return 0;
}

int mq_cli_list(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--where", NULL, MQ_CLI_LIST}};
    static const char *const names[] = {"TYPE"};
    mq_cli_args a;
    mq_where *where = NULL;
    char **fields = NULL;
    mq_store *store = NULL;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    where = calloc(a.nlist + 1, sizeof *where);
    fields = calloc(a.nlist + 1, sizeof *fields);
    if (where == NULL || fields == NULL) {
        fputs("minqing: out of memory\n", stderr);
        rc = MQ_CLI_FAIL;
        goto done;
    }
    rc = parse_where(cli, a.list, a.nlist, where, fields);
    if (rc == 0)
        rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        goto done;
    mq_error_clear(&err);
    rc = mq_store_list(store, a.pos[0], where, a.nlist, mq_cli_print_line, stdout, &err);
    rc = mq_cli_walk_done(rc, &err);
done:
    mq_store_close(store);
    for (size_t i = 0; fields != NULL && i < a.nlist; i++)
        free(fields[i]);
    free(fields);
    free(where);
    mq_cli_args_free(&a);
    return rc;
}

int mq_cli_search(const mq_cli *cli, int argc, char **argv)
{
    static const char *const names[] = {"TEXT"};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    if (a.pos[0][0] == '\0')
        return mq_cli_usage_error(cli, "TEXT is empty");
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    rc = mq_store_search(store, a.pos[0], mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}

int mq_cli_delete(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--as", NULL, MQ_CLI_VALUE}};
    static const char *const names[] = {"ID"};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    int mrc = mq_store_delete(store, a.pos[0], a.value[0], &err);
    mq_store_close(store);
    return mrc != 0 ? mq_cli_fail(mrc, &err) : MQ_CLI_OK;
}

int mq_cli_history(const mq_cli *cli, int argc, char **argv)
{
    static const char *const names[] = {"ID"};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    rc = mq_store_history(store, a.pos[0], mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}
