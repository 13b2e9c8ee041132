/* examples/hello -- thousands of coroutines sleeping and waking, each with
 * its own coroutine-local value: the API reads like blocking code.
 *
 * Each "request" stores its own id in a local, sleeps a random while (other
 * coroutines run meanwhile), and checks that the id it reads back is still
 * its own -- the bug of the seed's Tornado+greenlet recipe was exactly that
 * thread-local state was shared between the green threads of one thread.
 * The destructor counts how many locals were released.
 *
 *   ./build/examples/hello [coroutines] */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "greentor.h"

static gt_local_key request_id;
static atomic_long released, mismatches, done;
static long total;

static void release_id(void *value)
{
    (void)value;
    atomic_fetch_add(&released, 1);
}

static int handle_request(void *arg)
{
    intptr_t id = (intptr_t)arg;

    gt_local_set(request_id, (void *)(id + 1));
    gt_sleep(rand() % 50); /* "a database call" */
    if (gt_local_get(request_id) != (void *)(id + 1))
        atomic_fetch_add(&mismatches, 1);
    gt_sleep(rand() % 50); /* "another one" */
    atomic_fetch_add(&done, 1);
    return 0;
}

static int hello_main(void *arg)
{
    gt_rt *rt = gt_rt_self();
    int64_t t0 = gt_now();

    (void)arg;
    for (long i = 0; i < total; i++)
        gt_rt_post(rt, -1, handle_request, (void *)(intptr_t)i);
    while (atomic_load(&done) < total)
        gt_sleep(10);
    gt_sleep(10); /* let the last destructors run */
    printf("greentor hello: %ld coroutines on %d workers in %lld ms, "
           "%ld locals released, %ld mismatches\n",
           total, gt_rt_workers(rt), (long long)(gt_now() - t0),
           atomic_load(&released), atomic_load(&mismatches));
    return atomic_load(&mismatches) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int rc;

    total = argc > 1 ? atol(argv[1]) : 10000;
    if (total <= 0) {
        fprintf(stderr, "usage: %s [coroutines > 0]\n", argv[0]);
        return 2;
    }
    rc = gt_local_key_new(&request_id, release_id);
    if (rc == 0)
        rc = gt_rt_main(NULL, hello_main, NULL);
    if (rc < 0)
        fprintf(stderr, "hello: %s\n", gt_strerror(rc));
    return rc == 0 ? 0 : 1;
}
