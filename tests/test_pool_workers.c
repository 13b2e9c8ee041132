/* tests/test_pool_workers.c -- one pool, two workers, against real servers:
 * an idle connection moves to the worker that needs it instead of being
 * closed there and opened again here, a steady two-worker load opens
 * exactly max_open connections, and gt_pool_release() refuses what it must
 * not touch. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool_fixture.h"
#include "util.h"

typedef struct load {
    gt_pool *pool;
    int rounds; /* requests per client */
    atomic_int ok, bad, clients_done;
} load;

static load L;

/* One request: the request-scoped connection, one query, given back. */
static int one_request(gt_pool *p)
{
    gt_db *db;
    gt_rows *r;
    int rc = gt_pool_db(p, &db);

    if (rc == 0)
        rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, GT_NEVER);
    if (rc != 1) {
        fprintf(stderr, "worker %d: %d %s\n", gt_worker_id(), rc,
                rc == GT_EPOOL ? gt_pool_errmsg(p) : gt_db_errmsg(db));
        return -1;
    }
    gt_rows_free(r);
    gt_pool_db_release(p);
    return 0;
}

static int client(void *arg)
{
    (void)arg;
    for (int i = 0; i < L.rounds; i++) {
        if (one_request(L.pool) == 0)
            atomic_fetch_add(&L.ok, 1);
        else
            atomic_fetch_add(&L.bad, 1);
        if (i % 8 == 0) /* let the other worker's clients in */
            gt_sleep(1);
    }
    atomic_fetch_add(&L.clients_done, 1);
    return 0;
}

/* Plain ints, so that a failed assertion prints a readable line. */
static void expect_served(int want)
{
    int bad = atomic_load(&L.bad), ok = atomic_load(&L.ok);

    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(ok, want);
}

static void start_clients(int worker, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(gt_rt_post(gt_rt_self(), worker, client, NULL), 0);
}

static void wait_clients(int n)
{
    while (atomic_load(&L.clients_done) < n)
        ck_assert_int_eq(gt_sleep(5), 0);
}

static void expect_no_churn(gt_pool *p, int max_open)
{
    gt_pool_stats st;

    gt_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.opened, (uint64_t)max_open);
    ck_assert_uint_eq(st.discarded_idle, 0);
    ck_assert_uint_eq(st.discarded_broken, 0);
    ck_assert_uint_eq(st.discarded_lifetime, 0);
    ck_assert_int_le(st.max_open_ever, max_open);
}

/* The server's count of the pool's sessions, asked over a connection of
 * our own (which the count leaves out). */
static int64_t sessions_now(void)
{
    gt_db *probe;
    int64_t n;

    ck_assert_int_eq(gt_db_open(&probe, base_url(), GT_NEVER), 0);
    n = server_sessions(probe);
    gt_db_close(probe);
    return n;
}

static int t_move(void *arg)
{
    gt_db *db[3];
    gt_pool_stats st;

    (void)arg;
    L = (load){.pool = make_pool("max_open=3&acquire_timeout_ms=20000"),
               .rounds = 20};
    /* Worker 0 (this one) opens all three and keeps them idle ... */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gt_pool_acquire(L.pool, &db[i], GT_NEVER), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(gt_pool_release(L.pool, db[i]), 0);
    /* ... so worker 1 can only be served by connections moving over. */
    start_clients(1, 6);
    wait_clients(6);
    expect_served(6 * 20);
    gt_pool_get_stats(L.pool, &st);
    ck_assert_uint_ge(st.moved, 1);
    expect_no_churn(L.pool, 3);
    if (strcmp(backend, "sqlite") != 0)
        ck_assert_int_eq(sessions_now(), 3);
    return 0;
}

START_TEST(idle_connections_move_to_the_worker_that_needs_them)
{
    ck_assert_int_eq(run_pool_test(t_move, 2), 0);
}
END_TEST

static int t_steady(void *arg)
{
    (void)arg;
    L = (load){.pool = make_pool("max_open=4&acquire_timeout_ms=20000"),
               .rounds = 100};
    start_clients(0, 8);
    start_clients(1, 8);
    wait_clients(16);
    expect_served(16 * 100);
    expect_no_churn(L.pool, 4);
    if (strcmp(backend, "sqlite") != 0)
        ck_assert_int_le(sessions_now(), 4);
    return 0;
}

