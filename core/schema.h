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
    char *to;               /* ref: name of the referenced type */
    const mq_type *to_type; /* ref: resolved after parsing */
} mq_field;

struct mq_type {
    char *name;
    size_t index; /* position in the schema: export order */
    int log;      /* 1: written once, never edited; 0: mutable */
    mq_field *fields;
    size_t nfields;
    int scope_self;        /* the record is an area itself */
    const mq_field *scope; /* the field leading to the enclosing record */
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
