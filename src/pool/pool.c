/* pool/pool.c -- pool configuration, creation, maintenance and shutdown.
 *
 * Options come from the config struct and, overriding it, from the URL's
 * query string under the same names (12-factor: one DATABASE_URL says
 * everything). Each worker runs a maintenance timer once a second: it
 * closes connections idle too long or past their lifetime, reports
 * connections held longer than leak_threshold_ms (once each, with the
 * file:line that took them), and opens connections in the background
 * until the worker's share of min_idle is met. The timer is unreferenced:
 * a pool never keeps a worker alive. As the runtime stops, a stop hook on
 * each worker closes what is left, on the thread that owns it. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool.h"

#define MAINT_MS 1000

gt__wpool *gt__pool_self(gt_pool *p)
{
    int i = gt_worker_id();

    if (gt_rt_self() != p->rt || i < 0 || i >= p->nw)
        return NULL;
    return &p->w[i];
}

/* ---- options
 * ------------------------------------------------------------------ */

typedef struct opt {
    const char *name;
    size_t off;
    bool is_int;
    int64_t dflt;
} opt;

#define OPT_INT_MAX 1000000L /* counts: as gt_db_check_url() allows */
#define OPT_VALUE_MAX 64     /* longer is not a number in range */

#define OPT(field, is_int, dflt)                                               \
    {                                                                          \
#field, offsetof(gt_pool_config, field), is_int, dflt                  \
    }

static const opt opts[] = {
    OPT(max_open, true, 10),
    OPT(min_idle, true, 0),
    OPT(max_idle, true, 0), /* 0: max_open */
    OPT(max_lifetime_ms, false, 30 * 60 * 1000),
    OPT(idle_timeout_ms, false, 10 * 60 * 1000),
    OPT(acquire_timeout_ms, false, 2000),
    OPT(validate_idle_ms, false, 1000),
    OPT(leak_threshold_ms, false, 0),
    OPT(leak_reclaim_ms, false, 0),
    OPT(backoff_max_ms, false, 5000),
};

static void put_opt(gt_pool_config *c, const opt *o, int64_t v)
{
    char *at = (char *)c + o->off;

    if (o->is_int)
        *(int *)at = (int)v;
    else
        *(int64_t *)at = v;
}

static int64_t get_opt(const gt_pool_config *c, const opt *o)
{
    const char *at = (const char *)c + o->off;

    return o->is_int ? *(const int *)at : *(const int64_t *)at;
}

static int read_reset(gt_pool_config *c, const char *url, char *err,
                      size_t errlen)
{
    char v[OPT_VALUE_MAX];
    int rc = gt_db_url_option(url, "reset_on_release", v, sizeof(v));

    if (rc == -ENOENT)
        return 0;
    if (rc == -ENOMEM)
        return rc;
    if (strcmp(v, "auto") == 0)
        c->reset_on_release = GT_POOL_RESET_AUTO;
    else if (strcmp(v, "always") == 0)
        c->reset_on_release = GT_POOL_RESET_ALWAYS;
    else if (strcmp(v, "never") == 0)
        c->reset_on_release = GT_POOL_RESET_NEVER;
    else {
        snprintf(err, errlen,
                 "reset_on_release must be auto, always or "
                 "never, not '%s'",
                 v);
        return -EINVAL;
    }
    return 0;
}

/* Every option here must be one gt_db_check_url() knows (db/url_opts.c keeps
 * the one list of what a URL may say), or the URL refuses it. Checked by
 * an assert at gt_pool_new(). */
static bool opts_known(void)
{
    char url[64];

    for (size_t i = 0; i <= sizeof(opts) / sizeof(opts[0]); i++) {
        int rc;

        snprintf(url, sizeof(url), "sqlite::memory:?%s=%s",
                 i < sizeof(opts) / sizeof(opts[0]) ? opts[i].name
                                                    : "reset_on_release",
                 i < sizeof(opts) / sizeof(opts[0]) ? "1" : "auto");
        rc = gt_db_check_url(url, NULL, 0);
        if (rc < 0 && rc != -ENOMEM) /* out of memory: cannot tell */
            return false;
    }
    return true;
}

/* One option from the URL into *v: 1, or 0 when absent. A value that is
 * not a whole number becomes -1, for the bounds check to report. The URL
 * was checked first (gt_db_check_url(): known names, numbers in range);
 * the config struct's own values are checked against the same bounds. */
static int url_opt(const char *url, const opt *o, int64_t *v)
{
    char buf[OPT_VALUE_MAX], *end = NULL;
    int rc = gt_db_url_option(url, o->name, buf, sizeof(buf));

    if (rc == -ENOENT)
        return 0;
    if (rc == -ENOMEM)
        return rc;
    errno = 0;
    *v = rc > 0 ? strtoll(buf, &end, 10) : -1;
    if (rc <= 0 || errno != 0 || *end != '\0')
        *v = -1;
    return 1;
}

