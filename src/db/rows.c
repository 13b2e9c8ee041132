/* db/rows.c -- query results: one typed, random-access representation
 * that every driver builds, and the public accessors on it.
 *
 * A result is at most three allocations however many rows it has: the
 * struct with its column array, one array of fixed-size cells (row-major,
 * grown by doubling), and one byte arena (grown by doubling) holding
 * column names and every text and blob value, each followed by a NUL so
 * text can be handed out as a C string. Cells refer to the arena by
 * offset, not by pointer, so growing it while building costs no fix-ups.
 * The struct's allocation has room for one row of cells and ARENA_INLINE
 * bytes of arena, so a one-row result with short names and values -- a
 * select by primary key, the common case -- is one allocation, not three:
 * /queries?queries=20 made 60 for its results (bench/README.md, issue
 * 15). Either array moves to the heap when it outgrows that room.
 *
 * Reading follows sqlite3_column_*: numbers convert to text and back (text
 * to number takes the longest numeric prefix, "12abc" -> 12), NULL reads
 * as 0, 0.0, "" and an empty blob, and cells out of range read as NULL.
 * The text form of a number is made on first request and memoized in
 * separate fixed blocks that never move, so a string handed out stays
 * valid until gt_rows_free() even if more conversions follow; this is why
 * the const accessors write to the result (it is always heap memory).
 * Conversions use the "C" locale whatever the application set.
 *
 * Forgotten results. Each coroutine that makes results owns a list of its
 * live ones, kept under ONE coroutine-local key whose destructor frees what
 * is left when the coroutine ends. The value is a small list head rather
 * than the first result, and each result points at the link that points
 * at it, so gt_rows_free() unlinks in O(1) from any coroutine of the
 * worker, not only the one that owns the list. Outside a coroutine results
 * are not tracked. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

/* One cell. Text and blob bytes are at arena offset 'u.off', 'v.n' long.
 * A number's text form, once asked for, is memoized at 'v.text' (NULL
 * until then). */
typedef struct cell {
    union {
        int64_t i;
        double f;
        size_t off;
    } u;
    union {
        size_t n;
        const char *text;
    } v;
    int type;
} cell;

typedef struct column {
    size_t name; /* arena offset of the NUL-terminated name */
    int type;
    int named; /* name is set */
} column;

/* A block of memoized number-to-text conversions; never moved. */
typedef struct memo {
    struct memo *next;
    size_t used;
    char buf[1024 - 2 * sizeof(void *)];
} memo;

/* Arena bytes inside the result's own allocation. */
#define ARENA_INLINE 128

typedef struct tracker {
    gt_rows *head;
} tracker;

struct gt_rows {
    int ncols;
    int nrows;
    cell *cells; /* nrows * ncols, row-major; in this allocation
                    (after 'cols') until it outgrows one row */
    size_t cap_cells;
    char *arena; /* in this allocation (after the inline cells)
                    until it outgrows ARENA_INLINE bytes */
    size_t arena_len, arena_cap;
    memo *memos;
    gt_rows *next;   /* in the owning coroutine's list */
    gt_rows **pprev; /* the link that points at us; NULL if untracked */
    column cols[];
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gt_local_key rows_key;
static int have_key;
static locale_t c_locale;

static void free_all(void *value)
{
    tracker *t = value;

    while (t->head)
        gt_rows_free(t->head);
    free(t);
}

static void init_once(void)
{
    have_key = gt_local_key_new(&rows_key, free_all) == 0;
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Link r into the calling coroutine's list. 0, or -ENOMEM. */
static int track(gt_rows *r)
{
    tracker *t;

    pthread_once(&once, init_once);
    if (!have_key || !gt_co_self() || r->pprev)
        return 0;
    t = gt_local_get(rows_key);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || gt_local_set(rows_key, t) < 0) {
            free(t);
            return -ENOMEM;
        }
    }
    r->next = t->head;
    if (t->head)
        t->head->pprev = &r->next;
    t->head = r;
    r->pprev = &t->head;
    return 0;
}

