/* tests/test_http_log.c -- the access log (requests, parser rejections,
 * header timeouts) and clients that half-close after sending, through the
 * real server.
 *
 * The log goes to stderr: a test points stderr at a temporary file while
 * the server runs, and reads it once the server has stopped (a stopping
 * server waits for its lines to be written). */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_fixture.h"

static int h_ok(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "ok");
}

static int sleepers; /* h_sleep calls so far */

/* Waits long; returns what the wait returned (-ECANCELED when
 * cancelled). */
static int h_sleep(gt_http_req *req, gt_http_res *res, void *arg)
{
    int rc;

    sleepers++;
    rc = gt_sleep(20000);

    (void)req, (void)arg;
    if (rc < 0)
        return rc;
    return gt_http_res_printf(res, "slept");
}

static int h_nap(gt_http_req *req, gt_http_res *res, void *arg)
{
    int rc = gt_sleep(20);

    (void)req, (void)arg;
    if (rc < 0)
        return rc;
    return gt_http_res_printf(res, "rested");
}

static const fx_route routes[] = {
    {"GET", "/ok", h_ok},
    {"GET", "/sleep", h_sleep},
    {"GET", "/nap", h_nap},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

/* ---- the access log ------------------------------------------------------ */

static void c_logged(httpc *c, void *arg)
{
    static const char partial[] = "GET /ok HTTP/1.1\r\nHost: t\r\n";
    static const char sleep_req[] = "GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n";
    static const char nope[] = "GET /nope HTTP/1.1\r\nHost: t\r\n"
                               "X-Request-Id: abc-1\r\n\r\n";
    httpc_res r;
    int64_t dl = gt_deadline_in(10000);

    (void)arg;
    fx_get(c, "/ok?q=%22x%22", &r);
    fx_expect(&r, 200, "ok");
    fx_send(c, nope, strlen(nope), &r);
    fx_expect(&r, 404, "Not Found");
    fx_send(c, "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 30, &r);
    fx_expect(&r, 400, "Bad Request");
    /* A head that never completes: 408 when the header timeout fires. */
    ck_assert_int_eq(httpc_connect(c, dl), 0);
    ck_assert_int_eq(httpc_send(c, partial, sizeof(partial) - 1, dl), 0);
    ck_assert_int_eq(httpc_read(c, &r, dl), 0);
    fx_expect(&r, 408, "Request Timeout");
    httpc_close(c, 0);
    /* A client that resets while its handler runs: logged, status -. */
    ck_assert_int_eq(httpc_connect(c, dl), 0);
    ck_assert_int_eq(httpc_send(c, sleep_req, sizeof(sleep_req) - 1, dl), 0);
    for (int i = 0; i < 1000 && sleepers == 0; i++)
        gt_sleep(5);
    ck_assert_int_eq(sleepers, 1);
    httpc_close(c, 1);
}

/* Does 'log' have a line matching the extended regex 're'? */
static bool has_line(const char *log, const char *re)
{
    regex_t rx;
    bool found;

    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE), 0);
    found = regexec(&rx, log, 0, NULL, 0) == 0;
    regfree(&rx);
    return found;
}

#define TS                                                                     \
    "ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

START_TEST(access_log_lines)
{
    gt_http_config cfg = {.access_log = 1, .header_timeout_ms = 300};
    char path[] = "/tmp/gt_log_XXXXXX", log[8192];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    dup2(fd, STDERR_FILENO);
    fx_run(router(), &cfg, c_logged, NULL);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_ge(n, 0);
    log[n] = '\0';
    ck_assert_msg(has_line(log, "^" TS " peer=127\\.0\\.0\\.1 id=[0-9a-f]{16} "
                                "method=GET target=\"/ok\\?q=%22x%22\" "
                                "status=200 bytes=2 us=[0-9]+$"),
                  "log:\n%s", log);
    ck_assert_msg(has_line(log, "^" TS " peer=127\\.0\\.0\\.1 id=abc-1 "
                                "method=GET target=\"/nope\" status=404 "
                                "bytes=9 us=[0-9]+$"),
                  "log:\n%s", log);
    ck_assert_msg(has_line(log, "^" TS " peer=127\\.0\\.0\\.1 id=- method=- "
                                "target=- status=400 bytes=11 us=- "
                                "refused=parse$"),
                  "log:\n%s", log);
    ck_assert_msg(has_line(log, "^" TS " peer=127\\.0\\.0\\.1 id=- method=- "
                                "target=- status=408 bytes=15 us=- "
                                "refused=timeout$"),
                  "log:\n%s", log);
    ck_assert_msg(has_line(log, "^" TS " peer=127\\.0\\.0\\.1 id=[0-9a-f]{16} "
                                "method=GET target=\"/sleep\" status=- "
                                "bytes=0 us=[0-9]+$"),
                  "log:\n%s", log);
}
END_TEST

/* ---- half-closed clients ------------------------------------------------- */

/* Send raw, shut our side, read one answer into *r, then expect the
 * server to close. */
static void send_half_closed(httpc *c, const char *raw, httpc_res *r, int n)
{
    int64_t dl = gt_deadline_in(10000);
    httpc_res more;

    ck_assert_int_eq(httpc_connect(c, dl), 0);
    ck_assert_int_eq(httpc_send(c, raw, strlen(raw), dl), 0);
    ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
    for (int i = 0; i < n; i++)
        ck_assert_msg(httpc_read(c, &r[i], dl) == 0, "answer %d: %s", i,
                      c->err);
    ck_assert_int_lt(httpc_read(c, &more, dl), 0); /* closed after them */
    httpc_close(c, 0);
}

static void c_half_close(httpc *c, void *arg)
{
    const int *half = arg;
    httpc_res r[2];

    send_half_closed(c, "GET /ok HTTP/1.0\r\n\r\n", r, 1);
    fx_expect(&r[0], 200, "ok");
    /* Pipelined: every complete request is answered. */
    send_half_closed(c,
                     "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"
                     "GET /nap HTTP/1.1\r\nHost: t\r\n\r\n",
                     r, 2);
    fx_expect(&r[0], 200, "ok");
    if (*half) {
        fx_expect(&r[1], 200, "rested");
    } else { /* cancelled, but answered */
        ck_assert_int_eq(r[1].status, 503);
        httpc_res_free(&r[1]);
    }
    if (*half)
        return;
    /* A long request is cancelled by the FIN: 503, not its deadline. */
    send_half_closed(c, "GET /sleep HTTP/1.0\r\n\r\n", r, 1);
    ck_assert_int_eq(r[0].status, 503);
    httpc_res_free(&r[0]);
    /* A partial head with the FIN: nothing to answer, closed. */
    send_half_closed(c, "GET /ok HTTP/1.1\r\nHo", r, 0);
}

START_TEST(half_closed_client_gets_an_answer)
{
    int half = 0;

    fx_run(router(), NULL, c_half_close, &half);
}
END_TEST

START_TEST(half_close_lets_the_request_finish)
{
    gt_http_config cfg = {.half_close = 1};
    int half = 1;

    fx_run(router(), &cfg, c_half_close, &half);
}
END_TEST

void add_http_log_tests(Suite *s)
{
    TCase *tc = tcase_create("log");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, access_log_lines);
    tcase_add_test(tc, half_closed_client_gets_an_answer);
    tcase_add_test(tc, half_close_lets_the_request_finish);
    suite_add_tcase(s, tc);
}
