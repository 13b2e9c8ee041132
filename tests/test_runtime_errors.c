/* tests/test_runtime_errors.c -- the return codes runtime.h promises for
 * calls made in the wrong place: off a worker thread, outside a coroutine,
 * with a handle in the wrong state.
 *
 * One test per documented path, so that a sentence of the header that
 * stops being true fails a test. The calls from "off a worker" are made by
 * the test process itself, which is not a worker of any runtime. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int calls;

static void count_call(void *arg)
{
    (void)arg;
    calls++;
}

static void free_counted(void *arg)
{
    free(arg);
    calls++;
}

/* ---- off a worker thread ------------------------------------------------ */

START_TEST(off_a_worker_coroutine_calls_fail_with_einval)
{
    gt_co *co = NULL;
    gt_fdwatch w;
    gt_mutex m;
    gt_sem sem;

    ck_assert_int_eq(gt_co_spawn(&co, nothing, NULL), -EINVAL);
    ck_assert_int_eq(gt_co_spawn(NULL, nothing, NULL), -EINVAL);
    ck_assert_int_eq(gt_co_spawn_worker(&co, nothing, NULL), -EINVAL);
    ck_assert_ptr_null(co);
    ck_assert_int_eq(gt_sleep(1), -EINVAL);
    ck_assert_int_eq(gt_sleep(0), -EINVAL);
    ck_assert_int_eq(gt_yield(), -EINVAL);
    ck_assert_int_eq(gt_co_shield(1), -EINVAL);
    ck_assert_int_eq((int)gt_co_stack_used(), -ENOTSUP);
    ck_assert_int_eq(gt_fdwatch_open(&w, 0), -EINVAL);
    ck_assert_ptr_null(w.poll);
    ck_assert_int_eq(gt_wait_fd(0, GT_READABLE, 0), -EINVAL);
    gt_mutex_init(&m);
    ck_assert_int_eq(gt_mutex_lock(&m, 0), -EINVAL);
    gt_sem_init(&sem, 0);
    ck_assert_int_eq(gt_sem_acquire(&sem, 0), -EINVAL);
    gt_sem_init(&sem, 1); /* a free permit needs no coroutine */
    ck_assert_int_eq(gt_sem_acquire(&sem, 0), 0);
}
END_TEST

static int blocking_fn(void *arg)
{
    (void)arg;
    calls += 100; /* must never happen */
    return 0;
}

START_TEST(off_a_worker_offload_fails_without_running_fn)
{
    calls = 0;
    ck_assert_int_eq(gt_run_blocking(blocking_fn, NULL, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_run_thread(blocking_fn, NULL, count_call, GT_NEVER),
                     -EINVAL);
    ck_assert_int_eq(calls, 1); /* done(arg) ran, fn did not */
}
END_TEST

/* gt_co_defer outside a coroutine calls fn at once, and gt_co_alloc
 * allocates nothing: neither leaks (ASan's leak check watches it too). */
START_TEST(off_a_worker_defer_runs_fn_at_once_and_alloc_allocates_nothing)
{
    calls = 0;
    ck_assert_int_eq(gt_co_defer(count_call, NULL), -EINVAL);
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(gt_co_defer(free_counted, gt_malloc(32)), -EINVAL);
    ck_assert_int_eq(calls, 2);
    ck_assert_int_eq(gt_co_defer(NULL, NULL), -EINVAL);
    gt_alloc_fail(LONG_MAX, 0); /* count allocations, fail none */
    ck_assert_ptr_null(gt_co_alloc(64));
    ck_assert_int_eq(gt_alloc_fail(0, 0), 0);
}
END_TEST

/* ---- inside a coroutine ------------------------------------------------- */

static int t_spawn_without_fn(void *arg)
{
    gt_co *co = NULL;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, NULL, NULL), -EINVAL);
    ck_assert_int_eq(gt_co_spawn_worker(&co, NULL, NULL), -EINVAL);
    ck_assert_ptr_null(co);
    calls = 0;
    ck_assert_int_eq(gt_co_defer(NULL, NULL), -EINVAL);
    ck_assert_int_eq(gt_co_defer(count_call, NULL), 0);
    ck_assert_int_eq(calls, 0); /* runs when this coroutine ends */
    return 0;
}

START_TEST(spawn_and_defer_without_fn_fail_with_einval)
{
    ck_assert_int_eq(run_main(t_spawn_without_fn, NULL), 0);
    ck_assert_int_eq(calls, 1);
}
END_TEST

static gt_waitq hold;

static int held(void *arg)
{
    (void)arg;
    gt_waitq_wait(&hold, GT_NEVER);
    return 5;
}

static int join_self(void *arg)
{
    (void)arg;
    return gt_co_join(gt_co_self(), NULL, GT_NEVER);
}

static int join_other(void *arg)
{
    return gt_co_join(arg, NULL, GT_NEVER);
}

