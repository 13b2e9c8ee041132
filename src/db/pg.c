/* db/pg.c -- the PostgreSQL driver: libpq's asynchronous API driven from a
 * coroutine, so that every call reads as blocking but only parks.
 *
 * Connecting is pg_connect.c's; the round trip a statement makes,
 * pg_trip.c's; parameters and result cells, pg_values.c's; the aftermath
 * of an interrupted one, pg_settle.c's. This file has the driver's methods
 * and the connection's I/O.
 *
 * Interruption. When a wait ends with -ETIMEDOUT or -ECANCELED mid-query,
 * the query is cancelled on the server with a CancelRequest and the call
 * fails at once: what the server still owes the connection is read later,
 * before its next use or when the pool takes it back, and the connection
 * is kept if that happens within DRAIN_MS (pg_settle.c, which also bounds
 * the cancel threads). We do not speak the CancelRequest packet ourselves:
 * its secret key is only reachable inside libpq's opaque PGcancel. A lost
 * server (EOF, CONNECTION_BAD) marks the connection broken, -ECONNRESET.
 *
 * Notices (e.g. "there is no transaction in progress") are dropped, and so
 * are NOTIFY messages: this API has no way to deliver them. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "pg.h"

static void pg_close(gt_db *db);

/* The cache hands back evicted statements here. Those still on the server
 * are DEALLOCATEd in the next round trip; on OOM the statement simply
 * lives on until the session ends. */
void gt__pg_drop_later(pg_conn *c, uint64_t id)
{
    uint64_t *d = gt__pg_grow(c->drop, &c->cap_drop, c->ndrop + 1, sizeof(*d));

    if (!d)
        return;
    c->drop = d;
    c->drop[c->ndrop++] = id;
}

static void on_evict(void *ctx, void *handle, bool server_alive)
{
    if (server_alive)
        gt__pg_drop_later(ctx, (uint64_t)(uintptr_t)handle);
}

/* The server is gone (EOF, reset, pg_terminate_backend): broken for good.
 * 'r', if any, is its last word (57P01 for an administrator's kill); 'rc'
 * what the wait said, should libpq have nothing to say. */
int gt__pg_lost(pg_conn *c, const PGresult *r, int rc)
{
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (!msg)
        msg = PQerrorMessage(c->pq);
    if (!*msg)
        msg = gt_strerror(rc < 0 ? rc : -ECONNRESET);
    c->base.broken = true;
    return gt__db_error(&c->base, -ECONNRESET, 0, state, "%.*s",
                        gt__pg_line_len(msg), msg);
}

/* libpq and we disagree on where the conversation is: give it up. */
int gt__pg_proto(pg_conn *c, const char *what)
{
    c->base.broken = true;
    return gt__db_error(&c->base, GT_EPROTO, 0, NULL, "%s", what);
}

/* ---- the connection's I/O ------------------------------------------------ */

/* Bytes OpenSSL has decrypted that libpq has not taken yet. libpq reads
 * one TLS record at a time into what room its buffer has (>= 8 KiB), so
 * a 16 KiB record (PostgreSQL 17 sends large messages in them) can leave
 * part of itself here, and the socket would not wake a wait for it.
 * libpq's own waits check this too (pqSocketCheck()). */
static bool tls_pending(pg_conn *c)
{
    SSL *ssl = PQsslInUse(c->pq) ? PQsslStruct(c->pq, "OpenSSL") : NULL;

    return ssl && SSL_pending(ssl) > 0;
}

/* Wait on the connection's socket, registering it with this worker's loop
 * first if it is not (after gt_db_detach() moved it between workers). */
static int pg_wait(pg_conn *c, int events, int64_t deadline)
{
    int rc;

    if ((events & GT_READABLE) && tls_pending(c))
        return GT_READABLE;
    if (!c->watch.poll &&
        (rc = gt_fdwatch_open(&c->watch, PQsocket(c->pq))) < 0)
        return rc;
    return gt_fdwatch_wait(&c->watch, events, deadline);
}

/* Send what libpq has queued. While the socket is full, also take in what
 * the server sends meanwhile, or both sides could block on a full buffer. */
int gt__pg_flush(pg_conn *c, int64_t deadline)
{
    int rc;

    while ((rc = PQflush(c->pq)) > 0) {
        rc = pg_wait(c, GT_READABLE | GT_WRITABLE, deadline);
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc;
        if (rc < 0) { /* a socket error (POLLERR): let libpq read it */
            PQconsumeInput(c->pq);
            return gt__pg_lost(c, NULL, rc);
        }
        if ((rc & GT_READABLE) && !PQconsumeInput(c->pq))
            return gt__pg_lost(c, NULL, rc);
    }
    return rc < 0 ? gt__pg_lost(c, NULL, rc) : 0;
}

/* The next result (NULL ends one statement's results), parking until
 * libpq has it all. PQgetResult() itself would block. */
int gt__pg_await_result(pg_conn *c, PGresult **res, int64_t deadline)
{
    int rc;

    while (PQisBusy(c->pq)) {
        rc = pg_wait(c, GT_READABLE, deadline);
        if (rc == -ETIMEDOUT || rc == -ECANCELED)
            return rc;
        if (!PQconsumeInput(c->pq) || rc < 0)
            return gt__pg_lost(c, NULL, rc);
    }
    *res = PQgetResult(c->pq);
    return 0;
}

/* ---- the driver's statement methods -------------------------------------- */

