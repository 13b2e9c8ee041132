/* http/conn.c -- one HTTP connection: reading, parsing, pipelining,
 * dispatch, output buffering and timeouts.
 *
 * A connection is a small state machine driven by libuv callbacks, not a
 * coroutine: an idle keep-alive connection costs this struct (well under
 * 1 KiB) and its socket, and no stack. Its input buffer comes from the
 * worker's pool when bytes arrive and goes back as soon as nothing is left
 * in it, so the pool's top buffer acts as the worker's shared read buffer;
 * a connection keeps one only while it holds a partial or running request.
 *
 * When a complete head is in the buffer, the connection spawns a request
 * coroutine (stacks are recycled, so this is cheap) and does nothing else
 * with the input until that coroutine has ended. The coroutine registers
 * request_done() with gt_co_defer() before anything else, and cleanups run
 * last-registered first, so request_done() runs after every coroutine-local
 * destructor -- the pool has returned the request's database connection --
 * and only then hands the connection back: it parses and dispatches the
 * next pipelined request, or flushes. Requests are therefore answered in
 * order, one at a time, each in a fresh request scope.
 *
 * Responses are appended to one output buffer and written when no complete
 * request remains in the input (or the buffer grows large), so a pipelined
 * batch goes out in one write. uv_try_write() first; only a remainder goes
 * through uv_write(), and while it is pending nothing is appended and
 * nothing new is read (backpressure), except for a handler that waits for
 * its body.
 *
 * The head parser is stateless and re-run over the partial head when bytes
 * arrive (parse.h); 'scanned' skips the re-run when the new bytes hold no
 * line end and cannot cross a limit, so a client dribbling bytes cannot
 * make us rescan the head for each one.
 *
 * One timer per connection covers the one timeout that applies at a time:
 * the header timeout from a request's first byte (slowloris), the idle
 * keep-alive timeout, the write timeout while a write is pending, and the
 * lingering close; it is re-armed lazily (see timer_arm()). A handler's own
 * waits are bounded by its coroutine's deadline instead. A closing connection's
 * memory outlives its handles and its request coroutine, whichever ends last.
 *
 * EOF from the client (a FIN) means it has gone or only half-closed, and
 * the two look the same. Like Go's net/http, the server takes it as both:
 * a running request is cancelled (its waits return -ECANCELED and its
 * destructors run, so a handler does not work for nobody until its
 * deadline), but the connection stays open for writing, so the answer it
 * builds -- a 503 if it returns the cancellation -- and those of complete
 * requests already in the input still go out before the close. With
 * gt_http_config.half_close set, the request is not cancelled and gets
 * its real answer. An RST cancels and closes at once. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static void advance(gt__http_conn *c);

/* ---- life cycle ---------------------------------------------------------- */

int gt__http_conn_new(gt__http_worker *w, const gt__http_io *io, void *io_data,
                      gt__http_conn **out)
{
    gt__http_conn *c = gt_calloc(1, sizeof(*c));

    if (!c)
        return -ENOMEM;
    c->io = io;
    c->io_data = io_data;
    c->w = w;
    c->tcp.data = c;
    uv_timer_init(gt_loop(), &c->timer);
    c->timer.data = c;
    c->timer_due = -1;
    gt_waitq_init(&c->wq);
    gt__list_push_front(&w->conns, &c->link);
    GT__STAT_INC(w->n_conns);
    *out = c;
    return 0;
}

static void release_in(gt__http_conn *c)
{
    gt__http_buf_put(c->w, c->in, c->w->srv->buf_size);
    c->in = NULL;
    c->in_off = c->in_len = c->scanned = 0;
}

static void release_out(gt__http_conn *c)
{
    gt__http_buf_put(c->w, c->out, c->out_cap);
    c->out = NULL;
    c->out_len = c->out_cap = 0;
}

static void conn_free(gt__http_conn *c)
{
    gt__http_worker *w = c->w;

    gt__list_remove(&w->conns, &c->link);
    GT__STAT_DEC(w->n_conns);
    release_in(c);
    release_out(c);
    free(c);
    if (w->stopping)
        gt_waitq_wake(&w->wq, -1); /* the draining worker counts us */
    else
        gt__http_accept_fd_freed(w); /* a descriptor is free again */
}

/* Free once both handles are closed and no request coroutine is left. */
static void maybe_free(gt__http_conn *c)
{
    if (c->closed_cbs == 2 && !c->co)
        conn_free(c);
}

