/*
 * minqing/valid.h - the rules for the names and ids that every part of
 * minqing checks: the one place each rule is written.
 */
#ifndef MINQING_VALID_H
#define MINQING_VALID_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * 1 if `s` is 1 to `max` characters of [A-Za-z0-9_.-], else 0: the rule of a
 * site, a device name and a batch id.  NULL-safe (NULL is not valid).
 */
int mq_valid_name(const char *s, size_t max);

/** 1 if `s` is a canonical lower-case UUID (8-4-4-4-12 hex digits), else 0.
 *  NULL-safe. */
int mq_valid_uuid(const char *s);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_VALID_H */
