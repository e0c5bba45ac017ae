/*
 * tests/property/test_converge.c - randomized test of the merge invariants.
 *
 * Several replicas, each a real store in its own file, make thousands of
 * random local writes (creations of every kind of record, edits of the same
 * fields on different replicas, deletes, resolutions of conflicts) and swap
 * their changes in the ways a USB stick or a flaky uplink delivers them:
 * incremental pulls, replays from the start, random subsets in random order,
 * duplicates, bundles, transactions that are rolled back.  A model kept
 * beside the stores knows every change and which replica has seen it, and
 * predicts what each replica must show:
 *
 *   1. the heads of a field are the versions of it that the replica has
 *      seen and that no other seen version names in its "base"; the field
 *      holds the value of the greatest head (clock, then site);
 *   2. a field of a live record is in conflict exactly when its heads carry
 *      two or more different values; the conflict's winner is rule 1's;
 *   3. a record is a tombstone once a delete of it has been seen;
 *   4. applying a change already seen is MQ_DUPLICATE and changes nothing;
 *      a change valid where it was written is never rejected elsewhere;
 *   5. every local change has a clock above every version its replica has
 *      seen, a version stamped more than a minute past the replica's time
 *      counting as a minute ahead, and none more than a minute past its own
 *      time (clocks that lie, docs/STORE.md M4); its
 *      base names only versions the writer saw, and every head of the field
 *      (a plain edit of a field in conflict may name only the winner, which
 *      leaves the conflict open; a resolution names all);
 *   6. a put leaves out fields whose value does not change, and a put that
 *      changes nothing writes nothing.
 *
 * At the end every change is delivered everywhere and the replicas must be
 * identical (export, every record ever created including tombstones,
 * conflicts, needs, histories, change logs) and pass mq_store_check(); then
 * every conflict is resolved once, on one replica, delivered, and must be
 * gone everywhere.
 *
 * Usage: test_converge [--seed N] [--runs N] [--ops N] [--replicas N]
 * Each run prints its seed; `--seed N --runs 1` replays it exactly (with the
 * same --ops and --replicas).
 */
#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "minqing/minqing.h"

#define MAXR                 6
#define MAXF                 12
#define MAX_PRINTED_FAILURES 40

/* ---- small helpers ----------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fputs("out of memory\n", stderr);
        abort();
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fputs("out of memory\n", stderr);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

typedef struct ivec {
    int *a;
    size_t n, cap;
} ivec;

static void iv_push(ivec *v, int x)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 4;
        v->a = xrealloc(v->a, v->cap * sizeof *v->a);
    }
    v->a[v->n++] = x;
}

static int iv_has(const ivec *v, int x)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->a[i] == x)
            return 1;
    return 0;
}

static void iv_free(ivec *v)
{
    free(v->a);
    v->a = NULL;
    v->n = v->cap = 0;
}

typedef struct svec {
    char **a;
    size_t n, cap;
} svec;

static void sv_push(svec *v, char *s)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        v->a = xrealloc(v->a, v->cap * sizeof *v->a);
    }
    v->a[v->n++] = s;
}

static void sv_free(svec *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->a[i]);
    free(v->a);
    v->a = NULL;
    v->n = v->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sv_sort(svec *v)
{
    if (v->n > 1)
        qsort(v->a, v->n, sizeof *v->a, cmp_str);
}

/* A string -> int map (open addressing); keys are copied. */
typedef struct strmap {
    char **k;
    int *v;
    size_t cap, n;
} strmap;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static int sm_get(const strmap *m, const char *k)
{
    if (!m->cap)
        return -1;
    size_t i = (size_t)(fnv1a(k) & (m->cap - 1));
    while (m->k[i]) {
        if (!strcmp(m->k[i], k))
            return m->v[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

static void sm_insert(strmap *m, char *k, int v)
{
    size_t i = (size_t)(fnv1a(k) & (m->cap - 1));
    while (m->k[i])
        i = (i + 1) & (m->cap - 1);
    m->k[i] = k;
    m->v[i] = v;
    m->n++;
}

static void sm_put(strmap *m, const char *k, int v)
{
    if ((m->n + 1) * 2 > m->cap) {
        strmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 1024;
        m->k = calloc(m->cap, sizeof *m->k);
        m->v = calloc(m->cap, sizeof *m->v);
        if (!m->k || !m->v)
            abort();
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.k[i])
                sm_insert(m, old.k[i], old.v[i]);
        free(old.k);
        free(old.v);
    }
    sm_insert(m, xstrdup(k), v);
}

static void sm_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->k[i]);
    free(m->k);
    free(m->v);
    memset(m, 0, sizeof *m);
}

/* splitmix64: small, fast, and the same sequence on every platform. */
static uint64_t rng_state;

static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned rnd(unsigned n)
{
    return n ? (unsigned)(rnd64() % n) : 0;
}

static int chance(unsigned pct)
{
    return rnd(100) < pct;
}

/* ---- canonical JSON ------------------------------------------------------ */

static int cmp_key(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static int cmp_strval(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->valuestring, y->valuestring);
}

/* Reorders the children of `o` by `cmp`, keeping cJSON's list invariants
 * (the first child's prev points at the last). */
static void sort_children(cJSON *o, int (*cmp)(const void *, const void *))
{
    size_t n = 0;
    for (cJSON *c = o->child; c; c = c->next)
        n++;
    if (n < 2)
        return;
    cJSON **v = xmalloc(n * sizeof(cJSON *));
    n = 0;
    for (cJSON *c = o->child; c; c = c->next)
        v[n++] = c;
    qsort(v, n, sizeof(cJSON *), cmp);
    for (size_t i = 0; i < n; i++) {
        v[i]->prev = i ? v[i - 1] : v[n - 1];
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    }
    o->child = v[0];
    free(v);
}

static void sort_keys(cJSON *j)
{
    for (cJSON *c = j->child; c; c = c->next)
        sort_keys(c);
    if (cJSON_IsObject(j))
        sort_children(j, cmp_key);
}

static char *print_or_die(const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        abort();
    return s;
}

/* The text of `j` with object keys sorted; the caller frees it. */
static char *canon(const cJSON *j)
{
    cJSON *d = cJSON_Duplicate(j, 1);
    if (!d)
        abort();
    sort_keys(d);
    char *s = print_or_die(d);
    cJSON_Delete(d);
    return s;
}

static int all_strings(const cJSON *a)
{
    for (const cJSON *c = a->child; c; c = c->next)
        if (!cJSON_IsString(c))
            return 0;
    return 1;
}

/* A field value as text for comparison: a set of tags compares as a set;
 * an absent value is null. */
static char *canon_value(const cJSON *j)
{
    if (!j)
        return xstrdup("null");
    cJSON *d = cJSON_Duplicate(j, 1);
    if (!d)
        abort();
    if (cJSON_IsArray(d) && all_strings(d))
        sort_children(d, cmp_strval);
    sort_keys(d);
    char *s = print_or_die(d);
    cJSON_Delete(d);
    return s;
}

static cJSON *parse_or_die(const char *json, const char *what);

/* Sorted canonical lines of JSON Lines text. */
static void canon_lines(const char *text, svec *out)
{
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char *line = xmalloc(n + 1);
            memcpy(line, p, n);
            line[n] = 0;
            cJSON *j = parse_or_die(line, "a line of output");
            sv_push(out, canon(j));
            cJSON_Delete(j);
            free(line);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    sv_sort(out);
}

/* ---- the schema, as far as the generator needs it ------------------------ */

enum { T_AREA, T_CADRE, T_HOUSEHOLD, T_MEMBER, T_NEED, T_NEED_ACTION, T_VISIT, NTYPES };

enum gen {
    G_AREA_NAME,
    G_PERSON,
    G_ENUM,
    G_REF,
    G_IDNUM,
    G_PHONE,
    G_INT,
    G_DATE,
    G_BIRTH,
    G_TAGS,
    G_CODE,
    G_UNIT,
    G_POSITION,
    G_ADDRESS,
    G_DESC,
    G_NOTE,
    G_DECIMAL,
    G_VNOTES
};

typedef struct fspec {
    const char *name;
    const char *const *choices; /* G_ENUM, NULL-terminated */
    int gen;
    int required;
    int editable;
    int ref;    /* G_REF: the type referred to */
    int lo, hi; /* G_INT */
} fspec;

typedef struct tspec {
    const char *name;
    const fspec *fields;
    int log;
    int nf;
} tspec;

static const char *const LEVELS[] = {"county", "township", "village", "group", NULL};
static const char *const RELATIONS[] = {"户主", "配偶", "子",   "女",   "父亲", "母亲",
                                        "孙子", "孙女", "儿媳", "女婿", NULL};
static const char *const SEXES[] = {"M", "F", NULL};
static const char *const HEALTH[] = {"健康", "慢性病", "残疾", "大病", NULL};
static const char *const EDUCATION[] = {"文盲", "小学",       "初中",
                                        "高中", "大专及以上", NULL};
static const char *const OCCUPATION[] = {"务农", "外出务工", "学生", "无", NULL};
static const char *const CATEGORIES[] = {
    "drinking_water", "housing", "medical", "education", "dispute", "other", NULL};
static const char *const SOURCES[] = {"home_visit", "petition_visit", "petition_letter",
                                      "phone", NULL};
static const char *const URGENCY[] = {"low", "normal", "high", NULL};
static const char *const ACTIONS[] = {"accept",  "progress", "transfer",
                                      "resolve", "reopen",   NULL};
static const char *const SATISFACTION[] = {"satisfied", "basically_satisfied",
                                           "unsatisfied", NULL};
static const char *const VISIT_KINDS[] = {"home_visit", "talk", "petition_reception",
                                          NULL};

static const char *const PERSONS[] = {"李春", "王国华", "张秀英", "刘玉珍",
                                      "陈建", "杨兰",   "赵家学", NULL};
static const char *const AREA_NAMES[] = {"立戈村民小组", "莲池村民小组", "中和村民小组",
                                         "大村村民小组", NULL};
static const char *const UNITS[] = {"县委组织部", "县民政局", "县扶贫办", NULL};
static const char *const POSITIONS[] = {"干部", "股长", "驻村工作队员", NULL};
static const char *const ADDRESSES[] = {"永仁县立戈村民小组12号", "永仁县莲池村民小组3号",
                                        "永仁县中和村民小组59号", NULL};
static const char *const DESCRIPTIONS[] = {"人畜饮水困难,需建水窖", "申请低保",
                                           "村组道路需硬化", "房屋漏雨,需危房改造", NULL};
static const char *const NOTES[] = {"已协调解决", "正在办理", "已转县民政局", NULL};
static const char *const VNOTES[] = {"民情恳谈,填写民情登记卡", "回访", NULL};
static const char *const TAGS[] = {"低保户", "五保户", "脱贫户", "留守老人", NULL};

#define F(n, g, req, ed)                                                                 \
    {                                                                                    \
        .name = (n), .gen = (g), .required = (req), .editable = (ed)                     \
    }
#define FE(n, ch, req)                                                                   \
    {                                                                                    \
        .name = (n), .gen = G_ENUM, .required = (req), .editable = 1, .choices = (ch)    \
    }
#define FR(n, t, req, ed)                                                                \
    {                                                                                    \
        .name = (n), .gen = G_REF, .required = (req), .editable = (ed), .ref = (t)       \
    }
#define FI(n, l, h)                                                                      \
    {                                                                                    \
        .name = (n), .gen = G_INT, .editable = 1, .lo = (l), .hi = (h)                   \
    }

static const fspec AREA_F[] = {F("name", G_AREA_NAME, 1, 1), FE("level", LEVELS, 1),
                               FR("parent", T_AREA, 0, 0), F("code", G_CODE, 0, 1)};
static const fspec CADRE_F[] = {F("name", G_PERSON, 1, 1), F("phone", G_PHONE, 0, 1),
                                F("unit", G_UNIT, 0, 1), F("position", G_POSITION, 0, 1)};
static const fspec HOUSEHOLD_F[] = {FR("area", T_AREA, 1, 1),
                                    F("head_name", G_PERSON, 1, 1),
                                    F("head_id_number", G_IDNUM, 1, 1),
                                    F("phone", G_PHONE, 0, 1),
                                    F("address", G_ADDRESS, 0, 1),
                                    FI("size", 1, 6),
                                    FI("labor", 0, 3),
                                    FI("income_per_capita_yuan", 1200, 1203),
                                    F("tags", G_TAGS, 0, 1),
                                    FR("paired_cadre", T_CADRE, 0, 1)};
static const fspec MEMBER_F[] = {FR("household", T_HOUSEHOLD, 1, 0),
                                 F("name", G_PERSON, 1, 1),
                                 FE("relation", RELATIONS, 0),
                                 FE("sex", SEXES, 0),
                                 F("birth_date", G_BIRTH, 0, 1),
                                 F("id_number", G_IDNUM, 0, 1),
                                 FE("health", HEALTH, 0),
                                 FE("education", EDUCATION, 0),
                                 FE("occupation", OCCUPATION, 0),
                                 F("phone", G_PHONE, 0, 1)};
static const fspec NEED_F[] = {
    FR("household", T_HOUSEHOLD, 1, 0), FE("category", CATEGORIES, 1),
    F("description", G_DESC, 1, 1),     FE("source", SOURCES, 0),
    FE("urgency", URGENCY, 0),          FR("recorded_by", T_CADRE, 0, 1),
    F("recorded_at", G_DATE, 0, 1),     F("deadline", G_DATE, 0, 1)};
