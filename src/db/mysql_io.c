/* db/mysql_io.c -- MariaDB Connector/C's non-blocking calls driven from a
 * coroutine.
 *
 * Every call that may touch the network is a libmariadb *_start() followed
 * by *_cont() calls. The library runs the ordinary blocking call on a
 * private stack and suspends it whenever its socket would block, returning
 * what it waits for: MYSQL_WAIT_READ / _WRITE / _EXCEPT and, when a library
 * timeout runs (connect), MYSQL_WAIT_TIMEOUT. gt__my_run() turns that into a
 * gt_fdwatch wait on mysql_get_socket(), so the coroutine parks and the
 * loop goes on. The socket exists only once connect has begun, and the
 * library closes it itself when the server goes away, so the watch follows
 * the socket: opened at the first wait, closed as soon as the socket
 * changes. Name resolution is the exception: getaddrinfo() inside connect
 * blocks, so URLs should name an IP address (or localhost, a Unix socket).
 *
 * That private stack: MYSQL_OPT_NONBLOCK with size 0 takes the library's
 * default, malloc'd per connection without a guard page -- 256 KiB in
 * Connector/C 3.3 (measured; older releases used 60 KiB). We keep it: TLS
 * and auth plugins run there, and glibc maps a block that size lazily, so
 * the untouched part costs no memory.
 *
 * TLS is the exception to the exception. Connector/C 3.3 runs its
 * handshake (SSL_connect) on a blocking socket even inside
 * mysql_real_connect_start(), waiting there up to its connect timeout
 * with the loop held (measured: a silent server held it for the whole
 * connect_timeout_ms, past the caller's deadline), and leaves the socket
 * blocking, so that every later SSL_read() blocked too (measured: a
 * SLEEP(5) ran its 5 s through a 300 ms deadline). So a TLS
 * connect is the blocking mysql_real_connect() on the driver pool
 * (gt_run_detached(): the caller leaves at its deadline, and a connect
 * left behind is closed on its thread when it ends, bounded by the
 * library's connect timeout), and the socket is made non-blocking
 * before the handle comes back: the library's non-blocking calls then
 * suspend on SSL_read()/SSL_write()'s WANT_READ/WANT_WRITE like any
 * other read or write.
 *
 * Connector/C 3.3 refuses a server that offers no TLS only when it also
 * checks the server's name (verify-full); under require and verify-ca it
 * logs in unencrypted instead. So a session that came back without a
 * cipher is refused here, never used (the login packet has gone out
 * unencrypted by then: the limit db.h states). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <errmsg.h>

#include "mysql.h"

/* Forget the watch if the library closed or replaced its socket. Called
 * right after every library call, before anything else can reuse the fd
 * number on this loop. */
void gt__my_sync_watch(my_io *io)
{
    if (io->watch.poll && mysql_get_socket(io->my) != io->watch.fd)
        gt_fdwatch_close(&io->watch);
}

static int wait_socket(my_io *io, int events, int64_t until)
{
    int fd = (int)mysql_get_socket(io->my), rc;

    if (!events) { /* a pure timeout: sleep, then report it as one */
        if (until == GT_NEVER)
            return GT_EPROTO;
        rc = gt_sleep(until - gt_now());
        return rc < 0 ? rc : -ETIMEDOUT;
    }
    if (fd < 0)
        return GT_EPROTO;
    if (!io->watch.poll && (rc = gt_fdwatch_open(&io->watch, fd)) < 0)
        return rc;
    return gt_fdwatch_wait(&io->watch, events, until);
}

/* Wait for what the library asked for ('status'). Returns the MYSQL_WAIT_*
 * events to pass to its _cont(), or -ETIMEDOUT / -ECANCELED / another
 * negative error when 'deadline' or the coroutine ended the wait. */
