/* tests/test_redis_pool.c -- a pool made from a redis:// URL, against a
 * real redis-server (tests/redis_fixture.c): the URL's set-up (AUTH as an
 * ACL user, SELECT), the SQL pool's semantics with the same machinery
 * (issue 11 item 3) -- a connection per coroutine and never shared, given
 * back clean (a MULTI left open DISCARDed, a changed session RESET and set
 * up again), commands that would break the reply order refused -- and
 * what the pool refuses. Faults, limits and workers: test_redis_faults.c. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_fixture.h"
#include "redis_fixture.h"
#include "util.h"

/* The "db=" field of CLIENT INFO, as a number. */
static int client_db(gt_redis *r)
{
    const char *info = REDIS_SAY(r, "CLIENT", "INFO"),
               *db = strstr(info, " db=");

    ck_assert_ptr_nonnull(db);
    return atoi(db + 4);
}

/* ---- the URL ------------------------------------------------------------- */

static void expect_open_fails(const char *url, int want, const char *says)
{
    gt_redis *r = (gt_redis *)1;
    int rc = gt_redis_open_url(&r, url, gt_deadline_in(10000));

    ck_assert_msg(rc == want, "%s: %s, want %s", url, gt_strerror(rc),
                  gt_strerror(want));
    if (!says) {
        ck_assert_ptr_null(r); /* -EINVAL: no handle */
        return;
    }
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(strstr(gt_redis_errmsg(r), says), "%s: '%s' lacks '%s'", url,
                  gt_redis_errmsg(r), says);
    gt_redis_close(r);
}

static int t_url(void *arg)
{
    gt_redis *a = redis_admin(), *r;
    int rc;

    (void)arg;
    ck_assert_str_eq(REDIS_SAY(a, "ACL", "SETUSER", "gt_user", "on", ">s3cret",
                               "~*", "+@all"),
                     "OK");
    rc = gt_redis_open_url(
        &r, redis_url_at(redis_port, "gt_user:s3cret@", "/2"), GT_NEVER);
    ck_assert_msg(rc == 0, "%s", gt_redis_errmsg(r));
    ck_assert_int_eq(client_db(r), 2);
    ck_assert_str_eq(REDIS_SAY(r, "ACL", "WHOAMI"), "gt_user");
    gt_redis_close(r);
    expect_open_fails(redis_url_at(redis_port, "gt_user:wrong@", ""), -EACCES,
                      "AUTH");
    expect_open_fails(redis_url_at(redis_port, "", "/99"), GT_EDB, "SELECT");
    expect_open_fails(redis_url_at(test_free_port(), "", ""), -ECONNREFUSED,
                      "connect");
    expect_open_fails("redis://127.0.0.1:0", -EINVAL, NULL);
    expect_open_fails("redis://127.0.0.1/x", -EINVAL, NULL);
    expect_open_fails("redis://127.0.0.1/0?max_opn=1", -EINVAL, NULL);
    expect_open_fails("redis://127.0.0.1/0?init=x", -EINVAL, NULL);
    expect_open_fails("postgres://127.0.0.1/db", -EINVAL, NULL);
    ck_assert_str_eq(REDIS_SAY(a, "ACL", "DELUSER", "gt_user"), "1");
    gt_redis_close(a);
    return 0;
}

START_TEST(url_sets_up_auth_and_select_and_reports_failures)
{
    ck_assert_int_eq(run_pool_test(t_url, 1), 0);
}
END_TEST

/* ---- one connection per coroutine --------------------------------------- */

#define CLIENTS 32
#define ROUNDS 20

static gt_pool *iso_pool;
static gt_redis *holders[CLIENTS];
static int shared_seen, mixed_up;

static int iso_client(void *arg)
{
    int me = (int)(intptr_t)arg;
    char key[32], val[16];

    snprintf(key, sizeof(key), "gt:iso:%d", me);
    for (int i = 0; i < ROUNDS; i++) {
        gt_redis *r, *again;

        ck_assert_int_eq(gt_pool_redis(iso_pool, &r), 0);
        for (int j = 0; j < CLIENTS; j++)
            shared_seen += holders[j] == r;
        holders[me] = r;
        snprintf(val, sizeof(val), "%d", i);
        ck_assert_str_eq(REDIS_SAY(r, "SET", key, val), "OK");
        ck_assert_str_eq(REDIS_SAY(r, "PING"), "PONG"); /* others run */
        ck_assert_int_eq(gt_pool_redis(iso_pool, &again), 0);
        mixed_up += again != r;
        mixed_up += strcmp(REDIS_SAY(again, "GET", key), val) != 0;
        holders[me] = NULL;
        gt_pool_db_release(iso_pool); /* either kind's early give-back */
    }
    return 0;
}

