/* tests/test_runtime_rt.c -- the multi-threaded runtime: posting work
 * between threads, worker identity, stopping with coroutines alive; the
 * version. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static atomic_int seen[8];
static atomic_int finished;

static int note_worker(void *arg)
{
    int want = (int)(intptr_t)arg;

    if (gt_worker_id() == want)
        atomic_fetch_add(&seen[want], 1);
    atomic_fetch_add(&finished, 1);
    return 0;
}

static int stop_when_done(void *arg)
{
    int total = (int)(intptr_t)arg;

    while (atomic_load(&finished) < total)
        if (gt_sleep(1) < 0)
            return -1;
    gt_rt_stop(gt_rt_self());
    return 0;
}

START_TEST(post_runs_work_on_the_chosen_worker)
{
    gt_rt_config cfg = {.workers = 3};
    gt_rt *rt;

    atomic_store(&finished, 0);
    ck_assert_int_eq(gt_rt_new(&rt, &cfg), 0);
    ck_assert_int_eq(gt_rt_workers(rt), 3);
    /* Posted before the workers start: queued until they do. */
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(
            gt_rt_post(rt, i % 3, note_worker, (void *)(intptr_t)(i % 3)), 0);
    ck_assert_int_eq(gt_rt_post(rt, 3, note_worker, NULL), -EINVAL);
    ck_assert_int_eq(gt_rt_post(rt, 0, stop_when_done, (void *)30), 0);
    ck_assert_int_eq(gt_rt_run(rt), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(atomic_load(&seen[i]), 10);
    ck_assert_int_eq(gt_rt_post(rt, 0, note_worker, NULL), -ESHUTDOWN);
    gt_rt_free(rt);
}
END_TEST

static gt_local_key stop_key;
static atomic_int stop_dtors;

static void stop_dtor(void *v)
{
    (void)v;
    atomic_fetch_add(&stop_dtors, 1);
}

static int sleep_forever(void *arg)
{
    gt_local_set(stop_key, arg);
    return gt_sleep(60 * 60 * 1000);
}

static void *stop_from_thread(void *arg)
{
    gt_rt *rt = arg;

    while (atomic_load(&finished) < 20)
        sched_yield();
    gt_rt_stop(rt);
    return NULL;
}

static int sleep_counted(void *arg)
{
    atomic_fetch_add(&finished, 1);
    return sleep_forever(arg);
}

static atomic_int hook_calls, hook_saw_dtors;

static void on_stop_hook(void *arg, int worker)
{
    (void)arg;
    ck_assert_int_eq(gt_worker_id(), worker);
    atomic_fetch_add(&hook_calls, 1);
    atomic_store(&hook_saw_dtors, atomic_load(&stop_dtors));
}

START_TEST(stop_cancels_live_coroutines_and_runs_destructors)
{
    gt_rt_config cfg = {.workers = 2};
    gt_rt *rt;
    pthread_t th;

    atomic_store(&finished, 0);
    ck_assert_int_eq(gt_local_key_new(&stop_key, stop_dtor), 0);
    ck_assert_int_eq(gt_rt_new(&rt, &cfg), 0);
    ck_assert_int_eq(gt_rt_on_stop(rt, on_stop_hook, NULL), 0);
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(gt_rt_post(rt, -1, sleep_counted, &stop_key), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, stop_from_thread, rt), 0);
    ck_assert_int_eq(gt_rt_run(rt), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&stop_dtors), 20);
    /* One call per worker, each after that worker's coroutines ended. */
    ck_assert_int_eq(atomic_load(&hook_calls), 2);
    ck_assert_int_ge(atomic_load(&hook_saw_dtors), 10);
    gt_rt_free(rt);
}
END_TEST

START_TEST(unrun_runtime_frees_cleanly)
{
    gt_rt *rt;
    gt_rt_config bad = {.workers = -1};

    ck_assert_int_eq(gt_rt_new(&rt, &bad), -EINVAL);
    ck_assert_int_eq(gt_rt_new(&rt, NULL), 0);
    ck_assert_int_ge(gt_rt_workers(rt), 1);
    gt_rt_free(rt);
    gt_rt_free(NULL);
}
END_TEST

