/* tests/test_redis.c -- the Redis client against a real redis-server.
 *
 * The fixture (tests/redis_fixture.c, once for the test case, in the
 * parent) starts Debian's redis-server on a free loopback port, without
 * persistence, and kills it at the end; a missing redis-server fails the
 * case. Each test runs on a one-worker runtime, so
 * a call that blocked the loop would stall the test's other coroutines.
 * Blocking commands (BLPOP) stand in for a slow server: no timing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis_fixture.h"
#include "util.h"

static gt_redis *open_ok(void)
{
    gt_redis *r;
    int rc = gt_redis_open(&r, "127.0.0.1", redis_port, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "open: %s", gt_strerror(rc));
    return r;
}

/* Run a command given as words, with a deadline. */
static int cmd(gt_redis *r, gt_redis_reply **out, int64_t deadline, int argc,
               const char *const *argv)
{
    return gt_redis_command(r, out, argc, argv, NULL, deadline);
}

#define CMD REDIS_CMD

/* ---- commands and replies ---------------------------------------------- */

static int body_basics(void *arg)
{
    static const char bin[] = "a\0b\r\nc";
    const char *setv[] = {"SET", "greentor:bin", bin};
    const size_t setl[] = {3, 12, sizeof(bin) - 1};
    const gt_redis_reply *e;
    gt_redis_reply *rp;
    gt_redis *r = open_ok();
    size_t len;

    (void)arg;
    ck_assert_str_eq(gt_redis_errmsg(r), "");
    ck_assert_int_eq(CMD(r, &rp, "PING"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_STATUS);
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "PONG");
    gt_redis_reply_free(rp);
    /* Binary-safe arguments and values. */
    ck_assert_int_eq(gt_redis_command(r, &rp, 3, setv, setl, GT_NEVER), 0);
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "OK");
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "GET", "greentor:bin"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_STRING);
    ck_assert_int_eq(memcmp(gt_redis_reply_str(rp, &len), bin, sizeof(bin)), 0);
    ck_assert_uint_eq(len, sizeof(bin) - 1);
    gt_redis_reply_free(rp);
    /* Integers, nil, arrays (nested). */
    ck_assert_int_eq(CMD(r, &rp, "DEL", "greentor:n", "greentor:l"), 0);
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "INCRBY", "greentor:n", "41"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_INTEGER);
    ck_assert_int_eq(gt_redis_reply_int(rp), 41);
    ck_assert_int_eq(gt_redis_reply_len(rp), 0);
    ck_assert_ptr_null(gt_redis_reply_at(rp, 0));
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "");
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "GET", "greentor:missing"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_NIL);
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "RPUSH", "greentor:l", "x", "yy", "zzz"), 0);
    ck_assert_int_eq(gt_redis_reply_int(rp), 3);
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "LRANGE", "greentor:l", "0", "-1"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_ARRAY);
    ck_assert_uint_eq(gt_redis_reply_len(rp), 3);
    ck_assert_str_eq(gt_redis_reply_str(gt_redis_reply_at(rp, 2), NULL), "zzz");
    ck_assert_ptr_null(gt_redis_reply_at(rp, 3));
    gt_redis_reply_free(rp);
    ck_assert_int_eq(CMD(r, &rp, "EVAL", "return {1, {'a', 'b'}, 'c'}", "0"),
                     0);
    ck_assert_uint_eq(gt_redis_reply_len(rp), 3);
    e = gt_redis_reply_at(rp, 1);
    ck_assert_int_eq(gt_redis_reply_type(e), GT_REDIS_ARRAY);
    ck_assert_str_eq(gt_redis_reply_str(gt_redis_reply_at(e, 1), NULL), "b");
    ck_assert_int_eq(gt_redis_reply_int(gt_redis_reply_at(rp, 0)), 1);
    gt_redis_reply_free(rp);
    /* An error reply is a reply. */
    ck_assert_int_eq(CMD(r, &rp, "INCR", "greentor:bin"), 0);
    ck_assert_int_eq(gt_redis_reply_type(rp), GT_REDIS_ERROR);
    ck_assert_ptr_nonnull(strstr(gt_redis_reply_str(rp, NULL), "ERR"));
    gt_redis_reply_free(rp);
    gt_redis_reply_free(NULL);
    /* Refused before sending. */
    ck_assert_int_eq(cmd(r, &rp, GT_NEVER, 0, (const char *[]){"PING"}),
                     -EINVAL);
    ck_assert_int_eq(cmd(r, &rp, GT_NEVER, 1, (const char *[]){NULL}), -EINVAL);
    ck_assert_int_eq(cmd(r, &rp, 0, 1, (const char *[]){"PING"}), -ETIMEDOUT);
    ck_assert_ptr_null(rp);
    /* Forgotten: freed with this coroutine (ASan's leak check). */
    ck_assert_int_eq(CMD(r, &rp, "PING"), 0);
    gt_redis_close(r);
    gt_redis_close(NULL);
    return 0;
}

