/* tests/httpc.h -- a small HTTP/1.1 client for the end-to-end tests.
 *
 * It runs in coroutines of a greentor runtime (worker only): its sockets
 * are non-blocking and every wait goes through gt_fdwatch with a deadline,
 * so hundreds of clients share one thread, and a server that stops
 * answering fails a test instead of hanging it. It speaks just enough HTTP
 * for a test, all of it checked from the outside: keep-alive, and
 * Content-Length, chunked and close-delimited bodies.
 *
 * On top of it, httpc_load_run() drives a server with N concurrent
 * keep-alive connections for a time or a number of requests and counts
 * what came back, so a test can assert "no socket errors, no non-2xx".
 *
 * Errors follow greentor's rule: 0 or a count, else a negative code
 * (-ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EPROTO, -ENOMEM...), with a
 * readable message in the connection's 'err'. */
#ifndef GT_TESTS_HTTPC_H
#define GT_TESTS_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "greentor.h"

/* One client connection to 127.0.0.1:port. Caller-allocated. */
typedef struct httpc {
    int fd; /* -1 when not connected */
    int port;
    gt_fdwatch watch; /* open exactly while fd >= 0 */
    char *buf;        /* bytes received and not consumed yet: buf[0..len) */
    size_t len, cap;
    char err[192]; /* what the last failure was */
} httpc;

/* A response. Everything in it is owned: free with httpc_res_free(). */
typedef struct httpc_res {
    int status;
    char *head; /* status line and header lines, NUL-terminated */
    char *body; /* body_len bytes plus a NUL (not counted) */
    size_t body_len;
    int close; /* nonzero: the server closes after this response */
} httpc_res;

/* Set up 'c' for 127.0.0.1:port; does not connect. */
void httpc_init(httpc *c, int port);

/* Connect. Yields. Returns 0 or a negative error (message in c->err). */
int httpc_connect(httpc *c, int64_t deadline);

/* Close the connection (no-op when closed); 'c' can connect again. With
 * 'reset' nonzero the close sends an RST instead of a FIN. Also frees the
 * buffer. */
void httpc_close(httpc *c, int reset);

/* Write all 'n' bytes. Yields. Returns 0 or a negative error. */
int httpc_send(httpc *c, const char *data, size_t n, int64_t deadline);

/* Read one response (interim 1xx ones are skipped). Yields. On success
 * *res is filled (free it with httpc_res_free()); on failure it is
 * zeroed. Returns 0 or a negative error. */
int httpc_read(httpc *c, httpc_res *res, int64_t deadline);

/* The same for the answer to a HEAD request: the head only, an empty
 * body, whatever Content-Length says. */
int httpc_read_head(httpc *c, httpc_res *res, int64_t deadline);

/* One request without a body: connects first when not connected, sends
 * "METHOD target HTTP/1.1", reads the response, and closes the connection
 * when the response says so or anything failed (so the next call starts
 * afresh). Yields. Returns 0 or a negative error. */
int httpc_do(httpc *c, const char *method, const char *target, httpc_res *res,
             int64_t deadline);

/* Copy the value of header 'name' (case-insensitive; the first one) into
 * 'out', trimmed. Returns 1 if found, else 0 and out is "". */
int httpc_header(const httpc_res *res, const char *name, char *out, size_t cap);

/* How many header fields named 'name' (case-insensitive) it has. */
int httpc_header_count(const httpc_res *res, const char *name);

/* Free what a response holds and zero it. NULL-safe. */
void httpc_res_free(httpc_res *res);

/* ---- load ---------------------------------------------------------------- */

/* A load run: fill in the first block, call httpc_load_run(), read the
 * second. */
typedef struct httpc_load {
    int port;
    int conns;                  /* concurrent keep-alive connections */
    const char *const *targets; /* GET targets, used round-robin */
    int ntargets;
    int64_t duration_ms;        /* start no request after this... */
    long max_requests;          /* ...or after this many (0: no cap) */
    int64_t request_timeout_ms; /* per request, connect included */

    long requests;         /* requests finished, with a response or not */
    long ok;               /* 2xx */
    long errors;           /* no response: connect, socket or framing error */
    long non2xx;           /* responses with another status */
    long status503;        /* of which 503 */
    int first_status;      /* the first non-2xx status seen, else 0 */
    char first_error[256]; /* the first error or non-2xx, "" if none */

    long next;   /* private: requests started so far */
    int64_t end; /* private: gt_now() after which none start */
} httpc_load;

/* Run the load from a coroutine: one coroutine per connection on the
 * calling worker, joined before returning. Returns 0, or a negative error
 * if a coroutine could not be spawned (the others still ran). */
int httpc_load_run(httpc_load *l);

#endif
