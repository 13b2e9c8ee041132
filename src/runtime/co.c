/* runtime/co.c -- coroutine life cycle: spawn, park, wake, cancel, join.
 *
 * Every blocking operation of the runtime reduces to gt__park(): mark the
 * coroutine parked, arm its timer for the earlier of the wait's deadline and
 * the coroutine's own, and switch to the loop. Whoever wakes it calls
 * gt__unpark() with the result the park returns. Waking never switches
 * stacks -- it only queues -- so it is safe from any libuv callback and from
 * another coroutine; the scheduler resumes ready coroutines in FIFO order.
 *
 * Because a wake is a state change and not a call, the races of waiting
 * resolve themselves: the first of (event, timer, cancel) to unpark wins and
 * the others find the coroutine no longer parked. A waiter that was handed
 * something (a permit, a connection) and then cancelled still receives it,
 * and its next wait reports the cancellation.
 *
 * Scopes. A coroutine spawned by another is its child; one spawned from a
 * libuv callback, a posted task or gt_co_spawn_worker() belongs to the
 * worker's root scope. When a coroutine's body returns, its children still
 * running are cancelled and waited for -- on an event, bounded by the
 * runtime's cleanup grace -- before its own cleanups run, so a request's
 * helpers have finished with its pooled connection before the connection
 * goes back. Children that outlast the grace move to the root scope (the
 * worker's stop cancels them again) with a warning: nothing is left
 * pointing at a freed parent. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "sanitizer.h"

static int64_t earlier(int64_t a, int64_t b)
{
    if (a == GT_NEVER)
        return b;
    if (b == GT_NEVER)
        return a;
    return a < b ? a : b;
}

/* A timer carries the park it was armed for: should it ever outlive that
 * park (it is stopped after every park and when the coroutine ends, but a
 * timer callback may already be queued in this loop iteration), it must
 * not wake a later wait -- or the next coroutine on this control block. */
static void on_park_timeout(uv_timer_t *t)
{
    gt_co *co = t->data;

    if (co->timer_seq == co->park_seq)
        gt__unpark(co, -ETIMEDOUT);
}

/* The deadline a wait of 'co' actually has. */
static int64_t wait_until(const gt_co *co, int64_t deadline)
{
    return co->shielded ? deadline : earlier(deadline, co->deadline);
}

static void arm_timer(gt_co *co)
{
    int64_t until = wait_until(co, co->park_until);
    int64_t now = (int64_t)uv_now(&co->sched->loop);

    if (until == GT_NEVER) {
        uv_timer_stop(&co->timer);
        return;
    }
    co->timer_seq = co->park_seq;
    uv_timer_start(&co->timer, on_park_timeout,
                   (uint64_t)(until > now ? until - now : 0), 0);
}

/* How deep the stack is at this wait: the overflow message quotes the
 * deepest such figure of the worker, a cheap hint at what is normal. */
static void note_wait_depth(gt_sched *s, gt_co *co)
{
    size_t used = (size_t)(co->stack_hi - (char *)__builtin_frame_address(0));

    if (used > s->stats.stack_wait_hwm)
        GT__STAT_SET(s->stats.stack_wait_hwm, used);
}

int gt__park(int64_t deadline)
{
    gt_sched *s = gt__sched_self();
    gt_co *co = s ? s->current : NULL;
    int64_t until;

    if (!co)
        return -EINVAL;
    if (co->cancelled && !co->shielded)
        return -ECANCELED;
    until = wait_until(co, deadline);
    if (until != GT_NEVER && until <= (int64_t)uv_now(&s->loop))
        return -ETIMEDOUT;
    co->park_until = deadline;
    co->park_seq++;
    co->wake_rc = 0;
    if (until != GT_NEVER)
        arm_timer(co);
    co->state = GT__PARKED;
    note_wait_depth(s, co);
    gt__sched_suspend(s, co);
    /* Unconditionally: gt_co_set_deadline() may have armed the timer
     * during a wait that had no deadline of its own. */
    uv_timer_stop(&co->timer);
    return co->wake_rc;
}

int gt__park_hard(void)
{
    gt_sched *s = gt__sched_self();
    gt_co *co = s->current;

    co->hard = true;
    co->park_seq++; /* no timer may end a hard park */
    co->wake_rc = 0;
    co->state = GT__PARKED;
    gt__sched_suspend(s, co);
    co->hard = false;
    return co->wake_rc;
}

void gt__unpark(gt_co *co, int rc)
{
    if (co->state != GT__PARKED)
        return;
    co->wake_rc = rc;
    co->state = GT__READY;
    GT__ASSERT(co->sched == gt__sched_self());
    gt__sched_push_ready(co->sched, co);
}

#define KID(l) gt__list_entry(l, gt_co, kid_link)

static void link_kid(gt_co *parent, gt_co *co)
{
    co->parent = parent;
    co->kid_link.prev = co->kid_link.next = NULL;
    if (!parent)
        return;
    gt__list_push_front(&parent->kids, &co->kid_link);
    parent->nlive_kids++;
}

