/*
 * sync/server/reports.c - GET /v1/reports: the figures of docs/REPORTS.md,
 * computed by the same library call as `minqing report` (mq_report_json(),
 * mq_report_export()), for the areas of the device that asks; and with
 * list=needs or list=overdue the needs list of `minqing needs`.
 *
 * Invariants:
 *   1. A device sees only its own areas: an area it names must be one of
 *      them or below one (403 otherwise, 404 when there is no such area);
 *      without area= the answer covers each of its areas.
 *   2. Every parameter is checked before the store is read; an unknown one
 *      is refused (400), naming it.
 *   3. What may be large (a list, a CSV or XLSX file) is written to a
 *      temporary file and streamed from it, so the server's memory does not
 *      grow with a county's export; the file is removed as soon as it is
 *      open, and closed when the answer is sent or dropped.
 *   4. Like every answer of the server, a JSON answer carries "server_time";
 *      the others carry it in the X-Minqing-Server-Time header.
 */
#include "reports.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "minqing/minqing.h"
#include "minqing/report.h"
#include "platform.h"
#include "proto.h"

/* The parameters the endpoint takes. */
static const char *const params[] = {"as-of", "from",  "area",     "format",
                                     "list",  "cadre", "category", "status"};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

/* ---- answers ------------------------------------------------------------- */

static void add_common_headers(struct MHD_Response *resp, const char *type)
{
    char now[32];

    snprintf(now, sizeof(now), "%" PRId64, mq_platform_time_ms());
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Minqing-Server-Time", now);
}

static int accepts_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_ACCEPT_ENCODING);
    return ae != NULL && strstr(ae, "gzip") != NULL;
}

/* Queues `text` (len bytes, malloc'd: taken over) as JSON, gzipped when the
 * client accepts it. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, char *text,
                                 size_t len)
{
    unsigned char *z = NULL;
    size_t zlen = 0;
    struct MHD_Response *resp;

    if (accepts_gzip(conn) && mq__gzip(text, len, &z, &zlen, NULL) == 0) {
        free(text);
        resp = MHD_create_response_from_buffer(zlen, z, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(z);
    } else {
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            free(text);
    }
    if (resp == NULL)
        return MHD_NO;
    add_common_headers(resp, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (z != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* {"server_time":T,"error":{"code":CODE,"message":MESSAGE}}, as every error
 * of the server. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static enum MHD_Result
fail(struct MHD_Connection *conn, unsigned status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    cJSON *a = cJSON_CreateObject(), *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "server_time", (double)mq_platform_time_ms());
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddItemToObject(a, "error", e);
    char *text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    if (text == NULL)
        return MHD_NO;
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (copy != NULL)
        memcpy(copy, text, len + 1);
    cJSON_free(text);
    return copy != NULL ? send_json(conn, status, copy, len) : MHD_NO;
}

/* The answer for a library error: 400 for a bad value, 404 for a record
 * that is not here, 500 for the rest. */
static enum MHD_Result fail_lib(struct MHD_Connection *conn, int rc, const mq_error *e)
{
    if (rc == MQ_EINVAL)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", e->message);
    if (rc == MQ_ENOTFOUND)
        return fail(conn, MHD_HTTP_NOT_FOUND, "not_found", "%s", e->message);
    fprintf(stderr, "minqing-server: report failed: %s\n", e->message);
    return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", "%s", e->message);
}

/* Streams the rest of `f` (taken over: closed when the answer is done). */
static ssize_t file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    FILE *f = cls;
    (void)pos; /* read in order: libmicrohttpd asks for each block once */
    size_t n = fread(buf, 1, max, f);
    if (n > 0)
        return (ssize_t)n;
    return ferror(f) ? MHD_CONTENT_READER_END_WITH_ERROR
                     : MHD_CONTENT_READER_END_OF_STREAM;
}

static void file_close(void *cls)
{
    fclose(cls);
}

static enum MHD_Result send_file(struct MHD_Connection *conn, FILE *f, const char *type,
                                 const char *filename)
{
    rewind(f);
    struct MHD_Response *resp = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, (size_t)64 * 1024, file_read, f, file_close);
    if (resp == NULL) {
        fclose(f);
        return MHD_NO;
    }
    add_common_headers(resp, type);
    if (filename != NULL) {
        char disp[128];
        snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(resp, "Content-Disposition", disp);
    }
    enum MHD_Result r = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

/* ---- parameters and scope ------------------------------------------------------ */

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    const char **bad = cls;
    (void)kind;
    (void)value;
    for (size_t i = 0; i < NPARAMS; i++)
        if (strcmp(key, params[i]) == 0)
            return MHD_YES;
    *bad = key;
    return MHD_NO;
}

