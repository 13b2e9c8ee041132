/* http/http.h -- the http module's internal interface: the server, its
 * per-worker state, connections, requests and responses, and the seams
 * between the files.
 *
 * Ownership runs downward: a server owns one worker struct per runtime
 * worker; a worker (on its own thread) owns its connections, its buffer
 * pool and its pool of request objects; a connection owns its buffers and,
 * while a request runs, borrows one request object from the pool. Nothing
 * here is shared between threads except the server's reference count, stop
 * flag and counters, which are atomics.
 *
 * A connection moves bytes through a gt__http_io method table. In the
 * server it is a uv_tcp_t; the connection fuzzer (fuzz/fuzz_http_conn.c)
 * plugs in memory instead, so it drives the real code without sockets. */
#ifndef GT_HTTP_INTERNAL_H
#define GT_HTTP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include <pthread.h>

#include <openssl/ssl.h>

#include "greentor/http.h"
#include "list.h"
#include "parse.h"

typedef struct gt__http_worker gt__http_worker;
typedef struct gt__http_conn gt__http_conn;

#define GT__HTTP_ARENA 2048 /* per-request scratch before gt_co_alloc */
#define GT__HTTP_HDRS_INLINE                                                   \
    512                         /* response header bytes before gt_co_alloc    \
                                 */
#define GT__HTTP_LINGER_MS 2000 /* read-and-drop time after a closing reply */

/* ---- transports (tcp.c has the TCP one) ---------------------------------- */

/* How a connection moves bytes. Every function is called on the worker's
 * thread and must not call back into the connection synchronously;
 * completions are reported later with gt__http_conn_written() and
 * gt__http_conn_closed(). Incoming bytes are delivered by calling
 * gt__http_conn_alloc() then gt__http_conn_read(), as libuv does. */
typedef struct gt__http_io {
    /* Write what can be written of buf[0..len) now, without waiting.
     * Returns the count (>= 0) or a negative error. */
    int (*try_write)(gt__http_conn *c, const char *buf, size_t len);
    /* Write buf[0..len) in the background; the bytes stay untouched until
     * gt__http_conn_written(). Returns 0 or a negative error. */
    int (*write)(gt__http_conn *c, const char *buf, size_t len);
    int (*read_start)(gt__http_conn *c);
    void (*read_stop)(gt__http_conn *c);
    /* Send FIN once pending writes are out; failures are ignored. */
    void (*shutdown)(gt__http_conn *c);
    /* Close; pending writes end with an error first. */
    void (*close)(gt__http_conn *c);
} gt__http_io;

/* ---- the server and its workers (server.c) ------------------------------- */

struct gt_http_server {
    gt_http_config cfg;  /* defaults applied; read-only once open */
    gt__http_limits lim; /* the parser's view of cfg */
    size_t buf_size;     /* bytes of every pooled I/O buffer: holds a
                            whole head (max_head) with room to spare */
    gt_http_handler handler;
    void *arg;
    gt_rt *rt;
    int nworkers;
    gt__http_worker *workers; /* one per runtime worker */
    int port;
    atomic_int refs;             /* the caller's, each posted task's */
    atomic_int running;          /* worker coroutines not yet ended */
    atomic_bool stop;            /* gt_http_server_stop() was called */
    atomic_bool sig_on;          /* stop_on_signals() was called */
    uv_signal_t sig[2];          /* SIGINT, SIGTERM (stop_on_signals) */
    int sig_open;                /* of those, not yet closed; worker 0 only */
    int signalled;               /* signals received; worker 0 only */
    gt_waitq sig_wq;             /* the signal coroutine waits here */
    atomic_llong pause_logged;   /* gt_now() of the last "cannot accept"
                                    message, any worker's; 0: none yet */
    atomic_uint pauses_unlogged; /* pauses since then, not logged */
    bool tls_on;                 /* cfg has a certificate: every connection
                                    is TLS (tls.c); read-only once open */
    bool tls_h2;                 /* ALPN offers h2 (tls_ctx.c) */
    bool tls_lock_init;          /* 'tls_lock' is initialised */
    pthread_mutex_t tls_lock;    /* guards 'tls_ctx' (tls_ctx.c says why) */
    SSL_CTX *tls_ctx;            /* what new connections use; swapped by
                                    gt_http_server_reload_tls() */
};

