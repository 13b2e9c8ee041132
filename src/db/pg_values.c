/* db/pg_values.c -- the PostgreSQL driver's values: statement parameters
 * out, result cells in.
 *
 * Parameters go in text format, typed so that "SELECT ?" and "? + 1" mean
 * what they say: integers as int4 (int8 outside int4's range), floats as
 * float8, text and NULL as "unknown", so that the server infers date, json,
 * bool... from the context; blobs go binary, as bytea.
 *
 * Results come in text format and are decoded by the column's type OID:
 * integers (bool as 0/1) and floats parsed, bytea unescaped, the rest
 * kept as text. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Type OIDs, from the server's pg_type.h (not a dependency of ours). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_NUMERIC = 1700,
};

/* ---- small helpers ------------------------------------------------------- */

/* Grow an array to hold 'need' elements: the (maybe moved) array, or NULL
 * on OOM with the old one untouched. */
void *gt__pg_grow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t n = *cap ? *cap : 16;

    if (need <= *cap)
        return p;
    while (n < need)
        n *= 2;
    p = realloc(p, n * size);
    if (p)
        *cap = n;
    return p;
}

/* Decimal without snprintf; NUL-terminated; returns the length. */
size_t gt__pg_fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        p[i++] = tmp[--n];
    p[i] = '\0';
    return i;
}

static size_t fmt_i64(char *p, int64_t v)
{
    if (v >= 0)
        return gt__pg_fmt_u64(p, (uint64_t)v);
    *p = '-';
    return 1 + gt__pg_fmt_u64(p + 1, 0 - (uint64_t)v);
}

/* ---- parameters ---------------------------------------------------------- */

/* One letter per parameter type, for the cache key: a statement's
 * parameter types are fixed when it is prepared. */
static char sig_char(const gt_db_value *v)
{
    switch (v->type) {
    case GT_DB_INT:
        return v->u.i == (int32_t)v->u.i ? 'i' : 'l';
    case GT_DB_FLOAT:
        return 'f';
    case GT_DB_BLOB:
        return 'b';
    case GT_DB_TEXT:
    case GT_DB_NULL:
        return 'u';
    default:
        return '?';
    }
}

static Oid sig_oid(char sig)
{
    switch (sig) {
    case 'i':
        return OID_INT4;
    case 'l':
        return OID_INT8;
    case 'f':
        return OID_FLOAT8;
    case 'b':
        return OID_BYTEA;
    default:
        return 0; /* unknown: the server infers it */
    }
}

/* The cache key of 's': the SQL, prefixed by its parameter types when it
 * has any ("il:SELECT ?, ?"). Borrowed: valid until the next call. */
const char *gt__pg_stmt_key(pg_conn *c, const gt_db_stmt *s)
{
    size_t n = (size_t)s->nparams, len = strlen(s->sql), i;
    char *k;

    if (!n)
        return s->sql;
    k = gt__pg_grow(c->key, &c->cap_key, n + len + 2, 1);
    if (!k)
        return NULL;
    c->key = k;
    for (i = 0; i < n; i++)
        k[i] = sig_char(&s->params[i]);
    k[n] = ':';
    memcpy(k + n + 1, s->sql, len + 1);
    return k;
}

bool gt__pg_same_stmt(const gt_db_stmt *a, const gt_db_stmt *b)
{
    if (a->nparams != b->nparams || !gt__db_same_sql(a->sql, b->sql))
        return false;
    for (int i = 0; i < a->nparams; i++)
        if (sig_char(&a->params[i]) != sig_char(&b->params[i]))
            return false;
    return true;
}

static size_t text_room(const gt_db_value *v)
{
    switch (v->type) {
    case GT_DB_INT:
        return 21;
    case GT_DB_FLOAT:
        return 32;
    case GT_DB_TEXT:
        return v->u.s.n + 1;
    default:
        return 0;
    }
}

/* Text parameters must be NUL-terminated (libpq ignores their lengths), so
 * text is copied; blobs are passed by pointer, binary. */
