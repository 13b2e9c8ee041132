/* tests/test_pool_leaks.c -- capacity is never lost to a holder that
 * forgets: explicit acquisitions held past leak_reclaim_ms are taken back
 * (the server session ends, the slot returns, the holder's handle fails
 * clearly), and whatever is still held when the runtime stops is closed
 * properly -- MariaDB counts no aborted client. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

static bool has_server(void)
{
    return strcmp(backend, "sqlite") != 0;
}

/* The server's count of the pool's sessions once it has caught up with
 * the ones that ended (a session ends a moment after its socket does). */
static int64_t sessions_settled(int64_t want)
{
    gt_db *probe;
    int64_t n;

    ck_assert_int_eq(gt_db_open(&probe, base_url(), GT_NEVER), 0);
    n = wait_server_sessions(probe, want);
    gt_db_close(probe);
    return n;
}

static int t_reclaim(void *arg)
{
    gt_pool *p = make_pool("max_open=2&leak_reclaim_ms=200&"
                           "acquire_timeout_ms=10000");
    gt_db *leaked[2], *db;
    gt_pool_stats st;

    (void)arg;
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(gt_pool_acquire(p, &leaked[i], GT_NEVER), 0);
    /* The pool is dry until the maintenance round takes both back. */
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), 0);
    gt_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.leaks_reclaimed, 2);
    ck_assert_int_le(st.open, 2);
    /* The holder's next use fails, saying why and where it came from. */
    ck_assert_int_eq(gt_db_exec(leaked[0], "SELECT 1", NULL, 0, GT_NEVER),
                     -ECONNRESET);
    ck_assert_ptr_nonnull(strstr(gt_db_errmsg(leaked[0]), "leak_reclaim_ms"));
    ck_assert_ptr_nonnull(strstr(gt_db_errmsg(leaked[0]), "test_pool_leaks.c"));
    /* The server let go of the two sessions: only the new one is left. */
    if (has_server())
        ck_assert_int_eq(sessions_settled(1), 1);
    ck_assert_int_eq(gt_pool_release(p, db), 0);
    for (int i = 0; i < 2; i++) /* late, but allowed: frees the handle */
        ck_assert_int_eq(gt_pool_release(p, leaked[i]), 0);
    gt_pool_get_stats(p, &st);
    ck_assert_int_eq(st.in_use, 0);
    return 0;
}

START_TEST(leaked_acquisitions_are_taken_back_and_capacity_returns)
{
    ck_assert_int_eq(run_pool_test(t_reclaim, 1), 0);
}
END_TEST

static int64_t aborted_clients(void)
{
    gt_db *probe;
    gt_rows *r;
    int64_t n;

    ck_assert_int_eq(gt_db_open(&probe, base_url(), GT_NEVER), 0);
    ck_assert_int_eq(gt_db_query(probe, &r,
                                 "SELECT VARIABLE_VALUE FROM "
                                 "information_schema.global_status WHERE "
                                 "VARIABLE_NAME = 'ABORTED_CLIENTS'",
                                 NULL, 0, GT_NEVER),
                     1);
    n = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    gt_db_close(probe);
    return n;
}

static int t_leak_at_stop(void *arg)
{
    gt_pool *p = make_pool("max_open=2");
    gt_db *db;

    (void)arg;
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), 0);
    ck_assert_int_ge(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), 0);
    return 0; /* never released: the runtime's stop must close it */
}

static int count_sessions(void *arg)
{
    *(int64_t *)arg = sessions_settled(0);
    return 0;
}

static int aborted_now(void *arg)
{
    *(int64_t *)arg = aborted_clients();
    return 0;
}

START_TEST(a_connection_still_held_at_stop_is_closed_properly)
{
    int64_t before = 0, after = 0, left = -1;
    bool my = strcmp(backend, "mysql") == 0;

    if (my)
        ck_assert_int_eq(run_main(aborted_now, &before), 0);
    ck_assert_int_eq(run_pool_test(t_leak_at_stop, 1), 0);
    if (has_server()) {
        ck_assert_int_eq(run_main(count_sessions, &left), 0);
        ck_assert_int_eq(left, 0);
    }
    if (my) {
        ck_assert_int_eq(run_main(aborted_now, &after), 0);
        ck_assert_int_eq(after, before);
    }
}
END_TEST

void add_pool_leak_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    bool my = strcmp(which, "mysql") == 0;
    TCase *tc = tcase_create(pg   ? "pool_leaks_postgres"
                             : my ? "pool_leaks_mysql"
                                  : "pool_leaks_sqlite");

    tcase_set_timeout(tc, 60);
    use_backend_of(tc, which);
    tcase_add_test(tc, leaked_acquisitions_are_taken_back_and_capacity_returns);
    tcase_add_test(tc, a_connection_still_held_at_stop_is_closed_properly);
    suite_add_tcase(s, tc);
}
