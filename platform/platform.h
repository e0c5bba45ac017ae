/*
 * platform/platform.h - what differs per operating system.
 *
 * This module is the only code that includes operating-system headers
 * (unistd.h, fcntl.h, sys/..., netdb.h, pthread.h, signal.h, ...): the core,
 * the sync library and the front ends ask it for the time, randomness,
 * where files live, files that reach the disk whole, a listening socket
 * and the signals that stop a server.  Each function is implemented once
 * per operating system family in platform/ (POSIX today; Android uses the
 * same POSIX code through its NDK), one file per job.
 *
 * Errors: a call that can fail returns 0, or -1 with errno set; a call
 * whose failure needs more words than errno fills a caller's `why` buffer
 * with a sentence the caller puts after the name of what it was given
 * (the platform does not know an option's name).  Nothing here prints.
 */
#ifndef MQ_PLATFORM_H
#define MQ_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** Wall-clock milliseconds since the Unix epoch, as the system believes it. */
int64_t mq_platform_time_ms(void);

/**
 * Milliseconds since the system booted, counting time asleep, on a clock
 * that nobody sets: a person changing the date moves the wall clock, not
 * this one.  Compared only within one boot (mq_platform_boot_id()).
 */
int64_t mq_platform_uptime_ms(void);

/**
 * The system's id of the current boot, NUL-terminated in `out` (at least
 * 40 bytes).  Returns 0, or -1 when the system does not tell one (`out` is
 * then "").
 */
int mq_platform_boot_id(char *out, size_t size);

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

/* ---- files that reach the disk whole (posix_file.c) ---------------------- */

/**
 * Pushes what was written to `fp` to the device: fflush(), then fsync() of
 * the file beneath.  Returns 0, or -1 with errno set.
 */
int mq_platform_fsync(FILE *fp);

/**
 * Syncs the folder that holds `path`, so that a file created or renamed in
 * it survives a power cut.  A file system that cannot sync a folder
 * (EINVAL) counts as done.  Returns 0, or -1 with errno set.
 */
int mq_platform_sync_folder_of(const char *path);

/**
 * A file being replaced durably.  While it is written, the bytes go to
 * PATH.part beside it; mq_platform_replace_commit() syncs them, renames
 * PATH.part over PATH and syncs the folder, so that a reader (or the file
 * system after a power cut or a pulled USB stick) finds the old PATH whole
 * or the new one whole, never a mix.  A device or a pipe that already
 * exists at PATH (-o /dev/stdout) is written in place instead.
 *
 * Ownership: all members are the struct's, released by commit or abort.
 */
typedef struct mq_platform_replace {
    FILE *fp;   /**< where to write: PATH.part, or PATH itself in place */
    char *path; /**< the final name */
    char *temp; /**< "PATH.part", or NULL when written in place */
} mq_platform_replace;

/**
 * Starts replacing `path`: creates (truncates) PATH.part for writing.
 * On failure `r` holds nothing and no file was left behind.
 *
 * @param[out] r  filled on success; release with commit or abort
 * @return 0, or -1 with errno set
 */
int mq_platform_replace_open(mq_platform_replace *r, const char *path);

/**
 * Finishes a replace: flushes and fsyncs PATH.part, closes it, renames it
 * over PATH and syncs the folder.  `r` is released whatever happens.
 *
 * @return 0 when PATH is the new file on disk; -1 with errno set when it
 *         could not be written (PATH is untouched and PATH.part removed);
 *         1 with errno set when PATH is the new file but its folder could
 *         not be synced (the rename may not survive a power cut)
 */
int mq_platform_replace_commit(mq_platform_replace *r);

/**
 * Drops a replace: closes and removes PATH.part, leaving PATH as it was.
 * Safe on a struct that a failed open, a commit or an abort released.
 */
void mq_platform_replace_abort(mq_platform_replace *r);

/* ---- a listening socket (posix_net.c) ------------------------------------ */

/** The longest host part of "ADDR:PORT", brackets removed, with its NUL. */
#define MQ_PLATFORM_HOST_MAX 256

/** The longest sentence a `why` buffer receives, with its NUL. */
#define MQ_PLATFORM_WHY_MAX 160

/** A TCP socket bound and listening, as mq_platform_listen() opens it. */
typedef struct mq_platform_listener {
    int fd;        /**< the socket; the caller's (mq_platform_close_socket()) */
    unsigned port; /**< the port bound: the system's pick when 0 was asked */
    int ipv6;      /**< 1 for an IPv6 socket, 0 for IPv4 */
    char host[MQ_PLATFORM_HOST_MAX]; /**< ADDR as given, brackets removed */
} mq_platform_listener;

