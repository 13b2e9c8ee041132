/* http/tcp.c -- the server's TCP side: one listening socket per worker,
 * accepting, and the gt__http_io table over a uv_tcp_t.
 *
 * libuv has no flag for SO_REUSEPORT, so the sockets are made, bound and
 * put in listening state here, on the caller's thread -- bind errors come
 * back from gt_http_server_open() and connections queue in the backlog even
 * before the workers run -- and each worker adopts its own with
 * uv_tcp_open() (gt__http_listen_start()).
 *
 * conn.c only sees the gt__http_io table, which is what lets the connection
 * fuzzer run it over memory. A connection accepted here gets the TCP table
 * below, or, on a TLS server, tls.c's table over the same uv_tcp_t. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "h2.h"

/* ---- listening sockets (caller's thread) --------------------------------- */

static int open_socket(const struct sockaddr_storage *ss, int backlog, int *out)
{
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd =
        socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, zero = 0, rc = 0;

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) ||
        bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, backlog) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (strchr(host, ':'))
        return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
    return uv_ip4_addr(host, port, (struct sockaddr_in *)ss);
}

/* The port the kernel chose, into ss and srv->port. */
static int learn_port(gt_http_server *srv, int fd, struct sockaddr_storage *ss)
{
    struct sockaddr_storage got;
    socklen_t len = sizeof(got);
    uint16_t port;

    if (getsockname(fd, (struct sockaddr *)&got, &len) < 0)
        return -errno;
    port = got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                     : ((struct sockaddr_in *)&got)->sin_port;
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = port;
    else
        ((struct sockaddr_in *)ss)->sin_port = port;
    srv->port = ntohs(port);
    return 0;
}

static int bind_host(gt_http_server *srv, const char *host)
{
    struct sockaddr_storage ss;
    int rc = resolve(host, srv->cfg.port, &ss);

    srv->port = srv->cfg.port;
    for (int i = 0; rc == 0 && i < srv->nworkers; i++) {
        rc = open_socket(&ss, srv->cfg.backlog, &srv->workers[i].fd);
        if (rc == 0 && i == 0 && srv->cfg.port == 0)
            rc = learn_port(srv, srv->workers[0].fd, &ss);
    }
    if (rc < 0) {
        for (int i = 0; i < srv->nworkers; i++) {
            if (srv->workers[i].fd >= 0)
                close(srv->workers[i].fd);
            srv->workers[i].fd = -1;
        }
    }
    return rc;
}

int gt__http_bind_all(gt_http_server *srv)
{
    int rc;

    if (srv->cfg.host)
        return bind_host(srv, srv->cfg.host);
    rc = bind_host(srv, "::"); /* dual-stack */
    if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)
        rc = bind_host(srv, "0.0.0.0");
    return rc;
}

/* ---- connections over TCP ------------------------------------------------ */

static void tcp_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    gt__http_conn_alloc(h->data, buf);
}

static void tcp_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    gt__http_conn_read(s->data, n, buf);
}

static int tcp_try_write(gt__http_conn *c, const char *buf, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

    return n == UV_EAGAIN ? 0 : n;
}

typedef struct tcp_send {
    uv_write_t req; /* first: the callback gets its address */
    gt__http_sent_fn *done;
} tcp_send;

static void on_sent(uv_write_t *r, int status)
{
    tcp_send *s = (tcp_send *)r;
    gt__http_conn *c = r->data;
    gt__http_sent_fn *done = s->done;

    free(s);
    done(c, status);
}

int gt__http_tcp_send(gt__http_conn *c, const char *buf, size_t len,
                      gt__http_sent_fn *done)
{
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    tcp_send *s = gt_malloc(sizeof(*s));
    int rc;

    if (!s)
        return UV_ENOMEM;
    s->req.data = c;
    s->done = done;
    rc = uv_write(&s->req, (uv_stream_t *)&c->tcp, &b, 1, on_sent);
    if (rc < 0)
        free(s);
    return rc;
}

static void on_fin(uv_shutdown_t *r, int status)
{
    (void)status; /* a failed FIN changes nothing: EOF or the timer ends it */
    free(r);
}

