/* greentor/http.h -- an HTTP/1.1 server (and, over TLS, HTTP/2) whose
 * handlers are plain functions running in a coroutine per request.
 *
 * A server (gt_http_server) runs on an existing runtime: one listening
 * socket per worker (SO_REUSEPORT), so every worker accepts, parses and
 * answers its own connections and nothing is shared on the hot path. When a
 * request head has arrived, the worker spawns a coroutine for that request
 * alone and calls the handler in it; the coroutine ends with the request,
 * so its coroutine-local values (a pooled database connection) are
 * released before the next request on the same connection starts. An idle
 * keep-alive connection has no coroutine, only its socket.
 *
 * Threads. The server and router functions are "any thread" unless marked
 * otherwise; everything taking a gt_http_req or gt_http_res is called from
 * the handler's own coroutine, while the handler runs.
 *
 * Errors. 0 (or a count) on success, a negative code on failure: -errno
 * where one fits, libuv's codes unchanged, else GT_E* (runtime.h). A
 * handler returns 0 or a count (gt_http_res_printf()'s, say) when the
 * response it built should be sent, or a negative code, and then the
 * client gets an error response instead -- a short text one, or what the
 * app's error hook renders (gt_http_hooks.error) -- with this status:
 *   -ETIMEDOUT     504; so does any result of a handler that ends after its
 *                  deadline (gt_http_config.handler_timeout_ms);
 *   GT_EPOOL       503 with "Retry-After: 1", and so do the codes of a
 *                  database connection that failed (-ECONNRESET,
 *                  -ECONNREFUSED, -ENOTCONN, -ECONNABORTED: the database
 *                  went away, or is restarting, which is unavailability,
 *                  not a bug);
 *   -ECANCELED     503 with "Retry-After: 1" and "Connection: close" (the
 *                  request was cancelled: its client left, or a graceful
 *                  stop ran out of drain time);
 *   anything else  500 and a line on stderr naming the request and the
 *                  error; -ENOMEM too (the server's own allocation
 *                  failures, before a handler runs, answer 503).
 * A failed gt_http_req_body() has set the status already (see there),
 * whatever the handler returns. A reader of the client's input that
 * rejected it (gt_http_req_json(), the typed query and route getters)
 * records a status and a message: returned unchanged by the handler, its
 * code gets that status (400, 413, 415) with the message as the body (see
 * gt_http_req_rejected()). Once a handler has streamed a part
 * (gt_http_res_write), an error truncates the body instead.
 *
 * Ownership. Strings and buffers a request accessor returns are borrowed
 * and valid until the handler returns. Response setters copy unless their
 * name says otherwise (_static borrows, _json takes ownership).
 *
 * Times. Timeouts in the configuration are milliseconds; deadlines are
 * absolute gt_now() times, as everywhere in greentor. */
#ifndef GREENTOR_HTTP_H
#define GREENTOR_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gt_http_server gt_http_server;
typedef struct gt_http_router gt_http_router;
typedef struct gt_http_req gt_http_req;
typedef struct gt_http_res gt_http_res;

/* A request handler. Runs in the request's coroutine, may yield, and
 * returns 0 or a negative code (see the overview). */
typedef int (*gt_http_handler)(gt_http_req *req, gt_http_res *res, void *arg);

/* What runs around every request (gt_http_config.hooks). Any member may be
 * NULL. All run in the request's coroutine and may yield, except where
 * said.
 *
 * before: runs before the handler for every request that reaches one
 *   (not for a CORS preflight the server answers, nor for a request the
 *   server refuses first: a Content-Length over max_body). Returns 0 to
 *   go on to the handler; a positive value when it answered the request
 *   itself (the response it built is sent, the handler does not run); or a
 *   negative code, answered as a handler's result is (see the overview).
 *   The fields it adds (gt_http_res_header...) are kept by an error
 *   response: CORS or tracing fields survive a failing handler.
 * after: runs once per request that had a coroutine, after the response
 *   was put out and flushed (or the client left): gt_http_res_get_status(),
 *   gt_http_res_get_header(), gt_http_res_get_bytes() and
 *   gt_http_req_elapsed_us() read what was sent; changing the response
 *   changes nothing any more. For an access log, metrics, a trace span.
 * error: renders every error response the server or the router makes for
 *   a request: a handler's or before hook's negative result (400, 404,
 *   413, 415 rejections, 500, 503, 504), a failed body read (400, 408,
 *   413), the router's 404 and 405, a Content-Length over max_body (413),
 *   a CORS preflight refused (403). It is called with the response's
 *   status set to 'status', no body, the before hook's fields only, plus
 *   Allow for a 405 and "Retry-After: 1" for a 503; 'msg' says why (the
 *   rejection's message, else the reason phrase), borrowed for the call.
 *   It builds the body (gt_http_res_error() makes a JSON one;
 *   gt_http_error_json is a ready-made error hook) and returns 0 or a
 *   count to send it, or a negative code to send the default text/plain
 *   body (msg) instead. It should not wait: for a 504 the deadline has
 *   passed, and for a 503 the request may be cancelled. Requests the parser
 *   rejects before they have a head (400, 414, 431, 501, 505), heads that
 *   do not arrive in time (408) and requests the server has no memory for
 *   (503) never reach it: they get a fixed text/plain answer and
 *   "Connection: close".
 * arg: passed to all three. */
