/* fuzz/fuzz_http_conn.c -- libFuzzer target: byte streams through a whole
 * HTTP connection (http/conn.c, request.c, response.c, router.c), without
 * sockets.
 *
 * The connection is given a memory transport (http.h's gt__http_io): input
 * is delivered through the same alloc/read entry points libuv calls,
 * try_write() takes at most a budget of bytes so that background writes
 * and backpressure happen, and the driver completes those writes itself.
 * Everything else is real: a one-worker runtime per input, request
 * coroutines, the router, handlers that read bodies, stream, yield, fail
 * and set coroutine locals.
 *
 * Input: byte 0 picks the limits and a final EOF or not, byte 1 the write
 * budget (0: unlimited); the rest is the client's byte stream, cut into
 * separate reads wherever the two bytes FF 00 appear (NUL never occurs in
 * a valid head, so seeds stay readable HTTP).
 *
 * Besides ASan/UBSan/LSan, it aborts when:
 *  - the connection is not freed soon after the client's EOF (a hang);
 *  - the output is not a well-formed sequence of responses: status line,
 *    Server header, framing by Content-Length or chunked (or the close;
 *    none for 1xx, 204 and 304), nothing after a "Connection: close"
 *    response. Skipped for inputs
 *    holding "HEAD" (those responses have no body to frame).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Iinclude -Isrc
 *        -Isrc/http src/runtime/... src/http/... fuzz/fuzz_http_conn.c
 * Replay without clang: fuzz/replay.c. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c))                                                              \
            abort();                                                           \
    } while (0)

/* ---- the memory transport ------------------------------------------------ */

typedef struct mem {
    gt__http_conn *c;
    uv_idle_t handle;    /* closed with the connection, for the callback */
    size_t budget;       /* bytes try_write takes per call; 0: all */
    const char *pending; /* a background write, until the driver ends it */
    size_t pending_len;
    char *out; /* everything written, in order */
    size_t out_len, out_cap;
    bool reading, shut, closed, lost; /* lost: a write was cancelled */
} mem;

static void capture(mem *m, const char *p, size_t n)
{
    if (m->out_len + n + 1 > m->out_cap) { /* + 1: always NUL-terminated */
        m->out_cap = (m->out_len + n + 1) * 2;
        m->out = realloc(m->out, m->out_cap);
        CHECK(m->out);
    }
    memcpy(m->out + m->out_len, p, n);
    m->out_len += n;
    m->out[m->out_len] = '\0';
}

static int mem_try_write(gt__http_conn *c, const char *buf, size_t len)
{
    mem *m = c->io_data;
    size_t n = m->budget && len > m->budget ? m->budget : len;

    CHECK(!m->pending && !m->closed && !m->shut);
    capture(m, buf, n);
    return (int)n;
}

static int mem_write(gt__http_conn *c, const char *buf, size_t len)
{
    mem *m = c->io_data;

    CHECK(!m->pending && !m->closed && len > 0);
    m->pending = buf;
    m->pending_len = len;
    return 0;
}

static int mem_read_start(gt__http_conn *c)
{
    ((mem *)c->io_data)->reading = true;
    return 0;
}

static void mem_read_stop(gt__http_conn *c)
{
    ((mem *)c->io_data)->reading = false;
}

static void mem_shutdown(gt__http_conn *c)
{
    ((mem *)c->io_data)->shut = true;
}

static void on_mem_closed(uv_handle_t *h)
{
    mem *m = h->data;

    if (m->pending) { /* like libuv: a pending write ends with an error */
        m->pending = NULL;
        m->lost = true;
        gt__http_conn_written(m->c, UV_ECANCELED);
    }
    gt__http_conn_closed(m->c);
}

static void mem_close(gt__http_conn *c)
{
    mem *m = c->io_data;

    CHECK(!m->closed);
    m->closed = true;
    m->reading = false;
    uv_close((uv_handle_t *)&m->handle, on_mem_closed);
}

static const gt__http_io mem_io = {
    mem_try_write, mem_write,    mem_read_start,
    mem_read_stop, mem_shutdown, mem_close,
};

/* ---- handlers ------------------------------------------------------------ */

static gt_local_key key;

static void local_dtor(void *v)
{
    (void)v;
    gt_yield(); /* a destructor that yields, as the pool's does */
}

static int h_plain(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_body_static(res, "Hello", 5);
    return 0;
}

static int h_echo(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *b;
    size_t n;
    int rc = gt_http_req_body(req, &b, &n);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_body(res, b, n);
}

static int h_body_ignored(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *b;
    size_t n;

    (void)arg;
    gt_http_req_body(req, &b, &n);
    return gt_http_res_printf(res, "ok");
}

static int h_json(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *q = gt_http_req_query(req, "q");

    (void)arg;
    return gt_http_res_json(res, json_pack("{ss*}", "q", q));
}

static int h_stream(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *path = gt_http_req_path(req);
    int rc = 0;

    (void)arg;
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = gt_http_res_write(res, path ? path : "?", path ? strlen(path) : 1);
        if (rc == 0)
            rc = gt_yield();
    }
    return rc;
}

