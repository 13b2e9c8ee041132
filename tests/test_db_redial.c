/* tests/test_db_redial.c -- a connection the server closed while it was
 * quiet is reconnected before the next statement is sent, when nothing is
 * lost by it; otherwise that statement fails as before. The server ends
 * the session itself (pg_terminate_backend, KILL), as a restart, a
 * failover or a proxy's idle cut would. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

static bool is_pg(void)
{
    return strcmp(backend, "postgres") == 0;
}

static int64_t session_id(gt_db *db)
{
    return query_int(db, is_pg() ? "SELECT pg_backend_pid()"
                                 : "SELECT CONNECTION_ID()");
}

/* End session 'id' from 'killer', then wait until 'victim' sees it: a
 * kill is asynchronous. The wait ends in a later loop tick than the
 * victim's last sign of life, so its next statement looks. */
static void kill_session(gt_db *killer, int64_t id, gt_db *victim)
{
    char sql[96];
    int i;

    snprintf(sql, sizeof(sql),
             is_pg() ? "SELECT pg_terminate_backend(%lld)" : "KILL %lld",
             (long long)id);
    exec_ok(killer, sql);
    for (i = 0; i < 500 && gt_db_alive(victim); i++)
        ck_assert_int_eq(gt_sleep(10), 0);
    ck_assert_msg(i < 500, "the server did not close session %lld",
                  (long long)id);
    ck_assert_int_eq(gt_sleep(2), 0);
}

static gt_db *open_ok(const char *url)
{
    gt_db *db;
    int rc = gt_db_open(&db, url, GT_NEVER);

    ck_assert_msg(rc == 0, "open: %d %s", rc, db ? gt_db_errmsg(db) : "");
    return db;
}

static const char *init_opt(void)
{
    return is_pg() ? "init=SET%20statement_timeout%3D12345"
                   : "init=SET%20SESSION%20wait_timeout%3D12345";
}

static int64_t init_setting(gt_db *db)
{
    return is_pg() ? query_int(db, "SELECT current_setting('statement_timeout'"
                                   ")::interval = '12345ms'::interval")
                   : query_int(db, "SELECT @@wait_timeout = 12345");
}

static int t_redialed(void *arg)
{
    gt_db *db = open_ok(url_with(init_opt())), *killer = open_ok(base_url());
    gt_db_value one = gt_db_int(7);
    gt_db_stats before, after;
    int64_t id = session_id(db);
    gt_rows *r;

    (void)arg;
    /* A cached prepared statement dies with its session: it must be
     * prepared again on the new one, not used. */
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT ? + 1", &one, 1, GT_NEVER), 1);
    gt_rows_free(r);
    gt_db_get_stats(&before);
    kill_session(killer, id, db);
    ck_assert_msg(gt_db_query(db, &r, "SELECT ? + 1", &one, 1, GT_NEVER) == 1,
                  "after the kill: %s", gt_db_errmsg(db));
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 8);
    gt_rows_free(r);
    gt_db_get_stats(&after);
    ck_assert_uint_eq(after.redials, before.redials + 1);
    ck_assert_uint_eq(after.redials_failed, before.redials_failed);
    ck_assert_int_ne(session_id(db), id);
    ck_assert_int_eq(init_setting(db), 1); /* the set-up ran again */
    ck_assert(!gt_db_broken(db));
    gt_db_close(db);
    gt_db_close(killer);
    return 0;
}

START_TEST(a_connection_closed_while_quiet_is_reconnected_before_the_statement)
{
    ck_assert_int_eq(run_pool_test(t_redialed, 1), 0);
}
END_TEST

/* Open a transaction (with_tx) or set session state, kill the session:
 * the next statement must fail, never run on a new session. */
static void lost_with_state(bool with_tx)
{
    gt_db *db = open_ok(url_with("stmt_cache=8")),
          *killer = open_ok(base_url());
    gt_db_stats before, after;
    int64_t id = session_id(db);
    int64_t rc;

    if (with_tx)
        ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    else
        exec_ok(db, is_pg() ? "SET work_mem = '8MB'" : "SET @gt_x = 1");
    gt_db_get_stats(&before);
    kill_session(killer, id, db);
    rc = gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER);
    gt_db_get_stats(&after);
    ck_assert_msg(rc < 0 && rc != GT_EDB, "%lld %s", (long long)rc,
                  gt_db_errmsg(db));
    ck_assert(gt_db_broken(db));
    ck_assert_uint_eq(after.redials, before.redials);
    ck_assert_uint_eq(after.redials_failed, before.redials_failed);
    gt_db_close(db);
    gt_db_close(killer);
}

