/* tests/test_http_server.c -- the HTTP server over real loopback sockets.
 *
 * Each test starts a runtime on a background thread with a server on an
 * ephemeral port and talks to it from the test thread with plain blocking
 * sockets (SO_RCVTIMEO, so a server that stops answering fails the test
 * instead of hanging it). The client parses responses itself -- status,
 * Content-Length, chunked, close-delimited -- so every framing rule is
 * checked from the outside. Handlers report what they saw through atomics.
 *
 * No timing thresholds: where time matters (timeouts, drain), the test
 * uses short server timeouts and only checks generous upper bounds. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h" /* the worker's free lists, for one test */
#include "util.h"

/* ---- handlers ------------------------------------------------------------ */

static atomic_int live_locals, hang_started, hang_cleaned, hang_rc;
static atomic_int slow_started, big_rc;
static gt_local_key local_key;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static const char hello[] = "Hello, World!";

static int h_plaintext(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    gt_http_res_body_static(res, hello, sizeof(hello) - 1);
    return 0;
}

static int h_json(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_json(res, json_pack("{ss}", "message", hello));
}

static int h_echo(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_body(res, body, len);
}

static int h_len(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_printf(res, "len=%zu", len);
}

static int h_seq(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *i = gt_http_req_query(req, "i");

    (void)arg;
    return gt_http_res_printf(res, "%s", i ? i : "?");
}

static int h_query(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = gt_http_req_query(req, "name");

    (void)arg;
    return gt_http_res_printf(res, "name=%s", v ? v : "(none)");
}

static int h_user(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *post = gt_http_req_param(req, "post");

    (void)arg;
    if (post)
        return gt_http_res_printf(res, "user=%s post=%s",
                                  gt_http_req_param(req, "id"), post);
    return gt_http_res_printf(res, "user=%s", gt_http_req_param(req, "id"));
}

static int h_static(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)arg;
    return gt_http_res_printf(res, "static %s via %s", gt_http_req_path(req),
                              gt_http_req_route(req));
}

static int h_header(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = gt_http_req_header(req, "x-TEST");

    (void)arg;
    for (int i = 0; i < 40; i++) { /* outgrow the inline header buffer */
        char name[16];

        snprintf(name, sizeof(name), "X-H%d", i);
        gt_http_res_header(res, name, "a-value-of-some-length-to-fill-it");
    }
    gt_http_res_header(res, "X-Reply", "yes");
    return gt_http_res_printf(res, "x-test=%s", v ? v : "(none)");
}

static int h_err(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_printf(res, "never sent");
    return -EIO;
}

static int h_pool(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return GT_EPOOL;
}

/* What a query returns when the database went away mid-request. */
static int h_db_gone(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return -ECONNRESET;
}

static int h_sleep(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return gt_sleep(10000);
}

static int h_late(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_sleep(10000);
    return gt_http_res_printf(res, "too late");
}

static void local_dtor(void *v)
{
    (void)v;
    gt_sleep(20); /* a destructor doing I/O, like a pool's rollback */
    atomic_fetch_sub(&live_locals, 1);
}

static void make_local_key(void)
{
    gt_local_key_new(&local_key, local_dtor);
}

static int h_local(gt_http_req *req, gt_http_res *res, void *arg)
{
    int before = atomic_load(&live_locals);

    (void)req, (void)arg;
    atomic_fetch_add(&live_locals, 1);
    gt_local_set(local_key, &live_locals);
    return gt_http_res_printf(res, "before=%d", before);
}

static void hang_cleanup(void *arg)
{
    (void)arg;
    atomic_store(&hang_cleaned, 1);
}

static int h_hang(gt_http_req *req, gt_http_res *res, void *arg)
{
    int rc;

    (void)req, (void)res, (void)arg;
    gt_co_defer(hang_cleanup, NULL);
    atomic_store(&hang_started, 1);
    rc = gt_sleep(60000);
    atomic_store(&hang_rc, rc);
    return rc;
}

static int h_slow(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    atomic_fetch_add(&slow_started, 1);
    gt_sleep(300);
    return gt_http_res_printf(res, "done");
}

/* /hold answers once 'hold_want' requests are in it at once (or after
 * 10 s); /freelists shows the length of its worker's free lists. */
static atomic_int hold_in, hold_want;

static int h_hold(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    atomic_fetch_add(&hold_in, 1);
    for (int i = 0; i < 2000 && atomic_load(&hold_in) < atomic_load(&hold_want);
         i++)
        gt_sleep(5);
    return gt_http_res_printf(res, "held");
}

static int h_freelists(gt_http_req *req, gt_http_res *res, void *arg)
{
    const gt__http_worker *w = req->conn->w;

    (void)arg;
    return gt_http_res_printf(res, "%zu %zu", w->bufs.n, w->reqs.n);
}

static int h_stream(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char *parts[] = {"part1", "part2", "part3"};
    int rc = 0;

    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = gt_http_res_write(res, parts[i], 5);
        if (rc == 0)
            rc = gt_yield();
    }
    return rc;
}

/* Streams up to 256 MiB in 64 KiB parts, for a client that never reads. */
static int h_big(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char part[64 * 1024];
    int rc = 0;

    (void)req, (void)arg;
    for (int i = 0; i < 4096 && rc == 0; i++)
        rc = gt_http_res_write(res, part, sizeof(part));
    atomic_store(&big_rc, rc == 0 ? 1 : rc);
    return rc;
}

static int json_depth(const json_t *j)
{
    int deepest = 0;

    if (json_is_array(j))
        for (size_t i = 0; i < json_array_size(j); i++) {
            int d = json_depth(json_array_get(j, i));

            deepest = d > deepest ? d : deepest;
        }
    return json_is_array(j) ? deepest + 1 : 0;
}

