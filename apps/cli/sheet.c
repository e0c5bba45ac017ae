/*
 * apps/cli/sheet.c - writes `minqing report` and `minqing needs` as CSV or
 * XLSX through the library (mq_report_export(), mq_report_needs_export()).
 *
 * The file is written under a temporary name beside it and renamed into
 * place once whole (mq_cli_output): libxlsxwriter writes the workbook to
 * that temporary name itself, and the commit then syncs and renames it.  A
 * failed export leaves no file.
 */
#include "sheet.h"

#include <string.h>

/* The option a library message names (it starts with the query member). */
static const char *option_of(const char *message)
{
    static const char *const names[][2] = {
        {"area ", "--area"},     {"cadre ", "--cadre"}, {"category ", "--category"},
        {"status ", "--status"}, {"from ", "--from"},   {"as_of ", "--as-of"}};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strncmp(message, names[i][0], strlen(names[i][0])) == 0)
            return names[i][1];
    return NULL;
}

int mq_cli_sheet(const mq_cli *cli, mq_store *store, const char *file, int xlsx,
                 const mq_report_query *rq, const mq_report_needs_query *nq)
{
    mq_cli_output out;
    mq_error err;
    int rc;

    if ((rc = mq_cli_output_open(&out, file)) != 0) {
        mq_store_close(store);
        return rc;
    }
    /* XLSX goes by name: the temporary file, or the path written in place
     * (a device). */
    const char *path = out.file.temp != NULL ? out.file.temp : out.file.path;
    mq_report_format format = xlsx ? MQ_REPORT_XLSX : MQ_REPORT_CSV;
    mq_error_clear(&err);
    int mrc = rq != NULL ? mq_report_export(store, rq, format, out.fp, path, &err)
                         : mq_report_needs_export(store, nq, format, out.fp, path, &err);
    mq_store_close(store);
    if (mrc != 0) {
        mq_cli_output_abort(&out);
        const char *opt = option_of(err.message);
        if ((mrc == MQ_ENOTFOUND || mrc == MQ_EINVAL) && opt != NULL)
            return mq_cli_usage_error(cli, "%s: %s", opt, err.message);
        return mq_cli_fail(mrc, &err);
    }
    return mq_cli_output_commit(&out);
}
