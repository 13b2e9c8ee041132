/* tests/test_db_init.c -- a connection's set-up on all three backends: the
 * URL's init= statements and gt_db_set_init() / the pool's on_connect.
 *
 * What is proved, per backend, against the real servers: init= statements
 * run at open, percent-decoded and in the order given (two of them set the
 * same variable, and the later value is the one seen); they hold again
 * after gt_db_reset() even when the session had overwritten them; a
 * failing one fails the open with a message naming it; the set-up
 * function runs now and after each reset, and its failure breaks the
 * connection; and through the pool, a connection that a request dirtied
 * (overwrote an init setting) comes back to the next request with the
 * init settings in force, and a failing set-up is a clear GT_EPOOL.
 *
 * The settings differ per backend and are data in one table; each is read
 * back as text (gt_rows_text() renders integers, so SQLite's PRAGMA values
 * compare the same way). On SQLite a reset only rolls back (nothing a SET
 * could have changed is undone), so there the set-up is not run again,
 * and the pool replaces a dirtied SQLite connection instead of resetting
 * it -- the new one runs the set-up at open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/driver.h"
#include "greentor/pool.h"
#include "util.h"

typedef struct setting {
    const char *read_sql; /* one row, one column */
    const char *want;     /* as text */
} setting;

typedef struct init_def {
    const char *name, *tcase;
    const char *env;       /* URL variable; NULL: sqlite::memory: */
    const char *init_opts; /* init= options, percent-encoded */
    setting first, second; /* what init_opts set (first: set twice) */
    setting amp;           /* a value with a '&' sent as %26; NULL: none */
    const char *overwrite; /* a request's SET of 'first' to another value */
    const char *fn_sql;    /* what the set-up function runs */
    setting by_fn;
} init_def;

static const init_def defs[] = {
    {
        .name = "sqlite",
        .tcase = "init_sqlite",
        .init_opts = "init=PRAGMA%20cache_size%3D100"
                     "&init=PRAGMA%20foreign_keys%3DON"
                     "&init=PRAGMA%20cache_size%3D-1234",
        /* Read through the table-valued forms: a statement starting with
         * PRAGMA counts as changing the session (db.c). */
        .first = {"SELECT * FROM pragma_cache_size()", "-1234"},
        .second = {"SELECT * FROM pragma_foreign_keys()", "1"},
        .overwrite = "PRAGMA cache_size=99",
        .fn_sql = "PRAGMA recursive_triggers=ON",
        .by_fn = {"SELECT * FROM pragma_recursive_triggers()", "1"},
    },
    {
        .name = "postgres",
        .tcase = "init_postgres",
        .env = "GT_TEST_PG_URL",
        .init_opts = "init=SET%20statement_timeout%3D1000"
                     "&init=SET%20search_path%3Dgt_init,public"
                     "&init=SET%20statement_timeout%3D4321"
                     "&init=SET%20application_name%3D'gt%26init'",
        .first = {"SELECT current_setting('statement_timeout')", "4321ms"},
        .second = {"SHOW search_path", "gt_init, public"},
        .amp = {"SELECT current_setting('application_name')", "gt&init"},
        .overwrite = "SET statement_timeout = 99",
        .fn_sql = "SET work_mem = '1234kB'",
        .by_fn = {"SELECT current_setting('work_mem')", "1234kB"},
    },
    {
        .name = "mysql",
        .tcase = "init_mysql",
        .env = "GT_TEST_MYSQL_URL",
        .init_opts = "init=SET%20SESSION%20wait_timeout%3D1000"
                     "&init=SET%20SESSION%20sql_mode%3D'ANSI_QUOTES'"
                     "&init=SET%20SESSION%20wait_timeout%3D4321"
                     "&init=SET%20@gt_init%3D'gt%26init'",
        .first = {"SELECT @@SESSION.wait_timeout", "4321"},
        .second = {"SELECT @@SESSION.sql_mode", "ANSI_QUOTES"},
        .amp = {"SELECT @gt_init", "gt&init"},
        .overwrite = "SET SESSION wait_timeout = 99",
        .fn_sql = "SET SESSION group_concat_max_len = 4321",
        .by_fn = {"SELECT @@SESSION.group_concat_max_len", "4321"},
    },
};

static const init_def *be; /* the running test case's backend */

