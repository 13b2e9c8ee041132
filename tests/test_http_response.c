/* tests/test_http_response.c -- the response's fields read back, set,
 * replaced and removed, the JSON error reply and Set-Cookie, through the
 * real server.
 *
 * The handlers check the return codes of the calls they make with
 * ck_assert (the test process runs the server too, so a failed assertion
 * fails the test) and the client checks what arrived on the wire. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_fixture.h"

/* ---- handlers ------------------------------------------------------------ */

/* printf's default text/plain, then a JSON type: one Content-Type. */
static int h_ctype(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    ck_assert_int_ge(gt_http_res_printf(res, "{}"), 0);
    ck_assert_int_eq(
        gt_http_res_header(res, "content-type", "application/json"), 0);
    return 0;
}

/* gt_http_res_json after an explicit type keeps it (no second one). */
static int h_json_type(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    ck_assert_int_eq(
        gt_http_res_header(res, "Content-Type", "application/problem+json"), 0);
    return gt_http_res_json(res, json_pack("{s:i}", "a", 1));
}

static int h_fields(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = "unchanged";

    (void)req, (void)arg;
    ck_assert_int_eq(gt_http_res_get_status(res), 200);
    ck_assert_int_eq(gt_http_res_status(res, 201), 0);
    ck_assert_int_eq(gt_http_res_get_status(res), 201);
    ck_assert_int_eq(gt_http_res_get_header(res, "X-A", &v), -ENOENT);
    ck_assert_str_eq(v, "unchanged");
    ck_assert_int_eq(gt_http_res_header(res, "X-A", "1"), 0);
    ck_assert_int_eq(gt_http_res_header(res, "X-Keep", "k"), 0);
    ck_assert_int_eq(gt_http_res_header(res, "x-a", "2"), 0);
    ck_assert_int_eq(gt_http_res_get_header(res, "x-A", &v), 0);
    ck_assert_str_eq(v, "1"); /* the first */
    ck_assert_int_eq(gt_http_res_set_header(res, "X-A", "3"), 0);
    ck_assert_int_eq(gt_http_res_get_header(res, "X-A", &v), 0);
    ck_assert_str_eq(v, "3");
    ck_assert_int_eq(gt_http_res_header(res, "X-Gone", "a"), 0);
    ck_assert_int_eq(gt_http_res_header(res, "X-Gone", "b"), 0);
    ck_assert_int_eq(gt_http_res_remove_header(res, "x-gone"), 2);
    ck_assert_int_eq(gt_http_res_remove_header(res, "X-Gone"), 0);
    ck_assert_int_eq(gt_http_res_get_header(res, "X-Gone", &v), -ENOENT);
    /* What is not allowed. */
    ck_assert_int_eq(gt_http_res_set_header(res, NULL, "x"), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_header(res, "X-B", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_header(res, "Content-Length", "1"),
                     -EINVAL);
    ck_assert_int_eq(gt_http_res_set_header(res, "Bad Name", "1"), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_header(res, "X-B", "a\r\nX-C: 1"),
                     -EINVAL);
    ck_assert_int_eq(gt_http_res_remove_header(res, NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_remove_header(res, "Date"), -EINVAL);
    ck_assert_int_eq(gt_http_res_get_header(res, NULL, &v), -EINVAL);
    /* Content-Type removed: printf puts its default back. */
    ck_assert_int_eq(gt_http_res_header(res, "Content-Type", "x/y"), 0);
    ck_assert_int_eq(gt_http_res_remove_header(res, "Content-Type"), 1);
    return gt_http_res_printf(res, "ok");
}

/* A set that needs memory it cannot get changes nothing. */
static int h_set_oom(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char fill[16];
    char big[400];
    const char *v;
    int rc;

    (void)req, (void)arg;
    for (int k = 0; k < 200; k++)
        ck_assert_int_eq(gt_http_res_body(res, fill, sizeof(fill)), 0);
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(gt_http_res_header(res, "X-Big", big), 0);
    ck_assert_int_eq(gt_http_res_header(res, "X-A", "old"), 0);
    gt_alloc_fail(1, 1);
    rc = gt_http_res_set_header(res, "X-A", big);
    gt_alloc_fail(0, 0);
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_int_eq(gt_http_res_get_header(res, "X-A", &v), 0);
    ck_assert_str_eq(v, "old");
    gt_alloc_fail(1, 1);
    rc = gt_http_res_get_header(res, "X-A", &v);
    gt_alloc_fail(0, 0);
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_int_eq(gt_http_res_remove_header(res, "X-Big"), 1);
    return gt_http_res_printf(res, "ok");
}

static int h_error(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t n = 0;

    (void)arg;
    ck_assert_int_eq(gt_http_res_header(res, "X-Kept", "1"), 0);
    gt_http_res_printf(res, "replaced");
    ck_assert_int_eq(gt_http_res_error(res, 99, "x"), -EINVAL);
    ck_assert_int_eq(gt_http_res_error(res, 1000, "x"), -EINVAL);
    if (gt_http_req_query_int64(req, "reason", &n) == 0)
        return gt_http_res_error(res, (int)n, NULL);
    if (gt_http_req_query_int64(req, "utf8", &n) == 0)
        return gt_http_res_error(res, 400, "bad \xff byte");
    return gt_http_res_error(res, 422, "field '%s' is %d", "age", -3);
}

static int h_cookies(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_http_cookie all = {.path = "/",
                          .domain = "example.com",
                          .max_age = 3600,
                          .secure = 1,
                          .http_only = 1,
                          .same_site = "lax"};
    gt_http_cookie del = {.max_age = -1};
    gt_http_cookie bad;
    char big[5000];

    (void)req, (void)arg;
    ck_assert_int_eq(gt_http_res_set_cookie(res, "sid", "abc", &all), 0);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "old", "", &del), 0);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "plain", "v", NULL), 0);
    /* What is refused. */
    ck_assert_int_eq(gt_http_res_set_cookie(res, NULL, "v", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "", "v", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a b", "v", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", NULL, NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "x;y", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "x y", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "\"q\"", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "x\\", NULL), -EINVAL);
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "\x7f", NULL), -EINVAL);
    bad = (gt_http_cookie){.path = "/;Domain=evil"};
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "v", &bad), -EINVAL);
    bad = (gt_http_cookie){.domain = ""};
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "v", &bad), -EINVAL);
    bad = (gt_http_cookie){.same_site = "sometimes"};
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "v", &bad), -EINVAL);
    bad = (gt_http_cookie){.same_site = "None"};
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", "v", &bad), -EINVAL);
    bad.secure = 1;
    ck_assert_int_eq(gt_http_res_set_cookie(res, "none", "v", &bad), 0);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(gt_http_res_set_cookie(res, "a", big, NULL), -EINVAL);
    return gt_http_res_printf(res, "ok");
}

