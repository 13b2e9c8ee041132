/* tests/test_db_tls.c -- TLS to PostgreSQL and MariaDB, on the servers of
 * scripts/db.sh (ssl on, certificate for 127.0.0.1 and localhost signed by
 * GT_TEST_DB_CA; GT_TEST_DB_OTHER_CA signed nothing of theirs).
 *
 * Each session is asked whether it really is encrypted (pg_stat_ssl,
 * Ssl_cipher), not only whether the connect succeeded. A stalled handshake
 * is a listener of the test's own, on the same loop as the connect: it
 * answers the protocol's opening (PostgreSQL's 'S' to SSLRequest, a MariaDB
 * greeting offering SSL) and then nothing. That it receives the client's
 * TLS ClientHello before the connect returns proves the handshake's waits
 * are the loop's (a blocking handshake would hold the loop, and with it the
 * listener, until the connect gave up), and the connect must still end at
 * its deadline. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *ca(void)
{
    return test_db_url("GT_TEST_DB_CA");
}

static const char *other_ca(void)
{
    return test_db_url("GT_TEST_DB_OTHER_CA");
}

/* The backend's URL of scripts/db.sh with 'opts' appended; 'host' (may be
 * NULL) replaces its 127.0.0.1. Static buffer. */
static const char *tls_url(const char *env, const char *host, const char *opts)
{
    static char buf[1024];
    const char *u = test_db_url(env), *at = strstr(u, "127.0.0.1");

    ck_assert_ptr_nonnull(at);
    snprintf(buf, sizeof(buf), "%.*s%s%s%s%s", (int)(at - u), u,
             host ? host : "127.0.0.1", at + strlen("127.0.0.1"),
             strchr(u, '?') ? "&" : "?", opts);
    return buf;
}

static gt_db *open_ok(const char *url)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "open %s: %d %s", url, rc,
                  db ? gt_db_errmsg(db) : "");
    return db;
}

/* The one text value 'sql' answers on 'db', copied into buf. */
static const char *query_text(gt_db *db, const char *sql, int col, char *buf,
                              size_t cap)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, sql, NULL, 0, gt_deadline_in(10000));

    ck_assert_msg(n == 1, "%s: %d %s", sql, n, gt_db_errmsg(db));
    snprintf(buf, cap, "%s", gt_rows_text(r, 0, col, NULL));
    gt_rows_free(r);
    return buf;
}

/* The length of the one text value 'sql' answers: a megabyte answer is
 * many TLS records, read as they come. */
static size_t answer_len(gt_db *db, const char *sql)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, sql, NULL, 0, gt_deadline_in(10000));
    size_t len;

    ck_assert_msg(n == 1, "%s: %d %s", sql, n, gt_db_errmsg(db));
    len = strlen(gt_rows_text(r, 0, 0, NULL));
    gt_rows_free(r);
    return len;
}

#define PG_SSL "SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
#define MY_CIPHER "SHOW SESSION STATUS LIKE 'Ssl_cipher'"

static bool pg_is_tls(gt_db *db)
{
    return query_int(db, PG_SSL) == 1;
}

static bool my_is_tls(gt_db *db)
{
    char buf[128];

    return query_text(db, MY_CIPHER, 1, buf, sizeof(buf))[0] != '\0';
}

/* A connect that must fail: its code and message. */
static void open_fails(const char *url, int want, const char *says)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == want, "open %s: %d, want %d (%s)", url, rc, want,
                  db ? gt_db_errmsg(db) : "");
    ck_assert_msg(db && strstr(gt_db_errmsg(db), says), "%s: '%s' lacks '%s'",
                  url, db ? gt_db_errmsg(db) : "(no handle)", says);
    gt_db_close(db);
}

/* ---- PostgreSQL ---------------------------------------------------------- */

static int t_pg_verify_full(void *arg)
{
    char opts[600];
    gt_db *db;

    (void)arg;
    snprintf(opts, sizeof(opts), "sslmode=verify-full&sslrootcert=%s", ca());
    db = open_ok(tls_url("GT_TEST_PG_URL", NULL, opts));
    ck_assert(pg_is_tls(db));
    ck_assert_uint_eq(answer_len(db, "SELECT repeat('x', 1048576) || "
                                     "(SELECT string_agg(g::text, ',') FROM "
                                     "generate_series(1, 100000) g)"),
                      1048576 + 588894);
    gt_db_close(db);
    /* By name: resolved on the driver pool and handed to libpq as hostaddr,
     * the name is still what the certificate is checked against. */
    db = open_ok(tls_url("GT_TEST_PG_URL", "localhost", opts));
    ck_assert(pg_is_tls(db));
    gt_db_close(db);
    return 0;
}

