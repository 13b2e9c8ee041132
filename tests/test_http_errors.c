/* tests/test_http_errors.c -- what the client gets for each result of a
 * handler, as http.h's overview lists them.
 *
 * The server and the client (tests/httpc.c) share one worker: the test is
 * a coroutine that opens the server on an ephemeral port, makes one
 * request per handler result and stops the server. The server's stderr is
 * redirected to a temporary file meanwhile, so that the test can count the
 * "handler failed" lines too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "httpc.h"
#include "util.h"

/* Each path returns what it names. */
static int h_result(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *p = gt_http_req_path(req);

    (void)arg;
    gt_http_res_printf(res, "never sent");
    if (strcmp(p, "/count") == 0)
        return gt_http_res_printf(res, "abc"); /* 3, a count */
    if (strcmp(p, "/etimedout") == 0)
        return -ETIMEDOUT;
    if (strcmp(p, "/epool") == 0)
        return GT_EPOOL;
    if (strcmp(p, "/econnreset") == 0)
        return -ECONNRESET; /* the database connection was lost */
    if (strcmp(p, "/ecanceled") == 0)
        return -ECANCELED;
    if (strcmp(p, "/enomem") == 0)
        return -ENOMEM;
    if (strcmp(p, "/edb") == 0)
        return GT_EDB;
    return 0;
}

typedef struct expect {
    const char *path;
    int status;
    const char *retry_after; /* NULL: none */
    int close;
} expect;

static const expect expected[] = {
    {"/count", 200, NULL, 0},
    {"/etimedout", 504, NULL, 0},
    {"/epool", 503, "1", 0},
    {"/econnreset", 503, "1", 0},
    {"/ecanceled", 503, "1", 1},
    {"/enomem", 500, NULL, 0},
    {"/edb", 500, NULL, 0},
    {"/count", 200, NULL, 0}, /* after the close: a new connection */
};

static void check_one(httpc *c, const expect *e)
{
    char retry[16];
    httpc_res r;
    int rc = httpc_do(c, "GET", e->path, &r, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "GET %s: %s", e->path, c->err);
    ck_assert_msg(r.status == e->status, "GET %s: status %d, expected %d",
                  e->path, r.status, e->status);
    ck_assert_int_eq(httpc_header(&r, "Retry-After", retry, sizeof(retry)),
                     e->retry_after != NULL);
    if (e->retry_after)
        ck_assert_str_eq(retry, e->retry_after);
    ck_assert_msg(!r.close == !e->close, "GET %s: close %d", e->path, r.close);
    if (e->status == 200)
        ck_assert_str_eq(r.body, "abc");
    else
        ck_assert_ptr_null(strstr(r.body, "never sent"));
    httpc_res_free(&r);
}

static int t_results(void *arg)
{
    gt_http_config cfg = {.host = "127.0.0.1"};
    gt_http_server *srv;
    httpc c;

    (void)arg;
    ck_assert_int_eq(
        gt_http_server_open(&srv, gt_rt_self(), &cfg, h_result, NULL), 0);
    httpc_init(&c, gt_http_server_port(srv));
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        check_one(&c, &expected[i]);
    httpc_close(&c, 0);
    gt_http_server_stop(srv);
    ck_assert_int_eq(gt_http_server_join(srv, gt_deadline_in(10000)), 0);
    gt_http_server_close(srv);
    return 0;
}

/* The number of times 'needle' occurs in 'hay'. */
static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

START_TEST(handler_results_map_to_statuses)
{
    char path[] = "/tmp/gt-http-errors-XXXXXX", log[4096];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO);
    ssize_t n;

    ck_assert_int_ge(fd, 0);
    unlink(path);
    dup2(fd, STDERR_FILENO);
    ck_assert_int_eq(run_main(t_results, NULL), 0);
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    ck_assert_int_ge(n, 0);
    log[n] = '\0';
    /* -ENOMEM and GT_EDB are logged, and nothing else is. */
    ck_assert_msg(count(log, "handler failed") == 2, "log:\n%s", log);
    ck_assert_msg(strstr(log, "GET /enomem: handler failed"), "log:\n%s", log);
    ck_assert_msg(strstr(log, "GET /edb: handler failed"), "log:\n%s", log);
}
END_TEST

void add_http_errors_tests(Suite *s)
{
    TCase *tc = tcase_create("errors");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, handler_results_map_to_statuses);
    suite_add_tcase(s, tc);
}
