/* tests/test_db_batch.c -- a batch outside a transaction is one
 * transaction of its own on PostgreSQL and SQLite: a failing statement
 * undoes the ones before it, and its error is the one reported; inside
 * a transaction the batch is part of it. A batch that repeats one SQL
 * text looks its prepared statement up once, not once a statement, and
 * still gets every answer right. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/pg.h"
#include "db/sqlite.h"
#include "util.h"

static const char *which;

static const char *url(void)
{
    static char buf[128];

    if (strcmp(which, "sqlite") == 0) {
        snprintf(buf, sizeof(buf), "sqlite:///tmp/greentor-batch-%d.db",
                 (int)getpid());
        return buf;
    }
    ck_assert_ptr_nonnull(getenv("GT_TEST_PG_URL"));
    return getenv("GT_TEST_PG_URL");
}

static int64_t count(gt_db *db)
{
    gt_rows *r;
    int64_t n;

    ck_assert_int_eq(
        gt_db_query(db, &r, "SELECT COUNT(*) FROM batch_t", NULL, 0, GT_NEVER),
        1);
    n = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return n;
}

static int t_batch(void *arg)
{
    gt_db_value one = gt_db_int(1), two = gt_db_int(2);
    gt_db_stmt s[3] = {{"INSERT INTO batch_t (id) VALUES (?)", &one, 1},
                       {"INSERT INTO batch_t (id) VALUES (?)", &two, 1},
                       {"INSERT INTO batch_t (id) VALUES (?)", &one, 1}};
    gt_rows *out[3];
    gt_db *db;

    (void)arg;
    ck_assert_int_eq(gt_db_open(&db, url(), GT_NEVER), 0);
    ck_assert_int_ge(
        gt_db_exec(db, "DROP TABLE IF EXISTS batch_t", NULL, 0, GT_NEVER), 0);
    ck_assert_int_ge(gt_db_exec(db,
                                "CREATE TABLE batch_t (id INT PRIMARY "
                                "KEY)",
                                NULL, 0, GT_NEVER),
                     0);
    /* The third one violates the key: all three are undone. */
    ck_assert_int_lt(gt_db_batch(db, out, s, 3, GT_NEVER), 0);
    ck_assert_ptr_nonnull(strcasestr(gt_db_errmsg(db), "unique"));
    ck_assert_int_eq(gt_db_in_tx(db), 0);
    ck_assert_int_eq(count(db), 0);
    /* The first two alone commit. */
    ck_assert_int_eq(gt_db_batch(db, out, s, 2, GT_NEVER), 0);
    for (int i = 0; i < 2; i++)
        gt_rows_free(out[i]);
    ck_assert_int_eq(count(db), 2);
    /* Inside a transaction the batch is part of it. */
    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_int_ge(gt_db_exec(db, "DELETE FROM batch_t", NULL, 0, GT_NEVER),
                     0);
    ck_assert_int_eq(gt_db_batch(db, out, s, 2, GT_NEVER), 0);
    for (int i = 0; i < 2; i++)
        gt_rows_free(out[i]);
    ck_assert_int_ne(gt_db_in_tx(db), 0);
    ck_assert_int_eq(gt_db_rollback(db, GT_NEVER), 0);
    ck_assert_int_eq(count(db), 2); /* the DELETE was undone too */
    gt_db_close(db);
    return 0;
}

START_TEST(a_batch_outside_a_transaction_is_all_or_nothing)
{
    ck_assert_int_eq(run_main(t_batch, NULL), 0);
}
END_TEST

/* The statement cache of 'db': its tick counts lookups, n what it holds
 * (each prepared once). */
static const gt__stmt_cache *cache(gt_db *db)
{
    return strcmp(which, "sqlite") == 0 ? &((sq_conn *)db)->cache
                                        : &((pg_conn *)db)->cache;
}

#define REPEATS 20

