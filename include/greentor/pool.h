/* greentor/pool.h -- a connection pool whose connections belong to the
 * request that took them.
 *
 * The two bugs of the Tornado+greenlet recipe this project grew from are
 * impossible by construction here: a connection is only ever held by one
 * coroutine (no sharing between green threads), and it returns to the pool
 * when that coroutine ends, however it ends (no connection waits for a
 * garbage collector; "too many connections" cannot happen because the
 * cap is global and hard).
 *
 * Usage inside a handler (or any coroutine):
 *     gt_db *db;
 *     int rc = gt_pool_db(pool, &db);    // first call acquires, later
 *     if (rc < 0) return rc;             // calls return the same one
 *     gt_db_query(db, &rows, "SELECT ...", params, 1, GT_NEVER);
 * and nothing else: when the request's coroutine ends its connection goes
 * back -- rolled back if a transaction is left open, reset if the session
 * was changed (SET, temporary tables), discarded if broken or interrupted.
 *
 * Options (defaults in brackets), settable in gt_pool_config or in the
 * URL's query string under the same name, e.g.
 *     postgres://u:p@127.0.0.1/db?max_open=16&acquire_timeout_ms=2000
 *   max_open [10]               hard cap on open connections, whole process
 *   min_idle [0]                kept open (opened in the background)
 *   max_idle [max_open]         idle connections kept; more are closed
 *   max_lifetime_ms [1800000]   closed when older (minus up to 10% jitter)
 *   idle_timeout_ms [600000]    idle ones above min_idle closed after this
 *   acquire_timeout_ms [2000]   then GT_EPOOL (HTTP: 503 + Retry-After)
 *   validate_idle_ms [1000]     idle longer than this: pinged before reuse
 *   leak_threshold_ms [0 = off] held longer: one log line with file:line
 *   reset_on_release [auto]     auto | always | never (session reset)
 *   backoff_max_ms [5000]       longest pause between reconnect attempts
 *
 * Threads. A pool serves every worker of one runtime. Each worker keeps its
 * own idle connections and FIFO queue of waiters (no lock on the hot
 * path); the cap is one atomic counter claimed with compare-and-swap. A
 * waiter on a worker without idle connections can make another worker shed
 * an idle one, so a slot is never stranded. */
#ifndef GREENTOR_POOL_H
#define GREENTOR_POOL_H

#include <stdint.h>

#include "greentor/db.h"
#include "greentor/redis.h"
#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gt_pool gt_pool;

enum gt_pool_reset {
    GT_POOL_RESET_AUTO = 0, /* reset only sessions a statement changed */
    GT_POOL_RESET_ALWAYS = 1,
    GT_POOL_RESET_NEVER = 2,
};

/* Zero fields take the default (or the URL's value). */
typedef struct gt_pool_config {
    int max_open, min_idle, max_idle;
    int64_t max_lifetime_ms, idle_timeout_ms, acquire_timeout_ms;
    int64_t validate_idle_ms, leak_threshold_ms, backoff_max_ms;
    /* An explicit acquisition (gt_pool_acquire()) held longer than this
     * is taken back: its server session is ended (its state is unknown),
     * its slot returns to the cap, the acquiring file:line is logged, and
     * the holder's handle fails every later call with -ECONNRESET and a
     * message saying so; gt_pool_release() still frees it. 0 (default):
     * never -- an explicit acquisition is how a background job or a
     * LISTEN loop keeps a connection past any request, and taking it
     * away by surprise would break it; request-scoped connections
     * (gt_pool_db()) cannot leak in the first place. */
    int64_t leak_reclaim_ms;
    int reset_on_release; /* enum gt_pool_reset */
    /* Run on every new connection before its first use, after the URL's
     * init= statements, and again after every reset on release (see
     * gt_db_set_init()). A negative result discards the connection; the
     * acquisition fails with GT_EPOOL and gt_pool_errmsg() says why, as
     * for a failed connect. NULL: none. Called on the worker, in the
     * acquiring coroutine; 'on_connect_arg' must outlive the pool. */
    gt_db_init_fn on_connect;
    void *on_connect_arg;
} gt_pool_config;

typedef struct gt_pool_stats {
    int64_t open; /* connections open or being opened */
    int64_t in_use, idle, waiters;
    int64_t cleaning; /* given back, being rolled back, reset or
                       * wound down (an interrupted query) by a
                       * coroutine of the pool before reuse */
    int64_t max_open_ever;
    int64_t cap;       /* connections the pool may hold now:
                        * max_open, or fewer while the database
                        * refuses more (its connection limit) */
    uint64_t acquired; /* successful acquisitions */
    uint64_t waits;    /* acquisitions that had to wait */
    uint64_t wait_us;  /* total time spent waiting */
    uint64_t timeouts; /* GT_EPOOL returned */
    uint64_t opened, connect_errors;
    uint64_t discarded_broken, discarded_lifetime, discarded_idle;
    uint64_t discarded_dead; /* idle ones the server had dropped, found
                              * before a request could use them */
    uint64_t rollbacks, resets, leaks_reported;
    uint64_t leaks_reclaimed;   /* taken back after leak_reclaim_ms */
    uint64_t moved;             /* handed to another worker, not closed */
    uint64_t capacity_refusals; /* connects the database refused for
                                 * having too many (not an outage) */
} gt_pool_stats;