START_TEST(commands_and_every_reply_type)
{
    ck_assert_int_eq(run_main(body_basics, NULL), 0);
}
END_TEST

/* 200 coroutines pipeline INCRs on one connection: each gets its own
 * reply, all different, and the count is exact. */
static gt_redis *shared;
static char seen[201];

static int one_incr(void *arg)
{
    gt_redis_reply *rp;
    long long v;

    (void)arg;
    if (CMD(shared, &rp, "INCR", "greentor:count") != 0)
        return -1;
    v = gt_redis_reply_int(rp);
    if (v < 1 || v > 200 || seen[v])
        return -2;
    seen[v] = 1;
    return 0; /* rp left to the coroutine's end */
}

static int body_pipelined(void *arg)
{
    gt_redis_reply *rp;
    gt_co *co[200];
    int rc;

    (void)arg;
    shared = open_ok();
    ck_assert_int_eq(CMD(shared, &rp, "DEL", "greentor:count"), 0);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], one_incr, NULL), 0);
    for (int i = 0; i < 200; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, 0);
    }
    ck_assert_int_eq(CMD(shared, &rp, "GET", "greentor:count"), 0);
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "200");
    gt_redis_close(shared);
    return 0;
}

START_TEST(pipelined_commands_from_many_coroutines)
{
    ck_assert_int_eq(run_main(body_pipelined, NULL), 0);
}
END_TEST

/* ---- deadlines, cancellation, a broken connection ------------------------ */

static int blpop_forever(void *arg)
{
    gt_redis_reply *rp;

    return CMD(arg, &rp, "BLPOP", "greentor:never", "0");
}