typedef struct gt_http_hooks {
    int (*before)(gt_http_req *req, gt_http_res *res, void *arg);
    void (*after)(gt_http_req *req, gt_http_res *res, void *arg);
    int (*error)(gt_http_req *req, gt_http_res *res, int status,
                 const char *msg, void *arg);
    void *arg;
} gt_http_hooks;

/* Cross-origin resource sharing (gt_http_config.cors). The server adds
 * the fields to every response to a request whose Origin is allowed --
 * error responses included, whoever built them -- and "Vary: Origin"
 * unless any origin gets the same answer; a handler that set
 * Access-Control-Allow-Origin itself is left alone. It answers a preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) itself, before
 * any hook or handler: 204 with the Allow-Methods, Allow-Headers and
 * Max-Age fields for an allowed origin and method, else 403 through the
 * error hook. Strings are borrowed and must outlive the server; lists are
 * separated by commas or spaces and compared case-insensitively. */
typedef struct gt_http_cors {
    const char *origins; /* allowed origins as browsers send them
                          * ("https://app.example, http://localhost:3000"),
                          * or "*" for any; NULL: none */
    const char *methods; /* for preflights ["GET, HEAD, POST, PUT, PATCH,
                          * DELETE"; "*" any] */
    const char *headers; /* request fields a preflight may ask for [NULL:
                          * whatever it asks for] */
    const char *expose;  /* Access-Control-Expose-Headers [NULL: none] */
    int credentials;     /* nonzero: "Access-Control-Allow-Credentials:
                          * true", and the origin is echoed even for "*" */
    int max_age;         /* preflight cache, seconds [600; -1: not sent] */
} gt_http_cors;

/* Server configuration. A zero field takes the default in brackets; a
 * timeout of -1 means none. */
typedef struct gt_http_config {
    const char *host;            /* numeric address to bind ["::" dual-stack,
                                  * "0.0.0.0" where IPv6 is unavailable] */
    int port;                    /* TCP port; 0 picks a free one, see
                                  * gt_http_server_port() [0]. Bound with
                                  * SO_REUSEPORT: another such socket of the
                                  * same user on the port shares its traffic */
    int backlog;                 /* listen() backlog per worker [4096] */
    int header_timeout_ms;       /* a request head (request line + headers)
                                  * must arrive within this time from its first
                                  * byte, else 408 and close; a new connection
                                  * that sends nothing in this time is closed
                                  * [10000] */
    int body_timeout_ms;         /* longest wait for the next body bytes while
                                  * a handler reads the body; else 408 and
                                  * close [30000] */
    int keepalive_timeout_ms;    /* an idle keep-alive connection is closed
                                  * after this [15000] */
    int handler_timeout_ms;      /* the request coroutine's deadline: its waits
                                  * return -ETIMEDOUT after it, and the client
                                  * gets 504 [30000] */
    int write_timeout_ms;        /* longest wait for the client to accept more
                                  * response bytes; else close [30000] */
    int drain_timeout_ms;        /* graceful stop: how long in-flight requests
                                  * may finish before they are cancelled
                                  * [10000] */
    int max_conns;               /* open connections per worker; beyond it new
                                  * ones are accepted and closed at once
                                  * [0: from the soft RLIMIT_NOFILE, less a
                                  * reserve of 64 + 16 per worker (at most
                                  * half the limit) for the loops, listeners,
                                  * pools and files, shared by the workers;
                                  * at most 65536]. Set it when the program's
                                  * pools and files need more than that
                                  * reserve. Out of descriptors anyway
                                  * (EMFILE), a worker pauses accepting until
                                  * one of its connections closes; the
                                  * message is printed at most once a
                                  * second. */
    size_t max_head;             /* request line + headers, bytes; else 431
                                  * [8192] */
    size_t max_target;           /* request-target bytes; else 414 [4096] */
    size_t max_headers;          /* header lines; else 431 [64] */
    size_t max_body;             /* request body bytes; else 413 [1 MiB] */
    int access_log;              /* nonzero: one logfmt line to stderr per
                                  * request ("ts=<UTC, ms> peer=<client
                                  * address> id=<request id> method=GET
                                  * target=\"/x\" status=200 bytes=<body>
                                  * us=<since the head>"; status=- when the
                                  * client left unanswered) and per answer
                                  * without a request (parser rejections,
                                  * 408 header timeouts, 503 out of memory:
                                  * method=- target=- refused=parse|timeout|
                                  * memory). Written by a thread of its own,
                                  * never blocking a loop: past 1 MiB queued
                                  * lines are dropped and counted; a stopping
                                  * server waits for its lines [0] */
    const char *trusted_proxies; /* addresses and CIDR ranges, separated by
                                  * commas or spaces ("10.0.0.0/8, ::1"),
                                  * whose Forwarded and X-Forwarded-For
                                  * headers gt_http_req_client_addr()
                                  * believes; borrowed, so it must outlive
                                  * the server. Entries that do not parse
                                  * match nothing [NULL: trust no proxy] */
    int request_id;              /* nonzero: every response a handler built
                                  * carries "X-Request-Id: <gt_http_req_id()>"
                                  * [0] */
    const gt_http_hooks *hooks;  /* before/after/error hooks; borrowed, must
                                  * outlive the server [NULL: none] */
    const gt_http_cors *cors;    /* CORS policy; borrowed, must outlive the
                                  * server [NULL: no CORS fields] */
    int half_close;              /* a client's FIN (it closed its side) while
                                  * its request runs: 0 cancels the request
                                  * -- its waits fail with -ECANCELED -- but
                                  * still sends the answer the handler then
                                  * builds (503 for -ECANCELED), as for a
                                  * client that left; nonzero lets the request
                                  * run on and answer, for clients that
                                  * half-close after sending (`nc -N`), at
                                  * the price of finishing the work of
                                  * clients that left. Complete requests
                                  * waiting in the input are answered either
                                  * way, then the connection closes [0] */
    const char *tls_cert_file;   /* PEM file of the server's certificate
                                  * chain (its certificate first, then the
                                  * intermediates): with tls_key_file set,
                                  * every connection on the port is HTTPS
                                  * (TLS 1.2 and 1.3, ALPN), with the
                                  * timeouts above -- a handshake counts as
                                  * the first request head, so one that does
                                  * not end within header_timeout_ms is
                                  * closed -- and a client that sends
                                  * plaintext HTTP gets a plaintext 400 and
                                  * a close. Borrowed; it must outlive the
                                  * server: the files are read again on
                                  * reload (gt_http_server_reload_tls(),
                                  * SIGHUP). A file that does not load, a
                                  * key that does not match, or one of the
                                  * two without the other fails
                                  * gt_http_server_open() with a line on
                                  * stderr naming the file and the reason
                                  * [NULL: plaintext HTTP] */
    const char *tls_key_file;    /* PEM file of its private key, not
                                  * encrypted; borrowed, as above [NULL] */
    int tls_min_version;         /* lowest TLS version accepted: 12 for TLS
                                  * 1.2, 13 for TLS 1.3 only; another value
                                  * is -EINVAL [12] */
    int tls_http1_only;          /* nonzero: ALPN offers only http/1.1, so
                                  * clients speak HTTP/1.1 even if they could
                                  * speak HTTP/2 [0: h2 first, then
                                  * http/1.1]. With h2, every stream is a
                                  * request to the same handler in a
                                  * coroutine of its own, with the same
                                  * request and response API, limits and
                                  * timeouts as HTTP/1.1 (max_head is also
                                  * SETTINGS_MAX_HEADER_LIST_SIZE); an idle
                                  * HTTP/2 connection closes after
                                  * keepalive_timeout_ms, and a graceful
                                  * stop sends GOAWAY and lets its streams
                                  * finish */
    int h2_max_streams;          /* HTTP/2: streams a connection may have
                                  * open at once
                                  * (SETTINGS_MAX_CONCURRENT_STREAMS) [100] */
} gt_http_config;

