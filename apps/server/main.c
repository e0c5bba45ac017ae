/*
 * apps/server/main.c - the `minqing-server` command: serve the sync
 * protocol, enroll and revoke devices, and seed or dump the server's replica
 * as interchange JSON Lines.
 *
 *   minqing-server [--db PATH] serve [--listen ADDR:PORT] [--tls-cert F --tls-key F]
 *                                    [--threads N] [--head-timeout S]
 *                                    [--min-rate B] [--rate-window S]
 *                                    [--trusted-proxy ADDR[,ADDR...]]
 *   minqing-server [--db PATH] device add NAME --area AREA_ID [--area ...] [--cadre ID]
 *                                         [--bundle-key]
 *   minqing-server [--db PATH] device list | device revoke NAME | device key NAME
 *   minqing-server [--db PATH] user add NAME --area AREA_ID [--area ...]
 *                                         (the password on stdin)
 *   minqing-server [--db PATH] user list | user remove NAME
 *   minqing-server [--db PATH] apply [--skip-invalid] FILE|-
 *   minqing-server [--db PATH] import FILE|-
 *   minqing-server [--db PATH] export [-o FILE]
 *
 * Every command is one line of `commands` below, its words parsed by the
 * front ends' shared parser (apps/common/args.h) before the database is
 * opened, so that a usage error names the command and the option and
 * leaves no file behind.
 *
 * `serve` mounts the office's web app (web/office.h) on the server, through
 * the server's hook for requests outside /v1/; the office accounts that sign
 * in to it are made here with `user add`.
 *
 * Exit codes: 0 done, 2 usage or invalid input, 1 any other failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "minqing/minqing.h"
#include "office.h"
#include "platform.h"
#include "proto.h"
#include "server.h"

#define EXIT_USAGE MQ_EXIT_USAGE

static const char USAGE_HEAD[] = "minqing-server [--db PATH] ";

/* The words before the command; its usage lists every command. */
static const mq_args_cmd global = {
    "minqing-server", NULL, NULL,
    "minqing-server [--db PATH] COMMAND ...\n"
    "  serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE] [--threads N]\n"
    "        [--head-timeout SECONDS] [--min-rate BYTES] [--rate-window SECONDS]\n"
    "        [--trusted-proxy ADDR[,ADDR...]]\n"
    "  device add NAME --area AREA_ID [--area AREA_ID]... [--cadre CADRE_ID]"
    " [--bundle-key]\n"
    "  device list\n"
    "  device revoke NAME\n"
    "  device key NAME\n"
    "  user add NAME --area AREA_ID [--area AREA_ID]...   (the password on stdin)\n"
    "  user list\n"
    "  user remove NAME\n"
    "  apply [--skip-invalid] FILE|-\n"
    "  import FILE|-\n"
    "  export [-o FILE]\n"
    "The database defaults to $MINQING_SERVER_DB, else ./minqing-server.db."};

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

/* serve: options in the order of serve_opts */
static const mq_args_opt serve_opts[] = {
    {"--listen", NULL, MQ_ARGS_VALUE},       {"--tls-cert", NULL, MQ_ARGS_VALUE},
    {"--tls-key", NULL, MQ_ARGS_VALUE},      {"--threads", NULL, MQ_ARGS_VALUE},
    {"--head-timeout", NULL, MQ_ARGS_VALUE}, {"--min-rate", NULL, MQ_ARGS_VALUE},
    {"--rate-window", NULL, MQ_ARGS_VALUE},  {"--trusted-proxy", NULL, MQ_ARGS_VALUE}};

/*
 * The slow-client rule's options (docs/PROTOCOL.md, limits): `*out` from
 * `text` when given, within [lo, hi]; 0 (the server's default) when not.
 */
static int serve_bound(const mq_args_cmd *cmd, const char *name, const char *text,
                       int64_t lo, int64_t hi, unsigned *out)
{
    int64_t n;
    *out = 0;
    if (text == NULL)
        return 0;
    if (mq_args_parse_count(text, &n) != 0 || n < lo || n > hi)
        return mq_args_usage_error(cmd, "%s takes %lld to %lld, not '%s'", name,
                                   (long long)lo, (long long)hi, text);
    *out = (unsigned)n;
    return 0;
}

