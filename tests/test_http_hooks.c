/* tests/test_http_hooks.c -- before/after/error hooks, the per-request
 * pointer, error responses through the app's error handler, and CORS,
 * through the real server.
 *
 * The after hook writes what it saw into 'seen'; the client reads it with
 * a second request on the same connection (GET /seen), which the server
 * dispatches only once the first request's coroutine has ended, so the
 * after hook has run by then. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_fixture.h"

/* What the last after hook saw. */
static struct {
    int calls;
    int status;
    unsigned long long bytes;
    char trace[64]; /* its X-Trace field, "-" if none */
    char data[64];  /* the request's pointer, as a string */
    int elapsed_ok; /* gt_http_req_elapsed_us() was plausible */
} seen;

/* ---- hooks --------------------------------------------------------------- */

static int before(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *p = gt_http_req_path(req);

    (void)arg;
    ck_assert_ptr_null(gt_http_req_get_data(req));
    gt_http_req_set_data(req, "from-before");
    ck_assert_int_eq(gt_http_res_header(res, "X-Trace", "t1"), 0);
    if (strcmp(p, "/answered") == 0) {
        gt_http_res_status(res, 401);
        gt_http_res_printf(res, "by the hook");
        return 1;
    }
    if (strcmp(p, "/refused") == 0)
        return GT_EPOOL;
    return 0;
}

static void after(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = "-";
    const char *d = gt_http_req_get_data(req);

    (void)arg;
    if (strcmp(gt_http_req_path(req), "/seen") == 0)
        return;
    seen.calls++;
    seen.status = gt_http_res_get_status(res);
    seen.bytes = (unsigned long long)gt_http_res_get_bytes(res);
    gt_http_res_get_header(res, "X-Trace", &v);
    snprintf(seen.trace, sizeof(seen.trace), "%s", v);
    snprintf(seen.data, sizeof(seen.data), "%s", d ? d : "(null)");
    seen.elapsed_ok = gt_http_req_elapsed_us(req) < 60u * 1000 * 1000;
}

/* Renders errors as JSON, or refuses for /fallback. */
static int on_error(gt_http_req *req, gt_http_res *res, int status,
                    const char *msg, void *arg)
{
    (void)arg;
    ck_assert_int_eq(gt_http_res_get_status(res), status);
    if (strcmp(gt_http_req_path(req), "/fallback") == 0)
        return -EIO; /* the default text body instead */
    if (strcmp(gt_http_req_path(req), "/streamed") == 0) {
        gt_http_res_header(res, "Content-Type", "text/plain");
        return gt_http_res_write(res, msg, strlen(msg));
    }
    return gt_http_error_json(req, res, status, msg, NULL);
}

/* ---- handlers ------------------------------------------------------------ */

static int h_ok(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *d = gt_http_req_get_data(req);

    (void)arg;
    return gt_http_res_printf(res, "data=%s", d ? (const char *)d : "(null)");
}

/* Fails after adding a field of its own: the hook's stays, its goes. */
static int h_fail(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "X-Handler", "h");
    gt_http_res_printf(res, "never sent");
    return -EIO;
}

static int h_int(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t n;
    int rc = gt_http_req_query_int64(req, "n", &n);

    (void)arg;
    if (rc < 0)
        return rc;
    return gt_http_res_printf(res, "%lld", (long long)n);
}

static int h_body(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *b;
    size_t n;
    int rc = gt_http_req_body(req, &b, &n);

    (void)arg;
    if (rc < 0)
        return rc;
    return gt_http_res_printf(res, "%zu", n);
}

static int h_timeout(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return -ETIMEDOUT;
}

static int h_seen(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "%d %d %llu %s %s %d", seen.calls,
                              seen.status, seen.bytes, seen.trace, seen.data,
                              seen.elapsed_ok);
}

/* Answers CORS itself: the server leaves it alone. */
static int h_own_cors(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Access-Control-Allow-Origin", "https://own");
    return gt_http_res_printf(res, "own");
}

