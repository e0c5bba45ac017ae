/*
 * apps/common/args.h - the one argv parser of the front ends (`minqing`
 * and `minqing-server`): options and positional arguments of a command,
 * from a small static table, and usage errors that name the program, the
 * command and the offending word.
 *
 * Every command of both programs accepts the same spellings: "--opt VALUE"
 * or "--opt=VALUE" for a long option, "-o VALUE" for a short one, options
 * and positional arguments in any order, "--" before a positional argument
 * that starts with a dash, "-" as a positional argument (stdin).  A usage
 * error prints, on stderr,
 *
 *     PROGRAM COMMAND: MESSAGE
 *     usage: USAGE
 *
 * ("PROGRAM: MESSAGE" for the words before the command) and the program
 * exits MQ_EXIT_USAGE.  Nothing here opens a file or a store.
 */
#ifndef MQ_APPS_ARGS_H
#define MQ_APPS_ARGS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__) || defined(__clang__)
#define MQ_ARGS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define MQ_ARGS_PRINTF(fmt, args)
#endif

/** Exit codes of both front ends. */
enum { MQ_EXIT_OK = 0, MQ_EXIT_FAIL = 1, MQ_EXIT_USAGE = 2 };

/** What an option takes. */
typedef enum mq_args_kind {
    MQ_ARGS_FLAG,  /**< no value */
    MQ_ARGS_VALUE, /**< one value, given at most once */
    MQ_ARGS_LIST   /**< one value each time it is given (one such option a command) */
} mq_args_kind;

/** One option of a command, in the command's static table. */
typedef struct mq_args_opt {
    const char *name;  /**< as typed, e.g. "--type" */
    const char *alias; /**< a second spelling, e.g. "-o", or NULL */
    mq_args_kind kind;
} mq_args_opt;

/** Who is parsing, for the messages.  All strings are borrowed. */
typedef struct mq_args_cmd {
    const char *program;    /**< "minqing" or "minqing-server" */
    const char *command;    /**< e.g. "export", "device add"; NULL before the command */
    const char *usage_head; /**< printed between "usage: " and `usage`, or NULL */
    const char *usage;      /**< the usage line(s), no final newline; NULL for none */
} mq_args_cmd;

/** What a command accepts.  Borrowed for the call. */
typedef struct mq_args_spec {
    const mq_args_opt *opts; /**< the options, at most MQ_ARGS_MAX_OPTS */
    size_t nopts;
    const char *const *names; /**< names[i] names the i-th positional: "missing NAME" */
    size_t min, max; /**< how many positional arguments, max <= MQ_ARGS_MAX_POS */
    /**
     * 1 for the words before a command: options only, up to the first word
     * that is not one (the command's name, left in place) or after "--".
     */
    int leading;
} mq_args_spec;

#define MQ_ARGS_MAX_OPTS 12
#define MQ_ARGS_MAX_POS  2

/** A command's words, parsed.  The strings are borrowed from argv. */
typedef struct mq_args {
    /** per option of the table: its value, "" for a flag given, NULL if absent */
    const char *value[MQ_ARGS_MAX_OPTS];
    const char **list; /**< the values of the MQ_ARGS_LIST option (allocated) */
    size_t nlist;
    const char *pos[MQ_ARGS_MAX_POS]; /**< positional arguments, NULL if absent */
    size_t npos;
    int used; /**< words consumed: argc, or with `leading` the command's index */
} mq_args;

/**
 * Parses `argc` words of `argv` as `spec` says.  Free `out` with
 * mq_args_free(), also after a failure.
 *
 * @param[out] out  the options and positional arguments
 * @return 0, or MQ_EXIT_USAGE (MQ_EXIT_FAIL when out of memory or the
 *         table is too big) after printing what is wrong
 */
int mq_args_parse(const mq_args_cmd *cmd, const mq_args_spec *spec, int argc, char **argv,
                  mq_args *out);

/** Frees what mq_args_parse() allocated; safe after a failed parse. */
void mq_args_free(mq_args *args);

/**
 * Prints "PROGRAM COMMAND: MESSAGE" and the usage on stderr.
 * @return MQ_EXIT_USAGE
 */
int mq_args_usage_error(const mq_args_cmd *cmd, const char *fmt, ...)
    MQ_ARGS_PRINTF(2, 3);

/** mq_args_usage_error() with a va_list. */
int mq_args_usage_errorv(const mq_args_cmd *cmd, const char *fmt, va_list ap)
    MQ_ARGS_PRINTF(2, 0);

/** Prints "usage: USAGE_HEAD USAGE" and a newline to `to`, if there is a usage. */
void mq_args_print_usage(const mq_args_cmd *cmd, FILE *to);

/**
 * Parses a non-negative decimal integer that fills `text`: digits only,
 * no sign, no space, at most INT64_MAX.  Returns 0, or -1 (`out` untouched).
 */
int mq_args_parse_count(const char *text, int64_t *out);

/** 1 if the words ask for help ("--help" or "-h" before any "--"), else 0. */
int mq_args_wants_help(int argc, char **argv);

#endif /* MQ_APPS_ARGS_H */
