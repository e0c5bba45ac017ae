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
                                         "to",   "label",      "labels",     NULL};

static const char *const type_keys[] = {"kind",     "scope",          "fields", "label",
                                        "defaults", "warn_duplicate", "one_of", NULL};

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

/*
 * A label is what a cadre reads on a form instead of the field's name: text
 * of 1 to MQ_LABEL_MAX characters, valid UTF-8, without control characters.
 * `where` names it ("type T", "type T: field F", "... labels: VALUE").
 * @param[out] out  a copy, owned by the schema
 */
static int parse_label(char **out, const char *where, const cJSON *j, mq_error *err)
{
    char *txt;
    long len;

    if (!cJSON_IsString(j)) {
        txt = mq__value_text(j);
        int rc =
            mq__fail(err, MQ_EINVAL, "schema: %s: label: must be a string (value %s)",
                     where, txt != NULL ? txt : "?");
        free(txt);
        return rc;
    }
    len = mq__utf8_length(j->valuestring);
    int control = 0;
    for (const char *p = j->valuestring; *p != '\0'; p++)
        control |= (unsigned char)*p < 0x20;
    if (len < 1 || len > MQ_LABEL_MAX || control) {
        txt = mq__value_text(j);
        int rc = mq__fail(err, MQ_EINVAL, "schema: %s: label: %s (value %s)", where,
                          len < 0    ? "is not valid UTF-8"
                          : control  ? "contains a control character"
                          : len == 0 ? "must not be empty"
                                     : "must be at most " MQ_LABEL_MAX_TEXT " characters",
                          txt != NULL ? txt : "?");
        free(txt);
        return rc;
    }
    if ((*out = mq__strdup(j->valuestring)) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    return 0;
}

/* "labels": {VALUE: LABEL} of an enum or tags field, every key a choice. */
static int parse_labels(mq_field *f, const char *tname, const cJSON *j, mq_error *err)
{
    char where[200];
    const cJSON *it;

    if (j == NULL)
        return 0;
    if (f->kind != MQ_KIND_ENUM && f->kind != MQ_KIND_TAGS)
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: field %s: \"labels\" name the choices of an "
                        "enum or tags field; use \"label\" for the field",
                        tname, f->name);
    if (!cJSON_IsObject(j))
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: field %s: \"labels\" must be an object "
                        "{CHOICE: LABEL}",
                        tname, f->name);
    if ((f->labels = calloc(f->nvalues, sizeof(char *))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    cJSON_ArrayForEach(it, j)
    {
        size_t i = 0;
        while (i < f->nvalues && strcmp(f->values[i], it->string) != 0)
            i++;
        if (i == f->nvalues)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: labels: \"%.80s\" is not one of "
                            "the field's \"values\"",
                            tname, f->name, it->string);
        if (f->labels[i] != NULL)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: labels: \"%.80s\" is labelled "
                            "twice",
                            tname, f->name, it->string);
        snprintf(where, sizeof(where), "type %s: field %s: labels: %.80s", tname, f->name,
                 it->string);
        int rc = parse_label(&f->labels[i], where, it, err);
        if (rc != 0)
            return rc;
    }
    return 0;
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
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    if (label != NULL) {
        char where[200];
        snprintf(where, sizeof(where), "type %s: field %s", tname, f->name);
        int rc = parse_label(&f->label, where, label, err);
        if (rc != 0)
            return rc;
    }
    return parse_labels(f, tname, cJSON_GetObjectItemCaseSensitive(j, "labels"), err);
}

/* The field `name` of type `t` (kind `kind`, or any when -1), or NULL with
 * `err` saying why, for rule `what` of the type. */
static const mq_field *rule_field(const mq_type *t, const char *what, const cJSON *name,
                                  int kind, const char *kind_text, mq_error *err)
{
    const mq_field *f =
        cJSON_IsString(name) ? mq__type_field(t, name->valuestring) : NULL;

    if (f == NULL) {
        char *txt = mq__value_text(name);
        mq__fail(err, MQ_EINVAL, "schema: type %s: %s: %s is not a field of the type",
                 t->name, what, txt != NULL ? txt : "?");
        free(txt);
        return NULL;
    }
    if (kind >= 0 && f->kind != (mq_kind)kind) {
        mq__fail(err, MQ_EINVAL, "schema: type %s: %s: field %s must be %s", t->name,
                 what, f->name, kind_text);
        return NULL;
    }
    return f;
}

