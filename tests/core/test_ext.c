/*
 * tests/core/test_ext.c - the seam for parts' tables (minqing/ext.h): the
 * prefix and the authorizer that keep a part inside its own tables, the
 * transaction a part's statements share with the core's changes, typed
 * parameters and rows, the mapping of SQLite's errors, and the statement
 * cache.
 *
 * Everything goes through the public API except the cache check, which
 * counts the prepared statements on the store's connection (internal.h).
 */
#include <stdint.h>

#include "harness.h"
#include "internal.h"
#include "minqing/ext.h"
#include "minqing/minqing.h"
#include "platform.h"

#define AREA  "00000000-0000-4000-8000-000000000001"
#define AREA2 "00000000-0000-4000-8000-000000000002"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS t_kv(k TEXT PRIMARY KEY, n INTEGER, s TEXT NOT NULL,"
    " r REAL, b BLOB);"
    "-- a comment between statements\n"
    "CREATE INDEX IF NOT EXISTS t_kv_n ON t_kv(n);";

static char path[128];

static mq_store *open_store(void)
{
    mq_store *s = NULL;
    mq_error err;

    if (mq_store_open(&s, path, &err) != 0 ||
        (mq_store_site(s) == NULL && mq_store_init(s, "tab", NULL, &err) != 0)) {
        fprintf(stderr, "open %s: %s\n", path, err.message);
        exit(2);
    }
    return s;
}

static mq_ext *open_part(mq_store *s)
{
    mq_ext *x = NULL;
    mq_error err;

    if (mq_ext_open(&x, s, "t_", SCHEMA, &err) != 0) {
        fprintf(stderr, "mq_ext_open: %s\n", err.message);
        exit(2);
    }
    return x;
}

/* One integer from a query of the part, or -1. */
static int first_int(void *ctx, const mq_ext_value *cols, size_t n)
{
    *(int64_t *)ctx = n > 0 && cols[0].type == MQ_EXT_INT ? cols[0].i : -1;
    return 0;
}

static int64_t count_kv(mq_ext *x)
{
    int64_t n = -2;
    mq_error err;

    if (mq_ext_run(x, "SELECT count(*) FROM t_kv", NULL, 0, first_int, &n, &err) != 0)
        fprintf(stderr, "  count: %s\n", err.message);
    return n;
}

static int count_json(void *ctx, const char *json)
{
    (void)json;
    (*(int *)ctx)++;
    return 0;
}

static int count_records(mq_store *s)
{
    int n = 0;
    mq_error err;

    if (mq_store_list(s, "area", NULL, 0, count_json, &n, &err) != 0)
        return -1;
    return n;
}

static int put_area(mq_store *s, const char *id, const char *name)
{
    char json[160];
    mq_error err;

    snprintf(json, sizeof(json), "{\"name\":\"%s\",\"level\":\"county\"}", name);
    int rc = mq_store_put(s, "area", id, json, NULL, NULL, &err);
    if (rc != 0)
        fprintf(stderr, "  put: %s\n", err.message);
    return rc;
}

static int insert_kv(mq_ext *x, const char *k, int64_t n, mq_error *err)
{
    mq_ext_value p[] = {mq_ext_text(k), mq_ext_int(n), mq_ext_text("v")};
    return mq_ext_run(x, "INSERT INTO t_kv(k, n, s) VALUES(?, ?, ?)", p, 3, NULL, NULL,
                      err);
}

/* Runs `sql` and checks that it is refused naming `what`. */
static void check_refused(mq_ext *x, const char *sql, const char *what)
{
    mq_error err;

    mq_error_clear(&err);
    int rc = mq_ext_run(x, sql, NULL, 0, NULL, NULL, &err);
    CHECK(rc == MQ_EREFUSED);
    CHECK(err.rc == MQ_EREFUSED && err.domain == MQ_DOMAIN_MINQING);
    CHECK_HAS(err.message, what);
    CHECK_HAS(err.message, "t_*");
}

