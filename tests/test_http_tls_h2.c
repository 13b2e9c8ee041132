/* tests/test_http_tls_h2.c -- HTTP/2 over TLS (suite "tls"): curl
 * --http2, nghttp and h2load against the server of server_fixture.c, whose
 * router and handlers know nothing of HTTP/2.
 *
 * Certificates and the server come from tls_fixture.h. h2load runs under
 * `flock /tmp/gt-load.lock` (the machine's load lock; the server is in
 * this process, not under the lock), bounded by its request count. A
 * missing curl, nghttp or h2load (Debian nghttp2-client) fails the case. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_fixture.h"
#include "tls_fixture.h"
#include "util.h"

START_TEST(h2_curl_get_post_404)
{
    gt_http_config cfg = {0};
    char out[4096], opts[512];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out),
                          "--http2 -w ' %{http_version} %{http_code}'",
                          "/plaintext"),
                     0);
    ck_assert_str_eq(out, "Hello, World! 2 200");
    /* The router's 404, through the same error path as HTTP/1.1. */
    ck_assert_int_eq(curl(&s, out, sizeof(out),
                          "--http2 -w ' %{http_version} %{http_code}'",
                          "/no/such/route"),
                     0);
    ck_assert_str_eq(out, "Not Found 2 404");
    /* Route parameters and query strings arrive as in HTTP/1.1. */
    ck_assert_int_eq(curl(&s, out, sizeof(out), "--http2", "/seq?i=42"), 0);
    ck_assert_str_eq(out, "42");
    /* A POST of 300 KiB, echoed: more than the 64 KiB flow-control
     * windows both ways, so WINDOW_UPDATEs and a deferred body ran. */
    ck_assert_int_eq(sh(NULL, 0,
                        "seq 1 60000 | head -c 307200 > %s/body 2>/dev/null; "
                        "test $(wc -c < %s/body) = 307200",
                        tls_dir, tls_dir),
                     0);
    snprintf(opts, sizeof(opts),
             "--http2 --data-binary @%s/body -o %s/back -w '%%{http_version} "
             "%%{http_code}'",
             tls_dir, tls_dir);
    ck_assert_int_eq(curl(&s, out, sizeof(out), opts, "/echo"), 0);
    ck_assert_str_eq(out, "2 200");
    ck_assert_int_eq(sh(out, sizeof(out), "cmp %s/body %s/back && echo same",
                        tls_dir, tls_dir),
                     0);
    ck_assert_str_eq(out, "same\n");
    tls_stop(&s);
}
END_TEST

START_TEST(h2_nghttp_concurrent_streams)
{
    gt_http_config cfg = {0};
    char out[16384];
    gt_http_stats st;
    server s;
    int n = 0;

    tls_start(&s, &cfg);
    /* Six requests sent at once on one connection (nghttp opens a stream
     * per URI without waiting), answered each by its own handler. */
    ck_assert_int_eq(
        sh(out, sizeof(out),
           "nghttp -ns --timeout=20 https://127.0.0.1:%d/seq?i=1 "
           "https://127.0.0.1:%d/seq?i=2 https://127.0.0.1:%d/plaintext "
           "https://127.0.0.1:%d/json https://127.0.0.1:%d/slow "
           "https://127.0.0.1:%d/nope",
           s.port, s.port, s.port, s.port, s.port, s.port),
        0);
    for (const char *p = out; (p = strstr(p, " 200 ")); p++)
        n++;
    ck_assert_msg(n == 5, "%d answers of 200:\n%s", n, out);
    ck_assert_msg(strstr(out, " 404 "), "%s", out);
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 6);
    tls_stop(&s);
}
END_TEST

START_TEST(h2load_without_errors)
{
    gt_http_config cfg = {0};
    char out[16384];
    gt_http_stats st;
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(sh(out, sizeof(out),
                        "flock /tmp/gt-load.lock h2load -n 2000 -c 4 -m 10 "
                        "https://127.0.0.1:%d/plaintext 2>&1",
                        s.port),
                     0);
    ck_assert_msg(strstr(out, "Application protocol: h2"), "%s", out);
    ck_assert_msg(strstr(out, "requests: 2000 total, 2000 started, 2000 "
                              "done, 2000 succeeded, 0 failed, 0 errored, "
                              "0 timeout"),
                  "%s", out);
    ck_assert_msg(strstr(out, "status codes: 2000 2xx"), "%s", out);
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 4);
    ck_assert_uint_eq(st.requests, 2000);
    tls_stop(&s);
}
END_TEST