static bool is_sqlite(void)
{
    return be->env == NULL;
}

/* The backend's URL with 'opts' appended (may be NULL). */
static const char *url_with(const char *opts)
{
    static char buf[1024];
    const char *base = be->env ? getenv(be->env) : "sqlite::memory:";

    ck_assert_msg(base && *base,
                  "%s is not set: run `eval \"$(bash "
                  "scripts/db.sh start)\"` first",
                  be->env);
    snprintf(buf, sizeof(buf), "%s%s%s", base,
             opts ? (strchr(base, '?') ? "&" : "?") : "", opts ? opts : "");
    return buf;
}

static gt_db *open_ok(const char *opts)
{
    gt_db *db = NULL;
    const char *url = url_with(opts);
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "open %s: %d %s", url, rc,
                  db ? gt_db_errmsg(db) : "");
    return db;
}

static void exec_ok(gt_db *db, const char *sql)
{
    ck_assert_msg(gt_db_exec(db, sql, NULL, 0, GT_NEVER) >= 0, "%s: %s", sql,
                  gt_db_errmsg(db));
}

static void expect(gt_db *db, const setting *s)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, s->read_sql, NULL, 0, GT_NEVER);

    ck_assert_msg(n == 1, "%s: %d %s", s->read_sql, n, gt_db_errmsg(db));
    ck_assert_msg(strcmp(gt_rows_text(r, 0, 0, NULL), s->want) == 0,
                  "%s: '%s', want '%s'", s->read_sql,
                  gt_rows_text(r, 0, 0, NULL), s->want);
    gt_rows_free(r);
}

/* Whether 's' reads as its init value (without failing if not). */
static bool holds(gt_db *db, const setting *s)
{
    gt_rows *r = NULL;
    bool ok = gt_db_query(db, &r, s->read_sql, NULL, 0, GT_NEVER) == 1 &&
              strcmp(gt_rows_text(r, 0, 0, NULL), s->want) == 0;

    gt_rows_free(r);
    return ok;
}

/* ---- init= at open and after a reset ------------------------------------- */

static int t_open(void *arg)
{
    gt_db *db = open_ok(be->init_opts);

    (void)arg;
    /* The set-up is the baseline, not a change a reset must undo. */
    ck_assert_int_eq(db->session_dirty, 0);
    expect(db, &be->first); /* the third statement ran after the first */
    expect(db, &be->second);
    if (be->amp.read_sql) /* '&' cannot be raw: it separates options */
        expect(db, &be->amp);
    gt_db_close(db);
    return 0;
}

START_TEST(init_statements_run_in_order_at_open)
{
    ck_assert_int_eq(run_main(t_open, NULL), 0);
}
END_TEST

