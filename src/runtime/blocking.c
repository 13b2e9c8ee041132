/* runtime/blocking.c -- running blocking calls on libuv's thread pool.
 *
 * The job lives on the calling coroutine's stack, so the coroutine must not
 * return before the pool is done with it. A deadline or cancel can still
 * withdraw a job that no thread has picked up yet (uv_cancel succeeds); a
 * job already running cannot be interrupted, so then we wait for it with a
 * park that ignores further cancels, and report what it returned. */
#include <errno.h>

#include "runtime.h"

typedef struct job {
    uv_work_t req;
    int (*fn)(void *);
    void *arg;
    int result;
    int status; /* after_work's status: 0 or UV_ECANCELED */
    bool done;
    gt_co *co;
} job;

static void on_work(uv_work_t *req)
{
    job *j = req->data;

    j->result = j->fn(j->arg);
}

static void on_done(uv_work_t *req, int status)
{
    job *j = req->data;

    j->done = true;
    j->status = status;
    gt__unpark(j->co, 0);
}

int gt_run_blocking(int (*fn)(void *), void *arg, int64_t deadline)
{
    gt_sched *s = gt__sched_self();
    job j = {.fn = fn, .arg = arg};
    int rc;

    if (!s || !s->current || !fn)
        return -EINVAL;
    j.co = s->current;
    if (j.co->cancelled && !j.co->shielded)
        return -ECANCELED; /* not even queued */
    if (deadline != GT_NEVER && deadline <= gt_now())
        return -ETIMEDOUT;
    j.req.data = &j;
    rc = uv_queue_work(&s->loop, &j.req, on_work, on_done);
    if (rc < 0)
        return rc;
    rc = gt__park(deadline);
    if (!j.done && rc < 0)
        uv_cancel((uv_req_t *)&j.req); /* fails if already running */
    while (!j.done)
        gt__park_hard();
    if (j.status == UV_ECANCELED)
        return rc < 0 ? rc : -ECANCELED;
    return j.result;
}
