/* tests/test_db_pg.c -- what is PostgreSQL-specific in the pg driver, on a
 * real server (scripts/db.sh; GT_TEST_PG_URL): connect errors with their
 * SQLSTATE, '?' to $n in real queries, PostgreSQL's types, server-side
 * cancellation on timeout and on coroutine cancel, pipelined batches,
 * statement-cache eviction and lazy DEALLOCATE, DISCARD ALL, and a backend
 * killed under a connection. The behaviours every backend shares are in
 * test_db_shared.c.
 *
 * Server-side effects are observed from a second connection through
 * pg_stat_activity and pg_prepared_statements. Bounds on elapsed time are
 * loose (seconds against a 30 s query) so that they prove the mechanism
 * without being timing thresholds. */
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

/* ---- helpers ------------------------------------------------------------- */

typedef struct url_parts {
    char user[64], pass[64], host[128], port[16], db[64];
} url_parts;

static const char *pg_url(void)
{
    const char *u = getenv("GT_TEST_PG_URL");

    if (!u || !*u)
        ck_abort_msg("GT_TEST_PG_URL is not set: run `bash scripts/db.sh "
                     "start` then `eval \"$(bash scripts/db.sh env)\"`");
    return u;
}

static void split_url(url_parts *p)
{
    const char *u = strstr(pg_url(), "://");

    ck_assert_msg(u && sscanf(u + 3,
                              "%63[^:@]:%63[^@]@%127[^:/]:%15[^/]/"
                              "%63[^?]",
                              p->user, p->pass, p->host, p->port, p->db) == 5,
                  "GT_TEST_PG_URL must be postgres://user:pass@host:port/db");
}

static void make_url(char *buf, size_t n, const char *pass, const char *host,
                     const char *port, const char *db, const char *opts)
{
    url_parts p;

    split_url(&p);
    snprintf(buf, n, "postgres://%s:%s@%s:%s/%s%s%s", p.user,
             pass ? pass : p.pass, host ? host : p.host, port ? port : p.port,
             db ? db : p.db, opts ? "?" : "", opts ? opts : "");
}

static gt_db *open_db(const char *opts)
{
    char url[512];
    gt_db *db = NULL;
    int rc;

    make_url(url, sizeof(url), NULL, NULL, NULL, NULL, opts);
    rc = gt_db_open(&db, url, gt_deadline_in(10000));
    ck_assert_msg(rc == 0, "open %s: %d %s", url, rc,
                  db ? gt_db_errmsg(db) : "");
    return db;
}

/* The single integer a query returns. */
static int64_t one_int(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    gt_rows *r = NULL;
    int64_t v;
    int rc = gt_db_query(db, &r, sql, p, n, gt_deadline_in(10000));

    ck_assert_msg(rc == 1, "%s: %d %s", sql, rc, gt_db_errmsg(db));
    v = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return v;
}

static int backend_pid(gt_db *db)
{
    return (int)one_int(db, "SELECT pg_backend_pid()", NULL, 0);
}

/* Whether backend 'pid' is running a query, seen from 'watch'. */
static int is_active(gt_db *watch, int pid)
{
    gt_db_value p = gt_db_int(pid);

    return one_int(watch,
                   "SELECT count(*) FROM pg_stat_activity WHERE pid = ? "
                   "AND state = 'active'",
                   &p, 1) > 0;
}

/* Poll until backend 'pid' is (or is no longer) running a query; returns
 * the ms it took. Fails after 10 s. */
static int64_t wait_active(gt_db *watch, int pid, int want)
{
    int64_t t0 = gt_now();

    for (;;) {
        if (is_active(watch, pid) == (want != 0))
            return gt_now() - t0;
        ck_assert_msg(gt_now() - t0 < 10000, "backend %d still %s", pid,
                      want ? "idle" : "active");
        ck_assert_int_eq(gt_sleep(20), 0);
    }
}

static int64_t prepared_count(gt_db *db)
{
    return one_int(db, "SELECT count(*) FROM pg_prepared_statements", NULL, 0);
}

static int in_tx(gt_db *db)
{
    return db->drv->in_tx(db);
}

/* A TCP port on 127.0.0.1: listening (and never answering) when 'keep',
 * else closed again, so that connecting there is refused. */
