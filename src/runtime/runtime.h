/* runtime/runtime.h -- the runtime module's internal interface.
 *
 * The pieces: a context switch (switch_<arch>.S or switch_ucontext.c, one
 * picked by the Makefile), stacks with guard pages (stack.c), coroutines and
 * their parking (co.c), the per-thread scheduler driving them from libuv
 * callbacks (sched.c), the multi-threaded runtime (rt.c), its thread pools
 * for blocking calls (tpool.c), and the waits built on parking (wait.c,
 * sync.c, blocking.c, local.c).
 *
 * Everything here is owned by one worker thread; only rt.c's inbox and stop
 * flag are touched from other threads. */
#ifndef GT_RUNTIME_INTERNAL_H
#define GT_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "greentor/runtime.h"
#include "list.h"

/* Checks of the rules the public headers state (which worker owns a
 * coroutine, a watch, a connection). A debug build (make DEBUG=1, which
 * make check uses) aborts on a broken rule; a release build compiles them
 * away and the public function returns an error code where it can. */
#ifdef GT_DEBUG
#include <assert.h>
#define GT__ASSERT(cond) assert(cond)
#else
#define GT__ASSERT(cond) ((void)0)
#endif

/* ---- context switch (switch_<arch>.S, switch_ucontext.c) --------------- */

/* A saved execution context. 'sp' is the saved stack pointer of the
 * hand-written switches; 'uc' a ucontext_t for the portable fallback. */
typedef struct gt__ctx {
    void *sp;
    void *uc;
} gt__ctx;

/* Prepare 'c' to call entry(arg) on the stack [lo, lo+size) when first
 * switched to. entry must never return. */
void gt__ctx_init(gt__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg);
/* Save the current context into 'from' and continue in 'to'. */
void gt__ctx_switch(gt__ctx *from, gt__ctx *to);
/* Release what gt__ctx_switch() may have allocated for a context that was
 * never initialised (the scheduler's own). */
void gt__ctx_deinit(gt__ctx *c);

/* Statistics are written by their worker only and read by any thread
 * (gt_rt_get_stats): relaxed atomic accesses keep that free of data races
 * (and TSan quiet) at the cost of plain loads and stores on x86-64 and
 * AArch64 -- no locked instructions on the hot path. */
#define GT__STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define GT__STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define GT__STAT_ADD(field, n) GT__STAT_SET(field, (field) + (n))

/* ---- coroutines ---------------------------------------------------------- */

#define GT__LOCAL_MAX 64
#define GT__CLEANUP_INLINE 8
#define GT__NAME_MAX 64

enum gt__co_state { GT__READY, GT__RUNNING, GT__PARKED, GT__DONE, GT__FREE };

typedef struct gt__cleanup {
    void (*fn)(void *); /* NULL for a local: then 'key' names it */
    void *arg;
    int key;
} gt__cleanup;

typedef struct gt_sched gt_sched;

/* A coroutine: a control block on the heap and a stack mapping
 * [guard | stack], recycled together through the scheduler's free list.
 * The control block is deliberately not on the stack mapping, so that an
 * overflow cannot corrupt it (or a neighbour's). */
struct gt_co {
    gt__ctx ctx;
    gt_sched *sched; /* owner; never changes */
    void *map;       /* mmap base; [map, stack_lo) is the guard */
    size_t map_len;
    char *stack_lo; /* usable stack: [stack_lo, stack_hi) */
    char *stack_hi;
    unsigned vg_stack_id; /* valgrind's id for the stack */
    bool touched;         /* ran since the last trim of the free list */
    uint64_t id;          /* unique per worker, for messages */

    gt_co_fn fn;
    void *arg;
    int result;
    enum gt__co_state state;
    bool cancelled;
    bool detached;      /* frees itself at the end; no handle exists */
    bool cleaning;      /* running its cleanups */
    int wake_rc;        /* what gt__park() returns */
    int64_t deadline;   /* the coroutine's own deadline, or GT_NEVER */
    int64_t park_until; /* the wait's own deadline while parked */
    uint64_t park_seq;  /* counts parks; a timer fires only into the
                         * park it was armed for */
    uint64_t timer_seq; /* park_seq when the timer was last armed */

    uv_timer_t timer;         /* initialised once per mapping; ends a park */
    gt_co *next;              /* run queue or free list link */
    gt_co *wq_next, *wq_prev; /* gt_waitq links, valid while waitq set */
    void *waitq;              /* the gt_waitq it is queued in, if any */
    bool hard;                /* parked deaf to cancel and deadlines */
    bool shielded;            /* waits ignore cancel and own deadline */
    gt__link all_link;        /* in the scheduler's list of live ones */
    gt_co *joiner;            /* coroutine parked in gt_co_join() */