START_TEST(h2_off_with_http1_only)
{
    gt_http_config cfg = {.tls_http1_only = 1};
    char out[16384];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out), "--http2 -w ' %{http_version}'",
                          "/plaintext"),
                     0);
    ck_assert_str_eq(out, "Hello, World! 1.1");
    ck_assert_int_eq(sh(out, sizeof(out),
                        "openssl s_client -connect 127.0.0.1:%d -alpn h2 "
                        "</dev/null 2>/dev/null",
                        s.port),
                     0);
    ck_assert_msg(strstr(out, "No ALPN negotiated"), "%s", out);
    tls_stop(&s);
}
END_TEST

/* A graceful stop while a stream runs: GOAWAY, and the stream still gets
 * its answer. */
START_TEST(h2_graceful_stop_sends_goaway)
{
    gt_http_config cfg = {0};
    char out[16384], cmd[256];
    server s;
    FILE *p;
    size_t n;

    tls_start(&s, &cfg);
    snprintf(cmd, sizeof(cmd),
             "nghttp -v --timeout=20 https://127.0.0.1:%d/slow 2>&1", s.port);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert(wait_for(&slow_started, 1, 10000));
    gt_http_server_stop(s.srv);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(strstr(out, "recv GOAWAY frame"), "%s", out);
    ck_assert_msg(strstr(out, ":status: 200"), "%s", out);
    ck_assert_msg(strstr(out, "done"), "%s", out);
    ck_assert(wait_conns(&s, 0, 10000));
    tls_stop(&s);
}
END_TEST

/* HEAD, a streamed (chunked in HTTP/1.1) body, a body without
 * content-length (chunked for the stream connection), one over max_body. */
START_TEST(h2_head_stream_upload_413)
{
    gt_http_config cfg = {.max_body = 64 * 1024};
    char out[4096];
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out), "--http2 -sI", "/plaintext"),
                     0);
    ck_assert_msg(strncmp(out, "HTTP/2 200", 10) == 0, "%s", out);
    ck_assert_msg(strstr(out, "content-length: 13\r\n"), "%s", out);
    ck_assert_msg(!strstr(out, "connection:"), "%s", out);
    ck_assert_int_eq(
        curl(&s, out, sizeof(out), "--http2 -w ' %{http_version}'", "/stream"),
        0);
    ck_assert_str_eq(out, "part1part2part3 2");
    /* -T - sends DATA frames without a content-length. */
    {
        char opts[256];

        snprintf(opts, sizeof(opts),
                 "--http2 -X POST -T - -w ' %%{http_version}' < %s/ext",
                 tls_dir);
        ck_assert_int_eq(curl(&s, out, sizeof(out), opts, "/len"), 0);
        ck_assert_str_eq(out, "len=55 2"); /* tls_fixture.c's "ext" */
    }
    /* A field over max_head: 431, as over HTTP/1.1. */
    ck_assert_int_eq(curl(&s, out, sizeof(out),
                          "--http2 -o /dev/null -w '%{http_code}' -H "
                          "\"X-Big: $(head -c 20000 /dev/zero | tr '\\0' "
                          "a)\"",
                          "/plaintext"),
                     0);
    ck_assert_str_eq(out, "431");
    ck_assert_int_eq(
        sh(NULL, 0, "head -c 200000 /dev/zero > %s/zeros", tls_dir), 0);
    {
        char opts[256];

        snprintf(opts, sizeof(opts),
                 "--http2 --data-binary @%s/zeros -o /dev/null -w "
                 "'%%{http_code}'",
                 tls_dir);
        ck_assert_int_eq(curl(&s, out, sizeof(out), opts, "/echo"), 0);
        ck_assert_str_eq(out, "413");
    }
    tls_stop(&s);
}
END_TEST

/* A client that leaves mid-request cancels its handler, as over HTTP/1.1. */
START_TEST(h2_client_gone_cancels_handler)
{
    gt_http_config cfg = {0};
    server s;

    tls_start(&s, &cfg);
    /* 28: curl's own timeout, after which it drops the connection. */
    ck_assert_int_eq(
        curl(&s, NULL, 0, "--http2 --max-time 1 2>/dev/null", "/hang"), 28);
    ck_assert_int_eq(atomic_load(&hang_started), 1);
    ck_assert(wait_for(&hang_cleaned, 1, 10000));
    ck_assert_int_eq(atomic_load(&hang_rc), -ECANCELED);
    ck_assert(wait_conns(&s, 0, 10000));
    tls_stop(&s);
}
END_TEST

