/* db/pg_settle.c -- after a PostgreSQL round trip was interrupted (its
 * deadline, or the coroutine cancelled: see "Interruption" in pg.c).
 *
 * The caller gets its error at once. What the server still owes the
 * connection -- the cancelled statement's error, the Sync answers -- is
 * read later, "settling" the connection: before its next statement, or
 * when the pool takes it back (pg_in_tx() reports an unsettled connection
 * as in a transaction, so the pool rolls it back, which settles first).
 * The connection is reused only after its cancel has landed (or failed),
 * so a late cancel can never hit a later statement; it is broken only
 * when all of that did not happen within DRAIN_MS of the interruption.
 *
 * PG15's PQcancel() blocks (it connects to the postmaster, no timeout), so
 * each cancel runs on a thread of its own (gt_thread_start()), never on
 * the driver thread pool that connects, DNS lookups and SQLite use. A
 * stopped postmaster or a partitioned host wedges those threads, so at
 * most MAX_CANCELS are on their way at once; a cancel beyond that is
 * dropped (counted): its statement runs to its end, and the connection is
 * kept if that end comes within DRAIN_MS. */
#include <errno.h>
#include <stdlib.h>

#include "pg.h"

#define MAX_CANCELS 8

static atomic_int cancels_on_the_way;

static int send_cancel(void *arg)
{
    char err[256];
    int rc = PQcancel(arg, err, (int)sizeof(err)) ? 0 : -ECONNREFUSED;

    atomic_fetch_sub(&cancels_on_the_way, 1);
    return rc;
}

static void free_cancel(void *arg)
{
    PQfreeCancel(arg);
}

int gt__pg_cancel_start(pg_conn *c)
{
    PGcancel *cn;
    int rc;

    if (atomic_fetch_add(&cancels_on_the_way, 1) >= MAX_CANCELS) {
        atomic_fetch_sub(&cancels_on_the_way, 1);
        atomic_fetch_add(&gt__db_stats.cancels_dropped, 1);
        return -EAGAIN;
    }
    cn = PQgetCancel(c->pq);
    rc = cn ? gt_thread_start(&c->cancel, send_cancel, cn, free_cancel)
            : -ENOMEM;
    if (rc < 0) {
        atomic_fetch_sub(&cancels_on_the_way, 1);
        atomic_fetch_add(&gt__db_stats.cancels_dropped, 1);
        return rc;
    }
    atomic_fetch_add(&gt__db_stats.cancels_sent, 1);
    return 0;
}

void gt__pg_defer(pg_conn *c, int syncs)
{
    c->unsettled = true;
    c->syncs = syncs;
    c->settle_by = gt_deadline_in(DRAIN_MS);
}

/* The connection cannot be settled any more. */
static int give_up(pg_conn *c, int rc)
{
    gt__pg_settle_free(c);
    c->unsettled = false;
    c->base.broken = true;
    atomic_fetch_add(&gt__db_stats.interrupted_discarded, 1);
    return gt__db_error(&c->base, -ECONNRESET, 0, NULL,
                        "an interrupted query did not wind down in time "
                        "(%s); connection dropped",
                        gt_strerror(rc));
}

/* A wait of the settling ended: by the caller's deadline (try again next
 * time), or by ours (give up). */
static int wait_failed(pg_conn *c, int rc)
{
    if (c->base.broken)
        return give_up(c, rc);
    if (gt_now() >= c->settle_by)
        return give_up(c, rc);
    return rc;
}

int gt__pg_settle(pg_conn *c, int64_t deadline)
{
    int64_t until = gt__db_earlier(deadline, c->settle_by);
    PGresult *r;
    int rc;

    if (c->cancel) {
        rc = gt_thread_wait(c->cancel, until);
        if (!gt_thread_finished(c->cancel))
            return wait_failed(c, rc);
        gt_thread_forget(c->cancel); /* delivered, or it never will be */
        c->cancel = NULL;
    }
    rc = gt__pg_flush(c, until); /* the trip may have been cut mid-send */
    if (rc < 0)
        return wait_failed(c, rc);
    while (c->syncs > 0) {
        rc = gt__pg_await_result(c, &r, until);
        if (rc < 0)
            return wait_failed(c, rc);
        if (r && PQresultStatus(r) == PGRES_PIPELINE_SYNC)
            c->syncs--;
        PQclear(r);
    }
    if (!PQexitPipelineMode(c->pq))
        return give_up(c, gt__pg_proto(c, "cannot leave pipeline mode"));
    c->unsettled = false;
    atomic_fetch_add(&gt__db_stats.interrupted_kept, 1);
    return 0;
}

void gt__pg_settle_free(pg_conn *c)
{
    gt_thread_forget(c->cancel);
    c->cancel = NULL;
}
