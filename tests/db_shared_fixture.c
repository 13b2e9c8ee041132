/* tests/db_shared_fixture.c -- see db_shared_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_shared_fixture.h"
#include "util.h"

const backend_def backends[] = {
    {
        .name = "sqlite",
        .urls = {"sqlite::memory:", "sqlite::memory:?mode=offload"},
        .types_ddl = "(id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, "
                     "b BLOB)",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b BLOB)",
        .charlen = "length",
        .long_sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                    "FROM c WHERE x < 1000000000) SELECT count(*) FROM c",
        .syntax_sqlstate = "",
        .unique_errcode = 2067, /* SQLITE_CONSTRAINT_UNIQUE */
        .unique_sqlstate = "",
        .stmt_count_sql = "SELECT 0, count(*) FROM sqlite_stmt",
        .stmt_count_live = true,
    },
    {
        .name = "postgres",
        .env = "GT_TEST_PG_URL",
        .types_ddl = "(id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, "
                     "t TEXT, b BYTEA)",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b BYTEA)",
        .charlen = "char_length",
        .long_sql = "SELECT pg_sleep(5)",
        .second_sql = "SELECT pg_sleep(1)",
        .syntax_sqlstate = "42601",
        .unique_errcode = 0,
        .unique_sqlstate = "23505",
        .stmt_count_sql = "SELECT 0, count(*) FROM pg_prepared_statements",
        .stmt_count_live = true,
    },
    {
        .name = "mysql",
        .env = "GT_TEST_MYSQL_URL",
        .types_ddl = "(id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE, t TEXT, "
                     "b LONGBLOB) CHARACTER SET utf8mb4",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b LONGBLOB)",
        .charlen = "char_length",
        .long_sql = "SELECT SLEEP(5)",
        .second_sql = "SELECT SLEEP(1)",
        .syntax_sqlstate = "42000",
        .unique_errcode = 1062, /* ER_DUP_ENTRY */
        .unique_sqlstate = "23000",
        .stmt_count_sql = "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'",
        .stmt_count_live = false,
    },
};

/* The backend of the running test: set by its test case's fixture. */
const backend_def *be;

void shared_use_sqlite(void)
{
    be = &backends[0];
}

void shared_use_postgres(void)
{
    be = &backends[1];
}

void shared_use_mysql(void)
{
    be = &backends[2];
}

/* ---- helpers ------------------------------------------------------------- */

/* The URLs to run a test against: SQLite's two modes, or the server's. */
int test_urls(const char *urls[2])
{
    const char *env;

    if (!be->env) {
        urls[0] = be->urls[0];
        urls[1] = be->urls[1];
        return 2;
    }
    env = getenv(be->env);
    ck_assert_msg(env && *env,
                  "%s is not set: start the test servers with "
                  "scripts/db.sh start, then eval \"$(scripts/db.sh env)\"",
                  be->env);
    urls[0] = env;
    return 1;
}

/* 'base' with the query options 'opts' appended; static storage. */
const char *url_and(const char *base, const char *opts)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf), "%s%c%s", base, strchr(base, '?') ? '&' : '?',
             opts);
    return buf;
}

gt_db *open_ok(const char *url)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "open %s: %d %s (%s)", url, rc, gt_strerror(rc),
                  db ? gt_db_errmsg(db) : "");
    ck_assert_str_eq(gt_db_backend(db), be->name);
    return db;
}

int64_t exec_n_ok(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    int64_t rc = gt_db_exec(db, sql, p, n, gt_deadline_in(30000));

    ck_assert_msg(rc >= 0, "%s: %lld %s", sql, (long long)rc, gt_db_errmsg(db));
    return rc;
}

gt_rows *query_ok(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, sql, p, n, gt_deadline_in(30000));

    ck_assert_msg(rc >= 0, "%s: %d %s", sql, rc, gt_db_errmsg(db));
    ck_assert_int_eq(rc, gt_rows_count(r));
    return r;
}

/* "<backend>_<what>", dropped and created with the column list 'cols'. */
const char *fresh_table(gt_db *db, const char *what, const char *cols)
{
    static char name[64];
    char sql[512];

    snprintf(name, sizeof(name), "gt_%s_%s", be->name, what);
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    exec_n_ok(db, sql, NULL, 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE %s %s", name, cols);
    exec_n_ok(db, sql, NULL, 0);
    return name;
}

/* The last column of the only row of 'sql', with one parameter or none. */
int64_t scalar_p(gt_db *db, const char *sql, const gt_db_value *p)
{
    gt_rows *r = query_ok(db, sql, p, p ? 1 : 0);
    int64_t v;

    ck_assert_int_eq(gt_rows_count(r), 1);
    v = gt_rows_int(r, 0, gt_rows_columns(r) - 1);
    gt_rows_free(r);
    return v;
}

int64_t scalar(gt_db *db, const char *sql)
{
    return scalar_p(db, sql, NULL);
}

/* After an interrupted query the connection works or says it is broken. */
void assert_usable_or_broken(gt_db *db)
{
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, gt_deadline_in(10000));

    if (rc < 0) {
        ck_assert_msg(gt_db_broken(db), "neither usable nor broken: %d %s", rc,
                      gt_db_errmsg(db));
        return;
    }
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 1);
    gt_rows_free(r);
}

/* Run body(url) in a coroutine for each URL of the backend. */
void run_each_cfg(int (*body)(void *), const gt_rt_config *cfg)
{
    const char *urls[2];
    int n = test_urls(urls);

    for (int i = 0; i < n; i++)
        ck_assert_int_eq(run_main_cfg(cfg, body, (void *)urls[i]), 0);
}

void run_each(int (*body)(void *))
{
    gt_rt_config cfg = {.workers = 1};

    run_each_cfg(body, &cfg);
}

void put_k(gt_db *db, const char *tb, int k)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "INSERT INTO %s (k) VALUES (?)", tb);
    exec_n_ok(db, sql, (gt_db_value[]){gt_db_int(k)}, 1);
}

int cancel_after(void *arg)
{
    ck_assert_int_eq(gt_sleep(100), 0);
    gt_co_cancel(arg);
    return 0;
}

int tick(void *arg)
{
    ticker *t = arg;

    while (!t->stop && gt_sleep(10) == 0)
        t->ticks++;
    return 0;
}
