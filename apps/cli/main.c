/*
 * apps/cli/main.c - the `minqing` command-line collector: global
 * options, the table of commands, help, and dispatch.
 *
 * Every command is one line of `commands` below: its name, the function
 * that runs it (declared in cli.h, defined in the file for its group) and
 * its usage line.  Adding a command is adding a line.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

typedef struct command {
    const char *name;
    mq_cli_fn run;
    const char *usage;   /* after "minqing [--db PATH] " */
    const char *summary; /* one line for --help */
} command;

static const command commands[] = {
    {"init", mq_cli_init, "init --site NAME [--cadre CADRE_ID]",
     "give this replica its site name (and default author)"},
    {"import", mq_cli_import, "import [--skip-invalid] FILE|-",
     "add or update records from interchange JSON Lines"},
    {"export", mq_cli_export, "export [--type T] [-o FILE]",
     "write the live records as interchange JSON Lines"},
    {"put", mq_cli_put, "put TYPE [--id ID] [--as CADRE_ID]",
     "create a record, or patch record ID, from one JSON object of fields on stdin"},
    {"get", mq_cli_get, "get ID",
     "print one record (a deleted one adds \"deleted\":true)"},
    {"list", mq_cli_list, "list TYPE [--where FIELD=VALUE]...",
     "print the live records of a type that meet every condition"},
    {"search", mq_cli_search, "search TEXT",
     "find households, members and cadres by name, id number or phone"},
    {"delete", mq_cli_delete, "delete ID [--as CADRE_ID]", "delete a record"},
    {"history", mq_cli_history, "history ID",
     "print every change of a record: fields, values, clock, site, author"},
    {"changes", mq_cli_changes, "changes [--since CURSOR] [-o FILE] [--seal]",
     "write a bundle of changes for another replica (--seal: for the office, "
     "encrypted); the next cursor goes to stderr"},
    {"apply", mq_cli_apply, "apply [--skip-invalid] FILE|-",
     "merge a bundle of changes from another replica"},
    {"conflicts", mq_cli_conflicts, "conflicts",
     "print concurrent edits waiting for review"},
    {"resolve", mq_cli_resolve, "resolve CONFLICT_ID --keep VALUE_JSON [--as CADRE_ID]",
     "settle a conflict with a value, as a new change that syncs"},
    {"needs", mq_cli_needs,
     "needs [--overdue] [--area AREA_ID] [--as-of YYYY-MM-DD] [--cadre CADRE_ID]"
     " [--category C] [--status S] [--format json|text]",
     "print the needs of a day with their status, household head, village and cadre"},
    {"report", mq_cli_report,
     "report [--area AREA_ID] [--as-of YYYY-MM-DD] [--from YYYY-MM-DD]"
     " [--format text|json|csv] [-o FILE]",
     "the figures per area, per cadre and the income warning, as of a day"},
    {"check", mq_cli_check, "check", "check the file and the change log"},
    {"rejected", mq_cli_rejected, "rejected",
     "print changes that could not be applied, with the reasons"},
    {"key", mq_cli_key, "key set|show",
     "keep the bundle key printed at enrolment (read from stdin), or show whose it is"},
#ifdef MQ_CLI_WITH_SYNC
    {"sync", mq_cli_sync,
     "sync [--server URL] [--token TOKEN|-] [--cacert FILE] [--wait SECONDS]",
     "push local changes to the server and pull the new ones of this device's areas"},
#endif
#ifdef MQ_CLI_WITH_UI
    {"ui", mq_cli_ui, "ui [--listen 127.0.0.1:PORT]",
     "serve the web app from this replica on loopback and print the address to open"},
#endif
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* The words before a command, as the shared parser names them in errors. */
static const mq_args_cmd global = {"minqing", NULL, NULL,
                                   "minqing [--db PATH] COMMAND [ARGS]...\n"
                                   "       minqing --help | --version\n"
                                   "       minqing help COMMAND"};

static const mq_args_opt global_opts[] = {{"--db", NULL, MQ_ARGS_VALUE},
                                          {"--help", "-h", MQ_ARGS_FLAG},
                                          {"--version", "-V", MQ_ARGS_FLAG}};
enum { OPT_DB, OPT_HELP, OPT_VERSION };

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static int print_help(void)
{
    mq_args_print_usage(&global, stdout);
    fputs("\nminqing keeps livelihood registration cards on an offline replica and\n"
          "merges replicas without losing an entry.\n\ncommands:\n",
          stdout);
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\nThe store is --db PATH, else $MINQING_DB, else minqing/minqing.db in the\n"
          "user's data folder ($XDG_DATA_HOME or ~/.local/share).\n"
          "Exit codes: 0 done; 2 usage error or invalid input, nothing written;\n"
          "1 any other failure.  `minqing help COMMAND` shows a command's usage.\n",
          stdout);
    return MQ_CLI_OK;
}

static void print_command_help(const command *c)
{
    printf("usage: minqing [--db PATH] %s\n\n%s\n", c->usage, c->summary);
}

static int unknown_command(const char *name)
{
    return mq_args_usage_error(&global, "unknown command '%s'", name);
}

static int help_command(int argc, char **argv)
{
    if (argc == 0)
        return print_help();
    if (argc > 1)
        return mq_args_usage_error(&global, "unexpected argument '%s'", argv[1]);
    const command *c = find_command(argv[0]);
    if (c == NULL)
        return unknown_command(argv[0]);
    print_command_help(c);
    return MQ_CLI_OK;
}

static int run(int argc, char **argv)
{
    static const mq_args_spec spec = {global_opts, 3, NULL, 0, 0, 1};
    mq_cli cli = {NULL, NULL, NULL};
    mq_args g;

    int rc = mq_args_parse(&global, &spec, argc - 1, argv + 1, &g);
    if (rc != 0)
        return rc;
    int i = 1 + g.used;
    mq_args_free(&g);
    if (g.value[OPT_HELP] != NULL)
        return print_help();
    if (g.value[OPT_VERSION] != NULL) {
        printf("minqing %s\n", MQ_VERSION_STRING);
        return MQ_CLI_OK;
    }
    cli.db_path = g.value[OPT_DB];
    if (cli.db_path != NULL && cli.db_path[0] == '\0')
        return mq_args_usage_error(&global, "option --db is empty");
    if (i == argc)
        return mq_args_usage_error(&global, "no command given");
    if (strcmp(argv[i], "help") == 0)
        return help_command(argc - i - 1, argv + i + 1);
    const command *c = find_command(argv[i]);
    if (c == NULL)
        return unknown_command(argv[i]);
    if (mq_args_wants_help(argc - i - 1, argv + i + 1)) {
        print_command_help(c);
        return MQ_CLI_OK;
    }
    cli.command = c->name;
    cli.usage = c->usage;
    return c->run(&cli, argc - i - 1, argv + i + 1);
}

int main(int argc, char **argv)
{
    /* A store or bundle that meets `ulimit -f` is then a reported error. */
    if (mq_platform_ignore_file_size_signal() != 0)
        fprintf(stderr, "minqing: warning: cannot ignore SIGXFSZ: %s\n", strerror(errno));
    int rc = run(argc, argv);

    /* Results go to stdout: a full disk or a closed pipe is a failure. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (rc == MQ_CLI_OK)
            fprintf(stderr, "minqing: cannot write the output: %s\n", strerror(errno));
        return rc == MQ_CLI_OK ? MQ_CLI_FAIL : rc;
    }
    return rc;
}
