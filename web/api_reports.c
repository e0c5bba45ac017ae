/*
 * web/api_reports.c - the figures of docs/REPORTS.md for the who's areas:
 * GET /api/reports (mq_report_json()), and the downloads GET
 * /api/reports/export and GET /api/needs/export (CSV or XLSX, as the
 * command line and the server write them).
 *
 * A report is of one area and the areas below it: a who limited to one
 * area gets that area by default, a who with several names one
 * (?area=), and an area outside the who's is refused (403) before the
 * report is made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

/* The area of the report: the argument (checked), or the who's only
 * area, or NULL for the tablet's whole store.  Answers and returns 1 when
 * refused. */
static int report_area(mq__web *w, const char **area)
{
    *area = mq__web_arg(w, "area");
    if (*area != NULL) {
        /* An area outside is forbidden here, not hidden: the who asked
         * for a report, and reports are of the who's areas only. */
        cJSON *rec = NULL;
        int rc = mq__web_get(w, *area, "area", &rec);
        cJSON_Delete(rec);
        if (rc == 1 && !w->who->all && w->ans->status == 404) {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "area", "not one of your areas");
            return mq__web_error(w, 403, "forbidden", f,
                                 "area %.40s: not one of your areas", *area) == 0
                       ? 1
                       : MQ_ENOMEM;
        }
        return rc;
    }
    if (w->who->all)
        return 0;
    if (w->who->nareas == 1) {
        *area = w->who->areas[0];
        return 0;
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "area", "required: one of your areas");
    return mq__web_error(w, 400, "invalid", f, "area: required: one of your areas") == 0
               ? 1
               : MQ_ENOMEM;
}

/* A day argument checked by the core's rule; answers and returns 1. */
static int day_arg(mq__web *w, const char *name, const char **out)
{
    mq_error err;
    *out = mq__web_arg(w, name);
    mq_error_clear(&err);
    if (*out == NULL || mq_report_check_day(*out, &err) == 0)
        return 0;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, name, err.message);
    return mq__web_error(w, 400, "invalid", f, "%s: %s", name, err.message) == 0
               ? 1
               : MQ_ENOMEM;
}

int mq__web_reports(mq__web *w)
{
    mq_report_query q;
    mq_error err;
    char *out = NULL;
    memset(&q, 0, sizeof q);
    int rc = report_area(w, &q.area);
    if (rc == 0)
        rc = day_arg(w, "as_of", &q.as_of);
    if (rc == 0)
        rc = day_arg(w, "from", &q.from);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    mq_error_clear(&err);
    rc = mq_report_json(w->store, &q, &out, &err);
    if (rc != 0)
        return mq__web_fail(w, rc, &err);
    /* The report is JSON already: sent as the store made it. */
    free(w->ans->body);
    size_t n = strlen(out);
    w->ans->body = malloc(n + 1);
    if (w->ans->body == NULL) {
        mq_free(out);
        return MQ_ENOMEM;
    }
    memcpy(w->ans->body, out, n + 1);
    mq_free(out);
    w->ans->len = n;
    w->ans->status = 200;
    w->ans->content_type = "application/json; charset=utf-8";
    return 0;
}

/* ---- downloads ------------------------------------------------------------ */

typedef struct download {
    mq_report_format format;
    FILE *csv;         /* a tmpfile() for CSV */
    char path[512];    /* the file XLSX is written to, else "" */
    const char *ctype; /* the download's content type */
    const char *ext;
} download;

