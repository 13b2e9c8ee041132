/* tests/test_pool_timeouts.c -- a burst of statement timeouts does not
 * turn into reconnect churn: when the server answers the cancels, each
 * interrupted connection is wound down after its request and kept.
 * PostgreSQL only: on MariaDB 1 to 4 of 24 KILL QUERY interruptions fail
 * to stop SLEEP(5) within the 2 s drain and cost their connection (see
 * docs/STATUS.md), which this test would report as the bug it is. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

enum { MAX_OPEN = 4, REQUESTS = 24 };

static gt_pool *pool;

static int slow_request(void *arg)
{
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    (void)arg;
    if (rc < 0)
        return rc;
    rc =
        (int)gt_db_exec(db, "SELECT pg_sleep(5)", NULL, 0, gt_deadline_in(200));
    if (gt_db_broken(db))
        fprintf(stderr, "timeouts: %s\n", gt_db_errmsg(db));
    return rc;
}

static int t_burst(void *arg)
{
    gt_co *co[REQUESTS];
    gt_pool_stats st;
    int rc;

    (void)arg;
    pool = make_pool("max_open=4&acquire_timeout_ms=30000");
    for (int i = 0; i < REQUESTS; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], slow_request, NULL), 0);
    for (int i = 0; i < REQUESTS; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, -ETIMEDOUT);
    }
    wait_cleaned(pool, &st);
    ck_assert_uint_eq(st.opened, MAX_OPEN); /* none was reopened */
    ck_assert_uint_eq(st.discarded_broken, 0);
    ck_assert_int_eq(st.idle, MAX_OPEN);
    return 0;
}

START_TEST(a_burst_of_timeouts_keeps_the_connections)
{
    ck_assert_int_eq(run_pool_test(t_burst, 1), 0);
}
END_TEST

void add_pool_timeout_tests(Suite *s)
{
    TCase *tc = tcase_create("pool_timeouts_postgres");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, use_postgres, NULL);
    tcase_add_test(tc, a_burst_of_timeouts_keeps_the_connections);
    suite_add_tcase(s, tc);
}
