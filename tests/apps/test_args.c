/*
 * tests/apps/test_args.c - unit tests of the front ends' shared argv
 * parser (apps/common/args.h): the spellings it accepts, the words it
 * refuses, and messages that name the program, the command and the word.
 *
 * stderr is sent to ./args_stderr.txt so that each message can be read back;
 * between captures it goes to ./args_log.txt, which holds the failed checks
 * and is copied to stdout at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "harness.h"

#define ERRFILE "args_stderr.txt"
#define LOGFILE "args_log.txt"

static char errtext[4096];

/* Starts a fresh capture of stderr. */
static void capture(void)
{
    fflush(stderr);
    if (freopen(ERRFILE, "w", stderr) == NULL)
        abort();
    errtext[0] = '\0';
}

/* Reads what was written to stderr since capture(). */
static const char *captured(void)
{
    fflush(stderr);
    FILE *f = fopen(ERRFILE, "rb");
    size_t n = 0;
    if (f != NULL) {
        n = fread(errtext, 1, sizeof errtext - 1, f);
        fclose(f);
    }
    errtext[n] = '\0';
    if (freopen(LOGFILE, "a", stderr) == NULL)
        abort();
    return errtext;
}

static const mq_args_cmd add = {"minqing-server", "device add",
                                "minqing-server [--db PATH] ",
                                "device add NAME --area AREA_ID [--cadre CADRE_ID]"};
static const mq_args_opt add_opts[] = {{"--area", NULL, MQ_ARGS_LIST},
                                       {"--cadre", NULL, MQ_ARGS_VALUE},
                                       {"--force", "-f", MQ_ARGS_FLAG}};
static const char *const add_names[] = {"NAME", "FILE"};
static const mq_args_spec add_spec = {add_opts, 3, add_names, 1, 2, 0};

/* Parses a NULL-terminated list of words with `spec`. */
static int parse(const mq_args_spec *spec, mq_args *out, const char **words)
{
    int argc = 0;
    while (words[argc] != NULL)
        argc++;
    capture();
    return mq_args_parse(&add, spec, argc, (char **)words, out);
}

static void test_spellings(void)
{
    mq_args a;
    const char *w[] = {"d1",        "--area", "A1",     "--cadre=C9", "-f",
                       "--area=A2", "--",     "--file", NULL};

    CHECK(parse(&add_spec, &a, w) == 0);
    CHECK_STR(a.pos[0], "d1");
    CHECK_STR(a.pos[1], "--file"); /* after "--", a dash is a positional */
    CHECK(a.npos == 2);
    CHECK(a.nlist == 2);
    CHECK_STR(a.list[0], "A1");
    CHECK_STR(a.list[1], "A2");
    CHECK_STR(a.value[1], "C9");
    CHECK_STR(a.value[2], "");
    CHECK(a.used == 8);
    CHECK_STR(captured(), "");
    mq_args_free(&a);
    mq_args_free(&a); /* safe twice */

    /* "-" is a positional (stdin); a value is taken as typed, dash or not. */
    const char *w2[] = {"-", "--cadre", "-", NULL};
    CHECK(parse(&add_spec, &a, w2) == 0);
    CHECK_STR(a.pos[0], "-");
    CHECK_STR(a.value[1], "-");
    CHECK(a.value[2] == NULL && a.nlist == 0);
    mq_args_free(&a);
}

/* `words` are refused with exit 2 and a message holding `part`. */
static void refused(const char **words, const char *part)
{
    mq_args a;

    CHECK(parse(&add_spec, &a, words) == MQ_EXIT_USAGE);
    const char *err = captured();
    CHECK_HAS(err, part);
    /* The program and the command come first, the usage line last. */
    CHECK(strncmp(err, "minqing-server device add: ", 27) == 0);
    CHECK_HAS(err, "\nusage: minqing-server [--db PATH] device add NAME --area AREA_ID "
                   "[--cadre CADRE_ID]\n");
    CHECK(a.list == NULL);
    mq_args_free(&a);
}