/* Parses with jansson on the request coroutine's stack, as users do. */
static int h_json_depth(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    json_error_t err;
    json_t *j;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    if (rc < 0)
        return rc;
    j = json_loadb(body, len, 0, &err);
    if (!j) {
        gt_http_res_status(res, 400);
        return gt_http_res_printf(res, "bad json: %s", err.text);
    }
    rc = gt_http_res_printf(res, "depth=%d", json_depth(j));
    json_decref(j);
    return rc;
}

static int h_root(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "root");
}

static gt_http_router *make_router(void)
{
    static const struct {
        const char *method, *pattern;
        gt_http_handler fn;
    } routes[] = {
        {"GET", "/", h_root},
        {"GET", "/plaintext", h_plaintext},
        {"GET", "/json", h_json},
        {"POST", "/echo", h_echo},
        {"POST", "/len", h_len},
        {"POST", "/json/depth", h_json_depth},
        {"GET", "/seq", h_seq},
        {"GET", "/q", h_query},
        {"GET", "/users/:id", h_user},
        {"GET", "/users/:id/posts/:post", h_user},
        {"GET", "/users/me", h_root},
        {"GET", "/static/*", h_static},
        {"GET", "/hdr", h_header},
        {NULL, "/err", h_err},
        {"GET", "/pool", h_pool},
        {"GET", "/dbgone", h_db_gone},
        {"GET", "/sleep", h_sleep},
        {"GET", "/late", h_late},
        {"GET", "/local", h_local},
        {"GET", "/hang", h_hang},
        {"GET", "/slow", h_slow},
        {"GET", "/stream", h_stream},
        {"GET", "/big", h_big},
        {"GET", "/hold", h_hold},
        {"GET", "/freelists", h_freelists},
        {"DELETE", "/plaintext", h_plaintext},
    };
    gt_http_router *r;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        ck_assert_int_eq(gt_http_router_add(r, routes[i].method,
                                            routes[i].pattern, routes[i].fn,
                                            NULL),
                         0);
    return r;
}

/* ---- the server under test ----------------------------------------------- */

typedef struct server {
    gt_rt *rt;
    gt_http_server *srv;
    gt_http_router *router;
    pthread_t thread;
    int port;
    bool running;
} server;

static void *run_rt(void *p)
{
    gt_rt_run(((server *)p)->rt);
    return NULL;
}

/* Open (bind) without starting the runtime yet. */
static void server_open(server *s, const gt_http_config *cfg, int workers)
{
    gt_rt_config rc = {.workers = workers};

    pthread_once(&local_once, make_local_key);
    /* Handler observations start afresh (CK_FORK=no runs all tests in one
     * process). */
    atomic_store(&live_locals, 0);
    atomic_store(&hang_started, 0);
    atomic_store(&hang_cleaned, 0);
    atomic_store(&hang_rc, 0);
    atomic_store(&slow_started, 0);
    atomic_store(&big_rc, 0);
    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(gt_rt_new(&s->rt, &rc), 0);
    s->router = make_router();
    ck_assert_int_eq(gt_http_server_open(&s->srv, s->rt, cfg,
                                         gt_http_router_dispatch, s->router),
                     0);
    s->port = gt_http_server_port(s->srv);
    ck_assert_int_gt(s->port, 0);
}

static void server_run(server *s)
{
    ck_assert_int_eq(pthread_create(&s->thread, NULL, run_rt, s), 0);
    s->running = true;
}

static void server_start(server *s, const gt_http_config *cfg, int workers)
{
    server_open(s, cfg, workers);
    server_run(s);
}

static void server_stop(server *s)
{
    if (s->running) {
        gt_rt_stop(s->rt);
        pthread_join(s->thread, NULL);
    }
    gt_http_server_close(s->srv);
    gt_rt_free(s->rt);
    gt_http_router_free(s->router);
}

/* ---- a blocking test client ---------------------------------------------- */

typedef struct client {
    int fd;
    size_t len; /* bytes buffered in buf */
    char buf[1 << 18];
} client;

typedef struct resp {
    int status;
    char head[8192]; /* the head, NUL-terminated */
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
} resp;

static int sock_connect(int family, int port)
{
    struct sockaddr_storage ss = {0};
    struct timeval tv = {5, 0};
    socklen_t len;
    int fd = socket(family, SOCK_STREAM, 0), one = 1;

    ck_assert_int_ge(fd, 0);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

static client *cli_open_family(int family, int port)
{
    client *c = calloc(1, sizeof(*c));

    ck_assert_ptr_nonnull(c);
    c->fd = sock_connect(family, port);
    ck_assert_int_ge(c->fd, 0);
    return c;
}

static client *cli_open(const server *s)
{
    return cli_open_family(AF_INET, s->port);
}

static void cli_close(client *c)
{
    close(c->fd);
    free(c);
}

static void cli_send_n(client *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

        ck_assert_msg(k > 0, "send: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
}

static void cli_send(client *c, const char *s)
{
    cli_send_n(c, s, strlen(s));
}

/* Read more into the buffer: > 0 bytes, 0 at EOF, < 0 on error/timeout. */
static ssize_t cli_fill(client *c)
{
    ssize_t k;

    ck_assert_uint_lt(c->len, sizeof(c->buf));
    k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (k > 0)
        c->len += (size_t)k;
    return k;
}

/* Wait for EOF (or a reset): true if the server closed the connection. */
static bool cli_eof(client *c)
{
    ssize_t k;

    while ((k = cli_fill(c)) > 0)
        ;
    return k == 0 || errno == ECONNRESET;
}

static void cli_consume(client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The value of header 'name' in a NUL-terminated head, copied to out. */
static bool head_value(const char *head, const char *name, char *out,
                       size_t cap)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e;
            while (*v == ' ')
                v++;
            e = strstr(v, "\r\n");
            if (!e || (size_t)(e - v) >= cap)
                return false;
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = '\0';
            return true;
        }
    }
    return false;
}

