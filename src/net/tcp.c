/* net/tcp.c -- yielding TCP streams: connect, read, write, shutdown,
 * close.
 *
 * Every call tries the socket first and waits only when it says EAGAIN,
 * so data already buffered costs no trip through the loop. A connect
 * tries the resolved addresses one after the other (no Happy Eyeballs
 * racing: loopback and most services answer on the first), each within
 * what is left of the one deadline. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/sockios.h>

#include "net.h"

struct gt_tcp {
    gt__watch w;  /* first: its close frees the stream */
    bool wr_shut; /* gt_tcp_shutdown() was called */
};

void gt__tcp_tune(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int gt__tcp_new(gt_tcp **out, int fd)
{
    gt_tcp *c = gt_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    rc = gt__watch_init(&c->w, fd);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int gt_tcp_fd(const gt_tcp *c)
{
    return c->w.fd;
}

/* ---- connecting ---------------------------------------------------------- */

static int socket_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

/* One address: 0 and *out, or its error. */
static int connect_one(gt_tcp **out, const struct addrinfo *ai,
                       int64_t deadline)
{
    int fd =
        socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    gt_tcp *c;
    int rc;

    if (fd < 0)
        return -errno;
    gt__tcp_tune(fd);
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
    if (rc < 0 && rc != -EINPROGRESS) {
        close(fd);
        return rc;
    }
    rc = gt__tcp_new(&c, fd);
    if (rc < 0)
        return rc;
    while ((rc = socket_error(fd)) == 0) {
        /* Connected when writable with no error; EINPROGRESS before. */
        struct sockaddr_storage peer;
        socklen_t len = sizeof(peer);

        if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
            break;
        rc = gt__watch_wait(&c->w, GT_WRITABLE, deadline);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        gt__watch_close(&c->w);
        return rc;
    }
    *out = c;
    return 0;
}

int gt_tcp_connect(gt_tcp **out, const char *host, int port, int64_t deadline)
{
    struct addrinfo *list, *ai;
    int rc;

    *out = NULL;
    rc = gt_net_resolve(host, port, &list, deadline);
    if (rc < 0)
        return rc;
    rc = -ECONNREFUSED; /* an empty list, which getaddrinfo never gives */
    for (ai = list; ai; ai = ai->ai_next) {
        rc = connect_one(out, ai, deadline);
        if (rc == 0 || rc == -ETIMEDOUT || rc == -ECANCELED || rc == -ENOMEM)
            break;
    }
    freeaddrinfo(list);
    return rc;
}

/* ---- reading and writing ------------------------------------------------- */

ssize_t gt_tcp_read(gt_tcp *c, void *buf, size_t cap, int64_t deadline)
{
    ssize_t n;
    int rc = gt__watch_check_worker(&c->w);

    if (rc < 0 || cap == 0)
        return rc; /* recv() of 0 bytes would wait for data */
    for (;;) {
        n = recv(c->w.fd, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = gt__watch_wait(&c->w, GT_READABLE, deadline);
        if (rc < 0)
            return rc;
    }
}

int gt_tcp_read_exactly(gt_tcp *c, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = gt_tcp_read(c, (char *)buf + got, n - got, deadline);

        if (r < 0)
            return (int)r;
        if (r == 0)
            return -EPIPE;
        got += (size_t)r;
    }
    return 0;
}

int gt_tcp_write_all(gt_tcp *c, const void *buf, size_t n, int64_t deadline)
{
    size_t sent = 0;
    int rc = gt__watch_check_worker(&c->w);

    if (rc < 0)
        return rc;
    while (sent < n) {
        ssize_t w =
            send(c->w.fd, (const char *)buf + sent, n - sent, MSG_NOSIGNAL);

        if (w >= 0) {
            sent += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = gt__watch_wait(&c->w, GT_WRITABLE, deadline);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- shutting down and closing ------------------------------------------ */

#define ACK_POLL_MAX_MS 64

/* The bytes the peer has not acknowledged yet, or -errno. */
static int unacked(int fd)
{
    int n;

    return ioctl(fd, SIOCOUTQ, &n) < 0 ? -errno : n;
}

int gt_tcp_shutdown(gt_tcp *c, int64_t deadline)
{
    int64_t step = 1, now;
    int rc = gt__watch_check_worker(&c->w);

    if (rc < 0)
        return rc;
    if (c->w.writing)
        return -EBUSY;
    if (!c->wr_shut && shutdown(c->w.fd, SHUT_WR) < 0)
        return -errno;
    c->wr_shut = true;
    /* No event says "acknowledged", so look at growing intervals. */
    while ((rc = unacked(c->w.fd)) > 0) {
        now = gt_now();
        if (deadline != GT_NEVER && now >= deadline)
            return -ETIMEDOUT;
        if (deadline != GT_NEVER && now + step > deadline)
            step = deadline - now;
        rc = gt_sleep(step);
        if (rc < 0)
            return rc;
        step = step * 2 > ACK_POLL_MAX_MS ? ACK_POLL_MAX_MS : step * 2;
    }
    return rc;
}

/* Read and drop until the peer's end of stream: 0, or an error. */
static int linger(gt_tcp *c, int64_t deadline)
{
    char sink[4096];
    ssize_t n;

    if (!c->wr_shut && shutdown(c->w.fd, SHUT_WR) < 0)
        return -errno;
    c->wr_shut = true;
    while ((n = gt_tcp_read(c, sink, sizeof(sink), deadline)) > 0)
        ;
    return (int)n;
}

int gt_tcp_close(gt_tcp *c, int64_t deadline)
{
    int rc;

    if (!c)
        return 0;
    rc = gt__watch_check_idle(&c->w);
    if (rc < 0)
        return rc;
    if (deadline == GT_NEVER || deadline > gt_now())
        rc = linger(c, deadline);
    gt__watch_close(&c->w);
    return rc;
}
