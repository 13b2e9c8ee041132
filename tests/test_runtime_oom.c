/* tests/test_runtime_oom.c -- the runtime's out-of-memory paths, walked by
 * failing each allocation in turn (gt_alloc_fail): a runtime is built, a
 * coroutine spawns a child, sets a local, defers, allocates, watches an
 * fd and runs a side thread. Whichever allocation fails, the operation
 * that needed it reports -ENOMEM, nothing crashes and nothing leaks (ASan's
 * leak check here, valgrind's in the unsanitized run). */
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

static gt_local_key key;

static void free_local(void *p)
{
    free(p);
}

static int child(void *arg)
{
    (void)arg;
    return gt_yield();
}

static int side(void *arg)
{
    (void)arg;
    return 7;
}

static int fd_step(void)
{
    int fd[2], rc;

    if (pipe(fd) != 0)
        return -errno;
    rc = gt_wait_fd(fd[0], GT_READABLE, 0);
    close(fd[0]);
    close(fd[1]);
    return rc == -ETIMEDOUT ? 0 : rc;
}

/* Each step either works or reports -ENOMEM; the first failure ends it. */
static int scenario(void *arg)
{
    gt_co *co;
    void *p;
    int rc;

    (void)arg;
    if ((rc = gt_co_spawn(&co, child, NULL)) < 0)
        return rc;
    if ((rc = gt_co_join(co, NULL, GT_NEVER)) < 0)
        return rc;
    for (int i = 0; i < 12; i++) /* outgrow the inline cleanup slots */
        if ((rc = gt_co_defer(free, NULL)) < 0)
            return rc;
    if (!(p = gt_malloc(16)))
        return -ENOMEM;
    if ((rc = gt_local_set(key, p)) < 0) {
        free(p);
        return rc;
    }
    if (!gt_co_alloc(64))
        return -ENOMEM;
    if ((rc = fd_step()) < 0)
        return rc;
    rc = gt_run_thread(side, NULL, NULL, GT_NEVER);
    return rc == 7 ? 0 : rc;
}

START_TEST(every_runtime_allocation_may_fail_cleanly)
{
    gt_rt_config cfg = {.workers = 1};
    int failed = 0, rc;
    long n, made;

    ck_assert_int_eq(gt_local_key_new(&key, free_local), 0);
    for (n = 1; n < 1000; n++) {
        if (getenv("GT_TEST_VERBOSE"))
            fprintf(stderr, "oom: failing allocation %ld\n", n);
        gt_alloc_fail(n, 0);
        rc = gt_rt_main(&cfg, scenario, NULL);
        made = gt_alloc_fail(0, 0);
        ck_assert_msg(rc == 0 || rc == -ENOMEM, "allocation %ld: rc %d", n, rc);
        failed += rc == -ENOMEM;
        if (made < n)
            break; /* the scenario made fewer than n: all were walked */
    }
    ck_assert_msg(n > 10, "only %ld allocations walked", n);
    ck_assert_int_gt(failed, 5); /* the failures were really seen */
    ck_assert_int_eq(LEAK_CHECK(), 0);
}
END_TEST

void add_runtime_oom_tests(Suite *s)
{
    TCase *tc = tcase_create("oom");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_runtime_allocation_may_fail_cleanly);
    suite_add_tcase(s, tc);
}
