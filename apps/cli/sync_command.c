/*
 * apps/cli/sync_command.c - `minqing sync`: one call to mq_sync_run() with
 * the server, token and CA from the command line or remembered from the last
 * sync, progress and warnings on stderr, and a one-line JSON report of what
 * was sent and received on stdout.
 *
 * Exit codes (docs/PROTOCOL.md): 0 done; 3 the server was unreachable or the
 * transfer kept failing after retries (safe to run again, nothing lost);
 * 4 refused: a bad or revoked token, or changes the server refused (kept,
 * see `minqing rejected`); 2 usage; 1 any other failure.
 *
 * `--token -` reads the token from stdin, so that it shows in no process list.
 * `--wait SECONDS` is how long a request is retried while the server cannot
 * be reached (10 s by default, so that a cadre is told soon; 0 tries once).
 *
 * Tuning for tests and slow links, from the environment:
 * MINQING_SYNC_BATCH (changes per batch and page), MINQING_SYNC_RETRY_MS
 * (total retry time of one request), MINQING_SYNC_BACKOFF_MS (first wait).
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/sync.h"

enum { MQ_CLI_UNREACHABLE = 3, MQ_CLI_REFUSED = 4 };

static void notify(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "minqing: %s\n", line);
}

static unsigned env_number(const char *name)
{
    const char *v = getenv(name);
    int64_t n = 0;
    if (v == NULL || mq_cli_parse_count(v, &n) != 0 || n > 100000000)
        return 0;
    return (unsigned)n;
}

/* 1 when `key` has a value in the store. */
static int remembered(mq_store *store, const char *key)
{
    char *v = NULL;
    mq_error err;
    int have = mq_store_setting_get(store, key, &v, &err) == 0 && v != NULL && *v != '\0';
    mq_free(v);
    return have;
}

int mq_cli_sync(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--server", NULL, MQ_CLI_VALUE},
                                      {"--token", NULL, MQ_CLI_VALUE},
                                      {"--cacert", NULL, MQ_CLI_VALUE},
                                      {"--wait", NULL, MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store;
    mq_sync_opts o;
    mq_sync_report rep;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 4, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    memset(&o, 0, sizeof o);
    o.server_url = a.value[0];
    o.token = a.value[1];
    o.cacert = a.value[2];
    int64_t wait_s = -1;
    if (a.value[3] != NULL &&
        (mq_cli_parse_count(a.value[3], &wait_s) != 0 || wait_s > 86400)) {
        rc = mq_cli_usage_error(cli, "--wait takes 0 to 86400 seconds, not '%s'",
                                a.value[3]);
        mq_cli_args_free(&a);
        return rc;
    }
    mq_cli_args_free(&a);
    if (o.server_url != NULL && strncmp(o.server_url, "http://", 7) != 0 &&
        strncmp(o.server_url, "https://", 8) != 0)
        return mq_cli_usage_error(
            cli, "--server needs a URL such as https://HOST:PORT, not '%s'",
            o.server_url);
    /* "--token -" reads it from stdin, out of sight of ps and shell history. */
    char *stdin_token = NULL;
    if (o.token != NULL && strcmp(o.token, "-") == 0) {
        rc = mq_cli_read_all(stdin, 1024, &stdin_token);
        if (rc != 0)
            return rc;
        size_t n = strlen(stdin_token);
        while (n > 0 && (stdin_token[n - 1] == '\n' || stdin_token[n - 1] == '\r' ||
                         stdin_token[n - 1] == ' '))
            stdin_token[--n] = '\0';
        if (n == 0) {
            free(stdin_token);
            return mq_cli_usage_error(cli, "--token -: no token on stdin");
        }
        o.token = stdin_token;
    }
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        free(stdin_token);
        return rc;
    }
    if (o.server_url == NULL && !remembered(store, "sync.url")) {
        mq_store_close(store);
        free(stdin_token);
        return mq_cli_usage_error(cli,
                                  "no server yet: give --server URL (it is remembered)");
    }
    if (o.token == NULL && !remembered(store, "sync.token")) {
        mq_store_close(store);
        free(stdin_token);
        return mq_cli_usage_error(cli,
                                  "no device token yet: give --token TOKEN, as printed "
                                  "by `minqing-server device add` (it is remembered)");
    }
    o.batch = env_number("MINQING_SYNC_BATCH");
    o.retry_budget_ms = env_number("MINQING_SYNC_RETRY_MS");
    if (wait_s >= 0) /* 0 s: one attempt (a budget of 1 ms leaves no room to retry) */
        o.retry_budget_ms = wait_s > 0 ? (unsigned)wait_s * 1000u : 1u;
    o.backoff_ms = env_number("MINQING_SYNC_BACKOFF_MS");
    o.notify = notify;

    mq_error_clear(&err);
    int src = mq_sync_run(store, &o, &rep, &err);
    mq_store_close(store);
    free(stdin_token);

    printf("{\"pushed\":%zu,\"push_applied\":%zu,\"push_duplicate\":%zu,"
           "\"push_rejected\":%zu,\"pulled\":%zu,\"pull_applied\":%zu,"
           "\"pull_duplicate\":%zu,\"pull_rejected\":%zu,\"batches\":%zu,\"pages\":%zu,"
           "\"retries\":%zu,\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
           ",\"clock_skew_ms\":%" PRId64 ",\"clock_warning\":%s,\"elapsed_ms\":%" PRId64
           ",\"ok\":%s}\n",
           rep.pushed, rep.push_applied, rep.push_duplicate, rep.push_rejected,
           rep.pulled, rep.pull_applied, rep.pull_duplicate, rep.pull_rejected,
           rep.batches, rep.pages, rep.retries, rep.bytes_sent, rep.bytes_received,
           rep.clock_skew_ms, rep.clock_warning ? "true" : "false", rep.elapsed_ms,
           src == 0 ? "true" : "false");
    if (src == 0) {
        fprintf(stderr,
                "minqing: sync done: sent %zu changes, received %zu (%" PRIu64
                " bytes up, %" PRIu64 " down, %.1f s)\n",
                rep.pushed, rep.pulled, rep.bytes_sent, rep.bytes_received,
                (double)rep.elapsed_ms / 1000.0);
        return MQ_CLI_OK;
    }
    fprintf(stderr, "minqing: sync: %s\n", err.message);
    switch (src) {
    case MQ_ENET:
        fprintf(stderr, "minqing: nothing was lost; run `minqing sync` again when the "
                        "server can be reached\n");
        return MQ_CLI_UNREACHABLE;
    case MQ_EAUTH:
    case MQ_EREFUSED:
        return MQ_CLI_REFUSED;
    default:
        return MQ_CLI_FAIL;
    }
}
