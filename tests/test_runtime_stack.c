/* tests/test_runtime_stack.c -- what issue 9 found broken in the runtime:
 * big frames stepping over the guard, a deep default stack, deep pages
 * kept resident, a stale timer waking the next coroutine, and misuse that
 * used to fail silently. Each test here failed before the fix. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "util.h"

/* ---- a frame larger than a page lands in the guard ------------------------
 */

#define SMALL_STACK (64 * 1024)
#define BIG_FRAME (SMALL_STACK + 8 * 1024)

/* Built without stack-clash probes, as Debian builds user code by default:
 * the prologue moves the stack pointer by the whole frame and the first
 * store is at its lowest byte, 8 KiB below the stack. With a one-page
 * guard that store lands in the mapping below -- the neighbour's stack and
 * control block -- silently. */
__attribute__((noinline, optimize("no-stack-clash-protection"))) static int
big_frame(void)
{
    volatile char buf[BIG_FRAME];

    buf[0] = 1;
    buf[BIG_FRAME - 1] = 2;
    return buf[0] + buf[BIG_FRAME - 1];
}

static int run_big_frame(void *arg)
{
    (void)arg;
    gt_co_set_name(gt_co_self(), "GET /big/:frame");
    ck_assert_int_eq(gt_yield(), 0); /* let the neighbour park first */
    return big_frame();
}

static int park(void *arg)
{
    return gt_waitq_wait(arg, GT_NEVER);
}

static int t_big_frame(void *arg)
{
    gt_waitq q;
    gt_co *a, *b;

    (void)arg;
    gt_waitq_init(&q);
    /* Mapped in this order, b's stack lies right below a's. */
    ck_assert_int_eq(gt_co_spawn(&a, run_big_frame, NULL), 0);
    ck_assert_int_eq(gt_co_spawn(&b, park, &q), 0);
    gt_co_join(a, NULL, GT_NEVER);
    gt_waitq_wake(&q, 1);
    gt_co_join(b, NULL, GT_NEVER);
    return 0;
}

static void big_frame_child(void *arg)
{
    gt_rt_config cfg = {.workers = 1, .stack_size = SMALL_STACK};

    (void)arg;
    run_main_cfg(&cfg, t_big_frame, NULL);
}

START_TEST(a_frame_larger_than_a_page_faults_in_the_guard)
{
    char err[4096];
    int status = run_child(big_frame_child, NULL, err, sizeof(err));

    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "child status %d, stderr: %s", status, err);
    ck_assert_msg(strstr(err, "stack overflow in coroutine") != NULL,
                  "stderr: %s", err);
    ck_assert_msg(strstr(err, "'GET /big/:frame'") != NULL, "stderr: %s", err);
    ck_assert_msg(strstr(err, "(stack of 64 KiB") != NULL, "stderr: %s", err);
}
END_TEST

/* ---- the default stack holds deep recursion ------------------------------ */

static int recurse(volatile char *prev, int depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    if (depth == 0)
        return frame[0];
    return recurse(frame, depth - 1) + frame[511];
}

/* ~600 KiB of frames: ten times the old 64 KiB default. */
static int deep_recursion(void *arg)
{
    (void)arg;
    return recurse(NULL, 1200) > -1 ? 0 : 1;
}

START_TEST(the_default_stack_holds_600_kib_of_frames)
{
    gt_rt_config cfg = {.workers = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, deep_recursion, NULL), 0);
}
END_TEST

/* The body of issue 9's crash: jansson at its own nesting limit, on the
 * default configuration (the release build's old 64 KiB stack overflowed
 * at about 900 levels). */
static int parse_nested(void *arg)
{
    int depth = *(int *)arg;
    char *doc = malloc(2 * (size_t)depth);
    json_error_t err;
    json_t *j;

    memset(doc, '[', (size_t)depth);
    memset(doc + depth, ']', (size_t)depth);
    j = json_loadb(doc, 2 * (size_t)depth, 0, &err);
    free(doc);
    if (!j)
        return -1;
    json_decref(j);
    return 0;
}

START_TEST(jansson_at_its_depth_limit_fits_the_default_stack)
{
    gt_rt_config cfg = {.workers = 1};
    int depth = 2048, deeper = 2049;

    ck_assert_int_eq(run_main_cfg(&cfg, parse_nested, &depth), 0);
    ck_assert_int_eq(run_main_cfg(&cfg, parse_nested, &deeper), -1);
}
END_TEST

/* ---- deep pages of a recycled stack go back to the kernel ---------------- */

#define DEEP_BYTES (1024 * 1024)

#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#else
#define TSAN_BUILD 0
#endif

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int touch_deep(void *arg)
{
    volatile char buf[DEEP_BYTES];

    memset((char *)buf, 1, sizeof(buf));
    *(long *)arg = rss_kib();
    return buf[4096];
}

