/*
 * core/schema.h - record types and fields, compiled from the schema JSON.
 *
 * The schema language is described in docs/SCHEMA.md.  A county changes its
 * record types by editing the JSON (core/schema/default.json is compiled into
 * the library), never the C: nothing in core/ names a field of a record type
 * except the needs report, which folds need_action records by design.
 */
#ifndef MQ_SCHEMA_H
#define MQ_SCHEMA_H

#include <stddef.h>

#include "minqing/error.h"

typedef enum mq_kind {
    MQ_KIND_TEXT,
    MQ_KIND_INTEGER,
    MQ_KIND_DECIMAL,
    MQ_KIND_DATE,
    MQ_KIND_ENUM,
    MQ_KIND_TAGS,
    MQ_KIND_REF,
    MQ_KIND_ID_NUMBER,
    MQ_KIND_PHONE,
    MQ_KIND_BOOLEAN
} mq_kind;

typedef struct mq_type mq_type;

/* The longest label, in characters (code points). */
#define MQ_LABEL_MAX      32
#define MQ_LABEL_MAX_TEXT "32"

typedef struct mq_field {
    char *name;
    mq_kind kind;
    int required;
    int search;           /* found by mq_store_search() */
    int has_min, has_max; /* integer, decimal */
    double min, max;
    char *min_date, *max_date;   /* date: "YYYY-MM-DD" or NULL */
    long min_length, max_length; /* text: characters; -1 when unbounded */
    char **values;               /* enum, tags: the allowed choices */
    size_t nvalues;
    char *label;            /* the Chinese name shown on forms, or NULL */
    char **labels;          /* enum, tags: labels[i] names values[i]; NULL, or an entry
                               NULL, where the schema gives none */
    char *to;               /* ref: name of the referenced type */
    const mq_type *to_type; /* ref: resolved after parsing */
} mq_field;

/* What a default fills a field with (docs/SCHEMA.md, "Defaults"). */
typedef enum mq_default_rule {
    MQ_DEFAULT_CADRE, /* a ref to the author type: the replica's cadre */
    MQ_DEFAULT_TODAY, /* a date: today on the replica's clock */
    MQ_DEFAULT_AFTER  /* a date: `days` after the date in `after`, N by `by` */
} mq_default_rule;

typedef struct mq_default {
    const mq_field *field; /* the field filled */
    mq_default_rule rule;
    const mq_field *after; /* AFTER: the date field counted from */
    const mq_field *by;    /* AFTER: the enum field that picks N */
    long *days;            /* AFTER: days[i] for by->values[i]; -1: no default */
} mq_default;

/* A rule across fields: at least one of `fields` must hold a value. */
typedef struct mq_one_of {
    const mq_field **fields;
    size_t nfields;
} mq_one_of;

struct mq_type {
    char *name;
    char *label;  /* the Chinese name shown on forms, or NULL */
    size_t index; /* position in the schema: export order */
    int log;      /* 1: written once, never edited; 0: mutable */
    mq_field *fields;
    size_t nfields;
    int scope_self;        /* the record is an area itself */
    const mq_field *scope; /* the field leading to the enclosing record */
    /* When `scope` holds no value, the field that leads there instead (a
     * need of a village names no household, only its area); or NULL. */
    const mq_field *scope_alt;
    mq_default *defaults; /* in the order they are applied */
    size_t ndefaults;
    mq_one_of *one_of; /* "one_of": each set must have one value */
    size_t none_of;
    const mq_field **dups; /* "warn_duplicate": warned of, never refused */
    size_t ndups;
};

typedef struct mq_schema {
    char *name;
    int version;
    mq_type *types;
    size_t ntypes;
} mq_schema;

/* Compiles a schema from JSON text.  @param[out] out the caller's. */
int mq__schema_parse(mq_schema **out, const char *json, mq_error *err);
/* Compiles the schema built into the library. */
int mq__schema_default(mq_schema **out, mq_error *err);
void mq__schema_free(mq_schema *schema);

const mq_type *mq__schema_type(const mq_schema *schema, const char *name);
const mq_field *mq__type_field(const mq_type *type, const char *name);

/* The default schema's JSON text (generated from core/schema/default.json). */
extern const char *const mq__default_schema_json;

#endif /* MQ_SCHEMA_H */
