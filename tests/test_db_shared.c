/* tests/test_db_shared.c -- one behaviour, three backends.
 *
 * add_db_shared_tests(s, "sqlite" | "postgres" | "mysql") adds a test case
 * of that name running the same tests against that backend: connect
 * errors, type round trips, UTF-8, large blobs, bound parameters that try
 * SQL injection, error codes, nested transactions, the statement cache,
 * deadlines and cancellation (and the rollback a cancelled coroutine's
 * cleanup must still be able to run), proof that a long query does not
 * block the worker, and forgotten results (the leak checker proves those
 * are freed).
 *
 * What differs between backends -- DDL types, the long query, error codes
 * -- is data in one table below, so the tests themselves read the same for
 * all. PostgreSQL and MariaDB are real servers: their URLs come from
 * GT_TEST_PG_URL / GT_TEST_MYSQL_URL, and a missing one fails the test (a
 * green run must mean the backend was tested). SQLite runs every test in
 * both of its modes, inline and offload, mostly in memory; a few
 * SQLite-only tests need a file (WAL, lock waits between connections).
 * Each test names its tables gt_<backend>_<test> (SQLite reserves
 * "sqlite_") and drops them first, so runs against shared servers do not
 * collide. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/driver.h"
#include "greentor/db.h"
#include "util.h"

typedef struct backend_def {
    const char *name;
    const char *env;        /* URL variable; NULL: built in */
    const char *urls[2];    /* built-in URLs, one per mode */
    const char *types_ddl;  /* (id, i, f, t, b) */
    const char *blob_ddl;   /* (id, b) */
    const char *charlen;    /* length in characters */
    const char *long_sql;   /* runs for seconds */
    const char *second_sql; /* ~1 s; NULL: long_sql with a 1 s deadline */
    const char *syntax_sqlstate;
    int unique_errcode;
    const char *unique_sqlstate;
    const char *stmt_count_sql; /* prepared statements, value in column 1 */
    bool stmt_count_live;       /* live count (else cumulative prepares) */
} backend_def;

static const backend_def backends[] = {
    {
        .name = "sqlite",
        .urls = {"sqlite::memory:", "sqlite::memory:?mode=offload"},
        .types_ddl = "(id INTEGER PRIMARY KEY, i INTEGER, f REAL, t TEXT, "
                     "b BLOB)",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b BLOB)",
        .charlen = "length",
        .long_sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                    "FROM c WHERE x < 1000000000) SELECT count(*) FROM c",
        .syntax_sqlstate = "",
        .unique_errcode = 2067, /* SQLITE_CONSTRAINT_UNIQUE */
        .unique_sqlstate = "",
        .stmt_count_sql = "SELECT 0, count(*) FROM sqlite_stmt",
        .stmt_count_live = true,
    },
    {
        .name = "postgres",
        .env = "GT_TEST_PG_URL",
        .types_ddl = "(id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE PRECISION, "
                     "t TEXT, b BYTEA)",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b BYTEA)",
        .charlen = "char_length",
        .long_sql = "SELECT pg_sleep(5)",
        .second_sql = "SELECT pg_sleep(1)",
        .syntax_sqlstate = "42601",
        .unique_errcode = 0,
        .unique_sqlstate = "23505",
        .stmt_count_sql = "SELECT 0, count(*) FROM pg_prepared_statements",
        .stmt_count_live = true,
    },
    {
        .name = "mysql",
        .env = "GT_TEST_MYSQL_URL",
        .types_ddl = "(id INTEGER PRIMARY KEY, i BIGINT, f DOUBLE, t TEXT, "
                     "b LONGBLOB) CHARACTER SET utf8mb4",
        .blob_ddl = "(id INTEGER PRIMARY KEY, b LONGBLOB)",
        .charlen = "char_length",
        .long_sql = "SELECT SLEEP(5)",
        .second_sql = "SELECT SLEEP(1)",
        .syntax_sqlstate = "42000",
        .unique_errcode = 1062, /* ER_DUP_ENTRY */
        .unique_sqlstate = "23000",
        .stmt_count_sql = "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'",
        .stmt_count_live = false,
    },
};

/* The backend of the running test: set by its test case's fixture. */
static const backend_def *be;

static void use_sqlite(void)
{
    be = &backends[0];
}

static void use_postgres(void)
{
    be = &backends[1];
}

static void use_mysql(void)
{
    be = &backends[2];
}

/* ---- helpers ------------------------------------------------------------- */

/* The URLs to run a test against: SQLite's two modes, or the server's. */
static int test_urls(const char *urls[2])
{
    const char *env;

    if (!be->env) {
        urls[0] = be->urls[0];
        urls[1] = be->urls[1];
        return 2;
    }
    env = getenv(be->env);
    ck_assert_msg(env && *env,
                  "%s is not set: start the test servers with "
                  "scripts/db.sh start, then eval \"$(scripts/db.sh env)\"",
                  be->env);
    urls[0] = env;
    return 1;
}