static int local_port(int keep, int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(s, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s, 8), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    if (keep)
        *fd = s;
    else
        close(s);
    return ntohs(a.sin_port);
}

/* ---- connecting ---------------------------------------------------------- */

static void expect_open_error(const char *url, int want, const char *state,
                              const char *text)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == want, "%s: got %d (%s)", url, rc,
                  db ? gt_db_errmsg(db) : "no handle");
    ck_assert_ptr_nonnull(db); /* the handle carries the message */
    ck_assert_str_eq(gt_db_sqlstate(db), state);
    ck_assert_msg(strstr(gt_db_errmsg(db), text), "message: %s",
                  gt_db_errmsg(db));
    gt_db_close(db);
}

static int t_connect_errors(void *arg)
{
    char url[512], port[16];
    int fd;

    (void)arg;
    make_url(url, sizeof(url), "wrong-password", NULL, NULL, NULL, NULL);
    expect_open_error(url, GT_EDB, "28P01", "password authentication");
    make_url(url, sizeof(url), NULL, NULL, NULL, "gt_no_such_db", NULL);
    expect_open_error(url, GT_EDB, "3D000", "gt_no_such_db");
    snprintf(port, sizeof(port), "%d", local_port(0, &fd));
    make_url(url, sizeof(url), NULL, "127.0.0.1", port, NULL, NULL);
    expect_open_error(url, -ECONNREFUSED, "", "refused");
    return 0;
}

START_TEST(connect_errors_carry_sqlstate)
{
    ck_assert_int_eq(run_main(t_connect_errors, NULL), 0);
}
END_TEST

/* A server that accepts the TCP connection and never says a word: only our
 * own deadline can end the connect (libpq ignores connect_timeout here). */
static int t_connect_timeout(void *arg)
{
    char url[512], port[16];
    gt_db *db = NULL;
    int64_t t0;
    int fd, rc;

    (void)arg;
    snprintf(port, sizeof(port), "%d", local_port(1, &fd));
    make_url(url, sizeof(url), NULL, "127.0.0.1", port, NULL, NULL);
    t0 = gt_now();
    rc = gt_db_open(&db, url, gt_deadline_in(300));
    ck_assert_int_eq(rc, -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, 5000);
    ck_assert_ptr_nonnull(db);
    ck_assert_str_ne(gt_db_errmsg(db), "");
    gt_db_close(db);
    close(fd);
    return 0;
}

START_TEST(connect_timeout_is_enforced_by_us)
{
    ck_assert_int_eq(run_main(t_connect_timeout, NULL), 0);
}
END_TEST

/* "localhost" goes through our thread-pool lookup and libpq's hostaddr. */
static int t_connect_by_name(void *arg)
{
    char url[512];
    gt_db *db = NULL;
    int rc;

    (void)arg;
    make_url(url, sizeof(url), NULL, "localhost", NULL, NULL, NULL);
    rc = gt_db_open(&db, url, gt_deadline_in(10000));
    ck_assert_msg(rc == 0, "%d %s", rc, db ? gt_db_errmsg(db) : "");
    ck_assert_str_eq(gt_db_backend(db), "postgres");
    ck_assert_int_eq(gt_db_ping(db, gt_deadline_in(5000)), 0);
    ck_assert_int_eq(one_int(db, "SELECT 41 + 1", NULL, 0), 42);
    gt_db_close(db);
    return 0;
}

START_TEST(connect_by_host_name)
{
    ck_assert_int_eq(run_main(t_connect_by_name, NULL), 0);
}
END_TEST

/* ---- SQL and types ------------------------------------------------------- */

static int t_placeholders(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_value p[3] = {gt_db_int(2), gt_db_int(3), gt_db_text("a")};
    gt_rows *r = NULL;

    (void)arg;
    ck_assert_int_eq(gt_db_query(db, &r,
                                 "SELECT ? + ? AS sum, '?' AS lit, "
                                 "? || '?' AS cat /* ? */, $$?$$ AS dq",
                                 p, 3, GT_NEVER),
                     1);
    ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_INT);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 5);
    ck_assert_str_eq(gt_rows_text(r, 0, 1, NULL), "?");
    ck_assert_str_eq(gt_rows_text(r, 0, 2, NULL), "a?");
    ck_assert_str_eq(gt_rows_text(r, 0, 3, NULL), "?");
    ck_assert_str_eq(gt_rows_name(r, 2), "cat");
    gt_rows_free(r);
    /* Placeholders and parameters must agree; the connection survives. */
    ck_assert_int_eq(gt_db_exec(db, "SELECT ?", p, 2, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_db_broken(db), 0);
    ck_assert_int_eq(one_int(db, "SELECT 7", NULL, 0), 7);
    gt_db_close(db);
    return 0;
}

