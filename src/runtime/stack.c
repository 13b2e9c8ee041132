/* runtime/stack.c -- coroutine stacks: mmap, guard regions, recycling,
 * trimming, and the overflow handler.
 *
 * One mapping per coroutine: [guard | stack ...]. The guard is PROT_NONE
 * and at least 64 KiB, so that a frame larger than a page (code compiled
 * without -fstack-clash-protection touches its lowest byte first) still
 * lands in it instead of in the mapping below. The coroutine's control
 * block (struct gt_co) is a separate heap allocation: an overflow can
 * never reach it, and the fault handler can trust what it reads there.
 *
 * The stack is a large reservation (1 MiB by default, MAP_NORESERVE); the
 * kernel makes only touched pages resident, so a coroutine that parks
 * early costs one page. A request that went deep (a big JSON document, a
 * recursive template) would otherwise keep its deep pages resident for as
 * long as its stack sits on the free list, so a per-worker timer gives the
 * deep part of every recently used cached stack back with
 * MADV_DONTNEED once a second: nothing on the spawn path pays for it.
 *
 * Mappings are recycled through a per-worker LIFO free list, so a spawn in
 * the steady state is a list pop -- no mmap, no page faults. Each control
 * block also carries the coroutine's uv_timer_t, initialised once, so
 * recycling needs no uv_close.
 *
 * A fault in a guard is reported by a SIGSEGV handler running on an
 * alternate signal stack (the faulting stack has no room left), which names
 * the coroutine and lets the default action end the process. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"
#include "sanitizer.h"

#define PREFILL 0xA5
/* What a trim leaves resident at the top of a cached stack: what a
 * typical request uses, so trimming does not make the next one fault. */
#define TRIM_KEEP (32 * 1024 * GT__STACK_SCALE)
#define TRIM_EVERY_MS 1000

static void on_timer_closed(uv_handle_t *h)
{
    gt_co *co = h->data;

    gt__vg_stack_deregister(co->vg_stack_id);
    munmap(co->map, co->map_len);
    free(co);
}

