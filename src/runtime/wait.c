/* runtime/wait.c -- parking a coroutine until a file descriptor is ready.
 *
 * This is what every database driver waits on: libpq and MariaDB's
 * non-blocking API tell us which way their socket must become ready, and we
 * park on a uv_poll_t until it does. gt_wait_fd() is the one-shot form;
 * a gt_fdwatch keeps its uv_poll_t for the life of the connection.
 *
 * A gt_fdwatch waiting for "readable" stays armed after it fires. A
 * database connection waits for its answer, reads it all, sends the next
 * query and waits for "readable" again: leaving the poll armed in between
 * saves the two epoll_ctl calls that stopping and restarting it would cost
 * on every query. Should the socket become readable while nobody waits, the
 * poll disarms itself then. Waits for "writable" disarm at once, because a
 * socket is nearly always writable and a level-triggered poll left armed
 * would fire on every loop iteration. */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

/* What gt_fdwatch.poll points at. */
typedef struct fdpoll {
    uv_poll_t h;
    int armed; /* the uv events it is started with, 0 when stopped */
} fdpoll;

/* The waiter, on its own stack while it waits. */
typedef struct fdwait {
    gt_co *co;
    int want; /* GT_READABLE | GT_WRITABLE */
} fdwait;

static void on_closed(uv_handle_t *h)
{
    free(h);
}

int gt_fdwatch_open(gt_fdwatch *w, int fd)
{
    gt_sched *s = gt__sched_self();
    fdpoll *fp;
    int rc;

    w->poll = NULL;
    w->fd = -1;
    if (!s)
        return -EINVAL;
    fp = gt_calloc(1, sizeof(*fp));
    if (!fp)
        return -ENOMEM;
    rc = uv_poll_init(&s->loop, &fp->h, fd);
    if (rc < 0) {
        free(fp);
        return rc;
    }
    w->poll = &fp->h;
    w->fd = fd;
    return 0;
}

static void disarm(fdpoll *fp)
{
    uv_poll_stop(&fp->h);
    fp->armed = 0;
}

static void on_ready(uv_poll_t *p, int status, int events)
{
    fdpoll *fp = (fdpoll *)p;
    fdwait *fw = p->data;
    int got = 0;

    if (!fw || (fp->armed & UV_WRITABLE) || status < 0)
        disarm(fp);
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
    fdpoll *fp = (fdpoll *)w->poll;
    int uvev = 0, rc;

    if (!fw.co || !fp || !(events & (GT_READABLE | GT_WRITABLE)))
        return -EINVAL;
    /* A watch belongs to the loop it was opened on, and has one waiter:
     * a second one would silently take the first one's wake-up. */
    GT__ASSERT(fp->h.loop == &fw.co->sched->loop && !fp->h.data);
    if (fp->h.loop != &fw.co->sched->loop)
        return -EXDEV;
    if (fp->h.data)
        return -EBUSY;
    if (events & GT_READABLE)
        uvev |= UV_READABLE | UV_DISCONNECT;
    if (events & GT_WRITABLE)
        uvev |= UV_WRITABLE;
    if (fp->armed != uvev) {
        rc = uv_poll_start(&fp->h, uvev, on_ready);
        if (rc < 0)
            return rc;
        fp->armed = uvev;
    }
    fp->h.data = &fw;
    rc = gt__park(deadline);
    fp->h.data = NULL;
    if (rc < 0 && fp->armed)
        disarm(fp); /* timed out or cancelled: start clean next time */
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
