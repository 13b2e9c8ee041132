/* db/pg.c -- the PostgreSQL driver: libpq's asynchronous API driven from a
 * coroutine, so that every call reads as blocking but only parks.
 *
 * Connecting is pg_connect.c's.
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
 * Parameters go in text format, typed so that "SELECT ?" and "? + 1" mean
 * what they say: integers as int4 (int8 outside int4's range), floats as
 * float8, text and NULL as "unknown", so that the server infers date, json,
 * bool... from the context; blobs go binary, as bytea.
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
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "pg.h"

/* Addresses of one host name passed on to libpq, tried in order. */
#define MAX_PARAMS 65535 /* the protocol's limit */

/* Type OIDs, from the server's pg_type.h (not a dependency of ours). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
};

/* What the server will answer to, in the order it answers. */
enum item_kind { IT_SYNC, IT_RAW, IT_DROP, IT_PREP, IT_EXEC };

typedef struct item {
    enum item_kind kind;
    int stmt;    /* the caller's statement (PREP, EXEC), else -1 */
    uint64_t id; /* statement number (DROP, PREP, EXEC); 0 = unnamed */
} item;

/* One round trip: what was sent and how far the answers have been read.
 * Invariant: items[0..pos) are fully read; items[pos] has had its result
 * but not yet the NULL that ends it when in_item is set. */
typedef struct trip {
    pg_conn *c;
    const gt_db_stmt *stmts; /* the caller's statements */
    int nstmts;
    const char *const *raw; /* unprepared SQL, each in its own Sync */
    int nraw;
    gt_rows **out; /* rows per statement; NULL: counts only */
    item *items;
    int nitems, pos;
    bool in_item;
    bool draining;          /* interrupted: read the rest, keep nothing */
    int rc;                 /* the error to report, 0 if none */
    int failed;             /* its statement (INT_MAX if none): out[k..]
                             * are freed and left NULL */
    int64_t changes, count; /* of the last statement that ran */
    item inline_items[8];
} trip;

static void pg_close(gt_db *db);

/* ---- small helpers ------------------------------------------------------- */

/* Grow an array to hold 'need' elements: the (maybe moved) array, or NULL
 * on OOM with the old one untouched. */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;

    if (need <= *cap)
        return p;
    while (n < need)
        n *= 2;
    p = realloc(p, n * size);
    if (p)
        *cap = n;
    return p;
}

/* Decimal without snprintf; NUL-terminated; returns the length. */
static size_t fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        p[i++] = tmp[--n];
    p[i] = '\0';
    return i;
}

static size_t fmt_i64(char *p, int64_t v)
{
    if (v >= 0)
        return fmt_u64(p, (uint64_t)v);
    *p = '-';
    return 1 + fmt_u64(p + 1, 0 - (uint64_t)v);
}

/* "gt_s<N>", or "" (the unnamed statement) for 0; 24 bytes suffice. */
static void stmt_name(char *buf, uint64_t id)
{
    buf[0] = '\0';
    if (id) {
        memcpy(buf, "gt_s", 4);
        fmt_u64(buf + 4, id);
    }
}

/* The cache hands back evicted statements here. Those still on the server
 * are DEALLOCATEd in the next round trip; on OOM the statement simply
 * lives on until the session ends. */
