/*
 * apps/cli/ui.c - `minqing ui [--listen 127.0.0.1:PORT]`: serves the web
 * app from this replica on loopback (web/host.h) and prints the address to
 * open, secret included, until SIGINT or SIGTERM.
 *
 * The address line is the only thing on stdout, flushed at once, so that
 * a launcher (the Android app, a desktop shortcut, a test) can read it.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int mq_cli_ui(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--listen", NULL, MQ_CLI_VALUE}};
    mq_cli_args a;
    mq_store *store = NULL;
    char *path = NULL;
    mq_web_host *host = NULL;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *listen = a.value[0] != NULL ? a.value[0] : "127.0.0.1:0";
    /* Refused before the store is opened: a typo is a usage error. */
    char h[MQ_PLATFORM_HOST_MAX], why[MQ_PLATFORM_WHY_MAX] = "";
    unsigned port = 0;
    if (mq_platform_parse_listen(listen, h, &port, why, sizeof why) != 0) {
        rc = mq_cli_usage_error(cli, "--listen \"%s\": %s", listen, why);
        mq_cli_args_free(&a);
        return rc;
    }
    if (strcmp(h, "127.0.0.1") != 0) {
        rc = mq_cli_usage_error(cli,
                                "--listen \"%s\": the app listens on 127.0.0.1 only, so "
                                "that no other device can reach the store; give "
                                "127.0.0.1:PORT",
                                listen);
        mq_cli_args_free(&a);
        return rc;
    }
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, &path);
    if (rc != 0) {
        mq_cli_args_free(&a);
        return rc;
    }
    /* Before the host's threads start, so that they inherit the mask and
     * only the wait below takes the signals. */
    if (mq_platform_block_stop_signals() != 0) {
        fprintf(stderr, "minqing: cannot block the stop signals: %s\n", strerror(errno));
        rc = MQ_CLI_FAIL;
        goto out;
    }
    mq_web_host_opts o = {store, path, listen};
    mq_error_clear(&err);
    int hrc = mq_web_host_start(&host, &o, &err);
    if (hrc != 0) {
        rc = mq_cli_fail(hrc, &err);
        goto out;
    }
    printf("minqing ui: open %s\n", mq_web_host_url(host));
    if (fflush(stdout) != 0) {
        rc = MQ_CLI_FAIL;
        goto out;
    }
    fprintf(stderr, "minqing ui: serving %s; stop with Ctrl-C\n", path);
    int sig = mq_platform_wait_stop_signal();
    fprintf(stderr, "minqing ui: stopping (signal %d)\n", sig);
    rc = MQ_CLI_OK;
out:
    mq_web_host_stop(host);
    mq_store_close(store);
    free(path);
    mq_cli_args_free(&a);
    return rc;
}
