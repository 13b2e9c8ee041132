/* tests/test_pool.c -- the connection pool against real PostgreSQL, MariaDB
 * and SQLite: isolation, every exit path returning the connection, the
 * hard cap seen from the server, FIFO waiters, failed connects, an outage
 * and recovery, leak reports, and workers sharing one cap. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "greentor/pool.h"
#include "pool_fixture.h"
#include "util.h"

static const char *sleep_sql(void)
{
    if (strcmp(backend, "postgres") == 0)
        return "SELECT pg_sleep(5)";
    if (strcmp(backend, "mysql") == 0)
        return "SELECT SLEEP(5)";
    return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
           "WHERE x < 1000000000) SELECT count(*) FROM c";
}

typedef struct ctx {
    gt_pool *pool;
    int id;
    int order[64];
    int norder;
    int ok, epool, other;
    int hold_ms;
} ctx;

static void with_table(gt_pool *p, const char *name)
{
    gt_db *db;
    char sql[256];

    ck_assert_int_eq(gt_pool_db(p, &db), 0);
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    exec_ok(db, sql);
    snprintf(sql, sizeof(sql),
             "CREATE TABLE %s (id INT PRIMARY KEY, "
             "val VARCHAR(64))",
             name);
    exec_ok(db, sql);
    gt_pool_db_release(p);
}

/* At rest once the connections given back have been cleaned (a rollback
 * or a reset runs in a coroutine of the pool's, after the release). */
static void expect_at_rest(gt_pool *p)
{
    gt_pool_stats st;

    wait_cleaned(p, &st);
    ck_assert_int_eq(st.cleaning, 0);
    ck_assert_int_eq(st.in_use, 0);
    ck_assert_int_eq(st.waiters, 0);
    ck_assert_int_le(st.open, st.idle + st.in_use);
}

/* ---- isolation
 * ------------------------------------------------------------------ */

typedef struct iso {
    gt_pool *pool;
    int id;
    int *ok;
} iso;

static int isolated_writer(void *arg)
{
    iso *a = arg;
    gt_db *db, *again;
    gt_db_value params[2];
    char mine[32];
    gt_rows *r;

    snprintf(mine, sizeof(mine), "value-%d", a->id);
    ck_assert_int_eq(gt_pool_db(a->pool, &db), 0);
    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    params[0] = gt_db_int(a->id);
    params[1] = gt_db_text(mine);
    ck_assert_int_eq(gt_db_exec(db,
                                "INSERT INTO pool_iso (id, val) VALUES "
                                "(?, ?)",
                                params, 2, GT_NEVER),
                     1);
    ck_assert_int_eq(gt_sleep(1 + a->id % 3), 0);
    /* A helper asking again gets the same connection (same transaction). */
    ck_assert_int_eq(gt_pool_db(a->pool, &again), 0);
    ck_assert_ptr_eq(again, db);
    ck_assert_int_eq(gt_db_query(db, &r,
                                 "SELECT val FROM pool_iso WHERE "
                                 "id = ?",
                                 params, 1, GT_NEVER),
                     1);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, NULL), mine);
    gt_rows_free(r);
    ck_assert_int_eq(gt_db_commit(db, GT_NEVER), 0);
    (*a->ok)++;
    return 0;
}

static int t_isolation(void *arg)
{
    gt_pool *p = make_pool("max_open=8&acquire_timeout_ms=30000");
    static iso args[1000];
    gt_co *co[1000];
    int ok = 0;
    gt_pool_stats st;

    (void)arg;
    with_table(p, "pool_iso");
    for (int i = 0; i < 1000; i++) {
        args[i] = (iso){p, i, &ok};
        ck_assert_int_eq(gt_co_spawn(&co[i], isolated_writer, &args[i]), 0);
    }
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_eq(ok, 1000);
    gt_pool_get_stats(p, &st);
    ck_assert_int_le(st.max_open_ever, 8);
    expect_at_rest(p);
    return 0;
}

START_TEST(isolation_1000_coroutines_each_see_their_own_value)
{
    ck_assert_int_eq(run_pool_test(t_isolation, 1), 0);
}
END_TEST

/* ---- session state
 * ----------------------------------------------------------------- */

static int leave_session_state(void *arg)
{
    gt_db *db;

    ck_assert_int_eq(gt_pool_db(arg, &db), 0);
    exec_ok(db, "CREATE TEMPORARY TABLE pool_leak (x INT)");
    return 0;
}

