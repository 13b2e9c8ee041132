/* tests/test_http_tls_h2raw.c -- HTTP/2 over TLS (suite "tls", tcase
 * "tls_h2raw") with a client of our own: OpenSSL for TLS and nghttp2's
 * client session for the frames, plus hand-made frames where a well-behaved
 * client library will not make them (a HEADERS without END_HEADERS). For
 * what curl and nghttp cannot do: stall half-way, refuse to read, leave
 * the request side open.
 *
 * Each wait is bounded by a generous limit (10 s) and ends as soon as what
 * it waits for happened; the server's timeouts are short (300 ms), so no
 * assertion depends on how fast the machine is. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server_fixture.h"
#include "tls_fixture.h"
#include "util.h"

#define MAXID 64
#define BOUND_MS 10000

typedef struct h2c {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    nghttp2_session *ng;
    bool gone;                 /* the server closed the connection */
    int status[MAXID];         /* :status of each stream (0: none yet) */
    size_t body[MAXID];        /* DATA bytes received */
    bool closed[MAXID];        /* the stream closed */
    int rst[MAXID];            /* RST_STREAM's code, -1 when none */
    int32_t window_blocked_id; /* a stream whose send window ran out */
} h2c;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t cb_send(nghttp2_session *ng, const uint8_t *p, size_t n,
                       int flags, void *user)
{
    h2c *c = user;

    (void)ng, (void)flags;
    if (SSL_write(c->ssl, p, (int)n) != (int)n)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)n;
}

static int cb_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nl, const uint8_t *value,
                     size_t vl, uint8_t flags, void *user)
{
    h2c *c = user;

    (void)ng, (void)flags, (void)vl;
    if (f->hd.stream_id < MAXID && nl == 7 && memcmp(name, ":status", 7) == 0)
        c->status[f->hd.stream_id] = atoi((const char *)value);
    return 0;
}

static int cb_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                   const uint8_t *p, size_t n, void *user)
{
    h2c *c = user;

    (void)ng, (void)flags, (void)p;
    if (id < MAXID)
        c->body[id] += n;
    return 0;
}

static int cb_frame(nghttp2_session *ng, const nghttp2_frame *f, void *user)
{
    h2c *c = user;

    (void)ng;
    if (f->hd.type == NGHTTP2_RST_STREAM && f->hd.stream_id < MAXID)
        c->rst[f->hd.stream_id] = (int)f->rst_stream.error_code;
    return 0;
}

static int cb_close(nghttp2_session *ng, int32_t id, uint32_t err, void *user)
{
    h2c *c = user;

    (void)ng, (void)err;
    if (id < MAXID)
        c->closed[id] = true;
    return 0;
}

static int h2c_rcvbuf; /* SO_RCVBUF of the next h2c_open() (0: default) */

/* Connect, handshake with ALPN h2, send the preface and SETTINGS 'set'. */
static void h2c_open(h2c *c, int port, const nghttp2_settings_entry *set,
                     size_t nset)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    nghttp2_session_callbacks *cb;
    const unsigned char *alpn;
    unsigned alpn_len;

    memset(c, 0, sizeof(*c));
    memset(c->rst, -1, sizeof(c->rst));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(c->fd, 0);
    if (h2c_rcvbuf > 0)
        ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &h2c_rcvbuf,
                                    sizeof(h2c_rcvbuf)),
                         0);
    ck_assert_int_eq(connect(c->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    c->ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(c->ctx);
    ck_assert_int_eq(
        SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)"\x02h2", 3), 0);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    ck_assert_int_eq(SSL_connect(c->ssl), 1);
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    ck_assert_int_eq(alpn_len, 2);
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_send_callback(cb, cb_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, cb_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cb_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cb_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cb_close);
    ck_assert_int_eq(nghttp2_session_client_new(&c->ng, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    ck_assert_int_eq(
        nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, set, nset), 0);
    ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
}

static void h2c_free(h2c *c)
{
    nghttp2_session_del(c->ng);
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
}

/* Read what comes for up to 'ms' (or until the server closes), answering
 * with what the session has to send. */
