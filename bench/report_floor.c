/*
 * bench/report_floor.c - the floor of the report case: the figures of
 * `minqing report` (docs/REPORTS.md) and the overdue list of `minqing needs
 * --overdue`, computed by plain SQL over the same store file.
 *
 * It reads minqing's own tables (record: one row per record, its fields as
 * JSON) with nothing of minqing's code: each type's fields taken out of the
 * JSON once into a temporary table, the fold of every need's actions by a
 * window function (the last accept, resolve or reopen as of D sets the
 * status), and one GROUP BY per table of figures: per area of the records
 * themselves, then summed up every area above them.  What minqing's report does beyond
 * this (its checks, its JSON, names and labels) is what it costs over the floor.  The
 * harness runs it as a process, as it runs `minqing report`, and checks
 * that the two agree (bench/report_check.py).
 *
 * Usage: mqb_report_floor [--cache-kib N] --as-of YYYY-MM-DD [--overdue] DB OUT
 *
 * Writes OUT as tab-separated lines, one figure set a line:
 *   needs KEY registered accepted resolved open overdue resolved_late yuan
 *         p_received p_accepted p_closed
 *   median KEY DAYS | sat KEY VALUE N | visit KEY KIND N | households KEY N
 *   income ID RATIO LEVEL
 * where KEY is "" for the whole scope, an area id, or "c:" and a cadre id;
 * or with --overdue the overdue needs, earliest deadline first:
 *   ID HEAD_NAME AREA_NAME VILLAGE_NAME CADRE_NAME DEADLINE DAYS_OVERDUE
 * Prints {"seconds":S,"lines":N} (S from open to the last line written).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The scope path, the needs as of ?1, their counted actions, the fold. */
static const char fold_sql[] =
    "CREATE TEMP TABLE anc AS WITH RECURSIVE up(area, anc) AS ("
    " SELECT id, id FROM record WHERE type = 'area'"
    " UNION SELECT up.area, r.parent FROM up JOIN record r ON r.id = up.anc"
    " WHERE r.type = 'area' AND r.parent IS NOT NULL) SELECT area, anc FROM up;"
    "CREATE INDEX temp.anc_area ON anc(area);"
    "CREATE TEMP TABLE n AS SELECT id, area, fields->>'household' AS household,"
    " fields->>'source' IN ('petition_visit', 'petition_letter') AS pet,"
    " fields->>'recorded_by' AS cadre, fields->>'recorded_at' AS recorded,"
    " fields->>'deadline' AS deadline FROM record"
    " WHERE type = 'need' AND deleted = 0"
    " AND (fields->>'recorded_at' IS NULL OR fields->>'recorded_at' <= ?1);"
    "CREATE TEMP TABLE a AS SELECT parent AS need, fields->>'action' AS kind,"
    " fields->>'at' AS at, cv, fields->>'amount_yuan' AS yuan,"
    " fields->>'satisfaction' AS sat FROM record"
    " WHERE type = 'need_action' AND deleted = 0 AND fields->>'at' <= ?1;"
    "CREATE TEMP TABLE f AS"
    " WITH step AS (SELECT need, kind, at, sat, row_number() OVER ("
    "  PARTITION BY need ORDER BY at DESC, cv DESC) AS i FROM a"
    "  WHERE kind IN ('accept', 'resolve', 'reopen')),"
    " per AS (SELECT need, max(kind = 'accept') AS acc,"
    "  total(CASE WHEN kind = 'resolve' THEN yuan END) AS yuan FROM a GROUP BY need)"
    " SELECT n.*, coalesce(per.acc, 0) AS acc, coalesce(per.yuan, 0) AS yuan,"
    " coalesce(step.kind = 'resolve', 0) AS res,"
    " CASE WHEN step.kind = 'resolve' THEN step.at END AS resolved,"
    " CASE WHEN step.kind = 'resolve' THEN step.sat END AS sat"
    " FROM n LEFT JOIN per ON per.need = n.id"
    " LEFT JOIN step ON step.need = n.id AND step.i = 1;";

/*
 * The counts per area of the needs themselves (the leaves), then summed up
 * the scope path: counts add up, so each need is read once, not once per
 * level.  The days to resolve go the same way, as a histogram.
 */
