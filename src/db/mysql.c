/* db/mysql.c -- the MySQL / MariaDB backend, on MariaDB Connector/C's
 * non-blocking API.
 *
 * The calls' waits on the loop are mysql_io.c's, building results from
 * stored rows mysql_rows.c's.
 *
 * Statements are server-side prepared statements ('?' is MySQL's own
 * placeholder), cached per connection by SQL text. Results are read whole
 * with mysql_stmt_store_result(), so fetching rows afterwards does no I/O
 * and plain mysql_stmt_fetch() is safe. MariaDB prepares nearly everything
 * (only PREPARE/EXECUTE/DEALLOCATE are refused, error 1295), so there is no
 * text-protocol fallback. CLIENT_FOUND_ROWS makes UPDATE count matched rows,
 * as PostgreSQL and SQLite do.
 *
 * Interrupting a statement. When the deadline passes or the coroutine is
 * cancelled mid-statement, the server is still running it and the library
 * sits in the middle of the protocol. The caller gets its -ETIMEDOUT /
 * -ECANCELED at once; the library call stays suspended, a KILL QUERY goes
 * out from a coroutine of the worker, and the rest is read before the
 * connection's next use (mysql_settle.c). A connection that cannot be
 * wound down within its budget is marked broken and its socket shut down,
 * so no later call (not even a plain mysql_close()) can block on it; the
 * pool discards it.
 *
 * Closing uses plain mysql_close(): it only writes COM_QUIT, which lands in
 * an empty socket buffer on a healthy connection and fails at once on a
 * broken (shut down) one, so it never waits for the server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "mysql.h"

/* ---- errors -------------------------------------------------------------- */

/* Record a failed call's error on 'c' and map it to our code. Server
 * errors are GT_EDB; lost connections, timeouts and the like also mark the
 * connection broken. */
static int lib_error(my_conn *c, unsigned int code, const char *state,
                     const char *msg)
{
    bool server =
        code < CR_MIN_ERROR || (code > CR_MAX_ERROR && code < CER_MIN_ERROR);
    int rc;

    if (c->io.lib_timeout)
        rc = -ETIMEDOUT;
    else if (server && code != ER_CONNECTION_KILLED &&
             code != ER_SERVER_SHUTDOWN)
        return gt__db_error(&c->base, GT_EDB, (int)code, state, "%s", msg);
    else if (server)
        rc = -ECONNRESET;
    else if (code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR ||
             code == CR_UNKNOWN_HOST || code == CR_SSL_CONNECTION_ERROR)
        rc = -ECONNREFUSED; /* TLS too: untrusted, wrong name, no TLS */
    else if (code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST ||
             code == CR_SERVER_LOST_EXTENDED || code == CR_ERR_NET_READ ||
             code == CR_ERR_NET_WRITE)
        rc = -ECONNRESET;
    else if (code == CR_OUT_OF_MEMORY)
        rc = -ENOMEM;
    else if (code == CR_COMMANDS_OUT_OF_SYNC)
        rc = GT_EPROTO;
    else /* refused by the library itself; the connection is fine */
        return gt__db_error(&c->base, GT_EDB, (int)code, NULL, "%s", msg);
    return gt__my_set_broken(c, gt__db_error(&c->base, rc, (int)code,
                                             server ? state : NULL, "%s", msg));
}

static int conn_error(my_conn *c)
{
    MYSQL *my = c->io.my;

    return lib_error(c, mysql_errno(my), mysql_sqlstate(my), mysql_error(my));
}

int gt__my_stmt_error(my_conn *c, MYSQL_STMT *st)
{
    return lib_error(c, mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
                     mysql_stmt_error(st));
}

/* Can 'c' start a command? A deadline already past fails here, before
 * anything is sent: sending it would only cost a KILL QUERY. */
static int usable(my_conn *c, int64_t deadline)
{
    int rc;

    if (c->base.failed_open || !c->io.my)
        return gt__db_error(&c->base, -ENOTCONN, 0, NULL, "not connected");
    if (c->base.broken)
        return gt__db_error(&c->base, -ECONNRESET, 0, NULL,
                            "connection is broken");
    if (c->unsettled && (rc = gt__my_settle(c, deadline)) < 0)
        return rc;
    if (deadline != GT_NEVER && deadline <= gt_now())
        return gt__db_error(&c->base, -ETIMEDOUT, 0, NULL,
                            "deadline passed before the command was sent");
    return 0;
}

/* ---- connections --------------------------------------------------------- */

/* The cache calls this for each statement leaving it. With server_alive
 * false the library has already invalidated the statement (after
 * mysql_reset_connection() or mysql_close()), so closing only frees it. */
