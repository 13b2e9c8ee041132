/* db/mysql.h -- what the MariaDB backend's files share: mysql.c (the
 * driver: connections, statements, results) and mysql_settle.c (what
 * becomes of a statement interrupted by its deadline or a cancel). */
#ifndef GT_DB_MYSQL_H
#define GT_DB_MYSQL_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "driver.h"

/* A libmariadb handle and the registration of its socket with the loop. */
typedef struct my_io {
    MYSQL *my;
    gt_fdwatch watch; /* poll NULL, or watching mysql_get_socket() */
    bool lib_timeout; /* we passed MYSQL_WAIT_TIMEOUT to the call */
} my_io;

/* TLS from the URL (mysql_tls.c): the mode, in increasing strictness,
 * and the files. */
enum { MY_TLS_OFF, MY_TLS_REQUIRE, MY_TLS_VERIFY_CA, MY_TLS_VERIFY_FULL };

typedef struct my_tls {
    int mode;                           /* MY_TLS_*; OFF: the rest is NULL */
    char *ca, *cert, *key, *passphrase; /* owned; NULL: not given */
} my_tls;

/* Where to connect; kept for the side connection that sends KILL QUERY,
 * which goes over TLS like its connection. */
typedef struct my_target {
    char *host, *user, *password; /* owned; NULL = library default */
    unsigned int port;
    unsigned int connect_s; /* library connect timeout, whole seconds */
    my_tls tls;
} my_target;

/* One suspended library call: which one, and where its result goes. */
enum op_kind {
    OP_CONNECT,
    OP_QUERY,
    OP_PING,
    OP_RESET,
    OP_PREPARE,
    OP_EXECUTE,
    OP_STORE,
    OP_NEXT
};

typedef struct my_op {
    enum op_kind kind;
    my_io *io;
    MYSQL_STMT *st;
    int ret;     /* result of the int-returning calls */
    MYSQL *mret; /* result of connect */
} my_op;

typedef struct my_kill my_kill;

typedef struct my_conn {
    gt_db base; /* first: a gt_db * is a my_conn * */
    my_io io;
    my_target target;
    unsigned long thread_id; /* server connection id; 0 until connected */
    int64_t connect_ms;
    gt__stmt_cache cache; /* SQL text -> MYSQL_STMT * */
    bool cache_ready;
    bool status_stale; /* after a reset: the library still shows the
                        * old SERVER_STATUS_IN_TRANS, but the server
                        * rolled back; cleared by the next command */
    /* An interrupted command not wound down yet (mysql_settle.c): the
     * library call left suspended ('pend', waiting for 'pend_status'),
     * its statement (closed after the settle when 'pend_owned': it was
     * not cached), the KILL QUERY on its way, and when to give up. */
    bool unsettled;
    my_op pend;
    int pend_status;
    bool pend_owned;
    my_kill *kill;
    int64_t settle_by;
} my_conn;

/* mysql_io.c */
/* Drive a started call ('status' from its _start()) to its end; on c
 * (NULL for the side connection's calls) an interruption defers the rest
 * (gt__my_defer()). 0 (succeeded), 1 (failed: the library holds the
 * error) or a negative error. */
int gt__my_run(my_conn *c, my_op *op, int status, int64_t deadline);
/* Wait for what the library asked ('status'): the MYSQL_WAIT_* events to
 * give its _cont(), or a negative error. */
int gt__my_io_wait(my_io *io, int status, int64_t deadline);
/* Continue the suspended call 'op' with 'events'; its next status. */
int gt__my_op_cont(my_op *op, int events);
/* Forget the watch if the library closed or replaced its socket. */
void gt__my_sync_watch(my_io *io);
/* Make io->my and connect it to 't'. gt__my_run()'s result, or -ENOMEM. */
int gt__my_io_connect(my_io *io, const my_target *t, const char *dbname,
                      my_conn *c, int64_t deadline);
/* Continue the started call 'op' until it ends (*status 0): 0, or the
 * wait's error with the call still suspended and *status saying for what,
 * so that it can be continued later. */
int gt__my_drive(my_op *op, int *status, int64_t deadline);
/* Copy the strings of a target into t (port and timeout are the
 * caller's): 0 or -ENOMEM (what was copied is freed by
 * gt__my_target_free()). */
int gt__my_target_copy(my_target *t, const char *host, const char *user,
                       const char *password);
/* A deep copy of 'src' into 'dst': 0 or -ENOMEM (free dst either way). */
int gt__my_target_dup(my_target *dst, const my_target *src);
void gt__my_target_free(my_target *t);
/* Close the handle; 'dirty': mid-protocol, so shut the socket down first. */
void gt__my_io_close(my_io *io, bool dirty);
/* Mark 'c' unusable and shut its socket down; returns rc. */
int gt__my_set_broken(my_conn *c, int rc);

/* mysql.c */
/* Close a statement handle (the cache's evict callback). */
void gt__my_evict_stmt(void *ctx, void *handle, bool server_alive);
/* Record st's failed call's error on c (mapped to our code). */
int gt__my_stmt_error(my_conn *c, MYSQL_STMT *st);

/* mysql_tls.c */
/* Read and check the URL's TLS options into c->target.tls: 0, or -EINVAL
 * / -ENOMEM with the message set. */
int gt__my_tls_setup(my_conn *c, const gt__db_url *u);
/* Set t's options on a handle before its connect: 0 or -ENOMEM. */
int gt__my_tls_apply(MYSQL *my, const my_tls *t);
/* Copy s into d: 0 or -ENOMEM (free d either way). */
int gt__my_tls_dup(my_tls *d, const my_tls *s);
void gt__my_tls_free(my_tls *t);

/* mysql_rows.c */
/* Build *out from the stored result of 'st': 0 or an error (message set). */
int gt__my_make_rows(my_conn *c, MYSQL_STMT *st, gt_rows **out);

/* mysql_settle.c */
/* The call 'op' on 'c' (suspended, waiting for 'status') was interrupted
 * by 'why' (-ETIMEDOUT, -ECANCELED): leave it suspended, send KILL QUERY
 * from a coroutine of the worker, and return 'why' with the message set.
 * The caller must not touch the connection again. */
int gt__my_defer(my_conn *c, const my_op *op, int status, int why);
/* The statement being used when a call was deferred: the settle closes it
 * after the drain unless it is cached. */
void gt__my_defer_owns(my_conn *c, MYSQL_STMT *st);
/* Wind an unsettled connection down before its next use: finish the
 * suspended call and the rest of its statement, and wait for its KILL.
 * 0 (clean again), the wait's error when 'deadline' ended it first (try
 * again later), or -ECONNRESET with 'c' broken when it could not be done
 * by settle_by. */
int gt__my_settle(my_conn *c, int64_t deadline);
/* At close: let go of the KILL on its way and of the statement held. */
void gt__my_settle_free(my_conn *c);

#endif
