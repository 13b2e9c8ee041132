/* redis/redis.h -- the redis module's internal interface.
 *
 * conn.c: the connection on the worker's loop (hiredis' event hooks,
 * connecting, commands, moving between workers). session.c: what a
 * command does to the session, and undoing it for a pool. url.c: opening
 * a redis:// URL (AUTH, SELECT). reply.c: replies copied out of hiredis.
 *
 * hiredis 0.14 frees a reply as soon as its callback returns, so a reply
 * that is to outlive the callback -- the caller owns it -- is copied into
 * one allocation of ours: nodes first, then the strings. */
#ifndef GT_REDIS_INTERNAL_H
#define GT_REDIS_INTERNAL_H

#include <stdbool.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "greentor/redis.h"

typedef struct gt__redis_poll gt__redis_poll;

struct gt_redis {
    redisAsyncContext *ac; /* NULL once the connection broke or failed */
    uv_loop_t *loop;       /* the owning worker's; NULL while detached */
    gt__redis_poll *poll;  /* the socket in 'loop'; NULL while detached */
    int events;            /* what hiredis wants polled (UV_READABLE...) */
    int inflight;          /* commands sent and not answered yet, those
                              whose callers left included */
    int calls;             /* coroutines waiting for a reply */
    gt_waitq connecting;   /* gt_redis_open(), until connect_done */
    bool connect_done;
    int connect_rc;
    /* Session state (session.c). */
    bool in_multi;         /* MULTI sent, no EXEC or DISCARD yet */
    bool watching;         /* WATCH sent, no EXEC, DISCARD or UNWATCH yet */
    bool dirty;            /* SELECT, AUTH, CLIENT ... since the set-up */
    bool at_capacity;      /* the server refused us: max number of clients */
    char *user, *password; /* the URL's, for AUTH again after a reset */
    int dbnum;             /* the URL's database, for SELECT after one */
    void *owner;           /* gt_redis_set_owner() */
    char errmsg[160];
};

/* What a URL asks of a new connection's set-up (url.c). */
typedef struct gt__redis_login {
    const char *user, *password; /* NULL: no AUTH */
    int dbnum;                   /* 0: no SELECT */
} gt__redis_login;

/* Connect to host:port (a name or an address) and, when 'login' is not
 * NULL, run the set-up it asks for (and at least a PING, so that a server
 * that refuses us is known now). The conventions of gt_redis_open_url():
 * on failure other than -EINVAL and -ENOMEM, *out carries the message. */
int gt__redis_open(gt_redis **out, const char *host, int port,
                   const gt__redis_login *login, int64_t deadline);

/* Send a command for its reply, as gt_redis_command() does but
 * without looking at what the command does to the session: for the
 * module's own AUTH, SELECT, RESET and DISCARD. */
int gt__redis_call(gt_redis *r, gt_redis_reply **out, int argc,
                   const char *const *argv, const size_t *argvlen,
                   int64_t deadline);

/* Before sending argv: refuse a command whose replies are not one per
 * command (SUBSCRIBE, MONITOR, CLIENT REPLY...) with -EOPNOTSUPP and a
 * message, and note what it does to the session. 0 to send it. */
int gt__redis_session_note(gt_redis *r, int argc, const char *const *argv,
                           const size_t *argvlen);

/* Note a server refusing us for having too many clients, from an error
 * text ('s', 'n' bytes). */
void gt__redis_note_refusal(gt_redis *r, const char *s, size_t n);

/* Run the URL's set-up on a new (or reset) connection: AUTH with its
 * credentials, SELECT its database. 0, or a negative error with the
 * message on 'r'. */
int gt__redis_setup(gt_redis *r, int64_t deadline);

/* Copy hiredis' reply 'src' into a new reply of ours, not yet tracked.
 * Any thread. Returns 0 or -ENOMEM. */
int gt__redis_reply_copy(gt_redis_reply **out, const redisReply *src);

/* Hand 'rp' to the calling coroutine, which frees it when it ends unless
 * the caller does first. Returns 0, or -ENOMEM (then rp was freed). */
int gt__redis_reply_track(gt_redis_reply *rp);

#endif
