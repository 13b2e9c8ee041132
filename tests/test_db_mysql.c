/* tests/test_db_mysql.c -- what is MariaDB-specific in the mysql driver,
 * against the real server of scripts/db.sh: connect errors with their
 * codes, KILL QUERY on cancel and on deadline (checked in the server's
 * process list), the statement cache under eviction, COM_RESET_CONNECTION,
 * a connection killed under us, 1 MiB values and the type mapping.
 *
 * The behaviours every backend shares (types, errors, transactions,
 * timeouts, the loop-keeps-running proof) are in test_db_shared.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db/driver.h"
#include "util.h"

#define OPEN_MS 5000

/* ---- helpers ------------------------------------------------------------- */

static const char *base_url(void)
{
    const char *u = getenv("GT_TEST_MYSQL_URL");

    if (!u || !*u)
        ck_abort_msg("GT_TEST_MYSQL_URL is not set: run `bash scripts/db.sh "
                     "start` and `eval \"$(bash scripts/db.sh env)\"`");
    return u;
}

/* The test URL with its user:password, host:port or database replaced
 * (NULL keeps the original) and 'query' appended. */
static void make_url(char *out, size_t cap, const char *userinfo,
                     const char *hostport, const char *db, const char *query)
{
    char u[512], *ui, *hp, *path;

    snprintf(u, sizeof(u), "%s", base_url());
    ui = strstr(u, "://");
    ck_assert_ptr_nonnull(ui);
    *ui = '\0';
    ui += 3;
    hp = strchr(ui, '@');
    ck_assert_ptr_nonnull(hp);
    *hp++ = '\0';
    path = strchr(hp, '/');
    ck_assert_ptr_nonnull(path);
    *path++ = '\0';
    path[strcspn(path, "?")] = '\0';
    snprintf(out, cap, "%s://%s@%s/%s%s%s", u, userinfo ? userinfo : ui,
             hostport ? hostport : hp, db ? db : path, query ? "?" : "",
             query ? query : "");
}

static gt_db *open_db(const char *query)
{
    char url[600];
    gt_db *db = NULL;
    int rc;

    make_url(url, sizeof(url), NULL, NULL, NULL, query);
    rc = gt_db_open(&db, url, gt_deadline_in(OPEN_MS));
    ck_assert_msg(rc == 0, "open %s: %s (%s)", url, gt_strerror(rc),
                  db ? gt_db_errmsg(db) : "");
    ck_assert_str_eq(gt_db_backend(db), "mysql");
    return db;
}

static int64_t scalar_p(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, sql, p, n, gt_deadline_in(OPEN_MS));
    int64_t v;

    ck_assert_msg(rc == 1, "%s: %s (%s)", sql, gt_strerror(rc),
                  gt_db_errmsg(db));
    v = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return v;
}

static int64_t scalar(gt_db *db, const char *sql)
{
    return scalar_p(db, sql, NULL, 0);
}

static void exec_ok(gt_db *db, const char *sql)
{
    int64_t rc = gt_db_exec(db, sql, NULL, 0, gt_deadline_in(OPEN_MS));

    ck_assert_msg(rc >= 0, "%s: %s (%s)", sql, gt_strerror((int)rc),
                  gt_db_errmsg(db));
}

/* Statements of connection 'id' running SELECT SLEEP, seen from 'mon'. */
static int64_t sleepers(gt_db *mon, int64_t id)
{
    gt_db_value p = gt_db_int(id);

    return scalar_p(mon,
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                    " WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'",
                    &p, 1);
}

/* Poll until connection 'id' does (want = 1) or does not (want = 0) run a
 * SLEEP; false if that did not happen within about 'ms'. */
static bool await_sleepers(gt_db *mon, int64_t id, int64_t want, int ms)
{
    int i;

    for (i = 0; i <= ms / 10; i++) {
        if (sleepers(mon, id) == want)
            return true;
        ck_assert_int_eq(gt_sleep(10), 0);
    }
    return false;
}

