/* pool/acquire.c -- taking and giving back connections.
 *
 * The cap is one atomic counter of claimed slots, claimed by compare-and-
 * swap before a connect and given back when a connection closes or a
 * connect fails -- the seed's pool shrank by one on every failed connect
 * because it forgot the second half. Everything else is per worker and
 * lock-free by construction: idle and busy lists, and a FIFO of waiters.
 *
 * A released connection goes straight to the oldest waiter that is still
 * parked (gt_waitq_wake() reports whether it reached one), never to one
 * whose wait already ended: a waiter that timed out or was cancelled leaves
 * with nothing and the connection goes to the next one. When a slot frees
 * up (a connection closed), one waiter is woken to retry: here if this
 * worker has waiters, else on another worker that has. A waiter whose
 * worker holds no idle connection while others do asks one of those to
 * shed an idle connection, so slots are never stranded on a quiet worker.
 *
 * During an outage, connects back off exponentially: one coroutine probes
 * while every other acquisition fails fast with GT_EPOOL (HTTP 503), so a
 * dead database sees no reconnect storm and clients no hanging requests.
 * Giving back, and moving connections between workers, is release.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static void set_err(gt__wpool *w, const char *msg, const char *detail)
{
    snprintf(w->errmsg, sizeof(w->errmsg), "%s%s%s", msg,
             detail && *detail ? ": " : "", detail ? detail : "");
}

/* ---- slots -----------------------------------------------------------------
 */

/* How many slots may be claimed now: the cap, and one more once a probe
 * is due while the database holds the cap below max_open. */
static int claimable(gt_pool *p)
{
    int cap = atomic_load(&p->cap);

    if (cap < p->cfg.max_open && gt_now() >= atomic_load(&p->cap_probe_at))
        cap++;
    return cap;
}

static bool claim_slot(gt_pool *p)
{
    int open = atomic_load(&p->open), limit = claimable(p);

    while (open < limit)
        if (atomic_compare_exchange_weak(&p->open, &open, open + 1)) {
            int max = atomic_load(&p->max_ever);

            while (open + 1 > max &&
                   !atomic_compare_exchange_weak(&p->max_ever, &max, open + 1))
                ;
            return true;
        }
    return false;
}

/* A connect succeeded with 'open' slots claimed: the database holds at
 * least that many of ours, so the cap may rise to it (a probe worked). */
static void cap_rise(gt_pool *p, int open)
{
    int cap = atomic_load(&p->cap);

    if (open > p->cfg.max_open)
        open = p->cfg.max_open;
    while (cap < open && !atomic_compare_exchange_weak(&p->cap, &cap, open))
        ;
}

/* The database refused one more connection for having too many: hold the
 * cap at what we have (other clients may hold the rest), and probe one
 * above it again after CAP_PROBE_MS. */
#define CAP_PROBE_MS 1000

static void cap_hold(gt_pool *p, int open)
{
    atomic_store(&p->cap, open > 0 ? open : 1);
    atomic_store(&p->cap_probe_at, gt_now() + CAP_PROBE_MS);
}

static int retry_task(void *arg)
{
    gt__pool_wake_one(arg, NULL);
    return 0;
}

/* A slot is free: let one waiter somewhere try to use it. */
static void slot_freed(gt_pool *p, gt__wpool *here)
{
    if (here && gt__pool_wake_one(here, NULL))
        return;
    for (int i = 0; i < p->nw; i++) {
        gt__wpool *w = &p->w[(here ? here->index + 1 + i : i) % p->nw];

        if (w != here && atomic_load(&w->nwaiting) > 0 &&
            gt_rt_post(p->rt, w->index, retry_task, w) == 0)
            return;
    }
}

static void release_slot(gt_pool *p, gt__wpool *here)
{
    atomic_fetch_sub(&p->open, 1);
    slot_freed(p, here);
}

/* Close 'c', count why, and give its slot back to the cap. */
static void close_conn(gt__pconn *c, uint64_t *reason)
{
    gt_pool *p = c->home->pool;

    p->kind->close(c->conn);
    free(c);
    if (reason)
        ST_BUMP(reason, 1);
    atomic_fetch_sub(&p->open, 1);
}

void gt__pool_reclaim(gt__pconn *c)
{
    gt__wpool *w = c->home;

    gt__plist_remove(&w->busy, c);
    gt__plist_push(&w->reclaimed, c);
    c->reclaimed = true;
    ST_INC(w, leaks_reclaimed);
    release_slot(w->pool, w);
}

void gt__pool_discard(gt__pconn *c, uint64_t *reason)
{
    gt__wpool *w = c->home;

    close_conn(c, reason);
    slot_freed(w->pool, w);
}

