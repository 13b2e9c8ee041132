/* http/h2.c -- the HTTP/2 session of a TLS connection (nghttp2).
 *
 * nghttp2 does the framing, HPACK, flow control and stream states; this
 * file feeds it the plaintext tls.c decrypts (gt__h2_recv), gives what it
 * has to send back to tls.c while the socket takes it (gt__h2_pump), and
 * turns its callbacks into streams (h2_stream.c, which says how a stream
 * reaches the unchanged HTTP/1.1 machinery).
 *
 * Flow control: nghttp2 sends WINDOW_UPDATE for what it received (its
 * default), and the request body is bounded by max_body in the stream's
 * connection (413 past it), so the client cannot make us hold more than
 * that per stream. Our response bodies wait in the stream until the
 * client's window lets nghttp2 take them (the data provider defers), and a
 * stream connection's write is reported only once its bytes are below a
 * bound, so a handler streaming a large body is paced by the client as
 * over HTTP/1.1.
 *
 * Limits come from gt_http_config: SETTINGS_MAX_CONCURRENT_STREAMS is
 * h2_max_streams, SETTINGS_MAX_HEADER_LIST_SIZE is max_head (and the head
 * the stream connection parses has max_head, max_target and max_headers
 * as in HTTP/1.1); an idle connection (no stream) is closed after
 * keepalive_timeout_ms, and one whose client does not take our bytes for
 * write_timeout_ms is closed too. A graceful stop sends GOAWAY and lets the
 * streams it already took finish. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "h2.h"

static gt__h2_stream *stream_of(gt__h2 *h, int32_t id)
{
    return nghttp2_session_get_stream_user_data(h->ng, id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *f,
                            void *user)
{
    gt__h2 *h = user;
    gt__h2_stream *s;

    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* Stopping, or out of memory: REFUSED_STREAM says it was not processed,
     * so the client may retry it (RFC 9113 8.7); its fields are then
     * ignored (no user data). */
    s = h->draining ? NULL : gt__h2_stream_new(h, f->hd.stream_id);
    if (!s) {
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        gt__h2_kick(h);
        return 0;
    }
    nghttp2_session_set_stream_user_data(ng, f->hd.stream_id, s);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *f,
                     const uint8_t *name, size_t nl, const uint8_t *value,
                     size_t vl, uint8_t flags, void *user)
{
    gt__h2_stream *s = stream_of(user, f->hd.stream_id);

    (void)ng;
    (void)flags;
    if (!s || f->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (s->head_built)
        return 0; /* trailers: dropped, as HTTP/1.1 drops them */
    return gt__h2_stream_header(s, name, nl, value, vl) < 0
               ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
               : 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *f,
                         void *user)
{
    gt__h2 *h = user;
    gt__h2_stream *s = stream_of(h, f->hd.stream_id);
    bool end = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    int rc = 0;

    if (!s)
        return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !s->head_built)
        rc = gt__h2_stream_start(s, end);
    else if (end) /* DATA or trailers with END_STREAM */
        rc = gt__h2_stream_data(s, NULL, 0, true);
    if (rc < 0)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                  rc == -ENOMEM ? NGHTTP2_INTERNAL_ERROR
                                                : NGHTTP2_PROTOCOL_ERROR);
    gt__h2_kick(h);
    return 0;
}

static int on_data(nghttp2_session *ng, uint8_t flags, int32_t id,
                   const uint8_t *p, size_t n, void *user)
{
    gt__h2_stream *s = stream_of(user, id);

    (void)flags;
    if (s && gt__h2_stream_data(s, p, n, false) < 0)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id,
                                  NGHTTP2_INTERNAL_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t err,
                           void *user)
{
    gt__h2 *h = user;
    gt__h2_stream *s = stream_of(h, id);

    (void)err;
    if (!s)
        return 0;
    nghttp2_session_set_stream_user_data(ng, id, NULL);
    s->stream_closed = true;
    gt__h2_kick(h);
    return 0;
}