START_TEST(pg_verify_full_with_the_ca_is_tls)
{
    ck_assert_int_eq(run_main(t_pg_verify_full, NULL), 0);
}
END_TEST

static int t_pg_wrong_ca(void *arg)
{
    char opts[600];

    (void)arg;
    snprintf(opts, sizeof(opts), "sslmode=verify-full&sslrootcert=%s",
             other_ca());
    open_fails(tls_url("GT_TEST_PG_URL", NULL, opts), -ECONNREFUSED,
               "certificate");
    snprintf(opts, sizeof(opts), "sslmode=verify-ca&sslrootcert=%s",
             other_ca());
    open_fails(tls_url("GT_TEST_PG_URL", NULL, opts), -ECONNREFUSED,
               "certificate");
    return 0;
}

START_TEST(pg_wrong_ca_is_refused_naming_the_certificate)
{
    ck_assert_int_eq(run_main(t_pg_wrong_ca, NULL), 0);
}
END_TEST

static int t_pg_require(void *arg)
{
    gt_db *db;

    (void)arg;
    db = open_ok(tls_url("GT_TEST_PG_URL", NULL, "sslmode=require"));
    ck_assert(pg_is_tls(db));
    gt_db_close(db);
    db = open_ok(tls_url("GT_TEST_PG_URL", NULL, "sslmode=disable"));
    ck_assert(!pg_is_tls(db)); /* plaintext still accepted */
    gt_db_close(db);
    return 0;
}

START_TEST(pg_require_without_a_ca_is_tls_and_disable_is_not)
{
    ck_assert_int_eq(run_main(t_pg_require, NULL), 0);
}
END_TEST

/* ---- MariaDB ------------------------------------------------------------- */

static int t_my_verify(void *arg)
{
    char opts[600];
    gt_db *db;

    (void)arg;
    snprintf(opts, sizeof(opts), "sslmode=verify-full&sslrootcert=%s", ca());
    db = open_ok(tls_url("GT_TEST_MYSQL_URL", NULL, opts));
    ck_assert(my_is_tls(db));
    ck_assert_uint_eq(answer_len(db, "SELECT REPEAT('x', 1048576)"), 1048576);
    /* A statement cut off by its deadline is killed from a side
     * connection (to the same target, over TLS too); the connection is
     * clean again for the next one. */
    ck_assert_int_eq(
        gt_db_exec(db, "SELECT SLEEP(5)", NULL, 0, gt_deadline_in(300)),
        -ETIMEDOUT);
    ck_assert_int_eq(query_int(db, "SELECT 7"), 7);
    ck_assert(my_is_tls(db));
    gt_db_close(db);
    snprintf(opts, sizeof(opts), "sslmode=verify-ca&sslrootcert=%s", ca());
    db = open_ok(tls_url("GT_TEST_MYSQL_URL", NULL, opts));
    ck_assert(my_is_tls(db));
    gt_db_close(db);
    db = open_ok(tls_url("GT_TEST_MYSQL_URL", NULL, "sslmode=require"));
    ck_assert(my_is_tls(db));
    gt_db_close(db);
    db = open_ok(test_db_url("GT_TEST_MYSQL_URL")); /* default: plaintext */
    ck_assert(!my_is_tls(db));
    gt_db_close(db);
    return 0;
}

START_TEST(mysql_with_the_ca_is_tls_and_the_default_is_not)
{
    ck_assert_int_eq(run_main(t_my_verify, NULL), 0);
}
END_TEST

static int t_my_wrong_ca(void *arg)
{
    char opts[600];
    gt_db *db = NULL;

    (void)arg;
    snprintf(opts, sizeof(opts), "sslmode=verify-full&sslrootcert=%s",
             other_ca());
    open_fails(tls_url("GT_TEST_MYSQL_URL", NULL, opts), -ECONNREFUSED,
               "certificate");
    snprintf(opts, sizeof(opts), "sslmode=verify-ca&sslrootcert=%s",
             other_ca());
    open_fails(tls_url("GT_TEST_MYSQL_URL", NULL, opts), -ECONNREFUSED,
               "certificate");
    /* A verify mode without its CA is refused before any connect. */
    ck_assert_int_eq(
        gt_db_open(&db,
                   tls_url("GT_TEST_MYSQL_URL", NULL, "sslmode=verify-full"),
                   GT_NEVER),
        -EINVAL);
    ck_assert_ptr_null(db);
    return 0;
}

START_TEST(mysql_wrong_ca_is_refused_naming_the_certificate)
{
    ck_assert_int_eq(run_main(t_my_wrong_ca, NULL), 0);
}
END_TEST

/* ---- a handshake that stalls --------------------------------------------- */

