/* tests/test_http_params.c -- the typed query and route getters and the
 * route's "*" rest, through the real server and router: absent is told
 * from malformed, numbers and booleans parse strictly, a repeated key
 * gives all its values, and a handler that returns a getter's code gets a
 * 400 (a 404 for a path segment that is not a number) saying which
 * parameter was wrong. Cookies are read here too.
 *
 * The handlers under /q print what a getter returned ("rc:value"), so one
 * request checks one case; those under /h return the getter's code as
 * users are meant to, which checks the mapping to a response. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "http_fixture.h"

/* -------------------------------------------------------------------------- */

static int q_str(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *s = "-";
    int rc = gt_http_req_query_str(req, "v", &s);

    (void)arg;
    return gt_http_res_printf(res, "%d:%s", rc, s);
}

static int q_int(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t v = 7;
    int rc = gt_http_req_query_int64(req, "v", &v);

    (void)arg;
    return gt_http_res_printf(res, "%d:%" PRId64, rc, v);
}

static int q_bool(gt_http_req *req, gt_http_res *res, void *arg)
{
    bool v = false;
    int rc = gt_http_req_query_bool(req, "v", &v);

    (void)arg;
    return gt_http_res_printf(res, "%d:%d", rc, v);
}

static int q_all(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *const *v = NULL;
    char out[256] = "";
    int n = gt_http_req_query_all(req, "tag", &v);

    (void)arg;
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
                 i ? "|" : "", v[i]);
    if (n >= 0)
        ck_assert_ptr_null(v[n]);
    return gt_http_res_printf(res, "%d:%s", n, out);
}

static int q_param(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *s = "-", *none = "-";
    int rc = gt_http_req_param_str(req, "name", &s);
    int rc2 = gt_http_req_param_str(req, "nope", &none);

    (void)arg;
    return gt_http_res_printf(res, "%d:%s %d:%s", rc, s, rc2, none);
}

static int q_rest(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *s = "-";
    int rc = gt_http_req_rest(req, &s);

    (void)arg;
    return gt_http_res_printf(res, "%d:%s", rc, s);
}

/* The cookie named by the query string. */
static int q_cookie(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = "-", *name = gt_http_req_query_string(req);
    int rc = gt_http_req_cookie(req, name && *name ? name : NULL, &v);

    (void)arg;
    return gt_http_res_printf(res, "%d:%s", rc, v);
}

/* A route without "*" or parameters has neither. */
static int q_none(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *s = "-";
    int64_t id = 7;
    int rc = gt_http_req_rest(req, &s);
    int rc2 = gt_http_req_param_int64(req, "id", &id);

    (void)arg;
    return gt_http_res_printf(res, "%d:%s %d:%" PRId64 " %d", rc, s, rc2, id,
                              gt_http_req_rejected(req, NULL));
}

/* Every getter out of memory: the arena is full and malloc fails. */
static int q_oom(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char fill[16];
    const char *s = "-";
    const char *const *v = NULL;
    int64_t i = 0;
    bool b = false;
    int rc[8];

    (void)arg;
    for (int k = 0; k < 200; k++)
        if (gt_http_res_body(res, fill, sizeof(fill)) < 0)
            return -ENOMEM;
    gt_alloc_fail(1, 1);
    rc[0] = gt_http_req_query_str(req, "v", &s);
    rc[1] = gt_http_req_query_int64(req, "v", &i);
    rc[2] = gt_http_req_query_bool(req, "v", &b);
    rc[3] = gt_http_req_query_all(req, "v", &v);
    rc[4] = gt_http_req_query_all(req, "absent", &v);
    rc[5] = gt_http_req_param_str(req, "name", &s);
    rc[6] = gt_http_req_rest(req, &s);
    rc[7] = gt_http_req_cookie(req, "c", &s);
    gt_alloc_fail(0, 0);
    return gt_http_res_printf(res, "%d %d %d %d %d %d %d %d %d", rc[0], rc[1],
                              rc[2], rc[3], rc[4], rc[5], rc[6], rc[7],
                              gt_http_req_rejected(req, NULL));
}

/* -------------------------------------------------------------------------- */

