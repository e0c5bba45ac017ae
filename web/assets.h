/*
 * web/assets.h - the table of the app's assets that web/embed.cmake
 * generates from web/assets/ at build time (web_assets.c in the build
 * folder), read by mq_web_asset_find() in web/assets.c.
 */
#ifndef MQ_WEB_ASSETS_H
#define MQ_WEB_ASSETS_H

#include <stddef.h>

#include "web.h"

/** Every asset, sorted by path. */
extern const mq_web_asset mq__web_assets[];
/** How many there are (at least one: index.html). */
extern const size_t mq__web_nassets;

#endif /* MQ_WEB_ASSETS_H */
