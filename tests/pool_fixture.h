/* tests/pool_fixture.h -- what the pool test files share: the backend of
 * the running test case (set by a checked fixture), URLs for it, pools that
 * outlive the runtime's run, and the server's own count of our sessions. */
#ifndef GT_TESTS_POOL_FIXTURE_H
#define GT_TESTS_POOL_FIXTURE_H

#include <stdint.h>

#include <check.h>

#include "greentor/pool.h"

extern const char *backend; /* "sqlite", "postgres" or "mysql" */

/* Checked fixtures that set 'backend'. */
void use_sqlite(void);
void use_postgres(void);
void use_mysql(void);
/* Add the one of them for 'which' ("sqlite", "postgres", "mysql") to tc. */
void use_backend_of(TCase *tc, const char *which);

/* Poll the server's count of our tagged sessions over 'probe' until it is
 * 'want' (a session ends a moment after its socket), for at most 5 s;
 * returns the last count. */
int64_t wait_server_sessions(gt_db *probe, int64_t want);
/* Poll until no connection given back to 'p' is still being cleaned (a
 * pool coroutine's rollback or reset), for at most 5 s; the stats then. */
void wait_cleaned(gt_pool *p, gt_pool_stats *st);

/* The test database's URL for 'backend' (environment of scripts/db.sh;
 * a per-process file for SQLite). */
const char *base_url(void);
/* base_url() with 'opts' appended and a tag the server shows for each of
 * our sessions (application_name on PostgreSQL). Static buffer. */
char *url_with(const char *opts);
/* base_url() as the user gt_capped of scripts/db.sh, whom the database
 * allows 3 connections, with 'opts' appended (NULL: none). Static
 * buffer. */
const char *capped_url(const char *opts);
/* The server's count of our tagged sessions, asked over 'probe'. */
int64_t server_sessions(gt_db *probe);

/* A pool on the calling runtime, freed by run_pool_test() after the run. */
gt_pool *make_pool(const char *opts);
/* Free 'p' in run_pool_test() too (for pools made by hand). */
void keep_pool(gt_pool *p);
/* Run fn on a fresh runtime of 'workers' workers, then free its pools. */
int run_pool_test(gt_co_fn fn, int workers);

void exec_ok(gt_db *db, const char *sql);

#endif