typedef struct sleeper {
    gt_db *db;
    const char *sql;      /* NULL: SELECT SLEEP(30) */
    int64_t deadline;     /* for the statement; GT_NEVER for none */
    int64_t own_deadline; /* for the coroutine; GT_NEVER for none */
    int64_t rc;           /* what the statement returned */
    int after;            /* what the next wait returned */
} sleeper;

static int run_sleeper(void *arg)
{
    sleeper *s = arg;

    gt_co_set_deadline(gt_co_self(), s->own_deadline);
    s->rc = gt_db_exec(s->db, s->sql ? s->sql : "SELECT SLEEP(30)", NULL, 0,
                       s->deadline);
    s->after = gt_sleep(1);
    return 0;
}

/* ---- connect errors ------------------------------------------------------ */

static void expect_open_error(const char *url, int want_rc)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(OPEN_MS));

    ck_assert_msg(rc == want_rc, "open %s: got %s, want %s", url,
                  gt_strerror(rc), gt_strerror(want_rc));
    ck_assert_ptr_nonnull(db);
    ck_assert_str_ne(gt_db_errmsg(db), "");
    gt_db_close(db);
}

static int t_bad_password(void *arg)
{
    char url[600];
    gt_db *db = NULL;

    (void)arg;
    make_url(url, sizeof(url), "greentor:wrong-password", NULL, NULL, NULL);
    ck_assert_int_eq(gt_db_open(&db, url, gt_deadline_in(OPEN_MS)), GT_EDB);
    ck_assert_ptr_nonnull(db);
    ck_assert_int_eq(gt_db_errcode(db), 1045);
    ck_assert_str_eq(gt_db_sqlstate(db), "28000");
    ck_assert_ptr_nonnull(strstr(gt_db_errmsg(db), "Access denied"));
    gt_db_close(db);
    return 0;
}

START_TEST(bad_password_is_1045_28000)
{
    ck_assert_int_eq(run_main(t_bad_password, NULL), 0);
}
END_TEST

/* The test user holds rights on greentor_test only, so for any other name
 * MariaDB answers 1044 (access denied to that database) and keeps 1049
 * (unknown database) for users who could see it; both are 42000. */
static int t_unknown_db(void *arg)
{
    char url[600];
    gt_db *db = NULL;

    (void)arg;
    make_url(url, sizeof(url), NULL, NULL, "greentor_no_such_db", NULL);
    ck_assert_int_eq(gt_db_open(&db, url, gt_deadline_in(OPEN_MS)), GT_EDB);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(gt_db_errcode(db) == 1049 || gt_db_errcode(db) == 1044,
                  "errcode %d: %s", gt_db_errcode(db), gt_db_errmsg(db));
    ck_assert_str_eq(gt_db_sqlstate(db), "42000");
    gt_db_close(db);
    return 0;
}

START_TEST(unknown_database_is_42000)
{
    ck_assert_int_eq(run_main(t_unknown_db, NULL), 0);
}
END_TEST

static int t_refused(void *arg)
{
    char url[600];
    gt_db *db = NULL;

    (void)arg;
    make_url(url, sizeof(url), NULL, "127.0.0.1:1", NULL, NULL);
    ck_assert_int_eq(gt_db_open(&db, url, gt_deadline_in(OPEN_MS)),
                     -ECONNREFUSED);
    ck_assert_ptr_nonnull(db);
    ck_assert_str_eq(gt_db_sqlstate(db), "");
    ck_assert_int_eq(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER) < 0, 1);
    gt_db_close(db);
    return 0;
}

START_TEST(closed_port_is_econnrefused)
{
    ck_assert_int_eq(run_main(t_refused, NULL), 0);
}
END_TEST

/* A listener that never accepts: TCP connects, the handshake never comes. */
static int t_silent_server(void *arg)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    char hp[64], url[600];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int64_t t0;

    (void)arg;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(hp, sizeof(hp), "127.0.0.1:%d", ntohs(sa.sin_port));
    make_url(url, sizeof(url), NULL, hp, NULL, "connect_timeout_ms=200");
    t0 = gt_now();
    expect_open_error(url, -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, OPEN_MS); /* connect_timeout_ms won */
    close(fd);
    return 0;
}

START_TEST(silent_server_times_out)
{
    ck_assert_int_eq(run_main(t_silent_server, NULL), 0);
}
END_TEST