static int encode_one(const gt_db_value *v, pg_params *e, size_t i, char **txt)
{
    e->type[i] = sig_oid(sig_char(v));
    e->val[i] = *txt;
    e->len[i] = 0;
    e->fmt[i] = 0;
    switch (v->type) {
    case GT_DB_NULL:
        e->val[i] = NULL;
        return 0;
    case GT_DB_INT:
        *txt += fmt_i64(*txt, v->u.i) + 1;
        return 0;
    case GT_DB_FLOAT:
        *txt += (size_t)snprintf(*txt, 32, "%.17g", v->u.f) + 1;
        return 0;
    case GT_DB_TEXT:
        if (v->u.s.n && memchr(v->u.s.p, '\0', v->u.s.n))
            return -EINVAL; /* PostgreSQL text cannot hold NUL */
        if (v->u.s.n)
            memcpy(*txt, v->u.s.p, v->u.s.n);
        (*txt)[v->u.s.n] = '\0';
        *txt += v->u.s.n + 1;
        return 0;
    case GT_DB_BLOB:
        if (v->u.s.n > INT_MAX)
            return -EINVAL;
        e->val[i] = v->u.s.n ? v->u.s.p : ""; /* NULL would mean NULL */
        e->len[i] = (int)v->u.s.n;
        e->fmt[i] = 1;
        return 0;
    }
    return -EINVAL;
}

int gt__pg_encode(pg_conn *c, const gt_db_stmt *s, pg_params *e)
{
    size_t n = (size_t)s->nparams, room = 0, fixed, i;
    char *buf, *txt;
    int rc = 0;

    fixed = n * (sizeof(char *) + 2 * sizeof(int) + sizeof(Oid));
    for (i = 0; i < n; i++)
        room += text_room(&s->params[i]);
    buf = gt__pg_grow(c->scratch, &c->cap_scratch, fixed + room + 1, 1);
    if (!buf)
        return -ENOMEM;
    c->scratch = buf;
    e->val = (const char **)(void *)buf;
    e->len = (int *)(void *)(buf + n * sizeof(char *));
    e->fmt = e->len + n;
    e->type = (Oid *)(void *)(e->fmt + n);
    txt = (char *)(e->type + n);
    for (i = 0; i < n && rc == 0; i++)
        rc = encode_one(&s->params[i], e, i, &txt);
    return rc;
}

/* ---- results ------------------------------------------------------------- */

static int col_type(Oid t)
{
    switch (t) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
        return GT_DB_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return GT_DB_FLOAT;
    case OID_BYTEA:
        return GT_DB_BLOB;
    default:
        return GT_DB_TEXT;
    }
}

int64_t gt__pg_parse_int(const char *s)
{
    const char *p = s + (*s == '-');
    uint64_t v = 0;
    int n = 0;

    for (; *p >= '0' && *p <= '9' && n < 18; p++, n++)
        v = v * 10 + (uint64_t)(*p - '0');
    if (*p || n == 0) /* 19 digits, or not what the server writes */
        return strtoll(s, NULL, 10);
    return *s == '-' ? -(int64_t)v : (int64_t)v;
}

static int put_cell(gt_rows *rows, const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    unsigned char *b;
    size_t n;
    int rc;

    if (PQgetisnull(r, row, col))
        return gt__rows_put_null(rows, col);
    if (PQftype(r, col) == OID_BOOL)
        return gt__rows_put_int(rows, col, v[0] == 't');
    switch (col_type(PQftype(r, col))) {
    case GT_DB_INT:
        return gt__rows_put_int(rows, col, gt__pg_parse_int(v));
    case GT_DB_FLOAT:
        return gt__rows_put_float(rows, col, strtod(v, NULL));
    case GT_DB_BLOB:
        b = PQunescapeBytea((const unsigned char *)v, &n);
        if (!b)
            return -ENOMEM;
        rc = gt__rows_put_blob(rows, col, b, n);
        PQfreemem(b);
        return rc;
    default:
        return gt__rows_put_text(rows, col, v,
                                 (size_t)PQgetlength(r, row, col));
    }
}

int gt__pg_rows_from(const PGresult *r, gt_rows **out)
{
    int nc = PQnfields(r), nr = PQntuples(r), rc = 0, row, col;
    gt_rows *rows = gt__rows_new(nc);

    if (!rows)
        return -ENOMEM;
    for (col = 0; col < nc && rc == 0; col++)
        rc = gt__rows_set_column(rows, col, PQfname(r, col),
                                 col_type(PQftype(r, col)));
    for (row = 0; row < nr && rc == 0; row++) {
        rc = gt__rows_add_row(rows);
        for (col = 0; col < nc && rc == 0; col++)
            rc = put_cell(rows, r, row, col);
    }
    if (rc < 0) {
        gt_rows_free(rows);
        return rc;
    }
    *out = rows;
    return 0;
}
