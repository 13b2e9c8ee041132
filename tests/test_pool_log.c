/* tests/test_pool_log.c -- connect failures are logged once per change of
 * state, with the database's message and without the password (issue 16,
 * item 5). The pool's acquire path reports each connect's outcome to
 * gt__pool_log_connect(); here the reports are made directly, with a real
 * failed handle (a connect to a closed port on loopback), in a child whose
 * stderr is read back. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool/pool.h"
#include "util.h"

#define URL "postgres://gt:s3cret@127.0.0.1:1/gt_none?connect_timeout_ms=2000"

static int count(const char *text, const char *what)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

static gt_pool *pool;

static int report(void *arg)
{
    gt_db *db = NULL;
    int rc = gt_pool_new(&pool, gt_rt_self(), URL, NULL, NULL, 0);

    (void)arg;
    if (rc < 0)
        return 10;
    rc = gt_db_open(&db, URL, gt_deadline_in(5000));
    if (rc == 0 || !db)
        return 11; /* something listens on port 1? */
    gt__pool_log_connect(pool, -ECANCELED, NULL); /* the client left */
    gt__pool_log_connect(pool, 0, NULL);          /* up: nothing to say */
    for (int i = 0; i < 3; i++)                   /* down: one line */
        gt__pool_log_connect(pool, rc, gt_db_errmsg(db));
    gt__pool_log_connect(pool, -ECANCELED, NULL);
    gt__pool_log_connect(pool, -ENOMEM, NULL);
    gt__pool_log_connect(pool, 0, NULL); /* up again: one line */
    gt__pool_log_connect(pool, 0, NULL);
    gt__pool_log_connect(pool, GT_EDB, NULL); /* down again */
    gt_db_close(db);
    fprintf(stderr, "done\n");
    gt_rt_stop(gt_rt_self());
    return 0;
}

static void child(void *arg)
{
    gt_rt_config cfg = {.workers = 1};
    int rc;

    (void)arg;
    rc = gt_rt_main(&cfg, report, NULL);
    gt_pool_free(pool); /* after its runtime */
    _exit(rc == 0 ? 0 : 1);
}

START_TEST(connect_failures_logged_once_per_state_change)
{
    static char err[8192];
    int st = run_child(child, NULL, err, sizeof(err));

    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(err, "done"),
                  "status 0x%x:\n%s", st, err);
    ck_assert_msg(count(err, "cannot connect to") == 2,
                  "want one 'cannot connect' per outage (2):\n%s", err);
    ck_assert_msg(count(err, "again, after 3 failed attempts") == 1,
                  "want one 'connected again' counting 3 failures:\n%s", err);
    ck_assert_msg(strstr(err, "postgres://gt:***@127.0.0.1:1/gt_none"),
                  "the URL is not shown redacted:\n%s", err);
    ck_assert_msg(!strstr(err, "s3cret"), "the password is shown:\n%s", err);
    /* The database's (here libpq's) own message, on one line. */
    ck_assert_msg(strstr(err, "refused") || strstr(err, "connect"),
                  "no reason given:\n%s", err);
}
END_TEST

void add_pool_log_tests(Suite *s)
{
    TCase *tc = tcase_create("log");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, connect_failures_logged_once_per_state_change);
    suite_add_tcase(s, tc);
}
