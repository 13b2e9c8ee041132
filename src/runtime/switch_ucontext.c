/* runtime/switch_ucontext.c -- the portable context switch, on ucontext.
 *
 * For architectures without a hand-written switch (build with
 * SWITCH=ucontext). swapcontext() also saves and restores the signal mask
 * with a system call per switch, which is why it is a fallback: the bench
 * measures both in one run.
 *
 * A coroutine's ucontext_t is kept at the top of its own stack, so this
 * backend needs no allocation per coroutine; only the scheduler's own
 * context, which has no such stack, is allocated on its first switch. */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "runtime.h"

static void trampoline(unsigned hi_fn, unsigned lo_fn, unsigned hi_arg,
                       unsigned lo_arg)
{
    /* makecontext() passes ints only, so pointers travel in halves. */
    uintptr_t fn = ((uintptr_t)hi_fn << 16 << 16) | lo_fn;
    uintptr_t arg = ((uintptr_t)hi_arg << 16 << 16) | lo_arg;

    ((void (*)(void *))fn)((void *)arg);
    abort(); /* entry functions never return */
}

void gt__ctx_init(gt__ctx *c, void *lo, size_t size, void (*entry)(void *),
                  void *arg)
{
    uintptr_t top = (uintptr_t)lo + size;
    uintptr_t at = (top - sizeof(ucontext_t)) & ~(uintptr_t)63;
    ucontext_t *uc = (ucontext_t *)at;
    uintptr_t fn = (uintptr_t)entry, a = (uintptr_t)arg;

    getcontext(uc);
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = at - (uintptr_t)lo;
    uc->uc_link = NULL;
    makecontext(uc, (void (*)(void))trampoline, 4, (unsigned)(fn >> 16 >> 16),
                (unsigned)fn, (unsigned)(a >> 16 >> 16), (unsigned)a);
    c->uc = uc;
    c->sp = NULL;
}

void gt__ctx_switch(gt__ctx *from, gt__ctx *to)
{
    if (!from->uc) {
        from->uc = malloc(sizeof(ucontext_t));
        if (!from->uc)
            abort();         /* once per thread, at start: nothing to unwind */
        from->sp = from->uc; /* marks it as ours to free */
    }
    swapcontext(from->uc, to->uc);
}

void gt__ctx_deinit(gt__ctx *c)
{
    if (c->sp && c->sp == c->uc)
        free(c->uc);
    c->uc = c->sp = NULL;
}