static int cmd_serve(const mq_args_cmd *cmd, const char *db, mq_store *s,
                     const mq_args *a)
{
    mq_server_opts o;
    (void)s;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    o.listen = a->value[0];
    o.tls_cert = a->value[1];
    o.tls_key = a->value[2];
    if (a->value[3] != NULL) {
        int64_t n;
        if (mq_args_parse_count(a->value[3], &n) != 0 || n < 1 || n > 256)
            return mq_args_usage_error(cmd, "--threads takes 1 to 256, not '%s'",
                                       a->value[3]);
        o.threads = (unsigned)n;
    }
    int rc;
    if ((rc = serve_bound(cmd, "--head-timeout", a->value[4], 1, 3600,
                          &o.head_timeout_s)) != 0 ||
        (rc = serve_bound(cmd, "--min-rate", a->value[5], 1, 1000000, &o.min_rate)) !=
            0 ||
        (rc = serve_bound(cmd, "--rate-window", a->value[6], 1, 3600,
                          &o.rate_window_s)) != 0)
        return rc;
    o.trusted_proxies = a->value[7];
    /* A test knob: a wait before each push and pull, to interrupt a sync. */
    const char *delay = getenv("MINQING_SERVER_DELAY_MS");
    if (delay != NULL)
        o.delay_ms = (unsigned)strtoul(delay, NULL, 10);
    o.web = mq_office_handle;
    mq_error e;
    mq_error_clear(&e);
    if (mq_server_serve(&o, &e) != 0)
        return e.rc == MQ_EINVAL ? mq_args_usage_error(cmd, "%s", e.message) : fail(&e);
    return 0;
}

static const mq_args_opt add_opts[] = {{"--area", NULL, MQ_ARGS_LIST},
                                       {"--cadre", NULL, MQ_ARGS_VALUE},
                                       {"--bundle-key", NULL, MQ_ARGS_FLAG}};

static int print_bundle_key(mq_store *s, const char *name);

static int cmd_device_add(const mq_args_cmd *cmd, const char *db, mq_store *s,
                          const mq_args *a)
{
    const char *name = a->pos[0], *cadre = a->value[1];
    const char *const *areas = a->list;
    size_t n = a->nlist;
    mq_error e;
    (void)cmd;
    (void)db;
    mq_error_clear(&e);
    char token[MQ_PROTO_TOKEN_LEN + 1];
    int rc = mq_device_add(s, name, areas, n, cadre, token, sizeof token, &e);
    if (rc != 0)
        return fail(&e);
    printf("%s\n", token);
    fprintf(stderr,
            "minqing-server: device %s enrolled; its token is printed above and only "
            "once (the server keeps its hash)\n",
            name);
    return a->value[2] != NULL ? print_bundle_key(s, name) : 0;
}

static int cmd_device_list(const mq_args_cmd *cmd, const char *db, mq_store *s,
                           const mq_args *a)
{
    mq_error e;
    (void)cmd;
    (void)db;
    (void)a;
    mq_error_clear(&e);
    if (mq_device_list(s, print_line, NULL, &e) != 0)
        return fail(&e);
    return 0;
}

static int cmd_device_revoke(const mq_args_cmd *cmd, const char *db, mq_store *s,
                             const mq_args *a)
{
    const char *name = a->pos[0];
    mq_error e;
    (void)cmd;
    (void)db;
    mq_error_clear(&e);
    if (mq_device_revoke(s, name, &e) != 0)
        return fail(&e);
    fprintf(stderr, "minqing-server: device %s revoked\n", name);
    return 0;
}

/*
 * Reads the password, one line of stdin without its line end, into `buf`.
 * Returns 0, or prints why and returns the exit code.
 */
