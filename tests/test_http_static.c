/* tests/test_http_static.c -- gt_http_static_serve through the real
 * server: which files a URL can reach, the fields, 304, ranges, HEAD,
 * files streamed in chunks.
 *
 * Each test makes a directory of its own under /tmp with a few files, a
 * big one (larger than the 64 KiB read whole, so it is streamed) and a
 * file outside the root that traversal attempts aim at. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_fixture.h"

#define BIG_SIZE (200 * 1024 + 7)

static char top[64];      /* the test's directory */
static char root[96];     /* top/www, the served root */
static gt_http_static st; /* its configuration */

static void put_file(const char *dir, const char *name, const char *data,
                     size_t n)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char big_byte(size_t i)
{
    return (char)('a' + (i * 7 + i / 251) % 26);
}

static void make_tree(void)
{
    char path[160], *big = malloc(BIG_SIZE);

    snprintf(top, sizeof(top), "/tmp/gt-static-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(root, sizeof(root), "%s/www", top);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub", root);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    put_file(top, "secret", "secret", 6);
    put_file(root, "index.html", "<h1>hi</h1>", 11);
    put_file(root, "a.css", "body{}", 6);
    put_file(root, "blob.xyz", "xyz", 3);
    put_file(root, "favicon.ico", "ico", 3);
    put_file(root, ".env", "PASSWORD=1", 10);
    put_file(root, "empty.txt", "", 0);
    put_file(path, "index.html", "sub index", 9);
    put_file(root, "locked.txt", "locked", 6);
    snprintf(path, sizeof(path), "%s/locked.txt", root);
    ck_assert_int_eq(chmod(path, 0), 0);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = big_byte(i);
    put_file(root, "big.bin", big, BIG_SIZE);
    free(big);
}

static void remove_tree(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
    ck_assert_int_eq(system(cmd), 0);
}

static gt_http_router *router(void)
{
    gt_http_router *r;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    ck_assert_int_eq(
        gt_http_router_add(r, NULL, "/static/*", gt_http_static_serve, &st), 0);
    ck_assert_int_eq(
        gt_http_router_add(r, "GET", "/favicon.ico", gt_http_static_serve, &st),
        0);
    return r;
}

/* ---- helpers ------------------------------------------------------------- */

static void req_hdrs(httpc *c, const char *method, const char *target,
                     const char *hdrs, httpc_res *r)
{
    char raw[1024];
    int n = snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                     method, target, hdrs);

    fx_send(c, raw, (size_t)n, r);
}

static const char *field(const httpc_res *r, const char *name)
{
    static char v[256];

    httpc_header(r, name, v, sizeof(v));
    return v;
}

static void expect_status(httpc *c, const char *target, int status)
{
    httpc_res r;

    fx_get(c, target, &r);
    ck_assert_msg(r.status == status, "GET %s: %d, expected %d", target,
                  r.status, status);
    ck_assert_ptr_null(strstr(r.body, "secret"));
    ck_assert_ptr_null(strstr(r.body, "PASSWORD"));
    httpc_res_free(&r);
}

/* ---- tests --------------------------------------------------------------- */

static void c_files(httpc *c, void *arg)
{
    httpc_res r;

    (void)arg;
    fx_get(c, "/static/a.css", &r);
    ck_assert_str_eq(field(&r, "Content-Type"), "text/css; charset=utf-8");
    ck_assert_str_eq(field(&r, "Accept-Ranges"), "bytes");
    ck_assert_str_eq(field(&r, "Cache-Control"), "no-cache");
    ck_assert_int_eq(field(&r, "ETag")[0], '"');
    ck_assert_str_eq(field(&r, "Content-Length"), "6");
    ck_assert_ptr_nonnull(strstr(field(&r, "Last-Modified"), " GMT"));
    fx_expect(&r, 200, "body{}");

    fx_get(c, "/static/", &r);
    ck_assert_str_eq(field(&r, "Content-Type"), "text/html; charset=utf-8");
    fx_expect(&r, 200, "<h1>hi</h1>");
    fx_get(c, "/static/sub", &r);
    ck_assert_str_eq(field(&r, "Location"), "/static/sub/");
    fx_expect(&r, 301, "");
    fx_get(c, "/static/sub/", &r);
    fx_expect(&r, 200, "sub index");
    fx_get(c, "/static/sub//index.html", &r);
    fx_expect(&r, 200, "sub index");
    fx_get(c, "/static/blob.xyz", &r);
    ck_assert_str_eq(field(&r, "Content-Type"), "application/octet-stream");
    fx_expect(&r, 200, "xyz");
    fx_get(c, "/static/empty.txt", &r);
    fx_expect(&r, 200, "");
    fx_get(c, "/favicon.ico", &r); /* a route without "*" */
    fx_expect(&r, 200, "ico");
    fx_get(c, "/static/a%2ecss", &r); /* decoded */
    fx_expect(&r, 200, "body{}");

    /* Nothing outside the root, nothing hidden. */
    expect_status(c, "/static/../secret", 404);
    expect_status(c, "/static/%2e%2e/secret", 404);
    expect_status(c, "/static/sub/..%2f..%2fsecret", 404);
    expect_status(c, "/static/sub/%2E%2E/%2E%2E/secret", 404);
    expect_status(c, "/static/./a.css", 404);
    expect_status(c, "/static/.env", 404);
    expect_status(c, "/static/nope.css", 404);
    expect_status(c, "/static/a.css/", 404); /* not a directory */
    expect_status(c, "/static/a.css/x", 404);
    expect_status(c, "/static/%zz", 400);
    if (geteuid() != 0) /* root reads it anyway */
        expect_status(c, "/static/locked.txt", 403);

    req_hdrs(c, "POST", "/static/a.css", "Content-Length: 0\r\n", &r);
    ck_assert_str_eq(field(&r, "Allow"), "GET, HEAD");
    ck_assert_int_eq(r.status, 405);
    httpc_res_free(&r);
}