static void on_evict(void *ctx, void *handle, bool server_alive)
{
    pg_conn *c = ctx;
    uint64_t *d;

    if (!server_alive)
        return;
    d = grow(c->drop, &c->cap_drop, c->ndrop + 1, sizeof(*d));
    if (!d)
        return;
    c->drop = d;
    c->drop[c->ndrop++] = (uint64_t)(uintptr_t)handle;
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

/* ---- parameters ---------------------------------------------------------- */

/* One letter per parameter type, for the cache key: a statement's
 * parameter types are fixed when it is prepared. */
static char sig_char(const gt_db_value *v)
{
    switch (v->type) {
    case GT_DB_INT:
        return v->u.i == (int32_t)v->u.i ? 'i' : 'l';
    case GT_DB_FLOAT:
        return 'f';
    case GT_DB_BLOB:
        return 'b';
    case GT_DB_TEXT:
    case GT_DB_NULL:
        return 'u';
    default:
        return '?';
    }
}

static Oid sig_oid(char sig)
{
    switch (sig) {
    case 'i':
        return OID_INT4;
    case 'l':
        return OID_INT8;
    case 'f':
        return OID_FLOAT8;
    case 'b':
        return OID_BYTEA;
    default:
        return 0; /* unknown: the server infers it */
    }
}

/* The cache key of 's': the SQL, prefixed by its parameter types when it
 * has any ("il:SELECT ?, ?"). Borrowed: valid until the next call. */
static const char *stmt_key(pg_conn *c, const gt_db_stmt *s)
{
    size_t n = (size_t)s->nparams, len = strlen(s->sql), i;
    char *k;

    if (!n)
        return s->sql;
    k = grow(c->key, &c->cap_key, n + len + 2, 1);
    if (!k)
        return NULL;
    c->key = k;
    for (i = 0; i < n; i++)
        k[i] = sig_char(&s->params[i]);
    k[n] = ':';
    memcpy(k + n + 1, s->sql, len + 1);
    return k;
}

/* libpq's four parameter arrays, laid out in the connection's scratch. */
typedef struct enc {
    const char **val;
    int *len, *fmt;
    Oid *type;
} enc;

static size_t text_room(const gt_db_value *v)
{
    switch (v->type) {
    case GT_DB_INT:
        return 21;
    case GT_DB_FLOAT:
        return 32;
    case GT_DB_TEXT:
        return v->u.s.n + 1;
    default:
        return 0;
    }
}

/* Text parameters must be NUL-terminated (libpq ignores their lengths), so
 * text is copied; blobs are passed by pointer, binary. */
static int encode_one(const gt_db_value *v, enc *e, size_t i, char **txt)
{
    e->type[i] = sig_oid(sig_char(v));
    e->val[i] = *txt;
    e->len[i] = 0;
    e->fmt[i] = 0;
    switch (v->type) {
    case GT_DB_NULL:
        e->val[i] = NULL;
        return 0;
    case GT_DB_INT:
        *txt += fmt_i64(*txt, v->u.i) + 1;
        return 0;
    case GT_DB_FLOAT:
        *txt += (size_t)snprintf(*txt, 32, "%.17g", v->u.f) + 1;
        return 0;
    case GT_DB_TEXT:
        if (v->u.s.n && memchr(v->u.s.p, '\0', v->u.s.n))
            return -EINVAL; /* PostgreSQL text cannot hold NUL */
        if (v->u.s.n)
            memcpy(*txt, v->u.s.p, v->u.s.n);
        (*txt)[v->u.s.n] = '\0';
        *txt += v->u.s.n + 1;
        return 0;
    case GT_DB_BLOB:
        if (v->u.s.n > INT_MAX)
            return -EINVAL;
        e->val[i] = v->u.s.n ? v->u.s.p : ""; /* NULL would mean NULL */
        e->len[i] = (int)v->u.s.n;
        e->fmt[i] = 1;
        return 0;
    }
    return -EINVAL;
}

static int encode(pg_conn *c, const gt_db_stmt *s, enc *e)
{
    size_t n = (size_t)s->nparams, room = 0, fixed, i;
    char *buf, *txt;
    int rc = 0;

    fixed = n * (sizeof(char *) + 2 * sizeof(int) + sizeof(Oid));
    for (i = 0; i < n; i++)
        room += text_room(&s->params[i]);
    buf = grow(c->scratch, &c->cap_scratch, fixed + room + 1, 1);
    if (!buf)
        return -ENOMEM;
    c->scratch = buf;
    e->val = (const char **)(void *)buf;
    e->len = (int *)(void *)(buf + n * sizeof(char *));
    e->fmt = e->len + n;
    e->type = (Oid *)(void *)(e->fmt + n);
    txt = (char *)(e->type + n);
    for (i = 0; i < n && rc == 0; i++)
        rc = encode_one(&s->params[i], e, i, &txt);
    return rc;
}

/* ---- results ------------------------------------------------------------- */

static int col_type(Oid t)
{
    switch (t) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return GT_DB_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return GT_DB_FLOAT;
    case OID_BYTEA:
        return GT_DB_BLOB;
    default:
        return GT_DB_TEXT;
    }
}

static int put_cell(gt_rows *rows, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    unsigned char *b;
    size_t n;
    int rc;

    if (PQgetisnull(r, row, col))
        return gt__rows_put_null(rows, col);
    if (PQftype(r, col) == OID_BOOL)
        return gt__rows_put_int(rows, col, v[0] == 't');
    switch (col_type(PQftype(r, col))) {
    case GT_DB_INT:
        return gt__rows_put_int(rows, col, strtoll(v, NULL, 10));
    case GT_DB_FLOAT:
        return gt__rows_put_float(rows, col, strtod(v, NULL));
    case GT_DB_BLOB:
        b = PQunescapeBytea((const unsigned char *)v, &n);
        if (!b)
            return -ENOMEM;
        rc = gt__rows_put_blob(rows, col, b, n);
        PQfreemem(b);
        return rc;
    default:
        return gt__rows_put_text(rows, col, v,
                                 (size_t)PQgetlength(r, row, col));
    }
}

