/* db/driver.h -- the contract between db.c and the backends (pg.c, mysql.c,
 * sqlite.c), and the helpers they share.
 *
 * db.c is only the thin dispatch: URL to driver, transactions (BEGIN /
 * SAVEPOINT nesting), parameter constructors, error accessors. Everything
 * that talks to a server is a method of the driver. Each backend's
 * connection struct embeds struct gt_db as its FIRST member, so a gt_db *
 * converts to the backend's struct by a cast:
 *
 *     struct pg_conn { gt_db base; PGconn *pq; gt_fdwatch watch; ... };
 *
 * Results are built by the drivers through the gt__rows_* builder (rows.c)
 * into one common, typed, random-access representation. */
#ifndef GT_DB_DRIVER_H
#define GT_DB_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "greentor/db.h"

/* ---- URLs (url.c, url_opts.c, url_redact.c) --------------------------- */

typedef struct gt__db_opt {
    char *key, *value;
} gt__db_opt;

/* A parsed URL. All strings are percent-decoded, NUL-terminated, owned by
 * the struct, and NULL when absent (port 0 when absent). */
typedef struct gt__db_url {
    char *scheme; /* "postgres", "mysql" or "sqlite" (aliases folded) */
    char *user, *password, *host, *dbname;
    int port;
    char *path; /* sqlite: file path, or ":memory:" */
    gt__db_opt *opts;
    int nopts;
} gt__db_url;

/* Parse 'url'. Returns 0, -EINVAL (malformed; 'err' gets a message),
 * -EPROTONOSUPPORT (unknown scheme) or -ENOMEM. */
int gt__db_url_parse(gt__db_url *u, const char *url, char *err, size_t errlen);
void gt__db_url_free(gt__db_url *u);
/* Refuse an option no part of greentor reads for u's scheme (driver and
 * pool options both ride in the URL), and a value out of its range or not
 * a number: -EINVAL, with a message in 'err' that names the option and,
 * for an unknown one, lists those accepted. 0 when all are good. */
int gt__db_url_check(const gt__db_url *u, char *err, size_t errlen);
/* Format a message into err[0..errlen) (err may be NULL) and return rc:
 * the URL parser's and checker's error reports. */
int gt__db_url_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The value of query option 'key', NULL if absent. */
const char *gt__db_url_opt(const gt__db_url *u, const char *key);
/* The option as an integer; 'dflt' if absent; -EINVAL via *bad if not a
 * number (then dflt is returned). 'bad' may be NULL. */
long gt__db_url_opt_long(const gt__db_url *u, const char *key, long dflt,
                         int *bad);

/* ---- the connection base ------------------------------------------------ */

typedef struct gt__db_driver gt__db_driver;

struct gt_db {
    const gt__db_driver *drv;
    bool broken;      /* unusable; the pool discards it */
    bool failed_open; /* a handle that only carries an open error */
    int tx_depth;     /* BEGIN = 1, each SAVEPOINT adds one */
    int64_t changes;  /* affected rows of the last statement */
    int64_t last_id;  /* last generated id, or -ENOTSUP */
    int errcode;      /* native code of the last error */
    char sqlstate[6]; /* "" if none */
    char errmsg[512];
    bool session_dirty; /* a statement may have changed session state
                         * (SET, temporary tables...): set by db.c,
                         * cleared by gt_db_reset(); read by the pool */
    void *owner;        /* for the pool's bookkeeping; NULL otherwise */
    int in_call;        /* a driver call is running (parked) on it */
    /* The connection's set-up, run at open and after every reset that
     * undid the session (db.c): the URL's init= statements, owned, in
     * order, then init_fn (gt_db_set_init()). */
    char **init_sql;
    int ninit;
    gt_db_init_fn init_fn;
    void *init_arg;
    /* For a reconnect in place (redial.c): the URL it was opened with
     * (owned; NULL when it cannot redial), and the gt_now() at which it
     * was last seen alive -- a statement ended, or a peek found it well --
     * so that a statement in the same loop tick need not peek again. */
    char *url;
    int64_t alive_at;
};