static const fx_route routes[] = {
    {"GET", "/ok", h_ok},           {"GET", "/answered", h_ok},
    {"GET", "/refused", h_ok},      {"GET", "/fail", h_fail},
    {"GET", "/fallback", h_fail},   {"GET", "/int", h_int},
    {"GET", "/streamed", h_fail},   {"POST", "/body", h_body},
    {"GET", "/timeout", h_timeout}, {"GET", "/seen", h_seen},
    {"GET", "/own", h_own_cors},    {"DELETE", "/ok", h_ok},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

static const gt_http_hooks all_hooks = {before, after, on_error, NULL};
static const gt_http_hooks error_only = {NULL, NULL, on_error, NULL};

/* The value of 'name' in r, "" when absent. */
static const char *field(const httpc_res *r, const char *name)
{
    static char v[512];

    httpc_header(r, name, v, sizeof(v));
    return v;
}

static void expect_seen(httpc *c, const char *want)
{
    httpc_res r;

    fx_get(c, "/seen", &r);
    fx_expect(&r, 200, want);
}

static void send_hdrs(httpc *c, const char *method, const char *target,
                      const char *hdrs, httpc_res *r)
{
    char raw[1024];
    int n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                     method, target, hdrs);

    fx_send(c, raw, (size_t)n, r);
}

/* ---- tests --------------------------------------------------------------- */

static void c_hooks(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    fx_get(c, "/ok", &r);
    ck_assert_str_eq(field(&r, "X-Trace"), "t1");
    fx_expect(&r, 200, "data=from-before");
    expect_seen(c, "1 200 16 t1 from-before 1");

    /* The before hook answers; the handler does not run. */
    fx_get(c, "/answered", &r);
    fx_expect(&r, 401, "by the hook");
    expect_seen(c, "2 401 11 t1 from-before 1");

    /* It refuses: answered like a handler's GT_EPOOL, its field kept. */
    fx_get(c, "/refused", &r);
    ck_assert_str_eq(field(&r, "X-Trace"), "t1");
    ck_assert_str_eq(field(&r, "Retry-After"), "1");
    fx_expect(&r, 503, "{\"error\":\"Service Unavailable\",\"status\":503}");
    expect_seen(c, "3 503 44 t1 from-before 1");

    /* A failing handler: the hook's field stays, the handler's goes. */
    fx_get(c, "/fail", &r);
    ck_assert_str_eq(field(&r, "X-Trace"), "t1");
    ck_assert_int_eq(httpc_header_count(&r, "X-Handler"), 0);
    ck_assert_int_eq(httpc_header_count(&r, "Content-Type"), 1);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/json");
    fx_expect(&r, 500, "{\"error\":\"Internal Server Error\",\"status\":500}");

    /* The error hook fails: the default text body. */
    fx_get(c, "/fallback", &r);
    ck_assert_str_eq(field(&r, "X-Trace"), "t1");
    ck_assert_str_eq(field(&r, "Content-Type"), "text/plain; charset=utf-8");
    fx_expect(&r, 500, "Internal Server Error");
    expect_seen(c, "5 500 21 t1 from-before 1");

    /* An error hook that streams its body. */
    fx_get(c, "/streamed", &r);
    ck_assert_str_eq(field(&r, "Transfer-Encoding"), "chunked");
    fx_expect(&r, 500, "Internal Server Error");
    expect_seen(c, "6 500 21 t1 from-before 1");
}

START_TEST(before_and_after_hooks)
{
    gt_http_config cfg = {.hooks = &all_hooks};

    memset(&seen, 0, sizeof(seen));
    fx_run(router(), &cfg, c_hooks, NULL);
}
END_TEST