/* 'base' with the query options 'opts' appended; static storage. */
static const char *url_with(const char *base, const char *opts)
{
    static char buf[1024];

    snprintf(buf, sizeof(buf), "%s%c%s", base, strchr(base, '?') ? '&' : '?',
             opts);
    return buf;
}

static gt_db *open_ok(const char *url)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "open %s: %d %s (%s)", url, rc, gt_strerror(rc),
                  db ? gt_db_errmsg(db) : "");
    ck_assert_str_eq(gt_db_backend(db), be->name);
    return db;
}

static int64_t exec_ok(gt_db *db, const char *sql, const gt_db_value *p, int n)
{
    int64_t rc = gt_db_exec(db, sql, p, n, gt_deadline_in(30000));

    ck_assert_msg(rc >= 0, "%s: %lld %s", sql, (long long)rc, gt_db_errmsg(db));
    return rc;
}

static gt_rows *query_ok(gt_db *db, const char *sql, const gt_db_value *p,
                         int n)
{
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, sql, p, n, gt_deadline_in(30000));

    ck_assert_msg(rc >= 0, "%s: %d %s", sql, rc, gt_db_errmsg(db));
    ck_assert_int_eq(rc, gt_rows_count(r));
    return r;
}

/* "<backend>_<what>", dropped and created with the column list 'cols'. */
static const char *fresh_table(gt_db *db, const char *what, const char *cols)
{
    static char name[64];
    char sql[512];

    snprintf(name, sizeof(name), "gt_%s_%s", be->name, what);
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    exec_ok(db, sql, NULL, 0);
    snprintf(sql, sizeof(sql), "CREATE TABLE %s %s", name, cols);
    exec_ok(db, sql, NULL, 0);
    return name;
}

/* The last column of the only row of 'sql', with one parameter or none. */
static int64_t scalar_p(gt_db *db, const char *sql, const gt_db_value *p)
{
    gt_rows *r = query_ok(db, sql, p, p ? 1 : 0);
    int64_t v;

    ck_assert_int_eq(gt_rows_count(r), 1);
    v = gt_rows_int(r, 0, gt_rows_columns(r) - 1);
    gt_rows_free(r);
    return v;
}

static int64_t scalar(gt_db *db, const char *sql)
{
    return scalar_p(db, sql, NULL);
}

/* After an interrupted query the connection works or says it is broken. */
static void assert_usable_or_broken(gt_db *db)
{
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, "SELECT 1", NULL, 0, gt_deadline_in(10000));

    if (rc < 0) {
        ck_assert_msg(gt_db_broken(db), "neither usable nor broken: %d %s", rc,
                      gt_db_errmsg(db));
        return;
    }
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 1);
    gt_rows_free(r);
}

/* Run body(url) in a coroutine for each URL of the backend. */
static void run_each_cfg(int (*body)(void *), const gt_rt_config *cfg)
{
    const char *urls[2];
    int n = test_urls(urls);

    for (int i = 0; i < n; i++)
        ck_assert_int_eq(run_main_cfg(cfg, body, (void *)urls[i]), 0);
}

static void run_each(int (*body)(void *))
{
    gt_rt_config cfg = {.workers = 1};

    run_each_cfg(body, &cfg);
}

/* ---- connecting ---------------------------------------------------------- */

/* 'base' with one part replaced; percent-encodes what it copies. */
static void encode(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);

    for (; s && *s && n + 4 < cap; s++) {
        if (strchr("@:/?#[]%& ", *s))
            n +=
                (size_t)snprintf(out + n, cap - n, "%%%02X", (unsigned char)*s);
        else
            out[n++] = *s;
    }
    out[n] = '\0';
}

static void rebuild(char *out, size_t cap, const char *base,
                    const char *password, int port, const char *dbname)
{
    gt__db_url u;
    char err[128];

    ck_assert_int_eq(gt__db_url_parse(&u, base, err, sizeof(err)), 0);
    snprintf(out, cap, "%s://", u.scheme);
    encode(out, cap, u.user);
    snprintf(out + strlen(out), cap - strlen(out), ":");
    encode(out, cap, password ? password : u.password);
    snprintf(out + strlen(out), cap - strlen(out), "@%s:%d/",
             u.host ? u.host : "127.0.0.1", port ? port : u.port);
    encode(out, cap, dbname ? dbname : u.dbname);
    gt__db_url_free(&u);
}

static void assert_open_fails(const char *url, int want)
{
    gt_db *db = NULL;
    int rc = gt_db_open(&db, url, gt_deadline_in(10000));

    ck_assert_msg(rc == want, "open %s: %d (%s), want %d", url, rc,
                  db ? gt_db_errmsg(db) : "", want);
    ck_assert_ptr_nonnull(db);
    ck_assert_msg(gt_db_errmsg(db)[0], "no message for %s", url);
    ck_assert(gt_db_broken(db));
    ck_assert_int_lt(gt_db_exec(db, "SELECT 1", NULL, 0, GT_NEVER), 0);
    ck_assert_int_lt(gt_db_begin(db, GT_NEVER), 0);
    gt_db_close(db);
}

