/* db/sqlite.c -- the SQLite driver: an in-process database behind the same
 * yielding API as the network backends.
 *
 * A statement here is CPU and page-cache work on the calling thread, plus
 * file locks and the odd fsync; there is no socket to park on. Two ways to
 * keep it from stalling the worker's other coroutines, chosen per URL:
 *
 *   mode=inline (default). sqlite3_step() runs on the coroutine's stack. A
 *   progress handler, called every PROGRESS_STEPS VM steps, lets the loop
 *   run once the statement has held the thread for SLICE_NS, and
 *   interrupts the statement (-ECANCELED / -ETIMEDOUT) once the coroutine
 *   is cancelled or the deadline has passed. A short statement -- nearly
 *   all of them -- costs no switch at all: "SELECT ?" takes ~1 us here
 *   against ~35 us offloaded, which is why this is the default. What it
 *   cannot hide is I/O inside one step (a cold page read, an fsync); WAL
 *   with synchronous=NORMAL keeps fsyncs off the commit path. And it is
 *   bounded by the coroutine's stack: a plain query uses ~6 KiB, compiling
 *   is moved off the stack (set_limits), but some SQL functions recurse on
 *   their data -- json_*() on 2000-deep JSON needs ~130 KiB -- so feed
 *   such input to offload mode or give coroutines bigger stacks.
 *
 *   mode=offload. Each call runs on the runtime's driver thread pool
 *   (gt_run_on(GT_THREADS_DRIVER), apart from the application's offload)
 *   while the coroutine parks. A pool thread cannot yield, so a timer on the
 * worker checks every WATCH_MS for cancellation and the deadline, and stops the
 *   statement (sqlite3_interrupt(), plus a flag the progress handler reads,
 *   since an interrupt sent just before a statement starts is forgotten).
 *
 * Either way only one thread touches a connection at a time -- the
 * coroutine waits for the job, and the pool's queue lock orders memory
 * between the two -- so connections are opened NOMUTEX: SQLite's per-call
 * mutex would buy nothing. An interrupted statement is reset and the
 * connection stays usable; if SQLite rolled back the transaction around
 * it, db.c notices through in_tx.
 *
 * Statements are prepared once (SQLITE_PREPARE_PERSISTENT) and kept in the
 * LRU cache; after each use they are reset and their bindings cleared, so
 * parameters are bound SQLITE_STATIC: they only have to outlive the call.
 * One statement per call: trailing SQL is an error, not silently dropped.
 *
 * The handlers that keep a statement cooperative -- progress, busy, the
 * offload watchdog -- are sqlite_coop.c's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sqlite.h"

#define DEFAULT_BUSY_TIMEOUT_MS 5000
/* Compile-time recursion allowed on a coroutine's stack; see set_limits. */
#define INLINE_EXPR_DEPTH 50
#define INLINE_COMPOUND_SELECT 50

/* ---- statements ---------------------------------------------------------- */

static void evict_stmt(void *ctx, void *handle, bool server_alive)
{
    sq_stmt *s = handle;

    (void)ctx;
    (void)server_alive;
    sqlite3_finalize(s->st);
    free(s);
}

/* Fail if 'tail' holds another statement: running only the first one
 * would silently drop the rest. */
static int check_tail(sq_conn *c, const char *tail)
{
    sqlite3_stmt *next = NULL;

    if (sqlite3_prepare_v2(c->db, tail, -1, &next, NULL) == SQLITE_OK && !next)
        return 0;
    sqlite3_finalize(next);
    return gt__db_error(&c->base, -EINVAL, 0, NULL,
                        "more than one "
                        "statement in one call; use gt_db_batch()");
}

/* Compiling a statement recurses about 400 bytes per level of a long
 * expression ("a OR b OR ...", "1 + 1 + ...") and 500 per term of a
 * compound SELECT, so 150 terms overflow a 64 KiB coroutine stack. Inline
 * mode therefore compiles on the thread pool (prepare_job) with SQLite's
 * full limits, and keeps them low the rest of the time: the only compile
 * left on the coroutine's stack is SQLite's automatic re-compile inside
 * sqlite3_step() after a schema change, which then fails cleanly instead
 * of overflowing (and the statement is dropped from the cache, so the next
 * call compiles it off-stack again). Offload mode never lowers them. */