static void test_prefix_rules(void)
{
    mq_store *s = open_store();
    mq_ext *x = NULL, *y = NULL;
    mq_error err;

    CHECK(mq_ext_open(&x, s, "Bad", "", &err) == MQ_EINVAL && x == NULL);
    CHECK_HAS(err.message, "\"Bad\"");
    CHECK(mq_ext_open(&x, s, "t", "", &err) == MQ_EINVAL);  /* no trailing _ */
    CHECK(mq_ext_open(&x, s, "1_", "", &err) == MQ_EINVAL); /* not a letter */
    CHECK(mq_ext_open(&x, s, NULL, "", &err) == MQ_EINVAL);
    /* a prefix that would reach the core's tables or indexes */
    CHECK(mq_ext_open(&x, s, "record_", "", &err) == MQ_EREFUSED);
    CHECK_HAS(err.message, "\"record\"");
    CHECK(mq_ext_open(&x, s, "meta_", "", &err) == MQ_EREFUSED);
    CHECK(mq_ext_open(&x, s, "sqlite_", "", &err) == MQ_EREFUSED);
    CHECK(mq_ext_open(&x, s, "mq_", "", &err) == MQ_EREFUSED);

    x = open_part(s);
    CHECK(mq_ext_open(&y, s, "t_", SCHEMA, &err) == 0 && y == x); /* declared once */
    CHECK(mq_ext_open(&y, s, "t_", "CREATE TABLE t_other(a)", &err) == MQ_ESTATE);
    /* parts may not overlap: t_x_ tables would be t_'s too */
    CHECK(mq_ext_open(&y, s, "t_x_", "", &err) == MQ_EREFUSED);
    CHECK_HAS(err.message, "\"t_\"");
    /* a schema is checked like any statement, and refused whole */
    CHECK(mq_ext_open(&y, s, "u_",
                      "CREATE TABLE IF NOT EXISTS u_a(x); DELETE FROM record",
                      &err) == MQ_EREFUSED);
    CHECK_HAS(err.message, "\"record\"");
    CHECK(mq_ext_open(&y, s, "u_", "CREATE TABLE IF NOT EXISTS u_a(x)", &err) == 0);
    CHECK(mq_ext_run(y, "SELECT count(*) FROM u_a", NULL, 0, NULL, NULL, &err) == 0);
    /* a first declaration inside a transaction: a rollback would undo it */
    CHECK(mq_store_begin(s, &err) == 0);
    CHECK(mq_ext_open(&y, s, "v_", "CREATE TABLE v_a(x)", &err) == MQ_ESTATE);
    CHECK(mq_ext_open(&y, s, "t_", SCHEMA, &err) == 0 && y == x);
    mq_store_rollback(s);
    mq_store_close(s);
}

static void test_authorizer(void)
{
    mq_store *s = open_store();
    mq_ext *x = open_part(s);
    mq_error err;

    CHECK(put_area(s, AREA, "county") == 0);
    check_refused(x, "SELECT * FROM record", "reads table \"record\"");
    check_refused(x, "SELECT k FROM t_kv JOIN record ON record.id = t_kv.k",
                  "table \"record\"");
    check_refused(x, "SELECT k FROM t_kv WHERE k IN (SELECT rid FROM change)",
                  "table \"change\"");
    check_refused(x, "INSERT INTO change(v, rid, type) VALUES('a', 'b', 'c')",
                  "inserts into table \"change\"");
    check_refused(x, "UPDATE meta SET value = 'x' WHERE key = 'site'",
                  "updates table \"meta\"");
    check_refused(x, "DELETE FROM conflict", "deletes from table \"conflict\"");
    check_refused(x, "INSERT INTO t_kv(k, s) SELECT id, fields FROM record",
                  "table \"record\"");
    check_refused(x, "DROP TABLE record", "drops table \"record\"");
    check_refused(x, "DROP INDEX record_parent", "table \"record\"");
    check_refused(x, "CREATE INDEX t_bad ON record(type)", "table \"record\"");
    check_refused(x, "PRAGMA journal_mode=DELETE", "PRAGMA journal_mode");
    check_refused(x, "PRAGMA user_version", "PRAGMA user_version");
    check_refused(x, "ATTACH ':memory:' AS other", "ATTACH");
    check_refused(x, "BEGIN", "BEGIN");
    check_refused(x, "SAVEPOINT sp", "SAVEPOINT sp");
    check_refused(x, "CREATE TEMP TABLE t_tmp(a)", "database \"temp\"");
    check_refused(x, "CREATE VIEW t_v AS SELECT * FROM t_kv", "CREATE VIEW");
    check_refused(x,
                  "CREATE TRIGGER t_tr AFTER INSERT ON t_kv BEGIN"
                  " DELETE FROM t_kv; END",
                  "CREATE TRIGGER");
    check_refused(x, "ALTER TABLE t_kv RENAME TO kv", "ALTER TABLE");
    check_refused(x, " /* c */ vacuum", "VACUUM");
    check_refused(x, "VACUUM INTO '/tmp/mq-test-ext-copy.db'", "VACUUM");
    check_refused(x, "ANALYZE", "sqlite_stat1");
    check_refused(x, "SELECT * FROM pragma_table_info('record')", "pragma_table_info");
    check_refused(x, "SELECT * FROM main.\"RECORD\"", "reads table \"record\"");
    /* the core's data is as it was */
    CHECK(count_records(s) == 1);
    CHECK_STR(mq_store_site(s), "tab");
    /* and the part's own tables work, schema table and CTEs included */
    CHECK(insert_kv(x, "a", 1, &err) == 0);
    CHECK(mq_ext_run(x,
                     "SELECT name FROM sqlite_master WHERE name LIKE 't\\_%' ESCAPE '\\'",
                     NULL, 0, NULL, NULL, &err) == 0);
    CHECK(mq_ext_run(x, "SELECT value FROM json_each('[1,2]')", NULL, 0, NULL, NULL,
                     &err) == 0);
    CHECK(mq_ext_run(x, "WITH c(k) AS (SELECT k FROM t_kv) SELECT count(*) FROM c", NULL,
                     0, NULL, NULL, &err) == 0);
    CHECK(mq_ext_run(x, "CREATE TABLE IF NOT EXISTS t_more(a)", NULL, 0, NULL, NULL,
                     &err) == 0);
    CHECK(mq_ext_run(x, "DROP TABLE t_more", NULL, 0, NULL, NULL, &err) == 0);
    CHECK(mq_ext_run(x, "DELETE FROM t_kv", NULL, 0, NULL, NULL, &err) == 0);
    mq_store_close(s);
}

