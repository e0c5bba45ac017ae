/*
 * core/report_export.c - the report and the needs list as the office opens
 * them in a spreadsheet: CSV in UTF-8 with a byte order mark (so that
 * Excel reads the Chinese), or XLSX through libxlsxwriter, with Chinese
 * headers, dates as dates, money and counts as numbers, rates as
 * percentages, and the five-level income warning as a grid of villages by
 * period, each cell filled in its level's colour.
 *
 * One table writer serves both formats (tab_*): a table is a CSV block
 * (its title, its header row, its rows, an empty line) or an XLSX sheet
 * (the title as its name, a bold frozen header row).  The needs list
 * streams: each need is written as the walk hands it over, and XLSX runs in
 * libxlsxwriter's constant_memory mode, which flushes every row to a
 * temporary file, so a county's export holds one row at a time.
 *
 * This file is its own library (minqing_report_export) so that the core
 * does not need libxlsxwriter: what exports links it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xlsxwriter.h>

#include "minqing/report.h"
#include "report_fold.h"

/* ---- one table writer, two formats ------------------------------------------ */

typedef enum { K_TEXT, K_INT, K_NUM, K_MONEY, K_RATE, K_DATE } kind;

#define MAX_FILLS 16

typedef struct tab {
    mq_report_format format;
    FILE *csv;
    lxw_workbook *wb;
    lxw_worksheet *ws;
    lxw_format *head, *num, *money, *rate, *date, *indent[8];
    struct {
        uint32_t color;
        lxw_format *rate, *text;
    } fill[MAX_FILLS];
    size_t nfills;
    lxw_row_t row;
    lxw_col_t col;
    int failed; /* a write failed: the export returns MQ_EIO */
} tab;

static void csv_text(tab *t, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, t->csv);
        return;
    }
    putc('"', t->csv);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            putc('"', t->csv);
        putc(*s, t->csv);
    }
    putc('"', t->csv);
}

static void csv_sep(tab *t)
{
    if (t->col++ > 0)
        putc(',', t->csv);
}

static int tab_open(tab *t, mq_report_format format, FILE *out, const char *path,
                    mq_error *err)
{
    memset(t, 0, sizeof(*t));
    t->format = format;
    if (format == MQ_REPORT_CSV) {
        t->csv = out;
        if (t->csv == NULL)
            return mq__fail(err, MQ_EINVAL, "a CSV export needs a stream to write to");
        fputs("\xEF\xBB\xBF", t->csv); /* the BOM: Excel then reads UTF-8 */
        return 0;
    }
    if (format != MQ_REPORT_XLSX)
        return mq__fail(err, MQ_EINVAL, "format %d: must be CSV or XLSX", (int)format);
    if (path == NULL || path[0] == '\0')
        return mq__fail(err, MQ_EINVAL, "an XLSX export needs a file to write to");
    /* constant_memory: each row goes to a temporary file once the next
     * begins, so memory does not grow with the rows. */
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL};
    t->wb = workbook_new_opt(path, &opt);
    if (t->wb == NULL)
        return mq__fail(err, MQ_EIO, "cannot create the workbook \"%s\"", path);
    t->head = workbook_add_format(t->wb);
    format_set_bold(t->head);
    format_set_bg_color(t->head, 0xD9D9D9);
    format_set_pattern(t->head, LXW_PATTERN_SOLID);
    t->num = workbook_add_format(t->wb);
    format_set_num_format(t->num, "0.#");
    t->money = workbook_add_format(t->wb);
    format_set_num_format(t->money, "#,##0.00");
    t->rate = workbook_add_format(t->wb);
    format_set_num_format(t->rate, "0.0%");
    t->date = workbook_add_format(t->wb);
    format_set_num_format(t->date, "yyyy-mm-dd");
    for (int i = 0; i < 8; i++) {
        t->indent[i] = workbook_add_format(t->wb);
        format_set_indent(t->indent[i], (uint8_t)i);
    }
    return 0;
}