/* A worker's free list of equal-sized blocks (I/O buffers, request
 * objects), linked through their first bytes. It has no fixed cap: a
 * block is on it only because it was in use, so the list never holds more
 * than the worker's peak use, and a once-a-second trim frees what the last
 * second did not need (server.c says why). */
typedef struct gt__http_freelist {
    void *head;
    size_t n;   /* blocks on the list */
    size_t low; /* fewest blocks on it since the last trim */
} gt__http_freelist;

/* Everything a worker thread keeps for the server. Only its own thread
 * touches it, except the atomic counters (read by get_stats) and 'fd'
 * (handed over through gt_rt_post). */
struct gt__http_worker {
    gt_http_server *srv;
    int index;
    int fd; /* listening socket until uv_tcp_open() took
               it; then -1 */
    uv_tcp_t listener;
    bool listening;          /* 'listener' is initialised and open */
    int listen_dup;          /* a duplicate of the listening socket, so
                                that pausing (closing 'listener') keeps
                                the backlog; -1 if none (accept.c) */
    bool paused;             /* out of descriptors: not accepting */
    bool pause_closing;      /* 'listener' closing for a pause */
    bool resume_timer_on;    /* 'resume_timer' is initialised */
    uv_timer_t resume_timer; /* retries resuming while paused */
    bool stopping;           /* draining: accept nothing, close when idle */
    int handles;             /* worker handles whose close is pending */
    gt_waitq wq;             /* the worker coroutine waits here */
    gt_waitq join_wq;        /* gt_http_server_join() callers of this
                                worker wait here */
    gt__list conns;          /* every open connection, through their link */
    gt__http_freelist bufs;  /* free I/O buffers of srv->buf_size */
    gt__http_freelist reqs;  /* free request objects */
    uv_timer_t trim;         /* trims both lists while they are long */
    bool trim_open;          /* 'trim' is initialised and not closing */
    bool trim_on;            /* 'trim' is started */
    gt_http_req *scratch;    /* the request object the next head is
                                parsed into (NULL: take one) */
    uv_signal_t sighup;      /* worker 0 of a TLS server: reload on SIGHUP */
    bool sighup_on;          /* 'sighup' is initialised and not closing */
    char date[40];           /* "Date: <IMF-fixdate>\r\n", GT__DATE_LEN */
    int64_t date_next;       /* gt_now() at which 'date' goes stale */
    atomic_uint_fast64_t n_conns, n_accepted, n_rejected, n_requests;
};

#define GT__DATE_LEN 37

/* Build a server without sockets or tasks (gt_http_server_open() adds
 * those; the connection fuzzer uses it bare). One reference, the caller's.
 * Returns 0, -EINVAL or -ENOMEM. */
int gt__http_server_new(gt_http_server **out, gt_rt *rt,
                        const gt_http_config *cfg, int nworkers,
                        gt_http_handler handler, void *arg);
/* Drop a reference; the last one frees the server. */
void gt__http_server_unref(gt_http_server *srv);

/* Set up / tear down a worker's state on its own thread. _stop closes the
 * listener, drains connections for up to drain_ms (0: cancel at once) and
 * yields until every connection and handle is closed. Worker coroutine. */
void gt__http_worker_begin(gt__http_worker *w);
/* How long requests cancelled at the end of a drain get to answer 503. */
#define GT__HTTP_STOP_GRACE_MS 1000
void gt__http_worker_stop(gt__http_worker *w, int drain_ms);
void gt__http_worker_end(gt__http_worker *w);
/* Bind srv->cfg's address: one listening socket per worker, in
 * srv->workers[i].fd, and srv->port. Caller's thread (tcp.c). Returns 0
 * or the error of socket(), setsockopt(), bind() or listen(). */
