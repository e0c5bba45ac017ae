/*
 * core/error.c - filling the caller's mq_error: the one filler that core,
 * sync and the front ends share (mq_error_set), and the mapping of an SQLite
 * failure to an MQ_E* code (mq__fail_sqlite).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void mq_error_clear(mq_error *err)
{
    if (err == NULL)
        return;
    err->rc = MQ_OK;
    err->domain = MQ_DOMAIN_MINQING;
    err->code = 0;
    err->message[0] = '\0';
}

const char *mq_strerror(int rc)
{
    switch (rc) {
    case MQ_OK:
        return "no error";
    case MQ_EINVAL:
        return "invalid input";
    case MQ_ENOTFOUND:
        return "not found";
    case MQ_EREFUSED:
        return "refused";
    case MQ_EIO:
        return "input/output error";
    case MQ_ENOMEM:
        return "out of memory";
    case MQ_ECORRUPT:
        return "store is corrupt";
    case MQ_ENET:
        return "network error";
    case MQ_EAUTH:
        return "not authorised";
    case MQ_ESTATE:
        return "store not ready";
    default:
        return "unknown error";
    }
}

int mq_error_setv(mq_error *err, int rc, mq_domain domain, int code, const char *fmt,
                  va_list ap)
{
    if (err != NULL) {
        err->rc = rc;
        err->domain = domain;
        err->code = code;
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
    }
    return rc;
}

int mq_error_set(mq_error *err, int rc, mq_domain domain, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mq_error_setv(err, rc, domain, code, fmt, ap);
    va_end(ap);
    return rc;
}

int mq__failv(mq_error *err, int rc, const char *fmt, va_list ap)
{
    return mq_error_setv(err, rc, MQ_DOMAIN_MINQING, rc, fmt, ap);
}

int mq__fail(mq_error *err, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mq__failv(err, rc, fmt, ap);
    va_end(ap);
    return rc;
}

int mq__fail_sqlite(mq_error *err, sqlite3 *db, const char *what)
{
    int code = sqlite3_extended_errcode(db);
    int rc = MQ_EIO;

    if (code == SQLITE_NOMEM)
        rc = MQ_ENOMEM;
    else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        rc = MQ_ECORRUPT;
    return mq_error_set(err, rc, MQ_DOMAIN_SQLITE, code, "%s: %s", what,
                        sqlite3_errmsg(db));
}

void mq_error_prefix(mq_error *err, const char *prefix)
{
    char tmp[MQ_ERROR_MESSAGE_MAX];

    if (err == NULL)
        return;
    snprintf(tmp, sizeof(tmp), "%s%s", prefix, err->message);
    memcpy(err->message, tmp, sizeof(tmp));
}
