/* db/sqlite_coop.c -- keeping an SQLite statement cooperative: the
 * progress, busy and watchdog handlers, and where a call runs.
 *
 * Inline, the progress handler yields to the loop every SLICE_NS and stops
 * the statement at a cancel or the deadline; offloaded, a timer on the
 * worker (the watchdog) does the stopping every WATCH_MS (sqlite.c's
 * header has why there are two modes).
 *
 * Locks. The busy handler is ours rather than sqlite3_busy_timeout(),
 * which sleeps the thread: on a coroutine ours sleeps the coroutine, on a
 * pool thread the thread. It gives up at busy_timeout_ms (GT_EDB with
 * SQLITE_BUSY), the deadline or a cancel. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sqlite.h"

#define SLICE_NS (1000 * 1000)
#define WATCH_MS 10

static bool passed(int64_t deadline)
{
    return deadline != GT_NEVER && deadline <= gt_now();
}

/* ---- errors -------------------------------------------------------------- */

int gt__sq_fail(sq_conn *c, int rc)
{
    int ext = c->db ? sqlite3_extended_errcode(c->db) : rc;
    int why = atomic_load(&c->why);
    const char *msg = c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_INTERRUPT:
        why = why ? why : -ECANCELED;
        return gt__db_error(&c->base, why, ext, NULL, "statement %s",
                            why == -ETIMEDOUT ? "stopped at its deadline"
                                              : "cancelled");
    case SQLITE_NOMEM:
        return gt__db_error(&c->base, -ENOMEM, ext, NULL, "%s", msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        if (why)
            return gt__db_error(&c->base, why, ext, NULL,
                                "gave up waiting "
                                "for a lock: %s",
                                why == -ETIMEDOUT ? "deadline passed"
                                                  : "cancelled");
        return gt__db_error(&c->base, GT_EDB, ext, NULL, "%s", msg);
    default:
        return gt__db_error(&c->base, GT_EDB, ext, NULL, "%s", msg);
    }
}

/* ---- cooperation: progress, busy and watchdog handlers ------------------- */

/* Let the worker's loop run one iteration -- timers, I/O, the coroutines
 * they wake -- and come back. gt_yield() is not enough: the scheduler
 * resumes a coroutine that keeps yielding up to 1024 times before it polls
 * again, which for a statement yielding every SLICE_NS would starve the
 * loop for a second. Waiting for an always-writable eventfd parks us until
 * the loop has polled. Returns 0, -ECANCELED or -ETIMEDOUT (the
 * coroutine's own deadline). */
static int yield_to_loop(sq_conn *c)
{
    int rc;

    if (c->yield_fd < 0)
        c->yield_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->yield_fd < 0)
        return gt_yield(); /* out of fds: still let the others run */
    rc = gt_wait_fd(c->yield_fd, GT_WRITABLE, GT_NEVER);
    return rc < 0 ? rc : 0;
}

/* Every PROGRESS_STEPS VM steps; nonzero interrupts the statement.
 * Offload: only honours the watchdog's verdict (which sqlite3_interrupt()
 * alone could lose to a statement starting just after it). Inline: yields
 * once per slice and decides itself. */
int gt__sq_on_progress(void *arg)
{
    sq_conn *c = arg;
    int rc;

    if (atomic_load(&c->why))
        return 1;
    if (c->offload || !gt_co_self() || uv_hrtime() - c->slice_start < SLICE_NS)
        return 0;
    rc = yield_to_loop(c);
    c->slice_start = uv_hrtime();
    if (rc < 0)
        atomic_store(&c->why, rc);
    else if (passed(c->deadline))
        atomic_store(&c->why, -ETIMEDOUT);
    return atomic_load(&c->why) != 0;
}

/* How long to wait before retrying a lock (SQLite's own schedule), capped
 * by what is left of busy_timeout_ms and of the deadline; 0 = give up. */