/* Counters summed over the workers; read without locks, so approximate
 * while the server runs. */
typedef struct gt_http_stats {
    uint64_t conns;    /* connections open now (an HTTP/2 stream being
                        * answered counts as one too) */
    uint64_t accepted; /* connections accepted in total */
    uint64_t rejected; /* closed at once: over max_conns or stopping */
    uint64_t requests; /* requests dispatched to the handler (HTTP/2:
                        * one per stream) */
} gt_http_stats;

/* ---- the server (any thread) --------------------------------------------- */

/* Bind a listening socket per worker of 'rt' on cfg->host:cfg->port (cfg
 * NULL = all defaults) and post a task to each worker that starts
 * accepting. Every request is given to handler(req, res, arg); use
 * gt_http_router_dispatch with a router as 'arg' to route. Does not yield;
 * works before gt_rt_run() too (accepting then starts with the workers).
 * The server takes no ownership of 'arg', which must outlive it. If
 * SIGPIPE has its default disposition, it is set to ignored (a write to a
 * vanished client must fail with EPIPE, not kill the process).
 * On success *out holds a new server: release it with gt_http_server_close.
 * Returns 0, -EINVAL, -ENOMEM, -ESHUTDOWN (runtime stopping), or the
 * error of socket(), setsockopt(), bind() or listen() (-EADDRINUSE...). */
GT_API int gt_http_server_open(gt_http_server **out, gt_rt *rt,
                               const gt_http_config *cfg,
                               gt_http_handler handler, void *arg);

/* Load the TLS certificate chain and key again from cfg->tls_cert_file and
 * cfg->tls_key_file: connections accepted afterwards are served with the
 * new ones, open connections keep theirs. A server with TLS also does this
 * on SIGHUP (worker 0 handles the signal while the server runs; it does
 * not keep the runtime alive). A reload that fails keeps the previous
 * certificate and says why on stderr. Any thread; reads the files on the
 * calling thread and does not yield.
 * Returns 0, -EINVAL (no TLS configured, a file that does not load, a key
 * that does not match), -errno of stat() (-ENOENT, -EACCES) or -ENOMEM. */
GT_API int gt_http_server_reload_tls(gt_http_server *srv);

/* The TCP port the server listens on (the chosen one when cfg->port was
 * 0). */
GT_API int gt_http_server_port(const gt_http_server *srv);

/* Begin a graceful stop: every worker stops accepting (new connections are
 * refused), closes its idle connections, lets in-flight requests finish
 * (their responses carry "Connection: close") for up to drain_timeout_ms,
 * then cancels the requests still running: their waits fail with
 * -ECANCELED and their clients get 503 with "Connection: close". What has
 * not answered one second later is closed. A stop thus takes at most
 * drain_timeout_ms + 1 s + the runtime's cleanup_grace_ms, whatever the
 * database does.
 * Returns at once; idempotent. The runtime keeps running: call
 * gt_http_server_join() and then gt_rt_stop() to end the program. */
