/* tests/test_client.c -- the HTTP client against greentor's own server.
 *
 * Each test runs its body on the same runtime as the server
 * (tests/client_fixture.h), so a call that blocked the loop would hang
 * its own server and fail the test by Check's timeout.
 *
 * Handlers report what they saw through atomics (the concurrency test runs
 * two workers). No timing thresholds: waits for the server to notice
 * something are bounded polls with generous limits. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_fixture.h"
#include "util.h"

/* ---- tests --------------------------------------------------------------- */

static int body_get(void *arg)
{
    gt_http_response *r;
    char err[GT_HTTP_ERRBUF_SIZE] = "x";
    gt_http_request rq = {.url = URL("/hello"), .errbuf = err};
    char name[64];
    size_t len;

    (void)arg;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_int_eq(gt_http_response_version(r), 11); /* plain http */
    ck_assert_str_eq(gt_http_response_body(r, &len), "Hello, World!");
    ck_assert_uint_eq(len, 13);
    ck_assert_str_eq(gt_http_response_header(r, "content-type"), "text/plain");
    ck_assert_str_eq(gt_http_response_header(r, "Content-Length"), "13");
    ck_assert_str_eq(gt_http_response_url(r), rq.url);
    gt_http_response_free(r);
    gt_http_response_free(NULL);

    /* By name: curl's resolver (a thread of its own in Debian's build)
     * reports back through a socket the loop watches too. */
    snprintf(name, sizeof(name), "http://localhost:%d/hello", fx.port);
    rq.url = name;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_str_eq(gt_http_response_body(r, NULL), "Hello, World!");
    gt_http_response_free(r);
    return 0;
}

START_TEST(test_get)
{
    with_server(body_get, 1);
}
END_TEST

static int body_post(void *arg)
{
    static const char payload[] = "name=greentor&kind=runtime";
    gt_http_header hs[] = {{"Content-Type", "text/plain"}};
    gt_http_request rq = {
        .url = URL("/echo"), .body = payload, .body_len = sizeof(payload) - 1};
    gt_http_response *r;
    size_t len;

    (void)arg;
    /* No method and a body: POST, curl's default Content-Type. */
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_str_eq(gt_http_response_body(r, &len), payload);
    ck_assert_uint_eq(len, sizeof(payload) - 1);
    ck_assert_str_eq(gt_http_response_header(r, "X-Method"), "POST");
    ck_assert_str_eq(gt_http_response_header(r, "X-Content-Type"),
                     "application/x-www-form-urlencoded");
    gt_http_response_free(r);

    /* PUT with our own Content-Type. */
    rq.method = "PUT";
    rq.headers = hs;
    rq.nheaders = 1;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_str_eq(gt_http_response_body(r, NULL), payload);
    ck_assert_str_eq(gt_http_response_header(r, "X-Method"), "PUT");
    ck_assert_str_eq(gt_http_response_header(r, "X-Content-Type"),
                     "text/plain");
    gt_http_response_free(r);

    /* A large body (no "Expect: 100-continue" handshake) comes back
     * whole; the server takes up to 1 MiB. */
    size_t n = 512 << 10;
    char *big = malloc(n);

    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    rq.method = "POST";
    rq.body = big;
    rq.body_len = n;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_uint_eq(strlen(gt_http_response_body(r, &len)), n);
    ck_assert_int_eq(memcmp(gt_http_response_body(r, NULL), big, n), 0);
    gt_http_response_free(r);
    free(big);
    return 0;
}

START_TEST(test_post)
{
    with_server(body_post, 1);
}
END_TEST

