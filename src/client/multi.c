/* client/multi.c -- one libcurl multi handle per worker, driven by the
 * worker's libuv loop.
 *
 * curl's multi_socket interface says which sockets to watch (the socket
 * callback) and when to call it back regardless (the timer callback); we
 * answer with one uv_poll_t per socket and one uv_timer_t per worker, and
 * call curl_multi_socket_action() from their callbacks. After every call
 * the finished transfers are collected (curl_multi_info_read), removed
 * from the multi and their coroutines woken. So the loop runs curl the way
 * it runs greentor's own connections: no thread per call, and transfers of
 * one worker share its connection cache.
 *
 * Curl's callbacks only start, stop and close libuv handles -- libcurl must
 * not be re-entered from them. Every handle is its own allocation, freed
 * by its close callback, so that the worker's state can go at once when the
 * runtime stops even though handle closes complete a loop iteration later.
 *
 * The state is reached through a thread-local pointer: a worker is a
 * thread, and a thread is a worker of at most one runtime at a time. It is
 * made on the worker's first fetch and torn down by a gt_rt_on_stop() hook,
 * which runs on that worker after its last coroutine ended (so no transfer
 * is in flight) and before the runtime closes the loop's handles. Each
 * worker registers a hook of its own, tagged with its index: stop hooks run
 * on every worker, and only the tagged one may touch the state. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "client.h"

/* Connections a worker's multi handle keeps (in use and idle). libcurl's
 * default is four times the transfers attached at the moment one ends;
 * since a finished transfer leaves the multi at once and its coroutine
 * starts the next one only later, a burst of completions shrinks that to
 * a few and closes connections that were about to be reused (the client
 * benchmark saw 2,000 connections opened for 20,000 calls from 16
 * coroutines). A fixed cap keeps them. */
#define MAX_CONNECTS 256L

/* A socket curl asked us to watch; curl_multi_assign() ties it to the fd.
 * Lives until its poll's close callback. */
typedef struct sock {
    uv_poll_t poll;
    struct client *cl; /* NULL once closing */
    curl_socket_t fd;
    int events;        /* the UV_* events curl asked for */
    struct sock *next; /* in cl->socks */
    struct sock **pprev;
} sock;

/* The worker's multi. 'timer' is a separate allocation (freed by its close
 * callback) for the reason above. */
typedef struct client {
    CURLM *multi;
    uv_loop_t *loop;
    uv_timer_t *timer;
    sock *socks; /* open polls */
    int closing; /* cleanup started: callbacks make no handles */
} client;

static _Thread_local client *self;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    /* Process-wide and not thread-safe on older libcurls, so once; never
     * undone, since other code in the process may use libcurl too. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void on_handle_closed(uv_handle_t *h)
{
    free(h); /* a sock (poll first) or the timer */
}

static void sock_close(sock *s)
{
    if (s->next)
        s->next->pprev = s->pprev;
    *s->pprev = s->next;
    s->cl = NULL;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/* Collect what curl has finished: each transfer leaves the multi and its
 * coroutine is woken (it may already have stopped waiting). */
static void collect_done(client *cl)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(cl->multi, &left))) {
        gt__transfer *t = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        t->code = msg->data.result;
        t->done = 1;
        curl_multi_remove_handle(cl->multi, t->easy);
        t->multi = NULL;
        gt_waitq_wake(&t->wq, 1);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock *s = (sock *)p;
    client *cl = s->cl;
    int flags = 0, running;

    if (!cl)
        return;
    if (status < 0)
        flags = CURL_CSELECT_ERR; /* curl will find out what by itself */
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    /* This may close 's' (CURL_POLL_REMOVE, then s->cl is NULL); its
     * memory stays until the close callback, a later loop phase. */
    curl_multi_socket_action(cl->multi, s->fd, flags, &running);
    /* libuv stops a poll that reports an error, but curl only calls back
     * on changes: if it kept the socket, watch it again as it asked. */
    if (status < 0 && s->cl && s->events)
        uv_poll_start(&s->poll, s->events, on_poll);
    collect_done(cl);
}

static void on_timer(uv_timer_t *h)
{
    client *cl = h->data;
    int running;

    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(cl);
}

