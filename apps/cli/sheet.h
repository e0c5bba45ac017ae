/*
 * apps/cli/sheet.h - `report` and `needs` written as a spreadsheet (CSV or
 * XLSX, mq_report_export()): the output file made whole before it takes
 * its name, the library's errors said as the option they came from.
 */
#ifndef MQ_CLI_SHEET_H
#define MQ_CLI_SHEET_H

#include "cli.h"
#include "minqing/report.h"

/*
 * Writes the report of `rq`, or the needs list of `nq` (exactly one is
 * not NULL), from the open `store` to `file` (NULL or "-": standard output,
 * CSV only) as XLSX when `xlsx`, else CSV.  Closes the store.  Returns the
 * command's exit code.
 */
int mq_cli_sheet(const mq_cli *cli, mq_store *store, const char *file, int xlsx,
                 const mq_report_query *rq, const mq_report_needs_query *nq);

#endif /* MQ_CLI_SHEET_H */