/* The listener's side: what it answers, and what it saw. */
typedef struct staller {
    gt_tcp_listener *l;
    bool mysql;
    bool no_tls;      /* say the server has no TLS ('N', no CLIENT_SSL) */
    bool saw_hello;   /* a TLS ClientHello arrived */
    bool saw_login;   /* no_tls MariaDB: the client's login arrived */
    const char *opts; /* the URL's; sslmode=require when NULL */
} staller;

/* MariaDB's OK packet (sequence 2, after the client's login): a login
 * accepted. */
static const unsigned char my_ok[] = {7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0};

/* A MariaDB server greeting (protocol 10) offering CLIENT_SSL unless
 * 'no_tls', with mysql_native_password: 4-byte header, then the payload. */
static size_t greeting(unsigned char *b, bool no_tls)
{
    static const char ver[] = "5.5.5-10.11.0-greentor-stall";
    /* LONG_PASSWORD FOUND_ROWS LONG_FLAG CONNECT_WITH_DB PROTOCOL_41 SSL
     * TRANSACTIONS SECURE_CONNECTION | MULTI_* PLUGIN_AUTH */
    unsigned caps = (0x0000AA0Fu | 0x000F0000u) & ~(no_tls ? 0x800u : 0u);
    size_t n = 4;

    b[n++] = 10;
    memcpy(b + n, ver, sizeof(ver));
    n += sizeof(ver);
    memcpy(b + n, "\x01\0\0\0", 4); /* connection id */
    n += 4;
    memcpy(b + n, "abcdefgh", 8); /* scramble, first part */
    n += 8;
    b[n++] = 0;
    b[n++] = caps & 0xff;
    b[n++] = (caps >> 8) & 0xff;
    b[n++] = 45;            /* utf8mb4_general_ci */
    b[n++] = 2, b[n++] = 0; /* SERVER_STATUS_AUTOCOMMIT */
    b[n++] = (caps >> 16) & 0xff;
    b[n++] = (caps >> 24) & 0xff;
    b[n++] = 21; /* scramble length */
    memset(b + n, 0, 10);
    n += 10;
    memcpy(b + n, "ijklmnopqrst", 13); /* the rest, NUL-terminated */
    n += 13;
    memcpy(b + n, "mysql_native_password", 22);
    n += 22;
    b[0] = (unsigned char)(n - 4);
    b[1] = b[2] = 0;
    b[3] = 0; /* sequence */
    return n;
}

/* Answer the opening, then read and never answer, until the client goes. */
static int stall_serve(void *arg)
{
    staller *s = arg;
    unsigned char buf[4096], hello[256];
    size_t have = 0, skip;
    gt_tcp *c = NULL;
    ssize_t n;

    if (gt_tcp_accept(s->l, &c, gt_deadline_in(10000)) < 0)
        return -1;
    if (s->mysql) {
        n = (ssize_t)greeting(hello, s->no_tls);
        skip = 4 + 32; /* then the client's SSLRequest packet */
    } else {
        n = 0;
        skip = 8; /* the client's SSLRequest, answered 'S' */
    }
    if (n > 0 && gt_tcp_write_all(c, hello, (size_t)n, GT_NEVER) < 0)
        goto done;
    while ((n = gt_tcp_read(c, buf + have, sizeof(buf) - have,
                            gt_deadline_in(10000))) > 0) {
        if (!s->mysql && have < 8 && have + (size_t)n >= 8 &&
            gt_tcp_write_all(c, s->no_tls ? "N" : "S", 1, GT_NEVER) < 0)
            break;
        if (s->mysql && s->no_tls && !s->saw_login) {
            s->saw_login = true; /* in the clear: accept it */
            if (gt_tcp_write_all(c, my_ok, sizeof(my_ok), GT_NEVER) < 0)
                break;
        }
        have += (size_t)n;
        if (have > skip && buf[skip] == 0x16) /* TLS handshake record */
            s->saw_hello = true;
        if (have == sizeof(buf))
            have = skip + 1; /* keep reading, keep what was seen */
    }
done:
    gt_tcp_close(c, GT_NEVER);
    return 0;
}

/* Connect (sslmode=require unless s->opts) to a listener of ours
 * answering as 's' says; the connect's result, its handle in *db. */
static int open_staller(staller *s, gt_co **srv, gt_db **db)
{
    char url[1024];

    ck_assert_int_eq(gt_tcp_listen(&s->l, "127.0.0.1", 0, 8), 0);
    ck_assert_int_eq(gt_co_spawn(srv, stall_serve, s), 0);
    snprintf(url, sizeof(url), "%s://u:p@127.0.0.1:%d/d?%s%s",
             s->mysql ? "mysql" : "postgres", gt_tcp_listener_port(s->l),
             s->opts ? s->opts : "sslmode=require",
             s->mysql ? "" : "&gssencmode=disable");
    return gt_db_open(db, url, gt_deadline_in(500));
}

