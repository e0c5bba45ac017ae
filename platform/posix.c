/*
 * platform/posix.c - the platform layer on POSIX systems (Linux, Android).
 *
 * Randomness comes from /dev/urandom rather than getrandom(2) so the same
 * code builds on older Android NDKs; a short read is retried, never padded.
 */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t mq_platform_time_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mq_platform_uptime_ms(void)
{
    struct timespec ts;
#ifdef CLOCK_BOOTTIME
    /* Linux and Android: CLOCK_MONOTONIC stops while the tablet sleeps. */
    if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mq_platform_boot_id(char *out, size_t size)
{
    size_t n = 0;

    if (size == 0)
        return -1;
    out[0] = '\0';
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f == NULL)
        return -1;
    if (fgets(out, (int)size, f) != NULL)
        n = strcspn(out, "\r\n");
    fclose(f);
    out[n] = '\0';
    return n > 0 ? 0 : -1;
}

void mq_platform_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int mq_platform_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t got = read(fd, p, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            close(fd);
            return -1;
        }
        p += got;
        n -= (size_t)got;
    }
    close(fd);
    return 0;
}

int mq_platform_mkdirs(const char *dir)
{
    size_t len = strlen(dir);
    char *path = malloc(len + 1);

    if (path == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(path, dir, len + 1);
    /* Walk the components left to right, creating each that is missing. */
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            free(path);
            errno = e;
            return -1;
        }
        path[i] = saved;
    }
    free(path);
    return 0;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);

    if (s == NULL)
        return NULL;
    snprintf(s, la + lb + 1, "%s%s", a, b);
    return s;
}

int mq_platform_default_db_path(char **out)
{
    const char *env = getenv("MINQING_DB");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char *dir;

    *out = NULL;
    if (env != NULL && env[0] != '\0') {
        *out = join(env, "");
        return *out != NULL ? 0 : -1;
    }
    if (xdg != NULL && xdg[0] == '/')
        dir = join(xdg, "/minqing");
    else if (home != NULL && home[0] != '\0')
        dir = join(home, "/.local/share/minqing");
    else {
        errno = ENOENT;
        return -1;
    }
    if (dir == NULL)
        return -1;
    if (mq_platform_mkdirs(dir) != 0) {
        int e = errno;
        free(dir);
        errno = e;
        return -1;
    }
    *out = join(dir, "/minqing.db");
    free(dir);
    return *out != NULL ? 0 : -1;
}
