/* greentor/runtime.h -- stackful coroutines on libuv, one scheduler per thread.
 *
 * A runtime (gt_rt) owns N worker threads. Each worker is a scheduler with
 * its own uv_loop_t; the coroutines it runs never migrate to another thread.
 * Code inside a coroutine reads like blocking code: gt_sleep(), gt_wait_fd(),
 * gt_sem_acquire() and gt_run_blocking() park the coroutine and let the loop
 * run others until the awaited event happens.
 *
 * Threads. Functions marked "worker only" must be called from a coroutine (or
 * a libuv callback) of a worker thread and act on that worker; "any thread"
 * functions are thread-safe. Nothing here is async-signal-safe.
 *
 * Errors. 0 (or a count) on success, a negative code on failure: -errno where
 * one fits (-ETIMEDOUT, -ECANCELED, -ENOMEM, -EINVAL), libuv's codes (which
 * are -errno on Unix) passed through unchanged. Never through errno: any
 * yield may clobber it.
 *
 * Deadlines. Absolute times in milliseconds on the worker's loop clock, read
 * with gt_now(). GT_NEVER (-1) waits forever; 0 (or any past time) does not
 * wait at all. Every wait is also bounded by its coroutine's own deadline
 * (gt_co_set_deadline): whichever comes first ends the wait with -ETIMEDOUT.
 *
 * Cancellation. gt_co_cancel() makes the coroutine's pending wait, and every
 * later one, return -ECANCELED, so the code unwinds through its normal error
 * paths. Nothing is torn down behind its back.
 *
 * Blocking calls. Code that must block a thread runs on one of two pools
 * of the runtime's own, each with threads started on demand up to its
 * size: the offload pool runs the application's gt_run_blocking() calls
 * (offload_threads, $GT_OFFLOAD_THREADS, 4 by default), the driver pool
 * the database drivers' blocking steps (a PostgreSQL connect's name lookup
 * and polls, SQLite's mode=offload statements; driver_threads,
 * $GT_DRIVER_THREADS, 4). Neither can fill the other's threads: slow
 * application calls do not hold up a database connect. A third, the DNS
 * pool (dns_threads, $GT_DNS_THREADS, 4), runs gt_net_resolve()'s
 * lookups (net.h), whose callers stop waiting at their deadline. libuv's own
 * pool (UV_THREADPOOL_SIZE) is neither: it serves uv_fs_*, uv_getaddrinfo and
 * uv_queue_work() called directly. gt_run_thread() starts a thread per
 * call, for calls that may block for unbounded times.
 *
 * Coroutine-local storage. Keys made by gt_local_key_new() hold one value per
 * coroutine. When a coroutine ends -- by return, cancellation or deadline --
 * the destructors of its locals and the functions given to gt_co_defer() run
 * in that coroutine, last registered first, and may do I/O: they run with
 * cancellation cleared and a fresh deadline of cleanup_grace_ms. */
#ifndef GREENTOR_RUNTIME_H
#define GREENTOR_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "greentor/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GT_API
#define GT_API __attribute__((visibility("default")))
#endif

#define GT_NEVER ((int64_t)-1)

/* Our own error codes, below the range of errno values. */
#define GT_EDB (-30001)     /* the database rejected it: see gt_db_errmsg */
#define GT_EPOOL (-30002)   /* no pooled connection within the timeout */
#define GT_ECLOSED (-30003) /* the object was closed under the caller */
#define GT_EPROTO (-30004)  /* the peer broke the protocol */

typedef struct gt_rt gt_rt;
typedef struct gt_co gt_co;

/* A coroutine's body. Its return value is what gt_co_join() reports. */
typedef int (*gt_co_fn)(void *arg);