static bool resp_header_is(const resp *r, const char *name, const char *want)
{
    char v[512];

    return head_value(r->head, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

static bool resp_has_header(const resp *r, const char *name)
{
    char v[512];

    return head_value(r->head, name, v, sizeof(v));
}

/* Need n bytes buffered at offset 'at'. */
static bool cli_need(client *c, size_t at, size_t n)
{
    while (c->len < at + n)
        if (cli_fill(c) <= 0)
            return false;
    return true;
}

static void body_add(resp *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    ck_assert_ptr_nonnull(r->body);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static bool read_chunked(client *c, resp *r)
{
    for (;;) {
        char *end;
        unsigned long n;

        while (!memmem(c->buf, c->len, "\r\n", 2))
            if (cli_fill(c) <= 0)
                return false;
        n = strtoul(c->buf, &end, 16);
        cli_consume(
            c,
            (size_t)((char *)memmem(c->buf, c->len, "\r\n", 2) - c->buf) + 2);
        if (n == 0)
            return cli_need(c, 0, 2) && (cli_consume(c, 2), true);
        if (!cli_need(c, 0, n + 2))
            return false;
        body_add(r, c->buf, n);
        cli_consume(c, n + 2);
    }
}

/* Read one response; 'head_only' for a HEAD request. Returns false on EOF
 * or timeout before a whole response arrived. */
static bool cli_read(client *c, resp *r, bool head_only)
{
    char v[64];
    char *end;
    size_t hl;

    memset(r, 0, sizeof(*r));
    body_add(r, "", 0);
    r->body_len = 0;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cli_fill(c) <= 0)
            return false;
    hl = (size_t)(end - c->buf) + 4;
    ck_assert_uint_lt(hl, sizeof(r->head));
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    cli_consume(c, hl);
    ck_assert_msg(strncmp(r->head, "HTTP/1.1 ", 9) == 0, "bad head: %s",
                  r->head);
    r->status = atoi(r->head + 9);
    if (head_only || r->status < 200 || r->status == 204 || r->status == 304)
        return true;
    if (head_value(r->head, "Transfer-Encoding", v, sizeof(v)))
        return strcmp(v, "chunked") == 0 && read_chunked(c, r);
    if (head_value(r->head, "Content-Length", v, sizeof(v))) {
        size_t n = strtoul(v, NULL, 10);
        if (!cli_need(c, 0, n))
            return false;
        body_add(r, c->buf, n);
        cli_consume(c, n);
        return true;
    }
    while (cli_fill(c) > 0) /* delimited by the close */
        ;
    body_add(r, c->buf, c->len);
    cli_consume(c, c->len);
    return true;
}

static void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Send a request on c and check status and body (body NULL: any). */
static void roundtrip(client *c, const char *req, int status, const char *body)
{
    resp r;

    cli_send(c, req);
    ck_assert_msg(cli_read(c, &r, false), "no response to %s", req);
    ck_assert_int_eq(r.status, status);
    if (body)
        ck_assert_str_eq(r.body, body);
    resp_free(&r);
}

/* One request on a fresh connection. */
static void get(const server *s, const char *req, int status, const char *body)
{
    client *c = cli_open(s);

    roundtrip(c, req, status, body);
    cli_close(c);
}

#define GET_(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static bool wait_for(atomic_int *v, int want, int ms)
{
    int64_t until = gt_now() + ms;

    while (atomic_load(v) != want && gt_now() < until)
        usleep(2000);
    return atomic_load(v) == want;
}

static bool wait_conns(server *s, uint64_t want, int ms)
{
    int64_t until = gt_now() + ms;
    gt_http_stats st;

    do {
        gt_http_server_get_stats(s->srv, &st);
        if (st.conns == want)
            return true;
        usleep(10000);
    } while (gt_now() < until);
    return false;
}

/* ---- keep-alive, pipelining, splitting ----------------------------------- */

START_TEST(keepalive_reuse)
{
    server s;
    client *c;
    gt_http_stats st;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    for (int i = 0; i < 3; i++) {
        cli_send(c, GET_("/plaintext"));
        ck_assert(cli_read(c, &r, false));
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, hello);
        ck_assert(resp_header_is(&r, "Server", "greentor"));
        ck_assert(resp_header_is(&r, "Content-Type", "text/plain"));
        ck_assert(resp_header_is(&r, "Content-Length", "13"));
        ck_assert(resp_has_header(&r, "Date"));
        ck_assert(!resp_has_header(&r, "Connection"));
        resp_free(&r);
    }
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_eq(st.accepted, 1);
    ck_assert_uint_eq(st.requests, 3);
    /* HTTP/1.0 closes by default and keeps alive on request. */
    roundtrip(c, "GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
              200, hello);
    cli_send(c, "GET /plaintext HTTP/1.0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* Connection: close on HTTP/1.1. */
    c = cli_open(&s);
    cli_send(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* Issue 9: a 1.8 KB body nested ~900 deep used to overflow the 64 KiB
 * coroutine stack inside jansson and kill every worker. On the default
 * configuration, jansson's own depth limit (2048) is reached first. */
static void post_nested(client *c, int depth, int status, const char *body)
{
    size_t n = 2 * (size_t)depth;
    char *req = malloc(n + 128);
    int off = sprintf(req,
                      "POST /json/depth HTTP/1.1\r\nHost: t\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      n);

    memset(req + off, '[', (size_t)depth);
    memset(req + off + depth, ']', (size_t)depth);
    req[off + (int)n] = '\0';
    roundtrip(c, req, status, body);
    free(req);
}

START_TEST(json_nested_to_janssons_limit_is_parsed)
{
    server s;
    client *c;

    server_start(&s, NULL, 1);
    c = cli_open(&s);
    post_nested(c, 900, 200, "depth=900");
    post_nested(c, 2048, 200, "depth=2048");
    post_nested(c, 2049, 400, NULL); /* jansson refuses; we keep serving */
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* Every allocation on a request's path may fail: the client gets an
 * answer (200, or 500/503) or a closed connection, never a crash or a
 * hang, and the server goes on serving. Each round starts a fresh server,
 * so that the first request finds every per-worker cache cold (connection,
 * buffer, request object, coroutine, stack, output buffer), and fails its
 * allocation n, for n = 1, 2, ... until a request makes fewer than n. */
static bool oom_round(long n, long *made)
{
    server s;
    client *c;
    resp r;
    bool answered;

    server_start(&s, NULL, 1);
    c = cli_open(&s);
    gt_alloc_fail(n, 0);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 5\r\n\r\nhello");
    answered = cli_read(c, &r, false);
    if (answered)
        ck_assert_msg(r.status == 200 || r.status == 500 || r.status == 503,
                      "allocation %ld: status %d", n, r.status);
    resp_free(&r); /* a partial read holds a buffer too */
    *made = gt_alloc_fail(0, 0);
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    server_stop(&s);
    return answered;
}

START_TEST(allocation_failures_on_the_request_path_are_survived)
{
    long n, made = 0;
    int answered = 0;

    for (n = 1; n < 200; n++) {
        answered += oom_round(n, &made);
        if (made < n)
            break;
    }
    ck_assert_msg(n > 4, "only %ld allocations walked", n);
    ck_assert_int_gt(answered, 0);
}
END_TEST

START_TEST(pipeline_100_in_order)
{
    char *batch = malloc(100 * 64), *p = batch;
    server s;
    client *c;
    resp r;

    for (int i = 0; i < 100; i++)
        p += sprintf(p, "GET /seq?i=%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, batch); /* one write */
    for (int i = 0; i < 100; i++) {
        char want[16];

        snprintf(want, sizeof(want), "%d", i);
        ck_assert_msg(cli_read(c, &r, false), "response %d missing", i);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(r.body, want);
        resp_free(&r);
    }
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    free(batch);
    server_stop(&s);
}
END_TEST

START_TEST(request_split_byte_by_byte)
{
    static const char req[] = "GET /hdr HTTP/1.1\r\nHost: t\r\n"
                              "X-Test: split\r\n\r\n";
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        cli_send_n(c, req + i, 1);
        usleep(1000);
    }
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "x-test=split");
    ck_assert(resp_header_is(&r, "X-Reply", "yes"));
    ck_assert(resp_header_is(&r, "X-H39", "a-value-of-some-length-to-fill-it"));
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* ---- bodies -------------------------------------------------------------- */

#define CHUNKED_HEAD                                                           \
    "POST /echo HTTP/1.1\r\nHost: t\r\n"                                       \
    "Transfer-Encoding: chunked\r\n\r\n"

START_TEST(chunked_bodies)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    /* All at once, with an extension and trailers, then a pipelined GET. */
    cli_send(c, CHUNKED_HEAD
             "5\r\nhello\r\n6;ext=\"v\"\r\n world\r\n"
             "0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n" GET_("/plaintext"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "hello world");
    resp_free(&r);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, hello);
    resp_free(&r);
    /* In pieces (the body arrives while the handler waits), with the next
     * request right behind the last chunk. */
    cli_send(c, CHUNKED_HEAD "3\r\nabc\r\n");
    usleep(50000);
    cli_send(c, "4\r\ndefg\r");
    usleep(50000);
    cli_send(c, "\n0\r\n\r\n" GET_("/seq?i=7"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "abcdefg");
    resp_free(&r);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "7");
    resp_free(&r);
    /* A large one in many chunks and writes: the spill grows. */
    cli_send(c, "POST /len HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 100; i++) {
        char chunk[1100];

        memset(chunk, 'z', sizeof(chunk));
        memcpy(chunk, "400\r\n", 5);
        memcpy(chunk + 5 + 1024, "\r\n", 2);
        cli_send_n(c, chunk, 5 + 1024 + 2);
        if (i % 10 == 0)
            usleep(2000);
    }
    roundtrip(c, "0\r\n\r\n", 200, "len=102400");
    /* A bad chunk size: 400 and close. */
    cli_send(c, CHUNKED_HEAD "zz\r\nhello\r\n0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 400);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* A bad chunk that arrives late, while the handler waits. */
    c = cli_open(&s);
    cli_send(c, CHUNKED_HEAD "3\r\nabc\r\n");
    usleep(50000);
    cli_send(c, "3\r\nabcX\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 400);
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

START_TEST(content_length_bodies)
{
    size_t big = 200 * 1000;
    char *body = malloc(big), head[128];
    server s;
    client *c;

    memset(body, 'x', big);
    server_start(&s, NULL, 2);
    c = cli_open(&s);
    roundtrip(c,
              "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n"
              "hello",
              200, "hello");
    /* The body after a pause: the handler waits for it. */
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n"
                "01234");
    usleep(50000);
    roundtrip(c, "56789", 200, "0123456789");
    /* A large one, and the connection still works afterwards. */
    snprintf(head, sizeof(head),
             "POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
             big);
    cli_send(c, head);
    cli_send_n(c, body, big);
    {
        resp r;
        char want[32];

        snprintf(want, sizeof(want), "len=%zu", big);
        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, want);
        resp_free(&r);
    }
    roundtrip(c, GET_("/plaintext"), 200, hello);
    /* A body the handler never reads is skipped when it is all here. */
    roundtrip(c,
              "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
              "\r\nabc" GET_("/seq?i=2"),
              200, hello);
    {
        resp r;

        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, "2");
        resp_free(&r);
    }
    cli_close(c);
    free(body);
    server_stop(&s);
}
END_TEST

START_TEST(expect_100_continue)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 100);
    resp_free(&r);
    roundtrip(c, "hello", 200, "hello");
    /* A handler that does not want the body: no 100, and close. */
    cli_send(c, "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Expect: 100-continue\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* ---- rejections ---------------------------------------------------------- */

START_TEST(parser_rejections)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400}, /* no Host */
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX : a\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
         "Content-Length: 1\r\n\r\nx",
         400},
        {"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
         "Transfer-Encoding: chunked\r\n\r\n",
         400},
        {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: t\r\n"
         "Transfer-Encoding: gzip, chunked\r\n\r\n",
         501},
        {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
        {"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: t\r\n\r\n",
         414},
        {"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"
         "E: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n",
         431},
        {"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\n\r\n", 413},
    };
    gt_http_config cfg = {
        .max_target = 64, .max_head = 512, .max_headers = 8, .max_body = 1024};
    char big[700];
    server s;

    server_start(&s, &cfg, 2);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        client *c = cli_open(&s);
        resp r;

        cli_send(c, cases[i].req);
        ck_assert_msg(cli_read(c, &r, false), "case %zu: no response", i);
        ck_assert_msg(r.status == cases[i].status, "case %zu: %d, not %d", i,
                      r.status, cases[i].status);
        ck_assert(resp_header_is(&r, "Connection", "close"));
        resp_free(&r);
        ck_assert_msg(cli_eof(c), "case %zu: not closed", i);
        cli_close(c);
        get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    }
    /* A head over max_head: 431. */
    snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: t\r\nX: %0600d\r\n\r\n",
             0);
    get(&s, big, 431, NULL);
    /* A chunked body over max_body: 413 once the handler reads it. */
    {
        client *c = cli_open(&s);
        char chunk[1200];

        memset(chunk, 'y', sizeof(chunk));
        cli_send(c, CHUNKED_HEAD "4b0\r\n");
        cli_send_n(c, chunk, sizeof(chunk));
        cli_send(c, "\r\n0\r\n\r\n");
        roundtrip(c, "", 413, NULL);
        cli_close(c);
    }
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

START_TEST(slowloris_cut_off)
{
    static const char dribble[] = "GET / HTTP/1.1\r\nHost: t\r\n"
                                  "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    gt_http_config cfg = {.header_timeout_ms = 300};
    int64_t t0 = gt_now();
    bool cut = false;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    for (size_t i = 0; i < sizeof(dribble) - 1 && !cut; i++) {
        struct pollfd p = {c->fd, POLLIN, 0};

        if (send(c->fd, dribble + i, 1, MSG_NOSIGNAL) != 1)
            cut = true; /* reset already */
        else if (poll(&p, 1, 100) == 1)
            cut = true; /* a 408 or the close */
    }
    ck_assert_msg(cut, "a byte every 100 ms was not cut off");
    if (cli_fill(c) > 0)
        ck_assert_msg(strncmp(c->buf, "HTTP/1.1 408", 12) == 0, "got %.*s",
                      (int)c->len, c->buf);
    ck_assert(cli_eof(c));
    ck_assert_int_lt(gt_now() - t0, 5000);
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    /* A connection that sends nothing at all is closed too. */
    c = cli_open(&s);
    ck_assert(cli_eof(c));
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(body_and_idle_timeouts)
{
    gt_http_config cfg = {.body_timeout_ms = 300, .keepalive_timeout_ms = 300};
    int64_t t0;
    server s;
    client *c;
    resp r;

    server_start(&s, &cfg, 2);
    /* Half a body, then silence: 408 and close. */
    c = cli_open(&s);
    cli_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
                "\r\n01234");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 408);
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(c));
    cli_close(c);
    /* An idle keep-alive connection is closed after the idle timeout. */
    c = cli_open(&s);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    t0 = gt_now();
    ck_assert(cli_eof(c));
    ck_assert_int_lt(gt_now() - t0, 5000);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* The connection's timer is re-armed lazily: here it is still due at the
 * header timeout of the connection's start when the longer idle timeout
 * replaces it, fires early, and must wait on for the idle timeout instead
 * of closing. The margins are wide: a wrong close comes after ~200 ms. */
