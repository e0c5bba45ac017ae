/*
 * core/write.c - local writes: put, delete and resolve.
 *
 * A local write is validated in full (kinds, bounds, required fields,
 * references that resolve), turned into one change stamped with a fresh
 * version of this replica, and merged through the same mq__merge() that
 * applies other replicas' changes, so that local and remote writes cannot
 * drift apart.
 *
 * The base of a change says which versions its writer meant to replace.
 * A plain edit replaces the heads that carry the value the writer saw: all
 * of them when they agree, only the winner when the field is in conflict, so
 * that a conflict stays open until somebody resolves it (mq_store_resolve
 * replaces every head).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int mq__check_author(mq_store *s, const char *author, mq_error *err)
{
    mq__kind k;
    int rc;

    if (author == NULL)
        return 0;
    if (!mq_valid_uuid(author))
        return mq__fail(err, MQ_EINVAL,
                        "author (--as): must be the id of a " MQ__AUTHOR_TYPE
                        " record (a lower-case UUID)");
    if ((rc = mq__kind_get(s, author, &k, err)) != 0)
        return rc;
    if (!k.exists)
        return mq__fail(err, MQ_EINVAL,
                        "author %s (--as): no " MQ__AUTHOR_TYPE " record has this id",
                        author);
    if (strcmp(k.type_name, MQ__AUTHOR_TYPE) != 0)
        return mq__fail(err, MQ_EINVAL,
                        "author %s (--as): is a %s record, not a " MQ__AUTHOR_TYPE,
                        author, k.type_name);
    if (k.deleted)
        return mq__fail(err, MQ_EINVAL,
                        "author %s (--as): the " MQ__AUTHOR_TYPE " record is deleted",
                        author);
    return 0;
}

/* Adds base[field] for a change replacing `field` of `rec`, built by `j`. */
static int add_base(mq_store *s, const mq__rec *rec, const char *field, int all,
                    mq__json *j, cJSON *base, mq_error *err)
{
    const char *heads[64];
    size_t nh = mq__rec_heads(rec, field, heads, 64);
    int conflict = 0, rc;

    if (nh == 0)
        return 0;
    if (nh > 64)
        nh = 64;
    if (!all && nh > 1 && (rc = mq__conflict_has(s, rec->id, field, &conflict, err)) != 0)
        return rc;
    cJSON *arr = mq__json_add(j, base, field, mq__json_array(j));
    if (conflict) {
        /* heads are sorted: the winner is the last */
        mq__json_add_str(j, arr, NULL, heads[nh - 1]);
    } else {
        for (size_t i = 0; i < nh; i++)
            mq__json_add_str(j, arr, NULL, heads[i]);
    }
    return j->oom ? mq__fail(err, MQ_ENOMEM, "out of memory") : 0;
}

/*
 * Stamps and merges a local change of fields `set` (borrowed: the caller's
 * until the merge returns) and `base` (taken); `own` is the set again when
 * it is the change's to delete, else NULL.  `text` (may be NULL) is the set
 * printed.  `rec` (may be NULL) is the record as just loaded; it is taken
 * too.
 */
static int commit_borrowed(mq_store *s, const mq_type *type, const char *id,
                           const cJSON *set, cJSON *own, const char *text, size_t len,
                           cJSON *base, const char *author, mq__rec *rec, mq_error *err)
{
    mq__change c;
    mq_apply_result res;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = mq__next_version(s, c.v, err)) != 0) {
        cJSON_Delete(own);
        cJSON_Delete(base);
        if (rec != NULL)
            mq__rec_clear(rec);
        return rc;
    }
    mq__version_parse(c.v, &c.hlc, NULL);
    c.type = type;
    snprintf(c.id, sizeof(c.id), "%s", id);
    author = author != NULL ? author : s->cadre;
    if (author != NULL)
        snprintf(c.by, sizeof(c.by), "%s", author);
    c.set = set;
    c.own_set = own;
    c.set_text = text;
    c.set_len = len;
    c.base = c.own_base = cJSON_GetArraySize(base) > 0 ? base : NULL;
    if (c.base == NULL)
        cJSON_Delete(base);
    rc = rec != NULL ? mq__merge_loaded(s, &c, NULL, rec, &res, err)
                     : mq__merge(s, &c, NULL, &res, err);
    mq__change_clear(&c);
    return rc;
}

