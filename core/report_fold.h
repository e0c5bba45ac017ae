/*
 * core/report_fold.h - what the report (report.c) and the needs list
 * (needs.c) share, so that both take a need's status by one rule: the
 * schema's report settings, the day a report is taken at, its scope, and the
 * fold of every need's actions into a temporary table.
 *
 * The temporary tables live on the store's connection for the length of one
 * report read (mq__report_read_begin() to mq__report_read_end()):
 *
 *   temp.mq_anc(area, anc)   every area paired with itself and each area
 *                            above it: the scope path, walked once
 *   temp.mq_fold(...)        one row per need that exists as of D in the
 *                            scope, with its folded state (columns below)
 */
#ifndef MQ_REPORT_FOLD_H
#define MQ_REPORT_FOLD_H

#include "internal.h"

/* The schema's "reports" section, checked (docs/SCHEMA.md, "Reports"). */
typedef struct mq__report_cfg {
    cJSON *root;                   /* owned: the whole schema document */
    const cJSON *petition_sources; /* array of need.source choices */
    const char *reception_kind;    /* the visit.kind of a petition reception */
    const cJSON *levels;           /* [{level, below}, ..., {level}] ascending */
    const cJSON *labels;           /* {group: {value: label}} */
} mq__report_cfg;

/* Loads and checks the settings; MQ_ECORRUPT names what is wrong. */
int mq__report_cfg_load(mq_store *s, mq__report_cfg *cfg, mq_error *err);
void mq__report_cfg_free(mq__report_cfg *cfg);
/* The income warning level of `ratio` (income / target). */
const char *mq__report_income_level(const mq__report_cfg *cfg, double ratio);

/*
 * Opens a read of the store for one report: a deferred transaction, so that
 * every statement sees one snapshot and the temporary tables vanish with
 * it.  Inside a transaction the caller opened, the report runs in that one.
 * `*began` says which; pass it to mq__report_read_end().
 */
int mq__report_read_begin(mq_store *s, int *began, mq_error *err);
void mq__report_read_end(mq_store *s, int began);

/*
 * The day a report is taken at: `day` checked (MQ_EINVAL naming `what`), or
 * today on the replica's clock when `day` is NULL.
 */
int mq__report_day(mq_store *s, const char *day, const char *what, char out[11],
                   mq_error *err);

/*
 * Fills temp.mq_scope with `area` and every area below it; MQ_ENOTFOUND
 * unless `area` is a live area of this replica.
 */
int mq__report_scope(mq_store *s, const char *area, mq_error *err);

/* ---- the records a report reads, in one pass ------------------------------ */

/* A need's status after the fold. */
enum { MQ__ST_REGISTERED, MQ__ST_OPEN, MQ__ST_REOPENED, MQ__ST_RESOLVED };
/* What an action does to the status. */
enum { MQ__ACT_OTHER, MQ__ACT_ACCEPT, MQ__ACT_RESOLVE, MQ__ACT_REOPEN };

/*
 * The strings of every row below live in the rows' text chunks
 * (mq__report_rows.text, .keep) until mq__report_rows_free(); a string member is
 * NULL where the record has no value.  Members after the strings are filled
 * by the fold.
 */
typedef struct mq__rneed {
    const char *id, *area, *household, *category, *source, *recorded_by, *recorded_at,
        *deadline;
    const char *rarea;        /* the record row's own area (the scope's test),
                                 which `area` is unless the row has none */
    int petition;             /* its source is a petition source */
    int actions;              /* its actions that count (at <= D) */
    int accepted;             /* one of them is an accept */
    int status;               /* MQ__ST_* */
    int overdue, late;        /* as in report_fold.c's header */
    int has_days;             /* resolved and recorded_at known: days is set */
    long days, days_overdue;  /* recorded_at to resolve; D - deadline if overdue */
    double yuan;              /* amount_yuan of counted resolves */
    const char *accepted_by;  /* the first counted accept's `by` */
    const char *handler;      /* the last counted transfer's `to`, else
                                 accepted_by, else recorded_by */
    double served[3];         /* households, people, livestock it serves */
    const char *resolved_at;  /* the last resolve's `at`, when resolved */
    const char *satisfaction; /* the last resolve's, when resolved */
} mq__rneed;

typedef struct mq__ract {
    const char *need, *at, *v, *by, *satisfaction;
    const char *to; /* a transfer's new handler */
    int kind;       /* MQ__ACT_* */
    double yuan;
    size_t ni; /* the index of its need in mq__report_rows.needs */
} mq__ract;

typedef struct mq__rvisit {
    const char *area, *cadre, *kind;
    double people; /* who came to a reception; 1 when not recorded */
} mq__rvisit;

/* A talk between cadres (谈心谈话): who talked, the occasion (五必谈). */
typedef struct mq__rtalk {
    const char *area, *cadre, *occasion;
} mq__rtalk;

typedef struct mq__rhouse {
    const char *area, *cadre;
} mq__rhouse;

typedef struct mq__rincome {
    const char *id, *area, *period, *channels, *measures;
    int has_income, has_target;
    double income, target;
} mq__rincome;

typedef struct mq__rcadre {
    const char *id, *name;
} mq__rcadre;