static int t_connect_errors(void *arg)
{
    const char *base = arg;
    char url[1024];

    if (!be->env) {
        assert_open_fails("sqlite:///nonexistent-gt-dir/x/y.db", GT_EDB);
        return 0;
    }
    rebuild(url, sizeof(url), base, "wrong-password", 0, NULL);
    assert_open_fails(url, GT_EDB);
    rebuild(url, sizeof(url), base, NULL, 1, NULL);
    assert_open_fails(url, -ECONNREFUSED);
    rebuild(url, sizeof(url), base, NULL, 0, "gt_no_such_database");
    assert_open_fails(url, GT_EDB);
    return 0;
}

START_TEST(connect_errors_leave_a_handle_with_the_message)
{
    run_each(t_connect_errors);
}
END_TEST

/* ---- values -------------------------------------------------------------- */

static const char blob3[3] = {'\0', '\x01', '\xff'};

static void insert_row(gt_db *db, const char *table, int id, gt_db_value i,
                       gt_db_value f, gt_db_value t, gt_db_value b)
{
    char sql[256];
    gt_db_value p[] = {gt_db_int(id), i, f, t, b};

    snprintf(sql, sizeof(sql),
             "INSERT INTO %s (id, i, f, t, b) VALUES "
             "(?, ?, ?, ?, ?)",
             table);
    ck_assert_int_eq(exec_ok(db, sql, p, 5), 1);
    ck_assert_int_eq(gt_db_changes(db), 1);
}

static void assert_types_row(gt_rows *r, int row, int64_t i, double f,
                             const char *t, const void *b, size_t bn)
{
    size_t len;

    ck_assert_int_eq(gt_rows_int(r, row, 1), i);
    ck_assert_msg(gt_rows_float(r, row, 2) == f, "row %d: %.17g != %.17g", row,
                  gt_rows_float(r, row, 2), f);
    ck_assert_str_eq(gt_rows_text(r, row, 3, &len), t);
    ck_assert_int_eq(len, strlen(t));
    ck_assert(!gt_rows_isnull(r, row, 3)); /* "" is not NULL */
    ck_assert(memcmp(gt_rows_blob(r, row, 4, &len), b, bn) == 0);
    ck_assert_int_eq(len, bn);
}

static int t_types(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "types", be->types_ddl);
    char sql[128];
    gt_rows *r;

    insert_row(db, tb, 1, gt_db_int(INT64_MAX), gt_db_float(3.25),
               gt_db_text("hello"), gt_db_blob(blob3, 3));
    insert_row(db, tb, 2, gt_db_int(INT64_MIN), gt_db_float(-1e300),
               gt_db_text(""), gt_db_blob("", 0));
    insert_row(db, tb, 3, gt_db_null(), gt_db_null(), gt_db_null(),
               gt_db_null());
    insert_row(db, tb, 4, gt_db_int(-1), gt_db_float(0.1),
               gt_db_textn("abcdef", 3), gt_db_blob("x", 1));
    snprintf(sql, sizeof(sql), "SELECT id, i, f, t, b FROM %s ORDER BY id", tb);
    r = query_ok(db, sql, NULL, 0);
    ck_assert_int_eq(gt_rows_count(r), 4);
    ck_assert_str_eq(gt_rows_name(r, 2), "f");
    ck_assert_int_eq(gt_rows_type(r, 1), GT_DB_INT);
    ck_assert_int_eq(gt_rows_type(r, 2), GT_DB_FLOAT);
    ck_assert_int_eq(gt_rows_type(r, 3), GT_DB_TEXT);
    ck_assert_int_eq(gt_rows_type(r, 4), GT_DB_BLOB);
    assert_types_row(r, 0, INT64_MAX, 3.25, "hello", blob3, 3);
    assert_types_row(r, 1, INT64_MIN, -1e300, "", "", 0);
    assert_types_row(r, 3, -1, 0.1, "abc", "x", 1);
    for (int c = 1; c <= 4; c++)
        ck_assert(gt_rows_isnull(r, 2, c));
    ck_assert(!gt_rows_isnull(r, 2, 0));
    gt_rows_free(r);
    gt_db_close(db);
    return 0;
}

START_TEST(every_type_round_trips_including_null)
{
    run_each(t_types);
}
END_TEST

static const char japanese[] = "フレームワークのベンチマーク";

static int t_utf8(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "utf8", be->types_ddl);
    gt_db_value p[] = {gt_db_text(japanese)};
    char sql[256];
    size_t len;
    gt_rows *r;

    insert_row(db, tb, 1, gt_db_int(1), gt_db_float(1), gt_db_text(japanese),
               gt_db_null());
    snprintf(sql, sizeof(sql), "SELECT t, %s(t) FROM %s WHERE t = ?",
             be->charlen, tb);
    r = query_ok(db, sql, p, 1);
    ck_assert_int_eq(gt_rows_count(r), 1);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, &len), japanese);
    ck_assert_int_eq(len, strlen(japanese));
    ck_assert_int_eq(gt_rows_int(r, 0, 1), 14); /* characters, not bytes */
    gt_rows_free(r);
    gt_db_close(db);
    return 0;
}