static int body_headers(void *arg)
{
    gt_http_header hs[] = {{"X-Test", "hello there"}, {"Accept", NULL}};
    gt_http_request rq = {.url = URL("/headers"), .headers = hs, .nheaders = 2};
    const char *name, *value;
    gt_http_response *r;
    int multi = 0;

    (void)arg;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 201);
    ck_assert_str_eq(gt_http_response_body(r, NULL), "x-test=hello there");
    ck_assert_str_eq(gt_http_response_header(r, "x-reply"), "got-hello there");
    ck_assert_str_eq(gt_http_response_header(r, "X-Multi"), "one");
    ck_assert_str_eq(gt_http_response_header(r, "X-UA"),
                     "greentor/" GT_VERSION_STRING);
    ck_assert_str_eq(gt_http_response_header(r, "X-Accept"), "(none)");
    ck_assert_uint_ge(gt_http_response_header_count(r), 3);
    for (size_t i = 0; i < gt_http_response_header_count(r); i++) {
        ck_assert_int_eq(gt_http_response_header_at(r, i, &name, &value), 0);
        if (strcmp(name, "X-Multi") == 0)
            ck_assert_str_eq(value, multi++ ? "two" : "one");
    }
    ck_assert_int_eq(multi, 2);
    ck_assert_int_eq(gt_http_response_header_at(
                         r, gt_http_response_header_count(r), &name, &value),
                     -ERANGE);
    ck_assert_ptr_null(gt_http_response_header(r, "X-Absent"));
    gt_http_response_free(r);

    /* A header name that would smuggle another line is refused. */
    hs[0].name = "X-Bad\r\nX-Evil";
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), -EINVAL);
    ck_assert_ptr_null(r);
    return 0;
}

START_TEST(test_headers)
{
    with_server(body_headers, 1);
}
END_TEST

static int body_status(void *arg)
{
    gt_http_response *r;

    (void)arg;
    ck_assert_int_eq(get_path("/nowhere", &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 404);
    gt_http_response_free(r);
    ck_assert_int_eq(get_path("/hello?x=1", &r, GT_NEVER), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    gt_http_response_free(r);
    /* Method not allowed passes through too. */
    gt_http_request rq = {.url = URL("/hello"), .method = "DELETE"};
    size_t len;

    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), 0);
    ck_assert_int_eq(gt_http_response_status(r), 405);
    gt_http_response_free(r);
    /* HEAD: the head only. */
    rq.method = "HEAD";
    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_str_eq(gt_http_response_body(r, &len), "");
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(gt_http_response_header(r, "Content-Length"), "13");
    gt_http_response_free(r);
    return 0;
}

START_TEST(test_status)
{
    with_server(body_status, 1);
}
END_TEST

static int body_redirect(void *arg)
{
    gt_http_request rq = {.url = URL("/redirect")};
    gt_http_response *r;

    (void)arg;
    /* Off by default: the 302 is the response. */
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 302);
    ck_assert_str_eq(gt_http_response_header(r, "Location"), "/hello");
    gt_http_response_free(r);
    rq.max_redirects = 3;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    ck_assert_str_eq(gt_http_response_body(r, NULL), "Hello, World!");
    ck_assert_str_eq(gt_http_response_url(r), URL("/hello"));
    /* Only the last hop's headers. */
    ck_assert_ptr_null(gt_http_response_header(r, "Location"));
    gt_http_response_free(r);
    rq.url = URL("/loop");
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), -ELOOP);
    ck_assert_ptr_null(r);
    return 0;
}

START_TEST(test_redirect)
{
    with_server(body_redirect, 1);
}
END_TEST

