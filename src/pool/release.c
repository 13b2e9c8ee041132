/* pool/release.c -- giving connections back, and moving them between
 * workers.
 *
 * The common release is a few flag tests; one that needs I/O (a rollback,
 * a session reset) runs in a coroutine of the worker's own. A clean
 * connection goes to the oldest waiter on its worker, or to another
 * worker whose waiters have waited longer (fairness without churn), or
 * idle, or closed when the idle list is full. A worker whose waiter finds
 * no idle connection and no free slot asks a worker that has idle ones to
 * send one over: the connection's socket leaves one loop and joins the
 * other's, keeping its slot, so the database sees no close and reopen. */
#include "pool.h"

/* 'c' is clean and stays on its worker: to the oldest waiter there, else
 * idle, else (the idle list is full) closed. */
static void keep_here(gt__pconn *c)
{
    gt__wpool *w = c->home;

    if (gt__pool_wake_one(w, c))
        return;
    if (w->idle.n >= w->pool->cfg.max_idle)
        return gt__pool_discard(c, &w->st.discarded_idle);
    c->idle_since_ms = gt_now();
    gt__plist_push(&w->idle, c);
    atomic_store(&w->nidle, w->idle.n);
}

static int arrive_task(void *arg)
{
    gt__pconn *c = arg;

    if (c->home->stopped)
        gt__pool_discard(c, &c->home->st.discarded_lifetime);
    else
        keep_here(c);
    return 0;
}

/* Hand 'c' (idle, or just released and clean) to worker 'to': its socket
 * leaves this loop here and joins 'to''s on its first wait there. It
 * keeps its slot on the way, so the cap holds and the database sees no
 * close and reopen. */
static void move_conn(gt__pconn *c, gt__wpool *to)
{
    gt__wpool *from = c->home;

    CONN_KIND(c)->detach(c->conn);
    c->home = to;
    if (gt_rt_post(from->pool->rt, to->index, arrive_task, c) == 0) {
        ST_INC(from, moved);
        return;
    }
    c->home = from; /* stopping, or no memory for the task */
    gt__pool_discard(c, &from->st.discarded_idle);
}

/* Runs on a worker that has idle connections, for worker 'to', whose
 * waiter found none at home and no free slot: send it the least recently
 * used one. */
static int shed_task(void *arg)
{
    gt__wpool *to = arg;
    gt__wpool *w = gt__pool_self(to->pool);
    gt__pconn *c = w ? gt__pconn_of(w->idle.tail) : NULL;

    if (!w)
        return 0;
    atomic_store(&w->shed_asked, false);
    if (c && !w->stopped) {
        gt__plist_remove(&w->idle, c);
        atomic_store(&w->nidle, w->idle.n);
        move_conn(c, to);
    }
    return 0;
}

void gt__pool_ask_shed(gt__wpool *here)
{
    gt_pool *p = here->pool;

    for (int i = 0; i < p->nw; i++) {
        gt__wpool *w = &p->w[i];
        bool expect = false;

        if (w == here || atomic_load(&w->nidle) == 0)
            continue;
        if (atomic_compare_exchange_strong(&w->shed_asked, &expect, true)) {
            if (gt_rt_post(p->rt, i, shed_task, here) != 0)
                atomic_store(&w->shed_asked, false);
            return;
        }
    }
}

static bool needs_reset(const gt__pconn *c)
{
    int policy = c->home->pool->cfg.reset_on_release;

    return policy == GT_POOL_RESET_ALWAYS ||
           (policy == GT_POOL_RESET_AUTO &&
            CONN_KIND(c)->session_dirty(c->conn));
}

/* Bring a returned connection back to a clean state; false to discard.
 * 'in_tx' is what the server says about an open transaction. */