static int t_trim(void *arg)
{
    gt_rt_stats st;
    long before, deep = 0, after;
    gt_co *co;

    (void)arg;
    before = rss_kib();
    ck_assert_int_eq(gt_co_spawn(&co, touch_deep, &deep), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    gt_rt_get_stats(gt_rt_self(), 0, &st);
    /* The trim timer runs about once a second; wait for it, boundedly. */
    for (int i = 0; i < 100 && st.stack_trims == 0; i++) {
        ck_assert_int_eq(gt_sleep(100), 0);
        gt_rt_get_stats(gt_rt_self(), 0, &st);
    }
    ck_assert_uint_ge(st.stack_trims, 1);
    after = rss_kib();
    /* Valgrind's own memory, and TSan's shadow of the stack (which a trim
     * of the stack itself cannot give back), make RSS meaningless here. */
    if (RUNNING_ON_VALGRIND || TSAN_BUILD)
        return 0;
    ck_assert_msg(deep - before >= 900, "deep %ld before %ld", deep, before);
    ck_assert_msg(after - before <= 256, "after %ld before %ld deep %ld", after,
                  before, deep);
    return 0;
}

START_TEST(deep_pages_of_a_cached_stack_are_given_back)
{
    gt_rt_config cfg = {.workers = 1, .stack_size = 2 * DEEP_BYTES};

    ck_assert_int_eq(run_main_cfg(&cfg, t_trim, NULL), 0);
}
END_TEST

/* ---- a stale timer never wakes the next coroutine ------------------------ */

typedef struct stale {
    gt_waitq q;
    int rc;
} stale;

static int wait_forever(void *arg)
{
    stale *st = arg;

    st->rc = gt_waitq_wait(&st->q, GT_NEVER);
    return 0;
}

static int wake_after(void *arg)
{
    stale *st = arg;

    ck_assert_int_eq(gt_sleep(150), 0);
    gt_waitq_wake(&st->q, 1);
    return 0;
}

static int t_stale_timer(void *arg)
{
    stale st = {.rc = 1};
    gt_co *a, *b;

    (void)arg;
    gt_waitq_init(&st.q);
    /* A parks with no deadline of its own; then gets one, 30 ms ahead,
     * which arms its timer; then is woken at once and ends. */
    ck_assert_int_eq(gt_co_spawn(&a, wait_forever, &st), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_set_deadline(a, gt_deadline_in(30));
    gt_waitq_wake(&st.q, 1);
    ck_assert_int_eq(gt_co_join(a, NULL, GT_NEVER), 0);
    ck_assert_int_eq(st.rc, 0);
    /* B gets A's recycled control block and waits, with no deadline at
     * all, until woken at 150 ms: A's timer must not end that wait. */
    st.rc = 1;
    ck_assert_int_eq(gt_co_spawn(&b, wait_forever, &st), 0);
    ck_assert_ptr_eq(b, a);
    ck_assert_int_eq(gt_co_spawn(NULL, wake_after, &st), 0);
    ck_assert_int_eq(gt_co_join(b, NULL, GT_NEVER), 0);
    ck_assert_int_eq(st.rc, 0);
    return 0;
}

START_TEST(a_deadline_armed_during_a_wait_dies_with_its_coroutine)
{
    ck_assert_int_eq(run_main(t_stale_timer, NULL), 0);
}
END_TEST

/* ---- misuse is reported, not ignored --------------------------------------
 */

typedef struct watch_pair {
    gt_fdwatch w;
    int fd[2];
} watch_pair;

static int first_waiter(void *arg)
{
    watch_pair *p = arg;

    return gt_fdwatch_wait(&p->w, GT_READABLE, gt_deadline_in(2000));
}

static int t_second_waiter(void *arg)
{
    watch_pair p;
    gt_co *first;
    int rc = 0;

    (void)arg;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fd), 0);
    ck_assert_int_eq(gt_fdwatch_open(&p.w, p.fd[0]), 0);
    ck_assert_int_eq(gt_co_spawn(&first, first_waiter, &p), 0);
    ck_assert_int_eq(gt_yield(), 0);
    /* A debug build aborts here; a release build says who is in the way. */
    ck_assert_int_eq(gt_fdwatch_wait(&p.w, GT_READABLE, 0), -EBUSY);
    ck_assert_int_eq(write(p.fd[1], "x", 1), 1);
    ck_assert_int_eq(gt_co_join(first, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, GT_READABLE); /* the first waiter kept its wake */
    gt_fdwatch_close(&p.w);
    close(p.fd[0]);
    close(p.fd[1]);
    return 0;
}

#ifdef GT_DEBUG
static void second_waiter_child(void *arg)
{
    (void)arg;
    run_main(t_second_waiter, NULL);
}

START_TEST(a_second_waiter_on_a_watch_is_refused)
{
    char err[4096];
    int status = run_child(second_waiter_child, NULL, err, sizeof(err));

    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "child status %d, stderr: %s", status, err);
    ck_assert_msg(strstr(err, "Assertion") != NULL, "stderr: %s", err);
}
END_TEST
#else
START_TEST(a_second_waiter_on_a_watch_is_refused)
{
    ck_assert_int_eq(run_main(t_second_waiter, NULL), 0);
}
END_TEST
#endif

static int t_join_twice(void *arg)
{
    gt_co *co;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, deep_recursion, NULL), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    /* The handle is gone; its control block is on the free list. */
    return gt_co_join(co, NULL, GT_NEVER);
}

START_TEST(joining_a_handle_twice_is_refused)
{
    ck_assert_int_eq(run_main(t_join_twice, NULL), -EINVAL);
}
END_TEST

void add_runtime_stack_tests(Suite *s)
{
    TCase *tc = tcase_create("stack");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_frame_larger_than_a_page_faults_in_the_guard);
    tcase_add_test(tc, the_default_stack_holds_600_kib_of_frames);
    tcase_add_test(tc, jansson_at_its_depth_limit_fits_the_default_stack);
    tcase_add_test(tc, deep_pages_of_a_cached_stack_are_given_back);
    tcase_add_test(tc, a_deadline_armed_during_a_wait_dies_with_its_coroutine);
    tcase_add_test(tc, a_second_waiter_on_a_watch_is_refused);
    tcase_add_test(tc, joining_a_handle_twice_is_refused);
    suite_add_tcase(s, tc);
}