/* ---- cancellation and deadlines ------------------------------------------ */

/* Start SELECT SLEEP(30) in a coroutine and wait until the server runs it. */
static gt_co *start_sleeper(sleeper *s, gt_db *mon, int64_t id)
{
    gt_co *co;

    s->rc = 1;
    ck_assert_int_eq(gt_co_spawn(&co, run_sleeper, s), 0);
    ck_assert_msg(await_sleepers(mon, id, 1, OPEN_MS), "SLEEP never ran");
    return co;
}

/* After the interrupted statement returned: the server stopped it within
 * about a second, and the connection is clean again. */
static void expect_stopped_and_clean(gt_db *db, gt_db *mon, int64_t id)
{
    ck_assert_msg(await_sleepers(mon, id, 0, 1000),
                  "SLEEP still runs on the server");
    ck_assert_msg(!gt_db_broken(db), "broken: %s", gt_db_errmsg(db));
    ck_assert_int_eq(scalar(db, "SELECT 7"), 7);
    ck_assert_int_eq(scalar(db, "SELECT CONNECTION_ID()"), id);
}

static int t_cancel(void *arg)
{
    gt_db *db = open_db(NULL), *mon = open_db(NULL);
    int64_t id = scalar(db, "SELECT CONNECTION_ID()");
    sleeper s = {.db = db, .deadline = GT_NEVER, .own_deadline = GT_NEVER};
    gt_co *co;

    (void)arg;
    co = start_sleeper(&s, mon, id);
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(s.rc, -ECANCELED);
    ck_assert_int_eq(s.after, -ECANCELED); /* the shield was lifted */
    expect_stopped_and_clean(db, mon, id);
    gt_db_close(db);
    gt_db_close(mon);
    return 0;
}

START_TEST(cancel_kills_the_query_on_the_server)
{
    ck_assert_int_eq(run_main(t_cancel, NULL), 0);
}
END_TEST

/* 'own' picks the coroutine's deadline instead of the statement's. */
static int t_deadline(void *arg)
{
    bool own = arg != NULL;
    gt_db *db = open_db(NULL), *mon = open_db(NULL);
    int64_t id = scalar(db, "SELECT CONNECTION_ID()"), t0 = gt_now();
    sleeper s = {.db = db, .deadline = GT_NEVER, .own_deadline = GT_NEVER};
    gt_co *co;

    if (own)
        s.own_deadline = gt_deadline_in(300);
    else
        s.deadline = gt_deadline_in(300);
    co = start_sleeper(&s, mon, id);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(s.rc, -ETIMEDOUT);
    /* Bounded: the statement alone would take 30 s. */
    ck_assert_int_lt(gt_now() - t0, 10000);
    ck_assert_int_eq(s.after, own ? -ETIMEDOUT : 0);
    expect_stopped_and_clean(db, mon, id);
    gt_db_close(db);
    gt_db_close(mon);
    return 0;
}

START_TEST(deadline_kills_the_query_and_leaves_it_clean)
{
    ck_assert_int_eq(run_main(t_deadline, NULL), 0);
}
END_TEST

START_TEST(coroutine_deadline_kills_the_query_too)
{
    ck_assert_int_eq(run_main(t_deadline, (void *)1), 0);
}
END_TEST

/* Run 'sql' in a coroutine cancelled before it first runs. */
static int64_t run_cancelled(gt_db *db, const char *sql)
{
    sleeper s = {
        .db = db, .sql = sql, .deadline = GT_NEVER, .own_deadline = GT_NEVER};
    gt_co *co;

    ck_assert_int_eq(gt_co_spawn(&co, run_sleeper, &s), 0);
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(s.after, -ECANCELED);
    return s.rc;
}

/* Cancelled before the call. A new statement is interrupted while being
 * prepared, which finishes at once: clean, and nothing ran. A cached one
 * goes out and is killed (should the KILL overtake it, the connection is
 * given up instead): never dirty. A deadline already past sends nothing. */