static int rows_from(const PGresult *r, gt_rows **out)
{
    int nc = PQnfields(r), nr = PQntuples(r), rc = 0, row, col;
    gt_rows *rows = gt__rows_new(nc);

    if (!rows)
        return -ENOMEM;
    for (col = 0; col < nc && rc == 0; col++)
        rc = gt__rows_set_column(rows, col, PQfname(r, col),
                                 col_type(PQftype(r, col)));
    for (row = 0; row < nr && rc == 0; row++) {
        rc = gt__rows_add_row(rows);
        for (col = 0; col < nc && rc == 0; col++)
            rc = put_cell(rows, r, row, col);
    }
    if (rc < 0) {
        gt_rows_free(rows);
        return rc;
    }
    *out = rows;
    return 0;
}

/* ---- planning a round trip: queue messages, note the answers due --------- */

/* Room was reserved by trip_begin() for everything a trip may queue. */
static void add_item(trip *t, enum item_kind kind, int stmt, uint64_t id)
{
    item *it = &t->items[t->nitems++];

    it->kind = kind;
    it->stmt = stmt;
    it->id = id;
}

/* libpq refused to queue a message (out of memory, or no connection). Half
 * a pipeline cannot be taken back, so the connection is given up. */
static int send_failed(trip *t)
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
plan_error(trip *t, int k, int rc, const char *fmt, ...)
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

static int plan_sync(trip *t)
{
    if (!PQpipelineSync(t->c->pq))
        return send_failed(t);
    add_item(t, IT_SYNC, -1, 0);
    return 0;
}

/* Statements evicted earlier, in their own Sync group, and only outside a
 * transaction block: a failure there must not abort the caller's work. */
static int plan_drops(trip *t)
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

static int plan_raw(trip *t, const char *sql)
{
    if (!PQsendQueryParams(t->c->pq, sql, 0, NULL, NULL, NULL, NULL, 0))
        return send_failed(t);
    add_item(t, IT_RAW, -1, 0);
    return plan_sync(t);
}

/* A statement missing from the cache gets a new number and is cached at
 * once, so that the same SQL later in a batch reuses it; should its Parse
 * fail, the answer handler takes it out again. *sql is its $n text. */