START_TEST(steady_two_worker_load_opens_exactly_max_open)
{
    ck_assert_int_eq(run_pool_test(t_steady, 2), 0);
}
END_TEST

/* ---- gt_pool_release() misuse
 * ------------------------------------------------ */

static int t_release_misuse(void *arg)
{
    gt_pool *p = make_pool("max_open=2"), *other = make_pool("max_open=1");
    gt_db *scoped, *db;

    (void)arg;
    ck_assert_int_eq(gt_pool_release(p, NULL), -EINVAL);
    ck_assert_int_eq(gt_pool_db(p, &scoped), 0);
    /* The request-scoped one goes back at the coroutine's end, not here. */
    ck_assert_int_eq(gt_pool_release(p, scoped), -EINVAL);
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), 0);
    ck_assert_int_eq(gt_pool_release(other, db), -EINVAL);
    ck_assert_int_eq(gt_pool_release(p, db), 0);
    ck_assert_int_eq(gt_pool_release(p, db), -EINVAL); /* twice */
    return 0;
}

START_TEST(release_refuses_what_it_must_not_give_back)
{
    gt_rt *rt;
    gt_pool *p;
    gt_db *db;

    /* Not from a coroutine of the pool's runtime: refused. */
    ck_assert_int_eq(gt_rt_new(&rt, NULL), 0);
    ck_assert_int_eq(gt_pool_new(&p, rt, "sqlite::memory:", NULL, NULL, 0), 0);
    ck_assert_int_eq(gt_pool_db(p, &db), -EINVAL);
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), -EINVAL);
    gt_rt_free(rt);
    gt_pool_free(p);
    ck_assert_int_eq(run_pool_test(t_release_misuse, 1), 0);
}
END_TEST

static gt_db *handed;
static atomic_int foreign_rc = 1;

static int release_elsewhere(void *arg)
{
    atomic_store(&foreign_rc, gt_pool_release(arg, handed));
    return 0;
}

static int t_release_foreign(void *arg)
{
    gt_pool *p = make_pool("max_open=1");
    gt_pool_stats st;

    (void)arg;
    ck_assert_int_eq(gt_pool_acquire(p, &handed, GT_NEVER), 0);
    ck_assert_int_eq(gt_rt_post(gt_rt_self(), 1, release_elsewhere, p), 0);
    while (atomic_load(&foreign_rc) == 1)
        ck_assert_int_eq(gt_sleep(2), 0);
    ck_assert_int_eq(atomic_load(&foreign_rc), -EXDEV);
    gt_pool_get_stats(p, &st);
    ck_assert_int_eq(st.in_use, 1); /* left as it was: still ours */
    ck_assert_int_eq(gt_pool_release(p, handed), 0);
    return 0;
}

static void release_foreign_child(void *arg)
{
    (void)arg;
    _exit(run_pool_test(t_release_foreign, 2) == 0 ? 0 : 1);
}

START_TEST(release_on_another_worker_is_refused)
{
    char err[4096];
    int st = run_child(release_foreign_child, NULL, err, sizeof(err));

#ifdef GT_DEBUG /* the owner rule is asserted */
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "status %#x: %s",
                  st, err);
    ck_assert_ptr_nonnull(strstr(err, "gt__pool_self"));
#else
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x: %s", st,
                  err);
#endif
}
END_TEST

void add_pool_worker_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    bool my = strcmp(which, "mysql") == 0;
    TCase *tc = tcase_create(pg   ? "pool_workers_postgres"
                             : my ? "pool_workers_mysql"
                                  : "pool_workers_sqlite");

    tcase_set_timeout(tc, 120);
    use_backend_of(tc, which);
    tcase_add_test(tc, idle_connections_move_to_the_worker_that_needs_them);
    tcase_add_test(tc, steady_two_worker_load_opens_exactly_max_open);
    if (!pg && !my) {
        tcase_add_test(tc, release_refuses_what_it_must_not_give_back);
        tcase_add_test(tc, release_on_another_worker_is_refused);
    }
    suite_add_tcase(s, tc);
}