static int t_isolation(void *arg)
{
    gt_co *co[CLIENTS];
    gt_pool_stats st;

    (void)arg;
    iso_pool = redis_pool_new("/1?max_open=4&acquire_timeout_ms=20000");
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], iso_client, (void *)(intptr_t)i),
                         0);
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_eq(shared_seen, 0);
    ck_assert_int_eq(mixed_up, 0);
    st = redis_pool_stats(iso_pool);
    ck_assert_uint_eq(st.acquired, CLIENTS * ROUNDS);
    ck_assert_uint_eq(st.opened, 4);
    ck_assert_int_eq(st.max_open_ever, 4);
    ck_assert_uint_gt(st.waits, 0);
    ck_assert_uint_eq(st.timeouts, 0);
    return 0;
}

START_TEST(each_coroutine_has_its_own_connection_within_the_cap)
{
    ck_assert_int_eq(run_pool_test(t_isolation, 1), 0);
}
END_TEST

/* ---- given back clean -----------------------------------------------------
 */

static gt_pool *clean_pool;

static int leave_multi_open(void *arg)
{
    gt_redis *r;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(clean_pool, &r), 0);
    ck_assert_str_eq(REDIS_SAY(r, "MULTI"), "OK");
    ck_assert_str_eq(REDIS_SAY(r, "SET", "gt:clean:queued", "1"), "QUEUED");
    return 0; /* ends without EXEC */
}

static int change_session(void *arg)
{
    gt_redis *r;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(clean_pool, &r), 0);
    ck_assert_str_eq(REDIS_SAY(r, "SELECT", "5"), "OK");
    ck_assert_str_eq(REDIS_SAY(r, "SET", "gt:clean:in5", "1"), "OK");
    ck_assert_str_eq(REDIS_SAY(r, "CLIENT", "SETNAME", "leaked"), "OK");
    return 0;
}

static int watch_keys(void *arg)
{
    gt_redis *r;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(clean_pool, &r), 0);
    ck_assert_str_eq(REDIS_SAY(r, "WATCH", "gt:clean:w"), "OK");
    return 0;
}