static int resolve(trip *t, int k, const char *key, uint64_t *id, char **sql)
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
static int plan_stmt(trip *t, int k)
{
    pg_conn *c = t->c;
    const gt_db_stmt *s = &t->stmts[k];
    const char *key;
    char name[24], *sql;
    uint64_t id;
    enc e;
    int rc, ok = 1;

    if (!s->sql || s->nparams < 0 || s->nparams > MAX_PARAMS ||
        (s->nparams && !s->params))
        return plan_error(t, k, -EINVAL, "bad statement arguments");
    rc = encode(c, s, &e);
    if (rc < 0)
        return plan_error(t, k, rc, "cannot encode the parameters: %s",
                          gt_strerror(rc));
    key = stmt_key(c, s);
    if (!key)
        return plan_error(t, k, -ENOMEM, "out of memory");
    if ((rc = resolve(t, k, key, &id, &sql)) < 0 ||
        (k == 0 && (rc = plan_drops(t)) < 0)) {
        free(sql);
        return rc;
    }
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

/* Whether an error on statement k is the one to report: the first in the
 * caller's order, and none while draining. */
static bool takes_error(const trip *t, int k)
{
    return !t->draining && (t->rc == 0 || k < t->failed);
}

/* Statement 'it' is not (or no longer) on the server: uncache it. */
static void forget(trip *t, const item *it)
{
    pg_conn *c = t->c;
    const char *key;

    if (!it->id || it->stmt < 0)
        return;
    key = stmt_key(c, &t->stmts[it->stmt]);
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

static void on_failure(trip *t, const item *it, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    bool aborted = PQresultStatus(r) == PGRES_PIPELINE_ABORTED;

    if (it->kind == IT_DROP) {
        if (aborted) /* never ran: try again next time */
            on_evict(t->c, (void *)(uintptr_t)it->id, true);
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

static void on_success(trip *t, const item *it, const PGresult *r)
{
    int k = it->stmt, rc;

    if (it->kind != IT_EXEC)
        return;
    t->changes = strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
    t->count = t->out ? PQntuples(r) : t->changes;
    if (!t->out || t->draining || k >= t->failed)
        return;
    rc = rows_from(r, &t->out[k]);
    if (rc < 0) {
        t->rc = gt__db_error(&t->c->base, rc, 0, NULL, "out of memory");
        t->failed = k;
    }
}

static int on_result(trip *t, const PGresult *r)
{
    const item *it = &t->items[t->pos];
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
static int trip_read(trip *t, int64_t deadline)
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
static int cur_stmt(const trip *t)
{
    int i;

    for (i = t->pos; i < t->nitems; i++)
        if (t->items[i].kind == IT_EXEC)
            return t->items[i].stmt;
    return t->nstmts;
}

static void set_error(trip *t, int rc)
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
static void forget_unfinished(trip *t)
{
    pg_conn *c = t->c;
    const char *key;

    for (int i = t->pos; i < t->nitems; i++) {
        const item *it = &t->items[i];

        if (it->kind != IT_PREP || !it->id ||
            !(key = stmt_key(c, &t->stmts[it->stmt])))
            continue;
        if ((uint64_t)(uintptr_t)gt__stmt_cache_get(&c->cache, key) == it->id)
            gt__stmt_cache_remove(&c->cache, key, true);
    }
}

static int syncs_left(const trip *t)
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
static void interrupted(trip *t, int rc)
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

static void trip_go(trip *t, int64_t deadline)
{
    int rc = gt__pg_flush(t->c, deadline);

    if (rc == 0)
        rc = trip_read(t, deadline);
    if (rc == -ETIMEDOUT || rc == -ECANCELED)
        interrupted(t, rc);
    else if (rc < 0)
        set_error(t, rc);
}

static int trip_begin(trip *t, pg_conn *c)
{
    /* Drops (statement 0 may evict one more) and their Sync, two items a
     * statement, a Sync each raw and a last one. */
    size_t need = c->ndrop + 3 + 2 * (size_t)(t->nraw + t->nstmts);

    t->c = c;
    t->failed = INT_MAX;
    t->items = t->inline_items;
    if (need > sizeof(t->inline_items) / sizeof(item))
        t->items = malloc(need * sizeof(item));
    if (!t->items)
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    if (!PQenterPipelineMode(c->pq)) {
        if (t->items != t->inline_items)
            free(t->items);
        return gt__pg_proto(c, "cannot enter pipeline mode");
    }
    return 0;
}

static int trip_end(trip *t)
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
static int run(pg_conn *c, trip *t, int64_t deadline)
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

/* ---- the driver's statement methods -------------------------------------- */

static int64_t pg_query(gt_db *db, gt_rows **out, const char *sql,
                        const gt_db_value *params, int nparams,
                        int64_t deadline)
{
    gt_db_stmt s = {.sql = sql, .params = params, .nparams = nparams};
    gt_rows *rows = NULL;
    trip t = {.stmts = &s, .nstmts = 1, .out = out ? &rows : NULL};
    int rc = run((pg_conn *)db, &t, deadline);

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
    trip t = {.stmts = stmts, .nstmts = n, .out = out};
    int i;

    if (n < 0 || (n > 0 && (!stmts || !out)))
        return -EINVAL;
    for (i = 0; i < n; i++)
        out[i] = NULL;
    return n ? run((pg_conn *)db, &t, deadline) : 0;
}

static int pg_ping(gt_db *db, int64_t deadline)
{
    static const char *const empty[] = {""};
    trip t = {.raw = empty, .nraw = 1};

    return run((pg_conn *)db, &t, deadline);
}

/* ROLLBACK if a transaction is open, then DISCARD ALL, which also drops
 * every prepared statement: the cache and the DEALLOCATE list go too. */
static int pg_reset(gt_db *db, int64_t deadline)
{
    static const char *const sql[] = {"ROLLBACK", "DISCARD ALL"};
    pg_conn *c = (pg_conn *)db;
    bool tx = c->pq && PQtransactionStatus(c->pq) != PQTRANS_IDLE;
    trip t = {.raw = tx ? sql : sql + 1, .nraw = tx ? 2 : 1};
    int rc;

    c->ndrop = 0;
    rc = run(c, &t, deadline);
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
