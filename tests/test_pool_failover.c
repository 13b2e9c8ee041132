/* tests/test_pool_failover.c -- a pool on a libpq multi-host URL with
 * target_session_attrs=read-write survives a failover with no manual
 * action: scripts/db.sh starts a primary and a streaming standby of its
 * own, writers insert rows through the pool, the primary is killed
 * (pg_ctl stop -m immediate, a crash) and the standby promoted; writes
 * succeed again, on the standby, before a generous deadline, every
 * connection the pool had to the old primary is discarded, and no
 * request ever sees a row it did not write.
 *
 * The servers are started from the test (they take a few seconds) and
 * stopped by an unchecked teardown, which the parent runs whatever the
 * test did (failed, crashed, timed out). No timing is asserted: the
 * recovery time is measured and printed to stderr. Every wait is bounded
 * by DEADLINE_MS, far above the second or two a recovery takes here. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/driver.h"
#include "pool_fixture.h"
#include "util.h"

enum { WRITERS = 4, MAX_OPEN = 4, PAUSE_MS = 20, DEADLINE_MS = 30000 };

static char fo_url[512];
static int primary_port, standby_port;

/* What the writers saw. 'promoted_at' is 0 until the standby is promoted;
 * a write that succeeds after it must have gone to the standby. */
static struct {
    gt_pool *pool;
    atomic_bool stop;
    atomic_int ok, failed, mismatched, stale_ok;
    atomic_llong killed_at, promoted_at, back_at;
} W;

/* bash scripts/db.sh <cmd>; its stderr goes to ours. 0 on success. */
static int db_sh(void *cmd)
{
    char line[256];

    snprintf(line, sizeof(line), "bash scripts/db.sh %s </dev/null >&2",
             (const char *)cmd);
    return system(line) == 0 ? 0 : -1;
}

/* The same on the thread pool, so the writers keep running meanwhile. */
static void db_sh_async(const char *cmd)
{
    ck_assert_msg(gt_run_blocking(db_sh, (void *)cmd, GT_NEVER) == 0,
                  "scripts/db.sh %s failed", cmd);
}

/* failover-start prints "export GT_TEST_FO_URL=<url>": take the URL and
 * its two ports. */
static void start_servers(void)
{
    FILE *f = popen("bash scripts/db.sh failover-start </dev/null", "r");
    const char *key = "export GT_TEST_FO_URL=";
    char line[512];

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, strlen(key)) == 0)
            snprintf(fo_url, sizeof(fo_url), "%s", line + strlen(key));
    ck_assert_int_eq(pclose(f), 0);
    fo_url[strcspn(fo_url, "\n")] = '\0';
    ck_assert_msg(sscanf(fo_url, "postgres://%*[^@]@%*[^:]:%d,%*[^:]:%d/",
                         &primary_port, &standby_port) == 2,
                  "unexpected URL '%s'", fo_url);
}

static void stop_servers(void)
{
    db_sh("failover-stop");
}

/* Compare a returned row with what this writer sent. */
static bool row_is(const gt_rows *r, int writer, int seq, const char *tag)
{
    return gt_rows_int(r, 0, 1) == writer && gt_rows_int(r, 0, 2) == seq &&
           strcmp(gt_rows_text(r, 0, 3, NULL), tag) == 0;
}

/* Insert one row and read it back by id on the same connection. Returns
 * the server's port, or a negative error. */
static int write_one(gt_db *db, int writer, int seq)
{
    char tag[32];
    int64_t deadline = gt_deadline_in(5000);
    gt_db_value v[3];
    gt_rows *r;
    int rc, port;

    snprintf(tag, sizeof(tag), "w%d-s%d", writer, seq);
    v[0] = gt_db_int(writer);
    v[1] = gt_db_int(seq);
    v[2] = gt_db_text(tag);
    rc = gt_db_query(db, &r,
                     "INSERT INTO fo_t (writer, seq, tag) VALUES "
                     "(?, ?, ?) RETURNING id, writer, seq, tag, "
                     "inet_server_port()",
                     v, 3, deadline);
    if (rc != 1)
        return rc < 0 ? rc : -1;
    port = (int)gt_rows_int(r, 0, 4);
    if (!row_is(r, writer, seq, tag))
        atomic_fetch_add(&W.mismatched, 1);
    v[0] = gt_db_int(gt_rows_int(r, 0, 0));
    gt_rows_free(r);
    rc = gt_db_query(db, &r,
                     "SELECT id, writer, seq, tag FROM fo_t WHERE "
                     "id = ?",
                     v, 1, deadline);
    if (rc != 1)
        return rc < 0 ? rc : -1;
    if (!row_is(r, writer, seq, tag))
        atomic_fetch_add(&W.mismatched, 1);
    gt_rows_free(r);
    return port;
}

