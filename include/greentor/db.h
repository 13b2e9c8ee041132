/* greentor/db.h -- one database API over PostgreSQL, MySQL/MariaDB and
 * SQLite whose calls look blocking but never block the loop.
 *
 * A gt_db is one connection, opened from a URL:
 *     postgres://user:pass@host:port/db?opt=v   (also postgresql://)
 *     postgres://user:pass@h1:p1,h2:p2/db?target_session_attrs=read-write
 *         (libpq's host list: tried in order; with read-write only a
 *         primary is accepted, so after a failover new connections find
 *         the promoted standby)
 *     mysql://user:pass@host:port/db?opt=v      (also mariadb://)
 *     sqlite:///absolute/path.db   sqlite:relative/path.db   sqlite::memory:
 * Driver options: connect_timeout_ms (default 5000), stmt_cache (prepared
 * statements kept per connection, LRU, default 64; 0: PostgreSQL's
 * unnamed statement only, re-parsed each time -- the setting for PgBouncer
 * in transaction pooling mode, where a named statement does not survive
 * the change of server connection between transactions), init (below);
 * for PostgreSQL application_name, sslmode, sslrootcert, sslcert, sslkey,
 * sslpassword, gssencmode, options, target_session_attrs and port (a list
 * with a host list; all passed to libpq); for MariaDB/MySQL TLS under the
 * same names (below); for SQLite busy_timeout_ms (default 5000),
 * mode=inline|offload and synchronous=off|normal|full|extra. The pool's
 * options (greentor/pool.h) ride in the same string and are accepted here
 * too. Any other option, or a number out of its range (milliseconds
 * 0-2147483647), is refused with -EINVAL: a typo must not leave a default
 * in place. gt_db_check_url() says which and why.
 *
 * TLS. Both servers take libpq's option names. sslmode: disable, require
 * (encrypted, server not checked unless sslrootcert is given), verify-ca
 * (its certificate chains to sslrootcert), verify-full (and names the
 * URL's host: an address or a name in its subjectAltName); PostgreSQL
 * also allow and prefer, and defaults to prefer (libpq's default: TLS when
 * the server offers it). MariaDB defaults to disable, has no allow/prefer,
 * and refuses (-EINVAL, before connecting) sslrootcert, sslcert, sslkey or
 * sslpassword without TLS on, and verify-ca/verify-full without
 * sslrootcert. sslrootcert is a PEM CA file, sslcert/sslkey a client
 * certificate and its key (sslpassword: the key's passphrase, hidden by
 * gt_db_url_redact()). The handshake is within the connect's deadline and
 * never holds the loop: PostgreSQL's runs in PQconnectPoll() steps on the
 * driver pool, MariaDB's whole connect does (Connector/C's handshake
 * blocks). A handshake that fails (an untrusted certificate, a name that
 * does not match, a server without TLS) is -ECONNREFUSED, the library's
 * reason in gt_db_errmsg() ("certificate verify failed"). MariaDB limit
 * (Connector/C 3.3): only verify-full refuses a server that offers no TLS
 * before logging in; under require and verify-ca the login packet (user
 * name, the password's challenge response) goes out unencrypted to such a
 * server, or to someone in the path who strips TLS, before the session
 * is refused -- use verify-full where that matters.
 *     postgres://u:p@db:5432/app?sslmode=verify-full&sslrootcert=/etc/ca.pem
 *     mysql://u:p@10.0.0.5/app?sslmode=verify-full&sslrootcert=/etc/ca.pem
 *
 * Init SQL. Each init=<statement> option (percent-encoded: %20 for a
 * space, %3D for '=', %26 for '&'; empty ones are ignored) runs once on
 * every new connection, in the order given, before gt_db_open() returns,
 * and again after every gt_db_reset(), so that settings such as
 *     ?init=SET%20statement_timeout%3D5000&init=SET%20search_path%3Dapp
 *     sqlite:app.db?init=PRAGMA%20foreign_keys%3DON
 * hold for the connection's whole life, pooled or not. They run within the
 * connect deadline, and they do not count as changing the session (the
 * pool does not reset a connection because of them).
 *
 * Threads. A connection belongs to the worker that opened it (or that it
 * was handed to after gt_db_detach()) and is used by one coroutine at a
 * time. Every call that talks to a server yields until
 * the answer is there or 'deadline' (absolute, gt_now() ms; GT_NEVER) or the
 * coroutine's own deadline passes, or the coroutine is cancelled. A query
 * interrupted that way returns at once and is cancelled on the server
 * (PostgreSQL CancelRequest, MariaDB KILL QUERY, sqlite3_interrupt),
 * never waiting for the cancel: what the server still owes is read before
 * the connection's next use (or by the pool when it takes it back), and
 * the connection is then clean again or, when that did not happen within
 * 2 s, marked broken (gt_db_broken()); it is never reused dirty.
 *
 * SQL. Parameters are bound, never formatted into SQL: write '?' for each
 * one, in every backend (PostgreSQL's $n are generated for you; '?' inside
 * quotes or comments is left alone). Each distinct SQL text is prepared
 * once per connection and kept in a bounded LRU cache, re-prepared
 * transparently after a reconnect or eviction. On PostgreSQL, text and
 * NULL parameters go untyped, so the server types them from where they
 * stand: text binds to jsonb, timestamptz, uuid, boolean... columns with
 * no cast (where nothing gives a type, as in "? IS NULL", write ?::text).
 * Integers go as int4 (int8 beyond its range), floats as float8, blobs as
 * bytea; one SQL text used with different parameter types is prepared
 * once per type signature.
 *
 * Errors. 0 or a count on success, a negative code on failure: GT_EDB when
 * the server rejected the statement (see gt_db_errmsg(), gt_db_sqlstate(),
 * gt_db_errcode()), -ETIMEDOUT, -ECANCELED, -ECONNREFUSED, -ECONNRESET,
 * -EINVAL (bad URL or arguments), -EPROTONOSUPPORT (unknown scheme),
 * -ENOMEM.
 *
 * Connections the server closed. A server ends sessions on its own (a
 * restart, a failover, pg_terminate_backend, KILL, a proxy's idle cut).
 * Before a statement (gt_db_exec(), gt_db_query(), gt_db_batch()) is sent
 * on a connection that has been quiet since the loop's last tick, one
 * non-blocking peek looks for the server's goodbye; found, the connection
 * is reconnected in place -- same handle, same URL, set-up run again --
 * and the statement goes to the new session, once. Only when nothing is
 * lost: with a transaction open or session state set since the last
 * reset (SET, temporary tables: what makes the pool reset it), the
 * statement fails with -ECONNRESET instead, and so does a connection that
 * dies after the statement was sent (it may have run). A reconnect that
 * fails leaves the connection broken with a message that says so. The
 * reconnect is within the statement's deadline and connect_timeout_ms;
 * gt_db_get_stats() counts both outcomes. PostgreSQL and MariaDB; SQLite
 * has no server to lose.
 *
 * Results. A gt_rows holds the whole result, random access, typed. It
 * belongs to the caller: free it with gt_rows_free(); one forgotten is
 * freed when the coroutine that made it ends. Values returned by the
 * accessors are borrowed and valid until gt_rows_free(). */