/* The formats of a cell filled in `color` (0xRRGGBB): a rate and a text. */
static int tab_fill(tab *t, uint32_t color, lxw_format **rate, lxw_format **text)
{
    size_t i = 0;

    while (i < t->nfills && t->fill[i].color != color)
        i++;
    if (i == t->nfills) {
        if (i == MAX_FILLS)
            return -1;
        t->fill[i].color = color;
        t->fill[i].rate = workbook_add_format(t->wb);
        t->fill[i].text = workbook_add_format(t->wb);
        format_set_num_format(t->fill[i].rate, "0.0%");
        for (int k = 0; k < 2; k++) {
            lxw_format *f = k ? t->fill[i].text : t->fill[i].rate;
            format_set_bg_color(f, color);
            format_set_pattern(f, LXW_PATTERN_SOLID);
        }
        t->nfills++;
    }
    *rate = t->fill[i].rate;
    *text = t->fill[i].text;
    return 0;
}

/* Starts a table: a CSV block or an XLSX sheet named `title`. */
static void tab_begin(tab *t, const char *title, const char *const *heads, size_t n)
{
    if (t->format == MQ_REPORT_CSV) {
        if (t->row > 0)
            fputs("\r\n", t->csv); /* an empty line between blocks */
        csv_text(t, title);
        fputs("\r\n", t->csv);
        t->col = 0;
        for (size_t i = 0; i < n; i++) {
            csv_sep(t);
            csv_text(t, heads[i]);
        }
        fputs("\r\n", t->csv);
        t->row++;
        t->col = 0;
        return;
    }
    t->ws = workbook_add_worksheet(t->wb, title);
    if (t->ws == NULL) {
        t->failed = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        worksheet_write_string(t->ws, 0, (lxw_col_t)i, heads[i], t->head);
        worksheet_set_column(t->ws, (lxw_col_t)i, (lxw_col_t)i, i == 0 ? 22 : 11, NULL);
    }
    worksheet_freeze_panes(t->ws, 1, 1);
    t->row = 1;
    t->col = 0;
}

static void tab_end_row(tab *t)
{
    if (t->format == MQ_REPORT_CSV)
        fputs("\r\n", t->csv);
    t->row++;
    t->col = 0;
}

static void tab_blank(tab *t)
{
    if (t->format == MQ_REPORT_CSV)
        csv_sep(t);
    else
        t->col++;
}

/* A text cell; `indent` levels in XLSX (an area's depth), `fill` a colour
 * or NULL. */
static void tab_text_at(tab *t, const char *s, int indent, lxw_format *fill)
{
    if (s == NULL) {
        tab_blank(t);
        return;
    }
    if (t->format == MQ_REPORT_CSV) {
        csv_sep(t);
        csv_text(t, s);
        return;
    }
    lxw_format *f = fill != NULL ? fill
                    : indent > 0 ? t->indent[indent < 8 ? indent : 7]
                                 : NULL;
    if (worksheet_write_string(t->ws, t->row, t->col++, s, f) != LXW_NO_ERROR)
        t->failed = 1;
}

static void tab_text(tab *t, const char *s)
{
    tab_text_at(t, s, 0, NULL);
}

/* A number as a person writes it: no trailing zeros after the point. */
static void csv_number(tab *t, double v, int decimals, const char *suffix)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    csv_sep(t);
    fputs(buf, t->csv);
    fputs(suffix, t->csv);
}

/* A cell of kind `k` from JSON value `v` (null or missing: empty); `fill`
 * the format of a filled rate, or NULL. */
static void tab_value(tab *t, kind k, const cJSON *v, lxw_format *fill)
{
    if (k == K_TEXT || k == K_DATE) {
        const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
        int y, m, d;
        if (k == K_DATE && s != NULL && t->format == MQ_REPORT_XLSX &&
            sscanf(s, "%4d-%2d-%2d", &y, &m, &d) == 3 && strlen(s) == 10) {
            lxw_datetime dt = {y, m, d, 0, 0, 0};
            if (worksheet_write_datetime(t->ws, t->row, t->col++, &dt, t->date) !=
                LXW_NO_ERROR)
                t->failed = 1;
            return;
        }
        tab_text(t, s);
        return;
    }
    if (!cJSON_IsNumber(v)) {
        tab_blank(t);
        return;
    }
    double x = v->valuedouble;
    if (t->format == MQ_REPORT_CSV) {
        if (k == K_RATE)
            csv_number(t, x * 100, 1, "%"); /* Excel reads "42.6%" as 0.426 */
        else
            csv_number(t, x, k == K_INT ? 0 : 2, "");
        return;
    }
    lxw_format *f = k == K_MONEY  ? t->money
                    : k == K_RATE ? (fill != NULL ? fill : t->rate)
                    : k == K_NUM  ? t->num
                                  : NULL;
    if (worksheet_write_number(t->ws, t->row, t->col++, x, f) != LXW_NO_ERROR)
        t->failed = 1;
}

