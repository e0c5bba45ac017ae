/*
 * minqing/report.h - the figures the programme is judged by, computed on
 * any replica over the records it holds: completion rate (办结率), overdue
 * needs (限时办结), petitions, visits and talks per cadre and per area, and
 * the five-level warning of village collective income (五级预警).
 *
 * There is one definition of every figure, written in docs/REPORTS.md, and
 * it lives here, in the library: a tablet computes its villages offline, the
 * server the areas a caller may see, and both give the same numbers for the
 * same records.  Every figure is taken "as of a day D": a need exists from
 * its recorded_at, an action or a visit counts only if it happened on or
 * before D, so a report of a past day can be reproduced on any later day.
 *
 * Ownership follows minqing/store.h: strings handed in are borrowed for the
 * call; what comes back through `char **out` is the caller's, freed with
 * mq_free(); strings passed to a callback are borrowed until it returns.
 *
 * Errors: MQ_EINVAL for a day that is not a real date or a query that
 * breaks a rule (the message names the query member, the rule and the
 * value); MQ_ENOTFOUND for an area or cadre id that names no such live
 * record here; MQ_ECORRUPT when the schema's "reports" section is unusable;
 * MQ_EIO and MQ_ENOMEM as everywhere.  A report only reads: it never writes
 * the store, whatever it returns.
 */
#ifndef MINQING_REPORT_H
#define MINQING_REPORT_H

#include <stdio.h>

#include "error.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Checks that `day` is a real calendar day written YYYY-MM-DD (leap years
 * included): the rule of every day a report is asked for.
 *
 * @return 0, or MQ_EINVAL with `err` saying which rule the value breaks
 */
int mq_report_check_day(const char *day, mq_error *err);

/** What mq_report_json() computes. */
typedef struct mq_report_query {
    /** the report's scope: this area and every area below it; NULL for every
     *  record of the replica */
    const char *area;
    /** the day D the figures are taken at, "YYYY-MM-DD"; NULL for today on
     *  the replica's clock */
    const char *as_of;
    /** NULL, or "YYYY-MM-DD" not after as_of: only needs recorded and visits
     *  made on or after this day (their figures still taken as of as_of), and
     *  income periods that end on or after it */
    const char *from;
} mq_report_query;

/**
 * Computes the report of `q` as one JSON object:
 *
 *     {"as_of": D, "from": F|null, "area": AREA|null,
 *      "total":  {households, needs, petitions, visits},
 *      "areas":  [{id, name, level, parent, depth, households,
 *                  needs, petitions, visits}, ...],
 *      "cadres": [{id, name, households, needs, petitions, visits}, ...],
 *      "income": [{id, area, name, period, income_yuan, target_yuan,
 *                  ratio, level}, ...]}
 *
 * where needs is {registered, accepted, resolved, open, overdue,
 * resolved_late, completion_rate, median_days_to_resolve,
 * satisfaction: {VALUE: COUNT}, yuan}, petitions is {received, accepted,
 * closed, rate, receptions} and visits is {KIND: COUNT}.  Rates are
 * fractions from 0 to 1, or null where the denominator is 0.  Areas come
 * in tree order (each area before the areas below it), cadres by name.
 *
 * @param[out] out  the JSON text, the caller's (mq_free())
 * @return 0 or an error code; *out is NULL on error
 */
int mq_report_json(mq_store *store, const mq_report_query *q, char **out, mq_error *err);

/** Which needs mq_report_needs() walks.  NULL members do not filter. */
typedef struct mq_report_needs_query {
    const char *area;     /**< only needs in this area or below */
    const char *as_of;    /**< the day D, as in mq_report_query; NULL: today */
    const char *cadre;    /**< only needs recorded by this cadre (首问责任) */
    const char *category; /**< only needs of this category (a schema choice) */
    /** only needs in this status: registered, open, reopened, overdue or
     *  resolved (overdue wins over the first three) */
    const char *status;
    int overdue_only; /**< 1: only overdue needs, as status "overdue" */
} mq_report_needs_query;