#ifndef GREENTOR_DB_H
#define GREENTOR_DB_H

#include <stddef.h>
#include <stdint.h>

#include "greentor/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gt_db gt_db;
typedef struct gt_rows gt_rows;

/* Column and value types, as the backend reports them. */
enum gt_db_type {
    GT_DB_NULL = 0,
    GT_DB_INT = 1,   /* integers and booleans, as int64 */
    GT_DB_FLOAT = 2, /* floating point and numeric, as double */
    GT_DB_TEXT = 3,  /* text, dates and everything else, as UTF-8 */
    GT_DB_BLOB = 4,  /* bytea / BLOB / binary */
};

/* A parameter. Text and blob values are borrowed for the call only. */
typedef struct gt_db_value {
    int type;
    union {
        int64_t i;
        double f;
        struct {
            const void *p;
            size_t n;
        } s;
    } u;
} gt_db_value;

/* Parameter constructors. */
GT_API gt_db_value gt_db_null(void);
GT_API gt_db_value gt_db_int(int64_t v);
GT_API gt_db_value gt_db_float(double v);
GT_API gt_db_value gt_db_text(const char *nul_terminated);
GT_API gt_db_value gt_db_textn(const char *p, size_t n);
GT_API gt_db_value gt_db_blob(const void *p, size_t n);

/* One statement of a batch (gt_db_batch). */
typedef struct gt_db_stmt {
    const char *sql;
    const gt_db_value *params;
    int nparams;
} gt_db_stmt;

/* ---- connections ------------------------------------------------------- */

