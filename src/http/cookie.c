/* http/cookie.c -- reading the request's cookies.
 *
 * A Cookie field is "name=value; name2=value2" (RFC 6265 5.4), and a
 * client may send several fields (HTTP/2 proxies split them). Like query
 * parameters they are looked up one at a time by scanning the raw fields,
 * with no table: a handler reads one or two cookies. Values are not
 * decoded: RFC 6265 gives them no encoding, so what an application stored
 * (base64, percent-encoding) is its own to undo. Surrounding double quotes
 * are removed, as the grammar allows them around a value. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http.h"

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Find 'name' in one Cookie field value; its value span in *v, *n. */
static bool find_in(const char *s, const char *name, size_t nl, const char **v,
                    size_t *n)
{
    while (*s) {
        const char *p = s, *e = s + strcspn(s, ";"), *eq;

        while (p < e && is_ows(*p))
            p++;
        eq = memchr(p, '=', (size_t)(e - p));
        if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
            const char *b = eq + 1, *t = e;

            while (t > b && is_ows(t[-1]))
                t--;
            if (t - b >= 2 && b[0] == '"' && t[-1] == '"')
                b++, t--;
            *v = b;
            *n = (size_t)(t - b);
            return true;
        }
        s = e + (*e == ';');
    }
    return false;
}

int gt_http_req_cookie(gt_http_req *req, const char *name, const char **out)
{
    size_t nl = name ? strlen(name) : 0, n;
    const char *v;
    char *d;

    if (nl == 0)
        return -ENOENT;
    for (size_t i = 0; i < req->head.nheaders; i++) {
        const gt__http_header *f = &req->head.headers[i];

        if (strcasecmp(f->name, "Cookie") != 0 ||
            !find_in(f->value, name, nl, &v, &n))
            continue;
        d = gt__http_alloc(req, n + 1);
        if (!d)
            return -ENOMEM;
        memcpy(d, v, n);
        d[n] = '\0';
        *out = d;
        return 0;
    }
    return -ENOENT;
}
