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
 * Limits. hiredis 0.14 (Debian 12) aborts the process when it runs out of
 * memory itself; greentor's own allocations fail with -ENOMEM. No pool
 * yet: see docs/STATUS.md. */
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

/* Connect to the Redis server at 'host' (a name or an address literal;
 * the first address of gt_net_resolve() is used) and 'port'. Yields
 * until connected. On success *out holds a new connection; close it with
 * gt_redis_close(). On failure *out is NULL. Returns 0; -EINVAL (no host,
 * a port out of 1..65535, not in a worker's coroutine); the errors of
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
 * -ENOTCONN (it broke before); -EXDEV (another worker's); -ENOMEM. */
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

#ifdef __cplusplus
}
#endif
#endif
