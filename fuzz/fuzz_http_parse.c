/* fuzz/fuzz_http_parse.c -- libFuzzer target for http/parse.c, query.c and
 * escape.c.
 *
 * Besides memory errors (ASan/UBSan), it checks the contracts that the
 * server relies on and aborts when one breaks:
 *  - every span of a parsed head lies inside the head, which lies inside
 *    the input; limits hold; the flags agree with each other;
 *  - re-entrancy: the result on a prefix (split where the first byte says)
 *    is GT__HTTP_AGAIN or exactly the result on the whole input, and a
 *    complete head parses the same when given just its own bytes;
 *  - the chunked decoder gives the same data and tail whether the input
 *    comes in one call or two, and the tail is the input's last bytes;
 *  - percent-decoding in place equals decoding into another buffer;
 *  - HTML escaping is undone by un-escaping (a dumb reference model).
 * The input is used whole as a request, as a chunked body, as a query and as
 * text; when it holds a chunked request, its body is decoded too.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc/http ...
 * Replay without clang: fuzz/replay.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

#define MAXH 64

/* Chosen by the input size, so mutations that change the size explore all
 * three; the small ones make the limit paths reachable. */
static const gt__http_limits lims[3] = {
    {8192, 4096, MAXH}, {256, 64, 8}, {64, 24, 3}};

/* [p, p+n) lies within [base, base+len). */
static int inside(const char *p, size_t n, const char *base, size_t len)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)base;
    return a >= b && n <= len && a - b <= len - n;
}

static void check_header(const gt__http_header *f, const char *buf, size_t len)
{
    CHECK(inside(f->name, f->name_len, buf, len) && f->name_len > 0);
    CHECK(inside(f->value, f->value_len, buf, len));
    for (size_t i = 0; i < f->name_len; i++)
        CHECK(gt__http_ctype[(unsigned char)f->name[i]] & GT__HTTP_C_TOKEN);
    for (size_t i = 0; i < f->value_len; i++)
        CHECK(gt__http_ctype[(unsigned char)f->value[i]] & GT__HTTP_C_VALUE);
    if (f->value_len > 0) {
        CHECK(f->value[0] != ' ' && f->value[0] != '\t');
        CHECK(f->value[f->value_len - 1] != ' ');
        CHECK(f->value[f->value_len - 1] != '\t');
    }
}

static int same_name(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i];
        int y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

/* gt__http_find_header() returns the first match, by a linear reference. */
static void check_find(const gt__http_head *h)
{
    static const char *const names[] = {"host", "Content-Length", "X-A"};

    for (size_t j = 0; j < sizeof(names) / sizeof(*names); j++) {
        const gt__http_header *f = gt__http_find_header(h, names[j]);
        size_t i = 0;
        while (i < h->nheaders &&
               !same_name(h->headers[i].name, h->headers[i].name_len, names[j]))
            i++;
        CHECK(f == (i < h->nheaders ? &h->headers[i] : NULL));
    }
}

/* Does the comma list v[0..n) hold 'tok' (case-insensitive, OWS-trimmed)? */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t i = 0;

    while (i < n) {
        size_t s, e;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        s = i;
        while (i < n && v[i] != ',')
            i++;
        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (same_name(v + s, e - s, tok))
            return 1;
        i++;
    }
    return 0;
}

/* A dumb reference for keep_alive and content_length of a complete head. */
static void check_model(const gt__http_head *h)
{
    int close = 0, keep = 0, ka;
    int64_t cl = -1;

    for (size_t i = 0; i < h->nheaders; i++) {
        const gt__http_header *f = &h->headers[i];
        if (same_name(f->name, f->name_len, "connection")) {
            close |= list_has(f->value, f->value_len, "close");
            keep |= list_has(f->value, f->value_len, "keep-alive");
        } else if (same_name(f->name, f->name_len, "content-length")) {
            CHECK(cl == -1);
            cl = 0;
            for (size_t j = 0; j < f->value_len; j++)
                cl = cl * 10 + (f->value[j] - '0');
        }
    }
    ka = h->minor == 1 ? !close : keep && !close;
    CHECK(h->keep_alive == (unsigned)ka && h->content_length == cl);
}

static void check_head(const gt__http_head *h, int rc, const char *buf,
                       size_t len, const gt__http_limits *lim)
{
    size_t n = h->head_len;

    if (rc <= 0) {
        CHECK(rc == GT__HTTP_AGAIN || rc == -400 || rc == -414 || rc == -431 ||
              rc == -501 || rc == -505);
        return;
    }
    CHECK((size_t)rc == n && n <= len && n <= lim->max_head);
    CHECK(inside(h->method, h->method_len, buf, n) && h->method_len > 0);
    CHECK(inside(h->target, h->target_len, buf, n) && h->target_len > 0);
    CHECK(h->target_len <= lim->max_target);
    CHECK(h->path == h->target && h->path_len <= h->target_len);
    if (h->query) {
        CHECK(h->query == h->path + h->path_len + 1);
        CHECK(h->path_len + 1 + h->query_len == h->target_len);
    } else {
        CHECK(h->path_len == h->target_len && h->query_len == 0);
    }
    CHECK(h->minor == 0 || h->minor == 1);
    CHECK(h->method_id >= GT__HTTP_GET && h->method_id <= GT__HTTP_OTHER);
    CHECK(h->nheaders <= lim->max_headers);
    for (size_t i = 0; i < h->nheaders; i++)
        check_header(&h->headers[i], buf, n);
    CHECK(!h->chunked || (h->has_te && h->content_length == -1));
    CHECK(!h->has_te || h->chunked);
    CHECK(!h->expect_continue || h->minor == 1);
    check_find(h);
    check_model(h);
}

