/* tests/util.h -- helpers shared by the test suites. */
#ifndef GT_TESTS_UTIL_H
#define GT_TESTS_UTIL_H

#include <check.h>
#include <sys/types.h>

#include "greentor.h"

/* Run fn(arg) as a coroutine on a fresh one-worker runtime and return its
 * result; the runtime is torn down before this returns. */
int run_main(gt_co_fn fn, void *arg);

/* The same with a configuration. */
int run_main_cfg(const gt_rt_config *cfg, gt_co_fn fn, void *arg);

/* Run fn(arg) in a forked child with stderr captured; returns the child's
 * wait status and copies up to cap-1 bytes of its stderr into err. */
int run_child(void (*fn)(void *), void *arg, char *err, size_t cap);

/* A loopback TCP port nobody listens on now: the kernel's pick for port
 * 0 (free until someone else takes it). */
int test_free_port(void);

/* The database URL in environment variable 'env' (set by scripts/db.sh
 * env); fails the test when it is not set. */
const char *test_db_url(const char *env);
/* The one integer that 'sql' answers on 'db' (a count, say); fails the
 * test otherwise. */
int64_t query_int(gt_db *db, const char *sql);

/* Run fn(db[i]) for each of the n connections at once, each a statement
 * expected to end at its deadline (-ETIMEDOUT) while the server is stuck;
 * then an SQLite offload connection, 'lite', must still answer. */
void expect_timeouts(gt_db **db, int n, gt_co_fn fn, gt_db *lite);
/* After a fault: each of the n connections' next statement must succeed
 * or find the connection dropped (-ECONNRESET); all are closed. Returns
 * how many were kept. */
int close_kept(gt_db **db, int n);
/* Poll count(probe) until it is 0, for at most 10 s; fails otherwise. */
void wait_none_left(gt_db *probe, int64_t (*count)(gt_db *));

/* MariaDB's count of the greentor user's sessions other than probe's. */
int64_t mysql_our_sessions(gt_db *probe);

/* The pid of scripts/db.sh's PostgreSQL postmaster (GT_DB_DIR). */
pid_t pg_postmaster_pid(void);
/* The MariaDB server of scripts/db.sh. */
pid_t mysql_server_pid(void);

/* A watchdog child that sends SIGCONT to 'pid' after 'secs' seconds, so a
 * test that SIGSTOPs a server cannot leave it stopped; kill and reap it
 * when done. */
pid_t resume_later(pid_t pid, int secs);

/* Each test file adds its test cases to its module's suite. */
void add_runtime_co_tests(Suite *s);
void add_runtime_sync_tests(Suite *s);
void add_runtime_wait_tests(Suite *s);
void add_runtime_local_tests(Suite *s);
void add_runtime_rt_tests(Suite *s);
void add_runtime_stack_tests(Suite *s);
void add_runtime_scope_tests(Suite *s);
void add_runtime_oom_tests(Suite *s);
void add_runtime_errors_tests(Suite *s);
void add_runtime_switch_tests(Suite *s);
void add_runtime_pools_tests(Suite *s);
void add_http_server_tests(Suite *s);
void add_http_server_life_tests(Suite *s);
void add_http_stopping_tests(Suite *s);
void add_http_errors_tests(Suite *s);
void add_http_json_tests(Suite *s);
void add_http_params_tests(Suite *s);
void add_http_client_tests(Suite *s);
void add_http_fd_tests(Suite *s);
void add_http_response_tests(Suite *s);
void add_http_hooks_tests(Suite *s);
void add_http_static_tests(Suite *s);
void add_http_log_tests(Suite *s);
void add_db_core_tests(Suite *s);
void add_db_stmtcache_tests(Suite *s);
void add_db_rows_tests(Suite *s);
void add_db_opts_tests(Suite *s);
void add_db_shared_tests(Suite *s, const char *backend);
void add_db_pg_tests(Suite *s);
void add_db_mysql_tests(Suite *s);
void add_db_mysql_side_tests(Suite *s);
void add_db_mysql_wedged_tests(Suite *s);
void add_db_batch_tests(Suite *s, const char *backend);
void add_db_pg_params_tests(Suite *s);
void add_db_pg_wedged_tests(Suite *s);
void add_db_tls_tests(Suite *s);
void add_db_pools_tests(Suite *s);
void add_db_init_tests(Suite *s, const char *backend);
void add_pool_tests(Suite *s, const char *backend);
void add_pool_worker_tests(Suite *s, const char *backend);
void add_pool_stale_tests(Suite *s, const char *backend);
void add_db_redial_tests(Suite *s, const char *backend);
void add_pool_capacity_tests(Suite *s, const char *backend);
void add_pool_bouncer_tests(Suite *s);
void add_pool_leak_tests(Suite *s, const char *backend);
void add_pool_failover_tests(Suite *s);
void add_pool_timeout_tests(Suite *s);
void add_pool_oom_tests(Suite *s);
void add_pool_log_tests(Suite *s);
void add_e2e_tests(Suite *s, const char *backend);
void add_e2e_stop_tests(Suite *s);
void add_e2e_args_tests(Suite *s);
void add_e2e_bookmarks_tests(Suite *s, const char *backend);
void add_client_tests(Suite *s);
void add_net_tests(Suite *s);
void add_redis_tests(Suite *s);
void add_redis_pool_tests(Suite *s);
void add_redis_faults_tests(Suite *s);
void add_client_tls_tests(Suite *s);
void add_scripts_tests(Suite *s);

#endif
