/* http/tls.c -- the TLS transport: a gt__http_io table that puts OpenSSL
 * between conn.c and the TCP socket.
 *
 * OpenSSL never touches the socket. The SSL object reads ciphertext from
 * one memory BIO and writes it to another (SSL_set_bio with two
 * BIO_s_mem), and this file moves the bytes between those BIOs and the
 * libuv stream, exactly as tcp.c does for plaintext: libuv reads into a
 * per-thread buffer, the bytes go into the read BIO, and the plaintext
 * SSL_read() makes of them is delivered to the connection through
 * gt__http_conn_alloc() and gt__http_conn_read(), so conn.c -- parsing,
 * pipelining, backpressure, every timeout -- runs unchanged over TLS.
 *
 * The handshake is driven by the bytes that arrive, before any plaintext
 * reaches the connection. The connection has armed its header timeout when
 * it started reading, and a handshake delivers no request bytes, so a
 * client that stalls in the handshake (sends nothing, or half a
 * ClientHello) is closed when that timeout fires, like a slow header,
 * without a coroutine or any work of ours meanwhile.
 *
 * Writing: the connection's try_write() encrypts its whole buffer into the
 * write BIO and tries to write the ciphertext at once. What the socket does
 * not take is copied out and written with one uv_write(); try_write() then
 * says "0 written" and remembers that it has absorbed the buffer, so the
 * write() conn.c makes next encrypts nothing more and only waits:
 * gt__http_conn_written() is reported once every byte of ciphertext is out,
 * so the write timeout and backpressure mean what they mean over TCP.
 * Bytes OpenSSL writes on its own (the handshake, TLS 1.3 session tickets,
 * alerts, close_notify) go through the same queue, one uv_write at a time.
 *
 * A first byte that is not a TLS handshake record (0x16) is plaintext
 * HTTP on the TLS port: the connection answers 400 in plaintext and
 * closes (gt__http_conn_refuse()), which is what a browser user who typed
 * http:// sees, instead of garbage or a reset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "h2.h"

#define TLS_RECORD_HANDSHAKE 0x16
#define NETBUF_SIZE (17 * 1024) /* one TLS record and its header */

typedef struct tls_conn {
    gt__http_conn *c;
    gt__h2 *h2; /* ALPN picked h2: the session (h2.c) gets the
                   plaintext, conn.c none */
    SSL *ssl;
    BIO *rbio, *wbio; /* network side: what the socket read, what goes to it */
    uv_idle_t idle;   /* delivers what is buffered after read_start() */
    char *wbuf;       /* ciphertext of the uv_write in flight (malloc'd) */
    size_t absorbed;  /* bytes of the connection's output try_write()
                         already encrypted (write() skips them) */
    int eof;          /* the socket's EOF or error (0: none yet) */
    bool eof_sent;    /* ...and it was delivered to the connection */
    int closes;       /* handle closes pending (tls_close) */
    bool wbusy;       /* a uv_write is in flight */
    bool conn_wait;   /* the connection waits for gt__http_conn_written() */
    bool want_read;   /* the connection reads (read_start in effect) */
    bool handshaken;  /* the handshake is complete */
    bool sniffed;     /* the first byte was a handshake record */
    bool raw;         /* plaintext was refused: no TLS any more */
    bool shut;        /* shutdown() called: FIN once the output is out */
    bool shut_sent;
} tls_conn;

static _Thread_local char netbuf[NETBUF_SIZE];
static _Thread_local uint8_t h2buf[16384];

static tls_conn *tls_of(gt__http_conn *c)
{
    return c->io_data;
}

/* ---- writing ciphertext -------------------------------------------------- */

static int flush_out(tls_conn *t);

static void maybe_fin(tls_conn *t)
{
    if (!t->shut || t->shut_sent || t->wbusy)
        return;
    t->shut_sent = true;
    gt__http_tcp_fin(t->c);
}

/* Every byte of the connection's output is out: tell it. */
static void report_written(tls_conn *t, int status)
{
    if (!t->conn_wait)
        return;
    t->conn_wait = false;
    gt__http_conn_written(t->c, status);
}

