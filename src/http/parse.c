/* http/parse.c -- strict, zero-copy HTTP/1.1 request-head parser.
 *
 * The head parser never allocates: it records spans into the connection's
 * read buffer, so a request costs no copies. It keeps no state between
 * calls either; a caller re-runs it from the start of the buffer when more
 * bytes arrive. That costs a re-scan of a partial head, which is short, and
 * saves a state machine whose every state would be a place for bugs. Limits
 * are checked on partial input too, and the scan never looks past max_head
 * bytes, so a head that does not fit is answered with 431 instead of
 * growing the buffer.
 *
 * Work is one pass with a 256-entry class table (gt__http_ctype) in the
 * loops that see every byte: tokens, the target, field values. The
 * semantic checks (Content-Length, Transfer-Encoding, Connection, Expect,
 * Host) run once, over the finished header array, not on every re-scan.
 *
 * The chunked decoder is chunked.c's. */
#include "parse.h"

#include <limits.h>
#include <string.h>

/* ---- character classes ----------------------------------------------------
 * 1 = tchar, 2 = target byte (VCHAR / obs-text), 4 = field-value byte
 * (HT / SP / VCHAR / obs-text), 8 = HEXDIG. Generated, one row per 16. */
/* clang-format off */
const unsigned char gt__http_ctype[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    4, 7, 6, 7, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 20 */
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 6, 6, 6, 6, 6, 6, /* 30 */
    6, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 50 */
    7, 15, 15, 15, 15, 15, 15, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 70 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 80 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* 90 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* a0 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* b0 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* c0 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* d0 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* e0 */
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, /* f0 */
};
/* clang-format on */

#define IS(c, cls) GT__HTTP_IS(c, cls)
#define IS_WS(c) ((c) == ' ' || (c) == '\t')

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Case-insensitive (ASCII) equality of a[0..n) and b[0..m). */
static int ieq(const char *a, size_t n, const char *b, size_t m)
{
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}
#define IEQ(s, n, lit) ieq((s), (n), lit, sizeof(lit) - 1)

/* At p: 1 or 2 (bytes of an LF or CRLF line end), 0 if p is not at CR or
 * LF, GT__HTTP_AGAIN for a CR at the end of input, -400 for a bare CR. */
static int line_end(const char *p, const char *end)
{
    if (*p == '\n')
        return 1;
    if (*p != '\r')
        return 0;
    if (p + 1 == end)
        return GT__HTTP_AGAIN;
    return p[1] == '\n' ? 2 : -400;
}

/* ---- request line -------------------------------------------------------- */

static int method_id(const char *m, size_t n)
{
    static const struct {
        const char *s;
        size_t n;
    } names[] = {
        {"GET", 3},     {"HEAD", 4},   {"POST", 4},
        {"PUT", 3},     {"DELETE", 6}, {"PATCH", 5},
        {"OPTIONS", 7}, {"TRACE", 5},  {"CONNECT", 7},
    };
    for (int i = 0; i < GT__HTTP_OTHER; i++)
        if (names[i].n == n && memcmp(names[i].s, m, n) == 0)
            return i;
    return GT__HTTP_OTHER;
}

static int parse_method(gt__http_head *h, const char **pp, const char *end)
{
    const char *start = *pp, *p = start;

    while (p < end && IS(*p, TOKEN))
        p++;
    if (p == end)
        return GT__HTTP_AGAIN;
    if (*p != ' ' || p == start)
        return -400;
    h->method = start;
    h->method_len = (size_t)(p - start);
    h->method_id = method_id(start, h->method_len);
    *pp = p + 1;
    return 0;
}

static int parse_target(gt__http_head *h, const char **pp, const char *end,
                        size_t max_target)
{
    const char *start = *pp, *p = start, *stop = end, *q;

    if ((size_t)(end - start) > max_target)
        stop = start + max_target;
    while (p < stop && IS(*p, TARGET))
        p++;
    if (p == end)
        return GT__HTTP_AGAIN;
    if (IS(*p, TARGET)) /* p == stop: max_target bytes and more to come */
        return -414;
    if (*p != ' ' || p == start)
        return -400;
    h->target = h->path = start;
    h->target_len = h->path_len = (size_t)(p - start);
    q = memchr(start, '?', h->target_len);
    if (q) {
        h->path_len = (size_t)(q - start);
        h->query = q + 1;
        h->query_len = (size_t)(p - q - 1);
    }
    *pp = p + 1;
    return 0;
}

