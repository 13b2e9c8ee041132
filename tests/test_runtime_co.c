/* tests/test_runtime_co.c -- coroutines: spawn, join, yield, sleep, cancel,
 * deadlines, stack recycling, overflow detection and stack measurement. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "util.h"

static int add_one(void *arg)
{
    return *(int *)arg + 1;
}

static int t_spawn_join(void *arg)
{
    gt_co *co;
    int x = 41, result = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, add_one, &x), 0);
    ck_assert_int_eq(gt_co_join(co, &result, GT_NEVER), 0);
    ck_assert_int_eq(result, 42);
    return 7;
}

START_TEST(spawn_join_returns_result)
{
    ck_assert_int_eq(run_main(t_spawn_join, NULL), 7);
}
END_TEST

typedef struct order {
    int log[64];
    int n;
} order;

typedef struct step {
    order *o;
    int id;
} step;

static int yielder(void *arg)
{
    step *st = arg;

    for (int round = 0; round < 3; round++) {
        st->o->log[st->o->n++] = st->id;
        ck_assert_int_eq(gt_yield(), 0);
    }
    return 0;
}

static int t_yield_order(void *arg)
{
    order o = {.n = 0};
    step steps[3] = {{&o, 0}, {&o, 1}, {&o, 2}};
    gt_co *co[3];

    (void)arg;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], yielder, &steps[i]), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    /* Round robin: 0 1 2 0 1 2 0 1 2. */
    ck_assert_int_eq(o.n, 9);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(o.log[i], i % 3);
    return 0;
}

START_TEST(yield_is_round_robin)
{
    ck_assert_int_eq(run_main(t_yield_order, NULL), 0);
}
END_TEST

static int sleeper(void *arg)
{
    step *st = arg;

    ck_assert_int_eq(gt_sleep(st->id * 10), 0);
    st->o->log[st->o->n++] = st->id;
    return 0;
}

static int t_sleep_order(void *arg)
{
    order o = {.n = 0};
    step steps[4] = {{&o, 3}, {&o, 1}, {&o, 4}, {&o, 2}};
    gt_co *co[4];
    int64_t t0 = gt_now();

    (void)arg;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], sleeper, &steps[i]), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_ge(gt_now() - t0, 40);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(o.log[i], i + 1);
    return 0;
}

START_TEST(sleepers_wake_in_deadline_order)
{
    ck_assert_int_eq(run_main(t_sleep_order, NULL), 0);
}
END_TEST

static int long_sleep(void *arg)
{
    (void)arg;
    return gt_sleep(60 * 1000);
}

static int t_cancel_sleep(void *arg)
{
    gt_co *co;
    int result = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, long_sleep, NULL), 0);
    ck_assert_int_eq(gt_yield(), 0); /* let it park */
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, &result, GT_NEVER), 0);
    ck_assert_int_eq(result, -ECANCELED);
    return 0;
}

START_TEST(cancel_wakes_a_sleeper)
{
    ck_assert_int_eq(run_main(t_cancel_sleep, NULL), 0);
}
END_TEST

static int cancel_then_wait(void *arg)
{
    (void)arg;
    gt_co_cancel(gt_co_self());
    ck_assert(gt_co_cancelled(gt_co_self()));
    ck_assert_int_eq(gt_sleep(1), -ECANCELED);
    ck_assert_int_eq(gt_yield(), -ECANCELED);
    return gt_sleep(0);
}

START_TEST(cancelled_coroutine_fails_every_later_wait)
{
    ck_assert_int_eq(run_main(cancel_then_wait, NULL), -ECANCELED);
}
END_TEST

static int t_deadline(void *arg)
{
    gt_co *self = gt_co_self();
    int64_t t0 = gt_now();

    (void)arg;
    gt_co_set_deadline(self, gt_deadline_in(30));
    ck_assert_int_eq(gt_sleep(10), 0); /* ends before the deadline */
    ck_assert_int_eq(gt_sleep(1000), -ETIMEDOUT);
    ck_assert_int_ge(gt_now() - t0, 30);
    ck_assert_int_lt(gt_now() - t0, 1000);
    /* Past the deadline every wait fails at once. */
    ck_assert_int_eq(gt_sleep(1), -ETIMEDOUT);
    gt_co_set_deadline(self, GT_NEVER);
    ck_assert_int_eq(gt_sleep(1), 0);
    return 0;
}

START_TEST(coroutine_deadline_bounds_every_wait)
{
    ck_assert_int_eq(run_main(t_deadline, NULL), 0);
}
END_TEST

static int t_deadline_shortens_pending(void *arg)
{
    gt_co *co;
    int result = 0;
    int64_t t0 = gt_now();

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, long_sleep, NULL), 0);
    ck_assert_int_eq(gt_sleep(5), 0);
    gt_co_set_deadline(co, gt_deadline_in(20));
    ck_assert_int_eq(gt_co_join(co, &result, GT_NEVER), 0);
    ck_assert_int_eq(result, -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, 10000);
    return 0;
}

START_TEST(setting_a_deadline_shortens_a_pending_wait)
{
    ck_assert_int_eq(run_main(t_deadline_shortens_pending, NULL), 0);
}
END_TEST

static int t_join_timeout(void *arg)
{
    gt_co *co;
    int result = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, long_sleep, NULL), 0);
    ck_assert_int_eq(gt_co_join(co, &result, gt_deadline_in(10)), -ETIMEDOUT);
    gt_co_cancel(co); /* the handle is still ours */
    ck_assert_int_eq(gt_co_join(co, &result, GT_NEVER), 0);
    ck_assert_int_eq(result, -ECANCELED);
    return 0;
}