typedef struct gt_rt_config {
    int workers;          /* worker threads; 0 = number of CPUs */
    size_t stack_size;    /* bytes reserved per coroutine stack, rounded up
                           * to pages, a 64 KiB guard added below; 0 = 1 MiB
                           * (4 MiB under ASan). Only touched pages become
                           * resident, and deep pages of a recycled stack
                           * are given back within about a second. */
    size_t stack_cache;   /* stacks kept per worker for reuse; 0 = 1024 */
    int stack_check;      /* nonzero: pre-fill stacks to measure each
                           * coroutine's high-water mark (slow; for sizing) */
    int cleanup_grace_ms; /* deadline given to destructors; 0 = 2000 */
    int offload_threads;  /* size of the offload pool (gt_run_blocking),
                           * 1..1024; 0 = $GT_OFFLOAD_THREADS if set,
                           * else 4 */
    int driver_threads;   /* size of the drivers' pool, 1..1024; 0 =
                           * $GT_DRIVER_THREADS if set, else 4 */
    int dns_threads;      /* size of the pool of gt_net_resolve()'s
                           * lookups, 1..1024; 0 = $GT_DNS_THREADS if
                           * set, else 4 */
} gt_rt_config;

/* Runtime statistics of one worker (or summed over all). */
typedef struct gt_rt_stats {
    uint64_t spawned;       /* coroutines started */
    uint64_t live;          /* coroutines not yet finished */
    uint64_t switches;      /* context switches into coroutines */
    uint64_t stacks_mapped; /* stacks obtained with mmap */
    uint64_t stacks_cached; /* stacks now on the free list */
    size_t stack_hwm;       /* largest stack use seen, bytes (stack_check) */
    size_t stack_wait_hwm;  /* deepest stack seen at a wait, bytes (always;
                             * the stack-overflow message quotes it) */
    uint64_t stack_trims;   /* cached stacks whose deep pages were given
                             * back to the kernel */
} gt_rt_stats;

/* ---- runtime and workers ---------------------------------------------- */

/* Create a runtime from 'cfg' (NULL = defaults); its workers start in
 * gt_rt_run(). Does not yield. On success *out holds a new runtime; free it
 * with gt_rt_free() after gt_rt_run() returned. Any thread, not a worker.
 * Returns 0, -ENOMEM, or -EINVAL: workers out of 0..1024, a pool size out
 * of 0..1024, or $GT_OFFLOAD_THREADS / $GT_DRIVER_THREADS /
 * $GT_DNS_THREADS consulted and not a number in 1..1024. */
GT_API int gt_rt_new(gt_rt **out, const gt_rt_config *cfg);

/* Run the workers: worker 0 on the calling thread, the others on new
 * threads. Returns after gt_rt_stop(), once every coroutine has finished
 * (those still alive at stop are cancelled) and every worker thread has been
 * joined. Returns 0 or a negative error (thread creation failed). */
GT_API int gt_rt_run(gt_rt *rt);

/* Ask the runtime to stop: every worker cancels its coroutines and, when
 * they have finished, leaves its loop. Any thread; returns at once. */
GT_API void gt_rt_stop(gt_rt *rt);

/* Free a runtime that is not running. NULL is a no-op. */
GT_API void gt_rt_free(gt_rt *rt);

/* Convenience for programs and tests: make a runtime from 'cfg', run 'fn' as
 * a coroutine on worker 0, stop the runtime when it returns and free it.
 * Returns fn's result, or a negative error if the runtime failed. */
GT_API int gt_rt_main(const gt_rt_config *cfg, gt_co_fn fn, void *arg);

/* Spawn fn(arg) as a detached coroutine on worker 'worker' (0..workers-1),
 * or on the next worker in round-robin order when 'worker' is -1. Any
 * thread, also before gt_rt_run() (it starts when the worker does). The
 * runtime takes no ownership of 'arg'. Returns 0, -EINVAL, -ENOMEM, or
 * -ESHUTDOWN when the runtime is stopping. */
GT_API int gt_rt_post(gt_rt *rt, int worker, gt_co_fn fn, void *arg);

