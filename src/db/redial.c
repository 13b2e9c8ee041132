/* db/redial.c -- a statement never pays for a connection the server
 * closed while it was quiet.
 *
 * A server ends sessions on its own: a restart, a failover,
 * pg_terminate_backend, KILL, a proxy's or a firewall's idle cut. A pool
 * peeks at a connection as it hands it out (gt_db_alive()); this covers
 * what happens after: a request that holds its connection across other
 * work, a background job that keeps one for minutes.
 *
 * Retrying a failed statement is only safe when it cannot have run, and
 * once a statement is on the wire nothing tells "the server died before
 * reading it" from "it ran, then the server died": the answer is lost
 * either way. So the check comes before the send. The server's goodbye (a
 * FATAL message, or the end of the stream) is already waiting on a socket
 * that asked nothing, and a non-blocking peek sees it. Found dead, the
 * connection is reconnected in place -- the caller's handle stays valid --
 * and the statement goes to the new session, which has run its set-up
 * (init) again. That is sound only when the old session held nothing the
 * new one lacks: no open transaction (its work is gone and the caller must
 * hear so) and no session state set since the last reset (SET, temporary
 * tables...); otherwise the statement fails with -ECONNRESET as before.
 *
 * Cost: the peek is one recv() syscall, skipped for a connection already
 * seen alive in this loop tick (gt_now() is the loop's cached clock), so
 * the statements of a request that follow each other, and the first one
 * after a pool's own peek, do not pay it. One reconnect per statement at
 * most: a connection found dead again fails. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"

/* Nothing the new session would lack: no transaction, no session state,
 * no answer still owed by the server. */
static bool nothing_to_lose(gt_db *db)
{
    if (db->session_dirty || db->tx_depth > 0)
        return false;
    if (db->drv->in_tx && db->drv->in_tx(db))
        return false;
    return !(db->drv->awaiting && db->drv->awaiting(db));
}

/* The connect failed: the handle is broken, its message says what was
 * tried and why it failed. */
static int redial_failed(gt_db *db, int rc)
{
    char msg[sizeof(db->errmsg)], state[sizeof(db->sqlstate)];

    /* Copies: gt__db_error() writes the fields these come from. The
     * connect's SQLSTATE and code stay, so gt_db_at_capacity() still
     * tells a full database from an outage. */
    snprintf(msg, sizeof(msg), "%s",
             db->errmsg[0] ? db->errmsg : gt_strerror(rc));
    memcpy(state, db->sqlstate, sizeof(state));
    db->broken = true;
    atomic_fetch_add(&gt__db_stats.redials_failed, 1);
    return gt__db_error(db, rc, db->errcode, state,
                        "the server had closed the connection, and "
                        "reconnecting failed: %s",
                        msg);
}

static int redial(gt_db *db, int64_t deadline)
{
    char err[256];
    gt__db_url u;
    int64_t until;
    int rc = gt__db_url_parse(&u, db->url, err, sizeof(err));

    if (rc < 0) /* it parsed at open: only -ENOMEM */
        return redial_failed(db, rc);
    rc = gt__db_connect_deadline(&u, deadline, &until);
    if (rc == 0)
        rc = db->drv->redial(db, &u, until);
    gt__db_url_free(&u);
    if (rc < 0)
        return redial_failed(db, rc);
    db->tx_depth = 0;
    db->alive_at = gt_now(); /* the set-up's statements must not peek */
    rc = gt__db_init_run(db, until);
    if (rc < 0)
        return redial_failed(db, rc);
    atomic_fetch_add(&gt__db_stats.redials, 1);
    gt__db_clear_error(db);
    return 0;
}

int gt__db_redial_if_dead(gt_db *db, int64_t deadline)
{
    if (!db->url || !db->drv->redial || db->alive_at == gt_now())
        return 0;
    if (!nothing_to_lose(db) || gt_db_alive(db))
        return 0;
    return redial(db, deadline);
}
