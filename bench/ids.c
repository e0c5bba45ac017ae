/*
 * bench/ids.c - the list of record ids the benchmark programs edit.
 */
#include "ids.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

int mqb_collect_id(void *ctx, const char *json)
{
    mqb_ids *l = ctx;
    cJSON *o = cJSON_Parse(json);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");

    if (cJSON_IsString(id)) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 1024;
            l->v = mqb_xrealloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = mqb_xstrdup(id->valuestring);
    }
    cJSON_Delete(o);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mqb_ids_sort(mqb_ids *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

void mqb_ids_free(mqb_ids *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