/*
 * Writes `fields` (checked, borrowed) as the creation of record `id`,
 * assuming it does not exist: *taken is set, and nothing written, when it
 * does (or when the fields are not in schema order, which the general path
 * handles after looking the record up).
 */
static int create_borrowed(mq_store *s, const mq_type *type, const char *id,
                           const cJSON *fields, const char *text, size_t len,
                           const char *author, int *taken, mq_error *err)
{
    mq__change c;
    mq_apply_result res;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = mq__next_version(s, c.v, err)) != 0)
        return rc;
    mq__version_parse(c.v, &c.hlc, NULL);
    c.type = type;
    mq__copy(c.id, sizeof(c.id), id);
    author = author != NULL ? author : s->cadre;
    if (author != NULL)
        mq__copy(c.by, sizeof(c.by), author);
    c.set = fields;
    c.set_text = text;
    c.set_len = len;
    rc = mq__merge_new(s, &c, taken, &res, err);
    mq__change_clear(&c);
    return rc;
}

/* Stamps and merges a local change built from `set` and `base` (taken). */
static int commit_change(mq_store *s, const mq_type *type, const char *id, cJSON *set,
                         cJSON *base, const char *author, mq__rec *rec, mq_error *err)
{
    return commit_borrowed(s, type, id, set, set, NULL, 0, base, author, rec, err);
}

/*
 * The checks of a write report each problem they find through a
 * problem_fn: `field` (NULL for the record as a whole), the rule broken, as
 * a sentence, and the offending value as JSON text (NULL when the rule
 * names it, or there is none).  It returns 0 to go on (a form's check
 * collects every problem) or the code to stop with (a write stops at the
 * first, with the message in err).  Put, import, resolve and
 * mq_store_validate() run these same checks: there is one validator.
 */
typedef int (*problem_fn)(void *ctx, const char *field, const char *rule,
                          const char *value);

/* The problem_fn of a write: the first problem fails it, MQ_EINVAL. */
typedef struct first_problem {
    const mq_type *type;
    const char *id;
    mq_error *err;
} first_problem;

static int fail_first(void *ctx, const char *field, const char *rule, const char *value)
{
    const first_problem *p = ctx;

    if (field == NULL)
        return mq__fail(p->err, MQ_EINVAL, "%s %s: %s", p->type->name, p->id, rule);
    if (value != NULL)
        return mq__fail(p->err, MQ_EINVAL, "%s %s: field %s: %s (value %s)",
                        p->type->name, p->id, field, rule, value);
    return mq__fail(p->err, MQ_EINVAL, "%s %s: field %s: %s", p->type->name, p->id, field,
                    rule);
}

/* Reports a problem with value `v` printed, shortened. */
static int report_value(problem_fn report, void *ctx, const char *field, const char *rule,
                        const cJSON *v)
{
    char *txt = v != NULL ? mq__value_text(v) : NULL;
    int rc = report(ctx, field, rule, v == NULL ? NULL : txt != NULL ? txt : "?");

    free(txt);
    return rc;
}

/* Checks field `it`, of definition `f` (NULL: the type has none of that name). */
static int check_field(mq_store *s, const mq_type *type, const char *id, const cJSON *it,
                       const mq_field *f, mq__defer_fn defer, void *defer_ctx,
                       problem_fn report, void *rctx, mq_error *err)
{
    char why[320];
    int rc;

    if (f == NULL) {
        snprintf(why, sizeof(why), "not a field of %s", type->name);
        return report_value(report, rctx, it->string, why, it);
    }
    if (mq__check_rule(f, it, why, sizeof(why)) != 0)
        return report_value(report, rctx, f->name, why, cJSON_IsNull(it) ? NULL : it);
    if (f->kind != MQ_KIND_REF || !cJSON_IsString(it))
        return 0;
    rc = mq__check_ref(s, f, it->valuestring, why, sizeof(why), err);
    if (rc == MQ_ENOTFOUND && defer != NULL) {
        if ((rc = defer(defer_ctx, f, it->valuestring)) != 0)
            return mq__fail(err, rc, "%s %s: field %s: cannot keep the reference to %s",
                            type->name, id, f->name, it->valuestring);
        return 0;
    }
    if (rc == MQ_ENOTFOUND || rc == MQ_EINVAL)
        return report(rctx, f->name, why, NULL); /* the rule names the value */
    return rc;
}