static int body_size_cap(void *arg)
{
    char err[GT_HTTP_ERRBUF_SIZE];
    gt_http_request rq = {
        .url = URL("/big?n=100000"), .max_response = 1000, .errbuf = err};
    gt_http_response *r;
    size_t len;

    (void)arg;
    /* Announced by Content-Length. */
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), -EFBIG);
    ck_assert_ptr_null(r);
    ck_assert_str_ne(err, "");
    /* Found out while reading a chunked body. */
    rq.url = URL("/chunked?n=100000");
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), -EFBIG);
    /* Exactly at the cap is fine, both ways. */
    rq.max_response = 100000;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_uint_eq(strlen(gt_http_response_body(r, &len)), 100000);
    ck_assert_uint_eq(len, 100000);
    gt_http_response_free(r);
    rq.url = URL("/big?n=100000");
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_uint_eq(strlen(gt_http_response_body(r, NULL)), 100000);
    gt_http_response_free(r);
    /* And the connection was not poisoned by the refusals. */
    ck_assert_int_eq(get_path("/hello", &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    gt_http_response_free(r);
    return 0;
}

START_TEST(test_size_cap)
{
    with_server(body_size_cap, 1);
}
END_TEST

/* Poll (bounded) until the server's /hang handler has ended. */
static int wait_hang_ended(void)
{
    for (int i = 0; i < 500 && atomic_load(&cl_hang_rc) == 0; i++)
        gt_sleep(10);
    return atomic_load(&cl_hang_rc);
}

static int body_deadline(void *arg)
{
    gt_http_response *r = (void *)1;

    (void)arg;
    ck_assert_int_eq(get_path("/hang", &r, gt_deadline_in(200)), -ETIMEDOUT);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(atomic_load(&cl_hang_started), 1);
    /* The worker answers at once afterwards. */
    ck_assert_int_eq(get_path("/hello", &r, gt_deadline_in(10000)), 0);
    gt_http_response_free(r);
    /* The server saw the connection close: its handler was cancelled. */
    ck_assert_int_eq(wait_hang_ended(), -ECANCELED);
    /* A deadline already past starts nothing. */
    ck_assert_int_eq(get_path("/hang", &r, 0), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&cl_hang_started), 1);
    /* The coroutine's own deadline bounds the call as well. */
    gt_co_set_deadline(gt_co_self(), gt_deadline_in(200));
    ck_assert_int_eq(get_path("/hang", &r, GT_NEVER), -ETIMEDOUT);
    gt_co_set_deadline(gt_co_self(), GT_NEVER);
    return 0;
}

START_TEST(test_deadline)
{
    with_server(body_deadline, 1);
}
END_TEST

static int fetch_hang(void *arg)
{
    gt_http_response *r;

    (void)arg;
    return get_path("/hang", &r, GT_NEVER);
}

static int body_cancel(void *arg)
{
    gt_http_response *r;
    gt_co *child;
    int result = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&child, fetch_hang, NULL), 0);
    for (int i = 0; i < 500 && !atomic_load(&cl_hang_started); i++)
        gt_sleep(10);
    ck_assert_int_eq(atomic_load(&cl_hang_started), 1);
    ck_assert_uint_eq(open_conns(), 1);
    /* While it waits, the worker serves other fetches. */
    ck_assert_int_eq(get_path("/hello", &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 200);
    gt_http_response_free(r);
    ck_assert_int_eq(atomic_load(&cl_hang_rc), 0);
    ck_assert_uint_eq(open_conns(), 2); /* the second one stays cached */
    gt_co_cancel(child);
    ck_assert_int_eq(gt_co_join(child, &result, gt_deadline_in(5000)), 0);
    ck_assert_int_eq(result, -ECANCELED);
    /* The server sees the connection closed: it cancels the handler and
     * drops the connection. */
    ck_assert_int_eq(wait_hang_ended(), -ECANCELED);
    for (int i = 0; i < 500 && open_conns() > 1; i++)
        gt_sleep(10);
    ck_assert_uint_eq(open_conns(), 1);
    /* A cancelled caller starts nothing. */
    gt_co_cancel(gt_co_self());
    ck_assert_int_eq(fetch_hang(NULL), -ECANCELED);
    ck_assert_int_eq(atomic_load(&cl_hang_started), 1);
    return 0;
}

START_TEST(test_cancel)
{
    with_server(body_cancel, 1);
}
END_TEST

static int fetch_proxy(void *arg)
{
    gt_http_response *r;

    (void)arg;
    return get_path("/proxy", &r, GT_NEVER);
}

/* A request whose client goes away aborts the fetches its handler has in
 * flight: client -> /proxy -> /hang, and the client gives up. */
static int body_cancel_chain(void *arg)
{
    gt_co *child;
    int result = 0;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&child, fetch_proxy, NULL), 0);
    for (int i = 0; i < 500 && !atomic_load(&cl_hang_started); i++)
        gt_sleep(10);
    ck_assert_int_eq(atomic_load(&cl_hang_started), 1);
    gt_co_cancel(child);
    ck_assert_int_eq(gt_co_join(child, &result, gt_deadline_in(5000)), 0);
    ck_assert_int_eq(result, -ECANCELED);
    /* The server cancelled /proxy, whose fetch was cancelled, which closed
     * its connection, so the server cancelled /hang too. */
    ck_assert_int_eq(wait_hang_ended(), -ECANCELED);
    ck_assert_int_eq(atomic_load(&cl_proxy_rc), -ECANCELED);
    return 0;
}

