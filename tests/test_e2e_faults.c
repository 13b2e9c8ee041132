/* tests/test_e2e_faults.c -- the showcase end to end when things go
 * wrong: the seed's scenario (a low max_connections), clients hanging up
 * mid-request, an unreachable database, TechEmpower's other table names
 * and none, --help and bad configuration. See test_e2e.c for how the
 * server is run and cleaned up after. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_fixture.h"

/* ---- the seed's scenario: a low max_connections -------------------------- */

static void lower_max_connections(const backend *b)
{
    char marker[128];
    int st;

    marker_path(b, marker, sizeof(marker));
    close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    st = restart_server(b, "20", e2e_sc.log);
    ck_assert_msg(st == 0,
                  "db.sh restart %s with max_connections 20 "
                  "failed (status %d):\n%s",
                  b->server, st, log_tail());
}

static void restore_max_connections(const backend *b)
{
    char marker[128];
    int st = restart_server(b, NULL, e2e_sc.log);

    ck_assert_msg(st == 0,
                  "db.sh restart %s (restoring max_connections) "
                  "failed (status %d):\n%s",
                  b->server, st, log_tail());
    marker_path(b, marker, sizeof(marker));
    unlink(marker);
}

static void check_max_connections(const backend *b, int want)
{
    gt_db *db = open_db(b);
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, b->max_conn, NULL, 0, GT_NEVER);

    ck_assert_msg(n == 1, "%s: %s", b->max_conn, gt_db_errmsg(db));
    ck_assert_msg(gt_rows_int(r, 0, 0) == want,
                  "max_connections is %lld, "
                  "not %d",
                  (long long)gt_rows_int(r, 0, 0), want);
    gt_rows_free(r);
    gt_db_close(db);
}

/* Counts the showcase's sessions from the server's side while the load
 * runs, so that the cap is not only the pool's word. */
typedef struct sampler {
    const backend *b;
    char app[64]; /* the application name the showcase connects with */
    int stop;     /* set when the load is over */
    int64_t max;  /* most sessions seen at once */
} sampler;

static int sample_sessions(void *arg)
{
    sampler *s = arg;
    gt_db *db = open_db(s->b);
    gt_db_value app = gt_db_text(s->app);

    while (!s->stop) {
        gt_rows *r = NULL;
        int n = gt_db_query(db, &r, s->b->sessions, &app, 1, GT_NEVER);

        ck_assert_msg(n == 1, "%s: %s", s->b->sessions, gt_db_errmsg(db));
        if (gt_rows_int(r, 0, 0) > s->max)
            s->max = gt_rows_int(r, 0, 0);
        gt_rows_free(r);
        gt_sleep(20);
    }
    gt_db_close(db);
    return 0;
}

static int t_seed(void *arg)
{
    static const char *const db_only[] = {"/db"};
    httpc_load l = {.port = e2e_sc.port,
                    .conns = 200,
                    .targets = db_only,
                    .ntargets = 1,
                    .duration_ms = CMD_TIMEOUT_MS,
                    .max_requests = 5000,
                    .request_timeout_ms = REQ_TIMEOUT_MS};
    sampler *s = arg;
    gt_co *co = NULL;
    pool_metrics m;

    check_max_connections(s->b, 20);
    if (s->b->sessions)
        ck_assert_int_eq(gt_co_spawn(&co, sample_sessions, s), 0);
    ck_assert_int_eq(httpc_load_run(&l), 0);
    s->stop = 1;
    if (co)
        ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_msg(s->max <= 10,
                  "the database saw %lld sessions of the "
                  "showcase with max_open=10",
                  (long long)s->max);
    if (verbose())
        fprintf(stderr,
                "e2e seed scenario on %s: %ld requests, %ld "
                "503s, at most %lld sessions seen by the server%s\n",
                s->b->name, l.requests, l.status503, (long long)s->max,
                s->b->sessions ? "" : " (not measured)");
    ck_assert_msg(l.requests == 5000, "only %ld of 5000 requests ran",
                  l.requests);
    ck_assert_msg(l.errors == 0, "%ld connection errors; first: %s\n%s",
                  l.errors, l.first_error, log_tail());
    ck_assert_msg(l.non2xx == l.status503,
                  "%ld non-2xx other than 503 "
                  "(%ld 503s); first: %s\n%s",
                  l.non2xx - l.status503, l.status503, l.first_error,
                  log_tail());
    get_pool_metrics(&m);
    ck_assert_msg(m.max_open_ever >= 1 && m.max_open_ever <= 10,
                  "greentor_pool_max_open_ever is %g with max_open=10",
                  m.max_open_ever);
    assert_pool_idle("after the seed scenario");
    httpc_close(&e2e_conn, 0);
    return 0;
}

