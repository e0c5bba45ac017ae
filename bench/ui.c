/*
 * bench/ui.c - case 10: how fast the cadre's screens answer on a county.
 *
 * Issue 10 asks that every screen of the tablet's web app answer within
 * 200 ms of server time on a county-sized store.  This program starts the
 * tablet's real host (mq_web_host_start(), the one `minqing ui` runs) on
 * the store it is given, in this process, and asks it over loopback HTTP
 * with libcurl (one kept-alive connection, as a browser does) for each
 * screen's endpoint --runs times: the median and the worst of the wall
 * time of each request.  The inputs are taken from the store: a household
 * (its head's name, identity number, phone and address), one of the needs
 * the store's cadre handles, an area.
 *
 * Two floors, measured in the same run and interleaved with the screens:
 *   - an empty request to the host: an API path that does not exist (404),
 *     which pays for HTTP on loopback, the secret check and the routing;
 *   - a plain SQLite primary-key read of one record (its fields) on a
 *     connection of its own to the same file.
 *
 * The writes (a new visit, a need, an edit of the household, and a need
 * closed, reopened and transferred) change the store: give it a copy.
 *
 * Usage: mqb_ui --db STORE [--runs N] [--only TEXT]
 * (--only: just the screens whose name holds TEXT, to profile one.)
 * Prints one JSON object: {"floor_empty_ms","floor_pk_ms","screens":[...]}.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "minqing/minqing.h"
#include "platform.h"
#include "util.h"

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
    buf *b = ctx;
    b->p = mqb_xrealloc(b->p, b->n + size * n + 1);
    memcpy(b->p + b->n, data, size * n);
    b->n += size * n;
    b->p[b->n] = '\0';
    return size * n;
}

typedef struct client {
    CURL *c;
    struct curl_slist *headers;
    char base[64];
    buf body;
} client;

/* One request; returns its wall time in ms, the status in *status and the
 * answer in c->body. */