START_TEST(question_marks_become_dollar_params)
{
    ck_assert_int_eq(run_main(t_placeholders, NULL), 0);
}
END_TEST

static int t_types(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_rows *r = NULL;
    size_t n;

    (void)arg;
    ck_assert_int_eq(gt_db_query(db, &r,
                                 "SELECT 1::int2, 2::int4, 3::int8, 4::oid, "
                                 "true, false, 1.5::float4, 2.25::float8, "
                                 "3.125::numeric, '\\x00ff'::bytea, "
                                 "NULL::int, '2024-01-02'::date",
                                 NULL, 0, GT_NEVER),
                     1);
    for (int c = 0; c < 6; c++)
        ck_assert_int_eq(gt_rows_type(r, c), GT_DB_INT);
    ck_assert_int_eq(gt_rows_int(r, 0, 3), 4);
    ck_assert_int_eq(gt_rows_int(r, 0, 4), 1);
    ck_assert_int_eq(gt_rows_int(r, 0, 5), 0);
    ck_assert_int_eq(gt_rows_type(r, 8), GT_DB_FLOAT);
    ck_assert_double_eq(gt_rows_float(r, 0, 8), 3.125);
    ck_assert_int_eq(gt_rows_type(r, 9), GT_DB_BLOB);
    ck_assert_mem_eq(gt_rows_blob(r, 0, 9, &n), "\x00\xff", 2);
    ck_assert_int_eq(n, 2);
    ck_assert(gt_rows_isnull(r, 0, 10));
    ck_assert_int_eq(gt_rows_type(r, 11), GT_DB_TEXT);
    ck_assert_str_eq(gt_rows_text(r, 0, 11, NULL), "2024-01-02");
    gt_rows_free(r);
    gt_db_close(db);
    return 0;
}

START_TEST(postgres_types_map_to_ours)
{
    ck_assert_int_eq(run_main(t_types, NULL), 0);
}
END_TEST

static int t_param_types(void *arg)
{
    static const unsigned char bin[] = {0, 1, 0xff, '\\', 'x', 0};
    gt_db *db = open_db(NULL);
    gt_rows *r = NULL;
    size_t n;

    (void)arg;
    /* Integers are int4 or int8 by value, so the same SQL is prepared once
     * per type signature and both work; blobs round-trip binary. */
    gt_db_value p[3] = {gt_db_int(5), gt_db_blob(bin, sizeof(bin)),
                        gt_db_textn("2024-02-03xyz", 10)};
    ck_assert_int_eq(one_int(db, "SELECT ? + 1", p, 1), 6);
    p[0] = gt_db_int(5000000000LL);
    ck_assert_int_eq(one_int(db, "SELECT ? + 1", p, 1), 5000000001LL);
    /* Text goes as "unknown": here the server infers a date from it. */
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT ?, ? = DATE '2024-02-03'",
                                 p + 1, 2, GT_NEVER),
                     1);
    ck_assert_mem_eq(gt_rows_blob(r, 0, 0, &n), bin, sizeof(bin));
    ck_assert_int_eq(n, sizeof(bin));
    ck_assert_int_eq(gt_rows_int(r, 0, 1), 1);
    gt_rows_free(r);
    /* Text cannot hold NUL in PostgreSQL: refused before sending. */
    p[0] = gt_db_textn("a\0b", 3);
    ck_assert_int_eq(gt_db_exec(db, "SELECT ?", p, 1, GT_NEVER), -EINVAL);
    ck_assert_int_eq(one_int(db, "SELECT 1", NULL, 0), 1);
    gt_db_close(db);
    return 0;
}

START_TEST(parameters_are_typed_for_the_server)
{
    ck_assert_int_eq(run_main(t_param_types, NULL), 0);
}
END_TEST

