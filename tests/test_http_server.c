/* tests/test_http_server.c -- the HTTP server over real loopback sockets:
 * keep-alive, pipelining, split requests, bodies, rejections, timeouts.
 *
 * The server runs on a thread of its own (tests/server_fixture.h) and the
 * test thread talks to it with the blocking client, so every framing rule
 * is checked from the outside. The server's life -- idle connections,
 * request scope, shutdown -- and the handler API are in
 * test_http_server_life.c.
 *
 * No timing thresholds: where time matters (timeouts, drain), the test
 * uses short server timeouts and only checks generous upper bounds. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h" /* the worker's free lists, for one test */
#include "server_fixture.h"
#include "util.h"

/* ---- keep-alive, pipelining, splitting ----------------------------------- */

START_TEST(keepalive_reuse)
{
    server s;
    client *c;
    gt_http_stats st;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    for (int i = 0; i < 3; i++) {
        cli_send(c, GET_("/plaintext"));
        ck_assert(cli_read(c, &r, false));
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, hello);
        ck_assert(resp_header_is(&r, "Server", "greentor"));
        ck_assert(resp_header_is(&r, "Content-Type", "text/plain"));
        ck_assert(resp_header_is(&r, "Content-Length", "13"));
        ck_assert(resp_has_header(&r, "Date"));
        ck_assert(!resp_has_header(&r, "Connection"));
        resp_free(&r);
    }
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 3);
    /* HTTP/1.0 closes by default and keeps alive on request. */
    roundtrip(c, "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
              200, hello);
    cli_send(c, "GET /plaintext HTTP/1.0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* Connection: close on HTTP/1.1. */
    c = cli_open(&s);
    cli_send(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* Issue 9: a 1.8 KB body nested ~900 deep used to overflow the 64 KiB
 * coroutine stack inside jansson and kill every worker. On the default
 * configuration, jansson's own depth limit (2048) is reached first. */
static void post_nested(client *c, int depth, int status, const char *body)
{
    size_t n = 2 * (size_t)depth;
    char *req = malloc(n + 128);
    int off = sprintf(req,
                      "POST /json/depth HTTP/1.1\r\nHost: t\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      n);

    memset(req + off, '[', (size_t)depth);
    memset(req + off + depth, ']', (size_t)depth);
    req[off + (int)n] = '\0';
    roundtrip(c, req, status, body);
    free(req);
}

START_TEST(json_nested_to_janssons_limit_is_parsed)
{
    server s;
    client *c;

    server_start(&s, NULL, 1);
    c = cli_open(&s);
    post_nested(c, 900, 200, "depth=900");
    post_nested(c, 2048, 200, "depth=2048");
    post_nested(c, 2049, 400, NULL); /* jansson refuses; we keep serving */
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* Every allocation on a request's path may fail: the client gets an
 * answer (200, or 500/503) or a closed connection, never a crash or a
 * hang, and the server goes on serving. Each round starts a fresh server,
 * so that the first request finds every per-worker cache cold (connection,
 * buffer, request object, coroutine, stack, output buffer), and fails its
 * allocation n, for n = 1, 2, ... until a request makes fewer than n. */
static bool oom_round(long n, long *made)
{
    server s;
    client *c;
    resp r;
    bool answered;

    server_start(&s, NULL, 1);
    c = cli_open(&s);
    gt_alloc_fail(n, 0);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 5\r\n\r\nhello");
    answered = cli_read(c, &r, false);
    if (answered)
        ck_assert_msg(r.status == 200 || r.status == 500 || r.status == 503,
                      "allocation %ld: status %d", n, r.status);
    resp_free(&r); /* a partial read holds a buffer too */
    *made = gt_alloc_fail(0, 0);
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    server_stop(&s);
    return answered;
}

START_TEST(allocation_failures_on_the_request_path_are_survived)
{
    long n, made = 0;
    int answered = 0;

    for (n = 1; n < 200; n++) {
        answered += oom_round(n, &made);
        if (made < n)
            break;
    }
    ck_assert_msg(n > 4, "only %ld allocations walked", n);
    ck_assert_int_gt(answered, 0);
}
END_TEST

/* The streaming path's allocations may fail too, the socket's slow path
 * among them: tcp.c allocates a write request only when the socket cannot
 * take the bytes at once. /big streams to a client that never reads (4 KiB
 * receive buffer) and fails its own allocation n after the first part;
 * each round's handler ends -- by that failure, or by the write timeout
 * once the socket is full and nothing failed -- its connection goes, and
 * the server goes on serving. A write request that cannot be allocated closes
 * the connection: the handler's write then returns -EPIPE. */
static int oom_stalled_write_round(server *s, long n, long *made)
{
    int small = 4096, rc;
    char req[96];
    client *c = cli_open(s);

    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    atomic_store(&big_rc, 0);
    snprintf(req, sizeof(req), GET_("/big?fail=%ld"), n);
    cli_send(c, req); /* and never read */
    ck_assert_msg(wait_change(&big_rc, 0, 10000),
                  "allocation %ld: the handler never ended", n);
    rc = atomic_load(&big_rc);
    *made = gt_alloc_fail(0, 0);
    cli_close(c); /* a connection left lingering ends with it */
    ck_assert_msg(wait_conns(s, 0, 5000), "allocation %ld: left open", n);
    get(s, GET_("/plaintext"), 200, hello); /* still serving */
    return rc;
}

START_TEST(allocation_failures_on_a_stalled_write_are_survived)
{
    gt_http_config cfg = {.write_timeout_ms = 300};
    long n, made = 0;
    int rc = 0, epipe = 0;
    server s;

    server_start(&s, &cfg, 1);
    for (n = 1; n < 400; n++) {
        rc = oom_stalled_write_round(&s, n, &made);
        epipe += rc == -EPIPE;
        if (made < n)
            break;
    }
    server_stop(&s);
    ck_assert_msg(n > 2 && n < 400, "%ld allocations walked", n);
    ck_assert_int_eq(rc, -ECANCELED); /* nothing failed: the timeout */
    ck_assert_int_gt(epipe, 0);       /* the write request's failure */
}
END_TEST

START_TEST(pipeline_100_in_order)
{
    char *batch = malloc(100 * 64), *p = batch;
    server s;
    client *c;
    resp r;

    for (int i = 0; i < 100; i++)
        p += sprintf(p, "GET /seq?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, batch); /* one write */
    for (int i = 0; i < 100; i++) {
        char want[16];

        snprintf(want, sizeof(want), "%d", i);
        ck_assert_msg(cli_read(c, &r, false), "response %d missing", i);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, want);
        resp_free(&r);
    }
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    free(batch);
    server_stop(&s);
}
END_TEST

START_TEST(request_split_byte_by_byte)
{
    static const char req[] = "GET /hdr HTTP/1.1\r\nHost: t\r\n"
                              "X-Test: split\r\n\r\n";
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        cli_send_n(c, req + i, 1);
        usleep(1000);
    }
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "x-test=split");
    ck_assert(resp_header_is(&r, "X-Reply", "yes"));
    ck_assert(resp_header_is(&r, "X-H39", "a-value-of-some-length-to-fill-it"));
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* ---- bodies -------------------------------------------------------------- */

#define CHUNKED_HEAD                                                           \
    "POST /echo HTTP/1.1\r\nHost: t\r\n"                                       \
    "Transfer-Encoding: chunked\r\n\r\n"

START_TEST(chunked_bodies)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    /* All at once, with an extension and trailers, then a pipelined GET. */
    cli_send(c, CHUNKED_HEAD
             "5\r\nhello\r\n6;ext=\"v\"\r\n world\r\n"
             "0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n" GET_("/plaintext"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello world");
    resp_free(&r);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, hello);
    resp_free(&r);
    /* In pieces (the body arrives while the handler waits), with the next
     * request right behind the last chunk. */
    cli_send(c, CHUNKED_HEAD "3\r\nabc\r\n");
    usleep(50000);
    cli_send(c, "4\r\ndefg\r");
    usleep(50000);
    cli_send(c, "\n0\r\n\r\n" GET_("/seq?i=7"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "abcdefg");
    resp_free(&r);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "7");
    resp_free(&r);
    /* A large one in many chunks and writes: the spill grows. */
    cli_send(c, "POST /len HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 100; i++) {
        char chunk[1100];

        memset(chunk, 'z', sizeof(chunk));
        memcpy(chunk, "400\r\n", 5);
        memcpy(chunk + 5 + 1024, "\r\n", 2);
        cli_send_n(c, chunk, 5 + 1024 + 2);
        if (i % 10 == 0)
            usleep(2000);
    }
    roundtrip(c, "0\r\n\r\n", 200, "len=102400");
    /* A bad chunk size: 400 and close. */
    cli_send(c, CHUNKED_HEAD "zz\r\nhello\r\n0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 400);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* A bad chunk that arrives late, while the handler waits. */
    c = cli_open(&s);
    cli_send(c, CHUNKED_HEAD "3\r\nabc\r\n");
    usleep(50000);
    cli_send(c, "3\r\nabcX\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

START_TEST(content_length_bodies)
{
    size_t big = 200 * 1000;
    char *body = malloc(big), head[128];
    server s;
    client *c;

    memset(body, 'x', big);
    server_start(&s, NULL, 2);
    c = cli_open(&s);
    roundtrip(c,
              "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"
              "hello",
              200, "hello");
    /* The body after a pause: the handler waits for it. */
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
                "01234");
    usleep(50000);
    roundtrip(c, "56789", 200, "0123456789");
    /* A large one, and the connection still works afterwards. */
    snprintf(head, sizeof(head),
             "POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
             big);
    cli_send(c, head);
    cli_send_n(c, body, big);
    {
        resp r;
        char want[32];

        snprintf(want, sizeof(want), "len=%zu", big);
        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, want);
        resp_free(&r);
    }
    roundtrip(c, GET_("/plaintext"), 200, hello);
    /* A body the handler never reads is skipped when it is all here. */
    roundtrip(c,
              "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
              "\r\nabc" GET_("/seq?i=2"),
              200, hello);
    {
        resp r;

        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, "2");
        resp_free(&r);
    }
    cli_close(c);
    free(body);
    server_stop(&s);
}
END_TEST

START_TEST(expect_100_continue)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 100);
    resp_free(&r);
    roundtrip(c, "hello", 200, "hello");
    /* A handler that does not want the body: no 100, and close. */
    cli_send(c, "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* ---- rejections ---------------------------------------------------------- */

START_TEST(parser_rejections)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX : a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
         "Content-Length: 1\r\n\r\nx",
         400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\n"
         "Transfer-Encoding: gzip, chunked\r\n\r\n",
         501},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: t\r\n\r\n",
         414},
        {"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
         "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n",
         431},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413},
    };
    gt_http_config cfg = {
        .max_target = 64, .max_head = 512, .max_headers = 8, .max_body = 1024};
    char big[700];
    server s;

    server_start(&s, &cfg, 2);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        client *c = cli_open(&s);
        resp r;

        cli_send(c, cases[i].req);
        ck_assert_msg(cli_read(c, &r, false), "case %zu: no response", i);
        ck_assert_msg(r.status == cases[i].status, "case %zu: %d, not %d", i,
                      r.status, cases[i].status);
        ck_assert(resp_header_is(&r, "Connection", "close"));
        resp_free(&r);
        ck_assert_msg(cli_eof(c), "case %zu: not closed", i);
        cli_close(c);
        get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    }
    /* A head over max_head: 431. */
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: t\r\nX: %0600d\r\n\r\n",
             0);
    get(&s, big, 431, NULL);
    /* A chunked body over max_body: 413 once the handler reads it. */
    {
        client *c = cli_open(&s);
        char chunk[1200];

        memset(chunk, 'y', sizeof(chunk));
        cli_send(c, CHUNKED_HEAD "4b0\r\n");
        cli_send_n(c, chunk, sizeof(chunk));
        cli_send(c, "\r\n0\r\n\r\n");
        roundtrip(c, "", 413, NULL);
        cli_close(c);
    }
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