int gt__rows_track(gt_rows *r)
{
    return r ? track(r) : -EINVAL;
}

/* The one row of cells and the arena bytes inside r's own allocation. */
static cell *inline_cells(const gt_rows *r)
{
    return (cell *)(void *)((char *)(uintptr_t)r + sizeof(*r) +
                            (size_t)r->ncols * sizeof(column));
}

static char *inline_arena(const gt_rows *r)
{
    return (char *)(inline_cells(r) + r->ncols);
}

gt_rows *gt__rows_new(int ncols)
{
    gt_rows *r;

    /* Columns and one row of cells; cells are 8-byte aligned after the
     * columns, which are multiples of 8 bytes. */
    if (ncols < 0 ||
        (size_t)ncols > (SIZE_MAX / 2 - sizeof(*r) - ARENA_INLINE) /
                            (sizeof(column) + sizeof(cell)))
        return NULL;
    /* malloc, not calloc: the inline cells are written by
     * gt__rows_add_row() and the arena by arena_put() before anything
     * reads them, so only the header and the columns are set here. */
    r = malloc(sizeof(*r) + (size_t)ncols * (sizeof(column) + sizeof(cell)) +
               ARENA_INLINE);
    if (!r)
        return NULL;
    *r = (gt_rows){
        .ncols = ncols, .cap_cells = (size_t)ncols, .arena_cap = ARENA_INLINE};
    for (int i = 0; i < ncols; i++)
        r->cols[i] = (column){0};
    r->cells = inline_cells(r);
    r->arena = inline_arena(r);
    if (track(r) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

void gt_rows_free(gt_rows *r)
{
    if (!r)
        return;
    if (r->pprev) {
        *r->pprev = r->next;
        if (r->next)
            r->next->pprev = r->pprev;
    }
    while (r->memos) {
        memo *m = r->memos;

        r->memos = m->next;
        free(m);
    }
    if (r->cells != inline_cells(r))
        free(r->cells);
    if (r->arena != inline_arena(r))
        free(r->arena);
    free(r);
}

/* ---- building --------------------------------------------------------- */

/* Copy n bytes and a NUL into the arena; the offset goes to *off. */
static int arena_put(gt_rows *r, const void *p, size_t n, size_t *off)
{
    size_t need = r->arena_len + n + 1;

    if (n >= SIZE_MAX / 4 - r->arena_len)
        return -ENOMEM;
    if (need > r->arena_cap) {
        size_t cap = r->arena_cap ? r->arena_cap : 256;
        char *a;

        while (cap < need)
            cap *= 2;
        if (r->arena == inline_arena(r)) {
            a = malloc(cap);
            if (a)
                memcpy(a, r->arena, r->arena_len);
        } else {
            a = realloc(r->arena, cap);
        }
        if (!a)
            return -ENOMEM;
        r->arena = a;
        r->arena_cap = cap;
    }
    if (n)
        memcpy(r->arena + r->arena_len, p, n);
    r->arena[r->arena_len + n] = '\0';
    *off = r->arena_len;
    r->arena_len = need;
    return 0;
}

int gt__rows_set_column(gt_rows *r, int col, const char *name, int type)
{
    size_t off;

    if (!r || col < 0 || col >= r->ncols)
        return -EINVAL;
    if (name) {
        if (arena_put(r, name, strlen(name), &off) < 0)
            return -ENOMEM;
        r->cols[col].name = off;
        r->cols[col].named = 1;
    }
    r->cols[col].type = type;
    return 0;
}

int gt__rows_add_row(gt_rows *r)
{
    size_t need = ((size_t)r->nrows + 1) * (size_t)r->ncols;

    if (r->nrows == INT_MAX)
        return -ENOMEM;
    if (need > r->cap_cells) {
        bool in = r->cells == inline_cells(r);
        size_t cap = in ? 16 * (size_t)r->ncols : 2 * r->cap_cells;
        cell *c;

        if (cap > SIZE_MAX / sizeof(cell))
            return -ENOMEM;
        if (in) { /* out of the inline row: to the heap */
            c = malloc(cap * sizeof(cell));
            if (c)
                memcpy(c, r->cells, r->cap_cells * sizeof(cell));
        } else {
            c = realloc(r->cells, cap * sizeof(cell));
        }
        if (!c)
            return -ENOMEM;
        r->cells = c;
        r->cap_cells = cap;
    }
    for (int i = 0; i < r->ncols; i++)
        r->cells[(size_t)r->nrows * (size_t)r->ncols + (size_t)i] =
            (cell){.type = GT_DB_NULL};
    r->nrows++;
    return 0;
}

/* The cell of the row being built, or NULL. */
static cell *last_cell(gt_rows *r, int col)
{
    if (!r || col < 0 || col >= r->ncols || r->nrows == 0)
        return NULL;
    return &r->cells[(size_t)(r->nrows - 1) * (size_t)r->ncols + (size_t)col];
}

int gt__rows_put_null(gt_rows *r, int col)
{
    cell *c = last_cell(r, col);

    if (!c)
        return -EINVAL;
    *c = (cell){.type = GT_DB_NULL};
    return 0;
}

int gt__rows_put_int(gt_rows *r, int col, int64_t v)
{
    cell *c = last_cell(r, col);

    if (!c)
        return -EINVAL;
    *c = (cell){.u.i = v, .type = GT_DB_INT};
    return 0;
}

int gt__rows_put_float(gt_rows *r, int col, double v)
{
    cell *c = last_cell(r, col);

    if (!c)
        return -EINVAL;
    *c = (cell){.u.f = v, .type = GT_DB_FLOAT};
    return 0;
}

static int put_bytes(gt_rows *r, int col, const void *p, size_t n, int type)
{
    cell *c = last_cell(r, col);
    size_t off;

    if (!c || (!p && n > 0))
        return -EINVAL;
    if (arena_put(r, p, n, &off) < 0)
        return -ENOMEM;
    *c = (cell){.u.off = off, .v.n = n, .type = type};
    return 0;
}

int gt__rows_put_text(gt_rows *r, int col, const char *p, size_t n)
{
    return put_bytes(r, col, p, n, GT_DB_TEXT);
}

int gt__rows_put_blob(gt_rows *r, int col, const void *p, size_t n)
{
    return put_bytes(r, col, p, n, GT_DB_BLOB);
}

/* ---- reading ------------------------------------------------------------ */

int gt_rows_count(const gt_rows *r)
{
    return r ? r->nrows : 0;
}

int gt_rows_columns(const gt_rows *r)
{
    return r ? r->ncols : 0;
}

const char *gt_rows_name(const gt_rows *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return NULL;
    return r->cols[col].named ? r->arena + r->cols[col].name : "";
}

int gt_rows_type(const gt_rows *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return GT_DB_NULL;
    return r->cols[col].type;
}

static const cell *get_cell(const gt_rows *r, int row, int col)
{
    if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return NULL;
    return &r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

int gt_rows_isnull(const gt_rows *r, int row, int col)
{
    const cell *c = get_cell(r, row, col);

    return !c || c->type == GT_DB_NULL;
}

static const char *bytes_of(const gt_rows *r, const cell *c)
{
    return r->arena + c->u.off;
}

/* The longest decimal integer prefix, saturating, as sqlite3Atoi64. */
static int64_t text_to_int(const char *s)
{
    long long v;

    pthread_once(&once, init_once);
    v = c_locale ? strtoll_l(s, NULL, 10, c_locale) : strtoll(s, NULL, 10);
    return (int64_t)v;
}

/* The longest decimal real prefix; no "inf", "nan" or hex, as SQLite. */
static double text_to_float(const char *s)
{
    const char *p = s + strspn(s, " \t\n\r\f\v");

    p += (*p == '+' || *p == '-');
    if (!((*p >= '0' && *p <= '9') ||
          (*p == '.' && p[1] >= '0' && p[1] <= '9')))
        return 0.0;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return 0.0; /* strtod would read hex; SQLite reads the 0 */
    pthread_once(&once, init_once);
    return c_locale ? strtod_l(s, NULL, c_locale) : strtod(s, NULL);
}

/* A double to int64 the way SQLite does: truncate, saturate, NaN is 0. */
static int64_t float_to_int(double f)
{
    if (!(f == f))
        return 0;
    if (f <= -9223372036854775808.0)
        return INT64_MIN;
    if (f >= 9223372036854775807.0)
        return INT64_MAX;
    return (int64_t)f;
}

int64_t gt_rows_int(const gt_rows *r, int row, int col)
{
    const cell *c = get_cell(r, row, col);

    if (!c)
        return 0;
    switch (c->type) {
    case GT_DB_INT:
        return c->u.i;
    case GT_DB_FLOAT:
        return float_to_int(c->u.f);
    case GT_DB_TEXT:
    case GT_DB_BLOB:
        return text_to_int(bytes_of(r, c));
    default:
        return 0;
    }
}

double gt_rows_float(const gt_rows *r, int row, int col)
{
    const cell *c = get_cell(r, row, col);

    if (!c)
        return 0.0;
    switch (c->type) {
    case GT_DB_INT:
        return (double)c->u.i;
    case GT_DB_FLOAT:
        return c->u.f;
    case GT_DB_TEXT:
    case GT_DB_BLOB:
        return text_to_float(bytes_of(r, c));
    default:
        return 0.0;
    }
}

/* Format a number like SQLite: "%lld", or "%!.15g" (a real always shows a
 * '.' or an exponent, so 1.0 stays "1.0"). */
static int format_number(const cell *c, char *buf, size_t len)
{
    locale_t old = (locale_t)0;
    int n;

    if (c->type == GT_DB_INT)
        return snprintf(buf, len, "%lld", (long long)c->u.i);
    pthread_once(&once, init_once);
    if (c_locale)
        old = uselocale(c_locale);
    n = snprintf(buf, len, "%.15g", c->u.f);
    if (c_locale)
        uselocale(old);
    if (n > 0 && (size_t)n + 2 < len && !strpbrk(buf, ".eEni"))
        n += snprintf(buf + n, len - (size_t)n, ".0");
    return n;
}

/* The memoized text of a number cell, made on first use; NULL on OOM. */
static const char *number_text(gt_rows *r, cell *c, size_t *len)
{
    char buf[40];
    int n;
    memo *m = r->memos;

    if (c->v.text) {
        *len = strlen(c->v.text);
        return c->v.text;
    }
    n = format_number(c, buf, sizeof(buf));
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    if (!m || m->used + (size_t)n + 1 > sizeof(m->buf)) {
        m = malloc(sizeof(*m));
        if (!m)
            return NULL;
        m->next = r->memos;
        m->used = 0;
        r->memos = m;
    }
    memcpy(m->buf + m->used, buf, (size_t)n + 1);
    c->v.text = m->buf + m->used;
    m->used += (size_t)n + 1;
    *len = (size_t)n;
    return c->v.text;
}

/* Text and blob share this: bytes of the cell, converting numbers. */
static const char *cell_bytes(const gt_rows *r, int row, int col, size_t *len)
{
    const cell *c = get_cell(r, row, col);
    const char *s = NULL;
    size_t n = 0;

    if (c && (c->type == GT_DB_TEXT || c->type == GT_DB_BLOB)) {
        s = bytes_of(r, c);
        n = c->v.n;
    } else if (c && (c->type == GT_DB_INT || c->type == GT_DB_FLOAT)) {
        /* Results are heap objects; see the file comment. */
        s = number_text((gt_rows *)r, (cell *)c, &n);
    }
    if (!s) {
        s = "";
        n = 0;
    }
    if (len)
        *len = n;
    return s;
}

const char *gt_rows_text(const gt_rows *r, int row, int col, size_t *len)
{
    return cell_bytes(r, row, col, len);
}

const void *gt_rows_blob(const gt_rows *r, int row, int col, size_t *len)
{
    return cell_bytes(r, row, col, len);
}
