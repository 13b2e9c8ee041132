/* runtime/rt.c -- the multi-threaded runtime: N workers, one scheduler each.
 *
 * Workers share nothing but their inboxes: another thread hands a worker
 * work by appending a task under the inbox's mutex and waking its loop with
 * uv_async_send(); the worker spawns a coroutine per task. A coroutine
 * therefore never migrates, and nothing on the hot path of a worker takes a
 * lock. Stopping is a flag plus a wake-up of every worker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime.h"
#include "sanitizer.h"

/* 1 MiB of address space per stack costs nothing until touched, and holds
 * jansson at its own nesting limit, recursive templates and libraries that
 * put 64 KiB buffers on the stack; see README "What a handler may put on
 * its stack". */
#define DEFAULT_STACK (1024 * 1024)
/* Larger than any single frame we expect, so that code built without
 * -fstack-clash-protection still faults in the guard, not below it. */
#define GUARD_BYTES (64 * 1024)
#define DEFAULT_CACHE 1024
#define DEFAULT_GRACE_MS 2000
/* Four threads each, libuv's own default: enough for the short calls both
 * pools are meant for. The two are sized apart (gt_rt_config) because
 * they serve different masters. */
#define DEFAULT_POOL_THREADS 4
#define MAX_POOL_THREADS 1024

/* A pool's size: the config's if set, else the environment's, else the
 * default. -EINVAL for a value out of 1..MAX_POOL_THREADS, or an
 * environment variable that is not such a number. */
static int pool_size(int from_cfg, const char *env, int *out)
{
    const char *v = getenv(env);
    char *end;
    long n;

    if (from_cfg < 0 || from_cfg > MAX_POOL_THREADS)
        return -EINVAL;
    if (from_cfg > 0) {
        *out = from_cfg;
        return 0;
    }
    if (!v) {
        *out = DEFAULT_POOL_THREADS;
        return 0;
    }
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 1 || n > MAX_POOL_THREADS)
        return -EINVAL;
    *out = (int)n;
    return 0;
}

static int init_pools(gt_rt *rt)
{
    int rc = pool_size(rt->cfg.offload_threads, "GT_OFFLOAD_THREADS",
                       &rt->cfg.offload_threads);

    if (rc == 0)
        rc = pool_size(rt->cfg.driver_threads, "GT_DRIVER_THREADS",
                       &rt->cfg.driver_threads);
    if (rc == 0)
        rc = pool_size(rt->cfg.dns_threads, "GT_DNS_THREADS",
                       &rt->cfg.dns_threads);
    if (rc < 0)
        return rc;
    rc = gt__tpool_init(&rt->offload, rt->cfg.offload_threads);
    if (rc < 0)
        return rc;
    rc = gt__tpool_init(&rt->driver, rt->cfg.driver_threads);
    if (rc < 0)
        goto fail_offload;
    rc = gt__tpool_init(&rt->dns, rt->cfg.dns_threads);
    if (rc < 0)
        goto fail_driver;
    return 0;

fail_driver:
    gt__tpool_deinit(&rt->driver);
fail_offload:
    gt__tpool_deinit(&rt->offload);
    return rc;
}

static void apply_defaults(gt_rt *rt, const gt_rt_config *cfg)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t stack;

    if (cfg)
        rt->cfg = *cfg;
    if (rt->cfg.workers <= 0)
        rt->cfg.workers = ncpu > 0 ? (int)ncpu : 1;
    if (rt->cfg.stack_size == 0)
        rt->cfg.stack_size = DEFAULT_STACK * GT__STACK_SCALE;
    if (rt->cfg.stack_cache == 0)
        rt->cfg.stack_cache = DEFAULT_CACHE;
    if (rt->cfg.cleanup_grace_ms <= 0)
        rt->cfg.cleanup_grace_ms = DEFAULT_GRACE_MS;
    rt->page = (size_t)sysconf(_SC_PAGESIZE);
    stack = (rt->cfg.stack_size + rt->page - 1) & ~(rt->page - 1);
    rt->guard_len = GUARD_BYTES > rt->page ? GUARD_BYTES : rt->page;
    rt->map_len = rt->guard_len + stack;
    rt->nworkers = rt->cfg.workers;
}

static void close_unrun(gt_rt *rt, int n);

