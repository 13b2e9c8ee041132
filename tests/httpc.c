/* tests/httpc.c -- a small HTTP/1.1 client for the end-to-end tests, and a
 * load generator built on it.
 *
 * The connection keeps one receive buffer; a response is parsed from its
 * front and consumed, so pipelined or early bytes are never lost. Bodies
 * are framed by Content-Length, chunked encoding, or the close of the
 * connection, in the precedence RFC 9112 gives them. Sends use
 * MSG_NOSIGNAL: a server that hung up must be an error, not a SIGPIPE that
 * kills the test. Limits (head 64 KiB, body 16 MiB) keep a broken server
 * from exhausting the test's memory. */
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_HEAD (64 * 1024)
#define MAX_BODY (16 * 1024 * 1024)

void httpc_init(httpc *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->port = port;
}

static int fail(httpc *c, int rc, const char *what)
{
    snprintf(c->err, sizeof(c->err), "%s: %s", what, gt_strerror(rc));
    return rc;
}

/* Finish a non-blocking connect: wait for writability, read SO_ERROR. */
static int finish_connect(httpc *c, int64_t deadline)
{
    int rc = gt_fdwatch_wait(&c->watch, GT_WRITABLE, deadline);
    int soerr = 0;
    socklen_t len = sizeof(soerr);

    if (rc < 0)
        return rc;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return -errno;
    return -soerr;
}

int httpc_connect(httpc *c, int64_t deadline)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)c->port)};
    int one = 1, rc = 0;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return fail(c, -errno, "socket");
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        rc = errno == EINPROGRESS ? 1 : -errno;
    if (rc >= 0) {
        int wrc = gt_fdwatch_open(&c->watch, c->fd);

        if (wrc < 0) {
            close(c->fd);
            c->fd = -1;
            return fail(c, wrc, "fdwatch");
        }
    }
    if (rc == 1)
        rc = finish_connect(c, deadline);
    if (rc < 0) {
        httpc_close(c, 0);
        return fail(c, rc, "connect");
    }
    return 0;
}

void httpc_close(httpc *c, int reset)
{
    if (c->fd >= 0) {
        if (reset) {
            struct linger l = {.l_onoff = 1, .l_linger = 0};

            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        }
        gt_fdwatch_close(&c->watch);
        close(c->fd);
        c->fd = -1;
    }
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

int httpc_send(httpc *c, const char *data, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);

        if (w > 0) {
            data += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = gt_fdwatch_wait(&c->watch, GT_WRITABLE, deadline);

            if (rc < 0)
                return fail(c, rc, "send");
        } else {
            return fail(c, -errno, "send");
        }
    }
    return 0;
}

/* ---- receiving ----------------------------------------------------------- */

/* Receive more bytes into the buffer. Returns the count, 0 at EOF, or a
 * negative error. */
static int fill(httpc *c, int64_t deadline)
{
    if (c->len == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16384;
        char *p = cap <= MAX_HEAD + MAX_BODY ? realloc(c->buf, cap) : NULL;

        if (!p)
            return -ENOMEM;
        c->buf = p, c->cap = cap;
    }
    for (;;) {
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);

        if (n >= 0) {
            c->len += (size_t)n;
            return (int)n;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int rc = gt_fdwatch_wait(&c->watch, GT_READABLE, deadline);

        if (rc < 0)
            return rc;
    }
}

/* Make the buffer hold at least 'n' bytes; EOF before that is an error. */
static int need(httpc *c, size_t n, int64_t deadline)
{
    while (c->len < n) {
        int rc = fill(c, deadline);

        if (rc == 0)
            return fail(c, -ECONNRESET, "connection closed mid-response");
        if (rc < 0)
            return fail(c, rc, "recv");
    }
    return 0;
}

/* Wait for 'delim' in the buffer; *at receives its offset. */
static int need_until(httpc *c, const char *delim, size_t limit, size_t *at,
                      int64_t deadline)
{
    size_t dl = strlen(delim);

    for (;;) {
        char *p = c->len ? memmem(c->buf, c->len, delim, dl) : NULL;
        int rc;

        if (p) {
            *at = (size_t)(p - c->buf);
            return 0;
        }
        if (c->len > limit)
            return fail(c, -EPROTO, "response head or chunk line too long");
        if ((rc = need(c, c->len + 1, deadline)) < 0)
            return rc;
    }
}

