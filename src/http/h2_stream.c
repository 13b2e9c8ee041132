/* http/h2_stream.c -- one HTTP/2 stream, served by a stream connection.
 *
 * h2.h says why a stream is a gt__http_conn over memory. The request goes
 * in as HTTP/1.1: "METHOD path HTTP/1.1", Host from :authority, the
 * fields as they came, "Transfer-Encoding: chunked" when the body has no
 * content-length (DATA frames become chunks, END_STREAM the last one), and
 * "Connection: close", so that the stream connection answers once and
 * shuts down. Expect is dropped: HTTP/2 has no 100 Continue to wait for.
 *
 * What conn.c writes back is parsed here: the status and fields of the
 * head become the HEADERS (names lower-cased; Connection, Keep-Alive,
 * Transfer-Encoding and the like dropped, as RFC 9113 8.2.2 says), and the
 * body -- Content-Length, chunked (decoded), or up to the shutdown -- waits
 * in 'out' for nghttp2's data provider. The connection's try_write() takes
 * everything while less than OUT_LIMIT waits; past it, it takes nothing,
 * and a write() is reported only once the client's flow-control window
 * let the body drain below it: a streamed body is paced by the client. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "h2.h"

#define OUT_LIMIT (256 * 1024)

enum { PH_HEAD, PH_LENGTH, PH_CHUNKED, PH_UNTIL_CLOSE, PH_DONE };
enum { CS_SIZE, CS_DATA, CS_CRLF, CS_TRAILER };

static int put(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (gt__buf_reserve(buf, cap, *len + n) < 0)
        return -ENOMEM;
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

#define PUT_IN(s, p, n) put(&(s)->in, &(s)->in_len, &(s)->in_cap, p, n)
#define PUT_STR(s, str) PUT_IN(s, str, strlen(str))

gt__h2_stream *gt__h2_stream_new(gt__h2 *h, int32_t id)
{
    gt__h2_stream *s = gt_calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->h = h;
    s->id = id;
    s->next = h->streams;
    h->streams = s;
    h->nstreams++;
    return s;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *d = gt_malloc(n + 1);

    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

static bool ieq(const uint8_t *p, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp((const char *)p, lit, n) == 0;
}

int gt__h2_stream_header(gt__h2_stream *s, const uint8_t *name, size_t nl,
                         const uint8_t *value, size_t vl)
{
    char **pseudo = NULL;

    if (nl > 0 && name[0] == ':') {
        if (ieq(name, nl, ":method"))
            pseudo = &s->method;
        else if (ieq(name, nl, ":path"))
            pseudo = &s->path;
        else if (ieq(name, nl, ":authority"))
            pseudo = &s->authority;
        else
            return 0; /* :scheme */
        if (*pseudo)
            return -EPROTO;
        *pseudo = dup_n(value, vl);
        return *pseudo ? 0 : -ENOMEM;
    }
    if (ieq(name, nl, "expect"))
        return 0;
    if (ieq(name, nl, "host")) {
        if (s->authority)
            return 0;
        s->authority = dup_n(value, vl);
        return s->authority ? 0 : -ENOMEM;
    }
    if (ieq(name, nl, "content-length"))
        s->has_length = true;
    if (s->out_len > 2 * s->h->c->w->srv->cfg.max_head)
        return 0; /* already too big: the stream connection answers 431 */
    /* The fields wait in 'out' until the request line can go first. */
    if (put(&s->out, &s->out_len, &s->out_cap, name, nl) < 0 ||
        put(&s->out, &s->out_len, &s->out_cap, ": ", 2) < 0 ||
        put(&s->out, &s->out_len, &s->out_cap, value, vl) < 0 ||
        put(&s->out, &s->out_len, &s->out_cap, "\r\n", 2) < 0)
        return -ENOMEM;
    return 0;
}

/* ---- the stream connection's transport ----------------------------------- */

static int consume(gt__h2_stream *s, const char *p, size_t n);

static size_t pending(const gt__h2_stream *s)
{
    return s->out_len - s->out_off;
}

static int s_try_write(gt__http_conn *vc, const char *buf, size_t len)
{
    gt__h2_stream *s = vc->io_data;

    if (pending(s) > OUT_LIMIT)
        return 0;
    if (consume(s, buf, len) < 0)
        return UV_ENOMEM;
    gt__h2_kick(s->h);
    return (int)len;
}