START_TEST(utf8_text_round_trips)
{
    run_each(t_utf8);
}
END_TEST

#define MIB (1024 * 1024)

static int t_big_blob(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "blob", be->blob_ddl);
    unsigned char *big = malloc(MIB);
    char sql[256];
    size_t len;
    gt_rows *r;

    for (size_t i = 0; i < MIB; i++)
        big[i] = (unsigned char)(i * 7 + i / 251);
    snprintf(sql, sizeof(sql), "INSERT INTO %s (id, b) VALUES (1, ?)", tb);
    exec_ok(db, sql, (gt_db_value[]){gt_db_blob(big, MIB)}, 1);
    snprintf(sql, sizeof(sql), "SELECT b FROM %s WHERE id = 1", tb);
    r = query_ok(db, sql, NULL, 0);
    ck_assert(memcmp(gt_rows_blob(r, 0, 0, &len), big, MIB) == 0);
    ck_assert_int_eq(len, MIB);
    gt_rows_free(r);
    free(big);
    gt_db_close(db);
    return 0;
}

START_TEST(a_1_mib_blob_round_trips)
{
    run_each(t_big_blob);
}
END_TEST

static const char *const hostile[] = {
    "'); DROP TABLE x; --",
    "Robert'); DROP TABLE students;--",
    "' OR '1'='1",
    "?",
    "$1",
    "\\",
    "\"",
    "\\'; SELECT 1; --",
    "/*",
    "--",
};

static int t_injection(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "inject",
                                 "(id INTEGER PRIMARY KEY, "
                                 "t TEXT)");
    int n = (int)(sizeof(hostile) / sizeof(hostile[0]));
    char ins[128], sel[128];
    gt_rows *r;

    snprintf(ins, sizeof(ins), "INSERT INTO %s (id, t) VALUES (?, ?)", tb);
    snprintf(sel, sizeof(sel), "SELECT t FROM %s ORDER BY id", tb);
    for (int i = 0; i < n; i++)
        exec_ok(db, ins, (gt_db_value[]){gt_db_int(i), gt_db_text(hostile[i])},
                2);
    r = query_ok(db, sel, NULL, 0);
    ck_assert_int_eq(gt_rows_count(r), n); /* the table is still there */
    for (int i = 0; i < n; i++)
        ck_assert_str_eq(gt_rows_text(r, i, 0, NULL), hostile[i]);
    gt_rows_free(r);
    /* A '?' in a string or a comment is not a placeholder. */
    r = query_ok(db, "SELECT '?', ? /* ? */", (gt_db_value[]){gt_db_text("x")},
                 1);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, NULL), "?");
    ck_assert_str_eq(gt_rows_text(r, 0, 1, NULL), "x");
    gt_rows_free(r);
    gt_db_close(db);
    return 0;
}

START_TEST(bound_parameters_are_stored_verbatim)
{
    run_each(t_injection);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

static int t_errors(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "unique", "(k INTEGER NOT NULL UNIQUE)");
    char sql[128];
    gt_rows *r = (gt_rows *)1;

    ck_assert_int_eq(gt_db_query(db, &r, "SELEC 1", NULL, 0, GT_NEVER), GT_EDB);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(gt_db_sqlstate(db), be->syntax_sqlstate);
    ck_assert_msg(gt_db_errmsg(db)[0], "no message");
    if (!be->env)
        ck_assert_int_eq(gt_db_errcode(db), 1); /* SQLITE_ERROR */
    snprintf(sql, sizeof(sql), "INSERT INTO %s (k) VALUES (?)", tb);
    exec_ok(db, sql, (gt_db_value[]){gt_db_int(1)}, 1);
    ck_assert_int_eq(
        gt_db_exec(db, sql, (gt_db_value[]){gt_db_int(1)}, 1, GT_NEVER),
        GT_EDB);
    ck_assert_str_eq(gt_db_sqlstate(db), be->unique_sqlstate);
    ck_assert_int_eq(gt_db_errcode(db), be->unique_errcode);
    ck_assert_msg(gt_db_errmsg(db)[0], "no message");
    /* Wrong parameter counts are caught, and the connection carries on. */
    ck_assert_int_lt(gt_db_exec(db, sql, NULL, 0, GT_NEVER), 0);
    ck_assert_int_eq(
        gt_db_exec(db, sql, (gt_db_value[]){{.type = 99}}, 1, GT_NEVER),
        -EINVAL);
    ck_assert_int_eq(scalar(db, "SELECT 7"), 7);
    ck_assert_str_eq(gt_db_errmsg(db), ""); /* cleared by the next call */
    ck_assert(!gt_db_broken(db));
    gt_db_close(db);
    return 0;
}

START_TEST(errors_carry_sqlstate_and_native_codes)
{
    run_each(t_errors);
}
END_TEST

/* ---- transactions -------------------------------------------------------- */

static void put_k(gt_db *db, const char *tb, int k)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "INSERT INTO %s (k) VALUES (?)", tb);
    exec_ok(db, sql, (gt_db_value[]){gt_db_int(k)}, 1);
}

