/* greentor/client.h -- an outbound HTTP(S) client whose calls look blocking
 * but yield.
 *
 * gt_http_fetch() runs one request on libcurl's multi interface, driven by
 * the calling worker's own loop: curl's sockets are watched with uv_poll
 * handles and its timer is a uv_timer, so a call costs no thread and parks
 * only its coroutine. Each worker has one multi handle, made on its first
 * fetch and cleaned up when the runtime stops, so connections (and curl's
 * DNS cache) are reused between the calls of that worker, never shared
 * with another worker. A worker keeps up to 256 connections, in use and
 * idle; past that, a finished transfer closes the oldest idle one.
 *
 * Threads. Worker only: call from a coroutine of a worker thread.
 *
 * Errors. 0 on success, a negative code on failure: -errno where one fits,
 * libuv's codes unchanged, else GT_E* (runtime.h); see gt_http_fetch().
 * A response with any status (404, 500...) is a success: the status is on
 * the response. The details of a failure go to gt_http_request.errbuf.
 *
 * Ownership. A gt_http_response belongs to the caller: free it with
 * gt_http_response_free(). One forgotten is freed when the coroutine that
 * fetched it ends. Strings and bytes its accessors return are borrowed and
 * valid until gt_http_response_free(). The request and what it points at
 * are borrowed for the duration of the call only.
 *
 * Deadlines. Absolute gt_now() milliseconds, GT_NEVER for none; every call
 * is also bounded by the calling coroutine's own deadline.
 *
 * Threads libcurl may start. Transfers never leave the worker's thread,
 * but Debian's libcurl resolves a host name on a short-lived thread of its
 * own (its threaded resolver; not libuv's shared pool), whose answer comes
 * back through a socket the loop watches. The multi handle caches answers
 * for a minute, and an IP-literal URL resolves no name at all.
 *
 * Names. The client is the module src/client/; its functions say what they
 * speak (gt_http_fetch) rather than where they live, as the server's do. */
#ifndef GREENTOR_CLIENT_H
#define GREENTOR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes gt_http_request.errbuf must hold (curl's CURL_ERROR_SIZE). */
#define GT_HTTP_ERRBUF_SIZE 256

/* Default cap on a response body, bytes. */
#define GT_HTTP_MAX_RESPONSE ((size_t)8 << 20)

/* Cap on a response head (status line and header lines, after the last
 * redirect or interim response), bytes. */
#define GT_HTTP_MAX_HEAD ((size_t)64 << 10)

/* gt_http_request.http_version. DEFAULT: HTTP/2 over TLS when the server
 * offers it (ALPN) and libcurl has it, else HTTP/1.1; plain http:// is
 * HTTP/1.1. 1_1: HTTP/1.1 only. */
#define GT_HTTP_VERSION_DEFAULT 0
#define GT_HTTP_VERSION_1_1 1

/* A header to send: "name: value". An empty value sends the header with
 * no value; a NULL value removes a header curl would add by itself
 * ("Accept", "Content-Type" of a POST...). Sent unless replaced:
 * "User-Agent: greentor/<version>", an Accept of any type and, with a
 * body, Content-Length. Names with ':' and names or values
 * with CR or LF are refused (-EINVAL). */
typedef struct gt_http_header {
    const char *name;
    const char *value;
} gt_http_header;

/* What to fetch. Zero-initialise and set what you need; a zero field takes
 * the default in brackets. */