static int s_write(gt__http_conn *vc, const char *buf, size_t len)
{
    gt__h2_stream *s = vc->io_data;

    if (consume(s, buf, len) < 0)
        return UV_ENOMEM;
    s->written_wait = true;
    gt__h2_kick(s->h);
    return 0;
}

static int s_read_start(gt__http_conn *vc)
{
    gt__h2_stream *s = vc->io_data;

    s->want_read = true;
    gt__h2_kick(s->h);
    return 0;
}

static void s_read_stop(gt__http_conn *vc)
{
    ((gt__h2_stream *)vc->io_data)->want_read = false;
}

static void s_shutdown(gt__http_conn *vc)
{
    gt__h2_stream *s = vc->io_data;

    s->fin = true;
    if (s->phase == PH_UNTIL_CLOSE)
        s->body_eof = true;
    gt__h2_kick(s->h);
}

static void s_close(gt__http_conn *vc)
{
    gt__h2_stream *s = vc->io_data;

    s->vc_closing = true;
    if (s->phase == PH_UNTIL_CLOSE)
        s->body_eof = true;
    gt__h2_kick(s->h);
}

static const gt__http_io stream_io = {
    s_try_write, s_write, s_read_start, s_read_stop, s_shutdown, s_close,
};

/* ---- the request --------------------------------------------------------- */

int gt__h2_stream_start(gt__h2_stream *s, bool end)
{
    gt__http_worker *w = s->h->c->w;
    char *fields = s->out;
    size_t flen = s->out_len;
    int rc = 0;

    if (!s->method || !s->path || strpbrk(s->path, " \t\r\n"))
        return -EPROTO;
    s->out = NULL;
    s->out_len = s->out_cap = 0;
    s->is_head = strcmp(s->method, "HEAD") == 0;
    s->chunked = !end && !s->has_length;
    if (PUT_STR(s, s->method) < 0 || PUT_STR(s, " ") < 0 ||
        PUT_STR(s, s->path) < 0 || PUT_STR(s, " HTTP/1.1\r\nHost: ") < 0 ||
        PUT_STR(s, s->authority ? s->authority : "") < 0 ||
        PUT_STR(s, "\r\n") < 0 || (flen && PUT_IN(s, fields, flen) < 0) ||
        (s->chunked && PUT_STR(s, "Transfer-Encoding: chunked\r\n") < 0) ||
        PUT_STR(s, "Connection: close\r\n\r\n") < 0)
        rc = -ENOMEM;
    free(fields);
    s->head_built = true;
    if (rc == 0)
        rc = gt__http_conn_new(w, &stream_io, s, &s->vc);
    if (rc < 0)
        return rc;
    gt__http_conn_start(s->vc);
    return 0;
}

int gt__h2_stream_data(gt__h2_stream *s, const uint8_t *p, size_t n, bool end)
{
    const gt_http_config *cfg = &s->h->c->w->srv->cfg;
    char line[24];
    int rc = 0;

    if (!s->head_built || !s->vc || s->vc_closing || s->fin)
        return 0; /* answered (a 413, say) or gone: the rest is dropped */
    if (s->in_len - s->in_off + n > cfg->max_body + cfg->max_head + 64)
        return -EMSGSIZE; /* not read, far past what it could use */
    if (s->in_off == s->in_len)
        s->in_off = s->in_len = 0;
    if (n > 0 && s->chunked) {
        snprintf(line, sizeof(line), "%zx\r\n", n);
        rc = PUT_STR(s, line);
        if (rc == 0)
            rc = PUT_IN(s, p, n);
        if (rc == 0)
            rc = PUT_STR(s, "\r\n");
    } else if (n > 0) {
        rc = PUT_IN(s, p, n);
    }
    if (rc == 0 && end && s->chunked)
        rc = PUT_STR(s, "0\r\n\r\n");
    gt__h2_kick(s->h);
    return rc;
}

/* ---- the response -------------------------------------------------------- */

static bool skip_field(const char *name)
{
    static const char *const hop[] = {"connection", "keep-alive",
                                      "transfer-encoding", "proxy-connection",
                                      "upgrade"};

    for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
        if (strcmp(name, hop[i]) == 0)
            return true;
    return false;
}

/* The head in out[0..len) (CRLF CRLF included): submit it, choose how
 * the body is framed. */
