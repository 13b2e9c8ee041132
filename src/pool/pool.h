/* pool/pool.h -- the pool module's internal interface.
 *
 * pool.c: configuration, creation, the per-worker maintenance timer and the
 * stop hook. acquire.c: taking connections, the global cap and the FIFO of
 * waiters. release.c: giving them back and moving them between workers.
 * scoped.c: the request-scoped connection kept in a coroutine-local. stats.c:
 * statistics and the Prometheus text. log.c: connect failures in the log, once
 * per change of state. kind_sql.c and kind_redis.c: what the pool does to a
 * connection of each kind, through the public headers of the db and redis
 * modules.
 *
 * Ownership: each connection belongs to the worker that opened it (its
 * socket is registered with that worker's loop) and only that worker's
 * thread touches it or the worker's lists. Other threads only read the
 * atomics and post tasks. */
#ifndef GT_POOL_INTERNAL_H
#define GT_POOL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#ifdef GT_DEBUG /* make DEBUG=1, make check: a broken owner rule aborts */
#include <assert.h>
#define POOL_ASSERT(cond) assert(cond)
#else
#define POOL_ASSERT(cond) ((void)0)
#endif

#include "greentor/pool.h"
#include "list.h"

typedef struct gt__wpool gt__wpool;

/* What the pool needs from a kind of connection (SQL through db.h, Redis
 * through redis.h), which it holds as an opaque pointer. The functions
 * keep the meaning of their db.h namesakes; those that only make sense
 * for SQL (can_reset) are constant for Redis. */
typedef struct gt__pool_kind {
    const char *name; /* "sql", "redis": gt_pool_db() and gt_pool_redis()
                         check it */
    /* Connect and set up. On failure *conn may hold a handle that only
     * carries the message (close it). */
    int (*open)(gt_pool *p, void **conn, int64_t deadline);
    void (*close)(void *conn);
    const char *(*errmsg)(const void *conn);
    int (*at_capacity)(const void *conn);
    int (*alive)(void *conn);
    int (*ping)(void *conn, int64_t deadline);
    int (*broken)(const void *conn);
    int (*in_tx)(void *conn);
    int (*abandon_tx)(void *conn, int64_t deadline);
    int (*session_dirty)(const void *conn);
    int (*can_reset)(const void *conn);
    int (*reset)(void *conn, int64_t deadline);
    void (*detach)(void *conn);
    int (*disconnect)(void *conn, const char *why);
    void (*set_owner)(void *conn, void *owner);
    void *(*owner)(const void *conn);
} gt__pool_kind;

extern const gt__pool_kind gt__pool_sql, gt__pool_redis;

/* A pooled connection. In exactly one of: its worker's idle list, its
 * worker's busy list, or in transit to a waiter. */
typedef struct gt__pconn {
    void *conn; /* a gt_db or a gt_redis: home->pool->kind says */
    gt__wpool *home;
    int64_t expires_ms; /* created + lifetime - jitter */
    int64_t idle_since_ms;
    int64_t acquired_ms;
    const char *file; /* where it was acquired, for leak reports */
    int line;
    bool leak_reported;
    bool explicit_acq; /* gt_pool_acquire()d: gt_pool_release() may
                        * give it back */
    bool reclaimed;    /* taken back from its holder (leak_reclaim_ms):
                        * on the reclaimed list, its slot free */
    gt__link link;     /* in idle, busy or reclaimed */
} gt__pconn;

/* A coroutine waiting for a connection, on its own stack. */
typedef struct gt__waiter {
    gt_waitq q;       /* only this coroutine parks here */
    gt__pconn *got;   /* set by the hand-over before the wake */
    int64_t since_ms; /* when it started waiting */
    gt__link link;    /* in its worker's waiters, while 'linked' */
    bool linked;
} gt__waiter;

/* Cache-line aligned: each worker writes its own part on every acquire and
 * release, and must not invalidate its neighbour's line. */
struct gt__wpool {
    _Alignas(64) gt_pool *pool;
    int index;
    gt__list idle; /* head = most recently used */
    gt__list busy;
    int cleaning;           /* given back, being cleaned by a coroutine
                             * of the worker (release.c cleaner()) */
    gt__list reclaimed;     /* disconnected, waiting for their holders'
                             * gt_pool_release() */
    gt__list waiters;       /* FIFO: oldest at the head */
    atomic_int nwaiting;    /* read by other workers */
    atomic_llong oldest_ms; /* when the head waiter started; 0: none */
    atomic_int nidle;       /* read by other workers */
    atomic_bool shed_asked; /* a shed task is on its way here */
    bool refilling;         /* a min_idle refill coroutine runs */
    bool stopped;
    uv_timer_t *maint;
    gt_pool_stats st; /* this worker's counters */
    char errmsg[256];
};

