/* tests/test_runtime_pools.c -- the offload and driver thread pools.
 *
 * The point of two pools is that one full of stuck calls does not hold up
 * the other. The tests fill a pool with calls parked at a gate the test
 * holds shut, then show that work on the other pool finishes while the
 * gate is still shut, and that a call queued behind the full pool only
 * starts once the gate opens. Nothing here measures time: the order of
 * events is the assertion. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* A gate blocking pool threads until the test opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int gate_entered;   /* calls that reached the gate */
static atomic_int started_closed; /* calls that started while it was shut */

static int wait_at_gate(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    if (!gate_open)
        atomic_fetch_add(&started_closed, 1);
    atomic_fetch_add(&gate_entered, 1);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return 7;
}

static void open_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

/* Checked fixture: every case starts with the gate shut. Without it a
 * run with CK_FORK=no (make valgrind) would find the previous case's gate
 * open, and the next one's await_pool() would wait forever. */
static void shut_gate(void)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = false;
    pthread_mutex_unlock(&gate_lock);
    atomic_store(&gate_entered, 0);
    atomic_store(&started_closed, 0);
}

static bool gate_is_open(void)
{
    bool open;

    pthread_mutex_lock(&gate_lock);
    open = gate_open;
    pthread_mutex_unlock(&gate_lock);
    return open;
}

static int offload_at_gate(void *arg)
{
    (void)arg;
    return gt_run_blocking(wait_at_gate, NULL, GT_NEVER);
}

static int driver_at_gate(void *arg)
{
    (void)arg;
    return gt_run_on(GT_THREADS_DRIVER, wait_at_gate, NULL, GT_NEVER);
}

/* Yield until pool 'which' runs 'running' calls and queues 'queued'. */
static void await_pool(int which, int running, int queued)
{
    gt_rt_thread_stats st;

    for (;;) {
        ck_assert_int_eq(gt_rt_get_thread_stats(gt_rt_self(), which, &st), 0);
        if (st.running == running && st.queued == queued)
            return;
        ck_assert_int_eq(gt_sleep(1), 0);
    }
}

/* An offloaded SQLite statement: the driver pool's work. */
static int sqlite_offload_query(void *arg)
{
    gt_rows *rows;
    gt_db *db;
    int rc;

    (void)arg;
    rc = gt_db_open(&db, "sqlite::memory:?mode=offload", GT_NEVER);
    if (rc < 0)
        return rc;
    rc = gt_db_query(db, &rows, "SELECT 40 + 2", NULL, 0, GT_NEVER);
    if (rc >= 0) { /* the number of rows */
        rc = (int)gt_rows_int(rows, 0, 0);
        gt_rows_free(rows);
    }
    gt_db_close(db);
    return rc;
}

static int t_offload_full(void *arg)
{
    gt_rt_thread_stats st;
    gt_co *co[3];
    int i, rc;

    (void)arg;
    /* Two offload threads, three calls: two at the gate, one queued. */
    for (i = 0; i < 3; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], offload_at_gate, NULL), 0);
    await_pool(GT_THREADS_OFFLOAD, 2, 1);
    /* The driver's statement runs to its end behind a full offload pool. */
    ck_assert_int_eq(sqlite_offload_query(NULL), 42);
    ck_assert(!gate_is_open());
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DRIVER, &st), 0);
    ck_assert_uint_gt(st.done, 0); /* it did run on the driver pool */
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_OFFLOAD, &st), 0);
    ck_assert_int_eq(st.threads, 2);
    ck_assert_int_eq(st.max_threads, 2);
    open_gate();
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, 7);
    }
    /* The third call waited for a thread: the pool never outgrew 2. */
    ck_assert_int_eq(atomic_load(&started_closed), 2);
    ck_assert_int_eq(atomic_load(&gate_entered), 3);
    return 0;
}

START_TEST(full_offload_pool_does_not_delay_driver_work)
{
    gt_rt_config cfg = {.workers = 1, .offload_threads = 2};

    ck_assert_int_eq(run_main_cfg(&cfg, t_offload_full, NULL), 0);
}
END_TEST

static int plus_one(void *arg)
{
    return *(int *)arg + 1;
}