static const fspec NEED_ACTION_F[] = {FR("need", T_NEED, 1, 0),
                                      FE("action", ACTIONS, 1),
                                      FR("by", T_CADRE, 1, 0),
                                      F("at", G_DATE, 1, 0),
                                      F("note", G_NOTE, 0, 0),
                                      F("amount_yuan", G_DECIMAL, 0, 0),
                                      FE("satisfaction", SATISFACTION, 0)};
static const fspec VISIT_F[] = {FR("household", T_HOUSEHOLD, 1, 0),
                                FR("cadre", T_CADRE, 1, 0), F("at", G_DATE, 1, 0),
                                FE("kind", VISIT_KINDS, 1), F("notes", G_VNOTES, 0, 0)};

#define NF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const tspec TYPES[NTYPES] = {
    {"area", AREA_F, 0, NF(AREA_F)},
    {"cadre", CADRE_F, 0, NF(CADRE_F)},
    {"household", HOUSEHOLD_F, 0, NF(HOUSEHOLD_F)},
    {"member", MEMBER_F, 0, NF(MEMBER_F)},
    {"need", NEED_F, 0, NF(NEED_F)},
    {"need_action", NEED_ACTION_F, 1, NF(NEED_ACTION_F)},
    {"visit", VISIT_F, 1, NF(VISIT_F)},
};

static int type_index(const char *name)
{
    for (int t = 0; t < NTYPES; t++)
        if (!strcmp(TYPES[t].name, name))
            return t;
    return -1;
}

static int field_index(int type, const char *name)
{
    for (int f = 0; f < TYPES[type].nf; f++)
        if (!strcmp(TYPES[type].fields[f].name, name))
            return f;
    return -1;
}

static size_t count_choices(const char *const *c)
{
    size_t n = 0;
    while (c[n])
        n++;
    return n;
}

static const char *pick(const char *const *c)
{
    return c[rnd((unsigned)count_choices(c))];
}

/* ---- the model ------------------------------------------------------------ */

enum { CH_CREATE, CH_EDIT, CH_DELETE };

typedef struct change {
    char *v;          /* the version, "HHHHHHHHHHHHHHHH-SITE" */
    uint64_t clock;   /* its hybrid logical clock */
    const char *site; /* points into v */
    int rec;          /* the record it changes */
    int kind;         /* CH_* */
    int origin;       /* the replica that wrote it */
    char *canon;      /* canonical JSON of the change as its writer logged it */
    int nf;           /* fields it sets */
    int f[MAXF];      /* their indexes in the type's spec */
    char *val[MAXF];  /* their values, canonical */
    ivec base[MAXF];  /* the versions the writer named as base of each */
    unsigned char seen[MAXR];
    int64_t seen_at[MAXR]; /* the replica's corrected time when it arrived */
    short from[MAXR];      /* where it arrived from: -1 local, -2 unknown */
} change;

typedef struct rec {
    char *id;
    int type;
    ivec creates, deletes, all;
    ivec fv[MAXF]; /* changes that set each field */
} rec;

typedef struct replica {
    mq_store *st;
    char path[600];
    char site[33];
    int64_t logpos;       /* how far the model has read this replica's log */
    int64_t cursor[MAXR]; /* how far this replica has pulled from each other */
    int64_t past[16];     /* some earlier values of logpos */
    unsigned npast;
    uint64_t maxclock; /* greatest clock it has seen */
} replica;

static struct {
    uint64_t seed;
    unsigned long op;
    unsigned long ops;
    int nr;
    char dir[512];
    replica r[MAXR];
    change *ch;
    size_t nch, capch;
    rec *recs;
    size_t nrec, caprec;
    strmap vmap, idmap;
    unsigned long failures;
    unsigned long stat_applied, stat_duplicate, stat_rejected, stat_local, stat_deletes,
        stat_delete_refused, stat_resolves, stat_exchanges, stat_max_conflicts,
        stat_bundles, stat_rollbacks, stat_probes, stat_conflict_checks;
    char phones[6][12];
    char idnums[8][19];
    char dates[6][11];
    char births[6][11];
    unsigned fake;
} g;

static void replay_hint(void)
{
    fprintf(stderr,
            "replay: test_converge --seed %" PRIu64 " --runs 1 --ops %lu --replicas %d\n",
            g.seed, g.ops, g.nr);
}

#if defined(__GNUC__)
#define MQ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MQ_PRINTF(a, b)
#endif

static void fail(const char *fmt, ...) MQ_PRINTF(1, 2);
_Noreturn static void die(const char *fmt, ...) MQ_PRINTF(1, 2);

static void fail(const char *fmt, ...)
{
    va_list ap;
    g.failures++;
    if (g.failures > MAX_PRINTED_FAILURES) {
        if (g.failures == MAX_PRINTED_FAILURES + 1)
            fprintf(stderr,
                    "FAIL (further failures of this run are counted, not shown)\n");
        return;
    }
    fprintf(stderr, "FAIL seed %" PRIu64 " op %lu: ", g.seed, g.op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

_Noreturn static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FATAL seed %" PRIu64 " op %lu: ", g.seed, g.op);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    replay_hint();
    fprintf(stderr, "stores kept in %s\n", g.dir);
    exit(1);
}

static cJSON *parse_or_die(const char *json, const char *what)
{
    cJSON *j = cJSON_Parse(json);
    if (!j)
        die("%s is not JSON: %.300s", what, json);
    return j;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) ? s->valuestring : NULL;
}

static int parse_version(const char *v, uint64_t *clock)
{
    uint64_t c = 0;
    for (int i = 0; i < 16; i++) {
        char ch = v[i];
        int d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            return -1;
        c = c << 4 | (uint64_t)d;
    }
    if (v[16] != '-' || !v[17] || strlen(v + 17) > 32)
        return -1;
    *clock = c;
    return 0;
}

/* Greater version: clock first, then site. */
static int version_cmp(int a, int b)
{
    if (g.ch[a].clock != g.ch[b].clock)
        return g.ch[a].clock < g.ch[b].clock ? -1 : 1;
    return strcmp(g.ch[a].site, g.ch[b].site);
}

static int seen(int c, int r)
{
    return g.ch[c].seen[r];
}

static int created_at(int r, int k)
{
    for (size_t i = 0; i < g.recs[k].creates.n; i++)
        if (seen(g.recs[k].creates.a[i], r))
            return 1;
    return 0;
}

static int deleted_at(int r, int k)
{
    for (size_t i = 0; i < g.recs[k].deletes.n; i++)
        if (seen(g.recs[k].deletes.a[i], r))
            return 1;
    return 0;
}

static int live_at(int r, int k)
{
    return created_at(r, k) && !deleted_at(r, k);
}

static int field_slot(int c, int f)
{
    for (int i = 0; i < g.ch[c].nf; i++)
        if (g.ch[c].f[i] == f)
            return i;
    return -1;
}

/* The versions of field f of record k that replica r has seen and that no
 * other seen version names in its base. */
static void heads(int r, int k, int f, ivec *out)
{
    const ivec *fv = &g.recs[k].fv[f];
    out->n = 0;
    for (size_t i = 0; i < fv->n; i++) {
        int x = fv->a[i], superseded = 0;
        if (!seen(x, r))
            continue;
        for (size_t j = 0; j < fv->n && !superseded; j++) {
            int z = fv->a[j];
            if (z == x || !seen(z, r))
                continue;
            int s = field_slot(z, f);
            if (s >= 0 && iv_has(&g.ch[z].base[s], x))
                superseded = 1;
        }
        if (!superseded)
            iv_push(out, x);
    }
}

static const char *value_of(int c, int f)
{
    int s = field_slot(c, f);
    return s >= 0 ? g.ch[c].val[s] : NULL;
}

static size_t distinct_values(const ivec *hs, int f)
{
    size_t n = 0;
    for (size_t i = 0; i < hs->n; i++) {
        int dup = 0;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(value_of(hs->a[i], f), value_of(hs->a[j], f));
        n += !dup;
    }
    return n;
}

/* The greatest head of field f of record k at replica r (rule 1). */
static int winner(int r, int k, int f)
{
    ivec hs = {0};
    int w = -1;
    heads(r, k, f, &hs);
    for (size_t i = 0; i < hs.n; i++)
        if (w < 0 || version_cmp(hs.a[i], w) > 0)
            w = hs.a[i];
    iv_free(&hs);
    return w;
}

/* Whether `value` is what rule 1 allows for field f of k at r: the winner's
 * value, or that of a head whose clock ties with the winner's (the direction
 * of the tie-break by site is the core's to choose). */
static int value_allowed(int r, int k, int f, const char *value)
{
    int w = winner(r, k, f), ok = 0;
    if (w < 0)
        return !strcmp(value, "null");
    if (!strcmp(value_of(w, f), value))
        return 1;
    ivec hs = {0};
    heads(r, k, f, &hs);
    for (size_t i = 0; i < hs.n && !ok; i++)
        ok = g.ch[hs.a[i]].clock == g.ch[w].clock && !strcmp(value_of(hs.a[i], f), value);
    iv_free(&hs);
    return ok;
}

static int pick_live(int r, int type, int hot)
{
    ivec cand = {0};
    for (size_t k = 0; k < g.nrec; k++)
        if (g.recs[k].type == type && live_at(r, (int)k))
            iv_push(&cand, (int)k);
    int k = -1;
    if (cand.n) {
        if (hot && chance(60))
            k = cand.a[rnd(cand.n < 5 ? (unsigned)cand.n : 5)];
        else
            k = cand.a[rnd((unsigned)cand.n)];
    }
    iv_free(&cand);
    return k;
}

static int new_rec(const char *id, int type)
{
    if (g.nrec == g.caprec) {
        g.caprec = g.caprec ? 2 * g.caprec : 256;
        g.recs = xrealloc(g.recs, g.caprec * sizeof *g.recs);
    }
    rec *k = &g.recs[g.nrec];
    memset(k, 0, sizeof *k);
    k->id = xstrdup(id);
    k->type = type;
    sm_put(&g.idmap, id, (int)g.nrec);
    return (int)g.nrec++;
}

/* ---- talking to the stores ------------------------------------------------ */

static int collect_cb(void *ctx, const char *json)
{
    sv_push(ctx, xstrdup(json));
    return 0;
}

static void read_changes(int r, int64_t since, size_t limit, const char *skip, svec *out,
                         int64_t *next)
{
    mq_changes_query q;
    mq_error err;
    int64_t nx = since;
    memset(&q, 0, sizeof q);
    q.since = since;
    q.limit = limit;
    q.skip_source = skip;
    mq_error_clear(&err);
    int rc = mq_store_changes(g.r[r].st, &q, collect_cb, out, &nx, &err);
    if (rc != 0)
        die("replica %d: mq_store_changes(since %" PRId64 ") returned %d: %s", r, since,
            rc, err.message);
    if (next)
        *next = nx;
}

/* The changes that replica r logged since the model last looked. */
static void read_log(int r, svec *out)
{
    int64_t next;
    replica *R = &g.r[r];
    read_changes(r, R->logpos, 0, NULL, out, &next);
    if (out->n) {
        if (next <= R->logpos)
            fail("replica %d: mq_store_changes returned %zu changes but cursor %" PRId64
                 " -> %" PRId64,
                 r, out->n, R->logpos, next);
        R->logpos = next;
        R->past[R->npast++ % 16] = next;
    }
}

static char *get_rec(int r, const char *id, int *rc_out)
{
    char *out = NULL;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_get(g.r[r].st, id, &out, &err);
    if (rc_out)
        *rc_out = rc;
    if (rc != 0) {
        mq_free(out);
        return NULL;
    }
    char *copy = xstrdup(out);
    mq_free(out);
    return copy;
}

static char *export_text(int r, const char *type)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mq_error err;
    if (!f)
        die("open_memstream failed");
    mq_error_clear(&err);
    int rc = mq_store_export(g.r[r].st, type, f, &err);
    fclose(f);
    if (rc != 0)
        die("replica %d: mq_store_export returned %d: %s", r, rc, err.message);
    return buf;
}

static void conflicts_of(int r, svec *out)
{
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_conflicts(g.r[r].st, collect_cb, out, &err);
    if (rc != 0)
        die("replica %d: mq_store_conflicts returned %d: %s", r, rc, err.message);
}

/* ---- registering local changes -------------------------------------------- */

#define MAX_AHEAD_MS 60000 /* MQ_HLC_MAX_AHEAD_MS of docs/STORE.md, M4 */

/* Rule 5: a new local clock is above every version the replica has seen,
 * except that a version stamped more than a minute past the replica's time
 * when it arrived only counts as that far ahead (48 bits of milliseconds,
 * 16 of counter). */