static void set_limits(sq_conn *c, bool full)
{
    if (c->offload)
        return;
    sqlite3_limit(c->db, SQLITE_LIMIT_EXPR_DEPTH,
                  full ? c->expr_depth : INLINE_EXPR_DEPTH);
    sqlite3_limit(c->db, SQLITE_LIMIT_COMPOUND_SELECT,
                  full ? c->compound : INLINE_COMPOUND_SELECT);
}

/* The prepared statement for 'sql', from the cache or made now. */
static int prepare(sq_conn *c, const char *sql, sq_stmt **out)
{
    const char *tail = NULL;
    sqlite3_stmt *st = NULL;
    sq_stmt *s;
    int rc, n;

    *out = gt__stmt_cache_get(&c->cache, sql);
    if (*out)
        return 0;
    set_limits(c, true);
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                            &tail);
    if (rc == SQLITE_OK && st)
        rc = check_tail(c, tail);
    set_limits(c, false);
    if (rc < 0) {
        sqlite3_finalize(st);
        return rc;
    }
    if (rc != SQLITE_OK)
        return gt__sq_fail(c, rc);
    if (!st)
        return gt__db_error(&c->base, -EINVAL, 0, NULL, "empty statement");
    n = sqlite3_column_count(st);
    s = malloc(sizeof(*s) + (size_t)n * sizeof(s->types[0]));
    if (!s) {
        sqlite3_finalize(st);
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    }
    *s = (sq_stmt){.st = st, .reprepares = -1, .ncols = n};
    if (gt__stmt_cache_put(&c->cache, sql, s) < 0) /* evicts s */
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    *out = s;
    return 0;
}

static int bind_one(sqlite3_stmt *st, int i, const gt_db_value *v)
{
    switch (v->type) {
    case GT_DB_INT:
        return sqlite3_bind_int64(st, i, v->u.i);
    case GT_DB_FLOAT:
        return sqlite3_bind_double(st, i, v->u.f);
    case GT_DB_TEXT:
        return sqlite3_bind_text64(st, i, v->u.s.p, v->u.s.n, SQLITE_STATIC,
                                   SQLITE_UTF8);
    case GT_DB_BLOB:
        return sqlite3_bind_blob64(st, i, v->u.s.p, v->u.s.n, SQLITE_STATIC);
    default:
        return sqlite3_bind_null(st, i);
    }
}

static int bind_all(sq_conn *c, sqlite3_stmt *st, const gt_db_value *params,
                    int n)
{
    int want = sqlite3_bind_parameter_count(st);

    if (want != n)
        return gt__db_error(&c->base, -EINVAL, 0, NULL,
                            "the statement has "
                            "%d placeholders but %d parameters were given",
                            want, n);
    for (int i = 0; i < n; i++) {
        int rc = bind_one(st, i + 1, &params[i]);

        if (rc != SQLITE_OK)
            return gt__sq_fail(c, rc);
    }
    return 0;
}

/* Our type for a declared column type, by SQLite's affinity rules widened
 * to the names other databases use; GT_DB_NULL when there is none. */
static int decl_type(const char *decl)
{
    static const struct {
        const char *word;
        int type;
    } rules[] = {
        {"INT", GT_DB_INT},     {"BOOL", GT_DB_INT},   {"CHAR", GT_DB_TEXT},
        {"CLOB", GT_DB_TEXT},   {"TEXT", GT_DB_TEXT},  {"BLOB", GT_DB_BLOB},
        {"BINARY", GT_DB_BLOB}, {"BYTEA", GT_DB_BLOB}, {"REAL", GT_DB_FLOAT},
        {"FLOA", GT_DB_FLOAT},  {"DOUB", GT_DB_FLOAT}, {"NUM", GT_DB_FLOAT},
        {"DEC", GT_DB_FLOAT},
    };

    if (!decl || !*decl)
        return GT_DB_NULL;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strcasestr(decl, rules[i].word))
            return rules[i].type;
    return GT_DB_TEXT; /* dates, JSON, UUID, ... */
}

/* The result for 's', once its first step fixed the columns. */
static gt_rows *new_result(sq_stmt *s)
{
    sqlite3_stmt *st = s->st;
    int n = sqlite3_column_count(st);
    int again = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_REPREPARE, 0);
    bool cached = n == s->ncols; /* else made afresh each time */
    gt_rows *r = gt__rows_new(n);

    if (cached && s->reprepares != again) {
        for (int i = 0; i < n; i++)
            s->types[i] = decl_type(sqlite3_column_decltype(st, i));
        s->reprepares = again;
    }
    for (int i = 0; r && i < n; i++) {
        const char *name = sqlite3_column_name(st, i);
        int t =
            cached ? s->types[i] : decl_type(sqlite3_column_decltype(st, i));

        if (gt__rows_set_column(r, i, name ? name : "", t)) {
            gt_rows_free(r);
            r = NULL;
        }
    }
    return r;
}

