/* tests/test_db_mysql_wedged.c -- deadlines hold against a wedged
 * MariaDB.
 *
 * With the whole server stopped (SIGSTOP) nothing answers: not the
 * running statements, not the KILL QUERY side connections (their TCP
 * connect completes in the kernel, the handshake never comes). Statements
 * with a 300 ms deadline must still all return -- while the server is
 * stopped, so without waiting for their KILLs or drains -- and an SQLite
 * offload connection on the same worker keeps answering. After SIGCONT
 * each connection winds down clean or is dropped, and the server ends up
 * with no session of ours. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "util.h"

enum { QUERIES = 6 };

static int slow_query(void *arg)
{
    return (int)gt_db_exec(arg, "SELECT SLEEP(3)", NULL, 0,
                           gt_deadline_in(300));
}

static void run_while_stopped(gt_db **db, gt_db *lite)
{
    gt_co *co[QUERIES];
    gt_rows *r;
    int64_t t0 = gt_now();
    int rc;

    for (int i = 0; i < QUERIES; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], slow_query, db[i]), 0);
    for (int i = 0; i < QUERIES; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, -ETIMEDOUT);
        /* Not given up: the call did not wait for a drain or a KILL that
         * cannot end while the server is stopped (that wait would have
         * run out and dropped the connection). */
        ck_assert_msg(!gt_db_broken(db[i]), "%s", gt_db_errmsg(db[i]));
    }
    fprintf(stderr,
            "mysql wedged: %d calls with a 300 ms deadline took %lld ms\n",
            QUERIES, (long long)(gt_now() - t0));
    ck_assert_int_eq(
        gt_db_query(lite, &r, "SELECT 1", NULL, 0, gt_deadline_in(5000)), 1);
    gt_rows_free(r);
}

static int t_wedged(void *arg)
{
    gt_db *db[QUERIES], *probe, *lite;
    pid_t server, dog;
    int kept;

    (void)arg;
    for (int i = 0; i < QUERIES; i++)
        ck_assert_int_eq(
            gt_db_open(&db[i], test_db_url("GT_TEST_MYSQL_URL"), GT_NEVER), 0);
    ck_assert_int_eq(
        gt_db_open(&probe, test_db_url("GT_TEST_MYSQL_URL"), GT_NEVER), 0);
    ck_assert_int_eq(
        gt_db_open(&lite, "sqlite::memory:?mode=offload", GT_NEVER), 0);
    for (int i = 0; i < 1000 && mysql_our_sessions(probe) > QUERIES; i++)
        ck_assert_int_eq(gt_sleep(10), 0); /* others' leftovers gone */
    server = mysql_server_pid();
    dog = resume_later(server, 30);
    ck_assert_int_eq(kill(server, SIGSTOP), 0);
    run_while_stopped(db, lite);
    kill(server, SIGCONT);
    kill(dog, SIGKILL);
    waitpid(dog, NULL, 0);
    kept = close_kept(db, QUERIES);
    fprintf(stderr, "mysql wedged: %d of %d connections kept after SIGCONT\n",
            kept, QUERIES);
    wait_none_left(probe, mysql_our_sessions);
    gt_db_close(probe);
    gt_db_close(lite);
    return 0;
}

START_TEST(statements_end_at_their_deadline_while_the_server_is_stopped)
{
    ck_assert_int_eq(run_main(t_wedged, NULL), 0);
}
END_TEST

void add_db_mysql_wedged_tests(Suite *s)
{
    TCase *tc = tcase_create("mysql_wedged");

    tcase_set_timeout(tc, 60);
    tcase_add_test(
        tc, statements_end_at_their_deadline_while_the_server_is_stopped);
    suite_add_tcase(s, tc);
}