void gt__my_evict_stmt(void *ctx, void *handle, bool server_alive)
{
    my_conn *c = ctx;

    (void)server_alive;
    mysql_stmt_close(handle);
    if (c->io.my)
        gt__my_sync_watch(&c->io);
}

/* Read the URL's options and copy what the side connection needs. */
static int conn_setup(my_conn *c, const gt__db_url *url)
{
    int bad_t = 0, bad_c = 0, rc;
    long ms = gt__db_url_opt_long(url, "connect_timeout_ms", 5000, &bad_t);
    long cap = gt__db_url_opt_long(url, "stmt_cache", 64, &bad_c);

    if (bad_t || bad_c || ms < 0 || cap < 0)
        return gt__db_error(&c->base, -EINVAL, 0, NULL,
                            "bad connect_timeout_ms or stmt_cache option");
    c->connect_ms = ms == 0 ? GT_NEVER : ms;                 /* 0: no limit */
    c->target.connect_s = (unsigned int)((ms + 999) / 1000); /* 0: none */
    c->target.port = url->port > 0 ? (unsigned int)url->port : 0;
    rc = gt__my_tls_setup(c, url);
    if (rc < 0)
        return rc;
    rc = gt__my_target_copy(&c->target, url->host, url->user, url->password);
    if (rc == 0)
        rc = gt__stmt_cache_init(&c->cache, (size_t)cap, gt__my_evict_stmt, c);
    c->cache_ready = rc == 0;
    return rc < 0 ? gt__db_error(&c->base, rc, 0, NULL, "out of memory") : 0;
}

static void my_close(gt_db *db)
{
    my_conn *c = (my_conn *)db;

    /* mysql_close() invalidates the cached statements (the server drops
     * them with the session), so the cache is torn down without I/O. */
    gt__my_io_close(&c->io, c->base.broken || c->unsettled);
    gt__my_settle_free(c);
    if (c->cache_ready)
        gt__stmt_cache_deinit(&c->cache);
    gt__my_target_free(&c->target);
    free(c);
}

/* Connect c's own session (the URL's database, connect_timeout_ms);
 * then its thread id names it in KILL QUERY. 0 or an error, with the
 * message set. */
static int connect_main(my_conn *c, const gt__db_url *url, int64_t deadline)
{
    int rc;

    c->thread_id = 0;
    rc = gt__my_io_connect(
        &c->io, &c->target, url->dbname, c,
        gt__db_earlier(deadline, gt_deadline_in(c->connect_ms)));
    if (rc == 1)
        rc = conn_error(c);
    else if (rc < 0 && !c->base.errmsg[0])
        gt__db_error(&c->base, rc, 0, NULL, "connect: %s", gt_strerror(rc));
    if (rc == 0)
        c->thread_id = mysql_thread_id(c->io.my);
    return rc;
}

static int my_open(gt_db **out, const gt__db_url *url, int64_t deadline)
{
    my_conn *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c)
        return -ENOMEM;
    gt__db_init_base(&c->base, &gt__db_mysql_driver);
    c->base.last_id = 0;
    *out = &c->base;
    rc = conn_setup(c, url);
    if (rc == 0)
        rc = connect_main(c, url, deadline);
    if (rc < 0)
        c->base.failed_open = true;
    return rc;
}

/* The old session is gone: its statements went with it (mysql_close()
 * invalidates them, so closing them costs no I/O); connect again. */
static int my_redial(gt_db *db, const gt__db_url *url, int64_t deadline)
{
    my_conn *c = (my_conn *)db;
    int rc;

    gt__my_io_close(&c->io, true);
    if (c->cache_ready)
        gt__stmt_cache_clear(&c->cache, false);
    c->status_stale = false;
    rc = connect_main(c, url, deadline);
    if (rc < 0)
        gt__my_io_close(&c->io, true);
    return rc;
}

/* ---- statements ---------------------------------------------------------- */

/* The prepared statement for 'sql': from the cache (*cached = true) or
 * freshly prepared (the caller caches or closes it). */
static int stmt_get(my_conn *c, const char *sql, MYSQL_STMT **out, bool *cached,
                    int64_t deadline)
{
    my_op op = {.kind = OP_PREPARE, .io = &c->io};
    int rc;

    *out = gt__stmt_cache_get(&c->cache, sql);
    *cached = *out != NULL;
    if (*out)
        return 0;
    op.st = mysql_stmt_init(c->io.my);
    if (!op.st)
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    rc = gt__my_run(c, &op,
                    mysql_stmt_prepare_start(&op.ret, op.st, sql, strlen(sql)),
                    deadline);
    if (rc == 1)
        rc = gt__my_stmt_error(c, op.st);
    if (rc < 0 && c->unsettled)
        gt__my_defer_owns(c, op.st); /* mid-prepare: closed after it */
    else if (rc < 0)
        gt__my_evict_stmt(c, op.st, false); /* READY, or broken and shut down */
    else
        *out = op.st;
    return rc;
}

