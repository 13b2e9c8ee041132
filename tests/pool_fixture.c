/* tests/pool_fixture.c -- see pool_fixture.h. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool_fixture.h"
#include "util.h"

const char *backend; /* of the running test case */

const char *base_url(void)
{
    static char sqlite_url[128];
    const char *u;

    if (strcmp(backend, "sqlite") == 0) {
        snprintf(sqlite_url, sizeof(sqlite_url),
                 "sqlite:///tmp/greentor-pool-%d.db", (int)getpid());
        return sqlite_url;
    }
    u = getenv(strcmp(backend, "postgres") == 0 ? "GT_TEST_PG_URL"
                                                : "GT_TEST_MYSQL_URL");
    ck_assert_msg(u != NULL,
                  "no %s URL: run `eval \"$(scripts/db.sh "
                  "start)\"` first",
                  backend);
    return u;
}

char *url_with(const char *opts)
{
    static char buf[512];
    const char *b = base_url();

    /* On PostgreSQL the connections are tagged, so a test can find its
     * own in pg_stat_activity; the other backends have no such option
     * (an unknown one is refused). */
    if (strcmp(backend, "postgres") == 0)
        snprintf(buf, sizeof(buf), "%s%s%s&application_name=gt_pool_test_%d", b,
                 strchr(b, '?') ? "&" : "?", opts, (int)getpid());
    else
        snprintf(buf, sizeof(buf), "%s%s%s", b, strchr(b, '?') ? "&" : "?",
                 opts);
    return buf;
}

const char *capped_url(const char *opts)
{
    static char buf[512];
    const char *b = base_url(), *at = strchr(b, '@'), *host = strstr(b, "://");

    ck_assert_ptr_nonnull(at);
    ck_assert_ptr_nonnull(host);
    snprintf(buf, sizeof(buf), "%.*s://gt_capped:gt_capped%s%s%s",
             (int)(host - b), b, at,
             !opts             ? ""
             : strchr(at, '?') ? "&"
                               : "?",
             opts ? opts : "");
    return buf;
}

/* Server-side count of our user's other sessions. */
int64_t server_sessions(gt_db *probe)
{
    const char *sql =
        strcmp(backend, "postgres") == 0
            ? "SELECT count(*) FROM pg_stat_activity WHERE "
              "application_name LIKE 'gt_pool_test_%'"
            : "SELECT COUNT(*) FROM information_schema.processlist WHERE "
              "user = 'greentor' AND id <> CONNECTION_ID()";
    gt_rows *r;
    int64_t n;

    ck_assert_int_eq(gt_db_query(probe, &r, sql, NULL, 0, GT_NEVER), 1);
    n = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return n;
}

/* Pools outlive the runtime's run: they are freed after it returns. */
static gt_pool *pools[8];
static int npools;

void keep_pool(gt_pool *p)
{
    ck_assert_int_lt(npools, 8);
    pools[npools++] = p;
}

gt_pool *make_pool(const char *opts)
{
    char err[256];
    gt_pool *p = NULL;
    int rc =
        gt_pool_new(&p, gt_rt_self(), url_with(opts), NULL, err, sizeof(err));

    ck_assert_msg(rc == 0, "gt_pool_new: %d %s", rc, err);
    keep_pool(p);
    return p;
}

/* Run fn on a fresh runtime, then free the pools it made. */
int run_pool_test(gt_co_fn fn, int workers)
{
    gt_rt_config cfg = {.workers = workers};
    int rc = gt_rt_main(&cfg, fn, NULL);

    while (npools > 0)
        gt_pool_free(pools[--npools]);
    return rc;
}

void exec_ok(gt_db *db, const char *sql)
{
    ck_assert_msg(gt_db_exec(db, sql, NULL, 0, GT_NEVER) >= 0, "%s: %s", sql,
                  gt_db_errmsg(db));
}

void use_sqlite(void)
{
    backend = "sqlite";
}

void use_postgres(void)
{
    backend = "postgres";
}

void use_mysql(void)
{
    backend = "mysql";
}

void use_backend_of(TCase *tc, const char *which)
{
    bool pg = strcmp(which, "postgres") == 0;
    bool my = strcmp(which, "mysql") == 0;

    tcase_add_checked_fixture(tc,
                              pg   ? use_postgres
                              : my ? use_mysql
                                   : use_sqlite,
                              NULL);
}

int64_t wait_server_sessions(gt_db *probe, int64_t want)
{
    int64_t n = server_sessions(probe);

    for (int i = 0; i < 500 && n != want; i++) {
        ck_assert_int_eq(gt_sleep(10), 0);
        n = server_sessions(probe);
    }
    return n;
}

void wait_cleaned(gt_pool *p, gt_pool_stats *st)
{
    gt_pool_get_stats(p, st);
    for (int i = 0; i < 5000 && st->cleaning > 0; i++) {
        ck_assert_int_eq(gt_sleep(1), 0);
        gt_pool_get_stats(p, st);
    }
}