static int h_limit(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t limit = 20;
    bool desc = false;
    int rc = gt_http_req_query_int64(req, "limit", &limit);

    (void)arg;
    if (rc < 0 && rc != -ENOENT)
        return rc;
    rc = gt_http_req_query_bool(req, "desc", &desc);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    return gt_http_res_printf(res, "limit=%" PRId64 " desc=%d", limit, desc);
}

static int h_tags(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *const *tags;
    int n = gt_http_req_query_all(req, "tag", &tags);

    (void)arg;
    return n < 0 ? n : gt_http_res_printf(res, "tags=%d", n);
}

static int h_user(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t id;
    int rc = gt_http_req_param_int64(req, "id", &id);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_printf(res, "id=%" PRId64, id);
}

static int h_file(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *rest;
    int rc = gt_http_req_rest(req, &rest);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_printf(res, "file=%s", rest);
}

static const fx_route routes[] = {
    {"GET", "/q/str", q_str},
    {"GET", "/q/int", q_int},
    {"GET", "/q/bool", q_bool},
    {"GET", "/q/all", q_all},
    {"GET", "/q/names/:name", q_param},
    {"GET", "/q/rest/*", q_rest},
    {"GET", "/*", q_rest},
    {"GET", "/q/none", q_none},
    {"GET", "/q/cookie", q_cookie},
    {"GET", "/q/oom/:name/*", q_oom},
    {"GET", "/h/limit", h_limit},
    {"GET", "/h/tags", h_tags},
    {"GET", "/h/users/:id", h_user},
    {"GET", "/h/files/*", h_file},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

/* GET each cases[i][0] and expect 200 with body cases[i][1]. */
static void check_all(httpc *c, const char *const (*cases)[2], size_t n)
{
    httpc_res r;

    for (size_t i = 0; i < n; i++) {
        fx_get(c, cases[i][0], &r);
        ck_assert_msg(r.status == 200 && strcmp(r.body, cases[i][1]) == 0,
                      "GET %s: %d '%s', expected '%s'", cases[i][0], r.status,
                      r.body, cases[i][1]);
        httpc_res_free(&r);
    }
}

#define CHECK_ALL(c, cases)                                                    \
    check_all(c, cases, sizeof(cases) / sizeof(cases[0]))

/* -------------------------------------------------------------------------- */

static void c_str(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"/q/str?v=a%20b+c", "0:a b c"},
        {"/q/str?v=", "0:"},
        {"/q/str?v", "0:"},
        {"/q/str?x=1&v=2&v=3", "0:2"}, /* the first one */
        {"/q/str?%76=enc", "0:enc"},   /* the key is decoded too */
        {"/q/str?vv=1&x=v", "-2:-"},   /* absent */
        {"/q/str?", "-2:-"},
        {"/q/str", "-2:-"},
        {"/q/str?v=%zz", "-22:-"}, /* malformed */
        {"/q/str?v=%4", "-22:-"},
        {"/q/str?v=a%00b", "-22:-"},   /* an encoded NUL */
        {"/q/str?%zz=1&v=ok", "0:ok"}, /* a bad key names nothing */
    };

    (void)arg;
    CHECK_ALL(c, cases);
}

START_TEST(query_str_tells_absent_from_malformed)
{
    fx_run(router(), NULL, c_str, NULL);
}
END_TEST

static void c_int(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"/q/int?v=0", "0:0"},
        {"/q/int?v=-0", "0:0"},
        {"/q/int?v=42", "0:42"},
        {"/q/int?v=000000000000000000000042", "0:42"},
        {"/q/int?v=9223372036854775807", "0:9223372036854775807"},
        {"/q/int?v=-9223372036854775808", "0:-9223372036854775808"},
        {"/q/int?v=9223372036854775808", "-22:7"},
        {"/q/int?v=-9223372036854775809", "-22:7"},
        {"/q/int?v=99999999999999999999", "-22:7"},
        {"/q/int?v=", "-22:7"},
        {"/q/int?v", "-22:7"},
        {"/q/int?v=-", "-22:7"},
        {"/q/int?v=+1", "-22:7"},   /* '+' is a space */
        {"/q/int?v=%2B1", "-22:7"}, /* and '+' is not allowed */
        {"/q/int?v=1.5", "-22:7"},
        {"/q/int?v=0x10", "-22:7"},
        {"/q/int?v=12a", "-22:7"},
        {"/q/int?v=1%20", "-22:7"},
        {"/q/int?v=%zz", "-22:7"},
        {"/q/int?w=1", "-2:7"},
    };

    (void)arg;
    CHECK_ALL(c, cases);
}

