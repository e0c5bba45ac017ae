/*
 * apps/cli/bundles.c - changes between replicas without a network:
 * `changes` writes a bundle (for a USB stick, or the payload sync carries),
 * `apply` merges one, and `rejected` shows the changes that could not be
 * applied here, kept with their reasons so that none is silently lost.
 *
 * `changes` prints the cursor to pass as --since next time on stderr, so
 * that stdout holds the bundle alone.
 *
 * Sealed bundles (docs/BUNDLES.md): `key set` keeps the bundle key the
 * office printed at enrolment in the store's settings, and `changes --seal`
 * writes the bundle sealed with it for that office, numbered by the
 * setting seal.seq, so that a lost stick discloses nothing and the office
 * opens each bundle once.  A sealed bundle leaves out the changes pulled
 * from the office (source "server"), as a push does.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "minqing/seal.h"

/* The settings of sealing: the key as minqing-server printed it, and the
 * number of the last bundle sealed with it. */
#define SEAL_KEY "seal.key"
#define SEAL_SEQ "seal.seq"

/* The store's bundle key, or an exit code after saying why there is none. */
static int seal_key(mq_store *store, mq_seal_key *key)
{
    char *text = NULL;
    mq_error err;
    mq_error_clear(&err);
    int rc = mq_store_setting_get(store, SEAL_KEY, &text, &err);
    if (rc != 0)
        return mq_cli_fail(rc, &err);
    if (text == NULL) {
        fprintf(stderr, "minqing: this replica has no bundle key: give it the one the "
                        "office printed at enrolment with `minqing key set` (read from "
                        "stdin)\n");
        return MQ_CLI_USAGE;
    }
    rc = mq_seal_key_parse(key, text, &err);
    mq_seal_wipe(text, strlen(text));
    mq_free(text);
    if (rc != 0) {
        fprintf(stderr, "minqing: the setting %s is damaged: %s\n", SEAL_KEY,
                err.message);
        return MQ_CLI_FAIL;
    }
    return 0;
}

/* The number of the last bundle sealed here (0 for none), or -1. */
static int64_t seal_seq(mq_store *store, mq_error *err)
{
    char *text = NULL;
    int64_t n = 0;
    if (mq_store_setting_get(store, SEAL_SEQ, &text, err) != 0)
        return -1;
    if (text != NULL && mq_cli_parse_count(text, &n) != 0) {
        mq_error_set(err, MQ_ECORRUPT, MQ_DOMAIN_MINQING, MQ_ECORRUPT,
                     "the setting %s is \"%.40s\", not a count", SEAL_SEQ, text);
        n = -1;
    }
    mq_free(text);
    return n;
}

/*
 * Writes the bundle of `q` sealed into `out`: the plain bundle goes to an
 * anonymous temporary file (gone when closed), is sealed from there, and
 * the file is closed.  The bundle's number is taken before it is written,
 * so a failed seal leaves a gap in the numbers, never a number used twice.
 */
static int write_sealed(mq_store *store, const mq_seal_key *key,
                        const mq_changes_query *q, FILE *out, int64_t *next, int64_t *seq,
                        mq_error *err)
{
    char text[24];
    int64_t last = seal_seq(store, err);
    if (last < 0)
        return err->rc;
    *seq = last + 1;
    snprintf(text, sizeof text, "%" PRId64, *seq);
    int rc = mq_store_setting_set(store, SEAL_SEQ, text, err);
    if (rc != 0)
        return rc;
    FILE *plain = tmpfile();
    if (plain == NULL)
        return mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                            "cannot make a temporary file for the bundle to seal");
    /* As a push: what came from the office is not carried back to it. */
    mq_changes_query mine = *q;
    mine.skip_source = "server";
    rc = mq_store_write_bundle(store, &mine, plain, next, err);
    if (rc == 0 && fflush(plain) != 0)
        rc = mq_error_set(err, MQ_EIO, MQ_DOMAIN_MINQING, MQ_EIO,
                          "cannot write the temporary file");
    if (rc == 0) {
        rewind(plain);
        rc = mq_seal_write(out, plain, key, *seq, err);
    }
    fclose(plain);
    return rc;
}

int mq_cli_changes(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--since", NULL, MQ_CLI_VALUE},
                                      {"-o", "--output", MQ_CLI_VALUE},
                                      {"--seal", NULL, MQ_CLI_FLAG}};
    mq_cli_args a;
    mq_changes_query q = {0};
    int64_t next = 0;
    mq_store *store;
    mq_cli_output out;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 3, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    const char *since_text = a.value[0], *file = a.value[1];
    int seal = a.value[2] != NULL;
    mq_seal_key key;
    int64_t seq = 0;
    if (since_text != NULL && mq_cli_parse_count(since_text, &q.since) != 0)
        return mq_cli_usage_error(
            cli, "--since needs a cursor (a whole number printed by changes), not '%s'",
            since_text);
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    if (seal && (rc = seal_key(store, &key)) != 0) {
        mq_store_close(store);
        return rc;
    }
    rc = mq_cli_output_open(&out, file);
    if (rc != 0) {
        mq_store_close(store);
        return rc;
    }
    mq_error_clear(&err);
    int mrc = seal ? write_sealed(store, &key, &q, out.fp, &next, &seq, &err)
                   : mq_store_write_bundle(store, &q, out.fp, &next, &err);
    mq_seal_wipe(key.key, sizeof key.key);
    mq_store_close(store);
    if (mrc != 0) {
        mq_cli_output_abort(&out);
        return mq_cli_fail(mrc, &err);
    }
    rc = mq_cli_output_commit(&out);
    if (rc == 0 && seal)
        fprintf(stderr, "sealed bundle %" PRId64 " for office %s as device %s\n", seq,
                key.office, key.device);
    if (rc == 0)
        fprintf(stderr, "next cursor: %" PRId64 "\n", next);
    return rc;
}

