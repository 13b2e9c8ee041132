/* http/errors.c -- what an error result becomes: the status it maps to,
 * the app's error handler, the default text body, and the JSON error
 * reply.
 *
 * Every error the router or the server answers for a request that has a
 * head -- a handler's negative result, a rejected input, a failed body
 * read, the router's 404 and 405, a Content-Length over max_body -- ends
 * up in gt__http_render_error(), in the request's coroutine. It drops what
 * the handler built but keeps the fields the before hook added (a hook's
 * CORS or tracing headers must survive the handler's failure), adds the
 * fields the status needs (Allow, Retry-After), and lets the app's error
 * handler render the body, so that every error a client sees has the
 * app's format. Requests the parser rejects, and heads that time out, have
 * no request for a handler to look at: they keep the fixed text answer of
 * gt__http_send_error() (response.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

/* A connection to something the handler depends on failed: the service is
 * unavailable for now (a database restart, a failover), not broken. */
static bool unavailable(int rc)
{
    return rc == GT_EPOOL || rc == -ECONNRESET || rc == -ECONNREFUSED ||
           rc == -ENOTCONN || rc == -ECONNABORTED;
}

int gt__http_outcome(gt_http_req *req, int rc)
{
    int64_t dl = gt_co_deadline(gt_co_self());

    if (req->body_status)
        return req->body_status;
    if (rc == -ETIMEDOUT || (dl != GT_NEVER && gt_now() >= dl))
        return 504;
    if (rc < 0 && rc == req->reject_rc)
        return req->reject_status; /* an accessor refused the input */
    if (unavailable(rc))
        return 503;
    if (rc == -ECANCELED) {
        req->conn->close_after = true;
        return 503;
    }
    if (rc < 0) {
        fprintf(stderr, "greentor http: %s %s: handler failed: %s\n",
                req->head.method, req->head.target, gt_strerror(rc));
        return 500;
    }
    return 0;
}

/* Why: the rejection's message when the handler returned the rejecting
 * accessor's code, else the reason phrase. */
static const char *message(const gt_http_req *req, int status, int rc)
{
    if (rc < 0 && rc == req->reject_rc && status == req->reject_status &&
        !req->body_status && req->reject_msg)
        return req->reject_msg;
    return gt_http_reason(status);
}

/* Back to the hooks' fields with the status set and no body, plus the
 * fields the status calls for. The buffer holds the hooks' fields already,
 * so only those two can fail, and then the response goes without them. */
static void reset(gt_http_res *res, int status)
{
    gt_http_req *req = res->req;

    res->status = status;
    gt__http_hdr_truncate(res, res->hdrs_base);
    res->body = NULL;
    res->body_len = 0;
    if (status == 405 && req->allow)
        gt__http_hdr_append(res, "Allow", 5, req->allow, strlen(req->allow));
    if (status == 503)
        gt__http_hdr_append(res, "Retry-After", 11, "1", 1);
}

void gt__http_render_error(gt_http_res *res, int status, int rc)
{
    gt_http_req *req = res->req;
    const gt_http_hooks *h = req->conn->w->srv->cfg.hooks;
    const char *msg = message(req, status, rc);

    reset(res, status);
    if (h && h->error) {
        if (h->error(req, res, status, msg, h->arg) >= 0)
            return;
        reset(res, status); /* it failed: the default after all */
    }
    res->body = msg;
    res->body_len = strlen(msg);
    gt_http_res_remove_header(res, "Content-Type");
    gt__http_default_type(res, "text/plain; charset=utf-8");
}

/* ---- the JSON error reply ------------------------------------------------ */

/* A JSON string of 'msg'; bytes that are not valid UTF-8 become '?'. */
static json_t *json_text(char *msg)
{
    json_t *s = json_string(msg);

    if (s)
        return s;
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    return json_string(msg);
}

int gt_http_res_verror(gt_http_res *res, int status, const char *fmt,
                       va_list ap)
{
    gt_http_req *req = res->req;
    char msg[512];
    const char *id = NULL;
    json_t *o;
    int rc;

    if (status < 100 || status > 999)
        return -EINVAL;
    if (!fmt)
        snprintf(msg, sizeof(msg), "%s", gt_http_reason(status));
    else if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
        return -EINVAL;
    if (req->conn->w->srv->cfg.request_id && !(id = gt_http_req_id(req)))
        return -ENOMEM;
    o = json_object();
    if (!o || json_object_set_new(o, "error", json_text(msg)) < 0 ||
        json_object_set_new(o, "status", json_integer(status)) < 0 ||
        (id && json_object_set_new(o, "request_id", json_string(id)) < 0)) {
        json_decref(o);
        return -ENOMEM;
    }
    rc = gt_http_res_json(res, o);
    if (rc == 0)
        rc = gt_http_res_set_header(res, "Content-Type", "application/json");
    if (rc == 0)
        res->status = status;
    return rc;
}

int gt_http_res_error(gt_http_res *res, int status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = gt_http_res_verror(res, status, fmt, ap);
    va_end(ap);
    return rc;
}

int gt_http_error_json(gt_http_req *req, gt_http_res *res, int status,
                       const char *msg, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_error(res, status, "%s", msg);
}