START_TEST(idle_timeout_outlasts_an_earlier_timer)
{
    gt_http_config cfg = {.header_timeout_ms = 200,
                          .keepalive_timeout_ms = 3000};
    int64_t t0;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    usleep(1000 * 1000); /* past the header timeout armed at the start */
    roundtrip(c, GET_("/plaintext"), 200, hello);
    t0 = gt_now();
    ck_assert(cli_eof(c)); /* the idle timeout, from the last response */
    ck_assert_int_ge(gt_now() - t0, 1500);
    ck_assert_int_lt(gt_now() - t0, 10000);
    cli_close(c);
    server_stop(&s);
}
END_TEST

/* A burst of 100 requests at once leaves 100 request objects and input
 * buffers on the free lists (no cap of 64 sending them back to malloc),
 * and the once-a-second trim gives back what stays unused but 64. The
 * polling itself uses a request object and two buffers (input, output),
 * which the trim counts as needed, and its counts are read while its own
 * request holds one of each: so it settles at 64 and 65. */
START_TEST(free_lists_keep_a_burst_then_trim)
{
    enum { N = 100 };
    client *c[N];
    size_t bufs = 0, reqs = 0;
    resp r;
    server s;
    int i;

    atomic_store(&hold_in, 0);
    atomic_store(&hold_want, N);
    server_start(&s, NULL, 1);
    for (i = 0; i < N; i++) {
        c[i] = cli_open(&s);
        cli_send(c[i], GET_("/hold"));
    }
    for (i = 0; i < N; i++) {
        ck_assert(cli_read(c[i], &r, false));
        ck_assert_int_eq(r.status, 200);
        resp_free(&r);
    }
    ck_assert_int_ge(atomic_load(&hold_in), N);
    /* The N connections stay open, idle: they hold no buffer. */
    {
        client *q = cli_open(&s);

        cli_send(q, GET_("/freelists"));
        ck_assert(cli_read(q, &r, false));
        ck_assert_int_eq(sscanf(r.body, "%zu %zu", &bufs, &reqs), 2);
        resp_free(&r);
        /* Two trims (2 s) would be needed to get below 90. */
        ck_assert_msg(reqs >= 90 && bufs >= 90, "bufs %zu reqs %zu", bufs,
                      reqs);
        for (i = 0; i < 100 && (bufs > 65 || reqs > 64); i++) {
            usleep(100 * 1000);
            cli_send(q, GET_("/freelists"));
            ck_assert(cli_read(q, &r, false));
            ck_assert_int_eq(sscanf(r.body, "%zu %zu", &bufs, &reqs), 2);
            resp_free(&r);
        }
        ck_assert_msg(bufs <= 65 && reqs <= 64, "bufs %zu reqs %zu", bufs,
                      reqs);
        cli_close(q);
    }
    for (i = 0; i < N; i++)
        cli_close(c[i]);
    server_stop(&s);
}
END_TEST