static int see_session_state(void *arg)
{
    gt_db *db;
    gt_rows *r = NULL;
    int rc;

    ck_assert_int_eq(gt_pool_db(arg, &db), 0);
    rc = gt_db_query(db, &r, "SELECT x FROM pool_leak", NULL, 0, GT_NEVER);
    gt_rows_free(r);
    return rc;
}

static int t_session(void *arg)
{
    gt_pool *p = make_pool("max_open=1");
    gt_co *co;
    int rc;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&co, leave_session_state, p), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_spawn(&co, see_session_state, p), 0);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, GT_EDB); /* the temporary table is gone */
    expect_at_rest(p);
    return 0;
}

START_TEST(session_state_never_leaks_to_the_next_request)
{
    ck_assert_int_eq(run_pool_test(t_session, 1), 0);
}
END_TEST

/* ---- exit paths
 * ---------------------------------------------------------------------- */

enum exit_how { BY_RETURN, BY_ERROR, BY_OPEN_TX, BY_CANCEL, BY_DEADLINE };

typedef struct exiter {
    gt_pool *pool;
    enum exit_how how;
} exiter;

static int exit_by(void *arg)
{
    exiter *e = arg;
    gt_db *db;
    gt_db_value id = gt_db_int(77);

    ck_assert_int_eq(gt_pool_db(e->pool, &db), 0);
    switch (e->how) {
    case BY_RETURN:
        return 0;
    case BY_ERROR:
        return gt_db_exec(db, "SELEC nonsense", NULL, 0, GT_NEVER) < 0 ? -1 : 0;
    case BY_OPEN_TX:
        ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
        ck_assert_int_eq(gt_db_exec(db,
                                    "INSERT INTO pool_exit (id, val) "
                                    "VALUES (?, 'x')",
                                    &id, 1, GT_NEVER),
                         1);
        return 0; /* forgot to commit */
    case BY_DEADLINE:
        gt_co_set_deadline(gt_co_self(), gt_deadline_in(100));
        return (int)gt_db_exec(db, sleep_sql(), NULL, 0, GT_NEVER);
    case BY_CANCEL:
        return (int)gt_db_exec(db, sleep_sql(), NULL, 0, GT_NEVER);
    }
    return 0;
}

static int count_rows(gt_pool *p, const char *sql)
{
    gt_db *db;
    gt_rows *r;
    int n;

    ck_assert_int_eq(gt_pool_db(p, &db), 0);
    ck_assert_int_eq(gt_db_query(db, &r, sql, NULL, 0, GT_NEVER), 1);
    n = (int)gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    gt_pool_db_release(p);
    return n;
}

static int t_exit_paths(void *arg)
{
    gt_pool *p = make_pool("max_open=2");
    gt_pool_stats st;
    gt_co *co;
    int rc;

    (void)arg;
    with_table(p, "pool_exit");
    for (int how = BY_RETURN; how <= BY_DEADLINE; how++) {
        exiter e = {p, (enum exit_how)how};

        ck_assert_int_eq(gt_co_spawn(&co, exit_by, &e), 0);
        if (how == BY_CANCEL) {
            ck_assert_int_eq(gt_sleep(100), 0);
            gt_co_cancel(co);
        }
        ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
        if (how == BY_CANCEL)
            ck_assert_int_eq(rc, -ECANCELED);
        if (how == BY_DEADLINE)
            ck_assert_int_eq(rc, -ETIMEDOUT);
        expect_at_rest(p);
    }
    /* The abandoned transaction was rolled back: its row is absent. */
    ck_assert_int_eq(count_rows(p, "SELECT COUNT(*) FROM pool_exit"), 0);
    gt_pool_get_stats(p, &st);
    ck_assert_uint_ge(st.rollbacks, 1);
    ck_assert_int_le(st.max_open_ever, 2);
    return 0;
}

START_TEST(every_exit_path_returns_the_connection)
{
    ck_assert_int_eq(run_pool_test(t_exit_paths, 1), 0);
}
END_TEST

/* ---- exhaustion and the cap
 * -------------------------------------------------------- */

static int busy_request(void *arg)
{
    ctx *c = arg;
    gt_db *db;
    int rc = gt_pool_db(c->pool, &db);

    if (rc == GT_EPOOL) {
        c->epool++;
        return 0;
    }
    if (rc == 0 && gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER) >= 0 &&
        gt_sleep(c->hold_ms) == 0) {
        c->ok++;
        return 0;
    }
    c->other++;
    return 0;
}

static int run_load(ctx *c, int n, gt_db *probe, int64_t *max_seen)
{
    gt_co **co = calloc((size_t)n, sizeof(*co));

    ck_assert_ptr_nonnull(co);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], busy_request, c), 0);
    for (int i = 0; i < n; i++) {
        if (probe && i % 20 == 0) {
            int64_t s = server_sessions(probe);

            *max_seen = s > *max_seen ? s : *max_seen;
        }
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    }
    free(co);
    return 0;
}

