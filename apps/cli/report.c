/*
 * apps/cli/report.c - `minqing report`: the figures of docs/REPORTS.md as
 * the library computes them (mq_report_json()), written for a person
 * (text: names, Chinese labels, aligned columns), for a program (the JSON
 * as it comes) or for a spreadsheet (CSV in UTF-8 with a byte order mark,
 * or XLSX, both with Chinese headers: mq_report_export()).
 *
 * Also the table writer that `needs` shares: cells of text laid out either
 * in aligned columns, measured in the columns a terminal gives them (a
 * Chinese character takes two), or as CSV.  Every option is checked before
 * the store is read, and the output file appears only once it is whole.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sheet.h"
#include "minqing/report.h"

/* ---- tables ---------------------------------------------------------------- */

void mq_cli_table_init(mq_cli_table *t, const char *title, size_t ncols)
{
    memset(t, 0, sizeof(*t));
    t->title = title;
    t->ncols = ncols;
}

int mq_cli_table_add(mq_cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 32;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof(char *));
        if (grown == NULL)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        const char *c = cells[i] != NULL ? cells[i] : "";
        size_t n = strlen(c) + 1;
        row[i] = malloc(n);
        if (row[i] == NULL) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
        memcpy(row[i], c, n);
    }
    t->nrows++;
    return 0;
}

void mq_cli_table_free(mq_cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

/* The columns a terminal gives one code point: two for the wide scripts
 * (CJK, Hangul, full-width forms), one for the rest. */
static size_t cp_width(unsigned long cp)
{
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

size_t mq_cli_text_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;

    while (*p != '\0') {
        unsigned long cp = *p;
        size_t len = 1;
        if (*p >= 0xF0)
            cp = *p & 0x07, len = 4;
        else if (*p >= 0xE0)
            cp = *p & 0x0F, len = 3;
        else if (*p >= 0xC0)
            cp = *p & 0x1F, len = 2;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80) { /* broken UTF-8: count the byte */
                len = 1;
                cp = '?';
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        w += cp_width(cp);
        p += len;
    }
    return w;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        putc(' ', out);
}

void mq_cli_table_text(const mq_cli_table *t, FILE *out)
{
    size_t *w = calloc(t->ncols, sizeof(size_t));

    if (w == NULL)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t n = mq_cli_text_width(t->cells[r * t->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    if (t->title != NULL)
        fprintf(out, "%s\n", t->title);
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t fill = w[c] - mq_cli_text_width(cell);
            /* The first column (a name) reads from the left, figures from
             * the right, so that digits line up; the header row follows. */
            if (c == 0) {
                fputs(cell, out);
                if (t->ncols > 1)
                    pad(out, fill);
            } else {
                fputs("  ", out);
                pad(out, fill);
                fputs(cell, out);
            }
        }
        putc('\n', out);
    }
    putc('\n', out);
    free(w);
}

static void csv_cell(const char *cell, FILE *out)
{
    if (strpbrk(cell, ",\"\r\n") == NULL) {
        fputs(cell, out);
        return;
    }
    putc('"', out);
    for (const char *p = cell; *p != '\0'; p++) {
        if (*p == '"')
            putc('"', out);
        putc(*p, out);
    }
    putc('"', out);
}

void mq_cli_table_csv(const mq_cli_table *t, FILE *out)
{
    if (t->title != NULL) {
        csv_cell(t->title, out);
        fputs("\r\n", out);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (c > 0)
                putc(',', out);
            csv_cell(t->cells[r * t->ncols + c], out);
        }
        fputs("\r\n", out);
    }
}

/* ---- formatting of figures ------------------------------------------------ */

const char *mq_cli_label(const cJSON *labels, const char *group, const char *value)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(labels, group);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(g, value);

    return cJSON_IsString(l) ? l->valuestring : value;
}

/* A number as a person writes it: no trailing zeros after the point, at
 * most `decimals` of them; "" for null. */
static const char *num(char *buf, size_t n, const cJSON *v, int decimals)
{
    if (!cJSON_IsNumber(v)) {
        buf[0] = '\0';
        return buf;
    }
    snprintf(buf, n, "%.*f", decimals, v->valuedouble);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    return buf;
}

/* A rate as a percentage, "93.5%"; "" for null. */
static const char *pct(char *buf, size_t n, const cJSON *v)
{
    if (!cJSON_IsNumber(v)) {
        buf[0] = '\0';
        return buf;
    }
    char tmp[32];
    cJSON *p = cJSON_CreateNumber(v->valuedouble * 100);
    snprintf(buf, n, "%s%%", num(tmp, sizeof(tmp), p, 1));
    cJSON_Delete(p);
    return buf;
}