struct gt__db_driver {
    const char *name; /* "postgres", "mysql", "sqlite" */
    /* Connect. Sets *out whenever a handle could be allocated, also on
     * failure (then with the error message set and failed_open true). */
    int (*open)(gt_db **out, const gt__db_url *url, int64_t deadline);
    void (*close)(gt_db *db);
    /* Run one statement. out == NULL: discard rows. Must set db->changes
     * (and db->last_id where the backend has it). Returns the number of
     * rows (out != NULL) or of affected rows, or a negative error. */
    int64_t (*query)(gt_db *db, gt_rows **out, const char *sql,
                     const gt_db_value *params, int nparams, int64_t deadline);
    /* Optional: n statements in one round trip; NULL = run in order. */
    int (*batch)(gt_db *db, gt_rows **out, const gt_db_stmt *stmts, int n,
                 int64_t deadline);
    int (*ping)(gt_db *db, int64_t deadline);
    int (*reset)(gt_db *db, int64_t deadline);
    /* Nonzero when the server says a transaction is open. */
    int (*in_tx)(gt_db *db);
    /* Optional: the socket to peek at for gt_db_alive(), or -1 when
     * there is none (then the connection counts as alive). */
    int (*socket)(gt_db *db);
    /* Optional: forget the registration with the calling worker's loop
     * (gt_db_detach()); the next wait registers again, on its worker. */
    void (*detach)(gt_db *db);
    /* Optional: replace the native connection, found dead while quiet,
     * by a new one to 'url' with the same options: the old one is closed
     * without I/O, prepared statements are forgotten. 0, or the connect's
     * error (then the handle is left unconnected; the caller marks it
     * broken). NULL: the backend cannot (SQLite has no server). */
    int (*redial)(gt_db *db, const gt__db_url *url, int64_t deadline);
    /* Optional: nonzero while the server still owes an answer (an
     * interrupted round trip not wound down), so that data waiting on the
     * socket is not its goodbye. NULL: never. */
    int (*awaiting)(gt_db *db);
    /* reset() only rolls back: session settings survive it, so the init
     * steps need not (and, for CREATE TEMP..., could not) run again. */
    bool reset_keeps_session;
};

extern const gt__db_driver gt__db_pg_driver;
extern const gt__db_driver gt__db_mysql_driver;
extern const gt__db_driver gt__db_sqlite_driver;

/* Whether statement b of a batch has the same SQL text as the one before
 * it, a: the drivers then reuse a's prepared statement and db.c its
 * session check instead of looking the text up again (/queries runs one
 * SELECT 20 times a request). Usually the very same pointer. */
static inline bool gt__db_same_sql(const char *a, const char *b)
{
    return a == b || strcmp(a, b) == 0;
}

/* The earlier of two deadlines (GT_NEVER is later than any). */
static inline int64_t gt__db_earlier(int64_t a, int64_t b)
{
    if (a == GT_NEVER)
        return b;
    return b == GT_NEVER || a < b ? a : b;
}

/* The deadline of a connect: the caller's, capped by the URL's
 * connect_timeout_ms (0 = no cap). 0, or -EINVAL for a bad option. */
int gt__db_connect_deadline(const gt__db_url *u, int64_t deadline,
                            int64_t *out);

/* Before a statement is sent (redial.c): when 'db' has been quiet since
 * the loop's last tick, peek at it; found dead with nothing to lose (no
 * transaction, no session state), reconnect it in place, once. 0 when the
 * statement may go ahead (on the old connection or the new one), or the
 * reconnect's error with 'db' broken. */
int gt__db_redial_if_dead(gt_db *db, int64_t deadline);

/* Initialise the base part of a driver's new connection. */
void gt__db_init_base(gt_db *db, const gt__db_driver *drv);