int gt__http_bind_all(gt_http_server *srv);
/* Adopt the worker's listening socket and start accepting. Worker. */
int gt__http_listen_start(gt__http_worker *w);
/* The listener's callback (tcp.c). */
void gt__http_on_connection(uv_stream_t *l, int status);
/* Out of descriptors (err: EMFILE, ENFILE): stop accepting until one of
 * the worker's connections is freed (accept.c). */
void gt__http_accept_pause(gt__http_worker *w, int err);
/* A connection of the worker was freed: resume if paused. */
void gt__http_accept_fd_freed(gt__http_worker *w);
/* The worker stops: drop what pausing holds. */
void gt__http_accept_end(gt__http_worker *w);

/* A block off a worker's free list, or NULL when it is empty. */
void *gt__http_freelist_pop(gt__http_freelist *f);
/* Put a block on one of w's free lists (w->bufs or w->reqs). */
void gt__http_freelist_push(gt__http_worker *w, gt__http_freelist *f, void *p);

/* A pooled I/O buffer of srv->buf_size bytes, or NULL. */
char *gt__http_buf_get(gt__http_worker *w);
/* Give back a buffer of 'cap' bytes; only pool-sized ones are kept. */
void gt__http_buf_put(gt__http_worker *w, char *buf, size_t cap);

/* Add 1 to a counter that only this thread writes. */
#define GT__STAT_ADD(x, d)                                                     \
    atomic_store_explicit(                                                     \
        &(x), atomic_load_explicit(&(x), memory_order_relaxed) + (d),          \
        memory_order_relaxed)
#define GT__STAT_INC(x) GT__STAT_ADD(x, 1)
#define GT__STAT_DEC(x) GT__STAT_ADD(x, -1)

/* ---- TLS (tls_ctx.c, tls.c) -------------------------------------------- */

/* Make the server's SSL_CTX when cfg names a certificate (else nothing).
 * Returns 0, -EINVAL (a file that does not load, only one of the two, a
 * key that does not match), -ENOENT and the like (a file missing) or
 * -ENOMEM; the reason is on stderr. */
int gt__http_tls_open(gt_http_server *srv);
void gt__http_tls_close(gt_http_server *srv);
/* A new SSL object from the current context, or NULL. Any thread. */
SSL *gt__http_tls_ssl_new(gt_http_server *srv);
/* Worker 0 of a TLS server listens for SIGHUP while it runs. */
void gt__http_tls_worker_begin(gt__http_worker *w);
void gt__http_tls_worker_stop(gt__http_worker *w);
/* The TLS transport; a connection using it needs gt__http_tls_attach()
 * before gt__http_conn_start(). Returns 0 or -ENOMEM. */
extern const gt__http_io gt__http_tls_io;
int gt__http_tls_attach(gt__http_conn *c);
/* Graceful stop of a TLS connection carrying HTTP/2 (GOAWAY, close when
 * its streams are done): true; false for any other, which conn.c drains. */
bool gt__http_tls_drain(gt__http_conn *c);

/* ---- connections (conn.c) ------------------------------------------------ */

enum gt__conn_state {
    GT__CONN_OPEN,   /* reading requests, writing responses */
    GT__CONN_LINGER, /* final response out, FIN sent: dropping input */
    GT__CONN_CLOSING /* transport and timer closing; no more I/O */
};

enum gt__conn_timer {
    GT__T_NONE,
    GT__T_HEADER,
    GT__T_IDLE,
    GT__T_WRITE,
    GT__T_LINGER
};