struct gt_pool {
    gt_rt *rt;
    const gt__pool_kind *kind; /* from the URL's scheme */
    char *url;
    gt_pool_config cfg;
    atomic_int open;           /* claimed slots: open or being opened */
    atomic_int cap;            /* slots that may be claimed: max_open, or
                                * fewer while the database refuses more
                                * (at its own connection limit) */
    atomic_llong cap_probe_at; /* when one slot above 'cap' may be tried */
    atomic_int max_ever;
    atomic_llong down_until; /* back-off: no new connects before this */
    atomic_int failures;     /* consecutive connect failures */
    atomic_bool probing;     /* one connect attempt during an outage */
    atomic_int waiting;      /* waiters on all workers: lets a release skip
                              * looking at the other workers' lines */
    int nw;
    gt__wpool *w;
    /* One per worker until its stop hook has run, one for gt_pool_free():
     * the last to let go frees the pool, so that freeing it before a
     * runtime that never ran is freed (its posted tasks and stop hooks
     * still run then) is safe. */
    atomic_int refs;
    /* What the log last said about connecting (log.c): down or not, since
     * when, and the failures since then. */
    atomic_bool log_down;
    atomic_llong log_down_since;
    atomic_int log_failures;
};

/* Counters and list lengths are written by their worker only and read by
 * any thread (stats.c): relaxed atomic stores and loads make those reads
 * race-free without a read-modify-write on the hot path. */
#define ST_BUMP(ptr, n) __atomic_store_n((ptr), *(ptr) + (n), __ATOMIC_RELAXED)
#define ST_ADD(w, field, n) ST_BUMP(&(w)->st.field, (n))
#define ST_INC(w, field) ST_ADD(w, field, 1)
#define ST_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The calling worker's part of 'p'; NULL when not on one of its workers. */
gt__wpool *gt__pool_self(gt_pool *p);

/* Acquire for the calling coroutine (acquire.c). 0, GT_EPOOL, -ECANCELED
 * or -ENOMEM; *wait_us receives the time spent waiting. */
int gt__pool_take(gt_pool *p, gt__pconn **out, int64_t deadline,
                  const char *file, int line, int64_t *wait_us);
/* The kind of 'c'. */
#define CONN_KIND(c) ((c)->home->pool->kind)

/* Hand 'give' (or a retry, when NULL) to the oldest waiter of 'w' still
 * parked; whether one took it (acquire.c). */
bool gt__pool_wake_one(gt__wpool *w, gt__pconn *give);
/* Ask a worker that has idle connections to send 'here' one (release.c). */
void gt__pool_ask_shed(gt__wpool *here);
/* Return 'c' to its worker's pool (may yield: rollback, reset). */
void gt__pool_give(gt__pconn *c);
/* Close 'c' and free its slot; 'reason' counter is bumped. */
void gt__pool_discard(gt__pconn *c, uint64_t *reason);
/* Take 'c' (busy, its session ended by gt_db_disconnect()) away from its
 * holder: onto the reclaimed list, its slot back to the cap. */
void gt__pool_reclaim(gt__pconn *c);
/* Open connections in the background until the worker's min_idle share
 * is met. */
void gt__pool_refill(gt__wpool *w);

/* Report the outcome 'rc' of a connect (0 or its error; 'msg' what the
 * failed handle said, if anything) to the log, which says "cannot connect"
 * on the first failure and "connected again" on the first success after
 * failures, with the URL redacted. -ECANCELED (the request went away) and
 * -ENOMEM change nothing. Any worker; does not yield (log.c). */
void gt__pool_log_connect(gt_pool *p, int rc, const char *msg);

/* The connection or waiter a link of the pool's lists belongs to (NULL
 * for NULL), and those lists' moves (base/list.h). */
static inline gt__pconn *gt__pconn_of(gt__link *l)
{
    return l ? gt__list_entry(l, gt__pconn, link) : NULL;
}

static inline gt__waiter *gt__waiter_of(gt__link *l)
{
    return l ? gt__list_entry(l, gt__waiter, link) : NULL;
}

static inline void gt__plist_push(gt__list *l, gt__pconn *c)
{
    gt__list_push_front(l, &c->link);
}

static inline void gt__plist_remove(gt__list *l, gt__pconn *c)
{
    gt__list_remove(l, &c->link);
}

#endif
