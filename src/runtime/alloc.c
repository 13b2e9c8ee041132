/* runtime/alloc.c -- the allocator every module uses, with a fault hook.
 *
 * "On per-request paths OOM is an error, not an abort" is only true if the
 * error paths are walked, and malloc does not fail on Linux when asked
 * nicely. So greentor allocates through gt_malloc() and friends, and a test
 * can make the Nth allocation fail (SQLite's and Lua's approach). The
 * counter is only touched while a failure is armed: disarmed, the hook is
 * one relaxed load of a flag. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

static atomic_bool armed;
static atomic_bool sticky_fail;
static atomic_long fail_at; /* the count at which to fail */
static atomic_long count;   /* allocations since the last gt_alloc_fail() */

static bool should_fail(void)
{
    long n;

    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    n = atomic_fetch_add(&count, 1) + 1;
    return n == atomic_load(&fail_at) ||
           (n > atomic_load(&fail_at) && atomic_load(&sticky_fail));
}

long gt_alloc_fail(long nth, int sticky)
{
    atomic_store(&armed, false);
    atomic_store(&fail_at, nth);
    atomic_store(&sticky_fail, sticky != 0);
    /* Counting runs while armed only; report what was counted. */
    long made = atomic_exchange(&count, 0);
    atomic_store(&armed, nth > 0);
    return made;
}

void *gt_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *gt_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n, size);
}

void *gt_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

char *gt_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = gt_malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}