START_TEST(test_cancel_chain)
{
    with_server(body_cancel_chain, 1);
}
END_TEST

static int body_keepalive(void *arg)
{
    uint64_t before = accepted();
    gt_http_response *r;

    (void)arg;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(get_path("/hello", &r, gt_deadline_in(10000)), 0);
        ck_assert_int_eq(gt_http_response_status(r), 200);
        gt_http_response_free(r);
    }
    ck_assert_uint_eq(accepted() - before, 1);
    ck_assert_uint_eq(open_conns(), 1);
    return 0;
}

START_TEST(test_keepalive)
{
    with_server(body_keepalive, 1);
}
END_TEST

/* Coroutines that each fetch in a loop keep their connections: a burst
 * of finished transfers (each leaves the multi at once, and its coroutine
 * starts the next call only later) must not shrink libcurl's connection
 * cache and close connections about to be reused. With libcurl's default
 * cache this opened a new connection for about one call in ten. */
#define LOOPERS 16
#define LOOPS 25

static int fetch_loop(void *arg)
{
    (void)arg;
    for (int i = 0; i < LOOPS; i++) {
        gt_http_response *r;

        ck_assert_int_eq(get_path("/hello", &r, gt_deadline_in(20000)), 0);
        ck_assert_int_eq(gt_http_response_status(r), 200);
        gt_http_response_free(r);
    }
    return 0;
}

static int body_keepalive_many(void *arg)
{
    gt_co *cos[LOOPERS];
    uint64_t before = accepted(), n;

    (void)arg;
    for (int i = 0; i < LOOPERS; i++)
        ck_assert_int_eq(gt_co_spawn(&cos[i], fetch_loop, NULL), 0);
    for (int i = 0; i < LOOPERS; i++)
        ck_assert_int_eq(gt_co_join(cos[i], NULL, GT_NEVER), 0);
    n = accepted() - before;
    ck_assert_msg(n <= LOOPERS, "%llu connections for %d coroutines",
                  (unsigned long long)n, LOOPERS);
    return 0;
}

START_TEST(test_keepalive_many)
{
    with_server(body_keepalive_many, 1);
}
END_TEST

/* ---- many at once -------------------------------------------------------- */

#define PER_WORKER 25

static atomic_int fetched_ok, batches_done;

static int fetch_seq(void *arg)
{
    int i = (int)(intptr_t)arg;
    char path[32], want[32];
    gt_http_response *r;

    snprintf(path, sizeof(path), "/seq?i=%d", i);
    snprintf(want, sizeof(want), "seq=%d", i);
    if (get_path(path, &r, gt_deadline_in(20000)) == 0 &&
        gt_http_response_status(r) == 200 &&
        strcmp(gt_http_response_body(r, NULL), want) == 0)
        atomic_fetch_add(&fetched_ok, 1);
    /* r is not freed: the coroutine's end frees it (ASan would report a
     * leak otherwise). */
    return 0;
}

/* Spawn PER_WORKER fetches on this worker and wait for them all. */
static int batch(void *arg)
{
    int base = (int)(intptr_t)arg;
    gt_co *cos[PER_WORKER];

    for (int i = 0; i < PER_WORKER; i++)
        ck_assert_int_eq(
            gt_co_spawn(&cos[i], fetch_seq, (void *)(intptr_t)(base + i)), 0);
    for (int i = 0; i < PER_WORKER; i++)
        ck_assert_int_eq(gt_co_join(cos[i], NULL, GT_NEVER), 0);
    atomic_fetch_add(&batches_done, 1);
    return 0;
}

static int body_concurrent(void *arg)
{
    (void)arg;
    atomic_store(&fetched_ok, 0);
    atomic_store(&batches_done, 0);
    ck_assert_int_eq(gt_rt_post(fx.rt, 1, batch, (void *)(intptr_t)1000), 0);
    batch((void *)(intptr_t)0);
    for (int i = 0; i < 2000 && atomic_load(&batches_done) < 2; i++)
        gt_sleep(10);
    ck_assert_int_eq(atomic_load(&batches_done), 2);
    ck_assert_int_eq(atomic_load(&fetched_ok), 2 * PER_WORKER);
    return 0;
}

