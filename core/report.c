/*
 * core/report.c - the report: every figure of docs/REPORTS.md per area at
 * every level, per cadre and for the whole scope, and the five-level
 * warning of village collective income, as one JSON document.
 *
 * The records come from one pass over the record table, the needs already
 * folded (report_fold.c, mq__report_rows_load()).  Each need, counted
 * visit and household then adds into the figures of every key it belongs
 * to:
 *
 *     the whole scope         key 0
 *     every area above it     through temp.mq_anc, the scope path
 *     its cadre               recorded_by (首问责任), the visit's cadre,
 *                             paired_cadre
 *
 * Counts and sums add up; the median of days to resolve is taken per key
 * from the (key, days) pairs sorted once.  The areas are then walked in
 * tree order by SQL, the cadres by name, and the JSON is written with the
 * zeros and the rates filled in.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/report.h"
#include "report_fold.h"

/* The figures of one key. */
typedef struct figs {
    double households, registered, accepted, resolved, open, overdue, late, yuan;
    double p_received, p_accepted, p_closed, receptions;
    double served[3]; /* households, people, livestock the needs serve */
    double talks;     /* talks between cadres, in person-times */
    double handling;  /* a cadre's: unresolved needs it handles now */
    int has_median;
    double median;
} figs;

/* What one report call carries around. */
typedef struct report {
    mq_store *s;
    const mq__report_cfg *cfg;
    const mq_field *satisfaction; /* need_action.satisfaction: its choices */
    const mq_field *visit_kind;   /* visit.kind: its choices */
    const mq_field *occasion;     /* talk.occasion: its choices (五必谈) */
    const char *as_of, *from, *area;
    mq__report_rows rows;

    /* The keys: 0 the whole scope, then the areas, then the cadres, each
     * numbered by its map. */
    mq__idmap area_ids, cadre_ids;
    size_t nareas;
    const char **cadres; /* [ncadres]: the id of each cadre key */
    size_t ncadres;
    char *cadre_text; /* owned: the texts of `cadres`, once kept */
    /* The areas above area i, itself included: anc[anc_first[i] ...
     * anc_first[i + 1] - 1], as area numbers. */
    size_t *anc_first, *anc;
    char **anc_text; /* owned copies of temp.mq_anc's texts */
    size_t nanc_text;

    figs *f;       /* [nkeys]; the last stays zero */
    double *sat;   /* [nkeys][nsat]: satisfaction counts */
    double *kinds; /* [nkeys][nkind]: visits by kind */
    double *occ;   /* [nkeys][nocc]: talks by occasion */
    size_t nkeys, nsat, nkind, nocc;
    long *days; /* (key, days) pairs, 2 longs each */
    size_t ndays, days_cap;
} report;

int mq_report_check_day(const char *day, mq_error *err)
{
    char why[64];

    if (day == NULL)
        return mq__fail(err, MQ_EINVAL, "no day given: a day is written YYYY-MM-DD");
    if (mq__check_date(day, why, sizeof(why)) != 0)
        return mq__fail(err, MQ_EINVAL, "\"%.40s\" %s", day, why);
    return 0;
}

/* ---- keys --------------------------------------------------------------------- */

/*
 * Reads temp.mq_anc into the area keys and, for each, the list of areas
 * above it (itself included): anc[anc_first[i] ... anc_first[i + 1] - 1].
 */