static void clock_rule(int r, const char *v, uint64_t clock)
{
    /* ...and a replica keeps stamping its own time: nothing it has seen
     * pulls its clock more than a minute ahead */
    int64_t now = mq_store_now_ms(g.r[r].st);
    if ((int64_t)(clock >> 16) > now + MAX_AHEAD_MS + 1000) /* a second of slack */
        fail("replica %d wrote %s stamped %" PRId64 " ms past its own time (at most %d: "
             "a clock that runs ahead must not drag others along)",
             r, v, (int64_t)(clock >> 16) - now, MAX_AHEAD_MS);
    for (size_t c = 0; c < g.nch; c++) {
        if (!g.ch[c].seen[r])
            continue;
        uint64_t bound = g.ch[c].clock;
        int64_t at = g.ch[c].seen_at[r];
        if (at < INT64_MAX / 4) {
            uint64_t cap = ((uint64_t)(at + MAX_AHEAD_MS) << 16) | 0xffffu;
            if (cap < bound)
                bound = cap;
        }
        if (clock <= bound) {
            fail("replica %d wrote %s with clock %016" PRIx64 ", not above %016" PRIx64
                 " of version %s that it had seen%s (rule 5)",
                 r, v, clock, bound, g.ch[c].v,
                 bound == g.ch[c].clock ? "" : " (capped at a minute past its arrival)");
            return;
        }
    }
}

/* Adds a change that replica r just wrote to the model, from its log entry. */
static int add_local_change(int r, const char *raw, int kind)
{
    cJSON *j = parse_or_die(raw, "a logged change");
    const char *v = str_of(j, "v"), *type = str_of(j, "type"), *id = str_of(j, "id");
    uint64_t clock = 0;
    if (!v || parse_version(v, &clock) != 0)
        die("replica %d logged a change whose \"v\" is not HHHHHHHHHHHHHHHH-SITE: %.300s",
            r, raw);
    if (strcmp(v + 17, g.r[r].site) != 0)
        fail("replica %d (site %s) stamped a local change with site %s", r, g.r[r].site,
             v + 17);
    if (sm_get(&g.vmap, v) >= 0)
        die("replica %d logged a local change with a version already used: %s", r, v);
    if (!type || type_index(type) < 0 || !id)
        die("replica %d logged a change without a known type and an id: %.300s", r, raw);
    int t = type_index(type), k = sm_get(&g.idmap, id);
    if (k < 0) {
        if (kind != CH_CREATE)
            die("replica %d logged a change of unknown record %s: %.300s", r, id, raw);
        k = new_rec(id, t);
    }
    if (g.recs[k].type != t)
        die("replica %d logged a change of %s as type %s, it is a %s", r, id, type,
            TYPES[g.recs[k].type].name);
    clock_rule(r, v, clock);

    if (g.nch == g.capch) {
        g.capch = g.capch ? 2 * g.capch : 1024;
        g.ch = xrealloc(g.ch, g.capch * sizeof *g.ch);
    }
    int c = (int)g.nch;
    change *C = &g.ch[c];
    memset(C, 0, sizeof *C);
    C->v = xstrdup(v);
    C->clock = clock;
    C->site = C->v + 17;
    C->rec = k;
    C->kind = kind;
    C->origin = r;
    C->canon = canon(j);
    for (int i = 0; i < MAXR; i++)
        C->from[i] = -3;
    if (kind != CH_DELETE) {
        const cJSON *set = cJSON_GetObjectItemCaseSensitive(j, "set");
        const cJSON *base = cJSON_GetObjectItemCaseSensitive(j, "base");
        if (!cJSON_IsObject(set))
            die("replica %d logged a change without a \"set\" object: %.300s", r, raw);
        for (const cJSON *s = set->child; s; s = s->next) {
            int f = field_index(t, s->string);
            if (f < 0) {
                fail("replica %d logged change %s setting unknown field %s.%s", r, v,
                     type, s->string);
                continue;
            }
            if (C->nf == MAXF)
                die("too many fields in %s", v);
            int slot = C->nf++;
            C->f[slot] = f;
            C->val[slot] = canon_value(s);
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(base, s->string);
            if (b && !cJSON_IsArray(b))
                fail("replica %d: change %s: base of %s is not an array", r, v,
                     s->string);
            for (const cJSON *e = b ? b->child : NULL; e; e = e->next) {
                int bc = cJSON_IsString(e) ? sm_get(&g.vmap, e->valuestring) : -1;
                if (bc < 0)
                    fail("replica %d: change %s names in the base of %s a version it "
                         "never "
                         "saw: %s",
                         r, v, s->string,
                         cJSON_IsString(e) ? e->valuestring : "(not text)");
                else if (!seen(bc, r))
                    fail("replica %d: change %s names in the base of %s version %s, "
                         "which it "
                         "has not seen",
                         r, v, s->string, e->valuestring);
                else
                    iv_push(&C->base[slot], bc);
            }
        }
    }
    C->seen[r] = 1;
    C->seen_at[r] = INT64_MAX / 2;
    C->from[r] = -1;
    g.nch++;
    sm_put(&g.vmap, v, c);
    rec *K = &g.recs[k];
    iv_push(&K->all, c);
    if (kind == CH_CREATE)
        iv_push(&K->creates, c);
    if (kind == CH_DELETE)
        iv_push(&K->deletes, c);
    for (int i = 0; i < C->nf; i++)
        iv_push(&K->fv[C->f[i]], c);
    if (clock > g.r[r].maxclock)
        g.r[r].maxclock = clock;
    g.stat_local++;
    cJSON_Delete(j);
    return c;
}

/* ---- value generation ------------------------------------------------------ */

static void make_date(char out[11], int y0, int y1)
{
    unsigned y = (unsigned)y0 + rnd((unsigned)(y1 - y0 + 1)), m = 1 + rnd(12),
             d = 1 + rnd(28);
    snprintf(out, 11, "%04u-%02u-%02u", y % 10000, m, d);
}

/* A resident identity number with a correct GB 11643-1999 check digit. */
static void make_idnum(char out[19], const char date[11])
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    unsigned seq = rnd(1000);
    int sum = 0;
    memcpy(out, "532327", 6);
    memcpy(out + 6, date, 4);
    memcpy(out + 10, date + 5, 2);
    memcpy(out + 12, date + 8, 2);
    out[14] = (char)('0' + seq / 100);
    out[15] = (char)('0' + seq / 10 % 10);
    out[16] = (char)('0' + seq % 10);
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * w[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = 0;
}

static void make_uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = rnd64(), b = rnd64();
    int n = 0;
    for (int i = 0; i < 32; i++) {
        unsigned d = (unsigned)((i < 16 ? a >> (4 * i) : b >> (4 * (i - 16))) & 15);
        if (i == 12)
            d = 4;
        if (i == 16)
            d = 8 | (d & 3);
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[n++] = '-';
        out[n++] = hex[d];
    }
    out[n] = 0;
}

static void make_pools(void)
{
    for (int i = 0; i < 6; i++) {
        char *p = g.phones[i];
        p[0] = '1';
        p[1] = "3578"[rnd(4)];
        for (int d = 2; d < 11; d++)
            p[d] = (char)('0' + rnd(10));
        p[11] = 0;
        make_date(g.dates[i], 2011, 2012);
        make_date(g.births[i], 1930, 2011);
    }
    for (int i = 0; i < 8; i++) {
        char birth[11];
        make_date(birth, 1930, 1995);
        make_idnum(g.idnums[i], birth);
    }
}

/* A valid value for field f of `type` as replica r knows the world, or NULL
 * when a reference has nothing to point at. */
static cJSON *gen_value(int r, int type, int f)
{
    const fspec *s = &TYPES[type].fields[f];
    switch (s->gen) {
    case G_AREA_NAME:
        return cJSON_CreateString(pick(AREA_NAMES));
    case G_PERSON:
        return cJSON_CreateString(pick(PERSONS));
    case G_ENUM:
        return cJSON_CreateString(pick(s->choices));
    case G_REF: {
        /* actions crowd on a few needs, so that their order matters */
        int k = pick_live(r, s->ref, s->ref == T_NEED);
        return k < 0 ? NULL : cJSON_CreateString(g.recs[k].id);
    }
    case G_IDNUM:
        return cJSON_CreateString(g.idnums[rnd(8)]);
    case G_PHONE:
        return cJSON_CreateString(g.phones[rnd(6)]);
    case G_INT:
        return cJSON_CreateNumber(s->lo + (int)rnd((unsigned)(s->hi - s->lo + 1)));
    case G_DATE:
        return cJSON_CreateString(g.dates[rnd(6)]);
    case G_BIRTH:
        return cJSON_CreateString(g.births[rnd(6)]);
    case G_TAGS: {
        cJSON *a = cJSON_CreateArray();
        unsigned n = rnd(3), first = rnd(4), second = (first + 1 + rnd(3)) % 4;
        const char *t[2] = {TAGS[first], TAGS[second]};
        if (n == 2 && strcmp(t[0], t[1]) > 0) {
            const char *x = t[0];
            t[0] = t[1];
            t[1] = x;
        }
        for (unsigned i = 0; i < n; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(n == 1 ? TAGS[first] : t[i]));
        return a;
    }
    case G_CODE: {
        char code[16];
        snprintf(code, sizeof code, "53232710100%u", 1 + rnd(3));
        return cJSON_CreateString(code);
    }
    case G_UNIT:
        return cJSON_CreateString(pick(UNITS));
    case G_POSITION:
        return cJSON_CreateString(pick(POSITIONS));
    case G_ADDRESS:
        return cJSON_CreateString(pick(ADDRESSES));
    case G_DESC:
        return cJSON_CreateString(pick(DESCRIPTIONS));
    case G_NOTE:
        return cJSON_CreateString(pick(NOTES));
    case G_VNOTES:
        return cJSON_CreateString(pick(VNOTES));
    case G_DECIMAL: {
        static const double amounts[] = {0, 500, 12.5, 2000};
        return cJSON_CreateNumber(amounts[rnd(4)]);
    }
    }
    return NULL;
}

/* ---- local operations ------------------------------------------------------ */

static void expect_no_log(int r, const char *what)
{
    svec log = {0};
    read_log(r, &log);
    if (log.n)
        die("replica %d: %s, yet it logged %zu change(s), first: %.300s", r, what, log.n,
            log.a[0]);
    sv_free(&log);
}

/* Puts `fields` on replica r: creates a record of `type` when k < 0 (with
 * `id`, or a new id when NULL), else patches record k.  Checks rules 5 and 6
 * and the change that the put logged. */
static void local_write(int r, int type, int k, const char *id, cJSON *fields,
                        const char *author)
{
    int expf[MAXF], nexp = 0, wb[MAXF] = {0};
    char *expv[MAXF];
    ivec hb[MAXF];
    cJSON *current = NULL;
    memset(hb, 0, sizeof hb);

    if (k >= 0) {
        int rc;
        char *raw = get_rec(r, g.recs[k].id, &rc);
        if (!raw)
            die("replica %d: get of live %s %s returned %d", r, TYPES[type].name,
                g.recs[k].id, rc);
        current = parse_or_die(raw, "a record");
        free(raw);
    }
    const cJSON *curf = cJSON_GetObjectItemCaseSensitive(current, "fields");
    for (const cJSON *c = fields->child; c; c = c->next) {
        int f = field_index(type, c->string);
        char *given = canon_value(c);
        char *now = canon_value(k >= 0 ? cJSON_GetObjectItemCaseSensitive(curf, c->string)
                                       : NULL);
        if (k < 0 || strcmp(given, now) != 0) {
            expf[nexp] = f;
            expv[nexp++] = given;
            if (k >= 0) {
                heads(r, k, f, &hb[f]);
                wb[f] = winner(r, k, f);
            }
        } else {
            free(given);
        }
        free(now);
    }
    cJSON_Delete(current);

    char *fj = print_or_die(fields);
    char *out_id = NULL;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_put(g.r[r].st, TYPES[type].name, id, fj, author, &out_id, &err);
    if (rc != 0) {
        fail("replica %d: put %s %s %s returned %d (%s): %s", r, TYPES[type].name,
             id ? id : "(new)", fj, rc, mq_strerror(rc), err.message);
        expect_no_log(r, "a put failed");
        goto out;
    }
    const char *rid = k >= 0 ? g.recs[k].id : id;
    if (!out_id || (rid && strcmp(out_id, rid) != 0))
        fail("replica %d: put returned id %s, expected %s", r, out_id ? out_id : "(none)",
             rid ? rid : "a new id");
    svec log = {0};
    read_log(r, &log);
    if (nexp == 0) {
        if (log.n)
            die("replica %d: put %s %s %s changes no value yet logged %.300s (rule 6)", r,
                TYPES[type].name, rid ? rid : "(new)", fj, log.a[0]);
        sv_free(&log);
        goto out;
    }
    if (log.n != 1)
        die("replica %d: put %s %s logged %zu changes, expected 1", r, TYPES[type].name,
            fj, log.n);
    int c = add_local_change(r, log.a[0], k < 0 ? CH_CREATE : CH_EDIT);
    change *C = &g.ch[c];
    if (strcmp(g.recs[C->rec].id, out_id ? out_id : "") != 0)
        fail("replica %d: put returned id %s but logged a change of %s", r, out_id,
             g.recs[C->rec].id);
    for (int i = 0; i < nexp; i++) {
        const char *got = value_of(c, expf[i]);
        if (!got)
            fail("replica %d: put %s: change %s leaves out field %s, whose value changes",
                 r, fj, C->v, TYPES[type].fields[expf[i]].name);
        else if (strcmp(got, expv[i]) != 0)
            fail("replica %d: put %s: change %s sets %s to %s", r, fj, C->v,
                 TYPES[type].fields[expf[i]].name, got);
        /* rule 5: the base names every head the writer saw; in a conflict
         * at least the winner (a plain edit may leave the conflict open) */
        int s = field_slot(c, expf[i]);
        const ivec *h = &hb[expf[i]];
        if (s >= 0 && distinct_values(h, expf[i]) >= 2) {
            int w = wb[expf[i]], named = 0;
            for (size_t x = 0; x < h->n && w >= 0; x++)
                if (g.ch[h->a[x]].clock == g.ch[w].clock && iv_has(&C->base[s], h->a[x]))
                    named = 1;
            if (!named)
                fail("replica %d: edit %s of %s.%s, a field in conflict, leaves the "
                     "winner %s "
                     "out of its base",
                     r, C->v, g.recs[C->rec].id, TYPES[type].fields[expf[i]].name,
                     w >= 0 ? g.ch[w].v : "-");
        } else {
            for (size_t x = 0; s >= 0 && x < h->n; x++)
                if (!iv_has(&C->base[s], h->a[x]))
                    fail("replica %d: change %s of %s.%s leaves out of its base the "
                         "version %s "
                         "that it replaces",
                         r, C->v, g.recs[C->rec].id, TYPES[type].fields[expf[i]].name,
                         g.ch[h->a[x]].v);
        }
    }
    if (C->nf != nexp)
        fail("replica %d: put %s on %s: change %s sets %d fields, expected %d (unchanged "
             "fields must be left out): %s",
             r, fj, g.recs[C->rec].id, C->v, C->nf, nexp, log.a[0]);
    if (author) {
        cJSON *j = parse_or_die(log.a[0], "a change");
        const char *by = str_of(j, "by");
        if (!by || strcmp(by, author) != 0)
            fail("replica %d: put as %s logged change %s with \"by\" %s", r, author, C->v,
                 by ? by : "(none)");
        cJSON_Delete(j);
    }
    sv_free(&log);
out:
    for (int i = 0; i < nexp; i++)
        free(expv[i]);
    for (int f = 0; f < MAXF; f++)
        iv_free(&hb[f]);
    free(fj);
    mq_free(out_id);
}

