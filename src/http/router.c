/* http/router.c -- method + path routing with literal, ":param" and
 * trailing "*" segments; 404 and 405 with Allow.
 *
 * A route table, not a trie: services have tens of routes, a match is a
 * walk over the raw path comparing segments with memcmp(), and the table is
 * built once and then only read, by every worker at once, without locks.
 * Matching runs on the raw (still percent-encoded) path, so an encoded
 * slash ("%2F") inside a parameter stays inside it; parameters are decoded
 * when the handler reads them.
 *
 * Every route is tried, and the most specific match wins: a literal-only
 * route over one with parameters, over a prefix route; then more literal
 * segments; then the exact method over a GET route answering HEAD; then
 * the first added. The routes that match the path but not the method make
 * up the 405's Allow header. 404 and 405 are not built here but recorded
 * like rejected input and returned, so they go through the server's error
 * path and the app's error handler like every other error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

typedef struct seg {
    const char *s; /* into the route's pattern copy; for a parameter,
                      its name without the ':' */
    size_t n;
    bool param;
} seg;

typedef struct route {
    char *method; /* NULL: any method */
    size_t method_len;
    char *pattern; /* a copy, NUL-terminated; segs point into it */
    seg *segs;
    size_t nsegs;
    size_t nliteral; /* literal segments, for specificity */
    size_t nparams;
    bool prefix; /* the pattern ended in "*" */
    gt_http_handler fn;
    void *arg;
} route;

struct gt_http_router {
    route *routes;
    size_t n, cap;
};

