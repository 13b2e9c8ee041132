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

#include <hiredis/async.h>

#include "greentor/net.h"
#include "redis.h"

struct gt_redis {
    redisAsyncContext *ac; /* NULL once the connection broke or failed */
    uv_loop_t *loop;       /* the owning worker's */
    gt_waitq connecting;   /* gt_redis_open(), until connect_done */
    bool connect_done;
    int connect_rc;
    char errmsg[128];
};

/* ---- hiredis' event hooks -------------------------------------------------
 */

typedef struct adapter {
    uv_poll_t poll;
    redisAsyncContext *ac; /* NULL once hiredis let go (cleanup) */
    int events;
} adapter;

static void on_poll(uv_poll_t *h, int status, int events)
{
    adapter *a = h->data;

    if (status < 0) /* libuv stopped the poll; let hiredis read the error */
        events = UV_READABLE;
    if (a->ac && (events & UV_READABLE))
        redisAsyncHandleRead(a->ac);
    if (a->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(a->ac);
    if (status < 0 && a->ac && a->events)
        uv_poll_start(&a->poll, a->events, on_poll);
}

static void set_events(adapter *a, int events)
{
    a->events = events;
    if (events)
        uv_poll_start(&a->poll, events, on_poll);
    else
        uv_poll_stop(&a->poll);
}

static void add_read(void *p)
{
    set_events(p, ((adapter *)p)->events | UV_READABLE);
}

static void del_read(void *p)
{
    set_events(p, ((adapter *)p)->events & ~UV_READABLE);
}

static void add_write(void *p)
{
    set_events(p, ((adapter *)p)->events | UV_WRITABLE);
}

static void del_write(void *p)
{
    set_events(p, ((adapter *)p)->events & ~UV_WRITABLE);
}

static void free_adapter(uv_handle_t *h)
{
    free(h->data);
}

static void cleanup(void *p)
{
    adapter *a = p;

    a->ac = NULL;
    uv_close((uv_handle_t *)&a->poll, free_adapter);
}

static int attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    adapter *a = gt_calloc(1, sizeof(*a));

    if (!a)
        return -ENOMEM;
    if (uv_poll_init_socket(loop, &a->poll, ac->c.fd) < 0) {
        free(a);
        return -ENOMEM;
    }
    a->poll.data = a;
    a->ac = ac;
    ac->ev.data = a;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
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
static int first_address(const char *host, int port, char *ip, size_t cap,
                         int64_t deadline)
{
    struct addrinfo *ai;
    const void *addr;
    int rc = gt_net_resolve(host, port, &ai, deadline);

    if (rc < 0)
        return rc;
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
    rc = attach(ac, r->loop);
    if (rc < 0) {
        redisAsyncFree(ac);
        return rc;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    return 0;
}

int gt_redis_open(gt_redis **out, const char *host, int port, int64_t deadline)
{
    char ip[INET6_ADDRSTRLEN];
    gt_redis *r;
    int rc;

    *out = NULL;
    if (!host || port < 1 || port > 65535 || !gt_co_self())
        return -EINVAL;
    rc = first_address(host, port, ip, sizeof(ip), deadline);
    if (rc < 0)
        return rc;
    r = gt_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->loop = gt_loop();
    gt_waitq_init(&r->connecting);
    rc = start_connect(r, ip, port);
    while (rc == 0 && !r->connect_done)
        rc = gt_waitq_wait(&r->connecting, deadline);
    if (rc == 0)
        rc = r->connect_rc;
    if (rc < 0) {
        if (r->ac)
            redisAsyncFree(r->ac); /* still connecting: no callback */
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- commands ---------------------------------------------------------------
 */

typedef struct pending {
    gt_waitq wq;
    gt_redis_reply *reply;
    int rc;
    bool done;
    bool abandoned; /* nobody waits: the callback frees the record */
} pending;

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    pending *p = priv;

    (void)ac;
    if (p->abandoned) {
        free(p);
        return;
    }
    p->rc = reply ? gt__redis_reply_copy(&p->reply, reply) : -ECONNRESET;
    p->done = true;
    gt_waitq_wake(&p->wq, -1);
}

static int check_call(gt_redis *r, int argc, const char *const *argv,
                      int64_t deadline)
{
    int rc;

    if (argc < 1 || !argv)
        return -EINVAL;
    for (int i = 0; i < argc; i++)
        if (!argv[i])
            return -EINVAL;
    if (r->loop != gt_loop())
        return -EXDEV;
    if (!r->ac)
        return -ENOTCONN;
    rc = gt_sleep(0); /* -ECANCELED when cancelled, shields honoured */
    if (rc == 0 && deadline != GT_NEVER && deadline <= gt_now())
        rc = -ETIMEDOUT;
    return rc;
}

int gt_redis_command(gt_redis *r, gt_redis_reply **out, int argc,
                     const char *const *argv, const size_t *argvlen,
                     int64_t deadline)
{
    pending *p;
    int rc;

    *out = NULL;
    rc = check_call(r, argc, argv, deadline);
    if (rc < 0)
        return rc;
    p = gt_calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    gt_waitq_init(&p->wq);
    if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, (const char **)argv,
                              argvlen) != REDIS_OK) {
        free(p);
        return -ENOTCONN; /* hiredis is disconnecting */
    }
    while (!p->done) {
        rc = gt_waitq_wait(&p->wq, deadline);
        if (rc < 0 && !p->done) {
            p->abandoned = true;
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

const char *gt_redis_errmsg(const gt_redis *r)
{
    return r->errmsg;
}

void gt_redis_close(gt_redis *r)
{
    if (!r)
        return;
    if (r->ac)
        redisAsyncFree(r->ac); /* the waiting get NULL: -ECONNRESET */
    free(r);
}