/* "HTTP/" DIGIT "." DIGIT line-end. Anything else is garbage (400) unless it
 * is a well-formed version other than 1.0 and 1.1 (505). Only decided once
 * the whole line is seen, so that a prefix never gives a different answer
 * than the full input. */
static int parse_version(gt__http_head *h, const char **pp, const char *end)
{
    static const char pat[] = "HTTP/9.9";
    const char *p = *pp;
    int n;

    for (int i = 0; i < 8; i++) {
        if (p + i == end)
            return GT__HTTP_AGAIN;
        if (pat[i] == '9' ? (p[i] < '0' || p[i] > '9') : p[i] != pat[i])
            return -400;
    }
    if (p + 8 == end)
        return GT__HTTP_AGAIN;
    n = line_end(p + 8, end);
    if (n <= 0)
        return n == 0 ? -400 : n;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return -505;
    h->minor = p[7] - '0';
    *pp = p + 8 + n;
    return 0;
}

static int parse_request_line(gt__http_head *h, const char **pp,
                              const char *end, const gt__http_limits *lim)
{
    int rc = parse_method(h, pp, end);

    if (rc == 0)
        rc = parse_target(h, pp, end, lim->max_target);
    if (rc == 0)
        rc = parse_version(h, pp, end);
    return rc;
}

/* ---- header fields ------------------------------------------------------- */

static int parse_field(gt__http_header *f, const char **pp, const char *end)
{
    const char *p = *pp, *v, *ve;
    int n;

    while (p < end && IS(*p, TOKEN))
        p++;
    if (p == end)
        return GT__HTTP_AGAIN;
    if (*p != ':' || p == *pp) /* also: SP before ':', empty name */
        return -400;
    f->name = *pp;
    f->name_len = (size_t)(p - *pp);
    for (p++; p < end && IS_WS(*p); p++)
        ;
    for (v = p; p < end && IS(*p, VALUE); p++)
        ;
    if (p == end)
        return GT__HTTP_AGAIN;
    n = line_end(p, end);
    if (n <= 0) /* a control character, or a bare CR */
        return n == 0 ? -400 : n;
    for (ve = p; ve > v && IS_WS(ve[-1]); ve--)
        ;
    f->value = v;
    f->value_len = (size_t)(ve - v);
    *pp = p + n;
    return 0;
}

/* Field lines up to and including the empty line. A line that starts with
 * SP or HT (obs-fold, or whitespace before the first field) fails the token
 * scan in parse_field() and is rejected. */
static int parse_fields(gt__http_head *h, const char **pp, const char *end,
                        size_t max_headers)
{
    for (;;) {
        int n;

        if (*pp == end)
            return GT__HTTP_AGAIN;
        n = line_end(*pp, end);
        if (n != 0) {
            if (n > 0)
                *pp += n;
            return n > 0 ? 0 : n;
        }
        if (h->nheaders == max_headers)
            return -431;
        n = parse_field(&h->headers[h->nheaders], pp, end);
        if (n != 0)
            return n;
        h->nheaders++;
    }
}

/* ---- field semantics ----------------------------------------------------- */

/* What the field checks accumulate over the whole header array. */
struct fieldinfo {
    unsigned hosts;   /* Host fields seen */
    unsigned codings; /* transfer codings seen, over all TE fields */
    unsigned chunked; /* of which "chunked" */
    int last_chunked; /* the final coding so far is "chunked" */
    int conn_close;   /* Connection lists "close" */
    int conn_keep;    /* Connection lists "keep-alive" */
};

/* Next element of a comma-separated list in [*pp, end), OWS trimmed; empty
 * elements are skipped. Returns 0 at the end of the list. */
static int list_next(const char **pp, const char *end, const char **e,
                     size_t *n)
{
    const char *p = *pp, *s, *t;

    while (p < end && (*p == ',' || IS_WS(*p)))
        p++;
    if (p == end)
        return 0;
    s = p;
    while (p < end && *p != ',')
        p++;
    for (t = p; IS_WS(t[-1]); t--) /* stops at s + 1: *s is not OWS */
        ;
    *e = s;
    *n = (size_t)(t - s);
    *pp = p;
    return 1;
}

static int on_content_length(gt__http_head *h, const gt__http_header *f)
{
    int64_t v = 0;

    if (h->content_length >= 0 || f->value_len == 0)
        return -400;
    for (size_t i = 0; i < f->value_len; i++) {
        int d = f->value[i] - '0';
        if (d < 0 || d > 9 || v > (INT64_MAX - d) / 10)
            return -400;
        v = v * 10 + d;
    }
    h->content_length = v;
    return 0;
}

