/*
 * apps/cli/reports.c - views derived from the records rather than
 * stored: `needs` prints each need with the status folded from its actions
 * (open, resolved, overdue, reopened), for following up overdue needs
 * (限时办结) per area.
 *
 * --today fixes the day that deadlines are measured against, so that a
 * report can be reproduced, and checked, on any later day.
 */
#include "cli.h"

#include <string.h>

/* 1 if `s` has the shape YYYY-MM-DD; the library checks the calendar. */
static int looks_like_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (size_t i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    }
    return 1;
}

int mq_cli_needs(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--overdue", NULL, MQ_CLI_FLAG},
                                      {"--area", NULL, MQ_CLI_VALUE},
                                      {"--today", NULL, MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 3, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *today = a.value[2];
    if (today != NULL && !looks_like_date(today))
        return mq_cli_usage_error(cli, "--today needs a date YYYY-MM-DD, not '%s'",
                                  today);
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_needs_query q = {a.value[0] != NULL, a.value[1], today};
    mq_error_clear(&err);
    rc = mq_store_needs(store, &q, mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}
