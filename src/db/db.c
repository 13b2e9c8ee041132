/* db/db.c -- the thin dispatch behind greentor/db.h.
 *
 * Everything that talks to a server is a driver method (driver.h); this
 * file picks the driver from the URL's scheme, checks arguments once for
 * all backends, and owns what is the same everywhere: the error fields,
 * transaction nesting, and the bookkeeping the pool reads.
 *
 * Transactions nest by savepoints: depth 0 -> "BEGIN", depth d -> SAVEPOINT
 * gt_sp_<d>; commit and rollback end the innermost block. The depth is our
 * own count, but a statement can also end a transaction behind our back (a
 * COMMIT sent with gt_db_exec(), SQLite rolling back an interrupted write,
 * MySQL rolling back a deadlock victim), so after every statement the depth
 * is reconciled with what the driver says the session is in. Because of
 * this a rollback with nothing open is a no-op -- the usual error path
 * "begin; fail; rollback" must not fail again -- while a commit with
 * nothing open is an error: the work it meant to keep is gone.
 *
 * A handle that failed to open, or broke, refuses every call with
 * -ENOTCONN or -ECONNRESET and keeps the message that explains why. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000

static const gt__db_driver *const drivers[] = {
    &gt__db_pg_driver,
    &gt__db_mysql_driver,
    &gt__db_sqlite_driver,
};

/* The handle of an open that failed before any driver was involved
 * (unknown scheme): it only carries the message. */
static void bare_close(gt_db *db)
{
    free(db);
}

static const gt__db_driver no_driver = {.name = "", .close = bare_close};

void gt__db_init_base(gt_db *db, const gt__db_driver *drv)
{
    memset(db, 0, sizeof(*db));
    db->drv = drv;
}

int gt__db_error(gt_db *db, int rc, int native, const char *sqlstate,
                 const char *fmt, ...)
{
    va_list ap;

    if (!db)
        return rc;
    db->errcode = native;
    snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
             sqlstate ? sqlstate : "");
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
    va_end(ap);
    return rc;
}

void gt__db_clear_error(gt_db *db)
{
    db->errcode = 0;
    db->sqlstate[0] = '\0';
    db->errmsg[0] = '\0';
}

/* ---- opening and closing ------------------------------------------------ */

/* A handle carrying only an error message, for failures before a driver
 * could make one. NULL on OOM. */
static gt_db *bare_failed(const char *msg)
{
    gt_db *db = malloc(sizeof(*db));

    if (!db)
        return NULL;
    gt__db_init_base(db, &no_driver);
    db->failed_open = true;
    gt__db_error(db, 0, 0, NULL, "%s", msg);
    return db;
}

static const gt__db_driver *find_driver(const char *scheme)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, scheme) == 0)
            return drivers[i];
    return NULL;
}

int gt__db_connect_deadline(const gt__db_url *u, int64_t deadline, int64_t *out)
{
    int bad;
    long ms = gt__db_url_opt_long(u, "connect_timeout_ms",
                                  DEFAULT_CONNECT_TIMEOUT_MS, &bad);

    if (bad || ms < 0)
        return -EINVAL;
    *out = ms == 0 ? deadline : gt__db_earlier(deadline, gt_deadline_in(ms));
    return 0;
}

static int open_with(gt_db **out, const gt__db_driver *drv, const gt__db_url *u,
                     int64_t deadline)
{
    int rc = drv->open(out, u, deadline);

    if ((rc == -ENOMEM || rc == -EINVAL) && *out) {
        drv->close(*out); /* these come without a handle (db.h) */
        *out = NULL;
    }
    if (rc < 0 && *out)
        (*out)->failed_open = true;
    if (rc == 0 && !*out)
        rc = -ENOMEM; /* a driver bug; do not hand out NULL as success */
    return rc;
}

/* Run the URL's init= statements on a new connection. On failure the
 * handle only carries the message, as after a failed connect, except for
 * the errors that come without a handle (db.h). */
static int set_up(gt_db **out, const gt__db_url *u, int64_t deadline)
{
    int rc = gt__db_init_copy(*out, u);

    if (rc == 0)
        rc = gt__db_init_run(*out, deadline);
    if (rc == -ENOMEM || rc == -EINVAL) {
        gt_db_close(*out);
        *out = NULL;
    } else if (rc < 0) {
        (*out)->failed_open = true;
    }
    return rc;
}

/* A backend that can reconnect in place keeps the URL for it. */
static int keep_url(gt_db **out, const gt__db_driver *drv, const char *url)
{
    if (!drv->redial)
        return 0;
    (*out)->url = strdup(url);
    if ((*out)->url)
        return 0;
    gt_db_close(*out);
    *out = NULL;
    return -ENOMEM;
}

