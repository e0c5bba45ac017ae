/*
 * minqing/store.h - a replica: records, their change log, merge and reports
 * in one SQLite file.
 *
 * Records cross this API as JSON text in the interchange format
 *
 *     {"type": TYPE, "id": UUID, "fields": {...}}
 *
 * so that every front end (the command line, the Android binding, the sync
 * server) speaks the same language as import, export and the wire.
 *
 * Ownership, for every function in this header:
 *   - strings handed in are borrowed for the duration of the call and copied
 *     if kept;
 *   - what a call returns through a `char **out` is the caller's, freed with
 *     mq_free();
 *   - strings passed to a callback are borrowed and valid only until the
 *     callback returns.
 * A callback returns 0 to go on, or non-zero to stop the walk; the walk then
 * returns that value.
 *
 * One mq_store is used by one thread at a time.  Several mq_store handles,
 * in one process or several, may open the same file: SQLite serialises the
 * writers.
 */
#ifndef MINQING_STORE_H
#define MINQING_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mq_store mq_store;

/** Frees memory that the library returned through a `char **out`.  NULL-safe. */
void mq_free(void *p);

/* ---- opening ----------------------------------------------------------- */

/**
 * Opens (creating if needed) the replica at `path` with the default schema.
 * A new file has no site yet: call mq_store_init() before writing.
 *
 * @param[out] out  the store, the caller's; close it with mq_store_close()
 * @return 0 or an error code
 */
int mq_store_open(mq_store **out, const char *path, mq_error *err);

/** Closes the store and frees it.  NULL-safe. */
void mq_store_close(mq_store *store);

/**
 * Gives the replica its identity.  `site` names this device, must be unique
 * among the replicas that exchange changes and is 1 to 32 characters of
 * [A-Za-z0-9_.-].  `cadre` (may be NULL) is the id of the cadre record that
 * authors local writes by default.  Refuses to change the site of a replica
 * that has already written changes under another site.
 */
int mq_store_init(mq_store *store, const char *site, const char *cadre, mq_error *err);

/** The site of this replica, or NULL before mq_store_init().  Borrowed. */
const char *mq_store_site(const mq_store *store);

/**
 * The schema this store checks every record and change against, as JSON
 * text (docs/SCHEMA.md): what a client must know to write valid changes.
 * Borrowed, valid while the store is open.
 */
const char *mq_store_schema(const mq_store *store);

/**
 * The schema as a form needs it, as JSON text: every type with its Chinese
 * label, kind and fields in order, each field with its label, kind, rule
 * (required, bounds, choices with their labels, the type a ref leads to),
 * and the defaults and rules across fields of each type (docs/SCHEMA.md,
 * "The schema for forms").
 *
 * @param[out] out  the JSON text, the caller's (mq_free())
 * @return 0 or an error code
 */
int mq_store_schema_json(mq_store *store, char **out, mq_error *err);

/** The default author of local writes, or NULL.  Borrowed. */
const char *mq_store_cadre(const mq_store *store);

/**
 * Corrects this replica's physical clock by `offset_ms` (added to the system
 * time) for every clock reading from now on, and remembers it in the file.
 * Sync sets it from the server's time so that a tablet whose clock is off by
 * days stamps its changes with a sane time.
 */
int mq_store_set_clock_offset(mq_store *store, int64_t offset_ms, mq_error *err);

/** The clock offset in force, in milliseconds. */
int64_t mq_store_clock_offset(const mq_store *store);

/** Milliseconds since the Unix epoch on this replica's corrected clock. */
int64_t mq_store_now_ms(const mq_store *store);

/* ---- settings ----------------------------------------------------------- */

/**
 * Reads a setting kept in the file (for example the sync server's URL).
 * @param[out] out  the value, the caller's; NULL when the setting is unset
 */
int mq_store_setting_get(mq_store *store, const char *key, char **out, mq_error *err);

/** Writes a setting; `value` NULL removes it. */
int mq_store_setting_set(mq_store *store, const char *key, const char *value,
                         mq_error *err);

/* ---- local writes ------------------------------------------------------- */

/**
 * Creates a record of `type`, or patches the given fields of record `id`.
 *
 * `fields_json` is one JSON object of field values; a null value clears an
 * optional field.  Every field is checked against the schema (kind, bounds,
 * enum choices, references to records that exist, identity numbers, phone
 * numbers, dates) and nothing is written if any check fails.  `id` NULL makes
 * a new random id; an unknown `id` creates that record.  `author` NULL means
 * the replica's cadre.  Fields whose value does not change are left out of
 * the change; a put that changes nothing writes nothing.
 *
 * @param[out] out_id  the record's id, the caller's (may be NULL)
 */
