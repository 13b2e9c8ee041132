/* bench/bench_runtime.c -- the runtime's costs, measured in one run:
 *
 *   switch     resume+yield round trip of the bare context switch, the
 *              hand-written one and the ucontext fallback side by side
 *   yield      the same through the scheduler (gt_yield between two
 *              coroutines: run queue, drain, switch)
 *   spawn      spawn + run-to-completion of an empty coroutine, recycled
 *              stacks
 *   wake       a wait-queue ping-pong: park, wake from another coroutine
 *   sleep      gt_sleep(1) wake-ups through the loop's timer, per second
 *   memory     resident memory of N parked coroutines
 *
 *   ./build/bench/bench_runtime [parked-coroutines]
 * Figures are medians of 5 runs; see bench/README.md for recorded ones. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "greentor.h"
#include "runtime.h"

void uc_ctx_init(gt__ctx *c, void *lo, size_t size, void (*entry)(void *),
                 void *arg);
void uc_ctx_switch(gt__ctx *from, gt__ctx *to);
void uc_ctx_deinit(gt__ctx *c);

#define RUNS 5

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof(*v), cmp_double);
    return v[RUNS / 2];
}

/* ---- bare switches
 * ------------------------------------------------------------ */

typedef struct pingpong {
    gt__ctx main, co;
    void (*sw)(gt__ctx *, gt__ctx *);
} pingpong;

static void bounce(void *arg)
{
    pingpong *p = arg;

    for (;;)
        p->sw(&p->co, &p->main);
}

static double bare_switch(void (*init)(gt__ctx *, void *, size_t,
                                       void (*)(void *), void *),
                          void (*sw)(gt__ctx *, gt__ctx *), long n)
{
    size_t size = 64 * 1024;
    char *stack = malloc(size);
    pingpong p = {.sw = sw};
    double t0, t1;

    memset(&p.main, 0, sizeof(p.main));
    init(&p.co, stack, size, bounce, &p);
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        sw(&p.main, &p.co);
    t1 = now_ns();
    free(stack); /* the coroutine is abandoned mid-loop, on purpose */
    return (t1 - t0) / (double)n;
}

/* ---- through the runtime
 * ------------------------------------------------------- */

static long iters;

static int yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++)
        gt_yield();
    return 0;
}

static int empty(void *arg)
{
    (void)arg;
    return 0;
}

typedef struct pong {
    gt_waitq a, b;
    long n;
} pong;

static int ponger(void *arg)
{
    pong *p = arg;

    for (long i = 0; i < p->n; i++) {
        gt_waitq_wait(&p->b, GT_NEVER);
        gt_waitq_wake(&p->a, 1);
    }
    return 0;
}

static double time_yield(void)
{
    gt_co *a, *b;
    double t0 = now_ns();

    gt_co_spawn(&a, yielder, NULL);
    gt_co_spawn(&b, yielder, NULL);
    gt_co_join(a, NULL, GT_NEVER);
    gt_co_join(b, NULL, GT_NEVER);
    return (now_ns() - t0) / (double)(2 * iters);
}

static double time_spawn(void)
{
    gt_co *co;
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        gt_co_spawn(&co, empty, NULL);
        gt_co_join(co, NULL, GT_NEVER);
    }
    return (now_ns() - t0) / (double)iters;
}

static double time_wake(void)
{
    pong p = {.n = iters};
    gt_co *co;
    double t0;

    gt_waitq_init(&p.a);
    gt_waitq_init(&p.b);
    gt_co_spawn(&co, ponger, &p);
    gt_yield();
    t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        gt_waitq_wake(&p.b, 1);
        gt_waitq_wait(&p.a, GT_NEVER);
    }
    gt_co_join(co, NULL, GT_NEVER);
    return (now_ns() - t0) / (double)iters;
}

static double time_sleep(void)
{
    double t0 = now_ns();
    int n = 200;

    for (int i = 0; i < n; i++)
        gt_sleep(1);
    return (double)n / ((now_ns() - t0) / 1e9);
}

static int runtime_benches(void *arg)
{
    double y[RUNS], s[RUNS], w[RUNS], sl[RUNS];

    (void)arg;
    for (int r = 0; r < RUNS; r++) {
        y[r] = time_yield();
        s[r] = time_spawn();
        w[r] = time_wake();
        sl[r] = time_sleep();
    }
    printf("%-44s %10.1f ns\n", "yield between two coroutines (per yield)",
           median(y));
    printf("%-44s %10.1f ns\n", "spawn + run + join, empty coroutine",
           median(s));
    printf("%-44s %10.1f ns\n", "wait-queue ping-pong (park + wake, per trip)",
           median(w));
    printf("%-44s %10.0f /s\n", "gt_sleep(1) wake-ups (timer resolution)",
           median(sl));
    return 0;
}

/* ---- memory
 * --------------------------------------------------------------------- */

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Page tables are memory too, and not in RSS: a stack reservation of 1 MiB
 * puts each parked coroutine's one page in its own page-table page. */
static long pte_kib(void)
{
    char line[128];
    long kib = 0;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmPTE: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static gt_waitq parked_q;

static int parked(void *arg)
{
    (void)arg;
    return gt_waitq_wait(&parked_q, GT_NEVER);
}

static int memory_bench(void *arg)
{
    long n = *(long *)arg, before = rss_kib(), after, spawned = 0;
    long pte_before = pte_kib(), pte_after;

    gt_waitq_init(&parked_q);
    for (; spawned < n; spawned++)
        if (gt_co_spawn(NULL, parked, NULL) < 0)
            break;
    gt_yield(); /* every one runs once and parks */
    after = rss_kib();
    pte_after = pte_kib();
    printf("%-44s %10ld (asked %ld)\n", "parked coroutines", spawned, n);
    printf("%-44s %10.2f KiB each, %ld MiB in all\n", "resident memory",
           (double)(after - before) / (double)spawned, (after - before) / 1024);
    printf("%-44s %10.2f KiB each, %ld MiB in all\n", "page tables (VmPTE)",
           (double)(pte_after - pte_before) / (double)spawned,
           (pte_after - pte_before) / 1024);
    gt_waitq_wake(&parked_q, -1);
    return 0;
}

int main(int argc, char **argv)
{
    long n = 10 * 1000 * 1000, parked_n = argc > 1 ? atol(argv[1]) : 100000;
    double a[RUNS], u[RUNS];
    gt_rt_config one = {.workers = 1};

    for (int r = 0; r < RUNS; r++) {
        a[r] = bare_switch(gt__ctx_init, gt__ctx_switch, n);
        u[r] = bare_switch(uc_ctx_init, uc_ctx_switch, n / 10);
    }
    printf("greentor runtime benchmarks (median of %d runs)\n", RUNS);
    printf("%-44s %10.1f ns\n", "switch round trip, hand-written", median(a));
    printf("%-44s %10.1f ns  (%.1fx)\n", "switch round trip, ucontext",
           median(u), median(u) / median(a));
    iters = 1000 * 1000;
    gt_rt_main(&one, runtime_benches, NULL);
    gt_rt_main(&one, memory_bench, &parked_n);
    return 0;
}