void gt__co_unlink_parent(gt_co *co)
{
    gt_co *parent = co->parent;

    if (!parent)
        return;
    gt__list_remove(&parent->kids, &co->kid_link);
    co->parent = NULL;
}

/* A child finished: its parent may be waiting for the last one. */
static void kid_finished(gt_co *co)
{
    gt_co *parent = co->parent;

    if (!parent)
        return;
    parent->nlive_kids--;
    if (parent->awaiting_kids && parent->nlive_kids == 0)
        gt__unpark(parent, 0);
}

/* Cancel the live children and wait for them, deaf to our own cancel and
 * deadline but bounded by the cleanup grace. */
static void await_kids(gt_co *co)
{
    int64_t until = gt_deadline_in(co->sched->rt->cfg.cleanup_grace_ms);
    bool was = co->shielded;

    for (gt__link *l = co->kids.head; l; l = l->next)
        gt_co_cancel(KID(l));
    co->shielded = true;
    co->awaiting_kids = true;
    while (co->nlive_kids > 0 && gt__park(until) == 0)
        ;
    co->awaiting_kids = false;
    co->shielded = was;
}

/* End the scope of 'co': no child may outlive it, and none may keep a
 * pointer to it. */
static void end_scope(gt_co *co)
{
    gt__link *l;
    gt_co *k;

    if (gt__list_empty(&co->kids))
        return;
    if (co->nlive_kids > 0)
        await_kids(co);
    while ((l = co->kids.head) != NULL) {
        k = KID(l);
        gt__list_remove(&co->kids, l);
        k->parent = NULL;
        if (k->joiner)
            continue; /* a sibling is joining it: the handle is in use */
        if (k->state == GT__DONE) {
            gt__stack_put(co->sched, k); /* finished, never joined */
            continue;
        }
        k->detached = true;
        fprintf(stderr,
                "greentor: coroutine #%llu '%s' outlived its parent "
                "#%llu '%s' by the cleanup grace; it now belongs to "
                "the worker\n",
                (unsigned long long)k->id, k->name[0] ? k->name : "?",
                (unsigned long long)co->id, co->name[0] ? co->name : "?");
    }
    co->nlive_kids = 0;
}

/* The first frame on every coroutine stack. It never returns: the last
 * switch back to the loop abandons it. */
static void co_main(void *p)
{
    gt_co *co = p;
    gt_sched *s = co->sched;

    gt__san_finish_switch(NULL, &s->main_stack_bottom, &s->main_stack_size);
    co->result = co->fn(co->arg);
    end_scope(co);
    gt__co_run_cleanups(co);
    end_scope(co); /* what a cleanup spawned */
    co->state = GT__DONE;
    if (co->joiner)
        gt__unpark(co->joiner, 0);
    gt__sched_suspend(s, co);
}

static void co_reset(gt_co *co, gt_sched *s, gt_co_fn fn, void *arg)
{
    size_t stack = (size_t)(co->stack_hi - co->stack_lo);

    co->fn = fn;
    co->arg = arg;
    co->result = 0;
    co->cancelled = s->stopping; /* born into a stopping worker */
    co->cleaning = false;
    co->deadline = GT_NEVER;
    co->joiner = NULL;
    co->kids = (gt__list){0};
    co->nlive_kids = 0;
    co->awaiting_kids = false;
    co->waitq = NULL;
    co->hard = false;
    co->shielded = false;
    co->local_mask = 0;
    co->next = co->wq_next = co->wq_prev = NULL;
    co->cleanups = co->cleanup_inline;
    co->ncleanups = 0;
    co->cap_cleanups = GT__CLEANUP_INLINE;
    co->asan_fake_stack = NULL;
    co->name[0] = '\0';
    co->id = ++s->next_id;
    /* A fiber per coroutine, not per stack: with GCC 12's TSan, a fiber
     * switched to ~16k times crashes the TSan runtime (its 14-bit epoch
     * overflows; threads survive that, created fibers do not, and a fiber
     * cannot be renewed mid-life without breaking TSan's shadow stack). A
     * stack lives for many coroutines; a coroutine rarely that long. */
    co->tsan_fiber = gt__tsan_fiber_new();
    if (s->rt->cfg.stack_check)
        gt__stack_prefill(co);
    gt__ctx_init(&co->ctx, co->stack_lo, stack, co_main, co);
}

static void link_live(gt_sched *s, gt_co *co)
{
    gt__list_push_front(&s->all, &co->all_link);
    GT__STAT_ADD(s->stats.live, 1);
}

int gt__co_spawn(gt_sched *s, gt_co *parent, gt_co **out, gt_co_fn fn,
                 void *arg)
{
    gt_co *co = gt__stack_get(s);

    if (!co)
        return -ENOMEM;
    co_reset(co, s, fn, arg);
    link_kid(parent, co);
    co->detached = out == NULL;
    link_live(s, co);
    GT__STAT_ADD(s->stats.spawned, 1);
    co->state = GT__READY;
    gt__sched_push_ready(s, co);
    if (out)
        *out = co;
    return 0;
}

