/* runtime/thread.c -- gt_run_thread(): a blocking call on a thread of its
 * own, which the caller may stop waiting for.
 *
 * gt_run_blocking() keeps its job on the caller's stack and must wait for
 * a running job to end, however long that takes; its threads are libuv's
 * shared four. That is right for short work (a SQLite statement) and wrong
 * for a call that can block for minutes: PQcancel() on a stopped
 * postmaster blocked a request past its deadline and, six at a time, the
 * whole pool. Here the job lives on the heap and belongs to both sides
 * through a reference count: the thread drops its reference when fn
 * returns, the waiter when it stops waiting, and whoever is last cleans
 * up. The thread says "done" through an eventfd, which the waiter parks on
 * like on any socket -- no libuv request keeps a stopping worker's loop
 * alive, so a wedged call can never hold up a shutdown. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "runtime.h"

/* gt_thread_call in runtime.h: the job, shared by thread and waiter. */
typedef struct gt_thread_call {
    int (*fn)(void *);
    void *arg;
    void (*done)(void *);
    atomic_int result;
    atomic_bool finished;
    atomic_int refs; /* the thread's and the waiter's */
    int efd;         /* becomes readable when fn has returned */
} side_job;

static void job_unref(side_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    if (j->done)
        j->done(j->arg);
    close(j->efd);
    free(j);
}

static void *job_main(void *p)
{
    side_job *j = p;
    uint64_t one = 1;

    atomic_store(&j->result, j->fn(j->arg));
    atomic_store(&j->finished, true);
    (void)!write(j->efd, &one, sizeof(one));
    job_unref(j);
    return NULL;
}

/* Detached, with every signal blocked: process-directed signals belong
 * to the workers' loops, not to a thread stuck in a connect. */
static int job_start(side_job *j)
{
    pthread_attr_t attr;
    pthread_t t;
    sigset_t all, old;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t, &attr, job_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return -rc;
}

static side_job *job_new(int (*fn)(void *), void *arg, void (*done)(void *))
{
    side_job *j = gt_calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (j->efd < 0) {
        free(j);
        return NULL;
    }
    j->fn = fn;
    j->arg = arg;
    j->done = done;
    atomic_init(&j->refs, 2);
    return j;
}

int gt_thread_start(gt_thread_call **out, int (*fn)(void *), void *arg,
                    void (*done)(void *))
{
    side_job *j;
    int rc;

    *out = NULL;
    if (!fn) {
        if (done)
            done(arg);
        return -EINVAL;
    }
    j = job_new(fn, arg, done);
    if (!j) {
        if (done)
            done(arg);
        return -ENOMEM;
    }
    rc = job_start(j);
    if (rc < 0) {
        atomic_store(&j->refs, 1);
        job_unref(j);
        return rc;
    }
    *out = j;
    return 0;
}

int gt_thread_wait(gt_thread_call *call, int64_t deadline)
{
    side_job *j = call;
    int rc;

    if (!j || !gt_co_self())
        return -EINVAL;
    if (atomic_load(&j->finished))
        return atomic_load(&j->result);
    /* The eventfd is written only after 'finished' is set. */
    rc = gt_wait_fd(j->efd, GT_READABLE, deadline);
    if (rc > 0)
        rc = atomic_load(&j->finished) ? atomic_load(&j->result) : -EIO;
    return rc;
}

int gt_thread_finished(const gt_thread_call *call)
{
    return call && atomic_load(&call->finished);
}

void gt_thread_forget(gt_thread_call *call)
{
    if (call)
        job_unref(call);
}

int gt_run_thread(int (*fn)(void *), void *arg, void (*done)(void *),
                  int64_t deadline)
{
    gt_thread_call *j;
    int rc;

    if (!gt_co_self()) {
        if (done)
            done(arg);
        return -EINVAL;
    }
    rc = gt_thread_start(&j, fn, arg, done);
    if (rc < 0)
        return rc;
    rc = gt_thread_wait(j, deadline);
    gt_thread_forget(j);
    return rc;
}