static int h_fail(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res;
    return arg ? GT_EPOOL : -EIO;
}

static int h_yield(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *h = gt_http_req_header(req, "a");
    const char *p = gt_http_req_param(req, "id");
    const char *name, *value;

    (void)arg;
    for (int i = 0; i < 3; i++)
        gt_yield();
    for (size_t i = 0; i < gt_http_req_header_count(req); i++)
        CHECK(gt_http_req_header_at(req, i, &name, &value) == 0);
    gt_http_res_header(res, "X-A", h ? h : "-");
    return gt_http_res_printf(res, "%s %s %s", p ? p : "-",
                              gt_http_req_method(req), gt_http_req_target(req));
}

/* A large response with many headers: the output and header buffers
 * grow. */
static int h_big(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *n = gt_http_req_query(req, "n");
    int len = n ? atoi(n) % 100000 : 20000;

    (void)arg;
    for (int i = 0; i < 30; i++)
        gt_http_res_header(res, "X-Filler", "0123456789abcdefghijklmnop");
    return gt_http_res_printf(res, "%*s", len < 0 ? 0 : len, "");
}

static int h_close(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_close(res);
    gt_http_res_status(res, 201);
    return gt_http_res_body(res, "bye", 3);
}

static int h_local(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_local_set(key, res);
    return gt_http_res_printf(res, "local");
}

static gt_http_router *make_router(void)
{
    gt_http_router *r;

    if (gt_http_router_new(&r) < 0)
        abort();
    gt_http_router_add(r, "GET", "/", h_plain, NULL);
    gt_http_router_add(r, NULL, "/e", h_echo, NULL);
    gt_http_router_add(r, "POST", "/b", h_body_ignored, NULL);
    gt_http_router_add(r, "GET", "/j", h_json, NULL);
    gt_http_router_add(r, "GET", "/s/*", h_stream, NULL);
    gt_http_router_add(r, NULL, "/x", h_fail, NULL);
    gt_http_router_add(r, NULL, "/p", h_fail, r);
    gt_http_router_add(r, "GET", "/y", h_yield, NULL);
    gt_http_router_add(r, "GET", "/u/:id", h_yield, NULL);
    gt_http_router_add(r, "PUT", "/u/:id", h_echo, NULL);
    gt_http_router_add(r, "GET", "/c", h_close, NULL);
    gt_http_router_add(r, "GET", "/g", h_big, NULL);
    gt_http_router_add(r, "GET", "/l", h_local, NULL);
    return r;
}

/* ---- checking the output ------------------------------------------------- */

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);

    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

/* The value of a header in head[0..n), or NULL. */
static const char *header(const char *head, const char *end, const char *name)
{
    const char *p = find(head, end, name);

    return p ? p + strlen(name) : NULL;
}

/* Skip a chunked body at p; returns its end, or NULL if cut short. */
static const char *skip_chunked(const char *p, const char *end)
{
    for (;;) {
        char *e;
        unsigned long n = strtoul(p, &e, 16);

        CHECK(e > p && e + 2 <= end && memcmp(e, "\r\n", 2) == 0);
        p = e + 2;
        if (n == 0) {
            CHECK(p + 2 <= end && memcmp(p, "\r\n", 2) == 0);
            return p + 2;
        }
        if ((size_t)(end - p) < n + 2)
            return NULL; /* a stream cut by the close */
        CHECK(memcmp(p + n, "\r\n", 2) == 0);
        p += n + 2;
    }
}

static void check_output(const char *p, size_t len)
{
    const char *end = p + len;

    while (p < end) {
        const char *h = find(p, end, "\r\n\r\n"), *he, *v;
        int status;

        CHECK(h && memcmp(p, "HTTP/1.1 ", 9) == 0);
        status = atoi(p + 9);
        CHECK(status >= 100 && status <= 599);
        he = h += 4;
        if (status == 100) {
            p = h;
            continue;
        }
        CHECK(header(p, h, "\r\nServer: greentor\r\n"));
        if (status < 200 || status == 204 || status == 304) {
            CHECK(!header(p, h, "\r\nContent-Length: ") &&
                  !header(p, h, "\r\nTransfer-Encoding: ")); /* no body */
        } else if ((v = header(p, h, "\r\nContent-Length: ")) != NULL) {
            size_t n = strtoul(v, NULL, 10);
            CHECK((size_t)(end - h) >= n);
            h += n;
        } else if (header(p, h, "\r\nTransfer-Encoding: chunked\r\n")) {
            h = skip_chunked(h, end);
            if (!h)
                return;
        } else {
            CHECK(header(p, h, "\r\nConnection: close\r\n"));
            return; /* the rest is the body */
        }
        if (header(p, he, "\r\nConnection: close\r\n"))
            CHECK(h == end);
        p = h;
    }
}

/* ---- the driver ---------------------------------------------------------- */

typedef struct input {
    const uint8_t *data;
    size_t size;
} input;

static gt_http_router *router;