START_TEST(slow_reader_write_timeout)
{
    gt_http_config cfg = {.write_timeout_ms = 300};
    int small = 4096;
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    cli_send(c, GET_("/big")); /* and never read */
    ck_assert(wait_for(&big_rc, -ECANCELED, 10000));
    ck_assert(wait_conns(&s, 0, 5000));
    cli_close(c);
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

/* ---- many idle connections ----------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The client side of many_idle_connections, in a child process so that
 * it has its own file descriptor limit. Async-signal-safe calls only. */
static void idle_clients(int port, int n, int *fds, int go, int done)
{
    static const char req[] = GET_("/plaintext");
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct linger lg = {1, 0};
    char buf[512], cmd;
    int ok = 0;

    if (read(go, &cmd, 1) != 1)
        _exit(1);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)))
            break;
        if (send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL) !=
                (ssize_t)sizeof(req) - 1 ||
            recv(fds[i], buf, sizeof(buf), 0) < 12 ||
            memcmp(buf, "HTTP/1.1 200", 12) != 0)
            break;
        ok++;
    }
    if (write(done, &ok, sizeof(ok)) != sizeof(ok) || read(go, &cmd, 1) != 1)
        _exit(1);
    for (int i = 0; i < ok; i++) { /* reset: no TIME_WAIT left behind */
        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fds[i]);
    }
    if (write(done, &ok, sizeof(ok)) != sizeof(ok))
        _exit(1);
    _exit(0);
}