struct gt__http_conn {
    uv_tcp_t tcp;     /* the TCP transport's socket */
    uv_timer_t timer; /* runs while a timeout may apply; due at
                         'timer_due' (ms, gt_now()), -1: stopped */
    const gt__http_io *io;
    void *io_data; /* the transport's own, if it needs any */
    gt__http_worker *w;
    gt__link link; /* in w->conns */

    char *in;      /* input: a pooled buffer of buf_size bytes,
                      NULL when idle with nothing buffered */
    size_t in_off; /* unprocessed input is in[in_off, in_len) */
    size_t in_len;
    size_t scanned; /* a partial head was parsed up to here */
    char *out;      /* output not yet written, NULL when none */
    size_t out_len, out_cap;

    gt_co *co;         /* the request coroutine, or NULL; valid
                          until that request's last cleanup */
    gt_http_req *req;  /* its request */
    gt_waitq wq;       /* 'co' waits here for input or a write */
    int64_t timer_at;  /* the deadline of 'timer_kind' (gt_now() ms);
                          timer_due <= timer_at unless it is NONE */
    int64_t timer_due; /* when 'timer' fires, -1 when stopped */

    uint8_t state;      /* enum gt__conn_state */
    uint8_t timer_kind; /* enum gt__conn_timer: the timeout that
                           applies now, at timer_at */
    uint8_t closed_cbs; /* close callbacks seen: freed at 2, no co */
    bool reading;       /* read_start() is in effect */
    bool writing;       /* a background write is pending: nothing
                           may be appended to 'out' until it ends */
    bool close_after;   /* close once the output is flushed */
    bool peer_eof;      /* the client closed its side: answer what is
                           complete, then close (conn.c, peer_eof()) */
};

/* The socket's slow paths, shared by the TCP and TLS transports (tcp.c): a
 * uv_write of buf[0..len), whose request is allocated for it and freed
 * before 'done' runs, and a FIN once pending writes are out (without
 * memory, none: the linger timer closes the connection anyway). The
 * connection carries neither request, so an idle one does not pay for
 * them: uv_try_write() takes most writes whole. gt__http_tcp_send()
 * returns 0 or a libuv error, and then 'done' is not called. */
typedef void gt__http_sent_fn(gt__http_conn *c, int status);
int gt__http_tcp_send(gt__http_conn *c, const char *buf, size_t len,
                      gt__http_sent_fn *done);
void gt__http_tcp_fin(gt__http_conn *c);

/* The client's address: the socket's peer, or for an HTTP/2 stream that of
 * its TLS connection (tcp.c). Returns 0 or -ENOTCONN (closing, or a
 * transport without one). */
int gt__http_conn_peer(const gt__http_conn *c, struct sockaddr_storage *out);

/* Make a connection on worker 'w' using transport 'io' and link it; the
 * transport must be ready before gt__http_conn_start(). Returns 0 or
 * -ENOMEM. */
int gt__http_conn_new(gt__http_worker *w, const gt__http_io *io, void *io_data,
                      gt__http_conn **out);
/* Start reading requests. */
void gt__http_conn_start(gt__http_conn *c);

/* Transport events. alloc gives the buffer the next read fills (len 0:
 * none now); read reports what arrived there (nread < 0: EOF or error). */
void gt__http_conn_alloc(gt__http_conn *c, uv_buf_t *buf);
void gt__http_conn_read(gt__http_conn *c, ssize_t nread, const uv_buf_t *buf);
void gt__http_conn_written(gt__http_conn *c, int status);
void gt__http_conn_closed(gt__http_conn *c);

/* Close now: cancel the request coroutine if one runs; the memory goes
 * once it has ended and the handles are closed. */
void gt__http_conn_close(gt__http_conn *c);
/* Graceful stop: close if idle, else close after the current response. */
void gt__http_conn_drain(gt__http_conn *c);
/* The transport refuses what the client sent before any request (TLS:
 * plaintext on the TLS port): answer 'status' with "Connection: close",
 * logged as refused for 'why', and close after it. */
