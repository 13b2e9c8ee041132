/* tests/test_db_pg_params.c -- PostgreSQL parameter types, on the real
 * server (GT_TEST_PG_URL).
 *
 * Text parameters go untyped (OID 0) so that the server infers their type
 * from where they stand: text binds to jsonb, timestamptz, uuid and
 * boolean columns with no cast in the SQL, in INSERT, UPDATE and WHERE
 * alike. Integers and floats keep their types (int4/int8, float8), and
 * the statement cache keys a statement by SQL and parameter types, so
 * one SQL text used with text and with integers is two prepared
 * statements, each prepared with what it was given -- seen on the server
 * in pg_prepared_statements.parameter_types -- and each reused after.
 * Integer results, read back from their text form, at every length. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static gt_db *open_pg(void)
{
    const char *url = getenv("GT_TEST_PG_URL");
    gt_db *db = NULL;
    int rc;

    ck_assert_msg(url && *url, "GT_TEST_PG_URL is not set: run `eval "
                               "\"$(bash scripts/db.sh start)\"` first");
    rc = gt_db_open(&db, url, gt_deadline_in(10000));
    ck_assert_msg(rc == 0, "open: %d %s", rc, db ? gt_db_errmsg(db) : "");
    return db;
}

static void exec_ok(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    ck_assert_msg(gt_db_exec(db, sql, p, n, GT_NEVER) >= 0, "%s: %s", sql,
                  gt_db_errmsg(db));
}

static gt_rows *query_ok(gt_db *db, const char *sql, const gt_db_value *p,
                         int n, int want_rows)
{
    gt_rows *r = NULL;
    int got = gt_db_query(db, &r, sql, p, n, GT_NEVER);

    ck_assert_msg(got == want_rows, "%s: %d rows, want %d (%s)", sql, got,
                  want_rows, gt_db_errmsg(db));
    return r;
}

static void cell_is(gt_rows *r, int col, const char *want)
{
    ck_assert_msg(strcmp(gt_rows_text(r, 0, col, NULL), want) == 0,
                  "column %d: '%s', want '%s'", col,
                  gt_rows_text(r, 0, col, NULL), want);
}

/* ---- text into typed columns --------------------------------------------- */

#define UUID "6f1c2a4e-8b1d-4c1e-9a57-3c2d1b0e9f88"

static int t_text_columns(void *arg)
{
    gt_db *db = open_pg();
    gt_db_value row[5] = {gt_db_int(1), gt_db_text("{\"a\": 1, \"b\": [2]}"),
                          gt_db_text("2024-02-03 04:05:06+00"),
                          gt_db_text(UUID), gt_db_text("true")};
    gt_db_value where[4] = {gt_db_text(UUID), gt_db_text("t"),
                            gt_db_text("{\"b\": [2]}"),
                            gt_db_text("2024-02-03T05:05:06+01:00")};
    gt_db_value upd[3] = {gt_db_text("false"), gt_db_text("[3]"),
                          gt_db_text(UUID)};
    gt_rows *r;

    (void)arg;
    exec_ok(db, "SET TimeZone = 'UTC'", NULL, 0);
    exec_ok(db, "DROP TABLE IF EXISTS gt_pg_params", NULL, 0);
    exec_ok(db,
            "CREATE TABLE gt_pg_params (id int PRIMARY KEY, j jsonb, "
            "ts timestamptz, u uuid, b boolean)",
            NULL, 0);
    /* No casts anywhere: the server types each '?' from its column. */
    exec_ok(db,
            "INSERT INTO gt_pg_params (id, j, ts, u, b) "
            "VALUES (?, ?, ?, ?, ?)",
            row, 5);
    r = query_ok(db,
                 "SELECT id, j, ts, u, b FROM gt_pg_params WHERE u = ? "
                 "AND b = ? AND j @> ? AND ts = ?",
                 where, 4, 1);
    cell_is(r, 1, "{\"a\": 1, \"b\": [2]}");
    cell_is(r, 2, "2024-02-03 04:05:06+00");
    cell_is(r, 3, UUID);
    ck_assert_int_eq(gt_rows_type(r, 4), GT_DB_INT); /* booleans as 0/1 */
    ck_assert_int_eq(gt_rows_int(r, 0, 4), 1);
    gt_rows_free(r);
    exec_ok(db, "UPDATE gt_pg_params SET b = ?, j = ? WHERE u = ?", upd, 3);
    r = query_ok(db, "SELECT b, j FROM gt_pg_params WHERE u = ?", &upd[2], 1,
                 1);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 0);
    cell_is(r, 1, "[3]");
    gt_rows_free(r);
    /* What the server cannot parse as the inferred type is its error. */
    row[0] = gt_db_int(2);
    row[3] = gt_db_text("not-a-uuid");
    ck_assert_int_eq(gt_db_exec(db,
                                "INSERT INTO gt_pg_params (id, j, ts, u,"
                                " b) VALUES (?, ?, ?, ?, ?)",
                                row, 5, GT_NEVER),
                     GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), "22P02");
    exec_ok(db, "DROP TABLE gt_pg_params", NULL, 0);
    gt_db_close(db);
    return 0;
}

START_TEST(text_binds_to_jsonb_timestamptz_uuid_boolean_without_casts)
{
    ck_assert_int_eq(run_main(t_text_columns, NULL), 0);
}
END_TEST

/* ---- the typed fast path and the statement cache ---------------------------
 */

