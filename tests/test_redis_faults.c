/* tests/test_redis_faults.c -- a Redis pool when things go wrong or run
 * out, against real redis-servers (tests/redis_fixture.c): GT_EPOOL when
 * no connection comes in time, fast errors while the server is down and
 * recovery when it is back, the server's client limit taken as its
 * capacity, idle connections moving between workers, leak reclaim. The
 * restart and client-limit cases start servers of their own. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pool_fixture.h"
#include "redis_fixture.h"
#include "util.h"

/* ---- the cap and GT_EPOOL --------------------------------------------------
 */

static gt_pool *cap_pool;
static gt_waitq hold_wq;

static int holder(void *arg)
{
    gt_redis *r;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(cap_pool, &r), 0);
    gt_waitq_wait(&hold_wq, GT_NEVER);
    return 0;
}

static int t_exhausted(void *arg)
{
    gt_co *co;
    gt_redis *r;

    (void)arg;
    gt_waitq_init(&hold_wq);
    cap_pool = redis_pool_new("?max_open=1&acquire_timeout_ms=100");
    ck_assert_int_eq(gt_co_spawn(&co, holder, NULL), 0);
    /* Until the holder has the only one (its connect takes a while). */
    for (int i = 0; i < 5000 && redis_pool_stats(cap_pool).in_use < 1; i++)
        ck_assert_int_eq(gt_sleep(1), 0);
    ck_assert_int_eq(redis_pool_stats(cap_pool).in_use, 1);
    ck_assert_int_eq(gt_pool_redis(cap_pool, &r), GT_EPOOL);
    ck_assert_msg(strstr(gt_pool_errmsg(cap_pool), "no connection"), "%s",
                  gt_pool_errmsg(cap_pool));
    ck_assert_uint_eq(redis_pool_stats(cap_pool).timeouts, 1);
    gt_waitq_wake(&hold_wq, -1);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_pool_redis(cap_pool, &r), 0);
    ck_assert_str_eq(REDIS_SAY(r, "PING"), "PONG");
    ck_assert_uint_eq(redis_pool_stats(cap_pool).opened, 1);
    return 0;
}

START_TEST(exhausted_pool_fails_with_epool)
{
    ck_assert_int_eq(run_pool_test(t_exhausted, 1), 0);
}
END_TEST

/* ---- a restart: fast errors, then recovery --------------------------------
 */

/* One request: 0, or the error of the acquisition or the command. */
static int request(gt_pool *p)
{
    gt_redis_reply *rp;
    gt_redis *r;
    int rc = gt_pool_redis(p, &r);

    if (rc == 0)
        rc = REDIS_CMD(r, &rp, "INCR", "gt:restart");
    if (rc == 0)
        gt_redis_reply_free(rp);
    gt_pool_db_release(p);
    return rc;
}

static int warm_one(void *arg)
{
    gt_redis *r;

    ck_assert_int_eq(gt_pool_redis(arg, &r), 0);
    ck_assert_str_eq(REDIS_SAY(r, "PING"), "PONG");
    return gt_sleep(5);
}

static int t_restart(void *arg)
{
    int port = test_free_port(), epool = 0, other = 0, tries = 0;
    pid_t pid = redis_spawn(port, NULL);
    gt_pool *p;
    gt_co *co[4];
    gt_pool_stats st;

    (void)arg;
    ck_assert_int_gt(pid, 0);
    p = redis_pool_at(port,
                      "?max_open=4&backoff_max_ms=100&acquire_timeout_ms=2000");
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], warm_one, p), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_eq(redis_pool_stats(p).idle, 4);
    redis_kill(pid);
    /* Down: every request fails at the acquisition, none on a stale
     * connection (each idle one is found dropped before use). */
    for (int i = 0; i < 20; i++) {
        int rc = request(p);

        epool += rc == GT_EPOOL;
        other += rc != GT_EPOOL;
    }
    ck_assert_int_eq(other, 0);
    ck_assert_int_eq(epool, 20);
    st = redis_pool_stats(p);
    ck_assert_uint_eq(st.discarded_dead, 4);
    ck_assert_uint_ge(st.connect_errors, 1);
    /* Back: served again once the back-off lets a probe through. */
    pid = redis_spawn(port, NULL);
    ck_assert_int_gt(pid, 0);
    while (request(p) != 0 && tries++ < 100)
        ck_assert_int_eq(gt_sleep(50), 0);
    ck_assert_int_lt(tries, 100);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(request(p), 0);
    redis_kill(pid);
    return 0;
}

START_TEST(restart_gives_fast_errors_then_recovers)
{
    ck_assert_int_eq(run_pool_test(t_restart, 1), 0);
}
END_TEST

/* ---- the server's client limit is its capacity ----------------------------
 */

static atomic_int served, failed;