/* Register fn(arg, worker) to run on every worker thread as it stops,
 * after its last coroutine has ended and before its loop's handles are
 * closed: the place to close connections bound to the worker's loop.
 * Called in registration order, not in a coroutine (it must not yield).
 * Any thread, before gt_rt_run() returns. Returns 0 or -ENOMEM. */
GT_API int gt_rt_on_stop(gt_rt *rt, void (*fn)(void *arg, int worker),
                         void *arg);

/* Number of workers. Any thread. */
GT_API int gt_rt_workers(const gt_rt *rt);

/* Statistics of worker 'worker', or summed over all when -1. Counters are
 * read without locks, so a running worker's figures are approximate. */
GT_API void gt_rt_get_stats(gt_rt *rt, int worker, gt_rt_stats *out);

/* A thread pool of the runtime (see "Blocking calls" above). */
#define GT_THREADS_OFFLOAD 0 /* gt_run_blocking() */
#define GT_THREADS_DRIVER 1  /* the database drivers' blocking steps */
#define GT_THREADS_DNS 2     /* gt_net_resolve()'s lookups (net.h) */

typedef struct gt_rt_thread_stats {
    int max_threads; /* the pool's size */
    int threads;     /* threads started so far (on demand; never fewer) */
    int running;     /* calls running now */
    int queued;      /* calls waiting for a thread */
    uint64_t done;   /* calls finished */
} gt_rt_thread_stats;

/* Figures of pool 'which' (GT_THREADS_*), read under the pool's lock.
 * Any thread. Returns 0, or -EINVAL for another 'which'. */
GT_API int gt_rt_get_thread_stats(gt_rt *rt, int which,
                                  gt_rt_thread_stats *out);

/* The runtime, worker index and libuv loop of the calling worker thread;
 * NULL / -1 / NULL on a thread that is not a worker. Handles made on the
 * loop belong to that worker; at gt_rt_run()'s end, handles still open are
 * closed for you. */
GT_API gt_rt *gt_rt_self(void);
GT_API int gt_worker_id(void);
GT_API uv_loop_t *gt_loop(void);

/* The worker's clock in milliseconds, monotonic; the time base of every
 * deadline. Updated by the loop on each iteration, like uv_now(). Any
 * thread (a non-worker reads the monotonic clock directly). */
GT_API int64_t gt_now(void);

/* A deadline 'ms' milliseconds from now; GT_NEVER when ms < 0. */
GT_API int64_t gt_deadline_in(int64_t ms);

/* A readable message for 'rc': ours, libuv's or strerror's. */
GT_API const char *gt_strerror(int rc);

/* ---- memory (any thread) ------------------------------------------------ */

/* greentor allocates through these (as SQLite does through sqlite3_malloc),
 * so that a test can make any one allocation fail and walk the
 * out-of-memory paths. Same contracts as malloc, calloc, realloc and
 * strdup; free the result with free(). */
GT_API void *gt_malloc(size_t n);
GT_API void *gt_calloc(size_t n, size_t size);
GT_API void *gt_realloc(void *p, size_t n);
GT_API char *gt_strdup(const char *s);

/* Fault injection, for tests: allocation number 'nth' through the
 * functions above, counting from the next one as 1, fails with NULL, and
 * with 'sticky' nonzero every one after it too; 'nth' 0 disarms. Returns
 * how many allocations were made since the previous call. Costs one
 * relaxed atomic load per allocation while disarmed. */
GT_API long gt_alloc_fail(long nth, int sticky);

/* ---- coroutines (worker only) ------------------------------------------ */