static int t_repeated(void *arg)
{
    static const char *const sel = "SELECT ? + 1";
    gt_db_value v[REPEATS + 2];
    gt_db_stmt s[REPEATS + 2];
    gt_rows *out[REPEATS + 2];
    char other[32];
    /* PostgreSQL: the SELECT in one pipeline. SQLite: its BEGIN, the
     * SELECT and its COMMIT. */
    size_t texts = strcmp(which, "sqlite") == 0 ? 3 : 1, n0;
    uint64_t before;
    gt_db *db;

    (void)arg;
    ck_assert_int_eq(gt_db_open(&db, url(), GT_NEVER), 0);
    for (int i = 0; i < REPEATS; i++) {
        v[i] = gt_db_int(100 + i);
        /* The same text, not always the same pointer. */
        snprintf(other, sizeof(other), "%s", sel);
        s[i] = (gt_db_stmt){i % 2 ? sel : strdup(other), &v[i], 1};
    }
    n0 = cache(db)->n;
    for (int round = 0; round < 2; round++) {
        before = cache(db)->tick;
        ck_assert_int_eq(gt_db_batch(db, out, s, REPEATS, GT_NEVER), 0);
        /* Prepared once each, in the first round. */
        ck_assert_uint_eq(cache(db)->n, n0 + texts);
        /* Once all is cached, one lookup each (without the reuse of the
         * statement before: REPEATS + texts - 1). */
        if (round == 1)
            ck_assert_uint_eq(cache(db)->tick - before, texts);
        for (int i = 0; i < REPEATS; i++) {
            ck_assert_int_eq(gt_rows_count(out[i]), 1);
            ck_assert_int_eq(gt_rows_int(out[i], 0, 0), 101 + i);
            gt_rows_free(out[i]);
        }
    }
    /* A different text between two runs of the same one, and the same
     * text with another parameter type (PostgreSQL prepares it apart). */
    s[REPEATS] = (gt_db_stmt){"SELECT ? * 2", &v[0], 1};
    v[REPEATS + 1] = gt_db_text("7");
    s[REPEATS + 1] = (gt_db_stmt){sel, &v[REPEATS + 1], 1};
    {
        gt_db_stmt mix[5] = {s[1], s[REPEATS], s[1], s[REPEATS + 1], s[3]};

        ck_assert_int_eq(gt_db_batch(db, out, mix, 5, GT_NEVER), 0);
        ck_assert_int_eq(gt_rows_int(out[0], 0, 0), 102);
        ck_assert_int_eq(gt_rows_int(out[1], 0, 0), 200);
        ck_assert_int_eq(gt_rows_int(out[2], 0, 0), 102);
        ck_assert_int_eq(gt_rows_int(out[3], 0, 0), 8);
        ck_assert_int_eq(gt_rows_int(out[4], 0, 0), 104);
        for (int i = 0; i < 5; i++)
            gt_rows_free(out[i]);
    }
    for (int i = 0; i < REPEATS; i += 2)
        free((char *)s[i].sql);
    gt_db_close(db);
    return 0;
}

START_TEST(a_batch_repeating_its_sql_looks_it_up_once)
{
    ck_assert_int_eq(run_main(t_repeated, NULL), 0);
}
END_TEST

static void use_sqlite(void)
{
    which = "sqlite";
}

static void use_postgres(void)
{
    which = "postgres";
}

void add_db_batch_tests(Suite *s, const char *backend)
{
    bool pg = strcmp(backend, "postgres") == 0;
    TCase *tc = tcase_create(pg ? "batch_postgres" : "batch_sqlite");

    tcase_add_checked_fixture(tc, pg ? use_postgres : use_sqlite, NULL);
    tcase_add_test(tc, a_batch_outside_a_transaction_is_all_or_nothing);
    tcase_add_test(tc, a_batch_repeating_its_sql_looks_it_up_once);
    suite_add_tcase(s, tc);
}
