/*
 * core/form.c - the schema as a form needs it: mq_store_schema_json().
 *
 * A page draws a form from this text alone: the Chinese label of each type,
 * field and choice, the kind and rule of each field, and the defaults and
 * rules across fields that put applies.  It is printed from the compiled
 * schema (schema.c), not from the schema's source, so that what a form
 * shows is what the validator checks; the report groups of labels
 * ("reports"."labels", resolved by mq__report_cfg_load()) come along for
 * statuses and levels that are no field's choices.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "report_fold.h"

static const char *const kind_names[] = {"text",  "integer", "decimal", "date",
                                         "enum",  "tags",    "ref",     "id_number",
                                         "phone", "boolean"};

static void add_field(mq__json *j, cJSON *fields, const mq_field *f)
{
    cJSON *o = mq__json_add(j, fields, f->name, mq__json_object(j));

    if (f->label != NULL)
        mq__json_add_str(j, o, "label", f->label);
    mq__json_add_str(j, o, "kind", kind_names[f->kind]);
    mq__json_add(j, o, "required", cJSON_CreateBool(f->required));
    if (f->search)
        mq__json_add(j, o, "search", cJSON_CreateTrue());
    if (f->kind == MQ_KIND_DATE) {
        if (f->min_date != NULL)
            mq__json_add_str(j, o, "min", f->min_date);
        if (f->max_date != NULL)
            mq__json_add_str(j, o, "max", f->max_date);
    } else {
        if (f->has_min)
            mq__json_add(j, o, "min", cJSON_CreateNumber(f->min));
        if (f->has_max)
            mq__json_add(j, o, "max", cJSON_CreateNumber(f->max));
    }
    if (f->min_length >= 0)
        mq__json_add(j, o, "min_length", cJSON_CreateNumber((double)f->min_length));
    if (f->max_length >= 0)
        mq__json_add(j, o, "max_length", cJSON_CreateNumber((double)f->max_length));
    if (f->nvalues > 0) {
        cJSON *values = mq__json_add(j, o, "values", mq__json_array(j));
        for (size_t i = 0; i < f->nvalues; i++)
            mq__json_add_str(j, values, NULL, f->values[i]);
    }
    if (f->labels != NULL) {
        cJSON *labels = mq__json_add(j, o, "labels", mq__json_object(j));
        for (size_t i = 0; i < f->nvalues; i++)
            if (f->labels[i] != NULL)
                mq__json_add_str(j, labels, f->values[i], f->labels[i]);
    }
    if (f->to != NULL)
        mq__json_add_str(j, o, "to", f->to);
}

/* {FIELD: "cadre" | "today" | {"after", "by", "days"}}, as in the schema. */
static void add_defaults(mq__json *j, cJSON *to, const mq_type *t)
{
    cJSON *o = mq__json_add(j, to, t->name, mq__json_object(j));

    for (size_t i = 0; i < t->ndefaults; i++) {
        const mq_default *d = &t->defaults[i];
        if (d->rule != MQ_DEFAULT_AFTER) {
            mq__json_add_str(j, o, d->field->name,
                             d->rule == MQ_DEFAULT_CADRE ? "cadre" : "today");
            continue;
        }
        cJSON *r = mq__json_add(j, o, d->field->name, mq__json_object(j));
        mq__json_add_str(j, r, "after", d->after->name);
        mq__json_add_str(j, r, "by", d->by->name);
        cJSON *days = mq__json_add(j, r, "days", mq__json_object(j));
        for (size_t v = 0; v < d->by->nvalues; v++)
            if (d->days[v] >= 0)
                mq__json_add(j, days, d->by->values[v],
                             cJSON_CreateNumber((double)d->days[v]));
    }
}

static void add_type(mq__json *j, cJSON *types, const mq_type *t)
{
    cJSON *o = mq__json_add(j, types, t->name, mq__json_object(j));

    if (t->label != NULL)
        mq__json_add_str(j, o, "label", t->label);
    mq__json_add_str(j, o, "kind", t->log ? "log" : "mutable");
    if (t->scope != NULL) {
        cJSON *scope = mq__json_add(j, o, "scope", mq__json_array(j));
        mq__json_add_str(j, scope, NULL, t->scope_self ? "self" : t->scope->name);
        if (t->scope_alt != NULL)
            mq__json_add_str(j, scope, NULL, t->scope_alt->name);
    }
    cJSON *fields = mq__json_add(j, o, "fields", mq__json_object(j));
    for (size_t i = 0; i < t->nfields; i++)
        add_field(j, fields, &t->fields[i]);
    if (t->none_of > 0) {
        cJSON *sets = mq__json_add(j, o, "one_of", mq__json_array(j));
        for (size_t i = 0; i < t->none_of; i++) {
            cJSON *set = mq__json_add(j, sets, NULL, mq__json_array(j));
            for (size_t k = 0; k < t->one_of[i].nfields; k++)
                mq__json_add_str(j, set, NULL, t->one_of[i].fields[k]->name);
        }
    }
    if (t->ndups > 0) {
        cJSON *dups = mq__json_add(j, o, "warn_duplicate", mq__json_array(j));
        for (size_t i = 0; i < t->ndups; i++)
            mq__json_add_str(j, dups, NULL, t->dups[i]->name);
    }
}

int mq_store_schema_json(mq_store *s, char **out, mq_error *err)
{
    const mq_schema *schema = s->schema;
    mq__report_cfg cfg;
    mq__json j;
    int rc;

    *out = NULL;
    if ((rc = mq__report_cfg_load(s, &cfg, err)) != 0)
        return rc;
    mq__json_init(&j);
    cJSON *root = mq__json_object(&j);
    mq__json_add_str(&j, root, "schema", schema->name);
    mq__json_add(&j, root, "version", cJSON_CreateNumber(schema->version));
    cJSON *types = mq__json_add(&j, root, "types", mq__json_object(&j));
    cJSON *defaults = mq__json_add(&j, root, "defaults", mq__json_object(&j));
    for (size_t i = 0; i < schema->ntypes; i++) {
        add_type(&j, types, &schema->types[i]);
        if (schema->types[i].ndefaults > 0)
            add_defaults(&j, defaults, &schema->types[i]);
    }
    mq__json_add(&j, root, "labels",
                 cfg.labels != NULL ? cJSON_Duplicate(cfg.labels, 1)
                                    : cJSON_CreateObject());
    mq__json_add_str(&j, root, "cadre", s->cadre);
    const char *text;
    rc = mq__json_print(&j, root, &text);
    if (rc == 0 && (*out = mq__strdup(text)) == NULL)
        rc = MQ_ENOMEM;
    cJSON_Delete(root);
    mq__json_free(&j);
    mq__report_cfg_free(&cfg);
    return rc != 0 ? mq__fail(err, MQ_ENOMEM, "out of memory") : 0;
}