static void h2c_pump(h2c *c, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    uint8_t buf[16384];
    int n;

    if (c->gone)
        return;
    if (SSL_pending(c->ssl) == 0 && poll(&p, 1, ms) <= 0)
        return;
    n = SSL_read(c->ssl, buf, sizeof(buf));
    ERR_clear_error();
    if (n <= 0) {
        c->gone = true;
        return;
    }
    ck_assert_int_eq(nghttp2_session_mem_recv(c->ng, buf, (size_t)n), n);
    ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
}

/* Pump until *flag or the server closed, BOUND_MS at most. */
static void h2c_until(h2c *c, const bool *flag)
{
    int64_t end = now_ms() + BOUND_MS;

    while (!*flag && !c->gone && now_ms() < end)
        h2c_pump(c, 100);
}

/* Pump until the server closes: true if it did within BOUND_MS. */
static bool h2c_closed_by_server(h2c *c)
{
    int64_t end = now_ms() + BOUND_MS;

    while (!c->gone && now_ms() < end)
        h2c_pump(c, 100);
    return c->gone;
}

/* A body that never comes: the request side stays open. */
static ssize_t never_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
                          size_t len, uint32_t *flags, nghttp2_data_source *src,
                          void *user)
{
    (void)ng, (void)id, (void)buf, (void)len, (void)flags, (void)src;
    (void)user;
    return NGHTTP2_ERR_DEFERRED;
}

static const nghttp2_nv *get_nv(const char *path, size_t *n)
{
    static nghttp2_nv nv[4];
    static const char *const f[][2] = {{":method", "GET"},
                                       {":scheme", "https"},
                                       {":authority", "localhost"},
                                       {":path", NULL}};

    for (int i = 0; i < 4; i++) {
        const char *v = f[i][1] ? f[i][1] : path;

        nv[i] = (nghttp2_nv){(uint8_t *)f[i][0], (uint8_t *)v, strlen(f[i][0]),
                             strlen(v), 0};
    }
    *n = 4;
    return nv;
}

/* A GET with END_STREAM. Returns its stream id. */
static int32_t h2c_get(h2c *c, const char *path)
{
    size_t n;
    const nghttp2_nv *nv = get_nv(path, &n);
    int32_t id = nghttp2_submit_request(c->ng, NULL, nv, n, NULL, NULL);

    ck_assert_int_gt(id, 0);
    ck_assert_int_lt(id, MAXID);
    ck_assert_int_eq(nghttp2_session_send(c->ng), 0);
    return id;
}

/* ---- a stream that fails to start is refused, not an internal error ----- */

START_TEST(h2_stream_oom_is_refused)
{
    gt_http_config cfg = {0};
    server s;
    h2c c;
    int32_t id;

    tls_start(&s, &cfg);
    h2c_open(&c, s.port, NULL, 0);
    h2c_pump(&c, 500); /* the server's SETTINGS */
    /* The next allocation of ours -- the stream the HEADERS begin -- fails
     * (the server is idle but for this connection). */
    gt_alloc_fail(1, 0);
    id = h2c_get(&c, "/plaintext");
    h2c_until(&c, &c.closed[id]);
    gt_alloc_fail(0, 0);
    ck_assert(c.closed[id]);
    ck_assert_int_eq(c.rst[id], NGHTTP2_REFUSED_STREAM);
    /* The client retries, on the same connection. */
    id = h2c_get(&c, "/plaintext");
    h2c_until(&c, &c.closed[id]);
    ck_assert_int_eq(c.status[id], 200);
    ck_assert_uint_eq(c.body[id], strlen(hello));
    h2c_free(&c);
    tls_stop(&s);
}
END_TEST

/* ---- a slow download that progresses is not a stalled one ---------------- */

#define BULK_PARTS 512 /* of 64 KiB: 32 MiB */

static int h_bulk(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char part[64 * 1024];
    int rc = 0;

    (void)req, (void)arg;
    for (int i = 0; i < BULK_PARTS && rc == 0; i++)
        rc = gt_http_res_write(res, part, sizeof(part));
    return rc;
}