static int read_password(const mq_args_cmd *cmd, char *buf, size_t size)
{
    if (fgets(buf, (int)size, stdin) == NULL)
        return mq_args_usage_error(cmd, "give the password on stdin, one line");
    size_t n = strcspn(buf, "\n");
    int whole = buf[n] == '\n' || feof(stdin);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (!whole || n > MQ_OFFICE_PASSWORD_MAX)
        return mq_args_usage_error(cmd, "the password is longer than %d bytes",
                                   MQ_OFFICE_PASSWORD_MAX);
    if (n == 0)
        return mq_args_usage_error(cmd, "the password on stdin is empty");
    if (n < MQ_OFFICE_PASSWORD_MIN)
        return mq_args_usage_error(cmd, "the password has %zu bytes; give at least %d", n,
                                   MQ_OFFICE_PASSWORD_MIN);
    return 0;
}

static const mq_args_opt user_add_opts[] = {{"--area", NULL, MQ_ARGS_LIST}};

/* The password is read before the file is opened: a bad one leaves no file. */
static int cmd_user_add(const mq_args_cmd *cmd, const char *db, mq_store *s,
                        const mq_args *a)
{
    char password[MQ_OFFICE_PASSWORD_MAX + 3];
    mq_error e;
    (void)s;
    mq_error_clear(&e);
    int rc = read_password(cmd, password, sizeof password);
    if (rc == 0 && (rc = mq_server_open(&s, db, &e)) == 0) {
        rc = mq_office_user_add(s, a->pos[0], password, a->list, a->nlist, &e);
        mq_store_close(s);
    }
    memset(password, 0, sizeof password);
    if (rc < 0)
        return fail(&e);
    if (rc > 0)
        return rc;
    fprintf(stderr, "minqing-server: office account %s added\n", a->pos[0]);
    return 0;
}

static int cmd_user_list(const mq_args_cmd *cmd, const char *db, mq_store *s,
                         const mq_args *a)
{
    mq_error e;
    (void)cmd;
    (void)db;
    (void)a;
    mq_error_clear(&e);
    if (mq_office_user_list(s, print_line, NULL, &e) != 0)
        return fail(&e);
    return 0;
}

static int cmd_user_remove(const mq_args_cmd *cmd, const char *db, mq_store *s,
                           const mq_args *a)
{
    mq_error e;
    (void)cmd;
    (void)db;
    mq_error_clear(&e);
    if (mq_office_user_remove(s, a->pos[0], &e) != 0)
        return fail(&e);
    fprintf(stderr, "minqing-server: office account %s removed; its sessions ended\n",
            a->pos[0]);
    return 0;
}