/* Make a pool for 'url' on runtime 'rt'. The URL is checked, not
 * connected to (min_idle connections open in the background once the
 * runtime runs). Options in the URL override 'cfg' (which may be NULL).
 * An option neither the pool nor the URL's driver reads, a value that is
 * not a whole number or out of range (counts up to 1000000, milliseconds
 * up to 2147483647), is -EINVAL, and 'err' names the option (and lists
 * the accepted ones for an unknown one).
 * Any thread, before or during gt_rt_run(). Returns 0, -EINVAL (bad URL or
 * option; message in 'err' if not NULL), -EPROTONOSUPPORT or -ENOMEM. */
GT_API int gt_pool_new(gt_pool **out, gt_rt *rt, const char *url,
                       const gt_pool_config *cfg, char *err, size_t errlen);

/* Let go of the pool: after gt_rt_run() has returned (the runtime closes
 * the pool's connections on each worker as it stops), or before or after
 * gt_rt_free() of a runtime that never ran (the pool's memory then goes
 * when both are done with it). Never while the runtime runs. NULL:
 * no-op. */
GT_API void gt_pool_free(gt_pool *pool);

/* The calling coroutine's connection from 'pool', acquired on first use
 * and kept for the coroutine's life; the same one on every later call.
 * Yields while acquiring (bounded by acquire_timeout_ms and the
 * coroutine's deadline). Returns 0, GT_EPOOL (no connection in time, or
 * the database is down: message in gt_pool_errmsg()), -ECANCELED,
 * -ENOMEM, or -EINVAL when not called from a coroutine of the pool's own
 * runtime. Worker only. */
GT_API int gt_pool_db_at(gt_pool *pool, gt_db **out, const char *file,
                         int line);
#define gt_pool_db(pool, out) gt_pool_db_at(pool, out, __FILE__, __LINE__)

/* Give the calling coroutine's connection back now (for handlers that do
 * slow work after their queries). The next gt_pool_db() acquires again.
 * No-op when it holds none. A connection given back dirty (a transaction
 * left open, session state changed, an interrupted query still winding
 * down) is rolled back or reset by a coroutine of the pool before anyone
 * gets it again (gt_pool_stats.cleaning), so the caller does not wait for
 * that -- it yields only when no memory is left for that coroutine and
 * the cleaning runs in place. */
GT_API void gt_pool_db_release(gt_pool *pool);

/* Explicit acquisition, not tied to the coroutine's life: the caller must
 * gt_pool_release() it (leak detection watches it). Same returns.
 * gt_pool_release() gives it back on the worker that acquired it (dirty
 * ones are cleaned as for gt_pool_db_release()) and returns 0; -EINVAL when
 * 'db' is not an explicit acquisition of 'pool' still held (released already,
 * or the request-scoped one of gt_pool_db()); -EXDEV on another worker, where
 * the connection is left as it was (a debug build aborts). */
GT_API int gt_pool_acquire_at(gt_pool *pool, gt_db **out, int64_t deadline,
                              const char *file, int line);
#define gt_pool_acquire(pool, out, deadline)                                   \
    gt_pool_acquire_at(pool, out, deadline, __FILE__, __LINE__)
GT_API int gt_pool_release(gt_pool *pool, gt_db *db);

/* The Redis counterparts of gt_pool_db(), gt_pool_acquire() and
 * gt_pool_release(), for a pool made from a redis:// URL; same rules and
 * returns. gt_pool_db_release() gives a coroutine's connection back early
 * from either kind of pool. */
GT_API int gt_pool_redis_at(gt_pool *pool, gt_redis **out, const char *file,
                            int line);
#define gt_pool_redis(pool, out) gt_pool_redis_at(pool, out, __FILE__, __LINE__)
GT_API int gt_pool_redis_acquire_at(gt_pool *pool, gt_redis **out,
                                    int64_t deadline, const char *file,
                                    int line);
#define gt_pool_redis_acquire(pool, out, deadline)                             \
    gt_pool_redis_acquire_at(pool, out, deadline, __FILE__, __LINE__)
GT_API int gt_pool_redis_release(gt_pool *pool, gt_redis *r);

/* Statistics summed over workers (racy reads of live counters). */
GT_API void gt_pool_get_stats(gt_pool *pool, gt_pool_stats *out);

/* The statistics in Prometheus text format, metric names prefixed with
 * "greentor_pool_" and labelled with pool="<name>". Returns a malloc'd
 * string the caller frees, or NULL on OOM. Any thread. */
GT_API char *gt_pool_metrics_new(gt_pool *pool, const char *name);

/* The calling worker's last pool error message ("" if none). */
GT_API const char *gt_pool_errmsg(gt_pool *pool);

/* Time the calling coroutine spent waiting for 'pool' and holding its
 * connection, in microseconds, so far (for per-route accounting). */
GT_API void gt_pool_co_times(gt_pool *pool, int64_t *wait_us, int64_t *held_us);

#ifdef __cplusplus
}
#endif
#endif