/* The largest number of days a deadline default may add: a hundred years. */
#define DAYS_MAX 36500

/*
 * "defaults": {FIELD: "cadre" | "today" | {"after": DATE_FIELD, "by":
 * ENUM_FIELD, "days": {CHOICE: N}}}.  Rules "cadre" and "today" come first
 * in t->defaults, the "after" rules last, so that a deadline counts from a
 * recorded_at the same write filled.
 */
static int parse_defaults(mq_type *t, const cJSON *j, mq_error *err)
{
    const cJSON *it;
    char what[160];

    if (j == NULL)
        return 0;
    if (!cJSON_IsObject(j))
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: \"defaults\" must be an object {FIELD: RULE}",
                        t->name);
    size_t n = (size_t)cJSON_GetArraySize(j);
    if ((t->defaults = calloc(n, sizeof(mq_default))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        cJSON_ArrayForEach(it, j)
        {
            if (cJSON_IsObject(it) != (pass == 1))
                continue;
            snprintf(what, sizeof(what), "defaults: %.80s", it->string);
            mq_default *d = &t->defaults[t->ndefaults];
            cJSON name = {0};
            name.type = cJSON_String;
            name.valuestring = it->string;
            if ((d->field = rule_field(t, "defaults", &name, -1, NULL, err)) == NULL)
                return MQ_EINVAL;
            for (size_t k = 0; k < t->ndefaults; k++)
                if (t->defaults[k].field == d->field)
                    return mq__fail(err, MQ_EINVAL, "schema: type %s: %s: given twice",
                                    t->name, what);
            if (cJSON_IsString(it) && strcmp(it->valuestring, "cadre") == 0) {
                if (d->field->kind != MQ_KIND_REF ||
                    strcmp(d->field->to, MQ__AUTHOR_TYPE) != 0)
                    return mq__fail(err, MQ_EINVAL,
                                    "schema: type %s: %s: \"cadre\" fills a ref to "
                                    "a " MQ__AUTHOR_TYPE " record, and %s is not one",
                                    t->name, what, d->field->name);
                d->rule = MQ_DEFAULT_CADRE;
            } else if (cJSON_IsString(it) && strcmp(it->valuestring, "today") == 0) {
                if (d->field->kind != MQ_KIND_DATE)
                    return mq__fail(err, MQ_EINVAL,
                                    "schema: type %s: %s: \"today\" fills a date field, "
                                    "and %s is not one",
                                    t->name, what, d->field->name);
                d->rule = MQ_DEFAULT_TODAY;
            } else if (cJSON_IsObject(it)) {
                const cJSON *k, *days = cJSON_GetObjectItemCaseSensitive(it, "days");
                cJSON_ArrayForEach(k, it)
                {
                    if (strcmp(k->string, "after") != 0 && strcmp(k->string, "by") != 0 &&
                        strcmp(k->string, "days") != 0)
                        return mq__fail(err, MQ_EINVAL,
                                        "schema: type %s: %s: unknown key \"%.40s\" (a "
                                        "deadline takes after, by and days)",
                                        t->name, what, k->string);
                }
                if (d->field->kind != MQ_KIND_DATE)
                    return mq__fail(err, MQ_EINVAL,
                                    "schema: type %s: %s: a rule \"after\" fills a date "
                                    "field, and %s is not one",
                                    t->name, what, d->field->name);
                d->rule = MQ_DEFAULT_AFTER;
                d->after =
                    rule_field(t, what, cJSON_GetObjectItemCaseSensitive(it, "after"),
                               MQ_KIND_DATE, "a date", err);
                if (d->after == NULL)
                    return MQ_EINVAL;
                d->by = rule_field(t, what, cJSON_GetObjectItemCaseSensitive(it, "by"),
                                   MQ_KIND_ENUM, "an enum", err);
                if (d->by == NULL)
                    return MQ_EINVAL;
                if (!cJSON_IsObject(days))
                    return mq__fail(err, MQ_EINVAL,
                                    "schema: type %s: %s: \"days\" must be an object "
                                    "{%s CHOICE: DAYS}",
                                    t->name, what, d->by->name);
                if ((d->days = malloc(d->by->nvalues * sizeof(long))) == NULL)
                    return mq__fail(err, MQ_ENOMEM, "out of memory");
                for (size_t v = 0; v < d->by->nvalues; v++)
                    d->days[v] = -1;
                cJSON_ArrayForEach(k, days)
                {
                    size_t v = 0;
                    while (v < d->by->nvalues && strcmp(d->by->values[v], k->string) != 0)
                        v++;
                    int bad = 0;
                    if (v == d->by->nvalues)
                        bad = mq__fail(err, MQ_EINVAL,
                                       "schema: type %s: %s: days: \"%.80s\" is not a "
                                       "choice of %s",
                                       t->name, what, k->string, d->by->name);
                    else if (!cJSON_IsNumber(k) || k->valuedouble < 0 ||
                             k->valuedouble > DAYS_MAX ||
                             k->valuedouble != (double)(long)k->valuedouble)
                        bad = mq__fail(err, MQ_EINVAL,
                                       "schema: type %s: %s: days: %s: must be a whole "
                                       "number of days from 0 to %d",
                                       t->name, what, k->string, DAYS_MAX);
                    if (bad != 0) {
                        /* Not yet counted in ndefaults: mq__schema_free() would
                         * not see it. */
                        free(d->days);
                        d->days = NULL;
                        return bad;
                    }
                    d->days[v] = (long)k->valuedouble;
                }
            } else {
                return mq__fail(err, MQ_EINVAL,
                                "schema: type %s: %s: a rule is \"cadre\", \"today\" or "
                                "{\"after\", \"by\", \"days\"}",
                                t->name, what);
            }
            t->ndefaults++;
        }
    }
    return 0;
}