/* Spawn fn(arg) as a new coroutine on the calling worker. It first runs when
 * the caller next yields or parks. With out == NULL the coroutine is
 * detached: it frees itself when it ends. Otherwise *out is a handle the
 * caller must pass to gt_co_join() (or gt_co_detach()) exactly once.
 * Scope: the new coroutine is a child of the calling coroutine (of the
 * worker, when called from a libuv callback). When the caller's body
 * returns, its children still running are cancelled and waited for, at
 * most cleanup_grace_ms, before the caller's own cleanups (gt_co_defer,
 * local destructors) run; handles of finished children nobody joined are
 * released then, so a child's handle is valid only until its parent's body
 * returns. A child that outlasts the grace moves to the worker's scope,
 * with a warning on stderr. Returns 0, -EINVAL outside a worker or without
 * fn, or -ENOMEM (no stack could be mapped). */
GT_API int gt_co_spawn(gt_co **out, gt_co_fn fn, void *arg);

/* The same, but in the worker's root scope: the coroutine does not end
 * with its caller, only with the worker (gt_rt_stop() cancels it). For work
 * that belongs to the worker rather than to a request: a pool's refill, a
 * cache refresher, a connection's own coroutine. Returns the same codes as
 * gt_co_spawn(). */
GT_API int gt_co_spawn_worker(gt_co **out, gt_co_fn fn, void *arg);

/* Wait until 'co' has finished and free its handle; its result goes to
 * *result (if not NULL). Yields while 'co' runs; a finished 'co' is joined
 * at once, also from a libuv callback of its worker. Returns 0, or
 * -ETIMEDOUT / -ECANCELED and then 'co' is still running and the handle
 * still the caller's; -EINVAL, and nothing changes, for a handle of another
 * worker or when called off a worker thread, and for a 'co' still running
 * when called outside a coroutine, by 'co' itself, or while another
 * coroutine is joining it. Joining a handle twice is a bug: while the
 * freed coroutine waits for reuse in the worker's stack cache (the usual
 * case) the second join returns -EINVAL, but once it is reused or
 * unmapped nothing can tell. */
GT_API int gt_co_join(gt_co *co, int *result, int64_t deadline);

/* Give up the handle: 'co' frees itself when it ends. */
GT_API void gt_co_detach(gt_co *co);

/* Cancel 'co' (which may be the caller): its pending wait and all later ones
 * return -ECANCELED. Idempotent. Does not yield. Same worker as 'co'. */
GT_API void gt_co_cancel(gt_co *co);

/* Give coroutine 'co' a deadline: all its waits end with -ETIMEDOUT at
 * 'deadline' at the latest (GT_NEVER clears it); a pending wait is
 * shortened at once. Does not yield. Same worker as 'co'. */
GT_API void gt_co_set_deadline(gt_co *co, int64_t deadline);
GT_API int64_t gt_co_deadline(const gt_co *co);

/* Shield the calling coroutine (on = 1) or lift the shield (on = 0): while
 * shielded, its waits ignore cancellation and its own deadline and are
 * bounded only by their explicit deadline argument; a cancel that arrives
 * meanwhile is remembered and reported by the first wait after the shield
 * is lifted. For cleanup I/O that must complete to leave a resource clean
 * (cancelling a query on the server, a rollback): keep it short and always
 * pass a deadline. Returns the previous state, to restore it; -EINVAL
 * outside a coroutine. Does not yield. */
GT_API int gt_co_shield(int on);

/* The calling coroutine, or NULL outside coroutines. */
GT_API gt_co *gt_co_self(void);

/* Nonzero once 'co' has been cancelled. */
GT_API int gt_co_cancelled(const gt_co *co);

/* Name 'co' for logs and the stack-overflow message; copies at most 63
 * bytes of 'name'. The HTTP server names each request's coroutine by its
 * method and route pattern ("GET /users/:id"). */
GT_API void gt_co_set_name(gt_co *co, const char *name);
GT_API const char *gt_co_name(const gt_co *co);

/* Bytes of the calling coroutine's stack used so far (its high-water mark);
 * needs stack_check, else (and outside a coroutine) returns -ENOTSUP. */
GT_API ssize_t gt_co_stack_used(void);

