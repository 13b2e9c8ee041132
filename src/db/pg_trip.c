/* db/pg_trip.c -- the PostgreSQL driver's round trip: one pipeline per
 * call, planned, sent, and its answers read in order.
 *
 * Round trips. Every call is one pipeline (libpq pipeline mode, PG14+): a
 * statement seen for the first time goes out as Parse + Bind + Execute +
 * Sync in one write, a cached one as Bind + Execute + Sync. The cache maps
 * the SQL and its parameter types to a statement number, named gt_s<N> and
 * never reused. Evicted statements are DEALLOCATEd in a Sync group of their
 * own, so that a failure there cannot touch the caller's statements, and
 * only outside transaction blocks. The group goes right before a trip's
 * first statement, so it also covers what that statement's own Parse
 * evicted; what later statements of a batch evict may still be used
 * earlier in the same pipeline, and waits for the next trip. gt_db_batch()
 * sends all its statements before ONE Sync: one round trip and, outside
 * BEGIN, one implicit transaction: when statement k fails, 0..k-1 are
 * rolled back and k+1.. are skipped. Inside BEGIN it behaves as the same
 * statements run one by one.
 *
 * A round trip cut short by the deadline or a cancel is handed to
 * pg_settle.c, which reads the rest later. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

#define MAX_PARAMS 65535 /* the protocol's limit */

/* "gt_s<N>", or "" (the unnamed statement) for 0; 24 bytes suffice. */
static void stmt_name(char *buf, uint64_t id)
{
    buf[0] = '\0';
    if (id) {
        memcpy(buf, "gt_s", 4);
        gt__pg_fmt_u64(buf + 4, id);
    }
}

/* ---- planning a round trip: queue messages, note the answers due --------- */

/* Room was reserved by trip_begin() for everything a trip may queue. */
static void add_item(pg_trip *t, enum item_kind kind, int stmt, uint64_t id)
{
    pg_item *it = &t->items[t->nitems++];

    it->kind = kind;
    it->stmt = stmt;
    it->id = id;
}

/* libpq refused to queue a message (out of memory, or no connection). Half
 * a pipeline cannot be taken back, so the connection is given up. */
static int send_failed(pg_trip *t)
{
    pg_conn *c = t->c;
    const char *msg = PQerrorMessage(c->pq);
    int rc = PQstatus(c->pq) == CONNECTION_BAD ? -ECONNRESET : GT_EPROTO;

    c->base.broken = true;
    t->rc =
        gt__db_error(&c->base, rc, 0, NULL, "%.*s", gt__pg_line_len(msg), msg);
    t->failed = 0;
    return rc;
}

/* The caller's statement k cannot be sent: stop planning there. The
 * statements before it still run. */
__attribute__((format(printf, 4, 5))) static int
plan_error(pg_trip *t, int k, int rc, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    t->rc = gt__db_error(&t->c->base, rc, 0, NULL, "%s", msg);
    t->failed = k;
    return rc;
}

static int plan_sync(pg_trip *t)
{
    if (!PQpipelineSync(t->c->pq))
        return send_failed(t);
    add_item(t, IT_SYNC, -1, 0);
    return 0;
}

/* Statements evicted earlier, in their own Sync group, and only outside a
 * transaction block: a failure there must not abort the caller's work. */
static int plan_drops(pg_trip *t)
{
    pg_conn *c = t->c;
    char sql[40] = "DEALLOCATE ";
    size_t i;

    if (!c->ndrop || PQtransactionStatus(c->pq) != PQTRANS_IDLE)
        return 0;
    for (i = 0; i < c->ndrop; i++) {
        stmt_name(sql + 11, c->drop[i]);
        if (!PQsendQueryParams(c->pq, sql, 0, NULL, NULL, NULL, NULL, 0))
            return send_failed(t);
        add_item(t, IT_DROP, -1, c->drop[i]);
    }
    c->ndrop = 0;
    return plan_sync(t);
}

static int plan_raw(pg_trip *t, const char *sql)
{
    if (!PQsendQueryParams(t->c->pq, sql, 0, NULL, NULL, NULL, NULL, 0))
        return send_failed(t);
    add_item(t, IT_RAW, -1, 0);
    return plan_sync(t);
}