static int t_cancelled_before(void *arg)
{
    gt_db *db = open_db(NULL), *mon = open_db(NULL);
    int64_t id = scalar(db, "SELECT CONNECTION_ID()");

    (void)arg;
    ck_assert_int_eq(gt_db_exec(db, "SELECT SLEEP(30)", NULL, 0, 0),
                     -ETIMEDOUT);
    ck_assert_int_eq(run_cancelled(db, "SELECT SLEEP(30) AS fresh"),
                     -ECANCELED);
    ck_assert_msg(!gt_db_broken(db), "broken: %s", gt_db_errmsg(db));
    ck_assert_int_eq(scalar(db, "SELECT 5"), 5);
    /* Now cached (prepared, then the deadline stopped it). */
    ck_assert_int_eq(
        gt_db_exec(db, "SELECT SLEEP(30)", NULL, 0, gt_deadline_in(100)),
        -ETIMEDOUT);
    ck_assert_int_eq(run_cancelled(db, "SELECT SLEEP(30)"), -ECANCELED);
    ck_assert_msg(await_sleepers(mon, id, 0, 1000), "SLEEP still runs");
    if (!gt_db_broken(db))
        ck_assert_int_eq(scalar(db, "SELECT 6"), 6);
    gt_db_close(db);
    gt_db_close(mon);
    return 0;
}

START_TEST(cancelled_before_the_call_never_leaves_it_dirty)
{
    ck_assert_int_eq(run_main(t_cancelled_before, NULL), 0);
}
END_TEST

/* ---- a connection killed under us ---------------------------------------- */

static void kill_connection(gt_db *by, int64_t id)
{
    char sql[64];

    snprintf(sql, sizeof(sql), "KILL CONNECTION %lld", (long long)id);
    exec_ok(by, sql);
}

static int t_killed_in_tx(void *arg)
{
    gt_db *db = open_db(NULL), *other = open_db(NULL);
    gt_rows *r = NULL;

    (void)arg;
    /* In a transaction, so the next call must fail rather than reconnect
     * (outside one it would: tests/test_db_redial.c). */
    ck_assert_int_eq(scalar(db, "SELECT 1"), 1);
    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    kill_connection(other, scalar(db, "SELECT CONNECTION_ID()"));
    ck_assert_int_eq(
        gt_db_query(db, &r, "SELECT 1", NULL, 0, gt_deadline_in(OPEN_MS)),
        -ECONNRESET);
    ck_assert_ptr_null(r);
    ck_assert(gt_db_broken(db));
    ck_assert_int_eq(gt_db_exec(db, "SELECT 2", NULL, 0, GT_NEVER),
                     -ECONNRESET);
    ck_assert_int_eq(gt_db_ping(db, GT_NEVER), -ECONNRESET);
    gt_db_close(db);
    ck_assert_int_eq(scalar(other, "SELECT 3"), 3);
    gt_db_close(other);
    return 0;
}

START_TEST(killed_connection_in_a_transaction_is_broken)
{
    ck_assert_int_eq(run_main(t_killed_in_tx, NULL), 0);
}
END_TEST

static int t_killed_busy(void *arg)
{
    gt_db *db = open_db(NULL), *mon = open_db(NULL);
    int64_t id = scalar(db, "SELECT CONNECTION_ID()");
    sleeper s = {.db = db, .deadline = GT_NEVER, .own_deadline = GT_NEVER};
    gt_co *co;

    (void)arg;
    co = start_sleeper(&s, mon, id);
    kill_connection(mon, id);
    ck_assert_int_eq(gt_co_join(co, NULL, gt_deadline_in(OPEN_MS)), 0);
    ck_assert_int_eq(s.rc, -ECONNRESET);
    ck_assert(gt_db_broken(db));
    ck_assert_int_eq(gt_db_ping(db, GT_NEVER), -ECONNRESET);
    gt_db_close(db);
    gt_db_close(mon);
    return 0;
}

START_TEST(connection_killed_mid_query_is_broken)
{
    ck_assert_int_eq(run_main(t_killed_busy, NULL), 0);
}
END_TEST

/* ---- statement cache and reset ------------------------------------------- */

static int64_t session_status(gt_db *db, const char *name)
{
    gt_db_value p = gt_db_text(name);

    return scalar_p(db,
                    "SELECT VARIABLE_VALUE FROM "
                    "information_schema.SESSION_STATUS "
                    "WHERE VARIABLE_NAME = ?",
                    &p, 1);
}

