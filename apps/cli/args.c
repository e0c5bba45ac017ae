/*
 * apps/cli/args.c - parsing a command's words into options and
 * positional arguments, and telling the user what was wrong with them.
 *
 * Every command describes its options in a small table and hands it to
 * mq_cli_parse(), so that all commands accept the same spellings
 * ("--opt VALUE", "--opt=VALUE", "--" before a positional that starts with
 * a dash) and refuse bad ones with the same kind of message: the offending
 * word, then the command's usage line, exit code 2.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int mq_cli_usage_error(const mq_cli *cli, const char *fmt, ...)
{
    va_list ap;

    fputs("minqing: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: minqing [--db PATH] %s\n", cli->usage);
    return MQ_CLI_USAGE;
}

/* The index in `opts` of the option spelt `word[0..len)`, or -1. */
static int find_opt(const mq_cli_opt *opts, size_t nopts, const char *word, size_t len)
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

static int parse_words(const mq_cli *cli, int argc, char **argv, const mq_cli_opt *opts,
                       size_t nopts, size_t max, mq_cli_args *out, size_t *npos)
{
    int options_done = 0;

    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];

        if (options_done || word[0] != '-' || word[1] == '\0') {
            if (*npos == max)
                return mq_cli_usage_error(cli, "unexpected argument '%s'", word);
            out->pos[(*npos)++] = word;
            continue;
        }
        if (strcmp(word, "--") == 0) {
            options_done = 1;
            continue;
        }
        /* Only long options take "=VALUE"; "-o=x" is not a spelling we offer. */
        const char *eq = word[1] == '-' ? strchr(word, '=') : NULL;
        size_t len = eq != NULL ? (size_t)(eq - word) : strlen(word);
        int k = find_opt(opts, nopts, word, len);
        if (k < 0)
            return mq_cli_usage_error(cli, "unknown option '%.*s'", (int)len, word);
        const mq_cli_opt *o = &opts[k];
        if (o->kind == MQ_CLI_FLAG) {
            if (eq != NULL)
                return mq_cli_usage_error(cli, "option %s takes no value", o->name);
            out->value[k] = "";
            continue;
        }
        const char *value;
        if (eq != NULL)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return mq_cli_usage_error(cli, "option %s needs a value", o->name);
        if (o->kind == MQ_CLI_LIST) {
            out->list[out->nlist++] = value;
        } else if (out->value[k] != NULL) {
            return mq_cli_usage_error(cli, "option %s is given twice", o->name);
        } else {
            out->value[k] = value;
        }
    }
    return 0;
}

int mq_cli_parse(const mq_cli *cli, int argc, char **argv, const mq_cli_opt *opts,
                 size_t nopts, const char *const *names, size_t min, size_t max,
                 mq_cli_args *out)
{
    size_t npos = 0;

    memset(out, 0, sizeof *out);
    if (nopts > MQ_CLI_MAX_OPTS || max > MQ_CLI_MAX_POS) {
        fputs("minqing: internal error: too many options\n", stderr);
        return MQ_CLI_FAIL;
    }
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].kind == MQ_CLI_LIST && out->list == NULL) {
            out->list = calloc((size_t)argc + 1, sizeof *out->list);
            if (out->list == NULL) {
                fputs("minqing: out of memory\n", stderr);
                return MQ_CLI_FAIL;
            }
        }
    }
    int rc = parse_words(cli, argc, argv, opts, nopts, max, out, &npos);
    if (rc == 0 && npos < min)
        rc = mq_cli_usage_error(cli, "missing %s", names[npos]);
    if (rc != 0)
        mq_cli_args_free(out);
    return rc;
}

void mq_cli_args_free(mq_cli_args *args)
{
    free(args->list);
    args->list = NULL;
    args->nlist = 0;
}

int mq_cli_parse_count(const char *text, int64_t *out)
{
    char *end = NULL;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}
