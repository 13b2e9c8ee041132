/* tests/test_pool_oom.c -- the pool's out-of-memory paths, walked by
 * failing each allocation in turn (gt_alloc_fail): a pool is made, a
 * request-scoped connection taken and used, an explicit one acquired and
 * released, the metrics rendered. Whichever allocation fails, the call
 * that needed it reports -ENOMEM (or GT_EPOOL: a connect that could not
 * be recorded counts as a failed connect), nothing crashes, nothing leaks
 * (ASan's leak check), and no slot of the cap is lost. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK() 0
#endif

static gt_pool *pool;

static int request(void *arg)
{
    gt_db *db;
    gt_rows *r;
    int rc = gt_pool_db(pool, &db);

    (void)arg;
    if (rc < 0)
        return rc;
    rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, GT_NEVER);
    if (rc < 0)
        return rc;
    gt_rows_free(r);
    return 0;
}

static int ok_or_oom(int rc)
{
    return rc == 0 || rc == -ENOMEM || rc == GT_EPOOL;
}

/* Each step either works or reports its failure; the first ends it. */
static int scenario(void *arg)
{
    gt_pool_stats st;
    gt_co *co;
    gt_db *db;
    char *m;
    int rc, res = 0;

    (void)arg;
    rc = gt_pool_new(&pool, gt_rt_self(), "sqlite::memory:?max_open=2", NULL,
                     NULL, 0);
    if (rc < 0)
        return rc;
    if ((rc = gt_co_spawn(&co, request, NULL)) == 0)
        rc = gt_co_join(co, &res, GT_NEVER);
    ck_assert_msg(rc == 0 || rc == -ENOMEM, "spawn/join %d", rc);
    ck_assert_msg(ok_or_oom(res), "request %d", res);
    if ((rc = gt_pool_acquire(pool, &db, GT_NEVER)) == 0)
        ck_assert_int_eq(gt_pool_release(pool, db), 0);
    ck_assert_msg(ok_or_oom(rc), "acquire %d", rc);
    free(m = gt_pool_metrics_new(pool, "oom"));
    gt_pool_get_stats(pool, &st);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_le(st.open, st.idle + st.cleaning); /* no slot lost */
    return rc < 0 ? rc : res < 0 ? res : m ? 0 : -ENOMEM;
}

START_TEST(every_pool_allocation_may_fail_cleanly)
{
    gt_rt_config cfg = {.workers = 1};
    int failed = 0, rc;
    long n, made;

    for (n = 1; n < 2000; n++) {
        pool = NULL;
        gt_alloc_fail(n, 0);
        rc = gt_rt_main(&cfg, scenario, NULL);
        made = gt_alloc_fail(0, 0);
        gt_pool_free(pool);
        ck_assert_msg(ok_or_oom(rc), "allocation %ld: rc %d", n, rc);
        failed += rc != 0;
        if (made < n)
            break; /* the scenario made fewer than n: all were walked */
    }
    fprintf(stderr, "pool oom: %ld allocations walked, %d failed\n", n, failed);
    ck_assert_msg(n > 10, "only %ld allocations walked", n);
    ck_assert_int_gt(failed, 5);
    ck_assert_int_eq(LEAK_CHECK(), 0);
}
END_TEST

void add_pool_oom_tests(Suite *s)
{
    TCase *tc = tcase_create("pool_oom");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_pool_allocation_may_fail_cleanly);
    suite_add_tcase(s, tc);
}
