/*
 * tests/web/test_sign_in.c - a sign-in checks its password through the
 * runner it is given (the server's mq_server_request.unlocked), and only
 * there: the derivation is what runs while the server's other writes go
 * on.  Inside the runner the store holds no transaction (another writer of
 * the file gets through), and failures that other attempts count while the
 * password is checked are seen after it: the attempt is then refused
 * (invariant 3 of web/accounts.c), its right password untold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/harness.h"
#include "minqing/minqing.h"
#include "office.h"

#define CADRE  "00000000-0000-4000-8000-0000000000c1"
#define COUNTY "00000000-0000-4000-8000-000000000001"

static const char path[] = "test_web_sign_in.db";
static mq_store *s; /* the office's file, with two accounts */

/* What the runner does, and what it saw. */
typedef struct runner {
    int calls;
    int run;          /* call fn: 0 leaves the password unchecked */
    int write_beside; /* a second store writes the file meanwhile */
    int fail_beside;  /* and counts this many failures of the name */
    const char *name;
    int wrote; /* the second store's write went through */
} runner;

static int run_beside(void *ctx, int (*fn)(void *fctx), void *fctx)
{
    runner *r = ctx;
    r->calls++;
    if (r->write_beside || r->fail_beside) {
        mq_store *other = NULL;
        mq_error err;
        CHECK(mq_store_open(&other, path, &err) == 0);
        if (other != NULL && r->write_beside)
            r->wrote = mq_store_setting_set(other, "test.beside", "1", &err) == 0;
        for (int i = 0; other != NULL && i < r->fail_beside; i++) {
            char token[MQ_OFFICE_TOKEN_HEX + 1];
            mq_office_account acc;
            int64_t wait = 0;
            int rc = mq_office_sign_in(other, r->name, "not the password", "10.0.0.9",
                                       NULL, NULL, token, &acc, &wait, &err);
            CHECK(rc == MQ_EAUTH || rc == MQ_EREFUSED);
            mq_office_account_clear(&acc);
        }
        mq_store_close(other);
    }
    return r->run ? fn(fctx) : 0;
}

static int sign_in(const char *name, const char *password, runner *r, int64_t *wait,
                   mq_error *err)
{
    char token[MQ_OFFICE_TOKEN_HEX + 1];
    mq_office_account acc;
    int rc = mq_office_sign_in(s, name, password, "10.0.0.1", run_beside, r, token, &acc,
                               wait, err);
    if (rc == 0)
        CHECK(strlen(token) == MQ_OFFICE_TOKEN_HEX && strcmp(acc.name, name) == 0);
    mq_office_account_clear(&acc);
    return rc;
}

static void test_runner(void)
{
    mq_error err;
    int64_t wait = 0;

    /* The password is checked in the runner, with the file free to write. */
    runner r = {0, 1, 1, 0, "clerk", 0};
    CHECK(sign_in("clerk", "right horse battery", &r, &wait, &err) == 0);
    CHECK(r.calls == 1 && r.wrote == 1);
    CHECK(sign_in("clerk", "wrong", &r, &wait, &err) == MQ_EAUTH);
    CHECK(r.calls == 2);
    /* Only there: a runner that does not run it leaves the right password
     * unchecked, and the sign-in fails. */
    runner skip = {0, 0, 0, 0, "clerk", 0};
    CHECK(sign_in("clerk", "right horse battery", &skip, &wait, &err) == MQ_EAUTH);
    CHECK(skip.calls == 1);
    /* An unknown name costs a check too (invariant 2). */
    CHECK(sign_in("nobody", "right horse battery", &r, &wait, &err) == MQ_EAUTH);
    CHECK(r.calls == 3);
    /* A name outside the rule is refused without one. */
    CHECK(sign_in("no spaces", "x", &r, &wait, &err) == MQ_EAUTH);
    CHECK(r.calls == 3);
}

static void test_counted_meanwhile(void)
{
    mq_error err;
    int64_t wait = 0;

    /* Five failures of the name counted while this attempt's password is
     * checked: the right password is then refused, not told. */
    runner r = {0, 1, 0, 5, "typist", 0};
    CHECK(sign_in("typist", "right horse battery", &r, &wait, &err) == MQ_EREFUSED);
    CHECK(r.calls == 1 && wait > 0);
    CHECK_HAS(err.message, "too many failed sign-ins");
    /* And while slowed, no password is checked at all (invariant 3). */
    runner plain = {0, 1, 0, 0, "typist", 0};
    CHECK(sign_in("typist", "right horse battery", &plain, &wait, &err) == MQ_EREFUSED);
    CHECK(plain.calls == 0);
    /* Another name is not slowed by them. */
    CHECK(sign_in("clerk", "right horse battery", &plain, &wait, &err) == 0);
    CHECK(plain.calls == 1);
}

int main(void)
{
    mq_error err;
    const char *areas[] = {COUNTY};

    remove(path);
    CHECK(mq_store_open(&s, path, &err) == 0);
    CHECK(mq_store_init(s, "office", CADRE, &err) == 0);
    CHECK(mq_store_put(s, "area", COUNTY, "{\"name\":\"县\",\"level\":\"county\"}", NULL,
                       NULL, &err) == 0);
    CHECK(mq_office_user_add(s, "clerk", "right horse battery", areas, 1, &err) == 0);
    CHECK(mq_office_user_add(s, "typist", "right horse battery", areas, 1, &err) == 0);
    RUN(test_runner);
    RUN(test_counted_meanwhile);
    mq_store_close(s);
    remove(path);
    return mq_test_done();
}