static int t_exhaustion(void *arg)
{
    ctx c = {.hold_ms = 5};
    gt_db *probe = NULL;
    int64_t max_seen = 0;
    gt_pool_stats st;

    (void)arg;
    if (strcmp(backend, "sqlite") != 0)
        ck_assert_int_eq(gt_db_open(&probe, base_url(), GT_NEVER), 0);
    c.pool = make_pool("max_open=4&acquire_timeout_ms=20000");
    run_load(&c, 200, probe, &max_seen);
    ck_assert_int_eq(c.ok, 200);
    ck_assert_int_le(max_seen, 4);
    /* Now with a short acquire timeout: some get GT_EPOOL, none hang. */
    c = (ctx){.hold_ms = 100};
    c.pool = make_pool("max_open=4&acquire_timeout_ms=150");
    run_load(&c, 200, probe, &max_seen);
    ck_assert_int_eq(c.ok + c.epool, 200);
    ck_assert_int_gt(c.epool, 0);
    ck_assert_int_eq(c.other, 0);
    ck_assert_int_le(max_seen, 4 + 4); /* the first pool's idle ones */
    gt_pool_get_stats(c.pool, &st);
    ck_assert_int_le(st.max_open_ever, 4);
    ck_assert_uint_eq(st.timeouts, (uint64_t)c.epool);
    gt_db_close(probe);
    return 0;
}

START_TEST(exhaustion_never_exceeds_max_open)
{
    ck_assert_int_eq(run_pool_test(t_exhaustion, 1), 0);
}
END_TEST

static int ordered_waiter(void *arg)
{
    ctx *c = arg;
    int me = c->id++;
    gt_db *db;

    ck_assert_int_eq(gt_pool_db(c->pool, &db), 0);
    c->order[c->norder++] = me;
    return 0;
}

static int t_fifo(void *arg)
{
    ctx c = {0};
    gt_db *held;
    gt_co *co[6];
    gt_pool_stats st;

    (void)arg;
    c.pool = make_pool("max_open=1&acquire_timeout_ms=20000");
    ck_assert_int_eq(gt_pool_acquire(c.pool, &held, GT_NEVER), 0);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(gt_co_spawn(&co[i], ordered_waiter, &c), 0);
        ck_assert_int_eq(gt_yield(), 0); /* queue in spawn order */
    }
    /* One that gives up leaves the queue without taking a connection. */
    gt_db *quitter;
    ck_assert_int_eq(gt_pool_acquire(c.pool, &quitter, gt_deadline_in(20)),
                     GT_EPOOL);
    gt_pool_release(c.pool, held);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(c.order[i], i);
    gt_pool_get_stats(c.pool, &st);
    ck_assert_int_eq(st.open, 1); /* nothing was lost or added */
    ck_assert_int_eq(st.idle, 1);
    return 0;
}

START_TEST(waiters_are_served_in_fifo_order)
{
    ck_assert_int_eq(run_pool_test(t_fifo, 1), 0);
}
END_TEST

/* ---- failing connects
 * ------------------------------------------------------------------- */

static int t_failed_connect(void *arg)
{
    const char *bad = strcmp(backend, "postgres") == 0
                          ? "postgres://greentor:greentor@127.0.0.1:1/x"
                          : "mysql://greentor:greentor@127.0.0.1:1/x";
    gt_pool *p;
    gt_db *db;
    gt_pool_stats st;
    char err[128];

    (void)arg;
    ck_assert_int_eq(gt_pool_new(&p, gt_rt_self(), bad, NULL, err, sizeof(err)),
                     0);
    keep_pool(p);
    ck_assert_int_eq(gt_pool_db(p, &db), GT_EPOOL);
    ck_assert_ptr_nonnull(strstr(gt_pool_errmsg(p), "connect"));
    /* Failing fast now: no second connect during the back-off. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), GT_EPOOL);
    gt_pool_get_stats(p, &st);
    ck_assert_uint_eq(st.connect_errors, 1);
    ck_assert_int_eq(st.open, 0); /* every failed connect gave its slot back */
    return 0;
}

START_TEST(failed_connect_gives_its_slot_back_and_backs_off)
{
    ck_assert_int_eq(run_pool_test(t_failed_connect, 1), 0);
}
END_TEST

/* ---- an outage
 * -------------------------------------------------------------------------- */