static int t_driver_full(void *arg)
{
    gt_co *gate, *query;
    int n = 41, rc;

    (void)arg;
    /* One driver thread at the gate, an SQLite statement queued behind. */
    ck_assert_int_eq(gt_co_spawn(&gate, driver_at_gate, NULL), 0);
    await_pool(GT_THREADS_DRIVER, 1, 0);
    ck_assert_int_eq(gt_co_spawn(&query, sqlite_offload_query, NULL), 0);
    await_pool(GT_THREADS_DRIVER, 1, 1);
    /* The application's call is not queued behind them. */
    ck_assert_int_eq(gt_run_blocking(plus_one, &n, GT_NEVER), 42);
    ck_assert(!gate_is_open());
    await_pool(GT_THREADS_DRIVER, 1, 1); /* still stuck */
    open_gate();
    ck_assert_int_eq(gt_co_join(gate, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 7);
    ck_assert_int_eq(gt_co_join(query, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 42);
    return 0;
}

START_TEST(full_driver_pool_does_not_delay_offload)
{
    gt_rt_config cfg = {.workers = 1, .driver_threads = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, t_driver_full, NULL), 0);
}
END_TEST

/* ---- gt_run_on() / gt_run_detached(): the pool by name ----------------- */

static atomic_int disposed;

static void count_disposed(void *arg)
{
    (void)arg;
    atomic_fetch_add(&disposed, 1);
}

static int t_run_on(void *arg)
{
    int n = 41, result = 0;

    (void)arg;
    atomic_store(&disposed, 0);
    ck_assert_int_eq(gt_run_on(GT_THREADS_DNS, plus_one, &n, GT_NEVER), 42);
    ck_assert_int_eq(gt_run_on(3, plus_one, &n, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_run_on(-1, plus_one, &n, GT_NEVER), -EINVAL);
    /* Returned in time: the argument is the caller's again, not disposed. */
    ck_assert_int_eq(gt_run_detached(GT_THREADS_OFFLOAD, plus_one, &n,
                                     count_disposed, GT_NEVER, &result),
                     0);
    ck_assert_int_eq(result, 42);
    ck_assert_int_eq(atomic_load(&disposed), 0);
    /* Refused: the argument is disposed of at once, or not at all (NULL). */
    ck_assert_int_eq(
        gt_run_detached(3, plus_one, &n, count_disposed, GT_NEVER, &result),
        -EINVAL);
    ck_assert_int_eq(atomic_load(&disposed), 1);
    ck_assert_int_eq(gt_run_detached(3, plus_one, &n, NULL, GT_NEVER, &result),
                     -EINVAL);
    return 0;
}

START_TEST(run_on_names_the_pool_and_refuses_others)
{
    int n = 1, result;

    ck_assert_int_eq(run_main(t_run_on, NULL), 0);
    /* Outside a coroutine. */
    ck_assert_int_eq(gt_run_on(GT_THREADS_DRIVER, plus_one, &n, GT_NEVER),
                     -EINVAL);
    ck_assert_int_eq(gt_run_detached(GT_THREADS_DNS, plus_one, &n,
                                     count_disposed, GT_NEVER, &result),
                     -EINVAL);
    ck_assert_int_eq(atomic_load(&disposed), 2);
}
END_TEST

/* ---- a queued call leaves the queue on its deadline or cancel ---------- */

static atomic_int late_ran;

static int mark_late(void *arg)
{
    (void)arg;
    atomic_store(&late_ran, 1);
    return 5;
}

static int queued_then_cancelled(void *arg)
{
    (void)arg;
    return gt_run_on(GT_THREADS_DRIVER, mark_late, NULL, GT_NEVER);
}

static int t_withdraw(void *arg)
{
    gt_co *gate, *victim;
    int rc;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&gate, driver_at_gate, NULL), 0);
    await_pool(GT_THREADS_DRIVER, 1, 0);
    /* Queued behind the gate: its deadline takes it off the queue. */
    ck_assert_int_eq(
        gt_run_on(GT_THREADS_DRIVER, mark_late, NULL, gt_deadline_in(5)),
        -ETIMEDOUT);
    await_pool(GT_THREADS_DRIVER, 1, 0);
    /* So does a cancel. */
    ck_assert_int_eq(gt_co_spawn(&victim, queued_then_cancelled, NULL), 0);
    await_pool(GT_THREADS_DRIVER, 1, 1);
    gt_co_cancel(victim);
    ck_assert_int_eq(gt_co_join(victim, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    await_pool(GT_THREADS_DRIVER, 1, 0);
    open_gate();
    ck_assert_int_eq(gt_co_join(gate, &rc, GT_NEVER), 0);
    await_pool(GT_THREADS_DRIVER, 0, 0);
    ck_assert_int_eq(atomic_load(&late_ran), 0);
    /* Already past its deadline or cancelled: not even queued. */
    ck_assert_int_eq(gt_run_on(GT_THREADS_DRIVER, mark_late, NULL, 0),
                     -ETIMEDOUT);
    gt_co_cancel(gt_co_self());
    ck_assert_int_eq(gt_run_on(GT_THREADS_DRIVER, mark_late, NULL, GT_NEVER),
                     -ECANCELED);
    ck_assert_int_eq(atomic_load(&late_ran), 0);
    return 0;
}

START_TEST(queued_call_is_withdrawn_on_deadline_or_cancel)
{
    gt_rt_config cfg = {.workers = 1, .driver_threads = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, t_withdraw, NULL), 0);
}
END_TEST

/* ---- sizes from the config and the environment ------------------------ */

static int pool_sizes(const gt_rt_config *cfg, int *offload, int *driver)
{
    gt_rt_thread_stats st;
    gt_rt *rt;
    int rc = gt_rt_new(&rt, cfg);

    if (rc < 0)
        return rc;
    ck_assert_int_eq(gt_rt_get_thread_stats(rt, GT_THREADS_OFFLOAD, &st), 0);
    *offload = st.max_threads;
    ck_assert_int_eq(st.threads, 0); /* started on demand only */
    ck_assert_int_eq(gt_rt_get_thread_stats(rt, GT_THREADS_DRIVER, &st), 0);
    *driver = st.max_threads;
    ck_assert_int_eq(gt_rt_get_thread_stats(rt, GT_THREADS_DNS, &st), 0);
    ck_assert_int_eq(
        st.max_threads,
        cfg && cfg->dns_threads
            ? cfg->dns_threads
            : (getenv("GT_DNS_THREADS") ? atoi(getenv("GT_DNS_THREADS")) : 4));
    ck_assert_int_eq(gt_rt_get_thread_stats(rt, 3, &st), -EINVAL);
    gt_rt_free(rt);
    return 0;
}

START_TEST(pool_sizes_come_from_config_then_environment)
{
    gt_rt_config cfg = {.workers = 1};
    int off, drv;

    unsetenv("GT_OFFLOAD_THREADS");
    unsetenv("GT_DRIVER_THREADS");
    unsetenv("GT_DNS_THREADS");
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), 0);
    ck_assert_int_eq(off, 4);
    ck_assert_int_eq(drv, 4);
    setenv("GT_OFFLOAD_THREADS", "9", 1);
    setenv("GT_DRIVER_THREADS", "3", 1);
    setenv("GT_DNS_THREADS", "2", 1);
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), 0);
    ck_assert_int_eq(off, 9);
    ck_assert_int_eq(drv, 3);
    cfg.offload_threads = 2; /* the config wins */
    cfg.driver_threads = 1024;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), 0);
    ck_assert_int_eq(off, 2);
    ck_assert_int_eq(drv, 1024);
    unsetenv("GT_OFFLOAD_THREADS");
    unsetenv("GT_DRIVER_THREADS");
    unsetenv("GT_DNS_THREADS");
}
END_TEST