/* Our END_STREAM went out while the client's side is still open: the
 * answer is complete, so the request's rest is not needed (RFC 9113
 * 8.1) -- reset with NO_ERROR rather than wait for it forever. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *f,
                         void *user)
{
    (void)user;
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(ng, f->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, f->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

static void on_kick(uv_idle_t *i)
{
    uv_idle_stop(i);
    gt__h2_pump(i->data);
}

static void on_kick_closed(uv_handle_t *hd)
{
    free(hd->data);
}

gt__h2 *gt__h2_open(gt__http_conn *c)
{
    const gt_http_config *cfg = &c->w->srv->cfg;
    nghttp2_session_callbacks *cb;
    nghttp2_settings_entry set[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         (uint32_t)cfg->h2_max_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)cfg->max_head},
    };
    gt__h2 *h = gt_calloc(1, sizeof(*h));
    int rc;

    if (!h || nghttp2_session_callbacks_new(&cb) != 0) {
        free(h);
        return NULL;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    rc = nghttp2_session_server_new(&h->ng, cb, h);
    nghttp2_session_callbacks_del(cb);
    if (rc == 0 && nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, set,
                                           sizeof(set) / sizeof(set[0])) != 0)
        rc = -1;
    if (rc != 0) {
        nghttp2_session_del(h->ng);
        free(h);
        return NULL;
    }
    h->c = c;
    {
        int len = sizeof(h->peer);

        h->has_peer =
            uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&h->peer, &len) == 0;
    }
    uv_idle_init(gt_loop(), &h->kick);
    h->kick.data = h;
    gt__http_conn_h2(c);
    return h;
}

void gt__h2_kick(gt__h2 *h)
{
    if (h->ng && (!h->dead || h->streams))
        uv_idle_start(&h->kick, on_kick);
}

int gt__h2_recv(gt__h2 *h, const uint8_t *p, size_t n)
{
    ssize_t rc = nghttp2_session_mem_recv(h->ng, p, n);

    if (rc < 0)
        return -EPROTO;
    gt__h2_kick(h);
    return 0;
}

/* Free the session once the connection is gone and so are its streams. */
static void maybe_free(gt__h2 *h)
{
    if (!h->dead || h->streams || h->in_pump || !h->ng)
        return;
    nghttp2_session_del(h->ng);
    h->ng = NULL;
    uv_close((uv_handle_t *)&h->kick, on_kick_closed);
}

/* Frames go to the socket SEND_BATCH bytes at a time: each uv_write that
 * completes restarts the write timeout (gt__http_conn_h2_progress), so a
 * write must be small enough for a slow client that reads to finish it
 * well within write_timeout_ms. */
#define SEND_BATCH (64 * 1024)

static void send_frames(gt__h2 *h)
{
    const uint8_t *p;
    ssize_t n;

    while (!gt__http_tls_busy(h->c)) {
        size_t sent = 0;

        while (sent < SEND_BATCH) {
            n = nghttp2_session_mem_send(h->ng, &p);
            if (n < 0) {
                gt__http_conn_close(h->c);
                return;
            }
            if (n == 0)
                break;
            if (gt__http_tls_send(h->c, p, (size_t)n) < 0) {
                gt__http_conn_close(h->c);
                return;
            }
            sent += (size_t)n;
        }
        if (gt__http_tls_flush(h->c) < 0) {
            gt__http_conn_close(h->c);
            return;
        }
        if (sent < SEND_BATCH)
            return; /* the session has nothing more now */
    }
}

/* The timeout that applies: none while a stream connection runs (its own
 * timeouts apply); else the header timeout for a stream whose head never
 * came, the write timeout for a response the client's window holds back,
 * and the idle timeout for the rest -- a stream with no connection is no
 * reason to keep a silent client. */
static int timer_kind(gt__h2 *h)
{
    bool head = false, held = false;

    if (gt__http_tls_busy(h->c))
        return GT__T_WRITE;
    for (gt__h2_stream *s = h->streams; s; s = s->next) {
        if (s->vc)
            return GT__T_NONE;
        head |= !s->head_built;
        held |= s->submitted && !s->stream_closed &&
                (s->out_len > s->out_off || !s->body_eof);
    }
    return head ? GT__T_HEADER : held ? GT__T_WRITE : GT__T_IDLE;
}

void gt__h2_pump(gt__h2 *h)
{
    gt__h2_stream **pp;

    if (h->in_pump)
        return;
    h->in_pump = true;
    for (pp = &h->streams; *pp;) {
        gt__h2_stream *s = *pp;

        if (gt__h2_stream_step(s)) { /* done: it was freed */
            *pp = s->next;
            free(s);
            h->nstreams--;
        } else {
            pp = &s->next;
        }
    }
    if (!h->dead && h->c->state == GT__CONN_OPEN)
        send_frames(h);
    if (!h->dead && h->c->state == GT__CONN_OPEN) {
        bool done = !nghttp2_session_want_read(h->ng) &&
                    !nghttp2_session_want_write(h->ng);

        if (done || (h->draining && h->nstreams == 0 &&
                     !nghttp2_session_want_write(h->ng)))
            gt__http_conn_close(h->c);
        else
            gt__http_conn_h2_timer(h->c, timer_kind(h));
    }
    h->in_pump = false;
    maybe_free(h);
}

void gt__h2_drain(gt__h2 *h)
{
    if (h->draining || h->dead)
        return;
    h->draining = true;
    nghttp2_submit_goaway(h->ng, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(h->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    gt__h2_kick(h);
}

void gt__h2_close(gt__h2 *h)
{
    h->dead = true;
    h->c = NULL;
    for (gt__h2_stream *s = h->streams; s; s = s->next)
        gt__h2_stream_abort(s);
    if (h->streams)
        uv_idle_start(&h->kick, on_kick);
    else
        maybe_free(h);
}