/* We cannot watch a socket of 'easy': fail its transfer. libcurl cannot be
 * told from here (before 8.x it ignores the callback's -1, and it must not
 * be re-entered), so the transfer's coroutine is woken to remove it. */
static int fail_transfer(CURL *easy, int rc)
{
    gt__transfer *t = NULL;

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    if (t && !t->error) {
        t->error = rc;
        gt_waitq_wake(&t->wq, 1);
    }
    return -1;
}

/* CURLMOPT_SOCKETFUNCTION: watch 'fd' for 'what', or stop watching it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
                     void *sockp)
{
    client *cl = arg;
    sock *s = sockp;
    int ev = 0, rc;

    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(cl->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        if (cl->closing)
            return -1;
        if (!(s = gt_calloc(1, sizeof(*s))))
            return fail_transfer(easy, -ENOMEM);
        if ((rc = uv_poll_init_socket(cl->loop, &s->poll, fd)) < 0) {
            free(s);
            return fail_transfer(easy, rc);
        }
        s->cl = cl;
        s->fd = fd;
        s->next = cl->socks;
        if (s->next)
            s->next->pprev = &s->next;
        s->pprev = &cl->socks;
        cl->socks = s;
        curl_multi_assign(cl->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    s->events = ev;
    if ((rc = uv_poll_start(&s->poll, ev, on_poll)) < 0)
        return fail_transfer(easy, rc);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: call curl back in 'ms' (0: at the next loop
 * iteration, never from within this callback), or not at all (-1). */
static int on_timeout(CURLM *multi, long ms, void *arg)
{
    client *cl = arg;

    (void)multi;
    if (ms < 0 || cl->closing)
        return uv_timer_stop(cl->timer) < 0 ? -1 : 0;
    return uv_timer_start(cl->timer, on_timer, (uint64_t)ms, 0) < 0 ? -1 : 0;
}

/* The stop hook: close the cached connections, then every handle. */
static void on_stop(void *arg, int worker)
{
    client *cl = self;

    if ((intptr_t)arg != worker || !cl)
        return;
    self = NULL;
    cl->closing = 1;
    curl_multi_cleanup(cl->multi); /* calls on_socket to REMOVE its fds */
    while (cl->socks)
        sock_close(cl->socks);
    uv_close((uv_handle_t *)cl->timer, on_handle_closed);
    free(cl);
}

static int client_new(client **out)
{
    uv_loop_t *loop = gt_loop();
    client *cl;
    int rc = -ENOMEM;

    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return -ENOMEM; /* its only failure modes are allocations */
    if (!(cl = gt_calloc(1, sizeof(*cl))))
        return -ENOMEM;
    cl->loop = loop;
    if (!(cl->timer = gt_calloc(1, sizeof(*cl->timer))))
        goto fail_free;
    if (!(cl->multi = curl_multi_init()))
        goto fail_free_timer;
    if ((rc = uv_timer_init(loop, cl->timer)) < 0)
        goto fail_cleanup;
    cl->timer->data = cl;
    rc = gt_rt_on_stop(gt_rt_self(), on_stop, (void *)(intptr_t)gt_worker_id());
    if (rc < 0)
        goto fail_close;
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
    curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, MAX_CONNECTS);
    *out = cl;
    return 0;

fail_close:
    uv_close((uv_handle_t *)cl->timer, on_handle_closed);
    cl->timer = NULL;
fail_cleanup:
    curl_multi_cleanup(cl->multi);
fail_free_timer:
    free(cl->timer);
fail_free:
    free(cl);
    return rc;
}

int gt__client_add(gt__transfer *t)
{
    client *cl = self;
    CURLMcode mc;
    int rc;

    if (!gt_loop() || !gt_co_self())
        return -EINVAL;
    if (!cl) {
        if ((rc = client_new(&cl)) < 0)
            return rc;
        self = cl;
    }
    mc = curl_multi_add_handle(cl->multi, t->easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : GT_EPROTO;
    t->multi = cl->multi;
    return 0;
}

void gt__client_remove(gt__transfer *t)
{
    if (!t->multi)
        return;
    curl_multi_remove_handle(t->multi, t->easy);
    t->multi = NULL;
}
