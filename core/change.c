/*
 * core/change.c - a change from another replica, parsed and checked.
 *
 * A change on the wire (docs/STORE.md, "The change") is one JSON object:
 * its version, the record's type and id, the author, the fields it sets and,
 * per field, the versions it replaces.  Parsing checks everything that does
 * not depend on what this replica holds, so that a change refused here
 * would be refused everywhere; what it means for the store is merge.c's.
 * The parsed change borrows its fields and base from the JSON it was parsed
 * from: a bundle line or a pushed change is parsed once and merged from
 * that tree, never printed and parsed again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void mq__change_clear(mq__change *c)
{
    cJSON_Delete(c->own_set);
    cJSON_Delete(c->own_base);
    memset(c, 0, sizeof(*c));
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
bad(mq_error *err, const mq__change *c, const char *fmt, ...)
{
    char tmp[MQ_ERROR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return mq__fail(err, MQ_EINVAL, "change %s: %s", c->v[0] ? c->v : "(no version)",
                    tmp);
}

int mq__change_parse(mq_store *s, const cJSON *obj, mq__change *c, mq_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "v");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "id");
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(obj, "by");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(obj, "set");
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(obj, "base");
    const cJSON *it;
    char why[256];
    size_t next = 0;

    memset(c, 0, sizeof(*c));
    if (!cJSON_IsObject(obj))
        return mq__fail(err, MQ_EINVAL, "change: must be a JSON object");
    if (!cJSON_IsString(v) || mq__version_parse(v->valuestring, &c->hlc, NULL) != 0)
        return bad(err, c, "field v: must be a version HHHHHHHHHHHHHHHH-SITE");
    mq__copy(c->v, sizeof(c->v), v->valuestring);
    /* A stamp far in the receiver's future would win every concurrent edit
     * until the world caught up with it (the year 10889: for good). */
    int64_t now = mq_store_now_ms(s);
    if (mq__hlc_ms(c->hlc) > now + MQ_HLC_MAX_FUTURE_MS) {
        char at[MQ_ISO_MAX], here[MQ_ISO_MAX];
        mq__iso_time(at, mq__hlc_ms(c->hlc));
        mq__iso_time(here, now);
        return bad(err, c,
                   "field v: stamped %s, more than %lld days after this replica's clock "
                   "(%s): a clock that far ahead would win every concurrent edit; check "
                   "the date of the device that wrote it (or of this one)",
                   at, (long long)(MQ_HLC_MAX_FUTURE_MS / 86400000), here);
    }
    if (!cJSON_IsString(type) ||
        (c->type = mq__schema_type(s->schema, type->valuestring)) == NULL)
        return bad(err, c, "field type: unknown record type %s",
                   cJSON_IsString(type) ? type->valuestring : "(missing)");
    if (!cJSON_IsString(id) || !mq_valid_uuid(id->valuestring))
        return bad(err, c, "field id: must be a lower-case UUID");
    mq__copy(c->id, sizeof(c->id), id->valuestring);
    if (by != NULL && !cJSON_IsNull(by)) {
        /* The value is not quoted: it may be anything a forger sent. */
        if (!cJSON_IsString(by) || !mq_valid_uuid(by->valuestring))
            return bad(err, c,
                       "field by: must be the id of a cadre record (a lower-case "
                       "UUID)");
        /* A cadre not yet here may arrive later (delivery order); an id that
         * is another type's record here never names a cadre. */
        mq__kind k;
        int rc = mq__kind_get(s, by->valuestring, &k, err);
        if (rc != 0)
            return rc;
        if (k.exists && strcmp(k.type_name, MQ__AUTHOR_TYPE) != 0)
            return bad(err, c, "field by: %s is a %s record, not a " MQ__AUTHOR_TYPE,
                       by->valuestring, k.type_name);
        mq__copy(c->by, sizeof(c->by), by->valuestring);
    }
    if (!cJSON_IsObject(set) || set->child == NULL)
        return bad(err, c, "field set: must be a non-empty object of field values");
    cJSON_ArrayForEach(it, set)
    {
        /* cJSON keeps both members of a name given twice; the merge would
         * take the second for an edit of the first. */
        for (const cJSON *p = set->child; p != it; p = p->next)
            if (strcmp(p->string, it->string) == 0)
                return bad(err, c, "field %s: given twice", it->string);
        if (strcmp(it->string, "_deleted") == 0) {
            if (c->type->log)
                return bad(err, c, "%s records cannot be deleted", c->type->name);
            if (!cJSON_IsBool(it))
                return bad(err, c, "field _deleted: must be true or false");
            continue;
        }
        /* in schema order as a rule: looked for where the last one was */
        const mq_field *f =
            next < c->type->nfields && strcmp(c->type->fields[next].name, it->string) == 0
                ? &c->type->fields[next]
                : mq__type_field(c->type, it->string);
        if (f != NULL)
            next = (size_t)(f - c->type->fields) + 1;
        if (f == NULL)
            return bad(err, c, "field %s: not a field of %s", it->string, c->type->name);
        if (mq__check_value(f, it, why, sizeof(why)) != 0)
            return bad(err, c, "field %s: %s", f->name, why);
    }
    if (base != NULL && !cJSON_IsNull(base)) {
        if (!cJSON_IsObject(base))
            return bad(err, c, "field base: must be an object");
        cJSON_ArrayForEach(it, base)
        {
            const cJSON *bv;
            if (cJSON_GetObjectItemCaseSensitive(set, it->string) == NULL)
                return bad(err, c, "base names field %s, which the change does not set",
                           it->string);
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > MQ_BASE_MAX)
                return bad(err, c, "base of %s: must be an array of versions",
                           it->string);
            cJSON_ArrayForEach(bv, it)
            {
                if (!cJSON_IsString(bv) ||
                    mq__version_parse(bv->valuestring, NULL, NULL) != 0)
                    return bad(err, c, "base of %s: not a version", it->string);
                if (strcmp(bv->valuestring, c->v) == 0)
                    return bad(err, c, "base of %s: the change names itself", it->string);
            }
        }
        c->base = base;
    }
    /* M6 needs no state to see an edit: a log record's only change is its
     * creation, and a creation names no base. */
    if (c->type->log && c->base != NULL && c->base->child != NULL)
        return bad(err, c,
                   "%s %s is a log record, written once and never edited (M6): a change "
                   "with a base edits it",
                   c->type->name, c->id);
    c->set = set; /* borrowed from obj: the change is parsed once, never copied */
    return 0;
}