/**
 * Splits "ADDR:PORT" into its host and port, without asking the network.
 * ADDR is an IPv4 address, a host name, or an IPv6 address in brackets
 * ("[::1]:8080"); PORT is decimal digits only, 0 to 65535 (0: the system
 * picks a free port).  An unbracketed IPv6 address is refused: its last
 * colon would be taken for the port's.
 *
 * @param[out] host  the ADDR without brackets, NUL-terminated
 * @param[out] port  the port
 * @param[out] why   on failure, what is wrong (may be NULL)
 * @return 0, or -1 with errno EINVAL
 */
int mq_platform_parse_listen(const char *addr_port, char host[MQ_PLATFORM_HOST_MAX],
                             unsigned *port, char *why, size_t why_size);

/**
 * Opens a TCP socket listening on "ADDR:PORT" (see mq_platform_parse_listen()):
 * resolves ADDR, binds the first address that accepts it, with SO_REUSEADDR
 * so that a restarted server gets its port back at once, and IPV6_V6ONLY on
 * an IPv6 socket.  The socket is close-on-exec.
 *
 * @param[out] out  the listener; out->fd is the caller's
 * @param[out] why  on failure, what is wrong (may be NULL)
 * @return 0, or -1 with errno set: EINVAL when `addr_port` is malformed or
 *         ADDR names no address; the bind's or listen's errno otherwise
 */
int mq_platform_listen(mq_platform_listener *out, const char *addr_port, char *why,
                       size_t why_size);

/** Closes a socket from mq_platform_listen(); a negative `fd` is ignored. */
void mq_platform_close_socket(int fd);

/**
 * Shuts a connected socket down both ways (shutdown(2), SHUT_RDWR) without
 * closing it: whoever owns the descriptor then reads end-of-file on it and
 * closes it in its own time, so the descriptor is never freed under its
 * owner.  A server library's connection is ended this way from another
 * thread.  A negative `fd` is ignored.
 * @return 0, or -1 with errno set (ENOTCONN when the peer has gone already)
 */
int mq_platform_shutdown_socket(int fd);

/** The longest numeric address mq_platform_addr_text() writes, with its NUL. */
#define MQ_PLATFORM_ADDR_MAX 64

/**
 * Writes the numeric address (no port) of socket address `sa`, a struct
 * sockaddr of family AF_INET or AF_INET6 as a server library hands one over,
 * e.g. "192.0.2.7" or "2001:db8::1".
 * @return 0, or -1 with `out` "" for another family or a small buffer
 */
int mq_platform_addr_text(const void *sa, char *out, size_t size);

/**
 * Writes numeric address `text` (IPv4 dotted, or IPv6 without brackets) as
 * mq_platform_addr_text() writes the same address, so that two spellings of
 * one address compare equal: "2001:DB8:0::1" is "2001:db8::1".  Names are
 * not resolved.
 * @return 0, or -1 with `out` "" when `text` is not a numeric address
 */
int mq_platform_addr_canon(const char *text, char *out, size_t size);

/**
 * Raises this process's limit of open files (descriptors) towards `want`,
 * as far as the system's hard limit allows.
 * @return the limit now in force, at most `want`; 0 when it cannot be read
 */
unsigned mq_platform_raise_open_files(unsigned want);

/* ---- signals: those that stop a server, and SIGXFSZ (posix_signal.c) ------ */

/**
 * Blocks SIGINT and SIGTERM in the calling thread, so that every thread it
 * starts afterwards inherits the mask and only
 * mq_platform_wait_stop_signal() receives them, and ignores SIGPIPE in the
 * whole process (a client that hangs up is an error on the write, not a
 * death).  Call it before starting any thread.
 *
 * @return 0, or -1 with errno set
 */
int mq_platform_block_stop_signals(void);

/**
 * Waits until SIGINT or SIGTERM arrives; call after
 * mq_platform_block_stop_signals() in the same thread.
 *
 * @return the signal's number, or -1 with errno set
 */
int mq_platform_wait_stop_signal(void);

/**
 * Ignores SIGXFSZ in the whole process: a write past the file size limit
 * (`ulimit -f`) then fails with EFBIG, which the store reports as an
 * error, instead of killing the process without a word.
 * mq_platform_block_stop_signals() does this too.
 *
 * @return 0, or -1 with errno set
 */
int mq_platform_ignore_file_size_signal(void);

#endif /* MQ_PLATFORM_H */