/* ---- deadlines and cancellation ------------------------------------------ */

typedef struct victim {
    gt_db *db;
    int64_t deadline; /* the coroutine's own, or GT_NEVER */
} victim;

static int sleep_30s(void *arg)
{
    victim *v = arg;

    if (v->deadline != GT_NEVER)
        gt_co_set_deadline(gt_co_self(), v->deadline);
    return (int)gt_db_exec(v->db, "SELECT pg_sleep(30)", NULL, 0, GT_NEVER);
}

/* A cancelled coroutine can wait for nothing: its call returns at once and
 * the cancel still reaches the server. The victim stays open meanwhile,
 * so it is the cancel, not a close, that stops the query; the connection
 * is then settled by its next use, and kept. */
static int t_cancel(void *arg)
{
    gt_db *watch = open_db(NULL);
    victim v = {.db = open_db(NULL), .deadline = GT_NEVER};
    int pid = backend_pid(v.db), rc;
    gt_db_stats before, after;
    gt_co *co;

    (void)arg;
    gt_db_get_stats(&before);
    ck_assert_int_eq(gt_co_spawn(&co, sleep_30s, &v), 0);
    wait_active(watch, pid, 1);
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    wait_active(watch, pid, 0);
    ck_assert_int_eq(one_int(v.db, "SELECT 1", NULL, 0), 1);
    ck_assert_int_eq(gt_db_broken(v.db), 0);
    ck_assert_int_eq(backend_pid(v.db), pid); /* the same session */
    gt_db_get_stats(&after);
    ck_assert_uint_eq(after.cancels_sent, before.cancels_sent + 1);
    ck_assert_uint_eq(after.interrupted_kept, before.interrupted_kept + 1);
    gt_db_close(v.db);
    gt_db_close(watch);
    return 0;
}

START_TEST(cancelled_coroutine_stops_the_server_query)
{
    ck_assert_int_eq(run_main(t_cancel, NULL), 0);
}
END_TEST

/* The call's own deadline: the call fails at once, the query is cancelled,
 * and the next use finds the connection clean. */
static int t_timeout(void *arg)
{
    gt_db *watch = open_db(NULL), *db = open_db(NULL);
    int pid = backend_pid(db);
    int64_t t0 = gt_now(), rc;

    (void)arg;
    rc = gt_db_exec(db, "SELECT pg_sleep(30)", NULL, 0, gt_deadline_in(300));
    ck_assert_int_eq(rc, -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, 5000);
    ck_assert_int_eq(gt_db_broken(db), 0);
    /* Not wound down yet: counts as maybe inside a transaction. */
    ck_assert_int_ne(in_tx(db), 0);
    wait_active(watch, pid, 0); /* the cancel stopped it */
    ck_assert_int_eq(one_int(db, "SELECT 1", NULL, 0), 1);
    ck_assert_int_eq(in_tx(db), 0);
    /* The same inside a transaction: clean protocol-wise, transaction
     * aborted on the server, which a ROLLBACK ends. */
    ck_assert_int_eq(gt_db_exec(db, "BEGIN", NULL, 0, GT_NEVER), 0);
    rc = gt_db_exec(db, "SELECT pg_sleep(30)", NULL, 0, gt_deadline_in(200));
    ck_assert_int_eq(rc, -ETIMEDOUT);
    ck_assert_int_eq(gt_db_broken(db), 0);
    ck_assert_int_ne(in_tx(db), 0);
    ck_assert_int_eq(gt_db_exec(db, "ROLLBACK", NULL, 0, GT_NEVER), 0);
    ck_assert_int_eq(one_int(db, "SELECT 2", NULL, 0), 2);
    ck_assert_int_eq(backend_pid(db), pid);
    gt_db_close(db);
    gt_db_close(watch);
    return 0;
}

START_TEST(timeout_cancels_and_keeps_the_connection_clean)
{
    ck_assert_int_eq(run_main(t_timeout, NULL), 0);
}
END_TEST

/* Past its own deadline a coroutine cannot wait either: the call fails at
 * its deadline, the cancel is delivered by its thread, and another
 * coroutine can go on with the connection. */