void gt__http_conn_closed(gt__http_conn *c)
{
    c->closed_cbs++;
    maybe_free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    gt__http_conn_closed(h->data);
}

void gt__http_conn_close(gt__http_conn *c)
{
    if (c->state == GT__CONN_CLOSING)
        return;
    c->state = GT__CONN_CLOSING;
    c->reading = false;
    if (c->co)
        gt_co_cancel(c->co); /* its waits unwind; it frees us when done */
    else
        release_in(c); /* nothing refers to the input any more */
    gt_waitq_wake(&c->wq, -1);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    c->io->close(c);
}

void gt__http_conn_drain(gt__http_conn *c)
{
    if (c->state == GT__CONN_OPEN && c->io == &gt__http_tls_io &&
        gt__http_tls_drain(c))
        return; /* HTTP/2: GOAWAY, then close when its streams are done */
    if (c->state != GT__CONN_OPEN || c->co)
        return; /* lingering already; or in flight: it answers with close */
    if (c->writing)
        c->close_after = true;
    else
        gt__http_conn_close(c);
}

void gt__http_conn_refuse(gt__http_conn *c, int status, const char *why)
{
    if (c->state != GT__CONN_OPEN || c->co)
        return;
    gt__http_send_error(c, status, why);
    advance(c);
}

/* ---- timers -------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

/* The libuv timer is re-armed lazily. Re-arming it on every request (stop
 * at dispatch, start at the next settle) was ~490 instructions a request
 * at 256 connections: removing and re-inserting in libuv's timer heap
 * (bench/README.md, issue 15). So the timeout that applies is kept here,
 * as 'timer_kind' and its deadline 'timer_at', and the libuv timer is
 * only started when it is not running or would fire after that deadline.
 * When it fires early -- the timeout was switched off, or replaced by a
 * later one -- on_timer() starts it again for what is left, so every
 * timeout still fires at its own deadline, to the loop's millisecond. A
 * busy keep-alive connection costs one extra callback per idle timeout
 * period instead of two heap operations per request. */
static void timer_arm(gt__http_conn *c, int kind, int ms)
{
    int64_t at;

    if (ms < 0) { /* this timeout is switched off */
        c->timer_kind = GT__T_NONE;
        return;
    }
    at = gt_now() + ms;
    c->timer_kind = (uint8_t)kind;
    c->timer_at = at;
    if (c->timer_due < 0 || c->timer_due > at) {
        uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
        c->timer_due = at;
    }
}

static void timer_stop(gt__http_conn *c)
{
    c->timer_kind = GT__T_NONE; /* a running libuv timer finds nothing */
}

/* A head not complete in time gets a 408 (best effort) and the connection
 * closes; every other timeout just closes it. */
static void on_timer(uv_timer_t *t)
{
    gt__http_conn *c = t->data;
    int kind = c->timer_kind;
    int64_t now = gt_now();

    c->timer_due = -1;
    if (kind == GT__T_NONE)
        return;
    if (now < c->timer_at) { /* armed for an earlier deadline */
        uv_timer_start(&c->timer, on_timer, (uint64_t)(c->timer_at - now), 0);
        c->timer_due = c->timer_at;
        return;
    }
    c->timer_kind = GT__T_NONE;
    if (kind == GT__T_HEADER && c->state == GT__CONN_OPEN && !c->co &&
        !c->writing && c->in_len > c->in_off) {
        gt__http_send_error(c, 408, "timeout");
        advance(c);
        return;
    }
    gt__http_conn_close(c);
}

void gt__http_conn_h2(gt__http_conn *c)
{
    timer_stop(c);
}

void gt__http_conn_h2_timer(gt__http_conn *c, int kind)
{
    const gt_http_config *cfg = &c->w->srv->cfg;

    if (kind == c->timer_kind)
        return; /* keeps its deadline */
    if (kind == GT__T_IDLE)
        timer_arm(c, GT__T_IDLE, cfg->keepalive_timeout_ms);
    else if (kind == GT__T_WRITE)
        timer_arm(c, GT__T_WRITE, cfg->write_timeout_ms);
    else if (kind == GT__T_HEADER)
        timer_arm(c, GT__T_HEADER, cfg->header_timeout_ms);
    else
        timer_stop(c);
}

void gt__http_conn_h2_progress(gt__http_conn *c)
{
    if (c->timer_kind == GT__T_WRITE) /* the client took bytes: a new wait */
        timer_arm(c, GT__T_WRITE, c->w->srv->cfg.write_timeout_ms);
}

