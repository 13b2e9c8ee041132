/* tests/main.c -- the one test binary: one Check suite per module.
 *
 * Check forks a child per test (unless CK_FORK=no, as under valgrind), so a
 * smashed coroutine stack fails one test and not the run. CK_RUN_SUITE and
 * CK_RUN_CASE select what runs, e.g. CK_RUN_SUITE=pool make check. The
 * database suites need the servers of scripts/db.sh; a missing server
 * fails its tests, it does not skip them. */
#include <stdlib.h>

#include "util.h"

Suite *suite_http_parse(void);

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");

    add_runtime_co_tests(s);
    add_runtime_sync_tests(s);
    add_runtime_wait_tests(s);
    add_runtime_local_tests(s);
    add_runtime_rt_tests(s);
    add_runtime_stack_tests(s);
    add_runtime_scope_tests(s);
    add_runtime_oom_tests(s);
    add_runtime_errors_tests(s);
    add_runtime_switch_tests(s);
    add_runtime_pools_tests(s);
    return s;
}

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");

    add_http_server_tests(s);
    add_http_server_life_tests(s);
    add_http_stopping_tests(s);
    add_http_errors_tests(s);
    add_http_json_tests(s);
    add_http_params_tests(s);
    add_http_client_tests(s);
    add_http_fd_tests(s);
    add_http_response_tests(s);
    add_http_hooks_tests(s);
    add_http_static_tests(s);
    add_http_log_tests(s);
    return s;
}

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");

    add_db_core_tests(s);
    add_db_stmtcache_tests(s);
    add_db_rows_tests(s);
    add_db_opts_tests(s);
    add_db_shared_tests(s, "sqlite");
    add_db_shared_tests(s, "postgres");
    add_db_shared_tests(s, "mysql");
    add_db_pg_tests(s);
    add_db_pg_params_tests(s);
    add_db_pg_wedged_tests(s);
    add_db_pools_tests(s);
    add_db_mysql_tests(s);
    add_db_mysql_side_tests(s);
    add_db_mysql_wedged_tests(s);
    add_db_tls_tests(s);
    add_db_batch_tests(s, "sqlite");
    add_db_batch_tests(s, "postgres");
    add_db_init_tests(s, "sqlite");
    add_db_init_tests(s, "postgres");
    add_db_init_tests(s, "mysql");
    return s;
}

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");

    add_pool_tests(s, "sqlite");
    add_pool_tests(s, "postgres");
    add_pool_tests(s, "mysql");
    add_pool_worker_tests(s, "sqlite");
    add_pool_worker_tests(s, "postgres");
    add_pool_worker_tests(s, "mysql");
    add_pool_stale_tests(s, "postgres");
    add_pool_stale_tests(s, "mysql");
    add_db_redial_tests(s, "postgres");
    add_db_redial_tests(s, "mysql");
    add_pool_capacity_tests(s, "postgres");
    add_pool_capacity_tests(s, "mysql");
    add_pool_bouncer_tests(s);
    add_pool_leak_tests(s, "sqlite");
    add_pool_leak_tests(s, "postgres");
    add_pool_leak_tests(s, "mysql");
    add_pool_failover_tests(s);
    add_pool_timeout_tests(s);
    add_pool_oom_tests(s);
    add_pool_log_tests(s);
    return s;
}

static Suite *e2e_suite(void)
{
    Suite *s = suite_create("e2e");

    add_e2e_tests(s, "sqlite");
    add_e2e_tests(s, "postgres");
    add_e2e_tests(s, "mysql");
    add_e2e_stop_tests(s);
    add_e2e_args_tests(s);
    add_e2e_bookmarks_tests(s, "sqlite");
    add_e2e_bookmarks_tests(s, "postgres");
    add_scripts_tests(s);
    return s;
}

static Suite *net_suite(void)
{
    Suite *s = suite_create("net");

    add_net_tests(s);
    return s;
}

static Suite *redis_suite(void)
{
    Suite *s = suite_create("redis");

    add_redis_tests(s);
    add_redis_pool_tests(s);
    add_redis_faults_tests(s);
    return s;
}

void add_http_tls_tests(Suite *s);
void add_http_tls_h2_tests(Suite *s);

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");

    add_http_tls_tests(s);
    add_http_tls_h2_tests(s);
    return s;
}

static Suite *client_suite(void)
{
    Suite *s = suite_create("httpclient");

    add_client_tests(s);
    add_client_tls_tests(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtime_suite());
    int failed;

    srunner_add_suite(sr, suite_http_parse());
    srunner_add_suite(sr, http_suite());
    srunner_add_suite(sr, db_suite());
    srunner_add_suite(sr, pool_suite());
    srunner_add_suite(sr, e2e_suite());
    srunner_add_suite(sr, client_suite());
    srunner_add_suite(sr, net_suite());
    srunner_add_suite(sr, redis_suite());
    srunner_add_suite(sr, tls_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
