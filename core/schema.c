/*
 * core/schema.c - compiles the schema JSON into mq_type and mq_field.
 *
 * The compiler is strict: an unknown key, kind or type name is an error that
 * names the type and field, so that a county editing the schema learns of a
 * typo when the library starts, not when a cadre's record is refused.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

static const struct {
    const char *name;
    mq_kind kind;
} kinds[] = {
    {"text", MQ_KIND_TEXT},       {"integer", MQ_KIND_INTEGER},
    {"decimal", MQ_KIND_DECIMAL}, {"date", MQ_KIND_DATE},
    {"enum", MQ_KIND_ENUM},       {"tags", MQ_KIND_TAGS},
    {"ref", MQ_KIND_REF},         {"id_number", MQ_KIND_ID_NUMBER},
    {"phone", MQ_KIND_PHONE},     {"boolean", MQ_KIND_BOOLEAN},
};

static const char *const field_keys[] = {"kind", "required",   "search",     "min",
                                         "max",  "min_length", "max_length", "values",
                                         "to",   NULL};

static int known_key(const char *key, const char *const *keys)
{
    for (; *keys != NULL; keys++)
        if (strcmp(key, *keys) == 0)
            return 1;
    return 0;
}

/* The largest length bound, in characters: what a long holds everywhere
 * (it is 32 bits on the armhf tablets). */
#define LENGTH_MAX 2147483647L

/* A length bound is a whole number that a long holds: no fraction, no sign,
 * not 1e300 (which no cast could hold). */
static int is_length(const cJSON *n)
{
    return cJSON_IsNumber(n) && n->valuedouble >= 0 &&
           n->valuedouble <= (double)LENGTH_MAX &&
           n->valuedouble == (double)(long)n->valuedouble;
}

static int is_date(const char *s)
{
    char why[8];

    return mq__check_date(s, why, sizeof(why)) == 0;
}

static int parse_field(mq_field *f, const char *tname, const cJSON *j, mq_error *err)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *it;

    f->min_length = f->max_length = -1;
    if (!cJSON_IsObject(j))
        return mq__fail(err, MQ_EINVAL, "schema: type %s: field %s: must be an object",
                        tname, f->name);
    cJSON_ArrayForEach(it, j)
    {
        if (!known_key(it->string, field_keys))
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: unknown key \"%s\"", tname,
                            f->name, it->string);
    }
    if (!cJSON_IsString(kind))
        return mq__fail(err, MQ_EINVAL, "schema: type %s: field %s: \"kind\" is required",
                        tname, f->name);
    size_t k;
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (strcmp(kinds[k].name, kind->valuestring) == 0)
            break;
    if (k == sizeof(kinds) / sizeof(kinds[0]))
        return mq__fail(err, MQ_EINVAL, "schema: type %s: field %s: unknown kind \"%s\"",
                        tname, f->name, kind->valuestring);
    f->kind = kinds[k].kind;
    f->required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "required"));
    f->search = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "search"));

    const cJSON *min = cJSON_GetObjectItemCaseSensitive(j, "min");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(j, "max");
    if (f->kind == MQ_KIND_DATE) {
        if ((min != NULL && !(cJSON_IsString(min) && is_date(min->valuestring))) ||
            (max != NULL && !(cJSON_IsString(max) && is_date(max->valuestring))))
            return mq__fail(
                err, MQ_EINVAL,
                "schema: type %s: field %s: date bounds must be \"YYYY-MM-DD\"", tname,
                f->name);
        f->min_date = min != NULL ? mq__strdup(min->valuestring) : NULL;
        f->max_date = max != NULL ? mq__strdup(max->valuestring) : NULL;
        if ((min != NULL && f->min_date == NULL) || (max != NULL && f->max_date == NULL))
            return mq__fail(err, MQ_ENOMEM, "out of memory");
    } else if (min != NULL || max != NULL) {
        if ((min != NULL && !cJSON_IsNumber(min)) ||
            (max != NULL && !cJSON_IsNumber(max)))
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: bounds must be numbers", tname,
                            f->name);
        f->has_min = min != NULL;
        f->has_max = max != NULL;
        f->min = min != NULL ? min->valuedouble : 0;
        f->max = max != NULL ? max->valuedouble : 0;
    }
    const cJSON *minl = cJSON_GetObjectItemCaseSensitive(j, "min_length");
    const cJSON *maxl = cJSON_GetObjectItemCaseSensitive(j, "max_length");
    if ((minl != NULL && !is_length(minl)) || (maxl != NULL && !is_length(maxl)))
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: field %s: length bounds must be whole numbers "
                        "from 0 to %ld",
                        tname, f->name, LENGTH_MAX);
    if (minl != NULL)
        f->min_length = (long)minl->valuedouble;
    if (maxl != NULL)
        f->max_length = (long)maxl->valuedouble;

    const cJSON *values = cJSON_GetObjectItemCaseSensitive(j, "values");
    if (f->kind == MQ_KIND_ENUM || f->kind == MQ_KIND_TAGS) {
        if (!cJSON_IsArray(values) || cJSON_GetArraySize(values) == 0)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: \"values\" must list the choices",
                            tname, f->name);
        f->values = calloc((size_t)cJSON_GetArraySize(values), sizeof(char *));
        f->nvalues = f->values != NULL ? (size_t)cJSON_GetArraySize(values) : 0;
        if (f->values == NULL)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        size_t i = 0;
        cJSON_ArrayForEach(it, values)
        {
            if (!cJSON_IsString(it))
                return mq__fail(err, MQ_EINVAL,
                                "schema: type %s: field %s: choices must be strings",
                                tname, f->name);
            if ((f->values[i++] = mq__strdup(it->valuestring)) == NULL)
                return mq__fail(err, MQ_ENOMEM, "out of memory");
        }
    }
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(j, "to");
    if (f->kind == MQ_KIND_REF) {
        if (!cJSON_IsString(to))
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: a ref needs \"to\": TYPE", tname,
                            f->name);
        if ((f->to = mq__strdup(to->valuestring)) == NULL)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    return 0;
}

