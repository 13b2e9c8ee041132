/* tests/test_db_core.c -- the database module's parts that need no server:
 * URL parsing (good URLs and the message each bad one gets), placeholder
 * scanning, the statement cache against a dumb reference model, result
 * conversions, and the bookkeeping that frees forgotten results. */
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

/* ---- URLs ---------------------------------------------------------------- */

typedef struct url_case {
    const char *url;
    const char *scheme, *user, *password, *host, *dbname, *path;
    int port;
} url_case;

static const url_case good_urls[] = {
    {"postgres://u:p@localhost:5432/db", "postgres", "u", "p", "localhost",
     "db", NULL, 5432},
    {"postgresql://localhost/db", "postgres", NULL, NULL, "localhost", "db",
     NULL, 0},
    {"POSTGRES://h/d", "postgres", NULL, NULL, "h", "d", NULL, 0},
    {"mysql://root@127.0.0.1/test", "mysql", "root", NULL, "127.0.0.1", "test",
     NULL, 0},
    {"mariadb://u%40x:p%3Aw%2Fd@[::1]:3306/my%20db", "mysql", "u@x", "p:w/d",
     "::1", "my db", NULL, 3306},
    {"mysql://[fe80::1%25eth0]/x", "mysql", NULL, NULL, "fe80::1%eth0", "x",
     NULL, 0},
    {"postgres://u:pa@ss@host/db", "postgres", "u", "pa@ss", "host", "db", NULL,
     0},
    {"postgres://u:pa:ss@host", "postgres", "u", "pa:ss", "host", NULL, NULL,
     0},
    {"postgres://u:@host:1/", "postgres", "u", "", "host", NULL, NULL, 1},
    {"postgres://host:65535", "postgres", NULL, NULL, "host", NULL, NULL,
     65535},
    {"postgres://:5432/db", "postgres", NULL, NULL, NULL, "db", NULL, 5432},
    {"postgres:///db", "postgres", NULL, NULL, NULL, "db", NULL, 0},
    {"postgres://%2Frun%2Fpg/db", "postgres", NULL, NULL, "/run/pg", "db", NULL,
     0},
    {"sqlite:///tmp/x.db", "sqlite", NULL, NULL, NULL, NULL, "/tmp/x.db", 0},
    {"sqlite:/tmp/x.db", "sqlite", NULL, NULL, NULL, NULL, "/tmp/x.db", 0},
    {"sqlite:rel/x.db", "sqlite", NULL, NULL, NULL, NULL, "rel/x.db", 0},
    {"sqlite::memory:", "sqlite", NULL, NULL, NULL, NULL, ":memory:", 0},
    {"sqlite://:memory:", "sqlite", NULL, NULL, NULL, NULL, ":memory:", 0},
    {"sqlite:///tmp/a%20b.db?x=1", "sqlite", NULL, NULL, NULL, NULL,
     "/tmp/a b.db", 0},
};

static void assert_str(const char *got, const char *want, const char *what,
                       const char *url)
{
    if (!want)
        ck_assert_msg(got == NULL, "%s of %s: want NULL, got '%s'", what, url,
                      got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0,
                      "%s of %s: want '%s', got '%s'", what, url, want,
                      got ? got : "(null)");
}

START_TEST(url_parses_good_urls)
{
    for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
        const url_case *c = &good_urls[i];
        gt__db_url u;
        char err[256];
        int rc = gt__db_url_parse(&u, c->url, err, sizeof(err));

        ck_assert_msg(rc == 0, "%s: rc %d (%s)", c->url, rc, err);
        assert_str(u.scheme, c->scheme, "scheme", c->url);
        assert_str(u.user, c->user, "user", c->url);
        assert_str(u.password, c->password, "password", c->url);
        assert_str(u.host, c->host, "host", c->url);
        assert_str(u.dbname, c->dbname, "dbname", c->url);
        assert_str(u.path, c->path, "path", c->url);
        ck_assert_msg(u.port == c->port, "port of %s: %d", c->url, u.port);
        gt__db_url_free(&u);
    }
}
END_TEST