static int t_own_deadline(void *arg)
{
    gt_db *watch = open_db(NULL);
    victim v = {.db = open_db(NULL)};
    int pid = backend_pid(v.db), rc;
    gt_co *co;

    (void)arg;
    v.deadline = gt_deadline_in(300);
    ck_assert_int_eq(gt_co_spawn(&co, sleep_30s, &v), 0);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ETIMEDOUT);
    wait_active(watch, pid, 0);
    ck_assert_int_eq(one_int(v.db, "SELECT 1", NULL, 0), 1);
    ck_assert_int_eq(gt_db_broken(v.db), 0);
    gt_db_close(v.db);
    gt_db_close(watch);
    return 0;
}

START_TEST(coroutine_deadline_fails_at_once_and_still_cancels)
{
    ck_assert_int_eq(run_main(t_own_deadline, NULL), 0);
}
END_TEST

/* ---- pipelined batches --------------------------------------------------- */

static int t_batch20(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_value v[20];
    gt_db_stmt s[20];
    gt_rows *out[20];

    (void)arg;
    for (int i = 0; i < 20; i++) {
        v[i] = gt_db_int(i);
        s[i] = (gt_db_stmt){"SELECT ? * 2 AS twice", &v[i], 1};
    }
    ck_assert_int_eq(gt_db_batch(db, out, s, 20, gt_deadline_in(10000)), 0);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(gt_rows_count(out[i]), 1);
        ck_assert_int_eq(gt_rows_int(out[i], 0, 0), 2 * i);
        gt_rows_free(out[i]);
    }
    /* One Parse served all twenty: the batch's statement and this one. */
    ck_assert_int_eq(prepared_count(db), 2);
    gt_db_close(db);
    return 0;
}

/* The server holds back a pipeline's results until its Sync, so nothing
 * of an interrupted batch is kept; the drain leaves it clean. */
static int t_batch_timeout(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_stmt s[3] = {{"SELECT 1", NULL, 0},
                       {"SELECT pg_sleep(30)", NULL, 0},
                       {"SELECT 3", NULL, 0}};
    gt_rows *out[3];
    int64_t t0 = gt_now();

    (void)arg;
    ck_assert_int_eq(gt_db_batch(db, out, s, 3, gt_deadline_in(300)),
                     -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, 5000);
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_null(out[i]);
    ck_assert_int_eq(gt_db_broken(db), 0);
    ck_assert_int_eq(gt_db_batch(db, out, s, 1, GT_NEVER), 0);
    ck_assert_int_eq(gt_rows_int(out[0], 0, 0), 1);
    gt_rows_free(out[0]);
    ck_assert_int_eq(in_tx(db), 0);
    gt_db_close(db);
    return 0;
}

START_TEST(batch_timeout_drains_the_pipeline)
{
    ck_assert_int_eq(run_main(t_batch_timeout, NULL), 0);
}
END_TEST

/* Parameters and results bigger than the socket buffers: the flush waits
 * for room, and takes in results meanwhile so that neither side blocks. */
static int t_large(void *arg)
{
    enum { N = 8, SIZE = 1 << 20 };
    gt_db *db = open_db(NULL);
    unsigned char *big = malloc(SIZE);
    gt_db_value v = gt_db_blob(big, SIZE);
    gt_db_stmt s[N];
    gt_rows *out[N];
    size_t n;

    (void)arg;
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < SIZE; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 12));
    for (int i = 0; i < N; i++)
        s[i] = (gt_db_stmt){"SELECT ?", &v, 1};
    ck_assert_int_eq(gt_db_batch(db, out, s, N, GT_NEVER), 0);
    for (int i = 0; i < N; i++) {
        ck_assert_mem_eq(gt_rows_blob(out[i], 0, 0, &n), big, SIZE);
        ck_assert_int_eq(n, SIZE);
        gt_rows_free(out[i]);
    }
    memset(big, 'a', SIZE);
    v = gt_db_textn((const char *)big, SIZE);
    ck_assert_int_eq(one_int(db, "SELECT length(?)", &v, 1), SIZE);
    free(big);
    gt_db_close(db);
    return 0;
}

START_TEST(large_values_stream_both_ways)
{
    ck_assert_int_eq(run_main(t_large, NULL), 0);
}
END_TEST

START_TEST(batch_of_twenty_in_one_round_trip)
{
    ck_assert_int_eq(run_main(t_batch20, NULL), 0);
}
END_TEST