int gt_db_open(gt_db **out, const char *url, int64_t deadline)
{
    char err[256];
    gt__db_url u;
    const gt__db_driver *drv;
    int rc;

    if (!out)
        return -EINVAL;
    *out = NULL;
    rc = gt__db_url_parse(&u, url, err, sizeof(err));
    if (rc == 0 && (rc = gt__db_url_check(&u, err, sizeof(err))) < 0)
        gt__db_url_free(&u); /* gt_db_check_url() has the message */
    if (rc == -EPROTONOSUPPORT)
        *out = bare_failed(err);
    if (rc < 0)
        return rc == -EPROTONOSUPPORT && !*out ? -ENOMEM : rc;
    drv = find_driver(u.scheme);
    if (!drv || !drv->open) {
        *out = bare_failed(strcmp(u.scheme, "redis") == 0
                               ? "a redis:// URL is opened by "
                                 "gt_redis_open_url() or a pool, not "
                                 "gt_db_open()"
                               : "this build has no driver for the scheme");
        rc = *out ? -EPROTONOSUPPORT : -ENOMEM;
    } else if ((rc = gt__db_connect_deadline(&u, deadline, &deadline)) == 0) {
        rc = open_with(out, drv, &u, deadline);
    }
    if (rc == 0)
        rc = set_up(out, &u, deadline);
    if (rc == 0)
        rc = keep_url(out, drv, url);
    gt__db_url_free(&u);
    return rc;
}

void gt_db_close(gt_db *db)
{
    if (!db)
        return;
    gt__db_init_free(db);
    free(db->url);
    if (db->drv && db->drv->close)
        db->drv->close(db);
    else
        free(db);
}

/* ---- accessors ----------------------------------------------------------- */

const char *gt_db_backend(const gt_db *db)
{
    return db && db->drv ? db->drv->name : "";
}

const char *gt_db_errmsg(const gt_db *db)
{
    return db ? db->errmsg : "no connection";
}

const char *gt_db_sqlstate(const gt_db *db)
{
    return db ? db->sqlstate : "";
}

int gt_db_errcode(const gt_db *db)
{
    return db ? db->errcode : 0;
}

int gt_db_broken(const gt_db *db)
{
    return !db || db->broken || db->failed_open;
}

int gt_db_tx_depth(const gt_db *db)
{
    return db ? db->tx_depth : 0;
}

int64_t gt_db_changes(const gt_db *db)
{
    return db ? db->changes : -EINVAL;
}

int64_t gt_db_last_insert_id(const gt_db *db)
{
    return db ? db->last_id : -EINVAL;
}

/* ---- statements ---------------------------------------------------------- */

/* 0 if 'db' can take a call; else the error, leaving the message that
 * explains it (the failed open's, or what broke the connection). */
static int usable(gt_db *db)
{
    if (!db)
        return -EINVAL;
    if (db->failed_open)
        return -ENOTCONN;
    if (db->broken)
        return -ECONNRESET;
    gt__db_clear_error(db);
    return 0;
}

static int check_params(gt_db *db, const gt_db_value *params, int n)
{
    if (n < 0 || (n > 0 && !params))
        return gt__db_error(db, -EINVAL, 0, NULL, "bad parameter array");
    for (int i = 0; i < n; i++) {
        const gt_db_value *v = &params[i];

        if (v->type < GT_DB_NULL || v->type > GT_DB_BLOB)
            return gt__db_error(db, -EINVAL, 0, NULL,
                                "parameter %d has unknown type %d", i + 1,
                                v->type);
        if ((v->type == GT_DB_TEXT || v->type == GT_DB_BLOB) && !v->u.s.p &&
            v->u.s.n > 0)
            return gt__db_error(db, -EINVAL, 0, NULL,
                                "parameter %d: NULL pointer with length "
                                "%zu",
                                i + 1, v->u.s.n);
    }
    return 0;
}

/* Does 'sql' start with 'word' (case-insensitive, then a non-letter)? */
static bool starts_with_word(const char *sql, const char *word)
{
    size_t n = strlen(word);
    char c;

    if (strncasecmp(sql, word, n) != 0)
        return false;
    c = sql[n]; /* in bounds: sql matched n non-NUL bytes */
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_');
}

/* Could 'sql' leave state in the session that the next user of a pooled
 * connection must not inherit? A cheap, conservative guess: a false alarm
 * costs one reset, a miss leaks a setting, so functions with session
 * effects are looked for anywhere in the text.
 *
 * This runs on every statement, so it compares a statement only with the
 * first words that start with its first letter (a SELECT meets "SET"
 * alone), and scans for the 'anywhere' names only when the text holds an
 * underscore, which all of them do: ~250 instructions for the showcase's
 * SELECT where comparing with every word took ~1,030 (bench/README.md,
 * issue 15). That is also why the verdict is not cached with the prepared
 * statement: looking the SQL up there hashes and compares the whole text,
 * ~300 instructions, which is no cheaper. */