static int parse_type(mq_type *t, const cJSON *j, mq_error *err)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
    const cJSON *scope = cJSON_GetObjectItemCaseSensitive(j, "scope");
    const cJSON *it;

    if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "mutable") != 0 &&
                                  strcmp(kind->valuestring, "log") != 0))
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: \"kind\" must be mutable or log", t->name);
    t->log = strcmp(kind->valuestring, "log") == 0;
    if (!cJSON_IsObject(fields) || cJSON_GetArraySize(fields) == 0)
        return mq__fail(err, MQ_EINVAL, "schema: type %s: \"fields\" must be an object",
                        t->name);
    t->fields = calloc((size_t)cJSON_GetArraySize(fields), sizeof(mq_field));
    t->nfields = t->fields != NULL ? (size_t)cJSON_GetArraySize(fields) : 0;
    if (t->fields == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    size_t i = 0;
    cJSON_ArrayForEach(it, fields)
    {
        mq_field *f = &t->fields[i++];
        if (it->string[0] == '_' || strchr(it->string, '"') != NULL ||
            strchr(it->string, '\\') != NULL)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field name \"%s\" is reserved", t->name,
                            it->string);
        /* cJSON keeps both of two members of one name; the first would
         * shadow the second wherever a field is looked up by name. */
        if (mq__type_field(t, it->string) != NULL)
            return mq__fail(err, MQ_EINVAL, "schema: type %s: field %s is declared twice",
                            t->name, it->string);
        if ((f->name = mq__strdup(it->string)) == NULL)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        int rc = parse_field(f, t->name, it, err);
        if (rc != 0)
            return rc;
    }
    if (scope != NULL) {
        if (!cJSON_IsString(scope))
            return mq__fail(err, MQ_EINVAL, "schema: type %s: \"scope\" must be a string",
                            t->name);
        /*
         * "self" marks the area type: its records are areas, nested through
         * their "parent" field.  Otherwise scope names the ref field that
         * leads to the enclosing record.
         */
        const char *sf = scope->valuestring;
        if (strcmp(sf, "self") == 0) {
            t->scope_self = 1;
            sf = "parent";
        }
        t->scope = mq__type_field(t, sf);
        if (t->scope == NULL || t->scope->kind != MQ_KIND_REF)
            return mq__fail(
                err, MQ_EINVAL,
                "schema: type %s: scope \"%s\" is not a ref field of the type", t->name,
                sf);
    }
    return 0;
}