static void test_transaction(void)
{
    mq_store *s = open_store();
    mq_ext *x = open_part(s);
    mq_error err;

    CHECK(mq_ext_run(x, "DELETE FROM t_kv", NULL, 0, NULL, NULL, &err) == 0);
    int records = count_records(s);

    /* rolled back with the change it accounts for */
    CHECK(mq_store_begin(s, &err) == 0);
    CHECK(put_area(s, AREA2, "second") == 0);
    CHECK(insert_kv(x, "tx", 1, &err) == 0);
    CHECK(count_kv(x) == 1); /* visible inside the transaction */
    mq_store_rollback(s);
    CHECK(count_kv(x) == 0);
    CHECK(count_records(s) == records);

    /* committed with it, and seen by another connection to the file */
    CHECK(mq_store_begin(s, &err) == 0);
    CHECK(put_area(s, AREA2, "second") == 0);
    CHECK(insert_kv(x, "tx", 1, &err) == 0);
    mq_store *other = open_store();
    mq_ext *ox = open_part(other);
    CHECK(count_kv(ox) == 0); /* not before the commit */
    CHECK(mq_store_commit(s, &err) == 0);
    CHECK(count_kv(ox) == 1);
    CHECK(count_records(other) == records + 1);
    mq_store_close(other);

    /* a failed statement inside the transaction leaves it to the caller */
    CHECK(mq_store_begin(s, &err) == 0);
    CHECK(insert_kv(x, "tx2", 2, &err) == 0);
    CHECK(insert_kv(x, "tx", 3, &err) == MQ_EIO); /* duplicate key */
    CHECK(mq_store_commit(s, &err) == 0);
    CHECK(count_kv(x) == 2);

    /* without a transaction, each statement is its own */
    CHECK(insert_kv(x, "auto", 4, &err) == 0);
    mq_store_rollback(s); /* nothing open: nothing undone */
    CHECK(count_kv(x) == 3);
    mq_store_close(s);
}

typedef struct row {
    int seen;
    mq_ext_value v[5];
    char text[32];
    unsigned char blob[8];
} row;

static int keep_row(void *ctx, const mq_ext_value *cols, size_t n)
{
    row *r = ctx;

    r->seen++;
    if (n != 5)
        return MQ_EINVAL;
    for (size_t i = 0; i < n; i++)
        r->v[i] = cols[i];
    /* text and blob are borrowed until we return: copy them */
    if (cols[2].type == MQ_EXT_TEXT)
        snprintf(r->text, sizeof(r->text), "%s", cols[2].text);
    if (cols[4].type == MQ_EXT_BLOB && cols[4].len <= sizeof(r->blob))
        memcpy(r->blob, cols[4].blob, cols[4].len);
    r->v[2].text = r->v[4].blob = NULL;
    return 0;
}

