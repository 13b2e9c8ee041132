/* http/params.c -- typed query and route parameters, and what the final
 * "*" of a route matched.
 *
 * The older accessors (gt_http_req_query, gt_http_req_param) return NULL
 * for an absent value and for a malformed one alike, so "?tag=%zz" reads
 * as "no filter". These getters return 0, -ENOENT or -EINVAL instead, and
 * parse numbers and booleans strictly: a value either is one or it is the
 * client's mistake, never "0" by accident as with atoi().
 *
 * A malformed value is recorded as a rejection (reject.c), so the common
 * handler just returns what the getter returned and the client gets 400.
 *
 * Values are decoded on each call into the request's arena (a few KiB in
 * the request object, then coroutine memory), as gt_http_req_query does;
 * nothing is cached because handlers read each parameter once. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http.h"

/* ---- decoding ------------------------------------------------------------ */

/* Decode s[0..n) into a new NUL-terminated string in *out. Returns 0,
 * -EINVAL (a bad escape or an encoded NUL) or -ENOMEM. */
static int decode(gt_http_req *req, const char *s, size_t n, int plus,
                  const char **out)
{
    char *d = gt__http_alloc(req, n + 1);
    ssize_t r;

    if (!d)
        return -ENOMEM;
    r = gt__http_percent_decode(d, n, s, n, plus);
    if (r < 0 || memchr(d, '\0', (size_t)r))
        return -EINVAL;
    d[r] = '\0';
    *out = d;
    return 0;
}

/* Decimal int64: '-'? DIGIT{1,19}, in range. */
static int parse_int64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    size_t n = 0;

    s += neg;
    for (; *s >= '0' && *s <= '9'; s++, n++) {
        unsigned d = (unsigned)(*s - '0');

        if (v > (lim - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    if (n == 0 || *s != '\0')
        return -EINVAL;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"", "1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    return -EINVAL;
}

/* ---- query parameters ---------------------------------------------------- */

static int bad_query(gt_http_req *req, const char *name, const char *what)
{
    return gt__http_reject(req, -EINVAL, 400, "query parameter '%s' %s", name,
                           what);
}

/* The first value of 'name', decoded. */
static int query_first(gt_http_req *req, const char *name, const char **out)
{
    size_t pos = 0, vlen;
    const char *v;
    int rc;

    if (!name)
        return -ENOENT;
    if (!req->head.query ||
        !gt__http_query_find(req->head.query, req->head.query_len, &pos, name,
                             &v, &vlen))
        return -ENOENT;
    rc = decode(req, v, vlen, 1, out);
    if (rc == -EINVAL)
        rc = bad_query(req, name, "is malformed");
    return rc;
}

int gt_http_req_query_str(gt_http_req *req, const char *name, const char **out)
{
    return query_first(req, name, out);
}

int gt_http_req_query_int64(gt_http_req *req, const char *name, int64_t *out)
{
    const char *s;
    int rc = query_first(req, name, &s);

    if (rc == 0 && parse_int64(s, out) < 0)
        rc = bad_query(req, name, "is not an integer");
    return rc;
}

int gt_http_req_query_bool(gt_http_req *req, const char *name, bool *out)
{
    const char *s;
    int rc = query_first(req, name, &s);

    if (rc == 0 && parse_bool(s, out) < 0)
        rc = bad_query(req, name, "is not a boolean");
    return rc;
}

/* How many times 'name' occurs. */
static size_t query_count(const gt_http_req *req, const char *name)
{
    size_t pos = 0, vlen, n = 0;
    const char *v;

    while (gt__http_query_find(req->head.query, req->head.query_len, &pos, name,
                               &v, &vlen))
        n++;
    return n;
}

int gt_http_req_query_all(gt_http_req *req, const char *name,
                          const char *const **out)
{
    size_t n = name && req->head.query ? query_count(req, name) : 0;
    size_t pos = 0, vlen;
    const char **vals, *v;

    if (n > (size_t)INT32_MAX) /* a count must fit the int result */
        return -ENOMEM;
    vals = gt__http_alloc(req, (n + 1) * sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc;

        gt__http_query_find(req->head.query, req->head.query_len, &pos, name,
                            &v, &vlen);
        rc = decode(req, v, vlen, 1, &vals[i]);
        if (rc == -EINVAL)
            return bad_query(req, name, "is malformed");
        if (rc < 0)
            return rc;
    }
    vals[n] = NULL;
    *out = vals;
    return (int)n;
}

/* ---- route parameters and the rest --------------------------------------- */

static const gt__http_param *find_param(const gt_http_req *req,
                                        const char *name)
{
    size_t n = name ? strlen(name) : 0;

    for (size_t i = 0; name && i < req->nparams; i++) {
        const gt__http_param *p = &req->params[i];

        if (p->name_len == n && memcmp(p->name, name, n) == 0)
            return p;
    }
    return NULL;
}

int gt_http_req_param_str(gt_http_req *req, const char *name, const char **out)
{
    const gt__http_param *p = find_param(req, name);
    int rc;

    if (!p)
        return -ENOENT;
    rc = decode(req, p->value, p->value_len, 0, out);
    if (rc == -EINVAL)
        rc = gt__http_reject(req, rc, 400, "path parameter '%s' is malformed",
                             name);
    return rc;
}

int gt_http_req_param_int64(gt_http_req *req, const char *name, int64_t *out)
{
    const char *s;
    int rc = gt_http_req_param_str(req, name, &s);

    if (rc == 0 && parse_int64(s, out) < 0)
        rc = gt__http_reject(req, -EINVAL, 404,
                             "path parameter '%s' is not an integer", name);
    return rc;
}

int gt_http_req_rest(gt_http_req *req, const char **out)
{
    int rc;

    if (!req->rest)
        return -ENOENT;
    rc = decode(req, req->rest, req->rest_len, 0, out);
    if (rc == -EINVAL)
        rc = gt__http_reject(req, rc, 400, "the path is malformed");
    return rc;
}
