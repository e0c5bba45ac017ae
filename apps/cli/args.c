/*
 * apps/cli/args.c - the `minqing` commands' side of the shared argv parser
 * (apps/common/args.h): a command's words parsed against its option table,
 * and its usage errors, named "minqing COMMAND" and followed by the
 * command's usage line.
 *
 * The commands keep their own small names (mq_cli_parse(), mq_cli_opt) so
 * that each reads as a `minqing` command; the rules and the messages are
 * the shared parser's, the same as minqing-server's.
 */
#include "cli.h"

/* How the shared parser names `cli` in its messages. */
static mq_args_cmd cmd_of(const mq_cli *cli)
{
    mq_args_cmd c = {"minqing", cli->command, "minqing [--db PATH] ", cli->usage};
    return c;
}

int mq_cli_usage_error(const mq_cli *cli, const char *fmt, ...)
{
    mq_args_cmd c = cmd_of(cli);
    va_list ap;

    va_start(ap, fmt);
    int rc = mq_args_usage_errorv(&c, fmt, ap);
    va_end(ap);
    return rc;
}

int mq_cli_parse(const mq_cli *cli, int argc, char **argv, const mq_cli_opt *opts,
                 size_t nopts, const char *const *names, size_t min, size_t max,
                 mq_cli_args *out)
{
    mq_args_cmd c = cmd_of(cli);
    mq_args_spec spec = {opts, nopts, names, min, max, 0};

    return mq_args_parse(&c, &spec, argc, argv, out);
}

void mq_cli_args_free(mq_cli_args *args)
{
    mq_args_free(args);
}

int mq_cli_parse_count(const char *text, int64_t *out)
{
    return mq_args_parse_count(text, out);
}
