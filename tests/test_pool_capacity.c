/* tests/test_pool_capacity.c -- a pool bigger than the database allows.
 * The seed's failure, reached by a misconfiguration: "too many
 * connections" on connect was taken for an outage and most requests got
 * 503. The user gt_capped of scripts/db.sh may hold 3 connections
 * (PostgreSQL CONNECTION LIMIT 3, MariaDB MAX_USER_CONNECTIONS 3); the
 * pool asks for 8. Every request must still be served, FIFO, by what the
 * database gives, and the pool takes a freed place after its probe
 * interval. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

enum { DB_LIMIT = 3, CLIENTS = 16, ROUNDS = 10 };

static gt_pool *pool;
static atomic_int ok, bad;

static int client(void *arg)
{
    gt_db *db;
    gt_rows *r;

    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int rc = gt_pool_db(pool, &db);

        if (rc == 0)
            rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, GT_NEVER);
        if (rc == 1) {
            gt_rows_free(r);
            atomic_fetch_add(&ok, 1);
        } else {
            fprintf(stderr, "capacity: %d %s\n", rc, gt_pool_errmsg(pool));
            atomic_fetch_add(&bad, 1);
        }
        gt_sleep(2); /* hold it a while: the others must wait */
        gt_pool_db_release(pool);
    }
    return 0;
}

static void run_clients(void)
{
    gt_co *co[CLIENTS];
    int nbad, nok;

    atomic_store(&ok, 0);
    atomic_store(&bad, 0);
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], client, NULL), 0);
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    nbad = atomic_load(&bad);
    nok = atomic_load(&ok);
    ck_assert_int_eq(nbad, 0);
    ck_assert_int_eq(nok, CLIENTS * ROUNDS);
}

static int t_capacity(void *arg)
{
    char err[256];
    gt_db *outsider;
    gt_pool_stats st;
    char *m;

    (void)arg;
    ck_assert_int_eq(
        gt_pool_new(&pool, gt_rt_self(),
                    capped_url("max_open=8&acquire_timeout_ms=20000"), NULL,
                    err, sizeof(err)),
        0);
    keep_pool(pool);
    /* Another client of the same user holds one of the three. */
    ck_assert_int_eq(
        gt_db_open(&outsider, capped_url("max_open=8&acquire_timeout_ms=20000"),
                   GT_NEVER),
        0);
    run_clients();
    gt_pool_get_stats(pool, &st);
    ck_assert_uint_ge(st.capacity_refusals, 1);
    ck_assert_uint_eq(st.connect_errors, 0); /* a limit, not an outage */
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_int_eq(st.cap, DB_LIMIT - 1);
    ck_assert_int_le(st.open, DB_LIMIT - 1);
    m = gt_pool_metrics_new(pool, "capped");
    ck_assert_ptr_nonnull(strstr(m, "greentor_pool_cap{pool=\"capped\"} 2"));
    ck_assert_ptr_nonnull(strstr(m, "greentor_pool_capacity_refusals_total"));
    free(m);
    /* It leaves; once the probe interval (1 s) has passed, the load makes
     * the pool try one more connect and take its place. */
    gt_db_close(outsider);
    for (int i = 0; i < 100 && st.cap < DB_LIMIT; i++) {
        run_clients();
        gt_pool_get_stats(pool, &st);
    }
    ck_assert_int_eq(st.cap, DB_LIMIT);
    ck_assert_uint_eq(st.timeouts, 0);
    return 0;
}

START_TEST(a_database_connection_limit_below_max_open_serves_every_request)
{
    ck_assert_int_eq(run_pool_test(t_capacity, 1), 0);
}
END_TEST

void add_pool_capacity_tests(Suite *s, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    TCase *tc =
        tcase_create(pg ? "pool_capacity_postgres" : "pool_capacity_mysql");

    tcase_set_timeout(tc, 60);
    use_backend_of(tc, which);
    tcase_add_test(
        tc, a_database_connection_limit_below_max_open_serves_every_request);
    suite_add_tcase(s, tc);
}
