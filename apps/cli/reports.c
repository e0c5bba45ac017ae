/*
 * apps/cli/reports.c - `needs`: each need with the status folded from its
 * actions as of a day, by the report's rule (docs/REPORTS.md), for
 * following up overdue needs (限时办结) per area, per cadre and category.
 *
 * --as-of fixes the day D (--today is its old name): a need recorded after
 * D is not listed and an action after D does not count, so a list can be
 * reproduced, and checked, on any later day.  JSON Lines by default (one
 * need a line, names beside the ids); --format text for a person; csv or
 * xlsx (-o FILE) for a spreadsheet, streamed row by row (sheet.c).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sheet.h"
#include "minqing/report.h"

/* What the text table needs while the walk runs. */
typedef struct text_ctx {
    mq_cli_table table;
    cJSON *labels;
    int failed;
} text_ctx;

/* 1 if `s` has the shape YYYY-MM-DD. */
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

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static int add_text_row(void *ctx, const char *json)
{
    text_ctx *t = ctx;
    cJSON *o = cJSON_Parse(json);
    char days[24] = "";

    if (o == NULL)
        return 1;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "days_overdue");
    if (cJSON_IsNumber(d))
        snprintf(days, sizeof(days), "%d", d->valueint);
    const char *cells[] = {str(o, "head_name"),
                           str(o, "village_name"),
                           str(o, "area_name"),
                           mq_cli_label(t->labels, "category", str(o, "category")),
                           mq_cli_label(t->labels, "status", str(o, "status")),
                           str(o, "recorded_at"),
                           str(o, "deadline"),
                           days,
                           str(o, "cadre_name"),
                           str(o, "handler_name")};
    if (mq_cli_table_add(&t->table, cells) != 0)
        t->failed = 1;
    cJSON_Delete(o);
    return t->failed;
}

int mq_cli_needs(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {
        {"--overdue", NULL, MQ_CLI_FLAG}, {"--area", NULL, MQ_CLI_VALUE},
        {"--today", NULL, MQ_CLI_VALUE},  {"--as-of", NULL, MQ_CLI_VALUE},
        {"--cadre", NULL, MQ_CLI_VALUE},  {"--category", NULL, MQ_CLI_VALUE},
        {"--status", NULL, MQ_CLI_VALUE}, {"--format", NULL, MQ_CLI_VALUE},
        {"-o", "--output", MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 9, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *as_of = a.value[3] != NULL ? a.value[3] : a.value[2];
    const char *format = a.value[7], *file = a.value[8];
    if (a.value[2] != NULL && a.value[3] != NULL)
        return mq_cli_usage_error(cli, "--today is the old name of --as-of: give one");
    /* --today keeps the message it always had for a value not shaped as a
     * date; the calendar rule is the report's. */
    if (a.value[2] != NULL && !looks_like_date(a.value[2]))
        return mq_cli_usage_error(cli, "--today needs a date YYYY-MM-DD, not '%s'",
                                  a.value[2]);
    if ((rc = mq_cli_check_day(cli, a.value[3] != NULL ? "--as-of" : "--today", as_of)) !=
        0)
        return rc;
    int text = format != NULL && strcmp(format, "text") == 0;
    int csv = format != NULL && strcmp(format, "csv") == 0;
    int xlsx = format != NULL && strcmp(format, "xlsx") == 0;
    if (format != NULL && !text && !csv && !xlsx && strcmp(format, "json") != 0)
        return mq_cli_usage_error(
            cli, "--format: must be json, text, csv or xlsx, not \"%s\"", format);
    if (file != NULL && (file[0] == '\0' || (!csv && !xlsx)))
        return mq_cli_usage_error(cli, file[0] == '\0'
                                           ? "-o: the file name is empty"
                                           : "-o: writes --format csv or xlsx only");
    if (xlsx && (file == NULL || strcmp(file, "-") == 0))
        return mq_cli_usage_error(
            cli, "--format xlsx: needs -o FILE (a workbook is not text)");
    const char *checks[][2] = {{"--area", a.value[1]}, {"--cadre", a.value[4]}};
    for (size_t i = 0; i < 2; i++)
        if (checks[i][1] != NULL && !mq_valid_uuid(checks[i][1]))
            return mq_cli_usage_error(cli, "%s: must be a record id (a UUID), not \"%s\"",
                                      checks[i][0], checks[i][1]);
    if ((rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL)) != 0)
        return rc;

    mq_report_needs_query q = {a.value[1], as_of,      a.value[4],
                               a.value[5], a.value[6], a.value[0] != NULL};
    if (csv || xlsx)
        return mq_cli_sheet(cli, store, file, xlsx, NULL, &q);
    text_ctx t = {{0}, NULL, 0};
    char *labels = NULL;
    mq_error_clear(&err);
    if (text) {
        static const char *const heads[] = {
            "户主",     "村",       "组",       "类别",     "状态",
            "登记日期", "截止日期", "超期天数", "首问干部", "经办干部"};
        mq_cli_table_init(&t.table, NULL, 10);
        if (mq_report_labels(store, &labels, &err) == 0)
            t.labels = cJSON_Parse(labels);
        mq_cli_table_add(&t.table, heads);
        rc = mq_report_needs(store, &q, add_text_row, &t, &err);
    } else {
        rc = mq_report_needs(store, &q, mq_cli_print_line, stdout, &err);
    }
    mq_store_close(store);
    int exit_code;
    if (rc < 0 && (rc == MQ_ENOTFOUND || rc == MQ_EINVAL)) {
        /* The library names the filter (area, cadre, category, status,
         * as_of): say which option it came from. */
        const char *opt = strncmp(err.message, "area ", 5) == 0       ? "--area"
                          : strncmp(err.message, "cadre ", 6) == 0    ? "--cadre"
                          : strncmp(err.message, "category ", 9) == 0 ? "--category"
                          : strncmp(err.message, "status ", 7) == 0   ? "--status"
                                                                      : NULL;
        exit_code = opt != NULL ? mq_cli_usage_error(cli, "%s: %s", opt, err.message)
                                : mq_cli_fail(rc, &err);
    } else if (text && rc == 0 && !t.failed) {
        mq_cli_table_text(&t.table, stdout);
        exit_code = MQ_CLI_OK;
    } else {
        exit_code = mq_cli_walk_done(rc, &err);
    }
    mq_cli_table_free(&t.table);
    cJSON_Delete(t.labels);
    mq_free(labels);
    return exit_code;
}