GT_API void gt_http_server_stop(gt_http_server *srv);

/* Wait until every worker has finished stopping (after
 * gt_http_server_stop(), or after the runtime was stopped). Worker only;
 * yields. Returns 0, -ETIMEDOUT at 'deadline', -ECANCELED, -EINVAL outside
 * a coroutine. */
GT_API int gt_http_server_join(gt_http_server *srv, int64_t deadline);

/* Handle SIGINT and SIGTERM on worker 0: the first one stops the server
 * gracefully (as gt_http_server_stop), waits for it, then calls gt_rt_stop()
 * so that gt_rt_run() returns and the program can exit 0; a second signal
 * stops the runtime at once. Returns 0, -EALREADY (called before) or the
 * error of gt_rt_post(). */
GT_API int gt_http_server_stop_on_signals(gt_http_server *srv);

/* Stop the server (as gt_http_server_stop) and give up the caller's
 * reference: its memory is freed once the last worker has finished with it,
 * which is at once when the runtime is not running. Call it after
 * gt_rt_run() returned (or gt_rt_free() of a runtime that never ran), or
 * any time the caller no longer needs the handle. NULL is a no-op. */
GT_API void gt_http_server_close(gt_http_server *srv);

/* Nonzero once a stop has begun (gt_http_server_stop(), a signal): for a
 * readiness endpoint that answers 503 while the server drains, so that a
 * load balancer sends no new work here. Any thread. */
GT_API int gt_http_server_stopping(const gt_http_server *srv);

/* Fill *out with the server's counters. */
GT_API void gt_http_server_get_stats(const gt_http_server *srv,
                                     gt_http_stats *out);

/* ---- routing ------------------------------------------------------------- */

/* Make an empty router. Set it up with gt_http_router_add() before the
 * server starts; it is read-only afterwards, shared by all workers without
 * locks. On success *out holds a new router; free it with
 * gt_http_router_free() after the server has been closed.
 * Returns 0 or -ENOMEM. */
GT_API int gt_http_router_new(gt_http_router **out);

/* NULL is a no-op. */
GT_API void gt_http_router_free(gt_http_router *r);

/* Route requests with 'method' ("GET", "POST"...; NULL = any method) whose
 * raw path matches 'pattern' to fn(req, res, arg). Patterns start with '/'
 * and are made of '/'-separated segments: a literal segment matches itself
 * exactly, ":name" matches any non-empty segment and captures it (read it
 * with gt_http_req_param), and a final "*" matches any rest of the path,
 * even an empty one (a pattern "/static/" + "*" matches "/static/" and
 * "/static/a/b").
 * When several routes match, a route without parameters or "*" wins over
 * one with parameters, which wins over a "*" route; then the one with more
 * literal segments; then an exact method over a GET route answering HEAD
 * (GET routes also answer HEAD); then the first added. Copies 'method' and
 * 'pattern'. Returns 0, -EINVAL (bad pattern, more than
 * GT_HTTP_MAX_PARAMS parameters) or -ENOMEM. */
GT_API int gt_http_router_add(gt_http_router *r, const char *method,
                              const char *pattern, gt_http_handler fn,
                              void *arg);

/* A gt_http_handler with a router as 'router': calls the best matching
 * route's handler and returns its result. When no route matches the path
 * it records a 404 and returns -ENOENT; when routes match the path but
 * none the method, a 405 with an Allow field listing their methods, and
 * returns -EOPNOTSUPP. Both are recorded like rejected input
 * (gt_http_req_rejected()), so that returning them unchanged answers them
 * through the error hook (gt_http_hooks.error). */
GT_API int gt_http_router_dispatch(gt_http_req *req, gt_http_res *res,
                                   void *router);

#define GT_HTTP_MAX_PARAMS 8

/* ---- the request (handler's coroutine only) ------------------------------ */

/* The method as sent ("GET"), NUL-terminated. Borrowed (see overview). */
GT_API const char *gt_http_req_method(const gt_http_req *req);

/* The raw request-target as sent, path and query, NUL-terminated.
 * Borrowed. */
GT_API const char *gt_http_req_target(const gt_http_req *req);

/* The raw (not decoded) path: the target up to '?', without the scheme
 * and authority of an absolute-form target ("http://h/p" gives "/p"); not
 * NUL-terminated, its length goes to *len. Borrowed. */
GT_API const char *gt_http_req_path_raw(const gt_http_req *req, size_t *len);

/* The percent-decoded path ('+' stays '+'), NUL-terminated. Decoded on the
 * first call. Borrowed. Returns NULL when the path holds a malformed
 * %-escape or an encoded NUL, or when out of memory. */
GT_API const char *gt_http_req_path(gt_http_req *req);

/* The raw query string after '?' (NUL-terminated, may be empty), or NULL
 * when the target has no '?'. Borrowed. */
GT_API const char *gt_http_req_query_string(const gt_http_req *req);

/* The percent-decoded value ('+' is a space) of the first query parameter
 * whose decoded name is 'name'; "" for a parameter without '='. Borrowed.
 * Returns NULL when absent, malformed, or out of memory. */
GT_API const char *gt_http_req_query(gt_http_req *req, const char *name);

