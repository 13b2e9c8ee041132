/* tests/client_fixture.c -- see client_fixture.h. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_fixture.h"
#include "util.h"

/* ---- the server side ----------------------------------------------------- */

atomic_int cl_hang_started, cl_hang_rc, cl_proxy_rc;
static int server_port;

static int h_hello(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    return gt_http_res_printf(res, "Hello, World!");
}

/* Echo the body, and say how it came. */
static int h_echo(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body, *ct = gt_http_req_header(req, "Content-Type");
    size_t len;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    if (rc < 0)
        return rc;
    gt_http_res_header(res, "X-Method", gt_http_req_method(req));
    gt_http_res_header(res, "X-Content-Type", ct ? ct : "(none)");
    return gt_http_res_body(res, body, len);
}

static int h_headers(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = gt_http_req_header(req, "x-TEST");
    const char *ua = gt_http_req_header(req, "User-Agent");
    const char *accept = gt_http_req_header(req, "Accept");
    char reply[128];

    (void)arg;
    snprintf(reply, sizeof(reply), "got-%s", v ? v : "(none)");
    gt_http_res_header(res, "X-Reply", reply);
    gt_http_res_header(res, "X-UA", ua ? ua : "(none)");
    gt_http_res_header(res, "X-Accept", accept ? accept : "(none)");
    gt_http_res_header(res, "X-Multi", "one");
    gt_http_res_header(res, "X-Multi", "two");
    gt_http_res_status(res, 201);
    return gt_http_res_printf(res, "x-test=%s", v ? v : "(none)");
}

static size_t query_n(gt_http_req *req)
{
    const char *n = gt_http_req_query(req, "n");

    return n ? (size_t)strtoul(n, NULL, 10) : 0;
}

/* n bytes of 'a', with a Content-Length. */
static int h_big(gt_http_req *req, gt_http_res *res, void *arg)
{
    size_t n = query_n(req);
    char *buf = gt_co_alloc(n + 1);

    (void)arg;
    if (!buf)
        return -ENOMEM;
    memset(buf, 'a', n);
    return gt_http_res_body(res, buf, n);
}

/* n bytes of 'b' in 4 KiB chunks: no length known up front. */
static int h_chunked(gt_http_req *req, gt_http_res *res, void *arg)
{
    char buf[4096];
    size_t n = query_n(req);
    int rc = 0;

    (void)arg;
    memset(buf, 'b', sizeof(buf));
    while (n > 0 && rc == 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);

        rc = gt_http_res_write(res, buf, k);
        n -= k;
    }
    return rc;
}

static int h_hang(gt_http_req *req, gt_http_res *res, void *arg)
{
    int rc;

    (void)req, (void)res, (void)arg;
    atomic_fetch_add(&cl_hang_started, 1);
    rc = gt_sleep(60000);
    atomic_store(&cl_hang_rc, rc);
    return rc;
}

/* A handler that calls out: fetch /hang from this same server. */
static int h_proxy(gt_http_req *req, gt_http_res *res, void *arg)
{
    char u[64];
    gt_http_request rq = {.url = u};
    gt_http_response *r;
    int rc;

    (void)req, (void)arg;
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/hang", server_port);
    rc = gt_http_fetch(&rq, &r, GT_NEVER);
    atomic_store(&cl_proxy_rc, rc);
    if (rc < 0)
        return rc;
    return gt_http_res_printf(res, "%d", gt_http_response_status(r));
}

static int h_redirect(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_status(res, 302);
    gt_http_res_header(res, "Location", "/hello");
    return 0;
}

static int h_loop(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_status(res, 302);
    gt_http_res_header(res, "Location", "/loop");
    return 0;
}

static int h_seq(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *i = gt_http_req_query(req, "i");

    (void)arg;
    gt_sleep(1); /* let the others pile up on the server */
    return gt_http_res_printf(res, "seq=%s", i ? i : "?");
}

/* ---- the fixture --------------------------------------------------------- */

fixture fx;

static int run_body(void *arg)
{
    fixture *f = arg;

    f->body(f);
    gt_rt_stop(f->rt);
    return 0;
}

void with_server(gt_co_fn body, int workers)
{
    gt_rt_config rc = {.workers = workers};
    gt_http_config hc = {.host = "127.0.0.1"};
    gt_http_router *r;

    atomic_store(&cl_hang_started, 0);
    atomic_store(&cl_hang_rc, 0);
    atomic_store(&cl_proxy_rc, 1);
    memset(&fx, 0, sizeof(fx));
    fx.body = body;
    ck_assert_int_eq(gt_rt_new(&fx.rt, &rc), 0);
    ck_assert_int_eq(gt_http_router_new(&r), 0);
    gt_http_router_add(r, "GET", "/hello", h_hello, NULL);
    gt_http_router_add(r, NULL, "/echo", h_echo, NULL);
    gt_http_router_add(r, "GET", "/headers", h_headers, NULL);
    gt_http_router_add(r, "GET", "/big", h_big, NULL);
    gt_http_router_add(r, "GET", "/chunked", h_chunked, NULL);
    gt_http_router_add(r, "GET", "/hang", h_hang, NULL);
    gt_http_router_add(r, "GET", "/redirect", h_redirect, NULL);
    gt_http_router_add(r, "GET", "/loop", h_loop, NULL);
    gt_http_router_add(r, "GET", "/seq", h_seq, NULL);
    gt_http_router_add(r, "GET", "/proxy", h_proxy, NULL);
    fx.router = r;
    ck_assert_int_eq(
        gt_http_server_open(&fx.srv, fx.rt, &hc, gt_http_router_dispatch, r),
        0);
    fx.port = server_port = gt_http_server_port(fx.srv);
    ck_assert_int_eq(gt_rt_post(fx.rt, 0, run_body, &fx), 0);
    ck_assert_int_eq(gt_rt_run(fx.rt), 0);
    gt_http_server_close(fx.srv);
    gt_rt_free(fx.rt);
    gt_http_router_free(fx.router);
}

const char *url(char *buf, size_t cap, const char *path)
{
    snprintf(buf, cap, "http://127.0.0.1:%d%s", fx.port, path);
    return buf;
}

uint64_t accepted(void)
{
    gt_http_stats st;

    gt_http_server_get_stats(fx.srv, &st);
    return st.accepted;
}

uint64_t open_conns(void)
{
    gt_http_stats st;

    gt_http_server_get_stats(fx.srv, &st);
    return st.conns;
}

int get_path(const char *path, gt_http_response **out, int64_t deadline)
{
    gt_http_request rq = {.url = URL(path)};

    return gt_http_fetch(&rq, out, deadline);
}