/* Let the other ready coroutines of this worker run (FIFO), then continue.
 * The loop polls for I/O at least once every 1024 coroutine resumptions,
 * so a coroutine yielding in a loop cannot starve I/O. Returns 0,
 * -ECANCELED if cancelled, or -EINVAL outside a coroutine. */
GT_API int gt_yield(void);

/* Sleep for 'ms' milliseconds. The one wait that takes a relative time:
 * gt_sleep(ms) parks until gt_deadline_in(ms). With ms <= 0 it returns at
 * once without yielding (gt_yield() lets the others run). Returns 0,
 * -ECANCELED, -ETIMEDOUT when the coroutine's own deadline comes first, or
 * -EINVAL outside a coroutine. */
GT_API int gt_sleep(int64_t ms);

/* Run 'fn(arg)' when the calling coroutine ends, on every exit path, after
 * the functions registered after it (LIFO, shared with local destructors).
 * Whatever is handed over this way is never leaked: when fn cannot be
 * registered, fn(arg) is called at once, before this returns. Returns 0,
 * -ENOMEM (fn was called), -EINVAL outside a coroutine (fn was called) or
 * -EINVAL when fn is NULL (nothing was called). */
GT_API int gt_co_defer(void (*fn)(void *), void *arg);

/* malloc() memory freed when the calling coroutine ends. Returns it, or
 * NULL when out of memory or outside a coroutine (then nothing stays
 * allocated). */
GT_API void *gt_co_alloc(size_t size);

/* ---- waiting for file descriptors (worker only) ------------------------ */

#define GT_READABLE 1
#define GT_WRITABLE 2

/* Park until 'fd' is readable and/or writable ('events' is GT_READABLE |
 * GT_WRITABLE) or 'deadline' passes. Returns the ready events (> 0),
 * -ETIMEDOUT, -ECANCELED, -EINVAL (outside a coroutine, or no event asked
 * for), or a libuv error (e.g. -EBADF, or -EEXIST when another libuv
 * handle of the worker is watching 'fd' right now).
 * A socket error (a refused connect, a reset) counts as ready, so that the
 * next read, write or getsockopt(SO_ERROR) reports it. One-shot: registers
 * and unregisters the fd with the loop on every call; for a long-lived fd
 * use gt_fdwatch. */
GT_API int gt_wait_fd(int fd, int events, int64_t deadline);

/* A long-lived registration of an fd with the worker's loop, so that
 * repeated waits cost no epoll_ctl ADD/DEL. Caller-allocated struct. */
typedef struct gt_fdwatch {
    uv_poll_t *poll; /* owned; NULL when not open */
    int fd;
} gt_fdwatch;

/* Register 'fd'. Does not yield. Returns 0, -EINVAL off a worker thread,
 * -ENOMEM or a libuv error; on failure the watch is closed. */
GT_API int gt_fdwatch_open(gt_fdwatch *w, int fd);

/* Like gt_wait_fd() on the watched fd. One coroutine at a time, on the
 * worker that opened the watch: a second waiter gets -EBUSY, a coroutine
 * of another worker -EXDEV (a debug build aborts on either); a closed
 * watch, no event asked for or a caller outside a coroutine -EINVAL. */
GT_API int gt_fdwatch_wait(gt_fdwatch *w, int events, int64_t deadline);

/* Unregister; call before the fd is closed. No-op on a closed watch. */
GT_API void gt_fdwatch_close(gt_fdwatch *w);

/* ---- running blocking code on a thread (worker only) -------------------- */

/* Run fn(arg) on the runtime's offload pool (offload_threads threads, none
 * shared with the database drivers or libuv) while the calling coroutine
 * is parked, and return fn's result. Calls beyond the pool's size wait
 * for a thread in FIFO order. 'deadline' and cancellation only apply until a
 * thread picks the call up: a coroutine already cancelled or past its
 * deadline, or one cancelled or timed out while the call is queued, gets
 * -ECANCELED / -ETIMEDOUT without fn having run. Once fn has started, it
 * always runs to the end (a thread cannot be interrupted) and its result is
 * returned. fn must not touch coroutine APIs. Returns fn's result,
 * -ECANCELED, -ETIMEDOUT, -EAGAIN when the pool had no thread yet and
 * none could be started, or -EINVAL outside a coroutine or without fn
 * (in these cases fn did not run). */