void gt__http_conn_refuse(gt__http_conn *c, int status, const char *why);
/* The connection now carries HTTP/2 (h2.c drives it, conn.c parses
 * nothing): its header timeout is off. _timer: the timeout that applies
 * now, GT__T_IDLE (no stream open: keepalive_timeout_ms), GT__T_WRITE (our
 * bytes wait for the client: write_timeout_ms), GT__T_HEADER (a stream's
 * head is incomplete: header_timeout_ms) or GT__T_NONE; the same
 * kind again keeps its deadline. Either closes the connection when due. */
void gt__http_conn_h2(gt__http_conn *c);
void gt__http_conn_h2_timer(gt__http_conn *c, int kind);
/* A write of the HTTP/2 connection completed: the write timeout, if it
 * runs, starts again (it bounds a stall, not a slow download). */
void gt__http_conn_h2_progress(gt__http_conn *c);

/* Output for the request and response code. _reserve returns room for n
 * bytes at the end of the output (NULL: out of memory); _commit adds the n
 * bytes written there. Not while c->writing. */
char *gt__http_out_reserve(gt__http_conn *c, size_t n);
void gt__http_out_commit(gt__http_conn *c, size_t n);
/* Start writing the output: what the socket takes now, the rest in the
 * background. Does not yield. */
void gt__http_conn_flush(gt__http_conn *c);
/* Yield until no background write is pending. Returns 0, -EPIPE (the
 * connection closed), -ETIMEDOUT or -ECANCELED. */
int gt__http_conn_wait_write(gt__http_conn *c, int64_t deadline);
/* Yield until input arrives, a write ends or 'deadline'. Returns 0,
 * -EPIPE, -ETIMEDOUT or -ECANCELED. */
int gt__http_conn_wait_input(gt__http_conn *c, int64_t deadline);
/* Recompute whether the transport should read. */
void gt__http_conn_update_reading(gt__http_conn *c);

/* ---- requests (request.c) ------------------------------------------------ */

enum gt__body_state { GT__BODY_UNREAD, GT__BODY_DONE, GT__BODY_FAILED };

typedef struct gt__http_param {
    const char *name, *value; /* name in the router's pattern, value in
                                 the raw path; neither NUL-terminated */
    size_t name_len, value_len;
} gt__http_param;

struct gt_http_res {
    gt_http_req *req;
    int status; /* 100..999 */
    char *hdrs; /* "Name: value\r\n"..., handler-added */
    size_t hdrs_len, hdrs_cap;
    const char *body; /* borrowed, or in the request's memory */
    size_t body_len;
    size_t hdrs_base; /* hdrs[0..hdrs_base) are the before hook's lines,
                         which an error response keeps */
    uint64_t bytes;   /* body bytes sent, for the access log */
    int sent_status;  /* status actually sent (0: none) */
    bool has_ctype;   /* the handler added a Content-Type */
    bool close;       /* gt_http_res_close() */
    bool started;     /* streaming: the head is out */
    bool chunked;     /* streaming with chunked framing */
    bool no_body;     /* HEAD, or a status without a body */
    bool finished;    /* gt__http_res_finish() ran */
    bool cors_done;   /* the CORS fields are in (or need not be) */
    bool sized;       /* streaming with a Content-Length of 'size'
                         (gt__http_res_stream_sized) */
    uint64_t size;
};