static const cJSON *get(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);

    return path2 != NULL ? cJSON_GetObjectItemCaseSensitive(v, path2) : v;
}

/* ---- the report's tables ----------------------------------------------------- */

#define MAXCOLS 40
#define CELL    64

typedef struct row {
    const char *cells[MAXCOLS];
    char buf[MAXCOLS][CELL];
    size_t n;
} row;

static void put(row *r, const char *text)
{
    if (r->n < MAXCOLS)
        r->cells[r->n++] = text;
}

static void put_num(row *r, const cJSON *v, int decimals)
{
    if (r->n < MAXCOLS) {
        r->cells[r->n] = num(r->buf[r->n], CELL, v, decimals);
        r->n++;
    }
}

static void put_pct(row *r, const cJSON *v)
{
    if (r->n < MAXCOLS) {
        r->cells[r->n] = pct(r->buf[r->n], CELL, v);
        r->n++;
    }
}

/* The headers of the figures, after the name columns. */
static void figure_headers(row *h, const cJSON *sample, const cJSON *labels,
                           const char *reception, int needs, int others)
{
    if (needs) {
        static const char *const names[] = {
            "户数", "登记",     "受理",   "办结",           "在办",
            "超期", "超期办结", "办结率", "办结天数中位数", "协调金额(元)"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            put(h, names[i]);
    }
    if (others) {
        const cJSON *it;
        cJSON_ArrayForEach(it, get(sample, "needs", "satisfaction"))
        {
            put(h, mq_cli_label(labels, "satisfaction", it->string));
        }
        put(h, "信访登记");
        put(h, "信访受理");
        put(h, "信访办结");
        put(h, "信访办结率");
        put(h, "接待来访(人次)");
        cJSON_ArrayForEach(it, get(sample, "visits", NULL))
        {
            /* Receptions are shown once, in persons, as 接待来访 above. */
            if (reception != NULL && strcmp(it->string, reception) == 0)
                continue;
            if (h->n < MAXCOLS) {
                snprintf(h->buf[h->n], CELL, "%s(人次)",
                         mq_cli_label(labels, "visit_kind", it->string));
                put(h, h->buf[h->n]);
            }
        }
        put(h, "干部谈心谈话(人次)");
    }
}

static void figure_cells(row *r, const cJSON *o, const char *reception, int needs,
                         int others)
{
    const cJSON *n = get(o, "needs", NULL), *p = get(o, "petitions", NULL);

    if (needs) {
        put_num(r, get(o, "households", NULL), 0);
        put_num(r, get(n, "registered", NULL), 0);
        put_num(r, get(n, "accepted", NULL), 0);
        put_num(r, get(n, "resolved", NULL), 0);
        put_num(r, get(n, "open", NULL), 0);
        put_num(r, get(n, "overdue", NULL), 0);
        put_num(r, get(n, "resolved_late", NULL), 0);
        put_pct(r, get(n, "completion_rate", NULL));
        put_num(r, get(n, "median_days_to_resolve", NULL), 1);
        put_num(r, get(n, "yuan", NULL), 2);
    }
    if (others) {
        const cJSON *it;
        cJSON_ArrayForEach(it, get(n, "satisfaction", NULL))
        {
            put_num(r, it, 0);
        }
        put_num(r, get(p, "received", NULL), 0);
        put_num(r, get(p, "accepted", NULL), 0);
        put_num(r, get(p, "closed", NULL), 0);
        put_pct(r, get(p, "rate", NULL));
        put_num(r, get(p, "receptions", NULL), 0);
        cJSON_ArrayForEach(it, get(o, "visits", NULL))
        {
            if (reception == NULL || strcmp(it->string, reception) != 0)
                put_num(r, it, 0);
        }
        put_num(r, get(o, "talks", "total"), 0);
    }
}

/* An area's name as the text table shows it: indented by its depth. */
static const char *indented(char *buf, size_t n, const cJSON *area)
{
    const cJSON *name = get(area, "name", NULL), *depth = get(area, "depth", NULL);
    int d = cJSON_IsNumber(depth) ? depth->valueint : 0;
    size_t k = 0;

    for (int i = 0; i < d && k + 2 < n && i < 8; i++) {
        buf[k++] = ' ';
        buf[k++] = ' ';
    }
    snprintf(buf + k, n - k, "%s", cJSON_IsString(name) ? name->valuestring : "?");
    return buf;
}

typedef enum { OUT_TEXT, OUT_JSON, OUT_CSV, OUT_XLSX } out_format;

/*
 * Builds the text tables of the report, each list split in two (the needs,
 * then satisfaction, petitions and visits) to stay readable on a screen.
 * CSV and XLSX are the library's (mq_report_export()).
 */
static int write_tables(const cJSON *doc, const cJSON *labels, const char *reception,
                        FILE *out)
{
    const cJSON *areas = get(doc, "areas", NULL), *cadres = get(doc, "cadres", NULL);
    const cJSON *income = get(doc, "income", NULL), *total = get(doc, "total", NULL);
    const cJSON *it;
    mq_cli_table t;
    int rc = 0;

    for (int part = 0; part < 2 && rc == 0; part++) {
        int needs = part == 0, others = part == 1;
        row h = {{0}, {{0}}, 0};
        put(&h, "地区");
        put(&h, "级别");
        figure_headers(&h, total, labels, reception, needs, others);
        mq_cli_table_init(&t, part == 0 ? "各地区民情办理" : "各地区满意度、信访与走访",
                          h.n);
        rc |= mq_cli_table_add(&t, h.cells);
        cJSON_ArrayForEach(it, areas)
        {
            row r = {{0}, {{0}}, 0};
            char name[160];
            const cJSON *level = get(it, "level", NULL);
            put(&r, indented(name, sizeof(name), it));
            put(&r, cJSON_IsString(level)
                        ? mq_cli_label(labels, "level", level->valuestring)
                        : "");
            figure_cells(&r, it, reception, needs, others);
            rc |= mq_cli_table_add(&t, r.cells);
        }
        if (!cJSON_IsArray(areas) || cJSON_GetArraySize(areas) == 0) {
            row r = {{0}, {{0}}, 0};
            put(&r, "合计");
            put(&r, "");
            figure_cells(&r, total, reception, needs, others);
            rc |= mq_cli_table_add(&t, r.cells);
        }
        mq_cli_table_text(&t, out);
        mq_cli_table_free(&t);
    }
    for (int part = 0; part < 2 && rc == 0; part++) {
        int needs = part == 0, others = part == 1;
        row h = {{0}, {{0}}, 0};
        put(&h, "干部");
        figure_headers(&h, total, labels, reception, needs, others);
        if (needs)
            h.cells[1] = "联系户数";
        mq_cli_table_init(
            &t, part == 0 ? "各干部民情办理(首问责任)" : "各干部满意度、信访与走访", h.n);
        rc |= mq_cli_table_add(&t, h.cells);
        cJSON_ArrayForEach(it, cadres)
        {
            row r = {{0}, {{0}}, 0};
            const cJSON *name = get(it, "name", NULL);
            put(&r, cJSON_IsString(name) ? name->valuestring : "(未知干部)");
            figure_cells(&r, it, reception, needs, others);
            rc |= mq_cli_table_add(&t, r.cells);
        }
        mq_cli_table_text(&t, out);
        mq_cli_table_free(&t);
    }
    if (rc == 0) {
        static const char *const heads[] = {"村",       "期间",     "收入(元)",
                                            "目标(元)", "完成比例", "预警"};
        row h = {{0}, {{0}}, 0};
        for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
            put(&h, heads[i]);
        mq_cli_table_init(&t, "村集体经济收入五级预警", h.n);
        rc |= mq_cli_table_add(&t, h.cells);
        cJSON_ArrayForEach(it, income)
        {
            row r = {{0}, {{0}}, 0};
            const cJSON *name = get(it, "name", NULL), *period = get(it, "period", NULL);
            const cJSON *level = get(it, "level", NULL);
            put(&r, cJSON_IsString(name) ? name->valuestring : "");
            put(&r, cJSON_IsString(period) ? period->valuestring : "");
            put_num(&r, get(it, "income_yuan", NULL), 2);
            put_num(&r, get(it, "target_yuan", NULL), 2);
            put_pct(&r, get(it, "ratio", NULL));
            put(&r, cJSON_IsString(level)
                        ? mq_cli_label(labels, "income_level", level->valuestring)
                        : "");
            rc |= mq_cli_table_add(&t, r.cells);
        }
        mq_cli_table_text(&t, out);
        mq_cli_table_free(&t);
    }
    if (rc != 0)
        fputs("minqing: out of memory\n", stderr);
    return rc != 0 ? MQ_CLI_FAIL : 0;
}

static void text_heading(const cJSON *doc, FILE *out)
{
    const cJSON *from = get(doc, "from", NULL), *areas = get(doc, "areas", NULL);
    const cJSON *scope = get(doc, "area", NULL);

    fprintf(out, "民情报表  截至 %s", get(doc, "as_of", NULL)->valuestring);
    if (cJSON_IsString(from))
        fprintf(out, "  自 %s 起", from->valuestring);
    if (cJSON_IsString(scope)) {
        const cJSON *first = cJSON_GetArrayItem(areas, 0);
        const cJSON *name = get(first, "name", NULL);
        fprintf(out, "  范围 %s", cJSON_IsString(name) ? name->valuestring : "");
    }
    fputs("\n\n", out);
}

/* ---- the command ------------------------------------------------------------ */

int mq_cli_check_day(const mq_cli *cli, const char *option, const char *value)
{
    mq_error err;

    mq_error_clear(&err);
    if (value == NULL || mq_report_check_day(value, &err) == 0)
        return 0;
    return mq_cli_usage_error(cli, "%s: %s", option, err.message);
}

int mq_cli_report(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--area", NULL, MQ_CLI_VALUE},
                                      {"--as-of", NULL, MQ_CLI_VALUE},
                                      {"--from", NULL, MQ_CLI_VALUE},
                                      {"--format", NULL, MQ_CLI_VALUE},
                                      {"-o", "--output", MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    mq_cli_output out;
    mq_error err;
    out_format fmt = OUT_TEXT;

    int rc = mq_cli_parse(cli, argc, argv, opts, 5, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *area = a.value[0], *as_of = a.value[1], *from = a.value[2];
    const char *format = a.value[3], *file = a.value[4];
    if (format != NULL) {
        if (strcmp(format, "text") == 0)
            fmt = OUT_TEXT;
        else if (strcmp(format, "json") == 0)
            fmt = OUT_JSON;
        else if (strcmp(format, "csv") == 0)
            fmt = OUT_CSV;
        else if (strcmp(format, "xlsx") == 0)
            fmt = OUT_XLSX;
        else
            return mq_cli_usage_error(
                cli, "--format: must be text, json, csv or xlsx, not \"%s\"", format);
    }
    if ((rc = mq_cli_check_day(cli, "--as-of", as_of)) != 0 ||
        (rc = mq_cli_check_day(cli, "--from", from)) != 0)
        return rc;
    if (as_of != NULL && from != NULL && strcmp(from, as_of) > 0)
        return mq_cli_usage_error(cli, "--from: \"%s\" is after --as-of \"%s\"", from,
                                  as_of);
    if (area != NULL && !mq_valid_uuid(area))
        return mq_cli_usage_error(cli, "--area: must be an area id (a UUID), not \"%s\"",
                                  area);
    if (file != NULL && file[0] == '\0')
        return mq_cli_usage_error(cli, "-o: the file name is empty");
    if (fmt == OUT_XLSX && (file == NULL || strcmp(file, "-") == 0))
        return mq_cli_usage_error(
            cli, "--format xlsx: needs -o FILE (a workbook is not text)");
    if ((rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL)) != 0)
        return rc;

    mq_report_query q = {area, as_of, from};
    if (fmt == OUT_CSV || fmt == OUT_XLSX)
        return mq_cli_sheet(cli, store, file, fmt == OUT_XLSX, &q, NULL);
    char *json = NULL, *labels_json = NULL;
    mq_error_clear(&err);
    int mrc = mq_report_json(store, &q, &json, &err);
    if (mrc == 0 && fmt != OUT_JSON)
        mrc = mq_report_labels(store, &labels_json, &err);
    /* The visit kind that is a reception of petitioners (the schema's
     * reports.reception_kind): its figure is the receptions' one. */
    cJSON *schema = fmt != OUT_JSON ? cJSON_Parse(mq_store_schema(store)) : NULL;
    const char *reception = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(schema, "reports"), "reception_kind"));
    mq_store_close(store);
    if (mrc != 0) {
        cJSON_Delete(schema);
        if (mrc == MQ_ENOTFOUND && area != NULL)
            return mq_cli_usage_error(cli, "--area: %s", err.message);
        if (mrc == MQ_EINVAL && from != NULL)
            return mq_cli_usage_error(cli, "--from: %s", err.message);
        return mq_cli_fail(mrc, &err);
    }
    cJSON *doc = fmt != OUT_JSON ? cJSON_Parse(json) : NULL;
    cJSON *labels = fmt != OUT_JSON ? cJSON_Parse(labels_json) : NULL;
    if (fmt != OUT_JSON && doc == NULL) {
        fputs("minqing: the report could not be read back\n", stderr);
        rc = MQ_CLI_FAIL;
    } else if ((rc = mq_cli_output_open(&out, file)) == 0) {
        if (fmt == OUT_JSON) {
            fputs(json, out.fp);
            putc('\n', out.fp);
        } else {
            text_heading(doc, out.fp);
            rc = write_tables(doc, labels, reception, out.fp);
        }
        if (rc == 0)
            rc = mq_cli_output_commit(&out);
        else
            mq_cli_output_abort(&out);
    }
    cJSON_Delete(doc);
    cJSON_Delete(labels);
    cJSON_Delete(schema);
    mq_free(json);
    mq_free(labels_json);
    return rc;
}