/* With room for 2, cycling through 5 statements misses every time: each
 * run prepares, and each new entry evicts (COM_STMT_CLOSE) the oldest. */
static int t_cache_eviction(void *arg)
{
    static const char *sql[] = {"SELECT ? + 1", "SELECT ? + 2", "SELECT ? + 3",
                                "SELECT ? + 4", "SELECT ? + 5"};
    gt_db *db = open_db("stmt_cache=2");
    int64_t prepares, closes;
    int round, i;

    (void)arg;
    prepares = session_status(db, "COM_STMT_PREPARE");
    closes = session_status(db, "COM_STMT_CLOSE");
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 5; i++) {
            gt_db_value p = gt_db_int(10 * round);

            ck_assert_int_eq(scalar_p(db, sql[i], &p, 1), 10 * round + i + 1);
        }
    }
    /* 15 misses, plus the status query itself, evicted meanwhile; 14
     * evictions in the loop, and one when the status query came back. */
    ck_assert_int_eq(session_status(db, "COM_STMT_PREPARE") - prepares, 16);
    ck_assert_int_eq(session_status(db, "COM_STMT_CLOSE") - closes, 15);
    gt_db_close(db);
    return 0;
}

START_TEST(statement_cache_evicts_and_closes_on_the_server)
{
    ck_assert_int_eq(run_main(t_cache_eviction, NULL), 0);
}
END_TEST

static int t_reset(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_value p = gt_db_int(1);
    gt_rows *r = NULL;

    (void)arg;
    exec_ok(db, "CREATE TEMPORARY TABLE gt_reset_tmp (a INT)");
    exec_ok(db, "SET @gt_reset_var = 42");
    ck_assert_int_eq(scalar(db, "SELECT @gt_reset_var"), 42);
    ck_assert_int_eq(scalar_p(db, "SELECT ? + 1", &p, 1), 2); /* cached */
    exec_ok(db, "BEGIN");
    ck_assert_int_eq(gt__db_mysql_driver.in_tx(db), 1);
    ck_assert_int_eq(gt_db_reset(db, gt_deadline_in(OPEN_MS)), 0);
    ck_assert_int_eq(gt__db_mysql_driver.in_tx(db), 0);
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT @gt_reset_var", NULL, 0,
                                 gt_deadline_in(OPEN_MS)),
                     1);
    ck_assert(gt_rows_isnull(r, 0, 0));
    gt_rows_free(r);
    ck_assert_int_eq(gt_db_exec(db, "SELECT * FROM gt_reset_tmp", NULL, 0,
                                gt_deadline_in(OPEN_MS)),
                     GT_EDB);
    ck_assert_int_eq(gt_db_errcode(db), 1146);
    ck_assert_str_eq(gt_db_sqlstate(db), "42S02");
    /* The server forgot its statements; the cached one is prepared again. */
    ck_assert_int_eq(scalar_p(db, "SELECT ? + 1", &p, 1), 2);
    ck_assert_int_eq(gt_db_ping(db, gt_deadline_in(OPEN_MS)), 0);
    gt_db_close(db);
    return 0;
}

START_TEST(reset_drops_temp_tables_variables_and_statements)
{
    ck_assert_int_eq(run_main(t_reset, NULL), 0);
}
END_TEST

/* ---- values -------------------------------------------------------------- */