/* Open a connection described by 'url' and run its init= statements.
 * Yields until connected and set up or the deadline passes (and at most
 * connect_timeout_ms). Worker only. On success *out is a new connection.
 * On failure other than -ENOMEM and -EINVAL, *out is still set to a
 * handle that only carries the error message (gt_db_errmsg()) and must be
 * closed with gt_db_close(); otherwise *out is NULL. A failed init=
 * statement fails the open with its own error, the message starting
 * "init statement <n> (<sql>) failed: ". Returns 0, -EINVAL,
 * -EPROTONOSUPPORT, -ENOMEM, -ETIMEDOUT, -ECANCELED, -ECONNREFUSED, or
 * GT_EDB (e.g. bad password, unknown database, a failed init=). */
GT_API int gt_db_open(gt_db **out, const char *url, int64_t deadline);

/* Check 'url' as gt_db_open() and gt_pool_new() would, without connecting:
 * its syntax, and that every option is one some part of greentor reads for
 * its scheme, with a value in range. Does not yield. On failure 'err'
 * (may be NULL) gets a message naming the option and, for an unknown one,
 * listing the accepted ones. Returns 0, -EINVAL, -EPROTONOSUPPORT or
 * -ENOMEM. */
GT_API int gt_db_check_url(const char *url, char *err, size_t errlen);

/* The value of option 'key' in 'url' (percent-decoded; the last one when
 * repeated, the one that counts) copied into out[0..cap), NUL-terminated.
 * For code that rides its own options in a database URL, as the pool
 * does. Does not yield. Returns the value's length, -ENOENT when 'url'
 * has no such option, -ENOSPC when it does not fit (out holds ""), -EINVAL
 * (malformed URL or arguments), -EPROTONOSUPPORT or -ENOMEM. */
GT_API int gt_db_url_option(const char *url, const char *key, char *out,
                            size_t cap);

/* A part of 'url' by name -- "host", "port", "user", "password",
 * "dbname" (the path after the host) or "path" (sqlite's file) --
 * percent-decoded, copied into out[0..cap), NUL-terminated: for code that
 * opens a URL of the same syntax itself, as the redis module does with
 * redis://user:pass@host:port/dbnumber. Does not yield. Returns the
 * length, -ENOENT when the URL has no such part, -ENOSPC when it does not
 * fit (out holds ""), -EINVAL (malformed URL, unknown name, arguments),
 * -EPROTONOSUPPORT or -ENOMEM. */
GT_API int gt_db_url_part(const char *url, const char *name, char *out,
                          size_t cap);

/* Copy 'url' into out[0..cap) with its password shown as "***"
 * (postgres://user:***@host/db), and the value of a password= or
 * sslpassword= option too: what logs, error messages and metric labels
 * may show. Works on URLs too broken to parse. Does not yield. out is
 * always NUL-terminated when cap > 0. Returns the length of the whole
 * redacted text, as snprintf() does (>= cap: it was cut short). */
GT_API size_t gt_db_url_redact(const char *url, char *out, size_t cap);

/* Close the connection and free it; results made from it stay valid. Does
 * not yield (the goodbye message is sent without waiting). NULL: no-op. */
GT_API void gt_db_close(gt_db *db);

/* "postgres", "mysql" or "sqlite". */
GT_API const char *gt_db_backend(const gt_db *db);

/* The last error's message ("" if none), SQLSTATE (5 characters, "" for
 * SQLite and for errors that did not come from the server), and the
 * backend's native code (MySQL error number, SQLite extended result code,
 * 0 for PostgreSQL). Valid until the next call on 'db'. */
GT_API const char *gt_db_errmsg(const gt_db *db);
GT_API const char *gt_db_sqlstate(const gt_db *db);
GT_API int gt_db_errcode(const gt_db *db);

/* Nonzero when the connection can no longer be used: lost, or a query was
 * interrupted and could not be brought back to a clean state. */
GT_API int gt_db_broken(const gt_db *db);

/* ---- statements ---------------------------------------------------------- */

/* Run 'sql' with 'nparams' bound parameters, discarding any rows. Yields.
 * Returns the number of affected rows (>= 0) or a negative error. */
GT_API int64_t gt_db_exec(gt_db *db, const char *sql, const gt_db_value *params,
                          int nparams, int64_t deadline);

/* Run 'sql' and return all its rows in *out (a new gt_rows, also on zero
 * rows). Yields. Returns the number of rows or a negative error; on error
 * *out is NULL. */
