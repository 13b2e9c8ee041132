/* http/request.c -- the request a handler sees: accessors over the parsed
 * head, and the body, read lazily.
 *
 * Nothing is copied up front. The parser left spans into the connection's
 * input buffer; dispatch writes a NUL after the method, the target and
 * each header name and value (the bytes there are SP, ':', OWS or CR, no
 * longer needed), so accessors hand out pointers into the buffer. What
 * needs decoding (the path, query values, route parameters) is decoded on
 * first use into the request's arena: a few KiB inside the pooled request
 * object, then gt_co_alloc() -- memory that dies with the coroutine.
 *
 * The body is read only when the handler asks for it, so a handler that
 * rejects a request never waits for its upload and "Expect: 100-continue"
 * is answered only when the body is wanted. A body that came with the head
 * is used in place (chunked framing is decoded in place, parse.h). One that
 * did not is "spilled": its bytes so far move to a buffer of its own and
 * further reads land there directly, so the head keeps its place in the
 * input buffer (the accessors' pointers stay valid) and the buffer never
 * grows. Bytes after a spilled chunked body belong to the next request;
 * they wait in the spill until the request ends, with reading paused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define SPILL_MIN_ROOM 4096

/* ---- the pool and the arena ---------------------------------------------- */

gt_http_req *gt__http_req_get(gt__http_worker *w)
{
    gt_http_req *r = gt__http_freelist_pop(&w->reqs);
    size_t size;

    if (r) {
        r->conn = NULL; /* the list's link was there */
        return r;
    }
    size = sizeof(*r) + w->srv->lim.max_headers * sizeof(gt__http_header);
    r = gt_malloc(size);
    if (r)
        r->spill = NULL;
    return r;
}

void gt__http_req_put(gt__http_worker *w, gt_http_req *req)
{
    free(req->spill);
    req->spill = NULL;
    req->conn = NULL;
    gt__http_freelist_push(w, &w->reqs, req);
}

void *gt__http_alloc(gt_http_req *req, size_t n)
{
    size_t a = (n + 15) & ~(size_t)15;
    void *p;

    if (a >= n && a <= GT__HTTP_ARENA - req->arena_used) {
        p = req->arena + req->arena_used;
        req->arena_used += a;
        return p;
    }
    return gt_co_alloc(n ? n : 1);
}

/* ---- starting a request -------------------------------------------------- */

/* The writable byte at 'p', which points into c->in. */
static char *in_at(gt__http_conn *c, const char *p)
{
    return c->in + (p - c->in);
}

static void terminate_fields(gt__http_conn *c, gt__http_head *h)
{
    *in_at(c, h->method + h->method_len) = '\0';
    *in_at(c, h->target + h->target_len) = '\0';
    for (size_t i = 0; i < h->nheaders; i++) {
        gt__http_header *f = &h->headers[i];

        *in_at(c, f->name + f->name_len) = '\0';
        *in_at(c, f->value + f->value_len) = '\0';
    }
}

/* An absolute-form target ("http://host/p?q", RFC 9112 3.2.2, which a
 * server must accept) is routed by its path; the authority is ignored. */
static void origin_path(gt__http_head *h)
{
    const char *p = h->path, *end = p + h->path_len, *s;

    if (h->path_len == 0 || p[0] == '/')
        return;
    s = memchr(p, ':', h->path_len);
    if (!s || end - s < 3 || s[1] != '/' || s[2] != '/')
        return;
    s = memchr(s + 3, '/', (size_t)(end - (s + 3)));
    h->path = s ? s : "/";
    h->path_len = s ? (size_t)(end - s) : 1;
}

/* Name the calling request coroutine "METHOD what" (truncated), so that a
 * stack overflow message or a leak report says which endpoint it was. */
void gt__http_req_name(const gt_http_req *req, const char *what, size_t len)
{
    char name[64];
    size_t m = req->head.method_len, n = 0;

    if (m > 15)
        m = 15;
    memcpy(name, req->head.method, m);
    n = m;
    name[n++] = ' ';
    if (len > sizeof(name) - 1 - n)
        len = sizeof(name) - 1 - n;
    memcpy(name + n, what, len);
    name[n + len] = '\0';
    gt_co_set_name(gt_co_self(), name);
}