static void on_write(gt__http_conn *c, int status)
{
    tls_conn *t = tls_of(c);
    int rc;

    free(t->wbuf);
    t->wbuf = NULL;
    t->wbusy = false;
    if (status < 0) {
        if (t->conn_wait)
            report_written(t, status);
        else if (t->h2)
            gt__http_conn_close(t->c); /* the session waits for nothing */
        return;
    }
    if (t->h2)
        gt__http_conn_h2_progress(t->c);
    rc = flush_out(t);
    if (rc < 0) {
        if (t->conn_wait)
            report_written(t, rc);
        else
            gt__http_conn_close(t->c);
        return;
    }
    if (t->h2 && !t->wbusy)
        gt__h2_kick(t->h2); /* the session may send more now */
    if (!t->wbusy)
        report_written(t, 0);
}

/* Move what the write BIO holds to the socket: what it takes now, the
 * rest with a uv_write (one at a time). Returns 0 or a libuv error. */
static int flush_out(tls_conn *t)
{
    char *data;
    long len;
    int n, rc;
    uv_buf_t b;

    if (t->wbusy)
        return 0;
    len = BIO_get_mem_data(t->wbio, &data);
    if (len <= 0) {
        maybe_fin(t);
        return 0;
    }
    b = uv_buf_init(data, (unsigned)len);
    n = uv_try_write((uv_stream_t *)&t->c->tcp, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0)
        return n;
    if (n == len) {
        (void)BIO_reset(t->wbio);
        maybe_fin(t);
        return 0;
    }
    t->wbuf = gt_malloc((size_t)(len - n));
    if (!t->wbuf)
        return UV_ENOMEM;
    memcpy(t->wbuf, data + n, (size_t)(len - n));
    (void)BIO_reset(t->wbio);
    rc = gt__http_tcp_send(t->c, t->wbuf, (size_t)(len - n), on_write);
    if (rc < 0) {
        free(t->wbuf);
        t->wbuf = NULL;
        return rc;
    }
    t->wbusy = true;
    return 0;
}

/* Encrypt buf[0..len) into the write BIO (which takes it all). */
static int encrypt(tls_conn *t, const char *buf, size_t len)
{
    if (!t->handshaken || len > INT32_MAX)
        return GT_EPROTO;
    ERR_clear_error(); /* a handler's own OpenSSL use may have left one */
    if (SSL_write(t->ssl, buf, (int)len) != (int)len) {
        ERR_clear_error();
        return GT_EPROTO;
    }
    return 0;
}

static int tls_try_write(gt__http_conn *c, const char *buf, size_t len)
{
    tls_conn *t = tls_of(c);
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int rc;

    if (t->raw) {
        rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        return rc == UV_EAGAIN ? 0 : rc;
    }
    if (t->wbusy)
        return 0; /* behind what is queued: write() keeps the order */
    rc = encrypt(t, buf, len);
    if (rc == 0)
        rc = flush_out(t);
    if (rc < 0)
        return rc;
    if (!t->wbusy)
        return (int)len;
    t->absorbed = len; /* in flight; write() will only wait for it */
    return 0;
}

static void on_idle(uv_idle_t *h);

static int tls_write(gt__http_conn *c, const char *buf, size_t len)
{
    tls_conn *t = tls_of(c);
    int rc = 0;

    if (t->raw)
        return gt__http_tcp_send(c, buf, len, gt__http_conn_written);
    if (len > t->absorbed)
        rc = encrypt(t, buf + t->absorbed, len - t->absorbed);
    t->absorbed = 0;
    if (rc == 0)
        rc = flush_out(t);
    if (rc < 0)
        return rc;
    t->conn_wait = true;
    if (!t->wbusy) /* all out already: report it later, never from here */
        uv_idle_start(&t->idle, on_idle);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

/* Is there anything for the connection: plaintext, or an EOF? */
static bool has_input(const tls_conn *t)
{
    return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->rbio) > 0 ||
           (t->eof != 0 && !t->eof_sent);
}