static const fx_route routes[] = {
    {"GET", "/ctype", h_ctype},   {"GET", "/json_type", h_json_type},
    {"GET", "/fields", h_fields}, {"GET", "/set_oom", h_set_oom},
    {"GET", "/error", h_error},   {"GET", "/cookies", h_cookies},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

/* The value of 'name' in r, which must be there. */
static const char *field(const httpc_res *r, const char *name)
{
    static char v[512];

    ck_assert_msg(httpc_header(r, name, v, sizeof(v)), "no %s in %s", name,
                  r->head);
    return v;
}

/* ---- tests --------------------------------------------------------------- */

static void c_fields(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    fx_get(c, "/ctype", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Content-Type"), 1);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/json");
    fx_expect(&r, 200, "{}");

    fx_get(c, "/json_type", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Content-Type"), 1);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/problem+json");
    fx_expect(&r, 200, "{\"a\":1}");

    fx_get(c, "/fields", &r);
    ck_assert_int_eq(httpc_header_count(&r, "X-A"), 1);
    ck_assert_str_eq(field(&r, "X-A"), "3");
    ck_assert_str_eq(field(&r, "X-Keep"), "k");
    ck_assert_int_eq(httpc_header_count(&r, "X-Gone"), 0);
    ck_assert_int_eq(httpc_header_count(&r, "X-B"), 0);
    ck_assert_int_eq(httpc_header_count(&r, "X-C"), 0);
    ck_assert_int_eq(httpc_header_count(&r, "Content-Type"), 1);
    ck_assert_str_eq(field(&r, "Content-Type"), "text/plain; charset=utf-8");
    fx_expect(&r, 201, "ok");

    fx_get(c, "/set_oom", &r);
    ck_assert_str_eq(field(&r, "X-A"), "old");
    ck_assert_int_eq(httpc_header_count(&r, "X-Big"), 0);
    fx_expect(&r, 200, "ok");
}

START_TEST(response_fields_are_read_set_and_removed)
{
    fx_run(router(), NULL, c_fields, NULL);
}
END_TEST

static void c_error(httpc *c, void *arg)
{
    const int *with_id = arg;
    char want[256];
    httpc_res r;

    fx_get(c, "/error", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Content-Type"), 1);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/json");
    ck_assert_str_eq(field(&r, "X-Kept"), "1");
    if (*with_id)
        snprintf(want, sizeof(want),
                 "{\"error\":\"field 'age' is -3\",\"status\":422,"
                 "\"request_id\":\"%s\"}",
                 field(&r, "X-Request-Id"));
    else
        snprintf(want, sizeof(want),
                 "{\"error\":\"field 'age' is -3\",\"status\":422}");
    fx_expect(&r, 422, want);
    if (*with_id)
        return;
    fx_get(c, "/error?reason=409", &r);
    fx_expect(&r, 409, "{\"error\":\"Conflict\",\"status\":409}");
    fx_get(c, "/error?utf8=1", &r);
    fx_expect(&r, 400, "{\"error\":\"bad ? byte\",\"status\":400}");
}

START_TEST(json_error_reply)
{
    int with_id = 0;

    fx_run(router(), NULL, c_error, &with_id);
}
END_TEST

START_TEST(json_error_reply_carries_the_request_id)
{
    gt_http_config cfg = {.request_id = 1};
    int with_id = 1;

    fx_run(router(), &cfg, c_error, &with_id);
}
END_TEST

/* The i-th Set-Cookie field's value. */
static const char *cookie_at(const httpc_res *r, int i)
{
    static char v[512];
    const char *p = r->head;

    for (int k = 0; k <= i; k++) {
        p = strcasestr(p, "\r\nSet-Cookie: ");
        ck_assert_ptr_nonnull(p);
        p += 14;
    }
    snprintf(v, sizeof(v), "%.*s", (int)strcspn(p, "\r"), p);
    return v;
}

static void c_cookies(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    fx_get(c, "/cookies", &r);
    ck_assert_int_eq(httpc_header_count(&r, "Set-Cookie"), 4);
    ck_assert_str_eq(cookie_at(&r, 0), "sid=abc; Path=/; Domain=example.com; "
                                       "Max-Age=3600; Secure; HttpOnly; "
                                       "SameSite=Lax");
    ck_assert_str_eq(cookie_at(&r, 1),
                     "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_str_eq(cookie_at(&r, 2), "plain=v");
    ck_assert_str_eq(cookie_at(&r, 3), "none=v; Secure; SameSite=None");
    fx_expect(&r, 200, "ok");
}

START_TEST(set_cookie_with_attributes)
{
    fx_run(router(), NULL, c_cookies, NULL);
}
END_TEST

void add_http_response_tests(Suite *s)
{
    TCase *tc = tcase_create("response");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, response_fields_are_read_set_and_removed);
    tcase_add_test(tc, json_error_reply);
    tcase_add_test(tc, json_error_reply_carries_the_request_id);
    tcase_add_test(tc, set_cookie_with_attributes);
    suite_add_tcase(s, tc);
}
