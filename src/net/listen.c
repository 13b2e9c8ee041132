/* net/listen.c -- listening sockets and gt_tcp_accept().
 *
 * The listener is a watch like a stream's, read side only: accept4()
 * first, park on readable when it says EAGAIN. Out of descriptors
 * (EMFILE), the connection stays in the kernel's backlog and the caller
 * hears about it; what to do then (wait, shed load) is the caller's
 * policy, as the HTTP server's accept.c is its own. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"

struct gt_tcp_listener {
    gt__watch w; /* first: its close frees the listener */
    int port;
};

/* 'host':'port' as a socket address: 0, or -EINVAL if not a literal. */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (port < 0 || port > 65535)
        return -EINVAL;
    if (!host || inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (!host)
            in->sin_addr.s_addr = htonl(INADDR_ANY);
        *len = sizeof(*in);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return 0;
    }
    return -EINVAL;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A bound, listening socket: the fd, or -errno. */
static int open_socket(const struct sockaddr_storage *ss, socklen_t len,
                       int backlog)
{
    int one = 1, rc;
    int fd =
        socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, len) < 0 ||
        listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int gt_tcp_listen(gt_tcp_listener **out, const char *host, int port,
                  int backlog)
{
    struct sockaddr_storage ss;
    gt_tcp_listener *l;
    socklen_t len;
    int fd, rc;

    *out = NULL;
    rc = parse_addr(host, port, &ss, &len);
    if (rc < 0)
        return rc;
    if (!gt_loop())
        return -EINVAL;
    fd = open_socket(&ss, len, backlog);
    if (fd < 0)
        return fd;
    l = gt_calloc(1, sizeof(*l));
    if (!l) {
        close(fd);
        return -ENOMEM;
    }
    l->port = bound_port(fd);
    rc = gt__watch_init(&l->w, fd);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int gt_tcp_listener_port(const gt_tcp_listener *l)
{
    return l->port;
}

int gt_tcp_accept(gt_tcp_listener *l, gt_tcp **out, int64_t deadline)
{
    int fd, rc = gt__watch_check_worker(&l->w);

    *out = NULL;
    if (rc < 0)
        return rc;
    for (;;) {
        fd = accept4(l->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            break;
        /* A connection reset while queued is the next one's business. */
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = gt__watch_wait(&l->w, GT_READABLE, deadline);
        if (rc < 0)
            return rc;
    }
    gt__tcp_tune(fd);
    return gt__tcp_new(out, fd);
}

int gt_tcp_listener_close(gt_tcp_listener *l)
{
    int rc;

    if (!l)
        return 0;
    rc = gt__watch_check_idle(&l->w);
    if (rc == 0)
        gt__watch_close(&l->w);
    return rc;
}