static void complete_write(mem *m)
{
    const char *p = m->pending;

    m->pending = NULL;
    capture(m, p, m->pending_len);
    gt__http_conn_written(m->c, 0);
}

/* Nothing more happens without input: no request runs, or the one that
 * runs waits for its body; no write is pending. */
static bool quiet(const mem *m)
{
    const gt__http_conn *c = m->c;

    if (m->pending)
        return false;
    return !c->co || (c->req && c->req->spill_active);
}

/* Run the worker until the connection is quiet, or gone. A few rounds
 * first, so that what the last input woke has run. */
static void run_until_quiet(mem *m, gt__http_worker *w)
{
    for (int i = 0; i < 300 && w->conns.n > 0; i++) {
        if (m->pending)
            complete_write(m);
        else if (i >= 3 && quiet(m))
            return;
        gt_yield();
    }
}

static void feed(mem *m, gt__http_worker *w, const uint8_t *p, size_t n)
{
    while (n > 0 && w->conns.n > 0 && m->reading && !m->closed) {
        uv_buf_t buf;
        size_t k;

        gt__http_conn_alloc(m->c, &buf);
        if (buf.len == 0) {
            gt__http_conn_read(m->c, UV_ENOBUFS, &buf);
            run_until_quiet(m, w);
            continue;
        }
        k = n < buf.len ? n : buf.len;
        memcpy(buf.base, p, k);
        gt__http_conn_read(m->c, (ssize_t)k, &buf);
        p += k;
        n -= k;
    }
}

static const uint8_t *next_cut(const uint8_t *p, const uint8_t *end)
{
    for (; p + 1 < end; p++)
        if (p[0] == 0xff && p[1] == 0)
            return p;
    return end;
}

static void drive(mem *m, gt__http_worker *w, const uint8_t *p,
                  const uint8_t *end, bool eof)
{
    uv_buf_t none = {0};

    run_until_quiet(m, w);
    while (p < end && w->conns.n > 0) {
        const uint8_t *cut = next_cut(p, end);

        feed(m, w, p, (size_t)(cut - p));
        run_until_quiet(m, w);
        p = cut + (cut < end ? 2 : 0);
    }
    if (!eof)
        run_until_quiet(m, w);
    if (w->conns.n > 0 && !m->closed)
        gt__http_conn_read(m->c, UV_EOF, &none);
    for (int i = 0; i < 10000 && w->conns.n > 0; i++) {
        if (m->pending)
            complete_write(m);
        gt_yield();
    }
    CHECK(w->conns.n == 0); /* freed soon after the client left */
}

/* With bit 2 of the first byte: CORS and hooks (the error hook renders
 * JSON, the before hook adds a field, the after hook reads back). */
static int fz_before(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)arg;
    gt_http_req_set_data(req, res);
    return gt_http_res_header(res, "X-Before", "1");
}

static void fz_after(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v;

    (void)arg;
    /* NULL when the before hook did not run: a preflight, a 413 first. */
    CHECK(!gt_http_req_get_data(req) || gt_http_req_get_data(req) == res);
    gt_http_res_get_header(res, "X-Before", &v);
    CHECK(gt_http_res_get_status(res) >= 100);
}

static const gt_http_hooks fz_hooks = {fz_before, fz_after, gt_http_error_json,
                                       NULL};
static const gt_http_cors fz_cors = {.origins = "http://a, https://b",
                                     .credentials = 1};

static int fuzz_main(void *arg)
{
    const input *in = arg;
    gt_http_config cfg = {0};
    gt_http_server *srv;
    gt__http_worker *w;
    const char *text;
    mem m = {0};

    if (in->data[0] & 1)
        cfg = (gt_http_config){.max_head = 256,
                               .max_target = 64,
                               .max_headers = 8,
                               .max_body = 512};
    if (in->data[0] & 4) {
        cfg.hooks = &fz_hooks;
        cfg.cors = &fz_cors;
    }
    m.budget = in->data[1] * 3u;
    CHECK(gt__http_server_new(&srv, gt_rt_self(), &cfg, 1,
                              gt_http_router_dispatch, router) == 0);
    w = &srv->workers[0];
    gt__http_worker_begin(w);
    uv_idle_init(gt_loop(), &m.handle);
    m.handle.data = &m;
    CHECK(gt__http_conn_new(w, &mem_io, &m, &m.c) == 0);
    gt__http_conn_start(m.c);
    drive(&m, w, in->data + 2, in->data + in->size, in->data[0] & 2);
    gt__http_worker_stop(w, 0);
    gt__http_worker_end(w);
    gt__http_server_unref(srv);
    text = (const char *)in->data;
    if (m.out && !m.lost && !find(text, text + in->size, "HEAD"))
        check_output(m.out, m.out_len);
    free(m.out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gt_rt_config rc = {.workers = 1, .stack_cache = 4};
    input in = {data, size};

    if (size < 2)
        return 0;
    if (!router) {
        router = make_router();
        CHECK(gt_local_key_new(&key, local_dtor) == 0);
    }
    CHECK(gt_rt_main(&rc, fuzz_main, &in) == 0);
    return 0;
}