static int cmd_import(const mq_args_cmd *cmd, const char *db, mq_store *s,
                      const mq_args *a)
{
    const char *path = a->pos[0];
    (void)cmd;
    (void)db;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "minqing-server: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    mq_import_opts o;
    mq_import_stats st;
    mq_error e;
    memset(&o, 0, sizeof o);
    memset(&st, 0, sizeof st);
    mq_error_clear(&e);
    o.source = path;
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

static const mq_args_opt export_opts[] = {{"-o", "--output", MQ_ARGS_VALUE}};

/* Written as the command line's export is: the old file or the whole new one. */
static int cmd_export(const mq_args_cmd *cmd, const char *db, mq_store *s,
                      const mq_args *a)
{
    const char *path = a->value[0];
    mq_platform_replace file = {NULL, NULL, NULL};
    FILE *out = stdout;
    (void)cmd;
    (void)db;
    if (path != NULL && strcmp(path, "-") != 0) {
        if (mq_platform_replace_open(&file, path) != 0) {
            fprintf(stderr, "minqing-server: cannot create %s: %s\n", path,
                    strerror(errno));
            return 1;
        }
        out = file.fp;
    }
    mq_error e;
    mq_error_clear(&e);
    int rc = mq_store_export(s, NULL, out, &e);
    if (rc != 0) {
        mq_platform_replace_abort(&file);
        return fail(&e);
    }
    if (out == stdout)
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    int crc = mq_platform_replace_commit(&file);
    if (crc < 0) {
        fprintf(stderr, "minqing-server: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (crc > 0)
        fprintf(stderr,
                "minqing-server: warning: %s is written but its folder could not be "
                "synced: %s\n",
                path, strerror(errno));
    return 0;
}

/* ---- sealed bundles (docs/BUNDLES.md) ---------------------------------- */

/* Makes device `name`'s bundle key and prints it on stdout, once. */
static int print_bundle_key(mq_store *s, const char *name)
{
    char key[MQ_SEAL_KEY_TEXT_MAX];
    mq_error e;
    mq_error_clear(&e);
    if (mq_device_bundle_key(s, name, key, sizeof key, &e) != 0)
        return fail(&e);
    printf("%s\n", key);
    mq_seal_wipe(key, sizeof key);
    fprintf(stderr,
            "minqing-server: the bundle key of device %s is printed above and only once; "
            "give it to the tablet with `minqing key set` (it seals the bundles this "
            "server opens)\n",
            name);
    return 0;
}

static int cmd_device_key(const mq_args_cmd *cmd, const char *db, mq_store *s,
                          const mq_args *a)
{
    (void)cmd;
    (void)db;
    return print_bundle_key(s, a->pos[0]);
}

static const mq_args_opt apply_opts[] = {{"--skip-invalid", NULL, MQ_ARGS_FLAG}};

static int cmd_apply(const mq_args_cmd *cmd, const char *db, mq_store *s,
                     const mq_args *a)
{
    const char *path = a->pos[0];
    (void)cmd;
    (void)db;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (in == NULL) {
        fprintf(stderr, "minqing-server: cannot open %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    mq_apply_opts o;
    mq_sealed_result r;
    mq_error e;
    memset(&o, 0, sizeof o);
    mq_error_clear(&e);
    o.skip_invalid = a->value[0] != NULL;
    o.source = in == stdin ? "stdin" : path;
    o.on_invalid = print_invalid;
    int rc = mq_server_apply_sealed(s, in, &o, &r, &e);
    if (in != stdin)
        fclose(in);
    if (rc != 0)
        return fail(&e);
    fprintf(stderr,
            "minqing-server: bundle %lld of device %s: %zu applied, %zu already here, "
            "%zu rejected\n",
            (long long)r.seq, r.device, r.stats.applied, r.stats.duplicate,
            r.stats.rejected);
    return 0;
}

typedef int (*command_fn)(const mq_args_cmd *cmd, const char *db, mq_store *s,
                          const mq_args *a);

/* One command: its words, what it accepts, and whether it needs the store. */
typedef struct command {
    const char *name; /* "device add": the words that select it */
    const char *usage;
    command_fn run;
    const mq_args_opt *opts;
    size_t nopts;
    const char *pos;  /* names the positional argument, or NULL for none */
    const char *list; /* the list option that must be given, as in the usage */
    int opens_store;
} command;

static const command commands[] = {
    {"serve",
     "serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE] [--threads N] "
     "[--head-timeout SECONDS] [--min-rate BYTES] [--rate-window SECONDS] "
     "[--trusted-proxy ADDR[,ADDR...]]",
     cmd_serve, serve_opts, 8, NULL, NULL, 0},
    {"device add",
     "device add NAME --area AREA_ID [--area AREA_ID]... [--cadre CADRE_ID] "
     "[--bundle-key]",
     cmd_device_add, add_opts, 3, "NAME", "--area AREA_ID", 1},
    {"device list", "device list", cmd_device_list, NULL, 0, NULL, NULL, 1},
    {"device revoke", "device revoke NAME", cmd_device_revoke, NULL, 0, "NAME", NULL, 1},
    {"device key", "device key NAME", cmd_device_key, NULL, 0, "NAME", NULL, 1},
    {"user add", "user add NAME --area AREA_ID [--area AREA_ID]...  (password on stdin)",
     cmd_user_add, user_add_opts, 1, "NAME", "--area AREA_ID", 0},
    {"user list", "user list", cmd_user_list, NULL, 0, NULL, NULL, 1},
    {"user remove", "user remove NAME", cmd_user_remove, NULL, 0, "NAME", NULL, 1},
    {"apply", "apply [--skip-invalid] FILE|-", cmd_apply, apply_opts, 1, "FILE", NULL, 1},
    {"import", "import FILE|-", cmd_import, NULL, 0, "FILE", NULL, 1},
    {"export", "export [-o FILE]", cmd_export, export_opts, 1, NULL, NULL, 1},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/*
 * The command that argv[0] (and argv[1] for a group such as "device")
 * names; `*words` is how many words its name took.  NULL after printing why.
 */
static const command *find_command(int argc, char **argv, int *words)
{
    size_t l0 = strlen(argv[0]);
    int group = 0;

    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *name = commands[i].name;
        if (strncmp(name, argv[0], l0) != 0 || (name[l0] != '\0' && name[l0] != ' '))
            continue;
        if (name[l0] == '\0') {
            *words = 1;
            return &commands[i];
        }
        group = 1;
        if (argc > 1 && strcmp(name + l0 + 1, argv[1]) == 0) {
            *words = 2;
            return &commands[i];
        }
    }
    if (!group) {
        mq_args_usage_error(&global, "unknown command '%s'", argv[0]);
        return NULL;
    }
    /* The groups: "device" and "user". */
    const char *verbs =
        strcmp(argv[0], "user") == 0 ? "add, list or remove" : "add, list, revoke or key";
    mq_args_cmd c = {"minqing-server", argv[0], NULL, NULL};
    if (argc > 1)
        mq_args_usage_error(&c, "unknown command '%s'; give %s", argv[1], verbs);
    else
        mq_args_usage_error(&c, "give %s", verbs);
    mq_args_print_usage(&global, stderr);
    return NULL;
}

int main(int argc, char **argv)
{
    static const mq_args_opt global_opts[] = {{"--db", NULL, MQ_ARGS_VALUE},
                                              {"--help", "-h", MQ_ARGS_FLAG}};
    static const mq_args_spec global_spec = {global_opts, 2, NULL, 0, 0, 1};
    const char *db = getenv("MINQING_SERVER_DB");
    mq_args g, a;
    int words;

    if (db == NULL || *db == '\0')
        db = "minqing-server.db";
    int rc = mq_args_parse(&global, &global_spec, argc - 1, argv + 1, &g);
    if (rc != 0)
        return rc;
    int i = 1 + g.used;
    if (g.value[1] != NULL) {
        mq_args_print_usage(&global, stdout);
        return 0;
    }
    if (g.value[0] != NULL) {
        if (g.value[0][0] == '\0')
            return mq_args_usage_error(&global, "option --db is empty");
        db = g.value[0];
    }
    if (i >= argc)
        return mq_args_usage_error(&global, "no command given");
    const command *c = find_command(argc - i, argv + i, &words);
    if (c == NULL)
        return EXIT_USAGE;
    i += words;
    mq_args_cmd cmd = {"minqing-server", c->name, USAGE_HEAD, c->usage};
    if (mq_args_wants_help(argc - i, argv + i)) {
        mq_args_print_usage(&cmd, stdout);
        return 0;
    }
    const char *const names[] = {c->pos};
    size_t npos = c->pos != NULL ? 1 : 0;
    mq_args_spec spec = {c->opts, c->nopts, names, npos, npos, 0};
    if ((rc = mq_args_parse(&cmd, &spec, argc - i, argv + i, &a)) != 0)
        return rc;
    if (c->list != NULL && a.nlist == 0) {
        mq_args_free(&a);
        return mq_args_usage_error(&cmd, "give at least one %s", c->list);
    }

    mq_store *s = NULL;
    mq_error e;
    mq_error_clear(&e);
    if (c->opens_store && mq_server_open(&s, db, &e) != 0) {
        mq_args_free(&a);
        return fail(&e);
    }
    rc = c->run(&cmd, db, s, &a);
    mq_store_close(s);
    mq_args_free(&a);
    return rc;
}