/* Closes the file; MQ_EIO if anything failed. */
static int tab_close(tab *t, mq_error *err)
{
    int failed = t->failed;

    if (t->format == MQ_REPORT_CSV) {
        if (t->csv != NULL && (fflush(t->csv) != 0 || ferror(t->csv)))
            failed = 1;
    } else if (t->wb != NULL) {
        lxw_error e = workbook_close(t->wb);
        t->wb = NULL;
        if (e != LXW_NO_ERROR)
            return mq__fail(err, MQ_EIO, "writing the workbook: %s", lxw_strerror(e));
    }
    return failed ? mq__fail(err, MQ_EIO, "writing the export failed") : 0;
}

/* ---- labels ------------------------------------------------------------------- */

static const cJSON *get(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

    return b != NULL ? cJSON_GetObjectItemCaseSensitive(v, b) : v;
}

/* The Chinese label of `value` in label group `group`, else the value. */
static const char *label(const mq__report_cfg *cfg, const char *group, const char *value)
{
    const cJSON *l = get(cfg->labels, group, value);

    return cJSON_IsString(l) ? l->valuestring : value;
}

/* The fill of income level `level`: the schema's "color" ("#RRGGBB"). */
static int level_color(const mq__report_cfg *cfg, const char *level, uint32_t *out)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, cfg->levels)
    {
        const cJSON *name = get(it, "level", NULL), *color = get(it, "color", NULL);
        if (level != NULL && cJSON_IsString(name) &&
            strcmp(name->valuestring, level) == 0 && cJSON_IsString(color) &&
            strlen(color->valuestring) == 7 && color->valuestring[0] == '#' &&
            strspn(color->valuestring + 1, "0123456789abcdefABCDEF") == 6) {
            *out = (uint32_t)strtoul(color->valuestring + 1, NULL, 16);
            return 1;
        }
    }
    return 0;
}

/* ---- the report's tables --------------------------------------------------------- */

/* A figure column of an area or a cadre: its header and where its value
 * is in the report's JSON (o[a][b], or o[a]). */
typedef struct figure_col {
    const char *head, *a, *b;
    kind k;
} figure_col;

static const figure_col need_cols[] = {
    {"户数", "households", NULL, K_INT},
    {"登记", "needs", "registered", K_INT},
    {"受理", "needs", "accepted", K_INT},
    {"办结", "needs", "resolved", K_INT},
    {"在办", "needs", "open", K_INT},
    {"超期", "needs", "overdue", K_INT},
    {"超期办结", "needs", "resolved_late", K_INT},
    {"办结率", "needs", "completion_rate", K_RATE},
    {"办结天数中位数", "needs", "median_days_to_resolve", K_NUM},
    {"协调金额(元)", "needs", "yuan", K_MONEY},
    {"服务户数", "needs", "served_households", K_INT},
    {"服务人数", "needs", "served_people", K_INT},
    {"服务牲畜(头)", "needs", "served_livestock", K_INT},
};
static const figure_col petition_cols[] = {
    {"信访登记", "petitions", "received", K_INT},
    {"信访受理", "petitions", "accepted", K_INT},
    {"信访办结", "petitions", "closed", K_INT},
    {"信访办结率", "petitions", "rate", K_RATE},
    {"接待来访(人次)", "petitions", "receptions", K_INT},
};
static const figure_col talk_cols[] = {
    {"干部谈心谈话(人次)", "talks", "total", K_INT},
};
#define NCOLS(a)  (sizeof(a) / sizeof((a)[0]))
#define MAX_HEADS 80

