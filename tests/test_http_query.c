/* tests/test_http_query.c -- unit tests of the query-string helpers
 * (http/query.c: percent-decoding, lookups) and the HTML escaper
 * (http/escape.c). Part of suite http_parse. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http/parse.h"

/* ---- query helpers ------------------------------------------------------- */

START_TEST(percent_decode)
{
    char d[16];
    char s[] = "a%2Fb%2fc+d";

    ck_assert_int_eq(gt__http_percent_decode(d, sizeof(d), s, 11, 0), 7);
    ck_assert_mem_eq(d, "a/b/c+d", 7);
    ck_assert_int_eq(gt__http_percent_decode(d, sizeof(d), s, 11, 1), 7);
    ck_assert_mem_eq(d, "a/b/c d", 7);
    ck_assert_int_eq(gt__http_percent_decode(d, 7, s, 11, 1), 7);
    ck_assert_int_eq(gt__http_percent_decode(d, 6, s, 11, 1), -1);
    ck_assert_int_eq(gt__http_percent_decode(d, 16, "%4", 2, 0), -1);
    ck_assert_int_eq(gt__http_percent_decode(d, 16, "%", 1, 0), -1);
    ck_assert_int_eq(gt__http_percent_decode(d, 16, "%G1", 3, 0), -1);
    ck_assert_int_eq(gt__http_percent_decode(d, 16, "%00", 3, 0), 1);
    ck_assert_int_eq(d[0], 0);
    ck_assert_int_eq(gt__http_percent_decode(d, 16, "", 0, 0), 0);
    /* in place */
    ck_assert_int_eq(gt__http_percent_decode(s, 11, s, 11, 1), 7);
    ck_assert_mem_eq(s, "a/b/c d", 7);
}
END_TEST

START_TEST(query_get)
{
    static const char q[] = "a=1&bb=x+y%21&&c&a%20b=sp&d=%zz&a=2&=e";
    size_t n = strlen(q);
    char v[8];

    ck_assert_int_eq(gt__http_query_get(q, n, "a", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "1"); /* first match wins */
    ck_assert_int_eq(gt__http_query_get(q, n, "bb", v, sizeof(v)), 4);
    ck_assert_str_eq(v, "x y!");
    ck_assert_int_eq(gt__http_query_get(q, n, "c", v, sizeof(v)), 0);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(gt__http_query_get(q, n, "a b", v, sizeof(v)), 2);
    ck_assert_str_eq(v, "sp");
    ck_assert_int_eq(gt__http_query_get(q, n, "", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "e");
    ck_assert_int_eq(gt__http_query_get(q, n, "d", v, sizeof(v)), -2);
    ck_assert_int_eq(gt__http_query_get(q, n, "b", v, sizeof(v)), -1);
    ck_assert_int_eq(gt__http_query_get(q, n, "bb", v, 4), -2); /* NUL */
    ck_assert_int_eq(gt__http_query_get(q, n, "bb", v, 5), 4);
    ck_assert_int_eq(gt__http_query_get(NULL, 0, "a", v, sizeof(v)), -1);
    ck_assert_int_eq(gt__http_query_get("a%0=1", 5, "a", v, 8), -1);
    /* a decoded NUL in a key never matches the name's terminator */
    ck_assert_int_eq(gt__http_query_get("a%00=1", 6, "a\0", v, 8), -1);
}
END_TEST

/* ---- HTML escaping ------------------------------------------------------- */

START_TEST(escape_html)
{
    static const char in[] = "<a href=\"x\">Tom & Jerry's</a>";
    static const char want[] = "&lt;a href=&quot;x&quot;&gt;Tom &amp; "
                               "Jerry&#39;s&lt;/a&gt;";
    size_t n = strlen(in), wn = strlen(want), got;
    char d[128], *s;

    ck_assert_uint_eq(gt__http_escape_html_len(in, n), wn);
    ck_assert_int_eq(gt__http_escape_html(d, sizeof(d), in, n), (int)wn);
    ck_assert_mem_eq(d, want, wn);
    ck_assert_int_eq(gt__http_escape_html(d, wn, in, n), (int)wn);
    ck_assert_int_eq(gt__http_escape_html(d, wn - 1, in, n), -1);
    s = gt__http_escape_html_new(in, n, &got);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(got, wn);
    ck_assert_str_eq(s, want);
    free(s);
    s = gt__http_escape_html_new("plain \xc3\xa9", 8, NULL);
    ck_assert_str_eq(s, "plain \xc3\xa9");
    free(s);
    ck_assert_int_eq(gt__http_escape_html(d, 0, "", 0), 0);
}
END_TEST

void add_http_query_tests(Suite *s);

void add_http_query_tests(Suite *s)
{
    TCase *tc = tcase_create("query_escape");

    tcase_add_test(tc, percent_decode);
    tcase_add_test(tc, query_get);
    tcase_add_test(tc, escape_html);
    suite_add_tcase(s, tc);
}