static void test_refusals(void)
{
    const char *needs[] = {"d1", "--area", NULL};
    refused(needs, "device add: option --area needs a value");
    const char *unknown[] = {"d1", "--areas", "x", NULL};
    refused(unknown, "unknown option '--areas'");
    const char *unknown_eq[] = {"d1", "--bogus=1", NULL};
    refused(unknown_eq, "unknown option '--bogus'");
    const char *twice[] = {"d1", "--cadre", "a", "--cadre", "b", NULL};
    refused(twice, "option --cadre is given twice");
    const char *flag_value[] = {"d1", "--force=yes", NULL};
    refused(flag_value, "option --force takes no value");
    const char *short_eq[] = {"d1", "-f=1", NULL};
    refused(short_eq, "unknown option '-f=1'");
    const char *missing[] = {"--area", "A1", NULL};
    refused(missing, "missing NAME");
    const char *extra[] = {"d1", "f", "g", NULL};
    refused(extra, "unexpected argument 'g'");
}

static void test_leading(void)
{
    static const mq_args_cmd global = {"minqing", NULL, NULL, "minqing COMMAND"};
    static const mq_args_opt opts[] = {{"--db", NULL, MQ_ARGS_VALUE},
                                       {"--help", "-h", MQ_ARGS_FLAG}};
    static const mq_args_spec spec = {opts, 2, NULL, 0, 0, 1};
    mq_args a;

    const char *w[] = {"--db", "x.db", "get", "--help", "ID", NULL};
    capture();
    CHECK(mq_args_parse(&global, &spec, 5, (char **)w, &a) == 0);
    CHECK(a.used == 2); /* the command's name is left in place */
    CHECK_STR(a.value[0], "x.db");
    CHECK(a.value[1] == NULL); /* the command's --help is the command's */

    const char *dd[] = {"--", "--odd-command", NULL};
    CHECK(mq_args_parse(&global, &spec, 2, (char **)dd, &a) == 0);
    CHECK(a.used == 1);

    const char *none[] = {"-h", NULL};
    CHECK(mq_args_parse(&global, &spec, 1, (char **)none, &a) == 0);
    CHECK(a.used == 1 && a.value[1] != NULL);

    const char *bad[] = {"--bogus", "get", NULL};
    CHECK(mq_args_parse(&global, &spec, 2, (char **)bad, &a) == MQ_EXIT_USAGE);
    CHECK_STR(captured(), "minqing: unknown option '--bogus'\nusage: minqing COMMAND\n");
}

static void test_usage_error(void)
{
    static const mq_args_cmd put = {"minqing", "put", "minqing [--db PATH] ", "put TYPE"};
    capture();
    CHECK(mq_args_usage_error(&put, "stdin is empty: %s", "give a JSON object") ==
          MQ_EXIT_USAGE);
    CHECK_STR(captured(), "minqing put: stdin is empty: give a JSON object\n"
                          "usage: minqing [--db PATH] put TYPE\n");
}

static void test_parse_count(void)
{
    int64_t v = -7;

    CHECK(mq_args_parse_count("0", &v) == 0 && v == 0);
    CHECK(mq_args_parse_count("256", &v) == 0 && v == 256);
    CHECK(mq_args_parse_count("9223372036854775807", &v) == 0 && v == INT64_MAX);
    v = -7;
    CHECK(mq_args_parse_count("9223372036854775808", &v) == -1);
    CHECK(mq_args_parse_count("-1", &v) == -1);
    CHECK(mq_args_parse_count("+1", &v) == -1);
    CHECK(mq_args_parse_count("", &v) == -1);
    CHECK(mq_args_parse_count(" 1", &v) == -1);
    CHECK(mq_args_parse_count("1 ", &v) == -1);
    CHECK(mq_args_parse_count("12x", &v) == -1);
    CHECK(v == -7); /* untouched by a refusal */
}

static void test_wants_help(void)
{
    const char *a[] = {"x", "-h"};
    const char *b[] = {"--", "--help"};
    const char *c[] = {"--helpful"};

    CHECK(mq_args_wants_help(2, (char **)a) == 1);
    CHECK(mq_args_wants_help(2, (char **)b) == 0);
    CHECK(mq_args_wants_help(1, (char **)c) == 0);
    CHECK(mq_args_wants_help(0, NULL) == 0);
}

int main(void)
{
    remove(LOGFILE);
    RUN(test_spellings);
    RUN(test_refusals);
    RUN(test_leading);
    RUN(test_usage_error);
    RUN(test_parse_count);
    RUN(test_wants_help);
    fflush(stderr);
    FILE *log = fopen(LOGFILE, "rb");
    if (log != NULL) {
        char buf[512];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, log)) > 0)
            fwrite(buf, 1, n, stdout);
        fclose(log);
    }
    remove(ERRFILE);
    remove(LOGFILE);
    return mq_test_done();
}
