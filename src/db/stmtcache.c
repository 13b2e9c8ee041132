/* db/stmtcache.c -- a bounded LRU map from SQL text to a driver's
 * prepared-statement handle.
 *
 * Every query looks its SQL up here, so get() must stay cheap however full
 * the cache is: a chained hash table finds the entry, and a doubly-linked
 * recency ring moves it to the front, both O(1). The whole cache is one
 * allocation made at init and never resized -- 'cap' entries plus the
 * bucket heads -- and links are 32-bit indices into it rather than
 * pointers. Slot 0 is the sentinel of the recency ring (its 'next' is the
 * most recent entry, its 'prev' the least recent) and also holds the head
 * of the free-slot list in 'chain' and the bucket count in 'hash', so the
 * public struct keeps the layout driver.h gives it. 'tick' counts lookups;
 * nothing depends on it.
 *
 * A handle leaves the cache only through the driver's evict callback, and
 * the cache is consistent again before the callback runs, so the callback
 * may inspect it. deinit evicts what is left with server_alive false: it
 * runs when the session is going away, and the server frees its side then.
 * A driver that wants otherwise calls gt__stmt_cache_clear() first. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

#define DEFAULT_CAP 64
#define MAX_CAP (1u << 24)

struct gt__stmt_entry {
    char *sql; /* owned copy; NULL on a free slot */
    void *handle;
    uint64_t hash;       /* of sql; in slot 0: the number of buckets */
    uint32_t prev, next; /* recency ring through slot 0 */
    uint32_t chain;      /* next slot in the bucket or in the free list */
};

typedef struct gt__stmt_entry entry;

static uint32_t *buckets(const gt__stmt_cache *c)
{
    return (uint32_t *)(c->entries + c->cap + 1);
}

/* FNV-1a: short SQL strings, no adversary choosing them. */
static uint64_t hash_sql(const char *s)
{
    uint64_t h = 14695981039346656037u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

int gt__stmt_cache_init(gt__stmt_cache *c, size_t cap,
                        void (*evict)(void *, void *, bool), void *ctx)
{
    size_t nb = 1;

    memset(c, 0, sizeof(*c));
    if (cap == 0)
        cap = DEFAULT_CAP;
    if (cap > MAX_CAP)
        return -EINVAL;
    while (nb < 2 * cap)
        nb *= 2;
    c->entries = calloc(1, (cap + 1) * sizeof(entry) + nb * sizeof(uint32_t));
    if (!c->entries)
        return -ENOMEM;
    c->cap = cap;
    c->evict = evict;
    c->ctx = ctx;
    c->entries[0].hash = nb;
    for (uint32_t i = 1; i <= cap; i++)
        c->entries[i].chain = i < cap ? i + 1 : 0;
    c->entries[0].chain = 1;
    return 0;
}

static uint32_t *bucket_of(gt__stmt_cache *c, uint64_t h)
{
    return &buckets(c)[h & (c->entries[0].hash - 1)];
}

static uint32_t find(gt__stmt_cache *c, const char *sql, uint64_t h)
{
    uint32_t i = *bucket_of(c, h);

    while (i && (c->entries[i].hash != h || strcmp(c->entries[i].sql, sql)))
        i = c->entries[i].chain;
    return i;
}

static void ring_unlink(entry *e, uint32_t i)
{
    e[e[i].prev].next = e[i].next;
    e[e[i].next].prev = e[i].prev;
}

static void ring_push_front(entry *e, uint32_t i)
{
    e[i].prev = 0;
    e[i].next = e[0].next;
    e[e[0].next].prev = i;
    e[0].next = i;
}

void *gt__stmt_cache_get(gt__stmt_cache *c, const char *sql)
{
    uint32_t i;

    if (!c->entries)
        return NULL;
    c->tick++;
    /* The most recent entry first, without hashing: a statement run again
     * (a batch repeating its SQL on MariaDB, /queries) is found by one
     * strcmp, and any other text differs from it within a few bytes. */
    i = c->entries[0].next;
    if (i && strcmp(c->entries[i].sql, sql) == 0)
        return c->entries[i].handle;
    i = find(c, sql, hash_sql(sql));
    if (!i)
        return NULL;
    ring_unlink(c->entries, i);
    ring_push_front(c->entries, i);
    return c->entries[i].handle;
}

/* Take slot i out of the table, the ring and into the free list; hand its
 * handle to the driver once the cache is consistent. */
static void drop(gt__stmt_cache *c, uint32_t i, bool server_alive)
{
    entry *e = c->entries;
    uint32_t *p = bucket_of(c, e[i].hash);
    void *handle = e[i].handle;

    while (*p != i)
        p = &e[*p].chain;
    *p = e[i].chain;
    ring_unlink(e, i);
    free(e[i].sql);
    e[i].sql = NULL;
    e[i].handle = NULL;
    e[i].chain = e[0].chain;
    e[0].chain = i;
    c->n--;
    if (c->evict)
        c->evict(c->ctx, handle, server_alive);
}

int gt__stmt_cache_put(gt__stmt_cache *c, const char *sql, void *handle)
{
    uint64_t h = hash_sql(sql);
    char *copy;
    uint32_t i;

    if (c->entries && (i = find(c, sql, h)) != 0)
        drop(c, i, true); /* replaced: the old handle goes */
    copy = c->entries ? strdup(sql) : NULL;
    if (!copy) {
        if (c->evict)
            c->evict(c->ctx, handle, true);
        return -ENOMEM;
    }
    if (c->n == c->cap)
        drop(c, c->entries[0].prev, true);
    i = c->entries[0].chain;
    c->entries[0].chain = c->entries[i].chain;
    c->entries[i] = (entry){copy, handle, h, 0, 0, *bucket_of(c, h)};
    *bucket_of(c, h) = i;
    ring_push_front(c->entries, i);
    c->n++;
    return 0;
}

void gt__stmt_cache_remove(gt__stmt_cache *c, const char *sql,
                           bool server_alive)
{
    uint32_t i = c->entries ? find(c, sql, hash_sql(sql)) : 0;

    if (i)
        drop(c, i, server_alive);
}

void gt__stmt_cache_clear(gt__stmt_cache *c, bool server_alive)
{
    /* Oldest first, the order they would have been evicted in. */
    while (c->n > 0)
        drop(c, c->entries[0].prev, server_alive);
}

void gt__stmt_cache_deinit(gt__stmt_cache *c)
{
    if (!c->entries)
        return;
    gt__stmt_cache_clear(c, false);
    free(c->entries);
    memset(c, 0, sizeof(*c));
}