static int t_large_values(void *arg)
{
    size_t n = 1 << 20, got = 0, i;
    unsigned char *buf = malloc(n);
    gt_db *db = open_db(NULL);
    gt_db_value p;
    gt_rows *r = NULL;
    const void *back;

    (void)arg;
    ck_assert_ptr_nonnull(buf);
    for (i = 0; i < n; i++)
        buf[i] = (unsigned char)((i * 2654435761u) >> 13);
    exec_ok(db, "CREATE TEMPORARY TABLE gt_big (b LONGBLOB)");
    p = gt_db_blob(buf, n);
    ck_assert_int_eq(gt_db_exec(db, "INSERT INTO gt_big VALUES (?)", &p, 1,
                                gt_deadline_in(OPEN_MS)),
                     1);
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT b, LENGTH(b) FROM gt_big",
                                 NULL, 0, gt_deadline_in(OPEN_MS)),
                     1);
    ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_BLOB);
    back = gt_rows_blob(r, 0, 0, &got);
    ck_assert_uint_eq(got, n);
    ck_assert(memcmp(back, buf, n) == 0);
    ck_assert_int_eq(gt_rows_int(r, 0, 1), (int64_t)n);
    gt_rows_free(r);
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT REPEAT('x', 1048576)", NULL, 0,
                                 gt_deadline_in(OPEN_MS)),
                     1);
    ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_TEXT);
    ck_assert_uint_eq(strlen(gt_rows_text(r, 0, 0, &got)), n);
    ck_assert_uint_eq(got, n);
    gt_rows_free(r);
    gt_db_close(db);
    free(buf);
    return 0;
}

START_TEST(one_mib_blob_and_text_round_trip)
{
    ck_assert_int_eq(run_main(t_large_values, NULL), 0);
}
END_TEST

/* Binary strings (charset 63) are blobs, DECIMAL is a double, dates are
 * text, and a BIGINT UNSIGNED above INT64_MAX keeps its digits. */
static int t_types(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_rows *r = NULL;

    (void)arg;
    ck_assert_int_eq(
        gt_db_query(db, &r,
                    "SELECT CAST(18446744073709551615 AS UNSIGNED), "
                    "CAST(1.25 AS DECIMAL(10,2)), DATE '2024-01-02', "
                    "TIMESTAMP '2024-01-02 03:04:05', CAST('ab' AS BINARY), "
                    "'h\xc3\xa9llo', NULL, CAST(-5 AS SIGNED)",
                    NULL, 0, gt_deadline_in(OPEN_MS)),
        1);
    ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_INT);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, NULL), "18446744073709551615");
    ck_assert_int_eq(gt_rows_type(r, 1), GT_DB_FLOAT);
    ck_assert(gt_rows_float(r, 0, 1) == 1.25);
    ck_assert_int_eq(gt_rows_type(r, 2), GT_DB_TEXT);
    ck_assert_str_eq(gt_rows_text(r, 0, 2, NULL), "2024-01-02");
    ck_assert_str_eq(gt_rows_text(r, 0, 3, NULL), "2024-01-02 03:04:05");
    ck_assert_int_eq(gt_rows_type(r, 4), GT_DB_BLOB);
    ck_assert_int_eq(gt_rows_type(r, 5), GT_DB_TEXT);
    ck_assert_str_eq(gt_rows_text(r, 0, 5, NULL), "h\xc3\xa9llo");
    ck_assert(gt_rows_isnull(r, 0, 6));
    ck_assert_int_eq(gt_rows_int(r, 0, 7), -5);
    gt_rows_free(r);
    gt_db_close(db);
    return 0;
}

START_TEST(mariadb_types_map_to_ours)
{
    ck_assert_int_eq(run_main(t_types, NULL), 0);
}
END_TEST

