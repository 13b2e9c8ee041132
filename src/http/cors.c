/* http/cors.c -- Cross-Origin Resource Sharing: preflights and the
 * response fields, for the origins a gt_http_cors lists.
 *
 * It lives in the server, not in a hook, because the point of CORS is
 * that a browser can read *every* answer: a 413, a 404 from the router or
 * a 503 the server made must carry Access-Control-Allow-Origin as much as
 * a handler's 200, or the page sees a network error instead of the
 * status. So the fields are added when a response is put out
 * (gt__http_res_finish), whatever built it, and a preflight is answered
 * before any hook or handler (it carries no credentials, so an
 * authentication hook would only refuse it). Requests the parser rejects
 * have no Origin to look at and go without.
 *
 * The lists are parsed on each use: a handful of entries, compared only
 * for requests that send an Origin. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

#define DEFAULT_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE"
#define DEFAULT_MAX_AGE 600

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* Is s[0..n) an entry of the comma/space-separated 'list' (compared
 * case-insensitively)? */
static bool in_list(const char *list, const char *s, size_t n)
{
    const char *p = list;

    while (*p) {
        size_t len = 0;

        while (is_sep(*p))
            p++;
        while (p[len] && !is_sep(p[len]))
            len++;
        if (len == n && len > 0) {
            size_t i = 0;

            while (i < n && (p[i] | 0x20) == (s[i] | 0x20))
                i++;
            if (i == n)
                return true;
        }
        p += len;
    }
    return false;
}

/* "*" without credentials: the same answer for every origin. */
static bool any_origin(const gt_http_cors *cors)
{
    return !cors->credentials && cors->origins &&
           in_list(cors->origins, "*", 1);
}

/* The request's Origin when it is allowed, else NULL. */
static const char *allowed_origin(const gt_http_req *req,
                                  const gt_http_cors *cors)
{
    const char *o = gt_http_req_header(req, "Origin");

    if (!o || !*o || !cors->origins)
        return NULL;
    if (in_list(cors->origins, "*", 1) || in_list(cors->origins, o, strlen(o)))
        return o;
    return NULL;
}

/* Access-Control-Allow-Origin and the fields that go with it. */
static int allow_fields(gt_http_res *res, const gt_http_cors *cors,
                        const char *origin)
{
    int rc;

    rc = gt_http_res_set_header(res, "Access-Control-Allow-Origin",
                                any_origin(cors) ? "*" : origin);
    if (rc == 0 && cors->credentials)
        rc = gt_http_res_set_header(res, "Access-Control-Allow-Credentials",
                                    "true");
    return rc;
}

void gt__http_cors_headers(gt_http_res *res)
{
    gt_http_req *req = res->req;
    const gt_http_cors *cors = req->conn->w->srv->cfg.cors;
    const char *origin, *v;
    size_t vl;

    if (!cors || res->cors_done)
        return;
    res->cors_done = true;
    if (!any_origin(cors))
        gt_http_res_header(res, "Vary", "Origin");
    origin = allowed_origin(req, cors);
    /* A handler that answered for CORS itself is left alone. */
    if (!origin ||
        gt__http_hdr_find(res, "access-control-allow-origin", &v, &vl))
        return;
    if (allow_fields(res, cors, origin) == 0 && cors->expose)
        gt_http_res_set_header(res, "Access-Control-Expose-Headers",
                               cors->expose);
}

/* The fields of a preflight's answer. */
static int preflight_fields(gt_http_req *req, gt_http_res *res,
                            const gt_http_cors *cors, const char *origin)
{
    const char *hdrs = cors->headers
                           ? cors->headers
                           : gt_http_req_header(req, "Access-Control-"
                                                     "Request-Headers");
    const char *methods = cors->methods ? cors->methods : DEFAULT_METHODS;
    int max_age = cors->max_age ? cors->max_age : DEFAULT_MAX_AGE;
    char age[16];
    int rc = allow_fields(res, cors, origin);

    if (rc == 0)
        rc = gt_http_res_header(res, "Access-Control-Allow-Methods", methods);
    if (rc == 0 && hdrs && *hdrs)
        rc = gt_http_res_header(res, "Access-Control-Allow-Headers", hdrs);
    if (rc == 0 && max_age > 0) {
        snprintf(age, sizeof(age), "%d", max_age);
        rc = gt_http_res_header(res, "Access-Control-Max-Age", age);
    }
    if (rc == 0 && !any_origin(cors))
        rc = gt_http_res_header(res, "Vary", "Origin");
    return rc;
}

int gt__http_cors_preflight(gt_http_req *req, gt_http_res *res)
{
    const gt_http_cors *cors = req->conn->w->srv->cfg.cors;
    const char *want = gt_http_req_header(req, "Access-Control-Request-Method");
    const char *methods = cors->methods ? cors->methods : DEFAULT_METHODS;
    const char *origin;
    int rc;

    if (strcmp(req->head.method, "OPTIONS") != 0 || !want ||
        !gt_http_req_header(req, "Origin"))
        return 0; /* not a preflight: an ordinary request */
    origin = allowed_origin(req, cors);
    if (!origin)
        return gt__http_reject(req, -EACCES, 403,
                               "origin not allowed by the CORS policy");
    if (!in_list(methods, "*", 1) && !in_list(methods, want, strlen(want)))
        return gt__http_reject(req, -EACCES, 403,
                               "method '%.64s' not allowed by the CORS policy",
                               want);
    rc = preflight_fields(req, res, cors, origin);
    res->cors_done = true;
    if (rc < 0)
        return rc;
    gt_http_res_status(res, 204);
    return 1;
}