/* The k values of the table, as digits in order: "13" for {1, 3}. */
static const char *ks(gt_db *db, const char *tb)
{
    static char out[32];
    char sql[128];
    gt_rows *r;
    int n = 0;

    snprintf(sql, sizeof(sql), "SELECT k FROM %s ORDER BY k", tb);
    r = query_ok(db, sql, NULL, 0);
    for (int i = 0; i < gt_rows_count(r) && n < 30; i++)
        n += snprintf(out + n, sizeof(out) - (size_t)n, "%lld",
                      (long long)gt_rows_int(r, i, 0));
    out[n] = '\0';
    gt_rows_free(r);
    return out;
}

static void tx(gt_db *db, int (*fn)(gt_db *, int64_t), int depth)
{
    int rc = fn(db, gt_deadline_in(10000));

    ck_assert_msg(rc == 0, "%d: %s", rc, gt_db_errmsg(db));
    ck_assert_int_eq(gt_db_tx_depth(db), depth);
}

static int t_transactions(void *arg)
{
    gt_db *db = open_ok(arg);
    const char *tb = fresh_table(db, "tx", "(k INTEGER)");

    tx(db, gt_db_begin, 1);
    put_k(db, tb, 1);
    tx(db, gt_db_begin, 2);
    put_k(db, tb, 2);
    tx(db, gt_db_rollback, 1); /* the inner one only */
    tx(db, gt_db_begin, 2);
    put_k(db, tb, 3);
    tx(db, gt_db_commit, 1);
    tx(db, gt_db_commit, 0);
    ck_assert_str_eq(ks(db, tb), "13");
    tx(db, gt_db_begin, 1);
    put_k(db, tb, 4);
    tx(db, gt_db_rollback, 0);
    ck_assert_str_eq(ks(db, tb), "13");
    /* Nothing open: rollback is a no-op, commit an error. */
    tx(db, gt_db_rollback, 0);
    ck_assert_int_eq(gt_db_commit(db, GT_NEVER), -EINVAL);
    /* An error inside a savepoint is undone by rolling back to it. */
    tx(db, gt_db_begin, 1);
    put_k(db, tb, 5);
    tx(db, gt_db_begin, 2);
    ck_assert_int_eq(gt_db_exec(db, "SELEC 1", NULL, 0, GT_NEVER), GT_EDB);
    tx(db, gt_db_rollback, 1);
    put_k(db, tb, 6);
    /* Three deep: the middle rollback drops what its child committed. */
    tx(db, gt_db_begin, 2);
    tx(db, gt_db_begin, 3);
    put_k(db, tb, 7);
    tx(db, gt_db_commit, 2);
    tx(db, gt_db_rollback, 1);
    tx(db, gt_db_commit, 0);
    ck_assert_str_eq(ks(db, tb), "1356");
    /* A BEGIN sent by hand is followed too. */
    exec_ok(db, "BEGIN", NULL, 0);
    ck_assert_int_eq(gt_db_tx_depth(db), 1);
    put_k(db, tb, 8);
    tx(db, gt_db_rollback, 0);
    ck_assert_str_eq(ks(db, tb), "1356");
    gt_db_close(db);
    return 0;
}

START_TEST(transactions_nest_with_savepoints)
{
    run_each(t_transactions);
}
END_TEST

/* ---- the statement cache ------------------------------------------------- */

static int64_t stmt_count(gt_db *db)
{
    gt_rows *r = query_ok(db, be->stmt_count_sql, NULL, 0);
    int64_t n = gt_rows_int(r, 0, 1);

    gt_rows_free(r);
    return n;
}

static int t_stmt_cache(void *arg)
{
    gt_db *db = open_ok(arg);
    gt_db_value p[] = {gt_db_int(41)};
    int64_t before, after;
    char sql[64];

    before = stmt_count(db);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(scalar_p(db, "SELECT ? + 1", p), 42);
    after = stmt_count(db);
    ck_assert_msg(after - before == 1, "prepared %lld times",
                  (long long)(after - before));
    gt_db_close(db);

    db = open_ok(url_with(arg, "stmt_cache=2"));
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 7; i++) {
            snprintf(sql, sizeof(sql), "SELECT ? + %d", i);
            ck_assert_int_eq(scalar_p(db, sql, p), 41 + i);
        }
    }
    if (be->stmt_count_live)
        ck_assert_int_le(stmt_count(db), 2);
    gt_db_close(db);
    return 0;
}

START_TEST(statement_cache_reuses_and_stays_bounded)
{
    run_each(t_stmt_cache);
}
END_TEST

/* ---- deadlines, cancellation, and not blocking the worker ---------------- */

typedef struct long_run {
    gt_db *db;
    int64_t deadline;
    int rc;
} long_run;

static int run_long(void *arg)
{
    long_run *l = arg;

    l->rc = (int)gt_db_exec(l->db, be->long_sql, NULL, 0, l->deadline);
    return 0;
}

static int cancel_after(void *arg)
{
    ck_assert_int_eq(gt_sleep(100), 0);
    gt_co_cancel(arg);
    return 0;
}

