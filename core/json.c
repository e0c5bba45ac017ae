/*
 * core/json.c - small JSON helpers shared by the readers and writers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

char *mq__json_print(const cJSON *v)
{
    return cJSON_PrintUnformatted(v);
}

cJSON *mq__json_strip_nulls(const cJSON *fields)
{
    cJSON *copy = cJSON_CreateObject();
    const cJSON *it;

    if (copy == NULL)
        return NULL;
    cJSON_ArrayForEach(it, fields)
    {
        if (cJSON_IsNull(it))
            continue;
        cJSON *dup = cJSON_Duplicate(it, 1);
        if (dup == NULL) {
            cJSON_Delete(copy);
            return NULL;
        }
        cJSON_AddItemToObject(copy, it->string, dup);
    }
    return copy;
}

char *mq__record_json(const char *type, const char *id, const char *fields_json,
                      int deleted)
{
    /*
     * Type names come from the schema and ids are UUIDs: neither needs JSON
     * escaping, so the record is spliced together without a parse.
     */
    size_t n = strlen(type) + strlen(id) + strlen(fields_json) + 64;
    char *out = malloc(n);

    if (out == NULL)
        return NULL;
    snprintf(out, n, "{\"type\":\"%s\",\"id\":\"%s\",\"fields\":%s%s}", type, id,
             fields_json, deleted ? ",\"deleted\":true" : "");
    return out;
}
