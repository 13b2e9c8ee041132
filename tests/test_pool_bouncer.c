/* tests/test_pool_bouncer.c -- pools through PgBouncer in transaction
 * pooling mode (scripts/db.sh starts it with a pool of 8 server
 * connections). Two pools of max_open=16 stand for two greentor processes:
 * 32 client connections share PgBouncer's 8, so PostgreSQL never sees more
 * than 8 of them, and with stmt_cache=0 (unnamed statements, which survive
 * the change of server connection between transactions) nothing fails. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "util.h"

enum { BOUNCER_POOL = 8, CLIENTS = 64, ROUNDS = 10 };

static gt_pool *pools2[2];
static atomic_int ok, bad, running;
static int64_t max_seen;

static const char *bouncer_url(void)
{
    static char buf[512];
    const char *u = getenv("GT_TEST_BOUNCER_URL");

    ck_assert_msg(u != NULL, "no GT_TEST_BOUNCER_URL: run `eval \"$(scripts/"
                             "db.sh start)\"` first");
    snprintf(buf, sizeof(buf),
             "%s?stmt_cache=0&max_open=16&"
             "acquire_timeout_ms=20000",
             u);
    return buf;
}

/* A parameterised read, and a write in an explicit transaction. */
static int one_request(gt_pool *p, int n)
{
    gt_db_value v = gt_db_int(n);
    gt_db *db;
    gt_rows *r;
    int rc = gt_pool_db(p, &db);

    if (rc == 0)
        rc = gt_db_query(db, &r, "SELECT ? + 1", &v, 1, GT_NEVER);
    if (rc == 1) {
        rc = gt_rows_int(r, 0, 0) == n + 1 ? 0 : -1;
        gt_rows_free(r);
    }
    if (rc == 0 && (rc = gt_db_begin(db, GT_NEVER)) == 0) {
        rc = (int)gt_db_exec(db, "INSERT INTO bouncer_t (n) VALUES (?)", &v, 1,
                             GT_NEVER);
        rc = rc == 1 ? gt_db_commit(db, GT_NEVER) : -1;
    }
    if (rc != 0)
        fprintf(stderr, "bouncer: %d %s\n", rc,
                rc == GT_EPOOL ? gt_pool_errmsg(p) : gt_db_errmsg(db));
    gt_pool_db_release(p);
    return rc;
}

static int client(void *arg)
{
    gt_pool *p = pools2[(intptr_t)arg % 2];

    for (int i = 0; i < ROUNDS; i++)
        atomic_fetch_add(one_request(p, i) == 0 ? &ok : &bad, 1);
    atomic_fetch_sub(&running, 1);
    return 0;
}

/* PostgreSQL's own count of greentor's sessions, the probe left out. */
static int64_t server_side(gt_db *probe)
{
    gt_rows *r;
    int64_t n;

    ck_assert_int_eq(gt_db_query(probe, &r,
                                 "SELECT count(*) FROM "
                                 "pg_stat_activity WHERE usename = 'greentor' "
                                 "AND datname = 'greentor_test' AND pid <> "
                                 "pg_backend_pid()",
                                 NULL, 0, GT_NEVER),
                     1);
    n = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return n;
}

static int t_bouncer(void *arg)
{
    char err[256];
    gt_db *probe;
    gt_rows *r;
    gt_co *co[CLIENTS];

    (void)arg;
    ck_assert_int_eq(gt_db_open(&probe, getenv("GT_TEST_PG_URL"), GT_NEVER), 0);
    exec_ok(probe, "DROP TABLE IF EXISTS bouncer_t");
    exec_ok(probe, "CREATE TABLE bouncer_t (n int)");
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(gt_pool_new(&pools2[i], gt_rt_self(), bouncer_url(),
                                     NULL, err, sizeof(err)),
                         0);
        keep_pool(pools2[i]);
    }
    atomic_store(&running, CLIENTS);
    for (intptr_t i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], client, (void *)i), 0);
    while (atomic_load(&running) > 0) {
        int64_t n = server_side(probe);

        max_seen = n > max_seen ? n : max_seen;
    }
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_eq(atomic_load(&bad), 0);
    ck_assert_int_eq(atomic_load(&ok), CLIENTS * ROUNDS);
    fprintf(stderr, "pgbouncer: PostgreSQL saw at most %lld\n",
            (long long)max_seen);
    ck_assert_int_le(max_seen, BOUNCER_POOL);
    ck_assert_int_ge(max_seen, 1);
    ck_assert_int_eq(gt_db_query(probe, &r, "SELECT count(*) FROM bouncer_t",
                                 NULL, 0, GT_NEVER),
                     1);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), CLIENTS * ROUNDS);
    gt_rows_free(r);
    gt_db_close(probe);
    return 0;
}

START_TEST(two_pools_through_pgbouncer_share_its_eight_connections)
{
    ck_assert_int_eq(run_pool_test(t_bouncer, 1), 0);
}
END_TEST

/* Without stmt_cache=0 named statements meet the wrong server session;
 * the error says what to do. */
static atomic_int hinted;

static int named_client(void *arg)
{
    gt_db *db;
    gt_rows *r;

    for (int i = 0; i < ROUNDS; i++) {
        gt_db_value v = gt_db_int(i);

        if (gt_pool_db(arg, &db) != 0)
            continue;
        if (gt_db_query(db, &r, "SELECT ? + 1", &v, 1, GT_NEVER) == 1)
            gt_rows_free(r);
        else if (strstr(gt_db_errmsg(db), "set stmt_cache=0 in the URL"))
            atomic_fetch_add(&hinted, 1);
        gt_pool_db_release(arg);
    }
    return 0;
}

static int t_named(void *arg)
{
    char url[512], err[256];
    gt_pool *p;
    gt_co *co[16];

    (void)arg;
    snprintf(url, sizeof(url), "%s", bouncer_url());
    *strstr(url, "stmt_cache=0&") = '\0'; /* the named statements' default */
    strcat(url, "max_open=16");
    ck_assert_int_eq(gt_pool_new(&p, gt_rt_self(), url, NULL, err, sizeof(err)),
                     0);
    keep_pool(p);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], named_client, p), 0);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_ge(atomic_load(&hinted), 1);
    return 0;
}

START_TEST(named_statements_through_pgbouncer_fail_with_a_hint)
{
    ck_assert_int_eq(run_pool_test(t_named, 1), 0);
}
END_TEST

void add_pool_bouncer_tests(Suite *s)
{
    TCase *tc = tcase_create("pool_pgbouncer");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, use_postgres, NULL);
    tcase_add_test(tc, two_pools_through_pgbouncer_share_its_eight_connections);
    tcase_add_test(tc, named_statements_through_pgbouncer_fail_with_a_hint);
    suite_add_tcase(s, tc);
}
