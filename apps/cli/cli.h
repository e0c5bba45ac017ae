/*
 * apps/cli/cli.h - what the files of the `minqing` command-line collector
 * share: the command functions that main.c's table dispatches to, and the
 * few helpers every command needs (parsing its arguments, opening the store,
 * reporting a failure with the right exit code, reading and writing files).
 *
 * The command line is a thin front end over minqing/store.h: a command
 * parses its arguments, checks what it can without the store, opens the
 * store, makes one library call and prints what came back.  Anything a
 * tablet app would also need belongs in the library, not here.
 *
 * Exit codes, for every command: 0 done; 2 usage error or invalid input
 * (MQ_EINVAL), with nothing written; 1 any other failure.  Every message
 * goes to stderr, errors prefixed "minqing: " (usage errors "minqing
 * COMMAND: ", followed by the command's usage line); stdout carries only
 * results (JSON, one object per line for walks).
 */
#ifndef MQ_CLI_H
#define MQ_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "minqing/minqing.h"
#include "platform.h"

#if defined(__GNUC__) || defined(__clang__)
#define MQ_CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MQ_CLI_PRINTF(fmt, args)
#endif

/** Exit codes of the command line (those of both front ends). */
enum { MQ_CLI_OK = MQ_EXIT_OK, MQ_CLI_FAIL = MQ_EXIT_FAIL, MQ_CLI_USAGE = MQ_EXIT_USAGE };

/** The most `put` reads from stdin. */
#define MQ_CLI_STDIN_MAX ((size_t)1 << 20)

/** What a command knows about how it was called.  Borrowed by commands. */
typedef struct mq_cli {
    const char *db_path; /**< --db PATH, or NULL for the platform's default */
    const char *command; /**< the command's name, e.g. "put" */
    const char *usage;   /**< its usage line, after "minqing [--db PATH] " */
} mq_cli;

/**
 * A command: `argv` holds the `argc` words after the command's name.
 * Returns the process's exit code.
 */
typedef int (*mq_cli_fn)(const mq_cli *cli, int argc, char **argv);

/* ---- commands (one file per group) --------------------------------------- */

/* replica.c: the store itself */
int mq_cli_init(const mq_cli *cli, int argc, char **argv);
int mq_cli_check(const mq_cli *cli, int argc, char **argv);

/* interchange.c: records in and out as interchange JSON Lines */
int mq_cli_import(const mq_cli *cli, int argc, char **argv);
int mq_cli_export(const mq_cli *cli, int argc, char **argv);

/* records.c: one record at a time */
int mq_cli_put(const mq_cli *cli, int argc, char **argv);
int mq_cli_get(const mq_cli *cli, int argc, char **argv);
int mq_cli_list(const mq_cli *cli, int argc, char **argv);
int mq_cli_search(const mq_cli *cli, int argc, char **argv);
int mq_cli_delete(const mq_cli *cli, int argc, char **argv);
int mq_cli_history(const mq_cli *cli, int argc, char **argv);

/* bundles.c: changes between replicas */
int mq_cli_changes(const mq_cli *cli, int argc, char **argv);
int mq_cli_apply(const mq_cli *cli, int argc, char **argv);
int mq_cli_rejected(const mq_cli *cli, int argc, char **argv);
int mq_cli_key(const mq_cli *cli, int argc, char **argv);

/* conflicts.c: concurrent edits under review */
int mq_cli_conflicts(const mq_cli *cli, int argc, char **argv);
int mq_cli_resolve(const mq_cli *cli, int argc, char **argv);

/* reports.c: derived views */
int mq_cli_needs(const mq_cli *cli, int argc, char **argv);

/* report.c: the figures of docs/REPORTS.md */
int mq_cli_report(const mq_cli *cli, int argc, char **argv);

/* sync_command.c: sync with the server (built only with the libcurl client) */
int mq_cli_sync(const mq_cli *cli, int argc, char **argv);

/* ui.c: the web app on loopback (built only with libmicrohttpd) */
int mq_cli_ui(const mq_cli *cli, int argc, char **argv);

/* ---- arguments (args.c, over apps/common/args.h) ------------------------ */

/** What an option takes: the shared parser's kinds, under the CLI's names. */
typedef mq_args_kind mq_cli_opt_kind;
#define MQ_CLI_FLAG  MQ_ARGS_FLAG
#define MQ_CLI_VALUE MQ_ARGS_VALUE
#define MQ_CLI_LIST  MQ_ARGS_LIST

/** One option of a command, in a command's static table. */
typedef mq_args_opt mq_cli_opt;

#define MQ_CLI_MAX_OPTS MQ_ARGS_MAX_OPTS
#define MQ_CLI_MAX_POS  MQ_ARGS_MAX_POS

/** A command's words, parsed (value[], list/nlist, pos[]); borrowed from argv. */
typedef mq_args mq_cli_args;

/**
 * Parses a command's words with the shared parser (apps/common/args.h):
 * options in any order, "--opt VALUE" or "--opt=VALUE", "--" ends the
 * options, "-" is a positional argument.  Between `min` and `max`
 * positional arguments are expected; `names[i]` names the i-th in
 * messages.  Free `out` with mq_cli_args_free().
 *
 * @return 0, or MQ_CLI_USAGE (or MQ_CLI_FAIL) after printing what is wrong
 */
int mq_cli_parse(const mq_cli *cli, int argc, char **argv, const mq_cli_opt *opts,
                 size_t nopts, const char *const *names, size_t min, size_t max,
                 mq_cli_args *out);

