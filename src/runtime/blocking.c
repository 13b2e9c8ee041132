/* runtime/blocking.c -- blocking calls on the runtime's three thread
 * pools (tpool.c): gt_run_blocking() and gt_run_on() / gt_run_detached().
 *
 * The application's calls go to the offload pool, the drivers' to the
 * driver pool and name lookups to the DNS pool, so that none can fill the
 * threads another needs. */
#include <errno.h>

#include "runtime.h"

static gt__tpool *pool_of(gt_rt *rt, int which)
{
    switch (which) {
    case GT_THREADS_OFFLOAD:
        return &rt->offload;
    case GT_THREADS_DRIVER:
        return &rt->driver;
    case GT_THREADS_DNS:
        return &rt->dns;
    default:
        return NULL;
    }
}

int gt_run_on(int which, int (*fn)(void *), void *arg, int64_t deadline)
{
    gt_sched *s = gt__sched_self();
    gt__tpool *p = s ? pool_of(s->rt, which) : NULL;

    if (!p)
        return -EINVAL;
    return gt__tpool_run(p, fn, arg, deadline);
}

int gt_run_blocking(int (*fn)(void *), void *arg, int64_t deadline)
{
    return gt_run_on(GT_THREADS_OFFLOAD, fn, arg, deadline);
}

int gt_run_detached(int which, int (*fn)(void *), void *arg,
                    void (*done)(void *), int64_t deadline, int *result)
{
    gt_sched *s = gt__sched_self();
    gt__tpool *p = s ? pool_of(s->rt, which) : NULL;

    if (!p) {
        if (done)
            done(arg);
        return -EINVAL;
    }
    return gt__tpool_run_detached(p, fn, arg, done, deadline, result);
}

int gt_rt_get_thread_stats(gt_rt *rt, int which, gt_rt_thread_stats *out)
{
    gt__tpool *p = pool_of(rt, which);

    if (!p)
        return -EINVAL;
    gt__tpool_get_stats(p, out);
    return 0;
}
