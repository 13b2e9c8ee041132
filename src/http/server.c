/* http/server.c -- the server object: configuration, one listener per
 * worker, per-worker pools, graceful shutdown and signal handling.
 *
 * Every worker has its own listening socket, bound with SO_REUSEPORT to
 * the same address, so the kernel spreads connections over the workers and
 * each accepts, parses and answers on its own loop: nothing on the request
 * path is shared between threads (h2o and Lwan do the same; one acceptor
 * handing sockets out would add a cross-thread hop per connection). The
 * sockets and the TCP transport are in tcp.c.
 *
 * Each worker runs one long-lived "worker coroutine" that owns the
 * worker's part of the server: it opens the listener, sleeps until the
 * server is stopped (or the runtime is, which cancels it), then drains:
 * closes the listener (new connections are refused), closes idle
 * connections, gives in-flight requests drain_timeout_ms, then cancels the
 * rest -- they answer 503 -- and gives them GT__HTTP_STOP_GRACE_MS to do
 * so, cuts off what is still there, and returns only when every
 * connection and handle is closed.
 * Because it is a coroutine, the runtime keeps the worker's loop alive
 * until that is done, so a program that just calls gt_rt_stop() still
 * closes every connection cleanly.
 *
 * The server is reference-counted: the caller holds one reference and every
 * task posted to a worker holds one, so no worker ever touches a freed
 * server, whatever the order in which the caller closes it and the
 * runtime stops. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "http.h"

/* ---- configuration ------------------------------------------------------- */

/* Descriptors max_conns leaves alone when it is derived from the process's
 * limit: stdio, each worker's loop (epoll, wake-up eventfd, libuv's EMFILE
 * reserve), its listener and the listener's duplicate, signal pipes, and
 * whatever else the program opens -- its pools' connections (and MariaDB's
 * KILL QUERY side connections), SQLite's files, logs. 64 + 16 per worker,
 * but never more than half the limit. A program whose pools hold more
 * should set max_conns itself (include/greentor/http.h says so). */
#define CONN(l) gt__list_entry(l, gt__http_conn, link)

#define FD_RESERVE_BASE 64
#define FD_RESERVE_PER_WORKER 16
#define MAX_CONNS_CAP 65536

/* max_conns when the configuration leaves it 0: the soft RLIMIT_NOFILE
 * minus the reserve, shared by the workers. Out of descriptors before it
 * is reached, a worker pauses accepting (accept.c); below it, surplus
 * connections are accepted and closed at once, so the client learns now
 * instead of waiting in the backlog. */
static int derive_max_conns(int nworkers)
{
    struct rlimit rl;
    uint64_t n, reserve, per;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return MAX_CONNS_CAP;
    n = rl.rlim_cur;
    reserve = FD_RESERVE_BASE + FD_RESERVE_PER_WORKER * (uint64_t)nworkers;
    reserve = reserve < n / 2 ? reserve : n / 2;
    per = (n - reserve) / (uint64_t)nworkers;
    return per < 1 ? 1 : per > MAX_CONNS_CAP ? MAX_CONNS_CAP : (int)per;
}

static void apply_defaults(gt_http_config *c, int nworkers)
{
    int *timeouts[] = {&c->header_timeout_ms,    &c->body_timeout_ms,
                       &c->keepalive_timeout_ms, &c->handler_timeout_ms,
                       &c->write_timeout_ms,     &c->drain_timeout_ms};
    static const int defaults[] = {10000, 30000, 15000, 30000, 30000, 10000};

    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (*timeouts[i] == 0)
            *timeouts[i] = defaults[i];
    c->backlog = c->backlog > 0 ? c->backlog : 4096;
    c->max_conns = c->max_conns > 0 ? c->max_conns : derive_max_conns(nworkers);
    c->max_head = c->max_head ? c->max_head : 8192;
    c->max_target = c->max_target ? c->max_target : 4096;
    c->max_headers = c->max_headers ? c->max_headers : 64;
    c->max_body = c->max_body ? c->max_body : 1024 * 1024;
    c->h2_max_streams = c->h2_max_streams > 0 ? c->h2_max_streams : 100;
}