START_TEST(many_idle_connections)
{
    gt_http_config cfg = {.keepalive_timeout_ms = 120000};
    int want = 10000, go[2], done[2], got = 0;
    struct rlimit rl;
    long before, during, after;
    int *fds;
    server s;
    pid_t pid;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)want + 200) {
        want = (int)rl.rlim_cur - 200;
        printf("many_idle_connections: RLIMIT_NOFILE is %lu, using %d "
               "connections instead of 10000\n",
               (unsigned long)rl.rlim_cur, want);
    }
    fds = malloc((size_t)want * sizeof(int));
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(done), 0);
    server_open(&s, &cfg, 2); /* bound and listening, no threads yet */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        idle_clients(s.port, want, fds, go[0], done[1]);
    server_run(&s);
    get(&s, GET_("/plaintext"), 200, hello); /* warm up */
    ck_assert(wait_conns(&s, 0, 5000));
    before = rss_kib();
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(read(done[0], &got, sizeof(got)), sizeof(got));
    ck_assert_int_eq(got, want);
    ck_assert(wait_conns(&s, (uint64_t)want, 10000));
    during = rss_kib();
    get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    ck_assert_int_eq(write(go[1], "c", 1), 1);
    ck_assert_int_eq(read(done[0], &got, sizeof(got)), sizeof(got));
    ck_assert(wait_conns(&s, 0, 20000));
    after = rss_kib();
    get(&s, GET_("/plaintext"), 200, hello);
    printf("many_idle_connections: %d idle keep-alive connections; server "
           "process RSS %ld KiB before, %ld KiB with them (%.2f KiB each, "
           "sanitizers included), %ld KiB after closing\n",
           want, before, during, (double)(during - before) / want, after);
    ck_assert_int_lt((during - before) / want, 64); /* generous bound */
    waitpid(pid, NULL, 0);
    free(fds);
    server_stop(&s);
}
END_TEST

/* ---- request scope ------------------------------------------------------- */

START_TEST(local_destructor_before_next_request)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    /* Three pipelined in one write: each must start only after the
     * previous request's local destructor (which sleeps) has finished. */
    cli_send(c, GET_("/local") GET_("/local") GET_("/local"));
    for (int i = 0; i < 3; i++) {
        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, "before=0");
        resp_free(&r);
    }
    roundtrip(c, GET_("/local"), 200, "before=0"); /* and one more after */
    cli_close(c);
    ck_assert(wait_for(&live_locals, 0, 2000));
    server_stop(&s);
}
END_TEST