/* One request: a pooled connection, one write, the connection back. */
static void request(int writer, int seq)
{
    gt_db *db;
    int64_t promoted = atomic_load(&W.promoted_at);
    int rc = gt_pool_db(W.pool, &db);

    rc = rc == 0 ? write_one(db, writer, seq) : rc;
    gt_pool_db_release(W.pool);
    if (rc < 0) {
        atomic_fetch_add(&W.failed, 1);
        return;
    }
    atomic_fetch_add(&W.ok, 1);
    if (promoted == 0)
        return;
    if (rc != standby_port)
        atomic_fetch_add(&W.stale_ok, 1);
    if (atomic_load(&W.back_at) == 0)
        atomic_store(&W.back_at, (long long)gt_now());
}

static int writer(void *arg)
{
    int id = (int)(intptr_t)arg;

    for (int seq = 0; !atomic_load(&W.stop); seq++) {
        request(id, seq);
        gt_sleep(PAUSE_MS);
    }
    return 0;
}

/* Poll until *counter exceeds 'than' or DEADLINE_MS passes. */
static bool wait_above(atomic_int *counter, int than)
{
    int64_t end = gt_deadline_in(DEADLINE_MS);

    while (atomic_load(counter) <= than && gt_now() < end)
        gt_sleep(10);
    return atomic_load(counter) > than;
}

/* Poll until the pool has failed to connect since 'before'. */
static bool wait_connect_error(const gt_pool_stats *before)
{
    int64_t end = gt_deadline_in(DEADLINE_MS);
    gt_pool_stats st;

    do {
        gt_pool_get_stats(W.pool, &st);
        if (st.connect_errors > before->connect_errors)
            return true;
    } while (gt_now() < end && gt_sleep(10) == 0);
    return false;
}

static bool wait_back(void)
{
    int64_t end = gt_deadline_in(DEADLINE_MS);

    while (atomic_load(&W.back_at) == 0 && gt_now() < end)
        gt_sleep(10);
    return atomic_load(&W.back_at) != 0;
}

static void make_table_and_pool(void)
{
    char url[640], err[256];
    gt_db *db;

    ck_assert_int_eq(gt_db_open(&db, fo_url, gt_deadline_in(DEADLINE_MS)), 0);
    exec_ok(db, "CREATE TABLE fo_t (id bigserial PRIMARY KEY, writer int, "
                "seq int, tag text)");
    gt_db_close(db);
    snprintf(url, sizeof(url), "%s&max_open=%d&application_name=gt_fo_test",
             fo_url, MAX_OPEN);
    ck_assert_int_eq(
        gt_pool_new(&W.pool, gt_rt_self(), url, NULL, err, sizeof(err)), 0);
    keep_pool(W.pool);
}

/* Kill, promote, and wait for the first write on the new primary. */
static void fail_over(gt_pool_stats *at_kill)
{
    int failed;

    gt_pool_get_stats(W.pool, at_kill);
    failed = atomic_load(&W.failed);
    atomic_store(&W.killed_at, (long long)gt_now());
    db_sh_async("failover-kill-primary");
    /* Writes fail, and the pool tries both hosts and finds no primary,
     * before there is one again. */
    ck_assert_msg(wait_above(&W.failed, failed),
                  "no write failed after the primary was killed");
    ck_assert_msg(wait_connect_error(at_kill),
                  "the pool did not try to reconnect");
    fprintf(stderr, "failover: while down: %s\n", gt_pool_errmsg(W.pool));
    /* Before the command: no write can succeed until it has run. */
    atomic_store(&W.promoted_at, (long long)gt_now());
    db_sh_async("failover-promote");
    ck_assert_msg(wait_back(),
                  "no write succeeded within %d ms of the "
                  "promotion",
                  DEADLINE_MS);
    fprintf(stderr,
            "failover: writes back %lld ms after the kill, %lld ms "
            "after the promotion (%d writes failed meanwhile)\n",
            (long long)(atomic_load(&W.back_at) - atomic_load(&W.killed_at)),
            (long long)(atomic_load(&W.back_at) - atomic_load(&W.promoted_at)),
            atomic_load(&W.failed) - failed);
}