static int on_transfer_encoding(gt__http_head *h, const gt__http_header *f,
                                struct fieldinfo *fi)
{
    const char *p = f->value, *end = p + f->value_len, *e;
    size_t n;

    h->has_te = 1;
    while (list_next(&p, end, &e, &n)) {
        for (size_t i = 0; i < n; i++)
            if (!IS(e[i], TOKEN))
                return -400;
        fi->codings++;
        fi->last_chunked = IEQ(e, n, "chunked");
        fi->chunked += fi->last_chunked;
    }
    return 0;
}

static void on_connection(const gt__http_header *f, struct fieldinfo *fi)
{
    const char *p = f->value, *end = p + f->value_len, *e;
    size_t n;

    while (list_next(&p, end, &e, &n)) {
        if (IEQ(e, n, "close"))
            fi->conn_close = 1;
        else if (IEQ(e, n, "keep-alive"))
            fi->conn_keep = 1;
    }
}

static int on_field(gt__http_head *h, const gt__http_header *f,
                    struct fieldinfo *fi)
{
    switch (f->name_len) {
    case 4:
        fi->hosts += IEQ(f->name, 4, "host");
        return 0;
    case 6:
        if (IEQ(f->name, 6, "expect") && h->minor == 1 &&
            IEQ(f->value, f->value_len, "100-continue"))
            h->expect_continue = 1;
        return 0;
    case 10:
        if (IEQ(f->name, 10, "connection"))
            on_connection(f, fi);
        return 0;
    case 14:
        return IEQ(f->name, 14, "content-length") ? on_content_length(h, f) : 0;
    case 17:
        return IEQ(f->name, 17, "transfer-encoding")
                   ? on_transfer_encoding(h, f, fi)
                   : 0;
    }
    return 0;
}

static int check_fields(gt__http_head *h)
{
    struct fieldinfo fi = {0};
    int rc;

    for (size_t i = 0; i < h->nheaders; i++)
        if ((rc = on_field(h, &h->headers[i], &fi)) != 0)
            return rc;
    if (fi.hosts > 1 || (h->minor == 1 && fi.hosts == 0))
        return -400;
    if (h->has_te) {
        if (h->content_length >= 0 || h->minor == 0)
            return -400;
        if (!fi.last_chunked || fi.chunked > 1)
            return -400;
        if (fi.codings > 1)
            return -501;
        h->chunked = 1;
    }
    if (h->minor == 1)
        h->keep_alive = !fi.conn_close;
    else
        h->keep_alive = fi.conn_keep && !fi.conn_close;
    return 0;
}

/* ---- the head ------------------------------------------------------------ */

/* Empty lines before the request line are skipped (RFC 9112 2.2). */
static int skip_empty_lines(const char **pp, const char *end)
{
    const char *p = *pp;
    int n = 0;

    while (p < end && (n = line_end(p, end)) > 0)
        p += n;
    *pp = p;
    if (p == end)
        return GT__HTTP_AGAIN;
    return n;
}

static void head_reset(gt__http_head *h)
{
    gt__http_header *headers = h->headers;

    memset(h, 0, sizeof(*h));
    h->headers = headers;
    h->method_id = GT__HTTP_OTHER;
    h->content_length = -1;
}

int gt__http_parse_head(gt__http_head *h, const char *buf, size_t len,
                        const gt__http_limits *lim)
{
    size_t max = lim->max_head < INT_MAX ? lim->max_head : INT_MAX;
    const char *p = buf, *end;
    int rc;

    head_reset(h);
    if (len == 0) /* also keeps NULL + 0 out of the pointer arithmetic */
        return max == 0 ? -431 : GT__HTTP_AGAIN;
    end = buf + (len < max ? len : max);
    rc = skip_empty_lines(&p, end);
    if (rc == 0)
        rc = parse_request_line(h, &p, end, lim);
    if (rc == 0)
        rc = parse_fields(h, &p, end, lim->max_headers);
    if (rc == GT__HTTP_AGAIN)
        return len >= max ? -431 : GT__HTTP_AGAIN;
    if (rc != 0)
        return rc;
    h->head_len = (size_t)(p - buf);
    rc = check_fields(h);
    return rc != 0 ? rc : (int)h->head_len;
}

const gt__http_header *gt__http_find_header(const gt__http_head *h,
                                            const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < h->nheaders; i++) {
        const gt__http_header *f = &h->headers[i];
        if (f->name_len == n && ieq(f->name, n, name, n))
            return f;
    }
    return NULL;
}