/**
 * Walks the needs that exist as of D, with the status folded by the same
 * rule as mq_report_json(), earliest deadline first (needs without one
 * last), as one JSON object each:
 *
 *     {"id", "household", "head_name", "area", "area_name", "village",
 *      "village_name", "category", "source", "recorded_by", "cadre_name",
 *      "recorded_at", "deadline", "status", "handler", "handler_name",
 *      "overdue": bool,
 *      "days_overdue": N (when overdue), "accepted": bool, "accepted_by",
 *      "resolved_at", "satisfaction", "actions": N, "fields": {...}}
 *
 * A list of a day on or after the horizon of nearly every need (today,
 * unless actions are dated ahead) is read from the state of each need kept
 * beside the records (docs/STORE.md, "The state of each need"), through
 * its indexes; a past day folds the actions as of that day.  Both give the
 * same lines.
 *
 * `handler` is who handles the need now: the `to` of its last counted
 * transfer, else the cadre of its first counted accept, else who recorded
 * it (docs/REPORTS.md).  Members with no value are left out.  `actions`
 * counts the actions taken
 * on or before D.  The callback's return value stops the walk as in
 * minqing/store.h.
 */
int mq_report_needs(mq_store *store, const mq_report_needs_query *q, mq_json_cb cb,
                    void *ctx, mq_error *err);

/** More filters of mq_report_needs_filtered(), for a screen that shows a
 *  few needs.  NULL and 0 members do not filter. */
typedef struct mq_report_needs_filter {
    const char *handler;   /**< only needs this cadre handles now (`handler`) */
    const char *source;    /**< only needs of this source (a schema choice) */
    const char *household; /**< only the needs of this household */
    const char *need;      /**< only this need */
    int open_only;         /**< 1: only needs not resolved as of D */
    size_t limit;          /**< at most this many lines (the first in the
                                list's order); 0: every one */
} mq_report_needs_filter;

/**
 * mq_report_needs() with the filters of `f` too (NULL: none); the same
 * lines, fewer of them.  A work list (a cadre's open needs) or a
 * household's needs is an indexed read of the state of each need.
 */
int mq_report_needs_filtered(mq_store *store, const mq_report_needs_query *q,
                             const mq_report_needs_filter *f, mq_json_cb cb, void *ctx,
                             mq_error *err);

/**
 * The Chinese labels of the values a report prints, from the schema's
 * "reports" section: {"level": {...}, "visit_kind": {...},
 * "satisfaction": {...}, "income_level": {...}, "category": {...},
 * "status": {...}}, each mapping a stored value to its label.
 *
 * @param[out] out  the JSON text, the caller's (mq_free())
 */
int mq_report_labels(mq_store *store, char **out, mq_error *err);

/** The spreadsheet formats of mq_report_export() and mq_report_needs_export(). */
typedef enum mq_report_format {
    /** UTF-8 with a byte order mark, RFC 4180, rows ending CRLF; rates as
     *  "42.6%" (which Excel reads as the number 0.426) */
    MQ_REPORT_CSV = 1,
    /** Office Open XML: dates as dates, counts and money as numbers, rates
     *  as numbers shown as percentages, income levels filled in colour */
    MQ_REPORT_XLSX = 2
} mq_report_format;

/**
 * Writes the report of `q` as a spreadsheet: the areas (with the total
 * last), the cadres and the village income, each a table (a CSV block with
 * its title, or an XLSX sheet) with Chinese headers and each row's record
 * id last; in XLSX also the five-level warning as a grid of villages by
 * period ("五级预警"), each cell the ratio filled in its level's colour
 * (the schema's reports.income_levels[].color).
 *
 * These calls live in their own library, minqing_report_export, which
 * links libxlsxwriter.
 *
 * @param out   where CSV goes (the caller's stream, left open); unused for XLSX
 * @param path  the file XLSX is written to (created or truncated); unused
 *              for CSV
 * @return 0 or an error code, as mq_report_json(); MQ_EIO when the file
 *         cannot be written (a partial file may be left at `path`)
 */
int mq_report_export(mq_store *store, const mq_report_query *q, mq_report_format format,
                     FILE *out, const char *path, mq_error *err);

/**
 * Writes the needs list of `q` (mq_report_needs()) as a spreadsheet: one
 * row a need, earliest deadline first, with Chinese headers and labels,
 * dates as dates.  The rows stream: each is written as the walk gives it
 * (XLSX in libxlsxwriter's constant_memory mode), so memory does not grow
 * with the list.  `out` and `path` as in mq_report_export().
 */
int mq_report_needs_export(mq_store *store, const mq_report_needs_query *q,
                           mq_report_format format, FILE *out, const char *path,
                           mq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_REPORT_H */