void gt__http_req_start(gt_http_req *req, gt__http_conn *c, size_t head_len)
{
    req->conn = c;
    req->t0 = uv_hrtime();
    req->body_off = req->end = req->dec_end = c->in_off + head_len;
    req->body_state = GT__BODY_UNREAD;
    req->spill_active = req->continue_sent = false;
    req->body_rc = req->body_status = 0;
    req->body = NULL;
    req->body_len = 0;
    memset(&req->ck, 0, sizeof(req->ck));
    req->spill = NULL;
    req->spill_len = req->spill_raw = req->spill_cap = req->tail_len = 0;
    req->route = NULL;
    req->nparams = 0;
    req->rest = NULL;
    req->rest_len = 0;
    req->client = req->id = NULL;
    req->reject_rc = req->reject_status = 0;
    req->reject_msg = NULL;
    req->path_dec = NULL;
    req->allow = NULL;
    req->data = NULL;
    req->arena_used = 0;
    terminate_fields(c, &req->head);
    origin_path(&req->head);
    gt__http_res_init(&req->res, req);
}

/* ---- accessors ----------------------------------------------------------- */

const char *gt_http_req_method(const gt_http_req *req)
{
    return req->head.method;
}

const char *gt_http_req_target(const gt_http_req *req)
{
    return req->head.target;
}

const char *gt_http_req_path_raw(const gt_http_req *req, size_t *len)
{
    *len = req->head.path_len;
    return req->head.path;
}

const char *gt_http_req_query_string(const gt_http_req *req)
{
    return req->head.query;
}

int gt_http_req_version(const gt_http_req *req)
{
    return req->head.minor;
}

const char *gt_http_req_route(const gt_http_req *req)
{
    return req->route;
}

/* Percent-decode s[0..n) ('+' kept) into a new NUL-terminated string;
 * NULL when malformed, holding a NUL, or out of memory. */
static const char *decode_new(gt_http_req *req, const char *s, size_t n)
{
    char *d = gt__http_alloc(req, n + 1);
    ssize_t r;

    if (!d)
        return NULL;
    r = gt__http_percent_decode(d, n, s, n, 0);
    if (r < 0 || memchr(d, '\0', (size_t)r))
        return NULL;
    d[r] = '\0';
    return d;
}

const char *gt_http_req_path(gt_http_req *req)
{
    if (!req->path_dec)
        req->path_dec = decode_new(req, req->head.path, req->head.path_len);
    return req->path_dec;
}

const char *gt_http_req_query(gt_http_req *req, const char *name)
{
    size_t n = req->head.query_len;
    char *d;

    if (!req->head.query || !name)
        return NULL;
    d = gt__http_alloc(req, n + 1);
    if (!d || gt__http_query_get(req->head.query, n, name, d, n + 1) < 0)
        return NULL;
    return d;
}

const char *gt_http_req_header(const gt_http_req *req, const char *name)
{
    const gt__http_header *f = gt__http_find_header(&req->head, name);

    return f ? f->value : NULL;
}

size_t gt_http_req_header_count(const gt_http_req *req)
{
    return req->head.nheaders;
}

int gt_http_req_header_at(const gt_http_req *req, size_t i, const char **name,
                          const char **value)
{
    if (i >= req->head.nheaders)
        return -EINVAL;
    *name = req->head.headers[i].name;
    *value = req->head.headers[i].value;
    return 0;
}

const char *gt_http_req_param(gt_http_req *req, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; i < req->nparams; i++) {
        const gt__http_param *p = &req->params[i];

        if (p->name_len == n && memcmp(p->name, name, n) == 0)
            return decode_new(req, p->value, p->value_len);
    }
    return NULL;
}

/* ---- the body ------------------------------------------------------------ */

static void set_body(gt_http_req *req, const char *p, size_t n)
{
    req->body = p;
    req->body_len = n;
}

static int64_t body_deadline(const gt_http_req *req)
{
    return gt_deadline_in(req->conn->w->srv->cfg.body_timeout_ms);
}

