/*
 * core/internal.h - what the files of core/ share and nothing outside sees.
 *
 * The store is one SQLite connection plus the compiled schema, the hybrid
 * logical clock and a few prepared statements that the hot paths (import,
 * apply) reuse.  docs/STORE.md describes the tables and the invariants that
 * the code below keeps; merge.c states them again where they are enforced.
 *
 * The files of core/, in an order in which each calls only files before it
 * (so the calls between them have no cycle); the sections below follow it.
 * store.c, which opens and closes the store, is called by none of them.
 *
 *   error.c names.c util.c date.c json.c line.c hlc.c    no store needed
 *   schema.c db.c                                        the schema; SQLite
 *   clock.c kind.c tx.c                                  stamps, lookups, tx
 *   area.c validate.c record.c                           areas, values, rows
 *   fold.c change.c conflicts.c                          the log, the wire
 *   merge.c check.c read.c                               merge, check, read
 *   write.c bundle.c import.c needs.c                    the verbs on top
 *   store.c                                              open and close
 */
#ifndef MQ_INTERNAL_H
#define MQ_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "minqing/store.h"
#include "minqing/valid.h"
#include "hlc.h"
#include "schema.h"

#define MQ_BASE_MAX 64 /* versions a change may name per field */
/* The type whose records author changes: a change's `by` names one. */
#define MQ__AUTHOR_TYPE "cadre"

/*
 * SQL for the creation of record RID (an SQL expression) stored once (M7),
 * selecting COLS from change c and record r.  It is the record's only change,
 * so its version is the record's cv: found through record(id) and change(v),
 * as change_rid holds only changes with a body (store.c).  A record's log is
 * the changes of change_rid for it, UNION ALL this.
 */
#define MQ__CREATION_ONCE(cols, rid)                                                     \
    "SELECT " cols " FROM record r JOIN change c ON c.v = r.cv WHERE r.id = " rid        \
    " AND c.rid = " rid " AND c.body IS NULL"

/*
 * Prepared statements kept for the life of the store (db.c).  The four that
 * write a record row (MQ_ST_REC_INSERT in merge.c, MQ_ST_REC_UPSERT in
 * record.c, MQ_ST_SET_AREA in area.c, and the import's undo) also keep the
 * tables derived from the row: record_search and need_state's names (S2,
 * N2); no other code writes the record table.
 */
enum mq__stmt_id {
    MQ_ST_REC_LOAD,
    MQ_ST_REC_UPSERT,
    MQ_ST_REC_KIND,
    MQ_ST_CHANGE_INSERT,
    MQ_ST_CHANGES_OF,
    MQ_ST_CHILDREN,
    MQ_ST_SET_AREA,
    MQ_ST_CONFLICT_ADD,
    MQ_ST_CONFLICT_DEL,
    MQ_ST_CONFLICT_HAS,
    MQ_ST_CONFLICTS_OF,
    MQ_ST_PARENT,
    MQ_ST_KEEP_CREATION,
    MQ_ST_REC_INSERT,
    MQ_ST_ORPHANS_OF,
    MQ_ST_ANY_ORPHAN,
    MQ_ST_SEARCH_PUT,
    MQ_ST_SEARCH_DROP,
    MQ_ST_COUNT
};

struct mq_store {
    sqlite3 *db;
    char *path;
    mq_schema *schema;
    char site[MQ_SITE_MAX + 1]; /* "" until mq_store_init() */
    char *cadre;
    int64_t clock_offset_ms;
    /* Where the offset was measured, for mq_store_now_ms() (clock.c): the
     * wall and uptime clocks then; `anchored` when that was in this boot. */
    int64_t anchor_wall_ms, anchor_uptime_ms;
    int anchored;
    mq_hlc hlc;
    uint64_t hlc_saved;      /* the clock as last read from or written to meta */
    uint64_t hlc_high_saved; /* and its high mark (clock.c) */
    int tx_depth;            /* nesting of mq__tx_begin(); 0 outside any transaction */
    int user_tx;             /* 1 while mq_store_begin() holds a transaction open */
    sqlite3_stmt *stmt[MQ_ST_COUNT];
    /* write.c: the duplicate lookups of warn_duplicate fields, prepared
     * once each (finalised with the statements above). */
    struct {
        const struct mq_field *field;
        sqlite3_stmt *st;
    } dupq[8];
    struct mq__kinds *kinds; /* kind.c's cache; NULL until first used */
    /* area.c: whether a record may be waiting for its parent (parent set,
     * area NULL): -1 not known, 0 none, 1 maybe.  Forgotten like the kind
     * cache (K2), set to 1 by every write of such a row. */
    int orphans;
    struct mq__json *out; /* merge.c: the writer a creation's fields are printed by */
    struct mq__scope_memo *scope_memo; /* area.c; NULL until first used */
    struct mq_ext *exts;      /* ext.c's parts (minqing/ext.h); NULL until declared */
    mq_warning_cb on_warning; /* mq_store_on_warning(); NULL: warnings dropped */
    void *warning_ctx;
    struct mq__need_dirty *need_dirty; /* the needs a write named (need_state.c) */
    int lists_fold; /* 1: the needs list folds the day even when need_state
                       serves it (need_state.h; the tests compare both) */
};