START_TEST(static_files_below_the_root_only)
{
    make_tree();
    st = (gt_http_static){.root = root};
    fx_run(router(), NULL, c_files, NULL);
    remove_tree();
}
END_TEST

static void c_conditional(httpc *c, void *arg)
{
    char etag[256], lm[256], hdrs[512];
    httpc_res r;

    (void)arg;
    fx_get(c, "/static/a.css", &r);
    ck_assert_str_eq(field(&r, "Cache-Control"), "public, max-age=60");
    snprintf(etag, sizeof(etag), "%s", field(&r, "ETag"));
    snprintf(lm, sizeof(lm), "%s", field(&r, "Last-Modified"));
    httpc_res_free(&r);

    snprintf(hdrs, sizeof(hdrs), "If-None-Match: %s\r\n", etag);
    req_hdrs(c, "GET", "/static/a.css", hdrs, &r);
    ck_assert_str_eq(field(&r, "ETag"), etag);
    fx_expect(&r, 304, "");
    snprintf(hdrs, sizeof(hdrs), "If-None-Match: \"x\", W/%s\r\n", etag);
    req_hdrs(c, "GET", "/static/a.css", hdrs, &r);
    fx_expect(&r, 304, "");
    req_hdrs(c, "GET", "/static/a.css", "If-None-Match: *\r\n", &r);
    fx_expect(&r, 304, "");
    req_hdrs(c, "GET", "/static/a.css", "If-None-Match: \"other\"\r\n", &r);
    fx_expect(&r, 200, "body{}");
    /* If-None-Match wins over a matching If-Modified-Since. */
    snprintf(hdrs, sizeof(hdrs),
             "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", lm);
    req_hdrs(c, "GET", "/static/a.css", hdrs, &r);
    fx_expect(&r, 200, "body{}");
    snprintf(hdrs, sizeof(hdrs), "If-Modified-Since: %s\r\n", lm);
    req_hdrs(c, "GET", "/static/a.css", hdrs, &r);
    fx_expect(&r, 304, "");
    req_hdrs(c, "GET", "/static/a.css",
             "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n", &r);
    fx_expect(&r, 200, "body{}");
    req_hdrs(c, "GET", "/static/a.css", "If-Modified-Since: yesterday\r\n", &r);
    fx_expect(&r, 200, "body{}");
}

START_TEST(static_files_conditional_requests)
{
    make_tree();
    st = (gt_http_static){.root = root, .max_age = 60};
    fx_run(router(), NULL, c_conditional, NULL);
    remove_tree();
}
END_TEST

/* The big file's bytes [from, from + n) as a string. */
static char *big_part(size_t from, size_t n)
{
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        s[i] = big_byte(from + i);
    s[n] = '\0';
    return s;
}

static void expect_big(httpc_res *r, int status, size_t from, size_t n)
{
    char *want = big_part(from, n);

    ck_assert_int_eq(r->status, status);
    ck_assert_uint_eq(r->body_len, n);
    ck_assert_msg(memcmp(r->body, want, n) == 0, "bytes differ");
    free(want);
    httpc_res_free(r);
}

