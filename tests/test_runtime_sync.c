/* tests/test_runtime_sync.c -- wait queues, semaphores and mutexes: FIFO
 * order, timeouts and cancellation leaving the queue, permits never handed
 * to a waiter that gave up. */
#include <errno.h>

#include "util.h"

typedef struct shared {
    gt_waitq q;
    gt_sem sem;
    gt_mutex mu;
    int log[64];
    int n;
    int inside; /* coroutines inside the mutex */
} shared;

typedef struct waiter {
    shared *sh;
    int id;
    int64_t deadline;
} waiter;

static int wait_and_log(void *arg)
{
    waiter *w = arg;
    int rc = gt_waitq_wait(&w->sh->q, w->deadline);

    if (rc == 0)
        w->sh->log[w->sh->n++] = w->id;
    return rc;
}

static int t_waitq_fifo(void *arg)
{
    shared sh = {.n = 0};
    waiter w[5];
    gt_co *co[5];
    int rc;

    (void)arg;
    gt_waitq_init(&sh.q);
    for (int i = 0; i < 5; i++) {
        w[i] = (waiter){&sh, i, GT_NEVER};
        ck_assert_int_eq(gt_co_spawn(&co[i], wait_and_log, &w[i]), 0);
    }
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_uint_eq(gt_waitq_len(&sh.q), 5);
    ck_assert_int_eq(gt_waitq_wake(&sh.q, 2), 2);
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(sh.n, 2);
    ck_assert_int_eq(gt_waitq_wake(&sh.q, -1), 3);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(sh.log[i], i);
    }
    ck_assert_int_eq(gt_waitq_wake(&sh.q, 1), 0);
    return 0;
}

START_TEST(waitq_wakes_in_fifo_order)
{
    ck_assert_int_eq(run_main(t_waitq_fifo, NULL), 0);
}
END_TEST

