/* greentor/net.h -- TCP streams and name lookups whose calls look blocking
 * but yield.
 *
 * A gt_tcp is a connected TCP socket (made by gt_tcp_connect() or
 * gt_tcp_accept()) in non-blocking mode, watched by its worker's loop: a
 * read that finds no data, a write that finds the send buffer full and a
 * connect in progress park only the calling coroutine. Every call that can
 * wait takes a deadline.
 *
 * Threads. Worker only. A stream or listener belongs to the worker that
 * made it (its socket is registered with that worker's loop); calls from
 * another worker return -EXDEV. At most one coroutine reads and one writes
 * a stream at a time, which makes it full duplex: a second reader (or
 * writer) meanwhile gets -EBUSY.
 *
 * Errors. 0 (or a count) on success, a negative code on failure: -errno
 * of the socket call (-ECONNREFUSED, -ECONNRESET, -EPIPE...), libuv's
 * UV_EAI_* codes for name lookups (as the HTTP client reports them), else
 * GT_E* (runtime.h). Never through errno.
 *
 * Ownership. gt_tcp_connect(), gt_tcp_accept() and gt_tcp_listen() return
 * objects the caller closes (gt_tcp_close(), gt_tcp_listener_close()) on
 * the worker that made them, when no other coroutine waits on them. One
 * never closed keeps its socket open until the process exits. Buffers are
 * borrowed for the duration of the call.
 *
 * Deadlines. Absolute gt_now() milliseconds, GT_NEVER for none; every wait
 * is also bounded by the calling coroutine's own deadline and ends with
 * -ECANCELED when it is cancelled.
 *
 * Name lookups. gt_net_resolve() runs getaddrinfo() on the runtime's DNS
 * pool (runtime.h, "Blocking calls"), a pool of its own, and its caller
 * stops waiting at its deadline even while the lookup runs on: a name
 * server that does not answer costs a DNS-pool thread for the resolver's
 * own timeout (5 s per try by default), never a thread of the offload or
 * driver pools and never the caller's deadline. Why getaddrinfo() rather
 * than c-ares: it is the resolver every other part of the process uses
 * (libcurl's threaded resolver, libpq through the driver pool), so a name
 * resolves the same way everywhere -- /etc/hosts, nsswitch.conf modules,
 * gai.conf's address order -- and it needs no other library; c-ares would
 * save the threads but reads only /etc/hosts and DNS. Address literals
 * are converted inline, with no thread. */
#ifndef GREENTOR_NET_H
#define GREENTOR_NET_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gt_tcp gt_tcp;
typedef struct gt_tcp_listener gt_tcp_listener;

/* Resolve 'host' (a name, or an IPv4 or IPv6 literal) to its TCP
 * addresses for 'port', in getaddrinfo()'s order. Yields while the lookup
 * runs on the DNS pool (literals do not: they are converted at once).
 * On success *out holds a new list; free it with freeaddrinfo(). On
 * failure *out is NULL. Returns 0; -EINVAL (no host, port out of
 * 0..65535, not in a worker's coroutine); UV_EAI_NONAME (no such name);
 * UV_EAI_NODATA (the name has no address); UV_EAI_AGAIN (the name server
 * failed for now); UV_EAI_FAIL; -ETIMEDOUT; -ECANCELED; -ENOMEM; -EAGAIN
 * (no DNS-pool thread could be started). */
GT_API int gt_net_resolve(const char *host, int port, struct addrinfo **out,
                          int64_t deadline);

/* Connect to 'host':'port': resolve it (gt_net_resolve()) and try each
 * address in turn until one accepts, all within 'deadline'. The socket
 * has TCP_NODELAY set. Yields. On success *out holds a new stream; close
 * it with gt_tcp_close(). On failure *out is NULL. Returns 0; the errors
 * of gt_net_resolve(); the last address's connect error (-ECONNREFUSED,
 * -ENETUNREACH, -EHOSTUNREACH...); -ETIMEDOUT; -ECANCELED; -ENOMEM;
 * -EMFILE. */
GT_API int gt_tcp_connect(gt_tcp **out, const char *host, int port,
                          int64_t deadline);

/* Read up to 'cap' bytes. Yields until some bytes have arrived, the peer
 * has closed its side, 'deadline' passes or the caller is cancelled.
 * Returns the number of bytes read (> 0), 0 at the end of the stream (and
 * for cap 0), -ETIMEDOUT, -ECANCELED, -EBUSY (another coroutine is
 * reading), -EXDEV (another worker's stream), or the socket's error
 * (-ECONNRESET...). */
