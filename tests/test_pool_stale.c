/* tests/test_pool_stale.c -- idle connections that the server dropped
 * (pg_terminate_backend, KILL: what a restart, a failover or a proxy's
 * idle cut does to them) are found before a request gets one: every
 * request after the kill succeeds. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

enum { MAX_OPEN = 4, REQUESTS = 100 };

static const char *kill_sql(void)
{
    return strcmp(backend, "postgres") == 0
               ? "SELECT count(pg_terminate_backend(pid)) FROM "
                 "pg_stat_activity WHERE application_name LIKE "
                 "'gt_pool_test_%'"
               : NULL;
}

/* MariaDB has no KILL for a set: kill each of our sessions by id. */
static void kill_mysql_sessions(gt_db *probe)
{
    gt_rows *r;
    char sql[64];
    int n = gt_db_query(probe, &r,
                        "SELECT id FROM information_schema."
                        "processlist WHERE user = 'greentor' AND id <> "
                        "CONNECTION_ID()",
                        NULL, 0, GT_NEVER);

    ck_assert_int_ge(n, 0);
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof(sql), "KILL %lld",
                 (long long)gt_rows_int(r, i, 0));
        exec_ok(probe, sql);
    }
    gt_rows_free(r);
}

/* Drop every session of the pool from the server side, and wait until
 * the server has really closed them (a kill is asynchronous). */
static void kill_pool_sessions(void)
{
    gt_db *probe;

    ck_assert_int_eq(gt_db_open(&probe, base_url(), GT_NEVER), 0);
    if (kill_sql())
        exec_ok(probe, kill_sql());
    else
        kill_mysql_sessions(probe);
    ck_assert_int_eq(wait_server_sessions(probe, 0), 0);
    gt_db_close(probe);
}

static int request(void *arg)
{
    gt_db *db;
    gt_rows *r;
    int rc = gt_pool_db(arg, &db);

    if (rc == 0)
        rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, GT_NEVER);
    if (rc != 1)
        return fprintf(stderr, "request: %d %s\n", rc,
                       rc == GT_EPOOL ? gt_pool_errmsg(arg) : gt_db_errmsg(db)),
               -1;
    gt_rows_free(r);
    return 0;
}

/* REQUESTS requests, MAX_OPEN at a time; returns how many succeeded. */
static int run_requests(gt_pool *p)
{
    gt_co *co[MAX_OPEN];
    int ok = 0, res;

    for (int done = 0; done < REQUESTS; done += MAX_OPEN) {
        for (int i = 0; i < MAX_OPEN; i++)
            ck_assert_int_eq(gt_co_spawn(&co[i], request, p), 0);
        for (int i = 0; i < MAX_OPEN; i++) {
            ck_assert_int_eq(gt_co_join(co[i], &res, GT_NEVER), 0);
            ok += res == 0;
        }
    }
    return ok;
}

static int t_stale(void *arg)
{
    /* validate_idle_ms is large so the ping on take cannot be what saves
     * the requests: only the liveness peek can. */
    gt_pool *p = make_pool("max_open=4&validate_idle_ms=600000");
    gt_pool_stats st;

    (void)arg;
    ck_assert_int_eq(run_requests(p), REQUESTS); /* all four open, idle */
    gt_pool_get_stats(p, &st);
    ck_assert_int_eq(st.idle, MAX_OPEN);
    kill_pool_sessions();
    ck_assert_int_eq(run_requests(p), REQUESTS);
    gt_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.discarded_dead, MAX_OPEN);
    ck_assert_uint_eq(st.opened, 2 * MAX_OPEN);
    return 0;
}

START_TEST(requests_after_the_server_dropped_idle_connections_all_succeed)
{
    ck_assert_int_eq(run_pool_test(t_stale, 1), 0);
}
END_TEST

void add_pool_stale_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    TCase *tc = tcase_create(pg ? "pool_stale_postgres" : "pool_stale_mysql");

    tcase_set_timeout(tc, 60);
    use_backend_of(tc, which);
    tcase_add_test(
        tc, requests_after_the_server_dropped_idle_connections_all_succeed);
    suite_add_tcase(s, tc);
}
