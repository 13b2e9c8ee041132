/* greentor/redis.h -- Redis connections whose commands look blocking but
 * yield.
 *
 * A gt_redis is one connection through hiredis' asynchronous API, driven
 * by the worker's own loop (its socket is a uv_poll handle of that loop):
 * a command parks only its coroutine. Several coroutines of the worker may
 * send commands on one connection at once; they are pipelined, and each
 * gets its own reply (Redis answers in order).
 *
 * Threads. Worker only; a connection belongs to the worker that opened
 * it, and calls from another return -EXDEV.
 *
 * Errors. 0 on success, a negative code on failure: -errno where one fits
 * (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -ECANCELED, -ENOMEM), the
 * UV_EAI_* codes of gt_net_resolve() for names, else GT_E* (runtime.h).
 * An error *reply* ("ERR wrong number of arguments...") is a success: a
 * reply of type GT_REDIS_ERROR. The text of a failure is on the
 * connection: gt_redis_errmsg().
 *
 * Ownership. A reply belongs to the caller: free it with
 * gt_redis_reply_free(), or it is freed when the coroutine that received
 * it ends (like result rows). Strings and elements reached from a reply
 * are borrowed and valid until the reply is freed. Arguments are borrowed
 * for the duration of the call.
 *
 * Deadlines. Absolute gt_now() milliseconds, GT_NEVER for none; every
 * call is also bounded by the coroutine's own deadline. A command whose
 * caller stops waiting (deadline, cancel) has still been sent: Redis runs
 * it, and its reply is dropped when it comes; the connection stays in
 * step and usable.
 *
 * Pools. A gt_pool made from a redis:// URL (pool.h: gt_pool_redis())
 * hands each request its own connection and takes it back as the SQL
 * pool does: a MULTI left open is DISCARDed, a changed session (SELECT,
 * WATCH, AUTH, CLIENT SETNAME...) is RESET and set up again, a broken
 * one is closed.
 *
 * Limits. hiredis 0.14 (Debian 12) aborts the process when it runs out of
 * memory itself; greentor's own allocations fail with -ENOMEM. No
 * pub/sub (see gt_redis_command()), no TLS (rediss://). */
#ifndef GREENTOR_REDIS_H
#define GREENTOR_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gt_redis gt_redis;
typedef struct gt_redis_reply gt_redis_reply;

/* gt_redis_reply_type() */
#define GT_REDIS_STRING 1  /* a bulk string: gt_redis_reply_str() */
#define GT_REDIS_ARRAY 2   /* gt_redis_reply_len() elements */
#define GT_REDIS_INTEGER 3 /* gt_redis_reply_int() */
#define GT_REDIS_NIL 4     /* no value (GET of a missing key) */
#define GT_REDIS_STATUS 5  /* a simple string: "OK", "PONG"... */
#define GT_REDIS_ERROR 6   /* an error reply: its text is the string */

/* Open the connection 'url' describes:
 *     redis://[[user]:password@]host[:port][/dbnumber][?options]
 * (port 6379, database 0 and host 127.0.0.1 by default; user and password
 * percent-encoded as in database URLs). Before it returns, the password
 * (with the user, for Redis 6 ACLs) is sent with AUTH and the database
 * number with SELECT -- or a PING when neither is asked, so that a server
 * that refuses us is known now. Options: connect_timeout_ms (bounds the
 * connect and its set-up) and the pool's (pool.h), checked as
 * gt_db_check_url() checks every URL (it names a bad or unknown option).
 * A URL is what a Redis pool (pool.h) is made from, too. Yields; worker
 * only. On success *out holds a new connection. On failure other than
 * -EINVAL and -ENOMEM, *out holds a handle that only carries the message
 * (gt_redis_errmsg()); close it with gt_redis_close(). Returns 0; -EINVAL
 * (a malformed URL, not redis://, a database number or port out of range,
 * not in a worker's coroutine); the errors of gt_redis_open(); -EACCES
 * (AUTH refused: the message is the server's); -ECONNREFUSED also when
 * the server is at its client limit (gt_redis_at_capacity()); GT_EDB (the
 * server refused the SELECT). */
GT_API int gt_redis_open_url(gt_redis **out, const char *url, int64_t deadline);

/* Connect to the Redis server at 'host' (a name or an address literal;
 * the first address of gt_net_resolve() is used) and 'port', without
 * AUTH or SELECT. Yields until connected. On success *out holds a new
 * connection; close it with gt_redis_close(). On failure other than
 * -EINVAL and -ENOMEM, *out holds a handle that only carries the message,
 * as for gt_redis_open_url(). Returns 0; -EINVAL (no host, a port out of
 * 1..65535, not in a worker's coroutine); the errors of
 * gt_net_resolve(); -ECONNREFUSED (or the connect's other error);
 * -ETIMEDOUT; -ECANCELED; -ENOMEM. */
GT_API int gt_redis_open(gt_redis **out, const char *host, int port,
                         int64_t deadline);