/* ---- connecting
 * -------------------------------------------------------------- */

static void note_failure(gt_pool *p)
{
    int n = atomic_fetch_add(&p->failures, 1) + 1;
    int64_t delay = (int64_t)50 << (n < 10 ? n : 10);

    if (delay > p->cfg.backoff_max_ms)
        delay = p->cfg.backoff_max_ms;
    atomic_store(&p->down_until, gt_now() + delay);
}

static gt__pconn *wrap(gt__wpool *w, void *conn)
{
    gt__pconn *c = gt_calloc(1, sizeof(*c));
    int64_t life = w->pool->cfg.max_lifetime_ms;

    if (!c)
        return NULL;
    c->conn = conn;
    c->home = w;
    /* Up to 10% jitter, so a burst of connections does not expire at
     * once (and reconnect at once). */
    c->expires_ms = gt_now() + life - (life > 10 ? rand() % (life / 10) : 0);
    w->pool->kind->set_owner(conn, c);
    return c;
}

/* The database is at its connection limit while we hold 'others' of its
 * connections: wait for one of those (-EAGAIN). Holding none, that is as
 * good as an outage for us (GT_EPOOL, with back-off). */
static int at_capacity(gt__wpool *w, void *conn)
{
    gt_pool *p = w->pool;
    int others = atomic_fetch_sub(&p->open, 1) - 1;

    set_err(w, "database at its connection limit", p->kind->errmsg(conn));
    p->kind->close(conn);
    ST_INC(w, capacity_refusals);
    cap_hold(p, others);
    if (others == 0) {
        note_failure(p);
        return GT_EPOOL;
    }
    return -EAGAIN;
}

/* Open a connection into a claimed slot. The slot is given back on
 * failure. Returns 0, GT_EPOOL, -EAGAIN (the database is full: wait for
 * one of ours), -ECANCELED or -ENOMEM. */
static int connect_slot(gt__wpool *w, gt__pconn **out, int64_t deadline)
{
    gt_pool *p = w->pool;
    void *conn = NULL;
    int rc = p->kind->open(p, &conn, deadline);
    const char *msg;

    atomic_store(&p->probing, false);
    if (rc == 0 && (*out = wrap(w, conn)) != NULL) {
        atomic_store(&p->failures, 0);
        atomic_store(&p->down_until, 0);
        cap_rise(p, atomic_load(&p->open));
        ST_INC(w, opened);
        gt__pool_log_connect(p, 0, NULL);
        return 0;
    }
    if (rc != 0 && conn && p->kind->at_capacity(conn))
        return at_capacity(w, conn);
    if (rc == 0)
        rc = -ENOMEM;
    msg = conn ? p->kind->errmsg(conn) : NULL;
    gt__pool_log_connect(p, rc, msg); /* before the handle and its message go */
    /* A connect abandoned because the request was cancelled (its client
     * left) says nothing about the database: no message for the next
     * acquisition, no connect error counted (and, below, no back-off). */
    if (rc != -ECANCELED) {
        set_err(w, "cannot connect", msg ? msg : gt_strerror(rc));
        ST_INC(w, connect_errors);
    }
    if (conn)
        p->kind->close(conn);
    if (rc != -ECANCELED && rc != -ENOMEM)
        note_failure(p);
    release_slot(p, w);
    return rc == -ECANCELED || rc == -ENOMEM ? rc : GT_EPOOL;
}

/* 1 and *out when a new connection was opened, 0 when no slot is free,
 * -EAGAIN when the database refused one for being full (the connect
 * yielded: look at the idle list again before waiting), or an error (fail
 * fast while the database is down). */
static int try_open(gt__wpool *w, gt__pconn **out, int64_t deadline)
{
    gt_pool *p = w->pool;
    bool expect = false;
    int rc;

    if (!claim_slot(p))
        return 0;
    if (atomic_load(&p->failures) > 0 &&
        (gt_now() < atomic_load(&p->down_until) ||
         !atomic_compare_exchange_strong(&p->probing, &expect, true))) {
        atomic_fetch_sub(&p->open, 1);
        if (w->errmsg[0] == '\0')
            set_err(w, "database unavailable, reconnecting", NULL);
        return GT_EPOOL;
    }
    rc = connect_slot(w, out, deadline);
    return rc == 0 ? 1 : rc;
}

/* ---- idle connections
 * ---------------------------------------------------------- */