    /* Scope: the coroutine that spawned this one (NULL: the worker's root
     * scope). A child stays on its parent's 'kids' list until its control
     * block is freed; 'nlive_kids' counts those not yet finished. When the
     * parent's body returns it cancels its live kids and waits for them
     * ('awaiting_kids'), then releases the finished ones nobody joined. */
    gt_co *parent;
    gt__list kids;     /* of gt_co, through kid_link */
    gt__link kid_link; /* in the parent's kids */
    unsigned nlive_kids;
    bool awaiting_kids;

    gt__cleanup *cleanups; /* LIFO; points at cleanup_inline or heap */
    size_t ncleanups, cap_cleanups;
    gt__cleanup cleanup_inline[GT__CLEANUP_INLINE];
    uint64_t local_mask;         /* bit k: locals[k] set, cleanup queued */
    void *locals[GT__LOCAL_MAX]; /* valid only where local_mask says so */

    void *asan_fake_stack; /* ASan's per-fiber bookkeeping */
    void *tsan_fiber;      /* TSan's fiber for this coroutine (TSan builds;
                            * NULL otherwise) */
    char name[GT__NAME_MAX];
};

/* Park the running coroutine until gt__unpark() or 'deadline' (bounded by
 * its own deadline). Returns the rc given to gt__unpark(), -ETIMEDOUT or
 * -ECANCELED. Callers clean up their own registrations on error. */
int gt__park(int64_t deadline);

/* Park ignoring cancellation and deadlines, until gt__unpark(). For waits
 * that must not be abandoned (a thread-pool job using our stack). */
int gt__park_hard(void);

/* Make a parked coroutine ready with result 'rc'; no-op unless parked.
 * Same thread as 'co'. Never switches. */
void gt__unpark(gt_co *co, int rc);

/* Run the cleanups of the calling coroutine (co.c / local.c). */
void gt__co_run_cleanups(gt_co *co);

/* Make and recycle coroutine mappings (stack.c). */
gt_co *gt__stack_get(gt_sched *s);
void gt__stack_put(gt_sched *s, gt_co *co);
void gt__stack_drain(gt_sched *s);
/* Start the worker's timer that trims deep pages off cached stacks. */
void gt__stack_trim_start(gt_sched *s);
size_t gt__stack_used(const gt_co *co);
void gt__stack_prefill(gt_co *co);
int gt__guard_install(void); /* process-wide SIGSEGV handler, once */
int gt__guard_thread_init(void **altstack);
void gt__guard_thread_deinit(void *altstack);

/* ---- scheduler (sched.c) ------------------------------------------------ */

typedef struct gt__task {
    gt_co_fn fn;
    void *arg;
} gt__task;

struct gt_sched {
    uv_loop_t loop;
    gt_rt *rt;
    int index;

    gt_co *current;   /* running coroutine, NULL on the loop's stack */
    gt__ctx main_ctx; /* the loop's context */
    const void *main_stack_bottom; /* for ASan's fiber switches */
    size_t main_stack_size;
    void *tsan_main; /* TSan's fiber of the loop's stack */

    gt_co *ready_head, *ready_tail; /* run queue, FIFO */
    gt__list all;                   /* live coroutines, through all_link */
    gt_co *free_list;               /* recycled mappings */
    size_t nfree;
    uint64_t next_id;

    uv_prepare_t prepare; /* run the ready queue before polling */
    uv_check_t check;     /* ... and right after I/O callbacks */
    uv_idle_t idle;       /* keeps the poll non-blocking while ready */
    uv_async_t async;     /* inbox and stop requests */
    uv_timer_t trim;      /* gives back deep pages of cached stacks */

    pthread_mutex_t inbox_lock; /* guards inbox and done_jobs */
    gt__task *inbox;            /* tasks posted by other threads */
    struct gt__tjob *done_jobs; /* jobs the thread pools handed back */
    size_t ninbox, cap_inbox;
    gt__task *held; /* taken from the inbox, not yet spawned for
                     * want of memory: held[held_off..nheld) */
    size_t nheld, held_off;
    uv_timer_t retry; /* retries 'held' while memory is short */

    bool stopping;
    gt_rt_stats stats;
    pthread_t thread;
    void *altstack;
};

/* ---- thread pools (tpool.c) ---------------------------------------------- */

/* A blocking call queued on a pool; lives on the waiting coroutine's
 * stack. 'state' and the queue links are the pool's (under its lock);
 * 'handed_back' is the worker's, set when the job comes back to it. */