static gt_co *map_new(gt_sched *s)
{
    size_t guard = s->rt->guard_len, len = s->rt->map_len;
    gt_co *co = gt_calloc(1, sizeof(*co));
    char *map;

    if (!co)
        return NULL;
    map = mmap(NULL, len, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        goto fail_free;
    if (mprotect(map, guard, PROT_NONE) != 0)
        goto fail_unmap;
    co->map = map;
    co->map_len = len;
    co->stack_lo = map + guard;
    co->stack_hi = map + len;
    co->sched = s;
    co->vg_stack_id = gt__vg_stack_register(co->stack_lo, co->stack_hi);
    uv_timer_init(&s->loop, &co->timer);
    co->timer.data = co;
    GT__STAT_ADD(s->stats.stacks_mapped, 1);
    return co;

fail_unmap:
    munmap(map, len);
fail_free:
    free(co);
    return NULL;
}

gt_co *gt__stack_get(gt_sched *s)
{
    gt_co *co = s->free_list;

    if (!co)
        return map_new(s);
    s->free_list = co->next;
    s->nfree--;
    GT__STAT_SET(s->stats.stacks_cached, s->nfree);
    gt__san_unpoison(co->stack_lo, (size_t)(co->stack_hi - co->stack_lo));
    return co;
}

void gt__stack_put(gt_sched *s, gt_co *co)
{
    GT__ASSERT(co->state == GT__DONE);
    gt__co_unlink_parent(co);
    co->state = GT__FREE;
    co->touched = true;
    if (s->nfree >= s->rt->cfg.stack_cache) {
        uv_close((uv_handle_t *)&co->timer, on_timer_closed);
        return;
    }
    co->next = s->free_list;
    s->free_list = co;
    s->nfree++;
    GT__STAT_SET(s->stats.stacks_cached, s->nfree);
}

/* Give back the deep pages of the cached stacks used since the last trim.
 * madvise() of pages that were never touched is cheap, so there is no
 * need to find out first how deep each stack went. */
static void trim_cached(gt_sched *s)
{
    for (gt_co *co = s->free_list; co; co = co->next) {
        size_t len = (size_t)(co->stack_hi - co->stack_lo);

        if (!co->touched || len <= TRIM_KEEP)
            continue;
        co->touched = false;
        if (madvise(co->stack_lo, len - TRIM_KEEP, MADV_DONTNEED) == 0)
            GT__STAT_ADD(s->stats.stack_trims, 1);
    }
}

static void on_trim(uv_timer_t *t)
{
    trim_cached(t->data);
}

void gt__stack_trim_start(gt_sched *s)
{
    uv_timer_init(&s->loop, &s->trim);
    s->trim.data = s;
    uv_timer_start(&s->trim, on_trim, TRIM_EVERY_MS, TRIM_EVERY_MS);
    uv_unref((uv_handle_t *)&s->trim); /* never keeps a worker alive */
}

/* Unmap the free list; the loop must be about to close (timers closed). */
void gt__stack_drain(gt_sched *s)
{
    while (s->free_list) {
        gt_co *co = s->free_list;

        s->free_list = co->next;
        if (!uv_is_closing((uv_handle_t *)&co->timer))
            uv_close((uv_handle_t *)&co->timer, on_timer_closed);
    }
    s->nfree = 0;
}

void gt__stack_prefill(gt_co *co)
{
    /* Leave the top 256 bytes alone: the initial frame is built there. */
    memset(co->stack_lo, PREFILL, (size_t)(co->stack_hi - co->stack_lo) - 256);
}

size_t gt__stack_used(const gt_co *co)
{
    const unsigned char *p = (const unsigned char *)co->stack_lo;
    const unsigned char *top = (const unsigned char *)co->stack_hi;

    gt__vg_quiet(1);
    while (p < top && *p == PREFILL)
        p++;
    gt__vg_quiet(0);
    return (size_t)(top - p);
}

/* ---- overflow detection -------------------------------------------------- */

static struct sigaction prev_segv, prev_bus;

static void put_str(char *buf, size_t *n, size_t cap, const char *s)
{
    while (*s && *n < cap)
        buf[(*n)++] = *s++;
}

static void put_uint(char *buf, size_t *n, size_t cap, uint64_t v)
{
    char tmp[24];
    int i = 0;

    do
        tmp[i++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (i > 0 && *n < cap)
        buf[(*n)++] = tmp[--i];
}

/* Async-signal-safe: no stdio, no malloc. The deepest stack seen at a
 * wait on this worker tells the reader how far above normal this one went
 * (the overflowing coroutine usually never reached a wait). */
static void report_overflow(const gt_co *co)
{
    char msg[320];
    size_t n = 0, cap = sizeof(msg);

    put_str(msg, &n, cap, "greentor: stack overflow in coroutine #");
    put_uint(msg, &n, cap, co->id);
    put_str(msg, &n, cap, " '");
    put_str(msg, &n, cap, co->name[0] ? co->name : "?");
    put_str(msg, &n, cap, "' (stack of ");
    put_uint(msg, &n, cap, (uint64_t)(co->stack_hi - co->stack_lo) / 1024);
    put_str(msg, &n, cap,
            " KiB; the deepest stack at a wait on this worker "
            "was ");
    put_uint(msg, &n, cap,
             (uint64_t)(co->sched->stats.stack_wait_hwm + 1023) / 1024);
    put_str(msg, &n, cap, " KiB; raise gt_rt_config.stack_size)\n");
    (void)!write(STDERR_FILENO, msg, n);
}

static bool in_guard(const gt_co *co, uintptr_t addr)
{
    uintptr_t guard = (uintptr_t)co->map;

    /* A large frame may jump past the guard page into the gap below. */
    return addr < guard + (uintptr_t)(co->stack_lo - (char *)co->map) &&
           addr + (1u << 20) >= guard;
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
    gt_sched *s = gt__sched_self();
    gt_co *co = s ? s->current : NULL;
    struct sigaction *prev = sig == SIGSEGV ? &prev_segv : &prev_bus;

    (void)uctx;
    if (co && in_guard(co, (uintptr_t)si->si_addr)) {
        report_overflow(co);
        signal(sig, SIG_DFL); /* the faulting access repeats and kills us */
        return;
    }
    /* Not ours: hand the fault to whoever was there before (ASan, or the
     * default action) by reinstating it and letting the access repeat. */
    sigaction(sig, prev, NULL);
}

static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_rc;

static void guard_install_once(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &prev_segv) != 0 ||
        sigaction(SIGBUS, &sa, &prev_bus) != 0)
        guard_rc = -errno;
}

int gt__guard_install(void)
{
    pthread_once(&guard_once, guard_install_once);
    return guard_rc;
}

int gt__guard_thread_init(void **altstack)
{
    stack_t ss;
    size_t len = 64 * 1024;

    /* Keep an alternate stack someone else (ASan) already installed. */
    *altstack = NULL;
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) &&
        ss.ss_size >= 16 * 1024)
        return 0;
    ss.ss_sp = gt_malloc(len);
    if (!ss.ss_sp)
        return -ENOMEM;
    ss.ss_size = len;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        free(ss.ss_sp);
        return -errno;
    }
    *altstack = ss.ss_sp;
    return 0;
}

void gt__guard_thread_deinit(void *altstack)
{
    stack_t ss;

    if (!altstack)
        return;
    memset(&ss, 0, sizeof(ss));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    free(altstack);
}
