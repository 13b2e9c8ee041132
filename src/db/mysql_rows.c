/* db/mysql_rows.c -- a stored MariaDB result turned into gt_rows.
 *
 * The result was read whole (mysql_stmt_store_result()), so fetching does
 * no I/O. Each column is bound to a cell of its type: integers and floats
 * by value, strings and blobs into a small buffer first and, when longer,
 * fetched again at their full length (mysql_stmt_fetch_column()). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

#define SMALL_CELL 64     /* strings up to this size need no 2nd copy */
#define BINARY_CHARSET 63 /* charsetnr of binary strings and blobs */

/* A fetched cell, bound as the output buffer of one column. */
typedef struct my_cell {
    int type; /* GT_DB_* of the column */
    int64_t i;
    double f;
    unsigned long len;
    my_bool null, err;
    char small[SMALL_CELL];
} my_cell;

static int column_type(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return GT_DB_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        return GT_DB_FLOAT;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_BIT:
    case MYSQL_TYPE_GEOMETRY:
        return f->charsetnr == BINARY_CHARSET ? GT_DB_BLOB : GT_DB_TEXT;
    default: /* dates and times come as text */
        return GT_DB_TEXT;
    }
}

/* Name the result's columns and bind each to its cell. Numbers are
 * converted by the library; strings go to the cell's small buffer and are
 * fetched again with mysql_stmt_fetch_column() when longer. */
static int bind_columns(gt_rows *r, const MYSQL_FIELD *f, unsigned int n,
                        my_cell *cells, MYSQL_BIND *b)
{
    unsigned int i;

    for (i = 0; i < n; i++) {
        cells[i].type = column_type(&f[i]);
        if (gt__rows_set_column(r, (int)i, f[i].name, cells[i].type) < 0)
            return -ENOMEM;
        b[i].is_null = &cells[i].null;
        b[i].error = &cells[i].err;
        b[i].length = &cells[i].len;
        if (cells[i].type == GT_DB_INT) {
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = &cells[i].i;
            b[i].is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
        } else if (cells[i].type == GT_DB_FLOAT) {
            b[i].buffer_type = MYSQL_TYPE_DOUBLE;
            b[i].buffer = &cells[i].f;
        } else {
            b[i].buffer_type = MYSQL_TYPE_STRING;
            b[i].buffer = cells[i].small;
            b[i].buffer_length = sizeof(cells[i].small);
        }
    }
    return 0;
}

/* Copy a string or blob cell, fetching it whole if it did not fit. */
static int put_bytes(MYSQL_STMT *st, gt_rows *r, unsigned int col,
                     my_cell *cell)
{
    MYSQL_BIND b = {.buffer_type = MYSQL_TYPE_STRING};
    unsigned long got = 0;
    char *p = cell->small;
    int rc;

    if (cell->len > sizeof(cell->small)) {
        if (!(p = malloc(cell->len)))
            return -ENOMEM;
        b.buffer = p;
        b.buffer_length = cell->len;
        b.length = &got;
        if (mysql_stmt_fetch_column(st, &b, col, 0)) {
            free(p);
            return 1;
        }
    }
    if (cell->type == GT_DB_BLOB)
        rc = gt__rows_put_blob(r, (int)col, p, cell->len);
    else
        rc = gt__rows_put_text(r, (int)col, p, cell->len);
    if (p != cell->small)
        free(p);
    return rc;
}

static int put_cell(MYSQL_STMT *st, gt_rows *r, unsigned int col, my_cell *cell,
                    const MYSQL_BIND *b)
{
    char num[24];

    if (cell->null)
        return gt__rows_put_null(r, (int)col);
    if (cell->type == GT_DB_FLOAT)
        return gt__rows_put_float(r, (int)col, cell->f);
    if (cell->type != GT_DB_INT)
        return put_bytes(st, r, col, cell);
    if (b->is_unsigned && cell->i < 0) { /* above INT64_MAX: keep exact */
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cell->i);
        return gt__rows_put_text(r, (int)col, num, strlen(num));
    }
    return gt__rows_put_int(r, (int)col, cell->i);
}

/* Fetch the stored rows into r. Returns 0, -ENOMEM or 1 (library error). */
static int fetch_rows(MYSQL_STMT *st, gt_rows *r, unsigned int n,
                      my_cell *cells, MYSQL_BIND *b)
{
    unsigned int i;
    int rc = 0, got;

    if (mysql_stmt_bind_result(st, b))
        return 1;
    while (rc == 0 && (got = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
        if (got == 1)
            return 1;
        /* 0 or MYSQL_DATA_TRUNCATED: long strings are fetched again */
        rc = gt__rows_add_row(r);
        for (i = 0; rc == 0 && i < n; i++)
            rc = put_cell(st, r, i, &cells[i], &b[i]);
    }
    return rc;
}

/* Build *out from the stored result of 'st'. */
int gt__my_make_rows(my_conn *c, MYSQL_STMT *st, gt_rows **out)
{
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    unsigned int n = mysql_stmt_field_count(st);
    my_cell *cells = calloc(n, sizeof(*cells));
    MYSQL_BIND *b = calloc(n, sizeof(*b));
    gt_rows *r = gt__rows_new((int)n);
    int rc = -ENOMEM;

    if (meta && cells && b && r &&
        (rc = bind_columns(r, mysql_fetch_fields(meta), n, cells, b)) == 0)
        rc = fetch_rows(st, r, n, cells, b);
    if (rc == 1 || (!meta && mysql_stmt_errno(st)))
        rc = gt__my_stmt_error(c, st);
    else if (rc < 0)
        rc = gt__db_error(&c->base, rc, 0, NULL, "out of memory");
    if (rc < 0)
        gt_rows_free(r);
    else
        *out = r;
    if (meta)
        mysql_free_result(meta);
    free(cells);
    free(b);
    return rc;
}
