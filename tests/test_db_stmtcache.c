/* tests/test_db_stmtcache.c -- the statement cache (src/db/stmtcache.c)
 * against a dumb reference model of an LRU, with random operations, and
 * its default size under many keys. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/driver.h"
#include "greentor/db.h"
#include "util.h"

/* ---- the statement cache against a reference model ----------------------- */

#define KEYS 12
#define MAX_HANDLES 20000

/* The model: an array in recency order, most recent first. */
typedef struct model {
    int key[64];
    intptr_t handle[64];
    int n, cap;
} model;

typedef struct evictions {
    intptr_t handle[8];
    bool alive[8];
    int n;
    int count[MAX_HANDLES]; /* evictions per handle: must end at 1 */
} evictions;

static void on_evict(void *ctx, void *handle, bool server_alive)
{
    evictions *e = ctx;
    intptr_t h = (intptr_t)handle;

    ck_assert_int_lt(e->n, 8);
    e->handle[e->n] = h;
    e->alive[e->n++] = server_alive;
    e->count[h]++;
}

static int model_find(const model *m, int key)
{
    for (int i = 0; i < m->n; i++)
        if (m->key[i] == key)
            return i;
    return -1;
}

/* Remove entry i; returns its handle. */
static intptr_t model_take(model *m, int i)
{
    intptr_t h = m->handle[i];

    memmove(&m->key[i], &m->key[i + 1], (size_t)(m->n - i - 1) * sizeof(int));
    memmove(&m->handle[i], &m->handle[i + 1],
            (size_t)(m->n - i - 1) * sizeof(intptr_t));
    m->n--;
    return h;
}

static void model_front(model *m, int key, intptr_t h)
{
    memmove(&m->key[1], &m->key[0], (size_t)m->n * sizeof(int));
    memmove(&m->handle[1], &m->handle[0], (size_t)m->n * sizeof(intptr_t));
    m->key[0] = key;
    m->handle[0] = h;
    m->n++;
}

static void expect_evicted(evictions *e, int k, intptr_t h, bool alive)
{
    ck_assert_int_gt(e->n, k);
    ck_assert_int_eq(e->handle[k], h);
    ck_assert_int_eq(e->alive[k], alive);
}

static void check_get(gt__stmt_cache *c, model *m, const char *sql, int key)
{
    int i = model_find(m, key);
    void *got = gt__stmt_cache_get(c, sql);

    if (i < 0) {
        ck_assert_ptr_null(got);
        return;
    }
    ck_assert_int_eq((intptr_t)got, m->handle[i]);
    model_front(m, key, model_take(m, i));
}

static void check_put(gt__stmt_cache *c, model *m, evictions *e,
                      const char *sql, int key, intptr_t h)
{
    int i = model_find(m, key), k = 0;

    ck_assert_int_eq(gt__stmt_cache_put(c, sql, (void *)h), 0);
    if (i >= 0)
        expect_evicted(e, k++, model_take(m, i), true);
    if (m->n == m->cap)
        expect_evicted(e, k++, model_take(m, m->n - 1), true);
    ck_assert_int_eq(e->n, k);
    model_front(m, key, h);
}

static void check_remove(gt__stmt_cache *c, model *m, evictions *e,
                         const char *sql, int key, bool alive)
{
    int i = model_find(m, key);

    gt__stmt_cache_remove(c, sql, alive);
    if (i >= 0)
        expect_evicted(e, 0, model_take(m, i), alive);
    ck_assert_int_eq(e->n, i >= 0);
}

static void check_clear(gt__stmt_cache *c, model *m, evictions *e)
{
    int n = m->n;

    ck_assert_int_le(n, 8);
    gt__stmt_cache_clear(c, false);
    ck_assert_int_eq(e->n, n);
    for (int k = 0; k < n; k++) /* oldest first */
        expect_evicted(e, k, model_take(m, m->n - 1), false);
}

static void run_model(size_t cap, unsigned seed, evictions *e)
{
    gt__stmt_cache c;
    model m = {.cap = cap ? (int)cap : 64};
    intptr_t next = 1;
    char sql[32];

    ck_assert_int_eq(gt__stmt_cache_init(&c, cap, on_evict, e), 0);
    srand(seed);
    for (int step = 0; step < 3000 && next < MAX_HANDLES; step++) {
        int key = rand() % KEYS, op = rand() % 100;

        snprintf(sql, sizeof(sql), "SELECT %d", key);
        e->n = 0;
        if (op < 50)
            check_get(&c, &m, sql, key);
        else if (op < 90)
            check_put(&c, &m, e, sql, key, next++);
        else if (op < 98)
            check_remove(&c, &m, e, sql, key, op & 1);
        else if (m.n <= 8)
            check_clear(&c, &m, e);
        ck_assert_int_eq(c.n, (size_t)m.n);
    }
    e->n = 0;
    ck_assert_int_le(m.n, 8);
    gt__stmt_cache_deinit(&c);
    for (int h = 1; h < next; h++) /* every handle left exactly once */
        ck_assert_msg(e->count[h] == 1, "handle %d evicted %d times", h,
                      e->count[h]);
}

START_TEST(stmtcache_matches_a_reference_lru)
{
    static const size_t caps[] = {1, 2, 3, 5, 8};

    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        for (unsigned seed = 1; seed <= 4; seed++) {
            evictions *e = calloc(1, sizeof(*e));

            run_model(caps[i], seed, e);
            free(e);
        }
    }
}
END_TEST

static void count_evict(void *ctx, void *handle, bool server_alive)
{
    (void)handle;
    (void)server_alive;
    (*(int *)ctx)++;
}

START_TEST(stmtcache_defaults_to_64_and_survives_many_keys)
{
    gt__stmt_cache c;
    int evicted = 0;
    char sql[32];

    ck_assert_int_eq(gt__stmt_cache_init(&c, 0, count_evict, &evicted), 0);
    ck_assert_int_eq(c.cap, 64);
    for (int i = 0; i < 10000; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        ck_assert_int_eq(gt__stmt_cache_put(&c, sql, (void *)(intptr_t)(i + 1)),
                         0);
        ck_assert_int_eq(gt__stmt_cache_get(&c, "SELECT 0") != NULL, 1);
    }
    ck_assert_int_eq(c.n, 64);
    ck_assert_int_eq(evicted, 10000 - 64);
    ck_assert_ptr_eq(gt__stmt_cache_get(&c, "SELECT 0"), (void *)1);
    gt__stmt_cache_deinit(&c);
    ck_assert_int_eq(evicted, 10000);
    gt__stmt_cache_deinit(&c); /* a second deinit is harmless */
}
END_TEST

void add_db_stmtcache_tests(Suite *s)
{
    TCase *tc = tcase_create("stmtcache");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, stmtcache_matches_a_reference_lru);
    tcase_add_test(tc, stmtcache_defaults_to_64_and_survives_many_keys);
    suite_add_tcase(s, tc);
}
