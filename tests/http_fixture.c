/* tests/http_fixture.c -- see http_fixture.h. */
#include "http_fixture.h"

#include <stdio.h>
#include <string.h>

#define FX_TIMEOUT_MS 10000

typedef struct fx {
    gt_http_router *router;
    gt_http_config cfg;
    fx_client_fn fn;
    void *arg;
} fx;

static int fx_main(void *p)
{
    fx *f = p;
    gt_http_server *srv;
    httpc c;

    ck_assert_int_eq(gt_http_server_open(&srv, gt_rt_self(), &f->cfg,
                                         gt_http_router_dispatch, f->router),
                     0);
    httpc_init(&c, gt_http_server_port(srv));
    f->fn(&c, f->arg);
    httpc_close(&c, 0);
    gt_http_server_stop(srv);
    ck_assert_int_eq(gt_http_server_join(srv, gt_deadline_in(FX_TIMEOUT_MS)),
                     0);
    gt_http_server_close(srv);
    return 0;
}

void fx_run(gt_http_router *router, const gt_http_config *cfg, fx_client_fn fn,
            void *arg)
{
    fx f = {.router = router, .fn = fn, .arg = arg};

    if (cfg)
        f.cfg = *cfg;
    f.cfg.host = "127.0.0.1";
    f.cfg.port = 0;
    ck_assert_int_eq(run_main(fx_main, &f), 0);
    gt_http_router_free(router);
}

gt_http_router *fx_router(const fx_route *routes, size_t n)
{
    gt_http_router *r;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(gt_http_router_add(r, routes[i].method,
                                            routes[i].pattern, routes[i].fn,
                                            NULL),
                         0);
    return r;
}

void fx_send(httpc *c, const char *raw, size_t n, httpc_res *res)
{
    int64_t dl = gt_deadline_in(FX_TIMEOUT_MS);
    int rc = 0;

    if (c->fd < 0)
        rc = httpc_connect(c, dl);
    if (rc == 0)
        rc = httpc_send(c, raw, n, dl);
    if (rc == 0)
        rc = httpc_read(c, res, dl);
    ck_assert_msg(rc == 0, "request '%.60s': %s", raw, c->err);
    if (res->close)
        httpc_close(c, 0);
}

void fx_get(httpc *c, const char *target, httpc_res *res)
{
    int rc = httpc_do(c, "GET", target, res, gt_deadline_in(FX_TIMEOUT_MS));

    ck_assert_msg(rc == 0, "GET %s: %s", target, c->err);
}

void fx_expect(httpc_res *res, int status, const char *body)
{
    ck_assert_msg(res->status == status && strcmp(res->body, body) == 0,
                  "status %d body '%s', expected %d '%s'", res->status,
                  res->body, status, body);
    httpc_res_free(res);
}