static void test_typed_round_trip(void)
{
    mq_store *s = open_store();
    mq_ext *x = open_part(s);
    mq_error err;
    static const char *const sel = "SELECT n, r, s, k, b FROM t_kv WHERE k = ?";
    const unsigned char bytes[] = {0, 1, 0xff, 0};

    mq_ext_value p[] = {mq_ext_text("typed"), mq_ext_null(), mq_ext_text("李明 ok"),
                        mq_ext_null(), mq_ext_blob(bytes, sizeof(bytes))};
    p[3].type = MQ_EXT_REAL;
    p[3].d = 2.5;
    CHECK(mq_ext_run(x, "INSERT INTO t_kv(k, n, s, r, b) VALUES(?1, ?2, ?3, ?4, ?5)", p,
                     5, NULL, NULL, &err) == 0);
    CHECK(mq_ext_changes(x) == 1);

    row r;
    memset(&r, 0, sizeof(r));
    mq_ext_value key = mq_ext_text("typed");
    CHECK(mq_ext_run(x, sel, &key, 1, keep_row, &r, &err) == 0);
    CHECK(r.seen == 1);
    CHECK(r.v[0].type == MQ_EXT_NULL);
    CHECK(r.v[1].type == MQ_EXT_REAL && r.v[1].d == 2.5);
    CHECK(r.v[2].type == MQ_EXT_TEXT && r.v[2].len == strlen("李明 ok"));
    CHECK_STR(r.text, "李明 ok");
    CHECK(r.v[3].type == MQ_EXT_TEXT && r.v[3].len == 5);
    CHECK(r.v[4].type == MQ_EXT_BLOB && r.v[4].len == 4 && memcmp(r.blob, bytes, 4) == 0);

    /* integers to the edge, the empty text apart from NULL */
    mq_ext_value q[] = {mq_ext_int(INT64_MIN), mq_ext_text(""), mq_ext_text("typed")};
    CHECK(mq_ext_run(x, "UPDATE t_kv SET n = ?, s = ?, r = NULL WHERE k = ?", q, 3, NULL,
                     NULL, &err) == 0);
    CHECK(mq_ext_changes(x) == 1);
    memset(&r, 0, sizeof(r));
    CHECK(mq_ext_run(x, sel, &key, 1, keep_row, &r, &err) == 0);
    CHECK(r.v[0].type == MQ_EXT_INT && r.v[0].i == INT64_MIN);
    CHECK(r.v[1].type == MQ_EXT_NULL);
    CHECK(r.v[2].type == MQ_EXT_TEXT && r.v[2].len == 0 && r.text[0] == '\0');
    /* mq_ext_text(NULL) is NULL; a NOT NULL column says so */
    mq_ext_value nul[] = {mq_ext_text(NULL), mq_ext_text("typed")};
    CHECK(nul[0].type == MQ_EXT_NULL);
    CHECK(mq_ext_run(x, "UPDATE t_kv SET s = ? WHERE k = ?", nul, 2, NULL, NULL, &err) ==
          MQ_EIO);
    CHECK(err.domain == MQ_DOMAIN_SQLITE && err.code == 1299); /* CONSTRAINT_NOTNULL */
    CHECK(mq_ext_is_constraint(&err));
    CHECK_HAS(err.message, "NOT NULL constraint failed: t_kv.s");
    CHECK(mq_ext_changes(x) == 0);

    /* no match: no row; a query changes nothing */
    memset(&r, 0, sizeof(r));
    key = mq_ext_text("absent");
    CHECK(mq_ext_run(x, sel, &key, 1, keep_row, &r, &err) == 0 && r.seen == 0);
    CHECK(mq_ext_changes(x) == 0);
    mq_store_close(s);
}