static const char *maybe_author(int r)
{
    if (!chance(30))
        return NULL;
    int k = pick_live(r, T_CADRE, 0);
    return k >= 0 ? g.recs[k].id : NULL;
}

static void op_create(int r, int type)
{
    cJSON *fields = cJSON_CreateObject();
    const tspec *t = &TYPES[type];
    char idbuf[37];
    for (int f = 0; f < t->nf; f++) {
        const fspec *s = &t->fields[f];
        if (!s->required && !chance(70))
            continue;
        cJSON *v = gen_value(r, type, f);
        if (!v) {
            if (s->required) {
                cJSON_Delete(fields);
                return;
            }
            continue;
        }
        cJSON_AddItemToObject(fields, s->name, v);
    }
    const char *id = NULL;
    if (chance(20)) {
        make_uuid(idbuf);
        id = idbuf;
    }
    local_write(r, type, -1, id, fields, maybe_author(r));
    cJSON_Delete(fields);
}

static int pick_mutable_type(void)
{
    unsigned x = rnd(100);
    return x < 35   ? T_HOUSEHOLD
           : x < 60 ? T_MEMBER
           : x < 80 ? T_NEED
           : x < 90 ? T_CADRE
                    : T_AREA;
}

static void op_edit(int r)
{
    int type = pick_mutable_type(), k = pick_live(r, type, 1);
    if (k < 0)
        return;
    const tspec *t = &TYPES[type];
    cJSON *fields = cJSON_CreateObject();
    unsigned n = 1 + rnd(3);
    for (unsigned i = 0; i < n; i++) {
        int f = (int)rnd((unsigned)t->nf);
        const fspec *s = &t->fields[f];
        if (!s->editable || cJSON_GetObjectItemCaseSensitive(fields, s->name))
            continue;
        cJSON *v = !s->required && chance(6) ? cJSON_CreateNull() : gen_value(r, type, f);
        if (v)
            cJSON_AddItemToObject(fields, s->name, v);
    }
    if (fields->child)
        local_write(r, type, k, g.recs[k].id, fields, maybe_author(r));
    cJSON_Delete(fields);
}

static void op_delete(int r)
{
    unsigned x = rnd(100);
    int type = x < 35   ? T_MEMBER
               : x < 65 ? T_NEED
               : x < 85 ? T_HOUSEHOLD
               : x < 92 ? T_CADRE
                        : T_AREA;
    int k = pick_live(r, type, chance(30));
    if (k < 0)
        return;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_delete(g.r[r].st, g.recs[k].id, maybe_author(r), &err);
    if (rc == MQ_EREFUSED) {
        /* A core may refuse to delete a record that others refer to; that is
         * a policy, not a merge bug, but it must write nothing. */
        if (g.stat_delete_refused++ == 0)
            fprintf(stderr, "note: delete of %s %s refused: %s\n", TYPES[type].name,
                    g.recs[k].id, err.message);
        expect_no_log(r, "a delete was refused");
        return;
    }
    if (rc != 0) {
        fail("replica %d: delete %s %s returned %d: %s", r, TYPES[type].name,
             g.recs[k].id, rc, err.message);
        expect_no_log(r, "a delete failed");
        return;
    }
    svec log = {0};
    read_log(r, &log);
    if (log.n != 1)
        die("replica %d: delete of %s logged %zu changes, expected 1", r, g.recs[k].id,
            log.n);
    int c = add_local_change(r, log.a[0], CH_DELETE);
    if (g.ch[c].rec != k)
        fail("replica %d: delete of %s logged a change of %s", r, g.recs[k].id,
             g.recs[g.ch[c].rec].id);
    g.stat_deletes++;
    sv_free(&log);
}

/* Resolves conflict `cj` (one object of mq_store_conflicts()) on replica r
 * with one of its candidates' values, or now and then a new value. */
static int resolve_one(int r, const cJSON *cj, int fresh)
{
    const char *cid = str_of(cj, "conflict"), *rid = str_of(cj, "id"),
               *field = str_of(cj, "field");
    const cJSON *cands = cJSON_GetObjectItemCaseSensitive(cj, "candidates");
    int k = rid ? sm_get(&g.idmap, rid) : -1;
    if (!cid || k < 0 || !field || !cJSON_IsArray(cands) || !cands->child) {
        char *s = print_or_die(cj);
        fail("replica %d: malformed conflict %s", r, s);
        free(s);
        return -1;
    }
    int type = g.recs[k].type, f = field_index(type, field);
    if (f < 0) {
        fail("replica %d: conflict on unknown field %s.%s", r, TYPES[type].name, field);
        return -1;
    }
    cJSON *value = NULL;
    if (fresh || chance(20))
        value = gen_value(r, type, f);
    if (!value) {
        int n = cJSON_GetArraySize(cands);
        const cJSON *c = cJSON_GetArrayItem(cands, (int)rnd((unsigned)n));
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "value");
        value = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
    }
    char *vj = print_or_die(value), *want = canon_value(value);
    ivec hb = {0};
    heads(r, k, f, &hb);
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_resolve(g.r[r].st, cid, vj, NULL, &err);
    int ref = cJSON_IsString(value) ? sm_get(&g.idmap, value->valuestring) : -1;
    if (rc == MQ_EINVAL && ref >= 0 && deleted_at(r, ref)) {
        /* keeping a reference to a record deleted here may be refused */
        expect_no_log(r, "a resolve keeping a deleted reference was refused");
        rc = 1;
    } else if (rc != 0) {
        fail("replica %d: resolve %s --keep %s returned %d: %s", r, cid, vj, rc,
             err.message);
        expect_no_log(r, "a resolve failed");
    } else if (rc == 0) {
        svec log = {0};
        read_log(r, &log);
        if (log.n != 1)
            die("replica %d: resolve %s logged %zu changes, expected 1", r, cid, log.n);
        int c = add_local_change(r, log.a[0], CH_EDIT);
        const char *got = value_of(c, f);
        if (g.ch[c].rec != k || !got || strcmp(got, want) != 0 || g.ch[c].nf != 1)
            fail("replica %d: resolve %s --keep %s logged %s", r, cid, vj, log.a[0]);
        int s = field_slot(c, f);
        for (size_t h = 0; s >= 0 && h < hb.n; h++)
            if (!iv_has(&g.ch[c].base[s], hb.a[h]))
                fail("replica %d: resolution %s of %s leaves out of its base the "
                     "concurrent "
                     "version %s",
                     r, g.ch[c].v, cid, g.ch[hb.a[h]].v);
        g.stat_resolves++;
        sv_free(&log);
    }
    iv_free(&hb);
    free(vj);
    free(want);
    cJSON_Delete(value);
    return rc;
}

static void op_resolve(int r)
{
    svec cs = {0};
    conflicts_of(r, &cs);
    if (cs.n) {
        cJSON *cj = parse_or_die(cs.a[rnd((unsigned)cs.n)], "a conflict");
        const char *rid = str_of(cj, "id");
        int k = rid ? sm_get(&g.idmap, rid) : -1;
        if (k >= 0 && live_at(r, k))
            resolve_one(r, cj, 0);
        cJSON_Delete(cj);
    }
    sv_free(&cs);
}

/* Imports the same households on two replicas: the same ids created
 * concurrently, equal in most fields and different in a few. */
static void import_on(int r, const char *text, size_t nlines)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    mq_import_opts o;
    mq_import_stats s;
    mq_error err;
    memset(&o, 0, sizeof o);
    memset(&s, 0, sizeof s);
    mq_error_clear(&err);
    if (!in)
        die("fmemopen failed");
    int rc = mq_store_import(g.r[r].st, in, &o, &s, &err);
    fclose(in);
    if (rc != 0)
        die("replica %d: import of %zu valid records returned %d: %s", r, nlines, rc,
            err.message);
    if (s.created != nlines || s.invalid)
        fail("replica %d: import of %zu new records: created %zu, invalid %zu", r, nlines,
             s.created, s.invalid);
    svec log = {0};
    read_log(r, &log);
    if (log.n != nlines)
        die("replica %d: import of %zu records logged %zu changes", r, nlines, log.n);
    for (size_t i = 0; i < log.n; i++)
        add_local_change(r, log.a[i], CH_CREATE);
    sv_free(&log);
}

static void op_import_same(int r1, int r2)
{
    int area = pick_live(r1, T_AREA, 0);
    if (area < 0 || !live_at(r2, area))
        return;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0, n = 3 + rnd(3);
    FILE *f1 = open_memstream(&t1, &l1), *f2 = open_memstream(&t2, &l2);
    for (size_t i = 0; i < n; i++) {
        char id[37];
        make_uuid(id);
        cJSON *rj = cJSON_CreateObject(), *fields = cJSON_CreateObject();
        cJSON_AddStringToObject(rj, "type", "household");
        cJSON_AddStringToObject(rj, "id", id);
        cJSON_AddStringToObject(fields, "area", g.recs[area].id);
        cJSON_AddStringToObject(fields, "head_name", pick(PERSONS));
        cJSON_AddStringToObject(fields, "head_id_number", g.idnums[rnd(8)]);
        cJSON_AddStringToObject(fields, "phone", g.phones[rnd(6)]);
        cJSON_AddNumberToObject(fields, "size", 1 + rnd(6));
        cJSON_AddItemToObject(rj, "fields", fields);
        char *a = print_or_die(rj);
        fprintf(f1, "%s\n", a);
        if (i % 2) {
            cJSON_ReplaceItemInObject(fields, "phone",
                                      cJSON_CreateString(g.phones[rnd(6)]));
            cJSON_ReplaceItemInObject(fields, "size", cJSON_CreateNumber(1 + rnd(6)));
        }
        char *b = print_or_die(rj);
        fprintf(f2, "%s\n", b);
        free(a);
        free(b);
        cJSON_Delete(rj);
    }
    fclose(f1);
    fclose(f2);
    import_on(r1, t1, n);
    import_on(r2, t2, n);
    free(t1);
    free(t2);
}

/* ---- delivering changes --------------------------------------------------- */

/* Applies one change on dst as if it came from src.  Records applied ones
 * in `applied`; `dupcheck` compares the record before and after a
 * duplicate. */
static void deliver_one(int src, int dst, const char *raw, ivec *applied, int dupcheck)
{
    cJSON *j = parse_or_die(raw, "a change");
    const char *v = str_of(j, "v");
    int c = v ? sm_get(&g.vmap, v) : -1;
    if (c < 0)
        die("replica %d handed out a change that no replica wrote: %.300s", src, raw);
    cJSON_Delete(j);
    const char *rid = g.recs[g.ch[c].rec].id;
    int was_seen = seen(c, dst), rc;
    char *before = was_seen && dupcheck ? get_rec(dst, rid, NULL) : NULL;
    char source[16];
    mq_apply_result res = MQ_APPLIED;
    mq_error err;
    mq_error_clear(&err);
    snprintf(source, sizeof source, "r%d", src);
    int64_t now = mq_store_now_ms(g.r[dst].st);
    rc = mq_store_apply_change(g.r[dst].st, raw, source, &res, &err);
    if (rc != 0)
        die("replica %d: apply_change of %s from replica %d returned %d: %s", dst,
            g.ch[c].v, src, rc, err.message);
    switch (res) {
    case MQ_DUPLICATE:
        g.stat_duplicate++;
        if (!was_seen)
            fail("replica %d: change %s (%s of %s, from replica %d) reported "
                 "MQ_DUPLICATE but "
                 "was never applied there",
                 dst, g.ch[c].v, TYPES[g.recs[g.ch[c].rec].type].name, rid, src);
        if (before) {
            char *after = get_rec(dst, rid, NULL);
            if (!after || strcmp(before, after) != 0)
                fail("replica %d: applying %s a second time changed %s\n  before: %s\n  "
                     "after:  %s",
                     dst, g.ch[c].v, rid, before, after ? after : "(gone)");
            free(after);
        }
        break;
    case MQ_APPLIED:
        g.stat_applied++;
        if (was_seen)
            die("replica %d: change %s applied a second time (MQ_APPLIED, expected "
                "MQ_DUPLICATE)",
                dst, g.ch[c].v);
        g.ch[c].seen[dst] = 1;
        g.ch[c].seen_at[dst] = now;
        g.ch[c].from[dst] = (short)src;
        if (g.ch[c].clock > g.r[dst].maxclock)
            g.r[dst].maxclock = g.ch[c].clock;
        iv_push(applied, c);
        break;
    case MQ_REJECTED:
        g.stat_rejected++;
        fail("replica %d rejected change %s (%s %s of %s, written on replica %d, from "
             "replica %d): %s (rule 4)",
             dst, g.ch[c].v,
             g.ch[c].kind == CH_CREATE   ? "creation"
             : g.ch[c].kind == CH_DELETE ? "delete"
                                         : "edit",
             TYPES[g.recs[g.ch[c].rec].type].name, rid, g.ch[c].origin, src, err.message);
        break;
    default:
        die("replica %d: apply_change gave result %d", dst, (int)res);
    }
    free(before);
}

