/*
 * tests/fuzz/fuzz_schema.c - the schema compiler (core/schema.c): the input
 * is a schema document (docs/SCHEMA.md) handed to mq__schema_parse().
 *
 * What must hold, whatever the input: the compiler returns a schema or an
 * error (MQ_EINVAL with a message, or MQ_ENOMEM), never crashes or leaks;
 * and a schema it returns is one the core can use: every type and field is
 * found by its name and is the only one of that name, every ref leads to a
 * type of the schema, a scope is a ref field of its own type, and length
 * bounds are unbounded (-1) or non-negative.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_schema(const mq_schema *s)
{
    for (size_t i = 0; i < s->ntypes; i++) {
        const mq_type *t = &s->types[i];
        if (t->name == NULL || mq__schema_type(s, t->name) != t)
            fuzz_fail("type %zu (%s) is not the one found by its name", i,
                      t->name ? t->name : "(null)");
        if (t->index != i)
            fuzz_fail("type %s: index %zu at position %zu", t->name, t->index, i);
        for (size_t k = 0; k < t->nfields; k++) {
            const mq_field *f = &t->fields[k];
            if (f->name == NULL || mq__type_field(t, f->name) != f)
                fuzz_fail("type %s: field %zu (%s) is not the one found by its name",
                          t->name, k, f->name ? f->name : "(null)");
            if (f->kind == MQ_KIND_REF &&
                (f->to_type == NULL || mq__schema_type(s, f->to) != f->to_type))
                fuzz_fail("type %s: field %s: ref to %s is not resolved", t->name,
                          f->name, f->to ? f->to : "(null)");
            if (f->min_length < -1 || f->max_length < -1)
                fuzz_fail("type %s: field %s: length bounds %ld..%ld", t->name, f->name,
                          f->min_length, f->max_length);
            if ((f->kind == MQ_KIND_ENUM || f->kind == MQ_KIND_TAGS) && f->nvalues == 0)
                fuzz_fail("type %s: field %s: a choice without values", t->name, f->name);
        }
        if (t->scope != NULL &&
            (t->scope < t->fields || t->scope >= t->fields + t->nfields ||
             t->scope->kind != MQ_KIND_REF))
            fuzz_fail("type %s: its scope is not a ref field of its own", t->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    mq_schema *s = NULL;
    mq_error e;
    mq_error_clear(&e);
    int rc = mq__schema_parse(&s, text, &e);
    if (rc == 0) {
        if (s == NULL)
            fuzz_fail("the compiler succeeded without a schema");
        check_schema(s);
    } else if ((rc != MQ_EINVAL && rc != MQ_ENOMEM) || s != NULL ||
               e.message[0] == '\0') {
        fuzz_fail("the compiler failed with %d and no clear error: \"%s\"", rc,
                  e.message);
    }
    mq__schema_free(s);
    free(text);
    return 0;
}
