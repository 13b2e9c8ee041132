/* db/mysql_settle.c -- after a MariaDB command was interrupted (its
 * deadline, or the coroutine cancelled).
 *
 * The caller gets its error at once: the library call is left suspended
 * where it was (Connector/C keeps its state on its own private stack, so
 * it can be continued later, by any coroutine of the worker), and a KILL
 * QUERY goes to the server from a coroutine of the worker, over a side
 * connection. What the server still owes -- error 1317 "Query execution
 * was interrupted", or the statement's rows if it finished first -- is
 * read later, "settling" the connection: before its next command, or when
 * the pool takes it back (my_in_tx() reports an unsettled connection as
 * in a transaction, so the pool's ROLLBACK settles it first). A settle cut
 * short by its caller's deadline resumes where it stopped.
 *
 * The connection is reused only once its KILL has been answered or was
 * never sent: a KILL QUERY still on its way could hit a later statement
 * (one that lands on an idle session is dropped by the server when the
 * next command starts). So it is broken when the drain or the KILL does
 * not end within CANCEL_MS of the interruption.
 *
 * The side connections: at most MAX_SIDE at once per process, so the
 * server never sees more than max_open + MAX_SIDE of ours. A storm of
 * interruptions queues for them (each KILL takes a round trip or two);
 * one that waits past the budget is dropped and counted, and its
 * statement runs on to its end. The KILL coroutine owns a copy of what it
 * needs: the connection may be closed before it is done. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

#define CANCEL_MS 2000 /* KILL QUERY plus the drain, after the interrupt */
#define MAX_SIDE 4     /* side connections at once, per process */
#define SIDE_POLL_MS 2

struct my_kill {
    my_target target; /* copies of the connection's */
    unsigned long thread_id;
    int64_t until;
    bool done, sent, orphan; /* orphan: the connection was closed */
    int rc;
    gt_waitq done_q;
};

/* ---- the KILL QUERY ------------------------------------------------------ */

static atomic_int sides_open;

/* One of the MAX_SIDE side connections, waited for until 'deadline'. The
 * slots are process-wide and the wait is rare, so it polls rather than
 * keep a cross-worker queue. 0 or -ETIMEDOUT. */
static int side_slot(int64_t deadline)
{
    while (atomic_fetch_add(&sides_open, 1) >= MAX_SIDE) {
        atomic_fetch_sub(&sides_open, 1);
        if (deadline != GT_NEVER && gt_now() + SIDE_POLL_MS >= deadline)
            return -ETIMEDOUT;
        if (gt_sleep(SIDE_POLL_MS) < 0)
            return -ETIMEDOUT;
    }
    return 0;
}

/* KILL QUERY over a new, short-lived connection. k->sent: the statement
 * may have reached the server (then a failure leaves it unknown whether
 * the KILL will still land). */
static int kill_query(my_kill *k)
{
    my_io side = {.my = NULL};
    my_op op = {.kind = OP_QUERY, .io = &side};
    char sql[48];
    int rc;

    if ((rc = side_slot(k->until)) < 0) {
        atomic_fetch_add(&gt__db_stats.cancels_dropped, 1);
        return rc;
    }
    atomic_fetch_add(&gt__db_stats.cancels_sent, 1);
    rc = gt__my_io_connect(&side, &k->target, NULL, NULL, k->until);
    if (rc == 0) {
        snprintf(sql, sizeof(sql), "KILL QUERY %lu", k->thread_id);
        k->sent = true;
        rc = gt__my_run(
            NULL, &op,
            mysql_real_query_start(&op.ret, side.my, sql, strlen(sql)),
            k->until);
    }
    gt__my_io_close(&side, rc < 0);
    atomic_fetch_sub(&sides_open, 1);
    return rc == 0 ? 0 : rc < 0 ? rc : GT_EDB;
}

static void kill_free(my_kill *k)
{
    gt__my_target_free(&k->target);
    free(k);
}

static int kill_run(void *arg)
{
    my_kill *k = arg;

    k->rc = kill_query(k);
    k->done = true;
    if (k->orphan)
        kill_free(k);
    else
        gt_waitq_wake(&k->done_q, -1);
    return 0;
}

/* Start the KILL for c's statement; NULL when it could not be (memory):
 * dropped and counted, the statement runs on. */
static my_kill *kill_start(my_conn *c)
{
    my_kill *k = calloc(1, sizeof(*k));
    bool oom = !k;

    if (k) {
        oom = gt__my_target_dup(&k->target, &c->target) < 0;
        k->thread_id = c->thread_id;
        k->until = c->settle_by;
        gt_waitq_init(&k->done_q);
    }
    if (!oom && gt_co_spawn_worker(NULL, kill_run, k) == 0)
        return k;
    if (k)
        kill_free(k);
    atomic_fetch_add(&gt__db_stats.cancels_dropped, 1);
    return NULL;
}