/* Copy column i, whose value has our type t, into the last row. */
static int copy_cell(gt_rows *r, sqlite3_stmt *st, int i, int t)
{
    const void *p;
    size_t n;

    switch (t) {
    case GT_DB_INT:
        return gt__rows_put_int(r, i, sqlite3_column_int64(st, i));
    case GT_DB_FLOAT:
        return gt__rows_put_float(r, i, sqlite3_column_double(st, i));
    case GT_DB_TEXT:
        p = sqlite3_column_text(st, i);
        n = (size_t)sqlite3_column_bytes(st, i);
        return p ? gt__rows_put_text(r, i, p, n) : -ENOMEM;
    case GT_DB_BLOB:
        p = sqlite3_column_blob(st, i);
        n = (size_t)sqlite3_column_bytes(st, i);
        return p || n == 0 ? gt__rows_put_blob(r, i, p, n) : -ENOMEM;
    default:
        return 0;
    }
}

/* Append the current row. A column with no declared type takes the type
 * of its first non-NULL value. */
static int copy_row(gt_rows *r, sqlite3_stmt *st)
{
    int n = gt_rows_columns(r), rc = gt__rows_add_row(r);

    for (int i = 0; rc == 0 && i < n; i++) {
        /* Ask for the type before reading: reading may convert. SQLite's
         * codes are ours, but for NULL (5). */
        int t = sqlite3_column_type(st, i);

        t = t == SQLITE_NULL ? GT_DB_NULL : t;

        rc = copy_cell(r, st, i, t);
        if (rc == 0 && t != GT_DB_NULL && gt_rows_type(r, i) == GT_DB_NULL)
            rc = gt__rows_set_column(r, i, NULL, t);
    }
    return rc;
}

/* Step 'st' to the end; rows go to *k->out when asked for. */
static int step_all(sq_call *k, sq_stmt *s, int64_t *nrows)
{
    sqlite3_stmt *st = s->st;
    gt_rows *r = NULL;
    int rc;

    for (*nrows = 0;; ++*nrows) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            break;
        if (k->out && !r && !(r = new_result(s)))
            rc = SQLITE_NOMEM;
        else if (rc == SQLITE_ROW && r && copy_row(r, st) < 0)
            rc = SQLITE_NOMEM;
        if (rc != SQLITE_ROW)
            break;
    }
    if (rc != SQLITE_DONE) {
        gt_rows_free(r);
        return rc == SQLITE_NOMEM ? gt__db_error(&k->c->base, -ENOMEM, 0, NULL,
                                                 "out of memory")
                                  : gt__sq_fail(k->c, rc);
    }
    if (k->out)
        *k->out = r;
    return 0;
}

static int prepare_job(void *arg)
{
    sq_call *k = arg;

    return k->st ? 0 : prepare(k->c, k->sql, &k->st);
}

/* Bind, step, collect, reset. */
static int execute_job(void *arg)
{
    sq_call *k = arg;
    sq_conn *c = k->c;
    sqlite3_int64 total = sqlite3_total_changes64(c->db);
    int64_t nrows = 0;
    int rc = bind_all(c, k->st->st, k->params, k->nparams);

    if (rc == 0)
        rc = step_all(k, k->st, &nrows);
    sqlite3_reset(k->st->st);
    sqlite3_clear_bindings(k->st->st);
    c->base.changes =
        sqlite3_total_changes64(c->db) != total ? sqlite3_changes64(c->db) : 0;
    c->base.last_id = sqlite3_last_insert_rowid(c->db);
    k->result = k->out ? nrows : c->base.changes;
    /* Maybe a re-compile failed under the low limits: see set_limits. */
    if (rc == GT_EDB && !c->offload &&
        ((c->base.errcode & 0xff) == SQLITE_ERROR ||
         (c->base.errcode & 0xff) == SQLITE_SCHEMA))
        gt__stmt_cache_remove(&c->cache, k->sql, true);
    return rc;
}

