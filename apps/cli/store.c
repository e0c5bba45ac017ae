/*
 * apps/cli/store.c - opening the store a command works on, and turning
 * the library's errors into messages and exit codes.
 *
 * Only `init` may create a file: any other command pointed at a path where
 * no store exists says so and leaves the path alone, so a typo in --db never
 * litters the disk with empty databases.  A store without a site (never
 * initialised) is refused here too, before the library is asked anything.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

static const char init_hint[] = "run `minqing init --site NAME` first";

/* The path to use: --db, else the platform's default; NULL after printing why. */
static char *resolve_path(const mq_cli *cli)
{
    char *path = NULL;

    if (cli->db_path != NULL) {
        size_t len = strlen(cli->db_path);
        path = malloc(len + 1);
        if (path == NULL) {
            fputs("minqing: out of memory\n", stderr);
            return NULL;
        }
        memcpy(path, cli->db_path, len + 1);
        return path;
    }
    if (mq_platform_default_db_path(&path) != 0) {
        fprintf(stderr,
                "minqing: cannot find a place for the database: %s; "
                "give one with --db PATH or $MINQING_DB\n",
                strerror(errno));
        return NULL;
    }
    return path;
}

/* Creates the folder that will hold `path`; 0 or an exit code. */
static int make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL || slash == path)
        return 0;
    size_t len = (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (dir == NULL) {
        fputs("minqing: out of memory\n", stderr);
        return MQ_CLI_FAIL;
    }
    memcpy(dir, path, len);
    dir[len] = '\0';
    int rc = mq_platform_mkdirs(dir);
    if (rc != 0)
        fprintf(stderr, "minqing: cannot create the folder %s: %s\n", dir,
                strerror(errno));
    free(dir);
    return rc == 0 ? 0 : MQ_CLI_FAIL;
}

/*
 * 0 if a store may be there at `path`, else an exit code after printing
 * why: no file, or an empty one (which opening would make a store of; only
 * init does that).
 */
static int must_exist(const char *path)
{
    FILE *f = fopen(path, "rb");

    if (f != NULL) {
        int empty = fgetc(f) == EOF && !ferror(f);
        fclose(f);
        if (empty) {
            fprintf(stderr, "minqing: %s is an empty file, not a minqing store; %s\n",
                    path, init_hint);
            return MQ_CLI_FAIL;
        }
        return 0;
    }
    if (errno == ENOENT)
        fprintf(stderr, "minqing: no store at %s; %s\n", path, init_hint);
    else
        fprintf(stderr, "minqing: cannot open %s: %s\n", path, strerror(errno));
    return MQ_CLI_FAIL;
}

static void print_warning(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "minqing: %s\n", message);
}

static int open_at(const mq_cli *cli, mq_cli_open_mode mode, mq_store **out,
                   char **path_out, int *existed)
{
    mq_error err;
    mq_store *store = NULL;
    char *path = resolve_path(cli);
    int rc;

    *out = NULL;
    if (path == NULL)
        return MQ_CLI_FAIL;
    if (existed != NULL) {
        FILE *f = fopen(path, "rb");
        *existed = f != NULL || errno != ENOENT;
        if (f != NULL)
            fclose(f);
    }
    rc = mode == MQ_CLI_CREATE ? make_parent(path) : must_exist(path);
    if (rc != 0)
        goto fail;
    mq_error_clear(&err);
    int mrc = mq_store_open(&store, path, &err);
    if (mrc != 0) {
        rc = mq_cli_fail(mrc, &err);
        goto fail;
    }
    if (mode == MQ_CLI_INITIALISED && mq_store_site(store) == NULL) {
        fprintf(stderr, "minqing: the store at %s is not initialised; %s\n", path,
                init_hint);
        mq_store_close(store);
        rc = MQ_CLI_FAIL;
        goto fail;
    }
    /* Warnings of writes (a household head's identity number that another
     * household already has) go to stderr; the write stands. */
    mq_store_on_warning(store, print_warning, NULL);
    *out = store;
    if (path_out != NULL)
        *path_out = path;
    else
        free(path);
    return 0;
fail:
    free(path);
    return rc;
}

int mq_cli_open(const mq_cli *cli, mq_cli_open_mode mode, mq_store **out, char **path_out)
{
    return open_at(cli, mode, out, path_out, NULL);
}

int mq_cli_open_new(const mq_cli *cli, mq_store **out, char **path_out, int *existed)
{
    return open_at(cli, MQ_CLI_CREATE, out, path_out, existed);
}

void mq_cli_remove_store(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    size_t len = strlen(path);
    char *name = malloc(len + 16);

    if (name == NULL)
        return;
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(name, len + 16, "%s%s", path, suffix[i]);
        remove(name);
    }
    free(name);
}

int mq_cli_fail(int rc, const mq_error *err)
{
    const char *msg = err->message[0] != '\0' ? err->message : mq_strerror(rc);

    fprintf(stderr, "minqing: %s\n", msg);
    if (rc == MQ_ESTATE)
        fprintf(stderr, "minqing: %s\n", init_hint);
    return rc == MQ_EINVAL ? MQ_CLI_USAGE : MQ_CLI_FAIL;
}

int mq_cli_print_line(void *ctx, const char *json)
{
    FILE *out = ctx;

    if (fputs(json, out) == EOF || putc('\n', out) == EOF)
        return 1;
    return 0;
}

int mq_cli_walk_done(int rc, const mq_error *err)
{
    if (rc > 0) {
        fprintf(stderr, "minqing: cannot write the output: %s\n", strerror(errno));
        return MQ_CLI_FAIL;
    }
    if (rc < 0)
        return mq_cli_fail(rc, err);
    return MQ_CLI_OK;
}