/* The value `name` will hold once `fields` is written over `rec`: NULL
 * when it will hold none. */
static const cJSON *merged_value(const mq__rec *rec, const cJSON *fields,
                                 const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, name);

    if (v == NULL && rec->exists)
        v = cJSON_GetObjectItemCaseSensitive(rec->fields, name);
    return cJSON_IsNull(v) ? NULL : v;
}

/*
 * The checks of each field of a local write: its kind and rule, and
 * references that resolve (or are deferred).  None depends on the record
 * written over, so they run before it is looked up (mq__write).
 */
static int check_fields(mq_store *s, const mq_type *type, const char *id,
                        const cJSON *fields, mq__defer_fn defer, void *defer_ctx,
                        problem_fn report, void *rctx, mq_error *err)
{
    const cJSON *it;
    size_t next = 0;
    int rc;

    cJSON_ArrayForEach(it, fields)
    {
        /* cJSON keeps both members of a name given twice; the merge would
         * take the second for an edit of the first. */
        const cJSON *p = fields->child;
        while (p != it && strcmp(p->string, it->string) != 0)
            p = p->next;
        if (p != it) {
            if ((rc = report(rctx, it->string, "given twice", NULL)) != 0)
                return rc;
            continue;
        }
        /* Fields come in schema order as a rule: each is looked for first
         * where the previous one was found. */
        const mq_field *f =
            next < type->nfields && strcmp(type->fields[next].name, it->string) == 0
                ? &type->fields[next]
                : mq__type_field(type, it->string);
        if (f != NULL)
            next = (size_t)(f - type->fields) + 1;
        if ((rc = check_field(s, type, id, it, f, defer, defer_ctx, report, rctx, err)) !=
            0)
            return rc;
    }
    return 0;
}

/*
 * The checks of a local write of `fields` over `rec` (which may not exist
 * yet) as a whole: required fields of a new record, and the rules across
 * fields ("one_of") on the record as it will be.
 */
static int check_whole(const mq_type *type, const mq__rec *rec, const cJSON *fields,
                       problem_fn report, void *rctx)
{
    int rc;

    for (size_t i = 0; !rec->exists && i < type->nfields; i++) {
        const mq_field *f = &type->fields[i];
        /* A null given was reported above, by the field's own check. */
        if (f->required && cJSON_GetObjectItemCaseSensitive(fields, f->name) == NULL &&
            (rc = report(rctx, f->name, "is required", NULL)) != 0)
            return rc;
    }
    for (size_t i = 0; i < type->none_of; i++) {
        const mq_one_of *o = &type->one_of[i];
        size_t k = 0;
        while (k < o->nfields && merged_value(rec, fields, o->fields[k]->name) == NULL)
            k++;
        if (k < o->nfields)
            continue;
        char why[320];
        size_t used = 0;
        for (k = 0; k < o->nfields && used < sizeof(why); k++)
            used += (size_t)snprintf(why + used, sizeof(why) - used, "%s%s",
                                     k == 0               ? ""
                                     : k + 1 < o->nfields ? ", "
                                                          : " or ",
                                     o->fields[k]->name);
        if (used < sizeof(why))
            snprintf(why + used, sizeof(why) - used,
                     " is required: give one of them (all are empty)");
        if ((rc = report(rctx, NULL, why, NULL)) != 0)
            return rc;
    }
    return 0;
}

/* Every check of a local write of `fields` over `rec`: the fields', then
 * the whole record's. */
static int check_record(mq_store *s, const mq_type *type, const char *id,
                        const mq__rec *rec, const cJSON *fields, mq__defer_fn defer,
                        void *defer_ctx, problem_fn report, void *rctx, mq_error *err)
{
    int rc = check_fields(s, type, id, fields, defer, defer_ctx, report, rctx, err);

    return rc != 0 ? rc : check_whole(type, rec, fields, report, rctx);
}

/* Whether writing `fields` over `rec` would change anything. */
static int changes_anything(const mq__rec *rec, const cJSON *fields)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, fields)
    {
        const cJSON *cur = rec->exists
                               ? cJSON_GetObjectItemCaseSensitive(rec->fields, it->string)
                               : NULL;
        if (cJSON_IsNull(it) && (cur == NULL || cJSON_IsNull(cur)))
            continue;
        if (cur == NULL || !cJSON_Compare(cur, it, 1))
            return 1;
    }
    return 0;
}

