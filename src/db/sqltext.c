/* db/sqltext.c -- find the '?' placeholders in SQL text.
 *
 * Applications write '?' for every parameter in every backend; PostgreSQL
 * wants $1, $2, ..., so its driver rewrites the text here. A '?' is a
 * placeholder unless it sits inside something the server reads as data or
 * as a comment:
 *
 *     'string' (with '' as an escaped quote)   E'string' (also \' escapes)
 *     "identifier" (with "")                    $tag$ dollar quote $tag$
 *     -- line comment                           / * block comment * /
 *
 * These are PostgreSQL's lexical rules, which also cover standard SQL.
 * Block comments nest as they do in PostgreSQL. MySQL's backslash escapes
 * in plain '...' strings are not recognised: for MySQL the server counts
 * placeholders itself, and a literal like 'it\'s ?' is better written with
 * '' or, better still, bound as a parameter. PostgreSQL's jsonb operators
 * '?', '?|' and '?&' are placeholders too: write jsonb_exists() instead.
 *
 * One scanner serves both entry points: it calls back for each
 * placeholder, so counting and rewriting cannot disagree. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (unsigned char)c >= 0x80;
}

/* Past a quoted run opened at s[0] and closed by the same character, with
 * a doubled quote as an escape and, when 'backslash', \x too. */
static const char *skip_quoted(const char *s, bool backslash)
{
    char q = *s++;

    for (; *s; s++) {
        if (backslash && *s == '\\' && s[1]) {
            s++;
        } else if (*s == q) {
            if (s[1] != q)
                return s + 1;
            s++;
        }
    }
    return s;
}

/* Past a block comment opened at s[0..1]; nested ones count. */
static const char *skip_block_comment(const char *s)
{
    int depth = 0;

    while (*s) {
        if (s[0] == '/' && s[1] == '*') {
            depth++;
            s += 2;
        } else if (s[0] == '*' && s[1] == '/') {
            s += 2;
            if (--depth == 0)
                return s;
        } else {
            s++;
        }
    }
    return s;
}

/* If s opens a dollar quote ($$ or $tag$), the length of its delimiter;
 * else 0. A tag is an identifier that does not start with a digit, so $1
 * is not one. */
static size_t dollar_tag_len(const char *s)
{
    size_t n = 1;

    if (s[1] >= '0' && s[1] <= '9')
        return 0;
    while (s[n] != '$') {
        if (!ident_char(s[n]))
            return 0;
        n++;
    }
    return n + 1;
}

/* Past the dollar-quoted string opened at s with a delimiter of 'n'. */
static const char *skip_dollar(const char *s, size_t n)
{
    const char *end;

    for (end = strchr(s + n, '$'); end; end = strchr(end + 1, '$'))
        if (strncmp(end, s, n) == 0)
            return end + n;
    return s + strlen(s);
}

/* If s (preceded by 'prev', or NUL at the start) opens a string, an
 * identifier or a comment, the first character after it; else NULL. */
static const char *skip_nonsql(const char *s, char prev)
{
    size_t n;

    switch (s[0]) {
    case '\'':
        return skip_quoted(s, false);
    case '"':
        return skip_quoted(s, false);
    case 'E':
    case 'e':
        if (s[1] == '\'' && !ident_char(prev))
            return skip_quoted(s + 1, true);
        return NULL;
    case '-':
        return s[1] == '-' ? s + strcspn(s, "\n") : NULL;
    case '/':
        return s[1] == '*' ? skip_block_comment(s) : NULL;
    case '$':
        /* In PostgreSQL a '$' inside an identifier is part of it. */
        n = ident_char(prev) ? 0 : dollar_tag_len(s);
        return n ? skip_dollar(s, n) : NULL;
    default:
        return NULL;
    }
}

/* Walk 'sql', calling on_text for each run of text that is not a
 * placeholder and on_param for each placeholder. */
static void scan(const char *sql, void (*on_text)(void *, const char *, size_t),
                 void (*on_param)(void *), void *ctx)
{
    const char *s = sql, *run = sql, *next;
    char prev = '\0';

    while (*s) {
        if (*s == '?') {
            on_text(ctx, run, (size_t)(s - run));
            on_param(ctx);
            prev = *s++;
            run = s;
        } else if ((next = skip_nonsql(s, prev)) != NULL) {
            prev = next[-1];
            s = next;
        } else {
            prev = *s++;
        }
    }
    on_text(ctx, run, (size_t)(s - run));
}

typedef struct rewrite {
    char *out; /* NULL while only counting */
    size_t len;
    int nparams;
} rewrite;

static void put_text(void *ctx, const char *p, size_t n)
{
    rewrite *w = ctx;

    if (w->out)
        memcpy(w->out + w->len, p, n);
    w->len += n;
}

static void put_param(void *ctx)
{
    rewrite *w = ctx;

    w->nparams++;
    if (w->out)
        w->len += (size_t)sprintf(w->out + w->len, "$%d", w->nparams);
}

static void ignore_text(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
}

int gt__sql_count_params(const char *sql)
{
    rewrite w = {NULL, 0, 0};

    scan(sql, ignore_text, put_param, &w);
    return w.nparams;
}

char *gt__sql_to_dollar(const char *sql, int *nparams)
{
    int count = gt__sql_count_params(sql);
    /* Each '?' becomes '$' and at most 10 digits. */
    rewrite w = {malloc(strlen(sql) + (size_t)count * 10 + 1), 0, 0};

    if (!w.out)
        return NULL;
    scan(sql, put_text, put_param, &w);
    w.out[w.len] = '\0';
    if (nparams)
        *nparams = w.nparams;
    return w.out;
}