static int64_t pg_query(gt_db *db, gt_rows **out, const char *sql,
                        const gt_db_value *params, int nparams,
                        int64_t deadline)
{
    gt_db_stmt s = {.sql = sql, .params = params, .nparams = nparams};
    gt_rows *rows = NULL;
    pg_trip t = {.stmts = &s, .nstmts = 1, .out = out ? &rows : NULL};
    int rc = gt__pg_run((pg_conn *)db, &t, deadline);

    if (rc < 0) {
        gt_rows_free(rows);
        rows = NULL;
    }
    if (out)
        *out = rows;
    return rc < 0 ? rc : t.count;
}

static int pg_batch(gt_db *db, gt_rows **out, const gt_db_stmt *stmts, int n,
                    int64_t deadline)
{
    pg_trip t = {.stmts = stmts, .nstmts = n, .out = out};
    int i;

    if (n < 0 || (n > 0 && (!stmts || !out)))
        return -EINVAL;
    for (i = 0; i < n; i++)
        out[i] = NULL;
    return n ? gt__pg_run((pg_conn *)db, &t, deadline) : 0;
}

static int pg_ping(gt_db *db, int64_t deadline)
{
    static const char *const empty[] = {""};
    pg_trip t = {.raw = empty, .nraw = 1};

    return gt__pg_run((pg_conn *)db, &t, deadline);
}

/* ROLLBACK if a transaction is open, then DISCARD ALL, which also drops
 * every prepared statement: the cache and the DEALLOCATE list go too. */
static int pg_reset(gt_db *db, int64_t deadline)
{
    static const char *const sql[] = {"ROLLBACK", "DISCARD ALL"};
    pg_conn *c = (pg_conn *)db;
    bool tx = c->pq && PQtransactionStatus(c->pq) != PQTRANS_IDLE;
    pg_trip t = {.raw = tx ? sql : sql + 1, .nraw = tx ? 2 : 1};
    int rc;

    c->ndrop = 0;
    rc = gt__pg_run(c, &t, deadline);
    gt__stmt_cache_clear(&c->cache, false);
    if (rc == 0)
        c->base.tx_depth = 0;
    return rc;
}

/* An unsettled connection may still be inside the interrupted statement's
 * transaction: say so, and the pool's ROLLBACK settles it first. */
static int pg_in_tx(gt_db *db)
{
    pg_conn *c = (pg_conn *)db;

    return c->pq &&
           (c->unsettled || PQtransactionStatus(c->pq) != PQTRANS_IDLE);
}

/* Forget the libpq connection, if any. The watch goes first: the fd must
 * not be closed under a registered poll. PQfinish() sends Terminate
 * without waiting for anything. */
static void drop_pq(pg_conn *c)
{
    gt_fdwatch_close(&c->watch);
    PQfinish(c->pq);
    c->pq = NULL;
}

static int pg_open(gt_db **out, const gt__db_url *u, int64_t deadline)
{
    pg_conn *c;
    int bad = 0, rc;
    long cap = gt__db_url_opt_long(u, "stmt_cache", 64, &bad);

    *out = NULL;
    if (bad || cap < 0)
        return -EINVAL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    gt__db_init_base(&c->base, &gt__db_pg_driver);
    c->base.last_id = -ENOTSUP;
    c->named = cap > 0;
    rc = gt__stmt_cache_init(&c->cache, cap > 0 ? (size_t)cap : 1, on_evict, c);
    if (rc < 0) {
        free(c);
        return rc;
    }
    rc = gt__pg_connect(c, u, deadline);
    if (rc == -ENOMEM || rc == -EINVAL) {
        pg_close(&c->base);
        return rc;
    }
    if (rc < 0) {
        drop_pq(c);
        c->base.failed_open = true;
    }
    *out = &c->base;
    return rc;
}

/* The old session is gone: close it without I/O worth waiting for
 * (PQfinish's Terminate goes to a closed socket), forget its statements
 * -- the server forgot them -- and connect again. */
static int pg_redial(gt_db *db, const gt__db_url *u, int64_t deadline)
{
    pg_conn *c = (pg_conn *)db;
    int rc;

    gt__pg_settle_free(c);
    drop_pq(c);
    gt__stmt_cache_clear(&c->cache, false);
    c->ndrop = 0;
    rc = gt__pg_connect(c, u, deadline);
    if (rc < 0)
        drop_pq(c);
    return rc;
}

static int pg_awaiting(gt_db *db)
{
    return ((pg_conn *)db)->unsettled;
}

static int pg_socket(gt_db *db)
{
    pg_conn *c = (pg_conn *)db;

    return c->pq ? PQsocket(c->pq) : -1;
}

static void pg_detach(gt_db *db)
{
    gt_fdwatch_close(&((pg_conn *)db)->watch);
}

static void pg_close(gt_db *db)
{
    pg_conn *c = (pg_conn *)db;

    gt__pg_settle_free(c);
    drop_pq(c);
    gt__stmt_cache_clear(&c->cache, false);
    gt__stmt_cache_deinit(&c->cache);
    free(c->drop);
    free(c->scratch);
    free(c->key);
    free(c);
}

const gt__db_driver gt__db_pg_driver = {
    .name = "postgres",
    .open = pg_open,
    .close = pg_close,
    .query = pg_query,
    .batch = pg_batch,
    .ping = pg_ping,
    .reset = pg_reset,
    .in_tx = pg_in_tx,
    .detach = pg_detach,
    .socket = pg_socket,
    .redial = pg_redial,
    .awaiting = pg_awaiting,
};