static void run_failing_batch(gt_db *db, const char *bad, const char *state)
{
    gt_db_stmt s[3] = {
        {"SELECT 1", NULL, 0}, {bad, NULL, 0}, {"SELECT 3", NULL, 0}};
    gt_rows *out[3];

    ck_assert_int_eq(gt_db_batch(db, out, s, 3, GT_NEVER), GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), state);
    ck_assert_ptr_nonnull(out[0]);
    ck_assert_int_eq(gt_rows_int(out[0], 0, 0), 1);
    ck_assert_ptr_null(out[1]);
    ck_assert_ptr_null(out[2]);
    gt_rows_free(out[0]);
    ck_assert_int_eq(gt_db_broken(db), 0);
    ck_assert_int_eq(in_tx(db), 0);
    ck_assert_int_eq(one_int(db, "SELECT 1", NULL, 0), 1);
}

static int t_batch_error(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_stmt s[2] = {{"INSERT INTO gt_pg_batch VALUES (1)", NULL, 0},
                       {"SELECT 1/0", NULL, 0}};
    gt_rows *out[2];

    (void)arg;
    run_failing_batch(db, "SELECT 1/0", "22012"); /* fails at Execute */
    run_failing_batch(db, "SELEC 2", "42601");    /* fails at Parse */
    run_failing_batch(db, "SELEC 2", "42601");    /* ... not cached */
    /* Outside BEGIN a batch is one implicit transaction: all or nothing. */
    ck_assert_int_eq(gt_db_exec(db, "CREATE TEMP TABLE gt_pg_batch (x int)",
                                NULL, 0, GT_NEVER),
                     0);
    ck_assert_int_eq(gt_db_batch(db, out, s, 2, GT_NEVER), GT_EDB);
    gt_rows_free(out[0]);
    ck_assert_int_eq(one_int(db, "SELECT count(*) FROM gt_pg_batch", NULL, 0),
                     0);
    gt_db_close(db);
    return 0;
}

START_TEST(batch_error_in_the_middle)
{
    ck_assert_int_eq(run_main(t_batch_error, NULL), 0);
}
END_TEST

static void same_rows(const gt_rows *a, const gt_rows *b)
{
    size_t na, nb;

    ck_assert_int_eq(gt_rows_count(a), gt_rows_count(b));
    ck_assert_int_eq(gt_rows_columns(a), gt_rows_columns(b));
    for (int row = 0; row < gt_rows_count(a); row++)
        for (int c = 0; c < gt_rows_columns(a); c++) {
            ck_assert_int_eq(gt_rows_type(a, c), gt_rows_type(b, c));
            ck_assert_int_eq(gt_rows_isnull(a, row, c),
                             gt_rows_isnull(b, row, c));
            gt_rows_blob(a, row, c, &na);
            gt_rows_blob(b, row, c, &nb);
            ck_assert_int_eq(na, nb);
            ck_assert_mem_eq(gt_rows_blob(a, row, c, NULL),
                             gt_rows_blob(b, row, c, NULL), na);
            ck_assert_int_eq(gt_rows_int(a, row, c), gt_rows_int(b, row, c));
        }
}

static int t_batch_vs_seq(void *arg)
{
    gt_db *db = open_db(NULL);
    gt_db_value p[5] = {gt_db_int(-7), gt_db_float(0.1), gt_db_text("héllo"),
                        gt_db_blob("\0z", 2), gt_db_null()};
    gt_db_value five = gt_db_int(5);
    gt_db_stmt s[4] = {
        {"SELECT ? AS i, ? AS f, ? AS t, ? AS b, ? AS n", p, 5},
        {"SELECT n, n * 1.5 AS f FROM generate_series(1, ?) AS n", &five, 1},
        {"SELECT true AS t, 'x'::bytea AS b, NULL::text AS n", NULL, 0},
        {"SELECT ? AS i, ? AS f, ? AS t, ? AS b, ? AS n", p, 5},
    };
    gt_rows *piped[4], *seq;

    (void)arg;
    ck_assert_int_eq(gt_db_batch(db, piped, s, 4, GT_NEVER), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_ge(gt_db_query(db, &seq, s[i].sql, s[i].params,
                                     s[i].nparams, GT_NEVER),
                         1);
        same_rows(piped[i], seq);
        gt_rows_free(seq);
        gt_rows_free(piped[i]);
    }
    gt_db_close(db);
    return 0;
}

