/*
 * sync/server/part.h - what the files of the server's library share
 * besides server.h: the handle of the sync_ tables (devices.c declares
 * them; sealed.c keeps the bundle keys in them).
 */
#ifndef MQ_SYNC_SERVER_PART_H
#define MQ_SYNC_SERVER_PART_H

#include "minqing/ext.h"

/**
 * The sync_ part of `store` (minqing/ext.h), its tables declared on first
 * use, which must come outside a transaction.
 * @param[out] out  owned by the store
 */
int mq__server_part(mq_store *store, mq_ext **out, mq_error *err);

#endif /* MQ_SYNC_SERVER_PART_H */