static int restart_server(void *arg)
{
    char cmd[128];

    (void)arg;
    snprintf(cmd, sizeof(cmd),
             "bash scripts/db.sh restart %s >/dev/null "
             "2>&1",
             strcmp(backend, "postgres") == 0 ? "pg" : "mysql");
    return system(cmd);
}

static int query_loop(void *arg)
{
    ctx *c = arg;

    while (c->hold_ms >= 0) {
        gt_db *db;
        int rc = gt_pool_db(c->pool, &db);

        if (rc == 0 &&
            gt_db_exec(db, "SELECT 1", NULL, 0, gt_deadline_in(2000)) >= 0)
            c->ok++;
        else
            c->epool++;
        gt_pool_db_release(c->pool);
        gt_sleep(5);
    }
    return 0;
}

static int t_outage(void *arg)
{
    ctx c = {.hold_ms = 0};
    gt_co *co[8];
    int before, after;
    int64_t t0;

    (void)arg;
    c.pool = make_pool("max_open=4&backoff_max_ms=500&validate_idle_ms=0");
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], query_loop, &c), 0);
    ck_assert_int_eq(gt_sleep(300), 0);
    ck_assert_int_gt(c.ok, 0);
    ck_assert_int_eq(gt_run_blocking(restart_server, NULL, GT_NEVER), 0);
    /* Recovery: queries succeed again within seconds. */
    before = c.ok;
    t0 = gt_now();
    while (c.ok < before + 50 && gt_now() - t0 < 15000)
        ck_assert_int_eq(gt_sleep(50), 0);
    after = c.ok;
    c.hold_ms = -1;
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_ge(after, before + 50);
    expect_at_rest(c.pool);
    return 0;
}

START_TEST(database_restart_mid_load_recovers)
{
    ck_assert_int_eq(run_pool_test(t_outage, 1), 0);
}
END_TEST

/* ---- leak report
 * ------------------------------------------------------------------------- */

static int hold_too_long(void *arg)
{
    gt_pool *p = make_pool("leak_threshold_ms=100");
    gt_db *db;

    (void)arg;
    fprintf(stderr, "expect-line:%d\n", __LINE__ + 1);
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), 0);
    ck_assert_int_eq(gt_sleep(2500), 0);
    gt_pool_release(p, db);
    return 0;
}

static void leak_child(void *arg)
{
    (void)arg;
    run_pool_test(hold_too_long, 1);
}

START_TEST(leak_is_reported_once_with_file_and_line)
{
    char err[4096], *first, want[64], *at;
    int status = run_child(leak_child, NULL, err, sizeof(err));

    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", err);
    first = strstr(err, "greentor: pool: connection held for");
    ck_assert_msg(first != NULL, "stderr: %s", err);
    ck_assert_ptr_null(strstr(first + 1, "greentor: pool: connection held"));
    at = strstr(err, "expect-line:");
    ck_assert_ptr_nonnull(at);
    snprintf(want, sizeof(want), "test_pool.c:%d", atoi(at + 12));
    ck_assert_msg(strstr(first, want) != NULL, "stderr: %s", err);
}
END_TEST

/* ---- workers share the cap
 * ------------------------------------------------------------------ */

typedef struct shared_cap {
    gt_pool *pool;
    atomic_int ok, done, bad;
} shared_cap;

static shared_cap cap;

static int cross_worker(void *arg)
{
    gt_db *db;
    gt_rows *r;

    int rc;

    (void)arg;
    rc = gt_pool_db(cap.pool, &db);
    if (rc == 0)
        rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, GT_NEVER);
    if (rc == 1) {
        gt_rows_free(r);
        atomic_fetch_add(&cap.ok, 1);
    } else {
        fprintf(stderr, "worker %d: %d %s / %s\n", gt_worker_id(), rc,
                gt_pool_errmsg(cap.pool), rc == GT_EDB ? gt_db_errmsg(db) : "");
        atomic_fetch_add(&cap.bad, 1);
    }
    atomic_fetch_add(&cap.done, 1);
    return 0;
}

static int t_workers(void *arg)
{
    gt_pool_stats st;

    (void)arg;
    cap.pool = make_pool("max_open=2&acquire_timeout_ms=20000");
    /* Warm worker 0 so it holds the idle connections ... */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_rt_post(gt_rt_self(), 0, cross_worker, NULL), 0);
    while (atomic_load(&cap.done) < 4)
        ck_assert_int_eq(gt_sleep(5), 0);
    /* ... then worker 1 must get one by making worker 0 shed. */
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(gt_rt_post(gt_rt_self(), i % 2, cross_worker, NULL),
                         0);
    while (atomic_load(&cap.done) < 204)
        ck_assert_int_eq(gt_sleep(5), 0);
    ck_assert_int_eq(atomic_load(&cap.bad), 0);
    gt_pool_get_stats(cap.pool, &st);
    ck_assert_int_le(st.max_open_ever, 2);
    ck_assert_int_le(st.open, 2);
    return 0;
}