START_TEST(handler_deadline_504)
{
    gt_http_config cfg = {.handler_timeout_ms = 200};
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/sleep"), 504, NULL);      /* returns -ETIMEDOUT */
    roundtrip(c, GET_("/late"), 504, NULL);       /* returns 0, but late */
    roundtrip(c, GET_("/plaintext"), 200, hello); /* connection reusable */
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(client_disconnect_cancels_handler)
{
    server s;
    client *c;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, GET_("/hang"));
    ck_assert(wait_for(&hang_started, 1, 5000));
    cli_close(c);
    ck_assert_msg(wait_for(&hang_cleaned, 1, 5000), "handler not cancelled");
    ck_assert_int_eq(atomic_load(&hang_rc), -ECANCELED);
    ck_assert(wait_conns(&s, 0, 5000));
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------ */

static int join_and_stop(void *arg)
{
    server *s = arg;

    gt_http_server_join(s->srv, GT_NEVER);
    gt_rt_stop(s->rt);
    return 0;
}

START_TEST(graceful_shutdown)
{
    gt_http_config cfg = {.drain_timeout_ms = 1000};
    int64_t until;
    client *slow, *hang, *idle;
    int fd = 0;
    server s;
    resp r;

    server_start(&s, &cfg, 2);
    idle = cli_open(&s);
    roundtrip(idle, GET_("/plaintext"), 200, hello);
    slow = cli_open(&s);
    hang = cli_open(&s);
    cli_send(slow, GET_("/slow"));
    cli_send(hang, GET_("/hang"));
    ck_assert(wait_for(&slow_started, 1, 5000));
    ck_assert(wait_for(&hang_started, 1, 5000));
    gt_http_server_stop(s.srv);
    /* The idle connection is closed; new ones are refused. */
    ck_assert(cli_eof(idle));
    until = gt_now() + 5000;
    while (gt_now() < until &&
           (fd = sock_connect(AF_INET, s.port)) != -ECONNREFUSED) {
        if (fd >= 0) /* a listener not closed yet, or a reset one */
            close(fd);
        usleep(5000);
    }
    ck_assert_int_eq(fd, -ECONNREFUSED);
    /* The in-flight request completes, told to close. */
    ck_assert(cli_read(slow, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "done");
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(slow));
    /* The one that would outlive the drain timeout is cancelled. */
    ck_assert(cli_eof(hang));
    ck_assert(wait_for(&hang_cleaned, 1, 5000));
    ck_assert_int_eq(atomic_load(&hang_rc), -ECANCELED);
    ck_assert_int_eq(gt_rt_post(s.rt, 0, join_and_stop, &s), 0);
    pthread_join(s.thread, NULL);
    s.running = false;
    cli_close(idle);
    cli_close(slow);
    cli_close(hang);
    server_stop(&s);
}
END_TEST

START_TEST(signal_stops_gracefully)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 1);
    ck_assert_int_eq(gt_http_server_stop_on_signals(s.srv), 0);
    ck_assert_int_eq(gt_http_server_stop_on_signals(s.srv), -EALREADY);
    /* One worker: once it has answered, its signal task has run. */
    get(&s, GET_("/plaintext"), 200, hello);
    c = cli_open(&s);
    cli_send(c, GET_("/slow"));
    ck_assert(wait_for(&slow_started, 1, 5000));
    kill(getpid(), SIGTERM);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "done");
    resp_free(&r);
    pthread_join(s.thread, NULL); /* gt_rt_run() returned */
    s.running = false;
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(max_conns_per_worker)
{
    gt_http_config cfg = {.max_conns = 2};
    client *a, *b, *c;
    gt_http_stats st;
    server s;

    server_start(&s, &cfg, 1);
    a = cli_open(&s);
    b = cli_open(&s);
    roundtrip(a, GET_("/plaintext"), 200, hello);
    roundtrip(b, GET_("/plaintext"), 200, hello);
    c = cli_open(&s); /* the kernel accepts; the server closes it */
    ck_assert(cli_eof(c));
    cli_close(c);
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_ge(st.rejected, 1);
    cli_close(a);
    ck_assert(wait_conns(&s, 1, 5000));
    get(&s, GET_("/plaintext"), 200, hello);
    roundtrip(b, GET_("/plaintext"), 200, hello);
    cli_close(b);
    server_stop(&s);
}
END_TEST

/* ---- routing and the handler API ----------------------------------------- */

