/* tests/test_http_chunked.c -- unit tests of the chunked-body decoder,
 * http/chunked.c: one test per strictness rule, byte-at-a-time feeding for
 * its re-entrancy, the max_body limit, and what it says after the end or
 * an error. Part of suite http_parse. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/http/parse.h"

/* ---- chunked decoder ----------------------------------------------------- */

/* Decode s in one call; the result buffer holds data then tail. */
static ssize_t dechunk(const char *s, char *out, size_t *len, uint64_t max)
{
    gt__http_chunked c = {0};

    *len = strlen(s);
    memcpy(out, s, *len);
    return gt__http_chunked_decode(&c, out, len, max);
}

START_TEST(chunked_simple)
{
    char b[256];
    size_t n;

    ck_assert_int_eq(dechunk("5\r\nhello\r\n0\r\n\r\n", b, &n, 100), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(b, "hello", 5);
    ck_assert_int_eq(
        dechunk("3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\nGET", b, &n, 100), 3);
    ck_assert_uint_eq(n, 13);
    ck_assert_mem_eq(b, "abc0123456789GET", 16); /* tail follows data */
    ck_assert_int_eq(dechunk("0\r\n\r\n", b, &n, 100), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(chunked_byte_at_a_time)
{
    static const char in[] = "4;x=y\r\nWiki\r\n5\r\npedia\r\n"
                             "e\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\nNEXT";
    gt__http_chunked c = {0};
    char body[64], b[1];
    size_t got = 0, n;
    ssize_t rc = GT__HTTP_AGAIN;
    size_t i;

    for (i = 0; i < sizeof(in) - 1 && rc == GT__HTTP_AGAIN; i++) {
        b[0] = in[i];
        n = 1;
        rc = gt__http_chunked_decode(&c, b, &n, 1000);
        ck_assert_uint_le(n, 1);
        memcpy(body + got, b, n);
        got += n;
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(i, sizeof(in) - 1 - 4); /* stopped before "NEXT" */
    ck_assert_uint_eq(got, 23);
    ck_assert_mem_eq(body, "Wikipedia in\r\n\r\nchunks.", 23);
}
END_TEST

START_TEST(chunked_hex_sizes)
{
    char b[256];
    size_t n;

    ck_assert_int_eq(dechunk("0000000000000001\r\nx\r\n0\r\n\r\n", b, &n, 100),
                     0);
    ck_assert_int_eq(dechunk("00000000000000001\r\nx\r\n0\r\n\r\n", b, &n, 100),
                     -400);
    ck_assert_int_eq(dechunk("aB\r\n", b, &n, UINT64_MAX), GT__HTTP_AGAIN);
    ck_assert_int_eq(dechunk("ffffffffffffffff\r\n", b, &n, UINT64_MAX),
                     GT__HTTP_AGAIN);
    ck_assert_int_eq(dechunk("0x5\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("-1\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("5 \r\n", b, &n, 100), -400);
}
END_TEST

START_TEST(chunked_extensions)
{
    char b[8192];
    size_t n;

    ck_assert_int_eq(dechunk("1;a\r\nx\r\n1 ; a = b ;c=\"q \\\" ;\"\r\ny\r\n"
                             "0;last\r\n\r\n",
                             b, &n, 100),
                     0);
    ck_assert_mem_eq(b, "xy", 2);
    ck_assert_int_eq(dechunk("1;\r\nx\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a=\r\nx\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a b\r\nx\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a=\"x\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a=(\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a=b/\"\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a/\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a=\"x\"y\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a\x01\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("1;a\n", b, &n, 100), -400);
    /* bounded: an extension beyond GT__HTTP_CHUNK_EXT_MAX bytes */
    memset(b, 'e', sizeof(b));
    memcpy(b, "1;", 2);
    n = GT__HTTP_CHUNK_EXT_MAX + 8;
    {
        gt__http_chunked c = {0};
        ck_assert_int_eq(gt__http_chunked_decode(&c, b, &n, 100), -400);
    }
}
END_TEST

START_TEST(chunked_crlf_required)
{
    char b[256];
    size_t n;

    ck_assert_int_eq(dechunk("5\r\nhelloX\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("5\r\nhello\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("5\nhello\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("5\rhello\r\n0\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\n\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\n\rX", b, &n, 100), -400);
}
END_TEST

START_TEST(chunked_trailers)
{
    char b[16384];
    size_t n;

    ck_assert_int_eq(
        dechunk("1\r\nx\r\n0\r\nA: 1\r\nB-c:\r\n\r\nZ", b, &n, 100), 1);
    ck_assert_mem_eq(b, "xZ", 2);
    ck_assert_int_eq(dechunk("0\r\nA: 1\r\n b\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\nA : 1\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\nA: \x01\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\n: 1\r\n\r\n", b, &n, 100), -400);
    ck_assert_int_eq(dechunk("0\r\nA: 1\n\r\n", b, &n, 100), -400);
    /* bounded */
    memcpy(b, "0\r\nA: ", 6);
    memset(b + 6, 'v', sizeof(b) - 6);
    n = sizeof(b);
    {
        gt__http_chunked c = {0};
        ck_assert_int_eq(gt__http_chunked_decode(&c, b, &n, 100), -400);
    }
}
END_TEST

START_TEST(chunked_max_body_413)
{
    char b[256];
    size_t n;

    ck_assert_int_eq(dechunk("a\r\n", b, &n, 5), -413);
    ck_assert_int_eq(dechunk("3\r\nabc\r\n3\r\n", b, &n, 5), -413);
    ck_assert_int_eq(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b, &n, 5), 0);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(dechunk("1\r\nx\r\n0\r\n\r\n", b, &n, 0), -413);
}
END_TEST

START_TEST(chunked_after_done_and_error)
{
    gt__http_chunked c = {0};
    char b[32] = "0\r\n\r\nAB";
    size_t n = 7;

    ck_assert_int_eq(gt__http_chunked_decode(&c, b, &n, 9), 2);
    n = 3;
    memcpy(b, "xyz", 3);
    ck_assert_int_eq(gt__http_chunked_decode(&c, b, &n, 9), 3);
    ck_assert_uint_eq(n, 0);
    memset(&c, 0, sizeof(c));
    n = 2;
    ck_assert_int_eq(gt__http_chunked_decode(&c, memcpy(b, "z\r", 2), &n, 9),
                     -400);
    n = 3;
    ck_assert_int_eq(gt__http_chunked_decode(&c, memcpy(b, "0\r\n", 3), &n, 9),
                     -400);
}
END_TEST

void add_http_chunked_tests(Suite *s);

void add_http_chunked_tests(Suite *s)
{
    TCase *tc = tcase_create("chunked");

    tcase_add_test(tc, chunked_simple);
    tcase_add_test(tc, chunked_byte_at_a_time);
    tcase_add_test(tc, chunked_hex_sizes);
    tcase_add_test(tc, chunked_extensions);
    tcase_add_test(tc, chunked_crlf_required);
    tcase_add_test(tc, chunked_trailers);
    tcase_add_test(tc, chunked_max_body_413);
    tcase_add_test(tc, chunked_after_done_and_error);
    suite_add_tcase(s, tc);
}