static int load_areas(report *r, mq_error *err)
{
    sqlite3_stmt *st;
    size_t n = 0, cap = 0;
    int step, rc = 0;

    if (sqlite3_prepare_v2(r->s->db, "SELECT area, anc FROM temp.mq_anc", -1, &st,
                           NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, r->s->db, "reading the area tree");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n + 2 > cap) {
            size_t c = cap ? cap * 2 : 1024;
            char **p = realloc(r->anc_text, c * sizeof(*p));
            if (p == NULL) {
                rc = mq__fail(err, MQ_ENOMEM, "out of memory");
                break;
            }
            r->anc_text = p;
            cap = c;
        }
        r->anc_text[n] = mq__strdup(mq__col_text(st, 0));
        r->anc_text[n + 1] = mq__strdup(mq__col_text(st, 1));
        r->nanc_text = n += 2;
        if (r->anc_text[n - 2] == NULL || r->anc_text[n - 1] == NULL) {
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = mq__fail_sqlite(err, r->s->db, "reading the area tree");
    sqlite3_finalize(st);
    if (rc != 0)
        return rc;

    /* Every text an area key, numbered as first seen. */
    size_t pairs = n / 2;
    for (size_t i = 0; i < n; i++)
        if (mq__idmap_put(&r->area_ids, r->anc_text[i], r->area_ids.n) < 0)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
    r->nareas = r->area_ids.n;
    r->anc_first = calloc(r->nareas + 2, sizeof(*r->anc_first));
    r->anc = malloc((pairs + 1) * sizeof(*r->anc));
    size_t *fill = calloc(r->nareas + 1, sizeof(*fill));
    if (r->anc_first == NULL || r->anc == NULL || fill == NULL) {
        free(fill);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    /* Count each area's ancestors, then place them after the counts of the
     * areas numbered before it. */
    for (size_t i = 0; i < pairs; i++)
        r->anc_first[mq__idmap_get(&r->area_ids, r->anc_text[2 * i]) + 1]++;
    for (size_t i = 0; i < r->nareas; i++)
        r->anc_first[i + 1] += r->anc_first[i];
    for (size_t i = 0; i < pairs; i++) {
        size_t a = (size_t)mq__idmap_get(&r->area_ids, r->anc_text[2 * i]);
        r->anc[r->anc_first[a] + fill[a]++] =
            (size_t)mq__idmap_get(&r->area_ids, r->anc_text[2 * i + 1]);
    }
    free(fill);
    return 0;
}

/* The cadre keys: every cadre named by a need, a counted visit or a
 * household in the scope, numbered as first seen. */
static int load_cadres(report *r, mq_error *err)
{
    const mq__report_rows *w = &r->rows;
    size_t n = 2 * w->nneeds + w->nvisits + w->nhouses + w->ntalks;
    const char **names = malloc((n + 1) * sizeof(*names));

    if (names == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < w->nneeds; i++)
        names[n++] = w->needs[i].recorded_by;
    for (size_t i = 0; i < w->nvisits; i++)
        names[n++] = w->visits[i].cadre;
    for (size_t i = 0; i < w->nhouses; i++)
        names[n++] = w->houses[i].cadre;
    for (size_t i = 0; i < w->ntalks; i++)
        names[n++] = w->talks[i].cadre;
    for (size_t i = 0; i < w->nneeds; i++)
        if (w->needs[i].status != MQ__ST_RESOLVED)
            names[n++] = w->needs[i].handler;
    r->cadres = names;
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL)
            continue;
        size_t next = r->cadre_ids.n;
        long k = mq__idmap_put(&r->cadre_ids, names[i], next);
        if (k < 0)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        if ((size_t)k == next)
            names[next] = names[i]; /* next <= i: the list compacts in place */
    }
    r->ncadres = r->cadre_ids.n;
    return 0;
}

/* Copies the cadre keys' texts, which outlive the rows they come from
 * (mq__report_rows_drop()); the map of them is no longer needed. */
static int keep_cadres(report *r, mq_error *err)
{
    size_t len = 0;

    mq__idmap_free(&r->cadre_ids);
    for (size_t i = 0; i < r->ncadres; i++)
        len += strlen(r->cadres[i]) + 1;
    char *p = r->cadre_text = malloc(len + 1);
    if (p == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->ncadres; i++) {
        size_t k = strlen(r->cadres[i]) + 1;
        memcpy(p, r->cadres[i], k);
        r->cadres[i] = p;
        p += k;
    }
    return 0;
}

