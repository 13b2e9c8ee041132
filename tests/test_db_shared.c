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
 * both of its modes, inline and offload, in memory; the SQLite-only tests
 * that need a file (WAL, lock waits between connections) are in
 * test_db_sqlite.c, and the backends' table and helpers in
 * db_shared_fixture.[ch].
 * Each test names its tables gt_<backend>_<test> (SQLite reserves
 * "sqlite_") and drops them first, so runs against shared servers do not
 * collide. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/driver.h"
#include "db_shared_fixture.h"
#include "greentor/db.h"
#include "util.h"

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
    ck_assert_int_eq(exec_n_ok(db, sql, p, 5), 1);
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
    exec_n_ok(db, sql, (gt_db_value[]){gt_db_blob(big, MIB)}, 1);
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
        exec_n_ok(db, ins,
                  (gt_db_value[]){gt_db_int(i), gt_db_text(hostile[i])}, 2);
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
    exec_n_ok(db, sql, (gt_db_value[]){gt_db_int(1)}, 1);
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
    exec_n_ok(db, "BEGIN", NULL, 0);
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

    db = open_ok(url_and(arg, "stmt_cache=2"));
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
                                  sqlite              ? shared_use_sqlite
                                  : backend[0] == 'p' ? shared_use_postgres
                                                      : shared_use_mysql,
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
    if (sqlite)
        add_db_sqlite_only_tests(tc);
    suite_add_tcase(s, tc);
}
