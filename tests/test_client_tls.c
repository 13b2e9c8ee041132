/* tests/test_client_tls.c -- the HTTP client over TLS and HTTP/2, against
 * nginx.
 *
 * The fixture (scripts/tls_nginx.sh, once for the test case, in the
 * parent) makes a CA, a second CA that signed nothing and a certificate
 * for "localhost" in a temporary directory with the openssl CLI, and
 * starts Debian's nginx-light on two loopback ports: one with TLS and
 * HTTP/2, one with TLS only. nginx answers "tls h2|h1 conn=<n>", so a test
 * sees which server answered and on which connection. A missing nginx or
 * openssl fails the case; nothing is skipped. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static char dir[64];
static int h2_port, h1_port;
static bool started;

static void tls_setup(void)
{
    char cmd[256];

    snprintf(dir, sizeof(dir), "/tmp/greentor-tls-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    h2_port = test_free_port();
    do
        h1_port = test_free_port();
    while (h1_port == h2_port);
    snprintf(cmd, sizeof(cmd), "bash scripts/tls_nginx.sh start %s %d %d", dir,
             h2_port, h1_port);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    started = true;
}

static void tls_teardown(void)
{
    char cmd[256];

    if (!started)
        return;
    snprintf(cmd, sizeof(cmd), "bash scripts/tls_nginx.sh stop %s; rm -rf %s",
             dir, dir);
    (void)!system(cmd);
    started = false;
}

static char ca_file[128], other_ca_file[128];

static void files(void)
{
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", dir);
    snprintf(other_ca_file, sizeof(other_ca_file), "%s/other-ca.pem", dir);
}

/* GET https://<host>:<port>/ with the given CA file and version; returns
 * fetch's result, the response in *out. */
static int get_tls(const char *host, int port, const char *ca, int version,
                   char *err, gt_http_response **out)
{
    char url[128];
    gt_http_request rq = {
        .url = url, .ca_file = ca, .http_version = version, .errbuf = err};

    snprintf(url, sizeof(url), "https://%s:%d/x", host, port);
    return gt_http_fetch(&rq, out, gt_deadline_in(10000));
}

/* The "conn=<n>" nginx put in a body. */
static long conn_of(const gt_http_response *r)
{
    const char *p = strstr(gt_http_response_body(r, NULL), "conn=");

    ck_assert_ptr_nonnull(p);
    return strtol(p + 5, NULL, 10);
}

/* ---- the configured CA, HTTP/2 when both sides have it ------------------ */

static int body_h2(void *arg)
{
    char err[GT_HTTP_ERRBUF_SIZE] = "x";
    gt_http_response *r;
    long conn;

    (void)arg;
    files();
    ck_assert_int_eq(get_tls("localhost", h2_port, ca_file,
                             GT_HTTP_VERSION_DEFAULT, err, &r),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_int_eq(gt_http_response_version(r), 20);
    ck_assert_ptr_nonnull(strstr(gt_http_response_body(r, NULL), "tls h2 "));
    ck_assert_str_eq(gt_http_response_header(r, "content-type"), "text/plain");
    conn = conn_of(r);
    gt_http_response_free(r);
    /* The next call reuses the connection: no second handshake. */
    ck_assert_int_eq(get_tls("localhost", h2_port, ca_file,
                             GT_HTTP_VERSION_DEFAULT, err, &r),
                     0);
    ck_assert_int_eq(gt_http_response_version(r), 20);
    ck_assert_int_eq(conn_of(r), conn);
    gt_http_response_free(r);
    return 0;
}

START_TEST(https_with_ca_file_negotiates_h2)
{
    ck_assert_int_eq(run_main(body_h2, NULL), 0);
}
END_TEST

static int body_h11(void *arg)
{
    char err[GT_HTTP_ERRBUF_SIZE];
    gt_http_response *r;
    long conn;

    (void)arg;
    files();
    /* Asked for HTTP/1.1 only, from a server that offers h2. */
    ck_assert_int_eq(
        get_tls("localhost", h2_port, ca_file, GT_HTTP_VERSION_1_1, err, &r),
        0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_int_eq(gt_http_response_version(r), 11);
    conn = conn_of(r);
    gt_http_response_free(r);
    ck_assert_int_eq(
        get_tls("localhost", h2_port, ca_file, GT_HTTP_VERSION_1_1, err, &r),
        0);
    ck_assert_int_eq(conn_of(r), conn); /* TLS keep-alive */
    gt_http_response_free(r);
    /* A server without h2: the default falls back to HTTP/1.1. */
    ck_assert_int_eq(get_tls("localhost", h1_port, ca_file,
                             GT_HTTP_VERSION_DEFAULT, err, &r),
                     0);
    ck_assert_int_eq(gt_http_response_version(r), 11);
    ck_assert_ptr_nonnull(strstr(gt_http_response_body(r, NULL), "tls h1 "));
    gt_http_response_free(r);
    return 0;
}

START_TEST(https_http11_when_asked_or_offered)
{
    ck_assert_int_eq(run_main(body_h11, NULL), 0);
}
END_TEST

/* Many calls at once over HTTP/2 from one worker: all answered. */
static int one_h2_call(void *arg)
{
    char err[GT_HTTP_ERRBUF_SIZE];
    gt_http_response *r;
    int rc;

    (void)arg;
    rc = get_tls("localhost", h2_port, ca_file, GT_HTTP_VERSION_DEFAULT, err,
                 &r);
    if (rc < 0)
        return rc;
    rc = gt_http_response_status(r) == 200 && gt_http_response_version(r) == 20
             ? 0
             : -EIO;
    gt_http_response_free(r);
    return rc;
}

static int body_h2_many(void *arg)
{
    gt_co *co[32];
    int i, rc;

    (void)arg;
    files();
    for (i = 0; i < 32; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], one_h2_call, NULL), 0);
    for (i = 0; i < 32; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_msg(rc == 0, "call %d: %s", i, gt_strerror(rc));
    }
    return 0;
}

