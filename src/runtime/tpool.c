/* runtime/tpool.c -- greentor's own thread pools for blocking calls.
 *
 * A runtime has two: the offload pool, which runs the application's
 * gt_run_blocking() calls, and the driver pool, which runs the database
 * drivers' own blocking steps (a PostgreSQL connect's name lookup and
 * polling, SQLite's mode=offload statements). They used to share libuv's
 * one process-wide pool of four, so four slow application calls (a
 * blocking HTTP client, a slow file) stalled every database connect and
 * every offloaded statement behind them, and vice versa. Two pools of
 * their own sizes cannot starve each other; libuv's pool is left to libuv
 * (uv_fs_*, uv_getaddrinfo) and to code that calls uv_queue_work() itself.
 *
 * Shape. A pool is a FIFO of jobs under one mutex and at most 'max'
 * threads, started on demand (a program that never offloads starts none)
 * and joined by gt_rt_free(). A job lives on the waiting coroutine's stack,
 * so the coroutine must not return before the pool is done with it: a
 * deadline or cancel withdraws a job no thread has taken yet, and a job
 * already running is waited for with a park deaf to further cancels.
 * A finished job is handed back to its worker through the worker's inbox
 * lock and async handle (rt.c), which wakes the coroutine on its own
 * thread; the pool thread touches the job no more after that.
 *
 * A detached job (gt__tpool_run_detached) lives on the heap instead, so
 * that its caller can stop waiting for a running call at its deadline:
 * the call is abandoned, and the thread that finishes it disposes of it.
 * That is for calls that may block for seconds and whose caller must not
 * (getaddrinfo() when a name server does not answer). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "runtime.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

int gt__tpool_init(gt__tpool *p, int max)
{
    p->threads = gt_calloc((size_t)max, sizeof(*p->threads));
    if (!p->threads)
        return -ENOMEM;
    p->max = max;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    return 0;
}

/* Stop the threads once the queue is empty and join them. Every job has a
 * coroutine waiting for it and coroutines end before the workers do, so by
 * gt_rt_free() the queue is empty already. */
void gt__tpool_deinit(gt__tpool *p)
{
    int i;

    if (!p->threads)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    p->threads = NULL;
}

/* Give a finished job back to its worker (any thread). */
static void hand_back(gt__tjob *j)
{
    gt_sched *s = j->sched;

    pthread_mutex_lock(&s->inbox_lock);
    j->next = s->done_jobs;
    s->done_jobs = j;
    pthread_mutex_unlock(&s->inbox_lock);
    uv_async_send(&s->async);
}

