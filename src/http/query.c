/* http/query.c -- percent-decoding and query-string lookup.
 *
 * Handlers read query parameters one at a time and usually only a few of
 * them, so there is no parsed parameter table: gt__http_query_get() scans
 * the raw query for the wanted key and decodes just its value into the
 * caller's buffer. Keys are compared while decoding, so "a%62=1" matches
 * "ab" without a copy. Nothing allocates, and decoding can run in place
 * because output never outgrows input. */
#include "parse.h"

#include <string.h>

#define IS_HEX(c) (gt__http_ctype[(unsigned char)(c)] & GT__HTTP_C_HEX)

/* Decode the unit at s[*i] (of s[0..n)): a %XX escape, '+' (a space when
 * plus_is_space) or a plain byte, and advance *i past it.
 * Returns the byte, or -1 for a malformed escape. */
static int decode_unit(const char *s, size_t n, size_t *i, int plus_is_space)
{
    unsigned char c = (unsigned char)s[*i];

    if (c == '%') {
        unsigned char hi, lo;
        if (n - *i < 3 || !IS_HEX(s[*i + 1]) || !IS_HEX(s[*i + 2]))
            return -1;
        hi = (unsigned char)s[*i + 1];
        lo = (unsigned char)s[*i + 2];
        *i += 3;
        return GT__HTTP_HEXVAL(hi) << 4 | GT__HTTP_HEXVAL(lo);
    }
    *i += 1;
    return c == '+' && plus_is_space ? ' ' : c;
}

/* In place is safe: the write index never passes the read index, and an
 * escape's digits are read before its byte is written. */
ssize_t gt__http_percent_decode(char *dst, size_t cap, const char *src,
                                size_t n, int plus_is_space)
{
    size_t i = 0, o = 0;

    while (i < n) {
        int c = decode_unit(src, n, &i, plus_is_space);
        if (c < 0 || o == cap)
            return -1;
        dst[o++] = (char)c;
    }
    return (ssize_t)o;
}

/* Does the encoded key k[0..n) decode to the NUL-terminated name? A
 * malformed key matches nothing, and "%00" never matches. */
static int key_equals(const char *k, size_t n, const char *name)
{
    size_t i = 0;

    while (i < n) {
        int c = decode_unit(k, n, &i, 1);
        if (c <= 0 || (unsigned char)*name != c)
            return 0;
        name++;
    }
    return *name == '\0';
}

static ssize_t copy_value(const char *v, size_t n, char *dst, size_t cap)
{
    ssize_t r;

    if (cap == 0)
        return -2;
    r = gt__http_percent_decode(dst, cap - 1, v, n, 1);
    if (r < 0)
        return -2;
    dst[r] = '\0';
    return r;
}

int gt__http_query_find(const char *q, size_t n, size_t *pos, const char *name,
                        const char **v, size_t *vlen)
{
    const char *p, *end;

    if (*pos >= n) /* also keeps NULL + 0 out of the pointer arithmetic */
        return 0;
    p = q + *pos;
    end = q + n;
    for (;;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        const char *key_end = eq ? eq : seg_end;

        if (seg_end > p && key_equals(p, (size_t)(key_end - p), name)) {
            *v = eq ? eq + 1 : seg_end;
            *vlen = (size_t)(seg_end - *v);
            *pos = (size_t)(seg_end - q) + 1;
            return 1;
        }
        if (!amp) {
            *pos = n;
            return 0;
        }
        p = amp + 1;
    }
}

ssize_t gt__http_query_get(const char *q, size_t n, const char *name, char *dst,
                           size_t cap)
{
    size_t pos = 0, vlen;
    const char *v;

    if (!gt__http_query_find(q, n, &pos, name, &v, &vlen))
        return -1;
    return copy_value(v, vlen, dst, cap);
}