static const char keys_sql[] =
    "CREATE TEMP TABLE fm AS SELECT area, cadre, pet, acc, res, yuan, sat,"
    " (NOT res AND deadline < ?1) AS od, (res AND resolved > deadline) AS late,"
    " CASE WHEN res AND recorded IS NOT NULL"
    " THEN CAST(julianday(resolved) - julianday(recorded) AS INTEGER) END AS days"
    " FROM f;"
    "CREATE TEMP TABLE leaf AS SELECT area, count(*) AS reg, sum(acc) AS acc,"
    " sum(res) AS res, sum(acc AND NOT res) AS open, sum(od) AS od, sum(late) AS late,"
    " total(yuan) AS yuan, sum(pet) AS pet, sum(pet AND acc) AS pacc,"
    " sum(pet AND res) AS pres FROM fm GROUP BY area;"
    "CREATE TEMP TABLE hist AS SELECT '' AS key, days, count(*) AS n FROM fm"
    " WHERE days IS NOT NULL GROUP BY days"
    " UNION ALL SELECT 'c:' || cadre, days, count(*) FROM fm"
    " WHERE days IS NOT NULL AND cadre IS NOT NULL GROUP BY cadre, days"
    " UNION ALL SELECT anc.anc, days, sum(n) FROM (SELECT area, days, count(*) AS n"
    "  FROM fm WHERE days IS NOT NULL GROUP BY area, days) l"
    " JOIN anc ON anc.area = l.area GROUP BY anc.anc, days;"
    "CREATE TEMP TABLE v AS SELECT area, fields->>'cadre' AS cadre,"
    " fields->>'kind' AS kind FROM record"
    " WHERE type = 'visit' AND deleted = 0 AND fields->>'at' <= ?1;"
    "CREATE TEMP TABLE h AS SELECT area, fields->>'paired_cadre' AS cadre FROM record"
    " WHERE type = 'household' AND deleted = 0;";

#define NEED_SUMS                                                                        \
    "count(*), sum(acc), sum(res), sum(acc AND NOT res), sum(od), sum(late),"            \
    " round(total(yuan), 2), sum(pet), sum(pet AND acc), sum(pet AND res)"

/* The figures: each statement prints lines of one kind. */
static const char *const figure_sql[] = {
    "SELECT 'needs', '', " NEED_SUMS " FROM fm",
    "SELECT 'needs', 'c:' || cadre, " NEED_SUMS " FROM fm WHERE cadre IS NOT NULL"
    " GROUP BY cadre",
    "SELECT 'needs', anc.anc, sum(reg), sum(acc), sum(res), sum(open), sum(od), "
    "sum(late),"
    " round(total(yuan), 2), sum(pet), sum(pacc), sum(pres)"
    " FROM leaf JOIN anc ON anc.area = leaf.area GROUP BY anc.anc",
    "WITH o AS (SELECT key, days, sum(n) OVER (PARTITION BY key ORDER BY days) AS upto,"
    "  sum(n) OVER (PARTITION BY key) AS total, n FROM hist)"
    " SELECT 'median', key, avg(days) FROM o"
    " WHERE (total + 1) / 2 BETWEEN upto - n + 1 AND upto"
    " OR (total + 2) / 2 BETWEEN upto - n + 1 AND upto GROUP BY key",
    "SELECT 'sat', '', sat, count(*) FROM fm WHERE res AND sat IS NOT NULL GROUP BY sat",
    "SELECT 'sat', 'c:' || cadre, sat, count(*) FROM fm"
    " WHERE res AND sat IS NOT NULL AND cadre IS NOT NULL GROUP BY cadre, sat",
    "SELECT 'sat', anc.anc, sat, sum(n) FROM (SELECT area, sat, count(*) AS n FROM fm"
    " WHERE res AND sat IS NOT NULL GROUP BY area, sat) l"
    " JOIN anc ON anc.area = l.area GROUP BY anc.anc, sat",
    "SELECT 'visit', '', kind, count(*) FROM v GROUP BY kind",
    "SELECT 'visit', 'c:' || cadre, kind, count(*) FROM v WHERE cadre IS NOT NULL"
    " GROUP BY cadre, kind",
    "SELECT 'visit', anc.anc, kind, sum(n) FROM (SELECT area, kind, count(*) AS n FROM v"
    " GROUP BY area, kind) l JOIN anc ON anc.area = l.area GROUP BY anc.anc, kind",
    "SELECT 'households', '', count(*) FROM h",
    "SELECT 'households', 'c:' || cadre, count(*) FROM h WHERE cadre IS NOT NULL"
    " GROUP BY cadre",
    "SELECT 'households', anc.anc, sum(n) FROM (SELECT area, count(*) AS n FROM h"
    " GROUP BY area) l JOIN anc ON anc.area = l.area GROUP BY anc.anc",
    "SELECT 'income', id, r, CASE WHEN r < 0.4 THEN 'red' WHEN r < 0.6 THEN 'orange'"
    " WHEN r < 0.8 THEN 'yellow' WHEN r < 1 THEN 'green' ELSE 'blue' END FROM ("
    " SELECT id, CAST(fields->>'income_yuan' AS REAL) / (fields->>'target_yuan') AS r"
    " FROM record WHERE type = 'village_income' AND deleted = 0"
    " AND fields->>'period' <= substr(?1, 1, 4) || 'Q'"
    " || ((CAST(substr(?1, 6, 2) AS INTEGER) + 2) / 3))",
};