START_TEST(test_concurrent)
{
    with_server(body_concurrent, 2);
}
END_TEST

/* ---- failures without a server ------------------------------------------- */

static int body_errors(void *arg)
{
    char err[GT_HTTP_ERRBUF_SIZE];
    gt_http_request rq = {.url = "ftp://127.0.0.1/x", .errbuf = err};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    gt_http_response *r;
    char buf[64];
    int fd;

    (void)arg;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), -EINVAL);
    ck_assert_str_ne(err, "");
    rq.url = "not a url";
    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), -EINVAL);
    rq.url = NULL;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), -EINVAL);
    rq.url = "http://127.0.0.1:1/";
    rq.body_len = 10; /* and no body */
    ck_assert_int_eq(gt_http_fetch(&rq, &r, GT_NEVER), -EINVAL);
    rq.body_len = 0;
    ck_assert_int_eq(gt_http_fetch(&rq, NULL, GT_NEVER), -EINVAL);
    /* A port nobody listens on (bound, never listened, then closed). */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    close(fd);
    rq.url = buf;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)),
                     -ECONNREFUSED);
    /* A server that takes the connection (the kernel does, from the
     * backlog) and never answers: the deadline ends the call. */
    alen = sizeof(a);
    a.sin_port = 0;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/", ntohs(a.sin_port));
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(200)), -ETIMEDOUT);
    ck_assert_ptr_null(r);
    close(fd);
    return 0;
}

START_TEST(test_errors)
{
    with_server(body_errors, 1);
}
END_TEST

/* Fail each allocation of a fetch in turn (the server's too: they share
 * the process): the call reports -ENOMEM, or the server's trouble
 * (a 5xx, a dropped connection), never crashes, and nothing leaks (ASan's
 * leak check at the child's exit). Then a fetch works again. */
static int body_oom(void *arg)
{
    gt_http_header hs[] = {{"X-Test", "oom"}};
    gt_http_request rq = {.url = URL("/headers"), .headers = hs, .nheaders = 1};
    gt_http_response *r;
    int failed = 0;

    (void)arg;
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    gt_http_response_free(r);
    for (long n = 1; n < 200; n++) {
        long made;
        int rc;

        gt_alloc_fail(n, 0);
        rc = gt_http_fetch(&rq, &r, gt_deadline_in(10000));
        made = gt_alloc_fail(0, 0);
        ck_assert_msg(rc == 0 || rc == -ENOMEM || rc == -ECONNRESET,
                      "allocation %ld: %s", n, gt_strerror(rc));
        failed += rc == -ENOMEM;
        if (rc == 0)
            gt_http_response_free(r);
        else
            ck_assert_ptr_null(r);
        if (made < n)
            break; /* the n-th allocation was never reached */
    }
    ck_assert_int_gt(failed, 0);
    ck_assert_int_eq(gt_http_fetch(&rq, &r, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_http_response_status(r), 201);
    gt_http_response_free(r);
    return 0;
}

START_TEST(test_oom)
{
    with_server(body_oom, 1);
}
END_TEST

static int outside_coroutine(void)
{
    gt_http_request rq = {.url = "http://127.0.0.1:1/"};
    gt_http_response *r;

    return gt_http_fetch(&rq, &r, GT_NEVER);
}

START_TEST(test_not_in_worker)
{
    ck_assert_int_eq(outside_coroutine(), -EINVAL);
}
END_TEST

void add_client_tests(Suite *s)
{
    TCase *tc = tcase_create("client");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_post);
    tcase_add_test(tc, test_headers);
    tcase_add_test(tc, test_status);
    tcase_add_test(tc, test_redirect);
    tcase_add_test(tc, test_size_cap);
    tcase_add_test(tc, test_deadline);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_cancel_chain);
    tcase_add_test(tc, test_keepalive);
    tcase_add_test(tc, test_keepalive_many);
    tcase_add_test(tc, test_concurrent);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_oom);
    tcase_add_test(tc, test_not_in_worker);
    suite_add_tcase(s, tc);
}