START_TEST(https_h2_concurrent_calls)
{
    ck_assert_int_eq(run_main(body_h2_many, NULL), 0);
}
END_TEST

/* ---- verification failures ----------------------------------------------- */

static void expect_tls_failure(const char *host, const char *ca,
                               const char *msg)
{
    char err[GT_HTTP_ERRBUF_SIZE] = "";
    gt_http_response *r = (gt_http_response *)1;
    int rc = get_tls(host, h2_port, ca, GT_HTTP_VERSION_DEFAULT, err, &r);

    ck_assert_msg(rc == GT_EPROTO, "%s via %s: %s (%s)", host,
                  ca ? ca : "system CAs", gt_strerror(rc), err);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err, msg) != NULL, "errbuf \"%s\" lacks \"%s\"", err,
                  msg);
}

static int body_verify(void *arg)
{
    (void)arg;
    files();
    /* A CA that did not sign the server's certificate. */
    expect_tls_failure("localhost", other_ca_file,
                       "unable to get local issuer certificate");
    /* The system's CAs do not know ours either. */
    expect_tls_failure("localhost", NULL, "certificate problem");
    /* The right CA, but the certificate is for localhost only. */
    expect_tls_failure("127.0.0.1", ca_file, "subject name");
    /* A CA file that is not there. */
    expect_tls_failure("localhost", "/nonexistent/ca.pem", "/nonexistent");
    return 0;
}

START_TEST(https_verification_failures_are_eproto_with_a_reason)
{
    ck_assert_int_eq(run_main(body_verify, NULL), 0);
}
END_TEST

/* ---- plaintext to the TLS port; a handshake that never ends ------------- */

static int body_plain_to_tls(void *arg)
{
    char url[128];
    gt_http_request rq = {.url = url};
    gt_http_response *r;

    (void)arg;
    /* nginx answers plain HTTP on a TLS port with a 400 of its own. */
    snprintf(url, sizeof(url), "http://localhost:%d/x", h2_port);
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 400);
    ck_assert_ptr_nonnull(strstr(gt_http_response_body(r, NULL), "HTTPS"));
    gt_http_response_free(r);
    return 0;
}

START_TEST(http_to_the_tls_port_gets_nginx_400)
{
    ck_assert_int_eq(run_main(body_plain_to_tls, NULL), 0);
}
END_TEST

static int counter(void *arg)
{
    int *n = arg;

    while (gt_sleep(1) == 0)
        ++*n;
    return 0;
}

/* A listener that never accepts: the kernel completes the TCP handshake,
 * nobody answers the ClientHello. The deadline ends the call, and the
 * worker's other coroutines ran all along. */
static int body_stalled(void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    char err[GT_HTTP_ERRBUF_SIZE], url[64];
    gt_http_request rq = {.url = url, .errbuf = err};
    gt_http_response *r;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ticks = 0;
    gt_co *tick;

    (void)arg;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", ntohs(a.sin_port));
    ck_assert_int_eq(gt_co_spawn(&tick, counter, &ticks), 0);
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(300)), -ETIMEDOUT);
    ck_assert_ptr_null(r);
    ck_assert_int_gt(ticks, 0);
    gt_co_cancel(tick);
    ck_assert_int_eq(gt_co_join(tick, NULL, GT_NEVER), 0);
    close(fd);
    return 0;
}

START_TEST(stalled_tls_handshake_times_out_at_the_deadline)
{
    ck_assert_int_eq(run_main(body_stalled, NULL), 0);
}
END_TEST

void add_client_tls_tests(Suite *s)
{
    TCase *tc = tcase_create("client_tls");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, tls_setup, tls_teardown);
    tcase_add_test(tc, https_with_ca_file_negotiates_h2);
    tcase_add_test(tc, https_http11_when_asked_or_offered);
    tcase_add_test(tc, https_h2_concurrent_calls);
    tcase_add_test(tc, https_verification_failures_are_eproto_with_a_reason);
    tcase_add_test(tc, http_to_the_tls_port_gets_nginx_400);
    tcase_add_test(tc, stalled_tls_handshake_times_out_at_the_deadline);
    suite_add_tcase(s, tc);
}
