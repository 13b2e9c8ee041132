/* db/init.c -- a connection's set-up: the URL's init= statements and the
 * function of gt_db_set_init().
 *
 * Both run when the connection opens and again after every reset that
 * undid the session (PostgreSQL's DISCARD ALL and MariaDB's
 * COM_RESET_CONNECTION put every SET back to the server's default). That
 * makes the set-up part of what "a clean connection" means: the pool
 * resets a connection some request dirtied, and the next request still
 * finds the statement_timeout or search_path the URL asked for. The other
 * way round -- a reset gentle enough to keep init's settings -- does not
 * exist: neither server can tell our SETs from the request's.
 *
 * The set-up is the session's baseline, so its statements do not mark the
 * session dirty (db.c would otherwise have the pool reset every new
 * connection on its first release, and run the set-up again for nothing).
 * A set-up that fails leaves a half-configured session, which is never
 * handed out: at open the handle only carries the message, after a reset
 * the connection is broken and the pool discards it. The message names
 * the step, because "syntax error at or near ..." alone does not say that
 * the culprit sits in DATABASE_URL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define SQL_SHOWN 120 /* characters of a failed statement quoted back */

int gt__db_init_copy(gt_db *db, const gt__db_url *u)
{
    int n = 0;

    for (int i = 0; i < u->nopts; i++)
        n += strcmp(u->opts[i].key, "init") == 0 && u->opts[i].value[0];
    if (n == 0)
        return 0;
    db->init_sql = calloc((size_t)n, sizeof(char *));
    if (!db->init_sql)
        return -ENOMEM;
    for (int i = 0; i < u->nopts; i++) {
        const gt__db_opt *o = &u->opts[i];

        if (strcmp(o->key, "init") != 0 || !o->value[0])
            continue;
        db->init_sql[db->ninit] = strdup(o->value);
        if (!db->init_sql[db->ninit])
            return -ENOMEM; /* gt__db_init_free() takes what was copied */
        db->ninit++;
    }
    return 0;
}

void gt__db_init_free(gt_db *db)
{
    for (int i = 0; i < db->ninit; i++)
        free(db->init_sql[i]);
    free(db->init_sql);
    db->init_sql = NULL;
    db->ninit = 0;
}

/* Put 'prefix' in front of the error message the failed step left (or of
 * rc's text when it left none), keeping its SQLSTATE and native code. */
static int step_failed(gt_db *db, int rc, const char *prefix)
{
    char msg[sizeof(db->errmsg)], state[sizeof(db->sqlstate)];

    /* Copies: gt__db_error() writes the fields these come from. */
    snprintf(msg, sizeof(msg), "%s",
             db->errmsg[0] ? db->errmsg : gt_strerror(rc));
    memcpy(state, db->sqlstate, sizeof(state));
    gt__db_error(db, rc, db->errcode, state, "%s: %s", prefix, msg);
    db->broken = true;
    return rc;
}

static int run_statements(gt_db *db, int64_t deadline)
{
    char what[SQL_SHOWN + 48];

    for (int i = 0; i < db->ninit; i++) {
        const char *sql = db->init_sql[i];
        int64_t rc = gt_db_exec(db, sql, NULL, 0, deadline);

        if (rc >= 0)
            continue;
        snprintf(what, sizeof(what), "init statement %d (%.*s%s) failed", i + 1,
                 SQL_SHOWN, sql, strlen(sql) > SQL_SHOWN ? "..." : "");
        return step_failed(db, (int)rc, what);
    }
    return 0;
}

static int run_function(gt_db *db, int64_t deadline)
{
    int rc;

    if (!db->init_fn)
        return 0;
    gt__db_clear_error(db);
    rc = db->init_fn(db, db->init_arg, deadline);
    return rc < 0 ? step_failed(db, rc, "init function failed") : 0;
}

int gt__db_init_run(gt_db *db, int64_t deadline)
{
    bool dirty = db->session_dirty;
    int rc = run_statements(db, deadline);

    if (rc == 0)
        rc = run_function(db, deadline);
    db->session_dirty = dirty;
    return rc;
}

int gt_db_set_init(gt_db *db, gt_db_init_fn fn, void *arg, int64_t deadline)
{
    bool dirty;
    int rc;

    if (!db)
        return -EINVAL;
    if (db->failed_open || db->broken)
        return gt_db_ping(db, deadline); /* its refusal, and its message */
    db->init_fn = fn;
    db->init_arg = arg;
    dirty = db->session_dirty;
    rc = run_function(db, deadline);
    db->session_dirty = dirty;
    return rc;
}