static void c_ranges(httpc *c, void *arg)
{
    char etag[256], hdrs[512], want[64];
    httpc_res r;

    (void)arg;
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=0-3\r\n", &r);
    ck_assert_str_eq(field(&r, "Content-Range"), "bytes 0-3/6");
    snprintf(etag, sizeof(etag), "%s", field(&r, "ETag"));
    fx_expect(&r, 206, "body");
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=-2\r\n", &r);
    ck_assert_str_eq(field(&r, "Content-Range"), "bytes 4-5/6");
    fx_expect(&r, 206, "{}");
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=-100\r\n", &r);
    fx_expect(&r, 206, "body{}");
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=2-\r\n", &r);
    fx_expect(&r, 206, "dy{}");
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=4-99\r\n", &r);
    ck_assert_str_eq(field(&r, "Content-Range"), "bytes 4-5/6");
    fx_expect(&r, 206, "{}");
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=6-\r\n", &r);
    ck_assert_str_eq(field(&r, "Content-Range"), "bytes */6");
    ck_assert_int_eq(r.status, 416);
    httpc_res_free(&r);
    req_hdrs(c, "GET", "/static/a.css", "Range: bytes=-0\r\n", &r);
    ck_assert_int_eq(r.status, 416);
    httpc_res_free(&r);
    req_hdrs(c, "GET", "/static/empty.txt", "Range: bytes=0-\r\n", &r);
    ck_assert_int_eq(r.status, 416);
    httpc_res_free(&r);
    /* Not understood, or several: the whole file. */
    static const char *const whole[] = {
        "Range: bytes=0-1,3-4\r\n",
        "Range: items=0-1\r\n",
        "Range: bytes=3-1\r\n",
        "Range: bytes=x-1\r\n",
        "Range: bytes=-\r\n",
        "If-Range: \"stale\"\r\nRange: bytes=0-1\r\n",
        "If-Range: Sat, 01 Jan 2000 00:00:00 GMT\r\nRange: bytes=0-1\r\n",
    };
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        req_hdrs(c, "GET", "/static/a.css", whole[i], &r);
        ck_assert_msg(r.status == 200 && strcmp(r.body, "body{}") == 0,
                      "'%s': %d", whole[i], r.status);
        httpc_res_free(&r);
    }
    snprintf(hdrs, sizeof(hdrs), "If-Range: %s\r\nRange: bytes=0-1\r\n", etag);
    req_hdrs(c, "GET", "/static/a.css", hdrs, &r);
    fx_expect(&r, 206, "bo");

    /* The big file, streamed, whole and in part. */
    fx_get(c, "/static/big.bin", &r);
    snprintf(want, sizeof(want), "%d", BIG_SIZE);
    ck_assert_str_eq(field(&r, "Content-Length"), want);
    ck_assert_int_eq(httpc_header_count(&r, "Transfer-Encoding"), 0);
    expect_big(&r, 200, 0, BIG_SIZE);
    req_hdrs(c, "GET", "/static/big.bin", "Range: bytes=70000-170000\r\n", &r);
    expect_big(&r, 206, 70000, 100001);
    req_hdrs(c, "GET", "/static/big.bin", "Range: bytes=100-199\r\n", &r);
    expect_big(&r, 206, 100, 100);
}

START_TEST(static_files_ranges)
{
    make_tree();
    st = (gt_http_static){.root = root, .max_age = -1};
    fx_run(router(), NULL, c_ranges, NULL);
    remove_tree();
}
END_TEST

static void c_head(httpc *c, void *arg)
{
    const char *heads[] = {"HEAD /static/a.css HTTP/1.1\r\nHost: t\r\n\r\n",
                           "HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n"};
    const char *lens[] = {"6", "204807"};
    int64_t dl = gt_deadline_in(10000);
    httpc_res r;

    (void)arg;
    ck_assert_int_eq(httpc_connect(c, dl), 0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(httpc_send(c, heads[i], strlen(heads[i]), dl), 0);
        ck_assert_int_eq(httpc_read_head(c, &r, dl), 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(field(&r, "Content-Length"), lens[i]);
        ck_assert_int_eq(httpc_header_count(&r, "Cache-Control"), 0);
        httpc_res_free(&r);
    }
    /* No body bytes were sent: the next answer follows at once. */
    fx_get(c, "/static/a.css", &r);
    fx_expect(&r, 200, "body{}");
}

START_TEST(static_files_head)
{
    make_tree();
    st = (gt_http_static){.root = root, .index = "", .max_age = -1};
    fx_run(router(), NULL, c_head, NULL);
    remove_tree();
}
END_TEST

static void c_no_index(httpc *c, void *arg)
{
    (void)arg;
    expect_status(c, "/static/", 404);
    expect_status(c, "/static/sub/", 404);
}

START_TEST(static_files_without_index)
{
    make_tree();
    st = (gt_http_static){.root = root, .index = ""};
    fx_run(router(), NULL, c_no_index, NULL);
    remove_tree();
}
END_TEST

void add_http_static_tests(Suite *s)
{
    TCase *tc = tcase_create("static");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, static_files_below_the_root_only);
    tcase_add_test(tc, static_files_conditional_requests);
    tcase_add_test(tc, static_files_ranges);
    tcase_add_test(tc, static_files_head);
    tcase_add_test(tc, static_files_without_index);
    suite_add_tcase(s, tc);
}