static int t_join_misuse(void *arg)
{
    gt_co *me, *a, *b;
    int rc;

    (void)arg;
    gt_waitq_init(&hold);
    ck_assert_int_eq(gt_co_spawn(&me, join_self, NULL), 0);
    ck_assert_int_eq(gt_co_join(me, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -EINVAL);
    /* a is parked; b joins it, then a second join of a is refused. */
    ck_assert_int_eq(gt_co_spawn(&a, held, NULL), 0);
    ck_assert_int_eq(gt_co_spawn(&b, join_other, a), 0);
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(gt_co_join(a, NULL, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_waitq_wake(&hold, -1), 1);
    ck_assert_int_eq(gt_co_join(b, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0); /* b joined a */
    /* a's handle is freed now, and waits in the stack cache. */
    ck_assert_int_eq(gt_co_join(a, NULL, GT_NEVER), -EINVAL);
    return 0;
}

START_TEST(join_refuses_self_a_busy_handle_and_a_joined_one)
{
    ck_assert_int_eq(run_main(t_join_misuse, NULL), 0);
}
END_TEST

/* Joins made from a libuv callback of the worker, not a coroutine. */
typedef struct cb_join {
    gt_co *co;
    gt_waitq done;
    int rc, result;
} cb_join;

/* Static: libuv finishes closing them after the coroutine has returned.
 * One per join, since a handle being closed cannot be initialised again. */
static uv_timer_t cb_timers[2];

static void on_timer(uv_timer_t *t)
{
    cb_join *j = t->data;

    j->result = -1;
    j->rc = gt_co_join(j->co, &j->result, GT_NEVER);
    gt_waitq_wake(&j->done, 1);
}

static int join_from_callback(cb_join *j, uv_timer_t *t)
{
    j->rc = 1;
    uv_timer_init(gt_loop(), t);
    t->data = j;
    uv_timer_start(t, on_timer, 0, 0);
    ck_assert_int_eq(gt_waitq_wait(&j->done, GT_NEVER), 0);
    uv_close((uv_handle_t *)t, NULL);
    return j->rc;
}

static int quick(void *arg)
{
    *(int *)arg = 1;
    return 9;
}

static int t_join_from_callback(void *arg)
{
    cb_join j = {0};
    int ran = 0;

    (void)arg;
    gt_waitq_init(&hold);
    ck_assert_int_eq(gt_co_spawn(&j.co, held, NULL), 0);
    ck_assert_int_eq(gt_yield(), 0); /* it parks */
    ck_assert_int_eq(join_from_callback(&j, &cb_timers[0]),
                     -EINVAL); /* still running */
    gt_waitq_wake(&hold, -1);
    ck_assert_int_eq(gt_co_join(j.co, &j.result, GT_NEVER), 0);
    ck_assert_int_eq(j.result, 5);
    /* A child that has finished is joined at once, coroutine or not. */
    ck_assert_int_eq(gt_co_spawn(&j.co, quick, &ran), 0);
    while (!ran)
        ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(join_from_callback(&j, &cb_timers[1]), 0);
    ck_assert_int_eq(j.result, 9);
    return 0;
}

START_TEST(join_from_a_callback_needs_a_finished_coroutine)
{
    ck_assert_int_eq(run_main(t_join_from_callback, NULL), 0);
}
END_TEST

/* gt_sleep(ms <= 0) returns at once, without letting another coroutine
 * run. */
static int t_sleep_zero(void *arg)
{
    int ran = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(NULL, quick, &ran), 0);
    ck_assert_int_eq(gt_sleep(0), 0);
    ck_assert_int_eq(gt_sleep(-5), 0);
    ck_assert_int_eq(ran, 0);
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(ran, 1);
    return 0;
}

START_TEST(sleep_zero_does_not_yield)
{
    ck_assert_int_eq(run_main(t_sleep_zero, NULL), 0);
}
END_TEST

static int t_fd_misuse(void *arg)
{
    gt_fdwatch w = {NULL, -1};
    int fds[2];

    (void)arg;
    ck_assert_int_eq(gt_fdwatch_wait(&w, GT_READABLE, 0), -EINVAL); /* closed */
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(gt_fdwatch_open(&w, fds[0]), 0);
    ck_assert_int_eq(gt_fdwatch_wait(&w, 0, 0), -EINVAL); /* no events */
    gt_fdwatch_close(&w);
    ck_assert_int_eq(gt_fdwatch_wait(&w, GT_READABLE, 0), -EINVAL);
    ck_assert_int_eq(gt_wait_fd(fds[0], 0, 0), -EINVAL);
    close(fds[0]);
    close(fds[1]);
    return 0;
}

START_TEST(fd_waits_refuse_a_closed_watch_and_no_events)
{
    ck_assert_int_eq(run_main(t_fd_misuse, NULL), 0);
}
END_TEST

static int t_offload_without_fn(void *arg)
{
    (void)arg;
    calls = 0;
    ck_assert_int_eq(gt_run_blocking(NULL, NULL, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_run_thread(NULL, NULL, count_call, GT_NEVER), -EINVAL);
    ck_assert_int_eq(calls, 1);
    return 0;
}

START_TEST(offload_without_fn_fails_with_einval)
{
    ck_assert_int_eq(run_main(t_offload_without_fn, NULL), 0);
}
END_TEST

void add_runtime_errors_tests(Suite *s)
{
    TCase *tc = tcase_create("errors");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, off_a_worker_coroutine_calls_fail_with_einval);
    tcase_add_test(tc, off_a_worker_offload_fails_without_running_fn);
    tcase_add_test(
        tc, off_a_worker_defer_runs_fn_at_once_and_alloc_allocates_nothing);
    tcase_add_test(tc, spawn_and_defer_without_fn_fail_with_einval);
    tcase_add_test(tc, join_refuses_self_a_busy_handle_and_a_joined_one);
    tcase_add_test(tc, join_from_a_callback_needs_a_finished_coroutine);
    tcase_add_test(tc, sleep_zero_does_not_yield);
    tcase_add_test(tc, fd_waits_refuse_a_closed_watch_and_no_events);
    tcase_add_test(tc, offload_without_fn_fails_with_einval);
    suite_add_tcase(s, tc);
}