/* ---- reading ------------------------------------------------------------- */

void gt__http_conn_update_reading(gt__http_conn *c)
{
    gt_http_req *r = c->req;
    bool want;

    if (c->state == GT__CONN_CLOSING)
        return;
    if (c->peer_eof)
        want = false; /* nothing more will come */
    else if (c->state == GT__CONN_LINGER)
        want = true;
    else if (r && r->spill_active)
        want = true; /* a handler waits for its body: even while writing */
    else if (c->writing || (r && r->tail_len > 0))
        want = false;
    else
        want = !c->in || c->in_len < c->w->srv->buf_size;
    if (want == c->reading)
        return;
    if (!want) {
        c->io->read_stop(c);
        c->reading = false;
    } else if (c->io->read_start(c) < 0) {
        gt__http_conn_close(c);
    } else {
        c->reading = true;
    }
}

void gt__http_conn_start(gt__http_conn *c)
{
    timer_arm(c, GT__T_HEADER, c->w->srv->cfg.header_timeout_ms);
    gt__http_conn_update_reading(c);
}

void gt__http_conn_alloc(gt__http_conn *c, uv_buf_t *buf)
{
    size_t cap = c->w->srv->buf_size;

    if (c->req && c->req->spill_active) {
        gt__http_req_spill_space(c->req, buf);
        return;
    }
    if (!c->in) {
        c->in = gt__http_buf_get(c->w);
        c->in_off = c->in_len = c->scanned = 0;
        if (!c->in) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
    }
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(cap - c->in_len));
}

/* The client closed its side (n UV_EOF) or the connection failed. A FIN
 * while a request is running or waiting in the input may be a half-close
 * (a script that sends its request and shuts down its side, `nc -N`), so
 * the connection stays open for writing and the answers go out; but a FIN
 * is also what a client that gave up sends, so a running request is
 * cancelled (its waits fail, it answers what it answers: 503 when it
 * returns -ECANCELED), unless cfg.half_close says the client only
 * half-closes. A handler still waiting for its body cannot get it: that
 * closes. */
static void peer_eof(gt__http_conn *c, int n)
{
    gt_http_req *r = c->req;

    if (n != UV_EOF || c->state != GT__CONN_OPEN || (r && r->spill_active) ||
        (!c->co && c->in_len == c->in_off)) {
        gt__http_conn_close(c); /* gone, or nothing left to answer */
        return;
    }
    c->peer_eof = true;
    gt__http_conn_update_reading(c);
    if (c->co && !c->w->srv->cfg.half_close)
        gt_co_cancel(c->co);
    else if (!c->co)
        advance(c);
}

void gt__http_conn_read(gt__http_conn *c, ssize_t n, const uv_buf_t *buf)
{
    gt_http_req *r = c->req;

    (void)buf;
    if (n == 0 || c->state == GT__CONN_CLOSING)
        return;
    if (n == UV_ENOBUFS) {
        if (!c->in && !(r && r->spill_active)) {
            gt__http_conn_close(c); /* out of memory */
            return;
        }
        c->io->read_stop(c); /* no room: the body reader restarts us */
        c->reading = false;
        return;
    }
    if (n < 0) {
        peer_eof(c, (int)n);
        return;
    }
    if (c->state == GT__CONN_LINGER) {
        release_in(c); /* dropped; a lingering connection holds no buffer */
        return;
    }
    if (r && r->spill_active) {
        r->spill_raw += (size_t)n;
        gt_waitq_wake(&c->wq, -1);
        return;
    }
    c->in_len += (size_t)n;
    if (c->co)
        gt__http_conn_update_reading(c);
    else
        advance(c);
}

/* ---- writing ------------------------------------------------------------- */

char *gt__http_out_reserve(gt__http_conn *c, size_t n)
{
    size_t pool = c->w->srv->buf_size, want;
    char *p;

    assert(!c->writing);
    if (n > INT_MAX || c->out_len > INT_MAX - n)
        return NULL;
    if (c->out_cap - c->out_len >= n)
        return c->out + c->out_len;
    if (!c->out && n <= pool) {
        c->out = gt__http_buf_get(c->w);
        c->out_cap = c->out ? pool : 0;
        return c->out;
    }
    want = c->out_cap * 2 > c->out_len + n ? c->out_cap * 2 : c->out_len + n;
    if (want < pool)
        want = pool;
    p = gt_realloc(c->out, want);
    if (!p)
        return NULL;
    c->out = p;
    c->out_cap = want;
    return c->out + c->out_len;
}