GT_API int gt_db_query(gt_db *db, gt_rows **out, const char *sql,
                       const gt_db_value *params, int nparams,
                       int64_t deadline);

/* Run 'n' independent statements; out[i] receives statement i's rows (NULL
 * for a statement after the first failure). On PostgreSQL all are sent in
 * one round trip (libpq pipeline mode); elsewhere they run in order.
 * Outside a transaction the batch is one transaction of its own on
 * PostgreSQL (the pipeline's implicit one) and SQLite (BEGIN ... COMMIT:
 * one file lock for all of it), so a failure undoes all of it; on MariaDB
 * each statement commits as it runs. Inside a transaction it is part of
 * it. Stops at the first error, which it returns; 0 on success. Yields. */
GT_API int gt_db_batch(gt_db *db, gt_rows **out, const gt_db_stmt *stmts, int n,
                       int64_t deadline);

/* Rows affected by the last statement, and the id the last INSERT
 * generated (MySQL, SQLite; on PostgreSQL use RETURNING: -ENOTSUP). */
GT_API int64_t gt_db_changes(const gt_db *db);
GT_API int64_t gt_db_last_insert_id(const gt_db *db);

/* Check that the server answers (a cheap round trip). Yields. */
GT_API int gt_db_ping(gt_db *db, int64_t deadline);

/* Bring the session back to a fresh state: roll back, drop temporary
 * tables, session variables and prepared statements (PostgreSQL DISCARD
 * ALL, MariaDB COM_RESET_CONNECTION; SQLite: rollback only), then run the
 * init= statements and the gt_db_set_init() function again (not on SQLite,
 * where nothing they set was undone). Yields. Returns 0 or a negative
 * error; when the init part fails the connection is marked broken and
 * gt_db_errmsg() says which init step failed. */
GT_API int gt_db_reset(gt_db *db, int64_t deadline);

/* A function that sets up a connection: runs its statements on 'db' (and
 * should finish by 'deadline'), returns >= 0 on success or a negative
 * error. */
typedef int (*gt_db_init_fn)(gt_db *db, void *arg, int64_t deadline);

/* Make fn(db, arg, deadline) part of the connection's set-up: run it now,
 * and again after every gt_db_reset() that undid the session (after the
 * init= statements). Replaces an earlier function; NULL removes it
 * without running anything. Its statements do not count as changing the
 * session. Yields (fn's statements). 'arg' is borrowed for the
 * connection's life. Returns 0 or fn's negative result; then the
 * connection is marked broken (gt_db_broken()) and gt_db_errmsg() starts
 * with "init function failed". */
GT_API int gt_db_set_init(gt_db *db, gt_db_init_fn fn, void *arg,
                          int64_t deadline);

/* ---- transactions ------------------------------------------------------- */

/* Begin a transaction, or a savepoint when one is open already, so that
 * blocks nest. Commit/rollback end the innermost one. Yield. */
GT_API int gt_db_begin(gt_db *db, int64_t deadline);
GT_API int gt_db_commit(gt_db *db, int64_t deadline);
GT_API int gt_db_rollback(gt_db *db, int64_t deadline);

/* Open transaction blocks: 0 outside a transaction. */
GT_API int gt_db_tx_depth(const gt_db *db);

/* ---- for connection pools ------------------------------------------------ */

/* What a pool (greentor's, or your own) needs to know about a connection
 * it takes back, and the one thing it must do to move it between workers.
 * None of these yields except gt_db_abandon_tx(). */

/* Nonzero when a transaction is open: one begun with gt_db_begin(), or a
 * BEGIN the application sent itself (the server's word). */
GT_API int gt_db_in_tx(gt_db *db);

/* Roll back everything open, savepoints included (one ROLLBACK). Yields.
 * 0 or a negative error (then the connection is best discarded). */
GT_API int gt_db_abandon_tx(gt_db *db, int64_t deadline);

/* Nonzero when a statement may have changed session state (SET, temporary
 * tables, prepared statements by hand...) since the open or the last
 * gt_db_reset(). */
GT_API int gt_db_session_dirty(const gt_db *db);