START_TEST(pipelined_and_sequential_agree)
{
    ck_assert_int_eq(run_main(t_batch_vs_seq, NULL), 0);
}
END_TEST

/* ---- the statement cache ------------------------------------------------- */

static void cycle(gt_db *db, int rounds)
{
    static const char *const sql[5] = {"SELECT ? + 1", "SELECT ? + 2",
                                       "SELECT ? + 3", "SELECT ? + 4",
                                       "SELECT ? + 5"};

    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < 5; i++) {
            gt_db_value v = gt_db_int(10 * r);
            ck_assert_int_eq(one_int(db, sql[i], &v, 1), 10 * r + i + 1);
        }
}

/* With room for two, five statements cycled: always re-prepared, always
 * right, and the evicted ones are DEALLOCATEd -- lazily, in the next round
 * trip, and never inside a transaction block. */
static int t_cache(void *arg)
{
    gt_db *db = open_db("stmt_cache=2");

    (void)arg;
    cycle(db, 3);
    ck_assert_int_eq(prepared_count(db), 2);
    ck_assert_int_eq(gt_db_exec(db, "BEGIN", NULL, 0, GT_NEVER), 0);
    cycle(db, 1);
    ck_assert_int_gt(prepared_count(db), 2);
    ck_assert_int_eq(gt_db_exec(db, "COMMIT", NULL, 0, GT_NEVER), 0);
    ck_assert_int_eq(prepared_count(db), 2);
    gt_db_close(db);
    /* stmt_cache=0: the unnamed statement, nothing left on the server. */
    db = open_db("stmt_cache=0");
    cycle(db, 2);
    ck_assert_int_eq(prepared_count(db), 0);
    gt_db_close(db);
    return 0;
}

START_TEST(statement_cache_evicts_and_deallocates)
{
    ck_assert_int_eq(run_main(t_cache, NULL), 0);
}
END_TEST

static int t_cache_batch(void *arg)
{
    gt_db *db = open_db("stmt_cache=2");

    (void)arg;
    /* Evicted inside a batch while an earlier statement of the same
     * pipeline still uses it: its DEALLOCATE waits for the next trip. */
    gt_db_value v[5] = {gt_db_int(1), gt_db_int(2), gt_db_int(3), gt_db_int(4),
                        gt_db_int(5)};
    gt_db_stmt s[5] = {{"SELECT ? + 10", &v[0], 1},
                       {"SELECT ? + 20", &v[1], 1},
                       {"SELECT ? + 10", &v[2], 1},
                       {"SELECT ? + 30", &v[3], 1},
                       {"SELECT ? + 40", &v[4], 1}};
    static const int want[5] = {11, 22, 13, 34, 45};
    gt_rows *out[5];

    ck_assert_int_eq(gt_db_batch(db, out, s, 5, GT_NEVER), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gt_rows_int(out[i], 0, 0), want[i]);
        gt_rows_free(out[i]);
    }
    ck_assert_int_eq(prepared_count(db), 2);
    /* DEALLOCATE ALL behind the cache's back costs one 26000 on a cached
     * statement, which is then prepared afresh. */
    ck_assert_int_eq(gt_db_exec(db, "DEALLOCATE ALL", NULL, 0, GT_NEVER), 0);
    ck_assert_int_eq(gt_db_exec(db,
                                "SELECT count(*) FROM pg_prepared_statements",
                                NULL, 0, GT_NEVER),
                     GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), "26000");
    ck_assert_int_eq(prepared_count(db), 1);
    gt_db_close(db);
    return 0;
}

START_TEST(statement_cache_under_batches_and_hand_deallocate)
{
    ck_assert_int_eq(run_main(t_cache_batch, NULL), 0);
}
END_TEST