static int t_reset(void *arg)
{
    gt_db *db = open_ok(be->init_opts);

    (void)arg;
    exec_ok(db, be->overwrite);
    ck_assert(!holds(db, &be->first));
    ck_assert_int_ne(db->session_dirty, 0);
    ck_assert_int_eq(gt_db_reset(db, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(db->session_dirty, 0);
    if (is_sqlite()) /* a rollback only: the PRAGMA stays as it was set */
        ck_assert(!holds(db, &be->first));
    else
        expect(db, &be->first);
    expect(db, &be->second);
    if (be->amp.read_sql)
        expect(db, &be->amp);
    gt_db_close(db);
    return 0;
}

START_TEST(init_statements_hold_again_after_a_reset)
{
    ck_assert_int_eq(run_main(t_reset, NULL), 0);
}
END_TEST

static int t_bad_statement(void *arg)
{
    gt_db *db = NULL;
    const char *url = url_with("init=SELECT%201&init=SELEC%20oops");
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    (void)arg;
    ck_assert_int_eq(rc, GT_EDB);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(strncmp(gt_db_errmsg(db),
                          "init statement 2 (SELEC oops) "
                          "failed: ",
                          37) == 0 &&
                      strlen(gt_db_errmsg(db)) > 37,
                  "message: %s", gt_db_errmsg(db));
    if (!is_sqlite()) /* the server's SQLSTATE for a syntax error */
        ck_assert_str_eq(gt_db_sqlstate(db),
                         strcmp(be->name, "postgres") == 0 ? "42601" : "42000");
    ck_assert_int_ne(gt_db_broken(db), 0);
    ck_assert_int_eq(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), -ENOTCONN);
    gt_db_close(db);
    /* Empty init= options are skipped, not sent. */
    db = open_ok("init=&init=");
    exec_ok(db, "SELECT 1");
    gt_db_close(db);
    return 0;
}

START_TEST(failing_init_statement_fails_the_open_and_is_named)
{
    ck_assert_int_eq(run_main(t_bad_statement, NULL), 0);
}
END_TEST

/* ---- the set-up function ------------------------------------------------- */

typedef struct fn_state {
    int calls;
    int fail; /* return this instead of running fn_sql, when nonzero */
} fn_state;

static int set_up(gt_db *db, void *arg, int64_t deadline)
{
    fn_state *st = arg;

    st->calls++;
    if (st->fail)
        return st->fail;
    return (int)gt_db_exec(db, be->fn_sql, NULL, 0, deadline);
}

static int t_function(void *arg)
{
    gt_db *db = open_ok(be->init_opts);
    fn_state st = {0};

    (void)arg;
    ck_assert_int_eq(gt_db_set_init(db, set_up, &st, GT_NEVER), 0);
    ck_assert_int_eq(st.calls, 1);
    ck_assert_int_eq(db->session_dirty, 0);
    expect(db, &be->by_fn);
    ck_assert_int_eq(gt_db_reset(db, GT_NEVER), 0);
    ck_assert_int_eq(st.calls, is_sqlite() ? 1 : 2);
    expect(db, &be->by_fn);
    expect(db, &be->second);
    /* Removed, it is not run again. */
    ck_assert_int_eq(gt_db_set_init(db, NULL, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_db_reset(db, GT_NEVER), 0);
    ck_assert_int_eq(st.calls, is_sqlite() ? 1 : 2);
    ck_assert_int_eq(gt_db_set_init(db, set_up, &st, GT_NEVER), 0);
    ck_assert_int_eq(st.calls, is_sqlite() ? 2 : 3);
    /* A failure on a reset breaks the connection, with its reason. */
    st.fail = -EPERM;
    if (!is_sqlite()) {
        ck_assert_int_eq(gt_db_reset(db, GT_NEVER), -EPERM);
        ck_assert_int_ne(gt_db_broken(db), 0);
        ck_assert_msg(strstr(gt_db_errmsg(db), "init function failed") ==
                          gt_db_errmsg(db),
                      "message: %s", gt_db_errmsg(db));
    }
    gt_db_close(db);
    /* And so does a failure when it is set. */
    db = open_ok(NULL);
    ck_assert_int_eq(gt_db_set_init(db, set_up, &st, GT_NEVER), -EPERM);
    ck_assert_int_ne(gt_db_broken(db), 0);
    ck_assert_msg(strncmp(gt_db_errmsg(db), "init function failed: ", 22) == 0,
                  "message: %s", gt_db_errmsg(db));
    gt_db_close(db);
    return 0;
}

START_TEST(init_function_runs_now_and_after_each_reset)
{
    ck_assert_int_eq(run_main(t_function, NULL), 0);
}
END_TEST

/* ---- through the pool ---------------------------------------------------- */

typedef struct req {
    gt_pool *pool;
    bool dirty; /* overwrite the init setting, as a careless handler */
} req;

/* One request: the init settings are in force, whatever the previous
 * request on this connection did; then maybe dirty the session. */
static int request(void *arg)
{
    req *r = arg;
    gt_db *db;
    int rc = gt_pool_db(r->pool, &db);

    ck_assert_msg(rc == 0, "gt_pool_db: %d %s", rc, gt_pool_errmsg(r->pool));
    expect(db, &be->first);
    expect(db, &be->second);
    expect(db, &be->by_fn);
    if (r->dirty)
        exec_ok(db, be->overwrite);
    return 0;
}

static void run_request(gt_pool *p, bool dirty)
{
    req r = {p, dirty};
    gt_co *co;
    int rc = -1;

    ck_assert_int_eq(gt_co_spawn(&co, request, &r), 0);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
}

static gt_pool *pools[4]; /* freed after the runtime has stopped */
static int npools;

static gt_pool *make_pool(const char *opts, fn_state *st)
{
    gt_pool_config cfg = {.on_connect = set_up, .on_connect_arg = st};
    char err[256];
    gt_pool *p = NULL;
    int rc =
        gt_pool_new(&p, gt_rt_self(), url_with(opts), &cfg, err, sizeof(err));

    ck_assert_msg(rc == 0, "gt_pool_new: %d %s", rc, err);
    pools[npools++] = p;
    return p;
}

static int t_pool_dirty(void *arg)
{
    char opts[512];
    fn_state st = {0};
    gt_pool_stats s;
    gt_pool *p;

    (void)arg;
    snprintf(opts, sizeof(opts), "max_open=1&%s", be->init_opts);
    p = make_pool(opts, &st);
    run_request(p, true);  /* leaves the connection dirty */
    run_request(p, false); /* still sees the init settings */
    run_request(p, false);
    gt_pool_get_stats(p, &s);
    if (is_sqlite()) { /* replaced, and the new one set up at open */
        ck_assert_int_eq(s.opened, 2);
        ck_assert_int_eq(st.calls, 2);
    } else { /* reset once, set up again, never reopened */
        ck_assert_int_eq(s.opened, 1);
        ck_assert_int_eq(s.resets, 1);
        ck_assert_int_eq(st.calls, 2);
    }
    ck_assert_int_eq(s.in_use, 0);
    return 0;
}

START_TEST(pool_connection_keeps_init_settings_after_a_dirty_request)
{
    gt_rt_config cfg = {.workers = 1};

    ck_assert_int_eq(gt_rt_main(&cfg, t_pool_dirty, NULL), 0);
    while (npools > 0)
        gt_pool_free(pools[--npools]);
}
END_TEST

/* A failing set-up: the acquisition fails as a failed connect does, with
 * the step in the message, and the slot is given back. */
static void expect_pool_failure(gt_pool *p, const char *why)
{
    gt_pool_stats s;
    gt_db *db;

    ck_assert_int_eq(gt_pool_db(p, &db), GT_EPOOL);
    ck_assert_msg(strstr(gt_pool_errmsg(p), why), "pool message: %s",
                  gt_pool_errmsg(p));
    gt_pool_get_stats(p, &s);
    ck_assert_int_eq(s.open, 0);
    ck_assert_int_eq(s.opened, 0);
    ck_assert_int_eq(s.connect_errors, 1);
}

static int t_pool_failure(void *arg)
{
    fn_state st = {.fail = -EPERM};

    (void)arg;
    expect_pool_failure(make_pool("init=SELEC%20oops", &st),
                        "init statement 1 (SELEC oops) failed");
    ck_assert_int_eq(st.calls, 0); /* the statements come first */
    expect_pool_failure(make_pool(NULL, &st), "init function failed");
    ck_assert_int_eq(st.calls, 1);
    return 0;
}

START_TEST(pool_failing_init_discards_the_connection_with_a_reason)
{
    gt_rt_config cfg = {.workers = 1};

    ck_assert_int_eq(gt_rt_main(&cfg, t_pool_failure, NULL), 0);
    while (npools > 0)
        gt_pool_free(pools[--npools]);
}
END_TEST

/* ---- registration -------------------------------------------------------- */

static void use_sqlite(void)
{
    be = &defs[0];
}

static void use_postgres(void)
{
    be = &defs[1];
}

static void use_mysql(void)
{
    be = &defs[2];
}

void add_db_init_tests(Suite *s, const char *backend)
{
    TCase *tc;
    int i = 0;

    while (i < 3 && strcmp(defs[i].name, backend) != 0)
        i++;
    if (i == 3) {
        fprintf(stderr, "add_db_init_tests: unknown backend '%s'\n", backend);
        abort();
    }
    tc = tcase_create(defs[i].tcase);
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc,
                              i == 0   ? use_sqlite
                              : i == 1 ? use_postgres
                                       : use_mysql,
                              NULL);
    tcase_add_test(tc, init_statements_run_in_order_at_open);
    tcase_add_test(tc, init_statements_hold_again_after_a_reset);
    tcase_add_test(tc, failing_init_statement_fails_the_open_and_is_named);
    tcase_add_test(tc, init_function_runs_now_and_after_each_reset);
    tcase_add_test(tc,
                   pool_connection_keeps_init_settings_after_a_dirty_request);
    tcase_add_test(tc, pool_failing_init_discards_the_connection_with_a_reason);
    suite_add_tcase(s, tc);
}