START_TEST(url_reads_query_options)
{
    gt__db_url u;
    char err[256];
    int bad;

    ck_assert_int_eq(gt__db_url_parse(&u,
                                      "sqlite::memory:?mode=offload&&"
                                      "busy_timeout_ms=10&flag&a%20b=c%"
                                      "3Dd&n=-5&n=7&x=12z&big="
                                      "99999999999999999999999",
                                      err, sizeof(err)),
                     0);
    ck_assert_str_eq(u.path, ":memory:");
    ck_assert_int_eq(u.nopts, 8);
    ck_assert_str_eq(gt__db_url_opt(&u, "mode"), "offload");
    ck_assert_str_eq(gt__db_url_opt(&u, "flag"), "");
    ck_assert_str_eq(gt__db_url_opt(&u, "a b"), "c=d");
    ck_assert_ptr_null(gt__db_url_opt(&u, "missing"));
    ck_assert_int_eq(gt__db_url_opt_long(&u, "busy_timeout_ms", 1, &bad), 10);
    ck_assert_int_eq(bad, 0);
    /* The last occurrence wins. */
    ck_assert_int_eq(gt__db_url_opt_long(&u, "n", 1, &bad), 7);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "missing", 42, &bad), 42);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "x", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "flag", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "big", 3, &bad), 3);
    ck_assert_int_eq(bad, -EINVAL);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "x", 3, NULL), 3);
    gt__db_url_free(&u);
    ck_assert_ptr_null(u.opts);
    gt__db_url_free(&u); /* twice is harmless */

    ck_assert_int_eq(gt__db_url_parse(&u, "postgres://h/d?n=-5", NULL, 0), 0);
    ck_assert_int_eq(gt__db_url_opt_long(&u, "n", 1, NULL), -5);
    gt__db_url_free(&u);
}
END_TEST

typedef struct bad_url {
    const char *url;
    int rc;
    const char *msg; /* a part of the message */
} bad_url;

static const bad_url bad_urls[] = {
    {"", -EINVAL, "missing scheme"},
    {"no scheme here", -EINVAL, "missing scheme"},
    {"redis://x", -EPROTONOSUPPORT, "unknown scheme 'redis'"},
    {"localhost:5432", -EPROTONOSUPPORT, "unknown scheme 'localhost'"},
    {"postgres:host/db", -EINVAL, "expected '//' after 'postgres:'"},
    {"postgres://h:99999/db", -EINVAL, "port '99999' is not a number"},
    {"postgres://h:0/db", -EINVAL, "port '0'"},
    {"postgres://h:12a/db", -EINVAL, "port '12a'"},
    {"postgres://h:-1/db", -EINVAL, "port '-1'"},
    {"postgres://h:1:2/db", -EINVAL, "port '1:2'"},
    {"postgres://[::1/db", -EINVAL, "closing ']'"},
    {"postgres://[::1]x/db", -EINVAL, "after ']'"},
    {"postgres://u:p%zz@h/db", -EINVAL, "percent-escape in the password"},
    {"postgres://u%00@h/db", -EINVAL, "percent-escape in the user name"},
    {"postgres://h/db%2", -EINVAL, "percent-escape in the database name"},
    {"postgres://h%/db", -EINVAL, "percent-escape in the host"},
    {"postgres://h/a/b", -EINVAL, "contains '/'"},
    {"postgres://h/db?=v", -EINVAL, "empty option name"},
    {"postgres://h/db?k=%g0", -EINVAL, "percent-escape in the option value"},
    {"postgres://h/d\n", -EINVAL, "control character at offset 14"},
    {"sqlite:", -EINVAL, "without a path"},
    {"sqlite://", -EINVAL, "without a path"},
    {"sqlite:?mode=inline", -EINVAL, "without a path"},
    {"sqlite://host/x.db", -EINVAL, "host part"},
    {"sqlite:x?%zz=1", -EINVAL, "percent-escape in the option name"},
};

START_TEST(url_rejects_bad_urls_with_clear_messages)
{
    gt__db_url u;
    char err[256];

    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
        const bad_url *c = &bad_urls[i];
        int rc = gt__db_url_parse(&u, c->url, err, sizeof(err));

        ck_assert_msg(rc == c->rc, "%s: rc %d, want %d", c->url, rc, c->rc);
        ck_assert_msg(strstr(err, c->msg), "%s: message '%s' lacks '%s'",
                      c->url, err, c->msg);
        ck_assert_ptr_null(u.scheme); /* left empty, free is harmless */
        gt__db_url_free(&u);
    }
    ck_assert_int_eq(gt__db_url_parse(&u, NULL, err, sizeof(err)), -EINVAL);
    /* A short buffer truncates the message but is still a string. */
    ck_assert_int_eq(gt__db_url_parse(&u, "redis://", err, 8),
                     -EPROTONOSUPPORT);
    ck_assert_int_eq(strlen(err), 7);
}
END_TEST

