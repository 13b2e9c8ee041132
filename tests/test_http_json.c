/* tests/test_http_json.c -- gt_http_req_json() through the real server:
 * what a client gets for good JSON, bad JSON (400 with line and column),
 * nesting deeper than the limit (400, and never a smashed stack), a wrong
 * Content-Type (415), an oversized body (413), and out of memory; and how
 * a handler renders a rejection itself or has it forgotten by returning
 * another code.
 *
 * Handlers return what gt_http_req_json() returned, as users are meant
 * to, so each test checks the whole path: the reader, the rejection
 * record, and the response code's mapping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_fixture.h"

/* ---- handlers ------------------------------------------------------------ */

/* Echo the parsed document, or return the reader's code. */
static int echo(gt_http_req *req, gt_http_res *res, const gt_http_json_opts *o)
{
    json_t *j;
    int rc = gt_http_req_json(req, &j, o);

    return rc < 0 ? rc : gt_http_res_json(res, j);
}

static int h_default(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)arg;
    return echo(req, res, NULL);
}

static int h_strict(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_http_json_opts o = {.max_size = 64, .max_depth = 3, .require_type = 1};

    (void)arg;
    return echo(req, res, &o);
}

/* A limit above jansson's own is held to it. */
static int h_deep(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_http_json_opts o = {.max_depth = 1000000};
    json_t *j;
    int rc = gt_http_req_json(req, &j, &o);

    (void)arg;
    if (rc < 0)
        return rc;
    json_decref(j);
    return gt_http_res_printf(res, "parsed");
}

static int h_any(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_http_json_opts o = {.flags = JSON_DECODE_ANY};

    (void)arg;
    return echo(req, res, &o);
}

/* Renders the rejection in its own format and returns 0. */
static int h_custom(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *msg = "x";
    json_t *j;
    int rc = gt_http_req_json(req, &j, NULL), status;

    (void)arg;
    if (rc == 0) {
        json_decref(j);
        status = gt_http_req_rejected(req, &msg);
        return gt_http_res_printf(res, "none %d %s", status,
                                  msg ? msg : "(null)");
    }
    status = gt_http_req_rejected(req, &msg);
    gt_http_res_status(res, status == 400 ? 422 : 500);
    return gt_http_res_printf(res, "custom %d %d %s", rc, status, msg);
}

/* Fails the read, then returns another code: that is a 500. */
static int h_other(gt_http_req *req, gt_http_res *res, void *arg)
{
    json_t *j;

    (void)res, (void)arg;
    if (gt_http_req_json(req, &j, NULL) == 0)
        json_decref(j);
    return -EIO;
}

/* jansson out of memory: every allocation fails, or the nth one. */
static long jansson_fail_at, jansson_allocs;

static void *failing_malloc(size_t n)
{
    if (jansson_fail_at && ++jansson_allocs >= jansson_fail_at)
        return NULL;
    return malloc(n);
}

static int h_oom(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *q = gt_http_req_query_string(req);
    json_t *j = NULL;
    int rc, status;

    (void)arg;
    jansson_fail_at = q ? atol(q) : 1;
    jansson_allocs = 0;
    json_set_alloc_funcs(failing_malloc, free);
    rc = gt_http_req_json(req, &j, NULL);
    json_decref(j);
    json_set_alloc_funcs(malloc, free);
    jansson_fail_at = 0;
    status = gt_http_req_rejected(req, NULL);
    return gt_http_res_printf(res, "rc=%d status=%d", rc, status);
}

/* The server out of memory for the message: the reason phrase stands in. */
static int h_nomsg(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char fill[16];
    json_t *j;
    int rc;

    (void)arg;
    /* Small copied bodies fill the request's arena, so the message needs
     * malloc. */
    for (int i = 0; i < 200; i++)
        if (gt_http_res_body(res, fill, 16) < 0)
            return -ENOMEM;
    gt_alloc_fail(1, 1);
    rc = gt_http_req_json(req, &j, NULL);
    gt_alloc_fail(0, 0);
    if (rc == 0)
        json_decref(j);
    return rc;
}