/* A statement missing from the cache gets a new number and is cached at
 * once, so that the same SQL later in a batch reuses it; should its Parse
 * fail, the answer handler takes it out again. *sql is its $n text. */
static int resolve(pg_trip *t, int k, const char *key, uint64_t *id, char **sql)
{
    pg_conn *c = t->c;
    int n;

    *sql = NULL;
    *id =
        c->named ? (uint64_t)(uintptr_t)gt__stmt_cache_get(&c->cache, key) : 0;
    if (*id)
        return 0;
    *sql = gt__sql_to_dollar(t->stmts[k].sql, &n);
    if (!*sql)
        return plan_error(t, k, -ENOMEM, "out of memory");
    if (n != t->stmts[k].nparams) {
        free(*sql);
        *sql = NULL;
        return plan_error(t, k, -EINVAL, "%d placeholders but %d parameters", n,
                          t->stmts[k].nparams);
    }
    *id = c->named ? ++c->next_stmt : 0;
    if (*id) /* on OOM it comes straight back through on_evict() */
        gt__stmt_cache_put(&c->cache, key, (void *)(uintptr_t)*id);
    return 0;
}

/* Statement k: Parse if new, then Bind + Execute. Before the first one go
 * the pending DEALLOCATEs, including the eviction its own Parse caused:
 * nothing earlier in the pipeline can use that statement, so the server
 * never holds more than stmt_cache of ours after a single query. */
static int plan_stmt(pg_trip *t, int k)
{
    pg_conn *c = t->c;
    const gt_db_stmt *s = &t->stmts[k];
    const char *key;
    char name[24], *sql;
    uint64_t id;
    pg_params e;
    int rc, ok = 1;

    if (!s->sql || s->nparams < 0 || s->nparams > MAX_PARAMS ||
        (s->nparams && !s->params))
        return plan_error(t, k, -EINVAL, "bad statement arguments");
    rc = gt__pg_encode(c, s, &e);
    if (rc < 0)
        return plan_error(t, k, rc, "cannot encode the parameters: %s",
                          gt_strerror(rc));
    if (k > 0 && t->last_id && gt__pg_same_stmt(&t->stmts[k - 1], s)) {
        id = t->last_id; /* as the previous one: no key, no lookup */
        sql = NULL;
    } else if (!(key = gt__pg_stmt_key(c, s))) {
        return plan_error(t, k, -ENOMEM, "out of memory");
    } else if ((rc = resolve(t, k, key, &id, &sql)) < 0 ||
               (k == 0 && (rc = plan_drops(t)) < 0)) {
        free(sql);
        return rc;
    }
    t->last_id = id;
    stmt_name(name, id);
    if (sql) {
        ok = PQsendPrepare(c->pq, name, sql, s->nparams, e.type);
        free(sql);
        if (ok)
            add_item(t, IT_PREP, k, id);
    }
    if (!ok ||
        !PQsendQueryPrepared(c->pq, name, s->nparams, e.val, e.len, e.fmt, 0))
        return send_failed(t);
    add_item(t, IT_EXEC, k, id);
    return 0;
}

/* ---- reading the answers ------------------------------------------------- */

/* Whether an error on statement k is the one to report: the first in the
 * caller's order, and none while draining. */
static bool takes_error(const pg_trip *t, int k)
{
    return !t->draining && (t->rc == 0 || k < t->failed);
}

/* Statement 'it' is not (or no longer) on the server: uncache it. */
static void forget(pg_trip *t, const pg_item *it)
{
    pg_conn *c = t->c;
    const char *key;

    if (!it->id || it->stmt < 0)
        return;
    key = gt__pg_stmt_key(c, &t->stmts[it->stmt]);
    if (key &&
        (uint64_t)(uintptr_t)gt__stmt_cache_get(&c->cache, key) == it->id)
        gt__stmt_cache_remove(&c->cache, key, false);
}

/* Our named statements vanishing (26000) or clashing (42P05) means
 * another session is answering: a pooler in transaction mode. */
static const char *pooler_hint(const pg_conn *c, const char *state)
{
    if (!c->named || !state ||
        (strcmp(state, "26000") != 0 && strcmp(state, "42P05") != 0))
        return "";
    return " (behind PgBouncer or another pooler in transaction mode? set "
           "stmt_cache=0 in the URL)";
}

