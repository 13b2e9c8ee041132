/* http/response.c -- building responses: status, body, JSON, formatted
 * text, streaming (chunked, or with a known length), putting a response
 * out, the cached Date. Header fields are headers.c's, what an error
 * becomes errors.c's.
 *
 * A response is assembled in two places and written once. While the
 * handler runs, its headers accumulate as ready-made "Name: value\r\n"
 * lines in a small buffer inside the request object and the body is a
 * pointer (borrowed, or copied into the request's arena). When the handler
 * returns, the status line, Server, Date, framing and those lines go
 * straight into the connection's output buffer with the body after them:
 * one reservation, a few memcpy()s, no allocation for the usual response.
 *
 * Framing is the server's: the handler cannot set Content-Length,
 * Transfer-Encoding or Connection, so they always agree with what is sent.
 * HEAD gets the headers GET would get and no body; 1xx, 204 and 304 get
 * neither length nor body.
 *
 * The Date line is formatted at most once a second per worker: it is
 * refreshed lazily when the loop clock passes the next second boundary,
 * which costs nothing on an idle worker. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

#define HEAD_FIXED 256 /* bytes of a head besides the handler's headers */
#define JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

enum framing { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE };

static const struct {
    short status;
    const char *reason;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *gt_http_reason(int status)
{
    if (status == 200) /* the common case, without the search */
        return "OK";
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].status == status)
            return reasons[i].reason;
    return "";
}

/* ---- Date ---------------------------------------------------------------- */

static void refresh_date(gt__http_worker *w, int64_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(w->date, sizeof(w->date),
             "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             days[tm.tm_wday % 7], tm.tm_mday % 100, months[tm.tm_mon % 12],
             (tm.tm_year + 1900) % 10000, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100);
    w->date_next = now + 1000 - ts.tv_nsec / 1000000;
}

const char *gt__http_date(gt__http_worker *w)
{
    int64_t now = gt_now();

    if (now >= w->date_next)
        refresh_date(w, now);
    return w->date;
}

