/* http/h2.h -- HTTP/2 inside the http module: the session of a TLS
 * connection whose ALPN picked h2 (h2.c), and its streams (h2_stream.c).
 *
 * Every stream is served by a connection of its own, a "stream
 * connection": a gt__http_conn whose transport (h2_stream.c) is memory.
 * The stream's request is given to it as the HTTP/1.1 request it means
 * (request line, fields, body with chunked framing when it has no
 * Content-Length), and what conn.c writes back -- an HTTP/1.1 response --
 * is turned into the stream's HEADERS and DATA. So the parser, its
 * limits, the router, hooks, error pages, body reading, deadlines and the
 * request coroutine are the ones HTTP/1.1 has, unchanged, at the price of
 * formatting and parsing a head per request in memory.
 *
 * Nothing here calls into a stream connection from inside one of its
 * transport calls: those only record what happened and "kick" the
 * session, whose idle callback (gt__h2_pump) does the work from the loop. */
#ifndef GT_HTTP_H2_H
#define GT_HTTP_H2_H

#include <nghttp2/nghttp2.h>

#include "http.h"

typedef struct gt__h2 gt__h2;
typedef struct gt__h2_stream gt__h2_stream;

struct gt__h2 {
    gt__http_conn *c; /* the TLS connection; NULL once it closed */
    nghttp2_session *ng;
    uv_idle_t kick; /* runs gt__h2_pump() soon */
    gt__h2_stream *streams;
    int nstreams;  /* in 'streams' */
    bool draining; /* GOAWAY sent: close when the last stream ends */
    bool dead;     /* the TLS connection closed: free when no streams */
    bool in_pump;
    bool has_peer; /* 'peer' holds the client's address */
    struct sockaddr_storage peer;
};

struct gt__h2_stream {
    gt__h2 *h;
    gt__h2_stream *next;
    int32_t id;
    gt__http_conn *vc; /* its stream connection; NULL once closed */
    /* the request, as HTTP/1.1 bytes not yet given to vc */
    char *in;
    size_t in_len, in_off, in_cap;
    char *method; /* :method, :path, :authority, NUL-terminated, malloc'd */
    char *path;
    char *authority;
    bool has_length; /* the client sent a content-length */
    bool chunked;    /* the body is given with chunked framing */
    bool head_built; /* the request head is in 'in' */
    bool want_read;  /* vc reads */
    bool is_head;    /* a HEAD request: the response has no body */
    /* the response, parsed from what vc wrote */
    char *out; /* before the request starts: its fields, waiting for the
                  request line; then the response head as conn.c writes
                  it; then its decoded body, from out_off */
    size_t out_len, out_off, out_cap;
    int phase;          /* enum in h2_stream.c */
    uint64_t left;      /* Content-Length or chunk bytes still due */
    int chunk_state;    /* h2_stream.c */
    bool body_eof;      /* the whole body is in 'out' */
    bool submitted;     /* the HEADERS were submitted */
    bool deferred;      /* the data provider waits for bytes */
    bool written_wait;  /* vc waits for gt__http_conn_written() */
    bool fin;           /* vc shut down (its response is complete) */
    bool vc_closing;    /* vc's transport close to report */
    bool stream_closed; /* nghttp2 closed the stream */
};

/* Start HTTP/2 on TLS connection 'c' (ALPN picked h2): the session, our
 * SETTINGS. NULL when out of memory. */
gt__h2 *gt__h2_open(gt__http_conn *c);
/* Plaintext from the client. Returns 0, or < 0 when the connection must
 * close. */
int gt__h2_recv(gt__h2 *h, const uint8_t *p, size_t n);
/* Send what the session has while the transport takes it, move the
 * streams on, close what is done. From the loop only. */
void gt__h2_pump(gt__h2 *h);
/* Run gt__h2_pump() from the loop soon. */
void gt__h2_kick(gt__h2 *h);
/* Graceful stop: GOAWAY, then close once the streams are done. */
void gt__h2_drain(gt__h2 *h);
/* The TLS connection is closing: cancel the streams; the session frees
 * itself once they are gone. */
void gt__h2_close(gt__h2 *h);

/* Streams (h2_stream.c). */
gt__h2_stream *gt__h2_stream_new(gt__h2 *h, int32_t id);
/* A request field (pseudo-fields included). Returns 0 or < 0 (reset). */
int gt__h2_stream_header(gt__h2_stream *s, const uint8_t *name, size_t nl,
                         const uint8_t *value, size_t vl);
/* The request head is complete ('end': and so is the request): start its
 * stream connection. Returns 0 or < 0 (reset the stream). */
int gt__h2_stream_start(gt__h2_stream *s, bool end);
/* Request body bytes; 'end': the last. Returns 0 or -ENOMEM. */
int gt__h2_stream_data(gt__h2_stream *s, const uint8_t *p, size_t n, bool end);
/* Move the stream on (deliver input, report writes and closes); frees it
 * and returns true when it is done. */
bool gt__h2_stream_step(gt__h2_stream *s);
/* If 'c' is a stream connection: its client's address in *out, true. */
bool gt__h2_stream_peer(const gt__http_conn *c, struct sockaddr_storage *out);
/* The session is going: close the stream connection. */
void gt__h2_stream_abort(gt__h2_stream *s);
/* The data provider of a response body. */
ssize_t gt__h2_stream_read(nghttp2_session *ng, int32_t id, uint8_t *buf,
                           size_t len, uint32_t *flags,
                           nghttp2_data_source *src, void *user);

/* TLS (tls.c): encrypt and queue plaintext of the session; is a write of
 * ours still in flight (send nothing more until it ends)? */
int gt__http_tls_send(gt__http_conn *c, const uint8_t *p, size_t n);
int gt__http_tls_flush(gt__http_conn *c);
bool gt__http_tls_busy(gt__http_conn *c);

#endif