static bool may_dirty_session(const char *sql)
{
    static const char *const first[] = {
        "SET",     "CREATE TEMP", "CREATE TEMPORARY", "CREATE GLOBAL TEMP",
        "DECLARE", "PREPARE",     "LISTEN",           "USE",
        "LOCK",    "PRAGMA",      "ATTACH",           "DETACH",
        "LOAD",
    };
    static const char *const anywhere[] = {
        "set_config",
        "advisory_lock",
        "get_lock",
    };
    char c;

    sql += strspn(sql, " \t\r\n(");
    c = *sql >= 'a' && *sql <= 'z' ? (char)(*sql - 'a' + 'A') : *sql;
    for (size_t i = 0; c && i < sizeof(first) / sizeof(first[0]); i++)
        if (first[i][0] == c && starts_with_word(sql, first[i]))
            return true;
    if (!strchr(sql, '_'))
        return false;
    for (size_t i = 0; i < sizeof(anywhere) / sizeof(anywhere[0]); i++)
        if (strcasestr(sql, anywhere[i]))
            return true;
    return false;
}

/* After any statement: follow transactions the server opened or ended
 * without us. */
static void after_statement(gt_db *db)
{
    db->alive_at = gt_now();
    if (!db->drv->in_tx || db->broken)
        return;
    if (db->drv->awaiting && db->drv->awaiting(db))
        return; /* interrupted: the server's word on it is still to come */
    if (!db->drv->in_tx(db))
        db->tx_depth = 0;
    else if (db->tx_depth == 0)
        db->tx_depth = 1; /* a BEGIN sent by hand */
}

/* Run one statement through the driver; rows to *out unless out is NULL.
 * 'checked': the statement before had the same SQL, and its session check
 * stands for this one too. */
static int64_t run_checked(gt_db *db, gt_rows **out, const char *sql,
                           const gt_db_value *params, int nparams,
                           int64_t deadline, bool checked)
{
    int64_t rc;

    if (!sql)
        return gt__db_error(db, -EINVAL, 0, NULL, "no SQL given");
    rc = check_params(db, params, nparams);
    if (rc < 0)
        return rc;
    if (!checked && may_dirty_session(sql))
        db->session_dirty = true;
    db->in_call++;
    rc = db->drv->query(db, out, sql, params, nparams, deadline);
    db->in_call--;
    if (rc < 0 && out && *out) {
        gt_rows_free(*out); /* a driver must not hand out rows on error */
        *out = NULL;
    }
    after_statement(db);
    return rc;
}

static int64_t run(gt_db *db, gt_rows **out, const char *sql,
                   const gt_db_value *params, int nparams, int64_t deadline)
{
    return run_checked(db, out, sql, params, nparams, deadline, false);
}

int64_t gt_db_exec(gt_db *db, const char *sql, const gt_db_value *params,
                   int nparams, int64_t deadline)
{
    int rc = usable(db);

    if (rc == 0)
        rc = gt__db_redial_if_dead(db, deadline);
    return rc < 0 ? rc : run(db, NULL, sql, params, nparams, deadline);
}

int gt_db_query(gt_db *db, gt_rows **out, const char *sql,
                const gt_db_value *params, int nparams, int64_t deadline)
{
    int64_t rc;

    if (!out)
        return db ? gt__db_error(db, -EINVAL, 0, NULL, "no result pointer")
                  : -EINVAL;
    *out = NULL;
    rc = usable(db);
    if (rc == 0)
        rc = gt__db_redial_if_dead(db, deadline);
    if (rc == 0)
        rc = run(db, out, sql, params, nparams, deadline);
    if (rc >= 0 && !*out)
        rc = gt__db_error(db, -ENOMEM, 0, NULL, "no result made");
    return rc > INT32_MAX ? INT32_MAX : (int)rc;
}

static int batch_in_order(gt_db *db, gt_rows **out, const gt_db_stmt *stmts,
                          int n, int64_t deadline)
{
    for (int i = 0; i < n; i++) {
        bool same = i > 0 && gt__db_same_sql(stmts[i - 1].sql, stmts[i].sql);
        int64_t rc = run_checked(db, &out[i], stmts[i].sql, stmts[i].params,
                                 stmts[i].nparams, deadline, same);

        if (rc < 0)
            return (int)rc;
    }
    return 0;
}