/* ---- writing a head ------------------------------------------------------ */

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}
#define PUT_LIT(p, lit) put((p), lit, sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_status(char *p, int status)
{
    const char *reason = gt_http_reason(status);

    p = PUT_LIT(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    return PUT_LIT(p, "\r\nServer: greentor\r\n");
}

/* Status line, Server, Date, framing, Connection, the handler's headers
 * and the empty line, at p (HEAD_FIXED + hdrs_len bytes of room). */
static char *put_head(gt_http_res *res, char *p, int framing, uint64_t len)
{
    gt__http_conn *c = res->req->conn;

    p = put_status(p, res->status);
    p = put(p, gt__http_date(c->w), GT__DATE_LEN);
    if (framing == FRAME_LENGTH) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_u64(p, len);
        p = PUT_LIT(p, "\r\n");
    } else if (framing == FRAME_CHUNKED) {
        p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (c->close_after)
        p = PUT_LIT(p, "Connection: close\r\n");
    else if (res->req->head.minor == 0)
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    p = put(p, res->hdrs, res->hdrs_len);
    res->sent_status = res->status;
    return PUT_LIT(p, "\r\n");
}

static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Keep-alive unless the handler, the client or a draining server says
 * otherwise. */
static void decide_close(gt_http_res *res)
{
    gt__http_conn *c = res->req->conn;

    if (res->close || !res->req->head.keep_alive || c->w->stopping)
        c->close_after = true;
}

/* ---- building (handler API) ---------------------------------------------- */

void gt__http_res_init(gt_http_res *res, gt_http_req *req)
{
    memset(res, 0, sizeof(*res));
    res->req = req;
    res->status = 200;
    res->hdrs = req->hdrs_inline;
    res->hdrs_cap = sizeof(req->hdrs_inline);
    res->no_body = req->head.method_id == GT__HTTP_HEAD;
}

int gt_http_res_status(gt_http_res *res, int status)
{
    if (status < 100 || status > 999)
        return -EINVAL;
    res->status = status;
    return 0;
}

void gt_http_res_close(gt_http_res *res)
{
    res->close = true;
}

int gt_http_res_body(gt_http_res *res, const void *data, size_t len)
{
    char *p = gt__http_alloc(res->req, len);

    if (!p)
        return -ENOMEM;
    if (len > 0)
        memcpy(p, data, len);
    res->body = p;
    res->body_len = len;
    return 0;
}

void gt_http_res_body_static(gt_http_res *res, const void *data, size_t len)
{
    res->body = data;
    res->body_len = len;
}

/* The free part of the arena, to serialise into without a second copy. */
static char *arena_free(gt_http_req *req, size_t *room)
{
    *room = GT__HTTP_ARENA - req->arena_used;
    return req->arena + req->arena_used;
}

static void arena_take(gt_http_req *req, size_t n)
{
    req->arena_used += (n + 15) & ~(size_t)15;
    if (req->arena_used > GT__HTTP_ARENA)
        req->arena_used = GT__HTTP_ARENA;
}

int gt_http_res_json(gt_http_res *res, json_t *json)
{
    gt_http_req *req = res->req;
    size_t room, n;
    char *buf;
    int rc = 0;

    if (!json)
        return -EINVAL;
    buf = arena_free(req, &room);
    n = json_dumpb(json, buf, room, JSON_FLAGS);
    if (n == 0) {
        rc = -EINVAL;
    } else if (n <= room) {
        arena_take(req, n);
    } else if ((buf = gt__http_alloc(req, n)) == NULL) {
        rc = -ENOMEM;
    } else if (json_dumpb(json, buf, n, JSON_FLAGS) != n) {
        rc = -EINVAL;
    }
    json_decref(json);
    if (rc < 0)
        return rc;
    res->body = buf;
    res->body_len = n;
    return gt__http_default_type(res, "application/json");
}

int gt_http_res_vprintf(gt_http_res *res, const char *fmt, va_list ap)
{
    gt_http_req *req = res->req;
    size_t room;
    char *buf = arena_free(req, &room);
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(buf, room, fmt, ap);
    if (n >= 0 && (size_t)n < room) {
        arena_take(req, (size_t)n + 1);
    } else if (n >= 0) {
        buf = gt__http_alloc(req, (size_t)n + 1);
        n = !buf ? -ENOMEM : vsnprintf(buf, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    if (n < 0)
        return n == -ENOMEM ? n : -EINVAL;
    res->body = buf;
    res->body_len = (size_t)n;
    n = gt__http_default_type(res, "text/plain; charset=utf-8") < 0 ? -ENOMEM
                                                                    : n;
    return n;
}

int gt_http_res_printf(gt_http_res *res, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = gt_http_res_vprintf(res, fmt, ap);
    va_end(ap);
    return n;
}

char *gt_http_escape_html_new(const char *src, size_t n, size_t *out_len)
{
    return gt__http_escape_html_new(src, n, out_len);
}

/* ---- streaming ----------------------------------------------------------- */

static int64_t write_deadline(const gt__http_conn *c)
{
    return gt_deadline_in(c->w->srv->cfg.write_timeout_ms);
}

/* X-Request-Id when the server is configured to send it. Out of memory,
 * the response goes without it. */
static void add_request_id(gt_http_res *res)
{
    const char *id;

    if (!res->req->conn->w->srv->cfg.request_id)
        return;
    id = gt_http_req_id(res->req);
    if (id)
        gt__http_hdr_append(res, "X-Request-Id", 12, id, strlen(id));
}

/* Send the head of a streamed response: chunked for HTTP/1.1, delimited
 * by the close for HTTP/1.0. */
static int start_stream(gt_http_res *res)
{
    gt_http_req *req = res->req;
    gt__http_conn *c = req->conn;
    int framing = FRAME_NONE;
    char *start, *p;

    if (!status_has_body(res->status))
        res->no_body = true;
    else if (res->sized)
        framing = FRAME_LENGTH;
    else if (req->head.minor == 1)
        framing = FRAME_CHUNKED;
    else
        framing = FRAME_CLOSE;
    res->chunked = framing == FRAME_CHUNKED;
    if (framing == FRAME_CLOSE)
        c->close_after = true;
    decide_close(res);
    add_request_id(res);
    gt__http_cors_headers(res);
    start = gt__http_out_reserve(c, HEAD_FIXED + res->hdrs_len);
    if (!start)
        return -ENOMEM;
    p = put_head(res, start, framing, res->size);
    gt__http_out_commit(c, (size_t)(p - start));
    res->started = true;
    return 0;
}

void gt__http_res_stream_sized(gt_http_res *res, uint64_t size)
{
    res->sized = true;
    res->size = size;
}

static int put_part(gt_http_res *res, const void *data, size_t len)
{
    gt__http_conn *c = res->req->conn;
    char *start = gt__http_out_reserve(c, len + 24), *p = start;
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0, v = len;

    if (!p)
        return -ENOMEM;
    if (res->chunked) {
        do
            tmp[n++] = hex[v & 15];
        while ((v >>= 4) != 0);
        while (n > 0)
            *p++ = tmp[--n];
        p = PUT_LIT(p, "\r\n");
    }
    p = put(p, data, len);
    if (res->chunked)
        p = PUT_LIT(p, "\r\n");
    gt__http_out_commit(c, (size_t)(p - start));
    res->bytes += len;
    return 0;
}

int gt_http_res_write(gt_http_res *res, const void *data, size_t len)
{
    gt__http_conn *c = res->req->conn;
    int rc;

    if (c->state != GT__CONN_OPEN)
        return -ECANCELED;
    if (res->started && (len == 0 || res->no_body))
        return 0;
    rc = gt__http_conn_wait_write(c, write_deadline(c));
    if (rc == 0 && !res->started)
        rc = start_stream(res);
    if (rc == 0 && len > 0 && !res->no_body)
        rc = put_part(res, data, len);
    if (rc < 0)
        return rc;
    gt__http_conn_flush(c);
    return c->state == GT__CONN_OPEN ? 0 : -EPIPE;
}

/* ---- finishing ----------------------------------------------------------- */

/* Let a pending write (an interim 100, a streamed part) end first, even
 * past the request's deadline. */
static int wait_quiet(gt__http_conn *c)
{
    int was = gt_co_shield(1);
    int rc = gt__http_conn_wait_write(c, write_deadline(c));

    gt_co_shield(was);
    if (rc < 0)
        gt__http_conn_close(c);
    return rc;
}

static void end_stream(gt_http_res *res, bool ok)
{
    gt__http_conn *c = res->req->conn;
    char *p;

    if (!ok || (res->sized && !res->no_body && res->bytes != res->size)) {
        c->close_after = true; /* truncated: the client must not take it */
        return;                /* as complete */
    }
    if (!res->chunked || res->no_body || wait_quiet(c) < 0)
        return;
    p = gt__http_out_reserve(c, 5);
    if (!p) {
        gt__http_conn_close(c);
        return;
    }
    PUT_LIT(p, "0\r\n\r\n");
    gt__http_out_commit(c, 5);
}

static void put_response(gt_http_res *res)
{
    gt__http_conn *c = res->req->conn;
    bool has_body = status_has_body(res->status);
    size_t copy = has_body && !res->no_body ? res->body_len : 0;
    char *start = gt__http_out_reserve(c, HEAD_FIXED + res->hdrs_len + copy);
    char *p;

    if (!start) {
        gt__http_conn_close(c);
        return;
    }
    p = put_head(res, start, has_body ? FRAME_LENGTH : FRAME_NONE,
                 res->body_len);
    if (copy > 0)
        p = put(p, res->body, copy);
    gt__http_out_commit(c, (size_t)(p - start));
    res->bytes = copy;
}

void gt__http_res_finish(gt_http_res *res, int rc)
{
    gt_http_req *req = res->req;
    gt__http_conn *c = req->conn;
    int status;

    res->finished = true;
    if (c->state != GT__CONN_OPEN)
        return;
    if (gt__http_req_skip_body(req) < 0)
        c->close_after = true;
    status = gt__http_outcome(req, rc);
    if (res->started) {
        end_stream(res, status == 0);
        return;
    }
    if (status != 0)
        gt__http_render_error(res, status, rc);
    if (res->started) { /* the error hook streamed its answer */
        end_stream(res, c->state == GT__CONN_OPEN);
        return;
    }
    if (wait_quiet(c) < 0)
        return;
    decide_close(res);
    add_request_id(res);
    gt__http_cors_headers(res);
    put_response(res);
}

/* ---- responses without a handler ----------------------------------------- */

void gt__http_send_error(gt__http_conn *c, int status, const char *why)
{
    const char *reason = gt_http_reason(status);
    size_t rlen = strlen(reason);
    char *start, *p;

    c->close_after = true;
    if (c->writing || c->state != GT__CONN_OPEN)
        return;
    start = gt__http_out_reserve(c, HEAD_FIXED + rlen);
    if (!start)
        return;
    p = put_status(start, status);
    p = put(p, gt__http_date(c->w), GT__DATE_LEN);
    p = PUT_LIT(p, "Content-Type: text/plain; charset=utf-8\r\n"
                   "Connection: close\r\nContent-Length: ");
    p = put_u64(p, rlen);
    p = PUT_LIT(p, "\r\n\r\n");
    p = put(p, reason, rlen);
    gt__http_out_commit(c, (size_t)(p - start));
    if (c->w->srv->cfg.access_log)
        gt__http_log_refused(c, status, rlen, why);
}

int gt__http_send_continue(gt__http_conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *p = gt__http_out_reserve(c, sizeof(line) - 1);

    if (!p)
        return -ENOMEM;
    memcpy(p, line, sizeof(line) - 1);
    gt__http_out_commit(c, sizeof(line) - 1);
    return 0;
}