static int t_waitq_timeout_cancel(void *arg)
{
    shared sh = {.n = 0};
    waiter timed = {&sh, 1, 0}, cancelled = {&sh, 2, GT_NEVER},
           patient = {&sh, 3, GT_NEVER};
    gt_co *a, *b, *c;
    int rc;

    (void)arg;
    gt_waitq_init(&sh.q);
    timed.deadline = gt_deadline_in(10);
    ck_assert_int_eq(gt_co_spawn(&a, wait_and_log, &timed), 0);
    ck_assert_int_eq(gt_co_spawn(&b, wait_and_log, &cancelled), 0);
    ck_assert_int_eq(gt_co_spawn(&c, wait_and_log, &patient), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_cancel(b);
    ck_assert_int_eq(gt_co_join(a, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ETIMEDOUT);
    ck_assert_int_eq(gt_co_join(b, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    /* Both left the queue: one wake reaches the patient one. */
    ck_assert_uint_eq(gt_waitq_len(&sh.q), 1);
    ck_assert_int_eq(gt_waitq_wake(&sh.q, 1), 1);
    ck_assert_int_eq(gt_co_join(c, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(sh.n, 1);
    ck_assert_int_eq(sh.log[0], 3);
    return 0;
}

START_TEST(waitq_timeout_and_cancel_leave_the_queue)
{
    ck_assert_int_eq(run_main(t_waitq_timeout_cancel, NULL), 0);
}
END_TEST

static int acquire_and_log(void *arg)
{
    waiter *w = arg;
    int rc = gt_sem_acquire(&w->sh->sem, w->deadline);

    if (rc == 0)
        w->sh->log[w->sh->n++] = w->id;
    return rc;
}

static int t_sem_fifo(void *arg)
{
    shared sh = {.n = 0};
    waiter w[4];
    gt_co *co[4];
    int rc;

    (void)arg;
    gt_sem_init(&sh.sem, 1);
    ck_assert_int_eq(gt_sem_acquire(&sh.sem, GT_NEVER), 0);
    ck_assert_int_eq(gt_sem_try_acquire(&sh.sem), -EAGAIN);
    for (int i = 0; i < 4; i++) {
        w[i] = (waiter){&sh, i, GT_NEVER};
        ck_assert_int_eq(gt_co_spawn(&co[i], acquire_and_log, &w[i]), 0);
    }
    ck_assert_int_eq(gt_yield(), 0);
    for (int i = 0; i < 4; i++) {
        gt_sem_release(&sh.sem); /* hands the permit to waiter i */
        /* A late arrival cannot overtake a woken waiter. */
        ck_assert_int_eq(gt_sem_try_acquire(&sh.sem), -EAGAIN);
        ck_assert_int_eq(gt_co_join(co[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(sh.log[i], i);
    }
    gt_sem_release(&sh.sem);
    ck_assert_int_eq(sh.sem.permits, 1);
    return 0;
}

START_TEST(semaphore_hands_permits_over_in_fifo_order)
{
    ck_assert_int_eq(run_main(t_sem_fifo, NULL), 0);
}
END_TEST

static int t_sem_no_lost_permit(void *arg)
{
    shared sh = {.n = 0};
    waiter quitter = {&sh, 1, GT_NEVER}, stayer = {&sh, 2, GT_NEVER};
    gt_co *q, *st;
    int rc;

    (void)arg;
    gt_sem_init(&sh.sem, 0);
    quitter.deadline = gt_deadline_in(5);
    ck_assert_int_eq(gt_co_spawn(&q, acquire_and_log, &quitter), 0);
    ck_assert_int_eq(gt_co_spawn(&st, acquire_and_log, &stayer), 0);
    ck_assert_int_eq(gt_sleep(20), 0); /* quitter's timer fired */
    gt_sem_release(&sh.sem);
    ck_assert_int_eq(gt_co_join(q, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ETIMEDOUT);
    ck_assert_int_eq(gt_co_join(st, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(sh.sem.permits, 0);
    ck_assert_int_eq(sh.n, 1);
    return 0;
}

START_TEST(timed_out_waiter_is_never_handed_a_permit)
{
    ck_assert_int_eq(run_main(t_sem_no_lost_permit, NULL), 0);
}
END_TEST

/* The race the seed's pool lost connections to: the waiter's deadline
 * fires and, before it runs, the permit is released. The release must go
 * to the next waiter, not to the one that is leaving. */
static int t_sem_race(void *arg)
{
    shared sh = {.n = 0};
    waiter quitter = {&sh, 1, GT_NEVER}, stayer = {&sh, 2, GT_NEVER};
    gt_co *q, *st;
    int rc;

    (void)arg;
    gt_sem_init(&sh.sem, 0);
    ck_assert_int_eq(gt_co_spawn(&q, acquire_and_log, &quitter), 0);
    ck_assert_int_eq(gt_co_spawn(&st, acquire_and_log, &stayer), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_cancel(q);         /* q is now ready with -ECANCELED ... */
    gt_sem_release(&sh.sem); /* ... and must not receive this */
    ck_assert_int_eq(gt_co_join(q, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    ck_assert_int_eq(gt_co_join(st, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(sh.sem.permits, 0);
    return 0;
}

START_TEST(cancelled_waiter_race_keeps_the_permit)
{
    ck_assert_int_eq(run_main(t_sem_race, NULL), 0);
}
END_TEST

static int critical(void *arg)
{
    shared *sh = arg;

    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gt_mutex_lock(&sh->mu, GT_NEVER), 0);
        ck_assert_int_eq(gt_mutex_lock(&sh->mu, GT_NEVER), -EDEADLK);
        ck_assert_int_eq(++sh->inside, 1);
        ck_assert_int_eq(gt_sleep(1), 0); /* others queue up meanwhile */
        sh->inside--;
        ck_assert_int_eq(gt_mutex_unlock(&sh->mu), 0);
    }
    return 0;
}

static int t_mutex(void *arg)
{
    shared sh = {.n = 0};
    gt_co *co[4];

    (void)arg;
    gt_mutex_init(&sh.mu);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_spawn(&co[i], critical, &sh), 0);
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(gt_mutex_unlock(&sh.mu), -EPERM); /* not the owner */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_join(co[i], NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_mutex_lock(&sh.mu, 0), 0);
    return gt_mutex_unlock(&sh.mu);
}

START_TEST(mutex_excludes_and_checks_its_owner)
{
    ck_assert_int_eq(run_main(t_mutex, NULL), 0);
}
END_TEST

static int lock_forever(void *arg)
{
    return gt_mutex_lock(&((shared *)arg)->mu, GT_NEVER);
}

static int t_mutex_cancel(void *arg)
{
    shared sh = {.n = 0};
    gt_co *co;
    int rc;

    (void)arg;
    gt_mutex_init(&sh.mu);
    ck_assert_int_eq(gt_mutex_lock(&sh.mu, GT_NEVER), 0);
    ck_assert_int_eq(gt_mutex_lock(&sh.mu, 0), -EDEADLK);
    ck_assert_int_eq(gt_co_spawn(&co, lock_forever, &sh), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    ck_assert_int_eq(gt_mutex_unlock(&sh.mu), 0);
    ck_assert_int_eq(sh.mu.sem.permits, 1);
    return 0;
}

START_TEST(cancel_during_mutex_wait)
{
    ck_assert_int_eq(run_main(t_mutex_cancel, NULL), 0);
}
END_TEST

void add_runtime_sync_tests(Suite *s)
{
    TCase *tc = tcase_create("sync");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, waitq_wakes_in_fifo_order);
    tcase_add_test(tc, waitq_timeout_and_cancel_leave_the_queue);
    tcase_add_test(tc, semaphore_hands_permits_over_in_fifo_order);
    tcase_add_test(tc, timed_out_waiter_is_never_handed_a_permit);
    tcase_add_test(tc, cancelled_waiter_race_keeps_the_permit);
    tcase_add_test(tc, mutex_excludes_and_checks_its_owner);
    tcase_add_test(tc, cancel_during_mutex_wait);
    suite_add_tcase(s, tc);
}