void gt__http_out_commit(gt__http_conn *c, size_t n)
{
    c->out_len += n;
}

void gt__http_conn_flush(gt__http_conn *c)
{
    int n;

    if (c->state != GT__CONN_OPEN || c->writing || c->out_len == 0)
        return;
    n = c->io->try_write(c, c->out, c->out_len);
    if (n >= 0 && (size_t)n == c->out_len) {
        release_out(c);
        return;
    }
    if (n >= 0)
        n = c->io->write(c, c->out + n, c->out_len - (size_t)n);
    if (n < 0) {
        gt__http_conn_close(c);
        return;
    }
    c->writing = true;
    timer_arm(c, GT__T_WRITE, c->w->srv->cfg.write_timeout_ms);
    gt__http_conn_update_reading(c);
}

void gt__http_conn_written(gt__http_conn *c, int status)
{
    c->writing = false;
    if (c->state == GT__CONN_CLOSING)
        return;
    if (status < 0) {
        gt__http_conn_close(c);
        return;
    }
    release_out(c);
    if (c->timer_kind == GT__T_WRITE)
        timer_stop(c);
    if (c->co) {
        gt_waitq_wake(&c->wq, -1);
        gt__http_conn_update_reading(c);
        return;
    }
    advance(c);
}

int gt__http_conn_wait_write(gt__http_conn *c, int64_t deadline)
{
    int rc;

    while (c->writing && c->state == GT__CONN_OPEN) {
        rc = gt_waitq_wait(&c->wq, deadline);
        if (rc < 0)
            return rc;
    }
    return c->state == GT__CONN_OPEN ? 0 : -EPIPE;
}

int gt__http_conn_wait_input(gt__http_conn *c, int64_t deadline)
{
    int rc;

    if (c->state != GT__CONN_OPEN || c->peer_eof)
        return -EPIPE;
    gt__http_conn_update_reading(c);
    rc = gt_waitq_wait(&c->wq, deadline);
    if (rc == 0 && c->state != GT__CONN_OPEN)
        rc = -EPIPE;
    return rc;
}

/* ---- the request coroutine ----------------------------------------------- */

/* The request's last cleanup: every local destructor has run. Give the
 * connection back: next request, flush, or close. */
static void request_done(void *arg)
{
    gt_http_req *req = arg;
    gt__http_conn *c = req->conn;

    c->co = NULL;
    c->req = NULL;
    if (!req->res.finished)
        c->close_after = true; /* no answer: the stream is out of step */
    if (c->state == GT__CONN_OPEN && !c->close_after)
        gt__http_req_finish_input(req);
    gt__http_req_put(c->w, req);
    if (c->state == GT__CONN_CLOSING)
        maybe_free(c);
    else
        advance(c);
}

static int request_main(void *arg)
{
    gt_http_req *req = arg;

    /* First, so that it runs last. It cannot fail in a fresh coroutine
     * (the first cleanups live inside the coroutine), but if it did, it
     * would already have run: then stop here. */
    if (gt_co_defer(request_done, req) < 0)
        return -ENOMEM;
    /* By path until a router names it by its route pattern. */
    gt__http_req_name(req, req->head.path, req->head.path_len);
    gt__http_serve(req);
    return 0;
}

/* Start a request coroutine for the head of 'head_len' bytes at in_off.
 * Returns 1 when one runs, 0 when an error response was queued instead. */
static int dispatch(gt__http_conn *c, gt_http_req *req, size_t head_len)
{
    gt__http_worker *w = c->w;
    const gt_http_config *cfg = &w->srv->cfg;
    gt_co *co;

    gt__http_req_start(req, c, head_len);
    if (req->head.content_length > 0 &&
        (uint64_t)req->head.content_length > cfg->max_body) {
        /* Refused unread, but with a request, so that the app's error
         * handler, CORS and after hook see it (hooks.c). */
        req->body_state = GT__BODY_FAILED;
        req->body_rc = -EMSGSIZE;
        req->body_status = 413;
        c->close_after = true;
    }
    /* The worker's scope: the previous request's coroutine may be the one
     * dispatching this pipelined request, from its last cleanup. */
    if (gt_co_spawn_worker(&co, request_main, req) < 0) {
        gt__http_req_put(w, req);
        gt__http_send_error(c, 503, "memory");
        return 0;
    }
    gt_co_detach(co); /* c->co stays valid until request_done() */
    if (cfg->handler_timeout_ms >= 0)
        gt_co_set_deadline(co, gt_deadline_in(cfg->handler_timeout_ms));
    c->co = co;
    c->req = req;
    if (c->peer_eof && !cfg->half_close)
        gt_co_cancel(co); /* as if it had run when the FIN came */
    timer_stop(c);
    GT__STAT_INC(w->n_requests);
    return 1;
}

