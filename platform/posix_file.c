/*
 * platform/posix_file.c - files that reach the disk whole: fsync of a
 * stream, of the folder that holds a file, and the replace of a file by
 * write, fsync, rename and fsync of the folder.
 *
 * Bundles travel on USB sticks that are pulled out without warning and
 * tablets lose power: a file that is replaced must be found, after any
 * crash, either as it was or as it was meant to be.  POSIX gives that
 * through rename(2) over a file whose bytes were fsync'd first; the rename
 * itself is made durable by an fsync of the folder.
 */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mq_platform_fsync(FILE *fp)
{
    if (fflush(fp) != 0)
        return -1;
    return fsync(fileno(fp));
}

/* A copy of `s` followed by `suffix`, or NULL with errno ENOMEM. */
static char *concat(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    char *out = malloc(ls + lx + 1);

    if (out == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    snprintf(out, ls + lx + 1, "%s%s", s, suffix);
    return out;
}

int mq_platform_sync_folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);

    if (dir == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(dir, slash == NULL ? "." : path, len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    free(dir);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    /* Some file systems (FAT on a USB stick, over some drivers) cannot sync a
     * folder: the rename is as durable there as it will get. */
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Frees what `r` holds, without touching the files. */
static void release(mq_platform_replace *r)
{
    free(r->path);
    free(r->temp);
    r->fp = NULL;
    r->path = r->temp = NULL;
}

int mq_platform_replace_open(mq_platform_replace *r, const char *path)
{
    struct stat st;

    r->fp = NULL;
    r->temp = NULL;
    if ((r->path = concat(path, "")) == NULL)
        return -1;
    /* A device or a pipe cannot be renamed over: write it where it is. */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        r->fp = fopen(path, "wb");
    } else if ((r->temp = concat(path, ".part")) != NULL) {
        r->fp = fopen(r->temp, "wb");
    }
    if (r->fp == NULL) {
        int e = errno;
        release(r);
        errno = e;
        return -1;
    }
    return 0;
}

int mq_platform_replace_commit(mq_platform_replace *r)
{
    FILE *fp = r->fp;
    int e = 0;

    if (fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    r->fp = NULL;
    /* Only a file written under its temporary name is synced: a pipe or a
     * terminal cannot be, and a device is the user's business. */
    errno = 0;
    int bad =
        fflush(fp) != 0 || ferror(fp) || (r->temp != NULL && fsync(fileno(fp)) != 0);
    if (bad)
        e = errno != 0 ? errno : EIO;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && r->temp != NULL && rename(r->temp, r->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        if (r->temp != NULL)
            remove(r->temp);
        release(r);
        errno = e;
        return -1;
    }
    int rc = 0;
    if (r->temp != NULL && mq_platform_sync_folder_of(r->path) != 0)
        rc = 1;
    e = errno;
    release(r);
    errno = e;
    return rc;
}

void mq_platform_replace_abort(mq_platform_replace *r)
{
    if (r->fp != NULL)
        fclose(r->fp);
    if (r->temp != NULL)
        remove(r->temp);
    release(r);
}