/* Checks that dst logged exactly `applied`, in that order. */
static void expect_logged(int dst, const ivec *applied, const char *how)
{
    svec log = {0};
    read_log(dst, &log);
    int ok = log.n == applied->n;
    for (size_t i = 0; ok && i < log.n; i++) {
        cJSON *j = parse_or_die(log.a[i], "a change");
        const char *v = str_of(j, "v");
        ok = v && !strcmp(v, g.ch[applied->a[i]].v);
        cJSON_Delete(j);
    }
    if (!ok)
        die("replica %d: after %s it logged %zu new changes, expected the %zu applied "
            "ones "
            "(first logged: %.200s)",
            dst, how, log.n, applied->n, log.n ? log.a[0] : "-");
    sv_free(&log);
}

static void begin_or_die(int r)
{
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_begin(g.r[r].st, &err);
    if (rc != 0)
        die("replica %d: mq_store_begin returned %d: %s", r, rc, err.message);
}

static void commit_or_die(int r)
{
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_commit(g.r[r].st, &err);
    if (rc != 0)
        die("replica %d: mq_store_commit returned %d: %s", r, rc, err.message);
}

static unsigned long deliver_list(int src, int dst, char **list, size_t n, int txn,
                                  int dupcheck_pct)
{
    ivec applied = {0};
    if (txn)
        begin_or_die(dst);
    for (size_t i = 0; i < n; i++)
        deliver_one(src, dst, list[i], &applied, chance((unsigned)dupcheck_pct));
    if (txn)
        commit_or_die(dst);
    expect_logged(dst, &applied, "applying changes");
    unsigned long napplied = applied.n;
    iv_free(&applied);
    return napplied;
}

/* A transaction of applies that is rolled back must leave no trace; the same
 * changes applied again afterwards are new. */
static void deliver_rolled_back(int src, int dst, char **list, size_t n)
{
    ivec applied = {0};
    uint64_t maxclock = g.r[dst].maxclock;
    char *before = export_text(dst, NULL);
    svec cb = {0};
    conflicts_of(dst, &cb);
    begin_or_die(dst);
    for (size_t i = 0; i < n; i++)
        deliver_one(src, dst, list[i], &applied, 0);
    mq_store_rollback(g.r[dst].st);
    for (size_t i = 0; i < applied.n; i++) {
        g.ch[applied.a[i]].seen[dst] = 0;
        g.ch[applied.a[i]].from[dst] = -3;
    }
    g.r[dst].maxclock = maxclock;
    ivec none = {0};
    expect_logged(dst, &none, "a rolled back transaction");
    char *after = export_text(dst, NULL);
    if (strcmp(before, after) != 0)
        fail("replica %d: a rolled back transaction of %zu applies changed the export",
             dst, applied.n);
    svec ca = {0};
    conflicts_of(dst, &ca);
    int same = ca.n == cb.n;
    for (size_t i = 0; same && i < ca.n; i++)
        same = !strcmp(ca.a[i], cb.a[i]);
    if (!same)
        fail("replica %d: a rolled back transaction of %zu applies changed the conflicts",
             dst, applied.n);
    sv_free(&ca);
    sv_free(&cb);
    free(before);
    free(after);
    iv_free(&applied);
    g.stat_rollbacks++;
    deliver_list(src, dst, list, n, 0, 10);
}

static void shuffle(char **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd((unsigned)i);
        char *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* Reads src's changes since `since` in pages of `limit` and checks that the
 * pages add up to the unpaged walk. */
static void read_paged(int src, int64_t since, size_t limit, svec *out, int64_t *next)
{
    svec all = {0};
    int64_t all_next, cur = since;
    read_changes(src, since, 0, NULL, &all, &all_next);
    for (;;) {
        svec page = {0};
        int64_t nx;
        read_changes(src, cur, limit, NULL, &page, &nx);
        if (page.n > limit)
            fail("replica %d: changes with limit %zu returned %zu", src, limit, page.n);
        for (size_t i = 0; i < page.n; i++)
            sv_push(out, page.a[i]);
        size_t got = page.n;
        free(page.a);
        if (!got)
            break;
        if (nx <= cur)
            die("replica %d: paged changes did not advance the cursor (%" PRId64 ")", src,
                cur);
        cur = nx;
        if (out->n > all.n + limit)
            break;
    }
    int same = out->n == all.n;
    for (size_t i = 0; same && i < all.n; i++)
        same = !strcmp(out->a[i], all.a[i]);
    if (!same)
        fail("replica %d: changes since %" PRId64 " in pages of %zu give %zu changes, "
             "unpaged %zu (or a different order)",
             src, since, limit, out->n, all.n);
    *next = out->n ? cur : all_next;
    sv_free(&all);
}

static void exchange_incremental(int src, int dst)
{
    svec l = {0};
    int64_t next;
    if (chance(30))
        read_paged(src, g.r[dst].cursor[src], 1 + rnd(20), &l, &next);
    else
        read_changes(src, g.r[dst].cursor[src], 0, NULL, &l, &next);
    deliver_list(src, dst, l.a, l.n, chance(50), 20);
    if (l.n)
        g.r[dst].cursor[src] = next;
    sv_free(&l);
}

static void exchange_chaos(int src, int dst, int rollback)
{
    replica *S = &g.r[src];
    int64_t since =
        chance(30) || !S->npast ? 0 : S->past[rnd(S->npast < 16 ? S->npast : 16)];
    svec l = {0}, sub = {0};
    read_changes(src, since, 0, NULL, &l, NULL);
    unsigned keep = 20 + rnd(81);
    for (size_t i = 0; i < l.n && sub.n < 300; i++) {
        if (!chance(keep))
            continue;
        sv_push(&sub, xstrdup(l.a[i]));
        if (chance(10))
            sv_push(&sub, xstrdup(l.a[i]));
    }
    shuffle(sub.a, sub.n);
    if (rollback)
        deliver_rolled_back(src, dst, sub.a, sub.n);
    else
        deliver_list(src, dst, sub.a, sub.n, chance(30), 20);
    sv_free(&l);
    sv_free(&sub);
}

static char *make_bad_change(int r, char v[64]);

static int rejected_cb(void *ctx, const char *json)
{
    sv_push(ctx, xstrdup(json));
    return 0;
}

/* Applies bundle text on dst. */
static int apply_bundle_text(int dst, const char *text, int skip_invalid,
                             mq_apply_stats *st, mq_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f)
        die("fmemopen failed");
    memset(st, 0, sizeof *st);
    mq_error_clear(err);
    mq_apply_opts opts = {skip_invalid, NULL, NULL, NULL};
    int rc = mq_store_apply_bundle(g.r[dst].st, f, &opts, st, err);
    fclose(f);
    return rc;
}

/* Delivers src's changes since dst's cursor as a bundle.  With `bad`, one
 * invalid change is slipped in: the bundle must then be refused whole, and
 * with skip_invalid apply all but that change, which must be kept in the
 * rejected list with its reason (no silent loss). */
static void exchange_bundle(int src, int dst, int bad)
{
    mq_changes_query q;
    mq_apply_stats st;
    mq_error err;
    int64_t next = 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        die("open_memstream failed");
    memset(&q, 0, sizeof q);
    q.since = g.r[dst].cursor[src];
    mq_error_clear(&err);
    int rc = mq_store_write_bundle(g.r[src].st, &q, f, &next, &err);
    fclose(f);
    if (rc != 0)
        die("replica %d: write_bundle returned %d: %s", src, rc, err.message);

    svec out = {0};
    ivec fresh = {0};
    unsigned long dups = 0;
    size_t nchanges = 0;
    char badv[64] = "", *badc = bad ? make_bad_change(dst, badv) : NULL;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char *line = xmalloc(n + 1);
        memcpy(line, p, n);
        line[n] = 0;
        p += n + (e != NULL);
        if (!n) {
            free(line);
            continue;
        }
        cJSON *j = parse_or_die(line, "a bundle line");
        const char *v = str_of(j, "v");
        if (!v && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "end"))) {
            /* the trailer counts the changes: count the slipped-in one too */
            cJSON *cnt = cJSON_GetObjectItemCaseSensitive(j, "changes");
            if (badc && cnt && cJSON_IsNumber(cnt)) {
                cJSON_SetNumberValue(cnt, cnt->valuedouble + 1);
                free(line);
                line = print_or_die(j);
            }
            if (badc && !nchanges)
                sv_push(&out, xstrdup(badc));
        } else if (v) {
            int c = sm_get(&g.vmap, v);
            if (c < 0)
                die("replica %d wrote a bundle line that is no known change: %.300s", src,
                    line);
            if (seen(c, dst) || iv_has(&fresh, c))
                dups++;
            else
                iv_push(&fresh, c);
            if (badc && nchanges++ == 0)
                sv_push(&out, xstrdup(badc));
        }
        sv_push(&out, line);
        cJSON_Delete(j);
    }
    free(text);
    size_t total = 1;
    for (size_t i = 0; i < out.n; i++)
        total += strlen(out.a[i]) + 1;
    char *bundle = xmalloc(total), *w = bundle;
    for (size_t i = 0; i < out.n; i++) {
        size_t n = strlen(out.a[i]);
        memcpy(w, out.a[i], n);
        w[n] = '\n';
        w += n + 1;
    }
    *w = 0;
    sv_free(&out);
    g.stat_bundles++;

    svec rej0 = {0};
    if (badc) {
        /* all or nothing: the bad change spoils the bundle */
        rc = apply_bundle_text(dst, bundle, 0, &st, &err);
        if (rc == 0)
            die("replica %d: a bundle holding an invalid change (%s) was applied whole",
                dst, badv);
        if (rc != MQ_EINVAL)
            fail("replica %d: apply_bundle of a bundle with an invalid change returned "
                 "%d, "
                 "expected MQ_EINVAL: %s",
                 dst, rc, err.message);
        ivec none = {0};
        expect_logged(dst, &none, "a refused bundle");
        mq_error_clear(&err);
        if (mq_store_rejected(g.r[dst].st, rejected_cb, &rej0, &err) != 0)
            die("replica %d: mq_store_rejected failed: %s", dst, err.message);
    }
    int64_t now = mq_store_now_ms(g.r[dst].st);
    rc = apply_bundle_text(dst, bundle, badc != NULL, &st, &err);
    free(bundle);
    if (rc != 0) {
        fail("replica %d: apply_bundle%s of a bundle from replica %d (%zu changes) "
             "returned %d: %s",
             dst, badc ? " --skip-invalid" : "", src, fresh.n + (size_t)dups, rc,
             err.message);
        ivec none = {0};
        expect_logged(dst, &none, "a failed apply_bundle");
        iv_free(&fresh);
        free(badc);
        sv_free(&rej0);
        return;
    }
    if (st.applied != fresh.n || st.duplicate != dups || st.rejected != (badc != NULL))
        fail("replica %d: apply_bundle counted %zu applied, %zu duplicate, %zu rejected; "
             "expected %zu, %lu, %d",
             dst, st.applied, st.duplicate, st.rejected, fresh.n, dups, badc != NULL);
    for (size_t i = 0; i < fresh.n; i++) {
        change *C = &g.ch[fresh.a[i]];
        C->seen[dst] = 1;
        C->seen_at[dst] = now;
        C->from[dst] = -2;
        if (C->clock > g.r[dst].maxclock)
            g.r[dst].maxclock = C->clock;
    }
    g.stat_applied += fresh.n;
    g.stat_duplicate += dups;
    /* the log must hold the fresh ones, in any order */
    svec log = {0};
    read_log(dst, &log);
    int ok = log.n == fresh.n;
    for (size_t i = 0; ok && i < log.n; i++) {
        cJSON *j = parse_or_die(log.a[i], "a change");
        const char *v = str_of(j, "v");
        ok = v && iv_has(&fresh, sm_get(&g.vmap, v));
        cJSON_Delete(j);
    }
    if (!ok)
        die("replica %d: after apply_bundle it logged %zu changes, expected the %zu new "
            "ones",
            dst, log.n, fresh.n);
    sv_free(&log);
    if (badc) {
        /* the invalid change is kept, with a reason that names the field */
        svec rej = {0};
        int found = 0;
        mq_error_clear(&err);
        if (mq_store_rejected(g.r[dst].st, rejected_cb, &rej, &err) != 0)
            die("replica %d: mq_store_rejected failed: %s", dst, err.message);
        for (size_t i = 0; i < rej.n; i++) {
            cJSON *j = parse_or_die(rej.a[i], "a rejected change");
            const cJSON *ch = cJSON_GetObjectItemCaseSensitive(j, "change");
            const char *v = str_of(ch, "v"), *reason = str_of(j, "reason");
            if (v && !strcmp(v, badv)) {
                found++;
                if (!reason || !strstr(reason, "head_id_number"))
                    fail("replica %d: rejected change %s is kept with reason \"%s\", "
                         "which "
                         "does not name head_id_number",
                         dst, badv, reason ? reason : "(none)");
            }
            cJSON_Delete(j);
        }
        if (found != 1 || rej.n != rej0.n + 1)
            fail("replica %d: after apply_bundle --skip-invalid the rejected list holds "
                 "the "
                 "invalid change %d time(s) and grew from %zu to %zu entries",
                 dst, found, rej0.n, rej.n);
        sv_free(&rej);
    }
    if (next > g.r[dst].cursor[src])
        g.r[dst].cursor[src] = next;
    iv_free(&fresh);
    free(badc);
    sv_free(&rej0);
}

