/*
 * apps/server/main.c - the `minqing-server` command: serve the sync
 * protocol, enroll and revoke devices, and seed or dump the server's replica
 * as interchange JSON Lines.
 *
 *   minqing-server [--db PATH] serve [--listen ADDR:PORT] [--tls-cert F --tls-key F]
 *                                    [--threads N]
 *   minqing-server [--db PATH] device add NAME --area AREA_ID [--area ...] [--cadre ID]
 *   minqing-server [--db PATH] device list | device revoke NAME
 *   minqing-server [--db PATH] import FILE|-
 *   minqing-server [--db PATH] export [-o FILE]
 *
 * Exit codes: 0 done, 2 usage or invalid input, 1 any other failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/minqing.h"
#include "proto.h"
#include "server.h"

#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: minqing-server [--db PATH] COMMAND ...\n"
    "  serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE] [--threads N]\n"
    "  device add NAME --area AREA_ID [--area AREA_ID]... [--cadre CADRE_ID]\n"
    "  device list\n"
    "  device revoke NAME\n"
    "  import FILE|-\n"
    "  export [-o FILE]\n"
    "The database defaults to $MINQING_SERVER_DB, else ./minqing-server.db.\n";

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "minqing-server: %s\n", why);
    fputs(USAGE, stderr);
    return EXIT_USAGE;
}

static int fail(const mq_error *e)
{
    fprintf(stderr, "minqing-server: %s\n", e->message);
    return (e->rc == MQ_EINVAL || e->rc == MQ_ENOTFOUND) ? EXIT_USAGE : 1;
}

static int print_line(void *ctx, const char *json)
{
    (void)ctx;
    puts(json);
    return 0;
}

static void print_invalid(void *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "minqing-server: %s\n", message);
}

static int cmd_serve(const char *db, int argc, char **argv)
{
    mq_server_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            o.listen = argv[++i];
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            o.tls_cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            o.tls_key = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            int n = atoi(argv[++i]);
            if (n < 1 || n > 256)
                return usage("--threads takes 1 to 256");
            o.threads = (unsigned)n;
        } else
            return usage("serve: unknown argument");
    }
    /* A test knob: a wait before each push and pull, to interrupt a sync. */
    const char *delay = getenv("MINQING_SERVER_DELAY_MS");
    if (delay != NULL)
        o.delay_ms = (unsigned)strtoul(delay, NULL, 10);
    mq_error e;
    mq_error_clear(&e);
    if (mq_server_serve(&o, &e) != 0)
        return fail(&e);
    return 0;
}

static int cmd_device(mq_store *s, int argc, char **argv)
{
    mq_error e;
    mq_error_clear(&e);
    if (argc >= 1 && strcmp(argv[0], "list") == 0 && argc == 1) {
        if (mq_device_list(s, print_line, NULL, &e) != 0)
            return fail(&e);
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
        if (mq_device_revoke(s, argv[1], &e) != 0)
            return fail(&e);
        fprintf(stderr, "minqing-server: device %s revoked\n", argv[1]);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[0], "add") == 0) {
        const char *name = argv[1], *cadre = NULL;
        const char **areas = calloc((size_t)argc, sizeof *areas);
        size_t n = 0;
        if (areas == NULL)
            return 1;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--area") == 0 && i + 1 < argc)
                areas[n++] = argv[++i];
            else if (strcmp(argv[i], "--cadre") == 0 && i + 1 < argc)
                cadre = argv[++i];
            else {
                free(areas);
                return usage("device add: unknown argument");
            }
        }
        if (n == 0) {
            free(areas);
            return usage("device add: give at least one --area AREA_ID");
        }
        char token[MQ_PROTO_TOKEN_LEN + 1];
        int rc = mq_device_add(s, name, areas, n, cadre, token, sizeof token, &e);
        free(areas);
        if (rc != 0)
            return fail(&e);
        printf("%s\n", token);
        fprintf(stderr,
                "minqing-server: device %s enrolled; its token is printed above and only "
                "once (the server keeps its hash)\n",
                name);
        return 0;
    }
    return usage("device: add, list or revoke");
}

static int cmd_import(mq_store *s, int argc, char **argv)
{
    if (argc != 1)
        return usage("import FILE|-");
    FILE *in = strcmp(argv[0], "-") == 0 ? stdin : fopen(argv[0], "rb");
    if (in == NULL) {
        perror(argv[0]);
        return EXIT_USAGE;
    }
    mq_import_opts o;
    mq_import_stats st;
    mq_error e;
    memset(&o, 0, sizeof o);
    memset(&st, 0, sizeof st);
    mq_error_clear(&e);
    o.source = argv[0];
    o.on_invalid = print_invalid;
    int rc = mq_store_import(s, in, &o, &st, &e);
    if (in != stdin)
        fclose(in);
    if (rc != 0)
        return fail(&e);
    fprintf(stderr, "minqing-server: %zu created, %zu updated, %zu unchanged\n",
            st.created, st.updated, st.unchanged);
    return 0;
}

static int cmd_export(mq_store *s, int argc, char **argv)
{
    FILE *out = stdout;
    if (argc == 2 && strcmp(argv[0], "-o") == 0) {
        out = fopen(argv[1], "wb");
        if (out == NULL) {
            perror(argv[1]);
            return 1;
        }
    } else if (argc != 0) {
        return usage("export [-o FILE]");
    }
    mq_error e;
    mq_error_clear(&e);
    int rc = mq_store_export(s, NULL, out, &e);
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        perror(argv[1]);
        return 1;
    }
    if (rc != 0)
        return fail(&e);
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = getenv("MINQING_SERVER_DB");
    int i = 1;
    if (db == NULL || *db == '\0')
        db = "minqing-server.db";
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[i + 1];
            i += 2;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else {
            return usage("unknown option");
        }
    }
    if (i >= argc)
        return usage(NULL);
    const char *cmd = argv[i++];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(db, argc - i, argv + i);

    mq_store *s = NULL;
    mq_error e;
    mq_error_clear(&e);
    int known = strcmp(cmd, "device") == 0 || strcmp(cmd, "import") == 0 ||
                strcmp(cmd, "export") == 0;
    if (!known)
        return usage("unknown command");
    if (mq_server_open(&s, db, &e) != 0)
        return fail(&e);
    int rc;
    if (strcmp(cmd, "device") == 0)
        rc = cmd_device(s, argc - i, argv + i);
    else if (strcmp(cmd, "import") == 0)
        rc = cmd_import(s, argc - i, argv + i);
    else
        rc = cmd_export(s, argc - i, argv + i);
    mq_store_close(s);
    return rc;
}
