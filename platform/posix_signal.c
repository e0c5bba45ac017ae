/*
 * platform/posix_signal.c - the signals that stop a server: SIGINT and
 * SIGTERM blocked in every thread and taken by sigwait() in the main one,
 * SIGPIPE ignored; and SIGXFSZ ignored, so that a write past `ulimit -f` is
 * an error (EFBIG) that the store reports rather than a silent death.
 *
 * A handler would run on whichever thread the kernel picks, in the middle
 * of a request; blocked and waited for, the signal is an ordinary event of
 * the main thread, which then stops the HTTP daemon in order.
 */
#include "platform.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

static void stop_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

int mq_platform_ignore_file_size_signal(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGXFSZ, &sa, NULL);
}

int mq_platform_block_stop_signals(void)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0 || mq_platform_ignore_file_size_signal() != 0)
        return -1;
    stop_set(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}

int mq_platform_wait_stop_signal(void)
{
    sigset_t set;
    int sig = 0;

    stop_set(&set);
    int rc = sigwait(&set, &sig);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return sig;
}
