/* tests/test_db_core.c -- the database module's parts that need no server:
 * URL parsing (good URLs and the message each bad one gets), placeholder
 * scanning, and db.c's calls on handles that never reached a server. The
 * statement cache is test_db_stmtcache.c's, results test_db_rows.c's. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/driver.h"
#include "greentor/db.h"
#include "util.h"

/* ---- URLs ---------------------------------------------------------------- */

typedef struct url_case {
    const char *url;
    const char *scheme, *user, *password, *host, *dbname, *path;
    int port;
} url_case;

static const url_case good_urls[] = {
    {"postgres://u:p@localhost:5432/db", "postgres", "u", "p", "localhost",
     "db", NULL, 5432},
    {"postgresql://localhost/db", "postgres", NULL, NULL, "localhost", "db",
     NULL, 0},
    {"POSTGRES://h/d", "postgres", NULL, NULL, "h", "d", NULL, 0},
    {"mysql://root@127.0.0.1/test", "mysql", "root", NULL, "127.0.0.1", "test",
     NULL, 0},
    {"mariadb://u%40x:p%3Aw%2Fd@[::1]:3306/my%20db", "mysql", "u@x", "p:w/d",
     "::1", "my db", NULL, 3306},
    {"mysql://[fe80::1%25eth0]/x", "mysql", NULL, NULL, "fe80::1%eth0", "x",
     NULL, 0},
    {"postgres://u:pa@ss@host/db", "postgres", "u", "pa@ss", "host", "db", NULL,
     0},
    {"postgres://u:pa:ss@host", "postgres", "u", "pa:ss", "host", NULL, NULL,
     0},
    {"postgres://u:@host:1/", "postgres", "u", "", "host", NULL, NULL, 1},
    {"postgres://host:65535", "postgres", NULL, NULL, "host", NULL, NULL,
     65535},
    {"postgres://:5432/db", "postgres", NULL, NULL, NULL, "db", NULL, 5432},
    {"postgres:///db", "postgres", NULL, NULL, NULL, "db", NULL, 0},
    {"postgres://%2Frun%2Fpg/db", "postgres", NULL, NULL, "/run/pg", "db", NULL,
     0},
    {"sqlite:///tmp/x.db", "sqlite", NULL, NULL, NULL, NULL, "/tmp/x.db", 0},
    {"sqlite:/tmp/x.db", "sqlite", NULL, NULL, NULL, NULL, "/tmp/x.db", 0},
    {"sqlite:rel/x.db", "sqlite", NULL, NULL, NULL, NULL, "rel/x.db", 0},
    {"sqlite::memory:", "sqlite", NULL, NULL, NULL, NULL, ":memory:", 0},
    {"sqlite://:memory:", "sqlite", NULL, NULL, NULL, NULL, ":memory:", 0},
    {"sqlite:///tmp/a%20b.db?x=1", "sqlite", NULL, NULL, NULL, NULL,
     "/tmp/a b.db", 0},
};

static void assert_str(const char *got, const char *want, const char *what,
                       const char *url)
{
    if (!want)
        ck_assert_msg(got == NULL, "%s of %s: want NULL, got '%s'", what, url,
                      got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0,
                      "%s of %s: want '%s', got '%s'", what, url, want,
                      got ? got : "(null)");
}

START_TEST(url_parses_good_urls)
{
    for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
        const url_case *c = &good_urls[i];
        gt__db_url u;
        char err[256];
        int rc = gt__db_url_parse(&u, c->url, err, sizeof(err));

        ck_assert_msg(rc == 0, "%s: rc %d (%s)", c->url, rc, err);
        assert_str(u.scheme, c->scheme, "scheme", c->url);
        assert_str(u.user, c->user, "user", c->url);
        assert_str(u.password, c->password, "password", c->url);
        assert_str(u.host, c->host, "host", c->url);
        assert_str(u.dbname, c->dbname, "dbname", c->url);
        assert_str(u.path, c->path, "path", c->url);
        ck_assert_msg(u.port == c->port, "port of %s: %d", c->url, u.port);
        gt__db_url_free(&u);
    }
}
END_TEST