static int statement_job(void *arg)
{
    int rc = prepare_job(arg);

    return rc < 0 ? rc : execute_job(arg);
}

/* Offload: all of it on the pool. Inline: compile on the pool if the
 * statement is new, run it here. Outside coroutines: all of it here. */
static int run_statement(sq_call *k)
{
    sq_conn *c = k->c;
    int rc;

    if (c->offload || !gt_co_self())
        return gt__sq_dispatch(statement_job, k);
    if (!k->st)
        k->st = gt__stmt_cache_get(&c->cache, k->sql);
    if (!k->st) {
        rc = gt__sq_offload(prepare_job, k);
        if (rc < 0)
            return rc;
    }
    return execute_job(k);
}

/* One call: k->st is the prepared statement when the caller has it
 * already (a batch repeating its SQL), else NULL; either way it is the
 * statement afterwards. */
static int64_t call(sq_call *k, int64_t deadline)
{
    sq_conn *c = k->c;
    int rc = gt__sq_begin_call(c, deadline);

    if (rc < 0)
        return rc;
    rc = run_statement(k);
    c->active = false;
    if (rc == 0 && k->out && gt__rows_track(*k->out) < 0) {
        gt_rows_free(*k->out);
        *k->out = NULL;
        rc = gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    }
    return rc < 0 ? rc : k->result;
}

static int64_t sq_query(gt_db *db, gt_rows **out, const char *sql,
                        const gt_db_value *params, int nparams,
                        int64_t deadline)
{
    sq_call k = {.c = (sq_conn *)db,
                 .out = out,
                 .sql = sql,
                 .params = params,
                 .nparams = nparams};

    return call(&k, deadline);
}

/* ---- connections --------------------------------------------------------- */

static const char *const sync_values[] = {"off", "normal", "full", "extra"};

/* Read the driver's options into c; -EINVAL on a bad one. */
static int read_options(sq_conn *c, const gt__db_url *u, long *cache)
{
    const char *mode = gt__db_url_opt(u, "mode");
    const char *sync = gt__db_url_opt(u, "synchronous");
    int bad1, bad2;
    size_t i;

    c->offload = mode && strcmp(mode, "offload") == 0;
    if (mode && !c->offload && strcmp(mode, "inline") != 0)
        return -EINVAL;
    if (c->offload && !sqlite3_threadsafe())
        return -EINVAL; /* no thread may touch it but the worker's */
    c->busy_timeout_ms = (int)gt__db_url_opt_long(
        u, "busy_timeout_ms", DEFAULT_BUSY_TIMEOUT_MS, &bad1);
    *cache = gt__db_url_opt_long(u, "stmt_cache", 0, &bad2);
    for (i = 0; sync && i < 4 && strcasecmp(sync, sync_values[i]); i++)
        ;
    if (bad1 || bad2 || c->busy_timeout_ms < 0 || *cache < 0 || i == 4)
        return -EINVAL;
    strcpy(c->synchronous, sync ? sync_values[i] : "normal");
    return 0;
}

