/* redis/reply.c -- replies: copied out of hiredis, owned like result rows.
 *
 * One allocation per reply: the head (with the links of the owning
 * coroutine's list), then every node of the tree in one array, then the
 * strings, each NUL-terminated. So a reply of any shape costs one malloc
 * and one free, and an element is a pointer into its parent's block. A
 * forgotten reply is freed when its coroutine ends, through a
 * coroutine-local list, as HTTP client responses are. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"

struct gt_redis_reply {
    int type;
    long long integer;
    const char *str; /* never NULL */
    size_t len;
    gt_redis_reply *elem; /* 'nelem' nodes, in the same block */
    size_t nelem;
};

/* The block's head; 'root' first, so a reply pointer is the block. */
typedef struct head {
    gt_redis_reply root;
    struct head *next;   /* in the owning coroutine's list */
    struct head **pprev; /* the link pointing at us; NULL if untracked */
} head;

static void measure(const redisReply *r, size_t *nodes, size_t *bytes)
{
    *nodes += 1;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR)
        *bytes += r->len + 1;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            measure(r->element[i], nodes, bytes);
}

static int type_of(int t)
{
    switch (t) {
    case REDIS_REPLY_STRING:
        return GT_REDIS_STRING;
    case REDIS_REPLY_ARRAY:
        return GT_REDIS_ARRAY;
    case REDIS_REPLY_INTEGER:
        return GT_REDIS_INTEGER;
    case REDIS_REPLY_STATUS:
        return GT_REDIS_STATUS;
    case REDIS_REPLY_ERROR:
        return GT_REDIS_ERROR;
    default:
        return GT_REDIS_NIL;
    }
}

/* Fill 'dst' from 'r', taking nodes and string bytes from the cursors. */
static void fill(gt_redis_reply *dst, const redisReply *r,
                 gt_redis_reply **nodes, char **bytes)
{
    *dst = (gt_redis_reply){.type = type_of(r->type), .str = ""};
    switch (dst->type) {
    case GT_REDIS_STRING:
    case GT_REDIS_STATUS:
    case GT_REDIS_ERROR:
        memcpy(*bytes, r->str, r->len);
        (*bytes)[r->len] = '\0';
        dst->str = *bytes;
        dst->len = r->len;
        *bytes += r->len + 1;
        break;
    case GT_REDIS_INTEGER:
        dst->integer = r->integer;
        break;
    case GT_REDIS_ARRAY:
        dst->elem = *nodes;
        dst->nelem = r->elements;
        *nodes += r->elements;
        for (size_t i = 0; i < r->elements; i++)
            fill(&dst->elem[i], r->element[i], nodes, bytes);
        break;
    }
}

int gt__redis_reply_copy(gt_redis_reply **out, const redisReply *src)
{
    size_t nodes = 0, bytes = 0;
    gt_redis_reply *cursor;
    char *strings;
    head *h;

    measure(src, &nodes, &bytes);
    h = gt_malloc(sizeof(*h) + (nodes - 1) * sizeof(gt_redis_reply) + bytes);
    if (!h)
        return -ENOMEM;
    cursor = (gt_redis_reply *)(h + 1);
    strings = (char *)(cursor + (nodes - 1));
    fill(&h->root, src, &cursor, &strings);
    h->next = NULL;
    h->pprev = NULL;
    *out = &h->root;
    return 0;
}

/* ---- the owning coroutine's list ----------------------------------------- */

typedef struct tracker {
    head *first;
} tracker;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gt_local_key key;
static int have_key;

static void free_all(void *value)
{
    tracker *tr = value;

    while (tr->first)
        gt_redis_reply_free(&tr->first->root);
    free(tr);
}

static void init_once(void)
{
    have_key = gt_local_key_new(&key, free_all) == 0;
}

int gt__redis_reply_track(gt_redis_reply *rp)
{
    head *h = (head *)rp;
    tracker *tr;

    pthread_once(&once, init_once);
    if (!have_key || !gt_co_self())
        return 0;
    if (!(tr = gt_local_get(key))) {
        tr = gt_calloc(1, sizeof(*tr));
        if (!tr || gt_local_set(key, tr) < 0) {
            free(tr);
            free(h);
            return -ENOMEM;
        }
    }
    h->next = tr->first;
    if (tr->first)
        tr->first->pprev = &h->next;
    tr->first = h;
    h->pprev = &tr->first;
    return 0;
}

void gt_redis_reply_free(gt_redis_reply *rp)
{
    head *h = (head *)rp;

    if (!h)
        return;
    if (h->pprev) {
        if (h->next)
            h->next->pprev = h->pprev;
        *h->pprev = h->next;
    }
    free(h);
}

/* ---- accessors ---------------------------------------------------------- */

int gt_redis_reply_type(const gt_redis_reply *rp)
{
    return rp->type;
}

const char *gt_redis_reply_str(const gt_redis_reply *rp, size_t *len)
{
    if (len)
        *len = rp->len;
    return rp->str;
}

long long gt_redis_reply_int(const gt_redis_reply *rp)
{
    return rp->integer;
}

size_t gt_redis_reply_len(const gt_redis_reply *rp)
{
    return rp->nelem;
}

const gt_redis_reply *gt_redis_reply_at(const gt_redis_reply *rp, size_t i)
{
    return i < rp->nelem ? &rp->elem[i] : NULL;
}
