/* base/list.h -- the one intrusive doubly-linked list every module uses.
 *
 * An element embeds a gt__link and lives in at most one list through it;
 * gt__list_entry() gets the element back from its link. The list is
 * NULL-terminated at both ends (not circular), so "am I first?" is a NULL
 * test, and keeps its length: n is written with relaxed atomic stores so
 * that another thread may read it for statistics (GT__LIST_LEN()) while
 * the owner changes the list; the links themselves are the owner's alone.
 * Nothing here allocates or can fail. */
#ifndef GT_BASE_LIST_H
#define GT_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gt__link {
    struct gt__link *prev, *next;
} gt__link;

typedef struct gt__list {
    gt__link *head, *tail;
    int n;
} gt__list;

/* The element of type 'type' whose member 'member' is the link 'l'. */
#define gt__list_entry(l, type, member)                                        \
    ((type *)(void *)((char *)(l)-offsetof(type, member)))

/* The length, read from any thread (a relaxed atomic load). */
#define GT__LIST_LEN(l) __atomic_load_n(&(l)->n, __ATOMIC_RELAXED)

static inline void gt__list_count(gt__list *l, int d)
{
    __atomic_store_n(&l->n, l->n + d, __ATOMIC_RELAXED);
}

static inline void gt__list_push_front(gt__list *l, gt__link *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    else
        l->tail = e;
    l->head = e;
    gt__list_count(l, 1);
}

static inline void gt__list_push_back(gt__list *l, gt__link *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
    gt__list_count(l, 1);
}

/* Unlink 'e', which must be in 'l'; its links are cleared. */
static inline void gt__list_remove(gt__list *l, gt__link *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
    gt__list_count(l, -1);
}

static inline bool gt__list_empty(const gt__list *l)
{
    return l->head == NULL;
}

#endif