/* Called by the scheduler when a coroutine has switched away for the last
 * time. Its stack is free once no handle refers to it. */
void gt__co_finished(gt_sched *s, gt_co *co)
{
    size_t used;

    gt__list_remove(&s->all, &co->all_link);
    GT__STAT_ADD(s->stats.live, (uint64_t)-1);
    kid_finished(co);
    gt__tsan_fiber_free(co->tsan_fiber);
    co->tsan_fiber = NULL;
    uv_timer_stop(&co->timer);
    co->park_seq++;
    if (s->rt->cfg.stack_check) {
        used = gt__stack_used(co);
        if (used > s->stats.stack_hwm)
            GT__STAT_SET(s->stats.stack_hwm, used);
    }
    if (co->detached)
        gt__stack_put(s, co);
}

int gt_co_spawn(gt_co **out, gt_co_fn fn, void *arg)
{
    gt_sched *s = gt__sched_self();

    if (!s || !fn)
        return -EINVAL;
    return gt__co_spawn(s, s->current, out, fn, arg);
}

int gt_co_spawn_worker(gt_co **out, gt_co_fn fn, void *arg)
{
    gt_sched *s = gt__sched_self();

    if (!s || !fn)
        return -EINVAL;
    return gt__co_spawn(s, NULL, out, fn, arg);
}

int gt_co_join(gt_co *co, int *result, int64_t deadline)
{
    gt_co *self = gt_co_self();
    int rc;

    if (co->sched != gt__sched_self() || co->state == GT__FREE)
        return -EINVAL; /* another worker's, or already joined */
    if (co->state != GT__DONE) {
        if (!self || self == co || co->joiner)
            return -EINVAL;
        co->joiner = self;
        rc = gt__park(deadline);
        co->joiner = NULL;
        if (rc < 0 && co->state != GT__DONE)
            return rc;
    }
    if (result)
        *result = co->result;
    gt__stack_put(co->sched, co);
    return 0;
}

void gt_co_detach(gt_co *co)
{
    GT__ASSERT(co->sched == gt__sched_self() && co->state != GT__FREE);
    if (co->state == GT__DONE)
        gt__stack_put(co->sched, co);
    else
        co->detached = true;
}

void gt_co_cancel(gt_co *co)
{
    GT__ASSERT(co->sched == gt__sched_self());
    if (co->state == GT__DONE || co->state == GT__FREE)
        return;
    co->cancelled = true;
    if (!co->hard && !co->shielded)
        gt__unpark(co, -ECANCELED);
}

void gt_co_set_deadline(gt_co *co, int64_t deadline)
{
    GT__ASSERT(co->sched == gt__sched_self() && co->state != GT__FREE);
    co->deadline = deadline;
    if (co->state == GT__PARKED && !co->hard && !co->shielded)
        arm_timer(co);
}

int64_t gt_co_deadline(const gt_co *co)
{
    return co->deadline;
}

int gt_co_shield(int on)
{
    gt_co *co = gt_co_self();
    int was;

    if (!co)
        return -EINVAL;
    was = co->shielded;
    co->shielded = on != 0;
    return was;
}

gt_co *gt_co_self(void)
{
    gt_sched *s = gt__sched_self();

    return s ? s->current : NULL;
}

int gt_co_cancelled(const gt_co *co)
{
    return co->cancelled;
}

void gt_co_set_name(gt_co *co, const char *name)
{
    size_t n = strlen(name);

    if (n >= sizeof(co->name))
        n = sizeof(co->name) - 1;
    memcpy(co->name, name, n);
    co->name[n] = '\0';
}

const char *gt_co_name(const gt_co *co)
{
    return co->name;
}

ssize_t gt_co_stack_used(void)
{
    gt_co *co = gt_co_self();

    if (!co || !co->sched->rt->cfg.stack_check)
        return -ENOTSUP;
    return (ssize_t)gt__stack_used(co);
}

int gt_yield(void)
{
    gt_sched *s = gt__sched_self();
    gt_co *co = s ? s->current : NULL;

    if (!co)
        return -EINVAL;
    if (co->cancelled && !co->shielded)
        return -ECANCELED;
    co->state = GT__READY;
    gt__sched_push_ready(s, co);
    gt__sched_suspend(s, co);
    return co->cancelled && !co->shielded ? -ECANCELED : 0;
}

int gt_sleep(int64_t ms)
{
    gt_co *co = gt_co_self();
    int64_t wake = gt_deadline_in(ms < 0 ? 0 : ms);
    int rc;

    if (!co)
        return -EINVAL;
    rc = gt__park(wake);
    /* Our own alarm is success; only the coroutine's deadline is not. */
    if (rc == -ETIMEDOUT &&
        (co->shielded || co->deadline == GT_NEVER || co->deadline > wake))
        return 0;
    return rc;
}