/* The keys a record of area `area` and cadre `cadre` counts in: 0, the
 * areas above, the cadre.  `out` holds up to `max`; returns the count. */
static size_t keys_of(const report *r, const char *area, const char *cadre, size_t *out,
                      size_t max)
{
    size_t n = 0;
    long a = mq__idmap_get(&r->area_ids, area);
    long c = mq__idmap_get(&r->cadre_ids, cadre);

    out[n++] = 0;
    if (a >= 0)
        for (size_t i = r->anc_first[a]; i < r->anc_first[a + 1] && n < max - 1; i++)
            out[n++] = 1 + r->anc[i];
    if (c >= 0)
        out[n++] = 1 + r->nareas + (size_t)c;
    return n;
}

/* The index of `v` among the choices of `f`, or -1. */
static long choice(const mq_field *f, const char *v)
{
    for (size_t i = 0; f != NULL && v != NULL && i < f->nvalues; i++)
        if (strcmp(f->values[i], v) == 0)
            return (long)i;
    return -1;
}

/* ---- counting ------------------------------------------------------------------- */

#define MAX_KEYS 72 /* the whole scope, 64 levels of area and more, a cadre */

static int add_days(report *r, size_t key, long days)
{
    if (r->ndays == r->days_cap) {
        size_t c = r->days_cap ? r->days_cap * 2 : 4096;
        long *p = realloc(r->days, c * 2 * sizeof(*p));
        if (p == NULL)
            return -1;
        r->days = p;
        r->days_cap = c;
    }
    r->days[2 * r->ndays] = (long)key;
    r->days[2 * r->ndays + 1] = days;
    r->ndays++;
    return 0;
}