/* Zero when the connection shows, without a round trip, that the server
 * has dropped it: its socket is at end of file or reset, or holds bytes
 * nobody asked for (PostgreSQL's FATAL before it closes). The check for an
 * idle connection before it is handed out: restarts, failovers,
 * pg_terminate_backend, KILL and idle cuts by a proxy or firewall all end
 * this way. One non-blocking peek (recv MSG_PEEK); does not yield. Nonzero
 * for SQLite, and when in doubt. */
GT_API int gt_db_alive(gt_db *db);

/* Nonzero when the last error (of a failed gt_db_open() too) is the
 * server refusing a connection for having too many: PostgreSQL 53300
 * (max_connections, or a role's or database's CONNECTION LIMIT), MariaDB
 * 1040 (max_connections), 1203 (max_user_connections) and 1226 (an
 * account's MAX_USER_CONNECTIONS). That is the
 * database's real capacity, not an outage. */
GT_API int gt_db_at_capacity(const gt_db *db);

/* Nonzero when gt_db_reset() undoes session state. SQLite's cannot (it
 * only rolls back): a pool should close a dirty SQLite connection. */
GT_API int gt_db_can_reset(const gt_db *db);

/* Unregister the connection's socket from the calling worker's loop, so
 * that a coroutine of another worker may use it next (the next call
 * registers it with that worker's loop). Call it on the worker that used
 * the connection last, with no statement running; then hand the handle
 * over (gt_rt_post()). Does not yield. NULL: no-op. */
GT_API void gt_db_detach(gt_db *db);

/* End the server session now but keep the handle: the socket is shut
 * down (the server sees its client leave and frees the connection's
 * place) and the connection is marked broken with 'why' as its message,
 * so that every later call fails with -ECONNRESET saying why. For a
 * connection whose holder cannot be trusted to give it back (a pool's
 * leak reclaim). gt_db_close() still frees it. Does not yield. Returns 0,
 * -EBUSY while a call is running on it (it is left alone), -EINVAL. */
GT_API int gt_db_disconnect(gt_db *db, const char *why);

/* Process-wide counts of interrupted statements (a deadline, or the
 * caller cancelled), of the cancels sent to the server for them, and of
 * reconnects in place (see "Connections the server closed" above). */
typedef struct gt_db_stats {
    uint64_t cancels_sent;          /* CancelRequest / KILL QUERY sent */
    uint64_t cancels_dropped;       /* not sent: too many on their way already
                                     * (a wedged server); the statement ran on */
    uint64_t interrupted_kept;      /* connection wound down clean, kept */
    uint64_t interrupted_discarded; /* ... not in time: dropped */
    uint64_t redials;               /* found closed by the server before a
                                     * statement was sent: reconnected in place */
    uint64_t redials_failed;        /* ... and the reconnect failed */
} gt_db_stats;

/* Any thread. */
GT_API void gt_db_get_stats(gt_db_stats *out);

/* The same in Prometheus text ("greentor_db_" names, no labels), to put
 * next to gt_pool_metrics_new()'s. malloc'd; NULL on OOM. Any thread. */
GT_API char *gt_db_metrics_new(void);

/* One pointer of the owner's bookkeeping (a pool's record for the
 * connection); NULL until set. */
GT_API void gt_db_set_owner(gt_db *db, void *owner);
GT_API void *gt_db_owner(const gt_db *db);

/* ---- results ----------------------------------------------------------------
 */

GT_API int gt_rows_count(const gt_rows *r);
GT_API int gt_rows_columns(const gt_rows *r);
/* Column name and type; NULL / GT_DB_NULL when 'col' is out of range. */
GT_API const char *gt_rows_name(const gt_rows *r, int col);
GT_API int gt_rows_type(const gt_rows *r, int col);

/* Cell accessors; out-of-range cells read as NULL. Numbers convert from
 * text and back like SQLite's sqlite3_column_* do; NULL reads as 0, 0.0,
 * "" and an empty blob. 'len' may be NULL. Text is NUL-terminated. */
GT_API int gt_rows_isnull(const gt_rows *r, int row, int col);
GT_API int64_t gt_rows_int(const gt_rows *r, int row, int col);
GT_API double gt_rows_float(const gt_rows *r, int row, int col);
GT_API const char *gt_rows_text(const gt_rows *r, int row, int col,
                                size_t *len);
GT_API const void *gt_rows_blob(const gt_rows *r, int row, int col,
                                size_t *len);

/* Free a result. NULL: no-op. Any coroutine of the same worker. */
GT_API void gt_rows_free(gt_rows *r);

#ifdef __cplusplus
}
#endif
#endif
