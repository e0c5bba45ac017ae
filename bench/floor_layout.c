/*
 * bench/floor_layout.c - a second floor of the import case: the storage
 * work of minqing's own layout, without minqing's code.
 *
 * Given a store that `minqing import` filled (SRC), it creates minqing's
 * tables, indexes and triggers (the search text, record_search, kept by
 * triggers on `record`) in a fresh file (DST) from SRC's own schema, tables
 * first and triggers last, then
 * copies the rows of `record` and `change` in the order the import wrote
 * them, with the store's pragmas (WAL, synchronous=FULL, the store's page
 * cache: --cache-kib, 8192 unless told), in one transaction.  The difference between this
 * and the bare insert (mqb_floor_import) is the cost of the layout: a row for each
 * record's state and one for its change (whose body a creation leaves to the record, M7),
 * and the B-tree indexes, three of them on random UUIDs.  The difference between `minqing
 * import` and this is the cost of the code: parsing, validation, lookups, JSON printing,
 * and the search table that the store's triggers keep (a derived table: the
 * triggers are not copied, so their cost counts with the code's).
 *
 * Usage: mqb_floor_layout [--cache-kib N] SRC DST
 * Prints {"records":N,"changes":M,"seconds":S} (S from open to close).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        mqb_die("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static sqlite3_int64 count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    sqlite3_int64 n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int main(int argc, char **argv)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    mqb_set_program(argv[0]);
    long cache_kib = mqb_take_cache_kib(&argc, &argv);
    if (argc != 3 || cache_kib < 1)
        mqb_die("usage: mqb_floor_layout [--cache-kib N] SRC DST");
    char pragmas[160];
    mqb_store_pragmas(pragmas, sizeof pragmas, cache_kib);

    /* the schema, read before the clock starts: the tables, then their
     * indexes; not the triggers of the search table, which is not copied */
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        mqb_die("cannot open %s", argv[1]);
    size_t cap = 4096, len = 0;
    char *ddl = mqb_xmalloc(cap);
    ddl[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND"
                           " tbl_name IN ('record', 'change') AND type <> 'trigger'"
                           " ORDER BY type = 'index', rowid",
                           -1, &st, NULL) != SQLITE_OK)
        mqb_die("%s: not a minqing store", argv[1]);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        size_t n = strlen(sql);
        if (len + n + 2 >= cap) {
            cap = 2 * (len + n + 2);
            ddl = mqb_xrealloc(ddl, cap);
        }
        memcpy(ddl + len, sql, n);
        len += n;
        ddl[len++] = ';';
        ddl[len] = '\0';
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (len == 0)
        mqb_die("%s: no record or change table", argv[1]);

    double t0 = mqb_now();
    if (sqlite3_open(argv[2], &db) != SQLITE_OK)
        mqb_die("cannot open %s", argv[2]);
    exec(db, pragmas);
    exec(db, ddl);
    char *attach = sqlite3_mprintf("ATTACH %Q AS src", argv[1]);
    exec(db, attach);
    sqlite3_free(attach);
    exec(db, "BEGIN IMMEDIATE;"
             " INSERT INTO main.record SELECT * FROM src.record ORDER BY rowid;"
             " INSERT INTO main.change SELECT * FROM src.change ORDER BY seq;"
             " COMMIT;");
    sqlite3_int64 records = count(db, "SELECT count(*) FROM main.record");
    sqlite3_int64 changes = count(db, "SELECT count(*) FROM main.change");
    exec(db, "DETACH src");
    if (sqlite3_close(db) != SQLITE_OK)
        mqb_die("close failed");
    double t1 = mqb_now();
    free(ddl);
    printf("{\"records\":%lld,\"changes\":%lld,\"seconds\":%.6f}\n", (long long)records,
           (long long)changes, t1 - t0);
    return 0;
}