/* Every change a replica has, handed back to it, is a duplicate. */
static void exchange_echo(int r)
{
    svec l = {0};
    read_changes(r, 0, 0, NULL, &l, NULL);
    svec sub = {0};
    for (size_t i = 0; i < l.n && sub.n < 50; i++)
        if (chance(10))
            sv_push(&sub, xstrdup(l.a[i]));
    ivec applied = {0};
    for (size_t i = 0; i < sub.n; i++)
        deliver_one(r, r, sub.a[i], &applied, 1);
    if (applied.n)
        die("replica %d applied its own change %s again", r, g.ch[applied.a[0]].v);
    expect_logged(r, &applied, "applying its own changes");
    iv_free(&applied);
    sv_free(&l);
    sv_free(&sub);
}

static void op_exchange(void)
{
    int src = (int)rnd((unsigned)g.nr), dst = (int)rnd((unsigned)g.nr - 1);
    if (dst >= src)
        dst++;
    unsigned mode = rnd(100);
    g.stat_exchanges++;
    if (mode < 40)
        exchange_incremental(src, dst);
    else if (mode < 50)
        exchange_bundle(src, dst, 0);
    else if (mode < 55)
        exchange_bundle(src, dst, 1);
    else if (mode < 90)
        exchange_chaos(src, dst, 0);
    else if (mode < 96)
        exchange_chaos(src, dst, 1);
    else
        exchange_echo(src);
}

/* ---- probes: what must be refused ----------------------------------------- */

static void expect_refused(int r, int rc, int want, const mq_error *err, const char *what,
                           const char *must_name)
{
    if (rc == 0)
        die("replica %d: %s was accepted", r, what);
    if (want && rc != want)
        fail("replica %d: %s returned %d (%s), expected %d (%s)", r, what, rc,
             mq_strerror(rc), want, mq_strerror(want));
    if (must_name && !strstr(err->message, must_name))
        fail("replica %d: %s: the message does not name %s: \"%s\"", r, what, must_name,
             err->message);
    expect_no_log(r, what);
}

static void probe_put(int r, const char *type, const char *id, const char *fields,
                      int want, const char *what, const char *must_name)
{
    mq_error err;
    char *out = NULL;
    mq_error_clear(&err);
    int rc = mq_store_put(g.r[r].st, type, id, fields, NULL, &out, &err);
    mq_free(out);
    expect_refused(r, rc, want, &err, what, must_name);
}

static void on_invalid(void *ctx, const char *message)
{
    sv_push(ctx, xstrdup(message));
}

static void probe_import_all_or_nothing(int r)
{
    int area = pick_live(r, T_AREA, 0);
    if (area < 0)
        return;
    char ids[3][37], text[2048], bad[19];
    size_t n = 0;
    memcpy(bad, g.idnums[0], sizeof bad);
    bad[17] = bad[17] == '0' ? '1' : '0';
    for (int i = 0; i < 3; i++) {
        make_uuid(ids[i]);
        n += (size_t)snprintf(
            text + n, sizeof text - n,
            "{\"type\":\"household\",\"id\":\"%s\",\"fields\":{\"area\":\"%s\","
            "\"head_name\":\"李春\",\"head_id_number\":\"%s\"}}\n",
            ids[i], g.recs[area].id, i == 2 ? bad : g.idnums[i]);
    }
    FILE *in = fmemopen(text, n, "r");
    mq_import_opts o;
    mq_import_stats s;
    mq_error err;
    svec msgs = {0};
    memset(&o, 0, sizeof o);
    memset(&s, 0, sizeof s);
    o.on_invalid = on_invalid;
    o.ctx = &msgs;
    mq_error_clear(&err);
    int rc = mq_store_import(g.r[r].st, in, &o, &s, &err);
    fclose(in);
    expect_refused(r, rc, MQ_EINVAL, &err, "an import whose third record is invalid",
                   NULL);
    /* the invalid record is reported with its line and field */
    if (msgs.n != 1 || !strstr(msgs.a[0], "head_id_number") || !strstr(msgs.a[0], "3"))
        fail("replica %d: an import with one invalid record (line 3, head_id_number) "
             "reported "
             "%zu invalid record(s)%s%s",
             r, msgs.n, msgs.n ? ", first: " : "", msgs.n ? msgs.a[0] : "");
    sv_free(&msgs);
    for (int i = 0; i < 2; i++) {
        int grc;
        char *got = get_rec(r, ids[i], &grc);
        if (got || grc != MQ_ENOTFOUND)
            fail("replica %d: a refused import stored %s (get returned %d)", r, ids[i],
                 grc);
        free(got);
    }
}

/* A change from another replica with an invalid value must be rejected, not
 * merged. */
/* A household creation from a made-up site whose identity number has a
 * wrong check digit; its version in `v`.  The caller frees it. */
static char *make_bad_change(int r, char v[64])
{
    char id[37], bad[19];
    int area = pick_live(r, T_AREA, 0);
    make_uuid(id);
    memcpy(bad, g.idnums[1], sizeof bad);
    bad[17] = bad[17] == '1' ? '2' : '1';
    snprintf(v, 64, "%016" PRIx64 "-fake%u", g.r[r].maxclock + 1, g.fake++);
    cJSON *c = cJSON_CreateObject(), *set = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "v", v);
    cJSON_AddStringToObject(c, "type", "household");
    cJSON_AddStringToObject(c, "id", id);
    cJSON_AddStringToObject(set, "area", area >= 0 ? g.recs[area].id : id);
    cJSON_AddStringToObject(set, "head_name", "坏校验");
    cJSON_AddStringToObject(set, "head_id_number", bad);
    cJSON_AddItemToObject(c, "set", set);
    char *raw = print_or_die(c);
    cJSON_Delete(c);
    return raw;
}

static void probe_invalid_remote(int r)
{
    char v[64];
    char *raw = make_bad_change(r, v);
    mq_apply_result res = MQ_APPLIED;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_apply_change(g.r[r].st, raw, "probe", &res, &err);
    if (rc == 0 && res != MQ_REJECTED)
        die("replica %d: a change with an invalid identity number was %s: %s", r,
            res == MQ_APPLIED ? "applied" : "called a duplicate", raw);
    if (rc != 0 && rc != MQ_EINVAL)
        fail("replica %d: apply_change of an invalid change returned %d: %s", r, rc,
             err.message);
    if (!strstr(err.message, "head_id_number"))
        fail("replica %d: rejecting %s: the reason does not name head_id_number: \"%s\"",
             r, v, err.message);
    expect_no_log(r, "an invalid remote change was rejected");
    free(raw);
    /* and a change that is not a change at all */
    mq_error_clear(&err);
    res = MQ_APPLIED;
    rc = mq_store_apply_change(g.r[r].st, "{\"v\":17,\"set\":[]}", "probe", &res, &err);
    if (rc == 0 && res != MQ_REJECTED)
        die("replica %d: a malformed change was %s", r,
            res == MQ_APPLIED ? "applied" : "called a duplicate");
    expect_no_log(r, "a malformed change was rejected");
}

static void op_probe(int r)
{
    char fields[512];
    g.stat_probes++;
    switch (rnd(7)) {
    case 0: {
        int k = pick_live(r, chance(50) ? T_NEED_ACTION : T_VISIT, 0);
        if (k < 0)
            return;
        /* a date no generated record carries: a real edit, not a no-op
         * (a put that changes nothing is accepted, as a re-import must be) */
        probe_put(r, TYPES[g.recs[k].type].name, g.recs[k].id, "{\"at\":\"2010-06-15\"}",
                  MQ_EREFUSED, "an edit of a log record", NULL);
        mq_error err;
        mq_error_clear(&err);
        int rc = mq_store_delete(g.r[r].st, g.recs[k].id, NULL, &err);
        expect_refused(r, rc, 0, &err, "a delete of a log record", NULL);
        break;
    }
    case 1: {
        int k = pick_live(r, T_HOUSEHOLD, 0);
        if (k < 0)
            return;
        char bad[19];
        memcpy(bad, g.idnums[rnd(8)], sizeof bad);
        bad[17] = bad[17] == 'X' ? '0' : bad[17] == '9' ? 'X' : (char)(bad[17] + 1);
        snprintf(fields, sizeof fields, "{\"head_id_number\":\"%s\"}", bad);
        char *before = get_rec(r, g.recs[k].id, NULL);
        probe_put(r, "household", g.recs[k].id, fields, MQ_EINVAL,
                  "a household edit with a wrong check digit", "head_id_number");
        char *after = get_rec(r, g.recs[k].id, NULL);
        if (!before || !after || strcmp(before, after) != 0)
            fail("replica %d: a refused put changed %s", r, g.recs[k].id);
        free(before);
        free(after);
        break;
    }
    case 2:
        probe_put(
            r, "member", NULL,
            "{\"household\":\"00000000-0000-4000-8000-000000000000\",\"name\":\"孤儿\"}",
            MQ_EINVAL, "a member of a household that does not exist", "household");
        break;
    case 3: {
        int k = pick_live(r, T_MEMBER, 0);
        if (k < 0)
            return;
        probe_put(r, "member", g.recs[k].id, "{\"birth_date\":\"2011-02-29\"}", MQ_EINVAL,
                  "a member born on 2011-02-29", "birth_date");
        probe_put(r, "member", g.recs[k].id, "{\"nickname\":\"x\"}", MQ_EINVAL,
                  "a member with an unknown field", "nickname");
        break;
    }
    case 4:
        probe_import_all_or_nothing(r);
        break;
    case 5:
        probe_invalid_remote(r);
        break;
    default:
        exchange_echo(r);
        break;
    }
}

/* ---- checking a replica against the model --------------------------------- */

static void check_records(int r)
{
    for (size_t k = 0; k < g.nrec; k++) {
        if (!created_at(r, (int)k))
            continue;
        rec *K = &g.recs[k];
        int rc;
        char *raw = get_rec(r, K->id, &rc);
        if (!raw) {
            fail("replica %d: get %s %s returned %d, the record exists there", r,
                 TYPES[K->type].name, K->id, rc);
            continue;
        }
        cJSON *j = parse_or_die(raw, "a record");
        const char *type = str_of(j, "type"), *id = str_of(j, "id");
        if (!type || strcmp(type, TYPES[K->type].name) != 0 || !id ||
            strcmp(id, K->id) != 0)
            fail("replica %d: get %s returned %.200s", r, K->id, raw);
        int del = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "deleted"));
        if (del != deleted_at(r, (int)k))
            fail("replica %d: %s %s is %s, expected %s (rule 3): %.300s", r,
                 TYPES[K->type].name, K->id, del ? "a tombstone" : "live",
                 del ? "live" : "a tombstone", raw);
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
        if (!del && !cJSON_IsObject(fields)) {
            fail("replica %d: get %s has no fields: %.300s", r, K->id, raw);
        } else if (!del) {
            for (const cJSON *c = fields->child; c; c = c->next)
                if (field_index(K->type, c->string) < 0)
                    fail("replica %d: %s has unknown field %s", r, K->id, c->string);
            for (int f = 0; f < TYPES[K->type].nf; f++) {
                const char *name = TYPES[K->type].fields[f].name;
                char *got = canon_value(cJSON_GetObjectItemCaseSensitive(fields, name));
                if (!value_allowed(r, (int)k, f, got)) {
                    int w = winner(r, (int)k, f);
                    fail("replica %d: %s %s field %s is %s, expected %s from version %s "
                         "(rule "
                         "1; %zu version(s) of the field, record has %zu changes)",
                         r, TYPES[K->type].name, K->id, name, got,
                         w >= 0 ? value_of(w, f) : "null", w >= 0 ? g.ch[w].v : "-",
                         K->fv[f].n, K->all.n);
                }
                free(got);
            }
        }
        cJSON_Delete(j);
        free(raw);
    }
}

