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
 * the untouched part costs no memory. */
#include <errno.h>
#include <sys/socket.h>

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
int gt__my_run(my_conn *c, my_op *op, int status, int64_t deadline)
{
    int ev;

    op->io->lib_timeout = false;
    gt__my_sync_watch(op->io);
    while (status != 0) {
        ev = gt__my_io_wait(op->io, status, deadline);
        if ((ev == -ETIMEDOUT || ev == -ECANCELED) && c && c->thread_id)
            return gt__my_defer(c, op, status, ev);
        if (ev < 0)
            return c ? gt__my_set_broken(c, ev) : ev;
        status = gt__my_op_cont(op, ev);
        gt__my_sync_watch(op->io);
    }
    return op_failed(op) ? 1 : 0;
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
        mysql_options(io->my, MYSQL_OPT_LOCAL_INFILE, &no))
        return -ENOMEM;
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