START_TEST(url_reads_query_options)
{
    gt__db_url u;
    char err[256];
    int bad;

    ck_assert_int_eq(gt__db_url_parse(&u,
                                      "sqlite::memory:?mode=offload&&"
                                      "busy_timeout_ms=10&flag&a%20b=c%"
                                      "3Dd&n=-5&n=7&x=12z&big="
                                      "99999999999999999999999",
                                      err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.path, ":memory:");
    ck_assert_int_eq(u.nopts, 8);
    ck_assert_str_eq(gt__db_url_opt(&u, "mode"), "offload");
    ck_assert_str_eq(gt__db_url_opt(&u, "flag"), "");
    ck_assert_str_eq(gt__db_url_opt(&u, "a b"), "c=d");
    ck_assert_ptr_null(gt__db_url_opt(&u, "missing"));
    ck_assert_int_eq(gt__db_url_opt_long(&u, "busy_timeout_ms", 1, &bad), 10);
    ck_assert_int_eq(bad, 0);
    /* The last occurrence wins. */
    ck_assert_int_eq(gt__db_url_opt_long(&u, "n", 1, &bad), 7);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "missing", 42, &bad), 42);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "x", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "flag", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "big", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "x", 3, NULL), 3);
    gt__db_url_free(&u);
    ck_assert_ptr_null(u.opts);
    gt__db_url_free(&u); /* twice is harmless */

    ck_assert_int_eq(gt__db_url_parse(&u, "postgres://h/d?n=-5", NULL, 0), 0);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "n", 1, NULL), -5);
    gt__db_url_free(&u);
}
END_TEST

typedef struct bad_url {
    const char *url;
    int rc;
    const char *msg; /* a part of the message */
} bad_url;

static const bad_url bad_urls[] = {
    {"", -EINVAL, "missing scheme"},
    {"no scheme here", -EINVAL, "missing scheme"},
    {"mongodb://x", -EPROTONOSUPPORT, "unknown scheme 'mongodb'"},
    {"localhost:5432", -EPROTONOSUPPORT, "unknown scheme 'localhost'"},
    {"postgres:host/db", -EINVAL, "expected '//' after 'postgres:'"},
    {"postgres://h:99999/db", -EINVAL, "port '99999' is not a number"},
    {"postgres://h:0/db", -EINVAL, "port '0'"},
    {"postgres://h:12a/db", -EINVAL, "port '12a'"},
    {"postgres://h:-1/db", -EINVAL, "port '-1'"},
    {"postgres://h:1:2/db", -EINVAL, "port '1:2'"},
    {"postgres://[::1/db", -EINVAL, "closing ']'"},
    {"postgres://[::1]x/db", -EINVAL, "after ']'"},
    {"postgres://u:p%zz@h/db", -EINVAL, "percent-escape in the password"},
    {"postgres://u%00@h/db", -EINVAL, "percent-escape in the user name"},
    {"postgres://h/db%2", -EINVAL, "percent-escape in the database name"},
    {"postgres://h%/db", -EINVAL, "percent-escape in the host"},
    {"postgres://h/a/b", -EINVAL, "contains '/'"},
    {"postgres://h/db?=v", -EINVAL, "empty option name"},
    {"postgres://h/db?k=%g0", -EINVAL, "percent-escape in the option value"},
    {"postgres://h/d\n", -EINVAL, "control character at offset 14"},
    {"sqlite:", -EINVAL, "without a path"},
    {"sqlite://", -EINVAL, "without a path"},
    {"sqlite:?mode=inline", -EINVAL, "without a path"},
    {"sqlite://host/x.db", -EINVAL, "host part"},
    {"sqlite:x?%zz=1", -EINVAL, "percent-escape in the option name"},
};

