/* runtime/wait.c -- parking a coroutine until a file descriptor is ready.
 *
 * This is what every database driver waits on: libpq and MariaDB's
 * non-blocking API tell us which way their socket must become ready, and we
 * park on a uv_poll_t until it does. A gt_fdwatch keeps its uv_poll_t for
 * the life of the connection, so each wait is an epoll_ctl MOD at most;
 * gt_wait_fd() is the one-shot form for code that has no place to keep one.
 * The poll is stopped as soon as it fires: we want one wake-up per wait, and
 * level-triggered epoll would otherwise report the same readiness again on
 * every loop iteration. */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

static void on_closed(uv_handle_t *h)
{
    free(h);
}

int gt_fdwatch_open(gt_fdwatch *w, int fd)
{
    gt_sched *s = gt__sched_self();
    int rc;

    w->poll = NULL;
    w->fd = -1;
    if (!s)
        return -EINVAL;
    w->poll = malloc(sizeof(*w->poll));
    if (!w->poll)
        return -ENOMEM;
    rc = uv_poll_init(&s->loop, w->poll, fd);
    if (rc < 0) {
        free(w->poll);
        w->poll = NULL;
        return rc;
    }
    w->poll->data = NULL;
    w->fd = fd;
    return 0;
}

/* The waiter, on its own stack while it waits. */
typedef struct fdwait {
    gt_co *co;
    int want; /* GT_READABLE | GT_WRITABLE */
} fdwait;

static void on_ready(uv_poll_t *p, int status, int events)
{
    fdwait *fw = p->data;
    int got = 0;

    uv_poll_stop(p);
    if (!fw)
        return;
    /* libuv reports a socket error (EPOLLERR: a refused connect, a reset)
     * as UV_EBADF. The fd is fine; the next read or write on it will tell
     * the caller what went wrong, so report it as ready. */
    if (status == UV_EBADF) {
        gt__unpark(fw->co, fw->want);
        return;
    }
    /* A hang-up counts as readable: the reader will then see EOF. */
    if (events & (UV_READABLE | UV_DISCONNECT))
        got |= GT_READABLE;
    if (events & UV_WRITABLE)
        got |= GT_WRITABLE;
    gt__unpark(fw->co, status < 0 ? status : got);
}

int gt_fdwatch_wait(gt_fdwatch *w, int events, int64_t deadline)
{
    fdwait fw = {gt_co_self(), events};
    int uvev = 0, rc;

    if (!fw.co || !w->poll || !(events & (GT_READABLE | GT_WRITABLE)))
        return -EINVAL;
    if (events & GT_READABLE)
        uvev |= UV_READABLE | UV_DISCONNECT;
    if (events & GT_WRITABLE)
        uvev |= UV_WRITABLE;
    rc = uv_poll_start(w->poll, uvev, on_ready);
    if (rc < 0)
        return rc;
    w->poll->data = &fw;
    rc = gt__park(deadline);
    w->poll->data = NULL;
    uv_poll_stop(w->poll);
    return rc;
}

void gt_fdwatch_close(gt_fdwatch *w)
{
    if (!w->poll)
        return;
    uv_close((uv_handle_t *)w->poll, on_closed);
    w->poll = NULL;
    w->fd = -1;
}

int gt_wait_fd(int fd, int events, int64_t deadline)
{
    gt_fdwatch w;
    int rc = gt_fdwatch_open(&w, fd);

    if (rc < 0)
        return rc;
    rc = gt_fdwatch_wait(&w, events, deadline);
    gt_fdwatch_close(&w);
    return rc;
}
