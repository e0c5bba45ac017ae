/*
 * bench/floor_layout.c - a second floor of the import case: the storage
 * work of minqing's own layout, without minqing's code.
 *
 * Given a store that `minqing import` filled (SRC), it creates minqing's
 * tables and indexes of `record` and `change` in a fresh file (DST) from
 * SRC's own schema, tables first, then copies their rows in the order the
 * import wrote them, with the store's pragmas (WAL, synchronous=FULL, the
 * store's page cache: --cache-kib), in one transaction.  The difference
 * between this and the bare insert (mqb_floor_import) is the cost of the
 * layout: a row for each record's state and one for its change (whose body
 * a creation leaves to the record, M7), and the B-tree indexes, three of
 * them on random UUIDs.  The difference between `minqing import` and this
 * is the cost of the code: parsing, validation, lookups, and the tables the
 * store's triggers keep (record_search, need_state: derived, not copied, so
 * their cost counts with the code's).
 *
 * --keys16 copies the same rows with every key made short: a UUID (id,
 * parent, area, by, rid) as its 16 bytes, a version (cv, v) as its 8 bytes
 * of clock and its site, as a layout of 16-byte keys would hold them.  The
 * rows are converted into a file beside DST before the clock starts, so
 * that both copies read a file of the same kind.
 *
 * --least is the least storage any layout of this design could do: the
 * 16-byte keys, and a creation kept in its record alone (the record's
 * version made unique, so that it can stand for the creation's entry in
 * the log and for M1's check), so that only the changes with a body of
 * their own get a change row; plus the rows of the two tables the store
 * derives, record_search and need_state, copied as they are with their
 * indexes, because the search and the reports need them.  It is the
 * import's budget that no layout can give back: whatever is left of 3x
 * the bare insert after it is what parsing, checking and deriving may take.
 *
 * Usage: mqb_floor_layout [--cache-kib N] [--keys16 | --least] SRC DST
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

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Packs `n` hex digits of `s` into n/2 bytes of `out`; 0, or -1 when one is
 * not a lower-case hex digit. */
static int unhex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* k16(X): a UUID as its 16 bytes, a version CLOCK-SITE as the 8 bytes of
 * its clock and its site; anything else (NULL, a source name) as it is. */
static void k16(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    size_t n = s != NULL ? strlen(s) : 0;
    unsigned char out[64];

    (void)argc;
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-') {
        static const size_t at[] = {0, 9, 14, 19, 24}, len[] = {8, 4, 4, 4, 12};
        size_t o = 0;
        int ok = 1;
        for (int i = 0; i < 5 && ok; i++) {
            ok = unhex(s + at[i], len[i], out + o) == 0;
            o += len[i] / 2;
        }
        if (ok) {
            sqlite3_result_blob(ctx, out, 16, SQLITE_TRANSIENT);
            return;
        }
    }
    if (n > 17 && n - 17 <= sizeof(out) - 8 && s[16] == '-' && unhex(s, 16, out) == 0) {
        memcpy(out + 8, s + 17, n - 17);
        sqlite3_result_blob(ctx, out, (int)(8 + n - 17), SQLITE_TRANSIENT);
        return;
    }
    sqlite3_result_value(ctx, argv[0]);
}

/* SRC's record and change rows with short keys, into file `path`; with
 * `derived`, its record_search and need_state rows too, as they are. */
static void convert(const char *src, const char *path, int derived)
{
    sqlite3 *db = NULL;
    remove(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        mqb_die("cannot open %s", path);
    if (sqlite3_create_function(db, "k16", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                k16, NULL, NULL) != SQLITE_OK)
        mqb_die("cannot declare k16()");
    char *sql = sqlite3_mprintf(
        "ATTACH %Q AS src; BEGIN;"
        " CREATE TABLE record AS SELECT k16(id) AS id, type, k16(parent) AS parent,"
        "  k16(area) AS area, deleted, k16(cv) AS cv, vers, fields"
        "  FROM src.record ORDER BY rowid;"
        " CREATE TABLE change AS SELECT seq, k16(v) AS v, k16(rid) AS rid, type,"
        "  k16(by) AS by, src, body, base FROM src.change ORDER BY seq;"
        " %s COMMIT; DETACH src;",
        src,
        derived ? " CREATE TABLE record_search AS SELECT * FROM src.record_search ORDER "
                  "BY rid;"
                  " CREATE TABLE need_state AS SELECT * FROM src.need_state ORDER BY id;"
                : "");
    exec(db, sql);
    sqlite3_free(sql);
    if (sqlite3_close(db) != SQLITE_OK)
        mqb_die("close failed");
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
    int least = argc > 1 && strcmp(argv[1], "--least") == 0;
    int keys16 = least || (argc > 1 && strcmp(argv[1], "--keys16") == 0);
    if (keys16) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    if (argc != 3 || cache_kib < 1)
        mqb_die("usage: mqb_floor_layout [--cache-kib N] [--keys16 | --least] SRC DST");
    char pragmas[160];
    mqb_store_pragmas(pragmas, sizeof pragmas, cache_kib);

    /* the schema, read before the clock starts: the tables, then their
     * indexes; not the triggers, whose tables are not copied */
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        mqb_die("cannot open %s", argv[1]);
    size_t cap = 4096, len = 0;
    char *ddl = mqb_xmalloc(cap);
    ddl[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND"
                           " (tbl_name IN ('record', 'change') OR"
                           "  (?1 AND tbl_name IN ('record_search', 'need_state')))"
                           " AND type <> 'trigger' ORDER BY type = 'index', rowid",
                           -1, &st, NULL) != SQLITE_OK)
        mqb_die("%s: not a minqing store", argv[1]);
    sqlite3_bind_int(st, 1, least);
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
    const char *from = argv[1];
    char *short_keys = NULL;
    if (keys16) {
        short_keys = sqlite3_mprintf("%s.keys16", argv[2]);
        convert(argv[1], short_keys, least);
        from = short_keys;
    }

    double t0 = mqb_now();
    if (sqlite3_open(argv[2], &db) != SQLITE_OK)
        mqb_die("cannot open %s", argv[2]);
    exec(db, pragmas);
    exec(db, ddl);
    char *attach = sqlite3_mprintf("ATTACH %Q AS src", from);
    exec(db, attach);
    sqlite3_free(attach);
    if (least)
        exec(db, "CREATE UNIQUE INDEX record_cv ON record(cv);");
    exec(db, "BEGIN IMMEDIATE;"
             " INSERT INTO main.record SELECT id, type, parent, area, deleted, cv, vers,"
             "  fields FROM src.record ORDER BY rowid;");
    exec(db, least ? " INSERT INTO main.change SELECT * FROM src.change"
                     "  WHERE body IS NOT NULL ORDER BY seq;"
                     " INSERT INTO main.record_search SELECT * FROM src.record_search;"
                     " INSERT INTO main.need_state SELECT * FROM src.need_state;"
                   : " INSERT INTO main.change SELECT * FROM src.change ORDER BY seq;");
    exec(db, "COMMIT");
    sqlite3_int64 records = count(db, "SELECT count(*) FROM main.record");
    sqlite3_int64 changes = count(db, "SELECT count(*) FROM main.change");
    exec(db, "DETACH src");
    if (sqlite3_close(db) != SQLITE_OK)
        mqb_die("close failed");
    double t1 = mqb_now();
    if (short_keys != NULL)
        remove(short_keys);
    sqlite3_free(short_keys);
    free(ddl);
    printf("{\"records\":%lld,\"changes\":%lld,\"seconds\":%.6f}\n", (long long)records,
           (long long)changes, t1 - t0);
    return 0;
}