START_TEST(bad_pool_sizes_are_refused)
{
    static const char *const bad_env[] = {"", "x", "0", "-1", "1025", "4k"};
    gt_rt_config cfg = {.workers = 1};
    int off, drv;
    size_t i;

    cfg.offload_threads = -1;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
    cfg.offload_threads = 1025;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
    cfg.offload_threads = 0;
    cfg.driver_threads = -3;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
    cfg.driver_threads = 0;
    cfg.dns_threads = 1025;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
    cfg.dns_threads = 0;
    for (i = 0; i < sizeof(bad_env) / sizeof(bad_env[0]); i++) {
        setenv("GT_OFFLOAD_THREADS", bad_env[i], 1);
        ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
        unsetenv("GT_OFFLOAD_THREADS");
        setenv("GT_DRIVER_THREADS", bad_env[i], 1);
        ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
        unsetenv("GT_DRIVER_THREADS");
        setenv("GT_DNS_THREADS", bad_env[i], 1);
        ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), -EINVAL);
        unsetenv("GT_DNS_THREADS");
    }
    /* A config value set means the environment is not even read. */
    setenv("GT_OFFLOAD_THREADS", "x", 1);
    cfg.offload_threads = 1;
    ck_assert_int_eq(pool_sizes(&cfg, &off, &drv), 0);
    unsetenv("GT_OFFLOAD_THREADS");
}
END_TEST

