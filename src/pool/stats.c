/* pool/stats.c -- the pool's statistics, summed over workers, and their
 * Prometheus text form.
 *
 * Counters are per worker and written by their worker only, with relaxed
 * atomic stores (ST_* in pool.h); a reader from another thread sums them
 * with relaxed loads. The figures are therefore a moment's approximation
 * while traffic flows and exact at rest -- which is when tests compare
 * them with a baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

static void add(gt_pool_stats *sum, const gt__wpool *w)
{
    const gt_pool_stats *s = &w->st;

    sum->in_use += ST_GET(w->busy.n);
    sum->cleaning += ST_GET(w->cleaning);
    sum->idle += atomic_load(&w->nidle);
    sum->waiters += atomic_load(&w->nwaiting);
    sum->acquired += ST_GET(s->acquired);
    sum->waits += ST_GET(s->waits);
    sum->wait_us += ST_GET(s->wait_us);
    sum->timeouts += ST_GET(s->timeouts);
    sum->opened += ST_GET(s->opened);
    sum->connect_errors += ST_GET(s->connect_errors);
    sum->discarded_broken += ST_GET(s->discarded_broken);
    sum->discarded_lifetime += ST_GET(s->discarded_lifetime);
    sum->discarded_idle += ST_GET(s->discarded_idle);
    sum->rollbacks += ST_GET(s->rollbacks);
    sum->resets += ST_GET(s->resets);
    sum->leaks_reported += ST_GET(s->leaks_reported);
    sum->moved += ST_GET(s->moved);
    sum->discarded_dead += ST_GET(s->discarded_dead);
    sum->capacity_refusals += ST_GET(s->capacity_refusals);
    sum->leaks_reclaimed += ST_GET(s->leaks_reclaimed);
}

void gt_pool_get_stats(gt_pool *p, gt_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < p->nw; i++)
        add(out, &p->w[i]);
    out->open = atomic_load(&p->open);
    out->max_open_ever = atomic_load(&p->max_ever);
    out->cap = atomic_load(&p->cap);
}

const char *gt_pool_errmsg(gt_pool *p)
{
    gt__wpool *w = gt__pool_self(p);

    return w ? w->errmsg : "";
}

typedef struct metric {
    const char *name, *type, *help;
    double value;
} metric;

char *gt_pool_metrics_new(gt_pool *p, const char *name)
{
    gt_pool_stats s;
    size_t cap = 8192, n = 0;
    char *out = gt_malloc(cap);

    if (!out)
        return NULL;
    gt_pool_get_stats(p, &s);
    metric m[] = {
        {"open", "gauge", "Connections open or being opened", s.open},
        {"in_use", "gauge", "Connections held by coroutines", s.in_use},
        {"idle", "gauge", "Idle connections", s.idle},
        {"cleaning", "gauge",
         "Given back, being rolled back or reset before reuse", s.cleaning},
        {"waiters", "gauge", "Coroutines waiting for a connection", s.waiters},
        {"max_open", "gauge", "Configured cap", p->cfg.max_open},
        {"max_open_ever", "gauge", "Most connections ever open at once",
         s.max_open_ever},
        {"acquired_total", "counter", "Connections handed out", s.acquired},
        {"waits_total", "counter", "Acquisitions that waited", s.waits},
        {"wait_seconds_total", "counter", "Time spent waiting",
         s.wait_us / 1e6},
        {"timeouts_total", "counter", "Acquisitions that failed (503)",
         s.timeouts},
        {"opened_total", "counter", "Connections opened", s.opened},
        {"connect_errors_total", "counter", "Failed connects",
         s.connect_errors},
        {"discarded_broken_total", "counter", "Closed: broken",
         s.discarded_broken},
        {"discarded_lifetime_total", "counter", "Closed: max lifetime",
         s.discarded_lifetime},
        {"discarded_idle_total", "counter", "Closed: idle", s.discarded_idle},
        {"discarded_dead_total", "counter",
         "Closed: idle, found dropped by the server before use",
         s.discarded_dead},
        {"capacity_refusals_total", "counter",
         "Connects refused by the database for having too many",
         s.capacity_refusals},
        {"cap", "gauge",
         "Connections the pool may hold now (below max_open while the "
         "database is full)",
         (double)s.cap},
        {"moved_total", "counter", "Handed to another worker without closing",
         s.moved},
        {"rollbacks_total", "counter", "Transactions rolled back on release",
         s.rollbacks},
        {"resets_total", "counter", "Sessions reset on release", s.resets},
        {"leaks_reported_total", "counter", "Connections held too long",
         s.leaks_reported},
        {"leaks_reclaimed_total", "counter",
         "Explicit acquisitions taken back after leak_reclaim_ms",
         s.leaks_reclaimed},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        int k = snprintf(out + n, cap - n,
                         "# HELP greentor_pool_%s %s\n"
                         "# TYPE greentor_pool_%s %s\n"
                         "greentor_pool_%s{pool=\"%s\"} %.17g\n",
                         m[i].name, m[i].help, m[i].name, m[i].type, m[i].name,
                         name ? name : "default", m[i].value);
        if (k < 0 || (size_t)k >= cap - n) {
            free(out);
            return NULL; /* a pool name too long for the buffer */
        }
        n += (size_t)k;
    }
    return out;
}