/* ---- errors (error.c) --------------------------------------------------- */

/* mq_error_set() in the minqing domain, code `rc`: fills `err` (may be NULL)
 * and returns `rc`. */
int mq__fail(mq_error *err, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int mq__failv(mq_error *err, int rc, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 0)))
#endif
    ;
/* An SQLite failure on the store's connection, with `what` for context. */
int mq__fail_sqlite(mq_error *err, sqlite3 *db, const char *what);

/* ---- strings, memory, ids (util.c) --------------------------------------- */

char *mq__strdup(const char *s);
/* The length of `s` in code points; -1 if it is not valid UTF-8 (overlong
 * forms and surrogates included). */
long mq__utf8_length(const char *s);
/* Copies `src` into `dst` of `cap` bytes, cut to fit; always terminated. */
void mq__copy(char *dst, size_t cap, const char *src);
/* A new random record id (UUID version 4). */
int mq__new_id(char out[37], mq_error *err);

/* ---- dates (date.c) ------------------------------------------------------ */

/* A real calendar date written YYYY-MM-DD; `why` says what is wrong. */
int mq__check_date(const char *s, char *why, size_t n);
/* The day `days` after `date` (a real date, YYYY-MM-DD) into `out`;
 * MQ_EINVAL when `date` is not one. */
int mq__date_add(const char *date, long days, char out[11]);

/* ---- the JSON writer (json.c) ------------------------------------------- */

/*
 * A writer of JSON texts: whether some step failed for want of memory
 * (sticky: once set, nothing more is printed) and the buffer the texts are
 * printed into, reused from one to the next.
 */
typedef struct mq__json {
    int oom;
    char *text;
    size_t cap;
    struct mq__form *form[2]; /* json.c: the row forms, made on first use */
} mq__json;

void mq__json_init(mq__json *j);
void mq__json_free(mq__json *j);
/* A new object or array to build a text in; NULL (and oom set) on failure. */
cJSON *mq__json_object(mq__json *j);
cJSON *mq__json_array(mq__json *j);
/*
 * Adds `item` (taken) to object `to` under `key` (copied), or to array `to`
 * when `key` is NULL.  A NULL `to` or `item`, or a failed add, sets oom
 * (and deletes item).  Returns the item added or NULL.
 */
cJSON *mq__json_add(mq__json *j, cJSON *to, const char *key, cJSON *item);
/* Adds a copy of string `v`, or null when `v` is NULL. */
cJSON *mq__json_add_str(mq__json *j, cJSON *to, const char *key, const char *v);
/* Adds `raw`, JSON text the store printed itself (json.c), as it is. */
cJSON *mq__json_add_raw(mq__json *j, cJSON *to, const char *key, const char *raw);
/*
 * Prints `root` compactly.  *out is borrowed until the next print or
 * mq__json_free().  MQ_ENOMEM, printing nothing, if oom is set.
 */
int mq__json_print(mq__json *j, cJSON *root, const char **out);
/* Prints {"type":T,"id":I,"fields":F}, with "deleted":true if asked; F is
 * a record row's stored fields. */
int mq__json_record(mq__json *j, const char *type, const char *id, const char *fields,
                    int deleted, const char **out);
/* Prints a change in its wire form from a change row; `by` and `base` may be
 * NULL; `body` and `base` are stored JSON text. */