GT_API int gt_run_blocking(int (*fn)(void *), void *arg, int64_t deadline);

/* gt_run_blocking() on pool 'which' (GT_THREADS_*), for code that keeps
 * its blocking steps apart from the application's: GT_THREADS_DRIVER is
 * for code that drives a connection (greentor's database drivers, or a
 * driver of your own), so that a full offload pool cannot delay a connect;
 * GT_THREADS_DNS is for name lookups. gt_run_blocking(f, a, d) is
 * gt_run_on(GT_THREADS_OFFLOAD, f, a, d). Returns as gt_run_blocking(), and
 * -EINVAL for another 'which'. */
GT_API int gt_run_on(int which, int (*fn)(void *), void *arg, int64_t deadline);

/* The same for a call whose caller may stop waiting while it runs (a
 * lookup stuck on a silent name server): the caller leaves at its deadline
 * or cancellation even once fn has started, and fn runs on to its end,
 * holding its thread. Takes ownership of 'arg': returns 0 when fn has
 * returned -- its result in *result, and 'arg' is the caller's again --
 * or -ETIMEDOUT, -ECANCELED, -EAGAIN (no thread), -ENOMEM, or -EINVAL
 * (outside a coroutine, no fn, another 'which'), and then done(arg) has
 * been called (NULL: nothing), now or, for a call left while it ran, on
 * the pool thread once fn has returned. */
GT_API int gt_run_detached(int which, int (*fn)(void *), void *arg,
                           void (*done)(void *), int64_t deadline, int *result);

/* Run fn(arg) on a new thread of its own, for a call that may block for an
 * unbounded time and must not hold one of a thread pool's threads
 * (a CancelRequest to a wedged server, a connect to a partitioned host).
 * Yields until fn returns, 'deadline' passes or the caller is cancelled --
 * unlike gt_run_blocking(), the caller can always stop waiting. fn is
 * always started (even with 'deadline' 0 or a cancelled caller, which
 * makes this fire-and-forget) and always runs to its end. Takes ownership
 * of 'arg', even on failure: once fn has returned and nobody waits any
 * more, done(arg) is called (NULL: nothing) on whichever thread comes
 * last. fn must not touch coroutine APIs. Returns fn's result, or
 * -ETIMEDOUT / -ECANCELED when the caller stopped waiting first, -EAGAIN
 * or -ENOMEM when no thread could be started, or -EINVAL outside a
 * coroutine or without fn (in these three cases fn did not run, and
 * done(arg) has been called). */
GT_API int gt_run_thread(int (*fn)(void *), void *arg, void (*done)(void *),
                         int64_t deadline);

/* The same in steps, for a caller that starts the call now and decides
 * later whether to wait (a PostgreSQL cancel that must have landed before
 * the connection is used again). gt_thread_start() starts fn(arg) on its
 * own thread (any thread may start; done(arg) as above) and gives a handle
 * in *out: 0, -EINVAL, -EAGAIN or -ENOMEM (then *out is NULL, fn did not
 * run and done(arg) has been called). gt_thread_wait() yields until fn has
 * returned (its result), 'deadline' (-ETIMEDOUT) or cancellation
 * (-ECANCELED); it may be called again; coroutines only (-EINVAL).
 * gt_thread_finished() tells, without waiting, whether fn has returned
 * (any thread). gt_thread_forget() gives the handle up, once; the call
 * runs on to its end regardless. */
typedef struct gt_thread_call gt_thread_call;
GT_API int gt_thread_start(gt_thread_call **out, int (*fn)(void *), void *arg,
                           void (*done)(void *));