int gt_rt_new(gt_rt **out, const gt_rt_config *cfg)
{
    gt_rt *rt;
    int i, rc;

    if (cfg && (cfg->workers < 0 || cfg->workers > 1024))
        return -EINVAL;
    rc = gt__guard_install();
    if (rc < 0)
        return rc;
    rt = gt_calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    apply_defaults(rt, cfg);
    rc = init_pools(rt);
    if (rc < 0) {
        free(rt);
        return rc;
    }
    pthread_mutex_init(&rt->hooks_lock, NULL);
    rt->workers = gt_calloc((size_t)rt->nworkers, sizeof(gt_sched));
    if (!rt->workers) {
        rc = -ENOMEM;
        goto fail_pools;
    }
    for (i = 0; i < rt->nworkers; i++) {
        rc = gt__sched_init(&rt->workers[i], rt, i);
        if (rc < 0)
            goto fail_workers;
    }
    *out = rt;
    return 0;

fail_workers:
    close_unrun(rt, i);
    while (--i >= 0)
        gt__sched_deinit(&rt->workers[i]);
    free(rt->workers);
fail_pools:
    pthread_mutex_destroy(&rt->hooks_lock);
    gt__tpool_deinit(&rt->dns);
    gt__tpool_deinit(&rt->driver);
    gt__tpool_deinit(&rt->offload);
    free(rt);
    return rc;
}

static void *worker_main(void *arg)
{
    gt__sched_run(arg);
    return NULL;
}

int gt_rt_run(gt_rt *rt)
{
    int i, rc = 0;

    rt->ran = true;
    for (i = 1; i < rt->nworkers; i++) {
        rc = -pthread_create(&rt->workers[i].thread, NULL, worker_main,
                             &rt->workers[i]);
        if (rc < 0) {
            gt_rt_stop(rt);
            break;
        }
    }
    gt__sched_run(&rt->workers[0]);
    while (--i >= 1)
        pthread_join(rt->workers[i].thread, NULL);
    return rc;
}

void gt_rt_stop(gt_rt *rt)
{
    int i;

    atomic_store(&rt->stop, true);
    for (i = 0; i < rt->nworkers; i++)
        uv_async_send(&rt->workers[i].async);
}

/* Close the loops of workers that never ran (gt_rt_run() not called). */
static void close_unrun(gt_rt *rt, int n)
{
    int i;

    atomic_store(&rt->stop, true);
    for (i = 0; i < n; i++)
        gt__sched_run(&rt->workers[i]);
}

void gt_rt_free(gt_rt *rt)
{
    int i;

    if (!rt)
        return;
    if (!rt->ran)
        close_unrun(rt, rt->nworkers);
    /* The pools first: a thread may be handing a job back to a worker
     * until its job's coroutine has seen it, which is before the worker's
     * loop ended; joining them here is only the threads' exit. */
    gt__tpool_deinit(&rt->offload);
    gt__tpool_deinit(&rt->driver);
    gt__tpool_deinit(&rt->dns);
    for (i = 0; i < rt->nworkers; i++)
        gt__sched_deinit(&rt->workers[i]);
    pthread_mutex_destroy(&rt->hooks_lock);
    free(rt->hooks);
    free(rt->workers);
    free(rt);
}

int gt_rt_on_stop(gt_rt *rt, void (*fn)(void *, int), void *arg)
{
    gt__stop_hook *h;
    int rc = 0;

    pthread_mutex_lock(&rt->hooks_lock);
    h = gt_realloc(rt->hooks, (rt->nhooks + 1) * sizeof(*h));
    if (!h) {
        rc = -ENOMEM;
    } else {
        h[rt->nhooks++] = (gt__stop_hook){fn, arg};
        rt->hooks = h;
    }
    pthread_mutex_unlock(&rt->hooks_lock);
    return rc;
}

void gt__rt_run_stop_hooks(gt_sched *s)
{
    gt_rt *rt = s->rt;

    pthread_mutex_lock(&rt->hooks_lock);
    for (size_t i = 0; i < rt->nhooks; i++)
        rt->hooks[i].fn(rt->hooks[i].arg, s->index);
    pthread_mutex_unlock(&rt->hooks_lock);
}

/* ---- the inbox ------------------------------------------------------------
 */

int gt_rt_post(gt_rt *rt, int worker, gt_co_fn fn, void *arg)
{
    gt_sched *s;
    int rc = 0;

    if (!fn || worker >= rt->nworkers || worker < -1)
        return -EINVAL;
    if (atomic_load(&rt->stop))
        return -ESHUTDOWN;
    if (worker < 0)
        worker = (int)(atomic_fetch_add(&rt->rr, 1) % (unsigned)rt->nworkers);
    s = &rt->workers[worker];
    pthread_mutex_lock(&s->inbox_lock);
    if (s->ninbox == s->cap_inbox) {
        size_t cap = s->cap_inbox ? 2 * s->cap_inbox : 16;
        gt__task *t = gt_realloc(s->inbox, cap * sizeof(*t));

        if (!t)
            rc = -ENOMEM;
        else
            s->inbox = t, s->cap_inbox = cap;
    }
    if (rc == 0)
        s->inbox[s->ninbox++] = (gt__task){fn, arg};
    pthread_mutex_unlock(&s->inbox_lock);
    if (rc == 0)
        uv_async_send(&s->async);
    return rc;
}

