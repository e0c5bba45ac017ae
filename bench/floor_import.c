/*
 * bench/floor_import.c - the floor of the import case: the least work that
 * stores the same JSON Lines durably in SQLite.
 *
 * It opens DB with the pragmas of a minqing store (WAL, synchronous=FULL,
 * the store's page cache: --cache-kib, 8192 unless told), creates a bare table of one
 * text column, and inserts every non-empty line of FILE as it is, in one transaction,
 * with one prepared statement.  No parsing, no validation, no index: whatever minqing
 * does beyond this is what its import costs over the floor.  The harness runs it as a
 * process, as it runs `minqing import`, so that both pay process start-up and the
 * checkpoint SQLite makes on close.
 *
 * Usage: mqb_floor_import [--cache-kib N] DB FILE
 * Prints {"lines":N,"seconds":S} (S from open to close).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        mqb_die("%s: %s", what, sqlite3_errmsg(db));
}

int main(int argc, char **argv)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    char *line = NULL;
    size_t cap = 0, lines = 0;
    ssize_t len;

    mqb_set_program(argv[0]);
    long cache_kib = mqb_take_cache_kib(&argc, &argv);
    if (argc != 3 || cache_kib < 1)
        mqb_die("usage: mqb_floor_import [--cache-kib N] DB FILE");
    FILE *in = fopen(argv[2], "rb");
    if (in == NULL)
        mqb_die("cannot open %s", argv[2]);
    char pragmas[160];
    mqb_store_pragmas(pragmas, sizeof pragmas, cache_kib);

    double t0 = mqb_now();
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        mqb_die("cannot open %s", argv[1]);
    check(db, sqlite3_exec(db, pragmas, NULL, NULL, NULL), "pragmas");
    check(db,
          sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS line(body TEXT NOT NULL)", NULL,
                       NULL, NULL),
          "create table");
    check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
    check(db,
          sqlite3_prepare_v2(db, "INSERT INTO line(body) VALUES (?1)", -1, &ins, NULL),
          "prepare");
    while ((len = getline(&line, &cap, in)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        sqlite3_bind_text(ins, 1, line, (int)len, SQLITE_STATIC);
        check(db, sqlite3_step(ins), "insert");
        sqlite3_reset(ins);
        lines++;
    }
    sqlite3_finalize(ins);
    check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    if (sqlite3_close(db) != SQLITE_OK)
        mqb_die("close failed");
    double t1 = mqb_now();
    free(line);
    fclose(in);
    printf("{\"lines\":%zu,\"seconds\":%.6f}\n", lines, t1 - t0);
    return 0;
}