START_TEST(slowloris_cut_off)
{
    static const char dribble[] = "GET / HTTP/1.1\r\nHost: t\r\n"
                                  "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    gt_http_config cfg = {.header_timeout_ms = 300};
    int64_t t0 = gt_now();
    bool cut = false;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    for (size_t i = 0; i < sizeof(dribble) - 1 && !cut; i++) {
        struct pollfd p = {c->fd, POLLIN, 0};

        if (send(c->fd, dribble + i, 1, MSG_NOSIGNAL) != 1)
            cut = true; /* reset already */
        else if (poll(&p, 1, 100) == 1)
            cut = true; /* a 408 or the close */
    }
    ck_assert_msg(cut, "a byte every 100 ms was not cut off");
    if (cli_fill(c) > 0)
        ck_assert_msg(strncmp(c->buf, "HTTP/1.1 408", 12) == 0, "got %.*s",
                      (int)c->len, c->buf);
    ck_assert(cli_eof(c));
    ck_assert_int_lt(gt_now() - t0, 5000);
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    /* A connection that sends nothing at all is closed too. */
    c = cli_open(&s);
    ck_assert(cli_eof(c));
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(body_and_idle_timeouts)
{
    gt_http_config cfg = {.body_timeout_ms = 300, .keepalive_timeout_ms = 300};
    int64_t t0;
    server s;
    client *c;
    resp r;

    server_start(&s, &cfg, 2);
    /* Half a body, then silence: 408 and close. */
    c = cli_open(&s);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                "\r\n01234");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 408);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* An idle keep-alive connection is closed after the idle timeout. */
    c = cli_open(&s);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    t0 = gt_now();
    ck_assert(cli_eof(c));
    ck_assert_int_lt(gt_now() - t0, 5000);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* The connection's timer is re-armed lazily: here it is still due at the
 * header timeout of the connection's start when the longer idle timeout
 * replaces it, fires early, and must wait on for the idle timeout instead
 * of closing. The margins are wide: a wrong close comes after ~200 ms. */
