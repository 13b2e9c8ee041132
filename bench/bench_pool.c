/* bench/bench_pool.c -- what a pool acquisition costs, beside the plainest
 * alternative, in one run:
 *
 *   pool, 1 worker      gt_pool_acquire + gt_pool_release, uncontended
 *   mutex list, 1 thr   lock, pop, unlock / lock, push, unlock
 *   pool, N workers     every worker acquiring and releasing at once
 *   mutex list, N thr   every thread on one mutex-protected list
 *
 * The pool's connections are SQLite in-memory ones, so the figures are the
 * pool's own bookkeeping plus its release checks (transaction state, broken
 * flag), no network. ./build/bench/bench_pool [iterations] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "greentor.h"
#include "greentor/pool.h"

static long iters = 1000000;
static gt_pool *pool;
static atomic_int pool_done;
static double pool_ns[64];

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int pool_loop(void *arg)
{
    gt_db *db;
    double t0 = now_ns();

    (void)arg;
    for (long i = 0; i < iters; i++) {
        if (gt_pool_acquire(pool, &db, GT_NEVER) != 0)
            abort();
        gt_pool_release(pool, db);
    }
    pool_ns[gt_worker_id()] = (now_ns() - t0) / (double)iters;
    atomic_fetch_add(&pool_done, 1);
    return 0;
}

static int pool_main(void *arg)
{
    int workers = *(int *)arg;
    char err[128];

    if (gt_pool_new(&pool, gt_rt_self(), "sqlite::memory:?max_open=64", NULL,
                    err, sizeof(err)) != 0) {
        fprintf(stderr, "pool: %s\n", err);
        return 1;
    }
    for (int w = 1; w < workers; w++)
        gt_rt_post(gt_rt_self(), w, pool_loop, NULL);
    pool_loop(NULL);
    while (atomic_load(&pool_done) < workers)
        gt_sleep(1);
    return 0;
}

static double run_pool(int workers)
{
    gt_rt_config cfg = {.workers = workers};
    double sum = 0;

    atomic_store(&pool_done, 0);
    gt_rt_main(&cfg, pool_main, &workers);
    gt_pool_free(pool);
    for (int w = 0; w < workers; w++)
        sum += pool_ns[w];
    return sum / workers;
}

/* ---- the baseline: a free list under one mutex ----------------------------
 */

typedef struct item {
    struct item *next;
} item;

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static item *free_items;

static void *list_loop(void *arg)
{
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        item *it;

        pthread_mutex_lock(&list_lock);
        it = free_items;
        free_items = it->next;
        pthread_mutex_unlock(&list_lock);
        __asm__ volatile("" : : "r"(it) : "memory");
        pthread_mutex_lock(&list_lock);
        it->next = free_items;
        free_items = it;
        pthread_mutex_unlock(&list_lock);
    }
    *(double *)arg = (now_ns() - t0) / (double)iters;
    return NULL;
}

static double run_list(int threads)
{
    static item items[64];
    pthread_t th[64];
    double ns[64], sum = 0;

    for (int i = 0; i < 64; i++) {
        items[i].next = i + 1 < 64 ? &items[i + 1] : NULL;
    }
    free_items = &items[0];
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, list_loop, &ns[t]);
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        sum += ns[t];
    }
    return sum / threads;
}

int main(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int n = ncpu > 1 ? (int)(ncpu > 64 ? 64 : ncpu) : 2;

    if (argc > 1)
        iters = atol(argv[1]);
    printf("greentor pool benchmark (%ld acquire+release per worker)\n", iters);
    printf("%-40s %8.1f ns\n", "pool, 1 worker, uncontended", run_pool(1));
    printf("%-40s %8.1f ns\n", "mutex free list, 1 thread", run_list(1));
    printf("%-40s %8.1f ns  (%d workers)\n", "pool, all workers at once",
           run_pool(n), n);
    printf("%-40s %8.1f ns  (%d threads)\n", "mutex free list, contended",
           run_list(n), n);
    return 0;
}