int mq_store_put(mq_store *store, const char *type, const char *id,
                 const char *fields_json, const char *author, char **out_id,
                 mq_error *err);

/**
 * One problem of a form: `field` (NULL for the record as a whole, e.g. a
 * rule across two fields) and the rule it breaks, as a sentence ("check
 * digit is 1, expected X", "is required").  Both borrowed.
 */
typedef void (*mq_field_cb)(void *ctx, const char *field, const char *problem);

/**
 * Checks what mq_store_put(store, type, id, fields_json, ...) would check,
 * writing nothing, and passes EVERY problem found (not only the first) to
 * `cb` (may be NULL): the page shows each beside its field.  The defaults
 * are applied first, as put would apply them to a new record.  Uses the one
 * validator of put and import.
 *
 * @param[out] problems  how many problems were found (may be NULL)
 * @return 0 when the check ran, problems or not; an error code when it
 *         could not run (unknown type, `fields_json` not a JSON object, a
 *         bad id, a store without a site)
 */
int mq_store_validate(mq_store *store, const char *type, const char *id,
                      const char *fields_json, mq_field_cb cb, void *ctx,
                      size_t *problems, mq_error *err);

/**
 * Receives the warnings of local writes (put and import): a value that the
 * schema asks not to repeat ("warn_duplicate", a household head's identity
 * number) held by another live record.  A warning never refuses the write.
 * `message` is borrowed: "warning: household ID: field head_id_number: 1
 * other household record holds the same value (value "..."): OTHER_ID".
 */
typedef void (*mq_warning_cb)(void *ctx, const char *message);

/** Sets the receiver of warnings (NULL drops them, the default). */
void mq_store_on_warning(mq_store *store, mq_warning_cb cb, void *ctx);

/** Deletes a mutable record: writes a tombstone that merges like a field. */
int mq_store_delete(mq_store *store, const char *id, const char *author, mq_error *err);

/* ---- reads -------------------------------------------------------------- */

/** A walk's visitor: `json` is one JSON object, borrowed. */
typedef int (*mq_json_cb)(void *ctx, const char *json);

/**
 * Reads one record, deleted or not.  A tombstone adds "deleted":true.
 * @param[out] out  the record's JSON, the caller's
 * @return 0, MQ_ENOTFOUND or another error code
 */
int mq_store_get(mq_store *store, const char *id, char **out, mq_error *err);

/** One FIELD=VALUE condition of mq_store_list(). */
typedef struct mq_where {
    const char *field; /**< a field of the listed type */
    const char *value; /**< compared with the field's value as text */
} mq_where;

/** Walks the live records of `type` that meet every condition. */
int mq_store_list(mq_store *store, const char *type, const mq_where *where, size_t nwhere,
                  mq_json_cb cb, void *ctx, mq_error *err);

/**
 * Walks the live records whose searchable fields (the schema marks them:
 * names, identity numbers, phone numbers) contain `text`.  Substring search,
 * so a two-character Chinese name is found.
 */
int mq_store_search(mq_store *store, const char *text, mq_json_cb cb, void *ctx,
                    mq_error *err);

/**
 * mq_store_search() in no particular order, without sorting first, so that
 * the walk costs what the callback reads before it stops it: a screen that
 * shows the first 50 of 20,000 hits reads about 50 (and one that finds
 * few, one scan of the searchable values).
 */
int mq_store_search_walk(mq_store *store, const char *text, mq_json_cb cb, void *ctx,
                         mq_error *err);

/**
 * Walks the groups of live records that share the value of a field the
 * schema marks "warn_duplicate", as
 * {"type":T,"field":F,"value":V,"ids":[ID,...]} (`minqing check` lists
 * them as warnings).
 */