/* The socket's EOF, once, when the plaintext before it is delivered. */
static void deliver_eof(tls_conn *t)
{
    if (t->eof == 0 || t->eof_sent)
        return;
    t->eof_sent = true;
    gt__http_conn_read(t->c, t->eof, NULL);
}

/* HTTP/2: all the plaintext goes to the session. */
static void deliver_h2(tls_conn *t)
{
    gt__http_conn *c = t->c;
    int n, err;

    while (c->state == GT__CONN_OPEN) {
        ERR_clear_error();
        n = SSL_read(t->ssl, h2buf, (int)sizeof(h2buf));
        if (n > 0) {
            if (gt__h2_recv(t->h2, h2buf, (size_t)n) < 0)
                gt__http_conn_close(c);
            continue;
        }
        err = SSL_get_error(t->ssl, n);
        ERR_clear_error();
        if (err != SSL_ERROR_WANT_READ || t->eof != 0)
            gt__http_conn_close(c); /* close_notify, EOF or a bad record */
        return;
    }
}

/* Hand the connection the plaintext OpenSSL can make of what arrived,
 * while it reads; then the EOF, once nothing is left before it. */
static void deliver(tls_conn *t)
{
    gt__http_conn *c = t->c;
    uv_buf_t b;
    int n, err;

    if (t->h2) {
        deliver_h2(t);
        return;
    }
    while (t->want_read && c->state != GT__CONN_CLOSING) {
        if (SSL_pending(t->ssl) == 0 && BIO_ctrl_pending(t->rbio) == 0) {
            deliver_eof(t);
            return;
        }
        gt__http_conn_alloc(c, &b);
        if (b.len == 0) {
            gt__http_conn_read(c, UV_ENOBUFS, &b);
            return;
        }
        ERR_clear_error();
        n = SSL_read(t->ssl, b.base, (int)b.len);
        if (n > 0) {
            gt__http_conn_read(c, n, &b);
            continue;
        }
        err = SSL_get_error(t->ssl, n);
        ERR_clear_error();
        if (flush_out(t) < 0) {
            gt__http_conn_close(c);
            return;
        }
        gt__http_conn_read(c, 0, &b);     /* nothing came of it */
        if (err == SSL_ERROR_WANT_READ) { /* it took all the BIO had */
            deliver_eof(t);
            return;
        }
        /* close_notify or a broken record: the stream ends here. */
        t->eof = err == SSL_ERROR_ZERO_RETURN ? UV_EOF : UV_ECONNRESET;
        (void)BIO_reset(t->rbio);
    }
}

/* The first bytes were not TLS: answer in plaintext, then close. */
static void refuse_plaintext(tls_conn *t)
{
    t->raw = true;
    (void)BIO_reset(t->rbio);
    gt__http_conn_refuse(t->c, 400, "parse");
}

static void handshake(tls_conn *t)
{
    int r, err;

    ERR_clear_error(); /* SSL_get_error() reads the thread's queue */
    r = SSL_do_handshake(t->ssl);
    err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);

    ERR_clear_error();
    if (flush_out(t) < 0 ||
        (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ)) {
        gt__http_conn_close(t->c); /* the alert, if any, is on its way */
        return;
    }
    if (err != SSL_ERROR_NONE)
        return;
    t->handshaken = true;
    if (t->c->w->srv->tls_h2) {
        const unsigned char *alpn;
        unsigned alpn_len;

        SSL_get0_alpn_selected(t->ssl, &alpn, &alpn_len);
        if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0) {
            t->h2 = gt__h2_open(t->c);
            if (!t->h2)
                gt__http_conn_close(t->c);
            else
                gt__h2_kick(t->h2); /* our SETTINGS */
        }
    }
}

static void tls_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(netbuf, sizeof(netbuf));
}

