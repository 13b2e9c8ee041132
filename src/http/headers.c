/* http/headers.c -- the response's header fields: add, set (replace),
 * remove, read back.
 *
 * The fields a handler (or a hook) adds are kept as ready-made
 * "Name: value\r\n" lines in one buffer of the request (response.c copies
 * it into the output in one memcpy). Reading back, replacing and removing
 * walk those lines: a response has a handful of fields, so a walk is
 * cheaper than any index would be to keep, and the common response, which
 * never reads its headers back, pays nothing for it.
 *
 * Content-Type is single-valued: adding one replaces the one there (the
 * default text/plain of gt_http_res_printf() and a handler's JSON type must
 * not make two). Every other name may repeat (Set-Cookie, Vary) unless
 * gt_http_res_set_header() is used. */
#include <errno.h>
#include <string.h>

#include "http.h"

bool gt__http_ieq(const char *a, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((a[i] | 0x20) != (lit[i] | 0x20))
            return false;
    return true;
}

/* The server's own headers; the length picks the one name to compare. */
static bool reserved(const char *name, size_t n)
{
    switch (n) {
    case 4:
        return gt__http_ieq(name, n, "date");
    case 6:
        return gt__http_ieq(name, n, "server");
    case 10:
        return gt__http_ieq(name, n, "connection");
    case 14:
        return gt__http_ieq(name, n, "content-length");
    case 17:
        return gt__http_ieq(name, n, "transfer-encoding");
    default:
        return false;
    }
}

static bool all_of(const char *s, size_t n, int cls)
{
    for (size_t i = 0; i < n; i++)
        if (!(gt__http_ctype[(unsigned char)s[i]] & cls))
            return false;
    return true;
}

/* A name a handler may set: a token, not one of the server's own. */
static bool name_ok(const char *name, size_t nl)
{
    return nl > 0 && all_of(name, nl, GT__HTTP_C_TOKEN) && !reserved(name, nl);
}

int gt__http_hdr_append(gt_http_res *res, const char *name, size_t nl,
                        const char *value, size_t vl)
{
    size_t need = nl + vl + 4, cap;
    char *p;

    if (res->hdrs_cap - res->hdrs_len < need) {
        cap = res->hdrs_cap * 2 > res->hdrs_len + need ? res->hdrs_cap * 2
                                                       : res->hdrs_len + need;
        p = gt__http_alloc(res->req, cap);
        if (!p)
            return -ENOMEM;
        memcpy(p, res->hdrs, res->hdrs_len);
        res->hdrs = p;
        res->hdrs_cap = cap;
    }
    p = res->hdrs + res->hdrs_len;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    res->hdrs_len += need;
    if (gt__http_ieq(name, nl, "content-type"))
        res->has_ctype = true;
    return 0;
}

/* The line starting at 'off': its name in [off, off + *nl), its value in
 * [*v, *v + *vl); returns the offset of the next line. */
static size_t line_at(const gt_http_res *res, size_t off, size_t *nl,
                      const char **v, size_t *vl)
{
    const char *p = res->hdrs + off, *end = res->hdrs + res->hdrs_len;
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *cr = memchr(colon, '\r', (size_t)(end - colon));

    *nl = (size_t)(colon - p);
    *v = colon + 2;
    *vl = (size_t)(cr - *v);
    return (size_t)(cr + 2 - res->hdrs);
}

/* Remove the lines named 'name', except the last one if 'keep_last'.
 * Returns how many went. */
static int remove_named(gt_http_res *res, const char *name, bool keep_last)
{
    size_t off = 0, next, nl, vl, last = SIZE_MAX;
    const char *v;
    int n = 0;

    if (keep_last) {
        for (off = 0; off < res->hdrs_len; off = next) {
            next = line_at(res, off, &nl, &v, &vl);
            if (gt__http_ieq(res->hdrs + off, nl, name))
                last = off;
        }
        off = 0;
    }
    while (off < res->hdrs_len) {
        next = line_at(res, off, &nl, &v, &vl);
        if (off == last || !gt__http_ieq(res->hdrs + off, nl, name)) {
            off = next;
            continue;
        }
        memmove(res->hdrs + off, res->hdrs + next, res->hdrs_len - next);
        res->hdrs_len -= next - off;
        if (res->hdrs_base > off) /* a hook's line went */
            res->hdrs_base -= next - off;
        if (last != SIZE_MAX && last > off)
            last -= next - off;
        n++;
    }
    return n;
}