static const char *arg(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static int is_device_area(const mq_device *dev, const char *id)
{
    for (size_t i = 0; i < dev->nareas; i++)
        if (strcmp(dev->areas[i], id) == 0)
            return 1;
    return 0;
}

/*
 * Whether `area` is one of the device's areas or below one (invariant 1):
 * 0; 404 when it is not a live area here; 403 when it is outside.  Walks up
 * the parents, at most 64 levels (bad data must not hang the walk).
 */
static unsigned area_scope(mq_store *st, const mq_device *dev, const char *area)
{
    char id[64];
    mq_error e;

    snprintf(id, sizeof(id), "%s", area);
    for (int depth = 0; depth < 64; depth++) {
        if (is_device_area(dev, id))
            return 0;
        char *json = NULL;
        if (mq_store_get(st, id, &json, &e) != 0)
            return depth == 0 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_FORBIDDEN;
        cJSON *r = cJSON_Parse(json);
        mq_free(json);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(r, "type");
        const cJSON *deleted = cJSON_GetObjectItemCaseSensitive(r, "deleted");
        const cJSON *parent = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(r, "fields"), "parent");
        int is_area = cJSON_IsString(type) && strcmp(type->valuestring, "area") == 0 &&
                      !cJSON_IsTrue(deleted);
        int up = cJSON_IsString(parent) && strlen(parent->valuestring) < sizeof(id);
        if (up)
            snprintf(id, sizeof(id), "%s", parent->valuestring);
        cJSON_Delete(r);
        if (!is_area)
            return depth == 0 ? MHD_HTTP_NOT_FOUND : MHD_HTTP_FORBIDDEN;
        if (!up)
            return MHD_HTTP_FORBIDDEN;
    }
    return MHD_HTTP_FORBIDDEN;
}

/* ---- the answers --------------------------------------------------------------- */

/* {"server_time":T,"reports":[REPORT, ...]}, one report per area. */
static enum MHD_Result figures_json(struct MHD_Connection *conn, mq_store *st,
                                    const char *const *areas, size_t n, const char *as_of,
                                    const char *from)
{
    mq__buf b = {0};
    mq_error e;
    char head[64];

    snprintf(head, sizeof(head), "{\"server_time\":%" PRId64 ",\"reports\":[",
             mq_platform_time_ms());
    mq__buf_puts(&b, head);
    for (size_t i = 0; i < n; i++) {
        mq_report_query q = {areas[i], as_of, from};
        char *json = NULL;
        int rc = mq_report_json(st, &q, &json, &e);
        if (rc != 0) {
            mq__buf_free(&b);
            return fail_lib(conn, rc, &e);
        }
        if (i > 0)
            mq__buf_puts(&b, ",");
        mq__buf_puts(&b, json);
        mq_free(json);
    }
    mq__buf_puts(&b, "]}");
    if (mq__buf_check(&b, "the report", &e) != 0) {
        mq__buf_free(&b);
        return fail_lib(conn, MQ_ENOMEM, &e);
    }
    return send_json(conn, MHD_HTTP_OK, b.data, b.len);
}

static int print_line(void *ctx, const char *json)
{
    FILE *f = ctx;
    return fputs(json, f) < 0 || putc('\n', f) == EOF ? MQ_EIO : 0;
}

