/* db/pg.h -- what the PostgreSQL driver's files share: the connection and
 * the few functions one file needs of another.
 *
 * pg.c: parameters, round trips (pipelines) and their results, connecting.
 * pg_settle.c: an interrupted round trip's aftermath -- the CancelRequest
 * on a bounded set of threads of its own, and settling the connection
 * later, so that the caller returns at its deadline and the connection is
 * still kept when the server answers the cancel. */
#ifndef GT_DB_PG_H
#define GT_DB_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libpq-fe.h>

#include "driver.h"

/* How long an interrupted query may take to wind down (cancel delivered,
 * the rest of the round trip read) before the connection is given up as
 * broken. Counted from the interruption; nobody waits for it past their
 * own deadline. */
#define DRAIN_MS 2000

typedef struct pg_conn {
    gt_db base;           /* first: a gt_db * is a pg_conn * */
    PGconn *pq;           /* NULL in a failed_open handle */
    gt_fdwatch watch;     /* on PQsocket(pq) while connected */
    gt__stmt_cache cache; /* key -> statement number, as a pointer */
    bool named;           /* stmt_cache > 0; else the unnamed statement */
    uint64_t next_stmt;   /* last number given out; never reused */
    uint64_t *drop;       /* evicted statements still to DEALLOCATE */
    size_t ndrop, cap_drop;
    char *scratch; /* parameter arrays and texts, reused */
    size_t cap_scratch;
    char *key; /* the cache key being built, reused */
    size_t cap_key;
    /* An interrupted round trip not yet wound down (pg_settle.c): still in
     * pipeline mode, 'syncs' Sync answers to come, 'cancel' maybe still
     * on its way; settled before the next use, or broken at settle_by. */
    bool unsettled;
    int syncs;
    int64_t settle_by;
    gt_thread_call *cancel;
} pg_conn;

/* The length of the first line of a libpq message. */
static inline int gt__pg_line_len(const char *s)
{
    return (int)strcspn(s, "\n");
}

/* pg_connect.c */
/* Connect c->pq to 'u' (resolving, PQconnectPoll steps off the loop):
 * 0, or an error with the message set (-EINVAL: libpq refused the
 * options; c->pq may be set and is the caller's to finish). */
int gt__pg_connect(pg_conn *c, const gt__db_url *u, int64_t deadline);

/* pg.c */
/* The server is gone: broken for good, -ECONNRESET with its last word. */
int gt__pg_lost(pg_conn *c, const PGresult *r, int rc);
/* libpq and we disagree on where the conversation is: broken, GT_EPROTO. */
int gt__pg_proto(pg_conn *c, const char *what);
/* Send what libpq has queued (reading meanwhile). 0 or an error. */
int gt__pg_flush(pg_conn *c, int64_t deadline);
/* The next result (NULL ends one statement's results), parking until
 * libpq has it all. 0 or a wait's error. */
int gt__pg_await_result(pg_conn *c, PGresult **res, int64_t deadline);

/* pg_settle.c */
/* Send a CancelRequest for the running statement without waiting for it:
 * 0, or -EAGAIN when too many cancels are on their way already (dropped
 * and counted: the statement then runs to its end). */
int gt__pg_cancel_start(pg_conn *c);
/* Mark the round trip in flight (pipeline mode, 'syncs' Syncs to read)
 * as to be settled later. */
void gt__pg_defer(pg_conn *c, int syncs);
/* Wind an interrupted round trip down: wait for its cancel, read what is
 * left, leave pipeline mode. 0 when the connection is clean again; a
 * wait's error when 'deadline' came first (still unsettled, try again);
 * else the connection is broken (settle_by passed, or the server went). */
int gt__pg_settle(pg_conn *c, int64_t deadline);
/* Give up an unsettled connection's cancel (at close). */
void gt__pg_settle_free(pg_conn *c);

#endif