int mq_store_duplicates(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/**
 * Walks every change of record `id`, oldest first, as
 * {"v":VERSION,"at":ISO-8601,"site":S,"by":CADRE,"set":{...},"base":{...}}.
 */
int mq_store_history(mq_store *store, const char *id, mq_json_cb cb, void *ctx,
                     mq_error *err);

/* ---- interchange -------------------------------------------------------- */

/** What mq_store_import() should do. */
typedef struct mq_import_opts {
    /** 0: all or nothing; 1: store the valid records and report the others */
    int skip_invalid;
    /** author of the imported records; NULL means the replica's cadre */
    const char *author;
    /** name used in messages, e.g. the file name; may be NULL */
    const char *source;
    /** called once for each invalid record with its message; may be NULL */
    void (*on_invalid)(void *ctx, const char *message);
    void *ctx;
} mq_import_opts;

/** What mq_store_import() did. */
typedef struct mq_import_stats {
    size_t lines;     /**< non-empty lines read */
    size_t created;   /**< records created */
    size_t updated;   /**< existing records that changed */
    size_t unchanged; /**< existing records already equal */
    size_t invalid;   /**< records refused */
} mq_import_stats;

/**
 * Imports interchange JSON Lines from `in`, streaming, in one transaction.
 * References may point at records that come later in the same input.  With
 * skip_invalid 0, any invalid record aborts the import (every invalid record
 * is still reported through on_invalid) and nothing is written; the call
 * then returns MQ_EINVAL.
 */
int mq_store_import(mq_store *store, FILE *in, const mq_import_opts *opts,
                    mq_import_stats *stats, mq_error *err);

/** Writes the live records (of `type`, or all when NULL) as JSON Lines. */
int mq_store_export(mq_store *store, const char *type, FILE *out, mq_error *err);

/* ---- change exchange ---------------------------------------------------- */

/**
 * The changes a replica sends to another.  Each change is one JSON object
 *
 *   {"v":VERSION,"type":T,"id":ID,"by":CADRE,"set":{FIELD:VALUE,...},
 *    "base":{FIELD:[VERSION,...],...}}
 *
 * where VERSION is "HHHHHHHHHHHHHHHH-SITE": the writer's hybrid logical clock
 * in 16 hex digits, then its site.  "base" lists, per field, the versions the
 * writer had seen and meant to replace; "by" and "base" may be absent.
 */
typedef struct mq_changes_query {
    int64_t since;            /**< cursor: changes after this local sequence */
    size_t limit;             /**< at most this many changes; 0 for all */
    const char *const *areas; /**< only changes of records in these areas and */
    size_t nareas;            /**< the areas below them, and of records that
                                   belong to no area (cadres); nareas 0: all */
    const char *skip_source;  /**< leave out changes that arrived from this
                                   source (see mq_store_apply_change()); NULL
                                   keeps all */
} mq_changes_query;

/**
 * Walks the changes after `q->since` in this replica's arrival order.
 *
 * With areas and a cursor past 0, records that moved are followed
 * (docs/STORE.md, "Records that move"): a change that moves a record into
 * the areas (its scope field replaced: a household's area, a member's
 * household, a group's parent) comes right after the history the reader is
 * owed, every change up to `q->since` of that record and of each record
 * below it on the scope path; and a change that moves a record out of the
 * areas is handed over too when the value it replaced was set at or before
 * `q->since` inside them, so the reader learns where it went.  Such a
 * history is handed over whole here, even past `q->limit`; a reader that
 * pages with a limit uses mq_store_changes_page().  Changes may so come
 * twice; applying one twice changes nothing (M1).
 * @param[out] next  the cursor to pass as `since` next time (may be NULL)
 */
int mq_store_changes(mq_store *store, const mq_changes_query *q, mq_json_cb cb, void *ctx,
                     int64_t *next, mq_error *err);

/** Where a paged walk of the log stopped, for mq_store_changes_page(). */
typedef struct mq_changes_pos {
    int64_t seq;    /**< the changes of the log up to this sequence were handed over */
    int64_t replay; /**< and of the history owed before the change at seq + 1 (a
                         move into the areas), those up to this sequence; 0: none */
} mq_changes_pos;

/**
 * mq_store_changes() in pages of at most `q->limit` changes, histories owed
 * included: a page may end inside the history owed to a moved record, and
 * `next` then says how far it went.  Pass `next->seq` as `q->since` and
 * `next->replay` as `replay` to go on (0 and 0 from the start); a page
 * asked again from the same position hands over the same changes, so a
 * reader that stores the position with what it applied, in one
 * transaction, resumes where it stopped.
 * @param[out] next  where to go on from (may be NULL)
 */
int mq_store_changes_page(mq_store *store, const mq_changes_query *q, int64_t replay,
                          mq_json_cb cb, void *ctx, mq_changes_pos *next, mq_error *err);

/** Writes a bundle (a header line, then one change per line) for `q`. */
int mq_store_write_bundle(mq_store *store, const mq_changes_query *q, FILE *out,
                          int64_t *next, mq_error *err);

/** What became of one change handed to mq_store_apply_change(). */
typedef enum mq_apply_result {
    MQ_APPLIED = 0,     /**< new, merged */
    MQ_DUPLICATE = 1,   /**< already had it; nothing changed */
    MQ_REJECTED = 2,    /**< invalid here; see the error for why */
    MQ_OUT_OF_SCOPE = 3 /**< outside the areas given to mq_store_apply_scoped();
                             nothing written */
} mq_apply_result;

/**
 * Merges one change from another replica.  Runs inside the caller's
 * transaction when one is open (mq_store_begin()), else in its own.  A change
 * that is invalid here yields MQ_REJECTED with the reason in `err` and
 * returns 0: rejecting is an outcome, not a failure of the call.
 * `source` (may be NULL) names where the change came from, e.g. "server";
 * mq_changes_query.skip_source uses it so a change is not sent back.
 */
int mq_store_apply_change(mq_store *store, const char *change_json, const char *source,
                          mq_apply_result *result, mq_error *err);

/**
 * Tells whether a change touches only records inside `areas` (and the areas
 * below them): the record's current area, and the area it would move to.
 * A record of a type that belongs to no area (a cadre) is in every scope.
 * @param[out] in_scope  1 or 0
 */
int mq_store_change_in_scope(mq_store *store, const char *change_json,
                             const char *const *areas, size_t nareas, int *in_scope,
                             mq_error *err);

/**
 * mq_store_change_in_scope() and mq_store_apply_change() in one step, for a
 * replica that takes a sender's changes only within the sender's areas (the
 * server, for one device): the change is parsed once, and merged only when
 * in scope; otherwise *result is MQ_OUT_OF_SCOPE and nothing is written.
 * `areas` NULL (or `nareas` 0) is an empty scope: only records that belong
 * to no area are taken.  Transactions and refusals as
 * mq_store_apply_change().
 */
int mq_store_apply_scoped(mq_store *store, const char *change_json, const char *source,
                          const char *const *areas, size_t nareas,
                          mq_apply_result *result, mq_error *err);

/* cJSON's node, for callers that hold a change already parsed. */
struct cJSON;

/** The areas a sender may write, for mq_store_apply_json(). */
typedef struct mq_scope {
    const char *const *areas; /**< may be NULL when nareas is 0 */
    size_t nareas;            /**< 0: only records that belong to no area */
} mq_scope;

/**
 * Merges one change that the caller has already parsed with cJSON (a
 * pushed batch, a pulled page, a bundle line): the one path from the wire
 * to the store, so that a change is parsed once.  `change` is borrowed and
 * not modified.  `scope` NULL takes the change as mq_store_apply_change()
 * does; otherwise only within the scope, as mq_store_apply_scoped().
 * Transactions, results and refusals as mq_store_apply_change().
 */
int mq_store_apply_json(mq_store *store, const struct cJSON *change, const char *source,
                        const mq_scope *scope, mq_apply_result *result, mq_error *err);

/**
 * Checks JSON text from outside before cJSON parses it for
 * mq_store_apply_json(): cJSON decodes "\u0000" into a NUL that cuts the
 * string for every reader, so text holding that escape, or a NUL byte, is
 * refused (docs/STORE.md, "Values from outside").
 * @return 0, or MQ_EINVAL with `err` naming the field and the rule
 */
int mq_json_check_text(const char *text, size_t len, mq_error *err);

/**
 * A JSON text parsed into cJSON nodes that live in one arena: for the
 * bodies of bulk requests (a pushed batch), where cJSON_Parse() and
 * cJSON_Delete() spend most of their time allocating and freeing nodes one
 * by one.  The tree is cJSON's own for the same text (what cJSON_Parse()
 * would give), read with cJSON's functions; its nodes must never be passed
 * to cJSON_Delete() or to a cJSON call that adds, detaches or replaces.
 */
typedef struct mq_json_doc mq_json_doc;

/**
 * Parses `text` (`len` bytes; copied) as cJSON_Parse() would, except that
 * the text must be one JSON value and nothing after it but white space.
 * @param[out] out  the caller's, freed with mq_json_doc_free(); NULL on error
 * @return 0, MQ_EINVAL when the text is not one JSON value, or MQ_ENOMEM
 */
int mq_json_doc_parse(mq_json_doc **out, const char *text, size_t len, mq_error *err);
/** The root of `doc`, or NULL when `doc` is NULL; borrowed until
 *  mq_json_doc_free(). */
const struct cJSON *mq_json_doc_root(const mq_json_doc *doc);
/** Frees `doc` and every node of it; NULL is ignored. */
void mq_json_doc_free(mq_json_doc *doc);

/**
 * mq_store_apply_json() for a change that is a node of `doc`: the same
 * merge, which may also take a creation's fields as they stand in the text
 * instead of printing them again.
 */
int mq_store_apply_doc(mq_store *store, const mq_json_doc *doc,
                       const struct cJSON *change, const char *source,
                       const mq_scope *scope, mq_apply_result *result, mq_error *err);

/** What mq_store_apply_bundle() should do. */
typedef struct mq_apply_opts {
    /** 0: all or nothing; 1: apply the valid changes, keep the others in the
     *  rejected list with their reason */
    int skip_invalid;
    /** where the bundle came from, e.g. its file name: used in messages and
     *  kept with rejected changes; NULL means "bundle" */
    const char *source;
    /** called once for each invalid change with its message (bundle line,
     *  change, field, rule, value); may be NULL */
    void (*on_invalid)(void *ctx, const char *message);
    void *ctx;
} mq_apply_opts;

/** What mq_store_apply_bundle() did. */
typedef struct mq_apply_stats {
    size_t applied, duplicate, rejected;
} mq_apply_stats;

/**
 * Merges a bundle read from `in`, in one transaction.  A bundle that is not
 * whole (no header, no end line, a count that does not match) is refused and
 * nothing is written.  With skip_invalid 0 any invalid change aborts it:
 * every invalid change is still reported through on_invalid, nothing is
 * written and the call returns MQ_EINVAL.  `opts` NULL means all or nothing.
 */
int mq_store_apply_bundle(mq_store *store, FILE *in, const mq_apply_opts *opts,
                          mq_apply_stats *stats, mq_error *err);

/**
 * mq_store_apply_bundle() for a replica that takes a sender's bundle only
 * within the sender's areas (the office opening a device's sealed bundle):
 * a change outside `scope` is an invalid change, "out of scope: the record
 * is outside the areas of SENDER", where `sender` names it (e.g. "device
 * t1").  Inside the caller's transaction when one is open.
 */
int mq_store_apply_bundle_scoped(mq_store *store, FILE *in, const mq_apply_opts *opts,
                                 const mq_scope *scope, const char *sender,
                                 mq_apply_stats *stats, mq_error *err);

/** Opens a transaction spanning several calls (e.g. one pushed batch). */
int mq_store_begin(mq_store *store, mq_error *err);
/** Commits the transaction opened by mq_store_begin(). */
int mq_store_commit(mq_store *store, mq_error *err);
/** Rolls back the transaction opened by mq_store_begin().  Never fails. */
void mq_store_rollback(mq_store *store);

/**
 * Keeps a change this replica could not apply, with the reason, so that it
 * is never silently lost.  `source` says who refused it ("server", a file).
 */
int mq_store_reject(mq_store *store, const char *change_json, const char *source,
                    const char *reason, mq_error *err);

/** Walks the rejected changes: {"change":{...},"source":S,"reason":R,"at":T}. */
int mq_store_rejected(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/* ---- conflicts ---------------------------------------------------------- */

/**
 * Walks the open conflicts: fields with two or more concurrent values, as
 * {"conflict":ID,"type":T,"id":RID,"field":F,"value":WINNER,
 *  "candidates":[{"v":VERSION,"value":V,"by":CADRE,"site":S,"at":T},...]}.
 */
int mq_store_conflicts(mq_store *store, mq_json_cb cb, void *ctx, mq_error *err);

/**
 * Resolves conflict `conflict_id` ("RID/FIELD") by writing `value_json` as a
 * new change based on every concurrent version, so the conflict closes on
 * every replica that receives it.
 */
int mq_store_resolve(mq_store *store, const char *conflict_id, const char *value_json,
                     const char *author, mq_error *err);

/* ---- reports ------------------------------------------------------------ */

/** Which needs mq_store_needs() walks. */
typedef struct mq_needs_query {
    int overdue_only;  /**< only needs past their deadline and not resolved */
    const char *area;  /**< only needs in this area or below; NULL for all */
    const char *today; /**< "YYYY-MM-DD"; NULL for the replica's clock */
} mq_needs_query;

/**
 * Walks the live needs with their status folded from their actions:
 * {"id":..,"household":..,"area":..,"category":..,"deadline":..,
 *  "status":"open"|"resolved"|"overdue"|"reopened","accepted_by":..,
 *  "handler":CADRE (who handles it now, after any transfer),
 *  "resolved_at":..,"actions":N, "fields":{...}}.
 */
int mq_store_needs(mq_store *store, const mq_needs_query *q, mq_json_cb cb, void *ctx,
                   mq_error *err);

/* ---- integrity ---------------------------------------------------------- */

/**
 * Checks the file (SQLite's integrity check) and the change log: every
 * record's stored state must equal the state folded from its changes.  Each
 * problem is passed to `cb` as a sentence.
 * @param[out] problems  how many problems were found
 */
int mq_store_check(mq_store *store, void (*cb)(void *ctx, const char *problem), void *ctx,
                   size_t *problems, mq_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_STORE_H */