static int t_timeouts(void *arg)
{
    gt_db *db = open_ok(arg);
    long_run l = {db, GT_NEVER, 0};
    int64_t t0 = gt_now();
    gt_co *co;

    /* The call's deadline. */
    ck_assert_int_eq(gt_db_exec(db, be->long_sql, NULL, 0, gt_deadline_in(200)),
                     -ETIMEDOUT);
    ck_assert_int_lt(gt_now() - t0, 4000); /* the query would run 5 s+ */
    assert_usable_or_broken(db);
    if (gt_db_broken(db)) {
        gt_db_close(db);
        db = l.db = open_ok(arg);
    }
    /* The coroutine's own deadline. */
    t0 = gt_now();
    gt_co_set_deadline(gt_co_self(), gt_deadline_in(200));
    ck_assert_int_eq(gt_db_exec(db, be->long_sql, NULL, 0, GT_NEVER),
                     -ETIMEDOUT);
    gt_co_set_deadline(gt_co_self(), GT_NEVER);
    ck_assert_int_lt(gt_now() - t0, 4000);
    assert_usable_or_broken(db);
    if (gt_db_broken(db)) {
        gt_db_close(db);
        db = l.db = open_ok(arg);
    }
    /* Cancellation, from another coroutine. */
    t0 = gt_now();
    ck_assert_int_eq(gt_co_spawn(&co, run_long, &l), 0);
    ck_assert_int_eq(gt_co_spawn(NULL, cancel_after, co), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(l.rc, -ECANCELED);
    ck_assert_int_lt(gt_now() - t0, 4000);
    assert_usable_or_broken(db);
    gt_db_close(db);
    return 0;
}

START_TEST(deadlines_and_cancel_stop_a_long_query)
{
    run_each(t_timeouts);
}
END_TEST

typedef struct cleanup_state {
    gt_db *db;
    const char *table;
    int rc;      /* of the long query */
    int undo_rc; /* of the rollback run at the coroutine's end */
} cleanup_state;

static void undo(void *arg)
{
    cleanup_state *st = arg;

    st->undo_rc = gt_db_rollback(st->db, gt_deadline_in(10000));
}

/* Cancelled inside a transaction; its end-of-coroutine cleanup rolls it
 * back, as the pool does, and must be let through. */
static int cancelled_in_tx(void *arg)
{
    cleanup_state *st = arg;

    ck_assert_int_eq(gt_db_begin(st->db, GT_NEVER), 0);
    put_k(st->db, st->table, 1);
    ck_assert_int_eq(gt_co_defer(undo, st), 0);
    st->rc = (int)gt_db_exec(st->db, be->long_sql, NULL, 0, GT_NEVER);
    return 0;
}

static int t_cleanup(void *arg)
{
    gt_db *db = open_ok(arg);
    cleanup_state st = {db, fresh_table(db, "cleanup", "(k INTEGER)"), 1, 1};
    char count[128];
    gt_co *co;

    snprintf(count, sizeof(count), "SELECT count(*) FROM %s", st.table);
    ck_assert_int_eq(gt_co_spawn(&co, cancelled_in_tx, &st), 0);
    ck_assert_int_eq(gt_co_spawn(NULL, cancel_after, co), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(st.rc, -ECANCELED);
    if (!gt_db_broken(db)) {
        ck_assert_msg(st.undo_rc == 0, "%d %s", st.undo_rc, gt_db_errmsg(db));
        ck_assert_int_eq(gt_db_tx_depth(db), 0);
        ck_assert_int_eq(scalar(db, count), 0);
    }
    gt_db_close(db);
    return 0;
}

START_TEST(cleanup_after_a_cancel_can_roll_back)
{
    run_each(t_cleanup);
}
END_TEST

typedef struct ticker {
    int ticks;
    bool stop;
} ticker;

static int tick(void *arg)
{
    ticker *t = arg;

    while (!t->stop && gt_sleep(10) == 0)
        t->ticks++;
    return 0;
}

static int t_not_blocking(void *arg)
{
    gt_db *db = open_ok(arg);
    ticker t = {0, false};
    gt_co *co;
    int64_t rc;

    ck_assert_int_eq(gt_co_spawn(&co, tick, &t), 0);
    if (be->second_sql)
        rc = gt_db_exec(db, be->second_sql, NULL, 0, gt_deadline_in(10000));
    else
        rc = gt_db_exec(db, be->long_sql, NULL, 0, gt_deadline_in(1000));
    ck_assert_msg(rc >= 0 || (!be->second_sql && rc == -ETIMEDOUT), "%lld %s",
                  (long long)rc, gt_db_errmsg(db));
    t.stop = true;
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    /* ~100 ticks when the worker stays free; 0 or 1 if the query had
     * blocked it. */
    ck_assert_msg(t.ticks >= 20, "only %d ticks", t.ticks);
    gt_db_close(db);
    return 0;
}

START_TEST(a_long_query_does_not_block_the_worker)
{
    run_each(t_not_blocking);
}
END_TEST

static int forget_results(void *arg)
{
    gt_rows *r = NULL;

    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(
            gt_db_query(arg, &r, "SELECT 1, 'forgotten'", NULL, 0, GT_NEVER),
            0);
    return 0;
}

static int t_forgotten(void *arg)
{
    gt_db *db = open_ok(arg);
    gt_co *co;

    ck_assert_int_eq(gt_co_spawn(&co, forget_results, db), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    gt_db_close(db);
    return 0;
}

/* The leak checker (ASan) is the assertion here. */
START_TEST(forgotten_results_are_freed_at_coroutine_end)
{
    run_each(t_forgotten);
}
END_TEST

/* ---- SQLite only: a file, WAL, lock waits, stack use --------------------- */

typedef struct sqlite_file {
    char dir[64];
    char url[160];
} sqlite_file;

static void make_file(sqlite_file *f, const char *opts)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/gt-sqlite-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->url, sizeof(f->url), "sqlite://%s/t.db%s%s", f->dir,
             *opts ? "?" : "", opts);
}

static void remove_file(sqlite_file *f)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[128];

    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/t.db%s", f->dir, suffix[i]);
        unlink(path);
    }
    ck_assert_int_eq(rmdir(f->dir), 0);
}