static void check_conflicts(int r)
{
    svec cs = {0};
    unsigned char *listed = calloc(g.nrec * MAXF + 1, 1);
    if (!listed)
        abort();
    conflicts_of(r, &cs);
    if (cs.n > g.stat_max_conflicts)
        g.stat_max_conflicts = cs.n;
    for (size_t i = 0; i < cs.n; i++) {
        cJSON *cj = parse_or_die(cs.a[i], "a conflict");
        const char *rid = str_of(cj, "id"), *field = str_of(cj, "field"),
                   *cid = str_of(cj, "conflict");
        int k = rid ? sm_get(&g.idmap, rid) : -1;
        int f = k >= 0 && field ? field_index(g.recs[k].type, field) : -1;
        if (k < 0 || f < 0 || !cid) {
            fail("replica %d: conflict on an unknown record or field: %s", r, cs.a[i]);
            cJSON_Delete(cj);
            continue;
        }
        if (listed[(size_t)k * MAXF + (size_t)f]++)
            fail("replica %d: conflict %s listed twice", r, cid);
        if (!live_at(r, k)) {
            cJSON_Delete(cj);
            continue;
        }
        ivec hs = {0};
        heads(r, k, f, &hs);
        if (distinct_values(&hs, f) < 2) {
            fail("replica %d: conflict %s listed, but the field has %zu concurrent "
                 "version(s) "
                 "with %zu distinct value(s) (rule 2): %s",
                 r, cid, hs.n, distinct_values(&hs, f), cs.a[i]);
        } else {
            char *val = canon_value(cJSON_GetObjectItemCaseSensitive(cj, "value"));
            if (!value_allowed(r, k, f, val))
                fail("replica %d: conflict %s shows winner %s, expected %s", r, cid, val,
                     value_of(winner(r, k, f), f));
            free(val);
            const cJSON *cands = cJSON_GetObjectItemCaseSensitive(cj, "candidates");
            /* every concurrent value is a candidate, and every candidate is one */
            for (size_t h = 0; h < hs.n; h++) {
                int found = 0;
                for (const cJSON *c = cands ? cands->child : NULL; c && !found;
                     c = c->next) {
                    char *cv = canon_value(cJSON_GetObjectItemCaseSensitive(c, "value"));
                    found = !strcmp(cv, value_of(hs.a[h], f));
                    free(cv);
                }
                if (!found)
                    fail("replica %d: conflict %s lacks the candidate %s of version %s",
                         r, cid, value_of(hs.a[h], f), g.ch[hs.a[h]].v);
            }
            for (const cJSON *c = cands ? cands->child : NULL; c; c = c->next) {
                const char *cv = str_of(c, "v");
                int cc = cv ? sm_get(&g.vmap, cv) : -1;
                if (cc < 0 || !iv_has(&hs, cc))
                    fail("replica %d: conflict %s has candidate %s, which is not a "
                         "concurrent "
                         "version of the field",
                         r, cid, cv ? cv : "(no v)");
            }
        }
        iv_free(&hs);
        cJSON_Delete(cj);
    }
    for (size_t k = 0; k < g.nrec; k++) {
        if (TYPES[g.recs[k].type].log || !live_at(r, (int)k))
            continue;
        for (int f = 0; f < TYPES[g.recs[k].type].nf; f++) {
            if (g.recs[k].fv[f].n < 2 || listed[k * MAXF + (size_t)f])
                continue;
            ivec hs = {0};
            heads(r, (int)k, f, &hs);
            g.stat_conflict_checks++;
            if (distinct_values(&hs, f) >= 2) {
                char desc[512];
                size_t n = 0;
                for (size_t h = 0; h < hs.n && n < sizeof desc - 100; h++)
                    n += (size_t)snprintf(desc + n, sizeof desc - n, " %s=%s",
                                          g.ch[hs.a[h]].v, value_of(hs.a[h], f));
                fail("replica %d: no conflict listed for %s %s field %s, which has "
                     "concurrent "
                     "versions with different values:%s (rule 2)",
                     r, TYPES[g.recs[k].type].name, g.recs[k].id,
                     TYPES[g.recs[k].type].fields[f].name, desc);
            }
            iv_free(&hs);
        }
    }
    free(listed);
    sv_free(&cs);
}

/* list and search against the model */
static int list_cb_count(void *ctx, const char *json)
{
    (void)json;
    ++*(size_t *)ctx;
    return 0;
}

/*
 * A record counts as present once any change of it has arrived: changes
 * travel in any order, and an edit that arrives before the record's
 * creation already makes the record (with the fields it sets) readable.
 */
static int present_at(int r, int k)
{
    if (deleted_at(r, k))
        return 0;
    if (created_at(r, k))
        return 1;
    for (int f = 0; f < MAXF; f++)
        for (size_t i = 0; i < g.recs[k].fv[f].n; i++)
            if (seen(g.recs[k].fv[f].a[i], r))
                return 1;
    return 0;
}

static void check_list_search(int r)
{
    const char *name = pick(PERSONS);
    char cond_value[64];
    snprintf(cond_value, sizeof cond_value, "%s", name);
    mq_where w = {"head_name", cond_value};
    svec got = {0};
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_list(g.r[r].st, "household", &w, 1, collect_cb, &got, &err);
    if (rc != 0)
        die("replica %d: list household --where head_name=%s returned %d: %s", r, name,
            rc, err.message);
    cJSON *tmp = cJSON_CreateString(name);
    char *want = canon_value(tmp);
    cJSON_Delete(tmp);
    size_t expected = 0;
    for (size_t k = 0; k < g.nrec; k++) {
        if (g.recs[k].type != T_HOUSEHOLD || !present_at(r, (int)k))
            continue;
        int f = field_index(T_HOUSEHOLD, "head_name");
        expected += value_allowed(r, (int)k, f, want) ? 1 : 0;
    }
    for (size_t i = 0; i < got.n; i++) {
        cJSON *j = parse_or_die(got.a[i], "a listed record");
        const char *id = str_of(j, "id");
        int k = id ? sm_get(&g.idmap, id) : -1;
        const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
        const char *hn = str_of(fields, "head_name");
        if (k < 0 || !present_at(r, k) || !hn || strcmp(hn, name) != 0)
            fail("replica %d: list household --where head_name=%s returned %.200s", r,
                 name, got.a[i]);
        cJSON_Delete(j);
    }
    if (got.n != expected)
        fail("replica %d: list household --where head_name=%s returned %zu records, "
             "expected "
             "%zu",
             r, name, got.n, expected);
    free(want);
    sv_free(&got);

    /* search: a two-character name, as a substring of every searchable name */
    const char *text = "李春";
    size_t n = 0;
    mq_error_clear(&err);
    rc = mq_store_search(g.r[r].st, text, list_cb_count, &n, &err);
    if (rc != 0)
        die("replica %d: search %s returned %d: %s", r, text, rc, err.message);
    size_t exp = 0;
    cJSON *t = cJSON_CreateString(text);
    char *tc = canon_value(t);
    cJSON_Delete(t);
    for (size_t k = 0; k < g.nrec; k++) {
        int type = g.recs[k].type;
        if ((type != T_HOUSEHOLD && type != T_MEMBER && type != T_CADRE) ||
            !present_at(r, (int)k))
            continue;
        int f = field_index(type, type == T_HOUSEHOLD ? "head_name" : "name");
        /* "李春" is a whole name of the pool and no other name contains it */
        exp += value_allowed(r, (int)k, f, tc) ? 1 : 0;
    }
    free(tc);
    if (n != exp)
        fail("replica %d: search %s found %zu records, expected %zu", r, text, n, exp);
}

static void problem_cb(void *ctx, const char *problem)
{
    int r = *(int *)ctx;
    fail("replica %d: check: %s", r, problem);
}

static void check_store(int r)
{
    size_t problems = 0;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_check(g.r[r].st, problem_cb, &r, &problems, &err);
    if (rc != 0 || problems)
        fail("replica %d: mq_store_check returned %d with %zu problem(s) %s", r, rc,
             problems, err.message);
}

/* changes(skip_source = "rK") leaves out exactly what arrived from K */
static void check_skip_source(int r)
{
    int k = (int)rnd((unsigned)g.nr);
    char src[16];
    svec all = {0}, some = {0};
    snprintf(src, sizeof src, "r%d", k);
    read_changes(r, 0, 0, NULL, &all, NULL);
    read_changes(r, 0, 0, src, &some, NULL);
    size_t j = 0;
    for (size_t i = 0; i < all.n; i++) {
        cJSON *cj = parse_or_die(all.a[i], "a change");
        int c = sm_get(&g.vmap, str_of(cj, "v") ? str_of(cj, "v") : "");
        cJSON_Delete(cj);
        if (c < 0)
            die("replica %d logged unknown change %.200s", r, all.a[i]);
        int from = g.ch[c].from[r];
        int in_some = j < some.n && !strcmp(some.a[j], all.a[i]);
        if (from == k && in_some)
            fail("replica %d: changes --skip-source %s includes %s, which arrived from "
                 "there",
                 r, src, g.ch[c].v);
        else if (from != k && from != -2 && !in_some)
            fail("replica %d: changes --skip-source %s leaves out %s (arrived from %d)",
                 r, src, g.ch[c].v, from);
        if (in_some)
            j++;
    }
    if (j != some.n)
        fail("replica %d: changes --skip-source %s returned changes out of order or "
             "unknown",
             r, src);
    sv_free(&all);
    sv_free(&some);
}

static void checkpoint(int full)
{
    for (int r = 0; r < g.nr; r++) {
        check_records(r);
        check_conflicts(r);
        check_list_search(r);
        check_skip_source(r);
        if (full)
            check_store(r);
    }
}

/* ---- the end: deliver everything, compare everything ---------------------- */

static unsigned long sync_round(int from_zero)
{
    unsigned long applied = 0;
    for (int dst = 0; dst < g.nr; dst++)
        for (int src = 0; src < g.nr; src++) {
            if (src == dst)
                continue;
            svec l = {0};
            int64_t next;
            read_changes(src, from_zero ? 0 : g.r[dst].cursor[src], 0, NULL, &l, &next);
            applied += deliver_list(src, dst, l.a, l.n, 1, 2);
            if (l.n)
                g.r[dst].cursor[src] = next;
            sv_free(&l);
        }
    return applied;
}

static void sync_all(void)
{
    int round = 0;
    unsigned long applied = sync_round(1);
    while (applied && ++round < 12)
        applied = sync_round(0);
    if (applied)
        fail("replicas still applying changes after %d rounds of full exchange", round);
    for (size_t c = 0; c < g.nch; c++)
        for (int r = 0; r < g.nr; r++)
            if (!g.ch[c].seen[r])
                fail("after full exchange replica %d still lacks change %s (%s of %s)", r,
                     g.ch[c].v, TYPES[g.recs[g.ch[c].rec].type].name,
                     g.recs[g.ch[c].rec].id);
}

static void compare_lists(const char *what, int r, const svec *a, const svec *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a->a[i], b->a[i]) != 0) {
            fail(
                "replicas 0 and %d differ in %s (%zu vs %zu entries); first difference:\n"
                "  replica 0:  %.600s\n  replica %d: %.600s",
                r, what, a->n, b->n, a->a[i], r, b->a[i]);
            return;
        }
    if (a->n != b->n)
        fail("replicas 0 and %d differ in %s: %zu vs %zu entries (extra: %.300s)", r,
             what, a->n, b->n, a->n > b->n ? a->a[n] : b->a[n]);
}

static int cmp_candidate(const void *a, const void *b)
{
    const char *x = str_of(*(const cJSON *const *)a, "v"),
               *y = str_of(*(const cJSON *const *)b, "v");
    return strcmp(x ? x : "", y ? y : "");
}

static void normalised_conflicts(int r, svec *out)
{
    svec raw = {0};
    conflicts_of(r, &raw);
    for (size_t i = 0; i < raw.n; i++) {
        cJSON *j = parse_or_die(raw.a[i], "a conflict");
        cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "candidates");
        if (cJSON_IsArray(c))
            sort_children(c, cmp_candidate);
        sv_push(out, canon(j));
        cJSON_Delete(j);
    }
    sv_free(&raw);
    sv_sort(out);
}

static void needs_lines(int r, int overdue, svec *out)
{
    mq_needs_query q = {overdue, NULL, "2012-12-31"};
    svec raw = {0};
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_needs(g.r[r].st, &q, collect_cb, &raw, &err);
    if (rc != 0)
        die("replica %d: mq_store_needs returned %d: %s", r, rc, err.message);
    for (size_t i = 0; i < raw.n; i++) {
        cJSON *j = parse_or_die(raw.a[i], "a need");
        sv_push(out, canon(j));
        cJSON_Delete(j);
    }
    sv_free(&raw);
    sv_sort(out);
}

static void history_lines(int r, int k, svec *out)
{
    svec raw = {0};
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_history(g.r[r].st, g.recs[k].id, collect_cb, &raw, &err);
    if (rc != 0)
        die("replica %d: history of %s returned %d: %s", r, g.recs[k].id, rc,
            err.message);
    for (size_t i = 0; i < raw.n; i++) {
        cJSON *j = parse_or_die(raw.a[i], "a history entry");
        /* where the change arrived from is this replica's own business */
        cJSON_DeleteItemFromObjectCaseSensitive(j, "via");
        sv_push(out, canon(j));
        cJSON_Delete(j);
    }
    sv_free(&raw);
    sv_sort(out);
}

/* The model's view of every record, for replica r: export must list exactly
 * the live ones, as get shows them. */