static void test_errors(void)
{
    mq_store *s = open_store();
    mq_ext *x = open_part(s);
    mq_error err;

    CHECK(mq_ext_run(x, "DELETE FROM t_kv", NULL, 0, NULL, NULL, &err) == 0);
    CHECK(insert_kv(x, "dup", 1, &err) == 0);
    mq_error_clear(&err);
    CHECK(insert_kv(x, "dup", 2, &err) == MQ_EIO);
    CHECK(err.rc == MQ_EIO && err.domain == MQ_DOMAIN_SQLITE);
    CHECK(err.code == 1555); /* SQLITE_CONSTRAINT_PRIMARYKEY */
    CHECK(mq_ext_is_constraint(&err));
    CHECK_HAS(err.message, "UNIQUE constraint failed: t_kv.k");
    CHECK_HAS(err.message, "part t_");
    CHECK(!mq_ext_is_constraint(NULL));

    /* SQL that does not compile: MQ_EINVAL with SQLite's code and message */
    mq_error_clear(&err);
    CHECK(mq_ext_run(x, "SELEC k FROM t_kv", NULL, 0, NULL, NULL, &err) == MQ_EINVAL);
    CHECK(err.domain == MQ_DOMAIN_SQLITE && err.code == 1); /* SQLITE_ERROR */
    CHECK_HAS(err.message, "syntax error");
    CHECK(!mq_ext_is_constraint(&err));
    CHECK(mq_ext_run(x, "SELECT * FROM t_nope", NULL, 0, NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "no such table: t_nope");
    /* one statement per call, its own number of parameters */
    CHECK(mq_ext_run(x, "DELETE FROM t_kv; DELETE FROM t_kv", NULL, 0, NULL, NULL,
                     &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "more than one statement");
    CHECK(count_kv(x) == 1);
    CHECK(mq_ext_run(x, "SELECT 1 -- a trailing comment", NULL, 0, NULL, NULL, &err) ==
          0);
    CHECK(mq_ext_run(x, "  -- nothing", NULL, 0, NULL, NULL, &err) == MQ_EINVAL);
    mq_ext_value one = mq_ext_int(1);
    CHECK(mq_ext_run(x, "SELECT ?, ?", &one, 1, NULL, NULL, &err) == MQ_EINVAL);
    CHECK_HAS(err.message, "takes 2 parameters, 1 given");
    CHECK(mq_ext_run(x, NULL, NULL, 0, NULL, NULL, &err) == MQ_EINVAL);
    /* a callback's non-zero value stops the walk and is returned as is */
    CHECK(mq_ext_run(x, "SELECT k FROM t_kv", NULL, 0, keep_row, &(row){0}, &err) ==
          MQ_EINVAL);
    mq_store_close(s);
}

static int count_stmts(mq_store *s)
{
    int n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st != NULL;
         st = sqlite3_next_stmt(s->db, st))
        n++;
    return n;
}

/* Runs the count again from inside its own row callback. */
static int nested(void *ctx, const mq_ext_value *cols, size_t n)
{
    mq_ext *x = ctx;
    int64_t inner = count_kv(x);
    return n == 1 && cols[0].type == MQ_EXT_INT && cols[0].i == inner ? 0 : MQ_EINVAL;
}

static void test_statement_cache(void)
{
    mq_store *s = open_store();
    mq_ext *x = open_part(s);
    mq_error err;

    CHECK(mq_ext_run(x, "DELETE FROM t_kv", NULL, 0, NULL, NULL, &err) == 0);
    CHECK(count_kv(x) == 0);
    int before = count_stmts(s);
    char key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(insert_kv(x, key, i, &err) == 0);
        CHECK(count_kv(x) == i + 1);
    }
    /* the insert is prepared once; the count was already there */
    CHECK(count_stmts(s) == before + 1);
    mq_ext_value lo = mq_ext_int(100);
    CHECK(mq_ext_run(x, "UPDATE t_kv SET s = 'w' WHERE n >= ?", &lo, 1, NULL, NULL,
                     &err) == 0);
    CHECK(mq_ext_changes(x) == 100);
    CHECK(count_kv(x) == 200 && mq_ext_changes(x) == 0);
    /* re-entrant: a callback may run the very statement that is stepping */
    CHECK(mq_ext_run(x, "SELECT count(*) FROM t_kv", NULL, 0, nested, x, &err) == 0);
    /* what is cached stays checked: the refusal is not cached */
    check_refused(x, "SELECT * FROM meta", "table \"meta\"");
    check_refused(x, "SELECT * FROM meta", "table \"meta\"");
    /* a reopened store finds its tables and declares the part again */
    mq_store_close(s);
    s = open_store();
    x = open_part(s);
    CHECK(count_kv(x) == 200);
    mq_store_close(s);
}

int main(void)
{
    unsigned char r[6];
    if (mq_platform_random(r, sizeof(r)) != 0)
        return 2;
    snprintf(path, sizeof(path), "/tmp/mq-test-ext-%02x%02x%02x%02x%02x%02x.db", r[0],
             r[1], r[2], r[3], r[4], r[5]);
    RUN(test_prefix_rules);
    RUN(test_authorizer);
    RUN(test_transaction);
    RUN(test_typed_round_trip);
    RUN(test_errors);
    RUN(test_statement_cache);
    const char *suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        remove(p);
    }
    return mq_test_done();
}
