/* runtime/sched.c -- one scheduler per worker thread, driven by libuv.
 *
 * The loop runs on the thread's own stack; coroutines run on theirs. Ready
 * coroutines wait in a FIFO run queue, which is drained from three libuv
 * phases: prepare (before the loop blocks in poll, so work readied by timers
 * runs first), check (right after I/O callbacks, so a coroutine woken by its
 * socket runs in the same iteration) and idle (whose mere activity makes
 * poll non-blocking while the queue is not empty).
 *
 * A drain runs ready coroutines until the queue is empty or it has resumed
 * DRAIN_BUDGET of them; then the loop polls for I/O again. Going back to
 * the loop after every round would cost an epoll_wait() per yield; never
 * going back would let coroutines that yield in a loop starve I/O. */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"
#include "sanitizer.h"

static __thread gt_sched *tls_sched;

static void on_idle(uv_idle_t *h);

gt_sched *gt__sched_self(void)
{
    return tls_sched;
}

void gt__sched_set_self(gt_sched *s)
{
    tls_sched = s;
}

void gt__sched_push_ready(gt_sched *s, gt_co *co)
{
    co->next = NULL;
    if (s->ready_tail)
        s->ready_tail->next = co;
    else
        s->ready_head = co;
    s->ready_tail = co;
    if (!uv_is_active((uv_handle_t *)&s->idle))
        uv_idle_start(&s->idle, on_idle);
}

static gt_co *pop_ready(gt_sched *s)
{
    gt_co *co = s->ready_head;

    if (co) {
        s->ready_head = co->next;
        if (!s->ready_head)
            s->ready_tail = NULL;
        co->next = NULL;
    }
    return co;
}

void gt__sched_resume(gt_sched *s, gt_co *co)
{
    size_t size = (size_t)(co->stack_hi - co->stack_lo);
    void *fake = NULL;

    co->state = GT__RUNNING;
    s->current = co;
    GT__STAT_ADD(s->stats.switches, 1);
    gt__san_start_switch(&fake, co->stack_lo, size);
    gt__tsan_switch(co->tsan_fiber);
    gt__ctx_switch(&s->main_ctx, &co->ctx);
    gt__san_finish_switch(fake, NULL, NULL);
    s->current = NULL;
    if (co->state == GT__DONE)
        gt__co_finished(s, co);
}

void gt__sched_suspend(gt_sched *s, gt_co *co)
{
    /* A finished coroutine's fake stack is destroyed by passing NULL. */
    void **fake = co->state == GT__DONE ? NULL : &co->asan_fake_stack;

    gt__san_start_switch(fake, s->main_stack_bottom, s->main_stack_size);
    gt__tsan_switch(s->tsan_main);
    gt__ctx_switch(&co->ctx, &s->main_ctx);
    gt__san_finish_switch(co->asan_fake_stack, &s->main_stack_bottom,
                          &s->main_stack_size);
}

static void maybe_leave(gt_sched *s)
{
    if (s->stopping && s->stats.live == 0)
        uv_stop(&s->loop);
}

#define DRAIN_BUDGET 1024

static void drain(gt_sched *s)
{
    gt_co *co;
    int budget = DRAIN_BUDGET;

    while (budget-- > 0 && (co = pop_ready(s)) != NULL)
        gt__sched_resume(s, co);
    if (!s->ready_head)
        uv_idle_stop(&s->idle);
    maybe_leave(s);
}

static void on_prepare(uv_prepare_t *h)
{
    drain(h->data);
}

static void on_check(uv_check_t *h)
{
    drain(h->data);
}

static void on_idle(uv_idle_t *h)
{
    drain(h->data);
}

static void on_async(uv_async_t *h)
{
    gt_sched *s = h->data;

    gt__rt_take_inbox(s);
    gt__tpool_take_done(s);
    if (atomic_load(&s->rt->stop) && !s->stopping)
        gt__sched_begin_stop(s);
    drain(s);
}

/* Cancel everything alive; the loop ends when the last one has ended. */
void gt__sched_begin_stop(gt_sched *s)
{
    s->stopping = true;
    for (gt__link *l = s->all.head; l; l = l->next)
        gt_co_cancel(gt__list_entry(l, gt_co, all_link));
    maybe_leave(s);
}

int gt__sched_init(gt_sched *s, gt_rt *rt, int index)
{
    int rc = uv_loop_init(&s->loop);

    if (rc < 0)
        return rc;
    s->rt = rt;
    s->index = index;
    pthread_mutex_init(&s->inbox_lock, NULL);
    uv_prepare_init(&s->loop, &s->prepare);
    uv_check_init(&s->loop, &s->check);
    uv_idle_init(&s->loop, &s->idle);
    uv_async_init(&s->loop, &s->async, on_async);
    s->prepare.data = s->check.data = s->idle.data = s->async.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_check_start(&s->check, on_check);
    /* These two must not keep the loop alive on their own. */
    uv_unref((uv_handle_t *)&s->prepare);
    uv_unref((uv_handle_t *)&s->check);
    gt__stack_trim_start(s);
    uv_timer_init(&s->loop, &s->retry);
    s->retry.data = s;
    return 0;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void gt__sched_run(gt_sched *s)
{
    gt__sched_set_self(s);
    s->tsan_main = gt__tsan_fiber_self();
    gt__guard_thread_init(&s->altstack);
    gt__rt_take_inbox(s);
    if (atomic_load(&s->rt->stop))
        gt__sched_begin_stop(s);
    while (!(s->stopping && s->stats.live == 0))
        uv_run(&s->loop, UV_RUN_DEFAULT);
    gt__rt_run_stop_hooks(s);
    /* Close what is left (ours, the free list's timers, and any handle user
     * code forgot), then let the close callbacks unmap the stacks. */
    gt__stack_drain(s);
    uv_walk(&s->loop, close_any, NULL);
    /* A pending uv_stop() makes the first run return at once. */
    while (uv_run(&s->loop, UV_RUN_DEFAULT) != 0)
        ;
    gt__guard_thread_deinit(s->altstack);
    s->altstack = NULL;
    gt__sched_set_self(NULL);
}

void gt__sched_deinit(gt_sched *s)
{
    uv_loop_close(&s->loop);
    gt__ctx_deinit(&s->main_ctx);
    pthread_mutex_destroy(&s->inbox_lock);
    free(s->inbox);
    free(s->held);
}
