/*
 * bench/edit.c - case 2: the latency of one committed edit.
 *
 * An edit is what a cadre does in a household's yard: change two fields of
 * one household and save.  Through the public C API that is one
 * mq_store_put() of {"phone":...,"income_per_capita_yuan":...} on an
 * existing household, committed durably (the store's WAL with
 * synchronous=FULL).  Its floor is one transaction that updates one row of
 * a bare SQLite table holding the same data (the table mqb_floor_import
 * made), with the same pragmas: BEGIN; UPDATE ... WHERE rowid=?; COMMIT.
 *
 * The two are interleaved op by op (alternating which goes first) so that
 * the noise of a shared machine falls on both alike.  Process start-up is
 * not measured here; with --cli the same edit is also timed as a whole
 * `minqing put` process, for information.
 *
 * Usage: mqb_edit --db STORE [--floor-db DB] [--cache-kib N] [--ops N]
 *                 [--warmup N] [--seed N] [--cli MINQING --cli-ops N]
 * --cache-kib is the floor's page cache, the store's own (8192 unless told).
 * Prints one JSON object with p50, p99, mean and max in milliseconds.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "minqing/minqing.h"
#include "ids.h"
#include "util.h"

/* xorshift64*: a fixed, portable sequence for a given seed */
static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

typedef struct stats {
    double p50, p99, mean, max;
} stats;

static stats summarise(double *ms, size_t n)
{
    stats s;
    s.mean = mqb_mean(ms, n);
    s.p50 = mqb_percentile(ms, n, 50);
    s.p99 = mqb_percentile(ms, n, 99);
    s.max = n ? ms[n - 1] : 0; /* sorted by mqb_percentile */
    return s;
}

static void sql(sqlite3 *db, const char *text)
{
    if (sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK)
        mqb_die("%s: %s", text, sqlite3_errmsg(db));
}