static void on_failure(pg_trip *t, const pg_item *it, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    bool aborted = PQresultStatus(r) == PGRES_PIPELINE_ABORTED;

    if (it->kind == IT_DROP) {
        if (aborted) /* never ran: try again next time */
            gt__pg_drop_later(t->c, it->id);
        return;
    }
    /* 26000: someone ran DEALLOCATE or DISCARD behind our back. */
    if (it->kind == IT_PREP || (state && strcmp(state, "26000") == 0))
        forget(t, it);
    if (!takes_error(t, it->stmt))
        return;
    if (!msg)
        msg = aborted ? "not run: an earlier statement failed"
                      : PQresultErrorMessage(r);
    t->rc = gt__db_error(&t->c->base, GT_EDB, 0, state, "%.*s%s",
                         gt__pg_line_len(msg), msg, pooler_hint(t->c, state));
    t->failed = it->stmt;
}

static void on_success(pg_trip *t, const pg_item *it, const PGresult *r)
{
    int k = it->stmt, rc;

    if (it->kind != IT_EXEC)
        return;
    t->changes = gt__pg_parse_int(PQcmdTuples((PGresult *)r));
    t->count = t->out ? PQntuples(r) : t->changes;
    if (!t->out || t->draining || k >= t->failed)
        return;
    rc = gt__pg_rows_from(r, &t->out[k]);
    if (rc < 0) {
        t->rc = gt__db_error(&t->c->base, rc, 0, NULL, "out of memory");
        t->failed = k;
    }
}

static int on_result(pg_trip *t, const PGresult *r)
{
    const pg_item *it = &t->items[t->pos];
    ExecStatusType st;

    if (!r)
        return gt__pg_proto(t->c, "result missing in the pipeline");
    st = PQresultStatus(r);
    if (it->kind == IT_SYNC) {
        if (st != PGRES_PIPELINE_SYNC)
            return gt__pg_proto(t->c, "pipeline out of step");
        t->pos++;
        return 0;
    }
    t->in_item = true;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ||
        st == PGRES_EMPTY_QUERY)
        on_success(t, it, r);
    else if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED)
        on_failure(t, it, r);
    else
        return gt__pg_proto(t->c, PQresStatus(st)); /* COPY and the like */
    return 0;
}

