/*
 * apps/cli/files.c - the files a command reads and writes: FILE or "-"
 * for stdin, stdin read whole within a bound, and output files that appear
 * whole or not at all.
 *
 * Bundles travel on USB sticks that are pulled out without warning, so an
 * output file is written under a temporary name beside the final one,
 * flushed to the device, renamed over the final name and the folder synced:
 * a reader finds the old file or the complete new one, never half of it.
 * A failed command removes its temporary file and leaves the old one.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *mq_cli_open_input(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdin;
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        fprintf(stderr, "minqing: cannot open %s: %s\n", path, strerror(errno));
    return in;
}

void mq_cli_close_input(FILE *in)
{
    if (in != NULL && in != stdin)
        fclose(in);
}

int mq_cli_read_all(FILE *in, size_t max, char **out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);

    *out = NULL;
    if (buf == NULL)
        goto nomem;
    for (;;) {
        if (len + 1 == cap) {
            /* Grow past max by one byte so an oversized input is noticed. */
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            if (ncap <= cap)
                break;
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL)
                goto nomem;
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, in);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(in)) {
        fprintf(stderr, "minqing: cannot read stdin: %s\n", strerror(errno));
        free(buf);
        return MQ_CLI_FAIL;
    }
    if (len > max) {
        fprintf(stderr, "minqing: the input is larger than %zu bytes\n", max);
        free(buf);
        return MQ_CLI_USAGE;
    }
    if (memchr(buf, '\0', len) != NULL) {
        fputs("minqing: the input holds a NUL byte: it is not JSON text\n", stderr);
        free(buf);
        return MQ_CLI_USAGE;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
nomem:
    free(buf);
    fputs("minqing: out of memory\n", stderr);
    return MQ_CLI_FAIL;
}

/* "PATH" + suffix, or NULL when out of memory. */
static char *with_suffix(const char *path, const char *suffix)
{
    size_t lp = strlen(path), ls = strlen(suffix);
    char *s = malloc(lp + ls + 1);

    if (s != NULL)
        snprintf(s, lp + ls + 1, "%s%s", path, suffix);
    return s;
}

int mq_cli_output_open(mq_cli_output *o, const char *path)
{
    o->fp = stdout;
    o->path = NULL;
    o->temp = NULL;
    if (path == NULL || strcmp(path, "-") == 0)
        return 0;
    /* A device or a pipe (-o /dev/stdout) is written in place, never replaced. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        o->fp = fopen(path, "wb");
        if (o->fp == NULL) {
            fprintf(stderr, "minqing: cannot open %s: %s\n", path, strerror(errno));
            return MQ_CLI_FAIL;
        }
        o->path = with_suffix(path, "");
        if (o->path == NULL) {
            fclose(o->fp);
            fputs("minqing: out of memory\n", stderr);
            return MQ_CLI_FAIL;
        }
        return 0;
    }
    o->fp = NULL;
    o->path = with_suffix(path, "");
    o->temp = with_suffix(path, ".part");
    if (o->path == NULL || o->temp == NULL) {
        fputs("minqing: out of memory\n", stderr);
        mq_cli_output_abort(o);
        return MQ_CLI_FAIL;
    }
    o->fp = fopen(o->temp, "wb");
    if (o->fp == NULL) {
        fprintf(stderr, "minqing: cannot create %s: %s\n", o->temp, strerror(errno));
        mq_cli_output_abort(o);
        return MQ_CLI_FAIL;
    }
    return 0;
}

/* Syncs the folder holding `path` so that a rename in it is durable. */
static int sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;

    if (slash == NULL) {
        dir = with_suffix(".", "");
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(len + 1);
        if (dir != NULL) {
            memcpy(dir, path, len);
            dir[len] = '\0';
        }
    }
    if (dir == NULL)
        return -1;
    int fd = open(dir, O_RDONLY);
    free(dir);
    if (fd < 0)
        return -1;
    /* Some file systems cannot sync a folder; the rename itself is done. */
    int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0;
    close(fd);
    return rc;
}

int mq_cli_output_commit(mq_cli_output *o)
{
    if (o->path == NULL) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "minqing: cannot write the output: %s\n", strerror(errno));
            return MQ_CLI_FAIL;
        }
        return 0;
    }
    FILE *fp = o->fp;
    o->fp = NULL;
    /* Only a regular file (written under its temporary name) is synced. */
    int bad =
        fflush(fp) != 0 || ferror(fp) || (o->temp != NULL && fsync(fileno(fp)) != 0);
    int e = errno;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad && o->temp != NULL && rename(o->temp, o->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        fprintf(stderr, "minqing: cannot write %s: %s\n", o->path, strerror(e));
        mq_cli_output_abort(o);
        return MQ_CLI_FAIL;
    }
    if (o->temp != NULL && sync_parent(o->path) != 0)
        fprintf(stderr,
                "minqing: warning: %s is written but its folder could not be synced\n",
                o->path);
    free(o->path);
    free(o->temp);
    o->path = o->temp = NULL;
    return 0;
}

void mq_cli_output_abort(mq_cli_output *o)
{
    if (o->path == NULL && o->temp == NULL)
        return;
    if (o->fp != NULL) {
        fclose(o->fp);
        o->fp = NULL;
    }
    if (o->temp != NULL)
        remove(o->temp);
    free(o->path);
    free(o->temp);
    o->path = o->temp = NULL;
}

void mq_cli_print_invalid(void *ctx, const char *message)
{
    if (ctx != NULL)
        (*(size_t *)ctx)++;
    fprintf(stderr, "minqing: %s\n", message);
}