static void c_errors(httpc *c, void *arg)
{
    const char *big = "POST /body HTTP/1.1\r\nHost: t\r\n"
                      "Content-Length: 100\r\n\r\n";
    const char *bad_chunk = "POST /body HTTP/1.1\r\nHost: t\r\n"
                            "Transfer-Encoding: chunked\r\n\r\nzz\r\n";
    httpc_res r;

    (void)arg;
    fx_get(c, "/nope", &r);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/json");
    fx_expect(&r, 404, "{\"error\":\"Not Found\",\"status\":404}");

    send_hdrs(c, "PUT", "/ok", "", &r);
    ck_assert_str_eq(field(&r, "Allow"), "GET, HEAD, DELETE");
    fx_expect(&r, 405, "{\"error\":\"Method Not Allowed\",\"status\":405}");

    fx_get(c, "/int?n=x", &r);
    fx_expect(&r, 400,
              "{\"error\":\"query parameter 'n' is not an "
              "integer\",\"status\":400}");

    fx_get(c, "/timeout", &r);
    fx_expect(&r, 504, "{\"error\":\"Gateway Timeout\",\"status\":504}");

    /* Over max_body (16): refused before the handler, still rendered. */
    fx_send(c, big, strlen(big), &r);
    ck_assert_int_ne(r.close, 0);
    fx_expect(&r, 413, "{\"error\":\"Content Too Large\",\"status\":413}");

    /* A body read that fails. */
    fx_send(c, bad_chunk, strlen(bad_chunk), &r);
    ck_assert_int_ne(r.close, 0);
    fx_expect(&r, 400, "{\"error\":\"Bad Request\",\"status\":400}");

    /* The parser's own rejections keep the fixed text answer. */
    send_hdrs(c, "GET", "/", "Bad Header\r\n", &r);
    ck_assert_int_ne(r.close, 0);
    fx_expect(&r, 400, "Bad Request");
}

START_TEST(errors_go_through_the_error_hook)
{
    gt_http_config cfg = {.hooks = &error_only, .max_body = 16};

    fx_run(router(), &cfg, c_errors, NULL);
}
END_TEST

static void c_default_errors(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    fx_get(c, "/nope", &r);
    ck_assert_str_eq(field(&r, "Content-Type"), "text/plain; charset=utf-8");
    fx_expect(&r, 404, "Not Found");
    send_hdrs(c, "PUT", "/ok", "", &r);
    ck_assert_str_eq(field(&r, "Allow"), "GET, HEAD, DELETE");
    fx_expect(&r, 405, "Method Not Allowed");
    fx_get(c, "/int?n=1x", &r);
    fx_expect(&r, 400, "query parameter 'n' is not an integer");
}

START_TEST(errors_without_an_error_hook_are_text)
{
    fx_run(router(), NULL, c_default_errors, NULL);
}
END_TEST

/* ---- CORS ---------------------------------------------------------------- */

#define ORIGIN_A "Origin: https://a.example\r\n"

static void c_cors(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    send_hdrs(c, "GET", "/ok", ORIGIN_A, &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                     "https://a.example");
    ck_assert_str_eq(field(&r, "Vary"), "Origin");
    ck_assert_str_eq(field(&r, "Access-Control-Expose-Headers"),
                     "X-Request-Id");
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Credentials"),
                     0);
    fx_expect(&r, 200, "data=(null)");

    /* Case does not matter; an origin not listed gets nothing. */
    send_hdrs(c, "GET", "/ok", "Origin: HTTP://LOCALHOST:3000\r\n", &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                     "HTTP://LOCALHOST:3000");
    httpc_res_free(&r);
    send_hdrs(c, "GET", "/ok", "Origin: https://evil.example\r\n", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Origin"), 0);
    ck_assert_str_eq(field(&r, "Vary"), "Origin");
    fx_expect(&r, 200, "data=(null)");
    send_hdrs(c, "GET", "/ok", "Origin: https://a.example.evil\r\n", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Origin"), 0);
    httpc_res_free(&r);
    fx_get(c, "/ok", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Origin"), 0);
    httpc_res_free(&r);

    /* Errors carry it: the router's 404, the server's 413. */
    send_hdrs(c, "GET", "/nope", ORIGIN_A, &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                     "https://a.example");
    fx_expect(&r, 404, "Not Found");
    send_hdrs(c, "POST", "/body", ORIGIN_A "Content-Length: 100\r\n", &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                     "https://a.example");
    fx_expect(&r, 413, "Content Too Large");

    /* A handler's own answer is kept. */
    send_hdrs(c, "GET", "/own", ORIGIN_A, &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Origin"), 1);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"), "https://own");
    fx_expect(&r, 200, "own");

    /* Preflights: answered by the server (no OPTIONS route exists). */
    send_hdrs(c, "OPTIONS", "/ok",
              ORIGIN_A "Access-Control-Request-Method: DELETE\r\n"
                       "Access-Control-Request-Headers: content-type, x-a\r\n",
              &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                     "https://a.example");
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Methods"),
                     "GET, POST, DELETE");
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Headers"),
                     "content-type, x-a");
    ck_assert_str_eq(field(&r, "Access-Control-Max-Age"), "600");
    ck_assert_int_eq(httpc_header_count(&r, "Vary"), 1);
    fx_expect(&r, 204, "");
    send_hdrs(c, "OPTIONS", "/ok",
              ORIGIN_A "Access-Control-Request-Method: PUT\r\n", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Methods"), 0);
    fx_expect(&r, 403, "method 'PUT' not allowed by the CORS policy");
    send_hdrs(c, "OPTIONS", "/ok",
              "Origin: https://evil.example\r\n"
              "Access-Control-Request-Method: GET\r\n",
              &r);
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Allow-Origin"), 0);
    fx_expect(&r, 403, "origin not allowed by the CORS policy");
    /* Without Access-Control-Request-Method: an ordinary OPTIONS. */
    send_hdrs(c, "OPTIONS", "/ok", ORIGIN_A, &r);
    ck_assert_int_eq(r.status, 405);
    httpc_res_free(&r);
}