START_TEST(e2e_seed_scenario)
{
    const backend *b = &e2e_backends[_i];
    sampler s = {.b = b};
    char opts[128];
    char *log;

    backend_url(b);
    e2e_open_log(b);
    lower_max_connections(b);
    snprintf(s.app, sizeof(s.app), "gt_e2e_%d", (int)getpid());
    /* Only PostgreSQL's driver reads application_name (an option no part
     * of greentor reads for a scheme is refused). */
    snprintf(opts, sizeof(opts), "max_open=10%s%s",
             b->sessions ? "&application_name=" : "", b->sessions ? s.app : "");
    start_showcase(b, opts);
    ck_assert_int_eq(e2e_run_client(t_seed, &s), 0);
    stop_showcase();
    log = log_read();
    ck_assert_msg(!strcasestr(log, "too many connections") &&
                      !strcasestr(log, "too many clients"),
                  "the showcase's log reports too many connections:\n%s",
                  log_tail());
    free(log);
    restore_max_connections(b);
    remove_files();
}
END_TEST

/* ---- client disconnect mid-request (PostgreSQL) -------------------------- */

#define HUNG_UP 12 /* requests whose clients hang up: 8 in use, 4 waiting */

/* Send HUNG_UP requests that block on the locked World table, and wait
 * until the pool shows them all in flight (max_open=8 in use, the rest
 * queued). */
static void send_blocked(httpc *clients)
{
    static const char *const targets[] = {"/queries?queries=500",
                                          "/updates?queries=500"};
    char req[256];
    pool_metrics m;

    for (int i = 0; i < HUNG_UP; i++) {
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: "
                         "127.0.0.1\r\n\r\n",
                         targets[i % 2]);

        httpc_init(&clients[i], e2e_sc.port);
        ck_assert_msg(
            httpc_connect(&clients[i], gt_deadline_in(REQ_TIMEOUT_MS)) == 0 &&
                httpc_send(&clients[i], req, (size_t)n,
                           gt_deadline_in(REQ_TIMEOUT_MS)) == 0,
            "client %d: %s", i, clients[i].err);
    }
    ck_assert_msg(wait_pool(8, HUNG_UP - 8, SETTLE_MS, &m),
                  "the requests are not all in flight on the locked table: "
                  "in_use %g, waiters %g\n%s",
                  m.in_use, m.waiters, log_tail());
}

static int t_disconnect(void *arg)
{
    httpc clients[HUNG_UP];
    gt_db *db = open_db(arg);
    pool_metrics m;

    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_msg(gt_db_exec(db, "LOCK TABLE world IN ACCESS EXCLUSIVE MODE",
                             NULL, 0, GT_NEVER) >= 0,
                  "LOCK TABLE: %s", gt_db_errmsg(db));
    send_blocked(clients);
    for (int i = 0; i < HUNG_UP; i++)
        httpc_close(&clients[i], i % 2); /* FIN and RST alike */
    ck_assert_msg(wait_pool(0, 0, SETTLE_MS, &m),
                  "%d clients hung up mid-request, their queries still "
                  "blocked: the pool still has %g in use and %g waiting "
                  "after %d ms\n%s",
                  HUNG_UP, m.in_use, m.waiters, SETTLE_MS, log_tail());
    ck_assert_int_eq(gt_db_rollback(db, GT_NEVER), 0);
    gt_db_close(db);
    json_decref(e2e_get_worlds("/queries?queries=500", 500));
    json_decref(e2e_get_worlds("/updates?queries=500", 500));
    check_db();
    assert_pool_idle("after the disconnects");
    get_pool_metrics(&m);
    ck_assert_msg(m.open <= 8, "greentor_pool_open is %g > max_open", m.open);
    httpc_close(&e2e_conn, 0);
    return 0;
}