static int cmp_pair(const void *pa, const void *pb)
{
    const long *a = pa, *b = pb;

    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

static int count(report *r, mq_error *err)
{
    const mq__report_rows *w = &r->rows;
    size_t keys[MAX_KEYS];

    /* The whole scope, the areas, the cadres, and one key of zeros. */
    r->nkeys = 1 + r->nareas + r->ncadres + 1;
    r->nsat = r->satisfaction != NULL ? r->satisfaction->nvalues : 0;
    r->nkind = r->visit_kind != NULL ? r->visit_kind->nvalues : 0;
    r->f = calloc(r->nkeys, sizeof(*r->f));
    r->sat = calloc(r->nkeys * r->nsat + 1, sizeof(*r->sat));
    r->kinds = calloc(r->nkeys * r->nkind + 1, sizeof(*r->kinds));
    r->nocc = r->occasion != NULL ? r->occasion->nvalues : 0;
    r->occ = calloc(r->nkeys * r->nocc + 1, sizeof(*r->occ));
    if (r->f == NULL || r->sat == NULL || r->kinds == NULL || r->occ == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");

    for (size_t i = 0; i < w->nneeds; i++) {
        const mq__rneed *n = &w->needs[i];
        int resolved = n->status == MQ__ST_RESOLVED;
        long sat = resolved ? choice(r->satisfaction, n->satisfaction) : -1;
        size_t nk = keys_of(r, n->area, n->recorded_by, keys, MAX_KEYS);
        for (size_t k = 0; k < nk; k++) {
            figs *f = &r->f[keys[k]];
            f->registered++;
            f->accepted += n->accepted;
            f->resolved += resolved;
            f->open += n->accepted && !resolved;
            f->overdue += n->overdue;
            f->late += n->late;
            f->yuan += n->yuan;
            f->p_received += n->petition;
            f->p_accepted += n->petition && n->accepted;
            f->p_closed += n->petition && resolved;
            for (int j = 0; j < 3; j++)
                f->served[j] += n->served[j];
            if (sat >= 0)
                r->sat[keys[k] * r->nsat + (size_t)sat]++;
            if (n->has_days && add_days(r, keys[k], n->days) != 0)
                return mq__fail(err, MQ_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < w->nneeds; i++) {
        /* Who handles an unresolved need now: the cadre's key only. */
        long c = mq__idmap_get(&r->cadre_ids, w->needs[i].handler);
        if (w->needs[i].status != MQ__ST_RESOLVED && c >= 0)
            r->f[1 + r->nareas + (size_t)c].handling++;
    }
    for (size_t i = 0; i < w->nvisits; i++) {
        const mq__rvisit *v = &w->visits[i];
        long kind = choice(r->visit_kind, v->kind);
        int reception = v->kind != NULL && strcmp(v->kind, r->cfg->reception_kind) == 0;
        size_t nk = keys_of(r, v->area, v->cadre, keys, MAX_KEYS);
        for (size_t k = 0; kind >= 0 && k < nk; k++) {
            r->kinds[keys[k] * r->nkind + (size_t)kind]++;
            if (reception)
                r->f[keys[k]].receptions += v->people;
        }
    }
    for (size_t i = 0; i < w->ntalks; i++) {
        const mq__rtalk *t = &w->talks[i];
        long occ = choice(r->occasion, t->occasion);
        size_t nk = keys_of(r, t->area, t->cadre, keys, MAX_KEYS);
        for (size_t k = 0; k < nk; k++) {
            r->f[keys[k]].talks++;
            if (occ >= 0)
                r->occ[keys[k] * r->nocc + (size_t)occ]++;
        }
    }
    for (size_t i = 0; i < w->nhouses; i++) {
        size_t nk = keys_of(r, w->houses[i].area, w->houses[i].cadre, keys, MAX_KEYS);
        for (size_t k = 0; k < nk; k++)
            r->f[keys[k]].households++;
    }

    /* The median of each key: the middle value of its days, or the mean of
     * the middle two. */
    if (r->ndays > 0)
        qsort(r->days, r->ndays, 2 * sizeof(long), cmp_pair);
    for (size_t i = 0, j; i < r->ndays; i = j) {
        for (j = i; j < r->ndays && r->days[2 * j] == r->days[2 * i]; j++)
            ;
        size_t n = j - i, mid = i + n / 2;
        figs *f = &r->f[r->days[2 * i]];
        double upper = (double)r->days[2 * mid + 1];
        f->has_median = 1;
        f->median = n % 2 ? upper : ((double)r->days[2 * (mid - 1) + 1] + upper) / 2.0;
    }
    return 0;
}

static void report_free(report *r)
{
    mq__report_rows_free(&r->rows);
    for (size_t i = 0; i < r->nanc_text; i++)
        free(r->anc_text[i]);
    free(r->anc_text);
    mq__idmap_free(&r->area_ids);
    mq__idmap_free(&r->cadre_ids);
    free(r->anc);
    free(r->anc_first);
    free(r->cadres);
    free(r->cadre_text);
    free(r->f);
    free(r->sat);
    free(r->kinds);
    free(r->occ);
    free(r->days);
}

/* ---- the document ---------------------------------------------------------------- */

/* A rate: num / den, or null when den is 0. */
static cJSON *rate(double num, double den)
{
    return den > 0 ? cJSON_CreateNumber(num / den) : cJSON_CreateNull();
}

/* {VALUE: COUNT} over every choice of `f`. */
static cJSON *choice_counts(const mq_field *f, const double *counts)
{
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; f != NULL && i < f->nvalues; i++)
        cJSON_AddNumberToObject(o, f->values[i], counts[i]);
    return o;
}

/* Adds households, needs, petitions and visits of key `key`; -1, a key
 * that nothing counted in, gives zeros. */
static void add_figures(const report *r, cJSON *o, long key)
{
    size_t k = key >= 0 ? (size_t)key : r->nkeys - 1; /* the last key is all zeros */
    const figs *f = &r->f[k];
    const double *sat = &r->sat[k * r->nsat], *kinds = &r->kinds[k * r->nkind];
    const double *occ = &r->occ[k * r->nocc];
    cJSON *needs = cJSON_CreateObject(), *pet = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "households", f->households);
    cJSON_AddNumberToObject(needs, "registered", f->registered);
    cJSON_AddNumberToObject(needs, "accepted", f->accepted);
    cJSON_AddNumberToObject(needs, "resolved", f->resolved);
    cJSON_AddNumberToObject(needs, "open", f->open);
    cJSON_AddNumberToObject(needs, "overdue", f->overdue);
    cJSON_AddNumberToObject(needs, "resolved_late", f->late);
    cJSON_AddItemToObject(needs, "completion_rate", rate(f->resolved, f->accepted));
    if (f->has_median)
        cJSON_AddNumberToObject(needs, "median_days_to_resolve", f->median);
    else
        cJSON_AddNullToObject(needs, "median_days_to_resolve");
    cJSON_AddItemToObject(needs, "satisfaction", choice_counts(r->satisfaction, sat));
    /* In yuan, to the fen: a sum of decimals carries binary dust. */
    cJSON_AddNumberToObject(needs, "yuan", round(f->yuan * 100.0) / 100.0);
    cJSON_AddNumberToObject(needs, "served_households", f->served[0]);
    cJSON_AddNumberToObject(needs, "served_people", f->served[1]);
    cJSON_AddNumberToObject(needs, "served_livestock", f->served[2]);
    cJSON_AddItemToObject(o, "needs", needs);

    cJSON *visits = choice_counts(r->visit_kind, kinds);
    cJSON_AddNumberToObject(pet, "received", f->p_received);
    cJSON_AddNumberToObject(pet, "accepted", f->p_accepted);
    cJSON_AddNumberToObject(pet, "closed", f->p_closed);
    cJSON_AddItemToObject(pet, "rate", rate(f->p_closed, f->p_accepted));
    cJSON_AddNumberToObject(pet, "receptions", f->receptions);
    cJSON_AddItemToObject(o, "petitions", pet);
    cJSON_AddItemToObject(o, "visits", visits);
    cJSON *talks = cJSON_AddObjectToObject(o, "talks");
    cJSON_AddNumberToObject(talks, "total", f->talks);
    cJSON_AddItemToObject(talks, "occasions", choice_counts(r->occasion, occ));
}

static void add_text(cJSON *o, const char *name, const char *v)
{
    if (v != NULL)
        cJSON_AddStringToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

/* The areas in tree order: each before the areas below it, siblings by code
 * and name.  %s: the area type (spelt out for the partial index of the area
 * tree), the roots (the scope's area, or the areas under no live area), the
 * area type again. */
static const char areas_sql[] =
    "WITH RECURSIVE tree(id, depth, path) AS ("
    "  SELECT id, 0, coalesce(json_extract(fields, '$.code'), '') || char(2)"
    "  || coalesce(json_extract(fields, '$.name'), '') || char(2) || id"
    "  FROM record r WHERE type = '%s' AND deleted = 0 AND %s"
    "  UNION ALL SELECT r.id, tree.depth + 1, tree.path || char(1)"
    "  || coalesce(json_extract(r.fields, '$.code'), '') || char(2)"
    "  || coalesce(json_extract(r.fields, '$.name'), '') || char(2) || r.id"
    "  FROM tree JOIN record r ON r.parent = tree.id"
    "  WHERE r.type = '%s' AND r.deleted = 0 AND tree.depth < 64)"
    " SELECT t.id, json_extract(r.fields, '$.name'), json_extract(r.fields, '$.level'),"
    " r.parent, t.depth FROM tree t JOIN record r ON r.id = t.id ORDER BY t.path";

static const char roots_all[] =
    "(parent IS NULL OR NOT EXISTS (SELECT 1 FROM record p WHERE p.id = r.parent"
    " AND p.type = ?3 AND p.deleted = 0))";
static const char roots_scoped[] = "id = ?6";

static int prepare(const report *r, const char *sql, sqlite3_stmt **st, mq_error *err)
{
    if (sqlite3_prepare_v2(r->s->db, sql, -1, st, NULL) != SQLITE_OK)
        return mq__fail_sqlite(err, r->s->db, "preparing a report query");
    mq__report_bind(r->s, *st, r->as_of, r->from);
    int i = sqlite3_bind_parameter_index(*st, "?6");
    if (i > 0)
        mq__bind_text(*st, i, r->area);
    return 0;
}

static int add_areas(const report *r, cJSON *doc, mq_error *err)
{
    char sql[sizeof(areas_sql) + sizeof(roots_all) + 128];
    sqlite3_stmt *st;
    cJSON *list = cJSON_AddArrayToObject(doc, "areas");
    int rc, step;

    const char *type = mq__area_type_name(r->s);
    snprintf(sql, sizeof(sql), areas_sql, type,
             r->area != NULL ? roots_scoped : roots_all, type);
    if ((rc = prepare(r, sql, &st, err)) != 0)
        return rc;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        const char *id = mq__col_text(st, 0);
        long key = mq__idmap_get(&r->area_ids, id);
        cJSON_AddStringToObject(o, "id", id);
        add_text(o, "name", mq__col_text(st, 1));
        add_text(o, "level", mq__col_text(st, 2));
        add_text(o, "parent", mq__col_text(st, 3));
        cJSON_AddNumberToObject(o, "depth", sqlite3_column_int(st, 4));
        add_figures(r, o, key >= 0 ? 1 + key : -1);
        cJSON_AddItemToArray(list, o);
    }
    rc = step == SQLITE_DONE ? 0 : mq__fail_sqlite(err, r->s->db, "reading the areas");
    sqlite3_finalize(st);
    return rc;
}

/* A cadre key with the name it is listed by. */
typedef struct named {
    size_t key;
    const char *id, *name;
} named;

/* By name (no name last), then id. */
static int cmp_named(const void *pa, const void *pb)
{
    const named *a = pa, *b = pb;
    int c;

    if ((a->name == NULL) != (b->name == NULL))
        return a->name == NULL ? 1 : -1;
    if (a->name != NULL && (c = strcmp(a->name, b->name)) != 0)
        return c;
    return strcmp(a->id, b->id);
}

static int add_cadres(const report *r, cJSON *doc, mq_error *err)
{
    cJSON *list = cJSON_AddArrayToObject(doc, "cadres");
    named *v = malloc((r->ncadres + 1) * sizeof(*v));

    if (v == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->ncadres; i++) {
        mq__rcadre key = {.id = r->cadres[i]};
        const mq__rcadre *c = r->rows.ncadres == 0
                                  ? NULL
                                  : bsearch(&key, r->rows.cadres, r->rows.ncadres,
                                            sizeof(key), mq__report_cmp_cadre);
        v[i] = (named){1 + r->nareas + i, r->cadres[i], c != NULL ? c->name : NULL};
    }
    if (r->ncadres > 0)
        qsort(v, r->ncadres, sizeof(*v), cmp_named);
    for (size_t i = 0; i < r->ncadres; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", v[i].id);
        add_text(o, "name", v[i].name);
        add_figures(r, o, (long)v[i].key);
        cJSON_AddNumberToObject(o, "handling", r->f[v[i].key].handling);
        cJSON_AddItemToArray(list, o);
    }
    free(v);
    return 0;
}

/*
 * The days a period of village income covers: "YYYYQn" a quarter, "YYYY-MM"
 * a month, "YYYY" a year.  Returns 0 for a period written otherwise, which
 * the report always lists (it cannot place it in time).
 */
static int period_days(const char *p, char first[11], char last[11])
{
    static const char *const qfirst[4] = {"01-01", "04-01", "07-01", "10-01"};
    static const char *const qlast[4] = {"03-31", "06-30", "09-30", "12-31"};
    size_t n = strlen(p);

    if (n < 4 || strspn(p, "0123456789") < 4)
        return 0;
    if (n == 4) {
        snprintf(first, 11, "%.4s-01-01", p);
        snprintf(last, 11, "%.4s-12-31", p);
        return 1;
    }
    if (n == 6 && p[4] == 'Q' && p[5] >= '1' && p[5] <= '4') {
        snprintf(first, 11, "%.4s-%s", p, qfirst[p[5] - '1']);
        snprintf(last, 11, "%.4s-%s", p, qlast[p[5] - '1']);
        return 1;
    }
    if (n == 7 && p[4] == '-' && strspn(p + 5, "0123456789") == 2) {
        int m = (p[5] - '0') * 10 + (p[6] - '0');
        if (m < 1 || m > 12)
            return 0;
        snprintf(first, 11, "%.7s-01", p);
        snprintf(last, 11, "%.7s-31", p); /* compared as text: past any last day */
        return 1;
    }
    return 0;
}

/* One income record with its area's code and name, as listed. */
typedef struct income_row {
    const mq__rincome *i;
    char *code, *name; /* owned */
} income_row;

/* NULL first, as SQL orders. */
static int cmp_null_first(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

/* By the area's code, its name, the area, the period, the id. */
static int cmp_income(const void *pa, const void *pb)
{
    const income_row *a = pa, *b = pb;
    int c;

    if ((c = strcmp(a->code != NULL ? a->code : "", b->code != NULL ? b->code : "")) ||
        (c = cmp_null_first(a->name, b->name)) ||
        (c = cmp_null_first(a->i->area, b->i->area)) ||
        (c = cmp_null_first(a->i->period, b->i->period)))
        return c;
    return strcmp(a->i->id, b->i->id);
}

static int add_income(const report *r, cJSON *doc, mq_error *err)
{
    const mq__report_rows *w = &r->rows;
    cJSON *list = cJSON_AddArrayToObject(doc, "income");
    income_row *v = calloc(w->nincome + 1, sizeof(*v));
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc = 0;

    if (v == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    if (sqlite3_prepare_v2(r->s->db,
                           "SELECT json_extract(fields, '$.code'),"
                           " json_extract(fields, '$.name') FROM record WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        free(v);
        return mq__fail_sqlite(err, r->s->db, "preparing the income list");
    }
    for (size_t i = 0; i < w->nincome; i++) {
        const mq__rincome *in = &w->income[i];
        char first[11], last[11];
        if (in->period != NULL && period_days(in->period, first, last) &&
            (strcmp(first, r->as_of) > 0 ||
             (r->from != NULL && strcmp(last, r->from) < 0)))
            continue;
        v[n].i = in;
        sqlite3_reset(st);
        mq__bind_text(st, 1, in->area);
        if (in->area != NULL && sqlite3_step(st) == SQLITE_ROW) {
            v[n].code = mq__strdup(mq__col_text(st, 0));
            v[n].name = mq__strdup(mq__col_text(st, 1));
        }
        n++;
    }
    sqlite3_finalize(st);
    if (n > 0)
        qsort(v, n, sizeof(*v), cmp_income);
    for (size_t i = 0; i < n; i++) {
        const mq__rincome *in = v[i].i;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", in->id);
        add_text(o, "area", in->area);
        add_text(o, "name", v[i].name);
        add_text(o, "period", in->period);
        add_text(o, "channels", in->channels);
        add_text(o, "measures", in->measures);
        if (in->has_income)
            cJSON_AddNumberToObject(o, "income_yuan", in->income);
        else
            cJSON_AddNullToObject(o, "income_yuan");
        if (in->has_target)
            cJSON_AddNumberToObject(o, "target_yuan", in->target);
        else
            cJSON_AddNullToObject(o, "target_yuan");
        if (in->has_income && in->has_target && in->target > 0) {
            double ratio = in->income / in->target;
            cJSON_AddNumberToObject(o, "ratio", ratio);
            cJSON_AddStringToObject(o, "level", mq__report_income_level(r->cfg, ratio));
        } else {
            cJSON_AddNullToObject(o, "ratio");
            cJSON_AddNullToObject(o, "level");
        }
        cJSON_AddItemToArray(list, o);
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i].code);
        free(v[i].name);
    }
    free(v);
    return rc;
}

static const mq_field *schema_field(mq_store *s, const char *type, const char *field)
{
    const mq_type *t = mq__schema_type(s->schema, type);

    return t != NULL ? mq__type_field(t, field) : NULL;
}

int mq_report_json(mq_store *s, const mq_report_query *q, char **out, mq_error *err)
{
    mq__report_cfg cfg;
    char as_of[11], from[11];
    int rc, began = 0;
    cJSON *doc = NULL;

    *out = NULL;
    if ((rc = mq__report_day(s, q->as_of, "as_of", as_of, err)) != 0)
        return rc;
    if (q->from != NULL) {
        if ((rc = mq__report_day(s, q->from, "from", from, err)) != 0)
            return rc;
        if (strcmp(from, as_of) > 0)
            return mq__fail(err, MQ_EINVAL, "from \"%s\": must not be after as_of \"%s\"",
                            from, as_of);
    }
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    report r = {.s = s,
                .cfg = &cfg,
                .satisfaction = schema_field(s, "need_action", "satisfaction"),
                .visit_kind = schema_field(s, "visit", "kind"),
                .occasion = schema_field(s, "talk", "occasion"),
                .as_of = as_of,
                .from = q->from != NULL ? from : NULL,
                .area = q->area};
    if ((rc = mq__report_read_begin(s, &began, err)) != 0)
        goto done;
    if (q->area != NULL && (rc = mq__report_scope(s, q->area, err)) != 0)
        goto done;
    if ((rc = mq__report_anc(s, err)) != 0 || (rc = load_areas(&r, err)) != 0)
        goto done;
    if ((rc = mq__report_rows_load(s, r.as_of, r.from, q->area != NULL, MQ__ROWS_ALL,
                                   &cfg, &r.rows, err)) != 0)
        goto done;
    if ((rc = load_cadres(&r, err)) != 0 || (rc = count(&r, err)) != 0)
        goto done;
    if ((rc = keep_cadres(&r, err)) != 0)
        goto done;
    mq__report_rows_drop(&r.rows); /* counted: only the figures are written */
    doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_AddStringToObject(doc, "as_of", as_of);
    add_text(doc, "from", r.from);
    add_text(doc, "area", q->area);
    cJSON *total = cJSON_AddObjectToObject(doc, "total");
    add_figures(&r, total, 0);
    if ((rc = add_areas(&r, doc, err)) != 0 || (rc = add_cadres(&r, doc, err)) != 0 ||
        (rc = add_income(&r, doc, err)) != 0)
        goto done;
    *out = cJSON_PrintUnformatted(doc);
    if (*out == NULL)
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
done:
    cJSON_Delete(doc);
    report_free(&r);
    mq__report_read_end(s, began);
    mq__report_cfg_free(&cfg);
    return rc;
}

int mq_report_labels(mq_store *s, char **out, mq_error *err)
{
    mq__report_cfg cfg;
    int rc;

    *out = NULL;
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    *out = cfg.labels != NULL ? cJSON_PrintUnformatted(cfg.labels) : mq__strdup("{}");
    mq__report_cfg_free(&cfg);
    return *out != NULL ? 0 : mq__fail(err, MQ_ENOMEM, "out of memory");
}
