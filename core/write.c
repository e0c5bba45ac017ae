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
 * Stamps and merges a local change built from `set` and `base` (taken).
 * `rec` (may be NULL) is the record as just loaded; it is taken too.
 */
static int commit_change(mq_store *s, const mq_type *type, const char *id, cJSON *set,
                         cJSON *base, const char *author, mq__rec *rec, mq_error *err)
{
    mq__change c;
    mq_apply_result res;
    int rc;

    memset(&c, 0, sizeof(c));
    if ((rc = mq__next_version(s, c.v, err)) != 0) {
        cJSON_Delete(set);
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
    c.set = c.own_set = set;
    c.base = c.own_base = cJSON_GetArraySize(base) > 0 ? base : NULL;
    if (c.base == NULL)
        cJSON_Delete(base);
    rc = rec != NULL ? mq__merge_loaded(s, &c, NULL, rec, &res, err)
                     : mq__merge(s, &c, NULL, &res, err);
    mq__change_clear(&c);
    return rc;
}

static int check_field(mq_store *s, const mq_type *type, const char *id, const cJSON *it,
                       mq__defer_fn defer, void *defer_ctx, mq_error *err)
{
    const mq_field *f = mq__type_field(type, it->string);
    char why[320];
    int rc;

    if (f == NULL)
        return mq__fail(err, MQ_EINVAL,
                        "%s %s: field %s: not a field of %s (value %.60s)", type->name,
                        id, it->string, type->name,
                        cJSON_IsString(it) ? it->valuestring : "...");
    if (mq__check_value(f, it, why, sizeof(why)) != 0)
        return mq__fail(err, MQ_EINVAL, "%s %s: field %s: %s", type->name, id, f->name,
                        why);
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
        return mq__fail(err, MQ_EINVAL, "%s %s: field %s: %s", type->name, id, f->name,
                        why);
    return rc;
}

int mq__write(mq_store *s, const mq_type *type, const char *id, const cJSON *fields,
              const char *author, mq__defer_fn defer, void *defer_ctx, mq__wrote *wrote,
              mq_error *err)
{
    mq__rec rec;
    const cJSON *it;
    int rc;

    *wrote = MQ_WROTE_NOTHING;
    if (!cJSON_IsObject(fields))
        return mq__fail(err, MQ_EINVAL, "%s %s: fields: must be a JSON object",
                        type->name, id);
    if ((rc = mq__check_author(s, author, err)) != 0)
        return rc;
    if ((rc = mq__rec_load(s, id, &rec, err)) != 0)
        return rc;
    if (rec.exists && rec.type != type) {
        rc = mq__fail(err, MQ_EINVAL, "record %s is of type %s, not %s", id,
                      rec.type->name, type->name);
        goto done;
    }
    if (rec.exists && rec.deleted) {
        rc = mq__fail(err, MQ_EREFUSED, "%s %s is deleted", type->name, id);
        goto done;
    }
    cJSON_ArrayForEach(it, fields)
    {
        /* cJSON keeps both members of a name given twice; the merge would
         * take the second for an edit of the first. */
        for (const cJSON *p = fields->child; p != it; p = p->next) {
            if (strcmp(p->string, it->string) == 0) {
                rc = mq__fail(err, MQ_EINVAL, "%s %s: field %s: given twice", type->name,
                              id, it->string);
                goto done;
            }
        }
        if ((rc = check_field(s, type, id, it, defer, defer_ctx, err)) != 0)
            goto done;
    }
    if (!rec.exists) {
        for (size_t i = 0; i < type->nfields; i++) {
            const mq_field *f = &type->fields[i];
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(fields, f->name);
            if (f->required && (v == NULL || cJSON_IsNull(v))) {
                rc = mq__fail(err, MQ_EINVAL, "%s %s: field %s: is required", type->name,
                              id, f->name);
                goto done;
            }
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
    if (rc == 0 && set->child != NULL && rec.exists && type->log) {
        /* M6: a log record is written once; a correction is a new entry. */
        rc = mq__fail(
            err, MQ_EREFUSED,
            "%s %s is a log record: it is written once and never edited; record a "
            "new entry to correct it",
            type->name, id);
    }
    if (rc != 0 || set->child == NULL) {
        cJSON_Delete(set);
        cJSON_Delete(base);
        goto done;
    }
    *wrote = rec.exists ? MQ_WROTE_UPDATED : MQ_WROTE_CREATED;
    rc = commit_change(s, type, id, set, base, author, &rec, err);
done:
    mq__rec_clear(&rec);
    return rc;
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
        rc = mq__write(s, type, id, fields, author, NULL, NULL, &wrote, err);
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
        rc = check_field(s, rec.type, rid, &tmp, NULL, NULL, err);
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
