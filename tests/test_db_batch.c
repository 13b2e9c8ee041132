/* tests/test_db_batch.c -- a batch outside a transaction is one
 * transaction of its own on PostgreSQL and SQLite: a failing statement
 * undoes the ones before it, and its error is the one reported; inside
 * a transaction the batch is part of it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    suite_add_tcase(s, tc);
}
