/* tests/db_shared_fixture.h -- what the shared database cases
 * (test_db_shared.c) and the SQLite-only ones (test_db_sqlite.c) share:
 * the backend of the running test case and its differences as data, and
 * helpers that fail the test on any error.
 *
 * PostgreSQL and MariaDB are real servers: their URLs come from
 * GT_TEST_PG_URL / GT_TEST_MYSQL_URL, and a missing one fails the test (a
 * green run must mean the backend was tested). SQLite runs every test in
 * both of its modes, inline and offload. */
#ifndef GT_TESTS_DB_SHARED_FIXTURE_H
#define GT_TESTS_DB_SHARED_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "greentor/db.h"
#include "greentor/runtime.h"

typedef struct backend_def {
    const char *name;
    const char *env;        /* URL variable; NULL: built in */
    const char *urls[2];    /* built-in URLs, one per mode */
    const char *types_ddl;  /* (id, i, f, t, b) */
    const char *blob_ddl;   /* (id, b) */
    const char *charlen;    /* length in characters */
    const char *long_sql;   /* runs for seconds */
    const char *second_sql; /* ~1 s; NULL: long_sql with a 1 s deadline */
    const char *syntax_sqlstate;
    int unique_errcode;
    const char *unique_sqlstate;
    const char *stmt_count_sql; /* prepared statements, value in column 1 */
    bool stmt_count_live;       /* live count (else cumulative prepares) */
} backend_def;

extern const backend_def backends[3]; /* sqlite, postgres, mysql */
/* The backend of the running test: set by its test case's fixture, one
 * of these. */
extern const backend_def *be;
void shared_use_sqlite(void);
void shared_use_postgres(void);
void shared_use_mysql(void);

/* The URLs to run a test against: SQLite's two modes, or the server's. */
int test_urls(const char *urls[2]);
/* 'base' with the query options 'opts' appended; static storage. */
const char *url_and(const char *base, const char *opts);
/* Open, exec, query, each asserting success (10 s / 30 s deadlines). */
gt_db *open_ok(const char *url);
int64_t exec_n_ok(gt_db *db, const char *sql, const gt_db_value *p, int n);
gt_rows *query_ok(gt_db *db, const char *sql, const gt_db_value *p, int n);
/* "gt_<backend>_<what>", dropped and created with the column list 'cols';
 * static storage. */
const char *fresh_table(gt_db *db, const char *what, const char *cols);
/* The last column of the only row of 'sql', with one parameter or none. */
int64_t scalar_p(gt_db *db, const char *sql, const gt_db_value *p);
int64_t scalar(gt_db *db, const char *sql);
/* After an interrupted query the connection works or says it is broken. */
void assert_usable_or_broken(gt_db *db);
/* Run body(url) in a coroutine for each URL of the backend. */
void run_each_cfg(int (*body)(void *), const gt_rt_config *cfg);
void run_each(int (*body)(void *));

/* INSERT k into table tb (a column k). */
void put_k(gt_db *db, const char *tb, int k);
/* A coroutine body: sleep 100 ms, then cancel the coroutine 'arg'. */
int cancel_after(void *arg);
/* A coroutine body counting 10 ms sleeps until 'stop': proof that the
 * worker's loop kept running. */
typedef struct ticker {
    int ticks;
    bool stop;
} ticker;

int tick(void *arg);

/* test_db_sqlite.c: the SQLite-only cases, added to the "sqlite" case. */
void add_db_sqlite_only_tests(TCase *tc);

#endif