int mq__change_check_log(mq_store *s, const mq__change *c, mq_error *err)
{
    mq__kind k;
    mq__rec rec;
    int rc, dup = 0;

    if (!c->type->log)
        return 0;
    if ((rc = mq__kind_get(s, c->id, &k, err)) != 0)
        return rc;
    /* A first creation, a record of another type (the merge refuses it) or
     * a version already here (a duplicate) is not this rule's to judge. */
    if (!k.exists || k.type != c->type)
        return 0;
    if ((rc = mq__version_logged(s, c->v, &dup, err)) != 0 || dup)
        return rc;
    if ((rc = mq__rec_load(s, c->id, &rec, err)) != 0)
        return rc;
    /* Cleared (null) and absent fields are the same value. */
    cJSON *have = mq__json_strip_nulls(rec.fields);
    cJSON *got = mq__json_strip_nulls(c->set);
    const char *differs = NULL;
    const cJSON *it;
    if (have == NULL || got == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    cJSON_ArrayForEach(it, got)
    {
        if (!cJSON_Compare(it, cJSON_GetObjectItemCaseSensitive(have, it->string), 1)) {
            differs = it->string;
            break;
        }
    }
    cJSON_ArrayForEach(it, have)
    {
        if (differs == NULL && cJSON_GetObjectItemCaseSensitive(got, it->string) == NULL)
            differs = it->string;
    }
    if (differs != NULL)
        rc = bad(err, c,
                 "%s %s is a log record, written once and never edited (M6): this "
                 "creation differs from the one held here in field %s",
                 c->type->name, c->id, differs);
done:
    cJSON_Delete(have);
    cJSON_Delete(got);
    mq__rec_clear(&rec);
    return rc;
}
