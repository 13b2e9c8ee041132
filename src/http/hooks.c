/* http/hooks.c -- one request's run through the app: CORS preflight, the
 * before hook, the handler, the response, the after hook.
 *
 * The hooks are one struct in the server's configuration rather than a
 * chain of middleware: a service has one idea of what runs around its
 * handlers (authentication, tracing, a metrics line), and one function
 * that calls the pieces it wants in the order it wants is easier to read
 * than an order implied by registration calls. The router stays a pure
 * dispatcher, so what the hooks see is the same with or without one.
 *
 * The fields the before hook adds are the base of every error response
 * (res->hdrs_base): they survive a failing handler. The after hook runs
 * once the response is in the output and flushed, so a slow after hook (a
 * log write that yields) does not hold the client's answer back. */
#include <errno.h>

#include "http.h"

void gt_http_req_set_data(gt_http_req *req, void *data)
{
    req->data = data;
}

void *gt_http_req_get_data(const gt_http_req *req)
{
    return req->data;
}

uint64_t gt_http_req_elapsed_us(const gt_http_req *req)
{
    return (uv_hrtime() - req->t0) / 1000;
}

/* The before hook and the handler; their result for the response. */
static int run_app(gt_http_req *req, gt_http_res *res)
{
    gt_http_server *srv = req->conn->w->srv;
    const gt_http_hooks *h = srv->cfg.hooks;
    int rc;

    if (srv->cfg.cors) {
        rc = gt__http_cors_preflight(req, res);
        if (rc != 0) /* answered: no hook or handler sees a preflight */
            return rc > 0 ? 0 : rc;
    }
    if (h && h->before) {
        rc = h->before(req, res, h->arg);
        res->hdrs_base = res->hdrs_len;
        if (rc != 0)
            return rc > 0 ? 0 : rc;
    }
    return srv->handler(req, res, srv->arg);
}

void gt__http_serve(gt_http_req *req)
{
    gt__http_conn *c = req->conn;
    const gt_http_hooks *h = c->w->srv->cfg.hooks;
    gt_http_res *res = &req->res;
    int rc;

    const char *peer;
    bool log = c->w->srv->cfg.access_log;

    if (log) /* now, while the peer is there to ask */
        gt_http_req_client_addr(req, &peer);
    /* Refused before the app (a Content-Length over max_body): only the
     * error handler and the after hook run. */
    rc = req->body_status ? req->body_rc : run_app(req, res);
    gt__http_res_finish(res, rc);
    if (log)
        gt__http_log_access(req);
    if (!h || !h->after)
        return;
    gt__http_conn_flush(c);
    h->after(req, res, h->arg);
}