/* A temporary file's name, unused: "minqing-report-HEX.EXT" in TMPDIR. */
static int temp_name(char *out, size_t n, const char *ext)
{
    char hex[17];
    const char *dir = getenv("TMPDIR");

    if (mq__random_hex(hex, 8, NULL) != 0)
        return -1;
    int k = snprintf(out, n, "%s/minqing-report-%s.%s",
                     dir != NULL && dir[0] != '\0' ? dir : "/tmp", hex, ext);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

enum MHD_Result mq_server_reports(struct MHD_Connection *conn, mq_store *st,
                                  const mq_device *dev)
{
    const char *bad = NULL;
    mq_error e;

    /* Invariant 2: every parameter checked before the store is read. */
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, find_unknown, &bad);
    if (bad != NULL)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "%.64s: not a parameter of /v1/reports (as-of, from, area, format, "
                    "list, cadre, category, status)",
                    bad);
    const char *as_of = arg(conn, "as-of"), *from = arg(conn, "from");
    const char *area = arg(conn, "area"), *format = arg(conn, "format");
    const char *list = arg(conn, "list");
    const char *cadre = arg(conn, "cadre"), *category = arg(conn, "category");
    const char *status = arg(conn, "status");
    const char *days[][2] = {{"as-of", as_of}, {"from", from}};
    for (size_t i = 0; i < 2; i++)
        if (days[i][1] != NULL && mq_report_check_day(days[i][1], &e) != 0)
            return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter", "%s: %s", days[i][0],
                        e.message);
    if (as_of != NULL && from != NULL && strcmp(from, as_of) > 0)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "from: \"%s\" is after as-of \"%s\"", from, as_of);
    int json = format == NULL || strcmp(format, "json") == 0;
    int csv = format != NULL && strcmp(format, "csv") == 0;
    int xlsx = format != NULL && strcmp(format, "xlsx") == 0;
    if (!json && !csv && !xlsx)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "format: must be json, csv or xlsx, not \"%.40s\"", format);
    int needs = list != NULL && strcmp(list, "needs") == 0;
    int overdue = list != NULL && strcmp(list, "overdue") == 0;
    if (list != NULL && !needs && !overdue)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "list: must be needs or overdue, not \"%.40s\"", list);
    if (list == NULL && (cadre != NULL || category != NULL || status != NULL))
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "%s: filters a list only (list=needs or list=overdue)",
                    cadre != NULL      ? "cadre"
                    : category != NULL ? "category"
                                       : "status");
    if (list != NULL && from != NULL)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "from: a list is taken as of a day, without from");
    if (area != NULL && !mq_valid_uuid(area))
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "area: must be an area id (a lower-case UUID), not \"%.40s\"", area);
    if (cadre != NULL && !mq_valid_uuid(cadre))
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "cadre: must be a cadre id (a lower-case UUID), not \"%.40s\"",
                    cadre);

    /* Invariant 1: the device's areas, or one area inside them. */
    const char *const *areas = (const char *const *)dev->areas;
    size_t nareas = dev->nareas;
    if (area != NULL) {
        unsigned s = area_scope(st, dev, area);
        if (s == MHD_HTTP_NOT_FOUND)
            return fail(conn, s, "not_found", "area \"%s\": no live area of this id here",
                        area);
        if (s != 0)
            return fail(conn, s, "forbidden",
                        "area \"%s\": outside the areas of device %s", area, dev->name);
        areas = &area;
        nareas = 1;
    }
    if (nareas == 0)
        return fail(conn, MHD_HTTP_FORBIDDEN, "forbidden", "device %s has no areas",
                    dev->name);
    if (!json && nareas != 1)
        return fail(conn, MHD_HTTP_BAD_REQUEST, "bad_parameter",
                    "area: device %s sees %zu areas; a %s file covers one: name it with "
                    "area=ID",
                    dev->name, nareas, format);
    if (json && list == NULL)
        return figures_json(conn, st, areas, nareas, as_of, from);

    /* Invariant 3: to a temporary file, then streamed from it. */
    FILE *f = NULL;
    int rc = 0;
    mq_report_needs_query nq = {NULL, as_of, cadre, category, status, overdue};
    mq_report_query q = {areas[0], as_of, from};
    if (xlsx) {
        char path[512] = "";
        if (temp_name(path, sizeof(path), "xlsx") != 0 ||
            (f = fopen(path, "wbx")) == NULL)
            return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                        "cannot create a temporary file for the workbook");
        fclose(f);
        nq.area = areas[0];
        rc = list != NULL
                 ? mq_report_needs_export(st, &nq, MQ_REPORT_XLSX, NULL, path, &e)
                 : mq_report_export(st, &q, MQ_REPORT_XLSX, NULL, path, &e);
        f = rc == 0 ? fopen(path, "rb") : NULL;
        remove(path); /* an open file is still read whole */
        if (rc == 0 && f == NULL)
            rc = mq_error_set(&e, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                              "cannot read the workbook back");
    } else {
        if ((f = tmpfile()) == NULL)
            return fail(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error",
                        "cannot create a temporary file");
        for (size_t i = 0; rc == 0 && i < nareas; i++) {
            nq.area = areas[i];
            if (csv)
                rc = list != NULL
                         ? mq_report_needs_export(st, &nq, MQ_REPORT_CSV, f, NULL, &e)
                         : mq_report_export(st, &q, MQ_REPORT_CSV, f, NULL, &e);
            else
                rc = mq_report_needs(st, &nq, print_line, f, &e);
        }
        if (rc == 0 && fflush(f) != 0)
            rc = mq_error_set(&e, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                              "cannot write the temporary file");
    }
    if (rc != 0) {
        if (f != NULL)
            fclose(f);
        return fail_lib(conn, rc, &e);
    }
    const char *name = list != NULL ? (overdue ? "overdue" : "needs") : "report";
    char filename[32];
    snprintf(filename, sizeof(filename), "%s.%s", name, xlsx ? "xlsx" : "csv");
    if (xlsx)
        return send_file(
            conn, f, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename);
    if (csv)
        return send_file(conn, f, "text/csv; charset=utf-8", filename);
    return send_file(conn, f, "application/x-ndjson; charset=utf-8", NULL);
}