static int t_in_tx(void *arg)
{
    (void)arg;
    lost_with_state(true);
    return 0;
}

static int t_dirty(void *arg)
{
    (void)arg;
    lost_with_state(false);
    return 0;
}

START_TEST(a_connection_closed_inside_a_transaction_fails_the_statement)
{
    ck_assert_int_eq(run_pool_test(t_in_tx, 1), 0);
}
END_TEST

START_TEST(a_connection_closed_with_session_state_fails_the_statement)
{
    ck_assert_int_eq(run_pool_test(t_dirty, 1), 0);
}
END_TEST

/* The database is full when the victim reconnects: the statement fails,
 * the connection is broken, and the error still says "full". */
static int t_redial_fails(void *arg)
{
    gt_db *victim = open_ok(capped_url(NULL)),
          *killer = open_ok(capped_url(NULL));
    gt_db *second = open_ok(capped_url(NULL)), *third = NULL;
    gt_db_stats before, after;
    int64_t rc;

    (void)arg;
    gt_db_get_stats(&before);
    kill_session(killer, session_id(victim), victim);
    /* Take the freed place; the server frees it a moment after the
     * socket closes. */
    for (int i = 0; i < 200 && gt_db_open(&third, capped_url(NULL), GT_NEVER);
         i++) {
        gt_db_close(third);
        third = NULL;
        ck_assert_int_eq(gt_sleep(10), 0);
    }
    ck_assert_ptr_nonnull(third);
    ck_assert_int_eq(gt_sleep(2), 0);
    rc = gt_db_exec(victim, "SELECT 1", NULL, 0, GT_NEVER);
    gt_db_get_stats(&after);
    ck_assert_msg(rc < 0, "%lld", (long long)rc);
    ck_assert(gt_db_broken(victim));
    ck_assert(gt_db_at_capacity(victim));
    ck_assert_ptr_nonnull(strstr(gt_db_errmsg(victim), "reconnecting failed"));
    ck_assert_uint_eq(after.redials_failed, before.redials_failed + 1);
    ck_assert_uint_eq(after.redials, before.redials);
    /* Broken for good: no second reconnect. */
    ck_assert_int_eq(gt_db_exec(victim, "SELECT 1", NULL, 0, GT_NEVER),
                     -ECONNRESET);
    gt_db_close(victim);
    gt_db_close(killer);
    gt_db_close(second);
    gt_db_close(third);
    return 0;
}

START_TEST(a_reconnect_refused_by_a_full_database_fails_and_breaks)
{
    ck_assert_int_eq(run_pool_test(t_redial_fails, 1), 0);
}
END_TEST

/* A request's connection, held across a quiet spell (other work between
 * statements), is found dead and replaced: the pool's slot is kept, and
 * the metrics count it. */
static int t_pooled(void *arg)
{
    gt_pool *p = make_pool("max_open=2");
    gt_db *db, *killer = open_ok(base_url());
    gt_pool_stats st;
    char *m;

    (void)arg;
    ck_assert_int_eq(gt_pool_db(p, &db), 0);
    kill_session(killer, session_id(db), db);
    ck_assert_msg(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER) >= 0, "%s",
                  gt_db_errmsg(db));
    gt_pool_db_release(p);
    wait_cleaned(p, &st);
    ck_assert_uint_eq(st.opened, 1);
    ck_assert_uint_eq(st.open, 1);
    ck_assert_uint_eq(st.idle, 1);
    m = gt_db_metrics_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(
        strstr(m, "greentor_db_redials_total{outcome=\"ok\"}"));
    free(m);
    gt_db_close(killer);
    return 0;
}

START_TEST(a_pooled_connection_closed_while_held_is_replaced_in_place)
{
    ck_assert_int_eq(run_pool_test(t_pooled, 1), 0);
}
END_TEST

void add_db_redial_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    TCase *tc = tcase_create(pg ? "db_redial_postgres" : "db_redial_mysql");

    tcase_set_timeout(tc, 60);
    use_backend_of(tc, which);
    tcase_add_test(
        tc,
        a_connection_closed_while_quiet_is_reconnected_before_the_statement);
    tcase_add_test(
        tc, a_connection_closed_inside_a_transaction_fails_the_statement);
    tcase_add_test(tc,
                   a_connection_closed_with_session_state_fails_the_statement);
    tcase_add_test(tc, a_reconnect_refused_by_a_full_database_fails_and_breaks);
    tcase_add_test(tc,
                   a_pooled_connection_closed_while_held_is_replaced_in_place);
    suite_add_tcase(s, tc);
}