/* ---- placeholders -------------------------------------------------------- */

typedef struct sql_case {
    const char *in, *out;
    int n;
} sql_case;

static const sql_case sql_cases[] = {
    {"", "", 0},
    {"SELECT 1", "SELECT 1", 0},
    {"SELECT ?", "SELECT $1", 1},
    {"SELECT ?, ?,?", "SELECT $1, $2,$3", 3},
    {"SELECT ?::int", "SELECT $1::int", 1},
    {"SELECT '?', ?", "SELECT '?', $1", 1},
    {"SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
    {"SELECT \"a?\" FROM t WHERE x = ?", "SELECT \"a?\" FROM t WHERE x = $1",
     1},
    {"SELECT \"a\"\"?\", ?", "SELECT \"a\"\"?\", $1", 1},
    {"SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", 1},
    {"SELECT $t$ ? $x$ ? $t$, ?", "SELECT $t$ ? $x$ ? $t$, $1", 1},
    {"SELECT ? -- ?\n, ?", "SELECT $1 -- ?\n, $2", 2},
    {"SELECT ? -- ?", "SELECT $1 -- ?", 1},
    {"SELECT /* ? /* ? */ ? */ ?", "SELECT /* ? /* ? */ ? */ $1", 1},
    {"SELECT E'\\'?', ?", "SELECT E'\\'?', $1", 1},
    {"SELECT e'\\\\', ?", "SELECT e'\\\\', $1", 1},
    {"SELECT 'a\\', ?", "SELECT 'a\\', $1", 1},
    {"SELECT a$b, ?", "SELECT a$b, $1", 1},
    {"SELECT $1", "SELECT $1", 0},
    {"SELECT x-?", "SELECT x-$1", 1},
    {"SELECT 4/?", "SELECT 4/$1", 1},
    {"SELECT '?", "SELECT '?", 0},
    {"SELECT $$ ?", "SELECT $$ ?", 0},
    {"SELECT /* ?", "SELECT /* ?", 0},
    {"??????????????", "$1$2$3$4$5$6$7$8$9$10$11$12$13$14", 14},
};

START_TEST(sqltext_finds_placeholders_outside_quotes)
{
    for (size_t i = 0; i < sizeof(sql_cases) / sizeof(sql_cases[0]); i++) {
        const sql_case *c = &sql_cases[i];
        int n = -1;
        char *out = gt__sql_to_dollar(c->in, &n);

        ck_assert_ptr_nonnull(out);
        ck_assert_msg(strcmp(out, c->out) == 0, "'%s' -> '%s', want '%s'",
                      c->in, out, c->out);
        ck_assert_msg(n == c->n, "'%s': %d params, want %d", c->in, n, c->n);
        ck_assert_int_eq(gt__sql_count_params(c->in), c->n);
        free(out);
    }
}
END_TEST

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

/* ---- results ------------------------------------------------------------- */

static gt_rows *sample_rows(void)
{
    gt_rows *r = gt__rows_new(5);

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(gt__rows_set_column(r, 0, "i", GT_DB_INT), 0);
    ck_assert_int_eq(gt__rows_set_column(r, 1, "f", GT_DB_FLOAT), 0);
    ck_assert_int_eq(gt__rows_set_column(r, 2, "t", GT_DB_TEXT), 0);
    ck_assert_int_eq(gt__rows_set_column(r, 3, "b", GT_DB_BLOB), 0);
    ck_assert_int_eq(gt__rows_set_column(r, 4, "n", GT_DB_NULL), 0);
    ck_assert_int_eq(gt__rows_set_column(r, 5, "x", GT_DB_INT), -EINVAL);
    ck_assert_int_eq(gt__rows_put_int(r, 0, 1), -EINVAL); /* no row yet */
    ck_assert_int_eq(gt__rows_add_row(r), 0);
    ck_assert_int_eq(gt__rows_put_int(r, 0, 42), 0);
    ck_assert_int_eq(gt__rows_put_float(r, 1, 2.5), 0);
    ck_assert_int_eq(gt__rows_put_text(r, 2, "12abc", 5), 0);
    ck_assert_int_eq(gt__rows_put_blob(r, 3, "\0x\0", 3), 0);
    ck_assert_int_eq(gt__rows_put_null(r, 4), 0);
    ck_assert_int_eq(gt__rows_put_int(r, 5, 1), -EINVAL);
    return r;
}

START_TEST(rows_reads_typed_cells_and_columns)
{
    gt_rows *r = sample_rows();
    size_t len = 99;
    const char *b;

    ck_assert_int_eq(gt_rows_count(r), 1);
    ck_assert_int_eq(gt_rows_columns(r), 5);
    ck_assert_str_eq(gt_rows_name(r, 0), "i");
    ck_assert_str_eq(gt_rows_name(r, 3), "b");
    ck_assert_ptr_null(gt_rows_name(r, 5));
    ck_assert_ptr_null(gt_rows_name(r, -1));
    ck_assert_int_eq(gt_rows_type(r, 1), GT_DB_FLOAT);
    ck_assert_int_eq(gt_rows_type(r, 9), GT_DB_NULL);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 42);
    ck_assert(gt_rows_float(r, 0, 1) == 2.5);
    ck_assert_str_eq(gt_rows_text(r, 0, 2, &len), "12abc");
    ck_assert_int_eq(len, 5);
    b = gt_rows_blob(r, 0, 3, &len);
    ck_assert_int_eq(len, 3);
    ck_assert(memcmp(b, "\0x\0", 3) == 0 && b[3] == '\0');
    ck_assert(gt_rows_isnull(r, 0, 4));
    ck_assert(!gt_rows_isnull(r, 0, 0));
    /* NULL reads as 0, 0.0, "" and an empty blob. */
    ck_assert_int_eq(gt_rows_int(r, 0, 4), 0);
    ck_assert(gt_rows_float(r, 0, 4) == 0.0);
    ck_assert_str_eq(gt_rows_text(r, 0, 4, &len), "");
    ck_assert_int_eq(len, 0);
    gt_rows_blob(r, 0, 4, &len);
    ck_assert_int_eq(len, 0);
    gt_rows_free(r);
}
END_TEST