/* Refuses a write to `rec` that no check of its fields could allow: a
 * record of another type, or one deleted. */
static int check_target(const mq_type *type, const char *id, const mq__rec *rec,
                        mq_error *err)
{
    if (rec->exists && rec->type != type)
        return mq__fail(err, MQ_EINVAL, "record %s is of type %s, not %s", id,
                        rec->type->name, type->name);
    if (rec->exists && rec->deleted)
        return mq__fail(err, MQ_EREFUSED, "%s %s is deleted", type->name, id);
    return 0;
}

static int refuse_log_edit(const mq_type *type, const char *id, mq_error *err)
{
    /* M6: a log record is written once; a correction is a new entry. */
    return mq__fail(err, MQ_EREFUSED,
                    "%s %s is a log record: it is written once and never edited; record "
                    "a new entry to correct it",
                    type->name, id);
}

/*
 * Warns (mq_store_on_warning()) when a field of `set` that the schema marks
 * warn_duplicate repeats the value of another live record of the type.
 * Never refuses: two households may truly share a head (a data entry error
 * to look at, or a split household).  The lookup uses the partial index
 * that store.c makes for each such field.
 */
static int warn_duplicates(mq_store *s, const mq_type *type, const char *id,
                           const cJSON *set, mq_error *err)
{
    for (size_t i = 0; i < type->ndups && s->on_warning != NULL; i++) {
        const mq_field *f = type->dups[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(set, f->name);
        char others[200] = "";
        sqlite3_stmt *st;
        size_t n = 0, used = 0;
        int rc;

        if (!cJSON_IsString(v))
            continue;
        /* Prepared once per field and kept (an import asks once a record). */
        size_t q = 0, nq = sizeof(s->dupq) / sizeof(s->dupq[0]);
        while (q < nq && s->dupq[q].field != NULL && s->dupq[q].field != f)
            q++;
        if (q < nq && s->dupq[q].field == f) {
            st = s->dupq[q].st;
        } else {
            char sql[256];
            snprintf(sql, sizeof(sql),
                     "SELECT id FROM record WHERE type = '%s' AND deleted = 0 AND"
                     " json_extract(fields, '$.%s') = ?1 AND id <> ?2 ORDER BY id",
                     type->name, f->name);
            if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                                   NULL) != SQLITE_OK)
                return mq__fail_sqlite(err, s->db, "looking for duplicates");
            if (q < nq) {
                s->dupq[q].field = f;
                s->dupq[q].st = st;
            }
        }
        int kept = q < nq;
        sqlite3_bind_text(st, 1, v->valuestring, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (n++ < 3 && used < sizeof(others))
                used += (size_t)snprintf(others + used, sizeof(others) - used, "%s%s",
                                         n > 1 ? ", " : "", mq__col_text(st, 0));
        }
        if (rc != SQLITE_DONE)
            rc = mq__fail_sqlite(err, s->db, "looking for duplicates");
        if (kept)
            sqlite3_reset(st);
        else
            sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return rc;
        if (n == 0)
            continue;
        char msg[MQ_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof(msg),
                 "warning: %s %s: field %s: %zu other %s record%s hold%s the same value "
                 "(value \"%.40s\"): %s%s",
                 type->name, id, f->name, n, type->name, n == 1 ? "" : "s",
                 n == 1 ? "s" : "", v->valuestring, others, n > 3 ? ", ..." : "");
        s->on_warning(s->warning_ctx, msg);
    }
    return 0;
}