/* The value of the first header field named 'name' (compared
 * case-insensitively), NUL-terminated, without surrounding whitespace.
 * Borrowed. Returns NULL when absent. */
GT_API const char *gt_http_req_header(const gt_http_req *req, const char *name);

/* Number of header fields, and the i-th one (0 <= i < count) as sent,
 * in arrival order. Borrowed. gt_http_req_header_at returns 0, or -EINVAL
 * when i is out of range. */
GT_API size_t gt_http_req_header_count(const gt_http_req *req);
GT_API int gt_http_req_header_at(const gt_http_req *req, size_t i,
                                 const char **name, const char **value);

/* The percent-decoded value of route parameter 'name' (":name" in the
 * matched pattern), NUL-terminated. Borrowed. Returns NULL when the route
 * has no such parameter, it is malformed or holds %00, or out of memory. */
GT_API const char *gt_http_req_param(gt_http_req *req, const char *name);

/* The pattern of the route that matched ("/users/:id"), or NULL outside
 * a router. Borrowed from the router. */
GT_API const char *gt_http_req_route(const gt_http_req *req);

/* 0 for HTTP/1.0, 1 for HTTP/1.1. */
GT_API int gt_http_req_version(const gt_http_req *req);

/* The whole request body (Content-Length or chunked, decoded; trailers are
 * dropped). Yields until it has arrived -- answering "Expect: 100-continue"
 * first -- waiting at most body_timeout_ms for each read and never past the
 * request's deadline. Stores a pointer to the bytes in *data (not
 * NUL-terminated; never NULL) and their count in *len; both borrowed.
 * Later calls return the same body at once. On failure the server answers
 * with the status given below and closes the connection, whatever the
 * handler then builds (unless it already streamed).
 * Returns 0, -ETIMEDOUT (body timeout: 408; request deadline: 504),
 * -EMSGSIZE (over max_body: 413), GT_EPROTO (bad chunked framing: 400),
 * -ECANCELED (client gone) or -ENOMEM (503). */
GT_API int gt_http_req_body(gt_http_req *req, const char **data, size_t *len);

/* ---- rejected input (handler's coroutine only) --------------------------- */

/* The typed getters and the JSON reader below tell the client's mistakes
 * (a malformed number, bad JSON, a wrong Content-Type) from the caller's
 * (an unknown name) and from failures (out of memory). When they reject
 * the client's input they return a negative code and record it on the
 * request with a status and a message saying what was wrong; a handler
 * that returns that code unchanged gets that status with the message as a
 * text/plain body ("query parameter 'limit' is not an integer"), not 500:
 *
 *     int64_t limit = 20;
 *     int rc = gt_http_req_query_int64(req, "limit", &limit);
 *     if (rc < 0 && rc != -ENOENT)
 *         return rc;                      (400 with the message)
 *
 * A handler that wants its own format reads the record with
 * gt_http_req_rejected(), builds the response and returns 0. Only the
 * latest rejection is kept, and returning any other code maps as in the
 * overview. */

/* The status of the latest rejection recorded on 'req' (400, 404, 413,
 * 415), or 0 when none. Unless msg is NULL, stores in *msg why, as a
 * NUL-terminated sentence without a final newline (the reason phrase when
 * out of memory), or NULL when none. Borrowed. */
GT_API int gt_http_req_rejected(const gt_http_req *req, const char **msg);

/* ---- typed query and path parameters (handler's coroutine only) ---------- */

/* Query parameters are found by their percent-decoded name in the raw query
 * string, '+' decodes to a space, and of a repeated name the first one is
 * read (gt_http_req_query_all reads them all). A parameter without '='
 * ("?verbose") has the empty value. A value is malformed when it holds a
 * bad %-escape ("%zz", "%4") or an encoded NUL ("%00"), or does not have
 * the type asked for. Route parameters (":id") are decoded the same way
 * except that '+' stays '+'. Every string is NUL-terminated, borrowed,
 * and valid until the handler returns. On a return other than 0 (or a
 * count) *out is left unchanged, so it can hold a default. */

/* The decoded value of query parameter 'name' in *out. Returns 0, -ENOENT
 * (absent, or no query string), -EINVAL (malformed; recorded as 400) or
 * -ENOMEM. */
GT_API int gt_http_req_query_str(gt_http_req *req, const char *name,
                                 const char **out);

/* Query parameter 'name' as a decimal integer: an optional '-', then one
 * or more digits, nothing else (no spaces, no '+', no hex), within
 * int64_t.
 * Returns 0, -ENOENT, -EINVAL (malformed, or out of range; recorded as
 * 400) or -ENOMEM. */
GT_API int gt_http_req_query_int64(gt_http_req *req, const char *name,
                                   int64_t *out);

/* Query parameter 'name' as a boolean: "1", "true", "yes", "on" and the
 * empty value ("?verbose") are true; "0", "false", "no", "off" are false;
 * letters compare case-insensitively. Returns 0, -ENOENT, -EINVAL
 * (anything else; recorded as 400) or -ENOMEM. */
GT_API int gt_http_req_query_bool(gt_http_req *req, const char *name,
                                  bool *out);

/* Every value of query parameter 'name', in the order sent ("?tag=a&tag=b"
 * gives "a", "b"). Stores in *out an array of the decoded values followed
 * by NULL; it and the values are borrowed. Returns their count (0 when
 * absent, with *out an array holding only NULL), -EINVAL (one of them is
 * malformed; recorded as 400) or -ENOMEM. */
