/* runtime/sync.c -- wait queues, semaphores and mutexes for the coroutines
 * of one worker.
 *
 * No atomics and no locks: all parties run on one thread. The queue is
 * FIFO. A wake-up only counts if it reaches a coroutine that is still
 * parked: one whose wait already ended (timeout, cancel) is unlinked and
 * skipped, so a semaphore never hands its permit to a coroutine that has
 * stopped waiting for it -- the bug that shrank the seed's pool. */
#include <errno.h>

#include "runtime.h"

void gt_waitq_init(gt_waitq *q)
{
    q->head = q->tail = NULL;
}

static void waitq_append(gt_waitq *q, gt_co *co)
{
    co->waitq = q;
    co->wq_next = NULL;
    co->wq_prev = q->tail;
    if (q->tail)
        ((gt_co *)q->tail)->wq_next = co;
    else
        q->head = co;
    q->tail = co;
}

static void waitq_unlink(gt_waitq *q, gt_co *co)
{
    if (co->wq_prev)
        co->wq_prev->wq_next = co->wq_next;
    else
        q->head = co->wq_next;
    if (co->wq_next)
        co->wq_next->wq_prev = co->wq_prev;
    else
        q->tail = co->wq_prev;
    co->wq_next = co->wq_prev = NULL;
    co->waitq = NULL;
}

int gt_waitq_wait(gt_waitq *q, int64_t deadline)
{
    gt_co *co = gt_co_self();
    int rc;

    if (!co)
        return -EINVAL;
    /* A queue's waiters all belong to one worker: the one waking them. */
    GT__ASSERT(!q->head || ((gt_co *)q->head)->sched == co->sched);
    if (q->head && ((gt_co *)q->head)->sched != co->sched)
        return -EXDEV;
    waitq_append(q, co);
    rc = gt__park(deadline);
    if (co->waitq == q)
        waitq_unlink(q, co); /* not woken by gt_waitq_wake() */
    return rc;
}

int gt_waitq_wake(gt_waitq *q, int n)
{
    int woken = 0;

    GT__ASSERT(!q->head || ((gt_co *)q->head)->sched == gt__sched_self());
    if (q->head && ((gt_co *)q->head)->sched != gt__sched_self())
        return -EXDEV;
    while (q->head && (n < 0 || woken < n)) {
        gt_co *co = q->head;
        bool parked = co->state == GT__PARKED;

        waitq_unlink(q, co);
        if (!parked)
            continue; /* its wait already ended; it must not get this one */
        gt__unpark(co, 0);
        woken++;
    }
    return woken;
}

size_t gt_waitq_len(const gt_waitq *q)
{
    size_t n = 0;

    for (const gt_co *co = q->head; co; co = co->wq_next)
        n++;
    return n;
}

void gt_sem_init(gt_sem *s, int64_t permits)
{
    s->permits = permits;
    gt_waitq_init(&s->q);
}

int gt_sem_try_acquire(gt_sem *s)
{
    if (s->permits <= 0 || s->q.head)
        return -EAGAIN;
    s->permits--;
    return 0;
}

int gt_sem_acquire(gt_sem *s, int64_t deadline)
{
    if (gt_sem_try_acquire(s) == 0)
        return 0;
    /* 0 here means gt_sem_release() handed us its permit. */
    return gt_waitq_wait(&s->q, deadline);
}

void gt_sem_release(gt_sem *s)
{
    if (gt_waitq_wake(&s->q, 1) == 0)
        s->permits++;
}

void gt_mutex_init(gt_mutex *m)
{
    gt_sem_init(&m->sem, 1);
    m->owner = NULL;
}

int gt_mutex_lock(gt_mutex *m, int64_t deadline)
{
    gt_co *self = gt_co_self();
    int rc;

    if (!self)
        return -EINVAL;
    if (m->owner == self)
        return -EDEADLK;
    rc = gt_sem_acquire(&m->sem, deadline);
    if (rc == 0)
        m->owner = self;
    return rc;
}

int gt_mutex_unlock(gt_mutex *m)
{
    if (m->owner != gt_co_self())
        return -EPERM;
    m->owner = NULL;
    gt_sem_release(&m->sem);
    return 0;
}