int mq__write(mq_store *s, const mq_type *type, const char *id, const cJSON *fields,
              const char *fields_text, size_t fields_len, const char *author,
              mq__defer_fn defer, void *defer_ctx, mq__wrote *wrote, mq_error *err)
{
    first_problem fp = {type, id, err};
    mq__rec rec;
    const cJSON *it;
    int rc;

    *wrote = MQ_WROTE_NOTHING;
    if (!cJSON_IsObject(fields))
        return mq__fail(err, MQ_EINVAL, "%s %s: fields: must be a JSON object",
                        type->name, id);
    if ((rc = mq__check_author(s, author, err)) != 0)
        return rc;
    /*
     * The fields are checked before the record is looked up: whether a
     * value is valid does not depend on it (and a deferred reference is
     * handed over once).  Fields that pass as a new record's (every
     * required field, no null) are then written as a creation straight
     * away, and the insert itself says whether the id was taken: an import
     * into a fresh store never asks SQLite for a record first.  Anything
     * else, or an id that was taken, is looked up, and the record's own
     * refusals (another type, deleted) come before a field's.
     */
    int vrc = check_fields(s, type, id, fields, defer, defer_ctx, fail_first, &fp, err);
    if (vrc == 0 && fields->child != NULL) {
        const cJSON *v = fields->child;
        while (v != NULL && !cJSON_IsNull(v))
            v = v->next;
        first_problem quiet = {type, id, NULL}; /* asked again after the lookup */
        memset(&rec, 0, sizeof(rec));
        if (v == NULL && check_whole(type, &rec, fields, fail_first, &quiet) == 0) {
            int taken = 0;
            rc = create_borrowed(s, type, id, fields, fields_text, fields_len, author,
                                 &taken, err);
            if (rc == 0 && !taken) {
                *wrote = MQ_WROTE_CREATED;
                if (type->ndups > 0)
                    rc = warn_duplicates(s, type, id, fields, err);
            }
            if (rc != 0 || !taken)
                return rc;
        }
    }
    mq_error verr;
    if (vrc != 0 && err != NULL)
        verr = *err;
    if ((rc = mq__rec_load(s, id, &rec, err)) != 0)
        return rc;
    if ((rc = check_target(type, id, &rec, err)) != 0)
        goto done;
    if (vrc != 0) {
        if (err != NULL)
            *err = verr;
        rc = vrc;
        goto done;
    }
    if ((rc = check_whole(type, &rec, fields, fail_first, &fp)) != 0)
        goto done;
    if (!rec.exists && fields->child != NULL) {
        const cJSON *v = fields->child;
        while (v != NULL && !cJSON_IsNull(v))
            v = v->next;
        if (v == NULL) {
            /* A creation sets every field it is given: the change's set is
             * the fields themselves, borrowed, not a copy. */
            *wrote = MQ_WROTE_CREATED;
            rc = commit_borrowed(s, type, id, fields, NULL, fields_text, fields_len, NULL,
                                 author, &rec, err);
            if (rc == 0 && type->ndups > 0)
                rc = warn_duplicates(s, type, id, fields, err);
            goto done;
        }
    }
    /* The change is built by a writer, so that a field lost for want of
     * memory fails the write instead of leaving the change without it. */
    mq__json j;
    mq__json_init(&j);
    cJSON *set = mq__json_object(&j);
    cJSON *base = mq__json_object(&j);
    if (j.oom) {
        cJSON_Delete(set);
        cJSON_Delete(base);
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(it, fields)
    {
        const cJSON *cur =
            rec.exists ? cJSON_GetObjectItemCaseSensitive(rec.fields, it->string) : NULL;
        if (cJSON_IsNull(it) && (cur == NULL || cJSON_IsNull(cur)))
            continue;
        if (cur != NULL && cJSON_Compare(cur, it, 1))
            continue;
        if (mq__json_add(&j, set, it->string, cJSON_Duplicate(it, 1)) == NULL) {
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
            break;
        }
        if (rec.exists && (rc = add_base(s, &rec, it->string, 0, &j, base, err)) != 0)
            break;
    }
    if (rc == 0 && set->child != NULL && rec.exists && type->log)
        rc = refuse_log_edit(type, id, err);
    if (rc != 0 || set->child == NULL) {
        cJSON_Delete(set);
        cJSON_Delete(base);
        goto done;
    }
    *wrote = rec.exists ? MQ_WROTE_UPDATED : MQ_WROTE_CREATED;
    /* The set outlives the commit for the duplicate check; commit_change
     * takes a copy. */
    cJSON *dup_of =
        type->ndups > 0 && s->on_warning != NULL ? cJSON_Duplicate(set, 1) : NULL;
    rc = commit_change(s, type, id, set, base, author, &rec, err);
    if (rc == 0 && dup_of != NULL)
        rc = warn_duplicates(s, type, id, dup_of, err);
    cJSON_Delete(dup_of);
done:
    mq__rec_clear(&rec);
    return rc;
}

/* ---- defaults -------------------------------------------------------------- */

/*
 * Fills the defaults of `type` (docs/SCHEMA.md, "Defaults") into the fields
 * of a record about to be created here: only fields the writer left out
 * (or gave as null), and only on a replica that has a cadre (a tablet; the
 * server's office writes name their own).  Merge, import and bundles never
 * come here: a default is the writer's, once, and then travels as a value.
 */
static int apply_defaults(mq_store *s, const mq_type *type, cJSON *fields, mq_error *err)
{
    char today[MQ_ISO_MAX];

    if (s->cadre == NULL || type->ndefaults == 0)
        return 0;
    mq__iso_time(today, mq_store_now_ms(s));
    today[10] = '\0';
    for (size_t i = 0; i < type->ndefaults; i++) {
        const mq_default *d = &type->defaults[i];
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(fields, d->field->name);
        char day[11];
        const char *value = NULL;

        if (have != NULL && !cJSON_IsNull(have))
            continue; /* a value given is never replaced */
        if (d->rule == MQ_DEFAULT_CADRE) {
            value = s->cadre;
        } else if (d->rule == MQ_DEFAULT_TODAY) {
            value = today;
        } else {
            const cJSON *from = cJSON_GetObjectItemCaseSensitive(fields, d->after->name);
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(fields, d->by->name);
            size_t v = 0;
            if (!cJSON_IsString(from) || !cJSON_IsString(by))
                continue;
            while (v < d->by->nvalues && strcmp(d->by->values[v], by->valuestring) != 0)
                v++;
            /* A bad date or choice is the validator's to report. */
            if (v == d->by->nvalues || d->days[v] < 0 ||
                mq__date_add(from->valuestring, d->days[v], day) != 0)
                continue;
            value = day;
        }
        if (have != NULL)
            cJSON_DeleteItemFromObjectCaseSensitive(fields, d->field->name);
        cJSON *item = cJSON_CreateString(value);
        if (item == NULL || !cJSON_AddItemToObject(fields, d->field->name, item)) {
            cJSON_Delete(item);
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Fills the defaults when record `id` does not exist yet. */
static int defaults_if_new(mq_store *s, const mq_type *type, const char *id,
                           cJSON *fields, mq_error *err)
{
    mq__kind k;
    int rc = mq__kind_get(s, id, &k, err);

    if (rc != 0 || k.exists || !cJSON_IsObject(fields))
        return rc;
    return apply_defaults(s, type, fields, err);
}

/* ---- checking a form ------------------------------------------------------- */

typedef struct collect {
    mq_field_cb cb;
    void *ctx;
    size_t n;
} collect;

static int collect_problem(void *ctx, const char *field, const char *rule,
                           const char *value)
{
    collect *c = ctx;

    (void)value; /* the page shows the value beside the field */
    c->n++;
    if (c->cb != NULL)
        c->cb(c->ctx, field, rule);
    return 0;
}

/*
 * A record the caller did not name has an id nobody has seen yet: messages
 * say "household (new)" rather than quote the random id.
 */
static void name_new_record(mq_error *err, const char *newid)
{
    char *at;
    char tmp[MQ_ERROR_MESSAGE_MAX];

    if (err == NULL || (at = strstr(err->message, newid)) == NULL)
        return;
    snprintf(tmp, sizeof(tmp), "%.*s(new)%s", (int)(at - err->message), err->message,
             at + strlen(newid));
    memcpy(err->message, tmp, sizeof(tmp));
}

int mq_store_put(mq_store *s, const char *type_name, const char *id,
                 const char *fields_json, const char *author, char **out_id,
                 mq_error *err)
{
    const mq_type *type;
    char newid[37];
    cJSON *fields;
    mq__wrote wrote;
    int rc;

    if (out_id != NULL)
        *out_id = NULL;
    if ((rc = mq__require_site(s, err)) != 0)
        return rc;
    if (type_name == NULL || (type = mq__schema_type(s->schema, type_name)) == NULL)
        return mq__fail(err, MQ_EINVAL, "unknown record type \"%s\"",
                        type_name ? type_name : "");
    if (id == NULL) {
        if ((rc = mq__new_id(newid, err)) != 0)
            return rc;
        id = newid;
    } else if (!mq_valid_uuid(id)) {
        return mq__fail(err, MQ_EINVAL, "id \"%s\": must be a lower-case UUID", id);
    }
    const char *end = NULL;
    if (fields_json == NULL)
        fields_json = "";
    fields = cJSON_ParseWithOpts(fields_json, &end, 1);
    if (fields == NULL)
        return mq__fail(err, MQ_EINVAL, "%s %s: fields: not valid JSON near \"%.20s\"",
                        type->name, id == newid ? "(new)" : id, end != NULL ? end : "");
    char why[320];
    if (mq__json_nul_escape(fields_json, strlen(fields_json), why, sizeof(why))) {
        cJSON_Delete(fields);
        return mq__fail(err, MQ_EINVAL, "%s %s: %s", type->name,
                        id == newid ? "(new)" : id, why);
    }
    if ((rc = mq__tx_begin(s, err)) == 0) {
        rc = defaults_if_new(s, type, id, fields, err);
        if (rc == 0)
            rc = mq__write(s, type, id, fields, NULL, 0, author, NULL, NULL, &wrote, err);
        if (rc == 0)
            rc = mq__tx_commit(s, err);
        else
            mq__tx_rollback(s);
    }
    cJSON_Delete(fields);
    if (rc != 0 && id == newid)
        name_new_record(err, newid);
    if (rc == 0 && out_id != NULL && (*out_id = mq__strdup(id)) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return rc;
}

int mq_store_validate(mq_store *s, const char *type_name, const char *id,
                      const char *fields_json, mq_field_cb cb, void *ctx,
                      size_t *problems, mq_error *err)
{
    collect c = {cb, ctx, 0};
    const mq_type *type;
    char newid[37];
    mq__rec rec;
    int rc;

    if (problems != NULL)
        *problems = 0;
    if (type_name == NULL || (type = mq__schema_type(s->schema, type_name)) == NULL)
        return mq__fail(err, MQ_EINVAL, "unknown record type \"%s\"",
                        type_name ? type_name : "");
    if (id == NULL) {
        if ((rc = mq__new_id(newid, err)) != 0)
            return rc;
        id = newid;
    } else if (!mq_valid_uuid(id)) {
        return mq__fail(err, MQ_EINVAL, "id \"%s\": must be a lower-case UUID", id);
    }
    const char *label = id == newid ? "(new)" : id;
    const char *end = NULL;
    char why[320];
    if (fields_json == NULL)
        fields_json = "";
    cJSON *fields = cJSON_ParseWithOpts(fields_json, &end, 1);
    if (fields == NULL || !cJSON_IsObject(fields)) {
        cJSON_Delete(fields);
        return mq__fail(err, MQ_EINVAL, "%s %s: fields: must be one JSON object%s%.20s%s",
                        type->name, label, end != NULL ? " (not valid near \"" : "",
                        end != NULL ? end : "", end != NULL ? "\")" : "");
    }
    if (mq__json_nul_escape(fields_json, strlen(fields_json), why, sizeof(why))) {
        cJSON_Delete(fields);
        return mq__fail(err, MQ_EINVAL, "%s %s: %s", type->name, label, why);
    }
    /* What put checks, in the order put checks it; nothing is written, so
     * no transaction is opened (reads alone take no lock). */
    if ((rc = mq__rec_load(s, id, &rec, err)) != 0) {
        cJSON_Delete(fields);
        return rc;
    }
    if ((rc = check_target(type, id, &rec, err)) == 0 && !rec.exists)
        rc = apply_defaults(s, type, fields, err);
    if (rc == 0)
        rc =
            check_record(s, type, id, &rec, fields, NULL, NULL, collect_problem, &c, err);
    if (rc == 0 && rec.exists && type->log && changes_anything(&rec, fields))
        collect_problem(&c, NULL,
                        "is a log record: it is written once and never edited; record a "
                        "new entry to correct it",
                        NULL);
    mq__rec_clear(&rec);
    cJSON_Delete(fields);
    if (rc != 0 && id == newid)
        name_new_record(err, newid);
    if (problems != NULL)
        *problems = c.n;
    return rc;
}

void mq_store_on_warning(mq_store *s, mq_warning_cb cb, void *ctx)
{
    s->on_warning = cb;
    s->warning_ctx = ctx;
}

int mq_store_delete(mq_store *s, const char *id, const char *author, mq_error *err)
{
    mq__rec rec;
    int rc;

    if ((rc = mq__require_site(s, err)) != 0)
        return rc;
    if ((rc = mq__tx_begin(s, err)) != 0)
        return rc;
    if ((rc = mq__check_author(s, author, err)) != 0 ||
        (rc = mq__rec_load(s, id, &rec, err)) != 0)
        goto fail;
    if (!rec.exists) {
        rc = mq__fail(err, MQ_ENOTFOUND, "no record with id %s", id);
    } else if (rec.type->log) {
        rc = mq__fail(err, MQ_EREFUSED,
                      "%s %s is a log record: it is never deleted; record a new entry to "
                      "correct it",
                      rec.type->name, id);
    } else if (!rec.deleted) {
        mq__json j;
        mq__json_init(&j);
        cJSON *set = mq__json_object(&j), *base = mq__json_object(&j);
        mq__json_add(&j, set, "_deleted", cJSON_CreateTrue());
        rc = j.oom ? mq__fail(err, MQ_ENOMEM, "out of memory")
                   : add_base(s, &rec, "_deleted", 0, &j, base, err);
        if (rc == 0)
            rc = commit_change(s, rec.type, id, set, base, author, NULL, err);
        else {
            cJSON_Delete(set);
            cJSON_Delete(base);
        }
    }
    mq__rec_clear(&rec);
    if (rc == 0)
        return mq__tx_commit(s, err);
fail:
    mq__tx_rollback(s);
    return rc;
}

int mq_store_resolve(mq_store *s, const char *conflict_id, const char *value_json,
                     const char *author, mq_error *err)
{
    char rid[64], field[128];
    const char *slash = conflict_id ? strchr(conflict_id, '/') : NULL;
    mq__rec rec;
    cJSON *value;
    int rc, yes = 0;

    if ((rc = mq__require_site(s, err)) != 0)
        return rc;
    if (slash == NULL || (size_t)(slash - conflict_id) >= sizeof(rid) ||
        strlen(slash + 1) >= sizeof(field) || slash[1] == '\0')
        return mq__fail(err, MQ_EINVAL, "conflict \"%s\": must be RECORD_ID/FIELD",
                        conflict_id ? conflict_id : "");
    snprintf(rid, sizeof(rid), "%.*s", (int)(slash - conflict_id), conflict_id);
    snprintf(field, sizeof(field), "%s", slash + 1);
    value = cJSON_Parse(value_json != NULL ? value_json : "");
    if (value == NULL)
        return mq__fail(err, MQ_EINVAL, "conflict %s: --keep: not valid JSON: %.40s",
                        conflict_id, value_json ? value_json : "");
    if ((rc = mq__tx_begin(s, err)) != 0) {
        cJSON_Delete(value);
        return rc;
    }
    memset(&rec, 0, sizeof(rec));
    if ((rc = mq__check_author(s, author, err)) != 0 ||
        (rc = mq__conflict_has(s, rid, field, &yes, err)) != 0)
        goto out;
    if (!yes) {
        rc = mq__fail(err, MQ_ENOTFOUND, "no open conflict %s", conflict_id);
        goto out;
    }
    if ((rc = mq__rec_load(s, rid, &rec, err)) != 0)
        goto out;
    if (!rec.exists) {
        rc =
            mq__fail(err, MQ_ECORRUPT, "conflict %s: the record is missing", conflict_id);
        goto out;
    }
    if (strcmp(field, "_deleted") == 0) {
        if (!cJSON_IsBool(value))
            rc = mq__fail(err, MQ_EINVAL, "conflict %s: keep true (deleted) or false",
                          conflict_id);
    } else {
        cJSON tmp = *value;
        tmp.string = field;
        tmp.next = tmp.prev = NULL;
        first_problem fp = {rec.type, rid, err};
        rc = check_field(s, rec.type, rid, &tmp, mq__type_field(rec.type, field), NULL,
                         NULL, fail_first, &fp, err);
    }
    if (rc != 0)
        goto out;
    mq__json j;
    mq__json_init(&j);
    cJSON *set = mq__json_object(&j), *base = mq__json_object(&j);
    mq__json_add(&j, set, field, value); /* takes value, even on failure */
    value = NULL;
    rc = j.oom ? mq__fail(err, MQ_ENOMEM, "out of memory")
               : add_base(s, &rec, field, 1, &j, base, err);
    if (rc == 0)
        rc = commit_change(s, rec.type, rid, set, base, author, NULL, err);
    else {
        cJSON_Delete(set);
        cJSON_Delete(base);
    }
out:
    cJSON_Delete(value);
    mq__rec_clear(&rec);
    if (rc == 0)
        return mq__tx_commit(s, err);
    mq__tx_rollback(s);
    return rc;
}