int mq__json_change(mq__json *j, const char *v, const char *type, const char *id,
                    const char *by, const char *body, const char *base, const char **out);
/* A copy of `fields` without null members; the caller deletes it. */
cJSON *mq__json_strip_nulls(const cJSON *fields);
/* Formats a JSON value for an error message, shortened; the caller frees.
 * NULL when out of memory. */
char *mq__value_text(const cJSON *v);

/* ---- JSON texts parsed into an arena (jdoc.c) ----------------------------- */

/* A parser whose nodes live in blocks kept from one text to the next. */
typedef struct mq__jdoc mq__jdoc;

mq__jdoc *mq__jdoc_new(void); /* NULL when out of memory */
void mq__jdoc_free(mq__jdoc *d);
/*
 * Parses NUL-terminated `text` into `d`, forgetting the previous tree.  The
 * tree is cJSON's own for the same text, borrowed until the next parse or
 * mq__jdoc_free(); never to be freed, detached or relinked.  NULL when the
 * text is outside the subset parsed here (or memory ran out): cJSON_Parse()
 * then decides, and may still accept it.
 */
const cJSON *mq__jdoc_parse(mq__jdoc *d, const char *text);
/*
 * The text of container `node` (of a tree of mq__jdoc_parse()) when it is
 * exactly what cJSON_PrintUnformatted() prints for it, with its length in
 * *len; NULL otherwise.  Borrowed from the parsed text.
 */
const char *mq__jdoc_plain(const cJSON *node, size_t *len);
/* Whether the nodes of public document `d` are the arena's (so that
 * mq__jdoc_plain() may be asked about them). */
int mq__json_doc_arena(const mq_json_doc *d);

/* ---- reading lines (line.c) --------------------------------------------- */

/* A JSON Lines input read one line at a time (fields are line.c's). */
typedef struct mq__lines {
    FILE *in;
    size_t max; /* the longest line accepted, in bytes, without its "\n" */
    char *buf;
    size_t cap;
    long number; /* lines read so far: the number of the one just read */
    char *blk;   /* the input, read ahead in blocks */
    size_t blen, bpos;
    int eof;
    int skipping;   /* the rest of an overlong line is still to be skipped */
    size_t skipped; /* of it so far */
    int fatal;      /* set with MQ_EINVAL when reading cannot go on */
    char why[320];  /* what is wrong with the line (MQ_EINVAL); "" if too long */
} mq__lines;

void mq__lines_init(mq__lines *r, FILE *in, size_t max);
/*
 * Reads the next line into *line (borrowed until the next call), without
 * its "\n" or "\r\n".  Returns 0; MQ_ENOTFOUND at the end of the input or
 * on a read error (tell them apart with ferror()); MQ_ENOMEM; MQ_EINVAL for
 * a line that is invalid, r->why saying why: empty for a line longer than
 * `max` bytes (its rest is skipped by the next call, so that reading may go
 * on), else a line holding `\u0000` (named by mq__json_nul_escape()), or,
 * with r->fatal set, a NUL byte or a line that never ends: no more is read.
 * Each line counts in r->number, whatever the result.  The input is read
 * ahead: its position after a call is not the end of the line.
 */
int mq__lines_next(mq__lines *r, char **line, size_t *len);
void mq__lines_free(mq__lines *r);

/*
 * Whether JSON text `text` (len bytes) holds a `\u0000` escape, which cJSON
 * would decode into a NUL that cuts the string.  Returns 1 with `why`
 * naming the field and the rule, else 0.
 */
int mq__json_nul_escape(const char *text, size_t len, char *why, size_t n);

/* ---- SQLite plumbing (db.c) ---------------------------------------------- */

/* Returns the cached statement `id`, reset and with bindings cleared. */
sqlite3_stmt *mq__stmt(mq_store *s, enum mq__stmt_id id, mq_error *err);
/* Finalises the cached statements (at close). */
void mq__stmt_free_all(mq_store *s);
/* Runs SQL with no result rows. */
int mq__exec(mq_store *s, const char *sql, mq_error *err);
/* Binds a possibly NULL text. */
int mq__bind_text(sqlite3_stmt *st, int i, const char *v);
/* The column as a string or NULL; borrowed until the next step/reset. */
const char *mq__col_text(sqlite3_stmt *st, int i);
/* Reads meta[key]; *out is the caller's, NULL when unset. */
int mq__meta_get(mq_store *s, const char *key, char **out, mq_error *err);
/* Writes meta[key]; `value` NULL removes it. */
int mq__meta_set(mq_store *s, const char *key, const char *value, mq_error *err);