START_TEST(rows_out_of_range_reads_as_null)
{
    gt_rows *r = sample_rows();
    size_t len = 7;
    static const int at[][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 5}, {9, 9}};

    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        ck_assert(gt_rows_isnull(r, at[i][0], at[i][1]));
        ck_assert_int_eq(gt_rows_int(r, at[i][0], at[i][1]), 0);
        ck_assert(gt_rows_float(r, at[i][0], at[i][1]) == 0.0);
        ck_assert_str_eq(gt_rows_text(r, at[i][0], at[i][1], &len), "");
        ck_assert_int_eq(len, 0);
        ck_assert_ptr_nonnull(gt_rows_blob(r, at[i][0], at[i][1], NULL));
    }
    gt_rows_free(r);
    /* A NULL result is an empty one. */
    ck_assert_int_eq(gt_rows_count(NULL), 0);
    ck_assert_int_eq(gt_rows_columns(NULL), 0);
    ck_assert(gt_rows_isnull(NULL, 0, 0));
    ck_assert_str_eq(gt_rows_text(NULL, 0, 0, NULL), "");
    gt_rows_free(NULL);
}
END_TEST

/* One text cell per string, then compare conversions. */
static gt_rows *text_column(const char *const *v, size_t n)
{
    gt_rows *r = gt__rows_new(1);

    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(gt__rows_add_row(r), 0);
        ck_assert_int_eq(gt__rows_put_text(r, 0, v[i], strlen(v[i])), 0);
    }
    return r;
}