/* A streamed body is paced by the client's flow-control window: a client
 * reading 1 MB/s for a second leaves /big (256 MiB) blocked in its writes,
 * never done, and its writes fail once the client is gone. */
START_TEST(h2_slow_reader_paces_streamed_body)
{
    gt_http_config cfg = {0};
    server s;

    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, NULL, 0,
                          "--http2 --limit-rate 1M --max-time 1 -o /dev/null "
                          "2>/dev/null",
                          "/big"),
                     28);
    for (int i = 0; i < 2000 && atomic_load(&big_rc) == 0; i++)
        usleep(5000);
    ck_assert_int_lt(atomic_load(&big_rc), 0);
    ck_assert(wait_conns(&s, 0, 10000));
    tls_stop(&s);
}
END_TEST

/* The access log of an HTTP/2 request names the client, as over
 * HTTP/1.1 (the stream's peer is its TLS connection's). */
START_TEST(h2_access_log_names_the_peer)
{
    gt_http_config cfg = {.access_log = 1};
    char path[] = "/tmp/gt_h2_log_XXXXXX", line[4096], out[256];
    int logfd = mkstemp(path), saved = dup(STDERR_FILENO);
    ssize_t n;
    server s;

    ck_assert_int_ge(logfd, 0);
    dup2(logfd, STDERR_FILENO);
    tls_start(&s, &cfg);
    ck_assert_int_eq(curl(&s, out, sizeof(out), "--http2", "/seq?i=7"), 0);
    server_stop(&s);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rm_certs();
    ck_assert_str_eq(out, "7");
    n = pread(logfd, line, sizeof(line) - 1, 0);
    line[n > 0 ? n : 0] = '\0';
    close(logfd);
    unlink(path);
    ck_assert_msg(strstr(line, "peer=127.0.0.1 ") &&
                      strstr(line, "method=GET target=\"/seq?i=7\" "
                                   "status=200 bytes=1 "),
                  "log: %s", line);
}
END_TEST

/* A client that stops reading with its windows wide open: our bytes pile
 * up in the socket, and write_timeout_ms closes the connection (nghttp's
 * stdout is a pipe nobody reads, so it stops reading the socket). */
START_TEST(h2_write_timeout_closes_stalled_client)
{
    gt_http_config cfg = {.write_timeout_ms = 1000};
    char out[64];
    gt_http_stats st;
    server s;
    bool closed;
    int pid;

    tls_start(&s, &cfg);
    ck_assert_int_eq(sh(out, sizeof(out),
                        "setsid sh -c 'nghttp -w 30 -W 30 "
                        "https://127.0.0.1:%d/big | sleep 60' >/dev/null "
                        "2>&1 & echo $!",
                        s.port),
                     0);
    pid = atoi(out);
    ck_assert_int_gt(pid, 1);
    for (int i = 0; i < 2000; i++) {
        gt_http_server_get_stats(s.srv, &st);
        if (st.requests == 1)
            break;
        usleep(5000);
    }
    /* The client never leaves by itself (it sleeps 60 s): the server
     * closes it. The client is killed before any assertion can fail. */
    closed = st.requests == 1 && wait_conns(&s, 0, 20000);
    kill(-pid, SIGKILL);
    ck_assert_uint_eq(st.requests, 1);
    ck_assert(closed);
    for (int i = 0; i < 2000 && atomic_load(&big_rc) == 0; i++)
        usleep(5000);
    ck_assert_int_lt(atomic_load(&big_rc), 0);
    tls_stop(&s);
}
END_TEST

void add_http_tls_h2_tests(Suite *s)
{
    TCase *tc = tcase_create("tls_h2");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, h2_curl_get_post_404);
    tcase_add_test(tc, h2_nghttp_concurrent_streams);
    tcase_add_test(tc, h2load_without_errors);
    tcase_add_test(tc, h2_off_with_http1_only);
    tcase_add_test(tc, h2_graceful_stop_sends_goaway);
    tcase_add_test(tc, h2_head_stream_upload_413);
    tcase_add_test(tc, h2_client_gone_cancels_handler);
    tcase_add_test(tc, h2_slow_reader_paces_streamed_body);
    tcase_add_test(tc, h2_access_log_names_the_peer);
    tcase_add_test(tc, h2_write_timeout_closes_stalled_client);
    suite_add_tcase(s, tc);
    add_http_tls_h2raw_tests(s); /* test_http_tls_h2raw.c */
}
