/* redis/conn.c -- a Redis connection on the worker's loop, through
 * hiredis' asynchronous API.
 *
 * hiredis does the protocol; the loop does the waiting. Its event hooks
 * are ours (hiredis' own libuv adapter ignores a failed poll, which is how
 * libuv reports EPOLLERR, and would never notice a refused connect or a
 * reset): one uv_poll_t started for what hiredis asks, and a failed poll
 * handed to hiredis as a read, whose error then takes its usual path.
 *
 * A command waits for its reply in a small heap record that its reply
 * callback fills. hiredis calls every callback exactly once -- with the
 * reply, or with NULL when the connection goes away -- so a caller that
 * stops waiting (deadline, cancel) just marks the record abandoned and
 * the callback frees it: Redis still answers that command, in order, and
 * the connection stays in step. A name is resolved with gt_net_resolve()
 * first, since hiredis' own connect would call getaddrinfo() on the loop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "greentor/net.h"
#include "redis.h"

/* ---- hiredis' event hooks -------------------------------------------------
 *
 * The hooks see the connection (ev.data), not the poll handle, so that a
 * connection can leave one loop and join another (gt_redis_detach()):
 * what hiredis asked for stays in r->events and is applied to whichever
 * poll handle the connection has when it has one. */

struct gt__redis_poll {
    uv_poll_t h;
    gt_redis *r; /* NULL once closing */
};

