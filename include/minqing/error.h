/*
 * minqing/error.h - how every minqing call reports failure.
 *
 * A call that can fail returns an int: 0 (MQ_OK) on success or one of the
 * negative MQ_E* codes below.  The details travel in an mq_error that the
 * caller owns and passes in; it is filled only when the call fails.  There is
 * no global or thread-local "last error": the server calls the library from
 * many threads at once, each with its own mq_error.
 *
 * The message names what is wrong the way a person fixing the input needs it:
 * the line or record, the field, the rule and the offending value, for
 * example
 *
 *     line 812: household 1b0c...: field head_id_number: check digit is 1,
 *     expected X (value "532327198001010011")
 */
#ifndef MINQING_ERROR_H
#define MINQING_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Return codes of every minqing call that can fail. */
enum {
    MQ_OK = 0,
    MQ_EINVAL = -1,    /**< invalid input: a record, field, bundle or argument */
    MQ_ENOTFOUND = -2, /**< no record, conflict or file of that name */
    MQ_EREFUSED = -3,  /**< the operation is not allowed (log record edit, scope) */
    MQ_EIO = -4,       /**< the file system or SQLite failed */
    MQ_ENOMEM = -5,    /**< out of memory */
    MQ_ECORRUPT = -6,  /**< the store fails its own invariants */
    MQ_ENET = -7,      /**< the network failed; retrying may help */
    MQ_EAUTH = -8,     /**< the server refused our credentials */
    MQ_ESTATE = -9     /**< the store is not in a state for this call (not initialised) */
};

/** Where an error came from, so that the code can be read in its own terms. */
typedef enum mq_domain {
    MQ_DOMAIN_MINQING = 0, /**< code is one of MQ_E* */
    MQ_DOMAIN_SQLITE = 1,  /**< code is an SQLite extended result code */
    MQ_DOMAIN_CURL = 2,    /**< code is a CURLcode */
    MQ_DOMAIN_HTTP = 3,    /**< code is an HTTP status */
    MQ_DOMAIN_OS = 4       /**< code is an errno value */
} mq_domain;

/** Size of the message buffer, terminator included. */
#define MQ_ERROR_MESSAGE_MAX 512

/**
 * Details of a failure.  Owned by the caller, usually on the stack; the
 * library never keeps a pointer to it past the call it was passed to.
 */
typedef struct mq_error {
    int rc;                             /**< the MQ_E* code the call returned */
    mq_domain domain;                   /**< where `code` comes from */
    int code;                           /**< code in its own domain */
    char message[MQ_ERROR_MESSAGE_MAX]; /**< NUL-terminated, UTF-8 */
} mq_error;

/** Resets `err` to "no error".  NULL-safe. */
void mq_error_clear(mq_error *err);

/** A short fixed English phrase for an MQ_E* code; never NULL. */
const char *mq_strerror(int rc);

/**
 * Fills `err` (NULL-safe) with `rc`, the domain and code of the failure and a
 * printf-style message, and returns `rc`, so that a failing path reads
 * `return mq_error_set(err, MQ_EINVAL, MQ_DOMAIN_MINQING, MQ_EINVAL, ...)`.
 * The one way every part of minqing, core, sync and front ends, fills an
 * mq_error; the message is cut to MQ_ERROR_MESSAGE_MAX - 1 bytes.
 */
int mq_error_set(mq_error *err, int rc, mq_domain domain, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/** mq_error_set() with a va_list. */
int mq_error_setv(mq_error *err, int rc, mq_domain domain, int code, const char *fmt,
                  va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 0)))
#endif
    ;

/** Puts `prefix` ("line 3: ") before the message already in `err`.  NULL-safe. */
void mq_error_prefix(mq_error *err, const char *prefix);

#ifdef __cplusplus
}
#endif

#endif /* MINQING_ERROR_H */
