/* http/cookie.c -- reading the request's cookies, and setting cookies
 * (Set-Cookie with attributes).
 *
 * A Cookie field is "name=value; name2=value2" (RFC 6265 5.4), and a
 * client may send several fields (HTTP/2 proxies split them). Like query
 * parameters they are looked up one at a time by scanning the raw fields,
 * with no table: a handler reads one or two cookies. Values are not
 * decoded: RFC 6265 gives them no encoding, so what an application stored
 * (base64, percent-encoding) is its own to undo. Surrounding double quotes
 * are removed, as the grammar allows them around a value.
 *
 * Setting one checks what RFC 6265 4.1 allows a server to send (a token
 * name, cookie octets in the value, no ';' inside an attribute), so a
 * value taken from user input cannot smuggle in an attribute or a second
 * field; the field is built in a stack buffer and added as one line. */
#include <errno.h>
#include <stdio.h>
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

/* ---- Set-Cookie ---------------------------------------------------------- */

#define SET_COOKIE_MAX 4096 /* browsers keep at most 4096 bytes a cookie */

static bool token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(gt__http_ctype[(unsigned char)*s] & GT__HTTP_C_TOKEN))
            return false;
    return true;
}

/* cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static bool cookie_value(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' ||
            c == '\\')
            return false;
    }
    return true;
}

/* An attribute value: printable ASCII without ';' (RFC 6265 av-octet). */
static bool attr_value(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == ';')
            return false;
    return true;
}

static bool attrs_ok(const gt_http_cookie *a)
{
    if ((a->path && !attr_value(a->path)) ||
        (a->domain && !attr_value(a->domain)))
        return false;
    if (!a->same_site)
        return true;
    if (strcasecmp(a->same_site, "None") == 0)
        return a->secure; /* browsers drop SameSite=None without Secure */
    return strcasecmp(a->same_site, "Strict") == 0 ||
           strcasecmp(a->same_site, "Lax") == 0;
}

int gt_http_res_set_cookie(gt_http_res *res, const char *name,
                           const char *value, const gt_http_cookie *attrs)
{
    static const gt_http_cookie none;
    const gt_http_cookie *a = attrs ? attrs : &none;
    char buf[SET_COOKIE_MAX];
    size_t n;

    if (!name || !value || !token(name) || !cookie_value(value) || !attrs_ok(a))
        return -EINVAL;
    n = (size_t)snprintf(buf, sizeof(buf), "%s=%s", name, value);
    if (a->path && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; Path=%s", a->path);
    if (a->domain && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; Domain=%s",
                              a->domain);
    if (a->max_age != 0 && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; Max-Age=%lld%s",
                              a->max_age > 0 ? a->max_age : 0,
                              a->max_age > 0 ? ""
                                             : "; Expires=Thu, 01 Jan 1970 "
                                               "00:00:00 GMT");
    if (a->secure && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; Secure");
    if (a->http_only && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; HttpOnly");
    if (a->same_site && n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "; SameSite=%c%s",
                              a->same_site[0] & ~0x20, a->same_site + 1);
    if (n >= sizeof(buf))
        return -EINVAL; /* longer than any browser keeps */
    return gt__http_hdr_append(res, "Set-Cookie", 10, buf, n);
}