static int t_reset(void *arg)
{
    gt_db *db = open_db(NULL);

    (void)arg;
    ck_assert_int_eq(gt_db_exec(db, "CREATE TEMP TABLE gt_pg_tmp (x int)", NULL,
                                0, GT_NEVER),
                     0);
    ck_assert_int_eq(gt_db_exec(db, "INSERT INTO gt_pg_tmp VALUES (1), (2)",
                                NULL, 0, GT_NEVER),
                     2);
    ck_assert_int_eq(gt_db_changes(db), 2);
    ck_assert_int_eq(one_int(db, "SELECT count(*) FROM gt_pg_tmp", NULL, 0), 2);
    ck_assert_int_eq(gt_db_exec(db, "BEGIN", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ne(in_tx(db), 0);
    ck_assert_int_eq(gt_db_reset(db, GT_NEVER), 0);
    ck_assert_int_eq(in_tx(db), 0);
    /* The temp table is gone, and so is the statement that read it: a stale
     * cache would have said 26000, not 42P01. */
    ck_assert_int_eq(
        gt_db_exec(db, "SELECT count(*) FROM gt_pg_tmp", NULL, 0, GT_NEVER),
        GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), "42P01");
    ck_assert_int_eq(prepared_count(db), 1);
    ck_assert_int_eq(gt_db_ping(db, GT_NEVER), 0);
    gt_db_close(db);
    return 0;
}

START_TEST(reset_discards_the_session)
{
    ck_assert_int_eq(run_main(t_reset, NULL), 0);
}
END_TEST

/* ---- a backend killed under the connection ------------------------------- */

static int t_killed(void *arg)
{
    gt_db *admin = open_db(NULL), *db = open_db(NULL);
    victim v = {.db = open_db(NULL), .deadline = GT_NEVER};
    gt_db_value pid = gt_db_int(backend_pid(db));
    gt_co *co;
    int rc;

    (void)arg;
    /* Idle in a transaction: the next call finds out (outside one, it
     * would reconnect: tests/test_db_redial.c). */
    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_int_eq(one_int(admin,
                             "SELECT pg_terminate_backend(?, 5000)"
                             "::int",
                             &pid, 1),
                     1);
    ck_assert_int_eq(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER),
                     -ECONNRESET);
    ck_assert_int_ne(gt_db_broken(db), 0);
    ck_assert_str_ne(gt_db_errmsg(db), "");
    ck_assert_int_eq(gt_db_ping(db, GT_NEVER), -ECONNRESET);
    gt_db_close(db);
    /* Mid-query. */
    pid = gt_db_int(backend_pid(v.db));
    ck_assert_int_eq(gt_co_spawn(&co, sleep_30s, &v), 0);
    wait_active(admin, (int)pid.u.i, 1);
    one_int(admin, "SELECT pg_terminate_backend(?, 5000)::int", &pid, 1);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECONNRESET);
    ck_assert_int_ne(gt_db_broken(v.db), 0);
    gt_db_close(v.db);
    gt_db_close(admin);
    return 0;
}

START_TEST(killed_backend_means_broken)
{
    ck_assert_int_eq(run_main(t_killed, NULL), 0);
}
END_TEST

void add_db_pg_tests(Suite *s)
{
    TCase *tc = tcase_create("pg");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, connect_errors_carry_sqlstate);
    tcase_add_test(tc, connect_timeout_is_enforced_by_us);
    tcase_add_test(tc, connect_by_host_name);
    tcase_add_test(tc, question_marks_become_dollar_params);
    tcase_add_test(tc, postgres_types_map_to_ours);
    tcase_add_test(tc, parameters_are_typed_for_the_server);
    tcase_add_test(tc, cancelled_coroutine_stops_the_server_query);
    tcase_add_test(tc, timeout_cancels_and_keeps_the_connection_clean);
    tcase_add_test(tc, coroutine_deadline_fails_at_once_and_still_cancels);
    tcase_add_test(tc, batch_of_twenty_in_one_round_trip);
    tcase_add_test(tc, batch_timeout_drains_the_pipeline);
    tcase_add_test(tc, large_values_stream_both_ways);
    tcase_add_test(tc, batch_error_in_the_middle);
    tcase_add_test(tc, pipelined_and_sequential_agree);
    tcase_add_test(tc, statement_cache_evicts_and_deallocates);
    tcase_add_test(tc, statement_cache_under_batches_and_hand_deallocate);
    tcase_add_test(tc, reset_discards_the_session);
    tcase_add_test(tc, killed_backend_means_broken);
    suite_add_tcase(s, tc);
}