static bool clean(gt__pconn *c, bool in_tx, int64_t deadline)
{
    const gt__pool_kind *k = CONN_KIND(c);

    if (in_tx) {
        ST_INC(c->home, rollbacks);
        if (k->abandon_tx(c->conn, deadline) < 0)
            return false;
    }
    if (needs_reset(c)) {
        ST_INC(c->home, resets);
        /* SQLite cannot drop a session's temporary objects in one call;
         * a new connection is cheaper than finding them. */
        if (!k->can_reset(c->conn) || k->reset(c->conn, deadline) < 0)
            return false;
    }
    return !k->broken(c->conn);
}

/* Whether giving 'c' back takes I/O (a rollback, a reset). */
static bool dirty(gt__pconn *c, bool *in_tx)
{
    *in_tx = CONN_KIND(c)->in_tx(c->conn);
    return *in_tx || needs_reset(c);
}

/* Clean up with I/O, shielded: it must finish whether or not the
 * coroutine was cancelled. */
static bool make_clean(gt__pconn *c, bool in_tx)
{
    int was = gt_co_shield(1);
    bool ok = clean(c, in_tx, gt_deadline_in(2000));

    if (was >= 0)
        gt_co_shield(was);
    return ok;
}

/* Another worker whose oldest waiter has waited FAIR_MS longer than ours
 * (or at all, when we have none), or NULL. Without this, a busy worker
 * that keeps handing its connections to its own waiters would starve the
 * others. */
#define FAIR_MS 50

static gt__wpool *starved_elsewhere(gt__wpool *here)
{
    gt_pool *p = here->pool;
    gt__waiter *first = gt__waiter_of(here->waiters.head);
    int64_t mine = first ? first->since_ms : 0;

    if (atomic_load(&p->waiting) <= atomic_load(&here->nwaiting))
        return NULL; /* nobody waits elsewhere: the common case */
    for (int i = 1; i < p->nw; i++) {
        gt__wpool *w = &p->w[(here->index + i) % p->nw];
        int64_t theirs = atomic_load(&w->oldest_ms);

        if (theirs != 0 && (mine == 0 || theirs + FAIR_MS < mine))
            return w;
    }
    return NULL;
}

/* 'c' is clean (or broken): to a waiter here or elsewhere, or idle, or
 * closed. */
static void put_back(gt__pconn *c)
{
    gt__wpool *w = c->home, *starved;

    if (CONN_KIND(c)->broken(c->conn))
        return gt__pool_discard(c, &w->st.discarded_broken);
    if (w->stopped || gt_now() >= c->expires_ms)
        return gt__pool_discard(c, &w->st.discarded_lifetime);
    if ((starved = starved_elsewhere(w)) != NULL)
        return move_conn(c, starved);
    keep_here(c);
}

static int cleaner(void *arg)
{
    gt__pconn *c = arg;
    gt__wpool *w = c->home;
    bool in_tx, ok = !dirty(c, &in_tx) || make_clean(c, in_tx);

    ST_BUMP(&w->cleaning, -1);
    if (!ok)
        return (gt__pool_discard(c, &w->st.discarded_broken), 0);
    put_back(c);
    return 0;
}

/* The common release is a few flag tests. One that needs I/O -- rolling
 * back, resetting the session, winding down an interrupted query -- runs
 * in a coroutine of the worker's own, so that the releasing coroutine
 * (a request, whose response is flushed when it ends) does not wait for
 * it. The connection keeps its slot meanwhile. */
void gt__pool_give(gt__pconn *c)
{
    gt__wpool *w = c->home;
    bool in_tx;

    gt__plist_remove(&w->busy, c);
    if (CONN_KIND(c)->broken(c->conn) || !dirty(c, &in_tx))
        return put_back(c);
    if (gt_co_spawn_worker(NULL, cleaner, c) == 0)
        return ST_BUMP(&w->cleaning, 1);
    if (!make_clean(c, in_tx)) /* no memory for a coroutine: here, then */
        return gt__pool_discard(c, &w->st.discarded_broken);
    put_back(c);
}