static int64_t busy_delay(sq_conn *c, int count)
{
    static const int64_t delays[] = {1,  2,  5,  10, 15, 20,
                                     25, 25, 25, 50, 50, 100};
    int64_t waited = (int64_t)((uv_hrtime() - c->busy_start) / 1000000);
    int64_t d = delays[count < 12 ? count : 11];

    if (waited >= c->busy_timeout_ms)
        return 0;
    d = d < c->busy_timeout_ms - waited ? d : c->busy_timeout_ms - waited;
    if (c->deadline != GT_NEVER) {
        int64_t left = c->deadline - gt_now();

        if (left <= 0)
            atomic_store(&c->why, -ETIMEDOUT);
        d = left < d ? left : d;
    }
    return d > 0 ? d : 0;
}

/* Nonzero: try to take the lock again. */
int gt__sq_on_busy(void *arg, int count)
{
    sq_conn *c = arg;
    int64_t d;
    int rc;

    if (count == 0)
        c->busy_start = uv_hrtime();
    d = busy_delay(c, count);
    if (d == 0 || atomic_load(&c->why))
        return 0;
    if (c->offload || !gt_co_self()) {
        struct timespec ts = {d / 1000, (d % 1000) * 1000000};

        nanosleep(&ts, NULL);
        return atomic_load(&c->why) == 0;
    }
    rc = gt_sleep(d);
    if (rc < 0)
        atomic_store(&c->why, rc);
    return rc == 0;
}

/* Offload mode: a timer on the worker that stops the job's statement. */
typedef struct watch {
    uv_timer_t timer;
    sq_conn *c;
    gt_co *co;
} watch;

static void on_watch(uv_timer_t *t)
{
    watch *w = t->data;
    sq_conn *c = w->c;
    int why = 0;

    if (!c->shielded && gt_co_cancelled(w->co))
        why = -ECANCELED;
    else if (passed(c->deadline) ||
             (!c->shielded && passed(gt_co_deadline(w->co))))
        why = -ETIMEDOUT;
    if (why) {
        /* Again on every tick until the job ends: see gt__sq_on_progress. */
        atomic_store(&c->why, why);
        sqlite3_interrupt(c->db);
    }
}

static void free_watch(uv_handle_t *h)
{
    free(h->data);
}

/* Run fn(k) on the driver pool with the watchdog armed. */
int gt__sq_offload(int (*fn)(void *), sq_call *k)
{
    sq_conn *c = k->c;
    watch *w = malloc(sizeof(*w));
    int rc;

    if (!w)
        return gt__db_error(&c->base, -ENOMEM, 0, NULL, "out of memory");
    w->c = c;
    w->co = gt_co_self();
    w->timer.data = w;
    uv_timer_init(gt_loop(), &w->timer);
    uv_timer_start(&w->timer, on_watch, WATCH_MS, WATCH_MS);
    rc = gt_run_on(GT_THREADS_DRIVER, fn, k, c->deadline);
    uv_close((uv_handle_t *)&w->timer, free_watch);
    if ((rc == -ECANCELED || rc == -ETIMEDOUT) && !c->base.errmsg[0])
        gt__db_error(&c->base, rc, 0, NULL, "statement %s before it ran",
                     rc == -ETIMEDOUT ? "timed out" : "cancelled");
    return rc;
}

/* Start a call: one at a time, and not when the coroutine is cancelled or
 * late. A zero sleep asks the runtime, which knows about shields: a
 * coroutine cleaning up after a cancel may still roll back. */
int gt__sq_begin_call(sq_conn *c, int64_t deadline)
{
    gt_co *self = gt_co_self();
    int rc = self ? gt_sleep(0) : 0;

    if (c->active)
        return gt__db_error(&c->base, -EBUSY, 0, NULL,
                            "connection in use "
                            "by another coroutine");
    if (rc == 0 && passed(deadline))
        rc = -ETIMEDOUT;
    if (rc < 0)
        return gt__db_error(&c->base, rc, 0, NULL, "%s",
                            rc == -ECANCELED ? "cancelled" : "deadline passed");
    /* Let through although cancelled or late: shielded. */
    c->shielded =
        self && (gt_co_cancelled(self) || passed(gt_co_deadline(self)));
    c->deadline = deadline;
    atomic_store(&c->why, 0);
    c->slice_start = uv_hrtime();
    c->active = true;
    return 0;
}

/* Run fn(k) on the driver pool in offload mode, else right here. */
int gt__sq_dispatch(int (*fn)(void *), sq_call *k)
{
    if (k->c->offload && gt_co_self())
        return gt__sq_offload(fn, k);
    return fn(k);
}