static int t_failover(void *arg)
{
    gt_co *co[WRITERS];
    gt_pool_stats k, st;
    int mismatched, stale_ok;

    (void)arg;
    make_table_and_pool();
    for (intptr_t i = 0; i < WRITERS; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], writer, (void *)i), 0);
    ck_assert_msg(wait_above(&W.ok, 50), "the writers do not get going");
    ck_assert_int_eq(atomic_load(&W.failed), 0);
    fail_over(&k);
    ck_assert(wait_above(&W.ok, atomic_load(&W.ok) + 50));
    atomic_store(&W.stop, true);
    for (int i = 0; i < WRITERS; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    gt_pool_get_stats(W.pool, &st);
    fprintf(stderr,
            "failover: %d writes ok, %d failed; pool opened %llu "
            "(%llu before the kill), discarded %llu broken + %llu dead\n",
            atomic_load(&W.ok), atomic_load(&W.failed),
            (unsigned long long)st.opened, (unsigned long long)k.opened,
            (unsigned long long)st.discarded_broken,
            (unsigned long long)st.discarded_dead);
    mismatched = atomic_load(&W.mismatched);
    stale_ok = atomic_load(&W.stale_ok);
    ck_assert_int_eq(mismatched, 0);
    ck_assert_int_eq(stale_ok, 0);
    ck_assert_int_ge(k.open, 1);
    /* Every connection open at the kill went to the old primary; all of
     * them are gone, and the pool opened new ones, all on the standby. */
    ck_assert_uint_ge(st.discarded_broken + st.discarded_dead,
                      (uint64_t)k.open);
    ck_assert_uint_gt(st.opened, k.opened);
    ck_assert_int_le(st.open, MAX_OPEN);
    return 0;
}

/* The URL form the test relies on, parsed (no server needed). */
START_TEST(host_lists_become_libpq_host_and_port_lists)
{
    static const struct {
        const char *url, *msg;
    } bad[] = {
        {"postgres://a,,b/d", "empty host in the list"},
        {"postgres://a:1,/d", "empty host in the list"},
        {"mysql://a,b/d", "only supported for postgres"},
        {"postgres://a:1,b:x/d", "port 'x'"},
        {"postgres://a%2Cb,c/d", "contains ','"},
    };
    gt__db_url u;
    char err[256];

    ck_assert_int_eq(gt__db_url_parse(&u,
                                      "postgres://u:p@127.0.0.1:5434,"
                                      "[::1],h:7/db?target_session_attrs="
                                      "read-write",
                                      err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.host, "127.0.0.1,::1,h");
    ck_assert_int_eq(u.port, 0);
    ck_assert_str_eq(gt__db_url_opt(&u, "port"), "5434,,7");
    ck_assert_str_eq(gt__db_url_opt(&u, "target_session_attrs"), "read-write");
    ck_assert_str_eq(u.dbname, "db");
    gt__db_url_free(&u);
    ck_assert_int_eq(gt__db_url_parse(&u, "postgres://a,b/d", err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.host, "a,b");
    ck_assert_ptr_null(gt__db_url_opt(&u, "port"));
    gt__db_url_free(&u);
    /* An explicit ?port= wins over the list's, as in libpq. */
    ck_assert_int_eq(
        gt__db_url_parse(&u, "postgres://a:1,b:2/d?port=9,9", err, sizeof(err)),
        0);
    ck_assert_str_eq(gt__db_url_opt(&u, "port"), "9,9");
    gt__db_url_free(&u);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(gt__db_url_parse(&u, bad[i].url, err, sizeof(err)),
                         -EINVAL);
        ck_assert_msg(strstr(err, bad[i].msg), "%s: '%s' lacks '%s'",
                      bad[i].url, err, bad[i].msg);
    }
}
END_TEST

START_TEST(writes_resume_on_the_promoted_standby)
{
    start_servers();
    ck_assert_int_eq(run_pool_test(t_failover, 1), 0);
}
END_TEST

void add_pool_failover_tests(Suite *s)
{
    TCase *tc = tcase_create("pool_failover");

    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, use_postgres, NULL);
    tcase_add_unchecked_fixture(tc, NULL, stop_servers);
    tcase_add_test(tc, host_lists_become_libpq_host_and_port_lists);
    tcase_add_test(tc, writes_resume_on_the_promoted_standby);
    suite_add_tcase(s, tc);
}