/* The header row of a figure table: `first` names, then the figures. */
static size_t figure_heads(const mq__report_cfg *cfg, const cJSON *sample,
                           const char *const *first, size_t nfirst, const char **heads,
                           char labels[][48])
{
    size_t n = 0, nl = 0;
    const cJSON *it;

    for (size_t i = 0; i < nfirst; i++)
        heads[n++] = first[i];
    for (size_t i = 0; i < NCOLS(need_cols); i++)
        heads[n++] = need_cols[i].head;
    /* The schema's choices of satisfaction and visit kind, a column each
     * (MAX_HEADS leaves room for 20 of each). */
    cJSON_ArrayForEach(it, get(sample, "needs", "satisfaction"))
    {
        if (n < MAX_HEADS / 3)
            heads[n++] = label(cfg, "satisfaction", it->string);
    }
    for (size_t i = 0; i < NCOLS(petition_cols); i++)
        heads[n++] = petition_cols[i].head;
    cJSON_ArrayForEach(it, get(sample, "visits", NULL))
    {
        if (n < MAX_HEADS - 1) {
            snprintf(labels[nl], 48, "%s(人次)", label(cfg, "visit_kind", it->string));
            heads[n++] = labels[nl++];
        }
    }
    for (size_t i = 0; i < NCOLS(talk_cols) && n < MAX_HEADS - 1; i++)
        heads[n++] = talk_cols[i].head;
    /* 五必谈: a column per occasion of a talk between cadres */
    cJSON_ArrayForEach(it, get(sample, "talks", "occasions"))
    {
        if (n < MAX_HEADS - 1) {
            snprintf(labels[nl], 48, "谈心:%s", label(cfg, "occasion", it->string));
            heads[n++] = labels[nl++];
        }
    }
    heads[n++] = "编号";
    return n;
}

static void figure_cells(tab *t, const cJSON *o)
{
    const cJSON *it;

    for (size_t i = 0; i < NCOLS(need_cols); i++)
        tab_value(t, need_cols[i].k, get(o, need_cols[i].a, need_cols[i].b), NULL);
    cJSON_ArrayForEach(it, get(o, "needs", "satisfaction"))
    {
        tab_value(t, K_INT, it, NULL);
    }
    for (size_t i = 0; i < NCOLS(petition_cols); i++)
        tab_value(t, petition_cols[i].k, get(o, petition_cols[i].a, petition_cols[i].b),
                  NULL);
    cJSON_ArrayForEach(it, get(o, "visits", NULL))
    {
        tab_value(t, K_INT, it, NULL);
    }
    for (size_t i = 0; i < NCOLS(talk_cols); i++)
        tab_value(t, talk_cols[i].k, get(o, talk_cols[i].a, talk_cols[i].b), NULL);
    cJSON_ArrayForEach(it, get(o, "talks", "occasions"))
    {
        tab_value(t, K_INT, it, NULL);
    }
}

static void areas_table(tab *t, const mq__report_cfg *cfg, const cJSON *doc)
{
    static const char *const first[] = {"地区", "级别"};
    const char *heads[MAX_HEADS];
    char labels[MAX_HEADS][48];
    const cJSON *total = get(doc, "total", NULL), *it;
    size_t n = figure_heads(cfg, total, first, 2, heads, labels);

    tab_begin(t, "各地区民情办理、信访与走访", heads, n);
    cJSON_ArrayForEach(it, get(doc, "areas", NULL))
    {
        const cJSON *name = get(it, "name", NULL), *level = get(it, "level", NULL);
        const cJSON *depth = get(it, "depth", NULL);
        tab_text_at(t, cJSON_IsString(name) ? name->valuestring : "",
                    cJSON_IsNumber(depth) ? depth->valueint : 0, NULL);
        tab_text(t, cJSON_IsString(level) ? label(cfg, "level", level->valuestring) : "");
        figure_cells(t, it);
        tab_value(t, K_TEXT, get(it, "id", NULL), NULL);
        tab_end_row(t);
    }
    tab_text(t, "合计");
    tab_text(t, "");
    figure_cells(t, total);
    tab_text(t, "");
    tab_end_row(t);
}

static void cadres_table(tab *t, const mq__report_cfg *cfg, const cJSON *doc)
{
    static const char *const first[] = {"干部"};
    const char *heads[MAX_HEADS];
    char labels[MAX_HEADS][48];
    const cJSON *it;
    size_t n = figure_heads(cfg, get(doc, "total", NULL), first, 1, heads, labels);

    heads[1] = "联系户数";
    heads[n - 1] = "当前经办(未办结)"; /* before the id, which moves last */
    heads[n++] = "编号";
    tab_begin(t, "各干部民情办理、信访与走访", heads, n);
    cJSON_ArrayForEach(it, get(doc, "cadres", NULL))
    {
        const cJSON *name = get(it, "name", NULL);
        tab_text(t, cJSON_IsString(name) ? name->valuestring : "(未知干部)");
        figure_cells(t, it);
        tab_value(t, K_INT, get(it, "handling", NULL), NULL);
        tab_value(t, K_TEXT, get(it, "id", NULL), NULL);
        tab_end_row(t);
    }
}

