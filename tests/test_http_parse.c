/* tests/test_http_parse.c -- unit tests of the head parser, http/parse.c
 * (the chunked decoder's are test_http_chunked.c's; query.c and escape.c's
 * test_http_query.c's).
 *
 * One test per strictness rule, named after it, so a failure names the rule
 * that broke. Requests are string literals parsed with small limits
 * (LIM below) so that the limit tests stay short; every expected value is
 * written out rather than recomputed by the code under test. Byte-at-a-time
 * feeding checks the re-entrancy contracts of both the head parser and the
 * chunked decoder. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http/parse.h"

#define MAXH 8
static const gt__http_limits LIM = {512, 64, MAXH};
static gt__http_header hdrs[MAXH];

static int parse_n(gt__http_head *h, const char *s, size_t n)
{
    h->headers = hdrs;
    return gt__http_parse_head(h, s, n, &LIM);
}

static int parse(gt__http_head *h, const char *s)
{
    return parse_n(h, s, strlen(s));
}

static int rc_of(const char *s)
{
    gt__http_head h;
    return parse(&h, s);
}

/* A span equals a C string. */
#define ck_span(p, n, s)                                                       \
    do {                                                                       \
        ck_assert_uint_eq((n), strlen(s));                                     \
        ck_assert_mem_eq((p), (s), (n));                                       \
    } while (0)

#define H11 " HTTP/1.1\r\nHost: x\r\n"

/* ---- request line -------------------------------------------------------- */

START_TEST(simple_get)
{
    static const char req[] = "GET /a/b HTTP/1.1\r\nHost: example.com\r\n"
                              "Accept:  */* \t\r\n\r\n";
    gt__http_head h;

    ck_assert_int_eq(parse(&h, req), (int)strlen(req));
    ck_span(h.method, h.method_len, "GET");
    ck_assert_int_eq(h.method_id, GT__HTTP_GET);
    ck_span(h.target, h.target_len, "/a/b");
    ck_span(h.path, h.path_len, "/a/b");
    ck_assert_ptr_null(h.query);
    ck_assert_int_eq(h.minor, 1);
    ck_assert_uint_eq(h.nheaders, 2);
    ck_span(h.headers[0].name, h.headers[0].name_len, "Host");
    ck_span(h.headers[0].value, h.headers[0].value_len, "example.com");
    ck_span(h.headers[1].value, h.headers[1].value_len, "*/*");
    ck_assert_int_eq(h.content_length, -1);
    ck_assert_uint_eq(h.keep_alive, 1);
    ck_assert_uint_eq(h.chunked, 0);
    ck_assert_uint_eq(h.has_te, 0);
    ck_assert_uint_eq(h.expect_continue, 0);
    ck_assert_uint_eq(h.head_len, strlen(req));
    ck_assert_ptr_eq(h.method, req); /* spans point into the buffer */
}
END_TEST

START_TEST(query_split)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "GET /s?q=a%20b&x=1" H11 "\r\n"), 0);
    ck_span(h.path, h.path_len, "/s");
    ck_span(h.query, h.query_len, "q=a%20b&x=1");
    ck_assert_int_gt(parse(&h, "GET /s?" H11 "\r\n"), 0);
    ck_assert_ptr_nonnull(h.query);
    ck_assert_uint_eq(h.query_len, 0);
    ck_assert_int_gt(parse(&h, "GET /s?a?b" H11 "\r\n"), 0);
    ck_span(h.query, h.query_len, "a?b");
}
END_TEST

