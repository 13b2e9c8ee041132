/* examples/showcase/tfb_json.c -- the TechEmpower JSON shapes, written
 * without a tree (see tfb_json.h for why).
 *
 * Numbers are written by hand, not by snprintf: a world is two of them,
 * and /queries?queries=20 writes forty a request. Buffers are sized by the
 * caller from the bounds in the header, so the number and world writers
 * need no checks; only the string writer, whose output depends on its
 * input, checks its room. */
#include <errno.h>
#include <string.h>

#include "tfb_json.h"

/* Write 'v' in decimal at p; returns the end. INT_MIN included: the
 * digits are worked out on the unsigned magnitude. */
static char *put_int(char *p, int v)
{
    char tmp[12];
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    int n = 0;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* The escaped form of s at p, or NULL when it would pass 'end'. Each byte
 * takes at most 6 ("\u001f"). */
static char *put_string(char *p, const char *end, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (end - p < 6)
            return NULL;
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            *p++ = '\\';
            *p++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20) {
            p = put(p, "\\u00", 4);
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    return p;
}

size_t tfb_json_message(char *buf, size_t cap, const char *msg)
{
    static const char head[] = "{\"message\":\"";
    char *p = buf, *end = buf + cap;

    if (cap < sizeof(head) - 1 + 2)
        return 0;
    p = put(p, head, sizeof(head) - 1);
    p = put_string(p, end - 2, msg);
    if (!p)
        return 0;
    *p++ = '"';
    *p++ = '}';
    return (size_t)(p - buf);
}

size_t tfb_json_world(char *buf, int id, int rn)
{
    char *p = put(buf, "{\"id\":", 6);

    p = put_int(p, id);
    p = put(p, ",\"randomNumber\":", 16);
    p = put_int(p, rn);
    *p++ = '}';
    return (size_t)(p - buf);
}

size_t tfb_json_worlds(char *buf, int n, const int *ids, const int *rns)
{
    size_t len = 1;

    buf[0] = '[';
    for (int i = 0; i < n; i++) {
        if (i)
            buf[len++] = ',';
        len += tfb_json_world(buf + len, ids[i], rns[i]);
    }
    buf[len++] = ']';
    return len;
}

int tfb_json_send(gt_http_res *res, const char *buf, size_t len)
{
    int rc = len ? gt_http_res_header(res, "Content-Type", "application/json")
                 : -EINVAL;

    return rc < 0 ? rc : gt_http_res_body(res, buf, len);
}