/* CLIENT_FOUND_ROWS: an UPDATE counts the rows it matched, as elsewhere. */
static int t_counts(void *arg)
{
    gt_db *db = open_db(NULL);

    (void)arg;
    exec_ok(db, "CREATE TEMPORARY TABLE gt_ids "
                "(id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
    exec_ok(db, "INSERT INTO gt_ids (v) VALUES (1)");
    exec_ok(db, "INSERT INTO gt_ids (v) VALUES (1)");
    ck_assert_int_eq(gt_db_last_insert_id(db), 2);
    ck_assert_int_eq(gt_db_exec(db, "UPDATE gt_ids SET v = 1", NULL, 0,
                                gt_deadline_in(OPEN_MS)),
                     2);
    ck_assert_int_eq(gt_db_changes(db), 2);
    gt_db_close(db);
    return 0;
}

START_TEST(update_counts_matched_rows)
{
    ck_assert_int_eq(run_main(t_counts, NULL), 0);
}
END_TEST

/* CALL returns a result set and then a status: the extra result must be
 * read, or the connection would be out of sync. The procedure is named
 * after the connection, so that parallel runs do not collide. */
static int t_call(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_rows *r = NULL;
    char create[160], call[64], drop[64];
    long long id = (long long)scalar(db, "SELECT CONNECTION_ID()");

    (void)arg;
    snprintf(create, sizeof(create),
             "CREATE PROCEDURE gt_proc_%lld() "
             "BEGIN SELECT 1 AS a UNION ALL SELECT 2; SELECT 3; END",
             id);
    snprintf(call, sizeof(call), "CALL gt_proc_%lld()", id);
    snprintf(drop, sizeof(drop), "DROP PROCEDURE gt_proc_%lld", id);
    exec_ok(db, create);
    ck_assert_int_eq(
        gt_db_query(db, &r, call, NULL, 0, gt_deadline_in(OPEN_MS)), 2);
    ck_assert_str_eq(gt_rows_name(r, 0), "a");
    ck_assert_int_eq(gt_rows_int(r, 1, 0), 2);
    gt_rows_free(r);
    ck_assert_int_eq(scalar(db, "SELECT 4"), 4);
    exec_ok(db, drop);
    gt_db_close(db);
    return 0;
}

START_TEST(call_skips_extra_results)
{
    ck_assert_int_eq(run_main(t_call, NULL), 0);
}
END_TEST

/* A batch repeating one SQL text (as /queries does), with another text
 * and another parameter type between: every answer in its place. The
 * lookup counts are checked on SQLite and PostgreSQL (test_db_batch.c);
 * MariaDB runs a batch statement by statement. */
static int t_repeated(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_value v[21];
    gt_db_stmt s[22];
    gt_rows *out[22];

    (void)arg;
    for (int i = 0; i < 20; i++) {
        v[i] = gt_db_int(100 + i);
        s[i] = (gt_db_stmt){"SELECT ? + 1", &v[i], 1};
    }
    v[20] = gt_db_text("7");
    s[20] = (gt_db_stmt){"SELECT ? * 2", &v[0], 1};
    s[21] = (gt_db_stmt){"SELECT ? + 1", &v[20], 1};
    ck_assert_int_eq(gt_db_batch(db, out, s, 22, gt_deadline_in(OPEN_MS)), 0);
    for (int i = 0; i < 22; i++) {
        ck_assert_int_eq(gt_rows_count(out[i]), 1);
        ck_assert_int_eq(gt_rows_int(out[i], 0, 0), i < 20    ? 101 + i
                                                    : i == 20 ? 200
                                                              : 8);
        gt_rows_free(out[i]);
    }
    gt_db_close(db);
    return 0;
}

START_TEST(a_batch_repeating_its_sql_gets_every_answer)
{
    ck_assert_int_eq(run_main(t_repeated, NULL), 0);
}
END_TEST

void add_db_mysql_tests(Suite *s)
{
    TCase *tc = tcase_create("mysql");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bad_password_is_1045_28000);
    tcase_add_test(tc, unknown_database_is_42000);
    tcase_add_test(tc, closed_port_is_econnrefused);
    tcase_add_test(tc, silent_server_times_out);
    tcase_add_test(tc, cancel_kills_the_query_on_the_server);
    tcase_add_test(tc, deadline_kills_the_query_and_leaves_it_clean);
    tcase_add_test(tc, coroutine_deadline_kills_the_query_too);
    tcase_add_test(tc, cancelled_before_the_call_never_leaves_it_dirty);
    tcase_add_test(tc, killed_connection_in_a_transaction_is_broken);
    tcase_add_test(tc, connection_killed_mid_query_is_broken);
    tcase_add_test(tc, statement_cache_evicts_and_closes_on_the_server);
    tcase_add_test(tc, reset_drops_temp_tables_variables_and_statements);
    tcase_add_test(tc, one_mib_blob_and_text_round_trip);
    tcase_add_test(tc, mariadb_types_map_to_ours);
    tcase_add_test(tc, update_counts_matched_rows);
    tcase_add_test(tc, call_skips_extra_results);
    tcase_add_test(tc, a_batch_repeating_its_sql_gets_every_answer);
    suite_add_tcase(s, tc);
}