START_TEST(e2e_client_disconnect)
{
    const backend *b = &e2e_backends[_i];

    start_showcase(b, "max_open=8&acquire_timeout_ms=60000");
    ck_assert_int_eq(e2e_run_client(t_disconnect, (void *)b), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- an unreachable database --------------------------------------------- */

/* Start the showcase with 'url_setting' ("DATABASE_URL=...") and expect
 * it to exit by itself with code 2 and a message; returns its log (the
 * caller frees it). */
static char *expect_exit_2(const char *url_setting)
{
    char bin[PATH_MAX], port[32], *log;
    char *argv[] = {bin, NULL};
    char *env[] = {port, "WORKERS=2", (char *)url_setting, NULL};
    int status;

    showcase_path(bin);
    snprintf(port, sizeof(port), "PORT=%d", test_free_port());
    e2e_sc.pid = e2e_spawn(argv, env, "/tmp", e2e_sc.log);
    ck_assert_msg(e2e_sc.pid > 0, "fork: %s", strerror(errno));
    if (!e2e_wait_exit(e2e_sc.pid, START_TIMEOUT_MS, &status)) {
        kill(e2e_sc.pid, SIGKILL);
        waitpid(e2e_sc.pid, &status, 0);
        e2e_sc.pid = 0;
        ck_abort_msg("the showcase still runs %d ms after start with %s:\n"
                     "%s",
                     START_TIMEOUT_MS, url_setting, log_tail());
    }
    e2e_sc.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
                  "expected exit code 2 with %s, got status 0x%x:\n%s",
                  url_setting, status, log_tail());
    log = log_read();
    ck_assert_msg(log[0] != '\0', "no message explains the exit");
    return log;
}

START_TEST(e2e_unreachable_database)
{
    const backend *b = &e2e_backends[_i];
    char url[256];

    e2e_open_log(b);
    if (b->env) /* a port where nothing listens */
        snprintf(url, sizeof(url),
                 "DATABASE_URL=%s://greentor:greentor@"
                 "127.0.0.1:%d/greentor_test",
                 b->name, test_free_port());
    else
        snprintf(url, sizeof(url),
                 "DATABASE_URL=sqlite:///nonexistent-"
                 "greentor-e2e/no/such/dir.db");
    free(expect_exit_2(url));
    remove_files();
}
END_TEST

/* ---- TechEmpower's other table names, and none --------------------------- */

START_TEST(e2e_other_table_spelling)
{
    const backend *b = &e2e_backends[_i];

    seed_names = b->other_names;
    start_showcase(b, "max_open=8");
    ck_assert_int_eq(e2e_run_client(t_endpoints, NULL), 0);
    stop_showcase();
    remove_files();
    seed_names = NULL;
}
END_TEST

static int drop_tables(void *arg)
{
    const backend *b = arg;
    gt_db *db = open_db(b);

    ck_assert_msg(gt_db_exec(db, b->drop_all, NULL, 0, GT_NEVER) >= 0, "%s: %s",
                  b->drop_all, gt_db_errmsg(db));
    gt_db_close(db);
    return 0;
}

START_TEST(e2e_missing_table_is_named)
{
    const backend *b = &e2e_backends[_i];
    char url[600], *log;

    e2e_open_log(b);
    ck_assert_int_eq(e2e_run_client(drop_tables, (void *)b), 0);
    snprintf(url, sizeof(url), "DATABASE_URL=%s", backend_url(b));
    log = expect_exit_2(url);
    ck_assert_msg(strstr(log, "has no world table (looked for "),
                  "the message does not name the missing table:\n%s", log);
    free(log);
    e2e_seed(backend_url(b)); /* leave the tables as the other tests do */
    remove_files();
}
END_TEST

/* ---- --help and bad configuration ---------------------------------------- */

/* Run the showcase with 'arg' (or none) and 'setting' in its environment
 * until it exits by itself; returns its wait status. */
static int run_showcase(const char *arg, const char *setting)
{
    char bin[PATH_MAX], port[32];
    char *argv[] = {bin, (char *)arg, NULL};
    char *env[] = {port, (char *)setting, NULL};
    int status;

    showcase_path(bin);
    snprintf(port, sizeof(port), "PORT=%d", test_free_port());
    e2e_sc.pid = e2e_spawn(argv, env, "/tmp", e2e_sc.log);
    ck_assert_msg(e2e_sc.pid > 0, "fork: %s", strerror(errno));
    if (!e2e_wait_exit(e2e_sc.pid, START_TIMEOUT_MS, &status)) {
        kill(e2e_sc.pid, SIGKILL);
        waitpid(e2e_sc.pid, &status, 0);
        e2e_sc.pid = 0;
        ck_abort_msg("showcase %s (%s) did not exit:\n%s", arg ? arg : "",
                     setting, log_tail());
    }
    e2e_sc.pid = 0;
    return status;
}

START_TEST(e2e_help_and_bad_config)
{
    static const char *const bad[] = {"PORT=http", "PORT=70000", "WORKERS=0",
                                      "WORKERS=many"};
    static const char *const names[] = {"PORT", "WORKERS", "DATABASE_URL"};
    static const struct {
        const char *setting, *says;
    } bad_opts[] = {
        {"DATABASE_URL=sqlite:gt-e2e.db?foo=1", "unknown option 'foo'"},
        {"DATABASE_URL=sqlite:gt-e2e.db?max_opn=4", "did you mean max_open"},
        {"DATABASE_URL=sqlite:gt-e2e.db?max_open=4294967297",
         "max_open must be a whole number from 1"},
        {"DATABASE_URL=postgres://u:s3cret@127.0.0.1:1/d?max_open=x",
         "max_open must be"},
        {"DATABASE_URL=postgres://u:s3cret/x@127.0.0.1:1/d",
         "'@' after the host part"},
    };
    int st;
    char *log;

    e2e_open_log(&e2e_backends[_i]);
    st = run_showcase("--help", "DATABASE_URL");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "--help: status "
                  "0x%x",
                  st);
    log = log_read();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(log, names[i]),
                      "--help does not mention %s:"
                      "\n%s",
                      names[i], log);
    free(log);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st = run_showcase(NULL, bad[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
                      "%s: expected exit code 2, got status 0x%x\n%s", bad[i],
                      st, log_tail());
    }
    /* Issue 16: options are strict, and the message names the culprit
     * (never the password). */
    for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
        st = run_showcase(NULL, bad_opts[i].setting);
        log = log_read();
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
                          strstr(log, bad_opts[i].says) &&
                          !strstr(log, "s3cret"),
                      "%s: want exit code 2 and a message with '%s', got "
                      "status 0x%x\n%s",
                      bad_opts[i].setting, bad_opts[i].says, st, log_tail());
        free(log);
    }
    remove_files();
}
END_TEST

/* ---- registration -------------------------------------------------------- */

void add_e2e_fault_tests(TCase *tc, const backend *b, int i)
{
    tcase_add_loop_test(tc, e2e_unreachable_database, i, i + 1);
    if (b->server) {
        tcase_add_loop_test(tc, e2e_seed_scenario, i, i + 1);
        tcase_add_loop_test(tc, e2e_other_table_spelling, i, i + 1);
        tcase_add_loop_test(tc, e2e_missing_table_is_named, i, i + 1);
    } else /* the same on every backend: run it once */
        tcase_add_loop_test(tc, e2e_help_and_bad_config, i, i + 1);
    if (strcmp(b->name, "postgres") == 0)
        tcase_add_loop_test(tc, e2e_client_disconnect, i, i + 1);
}