/* Two results of parsing the same buffer agree field by field. */
static void check_same(const gt__http_head *a, const gt__http_head *b)
{
    CHECK(a->method == b->method && a->method_len == b->method_len);
    CHECK(a->method_id == b->method_id && a->minor == b->minor);
    CHECK(a->target == b->target && a->target_len == b->target_len);
    CHECK(a->path_len == b->path_len && a->query == b->query);
    CHECK(a->query_len == b->query_len && a->head_len == b->head_len);
    CHECK(a->content_length == b->content_length);
    CHECK(a->chunked == b->chunked && a->keep_alive == b->keep_alive);
    CHECK(a->expect_continue == b->expect_continue);
    CHECK(a->has_te == b->has_te && a->nheaders == b->nheaders);
    CHECK(memcmp(a->headers, b->headers, a->nheaders * sizeof(*a->headers)) ==
          0);
}

static int parse(gt__http_head *h, gt__http_header *hd, const char *buf,
                 size_t len, const gt__http_limits *lim)
{
    int rc;

    h->headers = hd;
    rc = gt__http_parse_head(h, buf, len, lim);
    check_head(h, rc, buf, len, lim);
    return rc;
}

static void fuzz_head_split(const char *buf, size_t k,
                            const gt__http_limits *lim,
                            const gt__http_head *full, int rc)
{
    static gt__http_header hd[MAXH];
    gt__http_head h;
    int rk = parse(&h, hd, buf, k, lim);

    CHECK(rk == GT__HTTP_AGAIN || rk == rc);
    if (rk > 0)
        check_same(&h, full);
    if (rc > 0) {
        CHECK(parse(&h, hd, buf, (size_t)rc, lim) == rc);
        check_same(&h, full);
        CHECK(parse(&h, hd, buf, (size_t)rc - 1, lim) == GT__HTTP_AGAIN);
    }
}

/* Re-parse a complete head with limits set exactly at its size (same
 * result) and one below each: the matching error, on the whole input and
 * on the shortest prefix that crosses the limit (a slow client). */
static void fuzz_limits(const char *buf, size_t size, const gt__http_head *full)
{
    static gt__http_header hd[MAXH];
    gt__http_limits l = {full->head_len, full->target_len, full->nheaders};
    size_t target_end = (size_t)(full->target - buf) + full->target_len;
    gt__http_head h;

    CHECK(parse(&h, hd, buf, size, &l) == (int)full->head_len);
    check_same(&h, full);
    l.max_target--;
    CHECK(parse(&h, hd, buf, size, &l) == -414);
    CHECK(parse(&h, hd, buf, target_end, &l) == -414);
    CHECK(parse(&h, hd, buf, target_end - 1, &l) == GT__HTTP_AGAIN);
    l.max_target++;
    l.max_head--;
    CHECK(parse(&h, hd, buf, size, &l) == -431);
    CHECK(parse(&h, hd, buf, l.max_head, &l) == -431);
    l.max_head++;
    if (l.max_headers > 0) {
        const char *last = full->headers[full->nheaders - 1].name;
        l.max_headers--;
        CHECK(parse(&h, hd, buf, size, &l) == -431);
        CHECK(parse(&h, hd, buf, (size_t)(last - buf) + 1, &l) == -431);
        CHECK(parse(&h, hd, buf, (size_t)(last - buf), &l) == GT__HTTP_AGAIN);
    }
}

/* Decode a copy of in[0..n) in one call: returns the result, and the
 * decoded data and tail stay in *out (malloc'd, caller frees). */
static ssize_t dechunk1(gt__http_chunked *c, const uint8_t *in, size_t n,
                        char **out, size_t *len, uint64_t max)
{
    ssize_t rc;

    *out = malloc(n ? n : 1);
    CHECK(*out != NULL);
    if (n)
        memcpy(*out, in, n);
    *len = n;
    rc = gt__http_chunked_decode(c, *out, len, max);
    CHECK(rc == GT__HTTP_AGAIN || rc == -400 || rc == -413 || rc >= 0);
    if (rc >= 0) {
        size_t again = (size_t)rc;
        CHECK(*len + (size_t)rc <= n);
        CHECK(memcmp(*out + *len, in + n - (size_t)rc, (size_t)rc) == 0);
        /* after the end, everything is tail */
        CHECK(gt__http_chunked_decode(c, *out + *len, &again, max) == rc);
        CHECK(again == 0);
    } else if (rc == GT__HTTP_AGAIN) {
        CHECK(*len <= n);
    }
    if (rc >= GT__HTTP_AGAIN)
        CHECK(c->total <= max && *len <= c->total);
    return rc;
}