/* ---- the replica's stamp: site and clock (clock.c) ----------------------- */

/* MQ_ESTATE unless mq_store_init() has given the store a site. */
int mq__require_site(mq_store *s, mq_error *err);
/* A fresh version for a local change: never one this site issued before,
 * even after a correction stepped the clock back (clock.c). */
int mq__next_version(mq_store *s, char out[MQ_VERSION_MAX], mq_error *err);
/* Sets *yes to whether version `v` is in the change log (M1: a second
 * arrival is a duplicate; a fresh stamp must not be one already made). */
int mq__version_logged(mq_store *s, const char *v, int *yes, mq_error *err);
/* Raises the clock to the one kept in meta (outermost begin, open). */
int mq__clock_load(mq_store *s, mq_error *err);
/* Writes the clock back to meta if it moved (outermost commit). */
int mq__clock_save(mq_store *s, mq_error *err);
/* Reads the clock offset and where it was measured from meta (open). */
int mq__clock_offset_load(mq_store *s, mq_error *err);

/* ---- parts' tables (ext.c) ---------------------------------------------- */

/* Finalizes and frees the parts of `s`: mq_store_close(), before the
 * connection closes. */
void mq__ext_free(mq_store *s);

/* ---- what a record id is (kind.c) ------------------------------------------ */

typedef struct mq__kind {
    int exists;
    const mq_type *type; /* NULL if the stored type is not in the schema */
    char type_name[64];
    int deleted;
    char area[64]; /* "" when none */
} mq__kind;

/* Looks up `id` (cached within a transaction: kind.c, K1-K3). */
int mq__kind_get(mq_store *s, const char *id, mq__kind *out, mq_error *err);
/* Must be called before writing record `id`'s row (K1). */
void mq__kind_forget(mq_store *s, const char *id);
/* Remembers what was just written to record `id`'s row (K1, K3: `k` must
 * describe a record that exists); nothing outside a transaction (K2). */
void mq__kind_put(mq_store *s, const char *id, const mq__kind *k);
/* Clears the cache (K2): at the outermost begin and at every rollback. */
void mq__kind_reset(mq_store *s);
void mq__kind_free(mq_store *s);

/* ---- transactions (tx.c) -------------------------------------------------- */

/* Opens a transaction, or a savepoint inside the one already open. */
int mq__tx_begin(mq_store *s, mq_error *err);
int mq__tx_commit(mq_store *s, mq_error *err);
void mq__tx_rollback(mq_store *s);

/* ---- a record's stored state (record.c) ---------------------------------- */

typedef struct mq__rec {
    int exists;
    char id[64];
    const mq_type *type;
    cJSON *fields; /* owned object; may hold nulls for cleared fields */
    cJSON *vers;   /* owned object: field -> version or [versions] */
    char cv[MQ_VERSION_MAX];
    int deleted;
    char *parent; /* owned or NULL */
    char *area;   /* owned or NULL */
} mq__rec;

/* Loads record `id`; rec->exists is 0 if there is none. */
int mq__rec_load(mq_store *s, const char *id, mq__rec *rec, mq_error *err);
int mq__rec_save(mq_store *s, mq__rec *rec, mq_error *err);
void mq__rec_clear(mq__rec *rec);

/*
 * The heads of `field`: the versions that no known change has replaced.
 * Writes up to `max` pointers into `out` (borrowed from rec) and returns the
 * count (which may exceed max).  The winner is the greatest.
 */
size_t mq__rec_heads(const mq__rec *rec, const char *field, const char **out, size_t max);

/* Sets rec's state of `field` from a fold (heads sorted, winner last). */
int mq__rec_set_field(mq__rec *rec, const char *field, const cJSON *value,
                      const char *const *heads, size_t nheads);

/* ---- areas (area.c) ------------------------------------------------------ */

/* Recomputes parent and area of `rec` from its fields (scope path). */
int mq__rec_scope(mq_store *s, mq__rec *rec, mq_error *err);
/*
 * Parent and area of record `id` of `type` whose fields are `fields`, into
 * buffers of 64 bytes; "" when none.
 */