/* The formats of an income record's level: filled in its colour. */
static void level_formats(tab *t, const mq__report_cfg *cfg, const cJSON *level,
                          lxw_format **rate, lxw_format **text)
{
    uint32_t color;

    *rate = *text = NULL;
    if (t->format == MQ_REPORT_XLSX && cJSON_IsString(level) &&
        level_color(cfg, level->valuestring, &color))
        tab_fill(t, color, rate, text);
}

static void income_table(tab *t, const mq__report_cfg *cfg, const cJSON *doc)
{
    static const char *const heads[] = {"村",       "期间", "收入(元)", "目标(元)",
                                        "完成比例", "预警", "编号"};
    const cJSON *it;

    tab_begin(t, "村集体经济收入五级预警", heads, NCOLS(heads));
    cJSON_ArrayForEach(it, get(doc, "income", NULL))
    {
        const cJSON *level = get(it, "level", NULL);
        lxw_format *rate, *text;
        level_formats(t, cfg, level, &rate, &text);
        tab_value(t, K_TEXT, get(it, "name", NULL), NULL);
        tab_value(t, K_TEXT, get(it, "period", NULL), NULL);
        tab_value(t, K_MONEY, get(it, "income_yuan", NULL), NULL);
        tab_value(t, K_MONEY, get(it, "target_yuan", NULL), NULL);
        tab_value(t, K_RATE, get(it, "ratio", NULL), rate);
        tab_text_at(t,
                    cJSON_IsString(level) ? label(cfg, "income_level", level->valuestring)
                                          : NULL,
                    0, text);
        tab_value(t, K_TEXT, get(it, "channels", NULL), NULL);
        tab_value(t, K_TEXT, get(it, "measures", NULL), NULL);
        tab_value(t, K_TEXT, get(it, "id", NULL), NULL);
        tab_end_row(t);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The warning grid: a row per village (in the order of the income list), a
 * column per period (sorted), each cell the ratio in its level's colour.
 * XLSX only: a CSV reader sees the same figures in the income table.
 */
static int income_grid(tab *t, const mq__report_cfg *cfg, const cJSON *doc)
{
    const cJSON *income = get(doc, "income", NULL), *it;
    size_t n = (size_t)cJSON_GetArraySize(income), np = 0, nv = 0;
    const char **periods = malloc((n + 1) * sizeof(const char *));
    const cJSON **villages = malloc((n + 1) * sizeof(const cJSON *));
    int rc = 0;

    if (periods == NULL || villages == NULL) {
        rc = -1;
        goto done;
    }
    cJSON_ArrayForEach(it, income)
    {
        const cJSON *p = get(it, "period", NULL), *area = get(it, "area", NULL);
        if (cJSON_IsString(p))
            periods[np++] = p->valuestring;
        size_t v = 0;
        while (v < nv && !cJSON_Compare(get(villages[v], "area", NULL), area, 1))
            v++;
        if (v == nv)
            villages[nv++] = it;
    }
    qsort(periods, np, sizeof(*periods), cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (k == 0 || strcmp(periods[k - 1], periods[i]) != 0)
            periods[k++] = periods[i];
    np = k;

    const char **heads = malloc((np + 2) * sizeof(*heads));
    if (heads == NULL) {
        rc = -1;
        goto done;
    }
    heads[0] = "村";
    for (size_t i = 0; i < np; i++)
        heads[i + 1] = periods[i];
    tab_begin(t, "五级预警", heads, np + 1);
    free(heads);
    for (size_t v = 0; v < nv; v++) {
        const cJSON *area = get(villages[v], "area", NULL);
        tab_value(t, K_TEXT, get(villages[v], "name", NULL), NULL);
        for (size_t p = 0; p < np; p++) {
            const cJSON *cell = NULL;
            cJSON_ArrayForEach(it, income)
            {
                const cJSON *ip = get(it, "period", NULL);
                if (cJSON_Compare(get(it, "area", NULL), area, 1) && cJSON_IsString(ip) &&
                    strcmp(ip->valuestring, periods[p]) == 0)
                    cell = it;
            }
            lxw_format *rate, *text;
            level_formats(t, cfg, get(cell, "level", NULL), &rate, &text);
            tab_value(t, K_RATE, get(cell, "ratio", NULL), rate);
        }
        tab_end_row(t);
    }
done:
    free(periods);
    free(villages);
    return rc;
}

int mq_report_export(mq_store *s, const mq_report_query *q, mq_report_format format,
                     FILE *out, const char *path, mq_error *err)
{
    mq__report_cfg cfg;
    char *json = NULL;
    tab t;
    int rc;

    if (format != MQ_REPORT_CSV && format != MQ_REPORT_XLSX)
        return mq__fail(err, MQ_EINVAL, "format %d: must be CSV or XLSX", (int)format);
    if ((rc = mq_report_json(s, q, &json, err)) != 0)
        return rc;
    cJSON *doc = cJSON_Parse(json);
    mq_free(json);
    if (doc == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory reading the report back");
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0) {
        cJSON_Delete(doc);
        return rc;
    }
    if ((rc = tab_open(&t, format, out, path, err)) == 0) {
        areas_table(&t, &cfg, doc);
        cadres_table(&t, &cfg, doc);
        income_table(&t, &cfg, doc);
        if (format == MQ_REPORT_XLSX && income_grid(&t, &cfg, doc) != 0)
            t.failed = 1;
        rc = tab_close(&t, err);
    }
    mq__report_cfg_free(&cfg);
    cJSON_Delete(doc);
    return rc;
}

/* ---- the needs list --------------------------------------------------------------- */

static const struct {
    const char *head, *member, *labels;
    kind k;
} needs_cols[] = {
    {"户主", "head_name", NULL, K_TEXT},
    {"村", "village_name", NULL, K_TEXT},
    {"组", "area_name", NULL, K_TEXT},
    {"类别", "category", "category", K_TEXT},
    {"来源", "source", "source", K_TEXT},
    {"状态", "status", "status", K_TEXT},
    {"登记日期", "recorded_at", NULL, K_DATE},
    {"截止日期", "deadline", NULL, K_DATE},
    {"超期天数", "days_overdue", NULL, K_INT},
    {"首问干部", "cadre_name", NULL, K_TEXT},
    {"经办干部", "handler_name", NULL, K_TEXT}, /* after a transfer, its `to` */
    {"办结日期", "resolved_at", NULL, K_DATE},
    {"满意度", "satisfaction", "satisfaction", K_TEXT},
    {"情况", NULL, NULL, K_TEXT}, /* the need's description */
    {"编号", "id", NULL, K_TEXT},
};

typedef struct needs_ctx {
    tab *t;
    const mq__report_cfg *cfg;
    mq_error *err;
} needs_ctx;

static int needs_row(void *ctx, const char *json)
{
    needs_ctx *c = ctx;
    cJSON *o = cJSON_Parse(json);

    if (o == NULL)
        return mq__fail(c->err, MQ_ENOMEM, "out of memory writing the needs list");
    for (size_t i = 0; i < NCOLS(needs_cols); i++) {
        const cJSON *v = needs_cols[i].member != NULL ? get(o, needs_cols[i].member, NULL)
                                                      : get(o, "fields", "description");
        if (needs_cols[i].labels != NULL && cJSON_IsString(v))
            tab_text(c->t, label(c->cfg, needs_cols[i].labels, v->valuestring));
        else
            tab_value(c->t, needs_cols[i].k, v, NULL);
    }
    tab_end_row(c->t);
    cJSON_Delete(o);
    return c->t->failed ? mq__fail(c->err, MQ_EIO, "writing the needs list failed") : 0;
}

int mq_report_needs_export(mq_store *s, const mq_report_needs_query *q,
                           mq_report_format format, FILE *out, const char *path,
                           mq_error *err)
{
    static const char *heads[NCOLS(needs_cols)];
    mq__report_cfg cfg;
    tab t;
    int rc;

    if (format != MQ_REPORT_CSV && format != MQ_REPORT_XLSX)
        return mq__fail(err, MQ_EINVAL, "format %d: must be CSV or XLSX", (int)format);
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    if ((rc = tab_open(&t, format, out, path, err)) != 0) {
        mq__report_cfg_free(&cfg);
        return rc;
    }
    for (size_t i = 0; i < NCOLS(needs_cols); i++)
        heads[i] = needs_cols[i].head;
    tab_begin(&t, q->overdue_only ? "超期民情" : "民情办理", heads, NCOLS(needs_cols));
    needs_ctx c = {&t, &cfg, err};
    rc = mq_report_needs(s, q, needs_row, &c, err);
    int crc = tab_close(&t, rc == 0 ? err : NULL);
    mq__report_cfg_free(&cfg);
    return rc != 0 ? rc : crc;
}