static int bad_opt(const opt *o, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "pool option %s must be a whole number "
             "from 0 to %ld",
             o->name, o->is_int ? OPT_INT_MAX : (long)INT64_MAX);
    return -EINVAL;
}

static int read_opts(gt_pool_config *c, const char *url, char *err,
                     size_t errlen)
{
    assert(opts_known());
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        const opt *o = &opts[i];
        int64_t v = get_opt(c, o);
        int rc = url_opt(url, o, &v);

        if (rc < 0)
            return rc;
        if (v < 0 || (o->is_int && v > OPT_INT_MAX))
            return bad_opt(o, err, errlen);
        put_opt(c, o, rc == 1 || v ? v : o->dflt);
    }
    if (c->max_idle == 0 || c->max_idle > c->max_open)
        c->max_idle = c->max_open;
    if (c->max_open < 1 || c->min_idle > c->max_open) {
        snprintf(err, errlen, "need 1 <= max_open and min_idle <= max_open");
        return -EINVAL;
    }
    return read_reset(c, url, err, errlen);
}

/* ---- maintenance
 * --------------------------------------------------------------- */

static void report_leaks(gt__wpool *w, int64_t now)
{
    int64_t limit = w->pool->cfg.leak_threshold_ms;

    if (limit <= 0)
        return;
    for (gt__pconn *c = gt__pconn_of(w->busy.head); c;
         c = gt__pconn_of(c->link.next)) {
        if (c->leak_reported || now - c->acquired_ms < limit)
            continue;
        c->leak_reported = true;
        ST_INC(w, leaks_reported);
        fprintf(stderr,
                "greentor: pool: connection held for %lld ms (threshold "
                "%lld ms), acquired at %s:%d\n",
                (long long)(now - c->acquired_ms), (long long)limit,
                c->file ? c->file : "?", c->line);
    }
}

/* Take back explicit acquisitions held longer than leak_reclaim_ms: end
 * their server sessions (their state is unknown, so they cannot be
 * reused) and free their slots. The holder's handle stays valid and fails
 * every call with a message saying why; gt_pool_release() frees it. One in
 * the middle of a call is not a leak: it waits for the next round. */
static void reclaim_leaks(gt__wpool *w, int64_t now)
{
    int64_t limit = w->pool->cfg.leak_reclaim_ms;
    gt__pconn *c, *next;
    char why[256];

    if (limit <= 0)
        return;
    for (c = gt__pconn_of(w->busy.head); c; c = next) {
        next = gt__pconn_of(c->link.next);
        if (!c->explicit_acq || now - c->acquired_ms < limit)
            continue;
        snprintf(why, sizeof(why),
                 "taken back by the pool: held longer "
                 "than leak_reclaim_ms (%lld ms), acquired at %s:%d",
                 (long long)limit, c->file ? c->file : "?", c->line);
        if (w->pool->kind->disconnect(c->conn, why) < 0)
            continue;
        fprintf(stderr, "greentor: pool: %s\n", why);
        gt__pool_reclaim(c);
    }
}

static int min_idle_share(const gt__wpool *w)
{
    const gt_pool *p = w->pool;

    return p->cfg.min_idle / p->nw + (w->index < p->cfg.min_idle % p->nw);
}

static void expire_idle(gt__wpool *w, int64_t now)
{
    gt__pconn *c = gt__pconn_of(w->idle.tail), *prev;
    int keep = min_idle_share(w);

    for (; c; c = prev) {
        prev = gt__pconn_of(c->link.prev);
        if (now >= c->expires_ms) {
            gt__plist_remove(&w->idle, c);
            gt__pool_discard(c, &w->st.discarded_lifetime);
        } else if (w->idle.n > keep &&
                   now - c->idle_since_ms >= w->pool->cfg.idle_timeout_ms) {
            gt__plist_remove(&w->idle, c);
            gt__pool_discard(c, &w->st.discarded_idle);
        }
    }
    atomic_store(&w->nidle, w->idle.n);
}

static void on_maint(uv_timer_t *t)
{
    gt__wpool *w = t->data;
    int64_t now = gt_now();

    expire_idle(w, now);
    report_leaks(w, now);
    reclaim_leaks(w, now);
    if (w->idle.n + w->busy.n < min_idle_share(w))
        gt__pool_refill(w);
}

