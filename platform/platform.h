/*
 * platform/platform.h - what differs per operating system.
 *
 * The core never includes an OS header; it asks this module for the time,
 * for randomness and for where files live.  Each function is implemented
 * once per operating system family in platform/ (POSIX today; Android uses
 * the same POSIX code through its NDK).
 */
#ifndef MQ_PLATFORM_H
#define MQ_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/** Wall-clock milliseconds since the Unix epoch, as the system believes it. */
int64_t mq_platform_time_ms(void);

/**
 * Fills `buf` with `n` bytes from the operating system's cryptographically
 * secure generator.  Returns 0, or -1 if the generator could not be read.
 */
int mq_platform_random(void *buf, size_t n);

/**
 * The database path to use when none is given: $MINQING_DB if set, else
 * $XDG_DATA_HOME/minqing/minqing.db, else ~/.local/share/minqing/minqing.db.
 * Creates the folder if needed.
 *
 * @param[out] out  the path, the caller's (free())
 * @return 0, or -1 with errno set
 */
int mq_platform_default_db_path(char **out);

/** Sleeps for `ms` milliseconds, resuming after a signal until the time is up. */
void mq_platform_sleep_ms(unsigned ms);

/** Creates `dir` and its missing parents.  Returns 0, or -1 with errno set. */
int mq_platform_mkdirs(const char *dir);

#endif /* MQ_PLATFORM_H */