int gt_http_router_new(gt_http_router **out)
{
    *out = gt_calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

static void route_deinit(route *r)
{
    free(r->method);
    free(r->pattern);
    free(r->segs);
}

void gt_http_router_free(gt_http_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_deinit(&r->routes[i]);
    free(r->routes);
    free(r);
}

/* Split the pattern copy after its leading '/' into segments. */
static int parse_pattern(route *rt)
{
    char *p = rt->pattern + 1;
    size_t cap = 1;

    for (const char *q = p; *q; q++)
        cap += *q == '/';
    rt->segs = gt_calloc(cap, sizeof(seg));
    if (!rt->segs)
        return -ENOMEM;
    for (;;) {
        char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        seg *s = &rt->segs[rt->nsegs];

        if (n == 1 && *p == '*') {
            if (slash)
                return -EINVAL; /* "*" only at the end */
            rt->prefix = true;
            return 0;
        }
        s->param = n > 0 && *p == ':';
        s->s = s->param ? p + 1 : p;
        s->n = s->param ? n - 1 : n;
        if (s->param && (s->n == 0 || ++rt->nparams > GT_HTTP_MAX_PARAMS))
            return -EINVAL;
        rt->nliteral += !s->param;
        rt->nsegs++;
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(gt__http_ctype[(unsigned char)*s] & GT__HTTP_C_TOKEN))
            return false;
    return true;
}

static int route_init(route *rt, const char *method, const char *pattern)
{
    if (!pattern || pattern[0] != '/' || (method && !is_token(method)))
        return -EINVAL;
    rt->pattern = gt_strdup(pattern);
    rt->method = method ? gt_strdup(method) : NULL;
    if (!rt->pattern || (method && !rt->method))
        return -ENOMEM;
    rt->method_len = method ? strlen(method) : 0;
    return parse_pattern(rt);
}

int gt_http_router_add(gt_http_router *r, const char *method,
                       const char *pattern, gt_http_handler fn, void *arg)
{
    route rt = {0};
    int rc;

    if (!fn)
        return -EINVAL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 8;
        route *p = gt_realloc(r->routes, cap * sizeof(*p));

        if (!p)
            return -ENOMEM;
        r->routes = p;
        r->cap = cap;
    }
    rc = route_init(&rt, method, pattern);
    if (rc < 0) {
        route_deinit(&rt);
        return rc;
    }
    rt.fn = fn;
    rt.arg = arg;
    r->routes[r->n++] = rt;
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

/* The length of the raw path's first segment (after its '/'). */
static size_t first_segment(const char *path, size_t n)
{
    const char *q = memchr(path + 1, '/', n - 1);

    return q ? (size_t)(q - (path + 1)) : n - 1;
}

/* Does the raw path (starting with '/', its first segment 'first' bytes
 * long) match? Fills params (if not NULL, GT_HTTP_MAX_PARAMS entries)
 * and, for a "*" route, the request's rest (if req is not NULL).
 *
 * Every route is tried on every request, and most differ from the path in
 * its first segment, so that segment is found once per request, not once
 * per route, and dispatch rejects a route whose first literal segment
 * differs in length or first byte without calling us: 11 routes cost
 * ~1,000 instructions a request with a memchr() per route
 * (bench/README.md, issue 15). */
static bool match(const route *rt, const char *path, size_t n, size_t first,
                  gt__http_param *params, gt_http_req *req)
{
    size_t i = 1, np = 0; /* i: start of the next path segment */

    for (size_t k = 0; k < rt->nsegs; k++) {
        const seg *s = &rt->segs[k];
        const char *q;
        size_t len;

        if (i > n)
            return false; /* the path has no more segments */
        if (k == 0) {
            len = first;
        } else {
            q = memchr(path + i, '/', n - i);
            len = q ? (size_t)(q - (path + i)) : n - i;
        }
        if (s->param) {
            if (len == 0)
                return false;
            if (params)
                params[np++] = (gt__http_param){s->s, path + i, s->n, len};
        } else if (len != s->n || memcmp(path + i, s->s, len) != 0) {
            return false;
        }
        i += len + 1; /* past the '/', or to n + 1 at the end */
    }
    if (!rt->prefix)
        return i == n + 1;
    if (i > n)
        return false;
    if (req) {
        req->rest = path + i;
        req->rest_len = n - i;
    }
    return true;
}

static bool method_is(const gt_http_req *req, const char *m, size_t n)
{
    return req->head.method_len == n && memcmp(req->head.method, m, n) == 0;
}

/* 0: the route does not take the method; 1: it does as GET for HEAD;
 * 2: exactly (or any method). */
static int method_fit(const route *rt, const gt_http_req *req)
{
    if (!rt->method || method_is(req, rt->method, rt->method_len))
        return 2;
    if (req->head.method_id == GT__HTTP_HEAD && strcmp(rt->method, "GET") == 0)
        return 1;
    return 0;
}

static unsigned long specificity(const route *rt, int fit)
{
    unsigned long kind = rt->prefix ? 0 : rt->nparams ? 1 : 2;

    return (kind << 24) | ((unsigned long)rt->nliteral << 2) |
           (unsigned long)fit;
}

/* ---- answers without a route --------------------------------------------- */

/* Recorded like a rejected input, so that the handler's result (ours, or
 * a wrapper's that returns it unchanged) is answered by the error path
 * (errors.c) with the app's error handler. */
static int not_found(gt_http_req *req)
{
    return gt__http_reject(req, -ENOENT, 404, "Not Found");
}

/* Append 'm' to the comma-separated list in buf unless it is there. */
static size_t allow_add(char *buf, size_t len, const char *m, size_t n)
{
    for (const char *p = buf; p < buf + len;) {
        const char *e = memchr(p, ',', (size_t)(buf + len - p));
        size_t l = e ? (size_t)(e - p) : (size_t)(buf + len - p);

        if (l == n && memcmp(p, m, n) == 0)
            return len;
        p = e ? e + 2 : buf + len;
    }
    if (len > 0) {
        memcpy(buf + len, ", ", 2);
        len += 2;
    }
    memcpy(buf + len, m, n);
    return len + n;
}

static int not_allowed(gt_http_req *req, const gt_http_router *r)
{
    size_t cap = 8, len = 0;
    char *allow;

    for (size_t i = 0; i < r->n; i++)
        cap += r->routes[i].method_len + 2;
    allow = gt__http_alloc(req, cap);
    if (!allow)
        return -ENOMEM;
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        size_t n = req->head.path_len;

        if (!rt->method || !match(rt, req->head.path, n,
                                  first_segment(req->head.path, n), NULL, NULL))
            continue;
        len = allow_add(allow, len, rt->method, rt->method_len);
        if (strcmp(rt->method, "GET") == 0)
            len = allow_add(allow, len, "HEAD", 4);
    }
    allow[len] = '\0';
    req->allow = allow;
    return gt__http_reject(req, -EOPNOTSUPP, 405, "Method Not Allowed");
}

int gt_http_router_dispatch(gt_http_req *req, gt_http_res *res, void *router)
{
    const gt_http_router *r = router;
    const route *best = NULL;
    unsigned long best_score = 0;
    bool path_matched = false;
    const char *path = req->head.path;
    size_t n = req->head.path_len, first;

    if (n == 0 || path[0] != '/')
        return not_found(req); /* "*" (OPTIONS), authority-form */
    first = first_segment(path, n);
    for (size_t i = 0; i < r->n; i++) {
        const route *rt = &r->routes[i];
        unsigned long score;
        int fit;

        const seg *s0 = rt->nsegs ? &rt->segs[0] : NULL;

        /* What match() would find first, without the call. */
        if (s0 && !s0->param &&
            (s0->n != first || (first > 0 && s0->s[0] != path[1])))
            continue;
        if (!match(rt, path, n, first, NULL, NULL))
            continue;
        path_matched = true;
        fit = method_fit(rt, req);
        score = fit ? specificity(rt, fit) : 0;
        if (fit && (!best || score > best_score)) {
            best = rt;
            best_score = score;
        }
    }
    if (!best)
        return path_matched ? not_allowed(req, r) : not_found(req);
    match(best, path, n, first, req->params, req);
    req->nparams = best->nparams;
    req->route = best->pattern;
    gt__http_req_name(req, best->pattern, strlen(best->pattern));
    return best->fn(req, res, best->arg);
}