static int check_config(const gt_http_config *c)
{
    const int t[] = {c->header_timeout_ms,    c->body_timeout_ms,
                     c->keepalive_timeout_ms, c->handler_timeout_ms,
                     c->write_timeout_ms,     c->drain_timeout_ms};

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i] < -1)
            return -EINVAL;
    if (c->port < 0 || c->port > 65535 || c->backlog < 0 || c->max_conns < 0 ||
        c->max_head > (1u << 20) || c->max_headers > 4096 ||
        c->max_body > ((uint64_t)1 << 40) || c->h2_max_streams < 0 ||
        (c->tls_min_version != 0 && c->tls_min_version != 12 &&
         c->tls_min_version != 13))
        return -EINVAL;
    return 0;
}

int gt__http_server_new(gt_http_server **out, gt_rt *rt,
                        const gt_http_config *cfg, int nworkers,
                        gt_http_handler handler, void *arg)
{
    gt_http_server *srv;

    if (!handler || nworkers <= 0 || (cfg && check_config(cfg) < 0))
        return -EINVAL;
    srv = gt_calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->workers = gt_calloc((size_t)nworkers, sizeof(*srv->workers));
    if (!srv->workers) {
        free(srv);
        return -ENOMEM;
    }
    if (cfg)
        srv->cfg = *cfg;
    apply_defaults(&srv->cfg, nworkers);
    srv->lim = (gt__http_limits){srv->cfg.max_head, srv->cfg.max_target,
                                 srv->cfg.max_headers};
    /* A whole head, and room to read on behind it, in 4 KiB pages. */
    srv->buf_size = (srv->cfg.max_head + 4096 + 4095) & ~(size_t)4095;
    srv->handler = handler;
    srv->arg = arg;
    srv->rt = rt;
    srv->nworkers = nworkers;
    for (int i = 0; i < nworkers; i++) {
        srv->workers[i] = (gt__http_worker){
            .srv = srv, .index = i, .fd = -1, .listen_dup = -1};
        gt_waitq_init(&srv->workers[i].join_wq);
    }
    atomic_init(&srv->refs, 1);
    gt_waitq_init(&srv->sig_wq);
    *out = srv;
    return 0;
}

void gt__http_server_unref(gt_http_server *srv)
{
    if (atomic_fetch_sub(&srv->refs, 1) != 1)
        return;
    gt__http_tls_close(srv);
    for (int i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].fd >= 0)
            close(srv->workers[i].fd);
    free(srv->workers);
    free(srv);
}

/* ---- per-worker pools ---------------------------------------------------- */

/* How big the free lists may grow, and what bounds their memory.
 *
 * One loop pass can read from every connection that has bytes waiting --
 * at 256 busy connections a pass handles ~230 requests -- and each takes
 * an input buffer and a request object until its coroutine ends, so a
 * worker needs as many of each as requests run at once. A fixed cap below
 * that (it was 64) makes every pass free the excess and malloc it back on
 * the next: at 256 connections 73 % of buffer and request takes went to
 * malloc, ~10 % of the server's user-space instructions (bench/README.md,
 * issue 15).
 *
 * So the lists take back every block, and a block is on a list only
 * because it was in use: a list never holds more than the worker's peak
 * use, which its connections bound (each holds at most an input buffer,
 * an output buffer and a request). What the peak left behind does not
 * stay: once a second, the blocks the list never went below in that
 * second (its low-water mark) were not needed even at that second's peak,
 * and all of them but FREELIST_KEEP are freed. After a burst the memory is
 * back within two seconds to FREELIST_KEEP spare blocks beyond what the
 * last second used; in a steady load the low-water mark is near 0 and
 * nothing is freed. The timer runs only while a list is longer than
 * FREELIST_KEEP, what a worker keeps at rest (64 buffers of 12 KiB with
 * the default max_head, and 64 request objects). */
#define FREELIST_KEEP 64
#define FREELIST_TRIM_MS 1000

void *gt__http_freelist_pop(gt__http_freelist *f)
{
    void *p = f->head;

    if (!p) {
        f->low = 0;
        return NULL;
    }
    memcpy(&f->head, p, sizeof(void *));
    if (--f->n < f->low)
        f->low = f->n;
    return p;
}

