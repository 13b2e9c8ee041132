/* runtime/blocking.c -- gt_run_blocking() and the drivers' counterpart:
 * blocking calls on the runtime's two thread pools (tpool.c).
 *
 * The application's calls go to the offload pool and the drivers' to the
 * driver pool, so that neither can fill the threads the other needs;
 * gt_net_resolve()'s lookups go to a third, the DNS pool. */
#include <errno.h>

#include "runtime.h"

int gt_run_blocking(int (*fn)(void *), void *arg, int64_t deadline)
{
    gt_sched *s = gt__sched_self();

    if (!s)
        return -EINVAL;
    return gt__tpool_run(&s->rt->offload, fn, arg, deadline);
}

int gt__run_driver(int (*fn)(void *), void *arg, int64_t deadline)
{
    gt_sched *s = gt__sched_self();

    if (!s)
        return -EINVAL;
    return gt__tpool_run(&s->rt->driver, fn, arg, deadline);
}

int gt__run_dns(int (*fn)(void *), void *arg, void (*done)(void *),
                int64_t deadline, int *result)
{
    gt_sched *s = gt__sched_self();

    if (!s) {
        done(arg);
        return -EINVAL;
    }
    return gt__tpool_run_detached(&s->rt->dns, fn, arg, done, deadline, result);
}

int gt_rt_get_thread_stats(gt_rt *rt, int which, gt_rt_thread_stats *out)
{
    if (which == GT_THREADS_OFFLOAD)
        gt__tpool_get_stats(&rt->offload, out);
    else if (which == GT_THREADS_DRIVER)
        gt__tpool_get_stats(&rt->driver, out);
    else if (which == GT_THREADS_DNS)
        gt__tpool_get_stats(&rt->dns, out);
    else
        return -EINVAL;
    return 0;
}