START_TEST(query_int64_parses_strictly)
{
    fx_run(router(), NULL, c_int, NULL);
}
END_TEST

static void c_bool(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"/q/bool?v=1", "0:1"},       {"/q/bool?v=true", "0:1"},
        {"/q/bool?v=TRUE", "0:1"},    {"/q/bool?v=yes", "0:1"},
        {"/q/bool?v=On", "0:1"},      {"/q/bool?v", "0:1"},
        {"/q/bool?v=", "0:1"},        {"/q/bool?v=0", "0:0"},
        {"/q/bool?v=false", "0:0"},   {"/q/bool?v=No", "0:0"},
        {"/q/bool?v=off", "0:0"},     {"/q/bool?v=2", "-22:0"},
        {"/q/bool?v=maybe", "-22:0"}, {"/q/bool?v=true%20", "-22:0"},
        {"/q/bool?v=%zz", "-22:0"},   {"/q/bool", "-2:0"},
    };

    (void)arg;
    CHECK_ALL(c, cases);
}

START_TEST(query_bool_parses_strictly)
{
    fx_run(router(), NULL, c_bool, NULL);
}
END_TEST

static void c_all(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"/q/all?tag=a&x=1&tag=b+c&tag=", "3:a|b c|"},
        {"/q/all?tag=only", "1:only"},
        {"/q/all?%74ag=enc&tag", "2:enc|"},
        {"/q/all?x=1", "0:"},
        {"/q/all", "0:"},
        {"/q/all?tag=a&tag=%zz", "-22:"},
        {"/q/all?tag=%zz&tag=a", "-22:"},
        {"/q/all?tag=a&tag=%00", "-22:"},
    };

    (void)arg;
    CHECK_ALL(c, cases);
}

START_TEST(query_all_gives_every_value_of_a_repeated_key)
{
    fx_run(router(), NULL, c_all, NULL);
}
END_TEST

static void c_path(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"/q/names/a+b%20c", "0:a+b c -2:-"}, /* '+' stays in a path */
        {"/q/names/%2F", "0:/ -2:-"},
        {"/q/names/%zz", "-22:- -2:-"},
        {"/q/names/a%00", "-22:- -2:-"},
        {"/q/rest/a/b%20c", "0:a/b c"},
        {"/q/rest/", "0:"},
        {"/q/rest/%2e%2e/x", "0:../x"}, /* decoded: check for ".." */
        {"/q/rest/a//b/", "0:a//b/"},
        {"/q/rest/%zz", "-22:-"},
        {"/q/rest/x%00", "-22:-"},
        {"/", "0:"},                         /* a "/" + "*" route */
        {"/some/where?x=1", "0:some/where"}, /* the query is not in it */
        {"/q/none", "-2:- -2:7 0"},
    };

    (void)arg;
    CHECK_ALL(c, cases);
}

START_TEST(path_params_and_rest_are_decoded)
{
    fx_run(router(), NULL, c_path, NULL);
}
END_TEST

static void expect_get(httpc *c, const char *target, int status,
                       const char *body)
{
    httpc_res r;

    fx_get(c, target, &r);
    ck_assert_msg(r.status == status && strcmp(r.body, body) == 0,
                  "GET %s: %d '%s', expected %d '%s'", target, r.status, r.body,
                  status, body);
    httpc_res_free(&r);
}

static void c_mapped(httpc *c, void *arg)
{
    (void)arg;
    expect_get(c, "/h/limit", 200, "limit=20 desc=0");
    expect_get(c, "/h/limit?limit=5&desc", 200, "limit=5 desc=1");
    expect_get(c, "/h/limit?limit=abc", 400,
               "query parameter 'limit' is not an integer");
    expect_get(c, "/h/limit?limit=%zz", 400,
               "query parameter 'limit' is malformed");
    expect_get(c, "/h/limit?desc=maybe", 400,
               "query parameter 'desc' is not a boolean");
    expect_get(c, "/h/tags?tag=a&tag=b", 200, "tags=2");
    expect_get(c, "/h/tags?tag=a&tag=%zz", 400,
               "query parameter 'tag' is malformed");
    expect_get(c, "/h/users/42", 200, "id=42");
    expect_get(c, "/h/users/abc", 404, "path parameter 'id' is not an integer");
    expect_get(c, "/h/users/99999999999999999999", 404,
               "path parameter 'id' is not an integer");
    expect_get(c, "/h/users/%zz", 400, "path parameter 'id' is malformed");
    expect_get(c, "/h/files/a/b.txt", 200, "file=a/b.txt");
    expect_get(c, "/h/files/%zz", 400, "the path is malformed");
}