START_TEST(h2_write_timeout_restarts_while_client_reads)
{
    gt_http_config cfg = {.write_timeout_ms = 400};
    nghttp2_settings_entry set[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1u << 31) - 1}};
    int64_t end;
    server s;
    h2c c;
    int32_t id;

    tls_open(&s, &cfg);
    ck_assert_int_eq(gt_http_router_add(s.router, "GET", "/bulk", h_bulk, NULL),
                     0);
    server_run(&s);
    /* A small receive buffer and windows that never close: the server's
     * socket stays full, one uv_write after another, for as long as we
     * read slowly -- far longer than write_timeout_ms in all. (A guard,
     * not a reproducer: Linux wakes a full socket's writer only once much
     * of its buffer drained, so the session's timer often rests between
     * writes and this passed before the write timeout was restarted.) */
    h2c_rcvbuf = 16 * 1024;
    h2c_open(&c, s.port, set, 1);
    h2c_rcvbuf = 0;
    ck_assert_int_eq(nghttp2_session_set_local_window_size(
                         c.ng, NGHTTP2_FLAG_NONE, 0, (1 << 30)),
                     0);
    id = h2c_get(&c, "/bulk");
    end = now_ms() + 60000;
    while (!c.closed[id] && !c.gone && now_ms() < end) {
        h2c_pump(&c, 100);
        usleep(1000); /* 16 KiB a ms at most: 2 s or more for 32 MiB */
    }
    ck_assert_msg(c.closed[id] && !c.gone, "closed %d gone %d body %zu",
                  c.closed[id], c.gone, c.body[id]);
    ck_assert_int_eq(c.status[id], 200);
    ck_assert_uint_eq(c.body[id], (size_t)BULK_PARTS * 64 * 1024);
    h2c_free(&c);
    tls_stop(&s);
}
END_TEST

/* ---- streams with no connection do not keep a silent client -------------- */

START_TEST(h2_incomplete_head_closed_at_header_timeout)
{
    /* A block fragment: :method GET, :scheme https, :path /, :authority
     * localhost (literal, not indexed) -- and no END_HEADERS. */
    static const unsigned char frame[] = {0,    0,    14,   NGHTTP2_HEADERS,
                                          0,    0,    0,    0,
                                          1,    0x82, 0x87, 0x84,
                                          0x01, 0x09, 'l',  'o',
                                          'c',  'a',  'l',  'h',
                                          'o',  's',  't'};
    gt_http_config cfg = {.header_timeout_ms = 300,
                          .keepalive_timeout_ms = 60000};
    server s;
    h2c c;

    tls_start(&s, &cfg);
    h2c_open(&c, s.port, NULL, 0);
    h2c_pump(&c, 500);
    ck_assert_int_eq(SSL_write(c.ssl, frame, sizeof(frame)), sizeof(frame));
    /* The stream began, its head never ends: closed at header_timeout_ms
     * (the idle timeout is a minute). */
    ck_assert(h2c_closed_by_server(&c));
    h2c_free(&c);
    tls_stop(&s);
}
END_TEST

START_TEST(h2_answered_open_request_is_reset_then_idle)
{
    gt_http_config cfg = {.keepalive_timeout_ms = 300};
    nghttp2_data_provider body = {.read_callback = never_read};
    size_t n;
    const nghttp2_nv *nv = get_nv("/plaintext", &n);
    server s;
    h2c c;
    int32_t id;

    tls_start(&s, &cfg);
    h2c_open(&c, s.port, NULL, 0);
    /* HEADERS without END_STREAM, and a body that never comes. */
    id = nghttp2_submit_request(c.ng, NULL, nv, n, &body, NULL);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(nghttp2_session_send(c.ng), 0);
    h2c_until(&c, &c.closed[id]);
    /* The whole answer, then RST_STREAM NO_ERROR (RFC 9113 8.1). */
    ck_assert_int_eq(c.status[id], 200);
    ck_assert_uint_eq(c.body[id], strlen(hello));
    ck_assert_int_eq(c.rst[id], NGHTTP2_NO_ERROR);
    /* No stream left: idle, closed at keepalive_timeout_ms. */
    ck_assert(h2c_closed_by_server(&c));
    h2c_free(&c);
    tls_stop(&s);
}
END_TEST

void add_http_tls_h2raw_tests(Suite *s)
{
    TCase *tc = tcase_create("tls_h2raw");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, h2_stream_oom_is_refused);
    tcase_add_test(tc, h2_write_timeout_restarts_while_client_reads);
    tcase_add_test(tc, h2_incomplete_head_closed_at_header_timeout);
    tcase_add_test(tc, h2_answered_open_request_is_reset_then_idle);
    suite_add_tcase(s, tc);
}
