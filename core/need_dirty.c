/*
 * core/need_dirty.c - the needs named for a refold (need_dirty.h).
 */
#include <stdlib.h>
#include <string.h>

#include "need_dirty.h"

int mq__need_dirty_touch(mq_store *s, const char *type, const char *id,
                         const char *parent, mq_error *err)
{
    struct mq__need_dirty *d = s->need_dirty;
    const char *key = strcmp(type, "need") == 0          ? id
                      : strcmp(type, "need_action") == 0 ? parent
                                                         : NULL;

    if (key == NULL)
        return 0;
    if (d == NULL) {
        if ((d = calloc(1, sizeof(*d))) == NULL ||
            (d->ids = malloc(MQ__NEED_DIRTY_MAX * sizeof(char *))) == NULL) {
            free(d);
            return mq__fail(err, MQ_ENOMEM, "out of memory");
        }
        s->need_dirty = d;
    }
    if (d->all)
        return 0;
    if (d->n == MQ__NEED_DIRTY_MAX) {
        mq__need_dirty_forget(s);
        d->all = 1;
        return 0;
    }
    if ((d->ids[d->n] = mq__strdup(key)) == NULL)
        return mq__fail(err, MQ_ENOMEM, "out of memory");
    d->n++;
    return 0;
}

int mq__need_dirty_any(const mq_store *s)
{
    return s->need_dirty != NULL && (s->need_dirty->n > 0 || s->need_dirty->all);
}

void mq__need_dirty_forget(mq_store *s)
{
    struct mq__need_dirty *d = s->need_dirty;

    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->ids[i]);
    d->n = 0;
    d->all = 0;
}

void mq__need_dirty_free(mq_store *s)
{
    if (s->need_dirty == NULL)
        return;
    mq__need_dirty_forget(s);
    free(s->need_dirty->ids);
    free(s->need_dirty);
    s->need_dirty = NULL;
}