START_TEST(getter_codes_returned_by_handlers_become_400_or_404)
{
    fx_run(router(), NULL, c_mapped, NULL);
}
END_TEST

static void c_oom(httpc *c, void *arg)
{
    static const char raw[] = "GET /q/oom/n/r?v=1 HTTP/1.1\r\nHost: t\r\n"
                              "Cookie: c=1\r\n\r\n";
    char want[64];
    httpc_res r;

    (void)arg;
    snprintf(want, sizeof(want), "%d %d %d %d %d %d %d %d 0", -ENOMEM, -ENOMEM,
             -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM, -ENOMEM);
    fx_send(c, raw, sizeof(raw) - 1, &r);
    fx_expect(&r, 200, want);
}

/* GET /q/cookie?<name> with the given header lines; expect 'body'. */
static void cookie(httpc *c, const char *name, const char *hdrs,
                   const char *body)
{
    char raw[1024];
    int n =
        snprintf(raw, sizeof(raw),
                 "GET /q/cookie?%s HTTP/1.1\r\nHost: t\r\n%s\r\n", name, hdrs);
    httpc_res r;

    fx_send(c, raw, (size_t)n, &r);
    ck_assert_msg(r.status == 200 && strcmp(r.body, body) == 0,
                  "cookie %s in '%s': '%s', expected '%s'", name, hdrs, r.body,
                  body);
    httpc_res_free(&r);
}

static void c_cookie(httpc *c, void *arg)
{
    static const char two[] = "Cookie: a=1; sid=x%20y; b=\"q v\"\r\n"
                              "Cookie: sid=second; c=3\r\n";

    (void)arg;
    cookie(c, "sid", two, "0:x%20y"); /* the first, not decoded */
    cookie(c, "a", two, "0:1");
    cookie(c, "b", two, "0:q v"); /* quotes removed */
    cookie(c, "c", two, "0:3");   /* from the second field */
    cookie(c, "A", two, "-2:-");  /* names are case-sensitive */
    cookie(c, "si", two, "-2:-");
    cookie(c, "none", two, "-2:-");
    cookie(c, "", two, "-2:-");
    cookie(c, "sid", "", "-2:-");
    cookie(c, "e", "Cookie: e=; f\r\n", "0:");
    cookie(c, "f", "Cookie: e=; f\r\n", "-2:-");      /* no '=' */
    cookie(c, "g", "Cookie:  g = 1 ;g=2\r\n", "0:2"); /* "g " is not g */
    cookie(c, "h", "Cookie: h=\"\r\n", "0:\"");
    cookie(c, "i", "cOOKIE: i=v\r\n", "0:v");
    cookie(c, "j", "Cookie: x=1;j=2;\r\n", "0:2");
}

START_TEST(cookies_are_read_by_name)
{
    fx_run(router(), NULL, c_cookie, NULL);
}
END_TEST

START_TEST(getters_out_of_memory_are_enomem)
{
    fx_run(router(), NULL, c_oom, NULL);
}
END_TEST

void add_http_params_tests(Suite *s)
{
    TCase *tc = tcase_create("params");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, query_str_tells_absent_from_malformed);
    tcase_add_test(tc, query_int64_parses_strictly);
    tcase_add_test(tc, query_bool_parses_strictly);
    tcase_add_test(tc, query_all_gives_every_value_of_a_repeated_key);
    tcase_add_test(tc, path_params_and_rest_are_decoded);
    tcase_add_test(tc, getter_codes_returned_by_handlers_become_400_or_404);
    tcase_add_test(tc, getters_out_of_memory_are_enomem);
    tcase_add_test(tc, cookies_are_read_by_name);
    suite_add_tcase(s, tc);
}
