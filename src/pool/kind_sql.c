/* pool/kind_sql.c -- SQL connections (db.h) as the pool sees them. */
#include "pool.h"

static int sql_open(gt_pool *p, void **conn, int64_t deadline)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, p->url, deadline);

    if (rc == 0 && p->cfg.on_connect) /* a failure is a failed connect */
        rc = gt_db_set_init(db, p->cfg.on_connect, p->cfg.on_connect_arg,
                            deadline);
    *conn = db;
    return rc;
}

static void sql_close(void *c)
{
    gt_db_close(c);
}

static const char *sql_errmsg(const void *c)
{
    return gt_db_errmsg(c);
}

static int sql_at_capacity(const void *c)
{
    return gt_db_at_capacity(c);
}

static int sql_alive(void *c)
{
    return gt_db_alive(c);
}

static int sql_ping(void *c, int64_t deadline)
{
    return gt_db_ping(c, deadline);
}

static int sql_broken(const void *c)
{
    return gt_db_broken(c);
}

static int sql_in_tx(void *c)
{
    return gt_db_in_tx(c);
}

static int sql_abandon_tx(void *c, int64_t deadline)
{
    return gt_db_abandon_tx(c, deadline);
}

static int sql_session_dirty(const void *c)
{
    return gt_db_session_dirty(c);
}

static int sql_can_reset(const void *c)
{
    return gt_db_can_reset(c);
}

static int sql_reset(void *c, int64_t deadline)
{
    return gt_db_reset(c, deadline);
}

static void sql_detach(void *c)
{
    gt_db_detach(c);
}

static int sql_disconnect(void *c, const char *why)
{
    return gt_db_disconnect(c, why);
}

static void sql_set_owner(void *c, void *owner)
{
    gt_db_set_owner(c, owner);
}

static void *sql_owner(const void *c)
{
    return gt_db_owner(c);
}

const gt__pool_kind gt__pool_sql = {
    "sql",           sql_open,       sql_close,         sql_errmsg,
    sql_at_capacity, sql_alive,      sql_ping,          sql_broken,
    sql_in_tx,       sql_abandon_tx, sql_session_dirty, sql_can_reset,
    sql_reset,       sql_detach,     sql_disconnect,    sql_set_owner,
    sql_owner,
};