static int t_stall(void *arg)
{
    staller s = {.mysql = arg != NULL};
    gt_co *srv;
    gt_db *db = NULL;
    int rc = open_staller(&s, &srv, &db);
    bool hello_before = s.saw_hello;

    ck_assert_msg(rc == -ETIMEDOUT, "%d %s", rc, db ? gt_db_errmsg(db) : "");
    ck_assert_msg(hello_before, "the ClientHello did not reach the listener "
                                "while the connect waited");
    gt_db_close(db);
    gt_co_join(srv, NULL, GT_NEVER);
    gt_tcp_listener_close(s.l);
    return 0;
}

START_TEST(pg_stalled_handshake_ends_at_the_deadline)
{
    ck_assert_int_eq(run_main(t_stall, NULL), 0);
}
END_TEST

START_TEST(mysql_stalled_handshake_ends_at_the_deadline)
{
    ck_assert_int_eq(run_main(t_stall, "mysql"), 0);
}
END_TEST

/* TLS asked of a server without it: refused, saying so. PostgreSQL and
 * MariaDB's verify-full refuse before the login; MariaDB's require (and
 * verify-ca) log in unencrypted -- Connector/C 3.3 -- and greentor then
 * refuses the session. */
static int t_no_tls(void *arg)
{
    const int *which = arg;
    char opts[600];
    staller s = {.mysql = *which > 0, .no_tls = true};
    gt_co *srv;
    gt_db *db = NULL;
    int rc;

    snprintf(opts, sizeof(opts), "sslmode=verify-full&sslrootcert=%s", ca());
    s.opts = *which == 2 ? opts : NULL;
    rc = open_staller(&s, &srv, &db);
    ck_assert_msg(rc == -ECONNREFUSED, "%d %s", rc, db ? gt_db_errmsg(db) : "");
    ck_assert_msg(strstr(gt_db_errmsg(db), "SSL"), "%s", gt_db_errmsg(db));
    ck_assert(s.saw_login == (*which == 1));
    gt_db_close(db);
    gt_co_join(srv, NULL, GT_NEVER);
    gt_tcp_listener_close(s.l);
    return 0;
}

START_TEST(tls_against_a_server_without_it_is_refused)
{
    int which = _i; /* 0 PostgreSQL, 1 MariaDB require, 2 verify-full */

    ck_assert_int_eq(run_main(t_no_tls, &which), 0);
}
END_TEST

/* ---- through the pool ---------------------------------------------------- */

static gt_pool *pool;

static int pool_query(void *arg)
{
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    (void)arg;
    if (rc < 0)
        return rc;
    return (int)query_int(db, "SELECT 40 + 2");
}

static int t_pool(void *arg)
{
    const char *env = arg;
    char opts[600], err[256];
    gt_co *co[4];
    gt_db *db;
    int got;

    snprintf(opts, sizeof(opts),
             "sslmode=verify-full&sslrootcert=%s&max_open=2", ca());
    ck_assert_int_eq(gt_pool_new(&pool, gt_rt_self(), tls_url(env, NULL, opts),
                                 NULL, err, sizeof(err)),
                     0);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], pool_query, NULL), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &got, GT_NEVER), 0);
        ck_assert_int_eq(got, 42);
    }
    ck_assert_int_eq(gt_pool_db(pool, &db), 0);
    ck_assert(strcmp(env, "GT_TEST_PG_URL") == 0 ? pg_is_tls(db)
                                                 : my_is_tls(db));
    return 0;
}

START_TEST(pool_over_tls_runs_queries)
{
    const char *env = _i == 0 ? "GT_TEST_PG_URL" : "GT_TEST_MYSQL_URL";

    ck_assert_int_eq(run_main(t_pool, (void *)env), 0);
    gt_pool_free(pool);
    pool = NULL;
}
END_TEST

void add_db_tls_tests(Suite *s)
{
    TCase *tc = tcase_create("tls");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pg_verify_full_with_the_ca_is_tls);
    tcase_add_test(tc, pg_wrong_ca_is_refused_naming_the_certificate);
    tcase_add_test(tc, pg_require_without_a_ca_is_tls_and_disable_is_not);
    tcase_add_test(tc, mysql_with_the_ca_is_tls_and_the_default_is_not);
    tcase_add_test(tc, mysql_wrong_ca_is_refused_naming_the_certificate);
    tcase_add_test(tc, pg_stalled_handshake_ends_at_the_deadline);
    tcase_add_test(tc, mysql_stalled_handshake_ends_at_the_deadline);
    tcase_add_loop_test(tc, tls_against_a_server_without_it_is_refused, 0, 3);
    tcase_add_loop_test(tc, pool_over_tls_runs_queries, 0, 2);
    suite_add_tcase(s, tc);
}
