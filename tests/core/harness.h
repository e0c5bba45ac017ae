/*
 * tests/core/harness.h - the few macros the unit tests share.
 *
 * Each test executable runs its cases in order, counts failed checks, prints
 * every failure with file, line and the expression, and exits non-zero if
 * any check failed, so ctest reports it.
 */
#ifndef MQ_TEST_HARNESS_H
#define MQ_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mq_test_failures;
static int mq_test_checks;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        mq_test_checks++;                                                                \
        if (!(cond)) {                                                                   \
            mq_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_STR(a, b)                                                                  \
    do {                                                                                 \
        const char *a_ = (a), *b_ = (b);                                                 \
        mq_test_checks++;                                                                \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                           \
            mq_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__,          \
                    __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");               \
        }                                                                                \
    } while (0)

/* Checks that `text` contains `part`. */
#define CHECK_HAS(text, part)                                                            \
    do {                                                                                 \
        const char *t_ = (text), *p_ = (part);                                           \
        mq_test_checks++;                                                                \
        if (t_ == NULL || strstr(t_, p_) == NULL) {                                      \
            mq_test_failures++;                                                          \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,         \
                    __LINE__, t_ ? t_ : "(null)", p_);                                   \
        }                                                                                \
    } while (0)

#define RUN(test)                                                                        \
    do {                                                                                 \
        int before_ = mq_test_failures;                                                  \
        test();                                                                          \
        printf("%s %s\n", mq_test_failures == before_ ? "ok  " : "FAIL", #test);         \
    } while (0)

static inline int mq_test_done(void)
{
    printf("%d checks, %d failed\n", mq_test_checks, mq_test_failures);
    return mq_test_failures == 0 ? 0 : 1;
}

#endif /* MQ_TEST_HARNESS_H */
