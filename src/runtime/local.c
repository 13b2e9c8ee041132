/* runtime/local.c -- coroutine-local storage and end-of-coroutine cleanups.
 *
 * The green-thread local that the seed's ORM lacked: a value per key per
 * coroutine, so each request's coroutine can hold its own database
 * connection. Keys are process-wide indices (like pthread keys); values live
 * in an array inside the coroutine's struct.
 *
 * Local destructors and gt_co_defer() functions share one LIFO list of
 * cleanups, so "reverse order of registration" holds across both. They run
 * in the ending coroutine itself, on its own stack, so they may do I/O (the
 * pool rolls back an abandoned transaction there). A coroutine cancelled or
 * past its deadline would see every such I/O fail at once, so cleanups run
 * with cancellation cleared and a fresh, bounded deadline; a cancel that
 * arrives during cleanup is honoured again. */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

static void (*destructors[GT__LOCAL_MAX])(void *);
static atomic_int nkeys;

int gt_local_key_new(gt_local_key *key, void (*destructor)(void *))
{
    int k = atomic_fetch_add(&nkeys, 1);

    if (k >= GT__LOCAL_MAX) {
        atomic_fetch_sub(&nkeys, 1);
        return -EAGAIN;
    }
    destructors[k] = destructor;
    *key = k;
    return 0;
}

static bool valid_key(gt_local_key key)
{
    return key >= 0 && key < atomic_load(&nkeys);
}

static int push_cleanup(gt_co *co, gt__cleanup c)
{
    if (co->ncleanups == co->cap_cleanups) {
        size_t cap = 2 * co->cap_cleanups;
        gt__cleanup *p;

        if (co->cleanups == co->cleanup_inline) {
            p = gt_malloc(cap * sizeof(*p));
            if (p)
                for (size_t i = 0; i < co->ncleanups; i++)
                    p[i] = co->cleanup_inline[i];
        } else {
            p = gt_realloc(co->cleanups, cap * sizeof(*p));
        }
        if (!p)
            return -ENOMEM;
        co->cleanups = p;
        co->cap_cleanups = cap;
    }
    co->cleanups[co->ncleanups++] = c;
    return 0;
}

static bool has_local(const gt_co *co, int key)
{
    return co->local_mask & ((uint64_t)1 << key);
}

void *gt_local_get(gt_local_key key)
{
    gt_co *co = gt_co_self();

    if (!co || !valid_key(key) || !has_local(co, key))
        return NULL;
    return co->locals[key];
}

int gt_local_set(gt_local_key key, void *value)
{
    gt_co *co = gt_co_self();
    int rc;

    if (!co || !valid_key(key))
        return -EINVAL;
    if (!has_local(co, key)) {
        rc = push_cleanup(co, (gt__cleanup){NULL, NULL, key});
        if (rc < 0)
            return rc;
        co->local_mask |= (uint64_t)1 << key;
    }
    co->locals[key] = value;
    return 0;
}

/* Whatever the outcome, fn(arg) runs: now when it cannot be registered,
 * so that a caller handing over a resource never has to clean up after a
 * failure (gt_co_alloc relies on it). */
int gt_co_defer(void (*fn)(void *), void *arg)
{
    gt_co *co = gt_co_self();
    int rc;

    if (!fn)
        return -EINVAL;
    rc = co ? push_cleanup(co, (gt__cleanup){fn, arg, -1}) : -EINVAL;
    if (rc < 0)
        fn(arg);
    return rc;
}

void *gt_co_alloc(size_t size)
{
    void *p;

    if (!gt_co_self())
        return NULL; /* nothing would free it */
    p = gt_malloc(size);
    if (p && gt_co_defer(free, p) < 0)
        return NULL; /* gt_co_defer already freed it */
    return p;
}

static void run_one(gt_co *co, gt__cleanup c)
{
    void *value;

    if (c.fn) {
        c.fn(c.arg);
        return;
    }
    value = co->locals[c.key];
    co->locals[c.key] = NULL;
    co->local_mask &= ~((uint64_t)1 << c.key);
    if (value && destructors[c.key])
        destructors[c.key](value);
}

void gt__co_run_cleanups(gt_co *co)
{
    co->cleaning = true;
    co->cancelled = false;
    co->deadline = gt_deadline_in(co->sched->rt->cfg.cleanup_grace_ms);
    /* Cleanups may register more; pop until none are left. */
    while (co->ncleanups > 0) {
        gt__cleanup c = co->cleanups[--co->ncleanups];

        run_one(co, c);
    }
    if (co->cleanups != co->cleanup_inline)
        free(co->cleanups);
    co->cleanups = co->cleanup_inline;
    co->cap_cleanups = GT__CLEANUP_INLINE;
}