int mq__schema_parse(mq_schema **out, const char *json, mq_error *err)
{
    cJSON *root = cJSON_Parse(json);
    mq_schema *s;
    int rc = 0;

    *out = NULL;
    if (root == NULL)
        return mq__fail(err, MQ_EINVAL, "schema: not valid JSON");
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        cJSON_Delete(root);
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "schema");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(root, "types");
    s->name = mq__strdup(cJSON_IsString(name) ? name->valuestring : "unnamed");
    s->version = cJSON_IsNumber(version) ? version->valueint : 0;
    if (s->name == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    if (!cJSON_IsObject(types) || cJSON_GetArraySize(types) == 0) {
        rc = mq__fail(err, MQ_EINVAL, "schema: \"types\" must be a non-empty object");
        goto done;
    }
    s->types = calloc((size_t)cJSON_GetArraySize(types), sizeof(mq_type));
    s->ntypes = s->types != NULL ? (size_t)cJSON_GetArraySize(types) : 0;
    if (s->types == NULL) {
        rc = mq__fail(err, MQ_ENOMEM, "out of memory");
        goto done;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, types)
    {
        mq_type *t = &s->types[i];
        /* Type names are spelt into SQL (scope filters, the area index):
         * lower-case letters, digits and '_', at most 63. */
        size_t len = strspn(it->string, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (len == 0 || len > 63 || it->string[len] != '\0' ||
            (it->string[0] >= '0' && it->string[0] <= '9')) {
            rc = mq__fail(err, MQ_EINVAL,
                          "schema: type name \"%.80s\": use a-z, 0-9 and _, starting "
                          "with a letter, at most 63 characters",
                          it->string);
            goto done;
        }
        if (mq__schema_type(s, it->string) != NULL) {
            rc =
                mq__fail(err, MQ_EINVAL, "schema: type %s is declared twice", it->string);
            goto done;
        }
        if ((t->name = mq__strdup(it->string)) == NULL) {
            rc = mq__fail(err, MQ_ENOMEM, "out of memory");
            goto done;
        }
        t->index = i++;
        rc = parse_type(t, it, err);
        if (rc != 0)
            goto done;
    }
    /* Resolve references now that every type is known. */
    for (i = 0; i < s->ntypes; i++) {
        mq_type *t = &s->types[i];
        for (size_t k = 0; k < t->nfields; k++) {
            mq_field *f = &t->fields[k];
            if (f->kind != MQ_KIND_REF)
                continue;
            f->to_type = mq__schema_type(s, f->to);
            if (f->to_type == NULL) {
                rc = mq__fail(err, MQ_EINVAL,
                              "schema: type %s: field %s: refers to unknown type \"%s\"",
                              t->name, f->name, f->to);
                goto done;
            }
        }
    }
done:
    cJSON_Delete(root);
    if (rc != 0) {
        mq__schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int mq__schema_default(mq_schema **out, mq_error *err)
{
    return mq__schema_parse(out, mq__default_schema_json, err);
}

void mq__schema_free(mq_schema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ntypes; i++) {
        mq_type *t = &s->types[i];
        for (size_t k = 0; k < t->nfields; k++) {
            mq_field *f = &t->fields[k];
            for (size_t v = 0; v < f->nvalues; v++)
                free(f->values[v]);
            free(f->values);
            free(f->name);
            free(f->min_date);
            free(f->max_date);
            free(f->to);
        }
        free(t->fields);
        free(t->name);
    }
    free(s->types);
    free(s->name);
    free(s);
}

const mq_type *mq__schema_type(const mq_schema *s, const char *name)
{
    for (size_t i = 0; i < s->ntypes; i++)
        if (s->types[i].name != NULL && strcmp(s->types[i].name, name) == 0)
            return &s->types[i];
    return NULL;
}

const mq_field *mq__type_field(const mq_type *t, const char *name)
{
    for (size_t i = 0; i < t->nfields; i++)
        if (t->fields[i].name != NULL && strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

const char *mq_store_schema(const mq_store *store)
{
    /* Every store is opened with the built-in schema (mq_store_open()). */
    (void)store;
    return mq__default_schema_json;
}