typedef struct lock_wait {
    gt_db *db;
    int64_t deadline;
    int rc;
} lock_wait;

static int begin_immediate(void *arg)
{
    lock_wait *w = arg;

    w->rc = (int)gt_db_exec(w->db, "BEGIN IMMEDIATE", NULL, 0, w->deadline);
    return 0;
}

/* b waits for a's write lock without blocking the worker, and gets it
 * when a commits. */
static void wait_for_commit(gt_db *a, gt_db *b)
{
    ticker t = {0, false};
    lock_wait w = {b, GT_NEVER, 1};
    gt_co *tk, *co;

    ck_assert_int_eq(gt_co_spawn(&tk, tick, &t), 0);
    ck_assert_int_eq(gt_co_spawn(&co, begin_immediate, &w), 0);
    ck_assert_int_eq(gt_sleep(300), 0);
    ck_assert_int_eq(w.rc, 1); /* still waiting */
    exec_ok(a, "COMMIT", NULL, 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_msg(w.rc == 0, "%d %s", w.rc, gt_db_errmsg(b));
    t.stop = true;
    ck_assert_int_eq(gt_co_join(tk, NULL, GT_NEVER), 0);
    ck_assert_msg(t.ticks >= 10, "only %d ticks", t.ticks);
    exec_ok(b, "ROLLBACK", NULL, 0);
}

/* Giving up: busy_timeout_ms, the deadline, a cancel. */
static void give_up_waiting(gt_db *a, gt_db *b, const char *url)
{
    gt_db *c = open_ok(url_with(url, "busy_timeout_ms=50"));
    lock_wait w = {b, GT_NEVER, 1};
    gt_co *co;

    exec_ok(a, "BEGIN IMMEDIATE", NULL, 0);
    ck_assert_int_eq(gt_db_exec(c, "BEGIN IMMEDIATE", NULL, 0, GT_NEVER),
                     GT_EDB);
    ck_assert_int_eq(gt_db_errcode(c), 5); /* SQLITE_BUSY */
    ck_assert_int_eq(
        gt_db_exec(b, "BEGIN IMMEDIATE", NULL, 0, gt_deadline_in(100)),
        -ETIMEDOUT);
    ck_assert_int_eq(gt_co_spawn(&co, begin_immediate, &w), 0);
    ck_assert_int_eq(gt_co_spawn(NULL, cancel_after, co), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(w.rc, -ECANCELED);
    exec_ok(a, "ROLLBACK", NULL, 0);
    ck_assert_int_eq(gt_db_tx_depth(b), 0);
    ck_assert_int_eq(gt_db_tx_depth(c), 0);
    gt_db_close(c);
}

static int t_wal(void *arg)
{
    sqlite_file f;
    gt_db *a, *b;
    gt_rows *r;
    const char *tb;
    char count[128];

    make_file(&f, arg);
    a = open_ok(f.url);
    b = open_ok(f.url);
    r = query_ok(a, "PRAGMA journal_mode", NULL, 0);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, NULL), "wal");
    gt_rows_free(r);
    tb = fresh_table(a, "wal", "(k INTEGER)");
    snprintf(count, sizeof(count), "SELECT count(*) FROM %s", tb);
    exec_ok(a, "BEGIN IMMEDIATE", NULL, 0);
    put_k(a, tb, 1);
    /* WAL: a reader is not blocked by the writer, and sees the past. */
    ck_assert_int_eq(scalar(b, count), 0);
    wait_for_commit(a, b);
    ck_assert_int_eq(scalar(b, count), 1);
    give_up_waiting(a, b, f.url);
    gt_db_close(a);
    gt_db_close(b);
    remove_file(&f);
    return 0;
}

START_TEST(sqlite_file_uses_wal_and_waits_for_locks)
{
    ck_assert_int_eq(run_main(t_wal, ""), 0);
    ck_assert_int_eq(run_main(t_wal, "mode=offload"), 0);
}
END_TEST

