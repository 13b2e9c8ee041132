/* redis/session.c -- what a command does to its connection's session, and
 * undoing it, so that a pool can hand the connection to the next request
 * as the URL's set-up left it.
 *
 * A Redis session has state a later holder must not inherit: a MULTI
 * whose commands would run inside the next holder's EXEC, WATCHed keys
 * that would abort its transaction, a SELECTed database, an AUTH as
 * another user, a client name or tracking mode. greentor notes the
 * commands that change them as they are sent -- it cannot ask the server
 * cheaply, as PostgreSQL reports a transaction's status -- and RESET
 * (Redis >= 6.2) undoes them all at once, after which the URL's AUTH and
 * SELECT run again.
 *
 * Commands whose replies are not one per command (SUBSCRIBE and its
 * kind, MONITOR, CLIENT REPLY OFF|SKIP) or that change the protocol
 * (HELLO) are refused: the connection would fall out of step with the
 * replies its callers wait for. They need a connection of their own,
 * which this module does not offer yet (docs/STATUS.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redis.h"

static size_t arg_len(const char *const *argv, const size_t *argvlen, int i)
{
    return argvlen ? argvlen[i] : strlen(argv[i]);
}

/* Whether argument i is 'word', ignoring case. */
static bool arg_is(const char *const *argv, const size_t *argvlen, int i,
                   const char *word)
{
    size_t n = strlen(word);

    return arg_len(argv, argvlen, i) == n && strncasecmp(argv[i], word, n) == 0;
}

static const char *const refused[] = {
    "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR",
    "SYNC",      "PSYNC",      "HELLO",
};

/* Commands after which the session is not the set-up's; and CLIENT's
 * subcommands that only read. */
static const char *const changing[] = {
    "SELECT", "AUTH", "READONLY", "READWRITE", "RESET",
};
static const char *const client_reads[] = {"ID", "INFO", "LIST", "GETNAME"};

/* Whether argument i is one of list[0..n). */
static bool in_list(const char *const *list, size_t n, const char *const *argv,
                    const size_t *argvlen, int i)
{
    for (size_t k = 0; k < n; k++)
        if (arg_is(argv, argvlen, i, list[k]))
            return true;
    return false;
}

#define IN(list, argv, argvlen, i)                                             \
    in_list(list, sizeof(list) / sizeof(list[0]), argv, argvlen, i)

static bool changes_session(int argc, const char *const *argv,
                            const size_t *argvlen)
{
    if (arg_is(argv, argvlen, 0, "CLIENT"))
        return argc < 2 || !IN(client_reads, argv, argvlen, 1);
    return IN(changing, argv, argvlen, 0);
}

static bool out_of_step(int argc, const char *const *argv,
                        const size_t *argvlen)
{
    return IN(refused, argv, argvlen, 0) ||
           (argc >= 2 && arg_is(argv, argvlen, 0, "CLIENT") &&
            arg_is(argv, argvlen, 1, "REPLY"));
}

int gt__redis_session_note(gt_redis *r, int argc, const char *const *argv,
                           const size_t *argvlen)
{
    if (out_of_step(argc, argv, argvlen)) {
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "%.*s is not supported: its replies would not be one per "
                 "command",
                 (int)(arg_len(argv, argvlen, 0) > 32
                           ? 32
                           : arg_len(argv, argvlen, 0)),
                 argv[0]);
        return -EOPNOTSUPP;
    }
    if (arg_is(argv, argvlen, 0, "MULTI"))
        r->in_multi = true;
    else if (arg_is(argv, argvlen, 0, "WATCH"))
        r->watching = true;
    else if (arg_is(argv, argvlen, 0, "EXEC") ||
             arg_is(argv, argvlen, 0, "DISCARD") ||
             arg_is(argv, argvlen, 0, "RESET"))
        r->in_multi = r->watching = false;
    else if (arg_is(argv, argvlen, 0, "UNWATCH"))
        r->watching = false;
    if (changes_session(argc, argv, argvlen))
        r->dirty = true;
    return 0;
}

void gt__redis_note_refusal(gt_redis *r, const char *s, size_t n)
{
    static const char full[] = "max number of clients reached";

    if (n >= sizeof(full) - 1 && memmem(s, n, full, sizeof(full) - 1))
        r->at_capacity = true;
}

int gt_redis_in_multi(const gt_redis *r)
{
    return r && r->in_multi;
}

int gt_redis_session_dirty(const gt_redis *r)
{
    return r && (r->dirty || r->watching);
}

int gt_redis_at_capacity(const gt_redis *r)
{
    return r && r->at_capacity;
}

/* Run one of the module's own commands; a reply of type ERROR is
 * 'on_error' with the reply's text as the message. */
static int own_command(gt_redis *r, int argc, const char *const *argv,
                       int on_error, int64_t deadline)
{
    gt_redis_reply *rp;
    size_t n;
    int rc = gt__redis_call(r, &rp, argc, argv, NULL, deadline);

    if (rc < 0)
        return rc;
    if (gt_redis_reply_type(rp) == GT_REDIS_ERROR) {
        const char *s = gt_redis_reply_str(rp, &n);

        gt__redis_note_refusal(r, s, n);
        snprintf(r->errmsg, sizeof(r->errmsg), "%s: %.*s", argv[0],
                 (int)(n > 120 ? 120 : n), s);
        rc = on_error;
    }
    gt_redis_reply_free(rp);
    return rc;
}

int gt__redis_setup(gt_redis *r, int64_t deadline)
{
    char db[16];
    int rc = 0;

    if (r->password && r->user)
        rc = own_command(r, 3, (const char *[]){"AUTH", r->user, r->password},
                         -EACCES, deadline);
    else if (r->password)
        rc = own_command(r, 2, (const char *[]){"AUTH", r->password}, -EACCES,
                         deadline);
    if (rc == 0 && r->dbnum > 0) {
        snprintf(db, sizeof(db), "%d", r->dbnum);
        rc =
            own_command(r, 2, (const char *[]){"SELECT", db}, GT_EDB, deadline);
    }
    /* Neither: a server at its client limit accepts the socket and says
     * so in its first reply; learn it now, not at the first command. */
    if (rc == 0 && !r->password && r->dbnum == 0)
        rc = own_command(r, 1, (const char *[]){"PING"}, GT_EDB, deadline);
    if (rc < 0 && r->at_capacity)
        rc = -ECONNREFUSED;
    return rc;
}

int gt_redis_discard_multi(gt_redis *r, int64_t deadline)
{
    int rc;

    if (!r || !r->in_multi)
        return r ? 0 : -EINVAL;
    rc = own_command(r, 1, (const char *[]){"DISCARD"}, GT_EDB, deadline);
    if (rc == 0)
        r->in_multi = r->watching = false;
    return rc;
}

int gt_redis_reset(gt_redis *r, int64_t deadline)
{
    int rc;

    if (!r)
        return -EINVAL;
    rc = own_command(r, 1, (const char *[]){"RESET"}, -EOPNOTSUPP, deadline);
    if (rc < 0)
        return rc;
    r->in_multi = r->watching = r->dirty = false;
    return gt__redis_setup(r, deadline);
}