struct gt_http_req {
    gt__http_conn *conn; /* set while the request runs */
    gt__http_head head;  /* spans into conn->in */
    uint64_t t0;         /* uv_hrtime() at dispatch */
    size_t body_off;     /* body starts at conn->in[body_off] */
    size_t end;          /* the next request starts at conn->in[end]
                            once the body is done or skipped */
    uint8_t body_state;  /* enum gt__body_state */
    bool spill_active;   /* reads go to 'spill' (a handler waits) */
    bool continue_sent;
    int body_rc;     /* the error once GT__BODY_FAILED */
    int body_status; /* the status that error answers, 0: none */
    const char *body;
    size_t body_len;
    size_t dec_end; /* chunked in place: decoded up to here */
    gt__http_chunked ck;
    char *spill;      /* the body when it did not arrive with the
                         head: malloc'd, freed at request end */
    size_t spill_len; /* body bytes in 'spill' */
    size_t spill_raw; /* chunked: raw bytes up to here, not yet
                         decoded, after spill_len */
    size_t spill_cap;
    size_t tail_len;   /* bytes after a spilled chunked body (next
                          requests), at spill + spill_len */
    const char *route; /* the router's matched pattern */
    gt__http_param params[GT_HTTP_MAX_PARAMS];
    size_t nparams;
    const char *rest; /* what the route's "*" matched, in the raw
                         path (not NUL-terminated); NULL when the
                         route has no "*" */
    size_t rest_len;
    const char *client;     /* gt_http_req_client_addr(), once computed */
    const char *id;         /* gt_http_req_id(), once computed */
    int reject_rc;          /* the code a request accessor returned when
                               it rejected the client's input... */
    int reject_status;      /* ...the status that answers it (0: none)... */
    const char *reject_msg; /* ...and why, NUL-terminated (or NULL) */
    const char *path_dec;   /* gt_http_req_path(), once decoded */
    const char *allow;      /* the router's Allow list for a 405, or NULL */
    void *data;             /* gt_http_req_set_data(); NULL at start */
    size_t arena_used;
    gt_http_res res;
    char hdrs_inline[GT__HTTP_HDRS_INLINE];
    _Alignas(16) char arena[GT__HTTP_ARENA];
    gt__http_header headers[]; /* srv->lim.max_headers of them */
};

/* A request object from the worker's pool, or NULL when out of memory. */
gt_http_req *gt__http_req_get(gt__http_worker *w);
/* Back to the pool (frees its spill buffer). */
void gt__http_req_put(gt__http_worker *w, gt_http_req *req);
/* Prepare a parsed request for its handler: NUL-terminate the method,
 * target and header fields in the buffer, reset the body and response. */
void gt__http_req_start(gt_http_req *req, gt__http_conn *c, size_t head_len);
/* Name the calling coroutine "METHOD what" (route pattern or path). */
void gt__http_req_name(const gt_http_req *req, const char *what, size_t len);
/* After the handler: consume the body if it is already here, without
 * waiting. Returns 0, or a negative code when the connection must close
 * because the body cannot be skipped. */
int gt__http_req_skip_body(gt_http_req *req);
/* When the request ends: put the input after it back in front of the
 * connection's unprocessed input. */
void gt__http_req_finish_input(gt_http_req *req);
/* Bytes the next read on a body-reading connection may bring, and the
 * buffer it fills. */
size_t gt__http_req_spill_room(const gt_http_req *req);
void gt__http_req_spill_space(gt_http_req *req, uv_buf_t *buf);
/* Scratch memory until the handler's coroutine ends. NULL on OOM. */
void *gt__http_alloc(gt_http_req *req, size_t n);

/* ---- rejected input (reject.c) ------------------------------------------- */

/* Record that an accessor rejects the client's input with 'rc' (which it
 * then returns), to be answered with 'status' and the formatted message
 * if the handler returns rc unchanged (gt_http_req_rejected()). Returns
 * rc. */