int gt__my_io_wait(my_io *io, int status, int64_t deadline)
{
    int64_t lib_until = GT_NEVER;
    int events = 0, rc;

    if (status & MYSQL_WAIT_TIMEOUT)
        lib_until = gt_deadline_in(mysql_get_timeout_value_ms(io->my));
    if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
        events |= GT_READABLE;
    if (status & MYSQL_WAIT_WRITE)
        events |= GT_WRITABLE;
    rc = wait_socket(io, events, gt__db_earlier(deadline, lib_until));
    if (rc == -EBADF && events) /* libuv's report of EPOLLERR (a refused */
        rc = events;            /* connect, a reset): the library's next */
                                /* read or write will find the error */
    if (rc == -ETIMEDOUT && lib_until != GT_NEVER && gt_now() >= lib_until) {
        io->lib_timeout = true;
        return MYSQL_WAIT_TIMEOUT;
    }
    if (rc < 0)
        return rc;
    return (rc & GT_READABLE ? status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT)
                             : 0) |
           (rc & GT_WRITABLE ? MYSQL_WAIT_WRITE : 0);
}

int gt__my_op_cont(my_op *op, int events)
{
    MYSQL *my = op->io->my;

    switch (op->kind) {
    case OP_CONNECT:
        return mysql_real_connect_cont(&op->mret, my, events);
    case OP_QUERY:
        return mysql_real_query_cont(&op->ret, my, events);
    case OP_PING:
        return mysql_ping_cont(&op->ret, my, events);
    case OP_RESET:
        return mysql_reset_connection_cont(&op->ret, my, events);
    case OP_PREPARE:
        return mysql_stmt_prepare_cont(&op->ret, op->st, events);
    case OP_EXECUTE:
        return mysql_stmt_execute_cont(&op->ret, op->st, events);
    case OP_STORE:
        return mysql_stmt_store_result_cont(&op->ret, op->st, events);
    case OP_NEXT:
        return mysql_stmt_next_result_cont(&op->ret, op->st, events);
    }
    return 0;
}

static bool op_failed(const my_op *op)
{
    if (op->kind == OP_CONNECT)
        return op->mret == NULL;
    if (op->kind == OP_NEXT)
        return op->ret > 0; /* -1 is "no more results" */
    return op->ret != 0;
}

/* Mark the connection unusable and shut its socket down, so that nothing,
 * not even mysql_close() or mysql_stmt_close(), can block on it. */
int gt__my_set_broken(my_conn *c, int rc)
{
    int fd = c->io.my ? (int)mysql_get_socket(c->io.my) : -1;

    c->base.broken = true;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    return rc;
}

/* Drive a started call ('status' from its _start()) to its end. 'c' is
 * the connection whose call an interruption defers and that is marked
 * broken when the call cannot be finished, NULL for the side connection's
 * calls. Returns 0 (succeeded), 1 (failed: the library holds the error) or
 * a negative error. */
int gt__my_drive(my_op *op, int *status, int64_t deadline)
{
    int ev;

    while (*status != 0) {
        ev = gt__my_io_wait(op->io, *status, deadline);
        if (ev < 0)
            return ev;
        *status = gt__my_op_cont(op, ev);
        gt__my_sync_watch(op->io);
    }
    return 0;
}

int gt__my_run(my_conn *c, my_op *op, int status, int64_t deadline)
{
    int rc;

    op->io->lib_timeout = false;
    gt__my_sync_watch(op->io);
    rc = gt__my_drive(op, &status, deadline);
    if (rc == 0)
        return op_failed(op) ? 1 : 0;
    if ((rc == -ETIMEDOUT || rc == -ECANCELED) && c && c->thread_id)
        return gt__my_defer(c, op, status, rc);
    return c ? gt__my_set_broken(c, rc) : rc;
}

/* A TLS connect on the driver pool: everything it reads is its own, so
 * that it can outlive a caller that left at its deadline. */
typedef struct tls_connect {
    MYSQL *my;
    my_target t;
    char *dbname;
    MYSQL *ret; /* mysql_real_connect()'s result */
} tls_connect;

static int tls_connect_run(void *arg)
{
    tls_connect *a = arg;

    a->ret = mysql_real_connect(a->my, a->t.host, a->t.user, a->t.password,
                                a->dbname, a->t.port, NULL, CLIENT_FOUND_ROWS);
    return 0;
}

static void tls_connect_free(tls_connect *a)
{
    gt__my_target_free(&a->t);
    free(a->dbname);
    free(a);
}

/* A connect nobody waits for any more: closed on its thread. */
static void tls_connect_done(void *arg)
{
    tls_connect *a = arg;

    mysql_close(a->my);
    tls_connect_free(a);
}

