/*
 * bench/ids.h - a growing list of record ids, filled from a store walk.
 * Used by the benchmark programs that pick records to edit.
 */
#ifndef MQB_IDS_H
#define MQB_IDS_H

#include <stddef.h>

typedef struct mqb_ids {
    char **v; /* owned strings */
    size_t n, cap;
} mqb_ids;

/* An mq_json_cb: appends the "id" of each record walked to `ctx` (mqb_ids). */
int mqb_collect_id(void *ctx, const char *json);
/* Sorts the ids, so a seed picks the same records on every store. */
void mqb_ids_sort(mqb_ids *l);
/* Frees the ids and empties the list. */
void mqb_ids_free(mqb_ids *l);

#endif /* MQB_IDS_H */