int mq_cli_key(const mq_cli *cli, int argc, char **argv)
{
    static const char *const names[] = {"set or show"};
    mq_cli_args a;
    mq_store *store;
    mq_seal_key key;
    mq_error err;
    char *text = NULL;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    int set = strcmp(a.pos[0], "set") == 0;
    if (!set && strcmp(a.pos[0], "show") != 0)
        return mq_cli_usage_error(cli, "give set or show, not '%s'", a.pos[0]);
    mq_error_clear(&err);
    if (set) {
        /* From stdin, so that the key is in no shell history or process list. */
        if ((rc = mq_cli_read_all(stdin, 4096, &text)) != 0)
            return rc;
        int prc = mq_seal_key_parse(&key, text, &err);
        mq_seal_wipe(text, strlen(text));
        free(text);
        if (prc != 0) {
            fprintf(stderr, "minqing: %s\n", err.message);
            return MQ_CLI_USAGE;
        }
    }
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        mq_seal_wipe(&key, sizeof key);
        return rc;
    }
    if (!set) {
        rc = seal_key(store, &key);
        int64_t last = rc == 0 ? seal_seq(store, &err) : 0;
        mq_store_close(store);
        if (rc != 0)
            return rc;
        if (last < 0)
            return mq_cli_fail(err.rc, &err);
        printf("{\"office\":\"%s\",\"device\":\"%s\",\"sealed\":%" PRId64 "}\n",
               key.office, key.device, last);
        mq_seal_wipe(&key, sizeof key);
        return MQ_CLI_OK;
    }
    /* A new key starts its numbers again (the office counts per key); the
     * same key given again keeps them, or its next bundles would be
     * refused as replays. */
    char line[MQ_SEAL_KEY_TEXT_MAX];
    char *old = NULL;
    mq_seal_key_format(&key, line);
    rc = mq_store_setting_get(store, SEAL_KEY, &old, &err);
    int same = rc == 0 && old != NULL && strcmp(old, line) == 0;
    if (old != NULL)
        mq_seal_wipe(old, strlen(old));
    mq_free(old);
    if (rc == 0 && (rc = mq_store_begin(store, &err)) == 0) {
        rc = mq_store_setting_set(store, SEAL_KEY, line, &err);
        if (rc == 0 && !same)
            rc = mq_store_setting_set(store, SEAL_SEQ, NULL, &err);
        if (rc == 0)
            rc = mq_store_commit(store, &err);
        else
            mq_store_rollback(store);
    }
    mq_seal_wipe(line, sizeof line);
    mq_store_close(store);
    if (rc != 0) {
        mq_seal_wipe(&key, sizeof key);
        return mq_cli_fail(rc, &err);
    }
    fprintf(stderr,
            "minqing: bundle key kept: `minqing changes --seal` seals for office %s as "
            "device %s\n",
            key.office, key.device);
    mq_seal_wipe(&key, sizeof key);
    return MQ_CLI_OK;
}

int mq_cli_apply(const mq_cli *cli, int argc, char **argv)
{
    static const mq_cli_opt opts[] = {{"--skip-invalid", NULL, MQ_CLI_FLAG}};
    static const char *const names[] = {"FILE (or - for stdin)"};
    mq_cli_args a;
    mq_apply_stats st = {0, 0, 0};
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, opts, 1, names, 1, 1, &a);
    if (rc != 0)
        return rc;
    int skip_invalid = a.value[0] != NULL;
    FILE *in = mq_cli_open_input(a.pos[0]);
    if (in == NULL)
        return MQ_CLI_FAIL;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0) {
        mq_cli_close_input(in);
        return rc;
    }
    size_t invalid = 0;
    mq_apply_opts o = {0};
    o.skip_invalid = skip_invalid;
    o.source = in == stdin ? "stdin" : a.pos[0];
    o.on_invalid = mq_cli_print_invalid;
    o.ctx = &invalid;
    mq_error_clear(&err);
    int mrc = mq_store_apply_bundle(store, in, &o, &st, &err);
    mq_store_close(store);
    mq_cli_close_input(in);
    if (mrc == MQ_EINVAL && !skip_invalid && invalid > 0) {
        fprintf(stderr, "minqing: nothing applied: %zu invalid change%s\n", invalid,
                invalid == 1 ? "" : "s");
        return MQ_CLI_USAGE;
    }
    if (mrc != 0)
        return mq_cli_fail(mrc, &err);
    fprintf(stderr, "applied %zu new change%s (%zu already here, %zu rejected)\n",
            st.applied, st.applied == 1 ? "" : "s", st.duplicate, st.rejected);
    if (st.rejected > 0)
        fprintf(stderr, "minqing: %zu change%s rejected; `minqing rejected` shows why\n",
                st.rejected, st.rejected == 1 ? " was" : "s were");
    return MQ_CLI_OK;
}

int mq_cli_rejected(const mq_cli *cli, int argc, char **argv)
{
    mq_cli_args a;
    mq_store *store;
    mq_error err;

    int rc = mq_cli_parse(cli, argc, argv, NULL, 0, NULL, 0, 0, &a);
    if (rc != 0)
        return rc;
    rc = mq_cli_open(cli, MQ_CLI_INITIALISED, &store, NULL);
    if (rc != 0)
        return rc;
    mq_error_clear(&err);
    rc = mq_store_rejected(store, mq_cli_print_line, stdout, &err);
    mq_store_close(store);
    return mq_cli_walk_done(rc, &err);
}
