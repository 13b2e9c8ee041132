/* pool/scoped.c -- the request-scoped connection.
 *
 * The fix for the seed's first bug: its ORM kept one connection per
 * *thread*, and every green thread of the server shared it. Here the
 * connection lives in a coroutine-local, so each request's coroutine has
 * its own; helper functions that ask again get the same one, and so share
 * the request's transaction (like Django's `connection`).
 *
 * The fix for the second bug: the local's destructor gives the connection
 * back when the coroutine ends -- by return, error, deadline, cancellation
 * (client gone, shutdown) -- never later, so a keep-alive client between
 * requests holds nothing. One process-wide key holds a short list of
 * (pool, connection) pairs, since a request may use several pools. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "pool.h"

typedef struct held {
    gt_pool *pool;
    gt__pconn *c;    /* NULL after an early release */
    int64_t wait_us; /* total waited for this pool */
    int64_t held_us; /* total held, closed periods */
    uint64_t since;  /* uv_hrtime() at acquisition */
    struct held *next;
} held;

static gt_local_key held_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_rc;

static void give_back(held *h)
{
    if (!h->c)
        return;
    h->held_us += (int64_t)((uv_hrtime() - h->since) / 1000);
    gt__pool_give(h->c);
    h->c = NULL;
}

static void release_all(void *list)
{
    held *h = list, *next;

    for (; h; h = next) {
        next = h->next;
        give_back(h);
        free(h);
    }
}

static void make_key(void)
{
    key_rc = gt_local_key_new(&held_key, release_all);
}

static held *find(gt_pool *p, bool create)
{
    held *h;

    if (pthread_once(&key_once, make_key) != 0 || key_rc < 0)
        return NULL;
    for (h = gt_local_get(held_key); h; h = h->next)
        if (h->pool == p)
            return h;
    if (!create || !(h = gt_calloc(1, sizeof(*h))))
        return NULL;
    h->pool = p;
    h->next = gt_local_get(held_key);
    if (gt_local_set(held_key, h) < 0) {
        free(h);
        return NULL;
    }
    return h;
}

/* The calling coroutine's connection from 'p', which must be of kind 'k'
 * (gt_pool_db() on a Redis pool is a mistake: -EINVAL). */
static int scoped(gt_pool *p, const gt__pool_kind *k, void **out,
                  const char *file, int line)
{
    held *h = p && p->kind == k ? find(p, true) : NULL;
    int64_t wait_us = 0;
    int rc;

    if (!h)
        return p && p->kind == k && gt_co_self() ? -ENOMEM : -EINVAL;
    if (!h->c) {
        rc = gt__pool_take(p, &h->c, gt_deadline_in(p->cfg.acquire_timeout_ms),
                           file, line, &wait_us);
        h->wait_us += wait_us;
        if (rc < 0)
            return rc;
        h->since = uv_hrtime();
    }
    *out = h->c->conn;
    return 0;
}

int gt_pool_db_at(gt_pool *p, gt_db **out, const char *file, int line)
{
    void *conn;
    int rc = scoped(p, &gt__pool_sql, &conn, file, line);

    if (rc == 0)
        *out = conn;
    return rc;
}

int gt_pool_redis_at(gt_pool *p, gt_redis **out, const char *file, int line)
{
    void *conn;
    int rc = scoped(p, &gt__pool_redis, &conn, file, line);

    if (rc == 0)
        *out = conn;
    return rc;
}

void gt_pool_db_release(gt_pool *p)
{
    held *h = gt_co_self() ? find(p, false) : NULL;

    if (h)
        give_back(h);
}

void gt_pool_co_times(gt_pool *p, int64_t *wait_us, int64_t *held_us)
{
    held *h = gt_co_self() ? find(p, false) : NULL;

    *wait_us = h ? h->wait_us : 0;
    *held_us = h ? h->held_us : 0;
    if (h && h->c)
        *held_us += (int64_t)((uv_hrtime() - h->since) / 1000);
}

/* ---- explicit acquisition
 * ------------------------------------------------------ */

static int acquire(gt_pool *p, const gt__pool_kind *k, void **out,
                   int64_t deadline, const char *file, int line)
{
    int64_t limit, wait_us;
    gt__pconn *c;
    int rc;

    if (!p || p->kind != k)
        return -EINVAL;
    limit = gt_deadline_in(p->cfg.acquire_timeout_ms);
    if (deadline == GT_NEVER || deadline > limit)
        deadline = limit;
    rc = gt__pool_take(p, &c, deadline, file, line, &wait_us);
    if (rc == 0) {
        c->explicit_acq = true;
        *out = c->conn;
    }
    return rc;
}

int gt_pool_acquire_at(gt_pool *p, gt_db **out, int64_t deadline,
                       const char *file, int line)
{
    void *conn;
    int rc = acquire(p, &gt__pool_sql, &conn, deadline, file, line);

    if (rc == 0)
        *out = conn;
    return rc;
}

int gt_pool_redis_acquire_at(gt_pool *p, gt_redis **out, int64_t deadline,
                             const char *file, int line)
{
    void *conn;
    int rc = acquire(p, &gt__pool_redis, &conn, deadline, file, line);

    if (rc == 0)
        *out = conn;
    return rc;
}

static int release(gt_pool *p, const gt__pool_kind *k, void *conn)
{
    gt__pconn *c = p && p->kind == k && conn ? k->owner(conn) : NULL;

    if (!c || c->home->pool != p || !c->explicit_acq)
        return -EINVAL; /* not ours, released already, or request-scoped */
    /* Only the worker that owns the connection may touch its lists. */
    POOL_ASSERT(c->home == gt__pool_self(p));
    if (c->home != gt__pool_self(p))
        return -EXDEV;
    c->explicit_acq = false;
    if (c->reclaimed) { /* its slot went back when it was taken away */
        gt__plist_remove(&c->home->reclaimed, c);
        k->close(c->conn);
        free(c);
        return 0;
    }
    gt__pool_give(c);
    return 0;
}

int gt_pool_release(gt_pool *p, gt_db *db)
{
    return release(p, &gt__pool_sql, db);
}

int gt_pool_redis_release(gt_pool *p, gt_redis *r)
{
    return release(p, &gt__pool_redis, r);
}
