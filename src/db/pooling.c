/* db/pooling.c -- what a pool asks of a connection it takes back (see
 * "for connection pools" in greentor/db.h). The pool module uses only
 * these and the rest of the public header; driver.h stays private. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "driver.h"

#define METRICS_MAX 2048

int gt_db_in_tx(gt_db *db)
{
    if (!db || db->broken || db->failed_open)
        return 0;
    return db->tx_depth > 0 || (db->drv->in_tx && db->drv->in_tx(db));
}

int gt_db_abandon_tx(gt_db *db, int64_t deadline)
{
    int64_t rc = gt_db_exec(db, "ROLLBACK", NULL, 0, deadline);

    if (rc < 0)
        return (int)rc;
    db->tx_depth = 0;
    return 0;
}

int gt_db_alive(gt_db *db)
{
    int fd;
    char b;
    ssize_t n;

    if (gt_db_broken(db))
        return 0;
    if (!db->drv->socket || (fd = db->drv->socket(db)) < 0)
        return 1;
    if (db->drv->awaiting && db->drv->awaiting(db))
        return 1; /* what waits there is an answer, not a goodbye */
    n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        db->alive_at = gt_now();
        return 1;
    }
    if (n < 0)
        return 0;
    /* 0: end of file. > 0: the server spoke first on a connection that
     * asked nothing -- always its goodbye (a FATAL), as LISTEN is undone
     * by the reset that a LISTEN's session change triggers. */
    return 0;
}

int gt_db_at_capacity(const gt_db *db)
{
    if (!db)
        return 0;
    if (strcmp(db->sqlstate, "53300") == 0) /* too_many_connections */
        return 1;
    /* ER_CON_COUNT_ERROR (max_connections), ER_TOO_MANY_USER_CONNECTIONS
     * (max_user_connections), ER_USER_LIMIT_REACHED (an account's
     * MAX_USER_CONNECTIONS) */
    return strcmp(db->drv->name, "mysql") == 0 &&
           (db->errcode == 1040 || db->errcode == 1203 || db->errcode == 1226);
}

int gt_db_session_dirty(const gt_db *db)
{
    return db && db->session_dirty;
}

int gt_db_can_reset(const gt_db *db)
{
    return db && db->drv->reset_keeps_session == false;
}

void gt_db_detach(gt_db *db)
{
    if (db && db->drv && db->drv->detach)
        db->drv->detach(db);
}

int gt_db_disconnect(gt_db *db, const char *why)
{
    int fd;

    if (!db)
        return -EINVAL;
    if (db->in_call)
        return -EBUSY;
    if (db->drv->socket && (fd = db->drv->socket(db)) >= 0)
        shutdown(fd, SHUT_RDWR);
    db->broken = true;
    gt__db_error(db, -ECONNRESET, 0, NULL, "%s", why ? why : "disconnected");
    return 0;
}

void gt_db_set_owner(gt_db *db, void *owner)
{
    if (db)
        db->owner = owner;
}

void *gt_db_owner(const gt_db *db)
{
    return db ? db->owner : NULL;
}

/* ---- process-wide counters
 * --------------------------------------------------- */

gt__db_counters gt__db_stats;

void gt_db_get_stats(gt_db_stats *out)
{
    out->cancels_sent = atomic_load(&gt__db_stats.cancels_sent);
    out->cancels_dropped = atomic_load(&gt__db_stats.cancels_dropped);
    out->interrupted_kept = atomic_load(&gt__db_stats.interrupted_kept);
    out->interrupted_discarded =
        atomic_load(&gt__db_stats.interrupted_discarded);
    out->redials = atomic_load(&gt__db_stats.redials);
    out->redials_failed = atomic_load(&gt__db_stats.redials_failed);
}

char *gt_db_metrics_new(void)
{
    gt_db_stats s;
    char *out = malloc(METRICS_MAX);

    if (!out)
        return NULL;
    gt_db_get_stats(&s);
    snprintf(out, METRICS_MAX,
             "# HELP greentor_db_cancels_total Cancels of interrupted "
             "statements, by outcome\n"
             "# TYPE greentor_db_cancels_total counter\n"
             "greentor_db_cancels_total{outcome=\"sent\"} %llu\n"
             "greentor_db_cancels_total{outcome=\"dropped\"} %llu\n"
             "# HELP greentor_db_interrupted_total Interrupted statements, "
             "by what became of their connection\n"
             "# TYPE greentor_db_interrupted_total counter\n"
             "greentor_db_interrupted_total{connection=\"kept\"} %llu\n"
             "greentor_db_interrupted_total{connection=\"discarded\"} "
             "%llu\n"
             "# HELP greentor_db_redials_total Connections found closed by "
             "the server before a statement was sent, reconnected in place, "
             "by outcome\n"
             "# TYPE greentor_db_redials_total counter\n"
             "greentor_db_redials_total{outcome=\"ok\"} %llu\n"
             "greentor_db_redials_total{outcome=\"failed\"} %llu\n",
             (unsigned long long)s.cancels_sent,
             (unsigned long long)s.cancels_dropped,
             (unsigned long long)s.interrupted_kept,
             (unsigned long long)s.interrupted_discarded,
             (unsigned long long)s.redials,
             (unsigned long long)s.redials_failed);
    return out;
}