#define RETRY_MS 10

static void on_retry(uv_timer_t *t)
{
    gt__rt_take_inbox(t->data);
}

/* Spawn the held tasks in order; keep what still cannot be spawned and
 * try again in RETRY_MS. A posted task is never dropped: gt_rt_post()
 * said it was queued, and gt_rt_main()'s caller waits for it. */
static void spawn_held(gt_sched *s)
{
    while (s->held_off < s->nheld) {
        gt__task t = s->held[s->held_off];

        if (gt__co_spawn(s, NULL, NULL, t.fn, t.arg) < 0) {
            uv_timer_start(&s->retry, on_retry, RETRY_MS, 0);
            return;
        }
        s->held_off++;
    }
    free(s->held);
    s->held = NULL;
    s->nheld = s->held_off = 0;
}

/* Spawn a coroutine for each posted task. Worker thread only. */
void gt__rt_take_inbox(gt_sched *s)
{
    if (s->held) {
        spawn_held(s);
        if (s->held)
            return; /* still short of memory; the inbox waits its turn */
    }
    pthread_mutex_lock(&s->inbox_lock);
    s->held = s->inbox;
    s->nheld = s->ninbox;
    s->inbox = NULL;
    s->ninbox = s->cap_inbox = 0;
    pthread_mutex_unlock(&s->inbox_lock);
    if (s->held)
        spawn_held(s);
}

/* ---- gt_rt_main ------------------------------------------------------------
 */

typedef struct main_call {
    gt_co_fn fn;
    void *arg;
    int result;
    gt_rt *rt;
} main_call;

static int main_co(void *p)
{
    main_call *m = p;

    m->result = m->fn(m->arg);
    gt_rt_stop(m->rt);
    return 0;
}

int gt_rt_main(const gt_rt_config *cfg, gt_co_fn fn, void *arg)
{
    main_call m = {fn, arg, 0, NULL};
    gt_rt *rt;
    int rc = gt_rt_new(&rt, cfg);

    if (rc < 0)
        return rc;
    m.rt = rt;
    rc = gt_rt_post(rt, 0, main_co, &m);
    if (rc == 0)
        rc = gt_rt_run(rt);
    gt_rt_free(rt);
    return rc < 0 ? rc : m.result;
}

/* ---- queries ----------------------------------------------------------------
 */

int gt_rt_workers(const gt_rt *rt)
{
    return rt->nworkers;
}

static size_t max_of(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Another worker may be updating 's' right now: read each field once. */
static void add_stats(gt_rt_stats *sum, gt_rt_stats *s)
{
    sum->spawned += GT__STAT_GET(s->spawned);
    sum->live += GT__STAT_GET(s->live);
    sum->switches += GT__STAT_GET(s->switches);
    sum->stacks_mapped += GT__STAT_GET(s->stacks_mapped);
    sum->stacks_cached += GT__STAT_GET(s->stacks_cached);
    sum->stack_trims += GT__STAT_GET(s->stack_trims);
    sum->stack_hwm = max_of(sum->stack_hwm, GT__STAT_GET(s->stack_hwm));
    sum->stack_wait_hwm =
        max_of(sum->stack_wait_hwm, GT__STAT_GET(s->stack_wait_hwm));
}

void gt_rt_get_stats(gt_rt *rt, int worker, gt_rt_stats *out)
{
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < rt->nworkers; i++)
        if (worker < 0 || worker == i)
            add_stats(out, &rt->workers[i].stats);
}

gt_rt *gt_rt_self(void)
{
    gt_sched *s = gt__sched_self();

    return s ? s->rt : NULL;
}

int gt_worker_id(void)
{
    gt_sched *s = gt__sched_self();

    return s ? s->index : -1;
}

uv_loop_t *gt_loop(void)
{
    gt_sched *s = gt__sched_self();

    return s ? &s->loop : NULL;
}

int64_t gt_now(void)
{
    gt_sched *s = gt__sched_self();

    return s ? (int64_t)uv_now(&s->loop) : (int64_t)(uv_hrtime() / 1000000);
}

int64_t gt_deadline_in(int64_t ms)
{
    return ms < 0 ? GT_NEVER : gt_now() + ms;
}