static void on_trim(uv_timer_t *t);

void gt__http_freelist_push(gt__http_worker *w, gt__http_freelist *f, void *p)
{
    memcpy(p, &f->head, sizeof(void *));
    f->head = p;
    if (++f->n > FREELIST_KEEP && !w->trim_on && w->trim_open) {
        w->trim_on = true;
        w->bufs.low = w->bufs.n; /* count from now */
        w->reqs.low = w->reqs.n;
        uv_timer_start(&w->trim, on_trim, FREELIST_TRIM_MS, FREELIST_TRIM_MS);
    }
}

/* Free the blocks 'f' did not need since the last trim, but for
 * FREELIST_KEEP of them. Returns true when it is short enough to stop
 * trimming. */
static bool freelist_trim(gt__http_freelist *f)
{
    size_t unneeded = f->low > FREELIST_KEEP ? f->low - FREELIST_KEEP : 0;

    while (unneeded-- > 0 && f->head)
        free(gt__http_freelist_pop(f));
    f->low = f->n;
    return f->n <= FREELIST_KEEP;
}

static void on_trim(uv_timer_t *t)
{
    gt__http_worker *w = t->data;
    bool bufs_short = freelist_trim(&w->bufs),
         reqs_short = freelist_trim(&w->reqs);

    if (bufs_short && reqs_short) {
        uv_timer_stop(t);
        w->trim_on = false;
    }
}

static void on_trim_closed(uv_handle_t *h)
{
    gt__http_worker *w = h->data;

    w->handles--;
    gt_waitq_wake(&w->wq, -1);
}

char *gt__http_buf_get(gt__http_worker *w)
{
    char *b = gt__http_freelist_pop(&w->bufs);

    return b ? b : gt_malloc(w->srv->buf_size);
}

void gt__http_buf_put(gt__http_worker *w, char *buf, size_t cap)
{
    if (!buf)
        return;
    if (cap != w->srv->buf_size) { /* grown past the pool's size */
        free(buf);
        return;
    }
    gt__http_freelist_push(w, &w->bufs, buf);
}

/* ---- the worker coroutine ------------------------------------------------ */

void gt__http_worker_begin(gt__http_worker *w)
{
    gt_waitq_init(&w->wq);
    w->date_next = 0;
    uv_timer_init(gt_loop(), &w->trim);
    w->trim.data = w;
    uv_unref((uv_handle_t *)&w->trim); /* never keeps a worker alive */
    w->trim_open = true;
    w->trim_on = false;
}

void gt__http_worker_end(gt__http_worker *w)
{
    void *p;

    while ((p = gt__http_freelist_pop(&w->bufs)))
        free(p);
    while ((p = gt__http_freelist_pop(&w->reqs)))
        free(p);
    free(w->scratch);
    w->scratch = NULL;
}

static void on_listener_closed(uv_handle_t *h)
{
    gt__http_worker *w = h->data;

    w->handles--;
    gt_waitq_wake(&w->wq, -1);
}

/* Wait until every connection of the worker is gone or 'deadline'. */
static bool wait_conns_gone(gt__http_worker *w, int64_t deadline)
{
    while (w->conns.n > 0 && gt_waitq_wait(&w->wq, deadline) == 0)
        ;
    return w->conns.n == 0;
}

/* Past the drain deadline, a request still running is cancelled, not cut
 * off: its waits fail with -ECANCELED, the handler unwinds, and the client
 * gets a 503 with "Connection: close" instead of silence. */
static void cancel_in_flight(gt__http_worker *w)
{
    for (gt__link *l = w->conns.head; l; l = l->next) {
        gt__http_conn *c = CONN(l);

        c->close_after = true;
        if (c->co)
            gt_co_cancel(c->co);
        else
            gt__http_conn_drain(c);
    }
}