void gt__http_tcp_fin(gt__http_conn *c)
{
    uv_shutdown_t *r = gt_malloc(sizeof(*r));

    if (r && uv_shutdown(r, (uv_stream_t *)&c->tcp, on_fin) < 0)
        free(r);
}

static int tcp_write(gt__http_conn *c, const char *buf, size_t len)
{
    return gt__http_tcp_send(c, buf, len, gt__http_conn_written);
}

static int tcp_read_start(gt__http_conn *c)
{
    return uv_read_start((uv_stream_t *)&c->tcp, tcp_on_alloc, tcp_on_read);
}

static void tcp_read_stop(gt__http_conn *c)
{
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void tcp_on_close(uv_handle_t *h)
{
    gt__http_conn_closed(h->data);
}

static void tcp_close(gt__http_conn *c)
{
    uv_close((uv_handle_t *)&c->tcp, tcp_on_close);
}

static const gt__http_io tcp_io = {
    tcp_try_write, tcp_write,        tcp_read_start,
    tcp_read_stop, gt__http_tcp_fin, tcp_close,
};

int gt__http_conn_peer(const gt__http_conn *c, struct sockaddr_storage *out)
{
    int len = sizeof(*out);

    if (c->state == GT__CONN_CLOSING)
        return -ENOTCONN;
    if (gt__h2_stream_peer(c, out))
        return 0;
    if (!c->tcp.loop)
        return -ENOTCONN;
    return uv_tcp_getpeername(&c->tcp, (struct sockaddr *)out, &len);
}

/* Accept a connection from 'listener' and start it. */
static int accept_conn(gt__http_worker *w, uv_stream_t *listener)
{
    bool tls = w->srv->tls_on;
    gt__http_conn *c;
    int rc = gt__http_conn_new(w, tls ? &gt__http_tls_io : &tcp_io, NULL, &c);

    if (rc < 0)
        return rc;
    uv_tcp_init(gt_loop(), &c->tcp);
    rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
    if (rc == 0 && tls)
        rc = gt__http_tls_attach(c);
    if (rc < 0) {
        gt__http_conn_close(c);
        return rc;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    gt__http_conn_start(c);
    return 0;
}

static void on_rejected_closed(uv_handle_t *h)
{
    free(h);
}

void gt__http_on_connection(uv_stream_t *l, int status)
{
    gt__http_worker *w = l->data;
    uv_tcp_t *t;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        gt__http_accept_pause(w, status); /* else libuv spins on accept */
        return;
    }
    if (status < 0) /* ECONNABORTED and the like: keep listening */
        return;
    if (!w->stopping && w->conns.n < w->srv->cfg.max_conns &&
        accept_conn(w, l) == 0) {
        GT__STAT_INC(w->n_accepted);
        return;
    }
    /* Over the limit: accept and close at once, so the client learns now
     * and the backlog does not fill up. */
    GT__STAT_INC(w->n_rejected);
    t = gt_malloc(sizeof(*t));
    if (!t) {
        /* The accepted socket must go, or libuv stops watching the
         * listener for good. Pausing closes the listener's handle (and
         * with it the socket libuv accepted); the backlog stays. */
        gt__http_accept_pause(w, UV_ENOMEM);
        return;
    }
    uv_tcp_init(gt_loop(), t);
    uv_accept(l, (uv_stream_t *)t);
    uv_close((uv_handle_t *)t, on_rejected_closed);
}

int gt__http_listen_start(gt__http_worker *w)
{
    int rc = uv_tcp_init(gt_loop(), &w->listener);

    if (rc < 0)
        return rc;
    w->listening = true;
    w->listener.data = w;
    /* Kept for pausing when out of descriptors (accept.c); without it the
     * worker still serves, it just cannot pause. */
    w->listen_dup = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
    rc = uv_tcp_open(&w->listener, w->fd);
    if (rc < 0)
        return rc;
    w->fd = -1; /* the handle owns it now */
    return uv_listen((uv_stream_t *)&w->listener, w->srv->cfg.backlog,
                     gt__http_on_connection);
}