typedef struct gt__tjob {
    struct gt__tjob *next; /* pool queue, then the worker's done list */
    int (*fn)(void *);
    void *arg;
    int result;
    int state; /* queued, running, done */
    bool handed_back;
    bool abandoned;       /* detached job nobody waits for any more */
    void (*done)(void *); /* detached jobs: disposes of 'arg' */
    gt_sched *sched;
    gt_co *co;
} gt__tjob;

typedef struct gt__tpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* signalled when a job is queued, or at stop */
    gt__tjob *head, *tail; /* queued jobs, FIFO */
    int max;               /* threads it may start */
    int nthreads;          /* started so far; never shrinks */
    int idle;              /* threads waiting on 'cond' */
    int nqueued, running;
    uint64_t done; /* jobs finished */
    bool stop;
    pthread_t *threads; /* 'max' slots, 'nthreads' used */
} gt__tpool;

int gt__tpool_init(gt__tpool *p, int max);
void gt__tpool_deinit(gt__tpool *p);
/* Run fn(arg) on 'p' from a coroutine: gt_run_blocking()'s contract
 * (runtime.h), plus -EAGAIN when the pool had no thread and none could
 * start. */
int gt__tpool_run(gt__tpool *p, int (*fn)(void *), void *arg, int64_t deadline);
/* The same for a call its caller may stop waiting for while it runs.
 * Returns 0 when fn has returned, its result in *result, and 'arg' is
 * the caller's again; or -ETIMEDOUT, -ECANCELED, -EINVAL, -ENOMEM or
 * -EAGAIN, and then 'arg' has been given to done(), now or, for a call
 * abandoned while it ran, by the pool thread once fn has returned. */
int gt__tpool_run_detached(gt__tpool *p, int (*fn)(void *), void *arg,
                           void (*done)(void *), int64_t deadline, int *result);
void gt__tpool_get_stats(gt__tpool *p, gt_rt_thread_stats *out);
/* Wake the coroutines of the jobs handed back to worker 's'. */
void gt__tpool_take_done(gt_sched *s);

typedef struct gt__stop_hook {
    void (*fn)(void *arg, int worker);
    void *arg;
} gt__stop_hook;

struct gt_rt {
    gt_rt_config cfg;
    size_t page;      /* system page size */
    size_t guard_len; /* PROT_NONE bytes below each stack */
    size_t map_len;   /* bytes per coroutine mapping: guard+stack */
    int nworkers;
    gt_sched *workers;
    atomic_uint rr; /* round-robin cursor for gt_rt_post(-1) */
    atomic_bool stop;
    bool ran; /* gt_rt_run() was called */
    pthread_mutex_t hooks_lock;
    gt__stop_hook *hooks; /* gt_rt_on_stop() */
    gt__tpool offload;    /* gt_run_blocking() */
    gt__tpool driver;     /* gt_run_on(GT_THREADS_DRIVER) */
    gt__tpool dns;        /* gt_run_detached(GT_THREADS_DNS): lookups */
    size_t nhooks;
};

/* The scheduler of the calling thread, NULL if not a worker. */
gt_sched *gt__sched_self(void);
void gt__sched_set_self(gt_sched *s);

int gt__sched_init(gt_sched *s, gt_rt *rt, int index);
/* Run the worker's loop until it has been stopped and drained. */
void gt__sched_run(gt_sched *s);
void gt__sched_deinit(gt_sched *s);
void gt__sched_push_ready(gt_sched *s, gt_co *co);
/* Switch from the loop into 'co' until it parks, yields or ends. */
void gt__sched_resume(gt_sched *s, gt_co *co);
/* Switch from the running coroutine back to the loop. */
void gt__sched_suspend(gt_sched *s, gt_co *co);
/* Start a coroutine, a child of 'parent' (NULL: of the worker's root
 * scope); detached when out is NULL. */
int gt__co_spawn(gt_sched *s, gt_co *parent, gt_co **out, gt_co_fn fn,
                 void *arg);
/* Take a freed coroutine off its parent's list of kids (co.c). */
void gt__co_unlink_parent(gt_co *co);
void gt__sched_begin_stop(gt_sched *s);
/* A coroutine switched away for the last time (co.c). */
void gt__co_finished(gt_sched *s, gt_co *co);
/* Spawn the tasks other threads posted to this worker (rt.c). */
void gt__rt_take_inbox(gt_sched *s);
/* Run the gt_rt_on_stop() hooks for worker 's' (rt.c). */
void gt__rt_run_stop_hooks(gt_sched *s);

#endif
