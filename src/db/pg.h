/* db/pg.h -- what the PostgreSQL driver's files share: the connection and
 * the few functions one file needs of another.
 *
 * pg.c: the driver's methods and the connection's I/O; pg_connect.c:
 * connecting; pg_trip.c: round trips (pipelines); pg_values.c: parameters
 * out, result cells in.
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

/* What the server will answer to, in the order it answers. */
enum item_kind { IT_SYNC, IT_RAW, IT_DROP, IT_PREP, IT_EXEC };

typedef struct pg_item {
    enum item_kind kind;
    int stmt;    /* the caller's statement (PREP, EXEC), else -1 */
    uint64_t id; /* statement number (DROP, PREP, EXEC); 0 = unnamed */
} pg_item;

/* One round trip: what was sent and how far the answers have been read.
 * Invariant: items[0..pos) are fully read; items[pos] has had its result
 * but not yet the NULL that ends it when in_item is set. */
typedef struct pg_trip {
    pg_conn *c;
    const gt_db_stmt *stmts; /* the caller's statements */
    int nstmts;
    const char *const *raw; /* unprepared SQL, each in its own Sync */
    int nraw;
    gt_rows **out; /* rows per statement; NULL: counts only */
    pg_item *items;
    int nitems, pos;
    bool in_item;
    bool draining;          /* interrupted: read the rest, keep nothing */
    int rc;                 /* the error to report, 0 if none */
    int failed;             /* its statement (INT_MAX if none): out[k..]
                             * are freed and left NULL */
    int64_t changes, count; /* of the last statement that ran */
    uint64_t last_id;       /* the named statement planned last, 0 if none
                             * (or unnamed): the next one reuses it when it
                             * is the same (gt__pg_same_stmt) */
    pg_item inline_items[8];
} pg_trip;

/* libpq's four parameter arrays, laid out in the connection's scratch. */
typedef struct pg_params {
    const char **val;
    int *len, *fmt;
    Oid *type;
} pg_params;

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
/* Statement 'id' is to be DEALLOCATEd with the next round trip (on OOM it
 * simply lives on until the session ends). */
void gt__pg_drop_later(pg_conn *c, uint64_t id);
/* Send what libpq has queued (reading meanwhile). 0 or an error. */
int gt__pg_flush(pg_conn *c, int64_t deadline);
/* The next result (NULL ends one statement's results), parking until
 * libpq has it all. 0 or a wait's error. */
int gt__pg_await_result(pg_conn *c, PGresult **res, int64_t deadline);

/* pg_trip.c */
/* Send t's raw SQL and statements as one pipeline and read every answer.
 * 't' comes filled with what to send (stmts/nstmts, raw/nraw, out) and
 * zeros. Returns 0 or the first error; the connection is then clean,
 * unsettled (interrupted: pg_settle.c) or broken. */
int gt__pg_run(pg_conn *c, pg_trip *t, int64_t deadline);

/* pg_values.c */
/* Grow an array to hold 'need' elements: the (maybe moved) array, or NULL
 * on OOM with the old one untouched. */
void *gt__pg_grow(void *p, size_t *cap, size_t need, size_t size);
/* Decimal without snprintf, NUL-terminated (21 bytes suffice): the length. */
size_t gt__pg_fmt_u64(char *p, uint64_t v);
/* The cache key of 's': its SQL, prefixed by its parameter types when it
 * has any ("il:SELECT ?, ?"). Borrowed from c: valid until the next call;
 * NULL on OOM. */
const char *gt__pg_stmt_key(pg_conn *c, const gt_db_stmt *s);
/* The value of an integer in PostgreSQL's text form ('-'? digits; "" is
 * 0), as strtoll() reads it: by hand up to 18 digits, which is nearly
 * always (strtoll() took ~140 instructions a cell, issue 15). */
int64_t gt__pg_parse_int(const char *s);
/* Whether a and b have the same cache key (SQL and parameter types), so
 * that b may run a's prepared statement. */
bool gt__pg_same_stmt(const gt_db_stmt *a, const gt_db_stmt *b);
/* Lay out s's parameters for libpq in c's scratch: 0, -ENOMEM, or -EINVAL
 * (a NUL in text, a blob over INT_MAX). */
int gt__pg_encode(pg_conn *c, const gt_db_stmt *s, pg_params *e);
/* A result's rows as ours: 0 or -ENOMEM. */
int gt__pg_rows_from(const PGresult *r, gt_rows **out);

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