void gt__http_worker_stop(gt__http_worker *w, int drain_ms)
{
    int64_t deadline = gt_deadline_in(drain_ms);
    gt__link *l, *next;
    int was;

    w->stopping = true;
    if (w->listening) {
        w->listening = false;
        w->handles++;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    }
    gt__http_accept_end(w);
    gt__http_tls_worker_stop(w);
    if (w->trim_open) { /* the lists are freed whole at the end */
        w->trim_open = w->trim_on = false;
        w->handles++;
        uv_close((uv_handle_t *)&w->trim, on_trim_closed);
    }
    for (l = w->conns.head; l; l = next) {
        next = l->next; /* draining may free the connection */
        gt__http_conn_drain(CONN(l));
    }
    /* Cancelled ourselves (the runtime is stopping), we cannot wait for
     * anything: then every phase below passes at once. */
    if (!wait_conns_gone(w, deadline)) {
        cancel_in_flight(w);
        wait_conns_gone(w, gt_deadline_in(GT__HTTP_STOP_GRACE_MS));
    }
    for (l = w->conns.head; l; l = l->next)
        gt__http_conn_close(CONN(l)); /* what is left: cut it off */
    /* Closing takes loop iterations, and the requests' cleanups may yield
     * (bounded by the runtime's cleanup_grace_ms): wait for them all, deaf
     * to a cancel. Every freed connection and closed handle wakes us. */
    was = gt_co_shield(1);
    while (w->conns.n > 0 || w->handles > 0)
        gt_waitq_wait(&w->wq, GT_NEVER);
    gt_co_shield(was);
}

static int post_ref(gt_http_server *srv, int i, gt_co_fn fn, void *arg);

static int join_wake_task(void *arg)
{
    gt__http_worker *w = arg;

    gt_waitq_wake(&w->join_wq, -1);
    gt__http_server_unref(w->srv);
    return 0;
}

/* The last worker has stopped: wake gt_http_server_join() callers, which
 * wait on their own worker's queue (a wait queue is per worker). */
static void wake_joiners(gt_http_server *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        post_ref(srv, i, join_wake_task, &srv->workers[i]);
}

static int worker_main(void *arg)
{
    gt__http_worker *w = arg;
    gt_http_server *srv = w->srv;
    int rc = 0;

    gt__http_worker_begin(w);
    gt__http_tls_worker_begin(w);
    if (!atomic_load(&srv->stop))
        rc = gt__http_listen_start(w);
    if (rc < 0)
        fprintf(stderr, "greentor http: worker %d cannot listen: %s\n",
                w->index, gt_strerror(rc));
    while (rc == 0 && !atomic_load(&srv->stop))
        rc = gt_waitq_wait(&w->wq, GT_NEVER);
    gt__http_worker_stop(w, rc == 0 ? srv->cfg.drain_timeout_ms : 0);
    if (srv->cfg.access_log)
        gt__http_log_drain(); /* what this server logged is out */
    gt__http_worker_end(w);
    if (atomic_fetch_sub(&srv->running, 1) == 1)
        wake_joiners(srv);
    gt__http_server_unref(srv);
    return 0;
}

/* ---- the public API ------------------------------------------------------ */

/* libuv writes to sockets with write(2): a client that has gone must make
 * it fail with EPIPE, not kill the process. Only a default disposition is
 * changed; a program's own choice is kept. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;

    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* Post fn(arg) to worker i with a reference of its own. */
static int post_ref(gt_http_server *srv, int i, gt_co_fn fn, void *arg)
{
    int rc;

    atomic_fetch_add(&srv->refs, 1);
    rc = gt_rt_post(srv->rt, i, fn, arg);
    if (rc < 0)
        atomic_fetch_sub(&srv->refs, 1);
    return rc;
}