static int submit_head(gt__h2_stream *s, char *head, size_t len)
{
    nghttp2_data_provider prd = {.source.ptr = s,
                                 .read_callback = gt__h2_stream_read};
    nghttp2_nv *nv;
    size_t nnv = 1, lines = 0;
    char *p, *end = head + len - 2, status[4];
    bool chunked = false, has_len = false;
    uint64_t clen = 0;
    int st, rc;

    for (p = head; p < end; p++)
        lines += *p == '\n';
    if (len < 12 || strncmp(head, "HTTP/1.", 7) != 0)
        return -EPROTO;
    st = atoi(head + 9);
    memcpy(status, head + 9, 3);
    status[3] = '\0';
    nv = gt_malloc((lines + 1) * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    nv[0] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)status, 7, 3, 0};
    p = memchr(head, '\n', len) + 1;
    while (p < end) {
        char *eol = memchr(p, '\r', (size_t)(end - p)), *colon, *v;

        if (!eol)
            break;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            *colon = '\0';
            for (char *q = p; q < colon; q++)
                *q = (char)tolower((unsigned char)*q);
            for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
                ;
            if (strcmp(p, "transfer-encoding") == 0)
                chunked = true;
            if (strcmp(p, "content-length") == 0) {
                has_len = true;
                clen = strtoull(v, NULL, 10);
            }
            if (!skip_field(p))
                nv[nnv++] =
                    (nghttp2_nv){(uint8_t *)p, (uint8_t *)v,
                                 (size_t)(colon - p), (size_t)(eol - v), 0};
        }
        p = eol + 2;
    }
    s->left = clen;
    if (s->is_head || st == 204 || st == 304 || (has_len && clen == 0))
        s->phase = PH_DONE;
    else
        s->phase = chunked ? PH_CHUNKED : has_len ? PH_LENGTH : PH_UNTIL_CLOSE;
    s->body_eof = s->phase == PH_DONE;
    s->chunk_state = CS_SIZE;
    rc = nghttp2_submit_response(s->h->ng, s->id, nv, nnv,
                                 s->body_eof ? NULL : &prd);
    free(nv);
    s->submitted = true;
    return rc == 0 ? 0 : -EPROTO;
}

static int put_body(gt__h2_stream *s, const char *p, size_t n)
{
    if (s->out_off > 0 && s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    else if (s->out_off > s->out_cap / 2) {
        memmove(s->out, s->out + s->out_off, pending(s));
        s->out_len -= s->out_off;
        s->out_off = 0;
    }
    return put(&s->out, &s->out_len, &s->out_cap, p, n);
}

/* Chunked framing of our own writer: size line, data, CRLF; "0", CRLF. */
static int dechunk(gt__h2_stream *s, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && !s->body_eof) {
        char ch = p[i];

        switch (s->chunk_state) {
        case CS_SIZE:
            i++;
            if (isxdigit((unsigned char)ch))
                s->left =
                    s->left * 16 +
                    (uint64_t)(isdigit((unsigned char)ch)
                                   ? ch - '0'
                                   : tolower((unsigned char)ch) - 'a' + 10);
            else if (ch == '\n')
                s->chunk_state = s->left ? CS_DATA : CS_TRAILER;
            break;
        case CS_DATA: {
            size_t k = n - i < s->left ? n - i : (size_t)s->left;

            if (put_body(s, p + i, k) < 0)
                return -ENOMEM;
            i += k;
            s->left -= k;
            if (s->left == 0)
                s->chunk_state = CS_CRLF;
            break;
        }
        case CS_CRLF:
            i++;
            if (ch == '\n')
                s->chunk_state = CS_SIZE;
            break;
        case CS_TRAILER: /* the empty line after "0" (no trailers) */
            i++;
            if (ch == '\n')
                s->body_eof = true;
            break;
        }
    }
    return 0;
}