typedef struct gt_http_request {
    const char *method;            /* "GET", "POST", "PUT", "DELETE",
                                    * "HEAD"... [GET, or POST when there is a
                                    * body]. A method other than GET, HEAD
                                    * and POST is kept across redirects */
    const char *url;               /* http:// or https:// (required); other
                                    * schemes fail with -EINVAL */
    const gt_http_header *headers; /* 'nheaders' headers to send [none] */
    size_t nheaders;
    const void *body; /* request body, 'body_len' bytes, sent with
                       * Content-Length [none]. A POST without a
                       * Content-Type header is sent as
                       * application/x-www-form-urlencoded (libcurl's
                       * default) */
    size_t body_len;
    int max_redirects;   /* follow up to this many redirects (Location
                          * of a 3xx), -ELOOP beyond [0: none, a 3xx is
                          * the response] */
    size_t max_response; /* cap on the response body; a larger one fails
                          * with -EFBIG [GT_HTTP_MAX_RESPONSE] */
    const char *ca_file; /* PEM file of the CAs to verify HTTPS servers
                          * with [the system's CAs]. The peer and its
                          * name are always verified */
    int http_version;    /* GT_HTTP_VERSION_* [DEFAULT] */
    char *errbuf;        /* if not NULL, GT_HTTP_ERRBUF_SIZE bytes that
                          * receive a message on failure ("" on
                          * success) */
} gt_http_request;

typedef struct gt_http_response gt_http_response;

/* Send the request 'rq' and receive the whole response. Yields until it
 * has arrived, 'deadline' (or the coroutine's own deadline) passes, or the
 * caller is cancelled; either of the last two removes the transfer from
 * libcurl at once, which closes its connection (HTTP/1.1) or resets its
 * stream (HTTP/2). The deadline is also given to libcurl as the transfer's
 * timeout, so it covers name resolution, connecting, TLS, sending and
 * receiving. Connections are reused between calls of one worker.
 * On success *out holds a new response, whatever its status; free it
 * with gt_http_response_free() (one forgotten is freed when the calling
 * coroutine ends). On failure *out is NULL.
 * Returns 0; -EINVAL (no url, a scheme other than http/https, a malformed
 * URL, a refused header, body_len without a body, or not in a worker's
 * coroutine); -ETIMEDOUT; -ECANCELED; -ENOMEM;
 * -EFBIG (body over max_response or head over GT_HTTP_MAX_HEAD); -ELOOP
 * (over max_redirects); UV_EAI_NONAME (the host name does not resolve);
 * the connect error, -ECONNREFUSED if unknown; -ECONNRESET (the
 * connection broke, or the server closed it without answering);
 * GT_EPROTO (the server broke HTTP, or TLS failed: handshake, certificate
 * or its verification; errbuf says which); -EIO for anything else. */
GT_API int gt_http_fetch(const gt_http_request *rq, gt_http_response **out,
                         int64_t deadline);

/* The status code (200, 404...) of the last response received (after
 * redirects when they were followed). */
GT_API int gt_http_response_status(const gt_http_response *r);

/* The HTTP version of the last response received: 10 (HTTP/1.0), 11
 * (HTTP/1.1), 20 (HTTP/2) or 30 (HTTP/3); so a caller can tell whether
 * HTTP/2 was negotiated. */
GT_API int gt_http_response_version(const gt_http_response *r);

/* The value of the first header called 'name' (any case), or NULL. A
 * header sent several times is only found once: walk them all with
 * gt_http_response_header_at(). Values have no surrounding blanks. */
GT_API const char *gt_http_response_header(const gt_http_response *r,
                                           const char *name);

/* Number of header lines of the response (trailers included), and the
 * i-th one, in the order received: 0 and *name, *value set, or -ERANGE. */
GT_API size_t gt_http_response_header_count(const gt_http_response *r);
GT_API int gt_http_response_header_at(const gt_http_response *r, size_t i,
                                      const char **name, const char **value);

/* The body, NUL-terminated (the NUL is not counted in *len), and its
 * length in *len if len is not NULL. Never NULL: an empty body is "". */
GT_API const char *gt_http_response_body(const gt_http_response *r,
                                         size_t *len);

/* The URL the response came from: the request's, or the last redirect's
 * target. */
GT_API const char *gt_http_response_url(const gt_http_response *r);

/* Free a response; from any coroutine of the worker that fetched it, or
 * outside coroutines. NULL is a no-op. */
GT_API void gt_http_response_free(gt_http_response *r);

#ifdef __cplusplus
}
#endif
#endif