int gt_http_server_open(gt_http_server **out, gt_rt *rt,
                        const gt_http_config *cfg, gt_http_handler handler,
                        void *arg)
{
    gt_http_server *srv = NULL;
    int rc;

    if (!rt)
        return -EINVAL;
    rc = gt__http_server_new(&srv, rt, cfg, gt_rt_workers(rt), handler, arg);
    if (rc < 0)
        return rc;
    ignore_sigpipe();
    rc = gt__http_tls_open(srv);
    if (rc == 0)
        rc = gt__http_bind_all(srv);
    for (int i = 0; rc == 0 && i < srv->nworkers; i++) {
        atomic_fetch_add(&srv->running, 1);
        rc = post_ref(srv, i, worker_main, &srv->workers[i]);
        if (rc < 0)
            atomic_fetch_sub(&srv->running, 1);
    }
    if (rc < 0) {
        atomic_store(&srv->stop, true); /* posted workers end at once */
        gt__http_server_unref(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int gt_http_server_port(const gt_http_server *srv)
{
    return srv->port;
}

static int stop_task(void *arg)
{
    gt__http_worker *w = arg;

    gt_waitq_wake(&w->wq, -1); /* the worker coroutine sees srv->stop */
    gt__http_server_unref(w->srv);
    return 0;
}

void gt_http_server_stop(gt_http_server *srv)
{
    if (atomic_exchange(&srv->stop, true))
        return;
    for (int i = 0; i < srv->nworkers; i++)
        post_ref(srv, i, stop_task, &srv->workers[i]);
}

/* The last worker to stop posts a wake-up to every worker (holding a
 * server reference, so the server outlives it); a joiner waits on its own
 * worker's queue. If the runtime is stopping, posting fails -- and the
 * joiner is cancelled anyway. */
int gt_http_server_join(gt_http_server *srv, int64_t deadline)
{
    int w = gt_worker_id();
    int rc;

    if (!gt_co_self() || w < 0 || w >= srv->nworkers)
        return -EINVAL;
    while (atomic_load(&srv->running) > 0) {
        rc = gt_waitq_wait(&srv->workers[w].join_wq, deadline);
        if (rc < 0 && atomic_load(&srv->running) > 0)
            return rc;
    }
    return 0;
}

void gt_http_server_close(gt_http_server *srv)
{
    if (!srv)
        return;
    gt_http_server_stop(srv);
    gt__http_server_unref(srv);
}

int gt_http_server_stopping(const gt_http_server *srv)
{
    return srv && atomic_load(&((gt_http_server *)srv)->stop);
}

void gt_http_server_get_stats(const gt_http_server *srv, gt_http_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < srv->nworkers; i++) {
        const gt__http_worker *w = &srv->workers[i];

        out->conns += atomic_load_explicit(&w->n_conns, memory_order_relaxed);
        out->accepted +=
            atomic_load_explicit(&w->n_accepted, memory_order_relaxed);
        out->rejected +=
            atomic_load_explicit(&w->n_rejected, memory_order_relaxed);
        out->requests +=
            atomic_load_explicit(&w->n_requests, memory_order_relaxed);
    }
}

/* ---- signals (worker 0) -------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum)
{
    gt_http_server *srv = h->data;

    (void)signum;
    if (srv->signalled++ == 0)
        gt_waitq_wake(&srv->sig_wq, -1);
    else
        gt_rt_stop(srv->rt); /* a second signal: stop now */
}

static void on_signal_closed(uv_handle_t *h)
{
    gt_http_server *srv = h->data;

    srv->sig_open--;
    gt_waitq_wake(&srv->sig_wq, -1);
}

static int signals_main(void *arg)
{
    static const int signums[2] = {SIGINT, SIGTERM};
    gt_http_server *srv = arg;
    int rc = 0, was;

    for (int i = 0; i < 2; i++) {
        uv_signal_init(gt_loop(), &srv->sig[i]);
        srv->sig[i].data = srv;
        srv->sig_open++;
        if (rc == 0)
            rc = uv_signal_start(&srv->sig[i], on_signal, signums[i]);
    }
    while (rc == 0 && srv->signalled == 0)
        rc = gt_waitq_wait(&srv->sig_wq, GT_NEVER);
    if (rc == 0) {
        gt_http_server_stop(srv);
        gt_http_server_join(srv, GT_NEVER);
        gt_rt_stop(srv->rt);
    }
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&srv->sig[i], on_signal_closed);
    was = gt_co_shield(1);
    while (srv->sig_open > 0)
        gt_waitq_wait(&srv->sig_wq, gt_deadline_in(100));
    gt_co_shield(was);
    gt__http_server_unref(srv);
    return 0;
}

int gt_http_server_stop_on_signals(gt_http_server *srv)
{
    int rc;

    if (atomic_exchange(&srv->sig_on, true))
        return -EALREADY;
    rc = post_ref(srv, 0, signals_main, srv);
    if (rc < 0)
        atomic_store(&srv->sig_on, false);
    return rc;
}