GT_API int gt_http_req_query_all(gt_http_req *req, const char *name,
                                 const char *const **out);

/* The decoded value of route parameter 'name' (":name" in the matched
 * pattern) in *out. Returns 0, -ENOENT (the route has no such parameter,
 * or no route matched: the caller's mistake, so nothing is recorded),
 * -EINVAL (a bad %-escape or %00; recorded as 400) or -ENOMEM. */
GT_API int gt_http_req_param_str(gt_http_req *req, const char *name,
                                 const char **out);

/* Route parameter 'name' as a decimal integer (the syntax of
 * gt_http_req_query_int64). A path segment that is not one names no
 * resource ("/users/abc" for "/users/:id"), so that is recorded as 404,
 * and a bad %-escape as 400. Returns 0, -ENOENT (no such parameter),
 * -EINVAL or -ENOMEM. */
GT_API int gt_http_req_param_int64(gt_http_req *req, const char *name,
                                   int64_t *out);

/* What the final "*" of the matched route matched, percent-decoded ('+'
 * stays '+'), without the '/' before it: "a/b%20c" gives "a/b c" for
 * "/static/" + "*" and "/static/a/b%20c", and "" for "/static/". An
 * encoded slash decodes to '/' like any other byte, so a file server must
 * still check for "..". Returns 0, -ENOENT (the route has no "*", or no
 * route matched), -EINVAL (a bad %-escape or %00; recorded as 400) or
 * -ENOMEM. */
GT_API int gt_http_req_rest(gt_http_req *req, const char **out);

/* The value of the first cookie named 'name' (compared exactly) in the
 * request's Cookie fields, in *out: not decoded (cookies have no encoding
 * of their own), without the double quotes the syntax allows around it,
 * NUL-terminated, and borrowed. A cookie without '=' is ignored. Returns
 * 0, -ENOENT (absent, or name NULL or "") or -ENOMEM. */
GT_API int gt_http_req_cookie(gt_http_req *req, const char *name,
                              const char **out);

/* ---- the JSON body (handler's coroutine only) ---------------------------- */

/* Limits and checks for gt_http_req_json(); NULL or a zero field takes the
 * default in brackets. */
typedef struct gt_http_json_opts {
    size_t max_size;  /* body bytes; over it 413 [max_body of the server,
                       * which also bounds a larger value] */
    int max_depth;    /* nesting of arrays and objects (a top-level array
                       * is 1); deeper: 400 [64; at most 2048, jansson's
                       * own limit] */
    int require_type; /* nonzero: Content-Type must be application/json
                       * or application/<x>+json (parameters such as
                       * charset allowed), else 415 [0: not checked] */
    size_t flags;     /* json_loadb() flags, e.g. JSON_REJECT_DUPLICATES,
                       * JSON_DECODE_ANY (any value at the top level, not
                       * only an object or array) [0] */
} gt_http_json_opts;

/* Read the body (as gt_http_req_body: it yields) and parse it as JSON.
 * The checks run in this order, each one's failure recorded as its status
 * (see "rejected input"): the Content-Type if asked (415); the size: a
 * Content-Length over max_size is refused before anything is read, a
 * chunked body once it has arrived (413); the nesting depth, checked by a
 * scan of the bytes before jansson sees them, so deep input never recurses
 * on the coroutine's stack (400); then jansson's parse (400). The 400
 * messages give the line and column of the error, counted from 1, columns
 * in characters as jansson counts them ("invalid JSON at line 2, column
 * 5: ..."). On success *out holds a new reference: json_decref() it, or
 * give it on (gt_http_res_json() takes it).
 * Returns 0; -EMEDIUMTYPE (415), -EMSGSIZE (413: over max_size, recorded,
 * or over max_body, answered as gt_http_req_body says), -EBADMSG (400: not
 * JSON, too deep, invalid UTF-8); -ENOMEM (jansson or the server out of
 * memory, not recorded; jansson reports some of its allocation failures
 * as syntax errors, which then are -EBADMSG); or the other errors of
 * gt_http_req_body, which answers them itself (-ETIMEDOUT, GT_EPROTO,
 * -ECANCELED). */
GT_API int gt_http_req_json(gt_http_req *req, json_t **out,
                            const gt_http_json_opts *opts);

/* ---- who is asking (handler's coroutine only) ---------------------------- */

/* The address of the TCP peer: the client, or the last proxy in front of
 * it. Copies it, port included, into *out. Returns 0, -ENOTCONN (not a TCP
 * connection, or it is closed) or libuv's error of getpeername(). */
GT_API int gt_http_req_peer(const gt_http_req *req,
                            struct sockaddr_storage *out);

/* The client's IP address as text ("192.0.2.7", "2001:db8::1"; an
 * IPv4-mapped IPv6 peer as IPv4). It is the TCP peer's, unless the peer is
 * one of gt_http_config.trusted_proxies: then the hops the proxies
 * appended are walked from the right, the peer's own first, skipping each
 * trusted one, and the first address that is not trusted is the client's
 * (all trusted: the leftmost). Hops come from the Forwarded fields' "for="
 * parameters (RFC 7239) if the request has a Forwarded field, else from
 * X-Forwarded-For; a port or brackets around a hop are ignored, and a hop
 * that is not an IP address ("unknown", "_hidden", garbage) ends the walk
 * at the last address before it. So a client cannot choose its address
 * by sending these headers itself, as long as the trusted proxies append
 * to them. Computed on the first call. Borrowed. Stores the address in
 * *out and returns 0, -ENOTCONN (no TCP peer), -ENOMEM or libuv's error of
 * getpeername(). */
