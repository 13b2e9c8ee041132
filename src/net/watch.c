/* net/watch.c -- a socket on its worker's loop, one waiter per direction.
 *
 * The poll handle is started only while someone waits, for exactly what
 * the waiters want, so a stream nobody reads costs no wake-ups; libuv
 * polls level-triggered, so stopping between waits loses nothing. An
 * error on the socket (libuv reports EPOLLERR as a failed poll) wakes
 * both waiters, whose retried call then reads the error itself. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "net.h"

static void on_poll(uv_poll_t *h, int status, int events)
{
    gt__watch *w = h->data;

    if (status < 0 || (events & UV_READABLE))
        gt_waitq_wake(&w->readers, -1);
    if (status < 0 || (events & UV_WRITABLE))
        gt_waitq_wake(&w->writers, -1);
    if (status < 0) {
        uv_poll_stop(h); /* the woken retry the call and report it */
        w->events = 0;
    }
}

/* Start (or stop) the poll for what the waiters want now. */
static int repoll(gt__watch *w)
{
    int want = (w->reading ? UV_READABLE : 0) | (w->writing ? UV_WRITABLE : 0);
    int rc = 0;

    if (want == w->events)
        return 0;
    if (want)
        rc = uv_poll_start(&w->poll, want, on_poll);
    else
        rc = uv_poll_stop(&w->poll);
    w->events = rc < 0 ? 0 : want;
    return rc;
}

int gt__watch_init(gt__watch *w, int fd)
{
    int rc;

    w->loop = gt_loop();
    w->fd = fd;
    w->events = 0;
    w->reading = w->writing = false;
    gt_waitq_init(&w->readers);
    gt_waitq_init(&w->writers);
    if (!w->loop) {
        close(fd);
        return -EINVAL;
    }
    rc = uv_poll_init_socket(w->loop, &w->poll, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    w->poll.data = w;
    return 0;
}

int gt__watch_check_worker(const gt__watch *w)
{
    return gt_loop() == w->loop ? 0 : -EXDEV;
}

int gt__watch_check_idle(const gt__watch *w)
{
    if (gt_loop() != w->loop)
        return -EXDEV;
    if (w->reading || w->writing)
        return -EBUSY;
    return 0;
}

int gt__watch_wait(gt__watch *w, int ev, int64_t deadline)
{
    bool reading = ev == GT_READABLE;
    gt_waitq *q = reading ? &w->readers : &w->writers;
    bool *busy = reading ? &w->reading : &w->writing;
    int rc;

    if (gt_loop() != w->loop)
        return -EXDEV;
    if (*busy)
        return -EBUSY;
    *busy = true;
    rc = repoll(w);
    if (rc == 0)
        rc = gt_waitq_wait(q, deadline);
    *busy = false;
    repoll(w); /* narrows or stops: nothing to fail on a live fd */
    return rc;
}

static void free_container(uv_handle_t *h)
{
    free(h->data);
}

void gt__watch_close(gt__watch *w)
{
    uv_poll_stop(&w->poll);
    close(w->fd);
    w->fd = -1;
    uv_close((uv_handle_t *)&w->poll, free_container);
}