START_TEST(method_ids)
{
    static const char *const m[] = {"GET",     "HEAD",   "POST",
                                    "PUT",     "DELETE", "PATCH",
                                    "OPTIONS", "TRACE",  "CONNECT"};
    gt__http_head h;
    char req[128];

    for (int i = 0; i < 9; i++) {
        snprintf(req, sizeof(req), "%s /" H11 "\r\n", m[i]);
        ck_assert_int_gt(parse(&h, req), 0);
        ck_assert_int_eq(h.method_id, i);
    }
    ck_assert_int_gt(parse(&h, "PROPFIND /" H11 "\r\n"), 0);
    ck_assert_int_eq(h.method_id, GT__HTTP_OTHER);
    ck_assert_int_gt(parse(&h, "get /" H11 "\r\n"), 0); /* case matters */
    ck_assert_int_eq(h.method_id, GT__HTTP_OTHER);
    ck_assert_int_gt(parse(&h, "GETS /" H11 "\r\n"), 0);
    ck_assert_int_eq(h.method_id, GT__HTTP_OTHER);
}
END_TEST

START_TEST(method_must_be_token)
{
    ck_assert_int_eq(rc_of("G(T /" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GE\x01T /" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of(" GET /" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET\t/" H11 "\r\n"), -400);
}
END_TEST

START_TEST(target_no_ctl_or_space)
{
    ck_assert_int_eq(rc_of("GET /a\001b" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /a\x7f" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /a\tb" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET  /" H11 "\r\n"), -400); /* empty target */
    ck_assert_int_eq(rc_of("GET /a b" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET / \r\n"), -400);
    ck_assert_int_gt(rc_of("GET /caf\xc3\xa9" H11 "\r\n"), 0); /* obs-text */
}
END_TEST

START_TEST(version_strict)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(h.minor, 0);
    ck_assert_int_eq(rc_of("GET / HTTP/2.0\r\n\r\n"), -505);
    ck_assert_int_eq(rc_of("GET / HTTP/1.2\r\n\r\n"), -505);
    ck_assert_int_eq(rc_of("GET / HTTP/0.9\r\n\r\n"), -505);
    ck_assert_int_eq(rc_of("GET / HTTP/1.1x\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET / HTTP/1.10\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET / http/1.1\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET / HTTP/11\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET / HTTP/1.1 \r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /\r\n\r\n"), -400); /* HTTP/0.9 style */
    ck_assert_int_eq(rc_of("GET / FTP/1.1\r\n\r\n"), -400);
}
END_TEST

START_TEST(bare_lf_accepted)
{
    static const char req[] = "GET / HTTP/1.1\nHost: x\nA: b\n\n";
    gt__http_head h;

    ck_assert_int_eq(parse(&h, req), (int)strlen(req));
    ck_assert_uint_eq(h.nheaders, 2);
    ck_span(h.headers[1].value, h.headers[1].value_len, "b");
}
END_TEST

START_TEST(bare_cr_rejected)
{
    ck_assert_int_eq(rc_of("GET / HTTP/1.1\rHost: x\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "A: b\rc\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "\rX"), -400);
    ck_assert_int_eq(rc_of("\r\rGET /" H11 "\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "\r"), GT__HTTP_AGAIN);
}
END_TEST

START_TEST(leading_empty_lines)
{
    static const char req[] = "\r\n\nGET /" H11 "\r\n";
    gt__http_head h;

    ck_assert_int_eq(parse(&h, req), (int)strlen(req));
    ck_assert_ptr_eq(h.method, req + 3);
    ck_assert_int_eq(parse(&h, "\r\n"), GT__HTTP_AGAIN);
    ck_assert_int_eq(parse(&h, "\r\n\r"), GT__HTTP_AGAIN);
}
END_TEST

/* ---- header fields ------------------------------------------------------- */

START_TEST(field_name_strict)
{
    ck_assert_int_eq(rc_of("GET /" H11 "A : b\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "A\t: b\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 ": b\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "A(b): c\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "NoColon\r\n\r\n"), -400);
}
END_TEST

START_TEST(obs_fold_rejected)
{
    ck_assert_int_eq(rc_of("GET /" H11 "A: b\r\n c\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "A: b\r\n\tc\r\n\r\n"), -400);
    /* whitespace between the request line and the first field */
    ck_assert_int_eq(rc_of("GET / HTTP/1.1\r\n Host: x\r\n\r\n"), -400);
}
END_TEST

START_TEST(value_ctl_rejected)
{
    gt__http_head h;
    static const char ok[] = "GET /" H11 "A: b\tc \xff\r\n\r\n";

    ck_assert_int_eq(rc_of("GET /" H11 "A: b\001c\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "A: b\x7f\r\n\r\n"), -400);
    ck_assert_int_eq(parse_n(&h, "GET /" H11 "A: b\0c\r\n\r\n", 32), -400);
    ck_assert_int_eq(parse(&h, ok), (int)strlen(ok));
    ck_span(h.headers[1].value, h.headers[1].value_len, "b\tc \xff");
}
END_TEST

START_TEST(value_ows_trimmed)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "GET /" H11 "A: \t a b \t \r\nB:\r\n"
                               "C:   \r\n\r\n"),
                     0);
    ck_span(h.headers[1].value, h.headers[1].value_len, "a b");
    ck_assert_uint_eq(h.headers[2].value_len, 0);
    ck_assert_uint_eq(h.headers[3].value_len, 0);
}
END_TEST

START_TEST(content_length_digits)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "POST /" H11 "content-LENGTH: 42\r\n\r\n"), 0);
    ck_assert_int_eq(h.content_length, 42);
    ck_assert_int_gt(parse(&h, "POST /" H11 "Content-Length: "
                               "9223372036854775807\r\n\r\n"),
                     0);
    ck_assert_int_eq(h.content_length, INT64_MAX);
    ck_assert_int_gt(parse(&h, "POST /" H11 "Content-Length: 0\r\n\r\n"), 0);
    ck_assert_int_eq(h.content_length, 0);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: "
                           "9223372036854775808\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: "
                           "99999999999999999999999\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: +1\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: -1\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 1a\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 0x1\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 1 2\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length:\r\n\r\n"), -400);
}
END_TEST

START_TEST(content_length_duplicates)
{
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 5\r\n"
                           "Content-Length: 5\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 5\r\n"
                           "Content-Length: 6\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 5, 5\r\n\r\n"), -400);
}
END_TEST

