/*
 * apps/cli/files.c - the files a command reads and writes: FILE or "-"
 * for stdin, stdin read whole within a bound, and output files that appear
 * whole or not at all.
 *
 * Bundles travel on USB sticks that are pulled out without warning, so an
 * output file is replaced durably by the platform (mq_platform_replace_*:
 * PATH.part written, synced, renamed over PATH, the folder synced): a reader
 * finds the old file or the complete new one, never half of it.  A failed
 * command removes its temporary file and leaves the old one.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int mq_cli_output_open(mq_cli_output *o, const char *path)
{
    o->fp = stdout;
    o->file.fp = NULL;
    o->file.path = o->file.temp = NULL;
    if (path == NULL || strcmp(path, "-") == 0)
        return 0;
    o->fp = NULL;
    if (mq_platform_replace_open(&o->file, path) != 0) {
        fprintf(stderr, "minqing: cannot create %s: %s\n", path, strerror(errno));
        return MQ_CLI_FAIL;
    }
    o->fp = o->file.fp;
    return 0;
}

int mq_cli_output_commit(mq_cli_output *o)
{
    if (o->file.path == NULL) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "minqing: cannot write the output: %s\n", strerror(errno));
            return MQ_CLI_FAIL;
        }
        return 0;
    }
    /* The name is kept for the message: commit releases the struct. */
    size_t len = strlen(o->file.path);
    char *path = malloc(len + 1);
    if (path != NULL)
        memcpy(path, o->file.path, len + 1);
    o->fp = NULL;
    int rc = mq_platform_replace_commit(&o->file);
    int e = errno;
    const char *name = path != NULL ? path : "the output";
    if (rc < 0)
        fprintf(stderr, "minqing: cannot write %s: %s\n", name, strerror(e));
    else if (rc > 0)
        fprintf(stderr,
                "minqing: warning: %s is written but its folder could not be synced: "
                "%s\n",
                name, strerror(e));
    free(path);
    return rc < 0 ? MQ_CLI_FAIL : 0;
}

void mq_cli_output_abort(mq_cli_output *o)
{
    if (o->file.path == NULL)
        return;
    o->fp = NULL;
    mq_platform_replace_abort(&o->file);
}

void mq_cli_print_invalid(void *ctx, const char *message)
{
    if (ctx != NULL)
        (*(size_t *)ctx)++;
    fprintf(stderr, "minqing: %s\n", message);
}
