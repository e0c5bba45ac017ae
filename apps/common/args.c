/*
 * apps/common/args.c - the front ends' argv parser: a command's words into
 * options and positional arguments, after the command's table, and the
 * usage errors that say which word of which command was wrong.
 *
 * The parse is one pass left to right.  Invariants: a word is a positional
 * argument when options are over ("--" seen), when it does not start with
 * a dash, or when it is "-"; an option's value is the rest of the word
 * after "=" (long options only) or the next word, whatever it looks like,
 * so "--token -" and "--since -1" reach the command as typed.
 */
#include "args.h"

#include <stdlib.h>
#include <string.h>

void mq_args_print_usage(const mq_args_cmd *cmd, FILE *to)
{
    if (cmd->usage != NULL)
        fprintf(to, "usage: %s%s\n", cmd->usage_head ? cmd->usage_head : "", cmd->usage);
}

int mq_args_usage_errorv(const mq_args_cmd *cmd, const char *fmt, va_list ap)
{
    if (cmd->command != NULL)
        fprintf(stderr, "%s %s: ", cmd->program, cmd->command);
    else
        fprintf(stderr, "%s: ", cmd->program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    mq_args_print_usage(cmd, stderr);
    return MQ_EXIT_USAGE;
}

int mq_args_usage_error(const mq_args_cmd *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int rc = mq_args_usage_errorv(cmd, fmt, ap);
    va_end(ap);
    return rc;
}

/* The index in `opts` of the option spelt `word[0..len)`, or -1. */
static int find_opt(const mq_args_opt *opts, size_t nopts, const char *word, size_t len)
{
    for (size_t i = 0; i < nopts; i++) {
        const char *names[2] = {opts[i].name, opts[i].alias};
        for (size_t k = 0; k < 2; k++) {
            if (names[k] != NULL && strlen(names[k]) == len &&
                memcmp(names[k], word, len) == 0)
                return (int)i;
        }
    }
    return -1;
}

static int parse_words(const mq_args_cmd *cmd, const mq_args_spec *spec, int argc,
                       char **argv, mq_args *out)
{
    int options_done = 0;

    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];

        if (options_done || word[0] != '-' || word[1] == '\0') {
            if (spec->leading) {
                out->used = i;
                return 0;
            }
            if (out->npos == spec->max)
                return mq_args_usage_error(cmd, "unexpected argument '%s'", word);
            out->pos[out->npos++] = word;
            continue;
        }
        if (strcmp(word, "--") == 0) {
            options_done = 1;
            continue;
        }
        /* Only long options take "=VALUE"; "-o=x" is not a spelling we offer. */
        const char *eq = word[1] == '-' ? strchr(word, '=') : NULL;
        size_t len = eq != NULL ? (size_t)(eq - word) : strlen(word);
        int k = find_opt(spec->opts, spec->nopts, word, len);
        if (k < 0)
            return mq_args_usage_error(cmd, "unknown option '%.*s'", (int)len, word);
        const mq_args_opt *o = &spec->opts[k];
        if (o->kind == MQ_ARGS_FLAG) {
            if (eq != NULL)
                return mq_args_usage_error(cmd, "option %s takes no value", o->name);
            out->value[k] = "";
            continue;
        }
        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return mq_args_usage_error(cmd, "option %s needs a value", o->name);
        if (o->kind == MQ_ARGS_LIST)
            out->list[out->nlist++] = value;
        else if (out->value[k] != NULL)
            return mq_args_usage_error(cmd, "option %s is given twice", o->name);
        else
            out->value[k] = value;
    }
    out->used = argc;
    return 0;
}

int mq_args_parse(const mq_args_cmd *cmd, const mq_args_spec *spec, int argc, char **argv,
                  mq_args *out)
{
    memset(out, 0, sizeof *out);
    if (spec->nopts > MQ_ARGS_MAX_OPTS || spec->max > MQ_ARGS_MAX_POS ||
        spec->min > spec->max) {
        fprintf(stderr, "%s: internal error: the table of %s is too big\n", cmd->program,
                cmd->command ? cmd->command : "the options");
        return MQ_EXIT_FAIL;
    }
    for (size_t i = 0; i < spec->nopts; i++) {
        if (spec->opts[i].kind == MQ_ARGS_LIST && out->list == NULL) {
            out->list = calloc((size_t)argc + 1, sizeof *out->list);
            if (out->list == NULL) {
                fprintf(stderr, "%s: out of memory\n", cmd->program);
                return MQ_EXIT_FAIL;
            }
        }
    }
    int rc = parse_words(cmd, spec, argc, argv, out);
    if (rc == 0 && !spec->leading && out->npos < spec->min)
        rc = mq_args_usage_error(cmd, "missing %s", spec->names[out->npos]);
    if (rc != 0)
        mq_args_free(out);
    return rc;
}

void mq_args_free(mq_args *args)
{
    free(args->list);
    args->list = NULL;
    args->nlist = 0;
}

int mq_args_parse_count(const char *text, int64_t *out)
{
    int64_t v = 0;

    if (text[0] == '\0')
        return -1;
    for (const char *p = text; *p != '\0'; p++) {
        int d = *p - '0';
        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int mq_args_wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    }
    return 0;
}