START_TEST(rows_convert_text_to_numbers_like_sqlite)
{
    static const char *const v[] = {
        "12abc",
        " -7",
        "abc",
        "99999999999999999999",
        "-99999999999999999999",
        "3.5e2x",
        "inf",
        ".5",
        "+1.5",
        "0x10",
        "",
        "1e3",
    };
    static const int64_t ints[] = {12, -7, 0, INT64_MAX, INT64_MIN, 3,
                                   0,  0,  1, 0,         0,         1};
    static const double floats[] = {12, -7,  0,   1e20, -1e20, 350,
                                    0,  0.5, 1.5, 0,    0,     1000};
    gt_rows *r = text_column(v, sizeof(v) / sizeof(v[0]));

    for (int i = 0; i < (int)(sizeof(v) / sizeof(v[0])); i++) {
        ck_assert_msg(gt_rows_int(r, i, 0) == ints[i], "int('%s') = %lld", v[i],
                      (long long)gt_rows_int(r, i, 0));
        ck_assert_msg(gt_rows_float(r, i, 0) == floats[i], "float('%s') = %g",
                      v[i], gt_rows_float(r, i, 0));
    }
    gt_rows_free(r);
}
END_TEST

START_TEST(rows_convert_numbers_to_text_like_sqlite)
{
    static const double f[] = {1.0, 0.1, -2.5, 1e20, 123456789.0, 1.5e-7};
    static const char *const ft[] = {"1.0",     "0.1",         "-2.5",
                                     "1.0e+20", "123456789.0", "1.5e-07"};
    gt_rows *r = gt__rows_new(2);
    const char *first;
    size_t len;

    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(gt__rows_add_row(r), 0);
        gt__rows_put_float(r, 0, f[i]);
        gt__rows_put_int(r, 1, i == 0 ? INT64_MIN : i * 1000);
    }
    first = gt_rows_text(r, 0, 1, &len);
    ck_assert_str_eq(first, "-9223372036854775808");
    ck_assert_int_eq(len, 20);
    for (int i = 0; i < 6; i++) {
        const char *s = gt_rows_text(r, i, 0, NULL);

        ck_assert_msg(strcmp(s, ft[i]) == 0 ||
                          (i == 3 && strcmp(s, "1e+20") == 0) ||
                          (i == 5 && strcmp(s, "1.5e-07") == 0),
                      "text(%g) = '%s'", f[i], s);
    }
    /* Memoized, and never moved by later conversions. */
    for (int k = 0; k < 200; k++)
        for (int i = 0; i < 6; i++)
            gt_rows_text(r, i, 1, NULL);
    ck_assert_ptr_eq(gt_rows_text(r, 0, 1, NULL), first);
    ck_assert_str_eq(first, "-9223372036854775808");
    ck_assert_str_eq(gt_rows_blob(r, 2, 1, &len), "2000");
    ck_assert_int_eq(len, 4);
    gt_rows_free(r);
}
END_TEST

START_TEST(rows_convert_floats_to_int_saturating)
{
    gt_rows *r = gt__rows_new(1);
    static const double f[] = {-3.9, 3.9, 1e300, -1e300, NAN};
    static const int64_t want[] = {-3, 3, INT64_MAX, INT64_MIN, 0};

    for (int i = 0; i < 5; i++) {
        gt__rows_add_row(r);
        gt__rows_put_float(r, 0, f[i]);
        ck_assert_int_eq(gt_rows_int(r, i, 0), want[i]);
    }
    gt_rows_free(r);
}
END_TEST

START_TEST(rows_grow_to_many_rows_and_large_values)
{
    gt_rows *r = gt__rows_new(3);
    char buf[64];
    size_t len;
    char *big = malloc(1 << 20);

    for (int i = 0; i < 100000; i++) {
        snprintf(buf, sizeof(buf), "row %d", i);
        ck_assert_int_eq(gt__rows_add_row(r), 0);
        gt__rows_put_int(r, 0, i);
        gt__rows_put_text(r, 1, buf, strlen(buf));
    }
    memset(big, 0xab, 1 << 20);
    ck_assert_int_eq(gt__rows_put_blob(r, 2, big, 1 << 20), 0);
    ck_assert_int_eq(gt_rows_count(r), 100000);
    ck_assert_int_eq(gt_rows_int(r, 99999, 0), 99999);
    ck_assert_str_eq(gt_rows_text(r, 77777, 1, NULL), "row 77777");
    ck_assert(gt_rows_isnull(r, 5, 2));
    ck_assert(memcmp(gt_rows_blob(r, 99999, 2, &len), big, 1 << 20) == 0);
    ck_assert_int_eq(len, 1 << 20);
    ck_assert_int_eq(gt__rows_put_text(r, 1, NULL, 3), -EINVAL);
    ck_assert_int_eq(gt__rows_put_text(r, 1, NULL, 0), 0);
    ck_assert(!gt_rows_isnull(r, 99999, 1));
    ck_assert_ptr_null(gt__rows_new(-1));
    free(big);
    gt_rows_free(r);

    r = gt__rows_new(0); /* a statement without columns */
    ck_assert_int_eq(gt__rows_add_row(r), 0);
    ck_assert_int_eq(gt_rows_count(r), 1);
    gt_rows_free(r);
}
END_TEST

