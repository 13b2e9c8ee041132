/* tests/test_runtime_local.c -- coroutine-local storage: isolation across
 * 100,000 coroutines and across worker threads, destructors on every exit
 * path in reverse order, destructors that do I/O after a cancel. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

static gt_local_key key_a, key_b, key_count;
static atomic_long destroyed;
static char trace[64];
static int ntrace;

static void count_dtor(void *v)
{
    (void)v;
    atomic_fetch_add(&destroyed, 1);
}

static void trace_dtor(void *v)
{
    trace[ntrace++] = *(char *)v;
}

static void trace_defer(void *v)
{
    trace[ntrace++] = *(char *)v;
}

static void setup_keys(void)
{
    static int done;

    if (done)
        return;
    ck_assert_int_eq(gt_local_key_new(&key_a, trace_dtor), 0);
    ck_assert_int_eq(gt_local_key_new(&key_b, trace_dtor), 0);
    ck_assert_int_eq(gt_local_key_new(&key_count, count_dtor), 0);
    done = 1;
}

/* ---- isolation
 * ------------------------------------------------------------------- */

#define MANY 100000
#define ALIVE 5000

static int own_value(void *arg)
{
    intptr_t id = (intptr_t)arg;

    /* A recycled stack must not show the previous owner's value. */
    ck_assert_ptr_null(gt_local_get(key_count));
    ck_assert_int_eq(gt_local_set(key_count, (void *)(id + 1)), 0);
    ck_assert_int_eq(gt_yield(), 0); /* interleave with others */
    ck_assert_int_eq(gt_sleep(id % 3), 0);
    ck_assert_ptr_eq(gt_local_get(key_count), (void *)(id + 1));
    return 0;
}

static void release_on_end(void *sem)
{
    gt_sem_release(sem);
}

static int own_value_counted(void *arg)
{
    void **a = arg;

    gt_co_defer(release_on_end, a[0]);
    return own_value(a[1]);
}

static int t_isolation_bounded(void *arg)
{
    gt_sem alive;
    void *(*args)[2] = calloc(MANY, sizeof(*args));

    (void)arg;
    ck_assert_ptr_nonnull(args);
    gt_sem_init(&alive, ALIVE);
    for (intptr_t i = 0; i < MANY; i++) {
        ck_assert_int_eq(gt_sem_acquire(&alive, GT_NEVER), 0);
        args[i][0] = &alive;
        args[i][1] = (void *)i;
        ck_assert_int_eq(gt_co_spawn(NULL, own_value_counted, args[i]), 0);
    }
    while (atomic_load(&destroyed) < MANY)
        ck_assert_int_eq(gt_sleep(1), 0);
    free(args);
    return 0;
}

START_TEST(locals_are_isolated_across_100000_coroutines)
{
    setup_keys();
    atomic_store(&destroyed, 0);
    ck_assert_int_eq(run_main(t_isolation_bounded, NULL), 0);
    ck_assert_int_eq(atomic_load(&destroyed), MANY);
}
END_TEST

typedef struct worker_check {
    atomic_int ok;
    atomic_int done;
} worker_check;

static worker_check wcheck;

static int per_worker(void *arg)
{
    intptr_t id = (intptr_t)arg;
    int me = gt_worker_id();

    gt_local_set(key_count, (void *)(id + 1));
    for (int i = 0; i < 20; i++) {
        gt_sleep(1);
        if (gt_local_get(key_count) != (void *)(id + 1) || gt_worker_id() != me)
            return 0; /* never migrates, never sees another's value */
    }
    atomic_fetch_add(&wcheck.ok, 1);
    atomic_fetch_add(&wcheck.done, 1);
    return 0;
}

static int t_workers(void *arg)
{
    gt_rt *rt = gt_rt_self();

    (void)arg;
    for (intptr_t i = 0; i < 400; i++)
        ck_assert_int_eq(gt_rt_post(rt, (int)(i % 4), per_worker, (void *)i),
                         0);
    while (atomic_load(&wcheck.done) < 400)
        ck_assert_int_eq(gt_sleep(5), 0);
    return 0;
}

START_TEST(locals_are_isolated_across_worker_threads)
{
    gt_rt_config cfg = {.workers = 4};

    setup_keys();
    atomic_store(&destroyed, 0);
    ck_assert_int_eq(run_main_cfg(&cfg, t_workers, NULL), 0);
    ck_assert_int_eq(atomic_load(&wcheck.ok), 400);
    ck_assert_int_eq(atomic_load(&destroyed), 400);
}
END_TEST

/* ---- destructors on every exit path
 * ---------------------------------------------- */

static char va = 'a', vb = 'b', vd = 'd', ve = 'e';

enum how { RETURN, CANCEL, DEADLINE, IO_AFTER_CANCEL };

static void sleeping_dtor(void *v)
{
    /* I/O in a destructor of a cancelled coroutine still works. */
    trace[ntrace++] = gt_sleep(1) == 0 ? *(char *)v : '!';
}

static gt_local_key key_io;