static int outside_checks(void *arg)
{
    (void)arg;
    ck_assert_int_eq(gt_worker_id(), 0);
    ck_assert_ptr_nonnull(gt_loop());
    ck_assert_ptr_nonnull(gt_co_self());
    return 3;
}

START_TEST(worker_identity_inside_and_outside)
{
    int64_t a = gt_now(), b;

    ck_assert_int_eq(gt_worker_id(), -1);
    ck_assert_ptr_null(gt_loop());
    ck_assert_ptr_null(gt_rt_self());
    ck_assert_ptr_null(gt_co_self());
    ck_assert_int_eq(gt_sleep(1), -EINVAL);
    ck_assert_int_eq(gt_yield(), -EINVAL);
    ck_assert_int_eq(run_main(outside_checks, NULL), 3);
    b = gt_now();
    ck_assert_int_ge(b, a);
    ck_assert_int_eq(gt_deadline_in(-5), GT_NEVER);
}
END_TEST

/* Statistics are read from any thread while their worker updates them
 * (the ThreadSanitizer build of this suite checks that this is no data
 * race); counters seen from outside only ever grow. */
static atomic_int churn_stop;

static int idle_co(void *arg)
{
    (void)arg;
    return 0;
}

static int churn(void *arg)
{
    (void)arg;
    /* Bursts with a sleep between: a worker that never blocks starves the
     * others under valgrind, which runs one thread at a time. */
    while (!atomic_load(&churn_stop)) {
        for (int i = 0; i < 50; i++)
            if (gt_co_spawn(NULL, idle_co, NULL) < 0)
                return -ENOMEM;
        if (gt_sleep(1) < 0)
            break;
    }
    return 0;
}

static int t_stats_across_threads(void *arg)
{
    gt_rt_stats st;
    uint64_t last = 0;

    (void)arg;
    atomic_store(&churn_stop, 0);
    ck_assert_int_eq(gt_rt_post(gt_rt_self(), 1, churn, NULL), 0);
    for (int i = 0; i < 200; i++) {
        gt_rt_get_stats(gt_rt_self(), 1, &st);
        ck_assert_uint_ge(st.spawned, last);
        last = st.spawned;
        ck_assert_int_eq(gt_sleep(1), 0);
    }
    atomic_store(&churn_stop, 1);
    ck_assert_uint_gt(last, 0);
    return 0;
}

START_TEST(stats_are_read_safely_from_another_worker)
{
    gt_rt_config cfg = {.workers = 2};

    ck_assert_int_eq(run_main_cfg(&cfg, t_stats_across_threads, NULL), 0);
}
END_TEST

START_TEST(strerror_covers_our_codes_and_libuvs)
{
    ck_assert_ptr_nonnull(strstr(gt_strerror(GT_EPOOL), "connection"));
    ck_assert_str_eq(gt_strerror(-ETIMEDOUT), uv_strerror(UV_ETIMEDOUT));
    ck_assert_str_eq(gt_strerror(0), "success");
}
END_TEST

START_TEST(version_is_the_headers_version)
{
    char want[32];

    snprintf(want, sizeof(want), "%d.%d.%d", GT_VERSION_MAJOR, GT_VERSION_MINOR,
             GT_VERSION_PATCH);
    ck_assert_str_eq(GT_VERSION_STRING, want);
    ck_assert_str_eq(gt_version(), GT_VERSION_STRING);
    ck_assert_int_eq(GT_VERSION_NUMBER, GT_VERSION_MAJOR * 10000 +
                                            GT_VERSION_MINOR * 100 +
                                            GT_VERSION_PATCH);
#if GT_VERSION_NUMBER < 0
#error "GT_VERSION_NUMBER is not usable in #if"
#endif
}
END_TEST

void add_runtime_rt_tests(Suite *s)
{
    TCase *tc = tcase_create("rt");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, post_runs_work_on_the_chosen_worker);
    tcase_add_test(tc, stop_cancels_live_coroutines_and_runs_destructors);
    tcase_add_test(tc, unrun_runtime_frees_cleanly);
    tcase_add_test(tc, worker_identity_inside_and_outside);
    tcase_add_test(tc, strerror_covers_our_codes_and_libuvs);
    tcase_add_test(tc, stats_are_read_safely_from_another_worker);
    tcase_add_test(tc, version_is_the_headers_version);
    suite_add_tcase(s, tc);
}