static void check_export(int r, const char *text)
{
    unsigned char *listed = calloc(g.nrec + 1, 1);
    const char *p = text;
    if (!listed)
        abort();
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n) {
            char *line = xmalloc(n + 1);
            memcpy(line, p, n);
            line[n] = 0;
            cJSON *j = parse_or_die(line, "an exported line");
            const char *id = str_of(j, "id");
            int k = id ? sm_get(&g.idmap, id) : -1;
            if (k < 0 || !live_at(r, k) || listed[k]++) {
                fail("replica %d: export lists %.200s, which is not a live record there "
                     "(or "
                     "twice)",
                     r, line);
            } else {
                char *raw = get_rec(r, id, NULL);
                cJSON *gj = raw ? parse_or_die(raw, "a record") : NULL;
                cJSON_DeleteItemFromObjectCaseSensitive(gj, "deleted");
                char *a = canon(j), *b = gj ? canon(gj) : xstrdup("(none)");
                if (strcmp(a, b) != 0)
                    fail("replica %d: export and get disagree on %s:\n  export: %s\n  "
                         "get:    "
                         "%s",
                         r, id, a, b);
                free(a);
                free(b);
                cJSON_Delete(gj);
                free(raw);
            }
            cJSON_Delete(j);
            free(line);
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    for (size_t k = 0; k < g.nrec; k++)
        if (live_at(r, (int)k) && !listed[k])
            fail("replica %d: export leaves out live %s %s", r,
                 TYPES[g.recs[k].type].name, g.recs[k].id);
    free(listed);
}

static void check_log_complete(int r)
{
    svec l = {0};
    unsigned char *got = calloc(g.nch + 1, 1);
    if (!got)
        abort();
    read_changes(r, 0, 0, NULL, &l, NULL);
    for (size_t i = 0; i < l.n; i++) {
        cJSON *j = parse_or_die(l.a[i], "a change");
        const char *v = str_of(j, "v");
        int c = v ? sm_get(&g.vmap, v) : -1;
        if (c < 0 || got[c]++) {
            fail("replica %d: its change log holds %s %s", r,
                 c < 0 ? "an unknown change" : "twice", l.a[i]);
        } else {
            char *cj = canon(j);
            if (strcmp(cj, g.ch[c].canon) != 0)
                fail("replica %d holds change %s not as its writer logged it:\n  writer: "
                     " %s\n"
                     "  replica: %s",
                     r, v, g.ch[c].canon, cj);
            free(cj);
        }
        cJSON_Delete(j);
    }
    if (l.n != g.nch)
        fail("replica %d: its change log holds %zu changes, %zu were written", r, l.n,
             g.nch);
    free(got);
    sv_free(&l);
}

static void compare_replicas(void)
{
    svec e0 = {0}, c0 = {0}, n0 = {0}, o0 = {0};
    char *t0 = export_text(0, NULL);
    canon_lines(t0, &e0);
    normalised_conflicts(0, &c0);
    needs_lines(0, 0, &n0);
    needs_lines(0, 1, &o0);
    for (int r = 0; r < g.nr; r++) {
        char *t = r ? export_text(r, NULL) : xstrdup(t0);
        check_export(r, t);
        check_log_complete(r);
        check_store(r);
        if (r) {
            svec e = {0}, c = {0}, n = {0}, o = {0};
            canon_lines(t, &e);
            compare_lists("export", r, &e0, &e);
            normalised_conflicts(r, &c);
            compare_lists("conflicts", r, &c0, &c);
            needs_lines(r, 0, &n);
            compare_lists("needs", r, &n0, &n);
            needs_lines(r, 1, &o);
            compare_lists("overdue needs", r, &o0, &o);
            sv_free(&e);
            sv_free(&c);
            sv_free(&n);
            sv_free(&o);
        }
        free(t);
    }
    for (size_t k = 0; k < g.nrec; k++) {
        char *g0 = get_rec(0, g.recs[k].id, NULL);
        cJSON *j0 = g0 ? parse_or_die(g0, "a record") : NULL;
        char *c0s = j0 ? canon(j0) : xstrdup("(not found)");
        svec h0 = {0};
        history_lines(0, (int)k, &h0);
        if (h0.n != g.recs[k].all.n)
            fail("replica 0: history of %s has %zu entries, the record has %zu changes",
                 g.recs[k].id, h0.n, g.recs[k].all.n);
        for (int r = 1; r < g.nr; r++) {
            char *gr = get_rec(r, g.recs[k].id, NULL);
            cJSON *jr = gr ? parse_or_die(gr, "a record") : NULL;
            char *crs = jr ? canon(jr) : xstrdup("(not found)");
            if (strcmp(c0s, crs) != 0)
                fail(
                    "replicas 0 and %d differ on %s:\n  replica 0:  %s\n  replica %d: %s",
                    r, g.recs[k].id, c0s, r, crs);
            svec hr = {0};
            history_lines(r, (int)k, &hr);
            char what[128];
            snprintf(what, sizeof what, "the history of %s", g.recs[k].id);
            compare_lists(what, r, &h0, &hr);
            sv_free(&hr);
            free(crs);
            cJSON_Delete(jr);
            free(gr);
        }
        sv_free(&h0);
        free(c0s);
        cJSON_Delete(j0);
        free(g0);
    }
    free(t0);
    sv_free(&e0);
    sv_free(&c0);
    sv_free(&n0);
    sv_free(&o0);
}

/* ---- one run --------------------------------------------------------------- */

static const char *const SITES[MAXR] = {"tablet-m", "tablet-b", "office-x",
                                        "tablet-d", "server-q", "tablet-a"};

static void open_replicas(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g.dir, sizeof g.dir, "%s/mq-converge-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g.dir))
        die("mkdtemp %s failed", g.dir);
    for (int r = 0; r < g.nr; r++) {
        replica *R = &g.r[r];
        mq_error err;
        mq_error_clear(&err);
        snprintf(R->path, sizeof R->path, "%s/r%d.db", g.dir, r);
        snprintf(R->site, sizeof R->site, "%s", SITES[r]);
        int rc = mq_store_open(&R->st, R->path, &err);
        if (rc != 0)
            die("mq_store_open %s returned %d: %s", R->path, rc, err.message);
        rc = mq_store_init(R->st, R->site, NULL, &err);
        if (rc != 0)
            die("mq_store_init %s returned %d: %s", R->site, rc, err.message);
        if (!mq_store_site(R->st) || strcmp(mq_store_site(R->st), R->site) != 0)
            fail("replica %d: mq_store_site is %s, expected %s", r,
                 mq_store_site(R->st) ? mq_store_site(R->st) : "NULL", R->site);
        /* clocks lie: one replica two days ahead, one three days behind */
        int64_t skew = r == 1 ? 2 * 86400000LL : r == 2 ? -3 * 86400000LL : 0;
        if (skew) {
            rc = mq_store_set_clock_offset(R->st, skew, &err);
            if (rc != 0 || mq_store_clock_offset(R->st) != skew)
                fail("replica %d: set_clock_offset(%" PRId64 ") returned %d", r, skew,
                     rc);
        }
    }
}

static void close_replicas(int keep)
{
    for (int r = 0; r < g.nr; r++) {
        mq_store_close(g.r[r].st);
        if (!keep) {
            const char *suffix[] = {"", "-wal", "-shm", "-journal"};
            for (int s = 0; s < 4; s++) {
                char p[640];
                snprintf(p, sizeof p, "%s%s", g.r[r].path, suffix[s]);
                unlink(p);
            }
        }
    }
    if (!keep)
        rmdir(g.dir);
}

static void free_model(void)
{
    for (size_t c = 0; c < g.nch; c++) {
        free(g.ch[c].v);
        free(g.ch[c].canon);
        for (int i = 0; i < g.ch[c].nf; i++) {
            free(g.ch[c].val[i]);
            iv_free(&g.ch[c].base[i]);
        }
    }
    for (size_t k = 0; k < g.nrec; k++) {
        free(g.recs[k].id);
        iv_free(&g.recs[k].creates);
        iv_free(&g.recs[k].deletes);
        iv_free(&g.recs[k].all);
        for (int f = 0; f < MAXF; f++)
            iv_free(&g.recs[k].fv[f]);
    }
    free(g.ch);
    free(g.recs);
    sm_free(&g.vmap);
    sm_free(&g.idmap);
}

/* The first replica lays out a county with townships, villages, groups and
 * cadres, and every replica receives it. */
static void seed_world(void)
{
    static const char *const levels[] = {"county", "township", "village", "village",
                                         "group",  "group",    "group",   "group"};
    for (int i = 0; i < 8; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", AREA_NAMES[i % 4]);
        cJSON_AddStringToObject(f, "level", levels[i]);
        if (i) {
            int parent = i < 2 ? 0 : i < 4 ? 1 : 2 + (i % 2);
            cJSON_AddStringToObject(f, "parent", g.recs[parent].id);
        }
        local_write(0, T_AREA, -1, NULL, f, NULL);
        cJSON_Delete(f);
    }
    for (int i = 0; i < 4; i++)
        op_create(0, T_CADRE);
    for (int dst = 1; dst < g.nr; dst++)
        exchange_incremental(0, dst);
}

static int run(uint64_t seed, unsigned long ops, int nr)
{
    memset(&g, 0, sizeof g);
    g.seed = seed;
    g.ops = ops;
    g.nr = nr;
    rng_state = seed;
    make_pools();
    open_replicas();
    printf("run: seed %" PRIu64 ", %d replicas, %lu operations, stores in %s\n", seed, nr,
           ops, g.dir);
    fflush(stdout);
    seed_world();
    op_import_same(0, 1);
    for (g.op = 1; g.op <= ops; g.op++) {
        int r = (int)rnd((unsigned)nr);
        unsigned p = rnd(1000);
        if (p < 50)
            op_create(r, T_AREA);
        else if (p < 80)
            op_create(r, T_CADRE);
        else if (p < 170)
            op_create(r, T_HOUSEHOLD);
        else if (p < 250)
            op_create(r, T_MEMBER);
        else if (p < 310)
            op_create(r, T_NEED);
        else if (p < 390)
            op_create(r, T_NEED_ACTION);
        else if (p < 410)
            op_create(r, T_VISIT);
        else if (p < 640)
            op_edit(r);
        else if (p < 670)
            op_delete(r);
        else if (p < 700)
            op_resolve(r);
        else if (p < 720)
            op_probe(r);
        else if (p < 725)
            op_import_same(r, (r + 1) % nr);
        else
            op_exchange();
        if (g.op % 500 == 0)
            checkpoint(g.op % 1500 == 0);
    }
    g.op = ops + 1;
    checkpoint(1);

    /* every change everywhere: identical replicas */
    sync_all();
    checkpoint(1);
    compare_replicas();
    svec cs = {0};
    conflicts_of(0, &cs);
    size_t nconf = cs.n;
    printf("  %zu changes of %zu records; applied %lu, duplicates %lu, rejected %lu; "
           "%lu exchanges (%lu bundles, %lu rolled back); %lu deletes (%lu refused); "
           "%lu resolves; up to %lu open conflicts on a replica, %zu at the end\n",
           g.nch, g.nrec, g.stat_applied, g.stat_duplicate, g.stat_rejected,
           g.stat_exchanges, g.stat_bundles, g.stat_rollbacks, g.stat_deletes,
           g.stat_delete_refused, g.stat_resolves, g.stat_max_conflicts, nconf);

    /* resolve each conflict once, somewhere; then none anywhere */
    g.op = ops + 2;
    for (size_t i = 0; i < cs.n; i++) {
        cJSON *cj = parse_or_die(cs.a[i], "a conflict");
        int rr = (int)rnd((unsigned)nr);
        for (int attempt = 0; attempt < 5 && resolve_one(rr, cj, attempt > 0) > 0;
             attempt++)
            ;
        cJSON_Delete(cj);
    }
    sv_free(&cs);
    sync_all();
    for (int r = 0; r < nr; r++) {
        svec left = {0};
        conflicts_of(r, &left);
        if (left.n)
            fail("replica %d: %zu conflict(s) open after every conflict was resolved and "
                 "delivered, first: %s",
                 r, left.n, left.a[0]);
        sv_free(&left);
    }
    checkpoint(1);
    compare_replicas();

    int failed = g.failures != 0;
    if (failed) {
        fprintf(stderr, "run with seed %" PRIu64 " FAILED: %lu failure(s)\n", seed,
                g.failures);
        replay_hint();
        fprintf(stderr, "stores kept in %s\n", g.dir);
    } else {
        printf("  ok\n");
    }
    close_replicas(failed);
    free_model();
    return failed;
}

int main(int argc, char **argv)
{
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    unsigned long ops = 2500, runs = 4;
    int nr = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--seed"))
            seed = strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--ops"))
            ops = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--runs"))
            runs = strtoul(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--replicas"))
            nr = atoi(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--seed N] [--runs N] [--ops N] [--replicas 3..%d]\n",
                    argv[0], MAXR);
            return 2;
        }
    }
    if (nr && (nr < 3 || nr > MAXR)) {
        fprintf(stderr, "--replicas must be 3..%d\n", MAXR);
        return 2;
    }
    unsigned long failed = 0;
    for (unsigned long i = 0; i < runs; i++) {
        uint64_t s = seed + i;
        failed += (unsigned long)run(s, ops, nr ? nr : 3 + (int)(s % 3));
    }
    printf("%lu passed, %lu failed\n", runs - failed, failed);
    return failed ? 1 : 0;
}