/* The overdue list, with the names a person follows it up by. */
static const char overdue_sql[] =
    "SELECT f.id, h.fields->>'head_name', g.fields->>'name',"
    " (SELECT v.fields->>'name' FROM anc JOIN record v ON v.id = anc.anc"
    "  WHERE anc.area = f.area AND v.fields->>'level' = 'village'),"
    " c.fields->>'name', f.deadline,"
    " CAST(julianday(?1) - julianday(f.deadline) AS INTEGER)"
    " FROM f LEFT JOIN record h ON h.id = f.household"
    " LEFT JOIN record g ON g.id = f.area LEFT JOIN record c ON c.id = f.cadre"
    " WHERE NOT f.res AND f.deadline < ?1 ORDER BY f.deadline, f.id";

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        mqb_die("%s: %s", what, sqlite3_errmsg(db));
}

/* Runs every statement of `sql` with ?1 bound to `day`. */
static void exec_all(sqlite3 *db, const char *sql, const char *day)
{
    while (*sql != '\0') {
        sqlite3_stmt *st = NULL;
        check(db, sqlite3_prepare_v2(db, sql, -1, &st, &sql), "prepare");
        if (st == NULL)
            break;
        if (sqlite3_bind_parameter_count(st) > 0)
            sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        check(db, rc, "step");
        sqlite3_finalize(st);
    }
}

/* Writes every row of `sql` as a tab-separated line; returns the count. */
static size_t print_rows(sqlite3 *db, const char *sql, const char *day, FILE *out)
{
    sqlite3_stmt *st;
    size_t lines = 0;
    int rc;

    check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), "prepare");
    sqlite3_bind_text(st, 1, day, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            fprintf(out, "%s%s", i ? "\t" : "", v != NULL ? (const char *)v : "");
        }
        fputc('\n', out);
        lines++;
    }
    check(db, rc, "step");
    sqlite3_finalize(st);
    return lines;
}

int main(int argc, char **argv)
{
    const char *day = NULL, *db_path = NULL, *out_path = NULL;
    int overdue = 0;
    sqlite3 *db;

    mqb_set_program(argv[0]);
    long cache_kib = mqb_take_cache_kib(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--as-of") == 0 && i + 1 < argc)
            day = argv[++i];
        else if (strcmp(argv[i], "--overdue") == 0)
            overdue = 1;
        else if (db_path == NULL)
            db_path = argv[i];
        else if (out_path == NULL)
            out_path = argv[i];
        else
            db_path = NULL, i = argc;
    }
    if (day == NULL || db_path == NULL || out_path == NULL || cache_kib < 1)
        mqb_die("usage: mqb_report_floor [--cache-kib N] --as-of YYYY-MM-DD [--overdue] "
                "DB OUT");
    FILE *out = fopen(out_path, "w");
    if (out == NULL)
        mqb_die("cannot write %s", out_path);
    char pragmas[200];
    snprintf(pragmas, sizeof(pragmas), "PRAGMA cache_size=-%ld;", cache_kib);

    double t0 = mqb_now();
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        mqb_die("cannot open %s", db_path);
    check(db, sqlite3_exec(db, pragmas, NULL, NULL, NULL), "pragmas");
    /* One snapshot, as the report takes; the temporary tables go with it. */
    check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    exec_all(db, fold_sql, day);
    size_t lines = 0;
    if (overdue) {
        lines = print_rows(db, overdue_sql, day, out);
    } else {
        exec_all(db, keys_sql, day);
        for (size_t i = 0; i < sizeof(figure_sql) / sizeof(figure_sql[0]); i++)
            lines += print_rows(db, figure_sql[i], day, out);
    }
    check(db, sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), "rollback");
    if (fclose(out) != 0)
        mqb_die("cannot write %s", out_path);
    sqlite3_close(db);
    double t1 = mqb_now();
    printf("{\"seconds\":%.6f,\"lines\":%zu}\n", t1 - t0, lines);
    return 0;
}