/* Keep a statement we prepared, unless the connection is broken. Done
 * after the statement ran, so an eviction never hits one in use. */
static void stmt_release(my_conn *c, const char *sql, MYSQL_STMT *st,
                         bool cached)
{
    if (!st || cached)
        return;
    if (c->unsettled) /* mid-statement: no eviction's I/O now */
        gt__my_defer_owns(c, st);
    else if (c->base.broken)
        gt__my_evict_stmt(c, st, false);
    else
        gt__stmt_cache_put(&c->cache, sql, st); /* evicts st on -ENOMEM */
}

/* MYSQL_BIND for each parameter; buffers point into 'p' (the library only
 * reads them; its API is not const-correct). */
static int bind_params(my_conn *c, const gt_db_value *p, int n,
                       MYSQL_BIND **out)
{
    MYSQL_BIND *b = NULL;
    int i;

    if (n > 0 && !(b = calloc((size_t)n, sizeof(*b))))
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    for (i = 0; i < n; i++) {
        switch (p[i].type) {
        case GT_DB_NULL:
            b[i].buffer_type = MYSQL_TYPE_NULL;
            continue;
        case GT_DB_INT:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&p[i].u.i;
            continue;
        case GT_DB_FLOAT:
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = (void *)&p[i].u.f;
            continue;
        case GT_DB_TEXT:
        case GT_DB_BLOB:
            b[i].buffer_type =
                p[i].type == GT_DB_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            b[i].buffer = (void *)p[i].u.s.p;
            b[i].buffer_length = (unsigned long)p[i].u.s.n;
            continue;
        }
        free(b);
        return gt__db_error(&c->base, -EINVAL, 0, NULL,
                            "parameter %d has unknown type %d", i + 1,
                            p[i].type);
    }
    *out = b;
    return 0;
}

static int execute(my_conn *c, MYSQL_STMT *st, MYSQL_BIND *pb, int n,
                   int64_t deadline)
{
    my_op op = {.kind = OP_EXECUTE, .io = &c->io, .st = st};
    int rc;

    if (mysql_stmt_param_count(st) != (unsigned long)n)
        return gt__db_error(&c->base, -EINVAL, 0, NULL,
                            "statement takes %lu parameters, got %d",
                            mysql_stmt_param_count(st), n);
    if (n > 0 && mysql_stmt_bind_param(st, pb))
        return gt__my_stmt_error(c, st);
    rc = gt__my_run(c, &op, mysql_stmt_execute_start(&op.ret, st), deadline);
    return rc == 1 ? gt__my_stmt_error(c, st) : rc;
}

/* Execute, preparing again once if the server lost a cached statement. */
static int execute_fresh(my_conn *c, const char *sql, MYSQL_STMT **st,
                         bool *cached, MYSQL_BIND *pb, int n, int64_t deadline)
{
    int rc = execute(c, *st, pb, n, deadline);

    if (rc != GT_EDB || !*cached ||
        (c->base.errcode != ER_UNKNOWN_STMT_HANDLER &&
         c->base.errcode != ER_NEED_REPREPARE))
        return rc;
    gt__stmt_cache_remove(&c->cache, sql, true);
    *st = NULL;
    rc = stmt_get(c, sql, st, cached, deadline);
    return rc < 0 ? rc : execute(c, *st, pb, n, deadline);
}

/* Store the current result set of 'st' and turn it into rows (if 'out'
 * and not cleaning up after an interrupt), then release it. */
static int take_result(my_conn *c, MYSQL_STMT *st, gt_rows **out,
                       int64_t deadline)
{
    my_op op = {.kind = OP_STORE, .io = &c->io, .st = st};
    int rc;

    if (mysql_stmt_field_count(st) == 0)
        return 0;
    rc = gt__my_run(c, &op, mysql_stmt_store_result_start(&op.ret, st),
                    deadline);
    if (rc != 0)
        return rc == 1 ? gt__my_stmt_error(c, st) : rc;
    if (out)
        rc = gt__my_make_rows(c, st, out);
    mysql_stmt_free_result(st); /* stored: frees memory, no I/O */
    return rc;
}

/* Read the first result into *out and skip any further ones (CALL). */
static int read_results(my_conn *c, MYSQL_STMT *st, gt_rows **out,
                        int64_t deadline)
{
    my_op op = {.kind = OP_NEXT, .io = &c->io, .st = st};
    int rc = take_result(c, st, out, deadline);

    while (rc == 0 && mysql_stmt_more_results(st)) {
        rc = gt__my_run(c, &op, mysql_stmt_next_result_start(&op.ret, st),
                        deadline);
        if (rc == 1)
            rc = gt__my_stmt_error(c, st);
        if (rc == 0)
            rc = take_result(c, st, NULL, deadline);
    }
    return rc;
}