static int start_maint(void *arg)
{
    gt__wpool *w = arg;

    if (w->maint || w->stopped)
        return 0;
    w->maint = gt_malloc(sizeof(*w->maint));
    if (!w->maint)
        return -ENOMEM;
    uv_timer_init(gt_loop(), w->maint);
    w->maint->data = w;
    uv_timer_start(w->maint, on_maint, 10, MAINT_MS);
    uv_unref((uv_handle_t *)w->maint);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void close_all(gt_pool *p, gt__list *l)
{
    gt__pconn *c;

    while ((c = gt__pconn_of(l->head)) != NULL) {
        gt__plist_remove(l, c);
        p->kind->close(c->conn);
        if (!c->reclaimed)
            atomic_fetch_sub(&p->open, 1);
        free(c);
    }
}

/* Runs on each worker as the runtime stops: its coroutines have ended, so
 * what is still busy is an explicit acquisition never given back. Every
 * connection is closed on the thread that owns it -- leaked ones too, so
 * the server sees each client say goodbye (no "Aborted connection"). */
static void unref(gt_pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    free(p->url);
    free(p->w);
    free(p);
}

static void on_rt_stop(void *arg, int worker)
{
    gt_pool *p = arg;
    gt__wpool *w = &p->w[worker];

    w->stopped = true;
    if (w->maint) {
        uv_close((uv_handle_t *)w->maint, on_timer_closed);
        w->maint = NULL;
    }
    close_all(p, &w->idle);
    close_all(p, &w->busy);
    close_all(p, &w->reclaimed);
    atomic_store(&w->nidle, 0);
    unref(p);
}

/* ---- creation
 * ---------------------------------------------------------------------- */

/* The URL (the db module checks every scheme's, redis:// included) and
 * the options; the kind of connection from the scheme. */
static int check_url(gt_pool *p, const char *url, char *err, size_t errlen)
{
    int rc = gt_db_check_url(url, err, errlen);

    if (rc < 0)
        return rc;
    p->kind =
        strncasecmp(url, "redis:", 6) == 0 ? &gt__pool_redis : &gt__pool_sql;
    if (p->kind == &gt__pool_redis && p->cfg.on_connect) {
        snprintf(err, errlen,
                 "on_connect is for SQL pools: a Redis "
                 "pool's set-up is its URL's AUTH and SELECT");
        return -EINVAL;
    }
    return read_opts(&p->cfg, url, err, errlen);
}

int gt_pool_new(gt_pool **out, gt_rt *rt, const char *url,
                const gt_pool_config *cfg, char *err, size_t errlen)
{
    char scratch[8];
    gt_pool *p;
    int rc;

    if (!err)
        err = scratch, errlen = sizeof(scratch);
    err[0] = '\0';
    p = gt_calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (cfg)
        p->cfg = *cfg;
    rc = check_url(p, url, err, errlen);
    if (rc < 0)
        goto fail;
    rc = -ENOMEM;
    p->rt = rt;
    atomic_init(&p->cap, p->cfg.max_open);
    p->nw = gt_rt_workers(rt);
    p->url = gt_strdup(url);
    p->w = aligned_alloc(64, (size_t)p->nw * sizeof(*p->w));
    if (p->w)
        memset(p->w, 0, (size_t)p->nw * sizeof(*p->w));
    atomic_init(&p->refs, p->nw + 1);
    if (!p->url || !p->w || gt_rt_on_stop(rt, on_rt_stop, p) < 0)
        goto fail;
    for (int i = 0; i < p->nw; i++) {
        p->w[i].pool = p;
        p->w[i].index = i;
        gt_rt_post(rt, i, start_maint, &p->w[i]);
    }
    *out = p;
    return 0;

fail:
    free(p->url);
    free(p->w);
    free(p);
    return rc;
}

void gt_pool_free(gt_pool *p)
{
    if (p)
        unref(p);
}

/* ---- background refill
 * ------------------------------------------------------------- */

static int refill_co(void *arg)
{
    gt__wpool *w = arg;
    gt__pconn *c;
    int rc = 0;

    while (rc == 0 && !w->stopped &&
           w->idle.n + w->busy.n < min_idle_share(w)) {
        int64_t wait_us;

        rc = gt__pool_take(w->pool, &c, gt_deadline_in(5000), __FILE__,
                           __LINE__, &wait_us);
        if (rc == 0) {
            ST_ADD(w, acquired, -1); /* not a user's acquisition */
            gt__pool_give(c);
        }
    }
    w->refilling = false;
    return 0;
}

void gt__pool_refill(gt__wpool *w)
{
    if (w->refilling || w->stopped)
        return;
    if (gt_now() < atomic_load(&w->pool->down_until))
        return;
    /* The worker's, not the request's that happened to trigger it. */
    w->refilling = gt_co_spawn_worker(NULL, refill_co, w) == 0;
}