/* The most recently used idle connection that is still good, or NULL. */
static gt__pconn *take_idle(gt__wpool *w)
{
    gt__pconn *c;
    int64_t now;

    while ((c = gt__pconn_of(w->idle.head)) != NULL) {
        gt__plist_remove(&w->idle, c);
        atomic_store(&w->nidle, w->idle.n);
        now = gt_now();
        if (now >= c->expires_ms) {
            gt__pool_discard(c, &w->st.discarded_lifetime);
            continue;
        }
        if (!CONN_KIND(c)->alive(c->conn)) { /* dropped by the server */
            gt__pool_discard(c, &w->st.discarded_dead);
            continue;
        }
        if (now - c->idle_since_ms <= w->pool->cfg.validate_idle_ms ||
            CONN_KIND(c)->ping(c->conn, now + 1000) == 0)
            return c;
        gt__pool_discard(c, &w->st.discarded_broken);
    }
    return NULL;
}

/* ---- waiting
 * -------------------------------------------------------------------- */

static void publish_oldest(gt__wpool *w)
{
    gt__waiter *oldest = gt__waiter_of(w->waiters.head);

    atomic_store(&w->oldest_ms, oldest ? oldest->since_ms : 0);
}

static void waiter_unlink(gt__wpool *w, gt__waiter *me)
{
    if (!me->linked)
        return;
    gt__list_remove(&w->waiters, &me->link);
    me->linked = false;
    atomic_fetch_sub(&w->nwaiting, 1);
    atomic_fetch_sub(&w->pool->waiting, 1);
    publish_oldest(w);
}

bool gt__pool_wake_one(gt__wpool *w, gt__pconn *give)
{
    gt__waiter *wt;

    while ((wt = gt__waiter_of(w->waiters.head)) != NULL) {
        waiter_unlink(w, wt);
        wt->got = give;
        if (gt_waitq_wake(&wt->q, 1) == 1)
            return true;
        wt->got = NULL; /* its wait ended already: it must not get this */
    }
    return false;
}

static int wait_turn(gt__wpool *w, gt__pconn **out, int64_t deadline)
{
    gt__waiter me = {.linked = true, .since_ms = gt_now()};
    int rc;

    gt_waitq_init(&me.q);
    gt__list_push_back(&w->waiters, &me.link);
    atomic_fetch_add(&w->nwaiting, 1);
    atomic_fetch_add(&w->pool->waiting, 1);
    publish_oldest(w);
    rc = gt_waitq_wait(&me.q, deadline);
    waiter_unlink(w, &me);
    *out = me.got;
    return rc;
}

/* ---- the two entry points
 * ----------------------------------------------------------- */

static void mark_busy(gt__wpool *w, gt__pconn *c, const char *file, int line)
{
    c->acquired_ms = gt_now();
    c->file = file;
    c->line = line;
    c->leak_reported = false;
    gt__plist_push(&w->busy, c);
    ST_INC(w, acquired);
}

/* Only a wait is timed: the clock is not free (a vDSO call costs as much
 * as the rest of an uncontended acquisition on a VM). */
static int timed_wait(gt__wpool *w, gt__pconn **c, int64_t deadline,
                      int64_t *wait_us)
{
    uint64_t t0 = uv_hrtime();
    int rc = wait_turn(w, c, deadline);

    *wait_us += (int64_t)((uv_hrtime() - t0) / 1000);
    return rc;
}

static int find_or_wait(gt__wpool *w, gt__pconn **c, int64_t deadline,
                        int64_t *wait_us, bool *waited)
{
    int rc;

    for (;;) {
        if ((*c = take_idle(w)) != NULL)
            return 0;
        rc = try_open(w, c, deadline);
        /* Refused for being full: connections given back while the
         * connect ran went idle, with nobody waiting to be woken. */
        if (rc == -EAGAIN)
            continue;
        if (rc != 0)
            return rc < 0 ? rc : 0;
        gt__pool_ask_shed(w);
        *waited = true;
        rc = timed_wait(w, c, deadline, wait_us);
        if (*c)
            return 0;
        if (rc < 0)
            return rc;
    }
}

int gt__pool_take(gt_pool *p, gt__pconn **out, int64_t deadline,
                  const char *file, int line, int64_t *wait_us)
{
    gt__wpool *w = gt__pool_self(p);
    bool waited = false;
    int rc;

    *wait_us = 0;
    if (!w || !gt_co_self())
        return -EINVAL;
    w->errmsg[0] = '\0';
    rc = find_or_wait(w, out, deadline, wait_us, &waited);
    if (waited) {
        ST_INC(w, waits);
        ST_ADD(w, wait_us, (uint64_t)*wait_us);
    }
    if (rc == -ETIMEDOUT) {
        set_err(w, "no connection available in time", NULL);
        rc = GT_EPOOL;
    }
    if (rc == GT_EPOOL)
        ST_INC(w, timeouts);
    if (rc == 0)
        mark_busy(w, *out, file, line);
    return rc;
}