/* ---- no thread can be started ------------------------------------------ */

static int t_no_thread(void *arg)
{
    gt_rt_thread_stats st;
    int n = 1;

    (void)arg;
    ck_assert_int_eq(gt_run_blocking(plus_one, &n, GT_NEVER), -EAGAIN);
    ck_assert_int_eq(gt_run_on(GT_THREADS_DRIVER, plus_one, &n, GT_NEVER),
                     -EAGAIN);
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_OFFLOAD, &st), 0);
    ck_assert_int_eq(st.threads, 0);
    ck_assert_int_eq(st.queued, 0);
    return 0;
}

/* In a child process whose user may run no more threads: as root, drop to
 * nobody first, since root may ignore RLIMIT_NPROC. */
static void no_thread_child(void *arg)
{
    struct rlimit one = {1, 1};
    gt_rt_config cfg = {.workers = 1};

    (void)arg;
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(3);
    if (setrlimit(RLIMIT_NPROC, &one) != 0)
        _exit(4);
    _exit(run_main_cfg(&cfg, t_no_thread, NULL) == 0 ? 0 : 5);
}

START_TEST(no_thread_for_a_call_fails_with_eagain)
{
    char err[4096];
    int st = run_child(no_thread_child, NULL, err, sizeof(err));

    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st,
                  err);
}
END_TEST

/* ---- PostgreSQL connects behind a full offload pool -------------------- */

/* The test server's URL with "localhost" for 127.0.0.1, so that the
 * connect resolves a name as well as polling, both on the driver pool. */
static void pg_url_by_name(char *buf, size_t cap)
{
    const char *url = getenv("GT_TEST_PG_URL");
    const char *at;

    ck_assert_msg(url != NULL, "GT_TEST_PG_URL not set (scripts/db.sh env)");
    at = strstr(url, "@127.0.0.1:");
    ck_assert_ptr_nonnull(at);
    snprintf(buf, cap, "%.*s@localhost:%s", (int)(at - url), url,
             at + strlen("@127.0.0.1:"));
}

static int t_pg_connect(void *arg)
{
    const char *url = arg;
    gt_rt_thread_stats before, after;
    gt_co *co;
    gt_db *db;
    int rc;

    ck_assert_int_eq(gt_co_spawn(&co, offload_at_gate, NULL), 0);
    await_pool(GT_THREADS_OFFLOAD, 1, 0);
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DRIVER, &before), 0);
    rc = gt_db_open(&db, url, GT_NEVER);
    ck_assert_msg(rc == 0, "connect: %s", gt_strerror(rc));
    ck_assert_int_ge(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), 0);
    gt_db_close(db);
    ck_assert(!gate_is_open());
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DRIVER, &after), 0);
    /* At least the name lookup and one connect poll ran there. */
    ck_assert_uint_ge(after.done, before.done + 2);
    open_gate();
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 7);
    return 0;
}

START_TEST(pg_connects_behind_a_full_offload_pool)
{
    gt_rt_config cfg = {.workers = 1, .offload_threads = 1};
    char url[512];

    pg_url_by_name(url, sizeof(url));
    ck_assert_int_eq(run_main_cfg(&cfg, t_pg_connect, url), 0);
}
END_TEST

void add_db_pools_tests(Suite *s)
{
    TCase *tc = tcase_create("pg_pools");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, shut_gate, NULL);
    tcase_add_test(tc, pg_connects_behind_a_full_offload_pool);
    suite_add_tcase(s, tc);
}

void add_runtime_pools_tests(Suite *s)
{
    TCase *tc = tcase_create("pools");

    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, shut_gate, NULL);
    tcase_add_test(tc, full_offload_pool_does_not_delay_driver_work);
    tcase_add_test(tc, full_driver_pool_does_not_delay_offload);
    tcase_add_test(tc, queued_call_is_withdrawn_on_deadline_or_cancel);
    tcase_add_test(tc, run_on_names_the_pool_and_refuses_others);
    tcase_add_test(tc, pool_sizes_come_from_config_then_environment);
    tcase_add_test(tc, bad_pool_sizes_are_refused);
    tcase_add_test(tc, no_thread_for_a_call_fails_with_eagain);
    suite_add_tcase(s, tc);
}