static const fx_route routes[] = {
    {"POST", "/json", h_default},  {"POST", "/strict", h_strict},
    {"POST", "/deep", h_deep},     {"POST", "/any", h_any},
    {"POST", "/custom", h_custom}, {"POST", "/other", h_other},
    {"POST", "/oom", h_oom},       {"POST", "/nomsg", h_nomsg},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

/* ---- the client side ----------------------------------------------------- */

/* POST body[0..n) to 'target' with a Content-Type (NULL: none). */
static void post_n(httpc *c, const char *target, const char *type,
                   const char *body, size_t n, httpc_res *res)
{
    size_t cap = n + 512;
    char *raw = malloc(cap);
    int k;

    ck_assert_ptr_nonnull(raw);
    k = snprintf(raw, cap,
                 "POST %s HTTP/1.1\r\nHost: t\r\n%s%s%sContent-Length: "
                 "%zu\r\n\r\n",
                 target, type ? "Content-Type: " : "", type ? type : "",
                 type ? "\r\n" : "", n);
    memcpy(raw + k, body, n);
    fx_send(c, raw, (size_t)k + n, res);
    free(raw);
}

static void send_str(httpc *c, const char *raw, httpc_res *res)
{
    fx_send(c, raw, strlen(raw), res);
}

/* POST body[0..n) to 'target' as one chunk. */
static void post_chunked(httpc *c, const char *target, const char *body,
                         size_t n, httpc_res *res)
{
    char *raw = malloc(n + 512);
    int k;

    ck_assert_ptr_nonnull(raw);
    k = sprintf(raw,
                "POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: "
                "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                "%zx\r\n",
                target, n);
    memcpy(raw + k, body, n);
    k += (int)n;
    k += sprintf(raw + k, "\r\n0\r\n\r\n");
    fx_send(c, raw, (size_t)k, res);
    free(raw);
}

static void post(httpc *c, const char *target, const char *type,
                 const char *body, httpc_res *res)
{
    post_n(c, target, type, body, strlen(body), res);
}

static void expect_prefix(httpc_res *res, int status, const char *prefix)
{
    ck_assert_msg(res->status == status &&
                      strncmp(res->body, prefix, strlen(prefix)) == 0,
                  "status %d body '%s', expected %d '%s...'", res->status,
                  res->body, status, prefix);
    httpc_res_free(res);
}

/* '[' x depth, ']' x depth. */
static char *nested(int depth)
{
    char *s = malloc(2 * (size_t)depth + 1);

    ck_assert_ptr_nonnull(s);
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[2 * depth] = '\0';
    return s;
}

static void post_nested(httpc *c, const char *target, int depth, httpc_res *res)
{
    char *s = nested(depth);

    post(c, target, NULL, s, res);
    free(s);
}

/* ---- tests --------------------------------------------------------------- */

static void c_good(httpc *c, void *arg)
{
    static const char doc[] = "{\"a\":[1,2,{\"b\":null}],\"s\":\"\\u00e9\"}";
    char ct[64];
    httpc_res r;

    (void)arg;
    post(c, "/json", "application/json", doc, &r);
    ck_assert(httpc_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert_str_eq(ct, "application/json");
    fx_expect(&r, 200, "{\"a\":[1,2,{\"b\":null}],\"s\":\"\xc3\xa9\"}");
    /* Without require_type, any Content-Type (or none) is read. */
    post(c, "/json", "text/plain", "[true]", &r);
    fx_expect(&r, 200, "[true]");
    post(c, "/json", NULL, " [ ] ", &r);
    fx_expect(&r, 200, "[]");
    /* A chunked body is read like any other. */
    send_str(c,
             "POST /json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
             "\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n",
             &r);
    fx_expect(&r, 200, "[1,2]");
}

START_TEST(json_good_documents_are_parsed)
{
    fx_run(router(), NULL, c_good, NULL);
}
END_TEST

static void c_bad(httpc *c, void *arg)
{
    char ct[64];
    httpc_res r;

    (void)arg;
    post(c, "/json", NULL, "{\"a\":}", &r);
    ck_assert(httpc_header(&r, "Content-Type", ct, sizeof(ct)));
    ck_assert_str_eq(ct, "text/plain; charset=utf-8");
    ck_assert_int_eq(r.close, 0); /* the client's mistake, not framing */
    expect_prefix(&r, 400, "invalid JSON at line 1, column 6: ");
    post(c, "/json", NULL, "{\n  \"a\": 1,\n  \"b\": tru\n}", &r);
    expect_prefix(&r, 400, "invalid JSON at line 3, column ");
    post(c, "/json", NULL, "", &r);
    expect_prefix(&r, 400, "invalid JSON at line ");
    post(c, "/json", NULL, "[1] [2]", &r); /* trailing garbage */
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
    post(c, "/json", NULL, "[\"\xff\"]", &r); /* not UTF-8 */
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
    post_n(c, "/json", NULL, "[1,\0 2]", 7, &r); /* a NUL byte */
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
    post(c, "/json", NULL, "\"just a string\"", &r);
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
    post(c, "/any", NULL, "\"just a string\"", &r);
    fx_expect(&r, 200, "\"just a string\"");
    /* Bad chunked framing is the body reader's 400, and closes. */
    send_str(c,
             "POST /json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
             "\r\n\r\nzz\r\n",
             &r);
    ck_assert_int_eq(r.close, 1);
    fx_expect(&r, 400, "Bad Request");
}

START_TEST(json_bad_documents_are_400_with_line_and_column)
{
    fx_run(router(), NULL, c_bad, NULL);
}
END_TEST

static void c_depth(httpc *c, void *arg)
{
    httpc_res r;
    char *s;

    (void)arg;
    post_nested(c, "/json", 64, &r);
    ck_assert_int_eq(r.status, 200);
    httpc_res_free(&r);
    post_nested(c, "/json", 65, &r);
    fx_expect(&r, 400,
              "JSON nested deeper than 64 levels at line 1, "
              "column 65");
    /* Far beyond what any coroutine stack would survive in jansson. */
    post_nested(c, "/json", 200000, &r);
    fx_expect(&r, 400,
              "JSON nested deeper than 64 levels at line 1, "
              "column 65");
    /* Objects count too, and so does the line. */
    post(c, "/strict", "application/json", "{\"a\":\n [{\"b\":\n {}}]}", &r);
    fx_expect(&r, 400,
              "JSON nested deeper than 3 levels at line 3, "
              "column 2");
    /* Brackets in strings, escaped quotes included, do not nest. */
    post(c, "/strict", "application/json", "[\"[[[[\\\"[[[{{\",[[]]]", &r);
    fx_expect(&r, 200, "[\"[[[[\\\"[[[{{\",[[]]]");
    /* Column counts characters, as jansson does: "é" is one. */
    post(c, "/strict", "application/json", "[\"\xc3\xa9\",[[[]]]]", &r);
    fx_expect(&r, 400,
              "JSON nested deeper than 3 levels at line 1, "
              "column 8");
    /* A larger limit than jansson's is held to jansson's. */
    post_nested(c, "/deep", 2048, &r);
    fx_expect(&r, 200, "parsed");
    post_nested(c, "/deep", 2049, &r);
    fx_expect(&r, 400,
              "JSON nested deeper than 2048 levels at line 1, "
              "column 2049");
    /* Unbalanced closers are jansson's to report. */
    s = "]]]]";
    post(c, "/json", NULL, s, &r);
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
}

START_TEST(json_nesting_over_the_limit_is_400_before_parsing)
{
    fx_run(router(), NULL, c_depth, NULL);
}
END_TEST

static void c_type(httpc *c, void *arg)
{
    static const char *const ok[] = {"application/json",
                                     "Application/JSON",
                                     "application/json; "
                                     "charset=utf-8",
                                     "application/json ;charset=utf-8",
                                     "application/problem+json",
                                     "application/vnd.api+json"};
    static const char *const bad[] = {"text/plain",
                                      "application/jsonx",
                                      "application/+json",
                                      "application/",
                                      "json",
                                      "text/json",
                                      "application/x json",
                                      "application/javascript"};
    httpc_res r;

    (void)arg;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        post(c, "/strict", ok[i], "[1]", &r);
        ck_assert_msg(r.status == 200, "%s: %d", ok[i], r.status);
        httpc_res_free(&r);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        post(c, "/strict", bad[i], "[1]", &r);
        ck_assert_msg(r.status == 415, "%s: %d", bad[i], r.status);
        fx_expect(&r, 415, "the body must be application/json");
    }
    post(c, "/strict", NULL, "[1]", &r);
    fx_expect(&r, 415, "the body must be application/json");
    /* The type is checked before the body: a bad body still gives 415. */
    post(c, "/strict", "text/plain", "{", &r);
    fx_expect(&r, 415, "the body must be application/json");
}

START_TEST(json_wrong_content_type_is_415_when_required)
{
    fx_run(router(), NULL, c_type, NULL);
}
END_TEST

static void c_size(httpc *c, void *arg)
{
    char body[300];
    httpc_res r;

    (void)arg;
    memset(body, ' ', sizeof(body));
    body[0] = '[';
    body[63] = ']';
    post_n(c, "/strict", "application/json", body, 64, &r);
    fx_expect(&r, 200, "[]");
    body[63] = ' ';
    body[64] = ']';
    post_n(c, "/strict", "application/json", body, 65, &r);
    ck_assert_int_eq(r.close, 0); /* the body was here: skipped */
    fx_expect(&r, 413, "the JSON body is larger than 64 bytes");
    /* The connection goes on. */
    post(c, "/strict", "application/json", "[2]", &r);
    fx_expect(&r, 200, "[2]");
    /* A chunked body has no length up front: refused once read. */
    post_chunked(c, "/strict", body, 65, &r);
    ck_assert_int_eq(r.close, 0);
    fx_expect(&r, 413, "the JSON body is larger than 64 bytes");
    /* Over the server's max_body (200 here), the server refuses a
     * Content-Length before the handler runs, and the body reader a
     * chunked body; both close. */
    body[64] = ' ';
    body[250] = ']';
    post_n(c, "/json", NULL, body, 251, &r);
    ck_assert_int_eq(r.close, 1);
    fx_expect(&r, 413, "Content Too Large");
    post_chunked(c, "/json", body, 251, &r);
    ck_assert_int_eq(r.close, 1);
    fx_expect(&r, 413, "Content Too Large");
    post_chunked(c, "/json", body, 200, &r); /* at the limit: read */
    expect_prefix(&r, 400, "invalid JSON at line 1, column ");
}

START_TEST(json_over_the_size_limit_is_413)
{
    gt_http_config cfg = {.max_body = 200};

    fx_run(router(), &cfg, c_size, NULL);
}
END_TEST

/* A Content-Length over the limit is refused before the body is read: no
 * wait for bytes that never come. */
static void c_unread(httpc *c, void *arg)
{
    static const char head[] =
        "POST /strict HTTP/1.1\r\nHost: t\r\nContent-Type: "
        "application/json\r\nExpect: 100-continue\r\nContent-Length: "
        "100000\r\n\r\n";
    httpc_res r;

    (void)arg;
    fx_send(c, head, sizeof(head) - 1, &r);
    ck_assert_int_eq(r.close, 1); /* the body is not here to skip */
    fx_expect(&r, 413, "the JSON body is larger than 64 bytes");
}

START_TEST(json_oversized_content_length_is_refused_unread)
{
    fx_run(router(), NULL, c_unread, NULL);
}
END_TEST

static void c_custom(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    post(c, "/custom", NULL, "[1,", &r);
    expect_prefix(&r, 422, "custom -74 400 invalid JSON at line 1, column");
    post(c, "/custom", NULL, "[1]", &r);
    fx_expect(&r, 200, "none 0 (null)");
    /* A rejection is not a licence for other codes: -EIO is a 500. */
    post(c, "/other", NULL, "[1,", &r);
    fx_expect(&r, 500, "Internal Server Error");
}

START_TEST(json_rejection_can_be_rendered_by_the_handler)
{
    ck_assert_int_eq(-EBADMSG, -74); /* the body of c_custom says -74 */
    fx_run(router(), NULL, c_custom, NULL);
}
END_TEST

static void c_oom(httpc *c, void *arg)
{
    char target[32], want[64];
    httpc_res r;
    int nomem = 0;

    (void)arg;
    post(c, "/oom?1", NULL, "{\"a\":[1,2]}", &r);
    snprintf(want, sizeof(want), "rc=%d status=0", -ENOMEM);
    fx_expect(&r, 200, want);
    /* Each allocation in turn: out of memory, or success, never a crash
     * or a leak. jansson reports a failed allocation for a string token
     * as a syntax error, so that is a 400 (json.c). */
    for (int n = 1; n < 12; n++) {
        snprintf(target, sizeof(target), "/oom?%d", n);
        post(c, target, NULL, "{\"a\":[1,\"x\"],\"b\":{}}", &r);
        ck_assert_int_eq(r.status, 200);
        if (strcmp(r.body, want) == 0)
            nomem++;
        else if (strcmp(r.body, "rc=-74 status=400") != 0)
            ck_assert_str_eq(r.body, "rc=0 status=0");
        httpc_res_free(&r);
    }
    ck_assert_int_gt(nomem, 3);
    /* The message cannot be allocated: the reason phrase stands in. */
    post(c, "/nomsg", NULL, "[", &r);
    fx_expect(&r, 400, "Bad Request");
}

START_TEST(json_out_of_memory_is_enomem)
{
    fx_run(router(), NULL, c_oom, NULL);
}
END_TEST

void add_http_json_tests(Suite *s)
{
    TCase *tc = tcase_create("json");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, json_good_documents_are_parsed);
    tcase_add_test(tc, json_bad_documents_are_400_with_line_and_column);
    tcase_add_test(tc, json_nesting_over_the_limit_is_400_before_parsing);
    tcase_add_test(tc, json_wrong_content_type_is_415_when_required);
    tcase_add_test(tc, json_over_the_size_limit_is_413);
    tcase_add_test(tc, json_oversized_content_length_is_refused_unread);
    tcase_add_test(tc, json_rejection_can_be_rendered_by_the_handler);
    tcase_add_test(tc, json_out_of_memory_is_enomem);
    suite_add_tcase(s, tc);
}