/* ---- deferring ----------------------------------------------------------- */

int gt__my_defer(my_conn *c, const my_op *op, int status, int why)
{
    c->unsettled = true;
    c->pend = *op;
    c->pend_status = status;
    c->pend_owned = false;
    c->settle_by = gt_deadline_in(CANCEL_MS);
    /* A ping or a reset runs nothing to kill: it only needs finishing. */
    c->kill =
        op->kind == OP_PING || op->kind == OP_RESET ? NULL : kill_start(c);
    return gt__db_error(&c->base, why, 0, NULL, "%s; the command is being %s",
                        why == -ETIMEDOUT ? "deadline passed" : "cancelled",
                        c->kill ? "stopped on the server"
                                : "left to finish on the server");
}

void gt__my_defer_owns(my_conn *c, MYSQL_STMT *st)
{
    if (st == c->pend.st)
        c->pend_owned = true;
}

/* ---- settling ------------------------------------------------------------ */

/* Start 'kind' on the pending statement: the next step of reading what
 * is left of its results. */
static void start(my_conn *c, enum op_kind kind)
{
    MYSQL_STMT *st = c->pend.st;

    c->pend.kind = kind;
    c->pend_status = kind == OP_STORE
                         ? mysql_stmt_store_result_start(&c->pend.ret, st)
                         : mysql_stmt_next_result_start(&c->pend.ret, st);
    gt__my_sync_watch(&c->io);
}

/* The call just finished: start the next step, or say (0) the command is
 * over. Results are stored and dropped: nobody wants them any more. */
static int next_step(my_conn *c)
{
    my_op *op = &c->pend;
    bool ok = op->ret == 0; /* OP_NEXT: -1 is "no more results" */

    if (op->kind == OP_RESET && ok) { /* the session was reset after all */
        gt__stmt_cache_clear(&c->cache, false);
        c->status_stale = true;
    }
    if (!ok ||
        (op->kind != OP_EXECUTE && op->kind != OP_STORE && op->kind != OP_NEXT))
        return 0;
    if (op->kind != OP_STORE && mysql_stmt_field_count(op->st) > 0) {
        start(c, OP_STORE);
        return 1;
    }
    if (op->kind == OP_STORE)
        mysql_stmt_free_result(op->st); /* stored: no I/O */
    if (!mysql_stmt_more_results(op->st))
        return 0;
    start(c, OP_NEXT);
    return 1;
}

/* The command ran to its end (stopped by the KILL or not). */
static int drain(my_conn *c, int64_t until)
{
    int rc;

    do {
        if ((rc = gt__my_drive(&c->pend, &c->pend_status, until)) < 0)
            return rc;
    } while (next_step(c));
    return 0;
}

/* The KILL has been answered, or was never sent. 0, the wait's error, or
 * -EIO when it failed after it may have reached the server. */
static int kill_landed(my_conn *c, int64_t until)
{
    my_kill *k = c->kill;
    int rc;

    while (k && !k->done)
        if ((rc = gt_waitq_wait(&k->done_q, until)) < 0)
            return rc;
    rc = k && k->rc < 0 && k->sent ? -EIO : 0;
    if (k)
        kill_free(k);
    c->kill = NULL;
    return rc;
}

static void settled(my_conn *c, bool kept)
{
    if (c->pend_owned)
        gt__my_evict_stmt(c, c->pend.st, !kept);
    c->pend_owned = false;
    c->unsettled = false;
    atomic_fetch_add(kept ? &gt__db_stats.interrupted_kept
                          : &gt__db_stats.interrupted_discarded,
                     1);
}

/* Not in time: the connection is given up. */
static int give_up(my_conn *c, int rc)
{
    gt__my_set_broken(c, rc);
    settled(c, false);
    return gt__db_error(&c->base, -ECONNRESET, 0, NULL,
                        "an interrupted command did not wind down in time "
                        "(%s); connection dropped",
                        gt_strerror(rc));
}

int gt__my_settle(my_conn *c, int64_t deadline)
{
    int64_t until = gt__db_earlier(deadline, c->settle_by);
    int rc = drain(c, until);

    if (rc == 0)
        rc = kill_landed(c, until);
    if (rc == -EIO || (rc < 0 && gt_now() >= c->settle_by))
        return give_up(c, rc);
    if (rc < 0) /* the caller's deadline: try again next time */
        return gt__db_error(&c->base, rc, 0, NULL,
                            "still winding down an interrupted command");
    settled(c, true);
    return 0;
}

void gt__my_settle_free(my_conn *c)
{
    if (c->kill && c->kill->done)
        kill_free(c->kill);
    else if (c->kill)
        c->kill->orphan = true; /* kill_run() frees it */
    c->kill = NULL;
    if (c->unsettled && c->pend_owned)
        gt__my_evict_stmt(c, c->pend.st, false);
    c->unsettled = false;
}