/* "warn_duplicate": [FIELD, ...]: fields a second live record should not
 * repeat. */
static int parse_dups(mq_type *t, const cJSON *j, mq_error *err)
{
    const cJSON *it;

    if (j == NULL)
        return 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) == 0)
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: \"warn_duplicate\" must list fields", t->name);
    if ((t->dups = calloc((size_t)cJSON_GetArraySize(j), sizeof(mq_field *))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    cJSON_ArrayForEach(it, j)
    {
        const mq_field *f = rule_field(t, "warn_duplicate", it, -1, NULL, err);
        if (f == NULL)
            return MQ_EINVAL;
        /* Spelt into the SQL of an index and its lookups (store.c). */
        if (f->name[strspn(f->name, "abcdefghijklmnopqrstuvwxyz0123456789_")] != '\0')
            return mq__fail(
                err, MQ_EINVAL,
                "schema: type %s: warn_duplicate: field %s: use a-z, 0-9 and _ "
                "in its name",
                t->name, f->name);
        t->dups[t->ndups++] = f;
    }
    return 0;
}

/* "one_of": [[FIELD, FIELD, ...], ...]: each list must have a value. */
static int parse_one_of(mq_type *t, const cJSON *j, mq_error *err)
{
    const cJSON *set, *it;

    if (j == NULL)
        return 0;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) == 0)
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: \"one_of\" must list lists of fields", t->name);
    if ((t->one_of = calloc((size_t)cJSON_GetArraySize(j), sizeof(mq_one_of))) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    cJSON_ArrayForEach(set, j)
    {
        mq_one_of *o = &t->one_of[t->none_of++];
        if (!cJSON_IsArray(set) || cJSON_GetArraySize(set) < 2)
            return mq__fail(
                err, MQ_EINVAL,
                "schema: type %s: one_of: each entry lists two fields or more", t->name);
        o->fields = calloc((size_t)cJSON_GetArraySize(set), sizeof(mq_field *));
        if (o->fields == NULL)
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        cJSON_ArrayForEach(it, set)
        {
            const mq_field *f = rule_field(t, "one_of", it, -1, NULL, err);
            if (f == NULL)
                return MQ_EINVAL;
            if (f->required)
                return mq__fail(err, MQ_EINVAL,
                                "schema: type %s: one_of: field %s is required already",
                                t->name, f->name);
            o->fields[o->nfields++] = f;
        }
    }
    return 0;
}

/* "scope": "self", a ref field, or [FIELD, FIELD]: the second when the first
 * holds no value. */