int gt_db_batch(gt_db *db, gt_rows **out, const gt_db_stmt *stmts, int n,
                int64_t deadline)
{
    int rc = usable(db);

    if (rc < 0)
        return rc;
    if (n < 0 || (n > 0 && (!out || !stmts)))
        return gt__db_error(db, -EINVAL, 0, NULL, "bad batch arguments");
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        if (!stmts[i].sql)
            return gt__db_error(db, -EINVAL, 0, NULL, "statement %d has no SQL",
                                i + 1);
        rc = check_params(db, stmts[i].params, stmts[i].nparams);
        if (rc < 0)
            return rc;
    }
    rc = gt__db_redial_if_dead(db, deadline);
    if (rc < 0)
        return rc;
    if (!db->drv->batch)
        return batch_in_order(db, out, stmts, n, deadline);
    for (int i = 0; i < n; i++)
        if (i == 0 || !gt__db_same_sql(stmts[i - 1].sql, stmts[i].sql))
            db->session_dirty |= may_dirty_session(stmts[i].sql);
    db->in_call++;
    rc = db->drv->batch(db, out, stmts, n, deadline);
    db->in_call--;
    after_statement(db);
    return rc;
}

int gt_db_ping(gt_db *db, int64_t deadline)
{
    int rc = usable(db);

    if (rc < 0 || !db->drv->ping)
        return rc;
    db->in_call++;
    rc = db->drv->ping(db, deadline);
    db->in_call--;
    return rc;
}

int gt_db_reset(gt_db *db, int64_t deadline)
{
    int rc = usable(db);

    if (rc < 0)
        return rc;
    db->in_call++;
    rc = db->drv->reset ? db->drv->reset(db, deadline) : 0;
    db->in_call--;
    if (rc == 0) {
        db->tx_depth = 0;
        db->session_dirty = false;
    }
    after_statement(db);
    if (rc == 0 && !db->drv->reset_keeps_session)
        rc = gt__db_init_run(db, deadline); /* see init.c */
    return rc;
}

/* ---- transactions -------------------------------------------------------- */

/* Run one transaction-control statement; 'fmt' may take the depth. */
static int tx_statement(gt_db *db, const char *fmt, int depth, int64_t deadline)
{
    char sql[64];

    snprintf(sql, sizeof(sql), fmt, depth);
    return (int)run(db, NULL, sql, NULL, 0, deadline);
}

int gt_db_begin(gt_db *db, int64_t deadline)
{
    int depth, rc = usable(db);

    if (rc < 0)
        return rc;
    depth = db->tx_depth;
    rc = tx_statement(db, depth == 0 ? "BEGIN" : "SAVEPOINT gt_sp_%d", depth,
                      deadline);
    if (rc >= 0)
        db->tx_depth = depth + 1;
    return rc < 0 ? rc : 0;
}

int gt_db_commit(gt_db *db, int64_t deadline)
{
    int depth, rc = usable(db);

    if (rc < 0)
        return rc;
    depth = db->tx_depth;
    if (depth == 0)
        return gt__db_error(db, -EINVAL, 0, NULL,
                            "commit without an open transaction (the "
                            "server may have rolled it back)");
    rc = tx_statement(db,
                      depth == 1 ? "COMMIT"
                                 : "RELEASE SAVEPOINT "
                                   "gt_sp_%d",
                      depth - 1, deadline);
    if (rc >= 0 && db->tx_depth == depth)
        db->tx_depth = depth - 1;
    return rc < 0 ? rc : 0;
}

int gt_db_rollback(gt_db *db, int64_t deadline)
{
    int depth, rc = usable(db);

    if (rc < 0)
        return rc;
    depth = db->tx_depth;
    if (depth == 0)
        return 0; /* see the file comment */
    if (depth == 1) {
        rc = tx_statement(db, "ROLLBACK", 0, deadline);
    } else {
        rc = tx_statement(db, "ROLLBACK TO SAVEPOINT gt_sp_%d", depth - 1,
                          deadline);
        if (rc >= 0)
            rc = tx_statement(db, "RELEASE SAVEPOINT gt_sp_%d", depth - 1,
                              deadline);
    }
    if (rc >= 0 && db->tx_depth == depth)
        db->tx_depth = depth - 1;
    return rc < 0 ? rc : 0;
}

/* ---- parameter constructors ---------------------------------------------- */

gt_db_value gt_db_null(void)
{
    return (gt_db_value){.type = GT_DB_NULL};
}

gt_db_value gt_db_int(int64_t v)
{
    return (gt_db_value){.type = GT_DB_INT, .u.i = v};
}

gt_db_value gt_db_float(double v)
{
    return (gt_db_value){.type = GT_DB_FLOAT, .u.f = v};
}

gt_db_value gt_db_text(const char *s)
{
    return s ? gt_db_textn(s, strlen(s)) : gt_db_null();
}

gt_db_value gt_db_textn(const char *p, size_t n)
{
    return (gt_db_value){.type = GT_DB_TEXT,
                         .u.s = {p ? (const void *)p : "", p ? n : 0}};
}

gt_db_value gt_db_blob(const void *p, size_t n)
{
    return (gt_db_value){.type = GT_DB_BLOB, .u.s = {p ? p : "", p ? n : 0}};
}
