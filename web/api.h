/*
 * web/api.h - what the files of the JSON API (web/api*.c) share: the
 * context of one request, the one writer of answers and the one filler of
 * errors, the scope checks (web/api_common.c), and the handlers that
 * web/api.c routes to.
 *
 * A handler returns 0 when the answer is filled, whatever its status (a
 * refusal is an answer), and MQ_ENOMEM only when not even an error answer
 * could be made.  Every handler checks its input before it writes, and
 * writes with one store call (or within one transaction), so a refused
 * request writes nothing.
 */
#ifndef MQ_WEB_API_H
#define MQ_WEB_API_H

#include <stddef.h>

#include "minqing/minqing.h"
#include "minqing/report.h"
#include "web.h"

struct cJSON;

/** The most bytes a request body may hold; the hosts refuse more (413). */
#define MQ_WEB_MAX_BODY ((size_t)1 << 20)

/** One request being answered.  Everything is borrowed for the request. */
typedef struct mq__web {
    mq_store *store;
    const mq_web_who *who;
    const mq_web_request *rq;
    mq_web_answer *ans;
    char today[16]; /**< YYYY-MM-DD on the store's clock */
    long today_n;   /**< today as a day number (mq__web_day_number()) */
} mq__web;

/* ---- answers (api.c) ----------------------------------------------------- */

/** Answers `status` with `body` as JSON; takes `body` (NULL: out of memory). */
int mq__web_json(mq__web *w, unsigned status, struct cJSON *body);

/**
 * Answers a refusal: {"error":{"code","message","fields"}}.  `code` is
 * docs/UI.md's ("invalid", "forbidden", ...), `fields` (taken, may be NULL)
 * maps each field in error to its rule.
 */
int mq__web_error(mq__web *w, unsigned status, const char *code, struct cJSON *fields,
                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/**
 * Answers the failure `rc` of a store call: MQ_EINVAL 400 (with "fields"
 * read from the message's "field NAME: RULE" when there is one),
 * MQ_ENOTFOUND 404, MQ_EREFUSED 403, the rest 500.
 */
int mq__web_fail(mq__web *w, int rc, const mq_error *err);

/** The query argument `name`, or NULL (also for an empty value). */
const char *mq__web_arg(const mq__web *w, const char *name);

/**
 * Parses the body as one JSON object.  On failure answers 400 and returns
 * 1 (so the handler returns 0); 0 with *out the caller's (cJSON_Delete()).
 */
int mq__web_body(mq__web *w, struct cJSON **out);

/**
 * Reads `limit` into *out: its default when absent, else 1 to `most`;
 * answers 400 and returns 1 when it is not.
 */
int mq__web_limit(mq__web *w, size_t def, size_t most, size_t *out);

/* ---- scope (api.c) -------------------------------------------------------- */

/**
 * Whether record `id` (of `type`, with `fields`, a JSON object) is inside
 * the who's areas: through mq_store_change_in_scope() with a change that
 * leaves the record where it is.  Always 1 for a who with `all`.
 */
int mq__web_readable(mq__web *w, const char *type, const char *id,
                     const struct cJSON *fields, int *yes, mq_error *err);

/**
 * Whether writing `set` (a JSON object) to record `id` of `type` (new or
 * not) keeps it inside the who's areas, where it is now and where it goes.
 */
int mq__web_writable(mq__web *w, const char *type, const char *id,
                     const struct cJSON *set, int *yes, mq_error *err);

/**
 * Reads record `id` for the who: *out the record ({"type","id","fields"}),
 * the caller's.  Answers 404 (unknown, deleted, or outside the who's areas)
 * and returns 1 when there is none to read; MQ_ENOMEM.
 */
int mq__web_get(mq__web *w, const char *id, const char *type, struct cJSON **out);

/** mq__web_get() for a write: a record outside the who's areas is 403. */
int mq__web_get_to_write(mq__web *w, const char *id, const char *type,
                         struct cJSON **out);

/* ---- small helpers (api.c) ----------------------------------------------- */

/** Day number of "YYYY-MM-DD" (days since 1970-01-01) into *n; 0 or -1. */
int mq__web_day_number(const char *day, long *n);

/** Room for a record id (a UUID) and its NUL. */
#define MQ_WEB_ID_SIZE 37

/**
 * A new random record id (a version 4 UUID), made here rather than by the
 * store so that the scope is judged on the very change that is written.
 * @return 0, or -1 when the platform gave no randomness
 */
int mq__web_new_id(char out[MQ_WEB_ID_SIZE]);

/**
 * The `name` field of record `id` when it is of `type` (NULL: any type),
 * from a per-request cache (`cache` an object, keyed by id); NULL when
 * there is none.  Borrowed from the cache.
 */
const char *mq__web_name_of(mq__web *w, struct cJSON *cache, const char *id,
                            const char *type);
/** mq__web_name_of() of a cadre. */
const char *mq__web_cadre_name(mq__web *w, struct cJSON *cache, const char *id);

/** The string member `name` of `o`, or NULL. */
const char *mq__web_str(const struct cJSON *o, const char *name);

/** Adds a copy of `s` (NULL: null) under `name`; 0 or -1 out of memory. */
int mq__web_add_str(struct cJSON *o, const char *name, const char *s);

/** A walk's visitor that appends each parsed object to the array `ctx`. */
int mq__web_collect(void *ctx, const char *json);

/* ---- the handlers (one file per job) --------------------------------------
 * `id` is the path's record id or type where the route has one. */

int mq__web_me(mq__web *w);                        /* api_schema.c */
int mq__web_schema(mq__web *w);                    /* api_schema.c */
int mq__web_households(mq__web *w);                /* api_households.c */
int mq__web_household(mq__web *w, const char *id); /* api_households.c */
int mq__web_record(mq__web *w, const char *id);    /* api_households.c */
int mq__web_create(mq__web *w, const char *type);  /* api_records.c */
int mq__web_update(mq__web *w, const char *id);    /* api_records.c */
int mq__web_need_action(mq__web *w, const char *id, const char *verb); /* api_needs.c */
int mq__web_worklist(mq__web *w);                                      /* api_needs.c */
int mq__web_needs(mq__web *w);                                         /* api_needs.c */
int mq__web_needs_export(mq__web *w);                                  /* api_reports.c */
int mq__web_conflicts(mq__web *w);      /* api_conflicts.c */
int mq__web_resolve(mq__web *w);        /* api_conflicts.c */
int mq__web_reports(mq__web *w);        /* api_reports.c */
int mq__web_reports_export(mq__web *w); /* api_reports.c */

/**
 * The needs of `q` and `f` (may be NULL) for the who
 * (mq_report_needs_filtered()): with a limited who and no q->area, once per
 * area of the who, each need once.  Each line goes to `keep`, which returns
 * 0 to go on, 1 to stop, or MQ_E* on failure.  Answers the failure itself
 * and returns 1 when the walk failed.
 */
int mq__web_walk_needs(mq__web *w, const char *area, const mq_report_needs_query *q,
                       const mq_report_needs_filter *f,
                       int (*keep)(void *ctx, struct cJSON *line), void *ctx);

/** The area a report or list is asked for: `area` checked against the
 * who's (404 unknown, 403 outside), or NULL for all of the who's.  Answers
 * and returns 1 when refused. */
int mq__web_area_arg(mq__web *w, const char *area);

#endif /* MQ_WEB_API_H */