START_TEST(cors_for_listed_origins)
{
    gt_http_cors cors = {.origins = "https://a.example,http://localhost:3000",
                         .methods = "GET, POST, DELETE",
                         .expose = "X-Request-Id"};
    gt_http_config cfg = {.cors = &cors, .max_body = 16};

    fx_run(router(), &cfg, c_cors, NULL);
}
END_TEST

static void c_cors_any(httpc *c, void *arg)
{
    const int *credentials = arg;
    httpc_res r;

    send_hdrs(c, "GET", "/ok", ORIGIN_A, &r);
    if (*credentials) {
        ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"),
                         "https://a.example");
        ck_assert_str_eq(field(&r, "Access-Control-Allow-Credentials"), "true");
        ck_assert_str_eq(field(&r, "Vary"), "Origin");
    } else {
        ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"), "*");
        ck_assert_int_eq(httpc_header_count(&r, "Vary"), 0);
    }
    httpc_res_free(&r);
    send_hdrs(c, "OPTIONS", "/x",
              ORIGIN_A "Access-Control-Request-Method: PATCH\r\n", &r);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Methods"),
                     "GET, HEAD, POST, PUT, PATCH, DELETE");
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Headers"), "X-Fixed");
    ck_assert_int_eq(httpc_header_count(&r, "Access-Control-Max-Age"), 0);
    fx_expect(&r, 204, "");
}

START_TEST(cors_for_any_origin)
{
    gt_http_cors cors = {.origins = "*", .headers = "X-Fixed", .max_age = -1};
    gt_http_config cfg = {.cors = &cors};
    int credentials = 0;

    fx_run(router(), &cfg, c_cors_any, &credentials);
}
END_TEST

START_TEST(cors_for_any_origin_with_credentials)
{
    gt_http_cors cors = {
        .origins = "*", .headers = "X-Fixed", .max_age = -1, .credentials = 1};
    gt_http_config cfg = {.cors = &cors};
    int credentials = 1;

    fx_run(router(), &cfg, c_cors_any, &credentials);
}
END_TEST

void add_http_hooks_tests(Suite *s)
{
    TCase *tc = tcase_create("hooks");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, before_and_after_hooks);
    tcase_add_test(tc, errors_go_through_the_error_hook);
    tcase_add_test(tc, errors_without_an_error_hook_are_text);
    tcase_add_test(tc, cors_for_listed_origins);
    tcase_add_test(tc, cors_for_any_origin);
    tcase_add_test(tc, cors_for_any_origin_with_credentials);
    suite_add_tcase(s, tc);
}