/* One `minqing put` process with `json` on its stdin; milliseconds. */
static double cli_put(const char *minqing, const char *db, const char *id,
                      const char *json)
{
    int p[2];
    if (pipe(p) != 0)
        mqb_die("pipe: %s", strerror(errno));
    fflush(NULL);
    double t0 = mqb_now();
    pid_t pid = fork();
    if (pid < 0)
        mqb_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        dup2(p[0], 0);
        if (nul >= 0)
            dup2(nul, 1);
        close(p[0]);
        close(p[1]);
        execl(minqing, minqing, "--db", db, "put", "household", "--id", id, (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    size_t len = strlen(json);
    if (write(p[1], json, len) != (ssize_t)len)
        mqb_die("writing to minqing put: %s", strerror(errno));
    close(p[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            mqb_die("waitpid: %s", strerror(errno));
    double t1 = mqb_now();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        mqb_die("minqing put exited with status %d", status);
    return (t1 - t0) * 1000.0;
}

int main(int argc, char **argv)
{
    const char *dbpath = NULL, *floorpath = NULL, *cli = NULL;
    long ops = 500, warmup = 20, cli_ops = 0, cache_kib = MQB_CACHE_KIB_DEFAULT;
    mq_store *store = NULL;
    sqlite3 *fdb = NULL;
    sqlite3_stmt *upd = NULL;
    mq_error err;
    mqb_ids hh = {NULL, 0, 0};

    mqb_set_program(argv[0]);
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            mqb_die("%s needs a value", a);
        if (strcmp(a, "--db") == 0)
            dbpath = v;
        else if (strcmp(a, "--floor-db") == 0)
            floorpath = v;
        else if (strcmp(a, "--cache-kib") == 0)
            cache_kib = atol(v);
        else if (strcmp(a, "--ops") == 0)
            ops = atol(v);
        else if (strcmp(a, "--warmup") == 0)
            warmup = atol(v);
        else if (strcmp(a, "--seed") == 0)
            rng_state = strtoull(v, NULL, 10) | 1u;
        else if (strcmp(a, "--cli") == 0)
            cli = v;
        else if (strcmp(a, "--cli-ops") == 0)
            cli_ops = atol(v);
        else
            mqb_die("unknown option %s", a);
    }
    if (dbpath == NULL || ops < 1 || ops > 1000000 || warmup < 0 || warmup > 100000 ||
        cli_ops < 0 || cli_ops > 100000 || cache_kib < 1)
        mqb_die("usage: mqb_edit --db STORE [--floor-db DB] [--cache-kib N] [--ops N] "
                "[--warmup N] [--seed N] [--cli MINQING --cli-ops N]");

    mq_error_clear(&err);
    if (mq_store_open(&store, dbpath, &err) != 0)
        mqb_die("%s: %s", dbpath, err.message);
    if (mq_store_list(store, "household", NULL, 0, mqb_collect_id, &hh, &err) != 0)
        mqb_die("listing households: %s", err.message);
    if (hh.n == 0)
        mqb_die("%s holds no household", dbpath);

    /* the floor: the same durability, one row of about a household's size */
    char *body = NULL;
    sqlite3_int64 rows = 0;
    if (floorpath != NULL) {
        sqlite3_stmt *q;
        if (sqlite3_open(floorpath, &fdb) != SQLITE_OK)
            mqb_die("cannot open %s", floorpath);
        char pragmas[160];
        mqb_store_pragmas(pragmas, sizeof pragmas, cache_kib);
        sql(fdb, pragmas);
        if (sqlite3_prepare_v2(fdb, "SELECT max(rowid) FROM line", -1, &q, NULL) !=
                SQLITE_OK ||
            sqlite3_step(q) != SQLITE_ROW)
            mqb_die("%s: no table of lines", floorpath);
        rows = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (rows < 1)
            mqb_die("%s: the table of lines is empty", floorpath);
        if (sqlite3_prepare_v2(fdb, "UPDATE line SET body = ?1 WHERE rowid = ?2", -1,
                               &upd, NULL) != SQLITE_OK)
            mqb_die("prepare: %s", sqlite3_errmsg(fdb));
        char *tmpl = NULL;
        if (mq_store_get(store, hh.v[0], &tmpl, &err) != 0)
            mqb_die("get %s: %s", hh.v[0], err.message);
        size_t n = strlen(tmpl) + 32;
        body = mqb_xmalloc(n);
        snprintf(body, n, "%s", tmpl);
        mq_free(tmpl);
    }

    double *mq_ms = mqb_xmalloc((size_t)ops * sizeof(double));
    double *fl_ms = mqb_xmalloc((size_t)ops * sizeof(double));
    size_t body_len = body ? strlen(body) : 0;
    for (long i = 0; i < warmup + ops; i++) {
        char fields[96];
        const char *id = hh.v[rng_next() % hh.n];
        unsigned k = (unsigned)(i % 100000000);
        snprintf(fields, sizeof fields,
                 "{\"phone\":\"139%08u\",\"income_per_capita_yuan\":%u}", k, 1000 + k);
        double mq = 0, fl = 0;
        for (int turn = 0; turn < 2; turn++) {
            int mq_turn = (turn == 0) == (i % 2 == 0);
            if (mq_turn) {
                double t0 = mqb_now();
                if (mq_store_put(store, "household", id, fields, NULL, NULL, &err) != 0)
                    mqb_die("put %s: %s", id, err.message);
                mq = mqb_now() - t0;
            } else if (fdb != NULL) {
                /* a same-size edit of a household-sized row */
                snprintf(body + body_len - 9, 10, "%08u}", k);
                double t0 = mqb_now();
                sql(fdb, "BEGIN IMMEDIATE");
                sqlite3_bind_text(upd, 1, body, -1, SQLITE_STATIC);
                sqlite3_bind_int64(upd, 2,
                                   1 + (sqlite3_int64)(rng_next() % (uint64_t)rows));
                if (sqlite3_step(upd) != SQLITE_DONE)
                    mqb_die("update: %s", sqlite3_errmsg(fdb));
                sqlite3_reset(upd);
                sql(fdb, "COMMIT");
                fl = mqb_now() - t0;
            }
        }
        if (i >= warmup) {
            mq_ms[i - warmup] = mq * 1000.0;
            fl_ms[i - warmup] = fl * 1000.0;
        }
    }
    stats m = summarise(mq_ms, (size_t)ops);
    stats f = summarise(fl_ms, fdb ? (size_t)ops : 0);
    mq_store_close(store);
    sqlite3_finalize(upd);
    sqlite3_close(fdb);

    stats c = {0, 0, 0, 0};
    if (cli != NULL && cli_ops > 0) {
        double *cl = mqb_xmalloc((size_t)cli_ops * sizeof(double));
        for (long i = 0; i < cli_ops; i++) {
            char fields[96];
            unsigned k = (unsigned)(50000000 + i);
            snprintf(fields, sizeof fields,
                     "{\"phone\":\"139%08u\",\"income_per_capita_yuan\":%u}", k, k);
            cl[i] = cli_put(cli, dbpath, hh.v[rng_next() % hh.n], fields);
        }
        c = summarise(cl, (size_t)cli_ops);
        free(cl);
    }

    printf("{\"ops\":%ld,\"households\":%zu,"
           "\"mq_p50_ms\":%.4f,\"mq_p99_ms\":%.4f,\"mq_mean_ms\":%.4f,\"mq_max_ms\":%.4f,"
           "\"floor_p50_ms\":%.4f,\"floor_p99_ms\":%.4f,\"floor_mean_ms\":%.4f,"
           "\"floor_max_ms\":%.4f,"
           "\"cli_ops\":%ld,\"cli_p50_ms\":%.4f,\"cli_p99_ms\":%.4f}\n",
           ops, hh.n, m.p50, m.p99, m.mean, m.max, f.p50, f.p99, f.mean, f.max, cli_ops,
           c.p50, c.p99);
    mqb_ids_free(&hh);
    free(mq_ms);
    free(fl_ms);
    free(body);
    return 0;
}