static int consume(gt__h2_stream *s, const char *p, size_t n)
{
    if (s->h->dead || s->stream_closed)
        return 0; /* nobody to send it to */
    if (s->phase == PH_HEAD) {
        char *end;
        size_t len, rest;
        int rc;

        if (put(&s->out, &s->out_len, &s->out_cap, p, n) < 0)
            return -ENOMEM;
        end = memmem(s->out, s->out_len, "\r\n\r\n", 4);
        if (!end)
            return 0;
        len = (size_t)(end - s->out) + 4;
        if (atoi(s->out + 9) < 200) { /* an interim answer: drop it */
            memmove(s->out, s->out + len, s->out_len - len);
            s->out_len -= len;
            return consume(s, "", 0);
        }
        rc = submit_head(s, s->out, len);
        rest = s->out_len - len;
        p = s->out + len;
        n = rest;
        if (rc < 0)
            return rc;
        /* The rest is body: move it to a fresh buffer. */
        {
            char *head = s->out;

            s->out = NULL;
            s->out_len = s->out_off = s->out_cap = 0;
            rc = n ? consume(s, p, n) : 0;
            free(head);
            return rc;
        }
    }
    if (s->phase == PH_CHUNKED)
        return dechunk(s, p, n);
    if (s->phase == PH_LENGTH) {
        size_t k = n < s->left ? n : (size_t)s->left;

        s->left -= k;
        if (s->left == 0)
            s->body_eof = true;
        return put_body(s, p, k);
    }
    if (s->phase == PH_UNTIL_CLOSE)
        return put_body(s, p, n);
    return 0; /* PH_DONE: nothing more is due */
}

ssize_t gt__h2_stream_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
                           size_t len, uint32_t *flags,
                           nghttp2_data_source *src, void *user)
{
    gt__h2_stream *s = src->ptr;
    size_t n = pending(s);

    (void)ng, (void)id, (void)user;
    if (n == 0 && !s->body_eof) {
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    n = n < len ? n : len;
    memcpy(buf, s->out + s->out_off, n);
    s->out_off += n;
    if (pending(s) == 0 && s->body_eof)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (s->written_wait)
        gt__h2_kick(s->h);
    return (ssize_t)n;
}

/* ---- moving it on -------------------------------------------------------- */

static void give_input(gt__h2_stream *s)
{
    while (s->vc && !s->vc_closing && s->want_read && s->in_off < s->in_len) {
        uv_buf_t b;
        size_t n;

        gt__http_conn_alloc(s->vc, &b);
        if (b.len == 0) {
            gt__http_conn_read(s->vc, UV_ENOBUFS, &b);
            return;
        }
        n = s->in_len - s->in_off < b.len ? s->in_len - s->in_off : b.len;
        memcpy(b.base, s->in + s->in_off, n);
        s->in_off += n;
        gt__http_conn_read(s->vc, (ssize_t)n, &b);
    }
}

bool gt__h2_stream_step(gt__h2_stream *s)
{
    gt__h2 *h = s->h;

    if (s->vc && !s->vc_closing) {
        give_input(s);
        if (s->written_wait && pending(s) <= OUT_LIMIT && !s->vc_closing) {
            s->written_wait = false;
            gt__http_conn_written(s->vc, 0);
        }
        if (!s->vc_closing && (s->fin || s->stream_closed))
            gt__http_conn_close(s->vc); /* answered, or the client left */
    }
    if (s->vc && s->vc_closing) {
        gt__http_conn *vc = s->vc;

        s->vc = NULL;
        s->vc_closing = false;
        if (s->written_wait) {
            s->written_wait = false;
            gt__http_conn_written(vc, UV_ECANCELED);
        }
        gt__http_conn_closed(vc); /* may free it */
        /* Unanswered: a stopping server did not take it (the client may
         * retry it elsewhere, RFC 9113 8.7), or it failed. */
        if (!s->body_eof && !s->stream_closed && !h->dead)
            nghttp2_submit_rst_stream(h->ng, NGHTTP2_FLAG_NONE, s->id,
                                      !s->submitted && h->c->w->stopping
                                          ? NGHTTP2_REFUSED_STREAM
                                          : NGHTTP2_INTERNAL_ERROR);
    }
    if (s->deferred && !h->dead && !s->stream_closed &&
        (pending(s) > 0 || s->body_eof)) {
        s->deferred = false;
        nghttp2_session_resume_data(h->ng, s->id);
    }
    if (s->vc || !(s->stream_closed || h->dead))
        return false;
    free(s->in);
    free(s->out);
    free(s->method);
    free(s->path);
    free(s->authority);
    return true;
}

bool gt__h2_stream_peer(const gt__http_conn *c, struct sockaddr_storage *out)
{
    const gt__h2_stream *s = c->io_data;

    if (c->io != &stream_io || !s->h->has_peer)
        return false;
    *out = s->h->peer;
    return true;
}

void gt__h2_stream_abort(gt__h2_stream *s)
{
    s->stream_closed = true;
    if (s->vc && !s->vc_closing)
        gt__http_conn_close(s->vc);
}