START_TEST(idle_timeout_outlasts_an_earlier_timer)
{
    gt_http_config cfg = {.header_timeout_ms = 200,
                          .keepalive_timeout_ms = 3000};
    int64_t t0;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    usleep(1000 * 1000); /* past the header timeout armed at the start */
    roundtrip(c, GET_("/plaintext"), 200, hello);
    t0 = gt_now();
    ck_assert(cli_eof(c)); /* the idle timeout, from the last response */
    ck_assert_int_ge(gt_now() - t0, 1500);
    ck_assert_int_lt(gt_now() - t0, 10000);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* A burst of 100 requests at once leaves 100 request objects and input
 * buffers on the free lists (no cap of 64 sending them back to malloc),
 * and the once-a-second trim gives back what stays unused but 64. The
 * polling itself uses a request object and two buffers (input, output),
 * which the trim counts as needed, and its counts are read while its own
 * request holds one of each: so it settles at 64 and 65. */
START_TEST(free_lists_keep_a_burst_then_trim)
{
    enum { N = 100 };
    client *c[N];
    size_t bufs = 0, reqs = 0;
    resp r;
    server s;
    int i;

    atomic_store(&hold_in, 0);
    atomic_store(&hold_want, N);
    server_start(&s, NULL, 1);
    for (i = 0; i < N; i++) {
        c[i] = cli_open(&s);
        cli_send(c[i], GET_("/hold"));
    }
    for (i = 0; i < N; i++) {
        ck_assert(cli_read(c[i], &r, false));
        ck_assert_int_eq(r.status, 200);
        resp_free(&r);
    }
    ck_assert_int_ge(atomic_load(&hold_in), N);
    /* The N connections stay open, idle: they hold no buffer. */
    {
        client *q = cli_open(&s);

        cli_send(q, GET_("/freelists"));
        ck_assert(cli_read(q, &r, false));
        ck_assert_int_eq(sscanf(r.body, "%zu %zu", &bufs, &reqs), 2);
        resp_free(&r);
        /* Two trims (2 s) would be needed to get below 90. */
        ck_assert_msg(reqs >= 90 && bufs >= 90, "bufs %zu reqs %zu", bufs,
                      reqs);
        for (i = 0; i < 100 && (bufs > 65 || reqs > 64); i++) {
            usleep(100 * 1000);
            cli_send(q, GET_("/freelists"));
            ck_assert(cli_read(q, &r, false));
            ck_assert_int_eq(sscanf(r.body, "%zu %zu", &bufs, &reqs), 2);
            resp_free(&r);
        }
        ck_assert_msg(bufs <= 65 && reqs <= 64, "bufs %zu reqs %zu", bufs,
                      reqs);
        cli_close(q);
    }
    for (i = 0; i < N; i++)
        cli_close(c[i]);
    server_stop(&s);
}
END_TEST

START_TEST(slow_reader_write_timeout)
{
    gt_http_config cfg = {.write_timeout_ms = 300};
    int small = 4096;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    cli_send(c, GET_("/big")); /* and never read */
    ck_assert(wait_for(&big_rc, -ECANCELED, 10000));
    ck_assert(wait_conns(&s, 0, 5000));
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

void add_http_server_tests(Suite *s)
{
    TCase *tc = tcase_create("http_server");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keepalive_reuse);
    tcase_add_test(tc, pipeline_100_in_order);
    tcase_add_test(tc, json_nested_to_janssons_limit_is_parsed);
    tcase_add_test(tc, allocation_failures_on_the_request_path_are_survived);
    tcase_add_test(tc, request_split_byte_by_byte);
    tcase_add_test(tc, chunked_bodies);
    tcase_add_test(tc, content_length_bodies);
    tcase_add_test(tc, expect_100_continue);
    tcase_add_test(tc, parser_rejections);
    tcase_add_test(tc, slowloris_cut_off);
    tcase_add_test(tc, body_and_idle_timeouts);
    tcase_add_test(tc, idle_timeout_outlasts_an_earlier_timer);
    tcase_add_test(tc, free_lists_keep_a_burst_then_trim);
    tcase_add_test(tc, slow_reader_write_timeout);
    tcase_add_test(tc, allocation_failures_on_a_stalled_write_are_survived);
    suite_add_tcase(s, tc);
}