/* Connect io->my (set up, not connected) with TLS on the driver pool.
 * 0 (connected), 1 (failed: the library holds the error), -ECONNREFUSED
 * (connected without TLS: closed, c's message set), or -ETIMEDOUT /
 * -ECANCELED / -ENOMEM / -EAGAIN with io->my gone. */
static int tls_connect_io(my_io *io, const my_target *t, const char *dbname,
                          my_conn *c, int64_t deadline)
{
    tls_connect *a = calloc(1, sizeof(*a));
    int rc, res, fd, flags;

    if (!a || gt__my_target_dup(&a->t, t) < 0 ||
        (dbname && !(a->dbname = strdup(dbname)))) {
        if (a)
            tls_connect_free(a);
        return -ENOMEM;
    }
    a->my = io->my;
    io->my = NULL; /* a's until the call comes back */
    rc = gt_run_detached(GT_THREADS_DRIVER, tls_connect_run, a,
                         tls_connect_done, deadline, &res);
    if (rc < 0)
        return rc; /* tls_connect_done() has it, now or later */
    io->my = a->my;
    rc = a->ret ? 0 : 1;
    tls_connect_free(a);
    if (rc == 0 && !mysql_get_ssl_cipher(io->my)) {
        gt__my_io_close(io, true);
        return c ? gt__db_error(&c->base, -ECONNREFUSED,
                                CR_SSL_CONNECTION_ERROR, NULL,
                                "TLS/SSL error: the server did not offer TLS "
                                "(sslmode=require or verify-ca); session "
                                "refused")
                 : -ECONNREFUSED;
    }
    fd = rc == 0 ? (int)mysql_get_socket(io->my) : -1;
    if (fd >= 0 && (flags = fcntl(fd, F_GETFL)) >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    return rc;
}

/* Make io->my and connect it. Returns gt__my_run()'s result, or -ENOMEM. */
int gt__my_io_connect(my_io *io, const my_target *t, const char *dbname,
                      my_conn *c, int64_t deadline)
{
    my_op op = {.kind = OP_CONNECT, .io = io};
    unsigned int secs = t->connect_s, no = 0;

    io->my = mysql_init(NULL);
    if (!io->my || mysql_options(io->my, MYSQL_OPT_NONBLOCK, NULL) ||
        mysql_options(io->my, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
        (secs && mysql_options(io->my, MYSQL_OPT_CONNECT_TIMEOUT, &secs)) ||
        mysql_options(io->my, MYSQL_OPT_LOCAL_INFILE, &no) ||
        gt__my_tls_apply(io->my, &t->tls) < 0)
        return -ENOMEM;
    if (t->tls.mode != MY_TLS_OFF) {
        io->lib_timeout = false;
        return tls_connect_io(io, t, dbname, c, deadline);
    }
    return gt__my_run(c, &op,
                      mysql_real_connect_start(
                          &op.mret, io->my, t->host, t->user, t->password,
                          dbname, t->port, NULL, CLIENT_FOUND_ROWS),
                      deadline);
}

/* Close the handle; 'dirty': mid-protocol, so shut the socket down first. */
void gt__my_io_close(my_io *io, bool dirty)
{
    int fd;

    gt_fdwatch_close(&io->watch);
    if (!io->my)
        return;
    fd = (int)mysql_get_socket(io->my);
    if (dirty && fd >= 0)
        shutdown(fd, SHUT_RDWR);
    mysql_close(io->my);
    io->my = NULL;
}

static char *copy(const char *s, int *rc)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d)
        *rc = -ENOMEM;
    return d;
}

int gt__my_target_copy(my_target *t, const char *host, const char *user,
                       const char *password)
{
    int rc = 0;

    t->host = copy(host, &rc);
    t->user = copy(user, &rc);
    t->password = copy(password, &rc);
    return rc;
}

int gt__my_target_dup(my_target *dst, const my_target *src)
{
    int rc = gt__my_target_copy(dst, src->host, src->user, src->password);

    dst->port = src->port;
    dst->connect_s = src->connect_s;
    if (gt__my_tls_dup(&dst->tls, &src->tls) < 0)
        rc = -ENOMEM;
    return rc;
}

void gt__my_target_free(my_target *t)
{
    free(t->host);
    free(t->user);
    free(t->password);
    t->host = t->user = t->password = NULL;
    gt__my_tls_free(&t->tls);
}