int mq__scope_of(mq_store *s, const mq_type *type, const char *id, const cJSON *fields,
                 char parent[64], char area[64], mq_error *err);
/* Gives every record below `id` whose area derives from it the area `area`. */
int mq__area_cascade(mq_store *s, const char *id, const char *area, mq_error *err);
/*
 * The same for record `id` that did not exist before this write: only the
 * records waiting for it (area NULL) can be below it (area.c).
 */
int mq__area_adopt(mq_store *s, const char *id, const char *area, mq_error *err);
/* Notes that a row of parent `parent` and area `area` was written. */
void mq__orphan_note(mq_store *s, const char *parent, const char *area);
/* The name of the schema's area type (the one whose records are areas), or "". */
const char *mq__area_type_name(const mq_store *s);
/*
 * Whether `area` is one of `areas` or below one of them (*yes), by a walk
 * up the area tree, remembered for the transaction (the scope memo).
 */
int mq__area_within(mq_store *s, const char *area, const char *const *areas, size_t n,
                    int *yes, mq_error *err);
/*
 * Forgets which areas mq__area_within() found within a device's scope: at the
 * outermost begin and every rollback (as the lookup cache, K2), and before
 * an area's row is written (its parent may change).  Freed at close.
 */
void mq__scope_memo_reset(mq_store *s);
void mq__scope_memo_free(mq_store *s);
/* Fills temp table mq_scope(id) with `areas` and every area below them. */
int mq__scope_fill(mq_store *s, const char *const *areas, size_t n, mq_error *err);

/* ---- validation (validate.c) --------------------------------------------- */

/*
 * Checks one field value against its declaration.  Writes the rule and the
 * value that broke it into `why`.
 */
int mq__check_value(const mq_field *f, const cJSON *value, char *why, size_t n);
/* mq__check_value() without the value: the rule alone ("is required",
 * "check digit is 1, expected X (GB 11643)"), for a form's field. */
int mq__check_rule(const mq_field *f, const cJSON *value, char *why, size_t n);

/*
 * Checks that `value` of ref field `f` names a live record of the right
 * type.  Returns 0, MQ_ENOTFOUND (no such record yet: import defers these)
 * or MQ_EINVAL with `why` filled.
 */
int mq__check_ref(mq_store *s, const mq_field *f, const char *value, char *why, size_t n,
                  mq_error *err);

/* ---- the log and its fold (fold.c) --------------------------------------- */

/* One row of a record's change log, as the fold reads it. */
typedef struct mq__logrow {
    char v[MQ_VERSION_MAX];
    char by[64];
    cJSON *set;
    cJSON *base; /* may be NULL */
} mq__logrow;

/* Loads every change of record `rid`.  @param[out] rows the caller's. */
int mq__log_load(mq_store *s, const char *rid, mq__logrow **rows, size_t *n,
                 mq_error *err);
void mq__log_free(mq__logrow *rows, size_t n);

/*
 * Folds the changes of one field: the heads (versions no other change of the
 * field names in its base), sorted, the winner's value (the greatest head's)
 * and whether the heads disagree.  `heads` must hold n pointers; they borrow
 * from rows.  Returns the number of heads (0 if no change sets the field).
 */
size_t mq__fold_field(const mq__logrow *rows, size_t n, const char *field,
                      const char **heads, const cJSON **value, int *conflict);

/*
 * Folds record `rid`'s whole log into `out` (parent and area included):
 * what the stored row must equal.  out->exists is 0 when the log has no
 * change of the record.
 */
int mq__rec_fold(mq_store *s, const char *rid, mq__rec *out, mq_error *err);

/* ---- a change on the wire (change.c) ------------------------------------- */

/* A change, parsed from another replica's JSON or made by a local write. */
typedef struct mq__change {
    char v[MQ_VERSION_MAX];
    uint64_t hlc;
    const mq_type *type;
    char id[64];
    char by[64];       /* "" when unknown */
    const cJSON *set;  /* object of field values; "_deleted" for tombstones */
    const cJSON *base; /* may be NULL: object field -> array of versions */
    /* When known, the text cJSON_PrintUnformatted() prints for `set`
     * (borrowed); NULL otherwise. */
    const char *set_text;
    size_t set_len;
    /* What mq__change_clear() deletes: a local write's set and base.  A
     * parsed change borrows set and base from the tree it was parsed from. */
    cJSON *own_set, *own_base;
} mq__change;