GT_API int gt_http_req_client_addr(gt_http_req *req, const char **out);

/* The request's id: its X-Request-Id when that is 1 to 128 characters out
 * of letters, digits and - _ . : / + = @, else a new one of 16 lowercase
 * hex digits, random per request (a client may thus choose its id: it is
 * for tracing, not for security). Computed on the first call; the
 * response carries it when gt_http_config.request_id is set. Borrowed.
 * Returns it, or NULL when out of memory. */
GT_API const char *gt_http_req_id(gt_http_req *req);

/* Attach the app's own pointer to the request (a session, a user, a
 * trace span), e.g. in the before hook for the handler and the after
 * hook. The server never looks at it or frees it; it is NULL when the
 * request starts. */
GT_API void gt_http_req_set_data(gt_http_req *req, void *data);
GT_API void *gt_http_req_get_data(const gt_http_req *req);

/* Microseconds since the request was dispatched (its head complete). */
GT_API uint64_t gt_http_req_elapsed_us(const gt_http_req *req);

/* ---- the response (handler's coroutine only) ----------------------------- */

/* Set the status code (100..999; default 200). Returns 0 or -EINVAL. */
GT_API int gt_http_res_status(gt_http_res *res, int status);

/* The status set so far (200 unless changed); once the head has been sent
 * (streaming, or in the after hook), the status sent. */
GT_API int gt_http_res_get_status(const gt_http_res *res);

/* Add a header field. Copies both. Server, Date, Content-Length,
 * Transfer-Encoding and Connection are the server's to send: use
 * gt_http_res_close() to close after the response. Content-Type is
 * single-valued: adding one replaces the one there (a default set by
 * gt_http_res_printf() included); other names may repeat.
 * Returns 0, -EINVAL (a reserved or malformed name, or a value with
 * control characters other than HT) or -ENOMEM. */
GT_API int gt_http_res_header(gt_http_res *res, const char *name,
                              const char *value);

/* Set header field 'name' to 'value', replacing every field of that name
 * (compared case-insensitively) added before. Copies both. On failure the
 * fields are unchanged. Returns 0, -EINVAL (as gt_http_res_header) or
 * -ENOMEM. */
GT_API int gt_http_res_set_header(gt_http_res *res, const char *name,
                                  const char *value);

/* Remove every header field named 'name' (case-insensitive). Returns how
 * many were removed (0 when none), or -EINVAL (NULL, malformed or one of
 * the server's reserved names). */
GT_API int gt_http_res_remove_header(gt_http_res *res, const char *name);

/* The value of the first header field named 'name' (case-insensitive)
 * the response has so far: added by the handler or a hook, and, in the
 * after hook, the X-Request-Id and CORS fields the server added (not
 * Server, Date, Content-Length, Transfer-Encoding or Connection). Stores a
 * NUL-terminated copy in *out, borrowed until the request ends. Returns
 * 0, -ENOENT (none), -EINVAL (name NULL) or -ENOMEM. */
GT_API int gt_http_res_get_header(gt_http_res *res, const char *name,
                                  const char **out);

/* Body bytes sent so far (0 for HEAD and bodiless statuses), for the
 * after hook. */
GT_API uint64_t gt_http_res_get_bytes(const gt_http_res *res);

/* A JSON error reply: set the status and the body to
 * {"error": <message>, "status": <status>} (plus "request_id" when
 * gt_http_config.request_id is set), with Content-Type application/json
 * replacing any other. The message is printf-formatted from fmt and
 * truncated to 511 bytes; bytes that are not UTF-8 become '?'. fmt NULL
 * means the reason phrase. Returns 0, -EINVAL (status outside 100..999,
 * or a bad format) or -ENOMEM. */