static void on_poll(uv_poll_t *h, int status, int events)
{
    gt__redis_poll *pl = h->data;
    gt_redis *r = pl->r;

    if (!r)
        return;
    if (status < 0) /* libuv stopped the poll; let hiredis read the error */
        events = UV_READABLE;
    if (r->ac && (events & UV_READABLE))
        redisAsyncHandleRead(r->ac);
    if (pl->r && r->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(r->ac);
    if (status < 0 && pl->r && r->events)
        uv_poll_start(&pl->h, r->events, on_poll);
}

static void want(gt_redis *r, int events)
{
    r->events = events;
    if (!r->poll)
        return;
    if (events)
        uv_poll_start(&r->poll->h, events, on_poll);
    else
        uv_poll_stop(&r->poll->h);
}

static void add_read(void *p)
{
    want(p, ((gt_redis *)p)->events | UV_READABLE);
}

static void del_read(void *p)
{
    want(p, ((gt_redis *)p)->events & ~UV_READABLE);
}

static void add_write(void *p)
{
    want(p, ((gt_redis *)p)->events | UV_WRITABLE);
}

static void del_write(void *p)
{
    want(p, ((gt_redis *)p)->events & ~UV_WRITABLE);
}

static void free_poll(uv_handle_t *h)
{
    free(h->data);
}

/* Take the socket out of its loop (the handle goes when libuv is done). */
static void poll_close(gt_redis *r)
{
    if (!r->poll)
        return;
    r->poll->r = NULL;
    uv_close((uv_handle_t *)&r->poll->h, free_poll);
    r->poll = NULL;
}

/* hiredis let go of the context. */
static void cleanup(void *p)
{
    poll_close(p);
}

/* Put the socket into r->loop, polled for what hiredis asked. */
static int poll_open(gt_redis *r)
{
    gt__redis_poll *pl = gt_calloc(1, sizeof(*pl));

    if (!pl)
        return -ENOMEM;
    if (uv_poll_init_socket(r->loop, &pl->h, r->ac->c.fd) < 0) {
        free(pl);
        return -ENOMEM;
    }
    pl->h.data = pl;
    pl->r = r;
    r->poll = pl;
    want(r, r->events);
    return 0;
}

static int attach(gt_redis *r, redisAsyncContext *ac)
{
    int rc;

    r->ac = ac;
    rc = poll_open(r);
    if (rc < 0) {
        r->ac = NULL;
        return rc;
    }
    ac->ev.data = r;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

void gt_redis_detach(gt_redis *r)
{
    if (!r)
        return;
    poll_close(r);
    r->loop = NULL;
}

/* A detached connection joins the calling worker's loop. */
static int adopt(gt_redis *r)
{
    int rc;

    r->loop = gt_loop();
    rc = r->ac ? poll_open(r) : 0;
    if (rc < 0)
        r->loop = NULL;
    return rc;
}

/* ---- connecting ------------------------------------------------------------
 */

static void on_connect(const redisAsyncContext *ac, int status)
{
    gt_redis *r = ac->data;
    int err = errno; /* hiredis' check of SO_ERROR set it just now */

    r->connect_done = true;
    r->connect_rc = 0;
    if (status != REDIS_OK) {
        r->connect_rc = err > 0 ? -err : -ECONNREFUSED;
        snprintf(r->errmsg, sizeof(r->errmsg), "connect: %s",
                 ac->errstr[0] ? ac->errstr : "failed");
        r->ac = NULL; /* hiredis frees it when we return */
    }
    gt_waitq_wake(&r->connecting, -1);
}

/* The connection went away (an error, or our own close); hiredis frees
 * the context when this returns, after the replies' callbacks. */
static void on_disconnect(const redisAsyncContext *ac, int status)
{
    gt_redis *r = ac->data;

    if (status != REDIS_OK && ac->errstr[0])
        snprintf(r->errmsg, sizeof(r->errmsg), "%s", ac->errstr);
    else if (!r->errmsg[0])
        snprintf(r->errmsg, sizeof(r->errmsg), "connection closed");
    r->ac = NULL;
}

/* The first address of 'host' as a string for hiredis. */
static int first_address(gt_redis *r, const char *host, int port, char *ip,
                         size_t cap, int64_t deadline)
{
    struct addrinfo *ai;
    const void *addr;
    int rc = gt_net_resolve(host, port, &ai, deadline);

    if (rc < 0) {
        snprintf(r->errmsg, sizeof(r->errmsg), "resolve %.64s: %s", host,
                 gt_strerror(rc));
        return rc;
    }
    if (ai->ai_family == AF_INET6)
        addr = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    else
        addr = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    rc = inet_ntop(ai->ai_family, addr, ip, (socklen_t)cap) ? 0 : -EINVAL;
    freeaddrinfo(ai);
    return rc;
}

static int start_connect(gt_redis *r, const char *ip, int port)
{
    redisAsyncContext *ac = redisAsyncConnect(ip, port);
    int rc;

    if (!ac)
        return -ENOMEM;
    if (ac->err) {
        rc = ac->c.err == REDIS_ERR_IO && errno > 0 ? -errno : -ECONNREFUSED;
        snprintf(r->errmsg, sizeof(r->errmsg), "connect: %s", ac->errstr);
        redisAsyncFree(ac);
        return rc;
    }
    ac->data = r;
    rc = attach(r, ac);
    if (rc < 0) {
        redisAsyncFree(ac);
        return rc;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return 0;
}

/* Connect 'r' (new, of this worker) to host:port. */
static int connect_to(gt_redis *r, const char *host, int port, int64_t deadline)
{
    char ip[INET6_ADDRSTRLEN];
    int rc = first_address(r, host, port, ip, sizeof(ip), deadline);

    if (rc == 0)
        rc = start_connect(r, ip, port);
    while (rc == 0 && !r->connect_done)
        rc = gt_waitq_wait(&r->connecting, deadline);
    if (rc == 0)
        rc = r->connect_rc;
    if (rc < 0 && r->ac) {
        redisAsyncFree(r->ac); /* still connecting: no callback */
        r->ac = NULL;
    }
    if (rc < 0 && !r->errmsg[0])
        snprintf(r->errmsg, sizeof(r->errmsg), "connect: %s", gt_strerror(rc));
    return rc;
}

/* A new handle, or NULL (-ENOMEM) into *out; a failure keeps the handle
 * for its message (see redis.h), except -EINVAL and -ENOMEM. */
static int finish_open(gt_redis **out, gt_redis *r, int rc)
{
    if (rc == -ENOMEM || rc == -EINVAL) {
        gt_redis_close(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

/* Keep the URL's credentials for the set-up and every reset's. */
static int keep_login(gt_redis *r, const gt__redis_login *login)
{
    r->dbnum = login->dbnum;
    r->user = login->user ? gt_strdup(login->user) : NULL;
    r->password = login->password ? gt_strdup(login->password) : NULL;
    return (login->user && !r->user) || (login->password && !r->password)
               ? -ENOMEM
               : 0;
}

int gt__redis_open(gt_redis **out, const char *host, int port,
                   const gt__redis_login *login, int64_t deadline)
{
    gt_redis *r;
    int rc;

    r = gt_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->loop = gt_loop();
    gt_waitq_init(&r->connecting);
    rc = login ? keep_login(r, login) : 0;
    if (rc == 0)
        rc = connect_to(r, host, port, deadline);
    if (rc == 0 && login)
        rc = gt__redis_setup(r, deadline);
    if (rc < 0 && r->ac) { /* connected, but the set-up failed */
        redisAsyncFree(r->ac);
        r->ac = NULL;
    }
    return finish_open(out, r, rc);
}

int gt_redis_open(gt_redis **out, const char *host, int port, int64_t deadline)
{
    *out = NULL;
    if (!host || port < 1 || port > 65535 || !gt_co_self())
        return -EINVAL;
    return gt__redis_open(out, host, port, NULL, deadline);
}

/* ---- commands ---------------------------------------------------------------
 */

typedef struct pending {
    gt_waitq wq;
    gt_redis *r;
    gt_redis_reply *reply;
    int rc;
    bool done;
    bool abandoned; /* nobody waits: the callback frees the record */
} pending;

/* hiredis calls it exactly once per command, with NULL when the
 * connection goes away -- from gt_redis_close() too, before the handle
 * is freed, so p->r is valid here. */
static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    pending *p = priv;

    (void)ac;
    p->r->inflight--;
    if (p->abandoned) {
        free(p);
        return;
    }
    p->r->calls--;
    p->rc = reply ? gt__redis_reply_copy(&p->reply, reply) : -ECONNRESET;
    p->done = true;
    gt_waitq_wake(&p->wq, -1);
}

static int check_call(gt_redis *r, int argc, const char *const *argv,
                      int64_t deadline)
{
    int rc;

    if (!r || argc < 1 || !argv)
        return -EINVAL;
    for (int i = 0; i < argc; i++)
        if (!argv[i])
            return -EINVAL;
    if (!r->loop && gt_co_self() && (rc = adopt(r)) < 0)
        return rc;
    if (r->loop != gt_loop())
        return -EXDEV;
    if (!r->ac)
        return -ENOTCONN;
    rc = gt_sleep(0); /* -ECANCELED when cancelled, shields honoured */
    if (rc == 0 && deadline != GT_NEVER && deadline <= gt_now())
        rc = -ETIMEDOUT;
    return rc;
}

static int wait_reply(pending *p, gt_redis_reply **out, int64_t deadline)
{
    int rc = 0;

    while (!p->done) {
        rc = gt_waitq_wait(&p->wq, deadline);
        if (rc < 0 && !p->done) {
            p->abandoned = true;
            p->r->calls--;
            return rc;
        }
    }
    rc = p->rc;
    if (rc == 0)
        rc = gt__redis_reply_track(p->reply);
    if (rc == 0)
        *out = p->reply;
    free(p);
    return rc;
}

static int send_and_wait(gt_redis *r, gt_redis_reply **out, int argc,
                         const char *const *argv, const size_t *argvlen,
                         int64_t deadline, bool note)
{
    pending *p;
    int rc;

    *out = NULL;
    rc = check_call(r, argc, argv, deadline);
    if (rc == 0 && note)
        rc = gt__redis_session_note(r, argc, argv, argvlen);
    if (rc < 0)
        return rc;
    if (!(p = gt_calloc(1, sizeof(*p))))
        return -ENOMEM;
    gt_waitq_init(&p->wq);
    p->r = r;
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, (const char **)argv,
                              argvlen) != REDIS_OK) {
        free(p);
        return -ENOTCONN; /* hiredis is disconnecting */
    }
    r->inflight++;
    r->calls++; /* until the reply or the wait ends, not after: a close
                 * under a waiting command frees 'r' before it resumes */
    return wait_reply(p, out, deadline);
}

int gt__redis_call(gt_redis *r, gt_redis_reply **out, int argc,
                   const char *const *argv, const size_t *argvlen,
                   int64_t deadline)
{
    return send_and_wait(r, out, argc, argv, argvlen, deadline, false);
}

int gt_redis_command(gt_redis *r, gt_redis_reply **out, int argc,
                     const char *const *argv, const size_t *argvlen,
                     int64_t deadline)
{
    return send_and_wait(r, out, argc, argv, argvlen, deadline, true);
}

const char *gt_redis_errmsg(const gt_redis *r)
{
    return r ? r->errmsg : "";
}

/* ---- for pools ------------------------------------------------------------
 */

int gt_redis_alive(gt_redis *r)
{
    char b;
    ssize_t n;

    if (!r || !r->ac)
        return 0;
    n = recv(r->ac->c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    /* n == 0: end of file. Bytes with no command in flight: nobody asked
     * for them -- the error a server sends before it closes. */
    return n > 0 && r->inflight > 0;
}

int gt_redis_broken(const gt_redis *r)
{
    return !r || !r->ac;
}

int gt_redis_disconnect(gt_redis *r, const char *why)
{
    if (!r)
        return -EINVAL;
    if (r->calls > 0)
        return -EBUSY;
    if (r->ac) {
        /* The server sees its client leave even if the handle lingers. */
        shutdown(r->ac->c.fd, SHUT_RDWR);
        redisAsyncFree(r->ac);
        r->ac = NULL;
    }
    snprintf(r->errmsg, sizeof(r->errmsg), "%s", why ? why : "disconnected");
    return 0;
}

void gt_redis_set_owner(gt_redis *r, void *owner)
{
    if (r)
        r->owner = owner;
}

void *gt_redis_owner(const gt_redis *r)
{
    return r ? r->owner : NULL;
}

void gt_redis_close(gt_redis *r)
{
    if (!r)
        return;
    if (r->ac)
        redisAsyncFree(r->ac); /* the waiting get NULL: -ECONNRESET */
    free(r->user);
    free(r->password);
    free(r);
}
