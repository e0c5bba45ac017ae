/*
 * web/api.c - the JSON API's front door (docs/UI.md): routing a request to
 * its handler (web/api_*.c), which answers through the shared pieces of
 * web/api_common.c.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"

void mq_web_answer_free(mq_web_answer *a)
{
    if (a == NULL)
        return;
    free(a->body);
    free(a->filename);
    memset(a, 0, sizeof *a);
}

/* ---- routing -------------------------------------------------------------- */

/* The path's segments after "/api/": at most four, each non-empty. */
typedef struct segments {
    char part[4][80];
    size_t n;
} segments;

static int split(const char *path, segments *s)
{
    memset(s, 0, sizeof *s);
    if (strncmp(path, "/api/", 5) != 0)
        return -1;
    const char *p = path + 5;
    while (*p != '\0') {
        size_t n = strcspn(p, "/");
        if (n == 0 || n >= sizeof s->part[0] || s->n == 4)
            return -1;
        memcpy(s->part[s->n], p, n);
        s->part[s->n][n] = '\0';
        s->n++;
        p += n;
        if (*p == '/' && *++p == '\0')
            return -1; /* no trailing slash */
    }
    return s->n > 0 ? 0 : -1;
}

static int is(const segments *s, size_t n, const char *a, const char *b)
{
    return s->n == n && strcmp(s->part[0], a) == 0 &&
           (b == NULL || strcmp(s->part[1], b) == 0);
}

/* The route of a request; 0 answered, or MQ_ENOMEM.  `allow` is set to the
 * methods of a path that exists when the method is not one of them. */
static int route(mq__web *w, const char *m, const segments *s, const char **allow)
{
    int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0,
        put = strcmp(m, "PUT") == 0;
    *allow = NULL;
    if (is(s, 1, "me", NULL))
        return get ? mq__web_me(w) : (*allow = "GET", 0);
    if (is(s, 1, "schema", NULL))
        return get ? mq__web_schema(w) : (*allow = "GET", 0);
    if (is(s, 1, "households", NULL))
        return get ? mq__web_households(w) : (*allow = "GET", 0);
    if (is(s, 2, "households", NULL))
        return get ? mq__web_household(w, s->part[1]) : (*allow = "GET", 0);
    if (is(s, 2, "records", NULL)) {
        if (get)
            return mq__web_record(w, s->part[1]);
        if (put)
            return mq__web_update(w, s->part[1]);
        if (post)
            return mq__web_create(w, s->part[1]);
        *allow = "GET, POST, PUT";
        return 0;
    }
    if (is(s, 1, "worklist", NULL))
        return get ? mq__web_worklist(w) : (*allow = "GET", 0);
    if (is(s, 1, "needs", NULL))
        return get ? mq__web_needs(w) : (*allow = "GET", 0);
    if (is(s, 2, "needs", "export"))
        return get ? mq__web_needs_export(w) : (*allow = "GET", 0);
    if (s->n == 3 && strcmp(s->part[0], "needs") == 0 &&
        (strcmp(s->part[2], "close") == 0 || strcmp(s->part[2], "transfer") == 0 ||
         strcmp(s->part[2], "reopen") == 0))
        return post ? mq__web_need_action(w, s->part[1], s->part[2])
                    : (*allow = "POST", 0);
    if (is(s, 1, "conflicts", NULL))
        return get ? mq__web_conflicts(w) : (*allow = "GET", 0);
    if (is(s, 2, "conflicts", "resolve"))
        return post ? mq__web_resolve(w) : (*allow = "POST", 0);
    if (is(s, 1, "reports", NULL))
        return get ? mq__web_reports(w) : (*allow = "GET", 0);
    if (is(s, 2, "reports", "export"))
        return get ? mq__web_reports_export(w) : (*allow = "GET", 0);
    return mq__web_error(w, 404, "not_found", NULL, "%s %s: no such endpoint", m,
                         w->rq->path);
}

int mq_web_api(mq_store *store, const mq_web_who *who, const mq_web_request *rq,
               mq_web_answer *ans)
{
    mq__web w;
    segments s;
    const char *allow = NULL;

    memset(ans, 0, sizeof *ans);
    memset(&w, 0, sizeof w);
    w.store = store;
    w.who = who;
    w.rq = rq;
    w.ans = ans;
    int64_t ms = mq_store_now_ms(store);
    /* The day on the store's clock, in UTC as the core stamps its changes. */
    long days = (long)(ms / 86400000);
    {
        long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        long doe = z - era * 146097;
        long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
        long m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
        snprintf(w.today, sizeof w.today, "%04u-%02u-%02u", (unsigned)(y % 10000),
                 (unsigned)m % 100u, (unsigned)d % 100u);
    }
    w.today_n = days;
    if (rq->path == NULL || rq->method == NULL || split(rq->path, &s) != 0)
        return mq__web_error(&w, 404, "not_found", NULL, "%.200s: no such endpoint",
                             rq->path != NULL ? rq->path : "");
    if (rq->body_len > MQ_WEB_MAX_BODY)
        return mq__web_error(&w, 413, "too_large", NULL, "body: more than %zu bytes",
                             MQ_WEB_MAX_BODY);
    int rc = route(&w, rq->method, &s, &allow);
    if (rc == 0 && allow != NULL)
        rc = mq__web_error(&w, 405, "invalid", NULL, "%s %s: use %s", rq->method,
                           rq->path, allow);
    if (rc != 0)
        mq_web_answer_free(ans);
    return rc;
}