static int t_stack(void *arg)
{
    gt_db *db = open_ok("sqlite::memory:");
    const char *tb = fresh_table(db, "stack",
                                 "(id INTEGER PRIMARY KEY, "
                                 "g INTEGER, t TEXT)");
    char sql[256];
    gt_rows *r;

    (void)arg;
    for (int i = 0; i < 50; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO %s (g, t) VALUES (?, ?)", tb);
        exec_ok(db, sql, (gt_db_value[]){gt_db_int(i % 5), gt_db_text("x")}, 2);
    }
    snprintf(sql, sizeof(sql),
             "SELECT a.g, count(*), max(b.t) FROM %s a "
             "JOIN %s b ON a.g = b.g WHERE a.id > ? GROUP BY a.g ORDER BY 2",
             tb, tb);
    r = query_ok(db, sql, (gt_db_value[]){gt_db_int(3)}, 1);
    ck_assert_int_eq(gt_rows_count(r), 5);
    gt_rows_free(r);
    gt_db_close(db);
    if (getenv("GT_TEST_VERBOSE"))
        fprintf(stderr, "sqlite inline: %zd bytes of coroutine stack\n",
                gt_co_stack_used());
    ck_assert_int_gt(gt_co_stack_used(), 0);
    return 0;
}

/* Inline mode runs SQLite on the coroutine's stack: a plain query must
 * fit the default stack with room to spare. */
START_TEST(sqlite_inline_fits_the_default_coroutine_stack)
{
    gt_rt_config cfg = {.workers = 1, .stack_check = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, t_stack, NULL), 0);
}
END_TEST

/* Statements whose compilation recurses deeply: 400 OR terms, a 300-term
 * UNION ALL. Compiled on a coroutine's stack they would overflow it. */
static int t_big_statements(void *arg)
{
    gt_db *db = open_ok(arg);
    size_t cap = 16384;
    char *sql = malloc(cap);
    gt_rows *r;

    snprintf(sql, cap, "SELECT 1 FROM (SELECT 399 AS id) WHERE id = 0");
    for (int i = 1; i < 400; i++)
        snprintf(sql + strlen(sql), cap - strlen(sql), " OR id = %d", i);
    ck_assert_int_eq(scalar(db, sql), 1);
    snprintf(sql, cap, "SELECT count(*) FROM (SELECT 0");
    for (int i = 1; i < 300; i++)
        snprintf(sql + strlen(sql), cap - strlen(sql), " UNION ALL SELECT %d",
                 i);
    snprintf(sql + strlen(sql), cap - strlen(sql), ")");
    r = query_ok(db, sql, NULL, 0);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 300);
    gt_rows_free(r);
    free(sql);
    gt_db_close(db);
    return 0;
}

START_TEST(sqlite_compiles_big_statements_off_stack)
{
    /* The production default, also under ASan (which would give 256). */
    gt_rt_config cfg = {.workers = 1, .stack_size = 64 * 1024};

    run_each_cfg(t_big_statements, &cfg);
}
END_TEST

START_TEST(unknown_backend)
{
    ck_abort_msg("add_db_shared_tests: unknown backend (want sqlite, "
                 "postgres or mysql)");
}
END_TEST

void add_db_shared_tests(Suite *s, const char *backend)
{
    TCase *tc = tcase_create(backend);
    bool sqlite = strcmp(backend, "sqlite") == 0;

    tcase_set_timeout(tc, 120);
    if (sqlite || strcmp(backend, "postgres") == 0 ||
        strcmp(backend, "mysql") == 0) {
        tcase_add_checked_fixture(tc,
                                  sqlite              ? use_sqlite
                                  : backend[0] == 'p' ? use_postgres
                                                      : use_mysql,
                                  NULL);
    } else {
        tcase_add_test(tc, unknown_backend);
        suite_add_tcase(s, tc);
        return;
    }
    tcase_add_test(tc, connect_errors_leave_a_handle_with_the_message);
    tcase_add_test(tc, every_type_round_trips_including_null);
    tcase_add_test(tc, utf8_text_round_trips);
    tcase_add_test(tc, a_1_mib_blob_round_trips);
    tcase_add_test(tc, bound_parameters_are_stored_verbatim);
    tcase_add_test(tc, errors_carry_sqlstate_and_native_codes);
    tcase_add_test(tc, transactions_nest_with_savepoints);
    tcase_add_test(tc, statement_cache_reuses_and_stays_bounded);
    tcase_add_test(tc, deadlines_and_cancel_stop_a_long_query);
    tcase_add_test(tc, cleanup_after_a_cancel_can_roll_back);
    tcase_add_test(tc, a_long_query_does_not_block_the_worker);
    tcase_add_test(tc, forgotten_results_are_freed_at_coroutine_end);
    if (sqlite) {
        tcase_add_test(tc, sqlite_file_uses_wal_and_waits_for_locks);
        tcase_add_test(tc, sqlite_inline_fits_the_default_coroutine_stack);
        tcase_add_test(tc, sqlite_compiles_big_statements_off_stack);
    }
    suite_add_tcase(s, tc);
}