/* Record an error on 'db' (sqlstate may be NULL) and return 'rc'. */
int gt__db_error(gt_db *db, int rc, int native, const char *sqlstate,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void gt__db_clear_error(gt_db *db);

/* ---- process-wide counters (pooling.c: gt_db_get_stats()) ---------------- */

typedef struct gt__db_counters {
    atomic_ullong cancels_sent, cancels_dropped;
    atomic_ullong interrupted_kept, interrupted_discarded;
    atomic_ullong redials, redials_failed;
} gt__db_counters;

extern gt__db_counters gt__db_stats;

/* ---- the connection's set-up (init.c) -------------------------------------
 */

/* Copy the URL's non-empty init= values, in order, into db->init_sql.
 * 0 or -ENOMEM (what was copied is freed by gt__db_init_free()). */
int gt__db_init_copy(gt_db *db, const gt__db_url *u);
/* Run the init= statements, then db->init_fn. 0, or the failed step's
 * error: the connection is then broken and its message names the step. */
int gt__db_init_run(gt_db *db, int64_t deadline);
void gt__db_init_free(gt_db *db);

/* ---- results (rows.c) -------------------------------------------------- */

/* Start a result with 'ncols' columns. NULL on OOM. The result registers
 * itself with the calling coroutine so a forgotten one is freed at its end
 * (gt_rows_free() unregisters it). */
gt_rows *gt__rows_new(int ncols);
/* Register a result made outside any coroutine (gt__rows_new() on a
 * thread-pool thread, as SQLite's offload mode does) with the calling
 * coroutine, as gt__rows_new() would have. No-op when it is registered
 * already or the caller is not a coroutine. 0, -EINVAL or -ENOMEM. */
int gt__rows_track(gt_rows *r);
/* Name (copied) and type of column 'col'. 0 or -ENOMEM. */
int gt__rows_set_column(gt_rows *r, int col, const char *name, int type);
/* Append an empty row (all NULL); the put functions fill its cells. */
int gt__rows_add_row(gt_rows *r);
int gt__rows_put_null(gt_rows *r, int col);
int gt__rows_put_int(gt_rows *r, int col, int64_t v);
int gt__rows_put_float(gt_rows *r, int col, double v);
/* Text and blob bytes are copied into the result's arena. */
int gt__rows_put_text(gt_rows *r, int col, const char *p, size_t n);
int gt__rows_put_blob(gt_rows *r, int col, const void *p, size_t n);

/* ---- the prepared-statement cache (stmtcache.c) -----------------------------
 */

/* A bounded LRU map from SQL text to a driver's prepared-statement handle.
 * 'evict' is called for every handle leaving the cache: with server_alive
 * true when the driver may release it on the server, false when the
 * server side is already gone (reconnect, reset). */
typedef struct gt__stmt_cache {
    struct gt__stmt_entry *entries; /* private */
    size_t n, cap;
    uint64_t tick;
    void (*evict)(void *ctx, void *handle, bool server_alive);
    void *ctx;
} gt__stmt_cache;

int gt__stmt_cache_init(gt__stmt_cache *c, size_t cap,
                        void (*evict)(void *, void *, bool), void *ctx);
/* The handle for 'sql' (and mark it most recently used), or NULL. */
void *gt__stmt_cache_get(gt__stmt_cache *c, const char *sql);
/* Add 'sql' -> 'handle', evicting the least recently used entry if full.
 * Copies 'sql'. 0 or -ENOMEM (then 'handle' was evicted). */
int gt__stmt_cache_put(gt__stmt_cache *c, const char *sql, void *handle);
/* Drop one entry (e.g. the server said the statement is gone). */
void gt__stmt_cache_remove(gt__stmt_cache *c, const char *sql,
                           bool server_alive);
/* Evict everything. */
void gt__stmt_cache_clear(gt__stmt_cache *c, bool server_alive);
void gt__stmt_cache_deinit(gt__stmt_cache *c);

/* ---- SQL helpers (sqltext.c) --------------------------------------------- */

/* Copy 'sql' with each '?' placeholder outside quotes, quoted identifiers,
 * dollar-quoted strings and comments replaced by $1, $2, ... (PostgreSQL).
 * Returns a malloc'd string and the count in *nparams, or NULL on OOM. */
char *gt__sql_to_dollar(const char *sql, int *nparams);
/* The number of '?' placeholders (same scanning rules). */
int gt__sql_count_params(const char *sql);

#endif
