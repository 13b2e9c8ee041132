/* tests/test_http_tls.c -- the HTTPS server (suite "tls"), checked with the
 * clients people use: curl and `openssl s_client`.
 *
 * HTTP/2 has its cases in test_http_tls_h2.c. Each case makes a CA and
 * two certificates for "localhost" (serials 1001
 * and 2002) in a temporary directory with the openssl CLI, starts the
 * server of tests/server_fixture.c (its routes: /plaintext answers
 * "Hello, World!", POST /echo its body) with TLS on an ephemeral port, and
 * runs the clients as child processes. curl verifies the certificate
 * against the CA (--cacert), so a case that gets its body has also checked
 * the chain. A missing curl or openssl fails the case; nothing is skipped
 * (scripts/deps.sh installs both). */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "server_fixture.h"
#include "tls_fixture.h"
#include "util.h"

/* ---- curl: TLS 1.2 and 1.3, the chain verified --------------------------- */

START_TEST(curl_tls12_and_tls13)
{
    gt_http_config cfg = {0};
    char out[4096];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out),
                          "--tlsv1.2 --tls-max 1.2 -w ' %{http_code} "
                          "%{ssl_verify_result}'",
                          "/plaintext"),
                     0);
    ck_assert_str_eq(out, "Hello, World! 200 0");
    ck_assert_int_eq(curl(&s, out, sizeof(out),
                          "--tlsv1.3 -w ' %{http_code} %{ssl_verify_result}'",
                          "/plaintext"),
                     0);
    ck_assert_str_eq(out, "Hello, World! 200 0");
    /* Another trust anchor: curl refuses the chain (60), so the check
     * above is real. */
    ck_assert_int_eq(sh(NULL, 0,
                        "curl -s --max-time 20 --cacert %s/2002.pem --resolve "
                        "localhost:%d:127.0.0.1 https://localhost:%d/plaintext",
                        tls_dir, s.port, s.port),
                     60);
    tls_stop(&s);
}
END_TEST

START_TEST(min_version_13_refuses_tls12)
{
    gt_http_config cfg = {.tls_min_version = 13};
    char out[4096];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out), "--tlsv1.3", "/plaintext"), 0);
    ck_assert_str_eq(out, "Hello, World!");
    /* 35: the handshake failed. */
    ck_assert_int_eq(
        curl(&s, NULL, 0, "--tlsv1.2 --tls-max 1.2 2>/dev/null", "/plaintext"),
        35);
    tls_stop(&s);
}
END_TEST

/* ---- ALPN ---------------------------------------------------------------- */

START_TEST(s_client_alpn)
{
    gt_http_config cfg = {0};
    char out[16384];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(sh(out, sizeof(out),
                        "openssl s_client -connect 127.0.0.1:%d -servername "
                        "localhost -CAfile %s/ca.pem -alpn h2,http/1.1 "
                        "</dev/null 2>/dev/null",
                        s.port, tls_dir),
                     0);
    ck_assert_msg(strstr(out, "ALPN protocol: h2"), "%s", out);
    ck_assert_msg(strstr(out, "Verify return code: 0 (ok)"), "%s", out);
    ck_assert_int_eq(sh(out, sizeof(out),
                        "openssl s_client -connect 127.0.0.1:%d -servername "
                        "localhost -alpn http/1.1 </dev/null 2>/dev/null",
                        s.port),
                     0);
    ck_assert_msg(strstr(out, "ALPN protocol: http/1.1"), "%s", out);
    /* A client offering only a protocol we do not speak: no ALPN, and the
     * handshake still completes. */
    ck_assert_int_eq(sh(out, sizeof(out),
                        "openssl s_client -connect 127.0.0.1:%d -servername "
                        "localhost -alpn spdy/3 </dev/null 2>/dev/null",
                        s.port),
                     0);
    ck_assert_msg(strstr(out, "No ALPN negotiated"), "%s", out);
    tls_stop(&s);
}
END_TEST

/* ---- a stalled handshake is a slow header -------------------------------- */

/* Wait (bounded) for the server to close fd: true if it did, with no
 * bytes sent first. */
static bool closed_silently(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char b[64];
    ssize_t n;

    if (poll(&p, 1, 20000) != 1)
        return false;
    n = recv(fd, b, sizeof(b), 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

START_TEST(stalled_handshake_closed_at_header_timeout)
{
    /* A ClientHello record header announcing 512 bytes, and only some. */
    static const unsigned char half_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00,
                                               0x01, 0x00, 0x01, 0xfc, 0x03};
    gt_http_config cfg = {.header_timeout_ms = 1500};
    char out[4096];
    gt_http_stats st;
    server s;
    int mute, half;

    tls_start(&s, &cfg);
    mute = sock_connect(AF_INET, s.port);
    half = sock_connect(AF_INET, s.port);
    ck_assert_int_ge(mute, 0);
    ck_assert_int_ge(half, 0);
    ck_assert_int_eq(send(half, half_hello, sizeof(half_hello), 0),
                     (ssize_t)sizeof(half_hello));
    /* Both stall; someone else is served meanwhile. */
    ck_assert_int_eq(curl(&s, out, sizeof(out), "", "/plaintext"), 0);
    ck_assert_str_eq(out, "Hello, World!");
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 3);
    ck_assert_msg(closed_silently(mute), "a mute client was not closed");
    ck_assert_msg(closed_silently(half), "half a ClientHello was not closed");
    ck_assert(wait_conns(&s, 0, 5000));
    close(mute);
    close(half);
    tls_stop(&s);
}
END_TEST

