/* db/sqlite.h -- what the SQLite driver's files share: the connection, a
 * call's state, and the cooperation a call runs under.
 *
 * sqlite.c: statements, results and connections (the driver's methods);
 * sqlite_coop.c: the progress, busy and watchdog handlers, and running a
 * call inline or on the driver pool. */
#ifndef GT_DB_SQLITE_H
#define GT_DB_SQLITE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "driver.h"

/* VM steps between calls of the progress handler. */
#define PROGRESS_STEPS 1000

typedef struct sq_conn {
    gt_db base;
    sqlite3 *db;          /* NULL until opened */
    gt__stmt_cache cache; /* SQL -> sq_stmt * */
    bool offload;         /* mode=offload */
    bool active;          /* a call is running: one at a time */
    int busy_timeout_ms;
    int expr_depth, compound; /* SQLite's limits, for compiling off-stack */
    int yield_fd;             /* eventfd for yield_to_loop(); -1 until made */
    char synchronous[8];      /* PRAGMA synchronous value */
    /* State of the running call. */
    int64_t deadline;     /* the call's; the coroutine's own deadline
                           * and cancellation come through the
                           * runtime's waits, or the watchdog */
    bool shielded;        /* the caller is shielded (gt_co_shield):
                           * the watchdog leaves the coroutine's
                           * cancel and deadline alone */
    uint64_t slice_start; /* uv_hrtime() of the last yield (inline) */
    uint64_t busy_start;  /* uv_hrtime() when the lock wait began */
    atomic_int why;       /* 0, or -ECANCELED / -ETIMEDOUT: why we
                           * interrupted; written by the worker, read
                           * by a pool thread in offload mode */
} sq_conn;

/* A prepared statement as the cache keeps it: SQLite's, with the types of
 * its result columns worked out from their declared types once rather than
 * on every call (decl_type() is up to 13 substring searches a column:
 * ~600 instructions a statement of the showcase's, bench/README.md, issue
 * 15). A schema change makes SQLite re-compile the statement inside
 * sqlite3_step() and may change its columns, so the types are made again
 * when SQLite's count of such re-compiles has moved. */
typedef struct sq_stmt {
    sqlite3_stmt *st;
    int reprepares; /* SQLITE_STMTSTATUS_REPREPARE when 'types' was
                       made; -1 until then */
    int ncols;      /* result columns at prepare: 'types' has these */
    int types[];    /* our type of each column, by its declared type */
} sq_stmt;

/* One statement's worth of work, run inline or on a pool thread. */
typedef struct sq_call {
    sq_conn *c;
    const gt__db_url *url; /* open only */
    gt_rows **out;         /* NULL: discard rows */
    const char *sql;
    const gt_db_value *params;
    int nparams;
    sq_stmt *st;    /* the prepared statement, once found */
    int64_t result; /* rows, or rows changed */
} sq_call;

/* sqlite_coop.c */
/* Turn a failed SQLite result into ours, recording the details. */
int gt__sq_fail(sq_conn *c, int rc);
/* SQLite's progress handler (arg: the sq_conn): yields to the loop once a
 * statement has held the thread for a slice, and interrupts it when the
 * call is cancelled or late. Nonzero interrupts. */
int gt__sq_on_progress(void *arg);
/* SQLite's busy handler: sleeps the coroutine (or the pool thread) with
 * back-off; 0 gives up (busy_timeout_ms, the deadline, a cancel). */
int gt__sq_on_busy(void *arg, int count);
/* Start a call on c: one at a time, not when cancelled or late (unless
 * shielded). 0, or an error with the message set. */
int gt__sq_begin_call(sq_conn *c, int64_t deadline);
/* fn(k) on the driver pool with the watchdog armed, parking meanwhile. */
int gt__sq_offload(int (*fn)(void *), sq_call *k);
/* fn(k) on the driver pool in offload mode, else right here. */
int gt__sq_dispatch(int (*fn)(void *), sq_call *k);

#endif