GT_API ssize_t gt_tcp_read(gt_tcp *c, void *buf, size_t cap, int64_t deadline);

/* Read exactly 'n' bytes into 'buf'. Yields until all have arrived.
 * Returns 0; -EPIPE when the stream ends first; or an error of
 * gt_tcp_read(). On failure an unknown prefix of 'buf' has been filled
 * and consumed from the stream. */
GT_API int gt_tcp_read_exactly(gt_tcp *c, void *buf, size_t n,
                               int64_t deadline);

/* Write all 'n' bytes of 'buf'. Yields while the socket's send buffer is
 * full. Returns 0 once every byte is in the kernel's send buffer (not yet
 * at the peer: see gt_tcp_shutdown()); -ETIMEDOUT; -ECANCELED; -EBUSY
 * (another coroutine is writing); -EXDEV; -EPIPE (this side was shut
 * down, or the peer closed); or the socket's error (-ECONNRESET...). On
 * failure an unknown prefix has been sent. Never raises SIGPIPE. */
GT_API int gt_tcp_write_all(gt_tcp *c, const void *buf, size_t n,
                            int64_t deadline);

/* Close the writing side (the peer reads the end of the stream after the
 * bytes already written), then wait until the peer has acknowledged every
 * byte written: yields, checking the socket's unacknowledged byte count
 * at growing intervals (1 to 64 ms). Reading stays possible. Returns 0;
 * -ETIMEDOUT (bytes are still unacknowledged: a peer that does not read);
 * -ECANCELED; -EBUSY (a coroutine is writing); -EXDEV; or the socket's
 * error (-ENOTCONN...). The writing side is shut even on failure. */
GT_API int gt_tcp_shutdown(gt_tcp *c, int64_t deadline);

/* Close the stream and free it, also on failure. With a deadline in the
 * future (or GT_NEVER) the close is graceful: the writing side is shut and what
 * the peer still sends is read and dropped until it closes its side or
 * 'deadline' passes, so that unread data cannot make the kernel reset
 * the connection and destroy the last bytes written. With 'deadline' 0
 * (or past) it closes at once. Yields only while lingering. NULL is a
 * no-op. Returns 0, -ETIMEDOUT (the peer did not close in time; the
 * stream is closed anyway), -ECANCELED (likewise), -EXDEV (another
 * worker's stream: nothing is done), -EBUSY (a coroutine waits on it:
 * nothing is done), or the socket's error while lingering (closed). */
GT_API int gt_tcp_close(gt_tcp *c, int64_t deadline);

/* Listen on 'host':'port' (an address literal, or NULL for every IPv4
 * address; port 0 picks a free one), with SO_REUSEADDR and a 'backlog'
 * (<= 0: SOMAXCONN). Does not yield. On success *out holds a new
 * listener; close it with gt_tcp_listener_close(). Returns 0; -EINVAL (a
 * host that is not an address literal, a port out of 0..65535, not on a
 * worker); -EADDRINUSE; -EACCES; -ENOMEM; -EMFILE. */
GT_API int gt_tcp_listen(gt_tcp_listener **out, const char *host, int port,
                         int backlog);

/* The port the listener is bound to (the one picked for port 0). */
GT_API int gt_tcp_listener_port(const gt_tcp_listener *l);

/* Wait for a connection and accept it. Yields. On success *out holds a
 * new stream (TCP_NODELAY set); close it with gt_tcp_close(). Returns 0,
 * -ETIMEDOUT, -ECANCELED, -EBUSY (another coroutine is accepting), -EXDEV,
 * -EMFILE / -ENFILE (out of descriptors: the connection waits in the
 * backlog), -ENOMEM. */
GT_API int gt_tcp_accept(gt_tcp_listener *l, gt_tcp **out, int64_t deadline);

/* Close a listener and free it; connections already accepted stay open.
 * Returns 0, or -EBUSY (a coroutine is accepting: nothing is done) or
 * -EXDEV (another worker's: nothing is done). NULL is a no-op. */
GT_API int gt_tcp_listener_close(gt_tcp_listener *l);

/* The stream's socket, for getsockopt()/setsockopt() and getpeername();
 * reading or writing it directly bypasses nothing but is the caller's
 * business. Valid until gt_tcp_close(). */
GT_API int gt_tcp_fd(const gt_tcp *c);

#ifdef __cplusplus
}
#endif
#endif