/* ---- plaintext on the TLS port ------------------------------------------- */

START_TEST(plaintext_to_tls_port_gets_400)
{
    gt_http_config cfg = {0};
    server s;
    client *c;
    resp r;

    tls_start(&s, &cfg);
    c = cli_open(&s);
    cli_send(c, GET_("/plaintext"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 400);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* curl over http:// says the same. */
    {
        char out[4096];

        ck_assert_int_eq(sh(out, sizeof(out),
                            "curl -s --max-time 20 -o /dev/null -w "
                            "'%%{http_code}' http://127.0.0.1:%d/plaintext",
                            s.port),
                         0);
        ck_assert_str_eq(out, "400");
    }
    tls_stop(&s);
}
END_TEST

/* ---- configuration errors ------------------------------------------------ */

/* gt_http_server_open()'s result for cert/key, and what it printed. */
static int open_with(const char *cert, const char *key, char *err, size_t cap)
{
    gt_http_config cfg = {
        .host = "127.0.0.1", .tls_cert_file = cert, .tls_key_file = key};
    char path[] = "/tmp/gt_tls_err_XXXXXX";
    int fd = mkstemp(path), saved = dup(STDERR_FILENO), rc;
    gt_http_server *srv = NULL;
    gt_rt *rt;
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(gt_rt_new(&rt, &(gt_rt_config){.workers = 1}), 0);
    dup2(fd, STDERR_FILENO);
    rc = gt_http_server_open(&srv, rt, &cfg, h_root, NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    if (rc == 0)
        gt_http_server_close(srv);
    gt_rt_free(rt);
    n = pread(fd, err, cap - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

START_TEST(bad_cert_or_key_fails_open)
{
    char err[1024], missing[160], other[160], junk[160];

    make_certs();
    snprintf(missing, sizeof(missing), "%s/nope.pem", tls_dir);
    snprintf(other, sizeof(other), "%s/other.key", tls_dir);
    snprintf(junk, sizeof(junk), "%s/ext", tls_dir);
    ck_assert_int_eq(open_with(missing, key_file, err, sizeof(err)), -ENOENT);
    ck_assert_msg(strstr(err, "nope.pem") && strstr(err, "No such file"), "%s",
                  err);
    ck_assert_int_eq(open_with(junk, key_file, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "certificate") && strstr(err, "/ext"), "%s", err);
    ck_assert_int_eq(open_with(cert_file, other, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "other.key") && strstr(err, "mismatch"), "%s",
                  err);
    ck_assert_int_eq(open_with(cert_file, NULL, err, sizeof(err)), -EINVAL);
    ck_assert_msg(strstr(err, "both"), "%s", err);
    ck_assert_int_eq(open_with(cert_file, key_file, err, sizeof(err)), 0);
    rm_certs();
}
END_TEST

/* ---- reload -------------------------------------------------------------- */

START_TEST(reload_swaps_the_certificate)
{
    gt_http_config cfg = {0};
    char serial[256], out[4096];
    server s;

    tls_start(&s, &cfg);
    served_serial(&s, serial, sizeof(serial));
    ck_assert_str_eq(serial, "serial=1001\n");
    /* The call. */
    ck_assert_int_eq(sh(NULL, 0,
                        "cd %s && cp 2002.pem server.pem && cp "
                        "2002.key server.key",
                        tls_dir),
                     0);
    ck_assert_int_eq(gt_http_server_reload_tls(s.srv), 0);
    served_serial(&s, serial, sizeof(serial));
    ck_assert_str_eq(serial, "serial=2002\n");
    /* SIGHUP (worker 0 handles it: the server has served, so it runs). */
    ck_assert_int_eq(sh(NULL, 0,
                        "cd %s && cp 1001.pem server.pem && cp "
                        "1001.key server.key",
                        tls_dir),
                     0);
    ck_assert_int_eq(kill(getpid(), SIGHUP), 0);
    for (int i = 0; i < 200; i++) {
        served_serial(&s, serial, sizeof(serial));
        if (strcmp(serial, "serial=1001\n") == 0)
            break;
        usleep(50000);
    }
    ck_assert_str_eq(serial, "serial=1001\n");
    /* A failed reload keeps the certificate in use. */
    ck_assert_int_eq(sh(NULL, 0, "cd %s && cp ext server.pem", tls_dir), 0);
    ck_assert_int_eq(gt_http_server_reload_tls(s.srv), -EINVAL);
    served_serial(&s, serial, sizeof(serial));
    ck_assert_str_eq(serial, "serial=1001\n");
    ck_assert_int_eq(curl(&s, out, sizeof(out), "", "/plaintext"), 0);
    ck_assert_str_eq(out, "Hello, World!");
    tls_stop(&s);
}
END_TEST

START_TEST(reload_without_tls_is_einval)
{
    server s;

    server_start(&s, NULL, 1);
    ck_assert_int_eq(gt_http_server_reload_tls(s.srv), -EINVAL);
    server_stop(&s);
}
END_TEST

/* ---- keep-alive, large bodies -------------------------------------------- */

START_TEST(keepalive_over_tls)
{
    gt_http_config cfg = {0};
    char out[4096], url2[128];
    gt_http_stats st;
    server s;

    tls_start(&s, &cfg);
    snprintf(url2, sizeof(url2),
             "-w '|%%{num_connects}' https://localhost:%d/plaintext -w "
             "'|%%{num_connects}'",
             s.port);
    ck_assert_int_eq(curl(&s, out, sizeof(out), url2, "/plaintext"), 0);
    /* Two answers, one connection: the second made no new connect. */
    ck_assert_str_eq(out, "Hello, World!|1Hello, World!|0");
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 2);
    tls_stop(&s);
}
END_TEST

START_TEST(large_bodies_both_ways)
{
    gt_http_config cfg = {0};
    char out[256], opts[512];
    server s;

    tls_start(&s, &cfg);
    /* 300 KiB of a known pattern: many TLS records each way, and more than
     * the socket takes at once. */
    ck_assert_int_eq(sh(NULL, 0,
                        "seq 1 60000 | head -c 307200 > %s/body && "
                        "test $(wc -c < %s/body) = 307200",
                        tls_dir, tls_dir),
                     0);
    snprintf(opts, sizeof(opts),
             "--data-binary @%s/body -H 'Content-Type: application/"
             "octet-stream' -o %s/back",
             tls_dir, tls_dir);
    ck_assert_int_eq(curl(&s, out, sizeof(out), opts, "/echo"), 0);
    ck_assert_int_eq(sh(out, sizeof(out), "cmp %s/body %s/back && echo same",
                        tls_dir, tls_dir),
                     0);
    ck_assert_str_eq(out, "same\n");
    tls_stop(&s);
}
END_TEST

/* ---- a handler's OpenSSL error stays its own ----------------------------- */

/* Leaves an error on this thread's OpenSSL queue, as a handler's own use of
 * OpenSSL may, and answers 256 KiB. */
static int h_errq(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char big[256 * 1024];

    (void)req, (void)arg;
    ERR_raise(ERR_LIB_USER, 1);
    memset(big, 'x', sizeof(big));
    return gt_http_res_body(res, big, sizeof(big));
}

START_TEST(handler_openssl_error_keeps_connection)
{
    gt_http_config cfg = {0};
    char out[4096], opts[256];
    server s;

    tls_open(&s, &cfg);
    ck_assert_int_eq(gt_http_router_add(s.router, "GET", "/errq", h_errq, NULL),
                     0);
    server_run(&s);
    /* Twice on one connection, over HTTP/1.1 and then HTTP/2: the stale
     * error must not read as a broken record when the server next waits
     * for the second request. */
    for (int h2 = 0; h2 < 2; h2++) {
        snprintf(opts, sizeof(opts),
                 "%s -o /dev/null -o /dev/null -w "
                 "'%%{http_code}|%%{num_connects} ' https://localhost:%d/errq",
                 h2 ? "--http2" : "--http1.1", s.port);
        ck_assert_msg(curl(&s, out, sizeof(out), opts, "/errq") == 0, "h2 %d",
                      h2);
        ck_assert_str_eq(out, "200|1 200|0 ");
    }
    tls_stop(&s);
}
END_TEST

void add_http_tls_tests(Suite *s)
{
    TCase *tc = tcase_create("tls");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, curl_tls12_and_tls13);
    tcase_add_test(tc, min_version_13_refuses_tls12);
    tcase_add_test(tc, s_client_alpn);
    tcase_add_test(tc, stalled_handshake_closed_at_header_timeout);
    tcase_add_test(tc, plaintext_to_tls_port_gets_400);
    tcase_add_test(tc, bad_cert_or_key_fails_open);
    tcase_add_test(tc, reload_swaps_the_certificate);
    tcase_add_test(tc, reload_without_tls_is_einval);
    tcase_add_test(tc, keepalive_over_tls);
    tcase_add_test(tc, large_bodies_both_ways);
    tcase_add_test(tc, handler_openssl_error_keeps_connection);
    suite_add_tcase(s, tc);
}
