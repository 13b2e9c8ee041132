/* http/tls_ctx.c -- the server's TLS configuration: one SSL_CTX made from
 * the certificate chain and key files, ALPN, and reloading it.
 *
 * One SSL_CTX is shared by every worker, and a reload swaps it. OpenSSL's
 * SSL_CTX is reference-counted and thread-safe for SSL_new(), so the only
 * race is between a worker reading the pointer and a reload dropping the
 * last reference to the old context before SSL_new() took its own. A
 * mutex around "read the pointer, SSL_new()" (gt__http_tls_ssl_new()) and
 * around the swap closes it. It is taken once per accepted TLS connection,
 * next to a handshake that costs a thousand times more, and is contended
 * only during a reload; per-worker contexts would have cost N copies of the
 * certificate and a task per worker to reload them, for nothing
 * measurable. Connections already open keep the context their SSL object
 * holds a reference to; new ones get the new certificate.
 *
 * A reload that fails (a file missing, a key that does not match) keeps
 * the old context and says why on stderr; gt_http_server_reload_tls()
 * returns the error. The files are read on the calling thread (worker 0
 * for SIGHUP): a few kilobytes from a local file, like nginx does. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http.h"

/* "reason" of the last OpenSSL error, and clear the queue. */
static const char *ssl_reason(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, n, "unknown error");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

/* ALPN (RFC 7301): h2 when the server speaks it and the client offers it,
 * else http/1.1; a client offering neither goes on without ALPN and gets
 * HTTP/1.1, as a client without ALPN does. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char both[] = "\x02h2\x08http/1.1";
    static const unsigned char h1[] = "\x08http/1.1";
    gt_http_server *srv = arg;
    const unsigned char *ours = srv->tls_h2 ? both : h1;
    unsigned ours_len = srv->tls_h2 ? sizeof(both) - 1 : sizeof(h1) - 1;
    unsigned char *sel;

    (void)ssl;
    if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int check_file(const char *what, const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0)
        return 0;
    fprintf(stderr, "greentor http: TLS %s '%s': %s\n", what, path,
            strerror(errno));
    return -errno;
}

/* A new context from the configured files, or a negative code (and a line
 * on stderr saying which file and why). */
static int ctx_new(gt_http_server *srv, SSL_CTX **out)
{
    const gt_http_config *cfg = &srv->cfg;
    char why[256];
    SSL_CTX *ctx;
    int rc;

    rc = check_file("certificate", cfg->tls_cert_file);
    if (rc == 0)
        rc = check_file("key", cfg->tls_key_file);
    if (rc < 0)
        return rc;
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ERR_clear_error();
        return -ENOMEM;
    }
    SSL_CTX_set_min_proto_version(
        ctx, cfg->tls_min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, srv);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
        fprintf(stderr,
                "greentor http: TLS certificate '%s' does not load (a PEM "
                "certificate chain?): %s\n",
                cfg->tls_cert_file, ssl_reason(why, sizeof(why)));
        rc = -EINVAL;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file,
                                           SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr,
                "greentor http: TLS key '%s' does not load (an unencrypted "
                "PEM key of the certificate?): %s\n",
                cfg->tls_key_file, ssl_reason(why, sizeof(why)));
        rc = -EINVAL;
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr,
                "greentor http: TLS key '%s' does not match certificate "
                "'%s': %s\n",
                cfg->tls_key_file, cfg->tls_cert_file,
                ssl_reason(why, sizeof(why)));
        rc = -EINVAL;
    }
    if (rc < 0) {
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

int gt__http_tls_open(gt_http_server *srv)
{
    const gt_http_config *cfg = &srv->cfg;

    if (!cfg->tls_cert_file && !cfg->tls_key_file)
        return 0;
    if (!cfg->tls_cert_file || !cfg->tls_key_file) {
        fprintf(stderr, "greentor http: TLS needs both tls_cert_file and "
                        "tls_key_file\n");
        return -EINVAL;
    }
    srv->tls_h2 = !cfg->tls_http1_only;
    pthread_mutex_init(&srv->tls_lock, NULL);
    srv->tls_lock_init = true;
    srv->tls_on = true;
    return ctx_new(srv, &srv->tls_ctx);
}

void gt__http_tls_close(gt_http_server *srv)
{
    SSL_CTX_free(srv->tls_ctx);
    srv->tls_ctx = NULL;
    if (srv->tls_lock_init)
        pthread_mutex_destroy(&srv->tls_lock);
    srv->tls_lock_init = false;
}

SSL *gt__http_tls_ssl_new(gt_http_server *srv)
{
    SSL *ssl;

    pthread_mutex_lock(&srv->tls_lock);
    ssl = SSL_new(srv->tls_ctx);
    pthread_mutex_unlock(&srv->tls_lock);
    return ssl;
}

int gt_http_server_reload_tls(gt_http_server *srv)
{
    SSL_CTX *ctx, *old;
    int rc;

    if (!srv->tls_on)
        return -EINVAL;
    rc = ctx_new(srv, &ctx);
    if (rc < 0) {
        fprintf(stderr,
                "greentor http: TLS reload failed (%s); the "
                "previous certificate stays in use\n",
                gt_strerror(rc));
        return rc;
    }
    pthread_mutex_lock(&srv->tls_lock);
    old = srv->tls_ctx;
    srv->tls_ctx = ctx;
    pthread_mutex_unlock(&srv->tls_lock);
    SSL_CTX_free(old); /* open connections hold their own references */
    return 0;
}

/* ---- SIGHUP (worker 0) --------------------------------------------------- */

static void on_sighup(uv_signal_t *h, int signum)
{
    gt__http_worker *w = h->data;

    (void)signum;
    (void)gt_http_server_reload_tls(w->srv); /* says why when it fails */
}

static void on_sighup_closed(uv_handle_t *h)
{
    gt__http_worker *w = h->data;

    w->handles--;
    gt_waitq_wake(&w->wq, -1);
}

void gt__http_tls_worker_begin(gt__http_worker *w)
{
    if (w->index != 0 || !w->srv->tls_on)
        return;
    uv_signal_init(gt_loop(), &w->sighup);
    w->sighup.data = w;
    w->sighup_on = true;
    if (uv_signal_start(&w->sighup, on_sighup, SIGHUP) == 0)
        uv_unref((uv_handle_t *)&w->sighup); /* never keeps a worker alive */
}

void gt__http_tls_worker_stop(gt__http_worker *w)
{
    if (!w->sighup_on)
        return;
    w->sighup_on = false;
    w->handles++;
    uv_close((uv_handle_t *)&w->sighup, on_sighup_closed);
}