START_TEST(url_rejects_bad_urls_with_clear_messages)
{
    gt__db_url u;
    char err[256];

    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        const bad_url *c = &bad_urls[i];
        int rc = gt__db_url_parse(&u, c->url, err, sizeof(err));

        ck_assert_msg(rc == c->rc, "%s: rc %d, want %d", c->url, rc, c->rc);
        ck_assert_msg(strstr(err, c->msg), "%s: message '%s' lacks '%s'",
                      c->url, err, c->msg);
        ck_assert_ptr_null(u.scheme); /* left empty, free is harmless */
        gt__db_url_free(&u);
    }
    ck_assert_int_eq(gt__db_url_parse(&u, NULL, err, sizeof(err)), -EINVAL);
    /* A short buffer truncates the message but is still a string. */
    ck_assert_int_eq(gt__db_url_parse(&u, "mongodb://", err, 8),
                     -EPROTONOSUPPORT);
    ck_assert_int_eq(strlen(err), 7);
}
END_TEST

/* ---- placeholders -------------------------------------------------------- */

typedef struct sql_case {
    const char *in, *out;
    int n;
} sql_case;

static const sql_case sql_cases[] = {
    {"", "", 0},
    {"SELECT 1", "SELECT 1", 0},
    {"SELECT ?", "SELECT $1", 1},
    {"SELECT ?, ?,?", "SELECT $1, $2,$3", 3},
    {"SELECT ?::int", "SELECT $1::int", 1},
    {"SELECT '?', ?", "SELECT '?', $1", 1},
    {"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
    {"SELECT \"a?\" FROM t WHERE x = ?", "SELECT \"a?\" FROM t WHERE x = $1",
     1},
    {"SELECT \"a\"\"?\", ?", "SELECT \"a\"\"?\", $1", 1},
    {"SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", 1},
    {"SELECT $t$ ? $x$ ? $t$, ?", "SELECT $t$ ? $x$ ? $t$, $1", 1},
    {"SELECT ? -- ?\n, ?", "SELECT $1 -- ?\n, $2", 2},
    {"SELECT ? -- ?", "SELECT $1 -- ?", 1},
    {"SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ $1", 1},
    {"SELECT E'\\'?', ?", "SELECT E'\\'?', $1", 1},
    {"SELECT e'\\\\', ?", "SELECT e'\\\\', $1", 1},
    {"SELECT 'a\\', ?", "SELECT 'a\\', $1", 1},
    {"SELECT a$b, ?", "SELECT a$b, $1", 1},
    {"SELECT $1", "SELECT $1", 0},
    {"SELECT x-?", "SELECT x-$1", 1},
    {"SELECT 4/?", "SELECT 4/$1", 1},
    {"SELECT '?", "SELECT '?", 0},
    {"SELECT $$ ?", "SELECT $$ ?", 0},
    {"SELECT /* ?", "SELECT /* ?", 0},
    {"??????????????", "$1$2$3$4$5$6$7$8$9$10$11$12$13$14", 14},
};

START_TEST(sqltext_finds_placeholders_outside_quotes)
{
    for (size_t i = 0; i < sizeof(sql_cases) / sizeof(sql_cases[0]); i++) {
        const sql_case *c = &sql_cases[i];
        int n = -1;
        char *out = gt__sql_to_dollar(c->in, &n);

        ck_assert_ptr_nonnull(out);
        ck_assert_msg(strcmp(out, c->out) == 0, "'%s' -> '%s', want '%s'",
                      c->in, out, c->out);
        ck_assert_msg(n == c->n, "'%s': %d params, want %d", c->in, n, c->n);
        ck_assert_int_eq(gt__sql_count_params(c->in), c->n);
        free(out);
    }
}
END_TEST

/* ---- db.c without a server ----------------------------------------------- */

START_TEST(open_reports_bad_urls_and_unknown_schemes)
{
    gt_db *db = (gt_db *)1;

    ck_assert_int_eq(gt_db_open(&db, "postgres://h:0/x", GT_NEVER), -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(gt_db_open(&db, NULL, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_db_open(NULL, "sqlite::memory:", GT_NEVER), -EINVAL);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite::memory:?connect_timeout_ms=x", GT_NEVER),
        -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:?mode=fast", GT_NEVER),
                     -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite::memory:?busy_timeout_ms=-1", GT_NEVER),
        -EINVAL);
    ck_assert_int_eq(gt_db_open(&db, "mongodb://localhost/0", GT_NEVER),
                     -EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(strstr(gt_db_errmsg(db), "unknown scheme 'mongodb'"), "%s",
                  gt_db_errmsg(db));
    ck_assert(gt_db_broken(db));
    gt_db_close(db);
    /* A redis:// URL is a URL greentor reads, but not a database's. */
    ck_assert_int_eq(gt_db_open(&db, "redis://localhost/0", GT_NEVER),
                     -EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(strstr(gt_db_errmsg(db), "gt_redis_open_url()"), "%s",
                  gt_db_errmsg(db));
    ck_assert(gt_db_broken(db));
    ck_assert_str_eq(gt_db_backend(db), "");
    gt_db_close(db);
    gt_db_close(NULL);
}
END_TEST

/* Every call on a handle that failed to open errs and keeps the message. */
static void assert_all_calls_fail(gt_db *db, const char *msg)
{
    gt_rows *rows = (gt_rows *)1, *out[1] = {(gt_rows *)1};
    gt_db_stmt st = {"SELECT 1", NULL, 0};

    ck_assert_int_lt(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_query(db, &rows, "SELECT 1", NULL, 0, GT_NEVER), 0);
    ck_assert_ptr_null(rows);
    ck_assert_int_lt(gt_db_batch(db, out, &st, 1, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_commit(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_rollback(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_ping(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_reset(db, GT_NEVER), 0);
    ck_assert_int_eq(gt_db_tx_depth(db), 0);
    ck_assert(gt_db_broken(db));
    ck_assert_msg(strstr(gt_db_errmsg(db), msg), "'%s' lacks '%s'",
                  gt_db_errmsg(db), msg);
}

START_TEST(calls_on_a_failed_handle_fail_cleanly)
{
    gt_db *db;

    ck_assert_int_eq(gt_db_open(&db, "mongodb://x", GT_NEVER),
                     -EPROTONOSUPPORT);
    assert_all_calls_fail(db, "unknown scheme");
    gt_db_close(db);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite:///nonexistent-gt-dir/x/y.db", GT_NEVER),
        GT_EDB);
    assert_all_calls_fail(db, "cannot open");
    ck_assert_str_eq(gt_db_backend(db), "sqlite");
    gt_db_close(db);
    /* NULL handles too. */
    ck_assert_int_eq(gt_db_exec(NULL, "SELECT 1", NULL, 0, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_db_begin(NULL, GT_NEVER), -EINVAL);
    ck_assert_str_eq(gt_db_sqlstate(NULL), "");
}
END_TEST

/* The session-change guess against the dumb model it replaced: every word
 * compared with every statement. A statement marks the session dirty
 * before it runs, so failing ones count too. */
static bool dirty_model(const char *sql)
{
    static const char *const first[] = {
        "SET",     "CREATE TEMP", "CREATE TEMPORARY", "CREATE GLOBAL TEMP",
        "DECLARE", "PREPARE",     "LISTEN",           "USE",
        "LOCK",    "PRAGMA",      "ATTACH",           "DETACH",
        "LOAD",
    };
    static const char *const anywhere[] = {"set_config", "advisory_lock",
                                           "get_lock"};

    sql += strspn(sql, " \t\r\n(");
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        size_t n = strlen(first[i]);

        if (strncasecmp(sql, first[i], n) == 0 &&
            !(isalpha((unsigned char)sql[n]) || sql[n] == '_'))
            return true;
    }
    for (size_t i = 0; i < sizeof(anywhere) / sizeof(anywhere[0]); i++)
        if (strcasestr(sql, anywhere[i]))
            return true;
    return false;
}

START_TEST(session_change_guess_matches_the_word_lists)
{
    static const char *const sql[] = {
        "SELECT 1",
        "select 1",
        "  (SELECT 1)",
        "SET x = 1",
        "set x=1",
        "SETTINGS",
        "SET_x",
        "\tpragma cache_size=5",
        "PRAGMA",
        "CREATE TEMP TABLE t(a)",
        "create temporary table t(a)",
        "CREATE TEMPORARYX",
        "CREATE TABLE t(a)",
        "CREATE GLOBAL TEMP x",
        "DECLARE c CURSOR",
        "prepare p",
        "LISTEN ch",
        "use db",
        "User",
        "LOCK TABLE t",
        "Locked",
        "ATTACH 'x' AS y",
        "DETACH y",
        "LOAD x",
        "Loader",
        "SELECT set_config('a', 'b', false)",
        "SELECT PG_ADVISORY_LOCK(1)",
        "SELECT GET_LOCK('x', 1)",
        "SELECT my_col FROM t",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "INSERT INTO t VALUES (1)",
        "",
        " ",
        "(",
        "_",
        "1",
        "ä",
    };

    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        gt_db *db;

        ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:", GT_NEVER), 0);
        gt_db_exec(db, sql[i], NULL, 0, GT_NEVER); /* may fail: no matter */
        ck_assert_msg(!gt_db_session_dirty(db) == !dirty_model(sql[i]),
                      "'%s': dirty %d, model %d", sql[i],
                      gt_db_session_dirty(db), dirty_model(sql[i]));
        gt_db_close(db);
    }
}
END_TEST

/* SQLite's column types are worked out once per prepared statement; a
 * schema change under a cached statement must still show the new ones. */
START_TEST(sqlite_column_types_follow_a_schema_change)
{
    gt_db *db;
    gt_rows *r;

    ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:", GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "CREATE TABLE t(a INTEGER)", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "INSERT INTO t VALUES (NULL)", NULL, 0, GT_NEVER), 0);
    for (int i = 0; i < 2; i++) { /* the second from the cache */
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT a FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_INT);
        gt_rows_free(r);
    }
    ck_assert_int_ge(gt_db_exec(db, "DROP TABLE t", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "CREATE TABLE t(a REAL, b BLOB)", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "INSERT INTO t VALUES (NULL, NULL)", NULL, 0, GT_NEVER),
        0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT a FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_FLOAT);
        gt_rows_free(r);
    }
    /* A column more than when it was prepared. */
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT * FROM t", NULL, 0, GT_NEVER),
                     1);
    gt_rows_free(r);
    ck_assert_int_ge(
        gt_db_exec(db, "ALTER TABLE t ADD COLUMN c TEXT", NULL, 0, GT_NEVER),
        0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT * FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_columns(r), 3);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_FLOAT);
        ck_assert_int_eq(gt_rows_type(r, 1), GT_DB_BLOB);
        ck_assert_int_eq(gt_rows_type(r, 2), GT_DB_TEXT);
        gt_rows_free(r);
    }
    gt_db_close(db);
}
END_TEST

START_TEST(value_constructors)
{
    gt_db_value v;

    ck_assert_int_eq(gt_db_null().type, GT_DB_NULL);
    v = gt_db_int(-5);
    ck_assert(v.type == GT_DB_INT && v.u.i == -5);
    v = gt_db_float(0.25);
    ck_assert(v.type == GT_DB_FLOAT && v.u.f == 0.25);
    v = gt_db_text("abc");
    ck_assert(v.type == GT_DB_TEXT && v.u.s.n == 3);
    ck_assert_int_eq(gt_db_text(NULL).type, GT_DB_NULL);
    v = gt_db_textn("abcdef", 2);
    ck_assert(v.type == GT_DB_TEXT && v.u.s.n == 2);
    v = gt_db_blob(NULL, 5);
    ck_assert(v.type == GT_DB_BLOB && v.u.s.n == 0 && v.u.s.p);
}
END_TEST

void add_db_core_tests(Suite *s)
{
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, url_parses_good_urls);
    tcase_add_test(tc, url_reads_query_options);
    tcase_add_test(tc, url_rejects_bad_urls_with_clear_messages);
    tcase_add_test(tc, sqltext_finds_placeholders_outside_quotes);
    tcase_add_test(tc, open_reports_bad_urls_and_unknown_schemes);
    tcase_add_test(tc, calls_on_a_failed_handle_fail_cleanly);
    tcase_add_test(tc, session_change_guess_matches_the_word_lists);
    tcase_add_test(tc, sqlite_column_types_follow_a_schema_change);
    tcase_add_test(tc, value_constructors);
    suite_add_tcase(s, tc);
}