/* Record the statement's counts; return what query() returns: the number
 * of rows (an empty result for a statement without one) or of changes. */
static int64_t counts(my_conn *c, MYSQL_STMT *st, gt_rows **rows)
{
    my_ulonglong n = mysql_stmt_affected_rows(st);
    my_ulonglong id = mysql_stmt_insert_id(st);

    c->base.changes = n == (my_ulonglong)-1 ? 0 : (int64_t)n;
    if (id)
        c->base.last_id = (int64_t)id;
    if (!rows)
        return c->base.changes;
    if (!*rows && !(*rows = gt__rows_new(0)))
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    return gt_rows_count(*rows);
}

static int64_t my_query(gt_db *db, gt_rows **out, const char *sql,
                        const gt_db_value *params, int nparams,
                        int64_t deadline)
{
    my_conn *c = (my_conn *)db;
    MYSQL_STMT *st = NULL;
    MYSQL_BIND *pb = NULL;
    gt_rows *rows = NULL;
    bool cached = false;
    int64_t rc;

    if (out)
        *out = NULL;
    if ((rc = usable(c, deadline)) < 0 ||
        (rc = bind_params(c, params, nparams, &pb)) < 0)
        return rc;
    c->status_stale = false;
    rc = stmt_get(c, sql, &st, &cached, deadline);
    if (rc == 0)
        rc = execute_fresh(c, sql, &st, &cached, pb, nparams, deadline);
    if (rc == 0)
        rc = read_results(c, st, out ? &rows : NULL, deadline);
    if (rc == 0)
        rc = counts(c, st, out ? &rows : NULL);
    stmt_release(c, sql, st, cached);
    free(pb);
    if (rc < 0)
        gt_rows_free(rows);
    else if (out)
        *out = rows;
    return rc;
}

/* ---- the rest of the driver ---------------------------------------------- */

static int my_ping(gt_db *db, int64_t deadline)
{
    my_conn *c = (my_conn *)db;
    my_op op = {.kind = OP_PING, .io = &c->io};
    int rc = usable(c, deadline);

    if (rc < 0)
        return rc;
    c->status_stale = false; /* the OK packet brings the status */
    rc = gt__my_run(c, &op, mysql_ping_start(&op.ret, c->io.my), deadline);
    if (rc == 1)
        rc = conn_error(c);
    return rc;
}

/* COM_RESET_CONNECTION: the server drops temporary tables, session
 * variables, locks and prepared statements, and rolls back; the library
 * invalidates our statement handles, so the cache is emptied without I/O. */
static int my_reset(gt_db *db, int64_t deadline)
{
    my_conn *c = (my_conn *)db;
    my_op op = {.kind = OP_RESET, .io = &c->io};
    int rc = usable(c, deadline);

    if (rc < 0)
        return rc;
    rc = gt__my_run(c, &op, mysql_reset_connection_start(&op.ret, c->io.my),
                    deadline);
    if (rc == 1)
        rc = conn_error(c);
    if (rc == 0) {
        gt__stmt_cache_clear(&c->cache, false);
        c->status_stale = true;
    }
    return rc;
}

static int my_sockfd(gt_db *db)
{
    my_conn *c = (my_conn *)db;

    return c->io.my ? (int)mysql_get_socket(c->io.my) : -1;
}

/* The next wait_socket() registers the socket again, on its worker. */
static void my_detach(gt_db *db)
{
    gt_fdwatch_close(&((my_conn *)db)->io.watch);
}

static int my_in_tx(gt_db *db)
{
    my_conn *c = (my_conn *)db;
    unsigned int status = 0;

    if (c->unsettled && !c->base.broken)
        return 1; /* maybe: and the pool's ROLLBACK settles it first */
    if (!c->io.my || c->base.broken || c->status_stale ||
        mariadb_get_infov(c->io.my, MARIADB_CONNECTION_SERVER_STATUS, &status))
        return 0;
    return (status & SERVER_STATUS_IN_TRANS) != 0;
}

static int my_awaiting(gt_db *db)
{
    return ((my_conn *)db)->unsettled;
}

const gt__db_driver gt__db_mysql_driver = {
    .name = "mysql",
    .open = my_open,
    .close = my_close,
    .query = my_query,
    .batch = NULL, /* db.c runs the statements in order */
    .ping = my_ping,
    .reset = my_reset,
    .in_tx = my_in_tx,
    .detach = my_detach,
    .socket = my_sockfd,
    .redial = my_redial,
    .awaiting = my_awaiting,
};