int gt__http_reject(gt_http_req *req, int rc, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- response header fields (headers.c) ---------------------------------- */

/* Does s[0..n) equal 'lit', ASCII case-insensitively? */
bool gt__http_ieq(const char *s, size_t n, const char *lit);
/* Append "name: value" unchecked. Returns 0 or -ENOMEM. */
int gt__http_hdr_append(gt_http_res *res, const char *name, size_t nl,
                        const char *value, size_t vl);
/* The first field named 'name' (case-insensitive): its value, not
 * NUL-terminated, in *v and *vl. */
bool gt__http_hdr_find(const gt_http_res *res, const char *name, const char **v,
                       size_t *vl);
/* Content-Type 'type' unless the response has one. 0 or -ENOMEM. */
int gt__http_default_type(gt_http_res *res, const char *type);
/* Keep only the first 'len' bytes of fields. */
void gt__http_hdr_truncate(gt_http_res *res, size_t len);

/* ---- errors, hooks, CORS (errors.c, hooks.c, cors.c) --------------------- */

/* What the handler's result 'rc' means for the client: 0 to send the
 * response as built, else the status of an error response. */
int gt__http_outcome(gt_http_req *req, int rc);
/* Replace the response with an error response of 'status' for result
 * 'rc', rendered by the app's error handler if it has one. */
void gt__http_render_error(gt_http_res *res, int status, int rc);
/* Run the request: preflight, hooks, handler, response. Request
 * coroutine. */
void gt__http_serve(gt_http_req *req);
/* Add the CORS fields to a response about to go out (cfg.cors set). */
void gt__http_cors_headers(gt_http_res *res);
/* Answer a preflight (cfg.cors set): 1 when answered, 0 when the request
 * is not one, or a rejection's code (403). */
int gt__http_cors_preflight(gt_http_req *req, gt_http_res *res);

/* ---- static files (fileinfo.c) ------------------------------------------- */

struct stat;
/* The Content-Type for a file name, by its extension. */
const char *gt__http_file_type(const char *name);
/* The file's ETag ("<size>-<mtime ns>" in hex, quoted). */
void gt__http_file_etag(const struct stat *st, char out[48]);
/* 't' as an IMF-fixdate. */
void gt__http_file_date(time_t t, char out[32]);
/* Is the client's copy still good (If-None-Match, If-Modified-Since)? */
bool gt__http_file_fresh(const gt_http_req *req, const struct stat *st,
                         const char *etag);
/* The Range of the request: 1 with the bytes in *from and *len, 0 when
 * the whole file is to be sent (no Range, one not understood, several, or
 * an If-Range that does not match), -1 when unsatisfiable (416). */
int gt__http_file_range(const gt_http_req *req, const struct stat *st,
                        const char *etag, uint64_t *from, uint64_t *len);

/* ---- responses (response.c) ---------------------------------------------- */

/* Reset the response of a starting request. */
void gt__http_res_init(gt_http_res *res, gt_http_req *req);
/* After the handler returned 'rc': turn it into the response (mapping
 * errors and deadlines to statuses) and append it to the output. */
void gt__http_res_finish(gt_http_res *res, int rc);
/* Append a complete error response with "Connection: close" for a request
 * that never reached a handler, and mark the connection to close; logged
 * as refused for 'why' when the access log is on. */
void gt__http_send_error(gt__http_conn *c, int status, const char *why);
/* Make the stream gt_http_res_write() starts one of exactly 'size' body
 * bytes with a Content-Length instead of chunked; fewer bytes by the end
 * close the connection (static.c). Before the first write. */
void gt__http_res_stream_sized(gt_http_res *res, uint64_t size);
/* Append "HTTP/1.1 100 Continue". Returns 0 or -ENOMEM. */
int gt__http_send_continue(gt__http_conn *c);
/* The worker's cached "Date: ...\r\n" line, GT__DATE_LEN bytes. */
const char *gt__http_date(gt__http_worker *w);
/* ---- the access log (accesslog.c) -----------------------------------------
 */

/* One access-log line for a request whose response was put out (or whose
 * client left). Request coroutine. */
void gt__http_log_access(gt_http_req *req);
/* One for an answer without a request: 'why' says which ("parse",
 * "timeout", "memory"). */
void gt__http_log_refused(gt__http_conn *c, int status, size_t bytes,
                          const char *why);
/* Wait (yielding, bounded) until the lines logged so far are written. */
void gt__http_log_drain(void);

#endif