static void *pool_main(void *arg)
{
    gt__tpool *p = arg;
    gt__tjob *j;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->cond, &p->lock);
            p->idle--;
        }
        if (!p->head)
            break;
        j = p->head;
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        p->nqueued--;
        j->state = JOB_RUNNING;
        p->running++;
        pthread_mutex_unlock(&p->lock);
        j->result = j->fn(j->arg);
        pthread_mutex_lock(&p->lock);
        p->running--;
        p->done++;
        j->state = JOB_DONE;
        if (j->abandoned) {
            /* Nobody waits: the job and its argument are ours to end. */
            pthread_mutex_unlock(&p->lock);
            if (j->done)
                j->done(j->arg);
            free(j);
            pthread_mutex_lock(&p->lock);
        } else {
            hand_back(j);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start one more thread, with every signal blocked (process-directed
 * signals belong to the workers' loops). Called with the lock held. */
static int add_thread(gt__tpool *p)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&p->threads[p->nthreads], NULL, pool_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        p->nthreads++;
    return -rc;
}

/* Queue 'j'; start a thread if none is free for it and the pool may grow.
 * Fails only when the pool has no thread at all and none could start. */
static int submit(gt__tpool *p, gt__tjob *j)
{
    int rc = 0;

    pthread_mutex_lock(&p->lock);
    if (p->nqueued >= p->idle && p->nthreads < p->max) {
        rc = add_thread(p);
        if (rc < 0 && p->nthreads > 0)
            rc = 0; /* the threads there are will get to it */
    }
    if (rc == 0) {
        j->next = NULL;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        p->nqueued++;
        pthread_cond_signal(&p->cond);
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* Take 'j' off the queue if no thread has taken it yet: true if it was. */
static bool withdraw(gt__tpool *p, gt__tjob *j)
{
    gt__tjob *prev = NULL, *q;
    bool found = false;

    pthread_mutex_lock(&p->lock);
    for (q = p->head; q && j->state == JOB_QUEUED; prev = q, q = q->next) {
        if (q == j) {
            if (prev)
                prev->next = j->next;
            else
                p->head = j->next;
            if (p->tail == j)
                p->tail = prev;
            p->nqueued--;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* Wake the coroutines whose jobs the pools have handed back (rt.c's async
 * callback). Worker thread only. */
void gt__tpool_take_done(gt_sched *s)
{
    gt__tjob *j, *next;

    pthread_mutex_lock(&s->inbox_lock);
    j = s->done_jobs;
    s->done_jobs = NULL;
    pthread_mutex_unlock(&s->inbox_lock);
    for (; j; j = next) {
        next = j->next; /* j is dead once its coroutine runs */
        j->handed_back = true;
        gt__unpark(j->co, 0);
    }
}

int gt__tpool_run(gt__tpool *p, int (*fn)(void *), void *arg, int64_t deadline)
{
    gt_sched *s = gt__sched_self();
    gt__tjob j = {.fn = fn, .arg = arg, .state = JOB_QUEUED};
    int rc;

    if (!s || !s->current || !fn)
        return -EINVAL;
    j.sched = s;
    j.co = s->current;
    if (j.co->cancelled && !j.co->shielded)
        return -ECANCELED; /* not even queued */
    if (deadline != GT_NEVER && deadline <= gt_now())
        return -ETIMEDOUT;
    rc = submit(p, &j);
    if (rc < 0)
        return rc;
    rc = gt__park(deadline);
    if (rc < 0 && withdraw(p, &j))
        return rc;
    while (!j.handed_back)
        gt__park_hard();
    return j.result;
}

int gt__tpool_run_detached(gt__tpool *p, int (*fn)(void *), void *arg,
                           void (*done)(void *), int64_t deadline, int *result)
{
    gt_sched *s = gt__sched_self();
    gt__tjob *j;
    int rc;

    if (!s || !s->current || !fn) {
        rc = -EINVAL;
        goto fail_done;
    }
    if (s->current->cancelled && !s->current->shielded) {
        rc = -ECANCELED;
        goto fail_done;
    }
    if (deadline != GT_NEVER && deadline <= gt_now()) {
        rc = -ETIMEDOUT;
        goto fail_done;
    }
    j = gt_calloc(1, sizeof(*j));
    if (!j) {
        rc = -ENOMEM;
        goto fail_done;
    }
    *j = (gt__tjob){
        .fn = fn, .arg = arg, .done = done, .sched = s, .co = s->current};
    rc = submit(p, j);
    if (rc < 0)
        goto fail_free;
    rc = gt__park(deadline);
    if (rc < 0) {
        if (withdraw(p, j))
            goto fail_free;
        pthread_mutex_lock(&p->lock);
        j->abandoned = j->state == JOB_RUNNING;
        pthread_mutex_unlock(&p->lock);
        if (j->abandoned)
            return rc; /* the thread disposes of it */
    }
    /* Done: handed back now or in the loop's next turn. */
    while (!j->handed_back)
        gt__park_hard();
    *result = j->result;
    free(j);
    return 0;

fail_free:
    free(j);
fail_done:
    if (done)
        done(arg);
    return rc;
}

void gt__tpool_get_stats(gt__tpool *p, gt_rt_thread_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->max_threads = p->max;
    out->threads = p->nthreads;
    out->running = p->running;
    out->queued = p->nqueued;
    out->done = p->done;
    pthread_mutex_unlock(&p->lock);
}