static int busy_client(void *arg)
{
    for (int i = 0; i < 5; i++) {
        gt_redis *r;
        int rc = gt_pool_redis(arg, &r);

        if (rc == 0)
            rc = gt_sleep(20);
        atomic_fetch_add(rc == 0 ? &served : &failed, 1);
        gt_pool_db_release(arg);
    }
    return 0;
}

static int t_capacity(void *arg)
{
    const char *const extra[] = {"--maxclients", "3", NULL};
    int port = test_free_port();
    pid_t pid = redis_spawn(port, extra);
    gt_co *co[8];
    gt_pool *p;
    gt_pool_stats st;

    (void)arg;
    ck_assert_int_gt(pid, 0);
    p = redis_pool_at(port, "?max_open=8&acquire_timeout_ms=20000");
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], busy_client, p), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    st = redis_pool_stats(p);
    ck_assert_int_eq(atomic_load(&failed), 0);
    ck_assert_int_eq(atomic_load(&served), 40);
    ck_assert_uint_ge(st.capacity_refusals, 1);
    ck_assert_int_eq(st.cap, 3); /* held at what the server allows */
    ck_assert_int_le(st.open, 3);
    ck_assert_uint_eq(st.connect_errors, 0); /* not an outage */
    redis_kill(pid);
    return 0;
}

START_TEST(client_limit_is_capacity_not_an_outage)
{
    ck_assert_int_eq(run_pool_test(t_capacity, 1), 0);
}
END_TEST

/* ---- two workers -----------------------------------------------------------
 */

static gt_pool *moving_pool;
static atomic_int moved_ok, moved_bad, moved_done;

static int worker1_client(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        int rc = request(moving_pool);

        atomic_fetch_add(rc == 0 ? &moved_ok : &moved_bad, 1);
        if (rc != 0)
            fprintf(stderr, "worker 1: %s %s\n", gt_strerror(rc),
                    gt_pool_errmsg(moving_pool));
    }
    atomic_fetch_add(&moved_done, 1);
    return 0;
}

static int t_move(void *arg)
{
    gt_redis *r[2];
    gt_pool_stats st;

    (void)arg;
    moving_pool = redis_pool_new("?max_open=2&acquire_timeout_ms=20000");
    /* Worker 0 opens both and keeps them idle, so that worker 1 is only
     * served by connections that move over. */
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(gt_pool_redis_acquire(moving_pool, &r[i], GT_NEVER),
                         0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(gt_pool_redis_release(moving_pool, r[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_rt_post(gt_rt_self(), 1, worker1_client, NULL), 0);
    while (atomic_load(&moved_done) < 4)
        ck_assert_int_eq(gt_sleep(5), 0);
    ck_assert_int_eq(atomic_load(&moved_bad), 0);
    ck_assert_int_eq(atomic_load(&moved_ok), 80);
    st = redis_pool_stats(moving_pool);
    ck_assert_uint_ge(st.moved, 1);
    ck_assert_uint_eq(st.opened, 2);
    return 0;
}

START_TEST(idle_connections_move_between_workers)
{
    ck_assert_int_eq(run_pool_test(t_move, 2), 0);
}
END_TEST

/* ---- leaks and misuse
 * -------------------------------------------------------- */

static int t_reclaim(void *arg)
{
    gt_pool *p = redis_pool_new("?max_open=1&leak_reclaim_ms=50");
    gt_redis_reply *rp;
    gt_redis *r, *next;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis_acquire(p, &r, GT_NEVER), 0);
    /* The maintenance pass (once a second) takes it back. */
    for (int i = 0; i < 300 && redis_pool_stats(p).leaks_reclaimed == 0; i++)
        ck_assert_int_eq(gt_sleep(10), 0);
    ck_assert_uint_eq(redis_pool_stats(p).leaks_reclaimed, 1);
    ck_assert_int_eq(REDIS_CMD(r, &rp, "PING"), -ENOTCONN);
    ck_assert_msg(strstr(gt_redis_errmsg(r), "leak_reclaim_ms"), "%s",
                  gt_redis_errmsg(r));
    ck_assert_int_eq(gt_pool_redis(p, &next), 0); /* its slot came back */
    ck_assert_str_eq(REDIS_SAY(next, "PING"), "PONG");
    ck_assert_int_eq(gt_pool_redis_release(p, r), 0);
    return 0;
}

START_TEST(leaked_acquisition_is_taken_back)
{
    ck_assert_int_eq(run_pool_test(t_reclaim, 1), 0);
}
END_TEST

void add_redis_faults_tests(Suite *s)
{
    TCase *tc = tcase_create("redis_faults");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, redis_fixture_start, redis_fixture_stop);
    tcase_add_test(tc, exhausted_pool_fails_with_epool);
    tcase_add_test(tc, restart_gives_fast_errors_then_recovers);
    tcase_add_test(tc, client_limit_is_capacity_not_an_outage);
    tcase_add_test(tc, idle_connections_move_between_workers);
    tcase_add_test(tc, leaked_acquisition_is_taken_back);
    suite_add_tcase(s, tc);
}