/* Read the answers from items[pos] on, to the last Sync. */
static int trip_read(pg_trip *t, int64_t deadline)
{
    PGresult *r = NULL;
    int rc;

    while (t->pos < t->nitems) {
        rc = gt__pg_await_result(t->c, &r, deadline);
        if (rc < 0)
            return rc;
        if (PQstatus(t->c->pq) == CONNECTION_BAD) {
            rc = gt__pg_lost(t->c, r, -ECONNRESET);
            PQclear(r);
            return rc;
        }
        if (!t->in_item) {
            rc = on_result(t, r);
        } else if (!r) { /* the end of items[pos] */
            t->in_item = false;
            t->pos++;
        }
        PQclear(r);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- a round trip, interrupted or not ------------------------------------ */

/* The first statement not yet answered (nstmts if all were). */
static int cur_stmt(const pg_trip *t)
{
    int i;

    for (i = t->pos; i < t->nitems; i++)
        if (t->items[i].kind == IT_EXEC)
            return t->items[i].stmt;
    return t->nstmts;
}

static void set_error(pg_trip *t, int rc)
{
    int k = cur_stmt(t);

    t->rc = rc;
    if (k < t->failed)
        t->failed = k;
}

/* Statements that were being prepared when the trip was cut short may or
 * may not exist on the server now: uncache them and DEALLOCATE them with
 * a later trip (a DEALLOCATE of one that never came to be fails on its
 * own, harmlessly). */
static void forget_unfinished(pg_trip *t)
{
    pg_conn *c = t->c;
    const char *key;

    for (int i = t->pos; i < t->nitems; i++) {
        const pg_item *it = &t->items[i];

        if (it->kind != IT_PREP || !it->id ||
            !(key = gt__pg_stmt_key(c, &t->stmts[it->stmt])))
            continue;
        if ((uint64_t)(uintptr_t)gt__stmt_cache_get(&c->cache, key) == it->id)
            gt__stmt_cache_remove(&c->cache, key, true);
    }
}

static int syncs_left(const pg_trip *t)
{
    int n = 0;

    for (int i = t->pos; i < t->nitems; i++)
        n += t->items[i].kind == IT_SYNC;
    return n;
}

/* A wait of the round trip ended early (see pg_settle.c): cancel what
 * still runs, leave the rest to be read later, and fail at once -- unless
 * every statement had answered already, when only the Syncs are left and
 * the call did complete. */
static void interrupted(pg_trip *t, int rc)
{
    pg_conn *c = t->c;
    int k = cur_stmt(t);
    bool done = t->nstmts && k == t->nstmts;

    if (!done)
        gt__pg_cancel_start(c); /* when dropped, the statement runs on */
    forget_unfinished(t);
    gt__pg_defer(c, syncs_left(t));
    t->pos = t->nitems;
    if (done)
        return;
    t->draining = true;
    t->rc = gt__db_error(&c->base, rc, 0, NULL, "query %s",
                         rc == -ETIMEDOUT ? "timed out" : "cancelled");
    t->failed = k < t->failed ? k : t->failed;
}

static void trip_go(pg_trip *t, int64_t deadline)
{
    int rc = gt__pg_flush(t->c, deadline);

    if (rc == 0)
        rc = trip_read(t, deadline);
    if (rc == -ETIMEDOUT || rc == -ECANCELED)
        interrupted(t, rc);
    else if (rc < 0)
        set_error(t, rc);
}

static int trip_begin(pg_trip *t, pg_conn *c)
{
    /* Drops (statement 0 may evict one more) and their Sync, two items a
     * statement, a Sync each raw and a last one. */
    size_t need = c->ndrop + 3 + 2 * (size_t)(t->nraw + t->nstmts);

    t->c = c;
    t->failed = INT_MAX;
    t->last_id = 0;
    t->items = t->inline_items;
    if (need > sizeof(t->inline_items) / sizeof(pg_item))
        t->items = malloc(need * sizeof(pg_item));
    if (!t->items)
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    if (!PQenterPipelineMode(c->pq)) {
        if (t->items != t->inline_items)
            free(t->items);
        return gt__pg_proto(c, "cannot enter pipeline mode");
    }
    return 0;
}

static int trip_end(pg_trip *t)
{
    pg_conn *c = t->c;
    PGnotify *n;
    int k;

    if (!c->base.broken && !c->unsettled && !PQexitPipelineMode(c->pq))
        t->rc = gt__pg_proto(c, "cannot leave pipeline mode");
    while ((n = PQnotifies(c->pq)) != NULL)
        PQfreemem(n);
    if (t->items != t->inline_items)
        free(t->items);
    for (k = t->failed < 0 ? 0 : t->failed; t->out && k < t->nstmts; k++) {
        gt_rows_free(t->out[k]);
        t->out[k] = NULL;
    }
    c->base.changes = t->changes;
    return t->rc;
}

/* Send the trip's raw SQL and statements as one pipeline and read every
 * answer. Returns 0 or the first error; the connection is then clean or
 * broken. */
int gt__pg_run(pg_conn *c, pg_trip *t, int64_t deadline)
{
    int rc, k;

    if (!c->pq || c->base.broken)
        return gt__db_error(&c->base, -ECONNRESET, 0, NULL,
                            "connection is broken");
    gt__db_clear_error(&c->base);
    if (c->unsettled && (rc = gt__pg_settle(c, deadline)) < 0)
        return rc == -ETIMEDOUT || rc == -ECANCELED
                   ? gt__db_error(&c->base, rc, 0, NULL,
                                  "still winding down an interrupted query")
                   : rc;
    rc = trip_begin(t, c);
    if (rc < 0)
        return rc;
    rc = t->nstmts ? 0 : plan_drops(t); /* else before statement 0 */
    for (k = 0; rc == 0 && k < t->nraw; k++)
        rc = plan_raw(t, t->raw[k]);
    for (k = 0; rc == 0 && k < t->nstmts; k++)
        rc = plan_stmt(t, k);
    if (!c->base.broken && t->nitems && t->items[t->nitems - 1].kind != IT_SYNC)
        plan_sync(t);
    if (!c->base.broken && t->nitems)
        trip_go(t, deadline);
    return trip_end(t);
}