/** Frees what mq_cli_parse() allocated.  Safe after a failed parse. */
void mq_cli_args_free(mq_cli_args *args);

/**
 * Prints "minqing COMMAND: MESSAGE" and the command's usage line; returns 2.
 */
int mq_cli_usage_error(const mq_cli *cli, const char *fmt, ...) MQ_CLI_PRINTF(2, 3);

/** Parses a non-negative decimal integer that fills `text`; 0 or -1. */
int mq_cli_parse_count(const char *text, int64_t *out);

/* ---- the store and errors (store.c) ------------------------------------ */

/** How mq_cli_open() treats the file. */
typedef enum mq_cli_open_mode {
    MQ_CLI_CREATE,     /**< create the file (and its folder) if missing */
    MQ_CLI_EXISTING,   /**< the file must exist */
    MQ_CLI_INITIALISED /**< the file must exist and have a site */
} mq_cli_open_mode;

/**
 * Opens the store at --db, else at the platform's default path, as `mode`
 * asks.  A command other than init never creates a file.
 *
 * @param[out] out   the store, the caller's (mq_store_close())
 * @param[out] path  the path used, the caller's (free()); may be NULL
 * @return 0, or an exit code after printing why
 */
int mq_cli_open(const mq_cli *cli, mq_cli_open_mode mode, mq_store **out, char **path);

/**
 * mq_cli_open() for init (MQ_CLI_CREATE) that says whether the file was
 * there before (*existed), so that a failed init can remove what it made.
 */
int mq_cli_open_new(const mq_cli *cli, mq_store **out, char **path, int *existed);

/** Removes the store file at `path` and its -wal, -shm and -journal files. */
void mq_cli_remove_store(const char *path);

/** The longest site name (docs/STORE.md, "Who and where"). */
#define MQ_CLI_SITE_MAX 32

/**
 * Prints the error of a failed library call and returns its exit code:
 * 2 for MQ_EINVAL, 1 for the rest (with a hint for an uninitialised store).
 */
int mq_cli_fail(int rc, const mq_error *err);

/** A walk's visitor that prints each object on its own line of `ctx` (a FILE *). */
int mq_cli_print_line(void *ctx, const char *json);

/**
 * The exit code of a walk that printed with mq_cli_print_line(): a positive
 * `rc` means the output could not be written.
 */
int mq_cli_walk_done(int rc, const mq_error *err);

/* ---- tables and report options (report.c) -------------------------------- */

/** Rows of text cells, written as aligned columns or as CSV. */
typedef struct mq_cli_table {
    const char *title; /**< a line before the table, or NULL; borrowed */
    size_t ncols;
    size_t nrows, cap;
    char **cells; /**< nrows * ncols copies, row by row */
} mq_cli_table;

void mq_cli_table_init(mq_cli_table *t, const char *title, size_t ncols);
/** Copies one row of `ncols` cells (NULL as ""); 0 or -1 out of memory. */
int mq_cli_table_add(mq_cli_table *t, const char *const *cells);
void mq_cli_table_free(mq_cli_table *t);
/** Aligned columns: the first from the left, the others from the right. */
void mq_cli_table_text(const mq_cli_table *t, FILE *out);
/** RFC 4180 rows ending CRLF (the caller writes the BOM once per file). */
void mq_cli_table_csv(const mq_cli_table *t, FILE *out);
/** The columns a terminal gives `s` (UTF-8; a Chinese character takes two). */
size_t mq_cli_text_width(const char *s);

struct cJSON;
/** The label of `value` in `group` of mq_report_labels()' object, else `value`. */
const char *mq_cli_label(const struct cJSON *labels, const char *group,
                         const char *value);

/**
 * Checks the day given to `option` (NULL passes): a usage error naming the
 * option, the rule and the value, else 0.
 */
int mq_cli_check_day(const mq_cli *cli, const char *option, const char *value);

/* ---- files (files.c) ---------------------------------------------------- */

/** Opens FILE for reading, or stdin for "-"; NULL after printing why. */
FILE *mq_cli_open_input(const char *path);

/** Closes what mq_cli_open_input() opened (never stdin). */
void mq_cli_close_input(FILE *in);

/**
 * Reads all of `in`, at most `max` bytes, as a NUL-terminated string.
 * @param[out] out  the text, the caller's (free())
 * @return 0, or an exit code after printing why
 */
int mq_cli_read_all(FILE *in, size_t max, char **out);

/**
 * An output that appears whole or not at all: a file is written beside its
 * final name and renamed over it once flushed to disk (platform.h's
 * mq_platform_replace), so that a bundle on a USB stick is never half
 * written; stdout is written as it goes.
 */
typedef struct mq_cli_output {
    FILE *fp;                 /**< where to write: the file, or stdout */
    mq_platform_replace file; /**< the file being replaced; path NULL for stdout */
} mq_cli_output;

/** Opens `path`, or stdout for NULL or "-"; 0 or an exit code. */
int mq_cli_output_open(mq_cli_output *o, const char *path);

/** Flushes, syncs and renames into place; 0 or an exit code. */
int mq_cli_output_commit(mq_cli_output *o);

/** Drops what was written.  Safe after a failed open or a commit. */
void mq_cli_output_abort(mq_cli_output *o);

/*
 * Reports one invalid record or change on stderr; an on_invalid callback
 * for import and apply.  `ctx` may point to a size_t that counts them.
 */
void mq_cli_print_invalid(void *ctx, const char *message);

#endif /* MQ_CLI_H */
