/* tests/test_runtime_scope.c -- structured lifetimes: a coroutine's
 * children end before its own cleanups run; worker-scoped coroutines do
 * not end with their spawner; a child deaf to cancellation is bounded by
 * the cleanup grace. */
#include <errno.h>
#include <string.h>

#include "util.h"

typedef struct evlog {
    char ev[16][24];
    int n;
    int child_rc;
} evlog;

static void note(evlog *l, const char *what)
{
    ck_assert_int_lt(l->n, 16);
    strcpy(l->ev[l->n++], what);
}

static void child_cleanup(void *arg)
{
    note(arg, "child cleanup");
}

static int sleepy_child(void *arg)
{
    evlog *l = arg;

    ck_assert_int_eq(gt_co_defer(child_cleanup, l), 0);
    l->child_rc = gt_sleep(60 * 1000);
    note(l, "child returns");
    return l->child_rc;
}

static void parent_cleanup(void *arg)
{
    note(arg, "parent cleanup");
}

static int parent(void *arg)
{
    evlog *l = arg;
    gt_co *handle;

    ck_assert_int_eq(gt_co_defer(parent_cleanup, l), 0);
    ck_assert_int_eq(gt_co_spawn(NULL, sleepy_child, l), 0);
    /* A handle never joined: released when this body returns. */
    ck_assert_int_eq(gt_co_spawn(&handle, sleepy_child, l), 0);
    ck_assert_int_eq(gt_yield(), 0); /* both children park */
    note(l, "parent returns");
    return 0;
}

static int t_children_first(void *arg)
{
    evlog l = {.n = 0};
    gt_rt_stats st;
    gt_co *p;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&p, parent, &l), 0);
    ck_assert_int_eq(gt_co_join(p, NULL, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(l.n, 6);
    ck_assert_str_eq(l.ev[0], "parent returns");
    /* Both children were cancelled, unwound and cleaned up ... */
    for (int i = 1; i < 5; i++)
        ck_assert(strncmp(l.ev[i], "child", 5) == 0);
    ck_assert_int_eq(l.child_rc, -ECANCELED);
    /* ... before the parent's own cleanup ran. */
    ck_assert_str_eq(l.ev[5], "parent cleanup");
    gt_rt_get_stats(gt_rt_self(), 0, &st);
    ck_assert_uint_eq(st.live, 1); /* only this test's coroutine */
    return 0;
}

START_TEST(children_end_before_their_parents_cleanups)
{
    ck_assert_int_eq(run_main(t_children_first, NULL), 0);
}
END_TEST

typedef struct bg {
    int rc;
    int done;
} bg;

static int background(void *arg)
{
    bg *b = arg;

    b->rc = gt_sleep(50);
    b->done = 1;
    return 0;
}

static int spawn_background_and_leave(void *arg)
{
    return gt_co_spawn_worker(NULL, background, arg);
}

static int t_worker_scope(void *arg)
{
    bg b = {.rc = 1};
    gt_co *p;
    int rc = -1;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&p, spawn_background_and_leave, &b), 0);
    ck_assert_int_eq(gt_co_join(p, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(b.done, 0); /* its spawner is gone; it still runs */
    for (int i = 0; i < 100 && !b.done; i++)
        ck_assert_int_eq(gt_sleep(10), 0);
    ck_assert_int_eq(b.done, 1);
    ck_assert_int_eq(b.rc, 0); /* it slept its time, uncancelled */
    return 0;
}

START_TEST(worker_scoped_coroutines_outlive_their_spawner)
{
    ck_assert_int_eq(run_main(t_worker_scope, NULL), 0);
}
END_TEST

static int deaf_child(void *arg)
{
    bg *b = arg;

    gt_co_shield(1);
    b->rc = gt_sleep(300); /* ignores the cancel */
    b->done = 1;
    return 0;
}

static int leave_deaf_child(void *arg)
{
    return gt_co_spawn(NULL, deaf_child, arg);
}

static int t_grace(void *arg)
{
    bg b = {.rc = 1};
    int64_t t0 = gt_now();
    gt_co *p;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&p, leave_deaf_child, &b), 0);
    ck_assert_int_eq(gt_co_join(p, NULL, GT_NEVER), 0);
    /* The parent waited the grace (50 ms), not the child's 300 ms. */
    ck_assert_int_eq(b.done, 0);
    ck_assert_int_ge(gt_now() - t0, 50);
    while (!b.done)
        ck_assert_int_eq(gt_sleep(10), 0);
    ck_assert_int_eq(b.rc, 0);
    return 0;
}

START_TEST(a_child_deaf_to_cancel_is_bounded_by_the_grace)
{
    gt_rt_config cfg = {.workers = 1, .cleanup_grace_ms = 50};

    ck_assert_int_eq(run_main_cfg(&cfg, t_grace, NULL), 0);
}
END_TEST

void add_runtime_scope_tests(Suite *s)
{
    TCase *tc = tcase_create("scope");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, children_end_before_their_parents_cleanups);
    tcase_add_test(tc, worker_scoped_coroutines_outlive_their_spawner);
    tcase_add_test(tc, a_child_deaf_to_cancel_is_bounded_by_the_grace);
    suite_add_tcase(s, tc);
}
