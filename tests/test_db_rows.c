/* tests/test_db_rows.c -- result sets (src/db/rows.c): typed cells and
 * columns, out-of-range reads, conversions between text and numbers as
 * SQLite does them, growth, and the bookkeeping that frees forgotten
 * results with their coroutine. */
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

void add_db_rows_tests(Suite *s)
{
    TCase *tc = tcase_create("rows");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rows_reads_typed_cells_and_columns);
    tcase_add_test(tc, rows_out_of_range_reads_as_null);
    tcase_add_test(tc, rows_convert_text_to_numbers_like_sqlite);
    tcase_add_test(tc, rows_convert_numbers_to_text_like_sqlite);
    tcase_add_test(tc, rows_convert_floats_to_int_saturating);
    tcase_add_test(tc, rows_grow_to_many_rows_and_large_values);
    tcase_add_test(tc, forgotten_results_are_freed_when_the_coroutine_ends);
    suite_add_tcase(s, tc);
}