/* The body in one call, then split at k: same data, same result. */
static void fuzz_chunked(const uint8_t *in, size_t n, size_t k, uint64_t max)
{
    gt__http_chunked c1 = {0}, c2 = {0};
    char *one, *a, *b = NULL;
    size_t n1, na, nb = 0;
    ssize_t r1 = dechunk1(&c1, in, n, &one, &n1, max);
    ssize_t ra = dechunk1(&c2, in, k, &a, &na, max), rb = ra;

    if (ra == GT__HTTP_AGAIN)
        rb = dechunk1(&c2, in + k, n - k, &b, &nb, max);
    else if (ra >= 0)
        rb = ra + (ssize_t)(n - k);
    CHECK(rb == r1);
    if (r1 >= GT__HTTP_AGAIN) {
        CHECK(na + nb == n1);
        CHECK(memcmp(one, a, na) == 0);
        CHECK(nb == 0 || memcmp(one + na, b, nb) == 0);
    }
    free(one);
    free(a);
    free(b);
}

/* Percent-decoding in place equals decoding elsewhere; a short buffer
 * fails. */
static void fuzz_percent(const uint8_t *in, size_t n, int plus)
{
    char *d = malloc(n + 1), *s = malloc(n + 1);
    ssize_t r, r2;

    CHECK(d && s);
    memcpy(s, in, n);
    r = gt__http_percent_decode(d, n, (const char *)in, n, plus);
    CHECK(r >= -1 && r <= (ssize_t)n);
    r2 = gt__http_percent_decode(s, n, s, n, plus);
    CHECK(r2 == r);
    if (r > 0) {
        CHECK(memcmp(d, s, (size_t)r) == 0);
        CHECK(gt__http_percent_decode(d, (size_t)r - 1, (const char *)in, n,
                                      plus) == -1);
    }
    free(d);
    free(s);
}

static void fuzz_query(const char *q, size_t n)
{
    static const char *const names[] = {"a", "q", "", "id", "a b"};
    char v[32];

    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
        ssize_t r = gt__http_query_get(q, n, names[i], v, sizeof(v));
        CHECK(r >= -2 && r < (ssize_t)sizeof(v));
        if (r >= 0)
            CHECK(v[r] == '\0');
    }
}

/* Undo HTML escaping; the result must be the original text. */
static void check_unescape(const char *e, size_t en, const uint8_t *in,
                           size_t n)
{
    static const char *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;",
                                      "&#39;"};
    static const char raw[] = "&<>\"'";
    size_t i = 0, o = 0;

    while (i < en) {
        char c = e[i];
        size_t w = 1;
        CHECK(c != '<' && c != '>' && c != '"' && c != '\'');
        if (c == '&') {
            size_t j = 0;
            while (j < 5 && strncmp(e + i, ent[j], strlen(ent[j])) != 0)
                j++;
            CHECK(j < 5);
            c = raw[j];
            w = strlen(ent[j]);
        }
        CHECK(o < n && (uint8_t)c == in[o]);
        i += w;
        o++;
    }
    CHECK(o == n);
}

static void fuzz_escape(const uint8_t *in, size_t n)
{
    const char *s = (const char *)in;
    size_t len = gt__http_escape_html_len(s, n), len2 = 0;
    char *d = malloc(len + 1), *e;

    CHECK(d != NULL && len >= n && len <= 6 * n);
    CHECK(gt__http_escape_html(d, len, s, n) == (ssize_t)len);
    CHECK(len == 0 || gt__http_escape_html(d, len - 1, s, n) == -1);
    e = gt__http_escape_html_new(s, n, &len2);
    CHECK(e != NULL && len2 == len && e[len] == '\0');
    CHECK(memcmp(d, e, len) == 0);
    check_unescape(e, len, in, n);
    free(d);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gt__http_header hd[MAXH];
    const gt__http_limits *lim = &lims[size % 3];
    const char *buf = (const char *)data;
    size_t k = size ? (size_t)data[0] * size / 255 : 0;
    uint64_t max = size && (data[0] & 1) ? 64 : UINT64_MAX;
    gt__http_head h;
    int rc = parse(&h, hd, buf, size, lim);

    fuzz_head_split(buf, k, lim, &h, rc);
    if (rc > 0)
        fuzz_limits(buf, size, &h);
    fuzz_chunked(data, size, k, max);
    if (rc > 0 && h.chunked)
        fuzz_chunked(data + rc, size - (size_t)rc, (size - (size_t)rc) / 2,
                     max);
    if (rc > 0 && h.query)
        fuzz_query(h.query, h.query_len);
    fuzz_query(buf, size);
    fuzz_percent(data, size, size & 1);
    fuzz_escape(data, size);
    return 0;
}