/*
 * What one report reads: the needs that exist as of D, folded, and their
 * counted actions; the visits that count; the live households and village
 * income records; every cadre record (deleted ones too: a need still names
 * who took it).  Scoped rows are those in temp.mq_scope when scoped.
 */
typedef struct mq__report_rows {
    mq__rneed *needs; /* in the order read */
    size_t nneeds;
    mq__ract *acts; /* by need, then at, then version */
    size_t nacts;
    mq__rvisit *visits;
    size_t nvisits;
    mq__rhouse *houses;
    size_t nhouses;
    mq__rtalk *talks; /* the talks that count (at <= D, and >= from) */
    size_t ntalks;
    mq__rincome *income;
    size_t nincome;
    mq__rcadre *cadres; /* sorted by id */
    size_t ncadres;
    struct mq__rtext *text; /* the strings of needs, actions, visits, households */
    struct mq__rtext *keep; /* the strings of income and cadres */
} mq__report_rows;

/* Which records mq__report_rows_load() reads: the needs and their actions
 * only (the needs list), or everything the report counts (and then not
 * what only the list shows: a need's household and category, an action's
 * `by`, which are left NULL). */
enum { MQ__ROWS_NEEDS, MQ__ROWS_ALL };

/* Which records mq__report_rows_load() reads: every one, those in
 * temp.mq_scope, or only the needs named in temp.mq_need_dirty (MQ__SCAN_DIRTY)
 * or temp.mq_need_ids (MQ__SCAN_IDS) and their actions, found by index. */
enum { MQ__SCAN_ALL = 0, MQ__SCAN_SCOPE = 1, MQ__SCAN_DIRTY = 2, MQ__SCAN_IDS = 3 };

/*
 * Reads the rows of `what` for day `as_of` (and `from`, may be NULL) in one
 * pass over the record table (or, for a set of needs, through the indexes)
 * and folds every need (report_fold.c states the rule).  `scoped` is one
 * of MQ__SCAN_*.  `rows` is the caller's: mq__report_rows_free(), on error
 * too.
 */
int mq__report_rows_load(mq_store *s, const char *as_of, const char *from, int scoped,
                         int what, const mq__report_cfg *cfg, mq__report_rows *rows,
                         mq_error *err);
void mq__report_rows_free(mq__report_rows *rows);
/* Frees the needs, actions, visits and households (and their strings) once
 * counted, keeping the income and cadres. */
void mq__report_rows_drop(mq__report_rows *rows);
/*
 * Ids to indices: a report looks up some 200,000 ids (a need's, an area's,
 * a cadre's) among thousands; hashing costs a tenth of sorting and
 * searching them.  Keys are borrowed and must outlive the map.
 */
typedef struct mq__idmap {
    const char **key; /* [mask + 1]; NULL for an empty slot */
    size_t *val;
    size_t mask, n;
} mq__idmap;

/* The value of `key`, or -1. */
long mq__idmap_get(const mq__idmap *m, const char *key);
/* The value of `key`, inserting it with value `val` when absent; -1 when
 * out of memory. */
long mq__idmap_put(mq__idmap *m, const char *key, size_t val);
void mq__idmap_free(mq__idmap *m);

/* Orders mq__rcadre by id: rows.cadres is sorted so. */
int mq__report_cmp_cadre(const void *a, const void *b);
/* The text of a status MQ__ST_*. */
const char *mq__report_status_name(int status);

/* Builds temp.mq_anc (this file's header). */
int mq__report_anc(mq_store *s, mq_error *err);

/*
 * Builds temp.mq_anc and temp.mq_fold for day `as_of` (and `from`, may be
 * NULL), over the needs in temp.mq_scope when `scoped`, else every need:
 * the rows of mq__report_rows_load(), written out for SQL to join.
 * mq_fold's columns:
 *
 *   id, area, household, category, source, recorded_by, recorded_at,
 *   deadline                     the need's fields
 *   petition                     1 if its source is a petition source
 *   actions                      how many of its actions count (at <= D)
 *   accepted, accepted_by        1 if one counts an accept; the first's by
 *   status                       registered | open | reopened | resolved
 *   resolved_at, satisfaction    of the last resolve, when resolved
 *   yuan                         sum of amount_yuan of counted resolves
 *   overdue, days_overdue        not resolved, deadline before D; D - deadline
 *   late                         resolved after the deadline
 *   days                         recorded_at to resolved_at, when resolved
 *   handler                      who handles it now: the last counted
 *                                transfer's `to`, else who accepted it,
 *                                else who recorded it
 */
int mq__report_fold(mq_store *s, const char *as_of, const char *from, int scoped,
                    const mq__report_cfg *cfg, mq_error *err);

/* Binds ?1 = as_of, ?2 = from (may be NULL), ?3 = the area type's name,
 * where the statement has them. */
void mq__report_bind(mq_store *s, sqlite3_stmt *st, const char *as_of, const char *from);
/* Runs `sql` (one statement or several) with the bindings of
 * mq__report_bind(); no result rows. */
int mq__report_exec(mq_store *s, const char *sql, const char *as_of, const char *from,
                    mq_error *err);

#endif /* MQ_REPORT_FOLD_H */
