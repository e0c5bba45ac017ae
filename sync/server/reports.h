/*
 * sync/server/reports.h - GET /v1/reports (docs/PROTOCOL.md, "Reports"): the
 * report's figures, and the needs and overdue lists, for the areas of the
 * device that asks, as JSON, CSV or XLSX.  http.c routes the endpoint here
 * once the token is checked.
 */
#ifndef MQ_SYNC_SERVER_REPORTS_H
#define MQ_SYNC_SERVER_REPORTS_H

#include <microhttpd.h>

#include "server.h"

/*
 * Answers one GET /v1/reports from device `dev` (authenticated) over the
 * pooled store `store`, which the call uses and leaves as it found it.
 */
enum MHD_Result mq_server_reports(struct MHD_Connection *conn, mq_store *store,
                                  const mq_device *dev);

#endif /* MQ_SYNC_SERVER_REPORTS_H */