static double ask(client *cl, const char *method, const char *path, const char *json,
                  long *status)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", cl->base, path);
    cl->body.n = 0;
    if (cl->body.p != NULL)
        cl->body.p[0] = '\0';
    curl_easy_setopt(cl->c, CURLOPT_URL, url);
    curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
    if (json != NULL) {
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(cl->c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    } else {
        curl_easy_setopt(cl->c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(cl->c, CURLOPT_CUSTOMREQUEST, method);
    }
    double t0 = mqb_now();
    CURLcode rc = curl_easy_perform(cl->c);
    double ms = (mqb_now() - t0) * 1000.0;
    if (rc != CURLE_OK)
        mqb_die("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(cl->c, CURLINFO_RESPONSE_CODE, status);
    return ms;
}

/* The text of column 0 of the first row of `sql` (with ?1 = arg), or dies. */
static char *one(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        mqb_die("%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        out = mqb_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (out == NULL)
        mqb_die("nothing for: %s", sql);
    return out;
}

/* Percent-encodes `s` for a query. */
static void encode(char *out, size_t n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (; *s != '\0' && k + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
            out[k++] = (char)ch;
        } else {
            out[k++] = '%';
            out[k++] = hex[ch >> 4];
            out[k++] = hex[ch & 15];
        }
    }
    out[k] = '\0';
}

/* The first `chars` UTF-8 characters of `s`, in `out`. */
static void first_chars(char *out, size_t n, const char *s, int chars)
{
    size_t k = 0;
    for (int c = 0; s[k] != '\0' && c < chars; c++) {
        k++;
        while (((unsigned char)s[k] & 0xC0) == 0x80)
            k++;
    }
    if (k >= n)
        k = n - 1;
    memcpy(out, s, k);
    out[k] = '\0';
}

enum { MAX_SCREENS = 40 };

typedef struct screen {
    const char *name;
    const char *method;
    char path[512];
    char body[512];
    long expect; /* the status it must answer */
    double *ms;
    size_t n;
} screen;

static double pk_read(sqlite3 *db, sqlite3_stmt *st, const char *id)
{
    double t0 = mqb_now();
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        mqb_die("the floor's read found nothing: %s", sqlite3_errmsg(db));
    volatile size_t len = (size_t)sqlite3_column_bytes(st, 0);
    (void)len;
    sqlite3_reset(st);
    return (mqb_now() - t0) * 1000.0;
}

int main(int argc, char **argv)
{
    const char *db_path = NULL, *only = NULL;
    int runs = 15;
    mqb_set_program("mqb_ui");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db_path = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            mqb_die("usage: mqb_ui --db STORE [--runs N] [--only TEXT]");
    }
    if (db_path == NULL || runs < 1)
        mqb_die("usage: mqb_ui --db STORE [--runs N] [--only TEXT]");

    /* The inputs, from the store by plain SQL. */
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        mqb_die("%s: cannot open", db_path);
    sqlite3_busy_timeout(db, 10000);
    char *cadre = one(db, "SELECT value FROM meta WHERE key = 'cadre'", NULL);
    /* A need the cadre took, not yet resolved: acted on below. */
    char *need = one(db,
                     "SELECT n.id FROM record n WHERE n.type = 'need' AND n.deleted = 0"
                     " AND json_extract(n.fields, '$.recorded_by') = ?1"
                     " AND NOT EXISTS (SELECT 1 FROM record a WHERE a.parent = n.id"
                     "  AND a.type = 'need_action'"
                     "  AND json_extract(a.fields, '$.action') = 'resolve')"
                     " ORDER BY n.id LIMIT 1",
                     cadre);
    char *house = one(
        db, "SELECT json_extract(fields, '$.household') FROM record WHERE id = ?1", need);
    char *head =
        one(db, "SELECT json_extract(fields, '$.head_name') FROM record WHERE id = ?1",
            house);
    char *idno = one(
        db, "SELECT json_extract(fields, '$.head_id_number') FROM record WHERE id = ?1",
        house);
    char *phone = one(
        db, "SELECT json_extract(fields, '$.phone') FROM record WHERE id = ?1", house);
    char *address = one(
        db, "SELECT json_extract(fields, '$.address') FROM record WHERE id = ?1", house);
    char *area = one(db, "SELECT area FROM record WHERE id = ?1", house);
    char *village = one(
        db, "SELECT json_extract(fields, '$.parent') FROM record WHERE id = ?1", area);
    sqlite3_stmt *pk;
    if (sqlite3_prepare_v2(db, "SELECT fields FROM record WHERE id = ?1", -1, &pk,
                           NULL) != SQLITE_OK)
        mqb_die("%s", sqlite3_errmsg(db));

    /* The host, as `minqing ui` starts it. */
    mq_store *store = NULL;
    mq_error err;
    mq_error_clear(&err);
    if (mq_store_open(&store, db_path, &err) != 0)
        mqb_die("%s: %s", db_path, err.message);
    mq_web_host *host = NULL;
    mq_web_host_opts ho = {store, db_path, "127.0.0.1:0"};
    if (mq_web_host_start(&host, &ho, &err) != 0)
        mqb_die("host: %s", err.message);
    const char *url = mq_web_host_url(host);
    const char *k = strstr(url, "#k=");
    if (k == NULL)
        mqb_die("no secret in %s", url);

    client cl;
    memset(&cl, 0, sizeof cl);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cl.c = curl_easy_init();
    snprintf(cl.base, sizeof cl.base, "http://127.0.0.1:%u", mq_web_host_port(host));
    char h[256];
    snprintf(h, sizeof h, "X-Minqing-Secret: %s", k + 3);
    cl.headers = curl_slist_append(cl.headers, h);
    cl.headers = curl_slist_append(cl.headers, "Content-Type: application/json");
    curl_easy_setopt(cl.c, CURLOPT_HTTPHEADER, cl.headers);
    curl_easy_setopt(cl.c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(cl.c, CURLOPT_WRITEDATA, &cl.body);
    curl_easy_setopt(cl.c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cl.c, CURLOPT_TIMEOUT_MS, 120000L);

    /* The screens and their endpoints (docs/UI.md). */
    screen sc[MAX_SCREENS];
    size_t ns = 0;
    char q[256], part[128];
#define ADD(NAME, METHOD, EXPECT, ...)                                                   \
    do {                                                                                 \
        memset(&sc[ns], 0, sizeof sc[ns]);                                               \
        sc[ns].name = NAME;                                                              \
        sc[ns].method = METHOD;                                                          \
        sc[ns].expect = EXPECT;                                                          \
        snprintf(sc[ns].path, sizeof sc[ns].path, __VA_ARGS__);                          \
        ns++;                                                                            \
    } while (0)
    ADD("me", "GET", 200, "/api/me");
    ADD("schema", "GET", 200, "/api/schema");
    first_chars(part, sizeof part, head, 1);
    encode(q, sizeof q, part);
    ADD("search: a name's first character", "GET", 200, "/api/households?q=%s", q);
    first_chars(part, sizeof part, head, 2);
    encode(q, sizeof q, part);
    ADD("search: a name", "GET", 200, "/api/households?q=%s", q);
    ADD("search: id number prefix of the county (5323)", "GET", 200,
        "/api/households?q=5323");
    snprintf(part, sizeof part, "%.14s", idno);
    ADD("search: 14 digits of an id number", "GET", 200, "/api/households?q=%s", part);
    snprintf(part, sizeof part, "%.7s", phone);
    ADD("search: 7 digits of a phone", "GET", 200, "/api/households?q=%s", part);
    encode(q, sizeof q,
           strstr(address, "村") != NULL ? strstr(address, "村") - 6 : address);
    ADD("search: an address", "GET", 200, "/api/households?q=%s&limit=20", q);
    ADD("household file", "GET", 200, "/api/households/%s", house);
    ADD("one record", "GET", 200, "/api/records/%s", house);
    ADD("work list", "GET", 200, "/api/worklist");
    ADD("needs: overdue", "GET", 200, "/api/needs?status=overdue");
    ADD("needs: all (first 1000)", "GET", 200, "/api/needs");
    ADD("needs: a village's", "GET", 200, "/api/needs?area=%s", village);
    ADD("needs: a category's open ones", "GET", 200,
        "/api/needs?category=housing&status=open");
    ADD("needs: a cadre's", "GET", 200, "/api/needs?cadre=%s", cadre);
    ADD("needs: petitions", "GET", 200, "/api/needs?source=petition_visit");
    ADD("conflicts", "GET", 200, "/api/conflicts");
    ADD("sync state", "GET", 200, "/api/sync");
    ADD("new visit", "POST", 201, "/api/records/visit");
    snprintf(
        sc[ns - 1].body, sizeof sc[ns - 1].body,
        "{\"fields\":{\"household\":\"%s\",\"kind\":\"home_visit\",\"notes\":\"bench\"}}",
        house);
    ADD("new need", "POST", 201, "/api/records/need");
    snprintf(sc[ns - 1].body, sizeof sc[ns - 1].body,
             "{\"fields\":{\"household\":\"%s\",\"category\":\"housing\","
             "\"description\":\"bench\"}}",
             house);
    ADD("edit a household", "PUT", 200, "/api/records/%s", house);
    ADD("close a need", "POST", 201, "/api/needs/%s/close", need);
    snprintf(sc[ns - 1].body, sizeof sc[ns - 1].body,
             "{\"note\":\"bench\",\"satisfaction\":\"satisfied\"}");
    ADD("reopen a need", "POST", 201, "/api/needs/%s/reopen", need);
    snprintf(sc[ns - 1].body, sizeof sc[ns - 1].body, "{\"note\":\"bench\"}");
    ADD("transfer a need", "POST", 201, "/api/needs/%s/transfer", need);
    snprintf(sc[ns - 1].body, sizeof sc[ns - 1].body,
             "{\"to\":\"%s\",\"note\":\"bench\"}", cadre);
    ADD("office report page (not a cadre's screen)", "GET", 200, "/api/reports");
#undef ADD
    /* --only: the screens whose name holds the text (to profile one). */
    if (only != NULL) {
        size_t kept = 0;
        for (size_t i = 0; i < ns; i++)
            if (strstr(sc[i].name, only) != NULL)
                sc[kept++] = sc[i];
        ns = kept;
    }
    for (size_t i = 0; i < ns; i++)
        sc[i].ms = mqb_xmalloc((size_t)runs * sizeof(double));
    double *fe = mqb_xmalloc((size_t)runs * sizeof(double));
    double *fp = mqb_xmalloc((size_t)runs * sizeof(double));
    size_t nf = 0;

    long status;
    /* One round unmeasured: the page cache holds what a used tablet holds. */
    for (int r = -1; r < runs; r++) {
        for (size_t i = 0; i < ns; i++) {
            screen *s = &sc[i];
            const char *body = s->body[0] ? s->body : NULL;
            if (strcmp(s->name, "edit a household") == 0) {
                snprintf(s->body, sizeof s->body, "{\"fields\":{\"phone\":\"139%08d\"}}",
                         10000000 + r + 1);
                body = s->body;
            }
            double ms = ask(&cl, s->method, s->path, body, &status);
            if (status != s->expect)
                mqb_die("%s %s: %ld, not %ld: %.300s", s->method, s->path, status,
                        s->expect, cl.body.p != NULL ? cl.body.p : "");
            if (r >= 0)
                s->ms[s->n++] = ms;
        }
        double e = ask(&cl, "GET", "/api/no-such-endpoint", NULL, &status);
        if (status != 404)
            mqb_die("the empty request answered %ld", status);
        double p = pk_read(db, pk, house);
        if (r >= 0) {
            fe[nf] = e;
            fp[nf] = p;
            nf++;
        }
    }

    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "runs", runs);
    cJSON_AddNumberToObject(o, "floor_empty_ms", mqb_percentile(fe, nf, 50));
    cJSON_AddNumberToObject(o, "floor_pk_ms", mqb_percentile(fp, nf, 50));
    cJSON *arr = cJSON_AddArrayToObject(o, "screens");
    for (size_t i = 0; i < ns; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", sc[i].name);
        cJSON_AddStringToObject(x, "method", sc[i].method);
        cJSON_AddStringToObject(x, "path", sc[i].path);
        cJSON_AddNumberToObject(x, "p50_ms", mqb_percentile(sc[i].ms, sc[i].n, 50));
        cJSON_AddNumberToObject(x, "max_ms", sc[i].ms[sc[i].n - 1]);
        cJSON_AddItemToArray(arr, x);
        free(sc[i].ms);
    }
    char *text = cJSON_PrintUnformatted(o);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(o);

    free(fe);
    free(fp);
    free(cl.body.p);
    curl_slist_free_all(cl.headers);
    curl_easy_cleanup(cl.c);
    curl_global_cleanup();
    mq_web_host_stop(host);
    mq_store_close(store);
    sqlite3_finalize(pk);
    sqlite3_close(db);
    free(cadre), free(need), free(house), free(head), free(idno), free(phone);
    free(address), free(area), free(village);
    return 0;
}
