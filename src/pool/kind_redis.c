/* pool/kind_redis.c -- Redis connections (redis.h) as the pool sees them.
 *
 * The SQL pool's words map onto Redis as: a transaction is a MULTI left
 * open (DISCARDed on release, counted as a rollback), session state is
 * what SELECT, WATCH, AUTH or CLIENT changed (RESET and the URL's set-up
 * again, counted as a reset), a ping is PING. */
#include "pool.h"

static int redis_open(gt_pool *p, void **conn, int64_t deadline)
{
    gt_redis *r = NULL;
    int rc = gt_redis_open_url(&r, p->url, deadline);

    *conn = r;
    return rc;
}

static void redis_close(void *c)
{
    gt_redis_close(c);
}

static const char *redis_errmsg(const void *c)
{
    return gt_redis_errmsg(c);
}

static int redis_at_capacity(const void *c)
{
    return gt_redis_at_capacity(c);
}

static int redis_alive(void *c)
{
    return gt_redis_alive(c);
}

static int redis_ping(void *c, int64_t deadline)
{
    gt_redis_reply *rp;
    int rc =
        gt_redis_command(c, &rp, 1, (const char *[]){"PING"}, NULL, deadline);

    if (rc == 0 && gt_redis_reply_type(rp) == GT_REDIS_ERROR)
        rc = GT_EDB;
    gt_redis_reply_free(rp);
    return rc;
}

static int redis_broken(const void *c)
{
    return gt_redis_broken(c);
}

static int redis_in_tx(void *c)
{
    return gt_redis_in_multi(c);
}

static int redis_abandon_tx(void *c, int64_t deadline)
{
    return gt_redis_discard_multi(c, deadline);
}

static int redis_session_dirty(const void *c)
{
    return gt_redis_session_dirty(c);
}

static int redis_can_reset(const void *c)
{
    (void)c;
    return 1;
}

static int redis_reset(void *c, int64_t deadline)
{
    return gt_redis_reset(c, deadline);
}

static void redis_detach(void *c)
{
    gt_redis_detach(c);
}

static int redis_disconnect(void *c, const char *why)
{
    return gt_redis_disconnect(c, why);
}

static void redis_set_owner(void *c, void *owner)
{
    gt_redis_set_owner(c, owner);
}

static void *redis_owner(const void *c)
{
    return gt_redis_owner(c);
}

const gt__pool_kind gt__pool_redis = {
    "redis",           redis_open,       redis_close,         redis_errmsg,
    redis_at_capacity, redis_alive,      redis_ping,          redis_broken,
    redis_in_tx,       redis_abandon_tx, redis_session_dirty, redis_can_reset,
    redis_reset,       redis_detach,     redis_disconnect,    redis_set_owner,
    redis_owner,
};