static void tls_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    gt__http_conn *c = s->data;
    tls_conn *t = tls_of(c);

    if (n == 0 || c->state == GT__CONN_CLOSING)
        return;
    if (n < 0) {
        t->eof = (int)n;
        if (t->raw || !t->handshaken)
            deliver_eof(t);
        else
            deliver(t);
        return;
    }
    if (t->raw) { /* refused: whatever comes is dropped */
        if (c->state == GT__CONN_LINGER)
            gt__http_conn_read(c, n, NULL);
        return;
    }
    if (!t->sniffed) {
        if ((unsigned char)buf->base[0] != TLS_RECORD_HANDSHAKE) {
            refuse_plaintext(t);
            return;
        }
        t->sniffed = true;
    }
    if (BIO_write(t->rbio, buf->base, (int)n) != (int)n) {
        gt__http_conn_close(c);
        return;
    }
    if (!t->handshaken) {
        handshake(t);
        if (!t->handshaken || c->state != GT__CONN_OPEN)
            return;
    }
    deliver(t);
}

static void on_idle(uv_idle_t *h)
{
    gt__http_conn *c = h->data;
    tls_conn *t = tls_of(c);

    uv_idle_stop(h);
    if (c->state == GT__CONN_CLOSING)
        return;
    if (!t->wbusy)
        report_written(t, 0);
    if (t->handshaken && !t->raw)
        deliver(t);
}

static int tls_read_start(gt__http_conn *c)
{
    tls_conn *t = tls_of(c);
    int rc = 0;

    t->want_read = true;
    if (t->eof == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, tls_on_alloc, tls_on_read);
    if (rc == 0 && t->handshaken && !t->raw && has_input(t))
        uv_idle_start(&t->idle, on_idle); /* buffered: deliver it soon */
    return rc;
}

static void tls_read_stop(gt__http_conn *c)
{
    tls_of(c)->want_read = false;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

static void tls_shutdown(gt__http_conn *c)
{
    tls_conn *t = tls_of(c);

    if (!t->raw && t->handshaken) {
        ERR_clear_error();
        (void)SSL_shutdown(t->ssl); /* queues close_notify */
        ERR_clear_error();
    }
    t->shut = true;
    if (t->raw || flush_out(t) < 0)
        maybe_fin(t);
}

/* ---- life cycle ---------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    gt__http_conn *c = h->data;
    tls_conn *t = tls_of(c);

    if (t && --t->closes > 0)
        return;
    if (t) {
        SSL_free(t->ssl); /* frees the BIOs too */
        free(t->wbuf);
        free(t);
        c->io_data = NULL;
    }
    gt__http_conn_closed(c);
}

static void tls_close(gt__http_conn *c)
{
    tls_conn *t = tls_of(c);

    if (t && t->h2) {
        gt__h2_close(t->h2); /* it outlives us until its streams end */
        t->h2 = NULL;
    }
    if (t) {
        t->closes = 2;
        uv_close((uv_handle_t *)&t->idle, on_closed);
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

bool gt__http_tls_drain(gt__http_conn *c)
{
    tls_conn *t = tls_of(c);

    if (!t || !t->h2)
        return false;
    gt__h2_drain(t->h2);
    return true;
}

int gt__http_tls_send(gt__http_conn *c, const uint8_t *p, size_t n)
{
    return encrypt(tls_of(c), (const char *)p, n);
}

int gt__http_tls_flush(gt__http_conn *c)
{
    return flush_out(tls_of(c));
}

bool gt__http_tls_busy(gt__http_conn *c)
{
    return tls_of(c)->wbusy;
}

const gt__http_io gt__http_tls_io = {
    tls_try_write, tls_write,    tls_read_start,
    tls_read_stop, tls_shutdown, tls_close,
};

int gt__http_tls_attach(gt__http_conn *c)
{
    tls_conn *t = gt_calloc(1, sizeof(*t));

    if (!t)
        return -ENOMEM;
    t->c = c;
    t->ssl = gt__http_tls_ssl_new(c->w->srv);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return -ENOMEM;
    }
    /* An empty read BIO means "want more", not EOF. */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    uv_idle_init(gt_loop(), &t->idle);
    t->idle.data = c;
    c->io_data = t;
    return 0;
}