START_TEST(workers_share_one_cap)
{
    ck_assert_int_eq(run_pool_test(t_workers, 2), 0);
}
END_TEST

static int t_metrics(void *arg)
{
    gt_pool *p = make_pool("max_open=3");
    char *m;

    (void)arg;
    ck_assert_int_eq(count_rows(p, "SELECT 1"), 1);
    m = gt_pool_metrics_new(p, "main");
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "greentor_pool_max_open{pool=\"main\"} 3"));
    ck_assert_ptr_nonnull(
        strstr(m, "greentor_pool_acquired_total{pool=\"main\"} 1"));
    ck_assert_ptr_nonnull(strstr(m, "# TYPE greentor_pool_open gauge"));
    free(m);
    return 0;
}

START_TEST(metrics_are_prometheus_text)
{
    ck_assert_int_eq(run_pool_test(t_metrics, 1), 0);
}
END_TEST

START_TEST(bad_pool_options_are_clear_errors)
{
    gt_rt *rt;
    gt_pool *p;
    char err[256];

    ck_assert_int_eq(gt_rt_new(&rt, NULL), 0);
    ck_assert_int_eq(gt_pool_new(&p, rt, "sqlite::memory:?max_open=x", NULL,
                                 err, sizeof(err)),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "max_open"));
    ck_assert_int_eq(gt_pool_new(&p, rt,
                                 "sqlite::memory:?min_idle=5&"
                                 "max_open=2",
                                 NULL, err, sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(gt_pool_new(&p, rt,
                                 "sqlite::memory:?reset_on_release="
                                 "sometimes",
                                 NULL, err, sizeof(err)),
                     -EINVAL);
    ck_assert_int_eq(gt_pool_new(&p, rt, "nosuch://x", NULL, err, sizeof(err)),
                     -EPROTONOSUPPORT);
    gt_rt_free(rt);
}
END_TEST

/* A program that gives up before running its runtime (a listen failed,
 * say) frees what it made in either order: the runtime's posted tasks and
 * stop hooks still run at gt_rt_free(), and must not find the pool gone
 * (ASan reports the use after free that this used to be). */
START_TEST(a_pool_freed_before_its_runtime_ever_ran_is_safe)
{
    gt_rt_config cfg = {.workers = 2};
    gt_rt *rt;
    gt_pool *p;

    ck_assert_int_eq(gt_rt_new(&rt, &cfg), 0);
    ck_assert_int_eq(gt_pool_new(&p, rt, base_url(), NULL, NULL, 0), 0);
    gt_pool_free(p); /* pool first */
    gt_rt_free(rt);
    ck_assert_int_eq(gt_rt_new(&rt, &cfg), 0);
    ck_assert_int_eq(gt_pool_new(&p, rt, base_url(), NULL, NULL, 0), 0);
    gt_rt_free(rt); /* runtime first */
    gt_pool_free(p);
}
END_TEST

void add_pool_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    bool my = strcmp(which, "mysql") == 0;
    /* Check keeps the name pointer: string literals only. */
    TCase *tc = tcase_create(pg   ? "pool_postgres"
                             : my ? "pool_mysql"
                                  : "pool_sqlite");

    tcase_set_timeout(tc, 120);
    use_backend_of(tc, which);
    tcase_add_test(tc, isolation_1000_coroutines_each_see_their_own_value);
    tcase_add_test(tc, session_state_never_leaks_to_the_next_request);
    tcase_add_test(tc, every_exit_path_returns_the_connection);
    tcase_add_test(tc, exhaustion_never_exceeds_max_open);
    tcase_add_test(tc, waiters_are_served_in_fifo_order);
    tcase_add_test(tc, workers_share_one_cap);
    tcase_add_test(tc, metrics_are_prometheus_text);
    tcase_add_test(tc, leak_is_reported_once_with_file_and_line);
    if (strcmp(which, "sqlite") == 0) {
        tcase_add_test(tc, bad_pool_options_are_clear_errors);
        tcase_add_test(tc, a_pool_freed_before_its_runtime_ever_ran_is_safe);
    } else {
        tcase_add_test(tc, failed_connect_gives_its_slot_back_and_backs_off);
        tcase_add_test(tc, database_restart_mid_load_recovers);
    }
    suite_add_tcase(s, tc);
}