/* Validate name and value and give their lengths; 0 or -EINVAL. */
static int check(const char *name, const char *value, size_t *nl, size_t *vl)
{
    if (!name || !value)
        return -EINVAL;
    *nl = strlen(name);
    *vl = strlen(value);
    return name_ok(name, *nl) && all_of(value, *vl, GT__HTTP_C_VALUE) ? 0
                                                                      : -EINVAL;
}

/* Replace the lines named 'name' by one, checked. Appended first, so that
 * on failure nothing changed; the old lines are looked for only if there
 * are any (for Content-Type the flag says so: the common first set of a
 * response's type costs no scan). */
static int set_checked(gt_http_res *res, const char *name, size_t nl,
                       const char *value, size_t vl)
{
    const char *v;
    size_t l;
    bool had = gt__http_ieq(name, nl, "content-type")
                   ? res->has_ctype
                   : gt__http_hdr_find(res, name, &v, &l);
    int rc = gt__http_hdr_append(res, name, nl, value, vl);

    if (rc == 0 && had)
        remove_named(res, name, true);
    return rc;
}

int gt_http_res_header(gt_http_res *res, const char *name, const char *value)
{
    size_t nl, vl;

    if (check(name, value, &nl, &vl) < 0)
        return -EINVAL;
    if (gt__http_ieq(name, nl, "content-type"))
        return set_checked(res, name, nl, value, vl);
    return gt__http_hdr_append(res, name, nl, value, vl);
}

int gt_http_res_set_header(gt_http_res *res, const char *name,
                           const char *value)
{
    size_t nl, vl;

    if (check(name, value, &nl, &vl) < 0)
        return -EINVAL;
    return set_checked(res, name, nl, value, vl);
}

int gt_http_res_remove_header(gt_http_res *res, const char *name)
{
    int n;

    if (!name || !name_ok(name, strlen(name)))
        return -EINVAL;
    n = remove_named(res, name, false);
    if (gt__http_ieq(name, strlen(name), "content-type"))
        res->has_ctype = false;
    return n;
}

bool gt__http_hdr_find(const gt_http_res *res, const char *name, const char **v,
                       size_t *vl)
{
    size_t nl;

    for (size_t off = 0; off < res->hdrs_len;) {
        size_t next = line_at(res, off, &nl, v, vl);

        if (gt__http_ieq(res->hdrs + off, nl, name))
            return true;
        off = next;
    }
    return false;
}

int gt_http_res_get_header(gt_http_res *res, const char *name, const char **out)
{
    const char *v;
    size_t vl;
    char *copy;

    if (!name)
        return -EINVAL;
    if (!gt__http_hdr_find(res, name, &v, &vl))
        return -ENOENT;
    copy = gt__http_alloc(res->req, vl + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, v, vl);
    copy[vl] = '\0';
    *out = copy;
    return 0;
}

int gt__http_default_type(gt_http_res *res, const char *type)
{
    if (res->has_ctype)
        return 0;
    return gt__http_hdr_append(res, "Content-Type", 12, type, strlen(type));
}

void gt__http_hdr_truncate(gt_http_res *res, size_t len)
{
    const char *v;
    size_t vl;

    res->hdrs_len = len;
    res->has_ctype = gt__http_hdr_find(res, "content-type", &v, &vl);
}

int gt_http_res_get_status(const gt_http_res *res)
{
    return res->sent_status ? res->sent_status : res->status;
}

uint64_t gt_http_res_get_bytes(const gt_http_res *res)
{
    return res->bytes;
}