size_t gt__http_req_spill_room(const gt_http_req *req)
{
    size_t pool = req->conn->w->srv->buf_size, pending, room;

    if (!req->head.chunked)
        return req->spill_cap - req->spill_raw;
    /* Undecoded bytes stay under one buffer, so a tail fits the input. */
    pending = req->spill_raw - req->spill_len;
    if (pending >= pool)
        return 0;
    room = req->spill_cap - req->spill_raw;
    return room < pool - pending ? room : pool - pending;
}

void gt__http_req_spill_space(gt_http_req *req, uv_buf_t *buf)
{
    size_t room = gt__http_req_spill_room(req);

    *buf = uv_buf_init(req->spill + req->spill_raw, (unsigned)room);
}

/* Answer "Expect: 100-continue" now that the body is wanted and not here;
 * never after the response has started. */
static int send_continue(gt_http_req *req)
{
    gt__http_conn *c = req->conn;
    int rc;

    if (!req->head.expect_continue || req->continue_sent || req->res.started)
        return 0;
    req->continue_sent = true;
    rc = gt__http_conn_wait_write(
        c, gt_deadline_in(c->w->srv->cfg.write_timeout_ms));
    if (rc == 0)
        rc = gt__http_send_continue(c);
    if (rc == 0)
        gt__http_conn_flush(c);
    return rc;
}

/* Move the body bytes received so far (in[body_off, upto)) to a spill of
 * 'cap' bytes, where further reads will land. */
static int start_spill(gt_http_req *req, size_t upto, size_t cap)
{
    gt__http_conn *c = req->conn;
    size_t n = upto - req->body_off;

    req->spill = gt_malloc(cap);
    if (!req->spill)
        return -ENOMEM;
    memcpy(req->spill, c->in + req->body_off, n);
    req->spill_len = req->spill_raw = n;
    req->spill_cap = cap;
    c->in_len = req->end = req->body_off;
    req->spill_active = true;
    return send_continue(req);
}

static int read_length(gt_http_req *req, bool wait)
{
    gt__http_conn *c = req->conn;
    size_t cl = (size_t)req->head.content_length;
    int rc;

    if (!req->spill) {
        if (c->in_len - req->body_off >= cl) {
            set_body(req, c->in + req->body_off, cl);
            req->end = req->body_off + cl;
            return 0;
        }
        if (!wait)
            return GT__HTTP_AGAIN;
        rc = start_spill(req, c->in_len, cl);
        if (rc < 0)
            return rc;
    }
    while (req->spill_raw < cl) {
        rc = gt__http_conn_wait_input(c, body_deadline(req));
        if (rc < 0)
            return rc;
    }
    req->spill_len = cl;
    set_body(req, req->spill, cl);
    return 0;
}

/* Decode the raw bytes that reads left in the spill. Returns 1 when the
 * body is complete, 0 when more is needed, or -400 / -413. */
static int decode_spill(gt_http_req *req)
{
    uint64_t max = req->conn->w->srv->cfg.max_body;
    size_t n = req->spill_raw - req->spill_len;
    ssize_t r;

    if (n == 0)
        return 0;
    r = gt__http_chunked_decode(&req->ck, req->spill + req->spill_len, &n, max);
    if (r < 0 && r != GT__HTTP_AGAIN)
        return (int)r;
    req->spill_len += n;
    if (r == GT__HTTP_AGAIN) {
        req->spill_raw = req->spill_len;
        return 0;
    }
    req->tail_len = (size_t)r;
    req->spill_raw = req->spill_len + (size_t)r;
    set_body(req, req->spill, req->spill_len);
    return 1;
}

/* Keep room for the next reads; the spill is not handed out yet, so it
 * may move. */
static int grow_spill(gt_http_req *req)
{
    size_t cap = req->spill_cap;
    char *p;

    if (cap - req->spill_raw >= SPILL_MIN_ROOM)
        return 0;
    cap = cap * 2 > cap + SPILL_MIN_ROOM ? cap * 2 : cap + SPILL_MIN_ROOM;
    p = gt_realloc(req->spill, cap);
    if (!p)
        return -ENOMEM;
    req->spill = p;
    req->spill_cap = cap;
    return 0;
}