static int end_by(void *arg)
{
    enum how how = (enum how)(intptr_t)arg;

    ck_assert_int_eq(gt_local_set(key_a, &va), 0);
    ck_assert_int_eq(gt_co_defer(trace_defer, &vd), 0);
    ck_assert_int_eq(gt_local_set(key_b, &vb), 0);
    ck_assert_int_eq(gt_local_set(key_a, &va), 0); /* not a new entry */
    if (how == IO_AFTER_CANCEL)
        ck_assert_int_eq(gt_local_set(key_io, &ve), 0);
    if (how == DEADLINE)
        gt_co_set_deadline(gt_co_self(), gt_deadline_in(5));
    if (how == RETURN)
        return 0;
    return gt_sleep(60 * 1000);
}

static int t_exit_path(void *arg)
{
    gt_co *co;
    int rc;

    ntrace = 0;
    ck_assert_int_eq(gt_co_spawn(&co, end_by, arg), 0);
    ck_assert_int_eq(gt_yield(), 0);
    if ((intptr_t)arg == CANCEL || (intptr_t)arg == IO_AFTER_CANCEL)
        gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    return rc;
}

static void check_exit(enum how how, int expect_rc, const char *expect)
{
    static int io_key_made;

    setup_keys();
    if (!io_key_made++)
        ck_assert_int_eq(gt_local_key_new(&key_io, sleeping_dtor), 0);
    ck_assert_int_eq(run_main(t_exit_path, (void *)(intptr_t)how), expect_rc);
    trace[ntrace] = '\0';
    /* Reverse order of first registration. */
    ck_assert_str_eq(trace, expect);
}

START_TEST(destructors_run_in_reverse_on_return)
{
    check_exit(RETURN, 0, "bda");
}
END_TEST

START_TEST(destructors_run_in_reverse_on_cancel)
{
    check_exit(CANCEL, -ECANCELED, "bda");
}
END_TEST

START_TEST(destructors_run_in_reverse_on_deadline)
{
    check_exit(DEADLINE, -ETIMEDOUT, "bda");
}
END_TEST

START_TEST(destructors_may_do_io_after_a_cancel)
{
    check_exit(IO_AFTER_CANCEL, -ECANCELED, "ebda");
}
END_TEST

static int set_null(void *arg)
{
    (void)arg;
    ck_assert_int_eq(gt_local_set(key_count, &va), 0);
    ck_assert_int_eq(gt_local_set(key_count, NULL), 0);
    ck_assert_int_eq(gt_local_set(-1, &va), -EINVAL);
    ck_assert_int_eq(gt_local_set(63, &va), -EINVAL); /* never created */
    return 0;
}

static int t_null(void *arg)
{
    gt_co *co;

    ck_assert_int_eq(gt_co_spawn(&co, set_null, arg), 0);
    return gt_co_join(co, NULL, GT_NEVER);
}

START_TEST(null_value_skips_the_destructor)
{
    setup_keys();
    atomic_store(&destroyed, 0);
    ck_assert_int_eq(run_main(t_null, NULL), 0);
    ck_assert_int_eq(atomic_load(&destroyed), 0);
    /* Outside any coroutine there is no local. */
    ck_assert_ptr_null(gt_local_get(key_count));
    ck_assert_int_eq(gt_local_set(key_count, &va), -EINVAL);
}
END_TEST

static int many_defers(void *arg)
{
    int *sum = arg;

    for (int i = 0; i < 100; i++) /* beyond the inline cleanup slots */
        ck_assert_ptr_nonnull(gt_co_alloc(64));
    ck_assert_int_eq(gt_co_defer(count_dtor, sum), 0);
    return 0;
}

static int t_defers(void *arg)
{
    gt_co *co;

    ck_assert_int_eq(gt_co_spawn(&co, many_defers, arg), 0);
    return gt_co_join(co, NULL, GT_NEVER);
}

START_TEST(co_alloc_memory_is_freed_at_the_end)
{
    int sum = 0;

    atomic_store(&destroyed, 0);
    /* Leaks would fail the run under ASan's leak checker / valgrind. */
    ck_assert_int_eq(run_main(t_defers, &sum), 0);
    ck_assert_int_eq(atomic_load(&destroyed), 1);
}
END_TEST

void add_runtime_local_tests(Suite *s)
{
    TCase *scale = tcase_create("local_scale");
    TCase *tc = tcase_create("local");

    /* Tagged "scale": under ThreadSanitizer every coroutine is a TSan
     * fiber, and creating and destroying 100,000 of them takes minutes of
     * system time, so scripts/check.sh leaves this case to the ASan run
     * (CK_EXCLUDE_TAGS=scale); the races it could show are the ones the
     * other cases already interleave. */
    tcase_set_tags(scale, "scale");
    tcase_set_timeout(scale, 120);
    tcase_add_test(scale, locals_are_isolated_across_100000_coroutines);
    suite_add_tcase(s, scale);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, locals_are_isolated_across_worker_threads);
    tcase_add_test(tc, destructors_run_in_reverse_on_return);
    tcase_add_test(tc, destructors_run_in_reverse_on_cancel);
    tcase_add_test(tc, destructors_run_in_reverse_on_deadline);
    tcase_add_test(tc, destructors_may_do_io_after_a_cancel);
    tcase_add_test(tc, null_value_skips_the_destructor);
    tcase_add_test(tc, co_alloc_memory_is_freed_at_the_end);
    suite_add_tcase(s, tc);
}