/* Is re-parsing the partial head worth it? Not when the bytes since the
 * last try hold no line end and the head is below every limit: the parser
 * would say "need more" again. */
static bool worth_parsing(const gt__http_conn *c)
{
    const gt__http_limits *lim = &c->w->srv->lim;
    size_t limit =
        lim->max_target < lim->max_head ? lim->max_target : lim->max_head;

    if (c->scanned <= c->in_off || c->in_len - c->in_off >= limit)
        return true;
    return memchr(c->in + c->scanned, '\n', c->in_len - c->scanned) != NULL;
}

/* Parse the next head in the input and dispatch it. Returns 1 when a
 * request coroutine runs now, else 0 (incomplete, or an error queued). */
static int next_request(gt__http_conn *c)
{
    gt__http_worker *w = c->w;
    gt_http_req *req;
    int rc;

    if (c->in_len == c->in_off)
        return 0;
    if (w->stopping) {
        c->close_after = true; /* draining: no new requests */
        return 0;
    }
    if (!worth_parsing(c))
        return 0;
    if (!w->scratch)
        w->scratch = gt__http_req_get(w);
    req = w->scratch;
    if (!req) {
        gt__http_send_error(c, 503, "memory");
        return 0;
    }
    req->head.headers = req->headers;
    rc = gt__http_parse_head(&req->head, c->in + c->in_off,
                             c->in_len - c->in_off, &w->srv->lim);
    if (rc == GT__HTTP_AGAIN) {
        c->scanned = c->in_len;
        return 0;
    }
    if (rc < 0) {
        gt__http_send_error(c, -rc, "parse");
        return 0;
    }
    w->scratch = NULL;
    return dispatch(c, req, (size_t)rc);
}

/* Move a partial head to the front so that it can grow to max_head. */
static void compact(gt__http_conn *c)
{
    size_t n = c->in_len - c->in_off;

    if (c->in_off == 0)
        return;
    memmove(c->in, c->in + c->in_off, n);
    c->scanned = c->scanned > c->in_off ? c->scanned - c->in_off : 0;
    c->in_off = 0;
    c->in_len = n;
}

/* Final response flushed: send FIN, then read and drop until the client
 * closes, so that our close cannot reset the connection before the client
 * has read the response. */
static void linger(gt__http_conn *c)
{
    if (c->peer_eof) { /* it closed its side: nothing to wait for */
        gt__http_conn_close(c);
        return;
    }
    c->state = GT__CONN_LINGER;
    c->io->shutdown(c);
    release_in(c);
    timer_arm(c, GT__T_LINGER, GT__HTTP_LINGER_MS);
    gt__http_conn_update_reading(c);
}

/* No request runs and the output is flushed or being written: arm the
 * timeout that applies and give back what an idle connection needs not
 * hold. */
static void settle(gt__http_conn *c)
{
    const gt_http_config *cfg = &c->w->srv->cfg;

    if (c->writing) {
        gt__http_conn_update_reading(c);
        return;
    }
    if (c->close_after || c->peer_eof) {
        linger(c); /* with peer_eof: every complete request answered */
        return;
    }
    if (c->in_len == c->in_off) {
        release_in(c);
        if (c->w->stopping) {
            gt__http_conn_close(c);
            return;
        }
        if (c->timer_kind != GT__T_IDLE)
            timer_arm(c, GT__T_IDLE, cfg->keepalive_timeout_ms);
    } else {
        compact(c);
        if (c->timer_kind != GT__T_HEADER)
            timer_arm(c, GT__T_HEADER, cfg->header_timeout_ms);
    }
    gt__http_conn_update_reading(c);
}

/* The connection's pump, called whenever no request runs and something
 * changed: bytes arrived, a request ended, a write finished. */
static void advance(gt__http_conn *c)
{
    if (c->co || c->state != GT__CONN_OPEN)
        return;
    if (c->out_len >= c->w->srv->buf_size / 2)
        gt__http_conn_flush(c); /* large output: don't wait for the batch */
    if (!c->writing && !c->close_after && next_request(c))
        return;
    gt__http_conn_flush(c);
    if (c->state == GT__CONN_OPEN)
        settle(c);
}