/* Chunked: decode what the input holds in place; if that is not all of
 * the body, spill and decode each read as it lands. */
static int read_chunked(gt_http_req *req, bool wait)
{
    gt__http_conn *c = req->conn;
    size_t n;
    ssize_t r;
    int rc;

    if (!req->spill) {
        n = c->in_len - req->dec_end;
        r = gt__http_chunked_decode(&req->ck, c->in + req->dec_end, &n,
                                    c->w->srv->cfg.max_body);
        if (r < 0 && r != GT__HTTP_AGAIN)
            return (int)r;
        req->dec_end += n;
        c->in_len = req->dec_end + (r >= 0 ? (size_t)r : 0);
        if (r >= 0) {
            set_body(req, c->in + req->body_off, req->dec_end - req->body_off);
            req->end = req->dec_end;
            return 0;
        }
        if (!wait)
            return GT__HTTP_AGAIN;
        rc = start_spill(req, req->dec_end,
                         req->dec_end - req->body_off + c->w->srv->buf_size);
        if (rc < 0)
            return rc;
    }
    while ((rc = decode_spill(req)) == 0) {
        rc = grow_spill(req);
        if (rc == 0)
            rc = gt__http_conn_wait_input(c, body_deadline(req));
        if (rc < 0)
            return rc;
    }
    return rc < 0 ? rc : 0;
}

/* Record a failed read: what the handler gets and what the client will. */
static int body_failed(gt_http_req *req, int rc)
{
    gt_co *self = gt_co_self();
    int64_t dl = self ? gt_co_deadline(self) : GT_NEVER;
    int status = 0;

    if (rc == -400) {
        rc = GT_EPROTO;
        status = 400;
    } else if (rc == -413) {
        rc = -EMSGSIZE;
        status = 413;
    } else if (rc == -ETIMEDOUT) {
        status = dl != GT_NEVER && gt_now() >= dl ? 504 : 408;
    } else if (rc == -ENOMEM) {
        status = 503;
    } else {
        rc = -ECANCELED; /* the connection is gone or going */
    }
    req->body_state = GT__BODY_FAILED;
    req->body_rc = rc;
    req->body_status = status;
    req->conn->close_after = true;
    return rc;
}

/* Read the body; without 'wait', only if it is all here already. Returns
 * 0, GT__HTTP_AGAIN (no wait, not all here) or a negative code. */
static int read_body(gt_http_req *req, bool wait)
{
    int rc;

    if (!req->head.chunked && req->head.content_length <= 0) {
        set_body(req, "", 0);
        rc = 0;
    } else if (req->head.chunked) {
        rc = read_chunked(req, wait);
    } else {
        rc = read_length(req, wait);
    }
    if (req->spill_active) {
        req->spill_active = false;
        gt__http_conn_update_reading(req->conn);
    }
    if (rc == 0)
        req->body_state = GT__BODY_DONE;
    else if (wait)
        rc = body_failed(req, rc);
    return rc;
}

int gt_http_req_body(gt_http_req *req, const char **data, size_t *len)
{
    int rc = 0;

    if (req->body_state == GT__BODY_UNREAD)
        rc = read_body(req, true);
    else if (req->body_state == GT__BODY_FAILED)
        rc = req->body_rc;
    if (rc < 0)
        return rc;
    *data = req->body;
    *len = req->body_len;
    return 0;
}

int gt__http_req_skip_body(gt_http_req *req)
{
    if (req->body_state == GT__BODY_DONE)
        return 0;
    if (req->body_state == GT__BODY_FAILED)
        return req->body_rc;
    return read_body(req, false) == 0 ? 0 : -EAGAIN;
}

void gt__http_req_finish_input(gt_http_req *req)
{
    gt__http_conn *c = req->conn;

    c->in_off = req->end;
    if (req->tail_len > 0) {
        /* Reading paused at the tail, so nothing follows req->end. */
        memcpy(c->in, req->spill + req->spill_len, req->tail_len);
        c->in_off = 0;
        c->in_len = req->tail_len;
        c->scanned = 0;
    }
}