/* Send the command of 'argc' arguments argv[i], each argvlen[i] bytes
 * (argvlen NULL: NUL-terminated strings), and wait for its reply. Yields.
 * On success *out holds a new reply (see Ownership above). On failure
 * *out is NULL. Returns 0; -EINVAL (argc < 1, a NULL argument);
 * -ETIMEDOUT and -ECANCELED (the command was sent: see Deadlines above);
 * -ECONNRESET (the connection broke while waiting; it stays broken);
 * -ENOTCONN (it broke before); -EXDEV (another worker's); -ENOMEM;
 * -EOPNOTSUPP, not sent, for a command whose replies would not be one per
 * command (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, MONITOR, SYNC, PSYNC,
 * CLIENT REPLY) or that changes the protocol (HELLO). */
GT_API int gt_redis_command(gt_redis *r, gt_redis_reply **out, int argc,
                            const char *const *argv, const size_t *argvlen,
                            int64_t deadline);

/* What went wrong last on 'r' (a connect or a broken connection), or ""
 * ; valid until the next call on 'r'. */
GT_API const char *gt_redis_errmsg(const gt_redis *r);

/* Close the connection and free it; commands still waiting on it (of
 * other coroutines) return -ECONNRESET. NULL is a no-op. Same worker. */
GT_API void gt_redis_close(gt_redis *r);

/* A reply's type (GT_REDIS_*). */
GT_API int gt_redis_reply_type(const gt_redis_reply *rp);

/* The bytes of a STRING, STATUS or ERROR reply, NUL-terminated (the NUL
 * is not counted in *len, if len is not NULL); "" for other types. */
GT_API const char *gt_redis_reply_str(const gt_redis_reply *rp, size_t *len);

/* The value of an INTEGER reply; 0 for other types. */
GT_API long long gt_redis_reply_int(const gt_redis_reply *rp);

/* The number of elements of an ARRAY reply (0 for other types), and the
 * i-th one, or NULL when i is out of range. */
GT_API size_t gt_redis_reply_len(const gt_redis_reply *rp);
GT_API const gt_redis_reply *gt_redis_reply_at(const gt_redis_reply *rp,
                                               size_t i);

/* Free a reply that gt_redis_command() returned (not an element of one).
 * From a coroutine of the worker that received it, or outside coroutines.
 * NULL is a no-op. */
GT_API void gt_redis_reply_free(gt_redis_reply *rp);

/* ---- for connection pools ------------------------------------------------
 *
 * What a pool (greentor's, or your own) needs to know about a connection it
 * takes back, and to move it between workers. None of these yields except
 * gt_redis_discard_multi() and gt_redis_reset(). */

/* Nonzero while a MULTI was sent and no EXEC or DISCARD after it. */
GT_API int gt_redis_in_multi(const gt_redis *r);

/* DISCARD the open MULTI (no-op without one). Yields. 0, or a negative
 * error (then the connection is best closed). */
GT_API int gt_redis_discard_multi(gt_redis *r, int64_t deadline);

/* Nonzero when a command changed the session since the set-up: SELECT,
 * AUTH, READONLY, READWRITE, RESET, CLIENT other than ID, INFO, LIST and
 * GETNAME, or WATCHed keys still watched. */
GT_API int gt_redis_session_dirty(const gt_redis *r);

/* RESET the session (Redis >= 6.2: it also ends a MULTI and WATCHes) and
 * run the URL's set-up again (AUTH, SELECT). Yields. 0; -EOPNOTSUPP (the
 * server has no RESET: close the connection instead); the errors of a
 * command and of the set-up. */
GT_API int gt_redis_reset(gt_redis *r, int64_t deadline);

/* Zero when the connection is broken, or shows without a round trip that
 * the server dropped it: its socket at end of file or reset, or holding
 * bytes no command waits for. One non-blocking peek; does not yield. */
GT_API int gt_redis_alive(gt_redis *r);

/* Nonzero once the connection broke (it never works again). */
GT_API int gt_redis_broken(const gt_redis *r);

/* Nonzero when the last failure was the server at its client limit
 * ("max number of clients reached"): its capacity, not an outage. */
GT_API int gt_redis_at_capacity(const gt_redis *r);

/* Unregister the socket from the calling worker's loop, so that a
 * coroutine of another worker may use the connection next (its first call
 * there registers it with that worker's loop). On the worker that used it
 * last, with no command waiting; then hand the handle over (gt_rt_post()).
 * NULL: no-op. */
GT_API void gt_redis_detach(gt_redis *r);

/* End the session now but keep the handle: the socket is shut down and
 * the connection broken, 'why' its message; later commands fail with
 * -ENOTCONN. gt_redis_close() still frees it. 0; -EBUSY while a command
 * waits on it (left alone); -EINVAL. */
GT_API int gt_redis_disconnect(gt_redis *r, const char *why);

/* A pointer of the owner's (a pool's record of the connection). */
GT_API void gt_redis_set_owner(gt_redis *r, void *owner);
GT_API void *gt_redis_owner(const gt_redis *r);

#ifdef __cplusplus
}
#endif
#endif