static int body_deadline(void *arg)
{
    gt_redis *r = open_ok(), *other = open_ok();
    gt_redis_reply *rp;
    gt_co *waiter;
    int rc;

    (void)arg;
    ck_assert_int_eq(CMD(r, &rp, "DEL", "greentor:q", "greentor:never"), 0);
    /* BLPOP blocks server-side: the deadline ends the wait. */
    ck_assert_int_eq(cmd(r, &rp, gt_deadline_in(20), 3,
                         (const char *[]){"BLPOP", "greentor:q", "0"}),
                     -ETIMEDOUT);
    ck_assert_ptr_null(rp);
    /* Its reply comes once the list has an element, and is dropped: the
     * next reply on the connection is the next command's. */
    ck_assert_int_eq(CMD(other, &rp, "RPUSH", "greentor:q", "late"), 0);
    ck_assert_int_eq(CMD(r, &rp, "ECHO", "in step"), 0);
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "in step");
    ck_assert_int_eq(CMD(other, &rp, "LLEN", "greentor:q"), 0);
    ck_assert_int_eq(gt_redis_reply_int(rp), 0); /* BLPOP took it */
    /* Cancelled while waiting: the same. */
    ck_assert_int_eq(gt_co_spawn(&waiter, blpop_forever, r), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_cancel(waiter);
    ck_assert_int_eq(gt_co_join(waiter, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    ck_assert_int_eq(CMD(other, &rp, "RPUSH", "greentor:never", "v"), 0);
    ck_assert_int_eq(CMD(r, &rp, "ECHO", "still"), 0);
    ck_assert_str_eq(gt_redis_reply_str(rp, NULL), "still");
    gt_redis_close(other);
    gt_redis_close(r);
    return 0;
}

START_TEST(deadline_and_cancel_keep_the_connection_in_step)
{
    ck_assert_int_eq(run_main(body_deadline, NULL), 0);
}
END_TEST

static int body_killed(void *arg)
{
    gt_redis *r = open_ok(), *other = open_ok();
    gt_redis_reply *rp, *id;
    gt_co *waiter;
    int rc;

    (void)arg;
    ck_assert_int_eq(CMD(r, &id, "CLIENT", "ID"), 0);
    ck_assert_int_eq(gt_co_spawn(&waiter, blpop_forever, r), 0);
    ck_assert_int_eq(gt_yield(), 0);
    /* The server drops the connection under the waiting command. */
    char idstr[32];
    snprintf(idstr, sizeof(idstr), "%lld", gt_redis_reply_int(id));
    ck_assert_int_eq(CMD(other, &rp, "CLIENT", "KILL", "ID", idstr), 0);
    ck_assert_int_eq(gt_redis_reply_int(rp), 1);
    ck_assert_int_eq(gt_co_join(waiter, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECONNRESET);
    ck_assert_str_ne(gt_redis_errmsg(r), "");
    ck_assert_int_eq(CMD(r, &rp, "PING"), -ENOTCONN);
    gt_redis_close(r);
    /* Closing with a command waiting: it gets -ECONNRESET. */
    ck_assert_int_eq(gt_co_spawn(&waiter, blpop_forever, other), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_redis_close(other);
    ck_assert_int_eq(gt_co_join(waiter, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECONNRESET);
    return 0;
}

START_TEST(broken_connection_fails_waiting_and_later_commands)
{
    ck_assert_int_eq(run_main(body_killed, NULL), 0);
}
END_TEST

/* ---- opening ----------------------------------------------------------- */

static int body_open(void *arg)
{
    gt_redis_reply *rp;
    gt_redis *r = (gt_redis *)1;

    (void)arg;
    ck_assert_int_eq(gt_redis_open(&r, NULL, redis_port, GT_NEVER), -EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(gt_redis_open(&r, "127.0.0.1", 0, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_redis_open(&r, "127.0.0.1", 65536, GT_NEVER), -EINVAL);
    ck_assert_int_eq(
        gt_redis_open(&r, "127.0.0.1", test_free_port(), gt_deadline_in(10000)),
        -ECONNREFUSED);
    /* The failed handle carries the message, and only that. */
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(strstr(gt_redis_errmsg(r), "connect") != NULL, "%s",
                  gt_redis_errmsg(r));
    ck_assert_int_eq(CMD(r, &rp, "PING"), -ENOTCONN);
    gt_redis_close(r);
    ck_assert_int_eq(gt_redis_open(&r, "localhost", redis_port, GT_NEVER), 0);
    ck_assert_int_eq(CMD(r, &rp, "PING"), 0);
    gt_redis_close(r);
    gt_co_cancel(gt_co_self());
    ck_assert_int_eq(gt_redis_open(&r, "localhost", redis_port, GT_NEVER),
                     -ECANCELED);
    gt_redis_close(r);
    return 0;
}

START_TEST(open_by_name_refused_and_bad_arguments)
{
    ck_assert_int_eq(run_main(body_open, NULL), 0);
    ck_assert_int_eq(gt_redis_open(&(gt_redis *){NULL}, "127.0.0.1", 1, 0),
                     -EINVAL); /* not in a coroutine */
}
END_TEST

/* Each of greentor's allocations in an open and a command, failed in
 * turn: -ENOMEM, nothing leaked. hiredis' own allocations cannot be
 * failed (it aborts on out of memory). */
static int body_oom(void *arg)
{
    int failed = 0;

    (void)arg;
    for (long n = 1; n < 50; n++) {
        gt_redis_reply *rp = NULL;
        gt_redis *r;
        long made;
        int rc;

        gt_alloc_fail(n, 0);
        rc = gt_redis_open(&r, "localhost", redis_port, GT_NEVER);
        if (rc == 0) {
            rc = CMD(r, &rp, "PING");
            gt_redis_reply_free(rp);
            gt_redis_close(r);
        }
        made = gt_alloc_fail(0, 0);
        ck_assert_msg(rc == 0 || rc == -ENOMEM, "allocation %ld: %s", n,
                      gt_strerror(rc));
        failed += rc == -ENOMEM;
        if (made < n)
            break;
    }
    ck_assert_int_ge(failed, 4);
    return 0;
}

START_TEST(every_allocation_failure_is_enomem)
{
    ck_assert_int_eq(run_main(body_oom, NULL), 0);
}
END_TEST

void add_redis_tests(Suite *s)
{
    TCase *tc = tcase_create("redis");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, redis_fixture_start, redis_fixture_stop);
    tcase_add_test(tc, commands_and_every_reply_type);
    tcase_add_test(tc, pipelined_commands_from_many_coroutines);
    tcase_add_test(tc, deadline_and_cancel_keep_the_connection_in_step);
    tcase_add_test(tc, broken_connection_fails_waiting_and_later_commands);
    tcase_add_test(tc, open_by_name_refused_and_bad_arguments);
    tcase_add_test(tc, every_allocation_failure_is_enomem);
    suite_add_tcase(s, tc);
}