static void consume(httpc *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Append n bytes from the buffer's front to the body, then consume them. */
static int take_body(httpc *c, httpc_res *res, size_t n)
{
    char *p;

    if (res->body_len + n > MAX_BODY)
        return fail(c, -EPROTO, "body too large");
    if (!(p = realloc(res->body, res->body_len + n + 1)))
        return -ENOMEM;
    memcpy(p + res->body_len, c->buf, n);
    res->body = p;
    res->body_len += n;
    p[res->body_len] = '\0';
    consume(c, n);
    return 0;
}

static int read_chunked(httpc *c, httpc_res *res, int64_t deadline)
{
    for (;;) {
        size_t eol;
        char *end;
        unsigned long size;
        int rc = need_until(c, "\r\n", 1024, &eol, deadline);

        if (rc < 0)
            return rc;
        size = strtoul(c->buf, &end, 16);
        if (end == c->buf || size > MAX_BODY)
            return fail(c, -EPROTO, "bad chunk size line");
        consume(c, eol + 2);
        if (size == 0)
            break;
        if ((rc = need(c, size + 2, deadline)) < 0)
            return rc;
        if (memcmp(c->buf + size, "\r\n", 2) != 0)
            return fail(c, -EPROTO, "chunk not followed by CRLF");
        if ((rc = take_body(c, res, size)) < 0)
            return rc;
        consume(c, 2);
    }
    for (;;) { /* trailer fields, up to the empty line */
        size_t eol;
        int rc = need_until(c, "\r\n", MAX_HEAD, &eol, deadline);

        if (rc < 0)
            return rc;
        consume(c, eol + 2);
        if (eol == 0)
            return 0;
    }
}

static int read_to_eof(httpc *c, httpc_res *res, int64_t deadline)
{
    for (;;) {
        int rc = take_body(c, res, c->len);

        if (rc == 0)
            rc = fill(c, deadline);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return fail(c, rc, "recv");
    }
}

/* ---- the response head --------------------------------------------------- */

typedef struct framing {
    long long length; /* -1: none given */
    int chunked;
} framing;

/* Parse the head in res->head: status, framing and persistence. */
static int parse_head(httpc *c, httpc_res *res, framing *f)
{
    char val[256];
    int minor;

    if (sscanf(res->head, "HTTP/1.%d %3d", &minor, &res->status) != 2 ||
        res->status < 100 || res->status > 999)
        return fail(c, -EPROTO, "bad status line");
    f->length = -1;
    f->chunked = 0;
    if (httpc_header(res, "Transfer-Encoding", val, sizeof(val)))
        f->chunked = strcasestr(val, "chunked") != NULL;
    if (!f->chunked && httpc_header(res, "Content-Length", val, sizeof(val))) {
        char *end;

        f->length = strtoll(val, &end, 10);
        if (end == val || *end || f->length < 0 || f->length > MAX_BODY)
            return fail(c, -EPROTO, "bad Content-Length");
    }
    httpc_header(res, "Connection", val, sizeof(val));
    if (minor == 0)
        res->close = strcasestr(val, "keep-alive") == NULL;
    else
        res->close = strcasestr(val, "close") != NULL;
    return 0;
}

static int read_head(httpc *c, httpc_res *res, framing *f, int64_t deadline)
{
    size_t at;
    int rc = need_until(c, "\r\n\r\n", MAX_HEAD, &at, deadline);

    if (rc < 0)
        return rc;
    if (!(res->head = malloc(at + 3)))
        return -ENOMEM;
    memcpy(res->head, c->buf, at + 2);
    res->head[at + 2] = '\0';
    consume(c, at + 4);
    return parse_head(c, res, f);
}

static int read_body(httpc *c, httpc_res *res, const framing *f,
                     int64_t deadline)
{
    int rc;

    if (!(res->body = calloc(1, 1)))
        return -ENOMEM;
    if (res->status < 200 || res->status == 204 || res->status == 304)
        return 0;
    if (f->chunked)
        return read_chunked(c, res, deadline);
    if (f->length < 0) {
        res->close = 1;
        return read_to_eof(c, res, deadline);
    }
    if ((rc = need(c, (size_t)f->length, deadline)) < 0)
        return rc;
    return take_body(c, res, (size_t)f->length);
}

int httpc_read(httpc *c, httpc_res *res, int64_t deadline)
{
    framing f;
    int rc;

    memset(res, 0, sizeof(*res));
    do {
        httpc_res_free(res);
        rc = read_head(c, res, &f, deadline);
    } while (rc == 0 && res->status < 200);
    if (rc == 0)
        rc = read_body(c, res, &f, deadline);
    if (rc < 0)
        httpc_res_free(res);
    return rc;
}

int httpc_read_head(httpc *c, httpc_res *res, int64_t deadline)
{
    framing f;
    int rc;

    memset(res, 0, sizeof(*res));
    do {
        httpc_res_free(res);
        rc = read_head(c, res, &f, deadline);
    } while (rc == 0 && res->status < 200);
    if (rc == 0 && !(res->body = calloc(1, 1)))
        rc = -ENOMEM;
    if (rc < 0)
        httpc_res_free(res);
    return rc;
}

int httpc_do(httpc *c, const char *method, const char *target, httpc_res *res,
             int64_t deadline)
{
    char req[2048];
    int n = snprintf(
        req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n",
        method, target, c->port,
        strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
    int rc = 0;

    memset(res, 0, sizeof(*res));
    if (n < 0 || (size_t)n >= sizeof(req))
        return fail(c, -EINVAL, "request too long");
    if (c->fd < 0)
        rc = httpc_connect(c, deadline);
    if (rc == 0)
        rc = httpc_send(c, req, (size_t)n, deadline);
    if (rc == 0)
        rc = httpc_read(c, res, deadline);
    if (rc < 0 || res->close)
        httpc_close(c, 0);
    return rc;
}

int httpc_header_count(const httpc_res *res, const char *name)
{
    size_t nl = strlen(name);
    const char *p = res->head ? strstr(res->head, "\r\n") : NULL;
    int n = 0;

    while (p && p[2]) {
        const char *line = p + 2;

        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':')
            n++;
        p = strstr(line, "\r\n");
    }
    return n;
}

int httpc_header(const httpc_res *res, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = res->head ? strstr(res->head, "\r\n") : NULL;

    out[0] = '\0';
    while (p && p[2]) {
        const char *line = p + 2, *eol = strstr(line, "\r\n");

        if (!eol)
            break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            size_t len;

            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            len = (size_t)(eol - v);
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
        p = eol;
    }
    return 0;
}

void httpc_res_free(httpc_res *res)
{
    if (!res)
        return;
    free(res->head);
    free(res->body);
    memset(res, 0, sizeof(*res));
}

/* ---- load ---------------------------------------------------------------- */

static void note(httpc_load *l, const char *fmt, const char *target,
                 const char *detail)
{
    if (l->first_error[0] == '\0')
        snprintf(l->first_error, sizeof(l->first_error), fmt, target, detail);
}

static void count(httpc_load *l, const char *target, int rc, httpc *c,
                  const httpc_res *res)
{
    char status[16];

    l->requests++;
    if (rc < 0) {
        l->errors++;
        note(l, "GET %s: %s", target, c->err[0] ? c->err : gt_strerror(rc));
    } else if (res->status >= 200 && res->status < 300) {
        l->ok++;
    } else {
        l->non2xx++;
        l->status503 += res->status == 503;
        if (!l->first_status)
            l->first_status = res->status;
        snprintf(status, sizeof(status), "status %d", res->status);
        note(l, "GET %s: %s", target, status);
    }
}

static int load_conn(void *arg)
{
    httpc_load *l = arg;
    httpc c;

    httpc_init(&c, l->port);
    while ((l->max_requests <= 0 || l->next < l->max_requests) &&
           gt_now() < l->end) {
        const char *t = l->targets[l->next++ % l->ntargets];
        httpc_res res;
        int rc;

        c.err[0] = '\0';
        rc =
            httpc_do(&c, "GET", t, &res, gt_deadline_in(l->request_timeout_ms));
        count(l, t, rc, &c, &res);
        httpc_res_free(&res);
        if (rc == -ECANCELED)
            break;
    }
    httpc_close(&c, 0);
    return 0;
}

int httpc_load_run(httpc_load *l)
{
    gt_co **cos = calloc((size_t)l->conns, sizeof(*cos));
    int rc = cos ? 0 : -ENOMEM;

    l->next = 0;
    l->end = gt_now() + l->duration_ms;
    for (int i = 0; rc == 0 && i < l->conns; i++)
        rc = gt_co_spawn(&cos[i], load_conn, l);
    for (int i = 0; cos && i < l->conns; i++)
        if (cos[i])
            gt_co_join(cos[i], NULL, GT_NEVER);
    free(cos);
    return rc;
}