static int parse_scope(mq_type *t, const cJSON *scope, mq_error *err)
{
    const cJSON *first = scope, *alt = NULL;

    if (scope == NULL)
        return 0;
    if (cJSON_IsArray(scope)) {
        first = cJSON_GetArrayItem(scope, 0);
        alt = cJSON_GetArrayItem(scope, 1);
        if (cJSON_GetArraySize(scope) != 2 || !cJSON_IsString(first) ||
            !cJSON_IsString(alt) || strcmp(first->valuestring, "self") == 0)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: \"scope\" as a list names two ref fields: "
                            "the second leads to the area when the first is empty",
                            t->name);
    }
    if (!cJSON_IsString(first))
        return mq__fail(err, MQ_EINVAL, "schema: type %s: \"scope\" must be a string",
                        t->name);
    /*
     * "self" marks the area type: its records are areas, nested through
     * their "parent" field.  Otherwise scope names the ref field that leads
     * to the enclosing record.
     */
    const char *sf = first->valuestring;
    if (strcmp(sf, "self") == 0) {
        t->scope_self = 1;
        sf = "parent";
    }
    t->scope = mq__type_field(t, sf);
    if (t->scope == NULL || t->scope->kind != MQ_KIND_REF)
        return mq__fail(err, MQ_EINVAL,
                        "schema: type %s: scope \"%s\" is not a ref field of the type",
                        t->name, sf);
    if (alt != NULL) {
        t->scope_alt = mq__type_field(t, alt->valuestring);
        if (t->scope_alt == NULL || t->scope_alt->kind != MQ_KIND_REF ||
            t->scope_alt == t->scope)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: scope \"%s\" is not another ref field of "
                            "the type",
                            t->name, alt->valuestring);
    }
    return 0;
}

static int parse_type(mq_type *t, const cJSON *j, mq_error *err)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
    const cJSON *it;
    int rc;

    if (!cJSON_IsObject(j))
        return mq__fail(err, MQ_EINVAL, "schema: type %s: must be an object", t->name);
    cJSON_ArrayForEach(it, j)
    {
        if (!known_key(it->string, type_keys))
            return mq__fail(err, MQ_EINVAL, "schema: type %s: unknown key \"%.40s\"",
                            t->name, it->string);
    }
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
        if ((rc = parse_field(f, t->name, it, err)) != 0)
            return rc;
        /* Searchable fields are spelt into the SQL of the search index. */
        if (f->search &&
            f->name[strspn(f->name, "abcdefghijklmnopqrstuvwxyz0123456789_")] != '\0')
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: a searchable field's name uses "
                            "a-z, 0-9 and _",
                            t->name, f->name);
        if (f->search && f->kind != MQ_KIND_TEXT && f->kind != MQ_KIND_ID_NUMBER &&
            f->kind != MQ_KIND_PHONE)
            return mq__fail(err, MQ_EINVAL,
                            "schema: type %s: field %s: \"search\" applies to text, "
                            "id_number and phone fields",
                            t->name, f->name);
    }
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    if (label != NULL) {
        char where[100];
        snprintf(where, sizeof(where), "type %s", t->name);
        if ((rc = parse_label(&t->label, where, label, err)) != 0)
            return rc;
    }
    if ((rc = parse_scope(t, cJSON_GetObjectItemCaseSensitive(j, "scope"), err)) != 0 ||
        (rc = parse_defaults(t, cJSON_GetObjectItemCaseSensitive(j, "defaults"), err)) !=
            0 ||
        (rc = parse_dups(t, cJSON_GetObjectItemCaseSensitive(j, "warn_duplicate"),
                         err)) != 0)
        return rc;
    return parse_one_of(t, cJSON_GetObjectItemCaseSensitive(j, "one_of"), err);
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
            for (size_t v = 0; f->labels != NULL && v < f->nvalues; v++)
                free(f->labels[v]);
            free(f->values);
            free(f->labels);
            free(f->label);
            free(f->name);
            free(f->min_date);
            free(f->max_date);
            free(f->to);
        }
        for (size_t k = 0; k < t->ndefaults; k++)
            free(t->defaults[k].days);
        free(t->defaults);
        for (size_t k = 0; k < t->none_of; k++)
            free(t->one_of[k].fields);
        free(t->one_of);
        free(t->dups);
        free(t->fields);
        free(t->label);
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