/* The parameter types the server holds for statement 'sql' ($n form), in
 * prepare order, joined by ';' into 'out'. */
static void prepared_types(gt_db *db, const char *sql, char *out, size_t n)
{
    gt_db_value p = gt_db_text(sql);
    gt_rows *r = NULL;
    int rows = gt_db_query(db, &r,
                           "SELECT parameter_types::text FROM "
                           "pg_prepared_statements WHERE statement = ? "
                           "ORDER BY prepare_time, name",
                           &p, 1, GT_NEVER);

    ck_assert_msg(rows >= 0, "pg_prepared_statements: %s", gt_db_errmsg(db));
    out[0] = '\0';
    for (int i = 0; i < rows; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? ";" : "",
                 gt_rows_text(r, i, 0, NULL));
    gt_rows_free(r);
}

static int64_t plus_one(gt_db *db, gt_db_value v)
{
    gt_rows *r = query_ok(db, "SELECT ? + 1", &v, 1, 1);
    int64_t got = gt_rows_int(r, 0, 0);

    gt_rows_free(r);
    return got;
}

static int t_cache(void *arg)
{
    gt_db *db = open_pg();
    gt_db_value f = gt_db_float(1.25);
    char types[256];
    gt_rows *r;

    (void)arg;
    ck_assert_int_eq(plus_one(db, gt_db_text("41")), 42); /* inferred */
    ck_assert_int_eq(plus_one(db, gt_db_int(41)), 42);    /* int4 */
    ck_assert_int_eq(plus_one(db, gt_db_int(5000000000LL)), 5000000001LL);
    prepared_types(db, "SELECT $1 + 1", types, sizeof(types));
    ck_assert_str_eq(types, "{integer};{integer};{bigint}");
    /* Each is reused: no statement is prepared twice. */
    ck_assert_int_eq(plus_one(db, gt_db_text("1")), 2);
    ck_assert_int_eq(plus_one(db, gt_db_int(1)), 2);
    ck_assert_int_eq(plus_one(db, gt_db_int(-5000000000LL)), -4999999999LL);
    prepared_types(db, "SELECT $1 + 1", types, sizeof(types));
    ck_assert_str_eq(types, "{integer};{integer};{bigint}");
    /* Floats go as float8; a text-only statement keeps its inference. */
    r = query_ok(db, "SELECT ? * 2", &f, 1, 1);
    ck_assert_double_eq(gt_rows_float(r, 0, 0), 2.5);
    gt_rows_free(r);
    prepared_types(db, "SELECT $1 * 2", types, sizeof(types));
    ck_assert_str_eq(types, "{\"double precision\"}");
    /* Where the context gives no type, the server says so (42P18). */
    f = gt_db_text("x");
    ck_assert_int_eq(gt_db_exec(db, "SELECT ? IS NULL", &f, 1, GT_NEVER),
                     GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), "42P18");
    ck_assert_int_ge(gt_db_exec(db, "SELECT ?::text IS NULL", &f, 1, GT_NEVER),
                     0);
    gt_db_close(db);
    return 0;
}

START_TEST(integers_and_floats_stay_typed_and_each_signature_is_cached)
{
    ck_assert_int_eq(run_main(t_cache, NULL), 0);
}
END_TEST

/* Integer results come as text and are read by hand up to 18 digits
 * (pg_values.c): both sides of that limit, the extremes of every integer
 * type, and the row count of an UPDATE. */
static int t_int_results(void *arg)
{
    static const struct {
        const char *sql;
        int64_t want;
    } cases[] = {
        {"SELECT 0::int2", 0},
        {"SELECT (-32768)::int2", -32768},
        {"SELECT 2147483647::int4", 2147483647},
        {"SELECT (-2147483648)::int4", -2147483647 - 1},
        {"SELECT 4294967295::oid", 4294967295},
        {"SELECT 123456789012345678::int8", 123456789012345678},
        {"SELECT (-123456789012345678)::int8", -123456789012345678},
        {"SELECT 1234567890123456789::int8", 1234567890123456789},
        {"SELECT 9223372036854775807::int8", INT64_MAX},
        {"SELECT (-9223372036854775808)::int8", INT64_MIN},
    };
    gt_db *db = open_pg();
    gt_rows *r;

    (void)arg;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = query_ok(db, cases[i].sql, NULL, 0, 1);
        ck_assert_msg(gt_rows_int(r, 0, 0) == cases[i].want, "%s: %lld",
                      cases[i].sql, (long long)gt_rows_int(r, 0, 0));
        gt_rows_free(r);
    }
    exec_ok(db,
            "CREATE TEMP TABLE ints_t AS SELECT generate_series(1, 12) AS n",
            NULL, 0);
    ck_assert_int_eq(
        gt_db_exec(db, "UPDATE ints_t SET n = n + 1", NULL, 0, GT_NEVER), 12);
    gt_db_close(db);
    return 0;
}

START_TEST(integer_results_read_right_at_every_length)
{
    ck_assert_int_eq(run_main(t_int_results, NULL), 0);
}
END_TEST

void add_db_pg_params_tests(Suite *s)
{
    TCase *tc = tcase_create("pg_params");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
                   text_binds_to_jsonb_timestamptz_uuid_boolean_without_casts);
    tcase_add_test(tc,
                   integers_and_floats_stay_typed_and_each_signature_is_cached);
    tcase_add_test(tc, integer_results_read_right_at_every_length);
    suite_add_tcase(s, tc);
}