GT_API int gt_http_res_error(gt_http_res *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
GT_API int gt_http_res_verror(gt_http_res *res, int status, const char *fmt,
                              va_list ap) __attribute__((format(printf, 3, 0)));

/* A ready-made gt_http_hooks.error: every error as gt_http_res_error()'s
 * JSON with 'msg'. Returns what gt_http_res_error() returns. */
GT_API int gt_http_error_json(gt_http_req *req, gt_http_res *res, int status,
                              const char *msg, void *arg);

/* Attributes of a cookie set with gt_http_res_set_cookie(). Strings are
 * copied; NULL and 0 leave an attribute out. */
typedef struct gt_http_cookie {
    const char *path;      /* Path=... */
    const char *domain;    /* Domain=... */
    long long max_age;     /* > 0: Max-Age=<seconds>; < 0: delete the
                            * cookie (Max-Age=0 and an Expires in 1970);
                            * 0: a session cookie */
    int secure;            /* Secure */
    int http_only;         /* HttpOnly */
    const char *same_site; /* "Strict", "Lax" or "None" (which browsers
                            * take only with 'secure') */
} gt_http_cookie;

/* Add a Set-Cookie field for cookie name=value with attributes 'attrs'
 * (NULL: none). The name must be a token; the value is sent as given, and
 * must be cookie octets (no space, '"', ',', ';' or '\\', no control
 * characters; encode anything else yourself); path and domain must be
 * printable without ';'. Returns 0, -EINVAL (any of these broken,
 * same_site not one of the three, "None" without secure, or the field
 * longer than 4095 bytes) or -ENOMEM. */
GT_API int gt_http_res_set_cookie(gt_http_res *res, const char *name,
                                  const char *value,
                                  const gt_http_cookie *attrs);

/* Close the connection after this response ("Connection: close"). */
GT_API void gt_http_res_close(gt_http_res *res);

/* Set the body to a copy of data[0..len), replacing any earlier body.
 * Returns 0 or -ENOMEM. */
GT_API int gt_http_res_body(gt_http_res *res, const void *data, size_t len);

/* Set the body to data[0..len) without copying: 'data' is borrowed and must
 * stay valid and unchanged until the handler returns (a string literal). */
GT_API void gt_http_res_body_static(gt_http_res *res, const void *data,
                                    size_t len);

/* Set the body to 'json' serialized compactly, and Content-Type to
 * application/json unless a Content-Type was added. Takes ownership of
 * 'json' (one reference), even on failure. Returns 0, -EINVAL (json NULL
 * or not serializable) or -ENOMEM. */
GT_API int gt_http_res_json(gt_http_res *res, json_t *json);

/* Set the body to printf-formatted text, and Content-Type to
 * "text/plain; charset=utf-8" unless a Content-Type was added.
 * Returns the body length, -EINVAL (bad format) or -ENOMEM. */
GT_API int gt_http_res_printf(gt_http_res *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
GT_API int gt_http_res_vprintf(gt_http_res *res, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Stream data[0..len) as the next part of the body. The first call sends
 * the status and headers with "Transfer-Encoding: chunked" (for an HTTP/1.0
 * client: no length, and the connection closes after the body); after it,
 * the status, headers and gt_http_res_body* can no longer change anything.
 * Each call sends its part at once, and yields while the client has not
 * taken the previous ones (write_timeout_ms at most, never past the
 * request's deadline). The body ends when the handler returns 0; if it
 * returns an error instead, the connection is closed without the final
 * chunk, so the client sees a truncated response. For HEAD, and statuses
 * without a body, parts are dropped. len 0 sends just the head on the
 * first call and does nothing later.
 * Returns 0, -ECANCELED (client gone), -ETIMEDOUT, -EPIPE or -ENOMEM. */
GT_API int gt_http_res_write(gt_http_res *res, const void *data, size_t len);

/* ---- static files (handler's coroutine only) ----------------------------- */

/* A directory to serve (gt_http_static_serve's arg). Borrowed: it and its
 * strings must outlive the server. */
typedef struct gt_http_static {
    const char *root;  /* the directory, without a final '/' */
    const char *index; /* the file a URL ending in '/' names ["index.html";
                        * "": such URLs are 404] */
    int max_age;       /* Cache-Control: > 0 "public, max-age=<max_age>";
                        * 0 "no-cache" (the client revalidates with the
                        * ETag every time); < 0 none */
} gt_http_static;

/* A gt_http_handler that serves the file named by what the route's "*"
 * matched (the whole path without its '/' for a route without "*"),
 * percent-decoded, under st->root: add it as
 * gt_http_router_add(r, "GET", "/static/" "*", gt_http_static_serve, &st).
 * A URL naming something other than a regular file below the root -- a
 * segment "." or "..", a hidden name (leading '.'), a missing file, a
 * device -- is 404; an unreadable one 403; a directory named without its
 * final '/' is redirected there (301), with it its index file is served.
 * GET and HEAD only (405 with "Allow: GET, HEAD" otherwise). The answer
 * has Content-Type by the file's extension (application/octet-stream when
 * unknown), ETag, Last-Modified, Accept-Ranges and Cache-Control; a
 * matching If-None-Match (or, without one, an If-Modified-Since not older
 * than the file) gets 304; a single "Range: bytes=" range gets 206 with
 * Content-Range, one beyond the end 416 (multiple ranges, or an If-Range
 * that does not match, get the whole file). Yields: open() and reads the
 * page cache does not hold run on the thread pool (static.c says how it
 * stays out of the database drivers' way), bounded by the request's
 * deadline. Its errors are recorded like rejected input, so it returns
 * -ENOENT (404), -EACCES (403), -EOPNOTSUPP (405) or -EINVAL (400), or
 * else -ENOMEM, -EIO (the file shrank while it was sent: the connection
 * closes), -ETIMEDOUT, -ECANCELED, or another -errno of open() or a read
 * (500). */
GT_API int gt_http_static_serve(gt_http_req *req, gt_http_res *res, void *st);

/* ---- helpers ------------------------------------------------------------- */

/* Escape src[0..n) for HTML text and attribute values: & < > " ' become
 * &amp; &lt; &gt; &quot; &#39;. Any thread. The result is NUL-terminated
 * and its length goes to *out_len unless out_len is NULL; free it with
 * free(). Returns it, or NULL when out of memory. */
GT_API char *gt_http_escape_html_new(const char *src, size_t n,
                                     size_t *out_len);

/* The reason phrase of 'status' ("Not Found"), "" when unknown. */
GT_API const char *gt_http_reason(int status);

#ifdef __cplusplus
}
#endif
#endif
