/* tests/test_db_pg_wedged.c -- deadlines hold against a wedged PostgreSQL.
 *
 * With the postmaster stopped (SIGSTOP; the backends keep running) a
 * CancelRequest cannot be delivered: it connects, and waits for an answer
 * that does not come. Twelve queries with a 300 ms deadline must still
 * all return -- while the postmaster is stopped, so without waiting for
 * their cancels; the cancels beyond the bounded set on their way are
 * dropped and counted; an SQLite offload connection on the same worker
 * keeps answering (the cancels do not hold libuv's thread pool). After
 * SIGCONT each connection is kept clean or dropped, and the server ends
 * up with no session of ours. The same holds with the whole server
 * stopped (its backends too, so not even the statements answer). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

enum { QUERIES = 12, MAX_CANCELS = 8 /* pg_settle.c */ };

static const char *tagged_url(void)
{
    static char buf[512];
    const char *u = test_db_url("GT_TEST_PG_URL");

    snprintf(buf, sizeof(buf), "%s?application_name=gt_wedged", u);
    return buf;
}

static int64_t our_sessions(gt_db *probe)
{
    return query_int(probe, "SELECT count(*) FROM "
                            "pg_stat_activity WHERE application_name = "
                            "'gt_wedged'");
}

static int slow_query(void *arg)
{
    return (int)gt_db_exec(arg, "SELECT pg_sleep(3)", NULL, 0,
                           gt_deadline_in(300));
}

static void run_while_stopped(gt_db **db, gt_db *lite)
{
    gt_co *co[QUERIES];
    gt_rows *r;
    int rc;

    for (int i = 0; i < QUERIES; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], slow_query, db[i]), 0);
    for (int i = 0; i < QUERIES; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, -ETIMEDOUT);
    }
    ck_assert_int_eq(
        gt_db_query(lite, &r, "SELECT 1", NULL, 0, gt_deadline_in(5000)), 1);
    gt_rows_free(r);
}

/* Send 'sig' to every child of 'parent' (the postmaster's backends and
 * helpers), read from /proc. */
static void signal_children(pid_t parent, int sig)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    char path[64];
    long pid, ppid;
    FILE *f;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if ((pid = strtol(e->d_name, NULL, 10)) <= 0)
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        if (!(f = fopen(path, "r")))
            continue;
        /* pid (comm) state ppid: comm has no ')' in PostgreSQL's names */
        if (fscanf(f, "%*d (%*[^)]) %*c %ld", &ppid) == 1 && ppid == parent)
            kill((pid_t)pid, sig);
        fclose(f);
    }
    closedir(d);
}

/* A watchdog child that resumes the postmaster and its children after
 * 'secs', so that a failing test cannot leave the server stopped. */
static pid_t resume_all_later(pid_t pm, int secs)
{
    pid_t w = fork();

    if (w == 0) {
        sleep((unsigned)secs);
        signal_children(pm, SIGCONT);
        kill(pm, SIGCONT);
        _exit(0);
    }
    return w;
}

/* whole: the backends are stopped too, so not even the running
 * statements can answer. */
static int t_wedged(void *arg)
{
    bool whole = arg != NULL;
    gt_db *db[QUERIES], *probe, *lite;
    gt_db_stats before, after;
    pid_t pm, dog;
    int kept;

    for (int i = 0; i < QUERIES; i++)
        ck_assert_int_eq(gt_db_open(&db[i], tagged_url(), GT_NEVER), 0);
    ck_assert_int_eq(
        gt_db_open(&probe, test_db_url("GT_TEST_PG_URL"), GT_NEVER), 0);
    ck_assert_int_eq(
        gt_db_open(&lite, "sqlite::memory:?mode=offload", GT_NEVER), 0);
    gt_db_get_stats(&before);
    pm = pg_postmaster_pid();
    dog = whole ? resume_all_later(pm, 30) : resume_later(pm, 30);
    ck_assert_int_eq(kill(pm, SIGSTOP), 0);
    if (whole)
        signal_children(pm, SIGSTOP);
    run_while_stopped(db, lite);
    if (whole)
        signal_children(pm, SIGCONT);
    kill(pm, SIGCONT);
    kill(dog, SIGKILL);
    waitpid(dog, NULL, 0);
    gt_db_get_stats(&after);
    ck_assert_uint_ge(after.cancels_dropped - before.cancels_dropped,
                      QUERIES - MAX_CANCELS);
    ck_assert_uint_le(after.cancels_sent - before.cancels_sent, MAX_CANCELS);
    kept = close_kept(db, QUERIES);
    fprintf(stderr, "wedged: %d of %d connections kept after SIGCONT\n", kept,
            QUERIES);
    wait_none_left(probe, our_sessions);
    gt_db_close(probe);
    gt_db_close(lite);
    return 0;
}

START_TEST(queries_end_at_their_deadline_while_the_postmaster_is_stopped)
{
    ck_assert_int_eq(run_main(t_wedged, NULL), 0);
}
END_TEST

START_TEST(queries_end_at_their_deadline_while_the_whole_server_is_stopped)
{
    ck_assert_int_eq(run_main(t_wedged, (void *)1), 0);
}
END_TEST

void add_db_pg_wedged_tests(Suite *s)
{
    TCase *tc = tcase_create("pg_wedged");

    tcase_set_timeout(tc, 60);
    tcase_add_test(
        tc, queries_end_at_their_deadline_while_the_postmaster_is_stopped);
    tcase_add_test(
        tc, queries_end_at_their_deadline_while_the_whole_server_is_stopped);
    suite_add_tcase(s, tc);
}