START_TEST(head_404_405)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(cli_read(c, &r, true));
    ck_assert_int_eq(r.status, 200);
    ck_assert(resp_header_is(&r, "Content-Length", "13"));
    ck_assert(resp_header_is(&r, "Content-Type", "text/plain"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello); /* no stray body bytes */
    roundtrip(c, GET_("/nope"), 404, NULL);
    roundtrip(c, GET_("/users/"), 404, NULL); /* empty parameter */
    cli_send(c, "POST /plaintext HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 405);
    ck_assert(resp_header_is(&r, "Allow", "GET, HEAD, DELETE"));
    resp_free(&r);
    roundtrip(c, "DELETE /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", 200, hello);
    roundtrip(c, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(handler_errors)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "PUT /err HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_null(strstr(r.body, "never sent"));
    resp_free(&r);
    cli_send(c, GET_("/pool"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 503);
    ck_assert(resp_header_is(&r, "Retry-After", "1"));
    resp_free(&r);
    cli_send(c, GET_("/dbgone")); /* a lost database connection: 503 too */
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 503);
    ck_assert(resp_header_is(&r, "Retry-After", "1"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(route_params_and_query)
{
    server s;
    client *c;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/users/42"), 200, "user=42");
    roundtrip(c, GET_("/users/a%20b"), 200, "user=a b");
    roundtrip(c, GET_("/users/a%2Fb"), 200, "user=a/b");
    roundtrip(c, GET_("/users/me"), 200, "root"); /* literal beats :id */
    roundtrip(c, GET_("/users/1/posts/2"), 200, "user=1 post=2");
    roundtrip(c, GET_("/static/css/a%20b.css"), 200,
              "static /static/css/a b.css via /static/*");
    roundtrip(c, GET_("/static/"), 200, "static /static/ via /static/*");
    roundtrip(c, GET_("/static"), 404, NULL);
    roundtrip(c, GET_("/q?x=1&name=a%20b+c&name=2"), 200, "name=a b c");
    roundtrip(c, GET_("/q?x=1"), 200, "name=(none)");
    roundtrip(c, GET_("/q"), 200, "name=(none)");
    roundtrip(c, GET_("/q?name=%zz"), 200, "name=(none)");
    roundtrip(c, GET_("/"), 200, "root");
    /* Absolute-form targets route by their path. */
    roundtrip(c, GET_("http://t/users/9?x=1"), 200, "user=9");
    roundtrip(c, GET_("http://t"), 200, "root");
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(json_and_streaming)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, GET_("/json"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "{\"message\":\"Hello, World!\"}");
    ck_assert(resp_header_is(&r, "Content-Type", "application/json"));
    resp_free(&r);
    cli_send(c, GET_("/stream"));
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Transfer-Encoding", "chunked"));
    ck_assert_str_eq(r.body, "part1part2part3");
    resp_free(&r);
    cli_send(c, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(cli_read(c, &r, true));
    ck_assert(resp_header_is(&r, "Transfer-Encoding", "chunked"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    /* HTTP/1.0 gets the stream delimited by the close. */
    cli_send(c, "GET /stream HTTP/1.0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(!resp_has_header(&r, "Transfer-Encoding"));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    ck_assert_str_eq(r.body, "part1part2part3");
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(ipv6_and_access_log)
{
    gt_http_config cfg = {.host = "::1", .access_log = 1};
    char path[] = "/tmp/gt_access_XXXXXX", line[4096];
    int logfd = mkstemp(path), saved = dup(STDERR_FILENO);
    size_t n;
    server s;
    client *c;
    FILE *f;

    ck_assert_int_ge(logfd, 0);
    dup2(logfd, STDERR_FILENO);
    server_start(&s, &cfg, 2);
    c = cli_open_family(AF_INET6, s.port);
    roundtrip(c, GET_("/plaintext?x=1"), 200, hello);
    cli_close(c);
    server_stop(&s);
    dup2(saved, STDERR_FILENO);
    f = fdopen(logfd, "r");
    rewind(f);
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(line, " method=GET target=\"/plaintext?x=1\" "
                               "status=200 bytes=13 us="),
                  "log: %s", line);
}
END_TEST

START_TEST(api_misuse)
{
    gt_http_router *r;
    gt_http_server *srv;
    gt_http_config bad = {.port = 70000};
    gt_rt *rt;
    char *e;
    size_t n;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "nope", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "/a/*/b", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "/a/:", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "G T", "/a", h_root, NULL), -EINVAL);
    ck_assert_int_eq(gt_rt_new(&rt, NULL), 0);
    ck_assert_int_eq(
        gt_http_server_open(&srv, rt, &bad, gt_http_router_dispatch, r),
        -EINVAL);
    ck_assert_int_eq(gt_http_server_open(&srv, rt, NULL, NULL, r), -EINVAL);
    gt_rt_free(rt);
    gt_http_router_free(r);
    e = gt_http_escape_html_new("<a href=\"x\">&'", 14, &n);
    ck_assert_str_eq(e, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    ck_assert_uint_eq(n, strlen(e));
    free(e);
    ck_assert_str_eq(gt_http_reason(404), "Not Found");
}
END_TEST

void add_http_server_tests(Suite *s)
{
    TCase *tc = tcase_create("http_server");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keepalive_reuse);
    tcase_add_test(tc, pipeline_100_in_order);
    tcase_add_test(tc, json_nested_to_janssons_limit_is_parsed);
    tcase_add_test(tc, allocation_failures_on_the_request_path_are_survived);
    tcase_add_test(tc, request_split_byte_by_byte);
    tcase_add_test(tc, chunked_bodies);
    tcase_add_test(tc, content_length_bodies);
    tcase_add_test(tc, expect_100_continue);
    tcase_add_test(tc, parser_rejections);
    tcase_add_test(tc, slowloris_cut_off);
    tcase_add_test(tc, body_and_idle_timeouts);
    tcase_add_test(tc, idle_timeout_outlasts_an_earlier_timer);
    tcase_add_test(tc, free_lists_keep_a_burst_then_trim);
    tcase_add_test(tc, slow_reader_write_timeout);
    tcase_add_test(tc, many_idle_connections);
    tcase_add_test(tc, local_destructor_before_next_request);
    tcase_add_test(tc, handler_deadline_504);
    tcase_add_test(tc, client_disconnect_cancels_handler);
    tcase_add_test(tc, graceful_shutdown);
    tcase_add_test(tc, signal_stops_gracefully);
    tcase_add_test(tc, max_conns_per_worker);
    tcase_add_test(tc, head_404_405);
    tcase_add_test(tc, handler_errors);
    tcase_add_test(tc, route_params_and_query);
    tcase_add_test(tc, json_and_streaming);
    tcase_add_test(tc, ipv6_and_access_log);
    tcase_add_test(tc, api_misuse);
    suite_add_tcase(s, tc);
}