START_TEST(te_chunked)
{
    gt__http_head h;

    ck_assert_int_gt(
        parse(&h, "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n"), 0);
    ck_assert_uint_eq(h.chunked, 1);
    ck_assert_uint_eq(h.has_te, 1);
    ck_assert_int_eq(h.content_length, -1);
    ck_assert_int_gt(
        parse(&h, "POST /" H11 "transfer-encoding: CHUNKED\r\n\r\n"), 0);
    ck_assert_uint_eq(h.chunked, 1);
    ck_assert_int_gt(
        parse(&h, "POST /" H11 "Transfer-Encoding: , chunked ,\r\n\r\n"), 0);
    ck_assert_uint_eq(h.chunked, 1);
}
END_TEST

START_TEST(te_with_content_length)
{
    ck_assert_int_eq(rc_of("POST /" H11 "Content-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Transfer-Encoding: chunked\r\n"
                           "Content-Length: 3\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(te_final_not_chunked)
{
    ck_assert_int_eq(rc_of("POST /" H11 "Transfer-Encoding: gzip\r\n\r\n"),
                     -400);
    ck_assert_int_eq(
        rc_of("POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Transfer-Encoding: chunked\r\n"
                           "Transfer-Encoding: gzip\r\n\r\n"),
                     -400);
    ck_assert_int_eq(rc_of("POST /" H11 "Transfer-Encoding:\r\n\r\n"), -400);
    ck_assert_int_eq(
        rc_of("POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
        -400);
    ck_assert_int_eq(
        rc_of("POST /" H11 "Transfer-Encoding: chunked;a=b\r\n\r\n"), -400);
}
END_TEST

START_TEST(te_unknown_coding_501)
{
    ck_assert_int_eq(
        rc_of("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), -501);
    ck_assert_int_eq(rc_of("POST /" H11 "Transfer-Encoding: gzip\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     -501);
}
END_TEST

START_TEST(te_in_http10)
{
    ck_assert_int_eq(rc_of("POST / HTTP/1.0\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(host_required)
{
    ck_assert_int_eq(rc_of("GET / HTTP/1.1\r\n\r\n"), -400);
    ck_assert_int_eq(rc_of("GET /" H11 "host: y\r\n\r\n"), -400);
    ck_assert_int_gt(rc_of("GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(rc_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
                     -400);
}
END_TEST

START_TEST(keep_alive_rules)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "GET /" H11 "\r\n"), 0);
    ck_assert_uint_eq(h.keep_alive, 1);
    ck_assert_int_gt(parse(&h, "GET /" H11 "Connection: close\r\n\r\n"), 0);
    ck_assert_uint_eq(h.keep_alive, 0);
    ck_assert_int_gt(
        parse(&h, "GET /" H11 "Connection: Upgrade ,CLOSE\r\n\r\n"), 0);
    ck_assert_uint_eq(h.keep_alive, 0);
    ck_assert_int_gt(parse(&h, "GET /" H11 "Connection: closed\r\n\r\n"), 0);
    ck_assert_uint_eq(h.keep_alive, 1);
    ck_assert_int_gt(parse(&h, "GET / HTTP/1.0\r\n\r\n"), 0);
    ck_assert_uint_eq(h.keep_alive, 0);
    ck_assert_int_gt(parse(&h, "GET / HTTP/1.0\r\n"
                               "Connection: Keep-Alive\r\n\r\n"),
                     0);
    ck_assert_uint_eq(h.keep_alive, 1);
    ck_assert_int_gt(parse(&h, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
                               "Connection: close\r\n\r\n"),
                     0);
    ck_assert_uint_eq(h.keep_alive, 0);
}
END_TEST

START_TEST(expect_continue)
{
    gt__http_head h;

    ck_assert_int_gt(parse(&h, "PUT /" H11 "Expect: 100-continue\r\n\r\n"), 0);
    ck_assert_uint_eq(h.expect_continue, 1);
    ck_assert_int_gt(parse(&h, "PUT /" H11 "expect: 100-Continue\r\n\r\n"), 0);
    ck_assert_uint_eq(h.expect_continue, 1);
    ck_assert_int_gt(parse(&h, "PUT /" H11 "Expect: 200-ok\r\n\r\n"), 0);
    ck_assert_uint_eq(h.expect_continue, 0);
    ck_assert_int_gt(parse(&h, "PUT / HTTP/1.0\r\n"
                               "Expect: 100-continue\r\n\r\n"),
                     0);
    ck_assert_uint_eq(h.expect_continue, 0);
}
END_TEST

START_TEST(find_header_ci)
{
    gt__http_head h;
    const gt__http_header *f;

    ck_assert_int_gt(parse(&h, "GET /" H11 "X-Token: a\r\nx-token: b\r\n\r\n"),
                     0);
    f = gt__http_find_header(&h, "X-TOKEN");
    ck_assert_ptr_nonnull(f);
    ck_span(f->value, f->value_len, "a");
    ck_assert_ptr_null(gt__http_find_header(&h, "X-Toke"));
    ck_assert_ptr_null(gt__http_find_header(&h, "Cookie"));
}
END_TEST

/* ---- re-entrancy and limits --------------------------------------------- */

START_TEST(every_prefix_is_again)
{
    static const char req[] = "POST /up?x=1 HTTP/1.1\r\nHost: h\r\n"
                              "Content-Length: 3\r\nConnection: close\r\n\r\n";
    size_t n = strlen(req);
    gt__http_head h;

    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(parse_n(&h, req, i), GT__HTTP_AGAIN);
    ck_assert_int_eq(parse_n(&h, req, n), (int)n);
    ck_assert_int_eq(h.content_length, 3);
    ck_assert_uint_eq(h.keep_alive, 0);
}
END_TEST

START_TEST(pipelined_pair)
{
    static const char two[] = "GET /1" H11 "\r\nGET /2" H11 "\r\nGE";
    gt__http_head h;
    int n1, n2;

    n1 = parse(&h, two);
    ck_assert_int_eq(n1, (int)(sizeof("GET /1" H11 "\r\n") - 1));
    ck_span(h.target, h.target_len, "/1");
    n2 = parse(&h, two + n1);
    ck_assert_int_eq(n2, n1);
    ck_span(h.target, h.target_len, "/2");
    ck_assert_int_eq(parse(&h, two + n1 + n2), GT__HTTP_AGAIN);
}
END_TEST

START_TEST(target_limit_414)
{
    char req[256];
    gt__http_head h;

    memset(req, 'a', sizeof(req));
    memcpy(req, "GET /", 5);
    /* exactly 64 target bytes: fine */
    strcpy(req + 4 + 64, H11 "\r\n");
    ck_assert_int_gt(parse(&h, req), 0);
    ck_assert_uint_eq(h.target_len, 64);
    /* 65 target bytes, no line end yet: already 414 */
    ck_assert_int_eq(parse_n(&h, req, 4 + 64), GT__HTTP_AGAIN);
    req[4 + 64] = 'a';
    ck_assert_int_eq(parse_n(&h, req, 4 + 65), -414);
}
END_TEST

START_TEST(head_limit_431)
{
    char req[600];
    size_t n = 0;
    gt__http_head h;

    n += (size_t)sprintf(req, "GET /" H11 "X: ");
    memset(req + n, 'v', sizeof(req) - n);
    /* complete head of exactly 512 bytes is fine */
    memcpy(req + 508, "\r\n\r\n", 4);
    ck_assert_int_eq(parse_n(&h, req, 512), 512);
    ck_assert_int_eq(parse_n(&h, req, 511), GT__HTTP_AGAIN);
    /* one byte more and not complete within 512: 431 without waiting */
    memcpy(req + 508, "vv\r\n\r\n", 6);
    ck_assert_int_eq(parse_n(&h, req, 511), GT__HTTP_AGAIN);
    ck_assert_int_eq(parse_n(&h, req, 512), -431);
    ck_assert_int_eq(parse_n(&h, req, 514), -431);
}
END_TEST

START_TEST(header_count_431)
{
    char req[256];
    gt__http_head h;
    int n = sprintf(req, "GET /" H11); /* 1 header */

    for (int i = 1; i < MAXH; i++)
        n += sprintf(req + n, "H%d: v\r\n", i);
    strcpy(req + n, "\r\n");
    ck_assert_int_eq(parse(&h, req), n + 2);
    ck_assert_uint_eq(h.nheaders, MAXH);
    /* the 9th field has begun: 431 while the head is still incomplete */
    strcpy(req + n, "X");
    ck_assert_int_eq(parse(&h, req), -431);
}
END_TEST

static TCase *tcase(const char *name, const TTest *const *tests, size_t n)
{
    TCase *tc = tcase_create(name);

    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    return tc;
}

#define TCASE(s, name, ...)                                                    \
    do {                                                                       \
        const TTest *const t_[] = {__VA_ARGS__};                               \
        suite_add_tcase((s), tcase((name), t_, sizeof(t_) / sizeof(*t_)));     \
    } while (0)

Suite *suite_http_parse(void);
void add_http_chunked_tests(Suite *s);
void add_http_query_tests(Suite *s);

Suite *suite_http_parse(void)
{
    Suite *s = suite_create("http_parse");

    TCASE(s, "request_line", simple_get, query_split, method_ids,
          method_must_be_token, target_no_ctl_or_space, version_strict,
          bare_lf_accepted, bare_cr_rejected, leading_empty_lines);
    TCASE(s, "fields", field_name_strict, obs_fold_rejected, value_ctl_rejected,
          value_ows_trimmed, content_length_digits, content_length_duplicates,
          te_chunked, te_with_content_length, te_final_not_chunked,
          te_unknown_coding_501, te_in_http10, host_required, keep_alive_rules,
          expect_continue, find_header_ci);
    TCASE(s, "limits", every_prefix_is_again, pipelined_pair, target_limit_414,
          head_limit_431, header_count_431);
    add_http_chunked_tests(s);
    add_http_query_tests(s);
    return s;
}