START_TEST(join_times_out_and_keeps_the_handle)
{
    ck_assert_int_eq(run_main(t_join_timeout, NULL), 0);
}
END_TEST

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int t_recycle(void *arg)
{
    gt_rt_stats before, after;
    gt_co *co;

    (void)arg;
    for (int i = 0; i < 100; i++) { /* warm the free list */
        ck_assert_int_eq(gt_co_spawn(&co, nothing, NULL), 0);
        ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    }
    gt_rt_get_stats(gt_rt_self(), 0, &before);
    for (int i = 0; i < 10000; i++) {
        ck_assert_int_eq(gt_co_spawn(NULL, nothing, NULL), 0);
        ck_assert_int_eq(gt_yield(), 0);
    }
    gt_rt_get_stats(gt_rt_self(), 0, &after);
    ck_assert_uint_eq(after.stacks_mapped, before.stacks_mapped);
    ck_assert_uint_eq(after.spawned, before.spawned + 10000);
    return 0;
}

START_TEST(spawning_recycles_stacks_without_mmap)
{
    ck_assert_int_eq(run_main(t_recycle, NULL), 0);
}
END_TEST

/* ---- stack overflow and stack measurement ----------------------------------
 */

static int recurse(volatile char *prev, int depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    if (depth > (1 << 30)) /* never: the guard page is hit long before */
        return frame[0];
    return recurse(frame, depth + 1) + frame[511];
}

static int deep(void *arg)
{
    (void)arg;
    gt_co_set_name(gt_co_self(), "deep");
    return recurse(NULL, 0);
}

static void overflow_child(void *arg)
{
    (void)arg;
    run_main(deep, NULL);
}

START_TEST(stack_overflow_hits_the_guard_and_names_the_coroutine)
{
    char err[4096];
    int status = run_child(overflow_child, NULL, err, sizeof(err));

    ck_assert_msg(WIFSIGNALED(status), "child status %d, stderr: %s", status,
                  err);
    ck_assert_int_eq(WTERMSIG(status), SIGSEGV);
    ck_assert_msg(strstr(err, "stack overflow in coroutine") != NULL,
                  "stderr: %s", err);
    ck_assert_msg(strstr(err, "'deep'") != NULL, "stderr: %s", err);
}
END_TEST

static int use_stack(void *arg)
{
    volatile char buf[20000];

    (void)arg;
    memset((char *)buf, 1, sizeof(buf));
    ck_assert_int_ge(gt_co_stack_used(), (ssize_t)sizeof(buf));
    return buf[100];
}

static int t_stack_hwm(void *arg)
{
    gt_rt_stats st;
    gt_co *co;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, use_stack, NULL), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    gt_rt_get_stats(gt_rt_self(), -1, &st);
    ck_assert_uint_ge(st.stack_hwm, 20000);
    return 0;
}

START_TEST(stack_check_measures_the_high_water_mark)
{
    gt_rt_config cfg = {
        .workers = 1, .stack_check = 1, .stack_size = 256 * 1024};

    ck_assert_int_eq(run_main_cfg(&cfg, t_stack_hwm, NULL), 0);
}
END_TEST

static int t_no_stack_check(void *arg)
{
    (void)arg;
    return (int)gt_co_stack_used();
}

START_TEST(stack_used_needs_stack_check)
{
    ck_assert_int_eq(run_main(t_no_stack_check, NULL), -ENOTSUP);
}
END_TEST

static int shielded_cleanup(void *arg)
{
    gt_co *self = gt_co_self();
    int64_t t0;

    (void)arg;
    gt_co_set_deadline(self, gt_deadline_in(5));
    ck_assert_int_eq(gt_sleep(60 * 1000), -ETIMEDOUT);
    gt_co_cancel(self);
    ck_assert_int_eq(gt_co_shield(1), 0);
    /* Shielded: neither the cancel nor the passed deadline ends waits. */
    t0 = gt_now();
    ck_assert_int_eq(gt_sleep(20), 0);
    ck_assert_int_ge(gt_now() - t0, 20);
    ck_assert_int_eq(gt_yield(), 0);
    /* Only the explicit deadline bounds a shielded wait. */
    ck_assert_int_eq(gt_co_shield(1), 1);
    ck_assert_int_eq(gt_co_shield(0), 1);
    return gt_sleep(1); /* the remembered cancel */
}

static int t_shield_from_outside(void *arg)
{
    gt_co *co;
    int rc;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, shielded_cleanup, NULL), 0);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    return rc;
}

START_TEST(shield_defers_cancel_and_deadline)
{
    ck_assert_int_eq(run_main(t_shield_from_outside, NULL), -ECANCELED);
    ck_assert_int_eq(gt_co_shield(1), -EINVAL);
}
END_TEST

void add_runtime_co_tests(Suite *s)
{
    TCase *tc = tcase_create("co");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, spawn_join_returns_result);
    tcase_add_test(tc, yield_is_round_robin);
    tcase_add_test(tc, sleepers_wake_in_deadline_order);
    tcase_add_test(tc, cancel_wakes_a_sleeper);
    tcase_add_test(tc, cancelled_coroutine_fails_every_later_wait);
    tcase_add_test(tc, coroutine_deadline_bounds_every_wait);
    tcase_add_test(tc, setting_a_deadline_shortens_a_pending_wait);
    tcase_add_test(tc, join_times_out_and_keeps_the_handle);
    tcase_add_test(tc, spawning_recycles_stacks_without_mmap);
    tcase_add_test(tc, stack_overflow_hits_the_guard_and_names_the_coroutine);
    tcase_add_test(tc, stack_check_measures_the_high_water_mark);
    tcase_add_test(tc, stack_used_needs_stack_check);
    tcase_add_test(tc, shield_defers_cancel_and_deadline);
    suite_add_tcase(s, tc);
}