static void run_one(gt_co_fn fn)
{
    gt_co *co;
    gt_pool_stats st;

    ck_assert_int_eq(gt_co_spawn(&co, fn, NULL), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    wait_cleaned(clean_pool, &st);
}

/* The next holder of the one connection, in a coroutine of its own. */
static int next_holder(void *arg)
{
    gt_redis *r, *other = redis_admin();
    gt_redis_reply *rp;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(clean_pool, &r), 0);
    ck_assert_int_eq(client_db(r), 3); /* the URL's, again */
    ck_assert_str_eq(REDIS_SAY(r, "CLIENT", "GETNAME"), "");
    ck_assert_str_eq(REDIS_SAY(r, "SET", "gt:clean:w", "x"), "OK");
    /* Not inside the last holder's MULTI, and its queued SET never ran. */
    ck_assert_int_eq(REDIS_CMD(r, &rp, "GET", "gt:clean:queued"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_NIL);
    gt_redis_reply_free(rp);
    /* A WATCH left behind would make this EXEC fail (the key changed). */
    ck_assert_str_eq(REDIS_SAY(other, "SET", "gt:clean:w", "y"), "OK");
    ck_assert_str_eq(REDIS_SAY(r, "MULTI"), "OK");
    ck_assert_str_eq(REDIS_SAY(r, "INCR", "gt:clean:n"), "QUEUED");
    ck_assert_int_eq(REDIS_CMD(r, &rp, "EXEC"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_ARRAY);
    gt_redis_reply_free(rp);
    gt_redis_close(other);
    return 0;
}

static int t_clean(void *arg)
{
    gt_pool_stats st;

    (void)arg;
    clean_pool = redis_pool_new("/3?max_open=1");
    run_one(leave_multi_open);
    st = redis_pool_stats(clean_pool);
    ck_assert_uint_eq(st.rollbacks, 1);
    run_one(next_holder);
    run_one(change_session);
    run_one(next_holder);
    run_one(watch_keys);
    run_one(next_holder);
    st = redis_pool_stats(clean_pool);
    ck_assert_uint_eq(st.rollbacks, 1);
    ck_assert_uint_eq(st.resets, 2);
    ck_assert_uint_eq(st.opened, 1); /* cleaned, never replaced */
    ck_assert_uint_eq(st.discarded_broken, 0);
    return 0;
}

START_TEST(connections_come_back_clean)
{
    ck_assert_int_eq(run_pool_test(t_clean, 1), 0);
}
END_TEST

/* Refused commands leave the connection in step. */
static int t_refused(void *arg)
{
    gt_pool *p = redis_pool_new("?max_open=1");
    gt_redis_reply *rp = (gt_redis_reply *)1;
    gt_redis *r;

    (void)arg;
    ck_assert_int_eq(gt_pool_redis(p, &r), 0);
    ck_assert_int_eq(REDIS_CMD(r, &rp, "SUBSCRIBE", "ch"), -EOPNOTSUPP);
    ck_assert_ptr_null(rp);
    ck_assert_msg(strstr(gt_redis_errmsg(r), "SUBSCRIBE"), "%s",
                  gt_redis_errmsg(r));
    ck_assert_int_eq(REDIS_CMD(r, &rp, "client", "reply", "off"), -EOPNOTSUPP);
    ck_assert_int_eq(REDIS_CMD(r, &rp, "MONITOR"), -EOPNOTSUPP);
    ck_assert_int_eq(REDIS_CMD(r, &rp, "HELLO", "3"), -EOPNOTSUPP);
    ck_assert_str_eq(REDIS_SAY(r, "PING"), "PONG");
    ck_assert(!gt_redis_session_dirty(r));
    ck_assert_str_eq(REDIS_SAY(r, "CLIENT", "ID"),
                     REDIS_SAY(r, "CLIENT", "ID"));
    ck_assert(!gt_redis_session_dirty(r)); /* reading is not changing */
    return 0;
}

START_TEST(commands_that_break_the_reply_order_are_refused)
{
    ck_assert_int_eq(run_pool_test(t_refused, 1), 0);
}
END_TEST

static int never_called(gt_db *db, void *arg, int64_t deadline)
{
    (void)db;
    (void)arg;
    (void)deadline;
    return 0;
}

static int t_misuse(void *arg)
{
    gt_pool *p = redis_pool_new("?max_open=2"), *sql = NULL, *bad = NULL;
    gt_pool_config cfg = {.on_connect = never_called};
    gt_redis *r, *scoped;
    gt_db *db;
    char err[256];
    char *text;

    (void)arg;
    ck_assert_int_eq(
        gt_pool_new(&sql, gt_rt_self(), "sqlite::memory:", NULL, NULL, 0), 0);
    keep_pool(sql);
    /* Each kind's calls on the other kind's pool. */
    ck_assert_int_eq(gt_pool_db(p, &db), -EINVAL);
    ck_assert_int_eq(gt_pool_acquire(p, &db, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_pool_redis(sql, &r), -EINVAL);
    ck_assert_int_eq(gt_pool_redis_acquire(sql, &r, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_pool_redis(NULL, &r), -EINVAL);
    /* Releases of what is not an explicit acquisition of the pool. */
    ck_assert_int_eq(gt_pool_redis(p, &scoped), 0);
    ck_assert_int_eq(gt_pool_redis_release(p, scoped), -EINVAL);
    ck_assert_int_eq(gt_pool_redis_release(p, NULL), -EINVAL);
    ck_assert_int_eq(gt_pool_redis_acquire(p, &r, GT_NEVER), 0);
    ck_assert_int_eq(gt_pool_release(p, (gt_db *)NULL), -EINVAL);
    ck_assert_int_eq(gt_pool_redis_release(sql, r), -EINVAL);
    ck_assert_int_eq(gt_pool_redis_release(p, r), 0);
    ck_assert_int_eq(gt_pool_redis_release(p, r), -EINVAL); /* twice */
    /* What gt_pool_new() refuses. */
    ck_assert_int_eq(gt_pool_new(&bad, gt_rt_self(),
                                 redis_url_at(redis_port, "", "?max_opn=3"),
                                 NULL, err, sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "did you mean max_open?"), "%s", err);
    ck_assert_int_eq(gt_pool_new(&bad, gt_rt_self(),
                                 redis_url_at(redis_port, "", ""), &cfg, err,
                                 sizeof(err)),
                     -EINVAL);
    ck_assert_msg(strstr(err, "on_connect"), "%s", err);
    /* The metrics of a Redis pool are the pool's. */
    text = gt_pool_metrics_new(p, "cache");
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(
        strstr(text, "greentor_pool_acquired_total{pool=\"cache\"} 2"), "%s",
        text);
    free(text);
    return 0;
}

START_TEST(kinds_and_releases_are_checked)
{
    ck_assert_int_eq(run_pool_test(t_misuse, 1), 0);
}
END_TEST

void add_redis_pool_tests(Suite *s)
{
    TCase *tc = tcase_create("redis_pool");

    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, redis_fixture_start, redis_fixture_stop);
    tcase_add_test(tc, url_sets_up_auth_and_select_and_reports_failures);
    tcase_add_test(tc, each_coroutine_has_its_own_connection_within_the_cap);
    tcase_add_test(tc, connections_come_back_clean);
    tcase_add_test(tc, commands_that_break_the_reply_order_are_refused);
    tcase_add_test(tc, kinds_and_releases_are_checked);
    suite_add_tcase(s, tc);
}