/* The open job: the file, our handlers, WAL. */
static int open_file(void *arg)
{
    sq_call *k = arg;
    sq_conn *c = k->c;
    const char *path = k->url->path ? k->url->path : ":memory:";
    int flags =
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        rc;
    char pragma[64];

    rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rc = gt__db_error(&c->base, GT_EDB, sqlite3_extended_errcode(c->db),
                          NULL, "cannot open '%s': %s", path,
                          sqlite3_errmsg(c->db));
        sqlite3_close(c->db);
        c->db = NULL;
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    c->expr_depth = sqlite3_limit(c->db, SQLITE_LIMIT_EXPR_DEPTH, -1);
    c->compound = sqlite3_limit(c->db, SQLITE_LIMIT_COMPOUND_SELECT, -1);
    set_limits(c, false);
    sqlite3_busy_handler(c->db, gt__sq_on_busy, c);
    sqlite3_progress_handler(c->db, PROGRESS_STEPS, gt__sq_on_progress, c);
    snprintf(pragma, sizeof(pragma),
             "PRAGMA journal_mode=WAL; "
             "PRAGMA synchronous=%s",
             c->synchronous);
    rc = sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
    /* Switching to WAL needs the file to itself, and SQLite does not call
     * the busy handler there (it could deadlock): when connections open
     * at once -- two workers filling a pool -- retry on the handler's
     * schedule, within busy_timeout_ms. */
    for (int n = 0; (rc & 0xff) == SQLITE_BUSY && gt__sq_on_busy(c, n); n++)
        rc = sqlite3_exec(c->db, pragma, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return 0;
    rc = gt__sq_fail(c, rc);
    return gt__db_error(&c->base, rc, c->base.errcode, NULL,
                        "cannot open "
                        "'%s': %s",
                        path, sqlite3_errmsg(c->db));
}

static void sq_close(gt_db *db)
{
    sq_conn *c = (sq_conn *)db;

    gt__stmt_cache_deinit(&c->cache);
    sqlite3_close_v2(c->db);
    if (c->yield_fd >= 0)
        close(c->yield_fd);
    free(c);
}

static int sq_open(gt_db **out, const gt__db_url *u, int64_t deadline)
{
    sq_conn *c = calloc(1, sizeof(*c));
    sq_call k = {.c = c, .url = u};
    long cap;
    int rc;

    if (!c)
        return -ENOMEM;
    gt__db_init_base(&c->base, &gt__db_sqlite_driver);
    c->yield_fd = -1;
    rc = read_options(c, u, &cap);
    if (rc == 0)
        rc = gt__stmt_cache_init(&c->cache, (size_t)cap, evict_stmt, c);
    if (rc < 0) {
        free(c);
        return rc; /* -EINVAL and -ENOMEM come without a handle */
    }
    *out = &c->base;
    rc = gt__sq_begin_call(c, deadline);
    if (rc == 0)
        rc = gt__sq_dispatch(open_file, &k);
    c->active = false;
    c->base.failed_open = rc < 0;
    return rc;
}

static int sq_in_tx(gt_db *db)
{
    sq_conn *c = (sq_conn *)db;

    return c->db && !sqlite3_get_autocommit(c->db);
}

static int sq_reset(gt_db *db, int64_t deadline)
{
    if (!sq_in_tx(db))
        return 0;
    return (int)sq_query(db, NULL, "ROLLBACK", NULL, 0, deadline);
}

/* Undo the batch's own transaction, keeping the failure's message. */
static void undo_batch(gt_db *db, int64_t deadline)
{
    char msg[sizeof(db->errmsg)];
    int code = db->errcode;

    memcpy(msg, db->errmsg, sizeof(msg));
    if (sq_in_tx(db))
        sq_query(db, NULL, "ROLLBACK", NULL, 0, deadline);
    memcpy(db->errmsg, msg, sizeof(msg));
    db->errcode = code;
}

/* Outside a transaction the batch gets one of its own: one file lock for
 * all its statements instead of one each (a 20-statement read took 40
 * fcntl locks and 20 stats), and all or nothing, like PostgreSQL's
 * pipeline. Inside one, it is simply part of it. A statement with the
 * SQL of the one before it runs that one's prepared statement again,
 * without a cache lookup: nothing was prepared in between, so nothing
 * can have evicted it, and a failure ends the batch. */
static int sq_batch(gt_db *db, gt_rows **out, const gt_db_stmt *stmts, int n,
                    int64_t deadline)
{
    bool own = n > 1 && !sq_in_tx(db);
    int64_t rc = own ? sq_query(db, NULL, "BEGIN", NULL, 0, deadline) : 0;
    sq_stmt *last = NULL;

    for (int i = 0; rc >= 0 && i < n; i++) {
        bool same = i > 0 && gt__db_same_sql(stmts[i - 1].sql, stmts[i].sql);
        sq_call k = {.c = (sq_conn *)db,
                     .out = &out[i],
                     .sql = stmts[i].sql,
                     .params = stmts[i].params,
                     .nparams = stmts[i].nparams,
                     .st = same ? last : NULL};

        rc = call(&k, deadline);
        last = k.st;
    }
    if (own && rc >= 0)
        rc = sq_query(db, NULL, "COMMIT", NULL, 0, deadline);
    if (own && rc < 0)
        undo_batch(db, deadline);
    return rc < 0 ? (int)rc : 0;
}

static int sq_ping(gt_db *db, int64_t deadline)
{
    (void)db;
    (void)deadline;
    return 0;
}

const gt__db_driver gt__db_sqlite_driver = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .query = sq_query,
    .batch = sq_batch,
    .ping = sq_ping,
    .reset = sq_reset,
    .in_tx = sq_in_tx,
    .reset_keeps_session = true,
};