/* ---- forgotten results --------------------------------------------------- */

/* Made by one coroutine, freed by another of the same worker. */
static gt_rows *handed_head, *handed_tail;

static int make_and_forget(void *arg)
{
    gt_sem *park = arg;
    gt_rows *r[5];

    for (int i = 0; i < 5; i++)
        r[i] = sample_rows();
    gt_rows_free(r[2]); /* unlinked from the middle of the list */
    handed_head = r[4]; /* the newest heads the list */
    handed_tail = r[0];
    if (park)
        ck_assert_int_eq(gt_sem_acquire(park, GT_NEVER), 0);
    return 0; /* r[1] and r[3] are forgotten */
}

static int free_handed(void *arg)
{
    gt_rows_free(handed_head);
    gt_rows_free(handed_tail);
    gt_sem_release(arg);
    return 0;
}

static int t_forgotten(void *arg)
{
    gt_rows *outside = arg;
    gt_co *a, *b;
    gt_sem park;

    ck_assert_int_eq(gt_co_spawn(&a, make_and_forget, NULL), 0);
    ck_assert_int_eq(gt_co_join(a, NULL, GT_NEVER), 0);
    gt_sem_init(&park, 0);
    ck_assert_int_eq(gt_co_spawn(&a, make_and_forget, &park), 0);
    ck_assert_int_eq(gt_co_spawn(&b, free_handed, &park), 0);
    ck_assert_int_eq(gt_co_join(a, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_join(b, NULL, GT_NEVER), 0);
    /* Made outside any coroutine, then adopted by this one. */
    ck_assert_int_eq(gt__rows_track(outside), 0);
    ck_assert_int_eq(gt__rows_track(outside), 0); /* twice: a no-op */
    ck_assert_int_eq(gt__rows_track(NULL), -EINVAL);
    return 0;
}

/* The leak checker (ASan) is what proves these are all freed; a double
 * free of the ones another coroutine freed would crash. */
START_TEST(forgotten_results_are_freed_when_the_coroutine_ends)
{
    gt_rows *outside = sample_rows(); /* not in a coroutine: untracked */

    ck_assert_int_eq(run_main(t_forgotten, outside), 0);
}
END_TEST

/* ---- db.c without a server ----------------------------------------------- */

START_TEST(open_reports_bad_urls_and_unknown_schemes)
{
    gt_db *db = (gt_db *)1;

    ck_assert_int_eq(gt_db_open(&db, "postgres://h:0/x", GT_NEVER), -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(gt_db_open(&db, NULL, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_db_open(NULL, "sqlite::memory:", GT_NEVER), -EINVAL);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite::memory:?connect_timeout_ms=x", GT_NEVER),
        -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:?mode=fast", GT_NEVER),
                     -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite::memory:?busy_timeout_ms=-1", GT_NEVER),
        -EINVAL);
    ck_assert_int_eq(gt_db_open(&db, "redis://localhost/0", GT_NEVER),
                     -EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(strstr(gt_db_errmsg(db), "unknown scheme 'redis'"), "%s",
                  gt_db_errmsg(db));
    ck_assert(gt_db_broken(db));
    ck_assert_str_eq(gt_db_backend(db), "");
    gt_db_close(db);
    gt_db_close(NULL);
}
END_TEST

/* Every call on a handle that failed to open errs and keeps the message. */
static void assert_all_calls_fail(gt_db *db, const char *msg)
{
    gt_rows *rows = (gt_rows *)1, *out[1] = {(gt_rows *)1};
    gt_db_stmt st = {"SELECT 1", NULL, 0};

    ck_assert_int_lt(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_query(db, &rows, "SELECT 1", NULL, 0, GT_NEVER), 0);
    ck_assert_ptr_null(rows);
    ck_assert_int_lt(gt_db_batch(db, out, &st, 1, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_commit(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_rollback(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_ping(db, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_reset(db, GT_NEVER), 0);
    ck_assert_int_eq(gt_db_tx_depth(db), 0);
    ck_assert(gt_db_broken(db));
    ck_assert_msg(strstr(gt_db_errmsg(db), msg), "'%s' lacks '%s'",
                  gt_db_errmsg(db), msg);
}

START_TEST(calls_on_a_failed_handle_fail_cleanly)
{
    gt_db *db;

    ck_assert_int_eq(gt_db_open(&db, "redis://x", GT_NEVER), -EPROTONOSUPPORT);
    assert_all_calls_fail(db, "unknown scheme");
    gt_db_close(db);
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite:///nonexistent-gt-dir/x/y.db", GT_NEVER),
        GT_EDB);
    assert_all_calls_fail(db, "cannot open");
    ck_assert_str_eq(gt_db_backend(db), "sqlite");
    gt_db_close(db);
    /* NULL handles too. */
    ck_assert_int_eq(gt_db_exec(NULL, "SELECT 1", NULL, 0, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_db_begin(NULL, GT_NEVER), -EINVAL);
    ck_assert_str_eq(gt_db_sqlstate(NULL), "");
}
END_TEST

/* The session-change guess against the dumb model it replaced: every word
 * compared with every statement. A statement marks the session dirty
 * before it runs, so failing ones count too. */
static bool dirty_model(const char *sql)
{
    static const char *const first[] = {
        "SET",     "CREATE TEMP", "CREATE TEMPORARY", "CREATE GLOBAL TEMP",
        "DECLARE", "PREPARE",     "LISTEN",           "USE",
        "LOCK",    "PRAGMA",      "ATTACH",           "DETACH",
        "LOAD",
    };
    static const char *const anywhere[] = {"set_config", "advisory_lock",
                                           "get_lock"};

    sql += strspn(sql, " \t\r\n(");
    for (size_t i = 0; i < sizeof(first) / sizeof(first[0]); i++) {
        size_t n = strlen(first[i]);

        if (strncasecmp(sql, first[i], n) == 0 &&
            !(isalpha((unsigned char)sql[n]) || sql[n] == '_'))
            return true;
    }
    for (size_t i = 0; i < sizeof(anywhere) / sizeof(anywhere[0]); i++)
        if (strcasestr(sql, anywhere[i]))
            return true;
    return false;
}

START_TEST(session_change_guess_matches_the_word_lists)
{
    static const char *const sql[] = {
        "SELECT 1",
        "select 1",
        "  (SELECT 1)",
        "SET x = 1",
        "set x=1",
        "SETTINGS",
        "SET_x",
        "\tpragma cache_size=5",
        "PRAGMA",
        "CREATE TEMP TABLE t(a)",
        "create temporary table t(a)",
        "CREATE TEMPORARYX",
        "CREATE TABLE t(a)",
        "CREATE GLOBAL TEMP x",
        "DECLARE c CURSOR",
        "prepare p",
        "LISTEN ch",
        "use db",
        "User",
        "LOCK TABLE t",
        "Locked",
        "ATTACH 'x' AS y",
        "DETACH y",
        "LOAD x",
        "Loader",
        "SELECT set_config('a', 'b', false)",
        "SELECT PG_ADVISORY_LOCK(1)",
        "SELECT GET_LOCK('x', 1)",
        "SELECT my_col FROM t",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "INSERT INTO t VALUES (1)",
        "",
        " ",
        "(",
        "_",
        "1",
        "ä",
    };

    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        gt_db *db;

        ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:", GT_NEVER), 0);
        gt_db_exec(db, sql[i], NULL, 0, GT_NEVER); /* may fail: no matter */
        ck_assert_msg(!gt_db_session_dirty(db) == !dirty_model(sql[i]),
                      "'%s': dirty %d, model %d", sql[i],
                      gt_db_session_dirty(db), dirty_model(sql[i]));
        gt_db_close(db);
    }
}
END_TEST

/* SQLite's column types are worked out once per prepared statement; a
 * schema change under a cached statement must still show the new ones. */
START_TEST(sqlite_column_types_follow_a_schema_change)
{
    gt_db *db;
    gt_rows *r;

    ck_assert_int_eq(gt_db_open(&db, "sqlite::memory:", GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "CREATE TABLE t(a INTEGER)", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "INSERT INTO t VALUES (NULL)", NULL, 0, GT_NEVER), 0);
    for (int i = 0; i < 2; i++) { /* the second from the cache */
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT a FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_INT);
        gt_rows_free(r);
    }
    ck_assert_int_ge(gt_db_exec(db, "DROP TABLE t", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "CREATE TABLE t(a REAL, b BLOB)", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "INSERT INTO t VALUES (NULL, NULL)", NULL, 0, GT_NEVER),
        0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT a FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_FLOAT);
        gt_rows_free(r);
    }
    /* A column more than when it was prepared. */
    ck_assert_int_eq(gt_db_query(db, &r, "SELECT * FROM t", NULL, 0, GT_NEVER),
                     1);
    gt_rows_free(r);
    ck_assert_int_ge(
        gt_db_exec(db, "ALTER TABLE t ADD COLUMN c TEXT", NULL, 0, GT_NEVER),
        0);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(
            gt_db_query(db, &r, "SELECT * FROM t", NULL, 0, GT_NEVER), 1);
        ck_assert_int_eq(gt_rows_columns(r), 3);
        ck_assert_int_eq(gt_rows_type(r, 0), GT_DB_FLOAT);
        ck_assert_int_eq(gt_rows_type(r, 1), GT_DB_BLOB);
        ck_assert_int_eq(gt_rows_type(r, 2), GT_DB_TEXT);
        gt_rows_free(r);
    }
    gt_db_close(db);
}
END_TEST

START_TEST(value_constructors)
{
    gt_db_value v;

    ck_assert_int_eq(gt_db_null().type, GT_DB_NULL);
    v = gt_db_int(-5);
    ck_assert(v.type == GT_DB_INT && v.u.i == -5);
    v = gt_db_float(0.25);
    ck_assert(v.type == GT_DB_FLOAT && v.u.f == 0.25);
    v = gt_db_text("abc");
    ck_assert(v.type == GT_DB_TEXT && v.u.s.n == 3);
    ck_assert_int_eq(gt_db_text(NULL).type, GT_DB_NULL);
    v = gt_db_textn("abcdef", 2);
    ck_assert(v.type == GT_DB_TEXT && v.u.s.n == 2);
    v = gt_db_blob(NULL, 5);
    ck_assert(v.type == GT_DB_BLOB && v.u.s.n == 0 && v.u.s.p);
}
END_TEST

void add_db_core_tests(Suite *s)
{
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, url_parses_good_urls);
    tcase_add_test(tc, url_reads_query_options);
    tcase_add_test(tc, url_rejects_bad_urls_with_clear_messages);
    tcase_add_test(tc, sqltext_finds_placeholders_outside_quotes);
    tcase_add_test(tc, stmtcache_matches_a_reference_lru);
    tcase_add_test(tc, stmtcache_defaults_to_64_and_survives_many_keys);
    tcase_add_test(tc, rows_reads_typed_cells_and_columns);
    tcase_add_test(tc, rows_out_of_range_reads_as_null);
    tcase_add_test(tc, rows_convert_text_to_numbers_like_sqlite);
    tcase_add_test(tc, rows_convert_numbers_to_text_like_sqlite);
    tcase_add_test(tc, rows_convert_floats_to_int_saturating);
    tcase_add_test(tc, rows_grow_to_many_rows_and_large_values);
    tcase_add_test(tc, forgotten_results_are_freed_when_the_coroutine_ends);
    tcase_add_test(tc, open_reports_bad_urls_and_unknown_schemes);
    tcase_add_test(tc, calls_on_a_failed_handle_fail_cleanly);
    tcase_add_test(tc, session_change_guess_matches_the_word_lists);
    tcase_add_test(tc, sqlite_column_types_follow_a_schema_change);
    tcase_add_test(tc, value_constructors);
    suite_add_tcase(s, tc);
}