void mq__change_clear(mq__change *c);

/*
 * Parses and checks a change from another replica.  Field values are checked
 * for kind and bounds only: whether a reference resolves depends on delivery
 * order, and the merge must not.  `out` borrows from `obj`, which must
 * outlive it.
 */
int mq__change_parse(mq_store *s, const cJSON *obj, mq__change *out, mq_error *err);

/*
 * M6 for a change from another replica: a log record's only change is its
 * creation.  A second creation of a log record held here (another version,
 * no base) must set exactly the fields it holds; a different one is refused
 * (MQ_EINVAL): the first creation a replica holds stands.  0 otherwise.
 */
int mq__change_check_log(mq_store *s, const mq__change *c, mq_error *err);

/* ---- the conflict table (conflicts.c) ------------------------------------ */

/* Adds (on) or removes the conflict row of (rid, field). */
int mq__conflict_mark(mq_store *s, const char *rid, const char *field, int on,
                      mq_error *err);
/* Sets *yes to whether (rid, field) has a conflict row. */
int mq__conflict_has(mq_store *s, const char *rid, const char *field, int *yes,
                     mq_error *err);
/* The fields of record `rid` that have a conflict row, sorted: an array of
 * strings, the caller's. */
int mq__conflict_fields(mq_store *s, const char *rid, cJSON **out, mq_error *err);

/* ---- merge (merge.c) ---------------------------------------------------- */

/*
 * Merges a parsed change into the store, inside the caller's transaction.
 * `src` NULL marks a local change.  Sets *result to MQ_APPLIED or
 * MQ_DUPLICATE; returns an error (and writes nothing) when the change cannot
 * apply here, e.g. an id that already holds a record of another type.
 */
int mq__merge(mq_store *s, const mq__change *c, const char *src, mq_apply_result *result,
              mq_error *err);
/*
 * mq__merge() for a caller that has just loaded the record (mq__rec_load(),
 * same transaction, nothing written since): saves loading it again.  Takes
 * `loaded`: its contents are freed and it is left cleared.
 */
int mq__merge_loaded(mq_store *s, const mq__change *c, const char *src, mq__rec *loaded,
                     mq_apply_result *result, mq_error *err);

/*
 * Merges local change `c`, a creation from nothing whose record is not known
 * to exist, with one insert of the record row that says whether the id was
 * taken: then *taken is set and nothing is written (the caller looks the
 * record up and merges as usual).  *taken is also set when the set is not
 * in schema order.
 */
int mq__merge_new(mq_store *s, const mq__change *c, int *taken, mq_apply_result *result,
                  mq_error *err);

/* ---- local writes (write.c) ---------------------------------------------- */

/* What a local write did to its record. */
typedef enum { MQ_WROTE_NOTHING, MQ_WROTE_CREATED, MQ_WROTE_UPDATED } mq__wrote;

/*
 * A deferred reference: a ref to a record that does not exist yet, which an
 * import resolves at its end (the target may come later in the file).
 */
typedef int (*mq__defer_fn)(void *ctx, const mq_field *f, const char *target);

/*
 * Validates `fields` for record `id` of `type` and writes the change, inside
 * the caller's transaction.  With `defer` NULL a missing reference is an
 * error; otherwise it is handed to `defer`.  Nothing is written on error.
 * `fields_text` (may be NULL) is what cJSON_PrintUnformatted() prints for
 * `fields`, when the caller knows it (mq__jdoc_plain()).
 */
int mq__write(mq_store *s, const mq_type *type, const char *id, const cJSON *fields,
              const char *fields_text, size_t fields_len, const char *author,
              mq__defer_fn defer, void *defer_ctx, mq__wrote *wrote, mq_error *err);

/*
 * An author named for a local write (`--as`): a live record of
 * MQ__AUTHOR_TYPE.  NULL (the store's default cadre) is not checked here:
 * the default may name a cadre that the first sync brings.
 */
int mq__check_author(mq_store *s, const char *author, mq_error *err);

#endif /* MQ_INTERNAL_H */