static int format_arg(mq__web *w, download *d)
{
    const char *f = mq__web_arg(w, "format");
    memset(d, 0, sizeof *d);
    if (f == NULL || strcmp(f, "csv") == 0) {
        d->format = MQ_REPORT_CSV;
        d->ctype = "text/csv; charset=utf-8";
        d->ext = "csv";
        d->csv = tmpfile();
        if (d->csv == NULL)
            return mq__web_error(w, 500, "internal", NULL,
                                 "cannot make a temporary file") == 0
                       ? 1
                       : MQ_ENOMEM;
        return 0;
    }
    if (strcmp(f, "xlsx") == 0) {
        char id[MQ_WEB_ID_SIZE];
        /* libxlsxwriter writes to a path; the temporary folder is the
         * environment's ($TMPDIR), as tmpfile() uses. */
        const char *dir = getenv("TMPDIR");
        if (dir == NULL || dir[0] == '\0')
            dir = "/tmp";
        if (mq__web_new_id(id) != 0 ||
            (size_t)snprintf(d->path, sizeof d->path, "%s/minqing-export-%s.xlsx", dir,
                             id) >= sizeof d->path)
            return mq__web_error(w, 500, "internal", NULL,
                                 "cannot name a temporary file") == 0
                       ? 1
                       : MQ_ENOMEM;
        d->format = MQ_REPORT_XLSX;
        d->ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        d->ext = "xlsx";
        return 0;
    }
    cJSON *fl = cJSON_CreateObject();
    cJSON_AddStringToObject(fl, "format", "csv or xlsx");
    return mq__web_error(w, 400, "invalid", fl, "format: csv or xlsx, not \"%.20s\"",
                         f) == 0
               ? 1
               : MQ_ENOMEM;
}

/* Reads what was written into the answer, as a download named
 * minqing-WHAT-DAY.EXT; removes the temporary file. */
static int finish(mq__web *w, download *d, int rc, const mq_error *err, const char *what)
{
    FILE *f = d->csv;
    if (rc == 0 && f == NULL && (f = fopen(d->path, "rb")) == NULL)
        rc = MQ_EIO;
    char *buf = NULL;
    size_t len = 0;
    if (rc == 0 && fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL)
            len = fread(buf, 1, (size_t)n, f);
        if (buf == NULL || len != (size_t)n) {
            free(buf);
            buf = NULL;
            rc = MQ_EIO;
        }
    }
    if (f != NULL)
        fclose(f);
    if (d->path[0] != '\0')
        remove(d->path);
    if (rc != 0) {
        free(buf);
        return err != NULL && err->rc != 0
                   ? mq__web_fail(w, rc, err)
                   : mq__web_error(w, 500, "internal", NULL, "cannot read back the %s",
                                   what);
    }
    char name[80];
    snprintf(name, sizeof name, "minqing-%s-%s.%s", what, w->today, d->ext);
    w->ans->filename = malloc(strlen(name) + 1);
    if (w->ans->filename == NULL) {
        free(buf);
        return MQ_ENOMEM;
    }
    memcpy(w->ans->filename, name, strlen(name) + 1);
    free(w->ans->body);
    w->ans->body = buf;
    w->ans->len = len;
    w->ans->status = 200;
    w->ans->content_type = d->ctype;
    return 0;
}

int mq__web_reports_export(mq__web *w)
{
    mq_report_query q;
    download d;
    mq_error err;
    memset(&q, 0, sizeof q);
    int rc = report_area(w, &q.area);
    if (rc == 0)
        rc = day_arg(w, "as_of", &q.as_of);
    if (rc == 0)
        rc = day_arg(w, "from", &q.from);
    if (rc == 0)
        rc = format_arg(w, &d);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    mq_error_clear(&err);
    rc = mq_report_export(w->store, &q, d.format, d.csv, d.path, &err);
    return finish(w, &d, rc, &err, "report");
}

int mq__web_needs_export(mq__web *w)
{
    mq_report_needs_query q;
    download d;
    mq_error err;
    memset(&q, 0, sizeof q);
    q.cadre = mq__web_arg(w, "cadre");
    q.category = mq__web_arg(w, "category");
    q.status = mq__web_arg(w, "status");
    int rc = report_area(w, &q.area);
    if (rc == 0)
        rc = day_arg(w, "as_of", &q.as_of);
    if (rc == 0)
        rc = format_arg(w, &d);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    mq_error_clear(&err);
    rc = mq_report_needs_export(w->store, &q, d.format, d.csv, d.path, &err);
    return finish(w, &d, rc, &err, "needs");
}