GT_API int gt_thread_wait(gt_thread_call *call, int64_t deadline);
GT_API int gt_thread_finished(const gt_thread_call *call);
GT_API void gt_thread_forget(gt_thread_call *call);

/* ---- coroutine-local storage -------------------------------------------- */

typedef int gt_local_key;

/* Make a new key with an optional destructor. Any thread; keys are
 * process-wide and never freed (like pthread keys, at most 64). The
 * destructor is called with the value when a coroutine that set a non-NULL
 * value ends. Returns 0, or -EAGAIN when all keys are taken. */
GT_API int gt_local_key_new(gt_local_key *key, void (*destructor)(void *));

/* The calling coroutine's value for 'key', NULL if never set. Worker only. */
GT_API void *gt_local_get(gt_local_key key);

/* Set the calling coroutine's value for 'key'. The first set registers the
 * destructor call (LIFO with gt_co_defer); later sets replace the value
 * without calling the destructor on the old one. Setting NULL means the
 * destructor will not be called. Returns 0, -EINVAL (bad key, or not in a
 * coroutine) or -ENOMEM. */
GT_API int gt_local_set(gt_local_key key, void *value);

/* ---- synchronisation between coroutines of one worker ------------------ */

/* A FIFO queue of parked coroutines. Zero-initialised or gt_waitq_init(). */
typedef struct gt_waitq {
    void *head, *tail; /* private */
} gt_waitq;

GT_API void gt_waitq_init(gt_waitq *q);

/* Park the caller at the tail of 'q' until woken. Returns 0 when woken by
 * gt_waitq_wake(), -ETIMEDOUT or -ECANCELED (and the caller has left the
 * queue), -EXDEV when coroutines of another worker wait in 'q' (a debug
 * build aborts), -EINVAL outside a coroutine. */
GT_API int gt_waitq_wait(gt_waitq *q, int64_t deadline);

/* Wake up to 'n' waiters, oldest first (n < 0: all). Does not yield.
 * Same worker as the waiters. Returns the number woken, or -EXDEV when
 * they belong to another worker (a debug build aborts). */
GT_API int gt_waitq_wake(gt_waitq *q, int n);

/* Number of parked waiters. */
GT_API size_t gt_waitq_len(const gt_waitq *q);

/* A counting semaphore with FIFO hand-off: a released permit goes straight
 * to the oldest waiter, so late arrivals cannot overtake it. */
typedef struct gt_sem {
    int64_t permits; /* free permits; invariant: >0 only if no waiters */
    gt_waitq q;
} gt_sem;

GT_API void gt_sem_init(gt_sem *s, int64_t permits);

/* Take one permit, parking in FIFO order. Returns 0, -ETIMEDOUT,
 * -ECANCELED, or an error of gt_waitq_wait() when it has to wait (-EINVAL
 * outside a coroutine, -EXDEV); on error no permit is held. */
GT_API int gt_sem_acquire(gt_sem *s, int64_t deadline);

/* Take a permit if one is free without waiting: 0 or -EAGAIN. */
GT_API int gt_sem_try_acquire(gt_sem *s);

/* Return one permit (to the oldest waiter, if any). Does not yield. */
GT_API void gt_sem_release(gt_sem *s);

/* A mutex for coroutines: a binary semaphore that remembers its owner. */
typedef struct gt_mutex {
    gt_sem sem;
    gt_co *owner;
} gt_mutex;

GT_API void gt_mutex_init(gt_mutex *m);

/* Lock; returns 0, -ETIMEDOUT, -ECANCELED, -EDEADLK if the caller
 * already holds it, -EINVAL outside a coroutine, or -EXDEV (as
 * gt_sem_acquire). */
GT_API int gt_mutex_lock(gt_mutex *m, int64_t deadline);

/* Unlock; returns 0 or -EPERM when the caller is not the owner. */
GT_API int gt_mutex_unlock(gt_mutex *m);

#ifdef __cplusplus
}
#endif
#endif
