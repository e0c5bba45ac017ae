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

/*
 * Builds temp.mq_anc and temp.mq_fold for day `as_of` (and `from`, may be
 * NULL), over the needs in temp.mq_scope when `scoped`, else every need.
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
