/* http/accept.c -- running out of file descriptors without spinning.
 *
 * When accept() fails with EMFILE or ENFILE, libuv tries its "emfile
 * trick" (close a reserve descriptor, accept and drop the surplus, reopen)
 * and, if that fails too, reports the error and calls accept() again at
 * once -- inside the same callback. With two workers the trick races (the
 * other worker takes the freed descriptor), and the loop never returns:
 * dead connections are never closed, so no descriptor ever frees, and
 * SIGTERM is never seen. That is what a ulimit of 256 did to us.
 *
 * So on EMFILE/ENFILE a worker pauses accepting: it closes its listener
 * handle, which ends libuv's accept loop. The listening socket itself
 * stays open through a duplicate taken at start-up, so its backlog is
 * kept: clients wait in it instead of being refused. The worker resumes
 * as soon as one of its connections is freed, or every RESUME_MS, by
 * duplicating the socket again (which needs a free descriptor -- the very
 * thing it is waiting for).
 *
 * libuv's own trick still runs first: with one worker it usually works,
 * and the surplus connections are accepted and closed; a pause happens
 * when it fails. Either way no loop spins, so a SIGTERM is seen in every
 * state, and the worker's connections keep being served and closed.
 *
 * The message is printed at most once per second for the whole server
 * (not per worker: N workers out of descriptors are one event), with the
 * number of pauses it did not report. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "http.h"

#define RESUME_MS 100

static void try_resume(gt__http_worker *w);

static void on_resume_timer(uv_timer_t *t)
{
    try_resume(t->data);
}

static void on_paused_closed(uv_handle_t *h)
{
    gt__http_worker *w = h->data;

    w->pause_closing = false;
    w->handles--;
    gt_waitq_wake(&w->wq, -1);
    try_resume(w);
}

static void resume_later(gt__http_worker *w)
{
    if (!w->resume_timer_on) {
        uv_timer_init(gt_loop(), &w->resume_timer);
        w->resume_timer.data = w;
        w->resume_timer_on = true;
    }
    uv_timer_start(&w->resume_timer, on_resume_timer, RESUME_MS, 0);
}

static void try_resume(gt__http_worker *w)
{
    int fd, rc;

    if (!w->paused || w->pause_closing || w->stopping)
        return;
    fd = dup(w->listen_dup);
    if (fd < 0) {
        resume_later(w); /* still out of descriptors */
        return;
    }
    uv_tcp_init(gt_loop(), &w->listener);
    w->listener.data = w;
    w->listening = true;
    w->paused = false;
    rc = uv_tcp_open(&w->listener, fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, w->srv->cfg.backlog,
                       gt__http_on_connection);
    if (rc < 0) {
        uv_os_fd_t owned;

        /* Closing the handle closes fd only if the handle took it. */
        if (uv_fileno((uv_handle_t *)&w->listener, &owned) != 0)
            close(fd);
        gt__http_accept_pause(w, rc); /* and try again later */
    }
}

static void log_pause(gt__http_worker *w, int err)
{
    gt_http_server *srv = w->srv;
    int64_t now = gt_now();
    long long last = atomic_load(&srv->pause_logged);
    unsigned missed;

    /* One winner per second among the workers. */
    if ((last != 0 && now < last + 1000) ||
        !atomic_compare_exchange_strong(&srv->pause_logged, &last,
                                        now > 0 ? now : 1)) {
        atomic_fetch_add(&srv->pauses_unlogged, 1);
        return;
    }
    missed = atomic_exchange(&srv->pauses_unlogged, 0);
    fprintf(stderr,
            "greentor http: worker %d cannot accept (%s, %d "
            "connections open); accepting paused until a descriptor "
            "frees (%u more pauses since the last message)\n",
            w->index, gt_strerror(err), w->conns.n, missed);
}

void gt__http_accept_pause(gt__http_worker *w, int err)
{
    if (!w->listening || w->listen_dup < 0)
        return; /* no way to resume: keep libuv's behaviour */
    log_pause(w, err);
    w->listening = false;
    w->paused = true;
    w->pause_closing = true;
    w->handles++;
    uv_close((uv_handle_t *)&w->listener, on_paused_closed);
}

void gt__http_accept_fd_freed(gt__http_worker *w)
{
    if (w->paused)
        try_resume(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    gt__http_worker *w = h->data;

    w->handles--;
    gt_waitq_wake(&w->wq, -1);
}

void gt__http_accept_end(gt__http_worker *w)
{
    w->paused = false;
    if (w->resume_timer_on) {
        w->resume_timer_on = false;
        w->handles++;
        uv_close((uv_handle_t *)&w->resume_timer, on_timer_closed);
    }
    if (w->listen_dup >= 0)
        close(w->listen_dup);
    w->listen_dup = -1;
}
