/*
 * web/assets.c - finding one of the app's assets, compiled in by
 * web/embed.cmake, by the path a browser asks for.
 */
#include <string.h>

#include "assets.h"

const mq_web_asset *mq_web_asset_find(const char *path)
{
    if (path == NULL)
        return NULL;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    /* A few dozen files: a linear scan costs less than the request's read. */
    for (size_t i = 0; i < mq__web_nassets; i++)
        if (strcmp(mq__web_assets[i].path, path) == 0)
            return &mq__web_assets[i];
    return NULL;
}
